//! Feature scaling: statistics learned on training data (or bounds known in advance), applied
//! unchanged to any other data.

use crate::source::BatchSource;
use crate::validate::{check_nonzero, check_param, check_size};
use crate::{Error, Result, Scalar};
use nalgebra::DMatrix;
use rand::SeedableRng;

/// How to scale each feature (column) before training.
///
/// [`fit`](Scaler::fit) learns what the scaling needs from the training data and returns a
/// [`FittedScaler`], which applies the same statistics to training, validation and test data
/// alike, so no information leaks from test data into the model.
///
/// | scaler | `x'_ij` | learned per feature `j` |
/// | --- | --- | --- |
/// | `Identity` | `x_ij` | nothing |
/// | `Bytes` | `x_ij / 255` | nothing |
/// | `MinMax` | `(x_ij − min_j) / (max_j − min_j)` | minimum and maximum |
/// | `Standard` | `(x_ij − μ_j) / σ_j` | mean and standard deviation (population, divided by `n`) |
///
/// A feature that is constant in the training data (`max_j = min_j`, hence `σ_j = 0`) carries
/// no information: it maps to 0 in any data, rather than dividing by zero. When the range of
/// the values is known in advance (pixels from 0 to 16, a percentage), scale by it instead,
/// without fitting: [`FittedScaler::known_range`].
///
/// ```
/// use autoencoders::data::Scaler;
/// use nalgebra::DMatrix;
///
/// let train = DMatrix::from_row_slice(3, 2, &[0.0, 5.0, 5.0, 5.0, 10.0, 5.0]);
/// let scaler = Scaler::MinMax.fit(&train)?;
/// assert_eq!(scaler.minimum(), Some(&[0.0, 5.0][..]));
///
/// let test = DMatrix::from_row_slice(1, 2, &[12.5, 7.0]);
/// let scaled = scaler.transform(&test)?;
/// assert_eq!(scaled[(0, 0)], 1.25); // beyond the training range: not clipped
/// assert_eq!(scaled[(0, 1)], 0.0); // constant in training: always 0
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
pub enum Scaler {
    /// Leaves values unchanged.
    #[default]
    Identity,
    /// Divides by 255, taking bytes (such as 8-bit pixels) to `[0, 1]`.
    Bytes,
    /// Maps the training range of each feature to `[0, 1]`.
    MinMax,
    /// Shifts and scales each feature to mean 0 and standard deviation 1 on the training data.
    Standard,
}

impl Scaler {
    /// Learns the per-feature statistics of `x`, the training data.
    ///
    /// Statistics are computed and kept in `f64` whatever `T` is.
    ///
    /// # Shapes
    /// `x` is `n × input_dim`, `n ≥ 1`.
    ///
    /// # Errors
    /// [`Error::EmptyData`] when `x` has no rows; [`Error::NonFiniteData`] when it holds a NaN
    /// or an infinity.
    pub fn fit<T: Scalar>(self, x: &DMatrix<T>) -> Result<FittedScaler> {
        const WHAT: &str = "data to fit a scaler on";
        if x.nrows() == 0 {
            return Err(Error::EmptyData { what: WHAT });
        }
        check_finite(x, WHAT)?;
        let input_dim = x.ncols();
        let statistics = match self {
            Scaler::Identity => Statistics::Identity { input_dim },
            Scaler::Bytes => Statistics::Bytes { input_dim },
            Scaler::MinMax => {
                let (minimum, maximum) = x.column_iter().map(|c| range(c.iter())).unzip();
                Statistics::MinMax { minimum, maximum }
            }
            Scaler::Standard => {
                let (mean, std_dev) = x.column_iter().map(|c| moments(c.as_slice())).unzip();
                Statistics::Standard { mean, std_dev }
            }
        };
        Ok(FittedScaler { statistics })
    }

