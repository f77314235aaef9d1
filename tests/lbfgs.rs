//! Full-batch L-BFGS on the crate's models: it reaches a stationary point of the objective,
//! leaves the model there, lands below 50 full-batch epochs of SGD and of Adam from the same
//! start, and repeats bit for bit.

mod common;

use autoencoders::optimizer::{Lbfgs, LbfgsIteration, LbfgsStop};
use autoencoders::{Adam, DenseBuilder, KlSparsity, Optimizer, Sgd, TrainingConfig, WeightDecay};
use common::{rng, uniform};
use std::ops::ControlFlow;

fn model() -> autoencoders::Autoencoder<
    autoencoders::DenseEncoder<f64>,
    autoencoders::DenseDecoder<f64>,
    (KlSparsity, WeightDecay),
> {
    DenseBuilder::new(8, 4)
        .build::<f64, _>(&mut rng(1))
        .unwrap()
        .with_regularizer((
            KlSparsity::new(0.1, 3.0).unwrap(),
            WeightDecay::new(3e-3).unwrap(),
        ))
}

#[test]
fn lbfgs_reaches_a_stationary_point_below_sgd_and_adam() {
    let x = uniform(40, 8, 0.0, 1.0, &mut rng(2));
    let mut m = model();
    let start = m.objective(&x).unwrap().total();
    let lbfgs = Lbfgs::new()
        .with_gradient_tolerance(1e-8)
        .unwrap()
        .with_function_tolerance(0.0)
        .unwrap();
    let mut objectives = Vec::new();
    let outcome = m
        .fit_lbfgs(&x, &lbfgs, &mut |r: &LbfgsIteration| {
            objectives.push(r.objective);
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(outcome.stop, LbfgsStop::GradientTolerance, "{outcome:?}");
    assert_eq!(objectives.len(), outcome.iterations);
    // The model holds the final point: its objective and gradient are the outcome's.
    let (objective, gradient) = m.gradient(&x, &x).unwrap();
    assert_eq!(objective.total(), outcome.objective);
    let largest = gradient
        .iter()
        .flatten()
        .fold(0.0f64, |a, g| a.max(g.abs()));
    assert_eq!(largest, outcome.gradient_norm);
    assert!(largest <= 1e-8 && outcome.objective < start);

    // 50 full-batch epochs of SGD and of Adam from the same start end higher.
    let config = TrainingConfig::default()
        .with_epochs(50)
        .with_batch_size(40)
        .with_shuffle(false);
    let optimizers: Vec<(&str, Box<dyn Optimizer<f64>>)> = vec![
        ("SGD", Box::new(Sgd::new(0.5).unwrap())),
        ("Adam", Box::new(Adam::new(0.01).unwrap())),
    ];
    for (name, mut optimizer) in optimizers {
        let mut other = model();
        other.fit(&x, &config, &mut optimizer, &mut rng(3)).unwrap();
        let reached = other.objective(&x).unwrap().total();
        assert!(
            outcome.objective < reached,
            "{name}: {reached} against L-BFGS {}",
            outcome.objective
        );
    }

    // Again from the same start: the same bits.
    let mut again = model();
    let repeated = again.fit_lbfgs(&x, &lbfgs, &mut ()).unwrap();
    assert_eq!(repeated, outcome);
    assert_eq!(again.parameters(), m.parameters());
}

#[test]
fn lbfgs_refuses_bad_data_before_any_work() {
    let mut m = model();
    let wrong = uniform(5, 7, 0.0, 1.0, &mut rng(4));
    assert!(matches!(
        m.fit_lbfgs(&wrong, &Lbfgs::new(), &mut ()),
        Err(autoencoders::Error::DimensionMismatch { .. })
    ));
}
