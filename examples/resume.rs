//! Checkpoints and exact resumption: a denoising autoencoder with a 32-unit code trains on 2,000
//! bundled digits for six epochs, saving a checkpoint every two. The run is cut short after
//! four epochs, as a crash would cut it, and a second model, built afresh, resumes from the file.
//!
//! Expect the training cross-entropy to fall from about 205 to about 149 nats per digit, the
//! interrupted run to stop after epoch 4 and the resumed one to print epochs 5 and 6 exactly as
//! the run without a break did; its parameters, Adam's moments and step count, and the
//! generator then equal that run's bit for bit. Another process could as well load the
//! checkpoint: everything the run needs is in the file.
//!
//! Run: `cargo run --release --example resume`

use autoencoders::data::bundled_digits;
use autoencoders::{
    Adam, Checkpoint, Checkpointing, DenseAutoencoder, DenseBuilder, EpochReport, Masking,
    NoRegularizer, ReconstructionLoss, TrainingConfig, TrainingRun,
};
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use std::error::Error;
use std::ops::ControlFlow;

/// The model, built the same way every time.
fn model() -> Result<DenseAutoencoder<f32, NoRegularizer, Masking>, Box<dyn Error>> {
    let model = DenseBuilder::new(784, 32)
        .build::<f32, _>(&mut ChaCha8Rng::seed_from_u64(7))?
        .with_corruption(Masking::new(0.25)?)
        .with_loss(ReconstructionLoss::CrossEntropy);
    Ok(model)
}

fn main() -> Result<(), Box<dyn Error>> {
    let x = bundled_digits::<f32>()?
        .train_images
        .rows(0, 2000)
        .into_owned();
    let config = TrainingConfig::default().with_epochs(6).with_batch_size(20);
    let path = std::env::temp_dir().join("autoencoders-example-resume.safetensors");
    let show = |r: &EpochReport| {
        println!("  epoch {}: training loss {:.4}", r.epoch + 1, r.objective);
    };

    println!("six epochs without a break:");
    let mut whole = model()?;
    let mut reference = TrainingRun::new(config, Adam::new(3e-2)?, ChaCha8Rng::seed_from_u64(1));
    whole.fit_resumable(&x, None, &mut reference, &mut |r: &EpochReport| {
        show(r);
        ControlFlow::Continue(())
    })?;

    println!("the same run, with a checkpoint every two epochs, cut short after four:");
    let mut first = model()?;
    let mut run = TrainingRun::new(config, Adam::new(3e-2)?, ChaCha8Rng::seed_from_u64(1))
        .with_checkpoints(Checkpointing::new(&path).with_interval(2));
    first.fit_resumable(&x, None, &mut run, &mut |r: &EpochReport| {
        show(r);
        if r.epoch == 3 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;

    let checkpoint = Checkpoint::<f32>::load(&path)?;
    println!(
        "resumed from {} after epoch {}:",
        path.display(),
        checkpoint.epochs_done()
    );
    let mut resumed = model()?;
    let mut rest = checkpoint.resume(&mut resumed, Adam::new(3e-2)?)?;
    resumed.fit_resumable(&x, None, &mut rest, &mut |r: &EpochReport| {
        show(r);
        ControlFlow::Continue(())
    })?;

    let bits = |p: Vec<&[f32]>| -> Vec<u32> {
        p.iter()
            .flat_map(|t| t.iter().map(|v| v.to_bits()))
            .collect()
    };
    let same_parameters = bits(resumed.parameters()) == bits(whole.parameters());
    let same_optimizer = rest.optimizer() == reference.optimizer();
    let same_generator = rest.rng() == reference.rng();
    println!("parameters bit for bit equal: {same_parameters}");
    println!("Adam's moments and step count equal: {same_optimizer}");
    println!("generator state equal: {same_generator}");
    std::fs::remove_file(&path)?;
    if same_parameters && same_optimizer && same_generator {
        Ok(())
    } else {
        Err("the resumed run differs from the run without a break".into())
    }
}
