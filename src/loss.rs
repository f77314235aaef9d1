//! Reconstruction losses `L(x, x̂)`: the open [`Loss`] trait and the built-in losses.

use crate::activation::softplus;
use crate::sums::{SUM_BLOCK, block_sum, pair_sum};
use crate::validate::check_unit_interval;
use crate::{Activation, Error, Result, Scalar};
use nalgebra::DMatrix;

/// What a reconstruction loss sees of one batch of `n` samples of `d` features.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct LossInput<'a, T: Scalar> {
    /// The clean batch `x`, `n × d`.
    pub x: &'a DMatrix<T>,
    /// The decoder's pre-activation `a`, `n × d`.
    pub pre_activation: &'a DMatrix<T>,
    /// The reconstruction `x̂ = s(a)`, `n × d`.
    pub x_hat: &'a DMatrix<T>,
    /// The decoder's output activation `s`.
    pub activation: Activation,
}

impl<'a, T: Scalar> LossInput<'a, T> {
    /// The input of a loss, e.g. to test one outside a model.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] unless the three matrices have the same shape.
    pub fn new(
        x: &'a DMatrix<T>,
        pre_activation: &'a DMatrix<T>,
        x_hat: &'a DMatrix<T>,
        activation: Activation,
    ) -> Result<Self> {
        for (what, m) in [
            (
                "entries of the pre-activation (the shape of x)",
                pre_activation,
            ),
            ("entries of the reconstruction (the shape of x)", x_hat),
        ] {
            if m.shape() != x.shape() {
                return Err(Error::DimensionMismatch {
                    what,
                    expected: x.len(),
                    found: m.len(),
                });
            }
        }
        Ok(Self {
            x,
            pre_activation,
            x_hat,
            activation,
        })
    }
}

/// A reconstruction loss `L(x, x̂)` per sample, averaged over the batch, with its exact
/// gradient with respect to the decoder's pre-activation.
///
/// [`ReconstructionLoss`] holds the built-in ones (squared error and cross-entropy); users
/// write their own against this trait, and a model takes any of them through
/// [`Autoencoder::with_loss`](crate::Autoencoder::with_loss).
///
/// # Implementing `Loss`
/// The Huber loss, quadratic within `δ` of the target and linear beyond, which a few wild
/// pixels cannot dominate. The gradient is taken with respect to `x̂` first, then carried
/// through the decoder's activation with
/// [`Activation::scale_by_derivative`](crate::Activation::scale_by_derivative).
/// ```
/// use autoencoders::{Activation, Loss, LossInput};
/// use nalgebra::DMatrix;
///
/// struct Huber { delta: f64 }
///
/// impl Loss<f64> for Huber {
///     fn name(&self) -> &'static str { "huber" }
///
///     fn value_and_gradient(&self, input: &LossInput<'_, f64>, grad: &mut DMatrix<f64>) -> f64 {
///         let n = input.x.nrows() as f64;
///         let mut total = 0.0;
///         for ((g, &x), &y) in grad.iter_mut().zip(input.x.iter()).zip(input.x_hat.iter()) {
///             let r = y - x;
///             if r.abs() <= self.delta {
///                 total += 0.5 * r * r;
///                 *g = r / n;
///             } else {
///                 total += self.delta * (r.abs() - 0.5 * self.delta);
///                 *g = self.delta * r.signum() / n;
///             }
///         }
///         input.activation.scale_by_derivative(
///             input.pre_activation.as_slice(), input.x_hat.as_slice(), grad.as_mut_slice());
///         total / n
///     }
/// }
///
/// let x = DMatrix::from_row_slice(1, 2, &[0.0, 0.0]);
/// let a = DMatrix::from_row_slice(1, 2, &[0.5, 3.0]);
/// let input = LossInput::new(&x, &a, &a, Activation::Linear)?;
/// let mut grad = DMatrix::zeros(1, 2);
/// let value = Huber { delta: 1.0 }.value_and_gradient(&input, &mut grad);
/// assert_eq!(value, 0.125 + 2.5);
/// assert_eq!(grad, DMatrix::from_row_slice(1, 2, &[0.5, 1.0]));
/// # Ok::<(), autoencoders::Error>(())
/// ```
pub trait Loss<T: Scalar> {
    /// The loss's name, used in error messages and saved models.
    fn name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }

    /// Checks that the loss is defined for a decoder with output activation `activation` and
    /// for the data `x` (called `what` in errors); `fit` calls it before any work.
    ///
    /// # Errors
    /// Whatever the loss cannot work with (e.g. cross-entropy without a sigmoid decoder, or on
    /// data outside [0, 1]).
    fn check(&self, activation: Activation, x: &DMatrix<T>, what: &'static str) -> Result<()> {
        let _ = (activation, x, what);
        Ok(())
    }

    /// The batch mean of the per-sample loss, with its gradient with respect to the decoder's
    /// pre-activation `a` written into `grad` (`n × d` like `x`; overwrite every entry).
    fn value_and_gradient(&self, input: &LossInput<'_, T>, grad: &mut DMatrix<T>) -> T;

    /// The per-sample loss of every row of the batch, in `f64`: what
    /// [`value_and_gradient`](Self::value_and_gradient) averages, and a sample's anomaly score
    /// (see [`anomaly`](crate::anomaly)).
    ///
    /// The provided method evaluates `value_and_gradient` on each row alone (a batch of one,
    /// whose mean is its value), so a user's loss has it without writing it; the built-in
    /// losses override it with a direct sum per row in `f64`.
    fn sample_values(&self, input: &LossInput<'_, T>) -> Vec<f64> {
        let (n, d) = input.x.shape();
        let mut grad = DMatrix::zeros(1, d);
        (0..n)
            .map(|i| {
                let x = input.x.rows(i, 1).into_owned();
                let a = input.pre_activation.rows(i, 1).into_owned();
                let y = input.x_hat.rows(i, 1).into_owned();
                let row = LossInput {
                    x: &x,
                    pre_activation: &a,
                    x_hat: &y,
                    activation: input.activation,
                };
                self.value_and_gradient(&row, &mut grad).as_f64()
            })
            .collect()
    }

    /// The loss as a built-in one, so that a saved model can be rebuilt; `None` (the default)
    /// for a loss the crate does not know, which is then saved by [`name`](Self::name) and
    /// [`hyper_parameters`](Self::hyper_parameters) only.
    fn builtin(&self) -> Option<BuiltinLoss> {
        None
    }

    /// A user's loss's hyper-parameters by name (e.g. Huber's `δ`), recorded beside its name in
    /// saved models and checkpoints, so that resuming with another value is refused. The
    /// provided method reports none.
    fn hyper_parameters(&self) -> Vec<(&'static str, f64)> {
        Vec::new()
    }
}

