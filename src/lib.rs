//! # Arbor
//!
//! BioCLIP — OpenAI's CLIP ViT-B/16 fine-tuned on the tree of life — as an
//! embedded species search engine in Rust: load an open_clip checkpoint once
//! (`arbor import openclip`), build or import a taxon index, and classify photos
//! at any rank from kingdom to species with the same numbers as open_clip and
//! pybioclip, on a CPU, with no Python.
//!
//! This facade re-exports the crates' public API: [`index`] (the memory-mapped
//! taxon index, no ML dependencies) and [`engine`] (tokenizer, image
//! preprocessing, the CLIP model in burn, zero-shot classification).
//!
//! ```no_run
//! use arbor::{Embedder, Rank, Scope, TaxonIndex, TreeClassifier};
//! let embedder = Embedder::open("bioclip")?;          // an Arbor model directory
//! let index = TaxonIndex::open("tol-index")?;          // a taxon index
//! let classifier = TreeClassifier::new(&index, Scope::All, embedder.logit_scale());
//! let mut features = Vec::new();
//! embedder.embed_files(&["raven.jpg".into()], 8, |_, r| features = r.expect("readable image"))?;
//! arbor::engine::embedder::normalize_row(&mut features);
//! for hit in &classifier.classify(&features, Rank::Family, 3)?[0] {
//!     println!("{} {:.3}", hit.path.join(" "), hit.score);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use arbor_engine as engine;
pub use arbor_index as index;

pub use arbor_engine::{
    Embedder, EngineError, LabelCache, LabelClassifier, LabelHit, Pipeline, Preprocessor, Softmax, Templates, TextType,
    Tokenizer, TreeClassifier,
};
pub use arbor_index::{
    Dtype, GraphParams, Hit, IndexBuilder, IndexError, Lineage, Rank, RankHit, Scope, SearchMode, Subtree, Taxon,
    TaxonId, TaxonIndex, TaxonRecord,
};
