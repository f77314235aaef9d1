//! Where training draws its minibatches from: the [`BatchSource`] trait, the in-memory
//! source every `fit` uses, and an adapter that maps batches through a function (an encoder).
//!
//! A source hands out the samples of one epoch batch by batch, in an order it decides at the
//! start of the epoch from the run's generator. The in-memory source, [`InMemory`], gives the
//! order every `fit` has always used (a fresh permutation of all samples, drawn with
//! [`SliceRandom::shuffle`]); the streaming sources of [`data`](crate::data) read files of any
//! size in bounded memory, and one of their orders is exactly this one.
//!
//! ```
//! use autoencoders::source::{BatchSource, InMemory};
//! use autoencoders::rand::{SeedableRng, rngs::ChaCha8Rng};
//! use nalgebra::DMatrix;
//!
//! let x = DMatrix::from_fn(5, 2, |i, j| (10 * i + j) as f64);
//! let mut source = InMemory::new(&x);
//! let mut rng = ChaCha8Rng::seed_from_u64(0);
//! source.start_epoch(false, &mut rng)?;
//! let (mut batch, mut labels) = (DMatrix::zeros(0, 0), Vec::new());
//! assert_eq!(source.next_batch(2, &mut batch, &mut labels)?, 2);
//! assert_eq!(batch.row(1)[0], 10.0);
//! assert_eq!(source.next_batch(2, &mut batch, &mut labels)?, 2);
//! assert_eq!(source.next_batch(2, &mut batch, &mut labels)?, 1); // the last, smaller batch
//! assert_eq!(source.next_batch(2, &mut batch, &mut labels)?, 0); // the epoch is over
//! # Ok::<(), autoencoders::Error>(())
//! ```

use crate::linalg::resize;
use crate::{Error, Result, Scalar};
use nalgebra::DMatrix;
use rand::Rng;
use rand::seq::SliceRandom;

/// A supply of training samples, handed out one epoch at a time in minibatches.
///
/// The training loop calls [`start_epoch`](Self::start_epoch) before every epoch, then
/// [`next_batch`](Self::next_batch) until it returns 0 (or the update budget is spent). Every
/// epoch must hand out exactly [`samples`](Self::samples) samples, each once. Whatever
/// randomness the order needs comes from the generator given to `start_epoch`, and only there
/// (a source that shuffles during the epoch seeds its own generator from it), so that an
/// epoch's order depends on the generator's state at its start alone: a seeded run repeats bit
/// for bit, and a run resumed from a checkpoint continues as if it had not stopped.
///
/// The trait is dyn compatible: `&mut dyn BatchSource<f32>` is a source.
///
/// # Implementing `BatchSource`
/// ```
/// use autoencoders::source::BatchSource;
/// use autoencoders::rand::Rng;
/// use nalgebra::DMatrix;
///
/// /// The samples `(i, i²)` for `i` in `0..n`, computed on demand, in order.
/// struct Squares { n: usize, next: usize }
///
/// impl BatchSource<f64> for Squares {
///     fn samples(&self) -> usize { self.n }
///     fn features(&self) -> usize { 2 }
///     fn start_epoch(&mut self, _shuffle: bool, _rng: &mut dyn Rng) -> autoencoders::Result<()> {
///         self.next = 0;
///         Ok(())
///     }
///     fn next_batch(
///         &mut self,
///         max: usize,
///         batch: &mut DMatrix<f64>,
///         _labels: &mut Vec<usize>,
///     ) -> autoencoders::Result<usize> {
///         let k = max.min(self.n - self.next);
///         *batch = DMatrix::from_fn(k, 2, |r, c| ((self.next + r) as f64).powi(c as i32 + 1));
///         self.next += k;
///         Ok(k)
///     }
/// }
/// ```
pub trait BatchSource<T: Scalar> {
    /// Samples in one epoch.
    fn samples(&self) -> usize;

    /// Features (columns) of every sample.
    fn features(&self) -> usize;

    /// Whether [`next_batch`](Self::next_batch) fills in a class label for every sample.
    fn labelled(&self) -> bool {
        false
    }

    /// Starts an epoch: from here on, [`next_batch`](Self::next_batch) hands out the samples
    /// in an order that `shuffle` and `rng` decide (without `shuffle`, the source's own fixed
    /// order, drawing nothing).
    ///
    /// # Errors
    /// Whatever the source meets, e.g. an I/O error.
    fn start_epoch(&mut self, shuffle: bool, rng: &mut dyn Rng) -> Result<()>;