macro_rules! forward_loss {
    ($($pointer:ty),+) => {$(
        impl<T: Scalar, L: Loss<T> + ?Sized> Loss<T> for $pointer {
            fn name(&self) -> &'static str {
                (**self).name()
            }

            fn check(&self, activation: Activation, x: &DMatrix<T>, what: &'static str) -> Result<()> {
                (**self).check(activation, x, what)
            }

            fn value_and_gradient(&self, input: &LossInput<'_, T>, grad: &mut DMatrix<T>) -> T {
                (**self).value_and_gradient(input, grad)
            }

            fn sample_values(&self, input: &LossInput<'_, T>) -> Vec<f64> {
                (**self).sample_values(input)
            }

            fn builtin(&self) -> Option<BuiltinLoss> {
                (**self).builtin()
            }

            fn hyper_parameters(&self) -> Vec<(&'static str, f64)> {
                (**self).hyper_parameters()
            }
        }
    )+};
}

// A reference, a box (a loss chosen at run time) and a shared pointer are losses too.
forward_loss!(&L, Box<L>, std::sync::Arc<L>);

/// The built-in reconstruction losses, per sample, averaged over the samples of a batch.
///
/// | variant | per-sample `L(x, x̂)` | `∂L/∂a` (decoder pre-activation `a`) |
/// | --- | --- | --- |
/// | `SquaredError` | `Σ_i (x_i − x̂_i)²` | `2(x̂_i − x_i)·s'(a_i)` |
/// | `CrossEntropy` | `−Σ_i [x_i ln x̂_i + (1 − x_i) ln(1 − x̂_i)]` | `x̂_i − x_i` |
///
/// The squared error is the plain sum over input features: no ½, no 1/d. The cross-entropy
/// needs inputs in [0, 1] and a sigmoid decoder; it is evaluated from the pre-activation as
/// `softplus(a) − x·a`, which is exact and never NaN or ∞ for saturated units; its
/// [`check`](Loss::check) refuses any other decoder and data outside [0, 1].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
pub enum ReconstructionLoss {
    /// Sum of squared errors. The default.
    #[default]
    SquaredError,
    /// Binary cross-entropy, for data in [0, 1] and a sigmoid decoder.
    CrossEntropy,
}

