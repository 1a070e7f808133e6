//! Decoded images in PIL's pixel modes, and the mode conversions the reference applies.
//!
//! The two reference pipelines differ in *when* they convert to RGB: open_clip resizes in the
//! image's own mode (so a palette image is resized NEAREST and RGBA premultiplied), pybioclip
//! converts first. Keeping the decoded mode around is what lets both be reproduced exactly.

use super::exif::Orientation;

/// A 256-entry RGB palette of a mode-`P` image. Short palettes are padded with black, as PIL does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Palette(Box<[[u8; 3]; 256]>);

impl Palette {
    /// Builds a palette from packed `RGBRGB...` bytes; entries past the end are black, extra
    /// bytes beyond 256 entries are ignored.
    pub fn from_rgb_bytes(bytes: &[u8]) -> Self {
        let mut entries = Box::new([[0u8; 3]; 256]);
        for (entry, rgb) in entries.iter_mut().zip(bytes.chunks_exact(3)) {
            entry.copy_from_slice(rgb);
        }
        Self(entries)
    }

    /// The colour of palette index `index`.
    #[inline]
    pub fn rgb(&self, index: u8) -> [u8; 3] {
        self.0[usize::from(index)]
    }
}

/// PIL's image modes that the decoders produce, with the sample layout of each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColorMode {
    /// `1`: bilevel, stored one byte per pixel as 0 or 255 (PIL's storage too).
    Bilevel,
    /// `L`: 8-bit grayscale.
    Gray,
    /// `I;16`: 16-bit grayscale, stored as little-endian `u16` byte pairs. Only 16-bit
    /// grayscale PNGs produce it; PIL resizes it in 16 bits and clips it to 255 on conversion.
    Gray16,
    /// `LA`: grayscale + alpha, interleaved.
    GrayAlpha,
    /// `RGB`.
    Rgb,
    /// `RGBA`, straight (not premultiplied) alpha.
    Rgba,
    /// `CMYK` as PIL stores JPEG CMYK: already un-inverted from Adobe polarity.
    Cmyk,
    /// `P`: one palette index per pixel.
    Palette(Palette),
}

impl ColorMode {
    /// Bytes per pixel in [`DecodedImage::pixels`] (the sample count, except for `I;16`).
    pub fn bytes_per_pixel(&self) -> usize {
        match self {
            Self::Bilevel | Self::Gray | Self::Palette(_) => 1,
            Self::GrayAlpha | Self::Gray16 => 2,
            Self::Rgb => 3,
            Self::Rgba | Self::Cmyk => 4,
        }
    }

    /// PIL's name for the mode.
    pub fn pil_name(&self) -> &'static str {
        match self {
            Self::Bilevel => "1",
            Self::Gray => "L",
            Self::Gray16 => "I;16",
            Self::GrayAlpha => "LA",
            Self::Rgb => "RGB",
            Self::Rgba => "RGBA",
            Self::Cmyk => "CMYK",
            Self::Palette(_) => "P",
        }
    }
}

/// An image in one of PIL's modes: row-major, channels interleaved, 8 bits per sample (16 for
/// `I;16`).
///
/// The invariant `pixels.len() == width * height * mode.bytes_per_pixel()` is checked on
/// construction, so the kernels can index without re-validating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedImage {
    width: usize,
    height: usize,
    mode: ColorMode,
    pixels: Vec<u8>,
    orientation: Orientation,
}

impl DecodedImage {
    /// Wraps decoded samples; `None` if the buffer length does not match the dimensions, or a
    /// dimension is zero.
    pub fn new(width: usize, height: usize, mode: ColorMode, pixels: Vec<u8>) -> Option<Self> {
        let expected = width.checked_mul(height)?.checked_mul(mode.bytes_per_pixel())?;
        (width > 0 && height > 0 && pixels.len() == expected).then_some(Self {
            width,
            height,
            mode,
            pixels,
            orientation: Orientation::Normal,
        })
    }

    /// Records the EXIF orientation found in the file (it is only applied on request).
    pub fn with_orientation(mut self, orientation: Orientation) -> Self {
        self.orientation = orientation;
        self
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The pixel mode.
    pub fn mode(&self) -> &ColorMode {
        &self.mode
    }

    /// The interleaved samples.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The EXIF orientation tag of the file ([`Orientation::Normal`] when absent).
    pub fn orientation(&self) -> Orientation {
        self.orientation
    }

    /// Rotates/flips the pixels as the EXIF orientation says (like PIL's `exif_transpose`),
    /// leaving an upright image whose recorded orientation is [`Orientation::Normal`].
    pub fn apply_orientation(self) -> Self {
        let orientation = self.orientation;
        let channels = self.mode.bytes_per_pixel();
        let (width, height, pixels) = orientation.transform(self.width, self.height, channels, &self.pixels);
        Self { width, height, pixels, orientation: Orientation::Normal, mode: self.mode }
    }

    /// PIL's `convert("RGB")`: alpha is dropped (not composited), gray replicated, palette
    /// looked up, CMYK converted with PIL's integer formula.
    pub fn to_rgb(&self) -> Vec<u8> {
        let n = self.width * self.height;
        let mut out = Vec::with_capacity(n * 3);
        match &self.mode {
            ColorMode::Rgb => out.extend_from_slice(&self.pixels),
            ColorMode::Bilevel | ColorMode::Gray => {
                out.extend(self.pixels.iter().flat_map(|&v| [v, v, v]));
            }
            // PIL's I16→RGB: values above 255 saturate (no scaling).
            ColorMode::Gray16 => out.extend(self.pixels.chunks_exact(2).flat_map(|p| {
                let v = if p[1] == 0 { p[0] } else { 255 };
                [v, v, v]
            })),
            ColorMode::GrayAlpha => {
                out.extend(self.pixels.chunks_exact(2).flat_map(|p| [p[0], p[0], p[0]]));
            }
            ColorMode::Rgba => {
                out.extend(self.pixels.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]));
            }
            ColorMode::Cmyk => out.extend(self.pixels.chunks_exact(4).flat_map(cmyk_to_rgb)),
            ColorMode::Palette(palette) => {
                out.extend(self.pixels.iter().flat_map(|&i| palette.rgb(i)));
            }
        }
        out
    }

    /// The same image with its samples replaced (same mode, new size). Used by the resamplers.
    pub(crate) fn with_pixels(&self, width: usize, height: usize, pixels: Vec<u8>) -> Self {
        debug_assert_eq!(pixels.len(), width * height * self.mode.bytes_per_pixel());
        Self { width, height, mode: self.mode.clone(), pixels, orientation: self.orientation }
    }
}

