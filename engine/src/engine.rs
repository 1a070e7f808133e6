//! [`Engine`]: the one handle a program needs — a model and, optionally, a tree of life —
//! with every question the engine answers as a method.

use std::path::Path;

use arbor_index::{Rank, RankHit, Scope, TaxonId, TaxonIndex};
use rayon::prelude::*;

use crate::captions::Templates;
use crate::centroids::{CentroidHit, Centroids};
use crate::embedder::{Embedder, normalize_row, normalize_rows};
use crate::error::{EngineError, Result};
use crate::label_cache::LabelCache;
use crate::preprocess::PixelTensor;
use crate::zeroshot::{LabelClassifier, LabelHit, TreeClassifier};

/// An image in any of the forms a program may hold one.
#[derive(Debug, Clone, Copy)]
pub enum Image<'a> {
    /// A file to read and decode.
    Path(&'a Path),
    /// An encoded image (JPEG or PNG) in memory; `name` labels errors.
    Bytes {
        /// The encoded file.
        bytes: &'a [u8],
        /// What to call it in error messages.
        name: &'a str,
    },
    /// An image already preprocessed for this model (see [`Engine::preprocessor`]).
    Pixels(&'a PixelTensor),
}

impl<'a> From<&'a Path> for Image<'a> {
    fn from(path: &'a Path) -> Self {
        Image::Path(path)
    }
}

impl<'a> From<&'a std::path::PathBuf> for Image<'a> {
    fn from(path: &'a std::path::PathBuf) -> Self {
        Image::Path(path)
    }
}

impl<'a> From<&'a PixelTensor> for Image<'a> {
    fn from(pixels: &'a PixelTensor) -> Self {
        Image::Pixels(pixels)
    }
}

/// A model, an optional memory-mapped taxon index and a label cache. Opening costs one model
/// load and an index header read; the handle is `Send + Sync`, so one engine serves every
/// thread of a program.
///
/// Every embedding the engine returns is L2-normalised: cosine similarity is what CLIP's
/// zero-shot logits, few-shot centroids and photo search all compare.
pub struct Engine {
    embedder: Embedder,
    index: Option<TaxonIndex>,
    labels: LabelCache,
}

