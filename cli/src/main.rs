//! `arbor`: BioCLIP species search from the command line.

mod arrays;
mod commands;
mod inputs;
mod output;
mod photos;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Arbor — find the taxon of a photo, at any rank, with BioCLIP; no Python, no GPU.
#[derive(Debug, Parser)]
#[command(name = "arbor", version, about, long_about = None, after_help = "Run `arbor <command> --help` for examples.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Classify photos at any rank, against the tree of life or your own labels.
    Classify(commands::classify::ClassifyArgs),
    /// Build and extend photo collections for `arbor search`.
    #[command(subcommand)]
    Collection(commands::collection::CollectionCommand),
    /// Compute image or text embeddings.
    #[command(subcommand)]
    Embed(commands::embed::EmbedCommand),
    /// Few-shot classes from a few labelled photos: fit centroids, evaluate accuracy.
    #[command(subcommand)]
    Fewshot(commands::fewshot::FewshotCommand),
    /// Convert model weights from other tools.
    #[command(subcommand)]
    Import(commands::model::ImportCommand),
    /// Build, inspect and query taxon indexes.
    #[command(subcommand)]
    Index(commands::index::IndexCommand),
    /// Nearest photos of a collection to a photo or a text.
    Search(commands::collection::SearchArgs),
    /// Print open_clip token ids of texts.
    Tokenize(commands::model::TokenizeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Classify(a) => commands::classify::run(a),
        Command::Collection(cmd) => commands::collection::run(cmd),
        Command::Embed(cmd) => commands::embed::run(cmd).map(|()| 0),
        Command::Fewshot(cmd) => commands::fewshot::run(cmd).map(|()| 0),
        Command::Import(cmd) => commands::model::import(cmd).map(|()| 0),
        Command::Index(cmd) => commands::index::run(cmd).map(|()| 0),
        Command::Search(a) => commands::collection::search(a).map(|()| 0),
        Command::Tokenize(a) => commands::model::tokenize(a).map(|()| 0),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
