//! Writing an index: sort taxa into lineage order, intern names, freeze the
//! graph, lay out the sections, and rename the finished file into place.

use std::collections::HashMap;
use std::fs;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use half::f16;

use crate::error::{IndexError, Result};
use crate::format::*;
use crate::graph::{self, FrozenGraph, GraphParams};
use crate::kind::IndexKind;
use crate::publish::write_atomically;
use crate::taxonomy::{Rank, TaxonRecord, binomial};
use crate::vectors::check_vector;

/// The file inside an index directory.
pub const INDEX_FILE: &str = "index.arbor";

/// Stages a build reports progress for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildStage {
    /// Inserting vectors into the HNSW graph.
    Graph,
    /// Writing the file.
    Write,
}

/// Builds a taxon index from taxa and their embeddings.
///
/// ```
/// use arbor_index::{IndexBuilder, Lineage, TaxonRecord, TaxonIndex};
/// let taxa = vec![
///     TaxonRecord { lineage: Lineage::new(["Animalia", "Chordata", "Aves", "Passeriformes", "Corvidae", "Corvus", "corax"]), common_name: "common raven".into() },
///     TaxonRecord { lineage: Lineage::new(["Plantae", "Tracheophyta", "Magnoliopsida", "Rosales", "Rosaceae", "Rosa", "canina"]), common_name: "dog rose".into() },
/// ];
/// let vectors = [1.0f32, 0.0, 0.0, 1.0];
/// let dir = tempfile::tempdir()?;
/// IndexBuilder::new(2).build(&taxa, &vectors, dir.path())?;
/// let index = TaxonIndex::open(dir.path())?;
/// assert_eq!(index.len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct IndexBuilder<'p> {
    dim: usize,
    dtype: Dtype,
    graph: Option<GraphParams>,
    source: String,
    kind: IndexKind,
    model: String,
    progress: Option<&'p (dyn Fn(BuildStage, u64, u64) + Sync)>,
}

impl<'p> IndexBuilder<'p> {
    /// A builder for `dim`-dimensional vectors: f32 storage and an HNSW graph with default parameters.
    pub fn new(dim: usize) -> Self {
        IndexBuilder {
            dim,
            dtype: Dtype::F32,
            graph: Some(GraphParams::default()),
            source: String::new(),
            kind: IndexKind::TreeOfLife,
            model: String::new(),
            progress: None,
        }
    }

    /// Storage type of the vectors.
    pub fn dtype(mut self, dtype: Dtype) -> Self {
        self.dtype = dtype;
        self
    }

    /// Graph parameters, or `None` for an exact-only index.
    pub fn graph(mut self, params: Option<GraphParams>) -> Self {
        self.graph = params;
        self
    }

    /// Free text recorded in the file (e.g. the model the vectors came from).
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// What the rows are (default: a tree of life).
    pub fn kind(mut self, kind: IndexKind) -> Self {
        self.kind = kind;
        self
    }

    /// The identity of the model that made the vectors, checked by readers that embed queries.
    pub fn model(mut self, identity: impl Into<String>) -> Self {
        self.model = identity.into();
        self
    }

    /// A callback for progress bars: `(stage, done, total)`.
    pub fn progress(mut self, f: &'p (dyn Fn(BuildStage, u64, u64) + Sync)) -> Self {
        self.progress = Some(f);
        self
    }

    /// Builds the index into directory `out` (created if missing).
    ///
    /// `vectors` is row-major, one row per taxon in the order of `taxa` (that order defines
    /// the taxon ids): unit length, or all zeros for a taxon without an embedding (scored 0,
    /// never predicted). The file is written beside its final name and renamed into place, so
    /// readers never see half an index.
    ///
    /// # Errors
    /// Rows of the wrong width, not finite, neither unit nor zero; counts that do not match;
    /// a file that cannot be written.
    pub fn build(&self, taxa: &[TaxonRecord], vectors: &[f32], out: &Path) -> Result<PathBuf> {
        if self.dim == 0 || !vectors.len().is_multiple_of(self.dim) {
            return Err(IndexError::BadRequest(format!(
                "{} numbers do not form rows of dimension {}",
                vectors.len(),
                self.dim
            )));
        }
        self.build_from(taxa, &SliceSource { data: vectors, dim: self.dim }, out)
    }

