//! The formulas at the edges of their range: pre-activations of ±1000 (where `e^z` overflows
//! or underflows), inputs exactly 0 and 1, codes saturated to exactly 0 and 1. Values and
//! gradients must stay finite there and equal what the mathematics says, in f32 and f64.

mod common;

use approx::assert_relative_eq;
use autoencoders::{
    Activation, Autoencoder, Contractive, DenseDecoder, DenseEncoder, KlSparsity, L1Sparsity,
    ReconstructionLoss, Scalar,
};
use nalgebra::{DMatrix, DVector};

fn cast<T: Scalar>(values: &[f64]) -> Vec<T> {
    values.iter().map(|&v| T::cast(v)).collect()
}

fn row<T: Scalar>(values: &[f64]) -> DMatrix<T> {
    DMatrix::from_row_slice(1, values.len(), &cast::<T>(values))
}

fn activations_saturate_without_nan<T: Scalar>() {
    let sigmoid = Activation::Sigmoid;
    // Exactly 0 and 1: e^800 overflows and e^−800 underflows, and neither may leak a NaN.
    assert_eq!(sigmoid.apply(T::cast(-800.0)), T::zero());
    assert_eq!(sigmoid.apply(T::cast(800.0)), T::one());
    for z in [-1e3, 1e3, -800.0, 800.0] {
        let z = T::cast(z);
        for activation in Activation::ALL {
            let h = activation.apply(z);
            let slope = activation.derivative(z, h);
            let curvature = activation.second_derivative(z, h);
            assert!(
                h.is_finite() && slope.is_finite() && curvature.is_finite(),
                "{activation:?} at {z}: {h}, {slope}, {curvature}"
            );
        }
        // Saturated units are flat: their slope is exactly 0.
        for activation in [Activation::Sigmoid, Activation::Tanh] {
            let h = activation.apply(z);
            assert_eq!(
                activation.derivative(z, h),
                T::zero(),
                "{activation:?} at {z}"
            );
            assert_eq!(activation.second_derivative(z, h), T::zero());
        }
    }
    assert_eq!(Activation::Tanh.apply(T::cast(-1e3)), -T::one());
    assert_eq!(Activation::Relu.apply(T::cast(-1e3)), T::zero());
    assert_eq!(Activation::Relu.apply(T::cast(1e3)), T::cast(1e3));
    assert_relative_eq!(
        sigmoid.apply(T::cast(-40.0)).as_f64(),
        4.248354255291589e-18,
        max_relative = 1e-6
    );
}

#[test]
fn activations_saturate_without_nan_f64() {
    activations_saturate_without_nan::<f64>();
}

#[test]
fn activations_saturate_without_nan_f32() {
    activations_saturate_without_nan::<f32>();
}

fn cross_entropy_at_zero_pre_activation_is_ln_2<T: Scalar>() {
    // Two samples of three inputs, inputs at both ends and between; every z = 0, x̂ = ½.
    let x = DMatrix::from_row_slice(2, 3, &cast::<T>(&[0.0, 1.0, 0.3, 1.0, 0.0, 0.5]));
    let z = DMatrix::zeros(2, 3);
    let x_hat = z.map(|z| Activation::Sigmoid.apply(z));
    let loss = ReconstructionLoss::CrossEntropy;
    let mut gradient = DMatrix::zeros(0, 0);
    let value = loss.value_and_gradient(&x, &z, &x_hat, Activation::Sigmoid, &mut gradient);
    // ln 2 per input, summed over the three inputs, averaged over the two samples.
    let ln2 = std::f64::consts::LN_2;
    let tolerance = if T::NAME == "f32" { 1e-6 } else { 1e-15 };
    assert_relative_eq!(value.as_f64(), 3.0 * ln2, max_relative = tolerance);
    assert_relative_eq!(
        loss.value(&x, &z, &x_hat).as_f64(),
        3.0 * ln2,
        max_relative = tolerance
    );
    // ∂L/∂z = (x̂ − x)/n.
    for (g, &x) in gradient.iter().zip(x.iter()) {
        assert_relative_eq!(
            g.as_f64(),
            (0.5 - x.as_f64()) / 2.0,
            max_relative = tolerance
        );
    }
}

#[test]
fn cross_entropy_at_zero_pre_activation_is_ln_2_f64() {
    cross_entropy_at_zero_pre_activation_is_ln_2::<f64>();
}

