//! Encoders `h = f(x)` and the dense encoder layer.

use crate::linalg::{Op, affine_forward, column_sums, gemm, resize};
use crate::validate::{check_data, check_nonzero, check_output_shapes};
use crate::{Activation, Error, Init, Result, Scalar, TensorKind};
use nalgebra::{DMatrix, DVector};
use rand::{Rng, RngExt};
use std::fmt;

/// The layer that produces the code: what regularizers may look at.
#[derive(Clone, Copy, Debug)]
pub struct CodeLayer<'a, T: Scalar> {
    /// Its weights, `code_dim × m` where `m` is the size of the layer's input, or `None` for an
    /// encoder whose code layer is not an affine map or has no weights to train (as
    /// [`IdentityEncoder`]).
    pub weights: Option<&'a DMatrix<T>>,
    /// Its elementwise activation.
    pub activation: Activation,
}

/// The code layer's pre-activation `z` and code `h = s(z)` for a batch.
///
/// Filled by [`Encoder::forward`]; buffers are reused from batch to batch.
#[derive(Clone, Debug, Default)]
pub struct CodePass<T: Scalar> {
    /// `z`, `n × code_dim`.
    pub pre_activation: DMatrix<T>,
    /// `h`, `n × code_dim`.
    pub code: DMatrix<T>,
}

/// Maps samples to codes: `h = f(x)`.
///
/// Samples are rows: a batch `x` is `n × input_dim` and its codes are `n × code_dim`. An encoder's
/// last layer is an elementwise activation of a pre-activation `z` (the *code layer*); the
/// regularizers see that layer, its input, `z` and `h`.
///
/// The trait is what training needs: a forward pass that keeps what the backward pass uses, the
/// backward pass itself, and the parameters as flat slices for the optimiser. [`DenseEncoder`]
/// is one layer; a stack of trained layers implements it too, so a stack can be fine-tuned or
/// stacked again.
///
/// # Implementing `Encoder`
/// A gradient container is a value of the encoder's own type (`grad: &mut Self`), so an encoder
/// must be `Clone`. This one scales its input by a learned factor per feature, then applies a
/// sigmoid; its code has the input's size.
/// ```
/// use autoencoders::{Activation, CodeLayer, CodePass, Encoder};
/// use nalgebra::{DMatrix, DVector};
///
/// #[derive(Clone, Debug)]
/// struct Gain(DVector<f64>);
///
/// impl Encoder for Gain {
///     type Scalar = f64;
///     type Trace = ();
///     fn input_dim(&self) -> usize { self.0.len() }
///     fn code_dim(&self) -> usize { self.0.len() }
///     fn code_layer(&self) -> CodeLayer<'_, f64> {
///         CodeLayer { weights: None, activation: Activation::Sigmoid }
///     }
///     fn code_input<'a>(&self, x: &'a DMatrix<f64>, _: &'a ()) -> &'a DMatrix<f64> { x }
///     fn forward(&self, x: &DMatrix<f64>, _: &mut (), pass: &mut CodePass<f64>) {
///         pass.pre_activation = DMatrix::from_fn(x.nrows(), x.ncols(), |i, j| x[(i, j)] * self.0[j]);
///         Activation::Sigmoid.apply_matrix(&pass.pre_activation, &mut pass.code);
///     }
///     fn backward(&self, x: &DMatrix<f64>, _: &mut (), _: &CodePass<f64>, grad_z: &DMatrix<f64>,
///                 _: Option<&DMatrix<f64>>, grad: &mut Self) {
///         for j in 0..self.0.len() {
///             grad.0[j] = (0..x.nrows()).map(|i| grad_z[(i, j)] * x[(i, j)]).sum();
///         }
///     }
///     fn parameters(&self) -> Vec<&[f64]> { vec![self.0.as_slice()] }
///     fn parameters_mut(&mut self) -> Vec<&mut [f64]> { vec![self.0.as_mut_slice()] }
///     fn parameter_names(&self) -> Vec<String> { vec!["gain".into()] }
/// }
///
/// let encoder = Gain(DVector::from_element(3, 2.0));
/// let codes = encoder.encode(&DMatrix::zeros(4, 3))?;
/// assert_eq!(codes.shape(), (4, 3));
/// assert!(codes.iter().all(|&h| h == 0.5));
/// # Ok::<(), autoencoders::Error>(())
/// ```
pub trait Encoder: Clone + fmt::Debug {
    /// The floating-point type of the parameters and data.
    type Scalar: Scalar;

