//! `experiments`: what each autoencoder buys, measured on the bundled digits (train on the 8,000
//! training digits, report on the 2,000 test digits; mean ± standard deviation over seeds).
//! Each subcommand prints one Markdown table; the README shows them.
//!
//! ```text
//! cargo run --release --example experiments -- pretraining     # pretrained vs random init, by labels
//! cargo run --release --example experiments -- regularizers    # which regularizer gives the best features
//! cargo run --release --example experiments -- deep-vs-pca     # deep autoencoder vs PCA with a 30-unit code
//! cargo run --release --example experiments -- dae-cae         # denoising and contraction
//! cargo run --release --example experiments -- fine-tuning     # schedules, budgets, early stopping
//! cargo run --release --example experiments -- vae             # VAE and IWAE: test ELBO and log p(x)
//! ```
//!
//! `--seeds N` (default 3) sets the number of seeds, `--quick` shrinks every run for a smoke
//! test, `--jobs N` (default: the number of CPUs) trains that many models at once. Each run has
//! its own seeded generator, so the tables do not depend on `--jobs` or on timing. Each
//! subcommand is sized to finish in under 10 minutes on two cores.

use autoencoders::data::{
    Digits, SplitSize, bundled_digits, select_labels, select_rows, split_rows,
};
use autoencoders::metrics::mean_jacobian_norm;
use autoencoders::{
    Activation, Adam, Autoencoder, Classifier, Contractive, Corruption, DenseBuilder, DenseVae,
    Encoder, GaussianNoise, Init, KlSparsity, L1Sparsity, LayerSpec, LayerwisePretrainer,
    LearningRateSchedule, Likelihood, Masking, Pca, ReconstructionLoss, Regularizer, Sgd,
    StackedEncoder, TrainingConfig, VaeObjective, WeightDecay,
};
use clap::{Parser, Subcommand};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use std::error::Error;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

#[derive(Parser)]
#[command(about = "Experiments on the bundled digits; each prints a Markdown table.")]
struct Args {
    #[command(subcommand)]
    experiment: Experiment,
    /// Number of seeds to average over.
    #[arg(long, default_value_t = 3, global = true)]
    seeds: u64,
    /// Much smaller runs, for a smoke test.
    #[arg(long, global = true)]
    quick: bool,
    /// Number of models trained at once (default: the number of CPUs).
    #[arg(long, global = true)]
    jobs: Option<usize>,
}

impl Args {
    /// Runs `job` on every item, `--jobs` at a time, and returns the results in item order.
    /// The models are independent and seeded from the item alone, so the order in which the
    /// threads pick them up changes nothing but the wall time.
    fn parallel<I: Sync, T: Send>(
        &self,
        items: &[I],
        job: impl Fn(&I) -> Res<T> + Sync,
    ) -> Res<Vec<T>> {
        let workers = self
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .clamp(1, items.len().max(1));
        if workers > 1 {
            // The models train side by side, one per core: the crate's own threads would only
            // compete with them (and the results are the same at any thread count).
            autoencoders::threads::set_threads(1)?;
        }
        let next = AtomicUsize::new(0);
        let results: Vec<Mutex<Option<Res<T>>>> = items.iter().map(|_| Mutex::new(None)).collect();
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        let result = job(item);
                        *results[i].lock().expect("no job panics") = Some(result);
                    }
                });
            }
        });
        results
            .into_iter()
            .map(|slot| {
                slot.into_inner()
                    .expect("no job panics")
                    .expect("every item ran")
            })
            .collect()
    }
}

#[derive(Subcommand)]
enum Experiment {
    /// Pretraining vs random initialisation of a 784-500-500-10 network, by number of labels.
    Pretraining,
    /// Which regularizer gives the best features (one hidden layer of 500 units).
    Regularizers,
    /// A greedily pretrained, fine-tuned deep autoencoder with a 30-unit code vs PCA-30.
    DeepVsPca,
    /// Jacobian norm and noisy-test error as the DAE noise level and the CAE λ grow.
    DaeCae,
    /// The pretrained 784-500-500-10 network on all labels without augmentation: fine-tuning
    /// settings chosen on a validation split (learning-rate schedule, budget in updates,
    /// early stopping, the pretraining's masking, dropout), then the chosen one's test error.
    FineTuning,
    /// Variational autoencoders on the digits: test ELBO, IWAE bound and importance-sampled
    /// log-likelihood for latent sizes 2, 10 and 20 (784-400-latent) and the 784-200-200-50
    /// model of Burda et al. trained as VAE and as IWAE (k = 5).
    Vae {
        /// Only the rows whose model description contains this text (e.g. `200-200`).
        #[arg(long)]
        only: Option<String>,
    },
    /// One-class anomaly detection: for each digit, models trained on that digit's training
    /// images only score all test digits; AUROC of "not that digit" against it, per method.
    OneClass,
    /// One-class training on dirty data: 10 % of the training digits replaced by other digits
    /// (AUROC), and 20 % salt-and-pepper noise on the training images (the clean test digits'
    /// reconstruction error), squared error against the correntropy.
    Dirty,
}

fn main() -> Res<()> {
    let args = Args::parse();
    let digits = bundled_digits::<f32>()?;
    let start = Instant::now();
    match args.experiment {
        Experiment::Pretraining => pretraining(&digits, &args)?,
        Experiment::Regularizers => regularizers(&digits, &args)?,
        Experiment::DeepVsPca => deep_vs_pca(&digits, &args)?,
        Experiment::DaeCae => dae_cae(&digits, &args)?,
        Experiment::FineTuning => fine_tuning(&digits, &args)?,
        Experiment::Vae { ref only } => vae(&digits, &args, only.as_deref())?,
        Experiment::OneClass => one_class(&digits, &args)?,
        Experiment::Dirty => dirty(&digits, &args)?,
    }
    eprintln!("finished in {:.0} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// `mean ± std` of a list of values (population std over seeds).
fn summary(values: &[f64], scale: f64, digits: usize) -> String {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    format!("{:.digits$} ± {:.digits$}", mean * scale, std * scale)
}

/// Fine-tunes (or trains) a classifier for a fixed number of updates; returns the test error.
fn supervised<E: Encoder<Scalar = f32>>(
    classifier: &mut Classifier<E>,
    x: &DMatrix<f32>,
    labels: &[usize],
    updates: usize,
    learning_rate: f64,
    digits: &Digits<f32>,
    rng: &mut ChaCha8Rng,
) -> Res<f64> {
    let batch = 32.min(x.nrows());
    let batches_per_epoch = x.nrows().div_ceil(batch);
    let epochs = updates.div_ceil(batches_per_epoch).max(1);
    let config = TrainingConfig::default()
        .with_epochs(epochs)
        .with_batch_size(batch);
    let mut sgd = Sgd::new(learning_rate)?.with_momentum(0.9)?;
    classifier.fit(x, labels, &config, &mut sgd, rng)?;
    Ok(1.0 - classifier.accuracy(&digits.test_images, &digits.test_labels)?)
}

/// One row of the pretraining table: the number of labelled digits, and whether each is also
/// shown shifted by one pixel in each of the four directions (five times the data).
#[derive(Clone, Copy, PartialEq)]
struct LabelSet {
    count: usize,
    shifted: bool,
}

/// `x` followed by its copies shifted by one pixel down, up, right and left (28 × 28 images,
/// zeros shifted in), with the labels repeated to match.
fn with_shifted_copies(x: &DMatrix<f32>, labels: &[usize]) -> (DMatrix<f32>, Vec<usize>) {
    const SHIFTS: [(isize, isize); 5] = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)];
    let n = x.nrows();
    let images = DMatrix::from_fn(SHIFTS.len() * n, x.ncols(), |i, pixel| {
        let (down, right) = SHIFTS[i / n];
        let row = (pixel / 28) as isize - down;
        let column = (pixel % 28) as isize - right;
        if (0..28).contains(&row) && (0..28).contains(&column) {
            x[(i % n, (row * 28 + column) as usize)]
        } else {
            0.0
        }
    });
    let labels = (0..SHIFTS.len() * n).map(|i| labels[i % n]).collect();
    (images, labels)
}

