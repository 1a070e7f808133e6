//! Encoding a taxonomy's labels into tree-of-life vectors, resumably.
//!
//! A 450K-taxon tree through the 80 templates is 36 million texts: hours on a CPU. Encoded rows
//! are therefore appended to a progress file as they finish, and a run that finds a progress file
//! for the same model, templates and labels carries on from where the last one stopped.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use std::collections::HashMap;

use arbor_index::{IndexBuilder, IndexKind, Lineage, TaxonId, TaxonIndex, TaxonRecord, VectorSource};
use burn::tensor::backend::Backend;

use crate::captions::{Templates, TextType, tree_of_life_label};
use crate::embedder::Embedder;
use crate::error::{EngineError, Result};

/// Labels per append to the progress file: small enough that an interruption loses little, large
/// enough that syncing the file is a negligible cost.
const CHUNK: usize = 96;
// The file kind written in the header line (kept from when these were called checkpoints, so
// progress files of earlier builds still resume).
const FORMAT: &str = "arbor-label-checkpoint";

/// The text each taxon is encoded from: pybioclip's tree-of-life label (seven ranks and the
/// common name, empty ones included) by default, or one of BioCLIP's text types.
pub fn taxon_labels(taxa: &[TaxonRecord], text_type: Option<TextType>) -> Vec<String> {
    let label = |l: &Lineage, common: &str| match text_type {
        None => tree_of_life_label(l, common),
        Some(t) => t.describe(l, common),
    };
    taxa.iter().map(|t| label(&t.lineage, &t.common_name)).collect()
}

/// The first line of a progress file: what its rows are embeddings of. Rows of float32
/// (little-endian) follow, one per label in order.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct ProgressHeader {
    format: String,
    model_identity: String,
    templates: String,
    labels: usize,
    labels_sha256: String,
    dim: usize,
}

/// How a resumable encoding went.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoding {
    /// Unit rows of the labels encoded so far (all of them when [`Encoding::is_complete`]).
    pub rows: Vec<f32>,
    /// Labels encoded so far, this run and earlier ones.
    pub done: usize,
    /// Labels that were already in the progress file when this run started.
    pub resumed: usize,
    /// A progress file was found but belonged to another model, templates or label list, and was
    /// started over.
    pub discarded_progress: bool,
    total: usize,
}

impl Encoding {
    /// Whether every label is encoded.
    pub fn is_complete(&self) -> bool {
        self.done == self.total
    }
}

/// Encodes `labels` through `templates` (unit rows), appending finished rows to `progress_file` and
/// resuming from it. Stops early once `stop_after` labels are done in total (to spread a long
/// job over several runs). `progress(done)` is called after every chunk. The caller removes the
/// progress file once it has stored the result.
///
/// # Errors
/// The model fails, or the progress file cannot be written (the error names it).
pub fn encode_resumable<B: Backend>(
    embedder: &Embedder<B>,
    labels: &[String],
    templates: Templates,
    progress_file: &Path,
    stop_after: Option<usize>,
    mut progress: impl FnMut(usize),
) -> Result<Encoding> {
    let dim = embedder.dim();
    let header = ProgressHeader {
        format: FORMAT.into(),
        model_identity: embedder.identity().text().into(),
        templates: templates.name().into(),
        labels: labels.len(),
        labels_sha256: labels_hash(labels),
        dim,
    };
    let (mut rows, discarded) = read_progress(progress_file, &header);
    let resumed = rows.len() / dim;
    // Rewrite what was kept: this also drops a half-written row left by a crash mid-append.
    let mut line = serde_json::to_vec(&header).map_err(|e| EngineError::Invalid(e.to_string()))?;
    line.push(b'\n');
    let kept: Vec<u8> = rows.iter().flat_map(|x| x.to_le_bytes()).collect();
    arbor_index::write_atomically(progress_file, |w| {
        w.write_all(&line)?;
        w.write_all(&kept)
    })?;
    let io = |source| EngineError::Io { path: progress_file.to_path_buf(), source };
    let mut file = OpenOptions::new().append(true).open(progress_file).map_err(io)?;
    let end = stop_after.map_or(labels.len(), |n| n.clamp(resumed, labels.len()));
    let mut done = resumed;
    progress(done);
    while done < end {
        let chunk = &labels[done..(done + CHUNK).min(end)];
        let encoded = embedder.embed_labels(chunk, templates, |_| {})?;
        let bytes: Vec<u8> = encoded.iter().flat_map(|x| x.to_le_bytes()).collect();
        file.write_all(&bytes).and_then(|()| file.sync_data()).map_err(io)?;
        rows.extend(encoded);
        done += chunk.len();
        progress(done);
    }
    Ok(Encoding { rows, done, resumed, discarded_progress: discarded, total: labels.len() })
}

