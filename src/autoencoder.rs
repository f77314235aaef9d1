//! The autoencoder: an encoder, a decoder, a regularizer and a corruption, composed.

use crate::decoder::{as_tied, check_decoder_output};
use crate::encoder::check_code_pass;
use crate::linalg::resize;
use crate::regularizer::{
    Architecture, NoRegularizer, RegularizerGradient, RegularizerInput, checked_penalty,
};
use crate::validate::{check_data, check_nonzero, check_output_shapes};
use crate::{
    Activation, CodePass, Corruption, Decoder, DenseDecoder, DenseEncoder, Encoder, Error, Init,
    Loss, LossInput, NoCorruption, Parameter, ReconstructionLoss, Regularizer, Result, Scalar,
    TensorKind,
};
use nalgebra::DMatrix;
use num_traits::Zero;
use rand::Rng;

/// An autoencoder `x̂ = g(f(x̃))`, trained to minimise
/// `J = mean over the batch of L(x, x̂) + penalties`, where `x̃` is the corrupted input.
///
/// The four parts are independent types: any [`Encoder`], any [`Decoder`] over the same scalar,
/// any [`Regularizer`] (a tuple for several) and any [`Corruption`]. `R` and `C` default to none.
/// A fifth, the reconstruction [`Loss`], defaults to the built-in [`ReconstructionLoss`]
/// (squared error unless set); a user's own loss goes in through
/// [`with_loss`](Self::with_loss) too.
///
/// ```
/// use autoencoders::{Activation, Contractive, DenseBuilder, GaussianNoise, ReconstructionLoss};
/// use nalgebra::DMatrix;
/// use rand::{SeedableRng, rngs::ChaCha8Rng};
///
/// let mut rng = ChaCha8Rng::seed_from_u64(0);
/// let model = DenseBuilder::new(6, 3)
///     .with_encoder_activation(Activation::Tanh)
///     .build::<f64, _>(&mut rng)?
///     .with_regularizer(Contractive::new(0.1)?)
///     .with_corruption(GaussianNoise::new(0.1)?)
///     .with_loss(ReconstructionLoss::SquaredError);
/// let x = DMatrix::from_fn(4, 6, |i, j| ((i + j) % 3) as f64 / 2.0);
/// assert_eq!(model.encode(&x)?.shape(), (4, 3));
/// assert_eq!(model.reconstruct(&x)?.shape(), (4, 6));
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Autoencoder<E, D, R = NoRegularizer, C = NoCorruption, L = ReconstructionLoss> {
    pub(crate) encoder: E,
    pub(crate) decoder: D,
    pub(crate) regularizer: R,
    pub(crate) corruption: C,
    pub(crate) loss: L,
}

/// The one-layer autoencoder with dense encoder and decoder.
pub type DenseAutoencoder<T, R = NoRegularizer, C = NoCorruption> =
    Autoencoder<DenseEncoder<T>, DenseDecoder<T>, R, C>;

/// The value of the objective `J` on a batch, split into its parts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Objective<T> {
    /// Mean reconstruction loss `L`.
    pub reconstruction: T,
    /// Everything the regularizer adds.
    pub penalty: T,
}

impl<T: Scalar> Objective<T> {
    /// `J = reconstruction + penalty`.
    pub fn total(&self) -> T {
        self.reconstruction + self.penalty
    }
}

/// Builds a one-layer [`DenseAutoencoder`].
///
/// Defaults: sigmoid encoder and decoder, untied weights, [`Init::GlorotUniform`].
///
/// ```
/// use autoencoders::{Activation, DenseBuilder, Init};
/// use rand::{SeedableRng, rngs::ChaCha8Rng};
///
/// let model = DenseBuilder::new(784, 64)
///     .with_tied(true)
///     .with_decoder_activation(Activation::Linear)
///     .with_init(Init::Uniform { limit: 0.01 })
///     .build::<f32, _>(&mut ChaCha8Rng::seed_from_u64(0))?;
/// assert_eq!(model.parameter_names(), ["encoder.weight", "encoder.bias", "decoder.bias"]);
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(remote = "Self", deny_unknown_fields)
)]
pub struct DenseBuilder {
    pub(crate) input_dim: usize,
    pub(crate) code_dim: usize,
    #[cfg_attr(feature = "serde", serde(default))]
    pub(crate) encoder_activation: Activation,
    #[cfg_attr(feature = "serde", serde(default))]
    pub(crate) decoder_activation: Activation,
    #[cfg_attr(feature = "serde", serde(default))]
    pub(crate) tied: bool,
    #[cfg_attr(feature = "serde", serde(default))]
    pub(crate) init: Init,
}