/// One layer of the stacked denoising autoencoders: masking p = 0.25, cross-entropy, `epochs`
/// epochs of SGD (η = 0.1) in batches of 32.
fn denoising_layer(size: usize, epochs: usize) -> LayerSpec<f32> {
    masking_layer(size, epochs, 0.25)
}

/// A denoising layer as [`denoising_layer`], with masking probability `masking`.
fn masking_layer(size: usize, epochs: usize, masking: f64) -> LayerSpec<f32> {
    LayerSpec::new(size)
        .with_loss(ReconstructionLoss::CrossEntropy)
        .with_corruption(Masking::new(masking).expect("valid"))
        .with_training(
            TrainingConfig::default()
                .with_epochs(epochs)
                .with_batch_size(32),
        )
        .with_optimizer(Sgd::new(0.1).expect("valid"))
}

fn pretraining(digits: &Digits<f32>, args: &Args) -> Res<()> {
    let (hidden, epochs) = if args.quick { (100, 2) } else { (500, 10) };
    // Fine-tuning budget, the same for pretrained and random networks: 3,000 updates of 32
    // labelled digits, or 25 epochs when that is more (8,000 labels); 10 epochs of the five
    // times larger shifted set.
    let updates = |set: LabelSet| {
        if args.quick {
            300
        } else if set.shifted {
            10 * (5 * set.count).div_ceil(32)
        } else {
            3000.max(25 * set.count.div_ceil(32))
        }
    };
    let label_sets: Vec<LabelSet> = [100, 300, 1000, 8000]
        .iter()
        .map(|&count| LabelSet {
            count,
            shifted: false,
        })
        .chain([LabelSet {
            count: 8000,
            shifted: true,
        }])
        .collect();
    let n = digits.train_images.nrows();
    let seeds: Vec<u64> = (0..args.seeds).collect();
    // Stacked denoising autoencoders on all training digits, without labels: one per seed.
    let stacks = args.parallel(&seeds, |&seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let stack = LayerwisePretrainer::new()
            .with_layer(denoising_layer(hidden, epochs))
            .with_layer(denoising_layer(hidden, epochs))
            .pretrain(&digits.train_images, &mut rng)?;
        eprintln!("seed {seed}: pretrained");
        Ok(stack.encoder)
    })?;
    // Then each (seed, label set, initialisation) is one fine-tuning run.
    let runs: Vec<(u64, LabelSet, bool)> = seeds
        .iter()
        .flat_map(|&seed| {
            label_sets
                .iter()
                .flat_map(move |&set| [(seed, set, true), (seed, set, false)])
        })
        .collect();
    let errors = args.parallel(&runs, |&(seed, set, pretrained)| {
        // The labelled subset depends on the seed only, so both initialisations see the same.
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(1000 + seed));
        let chosen = &order[..set.count];
        let mut x = select_rows(&digits.train_images, chosen)?;
        let mut labels = select_labels(&digits.train_labels, chosen)?;
        if set.shifted {
            (x, labels) = with_shifted_copies(&x, &labels);
        }
        let stream = 10_000 * (seed + 1) + set.count as u64 + u64::from(set.shifted) * 1_000_000;
        let mut rng = ChaCha8Rng::seed_from_u64(stream);
        let encoder = if pretrained {
            stacks[seed as usize].clone()
        } else {
            StackedEncoder::random(
                &[784, hidden, hidden],
                Activation::Sigmoid,
                Init::GlorotUniform,
                &mut rng,
            )?
        };
        let mut classifier = Classifier::new(encoder, 10, Init::GlorotUniform, &mut rng)?;
        let error = supervised(
            &mut classifier,
            &x,
            &labels,
            updates(set),
            0.05,
            digits,
            &mut rng,
        )?;
        eprintln!(
            "seed {seed}, {} labels{}, {}: {error:.4}",
            set.count,
            if set.shifted { " + shifts" } else { "" },
            if pretrained { "pretrained" } else { "random" }
        );
        Ok(error)
    })?;
    println!(
        "| labels | fine-tuning updates | pretrained (SdA, 784-{hidden}-{hidden}-10) | random init | seeds |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: |");
    for &set in &label_sets {
        let column = |pretrained: bool| -> Vec<f64> {
            runs.iter()
                .zip(&errors)
                .filter(|((_, s, p), _)| *s == set && *p == pretrained)
                .map(|(_, &e)| e)
                .collect()
        };
        let name = if set.shifted {
            format!("{} + 1-pixel shifts (×5)", set.count)
        } else {
            set.count.to_string()
        };
        println!(
            "| {name} | {} | {} % | {} % | {} |",
            updates(set),
            summary(&column(true), 100.0, 2),
            summary(&column(false), 100.0, 2),
            args.seeds
        );
    }
    Ok(())
}

/// What one trained single-layer autoencoder's features are worth.
struct FeatureReport {
    fine_tuned: f64,
    probe: f64,
    jacobian: f64,
    reconstruction: f64,
}

fn train_autoencoder<R, C>(
    model: Autoencoder<autoencoders::DenseEncoder<f32>, autoencoders::DenseDecoder<f32>, R, C>,
    x: &DMatrix<f32>,
    epochs: usize,
    rng: &mut ChaCha8Rng,
) -> Res<Autoencoder<autoencoders::DenseEncoder<f32>, autoencoders::DenseDecoder<f32>, R, C>>
where
    R: Regularizer<f32>,
    C: Corruption<f32>,
{
    let mut model = model;
    let config = TrainingConfig::default()
        .with_epochs(epochs)
        .with_batch_size(32);
    model.fit(x, &config, &mut Sgd::new(0.1)?, rng)?;
    Ok(model)
}

