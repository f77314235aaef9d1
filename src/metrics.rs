//! Measures of trained models: the confusion matrix of a classifier, the size of an
//! encoder's Jacobian `∂h/∂x` (how much the code moves when the input does, which the
//! contractive penalty shrinks), and how compact a picture's filters are.

use crate::encoder::{DirectCodeLayer, direct_code_layer};
use crate::validate::check_nonzero;
use crate::{Encoder, Error, Result, Scalar};
use nalgebra::DMatrix;
use std::fmt;

/// Counts of (true class, predicted class) pairs, for accuracy and per-class error rates.
///
/// Rows are true classes and columns predicted ones: [`count(t, p)`](Self::count) is the number
/// of samples of class `t` predicted as `p`. Its [`Display`](fmt::Display) is a small text table
/// with each class's error rate and the overall accuracy.
///
/// ```
/// use autoencoders::ConfusionMatrix;
///
/// let truth = [0, 0, 0, 1, 1, 2];
/// let predicted = [0, 0, 1, 1, 1, 1];
/// let confusion = ConfusionMatrix::new(3, &predicted, &truth)?;
/// assert_eq!(confusion.count(0, 1), Some(1)); // one 0 taken for a 1
/// assert_eq!(confusion.correct(), 4);
/// assert_eq!(confusion.accuracy(), 4.0 / 6.0);
///
/// let ones = confusion.class(1).unwrap();
/// assert_eq!((ones.samples, ones.predicted, ones.correct), (2, 4, 2));
/// assert_eq!(ones.recall(), Some(1.0));
/// assert_eq!(ones.precision(), Some(0.5));
/// assert_eq!(confusion.class(2).unwrap().error_rate(), Some(1.0));
///
/// assert_eq!(
///     confusion.to_string(),
///     "\
/// true \\ predicted  0  1  2 |    error
///                0  2  1  0 |  33.33 %
///                1  0  2  0 |   0.00 %
///                2  0  1  0 | 100.00 %
/// accuracy 66.67 % (4 of 6)
/// "
/// );
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfusionMatrix {
    classes: usize,
    /// Row-major: `counts[truth · classes + predicted]`.
    counts: Vec<usize>,
}

/// What a [`ConfusionMatrix`] says about one class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClassCounts {
    /// The class.
    pub class: usize,
    /// Samples whose true class it is (its row's sum).
    pub samples: usize,
    /// Samples predicted as it (its column's sum).
    pub predicted: usize,
    /// Samples of the class predicted as it.
    pub correct: usize,
}

impl ClassCounts {
    /// `correct / samples`, the fraction of the class found; `None` without samples of it.
    pub fn recall(&self) -> Option<f64> {
        ratio(self.correct, self.samples)
    }

    /// `correct / predicted`, the fraction of its predictions that are right; `None` when
    /// nothing was predicted as it.
    pub fn precision(&self) -> Option<f64> {
        ratio(self.correct, self.predicted)
    }

    /// `1 − recall`, the fraction of the class misclassified; `None` without samples of it.
    pub fn error_rate(&self) -> Option<f64> {
        ratio(self.samples - self.correct, self.samples)
    }
}

fn ratio(numerator: usize, denominator: usize) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

impl ConfusionMatrix {
    /// Counts the pairs `(truth[s], predicted[s])` over `classes` classes.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for `classes = 0`; [`Error::EmptyData`] for no labels;
    /// [`Error::DimensionMismatch`] unless both slices have the same length;
    /// [`Error::DataOutOfRange`] for a label `≥ classes`, naming the first;
    /// [`Error::TooLarge`] for more classes than the [`limits`](crate::limits) allow a
    /// `classes × classes` table.
    pub fn new(classes: usize, predicted: &[usize], truth: &[usize]) -> Result<Self> {
        check_nonzero(classes, "classes")?;
        if truth.is_empty() {
            return Err(Error::EmptyData {
                what: "labels to compare",
            });
        }
        if predicted.len() != truth.len() {
            return Err(Error::DimensionMismatch {
                what: "number of predicted labels (the number of true labels)",
                expected: truth.len(),
                found: predicted.len(),
            });
        }
        check_labels(truth, classes, "true labels")?;
        check_labels(predicted, classes, "predicted labels")?;
        crate::limits::check_tensor("confusion matrix", classes, classes)?;
        let mut counts = vec![0; classes * classes];
        for (&t, &p) in truth.iter().zip(predicted) {
            counts[t * classes + p] += 1;
        }
        Ok(Self { classes, counts })
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Samples of true class `truth` predicted as `predicted`; `None` when either is not a
    /// class.
    pub fn count(&self, truth: usize, predicted: usize) -> Option<usize> {
        if truth < self.classes && predicted < self.classes {
            Some(self.counts[truth * self.classes + predicted])
        } else {
            None
        }
    }

    /// The counts as a `classes × classes` matrix, true classes as rows.
    pub fn to_matrix(&self) -> DMatrix<usize> {
        DMatrix::from_row_slice(self.classes, self.classes, &self.counts)
    }

    /// The number of samples counted.
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }

