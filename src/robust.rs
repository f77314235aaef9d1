//! The robust deep autoencoder (Zhou & Paffenroth, 2017): training on data with outliers by
//! splitting it as `X = L + S`, where the autoencoder learns the clean part `L` and the sparse
//! part `S` takes what the model should not learn.
//!
//! [`RobustAutoencoder`] is a training strategy over any [`Autoencoder`]. It alternates two steps
//! from `S = 0`:
//! 1. train the model on `L = X − S` (one [`fit_with`](Autoencoder::fit_with) with the inner
//!    [`TrainingConfig`]; the optimiser's state carries over from one outer iteration to the
//!    next), and reconstruct `L_D = g(f(L))`;
//! 2. shrink the residual: `S = prox(X − L_D)`, the exact minimiser of
//!    `½‖X − L_D − S‖²_F + λ Ω(S)`, with `Ω` one of the [`Shrinkage`] norms: `ℓ1` for scattered
//!    outlying entries (salt-and-pepper pixels), `ℓ2,1` over samples for whole outlying samples,
//!    `ℓ2,1` over features for corrupted features.
//!
//! After each outer iteration it reports ([`RobustReport`]) the paper's two convergence
//! measures, `c1 = ‖X − L_D − S‖_F / ‖X‖_F` and `c2 = ‖L_S − L_D − S‖_F / ‖X‖_F` (where `L_S` is
//! the previous iteration's `L_D + S`), and stops when either falls below the tolerance, when the
//! observer asks, or after the last iteration ([`RobustStop`]). With the `ℓ2,1` norm over
//! samples, the row norms of `S` ([`RobustFit::outlier_scores`]) say how much of each training
//! sample the model was spared from learning: the training data's own outlier scores.
//!
//! The minimisation of `J(L) + λΩ(S)` over the split is the paper's; with the squared error as
//! the model's loss, the shrinkage step is exact for the whole objective, and with another loss
//! (cross-entropy, correntropy) it is the paper's heuristic. The shrunk target `L` lies
//! element-wise between `X` and `L_D`, so it stays in `[0, 1]` when both do, as the cross-entropy
//! loss requires.
//!
//! ```
//! use autoencoders::robust::{RobustAutoencoder, RobustStop, Shrinkage};
//! use autoencoders::{Adam, DenseBuilder, TrainingConfig};
//! use autoencoders::rand::{SeedableRng, rngs::ChaCha8Rng};
//! use nalgebra::DMatrix;
//!
//! // Samples on a line, and one far off it (row 7).
//! let mut x = DMatrix::from_fn(40, 4, |i, j| ((i % 10) as f64 / 10.0) * (1.0 + j as f64) / 4.0);
//! x.row_mut(7).copy_from_slice(&[0.9, 0.1, 0.9, 0.1]);
//! let mut rng = ChaCha8Rng::seed_from_u64(0);
//! let mut model = DenseBuilder::new(4, 1).build::<f64, _>(&mut rng)?;
//! let robust = RobustAutoencoder::new(0.2)?
//!     .with_shrinkage(Shrinkage::Samples)
//!     .with_iterations(5)
//!     .with_inner(TrainingConfig::default().with_epochs(40).with_batch_size(10));
//! let fit = robust.fit(&mut model, &x, &mut Adam::new(0.02)?, &mut rng, &mut ())?;
//! let scores = fit.outlier_scores();
//! let worst = (0..40).max_by(|&a, &b| scores[a].total_cmp(&scores[b])).unwrap();
//! assert_eq!(worst, 7);
//! assert_eq!(fit.reports.len(), 5);
//! assert_eq!(fit.stop, RobustStop::Iterations);
//! # Ok::<(), autoencoders::Error>(())
//! ```

use crate::validate::{check_finite, check_nonzero, check_param};
use crate::{
    Autoencoder, Corruption, Decoder, Encoder, EpochReport, Error, History, Loss, Observer,
    Optimizer, Regularizer, Result, Scalar, TrainingConfig,
};
use nalgebra::DMatrix;
use rand::Rng;
use std::ops::ControlFlow;

/// The norm `Ω` whose proximal step shrinks the outlier part `S`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Shrinkage {
    /// `Ω(S) = Σ_ij |s_ij|` (ℓ1): each entry is soft-thresholded,
    /// `s = sign(r) · max(|r| − λ, 0)`. For scattered outlying entries.
    Entries,
    /// `Ω(S) = Σ_i ‖s_i‖₂` over the rows (ℓ2,1 with a sample as a group): each sample's
    /// residual is shrunk towards 0 as a whole, `s_i = r_i · max(1 − λ/‖r_i‖₂, 0)`. For whole
    /// outlying samples.
    Samples,
    /// `Ω(S) = Σ_j ‖s_{·j}‖₂` over the columns (ℓ2,1 with a feature as a group). For features
    /// that are corrupted across samples.
    Features,
}

