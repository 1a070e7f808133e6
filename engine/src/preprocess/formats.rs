//! WebP, TIFF, BMP and GIF, decoded into the mode and pixels PIL's `Image.open` gives (so
//! `convert("RGB")` and the crop pipeline's resize-in-mode see what pybioclip sees):
//!
//! - WebP (`image-webp`, libwebp's fancy upsampling for lossy files): `RGB`, or `RGBA` with
//!   alpha; the first frame of an animation.
//! - TIFF (`tiff`: uncompressed, LZW, Deflate, PackBits): `RGB`, `RGBA`, `L`, `I;16` (16-bit
//!   gray), `CMYK` as stored (TIFF CMYK is not inverted, unlike Adobe JPEG), 16-bit colour
//!   reduced to its high byte; the first page. Its orientation tag is kept for `--exif-orient`.
//! - BMP (parsed here): 24-bit `RGB`; 32-bit `RGB`, or `RGBA` when its bit fields name an alpha
//!   mask; 16-bit 5-5-5 / 5-6-5 as PIL scales it; 1/4/8-bit palettes as `P`, or `L` / `1` where
//!   PIL finds a plain grey ramp or black and white. Bottom-up and top-down rows.
//! - GIF (`gif`, indices kept): the first frame on the logical screen as `P` (or `L` for the
//!   identity grey palette, as PIL decides), the screen outside the frame filled with the
//!   transparency index, else 0, as PIL's first frame.
//!
//! Every decoder checks the declared size against the pixel cap before allocating pixels.

use std::io::Cursor;

use super::decode::{ImageFormat, check_dimensions};
use super::error::{PreprocessError, Result};
use super::exif::Orientation;
use super::image::{ColorMode, DecodedImage, Palette};

fn corrupt(name: &str, format: ImageFormat, reason: impl ToString) -> PreprocessError {
    PreprocessError::Corrupt { name: name.to_owned(), format: format.name(), reason: reason.to_string() }
}

fn truncated(name: &str, format: ImageFormat) -> PreprocessError {
    PreprocessError::Truncated { name: name.to_owned(), format: format.name() }
}

fn image(
    name: &str,
    format: ImageFormat,
    width: usize,
    height: usize,
    mode: ColorMode,
    pixels: Vec<u8>,
) -> Result<DecodedImage> {
    DecodedImage::new(width, height, mode, pixels)
        .ok_or_else(|| corrupt(name, format, "decoder returned fewer pixels than declared"))
}

/// WebP through `image-webp`.
pub(super) fn decode_webp(bytes: &[u8], name: &str, max_pixels: u64) -> Result<DecodedImage> {
    use image_webp::{DecodingError, WebPDecoder};
    let format = ImageFormat::Webp;
    let fail = |e: DecodingError| match e {
        DecodingError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => truncated(name, format),
        other => corrupt(name, format, other),
    };
    let mut decoder = WebPDecoder::new(Cursor::new(bytes)).map_err(fail)?;
    let (w, h) = decoder.dimensions();
    check_dimensions(name, u64::from(w), u64::from(h), max_pixels)?;
    let size = decoder.output_buffer_size().ok_or_else(|| corrupt(name, format, "image too large for memory"))?;
    let mut buf = vec![0u8; size];
    if decoder.is_animated() {
        decoder.read_frame(&mut buf).map_err(fail)?;
    } else {
        decoder.read_image(&mut buf).map_err(fail)?;
    }
    let (w, h) = (w as usize, h as usize);
    let mode = if buf.len() == w * h * 4 { ColorMode::Rgba } else { ColorMode::Rgb };
    image(name, format, w, h, mode, buf)
}

