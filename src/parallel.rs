//! Data-parallel training whose result does not depend on the number of processes.
//!
//! Each global minibatch (the [`TrainingConfig`](crate::TrainingConfig)'s batch) is cut into
//! shards of a fixed number of samples; shard `j` is computed by process `j mod size`, each
//! with its own generator for the corruption (seeded from one draw of the run's generator per
//! batch and the shard's index); the processes exchange their shards' gradients and every
//! process sums all of them in shard order, weighted by the shards' sizes, and takes the same
//! step. The arithmetic is the same whatever the number of processes, so 1, 2 or 4 give the
//! same parameters bit for bit, and a single process with [`SingleProcess`] is the reference.
//!
//! The objective of a batch is the weighted mean of its shards' objectives. For the
//! reconstruction loss and the per-sample penalties that is the batch's objective; a penalty
//! computed over the batch (KL sparsity's mean activation) is computed over each shard, as
//! each process of PyTorch's `DistributedDataParallel` sees its own samples. The exchange is an
//! all-gather of every shard's gradient, `ceil(shards / size)` gradients from each process
//! (1.6 MB per shard for W1 in `f32`): what makes the sum's order fixed, at a cost in bandwidth
//! that an all-reduce (whose order of additions depends on the number of processes) would
//! halve.
//!
//! ```
//! use autoencoders::parallel::{DataParallel, SingleProcess};
//! use autoencoders::source::InMemory;
//! use autoencoders::{DenseBuilder, Sgd, TrainingConfig};
//! use autoencoders::rand::{SeedableRng, rngs::ChaCha8Rng};
//! use nalgebra::DMatrix;
//!
//! let x = DMatrix::from_fn(64, 6, |i, j| ((i * 5 + j) % 7) as f64 / 7.0);
//! let mut model = DenseBuilder::new(6, 3).build::<f64, _>(&mut ChaCha8Rng::seed_from_u64(1))?;
//! let config = TrainingConfig::default().with_batch_size(16).with_epochs(2);
//! // Batches of 16 in shards of 4: what any number of processes computes, here in one.
//! let parallel = DataParallel::new(&SingleProcess, 4)?;
//! model.fit_parallel(&mut InMemory::new(&x), None, &config, &parallel, &mut Sgd::new(0.1)?,
//!     &mut ChaCha8Rng::seed_from_u64(2), &mut ())?;
//! # Ok::<(), autoencoders::Error>(())
//! ```

use crate::{Error, Precision, Result, Scalar};

/// The processes of a data-parallel run and the one collective operation it needs.
///
/// [`SingleProcess`] is the run of one; with the `mpi` feature, [`Mpi`](crate::mpi::Mpi)
/// is an MPI communicator. A user's implementation (threads, another transport) must give every
/// process the same `size` and a distinct `rank` in `0..size`, and `all_gather` must hand
/// every process the concatenation of all processes' `local` slices in rank order.
pub trait Communicator {
    /// This process's index, from 0.
    fn rank(&self) -> usize;

    /// The number of processes.
    fn size(&self) -> usize;

    /// Puts every process's `local` (all of the same length) into `all`, in rank order
    /// (`all.len() == local.len() * size`).
    ///
    /// # Errors
    /// Whatever the transport meets.
    fn all_gather_f32(&self, local: &[f32], all: &mut [f32]) -> Result<()>;

    /// [`all_gather_f32`](Self::all_gather_f32) for `f64`.
    ///
    /// # Errors
    /// Whatever the transport meets.
    fn all_gather_f64(&self, local: &[f64], all: &mut [f64]) -> Result<()>;
}

/// A run of one process: the reference that any number of processes reproduces.
#[derive(Clone, Copy, Debug, Default)]
pub struct SingleProcess;

impl Communicator for SingleProcess {
    fn rank(&self) -> usize {
        0
    }

    fn size(&self) -> usize {
        1
    }