#[test]
fn cross_entropy_at_zero_pre_activation_is_ln_2_f32() {
    cross_entropy_at_zero_pre_activation_is_ln_2::<f32>();
}

fn losses_at_saturated_pre_activations<T: Scalar>() {
    let sigmoid = Activation::Sigmoid;
    let mut gradient = DMatrix::zeros(0, 0);
    // (x, z, cross-entropy, ∂/∂z): right and saturated costs nothing, wrong and saturated
    // costs |z|; the naive −[x ln x̂ + (1 − x) ln(1 − x̂)] gives 0·ln 0 = NaN or ∞ for all four.
    for (x, z, loss, slope) in [
        (1.0, 1e3, 0.0, 0.0),
        (0.0, -1e3, 0.0, 0.0),
        (1.0, -1e3, 1e3, -1.0),
        (0.0, 1e3, 1e3, 1.0),
        (0.5, 1e3, 500.0, 0.5),
        (0.5, -1e3, 500.0, -0.5),
    ] {
        let (xs, zs) = (row::<T>(&[x]), row::<T>(&[z]));
        let x_hat = zs.map(|z| sigmoid.apply(z));
        let value = ReconstructionLoss::CrossEntropy.value_and_gradient(
            &xs,
            &zs,
            &x_hat,
            sigmoid,
            &mut gradient,
        );
        assert_eq!(value.as_f64(), loss, "cross-entropy at x = {x}, z = {z}");
        assert_eq!(
            gradient[0].as_f64(),
            slope,
            "its gradient at x = {x}, z = {z}"
        );

        // Squared error through a saturated sigmoid: (x̂ − x)² with x̂ exactly 0 or 1, and a
        // gradient that is exactly 0 because the sigmoid is flat there.
        let value = ReconstructionLoss::SquaredError.value_and_gradient(
            &xs,
            &zs,
            &x_hat,
            sigmoid,
            &mut gradient,
        );
        let expected = (sigmoid.apply(z) - x).powi(2);
        assert_eq!(
            value.as_f64(),
            expected,
            "squared error at x = {x}, z = {z}"
        );
        assert_eq!(gradient[0], T::zero());

        // Squared error through a linear output: large, finite, exact.
        let value = ReconstructionLoss::SquaredError.value_and_gradient(
            &xs,
            &zs,
            &zs,
            Activation::Linear,
            &mut gradient,
        );
        assert_relative_eq!(value.as_f64(), (z - x).powi(2), max_relative = 1e-7);
        assert_relative_eq!(gradient[0].as_f64(), 2.0 * (z - x), max_relative = 1e-7);
    }
}

#[test]
fn losses_at_saturated_pre_activations_f64() {
    losses_at_saturated_pre_activations::<f64>();
}

#[test]
fn losses_at_saturated_pre_activations_f32() {
    losses_at_saturated_pre_activations::<f32>();
}

/// A 2 → 2 → 2 sigmoid model whose pre-activations are ±1000 for every input: zero weights,
/// encoder biases (1000, −1000) so the codes are exactly (1, 0), decoder biases (1000, −1000)
/// so the reconstruction is exactly (1, 0).
fn saturated<T: Scalar>() -> Autoencoder<DenseEncoder<T>, DenseDecoder<T>> {
    let biases = DVector::from_vec(cast::<T>(&[1e3, -1e3]));
    let encoder =
        DenseEncoder::from_parts(DMatrix::zeros(2, 2), biases.clone(), Activation::Sigmoid)
            .unwrap();
    let decoder =
        DenseDecoder::from_parts(Some(DMatrix::zeros(2, 2)), biases, Activation::Sigmoid, 2)
            .unwrap();
    Autoencoder::new(encoder, decoder).unwrap()
}

/// The gradient tensors, in `parameters` order, as f64.
fn flat<T: Scalar>(gradient: &[Vec<T>]) -> Vec<Vec<f64>> {
    gradient
        .iter()
        .map(|g| g.iter().map(|v| v.as_f64()).collect())
        .collect()
}

