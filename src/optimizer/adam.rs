//! Adam (Kingma & Ba 2015).

use super::{Optimizer, POSITIVE_IN_T, ensure_state, positive_in};
use crate::validate::check_param;
use crate::{Result, Scalar};

/// Adam: `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
/// `θ ← θ − η·m̂/(√v̂ + ε)` with the bias-corrected `m̂ = m/(1−β₁ᵗ)`, `v̂ = v/(1−β₂ᵗ)`.
///
/// Defaults: `β₁ = 0.9`, `β₂ = 0.999`, `ε = 1e-8`.
#[derive(Clone, Debug, PartialEq)]
pub struct Adam<T: Scalar> {
    learning_rate: f64,
    beta1: f64,
    beta2: f64,
    epsilon: f64,
    steps: u64,
    first_moment: Vec<Vec<T>>,
    second_moment: Vec<Vec<T>>,
}

impl<T: Scalar> Default for Adam<T> {
    /// Adam with learning rate 1e-3 and the default `β₁`, `β₂`, `ε`.
    fn default() -> Self {
        Self {
            learning_rate: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            steps: 0,
            first_moment: Vec::new(),
            second_moment: Vec::new(),
        }
    }
}

impl<T: Scalar> Adam<T> {
    /// Adam with learning rate `η` and the default `β₁`, `β₂`, `ε`.
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
            ..Self::default()
        })
    }

    /// The same optimiser with decay rates `β₁`, `β₂`.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) unless both lie
    /// in [0, 1).
    pub fn with_betas(mut self, beta1: f64, beta2: f64) -> Result<Self> {
        check_param(
            "beta1",
            beta1,
            (0.0..1.0).contains(&beta1),
            "a value in [0, 1)",
        )?;
        check_param(
            "beta2",
            beta2,
            (0.0..1.0).contains(&beta2),
            "a value in [0, 1)",
        )?;
        self.beta1 = beta1;
        self.beta2 = beta2;
        Ok(self)
    }

    /// The same optimiser with `ε`.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) unless `ε` is
    /// finite and > 0, also once rounded to `T`.
    pub fn with_epsilon(mut self, epsilon: f64) -> Result<Self> {
        check_param("epsilon", epsilon, positive_in::<T>(epsilon), POSITIVE_IN_T)?;
        self.epsilon = epsilon;
        Ok(self)
    }

    /// `η`.
    pub fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }
}

impl<T: Scalar> Optimizer<T> for Adam<T> {
    fn step(&mut self, parameters: &mut [&mut [T]], gradients: &[&[T]]) {
        ensure_state(&mut self.first_moment, gradients);
        ensure_state(&mut self.second_moment, gradients);
        self.steps += 1;
        let t = self.steps as i32;
        let one = T::one();
        let (b1, b2) = (T::cast(self.beta1), T::cast(self.beta2));
        let eps = T::cast(self.epsilon);
        // Bias corrections folded into the step size, as in the paper's last variant.
        let correction1 = 1.0 - self.beta1.powi(t);
        let correction2 = 1.0 - self.beta2.powi(t);
        let step_size = T::cast(self.learning_rate * correction2.sqrt() / correction1);
        let eps_hat = eps * T::cast(correction2.sqrt());
        let tensors = parameters.iter_mut().zip(gradients).zip(
            self.first_moment
                .iter_mut()
                .zip(self.second_moment.iter_mut()),
        );
        for ((theta, g), (m, v)) in tensors {
            for (((t, &g), m), v) in theta
                .iter_mut()
                .zip(g.iter())
                .zip(m.iter_mut())
                .zip(v.iter_mut())
            {
                *m = b1 * *m + (one - b1) * g;
                *v = b2 * *v + (one - b2) * g * g;
                *t -= step_size * *m / (v.sqrt() + eps_hat);
            }
        }
    }
}
