//! L-BFGS with a line search that satisfies the strong Wolfe conditions, for full-batch
//! minimisation of a smooth function of a flat parameter vector.

use crate::validate::check_param;
use crate::{Error, Result};
use std::collections::VecDeque;
use std::ops::ControlFlow;

/// Limited-memory BFGS (Nocedal 1980; Liu & Nocedal 1989) over a flat `f64` vector, for
/// full-batch training of small problems — what UFLDL's exercises do with minFunc.
///
/// Each iteration takes the quasi-Newton direction of the last `memory` steps (the two-loop
/// recursion, the initial Hessian scaled by `sᵀy / yᵀy`), then a line search for a step `α`
/// meeting the strong Wolfe conditions `f(x + αd) ≤ f(x) + c₁·α·∇f(x)ᵀd` and
/// `|∇f(x + αd)ᵀd| ≤ c₂·|∇f(x)ᵀd|` (bracketing and zooming by safeguarded cubic interpolation,
/// Nocedal & Wright, *Numerical Optimization*, algorithms 3.5 and 3.6; the first condition
/// with a slack of 4 ulps of `f`, so that steps near the minimum, whose decrease is below the
/// rounding of `f`, are not all refused). It stops when the
/// largest gradient entry is at most `gradient_tolerance`, when an iteration lowers `f` by at
/// most `function_tolerance · max(1, |f|)`, after `max_iterations`, when no step meets the
/// conditions, or when the observer says so; the [`LbfgsOutcome`] records which.
///
/// Defaults: memory 10, 400 iterations (UFLDL's budget), gradient tolerance 1e-5, function
/// tolerance 1e-9 (minFunc's `optTol` and `progTol`), `c₁ = 1e-4`, `c₂ = 0.9`, 25 function
/// evaluations per line search.
///
/// ```
/// use autoencoders::optimizer::Lbfgs;
///
/// // The Rosenbrock function, minimised at (1, 1).
/// let rosenbrock = |x: &[f64], g: &mut [f64]| {
///     let (a, b) = (x[0], x[1]);
///     g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
///     g[1] = 200.0 * (b - a * a);
///     Ok((1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2))
/// };
/// let mut x = [-1.2, 1.0];
/// // Stopped by the gradient alone: the default function tolerance would stop near f = 1e-15.
/// let lbfgs = Lbfgs::new()
///     .with_gradient_tolerance(1e-10)?
///     .with_function_tolerance(0.0)?;
/// let outcome = lbfgs.minimize(&mut x, rosenbrock, &mut |_| std::ops::ControlFlow::Continue(()))?;
/// assert!((x[0] - 1.0).abs() < 1e-8 && (x[1] - 1.0).abs() < 1e-8, "{outcome:?}");
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lbfgs {
    pub(crate) memory: usize,
    pub(crate) max_iterations: usize,
    pub(crate) gradient_tolerance: f64,
    pub(crate) function_tolerance: f64,
    pub(crate) c1: f64,
    pub(crate) c2: f64,
    pub(crate) max_evaluations: usize,
}

/// Why [`Lbfgs::minimize`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LbfgsStop {
    /// The largest gradient entry fell to the gradient tolerance.
    GradientTolerance,
    /// An iteration lowered the function by no more than the function tolerance allows.
    FunctionTolerance,
    /// The iteration budget ran out.
    MaxIterations,
    /// No step along the search direction met the strong Wolfe conditions within the
    /// evaluation budget (typically at the limit of the arithmetic's precision). The point kept
    /// is the last accepted one.
    LineSearch,
    /// The observer asked to stop.
    Observer,
}

/// What one iteration of [`Lbfgs::minimize`] reached, for the observer.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct LbfgsIteration {
    /// The iteration, from 1.
    pub iteration: usize,
    /// `f` at the new point.
    pub objective: f64,
    /// The largest absolute gradient entry at the new point.
    pub gradient_norm: f64,
    /// The accepted step length `α`.
    pub step: f64,
    /// Function evaluations so far, all line searches included.
    pub evaluations: usize,
}

