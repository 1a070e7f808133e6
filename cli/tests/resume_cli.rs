//! `classify --resume`: a run killed at any point, then resumed, writes exactly the rows of an
//! uninterrupted run — none twice, none missing.

mod common;

use std::process::{Command, Stdio};

use common::{arbor, arg, model, write_png};

fn photos(dir: &std::path::Path) -> std::path::PathBuf {
    let root = dir.join("photos");
    for i in 0..24u8 {
        write_png(&root.join(format!("{i:02}.png")), [i * 10, 255 - i * 10, 128], i);
    }
    root
}

#[test]
fn resumed_runs_write_the_rows_of_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let root = arg(&photos(dir.path()));
    let m = model();
    for format in ["csv", "jsonl"] {
        let full = dir.path().join(format!("full.{format}"));
        let run = |out: &std::path::Path, resume: bool| {
            let mut args =
                vec!["classify", "--model", &m, "--cls", "red,green,blue", &root, "--format", format, "-k", "2"];
            let out = arg(out);
            args.extend(["--output", &out, "--batch-size", "4"]);
            if resume {
                args.push("--resume");
            }
            arbor(&args).success()
        };
        run(&full, false);
        let want = std::fs::read(&full).unwrap();
        // Killed at byte `cut` (mid-row, mid-photo, right after the header, before anything).
        let mut state = 0x9E37_79B9u64;
        for seed in 0..6 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407 + seed);
            let cut = (state >> 33) as usize % want.len();
            let out = dir.path().join(format!("cut-{seed}.{format}"));
            std::fs::write(&out, &want[..cut]).unwrap();
            let resumed = run(&out, true);
            assert!(resumed.stderr.contains("resuming"), "{}", resumed.stderr);
            assert_eq!(
                String::from_utf8_lossy(&std::fs::read(&out).unwrap()),
                String::from_utf8_lossy(&want),
                "{format}, killed at byte {cut}"
            );
        }
        // Resuming a finished run changes nothing (its last photo, which may have been torn, is
        // classified again to the same rows).
        let again = run(&full, true);
        assert!(again.stderr.contains("23 photos already done"), "{}", again.stderr);
        assert_eq!(std::fs::read(&full).unwrap(), want);
    }

    // A real kill: SIGKILL once rows appear, then resume.
    let full = std::fs::read(dir.path().join("full.jsonl")).unwrap();
    let out = dir.path().join("killed.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_arbor"))
        .args(["classify", "--model", &m, "--cls", "red,green,blue", &root, "--format", "jsonl", "-k", "2"])
        .args(["--output", &arg(&out), "--batch-size", "4"])
        .env("ARBOR_CACHE_DIR", dir.path().join("cache"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while std::fs::metadata(&out).map_or(0, |m| m.len()) < 200 && child.try_wait().unwrap().is_none() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    arbor(&[
        "classify",
        "--model",
        &m,
        "--cls",
        "red,green,blue",
        &root,
        "--format",
        "jsonl",
        "-k",
        "2",
        "--output",
        &arg(&out),
        "--batch-size",
        "4",
        "--resume",
    ])
    .success();
    assert_eq!(String::from_utf8_lossy(&std::fs::read(&out).unwrap()), String::from_utf8_lossy(&full));

    // Another run's file, and a table, are refused.
    let other = dir.path().join("other.csv");
    std::fs::write(&other, "file_name,kingdom,score,error\nx.png,Animalia,1,\n").unwrap();
    let run = arbor(&[
        "classify",
        "--model",
        &m,
        "--cls",
        "red,green",
        &root,
        "--format",
        "csv",
        "--output",
        &arg(&other),
        "--resume",
    ]);
    assert!(run.code == Some(1) && run.stderr.contains("columns"), "{}", run.stderr);
    assert!(std::fs::read_to_string(&other).unwrap().contains("Animalia"), "another run's file is left alone");
    let run = arbor(&["classify", "--model", &m, "--cls", "red,green", &root, "--output", &arg(&out), "--resume"]);
    assert!(run.code == Some(1) && run.stderr.contains("--format csv, jsonl"), "{}", run.stderr);
}