    /// Samples predicted correctly (the diagonal's sum).
    pub fn correct(&self) -> usize {
        (0..self.classes)
            .map(|c| self.counts[c * self.classes + c])
            .sum()
    }

    /// Fraction of samples predicted correctly.
    pub fn accuracy(&self) -> f64 {
        self.correct() as f64 / self.total() as f64
    }

    /// Fraction of samples misclassified, `1 − accuracy` (counted, not subtracted).
    pub fn error_rate(&self) -> f64 {
        (self.total() - self.correct()) as f64 / self.total() as f64
    }

    /// The counts of `class`; `None` when it is not a class.
    pub fn class(&self, class: usize) -> Option<ClassCounts> {
        if class >= self.classes {
            return None;
        }
        let row = &self.counts[class * self.classes..(class + 1) * self.classes];
        Some(ClassCounts {
            class,
            samples: row.iter().sum(),
            predicted: (0..self.classes)
                .map(|t| self.counts[t * self.classes + class])
                .sum(),
            correct: row[class],
        })
    }

    /// The counts of every class, in class order.
    pub fn per_class(&self) -> Vec<ClassCounts> {
        (0..self.classes).filter_map(|c| self.class(c)).collect()
    }
}

fn check_labels(labels: &[usize], classes: usize, what: &'static str) -> Result<()> {
    match labels.iter().position(|&y| y >= classes) {
        None => Ok(()),
        Some(row) => Err(Error::DataOutOfRange {
            what,
            row,
            column: 0,
            value: labels[row] as f64,
            expected: "0 ≤ label < classes",
        }),
    }
}

impl fmt::Display for ConfusionMatrix {
    /// Rows of true classes with their counts by predicted class and their error rate (`–`
    /// for a class without samples), then the accuracy.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const CORNER: &str = "true \\ predicted";
        let largest = self.counts.iter().copied().max().unwrap_or(0);
        let width = largest
            .to_string()
            .len()
            .max((self.classes - 1).to_string().len());
        let label = CORNER.chars().count();
        write!(f, "{CORNER}")?;
        for c in 0..self.classes {
            write!(f, "  {c:>width$}")?;
        }
        writeln!(f, " | {:>8}", "error")?;
        for class in self.per_class() {
            write!(f, "{:>label$}", class.class)?;
            for p in 0..self.classes {
                write!(
                    f,
                    "  {:>width$}",
                    self.counts[class.class * self.classes + p]
                )?;
            }
            match class.error_rate() {
                Some(rate) => writeln!(f, " | {:>6.2} %", 100.0 * rate)?,
                None => writeln!(f, " | {:>8}", "–")?,
            }
        }
        writeln!(
            f,
            "accuracy {:.2} % ({} of {})",
            100.0 * self.accuracy(),
            self.correct(),
            self.total()
        )
    }
}

/// Values of the Jacobians that [`jacobian_norms`] materialises at a time (16 MB of `f32`).
const JACOBIAN_CHUNK: usize = 1 << 22;

