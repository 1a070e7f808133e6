//! One module per top-level command.

pub mod classify;
pub mod collection;
pub mod embed;
pub mod eval_fewshot;
pub mod fewshot;
pub mod index;
pub mod model;
