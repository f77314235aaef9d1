//! Bad input gets a typed error before any work, never a panic or a NaN.

mod common;

use autoencoders::{
    Activation, Adam, Autoencoder, Contractive, DenseAutoencoder, DenseBuilder, DenseDecoder,
    DenseEncoder, Error, GaussianNoise, Init, KlSparsity, L1Sparsity, L2Sparsity, Masking,
    Optimizer, OptimizerState, ReconstructionLoss, Regularizer, RegularizerGradient,
    RegularizerInput, SaltAndPepper, Sgd, TrainingConfig, WeightDecay,
};
use nalgebra::{DMatrix, DVector};

fn model() -> autoencoders::DenseAutoencoder<f64> {
    DenseBuilder::new(4, 3).build(&mut common::rng(0)).unwrap()
}

fn fit_error<R: Regularizer<f64>>(
    model: &mut Autoencoder<DenseEncoder<f64>, DenseDecoder<f64>, R>,
    x: &DMatrix<f64>,
) -> Error {
    let before: Vec<Vec<f64>> = model.parameters().iter().map(|p| p.to_vec()).collect();
    let err = model
        .fit(
            x,
            &TrainingConfig::default(),
            &mut Adam::new(1e-3).unwrap(),
            &mut common::rng(1),
        )
        .unwrap_err();
    let after: Vec<Vec<f64>> = model.parameters().iter().map(|p| p.to_vec()).collect();
    assert_eq!(before, after, "a rejected fit must not touch the model");
    err
}

#[test]
fn bad_data_is_rejected_before_training() {
    let mut m = model();
    assert!(matches!(
        fit_error(&mut m, &DMatrix::zeros(0, 4)),
        Error::EmptyData { .. }
    ));
    assert!(matches!(
        fit_error(&mut m, &DMatrix::zeros(5, 3)),
        Error::DimensionMismatch {
            expected: 4,
            found: 3,
            ..
        }
    ));
    let mut x = DMatrix::from_element(5, 4, 0.5);
    x[(3, 2)] = f64::NAN;
    assert!(matches!(
        fit_error(&mut m, &x),
        Error::NonFiniteData {
            row: 3,
            column: 2,
            ..
        }
    ));
    x[(3, 2)] = f64::INFINITY;
    assert!(matches!(
        fit_error(&mut m, &x),
        Error::NonFiniteData {
            row: 3,
            column: 2,
            ..
        }
    ));
    x[(3, 2)] = f64::NEG_INFINITY;
    assert!(matches!(
        fit_error(&mut m, &x),
        Error::NonFiniteData {
            row: 3,
            column: 2,
            ..
        }
    ));
    // Samples without features: a 5 × 0 matrix.
    assert!(matches!(
        fit_error(&mut m, &DMatrix::zeros(5, 0)),
        Error::NoFeatures {
            what: "training data"
        }
    ));
    assert!(matches!(
        m.encode(&DMatrix::zeros(5, 0)),
        Err(Error::NoFeatures { .. })
    ));
    assert!(matches!(
        m.reconstruct(&DMatrix::zeros(5, 0)),
        Err(Error::NoFeatures { .. })
    ));
    assert!(matches!(
        m.objective(&DMatrix::zeros(5, 0)),
        Err(Error::NoFeatures { .. })
    ));

    assert!(matches!(
        m.encode(&DMatrix::zeros(2, 5)),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        m.decode(&DMatrix::zeros(2, 4)),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        m.reconstruct(&DMatrix::zeros(0, 4)),
        Err(Error::EmptyData { .. })
    ));
    let validation = DMatrix::zeros(2, 7);
    let err = m
        .fit_with(
            &DMatrix::from_element(5, 4, 0.5),
            Some(&validation),
            &TrainingConfig::default(),
            &mut Adam::new(1e-3).unwrap(),
            &mut common::rng(1),
            &mut (),
        )
        .unwrap_err();
    assert!(matches!(
        err,
        Error::DimensionMismatch {
            what: "validation data",
            ..
        }
    ));
    let mut validation = DMatrix::from_element(2, 4, 0.5);
    validation[(1, 0)] = f64::NAN;
    for (validation, expected) in [
        (validation, "NonFiniteData"),
        (DMatrix::zeros(2, 0), "NoFeatures"),
        (DMatrix::zeros(0, 4), "EmptyData"),
    ] {
        let err = m
            .fit_with(
                &DMatrix::from_element(5, 4, 0.5),
                Some(&validation),
                &TrainingConfig::default(),
                &mut Adam::new(1e-3).unwrap(),
                &mut common::rng(1),
                &mut (),
            )
            .unwrap_err();
        let found = match err {
            Error::NonFiniteData {
                what: "validation data",
                row: 1,
                column: 0,
            } => "NonFiniteData",
            Error::NoFeatures {
                what: "validation data",
            } => "NoFeatures",
            Error::EmptyData {
                what: "validation data",
            } => "EmptyData",
            other => panic!("{other:?}"),
        };
        assert_eq!(found, expected);
    }
}

