//! Streaming an IDX file from disk in bounded memory: a [`BatchSource`] whose epochs read the
//! file again instead of holding it.

use super::{CsvOptions, FittedScaler, HeaderMode, LabelColumn};
use crate::source::BatchSource;
use crate::{Error, Result, Scalar};
use flate2::read::MultiGzDecoder;
use nalgebra::DMatrix;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use rand::{Rng, RngExt, SeedableRng};
use std::fs::File;
use std::io::{BufReader, ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The order in which a [`Stream`] hands out an epoch's samples when training shuffles.
/// Without shuffling every order reads the file from start to end.
///
/// | order | what a seed gives | memory beyond one batch | files |
/// | --- | --- | --- | --- |
/// | `InMemory` | exactly [`InMemory`](crate::source::InMemory)'s order | 8 bytes per sample | uncompressed |
/// | `Blocks` | blocks in a random order, samples through a shuffle buffer | `buffer` samples, 8 bytes per block | uncompressed |
/// | `Buffer` | the file's order through a shuffle buffer | `buffer` samples | any, also gzip |
///
/// In detail, for an epoch with shuffling:
/// - `InMemory`: the permutation of `0..n` that [`SliceRandom::shuffle`] draws from the run's
///   generator, exactly as the in-memory source draws it, each sample read where it lies in
///   the file. Training on it gives the same bits as training on the whole file in memory.
/// - `Blocks { block, buffer }`: one `u64` is drawn from the run's generator and seeds a
///   [`ChaCha8Rng`] for the epoch. The file's samples are cut into blocks of `block`
///   consecutive samples (the last may be shorter); the epoch's generator shuffles the blocks
///   ([`SliceRandom::shuffle`]), which are read in that order, each from start to end. Their
///   samples pass through a buffer of `buffer` samples: the buffer is filled with the first
///   `buffer` samples; then each sample handed out is taken from slot `j`, drawn uniformly by
///   the epoch's generator (`random_range(0..len)`), and the slot is refilled with the next
///   sample read, or, once all are read, given the buffer's last sample (the buffer shrinks).
///   A sample can move at most `buffer` places forward of where its block put it.
/// - `Buffer { buffer }`: `Blocks` with a single block: the file's order through the buffer.
///   The only shuffled order for a gzip-compressed file, which cannot be read out of order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamOrder {
    /// The in-memory source's order, sample by sample.
    InMemory,
    /// Blocks of `block` samples in a random order, through a shuffle buffer of `buffer`
    /// samples.
    Blocks {
        /// Consecutive samples read together.
        block: usize,
        /// Samples in the shuffle buffer.
        buffer: usize,
    },
    /// The file's order through a shuffle buffer of `buffer` samples.
    Buffer {
        /// Samples in the shuffle buffer.
        buffer: usize,
    },
}

impl Default for StreamOrder {
    /// Blocks of 1,024 samples through a buffer of 8,192 (25 MB of 784-pixel `f32` images).
    fn default() -> Self {
        StreamOrder::Blocks {
            block: 1024,
            buffer: 8192,
        }
    }
}

/// An element type of an IDX file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Element {
    U8,
    I8,
    I16,
    I32,
    F32,
    F64,
}

impl Element {
    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x08 => Element::U8,
            0x09 => Element::I8,
            0x0B => Element::I16,
            0x0C => Element::I32,
            0x0D => Element::F32,
            0x0E => Element::F64,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Element::U8 | Element::I8 => 1,
            Element::I16 => 2,
            Element::I32 | Element::F32 => 4,
            Element::F64 => 8,
        }
    }

    fn decode(self, b: &[u8]) -> f64 {
        match self {
            Element::U8 => f64::from(b[0]),
            Element::I8 => f64::from(b[0] as i8),
            Element::I16 => f64::from(i16::from_be_bytes([b[0], b[1]])),
            Element::I32 => f64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            Element::F32 => f64::from(f32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            Element::F64 => f64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        }
    }
}

/// Where the bytes of the file come from.
enum Input {
    /// An uncompressed file, read where the samples lie.
    Plain(File),
    /// A gzip stream, read from the start, with the samples read so far.
    Gzip(Box<MultiGzDecoder<BufReader<File>>>, usize),
}

/// What an epoch hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plan {
    /// The samples in file order, from `position`.
    Sequential,
    /// The samples `permutation[position..]`, each read where it lies.
    Permutation,
    /// The blocks `blocks[block..]`, from sample `within` of the first, through the buffer.
    Buffered,
}

/// Samples read from disk at a time when reading consecutive samples (fewer for samples of
/// more than `CHUNK_VALUES / 64` values).
const CHUNK_SAMPLES: usize = 64;

/// Values read from disk at a time, at most (unless one sample holds more).
const CHUNK_VALUES: usize = 1 << 22;