impl ReconstructionLoss {
    /// The name used in files and on the command line (`"squared-error"`, `"cross-entropy"`).
    pub fn name(self) -> &'static str {
        match self {
            ReconstructionLoss::SquaredError => "squared-error",
            ReconstructionLoss::CrossEntropy => "cross-entropy",
        }
    }

    /// The loss with the given [`name`](Self::name), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::SquaredError, Self::CrossEntropy]
            .into_iter()
            .find(|&l| ReconstructionLoss::name(l) == name)
    }

    /// Mean over the batch of the per-sample loss.
    ///
    /// # Shapes
    /// `x`, `pre_activation` and `x_hat` are all `n × input_dim`.
    pub fn value<T: Scalar>(
        self,
        x: &DMatrix<T>,
        pre_activation: &DMatrix<T>,
        x_hat: &DMatrix<T>,
    ) -> T {
        let total = match self {
            ReconstructionLoss::SquaredError => crate::simd::wide(
                #[inline(always)]
                || sum_of_squared_differences(x.as_slice(), x_hat.as_slice()),
            ),
            ReconstructionLoss::CrossEntropy => {
                cross_entropy_sum(x.as_slice(), pre_activation.as_slice())
            }
        };
        T::cast(total / x.nrows() as f64)
    }

    /// The batch-mean loss and its gradient with respect to the decoder's pre-activation,
    /// written into `grad` (resized to `n × input_dim`).
    pub fn value_and_gradient<T: Scalar>(
        self,
        x: &DMatrix<T>,
        pre_activation: &DMatrix<T>,
        x_hat: &DMatrix<T>,
        activation: Activation,
        grad: &mut DMatrix<T>,
    ) -> T {
        crate::linalg::resize(grad, x.nrows(), x.ncols());
        let n = x.nrows();
        let scale = T::one() / T::cast(n as f64);
        let two_scale = scale + scale;
        let (x, a, y, g) = (
            x.as_slice(),
            pre_activation.as_slice(),
            x_hat.as_slice(),
            grad.as_mut_slice(),
        );
        let total = match self {
            ReconstructionLoss::SquaredError => {
                let total = crate::simd::wide(
                    #[inline(always)]
                    || {
                        for ((g, &x), &y) in g.iter_mut().zip(x).zip(y) {
                            *g = two_scale * (y - x);
                        }
                        sum_of_squared_differences(x, y)
                    },
                );
                activation.scale_by_derivative(a, y, g);
                total
            }
            ReconstructionLoss::CrossEntropy => {
                // One pass: each block's gradient, then its sum while the block is in cache.
                let mut total = 0.0;
                let blocks = g
                    .chunks_mut(SUM_BLOCK)
                    .zip(x.chunks(SUM_BLOCK))
                    .zip(a.chunks(SUM_BLOCK).zip(y.chunks(SUM_BLOCK)));
                for ((g, x), (a, y)) in blocks {
                    for ((g, &x), &y) in g.iter_mut().zip(x).zip(y) {
                        *g = scale * (y - x);
                    }
                    total += block_sum(x, a, |x, a| softplus(a) - x * a).as_f64();
                }
                total
            }
        };
        T::cast(total / n as f64)
    }
}

/// `Σ (y − x)²`, in `f64`, by [`pair_sum`] (blocks of eight interleaved partial sums in the
/// scalar type, the blocks added in `f64`; the grouping does not depend on the machine).
#[inline(always)]
fn sum_of_squared_differences<T: Scalar>(x: &[T], y: &[T]) -> f64 {
    pair_sum(x, y, |x, y| {
        let diff = y - x;
        diff * diff
    })
}

/// `Σ softplus(a) − x·a`, the cross-entropy from the pre-activation, in `f64`, by
/// [`pair_sum`].
fn cross_entropy_sum<T: Scalar>(x: &[T], a: &[T]) -> f64 {
    pair_sum(x, a, |x, a| softplus(a) - x * a)
}

