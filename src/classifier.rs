//! A softmax output layer on top of an encoder, trained by backpropagation through every layer:
//! supervised fine-tuning, training from scratch, and linear probes.

use crate::encoder::{DropoutScale, check_code_pass};
use crate::linalg::resize;
use crate::source::{BatchSource, InMemory};
use crate::training::{Learner, check_source, run};
use crate::validate::{all_finite, check_data, check_dropout, check_nonzero, check_param};
use crate::{
    Activation, CodePass, ConfusionMatrix, DenseEncoder, Encoder, Error, History, IdentityEncoder,
    Init, Observer, Optimizer, Parameter, Regularizer, Result, Scalar, TensorKind, TrainingConfig,
    WeightDecay,
};
use nalgebra::{ComplexField, DMatrix, DVector};
use num_traits::{One, Zero};
use rand::rngs::ChaCha8Rng;
use rand::{Rng, SeedableRng};
use std::ops::ControlFlow;

/// What one epoch of supervised training did.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct SupervisedReport {
    /// The epoch, from 0.
    pub epoch: usize,
    /// Mean objective (negative log-likelihood plus weight decay) over the epoch's batches,
    /// weighted by batch size.
    pub loss: f64,
    /// Fraction of training samples classified correctly during the epoch (by the parameters
    /// of the time).
    pub accuracy: f64,
    /// Mean negative log-likelihood on the validation data after the epoch.
    pub validation_loss: Option<f64>,
    /// Accuracy on the validation data after the epoch.
    pub validation_accuracy: Option<f64>,
}

/// An encoder with a softmax output layer: `p(y | x) = softmax(f(x)·Vᵀ + c)`.
///
/// Trained on the mean negative log-likelihood `−(1/n)·Σ_s ln p(y_s | x_s)`, plus
/// `(λ/2)·Σ w²` over every weight matrix (head and encoder; biases excluded) when weight decay
/// is set. The encoder is fine-tuned by backpropagation unless frozen; a frozen encoder makes
/// a linear probe of its codes.
///
/// ```
/// use autoencoders::{Activation, Classifier, Init, Sgd, StackedEncoder, TrainingConfig};
/// use nalgebra::DMatrix;
/// use rand::{SeedableRng, rngs::ChaCha8Rng};
///
/// let mut rng = ChaCha8Rng::seed_from_u64(0);
/// let x = DMatrix::from_fn(40, 2, |i, j| if (i % 2 == 0) == (j == 0) { 1.0 } else { 0.0 });
/// let labels: Vec<usize> = (0..40).map(|i| i % 2).collect();
/// let encoder = StackedEncoder::<f64>::random(&[2, 8], Activation::Tanh, Init::GlorotUniform, &mut rng)?;
/// let mut classifier = Classifier::new(encoder, 2, Init::GlorotUniform, &mut rng)?;
/// let config = TrainingConfig::default().with_epochs(50).with_batch_size(8);
/// classifier.fit(&x, &labels, &config, &mut Sgd::new(0.5)?, &mut rng)?;
/// assert_eq!(classifier.accuracy(&x, &labels)?, 1.0);
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Classifier<E: Encoder> {
    encoder: E,
    /// The softmax layer's affine part: a dense layer with a linear activation.
    head: DenseEncoder<E::Scalar>,
    frozen: bool,
    /// Weight decay over every weight matrix, `None` for none.
    decay: Option<WeightDecay>,
    /// Dropout probabilities of the input and of the hidden layers in training, 0 for none.
    dropout: Dropout,
}

/// The dropout of a [`Classifier`]'s training (Srivastava et al. 2014), in its inverted form:
/// each training batch drops each input value with probability `input` and each unit of every
/// hidden layer (the encoder's own, by [`Encoder::forward_with_dropout`], and its code, the
/// softmax layer's input) with probability `hidden`, and scales the values it keeps by
/// `1/(1 − p)`, so that the model is used as it is, without dropout, for predictions, losses
/// and validation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Dropout {
    input: f64,
    hidden: f64,
}

impl Dropout {
    fn any(self) -> bool {
        self.input > 0.0 || self.hidden > 0.0
    }
}

/// Buffers for one batch, reused.
#[derive(Debug)]
struct Workspace<E: Encoder> {
    trace: E::Trace,
    pass: CodePass<E::Scalar>,
    /// The head's pass: the logits are its pre-activation (and, linear, its output).
    head_pass: CodePass<E::Scalar>,
    grad_logits: DMatrix<E::Scalar>,
    grad_code: DMatrix<E::Scalar>,
    grad_encoder: E,
    grad_head: DenseEncoder<E::Scalar>,
    /// The model's tensor names and kinds, for weight decay.
    names: Vec<String>,
    kinds: Vec<TensorKind>,
    /// This batch's dropout, when drawn: the input with its dropped values zeroed and its kept
    /// ones scaled (`None` without input dropout), the scale of each code unit, 0 or
    /// `1/(1 − p)`, and the seed of the encoder's own masks (`None` without hidden dropout).
    dropped_input: Option<DMatrix<E::Scalar>>,
    code_scale: Option<DMatrix<E::Scalar>>,
    hidden_seed: Option<u64>,
    /// The code after dropout, the softmax layer's input.
    dropped_code: DMatrix<E::Scalar>,
}

impl<E: Encoder> Workspace<E> {
    fn new(classifier: &Classifier<E>) -> Self {
        Self {
            trace: E::Trace::default(),
            pass: CodePass::default(),
            head_pass: CodePass::default(),
            grad_logits: DMatrix::zeros(0, 0),
            grad_code: DMatrix::zeros(0, 0),
            grad_encoder: classifier.encoder.clone(),
            grad_head: classifier.head.clone(),
            names: classifier.parameter_names(),
            kinds: classifier.parameter_kinds(),
            dropped_input: None,
            code_scale: None,
            hidden_seed: None,
            dropped_code: DMatrix::zeros(0, 0),
        }
    }
}

