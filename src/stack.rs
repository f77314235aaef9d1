//! Stacks of layers — the crate's dense layers or a user's own: the encoder that greedy
//! pretraining builds, and the mirrored decoder that unrolls it into a deep autoencoder.

use crate::decoder::{as_tied, check_decoder_output};
use crate::encoder::{DropoutScale, check_code_pass};
use crate::linalg::{Op, gemm, resize};
use crate::validate::{check_data, check_nonzero, check_output_shapes};
use crate::{
    Activation, CodeLayer, CodePass, Decoder, DenseDecoder, DenseEncoder, Encoder, Error, Init,
    Result, Scalar, TensorKind,
};
use nalgebra::DMatrix;
use rand::Rng;
use std::fmt;
use std::marker::PhantomData;

/// Encoder layers applied one after another, `h = f_L(…f_1(x)…)`; for the default
/// [`DenseEncoder`] layers, `h = s_L(…s_1(x·W_1ᵀ + b_1)…)`.
///
/// It is an [`Encoder`], so it can be trained inside an [`Autoencoder`](crate::Autoencoder),
/// fine-tuned under a [`Classifier`](crate::Classifier), or stacked further. Its code layer (what
/// regularizers see) is the last layer's, whose input is the previous layer's output.
///
/// The layers may be any one encoder type `E` — a user's own, an enum of several kinds, or
/// stacks themselves. Every layer above the bottom passes the gradient down through
/// [`Encoder::backward_input`]; [`new`](Self::new) refuses one that does not.
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
pub struct StackedEncoder<T: Scalar, E: Encoder<Scalar = T> = DenseEncoder<T>> {
    layers: Vec<E>,
}

/// What a [`StackedEncoder`]'s forward pass keeps: each layer's own trace, each hidden layer's
/// `z` and `h` (and, in a pass with dropout, each hidden layer's mask and dropped-out output),
/// and scratch space for the backward pass.
pub struct StackTrace<T: Scalar, E: Encoder<Scalar = T> = DenseEncoder<T>> {
    traces: Vec<E::Trace>,
    hidden: Vec<CodePass<T>>,
    dropout: HiddenDropout<T>,
    grad: DMatrix<T>,
    grad_input: DMatrix<T>,
}

/// The dropout of a pass's hidden layers: for each, the scale of every unit (0 or
/// `1/(1 − p)`) and the output the layer above read, `h ⊙ scale`. Empty in a pass without
/// dropout.
#[derive(Clone, Debug)]
struct HiddenDropout<T: Scalar> {
    scales: Vec<DMatrix<T>>,
    dropped: Vec<DMatrix<T>>,
}

impl<T: Scalar> HiddenDropout<T> {
    /// The input of layer `l` in the pass recorded by `hidden` and `self`.
    fn layer_input<'a>(
        &'a self,
        x: &'a DMatrix<T>,
        hidden: &'a [CodePass<T>],
        l: usize,
    ) -> &'a DMatrix<T> {
        match l.checked_sub(1) {
            None => x,
            Some(below) => self.dropped.get(below).unwrap_or(&hidden[below].code),
        }
    }

    /// `∂J/∂h_{l−1} = ∂J/∂(h_{l−1} ⊙ scale) ⊙ scale`, in place, when the pass dropped units.
    fn through_mask(&self, l: usize, grad: &mut DMatrix<T>) {
        if let Some(scale) = self.scales.get(l - 1) {
            grad.component_mul_assign(scale);
        }
    }
}

impl<T: Scalar, E: Encoder<Scalar = T>> Default for StackTrace<T, E> {
    fn default() -> Self {
        Self {
            traces: Vec::new(),
            hidden: Vec::new(),
            dropout: HiddenDropout {
                scales: Vec::new(),
                dropped: Vec::new(),
            },
            grad: DMatrix::zeros(0, 0),
            grad_input: DMatrix::zeros(0, 0),
        }
    }
}

impl<T: Scalar, E: Encoder<Scalar = T>> Clone for StackTrace<T, E> {
    fn clone(&self) -> Self {
        Self {
            traces: self.traces.clone(),
            hidden: self.hidden.clone(),
            dropout: self.dropout.clone(),
            grad: self.grad.clone(),
            grad_input: self.grad_input.clone(),
        }
    }
}

impl<T: Scalar, E: Encoder<Scalar = T>> fmt::Debug for StackTrace<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StackTrace")
            .field("traces", &self.traces)
            .field("hidden", &self.hidden)
            .finish_non_exhaustive()
    }
}

