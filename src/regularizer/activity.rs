//! Penalties on the size of the code: L1 and squared.

use super::{Regularizer, RegularizerGradient, RegularizerInput, check_weight};
use crate::sums::sum_with_gradient;
use crate::{Result, Scalar};

/// L1 activity sparsity: `λ·Σ_j |h_j|` per sample, averaged over the batch.
///
/// Gradient: `∂P/∂h_sj = λ·sign(h_sj)/n` for a batch of `n` (0 at `h = 0`).
///
/// ```
/// use autoencoders::L1Sparsity;
/// let sparse = L1Sparsity::new(1e-3)?;
/// assert_eq!(sparse.weight(), 1e-3);
/// assert!(L1Sparsity::new(-1.0).is_err());
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(remote = "Self", deny_unknown_fields)
)]
pub struct L1Sparsity {
    weight: f64,
}

impl L1Sparsity {
    /// L1 sparsity with weight `λ`.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) unless `λ` is finite
    /// and ≥ 0.
    pub fn new(weight: f64) -> Result<Self> {
        check_weight("sparsity weight", weight)?;
        Ok(Self { weight })
    }

    /// `λ`.
    pub fn weight(&self) -> f64 {
        self.weight
    }
}

impl<T: Scalar> Regularizer<T> for L1Sparsity {
    fn builtin(&self) -> Option<Vec<super::BuiltinRegularizer>> {
        Some(vec![(*self).into()])
    }

    fn name(&self) -> &'static str {
        "l1-sparsity"
    }

    fn penalty(&self, input: &RegularizerInput<'_, T>, grad: &mut RegularizerGradient<'_, T>) -> T {
        let scale = T::cast(self.weight) / T::cast(input.code.nrows() as f64);
        let total = sum_with_gradient(input.code.as_slice(), grad.code.as_mut_slice(), |h, g| {
            if h > T::zero() {
                *g += scale;
            } else if h < T::zero() {
                *g -= scale;
            }
            h.abs()
        });
        T::cast(total * self.weight / input.code.nrows() as f64)
    }
}

/// Squared activity penalty: `λ·Σ_j h_j²` per sample, averaged over the batch.
///
/// Gradient: `∂P/∂h_sj = 2λ·h_sj/n` for a batch of `n`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(remote = "Self", deny_unknown_fields)
)]
pub struct L2Sparsity {
    weight: f64,
}

impl L2Sparsity {
    /// Squared activity penalty with weight `λ`.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) unless `λ` is finite
    /// and ≥ 0.
    pub fn new(weight: f64) -> Result<Self> {
        check_weight("sparsity weight", weight)?;
        Ok(Self { weight })
    }

    /// `λ`.
    pub fn weight(&self) -> f64 {
        self.weight
    }
}

impl<T: Scalar> Regularizer<T> for L2Sparsity {
    fn builtin(&self) -> Option<Vec<super::BuiltinRegularizer>> {
        Some(vec![(*self).into()])
    }

    fn name(&self) -> &'static str {
        "l2-sparsity"
    }

    fn penalty(&self, input: &RegularizerInput<'_, T>, grad: &mut RegularizerGradient<'_, T>) -> T {
        let scale = T::cast(self.weight) / T::cast(input.code.nrows() as f64);
        let two_scale = scale + scale;
        let total = sum_with_gradient(input.code.as_slice(), grad.code.as_mut_slice(), |h, g| {
            *g += two_scale * h;
            h * h
        });
        T::cast(total * self.weight / input.code.nrows() as f64)
    }
}
