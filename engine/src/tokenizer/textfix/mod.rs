//! A port of ftfy 6.3.1's `fix_text` with its default configuration, the first
//! step of open_clip's text cleaning.
//!
//! ftfy repairs "mojibake" (UTF-8 that was decoded as Windows-1252 and the like)
//! and normalises look-alike characters: HTML entities, Latin ligatures,
//! full-width forms, curly quotes, line breaks, terminal escapes and invisible
//! control characters, then NFC. The port follows ftfy's control flow step by
//! step, because the order of the fixes and their repetition until nothing
//! changes both affect the result. Its data (code pages, the mojibake
//! heuristic's character classes, the HTML5 entity table) is generated from
//! ftfy and Python by `tables.py`.

mod charmap;
pub(crate) mod html;
mod mojibake;
#[rustfmt::skip]
mod tables;

use std::sync::OnceLock;

use regex::Regex;
use unicode_normalization::UnicodeNormalization;

use super::python_unicode::unassigned;

/// ftfy fixes text in segments that end at a line break, at most this many
/// characters long (`TextFixerConfig.max_decode_length`).
const MAX_SEGMENT_CHARS: usize = 1_000_000;

/// ftfy's `fix_text(text)` with the default `TextFixerConfig`.
///
/// ```
/// use arbor_engine::fix_text;
/// assert_eq!(fix_text("CafÃ© &amp; ﬁsh"), "Café & fish");
/// ```
pub fn fix_text(text: &str) -> String {
    if is_plain_ascii(text) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    // `unescape_html="auto"`: once a segment contains `<`, the input is taken to
    // be real HTML and entities stay as they are, in later segments too.
    let mut unescape_html = true;
    for segment in segments(text) {
        unescape_html &= !segment.contains('<');
        out.push_str(&fix_segment(segment, unescape_html));
    }
    out
}

/// ASCII text with no `&` and no control character other than tab and line
/// feed: no fixer has anything to do (the common case, worth a shortcut).
fn is_plain_ascii(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b'\t' | b'\n' | 0x20..=0x7E) && b != b'&')
}

/// Splits after each `\n`, and inside lines longer than [`MAX_SEGMENT_CHARS`].
fn segments(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let line_end = rest.find('\n').map_or(rest.len(), |i| i + 1);
        let line = &rest[..line_end];
        // Counting characters only for long lines keeps this linear.
        let end = if line.len() > MAX_SEGMENT_CHARS {
            line.char_indices().nth(MAX_SEGMENT_CHARS).map_or(line_end, |(i, _)| i)
        } else {
            line_end
        };
        let (segment, tail) = rest.split_at(end);
        rest = tail;
        Some(segment)
    })
}

/// ftfy's `fix_and_explain`: apply every fixer in order until a whole pass
/// changes nothing.
fn fix_segment(segment: &str, unescape_html: bool) -> String {
    let mut text = segment.to_owned();
    loop {
        let mut fixed = if unescape_html { html::unescape_entities(&text).into_owned() } else { text.clone() };
        fixed = mojibake::fix_encoding(&fixed);
        fixed = mojibake::fix_c1_controls(&fixed).into_owned();
        fixed = fix_latin_ligatures(&fixed);
        fixed = fix_character_width(&fixed);
        fixed = uncurl_quotes(&fixed);
        fixed = fix_line_breaks(&fixed);
        // ftfy's `fix_surrogates` has nothing to do: a Rust `str` cannot hold
        // the lone UTF-16 surrogates it repairs.
        fixed = remove_terminal_escapes(&fixed);
        fixed = remove_control_chars(&fixed);
        fixed = python_nfc(&fixed);
        if fixed == text {
            return fixed;
        }
        text = fixed;
    }
}

/// NFC as Python 3.11's `unicodedata` computes it. Characters that its
/// Unicode 14 had not assigned have no normalization properties there, so each
/// stands as a barrier between independently normalized runs, instead of
/// reordering or composing as the newer tables of `unicode-normalization` say.
fn python_nfc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run_start = 0;
    for (i, c) in text.char_indices() {
        if !c.is_ascii() && unassigned(c) {
            out.extend(text[run_start..i].nfc());
            out.push(c);
            run_start = i + c.len_utf8();
        }
    }
    out.extend(text[run_start..].nfc());
    out
}

/// Spells out the Latin ligatures that are usually copy-paste accidents; other
/// scripts' ligatures are left alone.
fn fix_latin_ligatures(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            'Ĳ' => out.push_str("IJ"),
            'ĳ' => out.push_str("ij"),
            'ŉ' => out.push_str("ʼn"),
            'Ǳ' => out.push_str("DZ"),
            'ǲ' => out.push_str("Dz"),
            'ǳ' => out.push_str("dz"),
            'Ǆ' => out.push_str("DŽ"),
            'ǅ' => out.push_str("Dž"),
            'ǆ' => out.push_str("dž"),
            'Ǉ' => out.push_str("LJ"),
            'ǈ' => out.push_str("Lj"),
            'ǉ' => out.push_str("lj"),
            'Ǌ' => out.push_str("NJ"),
            'ǋ' => out.push_str("Nj"),
            'ǌ' => out.push_str("nj"),
            'ﬀ' => out.push_str("ff"),
            'ﬁ' => out.push_str("fi"),
            'ﬂ' => out.push_str("fl"),
            'ﬃ' => out.push_str("ffi"),
            'ﬄ' => out.push_str("ffl"),
            'ﬅ' => out.push_str("ſt"),
            'ﬆ' => out.push_str("st"),
            _ => out.push(c),
        }
    }
    out
}