impl<T: Scalar, E: Encoder<Scalar = T>> StackedEncoder<T, E> {
    /// A stack of trained (or fresh) layers, bottom first: the crate's [`DenseEncoder`]s, a
    /// user's own encoders, or stacks.
    ///
    /// Every layer above the bottom must pass the gradient down to the one below, through
    /// [`Encoder::backward_input`]. Each layer is tried once on two zero samples, so that an
    /// encoder that writes outputs of the wrong shape is refused here.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for no layers; [`Error::DimensionMismatch`] when a layer's input
    /// size is not the previous layer's code size; [`Error::NotStackable`] for a layer above
    /// the bottom that does not implement [`Encoder::backward_input`];
    /// [`Error::MisshapenOutput`] for a layer whose code or input gradient has the wrong shape.
    pub fn new(layers: Vec<E>) -> Result<Self> {
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
        for (l, layer) in layers.iter().enumerate() {
            try_layer(layer, l > 0)?;
        }
        Ok(Self { layers })
    }

    /// The layers, bottom first.
    pub fn layers(&self) -> &[E] {
        &self.layers
    }

    /// Takes the stack apart.
    pub fn into_layers(self) -> Vec<E> {
        self.layers
    }
}

/// Runs `layer` forward (and, when it sits above another, `backward_input`) on two zero samples
/// and checks the shapes it writes.
fn try_layer<E: Encoder>(layer: &E, above: bool) -> Result<()> {
    let n = 2;
    crate::limits::check_tensor("a stacked layer's trial input", n, layer.input_dim())?;
    let x = DMatrix::zeros(n, layer.input_dim());
    let mut trace = E::Trace::default();
    let mut pass = CodePass::default();
    layer.forward(&x, &mut trace, &mut pass);
    check_code_pass(layer, n, &pass)?;
    if above {
        let mut grad_input = DMatrix::zeros(0, 0);
        let grad_z = DMatrix::zeros(n, layer.code_dim());
        layer.backward_input(&x, &trace, &pass, &grad_z, &mut grad_input)?;
        check_output_shapes(
            "encoder",
            std::any::type_name::<E>(),
            (n, layer.input_dim()),
            &[("input gradient", grad_input.shape())],
        )?;
    }
    Ok(())
}

impl<T: Scalar> StackedEncoder<T> {
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
}

impl<T: Scalar, E: Encoder<Scalar = T>> StackedEncoder<T, E> {
    /// `∂J/∂z_{l−1} = ∂J/∂h_{l−1} ⊙ s'(z_{l−1})`, in place.
    fn through_activation(&self, hidden: &[CodePass<T>], l: usize, grad: &mut DMatrix<T>) {
        let below = &hidden[l - 1];
        self.layers[l - 1]
            .code_layer()
            .activation
            .scale_by_derivative(
                below.pre_activation.as_slice(),
                below.code.as_slice(),
                grad.as_mut_slice(),
            );
    }
}

impl<T: Scalar, E: Encoder<Scalar = T>> Encoder for StackedEncoder<T, E> {
    type Scalar = T;
    type Trace = StackTrace<T, E>;

    fn input_dim(&self) -> usize {
        self.layers[0].input_dim()
    }

    fn code_dim(&self) -> usize {
        self.layers[self.layers.len() - 1].code_dim()
    }

