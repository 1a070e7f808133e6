//! Image preprocessing: from an image file to the model's `[3, S, S]` input, exactly as the
//! Python references compute it.
//!
//! Two reference pipelines exist for BioCLIP and both are reproduced, by name:
//!
//! - [`Pipeline::Squash`] — pybioclip's `preprocess_img`: `convert("RGB")`, `/255`, torchvision
//!   `Resize((S, S), antialias=True)` (bilinear on the float tensor, aspect ratio not kept),
//!   normalise. This is what `bioclip predict` runs, so it is the default for parity with it.
//! - [`Pipeline::Crop`] — open_clip's eval transform (the paper's evaluation): PIL bicubic resize
//!   of the shortest side to S *in the image's own mode*, centre crop, `convert("RGB")`, `/255`,
//!   normalise. Pillow's integer resampler is ported bit-exactly in [`resample`].
//!
//! Neither reference applies EXIF orientation, so it is off by default
//! ([`Preprocessor::with_exif_orientation`] turns it on).
//!
//! ```no_run
//! use arbor_engine::{Pipeline, Preprocessor};
//! let pre = Preprocessor::new(Pipeline::Squash, 224)?;
//! let pixels = pre.load("photo.jpg")?;
//! assert_eq!(pixels.shape(), [3, 224, 224]);
//! # Ok::<(), arbor_engine::PreprocessError>(())
//! ```

#![warn(missing_docs)]

pub mod antialias;
pub mod decode;
mod error;
pub mod exif;
mod formats;
#[cfg(feature = "heif")]
mod heif;
mod image;
pub mod resample;

use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// open_clip's resize-and-crop (see [`crop`]), under its re-exported name.
pub use self::crop as crop_pixels;
/// pybioclip's squash geometry (see [`squash`]), under its re-exported name.
pub use self::squash as squash_pixels;
pub use decode::{ImageFormat, MAX_PIXELS, PIL_MAX_IMAGE_PIXELS, decode as decode_image};
pub use error::{PreprocessError, Result};
pub use exif::{Orientation, PhotoTags};
pub use image::{ColorMode, DecodedImage, Palette};
pub use resample::Window;

/// OpenAI CLIP's per-channel mean (RGB), used by BioCLIP.
pub const OPENAI_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// OpenAI CLIP's per-channel standard deviation (RGB), used by BioCLIP.
// The digits are OpenAI's published constants, kept verbatim so they can be checked against
// open_clip; they round to the same f32 either way.
#[allow(clippy::excessive_precision)]
pub const OPENAI_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

/// Which reference preprocessing to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Pipeline {
    /// pybioclip: RGB first, then antialiased bilinear resize of the whole image to SxS.
    #[default]
    Squash,
    /// open_clip eval: bicubic shortest-side resize in the original mode, centre crop.
    Crop,
}

impl fmt::Display for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Squash => "squash",
            Self::Crop => "crop",
        })
    }
}

impl FromStr for Pipeline {
    type Err = PreprocessError;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "squash" => Ok(Self::Squash),
            "crop" => Ok(Self::Crop),
            other => {
                Err(PreprocessError::Config(format!("unknown pipeline {other:?} (expected \"squash\" or \"crop\")")))
            }
        }
    }
}

/// A normalised model input: `f32`, shape `[3, size, size]`, channel-major (CHW), RGB order.
#[derive(Debug, Clone, PartialEq)]
pub struct PixelTensor {
    data: Vec<f32>,
    size: usize,
}

impl PixelTensor {
    /// The side length S.
    pub fn size(&self) -> usize {
        self.size
    }

    /// `[3, S, S]`.
    pub fn shape(&self) -> [usize; 3] {
        [3, self.size, self.size]
    }

    /// The values, CHW.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// Takes the values out, CHW.
    pub fn into_data(self) -> Vec<f32> {
        self.data
    }
}

/// A configured preprocessing pipeline. Plain data, `Send + Sync`: share one across decode
/// threads.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocessor {
    pipeline: Pipeline,
    size: usize,
    mean: [f32; 3],
    std: [f32; 3],
    exif_orient: bool,
    max_pixels: u64,
}

impl Preprocessor {
    /// A pipeline producing `size`x`size` inputs with the OpenAI mean/std, EXIF orientation
    /// ignored (as in both references) and the PIL-like pixel cap [`MAX_PIXELS`].
    pub fn new(pipeline: Pipeline, size: usize) -> Result<Self> {
        if size == 0 {
            return Err(PreprocessError::Config("output size must be at least 1".into()));
        }
        Ok(Self { pipeline, size, mean: OPENAI_MEAN, std: OPENAI_STD, exif_orient: false, max_pixels: MAX_PIXELS })
    }

