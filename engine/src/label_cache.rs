//! On-disk cache of zero-shot label embeddings, keyed by model, templates and
//! label, so 13,000 custom labels are encoded once rather than on every run.
//!
//! Each (model, templates) pair has its own small Arbor index file whose
//! "taxa" are the labels (stored as common names): the same format, checksums
//! and atomic writes as a tree-of-life index.

use arbor_kernels::Precision;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arbor_index::{IndexBuilder, IndexKind, TaxonId, TaxonIndex, TaxonRecord};
use burn::tensor::backend::Backend;

use crate::captions::Templates;
use crate::embedder::Embedder;
use crate::error::Result;

/// A cache directory of label embeddings.
#[derive(Debug, Clone)]
pub struct LabelCache {
    dir: PathBuf,
}

impl LabelCache {
    /// A cache rooted at `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LabelCache { dir: dir.into() }
    }

    /// The default location: `$ARBOR_CACHE_DIR`, else `$XDG_CACHE_HOME/arbor`, else `~/.cache/arbor`.
    pub fn default_dir() -> PathBuf {
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        env("ARBOR_CACHE_DIR")
            .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("arbor")))
            .or_else(|| env("HOME").map(|h| h.join(".cache/arbor")))
            .unwrap_or_else(|| PathBuf::from(".arbor-cache"))
    }

    fn slot(&self, identity: &str, precision: Precision, templates: Templates) -> PathBuf {
        // The whole identity: a shared prefix must not make two models share a cache. A lower
        // precision gets its own slot, so that f32 answers never use its embeddings.
        let id = identity;
        let precision = match precision {
            Precision::F32 => String::new(),
            other => format!("-{other}"),
        };
        self.dir.join("labels").join(format!("{id}-{}{precision}", templates.name()))
    }

    /// Unit embeddings of `labels` (row-major), encoding only those not cached
    /// yet; returns them with the number that had to be encoded.
    pub fn embed<B: Backend>(
        &self,
        embedder: &Embedder<B>,
        labels: &[String],
        templates: Templates,
        progress: impl FnMut(usize),
    ) -> Result<(Vec<f32>, usize)> {
        let slot = self.slot(embedder.identity().text(), embedder.precision(), templates);
        let mut known = read(&slot).unwrap_or_default();
        let mut missing: Vec<String> = labels.iter().filter(|l| !known.contains_key(*l)).cloned().collect();
        missing.sort();
        missing.dedup();
        if !missing.is_empty() {
            let rows = embedder.embed_labels(&missing, templates, progress)?;
            let dim = embedder.dim();
            for (label, row) in missing.iter().zip(rows.chunks_exact(dim)) {
                known.insert(label.clone(), row.to_vec());
            }
            write(&slot, &known, dim)?;
        }
        let out = labels.iter().flat_map(|l| known[l].iter().copied()).collect();
        Ok((out, missing.len()))
    }
}

/// The cached labels of one slot; a missing or damaged cache reads as empty.
fn read(slot: &Path) -> Option<HashMap<String, Vec<f32>>> {
    let index = TaxonIndex::open_kind(slot, IndexKind::LabelCache).ok()?;
    (0..index.len() as u32)
        .map(|i| {
            let id = TaxonId(i);
            Some((index.taxon(id).ok()?.common_name, index.vector(id).ok()?))
        })
        .collect()
}

fn write(slot: &Path, known: &HashMap<String, Vec<f32>>, dim: usize) -> Result<()> {
    let mut entries: Vec<(&String, &Vec<f32>)> = known.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let records: Vec<TaxonRecord> =
        entries.iter().map(|(l, _)| TaxonRecord { common_name: (*l).clone(), ..Default::default() }).collect();
    let vectors: Vec<f32> = entries.iter().flat_map(|(_, v)| v.iter().copied()).collect();
    IndexBuilder::new(dim)
        .graph(None)
        .kind(IndexKind::LabelCache)
        .source("label cache")
        .build(&records, &vectors, slot)?;
    Ok(())
}
