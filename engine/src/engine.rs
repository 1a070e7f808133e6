//! [`Engine`]: the one handle a program needs — a model and, optionally, a tree of life —
//! with every question the engine answers as a method. The CLI is a client of this type:
//! every check on what may be combined with what lives here, once.

use std::path::{Path, PathBuf};

use arbor_index::{IndexKind, Rank, RankHit, Scope, TaxonId, TaxonIndex};
use arbor_kernels::Precision;
use rayon::prelude::*;

use crate::captions::Templates;
use crate::centroids::{CentroidHit, Centroids};
use crate::classify::{Answer, Classifier};
use crate::collection::Collection;
use crate::embedder::{Embedder, normalize_row, normalize_rows};
use crate::error::{EngineError, Result};
use crate::identity::{ModelIdentity, short_identity};
use crate::label_cache::LabelCache;
use crate::preprocess::{ColorMode, DecodedImage, Pipeline, PixelTensor, Preprocessor};
use crate::zeroshot::{LabelClassifier, LabelHit, TreeClassifier};

/// An image in any of the forms a program may hold one. All four embed alike:
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::path::Path;
/// use arbor_engine::{Engine, Image};
/// let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/openclip");
/// let work = tempfile::tempdir()?;
/// let model = work.path().join("model");
/// arbor_engine::import_openclip(
///     format!("{fixtures}/tiny_gelu/model.safetensors"),
///     format!("{fixtures}/tiny_gelu/open_clip_config.json"),
///     &model,
/// )?;
/// let engine = Engine::open(&model)?;
/// let path = format!("{fixtures}/images/chelsea.png");
/// let from_path = engine.embed_image(Image::Path(Path::new(&path)))?;
///
/// let bytes = std::fs::read(&path)?;
/// let from_bytes = engine.embed_image(Image::Bytes { bytes: &bytes, name: "chelsea.png" })?;
///
/// let decoded = engine.preprocessor().decode(&bytes, "chelsea.png")?;
/// let rgb = decoded.to_rgb();
/// let from_rgb = engine.embed_image(Image::Rgb { width: decoded.width(), height: decoded.height(), pixels: &rgb })?;
///
/// let pixels = engine.preprocessor().load(&path)?;
/// let from_pixels = engine.embed_image(Image::Pixels(&pixels))?;
///
/// assert_eq!(from_bytes, from_path);
/// assert_eq!(from_pixels, from_path);
/// assert!(from_rgb.iter().zip(&from_path).all(|(a, b)| (a - b).abs() < 1e-6));
/// # Ok(()) }
/// ```
///
/// A folder is found with [`crate::find_photos`] and answered with [`Engine::classify_files`].
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
    /// Decoded 8-bit RGB pixels, row-major and interleaved (`width * height * 3` bytes), as a
    /// camera or another decoder hands them over.
    Rgb {
        /// Width in pixels.
        width: usize,
        /// Height in pixels.
        height: usize,
        /// The pixels.
        pixels: &'a [u8],
    },
    /// An image already preprocessed for this model (see [`Engine::preprocessor`]).
    Pixels(&'a PixelTensor),
}

impl<'a> From<&'a Path> for Image<'a> {
    fn from(path: &'a Path) -> Self {
        Image::Path(path)
    }
}

impl<'a> From<&'a PathBuf> for Image<'a> {
    fn from(path: &'a PathBuf) -> Self {
        Image::Path(path)
    }
}

impl<'a> From<&'a PixelTensor> for Image<'a> {
    fn from(pixels: &'a PixelTensor) -> Self {
        Image::Pixels(pixels)
    }
}

/// How to open an [`Engine`]: the model directory and what goes with it.
///
/// ```no_run
/// # fn main() -> arbor_engine::Result<()> {
/// use arbor_engine::{Engine, Pipeline};
/// let engine = Engine::builder("bioclip").index("tol-index").pipeline(Pipeline::Crop).exif_orientation(true).open()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct EngineBuilder {
    model: PathBuf,
    index: Option<PathBuf>,
    pipeline: Option<Pipeline>,
    exif_orientation: bool,
    label_cache: Option<LabelCache>,
    precision: Precision,
}

impl EngineBuilder {
    /// The precision of the towers' matrix products (default f32, the reference numerics; see
    /// [`Precision`] and [`Clip::with_precision`](crate::Clip::with_precision)).
    pub fn precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// A tree of life to classify against (see `arbor index`).
    pub fn index(mut self, dir: impl Into<PathBuf>) -> Self {
        self.index = Some(dir.into());
        self
    }

