//! The gradient oracle: every analytic gradient against central finite differences in f64.

mod common;

use autoencoders::{
    Activation, Autoencoder, Contractive, Correntropy, Corruption, DenseBuilder, GaussianNoise,
    KlSparsity, L1Sparsity, L2Sparsity, Masking, ReconstructionLoss, Regularizer,
    RegularizerGradient, RegularizerInput, SaltAndPepper, WeightDecay,
};
use common::{Agreement, check_autoencoder, compare, numeric_gradient, rng, uniform};
use nalgebra::DMatrix;

const INPUT_DIM: usize = 6;
const CODE_DIM: usize = 4;
const SAMPLES: usize = 5;

fn data(seed: u64) -> DMatrix<f64> {
    uniform(SAMPLES, INPUT_DIM, 0.05, 0.95, &mut rng(seed))
}

/// A model with non-zero biases, so that no unit sits at a symmetric point by accident.
fn model(
    encoder: Activation,
    decoder: Activation,
    tied: bool,
    seed: u64,
) -> autoencoders::DenseAutoencoder<f64> {
    let mut model = DenseBuilder::new(INPUT_DIM, CODE_DIM)
        .with_encoder_activation(encoder)
        .with_decoder_activation(decoder)
        .with_tied(tied)
        .build::<f64, _>(&mut rng(seed))
        .unwrap();
    let mut r = rng(seed + 1000);
    for p in model.parameters_mut() {
        for v in p.iter_mut() {
            *v += 0.3 * (rand::RngExt::random::<f64>(&mut r) - 0.5);
        }
    }
    model
}

fn assert_agrees(agreement: Agreement, what: &str) {
    assert!(
        agreement.holds(),
        "{what}: max element-wise relative error {:.3e} (at {:?}), norm relative error {:.3e}",
        agreement.max_elementwise,
        agreement.worst,
        agreement.norm
    );
}

/// Runs the oracle on one configuration of loss and regularizer, untied and tied, for every
/// pair of activations the loss allows.
fn check_all<R: Regularizer<f64> + Clone>(regularizer: R, encoders: &[Activation], what: &str) {
    let x = data(1);
    for loss in [
        ReconstructionLoss::SquaredError,
        ReconstructionLoss::CrossEntropy,
    ] {
        let decoders: &[Activation] = match loss {
            ReconstructionLoss::CrossEntropy => &[Activation::Sigmoid],
            _ => &Activation::ALL,
        };
        for &encoder in encoders {
            for &decoder in decoders {
                for tied in [false, true] {
                    let mut m = model(encoder, decoder, tied, 7)
                        .with_regularizer(regularizer.clone())
                        .with_loss(loss);
                    let label = format!("{what}, {encoder:?}→{decoder:?}, {loss:?}, tied={tied}");
                    assert_agrees(check_autoencoder(&mut m, &x, &x), &label);
                }
            }
        }
    }
}

#[test]
fn reconstruction_loss_alone() {
    check_all(
        autoencoders::NoRegularizer,
        &Activation::ALL,
        "no regularizer",
    );
}

#[test]
fn l1_sparsity_with_reconstruction() {
    check_all(
        L1Sparsity::new(0.3).unwrap(),
        &Activation::ALL,
        "L1 sparsity",
    );
}

#[test]
fn l2_sparsity_with_reconstruction() {
    check_all(
        L2Sparsity::new(0.3).unwrap(),
        &Activation::ALL,
        "L2 sparsity",
    );
}

#[test]
fn kl_sparsity_with_reconstruction() {
    check_all(
        KlSparsity::new(0.1, 0.5).unwrap(),
        &[Activation::Sigmoid],
        "KL sparsity",
    );
}

#[test]
fn contractive_with_reconstruction() {
    check_all(
        Contractive::new(0.3).unwrap(),
        &Activation::ALL,
        "contractive",
    );
}

#[test]
fn weight_decay_with_reconstruction() {
    check_all(
        WeightDecay::new(0.3).unwrap(),
        &Activation::ALL,
        "weight decay",
    );
}