    /// What a forward pass keeps besides the code layer's [`CodePass`] (e.g. the outputs of
    /// hidden layers); `()` for a single layer.
    type Trace: Default + Clone + fmt::Debug;

    /// Features per input sample.
    fn input_dim(&self) -> usize;

    /// Units in the code.
    fn code_dim(&self) -> usize;

    /// The layer that produces the code.
    fn code_layer(&self) -> CodeLayer<'_, Self::Scalar>;

    /// The input the code layer received in the pass recorded by `trace`: `x` itself for a
    /// single layer, the last hidden layer's output for a stack.
    fn code_input<'a>(
        &self,
        x: &'a DMatrix<Self::Scalar>,
        trace: &'a Self::Trace,
    ) -> &'a DMatrix<Self::Scalar>;

    /// Forward pass of a batch `x` (`n × input_dim`), writing `z` and `h` into `pass` and
    /// whatever the backward pass needs into `trace`. Shapes were checked by the caller.
    fn forward(
        &self,
        x: &DMatrix<Self::Scalar>,
        trace: &mut Self::Trace,
        pass: &mut CodePass<Self::Scalar>,
    );

    /// [`forward`](Self::forward) of a training batch with dropout inside the encoder: each
    /// unit of every *hidden* layer's output — what a layer above reads, not the code — is
    /// dropped with probability `probability` and kept scaled by `1/(1 − probability)`, the
    /// masks drawn from `rng`; `trace` records them, so that
    /// [`backward`](Self::backward) and [`backward_input`](Self::backward_input) differentiate
    /// the dropped-out pass. A later [`forward`](Self::forward) on the same trace drops
    /// nothing. The caller ([`Classifier::with_dropout`](crate::Classifier::with_dropout))
    /// drops the code itself.
    ///
    /// The provided method has no hidden layers to drop and is [`forward`](Self::forward),
    /// drawing nothing; [`StackedEncoder`](crate::StackedEncoder) drops between its layers
    /// and asks each layer to drop inside itself.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] unless `probability` is in `[0, 1)`, before any work.
    fn forward_with_dropout(
        &self,
        x: &DMatrix<Self::Scalar>,
        trace: &mut Self::Trace,
        pass: &mut CodePass<Self::Scalar>,
        probability: f64,
        rng: &mut dyn rand::Rng,
    ) -> Result<()> {
        crate::validate::check_dropout("dropout probability", probability)?;
        let _ = rng;
        self.forward(x, trace, pass);
        Ok(())
    }

    /// Backward pass: given `∂J/∂z` of the code layer (`n × code_dim`) and an extra gradient on
    /// the code layer's weights (from regularizers and tied decoders), *sets* every parameter
    /// gradient in `grad`. `trace` is the forward pass's, and may serve as scratch space.
    fn backward(
        &self,
        x: &DMatrix<Self::Scalar>,
        trace: &mut Self::Trace,
        pass: &CodePass<Self::Scalar>,
        grad_pre_activation: &DMatrix<Self::Scalar>,
        grad_code_weights: Option<&DMatrix<Self::Scalar>>,
        grad: &mut Self,
    );

    /// `∂J/∂x` for the batch `x` (`n × input_dim`), given `∂J/∂z` of the code layer
    /// (`n × code_dim`): what a layer above the bottom of a
    /// [`StackedEncoder`](crate::StackedEncoder) needs to pass the gradient down to the layer
    /// below. Called after [`forward`](Self::forward) with its `trace` and `pass`, and before
    /// [`backward`](Self::backward); resizes `grad_input` to `n × input_dim` and sets every entry.
    ///
    /// The provided method returns [`Error::NotStackable`]: such an encoder works on its own and
    /// as the bottom layer of a stack, and [`StackedEncoder::new`](crate::StackedEncoder::new)
    /// refuses it anywhere higher.
    ///
    /// # Errors
    /// [`Error::NotStackable`] from the provided method.
    fn backward_input(
        &self,
        x: &DMatrix<Self::Scalar>,
        trace: &Self::Trace,
        pass: &CodePass<Self::Scalar>,
        grad_pre_activation: &DMatrix<Self::Scalar>,
        grad_input: &mut DMatrix<Self::Scalar>,
    ) -> Result<()> {
        let _ = (x, trace, pass, grad_pre_activation, grad_input);
        Err(Error::NotStackable {
            encoder: std::any::type_name::<Self>(),
        })
    }

    /// The parameters as flat slices, in a fixed order.
    fn parameters(&self) -> Vec<&[Self::Scalar]>;

    /// The parameters as mutable flat slices, in the order of [`parameters`](Self::parameters).
    fn parameters_mut(&mut self) -> Vec<&mut [Self::Scalar]>;

    /// One name per parameter tensor, in the order of [`parameters`](Self::parameters)
    /// (e.g. `["weight", "bias"]`).
    fn parameter_names(&self) -> Vec<String>;

    /// One kind per parameter tensor, in the order of [`parameters`](Self::parameters):
    /// what penalties over every layer, such as [`WeightDecay`](crate::WeightDecay), go by.
    /// The provided method says [`TensorKind::Other`] for every tensor, which no built-in
    /// penalty touches; an encoder with weight matrices says which they are.
    fn parameter_kinds(&self) -> Vec<TensorKind> {
        vec![TensorKind::Other; self.parameters().len()]
    }

    /// One shape per parameter tensor, in the order of [`parameters`](Self::parameters): how
    /// a file (and PyTorch) sees the tensor. A two-dimensional `[rows, columns]` tensor's slice
    /// is column-major, as nalgebra stores a matrix, and files hold it row-major, as
    /// `nn.Linear` does (`[code_dim, input_dim]` for a dense layer's weights). The provided
    /// method says one dimension per tensor, its length.
    fn parameter_shapes(&self) -> Vec<Vec<usize>> {
        self.parameters().iter().map(|p| vec![p.len()]).collect()
    }

    /// The encoder as the crate's [`DenseEncoder`], so that a file can record its whole
    /// architecture (a checkpoint of a one-layer dense model rebuilds it); `None`, the
    /// provided answer, for any other, whose file then records its tensors by name.
    fn as_dense(&self) -> Option<&DenseEncoder<Self::Scalar>> {
        None
    }

    /// Encodes a batch.
    ///
    /// # Shapes
    /// `x` is `n × input_dim`; returns `n × code_dim`.
    ///
    /// # Errors
    /// [`Error::EmptyData`], [`Error::DimensionMismatch`] or [`Error::NonFiniteData`] for bad
    /// input; [`Error::MisshapenOutput`] when [`forward`](Self::forward) writes a `z` or an `h`
    /// that is not `n × code_dim`.
    fn encode(&self, x: &DMatrix<Self::Scalar>) -> Result<DMatrix<Self::Scalar>> {
        check_data(x, self.input_dim(), "data to encode")?;
        let mut trace = Self::Trace::default();
        let mut pass = CodePass::default();
        self.forward(x, &mut trace, &mut pass);
        check_code_pass(self, x.nrows(), &pass)?;
        Ok(pass.code)
    }

    /// The Jacobian `∂h/∂x` of the code with respect to the input at each sample of `x`: one
    /// `code_dim × input_dim` matrix per sample, entry `(j, i)` being `∂h_j/∂x_i`.
    ///
    /// The provided method handles encoders whose code layer is an affine map of the input
    /// itself, `h = s(x·Wᵀ + b)` (weights exposed by [`code_layer`](Self::code_layer), and
    /// [`code_input`](Self::code_input) returning `x`): then `∂h/∂x = diag(s'(z))·W`. That
    /// covers [`DenseEncoder`]; [`StackedEncoder`](crate::StackedEncoder) and
    /// [`IdentityEncoder`](crate::IdentityEncoder) implement it themselves (the chain rule
    /// through every layer, and the identity matrix). An encoder of another shape implements
    /// it, or gets an error.
    ///
    /// The result holds `n·code_dim·input_dim` values: for the norms over a large batch,
    /// [`jacobian_norms`](crate::metrics::jacobian_norms) works through it in pieces.
    ///
    /// ```
    /// use autoencoders::{Activation, DenseEncoder, Encoder};
    /// use nalgebra::{DMatrix, DVector};
    ///
    /// // h = tanh(2·x₀ − x₁): at x = 0, ∂h/∂x = [2, −1].
    /// let encoder = DenseEncoder::from_parts(
    ///     DMatrix::from_row_slice(1, 2, &[2.0, -1.0]),
    ///     DVector::zeros(1),
    ///     Activation::Tanh,
    /// )?;
    /// let jacobians = encoder.jacobian(&DMatrix::zeros(1, 2))?;
    /// assert_eq!(jacobians, vec![DMatrix::from_row_slice(1, 2, &[2.0, -1.0])]);
    /// # Ok::<(), autoencoders::Error>(())
    /// ```
    ///
    /// # Shapes
    /// `x` is `n × input_dim`; returns `n` matrices of `code_dim × input_dim`.
    ///
    /// # Errors
    /// [`Error::EmptyData`], [`Error::DimensionMismatch`] or [`Error::NonFiniteData`] for bad
    /// input; from the provided method, [`Error::MissingCodeWeights`] when the encoder does not
    /// expose its code layer's weights and [`Error::JacobianUnavailable`] when its code layer
    /// is not applied to the input itself.
    fn jacobian(&self, x: &DMatrix<Self::Scalar>) -> Result<Vec<DMatrix<Self::Scalar>>> {
        let DirectCodeLayer { weights, slopes } = direct_code_layer(self, x)?;
        Ok(slopes
            .row_iter()
            .map(|slopes| {
                let mut jacobian = weights.clone();
                for (mut row, &slope) in jacobian.row_iter_mut().zip(slopes.iter()) {
                    row *= slope;
                }
                jacobian
            })
            .collect())
    }
}

