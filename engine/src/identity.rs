//! What a model's embeddings depend on, as one comparable value.
//!
//! The weights alone do not say what an embedding means: a QuickGELU model and its GELU twin
//! share every weight and embed differently, and the same model embeds a photo differently
//! through pybioclip's squash pipeline and open_clip's crop. Files that store embeddings
//! (label caches, centroids, collections, trees built from a model) record the identity of
//! what made them, and readers refuse another.

use sha2::{Digest, Sha256};

use crate::model::ClipConfig;
use crate::preprocess::Pipeline;

/// The identity of a model as it embeds texts and as it embeds images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelIdentity {
    weights: String,
    text: String,
    image: String,
}

impl ModelIdentity {
    /// From the weights hash, the full architecture (activation and tower shapes included) and
    /// the image pipeline in use.
    pub fn new(weights_sha256: &str, config: &ClipConfig, pipeline: Pipeline) -> Self {
        let architecture = serde_json::to_string(config).unwrap_or_default();
        let text = sha256_hex(["arbor-model-identity 1", weights_sha256, &architecture]);
        let image = sha256_hex([text.as_str(), &format!("pipeline {pipeline:?}")]);
        ModelIdentity { weights: weights_sha256.to_owned(), text, image }
    }

    /// Hash of the weights only (what `arbor-model.json` records as `weights_sha256`).
    pub fn weights(&self) -> &str {
        &self.weights
    }

    /// Identity of text embeddings: weights and architecture.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Identity of image embeddings: weights, architecture and image pipeline.
    pub fn image(&self) -> &str {
        &self.image
    }
}

/// The first characters of an identity, for messages.
pub fn short_identity(identity: &str) -> &str {
    identity.get(..12).unwrap_or(identity)
}

/// Hex SHA-256 of length-prefixed parts (so `["ab", "c"]` and `["a", "bc"]` differ).
pub(crate) fn sha256_hex<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Activation;

    #[test]
    fn activation_and_pipeline_change_the_identity_the_weights_hash_does_not_see() {
        let gelu = ClipConfig::tiny();
        let mut quick = gelu.clone();
        quick.activation = Activation::QuickGelu;
        let a = ModelIdentity::new("w", &gelu, Pipeline::Squash);
        let b = ModelIdentity::new("w", &quick, Pipeline::Squash);
        let c = ModelIdentity::new("w", &gelu, Pipeline::Crop);
        assert_eq!(a.weights(), b.weights());
        assert_ne!(a.text(), b.text());
        assert_eq!(a.text(), c.text());
        assert_ne!(a.image(), c.image());
        assert_eq!(a, ModelIdentity::new("w", &gelu, Pipeline::Squash));
    }
}
