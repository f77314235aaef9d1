//! Minibatch training: configuration, per-epoch reports, observers and history.

use crate::autoencoder::Workspace;
use crate::linalg::resize;
use crate::validate::{all_finite, check_nonzero};
use crate::{
    Autoencoder, Corruption, Decoder, Encoder, Error, Optimizer, Regularizer, Result, Scalar,
};
use nalgebra::{ComplexField, DMatrix};
use rand::Rng;
use rand::seq::SliceRandom;
use std::ops::ControlFlow;

/// How `fit` walks through the data.
///
/// Defaults: 10 epochs, batches of 32, samples shuffled every epoch.
///
/// ```
/// use autoencoders::TrainingConfig;
/// let config = TrainingConfig::default().with_epochs(3).with_batch_size(128).with_shuffle(false);
/// assert_eq!((config.epochs(), config.batch_size(), config.shuffle()), (3, 128, false));
/// assert!(TrainingConfig::default().with_batch_size(0).validate().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrainingConfig {
    epochs: usize,
    batch_size: usize,
    shuffle: bool,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 32,
            shuffle: true,
        }
    }
}

impl TrainingConfig {
    /// Passes over the data.
    pub fn with_epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Samples per batch (the last batch of an epoch may be smaller).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Whether to shuffle the samples, from the caller's generator, before every epoch.
    pub fn with_shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Passes over the data.
    pub fn epochs(&self) -> usize {
        self.epochs
    }

    /// Samples per batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Whether samples are shuffled.
    pub fn shuffle(&self) -> bool {
        self.shuffle
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for a batch size of 0.
    pub fn validate(&self) -> Result<()> {
        check_nonzero(self.batch_size, "batch_size")
    }
}

/// What one epoch of training did.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct EpochReport {
    /// The epoch, from 0.
    pub epoch: usize,
    /// Mean reconstruction loss over the epoch's batches, weighted by batch size, as measured
    /// during training (on corrupted inputs, with the parameters of the time).
    pub reconstruction_loss: f64,
    /// Mean penalty over the epoch's batches, weighted the same way.
    pub penalty: f64,
    /// `reconstruction_loss + penalty`.
    pub objective: f64,
    /// Reconstruction loss on the validation data after the epoch, without corruption.
    pub validation_loss: Option<f64>,
}

/// Why training stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// All epochs ran.
    Completed,
    /// The observer asked to stop.
    Observer,
}

/// Everything `fit` reported, epoch by epoch: [`EpochReport`]s for autoencoders,
/// [`SupervisedReport`](crate::SupervisedReport)s for classifiers.
#[derive(Clone, Debug, PartialEq)]
pub struct History<R = EpochReport> {
    /// One report per epoch run.
    pub epochs: Vec<R>,
    /// Why training stopped.
    pub stop_reason: StopReason,
}

impl<R> History<R> {
    /// The last epoch's report, if any epoch ran.
    pub fn last(&self) -> Option<&R> {
        self.epochs.last()
    }
}

/// Receives a report after every epoch and may stop training.
///
/// `()` is the silent observer; any `FnMut(&EpochReport) -> ControlFlow<()>` is an observer.
///
/// ```
/// use autoencoders::{EpochReport, Observer};
/// use std::ops::ControlFlow;
///
/// // Early stopping once the validation loss stops improving.
/// let mut best = f64::INFINITY;
/// let mut early_stop = move |report: &EpochReport| match report.validation_loss {
///     Some(loss) if loss >= best => ControlFlow::Break(()),
///     Some(loss) => { best = loss; ControlFlow::Continue(()) }
///     None => ControlFlow::Continue(()),
/// };
/// # let _ = &mut early_stop as &mut dyn Observer;
/// ```
pub trait Observer<R = EpochReport> {
    /// Called after each epoch; `Break` stops training.
    fn on_epoch(&mut self, report: &R) -> ControlFlow<()> {
        let _ = report;
        ControlFlow::Continue(())
    }
}

impl<R> Observer<R> for () {}

impl<R, F: FnMut(&R) -> ControlFlow<()>> Observer<R> for F {
    fn on_epoch(&mut self, report: &R) -> ControlFlow<()> {
        self(report)
    }
}

