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

/// Opens a model as an [`arbor_engine::Engine`] with the pipeline and EXIF options a command
/// was given.
pub fn open_engine(
    model: &std::path::Path,
    preprocess: Option<arbor_engine::Pipeline>,
    exif_orient: bool,
) -> anyhow::Result<arbor_engine::Engine> {
    use anyhow::Context;
    let mut builder = arbor_engine::Engine::builder(model).exif_orientation(exif_orient);
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
