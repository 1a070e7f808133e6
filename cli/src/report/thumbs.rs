//! Thumbnails: each photo (and each classified detection's crop) decoded once, upright,
//! shrunk to at most [`SIDE`] pixels by area averaging and encoded as a small JPEG.

use std::path::Path;

use anyhow::{Context, Result};
use arbor_engine::{BBox, CropShape, Pipeline, Preprocessor, crop_detection};
use base64::Engine as _;

/// The longest side of a thumbnail, in pixels.
pub const SIDE: usize = 160;

/// JPEG quality of thumbnails.
const QUALITY: f32 = 72.0;

/// A photo's thumbnails as JPEG files.
pub struct Thumbs {
    /// The whole photo.
    pub whole: Vec<u8>,
    /// One per box asked for (`None` where there was no box, or it was under a pixel).
    pub crops: Vec<Option<Vec<u8>>>,
}

/// The thumbnails of one photo: the photo's, then one per box in `boxes`.
pub fn photo_thumbs(path: &Path, boxes: &[Option<[f64; 4]>]) -> Result<Thumbs> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let decoder = Preprocessor::new(Pipeline::Squash, 1)?;
    let image = decoder.decode(&bytes, &path.display().to_string())?.apply_orientation();
    let whole = jpeg(shrink(image.width(), image.height(), &image.to_rgb()))?;
    let crops = boxes
        .iter()
        .map(|b| {
            let b = (*b)?;
            let bbox = BBox::new(b[0], b[1], b[2], b[3])?;
            let (w, h, rgb) = crop_detection(&image, bbox, CropShape::Box).ok()?;
            jpeg(shrink(w, h, &rgb)).ok()
        })
        .collect();
    Ok(Thumbs { whole, crops })
}

/// A data URI of a JPEG.
pub fn data_uri(jpeg: &[u8]) -> String {
    format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(jpeg))
}

/// Area-average downscale so the longer side is at most [`SIDE`].
fn shrink(w: usize, h: usize, rgb: &[u8]) -> (usize, usize, Vec<u8>) {
    let scale = (w.max(h) as f64 / SIDE as f64).max(1.0);
    let (tw, th) = (((w as f64 / scale).round() as usize).max(1), ((h as f64 / scale).round() as usize).max(1));
    let mut out = Vec::with_capacity(tw * th * 3);
    for ty in 0..th {
        let (y0, y1) = (ty * h / th, ((ty + 1) * h / th).max(ty * h / th + 1));
        for tx in 0..tw {
            let (x0, x1) = (tx * w / tw, ((tx + 1) * w / tw).max(tx * w / tw + 1));
            let mut sum = [0u32; 3];
            for y in y0..y1 {
                for x in x0..x1 {
                    let p = &rgb[(y * w + x) * 3..(y * w + x) * 3 + 3];
                    for c in 0..3 {
                        sum[c] += u32::from(p[c]);
                    }
                }
            }
            let n = ((y1 - y0) * (x1 - x0)) as u32;
            out.extend(sum.map(|s| ((s + n / 2) / n) as u8));
        }
    }
    (tw, th, out)
}

fn jpeg((w, h, rgb): (usize, usize, Vec<u8>)) -> Result<Vec<u8>> {
    // libjpeg reports errors by unwinding; an 8-bit RGB buffer of the stated size has none to
    // report, but a panic must not end the report.
    std::panic::catch_unwind(|| -> std::io::Result<Vec<u8>> {
        let mut c = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
        c.set_size(w, h);
        c.set_quality(QUALITY);
        let mut started = c.start_compress(Vec::new())?;
        started.write_scanlines(&rgb)?;
        started.finish()
    })
    .map_err(|_| anyhow::anyhow!("the JPEG encoder failed"))?
    .context("encoding a thumbnail")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrinking_averages_and_keeps_the_aspect() {
        let rgb: Vec<u8> = (0..640 * 320).flat_map(|i| if i % 2 == 0 { [0, 0, 0] } else { [200, 100, 50] }).collect();
        let (w, h, px) = shrink(640, 320, &rgb);
        assert_eq!((w, h), (160, 80));
        assert_eq!(&px[..3], &[100, 50, 25], "four pixels, half of them black");
        assert_eq!(shrink(10, 5, &[9; 150]), (10, 5, vec![9; 150]), "small photos stay as they are");
        let jpeg = jpeg((w, h, px)).unwrap();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
        assert!(data_uri(&jpeg).starts_with("data:image/jpeg;base64,/9j/"));
    }
}
