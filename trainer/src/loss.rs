//! CLIP's symmetric contrastive (InfoNCE) loss.

use burn::tensor::activation::log_softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

use arbor_engine::normalize_features as normalize;

/// open_clip's `ClipLoss` on one device: with `logits = scale · n(images) · n(texts)ᵀ`, the
/// mean of the cross-entropy of each image against all texts and of each text against all
/// images, the matching pair (same row) being the target. `scale` is `exp(logit_scale)`
/// `[1]`.
pub fn clip_loss<B: Backend>(images: Tensor<B, 2>, texts: Tensor<B, 2>, scale: Tensor<B, 1>) -> Tensor<B, 1> {
    let [n, _] = images.dims();
    let logits = normalize(images).matmul(normalize(texts).transpose()) * scale.unsqueeze::<2>();
    let device = logits.device();
    let targets = Tensor::<B, 1, Int>::arange(0..n as i64, &device).reshape([n, 1]);
    let per_image = log_softmax(logits.clone(), 1).gather(1, targets.clone()).mean();
    let per_text = log_softmax(logits.transpose(), 1).gather(1, targets).mean();
    (per_image + per_text).neg() / 2.0
}

#[cfg(test)]
mod tests {
    use arbor_engine::Cpu;
    use burn::tensor::TensorData;

    use super::*;

    fn tensor(rows: &[[f32; 2]]) -> Tensor<Cpu, 2> {
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::from_data(TensorData::new(flat, [rows.len(), 2]), &Default::default())
    }

    #[test]
    fn matches_a_hand_computed_cross_entropy() {
        // Unit vectors: cos(image0, text0) = 1, cos(image0, text1) = 0, cos(image1, text1) = 0.6, …
        let images = tensor(&[[1.0, 0.0], [0.6, 0.8]]);
        let texts = tensor(&[[2.0, 0.0], [0.0, 1.0]]); // normalised inside
        let scale = Tensor::from_data(TensorData::new(vec![10.0f32], [1]), &Default::default());
        let loss: f32 = clip_loss(images, texts, scale).into_scalar();
        // logits = 10 · [[1, 0], [0.6, 0.8]]
        let ce = |right: f64, wrong: f64| -(right - (right.exp() + wrong.exp()).ln());
        let by_image = (ce(10.0, 0.0) + ce(8.0, 6.0)) / 2.0;
        let by_text = (ce(10.0, 6.0) + ce(8.0, 0.0)) / 2.0;
        let expected = (by_image + by_text) / 2.0;
        assert!((f64::from(loss) - expected).abs() < 1e-5, "{loss} vs {expected}");
    }
}
