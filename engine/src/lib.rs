//! # arbor-engine
//!
//! Everything between a photo or a label and an answer: the open_clip tokenizer, the two
//! reference image pipelines, the CLIP model in burn, and on top of them zero-shot
//! classification against the tree of life (at any rank, pybioclip's probabilities) or against
//! custom labels, few-shot centroids (BioCLIP's SimpleShot protocol) and similarity search over
//! a photo collection (local, or in a Milvus server with the `milvus` feature). [`Engine`]
//! bundles a model and a taxon index behind one `Send + Sync` handle; the pieces are public for
//! programs that need only one of them. Every public item is re-exported here, flat: the
//! modules are the engine's internal layout, not its API.
//!
//! ```
//! use std::path::Path;
//! use arbor_engine::{Engine, Image, LabelCache, Templates};
//! use arbor_index::{IndexBuilder, Lineage, Rank, TaxonRecord};
//!
//! // A tiny random-weight CLIP from the test fixtures, imported as an Arbor model directory.
//! let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/openclip");
//! let work = tempfile::tempdir()?;
//! let model = work.path().join("model");
//! arbor_engine::import_openclip(
//!     format!("{fixtures}/tiny_gelu/model.safetensors"),
//!     format!("{fixtures}/tiny_gelu/open_clip_config.json"),
//!     &model,
//! )?;
//! let engine = Engine::open(&model)?.with_label_cache(LabelCache::new(work.path().join("cache")));
//! let cat = format!("{fixtures}/images/chelsea.png");
//! let rocket = format!("{fixtures}/images/astronaut_tiny.png");
//! let (cat, rocket) = (Path::new(&cat), Path::new(&rocket));
//!
//! // Zero-shot against your own labels: probabilities over them, best first.
//! let labels = vec!["a cat".to_string(), "an astronaut".to_string()];
//! let classifier = engine.label_classifier(&labels, None)?;
//! let hits = engine.classify_labels(&classifier, cat, None)?;
//! assert!((hits.iter().map(|h| h.score).sum::<f32>() - 1.0).abs() < 1e-4);
//!
//! // Few-shot: one support photo per class, and the support photos come back as their class.
//! let centroids = engine.fit_few_shot(&[(Image::Path(cat), "cat"), (Image::Path(rocket), "astronaut")])?;
//! assert_eq!(engine.classify_few_shot(&centroids, rocket, 1)?[0].label, "astronaut");
//! engine.save_centroids(&centroids, work.path().join("centroids"))?;
//! assert_eq!(engine.load_centroids(work.path().join("centroids"))?, centroids);
//!
//! // The tree of life: a two-species index of label embeddings, then an answer at any rank.
//! let taxa = [("Felidae", "Felis", "catus"), ("Corvidae", "Corvus", "corax")].map(|(f, g, s)| TaxonRecord {
//!     lineage: Lineage::new(["Animalia", "Chordata", "Mammalia", "Carnivora", f, g, s]),
//!     common_name: String::new(),
//! });
//! let mut vectors = engine.embed_text("Felis catus", Templates::OpenAi80)?;
//! vectors.extend(engine.embed_text("Corvus corax", Templates::OpenAi80)?);
//! IndexBuilder::new(engine.embedder().dim()).graph(None).build(&taxa, &vectors, &work.path().join("tol"))?;
//! let engine = Engine::open_with_index(&model, work.path().join("tol"))?;
//! let families = engine.classify(cat, Rank::Family, 2)?;
//! assert_eq!(families.len(), 2);
//! assert!(families[0].score >= families[1].score);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod captions;
mod centroids;
mod classify;
mod collection;
mod detections;
mod embedder;
mod engine;
mod error;
mod identity;
mod label_cache;
#[cfg(feature = "milvus")]
mod milvus;
mod model;
mod photos;
mod preprocess;
mod tokenizer;
mod tree_labels;
mod zeroshot;

// The handle, and what it answers.
pub use classify::{Answer, Classifier, Confidence, NamedScore, TreeQuestion};
pub use engine::{Engine, EngineBuilder, Image};
pub use error::{EngineError, Result};
pub use identity::{ModelIdentity, short_identity};

// Inputs: photos, labels and captions.
pub use captions::{OPENAI_IMAGENET_TEMPLATES, Templates, TextType, tree_of_life_label};
pub use photos::{PhotoWalk, Photos, Skipped, find_photos, walk_photos};
pub use preprocess::{
    ColorMode, DecodedImage, ImageFormat, MAX_PIXELS, OPENAI_MEAN, OPENAI_STD, Orientation, PIL_MAX_IMAGE_PIXELS,
    Palette, PhotoTags, Pipeline, PixelTensor, PreprocessError, Preprocessor, Window, crop_pixels, decode_image,
    squash_pixels,
};
pub use tokenizer::{EOT_TOKEN, SOT_TOKEN, Tokenizer, TokenizerError, VOCAB_SIZE, clean_text, fix_text};

// Camera traps: detections in, crops out.
pub use detections::{
    BBox, CropPlan, CropShape, DetectedImage, Detection, DetectionAnswers, DetectionFile, PixelBox, Subject,
    crop_detection,
};

// The model.
pub use arbor_kernels::{CpuFeatures, Isa, Precision, UnknownPrecision};
pub use embedder::{Embedder, TEXT_BATCH, normalize_row, normalize_rows};
#[cfg(feature = "cuda")]
pub use model::Cuda;
pub use model::{
    Activation, Clip, ClipConfig, Cpu, ImageTransform, Imported, Interpolation, ModelDir, ModelError, ModelManifest,
    PrecisionPlan, PreprocessConfig, ResizeMode, StateDict, TextConfig, TextTrace, VisionConfig, VisionTrace,
    import_openclip, import_openclip_as, normalize_features, tensor_names,
};

// Answers: the tree of life, custom labels, few-shot, photo collections.
pub use centroids::{CENTROIDS_META_FILE, CentroidHit, Centroids, FewShotScore, evaluate_few_shot};
pub use collection::{Collection, GRAPH_THRESHOLD, PhotoHit, photo_key};
pub use label_cache::LabelCache;
#[cfg(feature = "milvus")]
pub use milvus::{Hnsw, IndexProgress, Layout, MilvusCollection, MilvusError, MilvusSearch, MilvusUrl, MilvusWriter};
pub use tree_labels::{Encoding, Repair, encode_resumable, repair_unembedded, taxon_labels};
pub use zeroshot::{Candidates, LabelClassifier, LabelHit, TreeClassifier, read_bins};
