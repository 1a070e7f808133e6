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
