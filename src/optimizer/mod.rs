//! Optimisers: how a gradient becomes a parameter update.

mod adam;
mod lbfgs;
mod sgd;
mod state;

pub use adam::Adam;
pub use lbfgs::{Lbfgs, LbfgsIteration, LbfgsOutcome, LbfgsStop};
pub(crate) use lbfgs::{LbfgsState, curvature};
pub use sgd::Sgd;
pub use state::OptimizerState;

use crate::validate::all_finite;
use crate::{Error, Result, Scalar};

/// Updates parameters from their gradients, one step per batch.
///
/// `parameters` and `gradients` list the same tensors in the same order on every call (the
/// model's [`parameters`](crate::Autoencoder::parameters) order), so an optimiser can keep
/// per-tensor state such as momentum by position.
///
/// Only [`step`](Self::step) is required. An optimiser with state (momentum, moments,
/// counters) should also implement [`state`](Self::state) and [`restore`](Self::restore):
/// training uses them to undo a step that would make a value non-finite, and checkpoints to
/// save and resume the state.
///
/// # Implementing `Optimizer`
/// Gradient descent with a step size that decays as `η/√t`, whose step count `t` is its state.
/// ```
/// use autoencoders::{Optimizer, OptimizerState, Result};
///
/// struct DecayingSgd { learning_rate: f64, steps: u64 }
///
/// impl Optimizer<f64> for DecayingSgd {
///     fn step(&mut self, parameters: &mut [&mut [f64]], gradients: &[&[f64]]) {
///         self.steps += 1;
///         let eta = self.learning_rate / (self.steps as f64).sqrt();
///         for (theta, g) in parameters.iter_mut().zip(gradients) {
///             for (t, g) in theta.iter_mut().zip(g.iter()) {
///                 *t -= eta * g;
///             }
///         }
///     }
///
///     fn state(&self) -> OptimizerState<f64> {
///         OptimizerState::new("decaying-sgd")
///             .with_hyper_parameter("learning_rate", self.learning_rate)
///             .with_counter("steps", self.steps)
///     }
///
///     fn restore(&mut self, state: OptimizerState<f64>) -> Result<()> {
///         self.steps = state.counters().get("steps").copied().unwrap_or(0);
///         Ok(())
///     }
/// }
///
/// // A step that would overflow is refused, and the step count stays as it was.
/// let mut optimizer = DecayingSgd { learning_rate: 1.0, steps: 0 };
/// let mut theta = vec![f64::MAX];
/// assert!(!optimizer.try_step(&mut [&mut theta[..]], &[&[-f64::MAX][..]]));
/// assert_eq!((theta[0], optimizer.steps), (f64::MAX, 0));
/// assert!(optimizer.try_step(&mut [&mut theta[..]], &[&[1.0][..]]));
/// assert_eq!(optimizer.steps, 1);
/// ```
pub trait Optimizer<T: Scalar> {
    /// One update `θ ← θ + Δθ(∇J)`.
    fn step(&mut self, parameters: &mut [&mut [T]], gradients: &[&[T]]);

    /// [`step`](Self::step), only if every parameter and every value of the optimiser's
    /// state stays finite; returns whether the step was taken. When it returns `false`, the
    /// parameters and the state are bit for bit what they were before the call.
    ///
    /// The default copies the parameters and the [`state`](Self::state) before stepping and
    /// puts both back if a value became NaN or ∞. [`Sgd`] and [`Adam`] check while they
    /// update, in one pass: they keep the old parameters in a scratch buffer as they overwrite
    /// them and write the new state into a second buffer, swapped in only when every value is
    /// finite.
    ///
    /// Training relies on this to catch a NaN or ∞ in the gradients too (it scans them only
    /// after a refused step, to say which went wrong): an optimiser that maps a non-finite
    /// gradient to a finite step (by clipping, say) hides it from the divergence check.
    fn try_step(&mut self, parameters: &mut [&mut [T]], gradients: &[&[T]]) -> bool {
        let saved: Vec<Vec<T>> = parameters.iter().map(|p| p.to_vec()).collect();
        let saved_state = self.state();
        self.step(parameters, gradients);
        let finite = parameters.iter().all(|p| all_finite(p)) && self.state().is_finite();
        if !finite {
            for (p, s) in parameters.iter_mut().zip(&saved) {
                p.copy_from_slice(s);
            }
            // The state is the optimiser's own, taken a moment ago: restoring it cannot fail
            // for an optimiser whose `restore` accepts what its `state` returns.
            let _ = self.restore(saved_state);
        }
        finite
    }

    /// The optimiser's state: its kind, hyper-parameters, counters and per-parameter tensors.
    ///
    /// The default is an empty state named after the type, right for an optimiser without
    /// state.
    fn state(&self) -> OptimizerState<T> {
        OptimizerState::new(std::any::type_name::<Self>())
    }

    /// The optimiser's learning rate, for an optimiser that has one (the default: `None`).
    fn learning_rate(&self) -> Option<f64> {
        None
    }

