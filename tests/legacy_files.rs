//! Files written by the crate before the metadata became one key (0.x up to commit 2b198d5,
//! where each record had a key of its own: `autoencoders`, `autoencoders.crc32`,
//! `autoencoders.checkpoint`, `autoencoders.detector`, …) still load, to the same model.
//!
//! The files in `tests/data/legacy/` were written by that version from the objects built here,
//! on one machine. Each loads and saves again to the same records and tensors in today's
//! layout, bit for bit. The objects built here again are compared with them to 1e-9 relative:
//! a trained value is rounded differently in its last bits on a CPU with other vector units (the
//! seeded runs repeat bit for bit on one machine, at any thread count, not across CPUs).

use autoencoders::anomaly::{AnomalyDetector, Threshold};
use autoencoders::data::{FittedScaler, Scaler};
use autoencoders::{
    Adam, Checkpoint, DeepAutoencoder, DenseBuilder, DynamicAutoencoder, L1Sparsity, LayerSpec,
    LayerwisePretrainer, Masking, Optimizer, PretrainedStack, TrainingConfig, TrainingRun,
    WeightDecay,
};
use common::model_file::{ModelFile, WHOLE_FILE_KEY};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use serde_json::Value;
use std::path::{Path, PathBuf};

mod common;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/legacy")
        .join(name)
}

fn data() -> DMatrix<f64> {
    DMatrix::from_fn(40, 6, |i, j| ((i * 5 + j * 3) % 11) as f64 / 11.0)
}

fn model() -> DynamicAutoencoder<f64> {
    DenseBuilder::new(6, 3)
        .build::<f64, _>(&mut ChaCha8Rng::seed_from_u64(7))
        .unwrap()
        .with_regularizer(vec![
            L1Sparsity::new(0.01).unwrap().into(),
            WeightDecay::new(1e-3).unwrap().into(),
        ])
        .with_corruption(Masking::new(0.2).unwrap().into())
        .with_loss(Default::default())
}

fn config() -> TrainingConfig {
    TrainingConfig::default().with_epochs(4).with_batch_size(8)
}

fn stack() -> PretrainedStack<f64> {
    let quick = TrainingConfig::default().with_epochs(2);
    LayerwisePretrainer::new()
        .with_layer(LayerSpec::new(4).with_training(quick))
        .with_layer(LayerSpec::new(2).with_tied(true).with_training(quick))
        .pretrain(&data(), &mut ChaCha8Rng::seed_from_u64(3))
        .unwrap()
}

fn detector() -> (AnomalyDetector<DynamicAutoencoder<f64>>, FittedScaler) {
    let raw = data().map(|v| v * 10.0 - 2.0);
    let scaler = Scaler::MinMax.fit(&raw).unwrap();
    let x = scaler.transform(&raw).unwrap();
    let detector = AnomalyDetector::fit(model(), &x, Threshold::Contamination(0.1)).unwrap();
    (detector, scaler)
}

/// The run the checkpoint fixture was taken from: two epochs of four.
fn run(epochs: usize) -> TrainingRun<Box<dyn Optimizer<f64>>> {
    TrainingRun::new(
        config().with_epochs(epochs),
        Box::new(Adam::new(1e-2).unwrap()),
        ChaCha8Rng::seed_from_u64(5),
    )
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("autoencoders-legacy-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What a file says, its layout aside: the records by key (the envelope unpacked, the
/// whole-file checksum left out) and the tensors.
type Contents = (
    serde_json::Map<String, Value>,
    Vec<(String, String, Vec<u64>, Vec<u8>)>,
);

fn contents(path: &Path) -> Contents {
    let file = ModelFile::parse(&std::fs::read(path).unwrap());
    let mut records = serde_json::Map::new();
    for (key, text) in file.header["__metadata__"].as_object().unwrap() {
        if key != WHOLE_FILE_KEY {
            let text = text.as_str().unwrap();
            let record = serde_json::from_str(text).unwrap_or(Value::String(text.to_owned()));
            records.insert(key.clone(), record);
        }
    }
    (records, file.tensors())
}

/// The old file at `fixture`, loaded and saved again by `resave` (to the path it is given):
/// the new file has the one key and says what the old one said, bit for bit.
fn resaves_to_the_same(name: &str, resave: impl FnOnce(&Path)) {
    let path = scratch(name).join("new.safetensors");
    resave(&path);
    let new = ModelFile::parse(&std::fs::read(&path).unwrap());
    assert!(new.enveloped, "saved in the envelope");
    let bytes = std::fs::read(&path).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let keys: Vec<&String> = header["__metadata__"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["autoencoders"], "one metadata key");
    let old = ModelFile::parse(&std::fs::read(fixture(name)).unwrap());
    assert!(!old.enveloped, "the fixture is of the old layout");
    assert_eq!(contents(&path), contents(&fixture(name)));
}

/// Whether two JSON values agree, numbers to 1e-9 relative; the data checksums (`crc32`) of
/// the files are left out, as they follow the tensors' last bits.
fn json_close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => close(x.as_f64().unwrap(), y.as_f64().unwrap()),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_close(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.keys().eq(y.keys()) && x.iter().all(|(k, v)| k == "crc32" || json_close(v, &y[k]))
        }
        _ => a == b,
    }
}

fn close(x: f64, y: f64) -> bool {
    (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1e-300)
}