/// TIFF through `tiff`: the first page.
pub(super) fn decode_tiff(bytes: &[u8], name: &str, max_pixels: u64) -> Result<DecodedImage> {
    use tiff::decoder::{Decoder, DecodingResult, Limits};
    use tiff::{ColorType, TiffError};
    let format = ImageFormat::Tiff;
    let fail = |e: TiffError| match e {
        TiffError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => truncated(name, format),
        other => corrupt(name, format, other),
    };
    let mut limits = Limits::default();
    limits.decoding_buffer_size = usize::try_from(max_pixels.saturating_mul(8)).unwrap_or(usize::MAX);
    let mut decoder = Decoder::new(Cursor::new(bytes)).map_err(fail)?.with_limits(limits);
    let (w, h) = decoder.dimensions().map_err(fail)?;
    check_dimensions(name, u64::from(w), u64::from(h), max_pixels)?;
    let color = decoder.colortype().map_err(fail)?;
    let orientation = decoder
        .find_tag_unsigned::<u16>(tiff::tags::Tag::Orientation)
        .ok()
        .flatten()
        .map(Orientation::from_tag)
        .unwrap_or_default();
    let data = decoder.read_image().map_err(fail)?;
    let (mode, pixels) = match (color, data) {
        (ColorType::Gray(8), DecodingResult::U8(p)) => (ColorMode::Gray, p),
        (ColorType::Gray(16), DecodingResult::U16(p)) => {
            (ColorMode::Gray16, p.iter().flat_map(|v| v.to_le_bytes()).collect())
        }
        (ColorType::GrayA(8), DecodingResult::U8(p)) => (ColorMode::GrayAlpha, p),
        (ColorType::RGB(8), DecodingResult::U8(p)) => (ColorMode::Rgb, p),
        (ColorType::RGBA(8), DecodingResult::U8(p)) => (ColorMode::Rgba, p),
        (ColorType::CMYK(8), DecodingResult::U8(p)) => (ColorMode::Cmyk, p),
        // PIL reads 16-bit colour TIFFs as 8-bit modes from the samples' high bytes.
        (ColorType::RGB(16), DecodingResult::U16(p)) => (ColorMode::Rgb, p.iter().map(|v| (v >> 8) as u8).collect()),
        (ColorType::RGBA(16), DecodingResult::U16(p)) => (ColorMode::Rgba, p.iter().map(|v| (v >> 8) as u8).collect()),
        (other, _) => return Err(corrupt(name, format, format!("{other:?} samples are not supported"))),
    };
    Ok(image(name, format, w as usize, h as usize, mode, pixels)?.with_orientation(orientation))
}

/// GIF's first frame through `gif`, with its palette indices.
pub(super) fn decode_gif(bytes: &[u8], name: &str, max_pixels: u64) -> Result<DecodedImage> {
    use gif::{ColorOutput, DecodeOptions, DecodingError, MemoryLimit};
    let format = ImageFormat::Gif;
    let fail = |e: DecodingError| match e {
        DecodingError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => truncated(name, format),
        other => corrupt(name, format, other),
    };
    let mut options = DecodeOptions::new();
    options.set_color_output(ColorOutput::Indexed);
    let limit = std::num::NonZeroU64::new(max_pixels.max(1)).ok_or_else(|| corrupt(name, format, "zero limit"))?;
    options.set_memory_limit(MemoryLimit::Bytes(limit));
    let mut decoder = options.read_info(Cursor::new(bytes)).map_err(fail)?;
    let (w, h) = (usize::from(decoder.width()), usize::from(decoder.height()));
    check_dimensions(name, w as u64, h as u64, max_pixels)?;
    let global = decoder.global_palette().map(<[u8]>::to_vec);
    let frame = decoder.read_next_frame().map_err(fail)?.ok_or_else(|| corrupt(name, format, "no image data"))?;
    let palette = frame.palette.clone().or(global).ok_or_else(|| corrupt(name, format, "no colour table"))?;
    // PIL's first frame: the screen filled with the frame's transparent index (else 0), the
    // frame's pixels drawn at its position, clipped to the screen.
    let mut pixels = vec![frame.transparent.unwrap_or(0); w * h];
    let (left, top, fw, fh) =
        (usize::from(frame.left), usize::from(frame.top), usize::from(frame.width), usize::from(frame.height));
    for (y, row) in frame.buffer.chunks_exact(fw.max(1)).take(fh).enumerate() {
        let (yy, x0) = (top + y, left);
        if yy >= h || x0 >= w {
            continue;
        }
        let n = fw.min(w - x0);
        pixels[yy * w + x0..yy * w + x0 + n].copy_from_slice(&row[..n]);
    }
    let mode =
        if is_grey_ramp(&palette) { ColorMode::Gray } else { ColorMode::Palette(Palette::from_rgb_bytes(&palette)) };
    image(name, format, w, h, mode, pixels)
}

/// PIL drops a palette that maps every index `i` to grey `(i, i, i)` and opens the image as `L`.
fn is_grey_ramp(rgb: &[u8]) -> bool {
    rgb.chunks_exact(3).enumerate().all(|(i, c)| i < 256 && c.iter().all(|&v| usize::from(v) == i))
}

