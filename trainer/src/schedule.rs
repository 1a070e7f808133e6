//! open_clip's learning-rate schedule: linear warmup, then a cosine decay to zero.

/// Learning rate at each optimiser step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Peak learning rate, reached at the end of warmup.
    pub base_lr: f64,
    /// Warmup steps.
    pub warmup: usize,
    /// Total steps of the run.
    pub total: usize,
}

impl Schedule {
    /// The rate for step `step` (0-based), exactly as open_clip's `cosine_lr`:
    /// `base · (step + 1) / warmup` during warmup, then `½ (1 + cos(π e / (total − warmup))) · base`.
    pub fn lr(&self, step: usize) -> f64 {
        if step < self.warmup {
            return self.base_lr * (step + 1) as f64 / self.warmup as f64;
        }
        let decay_steps = self.total.saturating_sub(self.warmup).max(1);
        let e = (step - self.warmup) as f64;
        0.5 * (1.0 + (std::f64::consts::PI * e / decay_steps as f64).cos()) * self.base_lr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_linearly_then_decays_by_cosine() {
        let s = Schedule { base_lr: 1e-3, warmup: 4, total: 12 };
        let lrs: Vec<f64> = (0..12).map(|i| s.lr(i)).collect();
        assert_eq!(&lrs[..4], &[2.5e-4, 5e-4, 7.5e-4, 1e-3]);
        assert!((lrs[4] - 1e-3).abs() < 1e-15);
        assert!((lrs[8] - 5e-4).abs() < 1e-12, "half way through the decay: {}", lrs[8]);
        assert!(lrs.windows(2).skip(4).all(|w| w[1] < w[0]));
        assert!(lrs[11] > 0.0 && lrs[11] < 5e-5);
    }
}
