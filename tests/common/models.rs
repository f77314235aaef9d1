//! Small valid models that several tests of hostile files start from.

use autoencoders::{
    Activation, Contractive, DeepAutoencoder, DenseBuilder, DenseDecoder, Init, KlSparsity,
    Masking, ReconstructionLoss, StackedDecoder, StackedEncoder,
};

/// A valid f32 one-layer model file: 6 inputs, 3 codes, untied, every part of the record
/// filled in (contractive and KL penalties, masking, cross-entropy).
pub fn one_layer_file() -> Vec<u8> {
    DenseBuilder::new(6, 3)
        .build::<f32, _>(&mut super::rng(7))
        .unwrap()
        .with_regularizer((
            Contractive::new(0.25).unwrap(),
            KlSparsity::new(0.05, 3.0).unwrap(),
        ))
        .with_corruption(Masking::new(0.3).unwrap())
        .with_loss(ReconstructionLoss::CrossEntropy)
        .to_safetensors()
        .unwrap()
}

/// A deep dense autoencoder, 6 → 4 → 3 → 4 → 6.
pub fn deep() -> DeepAutoencoder<f32> {
    let mut rng = super::rng(1);
    let encoder =
        StackedEncoder::random(&[6, 4, 3], Activation::Tanh, Init::GlorotUniform, &mut rng)
            .unwrap();
    let layer = |code, output, rng: &mut _| {
        DenseDecoder::new(code, output, Activation::Sigmoid, Init::GlorotUniform, rng).unwrap()
    };
    let decoder = StackedDecoder::new(vec![layer(3, 4, &mut rng), layer(4, 6, &mut rng)]).unwrap();
    autoencoders::Autoencoder::new(encoder, decoder)
        .unwrap()
        .with_regularizer(Vec::new())
        .with_corruption(autoencoders::BuiltinCorruption::None)
        .with_loss(autoencoders::BuiltinLoss::default())
}
