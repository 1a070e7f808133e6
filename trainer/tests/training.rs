//! End-to-end checks of the trainer on tiny worlds and tiny models.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use arbor_engine::{Clip, ClipConfig, Cpu, ModelDir, StateDict};
use arbor_engine::{Embedder, TextType, normalize_rows};
use arbor_index::Rank;
use arbor_trainer::{
    Dataset, EvalSettings, ModelInit, RunOptions, Split, SynthConfig, TrainConfig, TrainReport, World, evaluate,
};
use burn::backend::Autodiff;

type Train = Autodiff<Cpu>;

/// A model small enough to train in seconds: 32-px photos, one block per tower.
fn micro_config() -> ClipConfig {
    let mut c = ClipConfig::tiny();
    c.embed_dim = 16;
    c.vision.image_size = 32;
    c.vision.width = 32;
    c.vision.layers = 1;
    c.vision.heads = 2;
    c.vision.mlp_width = 64;
    c.text.width = 32;
    c.text.layers = 1;
    c.text.heads = 2;
    c.text.mlp_width = 64;
    c
}

fn world(dir: &Path, species: usize, images: usize, seed: u64) -> PathBuf {
    let out = dir.join(format!("world-{seed}"));
    let config = SynthConfig { species, images_per_species: images, seed, image_size: 32, unseen_fraction: 0.25 };
    World::generate(&config).unwrap().write_dataset(&out, |_, _| {}).unwrap();
    out
}

fn quick(epochs: usize) -> TrainConfig {
    TrainConfig {
        text_type: TextType::Mixed,
        epochs,
        batch_size: 16,
        lr: 2e-3,
        warmup: 2,
        eval_shots: vec![1],
        eval_seeds: 2,
        ..TrainConfig::default()
    }
}

fn run(data: &Path, config: &TrainConfig, out: &Path, options: &RunOptions) -> TrainReport {
    arbor_trainer::train::<Train>(
        data,
        &ModelInit::Config(micro_config()),
        config,
        out,
        options,
        &Default::default(),
        &mut |_| {},
    )
    .unwrap()
}

fn weights(model_dir: &Path) -> BTreeMap<String, Vec<f32>> {
    let dir = ModelDir::open(model_dir).unwrap();
    let model: Clip<Cpu> = dir.load(&Default::default()).unwrap();
    let state = model.to_state_dict(model_dir.join("x")).unwrap();
    state.names().map(|n| (n.to_owned(), state.values(n).unwrap().to_vec())).collect()
}

#[test]
fn synthetic_worlds_are_deterministic_and_hold_out_species_with_seen_relatives() {
    let tmp = tempfile::tempdir().unwrap();
    let config = SynthConfig { species: 20, images_per_species: 6, seed: 3, image_size: 32, unseen_fraction: 0.2 };
    assert_eq!(World::generate(&config).unwrap(), World::generate(&config).unwrap());
    let a = world(tmp.path(), 20, 6, 3);
    let b_dir = tmp.path().join("again");
    std::fs::create_dir(&b_dir).unwrap();
    let b = world(&b_dir, 20, 6, 3);
    let manifest = std::fs::read_to_string(a.join("manifest.csv")).unwrap();
    assert_eq!(manifest, std::fs::read_to_string(b.join("manifest.csv")).unwrap());
    let first_photo = manifest.lines().nth(1).unwrap().split(',').next().unwrap();
    assert_eq!(std::fs::read(a.join(first_photo)).unwrap(), std::fs::read(b.join(first_photo)).unwrap());
    assert_ne!(
        World::generate(&SynthConfig { seed: 4, ..config.clone() }).unwrap().species,
        World::generate(&config).unwrap().species
    );

    let data = Dataset::open(&a).unwrap();
    assert!(data.skipped().is_empty());
    assert_eq!(data.taxa().len(), 20);
    assert_eq!(data.samples().len(), 120);
    let seen = data.seen_in_training();
    let unseen: Vec<usize> = (0..20).filter(|&t| !seen[t]).collect();
    assert_eq!(unseen.len(), 5, "25 % of 20 species are held out");
    for &t in &unseen {
        let genus = data.taxa()[t].lineage.down_to(Rank::Genus);
        assert!(data.samples().iter().filter(|s| s.taxon_index == t).all(|s| s.split == Split::Test));
        assert!((0..20).any(|o| seen[o] && data.taxa()[o].lineage.down_to(Rank::Genus) == genus), "a seen relative");
    }
    for split in [Split::Train, Split::Val, Split::Test] {
        assert!(!data.split(split).is_empty(), "{split:?}");
    }
    // Seven ranks, all named, with real rank suffixes.
    let lineage = &data.taxa()[0].lineage;
    assert!(lineage.0.iter().all(|n| !n.is_empty()));
    assert!(lineage.get(Rank::Family).ends_with("idae") && lineage.get(Rank::Order).ends_with("iformes"));
    // Existing folders are never overwritten.
    let again = World::generate(&config).unwrap().write_dataset(&a, |_, _| {});
    assert!(again.unwrap_err().to_string().contains("already exists"));
}

