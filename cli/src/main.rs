//! `arbor`: BioCLIP species search from the command line.

mod arrays;
mod commands;
mod inputs;
mod output;
mod photos;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Synthesise a tree of life, train a tiny model on it and classify held-out photos.
    #[command(
        after_help = "Examples:\n  arbor demo\n  arbor demo --out /tmp/demo --species 80 --epochs 20 --format json"
    )]
    Demo(commands::demo::DemoArgs),
    /// Compute image or text embeddings.
    #[command(subcommand)]
    Embed(commands::embed::EmbedCommand),
    /// Zero-shot accuracy per rank (seen and unseen species) and few-shot accuracy on a dataset.
    #[command(
        after_help = "Examples:\n  arbor eval --model run1 --data world --split test\n  arbor eval --model run1 --data world --shots 1,5 --seeds 5 --format json\n  arbor eval fewshot --model bioclip --data photos/ --shots 1,5 --seeds 5"
    )]
    Eval(commands::eval::EvalArgs),
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
    /// Generate a synthetic tree of life: taxonomy, photos and manifest.csv.
    #[command(after_help = "Example:\n  arbor synth --out world --species 60 --images-per-species 30 --seed 1")]
    Synth(commands::train::SynthArgs),
    /// Print open_clip token ids of texts.
    Tokenize(commands::model::TokenizeArgs),
    /// Train (or fine-tune) a CLIP model with BioCLIP's captions on a dataset folder.
    #[command(
        after_help = "Examples:\n  arbor train --data world --out run1 --config tiny --text-type mixed --epochs 10\n  arbor train --data world --out run1 --resume\n  arbor train --data photos --init bioclip --out bioclip-ft --lr 1e-5 --epochs 2"
    )]
    Train(commands::train::TrainArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Classify(a) => commands::classify::run(a),
        Command::Collection(cmd) => commands::collection::run(cmd),
        Command::Demo(a) => commands::demo::demo(&a).map(|()| 0),
        Command::Eval(a) => commands::eval::eval(a).map(|()| 0),
        Command::Synth(a) => commands::train::synth(&a).map(|()| 0),
        Command::Train(a) => commands::train::train(&a).map(|()| 0),
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
