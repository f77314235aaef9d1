//! What a model's trainable tensors are: their kinds, and the view of them a penalty gets.

/// What a trainable tensor is, for penalties (and optimisers) that treat kinds differently:
/// weight decay, for one, covers every [`Weight`](TensorKind::Weight) and no bias.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TensorKind {
    /// A weight matrix of a layer.
    Weight,
    /// A bias vector.
    Bias,
    /// Anything else (the default for a user's encoder or decoder that does not say).
    Other,
}

/// One trainable tensor of a model, as a penalty on the parameters sees it: its PyTorch-style
/// name within the model (`encoder.0.weight`, `decoder.bias`, …), its kind, and its values as
/// a flat column-major slice.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Parameter<'a, T> {
    /// The tensor's name within the model.
    pub name: &'a str,
    /// Its kind.
    pub kind: TensorKind,
    /// Its values.
    pub values: &'a [T],
}

impl<'a, T> Parameter<'a, T> {
    /// A tensor as a penalty sees it, e.g. to test a penalty outside a model.
    pub fn new(name: &'a str, kind: TensorKind, values: &'a [T]) -> Self {
        Self { name, kind, values }
    }
}
