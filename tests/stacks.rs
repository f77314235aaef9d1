//! Stacks, deep autoencoders, classifiers and PCA: gradients against finite differences, and
//! behaviour on real digits.

mod common;

use autoencoders::data::bundled_digits;
use autoencoders::{
    Activation, Adam, Autoencoder, Classifier, Contractive, DenseDecoder, Encoder, Init,
    L1Sparsity, LayerSpec, LayerwisePretrainer, Masking, Pca, StackedDecoder, StackedEncoder,
    TrainingConfig, WeightDecay,
};
use common::{compare, numeric_gradient, rng, uniform};
use nalgebra::DMatrix;

fn assert_holds(agreement: common::Agreement, what: &str) {
    assert!(
        agreement.holds(),
        "{what}: max element-wise {:.3e} at {:?}, norm {:.3e}",
        agreement.max_elementwise,
        agreement.worst,
        agreement.norm
    );
}

/// The smallest |z| over every ReLU layer's pre-activations for `x`: a ReLU unit closer to its
/// kink than the finite-difference step makes the numeric derivative meaningless there.
fn closest_to_kink(
    model: &Autoencoder<StackedEncoder<f64>, StackedDecoder<f64>>,
    x: &DMatrix<f64>,
) -> f64 {
    let mut closest = f64::INFINITY;
    let mut h = x.clone();
    let encoder = model
        .encoder()
        .layers()
        .iter()
        .map(|l| (l.weights().clone(), l.bias().clone(), l.activation()));
    let decoder = model.decoder().layers().iter().map(|l| {
        (
            autoencoders::Decoder::weights(l).unwrap().clone(),
            l.bias().clone(),
            autoencoders::Decoder::activation(l),
        )
    });
    for (w, b, activation) in encoder.chain(decoder) {
        let mut z = &h * w.transpose();
        for (mut column, &bias) in z.column_iter_mut().zip(b.iter()) {
            column.add_scalar_mut(bias);
        }
        if activation == Activation::Relu {
            closest = closest.min(z.iter().fold(f64::INFINITY, |m, v| m.min(v.abs())));
        }
        h = z.map(|v| activation.apply(v));
    }
    closest
}

/// `deep(…)` from the first seed at or after `seed` whose model keeps every ReLU at least 1e-3
/// away from its kink on `x`.
fn deep_away_from_kinks(
    encoder_activations: [Activation; 2],
    decoder_activations: [Activation; 2],
    seed: u64,
    x: &DMatrix<f64>,
) -> Autoencoder<StackedEncoder<f64>, StackedDecoder<f64>> {
    (seed..seed + 100)
        .map(|s| deep(encoder_activations, decoder_activations, s))
        .find(|m| closest_to_kink(m, x) > 1e-3)
        .expect("a seed without near-kink units")
}

fn deep(
    encoder_activations: [Activation; 2],
    decoder_activations: [Activation; 2],
    seed: u64,
) -> Autoencoder<StackedEncoder<f64>, StackedDecoder<f64>> {
    let mut r = rng(seed);
    let encoder = StackedEncoder::new(vec![
        autoencoders::DenseEncoder::new(6, 5, encoder_activations[0], Init::GlorotUniform, &mut r)
            .unwrap(),
        autoencoders::DenseEncoder::new(5, 3, encoder_activations[1], Init::GlorotUniform, &mut r)
            .unwrap(),
    ])
    .unwrap();
    let decoder = StackedDecoder::new(vec![
        DenseDecoder::new(3, 5, decoder_activations[0], Init::GlorotUniform, &mut r).unwrap(),
        DenseDecoder::new(5, 6, decoder_activations[1], Init::GlorotUniform, &mut r).unwrap(),
    ])
    .unwrap();
    let mut model = Autoencoder::new(encoder, decoder).unwrap();
    let mut shift = rng(seed + 100);
    for p in model.parameters_mut() {
        for v in p.iter_mut() {
            *v += 0.2 * (rand::RngExt::random::<f64>(&mut shift) - 0.5);
        }
    }
    model
}

