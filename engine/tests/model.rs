//! The CLIP port against open_clip's outputs on the tiny fixture models.
//!
//! References are `shared/fixtures/openclip` (see its README): the same weights and inputs run
//! by open_clip 3.3 in float64 (`*_f64.npy`) and the float32 intermediates of image 0 / text 0.
//! Every test fails, never skips, when a fixture is missing.

use std::fs::File;
use std::path::{Path, PathBuf};

use arbor_engine::{
    Activation, Clip, ClipConfig, ModelDir, ModelError, StateDict, import_openclip, normalize_features as normalize,
};
#[cfg(not(feature = "cuda"))]
use arbor_engine::{Precision, PrecisionPlan};
use burn::tensor::activation::softmax;
use burn::tensor::{Int, Tensor, TensorData};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The backend under test: the CPU default, or CUDA when built with `--features cuda`
/// (`scripts/gpu-check.sh` runs this file that way on a GPU machine).
#[cfg(not(feature = "cuda"))]
type TestBackend = arbor_engine::Cpu;
#[cfg(feature = "cuda")]
type TestBackend = arbor_engine::Cuda;

fn fixtures() -> PathBuf {
    // `scripts/gpu-check.sh` points this at a copy it carries to a GPU machine.
    match std::env::var_os("ARBOR_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/openclip"),
    }
}

/// A `.npy` file as f64 values and its shape.
fn npy(path: &Path) -> Result<(Vec<f64>, Vec<usize>)> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let array = npyz::NpyFile::new(file)?;
    let shape = array.shape().iter().map(|&d| d as usize).collect();
    let values = match array.dtype() {
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float && t.size_field() == 8 => {
            array.into_vec::<f64>()?
        }
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float => {
            array.into_vec::<f32>()?.into_iter().map(f64::from).collect()
        }
        _ => array.into_vec::<i64>()?.into_iter().map(|v| v as f64).collect(),
    };
    Ok((values, shape))
}

/// The 8 fixture images' names, in manifest order.
fn image_names() -> Result<Vec<String>> {
    let path = fixtures().join("manifest.json");
    let manifest: serde_json::Value = serde_json::from_reader(File::open(&path)?)?;
    let images = manifest["images"].as_array().ok_or("manifest has no images")?;
    let names: Vec<String> = images
        .iter()
        .map(|image| image["name"].as_str().map(str::to_owned))
        .collect::<Option<_>>()
        .ok_or("image without a name")?;
    assert_eq!(names.len(), 8);
    Ok(names)
}

fn pixel_batch() -> Result<Tensor<TestBackend, 4>> {
    let mut values = Vec::new();
    let names = image_names()?;
    for name in &names {
        let (pixels, shape) = npy(&fixtures().join(format!("preprocess/{name}.pixel_values.npy")))?;
        assert_eq!(shape, [3, 64, 64]);
        values.extend(pixels.into_iter().map(|v| v as f32));
    }
    let data = TensorData::new(values, [names.len(), 3, 64, 64]);
    Ok(Tensor::from_data(data, &Default::default()))
}

fn text_ids() -> Result<Tensor<TestBackend, 2, Int>> {
    let (ids, shape) = npy(&fixtures().join("text_ids.npy"))?;
    assert_eq!(shape, [20, 77]);
    let ids: Vec<i64> = ids.into_iter().map(|v| v as i64).collect();
    Ok(Tensor::from_data(TensorData::new(ids, [20, 77]), &Default::default()))
}

fn values<const D: usize>(tensor: Tensor<TestBackend, D>) -> Result<(Vec<f64>, Vec<usize>)> {
    let shape = tensor.dims().to_vec();
    let data = tensor.into_data().convert::<f32>();
    let values = data.to_vec::<f32>().map_err(|e| format!("{e:?}"))?;
    Ok((values.into_iter().map(f64::from).collect(), shape))
}

