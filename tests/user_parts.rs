//! A user's own loss, corruption, encoder and penalty, written only against the public API as a
//! dependent crate would: they work where the crate's own parts do, their gradients agree with
//! finite differences, and a misbehaving one gets a typed error instead of a panic.

mod common;

use autoencoders::persistence::ModelFileProblem;
use autoencoders::{
    Activation, Autoencoder, CodeLayer, CodePass, Contractive, Corruption, Decoder, DenseBuilder,
    DenseDecoder, DenseEncoder, DynamicAutoencoder, Encoder, Error, GaussianNoise, L1Sparsity,
    LayerSpec, LayerwisePretrainer, Loss, LossInput, ReconstructionLoss, Regularizer,
    RegularizerGradient, RegularizerInput, Sgd, StackedDecoder, TensorKind, TrainingConfig,
    WeightDecay,
};
use common::{check_autoencoder, rng, uniform};
use nalgebra::{DMatrix, DVector};
use rand::Rng;

/// The Huber loss `Σ_i ρ_δ(x̂_i − x_i)` per sample, averaged over the batch, with
/// `ρ_δ(r) = r²/2` for `|r| ≤ δ` and `δ(|r| − δ/2)` beyond: a robust loss.
struct Huber {
    delta: f64,
    /// Plants an error in the gradient (a factor on the linear part), to show that the oracle
    /// catches it.
    planted: f64,
}

impl Huber {
    fn new(delta: f64) -> Self {
        Self {
            delta,
            planted: 1.0,
        }
    }
}

impl Loss<f64> for Huber {
    fn name(&self) -> &'static str {
        "huber"
    }

    fn value_and_gradient(&self, input: &LossInput<'_, f64>, grad: &mut DMatrix<f64>) -> f64 {
        let n = input.x.nrows() as f64;
        let mut total = 0.0;
        for ((g, &x), &y) in grad.iter_mut().zip(input.x.iter()).zip(input.x_hat.iter()) {
            let r = y - x;
            if r.abs() <= self.delta {
                total += 0.5 * r * r;
                *g = r / n;
            } else {
                total += self.delta * (r.abs() - 0.5 * self.delta);
                *g = self.planted * self.delta * r.signum() / n;
            }
        }
        input.activation.scale_by_derivative(
            input.pre_activation.as_slice(),
            input.x_hat.as_slice(),
            grad.as_mut_slice(),
        );
        total / n
    }
}

fn data(seed: u64) -> DMatrix<f64> {
    uniform(7, 5, 0.0, 1.0, &mut rng(seed))
}

#[test]
fn a_user_loss_has_the_exact_gradient_alone_and_with_penalties() {
    let x = data(1);
    for (decoder, delta) in [
        (Activation::Sigmoid, 0.2),
        (Activation::Linear, 0.3),
        (Activation::Tanh, 0.1),
    ] {
        let built = DenseBuilder::new(5, 3)
            .with_encoder_activation(Activation::Tanh)
            .with_decoder_activation(decoder)
            .build::<f64, _>(&mut rng(2))
            .unwrap();
        let mut plain = built.clone().with_loss(Huber::new(delta));
        let agreement = check_autoencoder(&mut plain, &x, &x);
        assert!(agreement.holds(), "{decoder:?}: {agreement:?}");
        let mut penalised = built
            .with_regularizer((
                Contractive::new(0.1).unwrap(),
                L1Sparsity::new(0.01).unwrap(),
            ))
            .with_loss(Huber::new(delta));
        let agreement = check_autoencoder(&mut penalised, &x, &x);
        assert!(
            agreement.holds(),
            "{decoder:?} with penalties: {agreement:?}"
        );
    }
}

#[test]
fn the_oracle_catches_a_planted_error_in_a_user_loss() {
    let x = data(3);
    let mut model = DenseBuilder::new(5, 3)
        .with_decoder_activation(Activation::Linear)
        .build::<f64, _>(&mut rng(4))
        .unwrap()
        .with_loss(Huber {
            delta: 0.05,
            planted: 1.001,
        });
    let agreement = check_autoencoder(&mut model, &x, &x);
    assert!(!agreement.holds(), "{agreement:?}");
}