/// The correntropy loss, alone and with each regularizer, for every encoder and decoder
/// activation, tied and untied, at a kernel width where the residuals (about 0.1–0.5) sit on
/// the kernel's curved part, and at a wide one where it is nearly quadratic.
#[test]
fn correntropy_alone_and_with_each_regularizer() {
    let x = data(1);
    let regularizers: Vec<(&str, Vec<autoencoders::BuiltinRegularizer>)> = vec![
        ("none", vec![]),
        ("L1", vec![L1Sparsity::new(0.2).unwrap().into()]),
        ("L2", vec![L2Sparsity::new(0.2).unwrap().into()]),
        ("KL", vec![KlSparsity::new(0.1, 0.5).unwrap().into()]),
        ("contractive", vec![Contractive::new(0.3).unwrap().into()]),
        ("weight decay", vec![WeightDecay::new(0.3).unwrap().into()]),
    ];
    let (mut checked, mut as_builtin) = (0, 0);
    for sigma in [0.2, 3.0] {
        for (name, regularizer) in &regularizers {
            for &encoder in &Activation::ALL {
                for &decoder in &Activation::ALL {
                    for tied in [false, true] {
                        let mut m = model(encoder, decoder, tied, 7)
                            .with_regularizer(regularizer.clone())
                            .with_loss(Correntropy::new(sigma).unwrap());
                        // KL sparsity is defined for sigmoid codes only.
                        if m.check(&x, "data").is_err() {
                            continue;
                        }
                        let label = format!(
                            "correntropy σ = {sigma} with {name}, {encoder:?}→{decoder:?}, tied={tied}"
                        );
                        assert_agrees(check_autoencoder(&mut m, &x, &x), &label);
                        checked += 1;
                        // As the built-in loss a loaded `DynamicAutoencoder` holds.
                        let mut dynamic = m.clone().with_loss(autoencoders::BuiltinLoss::from(
                            Correntropy::new(sigma).unwrap(),
                        ));
                        let label = format!("{label}, as a BuiltinLoss");
                        assert_agrees(check_autoencoder(&mut dynamic, &x, &x), &label);
                        as_builtin += 1;
                    }
                }
            }
        }
    }
    assert_eq!(as_builtin, checked);
    let activations = Activation::ALL.len();
    // Every pair of activations, tied and untied, for five regularizers and two widths; KL
    // with sigmoid codes only.
    assert_eq!(checked, 2 * 2 * activations * (5 * activations + 1));
}

/// The correntropy value with the gradient of its quadratic approximation (`r/σ²`, the
/// kernel's factor `exp(−r²/(2σ²))` left out): the oracle must refuse it.
struct CorrentropyWithoutKernel(f64);

impl autoencoders::Loss<f64> for CorrentropyWithoutKernel {
    fn value_and_gradient(
        &self,
        input: &autoencoders::LossInput<'_, f64>,
        grad: &mut DMatrix<f64>,
    ) -> f64 {
        let value = autoencoders::Loss::<f64>::value_and_gradient(
            &Correntropy::new(self.0).unwrap(),
            input,
            grad,
        );
        let n = input.x.nrows() as f64;
        for ((g, &x), &y) in grad.iter_mut().zip(input.x.iter()).zip(input.x_hat.iter()) {
            *g = (y - x) / (self.0 * self.0) / n;
        }
        input.activation.scale_by_derivative(
            input.pre_activation.as_slice(),
            input.x_hat.as_slice(),
            grad.as_mut_slice(),
        );
        value
    }
}

#[test]
fn the_checker_catches_a_correntropy_gradient_without_its_kernel_factor() {
    let x = data(1);
    let mut m = model(Activation::Sigmoid, Activation::Sigmoid, false, 7)
        .with_loss(CorrentropyWithoutKernel(0.2));
    let agreement = check_autoencoder(&mut m, &x, &x);
    assert!(!agreement.holds(), "{agreement:?}");
}

#[test]
fn tuples_of_regularizers() {
    check_all(
        (
            Contractive::new(0.2).unwrap(),
            WeightDecay::new(0.1).unwrap(),
        ),
        &Activation::ALL,
        "contractive + weight decay",
    );
    check_all(
        (
            L1Sparsity::new(0.1).unwrap(),
            KlSparsity::new(0.2, 0.3).unwrap(),
            Contractive::new(0.1).unwrap(),
            WeightDecay::new(0.05).unwrap(),
        ),
        &[Activation::Sigmoid],
        "L1 + KL + contractive + weight decay",
    );
}