impl Engine {
    /// Opens an Arbor model directory (see `arbor import openclip`), without a tree of life:
    /// enough for custom labels, few-shot and embedding.
    ///
    /// # Errors
    /// The model directory is missing or damaged.
    pub fn open(model_dir: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::from_parts(Embedder::open(model_dir)?, None))
    }

    /// Opens a model directory and a taxon index (see `arbor index`).
    ///
    /// # Errors
    /// Either is missing or damaged, or the index's vectors are not as wide as the model's.
    pub fn open_with_index(model_dir: impl AsRef<Path>, index_dir: impl AsRef<Path>) -> Result<Self> {
        let embedder = Embedder::open(model_dir)?;
        let index = TaxonIndex::open(index_dir)?;
        if index.dim() != embedder.dim() {
            return Err(EngineError::Invalid(format!(
                "{}: vectors of width {}, the model embeds to width {}",
                index.path().display(),
                index.dim(),
                embedder.dim()
            )));
        }
        Ok(Self::from_parts(embedder, Some(index)))
    }

    /// An engine from an embedder configured by hand (another pipeline, EXIF orientation)
    /// and an optional index.
    pub fn from_parts(embedder: Embedder, index: Option<TaxonIndex>) -> Self {
        Engine { embedder, index, labels: LabelCache::new(LabelCache::default_dir()) }
    }

    /// Caches custom-label embeddings in `cache` instead of the default location.
    pub fn with_label_cache(mut self, cache: LabelCache) -> Self {
        self.labels = cache;
        self
    }

    /// The model with its tokenizer and image pipeline.
    pub fn embedder(&self) -> &Embedder {
        &self.embedder
    }

    /// The image pipeline, to prepare [`Image::Pixels`] inputs ahead of time.
    pub fn preprocessor(&self) -> &crate::Preprocessor {
        self.embedder.preprocessor()
    }

    /// The tree of life.
    ///
    /// # Errors
    /// The engine was opened without one.
    pub fn index(&self) -> Result<&TaxonIndex> {
        self.index.as_ref().ok_or_else(|| EngineError::Invalid("this engine was opened without a taxon index".into()))
    }

    /// The unit image embedding of one image.
    ///
    /// # Errors
    /// The image cannot be read or decoded (the error names it).
    pub fn embed_image<'i>(&self, image: impl Into<Image<'i>>) -> Result<Vec<f32>> {
        self.embed_images(&[image.into()])
    }

    /// Unit image embeddings, row-major, decoding on all cores and running the model once.
    ///
    /// # Errors
    /// The first image that cannot be read or decoded.
    pub fn embed_images(&self, images: &[Image<'_>]) -> Result<Vec<f32>> {
        let prep = self.embedder.preprocessor();
        let pixels: Vec<PixelTensor> = images
            .par_iter()
            .map(|image| match image {
                Image::Path(p) => Ok(prep.load(p)?),
                Image::Bytes { bytes, name } => Ok(prep.from_bytes(bytes, name)?),
                Image::Pixels(p) if p.size() != prep.size() => Err(EngineError::Invalid(format!(
                    "a preprocessed image of side {}, the model takes side {}",
                    p.size(),
                    prep.size()
                ))),
                Image::Pixels(p) => Ok((*p).clone()),
            })
            .collect::<Result<_>>()?;
        let mut rows = self.embedder.embed_pixels(&pixels)?;
        normalize_rows(&mut rows, self.embedder.dim());
        Ok(rows)
    }

    /// The unit text embedding of `text`, through `templates` (pybioclip's recipe with
    /// [`Templates::OpenAi80`]).
    ///
    /// # Errors
    /// The model fails to run.
    pub fn embed_text(&self, text: &str, templates: Templates) -> Result<Vec<f32>> {
        let mut row = self.embedder.embed_labels(&[text.to_string()], templates, |_| {})?;
        normalize_row(&mut row);
        Ok(row)
    }

    /// The taxa under any of `names` (each a name at any rank: "Aves", "Corvus corax"), for
    /// [`Scope::Taxa`] — pybioclip's `--subset`.
    ///
    /// # Errors
    /// No index, or a name that is in no lineage.
    pub fn taxa_named(&self, names: &[&str]) -> Result<Vec<TaxonId>> {
        let index = self.index()?;
        let mut ids = Vec::new();
        for name in names {
            for sub in index.find(name)? {
                ids.extend(index.scope_ids(Scope::Within(&sub))?);
            }
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// A classifier over `scope` of the tree, with this model's logit scale. Build it once and
    /// reuse it: it keeps the scope resolved between images.
    ///
    /// # Errors
    /// No index.
    pub fn tree_classifier<'a>(&'a self, scope: Scope<'a>) -> Result<TreeClassifier<'a>> {
        Ok(TreeClassifier::new(self.index()?, scope, self.embedder.logit_scale()))
    }

    /// The `k` best answers at `rank` over the whole tree, with pybioclip's probabilities.
    ///
    /// # Errors
    /// No index, or the image cannot be read.
    pub fn classify<'i>(&self, image: impl Into<Image<'i>>, rank: Rank, k: usize) -> Result<Vec<RankHit>> {
        self.classify_with(&self.tree_classifier(Scope::All)?, image, rank, k)
    }

    /// The `k` best answers at `rank` from a classifier of [`Engine::tree_classifier`] (a
    /// subtree, a subset, approximate softmax).
    ///
    /// # Errors
    /// The image cannot be read.
    pub fn classify_with<'i>(
        &self,
        classifier: &TreeClassifier<'_>,
        image: impl Into<Image<'i>>,
        rank: Rank,
        k: usize,
    ) -> Result<Vec<RankHit>> {
        let feature = self.embed_image(image)?;
        Ok(classifier.classify(&feature, rank, k)?.pop().unwrap_or_default())
    }

    /// A classifier over the user's own labels (through the 80 templates, embeddings cached on
    /// disk), optionally summed into bins: `bins[i]` is the bin of `labels[i]`.
    ///
    /// # Errors
    /// No labels, bins that do not match, or a cache that cannot be written.
    pub fn label_classifier(&self, labels: &[String], bins: Option<Vec<String>>) -> Result<LabelClassifier> {
        let (vectors, _) = self.labels.embed(&self.embedder, labels, Templates::OpenAi80, |_| {})?;
        let classifier = LabelClassifier::new(labels.to_vec(), vectors, self.embedder.logit_scale())?;
        match bins {
            Some(bins) => classifier.with_bins(bins),
            None => Ok(classifier),
        }
    }

    /// Answers of a [`LabelClassifier`] for one image, best first (all, or the first `k`).
    ///
    /// # Errors
    /// The image cannot be read.
    pub fn classify_labels<'i>(
        &self,
        classifier: &LabelClassifier,
        image: impl Into<Image<'i>>,
        k: Option<usize>,
    ) -> Result<Vec<LabelHit>> {
        Ok(classifier.classify(&self.embed_image(image)?, k))
    }

    /// Few-shot centroids (SimpleShot) from labelled support images.
    ///
    /// # Errors
    /// An image cannot be read, or there is no support.
    pub fn fit_few_shot(&self, support: &[(Image<'_>, &str)]) -> Result<Centroids> {
        let images: Vec<Image<'_>> = support.iter().map(|(i, _)| *i).collect();
        let labels: Vec<String> = support.iter().map(|(_, l)| (*l).to_string()).collect();
        Centroids::fit(&labels, &self.embed_images(&images)?, self.embedder.dim())
    }

    /// The `k` nearest few-shot classes of one image.
    ///
    /// # Errors
    /// The image cannot be read, or the centroids are of another width.
    pub fn classify_few_shot<'i>(
        &self,
        centroids: &Centroids,
        image: impl Into<Image<'i>>,
        k: usize,
    ) -> Result<Vec<CentroidHit>> {
        centroids.classify(&self.embed_image(image)?, k)
    }

    /// Saves centroids tagged with this engine's model, for [`Engine::load_centroids`].
    ///
    /// # Errors
    /// As [`Centroids::save`].
    pub fn save_centroids(&self, centroids: &Centroids, dir: impl AsRef<Path>) -> Result<()> {
        centroids.save(dir, self.embedder.identity())
    }

    /// Loads centroids, refusing those fitted with another model: their geometry means nothing
    /// to this model's embeddings.
    ///
    /// # Errors
    /// A missing or damaged directory, or centroids of another model.
    pub fn load_centroids(&self, dir: impl AsRef<Path>) -> Result<Centroids> {
        let dir = dir.as_ref();
        let (centroids, identity) = Centroids::load(dir)?;
        if identity != self.embedder.identity() {
            return Err(EngineError::Invalid(format!(
                "{}: centroids were fitted with model {}, not this one ({})",
                dir.display(),
                short(&identity),
                short(self.embedder.identity())
            )));
        }
        Ok(centroids)
    }
}

fn short(identity: &str) -> String {
    identity.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn engine_is_send_and_sync() {
        fn shared<T: Send + Sync>() {}
        shared::<super::Engine>();
    }
}
