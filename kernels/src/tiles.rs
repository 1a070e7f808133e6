//! The micro-kernels: one `R × 64` output tile over the whole depth, accumulators in registers.
//!
//! Every kernel reads `R` rows of the left-hand side (row stride `lda` elements) and one packed
//! weight panel, and writes the raw accumulators (no bias, no scale) to a tile buffer:
//!
//! * f32: panel `[k][64]`; `vfmadd` of a broadcast activation with four 16-wide weight vectors.
//! * bf16: panel `[k/2][64][2]`, pairs of depth side by side, which is the operand layout of
//!   `vdpbf16ps`; the activation pair is broadcast as one 32-bit value.
//! * int8: panel `[k/4][64][4]` for `vpdpbusd` (unsigned activations × signed weights, four
//!   products summed into each 32-bit lane); the activation quad is broadcast likewise.
//!
//! With `R ≤ 6` the 24 accumulators, four weight vectors and a broadcast fit AVX-512's 32
//! registers: per depth step, 4 + R loads feed 4·R multiply-adds.

/// Columns per weight panel.
pub(crate) const NR: usize = 64;
/// Rows per micro-tile.
pub(crate) const MR: usize = 6;

/// Raw accumulators of one tile.
pub(crate) type Tile<T> = [[T; NR]; MR];

/// The left-hand rows and weight panel of one tile: `rows` rows from `a` (stride `lda`
/// elements) against a panel at `b` of `steps` depth steps (one value, pair or quad per step).
#[derive(Clone, Copy)]
pub(crate) struct TileArgs<A, W> {
    pub(crate) a: *const A,
    pub(crate) lda: usize,
    pub(crate) b: *const W,
    pub(crate) steps: usize,
    pub(crate) rows: usize,
}

/// Calls `$kernel::<R>($args, $tile)` for the tile's row count (1 ..= MR).
macro_rules! by_rows {
    ($module:ident :: $kernel:ident, $args:expr, $tile:expr) => {
        match $args.rows {
            1 => $module::$kernel::<1>($args, $tile),
            2 => $module::$kernel::<2>($args, $tile),
            3 => $module::$kernel::<3>($args, $tile),
            4 => $module::$kernel::<4>($args, $tile),
            5 => $module::$kernel::<5>($args, $tile),
            _ => $module::$kernel::<6>($args, $tile),
        }
    };
}
pub(crate) use by_rows;

/// Portable kernels, written so that the compiler vectorises the 64 columns (the AVX2 and
/// baseline families compile these with their own target features).
pub(crate) mod portable {
    use super::{NR, Tile, TileArgs};

    /// f32 × f32.
    ///
    /// # Safety
    /// `args` must describe readable memory: `rows` rows of `steps` values at stride `lda`, and
    /// a panel of `steps · 64` values.
    #[inline(always)]
    pub(crate) unsafe fn f32_tile<const R: usize>(args: TileArgs<f32, f32>, tile: &mut Tile<f32>) {
        let mut acc = [[0.0_f32; NR]; R];
        for step in 0..args.steps {
            // SAFETY: within the panel and rows, the caller's promise.
            let b: &[f32; NR] = unsafe { &*(args.b.add(step * NR) as *const [f32; NR]) };
            for (r, acc) in acc.iter_mut().enumerate() {
                // SAFETY: as above.
                let a = unsafe { *args.a.add(r * args.lda + step) };
                for (acc, &b) in acc.iter_mut().zip(b) {
                    *acc += a * b;
                }
            }
        }
        tile[..R].copy_from_slice(&acc);
    }

    /// bf16 × bf16 pairs, widened to f32 (bf16 is the top half of an f32).
    ///
    /// # Safety
    /// As [`f32_tile`], counting pairs: rows of `2·steps` values, a panel of `steps · 128`.
    #[inline(always)]
    pub(crate) unsafe fn bf16_tile<const R: usize>(args: TileArgs<u16, u16>, tile: &mut Tile<f32>) {
        let widen = |h: u16| f32::from_bits((h as u32) << 16);
        let mut acc = [[0.0_f32; NR]; R];
        for step in 0..args.steps {
            // SAFETY: within the panel and rows, the caller's promise.
            let b: &[u16; 2 * NR] = unsafe { &*(args.b.add(step * 2 * NR) as *const [u16; 2 * NR]) };
            for (r, acc) in acc.iter_mut().enumerate() {
                // SAFETY: as above.
                let (a0, a1) = unsafe {
                    let at = args.a.add(r * args.lda + 2 * step);
                    (widen(*at), widen(*at.add(1)))
                };
                for (acc, b) in acc.iter_mut().zip(b.chunks_exact(2)) {
                    *acc += a0 * widen(b[0]) + a1 * widen(b[1]);
                }
            }
        }
        tile[..R].copy_from_slice(&acc);
    }

