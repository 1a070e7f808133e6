//! The on-disk layout: a `#[repr(C)]` header followed by 64-byte-aligned sections.
//!
//! See `docs/formats.md` for the full description. Everything is little-endian;
//! the header is read with `bytemuck`, never parsed field by field, so opening
//! costs the same at 300 taxa as at 900,000.

use bytemuck::{Pod, Zeroable};

/// First eight bytes of every index file.
pub const MAGIC: [u8; 8] = *b"ARBORIDX";
/// The format version this build writes. Version 1 files (no kind, no model field) are still
/// read: their kind is inferred from what their writers recorded.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest format version this build reads.
pub const OLDEST_READABLE_VERSION: u32 = 1;
/// Alignment of every section, so vector rows can be cast in place and SIMD loads stay aligned.
pub const ALIGN: u64 = 64;
/// Maximum number of sections a header can describe.
pub const MAX_SECTIONS: usize = 16;
/// Ranks that have group tables (kingdom … genus; species groups are the taxa themselves).
pub const GROUP_RANKS: usize = 6;
/// Marks an empty neighbour slot in the graph tables.
pub const NO_NEIGHBOUR: u32 = u32::MAX;

/// Storage type of the embedding vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// 32-bit floats: exact.
    F32,
    /// 16-bit floats: half the size, scores within ~1e-3.
    F16,
}

impl Dtype {
    pub(crate) fn code(self) -> u32 {
        match self {
            Dtype::F32 => 0,
            Dtype::F16 => 1,
        }
    }

    pub(crate) fn from_code(code: u32) -> Option<Dtype> {
        match code {
            0 => Some(Dtype::F32),
            1 => Some(Dtype::F16),
            _ => None,
        }
    }

    /// Bytes per component.
    pub fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F16 => 2,
        }
    }
}

impl std::fmt::Display for Dtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Dtype::F32 => "f32",
            Dtype::F16 => "f16",
        })
    }
}

impl std::str::FromStr for Dtype {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f32" => Ok(Dtype::F32),
            "f16" => Ok(Dtype::F16),
            other => Err(format!("unknown dtype {other:?} (expected f32 or f16)")),
        }
    }
}

/// The sections of an index file, in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Section {
    /// `count × dim` vectors in storage (lineage) order.
    Vectors = 0,
    /// `count` u32: storage slot → taxon id.
    SlotToId,
    /// `count` u32: taxon id → storage slot.
    IdToSlot,
    /// `count × 8` u32 string ids: the seven ranks and the common name, per slot.
    Lineages,
    /// `count × 6` u32: the group (node) index of each slot at kingdom … genus.
    Groups,
    /// For each of the six group ranks, `groups + 1` u32 start slots, concatenated.
    GroupStarts,
    /// `strings + 1` u64 byte offsets into the string blob.
    StringOffsets,
    /// UTF-8 bytes of all strings.
    StringBlob,
    /// `NameEntry` rows sorted by ASCII-lower-cased name, for lookups by name.
    Names,
    /// `count` u8: the top graph level of each slot.
    GraphLevels,
    /// `count × 2M` u32: level-0 neighbours per slot, padded with `NO_NEIGHBOUR`.
    GraphBase,
    /// `count` u32: first row of a slot's upper-level neighbours, or `NO_NEIGHBOUR`.
    GraphUpperStart,
    /// rows of `M` u32: neighbours at levels 1..=top, one row per level.
    GraphUpper,
    /// bincode blob with build metadata (`BuildInfo`).
    Meta,
    /// Sorted u32 ids of the taxa without an embedding (all-zero vectors: never predicted,
    /// scored 0 as pybioclip scores them). Version 2.
    Unembedded,
}

/// How many sections a file of the current version has.
pub const SECTION_COUNT: usize = 15;

impl Section {
    /// All sections, in file order.
    pub const ALL: [Section; SECTION_COUNT] = [
        Section::Vectors,
        Section::SlotToId,
        Section::IdToSlot,
        Section::Lineages,
        Section::Groups,
        Section::GroupStarts,
        Section::StringOffsets,
        Section::StringBlob,
        Section::Names,
        Section::GraphLevels,
        Section::GraphBase,
        Section::GraphUpperStart,
        Section::GraphUpper,
        Section::Meta,
        Section::Unembedded,
    ];

