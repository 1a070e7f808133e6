//! torchvision's antialiased bilinear resize of a float tensor (pybioclip's `Resize((S, S))`).
//!
//! This follows ATen's `_upsample_bilinear2d_aa` CPU kernel: separable, width pass first, each
//! pass skipped when its size is unchanged, a `f32` intermediate, and triangle-filter weights
//! computed in `f32` exactly as ATen does (mixed with the `f64` literals of its C++ source) and
//! normalised by their `f32` sum. The weights are therefore bit-identical to torch's; the
//! weighted sums are sequential `f32` multiply-then-add. torch's compiled loop contracts some of
//! those into fused multiply-adds (all of them for upscaling, where an all-FMA variant matched
//! the fixtures bit for bit), but not for strong downscaling, where the plain sum matches 96–99 %
//! of the values. The plain sum was kept: it is the better match on downscaled photos, the
//! common case, it is within 1e-6 of torch everywhere, and `f32::mul_add` without a compile-time
//! FMA target is a libm call per tap.

/// Precomputed taps of one axis: first input index and normalised weights per output.
#[derive(Debug, Clone)]
pub struct AaKernel {
    starts: Vec<usize>,
    lens: Vec<usize>,
    stride: usize,
    weights: Vec<f32>,
}

impl AaKernel {
    /// Bilinear (triangle) antialias weights mapping `in_size` samples onto `out_size`.
    pub fn bilinear(in_size: usize, out_size: usize) -> Self {
        // area_pixel_compute_scale with align_corners=false: float(in) / out.
        let scale = in_size as f32 / out_size as f32;
        // Bilinear has interp_size 2, so the half-width is 1 input pixel, widened on downscale.
        let (support, invscale) = if scale >= 1.0 { (scale, 1.0 / scale) } else { (1.0f32, 1.0f32) };
        let stride = (support.ceil() as usize) * 2 + 1;
        let mut starts = Vec::with_capacity(out_size);
        let mut lens = Vec::with_capacity(out_size);
        let mut weights = vec![0f32; out_size * stride];
        for (i, ws) in weights.chunks_exact_mut(stride).enumerate() {
            // `scale * (i + 0.5)`: i + 0.5 is a double in the C++ source; the product is stored
            // back into a float.
            let center = (f64::from(scale) * (i as f64 + 0.5)) as f32;
            let xmin = ((f64::from(center - support) + 0.5) as i64).max(0) as usize;
            let xmax = ((f64::from(center + support) + 0.5) as i64).min(in_size as i64) as usize;
            let len = xmax.saturating_sub(xmin).min(stride);
            let mut total = 0f32;
            for (j, w) in ws[..len].iter_mut().enumerate() {
                // (j + xmin - center) is float, + 0.5 and * invscale promote to double, and the
                // filter takes its argument as float.
                let arg = ((f64::from((j + xmin) as f32 - center) + 0.5) * f64::from(invscale)) as f32;
                *w = (1.0 - arg.abs()).max(0.0);
                total += *w;
            }
            if total != 0.0 {
                for w in &mut ws[..len] {
                    *w /= total;
                }
            }
            starts.push(xmin);
            lens.push(len);
        }
        Self { starts, lens, stride, weights }
    }

    /// Number of output samples.
    pub fn out_size(&self) -> usize {
        self.starts.len()
    }

    #[inline]
    fn taps(&self, i: usize) -> (usize, &[f32]) {
        let at = i * self.stride;
        (self.starts[i], &self.weights[at..at + self.lens[i]])
    }
}

/// ToTensor's `f32(v) / 255` for every byte value (a division, not a multiplication by 1/255,
/// which rounds differently).
pub fn unit_table() -> [f32; 256] {
    std::array::from_fn(|v| v as f32 / 255.0)
}

