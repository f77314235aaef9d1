//! Layer-wise pretraining that writes checkpoints, and resumes from one in the middle of any
//! layer, bit for bit.

use super::checkpoint::{Extra, ReportRecord, RunState};
use super::parameters::{List, TensorBytes, assign, column_major};
use super::{ModelFileProblem, TensorFile, model_error, read_file, run_record, write_atomically};
use crate::run::TrainingRun;
use crate::{
    Autoencoder, Checkpoint, Checkpointing, EpochReport, Error, History, LayerBuilder, LayerSpec,
    LayerwisePretrainer, Optimizer, PretrainedStack, Result, Scalar, StackedEncoder, StopReason,
};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::ops::ControlFlow;
use std::path::Path;

/// The record key (section `pretraining` of the envelope) of a pretraining checkpoint's record: JSON with `format_version`, the
/// `finished` layers (each with its `parameters`, names and shapes, its `history` and its
/// `stop_reason`), and `current_finished`, the stop reason of the layer in the checkpoint when
/// that layer has finished too.
pub const PRETRAINING_KEY: &str = "autoencoders.pretraining";

const PRETRAINING_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PretrainingRecord {
    format_version: u32,
    finished: Vec<FinishedRecord>,
    current_finished: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FinishedRecord {
    parameters: Vec<(String, Vec<usize>)>,
    history: Vec<ReportRecord>,
    stop_reason: String,
}

pub(crate) fn stop_reason_name(reason: StopReason) -> &'static str {
    match reason {
        StopReason::Completed => "completed",
        StopReason::Observer => "observer",
        StopReason::UpdateBudget => "update-budget",
        StopReason::EarlyStopping => "early-stopping",
    }
}

pub(crate) fn stop_reason(name: &str) -> std::result::Result<StopReason, ModelFileProblem> {
    match name {
        "completed" => Ok(StopReason::Completed),
        "observer" => Ok(StopReason::Observer),
        "update-budget" => Ok(StopReason::UpdateBudget),
        "early-stopping" => Ok(StopReason::EarlyStopping),
        _ => Err(ModelFileProblem::InvalidMetadata {
            detail: format!("unknown stop reason `{name}`"),
        }),
    }
}

/// The name in a pretraining checkpoint of tensor `name` of finished layer `layer`.
fn finished_tensor(layer: usize, name: &str) -> String {
    format!("pretrained.{layer}.{name}")
}

/// A finished layer of a checkpointed pretraining run.
#[derive(Clone, Debug)]
struct Finished<T> {
    parameters: Vec<(String, Vec<usize>)>,
    /// Column-major, in the order of `parameters`.
    values: Vec<Vec<T>>,
    history: History,
}

/// A layer-wise pretraining run saved by
/// [`pretrain_resumable`](LayerwisePretrainer::pretrain_resumable) after an epoch of one of its
/// layers: the layers finished before it (their parameters and histories), and that layer's
/// own [`Checkpoint`] (its model, optimiser, generator, history and data fingerprint).
///
/// The file is a checkpoint of the layer in training, with the finished layers' tensors added
/// as `pretrained.<layer>.<name>` (`pretrained.0.encoder.weight`, …) and a record under
/// [`PRETRAINING_KEY`]; it requires the whole-file checksum, so any damage is refused.
#[derive(Debug)]
pub struct PretrainingCheckpoint<T: Scalar> {
    finished: Vec<Finished<T>>,
    current: Checkpoint<T>,
    current_finished: Option<StopReason>,
}

