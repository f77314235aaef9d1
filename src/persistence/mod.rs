//! Saving and loading models as safetensors, with PyTorch's `nn.Linear` names and layouts.
//!
//! A one-layer autoencoder is saved as the tensors
//!
//! | name | shape | |
//! | --- | --- | --- |
//! | `encoder.weight` | `[code_dim, input_dim]` | |
//! | `encoder.bias` | `[code_dim]` | |
//! | `decoder.weight` | `[input_dim, code_dim]` | absent when tied |
//! | `decoder.bias` | `[input_dim]` | |
//!
//! row-major, little-endian, in the model's dtype (`F32` or `F64`), so that
//! `torch.nn.Linear.load_state_dict` takes them as they are. Everything else goes in the file's
//! metadata under **one key**, [`METADATA_KEY`] (`autoencoders`), as a JSON object, the
//! *envelope*, its fields sorted:
//!
//! ```text
//! {"checkpoint":{…},"checkpoint.crc32":"…","crc32":"…","format":2,"model":{…}}
//! ```
//!
//! `format` is the envelope's version (2); each other field is a *section*: `model`, the
//! architecture (activations, tying, loss, regularizers, corruption) with a CRC-32 of the tensor
//! data in its own field `crc32`, so that loading rebuilds the same model and detects damage;
//! `crc32`, the CRC-32 of the whole file — the header in a canonical form (the envelope without
//! that section) and the data — so an edit of the metadata (an activation, a digit of λ) or of a
//! tensor's dtype, shape or offsets is detected too; and, in the files that have them, the
//! records of a checkpoint (`checkpoint`, `checkpoint.crc32`), a detector (`detector`), a
//! pretrained stack (`pretrained`), a pretraining run (`pretraining`), a robust autoencoder's
//! run (`robust`) or an L-BFGS run (`lbfgs`). A tool reads a section as
//! `json.loads(metadata["autoencoders"])["checkpoint"]`. The record keys of the crate
//! ([`WHOLE_FILE_KEY`], [`CHECKPOINT_KEY`], [`DETECTOR_KEY`], …) name
//! the sections: `autoencoders.` and the section's name (`autoencoders` for `model`).
//!
//! Files written before the envelope (up to 0.x of 2026-12-04) held each record as a metadata
//! key of its own, named by its record key; they load as before. Those written before the
//! whole-file checksum are checked by their data checksum alone, and must then hold no metadata
//! key but the crate's own (a damaged checksum key would otherwise pass for such a file). A key
//! listed twice in any JSON object of the header is refused
//! ([`ModelFileProblem::DuplicateKey`]), as are sections and metadata keys starting with
//! `autoencoders` that the crate does not write, a key of the crate's beside the envelope, and
//! the envelope under another key (a damaged key). The writer sorts the sections and lists the
//! tensors by name, so the same model, or the same checkpoint, always gives the same bytes.
//! Files are written crash-safely (temporary file, fsync, rename, fsync of the folder).
//!
//! A [`Checkpoint`] is the same file with the optimiser's tensors added and the training state
//! in two more sections; its type documents the layout.
//!
//! Any model — deep, stacked, with a user's own layers or parts, an autoencoder or a
//! classifier — saves its parameters with
//! [`save_parameters`](crate::Autoencoder::save_parameters): the same kind of file, one tensor
//! per entry of the model's parameter list (`encoder.0.weight`, …, `head.bias`) with the shape
//! its part gives, and a record (`kind: "parameters"`) of its loss, regularizers and corruption.
//! [`load_parameters`](crate::Autoencoder::load_parameters) loads it into a model the caller
//! builds the same way, and refuses one built with other parts
//! ([`ModelFileProblem::PartMismatch`]).

mod atomic;
pub(crate) mod checkpoint;
mod deep;
mod detector;
mod header;
mod lbfgs;
mod offsets;
mod parameters;
mod pretraining;
mod record;
mod resumable;
mod robust;
mod stack;