impl<E, D, R, C> Autoencoder<E, D, R, C>
where
    E: Encoder,
    D: Decoder<E::Scalar>,
    R: Regularizer<E::Scalar>,
    C: Corruption<E::Scalar>,
{
    /// Trains on `x` by minibatch gradient descent; see [`fit_with`](Self::fit_with).
    ///
    /// # Shapes
    /// `x` is `n × input_dim`.
    ///
    /// # Errors
    /// As [`fit_with`](Self::fit_with).
    pub fn fit<O, G>(
        &mut self,
        x: &DMatrix<E::Scalar>,
        config: &TrainingConfig,
        optimizer: &mut O,
        rng: &mut G,
    ) -> Result<History>
    where
        O: Optimizer<E::Scalar>,
        G: Rng + ?Sized,
    {
        self.fit_with(x, None, config, optimizer, rng, &mut ())
    }

    /// Trains on `x`, reporting every epoch to `observer`, with the reconstruction loss on
    /// `validation` in each report.
    ///
    /// Each epoch shuffles the samples (when configured; every epoch draws a fresh permutation
    /// of the original order), then for every batch draws a fresh corruption, computes `J` and
    /// its gradient, and takes one optimiser step. All randomness comes from `rng`, in that
    /// order, so a seed fixes the run bit for bit. For a run that can be checkpointed and
    /// resumed, see [`fit_resumable`](Autoencoder::fit_resumable).
    ///
    /// # Shapes
    /// `x` is `n × input_dim`; `validation` is `m × input_dim`.
    ///
    /// # Errors
    /// Before any work: every problem [`check`](Self::check) finds in `x` or `validation`, and an
    /// invalid `config`. During training: [`Error::Diverged`], naming the epoch and the batch,
    /// when the objective or a gradient becomes NaN or ∞, or when the optimiser's step would
    /// make a parameter or a value of its state NaN or ∞ (see [`Optimizer::try_step`]); the
    /// model and the optimiser then hold exactly what they held after the last good step.
    /// [`Error::NonFiniteRegularizer`] and [`Error::MisshapenRegularizerGradient`] for a
    /// regularizer that misbehaves.
    pub fn fit_with<O, G, B>(
        &mut self,
        x: &DMatrix<E::Scalar>,
        validation: Option<&DMatrix<E::Scalar>>,
        config: &TrainingConfig,
        optimizer: &mut O,
        rng: &mut G,
        observer: &mut B,
    ) -> Result<History>
    where
        O: Optimizer<E::Scalar>,
        G: Rng + ?Sized,
        B: Observer + ?Sized,
    {
        self.check_training(x, validation, config)?;
        let mut history = History {
            epochs: Vec::with_capacity(config.epochs),
            stop_reason: StopReason::Completed,
        };
        self.run_epochs(
            x,
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
        Ok(())
    }

    /// The epoch loop, from epoch `history.epochs.len()` to `config.epochs`, appending to
    /// `history`. After each epoch's report is recorded, and before the observer sees it,
    /// `after_epoch` gets the model, the optimiser, the generator and the history (to write a
    /// checkpoint); an error from it stops training.
    ///
    /// An epoch depends only on the parameters, the optimiser's state and the generator's state
    /// at its start, so a run resumed there continues bit for bit. The caller has run
    /// [`check_training`](Self::check_training).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run_epochs<O, G, B>(
        &mut self,
        x: &DMatrix<E::Scalar>,
        validation: Option<&DMatrix<E::Scalar>>,
        config: &TrainingConfig,
        optimizer: &mut O,
        rng: &mut G,
        observer: &mut B,
        history: &mut History,
        mut after_epoch: impl FnMut(&Self, &O, &G, &History) -> Result<()>,
    ) -> Result<()>
    where
        O: Optimizer<E::Scalar>,
        G: Rng + ?Sized,
        B: Observer + ?Sized,
    {
        let n = x.nrows();
        let mut order: Vec<usize> = Vec::with_capacity(n);
        let mut workspace = Workspace::new(self);
        let mut validation_workspace = validation.map(|_| Workspace::new(self));
        let source = BatchSource::new(x);
        let mut batch = DMatrix::zeros(0, 0);
        let mut corrupted = DMatrix::zeros(0, 0);
        history.stop_reason = StopReason::Completed;

        for epoch in history.epochs.len()..config.epochs {
            // Each epoch shuffles the identity, not the previous epoch's order, so that the
            // order depends on the generator alone (and a resumed run needs no saved order).
            order.clear();
            order.extend(0..n);
            if config.shuffle {
                order.shuffle(rng);
            }
            let (mut reconstruction_sum, mut penalty_sum) = (0.0, 0.0);
            for (index, rows) in order.chunks(config.batch_size).enumerate() {
                source.gather(rows, &mut batch);
                let input = if self.corruption.is_identity() {
                    &batch
                } else {
                    resize(&mut corrupted, batch.nrows(), batch.ncols());
                    self.corruption.corrupt_into(&batch, &mut corrupted, rng);
                    &corrupted
                };
                let objective = self.evaluate(&batch, input, &mut workspace, true)?;
                let diverged = |what| Error::Diverged {
                    epoch,
                    batch: index,
                    what,
                };
                if !objective.total().is_finite() {
                    return Err(diverged("objective"));
                }
                let gradients: Vec<&[E::Scalar]> = workspace.gradients().collect();
                // A non-finite gradient spoils the step, which the optimiser then refuses, so
                // the gradients are scanned only to say which of the two went wrong.
                if !optimizer.try_step(&mut self.parameters_mut(), &gradients) {
                    return Err(if gradients.iter().all(|g| all_finite(g)) {
                        diverged("parameters")
                    } else {
                        diverged("gradient")
                    });
                }
                let weight = rows.len() as f64;
                reconstruction_sum += objective.reconstruction.as_f64() * weight;
                penalty_sum += objective.penalty.as_f64() * weight;
            }
            let validation_loss = match (validation, validation_workspace.as_mut()) {
                (Some(v), Some(ws)) => {
                    Some(self.evaluate(v, v, ws, false)?.reconstruction.as_f64())
                }
                _ => None,
            };
            let report = EpochReport {
                epoch,
                reconstruction_loss: reconstruction_sum / n as f64,
                penalty: penalty_sum / n as f64,
                objective: (reconstruction_sum + penalty_sum) / n as f64,
                validation_loss,
            };
            history.epochs.push(report);
            after_epoch(self, optimizer, rng, history)?;
            if observer.on_epoch(&report).is_break() {
                history.stop_reason = StopReason::Observer;
                break;
            }
        }
        Ok(())
    }
}