/// Max |actual − reference| after checking shapes agree (a leading batch of 1 is optional).
fn max_abs_diff<const D: usize>(actual: Tensor<TestBackend, D>, reference: &Path) -> Result<(f64, f64)> {
    let (actual, mut actual_shape) = values(actual)?;
    let (expected, mut expected_shape) = npy(reference)?;
    for shape in [&mut actual_shape, &mut expected_shape] {
        if shape.first() == Some(&1) && shape.len() > 1 {
            shape.remove(0);
        }
    }
    assert_eq!(actual_shape, expected_shape, "{}", reference.display());
    let diff = actual.iter().zip(&expected).map(|(a, e)| (a - e).abs()).fold(0.0, f64::max);
    let scale = expected.iter().map(|v| v.abs()).fold(0.0, f64::max);
    Ok((diff, scale))
}

/// Asserts `actual` is within `rel · max|reference|` of the reference.
fn assert_relative<const D: usize>(actual: Tensor<TestBackend, D>, reference: &Path, rel: f64) -> Result {
    let (diff, scale) = max_abs_diff(actual, reference)?;
    assert!(scale > 0.0, "{}: reference is all zeros", reference.display());
    assert!(diff <= rel * scale, "{}: max error {diff:e} > {rel:e} · {scale:e}", reference.display());
    println!("{}: max error / max|ref| = {:.2e}", reference.display(), diff / scale);
    Ok(())
}

/// Asserts `actual` is within `abs` of the reference everywhere.
fn assert_absolute<const D: usize>(actual: Tensor<TestBackend, D>, reference: &Path, abs: f64) -> Result {
    let (diff, _) = max_abs_diff(actual, reference)?;
    assert!(diff <= abs, "{}: max error {diff:e} > {abs:e}", reference.display());
    println!("{}: max abs error = {diff:.2e}", reference.display());
    Ok(())
}

fn load(model: &str, file: &str) -> Result<Clip<TestBackend>> {
    let dir = fixtures().join(model);
    let config = ClipConfig::from_open_clip_json(dir.join("open_clip_config.json"))?;
    Ok(Clip::from_weights_file(&config, dir.join(file), &Default::default())?)
}

/// Every output and intermediate of `model` against open_clip.
fn check_against_open_clip(model_name: &str, file: &str) -> Result {
    let model = load(model_name, file)?;
    let dir = fixtures().join(model_name);
    let images = model.encode_image(pixel_batch()?)?;
    let texts = model.encode_text(text_ids()?)?;

    assert_relative(images.clone(), &dir.join("image_features_f64.npy"), 1e-5)?;
    assert_relative(texts.clone(), &dir.join("text_features_f64.npy"), 1e-5)?;
    assert_absolute(normalize(images.clone()), &dir.join("image_features_norm_f64.npy"), 1e-5)?;
    assert_absolute(normalize(texts.clone()), &dir.join("text_features_norm_f64.npy"), 1e-5)?;
    let logits = model.logits(images, texts);
    assert_absolute(logits.clone(), &dir.join("logits_f64.npy"), 1e-3)?;
    assert_absolute(softmax(logits, 1), &dir.join("probs_f64.npy"), 1e-5)?;
    let (scale, _) = npy(&dir.join("logit_scale_exp.npy"))?;
    let (ours, _) = values(model.logit_multiplier())?;
    assert!((ours[0] - scale[0]).abs() <= 1e-5 * scale[0], "{ours:?} vs {scale:?}");

    let inter = dir.join("intermediates");
    let image0 = pixel_batch()?.narrow(0, 0, 1);
    let v = model.trace_image(image0)?;
    let vision: [(&str, Tensor<TestBackend, 3>); 6] = [
        ("patch_embed", v.patch_embed),
        ("embed", v.embed),
        ("ln_pre", v.ln_pre),
        ("block0_attn_residual", v.block0_attn_residual),
        ("block0", v.block0),
        ("block_last", v.block_last),
    ];
    for (name, tensor) in vision {
        assert_relative(tensor, &inter.join(format!("vision.{name}.npy")), 1e-5)?;
    }
    assert_relative(v.ln_post_cls, &inter.join("vision.ln_post_cls.npy"), 1e-5)?;
    assert_relative(v.projected, &inter.join("vision.projected.npy"), 1e-5)?;

    let t = model.trace_text(text_ids()?.narrow(0, 0, 1))?;
    let text: [(&str, Tensor<TestBackend, 3>); 6] = [
        ("token_embed", t.token_embed),
        ("embed", t.embed),
        ("block0_attn_residual", t.block0_attn_residual),
        ("block0", t.block0),
        ("block_last", t.block_last),
        ("ln_final", t.ln_final),
    ];
    for (name, tensor) in text {
        assert_relative(tensor, &inter.join(format!("text.{name}.npy")), 1e-5)?;
    }
    assert_relative(t.eot_pooled, &inter.join("text.eot_pooled.npy"), 1e-5)?;
    assert_relative(t.projected, &inter.join("text.projected.npy"), 1e-5)?;
    Ok(())
}

