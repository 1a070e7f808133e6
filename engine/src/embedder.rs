//! From photos and words to vectors: the model with its tokenizer and its
//! image pipeline, batched, with image decoding overlapped with inference.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use rayon::prelude::*;

use arbor_kernels::Precision;

use crate::captions::Templates;
use crate::error::{EngineError, Result};
use crate::identity::ModelIdentity;
use crate::model::{Clip, ClipConfig, Cpu, ImageTransform, Interpolation, ModelDir, ResizeMode};
use crate::preprocess::{OPENAI_MEAN, OPENAI_STD, Pipeline, PixelTensor, Preprocessor};
use crate::tokenizer::Tokenizer;

/// Texts per text-tower batch: long enough to amortise the per-call overhead,
/// short enough that a 13,000-label run shows progress.
pub const TEXT_BATCH: usize = 256;

/// A loaded model ready to embed images and texts. `Send + Sync`.
pub struct Embedder<B: Backend = Cpu> {
    model: Clip<B>,
    device: B::Device,
    tokenizer: Tokenizer,
    preprocessor: Preprocessor,
    identity: ModelIdentity,
    logit_scale: f32,
}

impl Embedder<Cpu> {
    /// Opens an Arbor model directory on the CPU, with the image pipeline its
    /// manifest names.
    pub fn open(model_dir: impl AsRef<Path>) -> Result<Self> {
        Self::open_on(model_dir, &Default::default())
    }

    /// Opens a model directory on the CPU with `pipeline` instead of the one its manifest
    /// names (so a model whose own pipeline cannot be built still opens with another).
    pub fn open_with_pipeline(model_dir: impl AsRef<Path>, pipeline: Option<Pipeline>) -> Result<Self> {
        Self::open_on_with(model_dir, &Default::default(), pipeline)
    }
}

impl<B: Backend> Embedder<B> {
    /// Opens a model directory on a given device.
    pub fn open_on(model_dir: impl AsRef<Path>, device: &B::Device) -> Result<Self> {
        Self::open_on_with(model_dir, device, None)
    }

    fn open_on_with(model_dir: impl AsRef<Path>, device: &B::Device, pipeline: Option<Pipeline>) -> Result<Self> {
        let dir = ModelDir::open(model_dir)?;
        let model = dir.load::<B>(device)?;
        let pipeline = pipeline.unwrap_or(match dir.manifest().image_transform {
            ImageTransform::Squash => Pipeline::Squash,
            ImageTransform::OpenClip => Pipeline::Crop,
        });
        Self::from_model(model, device, dir.manifest().weights_sha256.clone())?.with_pipeline(pipeline)
    }

    /// Wraps a model already in memory (a trainer's, between epochs), with the `squash`
    /// pipeline. `weights_sha256` names the weights (see [`ModelIdentity`]).
    pub fn from_model(model: Clip<B>, device: &B::Device, weights_sha256: String) -> Result<Self> {
        let config = model.config();
        let preprocessor = pipeline_for(config, Pipeline::Squash)?;
        let tokenizer = Tokenizer::new(config.text.context_length)?;
        let logit_scale = scalar(model.logit_multiplier())?;
        let identity = ModelIdentity::new(&weights_sha256, config, Pipeline::Squash);
        Ok(Embedder { model, device: device.clone(), tokenizer, preprocessor, identity, logit_scale })
    }

    /// Switches the image pipeline (`squash` is pybioclip's, `crop` open_clip's).
    ///
    /// # Errors
    /// `crop` for a model whose `preprocess_cfg` asks for a resize this pipeline does not
    /// implement (bilinear, or a longest-side / squash resize).
    pub fn with_pipeline(mut self, pipeline: Pipeline) -> Result<Self> {
        let config = self.model.config();
        self.preprocessor = pipeline_for(config, pipeline)?.with_exif_orientation(self.preprocessor.exif_orientation());
        self.identity = ModelIdentity::new(self.identity.weights(), config, pipeline);
        Ok(self)
    }

    /// Runs the towers' matrix products in `precision` ([`Clip::with_precision`]): f32 is the
    /// reference; bf16 and int8 trade a little fidelity for speed (see the README).
    ///
    /// # Errors
    /// bf16 or int8 on a GPU backend.
    pub fn with_precision(mut self, precision: Precision) -> Result<Self> {
        self.model = self.model.with_precision(precision)?;
        Ok(self)
    }

