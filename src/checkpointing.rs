//! Training runs that save checkpoints and resume from them bit for bit.

use crate::persistence::checkpoint::RunState;
use crate::persistence::write_atomically;
use crate::validate::check_nonzero;
use crate::{
    Autoencoder, Corruption, DenseDecoder, DenseEncoder, Error, History, Observer, Optimizer,
    Regularizer, Result, Scalar, StopReason, TrainingConfig,
};
use nalgebra::DMatrix;
use rand::rngs::ChaCha8Rng;
use std::path::{Path, PathBuf};

/// Where and how often [`fit_resumable`](Autoencoder::fit_resumable) saves a
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
    /// [`Error::ZeroDimension`] for an interval of 0.
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
/// [`fit_resumable`](Autoencoder::fit_resumable), which runs the epochs from
/// [`epochs_done`](Self::epochs_done) to the configured number. The generator is a
/// [`ChaCha8Rng`] because its state can be saved exactly.
#[derive(Debug)]
pub struct TrainingRun<O> {
    pub(crate) config: TrainingConfig,
    pub(crate) optimizer: O,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) history: History,
    pub(crate) checkpointing: Option<Checkpointing>,
    /// Fingerprints of the training and validation data, once the run has seen them.
    pub(crate) data: Option<(DataFingerprint, Option<DataFingerprint>)>,
}

