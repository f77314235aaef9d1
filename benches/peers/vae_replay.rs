//! Replays a PyTorch run recorded by `benches/peers/torch_vae_record.py` with the crate's
//! gradient and Adam: the same initial weights, the same batches in the same order and (unless
//! `--own-noise`) the same draws of ε, for the 784-400-2 VAE of the `experiments vae` table.
//! If the crate's arithmetic is PyTorch's, the replayed parameters end where PyTorch's did, up
//! to the rounding of `f32` sums in another order; `--own-noise N` draws ε from the crate's
//! generator instead (seed N), keeping PyTorch's weights and batches, to test the generator.
//!
//! Run: `cargo run --release -p autoencoders-tools --example vae_replay -- --dir DIR --seed S
//! [--own-noise N]`, then `vae --latent 2 --epochs 0 --ll-samples 1 --init FILE` on the file it
//! writes and on PyTorch's `finalS.safetensors`.

use autoencoders::data::bundled_digits;
use autoencoders::rand::SeedableRng;
use autoencoders::rand::rngs::ChaCha8Rng;
use autoencoders::{Activation, Adam, DenseVae, Likelihood, Optimizer, Scalar};
use clap::Parser;
use nalgebra::DMatrix;
use std::error::Error;
use std::path::PathBuf;

const EPOCHS: usize = 30;
const BATCH: usize = 100;
const LATENT: usize = 2;

#[derive(Parser)]
#[command(about = "Replay a recorded PyTorch VAE run with the crate's gradient and Adam")]
struct Args {
    /// The folder torch_vae_record.py wrote.
    #[arg(long)]
    dir: PathBuf,
    /// Which recorded seed.
    #[arg(long)]
    seed: u64,
    /// Draw ε from the crate's generator, seeded so, instead of PyTorch's draws.
    #[arg(long, value_name = "N")]
    own_noise: Option<u64>,
}

fn words(path: &PathBuf) -> Result<Vec<[u8; 4]>, Box<dyn Error>> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() % 4 != 0 {
        return Err(format!("{}: not a whole number of 4-byte words", path.display()).into());
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|w| [w[0], w[1], w[2], w[3]])
        .collect())
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let digits = bundled_digits::<f32>()?;
    let n = digits.train_images.nrows();
    let steps = EPOCHS * n / BATCH;
    let order: Vec<usize> = words(&args.dir.join(format!("order{}.u32", args.seed)))?
        .into_iter()
        .map(|w| u32::from_le_bytes(w) as usize)
        .collect();
    let noise: Vec<f32> = words(&args.dir.join(format!("noise{}.f32", args.seed)))?
        .into_iter()
        .map(f32::from_le_bytes)
        .collect();
    if order.len() != EPOCHS * n || order.iter().any(|&r| r >= n) {
        return Err(format!("the order file must hold {EPOCHS} permutations of {n} rows").into());
    }
    if noise.len() != steps * BATCH * LATENT || noise.iter().any(|v| !v.is_finite()) {
        return Err(
            format!("the noise file must hold {steps} × {BATCH} × {LATENT} finite draws").into(),
        );
    }
    let mut rng = ChaCha8Rng::seed_from_u64(args.own_noise.unwrap_or(0));
    let mut vae = DenseVae::<f32>::dense(
        digits.train_images.ncols(),
        &[400],
        LATENT,
        Activation::Relu,
        Likelihood::Bernoulli,
        &mut rng,
    )?;
    vae.load_parameters(args.dir.join(format!("init{}.safetensors", args.seed)))?;
    let mut adam = Adam::new(1e-3)?;
    let mut x = DMatrix::<f32>::zeros(BATCH, digits.train_images.ncols());
    let mut eps = DMatrix::<f32>::zeros(BATCH, LATENT);
    for step in 0..steps {
        let rows = &order[step * BATCH..(step + 1) * BATCH];
        for (i, &r) in rows.iter().enumerate() {
            x.row_mut(i).copy_from(&digits.train_images.row(r));
        }
        match args.own_noise {
            Some(_) => f32::fill_standard_normal(&mut rng, eps.as_mut_slice()),
            None => {
                let drawn = &noise[step * BATCH * LATENT..(step + 1) * BATCH * LATENT];
                eps = DMatrix::from_row_slice(BATCH, LATENT, drawn);
            }
        }
        let (_, gradients) = vae.gradient_with_noise(&x, &x, &eps)?;
        let gradients: Vec<&[f32]> = gradients.iter().map(Vec::as_slice).collect();
        adam.step(&mut vae.parameters_mut(), &gradients);
    }
    let name = match args.own_noise {
        Some(n) => format!("replayed{}-own{n}.safetensors", args.seed),
        None => format!("replayed{}.safetensors", args.seed),
    };
    let path = args.dir.join(name);
    vae.save_parameters(&path)?;
    println!("saved {}", path.display());
    Ok(())
}
