//! Learning-rate schedules, budgets counted in updates and early stopping, in the one training
//! loop that the autoencoder and the classifier share.

mod common;

use autoencoders::data::bundled_digits;
use autoencoders::{
    Activation, Adam, Checkpoint, Checkpointing, Classifier, DenseBuilder, Error, Init,
    LearningRateSchedule, Masking, Optimizer, OptimizerState, Result, Scalar, Sgd, StackedEncoder,
    StopReason, TrainingConfig, TrainingRun,
};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;

fn digits<T: Scalar>(from: usize, n: usize) -> DMatrix<T> {
    bundled_digits::<T>()
        .unwrap()
        .train_images
        .rows(from, n)
        .into_owned()
}

/// SGD that records the rate of every step it takes.
#[derive(Default)]
struct RecordingSgd {
    rate: f64,
    rates: Vec<f64>,
}

impl Optimizer<f64> for RecordingSgd {
    fn step(&mut self, parameters: &mut [&mut [f64]], gradients: &[&[f64]]) {
        self.rates.push(self.rate);
        for (p, g) in parameters.iter_mut().zip(gradients) {
            for (p, g) in p.iter_mut().zip(g.iter()) {
                *p -= self.rate * g;
            }
        }
    }

    fn set_learning_rate(&mut self, rate: f64) -> Result<()> {
        self.rate = rate;
        Ok(())
    }
}

/// Plain gradient descent without a settable rate.
struct FixedSgd;

impl Optimizer<f64> for FixedSgd {
    fn step(&mut self, parameters: &mut [&mut [f64]], gradients: &[&[f64]]) {
        for (p, g) in parameters.iter_mut().zip(gradients) {
            for (p, g) in p.iter_mut().zip(g.iter()) {
                *p -= 0.1 * g;
            }
        }
    }
}

fn model() -> autoencoders::DenseAutoencoder<f64> {
    DenseBuilder::new(784, 8)
        .build::<f64, _>(&mut common::rng(3))
        .unwrap()
}

#[test]
fn every_update_gets_the_scheduled_rate_across_epochs() {
    // 100 samples in batches of 32: 4 updates per epoch, 12 in all.
    let x = digits::<f64>(0, 100);
    let schedule = LearningRateSchedule::step(0.4, 5, 0.5)
        .unwrap()
        .with_warm_up(2)
        .unwrap();
    let config = TrainingConfig::default()
        .with_epochs(3)
        .with_schedule(schedule);
    let mut optimizer = RecordingSgd::default();
    model()
        .fit(&x, &config, &mut optimizer, &mut common::rng(1))
        .unwrap();
    let expected: Vec<f64> = (0..12).map(|t| schedule.rate(t)).collect();
    assert_eq!(optimizer.rates, expected);
    assert_eq!(optimizer.rates[..3], [0.2, 0.4, 0.4]);
    assert_eq!([optimizer.rates[6], optimizer.rates[7]], [0.4, 0.2]);
}

#[test]
fn a_constant_schedule_is_the_optimisers_own_rate_bit_for_bit() {
    let x = digits::<f32>(0, 96);
    let config = TrainingConfig::default().with_epochs(2);
    let mut plain = DenseBuilder::new(784, 8)
        .build::<f32, _>(&mut common::rng(3))
        .unwrap();
    let mut scheduled = plain.clone();
    plain
        .fit(
            &x,
            &config,
            &mut Adam::new(0.01).unwrap(),
            &mut common::rng(5),
        )
        .unwrap();
    scheduled
        .fit(
            &x,
            &config.with_schedule(LearningRateSchedule::constant(0.01).unwrap()),
            &mut Adam::new(0.5).unwrap(),
            &mut common::rng(5),
        )
        .unwrap();
    assert_eq!(plain.parameters(), scheduled.parameters());
}

#[test]
fn a_schedule_needs_an_optimiser_whose_rate_can_be_set() {
    let x = digits::<f64>(0, 40);
    let mut m = model();
    let before: Vec<Vec<f64>> = m.parameters().iter().map(|p| p.to_vec()).collect();
    let config =
        TrainingConfig::default().with_schedule(LearningRateSchedule::constant(0.1).unwrap());
    let err = m
        .fit(&x, &config, &mut FixedSgd, &mut common::rng(1))
        .unwrap_err();
    assert!(matches!(err, Error::NoLearningRate { .. }), "{err}");
    let after: Vec<Vec<f64>> = m.parameters().iter().map(|p| p.to_vec()).collect();
    assert_eq!(before, after, "no update may be taken");
    // And a rate the optimiser refuses stops training with its error.
    assert!(
        Sgd::<f64>::new(0.1)
            .unwrap()
            .set_learning_rate(-1.0)
            .is_err()
    );
    assert!(Sgd::<f64>::new(0.1).unwrap().set_learning_rate(0.0).is_ok());
}