#[test]
fn deep_autoencoder_gradients_match_finite_differences() {
    let x = uniform(5, 6, 0.05, 0.95, &mut rng(1));
    for a in Activation::ALL {
        for b in Activation::ALL {
            let mut model = deep_away_from_kinks([a, b], [b, Activation::Sigmoid], 3, &x)
                .with_regularizer((
                    Contractive::new(0.3).unwrap(),
                    L1Sparsity::new(0.1).unwrap(),
                    WeightDecay::new(0.2).unwrap(),
                ));
            let what = format!("deep {a:?}/{b:?}");
            assert_holds(common::check_autoencoder(&mut model, &x, &x), &what);
            let mut ce = deep_away_from_kinks([a, b], [a, Activation::Sigmoid], 4, &x)
                .with_loss(autoencoders::ReconstructionLoss::CrossEntropy);
            assert_holds(
                common::check_autoencoder(&mut ce, &x, &x),
                &format!("{what} CE"),
            );
        }
    }
}

fn classifier(
    activation: Activation,
    weight_decay: f64,
    frozen: bool,
) -> Classifier<StackedEncoder<f64>> {
    let mut r = rng(5);
    let encoder =
        StackedEncoder::random(&[6, 5, 4], activation, Init::GlorotUniform, &mut r).unwrap();
    let mut c = Classifier::new(encoder, 3, Init::GlorotUniform, &mut r)
        .unwrap()
        .with_weight_decay(weight_decay)
        .unwrap()
        .with_frozen_encoder(frozen);
    let mut shift = rng(6);
    for p in c.parameters_mut() {
        for v in p.iter_mut() {
            *v += 0.2 * (rand::RngExt::random::<f64>(&mut shift) - 0.5);
        }
    }
    c
}

#[test]
fn classifier_gradients_match_finite_differences() {
    let x = uniform(7, 6, 0.0, 1.0, &mut rng(7));
    let labels = [0, 2, 1, 1, 0, 2, 2];
    for activation in Activation::ALL {
        for (weight_decay, frozen) in [(0.0, false), (0.3, false), (0.3, true)] {
            let mut c = classifier(activation, weight_decay, frozen);
            let (_, analytic) = c.gradient(&x, &labels).unwrap();
            let numeric = numeric_gradient(
                &mut c,
                |c| c.parameters_mut(),
                |c| c.loss(&x, &labels).unwrap(),
            );
            assert_holds(
                compare(&analytic, &numeric),
                &format!("classifier {activation:?} λ={weight_decay}"),
            );
        }
    }
}

#[test]
fn classifier_dropout_gradients_match_finite_differences_with_the_masks_held() {
    let x = uniform(7, 6, 0.0, 1.0, &mut rng(7));
    let labels = [0, 2, 1, 1, 0, 2, 2];
    for activation in Activation::ALL {
        for (input, hidden, weight_decay) in [(0.3, 0.0, 0.0), (0.0, 0.5, 0.3), (0.25, 0.5, 0.3)] {
            let mut c = classifier(activation, weight_decay, false)
                .with_dropout(input, hidden)
                .unwrap();
            let what =
                format!("classifier {activation:?} dropout {input}/{hidden} λ={weight_decay}");
            // The same generator state draws the same masks, so the objective is a function
            // of the parameters alone while the differences are taken.
            let objective = |c: &Classifier<StackedEncoder<f64>>| {
                c.gradient_with_dropout(&x, &labels, &mut rng(9)).unwrap().0
            };
            let (loss, analytic) = c.gradient_with_dropout(&x, &labels, &mut rng(9)).unwrap();
            assert_ne!(
                loss,
                c.loss(&x, &labels).unwrap(),
                "{what}: the masks drop something"
            );
            let numeric = numeric_gradient(&mut c, |c| c.parameters_mut(), |c| objective(c));
            assert_holds(compare(&analytic, &numeric), &what);
            // The gradient without dropout, planted in its place, is caught.
            let (_, plain) = c.gradient(&x, &labels).unwrap();
            assert!(
                !compare(&plain, &numeric).holds(),
                "{what}: planted error missed"
            );
        }
    }
    // A stack of stacks drops inside each inner stack too, and passes the gradient down
    // through the masks of the one above the bottom (its `backward_input`).
    let mut r = rng(10);
    let inner = |sizes: &[usize], r: &mut _| {
        StackedEncoder::<f64>::random(sizes, Activation::Tanh, Init::GlorotUniform, r).unwrap()
    };
    let layers = vec![inner(&[6, 5, 5], &mut r), inner(&[5, 4, 4], &mut r)];
    let nested = StackedEncoder::new(layers).unwrap();
    let mut c = Classifier::new(nested, 3, Init::GlorotUniform, &mut r)
        .unwrap()
        .with_dropout(0.2, 0.4)
        .unwrap();
    let (_, analytic) = c.gradient_with_dropout(&x, &labels, &mut rng(11)).unwrap();
    let numeric = numeric_gradient(
        &mut c,
        |c| c.parameters_mut(),
        |c| {
            c.gradient_with_dropout(&x, &labels, &mut rng(11))
                .unwrap()
                .0
        },
    );
    assert_holds(
        compare(&analytic, &numeric),
        "a stack of stacks with dropout",
    );
}