/// The samples of an IDX file (MNIST's format), gzip-compressed or not, streamed from disk in
/// bounded memory: a [`BatchSource`] for [`Autoencoder::fit_source`](crate::Autoencoder::fit_source)
/// and every other trainer's `fit_source`.
///
/// The file's header is read and checked when the stream is opened (an uncompressed file's
/// length must be what its dimensions declare); the samples are read, converted and checked
/// as the epochs reach them, with the errors [`read_idx_table`](super::read_idx_table) gives
/// for the same file (a non-finite value, a truncated file, trailing bytes), naming the file
/// and the byte offset. Values are converted exactly as the in-memory readers and
/// [`FittedScaler::transform`] convert them, so a stream in the
/// [`StreamOrder::InMemory`] order trains to the same bits as the file read into memory.
///
/// Memory: one batch, a chunk of 64 samples, and what the order needs (see
/// [`StreamOrder`]); labels, when given, are held in memory (one `usize` per sample).
///
/// ```
/// use autoencoders::data::{Scaler, Stream, StreamOrder};
/// use autoencoders::source::BatchSource;
/// use autoencoders::{DenseBuilder, Sgd, TrainingConfig};
/// use autoencoders::rand::{SeedableRng, rngs::ChaCha8Rng};
///
/// // Gzip-compressed, so read from its start each epoch, shuffled through a buffer.
/// let file = "data/mnist/train-images-idx3-ubyte.gz";
/// let mut stream = Stream::<f32>::idx(file, StreamOrder::Buffer { buffer: 2048 })?;
/// let scaler = Scaler::MinMax.fit_source(&mut stream)?; // one pass over the file
/// let mut stream = stream.with_scaler(scaler)?;
///
/// let mut rng = ChaCha8Rng::seed_from_u64(7);
/// let mut model = DenseBuilder::new(stream.features(), 32).build::<f32, _>(&mut rng)?;
/// let config = TrainingConfig::default().with_max_updates(20);
/// let history = model.fit_source(&mut stream, None, &config, &mut Sgd::new(0.1)?, &mut rng, &mut ())?;
/// assert!(history.epochs[0].objective.is_finite());
/// # Ok::<(), autoencoders::Error>(())
/// ```
pub struct Stream<T: Scalar> {
    path: PathBuf,
    file: String,
    /// The IDX dimensions, or `[rows, features]` of a CSV file.
    dims: Vec<usize>,
    element: Element,
    header: u64,
    samples: usize,
    features: usize,
    labels: Option<Vec<usize>>,
    order: StreamOrder,
    scaler: Option<FittedScaler>,
    /// The scaler's shift and divisor of each feature.
    affine: Option<(Vec<f64>, Vec<f64>)>,
    input: Input,
    plan: Plan,
    /// Samples handed out in this epoch (`Sequential`, `Permutation`).
    position: usize,
    /// The epoch's order of the samples (`Permutation`).
    permutation: Vec<usize>,
    /// The epoch's order of the blocks, the block being read as a position in it, and the next
    /// sample in that block (`Buffered`).
    blocks: Vec<usize>,
    block: usize,
    within: usize,
    /// Samples in the shuffle buffer, and the epoch's generator that draws from it.
    buffer_len: usize,
    epoch_rng: ChaCha8Rng,
    /// The state of a CSV file's reading (`None` for IDX).
    csv: Option<Box<CsvState>>,
    /// Bytes of up to `CHUNK_SAMPLES` samples.
    bytes: Vec<u8>,
    /// Their values as read, before conversion.
    raw: Vec<f64>,
    /// The run of samples last read: its first sample, its length, the next to use.
    chunk_first: usize,
    chunk_count: usize,
    chunk_next: usize,
    chunk_labels: Vec<usize>,
    /// The samples of the batch being made, row-major.
    picked: Vec<T>,
    /// The shuffle buffer, row-major, and its samples' labels.
    buffer: Vec<T>,
    buffer_labels: Vec<usize>,
}

