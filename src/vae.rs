//! The variational autoencoder (Kingma & Welling 2014) and its importance-weighted bound
//! (Burda et al. 2016), built from the crate's parts: any [`Encoder`], two affine heads, any
//! [`Decoder`], trained by the one training loop.

use crate::activation::softplus_fast;
use crate::decoder::{as_tied, check_decoder_output};
use crate::encoder::check_code_pass;
use crate::linalg::resize;
use crate::source::{BatchSource, InMemory};
use crate::sums::SUM_BLOCK;
use crate::training::{Learner, check_source, run};
use crate::validate::{
    all_finite, check_data, check_nonzero, check_output_shapes, check_unit_interval,
};
use crate::{
    Activation, CodePass, Corruption, Decoder, DenseDecoder, DenseEncoder, Encoder, Error, History,
    Init, NoCorruption, Observer, Optimizer, Parameter, Precision, Regularizer, Result, Scalar,
    StackedDecoder, StackedEncoder, TensorKind, TrainingConfig, WeightDecay,
};
use nalgebra::{ComplexField, DMatrix};
use num_traits::{One, Zero};
use rand::{Rng, SeedableRng};
use std::f64::consts::PI;

/// The observation model `p(x|z)` of a [`Vae`], on the decoder's output.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Likelihood {
    /// Independent Bernoulli pixels whose logits are the decoder's pre-activation `a` (its
    /// activation must be the sigmoid, and the data lie in [0, 1]):
    /// `−log p(x|z) = Σ_i softplus(a_i) − x_i·a_i`, the cross-entropy computed stably from the
    /// logits.
    Bernoulli,
    /// Independent Gaussians of mean `x̂ = g(z)` (the decoder's output) and a fixed variance
    /// `s²`: `−log p(x|z) = Σ_i (x_i − x̂_i)² / (2s²) + (d/2)·ln(2π s²)`.
    Gaussian {
        /// `s²`, finite and > 0.
        variance: f64,
    },
}

/// What a [`Vae`] minimises per sample, averaged over the batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VaeObjective {
    /// `−ELBO = E_q[−log p(x|z)] + KL(q(z|x) ‖ N(0, I))`, the expectation by one sample of `z`
    /// and the KL in closed form, `½ Σ_j (μ_j² + σ_j² − ln σ_j² − 1)`, summed over the latent
    /// units.
    Elbo,
    /// The negative importance-weighted bound with `samples` draws of `z` per input,
    /// `−log (1/k) Σ_s p(x|z_s) p(z_s) / q(z_s|x)`; one sample is the ELBO with a sampled KL.
    Iwae {
        /// `k`, from 1 to [`MAX_IMPORTANCE_SAMPLES`].
        samples: usize,
    },
}

impl VaeObjective {
    /// Draws of `z` per input in one evaluation.
    fn samples(self) -> usize {
        match self {
            VaeObjective::Elbo => 1,
            VaeObjective::Iwae { samples } => samples,
        }
    }
}

/// The most importance samples per input of [`VaeObjective::Iwae`].
pub const MAX_IMPORTANCE_SAMPLES: usize = 1 << 16;

/// Decoder rows (inputs × samples) evaluated at once by the per-sample estimates, which bounds
/// their memory whatever the number of samples.
const ESTIMATE_ROWS: usize = 4096;

/// The generator of the validation noise: the same draws after every epoch, so that the
/// validation losses of two epochs differ by the parameters alone.
const VALIDATION_SEED: u64 = 0x5641_4556_414c_4944;

/// A variational autoencoder: an encoder `h = f(x)` (any [`Encoder`]), two affine heads giving
/// the mean `μ = h·W_μᵀ + b_μ` and the log-variance `ln σ² = h·W_ℓᵀ + b_ℓ` of a diagonal
/// Gaussian `q(z|x)`, the reparameterised sample `z = μ + σ ⊙ ε` with `ε ~ N(0, I)` drawn from
/// the caller's generator, and a decoder (any [`Decoder`]) giving `p(x|z)` through a
/// [`Likelihood`].
///
/// The objective is [`VaeObjective::Elbo`] (the default) or the importance-weighted bound, in
/// nats per sample, averaged over the batch. A weight `β` multiplies the KL term (β-VAE; in the
/// IWAE bound it multiplies `ln p(z) − ln q(z|x)`), and a linear warm-up raises it from `β/N`
/// in the first epoch to `β` in epoch `N` (counted from 1). A corruption of the encoder's input
/// gives a denoising VAE (the likelihood is of the clean `x`); weight decay covers every weight
/// matrix.
///
/// Parameters are named as PyTorch would: `encoder.…` (e.g. `encoder.0.weight` for a stack's
/// first layer), `mean.weight`, `mean.bias`, `log_var.weight`, `log_var.bias`, `decoder.…`.
///
/// ```
/// use autoencoders::{Activation, Adam, DenseVae, Likelihood, TrainingConfig};
/// use nalgebra::DMatrix;
/// use rand::{SeedableRng, rngs::ChaCha8Rng};
///
/// let mut rng = ChaCha8Rng::seed_from_u64(0);
/// let x = DMatrix::from_fn(64, 6, |i, j| ((i + j) % 2) as f64);
/// let mut vae = DenseVae::<f64>::dense(6, &[8], 2, Activation::Relu, Likelihood::Bernoulli, &mut rng)?;
/// let before: f64 = vae.elbo(&x, &mut rng)?.iter().sum::<f64>() / 64.0;
/// let config = TrainingConfig::default().with_epochs(30).with_batch_size(16);
/// vae.fit(&x, &config, &mut Adam::new(0.01)?, &mut rng)?;
/// let after: f64 = vae.elbo(&x, &mut rng)?.iter().sum::<f64>() / 64.0;
/// assert!(after > before, "the ELBO rises: {before} → {after}");
/// // log p(x) ≥ IWAE bound ≥ ELBO, on average.
/// let ll: f64 = vae.log_likelihood(&x, 500, &mut rng)?.iter().sum::<f64>() / 64.0;
/// assert!(ll >= after && ll < 0.0);
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Vae<E: Encoder, D: Decoder<E::Scalar>, C = NoCorruption> {
    encoder: E,
    mean: DenseEncoder<E::Scalar>,
    log_var: DenseEncoder<E::Scalar>,
    decoder: D,
    likelihood: Likelihood,
    objective: VaeObjective,
    beta: f64,
    warm_up: usize,
    decay: Option<WeightDecay>,
    corruption: C,
}

/// A variational autoencoder of dense layers: stacked hidden layers, the two heads, and a
/// decoder that mirrors the hidden sizes.
pub type DenseVae<T> = Vae<StackedEncoder<T>, StackedDecoder<T>>;