impl<T: Scalar> Loss<T> for ReconstructionLoss {
    fn name(&self) -> &'static str {
        ReconstructionLoss::name(*self)
    }

    fn check(&self, activation: Activation, x: &DMatrix<T>, what: &'static str) -> Result<()> {
        if *self == ReconstructionLoss::CrossEntropy {
            if activation != Activation::Sigmoid {
                return Err(Error::IncompatibleActivation {
                    component: "the cross-entropy loss",
                    expected: "a sigmoid decoder",
                    found: activation,
                });
            }
            check_unit_interval(x, what)?;
        }
        Ok(())
    }

    fn value_and_gradient(&self, input: &LossInput<'_, T>, grad: &mut DMatrix<T>) -> T {
        ReconstructionLoss::value_and_gradient(
            *self,
            input.x,
            input.pre_activation,
            input.x_hat,
            input.activation,
            grad,
        )
    }

    fn sample_values(&self, input: &LossInput<'_, T>) -> Vec<f64> {
        match self {
            ReconstructionLoss::SquaredError => {
                crate::sums::row_sums_f64(input.x, input.x_hat, |x, y| (y - x) * (y - x))
            }
            ReconstructionLoss::CrossEntropy => {
                crate::sums::row_sums_f64(input.x, input.pre_activation, |x, a| softplus(a) - x * a)
            }
        }
    }

    fn builtin(&self) -> Option<BuiltinLoss> {
        Some(BuiltinLoss::Reconstruction(*self))
    }
}

/// The correntropy loss (Liu, Pokharel & Príncipe 2007; Qi et al. 2014), robust to outliers:
/// per sample `Σ_i [1 − exp(−(x_i − x̂_i)² / (2σ²))]`, averaged over the batch.
///
/// Each feature costs about `r²/(2σ²)` for a residual `r` well within `σ` — half the squared
/// error, scaled — but never more than 1, however wild the pixel: a few corrupted inputs cannot
/// dominate the fit. The gradient with respect to `x̂_i` is `exp(−r_i²/(2σ²))·r_i/σ²`, carried
/// through the decoder's activation.
///
/// R's `ruta` (`correntropy(sigma = 0.2)`) minimises `−Σ κ(r)` summed over the whole batch,
/// with the kernel `κ(r) = c·exp(−r²/(2σ²))` and a constant `c` (its source has
/// `c = 1/√(2πσ)`; the Gaussian density's would be `1/(√(2π)·σ)`). Per feature ours is
/// `1 − κ(r)/c`: the same minimisers, shifted to be 0 at a perfect reconstruction and scaled so
/// that every feature costs less than 1 whatever `σ` (the gradient divided by `c`), and
/// averaged over the samples instead of summed over the batch.
///
/// ```
/// use autoencoders::{Activation, Correntropy, Loss, LossInput};
/// use nalgebra::DMatrix;
///
/// let loss = Correntropy::new(0.5)?;
/// let x = DMatrix::from_row_slice(1, 2, &[0.0, 0.0]);
/// let x_hat = DMatrix::from_row_slice(1, 2, &[0.5, 100.0]); // one wild pixel
/// let input = LossInput::new(&x, &x_hat, &x_hat, Activation::Linear)?;
/// let mut grad = DMatrix::zeros(1, 2);
/// let value: f64 = loss.value_and_gradient(&input, &mut grad);
/// // 1 − e^(−1/2) for the first pixel, all but exactly 1 for the second.
/// assert!((value - (2.0 - (-0.5f64).exp())).abs() < 1e-12);
/// assert!(grad[(0, 1)].abs() < 1e-300);
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(remote = "Self", deny_unknown_fields)
)]
pub struct Correntropy {
    sigma: f64,
}

impl Correntropy {
    /// The loss with kernel width `sigma` (in the data's units; ruta's default is 0.2).
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] unless `sigma` is finite and positive.
    pub fn new(sigma: f64) -> Result<Self> {
        crate::validate::check_param("sigma", sigma, sigma > 0.0, "a finite value > 0")?;
        Ok(Self { sigma })
    }

    /// The kernel width `σ`.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// `1 − exp(−r²/(2σ²))` and its derivative `exp(−r²/(2σ²))·r/σ²` for a residual `r`.
    #[inline]
    fn term(&self, r: f64) -> (f64, f64) {
        let s2 = self.sigma * self.sigma;
        let k = (-r * r / (2.0 * s2)).exp();
        (1.0 - k, k * r / s2)
    }
}