#[test]
fn a_user_loss_trains_and_a_saved_model_names_it_on_loading() {
    let x = uniform(64, 5, 0.0, 1.0, &mut rng(5));
    let mut model = DenseBuilder::new(5, 3)
        .build::<f64, _>(&mut rng(6))
        .unwrap()
        .with_loss(Huber::new(0.1));
    let before = model.objective(&x).unwrap().total();
    let config = TrainingConfig::default().with_epochs(20).with_batch_size(8);
    model
        .fit(&x, &config, &mut Sgd::new(0.5).unwrap(), &mut rng(7))
        .unwrap();
    let after = model.objective(&x).unwrap().total();
    assert!(after < before, "{after} >= {before}");

    let bytes = model.to_safetensors().unwrap();
    match DynamicAutoencoder::<f64>::from_safetensors(&bytes, "huber.safetensors") {
        Err(Error::ModelFile {
            problem: ModelFileProblem::CustomComponent { component, name },
            ..
        }) => assert_eq!((component, name.as_str()), ("loss", "huber")),
        other => panic!("expected the user loss to be named, got {other:?}"),
    }
}

/// A loss that replaces its gradient buffer by one of another shape.
struct Resizing;

impl Loss<f64> for Resizing {
    fn value_and_gradient(&self, input: &LossInput<'_, f64>, grad: &mut DMatrix<f64>) -> f64 {
        *grad = DMatrix::zeros(1, 1);
        input.x.nrows() as f64
    }
}

#[test]
fn a_loss_that_resizes_its_gradient_is_a_typed_error() {
    let x = data(8);
    let model = DenseBuilder::new(5, 3)
        .build::<f64, _>(&mut rng(9))
        .unwrap()
        .with_loss(Resizing);
    match model.gradient(&x, &x) {
        Err(Error::MisshapenOutput {
            part, what, found, ..
        }) => assert_eq!((part, what, found), ("loss", "gradient", (1, 1))),
        other => panic!("{other:?}"),
    }
}

/// An encoder `h = s(x·Wᵀ + b)` that writes one code column too many when `extra` is set.
#[derive(Clone, Debug)]
struct Sloppy {
    weights: DMatrix<f64>,
    bias: DVector<f64>,
    extra: bool,
}

impl Encoder for Sloppy {
    type Scalar = f64;
    type Trace = ();

    fn input_dim(&self) -> usize {
        self.weights.ncols()
    }

    fn code_dim(&self) -> usize {
        self.weights.nrows()
    }

    fn code_layer(&self) -> CodeLayer<'_, f64> {
        CodeLayer {
            weights: Some(&self.weights),
            activation: Activation::Sigmoid,
        }
    }

    fn code_input<'a>(&self, x: &'a DMatrix<f64>, _: &'a ()) -> &'a DMatrix<f64> {
        x
    }

    fn forward(&self, x: &DMatrix<f64>, _: &mut (), pass: &mut CodePass<f64>) {
        let mut z = x * self.weights.transpose();
        for mut row in z.row_iter_mut() {
            row += self.bias.transpose();
        }
        if self.extra {
            z = z.insert_column(0, 0.0);
        }
        pass.code = z.map(|z| 1.0 / (1.0 + (-z).exp()));
        pass.pre_activation = z;
    }

    fn backward(
        &self,
        x: &DMatrix<f64>,
        _: &mut (),
        _: &CodePass<f64>,
        grad_z: &DMatrix<f64>,
        extra: Option<&DMatrix<f64>>,
        grad: &mut Self,
    ) {
        grad.weights = grad_z.transpose() * x;
        if let Some(extra) = extra {
            grad.weights += extra;
        }
        grad.bias = grad_z.row_sum().transpose();
    }

    fn parameters(&self) -> Vec<&[f64]> {
        vec![self.weights.as_slice(), self.bias.as_slice()]
    }

    fn parameters_mut(&mut self) -> Vec<&mut [f64]> {
        vec![self.weights.as_mut_slice(), self.bias.as_mut_slice()]
    }

    fn parameter_names(&self) -> Vec<String> {
        vec!["weight".into(), "bias".into()]
    }
}