/// The penalty alone: its analytic gradient is the model's gradient minus that of the same
/// model without it (the gradient is linear in the objective's terms), checked against finite
/// differences of the penalty value only. This is the reconstruction loss switched off.
fn check_penalty_alone<R: Regularizer<f64> + Clone>(
    regularizer: R,
    encoder: Activation,
    tied: bool,
) {
    let x = data(2);
    let plain = model(encoder, Activation::Sigmoid, tied, 11);
    let (_, without) = plain.gradient(&x, &x).unwrap();
    let mut regularized = plain.with_regularizer(regularizer.clone());
    let (_, with) = regularized.gradient(&x, &x).unwrap();
    let analytic: Vec<Vec<f64>> = with
        .iter()
        .zip(&without)
        .map(|(a, b)| a.iter().zip(b).map(|(a, b)| a - b).collect())
        .collect();
    let numeric = numeric_gradient(
        &mut regularized,
        |m| m.parameters_mut(),
        |m| m.gradient(&x, &x).unwrap().0.penalty,
    );
    let label = format!("{} alone, {encoder:?}, tied={tied}", regularizer.name());
    assert!(
        numeric.iter().flatten().any(|g| g.abs() > 1e-3),
        "{label}: the penalty should depend on the parameters"
    );
    assert_agrees(compare(&analytic, &numeric), &label);
}

#[test]
fn each_regularizer_alone_with_large_weight() {
    for tied in [false, true] {
        for encoder in Activation::ALL {
            check_penalty_alone(L1Sparsity::new(0.5).unwrap(), encoder, tied);
            check_penalty_alone(L2Sparsity::new(0.5).unwrap(), encoder, tied);
            check_penalty_alone(Contractive::new(0.5).unwrap(), encoder, tied);
            check_penalty_alone(WeightDecay::new(0.5).unwrap(), encoder, tied);
        }
        check_penalty_alone(
            KlSparsity::new(0.05, 0.5).unwrap(),
            Activation::Sigmoid,
            tied,
        );
    }
}

#[test]
fn under_corruption_with_the_same_noise_on_both_sides() {
    let x = data(3);
    let inputs = [
        (
            "gaussian",
            GaussianNoise::new(0.2).unwrap().corrupt(&x, &mut rng(5)),
        ),
        (
            "masking",
            Masking::new(0.3).unwrap().corrupt(&x, &mut rng(5)),
        ),
        (
            "salt-and-pepper",
            SaltAndPepper::new(0.3).unwrap().corrupt(&x, &mut rng(5)),
        ),
    ];
    for (name, input) in inputs {
        assert_ne!(input, x, "{name} should change the input");
        for encoder in Activation::ALL {
            let mut m = model(encoder, Activation::Sigmoid, false, 13)
                .with_regularizer((
                    Contractive::new(0.3).unwrap(),
                    L1Sparsity::new(0.1).unwrap(),
                ))
                .with_corruption(GaussianNoise::new(0.2).unwrap())
                .with_loss(ReconstructionLoss::CrossEntropy);
            assert_agrees(
                check_autoencoder(&mut m, &x, &input),
                &format!("{name} corruption, {encoder:?}"),
            );
        }
    }
}

/// A user's penalty, written here against the public trait only: the decorrelation penalty
/// `(λ/2)·Σ_{j≠k} C_jk²` on the batch covariance `C` of the codes.
#[derive(Clone)]
struct Decorrelation {
    weight: f64,
}

impl Regularizer<f64> for Decorrelation {
    fn name(&self) -> &'static str {
        "decorrelation"
    }

    fn penalty(
        &self,
        input: &RegularizerInput<'_, f64>,
        grad: &mut RegularizerGradient<'_, f64>,
    ) -> f64 {
        let h = input.code;
        let n = h.nrows() as f64;
        let mean = h.row_mean();
        let centered = DMatrix::from_fn(h.nrows(), h.ncols(), |s, j| h[(s, j)] - mean[j]);
        let cov = centered.transpose() * &centered / n;
        let mut value = 0.0;
        let mut off = cov.clone();
        off.fill_diagonal(0.0);
        for c in off.iter() {
            value += 0.5 * self.weight * c * c;
        }
        // ∂/∂h_sj of (λ/2)Σ_{j≠k} C_jk², C = Hcᵀ·Hc/n: (2λ/n)·Σ_k C_jk·hc_sk (centering drops out
        // because Σ_s hc_sk = 0).
        let g = &centered * &off * (2.0 * self.weight / n);
        *grad.code += g;
        value
    }
}

