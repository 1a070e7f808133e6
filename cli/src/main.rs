//! `arbor`: BioCLIP species search from the command line.

mod arrays;
mod commands;
mod inputs;
mod output;
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
    /// Compute image or text embeddings.
    #[command(subcommand)]
    Embed(commands::embed::EmbedCommand),
    /// Convert model weights from other tools.
    #[command(subcommand)]
    Import(commands::model::ImportCommand),
    /// Build, inspect and query taxon indexes.
    #[command(subcommand)]
    Index(commands::index::IndexCommand),
    /// Print open_clip token ids of texts.
    Tokenize(commands::model::TokenizeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Classify(a) => commands::classify::run(a),
        Command::Embed(cmd) => commands::embed::run(cmd).map(|()| 0),
        Command::Import(cmd) => commands::model::import(cmd).map(|()| 0),
        Command::Index(cmd) => commands::index::run(cmd).map(|()| 0),
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
