//! The variational autoencoder: exact gradients of the ELBO and of the IWAE bound with the noise
//! held fixed, the closed-form KL, the log-likelihood estimator against a model whose marginal is
//! known exactly (probabilistic PCA), training, and the typed errors.

mod common;

use autoencoders::{
    Activation, Adam, DenseDecoder, DenseEncoder, DenseVae, Error, Init, Likelihood, Masking,
    StackedDecoder, StackedEncoder, TrainingConfig, Vae, VaeObjective,
};
use common::{compare, numeric_gradient, rng, uniform};
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;

/// A 5-4-3-(2 latent) model with tanh hidden layers (smooth, so finite differences are exact to
/// their order), with small random biases everywhere so that no symmetry hides an error.
fn model(likelihood: Likelihood, seed: u64) -> DenseVae<f64> {
    let mut g = rng(seed);
    let vae = DenseVae::<f64>::dense(5, &[4, 3], 2, Activation::Tanh, likelihood, &mut g).unwrap();
    // Random biases: the constructor's are zero.
    let mut with_biases = vae.clone();
    let shapes = vae.parameter_shapes();
    for (p, shape) in with_biases.parameters_mut().into_iter().zip(shapes) {
        if shape.len() == 1 {
            for v in p.iter_mut() {
                *v = uniform(1, 1, -0.3, 0.3, &mut g)[0];
            }
        }
    }
    with_biases
}

fn noise(rows: usize, latent: usize, seed: u64) -> DMatrix<f64> {
    let mut g = rng(seed);
    DMatrix::from_fn(rows, latent, |_, _| {
        rand_distr::Distribution::sample(&rand_distr::StandardNormal, &mut g)
    })
}

fn check(vae: &mut DenseVae<f64>, x: &DMatrix<f64>, input: &DMatrix<f64>, eps: &DMatrix<f64>) {
    let (_, analytic) = vae.gradient_with_noise(x, input, eps).unwrap();
    let numeric = numeric_gradient(
        vae,
        |m| m.parameters_mut(),
        |m| m.objective_with_noise(x, input, eps).unwrap(),
    );
    let agreement = compare(&analytic, &numeric);
    assert!(agreement.holds(), "{agreement:?}");
}

#[test]
fn the_elbo_and_the_iwae_bound_have_exact_gradients_with_the_noise_fixed() {
    let x = uniform(6, 5, 0.0, 1.0, &mut rng(1));
    for likelihood in [
        Likelihood::Bernoulli,
        Likelihood::Gaussian { variance: 0.3 },
    ] {
        for objective in [VaeObjective::Elbo, VaeObjective::Iwae { samples: 5 }] {
            for (beta, decay) in [(1.0, 0.0), (0.4, 0.05)] {
                let mut vae = model(likelihood, 2)
                    .with_objective(objective)
                    .unwrap()
                    .with_beta(beta)
                    .unwrap()
                    .with_weight_decay(decay)
                    .unwrap();
                let k = match objective {
                    VaeObjective::Iwae { samples } => samples,
                    _ => 1,
                };
                let eps = noise(6 * k, 2, 3);
                check(&mut vae, &x, &x, &eps);
                // A corrupted encoder input (a denoising VAE) with the clean x in the
                // likelihood.
                let input = x.map(|v| if v > 0.7 { 0.0 } else { v });
                check(&mut vae, &x, &input, &eps);
            }
        }
    }
}

#[test]
fn the_oracle_catches_the_kl_averaged_over_latent_units() {
    // A planted error: the analytic gradient of the true objective against the numeric one of
    // an objective whose KL is averaged over the 2 latent units instead of summed (β = 1/2).
    let x = uniform(6, 5, 0.0, 1.0, &mut rng(4));
    let eps = noise(6, 2, 5);
    let vae = model(Likelihood::Bernoulli, 6);
    let (_, analytic) = vae.gradient_with_noise(&x, &x, &eps).unwrap();
    let mut averaged = vae.clone().with_beta(0.5).unwrap();
    let numeric = numeric_gradient(
        &mut averaged,
        |m| m.parameters_mut(),
        |m| m.objective_with_noise(&x, &x, &eps).unwrap(),
    );
    let agreement = compare(&analytic, &numeric);
    assert!(
        !agreement.holds(),
        "the planted error went unnoticed: {agreement:?}"
    );
    // The same numeric gradient agrees with the averaged model's own analytic one.
    let (_, own) = averaged.gradient_with_noise(&x, &x, &eps).unwrap();
    assert!(compare(&own, &numeric).holds());
}