impl<T: Scalar> Classifier<IdentityEncoder<T>> {
    /// Softmax (multinomial logistic) regression on the raw inputs: `p(y | x) =
    /// softmax(x·Vᵀ + c)`, a softmax layer of `classes` outputs on an [`IdentityEncoder`] of
    /// `input_dim` features, its weights drawn by `init`. The baseline for learned features.
    ///
    /// ```
    /// use autoencoders::{Classifier, Init, Sgd, TrainingConfig};
    /// use nalgebra::DMatrix;
    /// use rand::{SeedableRng, rngs::ChaCha8Rng};
    ///
    /// let mut rng = ChaCha8Rng::seed_from_u64(0);
    /// // Two features; the class is whichever is larger.
    /// let x = DMatrix::from_fn(40, 2, |i, j| ((i * 7 + j * 3) % 10) as f64 / 10.0);
    /// let labels: Vec<usize> = x.row_iter().map(|r| usize::from(r[1] > r[0])).collect();
    /// let mut classifier = Classifier::softmax_regression(2, 2, Init::GlorotUniform, &mut rng)?;
    /// let config = TrainingConfig::default().with_epochs(200).with_batch_size(8);
    /// classifier.fit(&x, &labels, &config, &mut Sgd::new(1.0)?, &mut rng)?;
    /// assert!(classifier.accuracy(&x, &labels)? >= 0.95);
    /// assert_eq!(classifier.parameter_names(), ["head.weight", "head.bias"]);
    /// # Ok::<(), autoencoders::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for `input_dim == 0` or `classes == 0`;
    /// [`Error::InvalidHyperParameter`] for a bad `init`.
    pub fn softmax_regression<R: Rng + ?Sized>(
        input_dim: usize,
        classes: usize,
        init: Init,
        rng: &mut R,
    ) -> Result<Self> {
        Self::new(IdentityEncoder::new(input_dim)?, classes, init, rng)
    }
}

impl<E: Encoder> Classifier<E> {
    /// A softmax layer of `classes` outputs on top of `encoder`, its weights drawn by `init`.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] for `classes == 0`; [`Error::InvalidHyperParameter`] for a bad
    /// `init`.
    pub fn new<R: Rng + ?Sized>(
        encoder: E,
        classes: usize,
        init: Init,
        rng: &mut R,
    ) -> Result<Self> {
        check_nonzero(classes, "classes")?;
        let head = DenseEncoder::new(encoder.code_dim(), classes, Activation::Linear, init, rng)?;
        Ok(Self {
            encoder,
            head,
            frozen: false,
            decay: None,
            dropout: Dropout::default(),
        })
    }

    /// Whether training leaves the encoder as it is (a linear probe of its codes).
    pub fn with_frozen_encoder(mut self, frozen: bool) -> Self {
        self.frozen = frozen;
        self
    }

    /// Weight decay `λ` on every weight matrix.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] unless `λ` is finite and ≥ 0.
    pub fn with_weight_decay(mut self, weight: f64) -> Result<Self> {
        check_param("weight decay", weight, weight >= 0.0, "a finite value >= 0")?;
        self.decay = if weight > 0.0 {
            Some(WeightDecay::new(weight)?)
        } else {
            None
        };
        Ok(self)
    }

    /// Dropout in training (Srivastava et al. 2014): every training batch drops each input
    /// value with probability `input`, and each unit of every hidden layer with probability
    /// `hidden` — the code, which the softmax layer reads, and the hidden layers inside the
    /// encoder (those of a [`StackedEncoder`](crate::StackedEncoder), by
    /// [`Encoder::forward_with_dropout`]) — independently, and scales what it keeps by
    /// `1/(1 − p)` (inverted dropout). The masks are drawn from the training generator, so
    /// seeded runs repeat bit for bit at any thread count, sharded or not. Predictions,
    /// [`loss`](Self::loss), [`gradient`](Self::gradient) and the validation reports use the
    /// model without dropout; the training reports (loss and accuracy) are those of the
    /// dropped-out batches.
    ///
    /// A frozen encoder with dropout runs on every batch instead of once (its codes change
    /// with the masks); only the softmax layer trains.
    ///
    /// ```
    /// use autoencoders::{Activation, Classifier, Init, Sgd, StackedEncoder, TrainingConfig};
    /// use nalgebra::DMatrix;
    /// use rand::{SeedableRng, rngs::ChaCha8Rng};
    ///
    /// let mut rng = ChaCha8Rng::seed_from_u64(0);
    /// let x = DMatrix::from_fn(40, 2, |i, j| if (i % 2 == 0) == (j == 0) { 1.0 } else { 0.0 });
    /// let labels: Vec<usize> = (0..40).map(|i| i % 2).collect();
    /// let encoder = StackedEncoder::<f64>::random(&[2, 16, 16], Activation::Tanh, Init::GlorotUniform, &mut rng)?;
    /// let mut classifier = Classifier::new(encoder, 2, Init::GlorotUniform, &mut rng)?
    ///     .with_dropout(0.0, 0.5)?;
    /// let config = TrainingConfig::default().with_epochs(50).with_batch_size(8);
    /// classifier.fit(&x, &labels, &config, &mut Sgd::new(0.5)?, &mut rng)?;
    /// assert_eq!(classifier.accuracy(&x, &labels)?, 1.0);
    /// assert_eq!(classifier.dropout(), (0.0, 0.5));
    /// # Ok::<(), autoencoders::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] unless both probabilities are in `[0, 1)`.
    pub fn with_dropout(mut self, input: f64, hidden: f64) -> Result<Self> {
        check_dropout("input dropout", input)?;
        check_dropout("hidden dropout", hidden)?;
        self.dropout = Dropout { input, hidden };
        Ok(self)
    }

    /// The dropout probabilities of the input and of the hidden layers in training (0 for
    /// none).
    pub fn dropout(&self) -> (f64, f64) {
        (self.dropout.input, self.dropout.hidden)
    }

    /// The training objective of one batch under dropout, and its gradient, as
    /// [`gradient`](Self::gradient) gives them without: the masks are drawn from `rng` as a
    /// training batch draws them, so the same generator state gives the same masks (and a
    /// finite-difference check of this gradient holds the masks fixed by reseeding). Without
    /// dropout it is [`gradient`](Self::gradient), and draws nothing.
    ///
    /// # Errors
    /// As [`loss`](Self::loss).
    #[allow(clippy::type_complexity)]
    pub fn gradient_with_dropout<G: Rng + ?Sized>(
        &self,
        x: &DMatrix<E::Scalar>,
        labels: &[usize],
        rng: &mut G,
    ) -> Result<(E::Scalar, Vec<Vec<E::Scalar>>)> {
        check_data(x, self.encoder.input_dim(), "data")?;
        self.check_labels(x, labels, "labels")?;
        let mut ws = Workspace::new(self);
        self.draw_dropout(x, &mut ws, rng);
        let (loss, _) = self.evaluate(x, labels, &mut ws, true)?;
        Ok((loss, Self::gradients_of(&ws)))
    }

