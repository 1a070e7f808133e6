//! `arbor fewshot fit`, `classify --centroids` and `arbor fewshot eval` end to end on the tiny
//! fixture model, with synthetic colour classes whose right answers are known.

mod common;

use common::{CLASSES, arbor, arg, model, write_classes, write_png};

/// `arbor fewshot fit` on a folder of class sub-folders, into `out`.
fn fit(support: &std::path::Path, out: &std::path::Path) -> common::Run {
    arbor(&["fewshot", "fit", "--model", &model(), "--support", &arg(support), "--out", &arg(out), "--format", "json"])
}

/// `arbor classify --centroids` of `paths`, one JSON object per line.
fn classify(centroids: &std::path::Path, paths: &[String], extra: &[&str]) -> (common::Run, Vec<serde_json::Value>) {
    let mut args = vec!["classify".to_string(), "--model".into(), model(), "--centroids".into(), arg(centroids)];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(paths.iter().cloned());
    let run = arbor(&args);
    let rows = if extra.contains(&"jsonl") {
        run.stdout.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect()
    } else {
        Vec::new()
    };
    (run, rows)
}

#[test]
fn centroids_fitted_on_a_folder_put_support_photos_in_their_class() {
    let dir = tempfile::tempdir().unwrap();
    let support = dir.path().join("support");
    write_classes(&support, 3);
    let out = dir.path().join("centroids");
    let run = fit(&support, &out).success();
    let summary = run.json();
    let classes: Vec<(&str, u64)> = summary["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["class"].as_str().unwrap(), c["support"].as_u64().unwrap()))
        .collect();
    assert_eq!(classes, [("blue", 3), ("green", 3), ("red", 3)], "sub-folders in sorted order");

    // Every support photo and a fresh photo of each colour come back as their class, best first.
    let mut paths = Vec::new();
    let mut want = Vec::new();
    for (name, colour) in CLASSES {
        let fresh = dir.path().join(format!("fresh-{name}.png"));
        write_png(&fresh, colour, 9);
        for p in [support.join(name).join("0.png"), support.join(name).join("2.png"), fresh] {
            paths.push(arg(&p));
            want.push(name);
        }
    }
    let (run, rows) = classify(&out, &paths, &["--format", "jsonl", "-k", "1"]);
    assert!(run.ok(), "{}", run.stderr);
    assert!(run.stderr.contains("mode: few-shot centroids"), "{}", run.stderr);
    let got: Vec<&str> = rows.iter().map(|r| r["classification"].as_str().unwrap()).collect();
    assert_eq!(got, want);
    assert!(rows.iter().all(|r| r["score"].as_f64().unwrap() > 0.5), "{rows:?}");

    // CSV lists every class per photo, scores descending, with the error column.
    let (run, _) = classify(&out, &paths[..1], &["--format", "csv"]);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "file_name,classification,score,error");
    assert_eq!(lines.len(), 4);
    let scores: Vec<f64> = lines[1..].iter().map(|l| l.split(',').nth(2).unwrap().parse().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
}

#[test]
fn a_csv_support_list_works_and_bad_photos_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    write_classes(dir.path(), 2);
    std::fs::write(dir.path().join("broken.png"), b"not a png").unwrap();
    let csv = dir.path().join("support.csv");
    std::fs::write(&csv, "path,label\nred/0.png,red\nred/1.png,red\nblue/0.png,blue\nbroken.png,blue\n").unwrap();
    let out = dir.path().join("c");
    let run = arbor(&[
        "fewshot",
        "fit",
        "--model",
        &model(),
        "--support-csv",
        &arg(&csv),
        "--out",
        &arg(&out),
        "--format",
        "json",
    ]);
    // Fitted all the same, and the exit status says a photo was left out.
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert!(run.stderr.contains("broken.png"), "{}", run.stderr);
    let summary = run.json();
    assert_eq!(summary["skipped"], 1);
    assert_eq!(summary["classes"][1], serde_json::json!({"class": "blue", "support": 1}));

    // Classify: an unreadable query is an error row, the run goes on, and the status is 3.
    let paths = [arg(&dir.path().join("blue/1.png")), arg(&dir.path().join("broken.png"))];
    let (run, rows) = classify(&out, &paths, &["--format", "jsonl", "-k", "1"]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert_eq!(rows[0]["classification"], "blue");
    assert!(rows[1]["error"].as_str().unwrap().contains("broken.png"), "{rows:?}");
}

#[test]
fn centroids_of_another_model_or_damaged_ones_are_refused_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    write_classes(&dir.path().join("s"), 1);
    let out = dir.path().join("c");
    fit(&dir.path().join("s"), &out).success();
    let query = [arg(&dir.path().join("s/red/0.png"))];

    let meta = out.join("centroids.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["model_identity"] = "0123456789abcdef".into();
    std::fs::write(&meta, doc.to_string()).unwrap();
    let (run, _) = classify(&out, &query, &[]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("another model"), "{}", run.stderr);

    std::fs::write(&meta, &text).unwrap();
    let index = std::fs::read(out.join("index.arbor")).unwrap();
    std::fs::write(out.join("index.arbor"), b"garbage").unwrap();
    let (run, _) = classify(&out, &query, &[]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("index.arbor"), "{}", run.stderr);

    std::fs::write(out.join("index.arbor"), index).unwrap();
    std::fs::write(&meta, b"{").unwrap();
    let (run, _) = classify(&out, &query, &[]);
    assert!(run.stderr.contains("centroids.json"), "{}", run.stderr);

    // One class is not a few-shot problem.
    let one = dir.path().join("one");
    write_classes(&one, 1);
    std::fs::remove_dir_all(one.join("red")).unwrap();
    std::fs::remove_dir_all(one.join("green")).unwrap();
    let run = fit(&one, &dir.path().join("c1"));
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("at least two classes"), "{}", run.stderr);
}

