//! Anomaly scores and the detector: scores are the batch objective's per-sample terms for every
//! model and loss (a user's included), accurate in `f32`; thresholds follow their definition;
//! bad input gets typed errors.

mod common;

use autoencoders::anomaly::{
    AnomalyDetector, AnomalyScore, Threshold, VaeEstimate, VaeScorer, auroc, average_precision,
};
use autoencoders::data::bundled_digits;
use autoencoders::{
    Activation, Adam, DenseBuilder, DenseVae, Error, Likelihood, Loss, LossInput, Pca,
    ReconstructionLoss, TrainingConfig,
};
use common::{rng, uniform};
use nalgebra::DMatrix;

/// A user's loss with no `sample_values` of its own: the provided one must give its per-row
/// values. Absolute error, through the decoder's activation.
struct Absolute;

impl Loss<f64> for Absolute {
    fn value_and_gradient(&self, input: &LossInput<'_, f64>, grad: &mut DMatrix<f64>) -> f64 {
        let n = input.x.nrows() as f64;
        let mut total = 0.0;
        for ((g, &x), &y) in grad.iter_mut().zip(input.x.iter()).zip(input.x_hat.iter()) {
            total += (y - x).abs();
            *g = (y - x).signum() / n;
        }
        input.activation.scale_by_derivative(
            input.pre_activation.as_slice(),
            input.x_hat.as_slice(),
            grad.as_mut_slice(),
        );
        total / n
    }
}

#[test]
fn scores_are_the_per_sample_terms_of_the_batch_loss_for_every_loss() {
    let x = uniform(17, 6, 0.0, 1.0, &mut rng(1));
    let model = DenseBuilder::new(6, 3)
        .build::<f64, _>(&mut rng(2))
        .unwrap();
    for loss in [
        ReconstructionLoss::SquaredError,
        ReconstructionLoss::CrossEntropy,
    ] {
        let model = model.clone().with_loss(loss);
        let scores = model.sample_losses(&x).unwrap();
        assert_eq!(scores.len(), 17);
        let mean = scores.iter().sum::<f64>() / 17.0;
        let batch = model.objective(&x).unwrap().reconstruction;
        assert!(
            (mean - batch).abs() <= 1e-12 * batch,
            "{loss:?}: {mean} against {batch}"
        );
        // Each score is the loss of its row alone.
        for (i, &s) in scores.iter().enumerate() {
            let row = x.rows(i, 1).into_owned();
            let alone = model.objective(&row).unwrap().reconstruction;
            assert!(
                (s - alone).abs() <= 1e-12 * alone.max(1.0),
                "{loss:?} row {i}"
            );
        }
    }
    let robust = model
        .clone()
        .with_loss(autoencoders::Correntropy::new(0.2).unwrap());
    let scores = robust.sample_losses(&x).unwrap();
    let mean = scores.iter().sum::<f64>() / 17.0;
    let batch = robust.objective(&x).unwrap().reconstruction;
    assert!(
        (mean - batch).abs() <= 1e-12 * batch,
        "correntropy: {mean} against {batch}"
    );
    let user = model.clone().with_loss(Absolute);
    let scores = user.sample_losses(&x).unwrap();
    let x_hat = user.reconstruct(&x).unwrap();
    for (i, &s) in scores.iter().enumerate() {
        let direct: f64 = (0..6).map(|j| (x_hat[(i, j)] - x[(i, j)]).abs()).sum();
        assert!((s - direct).abs() <= 1e-12, "row {i}: {s} against {direct}");
    }
    // The per-feature errors of the squared error sum to its scores.
    let squared = model.with_loss(ReconstructionLoss::SquaredError);
    let features = squared.feature_errors(&x).unwrap();
    for (i, &s) in squared.sample_losses(&x).unwrap().iter().enumerate() {
        assert!((features.row(i).sum() - s).abs() <= 1e-12);
    }
}

