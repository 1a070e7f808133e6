//! Pillow's 8-bit resampling (`Image.resize`), ported to integer Rust.
//!
//! open_clip resizes PIL images, so the crop pipeline is only exact if this reproduces
//! `libImaging/Resample.c` bit for bit: filter weights computed in `f64`, normalised to sum 1,
//! then quantised to 22-bit fixed point; a horizontal pass into an 8-bit image, then a vertical
//! pass, each rounding with a `+0.5` bias and clipping to 0..=255. Mode `P`/`1` images go through
//! PIL's nearest-neighbour path instead (`ImagingScaleAffine`), which steps a `f64` source
//! coordinate by a fixed increment.

/// Fixed-point fraction bits of the quantised weights (`32 - 8 - 2` in Pillow: 8 bits of sample,
/// 2 bits of headroom for the negative lobes and overshoot of bicubic).
const PRECISION_BITS: u32 = 22;

/// Pillow's bicubic kernel with `a = -0.5` (Keys' Catmull-Rom variant).
fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Precomputed weights of one resampling axis: for each output position, the first input
/// index and its weights (`ksize` slots per output, unused slots zero). `W` is `f64` as Pillow
/// computes them (used as is for 16-bit images) or `i32` fixed point (8-bit images).
#[derive(Debug, Clone)]
pub struct AxisKernel<W> {
    starts: Vec<usize>,
    lens: Vec<usize>,
    ksize: usize,
    weights: Vec<W>,
}

impl AxisKernel<i32> {
    /// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the bicubic filter, mapping
    /// `in_size` samples onto `out_size` (both non-zero).
    pub fn bicubic(in_size: usize, out_size: usize) -> Self {
        let exact = AxisKernel::<f64>::bicubic(in_size, out_size);
        let weights = exact
            .weights
            .iter()
            .map(|&w| {
                // Round half away from zero, then truncate, as Pillow's two-branch cast does.
                let scaled = w * f64::from(1u32 << PRECISION_BITS);
                if w < 0.0 {
                    (scaled - 0.5) as i32
                } else {
                    (scaled + 0.5) as i32
                }
            })
            .collect();
        AxisKernel {
            starts: exact.starts,
            lens: exact.lens,
            ksize: exact.ksize,
            weights,
        }
    }
}

impl AxisKernel<f64> {
    /// Pillow's `precompute_coeffs` for the bicubic filter: normalised `f64` weights.
    pub fn bicubic(in_size: usize, out_size: usize) -> Self {
        const SUPPORT: f64 = 2.0;
        // Pillow computes the box in `float` then widens: exact for sizes below 2^24.
        let scale = in_size as f32 as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = SUPPORT * filterscale;
        let ksize = support.ceil() as usize * 2 + 1;
        let mut starts = Vec::with_capacity(out_size);
        let mut lens = Vec::with_capacity(out_size);
        let mut weights = vec![0f64; out_size * ksize];
        let inv_filterscale = 1.0 / filterscale;
        for (xx, out_weights) in weights.chunks_exact_mut(ksize).enumerate() {
            let center = (xx as f64 + 0.5) * scale;
            // `(int)` in C truncates toward zero, as `as` does; negatives are clamped after.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let len = xmax.saturating_sub(xmin);
            let mut total = 0.0;
            for (x, w) in out_weights[..len].iter_mut().enumerate() {
                *w = bicubic(((x + xmin) as f64 - center + 0.5) * inv_filterscale);
                total += *w;
            }
            if total != 0.0 {
                for w in &mut out_weights[..len] {
                    *w /= total;
                }
            }
            starts.push(xmin);
            lens.push(len);
        }
        Self {
            starts,
            lens,
            ksize,
            weights,
        }
    }
}

impl<W> AxisKernel<W> {
    /// Number of output samples.
    pub fn out_size(&self) -> usize {
        self.starts.len()
    }

    /// The input range `[first, last)` that any output reads.
    fn input_span(&self) -> (usize, usize) {
        let first = self.starts.first().copied().unwrap_or(0);
        let last = self
            .starts
            .iter()
            .zip(&self.lens)
            .map(|(s, l)| s + l)
            .max()
            .unwrap_or(0);
        (first, last)
    }