#[test]
fn pretraining_fine_tuning_and_probes_on_real_digits() {
    let digits = bundled_digits::<f32>().unwrap();
    let x = digits.train_images.rows(0, 1000).into_owned();
    let labels = &digits.train_labels[..1000];
    let test = digits.test_images.rows(0, 500).into_owned();
    let test_labels = &digits.test_labels[..500];
    let quick = TrainingConfig::default().with_epochs(3).with_batch_size(32);
    let mut r = rng(8);
    let stack = LayerwisePretrainer::new()
        .with_layer(
            LayerSpec::new(64)
                .with_activation(Activation::Relu)
                .with_corruption(Masking::new(0.2).unwrap())
                .with_training(quick),
        )
        .with_layer(
            LayerSpec::new(32)
                .with_activation(Activation::Relu)
                .with_decoder_activation(Activation::Linear)
                .with_tied(true)
                .with_training(quick),
        )
        .pretrain(&x, &mut r)
        .unwrap();
    assert_eq!(stack.encoder.layers().len(), 2);
    for history in &stack.histories {
        let first = history.epochs[0].objective;
        let last = history.last().unwrap().objective;
        assert!(last < first, "each layer learns: {first} → {last}");
    }
    // The second layer was trained on the first layer's codes.
    assert_eq!(stack.encoder.layers()[1].input_dim(), 64);

    // Unrolled deep autoencoder: reconstructs at least as well as before fine-tuning, and
    // fine-tuning lowers its error further.
    let mut deep = stack.deep_autoencoder().unwrap();
    let before = deep.objective(&x).unwrap().reconstruction;
    deep.fit(&x, &quick, &mut Adam::new(1e-3).unwrap(), &mut r)
        .unwrap();
    let after = deep.objective(&x).unwrap().reconstruction;
    assert!(after < before, "deep fine-tuning: {before} → {after}");

    // A linear probe leaves the encoder as it is; fine-tuning changes it; both beat chance
    // (0.1) clearly. How good the features are is the experiments' business, not this test's.
    let probe_config = TrainingConfig::default()
        .with_epochs(10)
        .with_batch_size(32);
    let mut probe = Classifier::new(stack.encoder.clone(), 10, Init::GlorotUniform, &mut r)
        .unwrap()
        .with_frozen_encoder(true);
    probe
        .fit(
            &x,
            labels,
            &probe_config,
            &mut Adam::new(1e-2).unwrap(),
            &mut r,
        )
        .unwrap();
    assert_eq!(probe.encoder(), &stack.encoder);
    // Informative features: at least half the code units vary over the test digits.
    let codes = stack.encoder.encode(&test).unwrap();
    assert!(codes.column_iter().filter(|c| c.variance() > 1e-6).count() >= 16);
    let probe_accuracy = probe.accuracy(&test, test_labels).unwrap();
    let mut tuned =
        Classifier::new(stack.encoder.clone(), 10, Init::GlorotUniform, &mut r).unwrap();
    tuned
        .fit(
            &x,
            labels,
            &probe_config,
            &mut Adam::new(1e-3).unwrap(),
            &mut r,
        )
        .unwrap();
    assert_ne!(tuned.encoder(), &stack.encoder);
    let tuned_accuracy = tuned.accuracy(&test, test_labels).unwrap();
    assert!(
        probe_accuracy > 0.4 && tuned_accuracy > 0.8,
        "probe {probe_accuracy}, fine-tuned {tuned_accuracy}"
    );
    let p = tuned.predict_proba(&test).unwrap();
    for row in p.row_iter() {
        approx::assert_relative_eq!(row.sum(), 1.0, max_relative = 1e-5);
    }
}

