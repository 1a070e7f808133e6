//! Arbor's trainer: BioCLIP's contrastive training in burn, and the synthetic tree of life
//! it can be tried on without downloading anything.
//!
//! A dataset is a folder of photos with a `manifest.csv` of taxa and splits ([`Dataset`]);
//! [`synth::World`] generates one whose species inherit their looks down the lineage.
//! [`train()`] fits a CLIP model with BioCLIP's caption text types (`mixed` by default), the
//! symmetric InfoNCE loss, AdamW and a warmup + cosine schedule, checkpointing so that an
//! interrupted run resumes exactly; its output folder is an ordinary Arbor model directory.
//! [`evaluate`] scores a model the way the paper does: zero-shot accuracy at every rank for
//! seen and unseen species, and few-shot (SimpleShot) accuracy.

#![warn(missing_docs)]

pub mod augment;
pub mod checkpoint;
pub mod dataset;
pub mod error;
pub mod eval;
pub mod loss;
pub mod report;
pub mod run;
pub mod schedule;
pub mod synth;
pub mod train;

pub use dataset::{Dataset, ImageSet, MANIFEST, Sample, Skipped, Split};
pub use error::{Result, TrainError};
pub use eval::{EvalReport, EvalSettings, FewShotSummary, RankAccuracy, ZeroShot, evaluate};
pub use run::{EpochMetrics, Event, ModelInit, Optim, RunOptions, RunState, TrainConfig, TrainReport};
pub use schedule::Schedule;
pub use synth::{SynthConfig, SynthSummary, World};
pub use train::train;