fn sloppy(extra: bool) -> Autoencoder<Sloppy, DenseDecoder<f64>> {
    let encoder = Sloppy {
        weights: uniform(3, 5, -0.5, 0.5, &mut rng(10)),
        bias: DVector::zeros(3),
        extra,
    };
    let decoder = DenseDecoder::new(
        3,
        5,
        Activation::Sigmoid,
        autoencoders::Init::GlorotUniform,
        &mut rng(11),
    )
    .unwrap();
    Autoencoder::new(encoder, decoder).unwrap()
}

#[test]
fn a_user_encoder_with_the_right_shapes_has_the_exact_gradient() {
    let x = data(12);
    let mut model = sloppy(false).with_regularizer(Contractive::new(0.2).unwrap());
    let agreement = check_autoencoder(&mut model, &x, &x);
    assert!(agreement.holds(), "{agreement:?}");
}

#[test]
fn a_user_encoder_that_writes_the_wrong_shape_is_a_typed_error_everywhere() {
    let x = data(13);
    let mut model = sloppy(true);
    let is_misshapen = |result: Result<(), Error>, call: &str| match result {
        Err(Error::MisshapenOutput {
            part: "encoder",
            expected: (7, 3),
            found: (7, 4),
            ..
        }) => {}
        other => panic!("{call}: {other:?}"),
    };
    is_misshapen(model.encode(&x).map(drop), "encode");
    is_misshapen(model.reconstruct(&x).map(drop), "reconstruct");
    is_misshapen(model.objective(&x).map(drop), "objective");
    is_misshapen(model.gradient(&x, &x).map(drop), "gradient");
    is_misshapen(model.encoder().jacobian(&x).map(drop), "jacobian");
    let config = TrainingConfig::default().with_epochs(1);
    is_misshapen(
        model
            .fit(&x, &config, &mut Sgd::new(0.1).unwrap(), &mut rng(14))
            .map(drop),
        "fit",
    );
}

/// A user's corruption: Gaussian noise by delegation, unknown to the crate (no `builtin`), so
/// that the pretrainer calls it through `dyn Rng`.
struct MyNoise(GaussianNoise);

impl Corruption<f64> for MyNoise {
    fn corrupt_into<R: Rng + ?Sized>(&self, x: &DMatrix<f64>, out: &mut DMatrix<f64>, rng: &mut R) {
        self.0.corrupt_into(x, out, rng);
    }

    fn name(&self) -> &'static str {
        "my-noise"
    }
}

fn pretrain_with(corruption: impl Corruption<f64> + Send + Sync + 'static) -> Vec<Vec<f64>> {
    let x = uniform(40, 8, 0.0, 1.0, &mut rng(15));
    let quick = TrainingConfig::default().with_epochs(3).with_batch_size(8);
    let stack = LayerwisePretrainer::new()
        .with_layer(
            LayerSpec::new(5)
                .with_corruption(corruption)
                .with_loss(Huber::new(0.2))
                .with_training(quick),
        )
        .with_layer(LayerSpec::new(3).with_training(quick))
        .pretrain(&x, &mut rng(16))
        .unwrap();
    stack
        .encoder
        .parameters()
        .into_iter()
        .map(<[f64]>::to_vec)
        .collect()
}

#[test]
fn a_user_corruption_and_loss_pretrain_a_stack_bit_for_bit_as_the_builtin_noise() {
    let noise = GaussianNoise::new(0.2).unwrap();
    let theirs = pretrain_with(MyNoise(noise));
    let ours = pretrain_with(noise);
    assert_eq!(theirs, ours);
    // And the noise mattered: without it the stack differs.
    assert_ne!(pretrain_with(autoencoders::NoCorruption), ours);
}

