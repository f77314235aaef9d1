//! Minibatch training: configuration, per-epoch reports, observers and history.

use crate::autoencoder::Workspace;
use crate::linalg::resize;
use crate::parallel::{Communicator, ShardTotals, SingleProcess, all_gather};
use crate::source::{BatchSource, InMemory};
use crate::validate::{all_finite, check_nonzero};
use crate::{
    Autoencoder, Corruption, Decoder, Encoder, Error, LearningRateSchedule, Loss, Optimizer,
    Regularizer, Result, Scalar,
};
use nalgebra::{ComplexField, DMatrix};
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use std::ops::ControlFlow;

/// How `fit` walks through the data.
///
/// Defaults: 10 epochs, batches of 32, samples shuffled every epoch, the optimiser's own
/// learning rate, no update budget, no early stopping.
///
/// ```
/// use autoencoders::{LearningRateSchedule, TrainingConfig};
/// let config = TrainingConfig::default().with_epochs(3).with_batch_size(128).with_shuffle(false);
/// assert_eq!((config.epochs(), config.batch_size(), config.shuffle()), (3, 128, false));
/// assert!(TrainingConfig::default().with_batch_size(0).validate().is_err());
///
/// // A budget of 3,000 updates whatever the data set's size, a cosine schedule over them, and
/// // the parameters of the best validation epoch kept once 5 epochs bring no improvement.
/// let budget = TrainingConfig::default()
///     .with_epochs(usize::MAX)
///     .with_max_updates(3000)
///     .with_schedule(LearningRateSchedule::cosine(0.05, 0.0, 3000)?.with_warm_up(100)?)
///     .with_early_stopping(5);
/// assert!(budget.validate().is_ok());
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(remote = "Self", deny_unknown_fields, default)
)]
pub struct TrainingConfig {
    epochs: usize,
    batch_size: usize,
    shuffle: bool,
    schedule: Option<LearningRateSchedule>,
    max_updates: Option<u64>,
    early_stopping: Option<usize>,
    shard: Option<usize>,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 32,
            shuffle: true,
            schedule: None,
            max_updates: None,
            early_stopping: None,
            shard: None,
        }
    }
}

impl TrainingConfig {
    /// Passes over the data (at most, with an update budget or early stopping).
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

    /// The learning rate of every update, set on the optimiser before each one (see
    /// [`LearningRateSchedule`]); the optimiser must implement
    /// [`set_learning_rate`](Optimizer::set_learning_rate), as [`Sgd`](crate::Sgd) and
    /// [`Adam`](crate::Adam) do.
    pub fn with_schedule(mut self, schedule: LearningRateSchedule) -> Self {
        self.schedule = Some(schedule);
        self
    }

    /// Stops after `updates` optimiser updates in all, even in the middle of an epoch (whose
    /// report then covers the batches it ran), with [`StopReason::UpdateBudget`]. A budget
    /// counted in updates trains as long on 100 samples as on 8,000; set the epochs to
    /// `usize::MAX` to let it alone decide.
    pub fn with_max_updates(mut self, updates: u64) -> Self {
        self.max_updates = Some(updates);
        self
    }

    /// Watches the validation loss after every epoch and stops, with
    /// [`StopReason::EarlyStopping`], once `patience` epochs in a row have not improved on the
    /// best one. However the run stops, the model is then left with the parameters of the
    /// epoch of lowest validation loss (recorded in [`History::best_epoch`]). Needs validation
    /// data.
    pub fn with_early_stopping(mut self, patience: usize) -> Self {
        self.early_stopping = Some(patience);
        self
    }

