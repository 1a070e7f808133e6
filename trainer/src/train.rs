//! The training loop: BioCLIP's recipe (open_clip's CLIP training) in burn.
//!
//! Each step draws a batch from a seeded per-epoch permutation of the training photos,
//! augments them with `RandomResizedCrop`, captions them with the run's text type (`mixed`
//! draws one type per step), and minimises the symmetric InfoNCE loss with AdamW under a
//! warmup + cosine schedule. Every random draw is a pure function of `(seed, step)`, so a
//! run resumed from a checkpoint (model, optimiser moments, step) takes exactly the steps
//! the uninterrupted run would have taken.

use std::path::Path;
use std::time::Instant;

use arbor_engine::{Clip, ClipConfig, ModelDir};
use arbor_engine::{Embedder, Tokenizer};
use arbor_engine::{MAX_PIXELS, Pipeline, PixelTensor, Preprocessor};
use burn::module::{AutodiffModule, Module, ModuleVisitor, Param, ParamId};
use burn::optim::{AdamWConfig, GradientsAccumulator, GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::augment::random_resized_crop;
use crate::checkpoint;
use crate::dataset::{Dataset, ImageSet, Split};
use crate::error::{Result, TrainError};
use crate::eval::{EvalSettings, evaluate};
use crate::loss::clip_loss;
use crate::report;
use crate::run::{EpochMetrics, Event, ModelInit, Optim, RunOptions, RunState, TrainConfig, TrainReport};
use crate::schedule::Schedule;

/// open_clip clamps the learnable temperature so logits never exceed 100 × cosine.
const MAX_LOGIT_SCALE: f32 = 4.605_170_2; // ln 100

/// Trains a model on the dataset folder `data` and writes it, with `metrics.jsonl`, charts and
/// checkpoints, into `out`.
///
/// # Errors
/// Unusable data or settings, `out` holding another run (without `resume`), a checkpoint from
/// another dataset, or a failing write.
pub fn train<B: AutodiffBackend>(
    data: &Path,
    init: &ModelInit,
    config: &TrainConfig,
    out: &Path,
    options: &RunOptions,
    device: &B::Device,
    observer: &mut dyn FnMut(Event<'_>),
) -> Result<TrainReport> {
    let ckpt = checkpoint::path(out);
    let resumed = if options.resume && ckpt.exists() { Some(checkpoint::read_state(&ckpt)?) } else { None };
    if resumed.is_none() && (ckpt.exists() || out.join(ModelDir::MANIFEST).exists()) {
        return Err(TrainError::Invalid(format!(
            "{}: already holds a training run; pass --resume to continue it or choose a new folder",
            out.display()
        )));
    }
    let config = resumed.as_ref().map_or(config, |s| &s.config).clone();
    validate(&config)?;
    std::fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;

    let mut dataset = Dataset::open(data)?;
    let train_set = dataset.load_images(Split::Train, MAX_PIXELS);
    let val_set = dataset.load_images(Split::Val, MAX_PIXELS);
    let steps_per_epoch = train_set.len() / config.batch_size;
    if steps_per_epoch == 0 {
        return Err(TrainError::Invalid(format!(
            "{}: {} training photos cannot fill one batch of {}; lower --batch-size",
            data.display(),
            train_set.len(),
            config.batch_size
        )));
    }
    let total_steps = steps_per_epoch * config.epochs;

    let (model_config, model) = match (&resumed, init) {
        (Some(state), _) => (state.model.clone(), Clip::new_seeded(&state.model, config.seed, device)?),
        (None, ModelInit::Config(c)) => (c.clone(), Clip::new_seeded(c, config.seed, device)?),
        (None, ModelInit::Pretrained(dir)) => {
            let dir = ModelDir::open(dir)?;
            (dir.config().clone(), dir.load::<B>(device)?)
        }
    };
    let optims = optimizers(config.weight_decay);
    let (mut state, mut model, mut optims) = match resumed {
        Some(state) => {
            if state.train_images != train_set.len() {
                return Err(TrainError::Checkpoint {
                    path: ckpt,
                    message: format!(
                        "planned on {} training photos, the data now has {}",
                        state.train_images,
                        train_set.len()
                    ),
                });
            }
            let (model, optims) = checkpoint::load(&ckpt, model, optims, device)?;
            (state, model, optims)
        }
        None => {
            let state = RunState {
                config: config.clone(),
                model: model_config.clone(),
                step: 0,
                total_steps,
                train_images: train_set.len(),
                epoch_loss: (0.0, 0),
                history: Vec::new(),
            };
            (state, model, optims)
        }
    };
    let mut batcher = Batcher::new(&model_config, &config)?;
    let schedule = Schedule { base_lr: config.lr, warmup: config.warmup, total: total_steps };
    observer(Event::Start {
        first_step: state.step,
        total_steps,
        train_images: train_set.len(),
        val_images: val_set.len(),
    });

    let mut epoch_start = Instant::now();
    let mut epoch_images = 0usize;
    while state.step < total_steps {
        let step = state.step;
        let (pixels, ids) = batcher.batch::<B>(&train_set, step, steps_per_epoch, device)?;
        let lr = schedule.lr(step);
        let loss;
        (model, loss) = optimizer_step(model, &mut optims, pixels, ids, lr, config.accumulation)?;
        state.step += 1;
        state.epoch_loss = (state.epoch_loss.0 + loss, state.epoch_loss.1 + 1);
        epoch_images += config.batch_size;
        observer(Event::Step { step: state.step, loss, lr });

        let epoch_done = state.step % steps_per_epoch == 0;
        if epoch_done {
            let seconds = epoch_start.elapsed().as_secs_f64();
            let metrics = end_epoch(&model, &state, &dataset, &val_set, lr, epoch_images as f64 / seconds.max(1e-9))?;
            state.history.push(metrics);
            state.epoch_loss = (0.0, 0);
            report::write(out, &state.history)?;
            if let Some(last) = state.history.last() {
                observer(Event::Epoch(last));
            }
            (epoch_start, epoch_images) = (Instant::now(), 0);
        }
        let every = if config.checkpoint_every == 0 { steps_per_epoch } else { config.checkpoint_every };
        let stopping = options.stop_after.is_some_and(|n| state.step >= n);
        if state.step % every == 0 || stopping || state.step == total_steps {
            checkpoint::save(&ckpt, &state, &model, &optims)?;
            observer(Event::Checkpoint(state.step));
        }
        if stopping && state.step < total_steps {
            return Ok(TrainReport {
                out: out.to_owned(),
                steps: state.step,
                finished: false,
                history: state.history,
                skipped: dataset.skipped().to_vec(),
            });
        }
    }
    let weights = model.to_state_dict(out.join(ModelDir::WEIGHTS))?;
    ModelDir::write_into(&weights, model_config, &format!("arbor train ({})", config.text_type), out)?;
    write_training_json(out, &state, data)?;
    Ok(TrainReport {
        out: out.to_owned(),
        steps: state.step,
        finished: true,
        history: state.history,
        skipped: dataset.skipped().to_vec(),
    })
}

fn validate(config: &TrainConfig) -> Result<()> {
    let problem = if config.epochs == 0 {
        "--epochs must be at least 1"
    } else if config.batch_size < 2 {
        "--batch-size must be at least 2 (a contrastive batch needs negatives)"
    } else if config.accumulation == 0 || !config.batch_size.is_multiple_of(config.accumulation) {
        "--accumulation must divide --batch-size"
    } else if !(config.lr.is_finite() && config.lr > 0.0) {
        "--lr must be a positive number"
    } else if !(config.weight_decay.is_finite() && config.weight_decay >= 0.0) {
        "--weight-decay must be zero or positive"
    } else {
        return Ok(());
    };
    Err(TrainError::Invalid(problem.to_owned()))
}

/// open_clip's AdamW (betas 0.9/0.98, eps 1e-6) for the two parameter groups: with weight
/// decay, and without (see [`optimizer_step`]).
pub fn optimizers<B: AutodiffBackend>(weight_decay: f64) -> [Optim<B>; 2] {
    let adamw =
        |wd: f64| AdamWConfig::new().with_beta_1(0.9).with_beta_2(0.98).with_epsilon(1e-6).with_weight_decay(wd as f32);
    [adamw(weight_decay).init(), adamw(0.0).init()]
}

/// One optimiser step on a batch (`pixels` `[n, 3, s, s]`, caption ids `[n, context]`): the
/// contrastive loss's gradients (accumulated over `accumulation` micro-batches), AdamW at
/// `lr` on each parameter group, then open_clip's clamp of the temperature at ln 100.
/// Returns the updated model and the batch loss.
///
/// # Errors
/// The inputs do not fit the model, or the loss is not finite.
pub fn optimizer_step<B: AutodiffBackend>(
    model: Clip<B>,
    optims: &mut [Optim<B>; 2],
    pixels: Tensor<B, 4>,
    ids: Tensor<B, 2, Int>,
    lr: f64,
    accumulation: usize,
) -> Result<(Clip<B>, f64)> {
    let groups = ParamGroups::of(&model);
    let (loss, [decay, other]) = step_gradients(&model, pixels, ids, accumulation, &groups)?;
    let model = optims[0].step(lr, model, decay);
    let mut model = optims[1].step(lr, model, other);
    model.logit_scale =
        model.logit_scale.map(|t| Tensor::from_inner(t.inner().clamp(0.0, MAX_LOGIT_SCALE)).require_grad());
    Ok((model, loss))
}

/// open_clip's split of parameters into AdamW groups: weight decay on tensors of two or more
/// dimensions (weights, embeddings, projections), none on gains, biases, the class embedding
/// and the logit scale.
struct ParamGroups {
    decay: Vec<ParamId>,
    other: Vec<ParamId>,
}

impl ParamGroups {
    fn of<B: Backend>(model: &Clip<B>) -> Self {
        let mut groups = ParamGroups { decay: Vec::new(), other: Vec::new() };
        model.visit(&mut groups);
        groups
    }
}

impl<B: Backend> ModuleVisitor<B> for ParamGroups {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if D >= 2 { self.decay.push(param.id) } else { self.other.push(param.id) }
    }
}

/// The loss of one step and its gradients per parameter group. With `accumulation` > 1 the
/// batch's features are first computed without keeping graphs, then each micro-batch is
/// recomputed with its graph and differentiated against the others' cached features
/// (open_clip's `accum_freq`): the summed gradients are those of the full-batch loss.
fn step_gradients<B: AutodiffBackend>(
    model: &Clip<B>,
    pixels: Tensor<B, 4>,
    ids: Tensor<B, 2, Int>,
    accumulation: usize,
    groups: &ParamGroups,
) -> Result<(f64, [GradientsParams; 2])> {
    let split = |mut grads: B::Gradients| {
        [
            GradientsParams::from_params(&mut grads, model, &groups.decay),
            GradientsParams::from_params(&mut grads, model, &groups.other),
        ]
    };
    if accumulation == 1 {
        let loss = clip_loss(model.encode_image(pixels)?, model.encode_text(ids)?, model.logit_multiplier());
        let value = scalar(&loss)?;
        return Ok((value, split(loss.backward())));
    }
    let pixel_chunks = pixels.chunk(accumulation, 0);
    let id_chunks = ids.chunk(accumulation, 0);
    let mut images = Vec::with_capacity(accumulation);
    let mut texts = Vec::with_capacity(accumulation);
    for (p, i) in pixel_chunks.iter().zip(&id_chunks) {
        images.push(model.encode_image(p.clone())?.detach());
        texts.push(model.encode_text(i.clone())?.detach());
    }
    let value = scalar(&clip_loss(
        Tensor::cat(images.clone(), 0),
        Tensor::cat(texts.clone(), 0),
        model.logit_multiplier().detach(),
    ))?;
    let mut accumulators = [GradientsAccumulator::new(), GradientsAccumulator::new()];
    for (j, (p, i)) in pixel_chunks.into_iter().zip(id_chunks).enumerate() {
        let (mut imgs, mut txts) = (images.clone(), texts.clone());
        imgs[j] = model.encode_image(p)?;
        txts[j] = model.encode_text(i)?;
        // The temperature's gradient is taken once, not once per micro-batch.
        let scale = if j == 0 { model.logit_multiplier() } else { model.logit_multiplier().detach() };
        let loss = clip_loss(Tensor::cat(imgs, 0), Tensor::cat(txts, 0), scale);
        for (acc, grads) in accumulators.iter_mut().zip(split(loss.backward())) {
            acc.accumulate(model, grads);
        }
    }
    let [mut a, mut b] = accumulators;
    Ok((value, [a.grads(), b.grads()]))
}

fn scalar<B: Backend>(loss: &Tensor<B, 1>) -> Result<f64> {
    let value: f32 = loss.clone().into_scalar().elem();
    if value.is_finite() {
        Ok(f64::from(value))
    } else {
        Err(TrainError::Invalid(format!("the loss became {value}; lower --lr")))
    }
}

/// Turns training photos into model inputs for a step.
struct Batcher {
    preprocessor: Preprocessor,
    tokenizer: Tokenizer,
    config: TrainConfig,
    /// The current epoch and its permutation of the photos, drawn once per epoch.
    order: Option<(usize, Vec<usize>)>,
}

impl Batcher {
    fn new(model: &ClipConfig, config: &TrainConfig) -> Result<Self> {
        let preprocessor = Preprocessor::new(Pipeline::Squash, model.vision.image_size)
            .and_then(|p| p.with_normalization(model.preprocess.mean, model.preprocess.std))
            .map_err(arbor_engine::EngineError::from)?;
        let tokenizer = Tokenizer::new(model.text.context_length).map_err(arbor_engine::EngineError::from)?;
        Ok(Batcher { preprocessor, tokenizer, config: config.clone(), order: None })
    }

    /// The photos of `step`: a slice of the epoch's permutation of `0..n`.
    fn indices(&mut self, n: usize, step: usize, steps_per_epoch: usize) -> Vec<usize> {
        let (epoch, within) = (step / steps_per_epoch, step % steps_per_epoch);
        if self.order.as_ref().is_none_or(|(drawn, _)| *drawn != epoch) {
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(mix(self.config.seed, epoch as u64, 0x0e90c)));
            self.order = Some((epoch, order));
        }
        let b = self.config.batch_size;
        self.order.as_ref().map_or_else(Vec::new, |(_, order)| order[within * b..(within + 1) * b].to_vec())
    }

    fn batch<B: Backend>(
        &mut self,
        set: &ImageSet,
        step: usize,
        steps_per_epoch: usize,
        device: &B::Device,
    ) -> Result<(Tensor<B, 4>, Tensor<B, 2, Int>)> {
        let indices = self.indices(set.len(), step, steps_per_epoch);
        let seed = self.config.seed;
        let pixels: Vec<PixelTensor> = indices
            .par_iter()
            .map(|&i| {
                let mut rng = ChaCha8Rng::seed_from_u64(mix(seed, step as u64, i as u64));
                self.preprocessor.process(&random_resized_crop(&set.images[i], &mut rng))
            })
            .collect();
        let draw = ChaCha8Rng::seed_from_u64(mix(seed, step as u64, u64::MAX)).next_u64();
        let text_type = self.config.text_type.resolve(draw);
        let captions: Vec<String> = indices
            .iter()
            .map(|&i| text_type.caption(&set.samples[i].taxon.lineage, &set.samples[i].taxon.common_name))
            .collect();
        let refs: Vec<&str> = captions.iter().map(String::as_str).collect();
        let ids: Vec<i64> = self.tokenizer.tokenize_batch(&refs).into_iter().flatten().map(i64::from).collect();
        let size = self.preprocessor.size();
        let flat: Vec<f32> = pixels.iter().flat_map(|p| p.data().iter().copied()).collect();
        let n = indices.len();
        Ok((
            Tensor::from_data(TensorData::new(flat, [n, 3, size, size]), device),
            Tensor::from_data(TensorData::new(ids, [n, self.tokenizer.context_length()]), device),
        ))
    }
}

