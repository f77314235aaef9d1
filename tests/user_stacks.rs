//! A user's own encoder layers, written only against the public API as a dependent crate would,
//! stacked: the stack's gradient, its input gradient and its Jacobian agree with finite
//! differences, it trains under an autoencoder and a classifier, and a layer that cannot pass a
//! gradient down, or writes one of the wrong shape, is refused with a typed error.

mod common;

use autoencoders::persistence::ModelFileProblem;
use autoencoders::{
    Activation, Autoencoder, Classifier, CodeLayer, CodePass, Contractive, Corruption, Decoder,
    DenseDecoder, DenseEncoder, Encoder, Error, Init, KlSparsity, L1Sparsity, LayerBuilder,
    LayerSpec, LayerwisePretrainer, Loss, LossInput, PretrainedStack, Regularizer,
    RegularizerGradient, RegularizerInput, Sgd, StackedDecoder, StackedEncoder, TensorKind,
    TrainingConfig, WeightDecay,
};
use common::{compare, numeric_gradient, rng, uniform};
use nalgebra::{DMatrix, DVector};
use rand::{Rng, RngExt};

/// One layer of a user's stack.
#[derive(Clone, Debug)]
enum Layer {
    /// `h = s(x·Wᵀ + b)`, written by hand.
    Dense {
        weight: DMatrix<f64>,
        bias: DVector<f64>,
        activation: Activation,
    },
    /// `h = s(x ⊙ g + c)`: a gain and an offset per feature.
    Gain {
        gain: DVector<f64>,
        offset: DVector<f64>,
        activation: Activation,
        /// A factor planted in the input gradient (1 when honest).
        planted: f64,
        /// Writes an input gradient one column short.
        short: bool,
    },
    /// The crate's dense layer behind a user type that does not implement `backward_input`.
    Opaque(DenseEncoder<f64>),
}

fn dense(input: usize, code: usize, activation: Activation, seed: u64) -> Layer {
    Layer::Dense {
        weight: uniform(code, input, -0.7, 0.7, &mut rng(seed)),
        bias: uniform(code, 1, -0.2, 0.2, &mut rng(seed + 100))
            .column(0)
            .into(),
        activation,
    }
}

fn gain(dim: usize, activation: Activation, seed: u64) -> Layer {
    Layer::Gain {
        gain: uniform(dim, 1, 0.5, 1.5, &mut rng(seed)).column(0).into(),
        offset: uniform(dim, 1, -0.3, 0.3, &mut rng(seed + 100))
            .column(0)
            .into(),
        activation,
        planted: 1.0,
        short: false,
    }
}

fn opaque(input: usize, code: usize, seed: u64) -> Layer {
    Layer::Opaque(
        DenseEncoder::new(
            input,
            code,
            Activation::Tanh,
            Init::GlorotUniform,
            &mut rng(seed),
        )
        .unwrap(),
    )
}

impl Layer {
    fn activation(&self) -> Activation {
        match self {
            Layer::Dense { activation, .. } | Layer::Gain { activation, .. } => *activation,
            Layer::Opaque(layer) => layer.activation(),
        }
    }
}

impl Encoder for Layer {
    type Scalar = f64;
    type Trace = ();

    fn input_dim(&self) -> usize {
        match self {
            Layer::Dense { weight, .. } => weight.ncols(),
            Layer::Gain { gain, .. } => gain.len(),
            Layer::Opaque(layer) => layer.input_dim(),
        }
    }

    fn code_dim(&self) -> usize {
        match self {
            Layer::Dense { weight, .. } => weight.nrows(),
            Layer::Gain { gain, .. } => gain.len(),
            Layer::Opaque(layer) => layer.code_dim(),
        }
    }

    fn code_layer(&self) -> CodeLayer<'_, f64> {
        match self {
            Layer::Dense {
                weight, activation, ..
            } => CodeLayer {
                weights: Some(weight),
                activation: *activation,
            },
            Layer::Gain { activation, .. } => CodeLayer {
                weights: None,
                activation: *activation,
            },
            Layer::Opaque(layer) => layer.code_layer(),
        }
    }

    fn code_input<'a>(&self, x: &'a DMatrix<f64>, _: &'a ()) -> &'a DMatrix<f64> {
        x
    }

    fn forward(&self, x: &DMatrix<f64>, trace: &mut (), pass: &mut CodePass<f64>) {
        pass.pre_activation = match self {
            Layer::Dense { weight, bias, .. } => {
                let mut z = x * weight.transpose();
                for mut row in z.row_iter_mut() {
                    row += bias.transpose();
                }
                z
            }
            Layer::Gain { gain, offset, .. } => {
                DMatrix::from_fn(x.nrows(), x.ncols(), |i, j| x[(i, j)] * gain[j] + offset[j])
            }
            Layer::Opaque(layer) => return layer.forward(x, trace, pass),
        };
        self.activation()
            .apply_matrix(&pass.pre_activation, &mut pass.code);
    }

    fn backward(
        &self,
        x: &DMatrix<f64>,
        trace: &mut (),
        pass: &CodePass<f64>,
        grad_z: &DMatrix<f64>,
        extra: Option<&DMatrix<f64>>,
        grad: &mut Self,
    ) {
        match (self, grad) {
            (
                Layer::Dense { .. },
                Layer::Dense {
                    weight: gw,
                    bias: gb,
                    ..
                },
            ) => {
                *gw = grad_z.transpose() * x;
                if let Some(extra) = extra {
                    *gw += extra;
                }
                *gb = grad_z.row_sum().transpose();
            }
            (
                Layer::Gain { .. },
                Layer::Gain {
                    gain: gg,
                    offset: go,
                    ..
                },
            ) => {
                for j in 0..gg.len() {
                    gg[j] = (0..x.nrows()).map(|i| grad_z[(i, j)] * x[(i, j)]).sum();
                }
                *go = grad_z.row_sum().transpose();
            }
            (Layer::Opaque(layer), Layer::Opaque(g)) => {
                layer.backward(x, trace, pass, grad_z, extra, g)
            }
            _ => unreachable!("a gradient container is a clone of its layer"),
        }
    }

    fn backward_input(
        &self,
        _x: &DMatrix<f64>,
        _: &(),
        _: &CodePass<f64>,
        grad_z: &DMatrix<f64>,
        grad_input: &mut DMatrix<f64>,
    ) -> autoencoders::Result<()> {
        match self {
            Layer::Dense { weight, .. } => *grad_input = grad_z * weight,
            Layer::Gain {
                gain,
                planted,
                short,
                ..
            } => {
                let columns = gain.len() - usize::from(*short);
                *grad_input = DMatrix::from_fn(grad_z.nrows(), columns, |i, j| {
                    grad_z[(i, j)] * gain[j] * planted
                });
            }
            Layer::Opaque(_) => {
                return Err(Error::NotStackable { encoder: "Opaque" });
            }
        }
        Ok(())
    }

    fn parameters(&self) -> Vec<&[f64]> {
        match self {
            Layer::Dense { weight, bias, .. } => vec![weight.as_slice(), bias.as_slice()],
            Layer::Gain { gain, offset, .. } => vec![gain.as_slice(), offset.as_slice()],
            Layer::Opaque(layer) => layer.parameters(),
        }
    }

    fn parameters_mut(&mut self) -> Vec<&mut [f64]> {
        match self {
            Layer::Dense { weight, bias, .. } => {
                vec![weight.as_mut_slice(), bias.as_mut_slice()]
            }
            Layer::Gain { gain, offset, .. } => vec![gain.as_mut_slice(), offset.as_mut_slice()],
            Layer::Opaque(layer) => layer.parameters_mut(),
        }
    }

    fn parameter_names(&self) -> Vec<String> {
        match self {
            Layer::Gain { .. } => vec!["gain".into(), "offset".into()],
            _ => vec!["weight".into(), "bias".into()],
        }
    }

    fn parameter_kinds(&self) -> Vec<TensorKind> {
        match self {
            Layer::Gain { .. } => vec![TensorKind::Other, TensorKind::Bias],
            _ => vec![TensorKind::Weight, TensorKind::Bias],
        }
    }

    /// `diag(s'(z))·W` for a dense layer, `diag(s'(z) ⊙ g)` for a gain.
    fn jacobian(&self, x: &DMatrix<f64>) -> autoencoders::Result<Vec<DMatrix<f64>>> {
        let mut pass = CodePass::default();
        self.forward(x, &mut (), &mut pass);
        let activation = self.activation();
        Ok((0..x.nrows())
            .map(|s| {
                let slope = |j: usize| {
                    activation.derivative(pass.pre_activation[(s, j)], pass.code[(s, j)])
                };
                match self {
                    Layer::Dense { weight, .. } => {
                        DMatrix::from_fn(weight.nrows(), weight.ncols(), |j, i| {
                            slope(j) * weight[(j, i)]
                        })
                    }
                    Layer::Gain { gain, .. } => DMatrix::from_fn(gain.len(), gain.len(), |j, i| {
                        if i == j { slope(j) * gain[j] } else { 0.0 }
                    }),
                    Layer::Opaque(layer) => {
                        layer.jacobian(&x.rows(s, 1).into_owned()).unwrap()[0].clone()
                    }
                }
            })
            .collect())
    }
}