impl<T: Scalar> Stream<T> {
    /// Opens the IDX file at `path` to stream its samples (the first dimension; the others
    /// flattened into features) in `order`.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::NotARegularFile`]; [`Error::MalformedFile`] for a header that is
    /// not IDX, dimensions whose product overflows, or an uncompressed file of another length
    /// than its dimensions declare; [`Error::EmptyData`] or [`Error::NoFeatures`] for a file
    /// without samples or features; [`Error::InvalidHyperParameter`] for a block or buffer of
    /// 0 samples; [`Error::UnseekableStream`] for an order that reads out of file order on a
    /// gzip-compressed file.
    pub fn idx(path: impl AsRef<Path>, order: StreamOrder) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = path.display().to_string();
        let (mut input, gzip) = open(&path, &file)?;
        let malformed = |offset: u64, problem: &'static str| Error::MalformedFile {
            file: file.clone(),
            offset,
            problem,
        };
        let mut magic = [0u8; 4];
        read_fully(
            &mut input,
            &mut magic,
            &file,
            0,
            "file ends inside the 4-byte magic number",
        )?;
        if magic[0] != 0 || magic[1] != 0 {
            return Err(malformed(
                0,
                "wrong magic number: the first two bytes must be zero",
            ));
        }
        let element = Element::from_code(magic[2])
            .ok_or_else(|| malformed(2, "unknown element type code in the magic number"))?;
        let ndims = usize::from(magic[3]);
        if ndims == 0 {
            return Err(malformed(3, "the magic number declares zero dimensions"));
        }
        let mut raw = vec![0u8; 4 * ndims];
        read_fully(
            &mut input,
            &mut raw,
            &file,
            4,
            "file ends inside the dimension sizes",
        )?;
        let dims: Vec<usize> = raw
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
            .collect();
        let overflow = || malformed(4, "the product of the dimensions overflows");
        let samples = dims[0];
        let features = dims[1..]
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(overflow)?;
        let sample_bytes = features.checked_mul(element.size()).ok_or_else(overflow)?;
        let header = (4 + 4 * ndims) as u64;
        let expected = (samples as u64)
            .checked_mul(sample_bytes as u64)
            .and_then(|b| b.checked_add(header))
            .ok_or_else(overflow)?;
        if !gzip {
            let length = std::fs::metadata(&path)
                .map_err(|e| Error::io(&file, e))?
                .len();
            if length < expected {
                return Err(malformed(
                    length,
                    "file ends before the element count its dimensions declare",
                ));
            }
            if length > expected {
                return Err(malformed(
                    expected,
                    "trailing bytes after the elements its dimensions declare",
                ));
            }
        }
        if samples == 0 {
            return Err(Error::EmptyData {
                what: "the streamed file",
            });
        }
        if features == 0 {
            return Err(Error::NoFeatures {
                what: "the streamed file",
            });
        }
        match order {
            StreamOrder::InMemory => {}
            StreamOrder::Blocks { block, buffer } => {
                check_count("block", block)?;
                check_count("buffer", buffer)?;
            }
            StreamOrder::Buffer { buffer } => check_count("buffer", buffer)?,
        }
        if gzip && !matches!(order, StreamOrder::Buffer { .. }) {
            return Err(Error::UnseekableStream {
                file,
                order: match order {
                    StreamOrder::InMemory => "InMemory",
                    _ => "Blocks",
                },
            });
        }
        Ok(Self::from_parts(
            path, file, dims, element, header, order, input, None,
        ))
    }

    /// Opens `path` as [`idx`](Self::idx) does when its (decompressed) content starts like an
    /// IDX file, and as [`csv`](Self::csv) does with `options` otherwise: what the `train`
    /// example's `--stream` reads.
    ///
    /// # Errors
    /// As [`idx`](Self::idx) or [`csv`](Self::csv).
    pub fn open(path: impl AsRef<Path>, options: &CsvOptions, order: StreamOrder) -> Result<Self> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let (mut input, _) = open(path, &file)?;
        let mut magic = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            match read_some(&mut input, &mut magic[got..], &file)? {
                0 => break,
                n => got += n,
            }
        }
        if got == 4 && magic[0] == 0 && magic[1] == 0 && Element::from_code(magic[2]).is_some() {
            Self::idx(path, order)
        } else {
            Self::csv(path, options, order)
        }
    }

    /// Opens the CSV file at `path` (gzip-compressed or not) to stream its rows, read as
    /// [`read_csv`](super::read_csv) reads them with `options` (header, label column,
    /// delimiter). The whole file is read once here, to count and check its rows; each epoch
    /// then reads it again from the start, a megabyte of text at a time, so it streams in
    /// file order or through a shuffle buffer ([`StreamOrder::Buffer`]): the rows of a text
    /// file have no fixed size to seek to.
    ///
    /// # Errors
    /// Those of [`read_csv`](super::read_csv) for the same file (with the line numbers of the
    /// whole file); [`Error::MalformedFile`] for a row longer than 64 MiB;
    /// [`Error::UnseekableStream`] for the orders `InMemory` and `Blocks`.
    pub fn csv(path: impl AsRef<Path>, options: &CsvOptions, order: StreamOrder) -> Result<Self> {
        options.validate()?;
        let path = path.as_ref().to_path_buf();
        let file = path.display().to_string();
        if let StreamOrder::Buffer { buffer } = order {
            check_count("buffer", buffer)?;
        } else {
            return Err(Error::UnseekableStream {
                file,
                order: match order {
                    StreamOrder::InMemory => "InMemory",
                    _ => "Blocks",
                },
            });
        }
        let (mut input, _) = open(&path, &file)?;
        let mut csv = Box::new(CsvState::new(*options));
        let mut samples = 0usize;
        while csv.refill::<T>(&mut input, &file)? {
            samples += csv.available();
            csv.rows.clear();
            csv.labels.clear();
            csv.next = 0;
        }
        if samples == 0 {
            return Err(Error::NoDataRows { file });
        }
        let features = csv.width;
        csv.reset();
        let (input, _) = open(&path, &file)?;
        Ok(Self::from_parts(
            path,
            file,
            vec![samples, features],
            Element::F64,
            0,
            order,
            input,
            Some(csv),
        ))
    }

    /// A stream opened on `input`, before its first epoch; `dims[0]` samples, the product of
    /// the rest features.
    #[allow(clippy::too_many_arguments)]
    fn from_parts(
        path: PathBuf,
        file: String,
        dims: Vec<usize>,
        element: Element,
        header: u64,
        order: StreamOrder,
        input: Input,
        csv: Option<Box<CsvState>>,
    ) -> Self {
        let samples = dims[0];
        let features = dims[1..].iter().product();
        Self {
            path,
            file,
            dims,
            element,
            header,
            samples,
            features,
            labels: None,
            order,
            scaler: None,
            affine: None,
            input,
            plan: Plan::Sequential,
            position: samples,
            permutation: Vec::new(),
            blocks: Vec::new(),
            block: 0,
            within: 0,
            buffer_len: 0,
            epoch_rng: ChaCha8Rng::seed_from_u64(0),
            csv,
            bytes: Vec::new(),
            raw: Vec::new(),
            chunk_first: 0,
            chunk_count: 0,
            chunk_next: 0,
            chunk_labels: Vec::new(),
            picked: Vec::new(),
            buffer: Vec::new(),
            buffer_labels: Vec::new(),
        }
    }

    /// The stream with the labels of the IDX file at `path` (one per sample, read into
    /// memory), for a classifier.
    ///
    /// # Errors
    /// As [`read_idx`](super::read_idx) and [`IdxArray::to_labels`](super::IdxArray::to_labels);
    /// [`Error::SampleCountMismatch`] unless there is one label per sample.
    pub fn with_labels(mut self, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let labels_file = path.display().to_string();
        let labels = super::read_idx(path)?.to_labels(&labels_file)?;
        if labels.len() != self.samples {
            return Err(Error::SampleCountMismatch {
                features_file: self.file.clone(),
                labels_file,
                samples: self.samples,
                labels: labels.len(),
            });
        }
        self.labels = Some(labels);
        Ok(self)
    }

    /// The stream with every value scaled by `scaler` (fitted, for instance, by
    /// [`Scaler::fit_source`](super::Scaler::fit_source) on this stream), as
    /// [`FittedScaler::transform`] scales a matrix.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] unless `scaler` scales as many features as the file has.
    pub fn with_scaler(mut self, scaler: FittedScaler) -> Result<Self> {
        if scaler.input_dim() != self.features {
            return Err(Error::DimensionMismatch {
                what: "features of the scaler for the streamed file",
                expected: self.features,
                found: scaler.input_dim(),
            });
        }
        self.affine = Some((0..self.features).map(|j| scaler.affine(j)).unzip());
        self.scaler = Some(scaler);
        Ok(self)
    }

    /// The file's dimensions: an IDX file's, outermost (the samples) first, e.g.
    /// `[60000, 28, 28]`; `[rows, features]` for a CSV file.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// Whether the file is CSV (rather than IDX).
    pub fn is_csv(&self) -> bool {
        self.csv.is_some()
    }

    /// Whether the file holds unsigned bytes (IDX type `0x08`), such as 8-bit pixels.
    pub fn holds_bytes(&self) -> bool {
        self.csv.is_none() && self.element == Element::U8
    }

    /// The order of the epochs with shuffling.
    pub fn order(&self) -> StreamOrder {
        self.order
    }

    /// The file's name, as errors give it.
    pub fn file(&self) -> &str {
        &self.file
    }

    fn sample_bytes(&self) -> usize {
        self.features * self.element.size()
    }

    /// Reads samples `first..first + count` (consecutive) as the file holds them, to be
    /// converted by [`convert_samples`](Self::convert_samples), with their labels into
    /// `self.chunk_labels`.
    fn read_run(&mut self, first: usize, count: usize) -> Result<()> {
        self.raw.clear();
        self.chunk_labels.clear();
        self.chunk_first = first;
        self.chunk_count = count;
        self.chunk_next = 0;
        if self.csv.is_some() {
            self.read_csv_run(first, count)
        } else {
            self.read_idx_run(first, count)?;
            if let Some(labels) = &self.labels {
                self.chunk_labels
                    .extend_from_slice(&labels[first..first + count]);
            }
            Ok(())
        }
    }

    /// Converts (and scales) samples `at..at + out.len() / features` of the run last read into
    /// `out`, in one pass.
    fn convert_samples(&self, at: usize, out: &mut [T]) -> Result<()> {
        let d = self.features;
        let (from, to) = (at * d, at * d + out.len());
        let first = self.chunk_first + at;
        if self.csv.is_none() && self.element == Element::U8 {
            convert(&self.bytes[from..to], d, first, &self.affine, out)
        } else {
            convert(&self.raw[from..to], d, first, &self.affine, out)
        }
    }

    /// Appends the first `count` samples of the run last read, converted, to `self.picked`:
    /// one resize and one pass, however small the samples are.
    fn pick(&mut self, count: usize) -> Result<()> {
        let start = self.picked.len();
        self.picked.resize(start + count * self.features, T::zero());
        let mut picked = std::mem::take(&mut self.picked);
        let result = self.convert_samples(0, &mut picked[start..]);
        self.picked = picked;
        result
    }

    /// The values of IDX samples `first..first + count` into `self.raw`.
    fn read_idx_run(&mut self, first: usize, count: usize) -> Result<()> {
        let size = self.sample_bytes();
        let offset = self.header + first as u64 * size as u64;
        self.bytes.resize(count * size, 0);
        match &mut self.input {
            Input::Plain(file) => read_at(file, &mut self.bytes, offset, &self.file)?,
            Input::Gzip(decoder, position) => {
                if *position != first {
                    // Only ever asked to go back to the start, at a new epoch.
                    let (reopened, _) = open(&self.path, &self.file)?;
                    self.input = reopened;
                    let mut skip = vec![0u8; self.header as usize];
                    read_fully(
                        &mut self.input,
                        &mut skip,
                        &self.file,
                        0,
                        "file ends inside the header",
                    )?;
                    return self.read_idx_run(first, count);
                }
                read_fully(
                    decoder.as_mut(),
                    &mut self.bytes,
                    &self.file,
                    offset,
                    "file ends before the element count its dimensions declare",
                )?;
                *position += count;
                if *position == self.samples {
                    let mut extra = [0u8; 1];
                    if read_some(decoder.as_mut(), &mut extra, &self.file)? > 0 {
                        return Err(Error::MalformedFile {
                            file: self.file.clone(),
                            offset: offset + self.bytes.len() as u64,
                            problem: "trailing bytes after the elements its dimensions declare",
                        });
                    }
                }
            }
        }
        let element = self.element;
        if element == Element::U8 {
            // Every byte is a finite value: `read_run` converts straight from the bytes.
            return Ok(());
        }
        for (i, b) in self.bytes.chunks_exact(element.size()).enumerate() {
            let raw = element.decode(b);
            if !T::cast(raw).is_finite() {
                return Err(Error::MalformedFile {
                    file: self.file.clone(),
                    offset: offset + (i * element.size()) as u64,
                    problem: "a sample value is NaN or infinite (or beyond the range of the scalar type)",
                });
            }
            self.raw.push(raw);
        }
        Ok(())
    }

    /// The values and labels of CSV samples `first..first + count` into `self.raw` and
    /// `self.chunk_labels`.
    fn read_csv_run(&mut self, first: usize, count: usize) -> Result<()> {
        let Some(csv) = self.csv.as_mut() else {
            return Ok(());
        };
        if csv.position != first {
            // Only ever asked to go back to the start, at a new epoch.
            self.input = open(&self.path, &self.file)?.0;
            csv.reset();
        }
        while csv.available() < count {
            if !csv.refill::<T>(&mut self.input, &self.file)? {
                return Err(Error::MalformedFile {
                    file: self.file.clone(),
                    offset: csv.consumed,
                    problem: "the file ends before the rows it held when the stream was opened",
                });
            }
        }
        let d = csv.width;
        let start = csv.next;
        self.raw
            .extend_from_slice(&csv.rows[start * d..(start + count) * d]);
        if csv.labelled {
            self.chunk_labels
                .extend_from_slice(&csv.labels[start..start + count]);
        }
        csv.next += count;
        csv.position += count;
        Ok(())
    }

    /// Samples read at a time: 64, or as many as fit in `CHUNK_VALUES` values (at least one).
    fn chunk_samples(&self) -> usize {
        CHUNK_SAMPLES
            .min(CHUNK_VALUES / self.features.max(1))
            .max(1)
    }

    /// Samples per block of the `Buffered` plan.
    fn block_size(&self) -> usize {
        match self.order {
            StreamOrder::Blocks { block, .. } => block,
            _ => self.samples,
        }
    }

    /// Reads the next sample of the block order into slot `slot` of the buffer, with its
    /// label; whether there was one.
    fn next_of_blocks(&mut self, slot: usize) -> Result<bool> {
        let d = self.features;
        if self.chunk_next >= self.chunk_count {
            let size = self.block_size();
            let (first, end) = loop {
                let Some(&b) = self.blocks.get(self.block) else {
                    return Ok(false);
                };
                let start = b * size;
                let end = start.saturating_add(size).min(self.samples);
                if start + self.within < end {
                    break (start + self.within, end);
                }
                self.block += 1;
                self.within = 0;
            };
            let count = self.chunk_samples().min(end - first);
            self.within += count;
            self.read_run(first, count)?;
        }
        let at = self.chunk_next;
        let mut buffer = std::mem::take(&mut self.buffer);
        let converted = self.convert_samples(at, &mut buffer[slot * d..(slot + 1) * d]);
        self.buffer = buffer;
        converted?;
        if let Some(&label) = self.chunk_labels.get(at) {
            self.buffer_labels[slot] = label;
        }
        self.chunk_next += 1;
        Ok(true)
    }
}