impl<T: Scalar> DenseVae<T> {
    /// The usual dense VAE: hidden layers of the given sizes and activation from the input,
    /// the heads to `latent` units, then the mirrored hidden sizes back to the input; the last
    /// decoder layer is sigmoid for [`Likelihood::Bernoulli`] (its pre-activation the logits)
    /// and linear for [`Likelihood::Gaussian`]. Weights are drawn by [`Init::GlorotUniform`]
    /// from `rng`, encoder first, then the mean and log-variance heads, then the decoder.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for no hidden layers or a zero size; those of
    /// [`Vae::new`].
    pub fn dense<R: Rng + ?Sized>(
        input_dim: usize,
        hidden: &[usize],
        latent: usize,
        activation: Activation,
        likelihood: Likelihood,
        rng: &mut R,
    ) -> Result<Self> {
        check_nonzero(hidden.len(), "number of hidden layers")?;
        let init = Init::GlorotUniform;
        let mut sizes = vec![input_dim];
        sizes.extend_from_slice(hidden);
        let encoders = sizes
            .windows(2)
            .map(|pair| DenseEncoder::new(pair[0], pair[1], activation, init, rng))
            .collect::<Result<Vec<_>>>()?;
        let top = sizes[sizes.len() - 1];
        let mean = DenseEncoder::new(top, latent, Activation::Linear, init, rng)?;
        let log_var = DenseEncoder::new(top, latent, Activation::Linear, init, rng)?;
        let output = match likelihood {
            Likelihood::Bernoulli => Activation::Sigmoid,
            Likelihood::Gaussian { .. } => Activation::Linear,
        };
        let mut decoders = Vec::with_capacity(hidden.len() + 1);
        let mut from = latent;
        for (l, &to) in sizes.iter().rev().enumerate() {
            let act = if l == hidden.len() {
                output
            } else {
                activation
            };
            decoders.push(DenseDecoder::new(from, to, act, init, rng)?);
            from = to;
        }
        Vae::new(
            StackedEncoder::new(encoders)?,
            mean,
            log_var,
            StackedDecoder::new(decoders)?,
            likelihood,
        )
    }
}

impl<E: Encoder, D: Decoder<E::Scalar>> Vae<E, D> {
    /// A variational autoencoder from its parts, with the [`VaeObjective::Elbo`], `β = 1`, no
    /// warm-up, no weight decay and no corruption.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] when the parts do not chain (`encoder` → both heads →
    /// `decoder` → the encoder's input size); [`Error::IncompatibleActivation`] for a head that
    /// is not linear, or a Bernoulli likelihood on a decoder that does not end in the sigmoid;
    /// [`Error::MissingCodeWeights`] for a tied decoder; [`Error::InvalidHyperParameter`] for a
    /// Gaussian variance that is not finite and > 0.
    pub fn new(
        encoder: E,
        mean: DenseEncoder<E::Scalar>,
        log_var: DenseEncoder<E::Scalar>,
        decoder: D,
        likelihood: Likelihood,
    ) -> Result<Self> {
        let mismatch = |what, expected, found| {
            if expected == found {
                Ok(())
            } else {
                Err(Error::DimensionMismatch {
                    what,
                    expected,
                    found,
                })
            }
        };
        mismatch(
            "input size of the mean head",
            encoder.code_dim(),
            mean.input_dim(),
        )?;
        mismatch(
            "input size of the log-variance head",
            encoder.code_dim(),
            log_var.input_dim(),
        )?;
        mismatch(
            "latent size of the log-variance head",
            mean.code_dim(),
            log_var.code_dim(),
        )?;
        mismatch("decoder code_dim", mean.code_dim(), decoder.code_dim())?;
        mismatch(
            "decoder output_dim",
            encoder.input_dim(),
            decoder.output_dim(),
        )?;
        for (component, head) in [
            ("the mean head", &mean),
            ("the log-variance head", &log_var),
        ] {
            let found = head.code_layer().activation;
            if found != Activation::Linear {
                return Err(Error::IncompatibleActivation {
                    component,
                    expected: "a linear (affine) activation",
                    found,
                });
            }
        }
        if as_tied(&decoder).is_some() {
            return Err(Error::MissingCodeWeights {
                component: "a variational autoencoder's decoder (untie it first)",
            });
        }
        check_likelihood(likelihood, decoder.activation())?;
        Ok(Self {
            encoder,
            mean,
            log_var,
            decoder,
            likelihood,
            objective: VaeObjective::Elbo,
            beta: 1.0,
            warm_up: 0,
            decay: None,
            corruption: NoCorruption,
        })
    }
}

fn check_likelihood(likelihood: Likelihood, decoder: Activation) -> Result<()> {
    match likelihood {
        Likelihood::Bernoulli if decoder != Activation::Sigmoid => {
            Err(Error::IncompatibleActivation {
                component: "the Bernoulli likelihood (its logits are the decoder's pre-activation)",
                expected: "a sigmoid decoder output",
                found: decoder,
            })
        }
        Likelihood::Gaussian { variance } if !(variance.is_finite() && variance > 0.0) => {
            Err(Error::InvalidHyperParameter {
                name: "variance",
                value: variance,
                expected: "a finite value > 0",
            })
        }
        _ => Ok(()),
    }
}

impl<E: Encoder, D: Decoder<E::Scalar>, C> Vae<E, D, C> {
    /// With the objective `objective`.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] for an IWAE bound of 0 or more than
    /// [`MAX_IMPORTANCE_SAMPLES`] samples.
    pub fn with_objective(mut self, objective: VaeObjective) -> Result<Self> {
        if let VaeObjective::Iwae { samples } = objective
            && !(1..=MAX_IMPORTANCE_SAMPLES).contains(&samples)
        {
            return Err(Error::InvalidHyperParameter {
                name: "importance samples",
                value: samples as f64,
                expected: "an integer from 1 to 65536",
            });
        }
        self.objective = objective;
        Ok(self)
    }

    /// With the weight `β` of the KL term.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] unless `β` is finite and ≥ 0.
    pub fn with_beta(mut self, beta: f64) -> Result<Self> {
        if !(beta.is_finite() && beta >= 0.0) {
            return Err(Error::InvalidHyperParameter {
                name: "beta",
                value: beta,
                expected: "a finite value ≥ 0",
            });
        }
        self.beta = beta;
        Ok(self)
    }

    /// With a linear KL warm-up over the first `epochs` epochs: epoch `e` (from 0) weighs the
    /// KL term by `β·min(1, (e + 1)/epochs)`; 0 (the default) weighs it by `β` throughout.
    pub fn with_warm_up(mut self, epochs: usize) -> Self {
        self.warm_up = epochs;
        self
    }

    /// With weight decay `(λ/2)·Σ w²` over every weight matrix (biases excluded); 0 removes it.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] unless `λ` is finite and ≥ 0.
    pub fn with_weight_decay(mut self, weight: f64) -> Result<Self> {
        self.decay = if weight == 0.0 {
            None
        } else {
            Some(WeightDecay::new(weight)?)
        };
        Ok(self)
    }

    /// With a corruption of the encoder's input (a denoising VAE); the likelihood stays that
    /// of the clean data.
    pub fn with_corruption<C2: Corruption<E::Scalar>>(self, corruption: C2) -> Vae<E, D, C2> {
        Vae {
            encoder: self.encoder,
            mean: self.mean,
            log_var: self.log_var,
            decoder: self.decoder,
            likelihood: self.likelihood,
            objective: self.objective,
            beta: self.beta,
            warm_up: self.warm_up,
            decay: self.decay,
            corruption,
        }
    }

    /// The encoder.
    pub fn encoder(&self) -> &E {
        &self.encoder
    }

    /// The mean head, `μ = h·W_μᵀ + b_μ`.
    pub fn mean_head(&self) -> &DenseEncoder<E::Scalar> {
        &self.mean
    }

    /// The log-variance head, `ln σ² = h·W_ℓᵀ + b_ℓ`.
    pub fn log_var_head(&self) -> &DenseEncoder<E::Scalar> {
        &self.log_var
    }

    /// The decoder.
    pub fn decoder(&self) -> &D {
        &self.decoder
    }

    /// The corruption of the encoder's input.
    pub fn corruption(&self) -> &C {
        &self.corruption
    }

    /// The observation model.
    pub fn likelihood(&self) -> Likelihood {
        self.likelihood
    }

    /// What training minimises.
    pub fn objective(&self) -> VaeObjective {
        self.objective
    }

    /// The weight of the KL term.
    pub fn beta(&self) -> f64 {
        self.beta
    }