fn assert_holds(agreement: common::Agreement, what: &str) {
    assert!(agreement.holds(), "{what}: {agreement:?}");
}

/// `6 → 5 (tanh) → 5 (gain, sigmoid) → 3 (top)`.
fn user_stack(top: Activation, seed: u64) -> StackedEncoder<f64, Layer> {
    StackedEncoder::new(vec![
        dense(6, 5, Activation::Tanh, seed),
        gain(5, Activation::Sigmoid, seed + 1),
        dense(5, 3, top, seed + 2),
    ])
    .unwrap()
}

fn decoder(code: usize, output: usize, seed: u64) -> DenseDecoder<f64> {
    DenseDecoder::new(
        code,
        output,
        Activation::Sigmoid,
        Init::GlorotUniform,
        &mut rng(seed),
    )
    .unwrap()
}

#[test]
fn an_autoencoder_over_a_stack_of_user_layers_has_the_exact_gradient() {
    let x = uniform(7, 6, 0.0, 1.0, &mut rng(1));
    for top in [Activation::Sigmoid, Activation::Tanh, Activation::Linear] {
        let mut plain = Autoencoder::new(user_stack(top, 2), decoder(3, 6, 3)).unwrap();
        assert_holds(
            common::check_autoencoder(&mut plain, &x, &x),
            &format!("{top:?}"),
        );
        let mut penalised = Autoencoder::new(user_stack(top, 4), decoder(3, 6, 5))
            .unwrap()
            .with_regularizer((
                Contractive::new(0.3).unwrap(),
                L1Sparsity::new(0.1).unwrap(),
                WeightDecay::new(0.2).unwrap(),
            ));
        assert_holds(
            common::check_autoencoder(&mut penalised, &x, &x),
            &format!("{top:?} with penalties"),
        );
    }
    // A gain on top (no weights for the contractive penalty), a KL target, and a deep decoder
    // of two dense layers.
    let stack = StackedEncoder::new(vec![
        dense(6, 4, Activation::Tanh, 6),
        gain(4, Activation::Sigmoid, 7),
    ])
    .unwrap();
    let deep = StackedDecoder::new(vec![decoder(4, 5, 8), decoder(5, 6, 9)]).unwrap();
    let mut model = Autoencoder::new(stack, deep)
        .unwrap()
        .with_regularizer(KlSparsity::new(0.2, 0.1).unwrap());
    assert_holds(
        common::check_autoencoder(&mut model, &x, &x),
        "gain on top, deep decoder",
    );
}

#[test]
fn weight_decay_over_a_user_stack_reads_the_kinds_the_layers_give() {
    // ½λ·Σw² over the two dense weight matrices; the gain is `Other`, the biases are biases.
    let stack = user_stack(Activation::Sigmoid, 10);
    let x = uniform(4, 6, 0.0, 1.0, &mut rng(11));
    let model = Autoencoder::new(stack.clone(), decoder(3, 6, 12)).unwrap();
    let decayed = model
        .clone()
        .with_regularizer(WeightDecay::new(1.0).unwrap());
    let penalty = decayed.objective(&x).unwrap().total() - model.objective(&x).unwrap().total();
    let squares = |m: &[f64]| m.iter().map(|w| w * w).sum::<f64>();
    let layers = stack.layers();
    let expected = 0.5
        * (squares(layers[0].parameters()[0])
            + squares(layers[2].parameters()[0])
            + squares(model.decoder().weights().unwrap().as_slice()));
    assert!(
        (penalty - expected).abs() <= 1e-12 * expected,
        "{penalty} vs {expected}"
    );
    assert_eq!(
        stack.parameter_names(),
        [
            "0.weight", "0.bias", "1.gain", "1.offset", "2.weight", "2.bias"
        ]
    );
}

#[test]
fn the_oracle_catches_a_planted_error_in_a_user_layers_input_gradient() {
    let x = uniform(7, 6, 0.0, 1.0, &mut rng(13));
    let mut layers = user_stack(Activation::Sigmoid, 14).into_layers();
    if let Layer::Gain { planted, .. } = &mut layers[1] {
        *planted = 1.0001;
    }
    let stack = StackedEncoder::new(layers).unwrap();
    let mut model = Autoencoder::new(stack, decoder(3, 6, 15)).unwrap();
    let agreement = common::check_autoencoder(&mut model, &x, &x);
    assert!(!agreement.holds(), "{agreement:?}");
}