    /// Learns the per-feature statistics of the samples of `source` (e.g. a file streamed
    /// from disk), reading it in its file order, in bounded memory: the same statistics, bit
    /// for bit, as [`fit`](Self::fit) on the matrix of those samples. `MinMax` reads the
    /// source once; `Standard` three times (the range, then the mean of the values divided by
    /// their largest magnitude, then their variance, as `fit` computes them), so that the
    /// statistics do not depend on where the data came from. `Identity` and `Bytes` read
    /// nothing.
    ///
    /// ```
    /// use autoencoders::data::Scaler;
    /// use autoencoders::source::InMemory;
    /// use nalgebra::DMatrix;
    ///
    /// let x = DMatrix::from_fn(100, 3, |i, j| ((i * 7 + j * 3) % 11) as f64 * 0.1);
    /// let streamed = Scaler::Standard.fit_source(&mut InMemory::new(&x))?;
    /// assert_eq!(streamed, Scaler::Standard.fit(&x)?);
    /// # Ok::<(), autoencoders::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::EmptyData`] for a source without samples; [`Error::NonFiniteData`] for a NaN or
    /// an infinity (its row counted from the start of the source); the source's own errors.
    pub fn fit_source<T: Scalar, S: BatchSource<T> + ?Sized>(
        self,
        source: &mut S,
    ) -> Result<FittedScaler> {
        const WHAT: &str = "data to fit a scaler on";
        let (n, d) = (source.samples(), source.features());
        if n == 0 {
            return Err(Error::EmptyData { what: WHAT });
        }
        let input_dim = d;
        let mut pass = |visit: &mut dyn FnMut(usize, &DMatrix<T>) -> Result<()>| -> Result<()> {
            // No shuffling: the generator is not drawn from (the contract of `start_epoch`).
            let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(0);
            source.start_epoch(false, &mut rng)?;
            let (mut batch, mut labels) = (DMatrix::zeros(0, 0), Vec::new());
            let mut seen = 0;
            loop {
                let k = source.next_batch(
                    FIT_BATCH.min((1 << 22) / d.max(1)).max(1),
                    &mut batch,
                    &mut labels,
                )?;
                if k == 0 {
                    return Ok(());
                }
                if batch.nrows() != k || batch.ncols() != d {
                    return Err(Error::SourceMismatch {
                        problem: "a batch has another shape than the source declares",
                        expected: d,
                        found: batch.ncols(),
                    });
                }
                check_finite(&batch, WHAT).map_err(|e| match e {
                    Error::NonFiniteData { what, row, column } => Error::NonFiniteData {
                        what,
                        row: row + seen,
                        column,
                    },
                    other => other,
                })?;
                visit(seen, &batch)?;
                seen += k;
            }
        };
        let statistics = match self {
            Scaler::Identity => Statistics::Identity { input_dim },
            Scaler::Bytes => Statistics::Bytes { input_dim },
            Scaler::MinMax | Scaler::Standard => {
                let mut low = vec![f64::INFINITY; d];
                let mut high = vec![f64::NEG_INFINITY; d];
                pass(&mut |_, batch| {
                    for (j, column) in batch.column_iter().enumerate() {
                        (low[j], high[j]) = column.iter().fold((low[j], high[j]), |(l, h), v| {
                            (l.min(v.as_f64()), h.max(v.as_f64()))
                        });
                    }
                    Ok(())
                })?;
                if self == Scaler::MinMax {
                    Statistics::MinMax {
                        minimum: low,
                        maximum: high,
                    }
                } else {
                    let magnitude: Vec<f64> = low
                        .iter()
                        .zip(&high)
                        .map(|(l, h)| l.abs().max(h.abs()))
                        .collect();
                    let mut sums = vec![-0.0f64; d];
                    pass(&mut |_, batch| {
                        for (j, column) in batch.column_iter().enumerate() {
                            for v in column.iter() {
                                sums[j] += v.as_f64() / magnitude[j];
                            }
                        }
                        Ok(())
                    })?;
                    let mean: Vec<f64> = sums.iter().map(|s| s / n as f64).collect();
                    let mut squares = vec![-0.0f64; d];
                    pass(&mut |_, batch| {
                        for (j, column) in batch.column_iter().enumerate() {
                            for v in column.iter() {
                                squares[j] += (v.as_f64() / magnitude[j] - mean[j]).powi(2);
                            }
                        }
                        Ok(())
                    })?;
                    let (mean, std_dev) = (0..d)
                        .map(|j| {
                            if low[j] == high[j] {
                                (low[j], 0.0)
                            } else {
                                let variance = squares[j] / n as f64;
                                (mean[j] * magnitude[j], variance.sqrt() * magnitude[j])
                            }
                        })
                        .unzip();
                    Statistics::Standard { mean, std_dev }
                }
            }
        };
        Ok(FittedScaler { statistics })
    }
}

