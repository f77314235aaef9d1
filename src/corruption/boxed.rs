//! Corruptions as trait objects: [`DynCorruption`], the object-safe face of [`Corruption`].

use super::{BuiltinCorruption, Corruption};
use crate::Scalar;
use nalgebra::DMatrix;
use rand::Rng;

/// The object-safe face of [`Corruption`], for corruptions chosen at run time or stored beside
/// others of different types (as [`LayerSpec`](crate::LayerSpec) does).
///
/// [`Corruption::corrupt_into`] is generic over the generator, so `dyn Corruption<T>` cannot
/// exist; every corruption implements this trait instead, and a
/// `Box<dyn DynCorruption<T> + Send + Sync>` (the alias [`BoxedCorruption`]) is a
/// [`Corruption`] again. The generator reaches a user's corruption as `&mut dyn Rng`, which
/// draws exactly the numbers the generator itself would, so a boxed corruption corrupts bit
/// for bit as the unboxed one; the crate's own corruptions skip the indirection.
///
/// ```
/// use autoencoders::{BoxedCorruption, Corruption, GaussianNoise, NoCorruption};
/// use nalgebra::DMatrix;
/// use rand::{SeedableRng, rngs::ChaCha8Rng};
///
/// let noise = GaussianNoise::new(0.1)?;
/// let choices: Vec<BoxedCorruption<f64>> = vec![Box::new(NoCorruption), Box::new(noise)];
/// let x = DMatrix::from_element(4, 3, 0.5);
/// let boxed = choices[1].corrupt(&x, &mut ChaCha8Rng::seed_from_u64(7));
/// assert_eq!(boxed, noise.corrupt(&x, &mut ChaCha8Rng::seed_from_u64(7)));
/// # Ok::<(), autoencoders::Error>(())
/// ```
pub trait DynCorruption<T: Scalar> {
    /// [`Corruption::corrupt_into`] with the generator behind a pointer.
    fn corrupt_dyn(&self, x: &DMatrix<T>, out: &mut DMatrix<T>, rng: &mut dyn Rng);

    /// [`Corruption::is_identity`].
    fn is_identity_dyn(&self) -> bool;

    /// [`Corruption::name`].
    fn name_dyn(&self) -> &'static str;

    /// [`Corruption::builtin`].
    fn builtin_dyn(&self) -> Option<BuiltinCorruption>;

    /// [`Corruption::hyper_parameters`].
    fn hyper_parameters_dyn(&self) -> Vec<(&'static str, f64)>;
}

impl<T: Scalar, C: Corruption<T>> DynCorruption<T> for C {
    fn corrupt_dyn(&self, x: &DMatrix<T>, out: &mut DMatrix<T>, rng: &mut dyn Rng) {
        self.corrupt_into(x, out, rng);
    }

    fn is_identity_dyn(&self) -> bool {
        self.is_identity()
    }

    fn name_dyn(&self) -> &'static str {
        self.name()
    }

    fn builtin_dyn(&self) -> Option<BuiltinCorruption> {
        self.builtin()
    }

    fn hyper_parameters_dyn(&self) -> Vec<(&'static str, f64)> {
        self.hyper_parameters()
    }
}

/// A boxed corruption of any type, shareable between threads.
pub type BoxedCorruption<T> = Box<dyn DynCorruption<T> + Send + Sync>;

// Every call goes to the boxed value, `(**self)`: the box is itself a `DynCorruption` (through
// the blanket impl above), and `self.corrupt_dyn(…)` would call this very impl again.
impl<T: Scalar> Corruption<T> for BoxedCorruption<T> {
    fn corrupt_into<R: Rng + ?Sized>(&self, x: &DMatrix<T>, out: &mut DMatrix<T>, rng: &mut R) {
        match (**self).builtin_dyn() {
            // The crate's own corruptions, drawn with the caller's generator type itself.
            Some(builtin) => builtin.corrupt_into(x, out, rng),
            None => {
                // `&mut R` is a sized generator forwarding to `R`, so it coerces to `dyn Rng`.
                let mut forward = rng;
                (**self).corrupt_dyn(x, out, &mut forward);
            }
        }
    }

    fn is_identity(&self) -> bool {
        (**self).is_identity_dyn()
    }

    fn name(&self) -> &'static str {
        (**self).name_dyn()
    }

    fn builtin(&self) -> Option<BuiltinCorruption> {
        (**self).builtin_dyn()
    }

    fn hyper_parameters(&self) -> Vec<(&'static str, f64)> {
        (**self).hyper_parameters_dyn()
    }
}