/// A seed for one draw, from the run seed and the draw's coordinates (splitmix64).
fn mix(seed: u64, a: u64, b: u64) -> u64 {
    let mut z = seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn end_epoch<B: AutodiffBackend>(
    model: &Clip<B>,
    state: &RunState,
    dataset: &Dataset,
    val: &ImageSet,
    lr: f64,
    images_per_second: f64,
) -> Result<EpochMetrics> {
    let device = model.devices().into_iter().next().unwrap_or_default();
    let embedder = Embedder::from_model(model.valid(), &device, "training".into())?;
    let seen = dataset.seen_in_training();
    let settings = EvalSettings {
        taxa: dataset.taxa(),
        seen: &seen,
        text_type: state.config.text_type,
        shots: &state.config.eval_shots,
        seeds: state.config.eval_seeds,
    };
    let val = if val.is_empty() { None } else { Some(evaluate(&embedder, val, &settings)?) };
    Ok(EpochMetrics {
        epoch: state.history.len() + 1,
        step: state.step,
        loss: state.epoch_loss.0 / state.epoch_loss.1.max(1) as f64,
        lr,
        logit_scale: f64::from(embedder.logit_scale()),
        images_per_second,
        val,
    })
}

fn write_training_json(out: &Path, state: &RunState, data: &Path) -> Result<()> {
    let json = serde_json::json!({
        "data": data,
        "config": state.config,
        "steps": state.step,
        "final": state.history.last(),
    });
    let path = out.join("training.json");
    arbor_index::write_atomically(&path, |w| std::io::Write::write_all(w, format!("{json:#}\n").as_bytes()))?;
    Ok(())
}