    /// (first input index, weights) of output `i`.
    #[inline]
    fn taps(&self, i: usize) -> (usize, &[W]) {
        let at = i * self.ksize;
        (self.starts[i], &self.weights[at..at + self.lens[i]])
    }
}

/// Rounds and clips a fixed-point accumulator to a byte (Pillow's `clip8` lookup table).
#[inline]
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// The rounding bias every accumulator starts from.
const HALF: i32 = 1 << (PRECISION_BITS - 1);

/// Resamples rows `rows` of an interleaved `C`-channel image of width `in_w` horizontally.
fn horizontal<const C: usize>(
    src: &[u8],
    in_w: usize,
    rows: std::ops::Range<usize>,
    kernel: &AxisKernel<i32>,
) -> Vec<u8> {
    let out_w = kernel.out_size();
    let mut out = Vec::with_capacity(rows.len() * out_w * C);
    for row in src.chunks_exact(in_w * C).skip(rows.start).take(rows.len()) {
        for xx in 0..out_w {
            let (xmin, ws) = kernel.taps(xx);
            let mut acc = [HALF; C];
            for (px, &w) in row[xmin * C..].chunks_exact(C).zip(ws) {
                for c in 0..C {
                    acc[c] += i32::from(px[c]) * w;
                }
            }
            out.extend(acc.map(clip8));
        }
    }
    out
}

/// Resamples an interleaved `C`-channel image of width `w` vertically; `offset` is the index of
/// the source's first row in the kernel's coordinates (rows above it were never computed).
fn vertical<const C: usize>(
    src: &[u8],
    w: usize,
    offset: usize,
    kernel: &AxisKernel<i32>,
) -> Vec<u8> {
    let stride = w * C;
    let mut out = Vec::with_capacity(kernel.out_size() * stride);
    let mut acc = vec![HALF; stride];
    for yy in 0..kernel.out_size() {
        let (ymin, ws) = kernel.taps(yy);
        acc.fill(HALF);
        // Row-at-a-time accumulation: same sums in the same order as Pillow's per-pixel loop,
        // but streaming through memory.
        for (y, &wgt) in ws.iter().enumerate() {
            let start = (ymin - offset + y) * stride;
            for (a, &v) in acc.iter_mut().zip(&src[start..start + stride]) {
                *a += i32::from(v) * wgt;
            }
        }
        out.extend(acc.iter().map(|&a| clip8(a)));
    }
    out
}

/// Pillow bicubic resize of an interleaved `C`-channel 8-bit image (`ImagingResample`), skipping
/// an axis whose size does not change, as Pillow does.
fn bicubic_channels<const C: usize>(
    src: &[u8],
    (in_w, in_h): (usize, usize),
    (out_w, out_h): (usize, usize),
) -> Vec<u8> {
    let need_h = out_w != in_w;
    let need_v = out_h != in_h;
    let vkernel = AxisKernel::<i32>::bicubic(in_h, out_h);
    match (need_h, need_v) {
        (false, false) => src.to_vec(),
        (true, false) => {
            horizontal::<C>(src, in_w, 0..in_h, &AxisKernel::<i32>::bicubic(in_w, out_w))
        }
        (false, true) => vertical::<C>(src, in_w, 0, &vkernel),
        (true, true) => {
            // Only the rows the vertical pass reads are resampled horizontally.
            let (first, last) = vkernel.input_span();
            let hkernel = AxisKernel::<i32>::bicubic(in_w, out_w);
            let tmp = horizontal::<C>(src, in_w, first..last, &hkernel);
            vertical::<C>(&tmp, out_w, first, &vkernel)
        }
    }
}

