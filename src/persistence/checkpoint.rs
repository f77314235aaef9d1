//! Checkpoints: a training run saved between epochs, to be resumed bit for bit.

use super::parameters::{List, ParametersRecord, assign, column_major, parameters_record};
use super::record::{ModelRecord, PartsRecord};
use super::{
    ModelFileProblem, TensorFile, dtype_of, matrix_bytes, model_error, read_file,
    read_layers_among, serialize_with, vector_bytes,
};
use crate::run::{DataFingerprint, TrainingRun};
use crate::{
    Autoencoder, Corruption, Decay, Decoder, DenseDecoder, DenseEncoder, DynamicAutoencoder,
    Encoder, EpochReport, Error, History, LearningRateSchedule, Loss, Optimizer, OptimizerState,
    Regularizer, Result, Scalar, StopReason, SupervisedReport, TrainingConfig, Vae, VaeReport,
};
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The record key of the checkpoint's training state, JSON: the section `checkpoint` of the
/// metadata's envelope (a metadata key of its own in older files).
pub const CHECKPOINT_KEY: &str = "autoencoders.checkpoint";
/// The record key of the CRC-32 (IEEE, 8 hex digits) of the JSON under [`CHECKPOINT_KEY`]:
/// the section `checkpoint.crc32`.
pub const CHECKPOINT_CHECKSUM_KEY: &str = "autoencoders.checkpoint.crc32";

/// The version of the checkpoint record this crate writes.
const CHECKPOINT_VERSION: u32 = 1;

/// The generator a checkpoint can save.
const GENERATOR: &str = "ChaCha8";

/// A training run saved after an epoch by [`fit_resumable`](Autoencoder::fit_resumable): the
/// model, the optimiser's state, the generator's state, the settings, the history, and
/// fingerprints of the data, from which the run continues bit for bit.
///
/// # Resuming is exact
/// Training `k` epochs, saving, loading in a new process and training the remaining epochs
/// gives the same parameters, optimiser state, generator state and history, bit for bit, as
/// training without a break. That holds because an epoch depends only on what a checkpoint
/// saves: the parameters, the optimiser's state (momentum, Adam's moments and step count), the
/// generator's position in its stream (every epoch shuffles the original order afresh), and the
/// data, which must be the same (checked by fingerprint).
///
/// # File layout
/// A safetensors file, in the model's dtype, row-major, with
///
/// | tensor | shape |
/// | --- | --- |
/// | the model's tensors, as [`save_parameters`](Autoencoder::save_parameters) writes them (for a one-layer dense model, as [`save`](Autoencoder::save) does) | |
/// | `optimizer.<state>.<parameter>`, e.g. `optimizer.m.encoder.weight` | the parameter's |
///
/// and, in the envelope under the metadata key `autoencoders` (see [the module](super)), the
/// whole-file `crc32` and three sections:
/// - `model`: the model — for one dense layer each way its architecture, as in a saved
///   model; for any other model (a stack, a user's own layers) the parameters record, with
///   each tensor's name and shape and the loss, regularizers and corruption — whose `crc32`
///   covers the whole tensor data section (model and optimiser tensors);
/// - `checkpoint`: JSON with `format_version`, `epochs_done`, `config`
///   (`epochs`, `batch_size`, `shuffle`), `generator` (`algorithm` `"ChaCha8"`, `seed` as 64 hex
///   digits, `stream`, `word_pos`), `optimizer` (`kind`, `hyper_parameters`, `counters` and the
///   names of its `tensors`), `history` (one report per epoch; a non-finite value is written as
///   the string `"NaN"`, `"inf"` or `"-inf"`), and `training_data` and `validation_data`
///   (`rows`, `columns` and the `crc32` of the values);
/// - `checkpoint.crc32`: the CRC-32 of that JSON text.
///
/// Files are written crash-safely: to a temporary file in the same folder, fsynced, renamed
/// over the previous checkpoint, and the folder fsynced. A write that fails half-way leaves the
/// previous checkpoint as it was.
///
/// ```
/// use autoencoders::{Adam, Checkpoint, Checkpointing, DenseBuilder, GaussianNoise};
/// use autoencoders::{TrainingConfig, TrainingRun};
/// use nalgebra::DMatrix;
/// use rand::{SeedableRng, rngs::ChaCha8Rng};
///
/// let x = DMatrix::from_fn(40, 6, |i, j| ((i * 7 + j * 3) % 10) as f32 / 10.0);
/// let build = || -> autoencoders::Result<_> {
///     Ok(DenseBuilder::new(6, 3)
///         .build::<f32, _>(&mut ChaCha8Rng::seed_from_u64(0))?
///         .with_corruption(GaussianNoise::new(0.1)?))
/// };
/// let path = std::env::temp_dir().join("autoencoders-doc-checkpoint.safetensors");
/// let config = TrainingConfig::default().with_epochs(4).with_batch_size(16);
///
/// // Four epochs without a break.
/// let mut model = build()?;
/// let mut whole = TrainingRun::new(config, Adam::new(1e-2)?, ChaCha8Rng::seed_from_u64(1));
/// model.fit_resumable(&x, None, &mut whole, &mut ())?;
///
/// // Two epochs and a checkpoint; then, in a model built afresh, the other two.
/// let mut first = build()?;
/// let mut half = TrainingRun::new(config, Adam::new(1e-2)?, ChaCha8Rng::seed_from_u64(1))
///     .with_epochs(2)
///     .with_checkpoints(Checkpointing::new(&path));
/// first.fit_resumable(&x, None, &mut half, &mut ())?;
///
/// let checkpoint = Checkpoint::<f32>::load(&path)?;
/// assert_eq!(checkpoint.epochs_done(), 2);
/// let mut resumed = build()?;
/// let mut rest = checkpoint.resume(&mut resumed, Adam::new(1e-2)?)?.with_epochs(4);
/// resumed.fit_resumable(&x, None, &mut rest, &mut ())?;
///
/// assert_eq!(resumed.parameters(), model.parameters());
/// assert_eq!(rest.history(), whole.history());
/// assert_eq!(rest.optimizer(), whole.optimizer());
/// assert_eq!(rest.rng(), whole.rng());
/// # std::fs::remove_file(path).ok();
/// # Ok::<(), autoencoders::Error>(())
/// ```
///
/// The same type holds the checkpoints of the other models, by the kind of their epoch
/// reports: [`ClassifierCheckpoint`] (`Checkpoint<T, SupervisedReport>`) and
/// [`VaeCheckpoint`] (`Checkpoint<T, VaeReport>`); each has its own `resume`.
#[derive(Debug)]
pub struct Checkpoint<T: Scalar, R = EpochReport> {
    saved: Saved<T, R>,
}