impl Shrinkage {
    const ALL: [Shrinkage; 3] = [Shrinkage::Entries, Shrinkage::Samples, Shrinkage::Features];

    /// The name written in checkpoints: `entries`, `samples` or `features`.
    pub fn name(self) -> &'static str {
        match self {
            Shrinkage::Entries => "entries",
            Shrinkage::Samples => "samples",
            Shrinkage::Features => "features",
        }
    }

    /// The shrinkage of that [`name`](Self::name), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// The groups of `s` a shrinkage works on, with the squared norm of each (in `f64`).
fn group_norms<T: Scalar>(shrinkage: Shrinkage, s: &DMatrix<T>) -> Vec<f64> {
    let square = |v: &T| {
        let v = v.as_f64();
        v * v
    };
    match shrinkage {
        Shrinkage::Entries => s.iter().map(|v| v.as_f64().abs()).collect(),
        Shrinkage::Samples => (0..s.nrows())
            .map(|i| s.row(i).iter().map(square).sum::<f64>().sqrt())
            .collect(),
        Shrinkage::Features => (0..s.ncols())
            .map(|j| s.column(j).iter().map(square).sum::<f64>().sqrt())
            .collect(),
    }
}

/// `Ω(s)`, the norm of [`Shrinkage`] (unweighted), accumulated in `f64`.
///
/// ```
/// use autoencoders::robust::{Shrinkage, penalty};
/// use nalgebra::DMatrix;
/// let s = DMatrix::from_row_slice(2, 2, &[3.0, -4.0, 0.0, 1.0]);
/// assert_eq!(penalty(Shrinkage::Entries, &s), 8.0);
/// assert_eq!(penalty(Shrinkage::Samples, &s), 6.0);
/// assert_eq!(penalty(Shrinkage::Features, &s), 3.0 + 17f64.sqrt());
/// ```
pub fn penalty<T: Scalar>(shrinkage: Shrinkage, s: &DMatrix<T>) -> f64 {
    group_norms(shrinkage, s).iter().sum()
}

/// The proximal step of `λΩ`: the `S` that minimises `½‖S − R‖²_F + λ Ω(S)` for the
/// `residual` `R`, exactly (soft thresholding of entries, or of the groups' norms).
///
/// # Errors
/// [`Error::InvalidHyperParameter`] for a `lambda` that is not finite and `≥ 0`;
/// [`Error::NonFiniteData`] naming the first NaN or ±∞ of `residual`.
///
/// ```
/// use autoencoders::robust::{Shrinkage, shrink};
/// use nalgebra::DMatrix;
/// let r = DMatrix::from_row_slice(2, 2, &[3.0, -4.0, 0.5, 0.0]);
/// let s = shrink(Shrinkage::Entries, 1.0, &r)?;
/// assert_eq!(s, DMatrix::from_row_slice(2, 2, &[2.0, -3.0, 0.0, 0.0]));
/// // The first row's norm 5 becomes 4; the second's, 0.5, is below λ and becomes 0.
/// let s = shrink(Shrinkage::Samples, 1.0, &r)?;
/// assert!((s - DMatrix::from_row_slice(2, 2, &[2.4, -3.2, 0.0, 0.0])).norm() < 1e-15);
/// # Ok::<(), autoencoders::Error>(())
/// ```
pub fn shrink<T: Scalar>(
    shrinkage: Shrinkage,
    lambda: f64,
    residual: &DMatrix<T>,
) -> Result<DMatrix<T>> {
    check_param("lambda", lambda, lambda >= 0.0, "a finite value >= 0")?;
    check_finite(residual, "residual")?;
    Ok(shrink_unchecked(shrinkage, lambda, residual))
}

