//! Photo collections in Milvus, through the engine: the same checks as a local collection (the
//! collection's model must be the engine's) and one road for every way photos get there. A
//! [`MilvusWriter`] takes rows a batch at a time, asks Milvus which it already holds, and
//! inserts the others with their predicted lineage when the engine has a tree of life; so
//! `collection export`, `collection build --to` and `collection add milvus://…` all resume
//! where an interrupted run stopped.

use std::num::NonZeroUsize;
use std::time::Duration;

use arbor_index::{Rank, Scope};
pub use arbor_milvus::{
    Collection as MilvusCollection, Hnsw, IndexProgress, Layout, MilvusError, MilvusUrl, Search as MilvusSearch,
};

use crate::{Answer, Classifier, Engine, EngineError, PhotoHit, Result, TreeQuestion};

impl Engine {
    /// Opens a Milvus photo collection made by this engine's model.
    ///
    /// # Errors
    /// The server cannot be reached, the collection is missing, or it holds another model's
    /// vectors (or vectors of another width).
    pub fn open_milvus(&self, url: &MilvusUrl) -> Result<MilvusCollection> {
        Ok(MilvusCollection::open(url, self.dim(), self.identity().image())?)
    }

    /// Opens a Milvus photo collection for this engine's model, creating it with `layout` if
    /// it does not exist; says whether it was created.
    ///
    /// # Errors
    /// As [`Engine::open_milvus`], or the server refuses to create it.
    pub fn create_milvus(&self, url: &MilvusUrl, layout: Layout) -> Result<(MilvusCollection, bool)> {
        Ok(MilvusCollection::create_or_open(url, self.dim(), self.identity().image(), layout)?)
    }

    /// The photos of a Milvus collection nearest a unit query (from [`Engine::embed_image`] or
    /// [`Engine::embed_text`]), ranked and filtered by Milvus.
    ///
    /// # Errors
    /// The query is not of the engine's width, or the server refuses.
    pub fn search_milvus(
        &self,
        collection: &MilvusCollection,
        query: &[f32],
        search: MilvusSearch<'_>,
    ) -> Result<Vec<PhotoHit>> {
        arbor_index::check_vector(0, query, self.dim(), false)?;
        let hits = collection.search(query, search)?;
        Ok(hits.into_iter().map(|h| PhotoHit { path: h.path, score: h.score }).collect())
    }

    /// A writer into `collection` that adds each photo's predicted lineage when this engine
    /// has a tree of life.
    ///
    /// # Errors
    /// The tree cannot be read.
    pub fn milvus_writer<'e>(&'e self, collection: &'e MilvusCollection) -> Result<MilvusWriter<'e>> {
        let lineage = match self.index() {
            Ok(_) => Some(Classifier::Tree {
                classifier: self.tree_classifier(Scope::All)?,
                question: TreeQuestion::Top { rank: Rank::Species, k: NonZeroUsize::MIN },
            }),
            Err(_) => None,
        };
        Ok(MilvusWriter { collection, lineage, dim: self.dim(), inserted: 0, present: 0 })
    }
}

/// Rows into a Milvus collection, only those it lacks, with their lineage when known.
pub struct MilvusWriter<'e> {
    collection: &'e MilvusCollection,
    lineage: Option<Classifier<'e>>,
    dim: usize,
    inserted: usize,
    present: usize,
}

impl<'e> MilvusWriter<'e> {
    /// A writer that stores no lineage (rows from a collection with no tree of life at hand).
    pub fn without_lineage(collection: &'e MilvusCollection) -> MilvusWriter<'e> {
        MilvusWriter { collection, lineage: None, dim: collection.dim(), inserted: 0, present: 0 }
    }

    /// Which of `keys` (photo keys, see [`crate::photo_key`]) the collection lacks: their
    /// positions in `keys`. The others count as present.
    ///
    /// # Errors
    /// The server refuses.
    pub fn missing(&mut self, keys: &[String]) -> Result<Vec<usize>> {
        let have = self.collection.existing(keys)?;
        let missing: Vec<usize> = (0..keys.len()).filter(|&i| !have.contains(&keys[i])).collect();
        self.present += keys.len() - missing.len();
        Ok(missing)
    }

    /// Inserts one row per key (`rows`: unit vectors, row-major), each with its predicted
    /// lineage when the writer has a tree.
    ///
    /// # Errors
    /// `rows` is not one row per key, or the server refuses.
    pub fn insert(&mut self, keys: &[String], rows: &[f32]) -> Result<usize> {
        if rows.len() != keys.len() * self.dim {
            return Err(EngineError::Invalid(format!("{} values for {} rows of {}", rows.len(), keys.len(), self.dim)));
        }
        let lineages: Vec<Option<([String; 7], f32)>> = match &self.lineage {
            Some(c) => c.answer(rows, self.dim)?.into_iter().map(lineage_of).collect(),
            None => vec![None; keys.len()],
        };
        let photo_rows: Vec<arbor_milvus::PhotoRow> = keys
            .iter()
            .zip(rows.chunks_exact(self.dim))
            .zip(lineages)
            .map(|((key, vector), lineage)| arbor_milvus::PhotoRow {
                path: key.clone(),
                vector: vector.to_vec(),
                lineage,
            })
            .collect();
        let n = self.collection.insert(&photo_rows)?;
        self.inserted += n;
        Ok(n)
    }

    /// Rows inserted so far.
    pub fn inserted(&self) -> usize {
        self.inserted
    }

    /// Keys found already present so far.
    pub fn present(&self) -> usize {
        self.present
    }

    /// Ends the run: seals the rows into segments and waits until the vector index covers them
    /// (calling `progress` as it grows), so searches right after use the HNSW graph.
    ///
    /// # Errors
    /// The server refuses, or the index build stops making progress for ten minutes.
    pub fn finish(self, progress: impl FnMut(IndexProgress)) -> Result<()> {
        self.collection.flush(Duration::from_secs(600))?;
        self.collection.wait_indexed(Duration::from_secs(600), progress)?;
        Ok(())
    }
}

/// A photo's predicted species as Milvus's lineage fields (the species as its binomial).
fn lineage_of(answer: Answer) -> Option<([String; 7], f32)> {
    let Answer::Taxa(hits) = answer else { return None };
    let hit = hits.into_iter().next()?;
    let mut path: [String; 7] = hit.path.try_into().ok()?;
    path[6] = format!("{} {}", path[5], path[6]);
    Some((path, hit.score))
}