/// The Frobenius norm `‖∂h/∂x‖_F` of the encoder's Jacobian at each sample of `x`.
///
/// When the code layer is an affine map of the input itself, `h = s(x·Wᵀ + b)` (as for
/// [`DenseEncoder`](crate::DenseEncoder)), it uses the closed form `‖J‖²_F = Σ_j s'(z_j)²·‖w_j‖²`
/// without forming `J`; the contractive penalty is `(λ/2)` times the mean of its square.
/// Otherwise it takes the Jacobians from [`Encoder::jacobian`] (the chain rule through every
/// layer, for a [`StackedEncoder`](crate::StackedEncoder)) a few samples at a time, so memory
/// stays bounded whatever `n`. The sums are taken in `f64`.
///
/// ```
/// use autoencoders::{Activation, DenseEncoder, Encoder, metrics::jacobian_norms};
/// use nalgebra::{DMatrix, DVector};
///
/// // A linear code: J = W at every sample, ‖W‖_F = √(3² + 4²) = 5.
/// let w = DMatrix::from_row_slice(2, 2, &[3.0, 0.0, 0.0, 4.0]);
/// let encoder = DenseEncoder::from_parts(w, DVector::zeros(2), Activation::Linear)?;
/// assert_eq!(jacobian_norms(&encoder, &DMatrix::zeros(3, 2))?, vec![5.0; 3]);
/// # Ok::<(), autoencoders::Error>(())
/// ```
///
/// # Shapes
/// `x` is `n × input_dim`; returns `n` norms.
///
/// # Errors
/// [`Error::EmptyData`], [`Error::DimensionMismatch`] or [`Error::NonFiniteData`] for bad
/// input; whatever [`Encoder::jacobian`] returns for an encoder it cannot differentiate.
pub fn jacobian_norms<E: Encoder>(encoder: &E, x: &DMatrix<E::Scalar>) -> Result<Vec<f64>> {
    match direct_code_layer(encoder, x) {
        Ok(DirectCodeLayer { weights, slopes }) => {
            // S_j = ‖w_j‖², then ‖J_s‖²_F = Σ_j s'(z_sj)²·S_j.
            let row_norms: Vec<f64> = weights
                .row_iter()
                .map(|row| row.iter().map(|w| w.as_f64().powi(2)).sum())
                .collect();
            Ok(slopes
                .row_iter()
                .map(|slopes| {
                    slopes
                        .iter()
                        .zip(&row_norms)
                        .map(|(slope, norm)| slope.as_f64().powi(2) * norm)
                        .sum::<f64>()
                        .sqrt()
                })
                .collect())
        }
        Err(Error::MissingCodeWeights { .. } | Error::JacobianUnavailable { .. }) => {
            let per_sample = (encoder.code_dim() * encoder.input_dim()).max(1);
            let chunk = (JACOBIAN_CHUNK / per_sample).max(1);
            let mut norms = Vec::with_capacity(x.nrows());
            for start in (0..x.nrows()).step_by(chunk) {
                let rows = chunk.min(x.nrows() - start);
                let jacobians = encoder.jacobian(&x.rows(start, rows).into_owned())?;
                norms.extend(jacobians.iter().map(frobenius_norm));
            }
            Ok(norms)
        }
        Err(other) => Err(other),
    }
}

/// The mean over the samples of `x` of the Frobenius norm `‖∂h/∂x‖_F` of the encoder's
/// Jacobian: the mean of [`jacobian_norms`].
///
/// ```
/// use approx::assert_relative_eq;
/// use autoencoders::{Activation, DenseEncoder, metrics::mean_jacobian_norm};
/// use nalgebra::{DMatrix, DVector};
///
/// // h = σ(x₀ + 2·x₁): at z = 0, s'(0) = 1/4 and ‖J‖_F = √5 / 4.
/// let w = DMatrix::from_row_slice(1, 2, &[1.0, 2.0]);
/// let encoder = DenseEncoder::from_parts(w, DVector::zeros(1), Activation::Sigmoid)?;
/// let x = DMatrix::from_row_slice(2, 2, &[0.0, 0.0, 2.0, -1.0]);
/// assert_relative_eq!(mean_jacobian_norm(&encoder, &x)?, 5f64.sqrt() / 4.0);
/// # Ok::<(), autoencoders::Error>(())
/// ```
///
/// # Errors
/// As [`jacobian_norms`].
pub fn mean_jacobian_norm<E: Encoder>(encoder: &E, x: &DMatrix<E::Scalar>) -> Result<f64> {
    let norms = jacobian_norms(encoder, x)?;
    Ok(norms.iter().sum::<f64>() / norms.len() as f64)
}