    /// The epochs of KL warm-up.
    pub fn warm_up(&self) -> usize {
        self.warm_up
    }

    /// The weight decay's `λ`, 0 without.
    pub fn weight_decay(&self) -> f64 {
        self.decay.map_or(0.0, |d| d.weight())
    }

    /// Features of the data.
    pub fn input_dim(&self) -> usize {
        self.encoder.input_dim()
    }

    /// Units of the latent code `z`.
    pub fn latent_dim(&self) -> usize {
        self.mean.code_dim()
    }

    /// The KL weight of epoch `epoch` (from 0): `β·min(1, (epoch + 1)/warm_up)`.
    pub fn kl_weight(&self, epoch: usize) -> f64 {
        if self.warm_up == 0 {
            self.beta
        } else {
            self.beta * ((epoch as f64 + 1.0) / self.warm_up as f64).min(1.0)
        }
    }

    /// Every parameter tensor as a flat slice: the encoder's, the mean head's, the
    /// log-variance head's, then the decoder's.
    pub fn parameters(&self) -> Vec<&[E::Scalar]> {
        let mut p = self.encoder.parameters();
        p.extend(self.mean.parameters());
        p.extend(self.log_var.parameters());
        p.extend(self.decoder.parameters());
        p
    }

    /// [`parameters`](Self::parameters), mutable.
    pub fn parameters_mut(&mut self) -> Vec<&mut [E::Scalar]> {
        let mut p = self.encoder.parameters_mut();
        p.extend(self.mean.parameters_mut());
        p.extend(self.log_var.parameters_mut());
        p.extend(self.decoder.parameters_mut());
        p
    }

    /// The names of [`parameters`](Self::parameters): `encoder.…`, `mean.weight`,
    /// `mean.bias`, `log_var.weight`, `log_var.bias`, `decoder.…`.
    pub fn parameter_names(&self) -> Vec<String> {
        let prefixed = |prefix: &str, names: Vec<String>| {
            names
                .into_iter()
                .map(|n| format!("{prefix}.{n}"))
                .collect::<Vec<_>>()
        };
        let mut names = prefixed("encoder", self.encoder.parameter_names());
        names.extend(prefixed("mean", self.mean.parameter_names()));
        names.extend(prefixed("log_var", self.log_var.parameter_names()));
        names.extend(prefixed("decoder", self.decoder.parameter_names()));
        names
    }

    /// The kinds of [`parameters`](Self::parameters).
    pub fn parameter_kinds(&self) -> Vec<TensorKind> {
        let mut kinds = self.encoder.parameter_kinds();
        kinds.extend(self.mean.parameter_kinds());
        kinds.extend(self.log_var.parameter_kinds());
        kinds.extend(self.decoder.parameter_kinds());
        kinds
    }

    /// The shapes of [`parameters`](Self::parameters) (two-dimensional tensors `[out, in]`).
    pub fn parameter_shapes(&self) -> Vec<Vec<usize>> {
        let mut shapes = self.encoder.parameter_shapes();
        shapes.extend(self.mean.parameter_shapes());
        shapes.extend(self.log_var.parameter_shapes());
        shapes.extend(self.decoder.parameter_shapes());
        shapes
    }

    /// The mean and the log-variance of `q(z|x)` for a batch.
    ///
    /// # Shapes
    /// `x` is `n × input_dim`; both results are `n × latent_dim`.
    ///
    /// # Errors
    /// [`Error::EmptyData`], [`Error::DimensionMismatch`] or [`Error::NonFiniteData`] for bad
    /// data; [`Error::MisshapenOutput`] from a user's encoder.
    pub fn encode(&self, x: &DMatrix<E::Scalar>) -> Result<Posterior<E::Scalar>> {
        check_data(x, self.input_dim(), "data to encode")?;
        let mut ws = Workspace::new(self);
        self.heads_forward(x, &mut ws)?;
        Ok(Posterior {
            mean: ws.mean_pass.code,
            log_var: ws.log_var_pass.code,
        })
    }

    /// The mean of `p(x|z)` for a batch of latent codes: the decoder's output (for the
    /// Bernoulli likelihood, the pixel probabilities).
    ///
    /// # Shapes
    /// `z` is `n × latent_dim`; returns `n × input_dim`.
    ///
    /// # Errors
    /// As for [`encode`](Self::encode), for `z`.
    pub fn decode(&self, z: &DMatrix<E::Scalar>) -> Result<DMatrix<E::Scalar>> {
        check_data(z, self.latent_dim(), "latent codes to decode")?;
        let (mut pre, mut out) = (DMatrix::zeros(0, 0), DMatrix::zeros(0, 0));
        self.decoder
            .forward(z, &mut D::Trace::default(), &mut pre, &mut out)?;
        check_decoder_output(&self.decoder, z.nrows(), &pre, &out)?;
        Ok(out)
    }

    /// `decode(μ(x))`: the reconstruction at the posterior mean.
    ///
    /// # Errors
    /// As for [`encode`](Self::encode).
    pub fn reconstruct(&self, x: &DMatrix<E::Scalar>) -> Result<DMatrix<E::Scalar>> {
        self.decode(&self.encode(x)?.mean)
    }

    /// `n` samples of the model: `z ~ N(0, I)` from `rng`, decoded (the mean of `p(x|z)`).
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for `n = 0`; [`Error::TooLarge`] for more than the
    /// [`limits`](crate::limits) allow; those of [`decode`](Self::decode).
    pub fn sample<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Result<DMatrix<E::Scalar>> {
        check_nonzero(n, "number of samples")?;
        crate::limits::check_tensor("the samples", n, self.input_dim())?;
        let mut z = DMatrix::zeros(n, self.latent_dim());
        E::Scalar::fill_standard_normal(rng, z.as_mut_slice());
        self.decode(&z)
    }

    /// The ELBO of each sample, `E_q[log p(x|z)] − KL(q(z|x) ‖ N(0, I))` in nats (a negative
    /// number), with one draw of `z` from `rng` and `β = 1`.
    ///
    /// # Shapes
    /// `x` is `n × input_dim`; returns `n` values.
    ///
    /// # Errors
    /// Those of [`encode`](Self::encode); [`Error::DataOutOfRange`] for data outside [0, 1]
    /// under the Bernoulli likelihood.
    pub fn elbo<R: Rng + ?Sized>(&self, x: &DMatrix<E::Scalar>, rng: &mut R) -> Result<Vec<f64>> {
        self.check(x, "data")?;
        let mut ws = Workspace::new(self);
        let mut out = Vec::with_capacity(x.nrows());
        let rows = ESTIMATE_ROWS.min(x.nrows());
        for start in (0..x.nrows()).step_by(rows) {
            let batch = x.rows(start, rows.min(x.nrows() - start)).into_owned();
            self.draw_noise(batch.nrows(), 1, rng, &mut ws);
            self.forward_samples(&batch, &batch, 1, &mut ws)?;
            out.extend(ws.rec.iter().zip(&ws.kl).map(|(rec, kl)| -(rec + kl)));
        }
        Ok(out)
    }

    /// The importance-weighted bound of each sample with `k` draws of `z` from `rng`,
    /// `log (1/k) Σ_s p(x|z_s) p(z_s) / q(z_s|x)` in nats, `β = 1`.
    ///
    /// # Errors
    /// As for [`elbo`](Self::elbo); [`Error::InvalidHyperParameter`] for `k = 0`.
    pub fn iwae<R: Rng + ?Sized>(
        &self,
        x: &DMatrix<E::Scalar>,
        k: usize,
        rng: &mut R,
    ) -> Result<Vec<f64>> {
        self.log_mean_weight(x, k, rng, "importance samples")
    }

