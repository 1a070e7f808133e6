//! `collection export --to milvus://…` and `search --collection milvus://…` against a real
//! Milvus (the PyPI `milvus` standalone server that `.ci/run` starts on 127.0.0.1; its address
//! in `ARBOR_MILVUS`, e.g. `127.0.0.1:19530`). Ignored by plain `cargo test`: run by `.ci/run`.

mod common;

use std::path::Path;

use arbor_engine::{Classifier, Collection, Engine, TreeQuestion};
use arbor_index::{Rank, Scope};
use common::{arbor, arg, model};
use rand::{Rng, SeedableRng};

fn server() -> String {
    std::env::var("ARBOR_MILVUS").expect("ARBOR_MILVUS=HOST:PORT of a Milvus server (.ci/run starts one)")
}

/// A unique collection name per test run.
fn name(what: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("arbor_{what}_{}_{nanos}", std::process::id())
}

/// A collection of the fixture photos plus `n` random unit vectors (as if photos), made by
/// the tiny model's identity.
fn synthetic(dir: &Path, n: usize) -> (std::path::PathBuf, Vec<String>, Vec<f32>) {
    let m = model();
    let photos = arg(&common::fixtures().join("images"));
    let real = dir.join("real");
    arbor(&["collection", "build", "--model", &m, &photos, "--out", &arg(&real)]).success();
    let (mut paths, mut rows) = Collection::open(&real).unwrap().entries().unwrap();
    let identity = Collection::open(&real).unwrap().model_identity().to_owned();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for i in 0..n {
        let mut v: Vec<f32> = (0..32).map(|_| rng.r#gen::<f32>() - 0.5).collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        paths.push(format!("/synthetic/{i:05}.jpg"));
        rows.extend(v);
    }
    let out = dir.join("collection");
    Collection::write(&out, &identity, &paths, &rows).unwrap();
    (out, paths, rows)
}

/// The search width the agreement with exact search is stated at.
const EF: &str = "256";

/// `arbor search --collection C --model M ARGS… --format json`'s paths.
fn search_paths(collection: &str, model: &str, args: &[&str]) -> Vec<String> {
    let mut all = vec!["search", "--collection", collection, "--model", model];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    hits(&arbor(&all).success())
}

fn hits(run: &common::Run) -> Vec<String> {
    let v: serde_json::Value = run.json();
    v.as_array().unwrap().iter().map(|h| h["path"].as_str().unwrap().to_owned()).collect()
}

#[test]
#[ignore = "needs a Milvus server: run by .ci/run (ARBOR_MILVUS=127.0.0.1:19530)"]
fn exported_collections_search_like_local_ones_and_filter_by_taxon() {
    let dir = tempfile::tempdir().unwrap();
    let (local, paths, rows) = synthetic(dir.path(), 20_000);
    let tol = dir.path().join("tol");
    common::import_fixture_tree(&tol, &[]);
    let (m, tol, local) = (model(), arg(&tol), arg(&local));
    let url = format!("milvus://{}/{}", server(), name("search"));
    let first = arbor(&[
        "collection",
        "export",
        &local,
        "--to",
        &url,
        "--model",
        &m,
        "--index",
        &tol,
        "--m",
        "16",
        "--ef-construction",
        "200",
    ])
    .success();
    assert!(first.stderr.contains("created; 20008 photos inserted, 0 already there"), "{}", first.stderr);
    // The export ends once Milvus's HNSW index (with the asked parameters) covers every row, so
    // the searches below go through the graph, not a brute-force scan of a growing segment.
    let identity = Collection::open(&local).unwrap().model_identity().to_owned();
    let remote = arbor_engine::MilvusCollection::open(&url.parse().unwrap(), 32, &identity).unwrap();
    assert_eq!(remote.hnsw(), Some(arbor_engine::Hnsw { m: 16, ef_construction: 200 }));
    let built = remote.index_progress().unwrap();
    assert!(built.finished && built.indexed == 20008, "{built:?}");
    // An existing collection keeps its layout: asking for another is an error, not a surprise.
    let relayout = arbor(&["collection", "export", &local, "--to", &url, "--m", "32"]);
    assert!(
        relayout.code == Some(1) && relayout.stderr.contains("exists with M 16 and efConstruction 200"),
        "{}",
        relayout.stderr
    );
    // A rerun inserts nothing.
    let again = arbor(&["collection", "export", &local, "--to", &url, "--model", &m, "--index", &tol]).success();
    assert!(again.stderr.contains("0 photos inserted, 20008 already there"), "{}", again.stderr);

    // Milvus's top-10 against the local exact search, for photo and text queries.
    let photos: Vec<String> = common::images().iter().map(|f| arg(&common::fixtures().join(f))).collect();
    let texts = ["Corvus corax", "a cat", "an astronaut", "a red flower", "Felis catus", "a coffee cup"];
    let (mut same, mut total) = (0usize, 0usize);
    let queries: Vec<(&str, String)> =
        photos.iter().map(|p| ("--image", p.clone())).chain(texts.iter().map(|t| ("--text", t.to_string()))).collect();
    for (flag, q) in &queries {
        let want = search_paths(&local, &m, &[*flag, q.as_str(), "-k", "10"]);
        let got = search_paths(&url, &m, &[*flag, q.as_str(), "-k", "10", "--ef", EF]);
        total += want.len();
        same += want.iter().zip(&got).filter(|(a, b)| a == b).count();
    }
    let agreement = same as f64 / total as f64;
    eprintln!(
        "Milvus top-10 (HNSW M 16, efConstruction 200, ef {EF}) = exact top-10 in {same} of {total} positions ({:.1} %)",
        100.0 * agreement
    );
    assert!(agreement >= 0.99, "{same}/{total}");

    // The library's road is the CLI's: Engine::search_milvus answers as `arbor search` does.
    let plain = Engine::open(&m).unwrap();
    let remote = plain.open_milvus(&url.parse().unwrap()).unwrap();
    let query = plain.embed_text("Corvus corax", arbor_engine::Templates::OpenAi80).unwrap();
    let search = arbor_engine::MilvusSearch { k: 10, ef: Some(256), within: Some("Aves") };
    let from_library: Vec<String> =
        plain.search_milvus(&remote, &query, search).unwrap().into_iter().map(|h| h.path).collect();
    let from_cli = search_paths(&url, &m, &["--text", "Corvus corax", "--ef", "256", "--within", "Aves"]);
    assert_eq!(from_library, from_cli);
    assert_eq!(from_cli.len(), 10);

    // --within: only photos whose predicted lineage holds the taxon (checked against the
    // engine's own prediction for each hit's vector).
    let engine = Engine::builder(&m).index(&tol).open().unwrap();
    let classifier = Classifier::Tree {
        classifier: engine.tree_classifier(Scope::All).unwrap(),
        question: TreeQuestion::Top { rank: Rank::Species, k: std::num::NonZeroUsize::MIN },
    };
    for taxon in ["Aves", "Fungi"] {
        let found = search_paths(&url, &m, &["--text", "a bird", "-k", "25", "--within", taxon]);
        assert_eq!(found.len(), 25, "{taxon}");
        for path in found {
            let i = paths.iter().position(|p| *p == path).unwrap();
            let answer = classifier.answer(&rows[i * 32..(i + 1) * 32], 32).unwrap().remove(0);
            let lineage = match answer {
                arbor_engine::Answer::Taxa(hits) => hits[0].path.clone(),
                other => panic!("{other:?}"),
            };
            assert!(lineage.iter().any(|n| n == taxon), "{path}: {lineage:?} is not under {taxon}");
        }
    }

    // Another model is refused, naming the URL.
    let other = dir.path().join("quickgelu");
    let f = common::fixtures();
    common::import_openclip(
        &f.join("tiny_quickgelu/model.safetensors"),
        &f.join("tiny_quickgelu/open_clip_config.json"),
        &other,
        &[],
    )
    .success();
    let refused = arbor(&["search", "--collection", &url, "--model", &arg(&other), "--text", "x"]);
    assert!(
        refused.code == Some(1) && refused.stderr.contains(&url) && refused.stderr.contains("model"),
        "{}",
        refused.stderr
    );
}

#[test]
#[ignore = "needs a Milvus server: run by .ci/run (ARBOR_MILVUS=127.0.0.1:19530)"]
fn an_interrupted_export_resumes_to_the_same_count() {
    let dir = tempfile::tempdir().unwrap();
    let (local, paths, _) = synthetic(dir.path(), 5_000);
    let local = arg(&local);
    let url = format!("milvus://{}/{}", server(), name("resume"));
    let stopped = arbor(&["collection", "export", &local, "--to", &url, "--batch", "500", "--stop-after", "4"]);
    assert_eq!(stopped.code, Some(1), "{}", stopped.stderr);
    let resumed = arbor(&["collection", "export", &local, "--to", &url, "--batch", "500"]).success();
    assert!(resumed.stderr.contains("3008 photos inserted, 2000 already there"), "{}", resumed.stderr);
    // Every photo once: no row twice, none missing.
    let identity = Collection::open(&local).unwrap().model_identity().to_owned();
    let remote = arbor_engine::MilvusCollection::open(&url.parse().unwrap(), 32, &identity).unwrap();
    assert_eq!(remote.count().unwrap(), paths.len() as u64);
    let mut rows = 0;
    for chunk in paths.chunks(4000) {
        rows += remote.rows_of(chunk).unwrap().len();
    }
    assert_eq!(rows, paths.len());

    // A server that is not there, and a width that does not fit, are named.
    let down = arbor(&["collection", "export", &local, "--to", "milvus://127.0.0.1:9/photos"]);
    assert!(
        down.code == Some(1) && down.stderr.contains("milvus://127.0.0.1:9/photos: cannot reach the Milvus server"),
        "{}",
        down.stderr
    );
    let m = model();
    let down = arbor(&["search", "--collection", "milvus://127.0.0.1:9/photos", "--model", &m, "--text", "x"]);
    assert!(
        down.code == Some(1) && down.stderr.contains("milvus://127.0.0.1:9/photos: cannot reach the Milvus server"),
        "{}",
        down.stderr
    );
    let narrow = arbor(&["search", "--collection", &url, "--model", &m, "--text", "x", "-k", "10", "--ef", "5"]);
    assert!(narrow.code == Some(1) && narrow.stderr.contains("--ef 5 is below -k 10"), "{}", narrow.stderr);
    let wide = dir.path().join("wide");
    Collection::write(&wide, "x", &["/a.jpg".to_string()], &[1.0, 0.0, 0.0, 0.0]).unwrap();
    let misfit = arbor(&["collection", "export", &arg(&wide), "--to", &url]);
    assert!(misfit.stderr.contains("32-d, these are 4-d"), "{}", misfit.stderr);
    let bad = arbor(&["collection", "export", &local, "--to", "milvus://host/bad-name"]);
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
}

/// `collection build --to milvus://…` and `collection add milvus://…`: photos embedded straight
/// into Milvus (no local copy), with their lineage, the same vectors a local build stores, and
/// a rerun or an add inserting only the photos Milvus lacks.
#[test]
#[ignore = "needs a Milvus server: run by .ci/run (ARBOR_MILVUS=127.0.0.1:19530)"]
fn photos_embed_straight_into_milvus_and_reruns_insert_only_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let tol = dir.path().join("tol");
    common::import_fixture_tree(&tol, &[]);
    let (m, tol) = (model(), arg(&tol));
    let photos = dir.path().join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    for (i, colour) in [[200, 30, 30], [30, 200, 30], [30, 30, 200], [200, 200, 30]].into_iter().enumerate() {
        common::write_png(&photos.join(format!("p{i}.png")), colour, i as u8);
    }
    std::fs::write(photos.join("broken.jpg"), b"not a jpeg").unwrap();
    let url = format!("milvus://{}/{}", server(), name("build"));
    let first =
        arbor(&["collection", "build", "--model", &m, &arg(&photos), "--to", &url, "--index", &tol, "--batch", "2"]);
    assert_eq!(first.code, Some(3), "the broken photo is reported and the rest kept: {}", first.stderr);
    assert!(
        first.stderr.contains("broken.jpg") && first.stderr.contains("4 photos inserted, 0 already there"),
        "{}",
        first.stderr
    );

    // The same vectors as a local build: each photo is its own nearest neighbour, at cosine 1.
    let local = dir.path().join("local");
    arbor(&["collection", "build", "--model", &m, &arg(&photos), "--out", &arg(&local)]);
    for i in 0..4 {
        let q = arg(&photos.join(format!("p{i}.png")));
        let run = arbor(&["search", "--collection", &url, "--model", &m, "--image", &q, "-k", "1", "--format", "json"])
            .success();
        let top = &run.json()[0];
        assert!(top["path"].as_str().unwrap().ends_with(&format!("p{i}.png")), "{}", run.stdout);
        assert!((top["score"].as_f64().unwrap() - 1.0).abs() < 1e-4, "{}", run.stdout);
    }
    // Lineage went in: --within the top photo's predicted kingdom keeps it.
    let engine = Engine::builder(model()).index(&tol).open().unwrap();
    let kingdom = match engine.classify(photos.join("p0.png").as_path(), Rank::Kingdom, 1).unwrap().first() {
        Some(hit) => hit.path[0].clone(),
        None => panic!("no kingdom"),
    };
    let q = arg(&photos.join("p0.png"));
    let within = arbor(&[
        "search",
        "--collection",
        &url,
        "--model",
        &m,
        "--image",
        &q,
        "--within",
        &kingdom,
        "--format",
        "json",
    ])
    .success();
    assert!(hits(&within).iter().any(|p| p.ends_with("p0.png")), "{}", within.stdout);

    let rerun = arbor(&["collection", "build", "--model", &m, &arg(&photos), "--to", &url, "--index", &tol]);
    assert!(rerun.stderr.contains("0 photos inserted, 4 already there"), "{}", rerun.stderr);
    common::write_png(&photos.join("p9.png"), [90, 90, 90], 9);
    std::fs::remove_file(photos.join("broken.jpg")).unwrap();
    let added = arbor(&["collection", "add", &url, "--model", &m, &arg(&photos), "--index", &tol]).success();
    assert!(added.stderr.contains("1 photos inserted, 4 already there"), "{}", added.stderr);
    let other = arbor(&[
        "collection",
        "build",
        "--model",
        &m,
        &arg(&photos),
        "--out",
        &arg(&dir.path().join("x")),
        "--index",
        &tol,
    ]);
    assert!(other.code == Some(1) && other.stderr.contains("--index goes with --to"), "{}", other.stderr);
}

