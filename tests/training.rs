//! Training on real digits: every configuration learns, seeds reproduce runs bit for bit, and
//! the optimiser does exactly what it says.

mod common;

use autoencoders::data::bundled_digits;
use autoencoders::{
    Activation, Adam, Autoencoder, Contractive, Corruption, Decoder, DenseBuilder, Encoder,
    GaussianNoise, KlSparsity, L1Sparsity, L2Sparsity, Masking, Optimizer, ReconstructionLoss,
    Regularizer, SaltAndPepper, Scalar, Sgd, StopReason, TrainingConfig, WeightDecay,
};
use nalgebra::DMatrix;
use std::ops::ControlFlow;

/// The first `n` bundled training digits.
fn digits<T: Scalar>(n: usize) -> DMatrix<T> {
    bundled_digits::<T>()
        .unwrap()
        .train_images
        .rows(0, n)
        .into_owned()
}

/// The first `n` bundled test digits, in `f32`.
fn test_digits(n: usize) -> DMatrix<f32> {
    bundled_digits::<f32>()
        .unwrap()
        .test_images
        .rows(0, n)
        .into_owned()
}

/// 14×14 digits (2×2 mean pooling), for the overcomplete models.
fn small_digits(n: usize) -> DMatrix<f64> {
    let x = digits::<f64>(n);
    DMatrix::from_fn(n, 196, |s, p| {
        let (r, c) = (2 * (p / 14), 2 * (p % 14));
        [0, 1, 28, 29]
            .iter()
            .map(|o| x[(s, r * 28 + c + o)])
            .sum::<f64>()
            / 4.0
    })
}

/// Trains and returns the clean objective before and after.
fn train<E, D, R, C, O>(
    model: &mut Autoencoder<E, D, R, C>,
    x: &DMatrix<E::Scalar>,
    optimizer: &mut O,
    epochs: usize,
) -> (f64, f64)
where
    E: Encoder,
    D: Decoder<E::Scalar>,
    R: Regularizer<E::Scalar>,
    C: Corruption<E::Scalar>,
    O: Optimizer<E::Scalar>,
{
    let before = model.objective(x).unwrap().total().as_f64();
    let config = TrainingConfig::default()
        .with_epochs(epochs)
        .with_batch_size(20);
    model
        .fit(x, &config, optimizer, &mut common::rng(99))
        .unwrap();
    let after = model.objective(x).unwrap().total().as_f64();
    (before, after)
}

fn assert_learns<T: Scalar>(what: &str, (before, after): (f64, f64)) {
    assert!(
        after.is_finite() && after < 0.9 * before,
        "{what} ({}): objective {before:.4} → {after:.4}",
        T::NAME
    );
}

fn each_configuration_learns<T: Scalar>() {
    let x = digits::<T>(400);
    let build = |encoder: Activation, tied: bool| {
        DenseBuilder::new(784, 32)
            .with_encoder_activation(encoder)
            .with_tied(tied)
            .build::<T, _>(&mut common::rng(1))
            .unwrap()
    };
    let sgd = || Sgd::<T>::new(0.05).unwrap().with_momentum(0.9).unwrap();
    let adam = || Adam::<T>::new(3e-3).unwrap();
    macro_rules! check {
        ($what:expr, $model:expr) => {{
            let mut m = $model;
            assert_learns::<T>(
                &format!("{} / adam", $what),
                train(&mut m.clone(), &x, &mut adam(), 3),
            );
            assert_learns::<T>(
                &format!("{} / sgd", $what),
                train(&mut m, &x, &mut sgd(), 3),
            );
        }};
    }
    for encoder in Activation::ALL {
        for tied in [false, true] {
            let what = format!("plain {encoder:?} tied={tied}");
            check!(what, build(encoder, tied));
        }
    }
    let base = build(Activation::Sigmoid, false);
    check!(
        "cross-entropy",
        base.clone().with_loss(ReconstructionLoss::CrossEntropy)
    );
    check!(
        "L1",
        base.clone()
            .with_regularizer(L1Sparsity::new(1e-3).unwrap())
    );
    check!(
        "L2",
        base.clone()
            .with_regularizer(L2Sparsity::new(1e-3).unwrap())
    );
    check!(
        "KL",
        base.clone()
            .with_regularizer(KlSparsity::new(0.05, 0.5).unwrap())
    );
    check!(
        "contractive",
        base.clone()
            .with_regularizer(Contractive::new(0.1).unwrap())
    );
    check!(
        "weight decay",
        base.clone()
            .with_regularizer(WeightDecay::new(1e-3).unwrap())
    );
    check!(
        "gaussian",
        base.clone()
            .with_corruption(GaussianNoise::new(0.3).unwrap())
    );
    check!(
        "masking",
        base.clone().with_corruption(Masking::new(0.3).unwrap())
    );
    check!(
        "salt-and-pepper",
        base.clone()
            .with_corruption(SaltAndPepper::new(0.1).unwrap())
    );
    check!(
        "all at once",
        base.with_regularizer((
            L1Sparsity::new(1e-4).unwrap(),
            KlSparsity::new(0.1, 0.1).unwrap(),
            Contractive::new(0.05).unwrap(),
            WeightDecay::new(1e-4).unwrap(),
        ))
        .with_corruption(Masking::new(0.2).unwrap())
        .with_loss(ReconstructionLoss::CrossEntropy)
    );
}