/// What is wrong with a model file (defined beside [`Error`], re-exported here).
pub use crate::file_problem::ModelFileProblem;
pub use checkpoint::{
    CHECKPOINT_CHECKSUM_KEY, CHECKPOINT_KEY, Checkpoint, ClassifierCheckpoint, VaeCheckpoint,
};
pub use deep::{DeepAutoencoder, PRETRAINED_KEY};
pub use detector::DETECTOR_KEY;
pub use header::WHOLE_FILE_KEY;
pub use lbfgs::{LBFGS_KEY, LbfgsCheckpoint};
pub use pretraining::{PRETRAINING_KEY, PretrainingCheckpoint};
pub use robust::{ROBUST_KEY, RobustCheckpoint};

pub(crate) use atomic::write_atomically;
#[cfg(test)]
pub(crate) use atomic::write_atomically_with;

use crate::{
    Activation, Autoencoder, BuiltinCorruption, BuiltinLoss, BuiltinRegularizer, Corruption,
    DenseBuilder, DenseDecoder, DenseEncoder, Error, Loss, Precision, Regularizer, Result, Scalar,
};
use nalgebra::{DMatrix, DVector};
use offsets::check_offsets_fit;
use record::ModelRecord;
use safetensors::tensor::{Dtype, SafeTensorError, SafeTensors, TensorView};
use std::path::Path;

/// The one metadata key of the crate's files, holding the envelope of their records (see the
/// [module documentation](self)); also the record key of the model's architecture, the
/// envelope's section `model`.
pub const METADATA_KEY: &str = "autoencoders";
/// The field of that JSON holding the CRC-32 (IEEE, 8 hex digits) of the tensor data section.
pub const CHECKSUM_FIELD: &str = "crc32";

/// The problem a safetensors parse error stands for.
fn problem_of(error: SafeTensorError) -> ModelFileProblem {
    match error {
        SafeTensorError::HeaderTooSmall => ModelFileProblem::HeaderTooSmall,
        SafeTensorError::HeaderTooLarge => ModelFileProblem::HeaderTooLarge,
        SafeTensorError::InvalidHeaderLength => ModelFileProblem::HeaderPastEnd,
        SafeTensorError::InvalidHeader(_) => ModelFileProblem::HeaderNotUtf8,
        SafeTensorError::InvalidHeaderDeserialization(e) | SafeTensorError::JsonError(e) => {
            ModelFileProblem::HeaderNotJson {
                detail: e.to_string(),
            }
        }
        SafeTensorError::InvalidOffset(tensor) => ModelFileProblem::BadOffsets { tensor },
        SafeTensorError::MetadataIncompleteBuffer => ModelFileProblem::DataLengthMismatch,
        SafeTensorError::ValidationOverflow => ModelFileProblem::ShapeOverflow,
        SafeTensorError::TensorNotFound(tensor) => ModelFileProblem::MissingTensor { tensor },
        _ => ModelFileProblem::SizeMismatch,
    }
}

/// The model type a saved file loads as: dense layers, with the regularizers, corruption and
/// loss chosen at run time.
pub type DynamicAutoencoder<T> = Autoencoder<
    DenseEncoder<T>,
    DenseDecoder<T>,
    Vec<BuiltinRegularizer>,
    BuiltinCorruption,
    BuiltinLoss,
>;

pub(crate) fn dtype_of<T: Scalar>() -> Dtype {
    match T::PRECISION {
        Precision::Single => Dtype::F32,
        Precision::Double => Dtype::F64,
    }
}

/// The safetensors name of `T`'s dtype, as a file's header spells it.
pub(crate) fn dtype_name<T: Scalar>() -> &'static str {
    match T::PRECISION {
        Precision::Single => "F32",
        Precision::Double => "F64",
    }
}

/// Row-major little-endian bytes of a column-major matrix.
pub(crate) fn matrix_bytes<T: Scalar>(m: &DMatrix<T>) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(m.len() * std::mem::size_of::<T>());
    for r in 0..m.nrows() {
        for c in 0..m.ncols() {
            m[(r, c)].push_le_bytes(&mut bytes);
        }
    }
    bytes
}

pub(crate) fn vector_bytes<T: Scalar>(v: &DVector<T>) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(v.len() * std::mem::size_of::<T>());
    for &x in v.iter() {
        x.push_le_bytes(&mut bytes);
    }
    bytes
}

