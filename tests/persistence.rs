//! Saving and loading: bit-exact round trips, PyTorch's names and layouts, typed errors, and an
//! independent NumPy implementation that reads what we save and writes what we load.

mod common;

use autoencoders::data::bundled_digits;
use autoencoders::persistence::ModelFileProblem;
use autoencoders::{
    Activation, BuiltinCorruption, BuiltinLoss, BuiltinRegularizer, Contractive, Correntropy,
    DenseAutoencoder, DenseBuilder, DynamicAutoencoder, Error, GaussianNoise, KlSparsity,
    L1Sparsity, L2Sparsity, Masking, ReconstructionLoss, Regularizer, RegularizerGradient,
    RegularizerInput, Scalar, WeightDecay,
};
use nalgebra::DMatrix;
use std::path::PathBuf;
use std::process::Command;

/// A fresh folder under the system's temporary folder.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("autoencoders-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn trained<T: Scalar>(tied: bool) -> DenseAutoencoder<T> {
    let x = bundled_digits::<T>()
        .unwrap()
        .train_images
        .rows(0, 64)
        .into_owned();
    let mut model = DenseBuilder::new(784, 16)
        .with_encoder_activation(Activation::Tanh)
        .with_tied(tied)
        .build::<T, _>(&mut common::rng(1))
        .unwrap();
    let config = autoencoders::TrainingConfig::default().with_epochs(1);
    model
        .fit(
            &x,
            &config,
            &mut autoencoders::Adam::new(1e-3).unwrap(),
            &mut common::rng(2),
        )
        .unwrap();
    model
}

