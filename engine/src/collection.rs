//! A user's photo collection, searchable by image or by text.
//!
//! A collection is an ordinary Arbor index whose "taxa" are photos: the photo's path is the
//! record's common name, its unit image embedding the vector, and the model that embedded them
//! is recorded in the file's build info. Reusing the taxon index format gives collections the
//! same O(1) memory-mapped open, checksums, exact GEMM scans and atomic rewrites for free.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use arbor_index::{GraphParams, IndexBuilder, IndexKind, SearchMode, TaxonId, TaxonIndex, TaxonRecord};

use crate::error::{EngineError, Result};

/// Above this many photos a collection gets an HNSW graph; below it an exact scan is fast enough
/// (and exact).
pub const GRAPH_THRESHOLD: usize = 50_000;
/// Beam width of approximate collection searches.
const SEARCH_EF: usize = 256;

/// What index format 1 recorded of a collection (as JSON in the free-text `source` field).
#[derive(serde::Deserialize)]
struct CollectionMetaV1 {
    model_identity: String,
}

/// A photo collection opened from disk: memory-mapped, `Send + Sync`.
pub struct Collection {
    index: TaxonIndex,
    model_identity: String,
}

/// One search answer: a photo and its cosine similarity to the query.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PhotoHit {
    /// The photo's path as stored (absolute when the file existed at build time).
    pub path: String,
    /// Cosine similarity between the query and the photo.
    pub score: f32,
}

impl Collection {
    /// Opens a collection directory.
    ///
    /// # Errors
    /// A missing or damaged index (the error names the file), or an index that is not a
    /// collection (e.g. a tree of life).
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let index = TaxonIndex::open_kind(dir, IndexKind::Collection)?;
        let model_identity = match index.model_identity() {
            Some(identity) => identity.to_owned(),
            // Format 1 kept the identity in the free-text source.
            None => serde_json::from_str::<CollectionMetaV1>(&index.info().meta.source)
                .map(|m| m.model_identity)
                .map_err(|e| {
                    EngineError::Invalid(format!("{}: unreadable collection metadata: {e}", index.path().display()))
                })?,
        };
        Ok(Collection { index, model_identity })
    }

    /// Writes a collection of `paths` with their unit embeddings (row-major, in path order) to
    /// directory `dir`, replacing any collection there atomically.
    ///
    /// # Errors
    /// No photos, embeddings that are not unit rows of one width, or a file that cannot be
    /// written.
    pub fn write(dir: impl AsRef<Path>, model_identity: &str, paths: &[String], vectors: &[f32]) -> Result<()> {
        let dir = dir.as_ref();
        if paths.is_empty() || !vectors.len().is_multiple_of(paths.len()) {
            return Err(EngineError::Invalid(format!(
                "{}: a collection needs at least one photo ({} paths, {} numbers)",
                dir.display(),
                paths.len(),
                vectors.len()
            )));
        }
        let dim = vectors.len() / paths.len();
        let records: Vec<TaxonRecord> =
            paths.iter().map(|p| TaxonRecord { common_name: p.clone(), ..Default::default() }).collect();
        let graph = (paths.len() >= GRAPH_THRESHOLD).then(GraphParams::default);
        IndexBuilder::new(dim)
            .graph(graph)
            .kind(IndexKind::Collection)
            .model(model_identity)
            .source("arbor photo collection")
            .build(&records, vectors, dir)?;
        Ok(())
    }

    /// The identity of the model that embedded the photos: queries must come from the same one.
    pub fn model_identity(&self) -> &str {
        &self.model_identity
    }

    /// Number of photos.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Always false: empty collections are never written.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Embedding width.
    pub fn dim(&self) -> usize {
        self.index.dim()
    }

    /// The index file.
    pub fn path(&self) -> &Path {
        self.index.path()
    }

    /// The photos' paths, in insertion order.
    pub fn paths(&self) -> Result<Vec<String>> {
        (0..self.len() as u32).map(|i| Ok(self.index.taxon(TaxonId(i))?.common_name)).collect()
    }

    /// Every photo's path and embedding, in insertion order: what [`Collection::write`] needs to
    /// append to a collection without embedding its photos again.
    pub fn entries(&self) -> Result<(Vec<String>, Vec<f32>)> {
        let mut vectors = Vec::with_capacity(self.len() * self.dim());
        for i in 0..self.len() as u32 {
            vectors.extend(self.index.vector(TaxonId(i))?);
        }
        Ok((self.paths()?, vectors))
    }

    /// The set of stored paths, to skip photos already present.
    pub fn path_set(&self) -> Result<HashSet<String>> {
        Ok(self.paths()?.into_iter().collect())
    }

    /// The `k` photos nearest to a unit query embedding (image or text), best first.
    ///
    /// # Errors
    /// A query of the wrong width or not finite.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<PhotoHit>> {
        self.search_with(query, k, None)
    }

    /// As [`Collection::search`], with the graph's beam width `ef` (256 when `None`; a
    /// collection too small for a graph is searched exactly whatever `ef`).
    ///
    /// # Errors
    /// A query of the wrong width or not finite.
    pub fn search_with(&self, query: &[f32], k: usize, ef: Option<usize>) -> Result<Vec<PhotoHit>> {
        let ef = ef.unwrap_or(SEARCH_EF).max(k);
        let mode = if self.index.has_graph() { SearchMode::Approximate { ef } } else { SearchMode::Exact };
        let hits = self.index.search(query, k, mode, arbor_index::Scope::All)?;
        hits.into_iter()
            .map(|h| Ok(PhotoHit { path: self.index.taxon(h.taxon)?.common_name, score: h.score }))
            .collect()
    }
}

/// The path a photo is stored under: absolute, so a collection built from one folder is
/// searched and extended from any other; as given when it cannot be resolved.
pub fn photo_key(path: &Path) -> String {
    std::fs::canonicalize(path).unwrap_or_else(|_| PathBuf::from(path)).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_collections_search_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<String> = ["a.jpg", "b.jpg", "c.jpg"].map(String::from).to_vec();
        let vectors = [1.0, 0.0, 0.6, 0.8, 0.0, 1.0];
        Collection::write(dir.path(), "m1", &paths, &vectors).unwrap();
        let c = Collection::open(dir.path()).unwrap();
        assert_eq!((c.len(), c.dim(), c.model_identity()), (3, 2, "m1"));
        assert_eq!(c.entries().unwrap(), (paths.clone(), vectors.to_vec()));
        let hits = c.search(&[0.0, 1.0], 2).unwrap();
        assert_eq!(hits.iter().map(|h| h.path.as_str()).collect::<Vec<_>>(), ["c.jpg", "b.jpg"]);
        assert!(c.search(&[1.0], 1).is_err());
    }

    #[test]
    fn a_tree_of_life_is_not_a_collection() {
        let dir = tempfile::tempdir().unwrap();
        IndexBuilder::new(2).graph(None).build(&[TaxonRecord::default()], &[1.0, 0.0], dir.path()).unwrap();
        let e = Collection::open(dir.path()).err().unwrap().to_string();
        assert!(e.contains("not a photo collection") && e.contains("tree of life") && e.contains("index.arbor"), "{e}");
    }
}
