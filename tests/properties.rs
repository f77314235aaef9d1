//! Invariants that hold for every input, checked by proptest on random inputs: losses and
//! penalties are never negative, KL(ρ‖ρ̂) is zero exactly at ρ̂ = ρ, Gaussian noise of σ = 0
//! changes nothing, the contractive penalty of a linear encoder is weight decay, encoding a
//! batch encodes each row, and training on a single sample works.
//!
//! The generator is seeded (`RngSeed::Fixed`) and failures are not persisted, so every run
//! tries the same cases; a failure prints its shrunk input.

mod common;

use approx::assert_relative_eq;
use autoencoders::{
    Activation, Adam, Contractive, Corruption, DenseBuilder, DenseDecoder, DenseEncoder,
    GaussianNoise, KlSparsity, L1Sparsity, L2Sparsity, ReconstructionLoss, TrainingConfig,
    WeightDecay,
};
use autoencoders::{Autoencoder, BuiltinRegularizer};
use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed};

/// `cases` seeded cases, nothing written to disk.
fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(20_240_611),
        failure_persistence: None,
        ..Config::default()
    }
}

fn activation() -> impl Strategy<Value = Activation> + Clone {
    prop::sample::select(Activation::ALL.to_vec())
}

/// A value in [0, 1], often exactly 0 or 1.
fn unit_value() -> impl Strategy<Value = f64> + Clone {
    prop_oneof![1 => Just(0.0), 1 => Just(1.0), 4 => 0.0..=1.0]
}

/// A pre-activation, often at the edges where the exponential saturates.
fn pre_activation() -> impl Strategy<Value = f64> + Clone {
    prop_oneof![
        4 => -20.0..20.0,
        1 => prop::sample::select(vec![-1e3, -800.0, -40.0, 0.0, 40.0, 800.0, 1e3]),
        1 => -1e3..1e3,
    ]
}

/// `rows × cols` values from `values`, as a matrix.
fn matrix(
    rows: impl Strategy<Value = usize>,
    cols: impl Strategy<Value = usize>,
    values: impl Strategy<Value = f64> + Clone + 'static,
) -> impl Strategy<Value = DMatrix<f64>> {
    (rows, cols).prop_flat_map(move |(r, c)| {
        prop::collection::vec(values.clone(), r * c)
            .prop_map(move |v| DMatrix::from_row_slice(r, c, &v))
    })
}

/// Inputs in [0, 1] and decoder pre-activations of the same shape.
fn loss_inputs() -> impl Strategy<Value = (DMatrix<f64>, DMatrix<f64>)> {
    (1usize..5, 1usize..8).prop_flat_map(|(r, c)| {
        (
            matrix(Just(r), Just(c), unit_value()),
            matrix(Just(r), Just(c), pre_activation()),
        )
    })
}

/// Some of the built-in regularizers with random weights; the activation they need is the
/// sigmoid (KL sparsity).
fn regularizers() -> impl Strategy<Value = Vec<BuiltinRegularizer>> {
    let weight = || prop_oneof![Just(0.0), 0.0..10.0];
    let one = prop_oneof![
        weight().prop_map(|w| L1Sparsity::new(w).unwrap().into()),
        weight().prop_map(|w| L2Sparsity::new(w).unwrap().into()),
        (0.01..0.99, weight()).prop_map(|(t, w)| KlSparsity::new(t, w).unwrap().into()),
        weight().prop_map(|w| Contractive::new(w).unwrap().into()),
        weight().prop_map(|w| WeightDecay::new(w).unwrap().into()),
    ];
    prop::collection::vec(one, 0..4)
}