    /// Puts the next at most `max` samples of the epoch into `batch` (resized to
    /// `k × features`) and, for a [`labelled`](Self::labelled) source, their labels into
    /// `labels` (replacing what it held); returns `k`, which is 0 once the epoch is over and
    /// less than `max` only for its last batch.
    ///
    /// # Errors
    /// Whatever the source meets: an I/O error, a malformed or non-finite value (naming the
    /// file and the sample, for the crate's sources).
    fn next_batch(
        &mut self,
        max: usize,
        batch: &mut DMatrix<T>,
        labels: &mut Vec<usize>,
    ) -> Result<usize>;
}

impl<T: Scalar, S: BatchSource<T> + ?Sized> BatchSource<T> for &mut S {
    fn samples(&self) -> usize {
        (**self).samples()
    }
    fn features(&self) -> usize {
        (**self).features()
    }
    fn labelled(&self) -> bool {
        (**self).labelled()
    }
    fn start_epoch(&mut self, shuffle: bool, rng: &mut dyn Rng) -> Result<()> {
        (**self).start_epoch(shuffle, rng)
    }
    fn next_batch(
        &mut self,
        max: usize,
        batch: &mut DMatrix<T>,
        labels: &mut Vec<usize>,
    ) -> Result<usize> {
        (**self).next_batch(max, batch, labels)
    }
}

impl<T: Scalar, S: BatchSource<T> + ?Sized> BatchSource<T> for Box<S> {
    fn samples(&self) -> usize {
        (**self).samples()
    }
    fn features(&self) -> usize {
        (**self).features()
    }
    fn labelled(&self) -> bool {
        (**self).labelled()
    }
    fn start_epoch(&mut self, shuffle: bool, rng: &mut dyn Rng) -> Result<()> {
        (**self).start_epoch(shuffle, rng)
    }
    fn next_batch(
        &mut self,
        max: usize,
        batch: &mut DMatrix<T>,
        labels: &mut Vec<usize>,
    ) -> Result<usize> {
        (**self).next_batch(max, batch, labels)
    }
}

/// Samples gathered together per tile: the tile's writes to each batch column are contiguous,
/// its reads are as many sequential streams.
const GATHER_TILE: usize = 16;

/// A data set held in memory: what every `fit` trains on.
///
/// Each epoch with shuffling draws a fresh permutation of `0..n` with
/// [`SliceRandom::shuffle`] from the run's generator (a permutation of the original order, not
/// of the previous epoch's), and hands out its consecutive chunks; without shuffling, the rows
/// in order.
///
/// The source keeps its own sample-major copy of the data (each sample's features
/// contiguous), so that gathering a shuffled batch reads whole samples rather than one
/// scattered element per column of the column-major matrix. For data that do not fit in
/// memory twice, use a streaming source ([`data::Stream`](crate::data::Stream)).
#[derive(Clone, Debug)]
pub struct InMemory<T: Scalar> {
    /// The transpose of the data: column `r` is sample `r`.
    samples: DMatrix<T>,
    labels: Option<Vec<usize>>,
    order: Vec<usize>,
    position: usize,
}

impl<T: Scalar> InMemory<T> {
    /// The rows of `x` (`n × features`), without labels.
    pub fn new(x: &DMatrix<T>) -> Self {
        let n = x.nrows();
        Self {
            samples: x.transpose(),
            labels: None,
            order: (0..n).collect(),
            position: n,
        }
    }

    /// The rows of `x` with one label each.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] unless there is one label per row.
    pub fn with_labels(x: &DMatrix<T>, labels: &[usize]) -> Result<Self> {
        if labels.len() != x.nrows() {
            return Err(Error::DimensionMismatch {
                what: "labels of the in-memory source",
                expected: x.nrows(),
                found: labels.len(),
            });
        }
        let mut source = Self::new(x);
        source.labels = Some(labels.to_vec());
        Ok(source)
    }

    /// Copies samples `rows`, in that order, into `batch`.
    fn gather(&self, rows: &[usize], batch: &mut DMatrix<T>) {
        let d = self.samples.nrows();
        let samples = self.samples.as_slice();
        let sources: Vec<&[T]> = rows.iter().map(|&r| &samples[r * d..(r + 1) * d]).collect();
        gather_rows(&sources, d, batch);
    }
}

/// Copies `rows` (each a sample of `d` values) into `batch` (`rows.len() × d`, column-major),
/// a tile of samples at a time, so that the tile's writes to each column are contiguous and its
/// reads as many sequential streams.
pub(crate) fn gather_rows<T: Scalar>(rows: &[&[T]], d: usize, batch: &mut DMatrix<T>) {
    let b = rows.len();
    resize(batch, b, d);
    // A copy of a batch is too short to be worth handing to other threads (and a source that
    // reads from disk calls this between long waits, when the pool's workers are asleep).
    let out = batch.as_mut_slice();
    for (t, tile) in rows.chunks(GATHER_TILE).enumerate() {
        let first = t * GATHER_TILE;
        for j in 0..d {
            let column = &mut out[j * b + first..j * b + first + tile.len()];
            for (o, row) in column.iter_mut().zip(tile) {
                *o = row[j];
            }
        }
    }
}