#[test]
fn cross_entropy_needs_unit_interval_data_and_a_sigmoid_decoder() {
    let mut m = model().with_loss(ReconstructionLoss::CrossEntropy);
    let mut x = DMatrix::from_element(3, 4, 0.5);
    x[(1, 1)] = 1.5;
    assert!(matches!(
        fit_error(&mut m, &x),
        Error::DataOutOfRange {
            row: 1,
            column: 1,
            ..
        }
    ));
    let mut linear = DenseBuilder::new(4, 3)
        .with_decoder_activation(Activation::Linear)
        .build::<f64, _>(&mut common::rng(0))
        .unwrap()
        .with_loss(ReconstructionLoss::CrossEntropy);
    assert!(matches!(
        fit_error(&mut linear, &DMatrix::from_element(3, 4, 0.5)),
        Error::IncompatibleActivation {
            found: Activation::Linear,
            ..
        }
    ));
}

#[test]
fn kl_sparsity_needs_codes_in_the_unit_interval() {
    for activation in [Activation::Tanh, Activation::Relu, Activation::Linear] {
        let mut model = DenseBuilder::new(4, 3)
            .with_encoder_activation(activation)
            .build::<f64, _>(&mut common::rng(0))
            .unwrap()
            .with_regularizer(KlSparsity::new(0.1, 1.0).unwrap());
        let err = fit_error(&mut model, &DMatrix::from_element(3, 4, 0.5));
        assert!(
            matches!(
                err,
                Error::IncompatibleActivation {
                    component: "KL sparsity",
                    found,
                    ..
                } if found == activation
            ),
            "{err}"
        );
    }
}

#[test]
fn hyper_parameters_out_of_range_are_rejected() {
    let invalid = |r: Result<(), Error>| matches!(r, Err(Error::InvalidHyperParameter { .. }));
    for bad in [-0.1, f64::NAN, f64::INFINITY] {
        assert!(invalid(L1Sparsity::new(bad).map(drop)));
        assert!(invalid(L2Sparsity::new(bad).map(drop)));
        assert!(invalid(Contractive::new(bad).map(drop)));
        assert!(invalid(WeightDecay::new(bad).map(drop)));
        assert!(invalid(KlSparsity::new(0.1, bad).map(drop)));
        assert!(invalid(GaussianNoise::new(bad).map(drop)));
    }
    for rho in [0.0, 1.0, -0.5, 2.0, f64::NAN] {
        assert!(invalid(KlSparsity::new(rho, 1.0).map(drop)));
    }
    for p in [-0.01, 1.01, f64::NAN] {
        assert!(invalid(Masking::new(p).map(drop)));
        assert!(invalid(SaltAndPepper::new(p).map(drop)));
    }
    for lr in [0.0, -1.0, -0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(invalid(Sgd::<f64>::new(lr).map(drop)));
        assert!(invalid(Adam::<f64>::new(lr).map(drop)));
        assert!(invalid(Sgd::<f32>::new(lr).map(drop)));
        assert!(invalid(Adam::<f32>::new(lr).map(drop)));
    }
    // Finite in f64 but ∞ or 0 once rounded to f32.
    for lr in [1e39, 1e-50] {
        assert!(invalid(Sgd::<f32>::new(lr).map(drop)));
        assert!(invalid(Adam::<f32>::new(lr).map(drop)));
        assert!(Sgd::<f64>::new(lr).is_ok() && Adam::<f64>::new(lr).is_ok());
    }
    for epsilon in [0.0, -1e-8, 1e-50, f64::NAN] {
        assert!(invalid(
            Adam::<f32>::default().with_epsilon(epsilon).map(drop)
        ));
    }
    for beta in [-0.1, 1.0, f64::NAN] {
        assert!(invalid(
            Adam::<f64>::default().with_betas(beta, 0.9).map(drop)
        ));
        assert!(invalid(
            Adam::<f64>::default().with_betas(0.9, beta).map(drop)
        ));
    }
    for momentum in [-0.1, 1.0, f64::NAN] {
        assert!(invalid(
            Sgd::<f64>::new(0.1)
                .unwrap()
                .with_momentum(momentum)
                .map(drop)
        ));
    }
    assert!(invalid(
        DenseBuilder::new(4, 3)
            .with_init(Init::Normal { std_dev: -1.0 })
            .build::<f64, _>(&mut common::rng(0))
            .map(drop)
    ));
    // Boundary values are valid.
    assert!(
        L1Sparsity::new(0.0).is_ok()
            && Masking::new(1.0).is_ok()
            && GaussianNoise::new(0.0).is_ok()
    );
}