    /// Draws a training batch's dropout into `ws` (or clears it, without dropout), in this
    /// order: the input's mask, column by column; the code's; the seed of the masks inside
    /// the encoder.
    fn draw_dropout<G: Rng + ?Sized>(
        &self,
        x: &DMatrix<E::Scalar>,
        ws: &mut Workspace<E>,
        rng: &mut G,
    ) {
        let Dropout { input, hidden } = self.dropout;
        let n = x.nrows();
        ws.dropped_input = (input > 0.0).then(|| {
            let mut dropped = ws
                .dropped_input
                .take()
                .unwrap_or_else(|| DMatrix::zeros(0, 0));
            resize(&mut dropped, n, x.ncols());
            let draw = DropoutScale::<E::Scalar>::new(input);
            for (d, &v) in dropped.iter_mut().zip(x.iter()) {
                let s = draw.draw(rng);
                // A dropped value is +0 whatever the sign of `v`.
                *d = if s.is_zero() { s } else { v * s };
            }
            dropped
        });
        ws.code_scale = (hidden > 0.0).then(|| {
            let mut scale = ws.code_scale.take().unwrap_or_else(|| DMatrix::zeros(0, 0));
            resize(&mut scale, n, self.encoder.code_dim());
            let draw = DropoutScale::new(hidden);
            for s in scale.iter_mut() {
                *s = draw.draw(rng);
            }
            scale
        });
        ws.hidden_seed = (hidden > 0.0).then(|| rng.next_u64());
    }

    /// The gradients `ws` holds, one flat tensor per entry of [`parameters`](Self::parameters).
    fn gradients_of(ws: &Workspace<E>) -> Vec<Vec<E::Scalar>> {
        let mut gradient: Vec<Vec<E::Scalar>> = ws
            .grad_encoder
            .parameters()
            .into_iter()
            .map(<[_]>::to_vec)
            .collect();
        gradient.extend(ws.grad_head.parameters().into_iter().map(<[_]>::to_vec));
        gradient
    }

    /// The encoder.
    pub fn encoder(&self) -> &E {
        &self.encoder
    }

    /// The softmax layer's weights, `classes × code_dim`.
    pub fn head_weights(&self) -> &DMatrix<E::Scalar> {
        self.head.weights()
    }

    /// The softmax layer's bias, `classes` entries.
    pub fn head_bias(&self) -> &DVector<E::Scalar> {
        self.head.bias()
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.head.code_dim()
    }

    /// Whether the encoder is frozen.
    pub fn is_frozen(&self) -> bool {
        self.frozen
    }

    /// Takes the classifier apart into its encoder and head (weights, bias).
    pub fn into_parts(self) -> (E, DMatrix<E::Scalar>, DVector<E::Scalar>) {
        let (weights, bias) = self.head.into_parts();
        (self.encoder, weights, bias)
    }

    /// Rebuilds a classifier from an encoder and a head.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] when the head does not fit the encoder's codes;
    /// [`Error::NonFiniteData`] for NaN or ∞.
    pub fn from_parts(
        encoder: E,
        weights: DMatrix<E::Scalar>,
        bias: DVector<E::Scalar>,
    ) -> Result<Self> {
        if weights.ncols() != encoder.code_dim() {
            return Err(Error::DimensionMismatch {
                what: "columns of the softmax weights (code_dim)",
                expected: encoder.code_dim(),
                found: weights.ncols(),
            });
        }
        check_nonzero(weights.nrows(), "classes")?;
        crate::encoder::check_parts(&weights, &bias, "softmax layer")?;
        Ok(Self {
            encoder,
            head: DenseEncoder::from_parts(weights, bias, Activation::Linear)?,
            frozen: false,
            decay: None,
            dropout: Dropout::default(),
        })
    }

    /// Class probabilities.
    ///
    /// # Shapes
    /// `x` is `n × input_dim`; returns `n × classes`, rows summing to 1.
    ///
    /// # Errors
    /// [`Error::EmptyData`], [`Error::DimensionMismatch`] or [`Error::NonFiniteData`].
    pub fn predict_proba(&self, x: &DMatrix<E::Scalar>) -> Result<DMatrix<E::Scalar>> {
        check_data(x, self.encoder.input_dim(), "data to classify")?;
        let mut ws = Workspace::new(self);
        self.forward(x, &mut ws)?;
        let mut probabilities = ws.head_pass.pre_activation;
        softmax_rows(&mut probabilities);
        Ok(probabilities)
    }

    /// The most probable class of each sample.
    ///
    /// # Shapes
    /// `x` is `n × input_dim`; returns `n` labels.
    ///
    /// # Errors
    /// As [`predict_proba`](Self::predict_proba).
    pub fn predict(&self, x: &DMatrix<E::Scalar>) -> Result<Vec<usize>> {
        let p = self.predict_proba(x)?;
        Ok(p.row_iter()
            .map(|row| argmax(row.iter().copied()))
            .collect())
    }

    /// Fraction of samples whose predicted class is the label.
    ///
    /// # Errors
    /// As [`predict_proba`](Self::predict_proba), and [`Error::DimensionMismatch`] or
    /// [`Error::DataOutOfRange`] for labels that do not fit.
    pub fn accuracy(&self, x: &DMatrix<E::Scalar>, labels: &[usize]) -> Result<f64> {
        self.check_labels(x, labels, "labels")?;
        let predicted = self.predict(x)?;
        let correct = predicted.iter().zip(labels).filter(|(p, y)| p == y).count();
        Ok(correct as f64 / labels.len() as f64)
    }

    /// The confusion matrix of the predictions on `x` against `labels`: counts, accuracy and
    /// per-class error rates.
    ///
    /// # Errors
    /// As [`accuracy`](Self::accuracy).
    pub fn confusion_matrix(
        &self,
        x: &DMatrix<E::Scalar>,
        labels: &[usize],
    ) -> Result<ConfusionMatrix> {
        self.check_labels(x, labels, "labels")?;
        let predicted = self.predict(x)?;
        ConfusionMatrix::new(self.classes(), &predicted, labels)
    }

    /// The objective on `x` taken as one batch: mean negative log-likelihood plus weight decay.
    ///
    /// # Errors
    /// As [`accuracy`](Self::accuracy).
    pub fn loss(&self, x: &DMatrix<E::Scalar>, labels: &[usize]) -> Result<E::Scalar> {
        check_data(x, self.encoder.input_dim(), "data")?;
        self.check_labels(x, labels, "labels")?;
        let mut ws = Workspace::new(self);
        Ok(self.evaluate(x, labels, &mut ws, false)?.0)
    }