/// Training data kept sample-major (each sample's features contiguous), so that gathering a
/// shuffled minibatch reads whole samples instead of one scattered element per feature column
/// of the column-major matrix: gathering was a tenth of a plain training step.
/// Samples gathered together per tile: the tile's writes to each batch column are contiguous,
/// its reads are as many sequential streams.
const GATHER_TILE: usize = 16;

pub(crate) struct BatchSource<T: Scalar> {
    /// The transpose of the data: column `r` is sample `r`.
    samples: DMatrix<T>,
}

impl<T: Scalar> BatchSource<T> {
    pub(crate) fn new(x: &DMatrix<T>) -> Self {
        Self {
            samples: x.transpose(),
        }
    }

    /// Copies rows `rows` of the original matrix, in that order, into `batch`.
    pub(crate) fn gather(&self, rows: &[usize], batch: &mut DMatrix<T>) {
        let (b, d) = (rows.len(), self.samples.nrows());
        resize(batch, b, d);
        let (samples, out) = (self.samples.as_slice(), batch.as_mut_slice());
        let mut sources: [&[T]; GATHER_TILE] = [&[]; GATHER_TILE];
        for (t, tile) in rows.chunks(GATHER_TILE).enumerate() {
            let first = t * GATHER_TILE;
            for (source, &r) in sources.iter_mut().zip(tile) {
                *source = &samples[r * d..(r + 1) * d];
            }
            let sources = &sources[..tile.len()];
            for j in 0..d {
                let column = &mut out[j * b + first..j * b + first + tile.len()];
                for (o, source) in column.iter_mut().zip(sources) {
                    *o = source[j];
                }
            }
        }
    }
}
