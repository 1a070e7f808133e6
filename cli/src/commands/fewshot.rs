//! `arbor fewshot fit|eval`: SimpleShot class centroids from a few labelled photos per class,
//! and BioCLIP's few-shot accuracy protocol.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use arbor_engine::{Centroids, Pipeline};

use crate::inputs::EXIT_SOME_FAILED;
use crate::output::{Cell, check_output_dir};
use clap::{Args, Subcommand};

use crate::commands::eval_fewshot::EvalFewshotArgs;
use crate::commands::open_engine;
use crate::output::{Format, print_json, print_rows};
use crate::photos::Labelled;

/// Few-shot classification from a handful of labelled photos.
#[derive(Debug, Subcommand)]
pub enum FewshotCommand {
    /// Fit class centroids on labelled support photos, for `arbor classify --centroids`.
    #[command(after_help = "Examples:
  arbor fewshot fit --model bioclip --support support/ --out my-classes      # support/<class>/*.jpg
  arbor fewshot fit --model bioclip --support-csv support.csv --out my-classes  # rows path,label
  arbor classify --model bioclip --centroids my-classes photos/

Unreadable photos are reported and left out (exit status 3). At least two classes are needed.")]
    Fit(FitArgs),
    /// Few-shot accuracy, mean ± std over seeds (BioCLIP's protocol).
    #[command(after_help = crate::commands::eval_fewshot::AFTER_HELP)]
    Eval(EvalFewshotArgs),
}

#[derive(Debug, Args)]
pub struct FitArgs {
    /// Arbor model directory.
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    precision: crate::commands::PrecisionArg,
    /// Folder with one sub-folder of photos per class (the sub-folder's name is the class).
    #[arg(long, required_unless_present = "support_csv", conflicts_with = "support_csv")]
    support: Option<PathBuf>,
    /// CSV of path,label rows (relative paths are relative to the CSV's folder).
    #[arg(long)]
    support_csv: Option<PathBuf>,
    /// Output directory for the centroids (replaced atomically if it exists).
    #[arg(long)]
    out: PathBuf,
    /// Images per model call.
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// Image pipeline: squash (pybioclip) or crop (open_clip); default: the model's.
    #[arg(long)]
    preprocess: Option<Pipeline>,
    /// Apply EXIF orientation before preprocessing (phone photos; pybioclip does not).
    #[arg(long)]
    exif_orient: bool,
    /// Summary format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

pub fn run(cmd: FewshotCommand) -> Result<u8> {
    match cmd {
        FewshotCommand::Fit(a) => fit(a),
        FewshotCommand::Eval(a) => crate::commands::eval_fewshot::run(a),
    }
}

fn fit(a: FitArgs) -> Result<u8> {
    check_output_dir(&a.out)?;
    let engine = open_engine(&a.model, a.preprocess, a.exif_orient, a.precision)?;
    let support = Labelled::read(a.support.as_deref(), a.support_csv.as_deref())?;
    let (labels, rows, failed) = support.embed(&engine, a.batch_size)?;
    if labels.is_empty() {
        bail!("no support photo could be read");
    }
    let centroids = Centroids::fit(&labels, &rows, engine.dim())?;
    if centroids.labels().len() < 2 {
        bail!("few-shot needs at least two classes with readable photos, got {:?}", centroids.labels());
    }
    engine.save_centroids(&centroids, &a.out).with_context(|| format!("writing {}", a.out.display()))?;
    let counts: Vec<(String, usize)> =
        centroids.labels().iter().map(|c| (c.clone(), labels.iter().filter(|l| *l == c).count())).collect();
    match a.format {
        Format::Json => print_json(&serde_json::json!({
            "out": a.out.display().to_string(),
            "classes": counts.iter().map(|(c, n)| serde_json::json!({ "class": c, "support": n })).collect::<Vec<_>>(),
            "skipped": failed,
        }))?,
        f => print_rows(
            f,
            &["class", "support"],
            &counts.iter().map(|(c, n)| vec![Cell::from(c.as_str()), (*n).into()]).collect::<Vec<_>>(),
        )?,
    }
    eprintln!(
        "fitted {} classes on {} photos into {}{}",
        centroids.labels().len(),
        labels.len(),
        a.out.display(),
        if failed > 0 { format!(" ({failed} skipped)") } else { String::new() }
    );
    Ok(if failed > 0 { EXIT_SOME_FAILED } else { 0 })
}
