//! Decoding JPEG and PNG files into [`DecodedImage`]s with the pixels PIL would produce.
//!
//! - JPEG goes through libjpeg-turbo's decoder (vendored by `mozjpeg-sys`, built from C source):
//!   the same islow IDCT, fancy upsampling and colour conversion as the libjpeg-turbo inside
//!   Pillow, hence the same bytes. Pure-Rust decoders differ by a few levels.
//! - PNG goes through the `png` crate with no transformations, then is mapped to PIL's mode by
//!   hand (palette kept as indices, 16-bit samples reduced to their high byte, tRNS ignored for
//!   non-alpha modes), because that is what decides how the crop pipeline resizes it.

use std::io::{BufRead, Cursor, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};

use mozjpeg::{ColorSpace, Decompress, Marker};
use mozjpeg_sys::J_COLOR_SPACE;

use super::error::{PreprocessError, Result};
use super::exif::Orientation;
use super::formats;
use super::image::{ColorMode, DecodedImage, Palette};

/// PIL's `MAX_IMAGE_PIXELS` (`1024 * 1024 * 1024 // 4 // 3`): PIL warns above it and refuses
/// above twice it as a decompression bomb. Arbor refuses at the same point.
pub const PIL_MAX_IMAGE_PIXELS: u64 = 1024 * 1024 * 1024 / 4 / 3;

/// Default pixel limit: like PIL, twice [`PIL_MAX_IMAGE_PIXELS`] (about 179 MP).
pub const MAX_PIXELS: u64 = 2 * PIL_MAX_IMAGE_PIXELS;

/// The photo file formats Arbor recognises (by content, never by extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// JPEG/JFIF/EXIF.
    Jpeg,
    /// PNG.
    Png,
    /// WebP (lossy, lossless, alpha, animated).
    Webp,
    /// TIFF (the first page).
    Tiff,
    /// Windows bitmap.
    Bmp,
    /// GIF (the first frame).
    Gif,
    /// AVIF (AV1 in HEIF): recognised, not decoded by this build.
    Avif,
    /// HEIC/HEIF (HEVC): recognised, not decoded by this build.
    Heif,
}

impl ImageFormat {
    /// Recognises a format from the first bytes of a file (the extension is not trusted).
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        let heif_brand = |brands: &[u8]| {
            let is = |set: &[&[u8; 4]]| brands.chunks_exact(4).any(|b| set.iter().any(|s| b == &s[..]));
            if is(&[b"avif", b"avis"]) {
                Some(Self::Avif)
            } else if is(&[b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"]) {
                Some(Self::Heif)
            } else {
                None
            }
        };
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
            Some(Self::Tiff)
        } else if bytes.starts_with(b"BM") && bytes.len() >= 18 {
            Some(Self::Bmp)
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Some(Self::Gif)
        } else if bytes.len() >= 16 && &bytes[4..8] == b"ftyp" {
            // The major brand, then the compatible brands up to the box's end.
            let end = (u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize).clamp(16, bytes.len());
            let mut brands = bytes[8..12].to_vec();
            brands.extend_from_slice(&bytes[16..end]);
            heif_brand(&brands)
        } else {
            None
        }
    }

    /// Every format Arbor recognises ([`ImageFormat::is_decoded`] says which this build decodes).
    pub const ALL: &[ImageFormat] = &[
        ImageFormat::Jpeg,
        ImageFormat::Png,
        ImageFormat::Webp,
        ImageFormat::Tiff,
        ImageFormat::Bmp,
        ImageFormat::Gif,
        ImageFormat::Avif,
        ImageFormat::Heif,
    ];

    /// File extensions of the format (lower case), for folder walks.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Jpeg => &["jpg", "jpeg", "jpe", "jfif"],
            Self::Png => &["png"],
            Self::Webp => &["webp"],
            Self::Tiff => &["tif", "tiff"],
            Self::Bmp => &["bmp", "dib"],
            Self::Gif => &["gif"],
            Self::Avif => &["avif"],
            Self::Heif => &["heic", "heif", "hif"],
        }
    }

    /// Whether this build decodes the format: AVIF and HEIC need the `heif` feature.
    pub fn is_decoded(self) -> bool {
        cfg!(feature = "heif") || !matches!(self, Self::Avif | Self::Heif)
    }

    /// The format a file extension (any case) names, if Arbor knows it.
    pub fn from_extension(ext: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|f| f.extensions().iter().any(|x| x.eq_ignore_ascii_case(ext)))
    }

    /// Whether a file extension (any case) is one this build decodes.
    pub fn decodes_extension(ext: &str) -> bool {
        Self::from_extension(ext).is_some_and(Self::is_decoded)
    }

    /// The IANA media type (`image/jpeg`), as Camtrap DP's `fileMediatype` wants it.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Tiff => "image/tiff",
            Self::Bmp => "image/bmp",
            Self::Gif => "image/gif",
            Self::Avif => "image/avif",
            Self::Heif => "image/heic",
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "JPEG",
            Self::Png => "PNG",
            Self::Webp => "WebP",
            Self::Tiff => "TIFF",
            Self::Bmp => "BMP",
            Self::Gif => "GIF",
            Self::Avif => "AVIF",
            Self::Heif => "HEIC",
        }
    }
}

