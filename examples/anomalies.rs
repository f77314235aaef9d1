//! `anomalies`: anomaly detection with an autoencoder, from the command line.
//!
//! Trains the autoencoder that `train`'s flags describe (same names, same defaults) on the
//! training samples — with `--normal-class C`, on those labelled C only — scores every sample
//! by its reconstruction loss (higher is more anomalous), sets the threshold at the `(1 − c)`
//! quantile of the training scores for the contamination `c` (`--contamination`, 0.1 by
//! default) and prints it as `threshold: value=…`. With test labels and `--normal-class` it
//! prints `test: samples=N auroc=… average_precision=…`, the positives being the test rows
//! whose label is not C. `--scores OUT.csv` writes `index,score,outlier`, one line per test row
//! (per training row without test data): the row's index in its file, its score and 1 if it
//! scores above the threshold. For example, one-class MNIST for the digit 3:
//!
//! ```text
//! cargo run --release --example anomalies -- \
//!     --train-images data/mnist/train-images-idx3-ubyte.gz \
//!     --train-labels data/mnist/train-labels-idx1-ubyte.gz \
//!     --test-images data/mnist/test-images-idx3-ubyte.gz \
//!     --test-labels data/mnist/test-labels-idx1-ubyte.gz \
//!     --normal-class 3 --hidden 32 --epochs 50 --scores scores.csv
//! ```
//!
//! Data are IDX files (gzipped or not) or CSV, as `train` reads them; labels come from IDX
//! label files (`--train-labels`, `--test-labels`) or from a CSV's `--label-column`. Bad flags
//! exit with code 2, other failures with code 1.
//!
//! On training data that hold anomalies, `--robust λ` trains a robust deep autoencoder
//! (`autoencoders::robust`): the data are split as `X = L + S`, the model trains on `L`, and
//! `S` takes what it should not learn, shrunk with weight `λ` by the norm of
//! `--robust-shrinkage` (`samples`, the default, for whole outlying samples: a sample whose
//! residual norm `‖x − x̂‖` stays below `λ` is the model's to fit; `entries` for scattered bad
//! values). It runs `--robust-iterations` (10) outer iterations of `--epochs` epochs each and
//! prints a line `robust: iteration=… loss=… outliers=… c1=… c2=…` after each.

use autoencoders::Scalar;
use autoencoders::anomaly::{AnomalyDetector, Threshold, auroc, average_precision};
use autoencoders::data::LabelColumn;
use autoencoders::robust::{RobustAutoencoder, RobustReport, Shrinkage};
use autoencoders_tools::model_flags::{Dtype, ModelFlags};
use autoencoders_tools::{
    Failure, exit_code, first_rows, folder_of, overwrites_input, parse_label_column, read_labels,
    read_samples,
};
use clap::Parser;
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "anomalies",
    about = "Anomaly detection with an autoencoder: train on normal data, score, threshold."
)]
struct Args {
    /// Training samples: an IDX file (gzipped or not) or a CSV of numbers.
    #[arg(long, value_name = "PATH")]
    train_images: PathBuf,
    /// Labels of the training samples: an IDX file of one dimension.
    #[arg(long, value_name = "PATH")]
    train_labels: Option<PathBuf>,
    /// Test samples, same formats.
    #[arg(long, value_name = "PATH")]
    test_images: Option<PathBuf>,
    /// Labels of the test samples: an IDX file of one dimension.
    #[arg(long, value_name = "PATH")]
    test_labels: Option<PathBuf>,
    /// CSV only: the column holding class labels, an index from 0 or `last` (default: none).
    #[arg(long, value_name = "N|last", value_parser = parse_label_column)]
    label_column: Option<LabelColumn>,
    /// Train on the training samples of this class only; test samples of other classes are the
    /// anomalies.
    #[arg(long, value_name = "C")]
    normal_class: Option<usize>,
    /// The fraction of the training data expected to be anomalous, in (0, 0.5]: the threshold
    /// is the (1 − F) quantile of the training scores.
    #[arg(
        long,
        value_name = "F",
        default_value_t = 0.1,
        allow_negative_numbers = true
    )]
    contamination: f64,
    /// Write `index,score,outlier` for every test row (training row without test data) here.
    #[arg(long, value_name = "OUT.csv")]
    scores: Option<PathBuf>,
    /// Save the fitted detector (the model, its threshold, its training scores and the scaler)
    /// to this safetensors file; `AnomalyDetector::load` reads it back.
    #[arg(long, value_name = "PATH")]
    save_detector: Option<PathBuf>,
    /// Train as a robust deep autoencoder (Zhou & Paffenroth): split the training data as
    /// X = L + S, the model learning L while S, shrunk with weight λ, takes the outliers;
    /// `--robust-iterations` outer iterations of `--epochs` epochs each.
    #[arg(long, value_name = "λ", allow_negative_numbers = true)]
    robust: Option<f64>,
    /// With --robust: the norm on S, `samples` (l2,1 over samples: whole outlying samples),
    /// `entries` (l1: scattered outlying values) or `features` (l2,1 over features).
    #[arg(long, value_enum, value_name = "NORM", requires = "robust")]
    robust_shrinkage: Option<ShrinkageFlag>,
    /// With --robust: outer iterations.
    #[arg(long, value_name = "N", requires = "robust")]
    robust_iterations: Option<usize>,
    #[command(flatten)]
    model: ModelFlags,
}

