//! [`fit_resumable`](crate::Autoencoder::fit_resumable): training that writes checkpoints.

use super::checkpoint::{Extra, Recorded, RunState, checkpoint_file};
use super::parameters::{List, ParametersRecord};
use super::write_atomically;
use crate::parallel::Communicator;
use crate::run::{Checkpointing, TrainingRun};
use crate::source::InMemory;
use crate::{
    Autoencoder, Classifier, Corruption, Decoder, Encoder, Error, History, Loss, Observer,
    Optimizer, Regularizer, Result, SupervisedReport, Vae, VaeReport,
};
use nalgebra::DMatrix;
use std::path::Path;

impl<E, D, R, C, L> Autoencoder<E, D, R, C, L>
where
    E: Encoder,
    D: Decoder<E::Scalar>,
    R: Regularizer<E::Scalar>,
    C: Corruption<E::Scalar>,
    L: Loss<E::Scalar>,
{
    /// Trains as [`fit_with`](Self::fit_with) does, from epoch
    /// [`run.epochs_done()`](TrainingRun::epochs_done) to the run's configured number of
    /// epochs, saving a [`Checkpoint`](crate::Checkpoint) as `run`'s
    /// [`Checkpointing`](crate::Checkpointing) says. Returns the whole run's history (also in `run`).
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
    /// Before any work: as [`fit_with`](Self::fit_with), an invalid [`Checkpointing`](crate::Checkpointing), and
    /// [`Error::CheckpointMismatch`] when `x` or `validation` differ from the data the run was
    /// trained on, [`Error::NotResumable`] for a configuration with early stopping. During
    /// training: as [`fit_with`](Self::fit_with), and [`Error::Io`] when a
    /// checkpoint cannot be written (the previous checkpoint is then intact).
    pub fn fit_resumable<O, B>(
        &mut self,
        x: &DMatrix<E::Scalar>,
        validation: Option<&DMatrix<E::Scalar>>,
        run: &mut TrainingRun<O>,
        observer: &mut B,
    ) -> Result<History>
    where
        O: Optimizer<E::Scalar>,
        B: Observer + ?Sized,
    {
        self.fit_resumable_writing(
            x,
            validation,
            run,
            observer,
            write_atomically,
            &Extra::default(),
        )
    }

    /// [`fit_resumable`](Self::fit_resumable) data-parallel: every process of `communicator`
    /// runs it with the same model, data and run (fresh, or resumed from the same checkpoint),
    /// whose configuration shards its batches ([`TrainingConfig::with_shards`](crate::TrainingConfig::with_shards));
    /// rank 0 alone writes the checkpoints. As the parameters, the optimiser's state and the
    /// generator are the same on every rank, and a checkpoint records the shard size with the
    /// rest of the configuration, a checkpoint resumes on any number of processes (or in one,
    /// with [`fit_resumable`](Self::fit_resumable)) and the run ends with the bits of a run
    /// without a break.
    ///
    /// # Errors
    /// As [`fit_resumable`](Self::fit_resumable) and
    /// [`fit_parallel`](Self::fit_parallel).
    pub fn fit_resumable_parallel<O, B>(
        &mut self,
        x: &DMatrix<E::Scalar>,
        validation: Option<&DMatrix<E::Scalar>>,
        run: &mut TrainingRun<O>,
        communicator: &dyn Communicator,
        observer: &mut B,
    ) -> Result<History>
    where
        O: Optimizer<E::Scalar>,
        B: Observer + ?Sized,
    {
        crate::training::check_communicator(communicator, &run.config)?;
        let root = communicator.rank() == 0;
        self.fit_resumable_inner(
            x,
            validation,
            run,
            Some(communicator),
            observer,
            |path, bytes| {
                if root {
                    write_atomically(path, bytes)
                } else {
                    Ok(())
                }
            },
            &Extra::default(),
        )
    }

    /// [`fit_resumable`](Self::fit_resumable) with the file writer injected, so that tests can
    /// make a checkpoint write fail.
    pub(crate) fn fit_resumable_writing<O, B>(
        &mut self,
        x: &DMatrix<E::Scalar>,
        validation: Option<&DMatrix<E::Scalar>>,
        run: &mut TrainingRun<O>,
        observer: &mut B,
        write: impl FnMut(&Path, &[u8]) -> Result<()>,
        extra: &Extra,
    ) -> Result<History>
    where
        O: Optimizer<E::Scalar>,
        B: Observer + ?Sized,
    {
        self.fit_resumable_inner(x, validation, run, None, observer, write, extra)
    }

    /// The resumable run, with a communicator for a data-parallel one.
    #[allow(clippy::too_many_arguments)]
    fn fit_resumable_inner<O, B>(
        &mut self,
        x: &DMatrix<E::Scalar>,
        validation: Option<&DMatrix<E::Scalar>>,
        run: &mut TrainingRun<O>,
        communicator: Option<&dyn Communicator>,
        observer: &mut B,
        mut write: impl FnMut(&Path, &[u8]) -> Result<()>,
        extra: &Extra,
    ) -> Result<History>
    where
        O: Optimizer<E::Scalar>,
        B: Observer + ?Sized,
    {
        self.check_training(x, validation, &run.config)?;
        check_resumable(run)?;
        let fingerprints = run.check_data(x, validation)?;
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
            &mut InMemory::new(x),
            communicator,
            validation,
            config,
            optimizer,
            rng,
            observer,
            history,
            |model, optimizer, rng, history| {
                let Some(checkpointing) = due(checkpointing, history.epochs.len()) else {
                    return Ok(());
                };
                let bytes = model.checkpoint_bytes(
                    RunState {
                        optimizer: optimizer.state(),
                        generator: rng,
                        history,
                        config,
                        training_data: training,
                        validation_data: validating.as_ref(),
                    },
                    extra,
                )?;
                write(checkpointing.path(), &bytes)
            },
        )?;
        Ok(run.history.clone())
    }
}

