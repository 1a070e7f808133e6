//! Arbor trainer (under construction).
