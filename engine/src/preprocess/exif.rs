//! The EXIF orientation tag: reading it from a TIFF-structured EXIF block and applying it.
//!
//! Neither reference pipeline applies it (PIL's `open` leaves pixels as stored), so this is only
//! used when [`Preprocessor::exif_orient`](super::Preprocessor) is switched on.

/// EXIF tag 0x0112: how the stored pixels must be transformed to display upright.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Orientation {
    /// 1, or tag absent/invalid: pixels are upright.
    #[default]
    Normal,
    /// 2: mirror left-right.
    FlipHorizontal,
    /// 3: rotate 180°.
    Rotate180,
    /// 4: mirror top-bottom.
    FlipVertical,
    /// 5: transpose (mirror along the main diagonal).
    Transpose,
    /// 6: rotate 90° clockwise.
    Rotate90,
    /// 7: transverse (mirror along the anti-diagonal).
    Transverse,
    /// 8: rotate 90° counter-clockwise.
    Rotate270,
}

impl Orientation {
    /// Maps the tag's value; anything outside 2..=8 is treated as upright, as PIL does.
    pub fn from_tag(value: u16) -> Self {
        match value {
            2 => Self::FlipHorizontal,
            3 => Self::Rotate180,
            4 => Self::FlipVertical,
            5 => Self::Transpose,
            6 => Self::Rotate90,
            7 => Self::Transverse,
            8 => Self::Rotate270,
            _ => Self::Normal,
        }
    }

    /// Reads the orientation from an EXIF block that starts with the TIFF header (`II*\0` or
    /// `MM\0*`), i.e. the APP1 payload after `Exif\0\0`, or a PNG `eXIf` chunk. Malformed data
    /// yields `None`: a broken EXIF block must not make an otherwise good photo unreadable.
    pub fn from_tiff(tiff: &[u8]) -> Option<Self> {
        let big_endian = match tiff.get(..4)? {
            [b'I', b'I', 42, 0] => false,
            [b'M', b'M', 0, 42] => true,
            _ => return None,
        };
        let u16_at = |at: usize| -> Option<u16> {
            let b: [u8; 2] = tiff.get(at..at.checked_add(2)?)?.try_into().ok()?;
            Some(if big_endian { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) })
        };
        let u32_at = |at: usize| -> Option<u32> {
            let b: [u8; 4] = tiff.get(at..at.checked_add(4)?)?.try_into().ok()?;
            Some(if big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
        };
        let ifd0 = usize::try_from(u32_at(4)?).ok()?;
        let entries = u16_at(ifd0)?;
        for i in 0..usize::from(entries) {
            let entry = ifd0.checked_add(2 + 12 * i)?;
            // Type 3 = SHORT; the value sits in the first two bytes of the value field.
            if u16_at(entry)? == 0x0112 && u16_at(entry + 2)? == 3 {
                return Some(Self::from_tag(u16_at(entry + 8)?));
            }
        }
        None
    }

    /// Reads the orientation from a JPEG APP1 payload (`Exif\0\0` + TIFF).
    pub fn from_jpeg_app1(payload: &[u8]) -> Option<Self> {
        Self::from_tiff(payload.strip_prefix(b"Exif\0\0")?)
    }

    /// Whether the transform swaps width and height.
    pub fn swaps_axes(self) -> bool {
        matches!(self, Self::Transpose | Self::Rotate90 | Self::Transverse | Self::Rotate270)
    }

