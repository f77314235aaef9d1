//! KL-divergence sparsity on the mean activation of each code unit.

use super::{Architecture, Regularizer, RegularizerGradient, RegularizerInput, check_weight};
use crate::validate::check_param;
use crate::{Activation, Error, Result, Scalar};

/// KL sparsity: `β·Σ_j [ρ ln(ρ/ρ̂_j) + (1 − ρ) ln((1 − ρ)/(1 − ρ̂_j))]`, once per batch.
///
/// `ρ̂_j = (1/n)·Σ_s h_sj` is the mean activation of code unit `j` over the batch and `ρ` the
/// target. Codes must lie in (0, 1), so the encoder's activation must be the sigmoid.
///
/// Gradient: `∂P/∂h_sj = (β/n)·[−ρ/ρ̂_j + (1 − ρ)/(1 − ρ̂_j)] = (β/n)·(ρ̂_j − ρ)/(ρ̂_j(1 − ρ̂_j))`.
///
/// A unit whose mean saturates to exactly 0 or 1 in floating point would give an infinite
/// penalty; `ρ̂_j` is kept at least one machine epsilon away from both ends.
///
/// Near the target the two logarithms are each of order `|ρ̂ − ρ|` but their sum only of order
/// `(ρ̂ − ρ)²`, so the direct formula loses every digit to rounding and can come out
/// negative. Each term is evaluated instead as `ρ·(u − ln(1 + u)) + (1 − ρ)·(v − ln(1 + v))`
/// with `u = (ρ̂ − ρ)/ρ`, `v = (ρ − ρ̂)/(1 − ρ)` (the same value: `ρu + (1 − ρ)v = 0`), whose
/// parts are never negative; the penalty is 0 exactly when `ρ̂ = ρ`, and never below.
///
/// ```
/// use autoencoders::KlSparsity;
/// let kl = KlSparsity::new(0.05, 3.0)?;
/// assert_eq!((kl.target(), kl.weight()), (0.05, 3.0));
/// assert!(KlSparsity::new(1.0, 3.0).is_err());
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(remote = "Self", deny_unknown_fields)
)]
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
            total += bernoulli_kl(rho, rho_hat);
            let g = beta / n * ((rho_hat - rho) / (rho_hat * (one - rho_hat)));
            grad_column.add_scalar_mut(g);
        }
        beta * total
    }
}

/// `KL(ρ‖ρ̂) = ρ·ln(ρ/ρ̂) + (1 − ρ)·ln((1 − ρ)/(1 − ρ̂))`, accurate near `ρ̂ = ρ` and never
/// negative (see [`KlSparsity`]); both arguments in (0, 1).
fn bernoulli_kl<T: Scalar>(rho: T, rho_hat: T) -> T {
    let one = T::one();
    let u = (rho_hat - rho) / rho;
    let v = (rho - rho_hat) / (one - rho);
    let kl = rho * linear_minus_log(u, rho_hat / rho)
        + (one - rho) * linear_minus_log(v, (one - rho_hat) / (one - rho));
    kl.max(T::zero())
}

/// `u − ln(1 + u)` with `ratio = 1 + u` computed apart: `ln_1p(u)` near 0, where it is exact
/// and the subtraction loses nothing that matters, and `ln(ratio)` elsewhere, which stays
/// finite when `1 + u` is too small for `u` to resolve.
fn linear_minus_log<T: Scalar>(u: T, ratio: T) -> T {
    let half: T = nalgebra::convert(0.5);
    let log = if u.abs() < half {
        u.ln_1p()
    } else {
        ratio.ln()
    };
    u - log
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kl_is_zero_at_the_target_and_positive_near_it() {
        for rho in [1e-6, 0.05, 0.5, 0.95] {
            assert_eq!(bernoulli_kl(rho, rho), 0.0);
            for relative in [1e-12, 1e-9, 1e-6, -1e-9] {
                let rho_hat: f64 = rho * (1.0 + relative);
                let kl = bernoulli_kl(rho, rho_hat);
                // Second order: (ρ̂ − ρ)² / (2ρ(1 − ρ)).
                let leading = (rho_hat - rho).powi(2) / (2.0 * rho * (1.0 - rho));
                assert!(kl >= 0.0, "{rho} {relative}");
                approx::assert_relative_eq!(kl, leading, max_relative = 1e-2);
            }
        }
    }

    #[test]
    fn kl_matches_the_direct_formula_away_from_the_target() {
        for (rho, rho_hat) in [
            (0.05_f64, 0.5_f64),
            (0.5, 0.05),
            (0.3, 1.0 - 1e-15),
            (0.3, 1e-15),
        ] {
            let direct: f64 =
                rho * (rho / rho_hat).ln() + (1.0 - rho) * ((1.0 - rho) / (1.0 - rho_hat)).ln();
            approx::assert_relative_eq!(bernoulli_kl(rho, rho_hat), direct, max_relative = 1e-12);
        }
        assert!(bernoulli_kl(0.05_f32, f32::EPSILON).is_finite());
        assert!(bernoulli_kl(0.05_f32, 1.0 - f32::EPSILON).is_finite());
    }
}
