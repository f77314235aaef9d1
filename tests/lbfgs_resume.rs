//! Resumable full-batch L-BFGS: a run checkpointed after any iteration and resumed ends bit for
//! bit where an unbroken run ends, in `f32` and `f64`, for autoencoders and classifiers (with a
//! frozen encoder or fine-tuned); checkpoints are written as asked; a checkpoint that does not
//! fit the run, and a damaged or foreign file, are refused with typed errors.

mod common;

use autoencoders::optimizer::{Lbfgs, LbfgsIteration, LbfgsStop};
use autoencoders::persistence::ModelFileProblem;
use autoencoders::{
    Autoencoder, Checkpointing, DenseBuilder, DenseDecoder, DenseEncoder, DynamicAutoencoder,
    Error, KlSparsity, LbfgsCheckpoint, Scalar, WeightDecay,
};
use common::{rng, uniform};
use nalgebra::DMatrix;
use std::ops::ControlFlow;
use std::path::PathBuf;

type Model<T> = Autoencoder<DenseEncoder<T>, DenseDecoder<T>, (KlSparsity, WeightDecay)>;

fn model<T: Scalar>(decay: f64) -> Model<T> {
    DenseBuilder::new(8, 4)
        .build::<T, _>(&mut rng(1))
        .unwrap()
        .with_regularizer((
            KlSparsity::new(0.1, 3.0).unwrap(),
            WeightDecay::new(decay).unwrap(),
        ))
}

fn data<T: Scalar>() -> DMatrix<T> {
    uniform(40, 8, 0.0, 1.0, &mut rng(2)).map(T::cast)
}

fn lbfgs(iterations: usize) -> Lbfgs {
    Lbfgs::new()
        .with_max_iterations(iterations)
        .with_gradient_tolerance(1e-12)
        .unwrap()
        .with_function_tolerance(0.0)
        .unwrap()
}

