//! Decode time per file: `PIL.Image.open(f).convert("RGB")`'s equivalent in Arbor (decode, then
//! the RGB conversion), for `scripts/bench-decode.py` to print beside PIL's.
//!
//! `cargo run --release -p arbor-engine --example decode_throughput [--features heif] -- ROUNDS FILE...`
//! prints one line per file: `path<TAB>milliseconds per decode`.

use std::error::Error;
use std::hint::black_box;
use std::time::Instant;

use arbor_engine::{MAX_PIXELS, decode_image};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let rounds: u32 = args.next().ok_or("usage: decode_throughput ROUNDS FILE...")?.parse()?;
    for path in args {
        let bytes = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
        // One untimed decode, so a file this build cannot decode is reported, not timed.
        if let Err(e) = decode_image(&bytes, &path, MAX_PIXELS) {
            println!("{path}\tnan\t{e}");
            continue;
        }
        let start = Instant::now();
        for _ in 0..rounds {
            black_box(decode_image(&bytes, &path, MAX_PIXELS)?.to_rgb());
        }
        println!("{path}\t{:.4}", start.elapsed().as_secs_f64() * 1e3 / f64::from(rounds));
    }
    Ok(())
}
