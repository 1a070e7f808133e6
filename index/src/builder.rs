//! Writing an index: sort taxa into lineage order, intern names, freeze the
//! graph, lay out the sections, and rename the finished file into place.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use half::f16;

use crate::error::{IndexError, Result};
use crate::format::*;
use crate::graph::{self, FrozenGraph, GraphParams};
use crate::kind::IndexKind;
use crate::publish::write_atomically;
use crate::taxonomy::{Rank, TaxonRecord, binomial};
use crate::vectors::check_rows;

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
    /// `vectors` is row-major, one unit-length row per taxon, in the order of `taxa`;
    /// that order defines the taxon ids. The file is written beside its final
    /// name and renamed into place, so readers never see half an index.
    pub fn build(&self, taxa: &[TaxonRecord], vectors: &[f32], out: &Path) -> Result<PathBuf> {
        let n = self.check(taxa, vectors)?;
        let order = lineage_order(taxa);
        let mut sorted = Vec::with_capacity(vectors.len());
        for &id in &order {
            sorted.extend_from_slice(&vectors[id as usize * self.dim..(id as usize + 1) * self.dim]);
        }
        let graph = match self.graph {
            Some(p) => {
                let report = |done, total| self.report(BuildStage::Graph, done, total);
                graph::build(&sorted, self.dim, p, &report)
            }
            None => FrozenGraph::default(),
        };
        let tables = Tables::new(taxa, &order);
        fs::create_dir_all(out).map_err(|e| IndexError::io(out, e))?;
        let path = out.join(INDEX_FILE);
        self.report(BuildStage::Write, 0, n as u64);
        self.write(&path, &order, &sorted, &tables, &graph)?;
        self.report(BuildStage::Write, n as u64, n as u64);
        Ok(path)
    }

    fn report(&self, stage: BuildStage, done: u64, total: u64) {
        if let Some(f) = self.progress {
            f(stage, done, total);
        }
    }

    fn check(&self, taxa: &[TaxonRecord], vectors: &[f32]) -> Result<usize> {
        let n = check_rows(vectors, self.dim, true)?;
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

    fn write(&self, path: &Path, order: &[u32], sorted: &[f32], t: &Tables, g: &FrozenGraph) -> Result<()> {
        let n = order.len();
        let mut id_to_slot = vec![0u32; n];
        for (slot, &id) in order.iter().enumerate() {
            id_to_slot[id as usize] = slot as u32;
        }
        let vector_bytes: Vec<u8> = match self.dtype {
            Dtype::F32 => bytemuck::cast_slice(sorted).to_vec(),
            Dtype::F16 => sorted.iter().flat_map(|x| f16::from_f32(*x).to_le_bytes()).collect(),
        };
        let meta = BuildInfo {
            writer: format!("arbor-index {}", env!("CARGO_PKG_VERSION")),
            source: self.source.clone(),
            ef_construction: self.graph.map_or(0, |p| p.ef_construction as u32),
            model: self.model.clone(),
        };
        let meta = bincode::serde::encode_to_vec(&meta, bincode::config::standard())
            .map_err(|e| IndexError::BadRequest(format!("cannot encode metadata: {e}")))?;
        let sections: [&[u8]; SECTION_COUNT] = [
            &vector_bytes,
            bytemuck::cast_slice(order),
            bytemuck::cast_slice(&id_to_slot),
            bytemuck::cast_slice(&t.lineages),
            bytemuck::cast_slice(&t.groups),
            bytemuck::cast_slice(&t.group_starts),
            bytemuck::cast_slice(&t.string_offsets),
            &t.string_blob,
            bytemuck::cast_slice(&t.names),
            &g.levels,
            bytemuck::cast_slice(&g.base),
            bytemuck::cast_slice(&g.upper_start),
            bytemuck::cast_slice(&g.upper),
            &meta,
        ];
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
            reserved: [0; 4],
            sections: [SectionEntry::default(); MAX_SECTIONS],
            padding: [0; 28],
            header_crc32: 0,
        };
        let mut offset = align_up(HEADER_LEN as u64);
        for (i, bytes) in sections.iter().enumerate() {
            header.sections[i] =
                SectionEntry { offset, len: bytes.len() as u64, crc32: crc32fast::hash(bytes), reserved: 0 };
            offset = align_up(offset + bytes.len() as u64);
        }
        header.header_crc32 = header.compute_crc();
        write_atomically(path, |w| {
            w.write_all(bytemuck::bytes_of(&header))?;
            let mut pos = HEADER_LEN as u64;
            for (i, bytes) in sections.iter().enumerate() {
                let start = header.sections[i].offset;
                w.write_all(&vec![0u8; (start - pos) as usize])?;
                w.write_all(bytes)?;
                pos = start + bytes.len() as u64;
            }
            Ok(())
        })
    }
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