    fn all_gather_f32(&self, local: &[f32], all: &mut [f32]) -> Result<()> {
        all.copy_from_slice(local);
        Ok(())
    }

    fn all_gather_f64(&self, local: &[f64], all: &mut [f64]) -> Result<()> {
        all.copy_from_slice(local);
        Ok(())
    }
}

/// How a data-parallel run splits its batches: the communicator and the shard size.
#[derive(Clone, Copy)]
pub struct DataParallel<'c> {
    communicator: &'c dyn Communicator,
    shard: usize,
}

impl std::fmt::Debug for DataParallel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataParallel")
            .field("rank", &self.communicator.rank())
            .field("size", &self.communicator.size())
            .field("shard", &self.shard)
            .finish()
    }
}

impl<'c> DataParallel<'c> {
    /// Batches cut into shards of `shard` samples (the last of a batch may be smaller),
    /// computed by the processes of `communicator`.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for shards of 0 samples; [`Error::InvalidHyperParameter`] for
    /// a communicator whose rank is not below its size.
    pub fn new(communicator: &'c dyn Communicator, shard: usize) -> Result<Self> {
        crate::validate::check_nonzero(shard, "shard size")?;
        let (rank, size) = (communicator.rank(), communicator.size());
        crate::validate::check_param(
            "rank",
            rank as f64,
            size >= 1 && rank < size,
            "a rank below the communicator's size",
        )?;
        Ok(Self {
            communicator,
            shard,
        })
    }

    /// Samples per shard.
    pub fn shard(&self) -> usize {
        self.shard
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.communicator.rank()
    }

    /// The number of processes.
    pub fn size(&self) -> usize {
        self.communicator.size()
    }

    /// Every process's `local`, in rank order, into `all`.
    pub(crate) fn all_gather<T: Scalar>(&self, local: &[T], all: &mut [T]) -> Result<()> {
        if all.len() != local.len() * self.size() {
            return Err(Error::DimensionMismatch {
                what: "values of an all-gather",
                expected: local.len() * self.size(),
                found: all.len(),
            });
        }
        // Exact both ways: the values are `f32`s or `f64`s already.
        match T::PRECISION {
            Precision::Single => {
                let narrow: Vec<f32> = local.iter().map(|v| v.as_f64() as f32).collect();
                let mut gathered = vec![0.0f32; all.len()];
                self.communicator.all_gather_f32(&narrow, &mut gathered)?;
                for (a, g) in all.iter_mut().zip(gathered) {
                    *a = T::cast(f64::from(g));
                }
            }
            _ => {
                let wide: Vec<f64> = local.iter().map(|v| v.as_f64()).collect();
                let mut gathered = vec![0.0f64; all.len()];
                self.communicator.all_gather_f64(&wide, &mut gathered)?;
                for (a, g) in all.iter_mut().zip(gathered) {
                    *a = T::cast(g);
                }
            }
        }
        Ok(())
    }
}

/// What an epoch sums over its batches, as numbers that can be exchanged between processes:
/// the training loop's totals, shard by shard.
pub(crate) trait ShardTotals: Default {
    /// How many numbers.
    const LEN: usize;
    /// The numbers, into `out` (`LEN` of them).
    fn write(&self, out: &mut [f64]);
    /// Adds the numbers `values` (as `write` wrote them).
    fn add(&mut self, values: &[f64]);
}

impl ShardTotals for (f64, f64) {
    const LEN: usize = 2;
    fn write(&self, out: &mut [f64]) {
        out[0] = self.0;
        out[1] = self.1;
    }
    fn add(&mut self, values: &[f64]) {
        self.0 += values[0];
        self.1 += values[1];
    }
}

impl ShardTotals for (f64, usize) {
    const LEN: usize = 2;
    fn write(&self, out: &mut [f64]) {
        out[0] = self.0;
        out[1] = self.1 as f64;
    }
    fn add(&mut self, values: &[f64]) {
        self.0 += values[0];
        self.1 += values[1] as usize;
    }
}