    /// The precision the towers run in.
    pub fn precision(&self) -> Precision {
        self.model.precision()
    }

    /// Applies EXIF orientation before preprocessing (the reference does not).
    pub fn with_exif_orientation(mut self, on: bool) -> Self {
        self.preprocessor = self.preprocessor.clone().with_exif_orientation(on);
        self
    }

    /// What this model's embeddings depend on: caches and stored embeddings key on it.
    pub fn identity(&self) -> &ModelIdentity {
        &self.identity
    }

    /// `exp(logit_scale)`, the factor on cosine similarities before a softmax.
    pub fn logit_scale(&self) -> f32 {
        self.logit_scale
    }

    /// Dimension of the joint embedding.
    pub fn dim(&self) -> usize {
        self.model.config().embed_dim
    }

    /// The image pipeline in use.
    pub fn preprocessor(&self) -> &Preprocessor {
        &self.preprocessor
    }

    /// The tokenizer in use.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The model.
    pub fn model(&self) -> &Clip<B> {
        &self.model
    }

    /// Image features (not normalised) of preprocessed images, row-major.
    pub fn embed_pixels(&self, pixels: &[PixelTensor]) -> Result<Vec<f32>> {
        if pixels.is_empty() {
            return Ok(Vec::new());
        }
        let s = self.preprocessor.size();
        let mut data = Vec::with_capacity(pixels.len() * 3 * s * s);
        for p in pixels {
            data.extend_from_slice(p.data());
        }
        let input = Tensor::<B, 4>::from_data(TensorData::new(data, [pixels.len(), 3, s, s]), &self.device);
        host(self.model.encode_image(input)?)
    }

    /// Image features of files, in batches, decoding the next batch on other
    /// threads while the model runs. `each(i, result)` is called in input
    /// order; a file that cannot be read gives an error for that file only.
    pub fn embed_files(
        &self,
        paths: &[PathBuf],
        batch_size: usize,
        mut each: impl FnMut(usize, Result<Vec<f32>>),
    ) -> Result<()> {
        self.embed_stream(paths.iter().cloned(), batch_size, |i, _, r| each(i, r))
    }

    /// [`Embedder::embed_files`] over a stream of paths (a walk under way, a pipe): at most
    /// two batches are held at a time, so memory does not grow with the number of files.
    /// `each(i, path, result)` is called in the stream's order.
    pub fn embed_stream(
        &self,
        paths: impl Iterator<Item = PathBuf> + Send,
        batch_size: usize,
        mut each: impl FnMut(usize, PathBuf, Result<Vec<f32>>),
    ) -> Result<()> {
        let batch_size = batch_size.max(1);
        let dim = self.dim();
        type Decoded = (usize, Vec<PathBuf>, Vec<Result<PixelTensor>>);
        let (tx, rx) = mpsc::sync_channel::<Decoded>(1);
        let preprocessor = &self.preprocessor;
        std::thread::scope(|scope| -> Result<()> {
            scope.spawn(move || {
                let mut paths = paths.peekable();
                let mut start = 0;
                while paths.peek().is_some() {
                    let chunk: Vec<PathBuf> = paths.by_ref().take(batch_size).collect();
                    let decoded: Vec<Result<PixelTensor>> =
                        chunk.par_iter().map(|p| preprocessor.load(p).map_err(EngineError::from)).collect();
                    let n = chunk.len();
                    if tx.send((start, chunk, decoded)).is_err() {
                        return;
                    }
                    start += n;
                }
            });
            for (start, chunk, decoded) in rx {
                let mut tensors = Vec::with_capacity(decoded.len());
                let failures: Vec<Option<EngineError>> = decoded
                    .into_iter()
                    .map(|r| match r {
                        Ok(t) => {
                            tensors.push(t);
                            None
                        }
                        Err(e) => Some(e),
                    })
                    .collect();
                let features = self.embed_pixels(&tensors)?;
                let mut rows = features.chunks_exact(dim).map(<[f32]>::to_vec);
                for (i, (failure, path)) in failures.into_iter().zip(chunk).enumerate() {
                    each(start + i, path, failure.map_or_else(|| Ok(rows.next().unwrap_or_default()), Err));
                }
            }
            Ok(())
        })
    }

