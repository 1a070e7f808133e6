//! The transformers' linear layers packed for arbor-kernels, in the precision the user chose.
//!
//! [`Clip::with_precision`](super::Clip::with_precision) builds a [`PackedTower`] per tower
//! from the model's float32 weights once. On the CPU backend each tower then runs its blocks
//! here, on host buffers: LayerNorm, softmax attention and the residual stream in float32; the
//! four products of each block (q/k/v, output projection, MLP expansion with GELU fused, MLP
//! projection with the residual add fused) in the packed precision. The patch embedding is a
//! fifth product of the same kind.

use arbor_kernels::{Activation as KernelActivation, PackedLinear, Precision};
use burn::nn::LayerNorm;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::clip::host_values as host;
use super::config::Activation;
use super::error::ModelError;
use super::kernels::{Softmax, attention_rows};
use super::transformer::{ResidualAttentionBlock, Transformer};
use rayon::prelude::*;

/// Which precision each product of a tower runs in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrecisionPlan {
    /// The patch embedding (image tower only).
    pub patch_embed: Precision,
    /// Per block: q/k/v, output projection, MLP expansion, MLP projection.
    pub blocks: Vec<[Precision; 4]>,
}

impl PrecisionPlan {
    /// Every product in `precision`.
    pub fn uniform(precision: Precision, layers: usize) -> Self {
        Self { patch_embed: precision, blocks: vec![[precision; 4]; layers] }
    }

    /// The coarsest precision of any product in the plan (what a mixed plan is called).
    pub fn coarsest(&self) -> Precision {
        self.blocks.iter().flatten().fold(self.patch_embed, |a, &b| a.coarser(b))
    }

    /// Arbor's plan for `precision` over `layers` blocks: every product in `precision`.
    ///
    /// Measured on a random full-size ViT-B/16 (docs/experiments.md): with every product in
    /// int8 the fixture photos' embeddings keep a cosine of at least 0.9999 to f32 (ONNX Runtime's
    /// dynamic int8: 0.9998). Of the single products, the MLP projection (whose input, the GELU
    /// output, is the most heavy-tailed per token) costs the most: keeping it in bf16 halves the
    /// distance to f32 for about 15 % of the speed, which a plan can choose
    /// (`blocks[i][3] = Precision::Bf16`).
    pub fn for_precision(precision: Precision, layers: usize) -> Self {
        Self::uniform(precision, layers)
    }
}

/// A LayerNorm's affine parameters on the host.
#[derive(Debug)]
struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
    eps: f32,
}

impl Norm {
    fn from_burn<B: Backend>(norm: &LayerNorm<B>) -> Result<Self, ModelError> {
        let gamma = host(norm.gamma.val())?;
        let beta = match &norm.beta {
            Some(beta) => host(beta.val())?,
            None => vec![0.0; gamma.len()],
        };
        Ok(Self { gamma, beta, eps: super::transformer::LAYER_NORM_EPS as f32 })
    }

    /// LayerNorm of every row of `x` (biased variance, like torch).
    fn apply(&self, x: &[f32]) -> Vec<f32> {
        let width = self.gamma.len();
        let mut out = vec![0.0_f32; x.len()];
        out.par_chunks_mut(width).zip(x.par_chunks(width)).for_each(|(out, row)| {
            let mean = row.iter().sum::<f32>() / width as f32;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / width as f32;
            let inv = 1.0 / (var + self.eps).sqrt();
            for (((o, &v), &g), &b) in out.iter_mut().zip(row).zip(&self.gamma).zip(&self.beta) {
                *o = (v - mean) * inv * g + b;
            }
        });
        out
    }
}

/// One residual attention block with its four products packed.
#[derive(Debug)]
struct PackedBlock {
    ln_1: Norm,
    qkv: PackedLinear,
    out: PackedLinear,
    ln_2: Norm,
    fc: PackedLinear,
    proj: PackedLinear,
    heads: usize,
    activation: KernelActivation,
}

impl PackedBlock {
    fn new<B: Backend>(block: &ResidualAttentionBlock<B>, plan: [Precision; 4]) -> Result<Self, ModelError> {
        let attn = &block.attn;
        let (mlp, activation) = (&block.mlp, block.mlp.activation());
        Ok(Self {
            ln_1: Norm::from_burn(&block.ln_1)?,
            qkv: pack(attn.in_proj_weight.val(), Some(attn.in_proj_bias.val()), plan[0])?,
            out: pack_linear(&attn.out_proj, plan[1])?,
            ln_2: Norm::from_burn(&block.ln_2)?,
            fc: pack_linear(&mlp.c_fc, plan[2])?,
            proj: pack_linear(&mlp.c_proj, plan[3])?,
            heads: attn.heads(),
            activation: match activation {
                Activation::Gelu => KernelActivation::Gelu,
                Activation::QuickGelu => KernelActivation::QuickGelu,
            },
        })
    }

