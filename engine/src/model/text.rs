//! The text tower of [`Clip`]: token + position embeddings, a causal transformer, `ln_final`
//! at the end-of-text token, `@ text_projection`.
//!
//! open_clip keeps these modules directly on `CLIP` (no `text.` prefix), so they are fields of
//! [`Clip`] and this file adds the methods that run them.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

use super::clip::{Clip, host_ids};
use super::error::ModelError;
use super::transformer::rows_at;

/// The text tower's activations for one batch (see [`Clip::trace_text`]). Unlike
/// [`Clip::encode_text`], tracing runs all `context_length` positions.
#[derive(Debug, Clone)]
pub struct TextTrace<B: Backend> {
    /// `token_embedding(ids)` `[batch, length, width]`.
    pub token_embed: Tensor<B, 3>,
    /// Token + positional embeddings: the input of block 0.
    pub embed: Tensor<B, 3>,
    /// `x + attn(ln_1(x))` inside block 0.
    pub block0_attn_residual: Tensor<B, 3>,
    /// Output of block 0.
    pub block0: Tensor<B, 3>,
    /// Output of the last block.
    pub block_last: Tensor<B, 3>,
    /// `ln_final` at every position.
    pub ln_final: Tensor<B, 3>,
    /// `ln_final` at each row's end-of-text token `[batch, width]`.
    pub eot_pooled: Tensor<B, 2>,
    /// The text features `[batch, embed_dim]`.
    pub projected: Tensor<B, 2>,
}

impl<B: Backend> Clip<B> {
    /// Text features `[batch, embed_dim]` (not normalised, like open_clip's `encode_text`) of
    /// token ids `[batch, length ≤ context_length]`, pooled at each row's end-of-text token
    /// (the first position holding the row's highest id).
    ///
    /// Only the first `max(eot) + 1` positions of the batch are run: under the causal mask no
    /// later token can reach a pooled row, so the result is the same and short captions are
    /// several times faster. The last block computes only the pooled rows
    /// ([`super::Transformer::forward_pooled`]).
    ///
    /// # Errors
    /// [`ModelError::InvalidInput`] for an empty batch, too many positions, or ids outside the
    /// vocabulary.
    pub fn encode_text(&self, ids: Tensor<B, 2, Int>) -> Result<Tensor<B, 2>, ModelError> {
        let eot = self.end_of_text_positions(&ids)?;
        let [_, length] = ids.dims();
        let keep = eot.iter().max().map_or(length, |last| last + 1);
        let ids = if keep < length { ids.narrow(1, 0, keep) } else { ids };
        let (_, x) = self.embed_text(ids);
        let pooled = self.ln_final.forward(self.transformer.forward_pooled(x, true, &eot)?);
        Ok(pooled.matmul(self.text_projection.val()))
    }

    /// Runs the text tower over every position of `ids`, recording every intermediate
    /// activation (for checking the port against open_clip).
    ///
    /// # Errors
    /// As [`Clip::encode_text`].
    pub fn trace_text(&self, ids: Tensor<B, 2, Int>) -> Result<TextTrace<B>, ModelError> {
        let eot = self.end_of_text_positions(&ids)?;
        let (token_embed, embed) = self.embed_text(ids);
        let blocks = self.transformer.forward_traced(embed.clone(), true);
        let ln_final = self.ln_final.forward(blocks.last.clone());
        let eot_pooled = rows_at(ln_final.clone(), &eot);
        let projected = eot_pooled.clone().matmul(self.text_projection.val());
        Ok(TextTrace {
            token_embed,
            embed,
            block0_attn_residual: blocks.block0_attn_residual,
            block0: blocks.block0,
            block_last: blocks.last,
            ln_final,
            eot_pooled,
            projected,
        })
    }

    /// Token embeddings, and token + positional embeddings for the ids' length.
    fn embed_text(&self, ids: Tensor<B, 2, Int>) -> (Tensor<B, 3>, Tensor<B, 3>) {
        let [_, length] = ids.dims();
        let tokens = self.token_embedding.forward(ids);
        let positions = self.positional_embedding.val().narrow(0, 0, length);
        (tokens.clone(), tokens + positions.unsqueeze::<3>())
    }

    /// Validates `ids` and returns, per row, the position of its end-of-text token: open_clip's
    /// `argmax(ids)`, which takes the first occurrence of the highest id.
    fn end_of_text_positions(&self, ids: &Tensor<B, 2, Int>) -> Result<Vec<usize>, ModelError> {
        let (values, [batch, length]) = host_ids(ids)?;
        let text = &self.config().text;
        let invalid = |message: String| ModelError::InvalidInput { input: "token ids", message };
        if batch == 0 || length == 0 || length > text.context_length {
            return Err(invalid(format!(
                "shape [{batch}, {length}], expected [batch ≥ 1, 1..={}]",
                text.context_length
            )));
        }
        let vocab = text.vocab_size as i64;
        if let Some(bad) = values.iter().find(|id| !(0..vocab).contains(*id)) {
            return Err(invalid(format!("id {bad} is outside the vocabulary 0..{vocab}")));
        }
        Ok(values
            .chunks_exact(length)
            .map(|row| {
                let mut best = 0;
                for (position, id) in row.iter().enumerate() {
                    if *id > row[best] {
                        best = position;
                    }
                }
                best
            })
            .collect())
    }
}
