//! Checkpoints: resuming in a new process is bit-exact, checkpoints come when configured, a
//! checkpoint only continues its own run, and damage is detected.

mod common;

use autoencoders::data::bundled_digits;
use autoencoders::persistence::{CHECKPOINT_KEY, ModelFileProblem};
use autoencoders::{
    Adam, BuiltinCorruption, BuiltinLoss, BuiltinRegularizer, Checkpoint, Checkpointing,
    Contractive, Correntropy, DenseBuilder, DynamicAutoencoder, EpochReport, Error, GaussianNoise,
    KlSparsity, L1Sparsity, Masking, Optimizer, OptimizerState, SaltAndPepper, Scalar, Sgd,
    TrainingConfig, TrainingRun, WeightDecay,
};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Set in the child process of [`resuming_in_a_new_process_is_exact`]: `case|folder`.
const CHILD_ROLE: &str = "AUTOENCODERS_RESUME_CHILD";

/// A fresh folder under the system's temporary folder.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("autoencoders-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The first 150 bundled digits for training, the next 50 for validation.
fn data<T: Scalar>() -> (DMatrix<T>, DMatrix<T>) {
    let images = bundled_digits::<T>().unwrap().train_images;
    (
        images.rows(0, 150).into_owned(),
        images.rows(150, 50).into_owned(),
    )
}

/// Five epochs of 150 samples in batches of 32 (the last one 22), shuffled.
fn config() -> TrainingConfig {
    TrainingConfig::default()
        .with_epochs(5)
        .with_batch_size(32)
        .with_shuffle(true)
}

/// The model and optimiser of each case, built the same way in both processes. Each corrupts
/// its input, so that the generator's state matters, and has a penalty.
fn case<T: Scalar>(name: &str) -> (DynamicAutoencoder<T>, Box<dyn Optimizer<T>>) {
    let model = DenseBuilder::new(784, 16)
        .build::<T, _>(&mut common::rng(11))
        .unwrap();
    let (regularizers, corruption, optimizer): (
        Vec<BuiltinRegularizer>,
        BuiltinCorruption,
        Box<dyn Optimizer<T>>,
    ) = match name {
        "sgd-momentum" => (
            vec![L1Sparsity::new(1e-3).unwrap().into()],
            Masking::new(0.25).unwrap().into(),
            Box::new(Sgd::new(0.5).unwrap().with_momentum(0.9).unwrap()),
        ),
        "adam" => (
            vec![
                Contractive::new(1e-2).unwrap().into(),
                WeightDecay::new(1e-4).unwrap().into(),
            ],
            GaussianNoise::new(0.2).unwrap().into(),
            Box::new(Adam::new(3e-3).unwrap()),
        ),
        "adam-kl" => (
            vec![KlSparsity::new(0.1, 0.5).unwrap().into()],
            SaltAndPepper::new(0.1).unwrap().into(),
            Box::new(Adam::new(1e-2).unwrap().with_betas(0.8, 0.99).unwrap()),
        ),
        other => panic!("no case {other}"),
    };
    let model = model
        .with_regularizer(regularizers)
        .with_corruption(corruption)
        .with_loss(autoencoders::BuiltinLoss::default());
    (model, optimizer)
}

fn bits<T: Scalar>(values: &[T]) -> Vec<u64> {
    values.iter().map(|v| v.as_f64().to_bits()).collect()
}

fn parameter_bits<T: Scalar>(model: &DynamicAutoencoder<T>) -> Vec<Vec<u64>> {
    model.parameters().iter().map(|p| bits(p)).collect()
}

/// Everything in an optimiser state, as bits.
#[derive(Debug, PartialEq)]
struct StateBits {
    kind: String,
    hyper_parameters: Vec<(String, u64)>,
    counters: Vec<(String, u64)>,
    tensors: Vec<(String, Vec<Vec<u64>>)>,
}