#[test]
fn zero_sizes_and_a_zero_batch_are_rejected() {
    let zero = |r: Result<(), Error>| matches!(r, Err(Error::ZeroDimension { .. }));
    assert!(zero(
        DenseBuilder::new(4, 0)
            .build::<f64, _>(&mut common::rng(0))
            .map(drop)
    ));
    assert!(zero(
        DenseBuilder::new(0, 3)
            .build::<f64, _>(&mut common::rng(0))
            .map(drop)
    ));
    let mut m = model();
    let err = m
        .fit(
            &DMatrix::from_element(3, 4, 0.5),
            &TrainingConfig::default().with_batch_size(0),
            &mut Adam::new(1e-3).unwrap(),
            &mut common::rng(1),
        )
        .unwrap_err();
    assert!(matches!(err, Error::ZeroDimension { what: "batch_size" }));
}

#[test]
fn parts_that_do_not_fit_together_are_rejected() {
    let mut r = common::rng(0);
    let encoder =
        DenseEncoder::<f64>::new(4, 3, Activation::Sigmoid, Init::default(), &mut r).unwrap();
    let wrong_code = DenseDecoder::new(2, 4, Activation::Sigmoid, Init::default(), &mut r).unwrap();
    assert!(matches!(
        Autoencoder::new(encoder.clone(), wrong_code),
        Err(Error::DimensionMismatch {
            expected: 3,
            found: 2,
            ..
        })
    ));
    let wrong_output = DenseDecoder::tied(3, 5, Activation::Sigmoid).unwrap();
    assert!(matches!(
        Autoencoder::new(encoder, wrong_output),
        Err(Error::DimensionMismatch {
            expected: 4,
            found: 5,
            ..
        })
    ));
    assert!(matches!(
        DenseEncoder::<f64>::from_parts(DMatrix::zeros(3, 4), DVector::zeros(2), Activation::Relu),
        Err(Error::DimensionMismatch { .. })
    ));
    let mut weights = DMatrix::zeros(3, 4);
    weights[(0, 0)] = f64::NAN;
    assert!(matches!(
        DenseEncoder::from_parts(weights, DVector::zeros(3), Activation::Relu),
        Err(Error::NonFiniteData { .. })
    ));
}

/// A user regularizer that returns NaN gets a typed error naming it.
struct Broken;

impl Regularizer<f64> for Broken {
    fn name(&self) -> &'static str {
        "broken"
    }

    fn penalty(&self, _: &RegularizerInput<'_, f64>, _: &mut RegularizerGradient<'_, f64>) -> f64 {
        f64::NAN
    }
}

/// A user regularizer that misbehaves in one of the gradient buffers it is handed.
struct Misbehaving {
    buffer: &'static str,
    misdeed: Misdeed,
}

#[derive(Clone, Copy)]
enum Misdeed {
    /// Adds this value to the buffer's first entry.
    Add(f64),
    /// Replaces the buffer by a 1 × 1 matrix.
    Resize,
}

