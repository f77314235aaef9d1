//! Hostile files of the formats that name their tensors in the record: parameters files, deep
//! autoencoders, checkpoints of models that are not one dense layer each way, pretraining and
//! classifier checkpoints. Each file is built from a valid one with exactly one defect, its
//! checksums recomputed so that the check under test is the one reached; each is refused with a
//! typed error, without a panic, and without allocating more than a small multiple of its size.

mod common;

use autoencoders::persistence::ModelFileProblem;
use autoencoders::{
    Activation, Adam, Checkpoint, Checkpointing, ClassifierCheckpoint, DeepAutoencoder, Error,
    Init, LayerSpec, LayerwisePretrainer, PretrainingCheckpoint, StackedEncoder, TrainingConfig,
    TrainingRun,
};
use common::allocation::{Counting, peak_during};
use common::model_file::ModelFile;
use common::models::deep;
use nalgebra::DMatrix;
use serde_json::{Value, json};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocation_bound(file_len: usize) -> usize {
    4 * file_len + (256 << 10)
}

/// Runs `load` on `bytes` within the allocation bound, and returns the problem of the
/// `Error::ModelFile` it must fail with.
fn refused<V: std::fmt::Debug>(
    bytes: &[u8],
    load: impl FnOnce(&[u8]) -> Result<V, Error>,
) -> ModelFileProblem {
    let (result, peak) = peak_during(|| load(bytes));
    assert!(
        peak <= allocation_bound(bytes.len()),
        "loading {} bytes allocated {peak} bytes",
        bytes.len()
    );
    match result {
        Err(Error::ModelFile { problem, .. }) => problem,
        other => panic!("expected Error::ModelFile, got {other:?}"),
    }
}