    /// The objective and its gradient for one batch, one flat tensor per entry of
    /// [`parameters`](Self::parameters) (the encoder's gradient is computed even when frozen).
    ///
    /// # Errors
    /// As [`loss`](Self::loss).
    #[allow(clippy::type_complexity)]
    pub fn gradient(
        &self,
        x: &DMatrix<E::Scalar>,
        labels: &[usize],
    ) -> Result<(E::Scalar, Vec<Vec<E::Scalar>>)> {
        check_data(x, self.encoder.input_dim(), "data")?;
        self.check_labels(x, labels, "labels")?;
        let mut ws = Workspace::new(self);
        let (loss, _) = self.evaluate(x, labels, &mut ws, true)?;
        Ok((loss, Self::gradients_of(&ws)))
    }

    /// Every trainable tensor: the encoder's, then the head's weights and bias.
    pub fn parameters(&self) -> Vec<&[E::Scalar]> {
        let mut p = self.encoder.parameters();
        p.extend(self.head.parameters());
        p
    }

    /// Every trainable tensor, mutable, in the order of [`parameters`](Self::parameters).
    pub fn parameters_mut(&mut self) -> Vec<&mut [E::Scalar]> {
        let mut p = self.encoder.parameters_mut();
        p.extend(self.head.parameters_mut());
        p
    }

