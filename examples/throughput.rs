//! Training throughput on the bundled digits: the workloads that BENCHMARKS.md compares with
//! PyTorch, one configuration per run, printed as one `key=value` line.
//!
//! The workloads: `plain` (W1) is a 784 → 256 sigmoid encoder and a 256 → 784 sigmoid decoder,
//! untied, with the squared error summed over the 784 pixels and averaged over the batch, trained
//! by plain SGD (learning rate 0.01); `contractive` (W2) adds the contractive penalty λ = 0.1;
//! `denoising` (W3) corrupts the inputs with Gaussian noise σ = 0.3. Every run trains on the 8,000
//! training digits in a fixed order (no shuffling): one warm-up epoch, then `--epochs` timed ones
//! (default 3), and reports their median as `samples_per_sec`, with `gflops` (2.01 MFLOP of
//! matrix products per sample), the final epoch's mean training objective `final_loss`, and the
//! CPU time per wall-clock second of the timed epochs `cpu_per_wall` (Linux only), which shows
//! whether a second thread did any work.
//!
//! `deep` fine-tunes Hinton & Salakhutdinov's shape, a 784-1000-500-250-30 sigmoid encoder and
//! its mirror image as decoder (eight untied Glorot-uniform layers, the code layer sigmoid too),
//! squared error, SGD 0.01 (15.43 MFLOP of products per sample); `classifier` trains a
//! 784-500-500 sigmoid stack under a 10-way softmax head on the digits' labels, mean
//! cross-entropy, SGD 0.01 (3.10 MFLOP per sample). `gflops` counts each workload's products.
//!
//! `products` times the five matrix products of a W1 step and nothing else, on the same shapes
//! and layouts: the rate the crate's kernel reaches alone (`matrixmultiply`, or the `gemm`
//! crate with the `gemm` feature), the ceiling for a whole step.
//!
//! Expect, with the command below on the quiet 2-core AMD EPYC of BENCHMARKS.md, about 24,000–
//! 31,000 samples/s (48–62 GFLOP/s; the machine's speed drifts from hour to hour) and
//! `final_loss=51.4576`. The run is seeded, so the loss is the same on every run and thread
//! count. The speed depends on the machine and on what else runs on it.
//!
//! Run: `cargo run --release --example throughput -- --workload plain --batch-size 128 --threads 1`
//! `--threads T` sets the crate's thread count (`threads::set_threads`; default 1 here, so that
//! a run measures what it says). Other options: `--dtype f32|f64` (default f32), `--epochs N`
//! (default 3).

use autoencoders::data::bundled_digits;
use autoencoders::{
    Activation, Autoencoder, Classifier, Contractive, Corruption, Decoder, DenseBuilder,
    DenseDecoder, Encoder, GaussianNoise, Init, Loss, ReconstructionLoss, Regularizer, Scalar, Sgd,
    StackedDecoder, StackedEncoder, TrainingConfig, threads,
};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use std::error::Error;
use std::ops::ControlFlow;
use std::time::Instant;

/// Floating-point operations of the matrix products of one W1 training sample: five products
/// of 784 × 256 multiply-adds (two forward, three backward).
const FLOP_PER_SAMPLE: f64 = 5.0 * 2.0 * 784.0 * 256.0;

/// The deep autoencoder's layer sizes, encoder side (the decoder mirrors them).
const DEEP: [usize; 5] = [784, 1000, 500, 250, 30];

/// The deep autoencoder's products per sample: the forward pass through the eight layers, and
/// twice that backward but for the input gradient of the first layer, which is not needed.
const DEEP_FLOP_PER_SAMPLE: f64 =
    3.0 * 4.0 * (784_000.0 + 500_000.0 + 125_000.0 + 7_500.0) - 2.0 * 784_000.0;

/// The classifier's stack (a 10-way softmax head on top).
const CLASSIFIER: [usize; 3] = [784, 500, 500];