impl<T: Scalar> BatchSource<T> for Stream<T> {
    fn samples(&self) -> usize {
        self.samples
    }

    fn features(&self) -> usize {
        self.features
    }

    fn labelled(&self) -> bool {
        self.labels.is_some() || self.csv.as_ref().is_some_and(|c| c.labelled)
    }

    fn start_epoch(&mut self, shuffle: bool, rng: &mut dyn Rng) -> Result<()> {
        self.chunk_count = 0;
        self.chunk_next = 0;
        self.position = 0;
        let buffer = match (shuffle, self.order) {
            (false, _) => {
                self.plan = Plan::Sequential;
                return Ok(());
            }
            (true, StreamOrder::InMemory) => {
                crate::limits::check_tensor("the in-memory order's permutation", self.samples, 1)?;
                self.permutation.clear();
                self.permutation.extend(0..self.samples);
                self.permutation.shuffle(rng);
                self.plan = Plan::Permutation;
                return Ok(());
            }
            (true, StreamOrder::Blocks { buffer, .. } | StreamOrder::Buffer { buffer }) => buffer,
        };
        self.plan = Plan::Buffered;
        self.epoch_rng = ChaCha8Rng::seed_from_u64(rng.next_u64());
        self.blocks.clear();
        self.blocks
            .extend(0..self.samples.div_ceil(self.block_size()));
        self.blocks.shuffle(&mut self.epoch_rng);
        (self.block, self.within) = (0, 0);
        let capacity = buffer.min(self.samples);
        crate::limits::check_tensor("the shuffle buffer of a stream", capacity, self.features)?;
        self.buffer.resize(capacity * self.features, T::zero());
        self.buffer_labels.resize(capacity, 0);
        self.buffer_len = 0;
        while self.buffer_len < capacity && self.next_of_blocks(self.buffer_len)? {
            self.buffer_len += 1;
        }
        Ok(())
    }

