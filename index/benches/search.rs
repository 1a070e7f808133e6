//! Search benchmarks: open, exact scans (f32/f16, 1/64/1000 queries), HNSW at
//! several ef, and the machine's streaming-read bandwidth the exact scan is
//! compared with. See benches/README.md at the repository root.

mod common;

use std::hint::black_box;

use arbor_index::{Dtype, GraphParams, Scope, SearchMode, TaxonIndex, dot_f32};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;

use common::DIM;

/// Taxa in the scan index: 100K × 512 f32 is 205 MB, f16 102 MB.
const SCAN_N: usize = 100_000;
/// Taxa in the graph index: hnsw_rs builds 50K at M=16, efc=100 in well under
/// a minute on two cores (and the index is cached between runs).
const GRAPH_N: usize = 50_000;
const K: usize = 10;

fn open(c: &mut Criterion) {
    let w = common::world(SCAN_N, 42);
    let dir = common::index(&w, &common::cache_dir("scan-100k-f32-v1"), Dtype::F32, None);
    // Warm: the header page is in the page cache, so this is the fixed cost
    // of mmap + header checks that every CLI call and embedding pays.
    c.bench_function("open/100k_f32_warm", |b| b.iter(|| black_box(TaxonIndex::open(&dir).expect("open"))));
}

fn exact(c: &mut Criterion) {
    let w = common::world(SCAN_N, 42);
    let queries = common::queries(&w, 1000, 7);
    let mut g = c.benchmark_group("exact_100k");
    g.sample_size(10);
    for (dtype, name) in [(Dtype::F32, "f32"), (Dtype::F16, "f16")] {
        let dir = common::index(&w, &common::cache_dir(&format!("scan-100k-{name}-v1")), dtype, None);
        let index = TaxonIndex::open(&dir).expect("open");
        for nq in [1usize, 64, 1000] {
            g.throughput(Throughput::Elements(nq as u64));
            g.bench_with_input(BenchmarkId::new(name, nq), &nq, |b, &nq| {
                b.iter(|| index.search_batch(&queries[..nq * DIM], K, SearchMode::Exact, Scope::All).expect("scan"))
            });
        }
    }
    // One query on one thread: the pure streaming case the bandwidth bench is the bound for.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("one-thread pool");
    for (dtype, name) in [(Dtype::F32, "f32_1t"), (Dtype::F16, "f16_1t")] {
        let dir = common::index(&w, &common::cache_dir(&format!("scan-100k-{}-v1", &name[..3])), dtype, None);
        let index = TaxonIndex::open(&dir).expect("open");
        g.throughput(Throughput::Elements(1));
        g.bench_with_input(BenchmarkId::new(name, 1), &1, |b, _| {
            b.iter(|| pool.install(|| index.search(&queries[..DIM], K, SearchMode::Exact, Scope::All).expect("scan")))
        });
    }
    g.finish();
}

/// One-query exact scans of an existing index file (e.g. the 450K harness
/// index, larger than any cache): `ARBOR_BENCH_INDEX=DIR cargo bench --bench search -- exact_file`.
fn exact_file(c: &mut Criterion) {
    let Some(dir) = std::env::var_os("ARBOR_BENCH_INDEX") else { return };
    let index = TaxonIndex::open(&dir).expect("open ARBOR_BENCH_INDEX");
    // The scan's cost does not depend on the query, so any unit vector will do.
    let q = vec![1.0 / (index.dim() as f32).sqrt(); index.dim()];
    let bytes = (index.len() * index.dim() * index.dtype().size()) as u64;
    let mut g = c.benchmark_group(format!("exact_file_{}k_{}", index.len() / 1000, index.dtype()));
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes));
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("one-thread pool");
    g.bench_function("1q_1t", |b| {
        b.iter(|| pool.install(|| index.search(&q, K, SearchMode::Exact, Scope::All).expect("scan")))
    });
    g.bench_function("1q_all_threads", |b| {
        b.iter(|| index.search(&q, K, SearchMode::Exact, Scope::All).expect("scan"))
    });
    g.finish();
}

fn hnsw(c: &mut Criterion) {
    let w = common::world(GRAPH_N, 43);
    let queries = common::queries(&w, 200, 8);
    let params = GraphParams { m: 16, ef_construction: 100 };
    let dir = common::index(&w, &common::cache_dir("graph-50k-m16-efc100-v1"), Dtype::F32, Some(params));
    let index = TaxonIndex::open(&dir).expect("open");
    let truth = index.search_batch(&queries, K, SearchMode::Exact, Scope::All).expect("exact");
    let mut g = c.benchmark_group("hnsw_50k_m16");
    g.sample_size(10);
    for ef in [16usize, 64, 256, 1024] {
        let mode = SearchMode::Approximate { ef };
        // Recall is printed, not asserted: the bench reports speed at a known quality.
        let got = index.search_batch(&queries, K, mode, Scope::All).expect("hnsw");
        let hits: usize = got
            .iter()
            .zip(&truth)
            .map(|(a, t)| a.iter().filter(|h| t.iter().any(|x| x.taxon == h.taxon)).count())
            .sum();
        eprintln!("hnsw_50k_m16 ef={ef}: recall@10 = {:.3}", hits as f64 / (K * truth.len()) as f64);
        // One query per call on the calling thread: the latency an embedder sees.
        g.throughput(Throughput::Elements((queries.len() / DIM) as u64));
        g.bench_with_input(BenchmarkId::new("1t", ef), &ef, |b, _| {
            b.iter(|| {
                for q in queries.chunks_exact(DIM) {
                    black_box(index.search(q, K, mode, Scope::All).expect("hnsw"));
                }
            })
        });
    }
    g.finish();
}

/// Streaming read of a buffer far larger than the last-level cache: the
/// bandwidth a one-query exact scan (which reads every vector once) is bound by.
/// It runs the scan's own kernel (`dot_f32` of 512-float rows with one query)
/// without the top-k, so the only difference left to the scan is bookkeeping.
fn bandwidth(c: &mut Criterion) {
    const BYTES: usize = 1 << 30;
    let buf: Vec<f32> = (0..BYTES / 4).map(|i| (i % 7) as f32).collect();
    let q = vec![0.5f32; DIM];
    let mut g = c.benchmark_group("bandwidth_1gib");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(BYTES as u64));
    let read = |s: &[f32]| s.chunks_exact(DIM).map(|r| dot_f32(r, &q)).sum::<f32>();
    g.bench_function("read_1t", |b| b.iter(|| black_box(read(&buf))));
    g.bench_function("read_all_threads", |b| b.iter(|| black_box(buf.par_chunks(DIM * 2048).map(read).sum::<f32>())));
    g.finish();
}

criterion_group!(benches, open, exact, exact_file, hnsw, bandwidth);
criterion_main!(benches);
