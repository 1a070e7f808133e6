//! Reading taxon lists: Arbor's taxonomy CSV and pybioclip's `txt_emb_species.json`.

use std::path::Path;

use crate::error::{IndexError, Result};
use crate::taxonomy::{Lineage, TaxonRecord};

/// Columns a taxonomy CSV must have (others, such as `species`, are ignored).
pub const TAXONOMY_COLUMNS: [&str; 8] =
    ["kingdom", "phylum", "class", "order", "family", "genus", "species_epithet", "common_name"];

/// Reads a taxonomy CSV with the header of [`TAXONOMY_COLUMNS`] (any order,
/// extra columns ignored); row order is taxon-id order.
pub fn read_taxonomy_csv(path: &Path) -> Result<Vec<TaxonRecord>> {
    let bad = |problem: String| IndexError::BadTaxonomy { source_name: path.display().to_string(), problem };
    let mut reader = csv::Reader::from_path(path).map_err(|e| bad(e.to_string()))?;
    let header = reader.headers().map_err(|e| bad(e.to_string()))?.clone();
    let mut columns = [0usize; 8];
    for (c, name) in TAXONOMY_COLUMNS.iter().enumerate() {
        columns[c] = header
            .iter()
            .position(|h| h.trim() == *name)
            .ok_or_else(|| bad(format!("missing column {name:?} (header must name {})", TAXONOMY_COLUMNS.join(","))))?;
    }
    let mut taxa = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| bad(format!("row {}: {e}", i + 2)))?;
        let field = |c: usize| row.get(columns[c]).unwrap_or("").to_owned();
        taxa.push(TaxonRecord {
            lineage: Lineage([field(0), field(1), field(2), field(3), field(4), field(5), field(6)]),
            common_name: field(7),
        });
    }
    if taxa.is_empty() {
        return Err(bad("has no taxa".into()));
    }
    Ok(taxa)
}

/// Reads pybioclip's names file: a JSON list of `[[7 ranks], common_name]`.
pub fn read_pybioclip_names(path: &Path) -> Result<Vec<TaxonRecord>> {
    let bad = |problem: String| IndexError::BadTaxonomy { source_name: path.display().to_string(), problem };
    let text = std::fs::read_to_string(path).map_err(|e| IndexError::io(path, e))?;
    let entries: Vec<(Vec<String>, String)> =
        serde_json::from_str(&text).map_err(|e| bad(format!("expected [[7 ranks], common_name] entries: {e}")))?;
    entries
        .into_iter()
        .enumerate()
        .map(|(i, (ranks, common_name))| {
            let ranks: [String; 7] = ranks
                .try_into()
                .map_err(|r: Vec<String>| bad(format!("entry {i} has {} ranks, expected 7", r.len())))?;
            Ok(TaxonRecord { lineage: Lineage(ranks), common_name })
        })
        .collect()
}

/// Writes taxa as a taxonomy CSV (with pybioclip's extra `species` column).
pub fn write_taxonomy_csv<W: std::io::Write>(
    out: W,
    taxa: impl IntoIterator<Item = (Lineage, String)>,
) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "kingdom",
        "phylum",
        "class",
        "order",
        "family",
        "genus",
        "species_epithet",
        "species",
        "common_name",
    ])?;
    for (lineage, common) in taxa {
        let species = lineage.species();
        let mut row: Vec<&str> = lineage.0.iter().map(String::as_str).collect();
        row.push(&species);
        row.push(&common);
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}
