//! Files written by the crate before the metadata became one key (0.x up to commit 2b198d5,
//! where each record had a key of its own: `autoencoders`, `autoencoders.crc32`,
//! `autoencoders.checkpoint`, `autoencoders.detector`, …) still load, to the same model.
//!
//! The files in `tests/data/legacy/` were written by that version from the objects built here.

use autoencoders::anomaly::{AnomalyDetector, Threshold};
use autoencoders::data::{FittedScaler, Scaler};
use autoencoders::{
    Adam, Checkpoint, DeepAutoencoder, DenseBuilder, DynamicAutoencoder, L1Sparsity, LayerSpec,
    LayerwisePretrainer, Masking, Optimizer, PretrainedStack, TrainingConfig, TrainingRun,
    WeightDecay,
};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use std::path::PathBuf;

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

#[test]
fn an_old_model_loads_to_the_same_model() {
    let loaded = DynamicAutoencoder::<f64>::load(fixture("model.safetensors")).unwrap();
    let built = model();
    assert_eq!(loaded.parameters(), built.parameters());
    assert_eq!(loaded.regularizer(), built.regularizer());
    assert_eq!(loaded.corruption(), built.corruption());
    assert_eq!(
        loaded.reconstruct(&data()).unwrap(),
        built.reconstruct(&data()).unwrap()
    );
}

#[test]
fn an_old_stack_and_deep_autoencoder_load_to_the_same_ones() {
    let built = stack();
    let loaded = PretrainedStack::<f64>::load(fixture("stack.safetensors")).unwrap();
    assert_eq!(loaded.encoder, built.encoder);
    assert_eq!(loaded.decoders, built.decoders);
    assert_eq!(loaded.histories, built.histories);
    let deep = DeepAutoencoder::<f64>::load(fixture("deep.safetensors")).unwrap();
    let x = data();
    assert_eq!(
        deep.reconstruct(&x).unwrap(),
        built.deep_autoencoder().unwrap().reconstruct(&x).unwrap()
    );
}

#[test]
fn an_old_detector_loads_with_its_threshold_and_scaler() {
    let (built, scaler) = detector();
    let (loaded, loaded_scaler) =
        AnomalyDetector::<DynamicAutoencoder<f64>>::load(fixture("detector.safetensors")).unwrap();
    assert_eq!(loaded.threshold(), built.threshold());
    assert_eq!(loaded_scaler, Some(scaler));
    let x = data();
    assert_eq!(loaded.predict(&x).unwrap(), built.predict(&x).unwrap());
}

#[test]
fn an_old_checkpoint_resumes_to_the_unbroken_run() {
    let mut whole = model();
    let mut unbroken = run(4);
    whole
        .fit_resumable(&data(), None, &mut unbroken, &mut ())
        .unwrap();
    let checkpoint = Checkpoint::<f64>::load(fixture("checkpoint.safetensors")).unwrap();
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
    assert_eq!(resumed.parameters(), whole.parameters());
}