/// A run to continue, and the saved parameters (column-major, in the model's order).
type Resumed<O, T, R> = (TrainingRun<O, R>, Vec<Vec<T>>);

/// What a checkpoint holds, for a run whose epochs report `R`.
#[derive(Debug)]
pub(crate) struct Saved<T: Scalar, R> {
    model: SavedModel<T>,
    optimizer: OptimizerState<T>,
    generator: ChaCha8Rng,
    history: History<R>,
    config: TrainingConfig,
    training_data: DataFingerprint,
    validation_data: Option<DataFingerprint>,
}

/// The model a checkpoint holds.
#[derive(Debug)]
enum SavedModel<T: Scalar> {
    /// A one-layer dense model, with its whole architecture.
    Dense {
        record: ModelRecord,
        encoder: DenseEncoder<T>,
        decoder: DenseDecoder<T>,
    },
    /// Any other: its tensors by name, and its loss, regularizers and corruption.
    Named {
        record: ParametersRecord,
        /// Column-major, in the record's order.
        values: Vec<Vec<T>>,
    },
}

/// More for a checkpoint to hold: tensors and metadata entries of a run around the model's
/// (a layer-wise pretraining run's finished layers).
#[derive(Clone, Debug, Default)]
pub(crate) struct Extra {
    pub(crate) tensors: Vec<super::parameters::TensorBytes>,
    pub(crate) metadata: Vec<(String, String)>,
}

