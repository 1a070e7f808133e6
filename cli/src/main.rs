//! `arbor`: BioCLIP species search from the command line.

#![warn(missing_docs)]

mod arrays;
mod camtrap;
mod commands;
mod inputs;
mod mdjson;
mod output;
#[cfg(feature = "parquet")]
mod parquet_out;
mod photos;
mod progress;
mod report;
mod results;
mod resume;
mod sidecar;

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
    Classify(Box<commands::classify::ClassifyArgs>),
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
    /// Inspect and check Arbor model directories.
    #[command(subcommand)]
    Model(commands::model::ModelCommand),
    /// Build, inspect and query taxon indexes.
    #[command(subcommand)]
    Index(commands::index::IndexCommand),
    /// Write one HTML page of a classified folder (from classify's csv, jsonl or md-json).
    Report(report::ReportArgs),
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
    restore_sigpipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Classify(a) => commands::classify::run(*a),
        Command::Collection(cmd) => commands::collection::run(cmd),
        Command::Demo(a) => commands::demo::demo(&a).map(|()| 0),
        Command::Eval(a) => commands::eval::eval(a).map(|()| 0),
        Command::Synth(a) => commands::train::synth(&a).map(|()| 0),
        Command::Train(a) => commands::train::train(&a).map(|()| 0),
        Command::Embed(cmd) => commands::embed::run(cmd),
        Command::Fewshot(cmd) => commands::fewshot::run(cmd),
        Command::Import(cmd) => commands::model::import(cmd).map(|()| 0),
        Command::Model(cmd) => commands::model::model(cmd).map(|()| 0),
        Command::Index(cmd) => commands::index::run(cmd).map(|()| 0),
        Command::Report(a) => report::run(a),
        Command::Search(a) => commands::collection::search(a).map(|()| 0),
        Command::Tokenize(a) => commands::model::tokenize(a).map(|()| 0),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {}", error_message(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, each said once: library errors that wrap an OS error
/// already print it, and anyhow's `{:#}` would print it again.
pub fn error_message(e: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

/// Rust ignores SIGPIPE, so `arbor … | head -1` would see every later write fail (and
/// `println!` panic). A command-line tool should end quietly when its reader goes away, as
/// `cat` does: restore the default action.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::Cli;

    /// Every `arbor …` line in every command's help is an example a user may paste: it must parse.
    #[test]
    fn every_help_example_parses() {
        let mut checked = 0;
        let mut stack = vec![Cli::command()];
        while let Some(cmd) = stack.pop() {
            let help = cmd.get_after_help().map(|h| h.to_string()).unwrap_or_default();
            for line in help.lines().map(str::trim) {
                let Some(example) = line.split(" | ").last().filter(|l| l.starts_with("arbor ")) else { continue };
                let example = example.split("  #").next().unwrap_or_default();
                let args = shell_words(example);
                if let Err(e) = Cli::try_parse_from(&args) {
                    panic!("`{example}` in the help of `{}` does not parse:\n{e}", cmd.get_name());
                }
                checked += 1;
            }
            stack.extend(cmd.get_subcommands().cloned());
        }
        assert!(checked > 30, "only {checked} examples found");
    }

    /// Splits a command line as a POSIX shell would for these examples: words, 'single' and
    /// "double" quotes.
    fn shell_words(line: &str) -> Vec<String> {
        let (mut words, mut word, mut quote, mut in_word) = (Vec::new(), String::new(), None, false);
        for c in line.chars() {
            match (quote, c) {
                (None, '\'' | '"') => {
                    quote = Some(c);
                    in_word = true;
                }
                (Some(q), c) if c == q => quote = None,
                (None, c) if c.is_whitespace() => {
                    if in_word {
                        words.push(std::mem::take(&mut word));
                        in_word = false;
                    }
                }
                (_, c) => {
                    word.push(c);
                    in_word = true;
                }
            }
        }
        if in_word {
            words.push(word);
        }
        words
    }

    #[test]
    fn causes_are_said_once() {
        let os = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let e = anyhow::Error::new(std::io::Error::other(format!("x.jpg: {os}"))).context("reading photos");
        assert_eq!(super::error_message(&e), "reading photos: x.jpg: No such file");
    }
}