fn shrink_unchecked<T: Scalar>(shrinkage: Shrinkage, lambda: f64, r: &DMatrix<T>) -> DMatrix<T> {
    // The factor that scales a group of norm `norm`: `max(1 − λ/norm, 0)`.
    let factor = |norm: f64| {
        if norm > lambda {
            T::cast(1.0 - lambda / norm)
        } else {
            T::zero()
        }
    };
    match shrinkage {
        Shrinkage::Entries => {
            let l = T::cast(lambda);
            r.map(|v| {
                if v > l {
                    v - l
                } else if v < -l {
                    v + l
                } else {
                    T::zero()
                }
            })
        }
        Shrinkage::Samples | Shrinkage::Features => {
            let factors: Vec<T> = group_norms(shrinkage, r).into_iter().map(factor).collect();
            let by_row = shrinkage == Shrinkage::Samples;
            DMatrix::from_fn(r.nrows(), r.ncols(), |i, j| {
                r[(i, j)] * factors[if by_row { i } else { j }]
            })
        }
    }
}

/// The robust deep autoencoder as a training strategy over any [`Autoencoder`]; see the
/// [module](self).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RobustAutoencoder {
    lambda: f64,
    shrinkage: Shrinkage,
    iterations: usize,
    inner: TrainingConfig,
    tolerance: f64,
}

impl RobustAutoencoder {
    /// The strategy with weight `lambda` on `Ω(S)`, shrinking samples
    /// ([`Shrinkage::Samples`]), 10 outer iterations of 5 epochs each (the inner
    /// [`TrainingConfig::default`] with 5 epochs), tolerance `1e-7`.
    ///
    /// `lambda` is in the units of the residual: with [`Shrinkage::Entries`] a residual entry
    /// below `λ` is the model's to fit; with [`Shrinkage::Samples`] a sample whose residual norm
    /// `‖x − x̂‖₂` is below `λ` is.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] unless `lambda` is finite and `> 0`.
    pub fn new(lambda: f64) -> Result<Self> {
        check_param("lambda", lambda, lambda > 0.0, "a finite value > 0")?;
        Ok(Self {
            lambda,
            shrinkage: Shrinkage::Samples,
            iterations: 10,
            inner: TrainingConfig::default().with_epochs(5),
            tolerance: 1e-7,
        })
    }

    /// The same strategy with another norm on `S`.
    pub fn with_shrinkage(mut self, shrinkage: Shrinkage) -> Self {
        self.shrinkage = shrinkage;
        self
    }

    /// The same strategy with `iterations` outer iterations (at least 1, checked by
    /// [`validate`](Self::validate)).
    pub fn with_iterations(mut self, iterations: usize) -> Self {
        self.iterations = iterations;
        self
    }

    /// The same strategy training the model with `inner` in each outer iteration.
    pub fn with_inner(mut self, inner: TrainingConfig) -> Self {
        self.inner = inner;
        self
    }

    /// The same strategy stopping when `c1` or `c2` falls below `tolerance` (finite and
    /// `≥ 0`, checked by [`validate`](Self::validate); 0 never stops early).
    pub fn with_tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The weight `λ`.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// The norm on `S`.
    pub fn shrinkage(&self) -> Shrinkage {
        self.shrinkage
    }

    /// Outer iterations.
    pub fn iterations(&self) -> usize {
        self.iterations
    }

    /// The training of each outer iteration.
    pub fn inner(&self) -> &TrainingConfig {
        &self.inner
    }