impl<O> TrainingRun<O> {
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
    pub fn history(&self) -> &History {
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

    /// Takes the run apart.
    pub fn into_parts(self) -> (O, ChaCha8Rng, History) {
        (self.optimizer, self.rng, self.history)
    }
}

impl<T, R, C> Autoencoder<DenseEncoder<T>, DenseDecoder<T>, R, C>
where
    T: Scalar,
    R: Regularizer<T>,
    C: Corruption<T>,
{
    /// Trains as [`fit_with`](Self::fit_with) does, from epoch
    /// [`run.epochs_done()`](TrainingRun::epochs_done) to the run's configured number of
    /// epochs, saving a [`Checkpoint`](crate::Checkpoint) as `run`'s
    /// [`Checkpointing`] says. Returns the whole run's history (also in `run`).
    ///
    /// A fresh run gives the same bits as `fit_with` with the same settings and generator. A
    /// run resumed from a checkpoint, in this process or another, continues exactly where the
    /// checkpointed one was: its parameters, optimiser state, generator and history end up bit
    /// for bit those of a run without a break (see [`Checkpoint`](crate::Checkpoint)).
    ///
    /// If training stops with an error, `run` holds the history of the epochs completed; after
    /// [`Error::Diverged`] resume from the last checkpoint, since the model and the generator
    /// are then partway through an epoch.
    ///
    /// # Shapes
    /// `x` is `n × input_dim`; `validation` is `m × input_dim`.
    ///
    /// # Errors
    /// Before any work: as [`fit_with`](Self::fit_with), an invalid [`Checkpointing`], and
    /// [`Error::CheckpointMismatch`] when `x` or `validation` differ from the data the run was
    /// trained on, [`Error::NotResumable`] for a configuration with early stopping. During
    /// training: as [`fit_with`](Self::fit_with), and [`Error::Io`] when a
    /// checkpoint cannot be written (the previous checkpoint is then intact).
    pub fn fit_resumable<O, B>(
        &mut self,
        x: &DMatrix<T>,
        validation: Option<&DMatrix<T>>,
        run: &mut TrainingRun<O>,
        observer: &mut B,
    ) -> Result<History>
    where
        O: Optimizer<T>,
        B: Observer + ?Sized,
    {
        self.fit_resumable_writing(x, validation, run, observer, write_atomically)
    }

    /// [`fit_resumable`](Self::fit_resumable) with the file writer injected, so that tests can
    /// make a checkpoint write fail.
    pub(crate) fn fit_resumable_writing<O, B>(
        &mut self,
        x: &DMatrix<T>,
        validation: Option<&DMatrix<T>>,
        run: &mut TrainingRun<O>,
        observer: &mut B,
        mut write: impl FnMut(&Path, &[u8]) -> Result<()>,
    ) -> Result<History>
    where
        O: Optimizer<T>,
        B: Observer + ?Sized,
    {
        self.check_training(x, validation, &run.config)?;
        if run.config.early_stopping().is_some() {
            // The best epoch's parameters would have to be in the checkpoint too.
            return Err(Error::NotResumable {
                what: "early stopping",
            });
        }
        if let Some(checkpointing) = &run.checkpointing {
            checkpointing.validate()?;
        }
        let fingerprints = (DataFingerprint::of(x), validation.map(DataFingerprint::of));
        if let Some((training, validating)) = &run.data {
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
        let TrainingRun {
            config,
            optimizer,
            rng,
            history,
            checkpointing,
            data,
        } = run;
        let (training, validating) = data.insert(fingerprints);
        self.run_epochs(
            x,
            validation,
            config,
            optimizer,
            rng,
            observer,
            history,
            |model, optimizer, rng, history| {
                let Some(checkpointing) = checkpointing.as_ref() else {
                    return Ok(());
                };
                if history.epochs.len() % checkpointing.interval != 0 {
                    return Ok(());
                }
                let bytes = model.checkpoint_bytes(RunState {
                    optimizer: optimizer.state(),
                    generator: rng,
                    history,
                    config,
                    training_data: training,
                    validation_data: validating.as_ref(),
                })?;
                write(&checkpointing.path, &bytes)
            },
        )?;
        Ok(run.history.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::write_atomically_with;
    use crate::{Adam, Checkpoint, DenseBuilder, GaussianNoise};
    use rand::SeedableRng;
    use std::io::Write;

    #[test]
    fn a_checkpoint_write_that_fails_half_way_leaves_the_previous_one() {
        let folder = std::env::temp_dir().join(format!("ae-torn-{}", std::process::id()));
        std::fs::remove_dir_all(&folder).ok();
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join("run.safetensors");
        let x = DMatrix::from_fn(30, 6, |i, j| ((i * 7 + j * 3) % 10) as f32 / 10.0);
        let build = || {
            DenseBuilder::new(6, 3)
                .build::<f32, _>(&mut ChaCha8Rng::seed_from_u64(0))
                .unwrap()
                .with_corruption(GaussianNoise::new(0.1).unwrap())
        };
        let config = TrainingConfig::default().with_epochs(4).with_batch_size(8);

        // The first checkpoint is written; the second fails half-way through its bytes.
        let mut model = build();
        let mut run = TrainingRun::new(
            config,
            Adam::new(1e-2).unwrap(),
            ChaCha8Rng::seed_from_u64(1),
        )
        .with_checkpoints(Checkpointing::new(&path));
        let mut first = Vec::new();
        let writer = |path: &Path, bytes: &[u8]| {
            if first.is_empty() {
                first = bytes.to_vec();
                write_atomically(path, bytes)
            } else {
                write_atomically_with(path, bytes, |file, bytes| {
                    file.write_all(&bytes[..bytes.len() / 2])?;
                    Err(std::io::Error::other("disk full"))
                })
            }
        };
        let err = model
            .fit_resumable_writing(&x, None, &mut run, &mut (), writer)
            .unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
        assert_eq!(run.epochs_done(), 2, "the history keeps the second epoch");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            first,
            "the first checkpoint, intact"
        );
        let files = std::fs::read_dir(&folder).unwrap().count();
        assert_eq!(files, 1, "the temporary file is removed");

        // It loads, and resuming from it ends where a run without a break ends.
        let checkpoint = Checkpoint::<f32>::load(&path).unwrap();
        assert_eq!(checkpoint.epochs_done(), 1);
        let mut resumed = build();
        let mut rest = checkpoint
            .resume(&mut resumed, Adam::new(1e-2).unwrap())
            .unwrap();
        resumed.fit_resumable(&x, None, &mut rest, &mut ()).unwrap();
        let mut whole = build();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut adam = Adam::new(1e-2).unwrap();
        whole.fit(&x, &config, &mut adam, &mut rng).unwrap();
        let bits = |p: Vec<&[f32]>| -> Vec<Vec<u32>> {
            p.iter()
                .map(|t| t.iter().map(|v| v.to_bits()).collect())
                .collect()
        };
        assert_eq!(bits(resumed.parameters()), bits(whole.parameters()));
        assert_eq!(rest.optimizer(), &adam);
        assert_eq!(rest.rng(), &rng);
        std::fs::remove_dir_all(&folder).ok();
    }
}