    fn next_batch(
        &mut self,
        max: usize,
        batch: &mut DMatrix<T>,
        labels: &mut Vec<usize>,
    ) -> Result<usize> {
        let d = self.features;
        labels.clear();
        self.picked.clear();
        crate::limits::check_tensor("a batch of a stream", max.min(self.samples), d)?;
        let k = match self.plan {
            Plan::Sequential => {
                let first = self.position;
                let k = max.min(self.samples - first);
                let mut done = 0;
                while done < k {
                    let count = self.chunk_samples().min(k - done);
                    self.read_run(first + done, count)?;
                    self.pick(count)?;
                    labels.extend_from_slice(&self.chunk_labels);
                    done += count;
                }
                self.position += k;
                k
            }
            Plan::Permutation => {
                let k = max.min(self.samples - self.position);
                for i in 0..k {
                    let r = self.permutation[self.position + i];
                    self.read_run(r, 1)?;
                    self.pick(1)?;
                    labels.extend_from_slice(&self.chunk_labels);
                }
                self.position += k;
                k
            }
            Plan::Buffered => {
                let k = max.min(self.buffer_len);
                let labelled = BatchSource::<T>::labelled(self);
                for _ in 0..k {
                    let j = self.epoch_rng.random_range(0..self.buffer_len);
                    self.picked
                        .extend_from_slice(&self.buffer[j * d..(j + 1) * d]);
                    if labelled {
                        labels.push(self.buffer_labels[j]);
                    }
                    if !self.next_of_blocks(j)? {
                        self.buffer_len -= 1;
                        let last = self.buffer_len;
                        if j != last {
                            self.buffer.copy_within(last * d..(last + 1) * d, j * d);
                            self.buffer_labels[j] = self.buffer_labels[last];
                        }
                    }
                }
                k
            }
        };
        let rows: Vec<&[T]> = self.picked.chunks_exact(d).collect();
        crate::source::gather_rows(&rows, d, batch);
        Ok(k)
    }
}

