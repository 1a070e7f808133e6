//! The image tower: open_clip's `VisionTransformer` (class token, `ln_pre`, transformer,
//! `ln_post` on the class token, `@ proj`).

use burn::module::{Module, Param};
use burn::nn::LayerNorm;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use super::clip::host_values as host;
use super::config::{Activation, VisionConfig};
use super::error::ModelError;
use super::packed::pack_patch_embed;
use super::params::{Init, ParamSource};
use super::transformer::{Transformer, TransformerShape, affine, layer_norm};
use arbor_kernels::{Activation as KernelActivation, PackedLinear, Precision};

/// `visual.conv1`: the patch embedding, a bias-free convolution with stride = kernel = patch
/// size, weight `[width, 3, patch, patch]` as in torch.
#[derive(Module, Debug)]
pub struct PatchConv<B: Backend> {
    /// The convolution kernel, torch layout.
    pub weight: Param<Tensor<B, 4>>,
}

/// The image tower (`visual.*` in open_clip's state_dict).
#[derive(Module, Debug)]
pub struct VisionTransformer<B: Backend> {
    /// Patch embedding.
    pub conv1: PatchConv<B>,
    /// The class token `[width]`, prepended to the patches.
    pub class_embedding: Param<Tensor<B, 1>>,
    /// Learned positions `[1 + grid², width]`.
    pub positional_embedding: Param<Tensor<B, 2>>,
    /// LayerNorm before the transformer.
    pub ln_pre: LayerNorm<B>,
    /// The transformer.
    pub transformer: Transformer<B>,
    /// LayerNorm of the pooled class token.
    pub ln_post: LayerNorm<B>,
    /// Projection to the joint embedding `[width, embed_dim]`, used as `x @ proj`.
    pub proj: Param<Tensor<B, 2>>,
    #[module(skip)]
    image_size: usize,
    #[module(skip)]
    patch_size: usize,
    /// `conv1` packed in a lower precision (see [`super::Clip::with_precision`]).
    #[module(skip)]
    packed_patch_embed: Option<std::sync::Arc<PackedLinear>>,
}

/// The image tower's activations for one batch (see [`super::Clip::trace_image`]).
#[derive(Debug, Clone)]
pub struct VisionTrace<B: Backend> {
    /// `conv1` output as tokens `[batch, grid², width]`.
    pub patch_embed: Tensor<B, 3>,
    /// Class token + patches + positions `[batch, 1 + grid², width]`.
    pub embed: Tensor<B, 3>,
    /// After `ln_pre`.
    pub ln_pre: Tensor<B, 3>,
    /// `x + attn(ln_1(x))` inside block 0.
    pub block0_attn_residual: Tensor<B, 3>,
    /// Output of block 0.
    pub block0: Tensor<B, 3>,
    /// Output of the last block.
    pub block_last: Tensor<B, 3>,
    /// `ln_post` of the class token `[batch, width]`.
    pub ln_post_cls: Tensor<B, 2>,
    /// The image features `[batch, embed_dim]`.
    pub projected: Tensor<B, 2>,
}

impl<B: Backend> VisionTransformer<B> {
    pub(crate) fn new(
        src: &mut impl ParamSource<B>,
        config: &VisionConfig,
        embed_dim: usize,
        activation: Activation,
    ) -> Result<Self, ModelError> {
        let (w, p) = (config.width, config.patch_size);
        let scale = (w as f64).powf(-0.5);
        let shape = TransformerShape {
            width: w,
            heads: config.heads,
            layers: config.layers,
            mlp_width: config.mlp_width,
            activation,
        };
        Ok(Self {
            conv1: PatchConv { weight: src.param("visual.conv1.weight", [w, 3, p, p], Init::Normal(0.02))? },
            class_embedding: src.param("visual.class_embedding", [w], Init::Normal(scale))?,
            positional_embedding: src.param(
                "visual.positional_embedding",
                [config.num_tokens(), w],
                Init::Normal(scale),
            )?,
            ln_pre: layer_norm(src, "visual.ln_pre", w)?,
            transformer: Transformer::new(src, "visual.transformer", &shape)?,
            ln_post: layer_norm(src, "visual.ln_post", w)?,
            proj: src.param("visual.proj", [w, embed_dim], Init::Normal(scale))?,
            image_size: config.image_size,
            patch_size: p,
            packed_patch_embed: None,
        })
    }

