//! Dropout in the classifier's training: refused settings, seeded runs, a frozen encoder, and
//! checkpoints. Its gradient is checked against finite differences in `tests/stacks.rs`.

mod common;

use autoencoders::optimizer::Lbfgs;
use autoencoders::{
    Activation, Checkpointing, Classifier, ClassifierCheckpoint, Encoder, Error, Init, Sgd,
    StackedEncoder, SupervisedReport, TrainingConfig, TrainingRun,
};
use common::{rng, uniform};
use nalgebra::DMatrix;
use std::ops::ControlFlow;

type Net = Classifier<StackedEncoder<f64>>;

fn data() -> (DMatrix<f64>, Vec<usize>) {
    let x = uniform(60, 8, 0.0, 1.0, &mut rng(1));
    let labels = (0..60).map(|i| (i * 7) % 3).collect();
    (x, labels)
}

fn net() -> Net {
    let mut r = rng(2);
    let stack =
        StackedEncoder::random(&[8, 6, 5], Activation::Relu, Init::GlorotUniform, &mut r).unwrap();
    Classifier::new(stack, 3, Init::GlorotUniform, &mut r).unwrap()
}

fn config() -> TrainingConfig {
    TrainingConfig::default().with_epochs(4).with_batch_size(16)
}

fn bits(model: &Net) -> Vec<u64> {
    model
        .parameters()
        .iter()
        .flat_map(|p| p.iter().map(|v| v.to_bits()))
        .collect()
}

fn trained(model: Net, seed: u64) -> Net {
    let (x, labels) = data();
    let mut model = model;
    model
        .fit(
            &x,
            &labels,
            &config(),
            &mut Sgd::new(0.1).unwrap(),
            &mut rng(seed),
        )
        .unwrap();
    model
}

#[test]
fn probabilities_outside_zero_to_one_and_dropout_under_lbfgs_are_refused() {
    for p in [1.0, -0.1, 1.5, f64::NAN, f64::INFINITY] {
        for (input, hidden) in [(p, 0.0), (0.0, p)] {
            assert!(
                matches!(
                    net().with_dropout(input, hidden),
                    Err(Error::InvalidHyperParameter { .. })
                ),
                "dropout {input}/{hidden} accepted"
            );
        }
    }
    let (x, labels) = data();
    let mut model = net().with_dropout(0.2, 0.0).unwrap();
    let before = bits(&model);
    let refused = model.fit_lbfgs(&x, &labels, &Lbfgs::new(), &mut ());
    assert!(matches!(refused, Err(Error::InvalidHyperParameter { .. })));
    assert_eq!(bits(&model), before, "a refused run changes nothing");
    // Zero is no dropout at all: the run's bits are those of a model without it.
    let zero = trained(net().with_dropout(0.0, 0.0).unwrap(), 3);
    assert_eq!(bits(&zero), bits(&trained(net(), 3)));
}

#[test]
fn seeded_runs_with_dropout_repeat_bit_for_bit_and_differ_from_runs_without() {
    let plain = trained(net(), 3);
    for (input, hidden) in [(0.2, 0.0), (0.0, 0.5), (0.2, 0.5)] {
        let model = || net().with_dropout(input, hidden).unwrap();
        let first = trained(model(), 3);
        assert_eq!(bits(&first), bits(&trained(model(), 3)), "{input}/{hidden}");
        assert_ne!(
            bits(&first),
            bits(&plain),
            "{input}/{hidden} dropped nothing"
        );
        assert_ne!(bits(&first), bits(&trained(model(), 4)), "{input}/{hidden}");
        // Validation does not drop out: the last epoch's validation loss is the trained
        // model's loss, without dropout, on the validation digits.
        let (x, labels) = data();
        let (vx, vy) = (x.rows(0, 20).into_owned(), &labels[..20]);
        let mut watched = model();
        let history = watched
            .fit_with(
                &x,
                &labels,
                Some((&vx, vy)),
                &config(),
                &mut Sgd::new(0.1).unwrap(),
                &mut rng(3),
                &mut (),
            )
            .unwrap();
        let reported = history.last().unwrap().validation_loss.unwrap();
        let loss = watched.loss(&vx, vy).unwrap();
        assert!(
            (reported - loss).abs() <= 1e-12 * loss.abs(),
            "{input}/{hidden}: validation {reported} against {loss}"
        );
        assert_eq!(first.dropout(), (input, hidden));
    }
}