    /// The importance-sampled estimate of each sample's log-likelihood,
    /// `log p(x) ≈ log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x)` with `z_k ~ q(z|x)` drawn from
    /// `rng`, accumulated in `f64` with a streaming log-sum-exp whatever the scalar type, in
    /// batches of at most 4,096 decoder rows so that memory stays bounded for any `K` (5,000 is
    /// the usual choice). The same estimator as [`iwae`](Self::iwae), under another name: with
    /// `K` samples it is the IWAE bound of `K`, which rises to `log p(x)` as `K` grows.
    ///
    /// # Errors
    /// As for [`iwae`](Self::iwae).
    pub fn log_likelihood<R: Rng + ?Sized>(
        &self,
        x: &DMatrix<E::Scalar>,
        samples: usize,
        rng: &mut R,
    ) -> Result<Vec<f64>> {
        self.log_mean_weight(x, samples, rng, "log-likelihood samples")
    }

    /// `log (1/k) Σ_s w_s` per sample, by chunks of samples and rows.
    fn log_mean_weight<R: Rng + ?Sized>(
        &self,
        x: &DMatrix<E::Scalar>,
        k: usize,
        rng: &mut R,
        name: &'static str,
    ) -> Result<Vec<f64>> {
        if k == 0 {
            return Err(Error::InvalidHyperParameter {
                name,
                value: 0.0,
                expected: "at least one sample",
            });
        }
        self.check(x, "data")?;
        let chunk = k.min(ESTIMATE_ROWS);
        let rows = (ESTIMATE_ROWS / chunk).max(1);
        let mut ws = Workspace::new(self);
        let mut out = Vec::with_capacity(x.nrows());
        for start in (0..x.nrows()).step_by(rows) {
            let batch = x.rows(start, rows.min(x.nrows() - start)).into_owned();
            let n = batch.nrows();
            // Streaming log-sum-exp per sample: the largest log-weight so far and the sum of
            // exp(log w − largest).
            let mut largest = vec![f64::NEG_INFINITY; n];
            let mut sums = vec![0.0_f64; n];
            let mut done = 0;
            while done < k {
                let m = chunk.min(k - done);
                self.draw_noise(n, m, rng, &mut ws);
                self.forward_samples(&batch, &batch, m, &mut ws)?;
                for i in 0..n {
                    for s in 0..m {
                        let r = i * m + s;
                        let log_w = -ws.rec[r] + ws.log_ratio[r];
                        if log_w > largest[i] {
                            sums[i] = sums[i] * (largest[i] - log_w).exp() + 1.0;
                            largest[i] = log_w;
                        } else {
                            sums[i] += (log_w - largest[i]).exp();
                        }
                    }
                }
                done += m;
            }
            let log_k = (k as f64).ln();
            out.extend(
                largest
                    .iter()
                    .zip(&sums)
                    .map(|(&top, &sum)| top + sum.ln() - log_k),
            );
        }
        Ok(out)
    }

    /// The training objective of a batch and its gradient, with the noise `ε` given instead of
    /// drawn (for checking the gradient with `ε` held fixed): `noise` has one row per input and
    /// draw, input `i`'s draws in rows `i·k … i·k + k − 1` (`k` the objective's samples), and
    /// `input` is what the encoder sees (`x` itself, or a corrupted copy). The KL weight is
    /// `β` (no warm-up). Returns the objective (weight decay included) and one gradient per
    /// tensor of [`parameters`](Self::parameters).
    ///
    /// # Errors
    /// Those of [`elbo`](Self::elbo), for `x` and `input`; [`Error::DimensionMismatch`] for
    /// `noise` of the wrong shape.
    pub fn gradient_with_noise(
        &self,
        x: &DMatrix<E::Scalar>,
        input: &DMatrix<E::Scalar>,
        noise: &DMatrix<E::Scalar>,
    ) -> Result<(f64, Vec<Vec<E::Scalar>>)> {
        let mut ws = self.noise_workspace(x, input, noise)?;
        let terms = self.evaluate(x, input, self.beta, &mut ws, true)?;
        Ok((
            terms.objective(),
            ws.gradients().map(<[_]>::to_vec).collect(),
        ))
    }

    /// The value of [`gradient_with_noise`](Self::gradient_with_noise) alone.
    ///
    /// # Errors
    /// As there.
    pub fn objective_with_noise(
        &self,
        x: &DMatrix<E::Scalar>,
        input: &DMatrix<E::Scalar>,
        noise: &DMatrix<E::Scalar>,
    ) -> Result<f64> {
        let mut ws = self.noise_workspace(x, input, noise)?;
        Ok(self
            .evaluate(x, input, self.beta, &mut ws, false)?
            .objective())
    }

    fn noise_workspace(
        &self,
        x: &DMatrix<E::Scalar>,
        input: &DMatrix<E::Scalar>,
        noise: &DMatrix<E::Scalar>,
    ) -> Result<Workspace<E, D>> {
        self.check(x, "data")?;
        check_data(input, self.input_dim(), "encoder input")?;
        let k = self.objective.samples();
        if input.nrows() != x.nrows() {
            return Err(Error::DimensionMismatch {
                what: "rows of the encoder input (those of x)",
                expected: x.nrows(),
                found: input.nrows(),
            });
        }
        if noise.shape() != (x.nrows() * k, self.latent_dim()) {
            return Err(Error::DimensionMismatch {
                what: "entries of the noise ((rows of x · samples) × latent_dim)",
                expected: x.nrows() * k * self.latent_dim(),
                found: noise.len(),
            });
        }
        check_data(noise, self.latent_dim(), "noise")?;
        let mut ws = Workspace::new(self);
        ws.noise.clone_from(noise);
        Ok(ws)
    }

    /// Shapes and values of data for this model.
    fn check(&self, x: &DMatrix<E::Scalar>, what: &'static str) -> Result<()> {
        check_data(x, self.input_dim(), what)?;
        if self.likelihood == Likelihood::Bernoulli {
            // The Bernoulli likelihood is the cross-entropy from the logits: the same data.
            check_unit_interval(x, what)?;
        }
        Ok(())
    }

    /// `k` draws of `ε ~ N(0, I)` per input of an `n`-row batch, into `ws.noise`.
    fn draw_noise<R: Rng + ?Sized>(
        &self,
        n: usize,
        k: usize,
        rng: &mut R,
        ws: &mut Workspace<E, D>,
    ) {
        resize(&mut ws.noise, n * k, self.latent_dim());
        E::Scalar::fill_standard_normal(rng, ws.noise.as_mut_slice());
    }

    /// The encoder and the heads on `input`, into `ws`.
    fn heads_forward(&self, input: &DMatrix<E::Scalar>, ws: &mut Workspace<E, D>) -> Result<()> {
        self.encoder.forward(input, &mut ws.trace, &mut ws.pass);
        check_code_pass(&self.encoder, input.nrows(), &ws.pass)?;
        self.mean.forward(&ws.pass.code, &mut (), &mut ws.mean_pass);
        self.log_var
            .forward(&ws.pass.code, &mut (), &mut ws.log_var_pass);
        Ok(())
    }