    fn code_layer(&self) -> CodeLayer<'_, T> {
        self.layers[self.layers.len() - 1].code_layer()
    }

    fn code_input<'a>(&self, x: &'a DMatrix<T>, trace: &'a StackTrace<T, E>) -> &'a DMatrix<T> {
        let top = self.layers.len() - 1;
        match trace.traces.get(top) {
            Some(last) if trace.hidden.len() == top => {
                let input = trace.dropout.layer_input(x, &trace.hidden, top);
                self.layers[top].code_input(input, last)
            }
            _ => x,
        }
    }

    fn forward(&self, x: &DMatrix<T>, trace: &mut StackTrace<T, E>, pass: &mut CodePass<T>) {
        let top = self.layers.len() - 1;
        let StackTrace {
            traces,
            hidden,
            dropout,
            ..
        } = trace;
        dropout.scales.clear();
        dropout.dropped.clear();
        traces.resize_with(top + 1, E::Trace::default);
        hidden.resize_with(top, CodePass::default);
        for (l, (layer, layer_trace)) in
            self.layers[..top].iter().zip(traces.iter_mut()).enumerate()
        {
            let (before, rest) = hidden.split_at_mut(l);
            let input = before.last().map_or(x, |p| &p.code);
            layer.forward(input, layer_trace, &mut rest[0]);
        }
        let input = hidden.last().map_or(x, |p| &p.code);
        self.layers[top].forward(input, &mut traces[top], pass);
    }

    /// Drops units of every hidden layer's output (each layer's own hidden layers too, by its
    /// [`forward_with_dropout`](Encoder::forward_with_dropout)), the masks drawn layer by
    /// layer from the bottom, each column by column; the code is not dropped.
    fn forward_with_dropout(
        &self,
        x: &DMatrix<T>,
        trace: &mut StackTrace<T, E>,
        pass: &mut CodePass<T>,
        probability: f64,
        rng: &mut dyn Rng,
    ) -> Result<()> {
        crate::validate::check_dropout("dropout probability", probability)?;
        let top = self.layers.len() - 1;
        let StackTrace {
            traces,
            hidden,
            dropout,
            ..
        } = trace;
        traces.resize_with(top + 1, E::Trace::default);
        hidden.resize_with(top, CodePass::default);
        dropout.scales.resize_with(top, || DMatrix::zeros(0, 0));
        dropout.dropped.resize_with(top, || DMatrix::zeros(0, 0));
        let draw = DropoutScale::new(probability);
        for l in 0..top {
            let (below, rest) = dropout.dropped.split_at_mut(l);
            let input = below.last().unwrap_or(x);
            let out = &mut hidden[l];
            self.layers[l].forward_with_dropout(input, &mut traces[l], out, probability, rng)?;
            let (rows, cols) = out.code.shape();
            let (scale, dropped) = (&mut dropout.scales[l], &mut rest[0]);
            resize(scale, rows, cols);
            resize(dropped, rows, cols);
            for ((s, d), &h) in scale
                .iter_mut()
                .zip(dropped.iter_mut())
                .zip(out.code.iter())
            {
                *s = draw.draw(rng);
                *d = h * *s;
            }
        }
        let input = dropout.dropped.last().unwrap_or(x);
        self.layers[top].forward_with_dropout(input, &mut traces[top], pass, probability, rng)
    }

    fn backward(
        &self,
        x: &DMatrix<T>,
        trace: &mut StackTrace<T, E>,
        pass: &CodePass<T>,
        grad_pre_activation: &DMatrix<T>,
        grad_code_weights: Option<&DMatrix<T>>,
        grad: &mut Self,
    ) {
        let top = self.layers.len() - 1;
        let StackTrace {
            traces,
            hidden,
            dropout,
            grad: g,
            grad_input,
        } = trace;
        g.clone_from(grad_pre_activation);
        for l in (0..=top).rev() {
            let input = dropout.layer_input(x, hidden, l);
            let layer_pass = if l == top { pass } else { &hidden[l] };
            let extra = if l == top { grad_code_weights } else { None };
            if l > 0 {
                // ∂J/∂h_{l−1} before the layer's own backward pass, which may use its trace
                // as scratch space. `new` tried every layer above the bottom; one that fails
                // now gets a gradient of NaN, which training reports as divergence.
                let layer = &self.layers[l];
                let expected = (g.nrows(), layer.input_dim());
                let done = layer.backward_input(input, &traces[l], layer_pass, g, grad_input);
                if done.is_err() || grad_input.shape() != expected {
                    *grad_input = DMatrix::from_element(expected.0, expected.1, T::cast(f64::NAN));
                }
            }
            self.layers[l].backward(
                input,
                &mut traces[l],
                layer_pass,
                g,
                extra,
                &mut grad.layers[l],
            );
            if l > 0 {
                dropout.through_mask(l, grad_input);
                self.through_activation(hidden, l, grad_input);
                std::mem::swap(g, grad_input);
            }
        }
    }

    /// `∂J/∂x` by the chain rule down through every layer.
    fn backward_input(
        &self,
        x: &DMatrix<T>,
        trace: &StackTrace<T, E>,
        pass: &CodePass<T>,
        grad_pre_activation: &DMatrix<T>,
        grad_input: &mut DMatrix<T>,
    ) -> Result<()> {
        let top = self.layers.len() - 1;
        let StackTrace {
            traces,
            hidden,
            dropout,
            ..
        } = trace;
        let mut g = grad_pre_activation.clone();
        let mut below = DMatrix::zeros(0, 0);
        for l in (1..=top).rev() {
            let layer_pass = if l == top { pass } else { &hidden[l] };
            let input = dropout.layer_input(x, hidden, l);
            self.layers[l].backward_input(input, &traces[l], layer_pass, &g, &mut below)?;
            dropout.through_mask(l, &mut below);
            self.through_activation(hidden, l, &mut below);
            std::mem::swap(&mut g, &mut below);
        }
        let layer_pass = if top == 0 { pass } else { &hidden[0] };
        self.layers[0].backward_input(x, &traces[0], layer_pass, &g, grad_input)
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
        layer_parameter_names(self.layers.iter().map(|l| l.parameter_names()))
    }

    fn parameter_kinds(&self) -> Vec<TensorKind> {
        self.layers
            .iter()
            .flat_map(|l| l.parameter_kinds())
            .collect()
    }

    fn parameter_shapes(&self) -> Vec<Vec<usize>> {
        self.layers
            .iter()
            .flat_map(|l| l.parameter_shapes())
            .collect()
    }

    /// `∂h/∂x` by the chain rule through every layer, `J = J_L·J_{L−1}···J_1` with each
    /// layer's own [`jacobian`](Encoder::jacobian) at its input, multiplied from the code
    /// downwards (`code_dim` rows throughout, the cheaper order when the code is the narrowest
    /// layer). For dense layers, `J_l = diag(s_l'(z_l))·W_l`. One sample at a time, so that no
    /// hidden layer's Jacobian is held for the whole batch.
    fn jacobian(&self, x: &DMatrix<T>) -> Result<Vec<DMatrix<T>>> {
        check_data(x, self.input_dim(), "data to differentiate the encoder at")?;
        let mut trace = StackTrace::default();
        let mut pass = CodePass::default();
        self.forward(x, &mut trace, &mut pass);
        let top = self.layers.len() - 1;
        let mut jacobians = Vec::with_capacity(x.nrows());
        for s in 0..x.nrows() {
            let mut jacobian: Option<DMatrix<T>> = None;
            for l in (0..=top).rev() {
                let input = trace
                    .dropout
                    .layer_input(x, &trace.hidden, l)
                    .rows(s, 1)
                    .into_owned();
                let layer = self.layers[l]
                    .jacobian(&input)?
                    .pop()
                    .ok_or(Error::EmptyData {
                        what: "a stacked layer's Jacobian",
                    })?;
                check_output_shapes(
                    "encoder",
                    std::any::type_name::<E>(),
                    (self.layers[l].code_dim(), self.layers[l].input_dim()),
                    &[("Jacobian", layer.shape())],
                )?;
                jacobian = Some(match jacobian {
                    None => layer,
                    Some(above) => {
                        let mut product = DMatrix::zeros(above.nrows(), layer.ncols());
                        gemm(
                            T::one(),
                            &above,
                            Op::Plain,
                            &layer,
                            Op::Plain,
                            T::zero(),
                            &mut product,
                        );
                        product
                    }
                });
            }
            jacobians.extend(jacobian);
        }
        Ok(jacobians)
    }
}

