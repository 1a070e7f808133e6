//! BioCLIP 2's tree of life as it is published (issue 10), on `shared/fixtures/tol_like`: a
//! 2,944-taxon tree with 66 all-zero columns, empty classes, subspecies, duplicate taxa and a
//! 768-d model, against pybioclip 2.1.6's own answers before and after repair.

mod common;

use std::path::{Path, PathBuf};

use arbor_index::{TaxonId, TaxonIndex};
use common::{arbor, arg, assert_same_csv, write_npy};

fn tol_like() -> PathBuf {
    common::fixtures().join("../tol_like")
}

fn read_npy<T: npyz::Deserialize>(p: &Path) -> (Vec<u64>, Vec<T>) {
    let npy = npyz::NpyFile::new(std::fs::File::open(p).unwrap()).unwrap();
    (npy.shape().to_vec(), npy.into_vec().unwrap())
}

/// The fixture's photos, relative to the openclip fixture folder the runs start in.
fn photos() -> Vec<String> {
    let manifest: serde_json::Value =
        serde_json::from_reader(std::fs::File::open(tol_like().join("manifest.json")).unwrap()).unwrap();
    manifest["photos"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_owned()).collect()
}

/// The 768-d model and the tree imported as published, in `dir`.
fn import(dir: &Path) -> (String, String) {
    let f = tol_like();
    let model = dir.join("model");
    let m = f.join("model");
    common::import_openclip(&m.join("open_clip_model.safetensors"), &m.join("open_clip_config.json"), &model, &[])
        .success();
    let tol = dir.join("tol");
    let run = import_tree(&tol);
    assert!(run.stderr.contains("66 of 2944 taxa have no embedding"), "{}", run.stderr);
    (arg(&model), arg(&tol))
}

/// The fixture's tree, as published, into `out`.
fn import_tree(out: &Path) -> common::Run {
    let f = tol_like();
    common::import_pybioclip(&f.join("txt_emb_species.npy"), &f.join("txt_emb_species.json"), out, &[]).success()
}

fn classify(model: &str, tol: &str, rank: &str, extra: &[&str]) -> common::Run {
    let mut args = vec!["classify", "--model", model, "--index", tol, "--rank", rank, "--exact", "--format", "csv"];
    args.extend_from_slice(extra);
    let photos = photos();
    args.extend(photos.iter().map(String::as_str));
    arbor(&args).success()
}

#[test]
fn the_published_tree_imports_classifies_as_pybioclip_and_repairs() {
    let dir = tempfile::tempdir().unwrap();
    let (model, tol) = import(dir.path());

    // Info and verify say how many taxa have no embedding, and where.
    let info = arbor(&["index", "info", &tol, "--format", "json"]).success().json();
    assert_eq!(info["unembedded"], 66);
    assert_eq!(info["taxa"], 2944);
    assert_eq!(info["graph_m"], serde_json::Value::Null, "no graph unless asked for");
    assert!(info["unembedded_clades"][0][0].as_str().unwrap().ends_with("Polypodiopsida"), "{info}");
    let verify = arbor(&["index", "verify", &tol]).success();
    assert!(verify.stdout.contains("66 without an embedding"), "{}", verify.stdout);

    // As it is: pybioclip's rows (zero columns scored 0, inside the softmax).
    for rank in ["species", "family", "class"] {
        let run = classify(&model, &tol, rank, &[]);
        assert!(run.stderr.contains("can never be predicted") && run.stderr.contains("index repair"), "{}", run.stderr);
        assert_eq!(run.stderr.matches("can never be predicted").count(), 1, "said once: {}", run.stderr);
        assert_same_csv(&run.stdout, &tol_like().join(format!("expected_{rank}.csv")), 1e-4);
    }

    // A repair stopped part-way resumes, and writes pybioclip's vectors.
    let run = arbor(&["index", "repair", &tol, "--model", &model, "--stop-after", "20"]).success();
    assert!(run.stderr.contains("stopped after 20 of 66"), "{}", run.stderr);
    assert_eq!(TaxonIndex::open(&tol).unwrap().unembedded().len(), 66, "nothing written before the end");
    let run = arbor(&["index", "repair", &tol, "--model", &model]).success();
    assert!(run.stderr.contains("resumed: 20 of 66") && run.stderr.contains("embedded 66 taxa"), "{}", run.stderr);
    assert!(!dir.path().join("tol.repair.partial").exists(), "progress file removed");
    let index = TaxonIndex::open(&tol).unwrap();
    assert!(index.unembedded().is_empty());
    let (_, ids) = read_npy::<i64>(&tol_like().join("repair/zero_ids.npy"));
    let (shape, want) = read_npy::<f32>(&tol_like().join("repair/vectors.npy"));
    assert_eq!(shape, [66, 768]);
    for (row, &id) in ids.iter().enumerate() {
        let got = index.vector(TaxonId(id as u32)).unwrap();
        let worst = got.iter().zip(&want[row * 768..(row + 1) * 768]).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst < 1e-5, "taxon {id}: {worst}");
    }
    drop(index);
    arbor(&["index", "verify", &tol]).success();

    // After repair: pybioclip's repaired answers, the ferns included.
    for rank in ["species", "family", "class"] {
        let run = classify(&model, &tol, rank, &[]);
        assert!(!run.stderr.contains("never be predicted"), "{}", run.stderr);
        assert_same_csv(&run.stdout, &tol_like().join(format!("repair/expected_repaired_{rank}.csv")), 1e-4);
    }
    let subset = arg(&tol_like().join("subset_ferns.csv"));
    let run = classify(&model, &tol, "species", &["--subset", &subset]);
    assert_same_csv(&run.stdout, &tol_like().join("repair/expected_repaired_subset_ferns_species.csv"), 1e-4);

    // Nothing left to repair; a model of another width is refused.
    let run = arbor(&["index", "repair", &tol, "--model", &model]).success();
    assert!(run.stderr.contains("nothing to repair"), "{}", run.stderr);
}

