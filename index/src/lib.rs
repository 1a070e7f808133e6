//! # arbor-index
//!
//! The taxon index at the heart of Arbor: for N taxa it stores the seven-rank
//! lineage, a common name and one unit-length embedding, in a single
//! memory-mapped file that opens in constant time. Taxa are kept in lineage
//! order, so every subtree (a class, an order, a genus) is one contiguous range
//! that can be scanned exactly; an HNSW graph, built with `hnsw_rs` and frozen
//! into flat neighbour tables, serves approximate search over the whole tree.
//! On top of raw scores, [`TaxonIndex::rank_top_k`] sums probabilities up the
//! tree the way pybioclip does, to answer at any rank.
//!
//! This crate knows nothing of models: vectors come in as `f32` rows.
//!
//! ```
//! use arbor_index::{IndexBuilder, Lineage, Rank, Scope, SearchMode, TaxonIndex, TaxonRecord, softmax};
//! let taxon = |g: &str, s: &str| TaxonRecord {
//!     lineage: Lineage::new(["Animalia", "Chordata", "Aves", "Passeriformes", "Corvidae", g, s]),
//!     common_name: String::new(),
//! };
//! let taxa = vec![taxon("Corvus", "corax"), taxon("Corvus", "corone"), taxon("Pica", "pica")];
//! let vectors = [1.0f32, 0.0, 0.8, 0.6, 0.0, 1.0];
//! let dir = tempfile::tempdir()?;
//! IndexBuilder::new(2).build(&taxa, &vectors, dir.path())?;
//!
//! let index = TaxonIndex::open(dir.path())?;
//! let hits = index.search(&[0.9, 0.1], 2, SearchMode::Exact, Scope::All)?;
//! assert_eq!(hits[0].taxon.0, 0);
//!
//! let corvus = index.find_one("Corvus")?;
//! let within = index.search(&[0.0, 1.0], 1, SearchMode::Exact, Scope::Within(&corvus))?;
//! assert_eq!(within[0].taxon.0, 1);
//!
//! let ids = index.scope_ids(Scope::All)?;
//! let scores = &index.scores_batch(&[0.0, 1.0], Scope::All)?[0];
//! let probs: Vec<_> = ids.into_iter().zip(softmax(scores, 10.0)).collect();
//! let genus = index.rank_top_k(&probs, Rank::Genus, 1, 1e-9)?;
//! assert_eq!(genus[0].path.last().map(String::as_str), Some("Pica"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod builder;
mod catalog;
mod dot;
mod error;
mod format;
mod graph;
mod hits;
mod index;
mod kind;
mod publish;
mod ranks;
mod search;
mod taxonomy;
mod vectors;
mod verify;

pub use builder::{BuildStage, INDEX_FILE, IndexBuilder, VectorSource};
pub use catalog::{TAXONOMY_COLUMNS, read_pybioclip_names, read_taxonomy_csv, write_taxonomy_csv};
pub use dot::{dot_f16, dot_f32};
pub use error::{IndexError, Result};
pub use format::{BuildInfo, Dtype, FORMAT_VERSION, HEADER_LEN, OLDEST_READABLE_VERSION, Section};
pub use graph::GraphParams;
pub use hits::Hit;
pub use index::{IndexInfo, TaxonIndex};
pub use kind::IndexKind;
pub use publish::{Existing, publish_dir, read_exact_at, write_atomically};
pub use ranks::{DEFAULT_MIN_PROB, RankHit, softmax};
pub use search::{EXACT_BATCH, EXACT_EF_FRACTION, ResolvedScope, Scope, SearchMode};
pub use taxonomy::{Lineage, Rank, Subtree, Taxon, TaxonId, TaxonRecord};
pub use vectors::{UNIT_TOLERANCE, check_vector, normalize};
pub use verify::VerifyReport;

/// Section table entries, for tools that inspect files (tests, `index info`).
pub mod layout {
    pub use crate::format::{ALIGN, Header, SectionEntry};
}