#[test]
fn tiny_gelu_safetensors_matches_open_clip() -> Result {
    check_against_open_clip("tiny_gelu", "model.safetensors")
}

#[test]
fn tiny_quickgelu_safetensors_matches_open_clip() -> Result {
    check_against_open_clip("tiny_quickgelu", "model.safetensors")
}

#[test]
fn tiny_quickgelu_torch_bin_matches_open_clip() -> Result {
    check_against_open_clip("tiny_quickgelu", "open_clip_pytorch_model.bin")
}

/// The packed towers (`Clip::with_precision`): with every product in f32 they reproduce
/// open_clip's features at the tolerance burn's ops are held to, so LayerNorm, attention, the
/// residuals and both activations in `model::packed` are right; bf16 and int8 stay within their
/// cosine bounds of f32, for images and texts.
#[cfg(not(feature = "cuda"))]
#[test]
fn packed_towers_reproduce_open_clip_in_f32_and_stay_close_in_bf16_and_int8() -> Result {
    let cosine_min = |a: Tensor<TestBackend, 2>, b: Tensor<TestBackend, 2>| -> Result<f64> {
        let (c, _) = values((normalize(a) * normalize(b)).sum_dim(1))?;
        Ok(c.into_iter().fold(f64::INFINITY, f64::min))
    };
    for name in ["tiny_gelu", "tiny_quickgelu"] {
        let model = load(name, "model.safetensors")?;
        let dir = fixtures().join(name);
        let config = model.config().clone();
        let f32_plan = |layers| PrecisionPlan::uniform(Precision::F32, layers);
        let packed =
            model.clone().with_precision_plans(&f32_plan(config.vision.layers), &f32_plan(config.text.layers))?;
        assert_relative(packed.encode_image(pixel_batch()?)?, &dir.join("image_features_f64.npy"), 1e-5)?;
        assert_relative(packed.encode_text(text_ids()?)?, &dir.join("text_features_f64.npy"), 1e-5)?;

        let (images, texts) = (model.encode_image(pixel_batch()?)?, model.encode_text(text_ids()?)?);
        for (precision, floor) in [(Precision::Bf16, 0.9995), (Precision::Int8, 0.999)] {
            let low = model.clone().with_precision(precision)?;
            assert_eq!(low.precision(), precision);
            let image_cos = cosine_min(low.encode_image(pixel_batch()?)?, images.clone())?;
            let text_cos = cosine_min(low.encode_text(text_ids()?)?, texts.clone())?;
            assert!(image_cos >= floor && text_cos >= floor, "{name} {precision}: {image_cos} {text_cos}");
            assert!(image_cos < 1.0 - 1e-9, "{name} {precision}: identical to f32, not run in {precision}");
            assert_eq!(low.with_precision(Precision::F32)?.precision(), Precision::F32);
        }
        // A mixed plan is called by its coarsest product (label caches key on it).
        let mut text = f32_plan(config.text.layers);
        text.blocks[0][3] = Precision::Int8;
        let mixed = model.clone().with_precision_plans(&f32_plan(config.vision.layers), &text)?;
        assert_eq!(mixed.precision(), Precision::Int8);
        let wrong = PrecisionPlan::uniform(Precision::Bf16, config.vision.layers + 1);
        let refused = model.clone().with_precision_plans(&wrong, &f32_plan(config.text.layers));
        assert!(matches!(refused, Err(ModelError::InvalidInput { .. })), "a plan for another depth is refused");
    }
    Ok(())
}

