//! Latin-like taxon names and English-like common names, drawn from syllables.
//!
//! Scientific names follow the suffix conventions of real ranks (orders end in `-iformes`,
//! families in `-idae`), so a caption looks like BioCLIP's. Common names are drawn
//! independently of the lineage: like real vernacular names, they say nothing reliable
//! about the tree, which is what makes the common-name text type weak on unseen species.

use std::collections::HashSet;

use arbor_index::Rank;
use rand::Rng;
use rand::seq::SliceRandom;

const ONSETS: &[&str] =
    &["b", "c", "d", "f", "g", "l", "m", "n", "p", "r", "s", "t", "v", "th", "ph", "ch", "tr", "cr", "pl", "st"];
const VOWELS: &[&str] = &["a", "e", "i", "o", "u", "ae", "io", "ou"];
const ADJECTIVES: &[&str] = &[
    "golden", "spotted", "lesser", "greater", "crested", "pale", "dusky", "royal", "little", "giant", "marsh",
    "mountain", "silver", "scarlet", "hooded", "striped", "common", "northern", "southern", "painted", "shy", "bold",
    "velvet", "ashy", "tufted", "woolly", "ringed", "banded", "sooty", "rusty",
];
const NOUNS: &[&str] = &[
    "warbler", "beetle", "fern", "moth", "lily", "shrew", "finch", "toad", "orchid", "snail", "wren", "cricket",
    "sedge", "newt", "thistle", "skipper", "plover", "lichen", "gecko", "violet", "weevil", "heron", "moss", "perch",
    "clover", "lark", "mantis", "puffball", "vole", "sparrow",
];

/// Draws names that are unique within their rank.
#[derive(Debug, Default)]
pub struct NameGenerator {
    used: HashSet<String>,
}

impl NameGenerator {
    /// A fresh name at `rank`, capitalised like a real one (epithets are lower case).
    pub fn scientific(&mut self, rank: Rank, rng: &mut impl Rng) -> String {
        let suffix = match rank {
            Rank::Kingdom => "ia",
            Rank::Phylum => "ota",
            Rank::Class => "ida",
            Rank::Order => "iformes",
            Rank::Family => "idae",
            Rank::Genus => "us",
            Rank::Species => ["a", "is", "um", "ensis", "ata"].choose(rng).copied().unwrap_or("a"),
        };
        loop {
            let syllables = rng.gen_range(2..=3);
            let stem: String =
                (0..syllables).map(|_| format!("{}{}", pick(ONSETS, rng), pick(VOWELS, rng))).collect::<String>();
            let stem = stem.trim_end_matches(|c| "aeiou".contains(c));
            let word = format!("{stem}{suffix}");
            let name = if rank == Rank::Species { word } else { capitalise(&word) };
            if self.used.insert(format!("{rank:?}:{name}")) {
                return name;
            }
        }
    }

    /// A fresh common name ("ringed sedge"), with a second adjective when the pairs run out.
    pub fn common(&mut self, rng: &mut impl Rng) -> String {
        for attempt in 0.. {
            let mut name = format!("{} {}", pick(ADJECTIVES, rng), pick(NOUNS, rng));
            if attempt > 20 {
                name = format!("{} {name}", pick(ADJECTIVES, rng));
            }
            if self.used.insert(format!("common:{name}")) {
                return name;
            }
        }
        unreachable!("the loop above only ends by returning")
    }
}

fn pick<'a>(items: &[&'a str], rng: &mut impl Rng) -> &'a str {
    items[rng.gen_range(0..items.len())]
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn names_follow_rank_conventions_and_never_repeat() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut names = NameGenerator::default();
        let families: Vec<String> = (0..200).map(|_| names.scientific(Rank::Family, &mut rng)).collect();
        assert!(families.iter().all(|f| f.ends_with("idae") && f.chars().next().is_some_and(char::is_uppercase)));
        assert_eq!(families.iter().collect::<HashSet<_>>().len(), 200);
        let epithet = names.scientific(Rank::Species, &mut rng);
        assert!(epithet.chars().all(|c| c.is_ascii_lowercase()), "{epithet}");
        let commons: HashSet<String> = (0..1000).map(|_| names.common(&mut rng)).collect();
        assert_eq!(commons.len(), 1000);
    }
}
