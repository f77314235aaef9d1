//! Seeded splits of a data set into two parts, and selecting rows by index.

use crate::validate::check_param;
use crate::{Error, Result, Scalar};
use nalgebra::DMatrix;
use rand::Rng;
use rand::seq::SliceRandom;

/// How many samples the first part of a [`split_rows`] gets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SplitSize {
    /// This fraction of the samples, in `(0, 1)`, rounded to the nearest count (halves away from
    /// zero).
    Fraction(f64),
    /// Exactly this many samples.
    Count(usize),
}

/// Splits the row indices `0..n` into two parts at random: the first with `first` samples (a
/// count or a fraction of `n`), the second with the rest.
///
/// The indices are shuffled by `rng` (a uniform random permutation, by
/// [`SliceRandom::shuffle`]) and cut after the first part's size, so each part lists its
/// indices in the permutation's order: the first `k` indices of either part are themselves a
/// uniform random subset. Sort them to get file order. Together the two parts hold every index
/// of `0..n` exactly once. The same seed (and the same version of `rand`) gives the same split.
///
/// ```
/// use autoencoders::data::{SplitSize, select_labels, select_rows, split_rows};
/// use nalgebra::DMatrix;
/// use rand::{SeedableRng, rngs::ChaCha8Rng};
///
/// let x = DMatrix::from_fn(10, 2, |i, j| (10 * i + j) as f64);
/// let labels: Vec<usize> = (0..10).map(|i| i % 3).collect();
/// let (train, test) = split_rows(10, SplitSize::Fraction(0.8), &mut ChaCha8Rng::seed_from_u64(7))?;
/// assert_eq!((train.len(), test.len()), (8, 2));
///
/// let test_x = select_rows(&x, &test)?;
/// let test_y = select_labels(&labels, &test)?;
/// assert_eq!(test_x[(1, 1)], (10 * test[1] + 1) as f64);
/// assert_eq!(test_y[0], test[0] % 3);
///
/// // The same seed, the same split.
/// let again = split_rows(10, SplitSize::Count(8), &mut ChaCha8Rng::seed_from_u64(7))?;
/// assert_eq!(again, (train, test));
/// # Ok::<(), autoencoders::Error>(())
/// ```
///
/// # Errors
/// [`Error::EmptyData`] for `n = 0`; [`Error::InvalidHyperParameter`] for a fraction outside
/// `(0, 1)` or NaN; [`Error::InvalidSplit`] when either part would be empty (a count of 0 or
/// of at least `n`, or a fraction that rounds to one of those).
pub fn split_rows<R: Rng + ?Sized>(
    n: usize,
    first: SplitSize,
    rng: &mut R,
) -> Result<(Vec<usize>, Vec<usize>)> {
    if n == 0 {
        return Err(Error::EmptyData {
            what: "data to split",
        });
    }
    let count = match first {
        SplitSize::Fraction(fraction) => {
            check_param(
                "split fraction",
                fraction,
                fraction > 0.0 && fraction < 1.0,
                "a fraction strictly between 0 and 1",
            )?;
            (fraction * n as f64).round() as usize
        }
        SplitSize::Count(count) => count,
    };
    if count == 0 || count >= n {
        return Err(Error::InvalidSplit {
            samples: n,
            first: count,
        });
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    let rest = order.split_off(count);
    Ok((order, rest))
}

/// The rows of `x` at `indices`, in that order: `out[(i, j)] = x[(indices[i], j)]`.
///
/// An index may appear more than once (a bootstrap sample repeats rows).
///
/// ```
/// use autoencoders::data::select_rows;
/// use nalgebra::DMatrix;
///
/// let x = DMatrix::from_row_slice(3, 2, &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
/// let picked = select_rows(&x, &[2, 0, 2])?;
/// assert_eq!(picked, DMatrix::from_row_slice(3, 2, &[4.0, 5.0, 0.0, 1.0, 4.0, 5.0]));
/// assert!(select_rows(&x, &[3]).is_err()); // out of range: an error, not a panic
/// # Ok::<(), autoencoders::Error>(())
/// ```
///
/// # Shapes
/// `x` is `n × d`; returns `indices.len() × d`.
///
/// # Errors
/// [`Error::EmptyData`] for no indices (the crate refuses data without samples everywhere);
/// [`Error::RowOutOfRange`] for an index `≥ n`, naming the first.
pub fn select_rows<T: Scalar>(x: &DMatrix<T>, indices: &[usize]) -> Result<DMatrix<T>> {
    check_indices(indices, x.nrows(), "rows to select")?;
    Ok(DMatrix::from_fn(indices.len(), x.ncols(), |i, j| {
        x[(indices[i], j)]
    }))
}

/// The labels at `indices`, in that order: the label vector that goes with
/// [`select_rows`]`(x, indices)`.
///
/// ```
/// use autoencoders::data::select_labels;
/// assert_eq!(select_labels(&[7, 8, 9], &[2, 0])?, vec![9, 7]);
/// # Ok::<(), autoencoders::Error>(())
/// ```
///
/// # Errors
/// As [`select_rows`], with `n = labels.len()`.
pub fn select_labels(labels: &[usize], indices: &[usize]) -> Result<Vec<usize>> {
    check_indices(indices, labels.len(), "labels to select")?;
    Ok(indices.iter().map(|&i| labels[i]).collect())
}

/// Checks that there are indices and that each is below `len`.
pub(crate) fn check_indices(indices: &[usize], len: usize, what: &'static str) -> Result<()> {
    if indices.is_empty() {
        return Err(Error::EmptyData { what });
    }
    match indices.iter().position(|&i| i >= len) {
        None => Ok(()),
        Some(position) => Err(Error::RowOutOfRange {
            what,
            position,
            index: indices[position],
            rows: len,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::ChaCha8Rng;

    #[test]
    fn fractions_round_to_nearest() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for (n, fraction, expected) in [(10, 0.25, 3), (10, 0.24, 2), (3, 0.5, 2), (1000, 0.8, 800)]
        {
            let (first, rest) = split_rows(n, SplitSize::Fraction(fraction), &mut rng).unwrap();
            assert_eq!(
                (first.len(), rest.len()),
                (expected, n - expected),
                "{n} × {fraction}"
            );
        }
    }
}
