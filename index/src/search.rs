//! Nearest-taxon search: exact scans (one GEMM per block of queries and taxa)
//! and HNSW beam search, over the whole tree or one subtree.

use std::ops::Range;

use rayon::prelude::*;

use crate::error::{IndexError, Result};
use crate::hits::{Hit, TopK};
use crate::index::TaxonIndex;
use crate::taxonomy::{Subtree, TaxonId};
use crate::vectors::{Rows, check_vector};

/// How to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchMode {
    /// Score every taxon in scope: the true top-k.
    Exact,
    /// HNSW beam search of width `ef` (≥ k), then the candidates ranked by
    /// their exact scores. Falls back to `Exact` on an index without a graph
    /// and inside a subtree (a subtree is one contiguous range, scanned exactly),
    /// and for a batch of at least [`EXACT_BATCH`] queries whose `ef` is at least
    /// 1/[`EXACT_EF_FRACTION`] of the index: there the batched exact scan is the
    /// faster of the two (measured at 20K and 450K taxa, docs/benchmarks.md), and
    /// its answer is the true top-k.
    Approximate {
        /// Beam width: higher is slower and finds more of the true top-k.
        ef: usize,
    },
}

/// Which taxa a search considers.
#[derive(Debug, Clone, Copy, Default)]
pub enum Scope<'a> {
    /// Every taxon.
    #[default]
    All,
    /// The taxa under one node of the tree.
    Within(&'a Subtree),
    /// An explicit list of taxa (e.g. a regional checklist).
    Taxa(&'a [TaxonId]),
}

/// A [`Scope`] resolved to taxon ids (in id order) and their storage slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedScope {
    ids: Vec<TaxonId>,
    slots: Vec<u32>,
    /// Size of the index it was resolved on: a cheap guard against using it with another.
    taxa: usize,
}

impl ResolvedScope {
    /// The taxa, in taxon-id order: the order of the scores
    /// [`TaxonIndex::scores_resolved`] returns.
    pub fn ids(&self) -> &[TaxonId] {
        &self.ids
    }
}

/// Batches of at least this many queries may be answered by the exact scan (see
/// [`SearchMode::Approximate`]): a smaller batch re-reads the taxa for few queries.
pub const EXACT_BATCH: usize = 256;
/// A beam of `ef ≥ N / EXACT_EF_FRACTION` costs more per query than the batched exact scan
/// over N taxa (450K taxa, 1 thread: ef 2048 → 230 queries/s at recall@10 0.90, exact scan →
/// ~280 queries/s at recall 1).
pub const EXACT_EF_FRACTION: usize = 256;

/// Taxa per exact-scan block: 2048 rows × 512 dims of f32 is 4 MB, which
/// streams through cache once per block of queries.
const SLOT_BLOCK: usize = 2048;
/// Queries per GEMM call: the GEMM repacks the block of taxa on every call, which took half
/// the scan's time at 64 queries per call (450K taxa, 1 thread: 177 → ~280 queries/s at 512).
const QUERY_BLOCK: usize = 512;

/// A scanning worker's reusable buffers.
#[derive(Default)]
struct Scratch {
    /// f16 rows converted to f32.
    rows: Vec<f32>,
    /// Scores of a block of queries against a block of taxa.
    scores: Vec<f32>,
}

impl TaxonIndex {
    /// The `k` taxa whose vectors have the largest inner product with `query`, best first.
    pub fn search(&self, query: &[f32], k: usize, mode: SearchMode, scope: Scope<'_>) -> Result<Vec<Hit>> {
        Ok(self.search_batch(query, k, mode, scope)?.pop().unwrap_or_default())
    }

    /// [`search`](Self::search) for many queries (row-major, `dim` per row), on all cores.
    pub fn search_batch(&self, queries: &[f32], k: usize, mode: SearchMode, scope: Scope<'_>) -> Result<Vec<Vec<Hit>>> {
        let dim = self.dim();
        self.check_queries(queries)?;
        match (mode, scope, self.graph()) {
            (SearchMode::Approximate { ef }, Scope::All, Some(graph))
                if !self.exact_is_faster(ef, queries.len() / dim) =>
            {
                let rows = self.rows();
                Ok(queries
                    .par_chunks_exact(dim)
                    .map(|q| {
                        let mut top = TopK::new(k);
                        for (score, slot) in graph.search(rows, dim, q, ef.max(k)) {
                            top.push(Hit { taxon: self.id_at(slot), score });
                        }
                        top.into_sorted()
                    })
                    .collect())
            }
            (_, Scope::Taxa(ids), _) => {
                let slots = ids.iter().map(|&id| self.slot_of(id)).collect::<Result<Vec<u32>>>()?;
                Ok(queries.par_chunks_exact(dim).map(|q| self.scan_list(q, k, &slots)).collect())
            }
            (_, Scope::Within(s), _) => Ok(self.scan(queries, k, self.checked_range(s)?)),
            (_, Scope::All, _) => Ok(self.scan(queries, k, 0..self.len())),
        }
    }