/// Samples per batch when a scaler reads a source.
const FIT_BATCH: usize = 1024;

/// A [`Scaler`] with the statistics it learned from training data.
///
/// [`transform`](Self::transform) applies them unchanged to any data with the same features.
/// It does not clip: test data outside the training range land outside `[0, 1]` under
/// `MinMax` (and `Bytes` data above 255 above 1); [`clip_to_unit`] clips when a loss needs
/// `[0, 1]`. The statistics are `f64` and can be read back with the getters and restored with
/// the constructors ([`min_max`](Self::min_max), [`standard`](Self::standard), …), e.g. to
/// save them beside a model.
///
/// ```
/// use approx::assert_relative_eq;
/// use autoencoders::data::{FittedScaler, Scaler};
/// use nalgebra::DMatrix;
///
/// let train = DMatrix::from_row_slice(4, 1, &[1.0, 2.0, 3.0, 6.0]);
/// let scaler = Scaler::Standard.fit(&train)?;
/// assert_relative_eq!(scaler.mean().unwrap()[0], 3.0);
/// assert_relative_eq!(scaler.std_dev().unwrap()[0], 3.5f64.sqrt());
///
/// let restored = FittedScaler::standard(vec![3.0], vec![3.5f64.sqrt()])?;
/// let x = DMatrix::from_row_slice(1, 1, &[10.0]);
/// assert_relative_eq!(restored.transform(&x)?, scaler.transform(&x)?);
/// assert_relative_eq!(scaler.inverse_transform(&scaler.transform(&x)?)?, x);
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct FittedScaler {
    statistics: Statistics,
}

/// What each scaler learned; `Vec`s hold one entry per feature.
#[derive(Clone, Debug, PartialEq)]
enum Statistics {
    Identity {
        input_dim: usize,
    },
    Bytes {
        input_dim: usize,
    },
    MinMax {
        minimum: Vec<f64>,
        maximum: Vec<f64>,
    },
    Standard {
        mean: Vec<f64>,
        std_dev: Vec<f64>,
    },
}

impl FittedScaler {
    /// The identity on `input_dim` features, as [`Scaler::Identity`] fits.
    pub fn identity(input_dim: usize) -> Self {
        Self {
            statistics: Statistics::Identity { input_dim },
        }
    }

    /// Division by 255 on `input_dim` features, as [`Scaler::Bytes`] fits.
    pub fn bytes(input_dim: usize) -> Self {
        Self {
            statistics: Statistics::Bytes { input_dim },
        }
    }

    /// Min-max scaling with the given per-feature minima and maxima, as [`Scaler::MinMax`]
    /// fits.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] unless both have the same length;
    /// [`Error::InvalidHyperParameter`] unless every value is finite and each minimum is at
    /// most its maximum.
    pub fn min_max(minimum: Vec<f64>, maximum: Vec<f64>) -> Result<Self> {
        check_size("length of the maxima", minimum.len(), maximum.len())?;
        for (&low, &high) in minimum.iter().zip(&maximum) {
            check_param("maximum", high, high.is_finite(), "finite values")?;
            check_param(
                "minimum",
                low,
                low <= high,
                "finite values no greater than the matching maximum",
            )?;
        }
        Ok(Self {
            statistics: Statistics::MinMax { minimum, maximum },
        })
    }

    /// Maps the known range `[low, high]` of every feature to `[0, 1]`: `x' = (x − low) /
    /// (high − low)`, with bounds given, not learned from data.
    ///
    /// For data whose range is known in advance, such as 8×8 digits with pixel values 0 to 16
    /// (`known_range(0.0, 16.0, 64)` divides by 16). Unlike a scaler fitted with
    /// [`Scaler::MinMax`], a feature that happens to be constant in the training data is not
    /// mapped to 0, and every value within the bounds lands in `[0, 1]`, in training and test
    /// data alike (values outside land outside; [`clip_to_unit`] clips). It is min-max scaling
    /// with these bounds: [`scaler`](Self::scaler) is [`Scaler::MinMax`] and
    /// [`minimum`](Self::minimum) and [`maximum`](Self::maximum) return the bounds.
    ///
    /// The bounds are `f64` and values are compared with them exactly. For `f32` data, give
    /// bounds that `f32` represents (`-0.1_f32` is slightly below `-0.1`, so with a low bound of
    /// `-0.1` it lands just below 0), or clip.
    ///
    /// ```
    /// use autoencoders::data::FittedScaler;
    /// use nalgebra::DMatrix;
    ///
    /// let scaler = FittedScaler::known_range(0.0, 16.0, 3)?;
    /// let train = DMatrix::from_row_slice(2, 3, &[0.0, 4.0, 16.0, 0.0, 8.0, 16.0]);
    /// let scaled = scaler.transform(&train)?;
    /// assert_eq!(scaled, DMatrix::from_row_slice(2, 3, &[0.0, 0.25, 1.0, 0.0, 0.5, 1.0]));
    /// # Ok::<(), autoencoders::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for `input_dim = 0`; [`Error::InvalidHyperParameter`] unless
    /// both bounds are finite and `low < high`.
    pub fn known_range(low: f64, high: f64, input_dim: usize) -> Result<Self> {
        check_nonzero(input_dim, "input_dim")?;
        Self::known_ranges(vec![low; input_dim], vec![high; input_dim])
    }

