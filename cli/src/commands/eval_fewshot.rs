//! `arbor fewshot eval` (also meant to be reachable as `arbor eval fewshot`): BioCLIP's few-shot
//! protocol on a labelled folder — for each seed, `shots` random photos per class are the
//! support and the rest are queries; accuracy is reported as mean ± std over seeds.

use std::path::PathBuf;

use anyhow::{Result, bail};
use arbor_engine::{FewShotScore, Pipeline, evaluate_few_shot};
use clap::Args;

use crate::commands::open_engine;
use crate::output::{Cell, Format, print_json, print_rows};
use crate::photos::Labelled;

/// Examples shown by `--help`, shared with any command that aliases this one.
pub const AFTER_HELP: &str = "Examples:
  arbor fewshot eval --model bioclip --data photos/ --shots 1,5 --seeds 5      # photos/<class>/*.jpg
  arbor fewshot eval --model bioclip --data-csv labelled.csv --shots 5 --format json

Every photo is embedded once; each seed draws `shots` support photos per class and queries with the
rest. Classes with no more than `shots` photos are left out of that row. Unreadable photos are
reported and left out.";

/// Few-shot accuracy on a labelled set of photos.
#[derive(Debug, Args)]
pub struct EvalFewshotArgs {
    /// Arbor model directory.
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub precision: crate::commands::PrecisionArg,
    /// Folder with one sub-folder of photos per class.
    #[arg(long, required_unless_present = "data_csv", conflicts_with = "data_csv")]
    pub data: Option<PathBuf>,
    /// CSV of path,label rows (relative paths are relative to the CSV's folder).
    #[arg(long)]
    pub data_csv: Option<PathBuf>,
    /// Support photos per class; one result row each.
    #[arg(long, value_delimiter = ',', default_value = "1,5")]
    pub shots: Vec<usize>,
    /// Random draws per shot count (seeds 0, 1, …).
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
    /// Images per model call.
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// Image pipeline: squash (pybioclip) or crop (open_clip); default: the model's.
    #[arg(long)]
    pub preprocess: Option<Pipeline>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

/// The JSON document `--format json` prints.
#[derive(serde::Serialize)]
struct Report {
    model: String,
    photos: usize,
    classes: usize,
    skipped: usize,
    seeds: u64,
    results: Vec<FewShotScore>,
}

/// Runs the evaluation and prints the report.
pub fn run(a: EvalFewshotArgs) -> Result<u8> {
    if a.shots.is_empty() || a.shots.contains(&0) || a.seeds == 0 {
        bail!("--shots needs counts of at least 1 and --seeds at least 1");
    }
    let engine = open_engine(&a.model, a.preprocess, false, a.precision)?;
    let data = Labelled::read(a.data.as_deref(), a.data_csv.as_deref())?;
    let (labels, rows, skipped) = data.embed(&engine, a.batch_size)?;
    if labels.is_empty() {
        bail!("no photo could be read");
    }
    let mut classes = labels.clone();
    classes.sort();
    classes.dedup();
    let results = a
        .shots
        .iter()
        .map(|&shots| evaluate_few_shot(&labels, &rows, engine.dim(), shots, a.seeds))
        .collect::<Result<Vec<_>, _>>()?;
    let report = Report {
        model: a.model.display().to_string(),
        photos: labels.len(),
        classes: classes.len(),
        skipped,
        seeds: a.seeds,
        results,
    };
    match a.format {
        Format::Json => print_json(&report)?,
        f => {
            let rows: Vec<Vec<Cell>> = report
                .results
                .iter()
                .map(|r| {
                    let mut row = vec![Cell::from(r.shots)];
                    if f == Format::Table {
                        row.push(format!("{:.2} ± {:.2}", 100.0 * r.mean, 100.0 * r.std).into());
                    } else {
                        row.extend([Cell::from(r.mean), Cell::from(r.std)]);
                    }
                    row.extend([Cell::from(r.classes), Cell::from(r.queries)]);
                    row
                })
                .collect();
            let header: &[&str] = if f == Format::Table {
                &["shots", "accuracy %", "classes", "queries"]
            } else {
                &["shots", "mean", "std", "classes", "queries"]
            };
            print_rows(f, header, &rows)?;
        }
    }
    eprintln!("{} photos in {} classes, {} seeds{}", report.photos, report.classes, a.seeds, skipped_note(skipped));
    Ok(if skipped > 0 { crate::inputs::EXIT_SOME_FAILED } else { 0 })
}

fn skipped_note(n: usize) -> String {
    if n == 0 { String::new() } else { format!(" ({n} skipped)") }
}
