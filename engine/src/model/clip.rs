//! The whole CLIP model: both towers, the joint embedding and the logit scale.

use std::path::{Path, PathBuf};

use burn_store::{BurnToPyTorchAdapter, ModuleSnapshot};

use burn::module::{Module, Param};
use burn::nn::{Embedding, LayerNorm};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

use super::config::ClipConfig;
use super::error::ModelError;
use super::packed::{PackedTower, PrecisionPlan};
use super::params::{Init, ParamSource, RandomInit};
use super::state_dict::{StateDict, transpose};
pub use super::text::TextTrace;
use super::transformer::{Transformer, TransformerShape, layer_norm};
pub use super::vision::VisionTrace;
use super::vision::VisionTransformer;
use arbor_kernels::Precision;

/// open_clip's `CLIP` with a ViT image tower. Field names follow open_clip's state_dict
/// (burn calls LayerNorm's weight/bias gamma/beta and stores `nn.Linear` weights transposed,
/// which burn-store's PyTorch adapters translate).
#[derive(Module, Debug)]
pub struct Clip<B: Backend> {
    /// The image tower (`visual.*`).
    pub visual: VisionTransformer<B>,
    /// The text transformer (`transformer.*`).
    pub transformer: Transformer<B>,
    /// Token embeddings `[vocab_size, width]`.
    pub token_embedding: Embedding<B>,
    /// Learned text positions `[context_length, width]`.
    pub positional_embedding: Param<Tensor<B, 2>>,
    /// LayerNorm of the pooled text token.
    pub ln_final: LayerNorm<B>,
    /// Projection of text to the joint embedding `[width, embed_dim]`, used as `x @ proj`.
    pub text_projection: Param<Tensor<B, 2>>,
    /// The log of the logit multiplier (a torch scalar, stored here as shape `[1]`).
    pub logit_scale: Param<Tensor<B, 1>>,
    #[module(skip)]
    config: ClipConfig,
}

impl<B: Backend> Clip<B> {
    /// A randomly initialised model (open_clip's `init_parameters` scheme), for training from
    /// scratch and for benchmarks.
    ///
    /// # Errors
    /// The config is invalid.
    pub fn new(config: &ClipConfig, device: &B::Device) -> Result<Self, ModelError> {
        Self::build(config, &mut RandomInit { device, rng: None })
    }

    /// [`Clip::new`] drawn from a private generator seeded with `seed`: the same seed gives the
    /// same weights on every backend, even while other threads draw random numbers (training
    /// uses this so that runs are reproducible).
    ///
    /// # Errors
    /// The config is invalid.
    pub fn new_seeded(config: &ClipConfig, seed: u64, device: &B::Device) -> Result<Self, ModelError> {
        use rand::SeedableRng;
        Self::build(config, &mut RandomInit { device, rng: Some(rand_chacha::ChaCha8Rng::seed_from_u64(seed)) })
    }

    /// Builds the model from an open_clip state_dict, taking every tensor by its open_clip
    /// name.
    ///
    /// # Errors
    /// The config is invalid, or a tensor is missing, unexpected or of the wrong shape (the
    /// error names the file and the tensors).
    pub fn from_state_dict(config: &ClipConfig, state: StateDict, device: &B::Device) -> Result<Self, ModelError> {
        let mut source = state.into_source::<B>(device);
        let model = Self::build(config, &mut source)?;
        source.finish()?;
        Ok(model)
    }

    /// Reads an open_clip checkpoint (`.safetensors` or torch `.bin`) and builds the model.
    ///
    /// # Errors
    /// As [`StateDict::open`] and [`Clip::from_state_dict`].
    pub fn from_weights_file(
        config: &ClipConfig,
        path: impl AsRef<Path>,
        device: &B::Device,
    ) -> Result<Self, ModelError> {
        Self::from_state_dict(config, StateDict::open(path)?, device)
    }

    fn build(config: &ClipConfig, src: &mut impl ParamSource<B>) -> Result<Self, ModelError> {
        config.validate()?;
        let text = &config.text;
        let w = text.width;
        let shape = TransformerShape {
            width: w,
            heads: text.heads,
            layers: text.layers,
            mlp_width: text.mlp_width,
            activation: config.activation,
        };
        let token_embedding =
            Embedding { weight: src.param("token_embedding.weight", [text.vocab_size, w], Init::Normal(0.02))? };
        Ok(Self {
            visual: VisionTransformer::new(src, &config.vision, config.embed_dim, config.activation)?,
            transformer: Transformer::new(src, "transformer", &shape)?,
            token_embedding,
            positional_embedding: src.param("positional_embedding", [text.context_length, w], Init::Normal(0.01))?,
            ln_final: layer_norm(src, "ln_final", w)?,
            text_projection: src.param(
                "text_projection",
                [w, config.embed_dim],
                Init::Normal((w as f64).powf(-0.5)),
            )?,
            // open_clip's initial value, log(1/0.07).
            logit_scale: src.param("logit_scale", [1], Init::Constant((1.0_f64 / 0.07).ln()))?,
            config: config.clone(),
        })
    }