/// What a checkpoint saves besides the model, borrowed from a run in progress.
pub(crate) struct RunState<'a, T, R = EpochReport> {
    pub(crate) optimizer: OptimizerState<T>,
    pub(crate) generator: &'a ChaCha8Rng,
    pub(crate) history: &'a History<R>,
    pub(crate) config: &'a TrainingConfig,
    pub(crate) training_data: &'a DataFingerprint,
    pub(crate) validation_data: Option<&'a DataFingerprint>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    bound = "H: Serialize + serde::de::DeserializeOwned"
)]
struct CheckpointRecord<H> {
    format_version: u32,
    epochs_done: usize,
    config: ConfigRecord,
    generator: GeneratorRecord,
    optimizer: OptimizerRecord,
    history: Vec<H>,
    training_data: DataRecord,
    validation_data: Option<DataRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigRecord {
    epochs: usize,
    batch_size: usize,
    shuffle: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schedule: Option<ScheduleRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_updates: Option<u64>,
    /// Samples per shard of a data-parallel run's batches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shard: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleRecord {
    initial: f64,
    warm_up: u64,
    decay: DecayRecord,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum DecayRecord {
    Constant,
    Step { every: u64, factor: f64 },
    Exponential { factor: f64 },
    Cosine { over: u64, minimum: f64 },
}

impl ScheduleRecord {
    fn of(schedule: &LearningRateSchedule) -> Self {
        let decay = match schedule.decay() {
            Decay::Step { every, factor } => DecayRecord::Step { every, factor },
            Decay::Exponential { factor } => DecayRecord::Exponential { factor },
            Decay::Cosine { over, minimum } => DecayRecord::Cosine { over, minimum },
            // Exhaustive on purpose (`non_exhaustive` binds only other crates): a new decay
            // must get a record of its own, not be saved as another.
            Decay::Constant => DecayRecord::Constant,
        };
        Self {
            initial: schedule.initial(),
            warm_up: schedule.warm_up(),
            decay,
        }
    }

    fn schedule(&self) -> crate::Result<LearningRateSchedule> {
        let decay = match self.decay {
            DecayRecord::Constant => Decay::Constant,
            DecayRecord::Step { every, factor } => Decay::Step { every, factor },
            DecayRecord::Exponential { factor } => Decay::Exponential { factor },
            DecayRecord::Cosine { over, minimum } => Decay::Cosine { over, minimum },
        };
        LearningRateSchedule::new(self.initial, decay)?.with_warm_up(self.warm_up)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GeneratorRecord {
    algorithm: String,
    seed: String,
    stream: u64,
    word_pos: u128,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OptimizerRecord {
    kind: String,
    hyper_parameters: BTreeMap<String, JsonFloat>,
    counters: BTreeMap<String, u64>,
    tensors: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[doc(hidden)]
pub struct ReportRecord {
    epoch: usize,
    reconstruction_loss: JsonFloat,
    penalty: JsonFloat,
    objective: JsonFloat,
    validation_loss: Option<JsonFloat>,
}

impl ReportRecord {
    pub(crate) fn of(r: &EpochReport) -> Self {
        Self {
            epoch: r.epoch,
            reconstruction_loss: JsonFloat(r.reconstruction_loss),
            penalty: JsonFloat(r.penalty),
            objective: JsonFloat(r.objective),
            validation_loss: r.validation_loss.map(JsonFloat),
        }
    }

    pub(crate) fn report(&self) -> EpochReport {
        EpochReport {
            epoch: self.epoch,
            reconstruction_loss: self.reconstruction_loss.0,
            penalty: self.penalty.0,
            objective: self.objective.0,
            validation_loss: self.validation_loss.map(|v| v.0),
        }
    }

    /// The reports of a history, which must list epochs 0, 1, … in order.
    pub(crate) fn history(
        records: &[Self],
        stop_reason: StopReason,
    ) -> std::result::Result<History, ModelFileProblem> {
        history_of::<EpochReport>(records, stop_reason)
    }
}

/// A supervised epoch's report as a checkpoint's history records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[doc(hidden)]
pub struct SupervisedRecord {
    epoch: usize,
    loss: JsonFloat,
    accuracy: JsonFloat,
    validation_loss: Option<JsonFloat>,
    validation_accuracy: Option<JsonFloat>,
}

/// An epoch's report and how a checkpoint records it: implemented by the crate's report types
/// only (public, so that it can bound [`Checkpoint`]'s methods, in a module no one outside
/// can name).
pub trait Recorded: Copy {
    /// The `model` of the parameters record of a checkpoint of runs reporting this.
    const MODEL: &'static str;
    #[doc(hidden)]
    type Record: Clone + std::fmt::Debug + PartialEq + Serialize + serde::de::DeserializeOwned;
    fn record(&self) -> Self::Record;
    fn from_record(record: &Self::Record) -> Self;
    fn epoch(record: &Self::Record) -> usize;
}

impl Recorded for EpochReport {
    const MODEL: &'static str = "autoencoder";
    type Record = ReportRecord;
    fn record(&self) -> ReportRecord {
        ReportRecord::of(self)
    }
    fn from_record(record: &ReportRecord) -> Self {
        record.report()
    }
    fn epoch(record: &ReportRecord) -> usize {
        record.epoch
    }
}

impl Recorded for SupervisedReport {
    const MODEL: &'static str = "classifier";
    type Record = SupervisedRecord;
    fn record(&self) -> SupervisedRecord {
        SupervisedRecord {
            epoch: self.epoch,
            loss: JsonFloat(self.loss),
            accuracy: JsonFloat(self.accuracy),
            validation_loss: self.validation_loss.map(JsonFloat),
            validation_accuracy: self.validation_accuracy.map(JsonFloat),
        }
    }
    fn from_record(r: &SupervisedRecord) -> Self {
        SupervisedReport {
            epoch: r.epoch,
            loss: r.loss.0,
            accuracy: r.accuracy.0,
            validation_loss: r.validation_loss.map(|v| v.0),
            validation_accuracy: r.validation_accuracy.map(|v| v.0),
        }
    }
    fn epoch(record: &SupervisedRecord) -> usize {
        record.epoch
    }
}

/// A [`VaeReport`] as a checkpoint's history records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[doc(hidden)]
pub struct VaeRecord {
    epoch: usize,
    reconstruction: JsonFloat,
    kl: JsonFloat,
    kl_weight: JsonFloat,
    objective: JsonFloat,
    validation_loss: Option<JsonFloat>,
}

impl Recorded for VaeReport {
    const MODEL: &'static str = "vae";
    type Record = VaeRecord;
    fn record(&self) -> VaeRecord {
        VaeRecord {
            epoch: self.epoch,
            reconstruction: JsonFloat(self.reconstruction),
            kl: JsonFloat(self.kl),
            kl_weight: JsonFloat(self.kl_weight),
            objective: JsonFloat(self.objective),
            validation_loss: self.validation_loss.map(JsonFloat),
        }
    }
    fn from_record(r: &VaeRecord) -> Self {
        VaeReport {
            epoch: r.epoch,
            reconstruction: r.reconstruction.0,
            kl: r.kl.0,
            kl_weight: r.kl_weight.0,
            objective: r.objective.0,
            validation_loss: r.validation_loss.map(|v| v.0),
        }
    }
    fn epoch(record: &VaeRecord) -> usize {
        record.epoch
    }
}

/// The reports of a history, which must list epochs 0, 1, … in order.
fn history_of<R: Recorded>(
    records: &[R::Record],
    stop_reason: StopReason,
) -> std::result::Result<History<R>, ModelFileProblem> {
    if !records.iter().enumerate().all(|(i, r)| R::epoch(r) == i) {
        return Err(invalid(
            "the history does not list epochs 0 to epochs_done - 1 in order".to_owned(),
        ));
    }
    Ok(History {
        epochs: records.iter().map(R::from_record).collect(),
        stop_reason,
        best_epoch: None,
    })
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DataRecord {
    rows: usize,
    columns: usize,
    crc32: String,
}

/// An `f64` in JSON: a number when finite (written in the shortest form that reads back to the
/// same bits), else the string `"NaN"`, `"inf"` or `"-inf"`, which JSON numbers cannot hold.
#[derive(Clone, Copy, Debug, PartialEq)]
struct JsonFloat(f64);

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum JsonFloatRepr {
    Number(f64),
    Text(String),
}

impl Serialize for JsonFloat {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let repr = match self.0 {
            v if v.is_finite() => JsonFloatRepr::Number(v),
            v if v.is_nan() => JsonFloatRepr::Text("NaN".to_owned()),
            v if v > 0.0 => JsonFloatRepr::Text("inf".to_owned()),
            _ => JsonFloatRepr::Text("-inf".to_owned()),
        };
        repr.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for JsonFloat {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match JsonFloatRepr::deserialize(deserializer)? {
            JsonFloatRepr::Number(v) => Ok(JsonFloat(v)),
            JsonFloatRepr::Text(t) => match t.as_str() {
                "NaN" => Ok(JsonFloat(f64::NAN)),
                "inf" => Ok(JsonFloat(f64::INFINITY)),
                "-inf" => Ok(JsonFloat(f64::NEG_INFINITY)),
                _ => Err(serde::de::Error::custom(format!(
                    "`{t}` is neither a number nor NaN, inf or -inf"
                ))),
            },
        }
    }
}

impl DataRecord {
    pub(crate) fn from_fingerprint(f: &DataFingerprint) -> Self {
        Self {
            rows: f.rows,
            columns: f.columns,
            crc32: format!("{:08x}", f.crc32),
        }
    }

    pub(crate) fn fingerprint(&self) -> std::result::Result<DataFingerprint, ModelFileProblem> {
        Ok(DataFingerprint {
            rows: self.rows,
            columns: self.columns,
            crc32: parse_crc(&self.crc32)?,
        })
    }
}

fn invalid(detail: String) -> ModelFileProblem {
    ModelFileProblem::InvalidMetadata { detail }
}

fn parse_crc(hex: &str) -> std::result::Result<u32, ModelFileProblem> {
    if hex.len() == 8
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && let Ok(value) = u32::from_str_radix(hex, 16)
    {
        return Ok(value);
    }
    Err(invalid(format!("crc32 `{hex}` is not 8 hex digits")))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_seed(text: &str) -> std::result::Result<[u8; 32], ModelFileProblem> {
    let fail = || invalid(format!("generator seed `{text}` is not 64 hex digits"));
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(fail());
    }
    let mut seed = [0u8; 32];
    for (byte, pair) in seed.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).map_err(|_| fail())?;
        *byte = u8::from_str_radix(pair, 16).map_err(|_| fail())?;
    }
    Ok(seed)
}

/// The model's parameters, in [`parameters`](Autoencoder::parameters) order: name and row-major
/// shape (`[rows, columns]` for a weight matrix, `[length]` for a bias).
fn parameter_shapes(input_dim: usize, code_dim: usize, tied: bool) -> Vec<(String, Vec<usize>)> {
    let mut shapes = vec![
        ("encoder.weight".to_owned(), vec![code_dim, input_dim]),
        ("encoder.bias".to_owned(), vec![code_dim]),
    ];
    if !tied {
        shapes.push(("decoder.weight".to_owned(), vec![input_dim, code_dim]));
    }
    shapes.push(("decoder.bias".to_owned(), vec![input_dim]));
    shapes
}

fn optimizer_tensor_name(state: &str, parameter: &str) -> String {
    format!("optimizer.{state}.{parameter}")
}

/// The most named tensors, hyper-parameters or counters an optimiser state may list. The
/// crate's optimisers list at most three of each; the bound is there so that a record listing
/// millions is refused before they are built.
const MAX_OPTIMIZER_ENTRIES: usize = 64;

/// Refuses a checkpoint record whose optimiser lists more than [`MAX_OPTIMIZER_ENTRIES`]
/// tensors, hyper-parameters or counters, counting them without building them.
fn check_optimizer_sizes(json: &str) -> std::result::Result<(), ModelFileProblem> {
    use super::parameters::Length;
    #[derive(Deserialize)]
    struct Sizes {
        optimizer: Option<Counts>,
    }
    #[derive(Deserialize)]
    struct Counts {
        #[serde(default)]
        tensors: Length,
        #[serde(default)]
        hyper_parameters: Length,
        #[serde(default)]
        counters: Length,
    }
    let sizes: Sizes = serde_json::from_str(json).map_err(|e| invalid(e.to_string()))?;
    if let Some(counts) = sizes.optimizer {
        for (what, n) in [
            ("tensors", counts.tensors.0),
            ("hyper_parameters", counts.hyper_parameters.0),
            ("counters", counts.counters.0),
        ] {
            if n > MAX_OPTIMIZER_ENTRIES {
                return Err(invalid(format!(
                    "the optimiser lists {n} {what}, more than {MAX_OPTIMIZER_ENTRIES}"
                )));
            }
        }
    }
    Ok(())
}

/// Refuses a parameter list that names a tensor twice or has an empty shape.
fn check_names(shapes: &[(String, Vec<usize>)]) -> std::result::Result<(), ModelFileProblem> {
    let mut names: Vec<&String> = shapes.iter().map(|(name, _)| name).collect();
    names.sort();
    if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(ModelFileProblem::DuplicateKey {
            key: pair[0].clone(),
        });
    }
    if let Some((name, _)) = shapes.iter().find(|(_, shape)| shape.is_empty()) {
        return Err(invalid(format!("parameter `{name}` has no shape")));
    }
    Ok(())
}

impl<E, D, R, C, L> Autoencoder<E, D, R, C, L>
where
    E: Encoder,
    D: Decoder<E::Scalar>,
    R: Regularizer<E::Scalar>,
    C: Corruption<E::Scalar>,
    L: Loss<E::Scalar>,
{
    /// The bytes of a checkpoint of this model and `run` (see [`Checkpoint`]): a one-layer
    /// dense model with its architecture, any other by its tensors' names.
    pub(crate) fn checkpoint_bytes(
        &self,
        run: RunState<'_, E::Scalar>,
        extra: &Extra,
    ) -> Result<Vec<u8>> {
        let list = List::from(self);
        match ModelRecord::describe_any(self) {
            Some(record) => checkpoint_file(&list, run, extra, |crc32| {
                ModelRecord { crc32, ..record }.to_json()
            }),
            None => {
                let record = list.record("autoencoder", Some(PartsRecord::of(self)));
                checkpoint_file(&list, run, extra, |crc32| {
                    record.with_crc32(crc32).to_json()
                })
            }
        }
    }
}

/// The bytes of a checkpoint of the model whose tensors are `list` and whose record
/// `metadata` writes (given the data checksum), and of `run`.
pub(crate) fn checkpoint_file<T: Scalar, R: Recorded>(
    list: &List<'_, T>,
    run: RunState<'_, T, R>,
    extra: &Extra,
    metadata: impl FnOnce(String) -> String,
) -> Result<Vec<u8>> {
    {
        let mut tensors = list.tensors()?;
        tensors.extend(extra.tensors.iter().cloned());
        let shapes: Vec<(String, Vec<usize>)> = list
            .names
            .iter()
            .cloned()
            .zip(list.shapes.iter().cloned())
            .collect();
        for (state, values) in run.optimizer.tensors() {
            let fits = values.len() == shapes.len()
                && values
                    .iter()
                    .zip(&shapes)
                    .all(|(v, (_, shape))| v.len() == shape.iter().product::<usize>());
            if !fits {
                return Err(Error::IncompatibleOptimizerState {
                    optimizer: "checkpoint",
                    problem: "its tensor states do not match the model's parameters",
                });
            }
            for (v, (parameter, shape)) in values.iter().zip(&shapes) {
                let bytes = match shape[..] {
                    [rows, columns] => matrix_bytes(&DMatrix::from_column_slice(rows, columns, v)),
                    _ => vector_bytes(&DVector::from_column_slice(v)),
                };
                tensors.push((
                    optimizer_tensor_name(state, parameter),
                    shape.clone(),
                    bytes,
                ));
            }
        }
        let generator = run.generator;
        let record = CheckpointRecord {
            format_version: CHECKPOINT_VERSION,
            epochs_done: run.history.epochs.len(),
            config: ConfigRecord {
                epochs: run.config.epochs(),
                batch_size: run.config.batch_size(),
                shuffle: run.config.shuffle(),
                schedule: run.config.schedule().as_ref().map(ScheduleRecord::of),
                max_updates: run.config.max_updates(),
                shard: run.config.shard(),
            },
            generator: GeneratorRecord {
                algorithm: GENERATOR.to_owned(),
                seed: hex(&generator.get_seed()),
                stream: generator.get_stream(),
                word_pos: generator.get_word_pos(),
            },
            optimizer: OptimizerRecord {
                kind: run.optimizer.kind().to_owned(),
                hyper_parameters: run
                    .optimizer
                    .hyper_parameters()
                    .iter()
                    .map(|(k, &v)| (k.clone(), JsonFloat(v)))
                    .collect(),
                counters: run.optimizer.counters().clone(),
                tensors: run.optimizer.tensors().keys().cloned().collect(),
            },
            history: run.history.epochs.iter().map(R::record).collect(),
            training_data: DataRecord::from_fingerprint(run.training_data),
            validation_data: run.validation_data.map(DataRecord::from_fingerprint),
        };
        let json = serde_json::to_string(&record).map_err(|e| {
            model_error(
                "<checkpoint>",
                invalid(format!("cannot write the record: {e}")),
            )
        })?;
        let checksum = format!("{:08x}", crc32fast::hash(json.as_bytes()));
        let mut entries = vec![
            (CHECKPOINT_KEY.to_owned(), json),
            (CHECKPOINT_CHECKSUM_KEY.to_owned(), checksum),
        ];
        entries.extend(extra.metadata.iter().cloned());
        serialize_with(tensors, metadata, entries, dtype_of::<T>(), "<checkpoint>")
    }
}

impl<T: Scalar, R: Recorded> Checkpoint<T, R> {
    /// Loads a checkpoint written by a `fit_resumable` of the model whose epochs report `R`:
    /// [`Autoencoder::fit_resumable`], [`Classifier::fit_resumable`](crate::Classifier::fit_resumable)
    /// or [`Vae::fit_resumable`](crate::Vae::fit_resumable).
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::ModelFile`] naming the problem for a damaged file (either
    /// checksum fails), a file of another dtype, a checkpoint of another kind of model, or a
    /// model file that is not a checkpoint ([`ModelFileProblem::NotACheckpoint`]).
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
        Self::from_file(&file, name, &[])
    }

    /// The checkpoint in a parsed file that holds nothing else but the tensors `extra`.
    pub(crate) fn from_file(file: &TensorFile<'_>, name: &str, extra: &[String]) -> Result<Self> {
        Ok(Self {
            saved: Saved::parse(file, name, extra, R::MODEL)?,
        })
    }
}

impl<T: Scalar, R: Recorded> Saved<T, R> {
    /// The checkpoint of a `model` (`"autoencoder"` or `"classifier"`) in a parsed file that
    /// holds nothing else but the tensors `extra`.
    pub(crate) fn parse(
        file: &TensorFile<'_>,
        name: &str,
        extra: &[String],
        model: &str,
    ) -> Result<Self> {
        let kind = model;
        let fail = |problem| model_error(name, problem);
        let json = file
            .metadata(CHECKPOINT_KEY)
            .ok_or_else(|| fail(ModelFileProblem::NotACheckpoint))?;
        let stored = file
            .metadata(CHECKPOINT_CHECKSUM_KEY)
            .ok_or_else(|| fail(ModelFileProblem::MissingChecksum))?;
        let stored = parse_crc(stored).map_err(fail)?;
        let computed = crc32fast::hash(json.as_bytes());
        if stored != computed {
            return Err(fail(ModelFileProblem::ChecksumMismatch {
                stored,
                computed,
            }));
        }
        check_optimizer_sizes(json).map_err(fail)?;
        let record: CheckpointRecord<R::Record> =
            serde_json::from_str(json).map_err(|e| fail(invalid(e.to_string())))?;
        if record.format_version != CHECKPOINT_VERSION {
            return Err(fail(invalid(format!(
                "checkpoint format_version {} is not {CHECKPOINT_VERSION}",
                record.format_version
            ))));
        }

        let (model, shapes) = match parameters_record::<T>(file, file.metadata_json()?, kind)? {
            Some(mut record) => {
                // Moved out while the tensors are read, and back into the record after.
                let shapes = std::mem::take(&mut record.parameters);
                check_names(&shapes).map_err(fail)?;
                (
                    SavedModel::Named {
                        record,
                        values: Vec::new(),
                    },
                    shapes,
                )
            }
            None if kind != "autoencoder" => {
                return Err(fail(invalid(format!(
                    "not a {kind}'s checkpoint: its model record is not a parameters record"
                ))));
            }
            None => {
                let model = file.record()?;
                if model.dtype != T::NAME {
                    return Err(fail(ModelFileProblem::WrongDtype {
                        tensor: "(model)".to_owned(),
                        expected: T::NAME,
                        found: model.dtype.clone(),
                    }));
                }
                let shapes = parameter_shapes(model.input_dim, model.code_dim, model.tied);
                let (encoder, decoder) = read_layers_among(
                    file,
                    model.input_dim,
                    model.code_dim,
                    model.encoder_activation().map_err(|p| file.fail(p))?,
                    model.decoder_activation().map_err(|p| file.fail(p))?,
                    model.tied,
                )?;
                let saved = SavedModel::Dense {
                    record: model,
                    encoder,
                    decoder,
                };
                (saved, shapes)
            }
        };
        let states = &record.optimizer.tensors;
        file.check_listed(
            shapes
                .len()
                .saturating_mul(1 + states.len())
                .saturating_add(extra.len()),
            shapes
                .iter()
                .map(|(p, _)| p.clone())
                .chain(states.iter().flat_map(|state| {
                    shapes
                        .iter()
                        .map(move |(p, _)| optimizer_tensor_name(state, p))
                }))
                .chain(extra.iter().cloned()),
        )?;
        let mut expected: Vec<String> = shapes.iter().map(|(p, _)| p.clone()).collect();
        for state in &record.optimizer.tensors {
            expected.extend(shapes.iter().map(|(p, _)| optimizer_tensor_name(state, p)));
        }
        expected.extend(extra.iter().cloned());
        file.only(&expected)?;
        let mut model = match model {
            SavedModel::Named { record, .. } => {
                let values = shapes
                    .iter()
                    .map(|(name, shape)| Ok(column_major(shape, file.values::<T>(name, shape)?)))
                    .collect::<Result<Vec<_>>>()?;
                SavedModel::Named { record, values }
            }
            dense => dense,
        };

        let mut optimizer = OptimizerState::new(record.optimizer.kind.clone());
        for (k, v) in &record.optimizer.hyper_parameters {
            optimizer = optimizer.with_hyper_parameter(k.clone(), v.0);
        }
        for (k, &v) in &record.optimizer.counters {
            optimizer = optimizer.with_counter(k.clone(), v);
        }
        for state in &record.optimizer.tensors {
            let mut values = Vec::with_capacity(shapes.len());
            for (parameter, shape) in &shapes {
                let tensor = optimizer_tensor_name(state, parameter);
                values.push(column_major(shape, file.values::<T>(&tensor, shape)?));
            }
            optimizer = optimizer.with_tensors(state.clone(), values);
        }

        let g = &record.generator;
        if g.algorithm != GENERATOR {
            return Err(fail(invalid(format!(
                "generator `{}` is not {GENERATOR}",
                g.algorithm
            ))));
        }
        if g.word_pos >= 1 << 68 {
            return Err(fail(invalid(format!(
                "generator word_pos {} is beyond the 68-bit stream",
                g.word_pos
            ))));
        }
        let mut generator = ChaCha8Rng::from_seed(parse_seed(&g.seed).map_err(fail)?);
        generator.set_stream(g.stream);
        generator.set_word_pos(g.word_pos);

        let c = &record.config;
        let mut config = TrainingConfig::default()
            .with_epochs(c.epochs)
            .with_batch_size(c.batch_size)
            .with_shuffle(c.shuffle);
        if let Some(schedule) = &c.schedule {
            let schedule = schedule
                .schedule()
                .map_err(|e| fail(invalid(e.to_string())))?;
            config = config.with_schedule(schedule);
        }
        if let Some(updates) = c.max_updates {
            config = config.with_max_updates(updates);
        }
        if let Some(shard) = c.shard {
            config = config.with_shards(shard);
        }
        config
            .validate()
            .map_err(|e| fail(invalid(e.to_string())))?;
        if record.epochs_done > c.epochs {
            // A run cannot have done more epochs than it planned: resuming would train nothing.
            return Err(fail(invalid(format!(
                "epochs_done {} exceeds the run's {} epochs",
                record.epochs_done, c.epochs
            ))));
        }
        if record.history.len() != record.epochs_done {
            return Err(fail(invalid(
                "the history does not list epochs 0 to epochs_done - 1 in order".to_owned(),
            )));
        }
        let history = history_of::<R>(&record.history, StopReason::Completed).map_err(fail)?;
        if let SavedModel::Named { record, .. } = &mut model {
            record.parameters = shapes;
        }
        let training_data = record.training_data.fingerprint().map_err(fail)?;
        let validation_data = match &record.validation_data {
            Some(v) => Some(v.fingerprint().map_err(fail)?),
            None => None,
        };
        Ok(Self {
            model,
            optimizer,
            generator,
            history,
            config,
            training_data,
            validation_data,
        })
    }

    /// Checks that `optimizer` is of the checkpointed kind with the same hyper-parameters,
    /// restores the saved state into it, and returns the run to continue.
    /// The run of a checkpoint of a model saved by its named tensors, and those tensors'
    /// values, once `own` (the record of the model to resume into) has the saved tensors and
    /// settings; `not_named` and `settings` say what differs otherwise.
    fn resume_named<O: Optimizer<T>>(
        self,
        own: &ParametersRecord,
        not_named: &'static str,
        settings: &'static str,
        optimizer: O,
    ) -> Result<Resumed<O, T, R>> {
        let SavedModel::Named { record, values } = self.model else {
            return Err(Error::CheckpointMismatch { what: not_named });
        };
        if own.parameters != record.parameters {
            return Err(Error::CheckpointMismatch {
                what: "the model's tensors (their names and shapes)",
            });
        }
        if own.settings != record.settings {
            return Err(Error::CheckpointMismatch { what: settings });
        }
        let run = Saved::continue_run(
            self.optimizer,
            optimizer,
            self.config,
            self.generator,
            self.history,
            (self.training_data, self.validation_data),
        )?;
        Ok((run, values))
    }

    fn continue_run<O: Optimizer<T>>(
        optimizer_state: OptimizerState<T>,
        mut optimizer: O,
        config: TrainingConfig,
        generator: ChaCha8Rng,
        history: History<R>,
        data: (DataFingerprint, Option<DataFingerprint>),
    ) -> Result<TrainingRun<O, R>> {
        let current = optimizer.state();
        if current.kind() != optimizer_state.kind() {
            return Err(Error::CheckpointMismatch {
                what: "the optimiser's kind",
            });
        }
        // Under a schedule, the learning rate is the schedule's, set before every update: the
        // rate the optimiser was built with does not matter.
        let scheduled = config.schedule().is_some();
        let bits = |s: &OptimizerState<T>| -> Vec<(String, u64)> {
            let hyper = s.hyper_parameters().iter();
            hyper
                .filter(|(k, _)| !(scheduled && k.as_str() == "learning_rate"))
                .map(|(k, v)| (k.clone(), v.to_bits()))
                .collect()
        };
        if bits(&current) != bits(&optimizer_state) {
            return Err(Error::CheckpointMismatch {
                what: "the optimiser's hyper-parameters",
            });
        }
        optimizer.restore(optimizer_state)?;
        Ok(TrainingRun {
            config,
            optimizer,
            rng: generator,
            history,
            checkpointing: None,
            data: Some(data),
        })
    }
}

impl<T: Scalar, R> Checkpoint<T, R> {
    /// Epochs completed when the checkpoint was written.
    pub fn epochs_done(&self) -> usize {
        self.saved.history.epochs.len()
    }

    /// The reports of those epochs.
    pub fn history(&self) -> &History<R> {
        &self.saved.history
    }

    /// The run's settings.
    pub fn config(&self) -> TrainingConfig {
        self.saved.config
    }

    /// The optimiser's state.
    pub fn optimizer_state(&self) -> &OptimizerState<T> {
        &self.saved.optimizer
    }

    /// The generator, where the next epoch starts drawing.
    pub fn generator(&self) -> &ChaCha8Rng {
        &self.saved.generator
    }
}

impl<T: Scalar> Checkpoint<T> {
    /// The model, with its built-in regularizers and corruption rebuilt from the metadata.
    ///
    /// # Errors
    /// [`Error::ModelFile`] with [`ModelFileProblem::CustomComponent`] when the model had a
    /// user-defined regularizer or corruption, or layers other than one dense layer each way
    /// (a stack, a user's own): build the model as before and [`resume`](Self::resume) into it
    /// instead.
    pub fn model(&self) -> Result<DynamicAutoencoder<T>> {
        let fail = |problem| model_error("(checkpoint)", problem);
        let SavedModel::Dense {
            record,
            encoder,
            decoder,
        } = &self.saved.model
        else {
            return Err(fail(ModelFileProblem::CustomComponent {
                component: "layers",
                name: "not one dense layer each way".to_owned(),
            }));
        };
        Ok(Autoencoder::new(encoder.clone(), decoder.clone())?
            .with_loss(record.loss().map_err(fail)?)
            .with_regularizer(record.regularizers().map_err(fail)?)
            .with_corruption(record.corruption().map_err(fail)?))
    }

    /// Continues the run: puts the saved parameters into `model`, the saved state into
    /// `optimizer`, and returns a [`TrainingRun`] with the saved settings, generator and
    /// history, ready for [`fit_resumable`](Autoencoder::fit_resumable) on the same data. Add
    /// [`with_checkpoints`](TrainingRun::with_checkpoints) to keep saving.
    ///
    /// `model` must be built as the checkpointed one was (same layers, sizes, activations,
    /// tying, loss, regularizers and corruption, a user's with the same name and
    /// hyper-parameters; its parameters are replaced), and `optimizer` must be of the same kind
    /// with the same hyper-parameters. For a model that is not one dense layer each way, the
    /// checkpoint knows its tensors' names and shapes but not its activations: those are the
    /// caller's to build alike.
    ///
    /// # Errors
    /// [`Error::CheckpointMismatch`] when `model` or `optimizer` differ from the checkpointed
    /// ones; [`Error::IncompatibleOptimizerState`] from the optimiser's
    /// [`restore`](Optimizer::restore). On error `model` is unchanged.
    pub fn resume<E, D, R, C, L, O>(
        self,
        model: &mut Autoencoder<E, D, R, C, L>,
        optimizer: O,
    ) -> Result<TrainingRun<O>>
    where
        E: Encoder<Scalar = T>,
        D: Decoder<T>,
        R: Regularizer<T>,
        C: Corruption<T>,
        L: Loss<T>,
        O: Optimizer<T>,
    {
        let saved = self.saved;
        let values = match saved.model {
            SavedModel::Dense {
                record,
                encoder,
                decoder,
            } => {
                let described = ModelRecord::describe_any(model).map(|described| ModelRecord {
                    crc32: record.crc32.clone(),
                    ..described
                });
                if described.as_ref() != Some(&record) {
                    return Err(Error::CheckpointMismatch {
                        what: "the model's architecture, loss, regularizers or corruption",
                    });
                }
                let mut values: Vec<Vec<T>> =
                    encoder.parameters().iter().map(|p| p.to_vec()).collect();
                values.extend(decoder.parameters().iter().map(|p| p.to_vec()));
                values
            }
            SavedModel::Named { record, values } => {
                let list = List::from(&*model);
                let own = list.record("autoencoder", Some(PartsRecord::of(model)));
                if own.parameters != record.parameters {
                    return Err(Error::CheckpointMismatch {
                        what: "the model's tensors (their names and shapes)",
                    });
                }
                if own.parts != record.parts {
                    return Err(Error::CheckpointMismatch {
                        what: "the model's loss, regularizers or corruption",
                    });
                }
                values
            }
        };
        let run = Saved::continue_run(
            saved.optimizer,
            optimizer,
            saved.config,
            saved.generator,
            saved.history,
            (saved.training_data, saved.validation_data),
        )?;
        assign(model.parameters_mut(), values);
        Ok(run)
    }
}

/// A classifier's training run saved after an epoch by
/// [`Classifier::fit_resumable`](crate::Classifier::fit_resumable): the classifier's tensors
/// and settings (weight decay, a frozen encoder, dropout), the optimiser's state, the generator, the
/// run's settings, the history and fingerprints of the labelled data, from which the run
/// continues bit for bit.
///
/// The file is laid out as a [`Checkpoint`] of a model that is not one dense layer each way:
/// the classifier's tensors by their names (`encoder.0.weight`, …, `head.bias`), the
/// optimiser's as `optimizer.<state>.<parameter>`, a parameters record with `model:
/// "classifier"` and the settings under `autoencoders`, and the run under
/// [`CHECKPOINT_KEY`], whose history holds `loss`, `accuracy`, `validation_loss` and
/// `validation_accuracy` per epoch.
///
/// ```
/// use autoencoders::{Adam, Checkpointing, Classifier, ClassifierCheckpoint, Init};
/// use autoencoders::{StackedEncoder, TrainingConfig, TrainingRun, Activation};
/// use nalgebra::DMatrix;
/// use rand::{SeedableRng, rngs::ChaCha8Rng};
///
/// let x = DMatrix::from_fn(30, 4, |i, j| ((i * 5 + j * 3) % 9) as f64 / 9.0);
/// let labels: Vec<usize> = (0..30).map(|i| i % 3).collect();
/// let build = || -> autoencoders::Result<_> {
///     let mut rng = ChaCha8Rng::seed_from_u64(0);
///     let encoder = StackedEncoder::<f64>::random(&[4, 6, 5], Activation::Tanh, Init::GlorotUniform, &mut rng)?;
///     Classifier::new(encoder, 3, Init::GlorotUniform, &mut rng)?.with_weight_decay(1e-3)
/// };
/// let path = std::env::temp_dir().join("autoencoders-doc-classifier-checkpoint.safetensors");
/// let config = TrainingConfig::default().with_epochs(4).with_batch_size(8);
///
/// let mut whole = build()?;
/// let mut run = TrainingRun::new(config, Adam::new(1e-2)?, ChaCha8Rng::seed_from_u64(1));
/// whole.fit_resumable(&x, &labels, None, &mut run, &mut ())?;
///
/// let mut first = build()?;
/// let mut half = TrainingRun::new(config, Adam::new(1e-2)?, ChaCha8Rng::seed_from_u64(1))
///     .with_epochs(2)
///     .with_checkpoints(Checkpointing::new(&path));
/// first.fit_resumable(&x, &labels, None, &mut half, &mut ())?;
///
/// let mut resumed = build()?;
/// let mut rest = ClassifierCheckpoint::<f64>::load(&path)?
///     .resume(&mut resumed, Adam::new(1e-2)?)?
///     .with_epochs(4);
/// resumed.fit_resumable(&x, &labels, None, &mut rest, &mut ())?;
/// assert_eq!(resumed.parameters(), whole.parameters());
/// assert_eq!(rest.history(), run.history());
/// # std::fs::remove_file(path).ok();
/// # Ok::<(), autoencoders::Error>(())
/// ```
pub type ClassifierCheckpoint<T> = Checkpoint<T, SupervisedReport>;

impl<T: Scalar> Checkpoint<T, SupervisedReport> {
    /// Continues the run: puts the saved parameters into `model`, the saved state into
    /// `optimizer`, and returns the [`TrainingRun`] to pass to
    /// [`Classifier::fit_resumable`](crate::Classifier::fit_resumable) with the same labelled
    /// data.
    ///
    /// `model` must be built as the checkpointed one was: the same tensors (names and
    /// shapes), weight decay and frozen encoder; `optimizer` of the same kind with the same
    /// hyper-parameters.
    ///
    /// # Errors
    /// [`Error::CheckpointMismatch`] when `model` or `optimizer` differ;
    /// [`Error::IncompatibleOptimizerState`] from the optimiser's
    /// [`restore`](Optimizer::restore). On error `model` is unchanged.
    pub fn resume<E, O>(
        self,
        model: &mut crate::Classifier<E>,
        optimizer: O,
    ) -> Result<TrainingRun<O, SupervisedReport>>
    where
        E: Encoder<Scalar = T>,
        O: Optimizer<T>,
    {
        let (run, values) = self.saved.resume_named(
            &model.parameters_record(),
            "the model (not a classifier)",
            "the classifier's weight decay, frozen encoder or dropout",
            optimizer,
        )?;
        assign(model.parameters_mut(), values);
        Ok(run)
    }
}

/// A variational autoencoder's training run saved after an epoch by
/// [`Vae::fit_resumable`](crate::Vae::fit_resumable), laid out as a [`ClassifierCheckpoint`]
/// is: the VAE's tensors by their names, the optimiser's, a parameters record with `model:
/// "vae"` and the settings (likelihood, objective, `β`, warm-up, weight decay, corruption),
/// and the run, whose history holds each [`VaeReport`].
pub type VaeCheckpoint<T> = Checkpoint<T, VaeReport>;

impl<T: Scalar> Checkpoint<T, VaeReport> {
    /// Continues the run: puts the saved parameters into `model`, the saved state into
    /// `optimizer`, and returns the [`TrainingRun`] to pass to
    /// [`Vae::fit_resumable`](crate::Vae::fit_resumable) with the same data. The KL warm-up
    /// goes on from the epoch the run reached.
    ///
    /// `model` must be built as the checkpointed one was: the same tensors (names and
    /// shapes) and settings; `optimizer` of the same kind with the same hyper-parameters.
    ///
    /// # Errors
    /// [`Error::CheckpointMismatch`] when `model` or `optimizer` differ;
    /// [`Error::IncompatibleOptimizerState`] from the optimiser's
    /// [`restore`](Optimizer::restore). On error `model` is unchanged.
    pub fn resume<E, D, C, O>(
        self,
        model: &mut Vae<E, D, C>,
        optimizer: O,
    ) -> Result<TrainingRun<O, VaeReport>>
    where
        E: Encoder<Scalar = T>,
        D: Decoder<T>,
        C: Corruption<T>,
        O: Optimizer<T>,
    {
        let (run, values) = self.saved.resume_named(
            &model.parameters_record(),
            "the model (not a variational autoencoder)",
            "the VAE's likelihood, objective, beta, warm-up, weight decay or corruption",
            optimizer,
        )?;
        assign(model.parameters_mut(), values);
        Ok(run)
    }
}