#[test]
fn a_frozen_encoder_with_input_dropout_trains_its_head_on_fresh_codes() {
    let frozen = || net().with_frozen_encoder(true);
    let start = frozen();
    let plain = trained(frozen(), 3);
    let dropped = trained(frozen().with_dropout(0.3, 0.0).unwrap(), 3);
    let encoder_tensors = start.encoder().parameters().len();
    let tensors = |m: &Net| -> Vec<Vec<u64>> {
        m.parameters()
            .iter()
            .map(|p| p.iter().map(|v| v.to_bits()).collect())
            .collect()
    };
    let (start, plain, dropped) = (tensors(&start), tensors(&plain), tensors(&dropped));
    assert_eq!(dropped[..encoder_tensors], start[..encoder_tensors]);
    assert_ne!(dropped[encoder_tensors..], start[encoder_tensors..]);
    assert_ne!(dropped[encoder_tensors..], plain[encoder_tensors..]);
}

#[test]
fn a_checkpoint_resumes_with_its_dropout_bit_for_bit_and_refuses_another() {
    let folder = std::env::temp_dir().join(format!("ae-dropout-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join("run.safetensors");
    let (x, labels) = data();
    let model = || net().with_dropout(0.2, 0.5).unwrap();
    let sgd = || Sgd::new(0.1).unwrap();
    let whole = trained(model(), 5);

    let mut interrupted = model();
    let mut run =
        TrainingRun::new(config(), sgd(), rng(5)).with_checkpoints(Checkpointing::new(&path));
    let mut stop = |report: &SupervisedReport| {
        if report.epoch == 1 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    interrupted
        .fit_resumable(&x, &labels, None, &mut run, &mut stop)
        .unwrap();
    assert_eq!(run.epochs_done(), 2);

    for (input, hidden) in [(0.0, 0.0), (0.2, 0.0), (0.3, 0.5)] {
        let mut other = net().with_dropout(input, hidden).unwrap();
        let checkpoint = ClassifierCheckpoint::<f64>::load(&path).unwrap();
        assert!(
            matches!(
                checkpoint.resume(&mut other, sgd()),
                Err(Error::CheckpointMismatch { .. })
            ),
            "a checkpoint of dropout 0.2/0.5 resumed with {input}/{hidden}"
        );
    }
    let mut resumed = model();
    let mut run = ClassifierCheckpoint::<f64>::load(&path)
        .unwrap()
        .resume(&mut resumed, sgd())
        .unwrap();
    resumed
        .fit_resumable(&x, &labels, None, &mut run, &mut ())
        .unwrap();
    assert_eq!(bits(&resumed), bits(&whole));
    let _ = std::fs::remove_dir_all(&folder);
}

#[test]
fn a_stack_drops_its_hidden_layers_only_while_asked() {
    use autoencoders::CodePass;
    let stack = StackedEncoder::<f64>::random(
        &[8, 6, 6, 5],
        Activation::Sigmoid,
        Init::GlorotUniform,
        &mut rng(2),
    )
    .unwrap();
    let x = uniform(10, 8, 0.0, 1.0, &mut rng(3));
    let mut trace = Default::default();
    let mut pass = CodePass::default();
    stack.forward(&x, &mut trace, &mut pass);
    let plain = pass.code.clone();
    stack
        .forward_with_dropout(&x, &mut trace, &mut pass, 0.5, &mut rng(4))
        .unwrap();
    assert_ne!(pass.code, plain, "the hidden layers dropped nothing");
    let dropped = pass.code.clone();
    stack
        .forward_with_dropout(&x, &mut trace, &mut pass, 0.5, &mut rng(4))
        .unwrap();
    assert_eq!(pass.code, dropped, "the same generator, the same masks");
    // Probability 0 drops nothing; a later plain pass on the same trace drops nothing either.
    stack
        .forward_with_dropout(&x, &mut trace, &mut pass, 0.0, &mut rng(4))
        .unwrap();
    assert_eq!(pass.code, plain);
    stack
        .forward_with_dropout(&x, &mut trace, &mut pass, 0.5, &mut rng(4))
        .unwrap();
    stack.forward(&x, &mut trace, &mut pass);
    assert_eq!(pass.code, plain);
    // A probability outside [0, 1) is a typed error, for a stack and for one layer, and
    // leaves the pass as it was.
    for p in [1.0, -0.5, f64::NAN] {
        assert!(matches!(
            stack.forward_with_dropout(&x, &mut trace, &mut pass, p, &mut rng(4)),
            Err(Error::InvalidHyperParameter { .. })
        ));
        assert!(matches!(
            stack.layers()[0].forward_with_dropout(
                &x,
                &mut (),
                &mut CodePass::default(),
                p,
                &mut rng(4)
            ),
            Err(Error::InvalidHyperParameter { .. })
        ));
        assert_eq!(pass.code, plain);
    }
    // One layer has no hidden layer to drop: its pass with dropout is its plain pass.
    let layer = &stack.layers()[0];
    let (mut one, mut one_pass) = ((), CodePass::default());
    layer
        .forward_with_dropout(&x, &mut one, &mut one_pass, 0.5, &mut rng(4))
        .unwrap();
    assert_eq!(one_pass.code, layer.encode(&x).unwrap());
}
