//! `arbor collection build|add` and `arbor search`: a user's photos embedded once into a
//! memory-mapped index, then searched by photo or by text.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use arbor_engine::photo_key;
use arbor_engine::{Collection, Engine, Image, Pipeline, Templates};
use clap::{Args, Subcommand};

use crate::commands::open_engine;
use crate::inputs::{EXIT_SOME_FAILED, photo_files};
use crate::output::{Cell, Format, check_output_dir, print_rows};
use crate::photos::embed_skipping_bad;

/// Build and extend photo collections for `arbor search`.
#[derive(Debug, Subcommand)]
pub enum CollectionCommand {
    /// Embed photos (files and folders, recursive) into a new collection.
    #[command(after_help = "Examples:
  arbor collection build --model bioclip ~/photos/2024 --out my-photos
  arbor search --collection my-photos --model bioclip --image query.jpg -k 5
  arbor collection build --model bioclip ~/photos --to milvus://127.0.0.1:19530/my_photos --index tol-index

Photos are stored under their absolute paths. Unreadable files are reported and left out
(exit status 3). With --to the photos are embedded straight into Milvus, a batch at a time, with
no local copy; a rerun embeds and inserts only the photos Milvus does not have yet.")]
    Build(BuildArgs),
    /// Add photos to a collection, embedding only those not in it yet.
    #[command(after_help = "Examples:
  arbor collection add my-photos --model bioclip ~/photos/2025
  arbor collection add milvus://127.0.0.1:19530/my_photos --model bioclip ~/photos/2025 --index tol-index

Photos already in the collection (same absolute path) are skipped, the others embedded and
appended; a local collection is rewritten atomically, a Milvus one receives the new rows.")]
    Add(AddArgs),
    /// List the photos of a collection.
    #[command(after_help = "Example:\n  arbor collection list my-photos --format csv")]
    List(ListArgs),
    /// Put a collection into Milvus (for collections past one machine).
    #[command(after_help = "Examples:
  arbor collection export my-photos --to milvus://127.0.0.1:19530/my_photos
  arbor collection export my-photos --to milvus://db.lab:19530/survey --model bioclip --index tol-index
  arbor search --collection milvus://127.0.0.1:19530/my_photos --model bioclip --text \"Corvus corax\" --within Aves

The Milvus collection is created (inner product on unit vectors) with the model's identity in its
description. With --model and --index each photo's predicted taxon at every rank goes with it, so
`search --within` can filter by taxon. A rerun inserts only what is missing, so an interrupted
export is carried on by running it again.")]
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The collection to export.
    collection: PathBuf,
    /// Where: milvus://HOST:PORT/NAME.
    #[arg(long)]
    to: arbor_milvus::MilvusUrl,
    /// The model that built the collection, to predict each photo's taxon (with --index).
    #[arg(long, requires = "index")]
    model: Option<PathBuf>,
    /// A tree of life: each photo's predicted lineage and its probability go into Milvus.
    #[arg(long, requires = "model")]
    index: Option<PathBuf>,
    /// Photos per insert.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..16384))]
    batch: u32,
    /// Stop after this many batches, as an interrupted export would (for tests).
    #[arg(long, hide = true)]
    stop_after: Option<usize>,
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
    #[command(flatten)]
    precision: crate::commands::PrecisionArg,
    /// Image files and folders (recursive).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Output collection directory (replaced if it exists).
    #[arg(long, required_unless_present = "to", conflicts_with = "to")]
    out: Option<PathBuf>,
    /// Embed into Milvus instead: milvus://HOST:PORT/NAME (created if missing).
    #[arg(long)]
    to: Option<arbor_milvus::MilvusUrl>,
    #[command(flatten)]
    milvus: MilvusOptions,
    #[command(flatten)]
    embedding: EmbedOptions,
}

#[derive(Debug, Args)]
struct MilvusOptions {
    /// Milvus only: a tree of life; each photo's predicted lineage and its probability go in
    /// too, for `search --within`.
    #[arg(long)]
    index: Option<PathBuf>,
    /// Milvus only: photos per insert.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..16384))]
    batch: u32,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The collection to extend: a directory, or milvus://HOST:PORT/NAME.
    collection: String,
    /// Arbor model directory (must be the model the collection was built with).
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    precision: crate::commands::PrecisionArg,
    /// Image files and folders (recursive).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    milvus: MilvusOptions,
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
    /// Apply EXIF orientation before preprocessing (phone photos; pybioclip does not).
    #[arg(long)]
    exif_orient: bool,
}

/// Nearest photos of a collection to a photo or a text.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  arbor search --collection my-photos --model bioclip --image query.jpg -k 5
  arbor search --collection my-photos --model bioclip --text \"Corvus corax\" --format json
  arbor search --collection my-photos --model bioclip --text \"a photo of a raven in snow\" --templates none
  arbor search --collection milvus://127.0.0.1:19530/my_photos --model bioclip --image q.jpg --within Corvidae

