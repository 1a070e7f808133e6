//! One module per top-level command.

pub mod classify;
pub mod collection;
pub mod demo;
pub mod embed;
pub mod eval;
pub mod eval_fewshot;
pub mod fewshot;
pub mod index;
pub mod model;
pub mod train;

/// `--precision`, for every command that runs the model.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct PrecisionArg {
    /// Precision of the model's matrix products: f32, bf16 or int8.
    #[arg(long, default_value = "f32", long_help = PRECISION_HELP)]
    pub precision: arbor_engine::Precision,
}

const PRECISION_HELP: &str =
    "Precision of the model's matrix products (q/k/v, attention output, MLP, patch embedding); \
LayerNorm, softmax, attention scores and the residual stream stay f32 in every mode.
  f32   the reference: pybioclip's embeddings within float rounding (default)
  bf16  bf16 inputs, f32 accumulation: cosine to f32 ≥ 0.99999 (min 0.999996 over the 68 fixture photos, \
random ViT-B/16)
  int8  int8 weights per output channel, activations per token: cosine to f32 ≥ 0.9999 (min 0.99990, \
same photos and model; ONNX Runtime's dynamic int8 0.99981)
Speed on a CPU with AMX (Intel Sapphire Rapids, 2 cores, ViT-B/16): bf16 2.6x and int8 3.4x f32's images/s, \
texts 3.0x and 3.7x; on AVX-512 without AMX (same CPU, ARBOR_KERNELS=avx512) int8 is 2.5x and bf16 0.8x. \
Figures: docs/benchmarks.md. Label embeddings are cached per precision.";

/// Opens a model as an [`arbor_engine::Engine`] with the pipeline, EXIF and precision options a
/// command was given.
pub fn open_engine(
    model: &std::path::Path,
    preprocess: Option<arbor_engine::Pipeline>,
    exif_orient: bool,
    precision: PrecisionArg,
) -> anyhow::Result<arbor_engine::Engine> {
    use anyhow::Context;
    let mut builder = arbor_engine::Engine::builder(model).exif_orientation(exif_orient).precision(precision.precision);
    if let Some(p) = preprocess {
        builder = builder.pipeline(p);
    }
    builder.open().with_context(|| format!("loading model {}", model.display()))
}

/// Sizes rayon's global pool, which the searches, the graph build, image decoding and burn's
/// CPU kernels all run on; 0 keeps rayon's default of one thread per core. Benchmarks need
/// this so that one-thread numbers are really one thread.
pub fn set_threads(threads: usize) -> anyhow::Result<()> {
    use anyhow::Context;
    if threads > 0 {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build_global().context("cannot start the thread pool")?;
    }
    Ok(())
}
