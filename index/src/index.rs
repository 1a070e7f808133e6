//! Opening and reading an index file in place.

use std::fs::File;
use std::path::{Path, PathBuf};

use half::f16;
use memmap2::Mmap;

use crate::builder::INDEX_FILE;
use crate::error::{IndexError, Result};
use crate::format::*;
use crate::graph::GraphView;
use crate::kind::IndexKind;
use crate::taxonomy::{Lineage, Rank, Subtree, Taxon, TaxonId};
use crate::vectors::Rows;

/// A taxon index, memory-mapped. Opening reads and checks only the header, so
/// it costs the same for 300 taxa as for 900,000; the operating system pages
/// in what searches touch. `Send + Sync`: share one across threads.
pub struct TaxonIndex {
    path: PathBuf,
    map: Mmap,
    header: Header,
    kind: IndexKind,
    meta: BuildInfo,
}

/// What `index info` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IndexInfo {
    /// The index file.
    pub path: PathBuf,
    /// Format version.
    pub version: u32,
    /// What the rows are.
    pub kind: IndexKind,
    /// Number of taxa.
    pub taxa: usize,
    /// Vector dimension.
    pub dim: usize,
    /// Vector storage type.
    pub dtype: Dtype,
    /// File size in bytes.
    pub bytes: u64,
    /// Distinct nodes per rank, kingdom … species.
    pub nodes_per_rank: Vec<(Rank, usize)>,
    /// HNSW `M`, if the index has a graph.
    pub graph_m: Option<u32>,
    /// Levels of the graph (0 without one).
    pub graph_levels: u32,
    /// Taxa without an embedding (never predicted).
    pub unembedded: usize,
    /// The classes holding most of them (lineage down to class, count), largest first.
    pub unembedded_clades: Vec<(String, usize)>,
    /// Who wrote the file and from what.
    pub meta: BuildInfo,
}

impl TaxonIndex {
    /// Opens an index directory (or the `index.arbor` file inside one).
    pub fn open(path: impl AsRef<Path>) -> Result<TaxonIndex> {
        let path = path.as_ref();
        let path = if path.is_dir() { path.join(INDEX_FILE) } else { path.to_path_buf() };
        let file = File::open(&path).map_err(|e| IndexError::io(&path, e))?;
        // SAFETY: index files are never modified in place (writers rename a new
        // file over the old one), so the mapping cannot change under us.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| IndexError::io(&path, e))?;
        let header = read_header(&path, &map)?;
        let meta = read_meta(&path, &header, &map)?;
        let kind = match header.version {
            1 => IndexKind::infer_v1(&meta.source),
            _ => IndexKind::from_code(header.kind)
                .ok_or_else(|| IndexError::corrupt(&path, format!("unknown index kind code {}", header.kind)))?,
        };
        Ok(TaxonIndex { path, map, header, kind, meta })
    }

    /// Opens an index that must be of `kind`: a command that needs a tree of life refuses a
    /// photo collection by name instead of answering from it.
    ///
    /// # Errors
    /// As [`TaxonIndex::open`], or the file holds another kind.
    pub fn open_kind(path: impl AsRef<Path>, kind: IndexKind) -> Result<TaxonIndex> {
        let index = TaxonIndex::open(path)?;
        if index.kind != kind {
            return Err(IndexError::WrongKind { path: index.path.clone(), found: index.kind, expected: kind });
        }
        Ok(index)
    }

    /// Ids of the taxa without an embedding (stored as zero vectors: they score 0 against
    /// every photo, as in pybioclip, and can never be predicted), sorted.
    pub fn unembedded(&self) -> &[u32] {
        bytemuck::cast_slice(self.bytes(Section::Unembedded))
    }

    /// The `top` nodes at `rank` with the most taxa without an embedding (the lineage down to
    /// `rank`, empty ranks shown as "-", and the count), largest first.
    pub fn unembedded_clades(&self, rank: Rank, top: usize) -> Vec<(String, usize)> {
        let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for &id in self.unembedded() {
            if let Ok(t) = self.taxon(TaxonId(id)) {
                let path: Vec<&str> =
                    t.lineage.down_to(rank).iter().map(|s| if s.is_empty() { "-" } else { s.as_str() }).collect();
                *counts.entry(path.join(" > ")).or_default() += 1;
            }
        }
        let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        counts.truncate(top);
        counts
    }

    /// What the rows are.
    pub fn kind(&self) -> IndexKind {
        self.kind
    }

    /// The identity of the model that made the vectors, when the writer recorded one.
    pub fn model_identity(&self) -> Option<&str> {
        Some(self.meta.model.as_str()).filter(|m| !m.is_empty())
    }

    /// The index file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of taxa.
    pub fn len(&self) -> usize {
        self.header.count as usize
    }