/// The classifier's products per sample, counted as for the deep autoencoder.
const CLASSIFIER_FLOP_PER_SAMPLE: f64 =
    3.0 * 2.0 * (392_000.0 + 250_000.0 + 5_000.0) - 2.0 * 392_000.0;

const USAGE: &str = "usage: throughput [--workload plain|contractive|denoising|products|deep|classifier] \
[--batch-size B] [--threads T] [--dtype f32|f64] [--epochs N]";

fn main() -> Result<(), Box<dyn Error>> {
    let options = Options::parse(std::env::args().skip(1))?;
    threads::set_threads(options.threads)?;
    let measured = match (options.workload, options.dtype) {
        (Workload::Products, Dtype::F32) => products::<f32>(&options)?,
        (Workload::Products, Dtype::F64) => products::<f64>(&options)?,
        (_, Dtype::F32) => run::<f32>(&options)?,
        (_, Dtype::F64) => run::<f64>(&options)?,
    };
    let samples_per_sec = measured.samples / median(&measured.epoch_seconds);
    let per_epoch: Vec<String> = measured
        .epoch_seconds
        .iter()
        .map(|s| format!("{:.0}", measured.samples / s))
        .collect();
    let cpu_per_wall = measured
        .cpu_per_wall
        .map_or_else(|| "unknown".to_string(), |r| format!("{r:.2}"));
    let final_loss = measured
        .final_loss
        .map_or_else(|| "none".to_string(), |l| format!("{l:.4}"));
    println!(
        "impl=ours workload={} dtype={} batch_size={} threads={} epochs={} \
         samples_per_sec={samples_per_sec:.0} gflops={:.1} final_loss={final_loss} \
         cpu_per_wall={cpu_per_wall} epoch_samples_per_sec={}",
        options.workload.name(),
        options.dtype.name(),
        options.batch_size,
        options.threads,
        options.epochs,
        samples_per_sec * options.workload.flop_per_sample() / 1e9,
        per_epoch.join(","),
    );
    Ok(())
}

/// What one run measured.
struct Measured {
    /// Samples per epoch.
    samples: f64,
    /// Wall-clock seconds of each timed epoch.
    epoch_seconds: Vec<f64>,
    /// The last epoch's mean training objective (none for `products`, which does not train).
    final_loss: Option<f64>,
    /// Process CPU seconds per wall-clock second over the timed epochs.
    cpu_per_wall: Option<f64>,
}

impl Measured {
    /// The timed epochs between consecutive `marks` (wall-clock instant and process CPU seconds
    /// at the end of each epoch, starting with the end of the warm-up).
    fn from_marks(samples: f64, marks: &[(Instant, Option<f64>)], final_loss: Option<f64>) -> Self {
        let epoch_seconds = marks
            .windows(2)
            .map(|w| w[1].0.duration_since(w[0].0).as_secs_f64())
            .collect();
        let cpu_per_wall = match (marks.first(), marks.last()) {
            (Some(&(t0, Some(c0))), Some(&(t1, Some(c1)))) if t1 > t0 => {
                Some((c1 - c0) / t1.duration_since(t0).as_secs_f64())
            }
            _ => None,
        };
        Measured {
            samples,
            epoch_seconds,
            final_loss,
            cpu_per_wall,
        }
    }
}