fn temp(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("autoencoders-lbfgs-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A checkpoint of `iterations` iterations of the `f64` model on [`data`], in a fresh file.
fn checkpointed(name: &str, iterations: usize) -> PathBuf {
    let path = temp(&format!("{name}.safetensors"));
    model::<f64>(3e-3)
        .fit_lbfgs_resumable(
            &data::<f64>(),
            &lbfgs(iterations),
            Some(&Checkpointing::new(&path)),
            None,
            &mut (),
        )
        .unwrap();
    path
}

fn resumes_bit_for_bit<T: Scalar>() {
    let x = data::<T>();
    let total = 25;
    let mut whole = model::<T>(3e-3);
    let mut reports = Vec::new();
    let unbroken = whole
        .fit_lbfgs(&x, &lbfgs(total), &mut |r: &LbfgsIteration| {
            reports.push(*r);
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(unbroken.iterations, total, "{unbroken:?}");
    for stop_after in [1, 2, 7, 13] {
        let path = temp(&format!("{}-{stop_after}.safetensors", T::NAME));
        let checkpointing = Checkpointing::new(&path);
        // The first part ends on the iteration budget; its last checkpoint is the stop's.
        let mut first = model::<T>(3e-3);
        let part = first
            .fit_lbfgs_resumable(&x, &lbfgs(stop_after), Some(&checkpointing), None, &mut ())
            .unwrap();
        assert_eq!(part.stop, LbfgsStop::MaxIterations);
        let checkpoint = LbfgsCheckpoint::load(&path).unwrap();
        assert_eq!(checkpoint.iterations_done(), stop_after);
        assert_eq!(checkpoint.stop(), Some(LbfgsStop::MaxIterations));
        assert_eq!(checkpoint.objective(), reports[stop_after - 1].objective);
        assert_eq!(
            checkpoint.evaluations(),
            reports[stop_after - 1].evaluations
        );
        // `apply` puts the checkpoint's point into a fresh model: the first part's model.
        let mut applied = model::<T>(3e-3);
        checkpoint.apply(&mut applied).unwrap();
        assert_eq!(applied.parameters(), first.parameters());

        let mut resumed = model::<T>(3e-3);
        let mut rest = Vec::new();
        let outcome = resumed
            .fit_lbfgs_resumable(
                &x,
                &lbfgs(total),
                None,
                Some(checkpoint),
                &mut |r: &LbfgsIteration| {
                    rest.push(*r);
                    ControlFlow::Continue(())
                },
            )
            .unwrap();
        assert_eq!(outcome, unbroken, "{} resumed after {stop_after}", T::NAME);
        assert_eq!(
            rest,
            reports[stop_after..],
            "{} after {stop_after}",
            T::NAME
        );
        assert_eq!(resumed.parameters(), whole.parameters());
        std::fs::remove_file(&path).ok();
    }
}

#[test]
fn a_resumed_run_ends_where_an_unbroken_one_does_in_f64() {
    resumes_bit_for_bit::<f64>();
}

#[test]
fn a_resumed_run_ends_where_an_unbroken_one_does_in_f32() {
    resumes_bit_for_bit::<f32>();
}

#[test]
fn checkpoints_follow_the_interval_and_the_stop() {
    let x = data::<f64>();
    let path = temp("interval.safetensors");
    // Without resume: fit_lbfgs's bits.
    let mut plain = model::<f64>(3e-3);
    let expected = plain.fit_lbfgs(&x, &lbfgs(10), &mut ()).unwrap();
    let mut m = model::<f64>(3e-3);
    let mut seen = Vec::new();
    let outcome = m
        .fit_lbfgs_resumable(
            &x,
            &lbfgs(10),
            Some(&Checkpointing::new(&path).with_interval(3)),
            None,
            &mut |_: &LbfgsIteration| {
                // The file on disk after each iteration: iterations 3 and 6 are written.
                seen.push(
                    LbfgsCheckpoint::load(&path)
                        .ok()
                        .map(|c| c.iterations_done()),
                );
                ControlFlow::Continue(())
            },
        )
        .unwrap();
    assert_eq!(outcome, expected);
    assert_eq!(m.parameters(), plain.parameters());
    // The observer runs before an iteration's checkpoint is written.
    assert_eq!(
        seen,
        vec![
            None,
            None,
            None,
            Some(3),
            Some(3),
            Some(3),
            Some(6),
            Some(6),
            Some(6),
            Some(9)
        ]
    );
    let last = LbfgsCheckpoint::load(&path).unwrap();
    assert_eq!(
        (last.iterations_done(), last.stop()),
        (10, Some(LbfgsStop::MaxIterations))
    );

    // An observer's stop is recorded, and resuming goes on from there.
    let mut stopped = model::<f64>(3e-3);
    let outcome = stopped
        .fit_lbfgs_resumable(
            &x,
            &lbfgs(10),
            Some(&Checkpointing::new(&path).with_interval(100)),
            None,
            &mut |r: &LbfgsIteration| {
                if r.iteration == 4 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        )
        .unwrap();
    assert_eq!((outcome.stop, outcome.iterations), (LbfgsStop::Observer, 4));
    let checkpoint = LbfgsCheckpoint::load(&path).unwrap();
    assert_eq!(
        (checkpoint.iterations_done(), checkpoint.stop()),
        (4, Some(LbfgsStop::Observer))
    );
    let mut resumed = model::<f64>(3e-3);
    let rest = resumed
        .fit_lbfgs_resumable(&x, &lbfgs(10), None, Some(checkpoint), &mut ())
        .unwrap();
    assert_eq!(rest, expected);
    assert_eq!(resumed.parameters(), plain.parameters());

    // An interval of 0 is refused before any work.
    let mut untouched = model::<f64>(3e-3);
    assert!(matches!(
        untouched.fit_lbfgs_resumable(
            &x,
            &lbfgs(3),
            Some(&Checkpointing::new(&path).with_interval(0)),
            None,
            &mut ()
        ),
        Err(Error::ZeroDimension { .. })
    ));
    assert_eq!(untouched.parameters(), model::<f64>(3e-3).parameters());
    std::fs::remove_file(&path).ok();
}

#[test]
fn a_converged_checkpoint_ends_the_resumed_run_at_once() {
    let x = data::<f64>();
    let path = temp("converged.safetensors");
    let tolerant = Lbfgs::new().with_gradient_tolerance(1e-3).unwrap();
    let mut m = model::<f64>(3e-3);
    let outcome = m
        .fit_lbfgs_resumable(
            &x,
            &tolerant,
            Some(&Checkpointing::new(&path)),
            None,
            &mut (),
        )
        .unwrap();
    assert_eq!(outcome.stop, LbfgsStop::GradientTolerance);
    let checkpoint = LbfgsCheckpoint::load(&path).unwrap();
    assert_eq!(checkpoint.stop(), Some(LbfgsStop::GradientTolerance));
    let mut resumed = model::<f64>(3e-3);
    let mut calls = 0;
    let again = resumed
        .fit_lbfgs_resumable(
            &x,
            &tolerant,
            None,
            Some(checkpoint),
            &mut |_: &LbfgsIteration| {
                calls += 1;
                ControlFlow::Continue(())
            },
        )
        .unwrap();
    assert_eq!((again, calls), (outcome, 0));
    assert_eq!(resumed.parameters(), m.parameters());
    std::fs::remove_file(&path).ok();
}

#[test]
fn a_checkpoint_that_does_not_fit_the_run_is_refused() {
    let x = data::<f64>();
    let path = checkpointed("mismatch", 3);
    let load = || LbfgsCheckpoint::load(&path).unwrap();
    fn mismatch<R: std::fmt::Debug>(result: autoencoders::Result<R>) -> &'static str {
        match result {
            Err(Error::CheckpointMismatch { what }) => what,
            other => panic!("expected a mismatch, got {other:?}"),
        }
    }
    // Other settings (a longer budget alone is allowed).
    let other = lbfgs(5).with_memory(4).unwrap();
    let mut fresh = model::<f64>(3e-3);
    assert!(
        mismatch(fresh.fit_lbfgs_resumable(&x, &other, None, Some(load()), &mut ()))
            .contains("settings")
    );
    assert_eq!(fresh.parameters(), model::<f64>(3e-3).parameters());
    // Another architecture.
    let mut wider = DenseBuilder::new(8, 5)
        .build::<f64, _>(&mut rng(1))
        .unwrap();
    assert!(
        mismatch(wider.fit_lbfgs_resumable(&x, &lbfgs(5), None, Some(load()), &mut ()))
            .contains("tensors")
    );
    assert!(mismatch(load().apply(&mut wider)).contains("tensors"));
    // Another scalar type.
    let mut single = model::<f32>(3e-3);
    let x32 = data::<f32>();
    assert!(
        mismatch(single.fit_lbfgs_resumable(&x32, &lbfgs(5), None, Some(load()), &mut ()))
            .contains("tensors")
    );
    // Other data.
    let mut y = x.clone();
    y[(0, 0)] = 0.5;
    assert!(
        mismatch(fresh.fit_lbfgs_resumable(&y, &lbfgs(5), None, Some(load()), &mut ()))
            .contains("data")
    );
    // Another penalty weight: the same tensors, another objective.
    let mut heavier = model::<f64>(1e-2);
    assert!(
        mismatch(heavier.fit_lbfgs_resumable(&x, &lbfgs(5), None, Some(load()), &mut ()))
            .contains("objective")
    );
    std::fs::remove_file(&path).ok();
}

#[test]
fn damaged_and_foreign_files_are_refused() {
    let path = checkpointed("hostile", 4);
    let bytes = std::fs::read(&path).unwrap();
    let good = LbfgsCheckpoint::from_safetensors(&bytes, "good").unwrap();
    // Any flipped byte (a spread of positions over header and data) is refused, typed, unless
    // it changes nothing the file says (the case of a checksum's hex digit).
    let step = (bytes.len() / 150).max(1);
    let mut refused = 0;
    for position in (0..bytes.len()).step_by(step) {
        for flip in [0x01, 0x20] {
            let mut damaged = bytes.clone();
            damaged[position] ^= flip;
            match LbfgsCheckpoint::from_safetensors(&damaged, "damaged") {
                Err(Error::ModelFile { .. }) => refused += 1,
                Ok(same) if same == good => {}
                other => panic!("byte {position} ^ {flip:#x}: {other:?}"),
            }
        }
    }
    assert!(refused >= 290, "{refused} refused");
    // Truncated files.
    for len in [0, 7, 8, bytes.len() / 2, bytes.len() - 1] {
        assert!(matches!(
            LbfgsCheckpoint::from_safetensors(&bytes[..len], "short"),
            Err(Error::ModelFile { .. })
        ));
    }
    // It is not a model file, and a model file is not an L-BFGS checkpoint.
    assert!(matches!(
        DynamicAutoencoder::<f64>::from_safetensors(&bytes, "lbfgs"),
        Err(Error::ModelFile { .. })
    ));
    let plain = DenseBuilder::new(8, 4)
        .build::<f64, _>(&mut rng(1))
        .unwrap();
    match LbfgsCheckpoint::from_safetensors(&plain.to_safetensors().unwrap(), "model") {
        Err(Error::ModelFile { problem, .. }) => {
            assert!(
                matches!(problem, ModelFileProblem::NotACheckpoint),
                "{problem:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    std::fs::remove_file(&path).ok();
}

use autoencoders::Encoder;

type Net = autoencoders::Classifier<autoencoders::StackedEncoder<f64>>;

fn classifier(frozen: bool) -> Net {
    let encoder = autoencoders::StackedEncoder::<f64>::random(
        &[8, 5, 4],
        autoencoders::Activation::Sigmoid,
        autoencoders::Init::GlorotUniform,
        &mut rng(5),
    )
    .unwrap();
    autoencoders::Classifier::new(encoder, 3, autoencoders::Init::GlorotUniform, &mut rng(6))
        .unwrap()
        .with_weight_decay(1e-3)
        .unwrap()
        .with_frozen_encoder(frozen)
}

fn labelled() -> (DMatrix<f64>, Vec<usize>) {
    let x = data::<f64>();
    let labels = (0..x.nrows())
        .map(|i| usize::from(x[(i, 0)] > 0.5) + usize::from(x[(i, 1)] > 0.5))
        .collect();
    (x, labels)
}

#[test]
fn a_classifier_reaches_a_stationary_point_and_a_frozen_encoder_stays_put() {
    let (x, labels) = labelled();
    let tight = Lbfgs::new()
        .with_gradient_tolerance(1e-8)
        .unwrap()
        .with_function_tolerance(0.0)
        .unwrap()
        .with_max_iterations(2000);
    for frozen in [false, true] {
        let mut net = classifier(frozen);
        let start = net.loss(&x, &labels).unwrap();
        let encoder_before = net.encoder().clone();
        let outcome = net.fit_lbfgs(&x, &labels, &tight, &mut ()).unwrap();
        assert_eq!(
            outcome.stop,
            LbfgsStop::GradientTolerance,
            "frozen {frozen}: {outcome:?}"
        );
        // The classifier holds the final point: its loss and gradient are the outcome's, except
        // that a frozen encoder's weight decay, a constant, is left out of the objective.
        let (loss, gradient) = net.gradient(&x, &labels).unwrap();
        if frozen {
            let kinds = net.encoder().parameter_kinds();
            let encoder_decay: f64 = net
                .encoder()
                .parameters()
                .iter()
                .zip(&kinds)
                .filter(|(_, kind)| **kind == autoencoders::TensorKind::Weight)
                .map(|(w, _)| 0.5e-3 * w.iter().map(|v| v * v).sum::<f64>())
                .sum();
            assert!(encoder_decay > 0.0);
            let gap = loss - outcome.objective;
            assert!(
                (gap - encoder_decay).abs() <= 1e-12 * loss,
                "{gap} against {encoder_decay}"
            );
        } else {
            assert_eq!(loss, outcome.objective);
        }
        assert!(outcome.objective < start);
        let head = &gradient[gradient.len() - 2..];
        let moved = if frozen { head } else { &gradient[..] };
        let largest = moved.iter().flatten().fold(0.0f64, |a, g| a.max(g.abs()));
        assert_eq!(largest, outcome.gradient_norm);
        if frozen {
            assert_eq!(net.encoder().parameters(), encoder_before.parameters());
        } else {
            assert_ne!(net.encoder().parameters(), encoder_before.parameters());
        }
    }
}

#[test]
fn a_classifier_run_resumes_bit_for_bit() {
    let (x, labels) = labelled();
    for frozen in [false, true] {
        let mut whole = classifier(frozen);
        let unbroken = whole.fit_lbfgs(&x, &labels, &lbfgs(20), &mut ()).unwrap();
        let path = temp(&format!("classifier-{frozen}.safetensors"));
        let mut first = classifier(frozen);
        first
            .fit_lbfgs_resumable(
                &x,
                &labels,
                &lbfgs(20),
                Some(&Checkpointing::new(&path).with_interval(6)),
                None,
                &mut |r: &LbfgsIteration| {
                    if r.iteration == 6 {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                },
            )
            .unwrap();
        let checkpoint = LbfgsCheckpoint::load(&path).unwrap();
        assert_eq!(checkpoint.iterations_done(), 6);
        // The other labels are other data; a frozen checkpoint does not fit a fine-tuned run.
        let mut other = labels.clone();
        other[3] = (other[3] + 1) % 3;
        let mut fresh = classifier(frozen);
        assert!(matches!(
            fresh.fit_lbfgs_resumable(&x, &other, &lbfgs(20), None, Some(checkpoint.clone()), &mut ()),
            Err(Error::CheckpointMismatch { what }) if what.contains("data")
        ));
        let mut flipped = classifier(!frozen);
        assert!(matches!(
            flipped.fit_lbfgs_resumable(&x, &labels, &lbfgs(20), None, Some(checkpoint.clone()), &mut ()),
            Err(Error::CheckpointMismatch { what }) if what.contains("tensors")
        ));
        let mut resumed = classifier(frozen);
        let outcome = resumed
            .fit_lbfgs_resumable(&x, &labels, &lbfgs(20), None, Some(checkpoint), &mut ())
            .unwrap();
        assert_eq!(outcome, unbroken, "frozen {frozen}");
        assert_eq!(resumed.parameters(), whole.parameters());
        std::fs::remove_file(&path).ok();
    }
}

#[test]
fn hostile_records_are_refused_without_allocating_what_they_claim() {
    use common::model_file::ModelFile;
    use serde_json::{Value, json};
    let path = checkpointed("records", 4);
    let good = ModelFile::parse(&std::fs::read(&path).unwrap());
    let key = "autoencoders.lbfgs";
    let record = |file: &ModelFile| -> Value {
        serde_json::from_str(file.header["__metadata__"][key].as_str().unwrap()).unwrap()
    };
    // The untouched, re-signed file loads: the edits below are the only defects.
    assert!(LbfgsCheckpoint::from_safetensors(&good.to_bytes(), "good").is_ok());
    type Edit = Box<dyn Fn(&mut Value)>;
    let edits: Vec<(&str, Edit)> = vec![
        (
            "a memory of 10^15 with as many pairs",
            Box::new(|r| {
                r["settings"]["memory"] = json!(1_000_000_000_000_000u64);
                r["pairs"] = json!(1_000_000_000_000_000u64);
            }),
        ),
        (
            "more pairs than the memory",
            Box::new(|r| r["pairs"] = json!(11)),
        ),
        (
            "more pairs than the file holds",
            Box::new(|r| r["pairs"] = json!(5)),
        ),
        (
            "a memory of 0",
            Box::new(|r| r["settings"]["memory"] = json!(0)),
        ),
        (
            "c2 below c1",
            Box::new(|r| r["settings"]["c2"] = json!(1e-5)),
        ),
        (
            "a negative tolerance",
            Box::new(|r| r["settings"]["gradient_tolerance"] = json!(-1.0)),
        ),
        (
            "a shape whose size overflows",
            Box::new(|r| r["shapes"][0] = json!([u64::MAX, 4])),
        ),
        (
            "a shape of size 0",
            Box::new(|r| r["shapes"][1] = json!([0])),
        ),
        (
            "a shape listed without its name",
            Box::new(|r| r["shapes"].as_array_mut().unwrap().push(json!([2]))),
        ),
        (
            "a point longer than the tensor",
            Box::new(|r| r["shapes"][3] = json!([9])),
        ),
        (
            "fewer evaluations than iterations",
            Box::new(|r| r["evaluations"] = json!(2)),
        ),
        ("an unknown stop", Box::new(|r| r["stop"] = json!("tired"))),
        ("an unknown dtype", Box::new(|r| r["dtype"] = json!("F16"))),
        (
            "another format version",
            Box::new(|r| r["format_version"] = json!(2)),
        ),
        ("an unknown field", Box::new(|r| r["extra"] = json!(1))),
        (
            "a malformed data checksum",
            Box::new(|r| r["data"]["crc32"] = json!("xyz")),
        ),
    ];
    for (what, edit) in edits {
        let mut file = good.clone();
        let mut r = record(&file);
        edit(&mut r);
        file.header["__metadata__"][key] = Value::String(r.to_string());
        match LbfgsCheckpoint::from_safetensors(&file.to_bytes(), what) {
            Err(Error::ModelFile { .. }) => {}
            other => panic!("{what}: {other:?}"),
        }
    }
    // Remembered steps without positive curvature (re-signed, data checksum fixed).
    let mut flat = good.clone();
    let names = flat.tensor_names();
    let mut offset = 0;
    for name in &names {
        let entry = &flat.header[name];
        let (start, end) = (
            entry["data_offsets"][0].as_u64().unwrap() as usize,
            entry["data_offsets"][1].as_u64().unwrap() as usize,
        );
        if name == "lbfgs.steps" {
            flat.data[start..end].fill(0);
        }
        offset = offset.max(end);
    }
    assert_eq!(offset, flat.data.len());
    flat.fix_checksum();
    match LbfgsCheckpoint::from_safetensors(&flat.to_bytes(), "flat") {
        Err(Error::ModelFile { problem, .. }) => {
            assert!(format!("{problem}").contains("curvature"), "{problem}")
        }
        other => panic!("{other:?}"),
    }
    // A pair of tiny curvature (sᵀy = 5e-324: its inverse is infinite) is refused too.
    let mut tiny = good.clone();
    let entry = &tiny.header["lbfgs.steps"];
    let start = entry["data_offsets"][0].as_u64().unwrap() as usize;
    let end = entry["data_offsets"][1].as_u64().unwrap() as usize;
    let changes = &tiny.header["lbfgs.gradient_changes"];
    let c_start = changes["data_offsets"][0].as_u64().unwrap() as usize;
    let c_end = changes["data_offsets"][1].as_u64().unwrap() as usize;
    tiny.data[start..end].fill(0);
    tiny.data[c_start..c_end].fill(0);
    tiny.data[start..start + 8].copy_from_slice(&f64::from_bits(1).to_le_bytes());
    tiny.data[c_start..c_start + 8].copy_from_slice(&1.0f64.to_le_bytes());
    tiny.fix_checksum();
    match LbfgsCheckpoint::from_safetensors(&tiny.to_bytes(), "tiny") {
        Err(Error::ModelFile { problem, .. }) => {
            assert!(format!("{problem}").contains("curvature"), "{problem}")
        }
        other => panic!("{other:?}"),
    }
    std::fs::remove_file(&path).ok();
}

#[test]
fn a_run_resumed_where_the_function_tolerance_stops_it_stops_there_too() {
    let x = data::<f64>();
    let tolerant = Lbfgs::new()
        .with_function_tolerance(1e-4)
        .unwrap()
        .with_gradient_tolerance(1e-12)
        .unwrap()
        .with_max_iterations(500);
    let mut whole = model::<f64>(3e-3);
    let unbroken = whole.fit_lbfgs(&x, &tolerant, &mut ()).unwrap();
    assert_eq!(unbroken.stop, LbfgsStop::FunctionTolerance, "{unbroken:?}");
    let k = unbroken.iterations;
    assert!(k > 3, "{unbroken:?}");
    // Interrupted by the observer at the very iteration the tolerance stops, and earlier.
    for stop_at in [k, k - 1, k - 3] {
        let path = temp(&format!("tolerance-{stop_at}.safetensors"));
        let mut first = model::<f64>(3e-3);
        let part = first
            .fit_lbfgs_resumable(
                &x,
                &tolerant,
                Some(&Checkpointing::new(&path)),
                None,
                &mut |r: &LbfgsIteration| {
                    if r.iteration == stop_at {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                },
            )
            .unwrap();
        assert_eq!((part.stop, part.iterations), (LbfgsStop::Observer, stop_at));
        let mut resumed = model::<f64>(3e-3);
        let outcome = resumed
            .fit_lbfgs_resumable(
                &x,
                &tolerant,
                None,
                Some(LbfgsCheckpoint::load(&path).unwrap()),
                &mut (),
            )
            .unwrap();
        assert_eq!(outcome, unbroken, "interrupted at {stop_at}");
        assert_eq!(resumed.parameters(), whole.parameters());
        std::fs::remove_file(&path).ok();
    }
}
