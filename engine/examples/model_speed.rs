//! Embedding throughput of a randomly initialised ViT-B/16 CLIP (BioCLIP's shape).
//!
//! `cargo run --release -p arbor-engine --example model_speed [image_iters] [text_iters] [cpu|cuda]`
//! (`cuda` needs `--features cuda`; `scripts/gpu-check.sh` runs it).
//!
//! Reports images/s at batch 1 and texts/s at batch 256, for full-length (77-token) texts and
//! for taxon-caption-length (20-token) texts, which the end-of-text truncation speeds up.

use std::time::Instant;

use arbor_engine::{Clip, ClipConfig, Cpu, ModelDir};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Int, Tensor, TensorData};

// The allocator `arbor` itself uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count = |i: usize, default: usize| args.get(i).map_or(Ok(default), |a| a.parse::<usize>());
    let (image_iters, text_iters) = (count(0, 10)?, count(1, 2)?);
    match args.get(2).map_or("cpu", String::as_str) {
        "cpu" => run::<Cpu>(image_iters, text_iters),
        #[cfg(feature = "cuda")]
        "cuda" => run::<arbor_engine::Cuda>(image_iters, text_iters),
        other => Err(format!("unknown device {other:?}: cpu, or cuda with --features cuda").into()),
    }
}

fn run<B: Backend>(image_iters: usize, text_iters: usize) -> Result {
    let device = B::Device::default();
    let config = ClipConfig::vit_b_16();
    let start = Instant::now();
    let model = Clip::<B>::new(&config, &device)?;
    println!("random init: {:.2} s", start.elapsed().as_secs_f64());

    let dir = std::env::temp_dir().join(format!("arbor-model-speed-{}", std::process::id()));
    let state = model.to_state_dict("random ViT-B/16")?;
    ModelDir::write(&state, config.clone(), "random", &dir)?;
    let start = Instant::now();
    let loaded = ModelDir::open(&dir)?.load::<B>(&device);
    println!("load from model dir: {:.3} s", start.elapsed().as_secs_f64());
    std::fs::remove_dir_all(&dir)?;
    drop((loaded?, state));

    // The backend's raw GEMM rate on this machine right now, to judge the model's numbers by
    // (the CPU may be shared).
    let a = Tensor::<B, 2>::random([2048, 768], Distribution::Normal(0.0, 1.0), &device);
    let b = Tensor::<B, 2>::random([768, 3072], Distribution::Normal(0.0, 1.0), &device);
    a.clone().matmul(b.clone()).into_data();
    let start = Instant::now();
    for _ in 0..5 {
        a.clone().matmul(b.clone()).into_data();
    }
    let gflops = 5.0 * 2.0 * 2048.0 * 768.0 * 3072.0 / start.elapsed().as_secs_f64() / 1e9;
    println!("sgemm 2048x768x3072: {gflops:.0} GFLOP/s");

    // Batch 1 (one photo per call) and batch 8 (a folder, as `arbor classify` batches it).
    for batch in [1, 8] {
        let pixels = Tensor::<B, 4>::random([batch, 3, 224, 224], Distribution::Normal(0.0, 1.0), &device);
        model.encode_image(pixels.clone())?; // warm-up
        let iters = if batch == 1 { image_iters } else { image_iters.div_ceil(batch) };
        let start = Instant::now();
        for _ in 0..iters {
            model.encode_image(pixels.clone())?.into_data();
        }
        let rate = (batch * iters) as f64 / start.elapsed().as_secs_f64();
        println!("encode_image batch {batch}: {rate:.2} images/s");
    }

    // No text iterations: skip the text warm-up too, so that a profile shows the image tower alone.
    let text_cases: &[usize] = if text_iters == 0 { &[] } else { &[76, 19] };
    for &eot in text_cases {
        let ids = caption_ids::<B>(256, eot, config.text.context_length, &device);
        model.encode_text(ids.clone())?; // warm-up
        let start = Instant::now();
        for _ in 0..text_iters {
            model.encode_text(ids.clone())?.into_data();
        }
        let rate = (256 * text_iters) as f64 / start.elapsed().as_secs_f64();
        println!("encode_text batch 256, end of text at {eot}: {rate:.1} texts/s");
    }
    Ok(())
}

/// `batch` rows of `[sot, tokens…, eot, 0…]` with the end of text at position `eot`.
fn caption_ids<B: Backend>(batch: usize, eot: usize, context: usize, device: &B::Device) -> Tensor<B, 2, Int> {
    let mut ids = vec![0_i64; batch * context];
    for (row, chunk) in ids.chunks_exact_mut(context).enumerate() {
        chunk[0] = 49406;
        for (i, id) in chunk.iter_mut().enumerate().take(eot).skip(1) {
            *id = 256 + ((row * 31 + i * 17) % 40000) as i64;
        }
        chunk[eot] = 49407;
    }
    Tensor::from_data(TensorData::new(ids, [batch, context]), device)
}