    /// Maps the known range `[low_j, high_j]` of each feature `j` to `[0, 1]`, bounds given per
    /// feature; otherwise as [`known_range`](Self::known_range).
    ///
    /// ```
    /// use autoencoders::data::FittedScaler;
    /// use nalgebra::DMatrix;
    ///
    /// // Column 0 holds degrees Celsius in [-40, 60], column 1 a percentage.
    /// let scaler = FittedScaler::known_ranges(vec![-40.0, 0.0], vec![60.0, 100.0])?;
    /// let x = DMatrix::from_row_slice(1, 2, &[10.0, 37.0]);
    /// assert_eq!(scaler.transform(&x)?, DMatrix::from_row_slice(1, 2, &[0.5, 0.37]));
    /// # Ok::<(), autoencoders::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for no features; [`Error::DimensionMismatch`] unless both have
    /// the same length; [`Error::InvalidHyperParameter`] unless every bound is finite and each
    /// low bound is below its high bound.
    pub fn known_ranges(low: Vec<f64>, high: Vec<f64>) -> Result<Self> {
        check_nonzero(low.len(), "input_dim")?;
        check_size("length of the high bounds", low.len(), high.len())?;
        for (&l, &h) in low.iter().zip(&high) {
            check_param("high bound", h, h.is_finite(), "finite values")?;
            check_param(
                "low bound",
                l,
                l < h,
                "finite values below the matching high bound",
            )?;
        }
        Ok(Self {
            statistics: Statistics::MinMax {
                minimum: low,
                maximum: high,
            },
        })
    }

    /// Standardisation with the given per-feature means and standard deviations, as
    /// [`Scaler::Standard`] fits.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] unless both have the same length;
    /// [`Error::InvalidHyperParameter`] unless every mean is finite and every standard
    /// deviation finite and ≥ 0.
    pub fn standard(mean: Vec<f64>, std_dev: Vec<f64>) -> Result<Self> {
        check_size(
            "length of the standard deviations",
            mean.len(),
            std_dev.len(),
        )?;
        for (&m, &s) in mean.iter().zip(&std_dev) {
            check_param("mean", m, true, "finite values")?;
            check_param("std_dev", s, s >= 0.0, "finite values >= 0")?;
        }
        Ok(Self {
            statistics: Statistics::Standard { mean, std_dev },
        })
    }

    /// The scaler that was fitted.
    pub fn scaler(&self) -> Scaler {
        match self.statistics {
            Statistics::Identity { .. } => Scaler::Identity,
            Statistics::Bytes { .. } => Scaler::Bytes,
            Statistics::MinMax { .. } => Scaler::MinMax,
            Statistics::Standard { .. } => Scaler::Standard,
        }
    }

    /// The number of features it scales.
    pub fn input_dim(&self) -> usize {
        match &self.statistics {
            Statistics::Identity { input_dim } | Statistics::Bytes { input_dim } => *input_dim,
            Statistics::MinMax { minimum, .. } => minimum.len(),
            Statistics::Standard { mean, .. } => mean.len(),
        }
    }

    /// Per-feature minima of the training data, for [`Scaler::MinMax`].
    pub fn minimum(&self) -> Option<&[f64]> {
        match &self.statistics {
            Statistics::MinMax { minimum, .. } => Some(minimum),
            _ => None,
        }
    }

