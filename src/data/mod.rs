//! Reading, scaling and splitting data sets: IDX files (MNIST's format), CSV files of numbers,
//! feature scaling learned on training data or from known bounds, seeded train/test splits, and
//! the digits bundled with the crate.
//!
//! Readers return a [`Table`] (or an [`IdxArray`]) whose values are as in the file; a
//! [`Scaler`] then scales them. Gzip-compressed files are recognised from their first bytes and
//! decompressed transparently. Errors name the file and the position of the problem.
//!
//! ```
//! use autoencoders::data::{CsvOptions, LabelColumn, Scaler, parse_csv};
//!
//! let options = CsvOptions::default().with_label_column(LabelColumn::Last);
//! let train = parse_csv::<f64>("a,b,class\n0,10,0\n4,30,1\n", "train.csv", &options)?;
//! let test = parse_csv::<f64>("a,b,class\n2,50,1\n", "test.csv", &options)?;
//!
//! let scaler = Scaler::MinMax.fit(&train.features)?; // statistics of the training data only
//! let test_x = scaler.transform(&test.features)?;
//! assert_eq!((test_x[(0, 0)], test_x[(0, 1)]), (0.5, 2.0));
//! # Ok::<(), autoencoders::Error>(())
//! ```

mod csv;
mod idx;
#[cfg(feature = "bundled-digits")]
mod mnist;
mod scale;
mod split;
mod stream;
mod table;

pub use csv::{CsvOptions, HeaderMode, LabelColumn, parse_csv, read_csv};
pub use idx::{IdxArray, IdxData, parse_idx, read_idx, read_idx_table};
#[cfg(feature = "bundled-digits")]
pub use mnist::{Digits, bundled_digits};
pub use scale::{FittedScaler, Scaler, clip_to_unit};
pub use split::{SplitSize, select_labels, select_rows, split_rows};
pub use stream::{Stream, StreamOrder};
pub use table::Table;

use std::path::Path;

/// The bytes of a data file, decompressed when it is gzip-compressed: what [`read_idx`] and
/// [`read_csv`] read, for a program that parses the bytes itself (the `train` example does, to
/// tell IDX from CSV by content).
///
/// Only regular files are read, and decompression stops at the
/// [`limits`](crate::limits)' ceiling.
///
/// # Errors
/// [`Error::NotARegularFile`](crate::Error::NotARegularFile),
/// [`Error::Io`](crate::Error::Io), [`Error::DecompressionLimit`](crate::Error::DecompressionLimit)
/// or [`Error::MalformedFile`](crate::Error::MalformedFile) for a broken gzip stream.
pub fn read_bytes(path: impl AsRef<Path>) -> crate::Result<Vec<u8>> {
    let (bytes, file) = crate::files::read_regular(path.as_ref())?;
    crate::files::maybe_gunzip(bytes, &file)
}
