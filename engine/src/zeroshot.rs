//! Zero-shot classification: image embeddings against the tree of life (at any
//! rank, as pybioclip does it) or against a user's own labels and bins.

use std::sync::OnceLock;

use arbor_index::{Rank, RankHit, ResolvedScope, Scope, SearchMode, TaxonId, TaxonIndex, softmax};

use crate::error::{EngineError, Result};

/// The taxa a classifier's softmax runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Candidates {
    /// Every taxon in scope: pybioclip's probabilities exactly.
    All,
    /// The `candidates` best taxa found by the HNSW graph (beam `ef`): probabilities of the
    /// long tail are dropped. Faster on huge trees.
    Graph {
        /// Taxa kept for the softmax.
        candidates: usize,
        /// HNSW beam width.
        ef: usize,
    },
}

/// Classifies normalised image embeddings against a taxon index.
pub struct TreeClassifier<'a> {
    index: &'a TaxonIndex,
    scope: Scope<'a>,
    logit_scale: f32,
    candidates: Candidates,
    min_prob: f32,
    /// The scope's taxa and slots, resolved on first use and kept: exact mode needs them for
    /// every image, and on the whole tree they are as long as the tree.
    resolved: OnceLock<ResolvedScope>,
}

impl<'a> TreeClassifier<'a> {
    /// A classifier over `scope` of `index`, with the model's `exp(logit_scale)`.
    pub fn new(index: &'a TaxonIndex, scope: Scope<'a>, logit_scale: f32) -> Self {
        TreeClassifier {
            index,
            scope,
            logit_scale,
            candidates: Candidates::All,
            min_prob: arbor_index::DEFAULT_MIN_PROB,
            resolved: OnceLock::new(),
        }
    }

    fn resolved(&self) -> Result<&ResolvedScope> {
        if let Some(r) = self.resolved.get() {
            return Ok(r);
        }
        let r = self.index.resolve_scope(self.scope)?;
        Ok(self.resolved.get_or_init(|| r))
    }

    /// Chooses exact or approximate probabilities.
    pub fn candidates(mut self, candidates: Candidates) -> Self {
        self.candidates = candidates;
        self
    }

    /// pybioclip's floor for the per-rank sums (default 1e-9).
    pub fn min_prob(mut self, min_prob: f32) -> Self {
        self.min_prob = min_prob;
        self
    }

    /// Per-taxon probabilities for each image (rows of `features`, unit length),
    /// as `(taxon, p)` pairs in taxon-id order.
    pub fn probabilities(&self, features: &[f32]) -> Result<Vec<Vec<(TaxonId, f32)>>> {
        match self.candidates {
            Candidates::All => {
                let scope = self.resolved()?;
                let scores = self.index.scores_resolved(features, scope)?;
                Ok(scores
                    .iter()
                    .map(|s| scope.ids().iter().copied().zip(softmax(s, self.logit_scale)).collect())
                    .collect())
            }
            Candidates::Graph { candidates, ef } => {
                let hits = self.index.search_batch(features, candidates, SearchMode::Approximate { ef }, self.scope)?;
                Ok(hits
                    .into_iter()
                    .map(|mut h| {
                        h.sort_by_key(|x| x.taxon);
                        let scores: Vec<f32> = h.iter().map(|x| x.score).collect();
                        h.iter().map(|x| x.taxon).zip(softmax(&scores, self.logit_scale)).collect()
                    })
                    .collect())
            }
        }
    }

    /// The `k` best answers at `rank` for each image.
    pub fn classify(&self, features: &[f32], rank: Rank, k: usize) -> Result<Vec<Vec<RankHit>>> {
        self.probabilities(features)?.iter().map(|p| Ok(self.index.rank_top_k(p, rank, k, self.min_prob)?)).collect()
    }

    /// Open-set answer: the deepest rank whose best aggregated probability is
    /// at least `confidence`, with that answer; `None` when even the kingdom is
    /// below it ("unknown").
    pub fn deepest_confident(&self, probs: &[(TaxonId, f32)], confidence: f32) -> Result<Option<RankHit>> {
        let mut answer = None;
        for rank in Rank::ALL {
            match self.index.rank_top_k(probs, rank, 1, self.min_prob)?.into_iter().next() {
                Some(hit) if hit.score >= confidence => answer = Some(hit),
                _ => break,
            }
        }
        Ok(answer)
    }