impl Regularizer<f64> for Misbehaving {
    fn name(&self) -> &'static str {
        "misbehaving"
    }

    fn penalty(
        &self,
        _: &RegularizerInput<'_, f64>,
        grad: &mut RegularizerGradient<'_, f64>,
    ) -> f64 {
        let buffer: &mut DMatrix<f64> = match self.buffer {
            "code" => grad.code,
            "pre_activation" => grad.pre_activation,
            "encoder_weights" => grad.encoder_weights.as_deref_mut().unwrap(),
            "decoder_weights" => grad.decoder_weights.as_deref_mut().unwrap(),
            other => unreachable!("{other}"),
        };
        match self.misdeed {
            Misdeed::Add(value) => buffer[(0, 0)] += value,
            Misdeed::Resize => *buffer = DMatrix::zeros(1, 1),
        }
        0.5
    }
}

/// The four buffers of a 4 → 3 model on a batch of 3 samples, with their shapes.
const BUFFERS: [(&str, (usize, usize)); 4] = [
    ("code", (3, 3)),
    ("pre_activation", (3, 3)),
    ("encoder_weights", (3, 4)),
    ("decoder_weights", (4, 3)),
];

#[test]
fn a_non_finite_user_gradient_is_named() {
    let x = DMatrix::from_element(3, 4, 0.5);
    for (buffer, _) in BUFFERS {
        for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let misbehaving = Misbehaving {
                buffer,
                misdeed: Misdeed::Add(value),
            };
            let mut m = model().with_regularizer(misbehaving);
            let err = fit_error(&mut m, &x);
            assert!(
                matches!(
                    err,
                    Error::NonFiniteRegularizer {
                        name: "misbehaving",
                        part: "gradient"
                    }
                ),
                "{buffer}: {err}"
            );
            assert!(matches!(
                m.gradient(&x, &x),
                Err(Error::NonFiniteRegularizer {
                    part: "gradient",
                    ..
                })
            ));
            // Without a backward pass the gradient is not used: the objective is fine.
            assert!(m.objective(&x).unwrap().total().is_finite());
        }
    }
}

#[test]
fn a_user_regularizer_that_resizes_a_gradient_buffer_is_named() {
    let x = DMatrix::from_element(3, 4, 0.5);
    for (buffer, shape) in BUFFERS {
        let misbehaving = Misbehaving {
            buffer,
            misdeed: Misdeed::Resize,
        };
        let mut m = model().with_regularizer(misbehaving);
        let is_named = |err: &Error| {
            matches!(
                err,
                Error::MisshapenRegularizerGradient {
                    name: "misbehaving",
                    buffer: b,
                    expected,
                    found: (1, 1),
                } if *b == buffer && *expected == shape
            )
        };
        let err = fit_error(&mut m, &x);
        assert!(is_named(&err), "{buffer}: {err}");
        assert!(err.to_string().contains("misbehaving"));
        assert!(is_named(&m.gradient(&x, &x).unwrap_err()));
        assert!(is_named(&m.objective(&x).unwrap_err()));
        // Reconstruction runs only the forward passes, never the regularizer.
        assert!(m.reconstruct(&x).is_ok());
    }
}

#[test]
fn a_non_finite_user_penalty_is_named() {
    let mut m = model().with_regularizer(Broken);
    let err = fit_error(&mut m, &DMatrix::from_element(3, 4, 0.5));
    assert!(
        matches!(
            err,
            Error::NonFiniteRegularizer {
                name: "broken",
                part: "penalty"
            }
        ),
        "{err}"
    );
}

#[test]
fn divergence_stops_training_with_the_last_finite_parameters() {
    let x = DMatrix::from_fn(20, 4, |i, j| ((i * 7 + j * 3) % 11) as f64);
    let mut m = DenseBuilder::new(4, 3)
        .with_encoder_activation(Activation::Linear)
        .with_decoder_activation(Activation::Linear)
        .build::<f64, _>(&mut common::rng(2))
        .unwrap();
    let err = m
        .fit(
            &x,
            &TrainingConfig::default()
                .with_epochs(100)
                .with_batch_size(5),
            &mut Sgd::new(10.0).unwrap(),
            &mut common::rng(3),
        )
        .unwrap_err();
    assert!(matches!(err, Error::Diverged { .. }), "{err}");
    assert!(
        m.parameters()
            .iter()
            .all(|p| p.iter().all(|v| v.is_finite()))
    );
    assert!(err.to_string().contains("epoch"));
}

