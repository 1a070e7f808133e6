//! Inner products, the one kernel every search path spends its time in.
//!
//! The scalar versions are written so LLVM vectorises them; on x86-64 an
//! AVX2+FMA(+F16C) version is picked at run time, since release builds target
//! the baseline CPU and would otherwise use SSE2 only.

use half::f16;

/// `Σ a[i]·b[i]` over two equal-length slices.
#[inline]
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    {
        if avx2_fma() {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            return unsafe { x86::dot_f32_avx2(a, b) };
        }
    }
    dot_f32_portable(a, b)
}

/// `Σ a[i]·b[i]` with `a` stored as f16.
#[inline]
pub fn dot_f16(a: &[f16], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    {
        if avx2_fma_f16c() {
            // SAFETY: the CPU supports AVX2, FMA and F16C (checked just above).
            return unsafe { x86::dot_f16_avx2(a, b) };
        }
    }
    a.iter().zip(b).map(|(x, y)| x.to_f32() * y).sum()
}

fn dot_f32_portable(a: &[f32], b: &[f32]) -> f32 {
    // Eight independent accumulators let the compiler keep a vector register busy.
    let mut acc = [0f32; 8];
    let chunks = a.len() / 8;
    for c in 0..chunks {
        for l in 0..8 {
            acc[l] += a[c * 8 + l] * b[c * 8 + l];
        }
    }
    let tail: f32 = a[chunks * 8..].iter().zip(&b[chunks * 8..]).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

#[cfg(target_arch = "x86_64")]
fn avx2_fma() -> bool {
    use std::sync::OnceLock;
    static DETECTED: OnceLock<bool> = OnceLock::new();
    *DETECTED.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
}

#[cfg(target_arch = "x86_64")]
fn avx2_fma_f16c() -> bool {
    use std::sync::OnceLock;
    static DETECTED: OnceLock<bool> = OnceLock::new();
    *DETECTED.get_or_init(|| avx2_fma() && is_x86_feature_detected!("f16c"))
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use half::f16;
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot_f32_avx2(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc0 = _mm256_setzero_ps();
        let mut acc1 = _mm256_setzero_ps();
        let mut i = 0;
        // SAFETY (all loads): i + 16 <= n, or i + 8 <= n in the second loop.
        unsafe {
            while i + 16 <= n {
                acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
                acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i + 8)), _mm256_loadu_ps(pb.add(i + 8)), acc1);
                i += 16;
            }
            while i + 8 <= n {
                acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
                i += 8;
            }
        }
        let mut sum = hsum(_mm256_add_ps(acc0, acc1));
        while i < n {
            sum += a[i] * b[i];
            i += 1;
        }
        sum
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn dot_f16_avx2(a: &[f16], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr() as *const __m128i, b.as_ptr());
        let mut acc0 = _mm256_setzero_ps();
        let mut acc1 = _mm256_setzero_ps();
        let mut i = 0;
        // SAFETY (all loads): i + 16 <= n, or i + 8 <= n; f16 is 2 bytes, so 8 of them are one __m128i.
        unsafe {
            while i + 16 <= n {
                let x0 = _mm256_cvtph_ps(_mm_loadu_si128(pa.byte_add(i * 2)));
                let x1 = _mm256_cvtph_ps(_mm_loadu_si128(pa.byte_add(i * 2 + 16)));
                acc0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(pb.add(i)), acc0);
                acc1 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(pb.add(i + 8)), acc1);
                i += 16;
            }
            while i + 8 <= n {
                let x0 = _mm256_cvtph_ps(_mm_loadu_si128(pa.byte_add(i * 2)));
                acc0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(pb.add(i)), acc0);
                i += 8;
            }
        }
        let mut sum = hsum(_mm256_add_ps(acc0, acc1));
        while i < n {
            sum += a[i].to_f32() * b[i];
            i += 1;
        }
        sum
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn hsum(v: __m256) -> f32 {
        let lo = _mm256_castps256_ps128(v);
        let hi = _mm256_extractf128_ps(v, 1);
        let s = _mm_add_ps(lo, hi);
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    #[test]
    fn kernels_agree_with_f64_at_awkward_lengths() {
        for n in [0usize, 1, 7, 8, 15, 16, 17, 33, 512, 515] {
            let a: Vec<f32> = (0..n).map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0).collect();
            let b: Vec<f32> = (0..n).map(|i| ((i * 104729) % 97) as f32 / 48.0 - 1.0).collect();
            let want = reference(&a, &b);
            assert!((dot_f32(&a, &b) as f64 - want).abs() < 1e-4, "f32 n={n}");
            assert!((dot_f32_portable(&a, &b) as f64 - want).abs() < 1e-4, "portable n={n}");
            let a16: Vec<f16> = a.iter().map(|x| f16::from_f32(*x)).collect();
            let a_rounded: Vec<f32> = a16.iter().map(|x| x.to_f32()).collect();
            let want16 = reference(&a_rounded, &b);
            assert!((dot_f16(&a16, &b) as f64 - want16).abs() < 1e-4, "f16 n={n}");
        }
    }
}
