//! The robust deep autoencoder: its shrinkage steps are the exact proximal steps, its inner
//! objective's gradient passes the oracle, its runs repeat and resume bit for bit, it finds the
//! outliers it is meant to, and bad settings and files get typed errors.

mod common;

use autoencoders::robust::{
    RobustAutoencoder, RobustFit, RobustReport, RobustStop, Shrinkage, penalty, shrink,
};
use autoencoders::{
    Activation, Adam, Autoencoder, Checkpoint, Checkpointing, Contractive, Correntropy, Corruption,
    Decoder, DenseBuilder, Encoder, Error, Loss, ReconstructionLoss, Regularizer, RobustCheckpoint,
    TrainingConfig, WeightDecay,
};
use common::{check_autoencoder, rng, uniform};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use std::ops::ControlFlow;

const SHRINKAGES: [Shrinkage; 3] = [Shrinkage::Entries, Shrinkage::Samples, Shrinkage::Features];

/// `½‖S − R‖² + λΩ(S)`.
fn prox_objective(shrinkage: Shrinkage, lambda: f64, s: &DMatrix<f64>, r: &DMatrix<f64>) -> f64 {
    0.5 * (s - r).norm_squared() + lambda * penalty(shrinkage, s)
}

#[test]
fn shrinkage_is_the_exact_proximal_step() {
    let mut g = rng(1);
    let r = uniform(12, 7, -1.0, 1.0, &mut g);
    for shrinkage in SHRINKAGES {
        for lambda in [0.0, 0.05, 0.3, 1.2, 5.0] {
            let s = shrink(shrinkage, lambda, &r).unwrap();
            // The optimality conditions, group by group: a group that is not zero satisfies
            // s − r + λ s/‖s‖ = 0; a zero group has ‖r‖ ≤ λ.
            let groups: Vec<(Vec<f64>, Vec<f64>)> = match shrinkage {
                Shrinkage::Entries => r
                    .iter()
                    .zip(s.iter())
                    .map(|(&r, &s)| (vec![r], vec![s]))
                    .collect(),
                Shrinkage::Samples => (0..r.nrows())
                    .map(|i| {
                        (
                            r.row(i).iter().copied().collect(),
                            s.row(i).iter().copied().collect(),
                        )
                    })
                    .collect(),
                _ => (0..r.ncols())
                    .map(|j| {
                        (
                            r.column(j).iter().copied().collect(),
                            s.column(j).iter().copied().collect(),
                        )
                    })
                    .collect(),
            };
            for (rg, sg) in &groups {
                let norm = sg.iter().map(|v| v * v).sum::<f64>().sqrt();
                if norm == 0.0 {
                    let rn = rg.iter().map(|v| v * v).sum::<f64>().sqrt();
                    assert!(
                        rn <= lambda * (1.0 + 1e-12),
                        "{shrinkage:?} λ={lambda}: zero group with ‖r‖ = {rn}"
                    );
                } else {
                    for (&r, &s) in rg.iter().zip(sg) {
                        let condition = s - r + lambda * s / norm;
                        assert!(
                            condition.abs() < 1e-12,
                            "{shrinkage:?} λ={lambda}: {condition}"
                        );
                    }
                }
            }
            // And no nearby point does better.
            let best = prox_objective(shrinkage, lambda, &s, &r);
            let mut g = rng(7);
            for _ in 0..200 {
                let nudged = &s + uniform(12, 7, -1e-3, 1e-3, &mut g);
                assert!(prox_objective(shrinkage, lambda, &nudged, &r) >= best - 1e-15);
            }
        }
    }
}

#[test]
fn shrinkage_refuses_bad_lambda_and_non_finite_residuals() {
    let r = DMatrix::from_element(2, 2, 0.5);
    for lambda in [-1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            shrink(Shrinkage::Entries, lambda, &r),
            Err(Error::InvalidHyperParameter { name: "lambda", .. })
        ));
    }
    let mut bad = r.clone();
    bad[(1, 0)] = f64::NAN;
    assert!(matches!(
        shrink(Shrinkage::Samples, 0.1, &bad),
        Err(Error::NonFiniteData {
            row: 1,
            column: 0,
            ..
        })
    ));
}

fn data(seed: u64) -> DMatrix<f64> {
    uniform(30, 6, 0.05, 0.95, &mut rng(seed))
}

