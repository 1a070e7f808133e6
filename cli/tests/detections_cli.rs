//! `classify --detections`: MegaDetector files in (crops checked pixel for pixel against crops
//! cut here), MegaDetector files out (every field checked), malformed files refused by name,
//! and md-json runs killed anywhere then resumed.

mod common;

use std::path::{Path, PathBuf};

use common::{arbor, arg, fixtures, model, read_png_rgb, write_png, write_png_rgb};
use serde_json::{Value, json};

/// A camera-trap folder: the fixture cat photo (451×300) twice, a synthetic photo, and the
/// MegaDetector file describing them (some detections below 0.2, a person, an empty photo, a
/// missing one and one the detector failed on).
struct Trap {
    _dir: tempfile::TempDir,
    root: PathBuf,
    md: PathBuf,
}

fn trap() -> Trap {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("traps");
    std::fs::create_dir_all(root.join("cam1")).unwrap();
    std::fs::create_dir_all(root.join("cam2")).unwrap();
    std::fs::copy(fixtures().join("images/chelsea.png"), root.join("cam1/cat.png")).unwrap();
    std::fs::copy(fixtures().join("images/chelsea.png"), root.join("cam2/cat-again.png")).unwrap();
    write_png(&root.join("cam2/empty.png"), [40, 160, 60], 3);
    write_png(&root.join("cam2/low.png"), [140, 60, 60], 5);
    let md = dir.path().join("md.json");
    std::fs::write(&md, serde_json::to_vec_pretty(&detection_file()).unwrap()).unwrap();
    Trap { _dir: dir, root, md }
}

fn detection_file() -> Value {
    json!({
        "info": {"format_version": "1.4", "detector": "md_v5a.0.0.pt", "detection_completion_time": "2026-01-01 10:00:00",
                 "detector_metadata": {"typical_detection_threshold": 0.2}},
        "detection_categories": {"1": "animal", "2": "person", "3": "vehicle"},
        "images": [
            {"file": "cam1/cat.png", "detections": [
                {"category": "1", "conf": 0.93, "bbox": [0.2151, 0.1033, 0.4, 0.61]},
                {"category": "1", "conf": 0.12, "bbox": [0.0, 0.0, 0.1, 0.1]},
                {"category": "2", "conf": 0.8, "bbox": [0.7, 0.5, 0.25, 0.45]},
                {"category": "1", "conf": 0.5, "bbox": [0.9, 0.0, 0.1, 0.9]}
            ]},
            {"file": "cam2/empty.png", "detections": []},
            {"file": "cam2/cat-again.png", "detections": [
                {"category": "1", "conf": 0.61, "bbox": [0.01, 0.02, 0.97, 0.3]}
            ], "custom_field": {"kept": true}},
            {"file": "cam2/missing.png", "detections": [{"category": "1", "conf": 0.9, "bbox": [0, 0, 1, 1]}]},
            {"file": "cam2/broken.png", "failure": "Failure image access", "detections": null},
            {"file": "cam2\\low.png", "detections": [{"category": "1", "conf": 0.19, "bbox": [0.1, 0.1, 0.5, 0.5]}]}
        ]
    })
}

fn classify(t: &Trap, extra: &[&str]) -> common::Run {
    let (m, md, root) = (model(), arg(&t.md), arg(&t.root));
    let mut args = vec!["classify", "--model", &m, "--cls", "a cat,a dog,a person,grass", "--detections", &md, &root];
    args.extend_from_slice(extra);
    arbor(&args)
}

fn csv_rows(text: &str) -> Vec<csv::StringRecord> {
    csv::Reader::from_reader(text.as_bytes()).records().map(Result::unwrap).collect()
}