/// Serialises named row-major tensors with the model record (given the checksum of the data
/// section) and any `extra` metadata.
fn serialize<T: Scalar>(
    tensors: Vec<(String, Vec<usize>, Vec<u8>)>,
    record: ModelRecord,
    extra: Vec<(String, String)>,
    file: &str,
) -> Result<Vec<u8>> {
    serialize_with(
        tensors,
        |crc32| ModelRecord { crc32, ..record }.to_json(),
        extra,
        dtype_of::<T>(),
        file,
    )
}

/// Serialises named row-major tensors of one dtype; `metadata` turns the checksum of the data
/// section (8 hex digits) into the JSON stored under [`METADATA_KEY`], and `extra` adds other
/// metadata keys (checkpoints use one).
pub(crate) fn serialize_with(
    tensors: Vec<(String, Vec<usize>, Vec<u8>)>,
    metadata: impl FnOnce(String) -> String,
    extra: Vec<(String, String)>,
    dtype: Dtype,
    file: &str,
) -> Result<Vec<u8>> {
    // Every tensor's bytes must fit its shape and dtype: what safetensors checks.
    for (_, shape, data) in &tensors {
        TensorView::new(dtype, shape.clone(), data)
            .map_err(|e| model_error(file, problem_of(e)))?;
    }
    // The data section is the tensors sorted by name; the model record's checksum covers
    // exactly those bytes, and the whole-file checksum everything.
    let mut ordered: Vec<&(String, Vec<usize>, Vec<u8>)> = tensors.iter().collect();
    ordered.sort_by(|a, b| a.0.cmp(&b.0));
    let mut crc = crc32fast::Hasher::new();
    for (_, _, data) in ordered {
        crc.update(data);
    }
    let metadata = std::iter::once((
        METADATA_KEY.to_owned(),
        metadata(format!("{:08x}", crc.finalize())),
    ))
    .chain(extra)
    .collect();
    let tensors: Vec<header::Tensor> = tensors
        .into_iter()
        .map(|(name, shape, data)| (name, dtype, shape, data))
        .collect();
    Ok(header::write(&tensors, metadata))
}

/// Writes `bytes` to `path` crash-safely, as the crate writes its own files: into a temporary
/// file in the same folder, synced, then renamed over `path` and the folder synced, so that
/// the file at `path` is the old one or the whole new one, whatever happens meanwhile.
///
/// ```
/// let path = std::env::temp_dir().join("autoencoders-doc-atomic.csv");
/// autoencoders::persistence::write_file_atomically(&path, b"index,score\n0,1.5\n")?;
/// assert_eq!(std::fs::read(&path)?, b"index,score\n0,1.5\n");
/// # std::fs::remove_file(path).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`Error::Io`] naming the file (the old file, if any, is kept).
pub fn write_file_atomically(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    write_atomically(path.as_ref(), bytes)
}

/// The record keys this crate writes: the sections of the envelope, and the metadata keys of
/// the files written before it.
const KNOWN_KEYS: [&str; 9] = [
    METADATA_KEY,
    detector::DETECTOR_KEY,
    header::WHOLE_FILE_KEY,
    checkpoint::CHECKPOINT_KEY,
    checkpoint::CHECKPOINT_CHECKSUM_KEY,
    pretraining::PRETRAINING_KEY,
    deep::PRETRAINED_KEY,
    robust::ROBUST_KEY,
    lbfgs::LBFGS_KEY,
];

/// The header's bytes, when the length prefix fits the file and the safetensors cap.
fn header_bytes(bytes: &[u8]) -> Option<&[u8]> {
    let length = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    if length > 100_000_000 {
        return None;
    }
    bytes.get(8..8 + length as usize)
}

pub(crate) fn model_error(file: &str, problem: ModelFileProblem) -> Error {
    Error::ModelFile {
        file: file.to_owned(),
        problem,
    }
}

