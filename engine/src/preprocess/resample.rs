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

use std::ops::Range;

/// The part of a resize's output that is wanted: `width`x`height` pixels from (`left`, `top`)
/// of the full `out_w`x`out_h` result.
///
/// open_clip crops right after resizing; since every output pixel of Pillow's separable
/// resampler depends only on its own coordinates, computing just the crop window gives the same
/// bytes as resizing everything and cropping, with less work and bounded memory (a 1x50000
/// strip would otherwise be resized to 224x11 million pixels before the crop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First output column.
    pub left: usize,
    /// First output row.
    pub top: usize,
    /// Number of output columns.
    pub width: usize,
    /// Number of output rows.
    pub height: usize,
}

impl Window {
    /// The whole `width`x`height` output.
    pub fn full((width, height): (usize, usize)) -> Self {
        Self { left: 0, top: 0, width, height }
    }

    fn cols(self) -> Range<usize> {
        self.left..self.left + self.width
    }

    fn rows(self) -> Range<usize> {
        self.top..self.top + self.height
    }

    /// Panics unless the window is non-empty and inside `out` (internal misuse, never user data).
    fn check(self, (out_w, out_h): (usize, usize)) {
        assert!(
            self.width > 0 && self.height > 0 && self.cols().end <= out_w && self.rows().end <= out_h,
            "window {self:?} outside {out_w}x{out_h}"
        );
    }
}

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
    /// `in_size` samples onto `out_size` (both non-zero), for the outputs in `outputs` only.
    pub fn bicubic(in_size: usize, out_size: usize, outputs: Range<usize>) -> Self {
        let exact = AxisKernel::<f64>::bicubic(in_size, out_size, outputs);
        let weights = exact
            .weights
            .iter()
            .map(|&w| {
                // Round half away from zero, then truncate, as Pillow's two-branch cast does.
                let scaled = w * f64::from(1u32 << PRECISION_BITS);
                if w < 0.0 { (scaled - 0.5) as i32 } else { (scaled + 0.5) as i32 }
            })
            .collect();
        AxisKernel { starts: exact.starts, lens: exact.lens, ksize: exact.ksize, weights }
    }
}

impl AxisKernel<f64> {
    /// Pillow's `precompute_coeffs` for the bicubic filter: normalised `f64` weights, for the
    /// outputs in `outputs` only (each output's taps depend on its index alone).
    pub fn bicubic(in_size: usize, out_size: usize, outputs: Range<usize>) -> Self {
        const SUPPORT: f64 = 2.0;
        // Pillow computes the box in `float` then widens: exact for sizes below 2^24.
        let scale = in_size as f32 as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = SUPPORT * filterscale;
        let ksize = support.ceil() as usize * 2 + 1;
        let mut starts = Vec::with_capacity(outputs.len());
        let mut lens = Vec::with_capacity(outputs.len());
        let mut weights = vec![0f64; outputs.len() * ksize];
        let inv_filterscale = 1.0 / filterscale;
        for (xx, out_weights) in outputs.zip(weights.chunks_exact_mut(ksize)) {
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
        Self { starts, lens, ksize, weights }
    }
}

impl<W> AxisKernel<W> {
    /// Number of output samples computed (the length of the requested output range).
    pub fn out_size(&self) -> usize {
        self.starts.len()
    }

