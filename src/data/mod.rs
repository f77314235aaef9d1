//! Reading data sets: IDX files (MNIST's format), CSV files of numbers, and the digits bundled
//! with the crate.
//!
//! Readers return a [`Table`] (or an [`IdxArray`]) whose values are as in the file.
//! Gzip-compressed files are recognised from their first bytes and decompressed transparently.
//! Errors name the file and the position of the problem.

mod csv;
mod idx;
#[cfg(feature = "bundled-digits")]
mod mnist;
mod table;

pub use csv::{CsvOptions, HeaderMode, LabelColumn, parse_csv, read_csv};
pub use idx::{IdxArray, IdxData, parse_idx, read_idx, read_idx_table};
#[cfg(feature = "bundled-digits")]
pub use mnist::{Digits, bundled_digits};
pub use table::Table;