/// A parsed, checksum-verified safetensors file.
///
/// It holds the header parsed once and the data section borrowed, and copies neither: a file
/// whose metadata is large costs that size once more, not several times.
pub(crate) struct TensorFile<'a> {
    file: &'a str,
    header: safetensors::tensor::Metadata,
    /// Where the crate's records are, by record key (see [`header`]'s docs), and any other
    /// metadata.
    records: std::collections::BTreeMap<String, header::Place>,
    data: &'a [u8],
    tensor_count: usize,
}

impl<'a> TensorFile<'a> {
    /// Parses `bytes`; verifies the checksum when one is stored, and requires one when
    /// `require_checksum`.
    pub(crate) fn parse(bytes: &'a [u8], file: &'a str, require_checksum: bool) -> Result<Self> {
        let fail = |problem| model_error(file, problem);
        check_offsets_fit(bytes).map_err(fail)?;
        if let Some(header) = header_bytes(bytes) {
            header::check_unique_keys(header).map_err(fail)?;
        }
        let (header_len, parsed) =
            SafeTensors::read_metadata(bytes).map_err(|e| fail(problem_of(e)))?;
        let data = &bytes[8 + header_len..];
        let sorted: std::collections::BTreeMap<&str, &str> = parsed
            .metadata()
            .iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if let Some(unknown) = sorted
            .keys()
            .find(|k| k.starts_with(METADATA_KEY) && !KNOWN_KEYS.contains(*k))
        {
            return Err(fail(ModelFileProblem::InvalidMetadata {
                detail: format!("unknown metadata key `{unknown}`"),
            }));
        }
        let infos = parsed.tensors();
        let layout: Vec<_> = infos
            .iter()
            .map(|(name, info)| {
                (
                    name.as_str(),
                    info.dtype,
                    info.shape.as_slice(),
                    info.data_offsets,
                )
            })
            .collect();
        let (records, whole_file_checked) =
            header::verify(&sorted, &layout, data, &KNOWN_KEYS).map_err(fail)?;
        // A file of the crate without the whole-file checksum is one written before it existed,
        // and those held the crate's keys only: any other key then is more likely the checksum's
        // own key damaged (one flipped bit turns `autoencoders.crc32` into a foreign key) than
        // an addition, and is refused rather than read by the weaker data checksum alone.
        if !whole_file_checked
            && sorted.keys().any(|k| KNOWN_KEYS.contains(k))
            && let Some(foreign) = sorted.keys().find(|k| !KNOWN_KEYS.contains(*k))
        {
            return Err(fail(ModelFileProblem::InvalidMetadata {
                detail: format!(
                    "metadata key `{foreign}` in a file without the whole-file checksum \
                     `{}` (a damaged key?)",
                    header::WHOLE_FILE_KEY
                ),
            }));
        }
        let stored = match records.get(METADATA_KEY).map(|place| place.text(&sorted)) {
            Some(json) => Some(ModelRecord::checksum_field(json).map_err(fail)?),
            None => None,
        };
        let tensor_count = layout.len();
        drop(layout);
        drop(infos);
        match stored {
            Some(hex) => {
                let stored = u32::from_str_radix(&hex, 16).map_err(|_| {
                    fail(ModelFileProblem::InvalidMetadata {
                        detail: format!("crc32 `{hex}` is not 8 hex digits"),
                    })
                })?;
                let computed = crc32fast::hash(data);
                if stored != computed {
                    return Err(fail(ModelFileProblem::ChecksumMismatch {
                        stored,
                        computed,
                    }));
                }
            }
            None if require_checksum => return Err(fail(ModelFileProblem::MissingMetadata)),
            None => {}
        }
        Ok(Self {
            file,
            header: parsed,
            records,
            data,
            tensor_count,
        })
    }

    /// The record under record key `key` (in the envelope, or a metadata key of its own in
    /// a file written before it).
    pub(crate) fn metadata(&self, key: &str) -> Option<&str> {
        let place = self.records.get(key)?;
        Some(match place {
            header::Place::Within { key, range } => self
                .header
                .metadata()
                .as_ref()
                .and_then(|m| m.get(key))
                .and_then(|value| value.get(range.clone()))?,
            header::Place::Text(text) => text,
        })
    }

    /// How many tensors the file holds.
    pub(crate) fn tensor_count(&self) -> usize {
        self.tensor_count
    }

