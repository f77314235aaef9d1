//! How many threads the crate computes on: all cores by default, the same results at any count.
//!
//! Training and evaluation divide their large matrix products (by blocks of output columns)
//! and their long elementwise passes (the optimisers' updates, by pieces of the parameters)
//! over a persistent pool of threads. The count is, in order of precedence:
//! 1. the last [`set_threads`] of the process;
//! 2. the environment variable `AUTOENCODERS_THREADS` ([`VARIABLE`]), a whole number from 1 to
//!    [`MAX_THREADS`], read once, at the first computation;
//! 3. the machine's available parallelism ([`std::thread::available_parallelism`]).
//!
//! # The guarantee
//! **Every result is the same, bit for bit, at any thread count, and the same as on one
//! thread.** Work is divided only between outputs: each element of a product's output is
//! computed by one thread, by the same kernel, with its sum over the inner dimension in the
//! same order as when nothing is divided; each element of an elementwise pass is computed by
//! one thread with the same operations. No sum is ever split between threads, so nothing
//! depends on which thread computed what, or when. `tests/threads.rs` checks it for training
//! runs at 1, 2, 3 and 4 threads.
//!
//! The bits do depend on the kernel, which is chosen at run time from the CPU's instruction
//! sets (AVX-512, AVX2 and FMA, …) and on the `gemm` feature: the same build on the same kind
//! of CPU gives the same results at any thread count.
//!
//! One computation at a time uses the pool: a product started on a second thread of the
//! user's program while the pool is busy runs on that thread alone (with the same results).
//! A program that trains several models at once on its own threads should set one thread
//! here, so that the two kinds of threads do not compete for the cores.
//!
//! ```
//! use autoencoders::threads;
//!
//! threads::set_threads(2)?;
//! assert_eq!(threads::threads(), 2);
//! assert!(threads::set_threads(0).is_err());
//! # Ok::<(), autoencoders::Error>(())
//! ```

use crate::{Error, Result};

/// The environment variable that sets the thread count: `AUTOENCODERS_THREADS`.
pub const VARIABLE: &str = crate::pool::VARIABLE;

/// The largest thread count accepted.
pub const MAX_THREADS: usize = crate::pool::MAX_THREADS;

/// What a thread count must be.
const EXPECTED: &str = "a whole number from 1 to 256";
const _: () = assert!(MAX_THREADS == 256, "EXPECTED names MAX_THREADS");

/// The thread count the crate computes on now.
pub fn threads() -> usize {
    crate::pool::threads()
}

/// The machine's available parallelism (at most [`MAX_THREADS`]): the default count when
/// [`VARIABLE`] is not set.
pub fn available() -> usize {
    crate::pool::available()
}

/// Sets the thread count for the whole process, replacing the pool (and whatever
/// [`VARIABLE`] said). A computation already running finishes on the threads it started
/// with.
///
/// # Errors
/// [`Error::InvalidHyperParameter`] unless `1 ≤ threads ≤ MAX_THREADS`;
/// [`Error::ThreadsUnavailable`] if the system refuses to start the threads (the crate then
/// computes on the calling thread alone).
pub fn set_threads(threads: usize) -> Result<()> {
    crate::validate::check_param(
        "threads",
        threads as f64,
        (1..=MAX_THREADS).contains(&threads),
        EXPECTED,
    )?;
    if crate::pool::set_threads(threads) {
        Ok(())
    } else {
        crate::pool::set_threads(1);
        Err(Error::ThreadsUnavailable { threads })
    }
}

/// Checks [`VARIABLE`]: every training run calls this first, so that a malformed value is an
/// error rather than a silent single thread.
///
/// # Errors
/// [`Error::InvalidEnvironment`] if the variable is set to anything but a whole number from 1
/// to [`MAX_THREADS`] and [`set_threads`] has not been called since.
pub fn check_environment() -> Result<()> {
    match crate::pool::malformed_variable() {
        None => Ok(()),
        Some(value) => Err(Error::InvalidEnvironment {
            variable: VARIABLE,
            value,
            expected: EXPECTED,
        }),
    }
}