#[test]
fn repair_refuses_a_model_of_another_width() {
    let dir = tempfile::tempdir().unwrap();
    let (_, tol) = import(dir.path());
    let run = arbor(&["index", "repair", &tol, "--model", &common::model()]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("width 768") && run.stderr.contains("width 32"), "{}", run.stderr);
    assert_eq!(TaxonIndex::open(&tol).unwrap().unembedded().len(), 66);
}

/// The model-named files of pybioclip's next release, 1024-d trees, and columns that are
/// neither zero nor unit length.
#[test]
fn model_named_and_wider_files_import_and_bad_columns_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let f = tol_like();
    for name in ["txt_emb_bioclip-2", "txt_emb_bioclip-2.5-vith14"] {
        std::fs::copy(f.join("txt_emb_species.npy"), dir.path().join(format!("{name}.npy"))).unwrap();
        std::fs::copy(f.join("txt_emb_species.json"), dir.path().join(format!("{name}.json"))).unwrap();
    }
    let names = serde_json::json!([
        [["Plantae", "Tracheophyta", "Polypodiopsida", "Polypodiales", "Aspleniaceae", "Asplenium", "trichomanes"], ""],
        [["Animalia", "Chordata", "", "Perciformes", "Percidae", "Perca", "fluviatilis"], "European perch"],
        [["Animalia", "Chordata", "Mammalia", "Carnivora", "Ursidae", "Ursus", "arctos syriacus"], "Syrian brown bear"],
        [["Animalia", "Chordata", "Mammalia", "Carnivora", "Ursidae", "Ursus", "arctos syriacus"], "Syrian brown bear"],
    ]);
    std::fs::write(dir.path().join("txt_emb_bioclip-2.5-vith14.json"), names.to_string()).unwrap();
    // (1024, 4): one taxon per column; the fern's column is all zeros.
    let mut cols = vec![0f32; 1024 * 4];
    for (taxon, at) in [(1usize, 3usize), (2, 500), (3, 1023)] {
        cols[at * 4 + taxon] = 1.0;
    }
    write_npy(&dir.path().join("txt_emb_bioclip-2.5-vith14.npy"), &[1024, 4], &cols);
    let import = |name: &str, extra: &[&str]| {
        let p = |ext: &str| dir.path().join(format!("{name}.{ext}"));
        let out = dir.path().join(format!("{name}-index"));
        (common::import_pybioclip(&p("npy"), &p("json"), &out, extra), arg(&out))
    };
    let (run, out) = import("txt_emb_bioclip-2", &[]);
    assert!(run.ok(), "{}", run.stderr);
    assert_eq!(arbor(&["index", "info", &out, "--format", "json"]).success().json()["unembedded"], 66);
    let (run, out) = import("txt_emb_bioclip-2.5-vith14", &[]);
    assert!(run.ok(), "{}", run.stderr);
    let info = arbor(&["index", "info", &out, "--format", "json"]).success().json();
    assert_eq!(
        (info["dim"].as_u64(), info["taxa"].as_u64(), info["unembedded"].as_u64()),
        (Some(1024), Some(4), Some(1))
    );
    let taxa = arbor(&["index", "taxa", &out]).success().stdout;
    assert!(taxa.contains("arctos syriacus") && taxa.contains(",,Perciformes"), "{taxa}");

    // A column that is neither zero nor unit length is an error naming it, unless --normalize.
    cols[1023 * 4 + 3] = 0.5;
    write_npy(&dir.path().join("txt_emb_bioclip-2.5-vith14.npy"), &[1024, 4], &cols);
    let (run, _) = import("txt_emb_bioclip-2.5-vith14", &[]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("vector 3") && run.stderr.contains("norm 0.5"), "{}", run.stderr);
    assert!(run.stderr.contains("txt_emb_bioclip-2.5-vith14.npy"), "{}", run.stderr);
    let (run, out) = import("txt_emb_bioclip-2.5-vith14", &["--normalize"]);
    assert!(run.ok(), "{}", run.stderr);
    assert_eq!(arbor(&["index", "info", &out, "--format", "json"]).success().json()["unembedded"], 1);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// BioCLIP 2's checkpoint as published: its file name, the `visual.continual_proj` its training
