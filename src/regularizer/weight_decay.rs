//! L2 penalty on the weight matrices.

use super::{Regularizer, RegularizerGradient, RegularizerInput, check_weight};
use crate::sums::{sum_like_gradient, sum_with_gradient};
use crate::{Parameter, Result, Scalar, TensorKind};

/// Weight decay: `(λ/2)·Σ w²` over every weight matrix of the model — each layer of the
/// encoder and of the decoder, tied weights once — biases excluded, once per batch.
///
/// Gradient: `∂P/∂w = λ·w`. It goes by the tensors' [`TensorKind`](crate::TensorKind): the
/// crate's layers mark their weights, and a user's encoder or decoder is covered where its
/// [`parameter_kinds`](crate::Encoder::parameter_kinds) says
/// [`Weight`](crate::TensorKind::Weight).
///
/// This is what the [`Contractive`](super::Contractive) penalty becomes for a linear encoder.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(remote = "Self", deny_unknown_fields)
)]
pub struct WeightDecay {
    weight: f64,
}

impl WeightDecay {
    /// Weight decay with weight `λ`.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) unless `λ` is finite
    /// and ≥ 0.
    pub fn new(weight: f64) -> Result<Self> {
        check_weight("weight decay", weight)?;
        Ok(Self { weight })
    }

    /// `λ`.
    pub fn weight(&self) -> f64 {
        self.weight
    }
}

impl<T: Scalar> Regularizer<T> for WeightDecay {
    fn builtin(&self) -> Option<Vec<super::BuiltinRegularizer>> {
        Some(vec![(*self).into()])
    }

    fn name(&self) -> &'static str {
        "weight-decay"
    }

    /// None on the code layer: weight decay is all in
    /// [`parameter_penalty`](Regularizer::parameter_penalty).
    fn penalty(&self, _: &RegularizerInput<'_, T>, _: &mut RegularizerGradient<'_, T>) -> T {
        T::zero()
    }

    fn parameter_penalty(
        &self,
        parameters: &[Parameter<'_, T>],
        mut gradients: Option<&mut [&mut [T]]>,
    ) -> T {
        let lambda = T::cast(self.weight);
        let mut squares = 0.0;
        for (t, p) in parameters.iter().enumerate() {
            if p.kind != TensorKind::Weight {
                continue;
            }
            squares += match gradients.as_deref_mut().and_then(|g| g.get_mut(t)) {
                Some(g) => sum_with_gradient(p.values, g, |w, g| {
                    *g += lambda * w;
                    w * w
                }),
                None => sum_like_gradient(p.values, |w| w * w),
            };
        }
        T::cast(self.weight * squares / 2.0)
    }
}
