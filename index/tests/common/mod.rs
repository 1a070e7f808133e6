//! Shared test data: a small synthetic tree of life with hierarchical vectors.
#![allow(dead_code)]

use arbor_index::{Lineage, TaxonRecord};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub struct World {
    pub taxa: Vec<TaxonRecord>,
    pub vectors: Vec<f32>,
    pub dim: usize,
}

fn unit(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
}

fn child(rng: &mut ChaCha8Rng, parent: &[f32], noise: f32) -> Vec<f32> {
    let mut v: Vec<f32> = parent.iter().map(|p| p + noise * (rng.r#gen::<f32>() - 0.5)).collect();
    unit(&mut v);
    v
}

/// `n` taxa under a 7-level tree; taxa are emitted in a shuffled order so the
/// index has to reorder them. Each node's vector is its parent's plus noise.
pub fn world(n: usize, dim: usize, seed: u64) -> World {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let fan = [3usize, 3, 3, 3, 3, 4];
    let mut rows = Vec::new();
    let root = vec![0.0f32; dim];
    let mut stack: Vec<(Vec<String>, Vec<f32>)> = vec![(vec![], root)];
    let mut counter = 0;
    while let Some((path, v)) = stack.pop() {
        let depth = path.len();
        if depth == 6 {
            for s in 0..fan[5] {
                let mut lineage = path.clone();
                lineage.push(format!("sp{s}"));
                rows.push((lineage, child(&mut rng, &v, 0.3)));
            }
            continue;
        }
        for _ in 0..fan[depth] {
            let mut p = path.clone();
            let prefix = ["Regnum", "Phylum", "Classis", "Ordo", "Familia", "Genus"][depth];
            counter += 1;
            p.push(format!("{prefix}{counter}"));
            let noise = [4.0, 2.0, 1.5, 1.0, 0.8, 0.5][depth];
            stack.push((p, child(&mut rng, &v, noise)));
        }
    }
    use rand::seq::SliceRandom;
    rows.shuffle(&mut rng);
    rows.truncate(n);
    let mut taxa = Vec::new();
    let mut vectors = Vec::new();
    for (i, (lineage, v)) in rows.into_iter().enumerate() {
        let names: [String; 7] = lineage.try_into().expect("7 names");
        taxa.push(TaxonRecord { lineage: Lineage(names), common_name: format!("common {i}") });
        vectors.extend(v);
    }
    World { taxa, vectors, dim }
}

/// Queries like image embeddings: a taxon's vector plus a lot of noise.
pub fn queries(w: &World, nq: usize, noise: f32, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = w.taxa.len();
    let mut out = Vec::new();
    for _ in 0..nq {
        let t = rng.gen_range(0..n);
        out.extend(child(&mut rng, &w.vectors[t * w.dim..(t + 1) * w.dim], noise));
    }
    out
}

/// Brute-force top-k by inner product (f64), ties by id.
pub fn brute_top_k(w: &World, q: &[f32], k: usize, keep: impl Fn(usize) -> bool) -> Vec<(u32, f32)> {
    let mut s: Vec<(u32, f64)> = (0..w.taxa.len())
        .filter(|&i| keep(i))
        .map(|i| {
            (i as u32, w.vectors[i * w.dim..(i + 1) * w.dim].iter().zip(q).map(|(a, b)| *a as f64 * *b as f64).sum())
        })
        .collect();
    s.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    s.into_iter().take(k).map(|(i, x)| (i, x as f32)).collect()
}