/// How [`Lbfgs::minimize`] ended.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct LbfgsOutcome {
    /// `f` at the final point.
    pub objective: f64,
    /// The largest absolute gradient entry there.
    pub gradient_norm: f64,
    /// Iterations completed.
    pub iterations: usize,
    /// Function evaluations, all line searches included.
    pub evaluations: usize,
    /// Why it stopped.
    pub stop: LbfgsStop,
}

/// Where an L-BFGS run stands between iterations: the point, its value and gradient, the
/// remembered steps `s = x_{k+1} − x_k` and gradient changes `y = ∇f_{k+1} − ∇f_k` (oldest
/// first, each with `1 / sᵀy`), the value before the last step (for the function tolerance),
/// and the counts so far. All of it is what the next iteration and the stopping tests use, so
/// a run resumed from a saved state repeats an unbroken one bit for bit.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LbfgsState {
    pub(crate) point: Vec<f64>,
    pub(crate) gradient: Vec<f64>,
    pub(crate) value: f64,
    /// `f` before the last accepted step; `None` before the first.
    pub(crate) previous: Option<f64>,
    pub(crate) pairs: VecDeque<(Vec<f64>, Vec<f64>, f64)>,
    pub(crate) iterations: usize,
    pub(crate) evaluations: usize,
}

impl LbfgsState {
    /// The state at `point`, evaluating `f` there once.
    pub(crate) fn start<F>(point: Vec<f64>, f: &mut F) -> Result<Self>
    where
        F: FnMut(&[f64], &mut [f64]) -> Result<f64>,
    {
        if point.is_empty() {
            return Err(Error::EmptyData {
                what: "the parameters to minimise over",
            });
        }
        let mut gradient = vec![0.0; point.len()];
        let value = f(&point, &mut gradient)?;
        if !value.is_finite() || !gradient.iter().all(|v| v.is_finite()) {
            return Err(Error::Diverged {
                epoch: 0,
                batch: 0,
                what: "objective",
            });
        }
        Ok(Self {
            point,
            gradient,
            value,
            previous: None,
            pairs: VecDeque::new(),
            iterations: 0,
            evaluations: 1,
        })
    }

    /// Whether the last step lowered `f` by at most `tolerance · max(1, |f|)` (never with a
    /// tolerance of 0, nor before the first step).
    pub(crate) fn stalled(&self, tolerance: f64) -> bool {
        match self.previous {
            Some(previous) if tolerance > 0.0 => {
                previous - self.value <= tolerance * previous.abs().max(1.0)
            }
            _ => false,
        }
    }

    /// Keeps the pair `(s, y)` when its curvature `sᵀy` is safely positive, forgetting the
    /// oldest beyond `memory`.
    pub(crate) fn remember(&mut self, s: Vec<f64>, y: Vec<f64>, memory: usize) {
        if let Some(rho) = curvature(&s, &y) {
            if self.pairs.len() == memory {
                self.pairs.pop_front();
            }
            self.pairs.push_back((s, y, rho));
        }
    }

    pub(crate) fn outcome(&self, stop: LbfgsStop) -> LbfgsOutcome {
        LbfgsOutcome {
            objective: self.value,
            gradient_norm: max_abs(&self.gradient),
            iterations: self.iterations,
            evaluations: self.evaluations,
            stop,
        }
    }
}

