//! Optimisers: how a gradient becomes a parameter update.

mod adam;
mod sgd;

pub use adam::Adam;
pub use sgd::Sgd;

use crate::Scalar;

/// Updates parameters from their gradients, one step per batch.
///
/// `parameters` and `gradients` list the same tensors in the same order on every call (the
/// model's [`parameters`](crate::Autoencoder::parameters) order), so an optimiser can keep
/// per-tensor state such as momentum by position.
pub trait Optimizer<T: Scalar> {
    /// One update `θ ← θ + Δθ(∇J)`.
    fn step(&mut self, parameters: &mut [&mut [T]], gradients: &[&[T]]);
}

impl<T: Scalar, O: Optimizer<T> + ?Sized> Optimizer<T> for Box<O> {
    fn step(&mut self, parameters: &mut [&mut [T]], gradients: &[&[T]]) {
        (**self).step(parameters, gradients);
    }
}

impl<T: Scalar, O: Optimizer<T> + ?Sized> Optimizer<T> for &mut O {
    fn step(&mut self, parameters: &mut [&mut [T]], gradients: &[&[T]]) {
        (**self).step(parameters, gradients);
    }
}

/// What [`positive_in`] requires, for error messages.
const POSITIVE_IN_T: &str = "a finite value > 0, also once rounded to the model's scalar type";

/// Whether `value` is finite and positive both as `f64` and rounded to `T`: an `f32` model
/// cannot use a learning rate of `1e39` (∞) or an `ε` of `1e-50` (0).
fn positive_in<T: Scalar>(value: f64) -> bool {
    let rounded = T::cast(value);
    value > 0.0 && rounded.is_finite() && rounded > T::zero()
}

/// Resets per-tensor state when the parameter list changes shape (a new model).
fn ensure_state<T: Scalar>(state: &mut Vec<Vec<T>>, gradients: &[&[T]]) {
    let fits = state.len() == gradients.len()
        && state.iter().zip(gradients).all(|(s, g)| s.len() == g.len());
    if !fits {
        *state = gradients.iter().map(|g| vec![T::zero(); g.len()]).collect();
    }
}