/// BMP, parsed here (PIL's BmpImagePlugin rules).
pub(super) fn decode_bmp(bytes: &[u8], name: &str, max_pixels: u64) -> Result<DecodedImage> {
    let format = ImageFormat::Bmp;
    let need = |n: usize| if bytes.len() < n { Err(truncated(name, format)) } else { Ok(()) };
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
    let u32_at = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    need(18)?;
    let data_offset = u32_at(10) as usize;
    let header = u32_at(14) as usize;
    need(14 + header.max(12))?;
    let (width, height, bpp, compression, colors_used, palette_entry) = if header == 12 {
        (i64::from(u16_at(18)), i64::from(u16_at(20)), u16_at(24), 0, 0, 3)
    } else if header >= 40 {
        let signed = |at: usize| i64::from(u32_at(at) as i32);
        (signed(18), signed(22), u16_at(28), u32_at(30), u32_at(46) as usize, 4)
    } else {
        return Err(corrupt(name, format, format!("unknown header size {header}")));
    };
    let top_down = height < 0;
    let (w, h) = (width.unsigned_abs(), height.unsigned_abs());
    check_dimensions(name, w, h, max_pixels)?;
    let (w, h) = (w as usize, h as usize);
    // Bit fields follow a 40-byte header; later headers hold them inside.
    let masks = match compression {
        0 => None,
        3 | 6 => {
            let at = 14 + 40;
            need(at + 12)?;
            let alpha =
                if compression == 6 || header >= 56 { (need(at + 16).is_ok()).then(|| u32_at(at + 12)) } else { None };
            Some([u32_at(at), u32_at(at + 4), u32_at(at + 8), alpha.unwrap_or(0)])
        }
        1 | 2 => return Err(corrupt(name, format, "RLE-compressed BMP is not supported")),
        other => return Err(corrupt(name, format, format!("compression {other} is not supported"))),
    };
    let palette_at = 14 + header + if compression == 3 && header == 40 { 12 } else { 0 };
    let stride = (w * usize::from(bpp)).div_ceil(32) * 4;
    need(data_offset + stride * h)?;
    let row = |y: usize| {
        let stored = if top_down { y } else { h - 1 - y };
        &bytes[data_offset + stored * stride..data_offset + (stored + 1) * stride]
    };
    let (mode, pixels) = match bpp {
        1 | 4 | 8 => {
            let colors = if colors_used == 0 { 1usize << bpp } else { colors_used.min(256) };
            need(palette_at + colors * palette_entry)?;
            let rgb: Vec<u8> = (0..colors)
                .flat_map(|i| {
                    let e = palette_at + i * palette_entry;
                    [bytes[e + 2], bytes[e + 1], bytes[e]]
                })
                .collect();
            let mask = ((1u16 << bpp) - 1) as u8;
            let per_byte = 8 / usize::from(bpp);
            let mut indices = Vec::with_capacity(w * h);
            for y in 0..h {
                let r = row(y);
                indices.extend((0..w).map(|x| {
                    let shift = 8 - usize::from(bpp) * (x % per_byte + 1);
                    (r[x / per_byte] >> shift) & mask
                }));
            }
            bmp_palette_mode(rgb, indices)
        }
        16 => {
            let [rm, gm, _, _] = masks.unwrap_or([0x7C00, 0x03E0, 0x001F, 0]);
            let six = rm == 0xF800 && gm == 0x07E0;
            let mut out = Vec::with_capacity(w * h * 3);
            for y in 0..h {
                for px in row(y).chunks_exact(2).take(w) {
                    let v = u32::from(u16::from_le_bytes([px[0], px[1]]));
                    // PIL's BGR;15 / BGR;16 unpackers: each field scaled by 255 / max, truncated.
                    let (r, g, b) = if six {
                        ((v >> 11 & 31) * 255 / 31, (v >> 5 & 63) * 255 / 63, (v & 31) * 255 / 31)
                    } else {
                        ((v >> 10 & 31) * 255 / 31, (v >> 5 & 31) * 255 / 31, (v & 31) * 255 / 31)
                    };
                    out.extend([r as u8, g as u8, b as u8]);
                }
            }
            (ColorMode::Rgb, out)
        }
        24 | 32 => {
            let bytes_pp = usize::from(bpp / 8);
            let alpha = bpp == 32 && masks.is_some_and(|m| m[3] == 0xFF00_0000);
            let channels = if alpha { 4 } else { 3 };
            let mut out = Vec::with_capacity(w * h * channels);
            for y in 0..h {
                for px in row(y).chunks_exact(bytes_pp).take(w) {
                    out.extend([px[2], px[1], px[0]]);
                    if alpha {
                        out.push(px[3]);
                    }
                }
            }
            (if alpha { ColorMode::Rgba } else { ColorMode::Rgb }, out)
        }
        other => return Err(corrupt(name, format, format!("{other} bits per pixel is not supported"))),
    };
    image(name, format, w, h, mode, pixels)
}

