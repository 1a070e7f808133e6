//! Training steps per second of a CLIP model on the CPU: forward, backward and AdamW on a
//! fixed batch, as `scripts/bench-train.py` times open_clip's own step on the same config.
//!
//! ```sh
//! cargo run --release -p arbor-trainer --example train_step -- --threads 2 --batch 64 --steps 20
//! ```

use std::time::Instant;

use arbor_engine::Tokenizer;
use arbor_engine::{Clip, ClipConfig, Cpu};
use arbor_trainer::train::{optimizer_step, optimizers};
use burn::backend::Autodiff;
use burn::tensor::{Distribution, Int, Tensor, TensorData};

type B = Autodiff<Cpu>;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(default)
}

/// The captions both benchmarks use: BioCLIP-shaped, a different species per row.
fn captions(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("a photo of Fodaemia Staelota Cutrida Liopasiformes Cistougidae Vupus species{i} with common name golden warbler."))
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (threads, batch, steps, warmup) =
        (arg("--threads", 2), arg("--batch", 64), arg("--steps", 20), arg("--warmup", 3));
    rayon::ThreadPoolBuilder::new().num_threads(threads).build_global()?;
    let config = ClipConfig::tiny();
    let device = Default::default();
    let mut model: Clip<B> = Clip::new(&config, &device)?;
    let mut optims = optimizers::<B>(0.2);
    let size = config.vision.image_size;
    let pixels = Tensor::<B, 4>::random([batch, 3, size, size], Distribution::Normal(0.0, 1.0), &device);
    let tokenizer = Tokenizer::new(config.text.context_length)?;
    let texts = captions(batch);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let ids: Vec<i64> = tokenizer.tokenize_batch(&refs).into_iter().flatten().map(i64::from).collect();
    let ids = Tensor::<B, 2, Int>::from_data(TensorData::new(ids, [batch, config.text.context_length]), &device);
    let mut loss = 0.0;
    let mut start = Instant::now();
    for step in 0..warmup + steps {
        if step == warmup {
            start = Instant::now();
        }
        (model, loss) = optimizer_step(model, &mut optims, pixels.clone(), ids.clone(), 1e-4, 1)?;
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{{\"impl\": \"arbor\", \"threads\": {threads}, \"batch\": {batch}, \"steps\": {steps}, \"steps_per_s\": {:.3}, \"images_per_s\": {:.1}, \"last_loss\": {loss:.4}}}",
        steps as f64 / seconds,
        (steps * batch) as f64 / seconds
    );
    Ok(())
}