    /// Refuses a record that lists more tensors than the file holds — naming the first listed
    /// one that is absent, or else saying that some are listed twice — before anything is
    /// built for the list, so that a long list costs no more than its text. `listed` counts
    /// the names `names` yields.
    pub(crate) fn check_listed(
        &self,
        listed: usize,
        names: impl Iterator<Item = String>,
    ) -> Result<()> {
        if listed <= self.tensor_count {
            return Ok(());
        }
        match names
            .into_iter()
            .find(|name| self.header.info(name).is_none())
        {
            Some(tensor) => Err(self.fail(ModelFileProblem::MissingTensor { tensor })),
            // Every name is there, so some are listed more than once.
            None => Err(self.fail(ModelFileProblem::InvalidMetadata {
                detail: format!(
                    "the record lists {listed} tensors, the file holds {}",
                    self.tensor_count
                ),
            })),
        }
    }

    pub(crate) fn fail(&self, problem: ModelFileProblem) -> Error {
        model_error(self.file, problem)
    }

    /// The model record from the metadata.
    pub(crate) fn record(&self) -> Result<ModelRecord> {
        let json = self.metadata_json()?;
        ModelRecord::from_json(json).map_err(|problem| self.fail(problem))
    }

    /// The raw metadata JSON.
    pub(crate) fn metadata_json(&self) -> Result<&str> {
        self.metadata(METADATA_KEY)
            .ok_or_else(|| self.fail(ModelFileProblem::MissingMetadata))
    }

    /// Fails on any tensor not in `expected`.
    pub(crate) fn only(&self, expected: &[String]) -> Result<()> {
        let expected: std::collections::HashSet<&str> =
            expected.iter().map(String::as_str).collect();
        match self
            .header
            .offset_keys()
            .into_iter()
            .find(|name| !expected.contains(name.as_str()))
        {
            Some(tensor) => Err(self.fail(ModelFileProblem::UnexpectedTensor { tensor })),
            None => Ok(()),
        }
    }

    /// A tensor's row-major values, checked for dtype, shape and finiteness.
    fn values<T: Scalar>(&self, name: &str, shape: &[usize]) -> Result<Vec<T>> {
        let info = self.header.info(name).ok_or_else(|| {
            self.fail(ModelFileProblem::MissingTensor {
                tensor: name.to_owned(),
            })
        })?;
        // `read_metadata` checked that every tensor's offsets lie in the data section.
        let view = TensorView::new(
            info.dtype,
            info.shape.clone(),
            &self.data[info.data_offsets.0..info.data_offsets.1],
        )
        .map_err(|e| self.fail(problem_of(e)))?;
        if view.dtype() != dtype_of::<T>() {
            return Err(self.fail(ModelFileProblem::WrongDtype {
                tensor: name.to_owned(),
                expected: dtype_name::<T>(),
                found: format!("{:?}", view.dtype()),
            }));
        }
        if view.shape() != shape {
            return Err(self.fail(ModelFileProblem::WrongShape {
                tensor: name.to_owned(),
                expected: shape.to_vec(),
                found: view.shape().to_vec(),
            }));
        }
        let values: Vec<T> = view
            .data()
            .chunks_exact(std::mem::size_of::<T>())
            .map(T::from_le_slice)
            .collect();
        if values.iter().any(|v| !v.is_finite()) {
            return Err(self.fail(ModelFileProblem::NonFinite {
                tensor: name.to_owned(),
            }));
        }
        Ok(values)
    }

    /// A `[rows, cols]` tensor as a matrix.
    pub(crate) fn matrix<T: Scalar>(
        &self,
        name: &str,
        rows: usize,
        cols: usize,
    ) -> Result<DMatrix<T>> {
        let values = self.values::<T>(name, &[rows, cols])?;
        Ok(DMatrix::from_row_slice(rows, cols, &values))
    }

    /// A `[len]` tensor as a vector.
    pub(crate) fn vector<T: Scalar>(&self, name: &str, len: usize) -> Result<DVector<T>> {
        Ok(DVector::from_vec(self.values::<T>(name, &[len])?))
    }
}

