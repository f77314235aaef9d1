//! Regularizers: penalties added to the reconstruction loss.
//!
//! The batch objective is
//! `J = mean over the batch of (L + per-sample penalties) + batch-level penalties`.
//! A [`Regularizer`] returns its whole contribution to `J` (per-sample penalties already
//! averaged) and adds its gradient to the buffers it is handed.

mod activity;
mod builtin;
mod contractive;
mod kl_sparsity;
mod weight_decay;

pub use activity::{L1Sparsity, L2Sparsity};
pub use builtin::BuiltinRegularizer;
pub use contractive::Contractive;
pub use kl_sparsity::KlSparsity;
pub use weight_decay::WeightDecay;

use crate::validate::{all_finite, check_size};
use crate::{Activation, BuiltinLoss, Error, Parameter, Result, Scalar};
use nalgebra::DMatrix;

/// What a regularizer may look at for one batch of `n` samples.
///
/// The code layer is the encoder's last layer: `z = u·Wᵀ + b`, `h = s(z)`, where `u` is its
/// input (the batch itself for a one-layer encoder, after any corruption).
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct RegularizerInput<'a, T: Scalar> {
    /// `u`, the code layer's input, `n × m`.
    pub input: &'a DMatrix<T>,
    /// `z`, `n × code_dim`.
    pub pre_activation: &'a DMatrix<T>,
    /// `h = s(z)`, `n × code_dim`.
    pub code: &'a DMatrix<T>,
    /// `s`.
    pub activation: Activation,
    /// `W`, `code_dim × m`; `None` when the encoder does not expose it.
    pub encoder_weights: Option<&'a DMatrix<T>>,
    /// The decoder's own weights, `input_dim × code_dim`; `None` when tied.
    pub decoder_weights: Option<&'a DMatrix<T>>,
}

impl<'a, T: Scalar> RegularizerInput<'a, T> {
    /// What a penalty sees of a batch whose code layer's input is `input` (`n × m`), with
    /// pre-activation `z` and code `h = s(z)` (both `n × code_dim`), and no weights; add them
    /// with [`with_encoder_weights`](Self::with_encoder_weights) and
    /// [`with_decoder_weights`](Self::with_decoder_weights). For testing a penalty on its own:
    ///
    /// ```
    /// use autoencoders::{Activation, L1Sparsity, Regularizer, RegularizerGradient, RegularizerInput};
    /// use nalgebra::DMatrix;
    ///
    /// let (u, z) = (DMatrix::from_element(2, 3, 1.0), DMatrix::from_element(2, 4, 0.0));
    /// let h = z.map(|z: f64| 1.0 / (1.0 + (-z).exp()));
    /// let input = RegularizerInput::new(&u, &z, &h, Activation::Sigmoid)?;
    /// let (mut grad_h, mut grad_z) = (DMatrix::zeros(2, 4), DMatrix::zeros(2, 4));
    /// let mut grad = RegularizerGradient::new(&mut grad_h, &mut grad_z);
    /// // λ·mean over samples of Σ_j |h_j|, with every h_j = ½: 0.1 · 4 · ½.
    /// let penalty = L1Sparsity::new(0.1)?.penalty(&input, &mut grad);
    /// assert!((penalty - 0.2).abs() < 1e-12);
    /// assert!(grad_h.iter().all(|&g| (g - 0.05).abs() < 1e-12));
    /// # Ok::<(), autoencoders::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] when the shapes do not fit together.
    pub fn new(
        input: &'a DMatrix<T>,
        pre_activation: &'a DMatrix<T>,
        code: &'a DMatrix<T>,
        activation: Activation,
    ) -> Result<Self> {
        check_size(
            "samples of the pre-activation",
            input.nrows(),
            pre_activation.nrows(),
        )?;
        check_size("rows of the code", pre_activation.nrows(), code.nrows())?;
        check_size("columns of the code", pre_activation.ncols(), code.ncols())?;
        Ok(Self {
            input,
            pre_activation,
            code,
            activation,
            encoder_weights: None,
            decoder_weights: None,
        })
    }

    /// The code layer's weights `W`, `code_dim × m`.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] when `W` does not map the input to the code.
    pub fn with_encoder_weights(mut self, weights: &'a DMatrix<T>) -> Result<Self> {
        check_size(
            "rows of the encoder weights (code_dim)",
            self.code.ncols(),
            weights.nrows(),
        )?;
        check_size(
            "columns of the encoder weights",
            self.input.ncols(),
            weights.ncols(),
        )?;
        self.encoder_weights = Some(weights);
        Ok(self)
    }

