//! The state of a training run that can be checkpointed and resumed: its settings, optimiser,
//! generator, history and the fingerprints of its data. The file format that holds it is
//! [`persistence`](crate::persistence)'s; this module names none.

use crate::validate::check_nonzero;
use crate::{EpochReport, Error, History, Result, Scalar, StopReason, TrainingConfig};
use nalgebra::DMatrix;
use rand::rngs::ChaCha8Rng;
use std::path::{Path, PathBuf};

/// Where and how often [`fit_resumable`](crate::Autoencoder::fit_resumable) saves a
/// [`Checkpoint`](crate::Checkpoint).
///
/// A checkpoint is written after every `interval`-th epoch of the run (counting from the run's
/// first epoch, also across resumptions), after the epoch's report is recorded and before the
/// observer sees it. Each one replaces the previous one crash-safely.
///
/// Defaults: a checkpoint after every epoch.
///
/// ```
/// use autoencoders::Checkpointing;
/// let checkpointing = Checkpointing::new("run.safetensors").with_interval(5);
/// assert_eq!(checkpointing.interval(), 5);
/// assert!(Checkpointing::new("run.safetensors").with_interval(0).validate().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(remote = "Self", deny_unknown_fields)
)]
pub struct Checkpointing {
    path: PathBuf,
    interval: usize,
}

impl Checkpointing {
    /// Checkpoints written to `path`, after every epoch.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            interval: 1,
        }
    }

    /// A checkpoint after every `epochs` epochs instead.
    pub fn with_interval(mut self, epochs: usize) -> Self {
        self.interval = epochs;
        self
    }

    /// The file checkpoints are written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Epochs between checkpoints.
    pub fn interval(&self) -> usize {
        self.interval
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`](crate::Error::ZeroDimension) for an interval of 0.
    pub fn validate(&self) -> Result<()> {
        check_nonzero(self.interval, "checkpoint interval")
    }
}

/// The rows, columns and CRC-32 of a data matrix's values, to tell whether a resumed run trains
/// on the same data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DataFingerprint {
    pub(crate) rows: usize,
    pub(crate) columns: usize,
    pub(crate) crc32: u32,
}

impl DataFingerprint {
    pub(crate) fn of<T: Scalar>(x: &DMatrix<T>) -> Self {
        Self::of_labelled(x, &[])
    }

    /// The fingerprint of `x` and, after its values, of `labels` (as little-endian `u64`s):
    /// labelled data, for a classifier. Without labels, [`of`](Self::of).
    pub(crate) fn of_labelled<T: Scalar>(x: &DMatrix<T>, labels: &[usize]) -> Self {
        let mut crc = crc32fast::Hasher::new();
        // Little-endian `f64` bytes of every value, column by column, a few thousand at a time.
        let mut bytes = Vec::with_capacity(8 * 4096);
        for chunk in x.as_slice().chunks(4096) {
            bytes.clear();
            for v in chunk {
                bytes.extend_from_slice(&v.as_f64().to_le_bytes());
            }
            crc.update(&bytes);
        }
        for chunk in labels.chunks(4096) {
            bytes.clear();
            for &label in chunk {
                bytes.extend_from_slice(&(label as u64).to_le_bytes());
            }
            crc.update(&bytes);
        }
        Self {
            rows: x.nrows(),
            columns: x.ncols(),
            crc32: crc.finalize(),
        }
    }
}

/// A training run that can be saved and resumed: its settings, its optimiser, its generator,
/// the history so far and, optionally, where to save [`Checkpoint`](crate::Checkpoint)s.
///
/// Start one with [`new`](Self::new), continue one with
/// [`Checkpoint::resume`](crate::Checkpoint::resume), and train with
/// [`fit_resumable`](crate::Autoencoder::fit_resumable), which runs the epochs from
/// [`epochs_done`](Self::epochs_done) to the configured number. The generator is a
/// [`ChaCha8Rng`] because its state can be saved exactly.
#[derive(Debug)]
pub struct TrainingRun<O, R = EpochReport> {
    pub(crate) config: TrainingConfig,
    pub(crate) optimizer: O,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) history: History<R>,
    pub(crate) checkpointing: Option<Checkpointing>,
    /// Fingerprints of the training and validation data, once the run has seen them.
    pub(crate) data: Option<(DataFingerprint, Option<DataFingerprint>)>,
}

impl<O, R> TrainingRun<O, R> {
    /// A run that has not started: no epochs done, no checkpoints.
    pub fn new(config: TrainingConfig, optimizer: O, rng: ChaCha8Rng) -> Self {
        Self {
            config,
            optimizer,
            rng,
            history: History {
                epochs: Vec::new(),
                stop_reason: StopReason::Completed,
                best_epoch: None,
            },
            checkpointing: None,
            data: None,
        }
    }

    /// The same run, saving checkpoints as `checkpointing` says.
    pub fn with_checkpoints(mut self, checkpointing: Checkpointing) -> Self {
        self.checkpointing = Some(checkpointing);
        self
    }

    /// The same run with another total number of epochs (to train a resumed run further).
    pub fn with_epochs(mut self, epochs: usize) -> Self {
        self.config = self.config.with_epochs(epochs);
        self
    }

    /// The run's settings.
    pub fn config(&self) -> &TrainingConfig {
        &self.config
    }

    /// The optimiser.
    pub fn optimizer(&self) -> &O {
        &self.optimizer
    }

    /// The generator.
    pub fn rng(&self) -> &ChaCha8Rng {
        &self.rng
    }

    /// The reports of the epochs done so far.
    pub fn history(&self) -> &History<R> {
        &self.history
    }

    /// Epochs done so far.
    pub fn epochs_done(&self) -> usize {
        self.history.epochs.len()
    }

    /// Where checkpoints go, if anywhere.
    pub fn checkpointing(&self) -> Option<&Checkpointing> {
        self.checkpointing.as_ref()
    }

    /// Fingerprints of `x` and `validation`, checked against those of the data the run has
    /// trained on, if any.
    pub(crate) fn check_data<T: Scalar>(
        &self,
        x: &DMatrix<T>,
        validation: Option<&DMatrix<T>>,
    ) -> Result<(DataFingerprint, Option<DataFingerprint>)> {
        self.check_fingerprints((DataFingerprint::of(x), validation.map(DataFingerprint::of)))
    }

    /// [`check_data`](Self::check_data) for labelled data: the fingerprints cover the labels.
    pub(crate) fn check_labelled_data<T: Scalar>(
        &self,
        (x, labels): (&DMatrix<T>, &[usize]),
        validation: Option<(&DMatrix<T>, &[usize])>,
    ) -> Result<(DataFingerprint, Option<DataFingerprint>)> {
        self.check_fingerprints((
            DataFingerprint::of_labelled(x, labels),
            validation.map(|(vx, vy)| DataFingerprint::of_labelled(vx, vy)),
        ))
    }

    fn check_fingerprints(
        &self,
        fingerprints: (DataFingerprint, Option<DataFingerprint>),
    ) -> Result<(DataFingerprint, Option<DataFingerprint>)> {
        if let Some((training, validating)) = &self.data {
            if *training != fingerprints.0 {
                return Err(Error::CheckpointMismatch {
                    what: "the training data",
                });
            }
            if *validating != fingerprints.1 {
                return Err(Error::CheckpointMismatch {
                    what: "the validation data",
                });
            }
        }
        Ok(fingerprints)
    }

    /// Takes the run apart.
    pub fn into_parts(self) -> (O, ChaCha8Rng, History<R>) {
        (self.optimizer, self.rng, self.history)
    }
}