fn quick(lambda: f64, shrinkage: Shrinkage) -> RobustAutoencoder {
    RobustAutoencoder::new(lambda)
        .unwrap()
        .with_shrinkage(shrinkage)
        .with_iterations(3)
        .with_inner(TrainingConfig::default().with_epochs(2).with_batch_size(8))
}

/// Trains `model` by the robust strategy, then checks its gradient at the split's target `L`.
fn check_at_the_split<E, D, R, C, L>(
    mut model: Autoencoder<E, D, R, C, L>,
    shrinkage: Shrinkage,
    x: &DMatrix<f64>,
    g: &mut ChaCha8Rng,
) -> (common::Agreement, RobustFit<f64>)
where
    E: Encoder<Scalar = f64>,
    D: Decoder<f64>,
    R: Regularizer<f64>,
    C: Corruption<f64>,
    L: Loss<f64>,
{
    let fit = quick(0.1, shrinkage)
        .fit(&mut model, x, &mut Adam::new(1e-2).unwrap(), g, &mut ())
        .unwrap();
    (check_autoencoder(&mut model, &fit.clean, &fit.clean), fit)
}

#[test]
fn the_inner_objective_passes_the_gradient_oracle() {
    let x = data(2);
    for shrinkage in SHRINKAGES {
        for case in 0..4 {
            let mut g = rng(3);
            let model = DenseBuilder::new(6, 3)
                .with_encoder_activation(Activation::Tanh)
                .build::<f64, _>(&mut g)
                .unwrap();
            let (agreement, fit) = match case {
                0 => check_at_the_split(model, shrinkage, &x, &mut g),
                1 => check_at_the_split(
                    model.with_loss(ReconstructionLoss::CrossEntropy),
                    shrinkage,
                    &x,
                    &mut g,
                ),
                2 => check_at_the_split(
                    model
                        .with_loss(Correntropy::new(0.3).unwrap())
                        .with_regularizer(WeightDecay::new(1e-2).unwrap()),
                    shrinkage,
                    &x,
                    &mut g,
                ),
                _ => check_at_the_split(
                    model.with_regularizer(Contractive::new(0.1).unwrap()),
                    shrinkage,
                    &x,
                    &mut g,
                ),
            };
            assert!(
                fit.outliers.iter().any(|&v| v != 0.0),
                "{shrinkage:?} case {case}: S stayed 0"
            );
            assert!(
                agreement.holds(),
                "{shrinkage:?} case {case}: {agreement:?}"
            );
        }
    }
}

#[test]
fn the_split_adds_up_and_the_target_stays_between_the_data_and_the_reconstruction() {
    let x = data(4);
    let mut g = rng(5);
    let mut model = DenseBuilder::new(6, 2)
        .build::<f32, _>(&mut g)
        .unwrap()
        .with_loss(ReconstructionLoss::CrossEntropy);
    let x32 = x.map(|v| v as f32);
    let fit = quick(0.05, Shrinkage::Entries)
        .fit(
            &mut model,
            &x32,
            &mut Adam::new(1e-2).unwrap(),
            &mut g,
            &mut (),
        )
        .unwrap();
    assert!(fit.clean.iter().all(|&v| (0.0..=1.0).contains(&v)));
    let gap = (&fit.clean + &fit.outliers - &x32).abs().max();
    assert!(gap <= 1e-6, "X − L − S = {gap}");
    assert_eq!(fit.reports.len(), 3);
    for (i, r) in fit.reports.iter().enumerate() {
        assert_eq!(r.iteration, i);
        assert!(r.residual.is_finite() && r.change.is_finite() && r.penalty >= 0.0);
    }
    // The last report counts the entries of the `S` the run ended with.
    let nonzero = fit.outliers.iter().filter(|&&v| v != 0.0).count();
    assert_eq!(fit.reports[2].outliers, nonzero);
}

#[test]
fn seeded_runs_repeat_bit_for_bit_and_fit_resumable_is_fit() {
    let x = data(6);
    let robust = quick(0.2, Shrinkage::Samples);
    let run = |resumable: bool| {
        let mut g = rng(8);
        let mut model = DenseBuilder::new(6, 3).build::<f64, _>(&mut g).unwrap();
        let mut adam = Adam::new(1e-2).unwrap();
        let fit = if resumable {
            let mut chacha = g;
            robust
                .fit_resumable(&mut model, &x, &mut adam, &mut chacha, None, None, &mut ())
                .unwrap()
        } else {
            robust
                .fit(&mut model, &x, &mut adam, &mut g, &mut ())
                .unwrap()
        };
        (model, adam, fit)
    };
    let (a, adam_a, fit_a) = run(false);
    let (b, adam_b, fit_b) = run(false);
    let (c, adam_c, fit_c) = run(true);
    assert_eq!(a.parameters(), b.parameters());
    assert_eq!(a.parameters(), c.parameters());
    assert_eq!(adam_a, adam_b);
    assert_eq!(adam_a, adam_c);
    assert_eq!(fit_a, fit_b);
    assert_eq!(fit_a, fit_c);
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "autoencoders-test-robust-{}-{name}.safetensors",
        std::process::id()
    ))
}