    /// Sets the learning rate of the steps that follow; training calls it before every update
    /// when the [`TrainingConfig`](crate::TrainingConfig) has a
    /// [`LearningRateSchedule`](crate::LearningRateSchedule). A rate of 0 (the end of a cosine
    /// schedule) must be accepted.
    ///
    /// # Errors
    /// [`Error::NoLearningRate`] from the default, for an optimiser without a rate to set;
    /// [`Error::InvalidHyperParameter`] for a rate that is negative or not finite.
    fn set_learning_rate(&mut self, rate: f64) -> Result<()> {
        let _ = rate;
        Err(Error::NoLearningRate {
            optimizer: std::any::type_name::<Self>(),
        })
    }

    /// Continues from `state`, as returned by [`state`](Self::state) of an optimiser of the same
    /// kind. The optimiser keeps its own hyper-parameters.
    ///
    /// # Errors
    /// [`Error::IncompatibleOptimizerState`] for a state that this optimiser cannot take. The
    /// default accepts only the empty state of this type.
    fn restore(&mut self, state: OptimizerState<T>) -> Result<()> {
        let name = std::any::type_name::<Self>();
        if state.kind() == name && state.counters().is_empty() && state.tensors().is_empty() {
            Ok(())
        } else {
            Err(Error::IncompatibleOptimizerState {
                optimizer: name,
                problem: "this optimiser does not implement `state` and `restore`",
            })
        }
    }
}

impl<T: Scalar, O: Optimizer<T> + ?Sized> Optimizer<T> for Box<O> {
    fn step(&mut self, parameters: &mut [&mut [T]], gradients: &[&[T]]) {
        (**self).step(parameters, gradients);
    }

    fn learning_rate(&self) -> Option<f64> {
        (**self).learning_rate()
    }

    fn set_learning_rate(&mut self, rate: f64) -> Result<()> {
        (**self).set_learning_rate(rate)
    }

    fn try_step(&mut self, parameters: &mut [&mut [T]], gradients: &[&[T]]) -> bool {
        (**self).try_step(parameters, gradients)
    }

    fn state(&self) -> OptimizerState<T> {
        (**self).state()
    }

    fn restore(&mut self, state: OptimizerState<T>) -> Result<()> {
        (**self).restore(state)
    }
}

impl<T: Scalar, O: Optimizer<T> + ?Sized> Optimizer<T> for &mut O {
    fn step(&mut self, parameters: &mut [&mut [T]], gradients: &[&[T]]) {
        (**self).step(parameters, gradients);
    }

    fn learning_rate(&self) -> Option<f64> {
        (**self).learning_rate()
    }

    fn set_learning_rate(&mut self, rate: f64) -> Result<()> {
        (**self).set_learning_rate(rate)
    }

    fn try_step(&mut self, parameters: &mut [&mut [T]], gradients: &[&[T]]) -> bool {
        (**self).try_step(parameters, gradients)
    }

    fn state(&self) -> OptimizerState<T> {
        (**self).state()
    }

    fn restore(&mut self, state: OptimizerState<T>) -> Result<()> {
        (**self).restore(state)
    }
}

/// Checks a rate given to [`Optimizer::set_learning_rate`]: finite and ≥ 0.
fn check_rate(rate: f64) -> Result<()> {
    crate::validate::check_param("learning_rate", rate, rate >= 0.0, "a finite value >= 0")
}

/// What [`positive_in`] requires, for error messages.
const POSITIVE_IN_T: &str = "a finite value > 0, also once rounded to the model's scalar type";

/// Whether `value` is finite and positive both as `f64` and rounded to `T`: an `f32` model
/// cannot use a learning rate of `1e39` (∞) or an `ε` of `1e-50` (0).
fn positive_in<T: Scalar>(value: f64) -> bool {
    let rounded = T::cast(value);
    value > 0.0 && rounded.is_finite() && rounded > T::zero()
}

/// Buffers an optimiser reuses from step to step but which are not part of its state: two
/// optimisers are equal whatever their scratch holds, and it is never saved.
#[derive(Clone, Default)]
struct Scratch<T>(Vec<Vec<T>>);

impl<T> PartialEq for Scratch<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> std::fmt::Debug for Scratch<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scratch")
    }
}

impl<T: Scalar> Scratch<T> {
    /// The buffers, one per gradient, of the gradients' lengths (contents unspecified).
    fn fitted(&mut self, gradients: &[&[T]]) -> &mut [Vec<T>] {
        ensure_state(&mut self.0, gradients);
        &mut self.0
    }
}

/// Puts the parameters saved in `backup` back.
fn restore_parameters<T: Scalar>(parameters: &mut [&mut [T]], backup: &[Vec<T>]) {
    for (theta, saved) in parameters.iter_mut().zip(backup) {
        let n = theta.len().min(saved.len());
        theta[..n].copy_from_slice(&saved[..n]);
    }
}