#[test]
fn training_lowers_the_loss_and_writes_a_usable_model_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let data = world(tmp.path(), 8, 14, 1);
    let out = tmp.path().join("run");
    let report = run(&data, &quick(6), &out, &RunOptions::default());
    assert!(report.finished);
    let losses: Vec<f64> = report.history.iter().map(|e| e.loss).collect();
    assert_eq!(losses.len(), 6);
    assert!(losses[5] < losses[0] * 0.85, "loss should fall: {losses:?}");
    assert!(report.history.iter().all(|e| e.val.is_some() && e.logit_scale > 0.0 && e.logit_scale <= 100.0));
    // The folder is a model directory every command takes, with its record of the run.
    let embedder = Embedder::open(&out).unwrap();
    assert_eq!(embedder.dim(), 16);
    assert_eq!(std::fs::read_to_string(out.join("metrics.jsonl")).unwrap().lines().count(), 6);
    for chart in arbor_trainer::report::chart_paths(&out) {
        let svg = std::fs::read_to_string(&chart).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("polyline"), "{}", chart.display());
    }
    // A second run into the same folder must be asked for explicitly.
    let again = arbor_trainer::train::<Train>(
        &data,
        &ModelInit::Config(micro_config()),
        &quick(1),
        &out,
        &RunOptions::default(),
        &Default::default(),
        &mut |_| {},
    );
    assert!(again.unwrap_err().to_string().contains("--resume"));
}

#[test]
fn a_resumed_run_reaches_the_weights_of_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let data = world(tmp.path(), 8, 10, 2);
    let config = TrainConfig { checkpoint_every: 2, ..quick(3) };
    let whole = tmp.path().join("whole");
    let whole_report = run(&data, &config, &whole, &RunOptions::default());
    let total = whole_report.steps;
    assert!(total >= 6, "{total} steps");

    let broken = tmp.path().join("broken");
    let first = run(&data, &config, &broken, &RunOptions { resume: false, stop_after: Some(total / 2 + 1) });
    assert!(!first.finished);
    assert!(!broken.join(ModelDir::MANIFEST).exists(), "no model until the run is complete");
    let second =
        run(&data, &TrainConfig { lr: 1.0, ..config.clone() }, &broken, &RunOptions { resume: true, stop_after: None });
    assert!(second.finished && second.steps == total);

    let (a, b) = (weights(&whole), weights(&broken));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, x) in &a {
        let worst = x.iter().zip(&b[name]).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "{name}: differs by {worst}");
    }
    let history =
        |r: &TrainReport| r.history.iter().map(|e| (e.epoch, e.step, (e.loss * 1e4).round())).collect::<Vec<_>>();
    assert_eq!(history(&whole_report), history(&second));
}

