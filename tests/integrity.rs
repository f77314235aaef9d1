//! Integrity of the whole file: the checksum covers the header and the metadata as well as the
//! data, no key may appear twice anywhere in a header, and the same state always gives the
//! same bytes (models and checkpoints alike).

mod common;

use autoencoders::persistence::{ModelFileProblem, WHOLE_FILE_KEY};
use autoencoders::{
    Adam, Checkpoint, Checkpointing, Contractive, DenseBuilder, DynamicAutoencoder, Error, Masking,
    ReconstructionLoss, TrainingConfig, TrainingRun,
};
use common::model_file::{ModelFile, frame};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use serde_json::Value;

fn valid() -> ModelFile {
    let bytes = DenseBuilder::new(6, 3)
        .build::<f32, _>(&mut common::rng(7))
        .unwrap()
        .with_regularizer(Contractive::new(0.25).unwrap())
        .with_corruption(Masking::new(0.3).unwrap())
        .with_loss(ReconstructionLoss::CrossEntropy)
        .to_safetensors()
        .unwrap();
    ModelFile::parse(&bytes)
}

fn problem(bytes: &[u8]) -> ModelFileProblem {
    match DynamicAutoencoder::<f32>::from_safetensors(bytes, "edited") {
        Err(Error::ModelFile { problem, .. }) => problem,
        other => panic!("expected a model file error, got {other:?}"),
    }
}

#[test]
fn the_checksum_is_the_one_the_format_defines() {
    let file = valid();
    let stored = file.header["__metadata__"][WHOLE_FILE_KEY]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(stored, file.whole_file_crc());
    assert!(DynamicAutoencoder::<f32>::from_safetensors(&file.to_bytes_as_is(), "same").is_ok());
}

/// An edit of a model file.
type Edit = Box<dyn Fn(&mut ModelFile)>;

#[test]
fn an_edit_of_the_metadata_or_the_layout_is_detected() {
    let edits: Vec<(&str, Edit)> = vec![
        (
            "the encoder's activation",
            Box::new(|f| f.edit_record(|r| r["encoder_activation"] = "tanh".into())),
        ),
        (
            "the loss",
            Box::new(|f| f.edit_record(|r| r["loss"] = "squared-error".into())),
        ),
        (
            "a digit of λ",
            Box::new(|f| {
                let text = f.header["__metadata__"]["autoencoders"]
                    .as_str()
                    .unwrap()
                    .replace("0.25", "0.35");
                f.header["__metadata__"]["autoencoders"] = Value::String(text);
            }),
        ),
        (
            "two tensors' offsets swapped",
            Box::new(|f| {
                // The two biases' entries swapped whole, shapes and offsets with them: every
                // tensor still fits the layout, so only the checksum can tell.
                let a = f.header["encoder.bias"].clone();
                let b = f.header["decoder.bias"].clone();
                f.header["encoder.bias"] = b;
                f.header["decoder.bias"] = a;
            }),
        ),
        (
            "a metadata entry added",
            Box::new(|f| f.header["__metadata__"]["note"] = "hello".into()),
        ),
    ];
    for (what, edit) in edits {
        let mut file = valid();
        edit(&mut file);
        file.fix_checksum(); // even with the data's own checksum made right
        let bytes = file.to_bytes_as_is();
        assert!(
            matches!(problem(&bytes), ModelFileProblem::ChecksumMismatch { .. }),
            "{what}: {:?}",
            problem(&bytes)
        );
    }
}

/// The header text of `file` with `replace` applied, framed again (the edit is made on the
/// text, since a JSON map cannot hold a key twice).
fn with_header_text(file: &ModelFile, replace: impl Fn(&str) -> String) -> Vec<u8> {
    let text = serde_json::to_string(&file.header).unwrap();
    frame(replace(&text).as_bytes(), &file.data)
}