    /// The image pipeline (default: the one the model directory names).
    pub fn pipeline(mut self, pipeline: Pipeline) -> Self {
        self.pipeline = Some(pipeline);
        self
    }

    /// Applies EXIF orientation before preprocessing (phone photos; the references do not).
    pub fn exif_orientation(mut self, on: bool) -> Self {
        self.exif_orientation = on;
        self
    }

    /// Caches custom-label embeddings here (default: [`LabelCache::default_dir`]).
    pub fn label_cache(mut self, cache: LabelCache) -> Self {
        self.label_cache = Some(cache);
        self
    }

    /// Opens the model (and index).
    ///
    /// # Errors
    /// The model directory is missing or damaged; the index is missing, damaged, not a tree of
    /// life, of another width than the model, or built by another model.
    pub fn open(self) -> Result<Engine> {
        let embedder = Embedder::open_with_pipeline(&self.model, self.pipeline)?
            .with_exif_orientation(self.exif_orientation)
            .with_precision(self.precision)?;
        let index = self.index.as_deref().map(|i| TaxonIndex::open_kind(i, IndexKind::TreeOfLife)).transpose()?;
        let engine = Engine::assemble(embedder, index, Some(self.model))?;
        Ok(match self.label_cache {
            Some(cache) => engine.with_label_cache(cache),
            None => engine,
        })
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
    model_path: Option<PathBuf>,
}

impl Engine {
    /// How to open an engine on the model directory `model_dir` (see `arbor import openclip`).
    pub fn builder(model_dir: impl Into<PathBuf>) -> EngineBuilder {
        EngineBuilder {
            model: model_dir.into(),
            index: None,
            pipeline: None,
            exif_orientation: false,
            label_cache: None,
            precision: Precision::F32,
        }
    }

    /// Opens a model directory without a tree of life: enough for custom labels, few-shot and
    /// embedding.
    ///
    /// # Errors
    /// The model directory is missing or damaged.
    pub fn open(model_dir: impl AsRef<Path>) -> Result<Self> {
        Self::builder(model_dir.as_ref()).open()
    }

    /// Opens a model directory and a tree of life (see `arbor index`).
    ///
    /// # Errors
    /// As [`EngineBuilder::open`].
    pub fn open_with_index(model_dir: impl AsRef<Path>, index_dir: impl AsRef<Path>) -> Result<Self> {
        Self::builder(model_dir.as_ref()).index(index_dir.as_ref()).open()
    }

    /// An engine from an embedder configured by hand and an optional tree of life.
    ///
    /// # Errors
    /// The index is not a tree of life, is of another width, or was built by another model.
    pub fn from_parts(embedder: Embedder, index: Option<TaxonIndex>) -> Result<Self> {
        Self::assemble(embedder, index, None)
    }

    fn assemble(embedder: Embedder, index: Option<TaxonIndex>, model_path: Option<PathBuf>) -> Result<Self> {
        let labels = LabelCache::new(LabelCache::default_dir());
        let engine = Engine { embedder, index: None, labels, model_path };
        if let Some(index) = &index {
            engine.check_tree(index)?;
        }
        Ok(Engine { index, ..engine })
    }

    /// Caches custom-label embeddings in `cache` instead of the default location.
    pub fn with_label_cache(mut self, cache: LabelCache) -> Self {
        self.labels = cache;
        self
    }

    /// "model bioclip" (or "this model" when opened from parts), for messages.
    fn model_name(&self) -> String {
        self.model_path.as_ref().map_or_else(|| "this model".to_owned(), |p| format!("model {}", p.display()))
    }

    pub(crate) fn check_tree(&self, index: &TaxonIndex) -> Result<()> {
        if index.kind() != IndexKind::TreeOfLife {
            return Err(arbor_index::IndexError::WrongKind {
                path: index.path().to_owned(),
                found: index.kind(),
                expected: IndexKind::TreeOfLife,
            }
            .into());
        }
        self.check_width(index.path(), index.dim())?;
        if let Some(made_by) = index.model_identity()
            && made_by != self.embedder.identity().text()
        {
            return Err(EngineError::Invalid(format!(
                "{}: built with model {}…, not {} ({}…); its vectors mean nothing to another model",
                index.path().display(),
                short_identity(made_by),
                self.model_name(),
                short_identity(self.embedder.identity().text())
            )));
        }
        Ok(())
    }