#[test]
fn an_update_budget_stops_in_the_middle_of_an_epoch() {
    let x = digits::<f64>(0, 100); // 4 updates per epoch
    let config = TrainingConfig::default()
        .with_epochs(usize::MAX)
        .with_max_updates(10);
    let mut optimizer = RecordingSgd {
        rate: 0.1,
        ..Default::default()
    };
    let history = model()
        .fit(&x, &config, &mut optimizer, &mut common::rng(1))
        .unwrap();
    assert_eq!(optimizer.rates.len(), 10);
    assert_eq!(history.epochs.len(), 3, "4 + 4 + 2 updates");
    assert_eq!(history.stop_reason, StopReason::UpdateBudget);
    // A budget that ends with an epoch starts no other epoch.
    let mut optimizer = RecordingSgd {
        rate: 0.1,
        ..Default::default()
    };
    let history = model()
        .fit(
            &x,
            &config.with_max_updates(8),
            &mut optimizer,
            &mut common::rng(1),
        )
        .unwrap();
    assert_eq!((optimizer.rates.len(), history.epochs.len()), (8, 2));
    assert_eq!(history.stop_reason, StopReason::UpdateBudget);
    // Epochs bound the run too.
    let history = model()
        .fit(
            &x,
            &config.with_epochs(1),
            &mut Sgd::new(0.1).unwrap(),
            &mut common::rng(1),
        )
        .unwrap();
    assert_eq!(history.stop_reason, StopReason::Completed);
    assert!(
        TrainingConfig::default()
            .with_max_updates(0)
            .validate()
            .is_err()
    );
}

#[test]
fn the_partial_epochs_report_averages_over_the_samples_it_saw() {
    // One epoch of 64 samples, stopped after its first batch of 32: the report is that
    // batch's loss, not half of it.
    let x = digits::<f64>(0, 64);
    let m = model();
    let first_batch = {
        let mut rng = common::rng(9);
        let mut order: Vec<usize> = (0..64).collect();
        rand::seq::SliceRandom::shuffle(&mut order[..], &mut rng);
        DMatrix::from_fn(32, 784, |i, j| x[(order[i], j)])
    };
    let expected = m.objective(&first_batch).unwrap().reconstruction;
    let history = m
        .clone()
        .fit(
            &x,
            &TrainingConfig::default().with_max_updates(1),
            &mut Sgd::new(0.1).unwrap(),
            &mut common::rng(9),
        )
        .unwrap();
    let reported = history.epochs[0].reconstruction_loss;
    assert!(
        (reported - expected).abs() <= 1e-12 * expected,
        "{reported} vs {expected}"
    );
}

#[test]
fn early_stopping_keeps_the_best_epochs_parameters() {
    // A learning rate large enough to overshoot: the validation loss goes down, then up.
    let x = digits::<f64>(0, 200);
    let validation = digits::<f64>(200, 100);
    let mut m = model().with_corruption(Masking::new(0.3).unwrap());
    let config = TrainingConfig::default()
        .with_epochs(40)
        .with_early_stopping(2);
    let history = m
        .fit_with(
            &x,
            Some(&validation),
            &config,
            &mut Adam::new(0.05).unwrap(),
            &mut common::rng(4),
            &mut (),
        )
        .unwrap();
    let losses: Vec<f64> = history
        .epochs
        .iter()
        .map(|r| r.validation_loss.unwrap())
        .collect();
    let best = history.best_epoch.unwrap();
    let lowest = losses.iter().cloned().fold(f64::INFINITY, f64::min);
    assert_eq!(losses[best], lowest, "{losses:?}");
    // The model holds the best epoch's parameters: its validation loss is that epoch's, bit
    // for bit.
    assert_eq!(
        m.objective(&validation).unwrap().reconstruction,
        losses[best]
    );
    // Fewer than 40 epochs can only mean early stopping, two epochs after the best one.
    assert!(history.epochs.len() < 40, "the loss never rose: {losses:?}");
    assert_eq!(history.stop_reason, StopReason::EarlyStopping);
    assert_eq!(history.epochs.len(), best + 3, "patience 2: {losses:?}");
}