/// Whether `state` has one tensor per gradient, of the gradient's length.
fn state_fits<T: Scalar>(state: &[Vec<T>], gradients: &[&[T]]) -> bool {
    state.len() == gradients.len() && state.iter().zip(gradients).all(|(s, g)| s.len() == g.len())
}

/// Resets per-tensor state when the parameter list changes shape (a new model).
fn ensure_state<T: Scalar>(state: &mut Vec<Vec<T>>, gradients: &[&[T]]) {
    if !state_fits(state, gradients) {
        *state = gradients.iter().map(|g| vec![T::zero(); g.len()]).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn optimizers() -> Vec<Box<dyn Optimizer<f32>>> {
        vec![
            Box::new(Sgd::new(0.1).unwrap()),
            Box::new(Sgd::new(0.1).unwrap().with_momentum(0.9).unwrap()),
            Box::new(Adam::new(0.01).unwrap()),
        ]
    }

    fn bits(state: &OptimizerState<f32>) -> Vec<Vec<u32>> {
        let tensors = state.tensors().values().flatten();
        tensors
            .map(|t| t.iter().map(|v| v.to_bits()).collect())
            .collect()
    }

    #[test]
    fn try_step_computes_the_bits_step_computes() {
        for (mut stepped, mut tried) in optimizers().into_iter().zip(optimizers()) {
            let (mut a, mut b) = (vec![vec![0.5f32, -1.0, 2.0], vec![0.25]], Vec::new());
            b.clone_from(&a);
            for k in 0..5 {
                let g = [vec![0.1 * k as f32, -0.3, 1e-3], vec![-2.0]];
                let g: Vec<&[f32]> = g.iter().map(Vec::as_slice).collect();
                let mut pa: Vec<&mut [f32]> = a.iter_mut().map(Vec::as_mut_slice).collect();
                stepped.step(&mut pa, &g);
                let mut pb: Vec<&mut [f32]> = b.iter_mut().map(Vec::as_mut_slice).collect();
                assert!(tried.try_step(&mut pb, &g));
            }
            let to_bits = |p: &Vec<Vec<f32>>| -> Vec<Vec<u32>> {
                p.iter()
                    .map(|t| t.iter().map(|v| v.to_bits()).collect())
                    .collect()
            };
            assert_eq!(to_bits(&a), to_bits(&b));
            assert_eq!(stepped.state().counters(), tried.state().counters());
            assert_eq!(bits(&stepped.state()), bits(&tried.state()));
        }
    }

    #[test]
    fn a_refused_first_step_leaves_a_fresh_state() {
        for mut optimizer in optimizers() {
            let fresh = optimizer.state();
            let mut theta = vec![1.0, f32::MAX];
            let before = theta.clone();
            // Overflows θ for SGD, and g² in Adam's second moment.
            let g = [1.0, -f32::MAX];
            assert!(!optimizer.try_step(&mut [&mut theta[..]], &[&g[..]]));
            assert_eq!(theta, before);
            assert_eq!(optimizer.state(), fresh);
        }
    }

    #[test]
    fn states_restore_only_into_their_own_kind() {
        let mut sgd = Sgd::<f32>::new(0.1).unwrap();
        let adam_state = Adam::<f32>::new(0.1).unwrap().state();
        assert!(matches!(
            sgd.restore(adam_state),
            Err(Error::IncompatibleOptimizerState { .. })
        ));
        let lopsided = Adam::<f32>::default()
            .state()
            .with_tensors("m", vec![vec![0.0; 3]]);
        assert!(Adam::<f32>::default().restore(lopsided).is_err());
        // A step counter at its maximum (a hostile checkpoint) is refused, not wrapped to 0.
        let exhausted = Adam::<f32>::default()
            .state()
            .with_counter("steps", u64::MAX);
        assert!(matches!(
            Adam::<f32>::default().restore(exhausted),
            Err(Error::IncompatibleOptimizerState { .. })
        ));
        let mut nearly = Adam::<f32>::default();
        let almost = nearly.state().with_counter("steps", u64::MAX - 1);
        nearly.restore(almost).unwrap();
        let mut theta = [1.0f32];
        assert!(nearly.try_step(&mut [&mut theta[..]], &[&[0.5][..]]));
        nearly.step(&mut [&mut theta[..]], &[&[0.5][..]]);
        assert_eq!(nearly.steps(), u64::MAX, "the counter saturates");
        let uneven = Adam::<f32>::default()
            .state()
            .with_tensors("m", vec![vec![0.0; 3]])
            .with_tensors("v", vec![vec![0.0; 2]]);
        assert!(Adam::<f32>::default().restore(uneven).is_err());
        let non_finite = Sgd::<f32>::new(0.1)
            .unwrap()
            .state()
            .with_tensors("velocity", vec![vec![f32::NAN]]);
        assert!(sgd.restore(non_finite).is_err());
        let unknown = Sgd::<f32>::new(0.1)
            .unwrap()
            .state()
            .with_counter("steps", 3);
        assert!(sgd.restore(unknown).is_err());
    }
}