#[test]
fn user_defined_regularizer() {
    check_all(
        Decorrelation { weight: 0.5 },
        &Activation::ALL,
        "decorrelation",
    );
    check_penalty_alone(Decorrelation { weight: 0.5 }, Activation::Tanh, false);
}

/// The contractive penalty with the gradient the lecture notes give: only the direct term
/// `λ·w_ji·h_j²(1−h_j)²`, nothing through `h_j`. A planted error the oracle must catch.
#[derive(Clone)]
struct ContractiveWithoutChainTerm {
    weight: f64,
}

impl Regularizer<f64> for ContractiveWithoutChainTerm {
    fn penalty(
        &self,
        input: &RegularizerInput<'_, f64>,
        grad: &mut RegularizerGradient<'_, f64>,
    ) -> f64 {
        let w = input.encoder_weights.unwrap();
        let n = input.code.nrows() as f64;
        let mut value = 0.0;
        for j in 0..w.nrows() {
            let row_norm = w.row(j).norm_squared();
            let slopes: f64 = (0..input.code.nrows())
                .map(|s| {
                    let h = input.code[(s, j)];
                    (h * (1.0 - h)).powi(2)
                })
                .sum();
            value += 0.5 * self.weight * slopes * row_norm / n;
            let gw = grad.encoder_weights.as_deref_mut().unwrap();
            for i in 0..w.ncols() {
                gw[(j, i)] += self.weight * slopes / n * w[(j, i)];
            }
        }
        value
    }
}

#[test]
fn the_checker_catches_a_contractive_gradient_without_its_part_through_h() {
    let x = data(4);
    for weight in [0.5, 0.01, 1e-5] {
        let base = model(Activation::Sigmoid, Activation::Sigmoid, false, 17);
        // Same value: the planted regularizer's penalty equals the real one's.
        let real = base
            .clone()
            .with_regularizer(Contractive::new(weight).unwrap());
        let mut broken = base.with_regularizer(ContractiveWithoutChainTerm { weight });
        let (real_objective, _) = real.gradient(&x, &x).unwrap();
        let (broken_objective, _) = broken.gradient(&x, &x).unwrap();
        approx::assert_relative_eq!(
            real_objective.penalty,
            broken_objective.penalty,
            max_relative = 1e-12
        );

        let agreement = check_autoencoder(&mut broken, &x, &x);
        assert!(
            agreement.max_elementwise > common::ELEMENT_TOLERANCE,
            "λ = {weight}: the element-wise check missed the planted error ({agreement:?})"
        );
        assert!(!agreement.holds());
        if weight < 1e-4 {
            // A norm-only check at 1e-6 would have passed this broken gradient: the missing
            // term is a tiny part of the whole vector, but not of every entry.
            assert!(agreement.norm < 1e-6, "λ = {weight}: {agreement:?}");
        }
    }
}

#[test]
fn the_checker_catches_one_entry_scaled_by_one_plus_1e_3() {
    let x = data(5);
    let mut m = model(Activation::Tanh, Activation::Sigmoid, false, 19)
        .with_regularizer(Contractive::new(0.1).unwrap());
    let (_, mut analytic) = m.gradient(&x, &x).unwrap();
    let numeric = numeric_gradient(
        &mut m,
        |m| m.parameters_mut(),
        |m| m.gradient(&x, &x).unwrap().0.total(),
    );
    assert!(
        compare(&analytic, &numeric).holds(),
        "the unbroken gradient must pass"
    );
    // Scale the largest entry of the encoder weights' gradient.
    let (index, _) = analytic[0]
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
        .unwrap();
    analytic[0][index] *= 1.0 + 1e-3;
    let agreement = compare(&analytic, &numeric);
    assert!(!agreement.holds(), "missed a scaled entry: {agreement:?}");
    assert_eq!(agreement.worst, (0, index));
}

#[test]
fn gradients_do_not_depend_on_the_unused_corruption_setting() {
    // The corruption type only matters in `fit`; `gradient` uses the input it is given.
    let x = data(6);
    let a = model(Activation::Sigmoid, Activation::Sigmoid, true, 23);
    let b = a.clone().with_corruption(Masking::new(0.5).unwrap());
    assert_eq!(a.gradient(&x, &x).unwrap(), b.gradient(&x, &x).unwrap());
    let _ = Autoencoder::into_parts(b);
}
