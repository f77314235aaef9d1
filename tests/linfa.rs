//! The `linfa` feature: fitting through linfa's `Fit` on the bundled digits gives the model the
//! crate's own calls give for the same seed, its `Transformer` gives the codes `encode` gives,
//! the ndarray ↔ nalgebra conversions keep every element in place, and bad input is an error.

use autoencoders::data::bundled_digits;
use autoencoders::linfa::{AutoencoderParams, array_to_matrix, matrix_to_array};
use autoencoders::rand::SeedableRng;
use autoencoders::rand::rngs::ChaCha8Rng;
use autoencoders::{
    Activation, Adam, BuiltinCorruption, BuiltinRegularizer, Contractive, DenseBuilder, Error,
    KlSparsity, L1Sparsity, Masking, ReconstructionLoss, Sgd, TrainingConfig,
};
use linfa::prelude::*;
use nalgebra::DMatrix;
use ndarray::{Array1, Array2, Ix1, ShapeBuilder, s};

/// The first `n` training digits and their labels, as a linfa dataset.
fn digits(n: usize) -> Dataset<f64, usize, Ix1> {
    let digits = bundled_digits::<f64>().unwrap();
    let records = matrix_to_array(&digits.train_images.rows(0, n).into_owned());
    let targets = Array1::from(digits.train_labels[..n].to_vec());
    Dataset::new(records, targets)
}

#[test]
fn linfa_fit_and_transform_match_the_crates_own_calls() {
    let dataset = digits(300);
    let builder = DenseBuilder::new(784, 16);
    let config = TrainingConfig::default().with_epochs(2).with_batch_size(50);
    let regularizers: Vec<BuiltinRegularizer> = vec![
        Contractive::new(0.01).unwrap().into(),
        L1Sparsity::new(1e-3).unwrap().into(),
    ];
    // The corruption and the shuffles draw from the generator too.
    let corruption: BuiltinCorruption = Masking::new(0.2).unwrap().into();
    let params = AutoencoderParams::new(builder)
        .with_config(config)
        .with_optimizer(Sgd::new(0.05).unwrap().with_momentum(0.9).unwrap())
        .with_regularizers(regularizers.clone())
        .with_corruption(corruption)
        .with_loss(ReconstructionLoss::CrossEntropy)
        .with_seed(42);
    let model = params.fit(&dataset).unwrap();

    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut own = builder
        .build::<f64, _>(&mut rng)
        .unwrap()
        .with_regularizer(regularizers)
        .with_corruption(corruption)
        .with_loss(ReconstructionLoss::CrossEntropy);
    let x = array_to_matrix(dataset.records());
    let before = own.objective(&x).unwrap().total();
    let mut sgd = Sgd::new(0.05).unwrap().with_momentum(0.9).unwrap();
    own.fit(&x, &config, &mut sgd, &mut rng).unwrap();
    assert!(
        own.objective(&x).unwrap().total() < before,
        "training helped"
    );

    let expected = own.encode(&x).unwrap();
    assert_eq!(expected.shape(), (300, 16));
    // Bit for bit, through each kind of records.
    let by_reference = model.transform(dataset.records()).unwrap();
    assert_eq!(array_to_matrix(&by_reference), expected);
    let by_view = model.transform(dataset.records().view()).unwrap();
    assert_eq!(by_view, by_reference);
    let owned = model.transform(dataset.records().clone()).unwrap();
    assert_eq!(owned, by_reference);
    let coded = model.transform(dataset.clone()).unwrap();
    assert_eq!(coded.records(), &by_reference);
    assert_eq!(coded.targets(), dataset.targets());
    assert_eq!(model.reconstruct(&x).unwrap(), own.reconstruct(&x).unwrap());
}

#[test]
fn linfa_fit_works_in_f32_with_the_default_optimiser() {
    let digits = bundled_digits::<f32>().unwrap();
    let records = matrix_to_array(&digits.train_images.rows(0, 200).into_owned());
    let dataset = DatasetBase::from(records.clone());
    let config = TrainingConfig::default().with_epochs(1).with_batch_size(40);
    let model = AutoencoderParams::<f32>::new(DenseBuilder::new(784, 8))
        .with_config(config)
        .fit(&dataset)
        .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut own = DenseBuilder::new(784, 8).build::<f32, _>(&mut rng).unwrap();
    let x = array_to_matrix(&records);
    own.fit(&x, &config, &mut Adam::new(1e-3).unwrap(), &mut rng)
        .unwrap();
    assert_eq!(
        array_to_matrix(&model.transform(&records).unwrap()),
        own.encode(&x).unwrap()
    );
}