/// Where to write a checkpoint after `epochs_done` epochs, if one is due then.
fn due(checkpointing: &Option<Checkpointing>, epochs_done: usize) -> Option<&Checkpointing> {
    checkpointing
        .as_ref()
        .filter(|c| epochs_done.is_multiple_of(c.interval()))
}

/// Writes the checkpoint of a model saved by its named tensors (`list`, described by
/// `record`) and the run's state, crash-safely.
fn write_named<T: crate::Scalar, R: Recorded>(
    checkpointing: &Checkpointing,
    list: &List<'_, T>,
    record: ParametersRecord,
    state: RunState<'_, T, R>,
) -> Result<()> {
    let bytes = checkpoint_file(list, state, &Extra::default(), |crc32| {
        record.with_crc32(crc32).to_json()
    })?;
    write_atomically(checkpointing.path(), &bytes)
}

/// What every resumable run refuses before any work: early stopping, whose best epoch's
/// parameters a checkpoint would have to hold too, and invalid checkpoint settings.
fn check_resumable<O, R>(run: &TrainingRun<O, R>) -> Result<()> {
    if run.config.early_stopping().is_some() {
        return Err(Error::NotResumable {
            what: "early stopping",
        });
    }
    match &run.checkpointing {
        Some(checkpointing) => checkpointing.validate(),
        None => Ok(()),
    }
}