/// An export killed with SIGKILL mid-run (no clean-up of any kind) is finished by running it
/// again: every photo once, none twice.
#[test]
#[ignore = "needs a Milvus server: run by .ci/run (ARBOR_MILVUS=127.0.0.1:19530)"]
fn a_killed_export_resumes_to_every_photo_once() {
    let dir = tempfile::tempdir().unwrap();
    let (local, paths, _) = synthetic(dir.path(), 5_000);
    let identity = Collection::open(&local).unwrap().model_identity().to_owned();
    let local = arg(&local);
    let url = format!("milvus://{}/{}", server(), name("killed"));
    // Batches of 100: each asks Milvus which paths it has (a strong read), so the run takes
    // seconds and is killed part-way.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_arbor"))
        .args(["collection", "export", &local, "--to", &url, "--batch", "100"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let parsed: arbor_engine::MilvusUrl = url.parse().unwrap();
    let count = || arbor_engine::MilvusCollection::open(&parsed, 32, &identity).ok().and_then(|r| r.count().ok());
    let start = std::time::Instant::now();
    while count().is_none_or(|n| n < 500) && start.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    child.wait().unwrap();
    // An insert already on the wire when the process died still lands: let it.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let at_kill = count().unwrap_or(0);
    assert!(at_kill >= 500, "the export never got going ({at_kill} rows)");
    assert!(at_kill < paths.len() as u64, "killed after the export had finished ({at_kill} rows)");
    let resumed = arbor(&["collection", "export", &local, "--to", &url, "--batch", "100"]).success();
    let expected = format!("{} photos inserted, {at_kill} already there", paths.len() as u64 - at_kill);
    assert!(resumed.stderr.contains(&expected), "want {expected:?}: {}", resumed.stderr);
    let remote = arbor_engine::MilvusCollection::open(&parsed, 32, &identity).unwrap();
    assert_eq!(remote.count().unwrap(), paths.len() as u64);
    let mut stored = Vec::new();
    for chunk in paths.chunks(4000) {
        stored.extend(remote.rows_of(chunk).unwrap());
    }
    stored.sort();
    stored.dedup();
    assert_eq!(stored.len(), paths.len(), "a photo stored twice or missing");
}
