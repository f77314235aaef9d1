//! Masking noise: inputs set to zero at random.

use super::{Corruption, check_probability};
use crate::{Result, Scalar};
use nalgebra::DMatrix;
use rand::{Rng, RngExt};

/// Masking noise: each input is set to 0 with probability `p`, independently.
///
/// ```
/// use autoencoders::{Corruption, Masking};
/// use nalgebra::DMatrix;
/// use rand::{SeedableRng, rngs::ChaCha8Rng};
///
/// let masked = Masking::new(0.25)?.corrupt(&DMatrix::<f32>::from_element(200, 10, 1.0),
///                                          &mut ChaCha8Rng::seed_from_u64(0));
/// let zeros = masked.iter().filter(|&&v| v == 0.0).count();
/// assert!((400..600).contains(&zeros));
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(remote = "Self", deny_unknown_fields)
)]
pub struct Masking {
    probability: f64,
}

impl Masking {
    /// Masking with probability `p`.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) unless
    /// `0 ≤ p ≤ 1`.
    pub fn new(probability: f64) -> Result<Self> {
        check_probability("masking probability", probability)?;
        Ok(Self { probability })
    }

    /// `p`.
    pub fn probability(&self) -> f64 {
        self.probability
    }
}

impl<T: Scalar> Corruption<T> for Masking {
    fn builtin(&self) -> Option<super::BuiltinCorruption> {
        Some((*self).into())
    }

    fn corrupt_into<R: Rng + ?Sized>(&self, x: &DMatrix<T>, out: &mut DMatrix<T>, rng: &mut R) {
        for (o, &v) in out.iter_mut().zip(x.iter()) {
            *o = if rng.random_bool(self.probability) {
                T::zero()
            } else {
                v
            };
        }
    }

    fn name(&self) -> &'static str {
        "masking"
    }
}