/// Pillow-exact bicubic resize of interleaved 8-bit samples with 1 to 4 `channels`.
///
/// # Panics
/// If `channels` is not 1..=4 or `src` is not `in_w * in_h * channels` long (internal misuse,
/// never user data: the callers derive both from a validated [`DecodedImage`](super::DecodedImage)).
pub fn bicubic_resize(
    src: &[u8],
    channels: usize,
    in_size: (usize, usize),
    out_size: (usize, usize),
) -> Vec<u8> {
    assert_eq!(
        src.len(),
        in_size.0 * in_size.1 * channels,
        "sample buffer size"
    );
    match channels {
        1 => bicubic_channels::<1>(src, in_size, out_size),
        2 => bicubic_channels::<2>(src, in_size, out_size),
        3 => bicubic_channels::<3>(src, in_size, out_size),
        4 => bicubic_channels::<4>(src, in_size, out_size),
        _ => panic!("bicubic_resize supports 1 to 4 channels, got {channels}"),
    }
}

/// Pillow's 16bpc rounding and storage: `ROUND_UP` to int, then the low and high bytes are
/// clipped separately (so negative sums become 0 and sums above 65535 keep a wrapped low byte).
#[inline]
fn store16(acc: f64) -> u16 {
    let v = if acc >= 0.0 {
        (acc + 0.5) as i32
    } else {
        (acc - 0.5) as i32
    };
    let low = (v % 256).clamp(0, 255) as u16;
    let high = (v >> 8).clamp(0, 255) as u16;
    low | high << 8
}

/// One 16bpc pass over `lines` lines of `len` samples, `stride` apart along the resampled axis:
/// a plain loop in Pillow's order (sum of `f64` products over the taps, then [`store16`]).
fn pass16(src: &[u16], kernel: &AxisKernel<f64>, out: &mut [u16], axis: Axis16) {
    let n = kernel.out_size();
    match axis {
        Axis16::Horizontal { in_w } => {
            for (row, out_row) in src.chunks_exact(in_w).zip(out.chunks_exact_mut(n)) {
                for (xx, o) in out_row.iter_mut().enumerate() {
                    let (xmin, ws) = kernel.taps(xx);
                    let acc = row[xmin..]
                        .iter()
                        .zip(ws)
                        .fold(0.0, |a, (&v, &w)| a + f64::from(v) * w);
                    *o = store16(acc);
                }
            }
        }
        Axis16::Vertical { w } => {
            for (yy, out_row) in out.chunks_exact_mut(w).enumerate().take(n) {
                let (ymin, ws) = kernel.taps(yy);
                for (xx, o) in out_row.iter_mut().enumerate() {
                    let acc = ws.iter().enumerate().fold(0.0, |a, (y, &wt)| {
                        a + f64::from(src[(ymin + y) * w + xx]) * wt
                    });
                    *o = store16(acc);
                }
            }
        }
    }
}

/// Which way a 16bpc pass runs, with the row width it needs.
#[derive(Clone, Copy)]
enum Axis16 {
    Horizontal { in_w: usize },
    Vertical { w: usize },
}

/// Pillow-exact bicubic resize of a 16-bit grayscale image (PIL mode `I;16`), which Pillow
/// resamples with unquantised `f64` weights.
pub fn bicubic_resize_u16(
    src: &[u16],
    (in_w, in_h): (usize, usize),
    (out_w, out_h): (usize, usize),
) -> Vec<u16> {
    assert_eq!(src.len(), in_w * in_h, "sample buffer size");
    let widened = if out_w != in_w {
        let mut out = vec![0u16; out_w * in_h];
        let kernel = AxisKernel::<f64>::bicubic(in_w, out_w);
        pass16(src, &kernel, &mut out, Axis16::Horizontal { in_w });
        out
    } else {
        src.to_vec()
    };
    if out_h == in_h {
        return widened;
    }
    let mut out = vec![0u16; out_w * out_h];
    let kernel = AxisKernel::<f64>::bicubic(in_h, out_h);
    pass16(&widened, &kernel, &mut out, Axis16::Vertical { w: out_w });
    out
}

