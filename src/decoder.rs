//! Decoders `x̂ = g(h)` and the dense decoder layer, tied or not.

use crate::encoder::check_parts;
use crate::linalg::{Op, affine_forward, column_sums, gemm, resize};
use crate::validate::{check_data, check_nonzero, check_output_shapes};
use crate::{Activation, Error, Init, Result, Scalar, TensorKind};
use nalgebra::{DMatrix, DVector};
use rand::Rng;
use std::fmt;

/// Maps codes back to inputs: `x̂ = g(h)`.
///
/// A decoder ends in an elementwise activation of a pre-activation (which the cross-entropy loss
/// uses directly, for stability). It may own its weights, or use the encoder's code-layer
/// weights transposed (*tied* weights), which the autoencoder then passes in as `tied`.
///
/// # Implementing `Decoder`
/// A gradient container is a value of the decoder's own type (`grad: &mut Self`), as for
/// [`Encoder`](crate::Encoder). A decoder that owns its weights ignores `tied` and
/// `grad_tied`, says `false` in [`is_tied`](Self::is_tied), and shows its output layer's
/// weights in [`weights`](Self::weights) (for penalties on them). This one is
/// `x̂ = sigmoid(h·Vᵀ + c)` written by hand; the autoencoder checks the shapes it writes.
/// ```
/// use autoencoders::{Activation, Autoencoder, Decoder, DenseEncoder, Encoder, Init};
/// use nalgebra::{DMatrix, DVector};
/// use rand::{SeedableRng, rngs::ChaCha8Rng};
///
/// #[derive(Clone, Debug)]
/// struct Affine { v: DMatrix<f64>, c: DVector<f64> }
///
/// impl Decoder<f64> for Affine {
///     type Trace = ();
///     fn code_dim(&self) -> usize { self.v.ncols() }
///     fn output_dim(&self) -> usize { self.v.nrows() }
///     fn activation(&self) -> Activation { Activation::Sigmoid }
///     fn is_tied(&self) -> bool { false }
///     fn weights(&self) -> Option<&DMatrix<f64>> { Some(&self.v) }
///     fn weights_mut(&mut self) -> Option<&mut DMatrix<f64>> { Some(&mut self.v) }
///     fn forward(&self, h: &DMatrix<f64>, _: Option<&DMatrix<f64>>, _: &mut (),
///                a: &mut DMatrix<f64>, out: &mut DMatrix<f64>) {
///         *a = h * self.v.transpose();
///         for mut row in a.row_iter_mut() { row += self.c.transpose(); }
///         Activation::Sigmoid.apply_matrix(a, out);
///     }
///     fn backward(&self, h: &DMatrix<f64>, _: Option<&DMatrix<f64>>, _: &mut (),
///                 grad_a: &DMatrix<f64>, grad: &mut Self, _: Option<&mut DMatrix<f64>>,
///                 grad_h: &mut DMatrix<f64>) {
///         grad.v = grad_a.transpose() * h;
///         grad.c = grad_a.row_sum().transpose();
///         *grad_h = grad_a * &self.v;
///     }
///     fn parameters(&self) -> Vec<&[f64]> { vec![self.v.as_slice(), self.c.as_slice()] }
///     fn parameters_mut(&mut self) -> Vec<&mut [f64]> {
///         vec![self.v.as_mut_slice(), self.c.as_mut_slice()]
///     }
///     fn parameter_names(&self) -> Vec<String> { vec!["weight".into(), "bias".into()] }
/// }
///
/// let mut rng = ChaCha8Rng::seed_from_u64(0);
/// let encoder = DenseEncoder::new(5, 2, Activation::Tanh, Init::GlorotUniform, &mut rng)?;
/// let decoder = Affine { v: DMatrix::from_element(5, 2, 0.1), c: DVector::zeros(5) };
/// let model = Autoencoder::new(encoder, decoder)?;
/// let x = DMatrix::from_element(3, 5, 0.25);
/// assert_eq!(model.reconstruct(&x)?.shape(), (3, 5));
/// let (objective, gradients) = model.gradient(&x, &x)?;
/// assert!(objective.total() > 0.0 && gradients.len() == 4);
/// # Ok::<(), autoencoders::Error>(())
/// ```
pub trait Decoder<T: Scalar>: Clone + fmt::Debug {
    /// What a forward pass keeps for the backward pass besides its output (e.g. the outputs of
    /// hidden layers); `()` for a single layer.
    type Trace: Default + Clone + fmt::Debug;

