//! Salt-and-pepper noise: inputs set to 0 or 1 at random.

use super::{Corruption, check_probability};
use crate::{Result, Scalar};
use nalgebra::DMatrix;
use rand::{Rng, RngExt};

/// Salt-and-pepper noise: each input is, with probability `p`, replaced by 0 or 1 (half each).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(remote = "Self", deny_unknown_fields)
)]
pub struct SaltAndPepper {
    probability: f64,
}

impl SaltAndPepper {
    /// Salt-and-pepper noise with probability `p`.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) unless
    /// `0 ≤ p ≤ 1`.
    pub fn new(probability: f64) -> Result<Self> {
        check_probability("salt-and-pepper probability", probability)?;
        Ok(Self { probability })
    }

    /// `p`.
    pub fn probability(&self) -> f64 {
        self.probability
    }
}

impl<T: Scalar> Corruption<T> for SaltAndPepper {
    fn builtin(&self) -> Option<super::BuiltinCorruption> {
        Some((*self).into())
    }

    fn corrupt_into<R: Rng + ?Sized>(&self, x: &DMatrix<T>, out: &mut DMatrix<T>, rng: &mut R) {
        for (o, &v) in out.iter_mut().zip(x.iter()) {
            *o = if rng.random_bool(self.probability) {
                if rng.random_bool(0.5) {
                    T::one()
                } else {
                    T::zero()
                }
            } else {
                v
            };
        }
    }

    fn name(&self) -> &'static str {
        "salt-and-pepper"
    }
}
