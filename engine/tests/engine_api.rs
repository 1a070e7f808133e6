//! `Engine` on the tiny fixture model: every image form gives the same answer, scopes restrict,
//! and mismatched inputs are refused.

use std::path::{Path, PathBuf};

use arbor_engine::{Centroids, Engine, EngineError, Image, LabelCache, Templates};
use arbor_index::{IndexBuilder, Lineage, Rank, Scope, TaxonRecord};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/openclip")
}

/// The tiny model imported into `dir`, and a four-species tree of label embeddings beside it.
fn setup(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let model = dir.join("model");
    let f = fixtures().join("tiny_gelu");
    arbor_engine::model::import_openclip(f.join("model.safetensors"), f.join("open_clip_config.json"), &model)?;
    let engine = Engine::open(&model)?;
    let species = [
        ("Aves", "Corvidae", "Corvus", "corax"),
        ("Aves", "Corvidae", "Pica", "pica"),
        ("Mammalia", "Felidae", "Felis", "catus"),
        ("Mammalia", "Canidae", "Canis", "lupus"),
    ];
    let mut taxa = Vec::new();
    let mut vectors = Vec::new();
    for (class, family, genus, epithet) in species {
        taxa.push(TaxonRecord {
            lineage: Lineage::new(["Animalia", "Chordata", class, "Order", family, genus, epithet]),
            common_name: String::new(),
        });
        vectors.extend(engine.embed_text(&format!("{genus} {epithet}"), Templates::None)?);
    }
    let tol = dir.join("tol");
    IndexBuilder::new(engine.embedder().dim()).graph(None).build(&taxa, &vectors, &tol)?;
    Ok((model, tol))
}

#[test]
fn paths_bytes_and_pixels_embed_alike_and_scopes_restrict() -> Result {
    let dir = tempfile::tempdir()?;
    let (model, tol) = setup(dir.path())?;
    let engine = Engine::open_with_index(&model, &tol)?.with_label_cache(LabelCache::new(dir.path().join("cache")));
    let photo = fixtures().join("images/china.jpg");
    let bytes = std::fs::read(&photo)?;
    let pixels = engine.preprocessor().load(&photo)?;
    let from_path = engine.embed_image(&photo)?;
    assert_eq!(engine.embed_image(Image::Bytes { bytes: &bytes, name: "china" })?, from_path);
    assert_eq!(engine.embed_image(&pixels)?, from_path);
    assert!((from_path.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5, "unit length");

    // Whole tree: probabilities over the four species sum to one.
    let all = engine.classify(&photo, Rank::Species, 4)?;
    assert_eq!(all.len(), 4);
    assert!((all.iter().map(|h| h.score).sum::<f32>() - 1.0).abs() < 1e-4);
    // Within the birds: only Corvidae answers, and the softmax is over the birds alone.
    let birds = engine.taxa_named(&["Aves"])?;
    assert_eq!(birds.len(), 2);
    let classifier = engine.tree_classifier(Scope::Taxa(&birds))?;
    let hits = engine.classify_with(&classifier, &photo, Rank::Species, 4)?;
    assert_eq!(hits.len(), 2);
    assert!(hits.iter().all(|h| h.path[4] == "Corvidae"), "{hits:?}");
    assert!((hits.iter().map(|h| h.score).sum::<f32>() - 1.0).abs() < 1e-4);
    // The classifier is reused across images (its scope stays resolved).
    let again = engine.classify_with(&classifier, &fixtures().join("images/chelsea.png"), Rank::Family, 1)?;
    assert_eq!(again[0].path.last().map(String::as_str), Some("Corvidae"));

    // Custom labels with bins.
    let labels = vec!["a temple".to_string(), "a cat".to_string(), "a dog".to_string()];
    let bins = vec!["building".to_string(), "pet".to_string(), "pet".to_string()];
    let binned = engine.label_classifier(&labels, Some(bins))?;
    let hits = engine.classify_labels(&binned, &photo, None)?;
    assert_eq!(hits.len(), 2);
    assert!((hits.iter().map(|h| h.score).sum::<f32>() - 1.0).abs() < 1e-4);
    Ok(())
}

#[test]
fn mismatches_are_refused() -> Result {
    let dir = tempfile::tempdir()?;
    let (model, _) = setup(dir.path())?;
    let engine = Engine::open(&model)?;
    assert!(matches!(engine.index(), Err(EngineError::Invalid(_))));
    assert!(engine.classify(fixtures().join("images/china.jpg").as_path(), Rank::Genus, 1).is_err());

    // An index of another width.
    let narrow = dir.path().join("narrow");
    IndexBuilder::new(2).graph(None).build(&[TaxonRecord::default()], &[1.0, 0.0], &narrow)?;
    let e = Engine::open_with_index(&model, &narrow).err().ok_or("opened a 2-wide index")?.to_string();
    assert!(e.contains("width 2"), "{e}");

    // Pixels preprocessed for another image size.
    let other = arbor_engine::Preprocessor::new(arbor_engine::Pipeline::Squash, 32)?;
    let small = other.load(fixtures().join("images/china.jpg"))?;
    assert!(engine.embed_image(&small).is_err());

    // Centroids fitted with another model.
    let centroids = Centroids::fit(&["a".into(), "b".into()], &[[1.0f32; 32], [-1.0; 32]].concat(), 32)?;
    centroids.save(dir.path().join("c"), "some-other-model")?;
    let e = engine.load_centroids(dir.path().join("c")).err().ok_or("loaded foreign centroids")?.to_string();
    assert!(e.contains("fitted by another model (some-other-m"), "{e}");
    engine.save_centroids(&centroids, dir.path().join("c"))?;
    assert_eq!(engine.load_centroids(dir.path().join("c"))?, centroids);
    Ok(())
}