/// fork adds (named on import and left out), and the preset that gives it pybioclip's pipeline.
#[test]
fn the_published_checkpoint_imports_with_its_preset_and_extra_tensors_named() {
    use safetensors::tensor::TensorView;
    let dir = tempfile::tempdir().unwrap();
    let f = tol_like().join("model");
    let bytes = std::fs::read(f.join("open_clip_model.safetensors")).unwrap();
    let original = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let extra = vec![0u8; 4 * 768 * 768];
    let mut views: Vec<(String, TensorView<'_>)> =
        original.tensors().into_iter().map(|(name, view)| (name.to_string(), view)).collect();
    views.push((
        "visual.continual_proj".into(),
        TensorView::new(safetensors::Dtype::F32, vec![768, 768], &extra).unwrap(),
    ));
    let checkpoint = dir.path().join("open_clip_model.safetensors");
    safetensors::serialize_to_file(views, None, &checkpoint).unwrap();
    let config = f.join("open_clip_config.json");
    let import = |out: &str, config: &Path, preset: &str| {
        let out = dir.path().join(out);
        let run = common::import_openclip(&checkpoint, config, &out, &["--preset", preset]).success();
        (run, arg(&out))
    };
    let (run, bioclip2) = import("bioclip-2", &config, "bioclip-2");
    assert!(run.stderr.contains("left out 1 tensor") && run.stderr.contains("visual.continual_proj"), "{}", run.stderr);
    assert_eq!(common::model_info(&bioclip2, "pipeline"), "Squash");
    let (_, openclip) = import("openclip", &config, "openclip");
    assert_eq!(common::model_info(&openclip, "pipeline"), "Crop");
    // The squash model classifies as pybioclip does, the extra tensor notwithstanding.
    let tol = dir.path().join("tol");
    import_tree(&tol);
    let run = classify(&bioclip2, &arg(&tol), "class", &[]);
    assert_same_csv(&run.stdout, &tol_like().join("expected_class.csv"), 1e-4);

    // A config whose preprocess_cfg asks for a resize the crop pipeline does not implement is
    // refused by name, not resized some other way.
    let mut cfg: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    cfg["preprocess_cfg"]["resize_mode"] = "longest".into();
    let longest = dir.path().join("longest.json");
    std::fs::write(&longest, cfg.to_string()).unwrap();
    let (_, out) = import("longest", &longest, "openclip");
    let run = arbor(&["classify", "--model", &out, "--cls", "a,b", "images/chelsea.png"]);
    assert!(run.code == Some(1) && run.stderr.contains("Longest") && run.stderr.contains("squash"), "{}", run.stderr);
    let run = arbor(&["classify", "--model", &out, "--cls", "a,b", "images/chelsea.png", "--preprocess", "squash"]);
    assert!(run.ok(), "{}", run.stderr);
}