#[test]
fn gradient_accumulation_takes_the_full_batch_step() {
    let tmp = tempfile::tempdir().unwrap();
    let data = world(tmp.path(), 6, 10, 5);
    let config = TrainConfig { text_type: TextType::TaxonomicCommon, ..quick(1) };
    let one = tmp.path().join("one");
    run(&data, &config, &one, &RunOptions::default());
    let four = tmp.path().join("four");
    run(&data, &TrainConfig { accumulation: 4, ..config }, &four, &RunOptions::default());
    let (a, b) = (weights(&one), weights(&four));
    assert!(!a.is_empty());
    for (name, x) in &a {
        let worst = x.iter().zip(&b[name]).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
        assert!(worst < 2e-4, "{name}: differs by {worst}");
    }
}

#[test]
fn bad_rows_and_unreadable_photos_are_skipped_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let data = world(tmp.path(), 6, 6, 7);
    let manifest = data.join("manifest.csv");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    let good_rows = text.lines().count() - 1;
    std::fs::write(data.join("broken.png"), b"not a png").unwrap();
    text.push_str("images/nothing-here.png,train,A,B,C,D,E,F,g,\n"); // missing file
    text.push_str("broken.png,train,A,B,C,D,E,F,g,\n"); // undecodable
    text.push_str("broken.png,holdout,A,B,C,D,E,F,g,\n"); // unknown split
    text.push_str("broken.png,train,,,,,,,,\n"); // no taxon
    text.push_str("broken.png,train\n"); // too few fields
    std::fs::write(&manifest, text).unwrap();
    let mut dataset = Dataset::open(&data).unwrap();
    let reasons: Vec<(usize, String)> = dataset.skipped().iter().map(|s| (s.line, s.reason.clone())).collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons[0].1.contains("no such file") && reasons[0].0 == good_rows + 2);
    assert!(reasons[1].1.contains("unknown split"));
    assert!(reasons[2].1.contains("no taxon"));
    assert!(reasons[3].1.contains("missing field"));
    let train = dataset.load_images(Split::Train, 1 << 24);
    assert!(train.samples.iter().all(|s| !s.path.ends_with("broken.png")));
    let last = dataset.skipped().last().unwrap();
    assert_eq!(last.line, good_rows + 3);
    assert!(last.reason.contains("broken.png"), "{}", last.reason);
    // Missing manifest and missing columns are errors naming the file.
    let err = Dataset::open(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("manifest.csv"), "{err}");
    std::fs::write(&manifest, "path,split,kingdom\nx,train,A\n").unwrap();
    let err = Dataset::open(&data).unwrap_err().to_string();
    assert!(err.contains("phylum") && err.contains("manifest.csv"), "{err}");
}