proptest! {
    #![proptest_config(config(512))]

    /// Both losses are ≥ 0 for inputs in [0, 1], whatever the pre-activation, with a finite
    /// gradient; the value `value_and_gradient` gives is `value`'s.
    #[test]
    fn losses_are_never_negative((x, z) in loss_inputs(), decoder in activation()) {
        let mut gradient = DMatrix::zeros(0, 0);
        for (loss, activation) in [
            (ReconstructionLoss::SquaredError, decoder),
            (ReconstructionLoss::CrossEntropy, Activation::Sigmoid),
        ] {
            let x_hat = z.map(|z| activation.apply(z));
            let value = loss.value(&x, &z, &x_hat);
            let with_gradient = loss.value_and_gradient(&x, &z, &x_hat, activation, &mut gradient);
            prop_assert!(value >= 0.0, "{loss:?} with {activation:?}: {value}");
            prop_assert!(value.is_finite());
            prop_assert!(gradient.iter().all(|g| g.is_finite()));
            assert_relative_eq!(value, with_gradient, max_relative = 1e-12);
        }
    }

    /// The objective of any model with any built-in regularizers splits into a reconstruction
    /// loss and a penalty that are both ≥ 0.
    #[test]
    fn objectives_and_penalties_are_never_negative(
        x in matrix(1usize..6, 1usize..7, unit_value()),
        code_dim in 1usize..5,
        seed in any::<u64>(),
        decoder in activation(),
        tied in any::<bool>(),
        regularizers in regularizers(),
        cross_entropy in any::<bool>(),
    ) {
        let (loss, decoder) = if cross_entropy {
            (ReconstructionLoss::CrossEntropy, Activation::Sigmoid)
        } else {
            (ReconstructionLoss::SquaredError, decoder)
        };
        let model = DenseBuilder::new(x.ncols(), code_dim)
            .with_decoder_activation(decoder)
            .with_tied(tied)
            .build::<f64, _>(&mut common::rng(seed))
            .unwrap()
            .with_regularizer(regularizers)
            .with_loss(loss);
        let objective = model.objective(&x).unwrap();
        prop_assert!(objective.reconstruction >= 0.0, "{objective:?}");
        prop_assert!(objective.penalty >= 0.0, "{objective:?}");
    }

    /// KL(ρ‖ρ̂) ≥ 0 for any target ρ and mean code ρ̂, including ρ̂ within a hair of ρ where
    /// the two logarithms nearly cancel; it matches the formula, and it is > 0 when ρ̂ is
    /// clearly not ρ.
    #[test]
    fn kl_divergence_is_never_negative(
        biases in prop::collection::vec(-8.0..8.0, 1..4),
        rows in 1usize..6,
        target in prop_oneof![
            2 => (0.001..0.999).prop_map(Target::Given),
            1 => (-1e-6..1e-6).prop_map(Target::NearMean),
        ],
        weight in 0.1..10.0,
    ) {
        let model = model_with_codes(&biases);
        let x = DMatrix::from_element(rows, 2, 0.5);
        let means = mean_codes(&model, &x);
        let rho = match target {
            Target::Given(rho) => rho,
            Target::NearMean(relative) => means[0] * (1.0 + relative),
        };
        let penalty = model
            .with_regularizer(KlSparsity::new(rho, weight).unwrap())
            .objective(&x)
            .unwrap()
            .penalty;
        prop_assert!(penalty >= 0.0, "KL = {penalty:e} for ρ = {rho}, ρ̂ = {means:?}");
        let expected: f64 = means.iter().map(|&m| weight * kl(rho, m)).sum();
        prop_assert!(
            (penalty - expected).abs() <= 1e-9 * expected + 1e-13 * weight,
            "KL = {penalty:e}, formula {expected:e}"
        );
        if means.iter().any(|m| (m - rho).abs() > 1e-3) {
            prop_assert!(penalty > 0.0);
        }
    }

    /// KL(ρ‖ρ̂) is exactly 0, value and gradient, when the target is the mean code itself.
    #[test]
    fn kl_divergence_is_zero_exactly_at_the_target(bias in -8.0..8.0, rows in 1usize..6) {
        let x = DMatrix::from_element(rows, 2, 0.5);
        let plain = model_with_codes(&[bias]);
        let rho = mean_codes(&plain, &x)[0];
        let (plain_objective, plain_gradient) = plain.gradient(&x, &x).unwrap();
        let with_kl = plain.with_regularizer(KlSparsity::new(rho, 3.0).unwrap());
        let (objective, gradient) = with_kl.gradient(&x, &x).unwrap();
        // Exact equalities on purpose: ρ/ρ̂ = 1 exactly, so both logarithms are exactly 0.
        prop_assert_eq!(objective.penalty, 0.0);
        prop_assert_eq!(objective.reconstruction, plain_objective.reconstruction);
        prop_assert_eq!(gradient, plain_gradient);
    }

    /// Gaussian noise with σ = 0 returns its input unchanged, in f64 and f32.
    #[test]
    fn gaussian_noise_of_zero_std_dev_is_the_identity(
        x in matrix(1usize..20, 1usize..20, prop::num::f64::NORMAL | prop::num::f64::ZERO),
        seed in any::<u64>(),
    ) {
        let noise = GaussianNoise::new(0.0).unwrap();
        // Exact equality on purpose: x + 0·ε is x.
        prop_assert_eq!(&noise.corrupt(&x, &mut common::rng(seed)), &x);
        let single = x.map(|v| v as f32);
        prop_assert_eq!(&noise.corrupt(&single, &mut common::rng(seed)), &single);
    }

    /// With a linear encoder (tied, so that weight decay covers exactly the encoder's weights)
    /// the contractive penalty equals weight decay: same value, same gradient.
    #[test]
    fn contractive_penalty_of_a_linear_encoder_is_weight_decay(
        x in matrix(1usize..8, 1usize..7, -2.0..2.0),
        code_dim in 1usize..5,
        seed in any::<u64>(),
        lambda in 0.0..10.0,
        decoder in activation(),
    ) {
        let base = DenseBuilder::new(x.ncols(), code_dim)
            .with_encoder_activation(Activation::Linear)
            .with_decoder_activation(decoder)
            .with_tied(true)
            .build::<f64, _>(&mut common::rng(seed))
            .unwrap();
        let contractive = base.clone().with_regularizer(Contractive::new(lambda).unwrap());
        let decay = base.with_regularizer(WeightDecay::new(lambda).unwrap());
        let (oc, gc) = contractive.gradient(&x, &x).unwrap();
        let (od, gd) = decay.gradient(&x, &x).unwrap();
        assert_relative_eq!(oc.penalty, od.penalty, max_relative = 1e-12, epsilon = 1e-300);
        for (a, b) in gc.iter().flatten().zip(gd.iter().flatten()) {
            assert_relative_eq!(*a, *b, max_relative = 1e-10, epsilon = 1e-13);
        }
    }

    /// The codes of a batch are the codes of its rows, one at a time.
    #[test]
    fn encoding_a_batch_encodes_each_row(
        x in matrix(1usize..40, 1usize..12, -3.0..3.0),
        code_dim in 1usize..9,
        seed in any::<u64>(),
        encoder in activation(),
    ) {
        let model = DenseBuilder::new(x.ncols(), code_dim)
            .with_encoder_activation(encoder)
            .build::<f64, _>(&mut common::rng(seed))
            .unwrap();
        let batch = model.encode(&x).unwrap();
        prop_assert_eq!(batch.shape(), (x.nrows(), code_dim));
        for r in 0..x.nrows() {
            let single = model.encode(&x.rows(r, 1).into_owned()).unwrap();
            for (a, b) in batch.row(r).iter().zip(single.iter()) {
                assert_relative_eq!(*a, *b, max_relative = 1e-12, epsilon = 1e-15);
            }
        }
        let single_precision = DenseBuilder::new(x.ncols(), code_dim)
            .with_encoder_activation(encoder)
            .build::<f32, _>(&mut common::rng(seed))
            .unwrap();
        let x32 = x.map(|v| v as f32);
        let batch = single_precision.encode(&x32).unwrap();
        for r in 0..x.nrows() {
            let single = single_precision.encode(&x32.rows(r, 1).into_owned()).unwrap();
            for (a, b) in batch.row(r).iter().zip(single.iter()) {
                assert_relative_eq!(*a, *b, max_relative = 1e-5, epsilon = 1e-6);
            }
        }
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// Training on a single sample runs every epoch and keeps the parameters finite, with
    /// batches larger than the data or of one sample, shuffled or not, with noise or without;
    /// without noise it lowers the objective wherever the gradient is not zero.
    #[test]
    fn training_on_one_sample_works(
        x in matrix(Just(1usize), 1usize..10, unit_value()),
        code_dim in 1usize..5,
        seed in any::<u64>(),
        encoder in activation(),
        decoder in activation(),
        batch_size in prop_oneof![Just(1usize), Just(32)],
        shuffle in any::<bool>(),
        noise in prop_oneof![Just(0.0), 0.0..0.2],
    ) {
        let mut model = DenseBuilder::new(x.ncols(), code_dim)
            .with_encoder_activation(encoder)
            .with_decoder_activation(decoder)
            .build::<f64, _>(&mut common::rng(seed))
            .unwrap()
            .with_corruption(GaussianNoise::new(noise).unwrap());
        let before = model.objective(&x).unwrap().total();
        let (_, gradient) = model.gradient(&x, &x).unwrap();
        let slope = gradient.iter().flatten().map(|g| g * g).sum::<f64>().sqrt();
        let config = TrainingConfig::default()
            .with_epochs(40)
            .with_batch_size(batch_size)
            .with_shuffle(shuffle);
        let history = model
            .fit(&x, &config, &mut Adam::new(1e-2).unwrap(), &mut common::rng(seed ^ 1))
            .unwrap();
        prop_assert_eq!(history.epochs.len(), 40);
        prop_assert!(model.parameters().iter().all(|p| p.iter().all(|v| v.is_finite())));
        let after = model.objective(&x).unwrap().total();
        prop_assert!(after.is_finite());
        if noise == 0.0 && slope > 1e-6 {
            prop_assert!(after < before, "objective {before} before training, {after} after");
        }
    }
}

/// The target of a KL test: given, or the first unit's mean code perturbed by this relative
/// amount.
#[derive(Clone, Copy, Debug)]
enum Target {
    Given(f64),
    NearMean(f64),
}

/// A sigmoid autoencoder whose codes are `sigmoid(biases)` for every input: zero encoder
/// weights.
fn model_with_codes(biases: &[f64]) -> Autoencoder<DenseEncoder<f64>, DenseDecoder<f64>> {
    let code_dim = biases.len();
    let encoder = DenseEncoder::from_parts(
        DMatrix::zeros(code_dim, 2),
        DVector::from_column_slice(biases),
        Activation::Sigmoid,
    )
    .unwrap();
    let decoder = DenseDecoder::from_parts(
        Some(DMatrix::from_element(2, code_dim, 0.5)),
        DVector::zeros(2),
        Activation::Sigmoid,
        code_dim,
    )
    .unwrap();
    Autoencoder::new(encoder, decoder).unwrap()
}

/// ρ̂_j, the mean code of each unit over `x`, computed as the crate computes it.
fn mean_codes(
    model: &Autoencoder<DenseEncoder<f64>, DenseDecoder<f64>>,
    x: &DMatrix<f64>,
) -> Vec<f64> {
    let codes = model.encode(x).unwrap();
    codes
        .column_iter()
        .map(|c| c.sum() / codes.nrows() as f64)
        .collect()
}

/// KL(ρ‖ρ̂) for Bernoulli variables, written as `ρ·(u − ln(1 + u)) + (1 − ρ)·(v − ln(1 + v))`
/// with `u = (ρ̂ − ρ)/ρ`, `v = (ρ − ρ̂)/(1 − ρ)` (the linear terms cancel, `ρu + (1 − ρ)v = 0`),
/// which keeps its accuracy when ρ̂ is close to ρ.
fn kl(rho: f64, rho_hat: f64) -> f64 {
    let u = (rho_hat - rho) / rho;
    let v = (rho - rho_hat) / (1.0 - rho);
    rho * (u - u.ln_1p()) + (1.0 - rho) * (v - v.ln_1p())
}