#[test]
fn a_stack_of_stacks_passes_the_gradient_through_both() {
    let x = uniform(6, 6, 0.0, 1.0, &mut rng(16));
    let lower = user_stack(Activation::Tanh, 17);
    let upper = StackedEncoder::new(vec![
        gain(3, Activation::Tanh, 18),
        dense(3, 2, Activation::Sigmoid, 19),
    ])
    .unwrap();
    let stack = StackedEncoder::new(vec![lower, upper]).unwrap();
    assert_eq!((stack.input_dim(), stack.code_dim()), (6, 2));
    let mut model = Autoencoder::new(stack, decoder(2, 6, 20))
        .unwrap()
        .with_regularizer((
            Contractive::new(0.2).unwrap(),
            WeightDecay::new(0.1).unwrap(),
        ));
    assert_holds(
        common::check_autoencoder(&mut model, &x, &x),
        "stack of stacks",
    );
}

/// Central differences of the code with respect to the input, one sample at a time.
fn numeric_jacobian<E: Encoder<Scalar = f64>>(encoder: &E, x: &DMatrix<f64>) -> Vec<Vec<f64>> {
    (0..x.nrows())
        .map(|s| {
            let row = x.rows(s, 1).into_owned();
            let mut jacobian = DMatrix::zeros(encoder.code_dim(), encoder.input_dim());
            for i in 0..encoder.input_dim() {
                let step = 1e-6;
                let (mut up, mut down) = (row.clone(), row.clone());
                up[(0, i)] += step;
                down[(0, i)] -= step;
                let difference = encoder.encode(&up).unwrap() - encoder.encode(&down).unwrap();
                for j in 0..encoder.code_dim() {
                    jacobian[(j, i)] = difference[(0, j)] / (2.0 * step);
                }
            }
            jacobian.as_slice().to_vec()
        })
        .collect()
}

#[test]
fn the_jacobian_of_a_user_stack_matches_finite_differences() {
    let x = uniform(5, 6, 0.0, 1.0, &mut rng(21));
    let stack = user_stack(Activation::Tanh, 22);
    let analytic: Vec<Vec<f64>> = stack
        .jacobian(&x)
        .unwrap()
        .iter()
        .map(|j| j.as_slice().to_vec())
        .collect();
    assert_holds(
        compare(&analytic, &numeric_jacobian(&stack, &x)),
        "user stack",
    );
    // The crate's dense stack, now through the same chain rule.
    let dense = StackedEncoder::<f64>::random(
        &[6, 5, 3],
        Activation::Tanh,
        Init::GlorotUniform,
        &mut rng(23),
    )
    .unwrap();
    let analytic: Vec<Vec<f64>> = dense
        .jacobian(&x)
        .unwrap()
        .iter()
        .map(|j| j.as_slice().to_vec())
        .collect();
    assert_holds(
        compare(&analytic, &numeric_jacobian(&dense, &x)),
        "dense stack",
    );
}

#[test]
fn a_layer_without_an_input_gradient_stacks_only_at_the_bottom() {
    let bottom = StackedEncoder::new(vec![opaque(6, 4, 24), dense(4, 3, Activation::Sigmoid, 25)]);
    let stack = bottom.expect("an opaque layer at the bottom needs no input gradient");
    let x = uniform(7, 6, 0.0, 1.0, &mut rng(26));
    let mut model = Autoencoder::new(stack, decoder(3, 6, 27)).unwrap();
    assert_holds(
        common::check_autoencoder(&mut model, &x, &x),
        "opaque bottom layer",
    );
    let higher = StackedEncoder::new(vec![dense(6, 4, Activation::Tanh, 28), opaque(4, 3, 29)]);
    assert!(
        matches!(higher, Err(Error::NotStackable { encoder: "Opaque" })),
        "{higher:?}"
    );
}

#[test]
fn a_misshapen_input_gradient_is_refused_when_stacking() {
    let mut layers = user_stack(Activation::Sigmoid, 30).into_layers();
    if let Layer::Gain { short, .. } = &mut layers[1] {
        *short = true;
    }
    let result = StackedEncoder::new(layers.clone());
    assert!(
        matches!(
            result,
            Err(Error::MisshapenOutput {
                part: "encoder",
                what: "input gradient",
                expected: (2, 5),
                found: (2, 4),
                ..
            })
        ),
        "{result:?}"
    );
    // The bottom layer's input gradient is never asked for.
    StackedEncoder::new(layers.split_off(1)).expect("a short input gradient at the bottom");
}

fn user_classifier(seed: u64) -> Classifier<StackedEncoder<f64, Layer>> {
    Classifier::new(
        user_stack(Activation::Sigmoid, seed),
        3,
        Init::GlorotUniform,
        &mut rng(seed + 10),
    )
    .unwrap()
    .with_weight_decay(0.1)
    .unwrap()
}

#[test]
fn a_classifier_over_a_user_stack_has_the_exact_gradient_and_trains_reproducibly() {
    let x = uniform(9, 6, 0.0, 1.0, &mut rng(31));
    let labels = [0, 1, 2, 2, 1, 0, 0, 1, 2];
    let mut classifier = user_classifier(32);
    let (_, analytic) = classifier.gradient(&x, &labels).unwrap();
    let numeric = numeric_gradient(
        &mut classifier,
        |c| c.parameters_mut(),
        |c| c.loss(&x, &labels).unwrap(),
    );
    assert_holds(compare(&analytic, &numeric), "classifier over a user stack");

    let train = |seed: u64| {
        let mut classifier = user_classifier(32);
        let config = TrainingConfig::default().with_epochs(30).with_batch_size(3);
        let mut sgd = Sgd::new(0.5).unwrap();
        classifier
            .fit(&x, &labels, &config, &mut sgd, &mut rng(seed))
            .unwrap();
        classifier
    };
    let before = user_classifier(32).loss(&x, &labels).unwrap();
    let (once, again) = (train(33), train(33));
    let after = once.loss(&x, &labels).unwrap();
    assert!(after < 0.8 * before, "{before} → {after}");
    let bits = |c: &Classifier<StackedEncoder<f64, Layer>>| -> Vec<u64> {
        c.parameters()
            .iter()
            .flat_map(|p| p.iter().map(|v| v.to_bits()))
            .collect()
    };
    assert_eq!(bits(&once), bits(&again));
}

/// A user's builder of the layers above: dense ones, or a gain when the code keeps the
/// input's size.
#[derive(Clone, Copy, Debug)]
struct UserLayers {
    code_dim: usize,
    activation: Activation,
}

impl LayerBuilder<f64> for UserLayers {
    type Encoder = Layer;
    type Decoder = DenseDecoder<f64>;

