//! `arbor collection build|add` and `arbor search`: a user's photos embedded once into a
//! memory-mapped index, then searched by photo or by text.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use arbor_engine::collection::photo_key;
use arbor_engine::{Collection, Pipeline, Templates};
use clap::{Args, Subcommand};

use crate::commands::embed::open_embedder;
use crate::inputs::expand;
use crate::output::{Format, print_rows};
use crate::photos::embed_skipping_bad;

/// Build and extend photo collections for `arbor search`.
#[derive(Debug, Subcommand)]
pub enum CollectionCommand {
    /// Embed photos (files and folders, recursive) into a new collection.
    #[command(after_help = "Examples:
  arbor collection build --model bioclip ~/photos/2024 --out my-photos
  arbor search --collection my-photos --image query.jpg -k 5

Photos are stored under their absolute paths. Unreadable files are reported and left out.")]
    Build(BuildArgs),
    /// Add photos to a collection, embedding only those not in it yet.
    #[command(after_help = "Example:
  arbor collection add my-photos --model bioclip ~/photos/2025

Photos already in the collection (same absolute path) are skipped, the others embedded and
appended; the collection is rewritten atomically.")]
    Add(AddArgs),
    /// List the photos of a collection.
    #[command(after_help = "Example:\n  arbor collection list my-photos --format csv")]
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// The collection.
    collection: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Arbor model directory.
    #[arg(long)]
    model: PathBuf,
    /// Image files and folders (recursive).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Output collection directory (replaced if it exists).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    embedding: EmbedOptions,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The collection to extend.
    collection: PathBuf,
    /// Arbor model directory (must be the model the collection was built with).
    #[arg(long)]
    model: PathBuf,
    /// Image files and folders (recursive).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    embedding: EmbedOptions,
}

#[derive(Debug, Args)]
struct EmbedOptions {
    /// Images per model call.
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// Image pipeline: squash (pybioclip) or crop (open_clip); default: the model's.
    #[arg(long)]
    preprocess: Option<Pipeline>,
}

/// Nearest photos of a collection to a photo or a text.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  arbor search --collection my-photos --image query.jpg -k 5
  arbor search --collection my-photos --text \"Corvus corax\" --format json
  arbor search --collection my-photos --text \"a photo of a raven in snow\" --templates none

--model must be the model that built the collection (its weights hash is recorded there).")]
pub struct SearchArgs {
    /// Collection directory (see `arbor collection build`).
    #[arg(long)]
    collection: PathBuf,
    /// Arbor model directory that built the collection.
    #[arg(long)]
    model: PathBuf,
    /// Query photo.
    #[arg(long, required_unless_present = "text", conflicts_with = "text")]
    image: Option<PathBuf>,
    /// Query text (a taxon name, a common name, a description).
    #[arg(long)]
    text: Option<String>,
    /// Prompt templates for --text: openai80 (averaged, as for zero-shot labels) or none.
    #[arg(long, default_value = "openai80")]
    templates: Templates,
    /// Photos to return.
    #[arg(short, long, default_value_t = 10)]
    k: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Image pipeline for --image: squash (pybioclip) or crop (open_clip); default: the model's.
    #[arg(long)]
    preprocess: Option<Pipeline>,
}

pub fn run(cmd: CollectionCommand) -> Result<u8> {
    match cmd {
        CollectionCommand::Build(a) => build(a),
        CollectionCommand::Add(a) => add(a),
        CollectionCommand::List(a) => list(a),
    }
}

fn list(a: ListArgs) -> Result<u8> {
    let collection = Collection::open(&a.collection)?;
    let rows: Vec<Vec<String>> = collection.paths()?.into_iter().map(|p| vec![p]).collect();
    print_rows(a.format, &["path"], &rows)?;
    Ok(0)
}

fn build(a: BuildArgs) -> Result<u8> {
    let embedder = open_embedder(&a.model, a.embedding.preprocess, false)?;
    let files = expand(&a.paths)?;
    let (paths, rows, failed) = embed_new(&embedder, &files, &Default::default(), a.embedding.batch_size)?;
    if paths.is_empty() {
        bail!("no photo could be embedded, nothing written");
    }
    Collection::write(&a.out, embedder.identity(), &paths, &rows)
        .with_context(|| format!("writing {}", a.out.display()))?;
    eprintln!("collection {}: {} photos{}", a.out.display(), paths.len(), skipped(failed));
    Ok(exit_code(failed))
}