/// Decoder layers applied one after another, from the code back to the input: the mirror
/// of a [`StackedEncoder`], for a deep autoencoder. The layers are [`DenseDecoder`]s by
/// default, or any one decoder type `D`.
///
/// Every layer owns its weights (an unrolled stack unties them, as Hinton & Salakhutdinov
/// 2006 do). As a [`Decoder`], its [`weights`](Decoder::weights) are the output layer's.
#[derive(Clone, Debug, PartialEq)]
pub struct StackedDecoder<T: Scalar, D: Decoder<T> = DenseDecoder<T>> {
    layers: Vec<D>,
    scalar: PhantomData<T>,
}

/// What a [`StackedDecoder`]'s forward pass keeps.
pub struct StackedDecoderTrace<T: Scalar, D: Decoder<T> = DenseDecoder<T>> {
    traces: Vec<D::Trace>,
    hidden: Vec<CodePass<T>>,
    grad: DMatrix<T>,
    grad_code: DMatrix<T>,
}

impl<T: Scalar, D: Decoder<T>> Default for StackedDecoderTrace<T, D> {
    fn default() -> Self {
        Self {
            traces: Vec::new(),
            hidden: Vec::new(),
            grad: DMatrix::zeros(0, 0),
            grad_code: DMatrix::zeros(0, 0),
        }
    }
}

impl<T: Scalar, D: Decoder<T>> Clone for StackedDecoderTrace<T, D> {
    fn clone(&self) -> Self {
        Self {
            traces: self.traces.clone(),
            hidden: self.hidden.clone(),
            grad: self.grad.clone(),
            grad_code: self.grad_code.clone(),
        }
    }
}

