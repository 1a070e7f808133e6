//! Reading open_clip's `open_clip_config.json` into a [`ClipConfig`].
//!
//! open_clip's config dataclasses (`CLIPVisionCfg`, `CLIPTextCfg`, open_clip 3.3) describe many
//! architectures. This port implements one family: a plain ViT image tower with a class token
//! and a causal text transformer pooled at the end-of-text token. Each key is sorted into one of
//! three groups:
//!
//! * keys that define the model (`width`, `layers`, ...) are read;
//! * keys that cannot change the embeddings of this family (training-only switches such as
//!   `patch_dropout`, or options of sub-models that are not built, such as `timm_pool` without a
//!   `timm_model_name`) are accepted and ignored, exactly as open_clip ignores them;
//! * every other key must be absent or hold open_clip's default; anything else, and any key open_clip
//!   does not know, is an error naming the key.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Map, Value};

use super::config::*;
use super::error::ModelError;

impl ClipConfig {
    /// Reads an open_clip `open_clip_config.json` (the hub schema `{"model_cfg",
    /// "preprocess_cfg"}`; a bare `model_cfg` object is accepted too).
    ///
    /// # Errors
    /// The file cannot be read or is not JSON, a key has an invalid value, or the config asks
    /// for anything this port does not implement (each error names the key).
    pub fn from_open_clip_json(path: impl AsRef<Path>) -> Result<Self, ModelError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        Self::from_open_clip_str(&text).map_err(|error| match error {
            ModelError::Json { message, .. } => ModelError::Json { path: path.to_owned(), message },
            other => other,
        })
    }

    /// Parses the text of an open_clip config; see [`ClipConfig::from_open_clip_json`].
    ///
    /// # Errors
    /// As [`ClipConfig::from_open_clip_json`]; JSON syntax errors carry an empty path.
    pub fn from_open_clip_str(text: &str) -> Result<Self, ModelError> {
        let root: Value = serde_json::from_str(text)
            .map_err(|e| ModelError::Json { path: Default::default(), message: e.to_string() })?;
        let Value::Object(root) = &root else {
            return Err(ModelError::invalid("(root)", "expected a JSON object"));
        };
        // The hub schema nests the model under `model_cfg`; open_clip's own model configs
        // (`model_configs/*.json`) are the bare model object. Other top-level keys of the hub
        // file are not read by open_clip either.
        let (model, model_path) = match root.get("model_cfg") {
            Some(model) => (model, "model_cfg"),
            None => (&Value::Object(root.clone()), ""),
        };
        let config = Self {
            preprocess: match root.get("preprocess_cfg") {
                Some(pp) if !pp.is_null() => parse_preprocess(pp)?,
                _ => PreprocessConfig::default(),
            },
            ..parse_model(model, model_path)?
        };
        config.validate()?;
        Ok(config)
    }
}

/// One JSON object of the config, read key by key so that leftovers can be reported.
struct Section<'a> {
    path: String,
    map: &'a Map<String, Value>,
    seen: BTreeSet<&'a str>,
}

impl<'a> Section<'a> {
    fn new(path: &str, value: &'a Value) -> Result<Self, ModelError> {
        let Value::Object(map) = value else {
            return Err(ModelError::invalid(path, "expected a JSON object"));
        };
        Ok(Self { path: path.to_owned(), map, seen: BTreeSet::new() })
    }

    fn key(&self, name: &str) -> String {
        if self.path.is_empty() { name.to_owned() } else { format!("{}.{name}", self.path) }
    }

