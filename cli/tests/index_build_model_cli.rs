//! `arbor index build --model`: the tree of life encoded from a taxonomy CSV reproduces
//! pybioclip's own `txt_emb_species.npy`, and an interrupted build resumes.

mod common;

use std::path::Path;

use common::{arbor, arg, fixtures, model};

fn build(out: &Path, extra: &[&str]) -> common::Run {
    let taxa = fixtures().join("classify/taxa.csv");
    let mut args = vec!["index".to_string(), "build".into(), "--model".into(), model()];
    args.extend(["--taxonomy".into(), arg(&taxa), "--out".into(), arg(out), "--no-graph".into()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    arbor(&args)
}

/// Every taxon's stored vector against pybioclip's column for it (ids are CSV rows), within
/// the fixture README's 1e-5.
fn assert_matches_pybioclip(index: &Path) {
    let file = std::fs::File::open(fixtures().join("classify/txt_emb_species.npy")).unwrap();
    let reference: Vec<f32> = npyz::NpyFile::new(file).unwrap().into_vec().unwrap();
    let (dim, n) = (32, 300);
    let index = arbor_index::TaxonIndex::open(index).unwrap();
    assert_eq!((index.len(), index.dim()), (n, dim));
    for t in 0..n {
        let v = index.vector(arbor_index::TaxonId(t as u32)).unwrap();
        for d in 0..dim {
            let want = reference[d * n + t];
            assert!((v[d] - want).abs() < 1e-5, "taxon {t} component {d}: {} vs {want}", v[d]);
        }
    }
}

#[test]
fn encoding_the_taxonomy_reproduces_pybioclip_and_an_interrupted_build_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tol");
    let partial = dir.path().join("tol.partial");

    let run = build(&out, &["--stop-after", "100"]).success();
    assert!(run.stderr.contains("stopped after 100 of 300 labels"), "{}", run.stderr);
    assert!(partial.exists() && !out.exists());
    // A crash in the middle of an append leaves half a row; it is dropped on resume.
    let mut bytes = std::fs::read(&partial).unwrap();
    bytes.extend([1, 2, 3]);
    std::fs::write(&partial, bytes).unwrap();

    let run = build(&out, &[]).success();
    assert!(run.stderr.contains("resumed: 100 of 300 labels"), "{}", run.stderr);
    assert!(!partial.exists(), "the checkpoint is removed once the index is written");
    assert_matches_pybioclip(&out);

    // A checkpoint from other templates is not reused.
    build(&dir.path().join("other"), &["--templates", "none", "--stop-after", "10"]).success();
    let run = build(&dir.path().join("other"), &["--stop-after", "20"]).success();
    assert!(run.stderr.contains("started over"), "{}", run.stderr);
    assert!(run.stderr.contains("stopped after 20 of 300"), "{}", run.stderr);
}
