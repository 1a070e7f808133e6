//! The transformer shared by both towers: open_clip's `Transformer` of pre-LayerNorm
//! `ResidualAttentionBlock`s with `nn.MultiheadAttention` and a two-layer MLP.

use burn::module::{Module, Param};
use burn::nn::{LayerNorm, LayerNormConfig, Linear};
use burn::tensor::activation::{gelu, sigmoid};
use burn::tensor::backend::Backend;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Int, Tensor, TensorData};

use super::config::Activation;
use super::error::ModelError;
use super::kernels;
use super::packed::PackedTower;
use super::params::{Init, ParamSource};

/// open_clip's LayerNorm epsilon (torch's default).
pub(crate) const LAYER_NORM_EPS: f64 = 1e-5;

/// Sizes of one transformer, as both towers describe it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TransformerShape {
    pub(crate) width: usize,
    pub(crate) heads: usize,
    pub(crate) layers: usize,
    pub(crate) mlp_width: usize,
    pub(crate) activation: Activation,
}

/// A LayerNorm named like torch's (`{name}.weight`, `{name}.bias`; burn calls them gamma and
/// beta).
pub(crate) fn layer_norm<B: Backend>(
    src: &mut impl ParamSource<B>,
    name: &str,
    width: usize,
) -> Result<LayerNorm<B>, ModelError> {
    let mut norm = LayerNormConfig::new(width).with_epsilon(LAYER_NORM_EPS).init(src.device());
    norm.gamma = src.param(&format!("{name}.weight"), [width], Init::Ones)?;
    norm.beta = Some(src.param(&format!("{name}.bias"), [width], Init::Zeros)?);
    Ok(norm)
}

/// A torch `nn.Linear` (`weight` stored `[out, in]`). Burn's `Linear` multiplies by `[in, out]`,
/// so it holds the transposed weight, contiguous; burn-store's PyTorch adapter transposes it back
/// when the model is saved under open_clip's names.
fn torch_linear<B: Backend>(
    src: &mut impl ParamSource<B>,
    name: &str,
    [d_in, d_out]: [usize; 2],
    std: f64,
) -> Result<Linear<B>, ModelError> {
    let weight = src.matrix_in_out(&format!("{name}.weight"), [d_out, d_in], Init::Normal(std))?;
    let bias = src.param(&format!("{name}.bias"), [d_out], Init::Zeros)?;
    Ok(Linear { weight: Param::from_tensor(weight), bias: Some(bias) })
}

/// `x @ weight + bias` over the last dimension, as one rank-2 GEMM (burn's `linear` would
/// broadcast the weight to the input's rank first).
pub(crate) fn affine<B: Backend>(x: Tensor<B, 3>, weight: Tensor<B, 2>, bias: Option<Tensor<B, 1>>) -> Tensor<B, 3> {
    let [batch, tokens, d_in] = x.dims();
    let [_, d_out] = weight.dims();
    let y = x.reshape([batch * tokens, d_in]).matmul(weight);
    let y = match bias {
        Some(bias) => y + bias.unsqueeze::<2>(),
        None => y,
    };
    y.reshape([batch, tokens, d_out])
}

/// A burn [`Linear`] applied with [`affine`].
fn apply<B: Backend>(layer: &Linear<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    affine(x, layer.weight.val(), layer.bias.as_ref().map(|b| b.val()))
}

/// torch's `nn.MultiheadAttention` as open_clip uses it (self-attention, bias, no dropout).
#[derive(Module, Debug)]
pub struct MultiheadAttention<B: Backend> {
    /// Query, key and value projections stacked, `[width, 3·width]`: the transpose of torch's
    /// `[3·width, width]` (see [`ParamSource::matrix_in_out`]; [`super::Clip::to_state_dict`]
    /// transposes it back).
    pub in_proj_weight: Param<Tensor<B, 2>>,
    /// Query, key and value biases stacked, `[3·width]`.
    pub in_proj_bias: Param<Tensor<B, 1>>,
    /// The output projection.
    pub out_proj: Linear<B>,
    #[module(skip)]
    heads: usize,
}

impl<B: Backend> MultiheadAttention<B> {
    fn new(src: &mut impl ParamSource<B>, name: &str, shape: &TransformerShape) -> Result<Self, ModelError> {
        let w = shape.width;
        let attn_std = (w as f64).powf(-0.5);
        let proj_std = attn_std * ((2 * shape.layers) as f64).powf(-0.5);
        Ok(Self {
            in_proj_weight: Param::from_tensor(src.matrix_in_out(
                &format!("{name}.in_proj_weight"),
                [3 * w, w],
                Init::Normal(attn_std),
            )?),
            in_proj_bias: src.param(&format!("{name}.in_proj_bias"), [3 * w], Init::Zeros)?,
            out_proj: torch_linear(src, &format!("{name}.out_proj"), [w, w], proj_std)?,
            heads: shape.heads,
        })
    }

    /// Attention heads.
    pub(crate) fn heads(&self) -> usize {
        self.heads
    }

