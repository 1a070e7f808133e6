//! Build benchmarks: writing a small index with and without the HNSW graph.
//! See benches/README.md at the repository root.

mod common;

use arbor_index::{Dtype, GraphParams, IndexBuilder};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use common::DIM;

/// Small enough that one graph build takes seconds, so criterion can repeat it.
const N: usize = 5_000;

fn build(c: &mut Criterion) {
    let w = common::world(N, 44);
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut g = c.benchmark_group("build_5k");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    let cases = [
        ("no_graph_f32", Dtype::F32, None),
        ("no_graph_f16", Dtype::F16, None),
        ("m16_efc100", Dtype::F32, Some(GraphParams { m: 16, ef_construction: 100 })),
        ("m32_efc200", Dtype::F32, Some(GraphParams { m: 32, ef_construction: 200 })),
    ];
    for (name, dtype, graph) in cases {
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| IndexBuilder::new(DIM).dtype(dtype).graph(graph).build(&w.taxa, &w.vectors, tmp.path()))
        });
    }
    g.finish();
}

criterion_group!(benches, build);
criterion_main!(benches);
