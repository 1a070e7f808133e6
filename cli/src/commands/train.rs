//! `arbor synth` and `arbor train`: a synthetic tree of life, and BioCLIP-style training.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use arbor_engine::TextType;
use arbor_engine::{ClipConfig, Cpu};
use arbor_trainer::{Event, ModelInit, RunOptions, SynthConfig, TrainConfig, TrainReport, World};
use burn::backend::Autodiff;
use clap::{Args, ValueEnum};
use indicatif::ProgressBar;

use crate::output::{Format, print_json, print_rows};
use crate::progress::bar;

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Output dataset folder (must not exist).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of species.
    #[arg(long, default_value_t = 60)]
    pub species: usize,
    /// Photos per species.
    #[arg(long, default_value_t = 30)]
    pub images_per_species: usize,
    /// Random seed (the same seed gives the same world, byte for byte).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Photo size in pixels.
    #[arg(long, default_value_t = 64)]
    pub image_size: usize,
    /// Fraction of species kept out of training (test split only).
    #[arg(long, default_value_t = 0.2)]
    pub unseen_fraction: f64,
    /// Output format of the summary.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

impl SynthArgs {
    pub fn config(&self) -> SynthConfig {
        SynthConfig {
            species: self.species,
            images_per_species: self.images_per_species,
            seed: self.seed,
            image_size: self.image_size,
            unseen_fraction: self.unseen_fraction,
        }
    }
}

pub fn synth(a: &SynthArgs) -> Result<()> {
    let summary = write_world(&a.config(), &a.out)?;
    match a.format {
        Format::Json => print_json(&summary),
        format => {
            let [train, val, test] = summary.images.map(|n| n.to_string());
            let row = vec![summary.species.to_string(), summary.unseen_species.to_string(), train, val, test];
            print_rows(format, &["species", "unseen_species", "train", "val", "test"], &[row])
        }
    }
}

/// Generates and writes a world with a progress bar.
pub fn write_world(config: &SynthConfig, out: &Path) -> Result<arbor_trainer::SynthSummary> {
    let world = World::generate(config)?;
    let progress = bar((config.species * config.images_per_species) as u64, "painting");
    let summary = world.write_dataset(out, |done, _| progress.set_position(done as u64))?;
    progress.finish_and_clear();
    Ok(summary)
}

/// Where the computation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Device {
    /// burn's flex backend on the CPU cores.
    Cpu,
    /// An NVIDIA GPU (needs a build with `--features cuda`).
    Cuda,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Dataset folder with manifest.csv (see `arbor synth`).
    #[arg(long)]
    pub data: PathBuf,
    /// Output folder: becomes a model directory (plus metrics.jsonl, charts/, checkpoint.bin).
    #[arg(long)]
    pub out: PathBuf,
    /// Start from this Arbor model directory (fine-tuning; e.g. an imported BioCLIP).
    #[arg(long, conflicts_with = "config")]
    pub init: Option<PathBuf>,
    /// Train from scratch: tiny, vit-b-16, vit-l-14, or an open_clip_config.json.
    #[arg(long, default_value = "tiny")]
    pub config: String,
    /// Caption text type: common, scientific, taxonomic, sci+common, taxonomic+common or mixed.
    #[arg(long, default_value = "mixed")]
    pub text_type: TextType,
    /// Passes over the training photos.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Photos per optimiser step: the contrastive batch (each photo's negatives are the others).
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Micro-batches per step (gradient accumulation with cached features).
    #[arg(long, default_value_t = 1)]
    pub accumulation: usize,
    /// Peak learning rate (after warmup; cosine decay to zero). Fine-tuning wants ~1e-5.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Warmup steps.
    #[arg(long, default_value_t = 50)]
    pub warmup: usize,
    /// AdamW weight decay on weights with two or more dimensions (open_clip's groups).
    #[arg(long, default_value_t = 0.2)]
    pub weight_decay: f64,
    /// Seed of the initialisation, data order, augmentation and mixed text-type draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Checkpoint every N steps (0: every epoch).
    #[arg(long, default_value_t = 0)]
    pub checkpoint_every: usize,
    /// Continue the run in --out from its checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Stop after this many steps, as if interrupted (for testing --resume).
    #[arg(long, hide = true)]
    pub stop_after_steps: Option<usize>,
    /// Where to train: cpu, or cuda (needs a build with --features cuda).
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: Device,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Output format of the final summary.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

impl TrainArgs {
    fn train_config(&self) -> TrainConfig {
        TrainConfig {
            text_type: self.text_type,
            epochs: self.epochs,
            batch_size: self.batch_size,
            accumulation: self.accumulation,
            lr: self.lr,
            warmup: self.warmup,
            weight_decay: self.weight_decay,
            seed: self.seed,
            checkpoint_every: self.checkpoint_every,
            ..TrainConfig::default()
        }
    }

    fn init(&self) -> Result<ModelInit> {
        if let Some(dir) = &self.init {
            return Ok(ModelInit::Pretrained(dir.clone()));
        }
        Ok(ModelInit::Config(model_config(&self.config)?))
    }
}

