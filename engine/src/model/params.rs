//! Where a new model's parameters come from: a checkpoint or a random initialisation.
//!
//! Every module is built by one constructor that asks a [`ParamSource`] for each tensor by its
//! open_clip name and shape, so loading and initialising can never disagree about the module
//! tree.

use burn::module::Param;
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor, TensorData};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::error::ModelError;

/// How a parameter is initialised when no checkpoint provides it (open_clip's
/// `init_parameters`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Init {
    /// All ones (LayerNorm gains).
    Ones,
    /// All zeros (biases).
    Zeros,
    /// Normal with mean 0 and this standard deviation.
    Normal(f64),
    /// Every element set to this value (`logit_scale`).
    Constant(f64),
}

/// Supplies the tensors of a model under construction.
pub(crate) trait ParamSource<B: Backend> {
    /// The device the tensors are created on.
    fn device(&self) -> &B::Device;

    /// The tensor named `name` (open_clip's key) with exactly this shape.
    fn tensor<const D: usize>(&mut self, name: &str, shape: [usize; D], init: Init)
    -> Result<Tensor<B, D>, ModelError>;

    /// [`ParamSource::tensor`] wrapped as a trainable parameter.
    fn param<const D: usize>(
        &mut self,
        name: &str,
        shape: [usize; D],
        init: Init,
    ) -> Result<Param<Tensor<B, D>>, ModelError> {
        self.tensor(name, shape, init).map(Param::from_tensor)
    }

    /// The torch `[out, in]` matrix `name` as a contiguous `[in, out]` tensor, the layout
    /// `x @ w` reads fastest: multiplying by a transposed view instead ran the batch-1 GEMMs of
    /// ViT-B/16 at 105–167 GFLOP/s where the contiguous layout reached 206–254 (2 threads).
    /// The copy happens once, at load.
    fn matrix_in_out(&mut self, name: &str, [d_out, d_in]: [usize; 2], init: Init) -> Result<Tensor<B, 2>, ModelError> {
        let torch = self.tensor(name, [d_out, d_in], init)?;
        Ok(Tensor::from_data(torch.transpose().into_data(), self.device()))
    }
}

/// Random initialisation, for training from scratch and for benchmarks: from the backend's
/// generator, or from a private seeded one so that the same seed gives the same model on any
/// backend and whatever else draws random numbers in the process.
pub(crate) struct RandomInit<'a, B: Backend> {
    pub(crate) device: &'a B::Device,
    pub(crate) rng: Option<ChaCha8Rng>,
}

impl<B: Backend> ParamSource<B> for RandomInit<'_, B> {
    fn device(&self) -> &B::Device {
        self.device
    }

    fn tensor<const D: usize>(
        &mut self,
        _name: &str,
        shape: [usize; D],
        init: Init,
    ) -> Result<Tensor<B, D>, ModelError> {
        Ok(match init {
            Init::Ones => Tensor::ones(shape, self.device),
            Init::Zeros => Tensor::zeros(shape, self.device),
            Init::Constant(value) => Tensor::full(shape, value, self.device),
            Init::Normal(std) => match &mut self.rng {
                None => Tensor::random(shape, Distribution::Normal(0.0, std), self.device),
                Some(rng) => {
                    let values: Vec<f32> = (0..shape.iter().product()).map(|_| (normal(rng) * std) as f32).collect();
                    Tensor::from_data(TensorData::new(values, shape), self.device)
                }
            },
        })
    }
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.r#gen::<f64>(); // in (0, 1]: ln stays finite
    let u2: f64 = rng.r#gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
