//! `arbor import openclip`, `arbor model verify|info` and `arbor tokenize`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use arbor_engine::Tokenizer;
use arbor_engine::{ImageTransform, ModelDir, import_openclip_as};
use clap::{Args, Subcommand};

use crate::inputs::read_lines;
use crate::output::{Cell, Format, print_rows};

/// Bring weights from other tools into Arbor.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Convert an open_clip checkpoint (.bin or .safetensors) into an Arbor model directory.
    #[command(
        after_help = "Examples:\n  arbor import openclip --checkpoint open_clip_pytorch_model.bin --config open_clip_config.json --out bioclip\n  arbor import openclip --checkpoint open_clip_model.safetensors --config open_clip_config.json --out bioclip-2 --preset bioclip-2"
    )]
    Openclip(ImportOpenclipArgs),
}

#[derive(Debug, Args)]
pub struct ImportOpenclipArgs {
    /// open_clip state_dict: torch .bin (read without running any pickle code) or .safetensors.
    #[arg(long)]
    checkpoint: PathBuf,
    /// The model's open_clip_config.json.
    #[arg(long)]
    config: PathBuf,
    /// Output model directory (must not exist).
    #[arg(long)]
    out: PathBuf,
    /// Which default image pipeline the model gets: the BioCLIP models get pybioclip's squash
    /// (OpenAI mean/std at the tower's size, as pybioclip preprocesses them), `openclip` gets
    /// open_clip's transform from the config. `--preprocess` overrides it per command.
    #[arg(long, value_enum, default_value = "bioclip")]
    preset: Preset,
}

/// The published model families, for their default image pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// BioCLIP (ViT-B/16): pybioclip's squash.
    Bioclip,
    /// BioCLIP 2 (ViT-L/14): pybioclip's squash.
    #[value(name = "bioclip-2")]
    Bioclip2,
    /// BioCLIP 2.5 Huge (ViT-H/14): pybioclip's squash.
    #[value(name = "bioclip-2.5")]
    Bioclip25,
    /// Any other open_clip model: open_clip's transform from its config.
    Openclip,
}

pub fn import(cmd: ImportCommand) -> Result<()> {
    match cmd {
        ImportCommand::Openclip(a) => {
            let transform = match a.preset {
                Preset::Openclip => ImageTransform::OpenClip,
                Preset::Bioclip | Preset::Bioclip2 | Preset::Bioclip25 => ImageTransform::Squash,
            };
            let imported = import_openclip_as(&a.checkpoint, &a.config, &a.out, transform)?;
            if !imported.dropped.is_empty() {
                eprintln!(
                    "warning: {}: left out {} tensor(s) open_clip's CLIP does not have: {}",
                    a.checkpoint.display(),
                    imported.dropped.len(),
                    imported.dropped.join(", ")
                );
            }
            let dir = imported.dir;
            let m = dir.manifest();
            eprintln!(
                "wrote {} (embed {}, vision {}x{} patch {}, weights {})",
                dir.path().display(),
                m.config.embed_dim,
                m.config.vision.image_size,
                m.config.vision.image_size,
                m.config.vision.patch_size,
                &m.weights_sha256[..16.min(m.weights_sha256.len())]
            );
            Ok(())
        }
    }
}

/// Print open_clip token ids, one JSON array per text.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  arbor tokenize --text \"a photo of Corvus corax.\"\n  arbor tokenize --file labels.txt"
)]
pub struct TokenizeArgs {
    /// Texts to tokenize.
    #[arg(long, num_args = 1.., required_unless_present = "file")]
    text: Vec<String>,
    /// A file with one text per line.
    #[arg(long, conflicts_with = "text")]
    file: Option<PathBuf>,
    /// Context length (77 for CLIP).
    #[arg(long, default_value_t = 77)]
    context_length: usize,
}

pub fn tokenize(a: TokenizeArgs) -> Result<()> {
    let texts = match &a.file {
        Some(f) => read_lines(f)?,
        None => a.text,
    };
    let tokenizer = Tokenizer::new(a.context_length).context("loading the tokenizer")?;
    for t in &texts {
        println!("{}", serde_json::to_string(&tokenizer.tokenize(t))?);
    }
    Ok(())
}

/// Inspect and check Arbor model directories.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Re-hash the weights and compare them with what `arbor-model.json` records.
    #[command(after_help = "Example:\n  arbor model verify bioclip")]
    Verify(ModelDirArgs),
    /// What a model directory holds: architecture, pipeline, identity.
    #[command(after_help = "Examples:\n  arbor model info bioclip\n  arbor model info bioclip --format json")]
    Info(ModelInfoArgs),
}

#[derive(Debug, Args)]
pub struct ModelDirArgs {
    /// Arbor model directory.
    model: PathBuf,
}

#[derive(Debug, Args)]
pub struct ModelInfoArgs {
    /// Arbor model directory.
    model: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

pub fn model(cmd: ModelCommand) -> Result<()> {
    match cmd {
        ModelCommand::Verify(a) => {
            let dir = ModelDir::open(&a.model)?;
            dir.verify()?;
            println!("{}: ok (weights sha256 {})", a.model.display(), dir.manifest().weights_sha256);
            Ok(())
        }
        ModelCommand::Info(a) => {
            let engine = arbor_engine::Engine::open(&a.model)?;
            let dir = ModelDir::open(&a.model)?;
            let c = dir.config();
            let rows: Vec<Vec<Cell>> = vec![
                vec!["embedding width".into(), c.embed_dim.into()],
                vec!["image size".into(), c.vision.image_size.into()],
                vec!["patch size".into(), c.vision.patch_size.into()],
                vec!["vision width".into(), c.vision.width.into()],
                vec!["vision layers".into(), c.vision.layers.into()],
                vec!["text width".into(), c.text.width.into()],
                vec!["text layers".into(), c.text.layers.into()],
                vec!["activation".into(), format!("{:?}", c.activation).into()],
                vec!["pipeline".into(), format!("{:?}", engine.preprocessor().pipeline()).into()],
                vec!["weights sha256".into(), engine.identity().weights().into()],
                vec!["text identity".into(), engine.identity().text().into()],
                vec!["image identity".into(), engine.identity().image().into()],
                vec!["source".into(), dir.manifest().source.as_str().into()],
            ];
            print_rows(a.format, &["property", "value"], &rows)
        }
    }
}
