//! Criterion: one ViT-B/16 MLP expansion (197 tokens × 768 → 3072) per precision, beside the
//! `gemm` crate's f32 product that burn's flex backend runs. `examples/linear_speed.rs` prints
//! GFLOP/s for more shapes in one run.

use arbor_kernels::{Activation, PackedLinear, Precision};
use criterion::{Criterion, criterion_group, criterion_main};

mod reference;

fn linear(c: &mut Criterion) {
    let (m, k, n) = (197, 768, 3072);
    let x: Vec<f32> = (0..m * k).map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0).collect();
    let w: Vec<f32> = (0..k * n).map(|i| ((i * 104729 % 1000) as f32 / 5000.0) - 0.1).collect();
    let mut group = c.benchmark_group("vit_b16_fc1_197x768x3072");
    group.sample_size(20);
    let mut out = vec![0.0_f32; m * n];
    group.bench_function("gemm_f32", |b| b.iter(|| reference::gemm_f32(&x, &w, &mut out, [m, k, n])));
    for precision in Precision::ALL {
        let layer = PackedLinear::new(&w, [k, n], None, precision).expect("shapes fit");
        group.bench_function(precision.name(), |b| b.iter(|| layer.forward(&x, Activation::Identity)));
    }
    group.finish();
}

criterion_group!(benches, linear);
criterion_main!(benches);
