//! Writes a random-weight open_clip checkpoint of a published shape (ViT-B/16 or ViT-L/14) with
//! its `open_clip_config.json`, for memory and speed benchmarks of full-size imports
//! (`scripts/bench-weights.sh`).
//!
//! `cargo run --release -p arbor-engine --example random_checkpoint -- vit-l-14 OUT_DIR`

use std::error::Error;

use arbor_engine::{Clip, ClipConfig, Cpu};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let shape = args.next().ok_or("usage: random_checkpoint vit-b-16|vit-l-14|vit-h-14 OUT_DIR")?;
    let out =
        std::path::PathBuf::from(args.next().ok_or("usage: random_checkpoint vit-b-16|vit-l-14|vit-h-14 OUT_DIR")?);
    let config = match shape.as_str() {
        "vit-b-16" => ClipConfig::vit_b_16(),
        "vit-l-14" => ClipConfig::vit_l_14(),
        // open_clip's ViT-H-14 (BioCLIP 2.5 Huge's architecture).
        "vit-h-14" => {
            let mut c = ClipConfig::vit_l_14();
            c.embed_dim = 1024;
            (c.vision.width, c.vision.layers, c.vision.heads, c.vision.mlp_width) = (1280, 32, 16, 5120);
            (c.text.width, c.text.layers, c.text.heads, c.text.mlp_width) = (1024, 24, 16, 4096);
            c
        }
        other => return Err(format!("unknown shape {other}").into()),
    };
    std::fs::create_dir_all(&out)?;
    let (v, t) = (&config.vision, &config.text);
    let json = serde_json::json!({
        "model_cfg": {
            "embed_dim": config.embed_dim,
            "vision_cfg": {"image_size": v.image_size, "layers": v.layers, "width": v.width,
                           "patch_size": v.patch_size, "head_width": v.width / v.heads},
            "text_cfg": {"context_length": t.context_length, "vocab_size": t.vocab_size, "width": t.width,
                         "heads": t.heads, "layers": t.layers}
        },
        "preprocess_cfg": {"mean": config.preprocess.mean, "std": config.preprocess.std}
    });
    std::fs::write(out.join("open_clip_config.json"), serde_json::to_string_pretty(&json)?)?;
    let model = Clip::<Cpu>::new_seeded(&config, 7, &Default::default())?;
    model.to_state_dict("random")?.save_safetensors(out.join("open_clip_model.safetensors"))?;
    eprintln!("wrote {}", out.display());
    Ok(())
}
