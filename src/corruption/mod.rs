//! Corruptions `x̃ ~ q(x̃ | x)` for denoising autoencoders.
//!
//! The encoder sees the corrupted batch; the loss compares the reconstruction with the clean one.
//! A fresh corruption is drawn for every batch from the caller's generator.

mod boxed;
mod builtin;
mod gaussian;
mod masking;
mod salt_and_pepper;

pub use boxed::{BoxedCorruption, DynCorruption};
pub use builtin::BuiltinCorruption;
pub use gaussian::GaussianNoise;
pub use masking::Masking;
pub use salt_and_pepper::SaltAndPepper;

use crate::Scalar;
use nalgebra::DMatrix;
use rand::Rng;

/// A random corruption of a batch, shaped like rand's `Distribution`.
///
/// `&self`, an explicit generator, same shape out as in; the same generator state gives the same
/// corruption.
///
/// # Implementing `Corruption`
/// Corruption that zeroes one whole sample in ten:
/// ```
/// use autoencoders::Corruption;
/// use nalgebra::DMatrix;
/// use rand::{Rng, RngExt, SeedableRng, rngs::ChaCha8Rng};
///
/// struct DropSamples;
///
/// impl Corruption<f64> for DropSamples {
///     fn corrupt_into<R: Rng + ?Sized>(&self, x: &DMatrix<f64>, out: &mut DMatrix<f64>, rng: &mut R) {
///         out.copy_from(x);
///         for mut row in out.row_iter_mut() {
///             if rng.random_bool(0.1) {
///                 row.fill(0.0);
///             }
///         }
///     }
/// }
///
/// let mut rng = ChaCha8Rng::seed_from_u64(1);
/// let noisy = DropSamples.corrupt(&DMatrix::from_element(50, 3, 1.0), &mut rng);
/// assert_eq!(noisy.shape(), (50, 3));
/// ```
pub trait Corruption<T: Scalar> {
    /// Writes a corrupted copy of `x` into `out`, which already has `x`'s shape.
    ///
    /// # Shapes
    /// `x` and `out` are both `n × input_dim`.
    fn corrupt_into<R: Rng + ?Sized>(&self, x: &DMatrix<T>, out: &mut DMatrix<T>, rng: &mut R);

    /// A corrupted copy of `x`.
    fn corrupt<R: Rng + ?Sized>(&self, x: &DMatrix<T>, rng: &mut R) -> DMatrix<T> {
        let mut out = DMatrix::zeros(x.nrows(), x.ncols());
        self.corrupt_into(x, &mut out, rng);
        out
    }

    /// Whether the corruption leaves every input unchanged (training then skips the copy).
    fn is_identity(&self) -> bool {
        false
    }

    /// The corruption's name, used in saved models.
    fn name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }

    /// The corruption as a built-in one, so that a saved model can be rebuilt; `None` (the
    /// default) for a corruption the crate does not know, which is then saved by
    /// [`name`](Self::name) only.
    fn builtin(&self) -> Option<BuiltinCorruption> {
        None
    }

    /// A user's corruption's hyper-parameters by name, recorded beside its name in saved models
    /// and checkpoints, so that resuming with another value is refused. The provided method
    /// reports none.
    fn hyper_parameters(&self) -> Vec<(&'static str, f64)> {
        Vec::new()
    }
}

/// No corruption: the encoder sees the clean input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct NoCorruption;

impl<T: Scalar> Corruption<T> for NoCorruption {
    fn corrupt_into<R: Rng + ?Sized>(&self, x: &DMatrix<T>, out: &mut DMatrix<T>, _: &mut R) {
        out.copy_from(x);
    }

    fn is_identity(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "none"
    }

    fn builtin(&self) -> Option<BuiltinCorruption> {
        Some(BuiltinCorruption::None)
    }
}

impl<T: Scalar, C: Corruption<T> + ?Sized> Corruption<T> for &C {
    fn corrupt_into<R: Rng + ?Sized>(&self, x: &DMatrix<T>, out: &mut DMatrix<T>, rng: &mut R) {
        (**self).corrupt_into(x, out, rng);
    }

    fn is_identity(&self) -> bool {
        (**self).is_identity()
    }

    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn builtin(&self) -> Option<BuiltinCorruption> {
        (**self).builtin()
    }

    fn hyper_parameters(&self) -> Vec<(&'static str, f64)> {
        (**self).hyper_parameters()
    }
}

/// Checks a probability: finite and in [0, 1].
fn check_probability(name: &'static str, p: f64) -> crate::Result<()> {
    crate::validate::check_param(name, p, (0.0..=1.0).contains(&p), "a probability in [0, 1]")
}