    /// Replaces the normalisation constants (e.g. from a model's `preprocess_cfg`).
    pub fn with_normalization(mut self, mean: [f32; 3], std: [f32; 3]) -> Result<Self> {
        if mean.iter().any(|m| !m.is_finite()) || std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(PreprocessError::Config(format!(
                "mean must be finite and std positive, got mean {mean:?} std {std:?}"
            )));
        }
        self.mean = mean;
        self.std = std;
        Ok(self)
    }

    /// Applies the EXIF orientation tag before resizing when `on` (off by default, as in the
    /// references: switching it on changes results for rotated photos).
    pub fn with_exif_orientation(mut self, on: bool) -> Self {
        self.exif_orient = on;
        self
    }

    /// Changes the decompression-bomb guard: images with more pixels are refused.
    pub fn with_max_pixels(mut self, max_pixels: u64) -> Self {
        self.max_pixels = max_pixels;
        self
    }

    /// Whether EXIF orientation is applied.
    pub fn exif_orientation(&self) -> bool {
        self.exif_orient
    }

    /// The pipeline.
    pub fn pipeline(&self) -> Pipeline {
        self.pipeline
    }

    /// The output side length.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Reads, decodes and preprocesses an image file.
    pub fn load(&self, path: impl AsRef<Path>) -> Result<PixelTensor> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| PreprocessError::Io { path: path.to_owned(), source })?;
        self.from_bytes(&bytes, &path.display().to_string())
    }

    /// Decodes and preprocesses an encoded image held in memory; `name` labels errors.
    pub fn from_bytes(&self, bytes: &[u8], name: &str) -> Result<PixelTensor> {
        Ok(self.process(&self.decode(bytes, name)?))
    }

    /// Decodes an encoded image, applying the EXIF orientation if configured.
    pub fn decode(&self, bytes: &[u8], name: &str) -> Result<DecodedImage> {
        let image = decode::decode(bytes, name, self.max_pixels)?;
        Ok(if self.exif_orient { image.apply_orientation() } else { image })
    }

    /// Runs the configured pipeline on a decoded image.
    pub fn process(&self, image: &DecodedImage) -> PixelTensor {
        let unit = match self.pipeline {
            Pipeline::Squash => squash(image, self.size),
            Pipeline::Crop => to_unit_planes(&crop(image, self.size)),
        };
        self.normalize(unit)
    }

    /// `(x - mean) / std` per channel, in `f32` as torchvision's `Normalize` does.
    fn normalize(&self, mut planes: Vec<f32>) -> PixelTensor {
        let area = self.size * self.size;
        for (c, plane) in planes.chunks_exact_mut(area).enumerate() {
            for v in plane {
                *v = (*v - self.mean[c]) / self.std[c];
            }
        }
        PixelTensor { data: planes, size: self.size }
    }
}

/// Interleaved RGB bytes → three planes of ToTensor's `f32(v) / 255`.
fn to_unit_planes(rgb: &[u8]) -> Vec<f32> {
    let unit = antialias::unit_table();
    (0..3).flat_map(|c| rgb.iter().skip(c).step_by(3).map(|&v| unit[usize::from(v)])).collect()
}

/// pybioclip's geometry: RGB, unit floats, antialiased bilinear resize of each plane to SxS.
/// Returns CHW planes in `[0, 1]`, not yet normalised.
pub fn squash(image: &DecodedImage, size: usize) -> Vec<f32> {
    let size_in = (image.width(), image.height());
    antialias::resize_rgb(&image.to_rgb(), size_in, (size, size))
}

/// open_clip's geometry up to `convert("RGB")`: the `size`x`size` RGB bytes (HWC) that
/// ToTensor would see. Exact against PIL.
pub fn crop(image: &DecodedImage, size: usize) -> Vec<u8> {
    let (w, h) = (image.width(), image.height());
    let (new_w, new_h) = shortest_side_resize(w, h, size);
    let window =
        Window { left: center_offset(new_w, size), top: center_offset(new_h, size), width: size, height: size };
    resize_in_mode(image, (new_w, new_h), window).to_rgb()
}

/// torchvision `Resize(int)`: the short side becomes `size`, the long side
/// `int(size * long / short)` (Python float division, truncated).
pub fn shortest_side_resize(width: usize, height: usize, size: usize) -> (usize, usize) {
    let long_side = |long: usize, short: usize| ((size * long) as f64 / short as f64) as usize;
    if width <= height { (size, long_side(height, width)) } else { (long_side(width, height), size) }
}