/// Replaces the halfwidth and fullwidth forms block (U+FF01..U+FFEF) with the
/// characters' NFKC forms, and the ideographic space with a plain space.
fn fix_character_width(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\u{3000}' => out.push(' '),
            '\u{FF01}'..='\u{FFEF}' => out.extend(std::iter::once(c).nfkc()),
            _ => out.push(c),
        }
    }
    out
}

/// Straightens curly quotes (and U+02BC, the modifier-letter apostrophe).
fn uncurl_quotes(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{02BC}' | '\u{2018}'..='\u{201B}' => '\'',
            '\u{201C}'..='\u{201F}' => '"',
            _ => c,
        })
        .collect()
}

/// CRLF, CR, LINE SEPARATOR, PARAGRAPH SEPARATOR and NEXT LINE all become `\n`.
fn fix_line_breaks(text: &str) -> String {
    text.replace("\r\n", "\n").replace(['\r', '\u{2028}', '\u{2029}', '\u{85}'], "\n")
}

/// Strips ANSI terminal escapes such as colour codes.
fn remove_terminal_escapes(text: &str) -> String {
    static ANSI: OnceLock<Regex> = OnceLock::new();
    let ansi = ANSI.get_or_init(|| {
        Regex::new(r"\x1b\[(?:\d|;)*[a-zA-Z]").unwrap_or_else(|e| panic!("invalid built-in pattern: {e}"))
    });
    ansi.replace_all(text, "").into_owned()
}

/// Drops control characters with no visible effect. Whitespace controls, C1
/// controls (clues to mojibake), joiners, bidi marks and tag characters stay.
fn remove_control_chars(text: &str) -> String {
    text.chars()
        .filter(|c| {
            !matches!(
                c,
                '\u{00}'..='\u{08}'
                    | '\u{0B}'
                    | '\u{0E}'..='\u{1F}'
                    | '\u{7F}'
                    | '\u{206A}'..='\u{206F}'
                    | '\u{FEFF}'
                    | '\u{FFF9}'..='\u{FFFC}'
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ftfy_docstring_examples() {
        assert_eq!(fix_text("âœ” No problems"), "✔ No problems");
        assert_eq!(fix_text("&macr;\\_(ã\u{83}\u{84})_/&macr;"), "¯\\_(ツ)_/¯");
        assert_eq!(fix_text("Broken text&hellip; it&#x2019;s ﬂubberiﬁc!"), "Broken text… it's flubberific!");
        assert_eq!(fix_text("ＬＯＵＤ　ＮＯＩＳＥＳ"), "LOUD NOISES");
        assert_eq!(fix_text("Ｕﾀｰﾝ"), "Uターン");
        assert_eq!(fix_text("\u{1b}[36;44mblue\u{1b}[0m"), "blue");
        assert_eq!(fix_text("a\r\nb\rc\u{2028}d"), "a\nb\nc\nd");
        assert_eq!(fix_text("\u{feff}bom\u{0}"), "bom");
        assert_eq!(fix_text("e\u{301}"), "é");
    }

    #[test]
    fn plain_ascii_shortcut_agrees_with_the_fixers() {
        for text in ["a photo of Corvus corax.", "tab\tand\nnewline", ""] {
            assert!(is_plain_ascii(text));
            assert_eq!(fix_segment(text, true), text);
        }
        for text in ["a &amp; b", "cr\r", "esc\u{1b}[0m", "del\u{7f}", "é"] {
            assert!(!is_plain_ascii(text), "{text:?}");
        }
    }

    #[test]
    fn nfc_uses_python_unicode_14() {
        assert_eq!(python_nfc("e\u{301}\u{327}"), "\u{229}\u{301}");
        // Kirat Rai U+16D67 + U+16D67 composes to U+16D68 in Unicode 16 only.
        assert_eq!(python_nfc("\u{16D67}\u{16D67}"), "\u{16D67}\u{16D67}");
    }

    #[test]
    fn html_in_the_input_disables_unescaping_for_later_lines() {
        assert_eq!(fix_text("&amp;\n<b>&amp;\n&amp;"), "&\n<b>&amp;\n&amp;");
    }

    #[test]
    fn segments_end_after_newlines() {
        let parts: Vec<&str> = segments("a\nb\n\nc").collect();
        assert_eq!(parts, ["a\n", "b\n", "\n", "c"]);
        let long = "é".repeat(MAX_SEGMENT_CHARS + 3);
        let lens: Vec<usize> = segments(&long).map(|s| s.chars().count()).collect();
        assert_eq!(lens, [MAX_SEGMENT_CHARS, 3]);
    }
}
