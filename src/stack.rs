//! Stacks of dense layers: the encoder that greedy pretraining builds, and the mirrored decoder
//! that unrolls it into a deep autoencoder.

use crate::linalg::{Op, gemm};
use crate::validate::{check_data, check_nonzero};
use crate::{
    Activation, CodeLayer, CodePass, Decoder, DenseDecoder, DenseEncoder, Encoder, Error, Init,
    Result, Scalar, TensorKind,
};
use nalgebra::DMatrix;
use rand::Rng;

/// Dense layers applied one after another: `h = s_L(…s_1(x·W_1ᵀ + b_1)…)`.
///
/// It is an [`Encoder`], so it can be trained inside an [`Autoencoder`](crate::Autoencoder),
/// fine-tuned under a [`Classifier`](crate::Classifier), or stacked further. Its code layer (what
/// regularizers see) is the last layer, whose input is the previous layer's output.
///
/// ```
/// use autoencoders::{Activation, Encoder, Init, StackedEncoder};
/// use nalgebra::DMatrix;
/// use rand::{SeedableRng, rngs::ChaCha8Rng};
///
/// let stack = StackedEncoder::<f64>::random(&[784, 500, 30], Activation::Sigmoid, Init::GlorotUniform,
///                                           &mut ChaCha8Rng::seed_from_u64(0))?;
/// assert_eq!((stack.input_dim(), stack.code_dim(), stack.layers().len()), (784, 30, 2));
/// assert_eq!(stack.encode(&DMatrix::zeros(5, 784))?.shape(), (5, 30));
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct StackedEncoder<T: Scalar> {
    layers: Vec<DenseEncoder<T>>,
}

/// What a [`StackedEncoder`]'s forward pass keeps: each hidden layer's `z` and `h`, and scratch
/// space for the backward pass.
#[derive(Clone, Debug, Default)]
pub struct StackTrace<T: Scalar> {
    hidden: Vec<CodePass<T>>,
    grad: DMatrix<T>,
    grad_input: DMatrix<T>,
}

impl<T: Scalar> StackedEncoder<T> {
    /// A stack of trained (or fresh) layers, bottom first.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for no layers; [`Error::DimensionMismatch`] when a layer's input
    /// size is not the previous layer's code size.
    pub fn new(layers: Vec<DenseEncoder<T>>) -> Result<Self> {
        check_nonzero(layers.len(), "number of layers")?;
        for pair in layers.windows(2) {
            if pair[1].input_dim() != pair[0].code_dim() {
                return Err(Error::DimensionMismatch {
                    what: "input size of a stacked layer (the previous layer's code size)",
                    expected: pair[0].code_dim(),
                    found: pair[1].input_dim(),
                });
            }
        }
        Ok(Self { layers })
    }

    /// A randomly initialised stack with layer sizes `sizes` (`[input_dim, h_1, …, code_dim]`),
    /// every layer with the same activation: the baseline that pretraining is compared with.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for fewer than two sizes or a zero size.
    pub fn random<R: Rng + ?Sized>(
        sizes: &[usize],
        activation: Activation,
        init: Init,
        rng: &mut R,
    ) -> Result<Self> {
        if sizes.len() < 2 {
            return Err(Error::ZeroDimension {
                what: "number of layers",
            });
        }
        let layers = sizes
            .windows(2)
            .map(|w| DenseEncoder::new(w[0], w[1], activation, init, rng))
            .collect::<Result<Vec<_>>>()?;
        Self::new(layers)
    }

    /// The layers, bottom first.
    pub fn layers(&self) -> &[DenseEncoder<T>] {
        &self.layers
    }

    /// Takes the stack apart.
    pub fn into_layers(self) -> Vec<DenseEncoder<T>> {
        self.layers
    }
}

impl<T: Scalar> Encoder for StackedEncoder<T> {
    type Scalar = T;
    type Trace = StackTrace<T>;

    fn input_dim(&self) -> usize {
        self.layers[0].input_dim()
    }

    fn code_dim(&self) -> usize {
        self.layers[self.layers.len() - 1].code_dim()
    }