impl<T: Scalar> Loss<T> for Correntropy {
    fn name(&self) -> &'static str {
        "correntropy"
    }

    fn value_and_gradient(&self, input: &LossInput<'_, T>, grad: &mut DMatrix<T>) -> T {
        crate::linalg::resize(grad, input.x.nrows(), input.x.ncols());
        let n = input.x.nrows() as f64;
        let mut total = 0.0;
        let values = input.x.iter().zip(input.x_hat.iter());
        for (g, (&x, &y)) in grad.iter_mut().zip(values) {
            let (value, slope) = self.term(y.as_f64() - x.as_f64());
            total += value;
            *g = T::cast(slope / n);
        }
        input.activation.scale_by_derivative(
            input.pre_activation.as_slice(),
            input.x_hat.as_slice(),
            grad.as_mut_slice(),
        );
        T::cast(total / n)
    }

    fn sample_values(&self, input: &LossInput<'_, T>) -> Vec<f64> {
        crate::sums::row_sums_f64(input.x, input.x_hat, |x, y| self.term(y - x).0)
    }

    fn hyper_parameters(&self) -> Vec<(&'static str, f64)> {
        vec![("sigma", self.sigma)]
    }

    fn builtin(&self) -> Option<BuiltinLoss> {
        Some(BuiltinLoss::Correntropy(*self))
    }
}

/// Any one of the crate's losses, chosen at run time: the loss of a
/// [`DynamicAutoencoder`](crate::DynamicAutoencoder) or a
/// [`DeepAutoencoder`](crate::DeepAutoencoder), which a saved file names and rebuilds.
///
/// ```
/// use autoencoders::{BuiltinLoss, Correntropy, Loss, ReconstructionLoss};
///
/// let robust: BuiltinLoss = Correntropy::new(0.5)?.into();
/// let plain = BuiltinLoss::from(ReconstructionLoss::CrossEntropy);
/// assert_eq!(Loss::<f32>::name(&robust), "correntropy");
/// assert_eq!(Loss::<f32>::hyper_parameters(&robust), vec![("sigma", 0.5)]);
/// assert_eq!(Loss::<f32>::name(&plain), "cross-entropy");
/// assert_eq!(BuiltinLoss::default(), ReconstructionLoss::SquaredError);
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
pub enum BuiltinLoss {
    /// Squared error or cross-entropy.
    Reconstruction(ReconstructionLoss),
    /// The correntropy loss, robust to outliers.
    Correntropy(Correntropy),
}

impl Default for BuiltinLoss {
    /// The squared error, as for [`ReconstructionLoss`].
    fn default() -> Self {
        BuiltinLoss::Reconstruction(ReconstructionLoss::default())
    }
}

impl From<ReconstructionLoss> for BuiltinLoss {
    fn from(loss: ReconstructionLoss) -> Self {
        BuiltinLoss::Reconstruction(loss)
    }
}

impl From<Correntropy> for BuiltinLoss {
    fn from(loss: Correntropy) -> Self {
        BuiltinLoss::Correntropy(loss)
    }
}

impl PartialEq<ReconstructionLoss> for BuiltinLoss {
    fn eq(&self, other: &ReconstructionLoss) -> bool {
        *self == BuiltinLoss::Reconstruction(*other)
    }
}

impl PartialEq<Correntropy> for BuiltinLoss {
    fn eq(&self, other: &Correntropy) -> bool {
        *self == BuiltinLoss::Correntropy(*other)
    }
}

impl BuiltinLoss {
    /// The loss itself, as the trait object every method forwards to.
    fn inner<T: Scalar>(&self) -> &dyn Loss<T> {
        match self {
            BuiltinLoss::Reconstruction(loss) => loss,
            BuiltinLoss::Correntropy(loss) => loss,
        }
    }
}

impl<T: Scalar> Loss<T> for BuiltinLoss {
    fn name(&self) -> &'static str {
        self.inner::<T>().name()
    }

    fn check(&self, activation: Activation, x: &DMatrix<T>, what: &'static str) -> Result<()> {
        self.inner::<T>().check(activation, x, what)
    }

    fn value_and_gradient(&self, input: &LossInput<'_, T>, grad: &mut DMatrix<T>) -> T {
        self.inner::<T>().value_and_gradient(input, grad)
    }

    fn sample_values(&self, input: &LossInput<'_, T>) -> Vec<f64> {
        self.inner::<T>().sample_values(input)
    }

    fn builtin(&self) -> Option<BuiltinLoss> {
        Some(*self)
    }

    fn hyper_parameters(&self) -> Vec<(&'static str, f64)> {
        self.inner::<T>().hyper_parameters()
    }
}
