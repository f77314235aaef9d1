//! The crate's one error type.

use crate::Activation;

/// Everything that can go wrong in this crate.
///
/// Every public function validates what it is given before doing any work and returns one of
/// these instead of panicking or producing NaN.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A data matrix has no rows.
    #[error("{what} has no samples")]
    EmptyData {
        /// Which data (e.g. `"training data"`).
        what: &'static str,
    },

    /// A data matrix has samples but no features (zero columns).
    #[error("{what} has no features")]
    NoFeatures {
        /// Which data (e.g. `"training data"`).
        what: &'static str,
    },

    /// A dimension is zero where at least one is needed.
    #[error("{what} must be at least 1")]
    ZeroDimension {
        /// Which dimension (e.g. `"code_dim"`).
        what: &'static str,
    },

    /// A matrix does not have the size the model expects.
    #[error("{what}: expected {expected}, found {found}")]
    DimensionMismatch {
        /// Which size disagrees (e.g. `"columns of the training data"`).
        what: &'static str,
        /// The size the model needs.
        expected: usize,
        /// The size it was given.
        found: usize,
    },

    /// A NaN or infinite value in user data.
    #[error("{what} holds a non-finite value at row {row}, column {column}")]
    NonFiniteData {
        /// Which data.
        what: &'static str,
        /// Row (sample) of the first offending value.
        row: usize,
        /// Column (feature) of the first offending value.
        column: usize,
    },

    /// A value outside the range a loss or regularizer is defined on.
    #[error("{what} holds {value} at row {row}, column {column}, outside {expected}")]
    DataOutOfRange {
        /// Which data.
        what: &'static str,
        /// Row of the first offending value.
        row: usize,
        /// Column of the first offending value.
        column: usize,
        /// The value.
        value: f64,
        /// The range it must lie in.
        expected: &'static str,
    },

    /// A hyper-parameter outside its valid range.
    #[error("{name} = {value} is invalid: expected {expected}")]
    InvalidHyperParameter {
        /// Its name (e.g. `"learning_rate"`).
        name: &'static str,
        /// The value given.
        value: f64,
        /// What it must be (e.g. `"a finite value > 0"`).
        expected: &'static str,
    },

    /// Two parts of a model that cannot work together.
    #[error("{component} needs {expected}, but the model has {found:?}")]
    IncompatibleActivation {
        /// The part that has the requirement (e.g. `"cross-entropy loss"`).
        component: &'static str,
        /// What it needs.
        expected: &'static str,
        /// The activation the model has.
        found: Activation,
    },

    /// A component needs weights that the model does not expose.
    #[error("{component} needs the code layer's weights, which this encoder does not expose")]
    MissingCodeWeights {
        /// The part that needs them.
        component: &'static str,
    },

    /// An encoder whose Jacobian `∂h/∂x` the crate cannot compute: its code layer is not an
    /// affine map of the input itself, and it does not implement
    /// [`Encoder::jacobian`](crate::Encoder::jacobian).
    #[error("the Jacobian of this encoder is not available: {reason}")]
    JacobianUnavailable {
        /// Why not.
        reason: &'static str,
    },

    /// An encoder that cannot pass a gradient to its input was put above another layer of a
    /// stack.
    #[error(
        "encoder {encoder} does not implement Encoder::backward_input, so it can only be the \
         bottom layer of a stack"
    )]
    NotStackable {
        /// The encoder's type.
        encoder: &'static str,
    },

    /// A regularizer returned a NaN or infinite penalty or gradient.
    #[error("regularizer {name} returned a non-finite {part}")]
    NonFiniteRegularizer {
        /// The regularizer's name.
        name: &'static str,
        /// `"penalty"` or `"gradient"`.
        part: &'static str,
    },

    /// Tiles of a picture do not hold as many pixels as the rows they show have values
    /// (feature `pictures`).
    #[error("tiles of {height}×{width} pixels cannot show rows of {input_dim} values")]
    TileShape {
        /// Tile height in pixels.
        height: usize,
        /// Tile width in pixels.
        width: usize,
        /// Values per row of the matrix shown.
        input_dim: usize,
    },

    /// A picture would be larger than the crate draws (feature `pictures`).
    #[error("a picture of {width}×{height} pixels exceeds the limit of {limit} pixels per side")]
    PictureTooLarge {
        /// Width it would have, in pixels (saturated at `usize::MAX`).
        width: usize,
        /// Height it would have, in pixels (saturated at `usize::MAX`).
        height: usize,
        /// The largest width or height allowed.
        limit: usize,
    },

    /// A series to be plotted holds a NaN or infinite value (feature `pictures`).
    #[error("series {series:?} holds a non-finite value at index {index}")]
    NonFiniteSeries {
        /// The series' name.
        series: String,
        /// Index of the first offending value.
        index: usize,
    },

    /// A regularizer replaced one of the gradient buffers it is handed by a matrix of another
    /// shape (it must add to them in place).
    #[error(
        "regularizer {name} changed the shape of its {buffer} gradient from {expected:?} to {found:?}"
    )]
    MisshapenRegularizerGradient {
        /// The regularizer's name.
        name: &'static str,
        /// Which buffer of [`RegularizerGradient`](crate::RegularizerGradient): `"code"`,
        /// `"pre_activation"`, `"encoder_weights"` or `"decoder_weights"`.
        buffer: &'static str,
        /// Its shape (rows, columns) before the call.
        expected: (usize, usize),
        /// Its shape after.
        found: (usize, usize),
    },

    /// A model's part (a user's encoder, decoder or loss) wrote an output of the wrong shape.
    #[error("{part} {name} gave a {what} of shape {found:?} where {expected:?} was needed")]
    MisshapenOutput {
        /// `"encoder"`, `"decoder"` or `"loss"`.
        part: &'static str,
        /// The part's type or name.
        name: &'static str,
        /// Which output: `"code"`, `"pre-activation"`, `"reconstruction"`, `"gradient"`.
        what: &'static str,
        /// The shape (rows, columns) the model needs.
        expected: (usize, usize),
        /// The shape it wrote.
        found: (usize, usize),
    },

    /// An optimiser state that an optimiser cannot continue from.
    #[error("cannot restore the state into optimiser {optimizer}: {problem}")]
    IncompatibleOptimizerState {
        /// The optimiser asked to restore it.
        optimizer: &'static str,
        /// What is wrong.
        problem: &'static str,
    },

    /// A learning-rate schedule given with an optimiser whose rate cannot be set.
    #[error(
        "optimiser {optimizer} does not implement set_learning_rate, which a learning-rate schedule needs"
    )]
    NoLearningRate {
        /// The optimiser's type.
        optimizer: &'static str,
    },

    /// A path that names a FIFO, a device, a folder or anything else but a regular file.
    #[error("{file}: not a regular file")]
    NotARegularFile {
        /// The path.
        file: String,
    },

    /// A gzip stream that decompresses to more than the resource policy allows (see
    /// [`limits::max_decompressed_bytes`](crate::limits::max_decompressed_bytes)); the stream
    /// itself may be sound.
    #[error(
        "{file}: decompresses to more than the limit of {limit} bytes (autoencoders::limits::set_max_decompressed_bytes raises it)"
    )]
    DecompressionLimit {
        /// The file.
        file: String,
        /// The limit in force.
        limit: u64,
    },

    /// A tensor larger than the resource policy allows (see [`limits`](crate::limits)).
    #[error("{what} of {rows} × {columns} would hold {} entries, above the limit of {limit} (autoencoders::limits::set_max_elements raises it)", match elements { Some(e) => e.to_string(), None => "more than 2^64".to_owned() })]
    TooLarge {
        /// The tensor (e.g. `"weights"`).
        what: &'static str,
        /// Its rows.
        rows: usize,
        /// Its columns.
        columns: usize,
        /// Its entries, `None` when the count overflows.
        elements: Option<usize>,
        /// The ceiling in force.
        limit: usize,
    },

    /// A setting that checkpointed runs do not support yet.
    #[error("{what} cannot be checkpointed yet: train with fit_with instead of fit_resumable")]
    NotResumable {
        /// The setting (e.g. `"early stopping"`).
        what: &'static str,
    },

    /// Early stopping asked for without validation data to watch.
    #[error("early stopping watches the validation loss: give validation data")]
    NoValidationData,

    /// A checkpoint that does not fit the run it is to continue: another model, optimiser or
    /// data set. Resuming it would not continue the checkpointed run exactly.
    #[error("the checkpoint does not fit this run: {what} differ")]
    CheckpointMismatch {
        /// What differs (e.g. `"the training data"`).
        what: &'static str,
    },

    /// An index of a row (or label) that the data does not have.
    #[error("{what}: index {index} at position {position} is out of range for {rows} rows")]
    RowOutOfRange {
        /// What was being indexed (e.g. `"rows to select"`).
        what: &'static str,
        /// Position of the first offending index in the list of indices.
        position: usize,
        /// The index.
        index: usize,
        /// How many rows there are.
        rows: usize,
    },

    /// A split of a data set into two parts that would leave one of them empty.
    #[error(
        "cannot put {first} of {samples} samples in the first part of a split: \
         each part needs at least one sample"
    )]
    InvalidSplit {
        /// Samples in the data set.
        samples: usize,
        /// Samples asked for in the first part.
        first: usize,
    },

    /// A file could not be read or written.
    #[error("{file}: {source}")]
    Io {
        /// The file's path.
        file: String,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// A file's contents do not follow its format.
    #[error("{file}: {problem} (at byte {offset})")]
    MalformedFile {
        /// The file's path or name.
        file: String,
        /// Byte offset where the problem was found. For a gzip-compressed file it counts
        /// decompressed bytes, except for problems of the compression itself (a truncated or
        /// corrupt gzip stream), where it counts compressed bytes.
        offset: u64,
        /// What is wrong.
        problem: &'static str,
    },

    /// A model file that is not valid safetensors or does not fit the model.
    #[error("{file}: {problem}")]
    ModelFile {
        /// The file's path or name.
        file: String,
        /// What is wrong.
        problem: crate::file_problem::ModelFileProblem,
    },

    /// A field of a text file (CSV) that is not what its column needs: not a number, NaN or
    /// infinite, or not a class label.
    #[error("{file}: line {line}, column {column}: expected {expected}, found {found:?}")]
    InvalidField {
        /// The file's path or name.
        file: String,
        /// Line of the field, from 1, counting every line of the file.
        line: usize,
        /// Position of the field in its row, from 1.
        column: usize,
        /// The field's text, shortened to 32 characters.
        found: String,
        /// What it must be (e.g. `"a number"`).
        expected: &'static str,
    },

    /// A row of a text file (CSV) with a different number of fields from the file's first row.
    #[error("{file}: line {line}: expected {expected} fields like the first row, found {found}")]
    RaggedRow {
        /// The file's path or name.
        file: String,
        /// Line of the row, from 1.
        line: usize,
        /// Fields in the first row.
        expected: usize,
        /// Fields in this row.
        found: usize,
    },

    /// A text file (CSV) without a single data row: empty, blank, or a header alone.
    #[error("{file}: no data rows")]
    NoDataRows {
        /// The file's path or name.
        file: String,
    },

    /// The label column asked for is not in a text file's rows, or is their only column.
    #[error(
        "{file}: cannot take label column {column} from rows of {fields} fields \
         (it must exist and leave at least one feature column)"
    )]
    LabelColumnOutOfRange {
        /// The file's path or name.
        file: String,
        /// The label column asked for, from 1.
        column: usize,
        /// Fields in the file's first row.
        fields: usize,
    },

    /// A file of labels that does not hold one label per sample of its data file.
    #[error("{labels_file} holds {labels} labels but {features_file} holds {samples} samples")]
    SampleCountMismatch {
        /// The file of samples.
        features_file: String,
        /// The file of labels.
        labels_file: String,
        /// Samples in `features_file`.
        samples: usize,
        /// Labels in `labels_file`.
        labels: usize,
    },

    /// A [`BatchSource`](crate::source::BatchSource) that broke its contract: a batch of
    /// another size or width than asked for or declared, an epoch longer or shorter than its
    /// declared number of samples, a labelled source without a label per sample, or an
    /// unlabelled source where labels are needed.
    #[error("the batch source misbehaved: {problem} (expected {expected}, found {found})")]
    SourceMismatch {
        /// What went wrong.
        problem: &'static str,
        /// What the source declared or the loop asked for.
        expected: usize,
        /// What it gave.
        found: usize,
    },

    /// A streamed file that cannot be read in the order asked for: a gzip-compressed file
    /// reads only from its start.
    #[error(
        "{file} is gzip-compressed and reads only from its start: the stream order {order} needs an uncompressed file (decompress it, or shuffle with StreamOrder::Buffer)"
    )]
    UnseekableStream {
        /// The file.
        file: String,
        /// The order asked for.
        order: &'static str,
    },

    /// An environment variable the crate reads holds a value it cannot use.
    #[error("the environment variable {variable} = {value:?} is invalid: expected {expected}")]
    InvalidEnvironment {
        /// Its name (e.g. `"AUTOENCODERS_THREADS"`).
        variable: &'static str,
        /// Its value.
        value: String,
        /// What it must be.
        expected: &'static str,
    },

    /// The system refused to start the worker threads asked for (the crate then computes on
    /// the calling thread alone, with the same results).
    #[error("could not start {threads} threads")]
    ThreadsUnavailable {
        /// The thread count asked for.
        threads: usize,
    },

    /// A data-parallel run's communication failed or could not start.
    #[error("communication: {problem}")]
    Communication {
        /// What went wrong.
        problem: &'static str,
    },

    /// Labels for a ranking metric that are all positive or all negative: the metric needs
    /// both.
    #[error("{what} need both positives and negatives")]
    SingleClass {
        /// Which labels.
        what: &'static str,
    },

    /// Training produced a NaN or infinite objective, gradient or parameter. The model and the
    /// optimiser hold what they held after the last good step.
    #[error("training diverged in epoch {epoch}, batch {batch}: the {what} became non-finite")]
    Diverged {
        /// Epoch (from 0) in which it happened.
        epoch: usize,
        /// Batch (from 0) within the epoch.
        batch: usize,
        /// `"objective"`, `"gradient"`, or `"parameters"` when the step would have made a
        /// parameter or a value of the optimiser's state non-finite (the step is not taken).
        what: &'static str,
    },

    /// An error of the linfa framework, raised by its own code around this crate's `Fit` and
    /// `Transformer` implementations (feature `linfa`; linfa's `Fit` needs the conversion).
    #[cfg(feature = "linfa")]
    #[error("linfa: {0}")]
    Linfa(#[from] ::linfa::Error),
}

impl Error {
    pub(crate) fn io(file: &str, source: std::io::Error) -> Self {
        Error::Io {
            file: file.to_owned(),
            source,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
