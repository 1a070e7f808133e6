//! Arbor engine (under construction).

pub mod tokenizer;
pub use tokenizer::Tokenizer;

pub mod preprocess;
pub use preprocess::{Pipeline, PixelTensor, PreprocessError, Preprocessor};