    /// Always false: empty indexes are never written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.header.dim as usize
    }

    /// Vector storage type.
    pub fn dtype(&self) -> Dtype {
        Dtype::from_code(self.header.dtype).unwrap_or(Dtype::F32)
    }

    /// Whether the file has an HNSW graph (approximate search).
    pub fn has_graph(&self) -> bool {
        self.header.graph_m > 0
    }

    pub(crate) fn bytes(&self, s: Section) -> &[u8] {
        let e = self.header.section(s);
        // Bounds were checked when the header was read.
        &self.map[e.offset as usize..(e.offset + e.len) as usize]
    }

    pub(crate) fn u32s(&self, s: Section) -> &[u32] {
        // Sections start 64-byte aligned in a page-aligned map and their
        // lengths were checked to be multiples of 4.
        bytemuck::cast_slice(self.bytes(s))
    }

    pub(crate) fn rows(&self) -> Rows<'_> {
        let b = self.bytes(Section::Vectors);
        match self.dtype() {
            Dtype::F32 => Rows::F32(bytemuck::cast_slice(b)),
            Dtype::F16 => Rows::F16(bytemuck::cast_slice::<u8, f16>(b)),
        }
    }

    pub(crate) fn graph(&self) -> Option<GraphView<'_>> {
        let h = &self.header;
        (h.graph_m > 0).then(|| GraphView {
            m: h.graph_m as usize,
            m0: h.graph_m0 as usize,
            entry: h.graph_entry,
            top: h.graph_top,
            levels: self.bytes(Section::GraphLevels),
            base: self.u32s(Section::GraphBase),
            upper_start: self.u32s(Section::GraphUpperStart),
            upper: self.u32s(Section::GraphUpper),
        })
    }

    /// Taxon id stored at `slot`.
    pub(crate) fn id_at(&self, slot: u32) -> TaxonId {
        TaxonId(self.u32s(Section::SlotToId).get(slot as usize).copied().unwrap_or(u32::MAX))
    }

    /// Storage slot of a taxon id.
    pub(crate) fn slot_of(&self, id: TaxonId) -> Result<u32> {
        let slot = self.u32s(Section::IdToSlot).get(id.index()).copied();
        slot.filter(|&s| (s as usize) < self.len())
            .ok_or_else(|| IndexError::BadRequest(format!("taxon id {id} is not in the index ({} taxa)", self.len())))
    }

    /// The stored vector of a taxon, as f32.
    pub fn vector(&self, id: TaxonId) -> Result<Vec<f32>> {
        let slot = self.slot_of(id)?;
        Ok(self.rows().row_f32(slot as usize, self.dim()))
    }

    /// String `i` of the string table.
    pub(crate) fn string(&self, i: u32) -> Result<&str> {
        let offsets: &[u64] = bytemuck::cast_slice(self.bytes(Section::StringOffsets));
        let blob = self.bytes(Section::StringBlob);
        let (Some(&a), Some(&b)) = (offsets.get(i as usize), offsets.get(i as usize + 1)) else {
            return Err(IndexError::corrupt(&self.path, format!("string id {i} is out of range")));
        };
        let bytes = blob
            .get(a as usize..b as usize)
            .ok_or_else(|| IndexError::corrupt(&self.path, format!("string {i} lies outside the string table")))?;
        std::str::from_utf8(bytes).map_err(|_| IndexError::corrupt(&self.path, format!("string {i} is not UTF-8")))
    }

    fn lineage_row(&self, slot: u32) -> Result<&[u32]> {
        self.u32s(Section::Lineages)
            .get(slot as usize * 8..slot as usize * 8 + 8)
            .ok_or_else(|| IndexError::corrupt(&self.path, format!("slot {slot} has no lineage")))
    }

    pub(crate) fn lineage_at(&self, slot: u32) -> Result<Lineage> {
        let row = self.lineage_row(slot)?;
        let mut names: [String; 7] = Default::default();
        for (r, name) in names.iter_mut().enumerate() {
            *name = self.string(row[r])?.to_owned();
        }
        Ok(Lineage(names))
    }

    /// The taxon with id `id`.
    pub fn taxon(&self, id: TaxonId) -> Result<Taxon> {
        let slot = self.slot_of(id)?;
        self.taxon_at(slot)
    }

    pub(crate) fn taxon_at(&self, slot: u32) -> Result<Taxon> {
        let row = self.lineage_row(slot)?;
        Ok(Taxon {
            id: self.id_at(slot),
            lineage: self.lineage_at(slot)?,
            common_name: self.string(row[7])?.to_owned(),
        })
    }

    /// All taxa, or those under `within`, in taxon-id order.
    pub fn taxa(&self, within: Option<&Subtree>) -> Result<Vec<Taxon>> {
        let mut ids: Vec<TaxonId> = match within {
            Some(s) => s.slots.clone().map(|slot| self.id_at(slot)).collect(),
            None => (0..self.len() as u32).map(TaxonId).collect(),
        };
        ids.sort();
        ids.into_iter().map(|id| self.taxon(id)).collect()
    }

    /// Group index of `slot` at a rank above species.
    pub(crate) fn group_of(&self, slot: u32, rank: Rank) -> u32 {
        if rank == Rank::Species {
            return slot;
        }
        let groups = self.u32s(Section::Groups);
        groups.get(slot as usize * GROUP_RANKS + rank.depth()).copied().unwrap_or(u32::MAX)
    }

    /// Number of groups (distinct kingdom→rank paths) at a rank.
    pub fn group_count(&self, rank: Rank) -> usize {
        match rank {
            Rank::Species => self.len(),
            r => self.header.groups[r.depth()] as usize,
        }
    }

    /// The subtree of group `group` at `rank`.
    pub(crate) fn subtree(&self, rank: Rank, group: u32) -> Result<Subtree> {
        let slots = if rank == Rank::Species {
            group..group + 1
        } else {
            let starts = self.u32s(Section::GroupStarts);
            let base: usize = self.header.groups[..rank.depth()].iter().map(|g| *g as usize + 1).sum();
            let i = base + group as usize;
            match (starts.get(i), starts.get(i + 1)) {
                (Some(&a), Some(&b)) if a < b && b as usize <= self.len() => a..b,
                _ => {
                    return Err(IndexError::corrupt(
                        &self.path,
                        format!("group {group} at rank {rank} is out of range"),
                    ));
                }
            }
        };
        let lineage = self.lineage_at(slots.start)?;
        Ok(Subtree { rank, path: lineage.down_to(rank).to_vec(), slots })
    }

    /// Every node named `name` at any rank ("Aves", "Corvus", "Corvus corax"),
    /// compared ignoring ASCII case. A genus used in two families gives two subtrees.
    pub fn find(&self, name: &str) -> Result<Vec<Subtree>> {
        let names: &[NameEntry] = bytemuck::cast_slice(self.bytes(Section::Names));
        let key = name.trim().as_bytes().to_ascii_lowercase();
        let cmp_at = |i: usize| -> Result<std::cmp::Ordering> {
            Ok(self.string(names[i].name)?.as_bytes().to_ascii_lowercase().as_slice().cmp(key.as_slice()))
        };
        // Lower bound by binary search, then walk the equal run.
        let (mut lo, mut hi) = (0usize, names.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if cmp_at(mid)? == std::cmp::Ordering::Less { lo = mid + 1 } else { hi = mid }
        }
        let mut found = Vec::new();
        while lo < names.len() && cmp_at(lo)? == std::cmp::Ordering::Equal {
            let e = names[lo];
            let rank = Rank::from_depth(e.rank as usize)
                .ok_or_else(|| IndexError::corrupt(&self.path, format!("name entry {lo} has rank {}", e.rank)))?;
            found.push(self.subtree(rank, e.group)?);
            lo += 1;
        }
        if found.is_empty() {
            return Err(IndexError::UnknownName(name.to_owned()));
        }
        Ok(found)
    }

    /// The single node named `name`; an error if it is unknown or ambiguous.
    pub fn find_one(&self, name: &str) -> Result<Subtree> {
        // "Sulidae > Morus": the last part is the name, the others must be above it, in order.
        let mut parts: Vec<&str> = name.split('>').map(str::trim).collect();
        let last = parts.pop().unwrap_or_default();
        let mut found = self.find(last)?;
        if !parts.is_empty() {
            found.retain(|s| ancestors_match(&s.path[..s.path.len().saturating_sub(1)], &parts));
            if found.is_empty() {
                return Err(IndexError::UnknownName(name.to_owned()));
            }
        }
        if found.len() > 1 {
            let paths: Vec<String> = found.iter().map(|s| format!("{} {}", s.rank, s.path.join(" > "))).collect();
            return Err(IndexError::BadRequest(format!(
                "{name:?} names {} nodes: {}; name one by a part of its path, e.g. {:?}",
                found.len(),
                paths.join("; "),
                found[0].path[found[0].path.len().saturating_sub(2)..].join(" > ")
            )));
        }
        Ok(found.remove(0))
    }

    /// Summary for `index info`.
    pub fn info(&self) -> IndexInfo {
        IndexInfo {
            path: self.path.clone(),
            version: self.header.version,
            kind: self.kind,
            taxa: self.len(),
            dim: self.dim(),
            dtype: self.dtype(),
            bytes: self.map.len() as u64,
            nodes_per_rank: Rank::ALL.iter().map(|&r| (r, self.group_count(r))).collect(),
            graph_m: self.has_graph().then_some(self.header.graph_m),
            graph_levels: if self.has_graph() { self.header.graph_top + 1 } else { 0 },
            unembedded: self.unembedded().len(),
            unembedded_clades: self.unembedded_clades(Rank::Class, 5),
            meta: self.meta.clone(),
        }
    }

    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    pub(crate) fn raw(&self, range: std::ops::Range<u64>) -> &[u8] {
        &self.map[range.start as usize..range.end as usize]
    }

    pub(crate) fn map_len(&self) -> u64 {
        self.map.len() as u64
    }
}

