//! Arbor as a library: the facade's API, end to end on the tiny fixture model.

use std::path::{Path, PathBuf};

use arbor::engine::import_openclip;
use arbor::index::read_taxonomy_csv as read_taxa;
use arbor::{Embedder, IndexBuilder, Rank, Scope, TaxonIndex, Templates, TreeClassifier};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/openclip")
}

fn npy(path: PathBuf) -> (Vec<u64>, Vec<f32>) {
    let npy = npyz::NpyFile::new(std::fs::File::open(&path).unwrap()).unwrap();
    (npy.shape().to_vec(), npy.into_vec().unwrap())
}

/// Text embeddings made by Arbor from the taxonomy reproduce pybioclip's
/// tree-of-life matrix, and classifying with an index built from them gives
/// pybioclip's probabilities.
#[test]
fn tree_of_life_from_labels_matches_pybioclip() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixtures();
    import_openclip(
        f.join("tiny_gelu/model.safetensors"),
        f.join("tiny_gelu/open_clip_config.json"),
        dir.path().join("m"),
    )
    .unwrap();
    let embedder = Embedder::open(dir.path().join("m")).unwrap();

    let taxa = read_taxa(&f.join("classify/taxa.csv")).unwrap();
    let labels: Vec<String> = taxa.iter().map(|t| t.lineage.label(&t.common_name)).collect();
    let rows = embedder.embed_labels(&labels, Templates::OpenAi80, |_| {}).unwrap();
    let (shape, cols) = npy(f.join("classify/txt_emb_species.npy"));
    let (d, n) = (shape[0] as usize, shape[1] as usize);
    assert_eq!((n, d), (taxa.len(), embedder.dim()));
    let worst =
        (0..n).flat_map(|t| (0..d).map(move |c| (t, c))).map(|(t, c)| (rows[t * d + c] - cols[c * n + t]).abs());
    let worst = worst.fold(0f32, f32::max);
    assert!(worst < 1e-5, "text embeddings differ by {worst}");

    IndexBuilder::new(d).build(&taxa, &rows, &dir.path().join("tol")).unwrap();
    let index = TaxonIndex::open(dir.path().join("tol")).unwrap();
    let mut features = Vec::new();
    embedder.embed_files(&[f.join("images/chelsea.png")], 4, |_, r| features = r.unwrap()).unwrap();
    arbor::engine::normalize_row(&mut features);
    let classifier = TreeClassifier::new(&index, Scope::All, embedder.logit_scale());
    let probs = &classifier.probabilities(&features).unwrap()[0];
    let (_, want) = npy(f.join("classify/probs.npy"));
    for (id, p) in probs {
        assert!((p - want[id.index()]).abs() < 1e-5, "taxon {id}: {p} vs {}", want[id.index()]);
    }
    let species = classifier.classify(&features, Rank::Species, 1).unwrap();
    assert_eq!(species[0][0].path[5], "Acneophila");
}