#[test]
fn the_activation_flag_matters() -> Result {
    let dir = fixtures().join("tiny_gelu");
    let mut config = ClipConfig::from_open_clip_json(dir.join("open_clip_config.json"))?;
    assert_eq!(config.activation, Activation::Gelu);
    config.activation = Activation::QuickGelu;
    let wrong = Clip::<TestBackend>::from_weights_file(&config, dir.join("model.safetensors"), &Default::default())?;
    let (diff, _) = max_abs_diff(wrong.encode_image(pixel_batch()?)?, &dir.join("image_features_f64.npy"))?;
    // The manifest measures about 0.025; far above the 1e-5 tolerance of a match.
    assert!(diff > 1e-3, "QuickGELU on GELU weights still matches: {diff:e}");
    let (diff, _) = max_abs_diff(wrong.encode_text(text_ids()?)?, &dir.join("text_features_f64.npy"))?;
    assert!(diff > 1e-3, "QuickGELU on GELU weights still matches: {diff:e}");
    Ok(())
}

#[test]
fn truncated_text_equals_full_length_text() -> Result {
    let model = load("tiny_gelu", "model.safetensors")?;
    // Rows 0..4 end early, so the batch is cut well before 77 positions.
    let ids = text_ids()?.narrow(0, 0, 4);
    let fast = values(model.encode_text(ids.clone())?)?.0;
    let full = values(model.trace_text(ids)?.projected)?.0;
    let diff = fast.iter().zip(&full).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(diff < 1e-5, "truncation changed the features by {diff:e}");
    Ok(())
}

#[test]
fn missing_tensor_is_named() -> Result {
    let dir = fixtures().join("tiny_gelu");
    let mut state = StateDict::open(dir.join("model.safetensors"))?;
    assert!(state.remove("visual.ln_post.bias"));
    assert!(state.remove("transformer.resblocks.1.attn.in_proj_weight"));
    match Clip::<TestBackend>::from_state_dict(&ClipConfig::tiny(), state, &Default::default()) {
        Err(ModelError::MissingTensors { names, path }) => {
            assert_eq!(names, ["visual.ln_post.bias", "transformer.resblocks.1.attn.in_proj_weight"]);
            assert!(path.ends_with("tiny_gelu/model.safetensors"));
        }
        other => panic!("expected MissingTensors, got {other:?}"),
    }
    Ok(())
}

#[test]
fn wrong_shape_is_named() -> Result {
    let mut config = ClipConfig::tiny();
    config.embed_dim = 16;
    let path = fixtures().join("tiny_gelu/model.safetensors");
    match Clip::<TestBackend>::from_weights_file(&config, &path, &Default::default()) {
        Err(ModelError::TensorShape { name, expected, found, .. }) => {
            assert_eq!(name, "visual.proj");
            assert_eq!((expected, found), (vec![64, 16], vec![64, 32]));
        }
        other => panic!("expected TensorShape, got {other:?}"),
    }
    Ok(())
}

#[test]
fn unexpected_tensors_are_named() -> Result {
    let mut config = ClipConfig::tiny();
    config.text.layers = 1;
    let path = fixtures().join("tiny_gelu/model.safetensors");
    match Clip::<TestBackend>::from_weights_file(&config, &path, &Default::default()) {
        Err(ModelError::UnexpectedTensors { names, .. }) => {
            assert_eq!(names.len(), 12, "{names:?}");
            assert!(names.iter().all(|n| n.starts_with("transformer.resblocks.1.")));
        }
        other => panic!("expected UnexpectedTensors, got {other:?}"),
    }
    Ok(())
}

