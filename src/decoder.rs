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
/// uses directly, for stability), and owns its parameters. (The one decoder that borrows the
/// encoder's weights instead is the crate's tied [`DenseDecoder`]; the autoencoder handles that
/// tie, so no signature here mentions it.)
///
/// # Implementing `Decoder`
/// Eight methods are required: the sizes, the output activation, the forward and backward
/// passes, and the parameters with their names. A gradient container is a value of the
/// decoder's own type (`grad: &mut Self`), as for [`Encoder`](crate::Encoder). The autoencoder
/// checks the shapes the passes write and reports a misshapen one as
/// [`Error::MisshapenOutput`]; a pass may also fail with an error of its own. Override
/// [`parameter_kinds`](Self::parameter_kinds) and [`parameter_shapes`](Self::parameter_shapes)
/// so that penalties and files know which tensors are weights and how they are laid out. This
/// one is `x̂ = sigmoid(h·Vᵀ + c)` written by hand:
/// ```
/// use autoencoders::{Activation, Autoencoder, Decoder, DenseEncoder, Encoder, Init, Result};
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
///     fn forward(&self, h: &DMatrix<f64>, _: &mut (), a: &mut DMatrix<f64>,
///                out: &mut DMatrix<f64>) -> Result<()> {
///         *a = h * self.v.transpose();
///         for mut row in a.row_iter_mut() { row += self.c.transpose(); }
///         Activation::Sigmoid.apply_matrix(a, out);
///         Ok(())
///     }
///     fn backward(&self, h: &DMatrix<f64>, _: &mut (), grad_a: &DMatrix<f64>,
///                 grad: &mut Self, grad_h: &mut DMatrix<f64>) -> Result<()> {
///         grad.v = grad_a.transpose() * h;
///         grad.c = grad_a.row_sum().transpose();
///         *grad_h = grad_a * &self.v;
///         Ok(())
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

    /// Forward pass of a batch of codes (`n × code_dim`), writing the pre-activation and the
    /// reconstruction (both `n × output_dim`).
    ///
    /// # Errors
    /// Whatever the decoder cannot compute; the crate's tied [`DenseDecoder`] gives
    /// [`Error::MissingCodeWeights`] when called on its own, outside its autoencoder.
    fn forward(
        &self,
        code: &DMatrix<T>,
        trace: &mut Self::Trace,
        pre_activation: &mut DMatrix<T>,
        output: &mut DMatrix<T>,
    ) -> Result<()>;

    /// Backward pass after [`forward`](Self::forward) on the same codes: given
    /// `∂J/∂(pre-activation)`, *sets* the parameter gradients in `grad` and `∂J/∂h` in
    /// `grad_code` (`n × code_dim`).
    ///
    /// # Errors
    /// As for [`forward`](Self::forward).
    fn backward(
        &self,
        code: &DMatrix<T>,
        trace: &mut Self::Trace,
        grad_pre_activation: &DMatrix<T>,
        grad: &mut Self,
        grad_code: &mut DMatrix<T>,
    ) -> Result<()>;

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

    /// The output layer's own weight matrix, `output_dim × code_dim`, for penalties that read
    /// it ([`RegularizerInput::decoder_weights`](crate::RegularizerInput)). The provided method
    /// says `None`.
    fn weights(&self) -> Option<&DMatrix<T>> {
        None
    }

    /// Mutable access to [`weights`](Self::weights), through which penalties add their
    /// gradient on the gradient container. Return `Some` exactly when `weights` does.
    fn weights_mut(&mut self) -> Option<&mut DMatrix<T>> {
        None
    }

    /// The decoder as the crate's [`DenseDecoder`]; see
    /// [`Encoder::as_dense`](crate::Encoder::as_dense). `None`, the provided answer, for any
    /// other.
    fn as_dense(&self) -> Option<&DenseDecoder<T>> {
        None
    }

    /// Mutable access to [`as_dense`](Self::as_dense): `Some` exactly when `as_dense` is.
    fn as_dense_mut(&mut self) -> Option<&mut DenseDecoder<T>> {
        None
    }

    /// A copy that owns its weights, for unrolling a stack into a deep autoencoder
    /// ([`PretrainedStack::deep_autoencoder`](crate::PretrainedStack::deep_autoencoder)):
    /// a tied [`DenseDecoder`] takes `tied`, the encoder's code-layer weights
    /// (`code_dim × output_dim`), transposed. The provided method clones the decoder, which owns
    /// its parameters.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] or [`Error::MissingCodeWeights`] from the tied dense decoder
    /// when `tied` does not fit.
    fn untied(&self, tied: Option<&DMatrix<T>>) -> Result<Self> {
        let _ = tied;
        Ok(self.clone())
    }
}