    /// u8 × i8 quads into i32.
    ///
    /// # Safety
    /// As [`f32_tile`], counting quads: rows of `4·steps` bytes, a panel of `steps · 256`.
    #[inline(always)]
    pub(crate) unsafe fn int8_tile<const R: usize>(args: TileArgs<u8, i8>, tile: &mut Tile<i32>) {
        let mut acc = [[0_i32; NR]; R];
        for step in 0..args.steps {
            // SAFETY: within the panel and rows, the caller's promise.
            let b: &[i8; 4 * NR] = unsafe { &*(args.b.add(step * 4 * NR) as *const [i8; 4 * NR]) };
            for (r, acc) in acc.iter_mut().enumerate() {
                // SAFETY: as above.
                let a: [u8; 4] = unsafe { *(args.a.add(r * args.lda + 4 * step) as *const [u8; 4]) };
                for (acc, b) in acc.iter_mut().zip(b.chunks_exact(4)) {
                    *acc += (0..4).map(|j| a[j] as i16 as i32 * b[j] as i32).sum::<i32>();
                }
            }
        }
        tile[..R].copy_from_slice(&acc);
    }
}

/// AVX-512 kernels (`vfmadd231ps`, `vdpbf16ps`, `vpdpbusd`).
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512 {
    use std::arch::x86_64::*;

    use super::{NR, Tile, TileArgs};

    /// f32 × f32 with FMA.
    ///
    /// # Safety
    /// AVX-512F, and memory as for [`super::portable::f32_tile`].
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) unsafe fn f32_tile<const R: usize>(args: TileArgs<f32, f32>, tile: &mut Tile<f32>) {
        let mut acc = [[_mm512_setzero_ps(); 4]; R];
        for step in 0..args.steps {
            // SAFETY (the loads): within the panel and rows, the caller's promise.
            let b = unsafe { args.b.add(step * NR) };
            let b = unsafe { [0, 1, 2, 3].map(|v| _mm512_loadu_ps(b.add(16 * v))) };
            for (r, acc) in acc.iter_mut().enumerate() {
                let a = _mm512_set1_ps(unsafe { *args.a.add(r * args.lda + step) });
                for (acc, b) in acc.iter_mut().zip(b) {
                    *acc = _mm512_fmadd_ps(a, b, *acc);
                }
            }
        }
        for (out, acc) in tile.iter_mut().zip(acc) {
            for (v, acc) in acc.into_iter().enumerate() {
                // SAFETY: 16 floats at 16·v of a 64-float row.
                unsafe { _mm512_storeu_ps(out.as_mut_ptr().add(16 * v), acc) };
            }
        }
    }

    /// bf16 pairs with `vdpbf16ps` (f32 accumulation).
    ///
    /// # Safety
    /// AVX-512F and AVX512_BF16, and memory as for [`super::portable::bf16_tile`].
    #[inline]
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub(crate) unsafe fn bf16_tile<const R: usize>(args: TileArgs<u16, u16>, tile: &mut Tile<f32>) {
        let mut acc = [[_mm512_setzero_ps(); 4]; R];
        for step in 0..args.steps {
            // SAFETY (the loads): within the panel and rows, the caller's promise.
            let b = unsafe { args.b.add(step * 2 * NR) };
            let b = unsafe { [0, 1, 2, 3].map(|v| as_bh(_mm512_loadu_si512(b.add(32 * v) as *const __m512i))) };
            for (r, acc) in acc.iter_mut().enumerate() {
                let pair = unsafe { (args.a.add(r * args.lda + 2 * step) as *const i32).read_unaligned() };
                let a = as_bh(_mm512_set1_epi32(pair));
                for (acc, b) in acc.iter_mut().zip(b) {
                    *acc = _mm512_dpbf16_ps(*acc, a, b);
                }
            }
        }
        for (out, acc) in tile.iter_mut().zip(acc) {
            for (v, acc) in acc.into_iter().enumerate() {
                // SAFETY: 16 floats at 16·v of a 64-float row.
                unsafe { _mm512_storeu_ps(out.as_mut_ptr().add(16 * v), acc) };
            }
        }
    }

    /// u8 × i8 quads with `vpdpbusd` (i32 accumulation, no saturation).
    ///
    /// # Safety
    /// AVX-512F and AVX512_VNNI, and memory as for [`super::portable::int8_tile`].
    #[inline]
    #[target_feature(enable = "avx512f,avx512vnni")]
    pub(crate) unsafe fn int8_tile<const R: usize>(args: TileArgs<u8, i8>, tile: &mut Tile<i32>) {
        let mut acc = [[_mm512_setzero_si512(); 4]; R];
        for step in 0..args.steps {
            // SAFETY (the loads): within the panel and rows, the caller's promise.
            let b = unsafe { args.b.add(step * 4 * NR) };
            let b = unsafe { [0, 1, 2, 3].map(|v| _mm512_loadu_si512(b.add(64 * v) as *const __m512i)) };
            for (r, acc) in acc.iter_mut().enumerate() {
                let quad = unsafe { (args.a.add(r * args.lda + 4 * step) as *const i32).read_unaligned() };
                let a = _mm512_set1_epi32(quad);
                for (acc, b) in acc.iter_mut().zip(b) {
                    *acc = _mm512_dpbusd_epi32(*acc, a, b);
                }
            }
        }
        for (out, acc) in tile.iter_mut().zip(acc) {
            for (v, acc) in acc.into_iter().enumerate() {
                // SAFETY: 16 ints at 16·v of a 64-int row.
                unsafe { _mm512_storeu_si512(out.as_mut_ptr().add(16 * v) as *mut __m512i, acc) };
            }
        }
    }

    #[inline(always)]
    fn as_bh(v: __m512i) -> __m512bh {
        // SAFETY: both are 512 plain bits.
        unsafe { std::mem::transmute::<__m512i, __m512bh>(v) }
    }
}