/// A named architecture or an open_clip config file.
pub fn model_config(name: &str) -> Result<ClipConfig> {
    Ok(match name {
        "tiny" => ClipConfig::tiny(),
        "vit-b-16" | "ViT-B-16" => ClipConfig::vit_b_16(),
        "vit-l-14" | "ViT-L-14" => ClipConfig::vit_l_14(),
        path => ClipConfig::from_open_clip_json(path)
            .with_context(|| format!("--config {path:?} is neither tiny, vit-b-16, vit-l-14 nor a readable config"))?,
    })
}

pub fn train(a: &TrainArgs) -> Result<()> {
    crate::commands::set_threads(a.threads)?;
    let options = RunOptions { resume: a.resume, stop_after: a.stop_after_steps };
    let report = run_training(&a.data, &a.init()?, &a.train_config(), &a.out, &options, a.device)?;
    for skipped in &report.skipped {
        eprintln!("skipped manifest line {}: {}", skipped.line, skipped.reason);
    }
    if !report.finished {
        eprintln!("stopped after {} steps; continue with --resume", report.steps);
    }
    print_history(&report, a.format)
}

/// Runs training with a progress bar on stderr.
pub fn run_training(
    data: &Path,
    init: &ModelInit,
    config: &TrainConfig,
    out: &Path,
    options: &RunOptions,
    device: Device,
) -> Result<TrainReport> {
    let mut progress: Option<ProgressBar> = None;
    let mut observer = |event: Event<'_>| match event {
        Event::Start { first_step, total_steps, train_images, val_images } => {
            let b = bar(total_steps as u64, "training steps");
            b.set_position(first_step as u64);
            b.println(format!("{train_images} training photos, {val_images} validation photos, {total_steps} steps"));
            progress = Some(b);
        }
        Event::Step { step, loss, lr } => {
            if let Some(b) = &progress {
                b.set_position(step as u64);
                b.set_message(format!("loss {loss:.3} lr {lr:.2e}"));
            }
        }
        Event::Epoch(m) => {
            let val = m.val.as_ref().and_then(|v| v.zero_shot.seen.map(|a| a.0));
            let line = match val {
                Some(acc) => format!(
                    "epoch {:>3}  loss {:.3}  scale {:>5.1}  {:>5.0} img/s  val zero-shot: class {:.2} genus {:.2} species {:.2}",
                    m.epoch, m.loss, m.logit_scale, m.images_per_second, acc[2], acc[5], acc[6]
                ),
                None => format!("epoch {:>3}  loss {:.3}  scale {:>5.1}", m.epoch, m.loss, m.logit_scale),
            };
            match &progress {
                Some(b) => b.println(line),
                None => eprintln!("{line}"),
            }
        }
        Event::Checkpoint(_) => {}
    };
    let report = match device {
        Device::Cpu => {
            arbor_trainer::train::<Autodiff<Cpu>>(data, init, config, out, options, &Default::default(), &mut observer)?
        }
        Device::Cuda => train_cuda(data, init, config, out, options, &mut observer)?,
    };
    if let Some(b) = progress {
        b.finish_and_clear();
    }
    Ok(report)
}

#[cfg(feature = "cuda")]
fn train_cuda(
    data: &Path,
    init: &ModelInit,
    config: &TrainConfig,
    out: &Path,
    options: &RunOptions,
    observer: &mut dyn FnMut(Event<'_>),
) -> Result<TrainReport> {
    use arbor_engine::Cuda;
    Ok(arbor_trainer::train::<Autodiff<Cuda>>(data, init, config, out, options, &Default::default(), observer)?)
}

#[cfg(not(feature = "cuda"))]
fn train_cuda(
    _: &Path,
    _: &ModelInit,
    _: &TrainConfig,
    _: &Path,
    _: &RunOptions,
    _: &mut dyn FnMut(Event<'_>),
) -> Result<TrainReport> {
    anyhow::bail!(
        "--device cuda needs a build with `--features cuda` (cargo build --release -p arbor-cli --features cuda)"
    )
}

fn print_history(report: &TrainReport, format: Format) -> Result<()> {
    if format == Format::Json {
        return print_json(&serde_json::json!({
            "out": report.out, "steps": report.steps, "finished": report.finished,
            "epochs": report.history, "skipped": report.skipped,
        }));
    }
    let header = ["epoch", "step", "loss", "lr", "logit_scale", "img_per_s", "val_species", "val_genus", "val_5shot"];
    let rows: Vec<Vec<String>> = report
        .history
        .iter()
        .map(|m| {
            let seen = m.val.as_ref().and_then(|v| v.zero_shot.seen);
            let five = m.val.as_ref().and_then(|v| v.few_shot.get("5").copied().flatten());
            vec![
                m.epoch.to_string(),
                m.step.to_string(),
                format!("{:.4}", m.loss),
                format!("{:.3e}", m.lr),
                format!("{:.2}", m.logit_scale),
                format!("{:.0}", m.images_per_second),
                seen.map_or("-".into(), |a| format!("{:.3}", a.0[6])),
                seen.map_or("-".into(), |a| format!("{:.3}", a.0[5])),
                five.map_or("-".into(), |s| format!("{:.3}", s.mean)),
            ]
        })
        .collect();
    print_rows(format, &header, &rows)
}