/// Linear-probe error of the encoder's codes: softmax on frozen codes.
fn probe_error(
    encoder: &autoencoders::DenseEncoder<f32>,
    x: &DMatrix<f32>,
    labels: &[usize],
    test: &DMatrix<f32>,
    test_labels: &[usize],
    rng: &mut ChaCha8Rng,
) -> Res<f64> {
    let mut probe = Classifier::new(
        StackedEncoder::new(vec![encoder.clone()])?,
        10,
        Init::GlorotUniform,
        rng,
    )?
    .with_frozen_encoder(true);
    let config = TrainingConfig::default()
        .with_epochs(30)
        .with_batch_size(64);
    probe.fit(
        x,
        labels,
        &config,
        &mut Sgd::new(0.1)?.with_momentum(0.9)?,
        rng,
    )?;
    Ok(1.0 - probe.accuracy(test, test_labels)?)
}

/// The regularizer variants of the table, each with its hyper-parameter grid.
fn variants() -> Vec<(&'static str, Vec<f64>)> {
    vec![
        ("AE", vec![0.0]),
        ("AE + weight decay", vec![1e-4, 1e-3]),
        ("sparse AE (L1)", vec![1e-3, 1e-2]),
        ("sparse AE (KL, ρ = 0.05)", vec![0.1, 1.0]),
        ("DAE (Gaussian σ)", vec![0.2, 0.4]),
        ("DAE (masking p)", vec![0.25, 0.5]),
        ("CAE (λ)", vec![0.01, 0.1, 1.0]),
    ]
}

/// Trains variant `name` with hyper-parameter `h` and reports on `(test, test_labels)`.
#[allow(clippy::too_many_arguments)]
fn evaluate_variant(
    name: &str,
    h: f64,
    hidden: usize,
    epochs: usize,
    x: &DMatrix<f32>,
    labels: &[usize],
    test: &DMatrix<f32>,
    test_labels: &[usize],
    fine_tune_updates: usize,
    seed: u64,
) -> Res<FeatureReport> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let base = DenseBuilder::new(784, hidden)
        .build::<f32, _>(&mut rng)?
        .with_loss(ReconstructionLoss::CrossEntropy);
    macro_rules! trained {
        ($model:expr) => {{
            let m = train_autoencoder($model, x, epochs, &mut rng)?;
            let reconstruction = f64::from(m.objective(test)?.reconstruction);
            (m.into_parts().0, reconstruction)
        }};
    }
    let (encoder, reconstruction) = match name {
        "AE" => trained!(base),
        "AE + weight decay" => trained!(base.with_regularizer(WeightDecay::new(h)?)),
        "sparse AE (L1)" => trained!(base.with_regularizer(L1Sparsity::new(h)?)),
        "sparse AE (KL, ρ = 0.05)" => trained!(base.with_regularizer(KlSparsity::new(0.05, h)?)),
        "DAE (Gaussian σ)" => trained!(base.with_corruption(GaussianNoise::new(h)?)),
        "DAE (masking p)" => trained!(base.with_corruption(Masking::new(h)?)),
        _ => trained!(base.with_regularizer(Contractive::new(h)?)),
    };
    let jacobian = mean_jacobian_norm(&encoder, test)?;
    let probe = probe_error(&encoder, x, labels, test, test_labels, &mut rng)?;
    let mut classifier = Classifier::new(
        StackedEncoder::new(vec![encoder])?,
        10,
        Init::GlorotUniform,
        &mut rng,
    )?;
    let batches = x.nrows().div_ceil(32);
    let config = TrainingConfig::default()
        .with_epochs(fine_tune_updates.div_ceil(batches))
        .with_batch_size(32);
    classifier.fit(
        x,
        labels,
        &config,
        &mut Sgd::new(0.05)?.with_momentum(0.9)?,
        &mut rng,
    )?;
    let fine_tuned = 1.0 - classifier.accuracy(test, test_labels)?;
    Ok(FeatureReport {
        fine_tuned,
        probe,
        jacobian,
        reconstruction,
    })
}

fn regularizers(digits: &Digits<f32>, args: &Args) -> Res<()> {
    let (hidden, epochs, updates) = if args.quick {
        (100, 1, 300)
    } else {
        (500, 5, 1500)
    };
    // Hyper-parameters are chosen on a validation split of the training digits (the last
    // 1,000), by the linear-probe error, with seed 0; the test digits are never looked at.
    let (fit_rows, validation_rows): (Vec<usize>, Vec<usize>) =
        ((0..7000).collect(), (7000..8000).collect());
    let x_fit = select_rows(&digits.train_images, &fit_rows)?;
    let y_fit = select_labels(&digits.train_labels, &fit_rows)?;
    let x_val = select_rows(&digits.train_images, &validation_rows)?;
    let y_val = select_labels(&digits.train_labels, &validation_rows)?;
    let variants = variants();
    let grid: Vec<(&str, f64)> = variants
        .iter()
        .filter(|(_, values)| values.len() > 1)
        .flat_map(|(name, values)| values.iter().map(move |&h| (*name, h)))
        .collect();
    let validation = args.parallel(&grid, |&(name, h)| {
        let r = evaluate_variant(
            name, h, hidden, epochs, &x_fit, &y_fit, &x_val, &y_val, 0, 0,
        )?;
        eprintln!("{name} {h}: validation probe error {:.4}", r.probe);
        Ok(r.probe)
    })?;
    // The lowest validation probe error wins; a tie goes to the first (smaller) value.
    let chosen: Vec<f64> = variants
        .iter()
        .map(|(name, values)| {
            grid.iter()
                .zip(&validation)
                .filter(|((n, _), _)| n == name)
                .fold((f64::INFINITY, values[0]), |best, (&(_, h), &e)| {
                    if e < best.0 { (e, h) } else { best }
                })
                .1
        })
        .collect();
    let finals: Vec<(usize, u64)> = (0..variants.len())
        .flat_map(|v| (0..args.seeds).map(move |seed| (v, seed)))
        .collect();
    let reports = args.parallel(&finals, |&(v, seed)| {
        let report = evaluate_variant(
            variants[v].0,
            chosen[v],
            hidden,
            epochs,
            &digits.train_images,
            &digits.train_labels,
            &digits.test_images,
            &digits.test_labels,
            updates,
            100 + seed,
        )?;
        eprintln!("{} seed {seed}: done", variants[v].0);
        Ok(report)
    })?;
    println!(
        "| model | chosen | fine-tuned test error | linear-probe test error | mean ‖∂h/∂x‖_F (test) | test reconstruction (cross-entropy) |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (v, (name, values)) in variants.iter().enumerate() {
        let column = |f: fn(&FeatureReport) -> f64| -> Vec<f64> {
            finals
                .iter()
                .zip(&reports)
                .filter(|((w, _), _)| *w == v)
                .map(|(_, r)| f(r))
                .collect()
        };
        println!(
            "| {name} | {} | {} % | {} % | {} | {} |",
            if values.len() > 1 {
                format!("{}", chosen[v])
            } else {
                "–".into()
            },
            summary(&column(|r| r.fine_tuned), 100.0, 2),
            summary(&column(|r| r.probe), 100.0, 2),
            summary(&column(|r| r.jacobian), 1.0, 2),
            summary(&column(|r| r.reconstruction), 1.0, 1),
        );
    }
    Ok(())
}