--model must be the model that built the collection, through the same image pipeline (its
identity is recorded there).")]
pub struct SearchArgs {
    /// Collection directory (see `arbor collection build`), or milvus://HOST:PORT/NAME (see
    /// `arbor collection export`).
    #[arg(long)]
    collection: String,
    /// Milvus only: only photos whose predicted lineage holds this taxon (exported with --index).
    #[arg(long)]
    within: Option<String>,
    /// Arbor model directory that built the collection.
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    precision: crate::commands::PrecisionArg,
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
    #[arg(short, long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    k: u32,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Image pipeline: squash (pybioclip) or crop (open_clip); default: the model's. It must be
    /// the one the collection was built with.
    #[arg(long)]
    preprocess: Option<Pipeline>,
    /// Apply EXIF orientation to the --image query.
    #[arg(long)]
    exif_orient: bool,
}

pub fn run(cmd: CollectionCommand) -> Result<u8> {
    match cmd {
        CollectionCommand::Build(a) => build(a),
        CollectionCommand::Add(a) => add(a),
        CollectionCommand::List(a) => list(a),
        CollectionCommand::Export(a) => export(a),
    }
}

fn list(a: ListArgs) -> Result<u8> {
    let collection = Collection::open(&a.collection)?;
    let rows: Vec<Vec<String>> = collection.paths()?.into_iter().map(|p| vec![p]).collect();
    print_rows(a.format, &["path"], &rows)?;
    Ok(0)
}

fn build(a: BuildArgs) -> Result<u8> {
    if let Some(url) = &a.to {
        let engine = milvus_engine(&a.model, &a.milvus, &a.embedding, a.precision)?;
        return embed_into_milvus(&engine, url, &photo_files(&a.paths)?, &a.milvus, a.embedding.batch_size);
    }
    let (Some(out), None) = (&a.out, &a.milvus.index) else {
        bail!("--index goes with --to milvus://… (a local collection keeps no lineage)");
    };
    check_output_dir(out)?;
    let engine = open_engine(&a.model, a.embedding.preprocess, a.embedding.exif_orient, a.precision)?;
    let files = photo_files(&a.paths)?;
    let (paths, rows, failed) = embed_new(&engine, &files, &Default::default(), a.embedding.batch_size)?;
    if paths.is_empty() {
        bail!("no photo could be embedded, nothing written");
    }
    Collection::write(out, engine.identity().image(), &paths, &rows)
        .with_context(|| format!("writing {}", out.display()))?;
    eprintln!("collection {}: {} photos{}", out.display(), paths.len(), skipped(failed));
    Ok(exit_code(failed))
}

fn add(a: AddArgs) -> Result<u8> {
    if arbor_milvus::MilvusUrl::is_milvus(&a.collection) {
        let url: arbor_milvus::MilvusUrl = a.collection.parse()?;
        let engine = milvus_engine(&a.model, &a.milvus, &a.embedding, a.precision)?;
        return embed_into_milvus(&engine, &url, &photo_files(&a.paths)?, &a.milvus, a.embedding.batch_size);
    }
    if a.milvus.index.is_some() {
        bail!("--index goes with a milvus://… collection (a local collection keeps no lineage)");
    }
    let dir = PathBuf::from(&a.collection);
    let engine = open_engine(&a.model, a.embedding.preprocess, a.embedding.exif_orient, a.precision)?;
    let collection = engine.open_collection(&dir)?;
    let present = collection.path_set()?;
    let files = photo_files(&a.paths)?;
    let (new_paths, new_rows, failed) = embed_new(&engine, &files, &present, a.embedding.batch_size)?;
    let already = files.len() - new_paths.len() - failed;
    if !new_paths.is_empty() {
        let (mut paths, mut rows) = collection.entries()?;
        paths.extend(new_paths.iter().cloned());
        rows.extend(new_rows);
        // The old mapping must be gone before the file it maps is replaced.
        drop(collection);
        Collection::write(&dir, engine.identity().image(), &paths, &rows)
            .with_context(|| format!("writing {}", dir.display()))?;
    }
    eprintln!(
        "collection {}: added {} photos, {already} already present{}",
        dir.display(),
        new_paths.len(),
        skipped(failed)
    );
    Ok(exit_code(failed))
}

/// The engine for embedding into Milvus: the model, and the tree of life when lineages go in.
fn milvus_engine(
    model: &Path,
    milvus: &MilvusOptions,
    embedding: &EmbedOptions,
    precision: crate::commands::PrecisionArg,
) -> Result<Engine> {
    let mut builder = Engine::builder(model).exif_orientation(embedding.exif_orient).precision(precision.precision);
    if let Some(p) = embedding.preprocess {
        builder = builder.pipeline(p);
    }
    if let Some(index) = &milvus.index {
        builder = builder.index(index);
    }
    builder.open().with_context(|| format!("loading model {}", model.display()))
}

