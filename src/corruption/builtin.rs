//! The built-in corruptions as one type, for models configured at run time and loaded from
//! files.

use super::{Corruption, GaussianNoise, Masking, SaltAndPepper};
use crate::Scalar;
use nalgebra::DMatrix;
use rand::Rng;

/// None or any one of the crate's corruptions, chosen at run time.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[non_exhaustive]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
pub enum BuiltinCorruption {
    /// No corruption.
    #[default]
    None,
    /// [`GaussianNoise`].
    GaussianNoise(GaussianNoise),
    /// [`Masking`].
    Masking(Masking),
    /// [`SaltAndPepper`].
    SaltAndPepper(SaltAndPepper),
}

impl<T: Scalar> Corruption<T> for BuiltinCorruption {
    fn corrupt_into<R: Rng + ?Sized>(&self, x: &DMatrix<T>, out: &mut DMatrix<T>, rng: &mut R) {
        match self {
            BuiltinCorruption::None => out.copy_from(x),
            BuiltinCorruption::GaussianNoise(c) => c.corrupt_into(x, out, rng),
            BuiltinCorruption::Masking(c) => c.corrupt_into(x, out, rng),
            BuiltinCorruption::SaltAndPepper(c) => c.corrupt_into(x, out, rng),
        }
    }

    fn is_identity(&self) -> bool {
        matches!(self, BuiltinCorruption::None)
    }

    fn name(&self) -> &'static str {
        match self {
            BuiltinCorruption::None => "none",
            BuiltinCorruption::GaussianNoise(c) => Corruption::<T>::name(c),
            BuiltinCorruption::Masking(c) => Corruption::<T>::name(c),
            BuiltinCorruption::SaltAndPepper(c) => Corruption::<T>::name(c),
        }
    }

    fn builtin(&self) -> Option<BuiltinCorruption> {
        Some(*self)
    }
}

impl From<GaussianNoise> for BuiltinCorruption {
    fn from(c: GaussianNoise) -> Self {
        BuiltinCorruption::GaussianNoise(c)
    }
}

impl From<Masking> for BuiltinCorruption {
    fn from(c: Masking) -> Self {
        BuiltinCorruption::Masking(c)
    }
}

impl From<SaltAndPepper> for BuiltinCorruption {
    fn from(c: SaltAndPepper) -> Self {
        BuiltinCorruption::SaltAndPepper(c)
    }
}