    fn code_dim(&self) -> usize {
        self.code_dim
    }

    fn build<G: Rng + ?Sized>(
        &self,
        input_dim: usize,
        rng: &mut G,
    ) -> autoencoders::Result<(Layer, DenseDecoder<f64>)> {
        let encoder = if input_dim == self.code_dim {
            Layer::Gain {
                gain: DVector::from_fn(input_dim, |_, _| rng.random_range(0.5..1.5)),
                offset: DVector::zeros(input_dim),
                activation: self.activation,
                planted: 1.0,
                short: false,
            }
        } else {
            Layer::Dense {
                weight: DMatrix::from_fn(self.code_dim, input_dim, |_, _| {
                    rng.random_range(-0.5..0.5)
                }),
                bias: DVector::zeros(self.code_dim),
                activation: self.activation,
            }
        };
        let decoder = DenseDecoder::new(
            self.code_dim,
            input_dim,
            Activation::Sigmoid,
            Init::GlorotUniform,
            rng,
        )?;
        Ok((encoder, decoder))
    }
}

/// A user's loss: the mean absolute error, smoothed, `Σ_i √(r_i² + ε²)` per sample.
struct SmoothAbsolute;

impl Loss<f64> for SmoothAbsolute {
    fn name(&self) -> &'static str {
        "smooth-absolute"
    }

    fn value_and_gradient(&self, input: &LossInput<'_, f64>, grad: &mut DMatrix<f64>) -> f64 {
        let n = input.x.nrows() as f64;
        let mut total = 0.0;
        for ((g, &x), &y) in grad.iter_mut().zip(input.x.iter()).zip(input.x_hat.iter()) {
            let root = ((y - x).powi(2) + 0.01).sqrt();
            total += root;
            *g = (y - x) / root / n;
        }
        input.activation.scale_by_derivative(
            input.pre_activation.as_slice(),
            input.x_hat.as_slice(),
            grad.as_mut_slice(),
        );
        total / n
    }
}

/// A user's corruption: every input scaled by a random factor in [0.8, 1.2].
struct Jitter;

impl Corruption<f64> for Jitter {
    fn corrupt_into<R: Rng + ?Sized>(&self, x: &DMatrix<f64>, out: &mut DMatrix<f64>, rng: &mut R) {
        for (o, &v) in out.iter_mut().zip(x.iter()) {
            *o = v * rng.random_range(0.8..1.2);
        }
    }

    fn name(&self) -> &'static str {
        "jitter"
    }
}

/// A user's penalty: `(λ/2)·Σ h²` over the batch, averaged.
struct CodeEnergy(f64);

impl Regularizer<f64> for CodeEnergy {
    fn name(&self) -> &'static str {
        "code-energy"
    }

    fn penalty(
        &self,
        input: &RegularizerInput<'_, f64>,
        grad: &mut RegularizerGradient<'_, f64>,
    ) -> f64 {
        let n = input.code.nrows() as f64;
        for (g, &h) in grad.code.iter_mut().zip(input.code.iter()) {
            *g += self.0 * h / n;
        }
        0.5 * self.0 * input.code.iter().map(|h| h * h).sum::<f64>() / n
    }

    fn hyper_parameters(&self) -> Vec<(&'static str, f64)> {
        vec![("lambda", self.0)]
    }
}

fn pretraining_data() -> DMatrix<f64> {
    uniform(48, 6, 0.0, 1.0, &mut rng(40))
}

/// Three layers of the user's builder, with the user's loss, corruption and penalties.
fn user_pretrainer() -> LayerwisePretrainer<f64, UserLayers> {
    let quick = TrainingConfig::default().with_epochs(15).with_batch_size(8);
    let layer = |code_dim, activation| {
        LayerSpec::with_builder(UserLayers {
            code_dim,
            activation,
        })
        .with_training(quick)
        .with_optimizer(Sgd::new(0.5).unwrap())
    };
    LayerwisePretrainer::new()
        .with_layer(
            layer(5, Activation::Tanh)
                .with_loss(SmoothAbsolute)
                .with_corruption(Jitter),
        )
        .with_layer(layer(5, Activation::Sigmoid).with_regularizer(CodeEnergy(0.05)))
        .with_layer(
            layer(3, Activation::Sigmoid)
                .with_regularizer((CodeEnergy(0.01), L1Sparsity::new(0.01).unwrap())),
        )
}

fn pretrain_user_stack(seed: u64) -> PretrainedStack<f64, Layer, DenseDecoder<f64>> {
    user_pretrainer()
        .pretrain(&pretraining_data(), &mut rng(seed))
        .unwrap()
}

#[test]
fn a_user_builder_pretrains_a_three_layer_stack_that_unrolls_and_fine_tunes() {
    let stack = pretrain_user_stack(41);
    assert!(matches!(stack.encoder.layers()[1], Layer::Gain { .. }));
    for (l, history) in stack.histories.iter().enumerate() {
        let (first, last) = (
            history.epochs[0].objective,
            history.last().unwrap().objective,
        );
        assert!(last < first, "layer {l} learns: {first} → {last}");
    }
    let again = pretrain_user_stack(41);
    let bits = |p: &[&[f64]]| -> Vec<u64> {
        p.iter()
            .flat_map(|t| t.iter().map(|v| v.to_bits()))
            .collect()
    };
    assert_eq!(
        bits(&stack.encoder.parameters()),
        bits(&again.encoder.parameters()),
        "a seeded pretraining repeats bit for bit"
    );

    // Unrolled: 6 → 5 → 5 → 3 → 5 → 5 → 6, with the exact gradient.
    let x = uniform(5, 6, 0.0, 1.0, &mut rng(42));
    let mut deep = stack.deep_autoencoder().unwrap();
    assert_eq!(deep.decoder().layers().len(), 3);
    assert_holds(
        common::check_autoencoder(&mut deep, &x, &x),
        "unrolled user stack",
    );
    // Fine-tuned under a classifier, with its exact gradient too.
    let labels = [0, 1, 1, 0, 1];
    let mut classifier =
        Classifier::new(stack.encoder.clone(), 2, Init::GlorotUniform, &mut rng(43)).unwrap();
    let (_, analytic) = classifier.gradient(&x, &labels).unwrap();
    let numeric = numeric_gradient(
        &mut classifier,
        |c| c.parameters_mut(),
        |c| c.loss(&x, &labels).unwrap(),
    );
    assert_holds(
        compare(&analytic, &numeric),
        "classifier over the pretrained stack",
    );
}