fn check_count(name: &'static str, value: usize) -> Result<()> {
    crate::validate::check_param(name, value as f64, value >= 1, "at least 1 sample")
}

/// Opens a regular file, gzip-decoding it when it starts with the gzip magic number.
fn open(path: &Path, file: &str) -> Result<(Input, bool)> {
    let metadata = std::fs::metadata(path).map_err(|e| Error::io(file, e))?;
    if !metadata.is_file() {
        return Err(Error::NotARegularFile {
            file: file.to_owned(),
        });
    }
    let mut handle = File::open(path).map_err(|e| Error::io(file, e))?;
    let mut magic = [0u8; 2];
    let got = read_some(&mut handle, &mut magic, file)?;
    let got = if got == 1 {
        got + read_some(&mut handle, &mut magic[1..], file)?
    } else {
        got
    };
    handle
        .seek(SeekFrom::Start(0))
        .map_err(|e| Error::io(file, e))?;
    if got == 2 && magic == [0x1f, 0x8b] {
        let decoder = MultiGzDecoder::new(BufReader::with_capacity(1 << 16, handle));
        Ok((Input::Gzip(Box::new(decoder), 0), true))
    } else {
        Ok((Input::Plain(handle), false))
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Input::Plain(file) => file.read(buf),
            Input::Gzip(decoder, _) => decoder.read(buf),
        }
    }
}

