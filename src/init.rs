//! Weight initialisation schemes.

use crate::{Error, Result, Scalar};
use nalgebra::DMatrix;
use rand::{Rng, RngExt};

/// How a layer's weights are drawn; biases always start at zero.
///
/// `fan_in` and `fan_out` are the layer's input and output sizes. Every scheme draws from the
/// caller's generator in column-major order of the weight matrix, so a seed fixes the weights.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
#[non_exhaustive]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(remote = "Self", deny_unknown_fields, rename_all = "kebab-case")
)]
pub enum Init {
    /// `U(−a, a)` with `a = √(6 / (fan_in + fan_out))` (Glorot & Bengio 2010). The default.
    #[default]
    GlorotUniform,
    /// `N(0, 2 / (fan_in + fan_out))`.
    GlorotNormal,
    /// `N(0, 2 / fan_in)` (He et al. 2015), for ReLU layers.
    HeNormal,
    /// `U(−limit, limit)`.
    Uniform {
        /// Half-width of the interval, finite and ≥ 0.
        limit: f64,
    },
    /// `N(0, std_dev²)`.
    Normal {
        /// Standard deviation, finite and ≥ 0.
        std_dev: f64,
    },
}

impl Init {
    /// Checks the scheme's own parameters.
    pub fn validate(&self) -> Result<()> {
        let (name, value) = match *self {
            Init::Uniform { limit } => ("limit", limit),
            Init::Normal { std_dev } => ("std_dev", std_dev),
            _ => return Ok(()),
        };
        if value.is_finite() && value >= 0.0 {
            Ok(())
        } else {
            Err(Error::InvalidHyperParameter {
                name,
                value,
                expected: "a finite value >= 0",
            })
        }
    }

    /// Draws a `rows × cols` weight matrix for a layer with `fan_in = cols`, `fan_out = rows`.
    ///
    /// # Shapes
    /// Returns `rows × cols` (PyTorch's `[out_features, in_features]`).
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) for an invalid
    /// initialisation; [`Error::TooLarge`](crate::Error::TooLarge) for more entries than the
    /// [`limits`](crate::limits) allow.
    pub fn weights<T: Scalar, R: Rng + ?Sized>(
        &self,
        rows: usize,
        cols: usize,
        rng: &mut R,
    ) -> Result<DMatrix<T>> {
        self.validate()?;
        crate::limits::check_tensor("weights", rows, cols)?;
        let fan_in = cols as f64;
        let fan_out = rows as f64;
        let uniform = |limit: f64, rng: &mut R| {
            let u: f64 = rng.random();
            T::cast((2.0 * u - 1.0) * limit)
        };
        let normal = |std_dev: f64, rng: &mut R| T::cast(std_dev) * T::sample_standard_normal(rng);
        let mut weights = DMatrix::zeros(rows, cols);
        for w in weights.iter_mut() {
            *w = match *self {
                Init::GlorotUniform => uniform((6.0 / (fan_in + fan_out)).sqrt(), rng),
                Init::GlorotNormal => normal((2.0 / (fan_in + fan_out)).sqrt(), rng),
                Init::HeNormal => normal((2.0 / fan_in).sqrt(), rng),
                Init::Uniform { limit } => uniform(limit, rng),
                Init::Normal { std_dev } => normal(std_dev, rng),
            };
        }
        Ok(weights)
    }
}