fn saturated_model_gradients_are_finite_and_exact<T: Scalar>() {
    let model = saturated::<T>().with_loss(ReconstructionLoss::CrossEntropy);
    assert_eq!(model.encode(&row(&[0.0, 1.0])).unwrap(), row(&[1.0, 0.0]));
    assert_eq!(
        model.reconstruct(&row(&[0.0, 1.0])).unwrap(),
        row(&[1.0, 0.0])
    );

    // Inputs equal to the saturated output: nothing to learn, exactly.
    let x = row::<T>(&[1.0, 0.0]);
    let (objective, gradient) = model.gradient(&x, &x).unwrap();
    assert_eq!(objective.reconstruction, T::zero());
    assert!(flat(&gradient).iter().flatten().all(|&g| g == 0.0));

    // The opposite inputs: 1000 per input, and the gradient of a logistic output, x̂ − x,
    // reaches the decoder; the encoder, saturated, gets exactly 0.
    let x = row::<T>(&[0.0, 1.0]);
    let (objective, gradient) = model.gradient(&x, &x).unwrap();
    assert_eq!(objective.reconstruction.as_f64(), 2000.0);
    // Order: encoder.weight, encoder.bias, decoder.weight (column-major), decoder.bias.
    // ∂J/∂V = (x̂ − x)ᵀ·h with x̂ − x = (1, −1) and h = (1, 0).
    let expected = vec![
        vec![0.0; 4],
        vec![0.0; 2],
        vec![1.0, -1.0, 0.0, 0.0],
        vec![1.0, -1.0],
    ];
    assert_eq!(flat(&gradient), expected);

    // The decoder-bias gradient agrees with central differences of the objective. Saturated,
    // the objective is linear in the bias up to e^−999, so a step of 1 loses nothing to
    // truncation and keeps f32's round-off (about 1e-4 of 2000) small against it.
    let objective = |c0: f64| {
        let mut m = model.clone();
        m.parameters_mut()[3][0] = T::cast(c0);
        m.objective(&x).unwrap().total().as_f64()
    };
    let step = 1.0;
    let numeric = (objective(1e3 + step) - objective(1e3 - step)) / (2.0 * step);
    assert_relative_eq!(numeric, 1.0, max_relative = 1e-4);
}

#[test]
fn saturated_model_gradients_are_finite_and_exact_f64() {
    saturated_model_gradients_are_finite_and_exact::<f64>();
}

#[test]
fn saturated_model_gradients_are_finite_and_exact_f32() {
    saturated_model_gradients_are_finite_and_exact::<f32>();
}

fn penalties_on_saturated_codes_are_finite<T: Scalar>() {
    // Codes exactly 1 and 0: the KL penalty needs ln(1 − ρ̂) and ln ρ̂, both −∞ without the
    // clamp of ρ̂ to [ε, 1 − ε]; the contractive penalty is 0 because s'(z) = 0.
    let (rho, beta) = (0.05, 3.0);
    let model = saturated::<T>().with_regularizer((
        KlSparsity::new(rho, beta).unwrap(),
        Contractive::new(0.5).unwrap(),
        L1Sparsity::new(0.1).unwrap(),
    ));
    let x = DMatrix::from_row_slice(3, 2, &cast::<T>(&[0.0, 1.0, 1.0, 0.0, 0.5, 0.5]));
    let (objective, gradient) = model.gradient(&x, &x).unwrap();
    let eps = T::default_epsilon().as_f64();
    let kl = |rho_hat: f64| {
        rho * (rho / rho_hat).ln() + (1.0 - rho) * ((1.0 - rho) / (1.0 - rho_hat)).ln()
    };
    // KL for ρ̂ = 1 − ε and ρ̂ = ε, plus L1: λ·Σ|h| = 0.1 per sample.
    let expected = beta * (kl(1.0 - eps) + kl(eps)) + 0.1;
    let tolerance = if T::NAME == "f32" { 1e-5 } else { 1e-12 };
    assert_relative_eq!(
        objective.penalty.as_f64(),
        expected,
        max_relative = tolerance
    );
    assert!(objective.penalty.as_f64() > 30.0, "a large, finite penalty");
    // The huge ∂P/∂h (about 1/ε) meets s'(z) = 0: the encoder's gradient is exactly 0.
    let gradient = flat(&gradient);
    assert!(gradient.iter().flatten().all(|g| g.is_finite()));
    assert!(gradient[0].iter().chain(&gradient[1]).all(|&g| g == 0.0));
}

#[test]
fn penalties_on_saturated_codes_are_finite_f64() {
    penalties_on_saturated_codes_are_finite::<f64>();
}

#[test]
fn penalties_on_saturated_codes_are_finite_f32() {
    penalties_on_saturated_codes_are_finite::<f32>();
}