impl DenseBuilder {
    /// A builder for `input_dim → code_dim → input_dim`.
    pub fn new(input_dim: usize, code_dim: usize) -> Self {
        Self {
            input_dim,
            code_dim,
            encoder_activation: Activation::Sigmoid,
            decoder_activation: Activation::Sigmoid,
            tied: false,
            init: Init::GlorotUniform,
        }
    }

    /// The encoder's activation.
    pub fn with_encoder_activation(mut self, activation: Activation) -> Self {
        self.encoder_activation = activation;
        self
    }

    /// The decoder's activation.
    pub fn with_decoder_activation(mut self, activation: Activation) -> Self {
        self.decoder_activation = activation;
        self
    }

    /// Whether the decoder uses the encoder's weights transposed.
    pub fn with_tied(mut self, tied: bool) -> Self {
        self.tied = tied;
        self
    }

    /// The weight initialisation.
    pub fn with_init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// Checks the settings: both sizes at least 1 and the init's own parameters; what
    /// [`build`](Self::build) would refuse before drawing any weight.
    ///
    /// ```
    /// use autoencoders::{DenseBuilder, Init};
    /// assert!(DenseBuilder::new(784, 32).validate().is_ok());
    /// assert!(DenseBuilder::new(784, 0).validate().is_err());
    /// assert!(DenseBuilder::new(784, 32).with_init(Init::Uniform { limit: -1.0 }).validate().is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for a zero size; [`Error::InvalidHyperParameter`] for a bad init.
    pub fn validate(&self) -> Result<()> {
        check_nonzero(self.input_dim, "input_dim")?;
        check_nonzero(self.code_dim, "code_dim")?;
        self.init.validate()
    }

    /// The inputs' size.
    pub fn input_dim(&self) -> usize {
        self.input_dim
    }

    /// The code's size.
    pub fn code_dim(&self) -> usize {
        self.code_dim
    }

    /// Draws the weights (encoder first, then decoder) from `rng`.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for a zero size; [`Error::InvalidHyperParameter`] for a bad init.
    pub fn build<T: Scalar, G: Rng + ?Sized>(&self, rng: &mut G) -> Result<DenseAutoencoder<T>> {
        let encoder = DenseEncoder::new(
            self.input_dim,
            self.code_dim,
            self.encoder_activation,
            self.init,
            rng,
        )?;
        let decoder = if self.tied {
            DenseDecoder::tied(self.code_dim, self.input_dim, self.decoder_activation)?
        } else {
            DenseDecoder::new(
                self.code_dim,
                self.input_dim,
                self.decoder_activation,
                self.init,
                rng,
            )?
        };
        Autoencoder::new(encoder, decoder)
    }
}

/// A decoder's pre-activation and its output, for a batch.
type DecoderOutput<T> = (DMatrix<T>, DMatrix<T>);

/// A tied dense decoder and the encoder's code-layer weights it borrows.
type Tie<'a, T> = (&'a DenseDecoder<T>, &'a DMatrix<T>);

impl<E: Encoder, D: Decoder<E::Scalar>> Autoencoder<E, D> {
    /// An autoencoder from an encoder and a decoder, with no regularizer, no corruption and the
    /// squared-error loss.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] when the decoder does not map the encoder's codes back to its
    /// inputs; [`Error::MissingCodeWeights`] for a tied decoder on an encoder without weights.
    pub fn new(encoder: E, decoder: D) -> Result<Self> {
        if decoder.code_dim() != encoder.code_dim() {
            return Err(Error::DimensionMismatch {
                what: "decoder code_dim",
                expected: encoder.code_dim(),
                found: decoder.code_dim(),
            });
        }
        if decoder.output_dim() != encoder.input_dim() {
            return Err(Error::DimensionMismatch {
                what: "decoder output_dim",
                expected: encoder.input_dim(),
                found: decoder.output_dim(),
            });
        }
        if as_tied(&decoder).is_some() {
            let Some(weights) = encoder.code_layer().weights else {
                return Err(Error::MissingCodeWeights {
                    component: "a tied decoder",
                });
            };
            if weights.ncols() != decoder.output_dim() {
                return Err(Error::DimensionMismatch {
                    what: "input size of the code layer that a tied decoder transposes",
                    expected: decoder.output_dim(),
                    found: weights.ncols(),
                });
            }
        }
        Ok(Self {
            encoder,
            decoder,
            regularizer: NoRegularizer,
            corruption: NoCorruption,
            loss: ReconstructionLoss::SquaredError,
        })
    }
}

