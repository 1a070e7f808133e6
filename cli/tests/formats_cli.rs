//! Photo formats through the CLI: a folder of every form users have (shared/fixtures/formats)
//! is walked and embedded as pybioclip would, and what this build cannot decode is said.

mod common;

use common::{arbor, arg, fixtures, model};

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