    /// Whether the batched exact scan answers `queries` queries faster than beams of width `ef`.
    pub fn exact_is_faster(&self, ef: usize, queries: usize) -> bool {
        queries >= EXACT_BATCH && ef.saturating_mul(EXACT_EF_FRACTION) >= self.len()
    }

    /// The score of every taxon in scope for each query, in taxon-id order
    /// (the order of [`scope_ids`](Self::scope_ids)): what a softmax over the
    /// whole tree, as pybioclip computes it, needs.
    pub fn scores_batch(&self, queries: &[f32], scope: Scope<'_>) -> Result<Vec<Vec<f32>>> {
        self.check_queries(queries)?;
        self.scores_resolved(queries, &self.resolve_scope(scope)?)
    }

    /// Resolves a scope to its taxa and their storage slots once, for callers that score many
    /// batches against the same scope (a classifier running over a folder of photos): on a
    /// 450K-taxon tree that list is as long as the tree.
    pub fn resolve_scope(&self, scope: Scope<'_>) -> Result<ResolvedScope> {
        let ids = self.scope_ids(scope)?;
        let slots = ids.iter().map(|&id| self.slot_of(id)).collect::<Result<Vec<u32>>>()?;
        Ok(ResolvedScope { ids, slots, taxa: self.len() })
    }

    /// [`scores_batch`](Self::scores_batch) over a scope resolved by
    /// [`resolve_scope`](Self::resolve_scope) on this index.
    pub fn scores_resolved(&self, queries: &[f32], scope: &ResolvedScope) -> Result<Vec<Vec<f32>>> {
        self.check_queries(queries)?;
        if scope.taxa != self.len() || scope.slots.iter().any(|&s| s as usize >= self.len()) {
            return Err(IndexError::BadRequest(format!(
                "{}: the scope was resolved on another index ({} taxa, this one has {})",
                self.path().display(),
                scope.taxa,
                self.len()
            )));
        }
        // Blocks of the scope in parallel, each scored against every query at once: a batch of
        // photos reads the vectors once (922 MB at 450K taxa), not once per photo.
        let rows = self.rows();
        let blocks: Vec<Vec<f32>> = scope
            .slots
            .par_chunks(SLOT_BLOCK)
            .map_init(Scratch::default, |scratch, slots| self.score_slots(rows, queries, slots, scratch))
            .collect();
        let mut out: Vec<Vec<f32>> =
            (0..queries.len() / self.dim()).map(|_| Vec::with_capacity(scope.slots.len())).collect();
        for (block, slots) in blocks.iter().zip(scope.slots.chunks(SLOT_BLOCK)) {
            for (scores, part) in out.iter_mut().zip(block.chunks_exact(slots.len())) {
                scores.extend_from_slice(part);
            }
        }
        Ok(out)
    }

    /// Scores of `slots` for every query, `[query][slot]` row-major.
    fn score_slots(&self, rows: Rows<'_>, queries: &[f32], slots: &[u32], scratch: &mut Scratch) -> Vec<f32> {
        let dim = self.dim();
        if queries.len() == dim {
            return slots.iter().map(|&s| rows.dot(s as usize, dim, queries)).collect();
        }
        scratch.rows.clear();
        for &slot in slots {
            rows.push_row_f32(slot as usize, dim, &mut scratch.rows);
        }
        let mut scores = vec![0.0; queries.len() / dim * slots.len()];
        for (qs, out) in queries.chunks(QUERY_BLOCK * dim).zip(scores.chunks_mut(QUERY_BLOCK * slots.len())) {
            gemm_scores(qs, &scratch.rows, dim, out);
        }
        scores
    }