    /// Self-attention over `x` `[batch, tokens, width]`, causal (each token sees only itself and
    /// earlier tokens) when `causal` is set.
    pub fn forward(&self, x: Tensor<B, 3>, causal: bool) -> Tensor<B, 3> {
        self.attend(x, causal, None)
    }

    /// Attention for every token (`queries` `None`, `[batch, tokens, width]`) or for one token
    /// per sequence, at `queries[i]` of sequence `i` (`[batch, 1, width]`).
    fn attend(&self, x: Tensor<B, 3>, causal: bool, queries: Option<&[usize]>) -> Tensor<B, 3> {
        // One GEMM for q, k and v.
        let qkv = affine(x, self.in_proj_weight.val(), Some(self.in_proj_bias.val()));
        let context = kernels::packed_attention(qkv, self.heads, causal, queries).unwrap_or_else(|qkv| {
            let all = self.generic_attention(qkv, causal);
            match queries {
                Some(positions) => rows_at(all, positions).unsqueeze_dim(1),
                None => all,
            }
        });
        apply(&self.out_proj, context)
    }

    /// Attention with burn's ops, for backends [`kernels::packed_attention`] does not cover.
    fn generic_attention(&self, qkv: Tensor<B, 3>, causal: bool) -> Tensor<B, 3> {
        let [batch, tokens, packed] = qkv.dims();
        let (width, head_dim) = (packed / 3, packed / 3 / self.heads);
        let mut heads =
            qkv.chunk(3, 2).into_iter().map(|t| t.reshape([batch, tokens, self.heads, head_dim]).swap_dims(1, 2));
        let (Some(q), Some(k), Some(v)) = (heads.next(), heads.next(), heads.next()) else {
            unreachable!("chunk(3) of a dimension of size 3·width gives three tensors")
        };
        // Fused scaled dot-product attention; its default scale is 1/sqrt(head_dim) like torch.
        let options = AttentionModuleOptions { scale: None, softcap: None, is_causal: causal };
        attention(q, k, v, None, None, options).swap_dims(1, 2).reshape([batch, tokens, width])
    }
}

/// The block's MLP: `c_fc`, the activation, `c_proj`.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    /// Expansion to the hidden width.
    pub c_fc: Linear<B>,
    /// Projection back to the model width.
    pub c_proj: Linear<B>,
    #[module(skip)]
    activation: Activation,
}

impl<B: Backend> Mlp<B> {
    fn new(src: &mut impl ParamSource<B>, name: &str, shape: &TransformerShape) -> Result<Self, ModelError> {
        let w = shape.width;
        let fc_std = ((2 * w) as f64).powf(-0.5);
        let proj_std = (w as f64).powf(-0.5) * ((2 * shape.layers) as f64).powf(-0.5);
        Ok(Self {
            c_fc: torch_linear(src, &format!("{name}.c_fc"), [w, shape.mlp_width], fc_std)?,
            c_proj: torch_linear(src, &format!("{name}.c_proj"), [shape.mlp_width, w], proj_std)?,
            activation: shape.activation,
        })
    }

    /// The activation between the two layers.
    pub(crate) fn activation(&self) -> Activation {
        self.activation
    }

    /// Applies the MLP to `x` `[batch, tokens, width]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let hidden = apply(&self.c_fc, x);
        let hidden = match self.activation {
            Activation::Gelu => kernels::gelu(hidden).unwrap_or_else(gelu),
            Activation::QuickGelu => sigmoid(hidden.clone().mul_scalar(1.702)) * hidden,
        };
        apply(&self.c_proj, hidden)
    }
}

/// open_clip's `ResidualAttentionBlock`: `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`.
#[derive(Module, Debug)]
pub struct ResidualAttentionBlock<B: Backend> {
    /// LayerNorm before attention.
    pub ln_1: LayerNorm<B>,
    /// Self-attention.
    pub attn: MultiheadAttention<B>,
    /// LayerNorm before the MLP.
    pub ln_2: LayerNorm<B>,
    /// The MLP.
    pub mlp: Mlp<B>,
}

impl<B: Backend> ResidualAttentionBlock<B> {
    fn new(src: &mut impl ParamSource<B>, name: &str, shape: &TransformerShape) -> Result<Self, ModelError> {
        Ok(Self {
            ln_1: layer_norm(src, &format!("{name}.ln_1"), shape.width)?,
            attn: MultiheadAttention::new(src, &format!("{name}.attn"), shape)?,
            ln_2: layer_norm(src, &format!("{name}.ln_2"), shape.width)?,
            mlp: Mlp::new(src, &format!("{name}.mlp"), shape)?,
        })
    }

    /// The first half of the block: `x + attn(ln_1(x))`.
    pub fn attention_residual(&self, x: Tensor<B, 3>, causal: bool) -> Tensor<B, 3> {
        let attended = self.attn.forward(self.ln_1.forward(x.clone()), causal);
        x + attended
    }

