//! open_clip's CLIP tokenizer (`SimpleTokenizer`, as built by
//! `open_clip.get_tokenizer('ViT-B-16')`), reproduced id for id.
//!
//! The pipeline is open_clip's:
//!
//! 1. [`clean`]: ftfy's `fix_text` ([`fix_text`]), `html.unescape` twice,
//!    whitespace collapse and lowercasing, all with Python's semantics.
//! 2. Pre-tokenization with CLIP's regex: special-token literals,
//!    contractions, runs of letters, single digits, runs of other symbols.
//! 3. Byte-level BPE of each pre-token with OpenAI's 48894 merges, bundled in
//!    the binary.
//! 4. Framing: `<start_of_text>`, the ids, `<end_of_text>`, zero padding to the
//!    context length, or truncation that keeps `<end_of_text>` last.
//!
//! ```
//! use arbor_engine::{EOT_TOKEN, SOT_TOKEN, Tokenizer};
//! let tokenizer = Tokenizer::openai()?;
//! let ids = tokenizer.tokenize("a photo of Corvus corax");
//! assert_eq!(ids.len(), 77);
//! assert_eq!(ids[0], SOT_TOKEN);
//! assert_eq!(ids[Tokenizer::eot_position(&ids)], EOT_TOKEN);
//! # Ok::<(), arbor_engine::TokenizerError>(())
//! ```

mod bpe;
mod clean;
#[rustfmt::skip]
mod python_unicode;
mod textfix;
mod vocab;

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;
use regex::Regex;

pub use clean::clean;
pub use clean::clean as clean_text;
pub use textfix::fix_text;
pub use vocab::{EOT_TOKEN, SOT_TOKEN, VOCAB_SIZE};

use bpe::BpeCache;
use python_unicode::{LETTER, NUMBER, OTHER};
use vocab::Vocab;

/// The context length of every CLIP text tower, BioCLIP's included.
pub const DEFAULT_CONTEXT_LENGTH: usize = 77;

/// Why a tokenizer could not be built.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenizerError {
    /// The merges file is unreadable or not in CLIP's format.
    #[error("BPE vocabulary {source_name}: {problem}")]
    Vocab {
        /// The file (or "bundled …") that was being read.
        source_name: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A context length of zero leaves no room for any token.
    #[error("context length must be at least 1")]
    ZeroContextLength,
}

/// The CLIP tokenizer: cheap to share between threads (`Send + Sync`), with an
/// internal BPE cache.
#[derive(Debug)]
pub struct Tokenizer {
    vocab: Arc<Vocab>,
    cache: BpeCache,
    context_length: usize,
}

impl Tokenizer {
    /// OpenAI's vocabulary with CLIP's context length of 77.
    pub fn openai() -> Result<Self, TokenizerError> {
        Self::new(DEFAULT_CONTEXT_LENGTH)
    }

    /// OpenAI's vocabulary with another context length.
    pub fn new(context_length: usize) -> Result<Self, TokenizerError> {
        Self::with_vocab(Vocab::bundled()?, context_length)
    }

    /// A vocabulary read from a gzipped merges file in the format of
    /// `bpe_simple_vocab_16e6.txt.gz`.
    pub fn from_vocab_file(path: &Path, context_length: usize) -> Result<Self, TokenizerError> {
        let name = path.display().to_string();
        let gz = std::fs::read(path)
            .map_err(|e| TokenizerError::Vocab { source_name: name.clone(), problem: format!("cannot read: {e}") })?;
        Self::with_vocab(Arc::new(Vocab::from_gz(&gz, &name)?), context_length)
    }

    fn with_vocab(vocab: Arc<Vocab>, context_length: usize) -> Result<Self, TokenizerError> {
        if context_length == 0 {
            return Err(TokenizerError::ZeroContextLength);
        }
        Ok(Self { vocab, cache: BpeCache::default(), context_length })
    }

    /// The number of ids [`tokenize`](Self::tokenize) returns.
    pub fn context_length(&self) -> usize {
        self.context_length
    }