    /// Names of the tensors: `encoder.*` then `head.weight`, `head.bias`.
    pub fn parameter_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .encoder
            .parameter_names()
            .into_iter()
            .map(|n| format!("encoder.{n}"))
            .collect();
        names.extend(
            self.head
                .parameter_names()
                .into_iter()
                .map(|n| format!("head.{n}")),
        );
        names
    }

    /// Kinds of the tensors (see [`Encoder::parameter_kinds`]): the encoder's, then the head's
    /// weight and bias.
    pub fn parameter_kinds(&self) -> Vec<TensorKind> {
        let mut kinds = self.encoder.parameter_kinds();
        kinds.extend(self.head.parameter_kinds());
        kinds
    }

    /// Shapes of the tensors (see [`Encoder::parameter_shapes`]): the encoder's, then
    /// `[classes, code_dim]` and `[classes]`.
    pub fn parameter_shapes(&self) -> Vec<Vec<usize>> {
        let mut shapes = self.encoder.parameter_shapes();
        shapes.extend(self.head.parameter_shapes());
        shapes
    }

    /// Minimises the objective [`loss`](Self::loss) evaluates (the mean softmax cross-entropy
    /// plus the weight decay) on the whole of `x` by full-batch L-BFGS over the trainable
    /// parameters — every one, or the head's alone when the encoder is frozen (its codes are
    /// then computed once, and the encoder's weight decay, a constant, is left out of the
    /// objective, as minibatch training of a frozen encoder does) — leaving the classifier at
    /// the final point: UFLDL's recipe for
    /// softmax regression and for fine-tuning a stack. Each evaluation is one forward and
    /// backward pass over `x`; the observer sees every iteration. Best in `f64`.
    ///
    /// ```
    /// use autoencoders::optimizer::{Lbfgs, LbfgsStop};
    /// use autoencoders::{Classifier, Init};
    /// use autoencoders::rand::{SeedableRng, rngs::ChaCha8Rng};
    /// use nalgebra::DMatrix;
    ///
    /// // Two classes told apart by the sign of x₀ - x₁.
    /// let x = DMatrix::from_fn(20, 2, |i, j| ((i * 7 + j * 3) % 11) as f64 / 11.0);
    /// let labels: Vec<usize> = (0..20).map(|i| usize::from(x[(i, 0)] > x[(i, 1)])).collect();
    /// let mut model = Classifier::softmax_regression(2, 2, Init::GlorotUniform, &mut ChaCha8Rng::seed_from_u64(0))?
    ///     .with_weight_decay(1e-3)?;
    /// let lbfgs = Lbfgs::new().with_gradient_tolerance(1e-9)?.with_function_tolerance(0.0)?;
    /// let outcome = model.fit_lbfgs(&x, &labels, &lbfgs, &mut ())?;
    /// assert_eq!(outcome.stop, LbfgsStop::GradientTolerance);
    /// assert_eq!(model.loss(&x, &labels)?, outcome.objective);
    /// # Ok::<(), autoencoders::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`loss`](Self::loss) for bad data or labels; those of
    /// [`Lbfgs::minimize`](crate::optimizer::Lbfgs::minimize); the encoder's errors during an
    /// evaluation (the classifier then holds the last accepted point).
    pub fn fit_lbfgs<B>(
        &mut self,
        x: &DMatrix<E::Scalar>,
        labels: &[usize],
        lbfgs: &crate::optimizer::Lbfgs,
        observer: &mut B,
    ) -> Result<crate::optimizer::LbfgsOutcome>
    where
        B: Observer<crate::optimizer::LbfgsIteration> + ?Sized,
    {
        crate::threads::check_environment()?;
        self.check_lbfgs(x, labels)?;
        self.lbfgs_run(x, labels, lbfgs, None, &mut |report, _| {
            Ok(observer.on_epoch(report))
        })
        .map(|(outcome, _)| outcome)
    }

    /// Everything [`fit_lbfgs`](Self::fit_lbfgs) checks before any work.
    pub(crate) fn check_lbfgs(&self, x: &DMatrix<E::Scalar>, labels: &[usize]) -> Result<()> {
        check_param(
            "dropout with L-BFGS",
            self.dropout.input.max(self.dropout.hidden),
            !self.dropout.any(),
            "0: L-BFGS needs a deterministic objective (train with dropout by minibatches)",
        )?;
        check_data(x, self.encoder.input_dim(), "training data")?;
        self.check_labels(x, labels, "training labels")
    }

    /// The tensors L-BFGS moves: every one, or the head's when the encoder is frozen.
    fn trainable_mut(&mut self) -> Vec<&mut [E::Scalar]> {
        if self.frozen {
            self.head.parameters_mut()
        } else {
            self.parameters_mut()
        }
    }

    /// How many of [`parameters`](Self::parameters)' tensors come before those L-BFGS moves:
    /// the encoder's when it is frozen, none otherwise.
    fn frozen_tensors(&self) -> usize {
        if self.frozen {
            self.encoder.parameter_names().len()
        } else {
            0
        }
    }

    /// The names of the tensors L-BFGS moves, as [`parameter_names`](Self::parameter_names)
    /// spells them.
    pub(crate) fn trainable_names(&self) -> Vec<String> {
        let skip = self.frozen_tensors();
        self.parameter_names().into_iter().skip(skip).collect()
    }

    /// Their shapes.
    pub(crate) fn trainable_shapes(&self) -> Vec<Vec<usize>> {
        let skip = self.frozen_tensors();
        self.parameter_shapes().into_iter().skip(skip).collect()
    }

    /// Full-batch L-BFGS on `x` and `labels` by [`lbfgs_drive`](crate::training::lbfgs_drive).
    pub(crate) fn lbfgs_run(
        &mut self,
        x: &DMatrix<E::Scalar>,
        labels: &[usize],
        lbfgs: &crate::optimizer::Lbfgs,
        resume: Option<(
            crate::optimizer::LbfgsState,
            Option<crate::optimizer::LbfgsStop>,
        )>,
        hook: crate::training::LbfgsHook<'_>,
    ) -> Result<(crate::optimizer::LbfgsOutcome, crate::optimizer::LbfgsState)> {
        let codes = if self.frozen {
            Some(self.encoder.encode(x)?)
        } else {
            None
        };
        let mut ws = Workspace::new(self);
        crate::training::lbfgs_drive(
            self,
            lbfgs,
            resume,
            hook,
            Self::trainable_mut,
            |model, gradient| {
                let loss = match &codes {
                    Some(codes) => model.evaluate_head(codes, labels, &mut ws, true).0,
                    None => model.evaluate(x, labels, &mut ws, true)?.0,
                };
                let mut tensors = Vec::new();
                if codes.is_none() {
                    tensors.extend(ws.grad_encoder.parameters());
                }
                tensors.extend(ws.grad_head.parameters());
                for (g, v) in gradient.iter_mut().zip(tensors.into_iter().flatten()) {
                    *g = v.as_f64();
                }
                Ok(loss.as_f64())
            },
        )
    }

    /// Trains on labelled data; see [`fit_with`](Self::fit_with).
    ///
    /// # Errors
    /// As [`fit_with`](Self::fit_with).
    pub fn fit<O, G>(
        &mut self,
        x: &DMatrix<E::Scalar>,
        labels: &[usize],
        config: &TrainingConfig,
        optimizer: &mut O,
        rng: &mut G,
    ) -> Result<History<SupervisedReport>>
    where
        O: Optimizer<E::Scalar>,
        G: Rng + ?Sized,
    {
        self.fit_with(x, labels, None, config, optimizer, rng, &mut ())
    }

    /// Trains on labelled data by minibatch gradient descent, reporting every epoch.
    ///
    /// A frozen encoder encodes the data once and only the softmax layer trains.
    ///
    /// # Shapes
    /// `x` is `n × input_dim` with `n` labels; `validation` likewise.
    ///
    /// # Errors
    /// Before any work: bad data or labels ([`Error::DataOutOfRange`] for a label ≥ classes),
    /// an invalid config. During training: [`Error::Diverged`].
    #[allow(clippy::too_many_arguments)]
    pub fn fit_with<O, G, B>(
        &mut self,
        x: &DMatrix<E::Scalar>,
        labels: &[usize],
        validation: Option<(&DMatrix<E::Scalar>, &[usize])>,
        config: &TrainingConfig,
        optimizer: &mut O,
        rng: &mut G,
        observer: &mut B,
    ) -> Result<History<SupervisedReport>>
    where
        O: Optimizer<E::Scalar>,
        G: Rng + ?Sized,
        B: Observer<SupervisedReport> + ?Sized,
    {
        self.check_training(x, labels, validation, config)?;
        let mut history = History::new(config);
        self.run_epochs(
            x,
            labels,
            validation,
            config,
            optimizer,
            rng,
            observer,
            &mut history,
            |_, _, _, _| Ok(()),
        )?;
        Ok(history)
    }

    /// [`fit_with`](Self::fit_with) with an observer that sees the model, as
    /// [`Autoencoder::fit_watched`](crate::Autoencoder::fit_watched): after every epoch,
    /// `watcher` gets the epoch's report and the classifier as that epoch left it, and may stop
    /// the run. With a watcher that never stops, the run gives `fit_with`'s bits.
    ///
    /// # Errors
    /// As [`fit_with`](Self::fit_with).
    #[allow(clippy::too_many_arguments)]
    pub fn fit_watched<O, G, W>(
        &mut self,
        x: &DMatrix<E::Scalar>,
        labels: &[usize],
        validation: Option<(&DMatrix<E::Scalar>, &[usize])>,
        config: &TrainingConfig,
        optimizer: &mut O,
        rng: &mut G,
        watcher: &mut W,
    ) -> Result<History<SupervisedReport>>
    where
        O: Optimizer<E::Scalar>,
        G: Rng + ?Sized,
        W: FnMut(&SupervisedReport, &Self) -> ControlFlow<()> + ?Sized,
    {
        self.check_training(x, labels, validation, config)?;
        let mut history = History::new(config);
        let watch = crate::training::Watch::new(watcher);
        self.run_epochs(
            x,
            labels,
            validation,
            config,
            optimizer,
            rng,
            &mut |report: &SupervisedReport| watch.verdict(report),
            &mut history,
            |model, _, _, history| {
                watch.after_epoch(model, history);
                Ok(())
            },
        )?;
        Ok(history)
    }

    /// Trains on the labelled samples of `source` (e.g. a file streamed from disk) as
    /// [`fit_with`](Self::fit_with) trains on a matrix and its labels. A frozen encoder
    /// encodes each batch as it comes (`fit_with` encodes the whole matrix once). Each batch
    /// and its labels are checked before the model sees them; the validation data stay in
    /// memory.
    ///
    /// # Errors
    /// As [`fit_with`](Self::fit_with); [`Error::SourceMismatch`] for a source without labels
    /// or one that breaks the contract of [`BatchSource`]; [`Error::EmptyData`] or
    /// [`Error::DimensionMismatch`] for a source without samples or with the wrong number of
    /// features; the source's own errors.
    #[allow(clippy::too_many_arguments)]
    pub fn fit_source<S, O, G, B>(
        &mut self,
        source: &mut S,
        validation: Option<(&DMatrix<E::Scalar>, &[usize])>,
        config: &TrainingConfig,
        optimizer: &mut O,
        rng: &mut G,
        observer: &mut B,
    ) -> Result<History<SupervisedReport>>
    where
        S: BatchSource<E::Scalar> + ?Sized,
        O: Optimizer<E::Scalar>,
        G: Rng + ?Sized,
        B: Observer<SupervisedReport> + ?Sized,
    {
        self.fit_source_with(source, None, validation, config, optimizer, rng, observer)
    }

    /// Trains on the labelled samples of `source` data-parallel, as
    /// [`Autoencoder::fit_parallel`](crate::Autoencoder::fit_parallel) does: `config` shards
    /// the batches, and any number of processes gives the bits of
    /// [`fit_source`](Self::fit_source) with the same `config` in one.
    ///
    /// # Errors
    /// As [`fit_source`](Self::fit_source); [`Error::InvalidHyperParameter`] for a `config`
    /// without shards or a communicator whose rank is not below its size.
    #[allow(clippy::too_many_arguments)]
    pub fn fit_parallel<S, O, G, B>(
        &mut self,
        source: &mut S,
        validation: Option<(&DMatrix<E::Scalar>, &[usize])>,
        config: &TrainingConfig,
        communicator: &dyn crate::parallel::Communicator,
        optimizer: &mut O,
        rng: &mut G,
        observer: &mut B,
    ) -> Result<History<SupervisedReport>>
    where
        S: BatchSource<E::Scalar> + ?Sized,
        O: Optimizer<E::Scalar>,
        G: Rng + ?Sized,
        B: Observer<SupervisedReport> + ?Sized,
    {
        crate::training::check_communicator(communicator, config)?;
        self.fit_source_with(
            source,
            Some(communicator),
            validation,
            config,
            optimizer,
            rng,
            observer,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn fit_source_with<S, O, G, B>(
        &mut self,
        source: &mut S,
        communicator: Option<&dyn crate::parallel::Communicator>,
        validation: Option<(&DMatrix<E::Scalar>, &[usize])>,
        config: &TrainingConfig,
        optimizer: &mut O,
        rng: &mut G,
        observer: &mut B,
    ) -> Result<History<SupervisedReport>>
    where
        S: BatchSource<E::Scalar> + ?Sized,
        O: Optimizer<E::Scalar>,
        G: Rng + ?Sized,
        B: Observer<SupervisedReport> + ?Sized,
    {
        config.validate()?;
        check_source(source, self.encoder.input_dim(), "training source")?;
        if !source.labelled() {
            return Err(Error::SourceMismatch {
                problem: "a classifier trains on labelled samples: the source has no labels",
                expected: 1,
                found: 0,
            });
        }
        if let Some((vx, vy)) = validation {
            check_data(vx, self.encoder.input_dim(), "validation data")?;
            self.check_labels(vx, vy, "validation labels")?;
        }
        config.check_validation(validation.is_some())?;
        let mut history = History::new(config);
        let mut learner = ClassifierLearner {
            frozen_codes: false,
            validation: validation.map(|v| (v, Workspace::new(self))),
            model: self,
        };
        run(
            &mut learner,
            source,
            communicator,
            config,
            optimizer,
            rng,
            observer,
            &mut history,
            |_, _, _, _| Ok(()),
        )?;
        Ok(history)
    }

    /// Everything `fit_with` checks before any work.
    pub(crate) fn check_training(
        &self,
        x: &DMatrix<E::Scalar>,
        labels: &[usize],
        validation: Option<(&DMatrix<E::Scalar>, &[usize])>,
        config: &TrainingConfig,
    ) -> Result<()> {
        config.validate()?;
        check_data(x, self.encoder.input_dim(), "training data")?;
        self.check_labels(x, labels, "training labels")?;
        if let Some((vx, vy)) = validation {
            check_data(vx, self.encoder.input_dim(), "validation data")?;
            self.check_labels(vx, vy, "validation labels")?;
        }
        config.check_validation(validation.is_some())
    }

    /// The epoch loop for this model from epoch `history.epochs.len()`, calling `after_epoch`
    /// after each; the caller has run [`check_training`](Self::check_training).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run_epochs<O, G, B>(
        &mut self,
        x: &DMatrix<E::Scalar>,
        labels: &[usize],
        validation: Option<(&DMatrix<E::Scalar>, &[usize])>,
        config: &TrainingConfig,
        optimizer: &mut O,
        rng: &mut G,
        observer: &mut B,
        history: &mut History<SupervisedReport>,
        mut after_epoch: impl FnMut(&Self, &O, &G, &History<SupervisedReport>) -> Result<()>,
    ) -> Result<()>
    where
        O: Optimizer<E::Scalar>,
        G: Rng + ?Sized,
        B: Observer<SupervisedReport> + ?Sized,
    {
        // A frozen encoder's codes never change: compute them once and train the head on them
        // (unless they drop out, which changes them every batch).
        let codes = if self.frozen && !self.dropout.any() {
            Some(self.encoder.encode(x)?)
        } else {
            None
        };
        let mut source = InMemory::with_labels(codes.as_ref().unwrap_or(x), labels)?;
        let mut learner = ClassifierLearner {
            frozen_codes: codes.is_some(),
            validation: validation.map(|v| (v, Workspace::new(self))),
            model: self,
        };
        run(
            &mut learner,
            &mut source,
            None,
            config,
            optimizer,
            rng,
            observer,
            history,
            |learner, optimizer, rng, history| after_epoch(learner.model, optimizer, rng, history),
        )
    }

    /// The settings a checkpoint of the classifier records: weight decay, whether the
    /// encoder is frozen, and the dropout probabilities when not 0 (so a checkpoint written
    /// without dropout reads as it did before dropout existed).
    pub(crate) fn settings(&self) -> Vec<(String, String)> {
        let mut settings = vec![
            ("frozen".to_owned(), self.frozen.to_string()),
            (
                "weight_decay".to_owned(),
                format!("{:?}", self.decay.map_or(0.0, |d| d.weight())),
            ),
        ];
        let Dropout { input, hidden } = self.dropout;
        for (name, p) in [("dropout_input", input), ("dropout_hidden", hidden)] {
            if p > 0.0 {
                settings.push((name.to_owned(), format!("{p:?}")));
            }
        }
        settings
    }

    /// One optimiser step; when refused (it would make a value non-finite), whether the
    /// gradients were finite.
    fn step<O: Optimizer<E::Scalar> + ?Sized>(
        &mut self,
        ws: &Workspace<E>,
        optimizer: &mut O,
    ) -> std::result::Result<(), bool> {
        let mut gradients: Vec<&[E::Scalar]> = Vec::new();
        if !self.frozen {
            gradients.extend(ws.grad_encoder.parameters());
        }
        gradients.extend(ws.grad_head.parameters());
        let mut parameters: Vec<&mut [E::Scalar]> = Vec::new();
        if !self.frozen {
            parameters.extend(self.encoder.parameters_mut());
        }
        parameters.extend(self.head.parameters_mut());
        if optimizer.try_step(&mut parameters, &gradients) {
            Ok(())
        } else {
            Err(gradients.iter().all(|g| all_finite(g)))
        }
    }

    /// The objective without its weight decay (for validation reports).
    fn nll_only(&self, loss: E::Scalar, ws: &mut Workspace<E>) -> E::Scalar {
        loss - self.decay(ws, false, true)
    }

    /// The weight decay of the head's tensors, and of the encoder's when `with_encoder`, by
    /// [`WeightDecay::parameter_penalty`]; with `backward`, its gradient added to the
    /// workspace's (which the backward passes have set).
    fn decay(&self, ws: &mut Workspace<E>, backward: bool, with_encoder: bool) -> E::Scalar {
        let Some(decay) = &self.decay else {
            return E::Scalar::zero();
        };
        let Workspace {
            names,
            kinds,
            grad_encoder,
            grad_head,
            ..
        } = ws;
        let values = self.parameters();
        let first = if with_encoder {
            0
        } else {
            values.len() - grad_head.parameters().len()
        };
        let tensors: Vec<Parameter<'_, E::Scalar>> = (first..values.len())
            .map(|t| Parameter::new(&names[t], kinds[t], values[t]))
            .collect();
        if !backward {
            return decay.parameter_penalty(&tensors, None);
        }
        let mut gradients: Vec<&mut [E::Scalar]> = Vec::with_capacity(tensors.len());
        if with_encoder {
            gradients.extend(grad_encoder.parameters_mut());
        }
        gradients.extend(grad_head.parameters_mut());
        decay.parameter_penalty(&tensors, Some(&mut gradients))
    }

    fn check_labels(
        &self,
        x: &DMatrix<E::Scalar>,
        labels: &[usize],
        what: &'static str,
    ) -> Result<()> {
        if labels.len() != x.nrows() {
            return Err(Error::DimensionMismatch {
                what,
                expected: x.nrows(),
                found: labels.len(),
            });
        }
        if let Some(row) = labels.iter().position(|&y| y >= self.classes()) {
            return Err(Error::DataOutOfRange {
                what,
                row,
                column: 0,
                value: labels[row] as f64,
                expected: "0 ≤ label < classes",
            });
        }
        Ok(())
    }

    /// Encoder forward and logits into `ws`.
    fn forward(&self, x: &DMatrix<E::Scalar>, ws: &mut Workspace<E>) -> Result<()> {
        self.encode_into(x, ws)?;
        self.head.forward(&ws.pass.code, &mut (), &mut ws.head_pass);
        Ok(())
    }

    /// Encoder forward into `ws` (with the batch's dropout inside the encoder, when drawn),
    /// its output's shape checked.
    fn encode_into(&self, x: &DMatrix<E::Scalar>, ws: &mut Workspace<E>) -> Result<()> {
        match ws.hidden_seed {
            None => self.encoder.forward(x, &mut ws.trace, &mut ws.pass),
            Some(seed) => self.encoder.forward_with_dropout(
                x,
                &mut ws.trace,
                &mut ws.pass,
                self.dropout.hidden,
                &mut ChaCha8Rng::seed_from_u64(seed),
            )?,
        }
        check_code_pass(&self.encoder, x.nrows(), &ws.pass)
    }

    /// Loss and number of correct predictions of a batch; with `backward`, every gradient.
    fn evaluate(
        &self,
        x: &DMatrix<E::Scalar>,
        labels: &[usize],
        ws: &mut Workspace<E>,
        backward: bool,
    ) -> Result<(E::Scalar, usize)> {
        // The batch's dropped-out input, when drawn, is the encoder's input; borrowed out of
        // the workspace, as the codes are below, while the passes write into it.
        let dropped_input = ws.dropped_input.take();
        let input = dropped_input.as_ref().unwrap_or(x);
        let result = self.encode_into(input, ws).map(|()| {
            // Borrow the codes out of the workspace while the head writes its gradients into it.
            let codes = std::mem::replace(&mut ws.pass.code, DMatrix::zeros(0, 0));
            let (loss, hits) = self.head_on_codes(&codes, labels, ws, backward);
            ws.pass.code = codes;
            if backward {
                // ∂J/∂z = ∂J/∂h ⊙ s'(z) at the code layer, then through the encoder.
                self.encoder.code_layer().activation.scale_by_derivative(
                    ws.pass.pre_activation.as_slice(),
                    ws.pass.code.as_slice(),
                    ws.grad_code.as_mut_slice(),
                );
                self.encoder.backward(
                    input,
                    &mut ws.trace,
                    &ws.pass,
                    &ws.grad_code,
                    None,
                    &mut ws.grad_encoder,
                );
            }
            (loss, hits)
        });
        ws.dropped_input = dropped_input;
        let (loss, hits) = result?;
        Ok((loss + self.decay(ws, backward, true), hits))
    }

    /// The head's forward pass and loss on `codes`, through the batch's code dropout when
    /// drawn; with `backward`, the head's gradients and `∂J/∂h` of the codes before dropout
    /// in `ws.grad_code`.
    fn head_on_codes(
        &self,
        codes: &DMatrix<E::Scalar>,
        labels: &[usize],
        ws: &mut Workspace<E>,
        backward: bool,
    ) -> (E::Scalar, usize) {
        let Some(scale) = ws.code_scale.take() else {
            self.head.forward(codes, &mut (), &mut ws.head_pass);
            return self.head_loss(codes, labels, ws, backward);
        };
        let mut dropped = std::mem::replace(&mut ws.dropped_code, DMatrix::zeros(0, 0));
        dropped.clone_from(codes);
        dropped.component_mul_assign(&scale);
        self.head.forward(&dropped, &mut (), &mut ws.head_pass);
        let result = self.head_loss(&dropped, labels, ws, backward);
        if backward {
            // ∂J/∂h = ∂J/∂h̃ ⊙ m/(1 − p).
            ws.grad_code.component_mul_assign(&scale);
        }
        ws.dropped_code = dropped;
        ws.code_scale = Some(scale);
        result
    }

    /// Like `evaluate`, for precomputed codes (frozen encoder).
    fn evaluate_head(
        &self,
        codes: &DMatrix<E::Scalar>,
        labels: &[usize],
        ws: &mut Workspace<E>,
        backward: bool,
    ) -> (E::Scalar, usize) {
        let (loss, hits) = self.head_on_codes(codes, labels, ws, backward);
        (loss + self.decay(ws, backward, false), hits)
    }

    /// Softmax negative log-likelihood of `ws.logits` (plus the head's weight decay), and when
    /// `backward` the head's gradients and `∂J/∂h` in `ws.grad_code`.
    fn head_loss(
        &self,
        codes: &DMatrix<E::Scalar>,
        labels: &[usize],
        ws: &mut Workspace<E>,
        backward: bool,
    ) -> (E::Scalar, usize) {
        let n = E::Scalar::cast(labels.len() as f64);
        let logits = &ws.head_pass.pre_activation;
        let (rows, classes) = logits.shape();
        resize(&mut ws.grad_logits, rows, classes);
        let mut total = E::Scalar::zero();
        let mut hits = 0;
        for (s, &y) in labels.iter().enumerate() {
            let row = logits.row(s);
            let max = row
                .iter()
                .copied()
                .fold(row[0], |a, b| if b > a { b } else { a });
            let sum = row
                .iter()
                .fold(E::Scalar::zero(), |acc, &v| acc + (v - max).exp());
            let log_normaliser = max + sum.ln();
            total += log_normaliser - row[y];
            if argmax(row.iter().copied()) == y {
                hits += 1;
            }
            for c in 0..classes {
                let p = (logits[(s, c)] - log_normaliser).exp();
                let target = if c == y {
                    E::Scalar::one()
                } else {
                    E::Scalar::zero()
                };
                ws.grad_logits[(s, c)] = (p - target) / n;
            }
        }
        if backward {
            // The head's gradients, and ∂J/∂h through it; a dense layer's input gradient
            // cannot fail.
            self.head.backward(
                codes,
                &mut (),
                &ws.head_pass,
                &ws.grad_logits,
                None,
                &mut ws.grad_head,
            );
            let _ = self.head.backward_input(
                codes,
                &(),
                &ws.head_pass,
                &ws.grad_logits,
                &mut ws.grad_code,
            );
        }
        (total / n, hits)
    }
}

