//! `arbor collection build|add|list` and `arbor search` end to end on the tiny fixture model.

mod common;

use std::path::{Path, PathBuf};

use common::{arbor, arg, fixtures, images, model};

/// Copies the fixture photos named by `names` into `dir` (so the collection's absolute paths are
/// predictable) and returns their new paths.
/// Copies fixture photos (paths relative to the fixture folder) into `dir`.
fn copy_photos(dir: &Path, photos: &[String]) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    photos
        .iter()
        .map(|p| {
            let to = dir.join(Path::new(p).file_name().unwrap());
            std::fs::copy(fixtures().join(p), &to).unwrap();
            to.canonicalize().unwrap()
        })
        .collect()
}

fn search(collection: &Path, query: &[&str], k: usize) -> Vec<(String, f64)> {
    let mut args = vec!["search", "--collection", collection.to_str().unwrap(), "--format", "json"];
    args.extend(query);
    let (k, m) = (k.to_string(), model());
    args.extend(["-k", &k, "--model", &m]);
    let run = arbor(&args).success();
    run.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["path"].as_str().unwrap().to_owned(), h["score"].as_f64().unwrap()))
        .collect()
}

fn listed(collection: &Path) -> Vec<String> {
    let run = arbor(&["collection", "list", &arg(collection), "--format", "csv"]).success();
    run.stdout.lines().skip(1).map(str::to_owned).collect()
}

#[test]
fn search_by_image_finds_the_photo_itself_and_text_search_ranks_by_cosine() {
    let dir = tempfile::tempdir().unwrap();
    let photos = copy_photos(&dir.path().join("photos"), &images());
    std::fs::write(dir.path().join("photos/broken.jpg"), b"not a jpeg").unwrap();
    let coll = dir.path().join("coll");
    let run =
        arbor(&["collection", "build", "--model", &model(), &arg(&dir.path().join("photos")), "--out", &arg(&coll)]);
    assert_eq!(run.code, Some(3), "a bad photo is reported and the rest kept: {}", run.stderr);
    assert!(run.stderr.contains("broken.jpg"), "{}", run.stderr);
    let mut stored = listed(&coll);
    stored.sort();
    let mut want: Vec<String> = photos.iter().map(|p| arg(p)).collect();
    want.sort();
    assert_eq!(stored, want);

    for photo in &photos {
        let hits = search(&coll, &["--image", &arg(photo)], 3);
        assert_eq!(hits.len(), 3);
        assert_eq!(hits[0].0, arg(photo));
        assert!((hits[0].1 - 1.0).abs() < 1e-4, "{hits:?}");
        assert!(hits[1].1 <= hits[0].1 && hits[2].1 <= hits[1].1);
    }

    // Text search: the order is the cosine order of `arbor embed` on the same text and photos.
    let hits = search(&coll, &["--text", "Corvus corax"], 8);
    assert_eq!(hits.len(), 8);
    let text = dir.path().join("t.npy");
    let (m, t) = (model(), arg(&text));
    arbor(&["embed", "text", "--model", &m, "--text", "Corvus corax", "--templates", "openai80", "--out", &t])
        .success();
    let images = dir.path().join("i.npy");
    let mut args = vec!["embed".to_string(), "image".into(), "--model".into(), m, "--normalize".into()];
    args.extend(["--out".into(), arg(&images)]);
    args.extend(photos.iter().map(|p| arg(p)));
    arbor(&args).success();
    let read = |p: &Path| npyz::NpyFile::new(std::fs::File::open(p).unwrap()).unwrap().into_vec::<f32>().unwrap();
    let (q, rows) = (read(&text), read(&images));
    let cosines: Vec<f64> =
        rows.chunks_exact(q.len()).map(|r| r.iter().zip(&q).map(|(a, b)| f64::from(a * b)).sum()).collect();
    for (path, score) in &hits {
        let i = photos.iter().position(|p| arg(p) == *path).unwrap();
        assert!((cosines[i] - score).abs() < 1e-4, "{path}: {score} vs {}", cosines[i]);
    }
    assert!(hits.windows(2).all(|w| w[0].1 >= w[1].1));

    // Table and CSV carry the same answers.
    let (c, p, m) = (arg(&coll), arg(&photos[1]), model());
    let csv = arbor(&["search", "--collection", &c, "--model", &m, "--image", &p, "-k", "1", "--format", "csv"]);
    assert_eq!(csv.success().stdout.lines().nth(1).unwrap().split(',').nth(1), Some(p.as_str()));
}

#[test]
fn add_embeds_only_new_photos_and_keeps_the_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let photos = copy_photos(&dir.path().join("photos"), &images());
    let coll = dir.path().join("coll");
    let (m, c) = (model(), arg(&coll));
    arbor(&["collection", "build", "--model", &m, &arg(&photos[0]), &arg(&photos[1]), "--out", &c]).success();
    assert_eq!(listed(&coll), [arg(&photos[0]), arg(&photos[1])]);

    // The whole folder: two are present already, six are new.
    let run = arbor(&["collection", "add", &c, "--model", &m, &arg(&dir.path().join("photos"))]).success();
    assert!(run.stderr.contains("added 6 photos, 2 already present"), "{}", run.stderr);
    let stored = listed(&coll);
    assert_eq!(stored.len(), 8);
    assert_eq!(&stored[..2], [arg(&photos[0]), arg(&photos[1])], "old photos keep their place");

    let again = arbor(&["collection", "add", &c, "--model", &m, &arg(&photos[3])]).success();
    assert!(again.stderr.contains("added 0 photos, 1 already present"), "{}", again.stderr);
    assert_eq!(listed(&coll).len(), 8);

    // Old and new photos are both found as themselves.
    for p in [&photos[0], &photos[5]] {
        assert_eq!(search(&coll, &["--image", &arg(p)], 1)[0].0, arg(p));
    }

    // A bad new file is reported, skipped, and the good ones still added.
    let extra = copy_photos(&dir.path().join("more"), &["images/china.jpg".to_owned()]);
    std::fs::write(dir.path().join("more/empty.png"), b"").unwrap();
    let run = arbor(&["collection", "add", &c, "--model", &m, &arg(&dir.path().join("more"))]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert!(run.stderr.contains("empty.png"), "{}", run.stderr);
    assert_eq!(listed(&coll).last(), Some(&arg(&extra[0])));
}

#[test]
fn a_tree_of_life_index_is_not_a_collection() {
    let dir = tempfile::tempdir().unwrap();
    let tol = dir.path().join("tol");
    common::import_fixture_tree(&tol, &[]);
    let run = arbor(&["search", "--collection", &arg(&tol), "--model", &model(), "--text", "x"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("not a photo collection"), "{}", run.stderr);
}