/// The code layer of an encoder that applies it to the input itself, `h = s(x·Wᵀ + b)`, at a
/// batch `x`: the Jacobian at sample `s` is `diag(slopes_s)·W`.
pub(crate) struct DirectCodeLayer<'e, T: Scalar> {
    /// `W`, `code_dim × input_dim`.
    pub(crate) weights: &'e DMatrix<T>,
    /// `s'(z)` at every sample, `n × code_dim`.
    pub(crate) slopes: DMatrix<T>,
}

/// The code layer of `encoder` at `x`, when it is an affine map of the input itself.
///
/// Checks `x` first. [`Error::MissingCodeWeights`] when the encoder hides `W`,
/// [`Error::JacobianUnavailable`] when its code layer is applied to something else than `x`.
pub(crate) fn direct_code_layer<'e, E: Encoder>(
    encoder: &'e E,
    x: &DMatrix<E::Scalar>,
) -> Result<DirectCodeLayer<'e, E::Scalar>> {
    check_data(
        x,
        encoder.input_dim(),
        "data to differentiate the encoder at",
    )?;
    let layer = encoder.code_layer();
    let weights = layer.weights.ok_or(Error::MissingCodeWeights {
        component: "the encoder's Jacobian",
    })?;
    let mut trace = E::Trace::default();
    let mut pass = CodePass::default();
    encoder.forward(x, &mut trace, &mut pass);
    check_code_pass(encoder, x.nrows(), &pass)?;
    // The code layer's input is `x` itself exactly when the encoder hands back `x`, not a
    // hidden layer's output (a stack's, which would need the chain rule).
    let direct = std::ptr::eq(encoder.code_input(x, &trace), x);
    if !direct || weights.shape() != (encoder.code_dim(), x.ncols()) {
        return Err(Error::JacobianUnavailable {
            reason: "its code layer is not applied to the input itself, \
                     and it does not implement Encoder::jacobian",
        });
    }
    let mut slopes = pass.code.clone();
    for ((slope, &z), &h) in slopes
        .iter_mut()
        .zip(pass.pre_activation.iter())
        .zip(pass.code.iter())
    {
        *slope = layer.activation.derivative(z, h);
    }
    Ok(DirectCodeLayer { weights, slopes })
}