    /// Units in the code.
    fn code_dim(&self) -> usize;

    /// Features of the reconstruction.
    fn output_dim(&self) -> usize;

    /// The output activation.
    fn activation(&self) -> Activation;

    /// Whether the decoder uses the encoder's code-layer weights transposed.
    fn is_tied(&self) -> bool;

    /// The decoder's own weight matrix, `output_dim × code_dim`, or `None` when tied.
    fn weights(&self) -> Option<&DMatrix<T>>;

    /// Mutable access to the decoder's own weights, `None` when tied. Regularizers add their
    /// gradient through this on the gradient container.
    fn weights_mut(&mut self) -> Option<&mut DMatrix<T>>;

    /// Forward pass of a batch of codes (`n × code_dim`), writing the pre-activation and the
    /// reconstruction (both `n × output_dim`). `tied` is the encoder's code-layer weights
    /// (`code_dim × output_dim`) when [`is_tied`](Self::is_tied).
    fn forward(
        &self,
        code: &DMatrix<T>,
        tied: Option<&DMatrix<T>>,
        trace: &mut Self::Trace,
        pre_activation: &mut DMatrix<T>,
        output: &mut DMatrix<T>,
    );

    /// Backward pass: given `∂J/∂(pre-activation)`, *sets* the parameter gradients in `grad` and
    /// `∂J/∂h` in `grad_code`, and *adds* the gradient on tied weights to `grad_tied`.
    #[allow(clippy::too_many_arguments)]
    fn backward(
        &self,
        code: &DMatrix<T>,
        tied: Option<&DMatrix<T>>,
        trace: &mut Self::Trace,
        grad_pre_activation: &DMatrix<T>,
        grad: &mut Self,
        grad_tied: Option<&mut DMatrix<T>>,
        grad_code: &mut DMatrix<T>,
    );

    /// The parameters as flat slices, in a fixed order.
    fn parameters(&self) -> Vec<&[T]>;

    /// The parameters as mutable flat slices, in the order of [`parameters`](Self::parameters).
    fn parameters_mut(&mut self) -> Vec<&mut [T]>;

    /// One name per parameter tensor, in the order of [`parameters`](Self::parameters).
    fn parameter_names(&self) -> Vec<String>;

    /// One kind per parameter tensor, in the order of [`parameters`](Self::parameters); see
    /// [`Encoder::parameter_kinds`](crate::Encoder::parameter_kinds). The provided method says
    /// [`TensorKind::Other`] for every tensor.
    fn parameter_kinds(&self) -> Vec<TensorKind> {
        vec![TensorKind::Other; self.parameters().len()]
    }

    /// One shape per parameter tensor, in the order of [`parameters`](Self::parameters); see
    /// [`Encoder::parameter_shapes`](crate::Encoder::parameter_shapes) (two-dimensional slices
    /// column-major, files row-major). The provided method says one dimension per tensor.
    fn parameter_shapes(&self) -> Vec<Vec<usize>> {
        self.parameters().iter().map(|p| vec![p.len()]).collect()
    }

    /// The decoder as the crate's [`DenseDecoder`]; see
    /// [`Encoder::as_dense`](crate::Encoder::as_dense). `None`, the provided answer, for any
    /// other.
    fn as_dense(&self) -> Option<&DenseDecoder<T>> {
        None
    }

    /// A copy that owns its weights, for unrolling a stack into a deep autoencoder
    /// ([`PretrainedStack::deep_autoencoder`](crate::PretrainedStack::deep_autoencoder)):
    /// a tied decoder takes `tied`, the encoder's code-layer weights (`code_dim × output_dim`),
    /// transposed. The provided method clones an untied decoder.
    ///
    /// # Errors
    /// From the provided method, [`Error::MissingCodeWeights`] for a tied decoder (it does not
    /// know how to own its weights).
    fn untied(&self, tied: Option<&DMatrix<T>>) -> Result<Self> {
        let _ = tied;
        if self.is_tied() {
            return Err(Error::MissingCodeWeights {
                component: "unrolling a tied decoder that does not implement Decoder::untied",
            });
        }
        Ok(self.clone())
    }
}

