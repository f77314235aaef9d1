//! An optimiser's state as plain data, for checkpoints and for undoing a step.

use crate::validate::all_finite;
use crate::{Error, Result, Scalar};
use std::collections::BTreeMap;

/// Everything an optimiser needs to continue exactly where it stopped: its kind, its
/// hyper-parameters, its counters (such as Adam's step count) and its per-parameter tensors
/// (such as momentum or Adam's moments).
///
/// Each named tensor state is one flat vector per parameter tensor, in the order and layout of
/// the model's [`parameters`](crate::Autoencoder::parameters). Checkpoints save them beside the
/// model as `optimizer.<name>.<parameter name>` (see [`Checkpoint`](crate::Checkpoint)).
///
/// Defaults: no hyper-parameters, counters or tensors.
///
/// ```
/// use autoencoders::{Optimizer, Sgd};
///
/// let mut sgd = Sgd::<f64>::new(0.5)?.with_momentum(0.9)?;
/// let mut theta = vec![1.0, 2.0];
/// sgd.step(&mut [&mut theta[..]], &[&[2.0, -2.0][..]]);
/// let state = sgd.state();
/// assert_eq!(state.kind(), "sgd");
/// assert_eq!(state.hyper_parameters()["momentum"], 0.9);
/// assert_eq!(state.tensors()["velocity"], vec![vec![-1.0, 1.0]]);
///
/// // Another SGD with the same settings continues exactly where this one stopped.
/// let mut resumed = Sgd::<f64>::new(0.5)?.with_momentum(0.9)?;
/// resumed.restore(state)?;
/// assert_eq!(resumed, sgd);
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState<T> {
    kind: String,
    hyper_parameters: BTreeMap<String, f64>,
    counters: BTreeMap<String, u64>,
    tensors: BTreeMap<String, Vec<Vec<T>>>,
}

impl<T: Scalar> OptimizerState<T> {
    /// The state of an optimiser of kind `kind` (e.g. `"sgd"`), with nothing in it yet.
    pub fn new(kind: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            hyper_parameters: BTreeMap::new(),
            counters: BTreeMap::new(),
            tensors: BTreeMap::new(),
        }
    }

    /// The same state with a hyper-parameter recorded (e.g. `"learning_rate"`).
    pub fn with_hyper_parameter(mut self, name: impl Into<String>, value: f64) -> Self {
        self.hyper_parameters.insert(name.into(), value);
        self
    }

    /// The same state with a counter (e.g. `"steps"`).
    pub fn with_counter(mut self, name: impl Into<String>, value: u64) -> Self {
        self.counters.insert(name.into(), value);
        self
    }

    /// The same state with a per-parameter tensor state (e.g. `"velocity"`): one flat vector
    /// per parameter tensor, in the model's parameter order.
    pub fn with_tensors(mut self, name: impl Into<String>, tensors: Vec<Vec<T>>) -> Self {
        self.tensors.insert(name.into(), tensors);
        self
    }

    /// The optimiser's kind, e.g. `"sgd"` or `"adam"`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// Hyper-parameters by name.
    pub fn hyper_parameters(&self) -> &BTreeMap<String, f64> {
        &self.hyper_parameters
    }

    /// Counters by name.
    pub fn counters(&self) -> &BTreeMap<String, u64> {
        &self.counters
    }

    /// Per-parameter tensor states by name.
    pub fn tensors(&self) -> &BTreeMap<String, Vec<Vec<T>>> {
        &self.tensors
    }

    /// Whether every value of every tensor is finite.
    pub fn is_finite(&self) -> bool {
        self.tensors.values().flatten().all(|t| all_finite(t))
    }

    /// Checks that this state can belong to `optimizer` of kind `kind`, with only the
    /// `counters` and `tensors` it knows, tensor states of one layout, and finite values.
    pub(crate) fn check(
        &self,
        optimizer: &'static str,
        kind: &str,
        counters: &[&str],
        tensors: &[&str],
    ) -> Result<()> {
        let fail = |problem| Error::IncompatibleOptimizerState { optimizer, problem };
        if self.kind != kind {
            return Err(fail("it belongs to another kind of optimiser"));
        }
        if self
            .counters
            .keys()
            .any(|c| !counters.contains(&c.as_str()))
        {
            return Err(fail("it holds a counter this optimiser does not keep"));
        }
        if self.tensors.keys().any(|t| !tensors.contains(&t.as_str())) {
            return Err(fail("it holds a tensor state this optimiser does not keep"));
        }
        let layout = |t: &Vec<Vec<T>>| t.iter().map(Vec::len).collect::<Vec<_>>();
        let mut layouts = self.tensors.values().map(layout);
        if let Some(first) = layouts.next()
            && layouts.any(|l| l != first)
        {
            return Err(fail("its tensor states do not have the same sizes"));
        }
        if !self.is_finite() {
            return Err(fail("it holds NaN or infinite values"));
        }
        Ok(())
    }

    /// Takes the tensor state `name` out, or nothing when there is none.
    pub(crate) fn take_tensors(&mut self, name: &str) -> Vec<Vec<T>> {
        self.tensors.remove(name).unwrap_or_default()
    }
}
