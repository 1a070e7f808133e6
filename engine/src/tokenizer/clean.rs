//! open_clip's text cleaning (`clean='lower'`): ftfy, HTML unescaping,
//! whitespace collapsing and lowercasing, with Python's semantics for each.

use super::python_unicode::{PY_WHITESPACE, lowercased};
use super::textfix::{self, html};

/// open_clip's `_clean_lower`: `ftfy.fix_text`, `html.unescape` twice, strip,
/// `" ".join(text.split())` and `str.lower()`.
///
/// Python's whitespace is wider than Rust's (`str.isspace` includes the
/// information separators U+001C..U+001F), and `str.lower` is the full Unicode
/// lowercase mapping with the final-sigma rule, of Python's Unicode version.
pub fn clean(text: &str) -> String {
    let fixed = textfix::fix_text(text);
    let unescaped = html::unescape(&html::unescape(&fixed)).into_owned();
    let words: Vec<&str> = unescaped
        .split(is_py_whitespace)
        .filter(|w| !w.is_empty())
        .collect();
    python_lower(&words.join(" "))
}

/// Python 3.11's `str.lower()`: Rust's [`str::to_lowercase`] (full mappings,
/// final sigma) restricted to the characters Python's Unicode 14 lowercases, so
/// that letters of newer scripts (Garay, ...) stay as the reference leaves them.
fn python_lower(text: &str) -> String {
    let rust = text.to_lowercase();
    if text.is_ascii() {
        return rust;
    }
    let mut out = String::with_capacity(rust.len());
    // Each character's lowercase has a fixed length (Σ gives σ or ς, both two
    // bytes), so walking the text locates each character's image in `rust`.
    let mut offset = 0;
    for c in text.chars() {
        let len: usize = c.to_lowercase().map(char::len_utf8).sum();
        match rust.get(offset..offset + len) {
            Some(lowered) if lowercased(c) => out.push_str(lowered),
            _ => out.push(c),
        }
        offset += len;
    }
    out
}

/// Python's `str.isspace()` for one character.
fn is_py_whitespace(c: char) -> bool {
    PY_WHITESPACE.contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapses_python_whitespace() {
        assert_eq!(clean("  a\u{2009}b\u{3000}\tc \u{a0}\u{202f} "), "a b c");
        // ftfy deletes U+001C before the split would treat it as a space.
        assert_eq!(clean("a\u{1c}b"), "ab");
        assert!(is_py_whitespace('\u{1c}') && !is_py_whitespace('\u{200b}'));
        assert_eq!(clean(""), "");
    }

    #[test]
    fn lowercases_like_python() {
        assert_eq!(
            clean("İstanbul ΟΔΟΣ ΣΑ"),
            "i\u{307}stanbul οδο\u{3c2} \u{3c3}α"
        );
    }

    #[test]
    fn leaves_letters_newer_than_python_alone() {
        // Garay capital letter (Unicode 16): unassigned in Python 3.11.
        assert_eq!(python_lower("\u{10D50}A"), "\u{10D50}a");
        assert!(lowercased('A') && lowercased('\u{130}') && !lowercased('a'));
    }

    #[test]
    fn unescapes_html_twice_after_ftfy() {
        assert_eq!(clean("&amp;amp;amp; &copy 2024"), "& © 2024");
    }
}
