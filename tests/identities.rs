//! The lecture's identities between the regularizers, as tests.

mod common;

use autoencoders::{
    Activation, Contractive, Corruption, DenseBuilder, Encoder, GaussianNoise, ReconstructionLoss,
    WeightDecay,
};
use common::{rng, uniform};
use nalgebra::DMatrix;

/// (a) With a linear encoder, `‖∂h/∂x‖²_F = Σ w²`, so the contractive penalty is weight decay on
/// the encoder's weights: same value and same gradient. (A tied decoder owns no weights, so the
/// weight decay then covers exactly the encoder's.)
#[test]
fn contractive_penalty_of_a_linear_encoder_is_weight_decay() {
    let x = uniform(7, 5, 0.0, 1.0, &mut rng(1));
    let base = DenseBuilder::new(5, 3)
        .with_encoder_activation(Activation::Linear)
        .with_tied(true)
        .build::<f64, _>(&mut rng(2))
        .unwrap();
    for lambda in [0.1, 0.7] {
        let contractive = base
            .clone()
            .with_regularizer(Contractive::new(lambda).unwrap());
        let decay = base
            .clone()
            .with_regularizer(WeightDecay::new(lambda).unwrap());
        let (oc, gc) = contractive.gradient(&x, &x).unwrap();
        let (od, gd) = decay.gradient(&x, &x).unwrap();
        assert!(oc.penalty > 0.01);
        approx::assert_relative_eq!(oc.penalty, od.penalty, max_relative = 1e-12);
        for (a, b) in gc.iter().flatten().zip(gd.iter().flatten()) {
            approx::assert_relative_eq!(*a, *b, max_relative = 1e-10, epsilon = 1e-14);
        }
    }
}

/// The Jacobian `∂h/∂x` of the encoder at one sample, by central differences.
fn encoder_jacobian<E: Encoder<Scalar = f64>>(encoder: &E, x: &DMatrix<f64>) -> DMatrix<f64> {
    let step = 1e-5;
    let (d, k) = (x.ncols(), encoder.code_dim());
    let mut jacobian = DMatrix::zeros(k, d);
    for i in 0..d {
        let mut plus = x.clone();
        plus[(0, i)] += step;
        let mut minus = x.clone();
        minus[(0, i)] -= step;
        let diff =
            (encoder.encode(&plus).unwrap() - encoder.encode(&minus).unwrap()) / (2.0 * step);
        for j in 0..k {
            jacobian[(j, i)] = diff[(0, j)];
        }
    }
    jacobian
}

/// (b) The closed form `(λ/2)·Σ_j s'(z_j)²·Σ_i w_ji²` equals `(λ/2)·‖J‖²_F` with the Jacobian
/// taken numerically from the encoder itself, for the sigmoid of the lecture and for tanh.
#[test]
fn closed_form_contractive_penalty_equals_half_lambda_jacobian_norm() {
    let lambda = 0.3;
    for activation in [Activation::Sigmoid, Activation::Tanh] {
        let model = DenseBuilder::new(6, 4)
            .with_encoder_activation(activation)
            .build::<f64, _>(&mut rng(3))
            .unwrap()
            .with_regularizer(Contractive::new(lambda).unwrap());
        for seed in 0..5 {
            let x = uniform(1, 6, 0.0, 1.0, &mut rng(10 + seed));
            let closed_form = model.objective(&x).unwrap().penalty;
            let jacobian = encoder_jacobian(model.encoder(), &x);
            let numeric = 0.5 * lambda * jacobian.norm_squared();
            // Central differences with step 1e-5 are accurate to about 1e-10 relative here.
            approx::assert_relative_eq!(closed_form, numeric, max_relative = 1e-8);
        }
    }
}