#[test]
fn f32_scores_of_the_8000_digits_agree_with_an_f64_evaluation() {
    let digits = bundled_digits::<f32>().unwrap();
    let model = DenseBuilder::new(784, 32)
        .build::<f32, _>(&mut rng(3))
        .unwrap()
        .with_loss(ReconstructionLoss::CrossEntropy);
    let scores = model.sample_losses(&digits.train_images).unwrap();
    // The same weights and data in f64.
    let x64 = digits.train_images.map(f64::from);
    let [w1, b1, w2, b2] = [0, 1, 2, 3].map(|i| model.parameters()[i].to_vec());
    let w1 = DMatrix::from_column_slice(32, 784, &w1).map(f64::from);
    let w2 = DMatrix::from_column_slice(784, 32, &w2).map(f64::from);
    let h = &x64 * w1.transpose();
    let h = DMatrix::from_fn(h.nrows(), 32, |i, j| {
        1.0 / (1.0 + (-(h[(i, j)] + f64::from(b1[j]))).exp())
    });
    let a = &h * w2.transpose();
    let mut worst: f64 = 0.0;
    for (i, &s) in scores.iter().enumerate() {
        let exact: f64 = (0..784)
            .map(|j| {
                let a = a[(i, j)] + f64::from(b2[j]);
                let softplus = a.max(0.0) + (-a.abs()).exp().ln_1p();
                softplus - x64[(i, j)] * a
            })
            .sum();
        worst = worst.max((s - exact).abs() / exact);
    }
    // The f32 forward pass rounds each pre-activation; the sums themselves are f64.
    assert!(worst <= 1e-5, "worst relative difference {worst}");
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    let objective = model
        .objective(&digits.train_images)
        .unwrap()
        .reconstruction as f64;
    assert!(
        (mean - objective).abs() <= 1e-6 * mean,
        "mean {mean} against the objective {objective}"
    );
}

#[test]
fn pca_and_vae_scores() {
    let x = uniform(30, 5, 0.0, 1.0, &mut rng(4));
    let pca = Pca::fit(&x, 2).unwrap();
    let x_hat = pca.reconstruct(&x).unwrap();
    let scores = pca.scores(&x).unwrap();
    for (i, &s) in scores.iter().enumerate() {
        let direct: f64 = (0..5).map(|j| (x_hat[(i, j)] - x[(i, j)]).powi(2)).sum();
        assert!((s - direct).abs() <= 1e-12);
    }
    let vae = DenseVae::<f64>::dense(
        5,
        &[4],
        2,
        Activation::Tanh,
        Likelihood::Bernoulli,
        &mut rng(5),
    )
    .unwrap();
    for estimate in [
        VaeEstimate::Elbo,
        VaeEstimate::LogLikelihood { samples: 50 },
    ] {
        let scorer = VaeScorer {
            vae: vae.clone(),
            estimate,
            seed: 9,
        };
        let scores = scorer.scores(&x).unwrap();
        assert_eq!(
            scores,
            scorer.scores(&x).unwrap(),
            "the same scores every call"
        );
        let mut draws = rng(9);
        let direct = match estimate {
            VaeEstimate::Elbo => vae.elbo(&x, &mut draws).unwrap(),
            VaeEstimate::LogLikelihood { samples } => {
                vae.log_likelihood(&x, samples, &mut draws).unwrap()
            }
            _ => unreachable!(),
        };
        for (s, d) in scores.iter().zip(direct) {
            assert_eq!(*s, -d);
        }
    }
}

#[test]
fn the_contamination_threshold_flags_that_fraction_of_the_training_data() {
    let x = uniform(101, 4, 0.0, 1.0, &mut rng(6));
    let pca = Pca::fit(&x, 1).unwrap();
    for c in [0.01, 0.05, 0.1, 0.25, 0.5] {
        let detector = AnomalyDetector::fit(pca.clone(), &x, Threshold::Contamination(c)).unwrap();
        let flagged = detector.training_outliers().iter().filter(|&&b| b).count();
        // Distinct scores: the threshold lies at the order statistic (n − 1)(1 − c) = 100(1 − c),
        // and everything above it is flagged.
        let h = 100.0 * (1.0 - c);
        let expected = if h.fract() == 0.0 {
            100 - h as usize
        } else {
            100 - h.floor() as usize
        };
        assert_eq!(flagged, expected, "contamination {c}");
        assert_eq!(
            detector.predict(&x).unwrap(),
            detector.training_outliers(),
            "predict on the training data repeats fit"
        );
    }
    let explicit = AnomalyDetector::fit(pca.clone(), &x, Threshold::Value(0.0)).unwrap();
    assert_eq!(explicit.threshold(), 0.0);
    assert!(explicit.training_outliers().iter().all(|&b| b));
}

#[test]
fn a_detector_ranks_planted_anomalies_above_normal_samples() {
    // Normal samples on a 2-D plane in 8 dimensions; anomalies off it.
    let mut r = rng(7);
    let basis = uniform(2, 8, -1.0, 1.0, &mut r);
    let normal = &uniform(300, 2, -1.0, 1.0, &mut r) * &basis;
    let odd = uniform(20, 8, -1.0, 1.0, &mut r);
    let mut model = DenseBuilder::new(8, 2)
        .with_encoder_activation(Activation::Linear)
        .with_decoder_activation(Activation::Linear)
        .build::<f64, _>(&mut r)
        .unwrap();
    let config = TrainingConfig::default()
        .with_epochs(100)
        .with_batch_size(30);
    model
        .fit(&normal, &config, &mut Adam::new(0.01).unwrap(), &mut r)
        .unwrap();
    let detector = AnomalyDetector::fit(model, &normal, Threshold::Contamination(0.02)).unwrap();
    let test = DMatrix::from_fn(40, 8, |i, j| {
        if i < 20 {
            normal[(i, j)]
        } else {
            odd[(i - 20, j)]
        }
    });
    let labels: Vec<bool> = (0..40).map(|i| i >= 20).collect();
    let scores = detector.scores(&test).unwrap();
    assert!(auroc(&scores, &labels).unwrap() > 0.99);
    assert!(average_precision(&scores, &labels).unwrap() > 0.99);
    let flagged = detector.predict(&test).unwrap();
    assert!(flagged[20..].iter().filter(|&&b| b).count() >= 19);
}