/// Source indices of PIL's nearest-neighbour scaling along one axis: the coordinate starts at
/// half a step and is advanced by repeated `f64` addition, then truncated (exactly as
/// `ImagingScaleAffine` does, so rounding drift matches too).
fn nearest_indices(in_size: usize, out_size: usize) -> Vec<usize> {
    let step = in_size as f32 as f64 / out_size as f64;
    let mut pos = step * 0.5;
    let mut out = Vec::with_capacity(out_size);
    for _ in 0..out_size {
        // The coordinate never reaches `in_size` for a full-image box; the clamp only guards
        // the indexing below.
        out.push((pos as usize).min(in_size - 1));
        pos += step;
    }
    out
}

/// PIL's nearest-neighbour resize (used for modes `P` and `1`) of interleaved samples.
pub fn nearest_resize(
    src: &[u8],
    channels: usize,
    (in_w, in_h): (usize, usize),
    (out_w, out_h): (usize, usize),
) -> Vec<u8> {
    assert_eq!(src.len(), in_w * in_h * channels, "sample buffer size");
    if (in_w, in_h) == (out_w, out_h) {
        return src.to_vec();
    }
    let xs = nearest_indices(in_w, out_w);
    let ys = nearest_indices(in_h, out_h);
    let mut out = Vec::with_capacity(out_w * out_h * channels);
    for &y in &ys {
        let row = &src[y * in_w * channels..(y + 1) * in_w * channels];
        for &x in &xs {
            out.extend_from_slice(&row[x * channels..(x + 1) * channels]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        for (i, o) in [(451, 96), (300, 64), (56, 85), (7, 333), (333, 7), (5, 5)] {
            let k = AxisKernel::<i32>::bicubic(i, o);
            for x in 0..o {
                let (_, ws) = k.taps(x);
                let sum: i32 = ws.iter().sum();
                // Each weight is rounded separately, so the sum is within a few units of 2^22.
                assert!(
                    (sum - (1 << PRECISION_BITS)).abs() <= ws.len() as i32,
                    "{i}->{o} @{x}"
                );
            }
        }
    }

    #[test]
    fn constant_image_stays_constant_at_odd_sizes() {
        for &(iw, ih, ow, oh) in &[
            (7, 5, 333, 7),
            (333, 41, 7, 333),
            (10, 10, 10, 3),
            (9, 4, 2, 4),
        ] {
            for c in 1..=4 {
                let src = vec![173u8; iw * ih * c];
                let out = bicubic_resize(&src, c, (iw, ih), (ow, oh));
                assert_eq!(out.len(), ow * oh * c);
                assert!(out.iter().all(|&v| v == 173), "{iw}x{ih}->{ow}x{oh} c={c}");
            }
        }
    }

    #[test]
    fn extremes_clip_instead_of_wrapping() {
        // A hard black/white edge overshoots with bicubic's negative lobes; results must clip.
        let (w, h) = (9, 3);
        let src: Vec<u8> = (0..w * h)
            .map(|i| if i % w < 4 { 0 } else { 255 })
            .collect();
        let out = bicubic_resize(&src, 1, (w, h), (31, 3));
        assert!(out.contains(&0) && out.contains(&255));
        assert!(
            out.windows(2).take(30).all(|p| p[0] <= p[1]),
            "monotone edge: {out:?}"
        );
    }

    #[test]
    fn sixteen_bit_resize_keeps_constants_and_clips_like_pillow() {
        let out = bicubic_resize_u16(&[40_000u16; 7 * 5], (7, 5), (333, 7));
        assert_eq!(out.len(), 333 * 7);
        assert!(out.iter().all(|&v| v == 40_000));
        assert_eq!(store16(-3.0), 0);
        assert_eq!(store16(65_535.4), 65_535);
        // Above 65535 the high byte clips to 255 but the low byte is the wrapped remainder.
        assert_eq!(store16(65_537.0), 0xFF01);
    }

    #[test]
    fn nearest_picks_centres() {
        assert_eq!(nearest_indices(4, 2), vec![1, 3]);
        assert_eq!(nearest_indices(2, 4), vec![0, 0, 1, 1]);
        assert_eq!(nearest_indices(600, 96).len(), 96);
        let src: Vec<u8> = (0..12).collect();
        assert_eq!(nearest_resize(&src, 1, (4, 3), (2, 1)), vec![5, 7]);
    }
}