/// The bits of `f64` parameters, to compare them exactly.
fn bits(parameters: Vec<&[f64]>) -> Vec<Vec<u64>> {
    parameters
        .iter()
        .map(|p| p.iter().map(|v| v.to_bits()).collect())
        .collect()
}

/// Asserts that `err` says training diverged at `epoch` and `batch` because of `what`.
fn assert_diverged(err: &Error, epoch: usize, batch: usize, what: &str) {
    assert!(
        matches!(
            err,
            Error::Diverged { epoch: e, batch: b, what: w } if *e == epoch && *b == batch && *w == what
        ),
        "expected divergence at epoch {epoch}, batch {batch} ({what}): {err}"
    );
}

/// The bits of every parameter, to compare without tolerance.
fn parameter_bits<R, C>(
    model: &Autoencoder<DenseEncoder<f32>, DenseDecoder<f32>, R, C>,
) -> Vec<Vec<u32>>
where
    R: Regularizer<f32>,
    C: autoencoders::Corruption<f32>,
{
    model
        .parameters()
        .iter()
        .map(|p| p.iter().map(|v| v.to_bits()).collect())
        .collect()
}

/// Counters by name, and tensor states by name as bits.
type StateBits = (Vec<(String, u64)>, Vec<(String, Vec<Vec<u32>>)>);

/// The bits of an optimiser's counters and tensor states (not its hyper-parameters).
fn state_bits(state: &OptimizerState<f32>) -> StateBits {
    let counters = state
        .counters()
        .iter()
        .map(|(k, &v)| (k.clone(), v))
        .collect();
    let tensors = state
        .tensors()
        .iter()
        .map(|(k, t)| {
            let bits = t
                .iter()
                .map(|t| t.iter().map(|v| v.to_bits()).collect())
                .collect();
            (k.clone(), bits)
        })
        .collect();
    (counters, tensors)
}

/// A linear f32 model and data of magnitude 100, whose gradients are in the thousands.
fn overflowing_setup() -> (DenseAutoencoder<f32>, DMatrix<f32>) {
    let model = DenseBuilder::new(4, 3)
        .with_encoder_activation(Activation::Linear)
        .with_decoder_activation(Activation::Linear)
        .build::<f32, _>(&mut common::rng(2))
        .unwrap();
    let x = DMatrix::from_fn(8, 4, |i, j| 100.0 + ((i * 5 + j * 3) % 7) as f32);
    (model, x)
}

#[test]
fn a_step_that_overflows_f32_is_refused_and_located() {
    let (mut model, x) = overflowing_setup();
    let before = parameter_bits(&model);
    // 1e36 is a valid f32 learning rate, but 1e36 times a gradient in the thousands is not.
    let err = model
        .fit(
            &x,
            &TrainingConfig::default().with_batch_size(4),
            &mut Sgd::new(1e36).unwrap(),
            &mut common::rng(3),
        )
        .unwrap_err();
    assert_diverged(&err, 0, 0, "parameters");
    assert!(err.to_string().contains("epoch 0, batch 0"), "{err}");
    assert_eq!(parameter_bits(&model), before);
}

/// Trains `optimizer` for two epochs on gentle data, then hands its state to `explosive` (the
/// same optimiser with a huge learning rate) and trains on large data: the first step
/// overflows, and neither the model nor the optimiser's state may change.
fn a_refused_step_leaves_model_and_state<O: Optimizer<f32>>(mut optimizer: O, mut explosive: O) {
    let (mut model, big) = overflowing_setup();
    let gentle = big.map(|v| (v - 100.0) / 7.0);
    let config = TrainingConfig::default().with_epochs(2).with_batch_size(3);
    model
        .fit(&gentle, &config, &mut optimizer, &mut common::rng(4))
        .unwrap();
    let state = optimizer.state();
    assert!(!state.tensors().is_empty(), "the state must not be trivial");
    explosive.restore(state.clone()).unwrap();
    let before = parameter_bits(&model);
    let err = model
        .fit(&big, &config, &mut explosive, &mut common::rng(5))
        .unwrap_err();
    assert_diverged(&err, 0, 0, "parameters");
    assert_eq!(parameter_bits(&model), before);
    assert_eq!(state_bits(&explosive.state()), state_bits(&state));
}

