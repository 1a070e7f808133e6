//! One module per top-level command.

pub mod classify;
pub mod embed;
pub mod index;
pub mod model;
