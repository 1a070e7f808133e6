//! Inference kernels for the CPU backend, where burn's generic ops cost more than the arithmetic.
//!
//! At batch 1, ViT-B/16's GEMMs are only two thirds of an image's time on burn's flex backend;
//! the rest went to exact GELU through scalar `erff`, and to copying q, k and v into head-major
//! layout and the attention output back (`perf`: about 8 % and 11 % of an image). These kernels
//! do that work in place or straight from the packed projection:
//!
//! * [`gelu`]: erf-GELU over a contiguous buffer (arbor-kernels' vectorisable erf, accurate
//!   to float32).
//! * [`packed_attention`]: scaled dot-product attention read from the `[batch, tokens, 3·width]`
//!   q/k/v projection and written in the `[batch, tokens, width]` layout the output projection
//!   reads, two small GEMMs per head.
//!
//! Each takes a tensor of any backend and hands it back untouched (`Err`) unless it is a
//! contiguous float32 tensor of the flex backend: on other backends, and under autodiff while
//! training, the caller keeps burn's generic ops.

use std::any::Any;
use std::ops::Range;

use burn::tensor::backend::Backend;
use burn::tensor::{DType, Tensor, TensorData, TensorPrimitive};
use burn_flex::FlexTensor;
use rayon::prelude::*;

/// `tensor` as a contiguous float32 flex tensor, or back unchanged.
fn into_flex<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Result<FlexTensor, Tensor<B, D>> {
    let flex_backend = std::any::TypeId::of::<B::FloatTensorPrimitive>() == std::any::TypeId::of::<FlexTensor>();
    if !flex_backend {
        return Err(tensor);
    }
    let primitive: Box<dyn Any> = Box::new(tensor.into_primitive().tensor());
    match primitive.downcast::<FlexTensor>() {
        Ok(flex) if flex.dtype() == DType::F32 && flex.layout().contiguous_offsets().is_some() => Ok(*flex),
        Ok(flex) => Err(from_flex(*flex)),
        Err(_) => unreachable!("the primitive's type was checked above"),
    }
}

/// Wraps a flex tensor as a tensor of `B` (which [`into_flex`] has shown to be flex).
fn from_flex<B: Backend, const D: usize>(flex: FlexTensor) -> Tensor<B, D> {
    let primitive: Box<dyn Any> = Box::new(flex);
    match primitive.downcast::<B::FloatTensorPrimitive>() {
        Ok(primitive) => Tensor::from_primitive(TensorPrimitive::Float(*primitive)),
        Err(_) => unreachable!("only called for the flex backend"),
    }
}

/// Exact (erf) GELU, `x · ½(1 + erf(x/√2))`, computed in place when `x` is a flex tensor.
pub(crate) fn gelu<B: Backend, const D: usize>(x: Tensor<B, D>) -> Result<Tensor<B, D>, Tensor<B, D>> {
    let mut flex = into_flex(x)?;
    let (start, end) = flex.layout().contiguous_offsets().unwrap_or_default();
    // Copies first only if the buffer is shared (it is fresh from a GEMM in the model).
    let values = &mut flex.storage_mut::<f32>()[start..end];
    values.par_chunks_mut(1 << 14).for_each(arbor_kernels::gelu_in_place);
    Ok(from_flex(flex))
}

/// Softmax(q·kᵀ/√d)·v for every head, from the packed projection `qkv` `[batch, tokens,
/// 3·width]` (q, k, v side by side, heads side by side within each), with the heads side by
/// side again in the output. `causal`: token i attends to tokens ≤ i.
///
/// `queries`: `None` for every token (`[batch, tokens, width]`), or one query position per
/// sequence (`[batch, 1, width]`), which is all a transformer's last block needs for the token
/// its tower pools.
pub(crate) fn packed_attention<B: Backend>(
    qkv: Tensor<B, 3>,
    heads: usize,
    causal: bool,
    queries: Option<&[usize]>,
) -> Result<Tensor<B, 3>, Tensor<B, 3>> {
    let [batch, tokens, packed] = qkv.dims();
    let width = packed / 3;
    let queries_fit = queries.is_none_or(|q| q.len() == batch && q.iter().all(|&p| p < tokens));
    if packed != 3 * width || heads == 0 || width % heads != 0 || !queries_fit {
        return Err(qkv);
    }
    let flex = into_flex(qkv)?;
    let (start, end) = flex.layout().contiguous_offsets().unwrap_or_default();
    let input = &flex.storage::<f32>()[start..end];
    let rows = if queries.is_some() { 1 } else { tokens };
    let output = attention_rows(input, [batch, tokens, width], heads, causal, queries, Softmax::Libm);
    Ok(from_flex(FlexTensor::from_data(TensorData::new(output, [batch, rows, width]))))
}

