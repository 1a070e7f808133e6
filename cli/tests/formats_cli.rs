//! Photo formats through the CLI: a folder of every form users have (shared/fixtures/formats)
//! is walked and embedded as pybioclip would, and what this build cannot decode is said.

mod common;

use common::{arbor, arg, fixtures, jpeg_with_exif, model};

#[test]
fn a_folder_of_every_form_embeds_what_pil_reads() {
    let dir = tempfile::tempdir().unwrap();
    let images = fixtures().join("../formats/images");
    let out = dir.path().join("e.json");
    let run = arbor(&[
        "embed",
        "image",
        "--model",
        &model(),
        &arg(&images),
        "--out",
        &arg(&out),
        "--format",
        "json",
        "--normalize",
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let heif = cfg!(feature = "heif");
    assert_eq!(
        run.stderr.contains("left out: 6 in a photo format this build does not decode"),
        !heif,
        "{}",
        run.stderr
    );
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let embedded = doc["embeddings"].as_object().unwrap();
    assert_eq!(embedded.len(), if heif { 66 } else { 60 });
    for ext in ["webp", "tif", "tiff", "bmp", "gif", "JPG", "jpeg", "png"] {
        assert!(embedded.keys().any(|k| k.ends_with(&format!(".{ext}"))), "no .{ext} embedded");
    }

    // Named on the command line, a photo this build cannot decode is an error for that file
    // (exit 3), naming the feature that decodes it.
    let heic = arg(&images.join("chelsea.heic.heic"));
    let webp = arg(&images.join("chelsea.webp_lossy.webp"));
    let run = arbor(&["classify", "--model", &model(), "--cls", "a cat,a rocket", &webp, &heic, "--format", "csv"]);
    assert!(run.stdout.lines().nth(1).unwrap().contains("webp_lossy.webp,a "), "{}", run.stdout);
    if heif {
        assert_eq!(run.code, Some(0), "{}", run.stderr);
    } else {
        assert_eq!(run.code, Some(3), "{}", run.stderr);
        assert!(
            run.stderr.contains("HEIC photos are not decoded by this build") && run.stderr.contains("--features heif"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn exif_orientation_is_an_option_of_every_photo_command() {
    let dir = tempfile::tempdir().unwrap();
    let photo = arg(&fixtures().join("../formats/images/chelsea.jpeg_exif6.jpg"));
    let m = model();
    let scores = |extra: &[&str]| {
        let mut args = vec!["classify", "--model", &m, "--cls", "a cat,a rocket", &photo, "--format", "jsonl"];
        args.extend_from_slice(extra);
        let run = arbor(&args).success();
        let row: serde_json::Value = serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
        row["score"].as_f64().unwrap()
    };
    assert_ne!(scores(&[]), scores(&["--exif-orient"]), "rotating the photo changes its embedding");
    let coll = arg(&dir.path().join("c"));
    arbor(&["collection", "build", "--model", &m, &photo, "--out", &coll, "--exif-orient"]).success();
    let support = dir.path().join("s");
    common::write_classes(&support, 1);
    arbor(&[
        "fewshot",
        "fit",
        "--model",
        &m,
        "--support",
        &arg(&support),
        "--out",
        &arg(&dir.path().join("f")),
        "--exif-orient",
    ])
    .success();
}

#[test]
fn exif_time_place_and_camera_go_into_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let jpeg = std::fs::read(fixtures().join("images/china.jpg")).unwrap();
    let tagged = dir.path().join("trap.jpg");
    std::fs::write(&tagged, jpeg_with_exif(&jpeg)).unwrap();
    let plain = arg(&fixtures().join("images/chelsea.png"));
    let m = model();
    let labels = |paths: &[&str], extra: &[&str]| {
        let mut args = vec!["classify", "--model", &m, "--cls", "a cat,a rocket"];
        args.extend_from_slice(paths);
        args.extend_from_slice(extra);
        arbor(&args).success()
    };
    let run = labels(&[&arg(&tagged), &plain], &["--format", "jsonl", "--exif"]);
    let rows: Vec<serde_json::Value> = run.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 4);
    for row in &rows[..2] {
        assert_eq!(row["datetime_original"], "2025:01:02 03:04:05");
        assert_eq!(row["camera_model"], "Cam");
        assert!((row["gps_latitude"].as_f64().unwrap() + 1.5).abs() < 1e-9, "{row}");
        assert!((row["gps_longitude"].as_f64().unwrap() + 70.25).abs() < 1e-9, "{row}");
        assert!(row["score"].is_number());
    }
    assert!(rows[2]["datetime_original"].is_null() && rows[2]["gps_latitude"].is_null(), "{}", rows[2]);
    // The same pixels classify the same with EXIF spliced in.
    let same = labels(&[&arg(&fixtures().join("images/china.jpg"))], &["--format", "jsonl"]);
    let first: serde_json::Value = serde_json::from_str(same.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["score"], rows[0]["score"]);
    let csv = labels(&[&arg(&tagged)], &["--format", "csv", "--exif"]);
    assert!(
        csv.stdout.starts_with(
            "file_name,classification,score,datetime_original,gps_latitude,gps_longitude,camera_model,error"
        ),
        "{}",
        csv.stdout
    );
}
