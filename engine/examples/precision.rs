//! Speed and fidelity of each precision on a full-size, randomly initialised CLIP.
//!
//! `cargo run --release -p arbor-engine --example precision -- [b16|l14|MODEL_DIR] [image_iters] [text_iters] [int8 plan]`
//!
//! `b16` and `l14` are seeded random ViT-B/16 and ViT-L/14; a path is an Arbor model directory
//! (scripts/bench-precision.sh passes the one it imports from open_clip).
//!
//! For f32, bf16 and int8: images/s at batch 1 and 8, taxon-caption texts/s (20 tokens, batch
//! 256), and the cosine to f32 of the embeddings of every fixture photo (both fixture sets),
//! min and mean. The optional int8 plan keeps products of the int8 plan in bf16, for finding
//! what hurts fidelity: a comma list of `qkv`, `out`, `fc1`, `fc2`, `patch`, `first`, `last`,
//! or `none`.

use std::path::PathBuf;
use std::time::Instant;

use arbor_engine::{Clip, ClipConfig, Cpu, CpuFeatures, Pipeline, Precision, PrecisionPlan, Preprocessor};
use burn::tensor::{Int, Tensor, TensorData};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let device = Default::default();
    let reference = match args.first().map_or("b16", String::as_str) {
        "b16" => Clip::<Cpu>::new_seeded(&ClipConfig::vit_b_16(), 7, &device)?,
        "l14" => Clip::<Cpu>::new_seeded(&ClipConfig::vit_l_14(), 7, &device)?,
        dir if std::path::Path::new(dir).is_dir() => arbor_engine::ModelDir::open(dir)?.load::<Cpu>(&device)?,
        other => return Err(format!("unknown model {other:?}: b16, l14 or a model directory").into()),
    };
    let config = reference.config().clone();
    let count = |i: usize, default: usize| args.get(i).map_or(Ok(default), |a| a.parse::<usize>());
    let (image_iters, text_iters) = (count(1, 8)?, count(2, 1)?);
    let keep = args.get(3).map(String::as_str);
    println!("cpu: {:?}, {} threads", CpuFeatures::detect(), rayon::current_num_threads());

    let photos = fixture_pixels(config.vision.image_size)?;
    let f32_features = features(&reference, &photos)?;

    // ARBOR_PRECISIONS=int8 (a comma list) runs only those (for profiling one precision).
    let only: Option<Vec<Precision>> =
        std::env::var("ARBOR_PRECISIONS").ok().map(|s| s.split(',').filter_map(|p| p.parse().ok()).collect());
    for precision in Precision::ALL.into_iter().filter(|p| only.as_ref().is_none_or(|o| o.contains(p))) {
        let model = match (precision, keep) {
            (Precision::Int8, Some(keep)) => {
                let (vision, text) = int8_plan(&config, keep)?;
                reference.clone().with_precision_plans(&vision, &text)?
            }
            _ => reference.clone().with_precision(precision)?,
        };
        let cosines: Vec<f32> = features(&model, &photos)?
            .chunks_exact(config.embed_dim)
            .zip(f32_features.chunks_exact(config.embed_dim))
            .map(|(a, b)| cosine(a, b))
            .collect();
        let min = cosines.iter().copied().fold(f32::INFINITY, f32::min);
        let mean = cosines.iter().sum::<f32>() / cosines.len() as f32;
        let mut line =
            format!("{precision:5} cosine to f32 over {} photos: min {min:.6} mean {mean:.6}", cosines.len());
        for batch in [1, 8] {
            let pixels = Tensor::<Cpu, 4>::from_data(
                TensorData::new(
                    photos[..batch * pixel_len(&config)].to_vec(),
                    [batch, 3, config.vision.image_size, config.vision.image_size],
                ),
                &device,
            );
            model.encode_image(pixels.clone())?;
            let iters = image_iters.div_ceil(batch);
            let start = Instant::now();
            for _ in 0..iters {
                model.encode_image(pixels.clone())?.into_data();
            }
            line +=
                &format!(" | batch {batch}: {:.2} images/s", (batch * iters) as f64 / start.elapsed().as_secs_f64());
        }
        if text_iters > 0 {
            let ids = caption_ids(256, 19, config.text.context_length);
            model.encode_text(ids.clone())?;
            let start = Instant::now();
            for _ in 0..text_iters {
                model.encode_text(ids.clone())?.into_data();
            }
            line += &format!(" | {:.1} texts/s", (256 * text_iters) as f64 / start.elapsed().as_secs_f64());
        }
        println!("{line}");
    }
    Ok(())
}