    /// The decoder's own weights `V`, `input_dim × code_dim`.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] when `V` does not take the code.
    pub fn with_decoder_weights(mut self, weights: &'a DMatrix<T>) -> Result<Self> {
        check_size(
            "columns of the decoder weights (code_dim)",
            self.code.ncols(),
            weights.ncols(),
        )?;
        self.decoder_weights = Some(weights);
        Ok(self)
    }
}

/// Where a regularizer adds its gradient. Every buffer already holds other contributions:
/// add to it, never overwrite, and never replace a buffer by a matrix of another shape
/// (training stops with [`Error::MisshapenRegularizerGradient`] if one does, and with
/// [`Error::NonFiniteRegularizer`] if a regularizer leaves a NaN or ∞ in a buffer that was
/// finite).
#[derive(Debug)]
#[non_exhaustive]
pub struct RegularizerGradient<'a, T: Scalar> {
    /// `∂P/∂h`, `n × code_dim`: for penalties on the code. Backpropagated through `s`.
    pub code: &'a mut DMatrix<T>,
    /// `∂P/∂z` taken directly (not through `h`), `n × code_dim`: for penalties that depend on
    /// `z` through `s'(z)`, like the contractive one. Backpropagated through `W` and `b`.
    pub pre_activation: &'a mut DMatrix<T>,
    /// `∂P/∂W` taken directly, `code_dim × m`; `None` when the encoder hides `W`.
    pub encoder_weights: Option<&'a mut DMatrix<T>>,
    /// `∂P/∂V` for the decoder's own weights, `input_dim × code_dim`; `None` when tied.
    pub decoder_weights: Option<&'a mut DMatrix<T>>,
}

impl<'a, T: Scalar> RegularizerGradient<'a, T> {
    /// Buffers for `∂P/∂h` and the direct `∂P/∂z`, both `n × code_dim`, and none for the
    /// weights; see [`RegularizerInput::new`] for an example.
    pub fn new(code: &'a mut DMatrix<T>, pre_activation: &'a mut DMatrix<T>) -> Self {
        Self {
            code,
            pre_activation,
            encoder_weights: None,
            decoder_weights: None,
        }
    }

    /// A buffer for `∂P/∂W`, the shape of the encoder's code-layer weights.
    pub fn with_encoder_weights(mut self, grad: &'a mut DMatrix<T>) -> Self {
        self.encoder_weights = Some(grad);
        self
    }

    /// A buffer for `∂P/∂V`, the shape of the decoder's own weights.
    pub fn with_decoder_weights(mut self, grad: &'a mut DMatrix<T>) -> Self {
        self.decoder_weights = Some(grad);
        self
    }
}

/// The parts of a model a regularizer may need to check before training.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Architecture {
    /// Features per sample.
    pub input_dim: usize,
    /// Units in the code.
    pub code_dim: usize,
    /// The code layer's activation.
    pub encoder_activation: Activation,
    /// The decoder's output activation.
    pub decoder_activation: Activation,
    /// Whether the encoder exposes its code-layer weights.
    pub has_code_weights: bool,
    /// Whether the decoder's weights are tied to the encoder's.
    pub tied: bool,
    /// The reconstruction loss when it is a built-in one, `None` for a user's own
    /// [`Loss`](crate::Loss).
    pub loss: Option<BuiltinLoss>,
}