#[test]
fn truncated_and_missing_files_are_errors_naming_the_file() -> Result {
    let tmp = tempfile::tempdir()?;
    for (source, name) in
        [("tiny_gelu/model.safetensors", "cut.safetensors"), ("tiny_quickgelu/open_clip_pytorch_model.bin", "cut.bin")]
    {
        let bytes = std::fs::read(fixtures().join(source))?;
        let cut = tmp.path().join(name);
        std::fs::write(&cut, &bytes[..bytes.len() / 2])?;
        let error = Clip::<TestBackend>::from_weights_file(&ClipConfig::tiny(), &cut, &Default::default())
            .expect_err("a truncated checkpoint must not load");
        assert!(matches!(error, ModelError::Checkpoint { .. }), "{error:?}");
        assert!(error.to_string().contains(name), "{error}");
    }
    let missing = tmp.path().join("absent.safetensors");
    let error = StateDict::open(&missing).expect_err("a missing file must not load");
    assert!(matches!(error, ModelError::Io { .. }) && error.to_string().contains("absent"));
    Ok(())
}

#[test]
fn unsupported_config_file_is_an_error() -> Result {
    let tmp = tempfile::tempdir()?;
    let text = std::fs::read_to_string(fixtures().join("tiny_gelu/open_clip_config.json"))?;
    let mut json: serde_json::Value = serde_json::from_str(&text)?;
    json["model_cfg"]["vision_cfg"]["attentional_pool"] = true.into();
    let path = tmp.path().join("open_clip_config.json");
    std::fs::write(&path, json.to_string())?;
    match ClipConfig::from_open_clip_json(&path) {
        Err(ModelError::UnsupportedConfig { key, .. }) => {
            assert_eq!(key, "model_cfg.vision_cfg.attentional_pool");
        }
        other => panic!("expected UnsupportedConfig, got {other:?}"),
    }
    Ok(())
}

#[test]
fn bad_inputs_are_errors() -> Result {
    let model = load("tiny_gelu", "model.safetensors")?;
    let device = Default::default();
    let pixels = Tensor::<TestBackend, 4>::zeros([1, 3, 32, 32], &device);
    assert!(matches!(model.encode_image(pixels), Err(ModelError::InvalidInput { .. })));
    let ids = Tensor::<TestBackend, 2, Int>::from_data(TensorData::new(vec![49406_i64, 49408], [1, 2]), &device);
    assert!(matches!(model.encode_text(ids), Err(ModelError::InvalidInput { .. })));
    let long = Tensor::<TestBackend, 2, Int>::zeros([1, 78], &device);
    assert!(matches!(model.encode_text(long), Err(ModelError::InvalidInput { .. })));
    Ok(())
}

#[test]
fn import_then_load_gives_identical_features() -> Result {
    let tmp = tempfile::tempdir()?;
    let source = fixtures().join("tiny_quickgelu");
    let out = tmp.path().join("bioclip-tiny");
    let dir = import_openclip(source.join("open_clip_pytorch_model.bin"), source.join("open_clip_config.json"), &out)?;
    assert!(!std::fs::read_dir(tmp.path())?.any(|e| e.is_ok_and(|e| e.file_name() != "bioclip-tiny")));

    let reopened = ModelDir::open(&out)?;
    assert_eq!(reopened.config().activation, Activation::QuickGelu);
    // The hash is of the weights, not the file: the .bin and the .safetensors agree.
    let hash = StateDict::open(source.join("model.safetensors"))?.identity_hash();
    assert_eq!(reopened.manifest().weights_sha256, hash);
    reopened.verify()?;

    let imported = reopened.load::<TestBackend>(&Default::default())?;
    let original = load("tiny_quickgelu", "open_clip_pytorch_model.bin")?;
    let pixels = pixel_batch()?;
    assert_eq!(values(imported.encode_image(pixels.clone())?)?, values(original.encode_image(pixels)?)?);
    assert_eq!(values(imported.encode_text(text_ids()?)?)?, values(original.encode_text(text_ids()?)?)?);

    // The written weights are still an open_clip state_dict.
    let written = StateDict::open(dir.weights_path())?;
    assert_eq!(written.shape("logit_scale"), Some(&[][..]));
    assert_eq!(written.len(), StateDict::open(source.join("model.safetensors"))?.len());

    let again = import_openclip(source.join("model.safetensors"), source.join("open_clip_config.json"), &out);
    assert!(matches!(again, Err(ModelError::AlreadyExists(_))));

    // A damaged directory fails with the file named.
    let weights = dir.weights_path();
    let bytes = std::fs::read(&weights)?;
    std::fs::write(&weights, &bytes[..bytes.len() - 100])?;
    let error = reopened.load::<TestBackend>(&Default::default()).expect_err("truncated weights");
    assert!(error.to_string().contains("model.safetensors"), "{error}");
    Ok(())
}

