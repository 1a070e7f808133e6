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
