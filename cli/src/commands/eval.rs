//! `arbor eval`: BioCLIP's evaluation of a model on a dataset split.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use arbor_engine::MAX_PIXELS;
use arbor_engine::{Embedder, TextType};
use arbor_index::Rank;
use arbor_trainer::{Dataset, EvalReport, EvalSettings, Split, evaluate};
use clap::Args;

use crate::output::{Format, print_json, print_rows};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct EvalArgs {
    /// `arbor eval fewshot`: few-shot accuracy on a folder of class sub-folders (the same as
    /// `arbor fewshot eval`).
    #[command(subcommand)]
    pub fewshot: Option<EvalSubcommand>,
    /// Arbor model directory.
    #[arg(long, required = true)]
    pub model: Option<PathBuf>,
    /// Dataset folder with manifest.csv.
    #[arg(long, required = true)]
    pub data: Option<PathBuf>,
    /// Split to evaluate: train, val or test.
    #[arg(long, default_value = "test")]
    pub split: Split,
    /// How taxa are described for zero-shot (default: the text type the model was trained
    /// with, per its training.json; taxonomic+common otherwise).
    #[arg(long)]
    pub text_type: Option<TextType>,
    /// Few-shot support sizes.
    #[arg(long, value_delimiter = ',', default_value = "1,5")]
    pub shots: Vec<usize>,
    /// Few-shot seeds per size.
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

/// Evaluations other than the zero-shot + few-shot report on a manifest dataset.
#[derive(Debug, clap::Subcommand)]
pub enum EvalSubcommand {
    /// Few-shot (SimpleShot) accuracy on photos in class sub-folders or a path,label CSV.
    #[command(after_help = super::eval_fewshot::AFTER_HELP)]
    Fewshot(super::eval_fewshot::EvalFewshotArgs),
}

pub fn eval(a: EvalArgs) -> Result<()> {
    if let Some(EvalSubcommand::Fewshot(args)) = a.fewshot {
        return super::eval_fewshot::run(args).map(|_| ());
    }
    let (Some(model), Some(data)) = (a.model, a.data) else { bail!("--model and --data are required") };
    let text_type = a.text_type.unwrap_or_else(|| trained_text_type(&model));
    let report = evaluate_split(&Embedder::open(&model)?, &data, a.split, text_type, &a.shots, a.seeds)?;
    print_report(&report, a.format)
}

/// The text type recorded by `arbor train` in the model folder, else taxonomic+common
/// (what `mixed` describes taxa as, and BioCLIP's strongest single type).
pub fn trained_text_type(model: &Path) -> TextType {
    let recorded = std::fs::read_to_string(model.join("training.json")).ok().and_then(|s| {
        let json: serde_json::Value = serde_json::from_str(&s).ok()?;
        serde_json::from_value(json.get("config")?.get("text_type")?.clone()).ok()
    });
    recorded.unwrap_or(TextType::TaxonomicCommon)
}

/// Evaluates a model on one split of a dataset folder.
pub fn evaluate_split(
    embedder: &Embedder,
    data: &Path,
    split: Split,
    text_type: TextType,
    shots: &[usize],
    seeds: u64,
) -> Result<EvalReport> {
    let mut dataset = Dataset::open(data)?;
    let images = dataset.load_images(split, MAX_PIXELS);
    for skipped in dataset.skipped() {
        eprintln!("skipped manifest line {}: {}", skipped.line, skipped.reason);
    }
    if images.is_empty() {
        bail!("{}: the {} split has no usable photos", data.display(), split.name());
    }
    let seen = dataset.seen_in_training();
    let settings = EvalSettings { taxa: dataset.taxa(), seen: &seen, text_type, shots, seeds };
    Ok(evaluate(embedder, &images, &settings)?)
}

/// Prints zero-shot accuracy per rank (seen / unseen) and few-shot accuracy.
pub fn print_report(report: &EvalReport, format: Format) -> Result<()> {
    if format == Format::Json {
        return print_json(report);
    }
    let cell = |acc: Option<f64>| acc.map_or("-".to_owned(), |a| format!("{:.3}", a));
    let mut rows: Vec<Vec<String>> = Rank::ALL
        .iter()
        .map(|r| {
            vec![
                format!("zero-shot {}", r.name()),
                cell(report.zero_shot.seen.map(|a| a.at(*r))),
                cell(report.zero_shot.unseen.map(|a| a.at(*r))),
            ]
        })
        .collect();
    for (shots, score) in &report.few_shot {
        let value = score.map_or("-".to_owned(), |s| format!("{:.3} ± {:.3}", s.mean, s.std));
        rows.push(vec![format!("{shots}-shot species"), value, "".into()]);
    }
    let seen = format!("seen ({} photos)", report.seen_images);
    let unseen = format!("unseen ({} photos)", report.unseen_images);
    print_rows(format, &["metric", &seen, &unseen], &rows)
}