#[test]
fn import_rejects_mismatched_checkpoint_and_leaves_nothing() -> Result {
    let tmp = tempfile::tempdir()?;
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("tiny_gelu/open_clip_config.json"))?)?;
    json["model_cfg"]["embed_dim"] = 16.into();
    let config = tmp.path().join("config.json");
    std::fs::write(&config, json.to_string())?;
    let out = tmp.path().join("model");
    let result = import_openclip(fixtures().join("tiny_gelu/model.safetensors"), &config, &out);
    assert!(matches!(result, Err(ModelError::TensorShape { .. })), "{result:?}");
    let left: Vec<_> = std::fs::read_dir(tmp.path())?.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    assert_eq!(left, ["config.json"]);
    Ok(())
}

#[test]
fn a_models_state_dict_is_open_clips() -> Result {
    let original = StateDict::open(fixtures().join("tiny_gelu/model.safetensors"))?;
    let model = load("tiny_gelu", "model.safetensors")?;
    let exported = model.to_state_dict("exported")?;
    let names: Vec<&str> = original.names().collect();
    assert_eq!(exported.names().collect::<Vec<_>>(), names);
    for name in names {
        assert_eq!(exported.shape(name), original.shape(name), "{name}");
        assert_eq!(exported.values(name), original.values(name), "{name}");
    }
    assert_eq!(exported.identity_hash(), original.identity_hash());
    Ok(())
}