/// A penalty on the code, the weights, or both, with its exact gradient.
///
/// Small and open, like nalgebra's `Norm`: each built-in penalty is its own type with a
/// validated constructor, a tuple of regularizers is a regularizer (values and gradients add),
/// and users write their own against this trait.
///
/// # Implementing `Regularizer`
/// A penalty `(λ/2)·Σ_j (mean_s h_sj)²` on the batch means of the codes. It is batch-level, so
/// its value is added to `J` once; its gradient `λ·mean_s(h_sj)/n` goes to `∂P/∂h`.
/// ```
/// use autoencoders::{Regularizer, RegularizerGradient, RegularizerInput};
///
/// struct MeanCodePenalty { weight: f64 }
///
/// impl Regularizer<f64> for MeanCodePenalty {
///     fn penalty(&self, input: &RegularizerInput<'_, f64>, grad: &mut RegularizerGradient<'_, f64>) -> f64 {
///         let n = input.code.nrows() as f64;
///         let mut value = 0.0;
///         for (j, column) in input.code.column_iter().enumerate() {
///             let mean = column.sum() / n;
///             value += 0.5 * self.weight * mean * mean;
///             for s in 0..input.code.nrows() {
///                 grad.code[(s, j)] += self.weight * mean / n;
///             }
///         }
///         value
///     }
/// }
/// ```
pub trait Regularizer<T: Scalar> {
    /// The penalty's name, used in error messages and saved models.
    fn name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }

    /// Checks that the penalty is defined for this model; `fit` calls it before any work.
    ///
    /// # Errors
    /// Whatever the penalty cannot work with (e.g. codes outside (0, 1) for KL sparsity).
    fn check(&self, architecture: &Architecture) -> Result<()> {
        let _ = architecture;
        Ok(())
    }

    /// The penalty's contribution to the batch objective `J`, with its gradient added to
    /// `grad`.
    fn penalty(&self, input: &RegularizerInput<'_, T>, grad: &mut RegularizerGradient<'_, T>) -> T;

    /// The penalty's part on the model's parameters themselves, over every layer (not only the
    /// code layer that [`penalty`](Self::penalty) sees), added to `J` once per batch.
    ///
    /// `parameters` lists every trainable tensor of the model, named and with its
    /// [`TensorKind`](crate::TensorKind); tied weights appear once. When `gradients` is given it holds one buffer
    /// per entry of `parameters`, in the same order and of the same length, already holding the
    /// rest of the gradient: add to it. The provided method is no penalty;
    /// [`WeightDecay`] implements it.
    ///
    /// ```
    /// use autoencoders::{Parameter, Regularizer, TensorKind, WeightDecay};
    ///
    /// let (w, b) = ([1.0, 2.0], [5.0]);
    /// let parameters = [
    ///     Parameter::new("encoder.weight", TensorKind::Weight, &w[..]),
    ///     Parameter::new("encoder.bias", TensorKind::Bias, &b[..]),
    /// ];
    /// let (mut gw, mut gb) = ([0.0; 2], [0.0]);
    /// let mut gradients = [&mut gw[..], &mut gb[..]];
    /// let decay = WeightDecay::new(0.5)?;
    /// // (λ/2)·Σ w² over the weights only: 0.25 · 5.
    /// assert_eq!(decay.parameter_penalty(&parameters, Some(&mut gradients)), 1.25);
    /// assert_eq!((gw, gb), ([0.5, 1.0], [0.0]));
    /// # Ok::<(), autoencoders::Error>(())
    /// ```
    fn parameter_penalty(
        &self,
        parameters: &[Parameter<'_, T>],
        gradients: Option<&mut [&mut [T]]>,
    ) -> T {
        let _ = (parameters, gradients);
        T::zero()
    }

    /// The penalty as a list of built-in regularizers, so that a saved model can be rebuilt;
    /// `None` (the default) for a penalty the crate does not know, which is then saved by
    /// [`name`](Self::name) and [`hyper_parameters`](Self::hyper_parameters).
    fn builtin(&self) -> Option<Vec<BuiltinRegularizer>> {
        None
    }

    /// A user's penalty's hyper-parameters by name, recorded in saved models and checkpoints
    /// beside its name, so that resuming a run with another value (a different `λ`) is
    /// refused with [`Error::CheckpointMismatch`]. The provided method reports none.
    fn hyper_parameters(&self) -> Vec<(&'static str, f64)> {
        Vec::new()
    }

    /// The penalty's members as a saved file records them: the built-in ones, and each user
    /// one by name and hyper-parameters. The provided method gives
    /// [`builtin`](Self::builtin)'s list, or the penalty itself as one user member; tuples and
    /// `Vec`s list each of their members, so `(Contractive, MyPenalty)` records both.
    fn parts(&self) -> Vec<RegularizerPart> {
        match self.builtin() {
            Some(list) => list.into_iter().map(RegularizerPart::Builtin).collect(),
            None => vec![RegularizerPart::Custom {
                name: self.name(),
                hyper_parameters: self.hyper_parameters(),
            }],
        }
    }
}

