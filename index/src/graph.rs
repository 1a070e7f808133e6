//! The HNSW graph: built with `hnsw_rs`, then frozen into flat neighbour
//! tables that are searched in place from the memory map.
//!
//! hnsw_rs's own reload rebuilds every point as an `Arc` (seconds and ~1 GB at
//! 450K taxa); a CLI that opens the index per call cannot afford that, so only
//! the adjacency is kept, as fixed-width rows of slot numbers.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

use hnsw_rs::anndists::dist::Distance;
use hnsw_rs::prelude::Hnsw;

use crate::dot::dot_f32;
use crate::format::NO_NEIGHBOUR;
use crate::vectors::Rows;

/// HNSW construction parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphParams {
    /// Neighbours per node on the upper levels (level 0 keeps `2·m`). 4 ..= 128.
    pub m: usize,
    /// Beam width while inserting; higher builds slower and searches better.
    pub ef_construction: usize,
}

impl Default for GraphParams {
    fn default() -> Self {
        GraphParams { m: 16, ef_construction: 200 }
    }
}

/// `1 − dot`, clamped at 0: hnsw_rs's `DistDot` asserts `dot ≤ 1`, which two
/// unit vectors can break by a rounding error.
#[derive(Clone, Copy, Default)]
struct UnitDot;

impl Distance<f32> for UnitDot {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - dot_f32(a, b)).max(0.0)
    }
}

/// A graph as flat tables, in storage slots.
#[derive(Debug, Default)]
pub(crate) struct FrozenGraph {
    pub m: u32,
    pub m0: u32,
    pub entry: u32,
    pub top: u32,
    pub levels: Vec<u8>,
    pub base: Vec<u32>,
    pub upper_start: Vec<u32>,
    pub upper: Vec<u32>,
}

/// Builds the graph over `rows` (row-major, unit vectors, already validated)
/// and freezes it. `progress(done, total)` is called between insert batches.
pub(crate) fn build(rows: &[f32], dim: usize, params: GraphParams, progress: &dyn Fn(u64, u64)) -> FrozenGraph {
    let n = rows.len() / dim;
    let hnsw: Hnsw<f32, UnitDot> = Hnsw::new(params.m, n, 16, params.ef_construction, UnitDot);
    // Rows arrive in lineage order. Inserting them in that order builds each
    // clade's links before the next clade exists, and the graph lacks the
    // long-range edges a beam search needs to cross between clades (at 20K
    // taxa, recall@10 0.92 instead of 0.99 at ef 256). A fixed pseudo-random
    // order keeps the file reproducible.
    let items: Vec<(&[f32], usize)> =
        insertion_order(n).into_iter().map(|i| (&rows[i * dim..(i + 1) * dim], i)).collect();
    let batch = 4096.max(n / 100);
    for (b, chunk) in items.chunks(batch).enumerate() {
        hnsw.parallel_insert_slice(&chunk.to_vec());
        progress(((b * batch + chunk.len()) as u64).min(n as u64), n as u64);
    }
    freeze(&hnsw, n, params.m)
}

/// A seeded Fisher–Yates permutation of `0..n` (SplitMix64, so the build
/// needs no random-number crate and every build inserts in the same order;
/// hnsw_rs's parallel insertion may still link a few points differently).
fn insertion_order(n: usize) -> Vec<usize> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, (next() % (i as u64 + 1)) as usize);
    }
    order
}

fn freeze(hnsw: &Hnsw<f32, UnitDot>, n: usize, m: usize) -> FrozenGraph {
    let m0 = 2 * m;
    let mut g = FrozenGraph {
        m: m as u32,
        m0: m0 as u32,
        levels: vec![0; n],
        base: vec![NO_NEIGHBOUR; n * m0],
        upper_start: vec![NO_NEIGHBOUR; n],
        ..FrozenGraph::default()
    };
    // Entry point: the highest-level point, lowest slot first, for a reproducible file.
    let mut top = (0u8, u32::MAX);
    for point in hnsw.get_point_indexation() {
        let slot = point.get_origin_id();
        let level = point.get_point_id().0;
        g.levels[slot] = level;
        if level > top.0 || (level == top.0 && (slot as u32) < top.1) {
            top = (level, slot as u32);
        }
        let layers = point.get_neighborhood_id();
        for l in 0..=level as usize {
            let mut nbs: Vec<_> = layers.get(l).into_iter().flatten().filter(|nb| nb.d_id != slot).collect();
            nbs.sort_by(|a, b| a.distance.total_cmp(&b.distance));
            let width = if l == 0 { m0 } else { m };
            let row: Vec<u32> = nbs.iter().take(width).map(|nb| nb.d_id as u32).collect();
            if l == 0 {
                g.base[slot * m0..slot * m0 + row.len()].copy_from_slice(&row);
                continue;
            }
            // Upper rows of a point are consecutive, level 1 first.
            if l == 1 {
                g.upper_start[slot] = (g.upper.len() / m) as u32;
            }
            let start = g.upper.len();
            g.upper.resize(start + m, NO_NEIGHBOUR);
            g.upper[start..start + row.len()].copy_from_slice(&row);
        }
    }
    g.entry = if top.1 == u32::MAX { 0 } else { top.1 };
    g.top = top.0 as u32;
    g
}

