//! `arbor demo`: the whole pipeline on a fresh machine with nothing downloaded — synthesise
//! a tree of life, train a tiny BioCLIP on it, index its taxa, and classify held-out photos at
//! every rank, zero-shot and few-shot, for species seen and never seen in training.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use arbor_engine::ClipConfig;
use arbor_engine::{Embedder, TextType, TreeClassifier};
use arbor_index::{IndexBuilder, Rank, Scope, TaxonIndex};
use arbor_trainer::{Dataset, ModelInit, RunOptions, Split, SynthConfig, TrainConfig};
use clap::Args;

use super::eval::{evaluate_split, print_report};
use super::train::{Device, run_training, write_world};
use crate::output::{Format, print_json, print_rows};

/// Marks a folder as a demo's, so a later demo may replace it.
const MARKER: &str = "arbor-demo.json";

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Working folder (replaced if it holds an earlier demo).
    #[arg(long, default_value = "arbor-demo")]
    pub out: PathBuf,
    /// Species in the synthetic world.
    #[arg(long, default_value_t = 48)]
    pub species: usize,
    /// Photos per species.
    #[arg(long, default_value_t = 40)]
    pub images_per_species: usize,
    /// Training epochs.
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
    /// Photos per training step.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Caption text type for training.
    #[arg(long, default_value = "mixed")]
    pub text_type: TextType,
    /// Seed of the world and of training (the same seed repeats the same demo).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Output format of the results.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

pub fn demo(a: &DemoArgs) -> Result<()> {
    super::set_threads(a.threads)?;
    let started = Instant::now();
    prepare(&a.out)?;
    let (data, model, index) = (a.out.join("data"), a.out.join("model"), a.out.join("index"));

    eprintln!("1/4 painting a synthetic tree of life ({} species) into {}", a.species, data.display());
    let world = SynthConfig {
        species: a.species,
        images_per_species: a.images_per_species,
        seed: a.seed,
        ..Default::default()
    };
    let summary = write_world(&world, &data)?;
    eprintln!(
        "    {} species ({} never shown in training), photos: {} train / {} val / {} test",
        summary.species, summary.unseen_species, summary.images[0], summary.images[1], summary.images[2]
    );

    eprintln!("2/4 training a tiny CLIP with {} captions", a.text_type);
    let config = TrainConfig {
        text_type: a.text_type,
        epochs: a.epochs,
        batch_size: a.batch_size,
        lr: 2e-3,
        warmup: 50,
        seed: a.seed,
        ..TrainConfig::default()
    };
    let init = ModelInit::Config(ClipConfig::tiny());
    run_training(&data, &init, &config, &model, &RunOptions::default(), Device::Cpu)?;

    let text_type = if a.text_type == TextType::Mixed { TextType::TaxonomicCommon } else { a.text_type };
    eprintln!("3/4 indexing every taxon's {text_type} caption into {}", index.display());
    let embedder = Embedder::open(&model)?;
    let dataset = Dataset::open(&data)?;
    build_index(&embedder, &dataset, text_type, &index)?;

    eprintln!("4/4 classifying the held-out test photos");
    let report = evaluate_split(&embedder, &data, Split::Test, text_type, &[1, 5], 5)?;
    let examples = examples(&embedder, &dataset, &index)?;
    let marker = serde_json::json!({ "seconds": started.elapsed().as_secs_f64(), "report": &report });
    std::fs::write(a.out.join(MARKER), format!("{marker:#}\n")).context("cannot write the demo summary")?;
    if a.format == Format::Json {
        return print_json(&marker);
    }
    print_report(&report, a.format)?;
    println!();
    print_chance(&dataset)?;
    println!();
    print_rows(
        a.format,
        &["unseen species' photo", "true species", "predicted (deepest rank with p ≥ 0.5)", "right down to"],
        &examples,
    )?;
    println!(
        "\nFinished in {:.0} s. Training charts: {}\nTry: arbor classify --model {} --index {} {} --rank genus",
        started.elapsed().as_secs_f64(),
        model.join("charts").display(),
        model.display(),
        index.display(),
        data.join("images").display()
    );
    Ok(())
}

/// Empties `out` if it holds an earlier demo; refuses to touch anything else.
fn prepare(out: &Path) -> Result<()> {
    if out.exists() {
        if !out.join(MARKER).exists() && std::fs::read_dir(out)?.next().is_some() {
            bail!("{}: exists and is not an earlier demo; choose another --out", out.display());
        }
        std::fs::remove_dir_all(out).with_context(|| format!("cannot clear {}", out.display()))?;
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    std::fs::write(out.join(MARKER), "{}\n").context("cannot mark the demo folder")?;
    Ok(())
}

/// The taxon index of the dataset's taxa, embedded from their captions by the trained model.
fn build_index(embedder: &Embedder, dataset: &Dataset, text_type: TextType, out: &Path) -> Result<()> {
    let vectors = arbor_trainer::eval::embed_taxa(embedder, dataset.taxa(), text_type)?;
    IndexBuilder::new(embedder.dim()).source("arbor demo").build(dataset.taxa(), &vectors, out)?;
    Ok(())
}

/// One test photo of each of a few unseen species, classified through the index.
fn examples(embedder: &Embedder, dataset: &Dataset, index: &Path) -> Result<Vec<Vec<String>>> {
    let index = TaxonIndex::open(index)?;
    let seen = dataset.seen_in_training();
    let mut shown = HashSet::new();
    let picks: Vec<_> = dataset
        .split(Split::Test)
        .into_iter()
        .filter(|s| !seen[s.taxon_index] && shown.insert(s.taxon_index))
        .take(5)
        .collect();
    let classifier = TreeClassifier::new(&index, Scope::All, embedder.logit_scale());
    let mut rows = Vec::new();
    for sample in picks {
        let mut feature = embedder.embed_pixels(&[embedder.preprocessor().load(&sample.path)?])?;
        arbor_engine::normalize_row(&mut feature);
        let probs = classifier.probabilities(&feature)?.remove(0);
        let answer = classifier.deepest_confident(&probs, 0.5)?;
        // How far down the predicted lineage agrees with the truth.
        let truth = &sample.taxon.lineage.0;
        let agreed = answer.as_ref().map_or(0, |hit| hit.path.iter().zip(truth).take_while(|(p, t)| p == t).count());
        let right_to = if agreed == 0 { "-".to_owned() } else { Rank::ALL[agreed - 1].name().to_owned() };
        let predicted = answer.map_or("unknown".to_owned(), |hit| {
            let shown = hit.path.iter().skip(hit.path.len().saturating_sub(2)).cloned().collect::<Vec<_>>();
            format!("{} {}", hit.rank.name(), shown.join(" "))
        });
        let name = sample.path.strip_prefix(dataset.root()).unwrap_or(&sample.path).display().to_string();
        rows.push(vec![name, sample.taxon.lineage.species(), predicted, right_to]);
    }
    Ok(rows)
}

/// Chance accuracy per rank: one over the number of distinct taxa at that rank.
fn print_chance(dataset: &Dataset) -> Result<()> {
    let row: Vec<String> = Rank::ALL
        .iter()
        .map(|r| {
            let distinct: HashSet<&[String]> = dataset.taxa().iter().map(|t| t.lineage.down_to(*r)).collect();
            format!("{:.3}", 1.0 / distinct.len() as f64)
        })
        .collect();
    let header: Vec<String> = Rank::ALL.iter().map(|r| format!("chance {}", r.name())).collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    print_rows(Format::Table, &header, &[row])
}