impl<E, D, R, C, L> Autoencoder<E, D, R, C, L> {
    /// The same model with another regularizer (a tuple for several).
    pub fn with_regularizer<R2>(self, regularizer: R2) -> Autoencoder<E, D, R2, C, L> {
        Autoencoder {
            encoder: self.encoder,
            decoder: self.decoder,
            regularizer,
            corruption: self.corruption,
            loss: self.loss,
        }
    }

    /// The same model with another corruption.
    pub fn with_corruption<C2>(self, corruption: C2) -> Autoencoder<E, D, R, C2, L> {
        Autoencoder {
            encoder: self.encoder,
            decoder: self.decoder,
            regularizer: self.regularizer,
            corruption,
            loss: self.loss,
        }
    }

    /// The same model with another reconstruction loss: one of [`ReconstructionLoss`], or a
    /// user's own [`Loss`].
    pub fn with_loss<L2>(self, loss: L2) -> Autoencoder<E, D, R, C, L2> {
        Autoencoder {
            encoder: self.encoder,
            decoder: self.decoder,
            regularizer: self.regularizer,
            corruption: self.corruption,
            loss,
        }
    }

    /// The encoder.
    pub fn encoder(&self) -> &E {
        &self.encoder
    }

    /// The decoder.
    pub fn decoder(&self) -> &D {
        &self.decoder
    }

    /// The regularizer.
    pub fn regularizer(&self) -> &R {
        &self.regularizer
    }

    /// The corruption.
    pub fn corruption(&self) -> &C {
        &self.corruption
    }

    /// The reconstruction loss.
    pub fn loss(&self) -> &L {
        &self.loss
    }

    /// Takes the model apart.
    pub fn into_parts(self) -> (E, D, R, C) {
        (
            self.encoder,
            self.decoder,
            self.regularizer,
            self.corruption,
        )
    }
}

