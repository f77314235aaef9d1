//! Utilities users used to write by hand: seeded splits and row selection, scaling by known
//! bounds, the encoder's Jacobian and its norm, the confusion matrix, and softmax regression
//! on raw inputs.

mod common;

use autoencoders::data::{
    CsvOptions, FittedScaler, LabelColumn, Scaler, SplitSize, bundled_digits, parse_csv,
    select_labels, select_rows, split_rows,
};
use autoencoders::metrics::{jacobian_norms, mean_jacobian_norm};
use autoencoders::{
    Activation, Autoencoder, Classifier, CodeLayer, CodePass, ConfusionMatrix, Contractive,
    DenseBuilder, DenseDecoder, DenseEncoder, Encoder, Error, IdentityEncoder, Init, Sgd,
    StackedEncoder, TrainingConfig,
};
use common::{Agreement, STEP, compare, numeric_gradient, rng, uniform};
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;

fn assert_holds(agreement: Agreement, what: &str) {
    assert!(
        agreement.holds(),
        "{what}: max element-wise {:.3e} at {:?}, norm {:.3e}",
        agreement.max_elementwise,
        agreement.worst,
        agreement.norm
    );
}

// ---------------------------------------------------------------------------------------------
// Splits and row selection

#[test]
fn the_same_seed_gives_the_same_split_and_another_seed_another() {
    let split = |seed| split_rows(1000, SplitSize::Fraction(0.8), &mut rng(seed)).unwrap();
    let (train, test) = split(3);
    assert_eq!((train.len(), test.len()), (800, 200));
    assert_eq!(split(3), (train.clone(), test.clone()));
    assert_ne!(split(4).0, train);
    // A partition of 0..n: every index exactly once.
    let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..1000).collect::<Vec<_>>());
    // Shuffled, not in file order.
    assert!(!train.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn a_count_split_is_the_prefix_of_a_seeded_shuffle() {
    // What the experiments (and users) wrote by hand: shuffle 0..n, take the first `count`.
    for (n, count, seed) in [(8000, 100, 1000), (8000, 1000, 1001), (5, 1, 7), (5, 4, 8)] {
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let (first, rest) = split_rows(
            n,
            SplitSize::Count(count),
            &mut ChaCha8Rng::seed_from_u64(seed),
        )
        .unwrap();
        assert_eq!(first, order[..count]);
        assert_eq!(rest, order[count..]);
    }
}

#[test]
fn bad_splits_are_typed_errors() {
    let mut r = rng(0);
    assert!(matches!(
        split_rows(0, SplitSize::Fraction(0.5), &mut r),
        Err(Error::EmptyData { .. })
    ));
    for fraction in [0.0, 1.0, -0.1, 1.5, f64::NAN, f64::INFINITY] {
        assert!(
            matches!(
                split_rows(10, SplitSize::Fraction(fraction), &mut r),
                Err(Error::InvalidHyperParameter {
                    name: "split fraction",
                    ..
                })
            ),
            "fraction {fraction}"
        );
    }
    // Parts that would be empty, asked for directly or by rounding.
    for (n, size, first) in [
        (10, SplitSize::Count(0), 0),
        (10, SplitSize::Count(10), 10),
        (10, SplitSize::Count(11), 11),
        (10, SplitSize::Fraction(0.04), 0),
        (10, SplitSize::Fraction(0.96), 10),
        (1, SplitSize::Fraction(0.5), 1),
    ] {
        match split_rows(n, size, &mut r) {
            Err(Error::InvalidSplit { samples, first: f }) => {
                assert_eq!((samples, f), (n, first), "{size:?}");
            }
            other => panic!("{size:?}: {other:?}"),
        }
    }
}

#[test]
fn selected_rows_and_labels_stay_together() {
    let x = DMatrix::from_fn(6, 3, |i, j| (10 * i + j) as f32);
    let labels = vec![5, 4, 3, 2, 1, 0];
    let indices = [4, 1, 1, 5];
    let picked = select_rows(&x, &indices).unwrap();
    assert_eq!(picked.shape(), (4, 3));
    for (i, &row) in indices.iter().enumerate() {
        assert_eq!(picked.row(i), x.row(row));
    }
    assert_eq!(select_labels(&labels, &indices).unwrap(), vec![1, 4, 4, 0]);

    match select_rows(&x, &[0, 2, 6, 9]) {
        Err(Error::RowOutOfRange {
            position,
            index,
            rows,
            ..
        }) => assert_eq!((position, index, rows), (2, 6, 6)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        select_labels(&labels, &[usize::MAX]),
        Err(Error::RowOutOfRange {
            index: usize::MAX,
            ..
        })
    ));
    assert!(matches!(select_rows(&x, &[]), Err(Error::EmptyData { .. })));
    assert!(matches!(
        select_labels(&labels, &[]),
        Err(Error::EmptyData { .. })
    ));
}

#[test]
fn a_table_splits_into_training_and_test_tables() {
    let text = "a,b,class\n0,0,0\n1,10,1\n2,20,2\n3,30,0\n4,40,1\n";
    let options = CsvOptions::default().with_label_column(LabelColumn::Last);
    let table = parse_csv::<f64>(text, "inline", &options).unwrap();
    let (train, test) = split_rows(5, SplitSize::Count(3), &mut rng(2)).unwrap();
    let parts = [
        table.select_rows(&train).unwrap(),
        table.select_rows(&test).unwrap(),
    ];
    for (part, indices) in parts.iter().zip([&train, &test]) {
        assert_eq!(part.features.nrows(), indices.len());
        let labels = part.labels.as_ref().unwrap();
        for (row, &index) in indices.iter().enumerate() {
            assert_eq!(part.features[(row, 0)], index as f64);
            assert_eq!(part.features[(row, 1)], 10.0 * index as f64);
            assert_eq!(labels[row], index % 3);
        }
        assert_eq!(part.feature_names, table.feature_names);
    }
    let unlabelled = parse_csv::<f64>("1,2\n3,4\n", "inline", &CsvOptions::default()).unwrap();
    let one = unlabelled.select_rows(&[1]).unwrap();
    assert_eq!((one.features[(0, 0)], one.labels), (3.0, None));
    assert!(matches!(
        unlabelled.select_rows(&[2]),
        Err(Error::RowOutOfRange { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Scaling by known bounds

#[test]
fn known_bounds_keep_constant_columns_and_test_values_in_the_unit_interval() {
    // 8×8 digits with values 0..=16; the first pixel is blank in every training image.
    let train = DMatrix::from_fn(20, 64, |i, j| {
        if j == 0 {
            0.0
        } else {
            ((i * 7 + j * 5) % 17) as f64
        }
    });
    let test = DMatrix::from_fn(5, 64, |i, j| ((i + j) % 17) as f64);
    let known = FittedScaler::known_range(0.0, 16.0, 64).unwrap();
    let fitted = Scaler::MinMax.fit(&train).unwrap();
    let (known_test, fitted_test) = (
        known.transform(&test).unwrap(),
        fitted.transform(&test).unwrap(),
    );
    // Test sample 1 has 1 in the first pixel: min-max fitted on the blank column says 0.
    assert_eq!(test[(1, 0)], 1.0);
    assert_eq!(fitted_test[(1, 0)], 0.0);
    assert_eq!(known_test[(1, 0)], 1.0 / 16.0);
    // Dividing by 16 is all it does.
    assert_eq!(known_test, test.map(|v| v / 16.0));
    assert_eq!(known.scaler(), Scaler::MinMax);
    assert_eq!(known.minimum(), Some(&[0.0; 64][..]));
    assert_eq!(known.maximum(), Some(&[16.0; 64][..]));
    assert_eq!(known.inverse_transform(&known_test).unwrap(), test);
}

#[test]
fn values_within_known_bounds_land_in_the_unit_interval_in_f32_and_f64() {
    // Bounds that f32 represents exactly, so that "within the bounds" means the same in both.
    let (low, high) = (vec![-3.75, 0.125, 2f64.powi(-10)], vec![11.25, 0.375, 2e5]);
    let scaler = FittedScaler::known_ranges(low.clone(), high.clone()).unwrap();
    let mut r = rng(9);
    let u = uniform(500, 3, 0.0, 1.0, &mut r);
    // Values drawn within the bounds, plus the bounds themselves.
    let x = DMatrix::from_fn(502, 3, |i, j| match i {
        500 => low[j],
        501 => high[j],
        _ => (low[j] + (high[j] - low[j]) * u[(i, j)]).clamp(low[j], high[j]),
    });
    let scaled = scaler.transform(&x).unwrap();
    assert!(scaled.iter().all(|v| (0.0..=1.0).contains(v)));
    assert_eq!(
        scaled.row(500).iter().copied().collect::<Vec<_>>(),
        [0.0; 3]
    );
    assert_eq!(
        scaled.row(501).iter().copied().collect::<Vec<_>>(),
        [1.0; 3]
    );
    let x32 = DMatrix::from_fn(502, 3, |i, j| {
        (x[(i, j)] as f32).clamp(low[j] as f32, high[j] as f32)
    });
    let scaled32 = scaler.transform(&x32).unwrap();
    assert!(scaled32.iter().all(|v| (0.0..=1.0).contains(v)));
    assert_eq!(
        scaled32.row(501).iter().copied().collect::<Vec<_>>(),
        [1.0; 3]
    );
    // Outside the bounds: outside the interval (not clipped).
    let beyond = DMatrix::from_row_slice(1, 3, &[-3.8, 0.4, 2.1e5]);
    assert!(
        scaler
            .transform(&beyond)
            .unwrap()
            .iter()
            .all(|v| !(0.0..=1.0).contains(v))
    );
}

#[test]
fn bad_known_bounds_are_typed_errors() {
    for (low, high) in [
        (1.0, 1.0),
        (2.0, 1.0),
        (f64::NAN, 1.0),
        (0.0, f64::NAN),
        (f64::NEG_INFINITY, 1.0),
        (0.0, f64::INFINITY),
    ] {
        assert!(
            matches!(
                FittedScaler::known_range(low, high, 4),
                Err(Error::InvalidHyperParameter { .. })
            ),
            "[{low}, {high}]"
        );
    }
    assert!(matches!(
        FittedScaler::known_range(0.0, 1.0, 0),
        Err(Error::ZeroDimension { .. })
    ));
    assert!(matches!(
        FittedScaler::known_ranges(vec![], vec![]),
        Err(Error::ZeroDimension { .. })
    ));
    assert!(matches!(
        FittedScaler::known_ranges(vec![0.0, 0.0], vec![1.0]),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        FittedScaler::known_ranges(vec![0.0, 5.0], vec![1.0, 5.0]),
        Err(Error::InvalidHyperParameter { .. })
    ));
    let scaler = FittedScaler::known_range(0.0, 1.0, 2).unwrap();
    assert!(matches!(
        scaler.transform(&DMatrix::<f64>::zeros(1, 3)),
        Err(Error::DimensionMismatch { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// The encoder's Jacobian

/// `∂h/∂x` of `encoder` at the single sample `x` (1 × d) by central differences of `encode`,
/// refined by one Richardson step as the gradient oracle, flattened column-major like the
/// analytic `code_dim × input_dim` matrix.
fn numeric_jacobian<E: Encoder<Scalar = f64>>(encoder: &E, x: &DMatrix<f64>) -> Vec<f64> {
    let (d, k) = (x.ncols(), encoder.code_dim());
    let mut jacobian = DMatrix::zeros(k, d);
    for i in 0..d {
        let central = |h: f64| {
            let (mut plus, mut minus) = (x.clone(), x.clone());
            plus[(0, i)] += h;
            minus[(0, i)] -= h;
            (encoder.encode(&plus).unwrap() - encoder.encode(&minus).unwrap()) / (2.0 * h)
        };
        let refined = (central(STEP) * 4.0 - central(2.0 * STEP)) / 3.0;
        for j in 0..k {
            jacobian[(j, i)] = refined[(0, j)];
        }
    }
    jacobian.as_slice().to_vec()
}

/// Checks `encoder.jacobian` against finite differences at every sample of `x`.
fn check_jacobian<E: Encoder<Scalar = f64>>(encoder: &E, x: &DMatrix<f64>, what: &str) {
    let analytic = encoder.jacobian(x).unwrap();
    assert_eq!(analytic.len(), x.nrows());
    for (s, jacobian) in analytic.iter().enumerate() {
        assert_eq!(jacobian.shape(), (encoder.code_dim(), encoder.input_dim()));
        let sample = x.rows(s, 1).into_owned();
        let numeric = numeric_jacobian(encoder, &sample);
        assert_holds(
            compare(&[jacobian.as_slice().to_vec()], &[numeric]),
            &format!("{what}, sample {s}"),
        );
    }
}

/// A dense layer with weights and biases drawn from `seed`, biases non-zero.
fn layer(
    input_dim: usize,
    code_dim: usize,
    activation: Activation,
    seed: u64,
) -> DenseEncoder<f64> {
    let mut r = rng(seed);
    let weights = uniform(code_dim, input_dim, -1.0, 1.0, &mut r);
    let bias = DVector::from_iterator(
        code_dim,
        uniform(code_dim, 1, -0.5, 0.5, &mut r).iter().copied(),
    );
    DenseEncoder::from_parts(weights, bias, activation).unwrap()
}

/// Smallest |z| of any ReLU layer of `stack` on `x`: finite differences across a kink are
/// meaningless, so the tests pick data away from them.
fn closest_to_kink(stack: &StackedEncoder<f64>, x: &DMatrix<f64>) -> f64 {
    let mut input = x.clone();
    let mut closest = f64::INFINITY;
    for l in stack.layers() {
        let mut z = &input * l.weights().transpose();
        for (mut column, &b) in z.column_iter_mut().zip(l.bias().iter()) {
            column.add_scalar_mut(b);
        }
        if l.activation() == Activation::Relu {
            closest = closest.min(z.iter().fold(f64::INFINITY, |m, v| m.min(v.abs())));
        }
        input = z.map(|v| l.activation().apply(v));
    }
    closest
}

/// Data of `n × d` from the first seed at or after `seed` that keeps every ReLU of `stack` at
/// least 1e-3 from its kink.
fn data_away_from_kinks(stack: &StackedEncoder<f64>, n: usize, seed: u64) -> DMatrix<f64> {
    (seed..seed + 100)
        .map(|s| uniform(n, stack.input_dim(), -1.0, 1.0, &mut rng(s)))
        .find(|x| closest_to_kink(stack, x) > 1e-3)
        .expect("data away from every kink")
}

#[test]
fn the_jacobian_of_one_layer_matches_finite_differences() {
    for (k, activation) in Activation::ALL.into_iter().enumerate() {
        let encoder = layer(6, 4, activation, 20 + k as u64);
        let x = data_away_from_kinks(&StackedEncoder::new(vec![encoder.clone()]).unwrap(), 5, 40);
        check_jacobian(&encoder, &x, &format!("dense {activation:?}"));
        // A one-layer stack is the same map.
        let stack = StackedEncoder::new(vec![encoder.clone()]).unwrap();
        assert_eq!(stack.jacobian(&x).unwrap(), encoder.jacobian(&x).unwrap());
    }
}

#[test]
fn the_jacobian_of_a_stack_matches_finite_differences() {
    for (k, activations) in [
        [Activation::Sigmoid, Activation::Tanh, Activation::Sigmoid],
        [Activation::Relu, Activation::Linear, Activation::Tanh],
        [Activation::Tanh, Activation::Relu, Activation::Relu],
    ]
    .into_iter()
    .enumerate()
    {
        let seed = 60 + 10 * k as u64;
        let stack = StackedEncoder::new(vec![
            layer(7, 6, activations[0], seed),
            layer(6, 5, activations[1], seed + 1),
            layer(5, 3, activations[2], seed + 2),
        ])
        .unwrap();
        let x = data_away_from_kinks(&stack, 4, seed + 3);
        check_jacobian(&stack, &x, &format!("stack {activations:?}"));
        // The norms come from the same Jacobians.
        let norms = jacobian_norms(&stack, &x).unwrap();
        for (norm, jacobian) in norms.iter().zip(stack.jacobian(&x).unwrap()) {
            approx::assert_relative_eq!(*norm, jacobian.norm(), max_relative = 1e-14);
        }
    }
}

#[test]
fn the_identity_encoder_has_the_identity_jacobian() {
    let identity = IdentityEncoder::<f64>::new(4).unwrap();
    let x = uniform(3, 4, -1.0, 1.0, &mut rng(3));
    check_jacobian(&identity, &x, "identity");
    assert_eq!(jacobian_norms(&identity, &x).unwrap(), vec![2.0; 3]);
}

#[test]
fn half_lambda_times_the_mean_squared_jacobian_norm_is_the_contractive_penalty() {
    let lambda = 0.7;
    for activation in [Activation::Sigmoid, Activation::Tanh] {
        let model = DenseBuilder::new(9, 5)
            .with_encoder_activation(activation)
            .build::<f64, _>(&mut rng(11))
            .unwrap()
            .with_regularizer(Contractive::new(lambda).unwrap());
        let x = uniform(13, 9, 0.0, 1.0, &mut rng(12));
        let penalty = model.objective(&x).unwrap().penalty;
        let norms = jacobian_norms(model.encoder(), &x).unwrap();
        let mean_square = norms.iter().map(|n| n * n).sum::<f64>() / norms.len() as f64;
        assert!(penalty > 1e-3, "a penalty worth comparing: {penalty}");
        approx::assert_relative_eq!(0.5 * lambda * mean_square, penalty, max_relative = 1e-12);
        // The closed form agrees with the norms of the Jacobian matrices themselves.
        for (norm, jacobian) in norms.iter().zip(model.encoder().jacobian(&x).unwrap()) {
            approx::assert_relative_eq!(*norm, jacobian.norm(), max_relative = 1e-12);
        }
        let mean = norms.iter().sum::<f64>() / norms.len() as f64;
        assert_eq!(mean_jacobian_norm(model.encoder(), &x).unwrap(), mean);
    }
}

#[test]
fn jacobian_norms_of_a_large_batch_are_computed_in_pieces_alike() {
    // 784-64-30: 23,520 values per Jacobian, so 400 samples take three pieces.
    let mut r = rng(13);
    let stack = StackedEncoder::<f32>::random(
        &[784, 64, 30],
        Activation::Sigmoid,
        Init::GlorotUniform,
        &mut r,
    )
    .unwrap();
    let digits = bundled_digits::<f32>().unwrap();
    let x = digits.test_images.rows(0, 400).into_owned();
    let norms = jacobian_norms(&stack, &x).unwrap();
    assert_eq!(norms.len(), 400);
    for s in [0, 177, 178, 255, 356, 357, 399] {
        let one = stack.jacobian(&x.rows(s, 1).into_owned()).unwrap();
        let expected = one[0]
            .iter()
            .map(|&v| f64::from(v).powi(2))
            .sum::<f64>()
            .sqrt();
        // One sample alone goes through products of another shape: allow f32 round-off.
        approx::assert_relative_eq!(norms[s], expected, max_relative = 1e-5);
    }
    assert!(norms.iter().all(|&n| n > 0.0));
}

/// A user's encoder whose code layer hides its weights.
#[derive(Clone, Debug)]
struct Hidden(DenseEncoder<f64>);

/// A user's two-layer encoder that does not implement `Encoder::jacobian`.
#[derive(Clone, Debug)]
struct TwoLayers(StackedEncoder<f64>);

macro_rules! delegate_encoder {
    ($type:ty, $inner:ty, $code_layer:ident) => {
        impl Encoder for $type {
            type Scalar = f64;
            type Trace = <$inner as Encoder>::Trace;
            fn input_dim(&self) -> usize {
                self.0.input_dim()
            }
            fn code_dim(&self) -> usize {
                self.0.code_dim()
            }
            fn code_layer(&self) -> CodeLayer<'_, f64> {
                $code_layer(self)
            }
            fn code_input<'a>(
                &self,
                x: &'a DMatrix<f64>,
                trace: &'a Self::Trace,
            ) -> &'a DMatrix<f64> {
                self.0.code_input(x, trace)
            }
            fn forward(&self, x: &DMatrix<f64>, trace: &mut Self::Trace, pass: &mut CodePass<f64>) {
                self.0.forward(x, trace, pass)
            }
            fn backward(
                &self,
                x: &DMatrix<f64>,
                trace: &mut Self::Trace,
                pass: &CodePass<f64>,
                grad_z: &DMatrix<f64>,
                grad_w: Option<&DMatrix<f64>>,
                grad: &mut Self,
            ) {
                self.0.backward(x, trace, pass, grad_z, grad_w, &mut grad.0)
            }
            fn parameters(&self) -> Vec<&[f64]> {
                self.0.parameters()
            }
            fn parameters_mut(&mut self) -> Vec<&mut [f64]> {
                self.0.parameters_mut()
            }
            fn parameter_names(&self) -> Vec<String> {
                self.0.parameter_names()
            }
        }
    };
}

fn hidden_code_layer(encoder: &Hidden) -> CodeLayer<'_, f64> {
    CodeLayer {
        weights: None,
        activation: encoder.0.activation(),
    }
}

fn two_layers_code_layer(encoder: &TwoLayers) -> CodeLayer<'_, f64> {
    encoder.0.code_layer()
}

delegate_encoder!(Hidden, DenseEncoder<f64>, hidden_code_layer);
delegate_encoder!(TwoLayers, StackedEncoder<f64>, two_layers_code_layer);

#[test]
fn encoders_the_crate_cannot_differentiate_get_typed_errors() {
    let x = uniform(3, 6, 0.0, 1.0, &mut rng(14));
    let hidden = Hidden(layer(6, 4, Activation::Sigmoid, 15));
    assert!(matches!(
        hidden.jacobian(&x),
        Err(Error::MissingCodeWeights { .. })
    ));
    assert!(matches!(
        jacobian_norms(&hidden, &x),
        Err(Error::MissingCodeWeights { .. })
    ));
    let two = TwoLayers(
        StackedEncoder::new(vec![
            layer(6, 5, Activation::Sigmoid, 16),
            layer(5, 4, Activation::Sigmoid, 17),
        ])
        .unwrap(),
    );
    assert!(matches!(
        two.jacobian(&x),
        Err(Error::JacobianUnavailable { .. })
    ));
    assert!(matches!(
        mean_jacobian_norm(&two, &x),
        Err(Error::JacobianUnavailable { .. })
    ));
    // The stack it wraps can, and its one-layer cousin through the provided method too.
    assert!(two.0.jacobian(&x).is_ok());
    assert!(
        Hidden(layer(6, 4, Activation::Sigmoid, 15))
            .0
            .jacobian(&x)
            .is_ok()
    );

    // Bad data is reported before anything else.
    let encoder = layer(6, 4, Activation::Sigmoid, 18);
    let mut bad = x.clone();
    bad[(1, 2)] = f64::NAN;
    assert!(matches!(
        encoder.jacobian(&bad),
        Err(Error::NonFiniteData {
            row: 1,
            column: 2,
            ..
        })
    ));
    assert!(matches!(
        jacobian_norms(&two.0, &bad),
        Err(Error::NonFiniteData {
            row: 1,
            column: 2,
            ..
        })
    ));
    assert!(matches!(
        mean_jacobian_norm(&encoder, &DMatrix::zeros(0, 6)),
        Err(Error::EmptyData { .. })
    ));
    assert!(matches!(
        two.0.jacobian(&DMatrix::zeros(2, 5)),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        IdentityEncoder::<f64>::new(6)
            .unwrap()
            .jacobian(&DMatrix::zeros(2, 5)),
        Err(Error::DimensionMismatch { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// The confusion matrix

#[test]
fn the_confusion_matrix_counts_and_rates() {
    let truth = [0, 1, 2, 2, 2, 1, 0, 0, 3, 3];
    let predicted = [0, 2, 2, 2, 0, 1, 0, 1, 3, 2];
    let confusion = ConfusionMatrix::new(5, &predicted, &truth).unwrap();
    #[rustfmt::skip]
    let expected = DMatrix::from_row_slice(5, 5, &[
        2, 1, 0, 0, 0,
        0, 1, 1, 0, 0,
        1, 0, 2, 0, 0,
        0, 0, 1, 1, 0,
        0, 0, 0, 0, 0,
    ]);
    assert_eq!(confusion.to_matrix(), expected);
    assert_eq!(confusion.count(2, 0), Some(1));
    assert_eq!((confusion.count(5, 0), confusion.count(0, 5)), (None, None));
    assert_eq!((confusion.total(), confusion.correct()), (10, 6));
    assert_eq!(confusion.accuracy(), 0.6);
    assert_eq!(confusion.error_rate(), 0.4);
    let classes = confusion.per_class();
    assert_eq!(classes.len(), 5);
    let rates: Vec<_> = classes.iter().map(|c| c.error_rate()).collect();
    assert_eq!(
        rates,
        [Some(1.0 / 3.0), Some(0.5), Some(1.0 / 3.0), Some(0.5), None]
    );
    let precisions: Vec<_> = classes.iter().map(|c| c.precision()).collect();
    assert_eq!(
        precisions,
        [Some(2.0 / 3.0), Some(0.5), Some(0.5), Some(1.0), None]
    );
    let recalls: Vec<_> = classes.iter().map(|c| c.recall()).collect();
    assert_eq!(
        recalls,
        [Some(2.0 / 3.0), Some(0.5), Some(2.0 / 3.0), Some(0.5), None]
    );
    assert_eq!(confusion.class(5), None);
    assert_eq!(
        confusion.to_string(),
        "\
true \\ predicted  0  1  2  3  4 |    error
               0  2  1  0  0  0 |  33.33 %
               1  0  1  1  0  0 |  50.00 %
               2  1  0  2  0  0 |  33.33 %
               3  0  0  1  1  0 |  50.00 %
               4  0  0  0  0  0 |        –
accuracy 60.00 % (6 of 10)
"
    );
}

#[test]
fn wide_counts_widen_the_columns() {
    let truth: Vec<usize> = (0..1500).map(|i| usize::from(i >= 1200)).collect();
    let predicted = vec![0; 1500];
    let text = ConfusionMatrix::new(2, &predicted, &truth)
        .unwrap()
        .to_string();
    assert_eq!(
        text,
        "\
true \\ predicted     0     1 |    error
               0  1200     0 |   0.00 %
               1   300     0 | 100.00 %
accuracy 80.00 % (1200 of 1500)
"
    );
}

#[test]
fn bad_labels_for_a_confusion_matrix_are_typed_errors() {
    assert!(matches!(
        ConfusionMatrix::new(0, &[0], &[0]),
        Err(Error::ZeroDimension { what: "classes" })
    ));
    assert!(matches!(
        ConfusionMatrix::new(3, &[0, 1], &[0, 1, 2]),
        Err(Error::DimensionMismatch {
            expected: 3,
            found: 2,
            ..
        })
    ));
    assert!(matches!(
        ConfusionMatrix::new(3, &[0, 1, 2], &[0, 3, 1]),
        Err(Error::DataOutOfRange {
            what: "true labels",
            row: 1,
            ..
        })
    ));
    assert!(matches!(
        ConfusionMatrix::new(3, &[0, 1, 7], &[0, 1, 1]),
        Err(Error::DataOutOfRange {
            what: "predicted labels",
            row: 2,
            ..
        })
    ));
    assert!(matches!(
        ConfusionMatrix::new(3, &[], &[]),
        Err(Error::EmptyData { .. })
    ));
    // A class count whose table would not fit: a typed error, not an abort or an overflow.
    for classes in [1 << 20, usize::MAX] {
        assert!(matches!(
            ConfusionMatrix::new(classes, &[0], &[0]),
            Err(Error::TooLarge { .. })
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// Softmax regression on raw inputs

#[test]
fn softmax_regression_gradients_match_finite_differences() {
    let x = uniform(9, 6, 0.0, 1.0, &mut rng(21));
    let labels = [0, 2, 1, 1, 0, 2, 2, 3, 0];
    for weight_decay in [0.0, 0.3] {
        let mut classifier =
            Classifier::softmax_regression(6, 4, Init::GlorotUniform, &mut rng(22))
                .unwrap()
                .with_weight_decay(weight_decay)
                .unwrap();
        let mut shift = rng(23);
        for p in classifier.parameters_mut() {
            for v in p.iter_mut() {
                *v += 0.2 * (rand::RngExt::random::<f64>(&mut shift) - 0.5);
            }
        }
        assert_eq!(classifier.parameter_names(), ["head.weight", "head.bias"]);
        let (_, analytic) = classifier.gradient(&x, &labels).unwrap();
        let numeric = numeric_gradient(
            &mut classifier,
            |c| c.parameters_mut(),
            |c| c.loss(&x, &labels).unwrap(),
        );
        assert_holds(
            compare(&analytic, &numeric),
            &format!("softmax regression, λ = {weight_decay}"),
        );
    }
}

#[test]
fn softmax_regression_learns_the_bundled_digits() {
    let digits = bundled_digits::<f32>().unwrap();
    let mut r = rng(24);
    let mut classifier =
        Classifier::softmax_regression(784, 10, Init::GlorotUniform, &mut r).unwrap();
    let config = TrainingConfig::default().with_epochs(3).with_batch_size(32);
    let history = classifier
        .fit(
            &digits.train_images,
            &digits.train_labels,
            &config,
            &mut Sgd::new(0.1).unwrap(),
            &mut r,
        )
        .unwrap();
    assert!(history.epochs[2].loss < history.epochs[0].loss);
    let confusion = classifier
        .confusion_matrix(&digits.test_images, &digits.test_labels)
        .unwrap();
    let error = confusion.error_rate();
    // Softmax regression reaches about 8 % on MNIST; chance is 90 %, and a model that learned
    // nothing of some digit would lose its tenth of the test set.
    assert!(error < 0.12, "test error {error}\n{confusion}");
    assert!(
        confusion
            .per_class()
            .iter()
            .all(|c| c.error_rate() < Some(0.35)),
        "{confusion}"
    );
    let accuracy = classifier
        .accuracy(&digits.test_images, &digits.test_labels)
        .unwrap();
    assert_eq!(confusion.accuracy(), accuracy);
}

#[test]
fn the_identity_encoder_refuses_what_needs_weights() {
    let mut r = rng(25);
    let decoder =
        DenseDecoder::<f64>::new(4, 4, Activation::Sigmoid, Init::GlorotUniform, &mut r).unwrap();
    let x = uniform(3, 4, 0.0, 1.0, &mut r);
    let model = Autoencoder::new(IdentityEncoder::new(4).unwrap(), decoder)
        .unwrap()
        .with_regularizer(Contractive::new(0.1).unwrap());
    assert!(matches!(
        model.objective(&x),
        Err(Error::MissingCodeWeights { .. })
    ));
    let tied = DenseDecoder::<f64>::tied(4, 4, Activation::Sigmoid).unwrap();
    assert!(matches!(
        Autoencoder::new(IdentityEncoder::new(4).unwrap(), tied),
        Err(Error::MissingCodeWeights { .. })
    ));
    assert!(matches!(
        IdentityEncoder::<f32>::new(0),
        Err(Error::ZeroDimension { .. })
    ));
    assert!(matches!(
        Classifier::<IdentityEncoder<f32>>::softmax_regression(3, 0, Init::GlorotUniform, &mut r),
        Err(Error::ZeroDimension { what: "classes" })
    ));
}

#[test]
fn half_energy_radii_measure_how_compact_a_filter_is() {
    use autoencoders::metrics::half_energy_radii;
    // A uniform disc of radius R holds half its energy within R/√2 of its centre; on a pixel
    // grid the answer is the distance of the pixel that crosses half, within a pixel of that.
    let side = 41;
    let disc = |radius: f64, cy: f64, cx: f64| {
        (0..side * side)
            .map(|p| {
                let (y, x) = ((p / side) as f64, (p % side) as f64);
                if (y - cy).hypot(x - cx) <= radius {
                    1.0
                } else {
                    0.0
                }
            })
            .collect::<Vec<f64>>()
    };
    let mut values = Vec::new();
    for (radius, cy, cx) in [(4.0, 20.0, 20.0), (12.0, 20.0, 20.0), (6.0, 8.0, 30.0)] {
        values.extend(disc(radius, cy, cx));
    }
    // A vertical stroke: energy along a line, compact across it.
    values.extend((0..side * side).map(|p| {
        if p % side == 20 && (10..30).contains(&(p / side)) {
            1.0
        } else {
            0.0
        }
    }));
    let w = DMatrix::from_row_slice(4, side * side, &values);
    let radii: Vec<f64> = half_energy_radii(&w, side)
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect();
    for (r, radius) in radii.iter().zip([4.0, 12.0, 6.0]) {
        assert!(
            (r - radius / 2f64.sqrt()).abs() <= 1.0,
            "{r} for a disc of radius {radius}"
        );
    }
    // The same shape moved: the same radius. A larger disc: a larger one.
    assert_eq!(
        half_energy_radii(
            &DMatrix::from_row_slice(1, side * side, &disc(6.0, 20.0, 20.0)),
            side
        )
        .unwrap(),
        vec![Some(radii[2])]
    );
    assert!(radii[0] < radii[2] && radii[2] < radii[1]);
    // 20 pixels in a line: half of them within 5 of the middle.
    assert!((radii[3] - 5.0).abs() <= 0.5, "{}", radii[3]);
    // Sign and scale do not matter: energy is the square, relative to the filter's own.
    let scaled = w.map(|v| -3.0 * v);
    let again: Vec<f64> = half_energy_radii(&scaled, side)
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(again, radii);
    // Neither huge nor tiny weights overflow or underflow the energies (whose squares would
    // be beyond f64 either way): powers of two, so the radii are exactly the same.
    for factor in [2f64.powi(600), 2f64.powi(-600)] {
        let extreme: Vec<f64> = half_energy_radii(&w.map(|v| v * factor), side)
            .unwrap()
            .into_iter()
            .map(Option::unwrap)
            .collect();
        assert_eq!(extreme, radii, "weights times {factor}");
    }
    // f32 weights work as well.
    assert_eq!(
        half_energy_radii(&w.map(|v| v as f32), side).unwrap()[1],
        Some(radii[1])
    );
}

#[test]
fn half_energy_radii_refuse_bad_filters() {
    use autoencoders::metrics::half_energy_radii;
    let w = DMatrix::<f64>::from_element(2, 12, 1.0);
    assert!(matches!(
        half_energy_radii(&w, 0),
        Err(Error::ZeroDimension { .. })
    ));
    assert!(matches!(
        half_energy_radii(&w, 5),
        Err(Error::TileShape { .. })
    ));
    assert!(matches!(
        half_energy_radii(&DMatrix::<f64>::zeros(0, 12), 4),
        Err(Error::EmptyData { .. })
    ));
    let mut nan = w.clone();
    nan[(1, 3)] = f64::NAN;
    assert!(matches!(
        half_energy_radii(&nan, 4),
        Err(Error::NonFiniteData { .. })
    ));
    // A dead filter has no centroid: `None`, not NaN.
    let mut dead = w.clone();
    dead.row_mut(0).fill(0.0);
    let radii = half_energy_radii(&dead, 4).unwrap();
    assert_eq!(radii[0], None);
    assert!(radii[1].is_some_and(f64::is_finite));
}
