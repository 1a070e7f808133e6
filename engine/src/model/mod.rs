//! The CLIP model of open_clip (the architecture of BioCLIP and BioCLIP 2), in burn.
//!
//! The port reproduces open_clip's `CLIP` class for plain ViT image towers and the causal text
//! transformer: same module tree, same parameter names, same numerics (within float32 rounding).
//! A checkpoint's state_dict therefore maps one-to-one onto [`Clip`]:
//!
//! * [`ClipConfig`] parses open_clip's `open_clip_config.json` and refuses every option this
//!   architecture does not implement, so a config can never silently build a different model.
//! * [`Clip`] is generic over the burn [`Backend`](burn::tensor::backend::Backend); [`Cpu`] is the
//!   default CPU backend.
//! * [`StateDict`] reads open_clip checkpoints (`.safetensors`, or torch `.bin` zip pickles read
//!   without executing any Python) and [`Clip::from_state_dict`] builds the model from them,
//!   failing on any missing, unexpected or wrong-shaped tensor.
//! * [`import_openclip`] converts a checkpoint into an Arbor model directory that
//!   [`ModelDir::open`] loads quickly.

#![warn(missing_docs)]

mod clip;
mod config;
mod error;
mod kernels;
mod model_dir;
mod open_clip_json;
mod packed;
mod params;
mod state_dict;
mod text;
mod transformer;
mod vision;

pub(crate) use clip::host_values;
pub use clip::{Clip, TextTrace, VisionTrace, normalize as normalize_features, tensor_names};
pub use config::{Activation, ClipConfig, Interpolation, PreprocessConfig, ResizeMode, TextConfig, VisionConfig};
pub use error::ModelError;
pub use model_dir::{ImageTransform, Imported, ModelDir, ModelManifest, import_openclip, import_openclip_as};
pub use packed::PrecisionPlan;
pub use state_dict::StateDict;

/// The default CPU backend: burn's pure-Rust `flex` backend (multithreaded `gemm`).
pub type Cpu = burn_flex::Flex;

/// burn's CUDA backend (feature `cuda`), for GPUs.
#[cfg(feature = "cuda")]
pub type Cuda = burn::backend::Cuda;
