//! Reconstruction losses `L(x, x̂)`.

use crate::activation::softplus;
use crate::sums::{SUM_BLOCK, block_sum, pair_sum};
use crate::{Activation, Scalar};
use nalgebra::DMatrix;

/// The reconstruction loss, per sample, averaged over the samples of a batch.
///
/// | variant | per-sample `L(x, x̂)` | `∂L/∂a` (decoder pre-activation `a`) |
/// | --- | --- | --- |
/// | `SquaredError` | `Σ_i (x_i − x̂_i)²` | `2(x̂_i − x_i)·s'(a_i)` |
/// | `CrossEntropy` | `−Σ_i [x_i ln x̂_i + (1 − x_i) ln(1 − x̂_i)]` | `x̂_i − x_i` |
///
/// The squared error is the plain sum over input features: no ½, no 1/d. The cross-entropy
/// needs inputs in [0, 1] and a sigmoid decoder; it is evaluated from the pre-activation as
/// `softplus(a) − x·a`, which is exact and never NaN or ∞ for saturated units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
pub enum ReconstructionLoss {
    /// Sum of squared errors. The default.
    #[default]
    SquaredError,
    /// Binary cross-entropy, for data in [0, 1] and a sigmoid decoder.
    CrossEntropy,
}

impl ReconstructionLoss {
    /// The name used in files and on the command line (`"squared-error"`, `"cross-entropy"`).
    pub fn name(self) -> &'static str {
        match self {
            ReconstructionLoss::SquaredError => "squared-error",
            ReconstructionLoss::CrossEntropy => "cross-entropy",
        }
    }

    /// The loss with the given [`name`](Self::name), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::SquaredError, Self::CrossEntropy]
            .into_iter()
            .find(|l| l.name() == name)
    }

    /// Mean over the batch of the per-sample loss.
    ///
    /// # Shapes
    /// `x`, `pre_activation` and `x_hat` are all `n × input_dim`.
    pub fn value<T: Scalar>(
        self,
        x: &DMatrix<T>,
        pre_activation: &DMatrix<T>,
        x_hat: &DMatrix<T>,
    ) -> T {
        let total = match self {
            ReconstructionLoss::SquaredError => crate::simd::wide(
                #[inline(always)]
                || sum_of_squared_differences(x.as_slice(), x_hat.as_slice()),
            ),
            ReconstructionLoss::CrossEntropy => {
                cross_entropy_sum(x.as_slice(), pre_activation.as_slice())
            }
        };
        T::cast(total / x.nrows() as f64)
    }

    /// The batch-mean loss and its gradient with respect to the decoder's pre-activation,
    /// written into `grad` (resized to `n × input_dim`).
    pub fn value_and_gradient<T: Scalar>(
        self,
        x: &DMatrix<T>,
        pre_activation: &DMatrix<T>,
        x_hat: &DMatrix<T>,
        activation: Activation,
        grad: &mut DMatrix<T>,
    ) -> T {
        crate::linalg::resize(grad, x.nrows(), x.ncols());
        let n = x.nrows();
        let scale = T::one() / T::cast(n as f64);
        let two_scale = scale + scale;
        let (x, a, y, g) = (
            x.as_slice(),
            pre_activation.as_slice(),
            x_hat.as_slice(),
            grad.as_mut_slice(),
        );
        let total = match self {
            ReconstructionLoss::SquaredError => {
                let total = crate::simd::wide(
                    #[inline(always)]
                    || {
                        for ((g, &x), &y) in g.iter_mut().zip(x).zip(y) {
                            *g = two_scale * (y - x);
                        }
                        sum_of_squared_differences(x, y)
                    },
                );
                activation.scale_by_derivative(a, y, g);
                total
            }
            ReconstructionLoss::CrossEntropy => {
                // One pass: each block's gradient, then its sum while the block is in cache.
                let mut total = 0.0;
                let blocks = g
                    .chunks_mut(SUM_BLOCK)
                    .zip(x.chunks(SUM_BLOCK))
                    .zip(a.chunks(SUM_BLOCK).zip(y.chunks(SUM_BLOCK)));
                for ((g, x), (a, y)) in blocks {
                    for ((g, &x), &y) in g.iter_mut().zip(x).zip(y) {
                        *g = scale * (y - x);
                    }
                    total += block_sum(x, a, |x, a| softplus(a) - x * a).as_f64();
                }
                total
            }
        };
        T::cast(total / n as f64)
    }
}

/// `Σ (y − x)²`, in `f64`, by [`pair_sum`] (blocks of eight interleaved partial sums in the
/// scalar type, the blocks added in `f64`; the grouping does not depend on the machine).
#[inline(always)]
fn sum_of_squared_differences<T: Scalar>(x: &[T], y: &[T]) -> f64 {
    pair_sum(x, y, |x, y| {
        let diff = y - x;
        diff * diff
    })
}

/// `Σ softplus(a) − x·a`, the cross-entropy from the pre-activation, in `f64`, by
/// [`pair_sum`].
fn cross_entropy_sum<T: Scalar>(x: &[T], a: &[T]) -> f64 {
    pair_sum(x, a, |x, a| softplus(a) - x * a)
}