/// A dense layer as an encoder: `h = s(x·Wᵀ + b)`.
///
/// `W` is `code_dim × input_dim` and `b` has `code_dim` entries, as in PyTorch's `nn.Linear`.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseEncoder<T: Scalar> {
    weights: DMatrix<T>,
    bias: DVector<T>,
    activation: Activation,
}

impl<T: Scalar> DenseEncoder<T> {
    /// A layer with weights drawn by `init` from `rng` and zero biases.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for a zero size; [`Error::InvalidHyperParameter`] for a bad `init`.
    pub fn new<R: Rng + ?Sized>(
        input_dim: usize,
        code_dim: usize,
        activation: Activation,
        init: Init,
        rng: &mut R,
    ) -> Result<Self> {
        check_nonzero(input_dim, "input_dim")?;
        check_nonzero(code_dim, "code_dim")?;
        let weights = init.weights(code_dim, input_dim, rng)?;
        Ok(Self {
            weights,
            bias: DVector::zeros(code_dim),
            activation,
        })
    }

    /// A layer with the given weights (`code_dim × input_dim`) and bias (`code_dim`).
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] when the bias does not fit the weights,
    /// [`Error::ZeroDimension`] for empty weights, [`Error::NonFiniteData`] for NaN or ∞.
    pub fn from_parts(
        weights: DMatrix<T>,
        bias: DVector<T>,
        activation: Activation,
    ) -> Result<Self> {
        check_nonzero(weights.ncols(), "input_dim")?;
        check_nonzero(weights.nrows(), "code_dim")?;
        check_parts(&weights, &bias, "encoder")?;
        Ok(Self {
            weights,
            bias,
            activation,
        })
    }

    /// The weights `W`, `code_dim × input_dim`.
    pub fn weights(&self) -> &DMatrix<T> {
        &self.weights
    }

    /// The bias `b`, `code_dim` entries.
    pub fn bias(&self) -> &DVector<T> {
        &self.bias
    }

    /// The activation `s`.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Takes the layer apart into its weights and bias.
    pub(crate) fn into_parts(self) -> (DMatrix<T>, DVector<T>) {
        (self.weights, self.bias)
    }
}

