//! `vae`: trains a variational autoencoder on the bundled digits (or IDX/CSV files) and prints
//! its test ELBO, IWAE bound and importance-sampled log-likelihood, in nats per sample.
//!
//! The model is the usual dense one: hidden layers of `--activation` units (default one of
//! 400 ReLU units), two affine heads giving the mean and log-variance of a `--latent`-unit
//! diagonal Gaussian (default 20), a decoder that mirrors the hidden sizes and ends in Bernoulli
//! logits; Adam; the ELBO (or `--objective iwae` with `--k` samples). For example:
//!
//! ```text
//! cargo run --release --example vae -- --epochs 10
//! cargo run --release --example vae -- --latent 2 --epochs 20 --save vae2.safetensors
//! cargo run --release --example vae -- --hidden 200,200 --latent 50 --objective iwae --k 5
//! cargo run --release --features pictures --example vae -- --latent 2 --pictures out/
//! ```
//!
//! After training it prints
//! `test: samples=N elbo=… iwae=… log_likelihood=…`: the mean over the test samples of the
//! ELBO (one draw of z), the IWAE bound with `--k` draws and the estimate of log p(x) with
//! `--ll-samples` draws (5000 by default), as signed log-probabilities. Bad flags exit with
//! code 2, other failures with code 1. The saved file holds `encoder.N.weight`/`encoder.N.bias`,
//! `mean.weight`, `mean.bias`, `log_var.weight`, `log_var.bias` and
//! `decoder.N.weight`/`decoder.N.bias` in PyTorch's `[out, in]` layout; `--init` reads one.