fn deep_vs_pca(digits: &Digits<f32>, args: &Args) -> Res<()> {
    let (sizes, epochs, fine_tune_epochs) = if args.quick {
        ([200, 100, 30], 1, 1)
    } else {
        ([500, 250, 30], 10, 30)
    };
    let x64 = digits.train_images.map(f64::from);
    let test64 = digits.test_images.map(f64::from);
    let pca = Pca::fit(&x64, 30)?;
    let pca_error = (&test64 - pca.reconstruct(&test64)?).norm_squared() / test64.nrows() as f64;
    let seeds: Vec<u64> = (0..args.seeds).collect();
    let results = args.parallel(&seeds, |&seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let training = TrainingConfig::default()
            .with_epochs(epochs)
            .with_batch_size(32);
        let stack = LayerwisePretrainer::new()
            .with_layer(
                LayerSpec::new(sizes[0])
                    .with_loss(ReconstructionLoss::CrossEntropy)
                    .with_training(training)
                    .with_optimizer(Sgd::new(0.1)?),
            )
            .with_layer(
                LayerSpec::new(sizes[1])
                    .with_loss(ReconstructionLoss::CrossEntropy)
                    .with_training(training)
                    .with_optimizer(Sgd::new(0.1)?),
            )
            .with_layer(
                LayerSpec::new(sizes[2])
                    .with_activation(Activation::Linear)
                    .with_training(training)
                    .with_optimizer(Sgd::new(0.01)?),
            )
            .pretrain(&digits.train_images, &mut rng)?;
        let mut deep = stack.deep_autoencoder()?;
        let squared_error =
            |m: &Autoencoder<StackedEncoder<f32>, autoencoders::StackedDecoder<f32>>| -> Res<f64> {
                let r = m.reconstruct(&digits.test_images)?;
                Ok(f64::from((&digits.test_images - r).norm_squared())
                    / digits.test_images.nrows() as f64)
            };
        let pretrained_error = squared_error(&deep)?;
        let config = TrainingConfig::default()
            .with_epochs(fine_tune_epochs)
            .with_batch_size(32);
        deep.fit(
            &digits.train_images,
            &config,
            &mut Sgd::new(0.01)?.with_momentum(0.9)?,
            &mut rng,
        )?;
        let deep_error = squared_error(&deep)?;
        eprintln!(
            "seed {seed}: pretrained only {pretrained_error:.2}, fine-tuned {deep_error:.2}, PCA {pca_error:.2}"
        );
        if seed == 0 {
            save_comparison_picture(digits, &pca, &deep)?;
        }
        Ok((pretrained_error, deep_error))
    })?;
    let (pretrained_errors, deep_errors): (Vec<f64>, Vec<f64>) = results.into_iter().unzip();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!("| model (30-unit code) | squared error per test digit | vs PCA-30 |");
    println!("| --- | ---: | ---: |");
    println!("| PCA, 30 components | {pca_error:.2} | 1.00× |");
    println!(
        "| deep AE 784-{}-{}-30, pretrained only | {} | {:.2}× |",
        sizes[0],
        sizes[1],
        summary(&pretrained_errors, 1.0, 2),
        pca_error / mean(&pretrained_errors)
    );
    println!(
        "| deep AE 784-{}-{}-30, pretrained + fine-tuned | {} | {:.2}× |",
        sizes[0],
        sizes[1],
        summary(&deep_errors, 1.0, 2),
        pca_error / mean(&deep_errors)
    );
    Ok(())
}

/// Test digits (top), their PCA-30 reconstructions and their deep-autoencoder reconstructions,
/// written to `target/pictures/deep-vs-pca-*.png`.
#[cfg(feature = "pictures")]
fn save_comparison_picture(
    digits: &Digits<f32>,
    pca: &Pca<f64>,
    deep: &Autoencoder<StackedEncoder<f32>, autoencoders::StackedDecoder<f32>>,
) -> Res<()> {
    use autoencoders::pictures::{TileGrid, reconstruction_grid};
    let folder = std::path::Path::new("target/pictures");
    std::fs::create_dir_all(folder)?;
    let shown = digits.test_images.rows(0, 10).into_owned();
    let grid = TileGrid::new(28, 28).with_scale(2).with_columns(10);
    let by_pca = pca.reconstruct(&shown.map(f64::from))?.map(|v| v as f32);
    reconstruction_grid(&shown, &by_pca, &grid)?.save_png(folder.join("deep-vs-pca-pca.png"))?;
    reconstruction_grid(&shown, &deep.reconstruct(&shown)?, &grid)?
        .save_png(folder.join("deep-vs-pca-deep.png"))?;
    eprintln!("pictures: target/pictures/deep-vs-pca-{{pca,deep}}.png");
    Ok(())
}

#[cfg(not(feature = "pictures"))]
fn save_comparison_picture(
    _: &Digits<f32>,
    _: &Pca<f64>,
    _: &Autoencoder<StackedEncoder<f32>, autoencoders::StackedDecoder<f32>>,
) -> Res<()> {
    Ok(())
}