#[test]
fn evaluation_equals_an_independent_computation() {
    let tmp = tempfile::tempdir().unwrap();
    let data = world(tmp.path(), 10, 6, 11);
    // An untrained model, so right and wrong answers are both common at every rank.
    let model = Clip::<Cpu>::new(&micro_config(), &Default::default()).unwrap();
    let state = model.to_state_dict(tmp.path().join("w")).unwrap();
    let model_dir = tmp.path().join("model");
    ModelDir::write(&state, micro_config(), "test", &model_dir).unwrap();
    let embedder = Embedder::open(&model_dir).unwrap();
    let mut dataset = Dataset::open(&data).unwrap();
    let test = dataset.load_images(Split::Test, 1 << 24);
    let seen = dataset.seen_in_training();
    let settings =
        EvalSettings { taxa: dataset.taxa(), seen: &seen, text_type: TextType::Scientific, shots: &[1, 2], seeds: 3 };
    let report = evaluate(&embedder, &test, &settings).unwrap();

    // By hand: cosine → softmax over all taxa → sum per ancestor → argmax, per rank.
    let dim = embedder.dim();
    let captions: Vec<String> = dataset.taxa().iter().map(|t| format!("a photo of {}.", t.lineage.species())).collect();
    let mut texts = embedder.embed_texts(&captions).unwrap();
    normalize_rows(&mut texts, dim);
    let pixels: Vec<_> = test.images.iter().map(|i| embedder.preprocessor().process(i)).collect();
    let mut images = embedder.embed_pixels(&pixels).unwrap();
    normalize_rows(&mut images, dim);
    let scale = f64::from(embedder.logit_scale());
    let mut correct: HashMap<(bool, usize), usize> = HashMap::new();
    let mut counts: HashMap<bool, usize> = HashMap::new();
    for (sample, image) in test.samples.iter().zip(images.chunks(dim)) {
        let logits: Vec<f64> = texts
            .chunks(dim)
            .map(|t| scale * t.iter().zip(image).map(|(a, b)| f64::from(a * b)).sum::<f64>())
            .collect();
        let max = logits.iter().copied().fold(f64::MIN, f64::max);
        let z: f64 = logits.iter().map(|l| (l - max).exp()).sum();
        let is_seen = seen[sample.taxon_index];
        *counts.entry(is_seen).or_default() += 1;
        for rank in Rank::ALL {
            let mut sums: BTreeMap<&[String], f64> = BTreeMap::new();
            for (taxon, l) in dataset.taxa().iter().zip(&logits) {
                *sums.entry(taxon.lineage.down_to(rank)).or_default() += (l - max).exp() / z;
            }
            let best = sums.iter().max_by(|a, b| a.1.total_cmp(b.1)).map(|(k, _)| *k).unwrap();
            if best == sample.taxon.lineage.down_to(rank) {
                *correct.entry((is_seen, rank.depth())).or_default() += 1;
            }
        }
    }
    for (is_seen, accuracy) in [(true, report.zero_shot.seen.unwrap()), (false, report.zero_shot.unseen.unwrap())] {
        for rank in Rank::ALL {
            let expected = correct.get(&(is_seen, rank.depth())).copied().unwrap_or(0) as f64 / counts[&is_seen] as f64;
            assert!(
                (accuracy.at(rank) - expected).abs() < 1e-12,
                "seen={is_seen} {rank:?}: {} vs {expected}",
                accuracy.at(rank)
            );
        }
    }
    assert_eq!(report.images, test.len());
    assert_eq!(report.seen_images + report.unseen_images, test.len());
    assert_eq!(report.taxa, 10);
    let shots: HashSet<&str> = report.few_shot.keys().map(String::as_str).collect();
    assert_eq!(shots, HashSet::from(["1", "2"]));
    assert!(report.few_shot["1"].is_some_and(|s| (0.0..=1.0).contains(&s.mean)));
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["zero_shot"]["unseen"]["species"].is_number() && json["few_shot"]["1"]["mean"].is_number());
}

#[test]
fn fine_tuning_an_imported_open_clip_model_keeps_its_weight_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/openclip/tiny_gelu");
    let imported = tmp.path().join("imported");
    arbor_engine::import_openclip(fixture.join("model.safetensors"), fixture.join("open_clip_config.json"), &imported)
        .unwrap();
    // The fixture model takes 64-px photos.
    let data64 = tmp.path().join("world64");
    let config = SynthConfig { species: 6, images_per_species: 10, seed: 9, ..SynthConfig::default() };
    World::generate(&config).unwrap().write_dataset(&data64, |_, _| {}).unwrap();
    let tuned = tmp.path().join("tuned");
    arbor_trainer::train::<Train>(
        &data64,
        &ModelInit::Pretrained(imported.clone()),
        &TrainConfig { lr: 1e-4, ..quick(1) },
        &tuned,
        &RunOptions::default(),
        &Default::default(),
        &mut |_| {},
    )
    .unwrap();
    // Same open_clip names and shapes as the original checkpoint; open_clip-loadable values.
    let original = StateDict::open(fixture.join("model.safetensors")).unwrap();
    let written = StateDict::open(tuned.join(ModelDir::WEIGHTS)).unwrap();
    let names = |s: &StateDict| s.names().map(|n| (n.to_owned(), s.shape(n).unwrap().to_vec())).collect::<Vec<_>>();
    assert_eq!(names(&original), names(&written));
    let moved = original
        .names()
        .filter(|n| original.values(n).unwrap().iter().zip(written.values(n).unwrap()).any(|(a, b)| a != b))
        .count();
    assert!(moved > original.len() / 2, "only {moved} of {} tensors changed", original.len());
    assert_eq!(ModelDir::open(&tuned).unwrap().config(), ModelDir::open(&imported).unwrap().config());
}
