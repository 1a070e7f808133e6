//! Measures decode and preprocessing time for one image, for both pipelines at S=224.
//!
//! `cargo run --release -p arbor-engine --example preprocess_throughput -- photo.jpg`
//! (add `--features jpeg-simd` for libjpeg-turbo's SIMD decoder).

use std::error::Error;
use std::hint::black_box;
use std::time::Instant;

use arbor_engine::{Pipeline, Preprocessor};

fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::args().nth(1).ok_or("usage: preprocess_throughput IMAGE")?;
    let bytes = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
    const ROUNDS: u32 = 20;
    for pipeline in [Pipeline::Squash, Pipeline::Crop] {
        let pre = Preprocessor::new(pipeline, 224)?;
        let image = pre.decode(&bytes, &path)?;
        let start = Instant::now();
        for _ in 0..ROUNDS {
            black_box(pre.decode(&bytes, &path)?);
        }
        let decode = start.elapsed().as_secs_f64() / f64::from(ROUNDS);
        let start = Instant::now();
        for _ in 0..ROUNDS {
            black_box(pre.process(&image));
        }
        let process = start.elapsed().as_secs_f64() / f64::from(ROUNDS);
        println!(
            "{pipeline}: {}x{} decode {:.1} ms + resize/normalise {:.1} ms = {:.1} images/s",
            image.width(),
            image.height(),
            decode * 1e3,
            process * 1e3,
            1.0 / (decode + process)
        );
    }
    Ok(())
}
