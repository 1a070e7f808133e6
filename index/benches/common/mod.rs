//! Synthetic tree-of-life data for the benchmarks: the same model as
//! `bench/ann/gen_taxa.py` (each node = normalize(parent + Gaussian noise that
//! shrinks with depth), image-like queries with cosine 0.3–0.5 to their
//! species), scaled down so setup stays well under a minute.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use arbor_index::{Dtype, GraphParams, IndexBuilder, Lineage, TaxonRecord};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub const DIM: usize = 512;

pub struct World {
    pub taxa: Vec<TaxonRecord>,
    pub vectors: Vec<f32>,
}

fn gauss(rng: &mut ChaCha8Rng) -> f32 {
    // Box–Muller: rand 0.8 without rand_distr has no normal distribution.
    let u: f32 = rng.r#gen::<f32>().max(f32::MIN_POSITIVE);
    let v: f32 = rng.r#gen();
    (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
}

fn unit(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
}

fn noisy(rng: &mut ChaCha8Rng, parent: &[f32], scale: f32) -> Vec<f32> {
    let s = scale / (parent.len() as f32).sqrt();
    let mut v: Vec<f32> = parent.iter().map(|p| p + s * gauss(rng)).collect();
    unit(&mut v);
    v
}

/// `n` species under kingdom … genus levels sized like gen_taxa.py's (7
/// kingdoms, ~n/4.5 genera); children are spread over parents at random, every
/// parent keeping at least one. Rows come out shuffled, as real inputs do.
pub fn world(n: usize, seed: u64) -> World {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let scale = n as f64 / 450_000.0;
    let counts: Vec<usize> = [7.0, 110.0, 500.0, 3000.0, 15000.0, 100000.0]
        .iter()
        .enumerate()
        .map(|(i, &c)| if i == 0 { 7 } else { ((c * scale.powf(0.3 + 0.14 * i as f64)) as usize).max(7) })
        .collect();
    let mut root = vec![0f32; DIM];
    root.iter_mut().for_each(|x| *x = gauss(&mut rng));
    unit(&mut root);
    // level[l] = (name path, vector) of every node at depth l+1.
    let mut level: Vec<(Vec<String>, Vec<f32>)> = vec![(vec![], root)];
    let mut noise = 0.48f32;
    let ranks = ["Regnum", "Phylum", "Classis", "Ordo", "Familia", "Genus", "sp"];
    for (depth, &count) in counts.iter().chain(std::iter::once(&n)).enumerate() {
        let count = count.max(level.len());
        let mut next = Vec::with_capacity(count);
        for i in 0..count {
            let p = if i < level.len() { i } else { rng.gen_range(0..level.len()) };
            let mut path = level[p].0.clone();
            path.push(format!("{}{i}", ranks[depth]));
            next.push((path, noisy(&mut rng, &level[p].1, noise)));
        }
        level = next;
        noise *= 0.92;
    }
    use rand::seq::SliceRandom;
    level.shuffle(&mut rng);
    let mut taxa = Vec::with_capacity(n);
    let mut vectors = Vec::with_capacity(n * DIM);
    for (i, (path, v)) in level.into_iter().take(n).enumerate() {
        let names: [String; 7] = path.try_into().expect("seven ranks");
        taxa.push(TaxonRecord { lineage: Lineage(names), common_name: format!("taxon {i}") });
        vectors.extend(v);
    }
    World { taxa, vectors }
}

/// Image-like queries: a species vector plus noise, cosine 0.3–0.5 to it.
pub fn queries(w: &World, nq: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = w.taxa.len();
    let mut out = Vec::with_capacity(nq * DIM);
    for _ in 0..nq {
        let t = rng.gen_range(0..n);
        let c: f32 = rng.gen_range(0.3..0.5);
        out.extend(noisy(&mut rng, &w.vectors[t * DIM..(t + 1) * DIM], (1.0 / (c * c) - 1.0).sqrt()));
    }
    out
}

/// A directory that survives between bench runs, so an index that takes a
/// while to build (the HNSW one) is built once per parameter set.
pub fn cache_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("arbor-index-bench").join(name)
}

/// Builds (or reuses) an index of `w` in `dir`.
pub fn index(w: &World, dir: &Path, dtype: Dtype, graph: Option<GraphParams>) -> PathBuf {
    let file = dir.join(arbor_index::INDEX_FILE);
    if !file.exists() {
        let t = std::time::Instant::now();
        IndexBuilder::new(DIM).dtype(dtype).graph(graph).build(&w.taxa, &w.vectors, dir).expect("build bench index");
        eprintln!("built {} in {:.1} s", dir.display(), t.elapsed().as_secs_f64());
    }
    dir.to_path_buf()
}
