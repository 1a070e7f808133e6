//! `--precision bf16|int8` end to end: embeddings close to f32's (and not equal to them), the
//! same answers from classify and search, and a clear refusal of unknown precisions.

mod common;

use std::path::Path;

use common::{arbor, arg, fixtures, images, import_fixture_tree, model};

fn embed(kind: &str, precision: &str, out: &Path) -> Vec<f32> {
    let m = model();
    let mut args: Vec<String> =
        ["embed", kind, "--model", &m, "--normalize", "--precision", precision, "--out", &arg(out)]
            .map(String::from)
            .to_vec();
    if kind == "image" {
        args.extend(images());
    } else {
        args.extend(["--text", "Corvus corax", "Felis catus", "a photo of a heron in a marsh"].map(String::from));
    }
    arbor(&args).success();
    npyz::NpyFile::new(std::fs::File::open(out).expect("npy written")).expect("npy").into_vec().expect("f32 rows")
}

fn cosines(a: &[f32], b: &[f32], dim: usize) -> Vec<f32> {
    a.chunks_exact(dim).zip(b.chunks_exact(dim)).map(|(a, b)| a.iter().zip(b).map(|(x, y)| x * y).sum()).collect()
}

#[test]
fn low_precision_embeddings_are_close_to_f32_and_not_equal_to_it() {
    let dir = tempfile::tempdir().unwrap();
    for kind in ["image", "text"] {
        let reference = embed(kind, "f32", &dir.path().join(format!("{kind}-f32.npy")));
        for (precision, floor) in [("bf16", 0.9995), ("int8", 0.999)] {
            let low = embed(kind, precision, &dir.path().join(format!("{kind}-{precision}.npy")));
            assert_eq!(low.len(), reference.len());
            let c = cosines(&low, &reference, 32);
            let min = c.iter().copied().fold(f32::INFINITY, f32::min);
            assert!(min >= floor, "{kind} {precision}: cosine to f32 {c:?}");
            eprintln!("{kind} {precision}: min cosine to f32 {min}");
            assert!(low != reference, "{kind} {precision}: identical to f32, so the precision did not take effect");
        }
    }
}

/// The tiny random model's scores are close together, so int8 may swap near-tied species: every
/// int8 answer must be among f32's best three, and at most one photo may differ. bf16 must agree.
#[test]
fn classify_gives_f32s_species_in_bf16_and_int8() {
    let dir = tempfile::tempdir().unwrap();
    let tol = dir.path().join("tol");
    import_fixture_tree(&tol, &[]);
    let top = |precision: &str, k: &str| -> Vec<Vec<String>> {
        let mut args: Vec<String> =
            ["classify", "--model", &model(), "--index", &arg(&tol), "--exact", "-k", k, "--format", "jsonl"]
                .map(String::from)
                .to_vec();
        args.extend(["--precision".into(), precision.into()]);
        args.extend(images());
        let run = arbor(&args).success();
        let mut per_photo: Vec<(String, Vec<String>)> = Vec::new();
        for line in run.stdout.lines() {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            let (photo, species) = (row["file_name"].to_string(), row["species"].to_string());
            match per_photo.last_mut() {
                Some((p, list)) if *p == photo => list.push(species),
                _ => per_photo.push((photo, vec![species])),
            }
        }
        per_photo.into_iter().map(|(_, list)| list).collect()
    };
    let reference = top("f32", "3");
    assert_eq!(reference.len(), images().len());
    let firsts = |answers: &[Vec<String>]| answers.iter().map(|a| a[0].clone()).collect::<Vec<_>>();
    assert_eq!(firsts(&top("bf16", "1")), firsts(&reference));
    let int8 = firsts(&top("int8", "1"));
    let differing = int8.iter().zip(&reference).filter(|(a, r)| **a != r[0]).count();
    assert!(differing <= 1, "int8 {int8:?} against f32 {reference:?}");
    for (answer, best3) in int8.iter().zip(&reference) {
        assert!(best3.contains(answer), "int8's {answer} is not among f32's best three {best3:?}");
    }
}

#[test]
fn an_int8_collection_finds_each_photo_from_an_f32_query() {
    let dir = tempfile::tempdir().unwrap();
    let coll = dir.path().join("coll");
    let m = model();
    arbor(&[
        "collection",
        "build",
        "--model",
        &m,
        "--precision",
        "int8",
        &arg(&fixtures().join("images")),
        "--out",
        &arg(&coll),
    ])
    .success();
    for photo in images().iter().take(3) {
        let p = arg(&fixtures().join(photo));
        let run =
            arbor(&["search", "--collection", &arg(&coll), "--model", &m, "--image", &p, "-k", "1", "--format", "csv"]);
        let stdout = run.success().stdout;
        let hit = stdout.lines().nth(1).and_then(|l| l.split(',').nth(1)).unwrap_or_default();
        // The collection stores canonical paths.
        assert!(hit.ends_with(photo.as_str()), "{photo}: top hit {hit}");
    }
}

#[test]
fn unknown_precisions_are_refused_with_the_choices() {
    let run = arbor(&["embed", "text", "--model", &model(), "--text", "x", "--out", "/dev/null", "--precision", "fp8"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("fp8") && run.stderr.contains("bf16") && run.stderr.contains("int8"), "{}", run.stderr);
    let help = arbor(&["classify", "--help"]).success().stdout;
    assert!(help.contains("--precision") && help.contains("cosine to f32"), "{help}");
}
