//! ftfy's `fix_encoding`: detect text that was decoded in the wrong encoding
//! (mojibake such as `CafÃ©`) and re-decode it.
//!
//! The search is ftfy's: if the text looks bad by its heuristic ([`is_bad`]),
//! encode it with each single-byte code page that can represent it and decode
//! the bytes as UTF-8; failing that, fix UTF-8 fragments embedded in otherwise
//! sound text, then Latin-1 read as Windows-1252, then stray C1 controls.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::Regex;
use regex::bytes::{Captures as ByteCaptures, Regex as BytesRegex};

use super::charmap::{self, Charmap};
use super::tables::{BADNESS, UTF8_CONTINUATION_STRICT, UTF8_DETECTOR};

/// Repeats one step of encoding repair until the text stops changing.
pub(super) fn fix_encoding(text: &str) -> String {
    let mut text = text.to_owned();
    while let Some(fixed) = fix_encoding_step(&text) {
        if fixed == text {
            break;
        }
        text = fixed;
    }
    text
}

/// ftfy's heuristic: does the text contain a sequence typical of mojibake?
pub(super) fn is_bad(text: &str) -> bool {
    static BAD: OnceLock<Regex> = OnceLock::new();
    BAD.get_or_init(|| compile(BADNESS)).is_match(text)
}

/// Replaces C1 control characters with their Windows-1252 meaning, as
/// browsers do.
pub(super) fn fix_c1_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_c1) {
        return Cow::Borrowed(text);
    }
    let fixed = text.chars().map(|c| if is_c1(c) { charmap::windows_1252_sloppy(c as u8) } else { c }).collect();
    Cow::Owned(fixed)
}

fn is_c1(c: char) -> bool {
    ('\u{80}'..='\u{9F}').contains(&c)
}

/// One step of `_fix_encoding_one_step_and_explain`; `None` when nothing applies.
fn fix_encoding_step(text: &str) -> Option<String> {
    if text.is_ascii() || !is_bad(text) {
        return None;
    }
    let mut latin1_possible = false;
    for map in charmap::charmaps() {
        let Some(bytes) = map.encode(text) else {
            continue;
        };
        latin1_possible |= map.name == "latin-1";
        if let Some(fixed) = redecode(map, bytes) {
            return Some(fixed);
        }
    }
    if utf8_detector().is_match(text) {
        let fixed = decode_inconsistent_utf8(text);
        if fixed != text {
            return Some(fixed);
        }
    }
    if latin1_possible {
        // Text that is Latin-1 may be Windows-1252 read as Latin-1.
        let fixed: Option<String> = text
            .chars()
            .map(|c| match u8::try_from(u32::from(c)) {
                Ok(b) => charmap::windows_1252_strict(b),
                Err(_) => Some(c),
            })
            .collect();
        if let Some(fixed) = fixed.filter(|fixed| fixed != text) {
            return Some(fixed);
        }
    }
    text.chars().any(is_c1).then(|| fix_c1_controls(text).into_owned())
}

/// Decodes the bytes of one code page as UTF-8, after ftfy's byte-level repairs.
fn redecode(map: &Charmap, mut bytes: Vec<u8>) -> Option<String> {
    if map.name != "macroman" && altered_utf8().is_match(&bytes) {
        bytes = restore_byte_a0(&bytes);
    }
    if map.sloppy {
        bytes = lossy_utf8().replace_all(&bytes, "\u{FFFD}".as_bytes()).into_owned();
    }
    if bytes.contains(&0xED) || bytes.contains(&0xC0) {
        charmap::decode_utf8_variants(&bytes)
    } else {
        String::from_utf8(bytes).ok()
    }
}

/// Puts back byte A0 (no-break space) where some process turned it into a space
/// inside what is otherwise a UTF-8 sequence.
fn restore_byte_a0(bytes: &[u8]) -> Vec<u8> {
    let bytes = restore_a_grave(bytes);
    altered_utf8()
        .replace_all(&bytes, |caps: &ByteCaptures<'_>| {
            caps[0].iter().map(|&b| if b == b' ' { 0xA0 } else { b }).collect::<Vec<u8>>()
        })
        .into_owned()
}

