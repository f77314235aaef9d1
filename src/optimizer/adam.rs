//! Adam (Kingma & Ba 2015).

use super::{
    Optimizer, OptimizerState, POSITIVE_IN_T, Scratch, ensure_state, positive_in,
    restore_parameters, state_fits,
};
use crate::validate::{check_param, non_finite};
use crate::{Error, Result, Scalar};
use std::sync::atomic::{AtomicBool, Ordering};

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
    /// The parameters before the step being tried.
    backup: Scratch<T>,
    /// The moments the step being tried computes.
    next_first_moment: Scratch<T>,
    next_second_moment: Scratch<T>,
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
            backup: Scratch::default(),
            next_first_moment: Scratch::default(),
            next_second_moment: Scratch::default(),
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

/// The step's constants for step number `t`: the bias corrections folded into the step size
/// and `ε`, as in the paper's last variant.
#[derive(Clone, Copy)]
struct Constants<T> {
    beta1: T,
    beta2: T,
    step_size: T,
    eps_hat: T,
}

impl<T: Scalar> Constants<T> {
    fn new(adam: &Adam<T>, t: u64) -> Self {
        // Beyond 2³¹ steps both corrections are 1 to double precision anyway.
        let t = i32::try_from(t).unwrap_or(i32::MAX);
        let correction1 = 1.0 - adam.beta1.powi(t);
        let correction2 = 1.0 - adam.beta2.powi(t);
        Self {
            beta1: T::cast(adam.beta1),
            beta2: T::cast(adam.beta2),
            step_size: T::cast(adam.learning_rate * correction2.sqrt() / correction1),
            eps_hat: T::cast(adam.epsilon) * T::cast(correction2.sqrt()),
        }
    }

    /// One value's update: the new `(θ, m, v)`. Shared by [`Optimizer::step`] and
    /// [`Optimizer::try_step`] so that both compute the same bits.
    #[inline(always)]
    fn update(&self, theta: T, g: T, m: T, v: T) -> (T, T, T) {
        let one = T::one();
        let m = self.beta1 * m + (one - self.beta1) * g;
        let v = self.beta2 * v + (one - self.beta2) * g * g;
        (theta - self.step_size * m / (v.sqrt() + self.eps_hat), m, v)
    }
}