#[test]
fn a_tied_decoder_unties_only_with_weights_of_its_shape() {
    // What unrolling a tied layer does: the decoder takes the encoder's weights transposed.
    let tied = DenseDecoder::<f64>::tied(3, 6, Activation::Sigmoid).unwrap();
    assert!(matches!(
        tied.untied(None),
        Err(Error::MissingCodeWeights { .. })
    ));
    let weights = uniform(3, 6, -1.0, 1.0, &mut rng(44));
    let untied = tied.untied(Some(&weights)).unwrap();
    assert_eq!(untied.weights(), Some(&weights.transpose()));
    assert!(matches!(
        tied.untied(Some(&weights.transpose())),
        Err(Error::DimensionMismatch { .. })
    ));
}

/// An autoencoder over a stack of user layers with a user loss, corruption and penalty.
type UserModel = Autoencoder<
    StackedEncoder<f64, Layer>,
    DenseDecoder<f64>,
    (CodeEnergy, L1Sparsity),
    Jitter,
    SmoothAbsolute,
>;

fn user_model(seed: u64, lambda: f64) -> UserModel {
    Autoencoder::new(
        user_stack(Activation::Sigmoid, seed),
        decoder(3, 6, seed + 1),
    )
    .unwrap()
    .with_regularizer((CodeEnergy(lambda), L1Sparsity::new(0.01).unwrap()))
    .with_corruption(Jitter)
    .with_loss(SmoothAbsolute)
}

fn bits(parameters: Vec<&[f64]>) -> Vec<u64> {
    parameters
        .iter()
        .flat_map(|p| p.iter().map(|v| v.to_bits()))
        .collect()
}

