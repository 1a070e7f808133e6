//! `arbor`: BioCLIP species search from the command line.

mod arrays;
mod commands;
mod output;
mod progress;

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
    /// Build, inspect and query taxon indexes.
    #[command(subcommand)]
    Index(commands::index::IndexCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Index(cmd) => commands::index::run(cmd),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