impl<T: Scalar> Encoder for DenseEncoder<T> {
    type Scalar = T;
    type Trace = ();

    fn input_dim(&self) -> usize {
        self.weights.ncols()
    }

    fn code_dim(&self) -> usize {
        self.weights.nrows()
    }

    fn code_layer(&self) -> CodeLayer<'_, T> {
        CodeLayer {
            weights: Some(&self.weights),
            activation: self.activation,
        }
    }

    fn code_input<'a>(&self, x: &'a DMatrix<T>, _trace: &'a ()) -> &'a DMatrix<T> {
        x
    }

    fn forward(&self, x: &DMatrix<T>, _trace: &mut (), pass: &mut CodePass<T>) {
        affine_forward(
            x,
            &self.weights,
            Op::Transposed,
            &self.bias,
            &mut pass.pre_activation,
        );
        self.activation
            .apply_matrix(&pass.pre_activation, &mut pass.code);
    }

    fn backward(
        &self,
        x: &DMatrix<T>,
        _trace: &mut (),
        _pass: &CodePass<T>,
        grad_pre_activation: &DMatrix<T>,
        grad_code_weights: Option<&DMatrix<T>>,
        grad: &mut Self,
    ) {
        // ∂J/∂W = (∂J/∂z)ᵀ·x, plus what the regularizers and a tied decoder put on W.
        // Slice copies: memcpy, where nalgebra's element iterators are several times slower.
        let beta = match grad_code_weights {
            Some(extra) => {
                grad.weights
                    .as_mut_slice()
                    .copy_from_slice(extra.as_slice());
                T::one()
            }
            None => T::zero(),
        };
        gemm(
            T::one(),
            grad_pre_activation,
            Op::Transposed,
            x,
            Op::Plain,
            beta,
            &mut grad.weights,
        );
        column_sums(grad_pre_activation, &mut grad.bias);
    }

    /// `∂J/∂x = ∂J/∂z·W`.
    fn backward_input(
        &self,
        _x: &DMatrix<T>,
        _trace: &(),
        _pass: &CodePass<T>,
        grad_pre_activation: &DMatrix<T>,
        grad_input: &mut DMatrix<T>,
    ) -> Result<()> {
        resize(
            grad_input,
            grad_pre_activation.nrows(),
            self.weights.ncols(),
        );
        gemm(
            T::one(),
            grad_pre_activation,
            Op::Plain,
            &self.weights,
            Op::Plain,
            T::zero(),
            grad_input,
        );
        Ok(())
    }

    fn parameters(&self) -> Vec<&[T]> {
        vec![self.weights.as_slice(), self.bias.as_slice()]
    }

    fn parameters_mut(&mut self) -> Vec<&mut [T]> {
        vec![self.weights.as_mut_slice(), self.bias.as_mut_slice()]
    }

    fn parameter_names(&self) -> Vec<String> {
        vec!["weight".into(), "bias".into()]
    }

    fn parameter_kinds(&self) -> Vec<TensorKind> {
        vec![TensorKind::Weight, TensorKind::Bias]
    }

    fn parameter_shapes(&self) -> Vec<Vec<usize>> {
        vec![
            vec![self.weights.nrows(), self.weights.ncols()],
            vec![self.bias.len()],
        ]
    }

    fn as_dense(&self) -> Option<&DenseEncoder<T>> {
        Some(self)
    }
}