    /// The taxa a scope covers, in taxon-id order.
    pub fn scope_ids(&self, scope: Scope<'_>) -> Result<Vec<TaxonId>> {
        let mut ids: Vec<TaxonId> = match scope {
            Scope::All => return Ok((0..self.len() as u32).map(TaxonId).collect()),
            Scope::Within(s) => self.checked_range(s)?.map(|slot| self.id_at(slot as u32)).collect(),
            Scope::Taxa(list) => {
                for &id in list {
                    self.slot_of(id)?;
                }
                list.to_vec()
            }
        };
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    fn check_queries(&self, queries: &[f32]) -> Result<()> {
        let dim = self.dim();
        if queries.is_empty() || !queries.len().is_multiple_of(dim) {
            return Err(IndexError::BadVector {
                row: 0,
                problem: format!("{} numbers do not form queries of dimension {dim}", queries.len()),
            });
        }
        queries.chunks_exact(dim).enumerate().try_for_each(|(row, q)| check_vector(row, q, dim, false))
    }

    fn checked_range(&self, s: &Subtree) -> Result<Range<usize>> {
        let r = s.slots.start as usize..s.slots.end as usize;
        if r.end > self.len() || r.start > r.end {
            return Err(IndexError::BadRequest(format!("subtree {} is not part of this index", s.name())));
        }
        Ok(r)
    }

    fn scan_list(&self, q: &[f32], k: usize, slots: &[u32]) -> Vec<Hit> {
        let (dim, rows) = (self.dim(), self.rows());
        let mut top = TopK::new(k);
        for &slot in slots {
            top.push(Hit { taxon: self.id_at(slot), score: rows.dot(slot as usize, dim, q) });
        }
        top.into_sorted()
    }

    /// Exact top-k over a slot range: blocks of taxa in parallel, each block
    /// scored against every query with one GEMM so the block is read once.
    fn scan(&self, queries: &[f32], k: usize, range: Range<usize>) -> Vec<Vec<Hit>> {
        let (dim, rows) = (self.dim(), self.rows());
        let nq = queries.len() / dim;
        let blocks: Vec<Range<usize>> =
            range.clone().step_by(SLOT_BLOCK).map(|s| s..(s + SLOT_BLOCK).min(range.end)).collect();
        // Each worker keeps its scratch buffers across blocks, so that a block does not allocate
        // and zero its own score buffer (4 MB at 512 queries × 2048 taxa).
        let tops = blocks
            .into_par_iter()
            .fold(
                || (vec![TopK::new(k); nq], Scratch::default()),
                |(mut tops, mut scratch), block| {
                    self.scan_block(rows, queries, block, &mut tops, &mut scratch);
                    (tops, scratch)
                },
            )
            .map(|(tops, _)| tops)
            .reduce(|| vec![TopK::new(k); nq], |a, b| a.into_iter().zip(b).map(|(x, y)| x.merge(y)).collect());
        tops.into_iter().map(TopK::into_sorted).collect()
    }

    fn scan_block(
        &self,
        rows: Rows<'_>,
        queries: &[f32],
        block: Range<usize>,
        tops: &mut [TopK],
        scratch: &mut Scratch,
    ) {
        let dim = self.dim();
        let n = block.len();
        if queries.len() / dim == 1 {
            let top = &mut tops[0];
            for slot in block {
                let score = rows.dot(slot, dim, queries);
                if score >= top.threshold() {
                    top.push(Hit { taxon: self.id_at(slot as u32), score });
                }
            }
            return;
        }
        let vectors = rows.rows_f32(block.clone(), dim, &mut scratch.rows);
        let scores = &mut scratch.scores;
        scores.resize(QUERY_BLOCK.min(queries.len() / dim) * n, 0.0);
        for (qb, qs) in queries.chunks(QUERY_BLOCK * dim).enumerate() {
            let m = qs.len() / dim;
            gemm_scores(qs, vectors, dim, &mut scores[..m * n]);
            for (i, row) in scores[..m * n].chunks_exact(n).enumerate() {
                let top = &mut tops[qb * QUERY_BLOCK + i];
                for (j, &score) in row.iter().enumerate() {
                    if score >= top.threshold() {
                        top.push(Hit { taxon: self.id_at((block.start + j) as u32), score });
                    }
                }
            }
        }
    }
}

/// `out` (m × n, row-major) = `queries` (m × dim) · `vectors` (n × dim)ᵀ, on the calling thread.
fn gemm_scores(queries: &[f32], vectors: &[f32], dim: usize, out: &mut [f32]) {
    let (m, n) = (queries.len() / dim, vectors.len() / dim);
    assert!(queries.len() == m * dim && vectors.len() == n * dim && out.len() == m * n);
    // SAFETY: lhs is m×dim (row-major), rhs the transpose of the n×dim rows (read with swapped
    // strides), dst m×n; the assert above keeps every pointer and stride inside the slices.
    unsafe {
        gemm::gemm(
            m,
            n,
            dim,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            queries.as_ptr(),
            1,
            dim as isize,
            vectors.as_ptr(),
            dim as isize,
            1,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