impl<E: Encoder> Classifier<E> {
    /// Trains as [`fit_with`](Self::fit_with) does, from epoch
    /// [`run.epochs_done()`](TrainingRun::epochs_done) to the run's configured number of
    /// epochs, saving a [`ClassifierCheckpoint`](crate::ClassifierCheckpoint) as `run`'s
    /// [`Checkpointing`](crate::Checkpointing) says; returns the whole run's history.
    ///
    /// As for [`Autoencoder::fit_resumable`]: a fresh run gives the bits of `fit_with` with the
    /// same settings and generator, and a run resumed from a checkpoint (see
    /// [`ClassifierCheckpoint::resume`](crate::ClassifierCheckpoint::resume)), in any process,
    /// ends with the bits of a run without a break.
    ///
    /// # Errors
    /// Before any work: as [`fit_with`](Self::fit_with), an invalid checkpointing,
    /// [`Error::CheckpointMismatch`] when the data or labels differ from those the run was
    /// trained on, [`Error::NotResumable`] for early stopping. During training: as `fit_with`,
    /// and [`Error::Io`] when a checkpoint cannot be written.
    pub fn fit_resumable<O, B>(
        &mut self,
        x: &DMatrix<E::Scalar>,
        labels: &[usize],
        validation: Option<(&DMatrix<E::Scalar>, &[usize])>,
        run: &mut TrainingRun<O, SupervisedReport>,
        observer: &mut B,
    ) -> Result<History<SupervisedReport>>
    where
        O: Optimizer<E::Scalar>,
        B: Observer<SupervisedReport> + ?Sized,
    {
        self.check_training(x, labels, validation, &run.config)?;
        check_resumable(run)?;
        let fingerprints = run.check_labelled_data((x, labels), validation)?;
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
            labels,
            validation,
            config,
            optimizer,
            rng,
            observer,
            history,
            |model, optimizer, rng, history| {
                let Some(checkpointing) = due(checkpointing, history.epochs.len()) else {
                    return Ok(());
                };
                write_named(
                    checkpointing,
                    &List::from(model),
                    model.parameters_record(),
                    RunState {
                        optimizer: optimizer.state(),
                        generator: rng,
                        history,
                        config,
                        training_data: training,
                        validation_data: validating.as_ref(),
                    },
                )
            },
        )?;
        Ok(run.history.clone())
    }
}

impl<E, D, C> Vae<E, D, C>
where
    E: Encoder,
    D: Decoder<E::Scalar>,
    C: Corruption<E::Scalar>,
{
    /// Trains as [`fit_with`](Self::fit_with) does, from epoch
    /// [`run.epochs_done()`](TrainingRun::epochs_done) to the run's configured number of
    /// epochs, saving a [`VaeCheckpoint`](crate::VaeCheckpoint) as `run`'s
    /// [`Checkpointing`](crate::Checkpointing) says; returns the whole run's history.
    ///
    /// As for [`Autoencoder::fit_resumable`]: a fresh run gives the bits of `fit_with` with the
    /// same settings and generator, and a run resumed from a checkpoint (see
    /// [`VaeCheckpoint::resume`](crate::Checkpoint::resume)), in any process, ends with the
    /// bits of a run without a break, the KL warm-up included.
    ///
    /// # Errors
    /// Before any work: as [`fit_with`](Self::fit_with), an invalid checkpointing,
    /// [`Error::CheckpointMismatch`] when the data differ from those the run was trained on,
    /// [`Error::NotResumable`] for early stopping. During training: as `fit_with`, and
    /// [`Error::Io`] when a checkpoint cannot be written (the previous one is then intact).
    pub fn fit_resumable<O, B>(
        &mut self,
        x: &DMatrix<E::Scalar>,
        validation: Option<&DMatrix<E::Scalar>>,
        run: &mut TrainingRun<O, VaeReport>,
        observer: &mut B,
    ) -> Result<History<VaeReport>>
    where
        O: Optimizer<E::Scalar>,
        B: Observer<VaeReport> + ?Sized,
    {
        self.check_training(x, validation, &run.config)?;
        check_resumable(run)?;
        let fingerprints = run.check_data(x, validation)?;
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
            &mut InMemory::new(x),
            None,
            validation,
            config,
            optimizer,
            rng,
            observer,
            history,
            |model, optimizer, rng, history| {
                let Some(checkpointing) = due(checkpointing, history.epochs.len()) else {
                    return Ok(());
                };
                write_named(
                    checkpointing,
                    &List::from(model),
                    model.parameters_record(),
                    RunState {
                        optimizer: optimizer.state(),
                        generator: rng,
                        history,
                        config,
                        training_data: training,
                        validation_data: validating.as_ref(),
                    },
                )
            },
        )?;
        Ok(run.history.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::write_atomically_with;
    use crate::{Adam, Checkpoint, Checkpointing, DenseBuilder, GaussianNoise, TrainingConfig};
    use rand::SeedableRng;
    use rand::rngs::ChaCha8Rng;
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
            .fit_resumable_writing(&x, None, &mut run, &mut (), writer, &Extra::default())
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
