//! What can be wrong with a model file: the problems a [`Error::ModelFile`](crate::Error) names.
//!
//! Kept apart from the file formats so that the error type depends on nothing above it.

/// What is wrong with a model file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelFileProblem {
    /// Shorter than the 8-byte header length.
    #[error("the file is shorter than the 8-byte header length")]
    HeaderTooSmall,
    /// The header length points past the end of the file.
    #[error("the header length points past the end of the file")]
    HeaderPastEnd,
    /// A key listed twice in one JSON object of the header (or of a metadata text), which the
    /// safetensors format forbids.
    #[error("the key {key} appears twice in one object of the header")]
    DuplicateKey {
        /// The key.
        key: String,
    },
    /// The header is larger than the safetensors cap (100 MB).
    #[error("the header is larger than the 100 MB cap")]
    HeaderTooLarge,
    /// The header is not UTF-8.
    #[error("the header is not valid UTF-8")]
    HeaderNotUtf8,
    /// The header is not the JSON safetensors expects.
    #[error("the header is not valid safetensors JSON: {detail}")]
    HeaderNotJson {
        /// What the JSON parser said.
        detail: String,
    },
    /// A tensor's offsets overlap another's or leave a gap.
    #[error("the data offsets of tensor `{tensor}` overlap or leave a gap")]
    BadOffsets {
        /// The tensor.
        tensor: String,
    },
    /// A tensor's byte range does not match its shape and dtype.
    #[error("a tensor's byte size does not match its shape and dtype")]
    SizeMismatch,
    /// The tensors do not end exactly at the end of the file.
    #[error("the tensor data do not end at the end of the file (truncated, or trailing bytes)")]
    DataLengthMismatch,
    /// A shape whose element count overflows.
    #[error("a tensor shape's element count overflows")]
    ShapeOverflow,
    /// The file lacks our metadata (use `load_weights` for plain state dicts).
    #[error("no `autoencoders` metadata (for weights saved elsewhere use load_weights)")]
    MissingMetadata,
    /// A model file where a checkpoint was expected: no checkpoint record in its metadata.
    #[error("no checkpoint record in the metadata: a saved model, not a checkpoint")]
    NotACheckpoint,
    /// Our metadata is not what this version writes.
    #[error("invalid `autoencoders` metadata: {detail}")]
    InvalidMetadata {
        /// What is wrong.
        detail: String,
    },
    /// The metadata names a regularizer or corruption the crate cannot rebuild.
    #[error("the model's {component} `{name}` is user-defined: load the weights and attach it")]
    CustomComponent {
        /// `"regularizer"` or `"corruption"`.
        component: &'static str,
        /// Its name.
        name: String,
    },
    /// The file's parameters were saved with another loss, regularizer or corruption than the
    /// model they are loaded into has.
    #[error(
        "the parameters were saved with the {part} {saved}, the model has {found}: build the \
         model with the {part} it was saved with"
    )]
    PartMismatch {
        /// `"loss"`, `"regularizer"` or `"corruption"`.
        part: &'static str,
        /// The part as the file records it (JSON).
        saved: String,
        /// The model's (JSON).
        found: String,
    },
    /// No checksum where our metadata requires one.
    #[error("no crc32 checksum in the metadata")]
    MissingChecksum,
    /// The data do not match the stored checksum.
    #[error("checksum mismatch: stored {stored:08x}, computed {computed:08x}")]
    ChecksumMismatch {
        /// The checksum in the metadata.
        stored: u32,
        /// The checksum of the data read.
        computed: u32,
    },
    /// A tensor the model needs is absent.
    #[error("tensor `{tensor}` is missing")]
    MissingTensor {
        /// Its name.
        tensor: String,
    },
    /// A tensor the model does not have.
    #[error("unexpected tensor `{tensor}`")]
    UnexpectedTensor {
        /// Its name.
        tensor: String,
    },
    /// A tensor of another dtype than the model's.
    #[error("tensor `{tensor}` has dtype {found}, expected {expected}")]
    WrongDtype {
        /// Its name.
        tensor: String,
        /// The model's dtype.
        expected: &'static str,
        /// The file's.
        found: String,
    },
    /// A tensor of the wrong shape.
    #[error("tensor `{tensor}` has shape {found:?}, expected {expected:?}")]
    WrongShape {
        /// Its name.
        tensor: String,
        /// The shape the model needs.
        expected: Vec<usize>,
        /// The file's.
        found: Vec<usize>,
    },
    /// NaN or ∞ among a tensor's values.
    #[error("tensor `{tensor}` holds NaN or infinite values")]
    NonFinite {
        /// Its name.
        tensor: String,
    },
}