use autoencoders::data::{Scaler, bundled_digits};
use autoencoders::{
    Activation, Adam, DenseVae, Likelihood, Scalar, TrainingConfig, VaeObjective, VaeReport,
};
use autoencoders_tools::{Failure, check_outputs, exit_code, flag, read_samples};
use clap::{Parser, ValueEnum};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(
    name = "vae",
    about = "Train a variational autoencoder on IDX or CSV data (default: the bundled MNIST digits)."
)]
struct Args {
    /// Training samples in [0, 1]: an IDX file (gzipped or not; bytes are divided by 255) or a
    /// CSV of numbers (scaled to [0, 1] per column). Default: the 8,000 bundled training digits.
    #[arg(long, value_name = "PATH")]
    train_images: Option<PathBuf>,
    /// Test samples, same formats and scaling. Default: the 2,000 bundled test digits when
    /// training on the bundled digits, otherwise none.
    #[arg(long, value_name = "PATH")]
    test_images: Option<PathBuf>,
    /// Units of the latent code z.
    #[arg(long, value_name = "N", default_value_t = 20)]
    latent: usize,
    /// Hidden layer sizes from the input, comma-separated; the decoder mirrors them.
    #[arg(
        long,
        value_name = "N[,N…]",
        value_delimiter = ',',
        default_value = "400"
    )]
    hidden: Vec<usize>,
    /// Activation of the hidden layers.
    #[arg(long, value_enum, default_value_t = Act::Relu)]
    activation: Act,
    /// Passes over the training data.
    #[arg(long, value_name = "N", default_value_t = 10)]
    epochs: usize,
    /// Samples per batch.
    #[arg(long, value_name = "N", default_value_t = 100)]
    batch_size: usize,
    /// Adam's learning rate.
    #[arg(
        long,
        value_name = "F",
        default_value_t = 1e-3,
        allow_negative_numbers = true
    )]
    learning_rate: f64,
    /// Seed of the generator behind the initial weights, the shuffling and the noise.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,
    /// What training minimises.
    #[arg(long, value_enum, default_value_t = Objective::Elbo)]
    objective: Objective,
    /// Importance samples of the IWAE bound, for training with `--objective iwae` and for the
    /// reported `iwae`.
    #[arg(long, value_name = "K", default_value_t = 5)]
    k: usize,
    /// Weight β of the KL term (β-VAE).
    #[arg(
        long,
        value_name = "F",
        default_value_t = 1.0,
        allow_negative_numbers = true
    )]
    beta: f64,
    /// Epochs of linear KL warm-up (0: none).
    #[arg(long, value_name = "N", default_value_t = 0)]
    warm_up: usize,
    /// Draws of z per test sample for the reported log-likelihood.
    #[arg(long, value_name = "K", default_value_t = 5000)]
    ll_samples: usize,
    /// Floating-point type.
    #[arg(long, value_enum, default_value_t = Dtype::F32)]
    dtype: Dtype,
    /// Start from the parameters in this safetensors file (as `--save` writes it).
    #[arg(long, value_name = "PATH")]
    init: Option<PathBuf>,
    /// Save the trained parameters (safetensors, PyTorch names) to this file.
    #[arg(long, value_name = "PATH")]
    save: Option<PathBuf>,
    /// Write pictures (samples, reconstructions, and for a 2-unit latent the decoded manifold
    /// and the test codes by label) into this folder (needs `--features pictures`).
    #[arg(long, value_name = "DIR")]
    pictures: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Act {
    Relu,
    Tanh,
    Sigmoid,
}

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum Objective {
    Elbo,
    Iwae,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Dtype {
    F32,
    F64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    exit_code(match args.dtype {
        Dtype::F32 => run::<f32>(&args),
        Dtype::F64 => run::<f64>(&args),
    })
}

/// Data in [0, 1]: bytes divided by 255, other values scaled per column to [0, 1] by the
/// training data's range (test values outside it are refused by the Bernoulli likelihood's
/// check, which names them).
fn read<T: Scalar>(path: &Path) -> Result<(DMatrix<T>, bool), Failure> {
    let samples = read_samples::<T>(path, None)?;
    Ok((samples.x, samples.bytes))
}

fn run<T: Scalar>(args: &Args) -> Result<(), Failure> {
    if args.hidden.contains(&0) || args.hidden.is_empty() {
        return Err(Failure::Usage(
            "--hidden needs sizes of at least 1 (e.g. 400 or 200,200)".into(),
        ));
    }
    for (name, value) in [
        ("latent", args.latent),
        ("batch-size", args.batch_size),
        ("k", args.k),
        ("ll-samples", args.ll_samples),
    ] {
        if value == 0 {
            return Err(Failure::Usage(format!("--{name} must be at least 1")));
        }
    }
    check_outputs(
        "vae",
        args.save.as_deref(),
        &[
            args.train_images.as_deref(),
            args.test_images.as_deref(),
            args.init.as_deref(),
        ],
        args.pictures.is_some(),
        cfg!(feature = "pictures"),
    )?;

    // Data; the labels of the test samples, when known, colour the picture of their codes.
    let mut test_labels = None;
    let (train, test) = match &args.train_images {
        None => {
            let digits = bundled_digits::<T>()?;
            let test = match &args.test_images {
                Some(path) => Some(scale(read::<T>(path)?, None)?.0),
                None => {
                    test_labels = Some(digits.test_labels);
                    Some(digits.test_images)
                }
            };
            (digits.train_images, test)
        }
        Some(path) => {
            let (train, fitted) = scale(read::<T>(path)?, None)?;
            let test = match &args.test_images {
                Some(path) => Some(scale(read::<T>(path)?, Some(&fitted))?.0),
                None => None,
            };
            (train, test)
        }
    };

    // Model.
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let activation = match args.activation {
        Act::Relu => Activation::Relu,
        Act::Tanh => Activation::Tanh,
        Act::Sigmoid => Activation::Sigmoid,
    };
    let objective = match args.objective {
        Objective::Elbo => VaeObjective::Elbo,
        Objective::Iwae => VaeObjective::Iwae { samples: args.k },
    };
    let mut vae = flag(
        DenseVae::<T>::dense(
            train.ncols(),
            &args.hidden,
            args.latent,
            activation,
            Likelihood::Bernoulli,
            &mut rng,
        ),
        "hidden/--latent",
    )?;
    vae = flag(vae.with_objective(objective), "k")?;
    vae = flag(vae.with_beta(args.beta), "beta")?.with_warm_up(args.warm_up);
    if let Some(path) = &args.init {
        vae.load_parameters(path)?;
    }
    let mut optimizer = flag(Adam::new(args.learning_rate), "learning-rate")?;
    let config = TrainingConfig::default()
        .with_epochs(args.epochs)
        .with_batch_size(args.batch_size);

    // Training.
    let mut observer = |r: &VaeReport| {
        let validation = r
            .validation_loss
            .map_or(String::new(), |v| format!(" validation_loss={v:.4}"));
        println!(
            "epoch: {} objective={:.4} reconstruction={:.4} kl={:.4} kl_weight={:.3}{validation}",
            r.epoch + 1,
            r.objective,
            r.reconstruction,
            r.kl,
            r.kl_weight
        );
        ControlFlow::Continue(())
    };
    let start = Instant::now();
    let history = vae.fit_with(
        &train,
        test.as_ref(),
        &config,
        &mut optimizer,
        &mut rng,
        &mut observer,
    )?;
    let seconds = start.elapsed().as_secs_f64();
    let samples = (train.nrows() * history.epochs.len()) as f64;
    println!(
        "time: epochs={} wall_seconds={seconds:.3} samples_per_sec={:.0}",
        history.epochs.len(),
        samples / seconds.max(1e-9)
    );

    // Results.
    match &test {
        Some(test) => {
            let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
            let start = Instant::now();
            let elbo = mean(vae.elbo(test, &mut rng)?);
            let iwae = mean(vae.iwae(test, args.k, &mut rng)?);
            let ll = mean(vae.log_likelihood(test, args.ll_samples, &mut rng)?);
            println!(
                "test: samples={} elbo={elbo:.4} iwae={iwae:.4} log_likelihood={ll:.4}",
                test.nrows()
            );
            println!(
                "evaluation: wall_seconds={:.3}",
                start.elapsed().as_secs_f64()
            );
        }
        None => println!("test: none (give --test-images)"),
    }
    if let Some(path) = &args.save {
        vae.save_parameters(path)?;
        println!("saved: {}", path.display());
    }
    if let Some(dir) = &args.pictures {
        let shown = test.as_ref().unwrap_or(&train);
        write_pictures(&vae, shown, test_labels.as_deref(), &mut rng, dir)?;
    }
    Ok(())
}

/// Scales to [0, 1]: bytes by 255, anything else by the (given or fitted) min–max scaler.
fn scale<T: Scalar>(
    (x, bytes): (DMatrix<T>, bool),
    fitted: Option<&autoencoders::data::FittedScaler>,
) -> Result<(DMatrix<T>, autoencoders::data::FittedScaler), Failure> {
    let fitted = match (fitted, bytes) {
        (Some(f), _) => f.clone(),
        (None, true) => Scaler::Bytes.fit(&x)?,
        (None, false) => Scaler::MinMax.fit(&x)?,
    };
    Ok((fitted.transform(&x)?, fitted))
}

#[cfg(feature = "pictures")]
fn write_pictures<T: Scalar>(
    vae: &DenseVae<T>,
    shown: &DMatrix<T>,
    labels: Option<&[usize]>,
    rng: &mut ChaCha8Rng,
    dir: &Path,
) -> Result<(), Failure> {
    use autoencoders::pictures::{LinePlot, TileGrid, image_grid, reconstruction_grid};
    let d = vae.input_dim();
    let side = (d as f64).sqrt().round() as usize;
    if side * side != d {
        return Err(Failure::Usage(format!(
            "--pictures draws square images; {d} features are not a square"
        )));
    }
    std::fs::create_dir_all(dir)?;
    let grid = TileGrid::new(side, side).with_scale(if d <= 1024 { 2 } else { 1 });
    let mut written = vec![
        ("samples.png", image_grid(&vae.sample(100, rng)?, &grid)?),
        {
            let shown = shown.rows(0, shown.nrows().min(20)).into_owned();
            let reconstructions = vae.reconstruct(&shown)?;
            (
                "reconstructions.png",
                reconstruction_grid(&shown, &reconstructions, &grid)?,
            )
        },
    ];
    if vae.latent_dim() == 2 {
        // The decoded means over a 20 × 20 grid of Gaussian quantiles, as in Kingma & Welling's
        // figure: z₁ across, z₂ down.
        let n = 20;
        let quantiles: Vec<f64> = (0..n)
            .map(|i| normal_quantile((i as f64 + 0.5) / n as f64))
            .collect();
        let z = DMatrix::from_fn(n * n, 2, |r, j| {
            let (row, column) = (r / n, r % n);
            T::cast(if j == 0 {
                quantiles[column]
            } else {
                quantiles[n - 1 - row]
            })
        });
        written.push((
            "manifold.png",
            image_grid(&vae.decode(&z)?, &grid.with_columns(n))?,
        ));
        // The test samples' posterior means, coloured by their labels.
        if let Some(labels) = labels {
            let mean = vae.encode(shown)?.mean;
            let points: Vec<(f64, f64)> = mean
                .row_iter()
                .map(|r| (r[0].as_f64(), r[1].as_f64()))
                .collect();
            let plot = LinePlot::default()
                .with_size(600, 600)
                .with_title("test digits: posterior means by label")
                .with_x_label("z1")
                .with_y_label("z2");
            written.push(("codes.png", plot.render_scatter(&points, labels)?));
        }
    }
    for (name, picture) in written {
        picture.save_png(dir.join(name))?;
        println!("picture: {}", dir.join(name).display());
    }
    Ok(())
}

/// The standard normal quantile, by bisection on the CDF, which is integrated from 0 by
/// Simpson's rule (far more accurate than a picture needs).
#[cfg(feature = "pictures")]
fn normal_quantile(p: f64) -> f64 {
    let cdf = |x: f64| {
        let steps = 200;
        let h = x / steps as f64;
        let pdf = |t: f64| (-0.5 * t * t).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let inner: f64 = (1..steps)
            .map(|i| pdf(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 })
            .sum();
        0.5 + h / 3.0 * (pdf(0.0) + inner + pdf(x))
    };
    let (mut low, mut high) = (-8.0, 8.0);
    for _ in 0..60 {
        let mid = 0.5 * (low + high);
        if cdf(mid) < p {
            low = mid;
        } else {
            high = mid;
        }
    }
    0.5 * (low + high)
}

#[cfg(not(feature = "pictures"))]
fn write_pictures<T: Scalar>(
    _: &DenseVae<T>,
    _: &DMatrix<T>,
    _: Option<&[usize]>,
    _: &mut ChaCha8Rng,
    _: &Path,
) -> Result<(), Failure> {
    Ok(())
}
