//! The contractive penalty: the Frobenius norm of the encoder's Jacobian.

use super::{Architecture, Regularizer, RegularizerGradient, RegularizerInput, check_weight};
use crate::{Error, Result, Scalar};

/// Contractive penalty: `(λ/2)·‖∂h/∂u‖²_F = (λ/2)·Σ_j s'(z_j)²·Σ_i w_ji²` per sample, averaged
/// over the batch.
///
/// `u` is the code layer's input (the corrupted one under corruption) and `h = s(u·Wᵀ + b)`.
/// The penalty is on the code layer alone: for a one-layer encoder `u = x` and it is
/// `‖∂h/∂x‖²_F`; in a stack `u` is the last hidden layer's output, and the Jacobians of the
/// layers below are not penalised (unlike [`WeightDecay`](super::WeightDecay), which covers
/// every layer).
/// The penalty works for every elementwise activation; for a linear one it is
/// [`WeightDecay`](super::WeightDecay) on the encoder's weights, for the sigmoid
/// `s'(z) = h(1 − h)` gives the classic `(λ/2)·Σ_j h_j²(1 − h_j)²·Σ_i w_ji²`.
///
/// Gradient, exactly, with `S_j = Σ_i w_ji²` and a batch of `n`:
/// - through `z` (the part the lecture notes skip): `∂P/∂z_sj = (λ/n)·s'(z_sj)·s''(z_sj)·S_j`,
///   which backpropagates to `W` and `b` like any other gradient on `z`;
/// - directly on the weights: `∂P/∂w_ji = (λ/n)·Σ_s s'(z_sj)²·w_ji`.
///
/// ```
/// use autoencoders::Contractive;
/// let contractive = Contractive::new(0.1)?;
/// assert_eq!(contractive.weight(), 0.1);
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(remote = "Self", deny_unknown_fields)
)]
pub struct Contractive {
    weight: f64,
}

impl Contractive {
    /// The contractive penalty with weight `λ`.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] unless `λ` is finite and ≥ 0.
    pub fn new(weight: f64) -> Result<Self> {
        check_weight("contractive weight", weight)?;
        Ok(Self { weight })
    }

    /// `λ`.
    pub fn weight(&self) -> f64 {
        self.weight
    }
}

impl<T: Scalar> Regularizer<T> for Contractive {
    fn builtin(&self) -> Option<Vec<super::BuiltinRegularizer>> {
        Some(vec![(*self).into()])
    }

    fn name(&self) -> &'static str {
        "contractive"
    }

    fn check(&self, architecture: &Architecture) -> Result<()> {
        if architecture.has_code_weights {
            Ok(())
        } else {
            Err(Error::MissingCodeWeights {
                component: "the contractive penalty",
            })
        }
    }

    fn penalty(&self, input: &RegularizerInput<'_, T>, grad: &mut RegularizerGradient<'_, T>) -> T {
        let Some(weights) = input.encoder_weights else {
            return T::zero();
        };
        let n = T::cast(input.code.nrows() as f64);
        let lambda = T::cast(self.weight);
        let scale = lambda / n;
        let activation = input.activation;
        // Slices, not nalgebra's column iterators: these loops then vectorise (the penalty cost
        // a sixth of a contractive training step before).
        let code_dim = weights.nrows();
        crate::simd::wide(
            #[inline(always)]
            || {
                // S_j = Σ_i w_ji², accumulated column by column of the column-major W (contiguous).
                let mut row_norms = vec![T::zero(); code_dim];
                for column in weights.as_slice().chunks_exact(code_dim) {
                    for (s, &w) in row_norms.iter_mut().zip(column) {
                        *s += w * w;
                    }
                }
                let mut total = T::zero();
                let mut factors = vec![T::zero(); code_dim];
                let rows = input.code.nrows();
                let columns = input
                    .pre_activation
                    .as_slice()
                    .chunks_exact(rows)
                    .zip(input.code.as_slice().chunks_exact(rows))
                    .zip(grad.pre_activation.as_mut_slice().chunks_exact_mut(rows));
                for (j, ((z_column, h_column), grad_column)) in columns.enumerate() {
                    let row_norm = row_norms[j];
                    let squares = activation.accumulate_contractive(
                        z_column,
                        h_column,
                        scale * row_norm,
                        grad_column,
                    );
                    factors[j] = scale * squares;
                    total += squares * row_norm;
                }
                if let Some(grad_weights) = grad.encoder_weights.as_deref_mut() {
                    // ∂P/∂w_ji = (λ/n)·(Σ_s s'(z_sj)²)·w_ji, column by column.
                    for (g_column, w_column) in grad_weights
                        .as_mut_slice()
                        .chunks_exact_mut(code_dim)
                        .zip(weights.as_slice().chunks_exact(code_dim))
                    {
                        for ((g, &w), &f) in g_column.iter_mut().zip(w_column).zip(&factors) {
                            *g += f * w;
                        }
                    }
                }
                lambda * total / (n + n)
            },
        )
    }
}