impl<T: Scalar> PretrainingCheckpoint<T> {
    /// Loads a checkpoint written by
    /// [`pretrain_resumable`](LayerwisePretrainer::pretrain_resumable).
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::ModelFile`] for a damaged file, one of another dtype, or one
    /// that is not a pretraining checkpoint ([`ModelFileProblem::NotACheckpoint`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let (bytes, name) = read_file(path.as_ref())?;
        Self::from_safetensors(&bytes, &name)
    }

    /// [`load`](Self::load) from bytes; `name` identifies them in errors.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn from_safetensors(bytes: &[u8], name: &str) -> Result<Self> {
        let file = TensorFile::parse(bytes, name, true)?;
        let fail = |problem| model_error(name, problem);
        let invalid = |detail: String| fail(ModelFileProblem::InvalidMetadata { detail });
        let record: PretrainingRecord = run_record(&file, name, PRETRAINING_KEY)?;
        if record.format_version != PRETRAINING_VERSION {
            return Err(invalid(format!(
                "pretraining format_version {} is not {PRETRAINING_VERSION}",
                record.format_version
            )));
        }
        file.check_listed(
            record.finished.iter().map(|f| f.parameters.len()).sum(),
            record
                .finished
                .iter()
                .enumerate()
                .flat_map(|(l, f)| f.parameters.iter().map(move |(n, _)| finished_tensor(l, n))),
        )?;
        let extra: Vec<String> = record
            .finished
            .iter()
            .enumerate()
            .flat_map(|(l, f)| f.parameters.iter().map(move |(n, _)| finished_tensor(l, n)))
            .collect();
        let current = Checkpoint::from_file(&file, name, &extra)?;
        let finished = record
            .finished
            .iter()
            .enumerate()
            .map(|(l, f)| {
                let values = f
                    .parameters
                    .iter()
                    .map(|(n, shape)| {
                        let tensor = finished_tensor(l, n);
                        Ok(column_major(shape, file.values::<T>(&tensor, shape)?))
                    })
                    .collect::<Result<Vec<_>>>()?;
                let reason = stop_reason(&f.stop_reason).map_err(fail)?;
                Ok(Finished {
                    parameters: f.parameters.clone(),
                    values,
                    history: ReportRecord::history(&f.history, reason).map_err(fail)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let current_finished = match &record.current_finished {
            Some(reason) => Some(stop_reason(reason).map_err(fail)?),
            None => None,
        };
        Ok(Self {
            finished,
            current,
            current_finished,
        })
    }

    /// The layer the checkpoint was written in (from 0): the number of layers finished before.
    pub fn layer(&self) -> usize {
        self.finished.len()
    }

    /// Epochs of that layer completed when the checkpoint was written.
    pub fn epochs_done(&self) -> usize {
        self.current.epochs_done()
    }

    /// Whether that layer had finished its training too.
    pub fn layer_finished(&self) -> bool {
        self.current_finished.is_some()
    }
}

/// What the finished layers add to every checkpoint of the layer in training.
fn extra(
    tensors: &[TensorBytes],
    records: &[FinishedRecord],
    current_finished: Option<StopReason>,
) -> Extra {
    let record = PretrainingRecord {
        format_version: PRETRAINING_VERSION,
        finished: records.to_vec(),
        current_finished: current_finished.map(|r| stop_reason_name(r).to_owned()),
    };
    Extra {
        tensors: tensors.to_vec(),
        metadata: vec![(
            PRETRAINING_KEY.to_owned(),
            serde_json::to_string(&record).unwrap_or_default(),
        )],
    }
}

impl<T: Scalar, B: LayerBuilder<T>> LayerwisePretrainer<T, B> {
    /// [`pretrain_with`](Self::pretrain_with) with a ChaCha8 generator, writing a
    /// [`PretrainingCheckpoint`] as `checkpointing` says — after every `interval` epochs of
    /// each layer, and when a layer finishes — and resuming from `resume` when given.
    ///
    /// Without `resume`, the run gives the same bits as `pretrain_with(x, &mut rng, observer)`.
    /// With it, the run continues where the checkpointed one was — the finished layers as they
    /// were, the layer in training from its saved epoch, with its optimiser's state and the
    /// generator — and ends with the same stack, decoders and histories, bit for bit, as a run
    /// without a break. The pretrainer must be built as the checkpointed one was (the same
    /// layers, builders, parts and settings; a layer's own checks are
    /// [`Checkpoint::resume`]'s), and `x` must be the same data.
    ///
    /// ```
    /// use autoencoders::{Checkpointing, LayerSpec, LayerwisePretrainer, PretrainingCheckpoint};
    /// use autoencoders::TrainingConfig;
    /// use nalgebra::DMatrix;
    /// use rand::{SeedableRng, rngs::ChaCha8Rng};
    /// use std::ops::ControlFlow;
    ///
    /// let x = DMatrix::<f64>::from_fn(32, 8, |i, j| ((i * 3 + j) % 7) as f64 / 7.0);
    /// let quick = TrainingConfig::default().with_epochs(4).with_batch_size(8);
    /// let pretrainer = || LayerwisePretrainer::new()
    ///     .with_layer(LayerSpec::new(6).with_training(quick))
    ///     .with_layer(LayerSpec::new(3).with_training(quick));
    /// let path = std::env::temp_dir().join("autoencoders-doc-pretraining.safetensors");
    /// let copy = std::env::temp_dir().join("autoencoders-doc-pretraining-copy.safetensors");
    /// let checkpointing = Checkpointing::new(&path);
    ///
    /// // A run with a checkpoint after every epoch; keep the one of layer 2's second epoch,
    /// // as a crash right after it would leave the file.
    /// let mut keep = |layer: usize, report: &autoencoders::EpochReport| {
    ///     if layer == 1 && report.epoch == 1 {
    ///         std::fs::copy(&path, &copy).ok();
    ///     }
    ///     ControlFlow::Continue(())
    /// };
    /// let whole = pretrainer()
    ///     .pretrain_resumable(&x, ChaCha8Rng::seed_from_u64(7), Some(&checkpointing), None, &mut keep)?;
    ///
    /// let checkpoint = PretrainingCheckpoint::<f64>::load(&copy)?;
    /// assert_eq!((checkpoint.layer(), checkpoint.epochs_done()), (1, 2));
    /// let mut go_on = |_: usize, _: &autoencoders::EpochReport| ControlFlow::Continue(());
    /// let resumed = pretrainer()
    ///     .pretrain_resumable(&x, ChaCha8Rng::seed_from_u64(0), None, Some(checkpoint), &mut go_on)?;
    /// assert_eq!(resumed.encoder, whole.encoder);
    /// assert_eq!(resumed.histories, whole.histories);
    /// # std::fs::remove_file(path).ok();
    /// # std::fs::remove_file(copy).ok();
    /// # Ok::<(), autoencoders::Error>(())
    /// ```
    ///
    /// As in [`pretrain_with`](Self::pretrain_with), the observer's `Break` ends a layer early;
    /// the checkpoint written then marks the layer finished, so a resumed run goes on with the
    /// next one.
    ///
    /// # Errors
    /// As [`pretrain_with`](Self::pretrain_with) and
    /// [`fit_resumable`](crate::Autoencoder::fit_resumable) (early stopping is not resumable);
    /// [`Error::CheckpointMismatch`] when `resume` does not fit this pretrainer or `x`;
    /// [`Error::Io`] when a checkpoint cannot be written (the previous one is then intact).
    pub fn pretrain_resumable<F>(
        self,
        x: &DMatrix<T>,
        rng: ChaCha8Rng,
        checkpointing: Option<&Checkpointing>,
        resume: Option<PretrainingCheckpoint<T>>,
        observer: &mut F,
    ) -> Result<PretrainedStack<T, B::Encoder, B::Decoder>>
    where
        F: FnMut(usize, &EpochReport) -> ControlFlow<()>,
    {
        crate::validate::check_nonzero(self.layers.len(), "number of layers")?;
        if let Some(checkpointing) = checkpointing {
            checkpointing.validate()?;
        }
        let (finished, mut current, current_finished) = match resume {
            Some(c) => (c.finished, Some(c.current), c.current_finished),
            None => (Vec::new(), None, None),
        };
        if finished.len() >= self.layers.len() {
            return Err(Error::CheckpointMismatch {
                what: "the number of layers",
            });
        }
        let layers = self.layers.len();
        let mut rng = rng;
        let mut encoders = Vec::with_capacity(layers);
        let mut decoders = Vec::with_capacity(layers);
        let mut histories = Vec::with_capacity(layers);
        let mut tensors: Vec<TensorBytes> = Vec::new();
        let mut records: Vec<FinishedRecord> = Vec::new();
        let mut codes: Option<DMatrix<T>> = None;
        for (index, spec) in self.layers.into_iter().enumerate() {
            let input = codes.as_ref().unwrap_or(x);
            let LayerSpec {
                builder,
                loss,
                regularizer,
                corruption,
                training,
                optimizer,
            } = spec;
            let saved = index < finished.len() || (index == finished.len() && current.is_some());
            // The parameters of a layer that was saved replace what the builder draws, so it
            // draws from a generator of its own and the run's stays where the checkpoint was.
            let (encoder, decoder) = if saved {
                builder.build(input.ncols(), &mut ChaCha8Rng::seed_from_u64(0))?
            } else {
                builder.build(input.ncols(), &mut rng)?
            };
            let mut model = Autoencoder::new(encoder, decoder)?
                .with_loss(loss)
                .with_regularizer(regularizer)
                .with_corruption(corruption);
            let history = if let Some(done) = finished.get(index) {
                let list = List::from(&model);
                let own: Vec<(String, Vec<usize>)> =
                    list.names.into_iter().zip(list.shapes).collect();
                if own != done.parameters {
                    return Err(Error::CheckpointMismatch {
                        what: "a finished layer's tensors (their names and shapes)",
                    });
                }
                assign(model.parameters_mut(), done.values.clone());
                done.history.clone()
            } else {
                let mut run = match current.take() {
                    Some(checkpoint) => {
                        let run = checkpoint.resume(&mut model, optimizer)?;
                        if run.config() != &training {
                            return Err(Error::CheckpointMismatch {
                                what: "the layer's training settings",
                            });
                        }
                        run
                    }
                    None => TrainingRun::new(
                        training,
                        optimizer,
                        std::mem::replace(&mut rng, ChaCha8Rng::seed_from_u64(0)),
                    ),
                };
                let history = match current_finished.filter(|_| index == finished.len()) {
                    Some(reason) => {
                        // The checkpointed layer had finished: only the check of its data
                        // remains, which its next layer's inputs depend on.
                        run.check_data(input, None)?;
                        let mut history = run.history().clone();
                        history.stop_reason = reason;
                        history
                    }
                    None => train_layer(
                        &mut model,
                        input,
                        &mut run,
                        checkpointing,
                        (&tensors, &records),
                        &mut |report: &EpochReport| observer(index, report),
                    )?,
                };
                let (_, next, _) = run.into_parts();
                rng = next;
                history
            };
            let next_codes = model.encode(input)?;
            let list = List::from(&model);
            records.push(FinishedRecord {
                parameters: list
                    .names
                    .iter()
                    .cloned()
                    .zip(list.shapes.iter().cloned())
                    .collect(),
                history: history.epochs.iter().map(ReportRecord::of).collect(),
                stop_reason: stop_reason_name(history.stop_reason).to_owned(),
            });
            tensors.extend(
                list.tensors()?
                    .into_iter()
                    .map(|(n, shape, bytes)| (finished_tensor(index, &n), shape, bytes)),
            );
            let (encoder, decoder, _, _) = model.into_parts();
            encoders.push(encoder);
            decoders.push(decoder);
            histories.push(history);
            codes = Some(next_codes);
        }
        Ok(PretrainedStack {
            encoder: StackedEncoder::new(encoders)?,
            decoders,
            histories,
        })
    }
}

