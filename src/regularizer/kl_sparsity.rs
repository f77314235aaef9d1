//! KL-divergence sparsity on the mean activation of each code unit.

use super::{Architecture, Regularizer, RegularizerGradient, RegularizerInput, check_weight};
use crate::validate::check_param;
use crate::{Activation, Error, Result, Scalar};

/// KL sparsity: `β·Σ_j [ρ ln(ρ/ρ̂_j) + (1 − ρ) ln((1 − ρ)/(1 − ρ̂_j))]`, once per batch.
///
/// `ρ̂_j = (1/n)·Σ_s h_sj` is the mean activation of code unit `j` over the batch and `ρ` the
/// target. Codes must lie in (0, 1), so the encoder's activation must be the sigmoid.
///
/// Gradient: `∂P/∂h_sj = (β/n)·[−ρ/ρ̂_j + (1 − ρ)/(1 − ρ̂_j)]`.
///
/// A unit whose mean saturates to exactly 0 or 1 in floating point would give an infinite
/// penalty; `ρ̂_j` is kept at least one machine epsilon away from both ends.
///
/// ```
/// use autoencoders::KlSparsity;
/// let kl = KlSparsity::new(0.05, 3.0)?;
/// assert_eq!((kl.target(), kl.weight()), (0.05, 3.0));
/// assert!(KlSparsity::new(1.0, 3.0).is_err());
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KlSparsity {
    target: f64,
    weight: f64,
}

impl KlSparsity {
    /// KL sparsity with target activation `ρ` and weight `β`.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] unless `0 < ρ < 1` and `β` is finite and ≥ 0.
    pub fn new(target: f64, weight: f64) -> Result<Self> {
        check_param(
            "sparsity target",
            target,
            target > 0.0 && target < 1.0,
            "a value in (0, 1)",
        )?;
        check_weight("sparsity weight", weight)?;
        Ok(Self { target, weight })
    }

    /// `ρ`.
    pub fn target(&self) -> f64 {
        self.target
    }

    /// `β`.
    pub fn weight(&self) -> f64 {
        self.weight
    }
}

impl<T: Scalar> Regularizer<T> for KlSparsity {
    fn builtin(&self) -> Option<Vec<super::BuiltinRegularizer>> {
        Some(vec![(*self).into()])
    }

    fn name(&self) -> &'static str {
        "kl-sparsity"
    }

    fn check(&self, architecture: &Architecture) -> Result<()> {
        if architecture.encoder_activation == Activation::Sigmoid {
            Ok(())
        } else {
            Err(Error::IncompatibleActivation {
                component: "KL sparsity",
                expected: "a sigmoid encoder (codes in (0, 1))",
                found: architecture.encoder_activation,
            })
        }
    }

    fn penalty(&self, input: &RegularizerInput<'_, T>, grad: &mut RegularizerGradient<'_, T>) -> T {
        let one = T::one();
        let n = T::cast(input.code.nrows() as f64);
        let rho = T::cast(self.target);
        let beta = T::cast(self.weight);
        let eps = T::default_epsilon();
        let mut total = T::zero();
        for (column, mut grad_column) in input.code.column_iter().zip(grad.code.column_iter_mut()) {
            let rho_hat = (column.sum() / n).clamp(eps, one - eps);
            total +=
                rho * (rho / rho_hat).ln() + (one - rho) * ((one - rho) / (one - rho_hat)).ln();
            let g = beta / n * (-rho / rho_hat + (one - rho) / (one - rho_hat));
            grad_column.add_scalar_mut(g);
        }
        beta * total
    }
}
