//! Reading data sets: the IDX format (MNIST's) and the digits bundled with the crate.

mod idx;
#[cfg(feature = "bundled-digits")]
mod mnist;

pub use idx::{IdxArray, IdxData, parse_idx, read_idx};
#[cfg(feature = "bundled-digits")]
pub use mnist::{Digits, bundled_digits};