/// `(a * b) / 255` rounded, PIL's `MULDIV255` (exact for all 8-bit inputs).
#[inline]
pub(crate) fn muldiv255(a: u8, b: u8) -> u8 {
    let t = u32::from(a) * u32::from(b) + 128;
    // The result is at most 255 for 8-bit inputs, so the cast cannot truncate.
    (((t >> 8) + t) >> 8) as u8
}

/// PIL's `cmyk2rgb`: `255 - k - c·(255 - k)/255` per channel, in integers.
#[inline]
fn cmyk_to_rgb(p: &[u8]) -> [u8; 3] {
    let nk = 255 - p[3];
    [nk - muldiv255(p[0], nk), nk - muldiv255(p[1], nk), nk - muldiv255(p[2], nk)]
}

/// Premultiplies colour by alpha in place (PIL `RGBA`→`RGBa`, `LA`→`La`); alpha is the last
/// of the `channels` samples of each pixel.
pub(crate) fn premultiply(pixels: &mut [u8], channels: usize) {
    for px in pixels.chunks_exact_mut(channels) {
        let (color, alpha) = px.split_at_mut(channels - 1);
        for v in color {
            *v = muldiv255(*v, alpha[0]);
        }
    }
}

/// Undoes [`premultiply`] as PIL does: integer division by alpha, clipped; colour is kept as is
/// where alpha is 0 or 255.
pub(crate) fn unpremultiply(pixels: &mut [u8], channels: usize) {
    for px in pixels.chunks_exact_mut(channels) {
        let (color, alpha) = px.split_at_mut(channels - 1);
        let a = u32::from(alpha[0]);
        if a == 0 || a == 255 {
            continue;
        }
        for v in color {
            *v = (255 * u32::from(*v) / a).min(255) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn muldiv255_is_rounded_division() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let exact = (f64::from(a) * f64::from(b) / 255.0).round();
                assert_eq!(f64::from(muldiv255(a, b)), exact, "{a}*{b}/255");
            }
        }
    }

    #[test]
    fn buffer_length_is_validated() {
        assert!(DecodedImage::new(2, 2, ColorMode::Rgb, vec![0; 12]).is_some());
        assert!(DecodedImage::new(2, 2, ColorMode::Rgb, vec![0; 11]).is_none());
        assert!(DecodedImage::new(0, 2, ColorMode::Gray, vec![]).is_none());
    }

    #[test]
    fn rgba_to_rgb_drops_alpha_without_compositing() {
        let im = DecodedImage::new(1, 1, ColorMode::Rgba, vec![10, 20, 30, 0]).unwrap();
        assert_eq!(im.to_rgb(), vec![10, 20, 30]);
    }

    #[test]
    fn gray16_saturates_instead_of_scaling() {
        let px = [100u16, 255, 256, 65535].iter().flat_map(|v| v.to_le_bytes()).collect();
        let im = DecodedImage::new(4, 1, ColorMode::Gray16, px).unwrap();
        assert_eq!(im.to_rgb(), [100, 100, 100, 255, 255, 255, 255, 255, 255, 255, 255, 255]);
    }

    #[test]
    fn cmyk_white_and_black() {
        assert_eq!(cmyk_to_rgb(&[0, 0, 0, 0]), [255, 255, 255]);
        assert_eq!(cmyk_to_rgb(&[0, 0, 0, 255]), [0, 0, 0]);
        assert_eq!(cmyk_to_rgb(&[255, 0, 0, 0]), [0, 255, 255]);
    }

    #[test]
    fn premultiply_round_trip_keeps_opaque_and_clears_transparent() {
        let mut px = vec![200, 100, 50, 255, 200, 100, 50, 0, 200, 100, 50, 128];
        premultiply(&mut px, 4);
        assert_eq!(&px[..8], &[200, 100, 50, 255, 0, 0, 0, 0]);
        unpremultiply(&mut px, 4);
        assert_eq!(&px[..4], &[200, 100, 50, 255]);
        // Half alpha loses at most one level per channel.
        for (got, want) in px[8..11].iter().zip([200u8, 100, 50]) {
            assert!(got.abs_diff(want) <= 1, "{got} vs {want}");
        }
    }
}