/// Checks that a bias fits its weights and that both are finite.
pub(crate) fn check_parts<T: Scalar>(
    weights: &DMatrix<T>,
    bias: &DVector<T>,
    what: &'static str,
) -> Result<()> {
    if bias.len() != weights.nrows() {
        return Err(Error::DimensionMismatch {
            what: "bias length (rows of the weights)",
            expected: weights.nrows(),
            found: bias.len(),
        });
    }
    check_data(weights, weights.ncols(), what)?;
    if let Some(row) = bias.iter().position(|b| !b.is_finite()) {
        return Err(Error::NonFiniteData {
            what,
            row,
            column: 0,
        });
    }
    Ok(())
}

/// The identity as an encoder: `h = x`, with no parameters.
///
/// Under a [`Classifier`](crate::Classifier) it makes softmax (multinomial logistic)
/// regression on the raw inputs, the baseline every learned representation is measured
/// against; [`Classifier::softmax_regression`](crate::Classifier::softmax_regression) builds
/// that directly. Its code layer is linear and exposes no weights (it has none to train), so
/// components that need them, such as the contractive penalty or a tied decoder, refuse it
/// with [`Error::MissingCodeWeights`].
///
/// ```
/// use autoencoders::{Encoder, IdentityEncoder};
/// use nalgebra::DMatrix;
///
/// let identity = IdentityEncoder::<f64>::new(3)?;
/// let x = DMatrix::from_row_slice(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// assert_eq!(identity.encode(&x)?, x);
/// assert_eq!(identity.jacobian(&x)?[1], DMatrix::identity(3, 3));
/// assert!(identity.parameters().is_empty());
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityEncoder<T: Scalar> {
    dim: usize,
    scalar: std::marker::PhantomData<T>,
}