/// `Ã ` followed by a word is `à ` whose A0 byte became a space, except before
/// a space and a few Portuguese words (ftfy's `A_GRAVE_WORD_RE`, whose negative
/// lookahead is checked by hand here).
fn restore_a_grave(bytes: &[u8]) -> Vec<u8> {
    const KEEP: [&[u8]; 5] = [b" ", b"quele", b"quela", b"quilo", b"s "];
    let mut out = Vec::with_capacity(bytes.len() + 8);
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"\xC3 ") && !KEEP.iter().any(|k| bytes[i + 2..].starts_with(k)) {
            out.extend_from_slice(b"\xC3\xA0 ");
            i += 2;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// Re-decodes each run of UTF-8 mojibake that is embedded in other text.
fn decode_inconsistent_utf8(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for range in utf8_runs(text) {
        let run = &text[range.clone()];
        if run.len() < text.len() && is_bad(run) {
            out.push_str(&text[copied..range.start]);
            out.push_str(&fix_encoding(run));
            copied = range.end;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// The matches of `UTF8_DETECTOR_RE`, including its lookbehind: a run may not
/// start right after a strict continuation character, so that a few
/// characters in a large garble are not "fixed" on their own.
fn utf8_runs(text: &str) -> Vec<std::ops::Range<usize>> {
    static STRICT: OnceLock<Regex> = OnceLock::new();
    let strict = STRICT.get_or_init(|| compile(UTF8_CONTINUATION_STRICT));
    let mut runs = Vec::new();
    let mut pos = 0;
    while let Some(m) = utf8_detector().find_at(text, pos) {
        let after_strict =
            text[..m.start()].chars().next_back().is_some_and(|prev| strict.is_match(prev.encode_utf8(&mut [0; 4])));
        if after_strict {
            // Python retries one character later, where a shorter run may start.
            pos = m.start() + text[m.start()..].chars().next().map_or(1, char::len_utf8);
        } else {
            runs.push(m.range());
            pos = m.end();
        }
    }
    runs
}

fn utf8_detector() -> &'static Regex {
    static DETECTOR: OnceLock<Regex> = OnceLock::new();
    DETECTOR.get_or_init(|| compile(UTF8_DETECTOR))
}

/// Byte sequences that would be UTF-8 if one space were byte A0.
fn altered_utf8() -> &'static BytesRegex {
    static ALTERED: OnceLock<BytesRegex> = OnceLock::new();
    ALTERED.get_or_init(|| {
        compile_bytes(
            r"(?-u)[\xc2\xc3\xc5\xce\xd0\xd9] |[\xe2\xe3] [\x80-\x84\x86-\x9f\xa1-\xbf]|[\xe0-\xe3][\x80-\x84\x86-\x9f\xa1-\xbf] |\xf0 [\x80-\xbf][\x80-\xbf]|\xf0[\x80-\xbf] [\x80-\xbf]|\xf0[\x80-\xbf][\x80-\xbf] ",
        )
    })
}

/// UTF-8 sequences in which a sloppy codec lost a byte (shown as 0x1A or `?`).
fn lossy_utf8() -> &'static BytesRegex {
    static LOSSY: OnceLock<BytesRegex> = OnceLock::new();
    LOSSY.get_or_init(|| {
        compile_bytes(concat!(
            r"(?-u)[\xc2-\xdf]\x1a",
            r"|[\xc2-\xc3]\?",
            r"|\xed[\xa0-\xaf][\x1a?]\xed[\xb0-\xbf][\x1a?\x80-\xbf]",
            r"|\xed[\xa0-\xaf][\x1a?\x80-\xbf]\xed[\xb0-\xbf][\x1a?]",
            r"|[\xe0-\xef][\x1a?][\x1a\x80-\xbf]",
            r"|[\xe0-\xef][\x1a\x80-\xbf][\x1a?]",
            r"|[\xf0-\xf4][\x1a?][\x1a\x80-\xbf][\x1a\x80-\xbf]",
            r"|[\xf0-\xf4][\x1a\x80-\xbf][\x1a?][\x1a\x80-\xbf]",
            r"|[\xf0-\xf4][\x1a\x80-\xbf][\x1a\x80-\xbf][\x1a?]",
            r"|\x1a",
        ))
    })
}

fn compile(pattern: &str) -> Regex {
    // Built-in patterns only; the unit tests compile every one of them.
    Regex::new(pattern).unwrap_or_else(|e| panic!("invalid built-in pattern: {e}"))
}

fn compile_bytes(pattern: &str) -> BytesRegex {
    BytesRegex::new(pattern).unwrap_or_else(|e| panic!("invalid built-in pattern: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repairs_common_mojibake() {
        assert_eq!(fix_encoding("CafÃ©"), "Café");
        assert_eq!(fix_encoding("doesnÃ¢â‚¬â„¢t"), "doesn\u{2019}t");
        assert_eq!(fix_encoding("voilÃ le travail"), "voilà le travail");
        assert_eq!(fix_encoding("âœ” No problems"), "✔ No problems");
        assert_eq!(fix_encoding("ð\u{9f}\u{90}¦"), "🐦");
    }

    #[test]
    fn leaves_sound_text_alone() {
        for text in ["Café", "naïve", "Müller", "Ελληνικά", "日本語", "plain"] {
            assert!(!is_bad(text), "{text}");
            assert_eq!(fix_encoding(text), text);
        }
    }

    #[test]
    fn c1_controls_become_windows_1252() {
        assert_eq!(fix_c1_controls("a\u{80}b\u{81}"), "a€b\u{81}");
    }

    #[test]
    fn lossy_and_altered_patterns_compile() {
        assert!(altered_utf8().is_match(b"\xc3 "));
        assert!(lossy_utf8().is_match(b"\xe2\x80\x1a"));
        assert_eq!(restore_a_grave(b"\xC3 la \xC3 s "), b"\xC3\xA0 la \xC3 s ");
    }
}