#[test]
fn every_configuration_lowers_the_objective_f64() {
    each_configuration_learns::<f64>();
}

#[test]
fn every_configuration_lowers_the_objective_f32() {
    each_configuration_learns::<f32>();
}

#[test]
fn overcomplete_codes_train_with_each_regularizer() {
    let x = small_digits(300);
    let base = DenseBuilder::new(196, 256)
        .build::<f64, _>(&mut common::rng(2))
        .unwrap();
    let adam = || Adam::<f64>::new(3e-3).unwrap();
    assert_learns::<f64>(
        "overcomplete plain",
        train(&mut base.clone(), &x, &mut adam(), 3),
    );
    let regularized = [
        (
            "L1",
            train(
                &mut base
                    .clone()
                    .with_regularizer(L1Sparsity::new(1e-3).unwrap()),
                &x,
                &mut adam(),
                3,
            ),
        ),
        (
            "L2",
            train(
                &mut base
                    .clone()
                    .with_regularizer(L2Sparsity::new(1e-3).unwrap()),
                &x,
                &mut adam(),
                3,
            ),
        ),
        (
            "KL",
            train(
                &mut base
                    .clone()
                    .with_regularizer(KlSparsity::new(0.05, 0.5).unwrap()),
                &x,
                &mut adam(),
                3,
            ),
        ),
        (
            "contractive",
            train(
                &mut base
                    .clone()
                    .with_regularizer(Contractive::new(0.1).unwrap()),
                &x,
                &mut adam(),
                3,
            ),
        ),
        (
            "weight decay",
            train(
                &mut base
                    .clone()
                    .with_regularizer(WeightDecay::new(1e-3).unwrap()),
                &x,
                &mut adam(),
                3,
            ),
        ),
        (
            "denoising",
            train(
                &mut base.clone().with_corruption(Masking::new(0.3).unwrap()),
                &x,
                &mut adam(),
                3,
            ),
        ),
    ];
    for (what, result) in regularized {
        assert_learns::<f64>(&format!("overcomplete {what}"), result);
    }
}

/// A full run with shuffling, corruption and momentum, twice from the same seed.
fn seeded_run<T: Scalar>(seed: u64) -> Vec<Vec<T>> {
    let x = digits::<T>(200);
    let mut r = common::rng(seed);
    let mut model = DenseBuilder::new(784, 16)
        .build::<T, _>(&mut r)
        .unwrap()
        .with_regularizer(Contractive::new(0.1).unwrap())
        .with_corruption(GaussianNoise::new(0.2).unwrap());
    let config = TrainingConfig::default().with_epochs(2).with_batch_size(32);
    let mut sgd = Sgd::new(0.05).unwrap().with_momentum(0.5).unwrap();
    model.fit(&x, &config, &mut sgd, &mut r).unwrap();
    model.parameters().into_iter().map(<[T]>::to_vec).collect()
}

#[test]
fn the_same_seed_gives_bit_identical_weights() {
    // Bit-identity is the claim, so exact equality is the right comparison here.
    assert_eq!(seeded_run::<f64>(5), seeded_run::<f64>(5));
    assert_eq!(seeded_run::<f32>(5), seeded_run::<f32>(5));
    assert_ne!(seeded_run::<f64>(5), seeded_run::<f64>(6));
}