/// A user's scorer: distance from the origin.
struct Norm;

impl AnomalyScore<f64> for Norm {
    fn input_dim(&self) -> usize {
        2
    }

    fn scores(&self, x: &DMatrix<f64>) -> autoencoders::Result<Vec<f64>> {
        Ok(x.row_iter().map(|r| r.norm()).collect())
    }
}

#[test]
fn a_users_scorer_makes_a_detector() {
    let x = DMatrix::from_row_slice(4, 2, &[0.0, 1.0, 1.0, 0.0, 0.0, 2.0, 3.0, 4.0]);
    let detector = AnomalyDetector::fit(Norm, &x, Threshold::Value(2.5)).unwrap();
    assert_eq!(detector.training_outliers(), [false, false, false, true]);
    assert_eq!(detector.scores(&x).unwrap(), [1.0, 1.0, 2.0, 5.0]);
}

#[test]
fn bad_input_gets_typed_errors() {
    let x = uniform(20, 3, 0.0, 1.0, &mut rng(8));
    let pca = Pca::fit(&x, 1).unwrap();
    for c in [0.0, -0.1, 0.51, f64::NAN, f64::INFINITY] {
        assert!(
            matches!(
                AnomalyDetector::fit(pca.clone(), &x, Threshold::Contamination(c)),
                Err(Error::InvalidHyperParameter {
                    name: "contamination",
                    ..
                })
            ),
            "contamination {c}"
        );
    }
    for t in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(matches!(
            AnomalyDetector::fit(pca.clone(), &x, Threshold::Value(t)),
            Err(Error::InvalidHyperParameter {
                name: "threshold",
                ..
            })
        ));
    }
    let detector = AnomalyDetector::fit(pca, &x, Threshold::Contamination(0.1)).unwrap();
    assert!(matches!(
        detector.scores(&DMatrix::<f64>::zeros(2, 4)),
        Err(Error::DimensionMismatch { .. })
    ));
    let mut nan = x.clone();
    nan[(3, 1)] = f64::NAN;
    assert!(matches!(
        detector.predict(&nan),
        Err(Error::NonFiniteData {
            row: 3,
            column: 1,
            ..
        })
    ));
    assert!(matches!(
        detector.scores(&DMatrix::<f64>::zeros(0, 3)),
        Err(Error::EmptyData { .. })
    ));
    // A model whose scores are not finite: a user's scorer returning NaN.
    struct Broken;
    impl AnomalyScore<f64> for Broken {
        fn input_dim(&self) -> usize {
            3
        }
        fn scores(&self, x: &DMatrix<f64>) -> autoencoders::Result<Vec<f64>> {
            Ok(vec![f64::NAN; x.nrows()])
        }
    }
    assert!(matches!(
        AnomalyDetector::fit(Broken, &x, Threshold::Contamination(0.1)),
        Err(Error::NonFiniteData { .. })
    ));
    // Cross-entropy scores need data in [0, 1].
    let model = DenseBuilder::new(3, 2)
        .build::<f64, _>(&mut rng(9))
        .unwrap()
        .with_loss(ReconstructionLoss::CrossEntropy);
    assert!(matches!(
        model.sample_losses(&x.map(|v| v + 2.0)),
        Err(Error::DataOutOfRange { .. })
    ));
}