/// The file the object built here again saves to agrees with the fixture: the same records,
/// tensors of the same names, dtypes and shapes, values to 1e-9 relative.
fn built_again_agrees(name: &str, save: impl FnOnce(&Path)) {
    let path = scratch(&format!("{name}-built")).join("built.safetensors");
    save(&path);
    let (records, tensors) = contents(&path);
    let (old_records, old_tensors) = contents(&fixture(name));
    assert!(
        json_close(&Value::Object(records), &Value::Object(old_records)),
        "records of {name}"
    );
    assert_eq!(tensors.len(), old_tensors.len());
    for (new, old) in tensors.iter().zip(&old_tensors) {
        assert_eq!((&new.0, &new.1, &new.2), (&old.0, &old.1, &old.2));
        assert_eq!(new.1, "F64");
        let values = |bytes: &[u8]| -> Vec<f64> {
            bytes
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                .collect()
        };
        let (new_values, old_values) = (values(&new.3), values(&old.3));
        assert!(
            new_values
                .iter()
                .zip(&old_values)
                .all(|(a, b)| close(*a, *b)),
            "tensor {} of {name}",
            new.0
        );
    }
}

#[test]
fn an_old_model_loads_to_the_same_model() {
    let loaded = DynamicAutoencoder::<f64>::load(fixture("model.safetensors")).unwrap();
    let built = model();
    // Nothing trained: the built model is the same bit for bit on every machine.
    assert_eq!(loaded.parameters(), built.parameters());
    assert_eq!(loaded.regularizer(), built.regularizer());
    assert_eq!(loaded.corruption(), built.corruption());
    assert_eq!(
        loaded.reconstruct(&data()).unwrap(),
        built.reconstruct(&data()).unwrap()
    );
    resaves_to_the_same("model.safetensors", |path| loaded.save(path).unwrap());
}

#[test]
fn an_old_stack_and_deep_autoencoder_load_to_the_same_ones() {
    let loaded = PretrainedStack::<f64>::load(fixture("stack.safetensors")).unwrap();
    resaves_to_the_same("stack.safetensors", |path| loaded.save(path).unwrap());
    let built = stack();
    built_again_agrees("stack.safetensors", |path| built.save(path).unwrap());
    let deep = DeepAutoencoder::<f64>::load(fixture("deep.safetensors")).unwrap();
    resaves_to_the_same("deep.safetensors", |path| deep.save(path).unwrap());
    built_again_agrees("deep.safetensors", |path| {
        built.deep_autoencoder().unwrap().save(path).unwrap()
    });
    // The deep autoencoder was unrolled from the stack: the loaded ones agree bit for bit.
    let x = data();
    assert_eq!(
        deep.reconstruct(&x).unwrap(),
        loaded.deep_autoencoder().unwrap().reconstruct(&x).unwrap()
    );
}

#[test]
fn an_old_detector_loads_with_its_threshold_and_scaler() {
    let (loaded, loaded_scaler) =
        AnomalyDetector::<DynamicAutoencoder<f64>>::load(fixture("detector.safetensors")).unwrap();
    resaves_to_the_same("detector.safetensors", |path| {
        loaded.save(path, loaded_scaler.as_ref()).unwrap()
    });
    let (built, scaler) = detector();
    built_again_agrees("detector.safetensors", |path| {
        built.save(path, Some(&scaler)).unwrap()
    });
    assert!(close(loaded.threshold(), built.threshold()));
    // Scores, not flags: one training score is the threshold itself, and a score recomputed on
    // another CPU may land an ulp to either side of it.
    let x = data();
    let (ours, theirs) = (loaded.scores(&x).unwrap(), built.scores(&x).unwrap());
    assert!(ours.iter().zip(&theirs).all(|(a, b)| close(*a, *b)));
    assert_eq!(ours.len(), x.nrows());
}

/// The checkpoint fixture, in today's layout: the same records in the envelope.
fn checkpoint_in_the_envelope() -> PathBuf {
    let old = std::fs::read(fixture("checkpoint.safetensors")).unwrap();
    let mut file = ModelFile::parse(&old);
    assert!(
        file.header["__metadata__"]
            .as_object()
            .unwrap()
            .contains_key(WHOLE_FILE_KEY)
    );
    file.enveloped = true;
    let path = scratch("checkpoint").join("new.safetensors");
    std::fs::write(&path, file.to_bytes()).unwrap();
    path
}

fn resumed_from(path: &Path) -> DynamicAutoencoder<f64> {
    let checkpoint = Checkpoint::<f64>::load(path).unwrap();
    assert_eq!(checkpoint.epochs_done(), 2);
    let mut resumed = model();
    // The fixture's run was of two epochs; the same run continues to four.
    let mut run = checkpoint
        .resume(&mut resumed, run(4).into_parts().0)
        .unwrap()
        .with_epochs(4);
    resumed
        .fit_resumable(&data(), None, &mut run, &mut ())
        .unwrap();
    resumed
}

#[test]
fn an_old_checkpoint_resumes_to_the_unbroken_run() {
    let resumed = resumed_from(&fixture("checkpoint.safetensors"));
    // The same checkpoint in today's layout resumes to the same model, bit for bit.
    let new = checkpoint_in_the_envelope();
    assert!(ModelFile::parse(&std::fs::read(&new).unwrap()).enveloped);
    assert_eq!(resumed.parameters(), resumed_from(&new).parameters());
    // And that is the unbroken run's model (to the last bits of the machine that wrote it).
    let mut whole = model();
    let mut unbroken = run(4);
    whole
        .fit_resumable(&data(), None, &mut unbroken, &mut ())
        .unwrap();
    for (a, b) in resumed.parameters().iter().zip(whole.parameters()) {
        assert_eq!(a.len(), b.len());
        assert!(
            a.iter().zip(b.iter()).all(|(x, y)| close(*x, *y)),
            "{a:?} vs {b:?}"
        );
    }
}