/// Index of the largest value (the first of equals).
/// Samples and their labels.
type LabelledData<'d, T> = (&'d DMatrix<T>, &'d [usize]);

/// A classifier, its labelled data and its buffers, for the training loop.
struct ClassifierLearner<'m, 'd, E: Encoder> {
    model: &'m mut Classifier<E>,
    /// Whether the batches are the frozen encoder's codes rather than the data.
    frozen_codes: bool,
    validation: Option<(LabelledData<'d, E::Scalar>, Workspace<E>)>,
}

impl<E: Encoder> Learner<E::Scalar> for ClassifierLearner<'_, '_, E> {
    type Workspace = Workspace<E>;
    type Report = SupervisedReport;
    /// The loss summed over samples, and the correct predictions.
    type Totals = (f64, usize);

    fn workspace(&self) -> Workspace<E> {
        Workspace::new(self.model)
    }

    fn check_batch(&self, x: &DMatrix<E::Scalar>, labels: &[usize]) -> Result<()> {
        if !self.frozen_codes {
            check_data(
                x,
                self.model.encoder.input_dim(),
                "a batch of the training source",
            )?;
        }
        self.model
            .check_labels(x, labels, "labels of a batch of the training source")
    }

    fn batch<G: Rng + ?Sized>(
        &mut self,
        x: &DMatrix<E::Scalar>,
        labels: &[usize],
        ws: &mut Workspace<E>,
        rng: &mut G,
        totals: &mut (f64, usize),
    ) -> Result<bool> {
        self.model.draw_dropout(x, ws, rng);
        let (loss, hits) = if self.frozen_codes {
            self.model.evaluate_head(x, labels, ws, true)
        } else {
            self.model.evaluate(x, labels, ws, true)?
        };
        totals.0 += loss.as_f64() * x.nrows() as f64;
        totals.1 += hits;
        Ok(loss.is_finite())
    }

