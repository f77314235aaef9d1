//! Results do not depend on the number of threads (module `threads`): the same seeded training
//! at 1, 2, 3 and 4 threads gives the same parameters, bit for bit, for models whose products
//! and optimiser updates are large enough to be divided between threads (SGD, SGD with
//! momentum, Adam; `f32` and `f64`; one layer, and a classifier over a three-layer stack).
//! The crate divides work only between outputs, never a sum. The thread count set by the
//! environment variable `AUTOENCODERS_THREADS` is checked in child processes, and a malformed
//! value is a typed error.

use autoencoders::data::bundled_digits;
use autoencoders::{
    Activation, Adam, Classifier, Contractive, DenseBuilder, Error, GaussianNoise, Init,
    KlSparsity, Optimizer, Scalar, Sgd, StackedEncoder, TrainingConfig, threads,
};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use std::process::Command;
use std::sync::Mutex;

/// The thread count is the process's: the tests that set it take turns.
static THREADS: Mutex<()> = Mutex::new(());

/// Set in the child processes: what they are to do.
const CHILD_ROLE: &str = "AUTOENCODERS_THREADS_TEST_CHILD";

/// FNV-1a over the bits of every value.
fn fingerprint<T: Scalar>(tensors: &[&[T]]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for tensor in tensors {
        for value in *tensor {
            hash = (hash ^ value.as_f64().to_bits()).wrapping_mul(0x100_0000_01b3);
        }
    }
    hash
}

fn digits<T: Scalar>(rows: usize) -> (DMatrix<T>, Vec<usize>) {
    let digits = bundled_digits::<T>().unwrap();
    (
        digits.train_images.rows(0, rows).into_owned(),
        digits.train_labels[..rows].to_vec(),
    )
}

/// A denoising, contractive 784 → 256 autoencoder in `f32`, trained by `optimizer`.
fn one_layer_f32(optimizer: &mut impl Optimizer<f32>, batch: usize) -> u64 {
    let (x, _) = digits::<f32>(1000);
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut model = DenseBuilder::new(784, 256)
        .build::<f32, _>(&mut rng)
        .unwrap()
        .with_regularizer(Contractive::new(0.1).unwrap())
        .with_corruption(GaussianNoise::new(0.3).unwrap());
    let config = TrainingConfig::default()
        .with_epochs(2)
        .with_batch_size(batch);
    model.fit(&x, &config, optimizer, &mut rng).unwrap();
    fingerprint(&model.parameters())
}

/// A tied, KL-sparse 784 → 300 autoencoder in `f64`, trained by Adam.
fn one_layer_f64() -> u64 {
    let (x, _) = digits::<f64>(600);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut model = DenseBuilder::new(784, 300)
        .with_tied(true)
        .build::<f64, _>(&mut rng)
        .unwrap()
        .with_regularizer(KlSparsity::new(0.05, 0.5).unwrap());
    let config = TrainingConfig::default()
        .with_epochs(2)
        .with_batch_size(100);
    model
        .fit(&x, &config, &mut Adam::new(1e-3).unwrap(), &mut rng)
        .unwrap();
    fingerprint(&model.parameters())
}

/// A 784-500-500-10 classifier in `f32`, trained by SGD with momentum.
fn classifier() -> u64 {
    classifier_with_dropout(0.0, 0.0)
}

/// The same classifier, trained with dropout of the input and the hidden units.
fn classifier_with_dropout(input: f64, hidden: f64) -> u64 {
    let (x, labels) = digits::<f32>(800);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let stack = StackedEncoder::random(
        &[784, 500, 500],
        Activation::Sigmoid,
        Init::GlorotUniform,
        &mut rng,
    )
    .unwrap();
    let mut model = Classifier::new(stack, 10, Init::GlorotUniform, &mut rng)
        .unwrap()
        .with_dropout(input, hidden)
        .unwrap();
    let config = TrainingConfig::default().with_epochs(2).with_batch_size(64);
    let mut sgd = Sgd::new(0.05).unwrap().with_momentum(0.9).unwrap();
    model.fit(&x, &labels, &config, &mut sgd, &mut rng).unwrap();
    fingerprint(&model.parameters())
}

