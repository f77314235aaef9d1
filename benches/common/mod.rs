//! What every bench shares: the batches of bundled digits and the W1 model of BENCHMARKS.md.
#![allow(dead_code)]

use autoencoders::data::bundled_digits;
use autoencoders::{Activation, DenseAutoencoder, DenseBuilder, ReconstructionLoss};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;

/// The batch sizes of BENCHMARKS.md.
pub const BATCH_SIZES: [usize; 2] = [32, 128];

/// Units in the code of the W1 model.
pub const CODE_DIM: usize = 256;

/// The first `batch_size` bundled training digits, `batch_size × 784`.
pub fn digits(batch_size: usize) -> DMatrix<f32> {
    let digits = bundled_digits::<f32>().expect("the bundled digits are checked into the crate");
    digits.train_images.rows(0, batch_size).into_owned()
}

/// A seeded generator.
pub fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(2024)
}

/// W1's untrained model: 784 → 256 sigmoid encoder, 256 → 784 sigmoid decoder, untied,
/// squared error.
pub fn plain_model() -> DenseAutoencoder<f32> {
    DenseBuilder::new(784, CODE_DIM)
        .with_encoder_activation(Activation::Sigmoid)
        .with_decoder_activation(Activation::Sigmoid)
        .with_tied(false)
        .build::<f32, _>(&mut rng())
        .expect("valid sizes")
        .with_loss(ReconstructionLoss::SquaredError)
}
