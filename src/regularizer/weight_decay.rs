//! L2 penalty on the weight matrices.

use super::{Regularizer, RegularizerGradient, RegularizerInput, check_weight};
use crate::sums::sum_with_gradient;
use crate::{Result, Scalar};

/// Weight decay: `(λ/2)·Σ w²` over the encoder's code-layer weights and the decoder's own
/// weights (once when tied), biases excluded, once per batch.
///
/// Gradient: `∂P/∂w = λ·w`.
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

    fn penalty(&self, input: &RegularizerInput<'_, T>, grad: &mut RegularizerGradient<'_, T>) -> T {
        let lambda = T::cast(self.weight);
        let mut squares = 0.0;
        let pairs = [
            (input.encoder_weights, grad.encoder_weights.as_deref_mut()),
            (input.decoder_weights, grad.decoder_weights.as_deref_mut()),
        ];
        for (weights, grad) in pairs {
            if let (Some(w), Some(g)) = (weights, grad) {
                squares += sum_with_gradient(w.as_slice(), g.as_mut_slice(), |w, g| {
                    *g += lambda * w;
                    w * w
                });
            }
        }
        T::cast(self.weight * squares / 2.0)
    }
}
