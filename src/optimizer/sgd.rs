//! Stochastic gradient descent, with optional momentum.

use super::{Optimizer, POSITIVE_IN_T, ensure_state, positive_in};
use crate::validate::check_param;
use crate::{Result, Scalar};

/// Gradient descent: `θ ← θ − η·g`; with momentum `μ > 0`, `v ← μ·v − η·g`, `θ ← θ + v`.
///
/// Defaults: no momentum.
///
/// ```
/// use autoencoders::{Optimizer, Sgd};
/// let mut sgd = Sgd::<f64>::new(0.5)?;
/// let mut theta = vec![1.0, 2.0];
/// sgd.step(&mut [&mut theta[..]], &[&[2.0, -2.0][..]]);
/// assert_eq!(theta, vec![0.0, 3.0]);
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Sgd<T: Scalar> {
    learning_rate: f64,
    momentum: f64,
    velocity: Vec<Vec<T>>,
}

impl<T: Scalar> Sgd<T> {
    /// Plain SGD with learning rate `η`.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) unless `η` is
    /// finite and > 0, also once rounded to `T` (so not beyond `f32::MAX`, nor so small that it
    /// rounds to 0, for `f32`).
    pub fn new(learning_rate: f64) -> Result<Self> {
        check_param(
            "learning_rate",
            learning_rate,
            positive_in::<T>(learning_rate),
            POSITIVE_IN_T,
        )?;
        Ok(Self {
            learning_rate,
            momentum: 0.0,
            velocity: Vec::new(),
        })
    }

    /// The same optimiser with momentum `μ`.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) unless
    /// `0 ≤ μ < 1`.
    pub fn with_momentum(mut self, momentum: f64) -> Result<Self> {
        check_param(
            "momentum",
            momentum,
            (0.0..1.0).contains(&momentum),
            "a value in [0, 1)",
        )?;
        self.momentum = momentum;
        Ok(self)
    }

    /// `η`.
    pub fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    /// `μ`.
    pub fn momentum(&self) -> f64 {
        self.momentum
    }
}

impl<T: Scalar> Optimizer<T> for Sgd<T> {
    fn step(&mut self, parameters: &mut [&mut [T]], gradients: &[&[T]]) {
        let eta = T::cast(self.learning_rate);
        if self.momentum == 0.0 {
            for (theta, g) in parameters.iter_mut().zip(gradients) {
                for (t, &g) in theta.iter_mut().zip(g.iter()) {
                    *t -= eta * g;
                }
            }
            return;
        }
        ensure_state(&mut self.velocity, gradients);
        let mu = T::cast(self.momentum);
        for ((theta, g), v) in parameters.iter_mut().zip(gradients).zip(&mut self.velocity) {
            for ((t, &g), v) in theta.iter_mut().zip(g.iter()).zip(v.iter_mut()) {
                *v = mu * *v - eta * g;
                *t += *v;
            }
        }
    }
}