/// Reads and checks the header: magic, version, checksum, and that every
/// section lies inside the file with the length its counts imply.
fn read_header(path: &Path, map: &[u8]) -> Result<Header> {
    let corrupt = |p: String| IndexError::corrupt(path, p);
    if map.len() < 8 || map[..8] != MAGIC {
        return Err(corrupt("not an Arbor index (bad magic bytes)".into()));
    }
    if map.len() < HEADER_LEN {
        return Err(corrupt(format!("truncated: {} bytes, shorter than the {HEADER_LEN}-byte header", map.len())));
    }
    let header: Header = bytemuck::pod_read_unaligned(&map[..HEADER_LEN]);
    if !(OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&header.version) {
        return Err(IndexError::Version { path: path.to_path_buf(), found: header.version, supported: FORMAT_VERSION });
    }
    if header.compute_crc() != header.header_crc32 {
        return Err(corrupt("header checksum mismatch".into()));
    }
    let dtype =
        Dtype::from_code(header.dtype).ok_or_else(|| corrupt(format!("unknown dtype code {}", header.dtype)))?;
    let expected = expected_lengths(&header, dtype);
    let mut end = HEADER_LEN as u64;
    for &s in Section::in_version(header.version) {
        let e = header.section(s);
        if !e.offset.is_multiple_of(ALIGN) || e.offset < end {
            return Err(corrupt(format!("section {} has a bad offset {}", s.name(), e.offset)));
        }
        let stop = e.offset.checked_add(e.len).ok_or_else(|| corrupt(format!("section {} overflows", s.name())))?;
        if stop > map.len() as u64 {
            return Err(corrupt(format!(
                "truncated: section {} ends at byte {stop} but the file has {} bytes",
                s.name(),
                map.len()
            )));
        }
        if let Some(want) = expected[s as usize]
            && want != e.len
        {
            return Err(corrupt(format!("section {} is {} bytes, expected {want}", s.name(), e.len)));
        }
        end = stop;
    }
    if header.count == 0 || header.dim == 0 {
        return Err(corrupt("index holds no taxa".into()));
    }
    if header.graph_m > 0 && (header.graph_entry >= header.count || header.graph_top > 16) {
        return Err(corrupt("graph entry point is out of range".into()));
    }
    Ok(header)
}

