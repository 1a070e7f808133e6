//! What a photo is classified against, what is asked of it, and the answer: one road for the
//! tree of life, custom labels and few-shot centroids, so every check lives in one place.

use std::num::NonZeroUsize;

use arbor_index::{Rank, RankHit, TaxonId};

use crate::centroids::{CentroidHit, Centroids};
use crate::error::{EngineError, Result};
use crate::zeroshot::{LabelClassifier, LabelHit, TreeClassifier};

/// An open-set threshold: a probability in (0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Confidence(f32);

impl Confidence {
    /// A threshold.
    ///
    /// # Errors
    /// `p` is not in (0, 1] (a threshold of 0 accepts everything, above 1 nothing).
    pub fn new(p: f32) -> Result<Self> {
        if p > 0.0 && p <= 1.0 {
            Ok(Confidence(p))
        } else {
            Err(EngineError::Invalid(format!("a confidence threshold must be in (0, 1], got {p}")))
        }
    }

    /// The probability.
    pub fn get(self) -> f32 {
        self.0
    }
}

impl std::str::FromStr for Confidence {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let p: f32 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
        Confidence::new(p).map_err(|e| e.to_string())
    }
}

/// What is asked of the tree of life for each photo.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TreeQuestion {
    /// The `k` best taxa at `rank`, with pybioclip's probabilities.
    Top {
        /// The rank answered at.
        rank: Rank,
        /// How many answers.
        k: NonZeroUsize,
    },
    /// Open set: the deepest rank whose best probability reaches the threshold, or "unknown".
    Deepest(Confidence),
}

/// What photos are classified against, with what is asked of each.
pub enum Classifier<'e> {
    /// A (part of a) tree of life.
    Tree {
        /// The scope, softmax and rank rule.
        classifier: TreeClassifier<'e>,
        /// What each photo is asked.
        question: TreeQuestion,
    },
    /// The user's own labels (or bins of them), zero-shot.
    Labels {
        /// The labels' embeddings.
        classifier: LabelClassifier,
        /// How many answers (every label when `None`).
        k: Option<NonZeroUsize>,
    },
    /// Few-shot class centroids.
    Centroids {
        /// The centroids, checked against the engine's model.
        centroids: Centroids,
        /// How many answers (every class when `None`).
        k: Option<NonZeroUsize>,
    },
}

/// One photo's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The best taxa at the asked rank, best first.
    Taxa(Vec<RankHit>),
    /// The deepest confident answer, `None` for "unknown".
    Deepest(Option<RankHit>),
    /// Labels (or bins), best first.
    Labels(Vec<LabelHit>),
    /// Few-shot classes, nearest first.
    Classes(Vec<CentroidHit>),
}

/// One candidate of an answer by name, as exchange formats (MegaDetector's, Camtrap DP) want
/// it.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedScore {
    /// The name: a taxon's at its rank ("Vulpes vulpes" for a species, "Canidae"), a label, a
    /// class.
    pub name: String,
    /// The taxon's rank (`None` for labels and few-shot classes).
    pub rank: Option<Rank>,
    /// Kingdom down to the taxon (empty for labels and classes).
    pub lineage: Vec<String>,
    /// The species' common name, where the tree has one.
    pub common_name: Option<String>,
    /// The score: a probability, or a cosine for few-shot classes.
    pub score: f32,
    /// Whether `score` is a probability (it is not for few-shot classes).
    pub is_probability: bool,
}

impl NamedScore {
    fn taxon(hit: &RankHit) -> NamedScore {
        let name = match hit.rank {
            Rank::Species if hit.path.len() > 6 => format!("{} {}", hit.path[5], hit.path[6]),
            _ => hit.path.last().cloned().unwrap_or_default(),
        };
        NamedScore {
            name,
            rank: Some(hit.rank),
            lineage: hit.path.clone(),
            common_name: hit.common_name.clone().filter(|c| !c.is_empty()),
            score: hit.score,
            is_probability: true,
        }
    }

    fn label(label: &str, score: f32, is_probability: bool) -> NamedScore {
        NamedScore { name: label.to_owned(), rank: None, lineage: Vec::new(), common_name: None, score, is_probability }
    }
}

impl Answer {
    /// The candidates by name, best first; empty for an open-set "unknown".
    pub fn named(&self) -> Vec<NamedScore> {
        match self {
            Answer::Taxa(hits) => hits.iter().map(NamedScore::taxon).collect(),
            Answer::Deepest(hit) => hit.iter().map(NamedScore::taxon).collect(),
            Answer::Labels(hits) => hits.iter().map(|h| NamedScore::label(&h.label, h.score, true)).collect(),
            Answer::Classes(hits) => hits.iter().map(|h| NamedScore::label(&h.label, h.score, false)).collect(),
        }
    }
}

impl Classifier<'_> {
    /// Answers for a batch of unit image embeddings (row-major). Against the tree, one pass
    /// over the taxa's vectors scores the whole batch: at 450K taxa that pass dominates a
    /// single photo's time.
    ///
    /// # Errors
    /// Embeddings of the wrong width, or a damaged index.
    pub fn answer(&self, features: &[f32], dim: usize) -> Result<Vec<Answer>> {
        if features.is_empty() {
            return Ok(Vec::new());
        }
        if dim == 0 || !features.len().is_multiple_of(dim) {
            return Err(EngineError::Invalid(format!("{} numbers are not rows of width {dim}", features.len())));
        }
        match self {
            Classifier::Tree { classifier, question } => {
                let probs = classifier.probabilities(features)?;
                probs.iter().map(|p| tree_answer(classifier, *question, p)).collect()
            }
            Classifier::Labels { classifier, k } => Ok(features
                .chunks_exact(dim)
                .map(|f| Answer::Labels(classifier.classify(f, k.map(NonZeroUsize::get))))
                .collect()),
            Classifier::Centroids { centroids, k } => features
                .chunks_exact(dim)
                .map(|f| Ok(Answer::Classes(centroids.classify(f, k.map_or(centroids.labels().len(), |k| k.get()))?)))
                .collect(),
        }
    }
}

fn tree_answer(classifier: &TreeClassifier<'_>, question: TreeQuestion, probs: &[(TaxonId, f32)]) -> Result<Answer> {
    Ok(match question {
        TreeQuestion::Top { rank, k } => Answer::Taxa(classifier.rank_top_k(probs, rank, k.get())?),
        TreeQuestion::Deepest(p) => Answer::Deepest(classifier.deepest_confident(probs, p.get())?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_is_a_probability() {
        assert!(Confidence::new(0.5).is_ok());
        assert!(Confidence::new(1.0).is_ok());
        for bad in [0.0, -0.1, 1.5, f32::NAN] {
            assert!(Confidence::new(bad).is_err(), "{bad}");
        }
        assert!("1.5".parse::<Confidence>().unwrap_err().contains("(0, 1]"));
        assert!("x".parse::<Confidence>().is_err());
    }
}