fn dae_cae(digits: &Digits<f32>, args: &Args) -> Res<()> {
    let (hidden, epochs) = if args.quick { (100, 1) } else { (500, 5) };
    let mut noise_rng = ChaCha8Rng::seed_from_u64(12345);
    let noisy_test = GaussianNoise::new(0.3)?.corrupt(&digits.test_images, &mut noise_rng);
    println!(
        "| model | setting | mean ‖∂h/∂x‖_F (test) | probe error, clean test | probe error, test + N(0, 0.3²) |"
    );
    println!("| --- | ---: | ---: | ---: | ---: |");
    let settings: Vec<(&str, f64)> = [0.0, 0.1, 0.2, 0.4, 0.8]
        .iter()
        .map(|&s| ("DAE σ", s))
        .chain([0.01, 0.1, 0.3, 1.0].iter().map(|&l| ("CAE λ", l)))
        .collect();
    let runs: Vec<(usize, u64)> = (0..settings.len())
        .flat_map(|k| (0..args.seeds).map(move |seed| (k, seed)))
        .collect();
    let results = args.parallel(&runs, |&(k, seed)| {
        let (kind, value) = settings[k];
        let mut rng = ChaCha8Rng::seed_from_u64(200 + seed);
        let base = DenseBuilder::new(784, hidden)
            .build::<f32, _>(&mut rng)?
            .with_loss(ReconstructionLoss::CrossEntropy);
        let encoder = if kind == "DAE σ" {
            let m = train_autoencoder(
                base.with_corruption(GaussianNoise::new(value)?),
                &digits.train_images,
                epochs,
                &mut rng,
            )?;
            m.into_parts().0
        } else {
            let m = train_autoencoder(
                base.with_regularizer(Contractive::new(value)?),
                &digits.train_images,
                epochs,
                &mut rng,
            )?;
            m.into_parts().0
        };
        let jacobian = mean_jacobian_norm(&encoder, &digits.test_images)?;
        let mut probe = Classifier::new(
            StackedEncoder::new(vec![encoder])?,
            10,
            Init::GlorotUniform,
            &mut rng,
        )?
        .with_frozen_encoder(true);
        let config = TrainingConfig::default()
            .with_epochs(30)
            .with_batch_size(64);
        probe.fit(
            &digits.train_images,
            &digits.train_labels,
            &config,
            &mut Sgd::new(0.1)?.with_momentum(0.9)?,
            &mut rng,
        )?;
        let clean = 1.0 - probe.accuracy(&digits.test_images, &digits.test_labels)?;
        let noisy = 1.0 - probe.accuracy(&noisy_test, &digits.test_labels)?;
        eprintln!("{kind} {value} seed {seed} done");
        Ok([jacobian, clean, noisy])
    })?;
    for (k, (kind, value)) in settings.iter().enumerate() {
        let column = |c: usize| -> Vec<f64> {
            runs.iter()
                .zip(&results)
                .filter(|((j, _), _)| *j == k)
                .map(|(_, r)| r[c])
                .collect()
        };
        println!(
            "| {} | {value} | {} | {} % | {} % |",
            if *kind == "DAE σ" {
                "DAE (Gaussian)"
            } else {
                "CAE"
            },
            summary(&column(0), 1.0, 2),
            summary(&column(1), 100.0, 2),
            summary(&column(2), 100.0, 2)
        );
    }
    Ok(())
}

/// One fine-tuning setting of [`fine_tuning`].
#[derive(Clone, Copy, Debug)]
struct FineTuningSetting {
    /// Units in each of the two hidden layers.
    hidden: usize,
    /// Pretraining epochs per layer.
    pretraining_epochs: usize,
    /// The masking probability of the denoising autoencoders.
    masking: f64,
    /// The initial fine-tuning rate (SGD, momentum 0.9).
    rate: f64,
    /// Fine-tuning updates of 32 digits.
    updates: u64,
    /// Cosine decay over the budget, or the rate throughout.
    cosine: bool,
    /// Epochs without a better validation loss before fine-tuning stops.
    patience: usize,
    /// Dropout probabilities of the input and of the hidden layers in the fine-tuning.
    dropout: (f64, f64),
}

impl FineTuningSetting {
    fn describe(&self) -> String {
        format!(
            "784-{h}-{h}-10, {p} pretraining epochs, masking {m}, η = {r}{c}, {u} updates, patience {q}{d}",
            h = self.hidden,
            p = self.pretraining_epochs,
            m = self.masking,
            r = self.rate,
            c = if self.cosine {
                " cosine to 0"
            } else {
                " constant"
            },
            u = self.updates,
            q = self.patience,
            d = match self.dropout {
                (0.0, 0.0) => String::new(),
                (input, hidden) => format!(", dropout {input} / {hidden}"),
            },
        )
    }
}

/// Pretrains and fine-tunes on `train`, stopping early on `validation`; returns the network.
fn pretrain_and_fine_tune(
    setting: &FineTuningSetting,
    train: (&DMatrix<f32>, &[usize]),
    validation: (&DMatrix<f32>, &[usize]),
    seed: u64,
) -> Res<Classifier<StackedEncoder<f32>>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (hidden, epochs, masking) = (setting.hidden, setting.pretraining_epochs, setting.masking);
    let stack = LayerwisePretrainer::new()
        .with_layer(masking_layer(hidden, epochs, masking))
        .with_layer(masking_layer(hidden, epochs, masking))
        .pretrain(train.0, &mut rng)?;
    let mut classifier = Classifier::new(stack.encoder, 10, Init::GlorotUniform, &mut rng)?
        .with_dropout(setting.dropout.0, setting.dropout.1)?;
    let schedule = if setting.cosine {
        LearningRateSchedule::cosine(setting.rate, 0.0, setting.updates)?
    } else {
        LearningRateSchedule::constant(setting.rate)?
    };
    let config = TrainingConfig::default()
        .with_epochs(usize::MAX)
        .with_batch_size(32)
        .with_max_updates(setting.updates)
        .with_schedule(schedule)
        .with_early_stopping(setting.patience);
    let mut sgd = Sgd::new(setting.rate)?.with_momentum(0.9)?;
    classifier.fit_with(
        train.0,
        train.1,
        Some(validation),
        &config,
        &mut sgd,
        &mut rng,
        &mut (),
    )?;
    Ok(classifier)
}