    /// Checks that `pixels` is `[batch ≥ 1, 3, image_size, image_size]`.
    pub(crate) fn check_input(&self, pixels: &Tensor<B, 4>) -> Result<(), ModelError> {
        let [batch, channels, height, width] = pixels.dims();
        let s = self.image_size;
        if batch == 0 || channels != 3 || height != s || width != s {
            return Err(ModelError::InvalidInput {
                input: "pixels",
                message: format!("shape [{batch}, {channels}, {height}, {width}], expected [batch ≥ 1, 3, {s}, {s}]"),
            });
        }
        Ok(())
    }

    /// `conv1` as one GEMM: cut the image into patches, flatten each (channel, row, column) like
    /// the kernel, and multiply by the flattened kernel. Exact because stride = kernel size.
    fn patch_embed(&self, pixels: Tensor<B, 4>) -> Result<Tensor<B, 3>, ModelError> {
        let [batch, channels, _, _] = pixels.dims();
        let (p, grid) = (self.patch_size, self.image_size / self.patch_size);
        let patches = pixels.reshape([batch, channels, grid, p, grid, p]).permute([0, 2, 4, 1, 3, 5]).reshape([
            batch,
            grid * grid,
            channels * p * p,
        ]);
        let [width, ..] = self.conv1.weight.dims();
        if let Some(packed) = &self.packed_patch_embed {
            let device = patches.device();
            let tokens = host(patches).and_then(|x| Ok(packed.forward(&x, KernelActivation::Identity)?));
            return tokens.map(|t| Tensor::from_data(TensorData::new(t, [batch, grid * grid, width]), &device));
        }
        let kernel = self.conv1.weight.val().reshape([width, channels * p * p]);
        Ok(affine(patches, kernel.transpose(), None))
    }

    /// Runs the patch embedding in `precision` from now on (`None`: burn's ops).
    pub(crate) fn set_packed_patch_embed(&mut self, precision: Option<Precision>) -> Result<(), ModelError> {
        self.packed_patch_embed = match precision {
            Some(p) => Some(std::sync::Arc::new(pack_patch_embed(self.conv1.weight.val(), p)?)),
            None => None,
        };
        Ok(())
    }

    /// Prepends the class token and adds the positional embedding.
    fn embed(&self, patches: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, _, width] = patches.dims();
        let class = self.class_embedding.val().reshape([1, 1, width]).expand([batch, 1, width]);
        let tokens = Tensor::cat(vec![class, patches], 1);
        tokens + self.positional_embedding.val().unsqueeze::<3>()
    }

    /// `ln_post(class)` and `ln_post(class) @ proj` of the class tokens `[batch, width]`.
    fn pool(&self, class: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let class = self.ln_post.forward(class);
        let projected = class.clone().matmul(self.proj.val());
        (class, projected)
    }

    /// Image features `[batch, embed_dim]` of checked `pixels`.
    pub(crate) fn forward(&self, pixels: Tensor<B, 4>) -> Result<Tensor<B, 2>, ModelError> {
        let [batch, ..] = pixels.dims();
        let x = self.ln_pre.forward(self.embed(self.patch_embed(pixels)?));
        Ok(self.pool(self.transformer.forward_pooled(x, false, &vec![0; batch])?).1)
    }

    /// [`VisionTransformer::forward`], recording every intermediate activation.
    pub(crate) fn forward_traced(&self, pixels: Tensor<B, 4>) -> Result<VisionTrace<B>, ModelError> {
        let patch_embed = self.patch_embed(pixels)?;
        let embed = self.embed(patch_embed.clone());
        let ln_pre = self.ln_pre.forward(embed.clone());
        let blocks = self.transformer.forward_traced(ln_pre.clone(), false);
        let [batch, _, width] = blocks.last.dims();
        let (ln_post_cls, projected) = self.pool(blocks.last.clone().narrow(1, 0, 1).reshape([batch, width]));
        Ok(VisionTrace {
            patch_embed,
            embed,
            ln_pre,
            block0_attn_residual: blocks.block0_attn_residual,
            block0: blocks.block0,
            block_last: blocks.last,
            ln_post_cls,
            projected,
        })
    }
}