#[test]
fn early_stopping_needs_validation_data_and_is_not_checkpointed() {
    let x = digits::<f64>(0, 40);
    let config = TrainingConfig::default().with_early_stopping(3);
    let err = model()
        .fit(
            &x,
            &config,
            &mut Sgd::new(0.1).unwrap(),
            &mut common::rng(1),
        )
        .unwrap_err();
    assert!(matches!(err, Error::NoValidationData), "{err}");
    let mut run = TrainingRun::new(config, Sgd::new(0.1).unwrap(), ChaCha8Rng::seed_from_u64(1));
    let err = model()
        .fit_resumable(&x, Some(&x), &mut run, &mut ())
        .unwrap_err();
    assert!(matches!(err, Error::NotResumable { .. }), "{err}");
    assert!(
        TrainingConfig::default()
            .with_early_stopping(0)
            .validate()
            .is_err()
    );
}

#[test]
fn a_scheduled_budgeted_run_resumes_bit_for_bit() {
    let dir = std::env::temp_dir().join(format!("autoencoders-schedule-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.safetensors");
    let x = digits::<f32>(0, 100);
    let config = TrainingConfig::default()
        .with_epochs(usize::MAX)
        .with_max_updates(14)
        .with_schedule(LearningRateSchedule::cosine(0.01, 0.0, 14).unwrap());
    let fresh = || {
        DenseBuilder::new(784, 8)
            .build::<f32, _>(&mut common::rng(3))
            .unwrap()
            .with_corruption(Masking::new(0.2).unwrap())
    };
    let mut whole = fresh();
    let mut run = TrainingRun::new(
        config,
        Adam::new(1.0).unwrap(),
        ChaCha8Rng::seed_from_u64(2),
    );
    whole.fit_resumable(&x, None, &mut run, &mut ()).unwrap();
    assert_eq!(run.history().stop_reason, StopReason::UpdateBudget);

    let mut first = fresh();
    let mut half = TrainingRun::new(
        config,
        Adam::new(1.0).unwrap(),
        ChaCha8Rng::seed_from_u64(2),
    )
    .with_epochs(2)
    .with_checkpoints(Checkpointing::new(&path));
    first.fit_resumable(&x, None, &mut half, &mut ()).unwrap();
    let checkpoint = Checkpoint::<f32>::load(&path).unwrap();
    assert_eq!(checkpoint.config(), config.with_epochs(2));
    let mut resumed = fresh();
    let mut rest = checkpoint
        .resume(&mut resumed, Adam::new(1.0).unwrap())
        .unwrap()
        .with_epochs(usize::MAX);
    resumed.fit_resumable(&x, None, &mut rest, &mut ()).unwrap();
    assert_eq!(resumed.parameters(), whole.parameters());
    assert_eq!(rest.history(), run.history());
    let state = |o: &Adam<f32>| -> OptimizerState<f32> { o.state() };
    assert_eq!(state(rest.optimizer()), state(run.optimizer()));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_classifier_shares_the_loop_budget_schedule_and_early_stopping() {
    let digits = bundled_digits::<f64>().unwrap();
    let (x, y) = (
        digits.train_images.rows(0, 300).into_owned(),
        &digits.train_labels[..300],
    );
    let (vx, vy) = (
        digits.train_images.rows(300, 200).into_owned(),
        &digits.train_labels[300..500],
    );
    let mut rng = common::rng(8);
    let encoder = StackedEncoder::<f64>::random(
        &[784, 16],
        Activation::Sigmoid,
        Init::GlorotUniform,
        &mut rng,
    )
    .unwrap();
    let mut classifier = Classifier::new(encoder, 10, Init::GlorotUniform, &mut rng).unwrap();
    let config = TrainingConfig::default()
        .with_epochs(usize::MAX)
        .with_max_updates(100)
        .with_schedule(LearningRateSchedule::exponential(0.5, 0.99).unwrap())
        .with_early_stopping(3);
    let mut optimizer = RecordingSgd::default();
    let history = classifier
        .fit_with(
            &x,
            y,
            Some((&vx, vy)),
            &config,
            &mut optimizer,
            &mut rng,
            &mut (),
        )
        .unwrap();
    let schedule = config.schedule().unwrap();
    let expected: Vec<f64> = (0..optimizer.rates.len() as u64)
        .map(|t| schedule.rate(t))
        .collect();
    assert_eq!(optimizer.rates, expected);
    assert!(optimizer.rates.len() <= 100);
    let best = history.best_epoch.unwrap();
    let lowest = history
        .epochs
        .iter()
        .map(|r| r.validation_loss.unwrap())
        .fold(f64::INFINITY, f64::min);
    assert_eq!(history.epochs[best].validation_loss.unwrap(), lowest);
    assert!(matches!(
        history.stop_reason,
        StopReason::UpdateBudget | StopReason::EarlyStopping
    ));
    assert_eq!(
        optimizer.rates.len() == 100,
        history.stop_reason == StopReason::UpdateBudget
    );
}