    fn code_layer(&self) -> CodeLayer<'_, T> {
        self.layers[self.layers.len() - 1].code_layer()
    }

    fn code_input<'a>(&self, x: &'a DMatrix<T>, trace: &'a StackTrace<T>) -> &'a DMatrix<T> {
        match trace.hidden.last() {
            Some(pass) if self.layers.len() > 1 => &pass.code,
            _ => x,
        }
    }

    fn forward(&self, x: &DMatrix<T>, trace: &mut StackTrace<T>, pass: &mut CodePass<T>) {
        let hidden = self.layers.len() - 1;
        trace.hidden.resize_with(hidden, CodePass::default);
        for l in 0..hidden {
            let (before, rest) = trace.hidden.split_at_mut(l);
            let input = before.last().map_or(x, |p| &p.code);
            self.layers[l].forward(input, &mut (), &mut rest[0]);
        }
        let input = trace.hidden.last().map_or(x, |p| &p.code);
        self.layers[hidden].forward(input, &mut (), pass);
    }

    fn backward(
        &self,
        x: &DMatrix<T>,
        trace: &mut StackTrace<T>,
        pass: &CodePass<T>,
        grad_pre_activation: &DMatrix<T>,
        grad_code_weights: Option<&DMatrix<T>>,
        grad: &mut Self,
    ) {
        let top = self.layers.len() - 1;
        let StackTrace {
            hidden,
            grad: g,
            grad_input,
        } = trace;
        g.clone_from(grad_pre_activation);
        for l in (0..=top).rev() {
            let input = if l == 0 { x } else { &hidden[l - 1].code };
            let layer_pass = if l == top { pass } else { &hidden[l] };
            let extra = if l == top { grad_code_weights } else { None };
            self.layers[l].backward(input, &mut (), layer_pass, g, extra, &mut grad.layers[l]);
            if l > 0 {
                // ∂J/∂z_{l−1} = (∂J/∂z_l·W_l) ⊙ s'(z_{l−1}).
                self.layers[l].backward_input(g, grad_input);
                let below = &hidden[l - 1];
                self.layers[l - 1].activation().scale_by_derivative(
                    below.pre_activation.as_slice(),
                    below.code.as_slice(),
                    grad_input.as_mut_slice(),
                );
                std::mem::swap(g, grad_input);
            }
        }
    }

    fn parameters(&self) -> Vec<&[T]> {
        self.layers.iter().flat_map(|l| l.parameters()).collect()
    }

    fn parameters_mut(&mut self) -> Vec<&mut [T]> {
        self.layers
            .iter_mut()
            .flat_map(|l| l.parameters_mut())
            .collect()
    }

    fn parameter_names(&self) -> Vec<String> {
        layer_parameter_names(self.layers.len())
    }

    fn parameter_kinds(&self) -> Vec<TensorKind> {
        self.layers
            .iter()
            .flat_map(|l| l.parameter_kinds())
            .collect()
    }

    /// `∂h/∂x` by the chain rule through every layer:
    /// `J = diag(s_L'(z_L))·W_L·diag(s_{L−1}'(z_{L−1}))·W_{L−1}···diag(s_1'(z_1))·W_1`,
    /// multiplied from the code downwards (`code_dim` rows throughout, the cheaper order when
    /// the code is the narrowest layer).
    fn jacobian(&self, x: &DMatrix<T>) -> Result<Vec<DMatrix<T>>> {
        check_data(x, self.input_dim(), "data to differentiate the encoder at")?;
        let mut trace = StackTrace::default();
        let mut pass = CodePass::default();
        self.forward(x, &mut trace, &mut pass);
        let top = self.layers.len() - 1;
        // Each layer's slopes s'(z), n × its width, bottom first.
        let slopes: Vec<DMatrix<T>> = trace
            .hidden
            .iter()
            .chain(std::iter::once(&pass))
            .zip(&self.layers)
            .map(|(layer_pass, layer)| {
                layer_pass
                    .pre_activation
                    .zip_map(&layer_pass.code, |z, h| layer.activation().derivative(z, h))
            })
            .collect();
        let mut jacobians = Vec::with_capacity(x.nrows());
        for s in 0..x.nrows() {
            let mut jacobian = self.layers[top].weights().clone();
            scale_rows(&mut jacobian, &slopes[top], s);
            for l in (0..top).rev() {
                // J ← (J·diag(s_l'))·W_l: scale J's columns, then one product.
                for (mut column, &slope) in jacobian.column_iter_mut().zip(slopes[l].row(s).iter())
                {
                    column *= slope;
                }
                let weights = self.layers[l].weights();
                let mut below = DMatrix::zeros(jacobian.nrows(), weights.ncols());
                gemm(
                    T::one(),
                    &jacobian,
                    Op::Plain,
                    weights,
                    Op::Plain,
                    T::zero(),
                    &mut below,
                );
                jacobian = below;
            }
            jacobians.push(jacobian);
        }
        Ok(jacobians)
    }
}

/// Dense decoder layers applied one after another, from the code back to the input: the mirror
/// of a [`StackedEncoder`], for a deep autoencoder.
///
/// Every layer owns its weights (an unrolled stack unties them, as Hinton & Salakhutdinov
/// 2006 do). As a [`Decoder`], its [`weights`](Decoder::weights) are the output layer's.
#[derive(Clone, Debug, PartialEq)]
pub struct StackedDecoder<T: Scalar> {
    layers: Vec<DenseDecoder<T>>,
}

/// What a [`StackedDecoder`]'s forward pass keeps.
#[derive(Clone, Debug, Default)]
pub struct StackedDecoderTrace<T: Scalar> {
    hidden: Vec<CodePass<T>>,
    grad: DMatrix<T>,
    grad_code: DMatrix<T>,
}

