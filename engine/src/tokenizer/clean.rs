//! open_clip's text cleaning (`clean='lower'`): ftfy, HTML unescaping,
//! whitespace collapsing and lowercasing, with Python's semantics for each.

use super::python_unicode::{PY_WHITESPACE, case_ignorable, cased, lowercased};
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
    let words: Vec<&str> = unescaped.split(is_py_whitespace).filter(|w| !w.is_empty()).collect();
    python_lower(&words.join(" "))
}

/// Python 3.11's `str.lower()`: full lowercase mappings (`İ` → `i̇`) and the
/// final-sigma rule, evaluated with Python's Unicode 14 properties so that
/// letters of newer scripts stay as the reference leaves them and do not
/// change how a neighbouring `Σ` lowercases.
fn python_lower(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == 'Σ' {
            out.push(if is_final_sigma(&chars, i) { 'ς' } else { 'σ' });
        } else if lowercased(c) {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Unicode's `Final_Sigma` context as CPython checks it: a cased letter before
/// (skipping case-ignorables), and none after.
fn is_final_sigma(chars: &[char], i: usize) -> bool {
    let mut before = chars[..i].iter().rev().skip_while(|&&c| case_ignorable(c));
    let mut after = chars[i + 1..].iter().skip_while(|&&c| case_ignorable(c));
    before.next().is_some_and(|&c| cased(c)) && !after.next().is_some_and(|&c| cased(c))
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
        assert_eq!(clean("İstanbul ΟΔΟΣ ΣΑ"), "i\u{307}stanbul οδο\u{3c2} \u{3c3}α");
    }

    #[test]
    fn leaves_letters_newer_than_python_alone() {
        // Garay capital letter (Unicode 16): unassigned in Python 3.11.
        assert_eq!(python_lower("\u{10D50}A"), "\u{10D50}a");
        // Newer letters are not cased for the final-sigma rule either.
        assert_eq!(python_lower("ΟΔΟΣ\u{16EA0}\u{31B}Σ"), "οδος\u{16EA0}\u{31B}σ");
        assert_eq!(python_lower("ΑΣ\u{301} Σ. A.Σ"), "ας\u{301} σ. a.ς");
        assert!(lowercased('A') && lowercased('\u{130}') && !lowercased('a'));
    }

    #[test]
    fn unescapes_html_twice_after_ftfy() {
        assert_eq!(clean("&amp;amp;amp; &copy 2024"), "& © 2024");
    }
}