    /// Per-feature maxima of the training data, for [`Scaler::MinMax`].
    pub fn maximum(&self) -> Option<&[f64]> {
        match &self.statistics {
            Statistics::MinMax { maximum, .. } => Some(maximum),
            _ => None,
        }
    }

    /// Per-feature means of the training data, for [`Scaler::Standard`].
    pub fn mean(&self) -> Option<&[f64]> {
        match &self.statistics {
            Statistics::Standard { mean, .. } => Some(mean),
            _ => None,
        }
    }

    /// Per-feature standard deviations (population) of the training data, for
    /// [`Scaler::Standard`]; 0 for a constant feature.
    pub fn std_dev(&self) -> Option<&[f64]> {
        match &self.statistics {
            Statistics::Standard { std_dev, .. } => Some(std_dev),
            _ => None,
        }
    }

    /// `(shift, divisor)` of feature `j`: `x' = (x − shift) / divisor`, or 0 when the divisor
    /// is 0.
    pub(crate) fn affine(&self, j: usize) -> (f64, f64) {
        match &self.statistics {
            Statistics::Identity { .. } => (0.0, 1.0),
            Statistics::Bytes { .. } => (0.0, 255.0),
            Statistics::MinMax { minimum, maximum } => (minimum[j], maximum[j] - minimum[j]),
            Statistics::Standard { mean, std_dev } => (mean[j], std_dev[j]),
        }
    }

    /// Scales `x` with the learned statistics, unchanged; values are not clipped.
    ///
    /// Computed in `f64`, then converted to `T`.
    ///
    /// # Shapes
    /// `x` is `n × input_dim` (any `n`, including 0); returns `n × input_dim`.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] unless `x` has `input_dim` columns;
    /// [`Error::NonFiniteData`] when `x` holds a NaN or an infinity, or a scaled value
    /// overflows `T`.
    pub fn transform<T: Scalar>(&self, x: &DMatrix<T>) -> Result<DMatrix<T>> {
        self.apply(x, "data to scale", |v, (shift, divisor)| {
            if divisor == 0.0 {
                0.0
            } else {
                (v - shift) / divisor
            }
        })
    }

    /// Undoes [`transform`](Self::transform): `x = x' · divisor + shift`. A feature that was
    /// constant in training comes back as that constant.
    ///
    /// # Shapes
    /// `x` is `n × input_dim`; returns `n × input_dim`.
    ///
    /// # Errors
    /// As [`transform`](Self::transform).
    pub fn inverse_transform<T: Scalar>(&self, x: &DMatrix<T>) -> Result<DMatrix<T>> {
        self.apply(x, "data to unscale", |v, (shift, divisor)| {
            v * divisor + shift
        })
    }

    fn apply<T: Scalar>(
        &self,
        x: &DMatrix<T>,
        what: &'static str,
        f: impl Fn(f64, (f64, f64)) -> f64,
    ) -> Result<DMatrix<T>> {
        if x.ncols() != self.input_dim() {
            return Err(Error::DimensionMismatch {
                what: "columns of the data to scale",
                expected: self.input_dim(),
                found: x.ncols(),
            });
        }
        check_finite(x, what)?;
        let mut out = x.clone();
        for (j, mut column) in out.column_iter_mut().enumerate() {
            let affine = self.affine(j);
            for (i, value) in column.iter_mut().enumerate() {
                let scaled = T::cast(f(value.as_f64(), affine));
                if !scaled.is_finite() {
                    return Err(Error::NonFiniteData {
                        what: "scaled data",
                        row: i,
                        column: j,
                    });
                }
                *value = scaled;
            }
        }
        Ok(out)
    }
}

/// Clips every value of `x` to `[0, 1]`, e.g. test data scaled by [`Scaler::MinMax`] before a
/// cross-entropy loss, which is defined on `[0, 1]` only. NaN stays NaN.
///
/// ```
/// use autoencoders::data::clip_to_unit;
/// use nalgebra::DMatrix;
///
/// let x = DMatrix::from_row_slice(1, 3, &[-0.5, 0.25, 1.5]);
/// assert_eq!(clip_to_unit(&x), DMatrix::from_row_slice(1, 3, &[0.0, 0.25, 1.0]));
/// ```
///
/// # Shapes
/// Returns the shape of `x`.
pub fn clip_to_unit<T: Scalar>(x: &DMatrix<T>) -> DMatrix<T> {
    x.map(|v| {
        if v < T::zero() {
            T::zero()
        } else if v > T::one() {
            T::one()
        } else {
            v
        }
    })
}

