//! Pictures of what four autoencoders learned on the bundled digits: a plain one, a sparse one
//! (KL sparsity, target activation 0.05, as in the UFLDL exercise), a denoising one (masking
//! noise, p = 0.3) and a contractive one (λ = 0.3). Each is 784 → 100 → 784 with sigmoid units,
//! trained for 10 epochs with the cross-entropy loss by SGD (η = 0.1) on the 8,000 training
//! digits (about 10 s each). For each it writes into the folder given as the first argument
//! (default `target/pictures`):
//! - `<name>-filters.png`: the 100 encoder weight rows as 28×28 tiles; expect pen strokes and
//!   digit-like templates, sharper and more local for the sparse and denoising models;
//! - `<name>-reconstructions.png`: 20 test digits above their reconstructions;
//! - `<name>-losses.png`: train and test losses per epoch.
//!
//! The README shows the results; regenerate them with
//! `cargo run --release --features pictures --example pictures -- docs/pictures`.

use autoencoders::data::bundled_digits;
use autoencoders::pictures::{TileGrid, filter_grid, loss_curves, reconstruction_grid};
use autoencoders::{
    BuiltinCorruption, BuiltinRegularizer, Contractive, DenseBuilder, KlSparsity, Masking,
    ReconstructionLoss, Sgd, TrainingConfig,
};
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
    let grid = TileGrid::new(28, 28).with_scale(2);
    let variants: [(&str, Vec<BuiltinRegularizer>, BuiltinCorruption); 4] = [
        ("plain", vec![], BuiltinCorruption::None),
        (
            "sparse",
            vec![KlSparsity::new(0.05, 3.0)?.into()],
            BuiltinCorruption::None,
        ),
        ("denoising", vec![], Masking::new(0.3)?.into()),
        (
            "contractive",
            vec![Contractive::new(0.3)?.into()],
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
            .with_epochs(10)
            .with_batch_size(32);
        let history = model.fit_with(
            &digits.train_images,
            Some(&digits.test_images),
            &config,
            &mut Sgd::new(0.1)?,
            &mut rng,
            &mut (),
        )?;
        filter_grid(model.encoder().weights(), &grid)?
            .save_png(folder.join(format!("{name}-filters.png")))?;
        reconstruction_grid(&test, &model.reconstruct(&test)?, &grid)?
            .save_png(folder.join(format!("{name}-reconstructions.png")))?;
        loss_curves(&history)?.save_png(folder.join(format!("{name}-losses.png")))?;
        if let Some(last) = history.last() {
            println!(
                "{name}: after {} epochs train loss {:.1}, test loss {:.1} nats per digit",
                history.epochs.len(),
                last.reconstruction_loss,
                last.validation_loss.unwrap_or(f64::NAN)
            );
        }
    }
    println!("wrote the pictures to {}", folder.display());
    Ok(())
}