/// Reads what `buf` can hold, once (retrying interruptions).
fn read_some(input: &mut (impl Read + ?Sized), buf: &mut [u8], file: &str) -> Result<usize> {
    loop {
        match input.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(gzip_or_io(e, file)),
        }
    }
}

/// Fills `buf`; a file that ends first is malformed at `offset` plus what was read.
fn read_fully(
    input: &mut (impl Read + ?Sized),
    buf: &mut [u8],
    file: &str,
    offset: u64,
    problem: &'static str,
) -> Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match read_some(input, &mut buf[done..], file)? {
            0 => {
                return Err(Error::MalformedFile {
                    file: file.to_owned(),
                    offset: offset + done as u64,
                    problem,
                });
            }
            n => done += n,
        }
    }
    Ok(())
}

/// A read error: a broken gzip stream is a malformed file, anything else an I/O error.
fn gzip_or_io(error: std::io::Error, file: &str) -> Error {
    match error.kind() {
        ErrorKind::InvalidInput | ErrorKind::InvalidData | ErrorKind::UnexpectedEof => {
            Error::MalformedFile {
                file: file.to_owned(),
                offset: 0,
                problem: "a truncated or corrupt gzip stream",
            }
        }
        _ => Error::io(file, error),
    }
}

/// Text read from a CSV file at a time.
const CSV_CHUNK_BYTES: usize = 1 << 20;

/// The longest row a CSV stream reads.
const CSV_MAX_ROW_BYTES: usize = 64 << 20;

/// Where the reading of a CSV file is: text read but not parsed, rows parsed but not handed
/// out.
struct CsvState {
    options: CsvOptions,
    /// Features per row, once the first data row has been read.
    width: usize,
    labelled: bool,
    /// Text read after the last complete row parsed.
    carry: Vec<u8>,
    /// Bytes of the (decompressed) file before `carry`, and the line where `carry` starts.
    consumed: u64,
    line: usize,
    /// Whether the first row (a header, perhaps) is still ahead.
    first: bool,
    eof: bool,
    /// Rows parsed, row-major, their labels, and the next to hand out.
    rows: Vec<f64>,
    labels: Vec<usize>,
    next: usize,
    /// Rows handed out since the start of the file.
    position: usize,
}

impl CsvState {
    fn new(options: CsvOptions) -> Self {
        Self {
            labelled: options.label_column() != LabelColumn::None,
            options,
            width: 0,
            carry: Vec::new(),
            consumed: 0,
            line: 1,
            first: true,
            eof: false,
            rows: Vec::new(),
            labels: Vec::new(),
            next: 0,
            position: 0,
        }
    }

    /// Back to the start of the file (which the caller reopens).
    fn reset(&mut self) {
        let width = self.width;
        *self = Self::new(self.options);
        self.width = width;
    }

    /// Rows parsed and not yet handed out.
    fn available(&self) -> usize {
        if self.width == 0 {
            return 0;
        }
        self.rows.len() / self.width - self.next
    }

    /// Parses the next chunk of rows (at least one, unless the file is over); whether there
    /// was one.
    fn refill<T: Scalar>(&mut self, input: &mut Input, file: &str) -> Result<bool> {
        // Rows handed out are dropped first.
        if self.next > 0 {
            self.rows.drain(..self.next * self.width);
            self.labels.drain(..self.next.min(self.labels.len()));
            self.next = 0;
        }
        loop {
            let before = self.available();
            // Read until a chunk's worth of text (or the end) is at hand.
            while !self.eof && self.carry.len() < CSV_CHUNK_BYTES {
                let have = self.carry.len();
                self.carry.resize(have + (64 << 10), 0);
                let got = read_some(input, &mut self.carry[have..], file)?;
                self.carry.truncate(have + got);
                self.eof = got == 0;
            }
            if self.carry.is_empty() {
                return Ok(false);
            }
            let cut = if self.eof {
                Some(self.carry.len())
            } else {
                last_row_end(&self.carry)
            };
            let Some(cut) = cut else {
                if self.carry.len() > CSV_MAX_ROW_BYTES {
                    return Err(Error::MalformedFile {
                        file: file.to_owned(),
                        offset: self.consumed,
                        problem: "a row longer than 64 MiB",
                    });
                }
                // A row longer than the chunk: read on.
                let have = self.carry.len();
                self.carry.resize(have + CSV_CHUNK_BYTES, 0);
                let got = read_some(input, &mut self.carry[have..], file)?;
                self.carry.truncate(have + got);
                self.eof = got == 0;
                continue;
            };
            self.parse::<T>(cut, file)?;
            if self.available() > before {
                return Ok(true);
            }
        }
    }