/// `½ Σ_j (μ_j² + σ_j² − ln σ_j² − 1)` per sample, averaged, from the model's own heads.
fn closed_form_kl(vae: &DenseVae<f64>, x: &DMatrix<f64>) -> f64 {
    let q = vae.encode(x).unwrap();
    let total: f64 = q
        .mean
        .iter()
        .zip(q.log_var.iter())
        .map(|(&m, &l)| 0.5 * (m * m + l.exp() - l - 1.0))
        .sum();
    total / x.nrows() as f64
}

#[test]
fn the_kl_term_and_its_gradient_are_the_closed_form_summed_over_latent_units() {
    let x = uniform(6, 5, 0.0, 1.0, &mut rng(7));
    let eps = noise(6, 2, 8);
    let vae = model(Likelihood::Bernoulli, 9);
    let with = vae.clone().with_beta(1.0).unwrap();
    let without = vae.clone().with_beta(0.0).unwrap();
    let kl = with.objective_with_noise(&x, &x, &eps).unwrap()
        - without.objective_with_noise(&x, &x, &eps).unwrap();
    let expected = closed_form_kl(&vae, &x);
    assert!((kl - expected).abs() < 1e-12, "{kl} against {expected}");
    assert!(expected > 0.1, "a KL of {expected} would test little");
    // The KL's gradient: the difference of the two models' gradients, against central
    // differences of the closed form computed here.
    let (_, g1) = with.gradient_with_noise(&x, &x, &eps).unwrap();
    let (_, g0) = without.gradient_with_noise(&x, &x, &eps).unwrap();
    let analytic: Vec<Vec<f64>> = g1
        .iter()
        .zip(&g0)
        .map(|(a, b)| a.iter().zip(b).map(|(a, b)| a - b).collect())
        .collect();
    let mut probe = vae.clone();
    let numeric = numeric_gradient(
        &mut probe,
        |m| m.parameters_mut(),
        |m| closed_form_kl(m, &x),
    );
    let agreement = compare(&analytic, &numeric);
    assert!(agreement.holds(), "{agreement:?}");
}

