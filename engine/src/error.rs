//! The engine's error type: one enum over the stages a photo or label goes through.

use std::path::PathBuf;

use crate::model::ModelError;
use crate::preprocess::PreprocessError;
use crate::tokenizer::TokenizerError;

/// Anything that can go wrong between an input and an answer.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Loading or running the model.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Decoding or preprocessing an image (names the file).
    #[error(transparent)]
    Image(#[from] PreprocessError),
    /// The tokenizer's vocabulary.
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    /// The taxon index.
    #[error(transparent)]
    Index(#[from] arbor_index::IndexError),
    /// A file operation outside the stages above.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A photo collection in Milvus (names the `milvus://` URL).
    #[cfg(feature = "milvus")]
    #[error(transparent)]
    Milvus(#[from] arbor_milvus::MilvusError),
    /// Input that cannot be used as given.
    #[error("{0}")]
    Invalid(String),
}

/// Result alias of the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