/// One member of a regularizer as a saved file records it; see [`Regularizer::parts`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum RegularizerPart {
    /// One of the crate's penalties, with its settings.
    Builtin(BuiltinRegularizer),
    /// A user's penalty: the caller supplies it when loading.
    Custom {
        /// Its [`name`](Regularizer::name).
        name: &'static str,
        /// Its [`hyper_parameters`](Regularizer::hyper_parameters).
        hyper_parameters: Vec<(&'static str, f64)>,
    },
}

/// No penalty: the plain autoencoder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct NoRegularizer;

impl<T: Scalar> Regularizer<T> for NoRegularizer {
    fn name(&self) -> &'static str {
        "none"
    }

    fn penalty(&self, _: &RegularizerInput<'_, T>, _: &mut RegularizerGradient<'_, T>) -> T {
        T::zero()
    }

    fn builtin(&self) -> Option<Vec<BuiltinRegularizer>> {
        Some(Vec::new())
    }
}

impl<T: Scalar, R: Regularizer<T> + ?Sized> Regularizer<T> for &R {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn check(&self, architecture: &Architecture) -> Result<()> {
        (**self).check(architecture)
    }

    fn penalty(&self, input: &RegularizerInput<'_, T>, grad: &mut RegularizerGradient<'_, T>) -> T {
        (**self).penalty(input, grad)
    }

    fn parameter_penalty(
        &self,
        parameters: &[Parameter<'_, T>],
        gradients: Option<&mut [&mut [T]]>,
    ) -> T {
        (**self).parameter_penalty(parameters, gradients)
    }

    fn builtin(&self) -> Option<Vec<BuiltinRegularizer>> {
        (**self).builtin()
    }

    fn hyper_parameters(&self) -> Vec<(&'static str, f64)> {
        (**self).hyper_parameters()
    }

    fn parts(&self) -> Vec<RegularizerPart> {
        (**self).parts()
    }
}

/// A boxed regularizer, for lists of different penalties chosen at run time.
impl<T: Scalar, R: Regularizer<T> + ?Sized> Regularizer<T> for Box<R> {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn check(&self, architecture: &Architecture) -> Result<()> {
        (**self).check(architecture)
    }

    fn penalty(&self, input: &RegularizerInput<'_, T>, grad: &mut RegularizerGradient<'_, T>) -> T {
        (**self).penalty(input, grad)
    }

    fn parameter_penalty(
        &self,
        parameters: &[Parameter<'_, T>],
        gradients: Option<&mut [&mut [T]]>,
    ) -> T {
        (**self).parameter_penalty(parameters, gradients)
    }

    fn builtin(&self) -> Option<Vec<BuiltinRegularizer>> {
        (**self).builtin()
    }

    fn hyper_parameters(&self) -> Vec<(&'static str, f64)> {
        (**self).hyper_parameters()
    }

    fn parts(&self) -> Vec<RegularizerPart> {
        (**self).parts()
    }
}

/// A list of regularizers is a regularizer: the penalties and gradients add.
impl<T: Scalar, R: Regularizer<T>> Regularizer<T> for Vec<R> {
    fn name(&self) -> &'static str {
        "list"
    }

    fn check(&self, architecture: &Architecture) -> Result<()> {
        self.iter().try_for_each(|r| r.check(architecture))
    }

    fn penalty(&self, input: &RegularizerInput<'_, T>, grad: &mut RegularizerGradient<'_, T>) -> T {
        self.iter()
            .fold(T::zero(), |total, r| total + r.penalty(input, grad))
    }

