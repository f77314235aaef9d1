//! `ufldl`: the UFLDL sparse autoencoder exercise on the bundled digits — 784 inputs, 196
//! sigmoid hidden units, KL sparsity ρ = 0.1, β = 3, weight decay λ = 3e-3, trained full-batch
//! by L-BFGS for up to 400 iterations in `f64` — printing UFLDL's objective per iteration, the
//! final mean activation (≈ ρ) and the median half-energy radius of the filters: for each
//! filter, the radius in pixels of the smallest disc around its energy centroid that holds half
//! of its squared weight (pen strokes are compact, digit templates are not).
//!
//! ```text
//! cargo run --release --example ufldl
//! cargo run --release --features pictures --example ufldl -- --pictures docs/pictures/ufldl
//! cargo run --release --example ufldl -- --plain       # β = 0: weight decay only
//! ```

use autoencoders::data::bundled_digits;
use autoencoders::optimizer::{Lbfgs, LbfgsIteration};
use autoencoders::rand::SeedableRng;
use autoencoders::rand::rngs::ChaCha8Rng;
use autoencoders::ufldl::Ufldl;
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
}

/// The radius (pixels) of the smallest disc around the energy centroid of a 28 × 28 filter
/// that holds half of its squared weight.
fn half_energy_radius(filter: &[f64], side: usize) -> f64 {
    let energy: Vec<f64> = filter.iter().map(|w| w * w).collect();
    let total: f64 = energy.iter().sum();
    let (mut cy, mut cx) = (0.0, 0.0);
    for (p, e) in energy.iter().enumerate() {
        cy += e * (p / side) as f64;
        cx += e * (p % side) as f64;
    }
    let (cy, cx) = (cy / total, cx / total);
    let mut by_distance: Vec<(f64, f64)> = energy
        .iter()
        .enumerate()
        .map(|(p, &e)| (((p / side) as f64 - cy).hypot((p % side) as f64 - cx), e))
        .collect();
    by_distance.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut held = 0.0;
    for (distance, e) in by_distance {
        held += e;
        if held >= 0.5 * total {
            return distance;
        }
    }
    f64::NAN
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
    let lbfgs = Lbfgs::new().with_max_iterations(args.iterations);
    let start = Instant::now();
    let outcome = model.fit_lbfgs(&x, &lbfgs, &mut |r: &LbfgsIteration| {
        println!(
            "iteration: {} objective={:.6} gradient={:.3e} step={:.3e} evaluations={}",
            r.iteration,
            r.objective / 2.0,
            r.gradient_norm / 2.0,
            r.step,
            r.evaluations
        );
        ControlFlow::Continue(())
    })?;
    let seconds = start.elapsed().as_secs_f64();
    let codes = model.encode(&x)?;
    let mean_activation = codes.mean();
    let weights: &DMatrix<f64> = model.encoder().weights();
    let side = (x.ncols() as f64).sqrt().round() as usize;
    let mut radii: Vec<f64> = (0..weights.nrows())
        .map(|j| {
            let filter: Vec<f64> = weights.row(j).iter().copied().collect();
            half_energy_radius(&filter, side)
        })
        .collect();
    radii.sort_by(f64::total_cmp);
    println!(
        "final: iterations={} stop={:?} objective={:.6} mean_activation={:.4} seconds={seconds:.1}",
        outcome.iterations,
        outcome.stop,
        Ufldl::objective(&model.objective(&x)?),
        mean_activation
    );
    println!(
        "filters: median_half_energy_radius={:.2} px",
        radii[radii.len() / 2]
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