impl<T: Scalar> Optimizer<T> for Adam<T> {
    fn step(&mut self, parameters: &mut [&mut [T]], gradients: &[&[T]]) {
        ensure_state(&mut self.first_moment, gradients);
        ensure_state(&mut self.second_moment, gradients);
        // The counter saturates: beyond 2³¹ steps the bias corrections are 1 anyway.
        self.steps = self.steps.saturating_add(1);
        let constants = Constants::new(self, self.steps);
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
                (*t, *m, *v) = constants.update(*t, g, *m, *v);
            }
        }
    }

    /// The update of [`step`](Optimizer::step), checked as it is written; on failure the old
    /// parameters come back from a copy made in the same pass, and the moments were never
    /// overwritten.
    fn try_step(&mut self, parameters: &mut [&mut [T]], gradients: &[&[T]]) -> bool {
        let constants = Constants::new(self, self.steps.saturating_add(1));
        // Before the first step the moments are zero (and not yet allocated).
        let fresh = !(state_fits(&self.first_moment, gradients)
            && state_fits(&self.second_moment, gradients));
        ensure_state(&mut self.first_moment, gradients);
        ensure_state(&mut self.second_moment, gradients);
        let backup = self.backup.fitted(gradients);
        let next_m = self.next_first_moment.fitted(gradients);
        let next_v = self.next_second_moment.fitted(gradients);
        let piece = crate::pool::piece_len(gradients.iter().map(|g| g.len()).sum());
        let tensors = parameters
            .iter_mut()
            .zip(gradients)
            .zip(backup.iter_mut())
            .zip(self.first_moment.iter().zip(self.second_moment.iter()))
            .zip(next_m.iter_mut().zip(next_v.iter_mut()));
        let mut pieces = Vec::new();
        for ((((theta, g), saved), (m, v)), (next_m, next_v)) in tensors {
            let chunks = theta
                .chunks_mut(piece)
                .zip(g.chunks(piece))
                .zip(saved.chunks_mut(piece))
                .zip(m.chunks(piece).zip(v.chunks(piece)))
                .zip(next_m.chunks_mut(piece).zip(next_v.chunks_mut(piece)));
            pieces.extend(chunks.map(|piece| (piece.0.0.0.1.len(), piece)));
        }
        let overflow = AtomicBool::new(false);
        crate::pool::for_each_piece(
            pieces,
            |((((theta, g), saved), (m, v)), (next_m, next_v))| {
                let values = theta
                    .iter_mut()
                    .zip(g.iter())
                    .zip(saved.iter_mut())
                    .zip(m.iter().zip(v.iter()))
                    .zip(next_m.iter_mut().zip(next_v.iter_mut()));
                let failed = crate::simd::wide(
                    #[inline(always)]
                    || {
                        let mut overflow = false;
                        for ((((t, &g), saved), (&m, &v)), (next_m, next_v)) in values {
                            *saved = *t;
                            (*t, *next_m, *next_v) = constants.update(*t, g, m, v);
                            overflow |= non_finite(*t) | non_finite(*next_m) | non_finite(*next_v);
                        }
                        overflow
                    },
                );
                if failed {
                    overflow.store(true, Ordering::Relaxed);
                }
            },
        );
        let overflow = overflow.load(Ordering::Relaxed);
        if overflow {
            restore_parameters(parameters, &self.backup.0);
            if fresh {
                self.first_moment.clear();
                self.second_moment.clear();
            }
        } else {
            self.steps = self.steps.saturating_add(1);
            std::mem::swap(&mut self.first_moment, &mut self.next_first_moment.0);
            std::mem::swap(&mut self.second_moment, &mut self.next_second_moment.0);
        }
        !overflow
    }

    /// Kind `"adam"`; hyper-parameters `learning_rate`, `beta1`, `beta2` and `epsilon`; counter
    /// `steps`; tensor states `m` and `v` (first and second moments) once a step has been taken.
    fn state(&self) -> OptimizerState<T> {
        let state = OptimizerState::new("adam")
            .with_hyper_parameter("learning_rate", self.learning_rate)
            .with_hyper_parameter("beta1", self.beta1)
            .with_hyper_parameter("beta2", self.beta2)
            .with_hyper_parameter("epsilon", self.epsilon)
            .with_counter("steps", self.steps);
        if self.first_moment.is_empty() {
            state
        } else {
            state
                .with_tensors("m", self.first_moment.clone())
                .with_tensors("v", self.second_moment.clone())
        }
    }

    fn learning_rate(&self) -> Option<f64> {
        Some(self.learning_rate)
    }

    fn set_learning_rate(&mut self, rate: f64) -> Result<()> {
        super::check_rate(rate)?;
        self.learning_rate = rate;
        Ok(())
    }

    fn restore(&mut self, mut state: OptimizerState<T>) -> Result<()> {
        state.check("Adam", "adam", &["steps"], &["m", "v"])?;
        if state.tensors().len() == 1 {
            return Err(Error::IncompatibleOptimizerState {
                optimizer: "Adam",
                problem: "it holds one of the moments `m` and `v` without the other",
            });
        }
        let steps = state.counters().get("steps").copied().unwrap_or(0);
        if steps == u64::MAX {
            return Err(Error::IncompatibleOptimizerState {
                optimizer: "Adam",
                problem: "its step counter is at its maximum, 2^64 - 1: no step can follow",
            });
        }
        self.steps = steps;
        self.first_moment = state.take_tensors("m");
        self.second_moment = state.take_tensors("v");
        Ok(())
    }
}