    /// The sections a file of `version` has (version 1 ends at `Meta`).
    pub fn in_version(version: u32) -> &'static [Section] {
        if version == 1 { &Self::ALL[..14] } else { &Self::ALL[..] }
    }

    /// A short name for error messages and `index info`.
    pub fn name(self) -> &'static str {
        match self {
            Section::Vectors => "vectors",
            Section::SlotToId => "slot-to-id",
            Section::IdToSlot => "id-to-slot",
            Section::Lineages => "lineages",
            Section::Groups => "groups",
            Section::GroupStarts => "group-starts",
            Section::StringOffsets => "string-offsets",
            Section::StringBlob => "string-blob",
            Section::Names => "names",
            Section::GraphLevels => "graph-levels",
            Section::GraphBase => "graph-base",
            Section::GraphUpperStart => "graph-upper-start",
            Section::GraphUpper => "graph-upper",
            Section::Meta => "meta",
            Section::Unembedded => "unembedded",
        }
    }
}

/// Where one section lies and its CRC-32.
#[derive(Debug, Clone, Copy, Pod, Zeroable, Default)]
#[repr(C)]
pub struct SectionEntry {
    /// Byte offset from the start of the file (a multiple of `ALIGN`).
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
    /// CRC-32 (IEEE) of the section's bytes.
    pub crc32: u32,
    /// Zero.
    pub reserved: u32,
}

/// The fixed-size file header (512 bytes).
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub struct Header {
    /// `MAGIC`.
    pub magic: [u8; 8],
    /// `FORMAT_VERSION`.
    pub version: u32,
    /// `Dtype` code of the vectors.
    pub dtype: u32,
    /// Vector dimension.
    pub dim: u32,
    /// Number of taxa.
    pub count: u32,
    /// Number of strings in the string table.
    pub strings: u32,
    /// Number of name-lookup entries.
    pub names: u32,
    /// Groups per rank, kingdom … genus.
    pub groups: [u32; GROUP_RANKS],
    /// HNSW `M` (upper-level degree); 0 when the file has no graph.
    pub graph_m: u32,
    /// Level-0 degree (`2M`).
    pub graph_m0: u32,
    /// Slot of the graph's entry point.
    pub graph_entry: u32,
    /// Top level of the graph.
    pub graph_top: u32,
    /// Rows in the upper-level neighbour table.
    pub graph_upper_rows: u32,
    /// `IndexKind` code (version 2; zero in version 1 files).
    pub kind: u32,
    /// Taxa without an embedding (version 2).
    pub unembedded: u32,
    /// Zero.
    pub reserved: [u32; 3],
    /// Section table, indexed by `Section as usize`.
    pub sections: [SectionEntry; MAX_SECTIONS],
    /// Zero padding to 508 bytes.
    pub padding: [u8; 28],
    /// CRC-32 of the header's first 508 bytes.
    pub header_crc32: u32,
}

/// Size of the header in bytes.
pub const HEADER_LEN: usize = std::mem::size_of::<Header>();
const _: () = assert!(HEADER_LEN == 512);

impl Header {
    /// CRC-32 over every byte before `header_crc32`.
    pub fn compute_crc(&self) -> u32 {
        crc32fast::hash(&bytemuck::bytes_of(self)[..HEADER_LEN - 4])
    }

    /// The entry of one section.
    pub fn section(&self, s: Section) -> SectionEntry {
        self.sections[s as usize]
    }
}

/// One row of the name-lookup table.
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Eq)]
#[repr(C)]
pub struct NameEntry {
    /// String id of the name (the binomial for species).
    pub name: u32,
    /// `Rank` depth.
    pub rank: u32,
    /// Group index at that rank (the slot, for species).
    pub group: u32,
}

/// Metadata kept as a small bincode blob: nothing here is needed to search.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, Default)]
pub struct BuildInfo {
    /// Program and version that wrote the file.
    pub writer: String,
    /// Free text: where the vectors came from (a model identity, a file name…).
    pub source: String,
    /// HNSW construction beam width.
    pub ef_construction: u32,
    /// Identity of the model whose embeddings the file holds, where one made them (empty when
    /// unknown, e.g. vectors imported from pybioclip's files).
    pub model: String,
}

/// The metadata of format version 1 files.
#[derive(serde::Deserialize)]
pub(crate) struct BuildInfoV1 {
    pub writer: String,
    pub source: String,
    pub ef_construction: u32,
}

impl From<BuildInfoV1> for BuildInfo {
    fn from(v1: BuildInfoV1) -> Self {
        BuildInfo { writer: v1.writer, source: v1.source, ef_construction: v1.ef_construction, model: String::new() }
    }
}

/// Rounds up to the next multiple of `ALIGN`.
pub(crate) fn align_up(x: u64) -> u64 {
    x.div_ceil(ALIGN) * ALIGN
}
