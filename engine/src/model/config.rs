//! The model configuration: both towers, the activation and the preprocessing the weights were
//! trained for, with presets for the published shapes. `open_clip_json` reads open_clip's
//! config files into it.

use serde::{Deserialize, Serialize};

use super::error::ModelError;

/// The MLP activation of every transformer block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// Exact GELU, `x·Φ(x)` with the error function (`nn.GELU`), open_clip's default.
    Gelu,
    /// OpenAI's `x·sigmoid(1.702·x)`, selected by `"quick_gelu": true`.
    QuickGelu,
}

/// The image tower: a ViT with a class token, `ln_pre`, `ln_post` and a linear projection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisionConfig {
    /// Side of the square input image in pixels.
    pub image_size: usize,
    /// Side of the square patches (the stride of `conv1`).
    pub patch_size: usize,
    /// Transformer width.
    pub width: usize,
    /// Number of residual attention blocks.
    pub layers: usize,
    /// Number of attention heads (`width / head_width` in open_clip's config).
    pub heads: usize,
    /// Hidden width of each block's MLP (`int(width * mlp_ratio)`).
    pub mlp_width: usize,
}

impl VisionConfig {
    /// Patches per side of the image.
    pub fn grid_size(&self) -> usize {
        self.image_size / self.patch_size
    }

    /// Tokens in the transformer: one per patch plus the class token.
    pub fn num_tokens(&self) -> usize {
        self.grid_size() * self.grid_size() + 1
    }
}

/// The text tower: a causal transformer over token ids, pooled at the highest id (end of text).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextConfig {
    /// Maximum number of tokens (rows of `positional_embedding`).
    pub context_length: usize,
    /// Rows of `token_embedding`.
    pub vocab_size: usize,
    /// Transformer width.
    pub width: usize,
    /// Number of attention heads.
    pub heads: usize,
    /// Number of residual attention blocks.
    pub layers: usize,
    /// Hidden width of each block's MLP (`int(width * mlp_ratio)`).
    pub mlp_width: usize,
}

/// How open_clip resizes an image before the crop (`preprocess_cfg.resize_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizeMode {
    /// Shortest side to the image size, then a center crop (open_clip's default).
    Shortest,
    /// Longest side to the image size, then padding with `fill_color`.
    Longest,
    /// Both sides to the image size; the aspect ratio is not kept.
    Squash,
}

/// The resampling filter of the resize (`preprocess_cfg.interpolation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interpolation {
    /// PIL bicubic (open_clip's default).
    Bicubic,
    /// PIL bilinear.
    Bilinear,
}

/// open_clip's evaluation preprocessing (`preprocess_cfg`), kept with the model because the
/// weights were trained for it. The image size is the vision tower's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreprocessConfig {
    /// Per-channel mean subtracted after scaling pixels to [0, 1].
    pub mean: [f32; 3],
    /// Per-channel standard deviation divided by after subtracting the mean.
    pub std: [f32; 3],
    /// Resampling filter.
    pub interpolation: Interpolation,
    /// Resize strategy.
    pub resize_mode: ResizeMode,
    /// Padding value for [`ResizeMode::Longest`].
    pub fill_color: u8,
}

impl Default for PreprocessConfig {
    /// open_clip's `PreprocessCfg` defaults: OpenAI mean/std, bicubic, shortest side.
    // The constants are spelled exactly as open_clip's Python source; f32 rounds them the same.
    #[allow(clippy::excessive_precision)]
    fn default() -> Self {
        Self {
            mean: [0.481_454_66, 0.457_827_5, 0.408_210_73],
            std: [0.268_629_54, 0.261_302_58, 0.275_777_11],
            interpolation: Interpolation::Bicubic,
            resize_mode: ResizeMode::Shortest,
            fill_color: 0,
        }
    }
}