#[test]
fn a_saved_detector_loads_with_its_threshold_scores_and_scaler_and_refuses_what_does_not_fit() {
    use autoencoders::data::{FittedScaler, Scaler};
    use autoencoders::{BuiltinCorruption, DenseBuilder, DynamicAutoencoder, Error};
    use common::model_file::ModelFile;
    let raw = uniform(60, 5, -3.0, 8.0, &mut rng(70));
    let folder = std::env::temp_dir().join(format!("autoencoders-detector-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join("detector.safetensors");
    let model: DynamicAutoencoder<f64> = DenseBuilder::new(5, 3)
        .build::<f64, _>(&mut rng(71))
        .unwrap()
        .with_regularizer(vec![])
        .with_corruption(BuiltinCorruption::None)
        .with_loss(autoencoders::BuiltinLoss::default());
    let scalers = [
        None,
        Some(Scaler::MinMax.fit(&raw).unwrap()),
        Some(Scaler::Standard.fit(&raw).unwrap()),
        Some(FittedScaler::identity(5)),
        Some(FittedScaler::bytes(5)),
        Some(FittedScaler::known_range(-3.0, 8.0, 5).unwrap()),
    ];
    for scaler in scalers {
        let x = match &scaler {
            Some(s) => s.transform(&raw).unwrap(),
            None => raw.clone(),
        };
        let detector =
            AnomalyDetector::fit(model.clone(), &x, Threshold::Contamination(0.2)).unwrap();
        detector.save(&path, scaler.as_ref()).unwrap();
        let (loaded, loaded_scaler) =
            AnomalyDetector::<DynamicAutoencoder<f64>>::load(&path).unwrap();
        assert_eq!(loaded.threshold().to_bits(), detector.threshold().to_bits());
        assert_eq!(loaded.training_scores(), detector.training_scores());
        assert_eq!(loaded_scaler, scaler);
        assert_eq!(loaded.scores(&x).unwrap(), detector.scores(&x).unwrap());
        assert_eq!(loaded.predict(&x).unwrap(), detector.predict(&x).unwrap());
        // The file is a model file too.
        assert_eq!(
            DynamicAutoencoder::<f64>::load(&path).unwrap().parameters(),
            model.parameters()
        );
    }

    // Data of the wrong width for a loaded detector; a scaler of the wrong width at saving.
    let detector = AnomalyDetector::fit(model.clone(), &raw, Threshold::Value(1.0)).unwrap();
    detector.save(&path, None).unwrap();
    let (loaded, _) = AnomalyDetector::<DynamicAutoencoder<f64>>::load(&path).unwrap();
    assert!(matches!(
        loaded.scores(&uniform(3, 4, 0.0, 1.0, &mut rng(72))),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        detector.save(
            folder.join("other.safetensors"),
            Some(&FittedScaler::identity(4))
        ),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(!folder.join("other.safetensors").exists());

    // A model file without a detector; an edited threshold (the whole-file checksum); records
    // that are malformed, with the checksum recomputed so that the record is what is read.
    let plain = folder.join("model.safetensors");
    model.save(&plain).unwrap();
    let refused = |bytes: &[u8]| {
        matches!(
            AnomalyDetector::<DynamicAutoencoder<f64>>::from_safetensors(bytes, "edited"),
            Err(Error::ModelFile { .. })
        )
    };
    assert!(refused(&std::fs::read(&plain).unwrap()));
    let good = ModelFile::parse(&std::fs::read(&path).unwrap());
    let record = |file: &ModelFile| -> serde_json::Value {
        serde_json::from_str(
            file.header["__metadata__"]["autoencoders.detector"]
                .as_str()
                .unwrap(),
        )
        .unwrap()
    };
    let with = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut file = good.clone();
        let mut r = record(&file);
        edit(&mut r);
        file.header["__metadata__"]["autoencoders.detector"] =
            serde_json::Value::String(r.to_string());
        file
    };
    let edited = with(&|r| r["threshold"] = serde_json::json!(2.0));
    assert!(
        refused(&edited.to_bytes_as_is()),
        "the whole-file checksum catches an edit"
    );
    assert!(
        AnomalyDetector::<DynamicAutoencoder<f64>>::from_safetensors(&edited.to_bytes(), "edited")
            .is_ok()
    );
    for edit in [
        &(|r: &mut serde_json::Value| r["format_version"] = serde_json::json!(2))
            as &dyn Fn(&mut serde_json::Value),
        &|r| r["threshold"] = serde_json::json!("NaN"),
        &|r| r["training_scores"] = serde_json::json!([1.0, null]),
        &|r| r["extra"] = serde_json::json!(1),
        &|r| {
            r["scaler"] =
                serde_json::json!({"kind": "min-max", "minimum": [0.0], "maximum": [1.0, 2.0]})
        },
        &|r| {
            r["scaler"] = serde_json::json!({"kind": "standard", "mean": vec![0.0; 4], "std_dev": vec![1.0; 4]})
        },
        &|r| {
            r["scaler"] = serde_json::json!({"kind": "standard", "mean": vec![0.0; 5], "std_dev": vec![-1.0; 5]})
        },
        &|r| r["scaler"] = serde_json::json!({"kind": "quantile"}),
    ] {
        assert!(refused(&with(edit).to_bytes()), "{}", record(&with(edit)));
    }
    let _ = std::fs::remove_dir_all(&folder);
}
