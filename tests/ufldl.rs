//! The UFLDL configuration is UFLDL's objective: its value against an independent evaluation of
//! the UFLDL formula, and its gradient against finite differences.

mod common;

use autoencoders::ufldl::Ufldl;
use common::{check_autoencoder, rng, uniform};
use nalgebra::DMatrix;

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// `J_UFLDL` written from the tutorial's formula, with the weights and biases as matrices.
fn ufldl_objective(
    x: &DMatrix<f64>,
    w1: &DMatrix<f64>,
    b1: &[f64],
    w2: &DMatrix<f64>,
    b2: &[f64],
    recipe: Ufldl,
) -> f64 {
    let m = x.nrows() as f64;
    let (hidden, visible) = (w1.nrows(), w1.ncols());
    let mut squared = 0.0;
    let mut rho_hat = vec![0.0; hidden];
    for i in 0..x.nrows() {
        let a2: Vec<f64> = (0..hidden)
            .map(|j| sigmoid((0..visible).map(|k| w1[(j, k)] * x[(i, k)]).sum::<f64>() + b1[j]))
            .collect();
        for j in 0..hidden {
            rho_hat[j] += a2[j] / m;
        }
        for k in 0..visible {
            let a3 = sigmoid((0..hidden).map(|j| w2[(k, j)] * a2[j]).sum::<f64>() + b2[k]);
            squared += 0.5 * (a3 - x[(i, k)]).powi(2);
        }
    }
    let decay = 0.5
        * recipe.lambda
        * (w1.iter().map(|w| w * w).sum::<f64>() + w2.iter().map(|w| w * w).sum::<f64>());
    let rho = recipe.rho;
    let kl: f64 = rho_hat
        .iter()
        .map(|&p| rho * (rho / p).ln() + (1.0 - rho) * ((1.0 - rho) / (1.0 - p)).ln())
        .sum();
    squared / m + decay + recipe.beta * kl
}

#[test]
fn the_configured_objective_is_ufldls_formula() {
    let x = uniform(12, 9, 0.0, 1.0, &mut rng(1));
    for recipe in [
        Ufldl::EXERCISE,
        Ufldl {
            rho: 0.05,
            beta: 1.5,
            lambda: 1e-2,
        },
    ] {
        let model = recipe.build::<f64, _>(9, 5, &mut rng(2)).unwrap();
        let p = model.parameters();
        // The crate's layout: PyTorch's [out, in], column-major storage.
        let w1 = DMatrix::from_column_slice(5, 9, p[0]);
        let w2 = DMatrix::from_column_slice(9, 5, p[2]);
        let expected = ufldl_objective(&x, &w1, p[1], &w2, p[3], recipe);
        let got = Ufldl::objective(&model.objective(&x).unwrap());
        assert!(
            ((got - expected) / expected).abs() <= 1e-12,
            "{got} against {expected}"
        );
    }
}

#[test]
fn the_configured_objective_passes_the_gradient_oracle() {
    let x = uniform(6, 7, 0.05, 0.95, &mut rng(3));
    let mut model = Ufldl::EXERCISE.build::<f64, _>(7, 4, &mut rng(4)).unwrap();
    let agreement = check_autoencoder(&mut model, &x, &x);
    assert!(agreement.holds(), "{agreement:?}");
}