#[test]
fn conversions_keep_every_element_in_place_whatever_the_layout() {
    let row_major = Array2::from_shape_fn((5, 7), |(i, j)| (10 * i + j) as f64);
    let column_major = Array2::from_shape_fn((5, 7).f(), |(i, j)| (10 * i + j) as f64);
    let expected = DMatrix::from_fn(5, 7, |i, j| (10 * i + j) as f64);
    assert_eq!(array_to_matrix(&row_major), expected);
    assert_eq!(array_to_matrix(&column_major), expected);
    // Strided and transposed views, neither row- nor column-major contiguous.
    let strided = row_major.slice(s![1..;2, ..;3]);
    assert_eq!(
        array_to_matrix(&strided),
        DMatrix::from_fn(2, 3, |i, j| (10 * (1 + 2 * i) + 3 * j) as f64)
    );
    assert_eq!(array_to_matrix(&row_major.t()), expected.transpose());
    assert_eq!(
        array_to_matrix(&strided.t()),
        array_to_matrix(&strided).transpose()
    );
    // And back, in standard layout.
    let back = matrix_to_array(&expected);
    assert!(back.is_standard_layout());
    assert_eq!(back, row_major);
    assert_eq!(array_to_matrix(&back), expected);
    // Empty and f32 matrices.
    let empty = Array2::<f32>::zeros((0, 4));
    assert_eq!(array_to_matrix(&empty).shape(), (0, 4));
    assert_eq!(matrix_to_array(&DMatrix::<f32>::zeros(3, 0)).dim(), (3, 0));
    let small = DMatrix::from_row_slice(2, 2, &[1.5_f32, -2.0, 0.25, 8.0]);
    assert_eq!(array_to_matrix(&matrix_to_array(&small)), small);
}

#[test]
fn bad_parameters_and_records_are_errors() {
    let dataset = digits(100);
    let config = TrainingConfig::default().with_epochs(1).with_batch_size(50);
    let params = AutoencoderParams::<f64>::new(DenseBuilder::new(784, 4)).with_config(config);

    // Checked settings, through linfa's ParamGuard.
    let zero_batch = params.clone().with_config(config.with_batch_size(0));
    assert!(matches!(
        zero_batch.check_ref(),
        Err(Error::ZeroDimension { what: "batch_size" })
    ));
    assert!(matches!(
        zero_batch.fit(&dataset),
        Err(Error::ZeroDimension { what: "batch_size" })
    ));
    let zero_code = AutoencoderParams::<f64>::new(DenseBuilder::new(784, 0));
    assert!(matches!(
        zero_code.fit(&dataset),
        Err(Error::ZeroDimension { what: "code_dim" })
    ));
    // KL sparsity needs codes in (0, 1): refused for a ReLU encoder before any update.
    let relu = AutoencoderParams::<f64>::new(
        DenseBuilder::new(784, 4).with_encoder_activation(Activation::Relu),
    )
    .with_regularizers(vec![KlSparsity::new(0.05, 1.0).unwrap().into()]);
    assert!(relu.fit(&dataset).is_err());

    // Records of the wrong width, empty, or holding a NaN.
    let narrow = Dataset::from(Array2::<f64>::zeros((10, 783)));
    assert!(matches!(
        params.fit(&narrow),
        Err(Error::DimensionMismatch {
            expected: 784,
            found: 783,
            ..
        })
    ));
    let empty = Dataset::from(Array2::<f64>::zeros((0, 784)));
    assert!(matches!(params.fit(&empty), Err(Error::EmptyData { .. })));
    let mut nan = dataset.records().clone();
    nan[[3, 5]] = f64::NAN;
    assert!(matches!(
        params.fit(&Dataset::from(nan.clone())),
        Err(Error::NonFiniteData {
            row: 3,
            column: 5,
            ..
        })
    ));

    let model = params.fit(&dataset).unwrap();
    assert!(matches!(
        model.transform(Array2::<f64>::zeros((2, 10))),
        Err(Error::DimensionMismatch { found: 10, .. })
    ));
    assert!(matches!(
        model.transform(&nan),
        Err(Error::NonFiniteData {
            row: 3,
            column: 5,
            ..
        })
    ));
    assert!(matches!(
        model.transform(Array2::<f64>::zeros((0, 784))),
        Err(Error::EmptyData { .. })
    ));

    // linfa's own errors convert, as its `Fit` requires.
    let converted = Error::from(linfa::Error::NotEnoughSamples);
    assert_eq!(converted.to_string(), "linfa: not enough samples");
}