/// Decodes a JPEG or PNG held in memory. `name` labels errors (usually the file path);
/// `max_pixels` caps `width * height` before any pixel buffer is allocated.
pub fn decode(bytes: &[u8], name: &str, max_pixels: u64) -> Result<DecodedImage> {
    if bytes.is_empty() {
        return Err(PreprocessError::EmptyFile { name: name.to_owned() });
    }
    match ImageFormat::sniff(bytes) {
        Some(ImageFormat::Jpeg) => decode_jpeg(bytes, name, max_pixels),
        Some(ImageFormat::Png) => decode_png(bytes, name, max_pixels),
        Some(f @ ImageFormat::Webp) => guarded(f, name, || formats::decode_webp(bytes, name, max_pixels)),
        Some(f @ ImageFormat::Tiff) => guarded(f, name, || formats::decode_tiff(bytes, name, max_pixels)),
        Some(f @ ImageFormat::Bmp) => guarded(f, name, || formats::decode_bmp(bytes, name, max_pixels)),
        Some(f @ ImageFormat::Gif) => guarded(f, name, || formats::decode_gif(bytes, name, max_pixels)),
        #[cfg(feature = "heif")]
        Some(f @ (ImageFormat::Avif | ImageFormat::Heif)) => {
            guarded(f, name, || super::heif::decode(bytes, name, f, max_pixels))
        }
        #[cfg(not(feature = "heif"))]
        Some(f @ (ImageFormat::Avif | ImageFormat::Heif)) => {
            Err(PreprocessError::NotDecoded { name: name.to_owned(), format: f.name() })
        }
        None => Err(PreprocessError::UnknownFormat {
            name: name.to_owned(),
            magic: bytes.iter().take(8).map(|b| format!("{b:02x}")).collect(),
        }),
    }
}

/// Runs a pure-Rust decoder, turning a panic on hostile input into an error naming the file.
fn guarded(format: ImageFormat, name: &str, decode: impl FnOnce() -> Result<DecodedImage>) -> Result<DecodedImage> {
    catch_unwind(AssertUnwindSafe(decode)).unwrap_or_else(|_| Err(corrupt(name, format, "the decoder failed")))
}

/// Refuses empty images and images above the pixel cap.
pub(super) fn check_dimensions(name: &str, width: u64, height: u64, max_pixels: u64) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(PreprocessError::Empty { name: name.to_owned(), width, height });
    }
    let pixels = width.saturating_mul(height);
    if pixels > max_pixels {
        return Err(PreprocessError::TooLarge { name: name.to_owned(), width, height, pixels, limit: max_pixels });
    }
    Ok(())
}

fn corrupt(name: &str, format: ImageFormat, reason: impl ToString) -> PreprocessError {
    PreprocessError::Corrupt { name: name.to_owned(), format: format.name(), reason: reason.to_string() }
}

/// An in-memory reader that remembers whether libjpeg asked for bytes past the end, which is
/// how a truncated file shows (libjpeg itself only warns and pads with a fake EOI marker).
struct EndWatch<'a> {
    rest: &'a [u8],
    ran_out: bool,
}

impl Read for EndWatch<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.rest.read(buf)?;
        self.ran_out |= n == 0 && !buf.is_empty();
        Ok(n)
    }
}

impl BufRead for EndWatch<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.ran_out |= self.rest.is_empty();
        Ok(self.rest)
    }

    fn consume(&mut self, amt: usize) {
        self.rest = &self.rest[amt.min(self.rest.len())..];
    }
}

/// What the JPEG decode produces before it is checked for truncation.
struct JpegPixels {
    width: usize,
    height: usize,
    mode: ColorMode,
    pixels: Vec<u8>,
    orientation: Orientation,
    truncated: bool,
}

fn decode_jpeg(bytes: &[u8], name: &str, max_pixels: u64) -> Result<DecodedImage> {
    let format = ImageFormat::Jpeg;
    // libjpeg reports fatal errors by unwinding out of its error handler (the mozjpeg crate's
    // design); catch that here and turn it into an error naming the file.
    let decoded = catch_unwind(AssertUnwindSafe(|| jpeg_pixels(bytes, name, max_pixels))).map_err(|panic| {
        let reason = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("libjpeg failed");
        corrupt(name, format, reason.trim_start_matches("libjpeg fatal error: "))
    })??;
    if decoded.truncated {
        return Err(PreprocessError::Truncated { name: name.to_owned(), format: format.name() });
    }
    DecodedImage::new(decoded.width, decoded.height, decoded.mode, decoded.pixels)
        .map(|im| im.with_orientation(decoded.orientation))
        .ok_or_else(|| corrupt(name, format, "decoder returned fewer pixels than declared"))
}