/// torchvision `CenterCrop`'s offset `int(round((len - size) / 2))` with Python's round half to
/// even. `len >= size` here because the short side was resized to exactly `size`.
fn center_offset(len: usize, size: usize) -> usize {
    let diff = len - size;
    let half = diff / 2;
    if diff % 2 == 1 && half % 2 == 1 { half + 1 } else { half }
}

/// PIL `Image.resize(new_size, BICUBIC)` on the image's own mode, then the crop `window` of it:
/// `P` and `1` are forced to NEAREST, `RGBA`/`LA` are resized premultiplied, `I;16` in 16 bits,
/// everything else channel by channel in 8 bits. Only the window is computed (see [`Window`]).
pub fn resize_in_mode(image: &DecodedImage, new_size: (usize, usize), window: Window) -> DecodedImage {
    let size = (image.width(), image.height());
    let c = image.mode().bytes_per_pixel();
    let pixels = match image.mode() {
        ColorMode::Bilevel | ColorMode::Palette(_) => {
            resample::nearest_resize(image.pixels(), c, size, new_size, window)
        }
        // PIL copies an image that already has the target size; cropping the copy is the same
        // as the nearest path's identity indices, for every mode.
        _ if size == new_size => resample::nearest_resize(image.pixels(), c, size, new_size, window),
        ColorMode::GrayAlpha | ColorMode::Rgba => {
            let mut px = image.pixels().to_vec();
            image::premultiply(&mut px, c);
            let mut out = resample::bicubic_resize(&px, c, size, new_size, window);
            image::unpremultiply(&mut out, c);
            out
        }
        ColorMode::Gray16 => {
            let samples: Vec<u16> = image.pixels().chunks_exact(2).map(|p| u16::from_le_bytes([p[0], p[1]])).collect();
            resample::bicubic_resize_u16(&samples, size, new_size, window)
                .into_iter()
                .flat_map(u16::to_le_bytes)
                .collect()
        }
        ColorMode::Gray | ColorMode::Rgb | ColorMode::Cmyk => {
            resample::bicubic_resize(image.pixels(), c, size, new_size, window)
        }
    };
    image.with_pixels(window.width, window.height, pixels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_names_round_trip() {
        for p in [Pipeline::Squash, Pipeline::Crop] {
            assert_eq!(p.to_string().parse::<Pipeline>().unwrap(), p);
        }
        assert_eq!("CROP".parse::<Pipeline>().unwrap(), Pipeline::Crop);
        assert!("bilinear".parse::<Pipeline>().is_err());
    }

    #[test]
    fn resize_sizes_follow_torchvision() {
        assert_eq!(shortest_side_resize(451, 300, 64), (96, 64));
        assert_eq!(shortest_side_resize(640, 427, 64), (95, 64));
        assert_eq!(shortest_side_resize(512, 600, 64), (64, 75));
        assert_eq!(shortest_side_resize(56, 42, 64), (85, 64));
        assert_eq!(shortest_side_resize(512, 512, 224), (224, 224));
    }

    #[test]
    fn center_offset_rounds_half_to_even() {
        assert_eq!(center_offset(96, 64), 16);
        assert_eq!(center_offset(95, 64), 16); // 15.5 → 16
        assert_eq!(center_offset(75, 64), 6); // 5.5 → 6
        assert_eq!(center_offset(69, 64), 2); // 2.5 → 2
        assert_eq!(center_offset(65, 64), 0); // 0.5 → 0
    }

    #[test]
    fn config_is_validated() {
        assert!(Preprocessor::new(Pipeline::Crop, 0).is_err());
        let pre = Preprocessor::new(Pipeline::Crop, 8).unwrap();
        assert!(pre.clone().with_normalization([0.5; 3], [0.0, 1.0, 1.0]).is_err());
        assert!(pre.with_normalization([f32::NAN, 0.0, 0.0], [1.0; 3]).is_err());
    }

    #[test]
    fn preprocessor_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Preprocessor>();
        assert_send_sync::<PixelTensor>();
    }

    #[test]
    fn gray_image_normalises_per_channel() {
        let im = DecodedImage::new(3, 2, ColorMode::Gray, vec![128; 6]).unwrap();
        for pipeline in [Pipeline::Squash, Pipeline::Crop] {
            let t = Preprocessor::new(pipeline, 5).unwrap().process(&im);
            assert_eq!(t.shape(), [3, 5, 5]);
            for c in 0..3 {
                let want = (128.0 / 255.0 - OPENAI_MEAN[c]) / OPENAI_STD[c];
                let plane = &t.data()[c * 25..(c + 1) * 25];
                assert!(plane.iter().all(|v| (v - want).abs() < 1e-6), "{pipeline} c{c}");
            }
        }
    }
}