/// The JSON record under `key` of a run's checkpoint in `file` (named `name` in errors), which
/// must carry the whole-file checksum: [`ModelFileProblem::NotACheckpoint`] without the key,
/// [`ModelFileProblem::MissingChecksum`] without the checksum,
/// [`ModelFileProblem::InvalidMetadata`] for JSON that is not such a record.
pub(crate) fn run_record<R: serde::de::DeserializeOwned>(
    file: &TensorFile<'_>,
    name: &str,
    key: &str,
) -> Result<R> {
    let fail = |problem| model_error(name, problem);
    let json = file
        .metadata(key)
        .ok_or_else(|| fail(ModelFileProblem::NotACheckpoint))?;
    if file.metadata(WHOLE_FILE_KEY).is_none() {
        return Err(fail(ModelFileProblem::MissingChecksum));
    }
    serde_json::from_str(json).map_err(|e| {
        fail(ModelFileProblem::InvalidMetadata {
            detail: e.to_string(),
        })
    })
}

pub(crate) fn read_file(path: &Path) -> Result<(Vec<u8>, String)> {
    crate::files::read_regular(path)
}

/// The tensors of a one-layer model.
fn layer_tensors(tied: bool) -> Vec<String> {
    let mut names = vec!["encoder.weight".to_owned(), "encoder.bias".to_owned()];
    if !tied {
        names.push("decoder.weight".to_owned());
    }
    names.push("decoder.bias".to_owned());
    names
}

/// Reads the layers of a one-layer model from a parsed file that holds nothing else.
fn read_layers<T: Scalar>(
    file: &TensorFile<'_>,
    input_dim: usize,
    code_dim: usize,
    encoder_activation: Activation,
    decoder_activation: Activation,
    tied: bool,
) -> Result<(DenseEncoder<T>, DenseDecoder<T>)> {
    file.only(&layer_tensors(tied))?;
    read_layers_among(
        file,
        input_dim,
        code_dim,
        encoder_activation,
        decoder_activation,
        tied,
    )
}

/// Reads the layers of a one-layer model from a parsed file that may hold other tensors too.
fn read_layers_among<T: Scalar>(
    file: &TensorFile<'_>,
    input_dim: usize,
    code_dim: usize,
    encoder_activation: Activation,
    decoder_activation: Activation,
    tied: bool,
) -> Result<(DenseEncoder<T>, DenseDecoder<T>)> {
    let encoder = DenseEncoder::from_parts(
        file.matrix("encoder.weight", code_dim, input_dim)?,
        file.vector("encoder.bias", code_dim)?,
        encoder_activation,
    )?;
    let decoder_weights = if tied {
        None
    } else {
        Some(file.matrix("decoder.weight", input_dim, code_dim)?)
    };
    let decoder = DenseDecoder::from_parts(
        decoder_weights,
        file.vector("decoder.bias", input_dim)?,
        decoder_activation,
        code_dim,
    )?;
    Ok((encoder, decoder))
}