    fn parameter_penalty(
        &self,
        parameters: &[Parameter<'_, T>],
        mut gradients: Option<&mut [&mut [T]]>,
    ) -> T {
        self.iter().fold(T::zero(), |total, r| {
            total + r.parameter_penalty(parameters, gradients.as_deref_mut())
        })
    }

    fn builtin(&self) -> Option<Vec<BuiltinRegularizer>> {
        let parts: Option<Vec<Vec<BuiltinRegularizer>>> =
            self.iter().map(|r| r.builtin()).collect();
        parts.map(|p| p.concat())
    }

    fn parts(&self) -> Vec<RegularizerPart> {
        self.iter().flat_map(|r| r.parts()).collect()
    }
}

macro_rules! impl_tuple {
    ($($name:ident),+) => {
        impl<T: Scalar, $($name: Regularizer<T>),+> Regularizer<T> for ($($name,)+) {
            fn name(&self) -> &'static str {
                "tuple"
            }

            fn check(&self, architecture: &Architecture) -> Result<()> {
                #[allow(non_snake_case)]
                let ($($name,)+) = self;
                $($name.check(architecture)?;)+
                Ok(())
            }

            fn penalty(
                &self,
                input: &RegularizerInput<'_, T>,
                grad: &mut RegularizerGradient<'_, T>,
            ) -> T {
                #[allow(non_snake_case)]
                let ($($name,)+) = self;
                T::zero() $(+ $name.penalty(input, grad))+
            }

            fn parameter_penalty(
                &self,
                parameters: &[Parameter<'_, T>],
                mut gradients: Option<&mut [&mut [T]]>,
            ) -> T {
                #[allow(non_snake_case)]
                let ($($name,)+) = self;
                T::zero() $(+ $name.parameter_penalty(parameters, gradients.as_deref_mut()))+
            }

            fn builtin(&self) -> Option<Vec<BuiltinRegularizer>> {
                #[allow(non_snake_case)]
                let ($($name,)+) = self;
                let mut all = Vec::new();
                $(all.extend($name.builtin()?);)+
                Some(all)
            }

            fn parts(&self) -> Vec<RegularizerPart> {
                #[allow(non_snake_case)]
                let ($($name,)+) = self;
                let mut all = Vec::new();
                $(all.extend($name.parts());)+
                all
            }
        }
    };
}

impl_tuple!(A);
impl_tuple!(A, B);
impl_tuple!(A, B, C);
impl_tuple!(A, B, C, D);
impl_tuple!(A, B, C, D, E);
impl_tuple!(A, B, C, D, E, F);

/// The names of the buffers of [`RegularizerGradient`], in the order of its fields.
const GRADIENT_BUFFERS: [&str; 4] = [
    "code",
    "pre_activation",
    "encoder_weights",
    "decoder_weights",
];

impl<T: Scalar> RegularizerGradient<'_, T> {
    /// The buffers, in the order of [`GRADIENT_BUFFERS`].
    fn buffers(&self) -> [Option<&DMatrix<T>>; 4] {
        [
            Some(&*self.code),
            Some(&*self.pre_activation),
            self.encoder_weights.as_deref(),
            self.decoder_weights.as_deref(),
        ]
    }

    fn shapes(&self) -> [Option<(usize, usize)>; 4] {
        self.buffers().map(|b| b.map(DMatrix::shape))
    }

    fn is_finite(&self) -> bool {
        self.buffers()
            .into_iter()
            .flatten()
            .all(|b| all_finite(b.as_slice()))
    }
}

/// Calls `regularizer.penalty` and checks what comes back: every gradient buffer keeps its
/// shape, the penalty is finite, and (when `check_gradient`) buffers that were finite before
/// the call still are. Any failure names the regularizer.
pub(crate) fn checked_penalty<T: Scalar, R: Regularizer<T> + ?Sized>(
    regularizer: &R,
    input: &RegularizerInput<'_, T>,
    grad: &mut RegularizerGradient<'_, T>,
    check_gradient: bool,
) -> Result<T> {
    // The crate's own penalties are tested to keep their gradient shapes and to stay finite on
    // finite input (the training loop still catches overflow as divergence); scanning every
    // gradient buffer twice per batch cost a few per cent of a training step.
    let check_gradient = check_gradient && regularizer.builtin().is_none();
    let shapes = grad.shapes();
    // Other contributions may already be non-finite; then the regularizer is not to blame, and
    // the training loop reports the divergence.
    let finite_before = check_gradient && grad.is_finite();
    let penalty = regularizer.penalty(input, grad);
    let name = regularizer.name();
    let after = grad.shapes();
    for ((buffer, before), after) in GRADIENT_BUFFERS.into_iter().zip(shapes).zip(after) {
        if let (Some(expected), Some(found)) = (before, after)
            && expected != found
        {
            return Err(Error::MisshapenRegularizerGradient {
                name,
                buffer,
                expected,
                found,
            });
        }
    }
    if !penalty.is_finite() {
        return Err(Error::NonFiniteRegularizer {
            name,
            part: "penalty",
        });
    }
    if finite_before && !grad.is_finite() {
        return Err(Error::NonFiniteRegularizer {
            name,
            part: "gradient",
        });
    }
    Ok(penalty)
}

/// Checks a penalty weight: finite and ≥ 0.
fn check_weight(name: &'static str, weight: f64) -> Result<()> {
    crate::validate::check_param(name, weight, weight >= 0.0, "a finite value >= 0")
}