impl<T: Scalar> IdentityEncoder<T> {
    /// The identity on `dim` features (`input_dim = code_dim = dim`).
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for `dim = 0`.
    pub fn new(dim: usize) -> Result<Self> {
        check_nonzero(dim, "input_dim")?;
        Ok(Self {
            dim,
            scalar: std::marker::PhantomData,
        })
    }
}

impl<T: Scalar> Encoder for IdentityEncoder<T> {
    type Scalar = T;
    type Trace = ();

    fn input_dim(&self) -> usize {
        self.dim
    }

    fn code_dim(&self) -> usize {
        self.dim
    }

    fn code_layer(&self) -> CodeLayer<'_, T> {
        CodeLayer {
            weights: None,
            activation: Activation::Linear,
        }
    }

    fn code_input<'a>(&self, x: &'a DMatrix<T>, _trace: &'a ()) -> &'a DMatrix<T> {
        x
    }

    fn forward(&self, x: &DMatrix<T>, _trace: &mut (), pass: &mut CodePass<T>) {
        pass.pre_activation.clone_from(x);
        pass.code.clone_from(x);
    }

    fn backward(
        &self,
        _x: &DMatrix<T>,
        _trace: &mut (),
        _pass: &CodePass<T>,
        _grad_pre_activation: &DMatrix<T>,
        _grad_code_weights: Option<&DMatrix<T>>,
        _grad: &mut Self,
    ) {
        // No parameters, so no gradients to set.
    }

    /// `∂J/∂x = ∂J/∂z`.
    fn backward_input(
        &self,
        _x: &DMatrix<T>,
        _trace: &(),
        _pass: &CodePass<T>,
        grad_pre_activation: &DMatrix<T>,
        grad_input: &mut DMatrix<T>,
    ) -> Result<()> {
        grad_input.clone_from(grad_pre_activation);
        Ok(())
    }

    fn parameters(&self) -> Vec<&[T]> {
        Vec::new()
    }

    fn parameters_mut(&mut self) -> Vec<&mut [T]> {
        Vec::new()
    }

    fn parameter_names(&self) -> Vec<String> {
        Vec::new()
    }

    fn parameter_kinds(&self) -> Vec<TensorKind> {
        Vec::new()
    }

    /// The identity matrix at every sample.
    fn jacobian(&self, x: &DMatrix<T>) -> Result<Vec<DMatrix<T>>> {
        check_data(x, self.dim, "data to differentiate the encoder at")?;
        Ok(vec![DMatrix::identity(self.dim, self.dim); x.nrows()])
    }
}

/// Inverted dropout's draw for one unit, the one rule of the classifier's and the stacks'
/// masks: 0 with probability `p`, `1/(1 − p)` otherwise, from one `random_bool(p)`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DropoutScale<T: Scalar> {
    probability: f64,
    keep: T,
}

impl<T: Scalar> DropoutScale<T> {
    /// For a probability in `[0, 1)`, checked by the caller.
    pub(crate) fn new(probability: f64) -> Self {
        Self {
            probability,
            keep: T::cast(1.0 / (1.0 - probability)),
        }
    }

    /// The next unit's scale.
    pub(crate) fn draw<R: Rng + ?Sized>(self, rng: &mut R) -> T {
        if rng.random_bool(self.probability) {
            T::zero()
        } else {
            self.keep
        }
    }
}

/// Checks what an encoder's forward pass on `n` samples wrote: `z` and `h` both
/// `n × code_dim`. A user's encoder that writes another shape gets [`Error::MisshapenOutput`]
/// here, not a failed assertion in the next matrix product.
pub(crate) fn check_code_pass<E: Encoder>(
    encoder: &E,
    n: usize,
    pass: &CodePass<E::Scalar>,
) -> Result<()> {
    check_output_shapes(
        "encoder",
        std::any::type_name::<E>(),
        (n, encoder.code_dim()),
        &[
            ("pre-activation", pass.pre_activation.shape()),
            ("code", pass.code.shape()),
        ],
    )
}