#[test]
fn a_run_resumed_after_any_iteration_ends_as_an_uninterrupted_one() {
    let x = data(9).map(|v| v as f32);
    for shrinkage in SHRINKAGES {
        let robust = quick(0.1, shrinkage).with_iterations(4);
        let build = || {
            DenseBuilder::new(6, 3)
                .with_encoder_activation(Activation::Relu)
                .build::<f32, _>(&mut rng(10))
                .unwrap()
                .with_regularizer(WeightDecay::new(1e-3).unwrap())
        };
        let mut whole = build();
        let mut adam_whole = Adam::new(1e-2).unwrap();
        let mut g = ChaCha8Rng::seed_from_u64(11);
        let all = robust
            .fit(&mut whole, &x, &mut adam_whole, &mut g, &mut ())
            .unwrap();
        for stop_after in 1..4 {
            let path = temp(&format!("{}-{stop_after}", shrinkage.name()));
            let mut first = build();
            robust
                .with_iterations(stop_after)
                .fit_resumable(
                    &mut first,
                    &x,
                    &mut Adam::new(1e-2).unwrap(),
                    &mut ChaCha8Rng::seed_from_u64(11),
                    Some(&Checkpointing::new(&path)),
                    None,
                    &mut (),
                )
                .unwrap();
            let checkpoint = RobustCheckpoint::<f32>::load(&path).unwrap();
            assert_eq!(checkpoint.iterations_done(), stop_after);
            assert_eq!(checkpoint.stop(), Some(RobustStop::Iterations));
            assert_eq!(checkpoint.reports(), &all.reports[..stop_after]);
            let mut resumed = build();
            let mut adam = Adam::new(1e-2).unwrap();
            let mut other = ChaCha8Rng::seed_from_u64(999);
            let rest = robust
                .fit_resumable(
                    &mut resumed,
                    &x,
                    &mut adam,
                    &mut other,
                    None,
                    Some(checkpoint),
                    &mut (),
                )
                .unwrap();
            assert_eq!(
                resumed.parameters(),
                whole.parameters(),
                "{shrinkage:?} after {stop_after}"
            );
            assert_eq!(rest, all);
            assert_eq!(adam, adam_whole);
            assert_eq!(other, g);
            std::fs::remove_file(path).ok();
        }
    }
}

