//! Byte-pair encoding of one pre-token, with a thread-safe cache.

use std::collections::HashMap;
use std::sync::RwLock;

use super::vocab::Vocab;

/// Pre-tokens cached before the cache is emptied; bounds memory on endless
/// streams of distinct words while keeping the common ones hot.
const CACHE_CAPACITY: usize = 65_536;

/// Memoised BPE of pre-tokens (open_clip keeps the same cache, unbounded).
#[derive(Debug, Default)]
pub(super) struct BpeCache {
    words: RwLock<HashMap<String, Vec<u32>>>,
}

impl BpeCache {
    /// Appends the token ids of `word` to `out`.
    pub(super) fn encode_word(&self, vocab: &Vocab, word: &str, out: &mut Vec<u32>) {
        // A poisoned lock only means another thread panicked mid-insert; the
        // map itself is still a valid cache.
        if let Some(ids) = self.words.read().unwrap_or_else(|e| e.into_inner()).get(word) {
            out.extend_from_slice(ids);
            return;
        }
        let ids = bpe(vocab, word);
        out.extend_from_slice(&ids);
        let mut words = self.words.write().unwrap_or_else(|e| e.into_inner());
        if words.len() >= CACHE_CAPACITY {
            words.clear();
        }
        words.insert(word.to_owned(), ids);
    }
}

/// CLIP's BPE: start from the word's UTF-8 bytes, the last one marked as the
/// word end, then repeatedly merge every occurrence of the adjacent pair with
/// the lowest merge rank until no pair has one.
pub(super) fn bpe(vocab: &Vocab, word: &str) -> Vec<u32> {
    let bytes = word.as_bytes();
    let mut symbols: Vec<u32> =
        bytes.iter().enumerate().map(|(i, &b)| vocab.byte_id(b, i + 1 == bytes.len())).collect();
    while symbols.len() > 1 {
        let best = symbols
            .windows(2)
            .filter_map(|pair| vocab.merge(pair[0], pair[1]).map(|(rank, _)| (rank, pair[0], pair[1])))
            .min();
        let Some((_, left, right)) = best else { break };
        symbols = merge_all(vocab, &symbols, left, right);
    }
    symbols
}

/// Replaces each non-overlapping `left right` pair, scanning left to right.
fn merge_all(vocab: &Vocab, symbols: &[u32], left: u32, right: u32) -> Vec<u32> {
    let merged = vocab.merge(left, right).map_or(left, |(_, id)| id);
    let mut out = Vec::with_capacity(symbols.len());
    let mut i = 0;
    while i < symbols.len() {
        if symbols[i] == left && symbols.get(i + 1) == Some(&right) {
            out.push(merged);
            i += 2;
        } else {
            out.push(symbols[i]);
            i += 1;
        }
    }
    out
}