/// [`packed_attention`] on a host buffer: `input` is `[batch, tokens, 3·width]`, the result
/// `[batch, rows, width]` with `rows` = `tokens`, or 1 with `queries`. The caller has checked
/// that `width` splits into `heads` and that every query position is inside its sequence.
pub(crate) fn attention_rows(
    input: &[f32],
    [batch, tokens, width]: [usize; 3],
    heads: usize,
    causal: bool,
    queries: Option<&[usize]>,
    softmax: Softmax,
) -> Vec<f32> {
    let packed = 3 * width;
    let rows = if queries.is_some() { 1 } else { tokens };
    let mut output = vec![0.0_f32; batch * rows * width];
    let shape = AttentionShape { tokens, width, head_dim: width / heads, causal, softmax };
    // One task per (sequence, head); each writes only its own head's columns of the output.
    let out = SharedOut(output.as_mut_ptr());
    (0..batch * heads).into_par_iter().for_each_init(
        || vec![0.0_f32; rows * tokens],
        |scores, task| {
            let (b, h) = (task / heads, task % heads);
            let qkv = &input[b * tokens * packed..(b + 1) * tokens * packed];
            let first = queries.map_or(0, |q| q[b]);
            // SAFETY: `out` points at `batch·rows·width` floats that outlive the loop; this task
            // writes rows `b·rows..(b+1)·rows`, columns `h·d..(h+1)·d` only, which no other
            // task touches.
            unsafe { shape.head(qkv, h, first..first + rows, scores, out.at(b * rows * width)) };
        },
    );
    output
}

/// The output pointer, shared by the attention tasks (each writes disjoint elements).
#[derive(Clone, Copy)]
struct SharedOut(*mut f32);
impl SharedOut {
    /// The pointer `offset` elements in (a method, so that closures capture the whole
    /// `Sync` wrapper rather than its raw-pointer field).
    ///
    /// # Safety
    /// `offset` must lie within the output buffer.
    unsafe fn at(self, offset: usize) -> *mut f32 {
        // SAFETY: the caller's promise.
        unsafe { self.0.add(offset) }
    }
}

// SAFETY: the tasks write disjoint elements (see `packed_attention`).
unsafe impl Send for SharedOut {}
// SAFETY: as above.
unsafe impl Sync for SharedOut {}

/// How attention's softmax exponentiates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Softmax {
    /// The C library's `expf`: the f32 path, measured against open_clip.
    Libm,
    /// arbor-kernels' vectorised `exp` (within 2 ulp): the packed low-precision towers, where
    /// the scalar calls were 6 % of an image.
    Vectorised,
}

struct AttentionShape {
    tokens: usize,
    width: usize,
    head_dim: usize,
    causal: bool,
    softmax: Softmax,
}

impl AttentionShape {
    /// Attention of head `h` of one sequence for the query positions `queries`: `qkv` is the
    /// sequence's `[tokens, 3·width]` projection, `scores` a `queries.len()·tokens` scratch
    /// buffer, `out` the `[queries.len(), width]` output block.
    ///
    /// # Safety
    /// `out` must be valid for writes of `queries.len()·width` floats, none of them written by
    /// anyone else during the call in columns `h·head_dim..(h+1)·head_dim`.
    unsafe fn head(&self, qkv: &[f32], h: usize, queries: Range<usize>, scores: &mut [f32], out: *mut f32) {
        let (t, w, d, m) = (self.tokens, self.width, self.head_dim, queries.len());
        assert!(qkv.len() == t * 3 * w && scores.len() == m * t && queries.end <= t && (h + 1) * d <= w);
        let row = (3 * w) as isize;
        let at = |offset: usize| qkv[offset..].as_ptr();
        let (q, k, v) = (at(queries.start * 3 * w + h * d), at(w + h * d), at(2 * w + h * d));
        let scale = 1.0 / (d as f32).sqrt();
        // SAFETY (both GEMMs): every pointer and stride stays inside `qkv` (t rows of 3w; q from
        // row `queries.start` for m rows; the head's d columns end at most at 3w), `scores`
        // (m × t) or `out` (m rows of w).
        unsafe {
            // scores = scale · q · kᵀ: kᵀ is k read with row and column strides swapped.
            matmul([m, t, d], (scores.as_mut_ptr(), t as isize), (q, row, 1), (k, 1, row), scale);
        }
        for (scores, position) in scores.chunks_exact_mut(t).zip(queries) {
            let visible = if self.causal { position + 1 } else { t };
            match self.softmax {
                Softmax::Libm => softmax_in_place(&mut scores[..visible]),
                Softmax::Vectorised => arbor_kernels::softmax_in_place(&mut scores[..visible]),
            }
            scores[visible..].fill(0.0);
        }
        // SAFETY: see above; `out` is the caller's promise.
        unsafe { matmul([m, d, t], (out.add(h * d), w as isize), (scores.as_ptr(), t as isize, 1), (v, row, 1), 1.0) };
    }
}