    /// Top-k at `rank` from precomputed probabilities.
    pub fn rank_top_k(&self, probs: &[(TaxonId, f32)], rank: Rank, k: usize) -> Result<Vec<RankHit>> {
        Ok(self.index.rank_top_k(probs, rank, k, self.min_prob)?)
    }
}

/// A user's own classes (pybioclip's `--cls`), optionally grouped into bins (`--bins`).
pub struct LabelClassifier {
    labels: Vec<String>,
    vectors: Vec<f32>,
    dim: usize,
    logit_scale: f32,
    bins: Option<Vec<String>>,
}

/// One answer of a [`LabelClassifier`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LabelHit {
    /// The class (or bin) name.
    pub label: String,
    /// Its probability.
    pub score: f32,
}

impl LabelClassifier {
    /// Classes with their zero-shot embeddings (row-major, unit rows).
    pub fn new(labels: Vec<String>, vectors: Vec<f32>, logit_scale: f32) -> Result<Self> {
        if labels.is_empty() || !vectors.len().is_multiple_of(labels.len()) {
            return Err(EngineError::Invalid(format!("{} labels for {} numbers", labels.len(), vectors.len())));
        }
        let dim = vectors.len() / labels.len();
        Ok(LabelClassifier { labels, vectors, dim, logit_scale, bins: None })
    }

    /// Groups classes into bins: `bins[i]` is the bin of class `i`.
    pub fn with_bins(mut self, bins: Vec<String>) -> Result<Self> {
        if bins.len() != self.labels.len() {
            return Err(EngineError::Invalid(format!("{} bins for {} classes", bins.len(), self.labels.len())));
        }
        self.bins = Some(bins);
        Ok(self)
    }

    /// Answers for one normalised image embedding, best first: every class (or
    /// bin), or the first `k`. Ties keep class order, like pybioclip.
    pub fn classify(&self, feature: &[f32], k: Option<usize>) -> Vec<LabelHit> {
        let scores: Vec<f32> = self.vectors.chunks_exact(self.dim).map(|v| arbor_index::dot_f32(v, feature)).collect();
        let probs = softmax(&scores, self.logit_scale);
        let mut hits: Vec<LabelHit> = match &self.bins {
            None => self.labels.iter().zip(&probs).map(|(l, &p)| LabelHit { label: l.clone(), score: p }).collect(),
            Some(bins) => {
                let mut sums: Vec<LabelHit> = Vec::new();
                for (bin, &p) in bins.iter().zip(&probs) {
                    match sums.iter_mut().find(|h| &h.label == bin) {
                        Some(h) => h.score += p,
                        None => sums.push(LabelHit { label: bin.clone(), score: p }),
                    }
                }
                sums
            }
        };
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(k.unwrap_or(hits.len()));
        hits
    }
}

/// A bins file: CSV of `class,bin` rows under a header row (pybioclip's `--bins`, which it
/// reads with pandas). Returns the classes and the bin of each.
///
/// # Errors
/// The file cannot be read, a row has fewer than two fields or an empty one, or there are no rows.
pub fn read_bins(path: &std::path::Path) -> Result<(Vec<String>, Vec<String>)> {
    let bad = |problem: String| EngineError::Invalid(format!("{}: {problem}", path.display()));
    let mut reader =
        csv::ReaderBuilder::new().has_headers(true).flexible(true).from_path(path).map_err(|e| bad(e.to_string()))?;
    let (mut classes, mut bins) = (Vec::new(), Vec::new());
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| bad(e.to_string()))?;
        let (Some(class), Some(bin)) = (row.get(0).map(str::trim), row.get(1).map(str::trim)) else {
            return Err(bad(format!("line {}: expected class,bin", i + 2)));
        };
        if class.is_empty() || bin.is_empty() {
            return Err(bad(format!("line {}: empty class or bin", i + 2)));
        }
        classes.push(class.to_owned());
        bins.push(bin.to_owned());
    }
    if classes.is_empty() {
        return Err(bad("no class,bin rows".into()));
    }
    Ok((classes, bins))
}
