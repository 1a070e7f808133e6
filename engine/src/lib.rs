//! Arbor engine (under construction).

pub mod tokenizer;
pub use tokenizer::Tokenizer;
