//! open_clip's text cleaning (`clean='lower'`): ftfy, HTML unescaping,
//! whitespace collapsing and lowercasing, with Python's semantics for each.

use super::textfix::{self, PY_WHITESPACE, html};

/// open_clip's `_clean_lower`: `ftfy.fix_text`, `html.unescape` twice, strip,
/// `" ".join(text.split())` and `str.lower()`.
///
/// Python's whitespace is wider than Rust's (`str.isspace` includes the
/// information separators U+001C..U+001F), and `str.lower` is the full Unicode
/// lowercase mapping with the final-sigma rule, which is what
/// [`str::to_lowercase`] implements.
pub fn clean(text: &str) -> String {
    let fixed = textfix::fix_text(text);
    let unescaped = html::unescape(&html::unescape(&fixed)).into_owned();
    let words: Vec<&str> = unescaped
        .split(is_py_whitespace)
        .filter(|w| !w.is_empty())
        .collect();
    words.join(" ").to_lowercase()
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
    fn unescapes_html_twice_after_ftfy() {
        assert_eq!(clean("&amp;amp;amp; &copy 2024"), "& © 2024");
    }
}