fn round_trip<T: Scalar>() {
    let dir = scratch(&format!("round-trip-{}", T::NAME));
    for tied in [false, true] {
        let model = trained::<T>(tied)
            .with_regularizer((
                Contractive::new(0.25).unwrap(),
                KlSparsity::new(0.05, 3.0).unwrap(),
                L1Sparsity::new(1e-3).unwrap(),
                L2Sparsity::new(2e-3).unwrap(),
                WeightDecay::new(1e-4).unwrap(),
            ))
            .with_corruption(Masking::new(0.3).unwrap())
            .with_loss(ReconstructionLoss::CrossEntropy);
        let path = dir.join(format!("model-{tied}.safetensors"));
        model.save(&path).unwrap();
        let loaded = DynamicAutoencoder::<T>::load(&path).unwrap();
        // Bit-exact: compare the raw bits, not approximately.
        let bits = |p: Vec<&[T]>| -> Vec<Vec<u64>> {
            p.iter()
                .map(|t| t.iter().map(|v| v.as_f64().to_bits()).collect())
                .collect()
        };
        assert_eq!(bits(loaded.parameters()), bits(model.parameters()));
        assert_eq!(loaded.parameter_names(), model.parameter_names());
        assert_eq!(loaded.architecture(), model.architecture());
        let expected: Vec<BuiltinRegularizer> =
            Regularizer::<T>::builtin(model.regularizer()).unwrap();
        assert_eq!(loaded.regularizer(), &expected);
        assert_eq!(
            loaded.corruption(),
            &BuiltinCorruption::Masking(Masking::new(0.3).unwrap())
        );
        assert_eq!(*loaded.loss(), ReconstructionLoss::CrossEntropy);
        // Saving is deterministic, and saving the loaded model again gives the same bytes.
        let original = model.to_safetensors().unwrap();
        assert!(
            original == model.to_safetensors().unwrap(),
            "two saves differ"
        );
        assert!(
            original == loaded.to_safetensors().unwrap(),
            "the re-saved file differs"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn save_and_load_round_trip_bit_exactly_f32() {
    round_trip::<f32>();
}

#[test]
fn save_and_load_round_trip_bit_exactly_f64() {
    round_trip::<f64>();
}

#[test]
fn tensors_have_pytorch_names_shapes_and_dtypes() {
    let model = trained::<f32>(false);
    let bytes = model.to_safetensors().unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    for (name, shape) in [
        ("encoder.weight", [16, 784].as_slice()),
        ("encoder.bias", &[16]),
        ("decoder.weight", &[784, 16]),
        ("decoder.bias", &[784]),
    ] {
        assert_eq!(header[name]["dtype"], "F32", "{name}");
        assert_eq!(header[name]["shape"], serde_json::json!(shape), "{name}");
    }
    // Row-major: element [1, 2] of encoder.weight is W[(1, 2)].
    let start = header["encoder.weight"]["data_offsets"][0]
        .as_u64()
        .unwrap() as usize;
    let at = 8 + header_len + start + (784 + 2) * 4;
    let value = f32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!(value, model.encoder().weights()[(1, 2)]);
    let tied = trained::<f64>(true).to_safetensors().unwrap();
    let header_len = u64::from_le_bytes(tied[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&tied[8..8 + header_len]).unwrap();
    assert!(
        header.get("decoder.weight").is_none(),
        "a tied model has no decoder.weight"
    );
    assert_eq!(header["encoder.weight"]["dtype"], "F64");
    let metadata = header["__metadata__"].as_object().unwrap();
    // One metadata key, `autoencoders`: the envelope, its format, the model record and the
    // whole-file checksum as sections, written in sorted order so that files are
    // deterministic (see `saving_twice_gives_the_same_bytes`).
    let keys: Vec<&str> = metadata.keys().map(String::as_str).collect();
    assert_eq!(keys, ["autoencoders"]);
    let envelope_text = metadata["autoencoders"].as_str().unwrap();
    assert!(
        envelope_text.starts_with("{\"crc32\":\""),
        "{envelope_text}"
    );
    assert!(
        envelope_text.contains("\",\"format\":2,\"model\":{"),
        "{envelope_text}"
    );
    let envelope: serde_json::Value = serde_json::from_str(envelope_text).unwrap();
    let sections: Vec<&str> = envelope
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(sections, ["crc32", "format", "model"]);
    assert_eq!(envelope["crc32"].as_str().unwrap().len(), 8);
    let meta = &envelope["model"];
    assert_eq!(meta["crc32"].as_str().unwrap().len(), 8);
    assert_eq!(meta["tied"], true);
    assert_eq!(meta["encoder_activation"], "tanh");
}

fn problem(result: Result<DynamicAutoencoder<f32>, Error>) -> ModelFileProblem {
    match result {
        Err(Error::ModelFile { problem, .. }) => problem,
        other => panic!("expected a model file error, got {other:?}"),
    }
}

#[test]
fn files_that_do_not_fit_give_typed_errors() {
    let good = trained::<f32>(false).to_safetensors().unwrap();
    let load = |bytes: &[u8]| DynamicAutoencoder::<f32>::from_safetensors(bytes, "test");
    assert!(load(&good).is_ok());
    assert_eq!(problem(load(&good[..5])), ModelFileProblem::HeaderTooSmall);
    assert_eq!(
        problem(load(&good[..good.len() - 1])),
        ModelFileProblem::DataLengthMismatch
    );
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x40;
    assert!(matches!(
        problem(load(&flipped)),
        ModelFileProblem::ChecksumMismatch { .. }
    ));
    assert!(matches!(
        problem(DynamicAutoencoder::<f64>::from_safetensors(&good, "test").map(|_| unreachable!())),
        ModelFileProblem::WrongDtype { .. }
    ));

    // A user-defined regularizer is saved by name, and loading says so.
    struct Mine;
    impl Regularizer<f32> for Mine {
        fn name(&self) -> &'static str {
            "mine"
        }
        fn penalty(
            &self,
            _: &RegularizerInput<'_, f32>,
            _: &mut RegularizerGradient<'_, f32>,
        ) -> f32 {
            0.0
        }
    }
    let custom = trained::<f32>(false)
        .with_regularizer(Mine)
        .to_safetensors()
        .unwrap();
    assert_eq!(
        problem(load(&custom)),
        ModelFileProblem::CustomComponent {
            component: "regularizer",
            name: "mine".into()
        }
    );

    // Weights of another size than the architecture asks for.
    let dir = scratch("mismatch");
    let path = dir.join("m.safetensors");
    trained::<f32>(false).save(&path).unwrap();
    let wrong = DenseAutoencoder::<f32>::load_weights(&path, &DenseBuilder::new(784, 8));
    assert!(matches!(
        wrong,
        Err(Error::ModelFile {
            problem: ModelFileProblem::WrongShape { .. },
            ..
        })
    ));
    let wrong =
        DenseAutoencoder::<f32>::load_weights(&path, &DenseBuilder::new(784, 16).with_tied(true));
    assert!(matches!(
        wrong,
        Err(Error::ModelFile {
            problem: ModelFileProblem::UnexpectedTensor { .. },
            ..
        })
    ));
    let mut model = DenseBuilder::new(784, 16)
        .build::<f32, _>(&mut common::rng(9))
        .unwrap();
    let before = model
        .parameters()
        .iter()
        .map(|p| p.to_vec())
        .collect::<Vec<_>>();
    assert!(
        model
            .load_parameters(dir.join("missing.safetensors"))
            .is_err()
    );
    assert_eq!(
        model
            .parameters()
            .iter()
            .map(|p| p.to_vec())
            .collect::<Vec<_>>(),
        before
    );
    model.load_parameters(&path).unwrap();
    assert_eq!(model.parameters(), trained::<f32>(false).parameters());
    std::fs::remove_dir_all(dir).unwrap();
}

/// The environment variable that opts in to the cross-checks against NumPy.
const ORACLE_VARIABLE: &str = "AUTOENCODERS_NUMPY_ORACLE";

/// Whether the NumPy cross-checks run: only when [`ORACLE_VARIABLE`] is `1`, which `.ci/run`
/// sets after installing NumPy and safetensors. Otherwise the test says plainly that it was
/// skipped and how to run it, so that `cargo test` passes on a machine with Rust alone. The
/// message goes straight to the standard error stream, past the test harness's capture, so it
/// shows in an ordinary `cargo test` run.
fn oracle_enabled(test: &str) -> bool {
    use std::io::Write;
    match std::env::var(ORACLE_VARIABLE).as_deref() {
        Ok("1") => true,
        Ok(other) => panic!("{ORACLE_VARIABLE} must be 1 or unset, not {other:?}"),
        Err(_) => {
            let _ = writeln!(
                std::io::stderr(),
                "skipped {test}: the NumPy cross-check is opt-in; run it with \
                 `python3 -m pip install numpy safetensors` and \
                 `{ORACLE_VARIABLE}=1 cargo test --release --test persistence`"
            );
            false
        }
    }
}

/// Python with NumPy and safetensors, which `.ci/run` installs. Once opted in, a missing
/// Python or NumPy fails the test: CI must never skip the oracle silently.
fn python(args: &[&str]) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oracle/reconstruct.py");
    let output = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 must be installed for the cross-check");
    assert!(
        output.status.success(),
        "the NumPy oracle failed (python3 -m pip install numpy safetensors):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The tensor `reconstructions` from a file the oracle wrote (f64, no metadata of ours).
fn read_reconstructions(path: &std::path::Path, n: usize) -> DMatrix<f64> {
    let bytes = std::fs::read(path).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    assert_eq!(header["reconstructions"]["dtype"], "F64");
    let data = &bytes[8 + header_len..];
    let values: Vec<f64> = data
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    DMatrix::from_row_slice(n, 784, &values)
}

fn max_relative_difference<T: Scalar>(ours: &DMatrix<T>, theirs: &DMatrix<f64>) -> f64 {
    ours.iter()
        .zip(theirs.iter())
        .map(|(&a, &b)| (a.as_f64() - b).abs() / b.abs().max(1e-3))
        .fold(0.0, f64::max)
}

fn numpy_reads_what_we_save<T: Scalar>(tolerance: f64) {
    if !oracle_enabled(&format!("numpy_reads_what_we_save::<{}>", T::NAME)) {
        return;
    }
    let dir = scratch(&format!("numpy-reads-{}", T::NAME));
    let n = 200;
    let test = bundled_digits::<T>()
        .unwrap()
        .test_images
        .rows(0, n)
        .into_owned();
    for tied in [false, true] {
        let model = trained::<T>(tied).with_corruption(GaussianNoise::new(0.1).unwrap());
        let path = dir.join("model.safetensors");
        model.save(&path).unwrap();
        let out = dir.join("recon.safetensors");
        python(&[
            "evaluate",
            path.to_str().unwrap(),
            &n.to_string(),
            out.to_str().unwrap(),
        ]);
        let theirs = read_reconstructions(&out, n);
        let ours = model.reconstruct(&test).unwrap();
        let diff = max_relative_difference(&ours, &theirs);
        assert!(
            diff <= tolerance,
            "{} tied={tied}: max relative difference {diff:.2e}",
            T::NAME
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn numpy_reconstructs_the_test_digits_like_we_do_f64() {
    numpy_reads_what_we_save::<f64>(1e-12);
}

#[test]
fn numpy_reconstructs_the_test_digits_like_we_do_f32() {
    // f32 arithmetic against NumPy's f64: a few ulps of f32 per operation.
    numpy_reads_what_we_save::<f32>(1e-5);
}

fn we_load_a_plain_state_dict<T: Scalar>(tolerance: f64) {
    if !oracle_enabled(&format!("we_load_a_plain_state_dict::<{}>", T::NAME)) {
        return;
    }
    let dir = scratch(&format!("state-dict-{}", T::NAME));
    let n = 100;
    let test = bundled_digits::<T>()
        .unwrap()
        .test_images
        .rows(0, n)
        .into_owned();
    for tied in [false, true] {
        let model_path = dir.join("state_dict.safetensors");
        let out = dir.join("recon.safetensors");
        let dtype = if T::NAME == "f64" {
            "float64"
        } else {
            "float32"
        };
        python(&[
            "export",
            dtype,
            if tied { "tied" } else { "untied" },
            "7",
            model_path.to_str().unwrap(),
            &n.to_string(),
            out.to_str().unwrap(),
        ]);
        // No metadata of ours: the caller gives the architecture.
        assert!(matches!(
            DynamicAutoencoder::<T>::load(&model_path),
            Err(Error::ModelFile {
                problem: ModelFileProblem::MissingMetadata | ModelFileProblem::MissingChecksum,
                ..
            })
        ));
        let builder = DenseBuilder::new(784, 32).with_tied(tied);
        let model = DenseAutoencoder::<T>::load_weights(&model_path, &builder).unwrap();
        let diff = max_relative_difference(
            &model.reconstruct(&test).unwrap(),
            &read_reconstructions(&out, n),
        );
        assert!(
            diff <= tolerance,
            "{} tied={tied}: max relative difference {diff:.2e}",
            T::NAME
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn weights_saved_by_a_numpy_state_dict_load_f32() {
    we_load_a_plain_state_dict::<f32>(1e-5);
}

#[test]
fn weights_saved_by_a_numpy_state_dict_load_f64() {
    we_load_a_plain_state_dict::<f64>(1e-12);
}

#[test]
fn stacks_and_classifiers_round_trip_with_pytorch_style_names() {
    use autoencoders::{Classifier, Init, StackedEncoder};
    let mut r = common::rng(21);
    let stack = StackedEncoder::<f64>::random(
        &[784, 32, 16],
        Activation::Relu,
        Init::GlorotUniform,
        &mut r,
    )
    .unwrap();
    let loaded =
        StackedEncoder::<f64>::from_safetensors(&stack.to_safetensors().unwrap(), "s").unwrap();
    assert_eq!(loaded, stack);
    let classifier = Classifier::new(stack.clone(), 10, Init::GlorotUniform, &mut r).unwrap();
    let bytes = classifier.to_safetensors().unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    for (name, shape) in [
        ("encoders.0.weight", vec![32, 784]),
        ("encoders.1.bias", vec![16]),
        ("head.weight", vec![10, 16]),
        ("head.bias", vec![10]),
    ] {
        assert_eq!(header[name]["shape"], serde_json::json!(shape), "{name}");
    }
    let back = Classifier::<StackedEncoder<f64>>::from_safetensors(&bytes, "c").unwrap();
    assert_eq!(back.parameters(), classifier.parameters());
    let test = bundled_digits::<f64>()
        .unwrap()
        .test_images
        .rows(0, 20)
        .into_owned();
    assert_eq!(
        back.predict(&test).unwrap(),
        classifier.predict(&test).unwrap()
    );
    // A classifier file is not a bare stack, nor a one-layer autoencoder.
    assert!(StackedEncoder::<f64>::from_safetensors(&bytes, "c").is_err());
    assert!(DynamicAutoencoder::<f64>::from_safetensors(&bytes, "c").is_err());
}

#[test]
fn parameter_files_of_dense_models_keep_pytorch_names_and_layouts() {
    let dir = scratch("parameters");
    for tied in [false, true] {
        let model = trained::<f32>(tied);
        // The parameters file holds the same tensors, byte for byte, as the whole-model file,
        // so either loads into the other's reader.
        let parameters = dir.join(format!("parameters-{tied}.safetensors"));
        model.save_parameters(&parameters).unwrap();
        let builder = DenseBuilder::new(784, 16)
            .with_encoder_activation(Activation::Tanh)
            .with_tied(tied);
        let by_name = DenseAutoencoder::<f32>::load_weights(&parameters, &builder).unwrap();
        assert_eq!(by_name.parameters(), model.parameters());
        let whole = dir.join(format!("whole-{tied}.safetensors"));
        model.save(&whole).unwrap();
        let mut fresh = builder.build::<f32, _>(&mut common::rng(9)).unwrap();
        fresh.load_parameters(&whole).unwrap();
        assert_eq!(fresh.parameters(), model.parameters());
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_pretrained_deep_autoencoder_saves_and_loads_its_parameters() {
    let x = bundled_digits::<f32>()
        .unwrap()
        .train_images
        .rows(0, 64)
        .into_owned();
    let pretrain = |seed| {
        let quick = autoencoders::TrainingConfig::default().with_epochs(1);
        autoencoders::LayerwisePretrainer::new()
            .with_layer(autoencoders::LayerSpec::new(32).with_training(quick))
            .with_layer(
                autoencoders::LayerSpec::new(8)
                    .with_tied(true)
                    .with_training(quick),
            )
            .pretrain(&x, &mut common::rng(seed))
            .unwrap()
            .deep_autoencoder()
            .unwrap()
    };
    let deep = pretrain(10);
    assert_eq!(
        deep.parameter_names(),
        [
            "encoder.0.weight",
            "encoder.0.bias",
            "encoder.1.weight",
            "encoder.1.bias",
            "decoder.0.weight",
            "decoder.0.bias",
            "decoder.1.weight",
            "decoder.1.bias",
        ]
    );
    assert_eq!(deep.parameter_shapes()[4], [32, 8]);
    let bytes = deep.parameters_to_safetensors().unwrap();
    let mut other = pretrain(11);
    other
        .load_parameters_from_safetensors(&bytes, "deep")
        .unwrap();
    assert_eq!(other.parameters(), deep.parameters());
    assert_eq!(
        other.reconstruct(&x).unwrap(),
        deep.reconstruct(&x).unwrap()
    );
    // Into a model of another dtype: refused by the record, before any tensor is read.
    let mut wide = DenseBuilder::new(784, 16)
        .build::<f64, _>(&mut common::rng(12))
        .unwrap();
    assert!(matches!(
        wide.load_parameters_from_safetensors(&bytes, "deep"),
        Err(Error::ModelFile {
            problem: ModelFileProblem::WrongDtype { .. },
            ..
        })
    ));
}

fn pretrained_deep(seed: u64) -> autoencoders::DeepAutoencoder<f32> {
    let x = bundled_digits::<f32>()
        .unwrap()
        .train_images
        .rows(0, 64)
        .into_owned();
    let quick = autoencoders::TrainingConfig::default().with_epochs(1);
    autoencoders::LayerwisePretrainer::new()
        .with_layer(
            autoencoders::LayerSpec::new(32)
                .with_activation(Activation::Relu)
                .with_training(quick),
        )
        .with_layer(
            autoencoders::LayerSpec::new(8)
                .with_tied(true)
                .with_decoder_activation(Activation::Tanh)
                .with_training(quick),
        )
        .pretrain(&x, &mut common::rng(seed))
        .unwrap()
        .deep_autoencoder()
        .unwrap()
        .with_regularizer(vec![
            BuiltinRegularizer::from(Contractive::new(0.1).unwrap()),
            BuiltinRegularizer::from(WeightDecay::new(0.01).unwrap()),
        ])
        .with_corruption(BuiltinCorruption::from(Masking::new(0.2).unwrap()))
        .with_loss(autoencoders::BuiltinLoss::default())
}

#[test]
fn a_deep_autoencoder_saves_and_loads_with_its_whole_architecture() {
    let dir = scratch("deep");
    let path = dir.join("deep.safetensors");
    let deep = pretrained_deep(20);
    deep.save(&path).unwrap();
    let loaded = autoencoders::DeepAutoencoder::<f32>::load(&path).unwrap();
    assert_eq!(loaded.parameters(), deep.parameters());
    assert_eq!(loaded.parameter_names(), deep.parameter_names());
    assert_eq!(loaded.regularizer(), deep.regularizer());
    assert_eq!(loaded.corruption(), deep.corruption());
    let activations = |m: &autoencoders::DeepAutoencoder<f32>| -> Vec<Activation> {
        let mut a: Vec<Activation> = m
            .encoder()
            .layers()
            .iter()
            .map(|l| l.activation())
            .collect();
        a.extend(
            m.decoder()
                .layers()
                .iter()
                .map(autoencoders::Decoder::activation),
        );
        a
    };
    assert_eq!(activations(&loaded), activations(&deep));
    let x = bundled_digits::<f32>()
        .unwrap()
        .test_images
        .rows(0, 16)
        .into_owned();
    assert_eq!(
        loaded.reconstruct(&x).unwrap(),
        deep.reconstruct(&x).unwrap()
    );
    // The same file loads into a deep autoencoder built alike, by name.
    let mut built = pretrained_deep(21);
    built.load_parameters(&path).unwrap();
    assert_eq!(built.parameters(), deep.parameters());
    // A parameters file records no architecture: loading it whole says what to do instead.
    let bare = dir.join("bare.safetensors");
    deep.save_parameters(&bare).unwrap();
    match autoencoders::DeepAutoencoder::<f32>::load(&bare) {
        Err(Error::ModelFile {
            problem: ModelFileProblem::InvalidMetadata { detail },
            ..
        }) => assert!(detail.contains("no architecture"), "{detail}"),
        other => panic!("{other:?}"),
    }
    // Every bit flipped, one at a time, in every 11th byte: refused.
    let bytes = std::fs::read(&path).unwrap();
    for position in (0..bytes.len()).step_by(11) {
        let mut damaged = bytes.clone();
        damaged[position] ^= 0x10;
        assert!(
            matches!(
                autoencoders::DeepAutoencoder::<f32>::from_safetensors(&damaged, "damaged"),
                Err(Error::ModelFile { .. })
            ),
            "byte {position}"
        );
    }
    // In the other dtype: refused by the record.
    assert!(matches!(
        autoencoders::DeepAutoencoder::<f64>::from_safetensors(&bytes, "deep"),
        Err(Error::ModelFile {
            problem: ModelFileProblem::WrongDtype { .. },
            ..
        })
    ));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_pretrained_stack_saves_and_loads_with_its_decoders_and_histories() {
    let x = bundled_digits::<f32>()
        .unwrap()
        .train_images
        .rows(0, 64)
        .into_owned();
    let quick = autoencoders::TrainingConfig::default().with_epochs(2);
    let stack = autoencoders::LayerwisePretrainer::new()
        .with_layer(
            autoencoders::LayerSpec::new(24)
                .with_activation(Activation::Relu)
                .with_decoder_activation(Activation::Linear)
                .with_training(quick),
        )
        .with_layer(
            autoencoders::LayerSpec::new(8)
                .with_tied(true)
                .with_training(quick),
        )
        .pretrain(&x, &mut common::rng(30))
        .unwrap();
    let bytes = stack.to_safetensors().unwrap();
    let loaded = autoencoders::PretrainedStack::<f32>::from_safetensors(&bytes, "stack").unwrap();
    assert_eq!(loaded.encoder, stack.encoder);
    assert_eq!(loaded.decoders, stack.decoders);
    assert_eq!(loaded.histories, stack.histories);
    assert_eq!(
        loaded.deep_autoencoder().unwrap().reconstruct(&x).unwrap(),
        stack.deep_autoencoder().unwrap().reconstruct(&x).unwrap()
    );
    // The tied layer's decoder holds only its bias.
    let file = common::model_file::ModelFile::parse(&bytes);
    assert!(
        file.tensor_names()
            .contains(&"decoders.0.weight".to_owned())
    );
    assert!(
        !file
            .tensor_names()
            .contains(&"decoders.1.weight".to_owned())
    );
    // Another dtype, another kind of file, or a flipped bit: refused.
    assert!(matches!(
        autoencoders::PretrainedStack::<f64>::from_safetensors(&bytes, "stack"),
        Err(Error::ModelFile {
            problem: ModelFileProblem::WrongDtype { .. },
            ..
        })
    ));
    let deep = stack.deep_autoencoder().unwrap().to_safetensors().unwrap();
    assert!(matches!(
        autoencoders::PretrainedStack::<f32>::from_safetensors(&deep, "deep"),
        Err(Error::ModelFile { .. })
    ));
    for position in (0..bytes.len()).step_by(13) {
        let mut damaged = bytes.clone();
        damaged[position] ^= 0x04;
        assert!(
            matches!(
                autoencoders::PretrainedStack::<f32>::from_safetensors(&damaged, "damaged"),
                Err(Error::ModelFile { .. })
            ),
            "byte {position}"
        );
    }
    // A record whose tying disagrees with the tensors: refused, checksums recomputed.
    let mut edited = file.clone();
    let key = autoencoders::persistence::PRETRAINED_KEY;
    let mut record: serde_json::Value =
        serde_json::from_str(edited.header["__metadata__"][key].as_str().unwrap()).unwrap();
    record["tied"] = serde_json::json!([false, false]);
    edited.header["__metadata__"][key] = serde_json::Value::String(record.to_string());
    assert!(matches!(
        autoencoders::PretrainedStack::<f32>::from_safetensors(&edited.to_bytes(), "edited"),
        Err(Error::ModelFile {
            problem: ModelFileProblem::InvalidMetadata { .. },
            ..
        })
    ));
}

#[test]
fn correntropy_saves_and_loads_as_a_built_in_loss_with_its_sigma() {
    let x = bundled_digits::<f32>()
        .unwrap()
        .train_images
        .rows(0, 32)
        .into_owned();
    for sigma in [0.3, 0.1 + 0.2] {
        let model = trained::<f32>(false)
            .with_regularizer(WeightDecay::new(1e-4).unwrap())
            .with_loss(Correntropy::new(sigma).unwrap());
        let bytes = model.to_safetensors().unwrap();
        let record = common::model_file::ModelFile::parse(&bytes).record();
        assert_eq!(record["loss"], "correntropy");
        assert_eq!(
            record["loss_hyper_parameters"],
            serde_json::json!([["sigma", format!("{sigma:?}")]])
        );
        let loaded = DynamicAutoencoder::<f32>::from_safetensors(&bytes, "correntropy").unwrap();
        // σ to the bit (0.1 + 0.2 is not 0.3), and the same objective as the saved model's.
        assert_eq!(*loaded.loss(), Correntropy::new(sigma).unwrap());
        assert_eq!(
            loaded.objective(&x).unwrap().reconstruction,
            model.objective(&x).unwrap().reconstruction
        );
        assert!(
            loaded.to_safetensors().unwrap() == bytes,
            "the re-saved file differs"
        );
        // The loaded model is a `DynamicAutoencoder`: another loss is one call away.
        let plain = loaded.with_loss(BuiltinLoss::from(ReconstructionLoss::SquaredError));
        assert_eq!(*plain.loss(), ReconstructionLoss::SquaredError);
    }
}

#[test]
fn files_that_named_correntropy_a_user_loss_load_as_the_built_in_one() {
    // Before correntropy was a built-in loss of `DynamicAutoencoder`, its files recorded it as
    // a user's loss: `custom:correntropy`, with the same `sigma`.
    let model = trained::<f32>(false).with_loss(Correntropy::new(0.25).unwrap());
    let mut file = common::model_file::ModelFile::parse(&model.to_safetensors().unwrap());
    file.edit_record(|r| r["loss"] = serde_json::json!("custom:correntropy"));
    let old = file.to_bytes();
    let loaded = DynamicAutoencoder::<f32>::from_safetensors(&old, "old").unwrap();
    assert_eq!(*loaded.loss(), Correntropy::new(0.25).unwrap());
    // Into the caller's model too, whose loss now records itself as the built-in one.
    let dir = scratch("old-correntropy");
    let path = dir.join("old.safetensors");
    std::fs::write(&path, &old).unwrap();
    let mut into = DenseBuilder::new(784, 16)
        .with_encoder_activation(Activation::Tanh)
        .build::<f32, _>(&mut common::rng(9))
        .unwrap()
        .with_loss(Correntropy::new(0.25).unwrap());
    into.load_parameters(&path).unwrap();
    assert_eq!(into.parameters(), model.parameters());
    // A parameters file compares its recorded parts with the model's: the old name is the
    // built-in correntropy, and another σ is still refused.
    let mut file =
        common::model_file::ModelFile::parse(&model.parameters_to_safetensors().unwrap());
    assert_eq!(file.record()["parts"]["loss"], "correntropy");
    file.edit_record(|r| r["parts"]["loss"] = serde_json::json!("custom:correntropy"));
    let old = file.to_bytes();
    into.load_parameters_from_safetensors(&old, "old").unwrap();
    let mut other = into.clone().with_loss(Correntropy::new(0.5).unwrap());
    assert!(matches!(
        other.load_parameters_from_safetensors(&old, "old"),
        Err(Error::ModelFile {
            problem: ModelFileProblem::PartMismatch { part: "loss", .. },
            ..
        })
    ));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_loss_record_with_wrong_hyper_parameters_is_refused() {
    let model = trained::<f32>(false).with_loss(Correntropy::new(0.25).unwrap());
    let good = model.to_safetensors().unwrap();
    let load = |bytes: &[u8]| DynamicAutoencoder::<f32>::from_safetensors(bytes, "test");
    let edited = |loss: &str, hyper: serde_json::Value| {
        let mut file = common::model_file::ModelFile::parse(&good);
        file.edit_record(|r| {
            r["loss"] = serde_json::json!(loss);
            r["loss_hyper_parameters"] = hyper;
        });
        file.to_bytes()
    };
    use serde_json::json;
    let cases = [
        ("correntropy", json!([["sigma", "-1.0"]])),
        ("correntropy", json!([["sigma", "0.0"]])),
        ("correntropy", json!([["sigma", "NaN"]])),
        ("correntropy", json!([["sigma", "inf"]])),
        ("correntropy", json!([["sigma", "wide"]])),
        ("correntropy", json!([["width", "0.25"]])),
        ("correntropy", json!([])),
        ("correntropy", json!([["sigma", "0.25"], ["sigma", "0.25"]])),
        ("custom:correntropy", json!([["sigma", "-1.0"]])),
        ("squared-error", json!([["sigma", "0.25"]])),
        ("cross-entropy", json!([["delta", "1.0"]])),
    ];
    for (loss, hyper) in cases {
        let bytes = edited(loss, hyper.clone());
        assert!(
            matches!(
                problem(load(&bytes)),
                ModelFileProblem::InvalidMetadata { .. }
            ),
            "{loss} {hyper}"
        );
    }
    // The edit itself is sound: the saved values load.
    assert!(load(&edited("correntropy", json!([["sigma", "0.25"]]))).is_ok());
}
