//! Arbor engine (under construction).

pub mod captions;
pub use captions::{OPENAI_IMAGENET_TEMPLATES, Templates, TextType};

pub mod tokenizer;
pub use tokenizer::Tokenizer;

pub mod preprocess;
pub use preprocess::{Pipeline, PixelTensor, PreprocessError, Preprocessor};
