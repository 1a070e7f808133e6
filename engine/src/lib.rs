//! Arbor engine (under construction).