    /// Builds the index reading each taxon's vector from `source` (rows as in
    /// [`IndexBuilder::build`]). Without a graph the vectors are streamed to the file in
    /// storage order and never held in memory, so an 867,455 × 768 tree of life is built in
    /// memory proportional to its names, not its vectors.
    ///
    /// # Errors
    /// As [`IndexBuilder::build`], or the source fails to read (the error names it).
    pub fn build_from(&self, taxa: &[TaxonRecord], source: &dyn VectorSource, out: &Path) -> Result<PathBuf> {
        if source.dim() != self.dim {
            return Err(IndexError::BadRequest(format!(
                "vectors of width {}, the builder was made for {}",
                source.dim(),
                self.dim
            )));
        }
        let n = self.check(taxa, source.len())?;
        let order = lineage_order(taxa);
        let (graph, sorted) = match self.graph {
            Some(p) => {
                let sorted = read_sorted(source, &order)?;
                let report = |done, total| self.report(BuildStage::Graph, done, total);
                (graph::build(&sorted, self.dim, p, &report), Some(sorted))
            }
            None => (FrozenGraph::default(), None),
        };
        let tables = Tables::new(taxa, &order);
        fs::create_dir_all(out).map_err(|e| IndexError::io(out, e))?;
        let path = out.join(INDEX_FILE);
        self.report(BuildStage::Write, 0, n as u64);
        let row = |slot: usize, buf: &mut [f32]| match &sorted {
            Some(sorted) => {
                buf.copy_from_slice(&sorted[slot * self.dim..(slot + 1) * self.dim]);
                Ok(())
            }
            None => source.read_row(order[slot] as usize, buf),
        };
        self.write(&path, &order, &row, &tables, &graph)?;
        self.report(BuildStage::Write, n as u64, n as u64);
        Ok(path)
    }

    fn report(&self, stage: BuildStage, done: u64, total: u64) {
        if let Some(f) = self.progress {
            f(stage, done, total);
        }
    }

    fn check(&self, taxa: &[TaxonRecord], n: usize) -> Result<usize> {
        if self.dim == 0 {
            return Err(IndexError::BadRequest("vector dimension must be at least 1".into()));
        }
        if n != taxa.len() {
            return Err(IndexError::BadRequest(format!("{n} vectors but {} taxa", taxa.len())));
        }
        if n == 0 {
            return Err(IndexError::BadRequest("cannot build an index of zero taxa".into()));
        }
        if n >= NO_NEIGHBOUR as usize {
            return Err(IndexError::BadRequest(format!("{n} taxa is more than an index holds")));
        }
        if let Some(p) = self.graph
            && !(4..=128).contains(&p.m)
        {
            return Err(IndexError::BadRequest(format!("HNSW M must be within 4..=128, got {}", p.m)));
        }
        Ok(n)
    }

    /// Writes the file: a placeholder header, the vectors streamed in storage order (checked,
    /// checksummed and their zero rows noted on the way), the other sections, then the real
    /// header over the placeholder.
    fn write(&self, path: &Path, order: &[u32], row: &RowReader<'_>, t: &Tables, g: &FrozenGraph) -> Result<()> {
        let n = order.len();
        let mut id_to_slot = vec![0u32; n];
        for (slot, &id) in order.iter().enumerate() {
            id_to_slot[id as usize] = slot as u32;
        }
        let meta = BuildInfo {
            writer: format!("arbor-index {}", env!("CARGO_PKG_VERSION")),
            source: self.source.clone(),
            ef_construction: self.graph.map_or(0, |p| p.ef_construction as u32),
            model: self.model.clone(),
        };
        let meta = bincode::serde::encode_to_vec(&meta, bincode::config::standard())
            .map_err(|e| IndexError::BadRequest(format!("cannot encode metadata: {e}")))?;
        let mut header = Header {
            magic: MAGIC,
            version: FORMAT_VERSION,
            dtype: self.dtype.code(),
            dim: self.dim as u32,
            count: n as u32,
            strings: (t.string_offsets.len() - 1) as u32,
            names: t.names.len() as u32,
            groups: t.group_counts,
            graph_m: g.m,
            graph_m0: g.m0,
            graph_entry: g.entry,
            graph_top: g.top,
            graph_upper_rows: if g.m == 0 { 0 } else { (g.upper.len() / g.m as usize) as u32 },
            kind: self.kind.code(),
            unembedded: 0,
            reserved: [0; 3],
            sections: [SectionEntry::default(); MAX_SECTIONS],
            padding: [0; 28],
            header_crc32: 0,
        };
        // A bad vector stops the write; the error is kept here and reported once the partial
        // file is gone.
        let mut bad: Option<IndexError> = None;
        let written = write_atomically(path, |w| {
            w.write_all(bytemuck::bytes_of(&header))?;
            let mut pos = HEADER_LEN as u64;
            let (vectors, unembedded) = match self.stream_vectors(w, &mut pos, order, row, path) {
                Ok(done) => done,
                Err(e) => {
                    bad = Some(e);
                    return Err(std::io::Error::other("bad vector"));
                }
            };
            header.sections[Section::Vectors as usize] = vectors;
            header.unembedded = unembedded.len() as u32;
            let rest: [(Section, &[u8]); SECTION_COUNT - 1] = [
                (Section::SlotToId, bytemuck::cast_slice(order)),
                (Section::IdToSlot, bytemuck::cast_slice(&id_to_slot)),
                (Section::Lineages, bytemuck::cast_slice(&t.lineages)),
                (Section::Groups, bytemuck::cast_slice(&t.groups)),
                (Section::GroupStarts, bytemuck::cast_slice(&t.group_starts)),
                (Section::StringOffsets, bytemuck::cast_slice(&t.string_offsets)),
                (Section::StringBlob, &t.string_blob),
                (Section::Names, bytemuck::cast_slice(&t.names)),
                (Section::GraphLevels, &g.levels),
                (Section::GraphBase, bytemuck::cast_slice(&g.base)),
                (Section::GraphUpperStart, bytemuck::cast_slice(&g.upper_start)),
                (Section::GraphUpper, bytemuck::cast_slice(&g.upper)),
                (Section::Meta, &meta),
                (Section::Unembedded, bytemuck::cast_slice(&unembedded)),
            ];
            for (s, bytes) in rest {
                header.sections[s as usize] = put_section(w, &mut pos, bytes)?;
            }
            header.header_crc32 = header.compute_crc();
            w.seek(SeekFrom::Start(0))?;
            w.write_all(bytemuck::bytes_of(&header))
        });
        match (written, bad) {
            (_, Some(e)) => Err(e),
            (result, None) => result,
        }
    }

