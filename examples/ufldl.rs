//! `ufldl`: the UFLDL sparse autoencoder exercise on the bundled digits — 784 inputs, 196
//! sigmoid hidden units, KL sparsity ρ = 0.1, β = 3, weight decay λ = 3e-3, trained full-batch
//! by L-BFGS for up to 400 iterations in `f64` — printing UFLDL's objective per iteration, the
//! final mean activation (≈ ρ) and the median half-energy radius of the filters: for each
//! filter, the radius in pixels of the smallest disc around its energy centroid that holds half
//! of its squared weight (pen strokes are compact, digit templates are not;
//! [`half_energy_radii`](autoencoders::metrics::half_energy_radii)). Filters whose energy sits
//! within one pixel of their centroid ("dots") are counted apart, with the median of the others.
//!
//! `--optimizer sgd|adam` trains the same objective from the same initial weights by minibatch
//! SGD or Adam for `--epochs` epochs instead, printing UFLDL's objective on the whole training
//! set after each epoch (from `fit_watched`, whose observer sees the model), for comparing the
//! optimisers (the evaluations are not timed).
//!
//! ```text
//! cargo run --release --example ufldl
//! cargo run --release --features pictures --example ufldl -- --pictures docs/pictures/ufldl
//! cargo run --release --example ufldl -- --plain       # β = 0: weight decay only
//! cargo run --release --example ufldl -- --optimizer adam --epochs 50 --learning-rate 1e-3
//! cargo run --release --example ufldl -- --checkpoint run.safetensors            # interrupted…
//! cargo run --release --example ufldl -- --checkpoint run.safetensors --resume   # …continued
//! ```
//!
//! With `--checkpoint`, L-BFGS writes its state (point, memory, counts) every
//! `--checkpoint-interval` iterations and when it stops; `--resume` continues from that file to
//! the same iterates, bit for bit, as a run without a break.