/// The box as MegaDetector's and SpeciesNet's croppers cut it, written out independently of
/// the engine: `int(v * size)` for each coordinate.
fn cut(pixels: &[u8], w: usize, h: usize, bbox: [f64; 4], square: bool) -> (usize, usize, Vec<u8>) {
    let x0 = (bbox[0] * w as f64) as i64;
    let y0 = (bbox[1] * h as f64) as i64;
    let bw = (bbox[2] * w as f64) as i64;
    let bh = (bbox[3] * h as f64) as i64;
    let (x0, y0, cw, ch) = if square {
        let s = bw.max(bh);
        let place = |start: i64, len: i64, extent: i64| {
            if extent < s { -((s - extent) / 2) } else { (start - (s - len) / 2).clamp(0, extent - s) }
        };
        (place(x0, bw, w as i64), place(y0, bh, h as i64), s, s)
    } else {
        (x0, y0, bw, bh)
    };
    let mut out = Vec::new();
    for y in y0..y0 + ch {
        for x in x0..x0 + cw {
            if (0..w as i64).contains(&x) && (0..h as i64).contains(&y) {
                let at = (y as usize * w + x as usize) * 3;
                out.extend_from_slice(&pixels[at..at + 3]);
            } else {
                out.extend([0, 0, 0]);
            }
        }
    }
    (cw as usize, ch as usize, out)
}

/// The rows `classify` gives for a photo file classified whole: (label, score) pairs.
fn whole_photo_rows(photo: &Path) -> Vec<(String, String)> {
    let m = model();
    let run =
        arbor(&["classify", "--model", &m, "--cls", "a cat,a dog,a person,grass", &arg(photo), "--format", "csv"])
            .success();
    csv_rows(&run.stdout).iter().map(|r| (r[1].to_owned(), r[2].to_owned())).collect()
}

/// The same labels in the same order, with scores equal up to the model's batch-to-batch
/// rounding (a photo's activations differ in the last bits with the batch it is run in).
fn same_answers(got: &[(String, String)], want: &[(String, String)], what: &str) {
    assert_eq!(got.iter().map(|g| &g.0).collect::<Vec<_>>(), want.iter().map(|w| &w.0).collect::<Vec<_>>(), "{what}");
    for ((_, a), (_, b)) in got.iter().zip(want) {
        let (a, b): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
        assert!((a - b).abs() < 1e-5, "{what}: {a} vs {b}");
    }
}

#[test]
fn each_animal_detection_is_classified_as_its_own_crop() {
    let t = trap();
    let (w, h, pixels) = read_png_rgb(&t.root.join("cam1/cat.png"));
    for (shape, square) in [("box", false), ("square", true)] {
        let run = classify(&t, &["--format", "csv", "--crop", shape]);
        assert_eq!(run.code, Some(3), "a missing photo and a failed one: {}", run.stderr);
        let rows = csv_rows(&run.stdout);
        let of = |file: &str, det: &str| -> Vec<(String, String)> {
            rows.iter().filter(|r| &r[0] == file && &r[1] == det).map(|r| (r[3].to_owned(), r[4].to_owned())).collect()
        };
        // Detections 0 and 3 of the cat photo are animals at or above 0.2; 1 is below, 2 a person.
        let detections: Vec<&str> = rows.iter().filter(|r| &r[0] == "cam1/cat.png").map(|r| &r[1]).collect();
        assert_eq!(detections, ["0", "0", "0", "0", "3", "3", "3", "3"], "{shape}");
        for (d, bbox) in [(0, [0.2151, 0.1033, 0.4, 0.61]), (3, [0.9, 0.0, 0.1, 0.9])] {
            let (cw, ch, crop) = cut(&pixels, w, h, bbox, square);
            let file = t.root.join(format!("crop-{shape}-{d}.png"));
            write_png_rgb(&file, cw, ch, &crop);
            same_answers(&of("cam1/cat.png", &d.to_string()), &whole_photo_rows(&file), &format!("{shape} crop {d}"));
            std::fs::remove_file(file).unwrap();
        }
        let conf: Vec<&str> = rows.iter().filter(|r| &r[0] == "cam1/cat.png").map(|r| &r[2]).collect();
        assert_eq!(conf[0], "0.93");
        // Photos with nothing to classify get one row saying so; errors name the photo.
        let empty: Vec<_> = rows.iter().filter(|r| &r[0] == "cam2/empty.png").collect();
        assert_eq!(empty.len(), 1);
        assert_eq!(&empty[0][1], "none");
        assert_eq!(rows.iter().filter(|r| &r[0] == "cam2\\low.png").map(|r| &r[1]).collect::<Vec<_>>(), ["none"]);
        let error = |file: &str| rows.iter().find(|r| &r[0] == file).map(|r| r[5].to_owned()).unwrap();
        assert!(error("cam2/missing.png").contains("missing.png"), "{}", error("cam2/missing.png"));
        assert!(error("cam2/broken.png").contains("Failure image access"));
    }
    // A lower threshold takes the low detection; --whole-images classifies photos without
    // detections whole, exactly as classifying the file.
    let run = classify(&t, &["--format", "csv", "--detection-threshold", "0.1", "--whole-images"]);
    let rows = csv_rows(&run.stdout);
    let cat: Vec<&str> = rows.iter().filter(|r| &r[0] == "cam1/cat.png").map(|r| &r[1]).collect();
    assert!(cat.contains(&"1"), "0.12 >= 0.1: {cat:?}");
    let empty: Vec<(String, String)> =
        rows.iter().filter(|r| &r[0] == "cam2/empty.png").map(|r| (r[3].to_owned(), r[4].to_owned())).collect();
    assert_eq!(rows.iter().find(|r| &r[0] == "cam2/empty.png").unwrap()[1].to_owned(), "whole");
    same_answers(&empty, &whole_photo_rows(&t.root.join("cam2/empty.png")), "whole photo");
}