/// Whether `wanted` names appear among `ancestors` in the same order (case-insensitively).
fn ancestors_match(ancestors: &[String], wanted: &[&str]) -> bool {
    let mut rest = ancestors.iter();
    wanted.iter().all(|w| rest.any(|a| a.eq_ignore_ascii_case(w)))
}

/// The build metadata, in the layout of the file's version.
fn read_meta(path: &Path, header: &Header, map: &[u8]) -> Result<BuildInfo> {
    let e = header.section(Section::Meta);
    let bytes = &map[e.offset as usize..(e.offset + e.len) as usize];
    let config = bincode::config::standard();
    let decoded = match header.version {
        1 => bincode::serde::decode_from_slice::<BuildInfoV1, _>(bytes, config).map(|(m, _)| m.into()),
        _ => bincode::serde::decode_from_slice::<BuildInfo, _>(bytes, config).map(|(m, _)| m),
    };
    decoded.map_err(|e| IndexError::corrupt(path, format!("unreadable build metadata: {e}")))
}

/// The byte length each section must have, where the header's counts fix it.
fn expected_lengths(h: &Header, dtype: Dtype) -> [Option<u64>; SECTION_COUNT] {
    let n = h.count as u64;
    let graph = h.graph_m > 0;
    let groups: u64 = h.groups.iter().map(|g| *g as u64 + 1).sum();
    [
        Some(n * h.dim as u64 * dtype.size() as u64),
        Some(4 * n),
        Some(4 * n),
        Some(32 * n),
        Some(4 * GROUP_RANKS as u64 * n),
        Some(4 * groups),
        Some(8 * (h.strings as u64 + 1)),
        None,
        Some(std::mem::size_of::<NameEntry>() as u64 * h.names as u64),
        Some(if graph { n } else { 0 }),
        Some(if graph { 4 * n * h.graph_m0 as u64 } else { 0 }),
        Some(if graph { 4 * n } else { 0 }),
        Some(4 * h.graph_upper_rows as u64 * h.graph_m as u64),
        None,
        Some(4 * h.unembedded as u64),
    ]
}