fn jpeg_pixels(bytes: &[u8], name: &str, max_pixels: u64) -> Result<JpegPixels> {
    let format = ImageFormat::Jpeg;
    let reader = EndWatch { rest: bytes, ran_out: false };
    let dec = Decompress::with_markers(&[Marker::APP(1)]).from_reader(reader).map_err(|e| corrupt(name, format, e))?;
    let (width, height) = dec.size();
    check_dimensions(name, width as u64, height as u64, max_pixels)?;
    let orientation = dec
        .markers()
        .filter(|m| m.marker == Marker::APP(1))
        .find_map(|m| Orientation::from_jpeg_app1(m.data))
        .unwrap_or_default();
    // PIL picks its mode from the component count; libjpeg converts YCbCr→RGB and YCCK→CMYK.
    let (out_space, mode): (ColorSpace, ColorMode) = match dec.color_space() {
        J_COLOR_SPACE::JCS_GRAYSCALE => (J_COLOR_SPACE::JCS_GRAYSCALE, ColorMode::Gray),
        J_COLOR_SPACE::JCS_CMYK | J_COLOR_SPACE::JCS_YCCK => (J_COLOR_SPACE::JCS_CMYK, ColorMode::Cmyk),
        _ => (J_COLOR_SPACE::JCS_RGB, ColorMode::Rgb),
    };
    let mut started = dec.to_colorspace(out_space).map_err(|e| corrupt(name, format, e))?;
    let mut pixels: Vec<u8> = started.read_scanlines().map_err(|e| corrupt(name, format, e))?;
    if mode == ColorMode::Cmyk {
        // PIL always assumes Adobe polarity (inverted CMYK), rawmode "CMYK;I".
        for v in &mut pixels {
            *v = !*v;
        }
    }
    let reader = started.finish_into_inner().map_err(|e| corrupt(name, format, e))?;
    Ok(JpegPixels { width, height, mode, pixels, orientation, truncated: reader.ran_out })
}

fn png_error(name: &str, err: png::DecodingError) -> PreprocessError {
    match err {
        png::DecodingError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            PreprocessError::Truncated { name: name.to_owned(), format: "PNG" }
        }
        other => corrupt(name, ImageFormat::Png, other),
    }
}

fn decode_png(bytes: &[u8], name: &str, max_pixels: u64) -> Result<DecodedImage> {
    let format = ImageFormat::Png;
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::IDENTITY);
    // The crate's default 64 MiB allocation limit would refuse ordinary 20 MP RGBA photos; the
    // pixel cap below is the real guard (8 bytes per pixel is the widest PNG sample layout).
    decoder.set_limits(png::Limits { bytes: usize::try_from(max_pixels.saturating_mul(8)).unwrap_or(usize::MAX) });
    let header = decoder.read_header_info().map_err(|e| png_error(name, e))?;
    check_dimensions(name, u64::from(header.width), u64::from(header.height), max_pixels)?;
    let mut reader = decoder.read_info().map_err(|e| png_error(name, e))?;
    let size = reader.output_buffer_size().ok_or_else(|| corrupt(name, format, "image too large for memory"))?;
    let mut buf = vec![0u8; size];
    let frame = reader.next_frame(&mut buf).map_err(|e| png_error(name, e))?;
    let info = reader.info();
    let orientation = info.exif_metadata.as_deref().and_then(Orientation::from_tiff).unwrap_or_default();
    let (width, height) = (frame.width as usize, frame.height as usize);
    let palette = info.palette.as_deref().map(Palette::from_rgb_bytes);
    let rows = buf.chunks_exact(frame.line_size).take(height);
    let (mode, pixels) = png_to_pil(frame.color_type, frame.bit_depth, palette, width, rows)
        .ok_or_else(|| corrupt(name, format, "palette image without a PLTE chunk"))?;
    DecodedImage::new(width, height, mode, pixels)
        .map(|im| im.with_orientation(orientation))
        .ok_or_else(|| corrupt(name, format, "decoder returned fewer pixels than declared"))
}