    fn width(&self) -> usize {
        self.out.dims()[1]
    }

    /// The whole block over `x` `[batch, tokens, width]`, in place.
    fn forward(&self, x: &mut [f32], [batch, tokens]: [usize; 2], causal: bool) -> Result<(), ModelError> {
        let qkv = self.qkv.forward(&self.ln_1.apply(x), KernelActivation::Identity)?;
        let context =
            attention_rows(&qkv, [batch, tokens, self.width()], self.heads, causal, None, Softmax::Vectorised);
        self.out.forward_add(&context, x)?;
        self.mlp(x)
    }

    /// The block's output at `positions[i]` of sequence `i` only, `[batch, width]` (see
    /// `Transformer::forward_pooled`).
    fn forward_rows(
        &self,
        x: &[f32],
        [batch, tokens]: [usize; 2],
        causal: bool,
        positions: &[usize],
    ) -> Result<Vec<f32>, ModelError> {
        let width = self.width();
        let qkv = self.qkv.forward(&self.ln_1.apply(x), KernelActivation::Identity)?;
        let context =
            attention_rows(&qkv, [batch, tokens, width], self.heads, causal, Some(positions), Softmax::Vectorised);
        let mut rows: Vec<f32> = positions
            .iter()
            .enumerate()
            .flat_map(|(b, &p)| x[(b * tokens + p) * width..(b * tokens + p + 1) * width].iter().copied())
            .collect();
        self.out.forward_add(&context, &mut rows)?;
        self.mlp(&mut rows)?;
        Ok(rows)
    }

    /// `x + mlp(ln_2(x))`, in place.
    fn mlp(&self, x: &mut [f32]) -> Result<(), ModelError> {
        let hidden = self.fc.forward(&self.ln_2.apply(x), self.activation)?;
        Ok(self.proj.forward_add(&hidden, x)?)
    }
}

/// A tower's transformer with every block packed.
#[derive(Debug)]
pub(crate) struct PackedTower {
    blocks: Vec<PackedBlock>,
    precision: Precision,
}

impl PackedTower {
    pub(crate) fn new<B: Backend>(transformer: &Transformer<B>, plan: &PrecisionPlan) -> Result<Self, ModelError> {
        if plan.blocks.len() != transformer.resblocks.len() {
            return Err(ModelError::InvalidInput {
                input: "precision plan",
                message: format!(
                    "{} blocks planned for {} in the model",
                    plan.blocks.len(),
                    transformer.resblocks.len()
                ),
            });
        }
        let blocks = transformer
            .resblocks
            .iter()
            .zip(&plan.blocks)
            .map(|(b, &p)| PackedBlock::new(b, p))
            .collect::<Result<_, _>>()?;
        Ok(Self { blocks, precision: plan.coarsest() })
    }

    /// The coarsest precision any of the tower's products runs in.
    pub(crate) fn precision(&self) -> Precision {
        self.precision
    }

    /// [`Transformer::forward_pooled`] on the packed blocks: `x` `[batch, tokens, width]` in,
    /// the pooled rows `[batch, width]` out.
    pub(crate) fn forward_pooled<B: Backend>(
        &self,
        x: Tensor<B, 3>,
        causal: bool,
        positions: &[usize],
    ) -> Result<Tensor<B, 2>, ModelError> {
        let [batch, tokens, width] = x.dims();
        let device = x.device();
        let mut x = host(x)?;
        let Some((last, earlier)) = self.blocks.split_last() else {
            return Err(ModelError::InvalidInput { input: "packed tower", message: "no blocks".into() });
        };
        for block in earlier {
            block.forward(&mut x, [batch, tokens], causal)?;
        }
        let rows = last.forward_rows(&x, [batch, tokens], causal, positions)?;
        Ok(Tensor::from_data(burn::tensor::TensorData::new(rows, [batch, width]), &device))
    }
}

/// A `[in, out]` weight with its bias, packed.
fn pack<B: Backend>(
    weight: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
    precision: Precision,
) -> Result<PackedLinear, ModelError> {
    let dims = weight.dims();
    let bias = bias.map(host).transpose()?;
    Ok(PackedLinear::new(&host(weight)?, dims, bias.as_deref(), precision)?)
}

fn pack_linear<B: Backend>(layer: &burn::nn::Linear<B>, precision: Precision) -> Result<PackedLinear, ModelError> {
    pack(layer.weight.val(), layer.bias.as_ref().map(|b| b.val()), precision)
}

/// The patch embedding's kernel `[width, 3, p, p]` as a packed `[3·p·p, width]` product.
pub(crate) fn pack_patch_embed<B: Backend>(
    kernel: Tensor<B, 4>,
    precision: Precision,
) -> Result<PackedLinear, ModelError> {
    let [width, channels, p, q] = kernel.dims();
    pack(kernel.reshape([width, channels * p * q]).transpose(), None, precision)
}