impl<T, R, C, L> Autoencoder<DenseEncoder<T>, DenseDecoder<T>, R, C, L>
where
    T: Scalar,
    R: Regularizer<T>,
    C: Corruption<T>,
    L: Loss<T>,
{
    /// The model as the bytes of a safetensors file (see the [module docs](crate::persistence)).
    ///
    /// # Errors
    /// None in practice; a model too large for the format gives [`Error::ModelFile`].
    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        serialize::<T>(
            self.layer_tensors(),
            ModelRecord::describe::<T, R, C, L>(self),
            Vec::new(),
            "<memory>",
        )
    }

    /// The encoder's and decoder's tensors: name, row-major shape, bytes.
    fn layer_tensors(&self) -> Vec<(String, Vec<usize>, Vec<u8>)> {
        let encoder = &self.encoder;
        let mut tensors = vec![
            (
                "encoder.weight".to_owned(),
                vec![self.code_dim(), self.input_dim()],
                matrix_bytes(encoder.weights()),
            ),
            (
                "encoder.bias".to_owned(),
                vec![self.code_dim()],
                vector_bytes(encoder.bias()),
            ),
        ];
        if let Some(w) = crate::Decoder::weights(&self.decoder) {
            tensors.push((
                "decoder.weight".to_owned(),
                vec![self.input_dim(), self.code_dim()],
                matrix_bytes(w),
            ));
        }
        tensors.push((
            "decoder.bias".to_owned(),
            vec![self.input_dim()],
            vector_bytes(self.decoder.bias()),
        ));
        tensors
    }

    /// Saves the model to `path` as safetensors, crash-safely: the file at `path` is either the
    /// old one or the complete new one.
    ///
    /// ```
    /// use autoencoders::{Contractive, DenseBuilder, DynamicAutoencoder};
    /// use rand::{SeedableRng, rngs::ChaCha8Rng};
    ///
    /// let model = DenseBuilder::new(4, 2)
    ///     .build::<f32, _>(&mut ChaCha8Rng::seed_from_u64(0))?
    ///     .with_regularizer(Contractive::new(0.1)?);
    /// let path = std::env::temp_dir().join("autoencoders-doc-save.safetensors");
    /// model.save(&path)?;
    /// let loaded = DynamicAutoencoder::<f32>::load(&path)?;
    /// assert_eq!(loaded.parameters(), model.parameters());
    /// assert_eq!(loaded.regularizer(), &vec![Contractive::new(0.1)?.into()]);
    /// # std::fs::remove_file(path).ok();
    /// # Ok::<(), autoencoders::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be written (the old file, if any, is kept).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomically(path.as_ref(), &self.to_safetensors()?)
    }
}

impl<T: Scalar> DynamicAutoencoder<T> {
    /// Loads a model saved by [`save`](Autoencoder::save), rebuilding its architecture,
    /// regularizers and corruption from the metadata.
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::ModelFile`] naming the problem for a damaged or foreign file.
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
        let record = file.record()?;
        if record.dtype != T::NAME {
            return Err(file.fail(ModelFileProblem::WrongDtype {
                tensor: "(model)".to_owned(),
                expected: T::NAME,
                found: record.dtype.clone(),
            }));
        }
        let (encoder, decoder) = read_layers(
            &file,
            record.input_dim,
            record.code_dim,
            record.encoder_activation().map_err(|p| file.fail(p))?,
            record.decoder_activation().map_err(|p| file.fail(p))?,
            record.tied,
        )?;
        let model = Autoencoder::new(encoder, decoder)?
            .with_loss(record.loss().map_err(|p| file.fail(p))?)
            .with_regularizer(record.regularizers().map_err(|p| file.fail(p))?)
            .with_corruption(record.corruption().map_err(|p| file.fail(p))?);
        Ok(model)
    }
}

impl<T: Scalar> Autoencoder<DenseEncoder<T>, DenseDecoder<T>> {
    /// Loads weights saved without this crate's metadata — for instance by PyTorch's
    /// `safetensors.torch.save_file(model.state_dict())` — into the architecture `builder`
    /// describes. The tensors must have this crate's names and `nn.Linear` layouts and the
    /// model's dtype.
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::ModelFile`] for a missing, extra or misshapen tensor.
    pub fn load_weights(path: impl AsRef<Path>, builder: &DenseBuilder) -> Result<Self> {
        let (bytes, name) = read_file(path.as_ref())?;
        let file = TensorFile::parse(&bytes, &name, false)?;
        let (encoder, decoder) = read_layers(
            &file,
            builder.input_dim,
            builder.code_dim,
            builder.encoder_activation,
            builder.decoder_activation,
            builder.tied,
        )?;
        Autoencoder::new(encoder, decoder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_failed_write_leaves_the_previous_file_intact() {
        let folder = std::env::temp_dir().join(format!("ae-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join("model.bin");
        write_atomically(&path, b"first version").unwrap();
        let result = write_atomically_with(&path, b"second version", |file, bytes| {
            file.write_all(&bytes[..3])?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(matches!(result, Err(Error::Io { .. })));
        assert_eq!(std::fs::read(&path).unwrap(), b"first version");
        let leftovers: Vec<_> = std::fs::read_dir(&folder).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "the temporary file must be removed");
        std::fs::remove_dir_all(&folder).unwrap();
    }
}