    /// Forward pass of `k` draws per input (the noise already in `ws.noise`): per decoder row
    /// `r = i·k + s`, `ws.rec[r] = −log p(x_i|z_r)` and `ws.log_ratio[r] = log p(z_r) −
    /// log q(z_r|x_i)`; per input, `ws.kl[i]` in closed form; `ws.sigma`, `ws.z` and the
    /// decoder's pass.
    fn forward_samples(
        &self,
        x: &DMatrix<E::Scalar>,
        input: &DMatrix<E::Scalar>,
        k: usize,
        ws: &mut Workspace<E, D>,
    ) -> Result<()> {
        type T<E> = <E as Encoder>::Scalar;
        let (n, latent) = (x.nrows(), self.latent_dim());
        self.heads_forward(input, ws)?;
        let (mean, log_var) = (&ws.mean_pass.code, &ws.log_var_pass.code);
        let half = T::<E>::cast(0.5);
        resize(&mut ws.sigma, n, latent);
        for (s, &l) in ws.sigma.iter_mut().zip(log_var.iter()) {
            *s = (l * half).exp();
        }
        resize(&mut ws.z, n * k, latent);
        for j in 0..latent {
            for i in 0..n {
                for s in 0..k {
                    let r = i * k + s;
                    ws.z[(r, j)] = mean[(i, j)] + ws.sigma[(i, j)] * ws.noise[(r, j)];
                }
            }
        }
        ws.kl.clear();
        ws.kl.resize(n, 0.0);
        ws.log_ratio.clear();
        ws.log_ratio.resize(n * k, 0.0);
        for j in 0..latent {
            for i in 0..n {
                let (m, l) = (mean[(i, j)].as_f64(), log_var[(i, j)].as_f64());
                ws.kl[i] += 0.5 * (m * m + l.exp() - l - 1.0);
                for s in 0..k {
                    let r = i * k + s;
                    let (z, e) = (ws.z[(r, j)].as_f64(), ws.noise[(r, j)].as_f64());
                    // log N(z; 0, I) − log N(z; μ, σ²), the 2π terms cancelling.
                    ws.log_ratio[r] += 0.5 * (e * e + l - z * z);
                }
            }
        }
        self.decoder
            .forward(&ws.z, &mut ws.decoder_trace, &mut ws.pre, &mut ws.x_hat)?;
        check_decoder_output(&self.decoder, n * k, &ws.pre, &ws.x_hat)?;
        ws.rec.clear();
        ws.rec.resize(n * k, 0.0);
        let d = x.ncols();
        if k > 1 {
            repeat_rows(x, k, &mut ws.targets);
        }
        let targets = if k > 1 { &ws.targets } else { x };
        match self.likelihood {
            Likelihood::Bernoulli => {
                add_row_sums(
                    targets.as_slice(),
                    ws.pre.as_slice(),
                    &mut ws.rec,
                    &mut ws.partial,
                    |x, a| softplus_fast(a) - x * a,
                );
            }
            Likelihood::Gaussian { variance } => {
                let constant = 0.5 * d as f64 * (2.0 * PI * variance).ln();
                add_row_sums(
                    targets.as_slice(),
                    ws.x_hat.as_slice(),
                    &mut ws.rec,
                    &mut ws.partial,
                    |x, y| (y - x) * (y - x),
                );
                ws.rec
                    .iter_mut()
                    .for_each(|v| *v = *v / (2.0 * variance) + constant);
            }
        }
        Ok(())
    }

    /// The objective of a batch with KL weight `kl_weight` (the noise in `ws.noise`) and, with
    /// `backward`, every gradient into `ws`.
    fn evaluate(
        &self,
        x: &DMatrix<E::Scalar>,
        input: &DMatrix<E::Scalar>,
        kl_weight: f64,
        ws: &mut Workspace<E, D>,
        backward: bool,
    ) -> Result<Terms> {
        type T<E> = <E as Encoder>::Scalar;
        let k = self.objective.samples();
        let (n, latent, d) = (x.nrows(), self.latent_dim(), x.ncols());
        self.forward_samples(x, input, k, ws)?;
        let nf = n as f64;
        let reconstruction = ws.rec.iter().sum::<f64>() / (nf * k as f64);
        let kl = ws.kl.iter().sum::<f64>() / nf;
        // Per decoder row, ∂J/∂(−log p(x|z_r)): 1/n for the ELBO, w̃_r/n for the IWAE bound.
        ws.row_weight.clear();
        let objective = match self.objective {
            VaeObjective::Elbo => {
                ws.row_weight.resize(n, 1.0 / nf);
                reconstruction + kl_weight * kl
            }
            VaeObjective::Iwae { samples } => {
                let epsilon = match E::Scalar::PRECISION {
                    Precision::Single => f64::from(f32::EPSILON),
                    Precision::Double => f64::EPSILON,
                };
                let negligible = epsilon.powi(4);
                let mut total = 0.0;
                ws.row_weight.resize(n * k, 0.0);
                for i in 0..n {
                    let log_w = |s: usize| -ws.rec[i * k + s] + kl_weight * ws.log_ratio[i * k + s];
                    let top = (0..k).map(log_w).fold(f64::NEG_INFINITY, f64::max);
                    let sum: f64 = (0..k).map(|s| (log_w(s) - top).exp()).sum();
                    total += top + sum.ln() - (samples as f64).ln();
                    for s in 0..k {
                        // A draw whose normalised weight is below ε⁴ adds less than the
                        // rounding of every sum it joins; dropping it keeps its gradients
                        // out of the subnormal numbers, on which the products were 3× slower.
                        let weight = (log_w(s) - top).exp() / sum;
                        ws.row_weight[i * k + s] = if weight < negligible {
                            0.0
                        } else {
                            weight / nf
                        };
                    }
                }
                -total / nf
            }
        };
        if !backward {
            return Ok(Terms {
                reconstruction,
                kl,
                bound: objective,
                decay: self.decay(ws, false).as_f64(),
            });
        }

        // ∂J/∂a of the decoder rows.
        resize(&mut ws.grad_pre, n * k, d);
        let cast = T::<E>::cast;
        // ∂(−log p)/∂x̂ = x̂ − x: for the Bernoulli likelihood with respect to the logits
        // directly; for the Gaussian divided by s², then through the decoder's activation.
        let scale = match self.likelihood {
            Likelihood::Gaussian { variance } => 1.0 / variance,
            Likelihood::Bernoulli => 1.0,
        };
        ws.row_scale.clear();
        ws.row_scale
            .extend(ws.row_weight.iter().map(|&w| cast(w * scale)));
        let weights = &ws.row_scale;
        let targets = if k > 1 { &ws.targets } else { x };
        let nk = n * k;
        crate::simd::wide(
            #[inline(always)]
            || {
                let columns = targets.as_slice().chunks_exact(nk);
                let outputs = ws.x_hat.as_slice().chunks_exact(nk);
                let grads = ws.grad_pre.as_mut_slice().chunks_exact_mut(nk);
                for ((column, outputs), grads) in columns.zip(outputs).zip(grads) {
                    for (((g, &y), &x), &w) in
                        grads.iter_mut().zip(outputs).zip(column).zip(weights)
                    {
                        *g = w * (y - x);
                    }
                }
            },
        );
        if let Likelihood::Gaussian { .. } = self.likelihood {
            self.decoder.activation().scale_by_derivative(
                ws.pre.as_slice(),
                ws.x_hat.as_slice(),
                ws.grad_pre.as_mut_slice(),
            );
        }
        self.decoder.backward(
            &ws.z,
            &mut ws.decoder_trace,
            &ws.grad_pre,
            &mut ws.grad_decoder,
            &mut ws.grad_z,
        )?;
        check_output_shapes(
            "decoder",
            std::any::type_name::<D>(),
            (n * k, latent),
            &[("gradient", ws.grad_z.shape())],
        )?;

        // Through z = μ + σ ⊙ ε to the heads, with the KL's own terms.
        let (mean, log_var) = (&ws.mean_pass.code, &ws.log_var_pass.code);
        resize(&mut ws.grad_mean, n, latent);
        resize(&mut ws.grad_log_var, n, latent);
        let (half, w) = (cast(0.5), cast(kl_weight));
        let one = T::<E>::one();
        for j in 0..latent {
            for i in 0..n {
                let (mut g_mean, mut g_log_var) = (T::<E>::zero(), T::<E>::zero());
                let sigma = ws.sigma[(i, j)];
                for s in 0..k {
                    let r = i * k + s;
                    let mut g = ws.grad_z[(r, j)];
                    if let VaeObjective::Iwae { .. } = self.objective {
                        // −w̃·∂(β·log p(z))/∂z, and −w̃·∂(−β·log q)/∂ln σ² = −w̃·β/2.
                        let c = cast(ws.row_weight[r]);
                        g += c * w * ws.z[(r, j)];
                        g_log_var -= c * w * half;
                    }
                    g_mean += g;
                    g_log_var += g * ws.noise[(r, j)] * sigma * half;
                }
                if self.objective == VaeObjective::Elbo {
                    let c = cast(1.0 / nf) * w;
                    g_mean += c * mean[(i, j)];
                    g_log_var += c * half * (log_var[(i, j)].exp() - one);
                }
                ws.grad_mean[(i, j)] = g_mean;
                ws.grad_log_var[(i, j)] = g_log_var;
            }
        }
        let codes = &ws.pass.code;
        self.mean.backward(
            codes,
            &mut (),
            &ws.mean_pass,
            &ws.grad_mean,
            None,
            &mut ws.grad_mean_head,
        );
        self.log_var.backward(
            codes,
            &mut (),
            &ws.log_var_pass,
            &ws.grad_log_var,
            None,
            &mut ws.grad_log_var_head,
        );
        self.mean
            .backward_input(codes, &(), &ws.mean_pass, &ws.grad_mean, &mut ws.grad_h)?;
        self.log_var.backward_input(
            codes,
            &(),
            &ws.log_var_pass,
            &ws.grad_log_var,
            &mut ws.grad_h_log_var,
        )?;
        ws.grad_h += &ws.grad_h_log_var;
        self.encoder.code_layer().activation.scale_by_derivative(
            ws.pass.pre_activation.as_slice(),
            ws.pass.code.as_slice(),
            ws.grad_h.as_mut_slice(),
        );
        self.encoder.backward(
            input,
            &mut ws.trace,
            &ws.pass,
            &ws.grad_h,
            None,
            &mut ws.grad_encoder,
        );
        Ok(Terms {
            reconstruction,
            kl,
            bound: objective,
            decay: self.decay(ws, true).as_f64(),
        })
    }

