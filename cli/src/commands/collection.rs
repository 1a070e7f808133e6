//! `arbor collection build|add` and `arbor search`: a user's photos embedded once into a
//! memory-mapped index, then searched by photo or by text.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use arbor_engine::photo_key;
use arbor_engine::{Collection, Engine, Image, Layout, MilvusSearch, MilvusUrl, MilvusWriter, Pipeline, Templates};
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
  arbor collection export my-photos --to milvus://db.lab:19530/survey --model bioclip --index tol-index --m 32 --ef-construction 256
  arbor search --collection milvus://127.0.0.1:19530/my_photos --model bioclip --text \"Corvus corax\" --within Aves --ef 128

The Milvus collection is created with an HNSW index (inner product on unit vectors; M and
efConstruction from --m/--ef-construction) and the model's identity in its description. With
--model and --index each photo's predicted taxon at every rank goes with it, so `search --within`
can filter by taxon. A rerun inserts only what is missing, so an interrupted export is carried on
by running it again. The export ends once Milvus serves every row through the index. A server with
authentication: milvus://USER:PASSWORD@HOST:PORT/NAME, or MILVUS_TOKEN=USER:PASSWORD.")]
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The collection to export.
    collection: PathBuf,
    /// Where: milvus://[USER:PASSWORD@]HOST:PORT/NAME (or the password in MILVUS_TOKEN).
    #[arg(long, value_parser = milvus_url)]
    to: MilvusUrl,
    #[command(flatten)]
    layout: LayoutArgs,
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
    /// Embed into Milvus instead: milvus://[USER:PASSWORD@]HOST:PORT/NAME (created if missing).
    #[arg(long, value_parser = milvus_url)]
    to: Option<MilvusUrl>,
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
    #[command(flatten)]
    layout: LayoutArgs,
}

/// How a new Milvus collection is laid out; an existing one keeps its own.
#[derive(Debug, Args)]
struct LayoutArgs {
    /// Milvus only, new collections: HNSW links per node [default: 16].
    #[arg(long, value_parser = clap::value_parser!(u32).range(4..=64))]
    m: Option<u32>,
    /// Milvus only, new collections: HNSW beam width while building [default: 200].
    #[arg(long, value_parser = clap::value_parser!(u32).range(8..=512))]
    ef_construction: Option<u32>,
    /// Milvus only, new collections: shards (data nodes writing in parallel) [default: 1].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
    shards: Option<u32>,
}

impl LayoutArgs {
    fn layout(&self) -> Layout {
        let d = Layout::default();
        Layout {
            hnsw: arbor_engine::Hnsw {
                m: self.m.unwrap_or(d.hnsw.m),
                ef_construction: self.ef_construction.unwrap_or(d.hnsw.ef_construction),
            },
            shards: self.shards.unwrap_or(d.shards),
        }
    }

    /// An existing collection whose index differs from what was asked is an error, not a
    /// silent surprise.
    fn check(&self, collection: &arbor_engine::MilvusCollection) -> Result<()> {
        let found = collection.hnsw();
        let differs = |asked: Option<u32>, has: Option<u32>| asked.is_some() && asked != has;
        if differs(self.m, found.map(|h| h.m)) || differs(self.ef_construction, found.map(|h| h.ef_construction)) {
            let has = found
                .map_or("no HNSW index".to_owned(), |h| format!("M {} and efConstruction {}", h.m, h.ef_construction));
            bail!("{}: exists with {has}; --m/--ef-construction only lay out a new collection", collection.url());
        }
        if self.shards.is_some() {
            eprintln!("{}: exists; --shards only lays out a new collection", collection.url());
        }
        Ok(())
    }
}