    /// The weights of `model` under open_clip's names, layouts and shapes (LayerNorm
    /// `weight`/`bias`, torch `[out, in]` linear weights, a 0-d `logit_scale`): what open_clip's
    /// `state_dict()` would hold. `path` is recorded as the tensors' origin for error messages.
    ///
    /// # Errors
    /// A tensor cannot be read back from the device.
    pub fn to_state_dict(&self, path: impl Into<PathBuf>) -> Result<StateDict, ModelError> {
        let path: PathBuf = path.into();
        let mut state = StateDict::empty(path.clone());
        for snapshot in self.collect(None, Some(Box::new(BurnToPyTorchAdapter)), false) {
            let name = snapshot.full_path();
            let data = snapshot.to_data().map_err(|e| ModelError::weights(&path, format!("tensor `{name}`: {e:?}")))?;
            let mut values = data
                .convert::<f32>()
                .into_vec::<f32>()
                .map_err(|e| ModelError::weights(&path, format!("tensor `{name}`: {e:?}")))?;
            let mut shape = snapshot.shape.to_vec();
            if name == "logit_scale" {
                shape = Vec::new(); // a torch scalar
            } else if name.ends_with(".in_proj_weight") {
                // Held as `[width, 3·width]` for the GEMM; torch's layout is the transpose.
                values = transpose(&values, shape[0], shape[1]);
                shape.reverse();
            }
            state.insert(name, shape, values);
        }
        Ok(state)
    }

    /// Runs the big matrix products of both towers (q/k/v, attention output, both MLP layers,
    /// the patch embedding) in `precision` from now on, with Arbor's plan for it
    /// ([`PrecisionPlan::for_precision`]). The weights are converted and packed once, here.
    /// [`Precision::F32`] returns to burn's own float32 ops, the reference numerics.
    ///
    /// The packed products use the weights as they are now: call this after loading or
    /// training, not before.
    ///
    /// # Errors
    /// [`ModelError::Precision`] for bf16 or int8 on a backend other than the CPU's.
    pub fn with_precision(mut self, precision: Precision) -> Result<Self, ModelError> {
        if precision == Precision::F32 {
            self.visual.set_packed_patch_embed(None)?;
            self.visual.transformer.set_packed(None);
            self.transformer.set_packed(None);
            return Ok(self);
        }
        let vision = PrecisionPlan::for_precision(precision, self.config.vision.layers);
        let text = PrecisionPlan::for_precision(precision, self.config.text.layers);
        self.with_precision_plans(&vision, &text)
    }

    /// [`Clip::with_precision`] with a plan per tower (for measuring which products tolerate
    /// which precision). An all-f32 plan runs the packed f32 kernels, not burn's ops (the tests
    /// compare the two).
    ///
    /// # Errors
    /// As [`Clip::with_precision`], and [`ModelError::InvalidInput`] if a plan's block count
    /// differs from its tower's.
    pub fn with_precision_plans(mut self, vision: &PrecisionPlan, text: &PrecisionPlan) -> Result<Self, ModelError> {
        let all_f32 = |plan: &PrecisionPlan| {
            plan.patch_embed == Precision::F32 && plan.blocks.iter().flatten().all(|&p| p == Precision::F32)
        };
        let flex = std::any::TypeId::of::<B::FloatTensorPrimitive>() == std::any::TypeId::of::<burn_flex::FlexTensor>();
        if !flex && all_f32(vision) && all_f32(text) {
            return self.with_precision(Precision::F32);
        }
        if !flex {
            let precision = vision.coarsest().coarser(text.coarsest());
            return Err(ModelError::Precision {
                precision,
                message: "bf16 and int8 run on the CPU backend only; on a GPU use f32".into(),
            });
        }
        self.visual.set_packed_patch_embed(Some(vision.patch_embed))?;
        let packed = PackedTower::new(&self.visual.transformer, vision)?;
        self.visual.transformer.set_packed(Some(packed));
        let packed = PackedTower::new(&self.transformer, text)?;
        self.transformer.set_packed(Some(packed));
        Ok(self)
    }

    /// The coarsest precision any of the towers' products runs in ([`Clip::with_precision`]).
    pub fn precision(&self) -> Precision {
        let tower = |t: &super::transformer::Transformer<B>| t.packed().map_or(Precision::F32, |p| p.precision());
        tower(&self.visual.transformer).coarser(tower(&self.transformer))
    }

    /// The configuration the model was built from.
    pub fn config(&self) -> &ClipConfig {
        &self.config
    }

