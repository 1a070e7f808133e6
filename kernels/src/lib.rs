//! # arbor-kernels
//!
//! The matrix products of Arbor's transformers on the CPU, in three precisions. A
//! [`PackedLinear`] takes a linear layer's float32 weights once, converts them to f32, bf16 or
//! int8 ([`Precision`]) and lays them out in 64-column panels in the order its micro-kernels
//! read them, so that no product re-packs weights. Each product then converts its activations
//! (bf16 rounding, or int8 with one scale per token), runs `6 × 64` register-tiled
//! micro-kernels over the whole depth (`vfmadd231ps`, `vdpbf16ps` or `vpdpbusd` on AVX-512,
//! plain Rust vectorised for AVX2 or the baseline elsewhere: [`Isa`], chosen at run time from
//! [`CpuFeatures`]), and finishes each tile in one pass: dequantisation, bias, and GELU or a
//! residual add ([`Activation`], [`PackedLinear::forward_add`]).
//!
//! Accumulation is float32 (int32 for int8) and outputs are float32, whatever the precision.
//!
//! ```
//! use arbor_kernels::{Activation, PackedLinear, Precision};
//! // y = x · W + b with W = [[1, 2], [3, 4]] ([in, out]) and b = [0.5, -0.5].
//! let layer = PackedLinear::new(&[1.0, 2.0, 3.0, 4.0], [2, 2], Some(&[0.5, -0.5]), Precision::Bf16)?;
//! let y = layer.forward(&[1.0, 1.0], Activation::Identity)?;
//! assert_eq!(y, vec![4.5, 5.5]);
//! # Ok::<(), arbor_kernels::KernelError>(())
//! ```

mod amx;
mod epilogue;
mod isa;
mod linear;
mod precision;
mod tiles;

pub use epilogue::{Activation, erf, exp, gelu, gelu_in_place, softmax_in_place};
pub use isa::{CpuFeatures, Isa};
pub use linear::{KernelError, PackedLinear};
pub use precision::{Precision, UnknownPrecision};
