//! The UFLDL sparse autoencoder (Stanford's Unsupervised Feature Learning and Deep Learning
//! tutorial, Ng et al.) as a configuration of the crate's parts.
//!
//! UFLDL minimises, over `m` samples,
//!
//! `J_UFLDL = (1/m)·Σ_i ½‖x̂_i − x_i‖² + (λ/2)·(‖W₁‖² + ‖W₂‖²) + β·Σ_j KL(ρ ‖ ρ̂_j)`,
//!
//! with sigmoid hidden and output units. The crate's objective has no ½ on the squared error,
//! so with the squared-error loss, [`KlSparsity`] of weight `2β` and [`WeightDecay`] of weight
//! `2λ` it is exactly `2·J_UFLDL`: the same function up to a factor, the same minimisers, the
//! same gradient up to the factor. [`Ufldl::build`] makes that model and [`Ufldl::objective`]
//! maps its objective back.
//!
//! ```
//! use autoencoders::ufldl::Ufldl;
//! use autoencoders::rand::{SeedableRng, rngs::ChaCha8Rng};
//!
//! let recipe = Ufldl::EXERCISE; // ρ = 0.1, β = 3, λ = 3e-3
//! let model = recipe.build::<f64, _>(64, 25, &mut ChaCha8Rng::seed_from_u64(0))?;
//! assert_eq!(model.code_dim(), 25);
//! # Ok::<(), autoencoders::Error>(())
//! ```

use crate::{
    Activation, Autoencoder, DenseBuilder, DenseDecoder, DenseEncoder, KlSparsity, Objective,
    Result, Scalar, WeightDecay,
};
use rand::Rng;

/// UFLDL's constants: sparsity target `ρ`, sparsity weight `β`, weight decay `λ`, in UFLDL's
/// own normalisation (see the [module documentation](self)).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ufldl {
    /// The target mean activation `ρ`.
    pub rho: f64,
    /// The weight `β` of the KL sparsity term.
    pub beta: f64,
    /// The weight decay `λ` of `(λ/2)·Σw²`.
    pub lambda: f64,
}

/// The model [`Ufldl::build`] makes.
pub type UfldlAutoencoder<T> =
    Autoencoder<DenseEncoder<T>, DenseDecoder<T>, (KlSparsity, WeightDecay)>;

impl Ufldl {
    /// The exercise's constants: `ρ = 0.1`, `β = 3`, `λ = 3·10⁻³` (with 196 hidden units on
    /// 28 × 28 digits, trained by L-BFGS for 400 iterations).
    pub const EXERCISE: Ufldl = Ufldl {
        rho: 0.1,
        beta: 3.0,
        lambda: 3e-3,
    };

    /// The sparse autoencoder of `input_dim` inputs and `hidden` sigmoid units whose objective
    /// is `2·J_UFLDL`: sigmoid decoder, squared error, `KlSparsity(ρ, 2β)`,
    /// `WeightDecay(2λ)`, Glorot-uniform weights (UFLDL draws them uniformly in
    /// `±√6/√(n_in + n_out + 1)`, nearly the same bound).
    ///
    /// # Errors
    /// Those of the parts' constructors for constants out of range, and of
    /// [`DenseBuilder::build`].
    pub fn build<T: Scalar, G: Rng + ?Sized>(
        &self,
        input_dim: usize,
        hidden: usize,
        rng: &mut G,
    ) -> Result<UfldlAutoencoder<T>> {
        let kl = KlSparsity::new(self.rho, 2.0 * self.beta)?;
        let decay = WeightDecay::new(2.0 * self.lambda)?;
        Ok(DenseBuilder::new(input_dim, hidden)
            .with_encoder_activation(Activation::Sigmoid)
            .with_decoder_activation(Activation::Sigmoid)
            .build::<T, _>(rng)?
            .with_regularizer((kl, decay)))
    }

    /// `J_UFLDL` from the built model's objective: half its total.
    pub fn objective<T: Scalar>(objective: &Objective<T>) -> f64 {
        objective.total().as_f64() / 2.0
    }
}