/// Trains one layer under `run`, checkpointing with the finished layers beside it, and writes
/// a last checkpoint that marks the layer finished.
fn train_layer<E, D, R, C, L, O>(
    model: &mut Autoencoder<E, D, R, C, L>,
    input: &DMatrix<E::Scalar>,
    run: &mut TrainingRun<O>,
    checkpointing: Option<&Checkpointing>,
    (tensors, records): (&[TensorBytes], &[FinishedRecord]),
    observer: &mut dyn FnMut(&EpochReport) -> ControlFlow<()>,
) -> Result<History>
where
    E: crate::Encoder,
    D: crate::Decoder<E::Scalar>,
    R: crate::Regularizer<E::Scalar>,
    C: crate::Corruption<E::Scalar>,
    L: crate::Loss<E::Scalar>,
    O: Optimizer<E::Scalar>,
{
    run.checkpointing = checkpointing.cloned();
    let during = extra(tensors, records, None);
    let mut history = model.fit_resumable_writing(
        input,
        None,
        run,
        &mut &mut *observer,
        write_atomically,
        &during,
    )?;
    if let (Some(checkpointing), Some((training, _))) = (checkpointing, &run.data) {
        let bytes = model.checkpoint_bytes(
            RunState {
                optimizer: run.optimizer.state(),
                generator: &run.rng,
                history: &run.history,
                config: &run.config,
                training_data: training,
                validation_data: None,
            },
            &extra(tensors, records, Some(run.history.stop_reason)),
        )?;
        write_atomically(checkpointing.path(), &bytes)?;
    }
    history.stop_reason = run.history.stop_reason;
    Ok(history)
}
