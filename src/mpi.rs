//! Data-parallel training over MPI (feature `mpi`): [`Mpi`], a
//! [`Communicator`] over `MPI_COMM_WORLD`, by the `mpi` crate
//! (rsmpi) over the system's MPI library (Open MPI or MPICH; Debian's `libopenmpi-dev`, with
//! `libclang-dev` for the bindings' build).
//!
//! Every process of an `mpirun -n N` runs the same program: it initialises MPI once with
//! [`Mpi::initialize`], then trains with
//! [`Autoencoder::fit_parallel`](crate::Autoencoder::fit_parallel) and the communicator, with a
//! configuration of sharded batches. Rank 0 reports and saves; the parameters are the same, bit
//! for bit, on every rank and for every `N`, and the same as one process's with the same
//! configuration.
//!
//! A rank that dies takes the run down: MPI's launcher stops the other ranks, and a rank that
//! waits longer than the time-out for an exchange (a rank that hangs, or a launcher that does
//! not notice a death) says so on standard error and aborts every rank (`MPI_Abort`, exit code
//! 3) rather than hang.
//!
//! ```no_run
//! use autoencoders::mpi::Mpi;
//! use autoencoders::parallel::Communicator;
//! use autoencoders::source::InMemory;
//! use autoencoders::{DenseBuilder, Sgd, TrainingConfig};
//! use autoencoders::rand::{SeedableRng, rngs::ChaCha8Rng};
//! use std::time::Duration;
//!
//! let mpi = Mpi::initialize(Duration::from_secs(60))?;
//! let digits = autoencoders::data::bundled_digits::<f32>()?;
//! let mut rng = ChaCha8Rng::seed_from_u64(1);
//! let mut model = DenseBuilder::new(784, 64).build::<f32, _>(&mut rng)?;
//! let config = TrainingConfig::default().with_batch_size(128).with_shards(32);
//! model.fit_parallel(&mut InMemory::new(&digits.train_images), None, &config, &mpi,
//!     &mut Sgd::new(0.1)?, &mut rng, &mut ())?;
//! if mpi.is_root() {
//!     model.save("model.safetensors")?;
//!     println!("trained on {} ranks", mpi.size());
//! }
//! # Ok::<(), autoencoders::Error>(())
//! ```

use crate::parallel::Communicator;
use crate::{Error, Result};
use ::mpi::collective::CommunicatorCollectives;
use ::mpi::topology::{Communicator as _, SimpleCommunicator};
use std::time::{Duration, Instant};

/// MPI, initialised, and its world communicator. Dropping it finalises MPI (which cannot be
/// initialised again in the same process).
pub struct Mpi {
    world: SimpleCommunicator,
    timeout: Duration,
    // Last: finalises MPI when dropped, after the communicator.
    _universe: ::mpi::environment::Universe,
}

impl std::fmt::Debug for Mpi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mpi")
            .field("rank", &self.rank())
            .field("size", &self.size())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Mpi {
    /// Initialises MPI. An exchange that has not completed after `timeout` aborts the run.
    ///
    /// # Errors
    /// [`Error::Communication`] when MPI is already initialised (or was, in this process), or
    /// for a time-out of zero.
    pub fn initialize(timeout: Duration) -> Result<Self> {
        if timeout.is_zero() {
            return Err(Error::Communication {
                problem: "the time-out of an MPI exchange must be positive",
            });
        }
        let universe = ::mpi::initialize().ok_or(Error::Communication {
            problem: "MPI is already initialised in this process (initialise it once)",
        })?;
        Ok(Self {
            world: universe.world(),
            timeout,
            _universe: universe,
        })
    }

    /// Whether this is rank 0, which reports and saves.
    pub fn is_root(&self) -> bool {
        self.world.rank() == 0
    }

    /// Waits until every rank has called it.
    pub fn barrier(&self) {
        self.world.barrier();
    }

    /// The all-gather, waited for with the time-out.
    fn gather<V: ::mpi::datatype::Equivalence>(&self, local: &[V], all: &mut [V]) -> Result<()> {
        if all.len() != local.len() * self.size() {
            return Err(Error::DimensionMismatch {
                what: "values of an MPI all-gather",
                expected: local.len() * self.size(),
                found: all.len(),
            });
        }
        let (world, timeout) = (&self.world, self.timeout);
        ::mpi::request::scope(|scope| {
            let mut request = world.immediate_all_gather_into(scope, local, all);
            let start = Instant::now();
            loop {
                match request.test() {
                    Ok(_) => return,
                    Err(pending) => request = pending,
                }
                let waited = start.elapsed();
                if waited > timeout {
                    eprintln!(
                        "autoencoders: rank {} of {}: an exchange of gradients has waited {:.1} s \
                         for the other ranks (the time-out): a rank has stopped or hangs; \
                         aborting every rank",
                        world.rank(),
                        world.size(),
                        waited.as_secs_f64()
                    );
                    world.abort(3);
                }
                if waited < Duration::from_millis(2) {
                    std::thread::yield_now();
                } else {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        });
        Ok(())
    }
}

impl Communicator for Mpi {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn all_gather_f32(&self, local: &[f32], all: &mut [f32]) -> Result<()> {
        self.gather(local, all)
    }

    fn all_gather_f64(&self, local: &[f64], all: &mut [f64]) -> Result<()> {
        self.gather(local, all)
    }
}