fn frobenius_norm<T: Scalar>(m: &DMatrix<T>) -> f64 {
    m.iter().map(|v| v.as_f64().powi(2)).sum::<f64>().sqrt()
}

/// How compact each filter of an image model is: for every row of `weights` (a filter of
/// `width`-pixel image rows, row-major, as `pictures::filter_grid` draws it), the
/// radius in pixels of the smallest disc around the filter's energy centroid that holds half of
/// its squared weight; `None` for a filter whose weights are all zero.
///
/// Pen-stroke detectors are compact (UFLDL's sparse autoencoder: a median near 3 px on 28 × 28
/// digits), digit templates and noise are not. A filter whose energy sits on one pixel has
/// radius 0: count those apart (e.g. radius < 1) when comparing medians, or they pull a noisy
/// model's median down.
///
/// ```
/// use autoencoders::metrics::half_energy_radii;
/// use nalgebra::DMatrix;
///
/// // 5 × 5 filters: one pixel; a plus of five equal pixels; nothing.
/// let mut w = DMatrix::<f64>::zeros(3, 25);
/// w[(0, 12)] = 2.0;
/// for p in [7, 11, 12, 13, 17] {
///     w[(1, p)] = -1.0;
/// }
/// let radii = half_energy_radii(&w, 5)?;
/// // Half of the plus's energy is 2.5 pixels: the centre and the four neighbours at 1.
/// assert_eq!(radii, vec![Some(0.0), Some(1.0), None]);
/// # Ok::<(), autoencoders::Error>(())
/// ```
///
/// # Errors
/// [`Error::ZeroDimension`] for a width of 0; [`Error::TileShape`] when a row's length is not
/// a multiple of `width`; [`Error::EmptyData`] or [`Error::NonFiniteData`] for weights without
/// rows or columns, or with a NaN or infinite value.
pub fn half_energy_radii<T: Scalar>(
    weights: &DMatrix<T>,
    width: usize,
) -> Result<Vec<Option<f64>>> {
    check_nonzero(width, "filter width")?;
    if weights.nrows() == 0 || weights.ncols() == 0 {
        return Err(Error::EmptyData {
            what: "the filters",
        });
    }
    if !weights.ncols().is_multiple_of(width) {
        return Err(Error::TileShape {
            height: weights.ncols().div_ceil(width),
            width,
            input_dim: weights.ncols(),
        });
    }
    crate::validate::check_finite(weights, "the filters")?;
    let mut by_distance: Vec<(f64, f64)> = Vec::with_capacity(weights.ncols());
    Ok(weights
        .row_iter()
        .map(|row| {
            // Scaled by a power of two near the largest weight first (exactly, so the radii are
            // those of the raw weights), so that no square overflows or underflows.
            let largest = row.iter().fold(0.0f64, |m, w| m.max(w.as_f64().abs()));
            let scale = if largest > 0.0 {
                2f64.powi(-(largest.log2().floor() as i32))
            } else {
                1.0
            };
            let energy = |p: usize| (row[p].as_f64() * scale).powi(2);
            let total: f64 = (0..row.len()).map(energy).sum();
            if total == 0.0 {
                return None;
            }
            let (mut cy, mut cx) = (0.0, 0.0);
            for p in 0..row.len() {
                cy += energy(p) * (p / width) as f64;
                cx += energy(p) * (p % width) as f64;
            }
            let (cy, cx) = (cy / total, cx / total);
            by_distance.clear();
            by_distance.extend((0..row.len()).map(|p| {
                let distance = ((p / width) as f64 - cy).hypot((p % width) as f64 - cx);
                (distance, energy(p))
            }));
            by_distance.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut held = 0.0;
            for &(distance, e) in &by_distance {
                held += e;
                if held >= 0.5 * total {
                    return Some(distance);
                }
            }
            // Rounding in the running sum: the farthest pixel holds the rest.
            by_distance.last().map(|&(distance, _)| distance)
        })
        .collect())
}