/// Chooses fine-tuning settings on a validation split of the training digits (the last 1,000
/// of a seeded permutation; the network trains on the other 7,000), then reports the chosen
/// setting's test error once per seed. The test digits play no part in the choice.
fn fine_tuning(digits: &Digits<f32>, args: &Args) -> Res<()> {
    let (train_rows, validation_rows) = split_rows(
        digits.train_images.nrows(),
        SplitSize::Count(7000),
        &mut ChaCha8Rng::seed_from_u64(77),
    )?;
    let take = |rows: &[usize]| -> Res<(DMatrix<f32>, Vec<usize>)> {
        Ok((
            select_rows(&digits.train_images, rows)?,
            select_labels(&digits.train_labels, rows)?,
        ))
    };
    let (train_x, train_y) = take(&train_rows)?;
    let (validation_x, validation_y) = take(&validation_rows)?;
    let base = FineTuningSetting {
        hidden: if args.quick { 50 } else { 500 },
        pretraining_epochs: if args.quick { 1 } else { 10 },
        masking: 0.25,
        rate: 0.05,
        updates: if args.quick { 200 } else { 5470 }, // 25 epochs of 7,000 digits
        cosine: false,
        patience: 1000,
        dropout: (0.0, 0.0),
    };
    let long = if args.quick { 400 } else { 21_880 }; // 100 epochs
    let cosine = FineTuningSetting {
        updates: long,
        cosine: true,
        rate: 0.1,
        patience: 15,
        ..base
    };
    // Three times the pretraining, with stronger masking: the base of the dropout rows.
    let masked = FineTuningSetting {
        pretraining_epochs: base.pretraining_epochs * 3,
        masking: 0.4,
        ..cosine
    };
    let grid = [
        base,
        cosine,
        FineTuningSetting {
            rate: 0.05,
            ..cosine
        },
        FineTuningSetting {
            masking: 0.25,
            ..masked
        },
        masked,
        FineTuningSetting {
            dropout: (0.2, 0.5),
            ..masked
        },
        FineTuningSetting {
            rate: 0.05,
            dropout: (0.2, 0.5),
            ..masked
        },
        FineTuningSetting {
            dropout: (0.1, 0.2),
            ..masked
        },
        FineTuningSetting {
            dropout: (0.3, 0.3),
            ..masked
        },
        FineTuningSetting {
            dropout: (0.4, 0.3),
            ..masked
        },
    ];
    let validation_errors = args.parallel(&grid, |setting| {
        let classifier = pretrain_and_fine_tune(
            setting,
            (&train_x, &train_y),
            (&validation_x, &validation_y),
            0,
        )?;
        let error = 1.0 - classifier.accuracy(&validation_x, &validation_y)?;
        eprintln!("validation {:.2} %: {}", error * 100.0, setting.describe());
        Ok(error)
    })?;
    println!("| fine-tuning setting (chosen on validation, seed 0) | validation error |");
    println!("| --- | ---: |");
    for (setting, error) in grid.iter().zip(&validation_errors) {
        println!("| {} | {:.2} % |", setting.describe(), error * 100.0);
    }
    // The lowest validation error; ties go to the first.
    let best = validation_errors
        .iter()
        .enumerate()
        .fold(
            0,
            |best, (i, &e)| if e < validation_errors[best] { i } else { best },
        );
    let chosen = grid[best];
    let seeds: Vec<u64> = (0..args.seeds).collect();
    let test_errors = args.parallel(&seeds, |&seed| {
        let classifier = pretrain_and_fine_tune(
            &chosen,
            (&train_x, &train_y),
            (&validation_x, &validation_y),
            100 + seed,
        )?;
        let error = 1.0 - classifier.accuracy(&digits.test_images, &digits.test_labels)?;
        eprintln!("seed {seed}: test {:.2} %", error * 100.0);
        Ok(error)
    })?;
    println!();
    println!("| chosen setting | test error | seeds |");
    println!("| --- | ---: | ---: |");
    println!(
        "| {} | {} % | {} |",
        chosen.describe(),
        summary(&test_errors, 100.0, 2),
        args.seeds
    );
    Ok(())
}

/// One row of the `vae` table.
#[derive(Clone, Copy)]
struct VaeSetting {
    hidden: &'static [usize],
    latent: usize,
    activation: Activation,
    /// Importance samples of the training objective; 1 is the ELBO.
    k: usize,
}

impl VaeSetting {
    fn describe(&self) -> String {
        let mut sizes = vec!["784".to_owned()];
        sizes.extend(self.hidden.iter().map(|h| h.to_string()));
        sizes.push(self.latent.to_string());
        let objective = if self.k == 1 {
            "VAE".to_owned()
        } else {
            format!("IWAE, k = {}", self.k)
        };
        format!(
            "{} ({}, {})",
            sizes.join("-"),
            self.activation.name(),
            objective
        )
    }
}

fn vae(digits: &Digits<f32>, args: &Args, only: Option<&str>) -> Res<()> {
    const EPOCHS: usize = 30;
    const LL_SAMPLES: usize = 5000;
    let (epochs, ll_samples) = if args.quick {
        (1, 50)
    } else {
        (EPOCHS, LL_SAMPLES)
    };
    let settings = [
        VaeSetting {
            hidden: &[400],
            latent: 2,
            activation: Activation::Relu,
            k: 1,
        },
        VaeSetting {
            hidden: &[400],
            latent: 10,
            activation: Activation::Relu,
            k: 1,
        },
        VaeSetting {
            hidden: &[400],
            latent: 20,
            activation: Activation::Relu,
            k: 1,
        },
        VaeSetting {
            hidden: &[200, 200],
            latent: 50,
            activation: Activation::Tanh,
            k: 1,
        },
        VaeSetting {
            hidden: &[200, 200],
            latent: 50,
            activation: Activation::Tanh,
            k: 5,
        },
    ];
    let chosen = |s: &usize| only.is_none_or(|text| settings[*s].describe().contains(text));
    let runs: Vec<(usize, u64)> = (0..settings.len())
        .filter(chosen)
        .flat_map(|s| (0..args.seeds).map(move |seed| (s, seed)))
        .collect();
    let results = args.parallel(&runs, |&(s, seed)| {
        let setting = settings[s];
        let mut rng = ChaCha8Rng::seed_from_u64(1000 + seed);
        let objective = if setting.k == 1 {
            VaeObjective::Elbo
        } else {
            VaeObjective::Iwae { samples: setting.k }
        };
        let mut model = DenseVae::<f32>::dense(
            784,
            setting.hidden,
            setting.latent,
            setting.activation,
            Likelihood::Bernoulli,
            &mut rng,
        )?
        .with_objective(objective)?;
        let config = TrainingConfig::default()
            .with_epochs(epochs)
            .with_batch_size(100);
        let start = Instant::now();
        model.fit(&digits.train_images, &config, &mut Adam::new(1e-3)?, &mut rng)?;
        let seconds_per_epoch = start.elapsed().as_secs_f64() / epochs as f64;
        let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
        let test = &digits.test_images;
        let elbo = mean(model.elbo(test, &mut rng)?);
        let iwae = mean(model.iwae(test, 5, &mut rng)?);
        let ll = mean(model.log_likelihood(test, ll_samples, &mut rng)?);
        eprintln!(
            "{} seed {seed}: elbo {elbo:.2} iwae {iwae:.2} log p(x) {ll:.2}, {seconds_per_epoch:.2} s/epoch",
            setting.describe()
        );
        Ok([-elbo, -iwae, -ll, seconds_per_epoch])
    })?;
    println!(
        "| model (Bernoulli decoder, Adam 1e-3, batch 100, {epochs} epochs) | test −ELBO | test −IWAE (k = 5) | test −log p(x) (K = {ll_samples}) | s per epoch | seeds |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (s, setting) in settings.iter().enumerate().filter(|(s, _)| chosen(s)) {
        let column = |c: usize| -> Vec<f64> {
            runs.iter()
                .zip(&results)
                .filter(|((r, _), _)| *r == s)
                .map(|(_, values)| values[c])
                .collect()
        };
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            setting.describe(),
            summary(&column(0), 1.0, 2),
            summary(&column(1), 1.0, 2),
            summary(&column(2), 1.0, 2),
            summary(&column(3), 1.0, 2),
            args.seeds
        );
    }
    Ok(())
}

/// The methods of the one-class table, in its column order.
const ONE_CLASS_METHODS: [&str; 6] = [
    "PCA-32",
    "AE",
    "denoising AE",
    "contractive AE",
    "robust AE (correntropy)",
    "VAE (−ELBO)",
];

