//! The Linnaean vocabulary: ranks, taxon ids, lineages and subtrees.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

/// The seven ranks BioCLIP labels carry, from the root down.
///
/// `Species` is the rank of the species epithet; its display name is the
/// binomial (`Genus epithet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rank {
    /// e.g. Animalia.
    Kingdom,
    /// e.g. Chordata.
    Phylum,
    /// e.g. Aves.
    Class,
    /// e.g. Passeriformes.
    Order,
    /// e.g. Corvidae.
    Family,
    /// e.g. Corvus.
    Genus,
    /// e.g. corax (shown as "Corvus corax").
    Species,
}

impl Rank {
    /// All ranks, root first.
    pub const ALL: [Rank; 7] =
        [Rank::Kingdom, Rank::Phylum, Rank::Class, Rank::Order, Rank::Family, Rank::Genus, Rank::Species];

    /// Position from the root (kingdom = 0).
    pub fn depth(self) -> usize {
        self as usize
    }

    /// The rank at a depth, if there is one.
    pub fn from_depth(depth: usize) -> Option<Rank> {
        Rank::ALL.get(depth).copied()
    }

    /// Lower-case name, as used in CSV headers and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Rank::Kingdom => "kingdom",
            Rank::Phylum => "phylum",
            Rank::Class => "class",
            Rank::Order => "order",
            Rank::Family => "family",
            Rank::Genus => "genus",
            Rank::Species => "species",
        }
    }

    /// Ranks from the kingdom down to and including `self`.
    pub fn down_to(self) -> &'static [Rank] {
        &Rank::ALL[..=self.depth()]
    }
}

impl fmt::Display for Rank {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Rank {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rank::ALL
            .into_iter()
            .find(|r| {
                r.name().eq_ignore_ascii_case(s) || (s.eq_ignore_ascii_case("species_epithet") && *r == Rank::Species)
            })
            .ok_or_else(|| {
                format!("unknown rank {s:?} (expected kingdom, phylum, class, order, family, genus or species)")
            })
    }
}

/// A taxon's identity: its row number in the input the index was built from.
///
/// Ids are stable across the index's internal reordering, so they line up with
/// the caller's own arrays (e.g. pybioclip's embedding columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TaxonId(pub u32);

impl TaxonId {
    /// The id as an index into the caller's arrays.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for TaxonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The seven rank names of one taxon, kingdom first. Any may be empty, as in
/// BioCLIP's tree of life; the epithet may carry a subspecies ("arctos syriacus").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct Lineage(pub [String; 7]);

impl Lineage {
    /// Builds a lineage from the seven names, kingdom first.
    pub fn new<S: Into<String>>(names: [S; 7]) -> Self {
        Lineage(names.map(Into::into))
    }

    /// The name at one rank (the bare epithet for `Species`).
    pub fn get(&self, rank: Rank) -> &str {
        &self.0[rank.depth()]
    }

    /// The binomial `Genus epithet`, as pybioclip's `species` column shows it.
    pub fn species(&self) -> String {
        binomial(self.get(Rank::Genus), self.get(Rank::Species))
    }

    /// The names from the kingdom down to `rank`.
    pub fn down_to(&self, rank: Rank) -> &[String] {
        &self.0[..=rank.depth()]
    }

    /// The label BioCLIP's tree-of-life embeddings were made from: the seven
    /// ranks and the common name joined by single spaces, empty ones included.
    pub fn label(&self, common_name: &str) -> String {
        format!("{} {}", self.0.join(" "), common_name)
    }
}

pub(crate) fn binomial(genus: &str, epithet: &str) -> String {
    format!("{genus} {epithet}")
}

/// One taxon as given to the index builder.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct TaxonRecord {
    /// Kingdom to species epithet.
    pub lineage: Lineage,
    /// Vernacular name; may be empty.
    pub common_name: String,
}

/// One taxon as read back from an index.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Taxon {
    /// Its id (input row).
    pub id: TaxonId,
    /// Kingdom to species epithet.
    pub lineage: Lineage,
    /// Vernacular name; may be empty.
    pub common_name: String,
}

/// A node of the tree at some rank: all taxa sharing a kingdom→rank path.
///
/// Because the index stores taxa in lineage order, a subtree is one contiguous
/// range of storage slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subtree {
    /// The rank of the node.
    pub rank: Rank,
    /// The names from the kingdom down to `rank` (the binomial's parts for species).
    pub path: Vec<String>,
    /// Storage slots of the taxa under it.
    pub slots: Range<u32>,
}

impl Subtree {
    /// How many taxa are under it.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether it is empty (never true for subtrees the index returns).
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The node's own name ("Aves", or "Corvus corax" for a species).
    pub fn name(&self) -> String {
        match self.rank {
            Rank::Species => binomial(&self.path[Rank::Genus.depth()], &self.path[Rank::Species.depth()]),
            r => self.path[r.depth()].clone(),
        }
    }
}