fn add(a: AddArgs) -> Result<u8> {
    let collection = Collection::open(&a.collection)?;
    let embedder = open_embedder(&a.model, a.embedding.preprocess, false)?;
    check_model(&collection, embedder.identity(), &a.collection)?;
    let present = collection.path_set()?;
    let files = expand(&a.paths)?;
    let (new_paths, new_rows, failed) = embed_new(&embedder, &files, &present, a.embedding.batch_size)?;
    let already = files.len() - new_paths.len() - failed;
    if !new_paths.is_empty() {
        let (mut paths, mut rows) = collection.entries()?;
        paths.extend(new_paths.iter().cloned());
        rows.extend(new_rows);
        // The old mapping must be gone before the file it maps is replaced.
        drop(collection);
        Collection::write(&a.collection, embedder.identity(), &paths, &rows)
            .with_context(|| format!("writing {}", a.collection.display()))?;
    }
    eprintln!(
        "collection {}: added {} photos, {already} already present{}",
        a.collection.display(),
        new_paths.len(),
        skipped(failed)
    );
    Ok(exit_code(failed))
}

/// Embeds the files whose key is not in `present` (nor repeated in `files`); returns their keys
/// and unit rows, and how many could not be read.
fn embed_new(
    embedder: &arbor_engine::Embedder,
    files: &[PathBuf],
    present: &std::collections::HashSet<String>,
    batch_size: usize,
) -> Result<(Vec<String>, Vec<f32>, usize)> {
    let mut seen = std::collections::HashSet::new();
    let (todo, keys): (Vec<PathBuf>, Vec<String>) = files
        .iter()
        .map(|f| (f.clone(), photo_key(f)))
        .filter(|(_, key)| !present.contains(key) && seen.insert(key.clone()))
        .unzip();
    let embedded = embed_skipping_bad(embedder, &todo, batch_size, "embedding")?;
    let paths = embedded.kept.iter().map(|&i| keys[i].clone()).collect();
    Ok((paths, embedded.rows, embedded.failed))
}

pub fn search(a: SearchArgs) -> Result<()> {
    let collection = Collection::open(&a.collection)?;
    let embedder = open_embedder(&a.model, a.preprocess, false)?;
    check_model(&collection, embedder.identity(), &a.collection)?;
    let query = match (&a.image, &a.text) {
        (Some(image), _) => {
            let pixels = embedder.preprocessor().load(image)?;
            let mut v = embedder.embed_pixels(&[pixels])?;
            arbor_engine::embedder::normalize_row(&mut v);
            v
        }
        (None, Some(text)) => {
            let mut v = match a.templates {
                Templates::None => embedder.embed_texts(std::slice::from_ref(text))?,
                t => embedder.embed_labels(std::slice::from_ref(text), t, |_| {})?,
            };
            arbor_engine::embedder::normalize_row(&mut v);
            v
        }
        (None, None) => bail!("give --image or --text"),
    };
    let hits = collection.search(&query, a.k)?;
    let rows: Vec<Vec<String>> =
        hits.iter().enumerate().map(|(i, h)| vec![(i + 1).to_string(), h.path.clone(), h.score.to_string()]).collect();
    match a.format {
        Format::Json => crate::output::print_json(&hits)?,
        f => print_rows(f, &["rank", "path", "score"], &rows)?,
    }
    Ok(())
}

fn check_model(collection: &Collection, identity: &str, path: &Path) -> Result<()> {
    if collection.model_identity() != identity {
        bail!(
            "{}: the collection was built with another model (weights {}…, this one {}…)",
            path.display(),
            &collection.model_identity().chars().take(12).collect::<String>(),
            &identity.chars().take(12).collect::<String>()
        );
    }
    Ok(())
}

fn skipped(n: usize) -> String {
    if n == 0 { String::new() } else { format!(" ({n} unreadable, skipped)") }
}

/// Some photos failed: the collection was still written, and the exit status says so (as in
/// `classify`).
fn exit_code(failed: usize) -> u8 {
    if failed > 0 { crate::commands::classify::EXIT_SOME_FAILED } else { 0 }
}
