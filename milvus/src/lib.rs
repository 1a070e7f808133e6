//! # arbor-milvus
//!
//! Photo collections past one machine: an Arbor collection's embeddings put into a Milvus
//! collection (one row per photo: the unit vector, the photo's path, and — where the photos
//! were classified — the predicted taxon at each rank with its score), indexed by HNSW with the
//! caller's M and efConstruction, and searched there by inner product with the caller's `ef`
//! and a taxon filter, all done by Milvus. The client speaks Milvus's gRPC protocol through
//! `tonic`, with the dozen messages it needs declared by hand (no protobuf compiler, no build
//! script), and reads with strong consistency, so a row inserted is a row found. The
//! collection's description records its format and the model that made its vectors; a
//! collection of another format, width or model is refused on open. Every error names the
//! `milvus://` URL (never its password).

#![warn(missing_docs)]

mod client;
mod collection;
mod proto;
mod url;

pub use collection::{Collection, DEFAULT_EF, FORMAT, Hit, Hnsw, IndexProgress, Layout, PhotoRow, RANKS, Search};
pub use url::MilvusUrl;

/// Anything that can go wrong talking to Milvus.
#[derive(Debug, thiserror::Error)]
pub enum MilvusError {
    /// Not a `milvus://host:port/collection` URL.
    #[error("{0:?} is not a Milvus URL (milvus://[USER:PASSWORD@]HOST:PORT/COLLECTION)")]
    Url(String),
    /// The server cannot be reached.
    #[error("{url}: cannot reach the Milvus server: {message}")]
    Connect {
        /// The URL.
        url: String,
        /// What the transport said.
        message: String,
    },
    /// The server refused the credentials (or their absence).
    #[error(
        "{url}: the Milvus server refused the sign-in: {message} (give milvus://USER:PASSWORD@… or set MILVUS_TOKEN)"
    )]
    Auth {
        /// The URL.
        url: String,
        /// What the server said.
        message: String,
    },
    /// The server answered with an error.
    #[error("{url}: Milvus refused {what}: {message} (code {code})")]
    Server {
        /// The URL.
        url: String,
        /// The request.
        what: &'static str,
        /// Milvus's code.
        code: i64,
        /// Milvus's message.
        message: String,
    },
    /// The collection does not fit what is asked of it.
    #[error("{url}: {message}")]
    Mismatch {
        /// The URL.
        url: String,
        /// What does not fit.
        message: String,
    },
}

/// Result alias.
pub type Result<T, E = MilvusError> = std::result::Result<T, E>;
