//! Pictures of what four autoencoders learned on the bundled digits: a plain one, a sparse one
//! (KL sparsity, target activation 0.05, β = 3), a denoising one (masking noise, p = 0.3) and
//! a contractive one (λ = 0.3). Each is 784 → 100 → 784 with sigmoid units, the
//! cross-entropy loss and weight decay λ = 3·10⁻³ (as UFLDL's exercise has), trained to
//! convergence by one stopping rule: Adam (η = 3·10⁻³, batches of
//! 32) on 7,000 of the 8,000 training digits, the other 1,000 (a seeded split) held out, until
//! the held-out loss has not improved on its best for 10 epochs in a row (at most 500 epochs);
//! the model kept is the one of the best held-out epoch. It prints, per model, the epochs run,
//! the best epoch, the losses, the mean code activation and the filters' median half-energy
//! radius ([`half_energy_radii`], with the one-pixel "dots" counted apart). For each it writes
//! into the folder given as the first argument (default `target/pictures`):
//! - `<name>-filters.png`: the 100 encoder weight rows as 28×28 tiles; expect pen strokes and
//!   digit-like templates, sharper and more local for the sparse and denoising models;
//! - `<name>-reconstructions.png`: 20 test digits above their reconstructions;
//! - `<name>-losses.png`: train and held-out losses per epoch.
//!
//! The README shows the results; regenerate them with
//! `cargo run --release --features pictures --example pictures -- docs/pictures`.

use autoencoders::data::{SplitSize, bundled_digits, select_rows, split_rows};
use autoencoders::metrics::half_energy_radii;
use autoencoders::pictures::{TileGrid, filter_grid, loss_curves, reconstruction_grid};
use autoencoders::{
    Adam, BuiltinCorruption, BuiltinRegularizer, Contractive, DenseBuilder, KlSparsity, Masking,
    ReconstructionLoss, Scalar, TrainingConfig, WeightDecay,
};

/// The weight decay every model has, `(λ/2)·Σw²` over both weight matrices: without it, long
/// training lets the weights of pixels that few digits ever light up grow without bound, and
/// those pixels are all a filter picture shows.
const DECAY: f64 = 3e-3;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use std::error::Error;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn Error>> {
    let folder = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/pictures".to_owned()),
    );
    std::fs::create_dir_all(&folder)?;
    let digits = bundled_digits::<f32>()?;
    let test = digits.test_images.rows(0, 20).into_owned();
    let (train_rows, held_out_rows) = split_rows(
        digits.train_images.nrows(),
        SplitSize::Count(7_000),
        &mut ChaCha8Rng::seed_from_u64(11),
    )?;
    let train = select_rows(&digits.train_images, &train_rows)?;
    let held_out = select_rows(&digits.train_images, &held_out_rows)?;
    let grid = TileGrid::new(28, 28).with_scale(2);
    let decay: BuiltinRegularizer = WeightDecay::new(DECAY)?.into();
    let variants: [(&str, Vec<BuiltinRegularizer>, BuiltinCorruption); 4] = [
        ("plain", vec![decay], BuiltinCorruption::None),
        (
            "sparse",
            vec![KlSparsity::new(0.05, 3.0)?.into(), decay],
            BuiltinCorruption::None,
        ),
        ("denoising", vec![decay], Masking::new(0.3)?.into()),
        (
            "contractive",
            vec![Contractive::new(0.3)?.into(), decay],
            BuiltinCorruption::None,
        ),
    ];
    for (name, regularizers, corruption) in variants {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut model = DenseBuilder::new(784, 100)
            .build::<f32, _>(&mut rng)?
            .with_loss(ReconstructionLoss::CrossEntropy)
            .with_regularizer(regularizers)
            .with_corruption(corruption);
        let config = TrainingConfig::default()
            .with_epochs(500)
            .with_batch_size(32)
            .with_early_stopping(10);
        let start = std::time::Instant::now();
        let history = model.fit_with(
            &train,
            Some(&held_out),
            &config,
            &mut Adam::new(3e-3)?,
            &mut rng,
            &mut (),
        )?;
        let seconds = start.elapsed().as_secs_f64();
        filter_grid(model.encoder().weights(), &grid)?
            .save_png(folder.join(format!("{name}-filters.png")))?;
        reconstruction_grid(&test, &model.reconstruct(&test)?, &grid)?
            .save_png(folder.join(format!("{name}-reconstructions.png")))?;
        loss_curves(&history)?.save_png(folder.join(format!("{name}-losses.png")))?;
        let best = history.best_epoch.unwrap_or(history.epochs.len() - 1);
        let report = &history.epochs[best];
        let radii: Vec<f64> = half_energy_radii(model.encoder().weights(), 28)?
            .into_iter()
            .flatten()
            .collect();
        let mut others: Vec<f64> = radii.iter().copied().filter(|r| *r >= 1.0).collect();
        others.sort_by(f64::total_cmp);
        println!(
            "{name}: epochs={} stop={:?} best_epoch={} train_loss={:.2} held_out_loss={:.2} \
             test_loss={:.2} mean_activation={:.3} dots={} median_radius={:.2} px seconds={seconds:.0}",
            history.epochs.len(),
            history.stop_reason,
            best + 1,
            report.reconstruction_loss,
            report.validation_loss.unwrap_or(f64::NAN),
            model
                .objective(&digits.test_images)?
                .reconstruction
                .as_f64(),
            model.encode(&held_out)?.mean(),
            radii.len() - others.len(),
            others.get(others.len() / 2).copied().unwrap_or(f64::NAN),
        );
    }
    println!("wrote the pictures to {}", folder.display());
    Ok(())
}