    /// The BPE ids of `text` after cleaning, without special tokens, padding or
    /// truncation (open_clip's `SimpleTokenizer.encode`).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let cleaned = clean(text);
        let mut ids = Vec::with_capacity(cleaned.len() / 3 + 1);
        for word in pretokenizer().find_iter(&cleaned).map(|m| m.as_str()) {
            match word {
                // Only the exact literals are special: open_clip seeds its BPE
                // cache with them, keyed by the text itself.
                "<start_of_text>" => ids.push(SOT_TOKEN),
                "<end_of_text>" => ids.push(EOT_TOKEN),
                _ => self.cache.encode_word(&self.vocab, word, &mut ids),
            }
        }
        ids
    }

    /// The model input for `text`: `[SOT] + encode(text) + [EOT]`, zero-padded
    /// to the context length; a longer sequence is cut to the context length and
    /// its last id set to EOT.
    pub fn tokenize(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::with_capacity(self.context_length.max(2));
        ids.push(SOT_TOKEN);
        ids.extend(self.encode(text));
        ids.push(EOT_TOKEN);
        if ids.len() > self.context_length {
            ids.truncate(self.context_length);
            if let Some(last) = ids.last_mut() {
                *last = EOT_TOKEN;
            }
        }
        ids.resize(self.context_length, 0);
        ids
    }

    /// [`tokenize`](Self::tokenize) for many texts, in parallel, in order.
    pub fn tokenize_batch(&self, texts: &[&str]) -> Vec<Vec<u32>> {
        texts.par_iter().map(|text| self.tokenize(text)).collect()
    }

    /// The position the text tower pools: open_clip's `argmax(ids)`, i.e. the
    /// first occurrence of the largest id, which is the first EOT since EOT is
    /// the largest id. Returns 0 for an empty slice.
    pub fn eot_position(ids: &[u32]) -> usize {
        let mut best = 0;
        for (i, &id) in ids.iter().enumerate() {
            if id > ids[best] {
                best = i;
            }
        }
        best
    }
}

/// CLIP's pre-tokenizer:
/// `<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`
/// with `regex.IGNORECASE`. The literals fold case here too (simple case
/// folding in both engines); the three classes come from
/// `python_unicode.py`, evaluated by Python's `regex` itself, because its
/// Unicode version and its case-insensitive set rules differ from the Rust
/// crate's. Characters in no class (e.g. U+0345 under `IGNORECASE`) are
/// skipped, as `findall` skips them.
fn pretokenizer() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| {
        let pattern = format!("(?i:<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d)|{LETTER}+|{NUMBER}|{OTHER}+");
        Regex::new(&pattern).unwrap_or_else(|e| panic!("invalid built-in pattern: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokenizer(context_length: usize) -> Tokenizer {
        match Tokenizer::new(context_length) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Tokenizer>();
    }

    #[test]
    fn frames_and_pads() {
        let t = tokenizer(8);
        let ids = t.tokenize("");
        assert_eq!(ids, [SOT_TOKEN, EOT_TOKEN, 0, 0, 0, 0, 0, 0]);
        assert_eq!(Tokenizer::eot_position(&ids), 1);
    }

    #[test]
    fn truncates_keeping_eot_last() {
        let t = tokenizer(4);
        let ids = t.tokenize("1 2 3 4 5");
        assert_eq!(ids.len(), 4);
        assert_eq!(ids[0], SOT_TOKEN);
        assert_eq!(ids[3], EOT_TOKEN);
        assert_eq!(&ids[1..3], &t.encode("1 2")[..]);
    }

    #[test]
    fn digits_are_single_tokens_and_specials_map() {
        let t = tokenizer(77);
        assert_eq!(t.encode("2024").len(), 4);
        assert_eq!(t.encode("<END_OF_TEXT>"), [EOT_TOKEN]);
        assert_eq!(t.encode("x<start_of_text>"), [t.encode("x")[0], SOT_TOKEN]);
        // Python's `regex` knows U+0558 as a letter: one run with its neighbours.
        assert_eq!(t.encode("a\u{558}b").len(), t.encode("a\u{558}").len() + 1);
        // U+0345 matches no class under IGNORECASE and vanishes.
        assert_eq!(t.encode("a \u{345} b"), t.encode("a b"));
    }

    #[test]
    fn long_s_folds_like_python_regex() {
        let t = tokenizer(77);
        // open_clip 3.3.0: IGNORECASE lets `'ſ` and `<ſtart_of_text>` match the
        // literal alternatives, but only the exact literal is special, so the
        // latter is BPE-encoded as one word.
        let want = [343, 6, 129, 379, 27, 129, 123, 16707, 62, 684, 62, 18169, 285];
        assert_eq!(t.encode("x'ſ <ſtart_of_text>"), want);
    }

    #[test]
    fn rejects_zero_context() {
        assert!(matches!(Tokenizer::new(0), Err(TokenizerError::ZeroContextLength)));
    }

    #[test]
    fn reports_missing_vocab_file() {
        let err = Tokenizer::from_vocab_file(Path::new("/nonexistent/vocab.gz"), 77);
        assert!(err.is_err_and(|e| e.to_string().contains("/nonexistent/vocab.gz")));
    }
}