    /// The weight decay over every tensor, its gradient added to the workspace's with
    /// `backward`.
    fn decay(&self, ws: &mut Workspace<E, D>, backward: bool) -> E::Scalar {
        let Some(decay) = &self.decay else {
            return E::Scalar::zero();
        };
        let Workspace {
            names,
            kinds,
            grad_encoder,
            grad_mean_head,
            grad_log_var_head,
            grad_decoder,
            ..
        } = ws;
        let values = self.parameters();
        let tensors: Vec<Parameter<'_, E::Scalar>> = values
            .iter()
            .enumerate()
            .map(|(t, v)| Parameter::new(&names[t], kinds[t], v))
            .collect();
        if !backward {
            return decay.parameter_penalty(&tensors, None);
        }
        let mut gradients = grad_encoder.parameters_mut();
        gradients.extend(grad_mean_head.parameters_mut());
        gradients.extend(grad_log_var_head.parameters_mut());
        gradients.extend(grad_decoder.parameters_mut());
        decay.parameter_penalty(&tensors, Some(&mut gradients))
    }
}

/// The diagonal Gaussian `q(z|x)` of a batch, as [`Vae::encode`] gives it.
#[derive(Clone, Debug, PartialEq)]
pub struct Posterior<T: Scalar> {
    /// `μ`, `n × latent_dim`.
    pub mean: DMatrix<T>,
    /// `ln σ²`, `n × latent_dim`.
    pub log_var: DMatrix<T>,
}

/// Adds `Σ_j term(x_rj, v_rj)` to `sums[r]` for every row `r` of the column-major slices `x`
/// and `values` (of `sums.len()` rows). Each row's terms are added in column order in the
/// scalar type, [`SUM_BLOCK`] columns at a time (in `partial`), the blocks' sums in `f64`: the
/// grouping of the crate's other sums, and independent of the vector width.
#[inline]
fn add_row_sums<T: Scalar>(
    x: &[T],
    values: &[T],
    sums: &mut [f64],
    partial: &mut Vec<T>,
    term: impl Fn(T, T) -> T,
) {
    let rows = sums.len().max(1);
    partial.clear();
    partial.resize(rows, T::zero());
    crate::simd::wide(
        #[inline(always)]
        || {
            let blocks = x
                .chunks(rows * SUM_BLOCK)
                .zip(values.chunks(rows * SUM_BLOCK));
            for (columns, values) in blocks {
                partial.fill(T::zero());
                for (column, values) in columns.chunks_exact(rows).zip(values.chunks_exact(rows)) {
                    for ((sum, &x), &v) in partial.iter_mut().zip(column).zip(values) {
                        *sum += term(x, v);
                    }
                }
                for (sum, &p) in sums.iter_mut().zip(partial.iter()) {
                    *sum += p.as_f64();
                }
            }
        },
    );
}

/// `x` with each row repeated `k` times in a row (row `i·k + s` is row `i`), into `out`.
fn repeat_rows<T: Scalar>(x: &DMatrix<T>, k: usize, out: &mut DMatrix<T>) {
    let n = x.nrows();
    resize(out, n * k, x.ncols());
    for (column, repeated) in x
        .as_slice()
        .chunks_exact(n.max(1))
        .zip(out.as_mut_slice().chunks_exact_mut((n * k).max(1)))
    {
        for (&v, copies) in column.iter().zip(repeated.chunks_exact_mut(k)) {
            copies.fill(v);
        }
    }
}

/// What one batch's objective is made of, per sample.
#[derive(Clone, Copy, Debug)]
struct Terms {
    /// Mean `−log p(x|z)` over the inputs and draws.
    reconstruction: f64,
    /// Mean closed-form KL.
    kl: f64,
    /// The negative bound (−ELBO or −IWAE) with the KL weight used.
    bound: f64,
    /// The weight decay.
    decay: f64,
}

impl Terms {
    /// The minimised objective: the negative bound plus the weight decay.
    fn objective(&self) -> f64 {
        self.bound + self.decay
    }
}

/// Buffers of one evaluation, reused across batches.
struct Workspace<E: Encoder, D: Decoder<E::Scalar>> {
    trace: E::Trace,
    pass: CodePass<E::Scalar>,
    mean_pass: CodePass<E::Scalar>,
    log_var_pass: CodePass<E::Scalar>,
    noise: DMatrix<E::Scalar>,
    sigma: DMatrix<E::Scalar>,
    z: DMatrix<E::Scalar>,
    decoder_trace: D::Trace,
    pre: DMatrix<E::Scalar>,
    x_hat: DMatrix<E::Scalar>,
    rec: Vec<f64>,
    partial: Vec<E::Scalar>,
    /// The data with each row repeated once per draw (when there is more than one).
    targets: DMatrix<E::Scalar>,
    log_ratio: Vec<f64>,
    kl: Vec<f64>,
    row_weight: Vec<f64>,
    /// `row_weight` in the scalar type, with the likelihood's scale.
    row_scale: Vec<E::Scalar>,
    grad_pre: DMatrix<E::Scalar>,
    grad_z: DMatrix<E::Scalar>,
    grad_mean: DMatrix<E::Scalar>,
    grad_log_var: DMatrix<E::Scalar>,
    grad_h: DMatrix<E::Scalar>,
    grad_h_log_var: DMatrix<E::Scalar>,
    grad_encoder: E,
    grad_mean_head: DenseEncoder<E::Scalar>,
    grad_log_var_head: DenseEncoder<E::Scalar>,
    grad_decoder: D,
    names: Vec<String>,
    kinds: Vec<TensorKind>,
}

