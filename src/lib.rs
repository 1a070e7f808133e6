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
//! [`Engine`] is the one-handle way in: a model plus an optional tree of life, answering for
//! paths, encoded bytes, RGB buffers or preprocessed pixels, one photo or a folder streamed in
//! batches, against the tree at any rank, custom labels or few-shot centroids:
//!
//! ```no_run
//! use std::num::NonZeroUsize;
//! use arbor::{Answer, Classifier, Engine, Rank, Scope, TreeQuestion, find_photos};
//!
//! let engine = Engine::builder("bioclip").index("tol-index").open()?; // model dir + taxon index
//! let classifier = Classifier::Tree {
//!     classifier: engine.tree_classifier(Scope::All)?,
//!     question: TreeQuestion::Top { rank: Rank::Species, k: NonZeroUsize::new(3).unwrap() },
//! };
//! let photos = find_photos(&["photos/".into()])?; // each file once, hidden files left out
//! engine.classify_files(&classifier, &photos.files, 8, |i, answer| match answer {
//!     Ok(Answer::Taxa(hits)) => println!("{}: {} {:.3}", photos.files[i].display(), hits[0].path.join(" "), hits[0].score),
//!     Ok(other) => println!("{other:?}"),
//!     Err(e) => eprintln!("{e}"),
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Camera traps: a MegaDetector file's animal detections, each cut out and classified:
//!
//! ```no_run
//! # use std::num::NonZeroUsize;
//! # use arbor::{Classifier, Engine, Rank, Scope, TreeQuestion};
//! use arbor::{CropPlan, CropShape, DetectionFile};
//! # let engine = Engine::builder("bioclip").index("tol-index").open()?;
//! # let classifier = Classifier::Tree {
//! #     classifier: engine.tree_classifier(Scope::All)?,
//! #     question: TreeQuestion::Top { rank: Rank::Species, k: NonZeroUsize::new(3).unwrap() },
//! # };
//! let md = DetectionFile::read("md.json")?.with_root("traps/");
//! let plan = CropPlan { threshold: 0.2, shape: CropShape::Square, whole_when_none: false };
//! let all: Vec<usize> = (0..md.images().len()).collect();
//! engine.classify_detections(&classifier, &md, &plan, &all, 8, |i, answers| {
//!     for (subject, answer) in answers.into_iter().flatten() {
//!         println!("{} {subject}: {:?}", md.images()[i].file, answer.map(|a| a.named()[0].name.clone()));
//!     }
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The pieces below it are public for programs that need only one:
//!
//! ```no_run
//! use arbor::{Embedder, Rank, Scope, TaxonIndex, TreeClassifier};
//! let embedder = Embedder::open("bioclip")?;          // an Arbor model directory
//! let index = TaxonIndex::open("tol-index")?;          // a taxon index
//! let classifier = TreeClassifier::new(&index, Scope::All, embedder.logit_scale());
//! let mut features = Vec::new();
//! embedder.embed_files(&["raven.jpg".into()], 8, |_, r| features = r.expect("readable image"))?;
//! arbor::engine::normalize_row(&mut features);
//! for hit in &classifier.classify(&features, Rank::Family, 3)?[0] {
//!     println!("{} {:.3}", hit.path.join(" "), hit.score);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub use arbor_engine as engine;
pub use arbor_index as index;

pub use arbor_engine::{
    Answer, BBox, Candidates, CentroidHit, Centroids, Classifier, Collection, Confidence, CropPlan, CropShape,
    DetectedImage, Detection, DetectionFile, Embedder, Engine, EngineBuilder, EngineError, FewShotScore, Image,
    LabelCache, LabelClassifier, LabelHit, ModelIdentity, NamedScore, PhotoHit, PhotoWalk, Photos, Pipeline,
    PixelTensor, Precision, Preprocessor, Subject, Templates, TextType, Tokenizer, TreeClassifier, TreeQuestion,
    evaluate_few_shot, find_photos, walk_photos,
};
pub use arbor_index::{
    Dtype, GraphParams, Hit, IndexBuilder, IndexError, IndexKind, Lineage, Rank, RankHit, ResolvedScope, Scope,
    SearchMode, Subtree, Taxon, TaxonId, TaxonIndex, TaxonRecord,
};