    /// The value of `name`; `null` counts as absent, as Python's `None` default does.
    fn get(&mut self, name: &str) -> Option<&'a Value> {
        let (key, value) = self.map.get_key_value(name)?;
        self.seen.insert(key.as_str());
        (!value.is_null()).then_some(value)
    }

    fn usize_or(&mut self, name: &str, default: usize) -> Result<usize, ModelError> {
        match self.get(name) {
            None => Ok(default),
            Some(value) => as_usize(value).ok_or_else(|| {
                ModelError::invalid(self.key(name), format!("expected a non-negative integer, found {value}"))
            }),
        }
    }

    fn f64_or(&mut self, name: &str, default: f64) -> Result<f64, ModelError> {
        match self.get(name) {
            None => Ok(default),
            Some(value) => value
                .as_f64()
                .ok_or_else(|| ModelError::invalid(self.key(name), format!("expected a number, found {value}"))),
        }
    }

    fn bool_or(&mut self, name: &str, default: bool) -> Result<bool, ModelError> {
        match self.get(name) {
            None => Ok(default),
            Some(value) => value
                .as_bool()
                .ok_or_else(|| ModelError::invalid(self.key(name), format!("expected true/false, found {value}"))),
        }
    }

    fn str_or(&mut self, name: &str, default: &'a str) -> Result<&'a str, ModelError> {
        match self.get(name) {
            None => Ok(default),
            Some(value) => value
                .as_str()
                .ok_or_else(|| ModelError::invalid(self.key(name), format!("expected a string, found {value}"))),
        }
    }

    /// Keys that must be absent, `null`, `false` or an empty object/string: each is an
    /// architecture option that, when set, builds a model this port does not implement.
    fn forbid(&mut self, names: &[&str]) -> Result<(), ModelError> {
        for name in names {
            if let Some(value) = self.get(name) {
                let unset = match value {
                    Value::Bool(b) => !b,
                    Value::Object(map) => map.is_empty(),
                    Value::String(s) => s.is_empty(),
                    _ => false,
                };
                if !unset {
                    return Err(ModelError::unsupported(self.key(name), format!("value {value} is not supported")));
                }
            }
        }
        Ok(())
    }

    /// A string key that must hold one of `allowed` (the first is open_clip's default).
    fn expect_str(&mut self, name: &str, allowed: &[&'static str]) -> Result<(), ModelError> {
        let value = self.str_or(name, allowed[0])?;
        if allowed.contains(&value) {
            Ok(())
        } else {
            Err(ModelError::unsupported(self.key(name), format!("\"{value}\" is not supported (only {allowed:?})")))
        }
    }

    /// Marks keys that cannot change this family's embeddings, so open_clip ignores them too.
    fn ignore(&mut self, names: &[&str]) {
        for name in names {
            self.get(name);
        }
    }

    /// Fails on the first key that was neither read nor ignored.
    fn finish(self) -> Result<(), ModelError> {
        match self.map.keys().find(|k| !self.seen.contains(k.as_str())) {
            None => Ok(()),
            Some(unknown) => Err(ModelError::unsupported(self.key(unknown), "unknown key".to_owned())),
        }
    }
}

/// A positive integer key, or `None` when absent.
fn optional_positive(s: &mut Section, name: &str) -> Result<Option<usize>, ModelError> {
    match s.get(name) {
        None => Ok(None),
        Some(value) => as_usize(value)
            .filter(|v| *v > 0)
            .map(Some)
            .ok_or_else(|| ModelError::invalid(s.key(name), format!("expected a positive integer, found {value}"))),
    }
}

fn as_usize(value: &Value) -> Option<usize> {
    value.as_u64().and_then(|v| usize::try_from(v).ok())
}

/// Options of `CustomResidualAttentionBlock`, which has other parameters than the plain block.
const CUSTOM_BLOCK_KEYS: [&str; 8] = [
    "qk_norm",
    "scaled_cosine_attn",
    "scale_heads",
    "scale_attn_inner",
    "scale_attn",
    "scale_fc",
    "ls_init_value",
    "act_kwargs",
];

fn parse_model(value: &Value, path: &str) -> Result<ClipConfig, ModelError> {
    let mut model = Section::new(path, value)?;
    let embed_dim = model.usize_or("embed_dim", 0)?;
    if embed_dim == 0 {
        return Err(ModelError::invalid(model.key("embed_dim"), "required, and must be positive"));
    }
    let activation = if model.bool_or("quick_gelu", false)? { Activation::QuickGelu } else { Activation::Gelu };
    // The initial value is irrelevant: the checkpoint holds the trained `logit_scale`.
    model.ignore(&["init_logit_scale"]);
    model.forbid(&["init_logit_bias", "nonscalar_logit_scale", "custom_text", "multimodal_cfg"])?;
    let vision_key = model.key("vision_cfg");
    let vision = parse_vision(
        model.get("vision_cfg").ok_or_else(|| ModelError::invalid(&vision_key, "required"))?,
        &vision_key,
    )?;
    let text_key = model.key("text_cfg");
    let text = parse_text(model.get("text_cfg").ok_or_else(|| ModelError::invalid(&text_key, "required"))?, &text_key)?;
    model.finish()?;
    Ok(ClipConfig { embed_dim, vision, text, activation, preprocess: PreprocessConfig::default() })
}

/// open_clip's `int(width * mlp_ratio)`.
fn mlp_width(section: &mut Section, width: usize) -> Result<usize, ModelError> {
    let ratio = section.f64_or("mlp_ratio", 4.0)?;
    if !(ratio.is_finite() && ratio > 0.0) {
        return Err(ModelError::invalid(section.key("mlp_ratio"), format!("must be a positive number, found {ratio}")));
    }
    // Truncation toward zero, like Python's int().
    Ok((width as f64 * ratio) as usize)
}

fn parse_vision(value: &Value, path: &str) -> Result<VisionConfig, ModelError> {
    let mut s = Section::new(path, value)?;
    if s.get("layers").is_some_and(Value::is_array) {
        return Err(ModelError::unsupported(
            s.key("layers"),
            "a list of layers builds a ModifiedResNet image tower".to_owned(),
        ));
    }
    if let Some(name) = s.get("timm_model_name") {
        return Err(ModelError::unsupported(
            s.key("timm_model_name"),
            format!("timm image tower {name} is not supported"),
        ));
    }
    let layers = s.usize_or("layers", 12)?;
    let width = s.usize_or("width", 768)?;
    let image_size = square(&mut s, "image_size", 224)?;
    let patch_size = square(&mut s, "patch_size", 16)?;
    // open_clip derives the head count from head_width (default 64); a `heads` key is an Arbor
    // extension that must agree with it when both are given.
    let head_width = optional_positive(&mut s, "head_width")?;
    let heads = optional_positive(&mut s, "heads")?;
    let heads = match (head_width, heads) {
        (None, Some(heads)) => heads,
        (head_width, heads) => {
            let hw = head_width.unwrap_or(64);
            if !width.is_multiple_of(hw) {
                return Err(ModelError::invalid(s.key("head_width"), format!("{hw} does not divide width {width}")));
            }
            if let Some(h) = heads.filter(|h| *h != width / hw) {
                return Err(ModelError::invalid(
                    s.key("heads"),
                    format!("{h} heads disagree with head_width {hw} and width {width}"),
                ));
            }
            width / hw
        }
    };
    let mlp_width = mlp_width(&mut s, width)?;
    s.forbid(&CUSTOM_BLOCK_KEYS)?;
    s.forbid(&["attentional_pool", "no_ln_pre", "final_ln_after_pool", "norm_kwargs"])?;
    s.expect_str("block_type", &["default"])?;
    s.expect_str("pool_type", &["tok"])?;
    s.expect_str("pos_embed_type", &["learnable"])?;
    s.ignore(&[
        // Drops patches in training mode only.
        "patch_dropout",
        // Also returns the token sequence; the pooled embedding is unchanged.
        "output_tokens",
        // Only read when attentional_pool / timm_model_name is set, which is refused above.
        "attn_pooler_queries",
        "attn_pooler_heads",
        "timm_model_pretrained",
        "timm_pool",
        "timm_proj",
        "timm_proj_bias",
        "timm_drop",
        "timm_drop_path",
    ]);
    s.finish()?;
    Ok(VisionConfig { image_size, patch_size, width, layers, heads, mlp_width })
}

/// An image or patch size: an integer, or a `[h, w]` pair that must be square.
fn square(s: &mut Section, name: &str, default: usize) -> Result<usize, ModelError> {
    match s.get(name) {
        Some(Value::Array(pair)) => match pair.as_slice() {
            [h, w] if as_usize(h).is_some() && as_usize(h) == as_usize(w) => Ok(as_usize(h).unwrap_or(default)),
            _ => Err(ModelError::unsupported(s.key(name), format!("{pair:?} is not supported (only square sizes)"))),
        },
        Some(value) => as_usize(value)
            .ok_or_else(|| ModelError::invalid(s.key(name), format!("expected an integer, found {value}"))),
        None => Ok(default),
    }
}

fn parse_text(value: &Value, path: &str) -> Result<TextConfig, ModelError> {
    let mut s = Section::new(path, value)?;
    if let Some(name) = s.get("hf_model_name") {
        return Err(ModelError::unsupported(
            s.key("hf_model_name"),
            format!("Hugging Face text tower {name} is not supported"),
        ));
    }
    let context_length = s.usize_or("context_length", 77)?;
    let vocab_size = s.usize_or("vocab_size", 49408)?;
    let width = s.usize_or("width", 512)?;
    let heads = s.usize_or("heads", 8)?;
    let layers = s.usize_or("layers", 12)?;
    let mlp_width = mlp_width(&mut s, width)?;
    if s.usize_or("pad_id", 0)? != 0 {
        return Err(ModelError::unsupported(s.key("pad_id"), "only pad_id 0 is supported".to_owned()));
    }
    s.forbid(&CUSTOM_BLOCK_KEYS)?;
    s.forbid(&[
        "embed_cls",
        "no_causal_mask",
        "final_ln_after_pool",
        "proj_bias",
        "norm_kwargs",
        // A different tokenizer would feed the model different ids.
        "hf_tokenizer_name",
        "tokenizer_mode",
        "tokenizer_kwargs",
    ])?;
    s.expect_str("block_type", &["default"])?;
    s.expect_str("pool_type", &["argmax"])?;
    s.expect_str("proj_type", &["linear"])?;
    s.ignore(&[
        // Only used by pool_type "eos", which is refused above.
        "eos_id",
        "output_tokens",
        // Only read when hf_model_name is set, which is refused above.
        "hf_model_pretrained",
        "hf_proj_type",
        "hf_pooler_type",
    ]);
    s.finish()?;
    Ok(TextConfig { context_length, vocab_size, width, heads, layers, mlp_width })
}

fn parse_preprocess(value: &Value) -> Result<PreprocessConfig, ModelError> {
    let mut s = Section::new("preprocess_cfg", value)?;
    let defaults = PreprocessConfig::default();
    let triple = |s: &mut Section, name: &str, default: [f32; 3]| match s.get(name) {
        None => Ok(default),
        Some(value) => value
            .as_array()
            .filter(|items| items.len() == 3)
            .and_then(|items| {
                let mut out = [0.0_f32; 3];
                for (slot, item) in out.iter_mut().zip(items) {
                    *slot = item.as_f64()? as f32;
                }
                Some(out)
            })
            .ok_or_else(|| ModelError::invalid(s.key(name), format!("expected 3 numbers, found {value}"))),
    };
    let mean = triple(&mut s, "mean", defaults.mean)?;
    let std = triple(&mut s, "std", defaults.std)?;
    if std.iter().any(|v| *v <= 0.0) {
        return Err(ModelError::invalid(s.key("std"), "must be positive"));
    }
    let interpolation = match s.str_or("interpolation", "bicubic")? {
        "bicubic" => Interpolation::Bicubic,
        "bilinear" => Interpolation::Bilinear,
        other => {
            return Err(ModelError::unsupported(
                s.key("interpolation"),
                format!("\"{other}\" is not supported (only bicubic, bilinear)"),
            ));
        }
    };
    let resize_mode = match s.str_or("resize_mode", "shortest")? {
        "shortest" => ResizeMode::Shortest,
        "longest" => ResizeMode::Longest,
        "squash" => ResizeMode::Squash,
        other => {
            return Err(ModelError::unsupported(s.key("resize_mode"), format!("\"{other}\" is not supported")));
        }
    };
    let fill_color = s.usize_or("fill_color", 0)?;
    let fill_color =
        u8::try_from(fill_color).map_err(|_| ModelError::invalid(s.key("fill_color"), "must be 0..=255"))?;
    s.expect_str("mode", &["RGB"])?;
    // open_clip keeps only its known preprocess keys and always uses the model's image size,
    // so `size` and any other key here cannot change the pipeline.
    Ok(PreprocessConfig { mean, std, interpolation, resize_mode, fill_color })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_json(vision_extra: &str, text_extra: &str, model_extra: &str) -> String {
        format!(
            r#"{{"model_cfg": {{"embed_dim": 32 {model_extra},
                "vision_cfg": {{"image_size": 64, "layers": 2, "width": 64, "patch_size": 16,
                               "head_width": 16 {vision_extra}}},
                "text_cfg": {{"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 4,
                             "layers": 2 {text_extra}}}}}}}"#
        )
    }

    #[test]
    fn parses_the_tiny_shape() -> Result<(), ModelError> {
        let config = ClipConfig::from_open_clip_str(&model_json("", "", ""))?;
        assert_eq!(config, ClipConfig::tiny());
        let quick = ClipConfig::from_open_clip_str(&model_json("", "", r#", "quick_gelu": true"#))?;
        assert_eq!(quick.activation, Activation::QuickGelu);
        Ok(())
    }

    #[test]
    fn harmless_keys_are_accepted() -> Result<(), ModelError> {
        let json = model_json(
            r#", "patch_dropout": 0.5, "timm_pool": "avg", "ls_init_value": null, "act_kwargs": {}"#,
            r#", "eos_id": 2, "pool_type": "argmax", "hf_proj_type": "mlp", "embed_cls": false"#,
            r#", "init_logit_scale": 2.65"#,
        );
        assert_eq!(ClipConfig::from_open_clip_str(&json)?, ClipConfig::tiny());
        Ok(())
    }

    #[test]
    fn unsupported_keys_are_named() {
        let cases = [
            model_json(r#", "attentional_pool": true"#, "", ""),
            model_json(r#", "ls_init_value": 0.1"#, "", ""),
            model_json(r#", "pool_type": "avg""#, "", ""),
            model_json(r#", "timm_model_name": "vit""#, "", ""),
            model_json(r#", "norm_kwargs": {"eps": 1e-6}"#, "", ""),
            model_json(r#", "mystery": 1"#, "", ""),
            model_json("", r#", "hf_model_name": "roberta""#, ""),
            model_json("", r#", "pad_id": 1"#, ""),
            model_json("", r#", "proj_bias": true"#, ""),
            model_json("", r#", "final_ln_after_pool": true"#, ""),
            model_json("", r#", "embed_cls": true"#, ""),
            model_json("", r#", "pool_type": "eos""#, ""),
            model_json("", "", r#", "init_logit_bias": -10"#),
            model_json("", "", r#", "custom_text": true"#),
        ];
        let keys = [
            "model_cfg.vision_cfg.attentional_pool",
            "model_cfg.vision_cfg.ls_init_value",
            "model_cfg.vision_cfg.pool_type",
            "model_cfg.vision_cfg.timm_model_name",
            "model_cfg.vision_cfg.norm_kwargs",
            "model_cfg.vision_cfg.mystery",
            "model_cfg.text_cfg.hf_model_name",
            "model_cfg.text_cfg.pad_id",
            "model_cfg.text_cfg.proj_bias",
            "model_cfg.text_cfg.final_ln_after_pool",
            "model_cfg.text_cfg.embed_cls",
            "model_cfg.text_cfg.pool_type",
            "model_cfg.init_logit_bias",
            "model_cfg.custom_text",
        ];
        for (json, key) in cases.iter().zip(keys) {
            match ClipConfig::from_open_clip_str(json) {
                Err(ModelError::UnsupportedConfig { key: found, .. }) => assert_eq!(found, key),
                other => panic!("{key}: expected UnsupportedConfig, got {other:?}"),
            }
        }
    }

    #[test]
    fn invalid_values_are_errors() {
        let bad_heads = model_json("", r#", "heads": 5"#, "");
        assert!(matches!(
            ClipConfig::from_open_clip_str(&bad_heads),
            Err(ModelError::InvalidConfig { key, .. }) if key == "text.heads"
        ));
        let bad_type = model_json(r#", "mlp_ratio": "four""#, "", "");
        assert!(matches!(
            ClipConfig::from_open_clip_str(&bad_type),
            Err(ModelError::InvalidConfig { key, .. }) if key == "model_cfg.vision_cfg.mlp_ratio"
        ));
        assert!(matches!(ClipConfig::from_open_clip_str("{not json"), Err(ModelError::Json { .. })));
    }

    #[test]
    fn mlp_ratio_and_head_width_follow_open_clip() -> Result<(), ModelError> {
        let json = model_json(r#", "mlp_ratio": 2.6667"#, r#", "mlp_ratio": 2.0"#, "");
        let config = ClipConfig::from_open_clip_str(&json)?;
        assert_eq!(config.vision.mlp_width, 170); // int(64 * 2.6667)
        assert_eq!(config.text.mlp_width, 128);
        assert_eq!(config.vision.heads, 4); // 64 / head_width 16
        Ok(())
    }
}