    fn check_width(&self, path: &Path, dim: usize) -> Result<()> {
        if dim != self.embedder.dim() {
            return Err(EngineError::Invalid(format!(
                "{}: vectors of width {dim}, but {} embeds to width {}",
                path.display(),
                self.model_name(),
                self.embedder.dim()
            )));
        }
        Ok(())
    }

    /// The model with its tokenizer and image pipeline.
    pub fn embedder(&self) -> &Embedder {
        &self.embedder
    }

    /// What this engine's embeddings depend on (stored with every file of embeddings).
    pub fn identity(&self) -> &ModelIdentity {
        self.embedder.identity()
    }

    /// Width of the embeddings.
    pub fn dim(&self) -> usize {
        self.embedder.dim()
    }

    /// Unit image embeddings of many files, streamed: decoding of the next batch overlaps the
    /// model's work, and `each(i, embedding)` is called in input order. A file that cannot be
    /// read gives an error for that file only.
    ///
    /// # Errors
    /// The model fails (the run stops there).
    pub fn embed_files(
        &self,
        files: &[PathBuf],
        batch_size: usize,
        mut each: impl FnMut(usize, Result<Vec<f32>>),
    ) -> Result<()> {
        self.embedder.embed_files(files, batch_size, |i, r| {
            each(
                i,
                r.map(|mut row| {
                    normalize_row(&mut row);
                    row
                }),
            )
        })
    }

    /// The image pipeline, to prepare [`Image::Pixels`] inputs ahead of time.
    pub fn preprocessor(&self) -> &Preprocessor {
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
        let pixels = images.par_iter().map(|image| self.pixels(image)).collect::<Result<Vec<_>>>()?;
        self.embed_pixels(&pixels)
    }

    fn embed_pixels(&self, pixels: &[PixelTensor]) -> Result<Vec<f32>> {
        let mut rows = self.embedder.embed_pixels(pixels)?;
        normalize_rows(&mut rows, self.embedder.dim());
        Ok(rows)
    }

    fn pixels(&self, image: &Image<'_>) -> Result<PixelTensor> {
        let prep = self.embedder.preprocessor();
        match image {
            Image::Path(p) => Ok(prep.load(p)?),
            Image::Bytes { bytes, name } => Ok(prep.from_bytes(bytes, name)?),
            Image::Rgb { width, height, pixels } => {
                let decoded = DecodedImage::new(*width, *height, ColorMode::Rgb, pixels.to_vec()).ok_or_else(|| {
                    EngineError::Invalid(format!(
                        "an RGB buffer of {} bytes is not {width}×{height}×3 (and neither side may be 0)",
                        pixels.len()
                    ))
                })?;
                Ok(prep.process(&decoded))
            }
            Image::Pixels(p) if p.size() != prep.size() => Err(EngineError::Invalid(format!(
                "a preprocessed image of side {}, the model takes side {}",
                p.size(),
                prep.size()
            ))),
            Image::Pixels(p) => Ok((*p).clone()),
        }
    }

    /// The unit text embedding of `text`, through `templates` (pybioclip's recipe with
    /// [`Templates::OpenAi80`]; [`Templates::None`] embeds the text as it is).
    ///
    /// # Errors
    /// The model fails to run.
    pub fn embed_text(&self, text: &str, templates: Templates) -> Result<Vec<f32>> {
        let texts = [text.to_string()];
        let mut row = match templates {
            Templates::None => self.embedder.embed_texts(&texts)?,
            t => self.embedder.embed_labels(&texts, t, |_| {})?,
        };
        normalize_row(&mut row);
        Ok(row)
    }

    /// The taxa under `name`, a name at any rank ("Aves", "Corvus corax"). A name used at two
    /// places of the tree (the genus *Morus* of mulberries and of gannets) is an error listing
    /// them; "Sulidae > Morus" names one.
    ///
    /// # Errors
    /// No index, or a name that is in no lineage or in several.
    pub fn taxa_within(&self, name: &str) -> Result<Vec<TaxonId>> {
        let index = self.index()?;
        let node = index.find_one(name).map_err(|e| in_file(index.path(), e))?;
        Ok(index.scope_ids(Scope::Within(&node))?)
    }

