//! Data-parallel training whose result does not depend on the number of processes.
//!
//! Each global minibatch (the [`TrainingConfig`](crate::TrainingConfig)'s batch) is cut into
//! shards of a fixed number of samples ([`TrainingConfig::with_shards`](crate::TrainingConfig::with_shards)); shard `j` is computed by process `j mod size`, each
//! with its own generator for the corruption (seeded from one draw of the run's generator per
//! batch and the shard's index); the processes exchange their shards' gradients and every
//! process sums all of them in shard order, weighted by the shards' sizes, and takes the same
//! step. The arithmetic is the same whatever the number of processes, so 1, 2 or 4 give the
//! same parameters bit for bit, and a single process (any `fit` with a sharded configuration,
//! or [`SingleProcess`]) is the reference.
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
//! use autoencoders::parallel::SingleProcess;
//! use autoencoders::source::InMemory;
//! use autoencoders::{DenseBuilder, Sgd, TrainingConfig};
//! use autoencoders::rand::{SeedableRng, rngs::ChaCha8Rng};
//! use nalgebra::DMatrix;
//!
//! let x = DMatrix::from_fn(64, 6, |i, j| ((i * 5 + j) % 7) as f64 / 7.0);
//! let mut model = DenseBuilder::new(6, 3).build::<f64, _>(&mut ChaCha8Rng::seed_from_u64(1))?;
//! // Batches of 16 in shards of 4: what any number of processes computes, here in one.
//! let config = TrainingConfig::default().with_batch_size(16).with_epochs(2).with_shards(4);
//! let mut reference = model.clone();
//! reference.fit(&x, &config, &mut Sgd::new(0.1)?, &mut ChaCha8Rng::seed_from_u64(2))?;
//! // Through a communicator (here of one process; `mpi::Mpi` under mpirun): the same bits.
//! model.fit_parallel(&mut InMemory::new(&x), None, &config, &SingleProcess, &mut Sgd::new(0.1)?,
//!     &mut ChaCha8Rng::seed_from_u64(2), &mut ())?;
//! assert_eq!(model.parameters(), reference.parameters());
//! # Ok::<(), autoencoders::Error>(())
//! ```

use crate::scalar::TypedPair;
use crate::{Error, Result, Scalar};

/// The processes of a data-parallel run and the one collective operation it needs.
///
/// [`SingleProcess`] is the run of one; with the `mpi` feature, `mpi::Mpi`
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

/// Every process's `local`, in rank order, into `all`, as they are (`f32` or `f64`).
pub(crate) fn all_gather<T: Scalar>(
    communicator: &dyn Communicator,
    local: &[T],
    all: &mut [T],
) -> Result<()> {
    if all.len() != local.len() * communicator.size() {
        return Err(Error::DimensionMismatch {
            what: "values of an all-gather",
            expected: local.len() * communicator.size(),
            found: all.len(),
        });
    }
    match T::typed_pair(local, all) {
        TypedPair::Single(local, all) => communicator.all_gather_f32(local, all),
        TypedPair::Double(local, all) => communicator.all_gather_f64(local, all),
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