#[test]
fn a_penalty_can_be_tested_on_its_own() {
    let u = uniform(4, 3, 0.0, 1.0, &mut rng(17));
    let w = uniform(2, 3, -1.0, 1.0, &mut rng(18));
    let z = &u * w.transpose();
    let h = z.map(|z| 1.0 / (1.0 + (-z).exp()));
    let input = RegularizerInput::new(&u, &z, &h, Activation::Sigmoid)
        .unwrap()
        .with_encoder_weights(&w)
        .unwrap();
    let (mut grad_h, mut grad_z, mut grad_w) = (
        DMatrix::zeros(4, 2),
        DMatrix::zeros(4, 2),
        DMatrix::zeros(2, 3),
    );
    let mut grad =
        RegularizerGradient::new(&mut grad_h, &mut grad_z).with_encoder_weights(&mut grad_w);
    let penalty = Contractive::new(1.0).unwrap().penalty(&input, &mut grad);
    // (λ/2)·mean_s Σ_j (h_sj(1 − h_sj))²·Σ_i w_ji², by hand.
    let mut expected = 0.0;
    for s in 0..4 {
        for j in 0..2 {
            let slope = h[(s, j)] * (1.0 - h[(s, j)]);
            expected += 0.5 * slope * slope * w.row(j).norm_squared() / 4.0;
        }
    }
    assert!(
        (penalty - expected).abs() < 1e-12,
        "{penalty} vs {expected}"
    );
    assert!(grad_w.iter().any(|&g| g != 0.0));

    // Shapes that do not fit are refused.
    let wrong = DMatrix::zeros(2, 4);
    assert!(matches!(
        RegularizerInput::new(&u, &z, &h, Activation::Sigmoid)
            .unwrap()
            .with_encoder_weights(&wrong),
        Err(Error::DimensionMismatch { .. })
    ));
    let short = DMatrix::zeros(3, 2);
    assert!(matches!(
        RegularizerInput::new(&u, &short, &short, Activation::Sigmoid),
        Err(Error::DimensionMismatch { .. })
    ));
}

#[test]
fn cross_entropy_checks_its_decoder_and_data_through_the_loss_trait() {
    let x = data(19);
    let linear = DenseBuilder::new(5, 3)
        .with_decoder_activation(Activation::Linear)
        .build::<f64, _>(&mut rng(20))
        .unwrap();
    assert!(matches!(
        Loss::<f64>::check(
            &ReconstructionLoss::CrossEntropy,
            Activation::Linear,
            &x,
            "x"
        ),
        Err(Error::IncompatibleActivation { .. })
    ));
    assert!(matches!(
        linear
            .with_loss(ReconstructionLoss::CrossEntropy)
            .objective(&x),
        Err(Error::IncompatibleActivation { .. })
    ));
    let outside = x.map(|v| v + 1.0);
    assert!(matches!(
        Loss::<f64>::check(
            &ReconstructionLoss::CrossEntropy,
            Activation::Sigmoid,
            &outside,
            "x"
        ),
        Err(Error::DataOutOfRange { .. })
    ));
}

/// A user penalty `(λ/2)·Σ_j (mean_s h_sj)²` that reports its `λ`.
#[derive(Clone, Copy)]
struct MeanCode {
    lambda: f64,
}

impl Regularizer<f64> for MeanCode {
    fn name(&self) -> &'static str {
        "mean-code"
    }

    fn penalty(
        &self,
        input: &RegularizerInput<'_, f64>,
        grad: &mut RegularizerGradient<'_, f64>,
    ) -> f64 {
        let n = input.code.nrows() as f64;
        let mut value = 0.0;
        for (j, column) in input.code.column_iter().enumerate() {
            let mean = column.sum() / n;
            value += 0.5 * self.lambda * mean * mean;
            for s in 0..input.code.nrows() {
                grad.code[(s, j)] += self.lambda * mean / n;
            }
        }
        value
    }

    fn hyper_parameters(&self) -> Vec<(&'static str, f64)> {
        vec![("lambda", self.lambda)]
    }
}

/// A corruption and a loss with hyper-parameters to report.
struct ScaledNoise(f64);

impl Corruption<f64> for ScaledNoise {
    fn corrupt_into<R: Rng + ?Sized>(&self, x: &DMatrix<f64>, out: &mut DMatrix<f64>, rng: &mut R) {
        GaussianNoise::new(self.0)
            .unwrap()
            .corrupt_into(x, out, rng);
    }

