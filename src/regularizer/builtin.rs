//! The built-in regularizers as one type, for models configured at run time and loaded from
//! files.

use super::{
    Architecture, Contractive, KlSparsity, L1Sparsity, L2Sparsity, Regularizer,
    RegularizerGradient, RegularizerInput, WeightDecay,
};
use crate::{Parameter, Result, Scalar};

/// Any one of the crate's regularizers, chosen at run time.
///
/// A `Vec<BuiltinRegularizer>` is a regularizer too (the penalties add), which is what a saved
/// model is loaded with and what the `train` example builds from its flags.
///
/// ```
/// use autoencoders::{BuiltinRegularizer, Contractive, L1Sparsity};
/// let penalties: Vec<BuiltinRegularizer> =
///     vec![Contractive::new(0.1)?.into(), L1Sparsity::new(1e-3)?.into()];
/// assert_eq!(penalties.len(), 2);
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
pub enum BuiltinRegularizer {
    /// [`L1Sparsity`].
    L1Sparsity(L1Sparsity),
    /// [`L2Sparsity`].
    L2Sparsity(L2Sparsity),
    /// [`KlSparsity`].
    KlSparsity(KlSparsity),
    /// [`Contractive`].
    Contractive(Contractive),
    /// [`WeightDecay`].
    WeightDecay(WeightDecay),
}

macro_rules! dispatch {
    ($self:ident, $r:ident => $body:expr) => {
        match $self {
            BuiltinRegularizer::L1Sparsity($r) => $body,
            BuiltinRegularizer::L2Sparsity($r) => $body,
            BuiltinRegularizer::KlSparsity($r) => $body,
            BuiltinRegularizer::Contractive($r) => $body,
            BuiltinRegularizer::WeightDecay($r) => $body,
        }
    };
}

impl<T: Scalar> Regularizer<T> for BuiltinRegularizer {
    fn name(&self) -> &'static str {
        dispatch!(self, r => Regularizer::<T>::name(r))
    }

    fn check(&self, architecture: &Architecture) -> Result<()> {
        dispatch!(self, r => Regularizer::<T>::check(r, architecture))
    }

    fn penalty(&self, input: &RegularizerInput<'_, T>, grad: &mut RegularizerGradient<'_, T>) -> T {
        dispatch!(self, r => r.penalty(input, grad))
    }

    fn parameter_penalty(
        &self,
        parameters: &[Parameter<'_, T>],
        gradients: Option<&mut [&mut [T]]>,
    ) -> T {
        dispatch!(self, r => r.parameter_penalty(parameters, gradients))
    }

    fn builtin(&self) -> Option<Vec<BuiltinRegularizer>> {
        Some(vec![*self])
    }
}

macro_rules! impl_from {
    ($($variant:ident),+) => {$(
        impl From<$variant> for BuiltinRegularizer {
            fn from(r: $variant) -> Self {
                BuiltinRegularizer::$variant(r)
            }
        }
    )+};
}

impl_from!(L1Sparsity, L2Sparsity, KlSparsity, Contractive, WeightDecay);