    /// Applies the transform to an interleaved `width`x`height` image with `channels` samples
    /// per pixel; returns the new width, height and samples.
    pub fn transform(self, width: usize, height: usize, channels: usize, pixels: &[u8]) -> (usize, usize, Vec<u8>) {
        let (out_w, out_h) = if self.swaps_axes() { (height, width) } else { (width, height) };
        let mut out = Vec::with_capacity(pixels.len());
        for oy in 0..out_h {
            for ox in 0..out_w {
                // The source pixel that lands at (ox, oy) in the upright image.
                let (sx, sy) = match self {
                    Self::Normal => (ox, oy),
                    Self::FlipHorizontal => (width - 1 - ox, oy),
                    Self::Rotate180 => (width - 1 - ox, height - 1 - oy),
                    Self::FlipVertical => (ox, height - 1 - oy),
                    Self::Transpose => (oy, ox),
                    Self::Rotate90 => (oy, height - 1 - ox),
                    Self::Transverse => (width - 1 - oy, height - 1 - ox),
                    Self::Rotate270 => (width - 1 - oy, ox),
                };
                let at = (sy * width + sx) * channels;
                out.extend_from_slice(&pixels[at..at + channels]);
            }
        }
        (out_w, out_h, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal TIFF block: IFD0 with an unrelated tag, then the orientation.
    fn tiff_with_orientation(big_endian: bool, value: u16) -> Vec<u8> {
        let p16 = |v: u16| {
            if big_endian { v.to_be_bytes() } else { v.to_le_bytes() }
        };
        let p32 = |v: u32| {
            if big_endian { v.to_be_bytes() } else { v.to_le_bytes() }
        };
        let mut t = if big_endian { b"MM\0*".to_vec() } else { b"II*\0".to_vec() };
        t.extend(p32(8));
        t.extend(p16(2));
        for (tag, kind, value) in [(0x010f, 2, 0u16), (0x0112, 3, value)] {
            t.extend(p16(tag));
            t.extend(p16(kind));
            t.extend(p32(1));
            t.extend(p16(value));
            t.extend([0, 0]);
        }
        t
    }

    #[test]
    fn parses_both_byte_orders() {
        for be in [false, true] {
            for v in 1..=8 {
                let o = Orientation::from_tiff(&tiff_with_orientation(be, v)).unwrap();
                assert_eq!(o, Orientation::from_tag(v));
            }
        }
        assert_eq!(Orientation::from_tag(6), Orientation::Rotate90);
    }

    #[test]
    fn malformed_exif_is_ignored() {
        let good = tiff_with_orientation(false, 6);
        for cut in 0..good.len() - 2 {
            assert_eq!(Orientation::from_tiff(&good[..cut]), None, "cut at {cut}");
        }
        assert_eq!(Orientation::from_jpeg_app1(b"http://ns.adobe.com/xap/1.0/\0"), None);
    }

    #[test]
    fn rotate90_turns_a_row_into_a_column() {
        // 3x2 image, one channel:  a b c / d e f  → rotated clockwise: d a / e b / f c
        let px = [1, 2, 3, 4, 5, 6];
        let (w, h, out) = Orientation::Rotate90.transform(3, 2, 1, &px);
        assert_eq!((w, h), (2, 3));
        assert_eq!(out, vec![4, 1, 5, 2, 6, 3]);
        let (w, h, out) = Orientation::Rotate270.transform(3, 2, 1, &px);
        assert_eq!((w, h), (2, 3));
        assert_eq!(out, vec![3, 6, 2, 5, 1, 4]);
    }

    #[test]
    fn every_transform_is_a_permutation() {
        let px: Vec<u8> = (0..24).collect();
        for v in 1..=8 {
            let (w, h, mut out) = Orientation::from_tag(v).transform(4, 3, 2, &px);
            assert_eq!(w * h, 12);
            // Pixels move as pairs of samples, so sorting the pairs recovers the input.
            let mut pairs: Vec<[u8; 2]> = out.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
            pairs.sort_unstable();
            out = pairs.concat();
            assert_eq!(out, px, "orientation {v}");
        }
    }
}

/// What a photo's EXIF says of when, where and with what it was taken (camera traps and
/// phones record it; surveys need it beside every answer).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PhotoTags {
    /// `DateTimeOriginal` as written (`YYYY:MM:DD HH:MM:SS`).
    pub datetime_original: Option<String>,
    /// Decimal degrees, north positive.
    pub gps_latitude: Option<f64>,
    /// Decimal degrees, east positive.
    pub gps_longitude: Option<f64>,
    /// The camera `Model`.
    pub camera_model: Option<String>,
}

impl PhotoTags {
    /// Reads the tags from the start of a JPEG (its APP1 `Exif` segment), a PNG (`eXIf`) or a
    /// TIFF file (its own IFDs), without decoding pixels. Anything missing or malformed is
    /// `None`: EXIF is a convenience, never a reason to fail.
    pub fn read(bytes: &[u8]) -> PhotoTags {
        tiff_block(bytes).map(parse_tags).unwrap_or_default()
    }
}

/// The TIFF-structured EXIF block of a photo file.
fn tiff_block(bytes: &[u8]) -> Option<&[u8]> {
    if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        return Some(bytes);
    }
    if bytes.starts_with(&[0xFF, 0xD8]) {
        let mut at = 2;
        while at + 4 <= bytes.len() && bytes[at] == 0xFF {
            let marker = bytes[at + 1];
            let len = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
            let segment = bytes.get(at + 4..at + 2 + len)?;
            if marker == 0xE1 && segment.starts_with(b"Exif\0\0") {
                return Some(&segment[6..]);
            }
            if marker == 0xDA {
                return None;
            }
            at += 2 + len;
        }
        return None;
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        let mut at = 8;
        while at + 8 <= bytes.len() {
            let len = u32::from_be_bytes(bytes[at..at + 4].try_into().ok()?) as usize;
            let kind = &bytes[at + 4..at + 8];
            let data = bytes.get(at + 8..at.checked_add(8 + len)?)?;
            if kind == b"eXIf" {
                return Some(data);
            }
            if kind == b"IDAT" {
                return None;
            }
            at = at.checked_add(12 + len)?;
        }
    }
    None
}