    /// Text features (not normalised) of texts, row-major, in batches of [`TEXT_BATCH`].
    pub fn embed_texts(&self, texts: &[String]) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(texts.len() * self.dim());
        for chunk in texts.chunks(TEXT_BATCH) {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let ids = self.tokenizer.tokenize_batch(&refs);
            let ctx = self.tokenizer.context_length();
            let flat: Vec<i64> = ids.into_iter().flatten().map(i64::from).collect();
            let input = Tensor::<B, 2, Int>::from_data(TensorData::new(flat, [chunk.len(), ctx]), &self.device);
            out.extend(host(self.model.encode_text(input)?)?);
        }
        Ok(out)
    }

    /// Zero-shot embedding of labels: each label through the templates,
    /// every text embedding L2-normalised, averaged and re-normalised
    /// (pybioclip's and open_clip's recipe). Row-major, unit rows.
    pub fn embed_labels(
        &self,
        labels: &[String],
        templates: Templates,
        mut progress: impl FnMut(usize),
    ) -> Result<Vec<f32>> {
        let dim = self.dim();
        let per_label = templates.fill("").len();
        // Whole labels per batch, so a batch's texts average into finished rows.
        let labels_per_batch = (TEXT_BATCH / per_label).max(1);
        let mut out = Vec::with_capacity(labels.len() * dim);
        for chunk in labels.chunks(labels_per_batch) {
            let texts: Vec<String> = chunk.iter().flat_map(|l| templates.fill(l)).collect();
            let features = self.embed_texts(&texts)?;
            for rows in features.chunks_exact(per_label * dim) {
                let mut mean = vec![0f32; dim];
                for row in rows.chunks_exact(dim) {
                    let mut row = row.to_vec();
                    normalize_row(&mut row);
                    mean.iter_mut().zip(&row).for_each(|(m, x)| *m += x);
                }
                mean.iter_mut().for_each(|m| *m /= per_label as f32);
                normalize_row(&mut mean);
                out.extend(mean);
            }
            progress(chunk.len());
        }
        Ok(out)
    }
}

/// The preprocessor of `pipeline` for a model: pybioclip's squash always uses the OpenAI mean
/// and std at the tower's size (as pybioclip does for every tree-of-life model, whatever the
/// checkpoint's `preprocess_cfg` says); open_clip's crop follows the config, and refuses by name
/// what it does not implement rather than resize some other way.
fn pipeline_for(config: &ClipConfig, pipeline: Pipeline) -> Result<Preprocessor> {
    let pre = Preprocessor::new(pipeline, config.vision.image_size)?;
    match pipeline {
        Pipeline::Squash => Ok(pre.with_normalization(OPENAI_MEAN, OPENAI_STD)?),
        Pipeline::Crop => {
            let p = &config.preprocess;
            if p.interpolation != Interpolation::Bicubic || p.resize_mode != ResizeMode::Shortest {
                return Err(EngineError::Invalid(format!(
                    "preprocess_cfg asks for a {:?} {:?} resize; the crop pipeline implements open_clip's default \
                     (bicubic, shortest side, centre crop) only: use the squash pipeline",
                    p.interpolation, p.resize_mode
                )));
            }
            Ok(pre.with_normalization(p.mean, p.std)?)
        }
    }
}

/// Scales a row to unit length (rows of zeros stay zero).
pub fn normalize_row(row: &mut [f32]) {
    let norm = arbor_index::dot_f32(row, row).sqrt().max(1e-12);
    row.iter_mut().for_each(|x| *x /= norm);
}

/// Scales every `dim`-wide row of a row-major matrix to unit length.
pub fn normalize_rows(data: &mut [f32], dim: usize) {
    data.chunks_exact_mut(dim).for_each(normalize_row);
}

fn host<B: Backend, const D: usize>(t: Tensor<B, D>) -> Result<Vec<f32>> {
    Ok(crate::model::host_values(t)?)
}

fn scalar<B: Backend>(t: Tensor<B, 1>) -> Result<f32> {
    host(t)?.first().copied().ok_or_else(|| EngineError::Invalid("empty logit scale".into()))
}