fn state_bits<T: Scalar>(state: &OptimizerState<T>) -> StateBits {
    StateBits {
        kind: state.kind().to_owned(),
        hyper_parameters: state
            .hyper_parameters()
            .iter()
            .map(|(k, v)| (k.clone(), v.to_bits()))
            .collect(),
        counters: state
            .counters()
            .iter()
            .map(|(k, &v)| (k.clone(), v))
            .collect(),
        tensors: state
            .tensors()
            .iter()
            .map(|(k, t)| (k.clone(), t.iter().map(|t| bits(t)).collect()))
            .collect(),
    }
}

fn report_bits(reports: &[EpochReport]) -> Vec<[u64; 5]> {
    reports
        .iter()
        .map(|r| {
            [
                r.epoch as u64,
                r.reconstruction_loss.to_bits(),
                r.penalty.to_bits(),
                r.objective.to_bits(),
                r.validation_loss.map_or(u64::MAX, f64::to_bits),
            ]
        })
        .collect()
}

/// The child's part: load the checkpoint from `folder`, build the case's model and optimiser
/// afresh, resume, train the remaining epochs, and leave a final checkpoint for the parent.
fn resume_in_child<T: Scalar>(name: &str, folder: &Path) {
    let (x, validation) = data::<T>();
    let (mut model, optimizer) = case::<T>(name);
    let checkpoint = Checkpoint::<T>::load(folder.join("interrupted.safetensors")).unwrap();
    assert_eq!(checkpoint.epochs_done(), 2);
    let mut run = checkpoint
        .resume(&mut model, optimizer)
        .unwrap()
        .with_checkpoints(Checkpointing::new(folder.join("final.safetensors")));
    let history = model
        .fit_resumable(&x, Some(&validation), &mut run, &mut ())
        .unwrap();
    assert_eq!(history.epochs.len(), config().epochs());
}

/// Runs only as the child process of [`resuming_in_a_new_process_is_exact`].
#[test]
fn resume_child() {
    let Ok(role) = std::env::var(CHILD_ROLE) else {
        return;
    };
    let (name, folder) = role.split_once('|').unwrap();
    match name {
        "adam-kl" => resume_in_child::<f64>(name, Path::new(folder)),
        _ => resume_in_child::<f32>(name, Path::new(folder)),
    }
}