/// Every workload's fingerprint at the current thread count.
fn workloads() -> Vec<(&'static str, u64)> {
    vec![
        (
            "f32 SGD batch 128",
            one_layer_f32(&mut Sgd::new(0.01).unwrap(), 128),
        ),
        (
            "f32 SGD momentum batch 32",
            one_layer_f32(&mut Sgd::new(0.01).unwrap().with_momentum(0.5).unwrap(), 32),
        ),
        (
            "f32 Adam batch 64",
            one_layer_f32(&mut Adam::new(1e-3).unwrap(), 64),
        ),
        ("f64 tied KL Adam", one_layer_f64()),
        ("f32 classifier 784-500-500-10", classifier()),
        (
            "f32 classifier 784-500-500-10 with dropout",
            classifier_with_dropout(0.2, 0.5),
        ),
    ]
}

#[test]
fn training_is_bit_identical_at_one_to_four_threads() {
    let _turn = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    threads::set_threads(1).unwrap();
    let reference = workloads();
    for n in [2, 3, 4] {
        threads::set_threads(n).unwrap();
        assert_eq!(threads::threads(), n);
        let found = workloads();
        for ((name, one), (_, many)) in reference.iter().zip(&found) {
            assert_eq!(one, many, "{name}: {n} threads differ from one");
        }
    }
    threads::set_threads(threads::available()).unwrap();
}

#[test]
fn a_thread_count_out_of_range_is_refused() {
    let _turn = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    let before = threads::threads();
    for bad in [0, threads::MAX_THREADS + 1, usize::MAX] {
        assert!(
            matches!(
                threads::set_threads(bad),
                Err(Error::InvalidHyperParameter {
                    name: "threads",
                    ..
                })
            ),
            "{bad}"
        );
        assert_eq!(
            threads::threads(),
            before,
            "a refused count changes nothing"
        );
    }
}

/// What a child process does, by its role: report its thread count and a fingerprint, or try
/// to train under a malformed variable.
#[test]
fn threads_child() {
    let Ok(role) = std::env::var(CHILD_ROLE) else {
        return;
    };
    match role.as_str() {
        "train" => {
            let hash = one_layer_f32(&mut Sgd::new(0.01).unwrap(), 128);
            println!("threads={} parameters={hash:016x}", threads::threads());
        }
        "malformed" => {
            let (x, _) = digits::<f32>(50);
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let mut model = DenseBuilder::new(784, 8).build::<f32, _>(&mut rng).unwrap();
            let result = model.fit(
                &x,
                &TrainingConfig::default().with_epochs(1),
                &mut Sgd::new(0.1).unwrap(),
                &mut rng,
            );
            match result {
                Err(Error::InvalidEnvironment {
                    variable: "AUTOENCODERS_THREADS",
                    value,
                    ..
                }) => println!("refused value={value}"),
                other => println!("not refused: {other:?}"),
            }
            // After an explicit count, the variable no longer matters.
            threads::set_threads(2).unwrap();
            let result = model.fit(
                &x,
                &TrainingConfig::default().with_epochs(1),
                &mut Sgd::new(0.1).unwrap(),
                &mut rng,
            );
            println!("after set_threads ok={}", result.is_ok());
        }
        other => panic!("unknown role {other}"),
    }
}

fn run_child(role: &str, variable: &str) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "threads_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ROLE, role)
        .env(threads::VARIABLE, variable)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn result_line<'a>(stdout: &'a str, marker: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|line| line.find(marker).map(|at| &line[at..]))
        .unwrap_or_else(|| panic!("no line with {marker:?} in:\n{stdout}"))
}

#[test]
fn the_environment_variable_sets_the_count_and_changes_no_bit() {
    let one = run_child("train", "1");
    let two = run_child("train", " 2 ");
    let four = run_child("train", "4");
    let one = result_line(&one, "threads=1 ");
    let two = result_line(&two, "threads=2 ");
    let four = result_line(&four, "threads=4 ");
    let bits = |line: &str| line.split_once(' ').unwrap().1.to_owned();
    assert_eq!(bits(one), bits(two), "1 vs 2 threads");
    assert_eq!(bits(one), bits(four), "1 vs 4 threads");
}

#[test]
fn a_malformed_environment_variable_is_a_typed_error() {
    for value in ["0", "two", "-1", "1.5", "100000", ""] {
        let stdout = run_child("malformed", value);
        assert_eq!(
            result_line(&stdout, "refused"),
            format!("refused value={value}"),
            "{value:?}"
        );
        assert_eq!(
            result_line(&stdout, "after set_threads"),
            "after set_threads ok=true"
        );
    }
}