/// ToTensor + `Resize((out_h, out_w), antialias=True)` of interleaved RGB bytes: returns three
/// CHW planes of `out_w`x`out_h` floats in `[0, 1]`.
///
/// The byte-to-float conversion is folded into the width pass (through [`unit_table`], so the
/// values are those ToTensor produces), which avoids materialising a full-resolution float copy
/// of the photo.
pub fn resize_rgb(rgb: &[u8], (in_w, in_h): (usize, usize), (out_w, out_h): (usize, usize)) -> Vec<f32> {
    assert_eq!(rgb.len(), in_w * in_h * 3, "RGB buffer size");
    let unit = unit_table();
    let mid = in_h * out_w;
    let mut widened = vec![0f32; 3 * mid];
    if out_w == in_w {
        for (i, px) in rgb.chunks_exact(3).enumerate() {
            for c in 0..3 {
                widened[c * mid + i] = unit[usize::from(px[c])];
            }
        }
    } else {
        let k = AaKernel::bilinear(in_w, out_w);
        for (y, row) in rgb.chunks_exact(in_w * 3).enumerate() {
            for x in 0..out_w {
                let (start, ws) = k.taps(x);
                let mut acc = [0f32; 3];
                for (px, &w) in row[start * 3..].chunks_exact(3).zip(ws) {
                    for c in 0..3 {
                        acc[c] += unit[usize::from(px[c])] * w;
                    }
                }
                for (c, v) in acc.into_iter().enumerate() {
                    widened[c * mid + y * out_w + x] = v;
                }
            }
        }
    }
    if out_h == in_h {
        return widened;
    }
    let k = AaKernel::bilinear(in_h, out_h);
    widened.chunks_exact(mid).flat_map(|plane| vertical(plane, out_w, &k)).collect()
}

/// The height pass over one plane of width `w`.
fn vertical(src: &[f32], w: usize, k: &AaKernel) -> Vec<f32> {
    let mut out = Vec::with_capacity(w * k.out_size());
    let mut acc = vec![0f32; w];
    for y in 0..k.out_size() {
        let (start, ws) = k.taps(y);
        acc.fill(0.0);
        // Row-at-a-time: each output pixel still sums its taps in order j = 0, 1, ...
        for (j, &wt) in ws.iter().enumerate() {
            let row = &src[(start + j) * w..(start + j + 1) * w];
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += v * wt;
            }
        }
        out.extend_from_slice(&acc);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_normalised() {
        for (i, o) in [(451, 224), (56, 224), (600, 64), (7, 333), (333, 7)] {
            let k = AaKernel::bilinear(i, o);
            assert_eq!(k.out_size(), o);
            for x in 0..o {
                let (start, ws) = k.taps(x);
                assert!(start + ws.len() <= i);
                let sum: f32 = ws.iter().sum();
                assert!((sum - 1.0).abs() < 1e-5, "{i}->{o} @{x}: {sum}");
            }
        }
    }

    #[test]
    fn constant_image_stays_constant() {
        let want = 64.0 / 255.0;
        for &(iw, ih, ow, oh) in &[(7, 5, 333, 7), (333, 41, 7, 224), (10, 10, 10, 3), (4, 4, 4, 4)] {
            let out = resize_rgb(&vec![64u8; iw * ih * 3], (iw, ih), (ow, oh));
            assert_eq!(out.len(), 3 * ow * oh);
            assert!(out.iter().all(|v| (v - want).abs() < 1e-6), "{iw}x{ih}->{ow}x{oh}");
        }
    }

    #[test]
    fn integer_downscale_by_two_averages_pairs() {
        // scale 2: support 2 → taps at distance 0.5 and 1.5 with weights 0.375/0.125, symmetric.
        let row: Vec<u8> = (0..8u8).flat_map(|v| [v, 2 * v, 0]).collect();
        let out = resize_rgb(&row, (8, 1), (4, 1));
        // Interior outputs are the weighted mean of their 4-tap window: the window's centre.
        let unit = |v: f32| v / 255.0;
        assert!((out[1] - unit(2.5)).abs() < 1e-6 && (out[2] - unit(4.5)).abs() < 1e-6);
        assert!((out[4 + 1] - unit(5.0)).abs() < 1e-6, "green plane: {out:?}");
        assert!(out[8..].iter().all(|&v| v == 0.0), "blue plane stays zero");
    }

    #[test]
    fn unit_table_is_a_division() {
        let t = unit_table();
        assert_eq!(t[0], 0.0);
        assert_eq!(t[255], 1.0);
        assert_eq!(t[51].to_bits(), (51f32 / 255.0).to_bits());
    }
}