/// Train five epochs without a break; and, separately, train with a checkpoint every two
/// epochs, "crash" after the third, and resume from the checkpoint (epoch 2) in a new process.
/// The parameters, the optimiser's state, the generator and the history must agree bit for bit.
fn resumes_exactly<T: Scalar>(name: &str) {
    let folder = scratch(&format!("resume-{name}"));
    let (x, validation) = data::<T>();

    let (mut whole, mut optimizer) = case::<T>(name);
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let history = whole
        .fit_with(
            &x,
            Some(&validation),
            &config(),
            &mut optimizer,
            &mut rng,
            &mut (),
        )
        .unwrap();

    let (mut interrupted, optimizer_b) = case::<T>(name);
    let mut run = TrainingRun::new(config(), optimizer_b, ChaCha8Rng::seed_from_u64(21))
        .with_checkpoints(
            Checkpointing::new(folder.join("interrupted.safetensors")).with_interval(2),
        );
    let mut crash_after_third = |report: &EpochReport| {
        if report.epoch == 2 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    interrupted
        .fit_resumable(&x, Some(&validation), &mut run, &mut crash_after_third)
        .unwrap();
    assert_eq!(run.epochs_done(), 3);

    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "resume_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ROLE, format!("{name}|{}", folder.display()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("test resume_child ... ok"),
        "child process failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let last = Checkpoint::<T>::load(folder.join("final.safetensors")).unwrap();
    assert_eq!(last.epochs_done(), 5);
    assert_eq!(
        report_bits(&last.history().epochs),
        report_bits(&history.epochs)
    );
    assert_eq!(last.generator(), &rng, "the generator's state");
    assert_eq!(
        state_bits(last.optimizer_state()),
        state_bits(&optimizer.state())
    );
    let (mut resumed, fresh_optimizer) = case::<T>(name);
    let run = last.resume(&mut resumed, fresh_optimizer).unwrap();
    assert_eq!(parameter_bits(&resumed), parameter_bits(&whole));
    assert_eq!(
        state_bits(&run.optimizer().state()),
        state_bits(&optimizer.state())
    );
    std::fs::remove_dir_all(&folder).ok();
}

#[test]
fn resuming_in_a_new_process_is_exact_for_sgd_with_momentum() {
    resumes_exactly::<f32>("sgd-momentum");
}

#[test]
fn resuming_in_a_new_process_is_exact_for_adam() {
    resumes_exactly::<f32>("adam");
}

#[test]
fn resuming_in_a_new_process_is_exact_in_f64() {
    resumes_exactly::<f64>("adam-kl");
}

#[test]
fn a_checkpoint_comes_after_every_interval() {
    let folder = scratch("interval");
    let path = folder.join("run.safetensors");
    let (x, _) = data::<f32>();
    let (mut model, optimizer) = case::<f32>("sgd-momentum");
    let mut run = TrainingRun::new(config(), optimizer, common::rng(3))
        .with_checkpoints(Checkpointing::new(&path).with_interval(2));
    // The observer runs after the epoch's checkpoint: it sees what is on disk.
    let mut on_disk = Vec::new();
    let mut look = |_: &EpochReport| {
        on_disk.push(Checkpoint::<f32>::load(&path).map(|c| c.epochs_done()).ok());
        ControlFlow::Continue(())
    };
    model.fit_resumable(&x, None, &mut run, &mut look).unwrap();
    assert_eq!(on_disk, [None, Some(2), Some(2), Some(4), Some(4)]);
    let leftovers = std::fs::read_dir(&folder).unwrap().count();
    assert_eq!(leftovers, 1, "one checkpoint file, no temporary files");

    let mut never = TrainingRun::new(config(), Sgd::<f32>::new(0.1).unwrap(), common::rng(3))
        .with_checkpoints(Checkpointing::new(&path).with_interval(0));
    assert!(matches!(
        model.fit_resumable(&x, None, &mut never, &mut ()),
        Err(Error::ZeroDimension {
            what: "checkpoint interval"
        })
    ));
    std::fs::remove_dir_all(&folder).ok();
}

/// A checkpoint after two epochs of the "adam" case, in `folder`.
fn two_epochs(folder: &Path) -> PathBuf {
    let path = folder.join("two.safetensors");
    let (x, validation) = data::<f32>();
    let (mut model, optimizer) = case::<f32>("adam");
    let mut run = TrainingRun::new(config().with_epochs(2), optimizer, common::rng(4))
        .with_checkpoints(Checkpointing::new(&path));
    model
        .fit_resumable(&x, Some(&validation), &mut run, &mut ())
        .unwrap();
    path
}

fn mismatch<V>(result: Result<V, Error>, expected: &str) {
    match result {
        Err(Error::CheckpointMismatch { what }) => assert_eq!(what, expected),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("accepted a checkpoint of another run ({expected})"),
    }
}

#[test]
fn a_checkpoint_continues_only_its_own_run() {
    let folder = scratch("mismatch");
    let path = two_epochs(&folder);
    let load = || Checkpoint::<f32>::load(&path).unwrap();
    let model_differs = "the model's architecture, loss, regularizers or corruption";

    let (model, optimizer) = case::<f32>("adam");
    let mut wider = DenseBuilder::new(784, 17)
        .build::<f32, _>(&mut common::rng(11))
        .unwrap()
        .with_regularizer(model.regularizer().clone())
        .with_corruption(*model.corruption());
    mismatch(
        load().resume(&mut wider, Adam::new(3e-3).unwrap()),
        model_differs,
    );

    let mut noisier = model
        .clone()
        .with_corruption(BuiltinCorruption::from(GaussianNoise::new(0.3).unwrap()));
    let before = parameter_bits(&noisier);
    mismatch(load().resume(&mut noisier, optimizer), model_differs);
    assert_eq!(parameter_bits(&noisier), before, "the model is unchanged");

    let mut same = model.clone();
    mismatch(
        load().resume(&mut same, Sgd::new(3e-3).unwrap()),
        "the optimiser's kind",
    );
    mismatch(
        load().resume(&mut same, Adam::new(1e-3).unwrap()),
        "the optimiser's hyper-parameters",
    );

    let (x, validation) = data::<f32>();
    let mut run = load()
        .resume(&mut same, Adam::new(3e-3).unwrap())
        .unwrap()
        .with_epochs(5);
    let other_x = x.rows(1, 149).into_owned();
    mismatch(
        same.fit_resumable(&other_x, Some(&validation), &mut run, &mut ()),
        "the training data",
    );
    let mut nudged = x.clone();
    nudged[(7, 300)] += 1e-3;
    mismatch(
        same.fit_resumable(&nudged, Some(&validation), &mut run, &mut ()),
        "the training data",
    );
    mismatch(
        same.fit_resumable(&x, None, &mut run, &mut ()),
        "the validation data",
    );
    let history = same
        .fit_resumable(&x, Some(&validation), &mut run, &mut ())
        .unwrap();
    assert_eq!(history.epochs.len(), 5);
    std::fs::remove_dir_all(&folder).ok();
}

#[test]
fn damaged_checkpoints_are_refused() {
    let folder = scratch("damaged");
    let path = two_epochs(&folder);
    let bytes = std::fs::read(&path).unwrap();
    let problem = |bytes: &[u8]| match Checkpoint::<f32>::from_safetensors(bytes, "damaged") {
        Err(Error::ModelFile { problem, .. }) => problem,
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a damaged checkpoint loaded"),
    };

    // A bit flipped in the tensor data.
    let mut flipped = bytes.clone();
    let last = flipped.len() - 3;
    flipped[last] ^= 0x10;
    assert!(matches!(
        problem(&flipped),
        ModelFileProblem::ChecksumMismatch { .. }
    ));

    // A digit changed in the checkpoint's JSON (same length, so the header stays valid).
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + header_len]).unwrap();
    let at = header
        .find(r#"\"epochs_done\":2"#)
        .expect("epochs_done in the header");
    let mut edited = bytes.clone();
    edited[8 + at + r#"\"epochs_done\":"#.len()] = b'3';
    assert!(matches!(
        problem(&edited),
        ModelFileProblem::ChecksumMismatch { .. }
    ));

    // Cut short, as a torn write without the crash-safe protocol would leave it.
    assert!(matches!(
        problem(&bytes[..bytes.len() / 2]),
        ModelFileProblem::DataLengthMismatch | ModelFileProblem::HeaderPastEnd
    ));
    assert!(matches!(
        problem(&bytes[..5]),
        ModelFileProblem::HeaderTooSmall
    ));

    // A saved model is not a checkpoint; an f32 checkpoint does not load as f64.
    let (model, _) = case::<f32>("adam");
    assert!(matches!(
        problem(&model.to_safetensors().unwrap()),
        ModelFileProblem::NotACheckpoint
    ));
    assert!(matches!(
        Checkpoint::<f64>::load(&path),
        Err(Error::ModelFile {
            problem: ModelFileProblem::WrongDtype { .. },
            ..
        })
    ));
    assert!(matches!(
        Checkpoint::<f32>::load(folder.join("missing.safetensors")),
        Err(Error::Io { .. })
    ));
    std::fs::remove_dir_all(&folder).ok();
}

#[test]
fn a_checkpoint_is_safetensors_with_optimizer_tensors_named_by_parameter() {
    let folder = scratch("layout");
    let path = two_epochs(&folder);
    let bytes = std::fs::read(&path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = file.names().into_iter().map(str::to_owned).collect();
    names.sort_unstable();
    let parameters = [
        "decoder.bias",
        "decoder.weight",
        "encoder.bias",
        "encoder.weight",
    ];
    let mut expected: Vec<String> = parameters.iter().map(|p| p.to_string()).collect();
    for state in ["m", "v"] {
        expected.extend(parameters.iter().map(|p| format!("optimizer.{state}.{p}")));
    }
    expected.sort_unstable();
    assert_eq!(names, expected);
    assert_eq!(
        file.tensor("optimizer.m.encoder.weight").unwrap().shape(),
        [16, 784]
    );
    assert_eq!(
        file.tensor("optimizer.v.decoder.weight").unwrap().shape(),
        [784, 16]
    );

    // Row-major like the weights: entry (r, c) of `m` for encoder.weight.
    let checkpoint = Checkpoint::<f32>::load(&path).unwrap();
    let m = &checkpoint.optimizer_state().tensors()["m"][0];
    let data = file.tensor("optimizer.m.encoder.weight").unwrap();
    let (r, c) = (5, 400);
    let offset = 4 * (r * 784 + c);
    let stored = f32::from_le_bytes(data.data()[offset..offset + 4].try_into().unwrap());
    assert_eq!(stored.to_bits(), m[r + 16 * c].to_bits());
    assert_eq!(checkpoint.optimizer_state().counters()["steps"], 10);

    let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let metadata = metadata.metadata().as_ref().unwrap();
    // One metadata key, `autoencoders`, whose envelope holds the checkpoint's record under
    // the section named by its record key.
    let keys: Vec<&String> = metadata.keys().collect();
    assert_eq!(keys, ["autoencoders"]);
    let envelope: serde_json::Value = serde_json::from_str(&metadata["autoencoders"]).unwrap();
    let section = CHECKPOINT_KEY.strip_prefix("autoencoders.").unwrap();
    let record = &envelope[section];
    assert_eq!(record["epochs_done"], 2);
    assert_eq!(record["optimizer"]["kind"], "adam");
    assert_eq!(record["generator"]["algorithm"], "ChaCha8");
    assert_eq!(record["training_data"]["rows"], 150);
    assert_eq!(record["history"].as_array().unwrap().len(), 2);

    // The model inside loads on its own.
    let model = checkpoint.model().unwrap();
    assert_eq!(model.code_dim(), 16);
    std::fs::remove_dir_all(&folder).ok();
}

#[test]
fn a_correntropy_run_checkpoints_its_sigma_and_resumes_only_with_it() {
    let folder = scratch("correntropy");
    let path = folder.join("run.safetensors");
    let (x, _) = data::<f32>();
    let (model, optimizer) = case::<f32>("sgd-momentum");
    let mut model = model.with_loss(BuiltinLoss::from(Correntropy::new(0.4).unwrap()));
    let mut run = TrainingRun::new(config().with_epochs(2), optimizer, common::rng(5))
        .with_checkpoints(Checkpointing::new(&path));
    model.fit_resumable(&x, None, &mut run, &mut ()).unwrap();
    let checkpoint = Checkpoint::<f32>::load(&path).unwrap();
    // The checkpoint rebuilds the model with its loss, and the parameters it trained.
    let rebuilt = checkpoint.model().unwrap();
    assert_eq!(*rebuilt.loss(), Correntropy::new(0.4).unwrap());
    assert_eq!(parameter_bits(&rebuilt), parameter_bits(&model));
    let optimizer = || Sgd::new(0.5).unwrap().with_momentum(0.9).unwrap();
    let mut wider = model
        .clone()
        .with_loss(BuiltinLoss::from(Correntropy::new(0.5).unwrap()));
    mismatch(
        Checkpoint::<f32>::load(&path)
            .unwrap()
            .resume(&mut wider, optimizer()),
        "the model's architecture, loss, regularizers or corruption",
    );
    let mut same = model.clone();
    assert!(checkpoint.resume(&mut same, optimizer()).is_ok());
    std::fs::remove_dir_all(&folder).ok();
}