/// `collection build --to` and `collection add milvus://…`: a batch of photos at a time, asks
/// Milvus which it has, embeds the rest (with their lineage when the engine has a tree) and
/// inserts them. Nothing is kept locally, and a rerun carries on where a stopped one ended.
fn embed_into_milvus(
    engine: &Engine,
    url: &arbor_milvus::MilvusUrl,
    files: &[PathBuf],
    milvus: &MilvusOptions,
    batch_size: usize,
) -> Result<u8> {
    let remote = arbor_milvus::Collection::new(url.clone());
    let created = remote.create_or_check(engine.dim(), engine.identity().image())?;
    if !created {
        // Rows a run inserted a moment ago are not visible yet (Milvus's bounded staleness).
        eprintln!(
            "{url}: exists; waiting {:.1} s for its latest rows to be visible",
            arbor_milvus::STALENESS.as_secs_f64()
        );
        std::thread::sleep(arbor_milvus::STALENESS);
    }
    let classifier = match engine.index() {
        Ok(_) => Some(arbor_engine::Classifier::Tree {
            classifier: engine.tree_classifier(arbor_index::Scope::All)?,
            question: arbor_engine::TreeQuestion::Top {
                rank: arbor_index::Rank::Species,
                k: std::num::NonZeroUsize::MIN,
            },
        }),
        Err(_) => None,
    };
    let dim = engine.dim();
    let mut seen = std::collections::HashSet::new();
    let (mut inserted, mut present, mut failed) = (0usize, 0usize, 0usize);
    let mut last: Vec<String> = Vec::new();
    for chunk in files.chunks(milvus.batch as usize) {
        let keyed: Vec<(PathBuf, String)> =
            chunk.iter().map(|f| (f.clone(), photo_key(f))).filter(|(_, k)| seen.insert(k.clone())).collect();
        let keys: Vec<String> = keyed.iter().map(|(_, k)| k.clone()).collect();
        let have = remote.existing(&keys)?;
        let (todo, todo_keys): (Vec<PathBuf>, Vec<String>) =
            keyed.into_iter().filter(|(_, k)| !have.contains(k)).unzip();
        present += keys.len() - todo.len();
        let embedded = embed_skipping_bad(engine, &todo, batch_size, "embedding")?;
        failed += embedded.failed;
        let lineages = match &classifier {
            Some(c) => c.answer(&embedded.rows, dim)?.into_iter().map(lineage_of).collect(),
            None => vec![None; embedded.kept.len()],
        };
        let rows: Vec<arbor_milvus::PhotoRow> = embedded
            .kept
            .iter()
            .zip(embedded.rows.chunks_exact(dim))
            .zip(lineages)
            .map(|((&i, vector), lineage)| arbor_milvus::PhotoRow {
                path: todo_keys[i].clone(),
                vector: vector.to_vec(),
                lineage,
            })
            .collect();
        inserted += remote.insert(&rows)?;
        if !rows.is_empty() {
            last = rows.into_iter().map(|r| r.path).collect();
        }
    }
    // Searches right after the run see every photo.
    remote.wait_visible(&last)?;
    eprintln!(
        "{url}: {} {inserted} photos inserted, {present} already there{}",
        if created { "created;" } else { "exists;" },
        skipped(failed)
    );
    Ok(exit_code(failed))
}

/// Embeds the files whose key is not in `present` (nor repeated in `files`); returns their keys
/// and unit rows, and how many could not be read.
fn embed_new(
    engine: &Engine,
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
    let embedded = embed_skipping_bad(engine, &todo, batch_size, "embedding")?;
    let paths = embedded.kept.iter().map(|&i| keys[i].clone()).collect();
    Ok((paths, embedded.rows, embedded.failed))
}