#[test]
fn a_key_listed_twice_is_refused_anywhere() {
    let file = valid();
    // A tensor listed twice: first as I32, then as it is.
    let twice_tensor = with_header_text(&file, |t| {
        let entry = serde_json::to_string(&file.header["encoder.bias"]).unwrap();
        let bad = entry.replace("F32", "I32");
        t.replacen(
            "\"encoder.bias\":",
            &format!("\"encoder.bias\":{bad},\"encoder.bias\":"),
            1,
        )
    });
    // Two model records.
    let record = serde_json::to_string(&file.header["__metadata__"]["autoencoders"]).unwrap();
    let twice_record = with_header_text(&file, |t| {
        t.replacen(
            "\"autoencoders\":",
            &format!(
                "\"autoencoders\":{},\"autoencoders\":",
                record.replace("0.25", "0.5")
            ),
            1,
        )
    });
    // A field twice inside the model record's own JSON.
    let twice_field = with_header_text(&file, |t| {
        t.replacen(
            "\\\"tied\\\":false",
            "\\\"tied\\\":true,\\\"tied\\\":false",
            1,
        )
    });
    for (what, bytes) in [
        ("tensor", twice_tensor),
        ("record", twice_record),
        ("field", twice_field),
    ] {
        assert!(
            matches!(problem(&bytes), ModelFileProblem::DuplicateKey { .. }),
            "{what}: {:?}",
            problem(&bytes)
        );
    }
}

#[test]
fn unknown_keys_of_ours_are_refused() {
    let mut file = valid();
    file.header["__metadata__"]["autoencoders.crc64"] = "0".into();
    assert!(matches!(
        problem(&file.to_bytes()),
        ModelFileProblem::InvalidMetadata { .. }
    ));
}

#[test]
fn the_same_state_gives_the_same_bytes() {
    let dir = std::env::temp_dir().join(format!("autoencoders-integrity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let x = DMatrix::from_fn(40, 6, |i, j| ((i * 7 + j * 3) % 10) as f32 / 10.0);
    let mut files = Vec::new();
    for attempt in 0..4 {
        let path = dir.join(format!("run-{attempt}.safetensors"));
        let mut model = DenseBuilder::new(6, 3)
            .build::<f32, _>(&mut common::rng(5))
            .unwrap()
            .with_corruption(Masking::new(0.2).unwrap());
        let mut run = TrainingRun::new(
            TrainingConfig::default().with_epochs(2).with_batch_size(8),
            Adam::new(0.01).unwrap(),
            ChaCha8Rng::seed_from_u64(3),
        )
        .with_checkpoints(Checkpointing::new(&path));
        model
            .fit_resumable(&x, Some(&x), &mut run, &mut ())
            .unwrap();
        Checkpoint::<f32>::load(&path).unwrap();
        files.push((
            std::fs::read(&path).unwrap(),
            model.to_safetensors().unwrap(),
        ));
    }
    for (checkpoint, model) in &files[1..] {
        assert_eq!(checkpoint, &files[0].0, "checkpoints differ");
        assert_eq!(model, &files[0].1, "model files differ");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_checkpoint_that_did_more_epochs_than_planned_is_refused() {
    let x = DMatrix::from_fn(16, 6, |i, j| ((i + 2 * j) % 5) as f32 / 5.0);
    let mut model = DenseBuilder::new(6, 3)
        .build::<f32, _>(&mut common::rng(5))
        .unwrap();
    let dir = std::env::temp_dir().join(format!("autoencoders-exhausted-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.safetensors");
    let mut run = TrainingRun::new(
        TrainingConfig::default().with_epochs(2).with_batch_size(8),
        Adam::new(0.01).unwrap(),
        ChaCha8Rng::seed_from_u64(3),
    )
    .with_checkpoints(Checkpointing::new(&path));
    model.fit_resumable(&x, None, &mut run, &mut ()).unwrap();
    let mut file = ModelFile::parse(&std::fs::read(&path).unwrap());
    // Every checksum made right again, so that only the contradiction is left.
    let text = file.header["__metadata__"]["autoencoders.checkpoint"]
        .as_str()
        .unwrap()
        .replace("\"epochs_done\":2", "\"epochs_done\":5");
    let crc = format!("{:08x}", crc32fast::hash(text.as_bytes()));
    file.header["__metadata__"]["autoencoders.checkpoint"] = Value::String(text);
    file.header["__metadata__"]["autoencoders.checkpoint.crc32"] = Value::String(crc);
    match Checkpoint::<f32>::from_safetensors(&file.to_bytes(), "exhausted") {
        Err(Error::ModelFile {
            problem: ModelFileProblem::InvalidMetadata { detail },
            ..
        }) => assert!(detail.contains("exceeds"), "{detail}"),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a checkpoint past its planned epochs loaded"),
    }
    std::fs::remove_dir_all(dir).unwrap();
}
