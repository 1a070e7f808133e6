//! The trainer's error type.

use std::path::PathBuf;

/// Anything that can stop data generation, training or evaluation.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The dataset manifest cannot be used at all (bad rows are skipped, not errors).
    #[error("{path}: {message}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A checkpoint cannot be read or does not belong to this run.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The engine (model, tokenizer, preprocessing).
    #[error(transparent)]
    Engine(#[from] arbor_engine::EngineError),
    /// Loading or saving the model.
    #[error(transparent)]
    Model(#[from] arbor_engine::ModelError),
    /// Writing a taxon index.
    #[error(transparent)]
    Index(#[from] arbor_index::IndexError),
    /// Settings that cannot work together.
    #[error("{0}")]
    Invalid(String),
}

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io { path: path.into(), source }
    }
}

/// Result alias of the trainer.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;