    /// The tolerance on `c1` and `c2`.
    pub fn tolerance(&self) -> f64 {
        self.tolerance
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for 0 iterations or 0 inner epochs;
    /// [`Error::InvalidHyperParameter`] for a
    /// tolerance that is not finite and `≥ 0`; the inner configuration's errors
    /// ([`TrainingConfig::validate`]), and [`Error::NoValidationData`] for an inner
    /// configuration with early stopping, which needs validation data the strategy does not
    /// have.
    pub fn validate(&self) -> Result<()> {
        check_nonzero(self.iterations, "robust autoencoder iterations")?;
        check_nonzero(self.inner.epochs(), "robust autoencoder inner epochs")?;
        check_param(
            "tolerance",
            self.tolerance,
            self.tolerance >= 0.0,
            "a finite value >= 0",
        )?;
        self.inner.validate()?;
        self.inner.check_validation(false)
    }

    /// Trains `model` on `x` by the alternating scheme of the [module](self), from `S = 0`,
    /// reporting every outer iteration to `observer` (`&mut ()`, or a closure returning
    /// `ControlFlow`). All randomness comes from `rng` (the inner training's shuffles and
    /// corruptions, in order), so a seed fixes the run bit for bit. For a run that writes
    /// checkpoints and resumes, see
    /// [`fit_resumable`](RobustAutoencoder::fit_resumable).
    ///
    /// # Shapes
    /// `x` is `n × input_dim`.
    ///
    /// # Errors
    /// Before any work: [`validate`](Self::validate)'s errors and whatever the model's
    /// [`check`](Autoencoder::check) finds in `x`. During training: the inner training's errors
    /// ([`Error::Diverged`], …); the model then holds what the failed inner training left.
    pub fn fit<E, D, R, C, L, O, G, B>(
        &self,
        model: &mut Autoencoder<E, D, R, C, L>,
        x: &DMatrix<E::Scalar>,
        optimizer: &mut O,
        rng: &mut G,
        observer: &mut B,
    ) -> Result<RobustFit<E::Scalar>>
    where
        E: Encoder,
        D: Decoder<E::Scalar>,
        R: Regularizer<E::Scalar>,
        C: Corruption<E::Scalar>,
        L: Loss<E::Scalar>,
        O: Optimizer<E::Scalar>,
        G: Rng + ?Sized,
        B: Observer<RobustReport> + ?Sized,
    {
        self.validate()?;
        model.check(x, "training data")?;
        self.run(
            model,
            x,
            optimizer,
            rng,
            observer,
            RobustState::start(x),
            |_, _, _, _, _, _| Ok(()),
        )
    }

    /// The outer loop from `state`; `after` sees the state after each iteration, why the run
    /// stops there (if it does), the inner training's history, the optimiser and the
    /// generator.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run<E, D, R, C, L, O, G, B, F>(
        &self,
        model: &mut Autoencoder<E, D, R, C, L>,
        x: &DMatrix<E::Scalar>,
        optimizer: &mut O,
        rng: &mut G,
        observer: &mut B,
        mut state: RobustState<E::Scalar>,
        mut after: F,
    ) -> Result<RobustFit<E::Scalar>>
    where
        E: Encoder,
        D: Decoder<E::Scalar>,
        R: Regularizer<E::Scalar>,
        C: Corruption<E::Scalar>,
        L: Loss<E::Scalar>,
        O: Optimizer<E::Scalar>,
        G: Rng + ?Sized,
        B: Observer<RobustReport> + ?Sized,
        F: FnMut(
            &Autoencoder<E, D, R, C, L>,
            &RobustState<E::Scalar>,
            Option<RobustStop>,
            &History,
            &O,
            &G,
        ) -> Result<()>,
    {
        let scale = frobenius(x.iter().map(|v| v.as_f64()));
        // ‖X‖_F = 0 (all-zero data): the measures are taken unscaled.
        let scale = if scale > 0.0 { scale } else { 1.0 };
        if let Some(last) = state.reports.last()
            && self.converged(last)
        {
            return Ok(state.finish(RobustStop::Converged));
        }
        while state.reports.len() < self.iterations {
            let iteration = state.reports.len();
            let history =
                model.fit_with(&state.clean, None, &self.inner, optimizer, rng, &mut ())?;
            let inner = history.epochs.last().copied().ok_or(Error::EmptyData {
                what: "the inner training's epochs",
            })?;
            let reconstruction = model.reconstruct(&state.clean)?;
            let residual = x - &reconstruction;
            let outliers = shrink_unchecked(self.shrinkage, self.lambda, &residual);
            let c1 = frobenius(
                residual
                    .iter()
                    .zip(outliers.iter())
                    .map(|(r, s)| r.as_f64() - s.as_f64()),
            ) / scale;
            let c2 = frobenius(
                state
                    .previous
                    .iter()
                    .zip(reconstruction.iter().zip(outliers.iter()))
                    .map(|(p, (d, s))| p.as_f64() - d.as_f64() - s.as_f64()),
            ) / scale;
            let norms = group_norms(self.shrinkage, &outliers);
            let report = RobustReport {
                iteration,
                inner,
                penalty: norms.iter().sum(),
                outliers: norms.iter().filter(|&&n| n > 0.0).count(),
                residual: c1,
                change: c2,
            };
            state.previous = &reconstruction + &outliers;
            state.clean = clean_target(x, &outliers, &reconstruction);
            state.outliers = outliers;
            state.reports.push(report);
            let stop = if observer.on_epoch(&report) == ControlFlow::Break(()) {
                Some(RobustStop::Observer)
            } else if self.converged(&report) {
                Some(RobustStop::Converged)
            } else if state.reports.len() == self.iterations {
                Some(RobustStop::Iterations)
            } else {
                None
            };
            after(model, &state, stop, &history, optimizer, rng)?;
            if let Some(stop) = stop {
                return Ok(state.finish(stop));
            }
        }
        Ok(state.finish(RobustStop::Iterations))
    }