/// AUROC of one method trained on the training digits of class `digit`, scoring all test
/// digits, the positives being those of another class.
fn one_class_auroc(
    digits: &Digits<f32>,
    digit: usize,
    method: usize,
    seed: u64,
    quick: bool,
) -> Res<f64> {
    use autoencoders::Correntropy;
    use autoencoders::anomaly::{AnomalyScore, VaeEstimate, VaeScorer, auroc};
    let rows: Vec<usize> = (0..digits.train_images.nrows())
        .filter(|&i| digits.train_labels[i] == digit)
        .collect();
    let train = select_rows(&digits.train_images, &rows)?;
    let positives: Vec<bool> = digits.test_labels.iter().map(|&l| l != digit).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(100 * seed + digit as u64);
    let epochs = if quick { 1 } else { 50 };
    let config = TrainingConfig::default()
        .with_epochs(epochs)
        .with_batch_size(32);
    // The autoencoders: 784-64, ReLU codes (sigmoid for the contractive one), a sigmoid
    // decoder, trained by Adam on the squared error (the robust one on the correntropy); the
    // cross-entropy scored 3–9 points worse on the hardest digits (2, 3, 5, 8).
    let dense = |encoder: Activation, rng: &mut ChaCha8Rng| {
        DenseBuilder::new(784, 64)
            .with_encoder_activation(encoder)
            .build::<f32, _>(rng)
    };
    let scores = match method {
        0 => Pca::fit(&train, 32)?.scores(&digits.test_images)?,
        1..=3 => {
            let encoder = if method == 3 {
                Activation::Sigmoid
            } else {
                Activation::Relu
            };
            let mut model = dense(encoder, &mut rng)?
                .with_loss(ReconstructionLoss::SquaredError)
                .with_regularizer(Vec::<autoencoders::BuiltinRegularizer>::new())
                .with_corruption(autoencoders::BuiltinCorruption::None);
            if method == 2 {
                model = model.with_corruption(Masking::new(0.3)?.into());
            }
            if method == 3 {
                model = model.with_regularizer(vec![Contractive::new(0.1)?.into()]);
            }
            model.fit(&train, &config, &mut Adam::new(1e-3)?, &mut rng)?;
            model.scores(&digits.test_images)?
        }
        4 => {
            let mut model = dense(Activation::Relu, &mut rng)?.with_loss(Correntropy::new(0.2)?);
            model.fit(&train, &config, &mut Adam::new(1e-3)?, &mut rng)?;
            model.scores(&digits.test_images)?
        }
        _ => {
            let mut vae = DenseVae::<f32>::dense(
                784,
                &[400],
                20,
                Activation::Relu,
                Likelihood::Bernoulli,
                &mut rng,
            )?;
            vae.fit(&train, &config, &mut Adam::new(1e-3)?, &mut rng)?;
            VaeScorer {
                vae,
                estimate: VaeEstimate::Elbo,
                seed: 7,
            }
            .scores(&digits.test_images)?
        }
    };
    Ok(auroc(&scores, &positives)?)
}

fn one_class(digits: &Digits<f32>, args: &Args) -> Res<()> {
    digit_table(args, &ONE_CLASS_METHODS, 100.0, 1, |digit, method, seed| {
        one_class_auroc(digits, digit, method, seed, args.quick)
    })
}

/// Runs `job(digit, method, seed)` for the ten digits, every method and every seed, and prints
/// the table of its results (times `scale`, with `decimals` decimals): one row per digit, mean ±
/// sd over seeds, and a last row with the mean over digits, per seed, then its mean ± sd.
fn digit_table(
    args: &Args,
    methods: &[&str],
    scale: f64,
    decimals: usize,
    job: impl Fn(usize, usize, u64) -> Res<f64> + Sync,
) -> Res<()> {
    let (m, seeds) = (methods.len(), args.seeds);
    let runs: Vec<(usize, usize, u64)> = (0..10)
        .flat_map(|digit| {
            (0..m).flat_map(move |method| (0..seeds).map(move |seed| (digit, method, seed)))
        })
        .collect();
    let results = args.parallel(&runs, |&(digit, method, seed)| job(digit, method, seed))?;
    // `runs` lists digit by digit, method by method, seed by seed.
    let value = |digit: usize, method: usize, seed: u64| {
        results[(digit * m + method) * seeds as usize + seed as usize]
    };
    println!("| digit | {} |", methods.join(" | "));
    println!("| ---: |{}", " ---: |".repeat(m));
    for digit in 0..10 {
        let cells: Vec<String> = (0..m)
            .map(|method| {
                let values: Vec<f64> = (0..seeds).map(|s| value(digit, method, s)).collect();
                summary(&values, scale, decimals)
            })
            .collect();
        println!("| {digit} | {} |", cells.join(" | "));
    }
    let means: Vec<String> = (0..m)
        .map(|method| {
            let per_seed: Vec<f64> = (0..seeds)
                .map(|s| (0..10).map(|d| value(d, method, s)).sum::<f64>() / 10.0)
                .collect();
            summary(&per_seed, scale, decimals)
        })
        .collect();
    println!("| mean | {} |", means.join(" | "));
    Ok(())
}

/// The methods of the dirty-data tables; the robust deep autoencoder's two columns, which
/// differ by table, follow from [`dirty_robust`].
const DIRTY_METHODS: [&str; 4] = [
    "PCA-32",
    "AE (squared error)",
    "robust AE (correntropy, σ = 0.2)",
    "robust AE (correntropy, σ = 0.5)",
];