impl<E: Encoder, D: Decoder<E::Scalar>> Workspace<E, D> {
    fn new<C>(model: &Vae<E, D, C>) -> Self {
        let empty = || DMatrix::zeros(0, 0);
        Self {
            trace: E::Trace::default(),
            pass: CodePass::default(),
            mean_pass: CodePass::default(),
            log_var_pass: CodePass::default(),
            noise: empty(),
            sigma: empty(),
            z: empty(),
            decoder_trace: D::Trace::default(),
            pre: empty(),
            x_hat: empty(),
            rec: Vec::new(),
            partial: Vec::new(),
            targets: empty(),
            log_ratio: Vec::new(),
            kl: Vec::new(),
            row_weight: Vec::new(),
            row_scale: Vec::new(),
            grad_pre: empty(),
            grad_z: empty(),
            grad_mean: empty(),
            grad_log_var: empty(),
            grad_h: empty(),
            grad_h_log_var: empty(),
            grad_encoder: model.encoder.clone(),
            grad_mean_head: model.mean.clone(),
            grad_log_var_head: model.log_var.clone(),
            grad_decoder: model.decoder.clone(),
            names: model.parameter_names(),
            kinds: model.parameter_kinds(),
        }
    }

    /// The gradients, in the model's parameter order.
    fn gradients(&self) -> impl Iterator<Item = &[E::Scalar]> {
        self.grad_encoder
            .parameters()
            .into_iter()
            .chain(self.grad_mean_head.parameters())
            .chain(self.grad_log_var_head.parameters())
            .chain(self.grad_decoder.parameters())
    }

    /// The gradients, mutable, in the same order.
    fn gradients_mut(&mut self) -> Vec<&mut [E::Scalar]> {
        let mut all = self.grad_encoder.parameters_mut();
        all.extend(self.grad_mean_head.parameters_mut());
        all.extend(self.grad_log_var_head.parameters_mut());
        all.extend(self.grad_decoder.parameters_mut());
        all
    }
}

/// What one epoch of training a [`Vae`] did.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct VaeReport {
    /// The epoch, from 0.
    pub epoch: usize,
    /// Mean `−log p(x|z)` per sample over the epoch's batches (nats), as measured during
    /// training.
    pub reconstruction: f64,
    /// Mean closed-form `KL(q(z|x) ‖ N(0, I))` per sample over the epoch's batches.
    pub kl: f64,
    /// The KL weight of the epoch (`β` after warm-up).
    pub kl_weight: f64,
    /// The minimised objective per sample over the epoch's batches, weight decay included.
    pub objective: f64,
    /// `−ELBO` (with [`VaeObjective::Elbo`]) or the negative IWAE bound on the validation data
    /// after the epoch, with `β = 1`, no corruption and no weight decay; the noise is drawn
    /// from a generator of fixed seed, the same draws every epoch.
    pub validation_loss: Option<f64>,
}

impl<E, D, C> Vae<E, D, C>
where
    E: Encoder,
    D: Decoder<E::Scalar>,
    C: Corruption<E::Scalar>,
{
    /// Trains on `x`; see [`fit_with`](Self::fit_with).
    ///
    /// # Errors
    /// As [`fit_with`](Self::fit_with).
    pub fn fit<O, G>(
        &mut self,
        x: &DMatrix<E::Scalar>,
        config: &TrainingConfig,
        optimizer: &mut O,
        rng: &mut G,
    ) -> Result<History<VaeReport>>
    where
        O: Optimizer<E::Scalar>,
        G: Rng + ?Sized,
    {
        self.fit_with(x, None, config, optimizer, rng, &mut ())
    }

    /// Trains on `x` by minibatch gradient descent with the crate's one training loop,
    /// reporting every epoch to `observer`, with the validation loss on `validation`.
    ///
    /// Each epoch shuffles the samples (when configured), then for every batch corrupts the
    /// encoder's input (when a corruption is set), draws `ε`, computes the objective and its
    /// gradient, and takes one optimiser step. All randomness comes from `rng`, in that order,
    /// so a seed fixes the run bit for bit.
    ///
    /// # Errors
    /// Before any work: bad data (shapes, NaN, values outside [0, 1] under the Bernoulli
    /// likelihood) and an invalid `config`. During training: [`Error::Diverged`] when the
    /// objective or a gradient becomes NaN or ∞ (e.g. a log-variance whose exponential
    /// overflows), the model holding what it held after the last good step.
    pub fn fit_with<O, G, B>(
        &mut self,
        x: &DMatrix<E::Scalar>,
        validation: Option<&DMatrix<E::Scalar>>,
        config: &TrainingConfig,
        optimizer: &mut O,
        rng: &mut G,
        observer: &mut B,
    ) -> Result<History<VaeReport>>
    where
        O: Optimizer<E::Scalar>,
        G: Rng + ?Sized,
        B: Observer<VaeReport> + ?Sized,
    {
        self.check_training(x, validation, config)?;
        let mut history = History::new(config);
        self.run_epochs(
            &mut InMemory::new(x),
            None,
            validation,
            config,
            optimizer,
            rng,
            observer,
            &mut history,
            |_, _, _, _| Ok(()),
        )?;
        Ok(history)
    }

    /// Trains on the samples of `source` (e.g. a file streamed from disk) as
    /// [`fit_with`](Self::fit_with) trains on a matrix: the same draws in the same order, so
    /// [`InMemory`] over `x`, or a streaming source in its in-memory order, gives `fit_with`'s
    /// bits. Each batch is checked before the model sees it; the validation data stay in
    /// memory.
    ///
    /// # Errors
    /// As [`fit_with`](Self::fit_with); [`Error::EmptyData`] or [`Error::DimensionMismatch`]
    /// for a source without samples or with the wrong number of features; the source's own
    /// errors; [`Error::SourceMismatch`] for a source that breaks the contract of
    /// [`BatchSource`].
    pub fn fit_source<S, O, G, B>(
        &mut self,
        source: &mut S,
        validation: Option<&DMatrix<E::Scalar>>,
        config: &TrainingConfig,
        optimizer: &mut O,
        rng: &mut G,
        observer: &mut B,
    ) -> Result<History<VaeReport>>
    where
        S: BatchSource<E::Scalar> + ?Sized,
        O: Optimizer<E::Scalar>,
        G: Rng + ?Sized,
        B: Observer<VaeReport> + ?Sized,
    {
        config.validate()?;
        check_source(source, self.input_dim(), "training source")?;
        if let Some(v) = validation {
            self.check(v, "validation data")?;
        }
        config.check_validation(validation.is_some())?;
        let mut history = History::new(config);
        self.run_epochs(
            source,
            None,
            validation,
            config,
            optimizer,
            rng,
            observer,
            &mut history,
            |_, _, _, _| Ok(()),
        )?;
        Ok(history)
    }

    /// Trains on the samples of `source` data-parallel, as
    /// [`Autoencoder::fit_parallel`](crate::Autoencoder::fit_parallel) does: `config` shards
    /// the batches, each shard draws its corruption and its reparameterisation noise from its
    /// own generator, and any number of processes gives the bits of
    /// [`fit_source`](Self::fit_source) with the same `config` in one.
    ///
    /// # Errors
    /// As [`fit_source`](Self::fit_source); [`Error::InvalidHyperParameter`] for a `config`
    /// without shards or a communicator whose rank is not below its size.
    #[allow(clippy::too_many_arguments)]
    pub fn fit_parallel<S, O, G, B>(
        &mut self,
        source: &mut S,
        validation: Option<&DMatrix<E::Scalar>>,
        config: &TrainingConfig,
        communicator: &dyn crate::parallel::Communicator,
        optimizer: &mut O,
        rng: &mut G,
        observer: &mut B,
    ) -> Result<History<VaeReport>>
    where
        S: BatchSource<E::Scalar> + ?Sized,
        O: Optimizer<E::Scalar>,
        G: Rng + ?Sized,
        B: Observer<VaeReport> + ?Sized,
    {
        config.validate()?;
        crate::training::check_communicator(communicator, config)?;
        check_source(source, self.input_dim(), "training source")?;
        if let Some(v) = validation {
            self.check(v, "validation data")?;
        }
        config.check_validation(validation.is_some())?;
        let mut history = History::new(config);
        self.run_epochs(
            source,
            Some(communicator),
            validation,
            config,
            optimizer,
            rng,
            observer,
            &mut history,
            |_, _, _, _| Ok(()),
        )?;
        Ok(history)
    }

    /// Everything `fit` checks before any work.
    pub(crate) fn check_training(
        &self,
        x: &DMatrix<E::Scalar>,
        validation: Option<&DMatrix<E::Scalar>>,
        config: &TrainingConfig,
    ) -> Result<()> {
        config.validate()?;
        self.check(x, "training data")?;
        if let Some(v) = validation {
            self.check(v, "validation data")?;
        }
        config.check_validation(validation.is_some())
    }

    /// The epoch loop of the one training loop for this model, from epoch
    /// `history.epochs.len()` (where the KL warm-up goes on from); the caller has run
    /// [`check_training`](Self::check_training).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run_epochs<S, O, G, B>(
        &mut self,
        source: &mut S,
        communicator: Option<&dyn crate::parallel::Communicator>,
        validation: Option<&DMatrix<E::Scalar>>,
        config: &TrainingConfig,
        optimizer: &mut O,
        rng: &mut G,
        observer: &mut B,
        history: &mut History<VaeReport>,
        mut after_epoch: impl FnMut(&Self, &O, &G, &History<VaeReport>) -> Result<()>,
    ) -> Result<()>
    where
        S: BatchSource<E::Scalar> + ?Sized,
        O: Optimizer<E::Scalar>,
        G: Rng + ?Sized,
        B: Observer<VaeReport> + ?Sized,
    {
        let mut learner = VaeLearner {
            validation: validation.map(|v| (v, Workspace::new(self))),
            epoch: history.epochs.len(),
            model: self,
            corrupted: DMatrix::zeros(0, 0),
        };
        run(
            &mut learner,
            source,
            communicator,
            config,
            optimizer,
            rng,
            observer,
            history,
            |learner, optimizer, rng, history| after_epoch(learner.model, optimizer, rng, history),
        )
    }
}

