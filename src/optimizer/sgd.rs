//! Stochastic gradient descent, with optional momentum.

use super::{
    Optimizer, OptimizerState, POSITIVE_IN_T, Scratch, ensure_state, positive_in,
    restore_parameters, state_fits,
};
use crate::validate::{check_param, non_finite};
use crate::{Result, Scalar};
use std::sync::atomic::{AtomicBool, Ordering};

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
    /// The parameters before the step being tried.
    backup: Scratch<T>,
    /// The velocity the step being tried computes.
    next_velocity: Scratch<T>,
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
            backup: Scratch::default(),
            next_velocity: Scratch::default(),
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

/// One value's update with momentum: `v ← μ·v − η·g`, `θ ← θ + v`. Shared by
/// [`Optimizer::step`] and [`Optimizer::try_step`] so that both compute the same bits.
#[inline(always)]
fn momentum_update<T: Scalar>(theta: T, g: T, v: T, eta: T, mu: T) -> (T, T) {
    let v = mu * v - eta * g;
    (theta + v, v)
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
                (*t, *v) = momentum_update(*t, g, *v, eta, mu);
            }
        }
    }

    /// The update of [`step`](Optimizer::step), checked as it is written; on failure the old
    /// parameters come back from a copy made in the same pass, and the velocity was never
    /// overwritten.
    fn try_step(&mut self, parameters: &mut [&mut [T]], gradients: &[&[T]]) -> bool {
        let eta = T::cast(self.learning_rate);
        let backup = self.backup.fitted(gradients);
        let piece = crate::pool::piece_len(gradients.iter().map(|g| g.len()).sum());
        let overflow = AtomicBool::new(false);
        if self.momentum == 0.0 {
            let mut pieces = Vec::new();
            for ((theta, g), saved) in parameters.iter_mut().zip(gradients).zip(backup.iter_mut()) {
                for ((t, g), saved) in theta
                    .chunks_mut(piece)
                    .zip(g.chunks(piece))
                    .zip(saved.chunks_mut(piece))
                {
                    pieces.push((g.len(), (t, g, saved)));
                }
            }
            crate::pool::for_each_piece(pieces, |(theta, g, saved)| {
                // The flag is the closure's own, so that it stays in a register.
                let failed = crate::simd::wide(
                    #[inline(always)]
                    || {
                        let mut overflow = false;
                        for ((t, &g), saved) in theta.iter_mut().zip(g.iter()).zip(saved.iter_mut())
                        {
                            *saved = *t;
                            *t -= eta * g;
                            overflow |= non_finite(*t);
                        }
                        overflow
                    },
                );
                if failed {
                    overflow.store(true, Ordering::Relaxed);
                }
            });
        } else {
            let mu = T::cast(self.momentum);
            // Before the first step the velocity is zero (and not yet allocated).
            let fresh = !state_fits(&self.velocity, gradients);
            ensure_state(&mut self.velocity, gradients);
            let next = self.next_velocity.fitted(gradients);
            let tensors = parameters
                .iter_mut()
                .zip(gradients)
                .zip(backup.iter_mut())
                .zip(self.velocity.iter().zip(next.iter_mut()));
            let mut pieces = Vec::new();
            for (((theta, g), saved), (v, next)) in tensors {
                let chunks = theta
                    .chunks_mut(piece)
                    .zip(g.chunks(piece))
                    .zip(saved.chunks_mut(piece))
                    .zip(v.chunks(piece).zip(next.chunks_mut(piece)));
                pieces.extend(chunks.map(|piece| (piece.0.1.len(), piece)));
            }
            crate::pool::for_each_piece(pieces, |(((theta, g), saved), (v, next))| {
                let values = theta
                    .iter_mut()
                    .zip(g.iter())
                    .zip(saved.iter_mut())
                    .zip(v.iter().zip(next.iter_mut()));
                let failed = crate::simd::wide(
                    #[inline(always)]
                    || {
                        let mut overflow = false;
                        for (((t, &g), saved), (&v, next)) in values {
                            *saved = *t;
                            (*t, *next) = momentum_update(*t, g, v, eta, mu);
                            overflow |= non_finite(*t) | non_finite(*next);
                        }
                        overflow
                    },
                );
                if failed {
                    overflow.store(true, Ordering::Relaxed);
                }
            });
            let overflow = overflow.load(Ordering::Relaxed);
            if overflow && fresh {
                self.velocity.clear();
            } else if !overflow {
                std::mem::swap(&mut self.velocity, &mut self.next_velocity.0);
            }
        }
        let overflow = overflow.load(Ordering::Relaxed);
        if overflow {
            restore_parameters(parameters, &self.backup.0);
        }
        !overflow
    }

    /// Kind `"sgd"`; hyper-parameters `learning_rate` and `momentum`; tensor state `velocity`
    /// once a step with momentum has been taken.
    fn state(&self) -> OptimizerState<T> {
        let state = OptimizerState::new("sgd")
            .with_hyper_parameter("learning_rate", self.learning_rate)
            .with_hyper_parameter("momentum", self.momentum);
        if self.velocity.is_empty() {
            state
        } else {
            state.with_tensors("velocity", self.velocity.clone())
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
        state.check("Sgd", "sgd", &[], &["velocity"])?;
        self.velocity = state.take_tensors("velocity");
        Ok(())
    }
}