/// Maps raw PNG rows to PIL's mode and 8-bit samples (PIL's PNG rawmodes: `1`, `L;2`, `L;4`,
/// `I;16B` → clipped to `L` here, `RGB;16B` = high bytes, `P;N` = unpacked indices, ...).
fn png_to_pil<'a>(
    color: png::ColorType,
    depth: png::BitDepth,
    palette: Option<Palette>,
    width: usize,
    rows: impl Iterator<Item = &'a [u8]>,
) -> Option<(ColorMode, Vec<u8>)> {
    use png::{BitDepth, ColorType};
    let bits = depth as u8;
    let channels = match color {
        ColorType::Grayscale | ColorType::Indexed => 1,
        ColorType::GrayscaleAlpha => 2,
        ColorType::Rgb => 3,
        ColorType::Rgba => 4,
    };
    let mode = match color {
        ColorType::Grayscale if bits == 1 => ColorMode::Bilevel,
        ColorType::Grayscale if bits == 16 => ColorMode::Gray16,
        ColorType::Grayscale => ColorMode::Gray,
        ColorType::GrayscaleAlpha => ColorMode::GrayAlpha,
        ColorType::Rgb => ColorMode::Rgb,
        ColorType::Rgba => ColorMode::Rgba,
        ColorType::Indexed => ColorMode::Palette(palette?),
    };
    let mut out = Vec::with_capacity(width * channels * 8);
    for row in rows {
        match depth {
            BitDepth::Eight => out.extend_from_slice(&row[..width * channels]),
            // PIL opens 16-bit gray as I;16 (kept in 16 bits, see ColorMode::Gray16); 16-bit
            // colour is read as RGB(A) from the high bytes.
            BitDepth::Sixteen if color == ColorType::Grayscale => {
                out.extend(row.chunks_exact(2).take(width).flat_map(|s| [s[1], s[0]]));
            }
            BitDepth::Sixteen => out.extend(row.chunks_exact(2).take(width * channels).map(|s| s[0])),
            // Sub-byte depths only exist for gray and palette (one channel).
            BitDepth::One | BitDepth::Two | BitDepth::Four => {
                let per_byte = 8 / usize::from(bits);
                let mask = (1u8 << bits) - 1;
                let scale = if color == ColorType::Indexed { 1 } else { 255 / mask };
                out.extend((0..width).map(|x| {
                    let byte = row[x / per_byte];
                    let shift = 8 - bits as usize * (x % per_byte + 1);
                    ((byte >> shift) & mask) * scale
                }));
            }
        }
    }
    Some((mode, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content() {
        assert_eq!(ImageFormat::sniff(b"\xFF\xD8\xFF\xE0rest"), Some(ImageFormat::Jpeg));
        assert_eq!(ImageFormat::sniff(b"\x89PNG\r\n\x1a\nrest"), Some(ImageFormat::Png));
        assert_eq!(ImageFormat::sniff(b"GIF89a"), Some(ImageFormat::Gif));
        assert_eq!(ImageFormat::sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(ImageFormat::Webp));
        assert_eq!(ImageFormat::sniff(b"II*\0rest"), Some(ImageFormat::Tiff));
        assert_eq!(ImageFormat::sniff(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"), Some(ImageFormat::Heif));
        assert_eq!(ImageFormat::sniff(b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf"), Some(ImageFormat::Avif));
        assert_eq!(ImageFormat::sniff(b"\0\0\0\x18ftypisom\0\0\0\0isomiso2"), None);
        assert_eq!(ImageFormat::sniff(b""), None);
    }

    #[test]
    fn unknown_format_names_the_input() {
        let err = decode(b"hello world", "notes.txt", MAX_PIXELS).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("notes.txt") && msg.contains("68656c6c"), "{msg}");
    }

    #[test]
    fn sub_byte_gray_is_scaled_like_pil() {
        // 2-bit gray: 0,1,2,3 → 0,85,170,255 (PIL rawmode L;2).
        let row = [0b00_01_10_11u8];
        let (mode, px) =
            png_to_pil(png::ColorType::Grayscale, png::BitDepth::Two, None, 4, std::iter::once(&row[..])).unwrap();
        assert_eq!(mode, ColorMode::Gray);
        assert_eq!(px, vec![0, 85, 170, 255]);
        // 1-bit gray is mode "1", stored as 0/255.
        let row = [0b1010_0000u8];
        let (mode, px) =
            png_to_pil(png::ColorType::Grayscale, png::BitDepth::One, None, 3, std::iter::once(&row[..])).unwrap();
        assert_eq!(mode, ColorMode::Bilevel);
        assert_eq!(px, vec![255, 0, 255]);
    }

    #[test]
    fn sixteen_bit_gray_is_kept_as_i16() {
        let row = [0u8, 100, 0, 255, 1, 0, 255, 255];
        let (mode, px) =
            png_to_pil(png::ColorType::Grayscale, png::BitDepth::Sixteen, None, 4, std::iter::once(&row[..])).unwrap();
        assert_eq!(mode, ColorMode::Gray16);
        // Big-endian PNG samples become little-endian u16 pairs.
        assert_eq!(px, vec![100, 0, 255, 0, 0, 1, 255, 255]);
    }
}