    /// Streams every slot's vector to `w` (checked, converted to the storage type), returning
    /// the section entry and the sorted ids of the all-zero rows.
    fn stream_vectors(
        &self,
        w: &mut BufWriter<fs::File>,
        pos: &mut u64,
        order: &[u32],
        row: &RowReader<'_>,
        path: &Path,
    ) -> Result<(SectionEntry, Vec<u32>)> {
        let offset = align_up(*pos);
        let io = |e| IndexError::io(path, e);
        w.write_all(&vec![0u8; (offset - *pos) as usize]).map_err(io)?;
        let (mut crc, mut unembedded) = (crc32fast::Hasher::new(), Vec::new());
        let mut buf = vec![0f32; self.dim];
        let mut bytes = Vec::with_capacity(self.dim * 4);
        for (slot, &id) in order.iter().enumerate() {
            row(slot, &mut buf)?;
            if check_row(id as usize, &buf)? == RowKind::Zero {
                unembedded.push(id);
            }
            bytes.clear();
            match self.dtype {
                Dtype::F32 => bytes.extend_from_slice(bytemuck::cast_slice(&buf)),
                Dtype::F16 => bytes.extend(buf.iter().flat_map(|x| f16::from_f32(*x).to_le_bytes())),
            }
            crc.update(&bytes);
            w.write_all(&bytes).map_err(io)?;
            if slot % 65_536 == 0 {
                self.report(BuildStage::Write, slot as u64, order.len() as u64);
            }
        }
        unembedded.sort_unstable();
        let len = (order.len() * self.dim * self.dtype.size()) as u64;
        *pos = offset + len;
        Ok((SectionEntry { offset, len, crc32: crc.finalize(), reserved: 0 }, unembedded))
    }
}

/// Writes one section at the next aligned offset (zero padding before it).
fn put_section(w: &mut BufWriter<fs::File>, pos: &mut u64, bytes: &[u8]) -> std::io::Result<SectionEntry> {
    let offset = align_up(*pos);
    w.write_all(&vec![0u8; (offset - *pos) as usize])?;
    w.write_all(bytes)?;
    *pos = offset + bytes.len() as u64;
    Ok(SectionEntry { offset, len: bytes.len() as u64, crc32: crc32fast::hash(bytes), reserved: 0 })
}

/// Reads the vector of storage slot `slot` into the buffer.
type RowReader<'a> = dyn Fn(usize, &mut [f32]) -> Result<()> + 'a;

/// Where a build reads the taxa's vectors: row `id` of a `len × dim` table, in any order.
pub trait VectorSource: Sync {
    /// Width of the rows.
    fn dim(&self) -> usize;
    /// Number of rows (taxa).
    fn len(&self) -> usize;
    /// Whether there are no rows.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Copies row `id` into `out` (`dim` long).
    ///
    /// # Errors
    /// The row cannot be read (the error names where it came from).
    fn read_row(&self, id: usize, out: &mut [f32]) -> Result<()>;
}

/// Rows held in memory, row-major.
struct SliceSource<'a> {
    data: &'a [f32],
    dim: usize,
}

impl VectorSource for SliceSource<'_> {
    fn dim(&self) -> usize {
        self.dim
    }

    fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    fn read_row(&self, id: usize, out: &mut [f32]) -> Result<()> {
        out.copy_from_slice(&self.data[id * self.dim..(id + 1) * self.dim]);
        Ok(())
    }
}