#[test]
fn one_full_batch_sgd_epoch_is_exactly_one_gradient_step() {
    let x = digits::<f64>(50);
    let model = DenseBuilder::new(784, 8)
        .build::<f64, _>(&mut common::rng(3))
        .unwrap()
        .with_regularizer((
            Contractive::new(0.1).unwrap(),
            WeightDecay::new(0.01).unwrap(),
        ));
    let eta = 0.05;
    let (_, gradient) = model.gradient(&x, &x).unwrap();
    let expected: Vec<Vec<f64>> = model
        .parameters()
        .iter()
        .zip(&gradient)
        .map(|(p, g)| p.iter().zip(g).map(|(p, g)| p - eta * g).collect())
        .collect();
    let mut trained = model.clone();
    let config = TrainingConfig::default()
        .with_epochs(1)
        .with_batch_size(50)
        .with_shuffle(false);
    trained
        .fit(
            &x,
            &config,
            &mut Sgd::new(eta).unwrap(),
            &mut common::rng(0),
        )
        .unwrap();
    let actual: Vec<Vec<f64>> = trained
        .parameters()
        .into_iter()
        .map(<[f64]>::to_vec)
        .collect();
    assert_eq!(actual, expected);
}

#[test]
fn the_observer_sees_every_epoch_and_can_stop_training() {
    let x = digits::<f32>(100);
    let validation = test_digits(50);
    let mut model = DenseBuilder::new(784, 8)
        .build::<f32, _>(&mut common::rng(4))
        .unwrap();
    let mut seen = Vec::new();
    let mut observer = |report: &autoencoders::EpochReport| {
        seen.push(*report);
        if report.epoch == 2 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let config = TrainingConfig::default().with_epochs(10);
    let history = model
        .fit_with(
            &x,
            Some(&validation),
            &config,
            &mut Adam::new(1e-3).unwrap(),
            &mut common::rng(5),
            &mut observer,
        )
        .unwrap();
    assert_eq!(history.stop_reason, StopReason::Observer);
    assert_eq!(history.epochs.len(), 3);
    assert_eq!(history.epochs, seen);
    for report in &history.epochs {
        let validation_loss = report.validation_loss.unwrap();
        assert!(validation_loss.is_finite() && validation_loss > 0.0);
        approx::assert_relative_eq!(
            report.objective,
            report.reconstruction_loss + report.penalty,
            max_relative = 1e-12
        );
    }
    assert!(history.epochs[2].reconstruction_loss < history.epochs[0].reconstruction_loss);
    let completed = model
        .fit(
            &x,
            &TrainingConfig::default().with_epochs(1),
            &mut Adam::new(1e-3).unwrap(),
            &mut common::rng(6),
        )
        .unwrap();
    assert_eq!(completed.stop_reason, StopReason::Completed);
}

#[test]
fn a_watcher_sees_the_model_each_epoch_left_and_can_stop_training() {
    let x = digits::<f32>(100);
    let validation = test_digits(50);
    let build = || {
        DenseBuilder::new(784, 8)
            .build::<f32, _>(&mut common::rng(4))
            .unwrap()
    };
    let config = TrainingConfig::default().with_epochs(4).with_batch_size(16);
    // The reference: one epoch at a time, the model's parameters after each.
    let mut stepwise = build();
    let mut optimizer = Adam::new(1e-3).unwrap();
    let mut rng = common::rng(5);
    let mut after = Vec::new();
    for _ in 0..4 {
        stepwise
            .fit(&x, &config.with_epochs(1), &mut optimizer, &mut rng)
            .unwrap();
        after.push(
            stepwise
                .parameters()
                .iter()
                .map(|p| p.to_vec())
                .collect::<Vec<_>>(),
        );
    }
    // Watching changes nothing, and the watcher sees each epoch's model and report.
    let mut watched = build();
    let mut seen = Vec::new();
    let mut models = Vec::new();
    let history = watched
        .fit_watched(
            &x,
            Some(&validation),
            &config,
            &mut Adam::new(1e-3).unwrap(),
            &mut common::rng(5),
            &mut |report: &autoencoders::EpochReport, model: &_| {
                seen.push(*report);
                let model: &autoencoders::DenseAutoencoder<f32> = model;
                models.push(
                    model
                        .parameters()
                        .iter()
                        .map(|p| p.to_vec())
                        .collect::<Vec<_>>(),
                );
                ControlFlow::Continue(())
            },
        )
        .unwrap();
    assert_eq!(history.stop_reason, StopReason::Completed);
    assert_eq!(history.epochs, seen);
    assert_eq!(models, after);
    let mut plain = build();
    let plain_history = plain
        .fit_with(
            &x,
            Some(&validation),
            &config,
            &mut Adam::new(1e-3).unwrap(),
            &mut common::rng(5),
            &mut (),
        )
        .unwrap();
    assert_eq!(plain_history, history);
    assert_eq!(plain.parameters(), watched.parameters());
    // A watcher that stops after the second epoch, by a measure of the model's own.
    let mut stopped = build();
    let mut objectives = Vec::new();
    let history = stopped
        .fit_watched(
            &x,
            None,
            &config,
            &mut Adam::new(1e-3).unwrap(),
            &mut common::rng(5),
            &mut |_: &autoencoders::EpochReport, model: &autoencoders::DenseAutoencoder<f32>| {
                objectives.push(model.objective(&x).unwrap().total());
                if objectives.len() == 2 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        )
        .unwrap();
    assert_eq!(history.stop_reason, StopReason::Observer);
    assert_eq!(history.epochs.len(), 2);
    assert_eq!(
        stopped
            .parameters()
            .iter()
            .map(|p| p.to_vec())
            .collect::<Vec<_>>(),
        after[1]
    );
    assert!(objectives[1] < objectives[0]);
}

#[test]
fn f32_and_f64_compute_the_same_gradient() {
    let x64 = digits::<f64>(20);
    let x32 = x64.map(|v| v as f32);
    let m64 = DenseBuilder::new(784, 8)
        .build::<f64, _>(&mut common::rng(7))
        .unwrap()
        .with_regularizer(Contractive::new(0.1).unwrap());
    let m32 = DenseBuilder::new(784, 8)
        .build::<f32, _>(&mut common::rng(7))
        .unwrap()
        .with_regularizer(Contractive::new(0.1).unwrap());
    let (o64, g64) = m64.gradient(&x64, &x64).unwrap();
    let (o32, g32) = m32.gradient(&x32, &x32).unwrap();
    approx::assert_relative_eq!(o64.total(), f64::from(o32.total()), max_relative = 1e-5);
    for (a, b) in g64.iter().zip(&g32) {
        let norm = a.iter().map(|v| v * v).sum::<f64>().sqrt();
        let diff = a
            .iter()
            .zip(b)
            .map(|(a, &b)| (a - f64::from(b)).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(diff <= 1e-4 * norm, "relative difference {}", diff / norm);
    }
}

#[test]
fn a_classifier_watcher_sees_each_epoch_and_changes_nothing() {
    let digits = bundled_digits::<f32>().unwrap();
    let x = digits.train_images.rows(0, 200).into_owned();
    let labels = digits.train_labels[..200].to_vec();
    let build = || {
        autoencoders::Classifier::softmax_regression(
            784,
            10,
            autoencoders::Init::GlorotUniform,
            &mut common::rng(7),
        )
        .unwrap()
    };
    let config = TrainingConfig::default().with_epochs(3).with_batch_size(20);
    let mut plain = build();
    let expected = plain
        .fit_with(
            &x,
            &labels,
            None,
            &config,
            &mut Sgd::new(0.1).unwrap(),
            &mut common::rng(8),
            &mut (),
        )
        .unwrap();
    let mut watched = build();
    let mut accuracies = Vec::new();
    let history = watched
        .fit_watched(
            &x,
            &labels,
            None,
            &config,
            &mut Sgd::new(0.1).unwrap(),
            &mut common::rng(8),
            &mut |_: &autoencoders::SupervisedReport, model: &autoencoders::Classifier<_>| {
                accuracies.push(model.accuracy(&x, &labels).unwrap());
                ControlFlow::Continue(())
            },
        )
        .unwrap();
    assert_eq!(history, expected);
    assert_eq!(watched.parameters(), plain.parameters());
    assert_eq!(accuracies.len(), 3);
    assert_eq!(accuracies[2], plain.accuracy(&x, &labels).unwrap());
    let mut stopped = build();
    let history = stopped
        .fit_watched(
            &x,
            &labels,
            None,
            &config,
            &mut Sgd::new(0.1).unwrap(),
            &mut common::rng(8),
            &mut |_: &autoencoders::SupervisedReport, _: &autoencoders::Classifier<_>| {
                ControlFlow::Break(())
            },
        )
        .unwrap();
    assert_eq!(
        (history.stop_reason, history.epochs.len()),
        (StopReason::Observer, 1)
    );
}