/// The frozen tables, borrowed from the memory map.
pub(crate) struct GraphView<'a> {
    pub m: usize,
    pub m0: usize,
    pub entry: u32,
    pub top: u32,
    pub levels: &'a [u8],
    pub base: &'a [u32],
    pub upper_start: &'a [u32],
    pub upper: &'a [u32],
}

impl GraphView<'_> {
    /// Neighbours of `slot` at `level`; empty if the tables do not have them
    /// (a damaged file degrades results, it never panics).
    fn neighbours(&self, slot: u32, level: u32) -> &[u32] {
        let s = slot as usize;
        let row = if level == 0 {
            self.base.get(s * self.m0..(s + 1) * self.m0)
        } else {
            let start = match self.upper_start.get(s) {
                Some(&st) if st != NO_NEIGHBOUR => st as usize + level as usize - 1,
                _ => return &[],
            };
            self.upper.get(start * self.m..(start + 1) * self.m)
        };
        let row = row.unwrap_or(&[]);
        let len = row.iter().position(|&x| x == NO_NEIGHBOUR).unwrap_or(row.len());
        &row[..len]
    }

    /// Beam search: the `ef` best slots found for `q`, as (score, slot), unordered.
    pub(crate) fn search(&self, rows: Rows<'_>, dim: usize, q: &[f32], ef: usize) -> Vec<(f32, u32)> {
        let n = self.levels.len();
        if n == 0 {
            return Vec::new();
        }
        let ef = ef.max(1);
        let mut cur = self.entry.min(n as u32 - 1);
        let mut cur_score = rows.dot(cur as usize, dim, q);
        for level in (1..=self.top).rev() {
            loop {
                let mut moved = false;
                for &nb in self.neighbours(cur, level) {
                    if (nb as usize) < n {
                        let s = rows.dot(nb as usize, dim, q);
                        if s > cur_score {
                            (cur, cur_score, moved) = (nb, s, true);
                        }
                    }
                }
                if !moved {
                    break;
                }
            }
        }
        VISITED.with(|v| self.search_base(rows, dim, q, ef, (cur_score, cur), &mut v.borrow_mut()))
    }

    fn search_base(
        &self,
        rows: Rows<'_>,
        dim: usize,
        q: &[f32],
        ef: usize,
        start: (f32, u32),
        visited: &mut Visited,
    ) -> Vec<(f32, u32)> {
        let n = self.levels.len();
        visited.reset(n);
        visited.insert(start.1);
        let mut frontier = BinaryHeap::from([Best(start)]);
        let mut kept = BinaryHeap::from([Worst(start)]);
        while let Some(Best((score, slot))) = frontier.pop() {
            let floor = kept.peek().map_or(f32::NEG_INFINITY, |w| w.0.0);
            if kept.len() >= ef && score < floor {
                break;
            }
            // Mark and prefetch every fresh neighbour first, then score them.
            visited.fresh.clear();
            for &nb in self.neighbours(slot, 0) {
                if (nb as usize) < n && visited.insert(nb) {
                    rows.prefetch(nb as usize, dim);
                    visited.fresh.push(nb);
                }
            }
            for i in 0..visited.fresh.len() {
                let nb = visited.fresh[i];
                let s = rows.dot(nb as usize, dim, q);
                let floor = kept.peek().map_or(f32::NEG_INFINITY, |w| w.0.0);
                if kept.len() < ef || s > floor {
                    frontier.push(Best((s, nb)));
                    kept.push(Worst((s, nb)));
                    if kept.len() > ef {
                        kept.pop();
                    }
                }
            }
        }
        kept.into_iter().map(|w| w.0).collect()
    }
}

/// Max-heap by score.
struct Best((f32, u32));
/// Min-heap by score (the worst on top).
struct Worst((f32, u32));

macro_rules! heap_order {
    ($t:ident, $cmp:expr) => {
        impl PartialEq for $t {
            fn eq(&self, o: &Self) -> bool {
                self.cmp(o) == Ordering::Equal
            }
        }
        impl Eq for $t {}
        impl PartialOrd for $t {
            fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
                Some(self.cmp(o))
            }
        }
        impl Ord for $t {
            fn cmp(&self, o: &Self) -> Ordering {
                let f: fn(&(f32, u32), &(f32, u32)) -> Ordering = $cmp;
                f(&self.0, &o.0)
            }
        }
    };
}
heap_order!(Best, |a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
heap_order!(Worst, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));

/// Visited marks by generation, so a search never clears an N-sized array.
#[derive(Default)]
struct Visited {
    marks: Vec<u32>,
    generation: u32,
    /// Scratch: the unvisited neighbours of the node being expanded.
    fresh: Vec<u32>,
}

impl Visited {
    fn reset(&mut self, n: usize) {
        if self.marks.len() != n || self.generation == u32::MAX {
            self.marks = vec![0; n];
            self.generation = 0;
        }
        self.generation += 1;
    }

    /// Marks `slot`; false if it was already marked.
    fn insert(&mut self, slot: u32) -> bool {
        let m = &mut self.marks[slot as usize];
        let fresh = *m != self.generation;
        *m = self.generation;
        fresh
    }
}

thread_local! {
    static VISITED: RefCell<Visited> = RefCell::new(Visited::default());
}
