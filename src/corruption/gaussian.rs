//! Additive Gaussian noise.

use super::Corruption;
use crate::validate::check_param;
use crate::{Result, Scalar};
use nalgebra::DMatrix;
use rand::Rng;

/// Additive isotropic Gaussian noise: `x̃ = x + ε`, `ε ~ N(0, σ²)` independently per input.
///
/// ```
/// use autoencoders::{Corruption, GaussianNoise};
/// use nalgebra::DMatrix;
/// use rand::{SeedableRng, rngs::ChaCha8Rng};
///
/// let noise = GaussianNoise::new(0.3)?;
/// let x = DMatrix::<f64>::zeros(100, 10);
/// let noisy = noise.corrupt(&x, &mut ChaCha8Rng::seed_from_u64(0));
/// let variance = noisy.iter().map(|v| v * v).sum::<f64>() / 1000.0;
/// assert!((variance - 0.09).abs() < 0.02);
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(remote = "Self", deny_unknown_fields)
)]
pub struct GaussianNoise {
    std_dev: f64,
}

impl GaussianNoise {
    /// Gaussian noise with standard deviation `σ`.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) unless `σ` is
    /// finite and ≥ 0.
    pub fn new(std_dev: f64) -> Result<Self> {
        check_param(
            "noise std_dev",
            std_dev,
            std_dev >= 0.0,
            "a finite value >= 0",
        )?;
        Ok(Self { std_dev })
    }

    /// `σ`.
    pub fn std_dev(&self) -> f64 {
        self.std_dev
    }
}

impl<T: Scalar> Corruption<T> for GaussianNoise {
    fn builtin(&self) -> Option<super::BuiltinCorruption> {
        Some((*self).into())
    }

    fn corrupt_into<R: Rng + ?Sized>(&self, x: &DMatrix<T>, out: &mut DMatrix<T>, rng: &mut R) {
        let std_dev = T::cast(self.std_dev);
        // All draws first, in bulk (vectorised Box–Muller), then one pass adding them.
        let out = out.as_mut_slice();
        T::fill_standard_normal(rng, out);
        for (o, &v) in out.iter_mut().zip(x.as_slice()) {
            *o = v + std_dev * *o;
        }
    }

    fn name(&self) -> &'static str {
        "gaussian-noise"
    }
}