fn pixel_len(config: &ClipConfig) -> usize {
    3 * config.vision.image_size * config.vision.image_size
}

/// Every fixture photo, preprocessed (squash), at least 8 of them (repeated if need be).
fn fixture_pixels(size: usize) -> Result<Vec<f32>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures");
    let preprocessor = Preprocessor::new(Pipeline::Squash, size)?;
    let mut pixels = Vec::new();
    for dir in ["openclip/images", "formats/images"] {
        let mut paths: Vec<PathBuf> =
            std::fs::read_dir(root.join(dir))?.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            // Formats this build cannot decode (HEIC/AVIF without the feature) are left out.
            if let Ok(p) = preprocessor.load(&path) {
                pixels.extend_from_slice(p.data());
            }
        }
    }
    let one = 3 * size * size;
    while pixels.len() < 8 * one {
        pixels.extend_from_within(..one);
    }
    Ok(pixels)
}

fn features(model: &Clip<Cpu>, pixels: &[f32]) -> Result<Vec<f32>> {
    let size = model.config().vision.image_size;
    let one = 3 * size * size;
    let mut out = Vec::new();
    for chunk in pixels.chunks(8 * one) {
        let input = Tensor::<Cpu, 4>::from_data(
            TensorData::new(chunk.to_vec(), [chunk.len() / one, 3, size, size]),
            &Default::default(),
        );
        out.extend(model.encode_image(input)?.into_data().into_vec::<f32>().map_err(|e| format!("{e:?}"))?);
    }
    Ok(out)
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let norm = |v: &[f32]| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    (dot / (norm(a) * norm(b))) as f32
}

/// The int8 plan with the products named in `keep` in bf16 instead.
fn int8_plan(config: &ClipConfig, keep: &str) -> Result<(PrecisionPlan, PrecisionPlan)> {
    let plan = |layers: usize, vision: bool| -> Result<PrecisionPlan> {
        let mut plan = PrecisionPlan::uniform(Precision::Int8, layers);
        for item in keep.split(',').filter(|k| *k != "none") {
            match item {
                "patch" if vision => plan.patch_embed = Precision::Bf16,
                "patch" => {}
                "first" => plan.blocks[0] = [Precision::Bf16; 4],
                "last" => plan.blocks[layers - 1] = [Precision::Bf16; 4],
                product => {
                    let i = ["qkv", "out", "fc1", "fc2"]
                        .iter()
                        .position(|p| *p == product)
                        .ok_or(format!("unknown {product:?}"))?;
                    plan.blocks.iter_mut().for_each(|b| b[i] = Precision::Bf16);
                }
            }
        }
        Ok(plan)
    };
    Ok((plan(config.vision.layers, true)?, plan(config.text.layers, false)?))
}

/// `batch` rows of `[sot, tokens…, eot, 0…]` with the end of text at position `eot`.
fn caption_ids(batch: usize, eot: usize, context: usize) -> Tensor<Cpu, 2, Int> {
    let mut ids = vec![0_i64; batch * context];
    for (row, chunk) in ids.chunks_exact_mut(context).enumerate() {
        chunk[0] = 49406;
        for (i, id) in chunk.iter_mut().enumerate().take(eot).skip(1) {
            *id = 256 + ((row * 31 + i * 17) % 40000) as i64;
        }
        chunk[eot] = 49407;
    }
    Tensor::from_data(TensorData::new(ids, [batch, context]), &Default::default())
}