/// Checks that every value is finite, naming the first that is not.
fn check_finite<T: Scalar>(x: &DMatrix<T>, what: &'static str) -> Result<()> {
    match x.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        // Column-major storage: index = row + column · nrows.
        Some(index) => Err(Error::NonFiniteData {
            what,
            row: index % x.nrows(),
            column: index / x.nrows(),
        }),
    }
}

/// Minimum and maximum of finite values (at least one).
fn range<'a, T: Scalar>(values: impl Iterator<Item = &'a T>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), v| {
        let v = v.as_f64();
        (low.min(v), high.max(v))
    })
}

/// Mean and population standard deviation of finite values (at least one), exactly 0 for
/// constant values.
///
/// Values are divided by the largest magnitude first, so neither the sum nor the squares
/// overflow, whatever the finite inputs.
fn moments<T: Scalar>(values: &[T]) -> (f64, f64) {
    let (low, high) = range(values.iter());
    if low == high {
        return (low, 0.0);
    }
    let magnitude = low.abs().max(high.abs());
    // Sums folded from -0.0 in the order of the values, spelled out (rather than
    // `Iterator::sum`) because `Scaler::fit_source` must reproduce them bit for bit.
    let n = values.len() as f64;
    let mean = values
        .iter()
        .fold(-0.0, |sum, v| sum + v.as_f64() / magnitude)
        / n;
    let variance = values
        .iter()
        .fold(-0.0, |sum, v| sum + (v.as_f64() / magnitude - mean).powi(2))
        / n;
    (mean * magnitude, variance.sqrt() * magnitude)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn constant_features_map_to_zero_exactly() {
        // 0.1 summed ten times is not 1.0: a mean-based test would see a tiny spread.
        let x = DMatrix::from_element(10, 1, 0.1f64);
        assert_eq!(moments(x.as_slice()), (0.1, 0.0));
        for scaler in [Scaler::MinMax, Scaler::Standard] {
            let fitted = scaler.fit(&x).unwrap();
            let test = DMatrix::from_row_slice(2, 1, &[0.1, 7.0]);
            assert_eq!(fitted.transform(&test).unwrap(), DMatrix::zeros(2, 1));
            let back = fitted
                .inverse_transform(&DMatrix::<f64>::zeros(1, 1))
                .unwrap();
            assert_relative_eq!(back[(0, 0)], 0.1);
        }
    }

    #[test]
    fn moments_survive_huge_values() {
        let x = [f64::MAX, -f64::MAX, f64::MAX, -f64::MAX];
        let (mean, std_dev) = moments(&x);
        assert_eq!(mean, 0.0);
        assert_relative_eq!(std_dev, f64::MAX);
        let (mean, std_dev) = moments(&[1.0, 2.0, 3.0, 4.0]);
        assert_relative_eq!(mean, 2.5);
        assert_relative_eq!(std_dev, 1.25f64.sqrt());
    }

    #[test]
    fn reports_overflow_instead_of_infinity() {
        let fitted = FittedScaler::standard(vec![0.0], vec![1e-300]).unwrap();
        let x = DMatrix::from_row_slice(2, 1, &[0.0f32, 1.0]);
        assert!(matches!(
            fitted.transform(&x),
            Err(Error::NonFiniteData {
                what: "scaled data",
                row: 1,
                column: 0
            })
        ));
    }

    #[test]
    fn validates_restored_statistics() {
        assert!(FittedScaler::min_max(vec![0.0], vec![1.0, 2.0]).is_err());
        assert!(FittedScaler::min_max(vec![2.0], vec![1.0]).is_err());
        assert!(FittedScaler::min_max(vec![f64::NAN], vec![1.0]).is_err());
        assert!(FittedScaler::min_max(vec![0.0], vec![f64::INFINITY]).is_err());
        assert!(FittedScaler::min_max(vec![1.0], vec![1.0]).is_ok());
        assert!(FittedScaler::standard(vec![0.0], vec![-1.0]).is_err());
        assert!(FittedScaler::standard(vec![f64::NAN], vec![1.0]).is_err());
        assert!(FittedScaler::standard(vec![0.0, 1.0], vec![1.0]).is_err());
        assert!(FittedScaler::standard(vec![0.0], vec![0.0]).is_ok());
    }
}