/// A fresh folder for one call (tests run in parallel and each builds its own files).
fn scratch(name: &str) -> std::path::PathBuf {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("ae-hostile-{name}-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn data() -> DMatrix<f32> {
    DMatrix::from_fn(24, 6, |i, j| ((i * 5 + j * 3) % 7) as f32 / 7.0)
}

/// A checkpoint of the deep model after one epoch: a checkpoint whose record names its tensors.
fn deep_checkpoint() -> Vec<u8> {
    let dir = scratch("deep-checkpoint");
    let path = dir.join("checkpoint.safetensors");
    let config = TrainingConfig::default().with_epochs(1).with_batch_size(8);
    let mut run = TrainingRun::new(config, Adam::new(1e-2).unwrap(), common::rng(2))
        .with_checkpoints(Checkpointing::new(&path));
    deep()
        .fit_resumable(&data(), None, &mut run, &mut ())
        .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_dir_all(dir).ok();
    bytes
}

fn load_checkpoint(bytes: &[u8]) -> Result<Checkpoint<f32>, Error> {
    Checkpoint::<f32>::from_safetensors(bytes, "hostile")
}

fn load_deep(bytes: &[u8]) -> Result<DeepAutoencoder<f32>, Error> {
    DeepAutoencoder::<f32>::from_safetensors(bytes, "hostile")
}

/// `file` with its record edited and every checksum that covers it recomputed.
fn with_record(file: &ModelFile, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut file = file.clone();
    file.edit_record(edit);
    file.fix_checksum();
    file.to_bytes()
}

#[test]
fn the_unedited_files_load() {
    let checkpoint = ModelFile::parse(&deep_checkpoint());
    assert!(load_checkpoint(&checkpoint.to_bytes()).is_ok());
    let saved = ModelFile::parse(&deep().to_safetensors().unwrap());
    assert!(load_deep(&saved.to_bytes()).is_ok());
}

#[test]
fn a_checkpoint_record_that_lists_a_tensor_twice_is_refused() {
    let file = ModelFile::parse(&deep_checkpoint());
    let bytes = with_record(&file, |record| {
        let first = record["parameters"][0].clone();
        record["parameters"].as_array_mut().unwrap().push(first);
    });
    assert!(matches!(
        refused(&bytes, load_checkpoint),
        ModelFileProblem::DuplicateKey { .. }
    ));
}

#[test]
fn a_checkpoint_record_whose_shape_disagrees_with_the_tensor_is_refused() {
    let file = ModelFile::parse(&deep_checkpoint());
    let bytes = with_record(&file, |record| record["parameters"][0][1] = json!([3, 8]));
    assert!(matches!(
        refused(&bytes, load_checkpoint),
        ModelFileProblem::WrongShape { .. }
    ));
}

#[test]
fn a_checkpoint_record_listing_many_absent_tensors_is_refused_without_allocating_for_them() {
    let file = ModelFile::parse(&deep_checkpoint());
    let bytes = with_record(&file, |record| {
        let list = record["parameters"].as_array_mut().unwrap();
        for i in 0..20_000 {
            list.push(json!([format!("ghost.{i}"), [1_000_000, 1_000_000]]));
        }
    });
    match refused(&bytes, load_checkpoint) {
        ModelFileProblem::InvalidMetadata { detail } => {
            // The deep model's 8 tensors and the 20 000 ghosts.
            assert!(detail.contains("lists 20008 tensors"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_parameters_record_of_another_model_or_field_is_refused() {
    let file = ModelFile::parse(&deep_checkpoint());
    for edit in [
        (|r: &mut Value| r["model"] = json!("vae")) as fn(&mut Value),
        |r| r["unknown"] = json!(1),
        |r| r["format_version"] = json!(2),
        |r| r["parameters"] = json!("all of them"),
    ] {
        let bytes = with_record(&file, edit);
        assert!(matches!(
            refused(&bytes, load_checkpoint),
            ModelFileProblem::InvalidMetadata { .. }
        ));
    }
}

#[test]
fn a_parameters_record_without_the_whole_file_checksum_is_refused() {
    let mut file = ModelFile::parse(&deep().to_safetensors().unwrap());
    file.header["__metadata__"]
        .as_object_mut()
        .unwrap()
        .remove(common::model_file::WHOLE_FILE_KEY);
    assert_eq!(
        refused(&file.to_bytes(), load_deep),
        ModelFileProblem::MissingChecksum
    );
}

#[test]
fn a_deep_architecture_that_does_not_fit_its_tensors_is_refused() {
    let file = ModelFile::parse(&deep().to_safetensors().unwrap());
    let edits: [fn(&mut Value); 4] = [
        // One layer more than there are tensors.
        |r| {
            r["architecture"]["encoder"]
                .as_array_mut()
                .unwrap()
                .push(json!("tanh"))
        },
        // An activation the crate does not know.
        |r| r["architecture"]["decoder"][0] = json!("swish"),
        // A million layers.
        |r| r["architecture"]["encoder"] = json!(vec!["tanh"; 1_000_000]),
        // No layers at all.
        |r| {
            r["architecture"]["encoder"] = json!([]);
            r["architecture"]["decoder"] = json!([]);
            r["parameters"] = json!([]);
        },
    ];
    for edit in edits {
        let bytes = with_record(&file, edit);
        assert!(matches!(
            refused(&bytes, load_deep),
            ModelFileProblem::InvalidMetadata { .. } | ModelFileProblem::UnexpectedTensor { .. }
        ));
    }
}

#[test]
fn deep_layers_whose_sizes_do_not_chain_are_refused() {
    // The record's shapes and the tensors agree, but layer 1 of the encoder takes 5 inputs
    // where layer 0 gives 4.
    let mut file = ModelFile::parse(&deep().to_safetensors().unwrap());
    let mut tensors = file.tensors();
    for (name, _, shape, bytes) in &mut tensors {
        if name == "encoder.1.weight" {
            *shape = vec![3, 5];
            bytes.extend(vec![0u8; 3 * 4]);
        }
    }
    let tensors: Vec<(&str, &str, Vec<u64>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.as_str(), d.as_str(), s.clone(), b.clone()))
        .collect();
    file.set_tensors(&tensors);
    let bytes = with_record(&file, |r| {
        for entry in r["parameters"].as_array_mut().unwrap() {
            if entry[0] == "encoder.1.weight" {
                entry[1] = json!([3, 5]);
            }
        }
    });
    assert!(matches!(
        refused(&bytes, load_deep),
        ModelFileProblem::InvalidMetadata { .. }
    ));
}

/// A pretraining checkpoint in the middle of layer 2 of 6 → 4 → 3.
fn pretraining_checkpoint() -> Vec<u8> {
    let dir = scratch("pretraining");
    let path = dir.join("pretraining.safetensors");
    let copy = dir.join("copy.safetensors");
    let quick = TrainingConfig::default().with_epochs(3).with_batch_size(8);
    let mut keep = |layer: usize, report: &autoencoders::EpochReport| {
        if layer == 1 && report.epoch == 0 {
            std::fs::copy(&path, &copy).unwrap();
        }
        std::ops::ControlFlow::Continue(())
    };
    LayerwisePretrainer::new()
        .with_layer(LayerSpec::new(4).with_training(quick))
        .with_layer(LayerSpec::new(3).with_training(quick))
        .pretrain_resumable(
            &data(),
            common::rng(3),
            Some(&Checkpointing::new(&path)),
            None,
            &mut keep,
        )
        .unwrap();
    let bytes = std::fs::read(&copy).unwrap();
    std::fs::remove_dir_all(dir).ok();
    bytes
}

fn load_pretraining(bytes: &[u8]) -> Result<PretrainingCheckpoint<f32>, Error> {
    PretrainingCheckpoint::<f32>::from_safetensors(bytes, "hostile")
}

/// `file` with its pretraining record edited (only the whole-file checksum covers it).
fn with_pretraining(file: &ModelFile, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut file = file.clone();
    let key = autoencoders::persistence::PRETRAINING_KEY;
    let mut record: Value =
        serde_json::from_str(file.header["__metadata__"][key].as_str().unwrap()).unwrap();
    edit(&mut record);
    file.header["__metadata__"][key] = Value::String(record.to_string());
    file.to_bytes()
}

/// An edit of a record, and the kind of refusal it must meet.
type Edit = (fn(&mut Value), &'static str);

#[test]
fn pretraining_checkpoints_with_a_damaged_record_are_refused() {
    let file = ModelFile::parse(&pretraining_checkpoint());
    let checkpoint = load_pretraining(&file.to_bytes()).unwrap();
    assert_eq!((checkpoint.layer(), checkpoint.epochs_done()), (1, 1));
    let edits: [Edit; 5] = [
        (
            |r| r["finished"][0]["stop_reason"] = json!("bored"),
            "invalid",
        ),
        (
            |r| r["finished"][0]["parameters"][0][0] = json!("ghost"),
            "missing",
        ),
        (
            |r| r["finished"][0]["history"][0]["epoch"] = json!(7),
            "invalid",
        ),
        (
            |r| {
                let layer = r["finished"][0].clone();
                let list = r["finished"].as_array_mut().unwrap();
                for _ in 0..5_000 {
                    list.push(layer.clone());
                }
            },
            "missing",
        ),
        (|r| r["format_version"] = json!(9), "invalid"),
    ];
    for (edit, expected) in edits {
        let problem = refused(&with_pretraining(&file, edit), load_pretraining);
        match expected {
            // The tensor named is absent, or the one that is there is not named.
            "missing" => assert!(
                matches!(
                    problem,
                    ModelFileProblem::MissingTensor { .. }
                        | ModelFileProblem::UnexpectedTensor { .. }
                ),
                "{problem:?}"
            ),
            _ => assert!(
                matches!(problem, ModelFileProblem::InvalidMetadata { .. }),
                "{problem:?}"
            ),
        }
    }
    // A plain checkpoint is not a pretraining checkpoint, and a pretraining checkpoint is not
    // a plain one (its finished layers' tensors are unexpected there).
    assert_eq!(
        refused(&deep_checkpoint(), load_pretraining),
        ModelFileProblem::NotACheckpoint
    );
    assert!(matches!(
        refused(&file.to_bytes(), load_checkpoint),
        ModelFileProblem::UnexpectedTensor { .. }
    ));
}

#[test]
fn a_classifier_checkpoint_and_an_autoencoder_checkpoint_are_not_each_other() {
    let dir = scratch("classifier");
    let path = dir.join("classifier.safetensors");
    let mut rng = common::rng(4);
    let encoder =
        StackedEncoder::<f32>::random(&[6, 4], Activation::Tanh, Init::GlorotUniform, &mut rng)
            .unwrap();
    let mut classifier =
        autoencoders::Classifier::new(encoder, 3, Init::GlorotUniform, &mut rng).unwrap();
    let labels: Vec<usize> = (0..24).map(|i| i % 3).collect();
    let config = TrainingConfig::default().with_epochs(1).with_batch_size(8);
    let mut run = TrainingRun::new(config, Adam::new(1e-2).unwrap(), common::rng(5))
        .with_checkpoints(Checkpointing::new(&path));
    classifier
        .fit_resumable(&data(), &labels, None, &mut run, &mut ())
        .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert!(ClassifierCheckpoint::<f32>::from_safetensors(&bytes, "ok").is_ok());
    assert!(matches!(
        refused(&bytes, load_checkpoint),
        ModelFileProblem::InvalidMetadata { .. }
    ));
    assert!(matches!(
        refused(&deep_checkpoint(), |b| {
            ClassifierCheckpoint::<f32>::from_safetensors(b, "hostile")
        }),
        ModelFileProblem::InvalidMetadata { .. }
    ));
    // A history entry with a field of the other kind of report.
    let file = ModelFile::parse(&bytes);
    let mut edited = file.clone();
    let key = "autoencoders.checkpoint";
    let mut record: Value =
        serde_json::from_str(edited.header["__metadata__"][key].as_str().unwrap()).unwrap();
    record["history"][0]["penalty"] = json!(0.0);
    let text = record.to_string();
    edited.header["__metadata__"]["autoencoders.checkpoint.crc32"] =
        Value::String(format!("{:08x}", crc32fast::hash(text.as_bytes())));
    edited.header["__metadata__"][key] = Value::String(text);
    assert!(matches!(
        refused(&edited.to_bytes(), |b| {
            ClassifierCheckpoint::<f32>::from_safetensors(b, "hostile")
        }),
        ModelFileProblem::InvalidMetadata { .. }
    ));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_checkpoint_listing_one_optimiser_state_many_times_is_refused_without_building_the_list() {
    let mut file = ModelFile::parse(&deep_checkpoint());
    let key = "autoencoders.checkpoint";
    let mut record: Value =
        serde_json::from_str(file.header["__metadata__"][key].as_str().unwrap()).unwrap();
    let state = record["optimizer"]["tensors"][0].clone();
    record["optimizer"]["tensors"] = json!(vec![state; 100_000]);
    let text = record.to_string();
    file.header["__metadata__"]["autoencoders.checkpoint.crc32"] =
        Value::String(format!("{:08x}", crc32fast::hash(text.as_bytes())));
    file.header["__metadata__"][key] = Value::String(text);
    match refused(&file.to_bytes(), load_checkpoint) {
        ModelFileProblem::InvalidMetadata { detail } => {
            assert!(detail.contains("lists 100000 tensors"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    // The same for hyper-parameters and counters: objects of 100 000 keys.
    for field in ["hyper_parameters", "counters"] {
        let mut edited = file.clone();
        let mut record: Value =
            serde_json::from_str(edited.header["__metadata__"][key].as_str().unwrap()).unwrap();
        record["optimizer"]["tensors"] = json!([]);
        let many: serde_json::Map<String, Value> =
            (0..100_000).map(|i| (format!("k{i}"), json!(1))).collect();
        record["optimizer"][field] = Value::Object(many);
        let text = record.to_string();
        edited.header["__metadata__"]["autoencoders.checkpoint.crc32"] =
            Value::String(format!("{:08x}", crc32fast::hash(text.as_bytes())));
        edited.header["__metadata__"][key] = Value::String(text);
        match refused(&edited.to_bytes(), load_checkpoint) {
            ModelFileProblem::InvalidMetadata { detail } => {
                assert!(detail.contains(&format!("100000 {field}")), "{detail}")
            }
            other => panic!("{field}: {other:?}"),
        }
    }
}
