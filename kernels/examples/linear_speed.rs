//! GFLOP/s of the packed products beside the `gemm` crate's f32 (what burn's flex backend
//! runs), on the linear layers of ViT-B/16 and ViT-L/14, at batch 1 (197 or 257 tokens) and 8.
//!
//! `cargo run --release -p arbor-kernels --example linear_speed [reps]`

use std::time::Instant;

use arbor_kernels::{Activation, CpuFeatures, PackedLinear, Precision};

#[path = "../benches/reference/mod.rs"]
mod reference;

fn main() {
    let reps: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let cpu = CpuFeatures::detect();
    println!("cpu: {cpu:?}; threads {}", rayon::current_num_threads());
    let shapes = [
        ("B/16 fc1", 197, 768, 3072),
        ("B/16 fc2", 197, 3072, 768),
        ("B/16 qkv", 197, 768, 2304),
        ("B/16 fc1 x8", 1576, 768, 3072),
        ("L/14 fc1", 257, 1024, 4096),
    ];
    for (name, m, k, n) in shapes {
        let x: Vec<f32> = (0..m * k).map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0).collect();
        let w: Vec<f32> = (0..k * n).map(|i| ((i * 104729 % 1000) as f32 / 5000.0) - 0.1).collect();
        let flops = 2.0 * (m * k * n) as f64;
        let time = |f: &mut dyn FnMut()| {
            f();
            let start = Instant::now();
            for _ in 0..reps {
                f();
            }
            flops * reps as f64 / start.elapsed().as_secs_f64() / 1e9
        };
        let mut out = vec![0.0_f32; m * n];
        let gemm_rate = time(&mut || reference::gemm_f32(&x, &w, &mut out, [m, k, n]));
        let mut line = format!("{name:12} gemm f32 {gemm_rate:6.1}");
        for precision in Precision::ALL {
            let layer = PackedLinear::new(&w, [k, n], None, precision).unwrap();
            let rate = time(&mut || {
                std::hint::black_box(layer.forward(&x, Activation::Identity).unwrap());
            });
            line += &format!(" | {precision} {rate:6.1} ({:.2}x)", rate / gemm_rate);
        }
        println!("{line}  GFLOP/s");
    }

    // What fusing the output pass saves: bias + GELU into the MLP expansion, bias + residual add
    // into the MLP projection, against the same product followed by a separate pass.
    let (m, k, n) = (197, 768, 3072);
    let x: Vec<f32> = (0..m * k).map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0).collect();
    let w: Vec<f32> = (0..k * n).map(|i| ((i * 104729 % 1000) as f32 / 5000.0) - 0.1).collect();
    let bias = vec![0.01_f32; n];
    let time = |f: &mut dyn FnMut()| {
        f();
        let start = Instant::now();
        for _ in 0..reps * 4 {
            f();
        }
        start.elapsed().as_secs_f64() * 1e3 / (reps * 4) as f64
    };
    for precision in Precision::ALL {
        let layer = PackedLinear::new(&w, [k, n], Some(&bias), precision).unwrap();
        let fused = time(&mut || {
            std::hint::black_box(layer.forward(&x, Activation::Gelu).unwrap());
        });
        let separate = time(&mut || {
            let mut y = layer.forward(&x, Activation::Identity).unwrap();
            arbor_kernels::gelu_in_place(&mut y);
            std::hint::black_box(y);
        });
        let mut acc = vec![0.5_f32; m * n];
        let fused_add = time(&mut || layer.forward_add(&x, &mut acc).unwrap());
        let separate_add = time(&mut || {
            let y = layer.forward(&x, Activation::Identity).unwrap();
            acc.iter_mut().zip(&y).for_each(|(a, y)| *a += y);
        });
        println!(
            "{precision:5} 197x768x3072: GELU fused {fused:.3} ms, separate {separate:.3} ms | residual fused {fused_add:.3} ms, separate {separate_add:.3} ms"
        );
    }
}