/// Builds the workload's model in `T` and times its training.
fn run<T: Scalar>(options: &Options) -> Result<Measured, Box<dyn Error>> {
    let digits = bundled_digits::<T>()?;
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let model = DenseBuilder::new(784, 256)
        .with_encoder_activation(Activation::Sigmoid)
        .with_decoder_activation(Activation::Sigmoid)
        .with_tied(false)
        .build::<T, _>(&mut rng)?
        .with_loss(ReconstructionLoss::SquaredError);
    let x = &digits.train_images;
    match options.workload {
        Workload::Plain => train(model, x, options, &mut rng),
        Workload::Contractive => train(
            model.with_regularizer(Contractive::new(0.1)?),
            x,
            options,
            &mut rng,
        ),
        Workload::Denoising => train(
            model.with_corruption(GaussianNoise::new(0.3)?),
            x,
            options,
            &mut rng,
        ),
        Workload::Deep => {
            let encoder =
                StackedEncoder::random(&DEEP, Activation::Sigmoid, Init::GlorotUniform, &mut rng)?;
            let decoders = DEEP
                .windows(2)
                .rev()
                .map(|pair| {
                    DenseDecoder::new(
                        pair[1],
                        pair[0],
                        Activation::Sigmoid,
                        Init::GlorotUniform,
                        &mut rng,
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            let deep = Autoencoder::new(encoder, StackedDecoder::new(decoders)?)?
                .with_loss(ReconstructionLoss::SquaredError);
            train(deep, x, options, &mut rng)
        }
        Workload::Classifier => {
            let stack = StackedEncoder::random(
                &CLASSIFIER,
                Activation::Sigmoid,
                Init::GlorotUniform,
                &mut rng,
            )?;
            let mut classifier = Classifier::new(stack, 10, Init::GlorotUniform, &mut rng)?;
            timed(x.nrows(), options, |config, optimizer, mark| {
                let history = classifier.fit_with(
                    x,
                    &digits.train_labels,
                    None,
                    config,
                    optimizer,
                    &mut rng,
                    &mut &mut *mark,
                )?;
                Ok(history.last().ok_or("no epoch ran")?.loss)
            })
        }
        Workload::Products => unreachable!("products does not train a model"),
    }
}

/// One warm-up epoch and `options.epochs` timed ones, in the data's order.
fn timed_config(options: &Options) -> TrainingConfig {
    TrainingConfig::default()
        .with_epochs(1 + options.epochs)
        .with_batch_size(options.batch_size)
        .with_shuffle(false)
}

/// One warm-up epoch and `options.epochs` timed ones, each timed from the end of the one before.
fn train<E, D, R, C, L>(
    mut model: Autoencoder<E, D, R, C, L>,
    x: &DMatrix<E::Scalar>,
    options: &Options,
    rng: &mut ChaCha8Rng,
) -> Result<Measured, Box<dyn Error>>
where
    E: Encoder,
    D: Decoder<E::Scalar>,
    R: Regularizer<E::Scalar>,
    C: Corruption<E::Scalar>,
    L: Loss<E::Scalar>,
{
    timed(x.nrows(), options, |config, optimizer, mark| {
        let history = model.fit_with(x, None, config, optimizer, rng, &mut &mut *mark)?;
        Ok(history.last().ok_or("no epoch ran")?.objective)
    })
}

/// Times `fit` (one warm-up epoch and `options.epochs` timed ones, by plain SGD with learning
/// rate 0.01) on `samples` samples: `fit` gets the configuration, the optimiser and an observer
/// that marks the end of every epoch, and returns the last epoch's loss.
fn timed<T: Scalar, R>(
    samples: usize,
    options: &Options,
    fit: impl FnOnce(
        &TrainingConfig,
        &mut Sgd<T>,
        &mut dyn FnMut(&R) -> ControlFlow<()>,
    ) -> Result<f64, Box<dyn Error>>,
) -> Result<Measured, Box<dyn Error>> {
    let config = timed_config(options);
    let mut optimizer = Sgd::new(0.01)?;
    // The end of every epoch, in wall-clock and process CPU time.
    let mut marks: Vec<(Instant, Option<f64>)> = Vec::with_capacity(config.epochs());
    let mut mark = |_: &R| {
        marks.push((Instant::now(), process_cpu_seconds()));
        ControlFlow::Continue(())
    };
    let final_loss = fit(&config, &mut optimizer, &mut mark)?;
    Ok(Measured::from_marks(
        samples as f64,
        &marks,
        Some(final_loss),
    ))
}

/// `c ← a·b` for an `m × k` operand `a` and a `k × n` operand `b`, each element `(i, j)` at
/// `i·rs + j·cs` of its slice, and a column-major `m × n` output `c`: the crate's own entry to
/// its kernel (hidden from its documentation, as it is no part of the modelling API), which
/// checks every index before the kernel runs (`matrixmultiply`, or the `gemm` crate with the
/// `gemm` feature).
fn product<T: Scalar>(
    shape: (usize, usize, usize),
    a: (&[T], isize, isize),
    b: (&[T], isize, isize),
    c: &mut [T],
) {
    let (m, k, n) = shape;
    T::gemm_raw(
        m,
        k,
        n,
        T::cast(1.0),
        a,
        b,
        T::cast(0.0),
        (c, 1, m as isize),
    );
}

/// The `products` workload: the five matrix products of a plain (W1) training step and nothing
/// else (divided over `--threads` threads as the crate's own products are), on the same shapes and column-major layouts as the crate's step, transposes passed as
/// strides, the batches taken in order from the digits: the rate the kernel alone reaches, the
/// ceiling for a whole step. Operands other than the data hold arbitrary fixed values.
fn products<T: Scalar>(options: &Options) -> Result<Measured, Box<dyn Error>> {
    const INPUT: usize = 784;
    const CODE: usize = 256;
    let digits = bundled_digits::<T>()?;
    let data = &digits.train_images;
    let b = options.batch_size.min(data.nrows());
    let steps = data.nrows() / b;
    // One column-major `b × 784` matrix per batch, made before the clock starts.
    let batches: Vec<DMatrix<T>> = (0..steps)
        .map(|s| data.rows(s * b, b).into_owned())
        .collect();
    let fill = |rows, cols, scale: f64| {
        DMatrix::from_fn(rows, cols, |i, j| {
            T::cast(scale * (((i * 7 + j * 13) % 17) as f64 / 17.0 - 0.5))
        })
    };
    let w1 = fill(CODE, INPUT, 0.1); // encoder weight, code × input
    let w2 = fill(INPUT, CODE, 0.1); // decoder weight, input × code
    let h = fill(b, CODE, 1.0); // codes
    let d2 = fill(b, INPUT, 1.0); // ∂J/∂(decoder pre-activation)
    let d1 = fill(b, CODE, 1.0); // ∂J/∂(encoder pre-activation)
    let mut z1 = DMatrix::<T>::zeros(b, CODE);
    let mut z2 = DMatrix::<T>::zeros(b, INPUT);
    let mut g2 = DMatrix::<T>::zeros(INPUT, CODE);
    let mut dh = DMatrix::<T>::zeros(b, CODE);
    let mut g1 = DMatrix::<T>::zeros(CODE, INPUT);
    let (bi, ci, ii) = (b as isize, CODE as isize, INPUT as isize);
    let mut marks = vec![(Instant::now(), process_cpu_seconds())];
    for _ in 0..1 + options.epochs {
        for x in &batches {
            // Forward: z1 = x·W1ᵀ, z2 = h·W2ᵀ.
            product(
                (b, INPUT, CODE),
                (x.as_slice(), 1, bi),
                (w1.as_slice(), ci, 1),
                z1.as_mut_slice(),
            );
            product(
                (b, CODE, INPUT),
                (h.as_slice(), 1, bi),
                (w2.as_slice(), ii, 1),
                z2.as_mut_slice(),
            );
            // Backward: ∂W2 = d2ᵀ·h, ∂h = d2·W2, ∂W1 = d1ᵀ·x.
            product(
                (INPUT, b, CODE),
                (d2.as_slice(), bi, 1),
                (h.as_slice(), 1, bi),
                g2.as_mut_slice(),
            );
            product(
                (b, INPUT, CODE),
                (d2.as_slice(), 1, bi),
                (w2.as_slice(), 1, ii),
                dh.as_mut_slice(),
            );
            product(
                (CODE, b, INPUT),
                (d1.as_slice(), bi, 1),
                (x.as_slice(), 1, bi),
                g1.as_mut_slice(),
            );
        }
        marks.push((Instant::now(), process_cpu_seconds()));
    }
    // The results are read so that no product can be optimised away.
    let checksum = z1[0] + z2[0] + g2[0] + dh[0] + g1[0];
    assert!(checksum.is_finite(), "the products stay finite");
    // The first mark is the start of the warm-up epoch, which is not timed.
    Ok(Measured::from_marks((steps * b) as f64, &marks[1..], None))
}

/// User plus system CPU time of the whole process (all threads), from `/proc/self/stat`, which
/// counts in clock ticks of 1/100 s on Linux; `None` elsewhere.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces: the 14th and
    // 15th fields of the line (utime, stime) are the 12th and 13th after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user + system) / 100.0)
}

/// The median of a non-empty list.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    }
}

#[derive(Clone, Copy)]
enum Workload {
    Plain,
    Contractive,
    Denoising,
    Products,
    Deep,
    Classifier,
}

impl Workload {
    const ALL: [Workload; 6] = [
        Workload::Plain,
        Workload::Contractive,
        Workload::Denoising,
        Workload::Products,
        Workload::Deep,
        Workload::Classifier,
    ];

    fn name(self) -> &'static str {
        match self {
            Workload::Plain => "plain",
            Workload::Contractive => "contractive",
            Workload::Denoising => "denoising",
            Workload::Products => "products",
            Workload::Deep => "deep",
            Workload::Classifier => "classifier",
        }
    }

    /// Floating-point operations of the matrix products of one training sample.
    fn flop_per_sample(self) -> f64 {
        match self {
            Workload::Deep => DEEP_FLOP_PER_SAMPLE,
            Workload::Classifier => CLASSIFIER_FLOP_PER_SAMPLE,
            _ => FLOP_PER_SAMPLE,
        }
    }
}