/// PIL opens a palette BMP as `1` when its two colours are black then white, as `L` when the
/// palette is the grey ramp, else as `P`.
fn bmp_palette_mode(rgb: Vec<u8>, indices: Vec<u8>) -> (ColorMode, Vec<u8>) {
    let colors = rgb.len() / 3;
    let grey_at = |i: usize, v: u8| rgb[i * 3..i * 3 + 3].iter().all(|&c| c == v);
    if colors == 2 && grey_at(0, 0) && grey_at(1, 255) {
        return (ColorMode::Bilevel, indices.into_iter().map(|i| if i == 0 { 0 } else { 255 }).collect());
    }
    if (0..colors).all(|i| grey_at(i, i as u8)) {
        return (ColorMode::Gray, indices);
    }
    (ColorMode::Palette(Palette::from_rgb_bytes(&rgb)), indices)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A top-down 2×2 8-bit BMP with a 3-colour palette.
    fn tiny_bmp(bpp: u16, palette: &[[u8; 3]], rows: &[&[u8]], height: i32) -> Vec<u8> {
        let stride = (2 * usize::from(bpp)).div_ceil(32) * 4;
        let data_offset = 14 + 40 + palette.len() * 4;
        let mut b = b"BM".to_vec();
        b.extend(((data_offset + stride * rows.len()) as u32).to_le_bytes());
        b.extend([0u8; 4]);
        b.extend((data_offset as u32).to_le_bytes());
        b.extend(40u32.to_le_bytes());
        b.extend(2i32.to_le_bytes());
        b.extend(height.to_le_bytes());
        b.extend(1u16.to_le_bytes());
        b.extend(bpp.to_le_bytes());
        b.extend([0u8; 16]);
        b.extend((palette.len() as u32).to_le_bytes());
        b.extend([0u8; 4]);
        for c in palette {
            b.extend([c[2], c[1], c[0], 0]);
        }
        for r in rows {
            let mut row = r.to_vec();
            row.resize(stride, 0);
            b.extend(row);
        }
        b
    }

    #[test]
    fn bmp_palettes_rows_and_modes_follow_pil() {
        let colours = [[10, 20, 30], [200, 100, 50], [0, 0, 255]];
        // Bottom-up (positive height): the first stored row is the bottom one.
        let im = decode_bmp(&tiny_bmp(8, &colours, &[&[0, 1], &[2, 2]], 2), "t.bmp", 100).unwrap();
        assert!(matches!(im.mode(), ColorMode::Palette(_)));
        assert_eq!(im.pixels(), [2, 2, 0, 1]);
        assert_eq!(im.to_rgb(), [0, 0, 255, 0, 0, 255, 10, 20, 30, 200, 100, 50]);
        let top_down = decode_bmp(&tiny_bmp(8, &colours, &[&[0, 1], &[2, 2]], -2), "t.bmp", 100).unwrap();
        assert_eq!(top_down.pixels(), [0, 1, 2, 2]);
        let bw = decode_bmp(&tiny_bmp(1, &[[0, 0, 0], [255, 255, 255]], &[&[0b0100_0000]], 1), "t.bmp", 100).unwrap();
        assert_eq!((bw.mode(), bw.pixels()), (&ColorMode::Bilevel, &[0, 255][..]));
        let grey = decode_bmp(&tiny_bmp(8, &[[0, 0, 0], [1, 1, 1]], &[&[1, 0]], 1), "t.bmp", 100).unwrap();
        assert_eq!(grey.mode(), &ColorMode::Gray);
    }

    #[test]
    fn bmp_bombs_and_truncations_are_refused() {
        let mut bomb = tiny_bmp(24, &[], &[&[0; 6]], 1);
        bomb[18..22].copy_from_slice(&100_000i32.to_le_bytes());
        bomb[22..26].copy_from_slice(&100_000i32.to_le_bytes());
        assert!(matches!(decode_bmp(&bomb, "b.bmp", 1 << 20), Err(PreprocessError::TooLarge { .. })));
        let whole = tiny_bmp(24, &[], &[&[0; 6], &[0; 6]], 2);
        for cut in [3, 20, whole.len() - 1] {
            assert!(decode_bmp(&whole[..cut], "c.bmp", 100).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn gif_grey_ramps_are_detected_as_pil_does() {
        let ramp: Vec<u8> = (0..=255u8).flat_map(|i| [i, i, i]).collect();
        assert!(is_grey_ramp(&ramp));
        assert!(is_grey_ramp(&ramp[..6]));
        let mut other = ramp.clone();
        other[5] = 9;
        assert!(!is_grey_ramp(&other));
    }
}
