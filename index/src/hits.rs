//! Search results and the bounded collector that ranks them.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::taxonomy::TaxonId;

/// One search result: a taxon and its inner product with the query.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Hit {
    /// The taxon (its input row).
    pub taxon: TaxonId,
    /// Inner product with the query (cosine similarity for unit vectors).
    pub score: f32,
}

/// Best-first order: higher score first, then lower taxon id, so results are
/// deterministic when scores tie.
pub(crate) fn best_first(a: &Hit, b: &Hit) -> Ordering {
    b.score.total_cmp(&a.score).then(a.taxon.cmp(&b.taxon))
}

/// Heap entry ordered so the *worst* kept hit is on top.
#[derive(Clone, Copy)]
struct Worst(Hit);

impl PartialEq for Worst {
    fn eq(&self, other: &Self) -> bool {
        best_first(&self.0, &other.0) == Ordering::Equal
    }
}
impl Eq for Worst {}
impl PartialOrd for Worst {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Worst {
    fn cmp(&self, other: &Self) -> Ordering {
        best_first(&self.0, &other.0)
    }
}

/// Keeps the `k` best hits seen so far.
#[derive(Clone)]
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Worst>,
}

impl TopK {
    pub(crate) fn new(k: usize) -> Self {
        TopK { k, heap: BinaryHeap::with_capacity(k + 1) }
    }

    /// The score a new hit must beat to enter (−∞ while not full).
    #[inline]
    pub(crate) fn threshold(&self) -> f32 {
        if self.heap.len() < self.k {
            f32::NEG_INFINITY
        } else {
            self.heap.peek().map_or(f32::NEG_INFINITY, |w| w.0.score)
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, hit: Hit) {
        if self.k == 0 {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(Worst(hit));
        } else if let Some(worst) = self.heap.peek()
            && best_first(&hit, &worst.0) == Ordering::Less
        {
            self.heap.pop();
            self.heap.push(Worst(hit));
        }
    }

    pub(crate) fn merge(mut self, other: TopK) -> TopK {
        for w in other.heap {
            self.push(w.0);
        }
        self
    }

    /// The hits, best first.
    pub(crate) fn into_sorted(self) -> Vec<Hit> {
        let mut v: Vec<Hit> = self.heap.into_iter().map(|w| w.0).collect();
        v.sort_by(best_first);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_k_best_with_deterministic_ties() {
        let mut t = TopK::new(3);
        for (id, s) in [(5, 0.1), (1, 0.9), (2, 0.5), (3, 0.9), (4, 0.7), (0, 0.5)] {
            t.push(Hit { taxon: TaxonId(id), score: s });
        }
        let ids: Vec<u32> = t.into_sorted().iter().map(|h| h.taxon.0).collect();
        assert_eq!(ids, vec![1, 3, 4]);
    }

    #[test]
    fn merge_equals_one_pass() {
        let hits: Vec<Hit> = (0..50).map(|i| Hit { taxon: TaxonId(i), score: ((i * 37) % 11) as f32 }).collect();
        let mut whole = TopK::new(7);
        hits.iter().for_each(|h| whole.push(*h));
        let (mut a, mut b) = (TopK::new(7), TopK::new(7));
        hits[..20].iter().for_each(|h| a.push(*h));
        hits[20..].iter().for_each(|h| b.push(*h));
        assert_eq!(a.merge(b).into_sorted(), whole.into_sorted());
    }
}
