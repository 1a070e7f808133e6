//! Arbor engine (under construction).

pub mod model;
pub use model::{Clip, ClipConfig};