    /// Image features `[batch, embed_dim]` (not normalised, like open_clip's `encode_image`)
    /// of preprocessed `pixels` `[batch, 3, image_size, image_size]`.
    ///
    /// # Errors
    /// [`ModelError::InvalidInput`] when `pixels` has another shape.
    pub fn encode_image(&self, pixels: Tensor<B, 4>) -> Result<Tensor<B, 2>, ModelError> {
        self.visual.check_input(&pixels)?;
        self.visual.forward(pixels)
    }

    /// [`Clip::encode_image`], also returning every intermediate activation of the image
    /// tower (for checking the port against open_clip).
    ///
    /// # Errors
    /// As [`Clip::encode_image`].
    pub fn trace_image(&self, pixels: Tensor<B, 4>) -> Result<VisionTrace<B>, ModelError> {
        self.visual.check_input(&pixels)?;
        self.visual.forward_traced(pixels)
    }

    /// The raw `logit_scale` parameter (open_clip's `model.logit_scale`).
    pub fn logit_scale(&self) -> Tensor<B, 1> {
        self.logit_scale.val()
    }

    /// `exp(logit_scale)`: the factor applied to cosine similarities to get logits.
    pub fn logit_multiplier(&self) -> Tensor<B, 1> {
        self.logit_scale.val().exp()
    }

    /// CLIP logits `[images, texts]`: `exp(logit_scale) · normalize(images) · normalize(texts)ᵀ`,
    /// open_clip's `logits_per_image`.
    pub fn logits(&self, image_features: Tensor<B, 2>, text_features: Tensor<B, 2>) -> Tensor<B, 2> {
        let cosine = normalize(image_features).matmul(normalize(text_features).transpose());
        cosine * self.logit_multiplier().unsqueeze::<2>()
    }
}

/// The names of every tensor open_clip's `state_dict()` holds for a model of `config`: what an
/// import keeps (anything else in a checkpoint, such as BioCLIP 2's `visual.continual_proj`, is
/// named and dropped). Kept in step with [`Clip`]'s module tree by a test.
pub fn tensor_names(config: &ClipConfig) -> Vec<String> {
    const BLOCK: [&str; 12] = [
        "ln_1.weight",
        "ln_1.bias",
        "attn.in_proj_weight",
        "attn.in_proj_bias",
        "attn.out_proj.weight",
        "attn.out_proj.bias",
        "ln_2.weight",
        "ln_2.bias",
        "mlp.c_fc.weight",
        "mlp.c_fc.bias",
        "mlp.c_proj.weight",
        "mlp.c_proj.bias",
    ];
    const TOWERS: [&str; 14] = [
        "visual.conv1.weight",
        "visual.class_embedding",
        "visual.positional_embedding",
        "visual.ln_pre.weight",
        "visual.ln_pre.bias",
        "visual.ln_post.weight",
        "visual.ln_post.bias",
        "visual.proj",
        "token_embedding.weight",
        "positional_embedding",
        "ln_final.weight",
        "ln_final.bias",
        "text_projection",
        "logit_scale",
    ];
    let blocks = |prefix: &'static str, layers: usize| {
        (0..layers).flat_map(move |i| BLOCK.iter().map(move |p| format!("{prefix}.resblocks.{i}.{p}")))
    };
    TOWERS
        .iter()
        .map(|n| n.to_string())
        .chain(blocks("visual.transformer", config.vision.layers))
        .chain(blocks("transformer", config.text.layers))
        .collect()
}

/// Divides every row by its L2 norm (at least 1e-12), like torch's `F.normalize(x, dim=-1)`.
pub fn normalize<B: Backend>(features: Tensor<B, 2>) -> Tensor<B, 2> {
    let norm = features.clone().square().sum_dim(1).sqrt().clamp_min(1e-12);
    features / norm
}

/// A tensor's values on the host, as float32 in row-major order.
pub(crate) fn host_values<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Result<Vec<f32>, ModelError> {
    tensor.into_data().convert::<f32>().into_vec::<f32>().map_err(|e| ModelError::InvalidInput {
        input: "tensor",
        message: format!("cannot read it to the host: {e:?}"),
    })
}

/// Decoded token ids, kept on the host for validation and end-of-text lookup.
pub(crate) type HostIds = (Vec<i64>, [usize; 2]);

/// Reads token ids `[batch, length]` to the host.
pub(crate) fn host_ids<B: Backend>(ids: &Tensor<B, 2, Int>) -> Result<HostIds, ModelError> {
    let dims = ids.dims();
    let values = ids
        .to_data()
        .convert::<i64>()
        .into_vec::<i64>()
        .map_err(|e| ModelError::InvalidInput { input: "token ids", message: format!("cannot read them: {e:?}") })?;
    Ok((values, dims))
}