#[test]
fn a_refused_step_leaves_momentum_untouched() {
    a_refused_step_leaves_model_and_state(
        Sgd::new(0.05).unwrap().with_momentum(0.9).unwrap(),
        Sgd::new(1e36).unwrap().with_momentum(0.9).unwrap(),
    );
}

#[test]
fn a_refused_step_leaves_adam_moments_and_step_count_untouched() {
    a_refused_step_leaves_model_and_state(Adam::new(1e-2).unwrap(), Adam::new(1e38).unwrap());
}

/// Plain SGD that counts its steps, overflows every parameter on step `explode_at`, and stops
/// moving after step `freeze_after`. It keeps the default `try_step`.
struct Scripted {
    steps: u64,
    explode_at: u64,
    freeze_after: u64,
}

impl Optimizer<f64> for Scripted {
    fn step(&mut self, parameters: &mut [&mut [f64]], gradients: &[&[f64]]) {
        self.steps += 1;
        for (theta, g) in parameters.iter_mut().zip(gradients) {
            for (t, g) in theta.iter_mut().zip(g.iter()) {
                if self.steps == self.explode_at {
                    *t = f64::MAX * 2.0;
                } else if self.steps <= self.freeze_after {
                    *t -= 0.5 * g;
                }
            }
        }
    }

    fn state(&self) -> OptimizerState<f64> {
        OptimizerState::new("scripted").with_counter("steps", self.steps)
    }

    fn restore(&mut self, state: OptimizerState<f64>) -> Result<(), Error> {
        self.steps = state.counters()["steps"];
        Ok(())
    }
}

#[test]
fn divergence_names_its_epoch_and_batch_and_keeps_the_last_good_step() {
    // 20 samples in batches of 6: batches of 6, 6, 6 and 2, four steps an epoch. Shuffling and
    // masking noise draw from the generator, so both runs must replay it identically.
    let x = common::uniform(20, 4, 0.0, 1.0, &mut common::rng(6));
    let config = TrainingConfig::default().with_epochs(5).with_batch_size(6);
    let good_steps = 9;
    let fresh = || {
        model()
            .with_corruption(Masking::new(0.25).unwrap())
            .with_regularizer(L1Sparsity::new(0.01).unwrap())
    };

    let mut diverging = fresh();
    let mut optimizer = Scripted {
        steps: 0,
        explode_at: good_steps + 1,
        freeze_after: u64::MAX,
    };
    let err = diverging
        .fit(&x, &config, &mut optimizer, &mut common::rng(7))
        .unwrap_err();
    assert_diverged(&err, 2, 1, "parameters");
    assert_eq!(optimizer.steps, good_steps, "the step count is restored");

    // The same run, frozen after the last good step instead.
    let mut reference = fresh();
    reference
        .fit(
            &x,
            &config,
            &mut Scripted {
                steps: 0,
                explode_at: u64::MAX,
                freeze_after: good_steps,
            },
            &mut common::rng(7),
        )
        .unwrap();
    let bits = |m: &Autoencoder<_, _, _, _>| -> Vec<Vec<u64>> {
        m.parameters()
            .iter()
            .map(|p: &&[f64]| p.iter().map(|v| v.to_bits()).collect())
            .collect()
    };
    assert_eq!(bits(&diverging), bits(&reference));
}

#[test]
fn a_classifier_refuses_a_step_that_overflows_too() {
    let encoder = DenseEncoder::<f32>::new(
        4,
        3,
        Activation::Linear,
        Init::default(),
        &mut common::rng(8),
    )
    .unwrap();
    let mut classifier =
        autoencoders::Classifier::new(encoder, 3, Init::default(), &mut common::rng(9)).unwrap();
    let (_, x) = overflowing_setup();
    let labels = [0, 1, 2, 0, 1, 2, 0, 1];
    let bits = |c: &autoencoders::Classifier<DenseEncoder<f32>>| -> Vec<Vec<u32>> {
        let parameters = c.parameters();
        parameters
            .iter()
            .map(|p| p.iter().map(|v| v.to_bits()).collect())
            .collect()
    };
    let before = bits(&classifier);
    let err = classifier
        .fit(
            &x,
            &labels,
            &TrainingConfig::default().with_batch_size(4),
            &mut Sgd::new(1e38).unwrap(),
            &mut common::rng(10),
        )
        .unwrap_err();
    assert_diverged(&err, 0, 0, "parameters");
    assert_eq!(bits(&classifier), before);
}