/// (c) For small Gaussian noise, `E[L(x, g(f(x + ε)))] ≈ L(x, g(f(x))) + σ²·‖∂x̂/∂x‖²_F` at a
/// point where the reconstruction error is small.
///
/// The decoder is linear and its bias is shifted so that `x̂(x) = x` exactly: then
/// `x̂(x + ε) − x = Jε + ½εᵀHε + O(ε³)`, and the expectation of its squared norm is
/// `σ²‖J‖²_F + O(σ⁴)` (the odd moments vanish). With σ = 0.01 the O(σ⁴) remainder is about 1e-4
/// of the leading term for weights of order one.
///
/// Tolerance: the Monte-Carlo mean over M = 200,000 draws has a standard error `se` estimated
/// from the draws themselves (about 0.3 % of the mean); we allow 4·se (a normal mean falls
/// outside that with probability 6e-5) plus 1e-3 of the prediction for the Taylor remainder.
#[test]
fn denoising_loss_is_clean_loss_plus_sigma_squared_jacobian_norm() {
    let (d, k, sigma, draws) = (8, 5, 0.01, 200_000);
    let mut model = DenseBuilder::new(d, k)
        .with_encoder_activation(Activation::Sigmoid)
        .with_decoder_activation(Activation::Linear)
        .build::<f64, _>(&mut rng(4))
        .unwrap();
    let x = uniform(1, d, 0.0, 1.0, &mut rng(5));
    let residual = &x - model.reconstruct(&x).unwrap();
    // Parameters: encoder.weight, encoder.bias, decoder.weight, decoder.bias.
    for (b, r) in model.parameters_mut()[3].iter_mut().zip(residual.iter()) {
        *b += r;
    }
    let clean = model.objective(&x).unwrap().reconstruction;
    assert!(clean < 1e-20, "x̂(x) = x by construction, loss {clean}");

    // ‖∂x̂/∂x‖²_F by central differences of the whole reconstruction map.
    let step = 1e-5;
    let mut jacobian_norm = 0.0;
    for i in 0..d {
        let mut plus = x.clone();
        plus[(0, i)] += step;
        let mut minus = x.clone();
        minus[(0, i)] -= step;
        let column =
            (model.reconstruct(&plus).unwrap() - model.reconstruct(&minus).unwrap()) / (2.0 * step);
        jacobian_norm += column.norm_squared();
    }
    let predicted = clean + sigma * sigma * jacobian_norm;

    let repeated = DMatrix::from_fn(draws, d, |_, j| x[(0, j)]);
    let noisy = GaussianNoise::new(sigma)
        .unwrap()
        .corrupt(&repeated, &mut rng(6));
    let reconstructed = model.reconstruct(&noisy).unwrap();
    let losses: Vec<f64> = (0..draws)
        .map(|s| {
            (0..d)
                .map(|i| (x[(0, i)] - reconstructed[(s, i)]).powi(2))
                .sum()
        })
        .collect();
    let mean = losses.iter().sum::<f64>() / draws as f64;
    let variance = losses.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (draws - 1) as f64;
    let standard_error = (variance / draws as f64).sqrt();
    assert!(
        standard_error < 0.01 * mean,
        "too few draws: se {standard_error}, mean {mean}"
    );
    let tolerance = 4.0 * standard_error + 1e-3 * predicted;
    assert!(
        (mean - predicted).abs() <= tolerance,
        "Monte-Carlo {mean:.6e} vs clean + σ²‖J‖² = {predicted:.6e} (tolerance {tolerance:.2e})"
    );
}

/// `reconstruct` runs only the forward passes; the loss that training minimises, recomputed from
/// its output, must equal `objective`'s (which runs the training path), for both losses and
/// tied or untied weights.
#[test]
fn reconstruct_agrees_with_the_training_objective() {
    let x = uniform(6, 7, 0.0, 1.0, &mut rng(9));
    for tied in [false, true] {
        for loss in [
            ReconstructionLoss::SquaredError,
            ReconstructionLoss::CrossEntropy,
        ] {
            let model = DenseBuilder::new(7, 4)
                .with_tied(tied)
                .build::<f64, _>(&mut rng(10))
                .unwrap()
                .with_loss(loss);
            let x_hat = model.reconstruct(&x).unwrap();
            let per_sample: f64 = match loss {
                ReconstructionLoss::SquaredError => (&x_hat - &x).norm_squared(),
                // −Σ x·ln x̂ + (1 − x)·ln(1 − x̂)
                _ => -x
                    .iter()
                    .zip(x_hat.iter())
                    .map(|(&x, &p)| x * p.ln() + (1.0 - x) * (1.0 - p).ln())
                    .sum::<f64>(),
            } / x.nrows() as f64;
            let objective = model.objective(&x).unwrap().reconstruction;
            let scale = objective.abs().max(1.0);
            assert!(
                (per_sample - objective).abs() <= 1e-12 * scale,
                "tied {tied}, {loss:?}: {per_sample} vs {objective}"
            );
        }
    }
}
