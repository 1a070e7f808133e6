//! Arbor: BioCLIP species search.
pub use arbor_engine as engine;
pub use arbor_index as index;
