//! What a new user trying the CLI found (issue 12), one test per finding: refusals with a
//! message that names the problem, or the right answer — never a confident wrong one.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::{arbor, arbor_in, arg, fixtures, model, write_classes, write_npy, write_png};

/// A tree of `taxa` (family, genus, epithet) with unit vectors of width `dim`.
fn tree(dir: &Path, name: &str, taxa: &[(&str, &str, &str)], dim: usize) -> String {
    let csv = dir.join(format!("{name}.csv"));
    let mut text = String::from("kingdom,phylum,class,order,family,genus,species_epithet,common_name\n");
    for (f, g, s) in taxa {
        text.push_str(&format!("Animalia,Chordata,Aves,Order,{f},{g},{s},\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let vectors: Vec<f32> =
        (0..taxa.len()).flat_map(|i| (0..dim).map(move |j| f32::from(u8::from(i % dim == j)))).collect();
    let npy = dir.join(format!("{name}.npy"));
    write_npy(&npy, &[taxa.len() as u64, dim as u64], &vectors);
    let out = dir.join(name);
    arbor(&["index", "build", "--vectors", &arg(&npy), "--taxonomy", &arg(&csv), "--out", &arg(&out)]).success();
    arg(&out)
}

fn photo() -> String {
    arg(&fixtures().join("images/chelsea.png"))
}

/// Finding 1: An index of another width than the model is refused, whatever else is asked.
#[test]
fn an_index_of_another_width_is_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let narrow = tree(dir.path(), "narrow", &[("Corvidae", "Corvus", "corax"), ("Corvidae", "Pica", "pica")], 16);
    let m = model();
    for extra in [&[][..], &["--ef", "8"], &["--within", "Corvus"], &["--min-confidence", "0.5"]] {
        let mut args = vec!["classify", "--model", &m, "--index", &narrow];
        args.extend_from_slice(extra);
        let p = photo();
        args.push(&p);
        let run = arbor(&args);
        assert_eq!(run.code, Some(1), "{extra:?}: {}", run.stdout);
        assert!(run.stdout.is_empty(), "no rows: {}", run.stdout);
        assert!(
            run.stderr.contains("width 16") && run.stderr.contains("width 32") && run.stderr.contains(&m),
            "{extra:?}: {}",
            run.stderr
        );
    }
}

/// Finding 2: A photo collection or centroids given as a tree of life are named for what they are.
#[test]
fn collections_and_centroids_are_not_trees_of_life() {
    let dir = tempfile::tempdir().unwrap();
    let m = model();
    write_classes(&dir.path().join("s"), 2);
    let coll = dir.path().join("coll");
    arbor(&["collection", "build", "--model", &m, &arg(&dir.path().join("s")), "--out", &arg(&coll)]).success();
    let centroids = dir.path().join("cent");
    arbor(&["fewshot", "fit", "--model", &m, "--support", &arg(&dir.path().join("s")), "--out", &arg(&centroids)])
        .success();
    for (index, what) in [(&coll, "a photo collection"), (&centroids, "few-shot centroids")] {
        let run = arbor(&["classify", "--model", &m, "--index", &arg(index), &photo()]);
        assert_eq!(run.code, Some(1), "{}", run.stdout);
        assert!(
            run.stderr.contains(&format!("this is {what}")) && run.stderr.contains("not a tree of life"),
            "{}",
            run.stderr
        );
    }
    // And the other way round.
    let tol = tree(dir.path(), "tol", &[("Corvidae", "Corvus", "corax"), ("Corvidae", "Pica", "pica")], 32);
    let run = arbor(&["classify", "--model", &m, "--centroids", &tol, &photo()]);
    assert!(run.code == Some(1) && run.stderr.contains("not few-shot centroids"), "{}", run.stderr);
    let run = arbor(&["search", "--collection", &tol, "--model", &m, "--text", "raven"]);
    assert!(run.code == Some(1) && run.stderr.contains("not a photo collection"), "{}", run.stderr);
    let run = arbor(&["index", "info", &arg(&coll), "--format", "json"]).success();
    assert_eq!(run.json()["kind"], "collection");
}

/// Finding 3: `--cls` naming a file that is not there is an error, not a class named after the file;
/// one class alone is refused (it would always score 1).
#[test]
fn a_class_file_that_does_not_exist_is_an_error() {
    let m = model();
    let run = arbor(&["classify", "--model", &m, "--cls", "lables.txt", &photo()]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("lables.txt") && run.stderr.contains("no such file"), "{}", run.stderr);
    let run = arbor(&["classify", "--model", &m, "--cls", "cat", &photo()]);
    assert!(run.code == Some(1) && run.stderr.contains("at least two"), "{}", run.stderr);
}

/// Finding 4: A QuickGELU model and its GELU twin (same weights) are different models: neither
/// answers from the other's centroids or label cache. A damaged weights file is caught.
#[test]
fn model_identity_covers_the_activation_and_damaged_weights_are_caught() {
    let dir = tempfile::tempdir().unwrap();
    let gelu = model();
    let twin = dir.path().join("twin");
    let f = fixtures();
    common::import_openclip(
        &f.join("tiny_gelu/model.safetensors"),
        &f.join("tiny_quickgelu/open_clip_config.json"),
        &twin,
        &[],
    )
    .success();
    let twin = arg(&twin);
    let info = common::model_info;
    assert_eq!(info(&gelu, "weights sha256"), info(&twin, "weights sha256"));
    assert_ne!(info(&gelu, "text identity"), info(&twin, "text identity"));

    write_classes(&dir.path().join("s"), 2);
    let cent = dir.path().join("cent");
    arbor(&["fewshot", "fit", "--model", &gelu, "--support", &arg(&dir.path().join("s")), "--out", &arg(&cent)])
        .success();
    let run = arbor(&["classify", "--model", &twin, "--centroids", &arg(&cent), &photo()]);
    assert!(run.code == Some(1) && run.stderr.contains("another model"), "{}", run.stderr);

    // Labels: each model answers with its own embeddings (the GELU one first fills the cache).
    let labels = |m: &str| {
        arbor(&["classify", "--model", m, "--cls", "a cat,a rocket", &photo(), "--format", "jsonl"]).success().stdout
    };
    let (first, second) = (labels(&gelu), labels(&twin));
    assert_ne!(first, second, "the twin answered from the GELU model's cache");
    assert_eq!(labels(&gelu), first);

    // A flipped byte: `model verify` reports it; a truncated file is refused on open.
    let copy = dir.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    for name in ["arbor-model.json", "model.safetensors"] {
        std::fs::copy(Path::new(&gelu).join(name), copy.join(name)).unwrap();
    }
    arbor(&["model", "verify", &arg(&copy)]).success();
    let weights = copy.join("model.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&weights, &bytes).unwrap();
    let run = arbor(&["model", "verify", &arg(&copy)]);
    assert!(run.code == Some(1) && run.stderr.contains("differs"), "{}", run.stderr);
    std::fs::write(&weights, &bytes[..bytes.len() - 100]).unwrap();
    let run = arbor(&["classify", "--model", &arg(&copy), "--cls", "a,b", &photo()]);
    assert!(run.code == Some(1) && run.stderr.contains("truncated or replaced"), "{}", run.stderr);
}

/// Finding 5: Links are followed without loops, each photo is classified once, hidden files are left
/// out, and the walk says what it left out.
#[test]
#[cfg(unix)]
fn folder_walks_visit_each_photo_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("photos");
    write_png(&root.join("a.png"), [200, 10, 10], 0);
    write_png(&root.join("sub/b.png"), [10, 200, 10], 1);
    write_png(&root.join(".hidden/c.png"), [10, 10, 200], 2);
    std::fs::write(root.join("sub/._b.png"), b"resource fork").unwrap();
    std::os::unix::fs::symlink("..", root.join("sub/up")).unwrap();
    std::os::unix::fs::symlink(".", root.join("self")).unwrap();
    std::os::unix::fs::symlink("sub", root.join("sub-link")).unwrap();
    let run = arbor_in(
        dir.path(),
        &["classify", "--model", &model(), "--cls", "red,green", "photos", "--format", "csv", "-k", "1"],
    );
    let run = run.success();
    let files: Vec<&str> = run.stdout.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(files, ["photos/a.png", "photos/sub/b.png"], "{}", run.stdout);
    assert!(run.stderr.contains("2 hidden") && run.stderr.contains("3 reached again through a link"), "{}", run.stderr);

    // `-` reads the paths from stdin.
    let mut child = Command::new(env!("CARGO_BIN_EXE_arbor"))
        .args(["classify", "--model", &model(), "--cls", "red,green", "-", "--format", "csv"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"photos/sub/b.png\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.lines().skip(1).all(|l| l.starts_with("photos/sub/b.png,")), "{stdout}");
    assert_eq!(stdout.lines().count(), 3);
}

/// Finding 6: A reader that goes away ends the program quietly: no panic, no error message.
#[test]
fn a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let texts = dir.path().join("texts.txt");
    std::fs::write(&texts, "a photo of a raven\n".repeat(20_000)).unwrap();
    let labels: Vec<String> = (0..40).map(|i| format!("label {i}")).collect();
    let m = model();
    let cls = labels.join(",");
    let p = photo();
    for args in [
        vec!["tokenize", "--file", texts.to_str().unwrap()],
        vec!["classify", "--model", &m, "--cls", &cls, &p, &p, &p, &p, &p, &p, "--format", "csv"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_arbor"))
            .args(&args)
            .env("ARBOR_CACHE_DIR", dir.path().join("cache"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        assert!(!first.is_empty());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked") && !stderr.contains("error"), "{args:?}: {stderr}");
        use std::os::unix::process::ExitStatusExt;
        assert!(out.status.success() || out.status.signal() == Some(13), "{args:?}: {:?}", out.status);
    }
}

/// Finding 7: Outputs are checked before any work; every command that takes many photos exits 3 when
/// some could not be read.
#[test]
fn outputs_are_checked_first_and_skipped_photos_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let m = model();
    let missing = dir.path().join("missing/e.npy");
    let run = arbor(&["embed", "image", "--model", &m, &photo(), "--out", &arg(&missing)]);
    assert!(run.code == Some(1) && run.stderr.contains("does not exist"), "{}", run.stderr);
    assert!(!run.stderr.contains("embedded"), "{}", run.stderr);
    let run = arbor(&["fewshot", "fit", "--model", &m, "--support", "images", "--out", &arg(&dir.path().join("no/c"))]);
    assert!(run.code == Some(1) && run.stderr.contains("does not exist"), "{}", run.stderr);
    assert!(!dir.path().join("no").exists(), "fewshot fit created the missing folder");

    let photos = dir.path().join("p");
    write_png(&photos.join("a.png"), [1, 2, 3], 0);
    std::fs::write(photos.join("broken.png"), b"not a png").unwrap();
    let out = dir.path().join("e.npy");
    let run = arbor(&["embed", "image", "--model", &m, &arg(&photos), "--out", &arg(&out)]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert!(run.stderr.contains("broken.png") && out.exists(), "{}", run.stderr);
}

/// Finding 8: Options are validated, numbers are numbers, tables are aligned, names mean one thing.
#[test]
fn options_output_and_names_behave_the_same_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let m = model();
    let tol = tree(
        dir.path(),
        "tol",
        &[("Moraceae", "Morus", "alba"), ("Sulidae", "Morus", "bassanus"), ("Corvidae", "Corvus", "corax")],
        32,
    );
    let usage = |args: &[&str], needle: &str| {
        let run = arbor(args);
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    };
    usage(&["classify", "--model", &m, "--index", &tol, &photo(), "-k", "0"], "invalid value '0'");
    usage(&["classify", "--model", &m, "--index", &tol, &photo(), "--min-confidence", "1.5"], "(0, 1]");
    usage(
        &["classify", "--model", &m, "--index", &tol, &photo(), "--min-confidence", "0.5", "--rank", "genus"],
        "cannot be used",
    );
    usage(
        &["classify", "--model", &m, "--index", &tol, &photo(), "--min-confidence", "0.5", "-k", "2"],
        "cannot be used",
    );
    let help = arbor(&["fewshot", "eval", "--help"]).success().stdout;
    assert!(help.contains("[default: 1,5]"), "{help}");
    let help = arbor(&["search", "--help"]).success().stdout;
    assert!(
        help.lines().filter(|l| l.trim_start().starts_with("arbor search")).all(|l| l.contains("--model")),
        "{help}"
    );

    // An ambiguous name is an error in both commands, with the way to say which one.
    for args in [
        vec!["classify", "--model", &m, "--index", &tol, "--within", "Morus", &photo()],
        vec!["index", "taxa", &tol, "--within", "Morus"],
    ] {
        let run = arbor(&args);
        assert!(
            run.code == Some(1) && run.stderr.contains("names 2 nodes") && run.stderr.contains("Sulidae"),
            "{}",
            run.stderr
        );
    }
    let run = arbor(&["index", "taxa", &tol, "--within", "Sulidae > Morus"]).success();
    assert!(run.stdout.contains("bassanus") && !run.stdout.contains("alba"), "{}", run.stdout);
    let run = arbor(&[
        "classify",
        "--model",
        &m,
        "--index",
        &tol,
        "--within",
        "Sulidae > Morus",
        &photo(),
        "--format",
        "jsonl",
    ])
    .success();
    let row: serde_json::Value = serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(row["family"], "Sulidae");
    assert!(row["score"].is_number(), "{row}");

    // The table's columns line up: every row's score starts where the header's does.
    let run =
        arbor(&["classify", "--model", &m, "--index", &tol, &photo(), "images/china.jpg", "--rank", "genus"]).success();
    let lines: Vec<&str> = run.stdout.lines().collect();
    let at = lines[0].find("score").unwrap();
    assert!(
        lines[1..].iter().all(|l| l.len() > at && l.as_bytes()[at - 1] == b' ' && l.as_bytes()[at] != b' '),
        "{}",
        run.stdout
    );

    // JSON numbers are numbers; info's graph levels agree between table and JSON.
    let q = dir.path().join("q.npy");
    write_npy(&q, &[1, 32], &[1.0 / 32f32.sqrt(); 32]);
    let run =
        arbor(&["index", "query", &tol, "--vectors", &arg(&q), "-k", "2", "--exact", "--format", "json"]).success();
    let hits = run.json();
    assert!(hits[0]["score"].is_number() && hits[0]["rank"].is_number(), "{hits}");
    let graph = dir.path().join("graph");
    common::import_fixture_tree(&graph, &["--graph"]);
    let json = arbor(&["index", "info", &arg(&graph), "--format", "json"]).success().json();
    let table = arbor(&["index", "info", &arg(&graph)]).success().stdout;
    let levels = json["graph_levels"].as_u64().unwrap();
    assert!(levels >= 1 && table.contains(&format!("{levels} levels")), "{levels}: {table}");

    // An OS error is said once.
    let run = arbor(&["classify", "--model", &arg(&dir.path().join("nope")), "--cls", "a,b", &photo()]);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stderr.matches("No such file or directory").count(), 1, "{}", run.stderr);
}