/// The robust deep autoencoder's columns of the two dirty-data tables: `(name, shrinkage, λ)`,
/// samples (ℓ2,1) for the swapped digits, entries (ℓ1) for the salt-and-pepper pixels.
fn dirty_robust(noisy: bool) -> [(&'static str, autoencoders::robust::Shrinkage, f64); 2] {
    use autoencoders::robust::Shrinkage;
    if noisy {
        [
            ("robust deep AE (ℓ1, λ = 0.25)", Shrinkage::Entries, 0.25),
            ("robust deep AE (ℓ1, λ = 0.5)", Shrinkage::Entries, 0.5),
        ]
    } else {
        [
            ("robust deep AE (ℓ2,1, λ = 3)", Shrinkage::Samples, 3.0),
            ("robust deep AE (ℓ2,1, λ = 4)", Shrinkage::Samples, 4.0),
        ]
    }
}

/// One run of the dirty-data tables for `digit`: with `noisy` false, the training set is the
/// digit's training images with 10 % of them replaced by other digits, and the result the
/// AUROC on all test digits; with `noisy` true, the training images carry 20 % salt-and-pepper
/// noise, and the result the mean squared error of the clean test images of the digit against
/// their reconstructions.
fn dirty_run(
    digits: &Digits<f32>,
    digit: usize,
    method: usize,
    seed: u64,
    noisy: bool,
    quick: bool,
) -> Res<(f64, Option<f64>)> {
    use autoencoders::anomaly::auroc;
    use autoencoders::{Correntropy, Corruption as _, SaltAndPepper};
    let mut rng = ChaCha8Rng::seed_from_u64(1000 * seed + 10 * digit as u64 + u64::from(noisy));
    let n = digits.train_images.nrows();
    let mut own: Vec<usize> = (0..n)
        .filter(|&i| digits.train_labels[i] == digit)
        .collect();
    let train = if noisy {
        let clean = select_rows(&digits.train_images, &own)?;
        SaltAndPepper::new(0.2)?.corrupt(&clean, &mut rng)
    } else {
        // A tenth of the digit's images swapped for images of other digits.
        let mut others: Vec<usize> = (0..n)
            .filter(|&i| digits.train_labels[i] != digit)
            .collect();
        own.shuffle(&mut rng);
        others.shuffle(&mut rng);
        let swapped = own.len() / 10;
        own.truncate(own.len() - swapped);
        own.extend(&others[..swapped]);
        select_rows(&digits.train_images, &own)?
    };
    // Which training rows are another digit's (the last tenth, when swapped).
    let swapped: Vec<bool> = (0..train.nrows())
        .map(|i| !noisy && digits.train_labels[own[i]] != digit)
        .collect();
    let epochs = if quick { 1 } else { 50 };
    let config = TrainingConfig::default()
        .with_epochs(epochs)
        .with_batch_size(32);
    let dense = |rng: &mut ChaCha8Rng| {
        DenseBuilder::new(784, 64)
            .with_encoder_activation(Activation::Relu)
            .build::<f32, _>(rng)
    };
    // The squared reconstruction error, whatever the training loss: the score, and the
    // measure of the noisy table.
    let squared = |x_hat: &DMatrix<f32>, x: &DMatrix<f32>| -> Vec<f64> {
        (0..x.nrows())
            .map(|i| {
                (0..x.ncols())
                    .map(|j| (f64::from(x_hat[(i, j)]) - f64::from(x[(i, j)])).powi(2))
                    .sum()
            })
            .collect()
    };
    type Reconstruct = Box<dyn Fn(&DMatrix<f32>) -> Res<DMatrix<f32>>>;
    // The training rows' own scores, for the pick of the swapped digits: the reconstruction
    // error, or `‖s_i‖`.
    let mut training_scores = None;
    let reconstruct: Reconstruct = match method {
        0 => {
            let pca = Pca::fit(&train, 32)?;
            Box::new(move |x| Ok(pca.reconstruct(x)?))
        }
        1 => {
            let mut model = dense(&mut rng)?;
            model.fit(&train, &config, &mut Adam::new(1e-3)?, &mut rng)?;
            training_scores = Some(squared(&model.reconstruct(&train)?, &train));
            Box::new(move |x| Ok(model.reconstruct(x)?))
        }
        2 | 3 => {
            let sigma = if method == 2 { 0.2 } else { 0.5 };
            let mut model = dense(&mut rng)?.with_loss(Correntropy::new(sigma)?);
            model.fit(&train, &config, &mut Adam::new(1e-3)?, &mut rng)?;
            Box::new(move |x| Ok(model.reconstruct(x)?))
        }
        _ => {
            // The same budget of 50 epochs: 10 outer iterations of 5.
            let (_, shrinkage, lambda) = dirty_robust(noisy)[method - 4];
            let mut model = dense(&mut rng)?;
            let robust = autoencoders::robust::RobustAutoencoder::new(lambda)?
                .with_shrinkage(shrinkage)
                .with_iterations(if quick { 1 } else { 10 })
                .with_inner(config.with_epochs(if quick { 1 } else { 5 }));
            let fit = robust.fit(&mut model, &train, &mut Adam::new(1e-3)?, &mut rng, &mut ())?;
            if std::env::var_os("AUTOENCODERS_DIRTY_TRACE").is_some() {
                for r in &fit.reports {
                    eprintln!(
                        "digit {digit} seed {seed} {shrinkage:?} λ={lambda} iteration {}: inner loss {:.3} outliers {} c1 {:.4} c2 {:.4}",
                        r.iteration, r.inner.reconstruction_loss, r.outliers, r.residual, r.change
                    );
                }
            }
            training_scores = Some(fit.outlier_scores());
            Box::new(move |x| Ok(model.reconstruct(x)?))
        }
    };
    let pick = match training_scores {
        Some(scores) if !noisy => Some(100.0 * auroc(&scores, &swapped)?),
        _ => None,
    };
    let measure = if noisy {
        let rows: Vec<usize> = (0..digits.test_images.nrows())
            .filter(|&i| digits.test_labels[i] == digit)
            .collect();
        let clean = select_rows(&digits.test_images, &rows)?;
        let errors = squared(&reconstruct(&clean)?, &clean);
        errors.iter().sum::<f64>() / errors.len() as f64
    } else {
        let scores = squared(&reconstruct(&digits.test_images)?, &digits.test_images);
        let positives: Vec<bool> = digits.test_labels.iter().map(|&l| l != digit).collect();
        100.0 * auroc(&scores, &positives)?
    };
    Ok((measure, pick))
}

fn dirty(digits: &Digits<f32>, args: &Args) -> Res<()> {
    // The swapped-digit runs' picks of their own swapped training digits, by (digit, method,
    // seed), for the third table.
    let picks = Mutex::new(std::collections::HashMap::new());
    for noisy in [false, true] {
        if noisy {
            println!(
                "\n20 % salt-and-pepper noise on the training images: the clean test digits' squared reconstruction error\n"
            );
        } else {
            println!(
                "10 % of the training digits replaced by other digits: AUROC (%) of another digit against the digit\n"
            );
        }
        let decimals = if noisy { 2 } else { 1 };
        let robust = dirty_robust(noisy);
        let methods: Vec<&str> = DIRTY_METHODS
            .iter()
            .copied()
            .chain(robust.iter().map(|r| r.0))
            .collect();
        digit_table(args, &methods, 1.0, decimals, |digit, method, seed| {
            let (measure, pick) = dirty_run(digits, digit, method, seed, noisy, args.quick)?;
            if let Some(pick) = pick {
                picks
                    .lock()
                    .map_err(|_| "a poisoned lock")?
                    .insert((digit, method, seed), pick);
            }
            Ok(measure)
        })?;
    }
    // The same models as the first table's, whose picks it kept.
    println!(
        "\n10 % of the training digits replaced by other digits: AUROC (%) of the training set's own scores at picking the swapped digits\n"
    );
    let robust = dirty_robust(false);
    let columns = [
        "AE (squared error): ‖x − x̂‖²".to_owned(),
        format!("{}: ‖s_i‖", robust[0].0),
        format!("{}: ‖s_i‖", robust[1].0),
    ];
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    let picks = picks.into_inner().map_err(|_| "a poisoned lock")?;
    digit_table(args, &names, 1.0, 1, |digit, method, seed| {
        let key = (digit, [1, 4, 5][method], seed);
        Ok(*picks
            .get(&key)
            .ok_or("no pick of the swapped digits for this run")?)
    })?;
    Ok(())
}
