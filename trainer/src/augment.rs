//! Training-time image augmentation: torchvision's `RandomResizedCrop`, as open_clip's
//! training transform applies it (scale 0.9–1, aspect ratio 3/4–4/3).

use arbor_engine::{ColorMode, DecodedImage};
use rand::Rng;

/// Area fraction range of the crop (open_clip trains BioCLIP with 0.9–1.0).
pub const CROP_SCALE: (f64, f64) = (0.9, 1.0);
/// Aspect-ratio range of the crop.
pub const CROP_RATIO: (f64, f64) = (3.0 / 4.0, 4.0 / 3.0);

/// The crop box `(x, y, width, height)` torchvision's `RandomResizedCrop.get_params` draws:
/// ten tries at a random area and log-uniform aspect ratio, then a centre crop of the
/// clamped ratio.
pub fn crop_box(width: usize, height: usize, scale: (f64, f64), ratio: (f64, f64), rng: &mut impl Rng) -> [usize; 4] {
    let area = (width * height) as f64;
    let (log_lo, log_hi) = (ratio.0.ln(), ratio.1.ln());
    for _ in 0..10 {
        let target = area * rng.gen_range(scale.0..=scale.1);
        let aspect = rng.gen_range(log_lo..=log_hi).exp();
        let w = (target * aspect).sqrt().round() as usize;
        let h = (target / aspect).sqrt().round() as usize;
        if (1..=width).contains(&w) && (1..=height).contains(&h) {
            return [rng.gen_range(0..=width - w), rng.gen_range(0..=height - h), w, h];
        }
    }
    let in_ratio = width as f64 / height as f64;
    let (w, h) = if in_ratio < ratio.0 {
        (width, ((width as f64 / ratio.0).round() as usize).max(1))
    } else if in_ratio > ratio.1 {
        (((height as f64 * ratio.1).round() as usize).max(1), height)
    } else {
        (width, height)
    };
    [(width - w) / 2, (height - h) / 2, w, h]
}

/// A random crop of an RGB image, per [`crop_box`] with open_clip's training ranges.
pub fn random_resized_crop(image: &DecodedImage, rng: &mut impl Rng) -> DecodedImage {
    let (width, height) = (image.width(), image.height());
    let [x, y, w, h] = crop_box(width, height, CROP_SCALE, CROP_RATIO, rng);
    let pixels = image.pixels();
    let mut out = Vec::with_capacity(w * h * 3);
    for row in y..y + h {
        out.extend_from_slice(&pixels[(row * width + x) * 3..(row * width + x + w) * 3]);
    }
    // The box lies inside the image and the pixels are RGB, so this cannot fail.
    DecodedImage::new(w, h, ColorMode::Rgb, out).unwrap_or_else(|| image.clone())
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn crops_cover_90_to_100_percent_inside_the_image() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for _ in 0..500 {
            let [x, y, w, h] = crop_box(64, 48, CROP_SCALE, CROP_RATIO, &mut rng);
            assert!(x + w <= 64 && y + h <= 48);
            let fraction = (w * h) as f64 / (64.0 * 48.0);
            assert!((0.85..=1.0).contains(&fraction), "{fraction}");
        }
    }

    #[test]
    fn impossible_ratios_fall_back_to_a_centre_crop() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        // A 10:1 strip cannot take a 3:4..4:3 box of 90 % of its area: centre crop of ratio 4:3.
        assert_eq!(crop_box(100, 10, CROP_SCALE, CROP_RATIO, &mut rng), [43, 0, 13, 10]);
    }

    #[test]
    fn cropped_pixels_come_from_the_box() {
        let pixels: Vec<u8> = (0..8 * 8).flat_map(|i| [i as u8, 0, 255]).collect();
        let image = DecodedImage::new(8, 8, ColorMode::Rgb, pixels).unwrap();
        let crop = random_resized_crop(&image, &mut ChaCha8Rng::seed_from_u64(5));
        assert!(crop.width() >= 7 && crop.height() >= 7);
        assert!(crop.pixels().chunks(3).all(|p| p[1] == 0 && p[2] == 255));
    }
}
