//! The resource policy: how large a tensor the crate allocates on a caller's, a flag's or a
//! file's say.
//!
//! Sizes that come from a file are checked against the file's own size by its reader. Sizes
//! that come from a caller or a flag (a layer's width, say) have no such yardstick, so every
//! weight matrix is checked against a ceiling before it is allocated: at most
//! [`max_elements`] entries (by default [`DEFAULT_MAX_ELEMENTS`], 2^28, which is 1 GiB of
//! `f32` or 2 GiB of `f64`). A larger request, or one whose size overflows, gets
//! [`Error::TooLarge`] instead of an abort. A program that needs
//! larger layers raises the ceiling once, with [`set_max_elements`].
//!
//! A gzip-compressed file is decompressed to at most [`max_decompressed_bytes`] (by default
//! [`DEFAULT_MAX_DECOMPRESSED_BYTES`], 1 GiB), with memory reserved step by step, never past
//! the limit; beyond it the reader fails with
//! [`Error::DecompressionLimit`], which says it was the limit
//! and not corruption. Every file is read only if it is a regular file
//! ([`Error::NotARegularFile`] for a FIFO, a device or a folder).
//!
//! ```
//! use autoencoders::{DenseBuilder, Error, limits};
//! use autoencoders::rand::{SeedableRng, rngs::ChaCha8Rng};
//!
//! let mut rng = ChaCha8Rng::seed_from_u64(0);
//! let huge = DenseBuilder::new(784, 30_000_000).build::<f32, _>(&mut rng);
//! assert!(matches!(huge, Err(Error::TooLarge { .. })));
//! assert_eq!(limits::max_elements(), limits::DEFAULT_MAX_ELEMENTS);
//! ```

use crate::{Error, Result};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The default ceiling on the entries of one tensor: 2^28.
pub const DEFAULT_MAX_ELEMENTS: usize = 1 << 28;

static MAX_ELEMENTS: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_ELEMENTS);

/// The ceiling on the entries of one tensor that the crate allocates for a caller.
pub fn max_elements() -> usize {
    MAX_ELEMENTS.load(Ordering::Relaxed)
}

/// Sets the ceiling of [`max_elements`] for the whole process.
pub fn set_max_elements(elements: usize) {
    MAX_ELEMENTS.store(elements, Ordering::Relaxed);
}

/// The default limit on what a gzip stream may decompress to: 1 GiB.
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: u64 = 1 << 30;

static MAX_DECOMPRESSED_BYTES: AtomicU64 = AtomicU64::new(DEFAULT_MAX_DECOMPRESSED_BYTES);

/// The limit on what one gzip-compressed file may decompress to.
pub fn max_decompressed_bytes() -> u64 {
    MAX_DECOMPRESSED_BYTES.load(Ordering::Relaxed)
}

/// Sets the limit of [`max_decompressed_bytes`] for the whole process.
pub fn set_max_decompressed_bytes(bytes: u64) {
    MAX_DECOMPRESSED_BYTES.store(bytes, Ordering::Relaxed);
}

/// Checks that a `rows × columns` tensor fits under the ceiling.
pub(crate) fn check_tensor(what: &'static str, rows: usize, columns: usize) -> Result<()> {
    let limit = max_elements();
    match rows.checked_mul(columns) {
        Some(elements) if elements <= limit => Ok(()),
        elements => Err(Error::TooLarge {
            what,
            rows,
            columns,
            elements,
            limit,
        }),
    }
}