    /// Cuts every batch into shards of `samples` samples, each corrupted from its own
    /// generator (seeded from one draw of the run's generator per batch and the shard's
    /// index), whose gradients are summed in shard order, weighted by their sizes: the
    /// computation of a data-parallel run (see [`parallel`](crate::parallel)), which any number
    /// of processes reproduces bit for bit, here in one.
    pub fn with_shards(mut self, samples: usize) -> Self {
        self.shard = Some(samples);
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

    /// The learning-rate schedule, if any.
    pub fn schedule(&self) -> Option<LearningRateSchedule> {
        self.schedule
    }

    /// The update budget, if any.
    pub fn max_updates(&self) -> Option<u64> {
        self.max_updates
    }

    /// The early-stopping patience, if any.
    pub fn early_stopping(&self) -> Option<usize> {
        self.early_stopping
    }

    /// Samples per shard of a data-parallel batch, if the batches are sharded.
    pub fn shard(&self) -> Option<usize> {
        self.shard
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for a batch size, an update budget, a patience or a shard of 0;
    /// [`Error::InvalidHyperParameter`] for an invalid schedule.
    pub fn validate(&self) -> Result<()> {
        check_nonzero(self.batch_size, "batch_size")?;
        if let Some(schedule) = &self.schedule {
            schedule.validate()?;
        }
        if self.max_updates == Some(0) {
            return Err(Error::ZeroDimension {
                what: "max_updates",
            });
        }
        if self.early_stopping == Some(0) {
            return Err(Error::ZeroDimension {
                what: "early-stopping patience",
            });
        }
        if self.shard == Some(0) {
            return Err(Error::ZeroDimension { what: "shard size" });
        }
        Ok(())
    }

    /// What the settings need of the data: early stopping needs validation data.
    pub(crate) fn check_validation(&self, has_validation: bool) -> Result<()> {
        if self.early_stopping.is_some() && !has_validation {
            return Err(Error::NoValidationData);
        }
        Ok(())
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
    /// The update budget ([`TrainingConfig::with_max_updates`]) was spent.
    UpdateBudget,
    /// The validation loss stopped improving ([`TrainingConfig::with_early_stopping`]).
    EarlyStopping,
}

/// Everything `fit` reported, epoch by epoch: [`EpochReport`]s for autoencoders,
/// [`SupervisedReport`](crate::SupervisedReport)s for classifiers.
#[derive(Clone, Debug, PartialEq)]
pub struct History<R = EpochReport> {
    /// One report per epoch run.
    pub epochs: Vec<R>,
    /// Why training stopped.
    pub stop_reason: StopReason,
    /// With early stopping, the epoch of lowest validation loss, whose parameters the model
    /// was left with; `None` without early stopping.
    pub best_epoch: Option<usize>,
}

impl<R> History<R> {
    /// An empty history, for a run about to start.
    pub(crate) fn new(config: &TrainingConfig) -> Self {
        Self {
            // A budget in updates may come with `usize::MAX` epochs: reserve a little only.
            epochs: Vec::with_capacity(config.epochs.min(1024)),
            stop_reason: StopReason::Completed,
            best_epoch: None,
        }
    }

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

impl<E, D, R, C, L> Autoencoder<E, D, R, C, L>
where
    E: Encoder,
    D: Decoder<E::Scalar>,
    R: Regularizer<E::Scalar>,
    C: Corruption<E::Scalar>,
    L: Loss<E::Scalar>,
{
    /// Minimises the objective `J` on the whole of `x` (as [`objective`](Self::objective)
    /// evaluates it: no corruption, every penalty) by full-batch L-BFGS over all the
    /// parameters, leaving the model at the final point. Each evaluation is one forward and
    /// backward pass over `x`; the observer (an [`Observer`], e.g. `&mut ()` or a closure) sees
    /// every iteration. Best in `f64`: in `f32` the
    /// line search meets the rounding of the objective sooner and stops with
    /// [`LbfgsStop::LineSearch`](crate::optimizer::LbfgsStop::LineSearch).
    ///
    /// # Errors
    /// Whatever [`check`](Self::check) finds; those of
    /// [`Lbfgs::minimize`](crate::optimizer::Lbfgs::minimize); the model's own errors during
    /// an evaluation (the model then holds the last accepted point).
    pub fn fit_lbfgs<B>(
        &mut self,
        x: &DMatrix<E::Scalar>,
        lbfgs: &crate::optimizer::Lbfgs,
        observer: &mut B,
    ) -> Result<crate::optimizer::LbfgsOutcome>
    where
        B: Observer<crate::optimizer::LbfgsIteration> + ?Sized,
    {
        crate::threads::check_environment()?;
        self.check(x, "training data")?;
        self.lbfgs_run(x, lbfgs, None, &mut |report, _| {
            Ok(observer.on_epoch(report))
        })
        .map(|(outcome, _)| outcome)
    }

    /// Full-batch L-BFGS on `x` by [`lbfgs_drive`]: every parameter, the objective of
    /// [`objective`](Self::objective).
    pub(crate) fn lbfgs_run(
        &mut self,
        x: &DMatrix<E::Scalar>,
        lbfgs: &crate::optimizer::Lbfgs,
        resume: Option<(
            crate::optimizer::LbfgsState,
            Option<crate::optimizer::LbfgsStop>,
        )>,
        hook: LbfgsHook<'_>,
    ) -> Result<(crate::optimizer::LbfgsOutcome, crate::optimizer::LbfgsState)> {
        // One workspace for every evaluation: its buffers hold the whole batch's passes.
        let mut ws = Workspace::new(self);
        lbfgs_drive(
            self,
            lbfgs,
            resume,
            hook,
            Self::parameters_mut,
            |model, gradient| {
                let objective = model.evaluate(x, x, &mut ws, true)?;
                for (g, v) in gradient.iter_mut().zip(ws.gradients().flatten()) {
                    *g = v.as_f64();
                }
                Ok(objective.total().as_f64())
            },
        )
    }

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

    /// [`fit_with`](Self::fit_with) with an observer that sees the model: after every epoch,
    /// `watcher` gets the epoch's report and the model as that epoch left it, and may stop the
    /// run (`ControlFlow::Break`, recorded as [`StopReason::Observer`]). For what a report does
    /// not hold: a measure of the model's own (the exact objective on all the data, a filter
    /// picture, a test metric), or a copy of the best model by a criterion of the caller's.
    /// The watcher runs before early stopping looks at the epoch, and early stopping then
    /// puts its best epoch back as usual (when both stop at the same epoch, the reason
    /// recorded is [`StopReason::EarlyStopping`]). Watching changes nothing: with a watcher that never
    /// stops, the run gives `fit_with`'s bits.
    ///
    /// ```
    /// use autoencoders::{DenseBuilder, Sgd, TrainingConfig};
    /// use autoencoders::rand::{SeedableRng, rngs::ChaCha8Rng};
    /// use nalgebra::DMatrix;
    /// use std::ops::ControlFlow;
    ///
    /// let x = DMatrix::from_fn(32, 6, |i, j| ((i * 5 + j) % 7) as f64 / 7.0);
    /// let mut model = DenseBuilder::new(6, 3).build::<f64, _>(&mut ChaCha8Rng::seed_from_u64(0))?;
    /// let config = TrainingConfig::default().with_epochs(20).with_batch_size(8);
    /// // Keep the model of the lowest objective on all of `x`, evaluated exactly.
    /// let mut best = (f64::INFINITY, model.clone());
    /// model.fit_watched(&x, None, &config, &mut Sgd::new(0.1)?, &mut ChaCha8Rng::seed_from_u64(1),
    ///     &mut |_, model: &_| {
    ///         let objective = model.objective(&x).map_or(f64::INFINITY, |o| o.total());
    ///         if objective < best.0 {
    ///             best = (objective, model.clone());
    ///         }
    ///         ControlFlow::Continue(())
    ///     })?;
    /// assert!(best.0 <= model.objective(&x)?.total());
    /// # Ok::<(), autoencoders::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`fit_with`](Self::fit_with).
    pub fn fit_watched<O, G, W>(
        &mut self,
        x: &DMatrix<E::Scalar>,
        validation: Option<&DMatrix<E::Scalar>>,
        config: &TrainingConfig,
        optimizer: &mut O,
        rng: &mut G,
        watcher: &mut W,
    ) -> Result<History>
    where
        O: Optimizer<E::Scalar>,
        G: Rng + ?Sized,
        W: FnMut(&EpochReport, &Self) -> ControlFlow<()> + ?Sized,
    {
        self.check_training(x, validation, config)?;
        let mut history = History::new(config);
        let watch = Watch::new(watcher);
        self.run_epochs(
            &mut InMemory::new(x),
            None,
            validation,
            config,
            optimizer,
            rng,
            &mut |report: &EpochReport| watch.verdict(report),
            &mut history,
            |model, _, _, history| {
                watch.after_epoch(model, history);
                Ok(())
            },
        )?;
        Ok(history)
    }

    /// Trains on the samples of `source`, however it supplies them (a file streamed from disk,
    /// data computed on the fly), as [`fit_with`](Self::fit_with) trains on a matrix: each
    /// epoch asks the source for its order ([`BatchSource::start_epoch`] with the run's
    /// generator), then for every batch of it draws a fresh corruption, computes `J` and its
    /// gradient and takes one step. With [`InMemory`] over `x` this is `fit_with` on `x`, bit
    /// for bit; with a streaming source in its in-memory order
    /// ([`StreamOrder::InMemory`](crate::data::StreamOrder::InMemory)) as well.
    ///
    /// Each batch is checked as [`check`](Self::check) checks training data before the model
    /// sees it (an error names the batch's row); the validation data stay in memory.
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
    ) -> Result<History>
    where
        S: BatchSource<E::Scalar> + ?Sized,
        O: Optimizer<E::Scalar>,
        G: Rng + ?Sized,
        B: Observer + ?Sized,
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

    /// Trains on the samples of `source` data-parallel (see [`parallel`](crate::parallel)):
    /// every process of `communicator` runs this with the same model, source, settings and
    /// seed, and a `config` whose batches are sharded ([`TrainingConfig::with_shards`]); each
    /// process computes its shards of each batch, the shards' gradients are exchanged and
    /// summed in shard order, and every process takes the same step. The result does not
    /// depend on the number of processes: [`fit_source`](Self::fit_source) with the same
    /// `config` in one process is the reference that 1, 2 or 4 MPI processes reproduce bit for
    /// bit.
    ///
    /// # Errors
    /// As [`fit_source`](Self::fit_source); [`Error::InvalidHyperParameter`] for a `config`
    /// without shards or a communicator whose rank is not below its size; the communicator's
    /// errors.
    #[allow(clippy::too_many_arguments)]
    pub fn fit_parallel<S, O, G, B>(
        &mut self,
        source: &mut S,
        validation: Option<&DMatrix<E::Scalar>>,
        config: &TrainingConfig,
        communicator: &dyn Communicator,
        optimizer: &mut O,
        rng: &mut G,
        observer: &mut B,
    ) -> Result<History>
    where
        S: BatchSource<E::Scalar> + ?Sized,
        O: Optimizer<E::Scalar>,
        G: Rng + ?Sized,
        B: Observer + ?Sized,
    {
        config.validate()?;
        check_communicator(communicator, config)?;
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

    /// The epoch loop of [`run`] for this model, from epoch `history.epochs.len()`; see
    /// there. The caller has run [`check_training`](Self::check_training).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run_epochs<S, O, G, B>(
        &mut self,
        source: &mut S,
        communicator: Option<&dyn Communicator>,
        validation: Option<&DMatrix<E::Scalar>>,
        config: &TrainingConfig,
        optimizer: &mut O,
        rng: &mut G,
        observer: &mut B,
        history: &mut History,
        mut after_epoch: impl FnMut(&Self, &O, &G, &History) -> Result<()>,
    ) -> Result<()>
    where
        S: BatchSource<E::Scalar> + ?Sized,
        O: Optimizer<E::Scalar>,
        G: Rng + ?Sized,
        B: Observer + ?Sized,
    {
        let mut learner = AutoencoderLearner {
            validation: validation.map(|v| (v, Workspace::new(self))),
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

/// A watcher (`FnMut(&report, &model) -> ControlFlow<()>`) in the one loop: it runs in the
/// after-epoch hook, which sees the model, and its verdict reaches the loop through the
/// observer, which the loop asks right after.
pub(crate) struct Watch<'w, W: ?Sized> {
    watcher: std::cell::RefCell<&'w mut W>,
    stop: std::cell::Cell<bool>,
}

impl<'w, W: ?Sized> Watch<'w, W> {
    pub(crate) fn new(watcher: &'w mut W) -> Self {
        Self {
            watcher: std::cell::RefCell::new(watcher),
            stop: std::cell::Cell::new(false),
        }
    }

    /// Shows the watcher the last epoch's report and the model.
    pub(crate) fn after_epoch<M, R>(&self, model: &M, history: &History<R>)
    where
        W: FnMut(&R, &M) -> ControlFlow<()>,
    {
        if let Some(report) = history.epochs.last() {
            let verdict = (self.watcher.borrow_mut())(report, model);
            self.stop.set(verdict.is_break());
        }
    }

    /// What the watcher said of the last epoch, as the observer.
    pub(crate) fn verdict<R>(&self, _: &R) -> ControlFlow<()> {
        if self.stop.get() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

/// What a full-batch L-BFGS run reports each iteration to, with the state it reached.
pub(crate) type LbfgsHook<'a> = &'a mut dyn FnMut(
    &crate::optimizer::LbfgsIteration,
    &crate::optimizer::LbfgsState,
) -> Result<ControlFlow<()>>;

/// Sets the tensors `targets` to the flat `theta` (their values one after the other, in
/// order), each rounded to `T`.
pub(crate) fn set_flat<T: Scalar>(targets: Vec<&mut [T]>, theta: &[f64]) {
    let mut values = theta.iter();
    for p in targets {
        for (v, t) in p.iter_mut().zip(&mut values) {
            *v = T::cast(*t);
        }
    }
}

/// Full-batch L-BFGS over the parameters `parameters_mut` lists (as one flat `f64` vector),
/// for any model: `evaluate(model, gradient)` returns the objective at the model's current
/// parameters and writes its gradient, in the same order. From `resume` (with the stop it
/// recorded) or from the model's parameters; `hook` sees every iteration. The model is left at
/// the last accepted point (at the resumed one when `resume` had stopped for good), and the
/// final state is returned with the outcome.
///
/// A resumed run first evaluates the objective at the saved point and refuses to go on
/// ([`Error::CheckpointMismatch`]) unless value and gradient are the saved ones to the bit:
/// another loss, penalty weight or data set would make it another run.
pub(crate) fn lbfgs_drive<T: Scalar, M: ?Sized>(
    model: &mut M,
    lbfgs: &crate::optimizer::Lbfgs,
    resume: Option<(
        crate::optimizer::LbfgsState,
        Option<crate::optimizer::LbfgsStop>,
    )>,
    hook: LbfgsHook<'_>,
    parameters_mut: fn(&mut M) -> Vec<&mut [T]>,
    mut evaluate: impl FnMut(&mut M, &mut [f64]) -> Result<f64>,
) -> Result<(crate::optimizer::LbfgsOutcome, crate::optimizer::LbfgsState)> {
    use crate::optimizer::{LbfgsState, LbfgsStop};
    let set = |model: &mut M, theta: &[f64]| set_flat(parameters_mut(model), theta);
    let mut f = |model: &mut M, point: &[f64], gradient: &mut [f64]| -> Result<f64> {
        set(model, point);
        evaluate(model, gradient)
    };
    let mut state = match resume {
        None => {
            let start: Vec<f64> = parameters_mut(model)
                .iter()
                .flat_map(|p| p.iter().map(|v| v.as_f64()))
                .collect();
            LbfgsState::start(start, &mut |p, g| f(model, p, g))?
        }
        Some((state, stop)) => {
            let mut gradient = vec![0.0; state.point.len()];
            let value = f(model, &state.point, &mut gradient)?;
            let same = value.to_bits() == state.value.to_bits()
                && gradient
                    .iter()
                    .zip(&state.gradient)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
            if !same {
                return Err(Error::CheckpointMismatch {
                    what: "the objective's value and gradient at the checkpoint's point \
                           (another loss, penalty weight or data set?)",
                });
            }
            // A run that had converged converges again at once, by the same tests (so a stop
            // reason in a file is not taken on trust); a failed line search would fail again,
            // at the cost of evaluations the unbroken run did not make, so it ends here.
            if stop == Some(LbfgsStop::LineSearch) {
                return Ok((state.outcome(LbfgsStop::LineSearch), state));
            }
            state
        }
    };
    let outcome = lbfgs.run(&mut state, |p, g| f(model, p, g), hook);
    set(model, &state.point);
    Ok((outcome?, state))
}

/// What the one training loop, [`run`], needs of a model: the objective and gradient of a
/// minibatch, the optimiser step, and the epoch's report.
pub(crate) trait Learner<T: Scalar> {
    /// Buffers for one batch, reused.
    type Workspace;
    /// What an epoch reports.
    type Report: Copy;
    /// Sums over an epoch's batches.
    type Totals: ShardTotals;

    /// Fresh buffers.
    fn workspace(&self) -> Self::Workspace;

    /// Checks a batch from the source (and its labels) as the model checks training data.
    fn check_batch(&self, x: &DMatrix<T>, labels: &[usize]) -> Result<()>;

    /// Forward and backward pass of the training batch `x` with labels `labels` (corrupted
    /// with `rng` where the model corrupts), adding to `totals`; returns whether the objective
    /// is finite.
    fn batch<G: Rng + ?Sized>(
        &mut self,
        x: &DMatrix<T>,
        labels: &[usize],
        ws: &mut Self::Workspace,
        rng: &mut G,
        totals: &mut Self::Totals,
    ) -> Result<bool>;

    /// One optimiser step from the gradients in `ws`: `Ok(())` when taken; when refused,
    /// whether the gradients were finite (so the parameters were at fault).
    fn step<O: Optimizer<T> + ?Sized>(
        &mut self,
        ws: &Self::Workspace,
        optimizer: &mut O,
    ) -> std::result::Result<(), bool>;

    /// The gradients in `ws` that [`step`](Self::step) applies, mutable, in its order.
    fn gradients_mut<'w>(&self, ws: &'w mut Self::Workspace) -> Vec<&'w mut [T]>;

    /// The report of epoch `epoch`, whose batches covered `seen` samples.
    fn report(&mut self, epoch: usize, totals: &Self::Totals, seen: usize) -> Result<Self::Report>;

    /// The validation loss in a report, which early stopping watches.
    fn validation_loss(report: &Self::Report) -> Option<f64>;

    /// The trainable parameters, in the model's order.
    fn parameters(&self) -> Vec<&[T]>;

    /// The trainable parameters, mutable, in the same order.
    fn parameters_mut(&mut self) -> Vec<&mut [T]>;

    /// A copy of the trainable parameters.
    fn snapshot(&self) -> Vec<Vec<T>> {
        self.parameters().iter().map(|p| p.to_vec()).collect()
    }

    /// Puts back a [`snapshot`](Self::snapshot).
    fn restore(&mut self, snapshot: &[Vec<T>]) {
        for (p, saved) in self.parameters_mut().into_iter().zip(snapshot) {
            p.copy_from_slice(saved);
        }
    }
}

/// The one training loop, for every model: from epoch `history.epochs.len()` to
/// `config.epochs`, appending to `history`.
///
/// Each epoch shuffles the original order (when configured), then for every batch sets the
/// scheduled learning rate, computes the objective and its gradient and takes one optimiser
/// step, until the epochs or the update budget are spent. After each epoch's report is
/// recorded, and before the observer sees it, `after_epoch` gets the learner, the optimiser,
/// the generator and the history (to write a checkpoint); an error from it stops training.
/// With early stopping, the best epoch's parameters are put back at the end.
///
/// An epoch depends only on the parameters, the optimiser's state and the generator's state
/// at its start, and on its index (the update count, for the schedule, is the epochs done
/// times the batches per epoch, since only the last epoch of a run can be cut short), so a
/// run resumed there continues bit for bit.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run<T, L, S, O, G, B>(
    learner: &mut L,
    source: &mut S,
    communicator: Option<&dyn Communicator>,
    config: &TrainingConfig,
    optimizer: &mut O,
    rng: &mut G,
    observer: &mut B,
    history: &mut History<L::Report>,
    mut after_epoch: impl FnMut(&L, &O, &G, &History<L::Report>) -> Result<()>,
) -> Result<()>
where
    T: Scalar,
    L: Learner<T>,
    S: BatchSource<T> + ?Sized,
    O: Optimizer<T> + ?Sized,
    G: Rng + ?Sized,
    B: Observer<L::Report> + ?Sized,
{
    crate::threads::check_environment()?;
    let n = source.samples();
    let batches_per_epoch = n.div_ceil(config.batch_size) as u64;
    let mut updates = (history.epochs.len() as u64).saturating_mul(batches_per_epoch);
    let budget = config.max_updates.unwrap_or(u64::MAX);
    let mut ws = learner.workspace();
    let (mut batch, mut labels) = (DMatrix::zeros(0, 0), Vec::with_capacity(config.batch_size));
    let mut shards = Shards::default();
    // The lowest validation loss so far, its epoch and its parameters.
    let mut best: Option<(f64, usize, Vec<Vec<T>>)> = None;
    history.stop_reason = StopReason::Completed;

    for epoch in history.epochs.len()..config.epochs {
        if updates >= budget {
            history.stop_reason = StopReason::UpdateBudget;
            break;
        }
        {
            let mut generator = &mut *rng;
            source.start_epoch(config.shuffle, &mut generator)?;
        }
        let mut totals = L::Totals::default();
        let mut seen = 0;
        for index in 0.. {
            if updates >= budget {
                break;
            }
            let k = source.next_batch(config.batch_size, &mut batch, &mut labels)?;
            if k == 0 {
                break;
            }
            check_source_batch(source, k, config.batch_size, seen, &batch, &labels)?;
            learner.check_batch(&batch, &labels)?;
            if let Some(schedule) = &config.schedule {
                optimizer.set_learning_rate(schedule.rate(updates))?;
            }
            let diverged = |what| Error::Diverged {
                epoch,
                batch: index,
                what,
            };
            let finite = match config.shard {
                None => learner.batch(&batch, &labels, &mut ws, rng, &mut totals)?,
                Some(shard) => sharded_batch(
                    learner,
                    communicator.unwrap_or(&SingleProcess),
                    shard,
                    &batch,
                    &labels,
                    &mut ws,
                    rng.next_u64(),
                    &mut shards,
                    &mut totals,
                )?,
            };
            if !finite {
                return Err(diverged("objective"));
            }
            // A non-finite gradient spoils the step, which the optimiser then refuses, so
            // the gradients are scanned only to say which of the two went wrong.
            if let Err(gradients_finite) = learner.step(&ws, optimizer) {
                return Err(diverged(if gradients_finite {
                    "parameters"
                } else {
                    "gradient"
                }));
            }
            seen += k;
            updates += 1;
        }
        if seen != n && updates < budget {
            return Err(Error::SourceMismatch {
                problem: "an epoch ended before the number of samples the source declares",
                expected: n,
                found: seen,
            });
        }
        let report = learner.report(epoch, &totals, seen)?;
        history.epochs.push(report);
        after_epoch(learner, optimizer, rng, history)?;
        if let Some(patience) = config.early_stopping
            && let Some(loss) = L::validation_loss(&report)
        {
            match &best {
                Some((lowest, _, _)) if loss >= *lowest => {}
                _ => best = Some((loss, epoch, learner.snapshot())),
            }
            if best.as_ref().is_some_and(|(_, e, _)| epoch - e >= patience) {
                history.stop_reason = StopReason::EarlyStopping;
                break;
            }
        }
        if observer.on_epoch(&report).is_break() {
            history.stop_reason = StopReason::Observer;
            break;
        }
        if updates >= budget {
            history.stop_reason = StopReason::UpdateBudget;
            break;
        }
    }
    if let Some((_, epoch, parameters)) = best {
        learner.restore(&parameters);
        history.best_epoch = Some(epoch);
    }
    Ok(())
}

/// Validation samples and the buffers to evaluate them.
type ValidationData<'d, E, D> = (&'d DMatrix<<E as Encoder>::Scalar>, Workspace<E, D>);

/// An autoencoder, its data and its buffers, for [`run`].
struct AutoencoderLearner<'m, 'd, E: Encoder, D: Decoder<E::Scalar>, R, C, L> {
    model: &'m mut Autoencoder<E, D, R, C, L>,
    validation: Option<ValidationData<'d, E, D>>,
    corrupted: DMatrix<E::Scalar>,
}

impl<E, D, R, C, L> Learner<E::Scalar> for AutoencoderLearner<'_, '_, E, D, R, C, L>
where
    E: Encoder,
    D: Decoder<E::Scalar>,
    R: Regularizer<E::Scalar>,
    C: Corruption<E::Scalar>,
    L: Loss<E::Scalar>,
{
    type Workspace = Workspace<E, D>;
    type Report = EpochReport;
    /// Sums of the reconstruction loss and the penalty, weighted by batch size.
    type Totals = (f64, f64);

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
        totals: &mut (f64, f64),
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
        let objective = self.model.evaluate(x, input, ws, true)?;
        let weight = x.nrows() as f64;
        totals.0 += objective.reconstruction.as_f64() * weight;
        totals.1 += objective.penalty.as_f64() * weight;
        Ok(objective.total().is_finite())
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

    fn report(&mut self, epoch: usize, totals: &(f64, f64), seen: usize) -> Result<EpochReport> {
        let validation_loss = match &mut self.validation {
            Some((v, ws)) => Some(
                self.model
                    .evaluate(v, v, ws, false)?
                    .reconstruction
                    .as_f64(),
            ),
            None => None,
        };
        let seen = seen.max(1) as f64;
        Ok(EpochReport {
            epoch,
            reconstruction_loss: totals.0 / seen,
            penalty: totals.1 / seen,
            objective: (totals.0 + totals.1) / seen,
            validation_loss,
        })
    }

    fn validation_loss(report: &EpochReport) -> Option<f64> {
        report.validation_loss
    }

    fn parameters(&self) -> Vec<&[E::Scalar]> {
        self.model.parameters()
    }

    fn parameters_mut(&mut self) -> Vec<&mut [E::Scalar]> {
        self.model.parameters_mut()
    }
}

/// Checks what a source handed out: no more samples than asked for or than an epoch holds,
/// the declared features, a label per sample from a labelled source.
fn check_source_batch<T: Scalar, S: BatchSource<T> + ?Sized>(
    source: &S,
    k: usize,
    max: usize,
    seen: usize,
    batch: &DMatrix<T>,
    labels: &[usize],
) -> Result<()> {
    let mismatch = |problem, expected, found| {
        Err(Error::SourceMismatch {
            problem,
            expected,
            found,
        })
    };
    if k > max || batch.nrows() != k {
        return mismatch(
            "a batch holds another number of samples than asked for",
            k.min(max),
            batch.nrows(),
        );
    }
    if seen + k > source.samples() {
        return mismatch(
            "an epoch holds more samples than the source declares",
            source.samples(),
            seen + k,
        );
    }
    if batch.ncols() != source.features() {
        return mismatch(
            "a batch has another number of features than the source declares",
            source.features(),
            batch.ncols(),
        );
    }
    if source.labelled() && labels.len() != k {
        return mismatch(
            "a labelled source gave another number of labels than samples",
            k,
            labels.len(),
        );
    }
    Ok(())
}

/// Checks, before any work, that `source` has samples and `features` columns.
pub(crate) fn check_source<T: Scalar, S: BatchSource<T> + ?Sized>(
    source: &S,
    features: usize,
    what: &'static str,
) -> Result<()> {
    if source.samples() == 0 {
        return Err(Error::EmptyData { what });
    }
    if source.features() != features {
        return Err(Error::DimensionMismatch {
            what,
            expected: features,
            found: source.features(),
        });
    }
    Ok(())
}

/// Buffers of a sharded batch, reused.
#[derive(Default)]
struct Shards<T: Scalar> {
    /// One shard's samples and labels.
    batch: DMatrix<T>,
    labels: Vec<usize>,
    /// This process's shards' gradients, and every process's.
    local: Vec<T>,
    all: Vec<T>,
    /// This process's shards' totals and finiteness, and every process's.
    local_tally: Vec<f64>,
    all_tally: Vec<f64>,
}

/// One data-parallel batch (see [`parallel`](crate::parallel)): this process computes its
/// shards of `batch`, each corrupted from its own generator (seeded from `seed` and the shard's
/// index), the processes exchange them, and the weighted sum of all the shards' gradients, in
/// shard order, is left in `ws` for the step; the totals of every shard are added, in shard
/// order, to `totals`. Returns whether every shard's objective was finite.
#[allow(clippy::too_many_arguments)]
fn sharded_batch<T: Scalar, L: Learner<T>>(
    learner: &mut L,
    communicator: &dyn Communicator,
    shard: usize,
    batch: &DMatrix<T>,
    labels: &[usize],
    ws: &mut L::Workspace,
    seed: u64,
    buffers: &mut Shards<T>,
    totals: &mut L::Totals,
) -> Result<bool> {
    let (k, d) = batch.shape();
    let (rank, size) = (communicator.rank(), communicator.size());
    let shards = k.div_ceil(shard);
    let per_rank = shards.div_ceil(size);
    let gradient_len: usize = learner.gradients_mut(ws).iter().map(|g| g.len()).sum();
    // This process's shards' weighted gradients, and (exchanged apart, in f64, whatever `T`)
    // their totals and whether their objective was finite.
    let tally = L::Totals::LEN + 1;
    // Every slot read below is written first: no need to clear the buffers.
    buffers.local.resize(per_rank * gradient_len, T::zero());
    buffers.local_tally.resize(per_rank * tally, 0.0);
    for (i, j) in (rank..shards).step_by(size).enumerate() {
        let (start, end) = (j * shard, ((j + 1) * shard).min(k));
        let rows = end - start;
        resize(&mut buffers.batch, rows, d);
        for c in 0..d {
            buffers
                .batch
                .column_mut(c)
                .copy_from(&batch.column(c).rows(start, rows));
        }
        buffers.labels.clear();
        buffers
            .labels
            .extend_from_slice(labels.get(start..end).unwrap_or_default());
        let mut generator = ChaCha8Rng::seed_from_u64(seed.wrapping_add(j as u64));
        let mut shard_totals = L::Totals::default();
        let finite = learner.batch(
            &buffers.batch,
            &buffers.labels,
            ws,
            &mut generator,
            &mut shard_totals,
        )?;
        let out = &mut buffers.local[i * gradient_len..(i + 1) * gradient_len];
        let weight = T::cast(rows as f64 / k as f64);
        let mut at = 0;
        for g in learner.gradients_mut(ws) {
            for (o, &v) in out[at..at + g.len()].iter_mut().zip(g.iter()) {
                *o = v * weight;
            }
            at += g.len();
        }
        let tallied = &mut buffers.local_tally[i * tally..(i + 1) * tally];
        shard_totals.write(&mut tallied[..L::Totals::LEN]);
        tallied[L::Totals::LEN] = if finite { 1.0 } else { 0.0 };
    }
    buffers.all.clear();
    buffers
        .all
        .resize(size * per_rank * gradient_len, T::zero());
    all_gather(communicator, &buffers.local, &mut buffers.all)?;
    buffers.all_tally.clear();
    buffers.all_tally.resize(size * per_rank * tally, 0.0);
    communicator.all_gather_f64(&buffers.local_tally, &mut buffers.all_tally)?;
    let mut gradients = learner.gradients_mut(ws);
    for g in gradients.iter_mut() {
        g.fill(T::zero());
    }
    let mut finite = true;
    for j in 0..shards {
        let slot = (j % size) * per_rank + j / size;
        let from = &buffers.all[slot * gradient_len..(slot + 1) * gradient_len];
        let mut at = 0;
        for g in gradients.iter_mut() {
            let len = g.len();
            for (o, &v) in g.iter_mut().zip(&from[at..at + len]) {
                *o += v;
            }
            at += len;
        }
        let tallied = &buffers.all_tally[slot * tally..(slot + 1) * tally];
        totals.add(&tallied[..L::Totals::LEN]);
        finite &= tallied[L::Totals::LEN] == 1.0;
    }
    Ok(finite)
}

/// Checks that a data-parallel run can start: sharded batches, and a communicator whose rank
/// is below its size.
pub(crate) fn check_communicator(
    communicator: &dyn Communicator,
    config: &TrainingConfig,
) -> Result<()> {
    crate::validate::check_param(
        "shard",
        0.0,
        config.shard().is_some(),
        "a configuration with sharded batches (TrainingConfig::with_shards) for a data-parallel run",
    )?;
    let (rank, size) = (communicator.rank(), communicator.size());
    crate::validate::check_param(
        "rank",
        rank as f64,
        size >= 1 && rank < size,
        "a rank below the communicator's size",
    )
}
