//! HTML character references, two ways:
//!
//! - [`unescape`] is Python's `html.unescape`, which open_clip applies twice after
//!   ftfy. It follows the HTML5 rules, so it also decodes legacy names without a
//!   semicolon (`&amp`, `&copyright` → `©right`) and maps invalid numeric
//!   references the way browsers do.
//! - [`unescape_entities`] is ftfy's more cautious `unescape_html` fixer: only
//!   references that end in `;`, plus all-caps spellings of lowercase names
//!   (`&EACUTE;` → `É`).

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::{Captures, Regex};

use super::tables::HTML5_ENTITIES;

/// Python's `html.unescape`.
pub(crate) fn unescape(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    // Python's `html._charref`, alternative for alternative. `{1,32}` counts
    // characters in both engines.
    static CHARREF: OnceLock<Regex> = OnceLock::new();
    let charref = CHARREF.get_or_init(|| compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\x0C <&#;]{1,32};?)"));
    charref.replace_all(text, |caps: &Captures<'_>| replace_charref(&caps[1]))
}

/// ftfy's `unescape_html` fixer.
pub(super) fn unescape_entities(text: &str) -> Cow<'_, str> {
    static ENTITY: OnceLock<Regex> = OnceLock::new();
    let entity = ENTITY.get_or_init(|| compile(r"&#?[0-9A-Za-z]{1,24};"));
    entity.replace_all(text, |caps: &Captures<'_>| {
        let reference = &caps[0];
        let body = &reference[1..];
        if let Some(value) = html5(body) {
            return value.to_owned();
        }
        if let Some(value) = uppercase_entity(reference) {
            return value;
        }
        if body.starts_with('#') {
            // A numeric reference that Python decodes only partially (the `;`
            // survives) is left alone.
            let decoded = unescape(reference);
            if !decoded.contains(';') {
                return decoded.into_owned();
            }
        }
        reference.to_owned()
    })
}

/// ftfy also accepts `&NAME;` for every lowercase HTML5 name `name;`, as long
/// as Python's `html.unescape` would leave `&NAME;` alone, and then gives the
/// uppercased text (`&SZLIG;` → `SS`).
fn uppercase_entity(reference: &str) -> Option<String> {
    let body = &reference[1..];
    let lower = body.to_ascii_lowercase();
    if body != lower.to_ascii_uppercase() || lower == body {
        return None;
    }
    let value = html5(&lower)?;
    if unescape(reference) != reference {
        return None;
    }
    Some(value.to_uppercase())
}

/// One match of Python's `_charref`, without its `&`.
fn replace_charref(reference: &str) -> String {
    if let Some(number) = reference.strip_prefix('#') {
        return numeric_charref(number);
    }
    if let Some(value) = html5(reference) {
        return value.to_owned();
    }
    // The longest entity name that is a prefix, at least two characters long
    // and shorter than the whole reference (HTML5's legacy rule).
    let boundaries: Vec<usize> = reference.char_indices().map(|(i, _)| i).collect();
    for &end in boundaries.iter().skip(2).rev() {
        if let Some(value) = html5(&reference[..end]) {
            return format!("{value}{}", &reference[end..]);
        }
    }
    format!("&{reference}")
}

/// A numeric reference without `&#`: `65`, `x41;`, `X1F426`.
fn numeric_charref(number: &str) -> String {
    let number = number.trim_end_matches(';');
    let parsed = match number.strip_prefix(['x', 'X']) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => number.parse::<u32>(),
    };
    // Only digits reach here, so a parse error means the number overflowed.
    let Ok(code) = parsed else {
        return '\u{FFFD}'.into();
    };
    match code {
        0x00 => '\u{FFFD}'.into(),
        0x0D => '\r'.into(),
        // Browsers read these C1 numbers as Windows-1252 bytes.
        0x80..=0x9F => super::charmap::windows_1252_sloppy(code as u8).into(),
        0xD800..=0xDFFF | 0x11_0000.. => '\u{FFFD}'.into(),
        _ if is_invalid_codepoint(code) => String::new(),
        _ => char::from_u32(code).map_or_else(String::new, String::from),
    }
}

/// Python's `html._invalid_codepoints`: controls and noncharacters that a
/// numeric reference deletes.
fn is_invalid_codepoint(code: u32) -> bool {
    matches!(code, 0x01..=0x08 | 0x0B | 0x0E..=0x1F | 0x7F..=0x9F | 0xFDD0..=0xFDEF) || code & 0xFFFE == 0xFFFE
}

/// Looks up an entity name (with its `;` if it has one) in the HTML5 table.
fn html5(name: &str) -> Option<&'static str> {
    HTML5_ENTITIES.binary_search_by(|(key, _)| (*key).cmp(name)).ok().map(|i| HTML5_ENTITIES[i].1)
}

/// Compiles one of this module's fixed patterns.
fn compile(pattern: &str) -> Regex {
    // The patterns are constants, checked by the unit tests below.
    Regex::new(pattern).unwrap_or_else(|e| panic!("invalid built-in pattern {pattern}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_unescape_matches_html5_rules() {
        assert_eq!(unescape("Tom &amp; Jerry"), "Tom & Jerry");
        assert_eq!(unescape("&amp"), "&");
        assert_eq!(unescape("&copyright"), "©right");
        assert_eq!(unescape("&#65;&#x42;&#X43"), "ABC");
        assert_eq!(unescape("&#0;&#x80;&#128;"), "\u{FFFD}€€");
        assert_eq!(unescape("&#x110000;&#99999999999999;"), "\u{FFFD}\u{FFFD}");
        assert_eq!(unescape("a&#1;b&#xFFFF;c"), "abc");
        assert_eq!(unescape("&nosuch; & &#;"), "&nosuch; & &#;");
        assert_eq!(unescape("&notit;"), "¬it;");
    }

    #[test]
    fn ftfy_unescape_is_cautious() {
        assert_eq!(unescape_entities("P&EACUTE;REZ &eacute;"), "PÉREZ é");
        assert_eq!(unescape_entities("BUNDESSTRA&SZLIG;E"), "BUNDESSTRASSE");
        assert_eq!(unescape_entities("&ntilde; &Ntilde; &NTILDE; &nTILDE;"), "ñ Ñ Ñ &nTILDE;");
        assert_eq!(unescape_entities("this&not that &amp"), "this&not that &amp");
        assert_eq!(unescape_entities("&#x2019;&#39;"), "\u{2019}'");
    }
}