#[derive(Clone, Copy)]
enum Dtype {
    F32,
    F64,
}

impl Dtype {
    fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F64 => "f64",
        }
    }
}

/// The command line.
struct Options {
    workload: Workload,
    batch_size: usize,
    threads: usize,
    dtype: Dtype,
    epochs: usize,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, Box<dyn Error>> {
        let mut options = Options {
            workload: Workload::Plain,
            batch_size: 32,
            threads: 1,
            dtype: Dtype::F32,
            epochs: 3,
        };
        while let Some(flag) = args.next() {
            if flag == "--help" || flag == "-h" {
                println!("{USAGE}");
                std::process::exit(0);
            }
            let value = args
                .next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
            match flag.as_str() {
                "--workload" => {
                    options.workload = Workload::ALL
                        .into_iter()
                        .find(|w| w.name() == value)
                        .ok_or_else(|| format!("unknown workload {value:?}\n{USAGE}"))?;
                }
                "--batch-size" => options.batch_size = positive(&flag, &value)?,
                "--threads" => options.threads = positive(&flag, &value)?,
                "--epochs" => options.epochs = positive(&flag, &value)?,
                "--dtype" => {
                    options.dtype = match value.as_str() {
                        "f32" => Dtype::F32,
                        "f64" => Dtype::F64,
                        _ => return Err(format!("unknown dtype {value:?}\n{USAGE}").into()),
                    };
                }
                _ => return Err(format!("unknown option {flag:?}\n{USAGE}").into()),
            }
        }
        Ok(options)
    }
}

/// A whole number of at least 1.
fn positive(flag: &str, value: &str) -> Result<usize, Box<dyn Error>> {
    match value.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{flag} needs a whole number of at least 1, not {value:?}").into()),
    }
}