    fn converged(&self, report: &RobustReport) -> bool {
        report.residual < self.tolerance || report.change < self.tolerance
    }
}

fn frobenius(values: impl Iterator<Item = f64>) -> f64 {
    values.map(|v| v * v).sum::<f64>().sqrt()
}

/// `X − S`, kept element-wise between `X` and `L_D` (where it lies in exact arithmetic, as
/// `S` shrinks `X − L_D` towards 0): rounding cannot push it out of the data's range.
fn clean_target<T: Scalar>(
    x: &DMatrix<T>,
    s: &DMatrix<T>,
    reconstruction: &DMatrix<T>,
) -> DMatrix<T> {
    DMatrix::from_fn(x.nrows(), x.ncols(), |i, j| {
        let (v, d) = (x[(i, j)], reconstruction[(i, j)]);
        let (low, high) = if v < d { (v, d) } else { (d, v) };
        let l = v - s[(i, j)];
        if l < low {
            low
        } else if l > high {
            high
        } else {
            l
        }
    })
}

/// The state of a robust run between outer iterations.
#[derive(Clone, Debug)]
pub(crate) struct RobustState<T: Scalar> {
    /// `S`.
    pub(crate) outliers: DMatrix<T>,
    /// `L = X − S`, the next inner training's data.
    pub(crate) clean: DMatrix<T>,
    /// `L_S = L_D + S` of the last iteration (`X` before the first).
    pub(crate) previous: DMatrix<T>,
    pub(crate) reports: Vec<RobustReport>,
}

impl<T: Scalar> RobustState<T> {
    pub(crate) fn start(x: &DMatrix<T>) -> Self {
        Self {
            outliers: DMatrix::zeros(x.nrows(), x.ncols()),
            clean: x.clone(),
            previous: x.clone(),
            reports: Vec::new(),
        }
    }

    fn finish(self, stop: RobustStop) -> RobustFit<T> {
        RobustFit {
            outliers: self.outliers,
            clean: self.clean,
            reports: self.reports,
            stop,
        }
    }
}

/// What one outer iteration of a [`RobustAutoencoder`] reports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RobustReport {
    /// The outer iteration, from 0.
    pub iteration: usize,
    /// The last epoch of its inner training (on `L = X − S`).
    pub inner: EpochReport,
    /// `Ω(S)` after its shrinkage step (not weighted by `λ`).
    pub penalty: f64,
    /// The groups of `S` that are not zero: entries, samples or features, by the
    /// [`Shrinkage`].
    pub outliers: usize,
    /// `c1 = ‖X − L_D − S‖_F / ‖X‖_F`: what of the data neither the model nor `S` explains.
    pub residual: f64,
    /// `c2 = ‖L_S − L_D − S‖_F / ‖X‖_F`: how far the split moved in this iteration.
    pub change: f64,
}

/// Why a robust run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RobustStop {
    /// All outer iterations ran.
    Iterations,
    /// `c1` or `c2` fell below the tolerance.
    Converged,
    /// The observer asked to stop.
    Observer,
}

impl RobustStop {
    const ALL: [RobustStop; 3] = [
        RobustStop::Iterations,
        RobustStop::Converged,
        RobustStop::Observer,
    ];

    /// The name written in checkpoints.
    pub(crate) fn name(self) -> &'static str {
        match self {
            RobustStop::Iterations => "iterations",
            RobustStop::Converged => "converged",
            RobustStop::Observer => "observer",
        }
    }

    /// The stop of that [`name`](Self::name), if any.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// The outcome of a [`RobustAutoencoder`] run: the split `X = L + S` and the reports.
#[derive(Clone, Debug, PartialEq)]
pub struct RobustFit<T: Scalar> {
    /// `S`, the part of the data the model was spared from learning (`n × input_dim`).
    pub outliers: DMatrix<T>,
    /// `L = X − S`, what the model learns from (up to rounding, see the [module](self)).
    pub clean: DMatrix<T>,
    /// One report per outer iteration.
    pub reports: Vec<RobustReport>,
    /// Why the run stopped.
    pub stop: RobustStop,
}

impl<T: Scalar> RobustFit<T> {
    /// The Euclidean norm of each row of `S`: how much of each training sample was taken out
    /// as outlier, 0 for a sample the model learns as it is.
    pub fn outlier_scores(&self) -> Vec<f64> {
        group_norms(Shrinkage::Samples, &self.outliers)
    }
}