/// A dense layer as a decoder: `x̂ = s(h·Vᵀ + c)`, with `V = Wᵀ` when tied.
///
/// `V` is `output_dim × code_dim` (PyTorch's `nn.Linear` layout) and `c` has `output_dim`
/// entries. A tied decoder owns only `c`.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseDecoder<T: Scalar> {
    weights: Option<DMatrix<T>>,
    bias: DVector<T>,
    activation: Activation,
    code_dim: usize,
}

impl<T: Scalar> DenseDecoder<T> {
    /// An untied decoder with weights drawn by `init` from `rng` and zero biases.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for a zero size; [`Error::InvalidHyperParameter`] for a bad `init`.
    pub fn new<R: Rng + ?Sized>(
        code_dim: usize,
        output_dim: usize,
        activation: Activation,
        init: Init,
        rng: &mut R,
    ) -> Result<Self> {
        check_nonzero(code_dim, "code_dim")?;
        check_nonzero(output_dim, "output_dim")?;
        Ok(Self {
            weights: Some(init.weights(output_dim, code_dim, rng)?),
            bias: DVector::zeros(output_dim),
            activation,
            code_dim,
        })
    }

    /// A tied decoder: it owns a zero bias and borrows the encoder's weights.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for a zero size; [`Error::TooLarge`] for weights larger than
    /// the [`limits`](crate::limits) allow.
    pub fn tied(code_dim: usize, output_dim: usize, activation: Activation) -> Result<Self> {
        check_nonzero(code_dim, "code_dim")?;
        check_nonzero(output_dim, "output_dim")?;
        crate::limits::check_tensor("the tied weights", output_dim, code_dim)?;
        Ok(Self {
            weights: None,
            bias: DVector::zeros(output_dim),
            activation,
            code_dim,
        })
    }

    /// A decoder with given weights (`output_dim × code_dim`, or `None` for tied with
    /// `code_dim` given) and bias (`output_dim`).
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] when the parts do not fit, [`Error::NonFiniteData`] for NaN.
    pub fn from_parts(
        weights: Option<DMatrix<T>>,
        bias: DVector<T>,
        activation: Activation,
        code_dim: usize,
    ) -> Result<Self> {
        check_nonzero(code_dim, "code_dim")?;
        check_nonzero(bias.len(), "output_dim")?;
        match &weights {
            Some(w) => {
                if w.ncols() != code_dim {
                    return Err(Error::DimensionMismatch {
                        what: "columns of the decoder weights (code_dim)",
                        expected: code_dim,
                        found: w.ncols(),
                    });
                }
                check_parts(w, &bias, "decoder")?;
            }
            None => check_data(
                &DMatrix::from_column_slice(bias.len(), 1, bias.as_slice()),
                1,
                "decoder bias",
            )?,
        }
        Ok(Self {
            weights,
            bias,
            activation,
            code_dim,
        })
    }

    /// The bias `c`, `output_dim` entries.
    pub fn bias(&self) -> &DVector<T> {
        &self.bias
    }
}

impl<T: Scalar> Decoder<T> for DenseDecoder<T> {
    type Trace = ();

    fn code_dim(&self) -> usize {
        self.code_dim
    }

    fn output_dim(&self) -> usize {
        self.bias.len()
    }

    fn activation(&self) -> Activation {
        self.activation
    }

    fn is_tied(&self) -> bool {
        self.weights.is_none()
    }

    fn weights(&self) -> Option<&DMatrix<T>> {
        self.weights.as_ref()
    }

    fn weights_mut(&mut self) -> Option<&mut DMatrix<T>> {
        self.weights.as_mut()
    }

    fn forward(
        &self,
        code: &DMatrix<T>,
        tied: Option<&DMatrix<T>>,
        _trace: &mut (),
        pre_activation: &mut DMatrix<T>,
        output: &mut DMatrix<T>,
    ) {
        // Own weights V (output × code): h·Vᵀ. Tied, V = Wᵀ with W (code × output): h·W.
        let (weights, op) = match (&self.weights, tied) {
            (Some(v), _) => (v, Op::Transposed),
            (None, Some(w)) => (w, Op::Plain),
            (None, None) => unreachable_tied(),
        };
        affine_forward(code, weights, op, &self.bias, pre_activation);
        self.activation.apply_matrix(pre_activation, output);
    }

