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
    arbor_engine::import_openclip(f.join("model.safetensors"), f.join("open_clip_config.json"), &model)?;
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

/// A batch answers as its photos do one at a time — against the tree, labels and centroids —
/// and a photo that cannot be read fails alone.
#[test]
fn batch_classification_equals_per_photo_classification() -> Result {
    use std::num::NonZeroUsize;

    use arbor_engine::{Answer, Classifier, TreeQuestion};
    let dir = tempfile::tempdir()?;
    let (model, tol) = setup(dir.path())?;
    let engine = Engine::builder(&model).index(&tol).label_cache(LabelCache::new(dir.path().join("cache"))).open()?;
    let photos: Vec<PathBuf> =
        ["chelsea.png", "china.jpg", "astronaut_tiny.png"].iter().map(|p| fixtures().join("images").join(p)).collect();
    let missing = dir.path().join("missing.jpg");
    let mut inputs: Vec<Image> = photos.iter().map(|p| Image::Path(p)).collect();
    inputs.insert(1, Image::Path(&missing));
    let k = NonZeroUsize::new(3).ok_or("3")?;
    let labels = vec!["a cat".to_string(), "a rocket".to_string(), "a flower".to_string()];
    let centroids = engine.fit_few_shot(&[(Image::Path(&photos[0]), "cat"), (Image::Path(&photos[2]), "rocket")])?;
    let classifiers = [
        Classifier::Tree {
            classifier: engine.tree_classifier(Scope::All)?,
            question: TreeQuestion::Top { rank: Rank::Family, k },
        },
        Classifier::Labels { classifier: engine.label_classifier(&labels, None)?, k: Some(k) },
        Classifier::Centroids { centroids, k: None },
    ];
    for classifier in &classifiers {
        let batch = engine.classify_batch(classifier, &inputs);
        assert_eq!(batch.len(), 4);
        assert!(batch[1].as_ref().err().ok_or("a missing file answered")?.to_string().contains("missing.jpg"));
        let answers: Vec<&Answer> = [&batch[0], &batch[2], &batch[3]]
            .into_iter()
            .map(|a| a.as_ref().map_err(|e| e.to_string()))
            .collect::<std::result::Result<_, _>>()?;
        for (photo, answer) in photos.iter().zip(answers) {
            let alone = engine.classify_batch(classifier, &[Image::Path(photo)]).remove(0)?;
            assert_eq!(&alone, answer, "{}", photo.display());
        }
        // Streaming over files answers the same, in order.
        let mut streamed = Vec::new();
        engine.classify_files(classifier, &photos, 2, |i, a| streamed.push((i, a.map_err(|e| e.to_string()))))?;
        assert_eq!(streamed.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0, 1, 2]);
        for ((_, s), photo) in streamed.iter().zip(&photos) {
            let alone = engine.classify_batch(classifier, &[Image::Path(photo)]).remove(0)?;
            assert_eq!(s.as_ref().map_err(|e| e.as_str())?, &alone);
        }
    }
    // The tree answer is the one `classify` gives.
    let Answer::Taxa(hits) = engine.classify_batch(&classifiers[0], &[Image::Path(&photos[1])]).remove(0)? else {
        return Err("not taxa".into());
    };
    assert_eq!(hits, engine.classify(&photos[1], Rank::Family, 3)?);
    Ok(())
}

/// Decoded RGB pixels embed as the file they came from.
#[test]
fn rgb_buffers_embed_as_their_file() -> Result {
    let dir = tempfile::tempdir()?;
    let (model, _) = setup(dir.path())?;
    let engine = Engine::open(&model)?;
    let photo = fixtures().join("images/chelsea.png");
    let decoded = engine.preprocessor().decode(&std::fs::read(&photo)?, "chelsea")?;
    let rgb = decoded.to_rgb();
    let (width, height) = (decoded.width(), decoded.height());
    let from_rgb = engine.embed_image(Image::Rgb { width, height, pixels: &rgb })?;
    let from_file = engine.embed_image(&photo)?;
    let worst = from_rgb.iter().zip(&from_file).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(worst < 1e-6, "{worst}");
    let e = engine.embed_image(Image::Rgb { width, height: height + 1, pixels: &rgb }).err().ok_or("accepted")?;
    assert!(e.to_string().contains("RGB buffer"), "{e}");
    Ok(())
}
