//! Arbor index.