    /// The input range that the computed outputs read.
    fn input_span(&self) -> Range<usize> {
        let first = self.starts.first().copied().unwrap_or(0);
        let last = self.starts.iter().zip(&self.lens).map(|(s, l)| s + l).max().unwrap_or(0);
        first..last
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
fn vertical<const C: usize>(src: &[u8], w: usize, offset: usize, kernel: &AxisKernel<i32>) -> Vec<u8> {
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

/// Columns `cols` of rows `rows` of an interleaved `C`-channel image (the horizontal pass when
/// the width does not change: Pillow skips it and the crop only selects columns).
fn columns<const C: usize>(src: &[u8], in_w: usize, rows: Range<usize>, cols: Range<usize>) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.len() * cols.len() * C);
    for row in src.chunks_exact(in_w * C).skip(rows.start).take(rows.len()) {
        out.extend_from_slice(&row[cols.start * C..cols.end * C]);
    }
    out
}

/// Pillow bicubic resize of an interleaved `C`-channel 8-bit image (`ImagingResample`), skipping
/// an axis whose size does not change, as Pillow does; only `win` of the output is computed.
fn bicubic_channels<const C: usize>(
    src: &[u8],
    (in_w, in_h): (usize, usize),
    (out_w, out_h): (usize, usize),
    win: Window,
) -> Vec<u8> {
    let vkernel = (out_h != in_h).then(|| AxisKernel::<i32>::bicubic(in_h, out_h, win.rows()));
    // Only the source rows the result depends on go through the horizontal pass.
    let rows = vkernel.as_ref().map_or(win.rows(), |k| k.input_span());
    let first = rows.start;
    let tmp = if out_w != in_w {
        let hkernel = AxisKernel::<i32>::bicubic(in_w, out_w, win.cols());
        horizontal::<C>(src, in_w, rows, &hkernel)
    } else {
        columns::<C>(src, in_w, rows, win.cols())
    };
    match vkernel {
        Some(k) => vertical::<C>(&tmp, win.width, first, &k),
        None => tmp,
    }
}

/// Pillow-exact bicubic resize of interleaved 8-bit samples with 1 to 4 `channels` from
/// `in_size` to `out_size`, returning the `window` of the result.
///
/// # Panics
/// If `channels` is not 1..=4, `src` is not `in_w * in_h * channels` long or `window` is not
/// inside `out_size` (internal misuse, never user data: the callers derive all of them from a
/// validated [`DecodedImage`](super::DecodedImage)).
pub fn bicubic_resize(
    src: &[u8],
    channels: usize,
    in_size: (usize, usize),
    out_size: (usize, usize),
    window: Window,
) -> Vec<u8> {
    let expected = in_size.0 * in_size.1 * channels;
    assert_eq!(src.len(), expected, "sample buffer size");
    window.check(out_size);
    match channels {
        1 => bicubic_channels::<1>(src, in_size, out_size, window),
        2 => bicubic_channels::<2>(src, in_size, out_size, window),
        3 => bicubic_channels::<3>(src, in_size, out_size, window),
        4 => bicubic_channels::<4>(src, in_size, out_size, window),
        _ => panic!("bicubic_resize supports 1 to 4 channels, got {channels}"),
    }
}

/// Pillow's 16bpc rounding and storage: `ROUND_UP` to int, then the low and high bytes are
/// clipped separately (so negative sums become 0 and sums above 65535 keep a wrapped low byte).
#[inline]
fn store16(acc: f64) -> u16 {
    let v = if acc >= 0.0 { (acc + 0.5) as i32 } else { (acc - 0.5) as i32 };
    let low = (v % 256).clamp(0, 255) as u16;
    let high = (v >> 8).clamp(0, 255) as u16;
    low | high << 8
}

/// Pillow-exact bicubic resize of a 16-bit grayscale image (PIL mode `I;16`) from `in_size`
/// to `out_size`, returning the `window` of the result. Pillow resamples these with unquantised
/// `f64` weights, summing in its loop order, and stores each pass the way Pillow does (low and
/// high byte clipped separately).
pub fn bicubic_resize_u16(
    src: &[u16],
    (in_w, in_h): (usize, usize),
    (out_w, out_h): (usize, usize),
    win: Window,
) -> Vec<u16> {
    assert_eq!(src.len(), in_w * in_h, "sample buffer size");
    win.check((out_w, out_h));
    let vkernel = (out_h != in_h).then(|| AxisKernel::<f64>::bicubic(in_h, out_h, win.rows()));
    let rows = vkernel.as_ref().map_or(win.rows(), |k| k.input_span());
    let first = rows.start;
    let source_rows = src.chunks_exact(in_w).skip(rows.start).take(rows.len());
    let tmp: Vec<u16> = if out_w != in_w {
        let k = AxisKernel::<f64>::bicubic(in_w, out_w, win.cols());
        source_rows
            .flat_map(|row| {
                (0..k.out_size()).map(|xx| {
                    let (xmin, ws) = k.taps(xx);
                    let acc = row[xmin..].iter().zip(ws).fold(0.0, |a, (&v, &w)| a + f64::from(v) * w);
                    store16(acc)
                })
            })
            .collect()
    } else {
        source_rows.flat_map(|row| row[win.cols()].iter().copied()).collect()
    };
    let Some(k) = vkernel else { return tmp };
    let w = win.width;
    let mut out = Vec::with_capacity(w * win.height);
    for yy in 0..k.out_size() {
        let (ymin, ws) = k.taps(yy);
        out.extend((0..w).map(|x| {
            let acc =
                ws.iter().enumerate().fold(0.0, |a, (y, &wt)| a + f64::from(tmp[(ymin - first + y) * w + x]) * wt);
            store16(acc)
        }));
    }
    out
}

/// Source indices of PIL's nearest-neighbour scaling along one axis: the coordinate starts at
/// half a step and is advanced by repeated `f64` addition, then truncated (exactly as
/// `ImagingScaleAffine` does, so rounding drift matches too).
/// Only the indices of `outputs` are returned, but the accumulation still starts at output 0.
fn nearest_indices(in_size: usize, out_size: usize, outputs: Range<usize>) -> Vec<usize> {
    let step = in_size as f32 as f64 / out_size as f64;
    let mut pos = step * 0.5;
    let mut out = Vec::with_capacity(outputs.len());
    for i in 0..outputs.end {
        if i >= outputs.start {
            // The coordinate never reaches `in_size` for a full-image box; the clamp only
            // guards the indexing below.
            out.push((pos as usize).min(in_size - 1));
        }
        pos += step;
    }
    out
}

/// PIL's nearest-neighbour resize (used for modes `P` and `1`) of interleaved samples from
/// `in_size` to `out_size`, returning the `window` of the result.
pub fn nearest_resize(
    src: &[u8],
    channels: usize,
    (in_w, in_h): (usize, usize),
    (out_w, out_h): (usize, usize),
    window: Window,
) -> Vec<u8> {
    assert_eq!(src.len(), in_w * in_h * channels, "sample buffer size");
    window.check((out_w, out_h));
    // PIL copies instead of resampling when the size does not change: identity indices.
    let (xs, ys): (Vec<usize>, Vec<usize>) = if (in_w, in_h) == (out_w, out_h) {
        (window.cols().collect(), window.rows().collect())
    } else {
        (nearest_indices(in_w, out_w, window.cols()), nearest_indices(in_h, out_h, window.rows()))
    };
    let mut out = Vec::with_capacity(xs.len() * ys.len() * channels);
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

    /// A deterministic, non-smooth test image.
    fn noise(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7919 % 251) as u8).collect()
    }

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        for (i, o) in [(451, 96), (300, 64), (56, 85), (7, 333), (333, 7), (5, 5)] {
            let k = AxisKernel::<i32>::bicubic(i, o, 0..o);
            for x in 0..o {
                let (_, ws) = k.taps(x);
                let sum: i32 = ws.iter().sum();
                // Each weight is rounded separately, so the sum is within a few units of 2^22.
                let err = (sum - (1 << PRECISION_BITS)).abs();
                assert!(err <= ws.len() as i32, "{i}->{o} @{x}");
            }
        }
    }

    #[test]
    fn constant_image_stays_constant_at_odd_sizes() {
        let cases = [(7, 5, 333, 7), (333, 41, 7, 333), (10, 10, 10, 3), (9, 4, 2, 4)];
        for (iw, ih, ow, oh) in cases {
            for c in 1..=4 {
                let src = vec![173u8; iw * ih * c];
                let out = bicubic_resize(&src, c, (iw, ih), (ow, oh), Window::full((ow, oh)));
                assert_eq!(out.len(), ow * oh * c);
                assert!(out.iter().all(|&v| v == 173), "{iw}x{ih}->{ow}x{oh} c={c}");
            }
        }
    }

    #[test]
    fn a_window_equals_the_same_crop_of_the_full_resize() {
        let cases = [(40, 30, 96, 64), (333, 7, 7, 333), (50, 50, 50, 20), (50, 50, 20, 50)];
        for (iw, ih, ow, oh) in cases {
            let src = noise(iw * ih * 3);
            let full = bicubic_resize(&src, 3, (iw, ih), (ow, oh), Window::full((ow, oh)));
            let win = Window { left: ow / 3, top: oh / 4, width: ow / 2, height: oh / 2 };
            let part = bicubic_resize(&src, 3, (iw, ih), (ow, oh), win);
            let near_full = nearest_resize(&src, 3, (iw, ih), (ow, oh), Window::full((ow, oh)));
            let near_part = nearest_resize(&src, 3, (iw, ih), (ow, oh), win);
            let wide: Vec<u16> = src[..iw * ih].iter().map(|&v| u16::from(v) * 257).collect();
            let u16_full = bicubic_resize_u16(&wide, (iw, ih), (ow, oh), Window::full((ow, oh)));
            let u16_part = bicubic_resize_u16(&wide, (iw, ih), (ow, oh), win);
            for y in 0..win.height {
                let f = ((win.top + y) * ow + win.left) * 3;
                let p = y * win.width * 3;
                let n = win.width * 3;
                assert_eq!(part[p..p + n], full[f..f + n], "{iw}x{ih}->{ow}x{oh} row {y}");
                assert_eq!(near_part[p..p + n], near_full[f..f + n]);
                let (f, p, n) = (f / 3, p / 3, n / 3);
                assert_eq!(u16_part[p..p + n], u16_full[f..f + n]);
            }
        }
    }

    #[test]
    fn extremes_clip_instead_of_wrapping() {
        // A hard black/white edge overshoots with bicubic's negative lobes; results must clip.
        let (w, h) = (9, 3);
        let src: Vec<u8> = (0..w * h).map(|i| if i % w < 4 { 0 } else { 255 }).collect();
        let out = bicubic_resize(&src, 1, (w, h), (31, 3), Window::full((31, 3)));
        assert!(out.contains(&0) && out.contains(&255));
        let first_row = &out[..31];
        assert!(first_row.windows(2).all(|p| p[0] <= p[1]), "monotone edge: {out:?}");
    }

    #[test]
    fn sixteen_bit_resize_keeps_constants_and_clips_like_pillow() {
        let window = Window::full((333, 7));
        let out = bicubic_resize_u16(&[40_000u16; 7 * 5], (7, 5), (333, 7), window);
        assert_eq!(out.len(), 333 * 7);
        assert!(out.iter().all(|&v| v == 40_000));
        assert_eq!(store16(-3.0), 0);
        assert_eq!(store16(65_535.4), 65_535);
        // Above 65535 the high byte clips to 255 but the low byte is the wrapped remainder.
        assert_eq!(store16(65_537.0), 0xFF01);
    }

    #[test]
    fn nearest_picks_centres() {
        assert_eq!(nearest_indices(4, 2, 0..2), vec![1, 3]);
        assert_eq!(nearest_indices(2, 4, 0..4), vec![0, 0, 1, 1]);
        assert_eq!(nearest_indices(2, 4, 1..3), vec![0, 1]);
        assert_eq!(nearest_indices(600, 96, 0..96).len(), 96);
        let src: Vec<u8> = (0..12).collect();
        let out = nearest_resize(&src, 1, (4, 3), (2, 1), Window::full((2, 1)));
        assert_eq!(out, vec![5, 7]);
    }
}