    /// The second half of the block: `x + mlp(ln_2(x))`.
    pub fn mlp_residual(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let transformed = self.mlp.forward(self.ln_2.forward(x.clone()));
        x + transformed
    }

    /// The whole block.
    pub fn forward(&self, x: Tensor<B, 3>, causal: bool) -> Tensor<B, 3> {
        self.mlp_residual(self.attention_residual(x, causal))
    }

    /// The block's output at `positions[i]` of sequence `i` only, `[batch, width]`: every
    /// token is still attended to, but only those rows are computed.
    fn forward_rows(&self, x: Tensor<B, 3>, causal: bool, positions: &[usize]) -> Tensor<B, 2> {
        let attended = self.attn.attend(self.ln_1.forward(x.clone()), causal, Some(positions));
        let mid = rows_at(x, positions).unsqueeze_dim::<3>(1) + attended;
        self.mlp_residual(mid).squeeze_dim(1)
    }
}

/// A stack of residual attention blocks (open_clip's `transformer.resblocks`).
#[derive(Module, Debug)]
pub struct Transformer<B: Backend> {
    /// The blocks, in order.
    pub resblocks: Vec<ResidualAttentionBlock<B>>,
    /// The blocks' products packed in a lower precision (see [`super::Clip::with_precision`]),
    /// which [`Transformer::forward_pooled`] then runs instead.
    #[module(skip)]
    packed: Option<std::sync::Arc<PackedTower>>,
}

impl<B: Backend> Transformer<B> {
    pub(crate) fn new(src: &mut impl ParamSource<B>, name: &str, shape: &TransformerShape) -> Result<Self, ModelError> {
        let resblocks = (0..shape.layers)
            .map(|i| ResidualAttentionBlock::new(src, &format!("{name}.resblocks.{i}"), shape))
            .collect::<Result<_, _>>()?;
        Ok(Self { resblocks, packed: None })
    }

    /// Runs [`Transformer::forward_pooled`] on `packed` from now on (`None`: burn's ops).
    pub(crate) fn set_packed(&mut self, packed: Option<PackedTower>) {
        self.packed = packed.map(std::sync::Arc::new);
    }

    /// The packed blocks, if any.
    pub(crate) fn packed(&self) -> Option<&PackedTower> {
        self.packed.as_deref()
    }

    /// Runs every block.
    pub fn forward(&self, x: Tensor<B, 3>, causal: bool) -> Tensor<B, 3> {
        self.resblocks.iter().fold(x, |x, block| block.forward(x, causal))
    }

    /// The output of [`Transformer::forward`] at `positions[i]` of sequence `i`, `[batch,
    /// width]`: the token each tower pools (the class token, the end-of-text token). Nothing
    /// else of the last block reaches that row, so the last block computes it alone (keys and
    /// values still for every token: about three quarters of the block's work saved).
    ///
    /// # Errors
    /// Only from the packed blocks: a product handed the wrong shapes (a bug).
    pub fn forward_pooled(
        &self,
        x: Tensor<B, 3>,
        causal: bool,
        positions: &[usize],
    ) -> Result<Tensor<B, 2>, ModelError> {
        if let Some(packed) = &self.packed {
            return packed.forward_pooled(x, causal, positions);
        }
        Ok(match self.resblocks.split_last() {
            Some((last, earlier)) => {
                let x = earlier.iter().fold(x, |x, block| block.forward(x, causal));
                last.forward_rows(x, causal, positions)
            }
            None => rows_at(x, positions),
        })
    }

    /// Runs every block and also returns block 0's attention residual, block 0's output and the
    /// last block's output (the activations open_clip's reference traces record).
    pub(crate) fn forward_traced(&self, x: Tensor<B, 3>, causal: bool) -> BlockTrace<B> {
        let mut trace = BlockTrace { block0_attn_residual: x.clone(), block0: x.clone(), last: x };
        for (i, block) in self.resblocks.iter().enumerate() {
            let mid = block.attention_residual(trace.last.clone(), causal);
            let out = block.mlp_residual(mid.clone());
            if i == 0 {
                trace.block0_attn_residual = mid;
                trace.block0 = out.clone();
            }
            trace.last = out;
        }
        trace
    }
}

/// Activations recorded by [`Transformer::forward_traced`].
pub(crate) struct BlockTrace<B: Backend> {
    pub(crate) block0_attn_residual: Tensor<B, 3>,
    pub(crate) block0: Tensor<B, 3>,
    pub(crate) last: Tensor<B, 3>,
}

/// Row `positions[i]` of sequence `i` of `x` `[batch, length, width]`, as `[batch, width]`.
pub(crate) fn rows_at<B: Backend>(x: Tensor<B, 3>, positions: &[usize]) -> Tensor<B, 2> {
    let [batch, length, width] = x.dims();
    let flat: Vec<i64> = positions.iter().enumerate().map(|(row, position)| (row * length + position) as i64).collect();
    let index = Tensor::<B, 1, Int>::from_data(TensorData::new(flat, [batch]), &x.device());
    x.reshape([batch * length, width]).select(0, index)
}