/// The norm on the outlier part of `--robust`, as a flag value.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ShrinkageFlag {
    /// l2,1 over samples.
    Samples,
    /// l1 over entries.
    Entries,
    /// l2,1 over features.
    Features,
}

impl From<ShrinkageFlag> for Shrinkage {
    fn from(s: ShrinkageFlag) -> Self {
        match s {
            ShrinkageFlag::Samples => Shrinkage::Samples,
            ShrinkageFlag::Entries => Shrinkage::Entries,
            ShrinkageFlag::Features => Shrinkage::Features,
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    exit_code(match args.model.dtype {
        Dtype::F32 => run::<f32>(&args),
        Dtype::F64 => run::<f64>(&args),
    })
}

/// Refuses an output path that would overwrite an input, is not a regular file, or lies in a
/// folder that does not exist: usage errors, before any work.
fn check_output(flag: &str, out: &Path, inputs: &[Option<&Path>]) -> Result<(), Failure> {
    if overwrites_input(out, inputs) {
        return Err(Failure::Usage(format!(
            "{flag} {} would overwrite an input file; write to another path",
            out.display()
        )));
    }
    // A FIFO would block the write until a reader comes; a device or a folder is no file.
    if out.exists() && !out.is_file() {
        return Err(Failure::Usage(format!(
            "{flag} {}: not a regular file",
            out.display()
        )));
    }
    let folder = folder_of(out);
    if !folder.is_dir() {
        return Err(Failure::Usage(format!(
            "{flag} {}: the folder {} does not exist",
            out.display(),
            folder.display()
        )));
    }
    Ok(())
}

/// Samples read for the tool: the matrix, its labels, whether the file held bytes, whether it
/// gave an image shape.
struct Set<T: Scalar> {
    x: DMatrix<T>,
    labels: Option<Vec<usize>>,
    bytes: bool,
    image_shaped: bool,
}

/// Samples and their labels (from a label file or the CSV's label column), cut to `--limit`.
fn read_set<T: Scalar>(
    images: &Path,
    labels: Option<&Path>,
    args: &Args,
    what: &str,
) -> Result<Set<T>, Failure> {
    let samples = read_samples::<T>(images, args.label_column)?;
    let labels = match (labels, samples.labels) {
        (Some(_), Some(_)) => {
            return Err(Failure::Usage(format!(
                "--{what}-labels and --label-column both give labels; use one"
            )));
        }
        (Some(path), None) => Some(read_labels(path)?),
        (None, column) => column,
    };
    if let Some(labels) = &labels
        && labels.len() != samples.x.nrows()
    {
        return Err(Failure::Run(
            format!(
                "{} holds {} samples but its labels are {}",
                images.display(),
                samples.x.nrows(),
                labels.len()
            )
            .into(),
        ));
    }
    let limit = args.model.limit;
    let x = first_rows(samples.x, limit);
    let labels = labels.map(|l| l[..x.nrows()].to_vec());
    Ok(Set {
        x,
        labels,
        bytes: samples.bytes,
        image_shaped: samples.image_shape.is_some(),
    })
}

fn run<T: Scalar>(args: &Args) -> Result<(), Failure> {
    let flags = &args.model;
    flags.check()?;
    if !(args.contamination > 0.0 && args.contamination <= 0.5) {
        return Err(Failure::Usage(format!(
            "--contamination must be a fraction in (0, 0.5], found {}",
            args.contamination
        )));
    }
    let robust = match args.robust {
        Some(lambda) => {
            // The strategy's own checks (λ, iterations, epochs per iteration) as usage errors.
            let usage = |e: autoencoders::Error| Failure::Usage(format!("--robust: {e}"));
            let robust = RobustAutoencoder::new(lambda)
                .map_err(usage)?
                .with_shrinkage(args.robust_shrinkage.map_or(Shrinkage::Samples, Into::into))
                .with_iterations(args.robust_iterations.unwrap_or(10))
                .with_inner(flags.config());
            robust.validate().map_err(usage)?;
            Some(robust)
        }
        None => None,
    };
    if args.test_labels.is_some() && args.test_images.is_none() {
        return Err(Failure::Usage("--test-labels needs --test-images".into()));
    }
    let inputs = [
        Some(args.train_images.as_path()),
        args.train_labels.as_deref(),
        args.test_images.as_deref(),
        args.test_labels.as_deref(),
        flags.init.as_deref(),
    ];
    for (flag, out) in [
        ("--scores", &args.scores),
        ("--save-detector", &args.save_detector),
    ] {
        if let Some(out) = out {
            check_output(flag, out, &inputs)?;
        }
    }
    if args.scores.is_some() && args.scores == args.save_detector {
        return Err(Failure::Usage(
            "--scores and --save-detector name the same file".into(),
        ));
    }

    // Data.
    let Set {
        x: train,
        labels: train_labels,
        bytes,
        image_shaped,
    } = read_set::<T>(
        &args.train_images,
        args.train_labels.as_deref(),
        args,
        "train",
    )?;
    let test = match &args.test_images {
        Some(path) => Some(read_set::<T>(
            path,
            args.test_labels.as_deref(),
            args,
            "test",
        )?),
        None => None,
    };
    // The training rows used, by their index in the file.
    let rows: Vec<usize> = match (args.normal_class, &train_labels) {
        (Some(c), Some(labels)) => (0..train.nrows()).filter(|&i| labels[i] == c).collect(),
        (Some(_), None) => {
            return Err(Failure::Usage(
                "--normal-class needs training labels: --train-labels or --label-column".into(),
            ));
        }
        (None, _) => (0..train.nrows()).collect(),
    };
    if rows.is_empty() {
        return Err(Failure::Usage(format!(
            "no training sample has the label {} of --normal-class",
            args.normal_class.unwrap_or_default()
        )));
    }
    let train = autoencoders::data::select_rows(&train, &rows)?;
    let scaler = flags.scaler(false, bytes, image_shaped);
    let fitted = scaler.fit(&train)?;
    let train = fitted.transform(&train)?;
    let test = match test {
        Some(set) => Some((fitted.transform(&set.x)?, set.labels)),
        None => None,
    };

    // Model and training.
    let mut rng = ChaCha8Rng::seed_from_u64(flags.seed);
    let mut model = flags.model::<T, _>(train.ncols(), &mut rng)?;
    model
        .check(&train, "training data")
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let mut optimizer = flags.optimizer::<T>()?;
    match &robust {
        Some(robust) => {
            let fit = robust.fit(
                &mut model,
                &train,
                &mut optimizer,
                &mut rng,
                &mut |r: &RobustReport| {
                    println!(
                        "robust: iteration={} loss={:.6} outliers={} c1={:.6} c2={:.6}",
                        r.iteration + 1,
                        r.inner.reconstruction_loss,
                        r.outliers,
                        r.residual,
                        r.change
                    );
                    ControlFlow::Continue(())
                },
            )?;
            let taken = fit.outlier_scores().iter().filter(|&&s| s > 0.0).count();
            println!("robust: stop={:?} samples_with_outliers={taken}", fit.stop);
        }
        None => {
            model.fit_with(
                &train,
                None,
                &flags.config(),
                &mut optimizer,
                &mut rng,
                &mut |_: &autoencoders::EpochReport| ControlFlow::Continue(()),
            )?;
        }
    }
    let detector =
        AnomalyDetector::fit(model, &train, Threshold::Contamination(args.contamination))?;
    let training_scores = detector.training_scores();
    let flagged = detector.training_outliers().iter().filter(|&&o| o).count();
    println!(
        "train: samples={} mean_score={:.6} outliers={flagged}",
        train.nrows(),
        training_scores.iter().sum::<f64>() / training_scores.len() as f64
    );
    println!("threshold: value={:.6}", detector.threshold());
    if let Some(path) = &args.save_detector {
        detector.save(path, Some(&fitted))?;
        println!("saved: {}", path.display());
    }

    // Scores of the test data, or of the training data without test data.
    let (indices, scores): (Vec<usize>, Vec<f64>) = match &test {
        Some((x, labels)) => {
            let scores = detector.scores(x)?;
            if let (Some(labels), Some(c)) = (labels, args.normal_class) {
                let positives: Vec<bool> = labels.iter().map(|&l| l != c).collect();
                println!(
                    "test: samples={} auroc={:.6} average_precision={:.6}",
                    x.nrows(),
                    auroc(&scores, &positives)?,
                    average_precision(&scores, &positives)?
                );
            }
            ((0..x.nrows()).collect(), scores)
        }
        None => (rows, training_scores.to_vec()),
    };
    if let Some(out) = &args.scores {
        let mut text = String::from("index,score,outlier\n");
        for (index, score) in indices.iter().zip(&scores) {
            let outlier = u8::from(*score > detector.threshold());
            let _ = writeln!(text, "{index},{score},{outlier}");
        }
        // Crash-safely: the file is the old one or the whole new one, never half of it.
        autoencoders::persistence::write_file_atomically(out, text.as_bytes())?;
        println!("scores: {}", out.display());
    }
    Ok(())
}