    fn backward(
        &self,
        code: &DMatrix<T>,
        tied: Option<&DMatrix<T>>,
        _trace: &mut (),
        grad_pre_activation: &DMatrix<T>,
        grad: &mut Self,
        grad_tied: Option<&mut DMatrix<T>>,
        grad_code: &mut DMatrix<T>,
    ) {
        let (one, zero) = (T::one(), T::zero());
        resize(grad_code, code.nrows(), code.ncols());
        match (&self.weights, &mut grad.weights, tied, grad_tied) {
            (Some(v), Some(grad_v), _, _) => {
                // ∂J/∂V = (∂J/∂a)ᵀ·h ; ∂J/∂h = ∂J/∂a·V.
                gemm(
                    one,
                    grad_pre_activation,
                    Op::Transposed,
                    code,
                    Op::Plain,
                    zero,
                    grad_v,
                );
                gemm(
                    one,
                    grad_pre_activation,
                    Op::Plain,
                    v,
                    Op::Plain,
                    zero,
                    grad_code,
                );
            }
            (None, _, Some(w), Some(grad_w)) => {
                // a = h·W: ∂J/∂W += hᵀ·∂J/∂a ; ∂J/∂h = ∂J/∂a·Wᵀ.
                gemm(
                    one,
                    code,
                    Op::Transposed,
                    grad_pre_activation,
                    Op::Plain,
                    one,
                    grad_w,
                );
                gemm(
                    one,
                    grad_pre_activation,
                    Op::Plain,
                    w,
                    Op::Transposed,
                    zero,
                    grad_code,
                );
            }
            _ => unreachable_tied(),
        }
        column_sums(grad_pre_activation, &mut grad.bias);
    }

    fn parameters(&self) -> Vec<&[T]> {
        let mut p = Vec::with_capacity(2);
        if let Some(v) = &self.weights {
            p.push(v.as_slice());
        }
        p.push(self.bias.as_slice());
        p
    }

    fn parameters_mut(&mut self) -> Vec<&mut [T]> {
        let mut p = Vec::with_capacity(2);
        if let Some(v) = &mut self.weights {
            p.push(v.as_mut_slice());
        }
        p.push(self.bias.as_mut_slice());
        p
    }

    fn parameter_names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(2);
        if self.weights.is_some() {
            names.push("weight".into());
        }
        names.push("bias".into());
        names
    }

    fn parameter_kinds(&self) -> Vec<TensorKind> {
        let mut kinds = Vec::with_capacity(2);
        if self.weights.is_some() {
            kinds.push(TensorKind::Weight);
        }
        kinds.push(TensorKind::Bias);
        kinds
    }

    fn parameter_shapes(&self) -> Vec<Vec<usize>> {
        let mut shapes = Vec::with_capacity(2);
        if let Some(w) = &self.weights {
            shapes.push(vec![w.nrows(), w.ncols()]);
        }
        shapes.push(vec![self.bias.len()]);
        shapes
    }

    fn as_dense(&self) -> Option<&DenseDecoder<T>> {
        Some(self)
    }

    /// A tied decoder takes `tied` transposed as its own weights.
    fn untied(&self, tied: Option<&DMatrix<T>>) -> Result<Self> {
        match (&self.weights, tied) {
            (Some(_), _) => Ok(self.clone()),
            (None, Some(tied)) => {
                if tied.shape() != (self.code_dim, self.output_dim()) {
                    return Err(Error::DimensionMismatch {
                        what: "the weights to untie a decoder with (code_dim × output_dim)",
                        expected: self.code_dim * self.output_dim(),
                        found: tied.len(),
                    });
                }
                Ok(Self {
                    weights: Some(tied.transpose()),
                    ..self.clone()
                })
            }
            (None, None) => Err(Error::MissingCodeWeights {
                component: "unrolling a tied decoder",
            }),
        }
    }
}

/// The autoencoder checks at construction that a tied decoder gets the encoder's weights.
#[cold]
fn unreachable_tied() -> ! {
    unreachable!("a tied decoder was called without the encoder's weights")
}

/// Checks what a decoder's forward pass on `n` codes wrote: the pre-activation and the
/// reconstruction both `n × output_dim`, else [`Error::MisshapenOutput`].
pub(crate) fn check_decoder_output<T: Scalar, D: Decoder<T>>(
    decoder: &D,
    n: usize,
    pre_activation: &DMatrix<T>,
    output: &DMatrix<T>,
) -> Result<()> {
    check_output_shapes(
        "decoder",
        std::any::type_name::<D>(),
        (n, decoder.output_dim()),
        &[
            ("pre-activation", pre_activation.shape()),
            ("reconstruction", output.shape()),
        ],
    )
}