#[test]
fn pca_reconstruction_error_is_the_discarded_variance() {
    let digits = bundled_digits::<f64>().unwrap();
    let x = digits.train_images.rows(0, 2000).into_owned();
    let full = Pca::fit(&x, 784).unwrap();
    let pca = Pca::fit(&x, 30).unwrap();
    // Orthonormal components.
    let gram = pca.components() * pca.components().transpose();
    approx::assert_relative_eq!(gram, DMatrix::identity(30, 30), epsilon = 1e-9);
    // Mean squared error per sample (summed over pixels) = the sum of the discarded eigenvalues.
    let reconstruction = pca.reconstruct(&x).unwrap();
    let error = (&x - &reconstruction).norm_squared() / x.nrows() as f64;
    let discarded: f64 = full.explained_variance().iter().skip(30).sum();
    approx::assert_relative_eq!(error, discarded, max_relative = 1e-8);
    // Variances in decreasing order.
    assert!(
        full.explained_variance()
            .as_slice()
            .windows(2)
            .all(|w| w[0] >= w[1])
    );
    assert!(Pca::fit(&x, 785).is_err() && Pca::fit(&x, 0).is_err());
}

#[test]
fn weight_decay_covers_every_weight_matrix_of_a_deep_autoencoder_once() {
    // A three-layer pretrained stack unrolled: six weight matrices, six biases.
    let x = uniform(30, 8, 0.0, 1.0, &mut rng(40));
    let quick = TrainingConfig::default().with_epochs(1).with_batch_size(10);
    let stack = LayerwisePretrainer::new()
        .with_layer(LayerSpec::new(6).with_training(quick))
        .with_layer(LayerSpec::new(4).with_training(quick).with_tied(true))
        .with_layer(LayerSpec::new(2).with_training(quick))
        .pretrain(&x, &mut rng(41))
        .unwrap();
    let deep = stack.deep_autoencoder().unwrap();
    let by_hand: f64 = deep
        .encoder()
        .layers()
        .iter()
        .map(|l| l.weights().norm_squared())
        .chain(
            deep.decoder()
                .layers()
                .iter()
                .map(|l| autoencoders::Decoder::weights(l).unwrap().norm_squared()),
        )
        .sum::<f64>()
        / 2.0;
    let kinds = deep.parameter_kinds();
    assert_eq!(
        kinds
            .iter()
            .filter(|&&k| k == autoencoders::TensorKind::Weight)
            .count(),
        6
    );
    let plain = deep.objective(&x).unwrap();
    let decayed = deep
        .clone()
        .with_regularizer(WeightDecay::new(1.0).unwrap())
        .objective(&x)
        .unwrap();
    assert_eq!(plain.penalty, 0.0);
    assert!(
        (decayed.penalty - by_hand).abs() <= 1e-12 * by_hand,
        "{} vs {by_hand}",
        decayed.penalty
    );
    assert_eq!(decayed.reconstruction, plain.reconstruction);

    // Its gradient over all six matrices agrees with finite differences.
    let mut model = deep.with_regularizer(WeightDecay::new(0.3).unwrap());
    let small = uniform(4, 8, 0.0, 1.0, &mut rng(42));
    assert_holds(
        common::check_autoencoder(&mut model, &small, &small),
        "deep weight decay",
    );
}

#[test]
fn weight_decay_counts_tied_weights_once() {
    let x = uniform(5, 6, 0.0, 1.0, &mut rng(43));
    let tied = autoencoders::DenseBuilder::new(6, 3)
        .with_tied(true)
        .build::<f64, _>(&mut rng(44))
        .unwrap();
    let w = tied.encoder().weights().norm_squared();
    let decayed = tied
        .clone()
        .with_regularizer(WeightDecay::new(2.0).unwrap())
        .objective(&x)
        .unwrap();
    assert!(
        (decayed.penalty - w).abs() <= 1e-12 * w,
        "{} vs {w}",
        decayed.penalty
    );
}
