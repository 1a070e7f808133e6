//! The one error type of the index crate.

use std::path::PathBuf;

/// Everything that can go wrong while building, opening or querying an index.
///
/// Errors about files always carry the path, so a CLI can print them as they are.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// An operating-system error on a file.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not an Arbor index, is damaged, or was truncated.
    #[error("{path}: corrupt index: {problem}")]
    Corrupt {
        /// The index file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The file is an Arbor index of a format version this build cannot read.
    #[error("{path}: index format version {found}, this build reads version {supported}")]
    Version {
        /// The index file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The file is an index of another kind than the command needs.
    #[error("{path}: this is {}, not {}", found.describe(), expected.describe())]
    WrongKind {
        /// The index file.
        path: PathBuf,
        /// What the file holds.
        found: crate::IndexKind,
        /// What was asked for.
        expected: crate::IndexKind,
    },
    /// A vector given by the caller is unusable.
    #[error("vector {row}: {problem}")]
    BadVector {
        /// Row of the vector in the caller's input (0-based).
        row: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// Taxonomy input that cannot be indexed.
    #[error("{source_name}: {problem}")]
    BadTaxonomy {
        /// Where the taxonomy came from (a file name, or "input").
        source_name: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A name that matches no taxon at any rank.
    #[error("no taxon is named {0:?}")]
    UnknownName(String),
    /// A request the index cannot serve as asked.
    #[error("{0}")]
    BadRequest(String),
}

impl IndexError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        IndexError::Io { path: path.into(), source }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        IndexError::Corrupt { path: path.into(), problem: problem.into() }
    }
}

/// Result alias of the index crate.
pub type Result<T, E = IndexError> = std::result::Result<T, E>;