impl<E, D, R, C, L> Autoencoder<E, D, R, C, L>
where
    E: Encoder,
    D: Decoder<E::Scalar>,
    R: Regularizer<E::Scalar>,
    C: Corruption<E::Scalar>,
    L: Loss<E::Scalar>,
{
    /// Features per sample.
    pub fn input_dim(&self) -> usize {
        self.encoder.input_dim()
    }

    /// Units in the code.
    pub fn code_dim(&self) -> usize {
        self.encoder.code_dim()
    }

    /// What the regularizers may check about this model.
    pub fn architecture(&self) -> Architecture {
        Architecture {
            input_dim: self.input_dim(),
            code_dim: self.code_dim(),
            encoder_activation: self.encoder.code_layer().activation,
            decoder_activation: self.decoder.activation(),
            has_code_weights: self.encoder.code_layer().weights.is_some(),
            tied: as_tied(&self.decoder).is_some(),
            loss: self.loss.builtin(),
        }
    }

    /// Checks that the parts work together and with the data `x`: shapes, finiteness, the
    /// loss's requirements and each regularizer's. `fit` calls it before any work.
    ///
    /// # Shapes
    /// `x` is `n × input_dim`.
    ///
    /// # Errors
    /// The first problem found, as a typed [`Error`].
    pub fn check(&self, x: &DMatrix<E::Scalar>, what: &'static str) -> Result<()> {
        check_data(x, self.input_dim(), what)?;
        self.loss.check(self.decoder.activation(), x, what)?;
        self.regularizer.check(&self.architecture())
    }

    /// Codes of a batch.
    ///
    /// # Shapes
    /// `x` is `n × input_dim`; returns `n × code_dim`.
    ///
    /// # Errors
    /// [`Error::EmptyData`], [`Error::NoFeatures`], [`Error::DimensionMismatch`] or
    /// [`Error::NonFiniteData`].
    pub fn encode(&self, x: &DMatrix<E::Scalar>) -> Result<DMatrix<E::Scalar>> {
        self.encoder.encode(x)
    }

    /// Reconstructions of a batch of codes.
    ///
    /// # Shapes
    /// `code` is `n × code_dim`; returns `n × input_dim`.
    ///
    /// # Errors
    /// [`Error::EmptyData`], [`Error::NoFeatures`], [`Error::DimensionMismatch`] or
    /// [`Error::NonFiniteData`].
    pub fn decode(&self, code: &DMatrix<E::Scalar>) -> Result<DMatrix<E::Scalar>> {
        check_data(code, self.code_dim(), "codes to decode")?;
        self.decoder_forward(code)
    }

    /// The decoder's forward pass on checked codes, in fresh buffers.
    fn decoder_forward(&self, code: &DMatrix<E::Scalar>) -> Result<DMatrix<E::Scalar>> {
        Ok(self.decoder_pass(code)?.1)
    }

    /// The decoder's pre-activation and output on checked codes, in fresh buffers.
    fn decoder_pass(&self, code: &DMatrix<E::Scalar>) -> Result<DecoderOutput<E::Scalar>> {
        let mut pre_activation = DMatrix::zeros(0, 0);
        let mut x_hat = DMatrix::zeros(0, 0);
        self.decode_into(
            code,
            &mut D::Trace::default(),
            &mut pre_activation,
            &mut x_hat,
        )?;
        check_decoder_output(&self.decoder, code.nrows(), &pre_activation, &x_hat)?;
        Ok((pre_activation, x_hat))
    }

    /// The encoder's and the decoder's forward passes on checked data, without corruption (the
    /// passes of training, without the loss, the penalty or gradient buffers): the decoder's
    /// pre-activation and output.
    fn clean_pass(&self, x: &DMatrix<E::Scalar>) -> Result<DecoderOutput<E::Scalar>> {
        let mut pass = CodePass::default();
        self.encoder.forward(x, &mut E::Trace::default(), &mut pass);
        check_code_pass(&self.encoder, x.nrows(), &pass)?;
        self.decoder_pass(&pass.code)
    }

    /// `x̂ = g(f(x))` for a batch, without corruption.
    ///
    /// # Shapes
    /// `x` is `n × input_dim`; returns `n × input_dim`.
    ///
    /// # Errors
    /// [`Error::EmptyData`], [`Error::NoFeatures`], [`Error::DimensionMismatch`] or
    /// [`Error::NonFiniteData`].
    pub fn reconstruct(&self, x: &DMatrix<E::Scalar>) -> Result<DMatrix<E::Scalar>> {
        check_data(x, self.input_dim(), "data to reconstruct")?;
        Ok(self.clean_pass(x)?.1)
    }

    /// The reconstruction loss of each sample of `x`, without corruption, in `f64`: the terms
    /// whose mean is [`objective`](Self::objective)'s `reconstruction` (the penalty is not per
    /// sample and is left out). These are the model's anomaly scores: higher is worse
    /// reconstructed (see [`anomaly`](crate::anomaly)).
    ///
    /// # Shapes
    /// `x` is `n × input_dim`; returns `n` values.
    ///
    /// # Errors
    /// Whatever [`check`](Self::check) finds.
    pub fn sample_losses(&self, x: &DMatrix<E::Scalar>) -> Result<Vec<f64>> {
        self.check(x, "data to score")?;
        let (pre_activation, x_hat) = self.clean_pass(x)?;
        let input = LossInput::new(x, &pre_activation, &x_hat, self.decoder.activation())?;
        Ok(self.loss.sample_values(&input))
    }

    /// The squared error `(x̂ − x)²` of every feature of every sample, in `f64`, without
    /// corruption: which inputs made a sample's score high (H2O's per-feature reconstruction
    /// error). Whatever the model's loss, this is the squared error.
    ///
    /// # Shapes
    /// `x` is `n × input_dim`; returns `n × input_dim`.
    ///
    /// # Errors
    /// As [`reconstruct`](Self::reconstruct).
    pub fn feature_errors(&self, x: &DMatrix<E::Scalar>) -> Result<DMatrix<f64>> {
        let x_hat = self.reconstruct(x)?;
        Ok(DMatrix::from_fn(x.nrows(), x.ncols(), |i, j| {
            let r = x_hat[(i, j)].as_f64() - x[(i, j)].as_f64();
            r * r
        }))
    }

    /// The objective `J` on `x` taken as one batch, without corruption.
    ///
    /// # Shapes
    /// `x` is `n × input_dim`.
    ///
    /// # Errors
    /// Whatever [`check`](Self::check) finds.
    pub fn objective(&self, x: &DMatrix<E::Scalar>) -> Result<Objective<E::Scalar>> {
        self.check(x, "data")?;
        self.evaluate(x, x, &mut Workspace::new(self), false)
    }

    /// The objective `J` and its gradient for one batch whose clean samples are `x` and whose
    /// encoder input is `input` (`x` itself, or a corruption of it drawn by the caller).
    ///
    /// The gradient lists one flat tensor per entry of [`parameters`](Self::parameters), in the
    /// same order and layout.
    ///
    /// # Shapes
    /// `x` and `input` are both `n × input_dim`.
    ///
    /// # Errors
    /// Whatever [`check`](Self::check) finds, [`Error::DimensionMismatch`] when `input` and `x`
    /// differ in shape, [`Error::NonFiniteRegularizer`] for a penalty or a gradient contribution
    /// that is NaN or ∞, [`Error::MisshapenRegularizerGradient`] for a regularizer that resizes
    /// a gradient buffer.
    #[allow(clippy::type_complexity)]
    pub fn gradient(
        &self,
        x: &DMatrix<E::Scalar>,
        input: &DMatrix<E::Scalar>,
    ) -> Result<(Objective<E::Scalar>, Vec<Vec<E::Scalar>>)> {
        self.check(x, "data")?;
        check_data(input, self.input_dim(), "corrupted input")?;
        if input.nrows() != x.nrows() {
            return Err(Error::DimensionMismatch {
                what: "rows of the corrupted input",
                expected: x.nrows(),
                found: input.nrows(),
            });
        }
        let mut workspace = Workspace::new(self);
        let objective = self.evaluate(x, input, &mut workspace, true)?;
        Ok((
            objective,
            workspace.gradients().map(<[_]>::to_vec).collect(),
        ))
    }

    /// The trainable tensors, encoder first, as flat column-major slices.
    pub fn parameters(&self) -> Vec<&[E::Scalar]> {
        let mut p = self.encoder.parameters();
        p.extend(self.decoder.parameters());
        p
    }

    /// The trainable tensors, mutable, in the order of [`parameters`](Self::parameters).
    pub fn parameters_mut(&mut self) -> Vec<&mut [E::Scalar]> {
        let mut p = self.encoder.parameters_mut();
        p.extend(self.decoder.parameters_mut());
        p
    }

    /// PyTorch-style names of the tensors of [`parameters`](Self::parameters), such as
    /// `encoder.weight` and `decoder.bias`.
    pub fn parameter_names(&self) -> Vec<String> {
        let encoder = self
            .encoder
            .parameter_names()
            .into_iter()
            .map(|n| format!("encoder.{n}"));
        let decoder = self
            .decoder
            .parameter_names()
            .into_iter()
            .map(|n| format!("decoder.{n}"));
        encoder.chain(decoder).collect()
    }

    /// The kinds of the tensors of [`parameters`](Self::parameters), encoder first.
    pub fn parameter_kinds(&self) -> Vec<TensorKind> {
        let mut kinds = self.encoder.parameter_kinds();
        kinds.extend(self.decoder.parameter_kinds());
        kinds
    }

    /// The shapes of the tensors of [`parameters`](Self::parameters), encoder first; see
    /// [`Encoder::parameter_shapes`].
    pub fn parameter_shapes(&self) -> Vec<Vec<usize>> {
        let mut shapes = self.encoder.parameter_shapes();
        shapes.extend(self.decoder.parameter_shapes());
        shapes
    }

    /// The tied dense decoder and the encoder's weights it borrows, when the decoder is tied
    /// (`new` checked that the encoder has them).
    fn tie(&self) -> Option<Tie<'_, E::Scalar>> {
        let decoder = as_tied(&self.decoder)?;
        Some((decoder, self.encoder.code_layer().weights?))
    }

    /// The decoder's forward pass, through the tie when there is one: the one place that
    /// handles tied weights going forward.
    fn decode_into(
        &self,
        code: &DMatrix<E::Scalar>,
        trace: &mut D::Trace,
        pre_activation: &mut DMatrix<E::Scalar>,
        output: &mut DMatrix<E::Scalar>,
    ) -> Result<()> {
        match self.tie() {
            Some((decoder, w)) => {
                decoder.forward_tied(code, w, pre_activation, output);
                Ok(())
            }
            None => self.decoder.forward(code, trace, pre_activation, output),
        }
    }

    /// Forward pass, loss, penalty and (when `backward`) every gradient, into `ws`.
    ///
    /// Shapes and data have been checked by the caller.
    pub(crate) fn evaluate(
        &self,
        x: &DMatrix<E::Scalar>,
        input: &DMatrix<E::Scalar>,
        ws: &mut Workspace<E, D>,
        backward: bool,
    ) -> Result<Objective<E::Scalar>> {
        type T<E> = <E as Encoder>::Scalar;
        let zero = T::<E>::zero();
        let (n, code_dim) = (x.nrows(), self.code_dim());
        let code_layer = self.encoder.code_layer();

        self.encoder.forward(input, &mut ws.trace, &mut ws.pass);
        check_code_pass(&self.encoder, n, &ws.pass)?;
        self.decode_into(
            &ws.pass.code,
            &mut ws.decoder_trace,
            &mut ws.decoder_pre_activation,
            &mut ws.x_hat,
        )?;
        check_decoder_output(&self.decoder, n, &ws.decoder_pre_activation, &ws.x_hat)?;
        resize(&mut ws.grad_decoder_pre_activation, n, x.ncols());
        let reconstruction = self.loss.value_and_gradient(
            &LossInput {
                x,
                pre_activation: &ws.decoder_pre_activation,
                x_hat: &ws.x_hat,
                activation: self.decoder.activation(),
            },
            &mut ws.grad_decoder_pre_activation,
        );
        check_output_shapes(
            "loss",
            self.loss.name(),
            x.shape(),
            &[("gradient", ws.grad_decoder_pre_activation.shape())],
        )?;

        if let Some(w) = code_layer.weights {
            resize(&mut ws.grad_code_weights, w.nrows(), w.ncols());
            ws.grad_code_weights.as_mut_slice().fill(zero);
        }
        resize(&mut ws.grad_code, n, code_dim);
        if backward {
            // The one place that handles tied weights going backward.
            match self.tie() {
                Some((decoder, w)) => {
                    let grad = ws
                        .grad_decoder
                        .as_dense_mut()
                        .ok_or(Error::MissingCodeWeights {
                            component: "the gradient of a tied decoder (Decoder::as_dense_mut)",
                        })?;
                    decoder.backward_tied(
                        &ws.pass.code,
                        w,
                        &ws.grad_decoder_pre_activation,
                        grad,
                        &mut ws.grad_code_weights,
                        &mut ws.grad_code,
                    );
                }
                None => self.decoder.backward(
                    &ws.pass.code,
                    &mut ws.decoder_trace,
                    &ws.grad_decoder_pre_activation,
                    &mut ws.grad_decoder,
                    &mut ws.grad_code,
                )?,
            }
            check_output_shapes(
                "decoder",
                std::any::type_name::<D>(),
                (n, code_dim),
                &[("gradient", ws.grad_code.shape())],
            )?;
        } else {
            ws.grad_code.as_mut_slice().fill(zero);
        }

        resize(&mut ws.grad_pre_activation, n, code_dim);
        ws.grad_pre_activation.as_mut_slice().fill(zero);
        let penalty = checked_penalty(
            &self.regularizer,
            &RegularizerInput {
                input: self.encoder.code_input(input, &ws.trace),
                pre_activation: &ws.pass.pre_activation,
                code: &ws.pass.code,
                activation: code_layer.activation,
                encoder_weights: code_layer.weights,
                decoder_weights: self.decoder.weights(),
            },
            &mut RegularizerGradient {
                code: &mut ws.grad_code,
                pre_activation: &mut ws.grad_pre_activation,
                encoder_weights: code_layer.weights.map(|_| &mut ws.grad_code_weights),
                decoder_weights: ws.grad_decoder.weights_mut(),
            },
            backward,
        )?;

        if backward {
            // ∂J/∂z = ∂J/∂h ⊙ s'(z) + the regularizer's direct ∂P/∂z.
            code_layer.activation.accumulate_chain(
                ws.pass.pre_activation.as_slice(),
                ws.pass.code.as_slice(),
                ws.grad_code.as_slice(),
                ws.grad_pre_activation.as_mut_slice(),
            );
            self.encoder.backward(
                input,
                &mut ws.trace,
                &ws.pass,
                &ws.grad_pre_activation,
                code_layer.weights.map(|_| &ws.grad_code_weights),
                &mut ws.grad_encoder,
            );
        }
        // After the backward passes, which set the parameters' gradients.
        let penalty = penalty + self.parameter_penalty(ws)?;
        Ok(Objective {
            reconstruction,
            penalty,
        })
    }
}