#[test]
fn the_model_trains_under_autodiff() -> Result {
    type Train = burn::backend::Autodiff<TestBackend>;
    let device = Default::default();
    let model = Clip::<Train>::new(&ClipConfig::tiny(), &device)?;
    let pixels = Tensor::<Train, 4>::random([2, 3, 64, 64], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
    let ids = Tensor::<Train, 2, Int>::from_data(
        TensorData::new(vec![49406_i64, 320, 49407, 0, 49406, 321, 322, 49407], [2, 4]),
        &device,
    );
    let logits = model.logits(model.encode_image(pixels)?, model.encode_text(ids)?);
    let grads = logits.sum().backward();
    for (name, grad) in [
        ("visual in_proj_weight", model.visual.transformer.resblocks[0].attn.in_proj_weight.grad(&grads)),
        ("text in_proj_weight", model.transformer.resblocks[1].attn.in_proj_weight.grad(&grads)),
        ("logit_scale", model.logit_scale.grad(&grads).map(|g| g.reshape([1, 1]))),
    ] {
        let grad = grad.ok_or(format!("no gradient for {name}"))?;
        let (values, _) = values(grad)?;
        assert!(values.iter().all(|v| v.is_finite()) && values.iter().any(|v| *v != 0.0), "{name}");
    }
    Ok(())
}

/// Under autodiff the CPU kernels step aside (they only take plain flex tensors) and burn's
/// generic attention, GELU and pooled last block run: they too must give open_clip's features.
#[test]
fn the_generic_ops_path_matches_open_clip() -> Result {
    type Train = burn::backend::Autodiff<TestBackend>;
    let dir = fixtures().join("tiny_gelu");
    let config = ClipConfig::from_open_clip_json(dir.join("open_clip_config.json"))?;
    let model = Clip::<Train>::from_weights_file(&config, dir.join("model.safetensors"), &Default::default())?;
    let images = model.encode_image(Tensor::from_inner(pixel_batch()?))?.inner();
    let texts = model.encode_text(Tensor::from_inner(text_ids()?))?.inner();
    assert_relative(images, &dir.join("image_features_f64.npy"), 1e-5)?;
    assert_relative(texts, &dir.join("text_features_f64.npy"), 1e-5)
}

#[test]
fn seeded_initialisation_is_reproducible_and_scaled_like_open_clip() -> Result {
    let config = ClipConfig::tiny();
    let device = Default::default();
    let weights = |seed: u64| -> Result<Vec<f64>> {
        let model = Clip::<TestBackend>::new_seeded(&config, seed, &device)?;
        Ok(values(model.token_embedding.weight.val())?.0)
    };
    let (a, b, c) = (weights(7)?, weights(7)?, weights(8)?);
    assert_eq!(a, b, "the same seed gives the same weights");
    assert_ne!(a, c, "another seed gives other weights");
    // open_clip draws token embeddings from N(0, 0.02).
    let mean = a.iter().sum::<f64>() / a.len() as f64;
    let std = (a.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / a.len() as f64).sqrt();
    assert!(mean.abs() < 1e-3 && (std - 0.02).abs() < 5e-4, "mean {mean}, std {std}");
    Ok(())
}

/// The names an import keeps are exactly the tensors of the model's own state_dict.
#[test]
fn tensor_names_follow_the_module_tree() -> Result {
    let mut config = ClipConfig::tiny();
    config.text.layers = 3;
    let model = Clip::<arbor_engine::Cpu>::new(&config, &Default::default())?;
    let state = model.to_state_dict("names")?;
    let mut from_model: Vec<&str> = state.names().collect();
    let mut listed = arbor_engine::tensor_names(&config);
    from_model.sort();
    listed.sort();
    assert_eq!(listed, from_model);
    Ok(())
}

/// A checkpoint with tensors open_clip's CLIP does not have (BioCLIP 2's training fork adds
/// `visual.continual_proj`) imports with them named and left out; a missing tensor stays an
/// error.
#[test]
fn extra_tensors_are_named_and_dropped_missing_ones_refused() -> Result {
    use safetensors::tensor::TensorView;
    let tmp = tempfile::tempdir()?;
    let f = fixtures().join("tiny_gelu");
    let bytes = std::fs::read(f.join("model.safetensors"))?;
    let original = safetensors::SafeTensors::deserialize(&bytes)?;
    let extra = vec![0u8; 4 * 64 * 64];
    let mut views: Vec<(String, TensorView<'_>)> =
        original.tensors().into_iter().map(|(name, view)| (name.to_string(), view)).collect();
    views.push(("visual.continual_proj".into(), TensorView::new(safetensors::Dtype::F32, vec![64, 64], &extra)?));
    let with_extra = tmp.path().join("extra.safetensors");
    safetensors::serialize_to_file(views.clone(), None, &with_extra)?;
    let imported = arbor_engine::import_openclip_as(
        &with_extra,
        f.join("open_clip_config.json"),
        tmp.path().join("m"),
        arbor_engine::ImageTransform::Squash,
    )?;
    assert_eq!(imported.dropped, ["visual.continual_proj"]);
    let clean = tmp.path().join("clean");
    import_openclip(f.join("model.safetensors"), f.join("open_clip_config.json"), &clean)?;
    let a = arbor_engine::Engine::open(tmp.path().join("m"))?;
    let b = arbor_engine::Engine::open(&clean)?;
    let photo = fixtures().join("images/chelsea.png");
    assert_eq!(a.embed_image(&photo)?, b.embed_image(&photo)?);
    assert_eq!(a.identity(), b.identity());

    views.retain(|(name, _)| name != "visual.proj");
    let missing = tmp.path().join("missing.safetensors");
    safetensors::serialize_to_file(views, None, &missing)?;
    let e =
        import_openclip(&missing, f.join("open_clip_config.json"), tmp.path().join("m2")).err().ok_or("imported")?;
    assert!(e.to_string().contains("visual.proj"), "{e}");
    assert!(!tmp.path().join("m2").exists());
    Ok(())
}
