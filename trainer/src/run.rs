//! What a training run is: its settings, its state between steps, what it reports. Kept apart
//! from the loop so the checkpoint and report writers depend on these types, not on the loop.

use std::path::PathBuf;

use arbor_engine::TextType;
use arbor_engine::{Clip, ClipConfig};
use burn::optim::AdamW;
use burn::optim::adaptor::OptimizerAdaptor;

use crate::dataset::Skipped;
use crate::eval::EvalReport;

/// One AdamW parameter group.
pub type Optim<B> = OptimizerAdaptor<AdamW, Clip<B>, B>;

/// Settings of a training run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    /// How taxa are captioned.
    pub text_type: TextType,
    /// Passes over the training photos.
    pub epochs: usize,
    /// Photos per optimiser step (the contrastive batch).
    pub batch_size: usize,
    /// Micro-batches per step: the batch's features are computed in this many pieces and
    /// the gradient accumulated, so large contrastive batches fit in memory with exactly the
    /// gradient of the full batch.
    pub accumulation: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Linear warmup, in steps.
    pub warmup: usize,
    /// AdamW's decoupled weight decay, on weights with two or more dimensions.
    pub weight_decay: f64,
    /// Seed of the initialisation, data order, augmentation and text-type draws.
    pub seed: u64,
    /// Write a checkpoint every this many steps (0: at the end of each epoch only).
    pub checkpoint_every: usize,
    /// Few-shot sizes evaluated on the val split each epoch.
    pub eval_shots: Vec<usize>,
    /// Few-shot seeds.
    pub eval_seeds: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            text_type: TextType::Mixed,
            epochs: 10,
            batch_size: 64,
            accumulation: 1,
            lr: 1e-3,
            warmup: 50,
            weight_decay: 0.2,
            seed: 0,
            checkpoint_every: 0,
            eval_shots: vec![1, 5],
            eval_seeds: 5,
        }
    }
}

/// Where the weights of a new run come from.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelInit {
    /// A randomly initialised model of this architecture.
    Config(ClipConfig),
    /// An Arbor model directory (e.g. an imported open_clip checkpoint) to fine-tune.
    Pretrained(PathBuf),
}

/// Metrics of one epoch (a line of `metrics.jsonl`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch.
    pub epoch: usize,
    /// Optimiser steps done so far.
    pub step: usize,
    /// Mean training loss over the epoch's steps.
    pub loss: f64,
    /// Learning rate of the epoch's last step.
    pub lr: f64,
    /// `exp(logit_scale)` at the end of the epoch.
    pub logit_scale: f64,
    /// Training throughput over the epoch.
    pub images_per_second: f64,
    /// Evaluation on the val split, when it has photos.
    pub val: Option<EvalReport>,
}

/// Everything a checkpoint needs besides tensors.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunState {
    /// The run's settings.
    pub config: TrainConfig,
    /// The architecture.
    pub model: ClipConfig,
    /// Steps done.
    pub step: usize,
    /// Steps of the whole run.
    pub total_steps: usize,
    /// Training photos the run was planned on (a resumed run must see the same data).
    pub train_images: usize,
    /// Loss sum and step count of the epoch in progress.
    pub epoch_loss: (f64, usize),
    /// Metrics of the finished epochs.
    pub history: Vec<EpochMetrics>,
}

/// Progress reports from [`train`].
#[derive(Debug)]
pub enum Event<'a> {
    /// The run is about to take steps `first_step..total_steps`.
    Start {
        /// First step to take (non-zero when resuming).
        first_step: usize,
        /// Steps of the whole run.
        total_steps: usize,
        /// Photos in the train split.
        train_images: usize,
        /// Photos in the val split.
        val_images: usize,
    },
    /// A step finished.
    Step {
        /// Steps done.
        step: usize,
        /// Its loss.
        loss: f64,
        /// Its learning rate.
        lr: f64,
    },
    /// An epoch finished (and was evaluated).
    Epoch(&'a EpochMetrics),
    /// A checkpoint was written after this many steps.
    Checkpoint(usize),
}

/// How to run: fresh or resumed, and whether to stop early.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunOptions {
    /// Continue from the checkpoint in the output folder (its settings win).
    pub resume: bool,
    /// Stop (after checkpointing) once this many steps are done, as if interrupted.
    pub stop_after: Option<usize>,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct TrainReport {
    /// The output folder: a model directory once `finished`.
    pub out: PathBuf,
    /// Steps done.
    pub steps: usize,
    /// Whether every step was taken and the model written.
    pub finished: bool,
    /// Metrics per epoch.
    pub history: Vec<EpochMetrics>,
    /// Manifest rows and photos that were skipped.
    pub skipped: Vec<Skipped>,
}