impl<E, D, R, C, L> Autoencoder<E, D, R, C, L>
where
    E: Encoder,
    D: Decoder<E::Scalar>,
    R: Regularizer<E::Scalar>,
{
    /// The regularizer's penalty on every parameter tensor of the model, its gradient added to
    /// the workspace's gradients (which the backward passes have set).
    fn parameter_penalty(&self, ws: &mut Workspace<E, D>) -> Result<E::Scalar> {
        let parameters: Vec<Parameter<'_, E::Scalar>> = self
            .encoder
            .parameters()
            .into_iter()
            .chain(self.decoder.parameters())
            .zip(&ws.parameter_names)
            .zip(&ws.parameter_kinds)
            .map(|((values, name), &kind)| Parameter::new(name, kind, values))
            .collect();
        let mut gradients = ws.grad_encoder.parameters_mut();
        gradients.extend(ws.grad_decoder.parameters_mut());
        let penalty = self
            .regularizer
            .parameter_penalty(&parameters, Some(&mut gradients));
        if !penalty.as_f64().is_finite() {
            return Err(Error::NonFiniteRegularizer {
                name: self.regularizer.name(),
                part: "parameter penalty",
            });
        }
        Ok(penalty)
    }
}

/// Buffers for one batch's forward and backward pass, reused across batches.
#[derive(Debug)]
pub(crate) struct Workspace<E: Encoder, D: Decoder<E::Scalar>> {
    trace: E::Trace,
    decoder_trace: D::Trace,
    pass: CodePass<E::Scalar>,
    decoder_pre_activation: DMatrix<E::Scalar>,
    x_hat: DMatrix<E::Scalar>,
    grad_decoder_pre_activation: DMatrix<E::Scalar>,
    grad_code: DMatrix<E::Scalar>,
    grad_pre_activation: DMatrix<E::Scalar>,
    grad_code_weights: DMatrix<E::Scalar>,
    grad_encoder: E,
    grad_decoder: D,
    /// The model's tensor names and kinds, for penalties on every parameter.
    parameter_names: Vec<String>,
    parameter_kinds: Vec<TensorKind>,
}

