//! The `train` example as a user runs it: its flags, its exit codes, and its promise that one
//! full-batch SGD epoch from `--init` weights is exactly one gradient step.

mod common;

use autoencoders::data::bundled_digits;
use autoencoders::{Contractive, DenseBuilder, DynamicAutoencoder, WeightDecay};
use std::path::PathBuf;
use std::process::{Command, Output};

fn train_binary() -> PathBuf {
    common::example_binary("train")
}

fn train(args: &[&str]) -> Output {
    Command::new(train_binary()).args(args).output().unwrap()
}

#[test]
fn help_documents_every_flag() {
    let output = train(&["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in [
        "--train-images",
        "--test-images",
        "--limit",
        "--hidden",
        "--encoder-activation",
        "--decoder-activation",
        "--loss",
        "--correntropy-sigma",
        "--tied",
        "--sparsity-l1",
        "--sparsity-kl",
        "--contractive",
        "--weight-decay",
        "--gaussian-noise",
        "--masking",
        "--salt-and-pepper",
        "--optimizer",
        "--lr",
        "--momentum",
        "--batch-size",
        "--epochs",
        "--seed",
        "--no-shuffle",
        "--dtype",
        "--init",
        "--save",
        "--pictures",
        "--label-column",
        "--scale",
        "--image-shape",
        "--stream",
        "--stream-order",
        "--shuffle-buffer",
        "--stream-block",
    ] {
        assert!(help.contains(flag), "--help does not mention {flag}");
    }
}

#[test]
fn bad_flags_exit_with_code_2_and_say_why() {
    for args in [
        vec!["--no-such-flag"],
        vec!["--hidden", "many"],
        vec!["--contractive", "-1"],
        vec!["--masking", "1.5"],
        vec!["--sparsity-kl", "2,3"],
        vec!["--gaussian-noise", "0.1", "--masking", "0.1"],
        vec!["--loss", "cross-entropy", "--decoder-activation", "linear"],
        vec!["--optimizer", "adam", "--momentum", "0.9"],
        vec!["--batch-size", "0"],
        vec!["--lr", "0"],
        vec!["--loss", "correntropy", "--correntropy-sigma", "0"],
        vec!["--loss", "correntropy", "--correntropy-sigma", "NaN"],
        // σ without the loss it sets would be ignored.
        vec!["--correntropy-sigma", "0.5"],
        // The bundled digits have no label column: the flag would be ignored.
        vec!["--label-column", "0"],
        // A sigmoid decoder cannot output standardised data.
        vec!["--scale", "standard"],
        vec!["--scale", "standard", "--decoder-activation", "relu"],
        // Layers beyond the resource policy: a typed error, not an abort or a panic.
        vec!["--hidden", "30000000"],
        vec!["--hidden", "18446744073709551615"],
    ] {
        let output = train(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("error"), "{args:?}: {stderr}");
    }
}

#[test]
fn one_full_batch_sgd_epoch_from_init_is_one_gradient_step() {
    let dir = std::env::temp_dir().join(format!("autoencoders-train-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (init, out) = (dir.join("init.safetensors"), dir.join("out.safetensors"));
    let model = DenseBuilder::new(784, 8)
        .build::<f32, _>(&mut common::rng(11))
        .unwrap()
        .with_regularizer::<Vec<autoencoders::BuiltinRegularizer>>(vec![
            Contractive::new(0.1).unwrap().into(),
            WeightDecay::new(0.01).unwrap().into(),
        ]);
    model.save(&init).unwrap();
    let output = train(&[
        "--limit",
        "50",
        "--hidden",
        "8",
        "--contractive",
        "0.1",
        "--weight-decay",
        "0.01",
        "--optimizer",
        "sgd",
        "--lr",
        "0.05",
        "--no-shuffle",
        "--batch-size",
        "50",
        "--epochs",
        "1",
        "--init",
        init.to_str().unwrap(),
        "--save",
        out.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    for line in ["train: ", "test: ", "time: ", "samples_per_sec="] {
        assert!(stdout.contains(line), "missing `{line}` in\n{stdout}");
    }

    let x = bundled_digits::<f32>()
        .unwrap()
        .train_images
        .rows(0, 50)
        .into_owned();
    let (_, gradient) = model.gradient(&x, &x).unwrap();
    let expected: Vec<Vec<u32>> = model
        .parameters()
        .iter()
        .zip(&gradient)
        .map(|(p, g)| {
            p.iter()
                .zip(g)
                .map(|(p, g)| (p - 0.05 * g).to_bits())
                .collect()
        })
        .collect();
    let trained = DynamicAutoencoder::<f32>::load(&out).unwrap();
    let actual: Vec<Vec<u32>> = trained
        .parameters()
        .iter()
        .map(|p| p.iter().map(|v| v.to_bits()).collect())
        .collect();
    assert_eq!(actual, expected, "one epoch must be exactly θ − η∇J");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn reads_csv_with_a_label_column_and_scales_it() {
    let dir = std::env::temp_dir().join(format!("autoencoders-train-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("data.csv");
    let mut text = String::from("a,b,c,d,label\n");
    for i in 0..40 {
        text += &format!("{},{},{},{},{}\n", i, 2 * i, 100 - i, (i * 7) % 13, i % 3);
    }
    std::fs::write(&csv, text).unwrap();
    let output = train(&[
        "--train-images",
        csv.to_str().unwrap(),
        "--label-column",
        "last",
        "--hidden",
        "3",
        "--epochs",
        "2",
        "--batch-size",
        "8",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("train: samples=40"), "{stdout}");
    assert!(stdout.contains("test: none"), "{stdout}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_output_path_equal_to_an_input_path_is_refused() {
    let dir = std::env::temp_dir().join(format!("autoencoders-train-same-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("data.csv");
    let text: String = (0..20)
        .map(|i| format!("{},{},{}\n", i, 20 - i, i % 4))
        .collect();
    std::fs::write(&csv, &text).unwrap();
    let relative = dir.join(".").join("data.csv");
    for save in [csv.to_str().unwrap(), relative.to_str().unwrap()] {
        let output = train(&[
            "--train-images",
            csv.to_str().unwrap(),
            "--hidden",
            "2",
            "--epochs",
            "1",
            "--save",
            save,
        ]);
        assert_eq!(output.status.code(), Some(2), "--save {save}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("would overwrite an input file"), "{stderr}");
        assert_eq!(
            std::fs::read_to_string(&csv).unwrap(),
            text,
            "the data was changed"
        );
    }
    // Standardised data trains with a linear decoder, and a new path saves.
    let model = dir.join("model.safetensors");
    let output = train(&[
        "--train-images",
        csv.to_str().unwrap(),
        "--hidden",
        "2",
        "--epochs",
        "1",
        "--scale",
        "standard",
        "--decoder-activation",
        "linear",
        "--save",
        model.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(model.exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn stream_in_the_in_memory_order_saves_the_model_training_in_memory_saves() {
    use std::io::Read;
    let dir =
        std::env::temp_dir().join(format!("autoencoders-train-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mnist");
    let gz = root.join("test-images-idx3-ubyte.gz");
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&gz).unwrap())
        .read_to_end(&mut bytes)
        .unwrap();
    let plain = dir.join("images");
    std::fs::write(&plain, &bytes).unwrap();
    let (plain_s, gz_s) = (plain.to_str().unwrap(), gz.to_str().unwrap());
    let (a, b) = (dir.join("a.safetensors"), dir.join("b.safetensors"));
    let common = [
        "--epochs",
        "2",
        "--hidden",
        "16",
        "--masking",
        "0.2",
        "--train-images",
        plain_s,
    ];
    let memory = train(&[&common[..], &["--save", a.to_str().unwrap()]].concat());
    assert!(
        memory.status.success(),
        "{}",
        String::from_utf8_lossy(&memory.stderr)
    );
    let streamed = train(
        &[
            &common[..],
            &[
                "--stream",
                "--stream-order",
                "in-memory",
                "--save",
                b.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert!(
        streamed.status.success(),
        "{}",
        String::from_utf8_lossy(&streamed.stderr)
    );
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let stdout = String::from_utf8(streamed.stdout).unwrap();
    assert!(stdout.contains("stream: file="), "{stdout}");

    // The default order on a gzipped file is the buffer; asking for blocks is refused.
    let gzipped = train(&["--epochs", "1", "--train-images", gz_s, "--stream"]);
    assert!(
        gzipped.status.success(),
        "{}",
        String::from_utf8_lossy(&gzipped.stderr)
    );
    assert!(
        String::from_utf8(gzipped.stdout)
            .unwrap()
            .contains("order=Buffer")
    );
    for args in [
        &[
            "--train-images",
            gz_s,
            "--stream",
            "--stream-order",
            "blocks",
        ][..],
        &["--stream"][..],
        &["--train-images", plain_s, "--stream", "--limit", "10"][..],
        &[
            "--train-images",
            plain_s,
            "--stream",
            "--shuffle-buffer",
            "0",
        ][..],
        &["--train-images", plain_s, "--stream-order", "buffer"][..],
    ] {
        let output = train(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_correntropy_loss_trains_saves_and_loads_with_its_sigma() {
    let dir = std::env::temp_dir().join(format!("autoencoders-train-cor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (sigma, expected) in [(Some("0.5"), 0.5), (None, 0.2)] {
        let path = dir.join("model.safetensors");
        let mut args = vec![
            "--limit",
            "200",
            "--hidden",
            "8",
            "--epochs",
            "1",
            "--loss",
            "correntropy",
        ];
        if let Some(sigma) = sigma {
            args.extend(["--correntropy-sigma", sigma]);
        }
        args.extend(["--save", path.to_str().unwrap()]);
        let output = train(&args);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let model = DynamicAutoencoder::<f32>::load(&path).unwrap();
        assert_eq!(
            *model.loss(),
            autoencoders::Correntropy::new(expected).unwrap()
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}