#[test]
fn eval_reports_mean_and_std_per_shot_count() {
    let dir = tempfile::tempdir().unwrap();
    write_classes(dir.path(), 4);
    let run = arbor(&[
        "fewshot",
        "eval",
        "--model",
        &model(),
        "--data",
        &arg(dir.path()),
        "--shots",
        "1,2",
        "--seeds",
        "3",
        "--format",
        "json",
    ])
    .success();
    let report = run.json();
    assert_eq!((report["photos"].as_u64(), report["classes"].as_u64()), (Some(12), Some(3)));
    assert_eq!(report["seeds"], 3);
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for (r, (shots, queries)) in results.iter().zip([(1, 9), (2, 6)]) {
        assert_eq!(r["shots"], shots);
        assert_eq!(r["classes"], 3);
        assert_eq!(r["queries"], queries);
        let (mean, std) = (r["mean"].as_f64().unwrap(), r["std"].as_f64().unwrap());
        // Colour classes are trivially separable: every query is right on every seed.
        assert_eq!((mean, std), (1.0, 0.0), "{r}");
    }

    // Table output: one row per shot count; a shot count no class can serve is an error.
    let table = arbor(&["fewshot", "eval", "--model", &model(), "--data", &arg(dir.path()), "--shots", "1"]).success();
    assert!(table.stdout.lines().nth(1).unwrap().starts_with("1      100.00 ± 0.00"), "{}", table.stdout);
    // `arbor eval fewshot` is the spelling of the same command.
    let alias = arbor(&["eval", "fewshot", "--model", &model(), "--data", &arg(dir.path()), "--shots", "1"]).success();
    assert_eq!(alias.stdout, table.stdout);
    let run = arbor(&["fewshot", "eval", "--model", &model(), "--data", &arg(dir.path()), "--shots", "4"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("more than 4"), "{}", run.stderr);
}