impl<T: Scalar> BatchSource<T> for InMemory<T> {
    fn samples(&self) -> usize {
        self.samples.ncols()
    }

    fn features(&self) -> usize {
        self.samples.nrows()
    }

    fn labelled(&self) -> bool {
        self.labels.is_some()
    }

    fn start_epoch(&mut self, shuffle: bool, rng: &mut dyn Rng) -> Result<()> {
        // Each epoch shuffles the identity, not the previous epoch's order, so that the order
        // depends on the generator alone (and a resumed run needs no saved order).
        let n = self.samples.ncols();
        self.order.clear();
        self.order.extend(0..n);
        if shuffle {
            self.order.shuffle(rng);
        }
        self.position = 0;
        Ok(())
    }

    fn next_batch(
        &mut self,
        max: usize,
        batch: &mut DMatrix<T>,
        labels: &mut Vec<usize>,
    ) -> Result<usize> {
        let end = self.order.len().min(self.position.saturating_add(max));
        let rows = &self.order[self.position..end];
        self.gather(rows, batch);
        labels.clear();
        if let Some(all) = &self.labels {
            labels.extend(rows.iter().map(|&r| all[r]));
        }
        self.position = end;
        Ok(rows.len())
    }
}

/// A source whose batches pass through a function first: e.g. the codes of a trained encoder,
/// computed batch by batch, for the next layer of a layer-wise pretraining run over a stream.
///
/// ```
/// use autoencoders::source::{BatchSource, InMemory, Mapped};
/// use autoencoders::rand::{SeedableRng, rngs::ChaCha8Rng};
/// use nalgebra::DMatrix;
///
/// let x = DMatrix::from_fn(3, 2, |i, j| (i + j) as f64);
/// let mut doubled = Mapped::new(InMemory::new(&x), 2, |b: &DMatrix<f64>| Ok(b * 2.0));
/// doubled.start_epoch(false, &mut ChaCha8Rng::seed_from_u64(0))?;
/// let (mut batch, mut labels) = (DMatrix::zeros(0, 0), Vec::new());
/// doubled.next_batch(3, &mut batch, &mut labels)?;
/// assert_eq!(batch, &x * 2.0);
/// # Ok::<(), autoencoders::Error>(())
/// ```
pub struct Mapped<T: Scalar, S, F> {
    source: S,
    features: usize,
    map: F,
    raw: DMatrix<T>,
}

impl<T: Scalar, S, F> Mapped<T, S, F> {
    /// Batches of `source` passed through `map`, which must keep the rows and give `features`
    /// columns.
    pub fn new(source: S, features: usize, map: F) -> Self {
        Self {
            source,
            features,
            map,
            raw: DMatrix::zeros(0, 0),
        }
    }

    /// The source underneath.
    pub fn into_inner(self) -> S {
        self.source
    }
}

impl<T, S, F> BatchSource<T> for Mapped<T, S, F>
where
    T: Scalar,
    S: BatchSource<T>,
    F: FnMut(&DMatrix<T>) -> Result<DMatrix<T>>,
{
    fn samples(&self) -> usize {
        self.source.samples()
    }

    fn features(&self) -> usize {
        self.features
    }

    fn labelled(&self) -> bool {
        self.source.labelled()
    }

    fn start_epoch(&mut self, shuffle: bool, rng: &mut dyn Rng) -> Result<()> {
        self.source.start_epoch(shuffle, rng)
    }

    fn next_batch(
        &mut self,
        max: usize,
        batch: &mut DMatrix<T>,
        labels: &mut Vec<usize>,
    ) -> Result<usize> {
        let k = self.source.next_batch(max, &mut self.raw, labels)?;
        if k == 0 {
            resize(batch, 0, self.features);
            return Ok(0);
        }
        let mapped = (self.map)(&self.raw)?;
        if mapped.nrows() != k {
            return Err(Error::DimensionMismatch {
                what: "rows of a mapped batch",
                expected: k,
                found: mapped.nrows(),
            });
        }
        if mapped.ncols() != self.features {
            return Err(Error::DimensionMismatch {
                what: "columns of a mapped batch",
                expected: self.features,
                found: mapped.ncols(),
            });
        }
        *batch = mapped;
        Ok(k)
    }
}
