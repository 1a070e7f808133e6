//! Arbor engine (under construction).

pub mod preprocess;
pub use preprocess::{Pipeline, PixelTensor, PreprocessError, Preprocessor};