use autoencoders::data::bundled_digits;
use autoencoders::metrics::half_energy_radii;
use autoencoders::optimizer::{Lbfgs, LbfgsIteration};
use autoencoders::rand::SeedableRng;
use autoencoders::rand::rngs::ChaCha8Rng;
use autoencoders::ufldl::{Ufldl, UfldlAutoencoder};
use autoencoders::{
    Adam, Checkpointing, EpochReport, LbfgsCheckpoint, Optimizer, Sgd, TrainingConfig,
};
use autoencoders_tools::{Failure, exit_code};
use clap::Parser;
use nalgebra::DMatrix;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "ufldl",
    about = "The UFLDL sparse autoencoder exercise, by full-batch L-BFGS."
)]
struct Args {
    /// L-BFGS iterations at most (UFLDL: 400).
    #[arg(long, value_name = "N", default_value_t = 400)]
    iterations: usize,
    /// Hidden units (UFLDL: 196).
    #[arg(long, value_name = "K", default_value_t = 196)]
    hidden: usize,
    /// No sparsity term (β = 0): the plain autoencoder with weight decay, for comparison.
    #[arg(long)]
    plain: bool,
    /// Use only the first N training digits.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Seed of the initial weights.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// Write the filter grid into this folder (needs `--features pictures`).
    #[arg(long, value_name = "DIR")]
    pictures: Option<PathBuf>,
    /// The optimiser: full-batch L-BFGS (UFLDL's), or minibatch SGD or Adam.
    #[arg(long, value_enum, default_value_t = Method::Lbfgs)]
    optimizer: Method,
    /// Epochs of SGD or Adam.
    #[arg(long, value_name = "N", default_value_t = 50)]
    epochs: usize,
    /// Learning rate of SGD or Adam (default: 0.1 for SGD, 1e-3 for Adam).
    #[arg(long, value_name = "F")]
    learning_rate: Option<f64>,
    /// Minibatch size of SGD or Adam.
    #[arg(long, value_name = "N", default_value_t = 32)]
    batch_size: usize,
    /// Write an L-BFGS checkpoint to this file every `--checkpoint-interval` iterations and
    /// when the run stops (L-BFGS only).
    #[arg(long, value_name = "PATH")]
    checkpoint: Option<PathBuf>,
    /// Iterations between checkpoints.
    #[arg(long, value_name = "N", default_value_t = 10)]
    checkpoint_interval: usize,
    /// Continue the run saved in the `--checkpoint` file, bit for bit as if unbroken (with
    /// the same flags; `--iterations` may be larger).
    #[arg(long)]
    resume: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Method {
    Lbfgs,
    Sgd,
    Adam,
}

/// The filters within one pixel of their centroid ("dots"), and the other radii.
fn radius_summary(radii: &[Option<f64>]) -> (usize, Vec<f64>) {
    let known: Vec<f64> = radii.iter().flatten().copied().collect();
    let others: Vec<f64> = known.iter().copied().filter(|r| *r >= 1.0).collect();
    (known.len() - others.len(), others)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() -> ExitCode {
    exit_code(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), Failure> {
    if args.pictures.is_some() && !cfg!(feature = "pictures") {
        return Err(Failure::Usage(
            "--pictures needs the `pictures` feature: cargo run --release --features pictures --example ufldl -- …".into(),
        ));
    }
    if args.hidden == 0 || args.limit == Some(0) {
        return Err(Failure::Usage(
            "--hidden and --limit must be at least 1".into(),
        ));
    }
    if args.optimizer != Method::Lbfgs && (args.checkpoint.is_some() || args.resume) {
        return Err(Failure::Usage(
            "--checkpoint and --resume are for --optimizer lbfgs".into(),
        ));
    }
    if args.resume && args.checkpoint.is_none() {
        return Err(Failure::Usage("--resume needs --checkpoint PATH".into()));
    }
    if args.checkpoint_interval == 0 {
        return Err(Failure::Usage(
            "--checkpoint-interval must be at least 1".into(),
        ));
    }
    if args.optimizer != Method::Lbfgs && (args.epochs == 0 || args.batch_size == 0) {
        return Err(Failure::Usage(
            "--epochs and --batch-size must be at least 1".into(),
        ));
    }
    let digits = bundled_digits::<f64>()?;
    let x = autoencoders_tools::first_rows(digits.train_images, args.limit);
    let recipe = Ufldl {
        beta: if args.plain { 0.0 } else { 3.0 },
        ..Ufldl::EXERCISE
    };
    let mut model = recipe.build::<f64, _>(
        x.ncols(),
        args.hidden,
        &mut ChaCha8Rng::seed_from_u64(args.seed),
    )?;
    let (iterations, stop, seconds) = match args.optimizer {
        Method::Lbfgs => {
            let start = Instant::now();
            let lbfgs = Lbfgs::new().with_max_iterations(args.iterations);
            let checkpointing = args
                .checkpoint
                .as_ref()
                .map(|path| Checkpointing::new(path).with_interval(args.checkpoint_interval));
            let resume = match (&args.checkpoint, args.resume) {
                (Some(path), true) => {
                    let checkpoint = LbfgsCheckpoint::load(path)?;
                    println!(
                        "resumed: iterations={} evaluations={} objective={:.6}",
                        checkpoint.iterations_done(),
                        checkpoint.evaluations(),
                        checkpoint.objective() / 2.0
                    );
                    Some(checkpoint)
                }
                _ => None,
            };
            let mut print = |r: &LbfgsIteration| {
                println!(
                    "iteration: {} objective={:.6} gradient={:.3e} step={:.3e} evaluations={}",
                    r.iteration,
                    r.objective / 2.0,
                    r.gradient_norm / 2.0,
                    r.step,
                    r.evaluations
                );
                ControlFlow::Continue(())
            };
            let outcome = model.fit_lbfgs_resumable(
                &x,
                &lbfgs,
                checkpointing.as_ref(),
                resume,
                &mut print,
            )?;
            (
                outcome.iterations,
                format!("{:?}", outcome.stop),
                start.elapsed().as_secs_f64(),
            )
        }
        Method::Sgd | Method::Adam => {
            let config = TrainingConfig::default()
                .with_epochs(args.epochs)
                .with_batch_size(args.batch_size);
            let mut rng = ChaCha8Rng::seed_from_u64(args.seed.wrapping_add(1));
            let mut optimizer: Box<dyn Optimizer<f64>> = match args.optimizer {
                Method::Sgd => Box::new(Sgd::new(args.learning_rate.unwrap_or(0.1))?),
                _ => Box::new(Adam::new(args.learning_rate.unwrap_or(1e-3))?),
            };
            // The watcher evaluates UFLDL's objective on the whole set after every epoch; that
            // time is not the optimiser's and is taken off the clock.
            let mut untimed = 0.0;
            let mut failure = None;
            let start = Instant::now();
            model.fit_watched(
                &x,
                None,
                &config,
                &mut optimizer,
                &mut rng,
                &mut |report: &EpochReport, model: &UfldlAutoencoder<f64>| {
                    let t = Instant::now();
                    match model.objective(&x) {
                        Ok(objective) => println!(
                            "epoch: {} objective={:.6} seconds={:.1}",
                            report.epoch + 1,
                            Ufldl::objective(&objective),
                            start.elapsed().as_secs_f64() - untimed
                        ),
                        Err(e) => {
                            failure = Some(e);
                            return ControlFlow::Break(());
                        }
                    }
                    untimed += t.elapsed().as_secs_f64();
                    ControlFlow::Continue(())
                },
            )?;
            if let Some(e) = failure {
                return Err(e.into());
            }
            let seconds = start.elapsed().as_secs_f64() - untimed;
            (args.epochs, "Epochs".to_owned(), seconds)
        }
    };
    let codes = model.encode(&x)?;
    let mean_activation = codes.mean();
    let weights: &DMatrix<f64> = model.encoder().weights();
    let side = (x.ncols() as f64).sqrt().round() as usize;
    let radii = half_energy_radii(weights, side)?;
    let (dots, others) = radius_summary(&radii);
    println!(
        "final: iterations={iterations} stop={stop} objective={:.6} mean_activation={:.4} seconds={seconds:.1}",
        Ufldl::objective(&model.objective(&x)?),
        mean_activation
    );
    println!(
        "filters: median_half_energy_radius={:.2} px dots={dots} median_without_dots={:.2} px",
        median(radii.iter().flatten().copied().collect()),
        median(others)
    );
    if let Some(dir) = &args.pictures {
        write_filters(weights, side, dir)?;
    }
    Ok(())
}

#[cfg(feature = "pictures")]
fn write_filters(
    weights: &DMatrix<f64>,
    side: usize,
    dir: &std::path::Path,
) -> Result<(), Failure> {
    use autoencoders::pictures::{TileGrid, filter_grid};
    std::fs::create_dir_all(dir)?;
    let path = dir.join("filters.png");
    filter_grid(weights, &TileGrid::new(side, side))?.save_png(&path)?;
    println!("picture: {}", path.display());
    Ok(())
}

#[cfg(not(feature = "pictures"))]
fn write_filters(_: &DMatrix<f64>, _: usize, _: &std::path::Path) -> Result<(), Failure> {
    Ok(())
}