    /// Parses `carry[..cut]`, complete rows, and drops it from `carry`.
    fn parse<T: Scalar>(&mut self, cut: usize, file: &str) -> Result<()> {
        let text = std::str::from_utf8(&self.carry[..cut]).map_err(|e| Error::MalformedFile {
            file: file.to_owned(),
            offset: self.consumed + e.valid_up_to() as u64,
            problem: "not valid UTF-8 text",
        })?;
        let options = if self.first {
            self.options
        } else {
            self.options.with_header(HeaderMode::Absent)
        };
        let shift = self.line - 1;
        match super::parse_csv::<T>(text, file, &options) {
            Ok(table) => {
                let (n, d) = table.features.shape();
                if self.width == 0 {
                    self.width = d;
                } else if d != self.width {
                    let label = usize::from(self.labelled);
                    return Err(Error::RaggedRow {
                        file: file.to_owned(),
                        line: self.line,
                        expected: self.width + label,
                        found: d + label,
                    });
                }
                self.rows.reserve(n * d);
                for row in table.features.row_iter() {
                    self.rows.extend(row.iter().map(|v| v.as_f64()));
                }
                if let Some(labels) = table.labels {
                    self.labels.extend(labels);
                }
            }
            // Blank lines, or the header alone.
            Err(Error::NoDataRows { .. }) => {}
            Err(Error::RaggedRow {
                file,
                line,
                expected,
                found,
            }) => {
                return Err(Error::RaggedRow {
                    file,
                    line: line + shift,
                    expected,
                    found,
                });
            }
            Err(Error::InvalidField {
                file,
                line,
                column,
                found,
                expected,
            }) => {
                return Err(Error::InvalidField {
                    file,
                    line: line + shift,
                    column,
                    found,
                    expected,
                });
            }
            Err(other) => return Err(other),
        }
        self.first = false;
        self.line += text.bytes().filter(|&b| b == b'\n').count();
        self.consumed += cut as u64;
        self.carry.drain(..cut);
        Ok(())
    }
}

/// The end (one past the `\n`) of the last complete row of CSV text that starts at a row's
/// start: the last newline outside quotes.
fn last_row_end(text: &[u8]) -> Option<usize> {
    let mut quoted = false;
    let mut end = None;
    for (i, &b) in text.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => end = Some(i + 1),
            _ => {}
        }
    }
    end
}

/// Fills `buf` from `file` at `offset`, in one call where the system reads at an offset.
fn read_at(file: &mut File, buf: &mut [u8], offset: u64, name: &str) -> Result<()> {
    const PROBLEM: &str = "file ends before the element count its dimensions declare";
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        let mut done = 0;
        while done < buf.len() {
            match file.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => {
                    return Err(Error::MalformedFile {
                        file: name.to_owned(),
                        offset: offset + done as u64,
                        problem: PROBLEM,
                    });
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(name, e)),
            }
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| Error::io(name, e))?;
        read_fully(file, buf, name, offset, PROBLEM)
    }
}

/// A value as a file holds it, before conversion.
trait Raw: Copy {
    fn value(self) -> f64;
}

impl Raw for u8 {
    #[inline(always)]
    fn value(self) -> f64 {
        f64::from(self)
    }
}

impl Raw for f64 {
    #[inline(always)]
    fn value(self) -> f64 {
        self
    }
}

/// Converts the values `raw` of whole samples of `features` values (the first of them sample
/// `first` of the file) to `T` as the in-memory readers convert them and, with `affine` (the shifts and divisors), scales them as
/// [`FittedScaler::transform`] scales (in `f64`), into `out`. Plain loops over slices, which
/// vectorise, with the check for overflow after them.
fn convert<T: Scalar, R: Raw>(
    raw: &[R],
    features: usize,
    first: usize,
    affine: &Option<(Vec<f64>, Vec<f64>)>,
    out: &mut [T],
) -> Result<()> {
    let Some((shifts, divisors)) = affine else {
        for (o, &r) in out.iter_mut().zip(raw) {
            *o = T::cast(r.value());
        }
        return Ok(());
    };
    for (sample, values) in out
        .chunks_exact_mut(features)
        .zip(raw.chunks_exact(features))
    {
        for (((o, &r), &shift), &divisor) in sample.iter_mut().zip(values).zip(shifts).zip(divisors)
        {
            let v = T::cast(r.value()).as_f64();
            let scaled = (v - shift) / divisor;
            *o = T::cast(if divisor == 0.0 { 0.0 } else { scaled });
        }
    }
    if crate::validate::all_finite(out) {
        return Ok(());
    }
    match out.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(at) => Err(Error::NonFiniteData {
            what: "scaled data",
            row: first + at / features,
            column: at % features,
        }),
    }
}