/// A TIFF block's reader: byte order and bounds-checked fields.
struct Tiff<'a> {
    data: &'a [u8],
    big_endian: bool,
}

impl Tiff<'_> {
    fn u16_at(&self, at: usize) -> Option<u16> {
        let b: [u8; 2] = self.data.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.big_endian { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) })
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.data.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
    }

    /// The entries of the IFD at `offset`: (tag, type, count, value-field offset).
    fn entries(&self, offset: usize) -> Vec<(u16, u16, u32, usize)> {
        let n = self.u16_at(offset).unwrap_or(0);
        (0..usize::from(n))
            .filter_map(|i| {
                let e = offset.checked_add(2 + 12 * i)?;
                Some((self.u16_at(e)?, self.u16_at(e + 2)?, self.u32_at(e + 4)?, e + 8))
            })
            .collect()
    }

    /// Where a value of `bytes` bytes lives: in the field itself when it fits, else at the
    /// offset the field holds.
    fn value_at(&self, field: usize, bytes: usize) -> Option<usize> {
        if bytes <= 4 { Some(field) } else { usize::try_from(self.u32_at(field)?).ok() }
    }

    fn ascii(&self, field: usize, count: u32) -> Option<String> {
        let at = self.value_at(field, count as usize)?;
        let raw = self.data.get(at..at.checked_add(count as usize)?)?;
        let text = String::from_utf8_lossy(raw).trim_end_matches('\0').trim().to_owned();
        (!text.is_empty()).then_some(text)
    }

    /// Three RATIONALs (degrees, minutes, seconds) as decimal degrees.
    fn degrees(&self, field: usize) -> Option<f64> {
        let at = self.value_at(field, 24)?;
        let rational = |i: usize| -> Option<f64> {
            let (n, d) = (self.u32_at(at + 8 * i)?, self.u32_at(at + 8 * i + 4)?);
            (d != 0).then(|| f64::from(n) / f64::from(d))
        };
        Some(rational(0)? + rational(1)? / 60.0 + rational(2)? / 3600.0)
    }
}