    /// The taxa under any of `names` (each as in [`Engine::taxa_within`]), for [`Scope::Taxa`].
    ///
    /// # Errors
    /// As [`Engine::taxa_within`].
    pub fn taxa_named(&self, names: &[&str]) -> Result<Vec<TaxonId>> {
        let mut ids = Vec::new();
        for name in names {
            ids.extend(self.taxa_within(name)?);
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// pybioclip's `--subset`: a CSV whose first column is named after a rank, one name per
    /// row; every taxon under a listed name at that rank (all of them where a name is used
    /// twice, as pybioclip's filter does). Names not in the tree are returned for a warning.
    ///
    /// # Errors
    /// No index, an unreadable CSV, a first column that names no rank, or a subset that
    /// selects nothing.
    pub fn taxa_in_subset(&self, csv_path: &Path) -> Result<(Vec<TaxonId>, Vec<String>)> {
        let index = self.index()?;
        let bad = |problem: String| EngineError::Invalid(format!("{}: {problem}", csv_path.display()));
        let mut reader = csv::Reader::from_path(csv_path).map_err(|e| bad(e.to_string()))?;
        let header = reader.headers().map_err(|e| bad(e.to_string()))?.get(0).unwrap_or("").to_string();
        let rank: Rank = header.parse().map_err(|e: String| bad(format!("first column must name a rank: {e}")))?;
        let (mut ids, mut missing) = (Vec::new(), Vec::new());
        for row in reader.records() {
            let row = row.map_err(|e| bad(e.to_string()))?;
            let name = row.get(0).unwrap_or("").trim();
            let nodes: Vec<_> = index
                .find(name)
                .unwrap_or_default()
                .into_iter()
                .filter(|s| s.rank == rank && s.name().eq_ignore_ascii_case(name))
                .collect();
            if nodes.is_empty() {
                missing.push(name.to_owned());
            }
            for node in nodes {
                ids.extend(index.scope_ids(Scope::Within(&node))?);
            }
        }
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return Err(bad("the subset selects no taxa".into()));
        }
        Ok((ids, missing))
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

    /// Answers for a batch of images, in order: each image's answer, or why it could not be
    /// read. The images are decoded on all cores and embedded in one model call, and against
    /// the tree one pass over the taxa scores them all.
    ///
    /// ```no_run
    /// # fn main() -> arbor_engine::Result<()> {
    /// use std::num::NonZeroUsize;
    /// use arbor_engine::{Answer, Classifier, Engine, Image, TreeQuestion};
    /// use arbor_index::{Rank, Scope};
    /// let engine = Engine::open_with_index("bioclip", "tol-index")?;
    /// let classifier = Classifier::Tree {
    ///     classifier: engine.tree_classifier(Scope::All)?,
    ///     question: TreeQuestion::Top { rank: Rank::Species, k: NonZeroUsize::new(3).unwrap() },
    /// };
    /// let photos = [std::path::Path::new("a.jpg"), std::path::Path::new("b.jpg")];
    /// let images: Vec<Image> = photos.iter().map(|p| Image::Path(p)).collect();
    /// for (photo, answer) in photos.iter().zip(engine.classify_batch(&classifier, &images)) {
    ///     if let Answer::Taxa(hits) = answer? {
    ///         println!("{}: {:?}", photo.display(), hits.first().map(|h| h.path.join(" ")));
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// The outer result fails only when the whole batch cannot be answered (the model fails,
    /// a damaged index).
    pub fn classify_batch(&self, classifier: &Classifier<'_>, images: &[Image<'_>]) -> Vec<Result<Answer>> {
        let decoded: Vec<Result<PixelTensor>> = images.par_iter().map(|image| self.pixels(image)).collect();
        // Readable images go to the model together; their slots are filled from its answers.
        let (mut pixels, mut waiting) = (Vec::new(), Vec::new());
        let mut out: Vec<Result<Answer>> = Vec::with_capacity(images.len());
        for (i, r) in decoded.into_iter().enumerate() {
            match r {
                Ok(p) => {
                    pixels.push(p);
                    waiting.push(i);
                    out.push(Err(EngineError::Invalid("not answered".into())));
                }
                Err(e) => out.push(Err(e)),
            }
        }
        match self.embed_pixels(&pixels).and_then(|rows| classifier.answer(&rows, self.embedder.dim())) {
            Ok(answers) => waiting.into_iter().zip(answers).for_each(|(i, a)| out[i] = Ok(a)),
            Err(e) => {
                let message = e.to_string();
                waiting.into_iter().for_each(|i| out[i] = Err(EngineError::Invalid(message.clone())));
            }
        }
        out
    }

    /// Answers for many photo files, streamed: decoding of the next batch overlaps the model's
    /// work on this one, and `each(i, answer)` is called in input order as answers are ready.
    /// A file that cannot be read gives an error for that file only.
    ///
    /// # Errors
    /// The model fails or the index is damaged (the run stops there).
    pub fn classify_files(
        &self,
        classifier: &Classifier<'_>,
        files: &[PathBuf],
        batch_size: usize,
        mut each: impl FnMut(usize, Result<Answer>),
    ) -> Result<()> {
        self.classify_stream(classifier, files.iter().cloned(), batch_size, |i, _, answer| each(i, answer))
    }

    /// [`Engine::classify_files`] over a stream of paths (a [`crate::walk_photos`] under way, a
    /// pipe): memory stays flat however many files flow through. `each(i, path, answer)` is
    /// called in the stream's order.
    ///
    /// # Errors
    /// The model fails or the index is damaged (the run stops there).
    pub fn classify_stream(
        &self,
        classifier: &Classifier<'_>,
        files: impl Iterator<Item = PathBuf> + Send,
        batch_size: usize,
        mut each: impl FnMut(usize, PathBuf, Result<Answer>),
    ) -> Result<()> {
        let dim = self.embedder.dim();
        let batch_size = batch_size.max(1);
        type Pending = Vec<(usize, PathBuf, Result<Vec<f32>>)>;
        let mut pending: Pending = Vec::with_capacity(batch_size);
        let mut flush = |pending: &mut Pending| -> Result<()> {
            let mut features = Vec::with_capacity(pending.len() * dim);
            for (_, _, r) in pending.iter_mut() {
                if let Ok(f) = r {
                    normalize_row(f);
                    features.extend_from_slice(f);
                }
            }
            let mut answers = classifier.answer(&features, dim)?.into_iter();
            for (i, path, r) in pending.drain(..) {
                each(i, path, r.and_then(|_| answers.next().ok_or_else(|| EngineError::Invalid("no answer".into()))));
            }
            Ok(())
        };
        let mut failure = Ok(());
        self.embedder.embed_stream(files, batch_size, |i, path, r| {
            pending.push((i, path, r));
            if pending.len() >= batch_size && failure.is_ok() {
                failure = flush(&mut pending);
            }
        })?;
        failure?;
        flush(&mut pending)
    }

    /// A classifier over the user's own labels (through the 80 templates, embeddings cached on
    /// disk), optionally summed into bins: `bins[i]` is the bin of `labels[i]`.
    ///
    /// # Errors
    /// No labels, bins that do not match, or a cache that cannot be written.
    pub fn label_classifier(&self, labels: &[String], bins: Option<Vec<String>>) -> Result<LabelClassifier> {
        match labels {
            [] => return Err(EngineError::Invalid("no classes given".into())),
            [one] => {
                return Err(EngineError::Invalid(format!(
                    "one class ({one:?}) would always score 1: give at least two"
                )));
            }
            _ => {}
        }
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
        centroids.save(dir, self.embedder.identity().image())
    }

    /// Loads centroids, refusing those fitted by another model (or the same weights through
    /// another architecture or image pipeline): their geometry means nothing to this model's
    /// embeddings.
    ///
    /// # Errors
    /// A missing or damaged directory, not centroids, or centroids of another model.
    pub fn load_centroids(&self, dir: impl AsRef<Path>) -> Result<Centroids> {
        let dir = dir.as_ref();
        let (centroids, identity) = Centroids::load(dir)?;
        self.check_made_by(dir, "fitted", &identity)?;
        self.check_width(dir, centroids.dim())?;
        Ok(centroids)
    }

    /// Opens a photo collection embedded by this model (same weights, architecture and image
    /// pipeline).
    ///
    /// # Errors
    /// A missing or damaged directory, not a collection, or one of another model.
    pub fn open_collection(&self, dir: impl AsRef<Path>) -> Result<Collection> {
        let dir = dir.as_ref();
        let collection = Collection::open(dir)?;
        self.check_made_by(dir, "embedded", collection.model_identity())?;
        self.check_width(dir, collection.dim())?;
        Ok(collection)
    }

    fn check_made_by(&self, path: &Path, verb: &str, identity: &str) -> Result<()> {
        let ours = self.embedder.identity().image();
        if identity != ours {
            return Err(EngineError::Invalid(format!(
                "{}: {verb} by another model ({}…) than {} ({}…): the weights, architecture or image pipeline differ",
                path.display(),
                short_identity(identity),
                self.model_name(),
                short_identity(ours)
            )));
        }
        Ok(())
    }
}

/// An index error about a name, with the index file it was looked up in.
fn in_file(path: &Path, e: arbor_index::IndexError) -> EngineError {
    EngineError::Invalid(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn engine_is_send_and_sync() {
        fn shared<T: Send + Sync>() {}
        shared::<super::Engine>();
    }
}