/// `dst = scale · lhs · rhs` for an `m × k` lhs and a `k × n` rhs, single-threaded (the callers
/// parallelise over heads). Each matrix is a pointer with its row stride (and column stride for
/// the inputs); the destination's columns are contiguous.
///
/// # Safety
/// Every pointer must be valid for the elements its shape and strides reach, `dst` for writes.
unsafe fn matmul(
    [m, n, k]: [usize; 3],
    (dst, dst_row): (*mut f32, isize),
    (lhs, lhs_row, lhs_col): (*const f32, isize, isize),
    (rhs, rhs_row, rhs_col): (*const f32, isize, isize),
    scale: f32,
) {
    // SAFETY: the caller's promise.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_row,
            false,
            lhs,
            lhs_col,
            lhs_row,
            rhs,
            rhs_col,
            rhs_row,
            0.0,
            scale,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

fn softmax_in_place(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in row.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|x| *x *= inv);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Cpu;
    use burn::tensor::Distribution;
    use burn::tensor::activation::gelu as burn_gelu;
    use burn::tensor::module::attention;
    use burn::tensor::ops::AttentionModuleOptions;

    #[test]
    fn gelu_matches_burns_exact_gelu() {
        let device = Default::default();
        let x = Tensor::<Cpu, 2>::random([37, 301], Distribution::Normal(0.0, 3.0), &device);
        let expected = burn_gelu(x.clone()).into_data();
        let Ok(fast) = gelu(x) else { panic!("a contiguous f32 flex tensor takes the fast path") };
        fast.into_data().assert_approx_eq::<f32>(&expected, burn::tensor::Tolerance::absolute(2e-6));
    }

    #[test]
    fn gelu_leaves_strided_views_to_burn() {
        let device = Default::default();
        let x = Tensor::<Cpu, 2>::random([8, 5], Distribution::Default, &device).transpose();
        assert!(gelu(x).is_err());
    }

    fn reference_attention(qkv: Tensor<Cpu, 3>, heads: usize, causal: bool) -> TensorData {
        let [batch, tokens, packed] = qkv.dims();
        let width = packed / 3;
        let split: Vec<_> = qkv
            .chunk(3, 2)
            .into_iter()
            .map(|t| t.reshape([batch, tokens, heads, width / heads]).swap_dims(1, 2))
            .collect();
        let options = AttentionModuleOptions { scale: None, softcap: None, is_causal: causal };
        let context = attention(split[0].clone(), split[1].clone(), split[2].clone(), None, None, options);
        context.swap_dims(1, 2).reshape([batch, tokens, width]).into_data()
    }

    #[test]
    fn packed_attention_matches_burns_attention() {
        let device = Default::default();
        for (batch, tokens, width, heads, causal) in [(1, 197, 96, 4, false), (3, 23, 64, 8, true), (2, 5, 12, 1, true)]
        {
            let qkv = Tensor::<Cpu, 3>::random([batch, tokens, 3 * width], Distribution::Normal(0.0, 1.0), &device);
            let expected = reference_attention(qkv.clone(), heads, causal);
            let Ok(fast) = packed_attention(qkv.clone(), heads, causal, None) else {
                panic!("flex tensors take the fast path")
            };
            assert_eq!(fast.dims(), [batch, tokens, width]);
            fast.into_data().assert_approx_eq::<f32>(&expected, burn::tensor::Tolerance::absolute(1e-5));

            // One query per sequence: the rows of the full result at those positions.
            let queries: Vec<usize> = (0..batch).map(|b| (7 * b + 3) % tokens).collect();
            let Ok(pooled) = packed_attention(qkv, heads, causal, Some(&queries)) else {
                panic!("flex tensors take the fast path")
            };
            let full = Tensor::<Cpu, 3>::from_data(expected, &device);
            let picked: Vec<_> =
                queries.iter().enumerate().map(|(b, &p)| full.clone().narrow(0, b, 1).narrow(1, p, 1)).collect();
            pooled
                .into_data()
                .assert_approx_eq::<f32>(&Tensor::cat(picked, 0).into_data(), burn::tensor::Tolerance::absolute(1e-5));
        }
    }

    #[test]
    fn packed_attention_refuses_what_it_cannot_compute() {
        let qkv = Tensor::<Cpu, 3>::zeros([2, 4, 3 * 8], &Default::default());
        assert!(packed_attention(qkv.clone(), 3, false, None).is_err(), "8 columns do not split into 3 heads");
        assert!(packed_attention(qkv.clone(), 2, false, Some(&[0])).is_err(), "one query for two sequences");
        assert!(packed_attention(qkv, 2, false, Some(&[0, 4])).is_err(), "query position past the end");
    }
}
