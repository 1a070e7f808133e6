//! `arbor embed image|text`: embeddings as .npy (or pybioclip's JSON).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use arbor_engine::normalize_rows;
use arbor_engine::{Pipeline, Templates};
use clap::{Args, Subcommand, ValueEnum};

use crate::arrays::write_npy;
use crate::commands::open_engine;
use crate::inputs::{EXIT_SOME_FAILED, photo_files, read_lines};
use crate::output::check_output_file;
use crate::progress::bar;

/// Compute image or text embeddings.
#[derive(Debug, Subcommand)]
pub enum EmbedCommand {
    /// Embed photos (files and folders, recursive).
    #[command(
        after_help = "Examples:\n  arbor embed image --model bioclip photos/ --out emb.npy --normalize\n  arbor embed image --model bioclip a.jpg b.png --format json --out emb.json\n  arbor embed image --model bioclip photos/ --format parquet --out emb.parquet\n  arbor embed image --model bioclip photos/ --precision int8 --out emb.npy\n\nExit status: 0 all embedded, 1 error, 2 usage error, 3 some photos could not be read (reported, left out)."
    )]
    Image(ImageArgs),
    /// Embed texts or labels.
    #[command(
        after_help = "Examples:\n  arbor embed text --model bioclip --text \"Corvus corax\" --templates openai80 --out raven.npy\n  arbor embed text --model bioclip --file labels.txt --normalize --out labels.npy"
    )]
    Text(TextArgs),
}

/// Output format of `embed image`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EmbedFormat {
    /// float32 (N, D) .npy, with the embedded paths in `<out>.paths.txt`.
    Npy,
    /// pybioclip's `embed` JSON: {"model": …, "embeddings": {path: [floats]}}.
    Json,
    /// Parquet: `path` and `embedding` (a fixed-size list of float32) per photo, for
    /// pandas/polars/DuckDB; the model identity in the file's metadata.
    Parquet,
}

#[derive(Debug, Args)]
pub struct ImageArgs {
    /// Arbor model directory (see `arbor import openclip`).
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    precision: crate::commands::PrecisionArg,
    /// Image files and folders.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Output file.
    #[arg(long)]
    out: PathBuf,
    /// L2-normalise each embedding.
    #[arg(long)]
    normalize: bool,
    /// Image pipeline: squash (pybioclip) or crop (open_clip); default: the model's.
    #[arg(long)]
    preprocess: Option<Pipeline>,
    /// Apply EXIF orientation (the reference tools do not).
    #[arg(long)]
    exif_orient: bool,
    /// Images per model call.
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "npy")]
    format: EmbedFormat,
}

#[derive(Debug, Args)]
pub struct TextArgs {
    /// Arbor model directory.
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    precision: crate::commands::PrecisionArg,
    /// Texts to embed.
    #[arg(long, num_args = 1.., required_unless_present = "file")]
    text: Vec<String>,
    /// A file with one text per line.
    #[arg(long, conflicts_with = "text")]
    file: Option<PathBuf>,
    /// Prompt templates: none, or openai80 (80 templates averaged, normalised; pybioclip's recipe).
    #[arg(long, default_value = "none")]
    templates: Templates,
    /// L2-normalise each embedding (always so with openai80).
    #[arg(long)]
    normalize: bool,
    /// Output .npy file (float32, one row per text).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(cmd: EmbedCommand) -> Result<u8> {
    match cmd {
        EmbedCommand::Image(a) => image(a),
        EmbedCommand::Text(a) => text(a).map(|()| 0),
    }
}

fn image(a: ImageArgs) -> Result<u8> {
    check_output_file(&a.out)?;
    let engine = open_engine(&a.model, a.preprocess, a.exif_orient, a.precision)?;
    let embedder = engine.embedder();
    let files = photo_files(&a.paths)?;
    let dim = embedder.dim();
    let (mut rows, mut done, mut failed) = (Vec::new(), Vec::new(), 0usize);
    let progress = bar(files.len() as u64, "embedding");
    embedder.embed_files(&files, a.batch_size, |i, r| {
        progress.inc(1);
        match r {
            Ok(v) => {
                rows.extend(v);
                done.push(files[i].clone());
            }
            Err(e) => {
                failed += 1;
                progress.suspend(|| eprintln!("skipped: {}", crate::error_message(&e.into())));
            }
        }
    })?;
    progress.finish_and_clear();
    if done.is_empty() {
        bail!("no image could be embedded, nothing written");
    }
    if a.normalize {
        normalize_rows(&mut rows, dim);
    }
    match a.format {
        EmbedFormat::Npy => {
            write_npy(&a.out, done.len(), dim, &rows)?;
            let list: String = done.iter().map(|p| format!("{}\n", p.display())).collect();
            let paths = PathBuf::from(format!("{}.paths.txt", a.out.display()));
            arbor_index::write_atomically(&paths, |w| w.write_all(list.as_bytes()))?;
        }
        EmbedFormat::Parquet => parquet(&a, &engine, &done, &rows, dim)?,
        EmbedFormat::Json => {
            let embeddings: serde_json::Map<String, serde_json::Value> =
                done.iter().zip(rows.chunks_exact(dim)).map(|(p, r)| (p.display().to_string(), r.into())).collect();
            let doc = serde_json::json!({ "model": a.model.display().to_string(), "embeddings": embeddings });
            let text = serde_json::to_vec_pretty(&doc)?;
            arbor_index::write_atomically(&a.out, |w| w.write_all(&text))?;
        }
    }
    eprintln!("embedded {} images into {}{}", done.len(), a.out.display(), skipped(failed));
    Ok(if failed > 0 { EXIT_SOME_FAILED } else { 0 })
}

#[cfg(feature = "parquet")]
fn parquet(a: &ImageArgs, engine: &arbor_engine::Engine, paths: &[PathBuf], rows: &[f32], dim: usize) -> Result<()> {
    let metadata = [
        ("arbor.model", a.model.display().to_string()),
        ("arbor.model_identity", engine.identity().image().to_owned()),
        ("arbor.normalized", a.normalize.to_string()),
    ];
    crate::parquet_out::write_embeddings(&a.out, paths, rows, dim, &metadata)
}

#[cfg(not(feature = "parquet"))]
fn parquet(_: &ImageArgs, _: &arbor_engine::Engine, _: &[PathBuf], _: &[f32], _: usize) -> Result<()> {
    bail!("this build has no Parquet writer: build arbor-cli with its default `parquet` feature")
}

fn skipped(n: usize) -> String {
    if n == 0 { String::new() } else { format!(" ({n} skipped)") }
}

fn text(a: TextArgs) -> Result<()> {
    check_output_file(&a.out)?;
    let engine = open_engine(&a.model, None, false, a.precision)?;
    let embedder = engine.embedder();
    let texts = match &a.file {
        Some(f) => read_lines(f)?,
        None => a.text,
    };
    let dim = embedder.dim();
    let progress = bar(texts.len() as u64, "encoding");
    let mut rows = match a.templates {
        Templates::None => embedder.embed_texts(&texts)?,
        t => embedder.embed_labels(&texts, t, |n| progress.inc(n as u64))?,
    };
    progress.finish_and_clear();
    if a.normalize {
        normalize_rows(&mut rows, dim);
    }
    write_npy(&a.out, texts.len(), dim, &rows)?;
    eprintln!("embedded {} texts into {}", texts.len(), a.out.display());
    Ok(())
}