/// The full CLIP configuration: both towers, the shared embedding size and the activation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClipConfig {
    /// Size of the joint image/text embedding.
    pub embed_dim: usize,
    /// The image tower.
    pub vision: VisionConfig,
    /// The text tower.
    pub text: TextConfig,
    /// The MLP activation of both towers.
    pub activation: Activation,
    /// The image preprocessing the weights expect.
    pub preprocess: PreprocessConfig,
}

impl ClipConfig {
    /// The shape of the tiny test models in Arbor's open_clip fixtures (ViT-B-16's structure,
    /// embed 32, widths 64, 2 layers, 4 heads, 64-pixel images), with exact GELU.
    pub fn tiny() -> Self {
        Self {
            embed_dim: 32,
            vision: VisionConfig { image_size: 64, patch_size: 16, width: 64, layers: 2, heads: 4, mlp_width: 256 },
            text: TextConfig { context_length: 77, vocab_size: 49408, width: 64, heads: 4, layers: 2, mlp_width: 256 },
            activation: Activation::Gelu,
            preprocess: PreprocessConfig::default(),
        }
    }

    /// open_clip's `ViT-B-16`, the architecture of BioCLIP, with exact GELU as BioCLIP's
    /// published config runs it.
    pub fn vit_b_16() -> Self {
        Self {
            embed_dim: 512,
            vision: VisionConfig {
                image_size: 224,
                patch_size: 16,
                width: 768,
                layers: 12,
                heads: 12,
                mlp_width: 3072,
            },
            text: TextConfig {
                context_length: 77,
                vocab_size: 49408,
                width: 512,
                heads: 8,
                layers: 12,
                mlp_width: 2048,
            },
            activation: Activation::Gelu,
            preprocess: PreprocessConfig::default(),
        }
    }

    /// open_clip's `ViT-L-14`, the architecture of BioCLIP 2, with exact GELU.
    pub fn vit_l_14() -> Self {
        Self {
            embed_dim: 768,
            vision: VisionConfig {
                image_size: 224,
                patch_size: 14,
                width: 1024,
                layers: 24,
                heads: 16,
                mlp_width: 4096,
            },
            text: TextConfig {
                context_length: 77,
                vocab_size: 49408,
                width: 768,
                heads: 12,
                layers: 12,
                mlp_width: 3072,
            },
            activation: Activation::Gelu,
            preprocess: PreprocessConfig::default(),
        }
    }

    /// Checks the invariants the model relies on (non-zero sizes, heads dividing widths,
    /// patches tiling the image).
    ///
    /// # Errors
    /// [`ModelError::InvalidConfig`] naming the offending field.
    pub fn validate(&self) -> Result<(), ModelError> {
        let v = &self.vision;
        let t = &self.text;
        let positive = [
            ("embed_dim", self.embed_dim),
            ("vision.image_size", v.image_size),
            ("vision.patch_size", v.patch_size),
            ("vision.width", v.width),
            ("vision.layers", v.layers),
            ("vision.heads", v.heads),
            ("vision.mlp_width", v.mlp_width),
            ("text.context_length", t.context_length),
            ("text.vocab_size", t.vocab_size),
            ("text.width", t.width),
            ("text.heads", t.heads),
            ("text.layers", t.layers),
            ("text.mlp_width", t.mlp_width),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(ModelError::invalid(*key, "must be positive"));
        }
        if !v.width.is_multiple_of(v.heads) {
            return Err(ModelError::invalid(
                "vision.heads",
                format!("{} heads do not divide width {}", v.heads, v.width),
            ));
        }
        if !t.width.is_multiple_of(t.heads) {
            return Err(ModelError::invalid(
                "text.heads",
                format!("{} heads do not divide width {}", t.heads, t.width),
            ));
        }
        if !v.image_size.is_multiple_of(v.patch_size) {
            return Err(ModelError::invalid(
                "vision.image_size",
                format!("{} is not a multiple of patch_size {}", v.image_size, v.patch_size),
            ));
        }
        Ok(())
    }
}
