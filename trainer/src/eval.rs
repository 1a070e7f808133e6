//! BioCLIP's evaluation on a dataset split: zero-shot accuracy at every rank, for species
//! seen in training and for species never seen, and SimpleShot few-shot accuracy.
//!
//! Zero-shot goes through the product's own path: the dataset's taxa are embedded from
//! their captions into a temporary taxon index, and each photo is classified by
//! [`TreeClassifier`] (softmax over all taxa, probabilities summed per ancestor), so the
//! numbers are what `arbor classify --exact` would score.

use std::collections::BTreeMap;

use arbor_engine::{Embedder, FewShotScore, TextType, TreeClassifier, evaluate_few_shot, normalize_rows};
use arbor_index::{IndexBuilder, Rank, Scope, TaxonIndex, TaxonRecord};
use burn::tensor::backend::Backend;

use crate::dataset::ImageSet;
use crate::error::{Result, TrainError};

/// Photos embedded per model call.
const IMAGE_BATCH: usize = 64;

/// Top-1 accuracy at each rank, kingdom first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankAccuracy(pub [f64; 7]);

impl RankAccuracy {
    /// Accuracy at one rank.
    pub fn at(&self, rank: Rank) -> f64 {
        self.0[rank.depth()]
    }
}

impl serde::Serialize for RankAccuracy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let map: serde_json::Map<String, serde_json::Value> =
            Rank::ALL.iter().map(|r| (r.name().to_owned(), serde_json::json!(self.at(*r)))).collect();
        map.serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for RankAccuracy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let map = BTreeMap::<String, f64>::deserialize(d)?;
        let mut out = [0.0; 7];
        for rank in Rank::ALL {
            out[rank.depth()] = *map
                .get(rank.name())
                .ok_or_else(|| serde::de::Error::custom(format!("missing rank {}", rank.name())))?;
        }
        Ok(RankAccuracy(out))
    }
}

/// Zero-shot accuracy, split by whether the species had training photos.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ZeroShot {
    /// Photos of species with training photos (`None` when there are none).
    pub seen: Option<RankAccuracy>,
    /// Photos of species without training photos.
    pub unseen: Option<RankAccuracy>,
}

/// The result of [`evaluate`], in the JSON shape `arbor eval --format json` prints.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalReport {
    /// Zero-shot accuracy per rank.
    pub zero_shot: ZeroShot,
    /// Few-shot accuracy by number of shots (`None` where no species has enough photos).
    pub few_shot: BTreeMap<String, Option<FewShotSummary>>,
    /// Photos evaluated.
    pub images: usize,
    /// Candidate taxa (every taxon of the dataset).
    pub taxa: usize,
    /// Photos of seen species.
    pub seen_images: usize,
    /// Photos of unseen species.
    pub unseen_images: usize,
}

/// Mean and spread of few-shot accuracy over seeds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FewShotSummary {
    /// Mean accuracy.
    pub mean: f64,
    /// Standard deviation over seeds.
    pub std: f64,
}

impl From<FewShotScore> for FewShotSummary {
    fn from(s: FewShotScore) -> Self {
        FewShotSummary { mean: s.mean, std: s.std }
    }
}

/// What to evaluate and how.
#[derive(Debug, Clone)]
pub struct EvalSettings<'a> {
    /// Every taxon of the dataset: the zero-shot candidates.
    pub taxa: &'a [TaxonRecord],
    /// `seen[i]`: whether `taxa[i]` had training photos.
    pub seen: &'a [bool],
    /// How the candidates are described (`Mixed` reads as taxonomic+common).
    pub text_type: TextType,
    /// Support sizes for few-shot accuracy.
    pub shots: &'a [usize],
    /// Seeds per few-shot size.
    pub seeds: u64,
}

/// Evaluates `embedder`'s model on `images`.
///
/// # Errors
/// The model fails, or the candidate index cannot be built.
pub fn evaluate<B: Backend>(
    embedder: &Embedder<B>,
    images: &ImageSet,
    settings: &EvalSettings<'_>,
) -> Result<EvalReport> {
    if images.is_empty() {
        return Err(TrainError::Invalid("evaluation: the split has no photos".into()));
    }
    let features = embed_images(embedder, images)?;
    let dim = embedder.dim();
    let text_vectors = embed_taxa(embedder, settings.taxa, settings.text_type)?;
    let dir = tempfile::tempdir().map_err(|e| TrainError::io(std::env::temp_dir(), e))?;
    let index_dir = dir.path().join("candidates");
    IndexBuilder::new(dim).graph(None).source("evaluation").build(settings.taxa, &text_vectors, &index_dir)?;
    let index = TaxonIndex::open(&index_dir)?;
    let classifier = TreeClassifier::new(&index, Scope::All, embedder.logit_scale()).min_prob(0.0);
    let probabilities = classifier.probabilities(&features)?;
    let (mut correct, mut counts) = ([[0usize; 7]; 2], [0usize; 2]);
    for (sample, probs) in images.samples.iter().zip(&probabilities) {
        let group = usize::from(!settings.seen[sample.taxon_index]);
        counts[group] += 1;
        for rank in Rank::ALL {
            let best = classifier.rank_top_k(probs, rank, 1)?;
            let truth = sample.taxon.lineage.down_to(rank);
            correct[group][rank.depth()] += usize::from(best.first().is_some_and(|hit| hit.path == truth));
        }
    }
    let accuracy = |g: usize| (counts[g] > 0).then(|| RankAccuracy(correct[g].map(|c| c as f64 / counts[g] as f64)));
    let labels: Vec<String> = images.samples.iter().map(|s| s.taxon_index.to_string()).collect();
    let few_shot = settings
        .shots
        .iter()
        .map(|&k| (k.to_string(), evaluate_few_shot(&labels, &features, dim, k, settings.seeds).ok().map(Into::into)))
        .collect();
    Ok(EvalReport {
        zero_shot: ZeroShot { seen: accuracy(0), unseen: accuracy(1) },
        few_shot,
        images: images.len(),
        taxa: settings.taxa.len(),
        seen_images: counts[0],
        unseen_images: counts[1],
    })
}

/// Unit image embeddings of every photo (no augmentation), row-major.
pub fn embed_images<B: Backend>(embedder: &Embedder<B>, images: &ImageSet) -> Result<Vec<f32>> {
    let mut out = Vec::with_capacity(images.len() * embedder.dim());
    for chunk in images.images.chunks(IMAGE_BATCH) {
        let pixels: Vec<_> = chunk.iter().map(|image| embedder.preprocessor().process(image)).collect();
        out.extend(embedder.embed_pixels(&pixels)?);
    }
    normalize_rows(&mut out, embedder.dim());
    Ok(out)
}

/// Unit text embeddings of each taxon's training caption (`a photo of {description}.`).
pub fn embed_taxa<B: Backend>(embedder: &Embedder<B>, taxa: &[TaxonRecord], text_type: TextType) -> Result<Vec<f32>> {
    let captions: Vec<String> = taxa.iter().map(|t| text_type.caption(&t.lineage, &t.common_name)).collect();
    let mut vectors = embedder.embed_texts(&captions)?;
    normalize_rows(&mut vectors, embedder.dim());
    Ok(vectors)
}
