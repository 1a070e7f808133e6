//! Arbor engine (under construction).

pub mod captions;
pub use captions::{OPENAI_IMAGENET_TEMPLATES, Templates, TextType};

pub mod tokenizer;
pub use tokenizer::Tokenizer;

pub mod preprocess;
pub use preprocess::{Pipeline, PixelTensor, PreprocessError, Preprocessor};

pub mod embedder;
pub mod error;
pub use embedder::{Embedder, normalize_row, normalize_rows};
pub use error::{EngineError, Result};

pub mod centroids;
pub use centroids::{CentroidHit, Centroids, FewShotScore, evaluate_few_shot};

pub mod label_cache;
pub mod zeroshot;
pub use label_cache::LabelCache;
pub use zeroshot::{LabelClassifier, LabelHit, Softmax, TreeClassifier};

pub mod model;
pub use model::{Clip, ClipConfig};