impl<T: Scalar> StackedDecoder<T> {
    /// Decoder layers from the code outwards; none may be tied.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for no layers; [`Error::DimensionMismatch`] when sizes do not
    /// chain; [`Error::MissingCodeWeights`] for a tied layer.
    pub fn new(layers: Vec<DenseDecoder<T>>) -> Result<Self> {
        check_nonzero(layers.len(), "number of layers")?;
        if layers.iter().any(|l| l.is_tied()) {
            return Err(Error::MissingCodeWeights {
                component: "a layer of a stacked decoder (untie it first)",
            });
        }
        for pair in layers.windows(2) {
            if pair[1].code_dim() != pair[0].output_dim() {
                return Err(Error::DimensionMismatch {
                    what: "input size of a stacked decoder layer",
                    expected: pair[0].output_dim(),
                    found: pair[1].code_dim(),
                });
            }
        }
        Ok(Self { layers })
    }

    /// The layers, from the code outwards.
    pub fn layers(&self) -> &[DenseDecoder<T>] {
        &self.layers
    }
}

impl<T: Scalar> Decoder<T> for StackedDecoder<T> {
    type Trace = StackedDecoderTrace<T>;

    fn code_dim(&self) -> usize {
        self.layers[0].code_dim()
    }

    fn output_dim(&self) -> usize {
        self.layers[self.layers.len() - 1].output_dim()
    }

    fn activation(&self) -> Activation {
        self.layers[self.layers.len() - 1].activation()
    }

    fn is_tied(&self) -> bool {
        false
    }

    fn weights(&self) -> Option<&DMatrix<T>> {
        self.layers[self.layers.len() - 1].weights()
    }

    fn weights_mut(&mut self) -> Option<&mut DMatrix<T>> {
        let last = self.layers.len() - 1;
        self.layers[last].weights_mut()
    }

    fn forward(
        &self,
        code: &DMatrix<T>,
        _tied: Option<&DMatrix<T>>,
        trace: &mut StackedDecoderTrace<T>,
        pre_activation: &mut DMatrix<T>,
        output: &mut DMatrix<T>,
    ) {
        let hidden = self.layers.len() - 1;
        trace.hidden.resize_with(hidden, CodePass::default);
        for l in 0..hidden {
            let (before, rest) = trace.hidden.split_at_mut(l);
            let input = before.last().map_or(code, |p| &p.code);
            let pass = &mut rest[0];
            self.layers[l].forward(
                input,
                None,
                &mut (),
                &mut pass.pre_activation,
                &mut pass.code,
            );
        }
        let input = trace.hidden.last().map_or(code, |p| &p.code);
        self.layers[hidden].forward(input, None, &mut (), pre_activation, output);
    }

    fn backward(
        &self,
        code: &DMatrix<T>,
        _tied: Option<&DMatrix<T>>,
        trace: &mut StackedDecoderTrace<T>,
        grad_pre_activation: &DMatrix<T>,
        grad: &mut Self,
        _grad_tied: Option<&mut DMatrix<T>>,
        grad_code: &mut DMatrix<T>,
    ) {
        let top = self.layers.len() - 1;
        let StackedDecoderTrace {
            hidden,
            grad: g,
            grad_code: below,
        } = trace;
        g.clone_from(grad_pre_activation);
        for l in (0..=top).rev() {
            let input = if l == 0 { code } else { &hidden[l - 1].code };
            let out = if l == 0 { &mut *grad_code } else { &mut *below };
            self.layers[l].backward(input, None, &mut (), g, &mut grad.layers[l], None, out);
            if l > 0 {
                let pass = &hidden[l - 1];
                self.layers[l - 1].activation().scale_by_derivative(
                    pass.pre_activation.as_slice(),
                    pass.code.as_slice(),
                    below.as_mut_slice(),
                );
                std::mem::swap(g, below);
            }
        }
    }

    fn parameters(&self) -> Vec<&[T]> {
        self.layers.iter().flat_map(|l| l.parameters()).collect()
    }

    fn parameters_mut(&mut self) -> Vec<&mut [T]> {
        self.layers
            .iter_mut()
            .flat_map(|l| l.parameters_mut())
            .collect()
    }

    fn parameter_names(&self) -> Vec<String> {
        layer_parameter_names(self.layers.len())
    }

    fn parameter_kinds(&self) -> Vec<TensorKind> {
        self.layers
            .iter()
            .flat_map(|l| l.parameter_kinds())
            .collect()
    }
}

/// Multiplies row `j` of `m` by `slopes[(s, j)]`.
fn scale_rows<T: Scalar>(m: &mut DMatrix<T>, slopes: &DMatrix<T>, s: usize) {
    for (mut row, &slope) in m.row_iter_mut().zip(slopes.row(s).iter()) {
        row *= slope;
    }
}

/// `0.weight`, `0.bias`, `1.weight`, … for `layers` dense layers.
fn layer_parameter_names(layers: usize) -> Vec<String> {
    (0..layers)
        .flat_map(|l| [format!("{l}.weight"), format!("{l}.bias")])
        .collect()
}
