//! Errors of the model module.

use std::path::PathBuf;

/// Everything that can go wrong when configuring, loading or running the CLIP model.
///
/// Every variant that concerns a file names it, and every variant that concerns a config key or a
/// tensor names that key or tensor, so a user can see what to fix without a debugger.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Publishing a model directory (the error names it).
    #[error(transparent)]
    Publish(#[from] arbor_index::IndexError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },

    /// A JSON file is not valid JSON or does not have the expected structure.
    #[error("{path}: invalid JSON: {message}")]
    Json {
        /// The JSON file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// A config key has a value of the wrong type or out of range.
    #[error("config key `{key}`: {message}")]
    InvalidConfig {
        /// Dotted path of the key, e.g. `model_cfg.vision_cfg.width`.
        key: String,
        /// What is wrong with its value.
        message: String,
    },

    /// A config asks for an open_clip feature this port does not implement.
    #[error("config key `{key}`: {message}; Arbor only implements open_clip's plain ViT CLIP")]
    UnsupportedConfig {
        /// Dotted path of the key.
        key: String,
        /// The unsupported value or feature.
        message: String,
    },

    /// A checkpoint or weights file is malformed (truncated, bad header, unreadable pickle).
    #[error("{path}: {message}")]
    Checkpoint {
        /// The weights file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// The checkpoint lacks tensors the model needs.
    #[error("{path}: missing tensor(s) {}", names.join(", "))]
    MissingTensors {
        /// The weights file.
        path: PathBuf,
        /// The missing open_clip key names.
        names: Vec<String>,
    },

    /// The checkpoint has tensors the model does not use (a different architecture).
    #[error("{path}: unexpected tensor(s) {}", names.join(", "))]
    UnexpectedTensors {
        /// The weights file.
        path: PathBuf,
        /// The unexpected key names.
        names: Vec<String>,
    },

    /// A tensor in the checkpoint has a shape that does not match the config.
    #[error("{path}: tensor `{name}` has shape {found:?}, expected {expected:?}")]
    TensorShape {
        /// The weights file.
        path: PathBuf,
        /// The open_clip key name.
        name: String,
        /// The shape the config implies.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },

    /// A model input has the wrong shape or holds invalid values.
    #[error("invalid {input}: {message}")]
    InvalidInput {
        /// Which input (`pixels` or `token ids`).
        input: &'static str,
        /// What is wrong.
        message: String,
    },

    /// The model cannot run in the precision asked for.
    #[error("precision {precision}: {message}")]
    Precision {
        /// The precision asked for.
        precision: arbor_kernels::Precision,
        /// Why not.
        message: String,
    },

    /// A packed matrix product was handed buffers of the wrong size (a bug in Arbor).
    #[error("matrix kernel: {0}")]
    Kernel(#[from] arbor_kernels::KernelError),

    /// A directory already exists where a new model directory was to be written.
    #[error("{0}: already exists; remove it or choose another output directory")]
    AlreadyExists(PathBuf),
}

impl ModelError {
    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    /// A malformed weights file.
    pub(crate) fn weights(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Checkpoint { path: path.into(), message: message.into() }
    }

    pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidConfig { key: key.into(), message: message.into() }
    }

    pub(crate) fn unsupported(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::UnsupportedConfig { key: key.into(), message: message.into() }
    }
}