#[test]
fn checkpoints_follow_the_interval_and_the_observer_can_stop_the_run() {
    let x = data(12);
    let path = temp("interval");
    let robust = quick(0.2, Shrinkage::Samples).with_iterations(5);
    let mut seen = Vec::new();
    let mut observer = |r: &RobustReport| {
        seen.push(r.iteration);
        let written = RobustCheckpoint::<f64>::load(&path)
            .ok()
            .map(|c| c.iterations_done());
        if r.iteration == 3 {
            // Written after iterations 2 (the interval) and not yet after 3.
            assert_eq!(written, Some(2));
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let mut model = DenseBuilder::new(6, 3)
        .build::<f64, _>(&mut rng(13))
        .unwrap();
    let fit = robust
        .fit_resumable(
            &mut model,
            &x,
            &mut Adam::new(1e-2).unwrap(),
            &mut rng(14),
            Some(&Checkpointing::new(&path).with_interval(2)),
            None,
            &mut observer,
        )
        .unwrap();
    assert_eq!(seen, [0, 1, 2, 3]);
    assert_eq!(fit.stop, RobustStop::Observer);
    assert_eq!(fit.reports.len(), 4);
    // The stop wrote a checkpoint too, which resumes to the remaining iteration.
    let checkpoint = RobustCheckpoint::<f64>::load(&path).unwrap();
    assert_eq!(
        (checkpoint.iterations_done(), checkpoint.stop()),
        (4, Some(RobustStop::Observer))
    );
    let rest = robust
        .fit_resumable(
            &mut model,
            &x,
            &mut Adam::new(1e-2).unwrap(),
            &mut rng(0),
            None,
            Some(checkpoint),
            &mut (),
        )
        .unwrap();
    assert_eq!((rest.reports.len(), rest.stop), (5, RobustStop::Iterations));
    std::fs::remove_file(path).ok();
}

#[test]
fn a_tolerance_the_first_iteration_meets_stops_the_run_there() {
    let x = data(15);
    let mut model = DenseBuilder::new(6, 3)
        .build::<f64, _>(&mut rng(16))
        .unwrap();
    let fit = quick(0.2, Shrinkage::Entries)
        .with_tolerance(10.0)
        .fit(
            &mut model,
            &x,
            &mut Adam::new(1e-2).unwrap(),
            &mut rng(17),
            &mut (),
        )
        .unwrap();
    assert_eq!((fit.reports.len(), fit.stop), (1, RobustStop::Converged));
}

/// Points on a curve in 8 dimensions, with a tenth of them replaced by uniform noise: the
/// `ℓ2,1` split over samples takes out the noise samples, which the plain model has to learn.
#[test]
fn the_sample_split_finds_the_outlying_samples() {
    let mut g = rng(18);
    let n = 200;
    let mut x = DMatrix::from_fn(n, 8, |i, j| {
        let t = i as f64 / n as f64;
        0.5 + 0.4 * (std::f64::consts::PI * (t * (1.0 + j as f64 / 4.0) + j as f64 / 8.0)).sin()
    });
    let outliers: Vec<usize> = (0..n).filter(|i| i % 10 == 3).collect();
    let noise = uniform(outliers.len(), 8, 0.0, 1.0, &mut g);
    for (k, &i) in outliers.iter().enumerate() {
        x.row_mut(i).copy_from(&noise.row(k));
    }
    let mut model = DenseBuilder::new(8, 2)
        .with_encoder_activation(Activation::Tanh)
        .build::<f64, _>(&mut g)
        .unwrap();
    let fit = RobustAutoencoder::new(0.3)
        .unwrap()
        .with_iterations(8)
        .with_inner(
            TrainingConfig::default()
                .with_epochs(25)
                .with_batch_size(20),
        )
        .fit(
            &mut model,
            &x,
            &mut Adam::new(1e-2).unwrap(),
            &mut g,
            &mut (),
        )
        .unwrap();
    let scores = fit.outlier_scores();
    let positives: Vec<bool> = (0..n).map(|i| i % 10 == 3).collect();
    let auroc = autoencoders::anomaly::auroc(&scores, &positives).unwrap();
    assert!(auroc >= 0.9, "AUROC of the outlier scores {auroc}");
}

#[test]
fn bad_settings_and_data_get_typed_errors_before_any_work() {
    for lambda in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            RobustAutoencoder::new(lambda),
            Err(Error::InvalidHyperParameter { name: "lambda", .. })
        ));
    }
    let x = data(19);
    let fresh = || {
        DenseBuilder::new(6, 3)
            .build::<f64, _>(&mut rng(20))
            .unwrap()
    };
    let attempt = |robust: RobustAutoencoder, x: &DMatrix<f64>| {
        let mut model = fresh();
        let result = robust.fit(
            &mut model,
            x,
            &mut Adam::new(1e-2).unwrap(),
            &mut rng(21),
            &mut (),
        );
        assert_eq!(
            model.parameters(),
            fresh().parameters(),
            "the model changed"
        );
        result.map(|_| ())
    };
    let robust = quick(0.1, Shrinkage::Entries);
    assert!(matches!(
        attempt(robust.with_iterations(0), &x),
        Err(Error::ZeroDimension { .. })
    ));
    for tolerance in [-1.0, f64::NAN] {
        assert!(matches!(
            attempt(robust.with_tolerance(tolerance), &x),
            Err(Error::InvalidHyperParameter {
                name: "tolerance",
                ..
            })
        ));
    }
    assert!(matches!(
        attempt(
            robust.with_inner(TrainingConfig::default().with_early_stopping(2)),
            &x
        ),
        Err(Error::NoValidationData)
    ));
    assert!(matches!(
        attempt(
            robust.with_inner(TrainingConfig::default().with_epochs(0)),
            &x
        ),
        Err(Error::ZeroDimension { .. })
    ));
    let mut nan = x.clone();
    nan[(3, 2)] = f64::NAN;
    assert!(matches!(
        attempt(robust, &nan),
        Err(Error::NonFiniteData {
            row: 3,
            column: 2,
            ..
        })
    ));
    assert!(matches!(
        attempt(robust, &x.columns(0, 5).into_owned()),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        attempt(robust, &DMatrix::zeros(0, 6)),
        Err(Error::EmptyData { .. })
    ));
    let mut model = fresh();
    assert!(matches!(
        robust.fit_resumable(
            &mut model,
            &x,
            &mut Adam::new(1e-2).unwrap(),
            &mut rng(0),
            Some(&Checkpointing::new(temp("never")).with_interval(0)),
            None,
            &mut ()
        ),
        Err(Error::ZeroDimension { .. })
    ));
}