fn parse_tags(data: &[u8]) -> PhotoTags {
    let big_endian = match data.get(..4) {
        Some([b'I', b'I', 42, 0]) => false,
        Some([b'M', b'M', 0, 42]) => true,
        _ => return PhotoTags::default(),
    };
    let t = Tiff { data, big_endian };
    let Some(ifd0) = t.u32_at(4).and_then(|o| usize::try_from(o).ok()) else { return PhotoTags::default() };
    let mut tags = PhotoTags::default();
    const ASCII: u16 = 2;
    for (tag, kind, count, field) in t.entries(ifd0) {
        match tag {
            0x0110 if kind == ASCII => tags.camera_model = t.ascii(field, count),
            0x8769 => {
                for (tag, kind, count, field) in t.entries(t.u32_at(field).unwrap_or(0) as usize) {
                    if tag == 0x9003 && kind == ASCII {
                        tags.datetime_original = t.ascii(field, count);
                    }
                }
            }
            0x8825 => {
                let gps = t.entries(t.u32_at(field).unwrap_or(0) as usize);
                let reference = |want: u16| {
                    gps.iter().find(|e| e.0 == want).and_then(|&(_, _, count, field)| t.ascii(field, count))
                };
                let value =
                    |want: u16| gps.iter().find(|e| e.0 == want && e.2 == 3).and_then(|&(_, _, _, f)| t.degrees(f));
                let sign = |r: Option<String>, negative: &str| if r.as_deref() == Some(negative) { -1.0 } else { 1.0 };
                tags.gps_latitude = value(2).map(|v| v * sign(reference(1), "S"));
                tags.gps_longitude = value(4).map(|v| v * sign(reference(3), "W"));
            }
            _ => {}
        }
    }
    tags
}

#[cfg(test)]
mod tag_tests {
    use super::*;

    /// A little-endian TIFF block with Model, an Exif IFD (DateTimeOriginal) and a GPS IFD.
    pub(crate) fn exif_block() -> Vec<u8> {
        let mut t = b"II*\0".to_vec();
        t.extend(8u32.to_le_bytes());
        let entry = |t: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: u32| {
            t.extend(tag.to_le_bytes());
            t.extend(kind.to_le_bytes());
            t.extend(count.to_le_bytes());
            t.extend(value.to_le_bytes());
        };
        // IFD0 at 8: 3 entries (2 + 36 + 4 bytes) → data from 50.
        let (model_at, exif_at, gps_at) = (50u32, 70u32, 120u32);
        t.extend(3u16.to_le_bytes());
        entry(&mut t, 0x0110, 2, 10, model_at);
        entry(&mut t, 0x8769, 4, 1, exif_at);
        entry(&mut t, 0x8825, 4, 1, gps_at);
        t.extend(0u32.to_le_bytes());
        t.resize(model_at as usize, 0);
        t.extend(b"TrailCam7\0");
        t.resize(exif_at as usize, 0);
        let date_at = exif_at + 2 + 12 + 4;
        t.extend(1u16.to_le_bytes());
        entry(&mut t, 0x9003, 2, 20, date_at);
        t.extend(0u32.to_le_bytes());
        t.extend(b"2024:06:01 05:42:10\0");
        t.resize(gps_at as usize, 0);
        let rationals_at = gps_at + 2 + 4 * 12 + 4;
        t.extend(4u16.to_le_bytes());
        entry(&mut t, 1, 2, 2, u32::from_le_bytes(*b"S\0\0\0"));
        entry(&mut t, 2, 5, 3, rationals_at);
        entry(&mut t, 3, 2, 2, u32::from_le_bytes(*b"E\0\0\0"));
        entry(&mut t, 4, 5, 3, rationals_at + 24);
        t.extend(0u32.to_le_bytes());
        for (n, d) in [(33, 1), (51, 1), (3600, 100), (151, 1), (12, 1), (0, 1)] {
            t.extend((n as u32).to_le_bytes());
            t.extend((d as u32).to_le_bytes());
        }
        t
    }

    #[test]
    fn time_place_and_camera_are_read_from_exif() {
        let tags = PhotoTags::read(&exif_block());
        assert_eq!(tags.camera_model.as_deref(), Some("TrailCam7"));
        assert_eq!(tags.datetime_original.as_deref(), Some("2024:06:01 05:42:10"));
        assert!((tags.gps_latitude.unwrap() + 33.86).abs() < 1e-9, "{tags:?}");
        assert!((tags.gps_longitude.unwrap() - 151.2).abs() < 1e-9, "{tags:?}");
        assert_eq!(PhotoTags::read(b"not a photo"), PhotoTags::default());
        let truncated = exif_block();
        let tags = PhotoTags::read(&truncated[..60]);
        assert_eq!(tags.datetime_original, None);
    }
}