/// The rows of a progress file made for `header`, and whether one for something else was found.
fn read_progress(path: &Path, header: &ProgressHeader) -> (Vec<f32>, bool) {
    let Ok(bytes) = fs::read(path) else { return (Vec::new(), false) };
    let Some(newline) = bytes.iter().position(|&b| b == b'\n') else { return (Vec::new(), true) };
    match serde_json::from_slice::<ProgressHeader>(&bytes[..newline]) {
        Ok(found) if found == *header => {
            let body = &bytes[newline + 1..];
            let whole = (body.len() / (4 * header.dim)).min(header.labels);
            let rows = body[..whole * 4 * header.dim]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (rows, false)
        }
        _ => (Vec::new(), true),
    }
}

fn labels_hash(labels: &[String]) -> String {
    crate::identity::sha256_hex(labels.iter().map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_pybioclip_or_the_chosen_text_type() {
        let taxa = [TaxonRecord {
            lineage: Lineage::new(["Animalia", "Chordata", "Aves", "", "Corvidae", "Corvus", "corax"]),
            common_name: "common raven".into(),
        }];
        assert_eq!(taxon_labels(&taxa, None), ["Animalia Chordata Aves  Corvidae Corvus corax common raven"]);
        assert_eq!(taxon_labels(&taxa, Some(TextType::Scientific)), ["Corvus corax"]);
    }

    #[test]
    fn the_label_hash_separates_lists_that_concatenate_alike() {
        let a = labels_hash(&["ab".into(), "c".into()]);
        assert_ne!(a, labels_hash(&["a".into(), "bc".into()]));
        assert_eq!(a, labels_hash(&["ab".into(), "c".into()]));
    }
}

/// What [`repair_unembedded`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Repair {
    /// Taxa that had no embedding when the repair started.
    pub missing: usize,
    /// Of them, embedded so far (all of them once `complete`).
    pub encoded: usize,
    /// Encoded by an earlier, interrupted run (read back from the progress file).
    pub resumed: usize,
    /// Whether the index was rewritten with the new embeddings.
    pub complete: bool,
}

/// Embeds every taxon of the tree at `index_dir` that has no embedding, pybioclip's way (the
/// label `' '.join(seven ranks) + ' ' + common_name` through the 80 OpenAI templates), and
/// rewrites the index with them, atomically. Progress is kept in `progress_file`, so an
/// interrupted repair resumes; `stop_after` stops early (as if interrupted).
///
/// # Errors
/// The index is not a tree of life, is of another width than the model or was built by
/// another model; the model fails; a file cannot be written.
pub fn repair_unembedded(
    engine: &crate::Engine,
    index_dir: &Path,
    progress_file: &Path,
    stop_after: Option<usize>,
    progress: impl FnMut(usize),
) -> Result<Repair> {
    let index = TaxonIndex::open_kind(index_dir, IndexKind::TreeOfLife)?;
    // The engine's own checks: a tree of another width, or built by another model, is refused
    // (repairing it with this model would mix two models' vectors).
    engine.check_tree(&index)?;
    let embedder = engine.embedder();
    let missing: Vec<u32> = index.unembedded().to_vec();
    let mut taxa = vec![TaxonRecord::default(); index.len()];
    for t in index.taxa(None)? {
        taxa[t.id.0 as usize] = TaxonRecord { lineage: t.lineage, common_name: t.common_name };
    }
    let labels: Vec<String> =
        missing.iter().map(|&id| taxa[id as usize].lineage.label(&taxa[id as usize].common_name)).collect();
    let encoding = encode_resumable(embedder, &labels, Templates::OpenAi80, progress_file, stop_after, progress)?;
    let mut repair =
        Repair { missing: missing.len(), encoded: encoding.done, resumed: encoding.resumed, complete: false };
    if !encoding.is_complete() {
        return Ok(repair);
    }
    let dim = index.dim();
    let fills: HashMap<u32, &[f32]> = missing.iter().copied().zip(encoding.rows.chunks_exact(dim)).collect();
    let info = index.info();
    let graph = info
        .graph_m
        .map(|m| arbor_index::GraphParams { m: m as usize, ef_construction: info.meta.ef_construction as usize });
    let model = index.model_identity().unwrap_or(embedder.identity().text()).to_owned();
    let source = Filled { index: &index, fills };
    IndexBuilder::new(dim)
        .dtype(index.dtype())
        .graph(graph)
        .kind(IndexKind::TreeOfLife)
        .source(info.meta.source.clone())
        .model(model)
        .build_from(&taxa, &source, index_dir)?;
    let _ = std::fs::remove_file(progress_file);
    repair.complete = true;
    Ok(repair)
}

/// An index's vectors with some rows filled in.
struct Filled<'a> {
    index: &'a TaxonIndex,
    fills: HashMap<u32, &'a [f32]>,
}

impl VectorSource for Filled<'_> {
    fn dim(&self) -> usize {
        self.index.dim()
    }

    fn len(&self) -> usize {
        self.index.len()
    }

    fn read_row(&self, id: usize, out: &mut [f32]) -> arbor_index::Result<()> {
        match self.fills.get(&(id as u32)) {
            Some(row) => out.copy_from_slice(row),
            None => out.copy_from_slice(&self.index.vector(TaxonId(id as u32))?),
        }
        Ok(())
    }
}
