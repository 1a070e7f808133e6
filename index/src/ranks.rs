//! Rank-level answers: turn per-taxon scores into probabilities and sum them
//! up the tree, the way pybioclip does.

use std::collections::HashMap;

use crate::error::Result;
use crate::index::TaxonIndex;
use crate::taxonomy::{Rank, TaxonId};

/// pybioclip's floor: species at or below it do not count towards higher ranks.
pub const DEFAULT_MIN_PROB: f32 = 1e-9;

/// One answer at some rank.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RankHit {
    /// The rank answered at.
    pub rank: Rank,
    /// Names from the kingdom down to `rank`.
    pub path: Vec<String>,
    /// For species answers, the taxon and its common name.
    pub taxon: Option<TaxonId>,
    /// Common name (species answers only; may be empty).
    pub common_name: Option<String>,
    /// Probability (summed over the species under it, for higher ranks).
    pub score: f32,
}

/// `softmax(logit_scale · scores)`, in f32 as the reference computes it.
pub fn softmax(scores: &[f32], logit_scale: f32) -> Vec<f32> {
    let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(logit_scale * s));
    let exps: Vec<f32> = scores.iter().map(|&s| (logit_scale * s - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

impl TaxonIndex {
    /// The `k` most probable nodes at `rank`, given per-taxon probabilities.
    ///
    /// `probs` pairs taxa with probabilities, in taxon-id order. For species,
    /// the `k` most probable taxa. For higher ranks, pybioclip's rule: every
    /// taxon with `p > min_prob` adds its probability (in f32, in the given
    /// order) to its kingdom→rank group; the `k` largest groups win, ties going
    /// to the group seen first.
    pub fn rank_top_k(&self, probs: &[(TaxonId, f32)], rank: Rank, k: usize, min_prob: f32) -> Result<Vec<RankHit>> {
        if rank == Rank::Species {
            return self.species_top_k(probs, k);
        }
        // group → (sum, first taxon slot, order of first appearance)
        let mut sums: HashMap<u32, (f32, u32, usize)> = HashMap::new();
        for &(id, p) in probs {
            if p <= min_prob {
                continue;
            }
            let slot = self.slot_of(id)?;
            let next = sums.len();
            let entry = sums.entry(self.group_of(slot, rank)).or_insert((0.0, slot, next));
            entry.0 += p;
        }
        let mut groups: Vec<(f32, u32, usize)> = sums.into_values().collect();
        groups.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.2.cmp(&b.2)));
        groups
            .into_iter()
            .take(k)
            .map(|(score, slot, _)| {
                let lineage = self.lineage_at(slot)?;
                Ok(RankHit { rank, path: lineage.down_to(rank).to_vec(), taxon: None, common_name: None, score })
            })
            .collect()
    }

    fn species_top_k(&self, probs: &[(TaxonId, f32)], k: usize) -> Result<Vec<RankHit>> {
        let mut order: Vec<&(TaxonId, f32)> = probs.iter().collect();
        order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        order
            .into_iter()
            .take(k)
            .map(|&(id, score)| {
                let t = self.taxon(id)?;
                Ok(RankHit {
                    rank: Rank::Species,
                    path: t.lineage.0.to_vec(),
                    taxon: Some(id),
                    common_name: Some(t.common_name),
                    score,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let p = softmax(&[0.1, 0.3, -0.2, 0.3], 100.0);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[1] > p[0] && p[0] > p[2]);
        assert_eq!(p[1], p[3]);
    }
}