#[test]
fn the_sampled_kl_averages_to_the_closed_form() {
    // With one sample, the IWAE objective is the reconstruction plus the *sampled* KL,
    // log q(z|x) − log p(z); the ELBO objective with the same noise has the closed form
    // instead. Their difference has mean 0 over the noise. Each of the N = 4,000 differences
    // is an independent draw (fresh noise for 3 inputs), so their mean has standard error
    // sd/√N; we estimate sd from the same draws and allow 4 standard errors (a false alarm
    // about once in 16,000 runs, and the test is seeded, so it either always passes or never).
    let x = uniform(3, 5, 0.0, 1.0, &mut rng(10));
    let elbo = model(Likelihood::Bernoulli, 11);
    let sampled = elbo
        .clone()
        .with_objective(VaeObjective::Iwae { samples: 1 })
        .unwrap();
    let n = 4000;
    let differences: Vec<f64> = (0..n)
        .map(|i| {
            let eps = noise(3, 2, 1000 + i);
            sampled.objective_with_noise(&x, &x, &eps).unwrap()
                - elbo.objective_with_noise(&x, &x, &eps).unwrap()
        })
        .collect();
    let mean = differences.iter().sum::<f64>() / n as f64;
    let sd = (differences.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    let se = sd / (n as f64).sqrt();
    assert!(sd > 0.01, "the sampled KL should vary: sd {sd}");
    assert!(mean.abs() < 4.0 * se, "mean {mean}, standard error {se}");
}

/// Probabilistic PCA as a VAE: `p(z) = N(0, I)`, `p(x|z) = N(V z + c, v I)`, so that
/// `p(x) = N(c, V Vᵀ + v I)` exactly. With `V`'s columns orthogonal, the exact posterior is a
/// diagonal Gaussian, `N(M⁻¹Vᵀ(x − c), v M⁻¹)` with `M = VᵀV + v I` diagonal, which the heads
/// can represent over an identity encoder.
struct Ppca {
    v: DMatrix<f64>,
    c: DVector<f64>,
    variance: f64,
}

impl Ppca {
    fn new() -> Self {
        // Orthogonal columns of different lengths in 4 dimensions.
        let v: DMatrix<f64> =
            DMatrix::from_row_slice(4, 2, &[1.25, 0.5, -0.5, 0.75, 0.0, 1.0, 0.5, -0.5]);
        assert_eq!(v.column(0).dot(&v.column(1)), 0.0);
        Self {
            v,
            c: DVector::from_row_slice(&[0.1, -0.2, 0.3, 0.0]),
            variance: 0.25,
        }
    }

    /// The exact log-density of each row of `x`.
    fn log_density(&self, x: &DMatrix<f64>) -> Vec<f64> {
        let d = x.ncols();
        let covariance = &self.v * self.v.transpose() + DMatrix::identity(d, d) * self.variance;
        let cholesky = covariance.cholesky().unwrap();
        let log_det: f64 = 2.0 * cholesky.l().diagonal().iter().map(|v| v.ln()).sum::<f64>();
        x.row_iter()
            .map(|row| {
                let r = row.transpose() - &self.c;
                let quadratic = r.dot(&cholesky.solve(&r));
                -0.5 * (d as f64 * (2.0 * std::f64::consts::PI).ln() + log_det + quadratic)
            })
            .collect()
    }

    /// The VAE whose `q(z|x)` is the exact posterior, its log-variance shifted by `spread` and
    /// its mean by `shift` (both 0 for the exact one).
    fn vae(&self, spread: f64, shift: f64) -> Vae<DenseEncoder<f64>, DenseDecoder<f64>> {
        let d = self.v.nrows();
        let m = self.v.transpose() * &self.v + DMatrix::identity(2, 2) * self.variance;
        let m_inv = m.try_inverse().unwrap();
        let encoder = DenseEncoder::from_parts(
            DMatrix::identity(d, d),
            DVector::zeros(d),
            Activation::Linear,
        )
        .unwrap();
        let w_mean = &m_inv * self.v.transpose();
        let b_mean = -(&w_mean * &self.c) + DVector::from_element(2, shift);
        let mean = DenseEncoder::from_parts(w_mean, b_mean, Activation::Linear).unwrap();
        let b_log_var = DVector::from_fn(2, |j, _| (self.variance * m_inv[(j, j)]).ln() + spread);
        let log_var =
            DenseEncoder::from_parts(DMatrix::zeros(2, d), b_log_var, Activation::Linear).unwrap();
        let decoder =
            DenseDecoder::from_parts(Some(self.v.clone()), self.c.clone(), Activation::Linear, 2)
                .unwrap();
        Vae::new(
            encoder,
            mean,
            log_var,
            decoder,
            Likelihood::Gaussian {
                variance: self.variance,
            },
        )
        .unwrap()
    }
}

#[test]
fn with_the_exact_posterior_every_estimate_is_the_exact_log_likelihood() {
    let ppca = Ppca::new();
    let x = uniform(5, 4, -1.5, 1.5, &mut rng(12));
    let exact = ppca.log_density(&x);
    let vae = ppca.vae(0.0, 0.0);
    let mut g = rng(13);
    // Every importance weight is p(x) itself, whatever z is drawn: one sample is exact.
    let one = vae.log_likelihood(&x, 1, &mut g).unwrap();
    let many = vae.log_likelihood(&x, 300, &mut g).unwrap();
    let iwae = vae.iwae(&x, 5, &mut g).unwrap();
    for i in 0..5 {
        for (what, value) in [("K = 1", one[i]), ("K = 300", many[i]), ("IWAE", iwae[i])] {
            assert!(
                (value - exact[i]).abs() < 1e-10,
                "{what}, sample {i}: {value} against {}",
                exact[i]
            );
        }
    }
    // The ELBO, whose reconstruction term is sampled, equals log p(x) in expectation (the KL
    // to the true posterior is 0): its mean over 4,000 draws for one input is within 4
    // standard errors of it.
    let repeated = DMatrix::from_fn(4000, 4, |_, j| x[(0, j)]);
    let elbo = vae.elbo(&repeated, &mut g).unwrap();
    let mean = elbo.iter().sum::<f64>() / 4000.0;
    let sd = (elbo.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / 3999.0).sqrt();
    assert!(sd > 0.1, "the sampled ELBO should vary: {sd}");
    assert!(
        (mean - exact[0]).abs() < 4.0 * sd / 4000.0_f64.sqrt(),
        "ELBO {mean} ± {sd} against {}",
        exact[0]
    );
}

#[test]
fn with_another_proposal_the_estimate_converges_to_the_exact_log_likelihood() {
    let ppca = Ppca::new();
    let x = uniform(20, 4, -1.5, 1.5, &mut rng(14));
    let exact = ppca.log_density(&x);
    // A proposal twice as wide and shifted: a valid but poor q.
    let vae = ppca.vae(2.0_f64.ln() * 2.0, 0.3);
    let mean_error = |k: usize, seed: u64| {
        let estimate = vae.log_likelihood(&x, k, &mut rng(seed)).unwrap();
        estimate
            .iter()
            .zip(&exact)
            .map(|(e, x)| (e - x).abs())
            .sum::<f64>()
            / 20.0
    };
    let elbo_gap: f64 = {
        let elbo = vae.elbo(&x, &mut rng(15)).unwrap();
        elbo.iter().zip(&exact).map(|(e, x)| x - e).sum::<f64>() / 20.0
    };
    let (coarse, fine) = (mean_error(5, 16), mean_error(20_000, 17));
    assert!(
        elbo_gap > 0.1,
        "the poor proposal's ELBO should fall short: {elbo_gap}"
    );
    assert!(fine < coarse / 5.0, "K = 5: {coarse}, K = 20000: {fine}");
    assert!(fine < 0.01, "K = 20000 is off by {fine} nats on average");
}

#[test]
fn on_digits_elbo_iwae_and_the_estimate_are_ordered_and_training_raises_them() {
    let digits = autoencoders::data::bundled_digits::<f64>().unwrap();
    let train = digits.train_images.rows(0, 600).into_owned();
    let test = digits.test_images.rows(0, 200).into_owned();
    let mut g = rng(18);
    let mut vae = DenseVae::<f64>::dense(
        784,
        &[64],
        8,
        Activation::Relu,
        Likelihood::Bernoulli,
        &mut g,
    )
    .unwrap();
    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
    let before = mean(vae.elbo(&test, &mut rng(19)).unwrap());
    let config = TrainingConfig::default().with_epochs(8).with_batch_size(32);
    let history = vae
        .fit_with(
            &train,
            Some(&test),
            &config,
            &mut Adam::new(1e-3).unwrap(),
            &mut g,
            &mut (),
        )
        .unwrap();
    let first = history.epochs[0].validation_loss.unwrap();
    let last = history.epochs[7].validation_loss.unwrap();
    assert!(last < first, "validation −ELBO {first} → {last}");
    let elbos = vae.elbo(&test, &mut rng(20)).unwrap();
    let iwaes = vae.iwae(&test, 5, &mut rng(21)).unwrap();
    let lls = vae.log_likelihood(&test, 500, &mut rng(22)).unwrap();
    let (elbo, iwae, ll) = (mean(elbos.clone()), mean(iwaes.clone()), mean(lls.clone()));
    assert!(elbo > before, "training: ELBO {before} → {elbo}");
    assert!(
        elbo < iwae && iwae < ll && ll < 0.0,
        "ELBO {elbo}, IWAE {iwae}, log p(x) {ll}"
    );
    // The gaps dwarf the Monte-Carlo error: each is over 5 standard errors of the mean of its
    // per-digit differences (the same digits on both sides, so only the draws of z and the
    // digit-to-digit spread of the gap make the error; a chance below 3e-7 of a gap this large
    // without one). Measured here: IWAE − ELBO 4.6 nats with a standard error of 0.6, the
    // single-draw ELBO being the noisy one; over the 2,000 test digits the error is a third.
    for (what, low, high) in [
        ("IWAE − ELBO", &elbos, &iwaes),
        ("log p(x) − IWAE", &iwaes, &lls),
    ] {
        let gaps: Vec<f64> = high.iter().zip(low.iter()).map(|(h, l)| h - l).collect();
        let gap = mean(gaps.clone());
        let spread = gaps.iter().map(|g| (g - gap).powi(2)).sum::<f64>() / (gaps.len() - 1) as f64;
        let se = (spread / gaps.len() as f64).sqrt();
        assert!(gap > 5.0 * se, "{what}: {gap} with standard error {se}");
        eprintln!("{what}: {gap:.3} nats, standard error {se:.3}");
    }
}

#[test]
fn seeded_training_repeats_bit_for_bit_and_warm_up_rises_linearly() {
    let x = uniform(40, 5, 0.0, 1.0, &mut rng(23));
    let run = || {
        let mut vae = model(Likelihood::Bernoulli, 24)
            .with_warm_up(4)
            .with_corruption(Masking::new(0.2).unwrap());
        let config = TrainingConfig::default().with_epochs(6).with_batch_size(8);
        let history = vae
            .fit(&x, &config, &mut Adam::new(0.01).unwrap(), &mut rng(25))
            .unwrap();
        let bits: Vec<Vec<u64>> = vae
            .parameters()
            .iter()
            .map(|p| p.iter().map(|v| v.to_bits()).collect())
            .collect();
        (bits, history)
    };
    let (a, history) = run();
    let (b, _) = run();
    assert_eq!(a, b);
    let weights: Vec<f64> = history.epochs.iter().map(|r| r.kl_weight).collect();
    assert_eq!(weights, [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]);
}

#[test]
fn bad_parts_data_and_hyper_parameters_are_typed_errors() {
    let mut g = rng(26);
    let stack = |g: &mut ChaCha8Rng| {
        StackedEncoder::<f64>::new(vec![
            DenseEncoder::new(5, 4, Activation::Tanh, Init::GlorotUniform, g).unwrap(),
        ])
        .unwrap()
    };
    let head =
        |g: &mut ChaCha8Rng, act| DenseEncoder::new(4, 2, act, Init::GlorotUniform, g).unwrap();
    let decoder = |g: &mut ChaCha8Rng, act| {
        StackedDecoder::new(vec![
            DenseDecoder::new(2, 5, act, Init::GlorotUniform, g).unwrap(),
        ])
        .unwrap()
    };
    let sigmoid = Activation::Sigmoid;
    // A Bernoulli likelihood needs a sigmoid decoder; the heads must be affine.
    let err = Vae::new(
        stack(&mut g),
        head(&mut g, Activation::Linear),
        head(&mut g, Activation::Linear),
        decoder(&mut g, Activation::Tanh),
        Likelihood::Bernoulli,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::IncompatibleActivation { .. }),
        "{err:?}"
    );
    let err = Vae::new(
        stack(&mut g),
        head(&mut g, Activation::Tanh),
        head(&mut g, Activation::Linear),
        decoder(&mut g, sigmoid),
        Likelihood::Bernoulli,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::IncompatibleActivation { .. }),
        "{err:?}"
    );
    // Sizes that do not chain.
    let err = Vae::new(
        stack(&mut g),
        head(&mut g, Activation::Linear),
        DenseEncoder::new(4, 3, Activation::Linear, Init::GlorotUniform, &mut g).unwrap(),
        decoder(&mut g, sigmoid),
        Likelihood::Bernoulli,
    )
    .unwrap_err();
    assert!(matches!(err, Error::DimensionMismatch { .. }), "{err:?}");
    // A tied decoder cannot borrow weights here.
    let err = Vae::new(
        DenseEncoder::new(5, 2, Activation::Linear, Init::GlorotUniform, &mut g).unwrap(),
        DenseEncoder::new(2, 2, Activation::Linear, Init::GlorotUniform, &mut g).unwrap(),
        DenseEncoder::new(2, 2, Activation::Linear, Init::GlorotUniform, &mut g).unwrap(),
        DenseDecoder::<f64>::tied(2, 5, sigmoid).unwrap(),
        Likelihood::Bernoulli,
    )
    .unwrap_err();
    assert!(matches!(err, Error::MissingCodeWeights { .. }), "{err:?}");
    // Hyper-parameters.
    let vae = model(Likelihood::Bernoulli, 27);
    for bad in [f64::NAN, 0.0, -1.0, f64::INFINITY] {
        let err = DenseVae::<f64>::dense(
            5,
            &[4],
            2,
            Activation::Relu,
            Likelihood::Gaussian { variance: bad },
            &mut g,
        )
        .unwrap_err();
        assert!(
            matches!(err, Error::InvalidHyperParameter { .. }),
            "{bad}: {err:?}"
        );
    }
    assert!(vae.clone().with_beta(-0.1).is_err());
    assert!(vae.clone().with_beta(f64::NAN).is_err());
    assert!(vae.clone().with_weight_decay(-1.0).is_err());
    for samples in [0, (1 << 16) + 1] {
        assert!(
            vae.clone()
                .with_objective(VaeObjective::Iwae { samples })
                .is_err()
        );
    }
    assert!(matches!(
        DenseVae::<f64>::dense(5, &[], 2, Activation::Relu, Likelihood::Bernoulli, &mut g),
        Err(Error::ZeroDimension { .. })
    ));
    // Data: outside [0, 1] for Bernoulli, NaN, wrong width, empty; a zero sample count.
    let x = uniform(4, 5, 0.0, 1.0, &mut rng(28));
    let mut outside = x.clone();
    outside[(1, 2)] = 1.5;
    let mut nan = x.clone();
    nan[(0, 0)] = f64::NAN;
    let config = TrainingConfig::default().with_epochs(1);
    let mut r = ChaCha8Rng::seed_from_u64(29);
    for (bad, what) in [
        (outside, "outside [0, 1]"),
        (nan, "NaN"),
        (DMatrix::zeros(4, 3), "wrong width"),
        (DMatrix::zeros(0, 5), "empty"),
    ] {
        assert!(vae.elbo(&bad, &mut r).is_err(), "elbo, {what}");
        assert!(
            vae.log_likelihood(&bad, 3, &mut r).is_err(),
            "log_likelihood, {what}"
        );
        assert!(
            vae.clone()
                .fit(&bad, &config, &mut Adam::new(0.01).unwrap(), &mut r)
                .is_err(),
            "fit, {what}"
        );
    }
    assert!(matches!(
        vae.log_likelihood(&x, 0, &mut r),
        Err(Error::InvalidHyperParameter { .. })
    ));
    assert!(matches!(
        vae.gradient_with_noise(&x, &x, &DMatrix::zeros(3, 2)),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(
        vae.decode(&DMatrix::from_element(2, 2, f64::INFINITY))
            .is_err()
    );
    assert!(vae.sample(0, &mut r).is_err());
}

#[test]
fn parameters_have_pytorch_names() {
    let vae = model(Likelihood::Bernoulli, 30);
    assert_eq!(
        vae.parameter_names(),
        [
            "encoder.0.weight",
            "encoder.0.bias",
            "encoder.1.weight",
            "encoder.1.bias",
            "mean.weight",
            "mean.bias",
            "log_var.weight",
            "log_var.bias",
            "decoder.0.weight",
            "decoder.0.bias",
            "decoder.1.weight",
            "decoder.1.bias",
            "decoder.2.weight",
            "decoder.2.bias",
        ]
    );
    assert_eq!(vae.parameter_shapes()[4], [2, 3]);
    assert_eq!(vae.parameter_shapes()[12], [5, 4]);
}

#[test]
fn saved_parameters_load_into_a_model_built_alike_and_nothing_else() {
    let vae = model(Likelihood::Bernoulli, 31).with_beta(0.5).unwrap();
    let bytes = vae.parameters_to_safetensors().unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = file.names().into_iter().map(str::to_owned).collect();
    names.sort();
    let mut expected = vae.parameter_names();
    expected.sort();
    assert_eq!(names, expected);
    // PyTorch's [out, in] layout: the mean head maps 3 hidden units to 2 latent ones.
    assert_eq!(file.tensor("mean.weight").unwrap().shape(), [2, 3]);
    let mut other = model(Likelihood::Bernoulli, 32);
    let x = uniform(3, 5, 0.0, 1.0, &mut rng(33));
    assert_ne!(other.reconstruct(&x).unwrap(), vae.reconstruct(&x).unwrap());
    other
        .load_parameters_from_safetensors(&bytes, "vae.safetensors")
        .unwrap();
    assert_eq!(other.reconstruct(&x).unwrap(), vae.reconstruct(&x).unwrap());
    assert_eq!(other.encode(&x).unwrap(), vae.encode(&x).unwrap());
    // One flipped bit anywhere is refused, and the model is left as it was.
    let before = other
        .parameters()
        .iter()
        .map(|p| p.to_vec())
        .collect::<Vec<_>>();
    for position in [10, bytes.len() / 2, bytes.len() - 1] {
        let mut damaged = bytes.clone();
        damaged[position] ^= 0x10;
        assert!(
            other
                .load_parameters_from_safetensors(&damaged, "damaged")
                .is_err(),
            "bit flip at {position}"
        );
    }
    assert_eq!(
        other
            .parameters()
            .iter()
            .map(|p| p.to_vec())
            .collect::<Vec<_>>(),
        before
    );
    // A model of another shape, and an autoencoder's file, are refused.
    let mut g = rng(34);
    let mut wider = DenseVae::<f64>::dense(
        5,
        &[4, 3],
        3,
        Activation::Tanh,
        Likelihood::Bernoulli,
        &mut g,
    )
    .unwrap();
    assert!(
        wider
            .load_parameters_from_safetensors(&bytes, "vae")
            .is_err()
    );
    let autoencoder = autoencoders::DenseBuilder::new(5, 3)
        .build::<f64, _>(&mut g)
        .unwrap();
    let other_kind = autoencoder.parameters_to_safetensors().unwrap();
    assert!(matches!(
        other.load_parameters_from_safetensors(&other_kind, "ae"),
        Err(Error::ModelFile { .. })
    ));
}

#[test]
fn a_checkpointed_run_resumes_bit_for_bit_warm_up_and_noise_included() {
    use autoencoders::{Checkpoint, Checkpointing, TrainingRun, VaeCheckpoint};
    let dir = std::env::temp_dir().join(format!("autoencoders-vae-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.safetensors");
    let x = uniform(30, 5, 0.0, 1.0, &mut rng(40));
    let validation = uniform(10, 5, 0.0, 1.0, &mut rng(41));
    let build = || {
        model(Likelihood::Bernoulli, 42)
            .with_objective(VaeObjective::Iwae { samples: 3 })
            .unwrap()
            .with_warm_up(4)
            .with_weight_decay(1e-3)
            .unwrap()
            .with_corruption(Masking::new(0.2).unwrap())
    };
    let config = TrainingConfig::default().with_epochs(5).with_batch_size(8);
    let adam = || Adam::new(0.01).unwrap();

    let mut whole = build();
    let mut run = TrainingRun::new(config, adam(), rng(43));
    whole
        .fit_resumable(&x, Some(&validation), &mut run, &mut ())
        .unwrap();
    // fit_resumable without checkpoints is fit_with.
    let mut plain = build();
    let history = plain
        .fit_with(
            &x,
            Some(&validation),
            &config,
            &mut adam(),
            &mut rng(43),
            &mut (),
        )
        .unwrap();
    assert_eq!(plain.parameters(), whole.parameters());
    assert_eq!(&history, run.history());

    // Two epochs, a checkpoint, then the rest from the file.
    let mut first = build();
    let mut half = TrainingRun::new(config, adam(), rng(43))
        .with_epochs(2)
        .with_checkpoints(Checkpointing::new(&path));
    first
        .fit_resumable(&x, Some(&validation), &mut half, &mut ())
        .unwrap();
    let checkpoint = VaeCheckpoint::<f64>::load(&path).unwrap();
    assert_eq!(checkpoint.epochs_done(), 2);
    assert_eq!(checkpoint.history().epochs[1].kl_weight, 0.5);
    let mut resumed = build();
    let mut rest = checkpoint
        .resume(&mut resumed, adam())
        .unwrap()
        .with_epochs(5);
    resumed
        .fit_resumable(&x, Some(&validation), &mut rest, &mut ())
        .unwrap();
    let bits = |m: &Vae<_, _, _>| -> Vec<Vec<u64>> {
        m.parameters()
            .iter()
            .map(|p| p.iter().map(|v: &f64| v.to_bits()).collect())
            .collect()
    };
    assert_eq!(bits(&resumed), bits(&whole));
    assert_eq!(rest.history(), run.history());
    assert_eq!(rest.rng(), run.rng());

    // Another β, other data, or another kind of checkpoint is refused.
    let other = build().with_beta(0.5).unwrap();
    let err = VaeCheckpoint::<f64>::load(&path)
        .unwrap()
        .resume(&mut other.clone(), adam())
        .unwrap_err();
    assert!(matches!(err, Error::CheckpointMismatch { .. }), "{err:?}");
    let mut again = build();
    let mut rest = VaeCheckpoint::<f64>::load(&path)
        .unwrap()
        .resume(&mut again, adam())
        .unwrap();
    let err = again
        .fit_resumable(&validation, None, &mut rest, &mut ())
        .unwrap_err();
    assert!(matches!(err, Error::CheckpointMismatch { .. }), "{err:?}");
    assert!(matches!(
        Checkpoint::<f64>::load(&path),
        Err(Error::ModelFile { .. })
    ));
    assert!(matches!(
        autoencoders::ClassifierCheckpoint::<f64>::load(&path),
        Err(Error::ModelFile { .. })
    ));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn training_takes_the_steps_of_the_gradients_with_the_drawn_noise() {
    // Two batches of plain SGD by `fit` (no shuffling: the generator draws only the noise,
    // one (rows × latent) block per batch), against the same two steps taken by hand from
    // `gradient_with_noise` on fresh buffers: a buffer the training loop reused wrongly
    // between batches would show here.
    use autoencoders::{Scalar, Sgd};
    let x = uniform(12, 5, 0.0, 1.0, &mut rng(50));
    for objective in [VaeObjective::Elbo, VaeObjective::Iwae { samples: 3 }] {
        let start = model(Likelihood::Bernoulli, 51)
            .with_objective(objective)
            .unwrap();
        let k = match objective {
            VaeObjective::Iwae { samples } => samples,
            _ => 1,
        };
        let mut trained = start.clone();
        let config = TrainingConfig::default()
            .with_epochs(1)
            .with_batch_size(6)
            .with_shuffle(false);
        trained
            .fit(&x, &config, &mut Sgd::new(0.05).unwrap(), &mut rng(52))
            .unwrap();
        let mut by_hand = start.clone();
        let mut g = rng(52);
        for batch in 0..2 {
            let rows = x.rows(batch * 6, 6).into_owned();
            let mut eps = DMatrix::zeros(6 * k, 2);
            f64::fill_standard_normal(&mut g, eps.as_mut_slice());
            let (_, gradient) = by_hand.gradient_with_noise(&rows, &rows, &eps).unwrap();
            for (p, g) in by_hand.parameters_mut().into_iter().zip(&gradient) {
                for (p, g) in p.iter_mut().zip(g) {
                    *p -= 0.05 * g;
                }
            }
        }
        for (a, b) in trained.parameters().iter().zip(by_hand.parameters()) {
            for (a, b) in a.iter().zip(b) {
                assert!(
                    (a - b).abs() <= 1e-14 * a.abs().max(1.0),
                    "{objective:?}: {a} vs {b}"
                );
            }
        }
        assert_ne!(trained.parameters(), start.parameters());
    }
}