/// An encoder, written outside the crate, whose backward pass spoils one gradient entry once
/// training reaches its third batch: the kind of bug a user's own layer can have.
#[derive(Clone, Debug)]
struct SpoilsItsGradient {
    layer: DenseEncoder<f64>,
    backward_calls: std::cell::Cell<usize>,
}

impl autoencoders::Encoder for SpoilsItsGradient {
    type Scalar = f64;
    type Trace = <DenseEncoder<f64> as autoencoders::Encoder>::Trace;

    fn input_dim(&self) -> usize {
        self.layer.input_dim()
    }
    fn code_dim(&self) -> usize {
        self.layer.code_dim()
    }
    fn code_layer(&self) -> autoencoders::CodeLayer<'_, f64> {
        self.layer.code_layer()
    }
    fn code_input<'a>(&self, x: &'a DMatrix<f64>, trace: &'a Self::Trace) -> &'a DMatrix<f64> {
        self.layer.code_input(x, trace)
    }
    fn forward(
        &self,
        x: &DMatrix<f64>,
        trace: &mut Self::Trace,
        pass: &mut autoencoders::CodePass<f64>,
    ) {
        self.layer.forward(x, trace, pass);
    }
    fn backward(
        &self,
        x: &DMatrix<f64>,
        trace: &mut Self::Trace,
        pass: &autoencoders::CodePass<f64>,
        grad_pre_activation: &DMatrix<f64>,
        grad_code_weights: Option<&DMatrix<f64>>,
        grad: &mut Self,
    ) {
        self.layer.backward(
            x,
            trace,
            pass,
            grad_pre_activation,
            grad_code_weights,
            &mut grad.layer,
        );
        let calls = self.backward_calls.get() + 1;
        self.backward_calls.set(calls);
        if calls == 3 {
            grad.layer.parameters_mut()[0][0] = f64::NAN;
        }
    }
    fn parameters(&self) -> Vec<&[f64]> {
        self.layer.parameters()
    }
    fn parameters_mut(&mut self) -> Vec<&mut [f64]> {
        self.layer.parameters_mut()
    }
    fn parameter_names(&self) -> Vec<String> {
        self.layer.parameter_names()
    }
}

#[test]
fn a_non_finite_gradient_is_refused_and_named() {
    let mut rng = common::rng(6);
    let layer =
        DenseEncoder::new(4, 3, Activation::Sigmoid, Init::GlorotUniform, &mut rng).unwrap();
    let decoder =
        DenseDecoder::new(3, 4, Activation::Sigmoid, Init::GlorotUniform, &mut rng).unwrap();
    let encoder = SpoilsItsGradient {
        layer,
        backward_calls: std::cell::Cell::new(0),
    };
    let mut model = Autoencoder::new(encoder, decoder).unwrap();
    let x = DMatrix::from_fn(8, 4, |i, j| ((i * 3 + j) % 5) as f64 / 4.0);
    let config = TrainingConfig::default()
        .with_batch_size(4)
        .with_shuffle(false);
    // Two batches (one epoch) train normally; remember the parameters after them.
    model
        .fit(
            &x,
            &config.with_epochs(1),
            &mut Sgd::new(0.1).unwrap(),
            &mut common::rng(7),
        )
        .unwrap();
    let before = bits(model.parameters());
    // The third backward pass, the first batch of the next `fit`, spoils a gradient entry.
    let err = model
        .fit(
            &x,
            &config.with_epochs(1),
            &mut Sgd::new(0.1).unwrap(),
            &mut common::rng(8),
        )
        .unwrap_err();
    assert_diverged(&err, 0, 0, "gradient");
    let after = bits(model.parameters());
    assert_eq!(
        after, before,
        "the refused step must leave every parameter as it was"
    );
}