/// The decoder as a tied [`DenseDecoder`], the one decoder that borrows its encoder's weights.
pub(crate) fn as_tied<T: Scalar, D: Decoder<T>>(decoder: &D) -> Option<&DenseDecoder<T>> {
    decoder.as_dense().filter(|dense| dense.is_tied())
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

    /// Whether the decoder uses the encoder's code-layer weights transposed (and owns only its
    /// bias).
    pub fn is_tied(&self) -> bool {
        self.weights.is_none()
    }

    /// The tied forward pass, `a = h·W + c`, with the encoder's weights `W` (`code_dim × output_dim`).
    pub(crate) fn forward_tied(
        &self,
        code: &DMatrix<T>,
        w: &DMatrix<T>,
        pre_activation: &mut DMatrix<T>,
        output: &mut DMatrix<T>,
    ) {
        affine_forward(code, w, Op::Plain, &self.bias, pre_activation);
        self.activation.apply_matrix(pre_activation, output);
    }

    /// The tied backward pass: sets the bias gradient in `grad` and `∂J/∂h` in `grad_code`, and
    /// *adds* `∂J/∂W = hᵀ·∂J/∂a` to `grad_w`.
    pub(crate) fn backward_tied(
        &self,
        code: &DMatrix<T>,
        w: &DMatrix<T>,
        grad_pre_activation: &DMatrix<T>,
        grad: &mut Self,
        grad_w: &mut DMatrix<T>,
        grad_code: &mut DMatrix<T>,
    ) {
        let one = T::one();
        resize(grad_code, code.nrows(), code.ncols());
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
            T::zero(),
            grad_code,
        );
        column_sums(grad_pre_activation, &mut grad.bias);
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

    fn weights(&self) -> Option<&DMatrix<T>> {
        self.weights.as_ref()
    }

    fn weights_mut(&mut self) -> Option<&mut DMatrix<T>> {
        self.weights.as_mut()
    }

    fn forward(
        &self,
        code: &DMatrix<T>,
        _trace: &mut (),
        pre_activation: &mut DMatrix<T>,
        output: &mut DMatrix<T>,
    ) -> Result<()> {
        // Own weights V (output × code): h·Vᵀ.
        let v = self.weights.as_ref().ok_or(Error::MissingCodeWeights {
            component: TIED_ALONE,
        })?;
        affine_forward(code, v, Op::Transposed, &self.bias, pre_activation);
        self.activation.apply_matrix(pre_activation, output);
        Ok(())
    }

    fn backward(
        &self,
        code: &DMatrix<T>,
        _trace: &mut (),
        grad_pre_activation: &DMatrix<T>,
        grad: &mut Self,
        grad_code: &mut DMatrix<T>,
    ) -> Result<()> {
        let (one, zero) = (T::one(), T::zero());
        let (Some(v), Some(grad_v)) = (&self.weights, &mut grad.weights) else {
            return Err(Error::MissingCodeWeights {
                component: TIED_ALONE,
            });
        };
        resize(grad_code, code.nrows(), code.ncols());
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
        column_sums(grad_pre_activation, &mut grad.bias);
        Ok(())
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

    fn as_dense_mut(&mut self) -> Option<&mut DenseDecoder<T>> {
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

/// What a tied decoder says when asked to compute on its own.
const TIED_ALONE: &str = "a tied decoder used outside its autoencoder \
     (Decoder::untied gives one that owns its weights)";

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