#[test]
fn a_model_of_user_parts_saves_its_parameters_and_loads_them_into_one_built_alike() {
    let dir = std::env::temp_dir().join(format!("ae-user-stacks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    let x = uniform(4, 6, 0.0, 1.0, &mut rng(50));
    let saved = user_model(51, 0.05);
    saved.save_parameters(&path).unwrap();

    let mut loaded = user_model(52, 0.05);
    assert_ne!(bits(loaded.parameters()), bits(saved.parameters()));
    loaded.load_parameters(&path).unwrap();
    assert_eq!(bits(loaded.parameters()), bits(saved.parameters()));
    assert_eq!(
        loaded.reconstruct(&x).unwrap(),
        saved.reconstruct(&x).unwrap()
    );
    assert_eq!(
        loaded.objective(&x).unwrap().total().to_bits(),
        saved.objective(&x).unwrap().total().to_bits()
    );

    // Built with another λ of the user's penalty, or another loss: refused, naming the part,
    // and the model keeps its own parameters.
    let mut other = user_model(53, 0.06);
    let before = bits(other.parameters());
    let refused = other.load_parameters(&path);
    assert!(
        matches!(
            &refused,
            Err(Error::ModelFile {
                problem: ModelFileProblem::PartMismatch {
                    part: "regularizer",
                    saved,
                    found,
                },
                ..
            }) if saved.contains("code-energy") && saved.contains("0.05") && found.contains("0.06")
        ),
        "{refused:?}"
    );
    assert_eq!(bits(other.parameters()), before);
    let mut squared =
        user_model(54, 0.05).with_loss(autoencoders::ReconstructionLoss::SquaredError);
    let refused = squared.load_parameters(&path);
    assert!(
        matches!(
            &refused,
            Err(Error::ModelFile {
                problem: ModelFileProblem::PartMismatch { part: "loss", .. },
                ..
            })
        ),
        "{refused:?}"
    );
    // Loaded with the saved parts, then given others: how a run starts from saved weights
    // with another penalty.
    let mut start = user_model(55, 0.05);
    start.load_parameters(&path).unwrap();
    let start = start.with_regularizer(CodeEnergy(0.06));
    assert_eq!(bits(start.parameters()), bits(saved.parameters()));

    // A misshapen stack (another middle width) is refused by tensor shape.
    let mut narrower = Autoencoder::new(
        StackedEncoder::new(vec![
            dense(6, 4, Activation::Tanh, 56),
            gain(4, Activation::Sigmoid, 57),
            dense(4, 3, Activation::Sigmoid, 58),
        ])
        .unwrap(),
        decoder(3, 6, 59),
    )
    .unwrap()
    .with_regularizer((CodeEnergy(0.05), L1Sparsity::new(0.01).unwrap()))
    .with_corruption(Jitter)
    .with_loss(SmoothAbsolute);
    let refused = narrower.load_parameters(&path);
    assert!(
        matches!(
            &refused,
            Err(Error::ModelFile {
                problem: ModelFileProblem::WrongShape { tensor, .. },
                ..
            }) if tensor == "encoder.0.weight"
        ),
        "{refused:?}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_classifier_over_a_user_stack_saves_and_loads_its_parameters() {
    let x = uniform(5, 6, 0.0, 1.0, &mut rng(60));
    let saved = user_classifier(61);
    let bytes = saved.parameters_to_safetensors().unwrap();
    let mut loaded = user_classifier(62);
    loaded
        .load_parameters_from_safetensors(&bytes, "classifier")
        .unwrap();
    assert_eq!(
        loaded.predict_proba(&x).unwrap(),
        saved.predict_proba(&x).unwrap()
    );
    assert_eq!(
        saved.parameter_names()[..2],
        ["encoder.0.weight", "encoder.0.bias"]
    );
    // An autoencoder's parameters are not a classifier's.
    let autoencoder = user_model(63, 0.05).parameters_to_safetensors().unwrap();
    let refused = loaded.load_parameters_from_safetensors(&autoencoder, "autoencoder");
    assert!(
        matches!(
            &refused,
            Err(Error::ModelFile {
                problem: ModelFileProblem::InvalidMetadata { .. },
                ..
            })
        ),
        "{refused:?}"
    );
}

#[test]
fn damaged_parameter_files_are_typed_errors_that_leave_the_model_alone() {
    let bytes = user_model(64, 0.05).parameters_to_safetensors().unwrap();
    let mut target = user_model(65, 0.05);
    let before = bits(target.parameters());
    let mut refused = 0;
    for position in 0..bytes.len() {
        for flip in [0x01u8, 0x80] {
            let mut damaged = bytes.clone();
            damaged[position] ^= flip;
            match target.load_parameters_from_safetensors(&damaged, "damaged") {
                Ok(()) => panic!("a flipped bit at {position} was loaded"),
                Err(Error::ModelFile { .. }) => refused += 1,
                Err(other) => panic!("byte {position}: {other:?}"),
            }
            assert_eq!(bits(target.parameters()), before);
        }
    }
    for length in [0, 7, 8, 100, bytes.len() - 1] {
        assert!(matches!(
            target.load_parameters_from_safetensors(&bytes[..length], "short"),
            Err(Error::ModelFile { .. })
        ));
    }
    assert!(refused > 100, "{refused}");
}

/// The environment variable that makes `resume_child` the child's part of a resume test.
const CHILD_ROLE: &str = "AUTOENCODERS_USER_STACKS_CHILD";

fn resume_data() -> DMatrix<f64> {
    uniform(40, 6, 0.0, 1.0, &mut rng(70))
}

fn resume_config() -> TrainingConfig {
    TrainingConfig::default().with_epochs(5).with_batch_size(8)
}

/// A deep dense autoencoder, 6 → 4 → 3 → 4 → 6, with weight decay over all four matrices.
fn deep_dense()
-> Autoencoder<StackedEncoder<f64>, StackedDecoder<f64>, WeightDecay, autoencoders::GaussianNoise> {
    let encoder = StackedEncoder::random(
        &[6, 4, 3],
        Activation::Tanh,
        Init::GlorotUniform,
        &mut rng(71),
    )
    .unwrap();
    let decoder = StackedDecoder::new(vec![decoder(3, 4, 72), decoder(4, 6, 73)]).unwrap();
    Autoencoder::new(encoder, decoder)
        .unwrap()
        .with_regularizer(WeightDecay::new(0.01).unwrap())
        .with_corruption(autoencoders::GaussianNoise::new(0.1).unwrap())
}

fn adam() -> autoencoders::Adam<f64> {
    autoencoders::Adam::new(1e-2).unwrap()
}

/// The child's part: resume from the checkpoint in `folder`, into a model built afresh, and
/// leave a final checkpoint.
fn resume_in_child<E, D, R, C, L>(
    folder: &std::path::Path,
    build: fn() -> Autoencoder<E, D, R, C, L>,
) where
    E: Encoder<Scalar = f64>,
    D: Decoder<f64>,
    R: Regularizer<f64>,
    C: Corruption<f64>,
    L: Loss<f64>,
{
    let checkpoint =
        autoencoders::Checkpoint::<f64>::load(folder.join("interrupted.safetensors")).unwrap();
    assert_eq!(checkpoint.epochs_done(), 2);
    let mut model = build();
    let mut run = checkpoint
        .resume(&mut model, adam())
        .unwrap()
        .with_checkpoints(autoencoders::Checkpointing::new(
            folder.join("final.safetensors"),
        ));
    model
        .fit_resumable(&resume_data(), None, &mut run, &mut ())
        .unwrap();
}

/// Runs only as the child process of the resume tests below.
#[test]
fn resume_child() {
    let Ok(role) = std::env::var(CHILD_ROLE) else {
        return;
    };
    let (name, folder) = role.split_once('|').unwrap();
    let folder = std::path::Path::new(folder);
    match name {
        "user" => resume_in_child(folder, || user_model(80, 0.05)),
        _ => resume_in_child(folder, deep_dense),
    }
}

/// Five epochs without a break; and with a checkpoint every two epochs, stopped after the
/// third and resumed from epoch 2 in a new process: the same bits.
fn resumes_exactly<E, D, R, C, L>(name: &str, build: fn() -> Autoencoder<E, D, R, C, L>)
where
    E: Encoder<Scalar = f64>,
    D: Decoder<f64>,
    R: Regularizer<f64>,
    C: Corruption<f64>,
    L: Loss<f64>,
{
    let folder = std::env::temp_dir().join(format!(
        "ae-user-stacks-resume-{name}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&folder).unwrap();
    let x = resume_data();
    let mut whole = build();
    let mut optimizer = adam();
    let mut generator = rng(81);
    let history = whole
        .fit_with(
            &x,
            None,
            &resume_config(),
            &mut optimizer,
            &mut generator,
            &mut (),
        )
        .unwrap();

    let mut interrupted = build();
    let mut run = autoencoders::TrainingRun::new(resume_config(), adam(), rng(81))
        .with_checkpoints(
            autoencoders::Checkpointing::new(folder.join("interrupted.safetensors"))
                .with_interval(2),
        );
    let mut stop_after_third = |report: &autoencoders::EpochReport| {
        if report.epoch == 2 {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    };
    interrupted
        .fit_resumable(&x, None, &mut run, &mut stop_after_third)
        .unwrap();
    assert_eq!(run.epochs_done(), 3);

    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "resume_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ROLE, format!("{name}|{}", folder.display()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("test resume_child ... ok"),
        "child process failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let last = autoencoders::Checkpoint::<f64>::load(folder.join("final.safetensors")).unwrap();
    assert_eq!(last.epochs_done(), 5);
    let report_bits = |epochs: &[autoencoders::EpochReport]| -> Vec<[u64; 3]> {
        epochs
            .iter()
            .map(|r| {
                [
                    r.reconstruction_loss.to_bits(),
                    r.penalty.to_bits(),
                    r.objective.to_bits(),
                ]
            })
            .collect()
    };
    assert_eq!(
        report_bits(&last.history().epochs),
        report_bits(&history.epochs)
    );
    assert_eq!(last.generator(), &generator);
    assert!(
        matches!(
            last.model(),
            Err(Error::ModelFile {
                problem: ModelFileProblem::CustomComponent {
                    component: "layers",
                    ..
                },
                ..
            })
        ),
        "only a one-layer dense model is rebuilt from a checkpoint"
    );
    let mut resumed = build();
    last.resume(&mut resumed, adam()).unwrap();
    let bits = |m: &Autoencoder<E, D, R, C, L>| -> Vec<u64> {
        m.parameters()
            .iter()
            .flat_map(|p| p.iter().map(|v| v.to_bits()))
            .collect()
    };
    assert_eq!(bits(&resumed), bits(&whole));
    std::fs::remove_dir_all(&folder).ok();
}

#[test]
fn a_model_of_user_parts_resumes_in_a_new_process_bit_for_bit() {
    resumes_exactly("user", || user_model(80, 0.05));
}

#[test]
fn a_deep_dense_autoencoder_resumes_in_a_new_process_bit_for_bit() {
    resumes_exactly("deep", deep_dense);
}

#[test]
fn a_checkpoint_of_user_parts_continues_only_a_model_built_alike() {
    let x = resume_data();
    let path = std::env::temp_dir().join(format!(
        "ae-user-stacks-cp-{}.safetensors",
        std::process::id()
    ));
    let mut model = user_model(82, 0.05);
    let mut run = autoencoders::TrainingRun::new(resume_config().with_epochs(1), adam(), rng(83))
        .with_checkpoints(autoencoders::Checkpointing::new(&path));
    model.fit_resumable(&x, None, &mut run, &mut ()).unwrap();
    let load = || autoencoders::Checkpoint::<f64>::load(&path).unwrap();
    let mismatch =
        |result: autoencoders::Result<autoencoders::TrainingRun<autoencoders::Adam<f64>>>,
         expected: &str| match result {
            Err(Error::CheckpointMismatch { what }) => assert!(what.contains(expected), "{what}"),
            other => panic!("expected a mismatch about {expected}, got {other:?}"),
        };
    mismatch(
        load().resume(&mut user_model(84, 0.06), adam()),
        "regularizers",
    );
    let mut narrower = Autoencoder::new(
        StackedEncoder::new(vec![
            dense(6, 3, Activation::Tanh, 85),
            dense(3, 3, Activation::Sigmoid, 86),
        ])
        .unwrap(),
        decoder(3, 6, 87),
    )
    .unwrap()
    .with_regularizer((CodeEnergy(0.05), L1Sparsity::new(0.01).unwrap()))
    .with_corruption(Jitter)
    .with_loss(SmoothAbsolute);
    mismatch(load().resume(&mut narrower, adam()), "tensors");
    let mut fresh = user_model(88, 0.05);
    load().resume(&mut fresh, adam()).unwrap();
    assert_eq!(bits(fresh.parameters()), bits(model.parameters()));
    std::fs::remove_file(&path).ok();
}

/// Every bit of a pretrained stack: its encoders, its decoders and its histories.
fn stack_bits(stack: &PretrainedStack<f64, Layer, DenseDecoder<f64>>) -> Vec<u64> {
    let mut out = bits(stack.encoder.parameters());
    for decoder in &stack.decoders {
        out.extend(bits(decoder.parameters()));
    }
    for history in &stack.histories {
        for r in &history.epochs {
            out.extend([
                r.reconstruction_loss.to_bits(),
                r.penalty.to_bits(),
                r.objective.to_bits(),
            ]);
        }
        out.push(history.stop_reason as u64);
    }
    out
}

const PRETRAINING_CHILD: &str = "AUTOENCODERS_PRETRAINING_CHILD";

/// The child's parts: `crash` pretrains with checkpoints and dies in the middle of layer 2
/// (after its third epoch, one epoch past the last checkpoint); `resume` continues from the
/// checkpoint to the end.
#[test]
fn pretraining_child() {
    let Ok(role) = std::env::var(PRETRAINING_CHILD) else {
        return;
    };
    let (role, folder) = role.split_once('|').unwrap();
    let path = std::path::Path::new(folder).join("pretraining.safetensors");
    let checkpointing = autoencoders::Checkpointing::new(&path).with_interval(2);
    let x = pretraining_data();
    match role {
        "crash" => {
            let mut die = |layer: usize, report: &autoencoders::EpochReport| {
                if layer == 1 && report.epoch == 2 {
                    std::process::exit(17);
                }
                std::ops::ControlFlow::Continue(())
            };
            user_pretrainer()
                .pretrain_resumable(&x, rng(90), Some(&checkpointing), None, &mut die)
                .unwrap();
            unreachable!("the run dies in layer 2");
        }
        _ => {
            let checkpoint = autoencoders::PretrainingCheckpoint::<f64>::load(&path).unwrap();
            user_pretrainer()
                .pretrain_resumable(
                    &x,
                    rng(12345),
                    Some(&checkpointing),
                    Some(checkpoint),
                    &mut |_, _| std::ops::ControlFlow::Continue(()),
                )
                .unwrap();
        }
    }
}

fn run_pretraining_child(role: &str, folder: &std::path::Path) -> std::process::Output {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "pretraining_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(PRETRAINING_CHILD, format!("{role}|{}", folder.display()))
        .output()
        .unwrap()
}

#[test]
fn pretraining_killed_in_the_middle_of_layer_two_resumes_in_a_new_process_bit_for_bit() {
    let folder = std::env::temp_dir().join(format!("ae-pretraining-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let x = pretraining_data();
    let reference = pretrain_user_stack(90);
    let continue_all =
        &mut |_: usize, _: &autoencoders::EpochReport| std::ops::ControlFlow::Continue(());
    // Without a break, and without checkpoints, the resumable run is the plain one.
    let plain = user_pretrainer()
        .pretrain_resumable(&x, rng(90), None, None, continue_all)
        .unwrap();
    assert_eq!(stack_bits(&plain), stack_bits(&reference));

    let crashed = run_pretraining_child("crash", &folder);
    assert_eq!(
        crashed.status.code(),
        Some(17),
        "the first child dies in layer 2:\n{}\n{}",
        String::from_utf8_lossy(&crashed.stdout),
        String::from_utf8_lossy(&crashed.stderr)
    );
    let path = folder.join("pretraining.safetensors");
    let checkpoint = autoencoders::PretrainingCheckpoint::<f64>::load(&path).unwrap();
    assert_eq!(
        (
            checkpoint.layer(),
            checkpoint.epochs_done(),
            checkpoint.layer_finished()
        ),
        (1, 2, false)
    );

    let resumed = run_pretraining_child("resume", &folder);
    let stdout = String::from_utf8_lossy(&resumed.stdout);
    assert!(
        resumed.status.success() && stdout.contains("test pretraining_child ... ok"),
        "the second child resumes:\n{stdout}\n{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    // The last checkpoint holds the whole run: resuming from it trains nothing and gives the
    // stack of the run without a break.
    let last = autoencoders::PretrainingCheckpoint::<f64>::load(&path).unwrap();
    assert_eq!((last.layer(), last.layer_finished()), (2, true));
    let finished = user_pretrainer()
        .pretrain_resumable(&x, rng(1), None, Some(last), continue_all)
        .unwrap();
    assert_eq!(stack_bits(&finished), stack_bits(&reference));

    // Resumed with other data, or with a layer built otherwise: refused.
    let other = uniform(48, 6, 0.0, 1.0, &mut rng(91));
    let checkpoint = || autoencoders::PretrainingCheckpoint::<f64>::load(&path).unwrap();
    let refused = user_pretrainer().pretrain_resumable(
        &other,
        rng(1),
        None,
        Some(checkpoint()),
        continue_all,
    );
    assert!(
        matches!(refused, Err(Error::CheckpointMismatch { .. })),
        "{refused:?}"
    );
    let layer = |code_dim| {
        LayerSpec::with_builder(UserLayers {
            code_dim,
            activation: Activation::Tanh,
        })
    };
    let wider = LayerwisePretrainer::new()
        .with_layer(layer(4))
        .with_layer(layer(4))
        .with_layer(layer(3));
    let refused = wider.pretrain_resumable(&x, rng(1), None, Some(checkpoint()), continue_all);
    assert!(
        matches!(refused, Err(Error::CheckpointMismatch { .. })),
        "{refused:?}"
    );
    std::fs::remove_dir_all(&folder).ok();
}

const CLASSIFIER_CHILD: &str = "AUTOENCODERS_CLASSIFIER_CHILD";

fn classifier_data() -> (DMatrix<f64>, Vec<usize>) {
    let x = uniform(36, 6, 0.0, 1.0, &mut rng(100));
    let labels = (0..36).map(|i| (i * 7) % 3).collect();
    (x, labels)
}

fn classifier_config() -> TrainingConfig {
    TrainingConfig::default().with_epochs(6).with_batch_size(8)
}

/// The child's part: resume the classifier run from the checkpoint in the folder and leave
/// its final parameters there.
#[test]
fn classifier_child() {
    let Ok(folder) = std::env::var(CLASSIFIER_CHILD) else {
        return;
    };
    let folder = std::path::Path::new(&folder);
    let (x, labels) = classifier_data();
    let checkpoint =
        autoencoders::ClassifierCheckpoint::<f64>::load(folder.join("classifier.safetensors"))
            .unwrap();
    assert_eq!(checkpoint.epochs_done(), 3);
    let mut model = user_classifier(101);
    let mut run = checkpoint
        .resume(&mut model, adam())
        .unwrap()
        .with_checkpoints(autoencoders::Checkpointing::new(
            folder.join("final.safetensors"),
        ));
    model
        .fit_resumable(&x, &labels, None, &mut run, &mut ())
        .unwrap();
}

#[test]
fn a_classifier_over_a_user_stack_resumes_in_a_new_process_bit_for_bit() {
    let folder = std::env::temp_dir().join(format!("ae-classifier-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let (x, labels) = classifier_data();
    let mut whole = user_classifier(101);
    let mut optimizer = adam();
    let mut generator = rng(102);
    let history = whole
        .fit_with(
            &x,
            &labels,
            None,
            &classifier_config(),
            &mut optimizer,
            &mut generator,
            &mut (),
        )
        .unwrap();

    let mut interrupted = user_classifier(101);
    let mut run = autoencoders::TrainingRun::new(classifier_config(), adam(), rng(102))
        .with_checkpoints(
            autoencoders::Checkpointing::new(folder.join("classifier.safetensors"))
                .with_interval(3),
        );
    let mut stop = |report: &autoencoders::SupervisedReport| {
        if report.epoch == 3 {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    };
    interrupted
        .fit_resumable(&x, &labels, None, &mut run, &mut stop)
        .unwrap();
    assert_eq!(run.epochs_done(), 4);

    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "classifier_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CLASSIFIER_CHILD, folder.display().to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("test classifier_child ... ok"),
        "child process failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let last =
        autoencoders::ClassifierCheckpoint::<f64>::load(folder.join("final.safetensors")).unwrap();
    assert_eq!(last.history(), &history);
    assert_eq!(last.generator(), &generator);
    let mut resumed = user_classifier(103);
    last.resume(&mut resumed, adam()).unwrap();
    assert_eq!(bits(resumed.parameters()), bits(whole.parameters()));

    // Another weight decay, other labels, or an autoencoder's checkpoint: refused.
    let checkpoint = || {
        autoencoders::ClassifierCheckpoint::<f64>::load(folder.join("classifier.safetensors"))
            .unwrap()
    };
    let mut decayed = user_classifier(101).with_weight_decay(0.2).unwrap();
    assert!(matches!(
        checkpoint().resume(&mut decayed, adam()),
        Err(Error::CheckpointMismatch {
            what: "the classifier's weight decay, frozen encoder or dropout"
        })
    ));
    let mut model = user_classifier(101);
    let mut run = checkpoint().resume(&mut model, adam()).unwrap();
    let mut other = labels.clone();
    other.swap(0, 1);
    assert!(matches!(
        model.fit_resumable(&x, &other, None, &mut run, &mut ()),
        Err(Error::CheckpointMismatch {
            what: "the training data"
        })
    ));
    let autoencoder = folder.join("autoencoder.safetensors");
    let mut model = user_model(104, 0.05);
    let mut run = autoencoders::TrainingRun::new(resume_config().with_epochs(1), adam(), rng(105))
        .with_checkpoints(autoencoders::Checkpointing::new(&autoencoder));
    model
        .fit_resumable(&resume_data(), None, &mut run, &mut ())
        .unwrap();
    assert!(matches!(
        autoencoders::ClassifierCheckpoint::<f64>::load(&autoencoder),
        Err(Error::ModelFile { .. })
    ));
    assert!(matches!(
        autoencoders::Checkpoint::<f64>::load(folder.join("classifier.safetensors")),
        Err(Error::ModelFile { .. })
    ));
    std::fs::remove_dir_all(&folder).ok();
}

#[test]
fn a_classifiers_weight_decay_covers_every_weight_matrix_its_parts_name() {
    // ½λ·Σw² over the user stack's two dense weight matrices and the head's; the gain is
    // `Other` and the biases are biases, so neither counts.
    let x = uniform(6, 6, 0.0, 1.0, &mut rng(110));
    let labels = [0, 1, 2, 0, 1, 2];
    let plain = user_classifier(111).with_weight_decay(0.0).unwrap();
    let decayed = plain.clone().with_weight_decay(0.5).unwrap();
    let penalty = decayed.loss(&x, &labels).unwrap() - plain.loss(&x, &labels).unwrap();
    let squares = |m: &[f64]| m.iter().map(|w| w * w).sum::<f64>();
    let layers = plain.encoder().layers();
    let expected = 0.25
        * (squares(layers[0].parameters()[0])
            + squares(layers[2].parameters()[0])
            + squares(plain.head_weights().as_slice()));
    assert!(
        (penalty - expected).abs() <= 1e-12 * expected,
        "{penalty} vs {expected}"
    );
    assert_eq!(
        plain.parameter_kinds()[plain.parameter_kinds().len() - 2..],
        [TensorKind::Weight, TensorKind::Bias]
    );
}

#[test]
fn a_deep_model_with_a_user_loss_loads_whole_only_as_far_as_the_crate_knows_its_parts() {
    let bytes = deep_dense()
        .with_loss(SmoothAbsolute)
        .to_safetensors()
        .unwrap();
    match autoencoders::DeepAutoencoder::<f64>::from_safetensors(&bytes, "deep") {
        Err(Error::ModelFile {
            problem: ModelFileProblem::CustomComponent { component, name },
            ..
        }) => assert_eq!((component, name.as_str()), ("loss", "smooth-absolute")),
        other => panic!("{other:?}"),
    }
    // Built with that loss by the caller, it loads by name.
    let mut built = Autoencoder::new(
        StackedEncoder::random(
            &[6, 4, 3],
            Activation::Tanh,
            Init::GlorotUniform,
            &mut rng(120),
        )
        .unwrap(),
        StackedDecoder::new(vec![decoder(3, 4, 121), decoder(4, 6, 122)]).unwrap(),
    )
    .unwrap()
    .with_regularizer(WeightDecay::new(0.01).unwrap())
    .with_corruption(autoencoders::GaussianNoise::new(0.1).unwrap())
    .with_loss(SmoothAbsolute);
    built
        .load_parameters_from_safetensors(&bytes, "deep")
        .unwrap();
    assert_eq!(bits(built.parameters()), bits(deep_dense().parameters()));
}