impl Default for Lbfgs {
    fn default() -> Self {
        Self::new()
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `1 / sᵀy` for a pair worth remembering: its curvature `sᵀy` safely positive (beyond the
/// rounding of `|s|·|y|`) and its inverse finite; `None` otherwise.
pub(crate) fn curvature(s: &[f64], y: &[f64]) -> Option<f64> {
    let sy = dot(s, y);
    let rho = 1.0 / sy;
    (sy > f64::EPSILON * dot(s, s).sqrt() * dot(y, y).sqrt() && rho.is_finite()).then_some(rho)
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// The minimiser of the cubic through `(a, fa, ga)` and `(b, fb, gb)` (values and slopes),
/// kept inside the middle 80 % of the interval; bisection when the cubic has no minimiser.
fn cubic_step(a: f64, fa: f64, ga: f64, b: f64, fb: f64, gb: f64) -> f64 {
    let d1 = ga + gb - 3.0 * (fa - fb) / (a - b);
    let discriminant = d1 * d1 - ga * gb;
    let (low, high) = (a.min(b), a.max(b));
    let margin = 0.1 * (high - low);
    let middle = 0.5 * (a + b);
    if !discriminant.is_finite() || discriminant < 0.0 {
        return middle;
    }
    let d2 = (b - a).signum() * discriminant.sqrt();
    let t = b - (b - a) * (gb + d2 - d1) / (gb - ga + 2.0 * d2);
    if t.is_finite() {
        t.clamp(low + margin, high - margin)
    } else {
        middle
    }
}

/// How far a value may rise and still count as not above `value`: a few units of rounding.
/// Near a minimum the decrease a step can make falls below the rounding of `f` itself, and the
/// sufficient-decrease test would refuse every step; with this slack the search accepts a
/// step that keeps `f` within rounding and meets the curvature condition, which still shrinks
/// the gradient (the "approximate Wolfe" idea of Hager & Zhang 2005, at rounding level).
fn rounding_slack(value: f64) -> f64 {
    4.0 * f64::EPSILON * value.abs()
}

/// A point of the line search: `α`, `φ(α)`, `φ'(α)`.
#[derive(Clone, Copy)]
struct Trial {
    alpha: f64,
    value: f64,
    slope: f64,
}

impl Lbfgs {
    /// L-BFGS with the defaults listed above.
    pub fn new() -> Self {
        Self {
            memory: 10,
            max_iterations: 400,
            gradient_tolerance: 1e-5,
            function_tolerance: 1e-9,
            c1: 1e-4,
            c2: 0.9,
            max_evaluations: 25,
        }
    }

    /// How many past steps shape the direction.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for 0.
    pub fn with_memory(mut self, memory: usize) -> Result<Self> {
        crate::validate::check_nonzero(memory, "L-BFGS memory")?;
        self.memory = memory;
        Ok(self)
    }

    /// The iteration budget (0: evaluate the starting point only).
    pub fn with_max_iterations(mut self, iterations: usize) -> Self {
        self.max_iterations = iterations;
        self
    }

    /// Stop once the largest absolute gradient entry is at most this.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] unless finite and ≥ 0.
    pub fn with_gradient_tolerance(mut self, tolerance: f64) -> Result<Self> {
        check_param(
            "gradient_tolerance",
            tolerance,
            tolerance >= 0.0,
            "a finite value >= 0",
        )?;
        self.gradient_tolerance = tolerance;
        Ok(self)
    }

    /// Stop once an iteration lowers `f` by at most this times `max(1, |f|)` (0: never).
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] unless finite and ≥ 0.
    pub fn with_function_tolerance(mut self, tolerance: f64) -> Result<Self> {
        check_param(
            "function_tolerance",
            tolerance,
            tolerance >= 0.0,
            "a finite value >= 0",
        )?;
        self.function_tolerance = tolerance;
        Ok(self)
    }

    /// The constants of the strong Wolfe conditions, `0 < c₁ < c₂ < 1`.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] otherwise.
    pub fn with_wolfe(mut self, c1: f64, c2: f64) -> Result<Self> {
        check_param("c1", c1, c1 > 0.0 && c1 < 1.0, "a value in (0, 1)")?;
        check_param("c2", c2, c2 > c1 && c2 < 1.0, "a value in (c1, 1)")?;
        self.c1 = c1;
        self.c2 = c2;
        Ok(self)
    }

    /// Function evaluations allowed per line search.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for 0.
    pub fn with_max_evaluations(mut self, evaluations: usize) -> Result<Self> {
        crate::validate::check_nonzero(evaluations, "evaluations per line search")?;
        self.max_evaluations = evaluations;
        Ok(self)
    }

    /// Minimises `f` from `x`, leaving the final point in `x`. `f(x, g)` returns the value at
    /// `x` and writes the gradient into `g` (of `x`'s length); a value or gradient that is not
    /// finite during a line search counts as a step too far. The observer sees every
    /// iteration and may stop the run.
    ///
    /// # Errors
    /// [`Error::EmptyData`] for an empty `x`; [`Error::Diverged`] when `f` or its gradient is
    /// not finite at the starting point; whatever `f` returns.
    pub fn minimize<F>(
        &self,
        x: &mut [f64],
        mut f: F,
        observer: &mut dyn FnMut(&LbfgsIteration) -> ControlFlow<()>,
    ) -> Result<LbfgsOutcome>
    where
        F: FnMut(&[f64], &mut [f64]) -> Result<f64>,
    {
        let mut state = LbfgsState::start(x.to_vec(), &mut f)?;
        let outcome = self.run(&mut state, f, &mut |report, _| Ok(observer(report)));
        x.copy_from_slice(&state.point);
        outcome
    }

    /// The iterations from `state` on (a fresh start or a resumed run), each reported to
    /// `hook` with the state it reached; the state then holds the last accepted point.
    pub(crate) fn run<F>(
        &self,
        state: &mut LbfgsState,
        mut f: F,
        hook: &mut dyn FnMut(&LbfgsIteration, &LbfgsState) -> Result<ControlFlow<()>>,
    ) -> Result<LbfgsOutcome>
    where
        F: FnMut(&[f64], &mut [f64]) -> Result<f64>,
    {
        let n = state.point.len();
        while state.pairs.len() > self.memory {
            state.pairs.pop_front();
        }
        let (mut trial_x, mut trial_g) = (vec![0.0; n], vec![0.0; n]);
        let mut direction = vec![0.0; n];
        // One coefficient per remembered pair (never more than `memory`, allocated as they come).
        let mut alphas: Vec<f64> = Vec::new();
        loop {
            if max_abs(&state.gradient) <= self.gradient_tolerance {
                return Ok(state.outcome(LbfgsStop::GradientTolerance));
            }
            // Tested here rather than right after the step, so that a run resumed after that
            // step (an observer's stop, a checkpoint) tests it as an unbroken run does.
            if state.stalled(self.function_tolerance) {
                return Ok(state.outcome(LbfgsStop::FunctionTolerance));
            }
            if state.iterations >= self.max_iterations {
                return Ok(state.outcome(LbfgsStop::MaxIterations));
            }
            let LbfgsState {
                point: x,
                gradient: g,
                value,
                pairs,
                evaluations,
                ..
            } = &mut *state;
            alphas.resize(pairs.len(), 0.0);
            // The direction −H·g by the two-loop recursion.
            direction
                .iter_mut()
                .zip(g.iter())
                .for_each(|(d, &gi)| *d = -gi);
            for (k, (s, y, rho)) in pairs.iter().enumerate().rev() {
                let a = rho * dot(s, &direction);
                alphas[k] = a;
                direction
                    .iter_mut()
                    .zip(y)
                    .for_each(|(d, &yi)| *d -= a * yi);
            }
            if let Some((s, y, _)) = pairs.back() {
                let gamma = dot(s, y) / dot(y, y);
                direction.iter_mut().for_each(|d| *d *= gamma);
            }
            for (k, (s, y, rho)) in pairs.iter().enumerate() {
                let b = rho * dot(y, &direction);
                let a = alphas[k];
                direction
                    .iter_mut()
                    .zip(s)
                    .for_each(|(d, &si)| *d += (a - b) * si);
            }
            let mut slope = dot(&direction, g);
            if slope.is_nan() || slope >= 0.0 {
                // Not a descent direction (rounding): start again from steepest descent.
                pairs.clear();
                direction
                    .iter_mut()
                    .zip(g.iter())
                    .for_each(|(d, &gi)| *d = -gi);
                slope = dot(&direction, g);
            }
            // The first step has no curvature to go by: a step of length 1 in x.
            let initial = if pairs.is_empty() {
                (1.0 / dot(&direction, &direction).sqrt()).min(1.0)
            } else {
                1.0
            };
            let start = Trial {
                alpha: 0.0,
                value: *value,
                slope,
            };
            // Each trial point goes into `trial_x` and `trial_g`; the step the search accepts is
            // always the one it evaluated last, so they hold the new point when it returns.
            let found = self.line_search(start, initial, &mut |alpha| {
                *evaluations += 1;
                for ((t, &xi), &di) in trial_x.iter_mut().zip(x.iter()).zip(&direction) {
                    *t = xi + alpha * di;
                }
                let v = f(&trial_x, &mut trial_g)?;
                let s = dot(&trial_g, &direction);
                let finite = v.is_finite() && s.is_finite();
                Ok(Trial {
                    alpha,
                    value: if finite { v } else { f64::INFINITY },
                    slope: if finite { s } else { f64::NAN },
                })
            })?;
            let Some(accepted) = found else {
                return Ok(state.outcome(LbfgsStop::LineSearch));
            };
            let s: Vec<f64> = trial_x.iter().zip(x.iter()).map(|(a, b)| a - b).collect();
            let y: Vec<f64> = trial_g.iter().zip(g.iter()).map(|(a, b)| a - b).collect();
            state.remember(s, y, self.memory);
            state.point.copy_from_slice(&trial_x);
            state.gradient.copy_from_slice(&trial_g);
            state.previous = Some(state.value);
            state.value = accepted.value;
            state.iterations += 1;
            let report = LbfgsIteration {
                iteration: state.iterations,
                objective: state.value,
                gradient_norm: max_abs(&state.gradient),
                step: accepted.alpha,
                evaluations: state.evaluations,
            };
            if hook(&report, state)?.is_break() {
                return Ok(state.outcome(LbfgsStop::Observer));
            }
        }
    }

    /// The strong Wolfe line search from `start` (α = 0) with a first trial at `initial`: the
    /// trial that meets the conditions, always the last one `phi` evaluated; `None` when the
    /// evaluation budget runs out before a step meets them.
    fn line_search(
        &self,
        start: Trial,
        initial: f64,
        phi: &mut dyn FnMut(f64) -> Result<Trial>,
    ) -> Result<Option<Trial>> {
        let slack = rounding_slack(start.value);
        let armijo = |t: &Trial| t.value <= start.value + self.c1 * t.alpha * start.slope + slack;
        let curvature = |t: &Trial| t.slope.abs() <= -self.c2 * start.slope;
        let mut previous = start;
        let mut alpha = initial;
        let mut used = 0;
        while used < self.max_evaluations {
            let trial = phi(alpha)?;
            used += 1;
            if !armijo(&trial) || (used > 1 && trial.value > previous.value + slack) {
                return self.zoom(start, previous, trial, self.max_evaluations - used, phi);
            }
            if curvature(&trial) {
                return Ok(Some(trial));
            }
            if trial.slope >= 0.0 {
                return self.zoom(start, trial, previous, self.max_evaluations - used, phi);
            }
            previous = trial;
            alpha *= 2.0;
        }
        Ok(None)
    }

    /// Zooms into the bracket between `low` (meets the Armijo condition, the lower value) and
    /// `high`.
    fn zoom(
        &self,
        start: Trial,
        mut low: Trial,
        mut high: Trial,
        budget: usize,
        phi: &mut dyn FnMut(f64) -> Result<Trial>,
    ) -> Result<Option<Trial>> {
        let slack = rounding_slack(start.value);
        for _ in 0..budget {
            let alpha = if high.value.is_finite() && high.slope.is_finite() {
                cubic_step(
                    low.alpha, low.value, low.slope, high.alpha, high.value, high.slope,
                )
            } else {
                0.5 * (low.alpha + high.alpha)
            };
            if alpha == low.alpha || alpha == high.alpha {
                break; // the bracket is below the arithmetic's resolution
            }
            let trial = phi(alpha)?;
            if trial.value > start.value + self.c1 * alpha * start.slope + slack
                || trial.value > low.value + slack
            {
                high = trial;
            } else {
                if trial.slope.abs() <= -self.c2 * start.slope {
                    return Ok(Some(trial));
                }
                if trial.slope * (high.alpha - low.alpha) >= 0.0 {
                    high = low;
                }
                low = trial;
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::ChaCha8Rng;
    use rand::{RngExt, SeedableRng};

    fn go(_: &LbfgsIteration) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }

    #[test]
    fn a_quadratic_is_minimised_to_1e_8() {
        // f(x) = ½ xᵀAx − bᵀx, A = MᵀM + I (positive definite), minimised at A⁻¹b.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 20;
        let m = nalgebra::DMatrix::from_fn(n, n, |_, _| rng.random::<f64>() - 0.5);
        let a = m.transpose() * &m + nalgebra::DMatrix::identity(n, n);
        let b = nalgebra::DVector::from_fn(n, |_, _| rng.random::<f64>());
        let solution = a.clone().lu().solve(&b).unwrap();
        let f = |x: &[f64], g: &mut [f64]| {
            let x = nalgebra::DVector::from_column_slice(x);
            let ax = &a * &x;
            g.copy_from_slice((&ax - &b).as_slice());
            Ok(0.5 * x.dot(&ax) - b.dot(&x))
        };
        let mut x = vec![0.0; n];
        let lbfgs = Lbfgs::new()
            .with_gradient_tolerance(1e-11)
            .unwrap()
            .with_function_tolerance(0.0)
            .unwrap();
        let outcome = lbfgs.minimize(&mut x, f, &mut go).unwrap();
        assert_eq!(outcome.stop, LbfgsStop::GradientTolerance, "{outcome:?}");
        let error = x
            .iter()
            .zip(solution.iter())
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(error < 1e-8, "{error:e} after {outcome:?}");
    }

    /// The extended Rosenbrock function in `n` dimensions, minimised at (1, …, 1).
    fn rosenbrock(x: &[f64], g: &mut [f64]) -> Result<f64> {
        g.iter_mut().for_each(|v| *v = 0.0);
        let mut value = 0.0;
        for i in 0..x.len() - 1 {
            let (a, b) = (x[i], x[i + 1]);
            value += (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
            g[i] += -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
            g[i + 1] += 200.0 * (b - a * a);
        }
        Ok(value)
    }

    #[test]
    fn rosenbrock_is_minimised_to_1e_8_in_2_and_10_dimensions() {
        for n in [2, 10] {
            let mut x: Vec<f64> = (0..n)
                .map(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
                .collect();
            let lbfgs = Lbfgs::new()
                .with_gradient_tolerance(1e-10)
                .unwrap()
                .with_function_tolerance(0.0)
                .unwrap()
                .with_max_iterations(1000);
            let mut seen = 0;
            let mut last = f64::INFINITY;
            let outcome = lbfgs
                .minimize(&mut x, rosenbrock, &mut |r| {
                    // No accepted step raises the function beyond rounding (the Armijo
                    // condition with its slack).
                    assert!(
                        r.objective <= last + 4.0 * f64::EPSILON * last.abs(),
                        "{r:?}"
                    );
                    last = r.objective;
                    seen += 1;
                    ControlFlow::Continue(())
                })
                .unwrap();
            assert_eq!(seen, outcome.iterations);
            assert_eq!(
                outcome.stop,
                LbfgsStop::GradientTolerance,
                "n = {n}: {outcome:?}"
            );
            for v in &x {
                assert!((v - 1.0).abs() < 1e-8, "n = {n}: {x:?}");
            }
        }
    }

    #[test]
    fn the_line_search_meets_the_strong_wolfe_conditions() {
        // φ(α) along a few 1-D functions with a descent slope at 0; each accepted step must
        // meet both conditions.
        let lbfgs = Lbfgs::new();
        type Phi = Box<dyn Fn(f64) -> (f64, f64)>;
        let cases: Vec<Phi> = vec![
            Box::new(|a| ((a - 3.0).powi(2), 2.0 * (a - 3.0))),
            Box::new(|a| ((a - 0.01).powi(4) - a, 4.0 * (a - 0.01).powi(3) - 1.0)),
            Box::new(|a| {
                (
                    -(a * 5.0).sin() / (1.0 + a),
                    -(5.0 * (5.0 * a).cos() * (1.0 + a) - (5.0 * a).sin()) / (1.0 + a).powi(2),
                )
            }),
            Box::new(|a| ((a - 100.0).powi(2), 2.0 * (a - 100.0))),
        ];
        for (i, phi) in cases.iter().enumerate() {
            let (v0, s0) = phi(0.0);
            assert!(s0 < 0.0);
            let start = Trial {
                alpha: 0.0,
                value: v0,
                slope: s0,
            };
            let found = lbfgs
                .line_search(start, 1.0, &mut |a| {
                    let (value, slope) = phi(a);
                    Ok(Trial {
                        alpha: a,
                        value,
                        slope,
                    })
                })
                .unwrap()
                .unwrap_or_else(|| panic!("case {i}: no step"));
            assert!(
                found.value <= v0 + 1e-4 * found.alpha * s0,
                "case {i}: Armijo"
            );
            assert!(found.slope.abs() <= 0.9 * s0.abs(), "case {i}: curvature");
        }
    }

    #[test]
    fn bad_settings_and_starts_get_typed_errors() {
        assert!(Lbfgs::new().with_memory(0).is_err());
        assert!(Lbfgs::new().with_gradient_tolerance(f64::NAN).is_err());
        assert!(Lbfgs::new().with_function_tolerance(-1.0).is_err());
        assert!(Lbfgs::new().with_wolfe(0.5, 0.1).is_err());
        assert!(Lbfgs::new().with_wolfe(0.0, 0.9).is_err());
        assert!(Lbfgs::new().with_max_evaluations(0).is_err());
        let mut empty: [f64; 0] = [];
        assert!(matches!(
            Lbfgs::new().minimize(&mut empty, rosenbrock, &mut go),
            Err(Error::EmptyData { .. })
        ));
        let mut x = [1.0];
        let nan = |_: &[f64], g: &mut [f64]| {
            g[0] = 0.0;
            Ok(f64::NAN)
        };
        assert!(matches!(
            Lbfgs::new().minimize(&mut x, nan, &mut go),
            Err(Error::Diverged { .. })
        ));
        // A function that is ∞ beyond 1 from the start: the search shrinks and still converges.
        let mut x = [0.0];
        let walled = |x: &[f64], g: &mut [f64]| {
            g[0] = 2.0 * (x[0] - 0.5);
            Ok(if x[0] > 1.0 {
                f64::INFINITY
            } else {
                (x[0] - 0.5).powi(2)
            })
        };
        let outcome = Lbfgs::new()
            .with_gradient_tolerance(1e-12)
            .unwrap()
            .minimize(&mut x, walled, &mut go)
            .unwrap();
        assert!((x[0] - 0.5).abs() < 1e-10, "{x:?} {outcome:?}");
        // The observer stops the run.
        let mut x = [-1.2, 1.0];
        let outcome = Lbfgs::new()
            .minimize(&mut x, rosenbrock, &mut |r| {
                if r.iteration == 3 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap();
        assert_eq!((outcome.iterations, outcome.stop), (3, LbfgsStop::Observer));
    }
}
