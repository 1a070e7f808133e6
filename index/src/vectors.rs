//! Embedding rows: validation on the way in, typed views on the way out.

use half::f16;

use crate::dot::{dot_f16, dot_f32};
use crate::error::{IndexError, Result};

/// How far a vector's norm may stray from 1 and still count as unit length.
/// f32 normalisation lands within ~1e-6; 1e-3 leaves room for f16 sources.
pub const UNIT_TOLERANCE: f32 = 1e-3;

/// Checks one vector: right dimension, all finite, and (if asked) unit length.
pub fn check_vector(row: usize, v: &[f32], dim: usize, require_unit: bool) -> Result<()> {
    if v.len() != dim {
        return Err(IndexError::BadVector { row, problem: format!("has dimension {}, the index has {dim}", v.len()) });
    }
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(IndexError::BadVector { row, problem: format!("component {i} is {} (not finite)", v[i]) });
    }
    if require_unit {
        let norm = dot_f32(v, v).sqrt();
        if (norm - 1.0).abs() > UNIT_TOLERANCE {
            return Err(IndexError::BadVector {
                row,
                problem: format!("has norm {norm:.6}, expected unit length (L2-normalise the embeddings first)"),
            });
        }
    }
    Ok(())
}

/// Scales `v` to unit length in place; a zero vector is an error.
pub fn normalize(row: usize, v: &mut [f32]) -> Result<()> {
    let norm = dot_f32(v, v).sqrt();
    if !(norm.is_finite() && norm > 0.0) {
        return Err(IndexError::BadVector { row, problem: format!("cannot be normalised (norm {norm})") });
    }
    v.iter_mut().for_each(|x| *x /= norm);
    Ok(())
}

/// A borrowed, row-major table of vectors in either storage type.
#[derive(Clone, Copy)]
pub(crate) enum Rows<'a> {
    F32(&'a [f32]),
    F16(&'a [f16]),
}

impl Rows<'_> {
    /// Inner product of stored row `slot` with `q`.
    #[inline]
    pub(crate) fn dot(&self, slot: usize, dim: usize, q: &[f32]) -> f32 {
        let r = slot * dim..(slot + 1) * dim;
        match self {
            Rows::F32(v) => dot_f32(&v[r], q),
            Rows::F16(v) => dot_f16(&v[r], q),
        }
    }

    /// Asks the CPU to start loading row `slot` into cache. A graph search
    /// knows a node's unvisited neighbours before it scores any of them, so
    /// the loads of later rows overlap the dot products of earlier ones
    /// instead of each row's memory latency being paid in turn.
    #[inline]
    pub(crate) fn prefetch(&self, slot: usize, dim: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            let (ptr, bytes) = match self {
                Rows::F32(v) => (v.as_ptr().wrapping_add(slot * dim) as *const i8, dim * 4),
                Rows::F16(v) => (v.as_ptr().wrapping_add(slot * dim) as *const i8, dim * 2),
            };
            for line in (0..bytes).step_by(64) {
                // SAFETY: prefetch is a hint that never faults, even on an address
                // outside the mapping; callers pass in-range slots anyway.
                unsafe {
                    std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(ptr.wrapping_add(line))
                };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (slot, dim);
    }

    /// Copies rows `slots` into `out` as f32 (for GEMM).
    pub(crate) fn rows_f32<'b>(
        &'b self,
        slots: std::ops::Range<usize>,
        dim: usize,
        buf: &'b mut Vec<f32>,
    ) -> &'b [f32] {
        let r = slots.start * dim..slots.end * dim;
        match self {
            Rows::F32(v) => &v[r],
            Rows::F16(v) => {
                use half::slice::HalfFloatSliceExt;
                buf.resize(r.len(), 0.0);
                v[r].convert_to_f32_slice(buf);
                buf
            }
        }
    }

    /// Appends row `slot` to `out` as f32 (gathering scattered rows for a GEMM).
    pub(crate) fn push_row_f32(&self, slot: usize, dim: usize, out: &mut Vec<f32>) {
        let r = slot * dim..(slot + 1) * dim;
        match self {
            Rows::F32(v) => out.extend_from_slice(&v[r]),
            Rows::F16(v) => out.extend(v[r].iter().map(|x| x.to_f32())),
        }
    }

    /// Row `slot` as f32.
    pub(crate) fn row_f32(&self, slot: usize, dim: usize) -> Vec<f32> {
        let r = slot * dim..(slot + 1) * dim;
        match self {
            Rows::F32(v) => v[r].to_vec(),
            Rows::F16(v) => v[r].iter().map(|x| x.to_f32()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_vectors_with_their_row() {
        let ok = [0.6f32, 0.8];
        assert!(check_vector(0, &ok, 2, true).is_ok());
        let e = check_vector(3, &[0.6, 0.8, 0.0], 2, true).unwrap_err().to_string();
        assert!(e.contains("vector 3") && e.contains("dimension 3"), "{e}");
        let e = check_vector(1, &[f32::NAN, 1.0], 2, false).unwrap_err().to_string();
        assert!(e.contains("not finite"), "{e}");
        let e = check_vector(2, &[1.0, 1.0], 2, true).unwrap_err().to_string();
        assert!(e.contains("norm 1.414"), "{e}");
        assert!(check_vector(2, &[1.0, 1.0], 2, false).is_ok());
        let mut z = [0.0f32, 0.0];
        assert!(normalize(0, &mut z).is_err());
    }
}