    fn name(&self) -> &'static str {
        "scaled-noise"
    }

    fn hyper_parameters(&self) -> Vec<(&'static str, f64)> {
        vec![("std_dev", self.0)]
    }
}

struct HuberReporting(Huber);

impl Loss<f64> for HuberReporting {
    fn name(&self) -> &'static str {
        "huber"
    }

    fn value_and_gradient(&self, input: &LossInput<'_, f64>, grad: &mut DMatrix<f64>) -> f64 {
        self.0.value_and_gradient(input, grad)
    }

    fn hyper_parameters(&self) -> Vec<(&'static str, f64)> {
        vec![("delta", self.0.delta)]
    }
}

#[test]
fn a_tuple_with_a_user_member_records_every_member() {
    use autoencoders::RegularizerPart;
    let pair = (Contractive::new(0.1).unwrap(), MeanCode { lambda: 0.5 });
    let parts = Regularizer::<f64>::parts(&pair);
    assert_eq!(parts.len(), 2);
    assert!(matches!(parts[0], RegularizerPart::Builtin(_)));
    assert_eq!(
        parts[1],
        RegularizerPart::Custom {
            name: "mean-code",
            hyper_parameters: vec![("lambda", 0.5)]
        }
    );
    let model = DenseBuilder::new(5, 3)
        .build::<f64, _>(&mut rng(30))
        .unwrap()
        .with_regularizer(pair);
    let bytes = model.to_safetensors().unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("contractive"),
        "the built-in member is in the file"
    );
    assert!(!text.contains("\"tuple\""));
    match DynamicAutoencoder::<f64>::from_safetensors(&bytes, "pair.safetensors") {
        Err(Error::ModelFile {
            problem: ModelFileProblem::CustomComponent { component, name },
            ..
        }) => assert_eq!((component, name.as_str()), ("regularizer", "mean-code")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn resuming_with_another_hyper_parameter_of_a_user_part_is_refused() {
    use autoencoders::{Checkpoint, Checkpointing, TrainingRun};
    let folder = std::env::temp_dir().join(format!("ae-user-parts-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join("run.safetensors");
    let x = uniform(24, 5, 0.0, 1.0, &mut rng(31));
    let build = |lambda: f64, std_dev: f64, delta: f64| {
        DenseBuilder::new(5, 3)
            .build::<f64, _>(&mut rng(32))
            .unwrap()
            .with_regularizer((Contractive::new(0.1).unwrap(), MeanCode { lambda }))
            .with_corruption(ScaledNoise(std_dev))
            .with_loss(HuberReporting(Huber::new(delta)))
    };
    let config = TrainingConfig::default().with_epochs(2).with_batch_size(8);
    let mut model = build(0.5, 0.1, 0.2);
    let mut run = TrainingRun::new(config, Sgd::new(0.1).unwrap(), rng(33))
        .with_checkpoints(Checkpointing::new(&path));
    model.fit_resumable(&x, None, &mut run, &mut ()).unwrap();

    for (what, mut other) in [
        ("penalty", build(0.6, 0.1, 0.2)),
        ("corruption", build(0.5, 0.2, 0.2)),
        ("loss", build(0.5, 0.1, 0.3)),
    ] {
        let checkpoint = Checkpoint::<f64>::load(&path).unwrap();
        match checkpoint.resume(&mut other, Sgd::new(0.1).unwrap()) {
            Err(Error::CheckpointMismatch { .. }) => {}
            other => panic!("{what}: {:?}", other.map(|_| ())),
        }
    }
    let mut same = build(0.5, 0.1, 0.2);
    let resumed = Checkpoint::<f64>::load(&path)
        .unwrap()
        .resume(&mut same, Sgd::new(0.1).unwrap());
    assert!(resumed.is_ok(), "{:?}", resumed.map(|_| ()));
    assert_eq!(same.parameters(), model.parameters());
    std::fs::remove_dir_all(&folder).unwrap();
}

/// Where a [`Mirror`] decoder goes wrong, if anywhere.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    Nothing,
    /// Its reconstruction has one column too few.
    Output,
    /// Its `∂J/∂h` has one row too few.
    Gradient,
}

/// A decoder `x̂ = tanh(h·Vᵀ + c)` written outside the crate against the narrow `Decoder`
/// trait, which can be told to write a misshapen output or gradient.
#[derive(Clone, Debug)]
struct Mirror {
    v: DMatrix<f64>,
    c: DVector<f64>,
    fault: Fault,
}

impl Mirror {
    fn new(code_dim: usize, output_dim: usize, seed: u64) -> Self {
        Self {
            v: uniform(output_dim, code_dim, -0.6, 0.6, &mut rng(seed)),
            c: uniform(output_dim, 1, -0.2, 0.2, &mut rng(seed + 1))
                .column(0)
                .into(),
            fault: Fault::Nothing,
        }
    }

    fn with_fault(self, fault: Fault) -> Self {
        Self { fault, ..self }
    }
}

impl Decoder<f64> for Mirror {
    type Trace = ();

    fn code_dim(&self) -> usize {
        self.v.ncols()
    }

    fn output_dim(&self) -> usize {
        self.v.nrows()
    }

    fn activation(&self) -> Activation {
        Activation::Tanh
    }

    fn forward(
        &self,
        h: &DMatrix<f64>,
        _: &mut (),
        a: &mut DMatrix<f64>,
        out: &mut DMatrix<f64>,
    ) -> Result<(), Error> {
        *a = h * self.v.transpose();
        for mut row in a.row_iter_mut() {
            row += self.c.transpose();
        }
        if self.fault == Fault::Output {
            *a = a.clone().remove_column(0);
        }
        Activation::Tanh.apply_matrix(a, out);
        Ok(())
    }

    fn backward(
        &self,
        h: &DMatrix<f64>,
        _: &mut (),
        grad_a: &DMatrix<f64>,
        grad: &mut Self,
        grad_h: &mut DMatrix<f64>,
    ) -> Result<(), Error> {
        grad.v = grad_a.transpose() * h;
        grad.c = grad_a.row_sum().transpose();
        *grad_h = grad_a * &self.v;
        if self.fault == Fault::Gradient {
            *grad_h = grad_h.clone().remove_row(0);
        }
        Ok(())
    }

    fn parameters(&self) -> Vec<&[f64]> {
        vec![self.v.as_slice(), self.c.as_slice()]
    }

    fn parameters_mut(&mut self) -> Vec<&mut [f64]> {
        vec![self.v.as_mut_slice(), self.c.as_mut_slice()]
    }

    fn parameter_names(&self) -> Vec<String> {
        vec!["weight".into(), "bias".into()]
    }

    fn parameter_kinds(&self) -> Vec<TensorKind> {
        vec![TensorKind::Weight, TensorKind::Bias]
    }

    fn parameter_shapes(&self) -> Vec<Vec<usize>> {
        vec![vec![self.v.nrows(), self.v.ncols()], vec![self.c.len()]]
    }
}

/// A dense encoder 5 → 3 and the user's decoders 3 → 4 → 5, stacked.
fn mirrored(faults: [Fault; 2]) -> Autoencoder<DenseEncoder<f64>, StackedDecoder<f64, Mirror>> {
    let encoder = DenseEncoder::new(
        5,
        3,
        Activation::Sigmoid,
        autoencoders::Init::GlorotUniform,
        &mut rng(20),
    )
    .unwrap();
    let decoder = StackedDecoder::new(vec![
        Mirror::new(3, 4, 21).with_fault(faults[0]),
        Mirror::new(4, 5, 23).with_fault(faults[1]),
    ])
    .unwrap();
    Autoencoder::new(encoder, decoder).unwrap()
}

#[test]
fn a_stack_of_user_decoders_has_the_exact_gradient_with_penalties_on_every_weight() {
    let x = data(24);
    let mut plain = mirrored([Fault::Nothing; 2]);
    let agreement = check_autoencoder(&mut plain, &x, &x);
    assert!(agreement.holds(), "plain: {agreement:?}");
    // Weight decay reads every weight by its kind: the encoder's and both user layers'.
    let mut decayed = mirrored([Fault::Nothing; 2]).with_regularizer((
        WeightDecay::new(0.3).unwrap(),
        Contractive::new(0.2).unwrap(),
    ));
    let agreement = check_autoencoder(&mut decayed, &x, &x);
    assert!(agreement.holds(), "decayed: {agreement:?}");
    let squares: f64 = decayed
        .parameters()
        .iter()
        .zip(decayed.parameter_kinds())
        .filter(|(_, kind)| *kind == TensorKind::Weight)
        .map(|(p, _)| p.iter().map(|w| w * w).sum::<f64>())
        .sum();
    let no_decay = plain.objective(&x).unwrap().total()
        + Autoencoder::new(plain.encoder().clone(), plain.decoder().clone())
            .unwrap()
            .with_regularizer(Contractive::new(0.2).unwrap())
            .objective(&x)
            .unwrap()
            .penalty;
    let with_decay = decayed.objective(&x).unwrap().total();
    assert!(
        (with_decay - no_decay - 0.5 * 0.3 * squares).abs() < 1e-12,
        "{with_decay} against {no_decay} + ½·0.3·{squares}"
    );
}

#[test]
fn a_user_decoder_that_writes_the_wrong_shape_is_a_typed_error_wherever_it_sits() {
    let x = data(25);
    let misshapen = |result: Result<(), Error>, what: &str, call: &str| match result {
        Err(Error::MisshapenOutput {
            part: "decoder",
            what: found,
            ..
        }) if found == what => {}
        other => panic!("{call}: expected a misshapen {what}, got {other:?}"),
    };
    let config = TrainingConfig::default().with_epochs(1);
    for (faults, what) in [
        ([Fault::Output, Fault::Nothing], "pre-activation"),
        ([Fault::Nothing, Fault::Output], "pre-activation"),
        ([Fault::Gradient, Fault::Nothing], "gradient"),
        ([Fault::Nothing, Fault::Gradient], "gradient"),
    ] {
        let mut model = mirrored(faults);
        let call = format!("{faults:?}");
        misshapen(model.gradient(&x, &x).map(drop), what, &call);
        misshapen(
            model
                .fit(&x, &config, &mut Sgd::new(0.1).unwrap(), &mut rng(26))
                .map(drop),
            what,
            &call,
        );
        if what != "gradient" {
            misshapen(model.reconstruct(&x).map(drop), what, &call);
            misshapen(model.objective(&x).map(drop), what, &call);
        }
    }
    // The same faults in a decoder used directly, without a stack.
    let encoder = mirrored([Fault::Nothing; 2]).encoder().clone();
    for (fault, what) in [
        (Fault::Output, "pre-activation"),
        (Fault::Gradient, "gradient"),
    ] {
        let model =
            Autoencoder::new(encoder.clone(), Mirror::new(3, 5, 27).with_fault(fault)).unwrap();
        misshapen(
            model.gradient(&x, &x).map(drop),
            what,
            &format!("{fault:?}"),
        );
    }
}

#[test]
fn a_tied_decoder_alone_is_a_typed_error_and_untied_computes() {
    let tied = DenseDecoder::<f64>::tied(3, 5, Activation::Sigmoid).unwrap();
    let h = uniform(2, 3, 0.0, 1.0, &mut rng(28));
    let (mut a, mut out) = (DMatrix::zeros(0, 0), DMatrix::zeros(0, 0));
    assert!(matches!(
        tied.forward(&h, &mut (), &mut a, &mut out),
        Err(Error::MissingCodeWeights { .. })
    ));
    let mut grad = tied.clone();
    let mut grad_h = DMatrix::zeros(0, 0);
    assert!(matches!(
        tied.backward(&h, &mut (), &DMatrix::zeros(2, 5), &mut grad, &mut grad_h),
        Err(Error::MissingCodeWeights { .. })
    ));
    // Untied with the encoder's W (3 × 5), it computes s(h·W + c), as inside its autoencoder.
    let w = uniform(3, 5, -1.0, 1.0, &mut rng(29));
    let untied = tied.untied(Some(&w)).unwrap();
    untied.forward(&h, &mut (), &mut a, &mut out).unwrap();
    let expected = (&h * &w).map(|z| 1.0 / (1.0 + (-z).exp()));
    assert!((out - expected).abs().max() < 1e-15);
}