/// Validation samples and the buffers to evaluate them.
type Validation<'d, E, D> = (&'d DMatrix<<E as Encoder>::Scalar>, Workspace<E, D>);

/// A VAE, its data and its buffers, for the training loop.
struct VaeLearner<'m, 'd, E: Encoder, D: Decoder<E::Scalar>, C> {
    model: &'m mut Vae<E, D, C>,
    validation: Option<Validation<'d, E, D>>,
    corrupted: DMatrix<E::Scalar>,
    /// The epoch under way, for the KL warm-up.
    epoch: usize,
}

/// Sums over an epoch's batches, weighted by batch size.
#[derive(Default)]
struct VaeTotals {
    reconstruction: f64,
    kl: f64,
    objective: f64,
}

impl crate::parallel::ShardTotals for VaeTotals {
    const LEN: usize = 3;
    fn write(&self, out: &mut [f64]) {
        out[..3].copy_from_slice(&[self.reconstruction, self.kl, self.objective]);
    }
    fn add(&mut self, values: &[f64]) {
        self.reconstruction += values[0];
        self.kl += values[1];
        self.objective += values[2];
    }
}

impl<E, D, C> Learner<E::Scalar> for VaeLearner<'_, '_, E, D, C>
where
    E: Encoder,
    D: Decoder<E::Scalar>,
    C: Corruption<E::Scalar>,
{
    type Workspace = Workspace<E, D>;
    type Report = VaeReport;
    type Totals = VaeTotals;

    fn workspace(&self) -> Workspace<E, D> {
        Workspace::new(self.model)
    }

    fn check_batch(&self, x: &DMatrix<E::Scalar>, _labels: &[usize]) -> Result<()> {
        self.model.check(x, "a batch of the training source")
    }

    fn batch<G: Rng + ?Sized>(
        &mut self,
        x: &DMatrix<E::Scalar>,
        _labels: &[usize],
        ws: &mut Workspace<E, D>,
        rng: &mut G,
        totals: &mut VaeTotals,
    ) -> Result<bool> {
        let input = if self.model.corruption.is_identity() {
            x
        } else {
            resize(&mut self.corrupted, x.nrows(), x.ncols());
            self.model
                .corruption
                .corrupt_into(x, &mut self.corrupted, rng);
            &self.corrupted
        };
        let k = self.model.objective.samples();
        self.model.draw_noise(x.nrows(), k, rng, ws);
        let weight = self.model.kl_weight(self.epoch);
        let terms = self.model.evaluate(x, input, weight, ws, true)?;
        let n = x.nrows() as f64;
        totals.reconstruction += terms.reconstruction * n;
        totals.kl += terms.kl * n;
        totals.objective += terms.objective() * n;
        Ok(terms.objective().is_finite())
    }

    fn step<O: Optimizer<E::Scalar> + ?Sized>(
        &mut self,
        ws: &Workspace<E, D>,
        optimizer: &mut O,
    ) -> std::result::Result<(), bool> {
        let gradients: Vec<&[E::Scalar]> = ws.gradients().collect();
        if optimizer.try_step(&mut self.model.parameters_mut(), &gradients) {
            Ok(())
        } else {
            Err(gradients.iter().all(|g| all_finite(g)))
        }
    }

    fn gradients_mut<'w>(&self, ws: &'w mut Workspace<E, D>) -> Vec<&'w mut [E::Scalar]> {
        ws.gradients_mut()
    }

    fn report(&mut self, epoch: usize, totals: &VaeTotals, seen: usize) -> Result<VaeReport> {
        let validation_loss = match &mut self.validation {
            Some((v, ws)) => {
                let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(VALIDATION_SEED);
                let k = self.model.objective.samples();
                self.model.draw_noise(v.nrows(), k, &mut rng, ws);
                Some(self.model.evaluate(v, v, 1.0, ws, false)?.bound)
            }
            None => None,
        };
        let kl_weight = self.model.kl_weight(epoch);
        self.epoch = epoch + 1;
        let seen = seen.max(1) as f64;
        Ok(VaeReport {
            epoch,
            reconstruction: totals.reconstruction / seen,
            kl: totals.kl / seen,
            kl_weight,
            objective: totals.objective / seen,
            validation_loss,
        })
    }

    fn validation_loss(report: &VaeReport) -> Option<f64> {
        report.validation_loss
    }

    fn parameters(&self) -> Vec<&[E::Scalar]> {
        self.model.parameters()
    }

    fn parameters_mut(&mut self) -> Vec<&mut [E::Scalar]> {
        self.model.parameters_mut()
    }
}