impl<E: Encoder, D: Decoder<E::Scalar>> Workspace<E, D> {
    pub(crate) fn new<R, C, L>(model: &Autoencoder<E, D, R, C, L>) -> Self
    where
        R: Regularizer<E::Scalar>,
        C: Corruption<E::Scalar>,
        L: Loss<E::Scalar>,
    {
        let empty = || DMatrix::zeros(0, 0);
        Self {
            trace: E::Trace::default(),
            decoder_trace: D::Trace::default(),
            pass: CodePass::default(),
            decoder_pre_activation: empty(),
            x_hat: empty(),
            grad_decoder_pre_activation: empty(),
            grad_code: empty(),
            grad_pre_activation: empty(),
            grad_code_weights: empty(),
            grad_encoder: model.encoder.clone(),
            grad_decoder: model.decoder.clone(),
            parameter_names: model.parameter_names(),
            parameter_kinds: model.parameter_kinds(),
        }
    }

    /// The gradient tensors, in the model's parameter order.
    pub(crate) fn gradients(&self) -> impl Iterator<Item = &[E::Scalar]> {
        self.grad_encoder
            .parameters()
            .into_iter()
            .chain(self.grad_decoder.parameters())
    }

    /// The gradients, mutable, in the same order.
    pub(crate) fn gradients_mut(&mut self) -> Vec<&mut [E::Scalar]> {
        let mut all = self.grad_encoder.parameters_mut();
        all.extend(self.grad_decoder.parameters_mut());
        all
    }
}