fn export(a: ExportArgs) -> Result<u8> {
    let local = Collection::open(&a.collection).with_context(|| format!("opening {}", a.collection.display()))?;
    let engine = match (&a.model, &a.index) {
        (Some(model), Some(index)) => Some(Engine::builder(model).index(index).open()?),
        _ => None,
    };
    if let Some(engine) = &engine
        && engine.identity().image() != local.model_identity()
    {
        bail!(
            "{}: its photos were embedded by another model than {}",
            a.collection.display(),
            a.model.as_deref().unwrap_or(Path::new("?")).display()
        );
    }
    let remote = arbor_milvus::Collection::new(a.to.clone());
    let created = remote.create_or_check(local.dim(), local.model_identity())?;
    let (paths, rows) = local.entries()?;
    let dim = local.dim();
    drop(local);
    let classifier = match &engine {
        Some(e) => Some(arbor_engine::Classifier::Tree {
            classifier: e.tree_classifier(arbor_index::Scope::All)?,
            question: arbor_engine::TreeQuestion::Top {
                rank: arbor_index::Rank::Species,
                k: std::num::NonZeroUsize::MIN,
            },
        }),
        None => None,
    };
    if !created {
        // Rows a run inserted a moment ago are not visible yet (Milvus's bounded staleness).
        eprintln!(
            "{}: exists; waiting {:.1} s for its latest rows to be visible",
            a.to,
            arbor_milvus::STALENESS.as_secs_f64()
        );
        std::thread::sleep(arbor_milvus::STALENESS);
    }
    let progress = crate::progress::bar(paths.len() as u64, "exporting");
    let mut last: Vec<String> = Vec::new();
    let (mut inserted, mut present) = (0usize, 0usize);
    let batch = a.batch as usize;
    for (n, (names, vectors)) in paths.chunks(batch).zip(rows.chunks(batch * dim)).enumerate() {
        if a.stop_after.is_some_and(|limit| n >= limit) {
            bail!("stopped early (--stop-after) after {inserted} photos");
        }
        let have = remote.existing(names)?;
        let todo: Vec<usize> = (0..names.len()).filter(|&i| !have.contains(&names[i])).collect();
        present += names.len() - todo.len();
        let flat: Vec<f32> = todo.iter().flat_map(|&i| vectors[i * dim..(i + 1) * dim].iter().copied()).collect();
        let lineages = match &classifier {
            Some(c) => c.answer(&flat, dim)?.into_iter().map(lineage_of).collect(),
            None => vec![None; todo.len()],
        };
        let photo_rows: Vec<arbor_milvus::PhotoRow> = todo
            .iter()
            .zip(lineages)
            .map(|(&i, lineage)| arbor_milvus::PhotoRow {
                path: names[i].clone(),
                vector: vectors[i * dim..(i + 1) * dim].to_vec(),
                lineage,
            })
            .collect();
        inserted += remote.insert(&photo_rows)?;
        if !photo_rows.is_empty() {
            last = photo_rows.into_iter().map(|r| r.path).collect();
        }
        progress.inc(names.len() as u64);
    }
    // Searches right after the export see every photo.
    remote.wait_visible(&last)?;
    progress.finish_and_clear();
    eprintln!(
        "{}: {} {inserted} photos inserted, {present} already there",
        a.to,
        if created { "created;" } else { "exists;" }
    );
    Ok(0)
}

/// A photo's predicted species as Milvus's lineage fields (the species as its binomial).
fn lineage_of(answer: arbor_engine::Answer) -> Option<([String; 7], f32)> {
    let arbor_engine::Answer::Taxa(hits) = answer else { return None };
    let hit = hits.into_iter().next()?;
    let mut path: [String; 7] = hit.path.try_into().ok()?;
    path[6] = format!("{} {}", path[5], path[6]);
    Some((path, hit.score))
}

pub fn search(a: SearchArgs) -> Result<()> {
    let engine = open_engine(&a.model, a.preprocess, a.exif_orient, a.precision)?;
    let query = match (&a.image, &a.text) {
        (Some(image), _) => engine.embed_image(Image::Path(image))?,
        (None, Some(text)) => engine.embed_text(text, a.templates)?,
        (None, None) => bail!("give --image or --text"),
    };
    let hits: Vec<arbor_engine::PhotoHit> = if arbor_milvus::MilvusUrl::is_milvus(&a.collection) {
        let url: arbor_milvus::MilvusUrl = a.collection.parse()?;
        let remote = arbor_milvus::Collection::new(url);
        let found = remote.search(&query, engine.identity().image(), a.k as usize, a.within.as_deref())?;
        found.into_iter().map(|h| arbor_engine::PhotoHit { path: h.path, score: h.score }).collect()
    } else {
        if a.within.is_some() {
            bail!("--within filters a Milvus collection (milvus://…) by the lineage exported with it");
        }
        let collection = engine.open_collection(&a.collection)?;
        collection.search(&query, a.k as usize)?
    };
    let rows: Vec<Vec<Cell>> =
        hits.iter().enumerate().map(|(i, h)| vec![Cell::from(i + 1), h.path.as_str().into(), h.score.into()]).collect();
    match a.format {
        Format::Json => crate::output::print_json(&hits)?,
        f => print_rows(f, &["rank", "path", "score"], &rows)?,
    }
    Ok(())
}

fn skipped(n: usize) -> String {
    if n == 0 { String::new() } else { format!(" ({n} unreadable, skipped)") }
}

/// Some photos failed: the collection was still written, and the exit status says so (as in
/// `classify`).
fn exit_code(failed: usize) -> u8 {
    if failed > 0 { EXIT_SOME_FAILED } else { 0 }
}
