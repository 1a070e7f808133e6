//! The CLIP byte-level BPE vocabulary: the byte alphabet, the merge ranks and
//! the token ids open_clip assigns to them.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, OnceLock};

use flate2::read::GzDecoder;

use super::TokenizerError;

/// OpenAI's merges file, as shipped in open_clip (MIT; see
/// `assets/LICENSE-bpe_simple_vocab_16e6.txt`).
const BUNDLED_VOCAB_GZ: &[u8] = include_bytes!("../../assets/bpe_simple_vocab_16e6.txt.gz");

/// CLIP uses the merges on lines 2..=48895 of the file: 49152 tokens minus the
/// 256 bytes and the two special tokens.
pub(super) const MERGE_COUNT: usize = 49152 - 256 - 2;

/// Id of `<start_of_text>`.
pub const SOT_TOKEN: u32 = 49406;
/// Id of `<end_of_text>`, also the token whose position the text tower pools.
pub const EOT_TOKEN: u32 = 49407;
/// Number of token ids, special tokens included.
pub const VOCAB_SIZE: usize = 49408;

/// Symbols are token ids: the 256 bytes, the same bytes ending a word (`</w>`),
/// then one id per merge.
#[derive(Debug)]
pub(super) struct Vocab {
    /// Token id of each byte as a word-inner symbol; `+ 256` for `</w>`.
    byte_ids: [u32; 256],
    /// `(left, right)` → (merge rank, id of the merged symbol).
    merges: HashMap<(u32, u32), (u32, u32)>,
}

impl Vocab {
    /// The vocabulary bundled in the binary, parsed once per process.
    pub(super) fn bundled() -> Result<Arc<Self>, TokenizerError> {
        static BUNDLED: OnceLock<Result<Arc<Vocab>, TokenizerError>> = OnceLock::new();
        BUNDLED
            .get_or_init(|| Vocab::from_gz(BUNDLED_VOCAB_GZ, "bundled bpe_simple_vocab_16e6.txt.gz").map(Arc::new))
            .clone()
    }

    /// Parses a gzipped merges file in the format of `bpe_simple_vocab_16e6.txt.gz`.
    pub(super) fn from_gz(gz: &[u8], source: &str) -> Result<Self, TokenizerError> {
        let mut text = String::new();
        GzDecoder::new(gz).read_to_string(&mut text).map_err(|e| TokenizerError::Vocab {
            source_name: source.to_owned(),
            problem: format!("cannot decompress: {e}"),
        })?;
        Self::from_merges_text(&text, source)
    }

    /// Builds the vocabulary from the merges file's text (first line is a header).
    pub(super) fn from_merges_text(text: &str, source: &str) -> Result<Self, TokenizerError> {
        let bad = |problem: String| TokenizerError::Vocab { source_name: source.to_owned(), problem };
        let alphabet = byte_alphabet();
        // Python builds `encoder` with dict(zip(vocab, ids)), so a string that
        // appears twice keeps its *last* id; mirror that.
        let mut ids: HashMap<String, u32> = HashMap::with_capacity(VOCAB_SIZE);
        let mut byte_ids = [0; 256];
        for (i, &(byte, c)) in alphabet.iter().enumerate() {
            byte_ids[usize::from(byte)] = i as u32;
            ids.insert(c.to_string(), i as u32);
            ids.insert(format!("{c}</w>"), (i + 256) as u32);
        }
        let lines: Vec<&str> = text.split('\n').skip(1).take(MERGE_COUNT).collect();
        if lines.len() != MERGE_COUNT {
            return Err(bad(format!("has {} merge lines, expected {MERGE_COUNT}", lines.len())));
        }
        let mut pairs = Vec::with_capacity(MERGE_COUNT);
        for (rank, line) in lines.iter().enumerate() {
            let mut parts = line.split_whitespace();
            let (Some(left), Some(right), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(bad(format!("merge line {} is not two symbols: {line:?}", rank + 2)));
            };
            ids.insert(format!("{left}{right}"), (512 + rank) as u32);
            pairs.push((left, right));
        }
        let mut merges = HashMap::with_capacity(MERGE_COUNT);
        for (rank, (left, right)) in pairs.into_iter().enumerate() {
            let id = |s: &str| {
                ids.get(s).copied().ok_or_else(|| bad(format!("merge line {} uses unknown symbol {s:?}", rank + 2)))
            };
            let merged = id(&format!("{left}{right}"))?;
            merges.insert((id(left)?, id(right)?), (rank as u32, merged));
        }
        Ok(Self { byte_ids, merges })
    }

    /// The symbol of byte `b` inside a word, or at its end.
    pub(super) fn byte_id(&self, b: u8, word_end: bool) -> u32 {
        self.byte_ids[usize::from(b)] + if word_end { 256 } else { 0 }
    }

    /// Rank and result of merging two adjacent symbols, if they merge at all.
    pub(super) fn merge(&self, left: u32, right: u32) -> Option<(u32, u32)> {
        self.merges.get(&(left, right)).copied()
    }
}

/// GPT-2's reversible byte → printable character map, in open_clip's
/// vocabulary order: the printable Latin-1 bytes stand for themselves, the
/// others (controls, space, NBSP, soft hyphen) for U+0100 onwards.
fn byte_alphabet() -> Vec<(u8, char)> {
    let printable = |b: &u8| matches!(b, 0x21..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF);
    let shown = (0u8..=255).filter(printable).map(|b| (b, char::from(b)));
    let hidden = (0u8..=255).filter(|b| !printable(b)).zip('\u{100}'..);
    shown.chain(hidden).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_vocab_has_clip_layout() {
        let vocab = Vocab::bundled().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(vocab.merges.len(), MERGE_COUNT);
        // 'a' is the 65th printable byte (0x21 + 64); "i n" is the first merge.
        assert_eq!(vocab.byte_id(b'a', false), 64);
        assert_eq!(vocab.byte_id(b'a', true), 320);
        let i = vocab.byte_id(b'i', false);
        let n = vocab.byte_id(b'n', false);
        assert_eq!(vocab.merge(i, n), Some((0, 512)));
    }

    #[test]
    fn rejects_corrupt_files() {
        assert!(matches!(Vocab::from_gz(b"not gzip", "x.gz"), Err(TokenizerError::Vocab { .. })));
        let short = "#header\ni n\n";
        let err = Vocab::from_merges_text(short, "short.txt").map(|_| ());
        assert!(err.is_err_and(|e| e.to_string().contains("short.txt")));
    }
}
