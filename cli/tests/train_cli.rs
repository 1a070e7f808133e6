//! `arbor synth`, `train`, `eval` and `demo` end to end, on tiny worlds.

mod common;

use std::path::Path;

use common::{Run, arbor_in as arbor};

fn ok(dir: &Path, args: &[&str]) -> Run {
    arbor(dir, args).success()
}

#[test]
fn synth_train_resume_eval_and_classify_through_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let summary = ok(
        dir,
        &[
            "synth",
            "--out",
            "world",
            "--species",
            "8",
            "--images-per-species",
            "10",
            "--image-size",
            "64",
            "--format",
            "json",
        ],
    )
    .json();
    assert_eq!(summary["species"], 8);
    assert_eq!(summary["unseen_species"], 2);
    let train = ["train", "--data", "world", "--out", "run", "--epochs", "3", "--batch-size", "16", "--warmup", "2"];

    // Interrupted after two steps, then resumed to the end.
    let first = ok(dir, &[&train[..], &["--stop-after-steps", "2", "--checkpoint-every", "1"]].concat());
    assert!(first.stderr.contains("--resume"), "{}", first.stderr);
    assert!(!dir.join("run/arbor-model.json").exists());
    let refused = arbor(dir, &train);
    assert!(!refused.ok() && refused.stderr.contains("--resume"), "{}", refused.stderr);
    let done = ok(dir, &[&train[..], &["--resume", "--format", "json"]].concat()).json();
    assert_eq!(done["finished"], true);
    assert_eq!(done["epochs"].as_array().unwrap().len(), 3);
    assert!(dir.join("run/charts/loss.svg").exists() && dir.join("run/metrics.jsonl").exists());

    let report =
        ok(dir, &["eval", "--model", "run", "--data", "world", "--shots", "1,2", "--seeds", "2", "--format", "json"])
            .json();
    for split in ["seen", "unseen"] {
        for rank in ["kingdom", "phylum", "class", "order", "family", "genus", "species"] {
            let acc = report["zero_shot"][split][rank].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&acc), "{split} {rank}: {acc}");
        }
    }
    assert!(report["few_shot"]["1"]["mean"].is_number() && report["few_shot"]["2"]["std"].is_number());
    assert_eq!(report["taxa"], 8);
    let table = ok(dir, &["eval", "--model", "run", "--data", "world"]);
    assert!(table.stdout.contains("zero-shot genus") && table.stdout.contains("5-shot species"), "{}", table.stdout);

    // The trained folder is a model directory like any other: index its taxa, classify.
    let bad = arbor(dir, &["eval", "--model", "world", "--data", "world"]);
    assert!(!bad.ok() && bad.stderr.contains("arbor-model.json"), "{}", bad.stderr);
}

#[test]
fn demo_runs_end_to_end_and_reports_every_rank() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let args = [
        "demo",
        "--out",
        "demo",
        "--species",
        "10",
        "--images-per-species",
        "12",
        "--epochs",
        "3",
        "--batch-size",
        "16",
    ];
    let run = ok(dir, &args);
    for rank in ["kingdom", "phylum", "class", "order", "family", "genus", "species"] {
        assert!(run.stdout.contains(&format!("zero-shot {rank}")), "{}", run.stdout);
        assert!(run.stdout.contains(&format!("chance {rank}")), "{}", run.stdout);
    }
    assert!(run.stdout.contains("1-shot species") && run.stdout.contains("charts"), "{}", run.stdout);
    for file in ["model/arbor-model.json", "model/charts/val_accuracy.svg", "index/index.arbor", "data/manifest.csv"] {
        assert!(dir.join("demo").join(file).exists(), "{file}");
    }
    // The demo's model and index work with the product commands.
    let photo = std::fs::read_to_string(dir.join("demo/data/manifest.csv")).unwrap();
    let photo = photo.lines().nth(1).unwrap().split(',').next().unwrap().to_owned();
    let photo = format!("demo/data/{photo}");
    let classified = ok(
        dir,
        &[
            "classify",
            "--model",
            "demo/model",
            "--index",
            "demo/index",
            &photo,
            "--rank",
            "genus",
            "-k",
            "1",
            "--format",
            "csv",
        ],
    );
    assert_eq!(classified.stdout.lines().count(), 2, "{}", classified.stdout);
    // A second demo replaces the first; a folder that is not a demo's is never touched.
    let again = ok(dir, &[&args[..], &["--format", "json"]].concat()).json();
    assert!(again["report"]["zero_shot"]["seen"]["kingdom"].is_number(), "{again}");
    std::fs::create_dir(dir.join("mine")).unwrap();
    std::fs::write(dir.join("mine/notes.txt"), "keep me").unwrap();
    let refused = arbor(dir, &["demo", "--out", "mine"]);
    assert!(!refused.ok() && refused.stderr.contains("not an earlier demo"), "{}", refused.stderr);
    assert_eq!(std::fs::read_to_string(dir.join("mine/notes.txt")).unwrap(), "keep me");
}
