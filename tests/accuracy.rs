//! Reported numbers are accurate in `f32`: the loss and every built-in penalty of the 8,000
//! training digits taken as one batch agree with an `f64` evaluation of the very same weights
//! and data to a relative 1e-6 (a single `f32` accumulator came out 0.2 % low).

mod common;

use autoencoders::data::bundled_digits;
use autoencoders::{
    BuiltinRegularizer, Contractive, DenseAutoencoder, DenseBuilder, KlSparsity, L1Sparsity,
    L2Sparsity, ReconstructionLoss, WeightDecay,
};
use nalgebra::DMatrix;

const TOLERANCE: f64 = 1e-6;

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

/// An `f32` model and the same weights in `f64`.
fn models(
    regularizer: BuiltinRegularizer,
) -> (
    DenseAutoencoder<f32, Vec<BuiltinRegularizer>>,
    DenseAutoencoder<f64, Vec<BuiltinRegularizer>>,
) {
    let narrow = DenseBuilder::new(784, 64)
        .build::<f32, _>(&mut common::rng(17))
        .unwrap()
        .with_regularizer(vec![regularizer]);
    let mut wide = DenseBuilder::new(784, 64)
        .build::<f64, _>(&mut common::rng(18))
        .unwrap()
        .with_regularizer(vec![regularizer]);
    for (w, n) in wide.parameters_mut().into_iter().zip(narrow.parameters()) {
        for (w, &n) in w.iter_mut().zip(n) {
            *w = f64::from(n);
        }
    }
    (narrow, wide)
}

#[test]
fn losses_and_penalties_of_8000_digits_in_f32_match_f64() {
    let x32 = bundled_digits::<f32>().unwrap().train_images;
    assert_eq!(x32.nrows(), 8000);
    let x64: DMatrix<f64> = x32.map(f64::from);
    let regularizers: Vec<BuiltinRegularizer> = vec![
        L1Sparsity::new(1e-3).unwrap().into(),
        L2Sparsity::new(1e-3).unwrap().into(),
        WeightDecay::new(1e-3).unwrap().into(),
        Contractive::new(0.1).unwrap().into(),
        KlSparsity::new(0.05, 0.5).unwrap().into(),
    ];
    for loss in [
        ReconstructionLoss::SquaredError,
        ReconstructionLoss::CrossEntropy,
    ] {
        for regularizer in &regularizers {
            let (narrow, wide) = models(*regularizer);
            let (narrow, wide) = (narrow.with_loss(loss), wide.with_loss(loss));
            let ours = narrow.objective(&x32).unwrap();
            let exact = wide.objective(&x64).unwrap();
            let reconstruction = relative(f64::from(ours.reconstruction), exact.reconstruction);
            let penalty = relative(f64::from(ours.penalty), exact.penalty);
            assert!(
                reconstruction <= TOLERANCE && penalty <= TOLERANCE,
                "{loss:?} with {regularizer:?}: reconstruction {} vs {} ({reconstruction:.1e}), penalty {} vs {} ({penalty:.1e})",
                ours.reconstruction,
                exact.reconstruction,
                ours.penalty,
                exact.penalty
            );
        }
    }
}
