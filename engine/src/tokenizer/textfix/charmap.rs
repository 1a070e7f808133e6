//! The single-byte code pages that ftfy re-encodes mojibake through, and the
//! UTF-8 decoders it tries afterwards.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::tables::CHARMAPS;

/// One of ftfy's `CHARMAP_ENCODINGS`, as an invertible byte ↔ char table.
pub(super) struct Charmap {
    /// Python's codec name, e.g. `sloppy-windows-1252`.
    pub(super) name: &'static str,
    /// ftfy's "sloppy" codecs pass unassigned bytes through as Latin-1 and
    /// stand byte 0x1A for U+FFFD.
    pub(super) sloppy: bool,
    encoder: HashMap<char, u8>,
}

impl Charmap {
    /// Encodes `text`, or `None` when a character has no byte in this code page
    /// (ftfy's `possible_encoding` is false).
    pub(super) fn encode(&self, text: &str) -> Option<Vec<u8>> {
        text.chars().map(|c| self.encoder.get(&c).copied()).collect()
    }
}

/// All code pages, in ftfy's order of preference.
pub(super) fn charmaps() -> &'static [Charmap] {
    static MAPS: OnceLock<Vec<Charmap>> = OnceLock::new();
    MAPS.get_or_init(|| {
        CHARMAPS
            .iter()
            .map(|&(name, sloppy, high)| {
                let low = (0u8..0x80).map(|b| {
                    let c = if sloppy && b == 0x1A { '\u{FFFD}' } else { char::from(b) };
                    (c, b)
                });
                let high = high.iter().zip(0x80u8..=0xFF).map(|(&c, b)| (c, b));
                Charmap { name, sloppy, encoder: low.chain(high).collect() }
            })
            .collect()
    })
}

/// What byte `b` (0x80..=0x9F matter) means in ftfy's sloppy Windows-1252,
/// which is also how HTML5 reads C1 numeric references.
pub(super) fn windows_1252_sloppy(b: u8) -> char {
    match b {
        0x80..=0xFF => CHARMAPS[1].2[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

/// Python's strict `windows-1252` decoder for one byte; five bytes are unassigned.
pub(super) fn windows_1252_strict(b: u8) -> Option<char> {
    match b {
        0x81 | 0x8D | 0x8F | 0x90 | 0x9D => None,
        _ => Some(windows_1252_sloppy(b)),
    }
}

/// ftfy's `utf-8-variants` codec: UTF-8 that also accepts Java's two-byte NUL
/// (`C0 80`) and CESU-8 surrogate pairs (`ED A0..AF xx ED B0..BF xx`). Any other
/// invalid UTF-8, lone encoded surrogates included, fails as it does in Python.
pub(super) fn decode_utf8_variants(bytes: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(bytes.len());
    let mut plain_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let special = match bytes[i..] {
            [0xC0, 0x80, ..] => Some(('\0', 2)),
            [0xED, b1 @ 0xA0..=0xAF, b2 @ 0x80..=0xBF, 0xED, b4 @ 0xB0..=0xBF, b5 @ 0x80..=0xBF, ..] => {
                let code = (u32::from(b1 & 0x0F) << 16)
                    + (u32::from(b2 & 0x3F) << 10)
                    + (u32::from(b4 & 0x0F) << 6)
                    + u32::from(b5 & 0x3F)
                    + 0x10000;
                Some((char::from_u32(code)?, 6))
            }
            _ => None,
        };
        match special {
            Some((c, len)) => {
                out.push_str(std::str::from_utf8(&bytes[plain_start..i]).ok()?);
                out.push(c);
                i += len;
                plain_start = i;
            }
            None => i += 1,
        }
    }
    out.push_str(std::str::from_utf8(&bytes[plain_start..]).ok()?);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_round_trip() {
        let maps = charmaps();
        assert_eq!(maps.len(), 10);
        assert_eq!(maps[0].name, "latin-1");
        let latin1: String = (0u8..=0xFF).map(char::from).collect();
        assert_eq!(maps[0].encode(&latin1), Some((0u8..=0xFF).collect()));
        assert_eq!(maps[1].encode("€\u{81}\u{FFFD}"), Some(vec![0x80, 0x81, 0x1A]));
        assert_eq!(maps[1].encode("\u{1A}"), None);
        assert_eq!(maps[0].encode("€"), None);
    }

    #[test]
    fn utf8_variants() {
        assert_eq!(decode_utf8_variants(b"a\xC0\x80b").as_deref(), Some("a\0b"));
        let cesu = b"\xED\xA0\xBD\xED\xB0\xA6";
        assert_eq!(decode_utf8_variants(cesu).as_deref(), Some("\u{1F426}"));
        assert_eq!(decode_utf8_variants(b"\xED\xA0\xBD"), None);
        assert_eq!(decode_utf8_variants(b"\xC0\x81"), None);
        assert_eq!(decode_utf8_variants("é🐦".as_bytes()).as_deref(), Some("é🐦"));
    }
}