#[test]
fn detections_work_with_the_tree_open_set_and_centroids() {
    let t = trap();
    let dir = tempfile::tempdir().unwrap();
    let tol = dir.path().join("tol");
    common::import_fixture_tree(&tol, &[]);
    let (m, md, root, tol) = (model(), arg(&t.md), arg(&t.root), arg(&tol));
    let tree = |extra: &[&str]| {
        let mut args =
            vec!["classify", "--model", &m, "--index", &tol, "--detections", &md, &root, "--format", "jsonl"];
        args.extend_from_slice(extra);
        let run = arbor(&args);
        assert_eq!(run.code, Some(3), "{}", run.stderr);
        run.stdout.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).collect::<Vec<_>>()
    };
    let family = tree(&["--rank", "family", "-k", "2"]);
    let cat: Vec<&Value> = family.iter().filter(|r| r["file_name"] == "cam1/cat.png").collect();
    assert_eq!(cat.len(), 4, "two detections, two families each");
    assert!(cat.iter().all(|r| r["family"].is_string() && r["score"].is_number()));
    let within = tree(&["--rank", "species", "--within", "Animalia", "-k", "1"]);
    assert!(
        within.iter().filter(|r| r["error"].is_null() && r["detection"] != "none").all(|r| r["kingdom"] == "Animalia")
    );
    let open = tree(&["--min-confidence", "0.9"]);
    assert!(open.iter().any(|r| r["rank"].is_string()), "{open:?}");
    // Few-shot centroids fitted on two crops' worth of photos.
    let support = dir.path().join("support");
    write_png(&support.join("green/a.png"), [40, 160, 60], 1);
    write_png(&support.join("red/a.png"), [140, 60, 60], 2);
    let centroids = arg(&dir.path().join("centroids"));
    arbor(&["fewshot", "fit", "--model", &m, "--support", &arg(&support), "--out", &centroids]).success();
    let run = arbor(&[
        "classify",
        "--model",
        &m,
        "--centroids",
        &centroids,
        "--detections",
        &md,
        &root,
        "--format",
        "csv",
        "--whole-images",
    ]);
    let rows = csv_rows(&run.stdout);
    let empty = rows.iter().find(|r| &r[0] == "cam2/empty.png").unwrap();
    assert_eq!((&empty[1], &empty[3]), ("whole", "green"));
}