impl<T: Scalar, D: Decoder<T>> fmt::Debug for StackedDecoderTrace<T, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StackedDecoderTrace")
            .field("traces", &self.traces)
            .field("hidden", &self.hidden)
            .finish_non_exhaustive()
    }
}

impl<T: Scalar, D: Decoder<T>> StackedDecoder<T, D> {
    /// Decoder layers from the code outwards — the crate's [`DenseDecoder`]s or a user's own;
    /// none may be tied.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for no layers; [`Error::DimensionMismatch`] when sizes do not
    /// chain; [`Error::MissingCodeWeights`] for a tied layer.
    pub fn new(layers: Vec<D>) -> Result<Self> {
        check_nonzero(layers.len(), "number of layers")?;
        if layers.iter().any(|l| as_tied(l).is_some()) {
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
        Ok(Self {
            layers,
            scalar: PhantomData,
        })
    }

    /// The layers, from the code outwards.
    pub fn layers(&self) -> &[D] {
        &self.layers
    }

    /// Takes the stack apart.
    pub fn into_layers(self) -> Vec<D> {
        self.layers
    }
}

impl<T: Scalar, D: Decoder<T>> Decoder<T> for StackedDecoder<T, D> {
    type Trace = StackedDecoderTrace<T, D>;

    fn code_dim(&self) -> usize {
        self.layers[0].code_dim()
    }

    fn output_dim(&self) -> usize {
        self.layers[self.layers.len() - 1].output_dim()
    }

    fn activation(&self) -> Activation {
        self.layers[self.layers.len() - 1].activation()
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
        trace: &mut StackedDecoderTrace<T, D>,
        pre_activation: &mut DMatrix<T>,
        output: &mut DMatrix<T>,
    ) -> Result<()> {
        let top = self.layers.len() - 1;
        let StackedDecoderTrace { traces, hidden, .. } = trace;
        traces.resize_with(top + 1, D::Trace::default);
        hidden.resize_with(top, CodePass::default);
        for (l, (layer, layer_trace)) in
            self.layers[..top].iter().zip(traces.iter_mut()).enumerate()
        {
            let (before, rest) = hidden.split_at_mut(l);
            let input = before.last().map_or(code, |p| &p.code);
            let pass = &mut rest[0];
            layer.forward(input, layer_trace, &mut pass.pre_activation, &mut pass.code)?;
            check_decoder_output(layer, code.nrows(), &pass.pre_activation, &pass.code)?;
        }
        let input = hidden.last().map_or(code, |p| &p.code);
        self.layers[top].forward(input, &mut traces[top], pre_activation, output)
    }

    fn backward(
        &self,
        code: &DMatrix<T>,
        trace: &mut StackedDecoderTrace<T, D>,
        grad_pre_activation: &DMatrix<T>,
        grad: &mut Self,
        grad_code: &mut DMatrix<T>,
    ) -> Result<()> {
        let top = self.layers.len() - 1;
        let StackedDecoderTrace {
            traces,
            hidden,
            grad: g,
            grad_code: below,
        } = trace;
        g.clone_from(grad_pre_activation);
        for l in (0..=top).rev() {
            let input = if l == 0 { code } else { &hidden[l - 1].code };
            let out = if l == 0 { &mut *grad_code } else { &mut *below };
            self.layers[l].backward(input, &mut traces[l], g, &mut grad.layers[l], out)?;
            if l > 0 {
                let pass = &hidden[l - 1];
                check_output_shapes(
                    "decoder",
                    std::any::type_name::<D>(),
                    pass.code.shape(),
                    &[("gradient", below.shape())],
                )?;
                self.layers[l - 1].activation().scale_by_derivative(
                    pass.pre_activation.as_slice(),
                    pass.code.as_slice(),
                    below.as_mut_slice(),
                );
                std::mem::swap(g, below);
            }
        }
        Ok(())
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
        layer_parameter_names(self.layers.iter().map(|l| l.parameter_names()))
    }

    fn parameter_kinds(&self) -> Vec<TensorKind> {
        self.layers
            .iter()
            .flat_map(|l| l.parameter_kinds())
            .collect()
    }

    fn parameter_shapes(&self) -> Vec<Vec<usize>> {
        self.layers
            .iter()
            .flat_map(|l| l.parameter_shapes())
            .collect()
    }
}

/// `0.weight`, `0.bias`, `1.weight`, …: each layer's own names behind its index.
fn layer_parameter_names(layers: impl Iterator<Item = Vec<String>>) -> Vec<String> {
    layers
        .enumerate()
        .flat_map(|(l, names)| names.into_iter().map(move |name| format!("{l}.{name}")))
        .collect()
}
