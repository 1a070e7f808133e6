//! `arbor index …` end to end, through the binary.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::write_npy;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/openclip/classify").join(name)
}

fn arbor(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_arbor")).args(args).output().expect("run arbor");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn read_npy<T: npyz::Deserialize>(p: &Path) -> (Vec<u64>, Vec<T>) {
    let npy = npyz::NpyFile::new(std::fs::File::open(p).unwrap()).unwrap();
    (npy.shape().to_vec(), npy.into_vec().unwrap())
}

/// Taxon `t`'s column of pybioclip's (D, N) matrix, as a query row.
fn columns(ids: &[usize]) -> (usize, Vec<f32>) {
    let (shape, data) = read_npy::<f32>(&fixture("txt_emb_species.npy"));
    let (d, n) = (shape[0] as usize, shape[1] as usize);
    (d, ids.iter().flat_map(|&t| (0..d).map(move |c| (t, c))).map(|(t, c)| data[c * n + t]).collect())
}

#[test]
fn import_query_info_verify_and_taxa() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("tol");
    let index_s = index.to_str().unwrap();
    let (ok, _, err) = arbor(&[
        "index",
        "import-pybioclip",
        "--embeddings",
        fixture("txt_emb_species.npy").to_str().unwrap(),
        "--names",
        fixture("txt_emb_species.json").to_str().unwrap(),
        "--out",
        index_s,
        "--graph",
        "--m",
        "8",
    ]);
    assert!(ok, "{err}");

    // Each taxon's own vector finds itself first, approximate and exact.
    let want = [0usize, 42, 299];
    let (d, q) = columns(&want);
    let qpath = dir.path().join("q.npy");
    write_npy(&qpath, &[3, d as u64], &q);
    for exact in [false, true] {
        let ids = dir.path().join("ids.npy");
        let scores = dir.path().join("scores.npy");
        let mut args = vec![
            "index",
            "query",
            index_s,
            "--vectors",
            qpath.to_str().unwrap(),
            "-k",
            "4",
            "--out",
            ids.to_str().unwrap(),
            "--scores",
            scores.to_str().unwrap(),
        ];
        if exact {
            args.push("--exact");
        }
        let (ok, _, err) = arbor(&args);
        assert!(ok, "{err}");
        let (shape, ids) = read_npy::<i64>(&ids);
        assert_eq!(shape, vec![3, 4]);
        let (_, scores) = read_npy::<f32>(&scores);
        for (i, &t) in want.iter().enumerate() {
            assert_eq!(ids[i * 4], t as i64);
            assert!((scores[i * 4] - 1.0).abs() < 1e-5);
            assert!(scores[i * 4..i * 4 + 4].windows(2).all(|w| w[0] >= w[1]));
        }
    }

    // --within restricts to the subtree; JSON output names the taxa.
    let (ok, out, err) = arbor(&[
        "index",
        "query",
        index_s,
        "--vectors",
        qpath.to_str().unwrap(),
        "-k",
        "2",
        "--within",
        "Corvidae",
        "--format",
        "json",
    ]);
    assert!(ok, "{err}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(rows.len(), 6);
    let (_, corvidae_csv, _) = arbor(&["index", "taxa", index_s, "--within", "Corvidae"]);
    for r in &rows {
        assert!(corvidae_csv.contains(r["species"].as_str().unwrap()), "{r}");
    }

    let (ok, out, _) = arbor(&["index", "info", index_s, "--format", "json"]);
    assert!(ok);
    let info: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((info["taxa"].as_u64(), info["dim"].as_u64()), (Some(300), Some(d as u64)));
    let (ok, out, _) = arbor(&["index", "verify", index_s]);
    assert!(ok && out.contains("ok"), "{out}");

    // `taxa` lists everything as pybioclip's list-tol-taxa CSV, in id order.
    let (ok, out, _) = arbor(&["index", "taxa", index_s]);
    assert!(ok);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("kingdom,phylum,class,order,family,genus,species_epithet,species,common_name"));
    assert_eq!(lines.count(), 300);
    assert!(out.contains("Ursus,arctos syriacus,Ursus arctos syriacus"));
}

#[test]
fn build_from_rows_and_csv_rejects_bad_input_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let (d, rows) = columns(&(0..300).collect::<Vec<_>>());
    let vpath = dir.path().join("v.npy");
    write_npy(&vpath, &[300, d as u64], &rows);
    let out = dir.path().join("idx");
    let taxa = fixture("taxa.csv");
    let (ok, _, err) = arbor(&[
        "index",
        "build",
        "--vectors",
        vpath.to_str().unwrap(),
        "--taxonomy",
        taxa.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--dtype",
        "f16",
        "--no-graph",
    ]);
    assert!(ok, "{err}");
    let (_, info, _) = arbor(&["index", "info", out.to_str().unwrap(), "--format", "json"]);
    assert!(info.contains("\"f16\""), "{info}");

    // Wrong orientation: the count mismatch is explained.
    let (ok, _, err) = arbor(&[
        "index",
        "build",
        "--vectors",
        vpath.to_str().unwrap(),
        "--layout",
        "cols",
        "--taxonomy",
        taxa.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("v.npy") && err.contains("taxa"), "{err}");

    // A non-unit row is refused (unless --normalize), naming the row.
    let mut scaled = rows.clone();
    scaled[7 * d] += 0.5;
    let bad = dir.path().join("bad.npy");
    write_npy(&bad, &[300, d as u64], &scaled);
    let args = |extra: Option<&str>| {
        let mut a = vec![
            "index",
            "build",
            "--vectors",
            bad.to_str().unwrap(),
            "--taxonomy",
            taxa.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--no-graph",
        ];
        a.extend(extra);
        arbor(&a.iter().map(|s| &**s).collect::<Vec<_>>())
    };
    let (ok, _, err) = args(None);
    assert!(!ok && err.contains("bad.npy") && err.contains("vector 7"), "{err}");
    let (ok, _, err) = args(Some("--normalize"));
    assert!(ok, "{err}");

    // A taxonomy without the required columns, and a file that is not .npy.
    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, "genus,species\nCorvus,corax\n").unwrap();
    let (ok, _, err) = arbor(&[
        "index",
        "build",
        "--vectors",
        vpath.to_str().unwrap(),
        "--taxonomy",
        csv.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("t.csv") && err.contains("kingdom"), "{err}");
    let (ok, _, err) = arbor(&[
        "index",
        "build",
        "--vectors",
        csv.to_str().unwrap(),
        "--taxonomy",
        taxa.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("t.csv"), "{err}");
    // Unknown --within name.
    let (ok, _, err) = arbor(&["index", "taxa", out.to_str().unwrap(), "--within", "Draconidae"]);
    assert!(!ok && err.contains("Draconidae"), "{err}");
}