    fn step<O: Optimizer<E::Scalar> + ?Sized>(
        &mut self,
        ws: &Workspace<E>,
        optimizer: &mut O,
    ) -> std::result::Result<(), bool> {
        self.model.step(ws, optimizer)
    }

    fn gradients_mut<'w>(&self, ws: &'w mut Workspace<E>) -> Vec<&'w mut [E::Scalar]> {
        let mut all = Vec::new();
        if !self.model.frozen {
            all.extend(ws.grad_encoder.parameters_mut());
        }
        all.extend(ws.grad_head.parameters_mut());
        all
    }

    fn report(
        &mut self,
        epoch: usize,
        totals: &(f64, usize),
        seen: usize,
    ) -> Result<SupervisedReport> {
        let (validation_loss, validation_accuracy) = match &mut self.validation {
            Some(((vx, vy), vws)) => {
                let (loss, hits) = self.model.evaluate(vx, vy, vws, false)?;
                (
                    Some(self.model.nll_only(loss, vws).as_f64()),
                    Some(hits as f64 / vy.len() as f64),
                )
            }
            None => (None, None),
        };
        let seen_f = seen.max(1) as f64;
        Ok(SupervisedReport {
            epoch,
            loss: totals.0 / seen_f,
            accuracy: totals.1 as f64 / seen_f,
            validation_loss,
            validation_accuracy,
        })
    }

    fn validation_loss(report: &SupervisedReport) -> Option<f64> {
        report.validation_loss
    }

    fn parameters(&self) -> Vec<&[E::Scalar]> {
        self.model.parameters()
    }

    fn parameters_mut(&mut self) -> Vec<&mut [E::Scalar]> {
        self.model.parameters_mut()
    }
}

fn argmax<T: Scalar>(values: impl Iterator<Item = T>) -> usize {
    let mut best = (0, None::<T>);
    for (i, v) in values.enumerate() {
        if best.1.is_none_or(|b| v > b) {
            best = (i, Some(v));
        }
    }
    best.0
}

/// Replaces each row of logits by its softmax, stably.
fn softmax_rows<T: Scalar>(m: &mut DMatrix<T>) {
    for mut row in m.row_iter_mut() {
        let max = row
            .iter()
            .copied()
            .fold(row[0], |a, b| if b > a { b } else { a });
        let mut sum = T::zero();
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        for v in row.iter_mut() {
            *v /= sum;
        }
    }
}