/// Every slot's vector in storage order, checked (for the graph, which needs them in memory).
fn read_sorted(source: &dyn VectorSource, order: &[u32]) -> Result<Vec<f32>> {
    let dim = source.dim();
    let mut sorted = vec![0f32; order.len() * dim];
    for (slot, &id) in order.iter().enumerate() {
        let row = &mut sorted[slot * dim..(slot + 1) * dim];
        source.read_row(id as usize, row)?;
        check_row(id as usize, row)?;
    }
    Ok(sorted)
}

/// A stored vector is a unit embedding, or all zeros for a taxon without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowKind {
    Unit,
    Zero,
}

fn check_row(id: usize, v: &[f32]) -> Result<RowKind> {
    if v.iter().all(|&x| x == 0.0) {
        return Ok(RowKind::Zero);
    }
    check_vector(id, v, v.len(), true)?;
    Ok(RowKind::Unit)
}

/// Taxon ids sorted by lineage (then id), so every subtree is contiguous.
fn lineage_order(taxa: &[TaxonRecord]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..taxa.len() as u32).collect();
    order.sort_by(|&a, &b| taxa[a as usize].lineage.cmp(&taxa[b as usize].lineage).then(a.cmp(&b)));
    order
}

/// The name tables of an index, in storage order.
struct Tables {
    lineages: Vec<[u32; 8]>,
    groups: Vec<[u32; GROUP_RANKS]>,
    group_counts: [u32; GROUP_RANKS],
    group_starts: Vec<u32>,
    string_offsets: Vec<u64>,
    string_blob: Vec<u8>,
    names: Vec<NameEntry>,
}

impl Tables {
    fn new(taxa: &[TaxonRecord], order: &[u32]) -> Self {
        let mut strings = Interner::default();
        let mut t = Tables {
            lineages: Vec::with_capacity(order.len()),
            groups: Vec::with_capacity(order.len()),
            group_counts: [0; GROUP_RANKS],
            group_starts: Vec::new(),
            string_offsets: Vec::new(),
            string_blob: Vec::new(),
            names: Vec::new(),
        };
        let mut starts: [Vec<u32>; GROUP_RANKS] = Default::default();
        for (slot, &id) in order.iter().enumerate() {
            let taxon = &taxa[id as usize];
            let mut row = [0u32; 8];
            for (r, name) in taxon.lineage.0.iter().enumerate() {
                row[r] = strings.intern(name);
            }
            row[7] = strings.intern(&taxon.common_name);
            // A new group starts at rank r whenever the kingdom→r path changes.
            let prev = slot.checked_sub(1).map(|p| &t.lineages[p]);
            let mut group = [0u32; GROUP_RANKS];
            for r in 0..GROUP_RANKS {
                let same = prev.is_some_and(|p| p[..=r] == row[..=r]);
                if !same {
                    starts[r].push(slot as u32);
                    if !taxon.lineage.0[r].is_empty() {
                        t.names.push(NameEntry { name: row[r], rank: r as u32, group: starts[r].len() as u32 - 1 });
                    }
                }
                group[r] = starts[r].len() as u32 - 1;
            }
            if !taxon.lineage.get(Rank::Species).is_empty() {
                let name = binomial(taxon.lineage.get(Rank::Genus), taxon.lineage.get(Rank::Species));
                t.names.push(NameEntry {
                    name: strings.intern(name.trim()),
                    rank: Rank::Species.depth() as u32,
                    group: slot as u32,
                });
            }
            t.lineages.push(row);
            t.groups.push(group);
        }
        for (r, s) in starts.iter().enumerate() {
            t.group_counts[r] = s.len() as u32;
            t.group_starts.extend_from_slice(s);
            t.group_starts.push(order.len() as u32);
        }
        let keys = strings.lower_keys();
        t.names.sort_by(|a, b| {
            keys[a.name as usize].cmp(&keys[b.name as usize]).then(a.rank.cmp(&b.rank)).then(a.group.cmp(&b.group))
        });
        (t.string_offsets, t.string_blob) = strings.into_table();
        t
    }
}

/// Deduplicating string table.
#[derive(Default)]
struct Interner {
    ids: HashMap<String, u32>,
    strings: Vec<String>,
}

impl Interner {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.strings.push(s.to_owned());
        self.ids.insert(s.to_owned(), id);
        id
    }

    fn lower_keys(&self) -> Vec<Vec<u8>> {
        self.strings.iter().map(|s| s.as_bytes().to_ascii_lowercase()).collect()
    }

    fn into_table(self) -> (Vec<u64>, Vec<u8>) {
        let mut offsets = Vec::with_capacity(self.strings.len() + 1);
        let mut blob = Vec::new();
        for s in &self.strings {
            offsets.push(blob.len() as u64);
            blob.extend_from_slice(s.as_bytes());
        }
        offsets.push(blob.len() as u64);
        (offsets, blob)
    }
}