#[test]
fn malformed_detection_files_are_refused_by_name_and_place() {
    let t = trap();
    let write = |doc: &Value| {
        std::fs::write(&t.md, serde_json::to_vec(doc).unwrap()).unwrap();
    };
    let mut bad = detection_file();
    bad["images"][2]["detections"][0]["bbox"] = json!([0.5, 0.5, 0.7, 0.2]);
    write(&bad);
    let run = classify(&t, &[]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("md.json: images[2].detections[0] (cam2/cat-again.png): bbox"), "{}", run.stderr);
    let mut bad = detection_file();
    bad["images"][0]["detections"][1]["category"] = json!("9");
    write(&bad);
    assert!(classify(&t, &[]).stderr.contains("category \"9\" is not in detection_categories"));
    let mut bad = detection_file();
    bad["images"][0]["detections"][0]["conf"] = json!(1.7);
    write(&bad);
    assert!(classify(&t, &[]).stderr.contains("conf 1.7"));
    let mut bad = detection_file();
    bad.as_object_mut().unwrap().remove("info");
    write(&bad);
    assert!(classify(&t, &[]).stderr.contains("no info.format_version"));
    std::fs::write(&t.md, b"{\"images\": [").unwrap();
    let run = classify(&t, &[]);
    assert!(run.stderr.contains("md.json: not JSON"), "{}", run.stderr);
    // Combinations that cannot be written are refused before any work.
    write(&detection_file());
    let out = arg(&t.root.join("x.json"));
    assert!(classify(&t, &["--format", "md-json"]).stderr.contains("needs --output"));
    assert!(
        classify(&t, &["--format", "md-json", "--output", &out, "--whole-images"])
            .stderr
            .contains("only on detections")
    );
    let m = model();
    let run =
        arbor(&["classify", "--model", &m, "--cls", "a,b", &arg(&t.root), "--format", "md-json", "--output", &out]);
    assert!(run.stderr.contains("give it with --detections"), "{}", run.stderr);
    let run = classify(&t, &["--crop", "round"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
}

/// The md-json output without what changes from run to run (the completion time).
fn stable(mut doc: Value) -> Value {
    doc["info"].as_object_mut().unwrap().remove("classification_completion_time");
    doc
}

#[test]
fn md_json_is_the_detection_file_with_classifications() {
    let t = trap();
    let out = t.root.join("classified.json");
    let run = classify(&t, &["--format", "md-json", "--output", &arg(&out), "-k", "3"]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert!(!common::sidecar(&out).exists(), "the sidecar is removed once the file is written");
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let input = detection_file();
    // The detector's fields are all kept, in their order.
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&doc)[..3], keys(&input)[..]);
    assert_eq!(doc["detection_categories"], input["detection_categories"]);
    for (k, v) in input["info"].as_object().unwrap() {
        assert_eq!(&doc["info"][k], v, "info.{k}");
    }
    assert!(doc["info"]["classifier"].as_str().unwrap().starts_with("arbor "));
    assert!(doc["info"]["classification_completion_time"].is_string());
    assert_eq!(doc["info"]["classifier_metadata"]["crop"], "box");
    let names = doc["classification_categories"].as_object().unwrap();
    let descriptions = doc["classification_category_descriptions"].as_object().unwrap();
    assert_eq!(names.keys().collect::<Vec<_>>(), descriptions.keys().collect::<Vec<_>>());
    assert!(names.keys().all(|id| id.parse::<u32>().is_ok_and(|n| n > 0)), "ids are positive integers: {names:?}");
    assert!(names.values().all(|n| n.as_str().is_some_and(|s| !s.is_empty())));
    // Every image and detection is where it was; classifications only on animal detections
    // at or above the threshold, best first, with known ids and scores in [0, 1].
    let csv = csv_rows(&classify(&t, &["--format", "csv", "-k", "3"]).stdout);
    let images = doc["images"].as_array().unwrap();
    assert_eq!(images.len(), input["images"].as_array().unwrap().len());
    let mut classified = 0;
    for (image, want) in images.iter().zip(input["images"].as_array().unwrap()) {
        let mut stripped = image.clone();
        let file = image["file"].as_str().unwrap();
        for (j, det) in image["detections"].as_array().into_iter().flatten().enumerate() {
            let wanted = &want["detections"][j];
            let expected =
                wanted["category"] == "1" && wanted["conf"].as_f64().unwrap() >= 0.2 && !file.contains("missing");
            let Some(list) = det.get("classifications") else {
                assert!(!expected, "{file} detection {j} should be classified");
                continue;
            };
            assert!(expected, "{file} detection {j} should not be classified");
            classified += 1;
            let list = list.as_array().unwrap();
            assert_eq!(list.len(), 3);
            let scores: Vec<f64> = list.iter().map(|c| c[1].as_f64().unwrap()).collect();
            assert!(scores.windows(2).all(|w| w[0] >= w[1]), "best first: {scores:?}");
            assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
            // The same answers as the CSV rows of that detection.
            let rows: Vec<(String, f64)> = csv
                .iter()
                .filter(|r| &r[0] == file && r[1] == j.to_string())
                .map(|r| (r[3].to_owned(), r[4].parse().unwrap()))
                .collect();
            let ours: Vec<(String, f64)> = list
                .iter()
                .map(|c| (names[c[0].as_str().unwrap()].as_str().unwrap().to_owned(), c[1].as_f64().unwrap()))
                .collect();
            assert_eq!(ours.len(), rows.len());
            for ((a, x), (b, y)) in ours.iter().zip(&rows) {
                assert_eq!(a, b);
                assert!((x - y).abs() < 1e-6, "{x} vs {y}");
            }
            stripped["detections"][j].as_object_mut().unwrap().remove("classifications");
        }
        assert_eq!(&stripped, want, "nothing else changed in {file}");
    }
    assert_eq!(classified, 3);
}

#[test]
fn an_md_json_run_killed_anywhere_resumes_to_the_same_file() {
    let t = trap();
    let full = t.root.join("full.json");
    let run = |out: &Path, extra: &[&str]| {
        let out = arg(out);
        let mut args = vec!["--format", "md-json", "--output", &out, "--batch-size", "2"];
        args.extend_from_slice(extra);
        classify(&t, &args)
    };
    run(&full, &[]);
    let want = stable(serde_json::from_slice(&std::fs::read(&full).unwrap()).unwrap());
    let mut state = 0x2545_F491u64;
    for seed in 0..5u64 {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407 + seed);
        let stop = (state >> 33) % 6;
        let out = t.root.join(format!("run-{seed}.json"));
        let stopped = run(&out, &["--stop-after", &stop.to_string()]);
        assert_eq!(stopped.code, Some(1), "{}", stopped.stderr);
        assert!(!out.exists(), "nothing is written before the end");
        let sidecar = common::sidecar(&out);
        // Torn inside the last photo's line, as a kill mid-write leaves it.
        let bytes = std::fs::read(&sidecar).unwrap();
        let cut = if bytes.is_empty() { 0 } else { bytes.len() - 1 - (state >> 40) as usize % bytes.len().min(40) };
        std::fs::write(&sidecar, &bytes[..cut]).unwrap();
        // Without --resume the sidecar is not overwritten.
        let refused = run(&out, &[]);
        assert!(refused.stderr.contains("--resume"), "{}", refused.stderr);
        let resumed = run(&out, &["--resume"]);
        assert!(resumed.stderr.contains("resuming"), "{}", resumed.stderr);
        let got = stable(serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap());
        assert_eq!(got, want, "stopped after {stop} photos, cut at byte {cut}");
        assert!(!sidecar.exists());
    }
}