/// A `milvus://` URL, signing in with `MILVUS_TOKEN` (`user:password`) when it names no user.
fn milvus_url(s: &str) -> Result<MilvusUrl, arbor_engine::MilvusError> {
    Ok(s.parse::<MilvusUrl>()?.or_credentials(std::env::var("MILVUS_TOKEN").ok()))
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
  arbor search --collection milvus://127.0.0.1:19530/my_photos --model bioclip --image q.jpg --within Corvidae --ef 512

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
    /// HNSW beam width (at least -k): a Milvus collection's, or a local collection's graph
    /// (built past 50,000 photos; smaller ones are searched exactly) [default: 256].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=32768))]
    ef: Option<u32>,
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
    if MilvusUrl::is_milvus(&a.collection) {
        let url = milvus_url(&a.collection)?;
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
    url: &MilvusUrl,
    files: &[PathBuf],
    milvus: &MilvusOptions,
    batch_size: usize,
) -> Result<u8> {
    let (remote, created) = engine.create_milvus(url, milvus.layout.layout())?;
    if !created {
        milvus.layout.check(&remote)?;
    }
    let mut writer = engine.milvus_writer(&remote)?;
    let mut seen = std::collections::HashSet::new();
    let mut failed = 0usize;
    for chunk in files.chunks(milvus.batch as usize) {
        let keyed: Vec<(PathBuf, String)> =
            chunk.iter().map(|f| (f.clone(), photo_key(f))).filter(|(_, k)| seen.insert(k.clone())).collect();
        let keys: Vec<String> = keyed.iter().map(|(_, k)| k.clone()).collect();
        let missing = writer.missing(&keys)?;
        let todo: Vec<PathBuf> = missing.iter().map(|&i| keyed[i].0.clone()).collect();
        let embedded = embed_skipping_bad(engine, &todo, batch_size, "embedding")?;
        failed += embedded.failed;
        let kept: Vec<String> = embedded.kept.iter().map(|&i| keys[missing[i]].clone()).collect();
        writer.insert(&kept, &embedded.rows)?;
    }
    let summary = format!(
        "{url}: {} {} photos inserted, {} already there{}",
        if created { "created;" } else { "exists;" },
        writer.inserted(),
        writer.present(),
        skipped(failed)
    );
    finish_milvus(writer)?;
    eprintln!("{summary}");
    Ok(exit_code(failed))
}

/// Seals a run's rows and waits for Milvus's index to cover them, with a progress bar.
fn finish_milvus(writer: MilvusWriter<'_>) -> Result<()> {
    let progress = crate::progress::bar(0, "indexing");
    writer.finish(|p| {
        progress.set_length(p.total);
        progress.set_position(p.indexed);
    })?;
    progress.finish_and_clear();
    Ok(())
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
    let (remote, created) = match &engine {
        Some(e) => e.create_milvus(&a.to, a.layout.layout())?,
        None => arbor_engine::MilvusCollection::create_or_open(
            &a.to,
            local.dim(),
            local.model_identity(),
            a.layout.layout(),
        )?,
    };
    if !created {
        a.layout.check(&remote)?;
    }
    let (paths, rows) = local.entries()?;
    let dim = local.dim();
    drop(local);
    let mut writer = match &engine {
        Some(e) => e.milvus_writer(&remote)?,
        None => MilvusWriter::without_lineage(&remote),
    };
    let progress = crate::progress::bar(paths.len() as u64, "exporting");
    let batch = a.batch as usize;
    for (n, (names, vectors)) in paths.chunks(batch).zip(rows.chunks(batch * dim)).enumerate() {
        if a.stop_after.is_some_and(|limit| n >= limit) {
            bail!("stopped early (--stop-after) after {} photos", writer.inserted());
        }
        let missing = writer.missing(names)?;
        let keys: Vec<String> = missing.iter().map(|&i| names[i].clone()).collect();
        let flat: Vec<f32> = missing.iter().flat_map(|&i| vectors[i * dim..(i + 1) * dim].iter().copied()).collect();
        writer.insert(&keys, &flat)?;
        progress.inc(names.len() as u64);
    }
    progress.finish_and_clear();
    let summary = format!(
        "{}: {} {} photos inserted, {} already there",
        a.to,
        if created { "created;" } else { "exists;" },
        writer.inserted(),
        writer.present()
    );
    finish_milvus(writer)?;
    eprintln!("{summary}");
    Ok(0)
}

pub fn search(a: SearchArgs) -> Result<()> {
    let engine = open_engine(&a.model, a.preprocess, a.exif_orient, a.precision)?;
    let query = match (&a.image, &a.text) {
        (Some(image), _) => engine.embed_image(Image::Path(image))?,
        (None, Some(text)) => engine.embed_text(text, a.templates)?,
        (None, None) => bail!("give --image or --text"),
    };
    let (k, ef) = (a.k as usize, a.ef.map(|ef| ef as usize));
    if ef.is_some_and(|ef| ef < k) {
        bail!("--ef {} is below -k {k}: a beam search returns at most ef photos", a.ef.unwrap_or_default());
    }
    let hits: Vec<arbor_engine::PhotoHit> = if MilvusUrl::is_milvus(&a.collection) {
        let remote = engine.open_milvus(&milvus_url(&a.collection)?)?;
        engine.search_milvus(&remote, &query, MilvusSearch { k, ef, within: a.within.as_deref() })?
    } else {
        if a.within.is_some() {
            bail!("--within filters a Milvus collection (milvus://…) by the lineage exported with it");
        }
        let collection = engine.open_collection(&a.collection)?;
        collection.search_with(&query, k, ef)?
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
