//! Pictures of what an autoencoder learned: its filters, its reconstructions and its losses.
//!
//! Trains a sparse 784 → 100 → 784 sigmoid autoencoder (KL sparsity with target activation
//! 0.05, and weight decay, as in the UFLDL sparse autoencoder exercise) on the 8,000 bundled
//! training digits for 10 epochs (about 15 s), and writes three PNG files into the folder given
//! as the first argument (default `target/pictures`):
//! - `filters.png`: the 100 encoder weight rows as 28×28 tiles, 10 × 10; expect pen strokes and
//!   digit-like templates, light where a unit wants ink and dark where ink switches it off, on a
//!   mid-grey background;
//! - `reconstructions.png`: 20 test digits, each row of them above its reconstructions, which
//!   should be recognisable, slightly blurred copies;
//! - `losses.png`: the training objective and the training and test cross-entropy falling over
//!   the epochs, the test cross-entropy from about 200 after the first epoch to about 100 nats per digit.
//!
//! Run: `cargo run --release --features pictures --example pictures [FOLDER]`

use autoencoders::data::bundled_digits;
use autoencoders::pictures::{TileGrid, filter_grid, loss_curves, reconstruction_grid};
use autoencoders::{
    Adam, DenseBuilder, KlSparsity, ReconstructionLoss, TrainingConfig, WeightDecay,
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
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut model = DenseBuilder::new(784, 100)
        .build::<f32, _>(&mut rng)?
        .with_loss(ReconstructionLoss::CrossEntropy)
        .with_regularizer((KlSparsity::new(0.05, 3.0)?, WeightDecay::new(1e-3)?));
    let config = TrainingConfig::default()
        .with_epochs(10)
        .with_batch_size(32);
    let history = model.fit_with(
        &digits.train_images,
        Some(&digits.test_images),
        &config,
        &mut Adam::new(1e-3)?,
        &mut rng,
        &mut (),
    )?;

    let digit = TileGrid::new(28, 28);
    let filters = filter_grid(model.encoder().weights(), &digit.with_scale(2))?;
    filters.save_png(folder.join("filters.png"))?;

    let test = digits.test_images.rows(0, 20).into_owned();
    let reconstructions = model.reconstruct(&test)?;
    reconstruction_grid(&test, &reconstructions, &digit.with_scale(2))?
        .save_png(folder.join("reconstructions.png"))?;

    loss_curves(&history)?.save_png(folder.join("losses.png"))?;

    if let Some(last) = history.last() {
        println!(
            "after {} epochs: train loss {:.1}, test loss {:.1} nats per digit",
            history.epochs.len(),
            last.reconstruction_loss,
            last.validation_loss.unwrap_or(f64::NAN)
        );
    }
    println!(
        "wrote filters.png, reconstructions.png and losses.png to {}",
        folder.display()
    );
    Ok(())
}
