//! Results do not depend on the number of threads the matrix products use (`threading`
//! feature): the same seeded training in a process with `MATMUL_NUM_THREADS=1` and in one with
//! `MATMUL_NUM_THREADS=2` gives the same parameters, bit for bit. `matrixmultiply` splits a
//! product's output between threads and never splits a sum, so each element is accumulated in
//! the same order whatever the thread count. Run with
//! `cargo test --release --features threading --test threads`.
#![cfg(feature = "threading")]

use autoencoders::data::bundled_digits;
use autoencoders::{Contractive, DenseBuilder, GaussianNoise, Sgd, TrainingConfig};
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use std::process::Command;

/// Set in the child processes: the thread count they were started with.
const CHILD_ROLE: &str = "AUTOENCODERS_THREADS_CHILD";

/// Trains a model big enough for the products to be split between threads, and prints its
/// parameters' bits. Does nothing unless started by the test below.
#[test]
fn threads_child() {
    let Ok(threads) = std::env::var(CHILD_ROLE) else {
        return;
    };
    let digits = bundled_digits::<f32>().unwrap();
    let x = digits.train_images.rows(0, 2000).into_owned();
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut model = DenseBuilder::new(784, 256)
        .build::<f32, _>(&mut rng)
        .unwrap()
        .with_regularizer(Contractive::new(0.1).unwrap())
        .with_corruption(GaussianNoise::new(0.3).unwrap());
    let config = TrainingConfig::default()
        .with_epochs(2)
        .with_batch_size(128);
    model
        .fit(&x, &config, &mut Sgd::new(0.01).unwrap(), &mut rng)
        .unwrap();
    // FNV-1a over every parameter's bits, and a few raw values for the failure message.
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for tensor in model.parameters() {
        for value in tensor {
            hash = (hash ^ u64::from(value.to_bits())).wrapping_mul(0x100_0000_01b3);
        }
    }
    let first = model.parameters()[0][..3].to_vec();
    println!("threads={threads} parameters={hash:016x} first={first:?}");
}

fn run_child(threads: usize) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "threads_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ROLE, threads.to_string())
        .env("MATMUL_NUM_THREADS", threads.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .find_map(|line| {
            let marker = format!("threads={threads} ");
            line.find(&marker).map(|at| &line[at + marker.len()..])
        })
        .unwrap_or_else(|| panic!("no result line in:\n{stdout}"))
        .to_owned()
}

#[test]
fn training_is_bit_identical_at_one_and_two_threads() {
    let one = run_child(1);
    let two = run_child(2);
    assert_eq!(one, two, "one thread vs two threads");
}