#[test]
fn a_checkpoint_resumes_only_the_run_it_belongs_to() {
    let x = data(22);
    let path = temp("mismatch");
    let robust = quick(0.1, Shrinkage::Samples);
    let build = || {
        DenseBuilder::new(6, 3)
            .build::<f64, _>(&mut rng(23))
            .unwrap()
    };
    robust
        .with_iterations(1)
        .fit_resumable(
            &mut build(),
            &x,
            &mut Adam::new(1e-2).unwrap(),
            &mut rng(24),
            Some(&Checkpointing::new(&path)),
            None,
            &mut (),
        )
        .unwrap();
    let resume = |robust: RobustAutoencoder,
                  x: &DMatrix<f64>,
                  model: &mut autoencoders::DenseAutoencoder<f64>,
                  adam: Adam<f64>| {
        let checkpoint = RobustCheckpoint::<f64>::load(&path).unwrap();
        let mut adam = adam;
        robust
            .fit_resumable(
                model,
                x,
                &mut adam,
                &mut rng(0),
                None,
                Some(checkpoint),
                &mut (),
            )
            .map(|_| ())
    };
    let mismatch = |r: autoencoders::Result<()>| matches!(r, Err(Error::CheckpointMismatch { .. }));
    let adam = || Adam::new(1e-2).unwrap();
    assert!(mismatch(resume(
        quick(0.2, Shrinkage::Samples),
        &x,
        &mut build(),
        adam()
    )));
    assert!(mismatch(resume(
        quick(0.1, Shrinkage::Entries),
        &x,
        &mut build(),
        adam()
    )));
    assert!(mismatch(resume(
        robust.with_inner(TrainingConfig::default().with_epochs(3)),
        &x,
        &mut build(),
        adam()
    )));
    let mut other = x.clone();
    other[(0, 0)] += 0.01;
    assert!(mismatch(resume(robust, &other, &mut build(), adam())));
    assert!(mismatch(resume(robust, &data(25), &mut build(), adam())));
    let mut wider = DenseBuilder::new(6, 4)
        .build::<f64, _>(&mut rng(23))
        .unwrap();
    assert!(mismatch(resume(robust, &x, &mut wider, adam())));
    assert!(mismatch(resume(
        robust,
        &x,
        &mut build(),
        Adam::new(1e-3).unwrap()
    )));
    assert!(resume(robust, &x, &mut build(), adam()).is_ok());

    // Another dtype, a training checkpoint, and any flipped byte are refused with typed errors.
    assert!(matches!(
        RobustCheckpoint::<f32>::load(&path),
        Err(Error::ModelFile { .. })
    ));
    let bytes = std::fs::read(&path).unwrap();
    assert!(Checkpoint::<f64>::from_safetensors(&bytes, "robust").is_err());
    for at in (0..bytes.len()).step_by(bytes.len() / 97 + 1) {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x10;
        assert!(
            matches!(
                RobustCheckpoint::<f64>::from_safetensors(&damaged, "damaged"),
                Err(Error::ModelFile { .. })
            ),
            "byte {at}"
        );
    }
    let plain = temp("plain");
    let mut model = build();
    let mut run =
        autoencoders::TrainingRun::new(TrainingConfig::default().with_epochs(1), adam(), rng(0))
            .with_checkpoints(Checkpointing::new(&plain));
    model.fit_resumable(&x, None, &mut run, &mut ()).unwrap();
    assert!(matches!(
        RobustCheckpoint::<f64>::load(&plain),
        Err(Error::ModelFile {
            problem: autoencoders::persistence::ModelFileProblem::NotACheckpoint,
            ..
        })
    ));
    std::fs::remove_file(path).ok();
    std::fs::remove_file(plain).ok();
}
