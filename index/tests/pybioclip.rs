//! pybioclip's own outputs on the shared 300-taxon fixture: the rank-level
//! rule and the taxon files must give the same rows, in the same order.

use std::path::{Path, PathBuf};

use arbor_index::{IndexBuilder, Rank, Scope, TaxonId, TaxonIndex, read_pybioclip_names, read_taxonomy_csv};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/openclip/classify").join(name)
}

fn npy<T: npyz::Deserialize>(name: &str) -> (Vec<u64>, Vec<T>) {
    let path = fixture(name);
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let npy = npyz::NpyFile::new(std::io::BufReader::new(file)).unwrap();
    (npy.shape().to_vec(), npy.into_vec().unwrap())
}

/// The fixture photos (`images/chelsea.png`, …) in manifest order: the order of the rows of
/// pybioclip's expected CSVs.
fn images() -> Vec<String> {
    let manifest = fixture("../manifest.json");
    let manifest: serde_json::Value = serde_json::from_reader(std::fs::File::open(manifest).unwrap()).unwrap();
    manifest["images"].as_array().unwrap().iter().map(|image| image["file"].as_str().unwrap().to_owned()).collect()
}

fn index() -> (tempfile::TempDir, TaxonIndex) {
    let taxa = read_pybioclip_names(&fixture("txt_emb_species.json")).unwrap();
    assert_eq!(taxa, read_taxonomy_csv(&fixture("taxa.csv")).unwrap(), "the JSON and CSV forms list the same taxa");
    let (shape, cols) = npy::<f32>("txt_emb_species.npy");
    let (d, n) = (shape[0] as usize, shape[1] as usize);
    assert_eq!(n, taxa.len());
    // pybioclip stores one taxon per column.
    let rows: Vec<f32> = (0..n).flat_map(|t| (0..d).map(move |c| (t, c))).map(|(t, c)| cols[c * n + t]).collect();
    let dir = tempfile::tempdir().unwrap();
    IndexBuilder::new(d).build(&taxa, &rows, dir.path()).unwrap();
    let index = TaxonIndex::open(dir.path()).unwrap();
    (dir, index)
}

/// Compares `rank_top_k` over `probs` rows with an expected CSV.
fn check(index: &TaxonIndex, expected: &str, rank: Rank, ids: &[TaxonId], probs: &[f32]) {
    let mut reader = csv::Reader::from_path(fixture(expected)).unwrap();
    let header = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let mut next = 0;
    for (i, image) in images().iter().enumerate() {
        let row = &probs[i * ids.len()..(i + 1) * ids.len()];
        let pairs: Vec<(TaxonId, f32)> = ids.iter().copied().zip(row.iter().copied()).collect();
        for hit in index.rank_top_k(&pairs, rank, 5, 1e-9).unwrap() {
            let want = &rows[next];
            next += 1;
            assert_eq!(&want[0], image, "{expected} row {next}");
            for (c, name) in hit.path.iter().enumerate() {
                assert_eq!(&want[c + 1], name, "{expected} row {next} column {}", &header[c + 1]);
            }
            if rank == Rank::Species {
                let t = index.taxon(hit.taxon.unwrap()).unwrap();
                assert_eq!(&want[8], t.lineage.species(), "{expected} row {next}");
                assert_eq!(&want[9], t.common_name, "{expected} row {next}");
            }
            let score: f32 = want[want.len() - 1].parse().unwrap();
            assert!((hit.score - score).abs() < 1e-5, "{expected} row {next}: {} vs {score}", hit.score);
        }
    }
    assert_eq!(next, rows.len(), "{expected}: every expected row is produced");
}

#[test]
fn every_rank_matches_pybioclip_rows_and_order() {
    let (_dir, index) = index();
    let (shape, probs) = npy::<f32>("probs.npy");
    assert_eq!(shape, vec![8, 300]);
    let ids = index.scope_ids(Scope::All).unwrap();
    for rank in Rank::ALL {
        check(&index, &format!("expected_{rank}.csv"), rank, &ids, &probs);
    }
}

#[test]
fn subset_by_class_selects_pybioclips_taxa_and_rows() {
    let (_dir, index) = index();
    let mut reader = csv::Reader::from_path(fixture("subset.csv")).unwrap();
    assert_eq!(&reader.headers().unwrap()[0], "class");
    let name = reader.records().next().unwrap().unwrap()[0].to_string();
    let aves = index.find_one(&name).unwrap();
    assert_eq!(aves.rank, Rank::Class);
    let ids = index.scope_ids(Scope::Within(&aves)).unwrap();
    let (_, want) = npy::<i64>("subset_taxon_ids.npy");
    assert_eq!(ids.iter().map(|t| t.0 as i64).collect::<Vec<_>>(), want);
    let (shape, probs) = npy::<f32>("probs_subset.npy");
    assert_eq!(shape, vec![8, ids.len() as u64]);
    for rank in Rank::ALL {
        check(&index, &format!("expected_subset_{rank}.csv"), rank, &ids, &probs);
    }
}
