//! `arbor import openclip`, `embed`, `tokenize` and `classify` end to end on the
//! tiny fixture model, against pybioclip's own outputs.

mod common;

use std::path::Path;
use std::sync::OnceLock;

use common::{arbor, fixtures, images, model};

/// pybioclip's tree of life for the tiny model, imported once per test binary.
fn tol() -> String {
    static DIR: OnceLock<String> = OnceLock::new();
    DIR.get_or_init(|| {
        let tol = common::workspace().join("tol");
        common::import_fixture_tree(&tol, &["--graph", "--m", "8"]);
        tol.to_str().unwrap().to_owned()
    })
    .clone()
}

/// Our CSV against one of pybioclip's in the fixture's `classify/` folder.
fn assert_same_csv(ours: &str, expected: &str) {
    common::assert_same_csv(ours, &fixtures().join("classify").join(expected), 1e-5);
}

#[test]
fn exact_classification_reproduces_pybioclip_at_every_rank() {
    for rank in ["kingdom", "phylum", "class", "order", "family", "genus", "species"] {
        let mut args =
            vec!["classify", "--model", &model(), "--index", &tol(), "--rank", rank, "--exact", "--format", "csv"]
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>();
        args.extend(images());
        let run = arbor(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(run.ok(), "{}", run.stderr);
        assert!(run.stderr.contains("mode: exact"), "{}", run.stderr);
        assert_same_csv(&run.stdout, &format!("expected_{rank}.csv"));
    }
}

#[test]
fn subset_and_within_restrict_the_tree() {
    let subset = fixtures().join("classify/subset.csv");
    for rank in ["class", "genus", "species"] {
        let mut args: Vec<String> =
            ["classify", "--model", &model(), "--index", &tol(), "--rank", rank, "--format", "csv"]
                .map(String::from)
                .to_vec();
        args.extend(["--subset".into(), subset.to_str().unwrap().into()]);
        args.extend(images());
        let run = arbor(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(run.ok(), "{}", run.stderr);
        assert_same_csv(&run.stdout, &format!("expected_subset_{rank}.csv"));
    }
    // --within Aves is the same restriction as the subset file (class Aves).
    let (m, t, photos) = (model(), tol(), images());
    let mut args =
        vec!["classify", "--model", &m, "--index", &t, "--rank", "species", "--within", "Aves", "--format", "csv"];
    args.extend(photos.iter().map(String::as_str));
    let run = arbor(&args);
    assert!(run.ok(), "{}", run.stderr);
    assert_same_csv(&run.stdout, "expected_subset_species.csv");
}

#[test]
fn custom_labels_and_bins_match_pybioclip() {
    let photos = images();
    let (m, labels, bins) = (
        model(),
        fixtures().join("classify/custom_labels.txt").to_str().unwrap().to_owned(),
        fixtures().join("classify/bins.csv").to_str().unwrap().to_owned(),
    );
    let mut args = vec!["classify", "--model", &m, "--cls", &labels, "--format", "csv"];
    args.extend(photos.iter().map(String::as_str));
    let run = arbor(&args);
    assert!(run.ok(), "{}", run.stderr);
    assert_same_csv(&run.stdout, "expected_custom.csv");
    // The second run reads the label embeddings from the cache.
    let again = arbor(&args);
    assert!(again.ok() && !again.stderr.contains("encoded"), "{}", again.stderr);
    assert_eq!(again.stdout, run.stdout);

    let mut args = vec!["classify", "--model", &m, "--bins", &bins, "--format", "csv"];
    args.extend(photos.iter().map(String::as_str));
    let run = arbor(&args);
    assert!(run.ok(), "{}", run.stderr);
    assert_same_csv(&run.stdout, "expected_bins.csv");
}

#[test]
fn bad_files_are_reported_and_skipped_and_output_streams_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("notes.jpg");
    std::fs::write(&bad, b"this is not a jpeg").unwrap();
    let out = dir.path().join("out.jsonl");
    let (m, t) = (model(), tol());
    let run = arbor(&[
        "classify",
        "--model",
        &m,
        "--index",
        &t,
        "images/chelsea.png",
        bad.to_str().unwrap(),
        "images/china.jpg",
        "-k",
        "2",
        "--format",
        "jsonl",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, Some(3), "some inputs failed: {}", run.stderr);
    assert!(run.stderr.contains("notes.jpg"), "{}", run.stderr);
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 5, "2 + error row + 2");
    assert_eq!(lines[0]["file_name"], "images/chelsea.png");
    assert_eq!(lines[0]["species"], "Acneophila lonvirata");
    assert!(lines[2]["error"].as_str().unwrap().contains("notes.jpg"));
    assert_eq!(lines[3]["file_name"], "images/china.jpg");

    // Open set: a threshold is a probability; with 1 no answer of this tree (several kingdoms)
    // reaches it, so the answer is "unknown"; with a tiny one it is a species.
    let open_set = |p: &str| {
        let p = format!("--min-confidence={p}");
        arbor(&["classify", "--model", &m, "--index", &t, "images/chelsea.png", &p, "--format", "csv"])
    };
    for bad in ["1.01", "0", "-0.5"] {
        let run = open_set(bad);
        assert_eq!(run.code, Some(2), "{bad}: {}", run.stderr);
        assert!(run.stderr.contains("(0, 1]"), "{}", run.stderr);
    }
    let run = open_set("1");
    assert!(run.ok() && run.stdout.lines().nth(1).unwrap().starts_with("images/chelsea.png,unknown"), "{}", run.stdout);
    let run = arbor(&[
        "classify",
        "--model",
        &m,
        "--index",
        &t,
        "images/chelsea.png",
        "--min-confidence",
        "1e-30",
        "--format",
        "csv",
    ]);
    assert!(run.stdout.lines().nth(1).unwrap().contains(",species,Acneophila lonvirata,"), "{}", run.stdout);
}

#[test]
fn embed_and_tokenize() {
    let dir = tempfile::tempdir().unwrap();
    let m = model();
    let out = dir.path().join("e.npy");
    let run = arbor(&["embed", "image", "--model", &m, "images", "--out", out.to_str().unwrap(), "--normalize"]);
    assert!(run.ok(), "{}", run.stderr);
    let npy = npyz::NpyFile::new(std::fs::File::open(&out).unwrap()).unwrap();
    assert_eq!(npy.shape(), &[8, 32]);
    let rows: Vec<f32> = npy.into_vec().unwrap();
    let paths = std::fs::read_to_string(dir.path().join("e.npy.paths.txt")).unwrap();
    // Folder expansion is sorted; compare each row with the reference for its image.
    let reference =
        npyz::NpyFile::new(std::fs::File::open(fixtures().join("tiny_gelu/image_features_squash_norm.npy")).unwrap())
            .unwrap()
            .into_vec::<f32>()
            .unwrap();
    for (row, path) in paths.lines().enumerate() {
        let name = Path::new(path).file_name().unwrap().to_str().unwrap();
        let i = images().iter().position(|x| x.ends_with(name)).unwrap();
        for c in 0..32 {
            assert!((rows[row * 32 + c] - reference[i * 32 + c]).abs() < 1e-5, "{name}");
        }
    }

    let run = arbor(&["tokenize", "--text", "a photo of Corvus corax."]);
    let ids: Vec<u32> = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!((ids.len(), ids[0]), (77, 49406));
    assert!(ids.contains(&49407));

    let out = dir.path().join("t.npy");
    let run = arbor(&[
        "embed",
        "text",
        "--model",
        &m,
        "--text",
        "Corvus corax",
        "--templates",
        "openai80",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.ok(), "{}", run.stderr);
    let v: Vec<f32> = npyz::NpyFile::new(std::fs::File::open(&out).unwrap()).unwrap().into_vec().unwrap();
    assert!((v.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5);
}

/// `embed image --format parquet`: the rows of the .npy output, as Arrow's fixed-size list,
/// with the paths and the model in the file.
#[cfg(feature = "parquet")]
#[test]
fn parquet_embeddings_are_the_npy_rows() {
    use arrow_array::{Array, FixedSizeListArray, Float32Array, StringArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let dir = tempfile::tempdir().unwrap();
    let m = model();
    let (npy, pq) = (dir.path().join("e.npy"), dir.path().join("e.parquet"));
    arbor(&["embed", "image", "--model", &m, "images", "--out", &npy.to_string_lossy(), "--normalize"]).success();
    arbor(&[
        "embed",
        "image",
        "--model",
        &m,
        "images",
        "--out",
        &pq.to_string_lossy(),
        "--normalize",
        "--format",
        "parquet",
    ])
    .success();
    let want: Vec<f32> = npyz::NpyFile::new(std::fs::File::open(&npy).unwrap()).unwrap().into_vec().unwrap();
    let want_paths: Vec<String> =
        std::fs::read_to_string(dir.path().join("e.npy.paths.txt")).unwrap().lines().map(str::to_owned).collect();
    let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&pq).unwrap()).unwrap();
    let kv = builder.metadata().file_metadata().key_value_metadata().cloned().unwrap();
    let meta = |k: &str| kv.iter().find(|x| x.key == k).and_then(|x| x.value.clone()).unwrap();
    assert_eq!(meta("arbor.normalized"), "true");
    assert_eq!(meta("arbor.model_identity").len(), 64);
    let schema = builder.schema().clone();
    assert_eq!(
        format!("{:?}", schema.field_with_name("embedding").unwrap().data_type()),
        format!(
            "{:?}",
            arrow_schema::DataType::FixedSizeList(
                std::sync::Arc::new(arrow_schema::Field::new("item", arrow_schema::DataType::Float32, false)),
                32
            )
        )
    );
    let (mut paths, mut rows) = (Vec::new(), Vec::new());
    for batch in builder.build().unwrap() {
        let batch = batch.unwrap();
        let names = batch.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        paths.extend(names.iter().map(|n| n.unwrap().to_owned()));
        let list = batch.column(1).as_any().downcast_ref::<FixedSizeListArray>().unwrap();
        assert_eq!(list.null_count(), 0);
        rows.extend_from_slice(list.values().as_any().downcast_ref::<Float32Array>().unwrap().values());
    }
    assert_eq!(paths, want_paths);
    assert_eq!(rows, want);
}
