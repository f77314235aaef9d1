//! The `anomalies` tool as a user runs it: its output lines, its score file, its exit codes, and
//! the flags it shares with `train`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn anomalies(args: &[&str]) -> Output {
    Command::new(common::example_binary("anomalies"))
        .args(args)
        .output()
        .unwrap()
}

fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data/mnist")
        .join(name)
        .display()
        .to_string()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "autoencoders-anomalies-{name}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The standard output of a run that must have succeeded (else its output and errors).
fn succeeded(output: Output) -> String {
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn line<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{stdout}"))
}

fn field(line: &str, name: &str) -> f64 {
    line.split_whitespace()
        .find_map(|f| f.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name}= in `{line}`"))
        .parse()
        .unwrap()
}

#[test]
fn one_class_digits_print_the_threshold_and_the_test_ranking_and_write_the_scores() {
    let dir = scratch("one-class");
    let out = dir.join("scores.csv");
    let (train, train_labels, test, test_labels) = (
        data("train-images-idx3-ubyte.gz"),
        data("train-labels-idx1-ubyte.gz"),
        data("test-images-idx3-ubyte.gz"),
        data("test-labels-idx1-ubyte.gz"),
    );
    // The digit 1 against the others, writing the scores to `scores`.
    let run = |scores: &Path| {
        anomalies(&[
            "--train-images",
            &train,
            "--train-labels",
            &train_labels,
            "--test-images",
            &test,
            "--test-labels",
            &test_labels,
            "--normal-class",
            "1",
            "--hidden",
            "16",
            "--epochs",
            "5",
            "--scores",
            scores.to_str().unwrap(),
        ])
    };
    let output = run(&out);
    let stdout = succeeded(output);
    let threshold = field(line(&stdout, "threshold: "), "value");
    let test_line = line(&stdout, "test: ");
    assert_eq!(field(test_line, "samples"), 2000.0);
    // The digit 1 against the rest: far from chance even after 5 epochs.
    let auroc = field(test_line, "auroc");
    assert!(auroc > 0.9 && auroc <= 1.0, "{test_line}");
    let ap = field(test_line, "average_precision");
    assert!(ap > 0.9 && ap <= 1.0, "{test_line}");

    let csv = std::fs::read_to_string(&out).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("index,score,outlier"));
    let rows: Vec<(usize, f64, u8)> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows.len(), 2000);
    for (i, &(index, score, outlier)) in rows.iter().enumerate() {
        assert_eq!(index, i);
        assert!(score.is_finite() && score >= 0.0);
        assert_eq!(outlier, u8::from(score > threshold), "row {i}");
    }
    // The same run again gives the same file, bit for bit.
    let again = dir.join("again.csv");
    let output = run(&again);
    assert!(output.status.success());
    assert_eq!(std::fs::read(&again).unwrap(), csv.as_bytes());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn without_test_data_the_training_rows_are_scored_by_their_index_in_the_file() {
    let dir = scratch("train-only");
    let out = dir.join("scores.csv");
    let csv = dir.join("data.csv");
    // Ten rows of three features and a label; class 0 on the even rows.
    let mut text = String::new();
    for i in 0..10 {
        let v = i as f64 / 10.0;
        text += &format!("{v},{},{},{}\n", 1.0 - v, v * v, i % 2);
    }
    std::fs::write(&csv, text).unwrap();
    let output = anomalies(&[
        "--train-images",
        csv.to_str().unwrap(),
        "--label-column",
        "last",
        "--normal-class",
        "0",
        "--hidden",
        "2",
        "--epochs",
        "3",
        "--contamination",
        "0.2",
        "--scores",
        out.to_str().unwrap(),
    ]);
    let stdout = succeeded(output);
    assert!(!stdout.contains("test: "), "no test line without test data");
    let written = std::fs::read_to_string(&out).unwrap();
    let indices: Vec<usize> = written
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(indices, [0, 2, 4, 6, 8]);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bad_flags_exit_with_code_2_and_failed_runs_with_code_1() {
    let train = data("train-images-idx3-ubyte.gz");
    let labels = data("train-labels-idx1-ubyte.gz");
    let quick = ["--limit", "200", "--epochs", "1", "--hidden", "4"];
    let usage: Vec<Vec<String>> = vec![
        vec!["--contamination".into(), "0".into()],
        vec!["--contamination".into(), "0.6".into()],
        vec!["--contamination".into(), "nan".into()],
        vec!["--normal-class".into(), "3".into()],
        vec![
            "--normal-class".into(),
            "11".into(),
            "--train-labels".into(),
            labels.clone(),
        ],
        vec!["--scores".into(), train.clone()],
        vec!["--scores".into(), "/no/such/folder/scores.csv".into()],
        vec!["--test-labels".into(), labels.clone()],
        vec!["--batch-size".into(), "0".into()],
        vec!["--hidden".into(), "0".into()],
        vec!["--robust".into(), "0".into()],
        vec!["--robust".into(), "-1".into()],
        vec!["--robust".into(), "nan".into()],
        vec!["--robust-iterations".into(), "3".into()],
        vec!["--robust-shrinkage".into(), "entries".into()],
        vec![
            "--robust".into(),
            "1".into(),
            "--robust-iterations".into(),
            "0".into(),
        ],
        vec![
            "--robust".into(),
            "1".into(),
            "--robust-shrinkage".into(),
            "rows".into(),
        ],
        vec![
            "--optimizer".into(),
            "adam".into(),
            "--momentum".into(),
            "0.5".into(),
        ],
    ];
    for extra in usage {
        let mut args: Vec<&str> = vec!["--train-images", &train];
        args.extend(quick);
        args.extend(extra.iter().map(String::as_str));
        let output = anomalies(&args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stderr).starts_with("error: "));
    }
    // No --train-images at all: clap's own usage error.
    assert_eq!(anomalies(&["--epochs", "1"]).status.code(), Some(2));

    // Test data of another width, labels that do not match their data: failed runs.
    let dir = scratch("failures");
    let narrow = dir.join("narrow.csv");
    std::fs::write(&narrow, "0.1,0.2\n0.3,0.4\n").unwrap();
    let test_labels = data("test-labels-idx1-ubyte.gz");
    for extra in [
        vec!["--test-images", narrow.to_str().unwrap()],
        vec!["--train-labels", &test_labels],
    ] {
        let mut args: Vec<&str> = vec!["--train-images", &train];
        args.extend(quick);
        args.extend(extra);
        let output = anomalies(&args);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn the_model_scaling_and_training_flags_are_trains() {
    let help = |name: &str| {
        let output = Command::new(common::example_binary(name))
            .arg("--help")
            .output()
            .unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap()
    };
    let (train, anomalies) = (help("train"), help("anomalies"));
    let flags_of = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.trim_start().strip_prefix("--"))
            .map(|l| l.split([' ', '=']).next().unwrap().to_string())
            .collect()
    };
    let (train_flags, anomaly_flags) = (flags_of(&train), flags_of(&anomalies));
    for shared in [
        "limit",
        "hidden",
        "encoder-activation",
        "decoder-activation",
        "loss",
        "correntropy-sigma",
        "tied",
        "sparsity-l1",
        "sparsity-kl",
        "contractive",
        "weight-decay",
        "gaussian-noise",
        "masking",
        "salt-and-pepper",
        "optimizer",
        "lr",
        "momentum",
        "batch-size",
        "epochs",
        "seed",
        "no-shuffle",
        "dtype",
        "init",
        "scale",
    ] {
        assert!(
            train_flags.iter().any(|f| f == shared),
            "train lacks --{shared}"
        );
        assert!(
            anomaly_flags.iter().any(|f| f == shared),
            "anomalies lacks --{shared}"
        );
        // The same help line, defaults included.
        let text = |help: &str| {
            help.lines()
                .skip_while(|l| !l.trim_start().starts_with(&format!("--{shared}")))
                .take(2)
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(text(&train), text(&anomalies), "--{shared}");
    }
    for own in [
        "train-images",
        "train-labels",
        "test-images",
        "test-labels",
        "label-column",
        "normal-class",
        "contamination",
        "scores",
    ] {
        assert!(
            anomaly_flags.iter().any(|f| f == own),
            "anomalies lacks --{own}"
        );
    }
}

#[test]
fn a_saved_detector_scores_new_data_as_the_run_that_saved_it() {
    use autoencoders::DynamicAutoencoder;
    use autoencoders::anomaly::AnomalyDetector;
    use autoencoders::data::read_idx;
    let dir = scratch("save-detector");
    let (saved, scores) = (dir.join("detector.safetensors"), dir.join("scores.csv"));
    let (train, labels, test) = (
        data("train-images-idx3-ubyte.gz"),
        data("train-labels-idx1-ubyte.gz"),
        data("test-images-idx3-ubyte.gz"),
    );
    let output = anomalies(&[
        "--train-images",
        &train,
        "--train-labels",
        &labels,
        "--normal-class",
        "3",
        "--test-images",
        &test,
        "--epochs",
        "2",
        "--hidden",
        "16",
        "--save-detector",
        saved.to_str().unwrap(),
        "--scores",
        scores.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let threshold = field(line(&stdout, "threshold:"), "value");
    let (detector, scaler) = AnomalyDetector::<DynamicAutoencoder<f32>>::load(&saved).unwrap();
    assert!((detector.threshold() - threshold).abs() <= 1e-6 * threshold.abs());
    // The scaler came with it: the raw test bytes, scaled by it, score as the run scored them.
    let scaler = scaler.expect("the tool saves its scaler");
    let x = scaler
        .transform(&read_idx(&test).unwrap().to_matrix::<f32>())
        .unwrap();
    let mine = detector.scores(&x).unwrap();
    let written: Vec<f64> = std::fs::read_to_string(&scores)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(mine, written);
    // An output in a folder that does not exist, or on an input, is a usage error.
    for out in [
        dir.join("missing/detector.safetensors").to_str().unwrap(),
        train.as_str(),
    ] {
        let output = anomalies(&[
            "--train-images",
            &train,
            "--epochs",
            "1",
            "--save-detector",
            out,
        ]);
        assert_eq!(output.status.code(), Some(2), "{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn robust_training_reports_its_outer_iterations_and_repeats_bit_for_bit() {
    let dir = scratch("robust");
    let train = data("train-images-idx3-ubyte.gz");
    let labels = data("train-labels-idx1-ubyte.gz");
    let run = |shrinkage: &str, scores: &Path| {
        let output = anomalies(&[
            "--train-images",
            &train,
            "--train-labels",
            &labels,
            "--normal-class",
            "7",
            "--hidden",
            "16",
            "--encoder-activation",
            "relu",
            "--optimizer",
            "adam",
            "--epochs",
            "2",
            "--robust",
            "3",
            "--robust-shrinkage",
            shrinkage,
            "--robust-iterations",
            "3",
            "--scores",
            scores.to_str().unwrap(),
        ]);
        succeeded(output)
    };
    for shrinkage in ["samples", "entries", "features"] {
        let (first, second) = (dir.join("first.csv"), dir.join("second.csv"));
        let stdout = run(shrinkage, &first);
        let iterations: Vec<&str> = stdout
            .lines()
            .filter(|l| l.starts_with("robust: iteration="))
            .collect();
        assert_eq!(iterations.len(), 3, "{stdout}");
        for (i, l) in iterations.iter().enumerate() {
            assert_eq!(field(l, "iteration"), (i + 1) as f64);
            for name in ["loss", "c1", "c2"] {
                let v = field(l, name);
                assert!(v.is_finite() && v >= 0.0, "{l}");
            }
        }
        assert!(line(&stdout, "robust: stop=").contains("stop=Iterations"));
        assert!(field(line(&stdout, "threshold: "), "value").is_finite());
        let without_path = |s: &str| -> Vec<String> {
            s.lines()
                .filter(|l| !l.starts_with("scores: "))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(
            without_path(&run(shrinkage, &second)),
            without_path(&stdout)
        );
        assert_eq!(
            std::fs::read(&first).unwrap(),
            std::fs::read(&second).unwrap()
        );
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_correntropy_detector_scores_by_its_loss_and_saves_it() {
    let dir = scratch("correntropy");
    let saved = dir.join("detector.safetensors");
    let output = anomalies(&[
        "--train-images",
        &data("train-images-idx3-ubyte.gz"),
        "--train-labels",
        &data("train-labels-idx1-ubyte.gz"),
        "--test-images",
        &data("test-images-idx3-ubyte.gz"),
        "--test-labels",
        &data("test-labels-idx1-ubyte.gz"),
        "--normal-class",
        "1",
        "--hidden",
        "16",
        "--epochs",
        "5",
        "--loss",
        "correntropy",
        "--correntropy-sigma",
        "0.3",
        "--save-detector",
        saved.to_str().unwrap(),
    ]);
    let stdout = succeeded(output);
    let test_line = line(&stdout, "test: ");
    let auroc = field(test_line, "auroc");
    assert!(auroc > 0.9 && auroc <= 1.0, "{test_line}");
    let (detector, _) = autoencoders::anomaly::AnomalyDetector::<
        autoencoders::DynamicAutoencoder<f32>,
    >::load(&saved)
    .unwrap();
    let model = detector.scorer();
    assert_eq!(*model.loss(), autoencoders::Correntropy::new(0.3).unwrap());
    // Each training score is the model's correntropy loss of that digit: at most 1 per pixel.
    assert!(
        detector
            .training_scores()
            .iter()
            .all(|&s| (0.0..=784.0).contains(&s))
    );
    std::fs::remove_dir_all(dir).ok();
}
