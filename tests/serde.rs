//! The `serde` feature: every configuration and hyper-parameter type goes through JSON and comes
//! back equal, and deserialisation refuses what the constructors refuse, with their message.

use autoencoders::data::{CsvOptions, HeaderMode, LabelColumn, Scaler};
use autoencoders::{
    Activation, BuiltinCorruption, BuiltinLoss, BuiltinRegularizer, Checkpointing, Contractive,
    Correntropy, Corruption, Decay, DenseBuilder, Error, GaussianNoise, Init, KlSparsity,
    L1Sparsity, L2Sparsity, LearningRateSchedule, Masking, NoCorruption, NoRegularizer,
    ReconstructionLoss, Regularizer, SaltAndPepper, TrainingConfig, WeightDecay,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// `value` through JSON text and back, compared with itself; returns the JSON.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) -> String {
    let json = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
    assert_eq!(&back, value, "{json}");
    json
}

/// `json` is refused as a `T`, with the message of `expected` (the constructor's error).
fn refused<T: DeserializeOwned + Debug>(json: &str, expected: Error) {
    let error = serde_json::from_str::<T>(json).expect_err(json).to_string();
    let message = expected.to_string();
    assert!(
        error.contains(&message),
        "{json}: {error:?} should say {message:?}"
    );
}

/// `json` is refused as a `T`, with a message that contains `needle`.
fn refused_saying<T: DeserializeOwned + Debug>(json: &str, needle: &str) {
    let error = serde_json::from_str::<T>(json).expect_err(json).to_string();
    assert!(
        error.contains(needle),
        "{json}: {error:?} should say {needle:?}"
    );
}

fn schedules() -> Vec<LearningRateSchedule> {
    vec![
        LearningRateSchedule::constant(0.1).unwrap(),
        LearningRateSchedule::step(0.1, 1000, 0.5).unwrap(),
        LearningRateSchedule::exponential(0.05, 0.999).unwrap(),
        LearningRateSchedule::cosine(0.1, 0.001, 3000)
            .unwrap()
            .with_warm_up(100)
            .unwrap(),
    ]
}

fn regularizers() -> Vec<BuiltinRegularizer> {
    vec![
        L1Sparsity::new(1e-3).unwrap().into(),
        L2Sparsity::new(0.25).unwrap().into(),
        KlSparsity::new(0.05, 3.0).unwrap().into(),
        Contractive::new(0.1).unwrap().into(),
        WeightDecay::new(1e-4).unwrap().into(),
    ]
}

fn corruptions() -> Vec<BuiltinCorruption> {
    vec![
        BuiltinCorruption::None,
        GaussianNoise::new(0.3).unwrap().into(),
        Masking::new(0.25).unwrap().into(),
        SaltAndPepper::new(0.1).unwrap().into(),
    ]
}

#[test]
fn training_configurations_round_trip() {
    round_trip(&TrainingConfig::default());
    for schedule in schedules() {
        round_trip(&schedule);
        round_trip(&schedule.decay());
        let config = TrainingConfig::default()
            .with_epochs(usize::MAX)
            .with_batch_size(128)
            .with_shuffle(false)
            .with_schedule(schedule)
            .with_max_updates(3000)
            .with_early_stopping(5);
        round_trip(&config);
    }
    round_trip(&Checkpointing::new("runs/digits.safetensors").with_interval(5));
}

#[test]
fn model_settings_round_trip() {
    for activation in Activation::ALL {
        // The names of files and command lines.
        assert_eq!(
            round_trip(&activation),
            format!("\"{}\"", activation.name())
        );
    }
    for loss in [
        ReconstructionLoss::SquaredError,
        ReconstructionLoss::CrossEntropy,
    ] {
        assert_eq!(round_trip(&loss), format!("\"{}\"", loss.name()));
    }
    let inits = [
        Init::GlorotUniform,
        Init::GlorotNormal,
        Init::HeNormal,
        Init::Uniform { limit: 0.01 },
        Init::Normal { std_dev: 0.1 },
    ];
    for init in inits {
        round_trip(&init);
        round_trip(&DenseBuilder::new(784, 32).with_init(init));
    }
    round_trip(
        &DenseBuilder::new(64, 8)
            .with_tied(true)
            .with_encoder_activation(Activation::Relu)
            .with_decoder_activation(Activation::Linear),
    );
}

#[test]
fn regularizers_and_corruptions_round_trip_under_their_names() {
    for regularizer in regularizers() {
        let json = round_trip(&regularizer);
        let name = Regularizer::<f64>::name(&regularizer);
        assert!(json.starts_with(&format!("{{\"{name}\":")), "{json}");
    }
    round_trip(&regularizers());
    round_trip(&L1Sparsity::new(1e-3).unwrap());
    round_trip(&L2Sparsity::new(0.0).unwrap());
    round_trip(&KlSparsity::new(0.5, 0.0).unwrap());
    round_trip(&Contractive::new(2.0).unwrap());
    round_trip(&WeightDecay::new(1e-5).unwrap());
    round_trip(&NoRegularizer);
    for corruption in corruptions() {
        let json = round_trip(&corruption);
        let name = Corruption::<f64>::name(&corruption);
        assert!(json.contains(&format!("\"{name}\"")), "{json}");
    }
    round_trip(&GaussianNoise::new(0.0).unwrap());
    round_trip(&Masking::new(1.0).unwrap());
    round_trip(&SaltAndPepper::new(0.0).unwrap());
    round_trip(&NoCorruption);
    for loss in [
        BuiltinLoss::default(),
        ReconstructionLoss::CrossEntropy.into(),
        Correntropy::new(0.1 + 0.2).unwrap().into(),
    ] {
        round_trip(&loss);
    }
    round_trip(&Correntropy::new(0.5).unwrap());
}

#[test]
fn data_options_round_trip() {
    for header in [HeaderMode::Auto, HeaderMode::Present, HeaderMode::Absent] {
        round_trip(&header);
    }
    for label in [LabelColumn::None, LabelColumn::Index(3), LabelColumn::Last] {
        round_trip(&label);
        let options = CsvOptions::default()
            .with_header(HeaderMode::Present)
            .with_label_column(label)
            .with_delimiter(b'\t');
        round_trip(&options);
    }
    for scaler in [
        Scaler::Identity,
        Scaler::Bytes,
        Scaler::MinMax,
        Scaler::Standard,
    ] {
        round_trip(&scaler);
    }
}

#[test]
fn omitted_settings_take_the_constructors_defaults() {
    let config: TrainingConfig = serde_json::from_str(r#"{"epochs": 3}"#).unwrap();
    assert_eq!(config, TrainingConfig::default().with_epochs(3));
    let builder: DenseBuilder =
        serde_json::from_str(r#"{"input_dim": 784, "code_dim": 32}"#).unwrap();
    assert_eq!(builder, DenseBuilder::new(784, 32));
    let schedule: LearningRateSchedule = serde_json::from_str(
        r#"{"initial": 0.1, "decay": {"step": {"every": 10, "factor": 0.5}}}"#,
    )
    .unwrap();
    assert_eq!(schedule, LearningRateSchedule::step(0.1, 10, 0.5).unwrap());
    // The README's example.
    let readme = r#"{"epochs": 20, "batch_size": 64, "early_stopping": 5,
        "schedule": {"initial": 0.05, "decay": {"cosine": {"over": 3000, "minimum": 0.0}}, "warm_up": 100}}"#;
    let config: TrainingConfig = serde_json::from_str(readme).unwrap();
    let cosine = LearningRateSchedule::cosine(0.05, 0.0, 3000).unwrap();
    let expected = TrainingConfig::default()
        .with_epochs(20)
        .with_batch_size(64)
        .with_early_stopping(5)
        .with_schedule(cosine.with_warm_up(100).unwrap());
    assert_eq!(config, expected);
    let options: CsvOptions = serde_json::from_str(r#"{"label_column": "last"}"#).unwrap();
    assert_eq!(
        options,
        CsvOptions::default().with_label_column(LabelColumn::Last)
    );
}

#[test]
fn invalid_penalties_and_corruptions_are_refused() {
    refused::<L1Sparsity>(r#"{"weight": -1}"#, L1Sparsity::new(-1.0).unwrap_err());
    refused::<L2Sparsity>(r#"{"weight": -0.5}"#, L2Sparsity::new(-0.5).unwrap_err());
    refused::<WeightDecay>(r#"{"weight": -1e-3}"#, WeightDecay::new(-1e-3).unwrap_err());
    refused::<Contractive>(r#"{"weight": -2}"#, Contractive::new(-2.0).unwrap_err());
    for (target, weight) in [(0.0, 3.0), (1.0, 3.0), (1.5, 3.0), (0.05, -3.0)] {
        refused::<KlSparsity>(
            &format!(r#"{{"target": {target}, "weight": {weight}}}"#),
            KlSparsity::new(target, weight).unwrap_err(),
        );
    }
    refused::<GaussianNoise>(
        r#"{"std_dev": -0.1}"#,
        GaussianNoise::new(-0.1).unwrap_err(),
    );
    for p in [-0.1, 1.5] {
        let json = format!(r#"{{"probability": {p}}}"#);
        refused::<Masking>(&json, Masking::new(p).unwrap_err());
        refused::<SaltAndPepper>(&json, SaltAndPepper::new(p).unwrap_err());
    }
    // Through the run-time choices, alone and in lists.
    refused::<BuiltinRegularizer>(
        r#"{"l1-sparsity": {"weight": -1}}"#,
        L1Sparsity::new(-1.0).unwrap_err(),
    );
    refused::<Vec<BuiltinRegularizer>>(
        r#"[{"contractive": {"weight": 0.1}}, {"kl-sparsity": {"target": 2, "weight": 1}}]"#,
        KlSparsity::new(2.0, 1.0).unwrap_err(),
    );
    refused::<BuiltinCorruption>(
        r#"{"masking": {"probability": 2}}"#,
        Masking::new(2.0).unwrap_err(),
    );
    // Values JSON cannot hold and misspelt or missing fields.
    refused_saying::<L1Sparsity>(r#"{"weight": null}"#, "invalid type");
    refused_saying::<L1Sparsity>(r#"{"weight": 1, "wieght": 2}"#, "unknown field");
    refused_saying::<KlSparsity>(r#"{"weight": 1}"#, "missing field `target`");
    refused_saying::<BuiltinCorruption>(r#""dropout""#, "unknown variant");
    refused::<BuiltinLoss>(
        r#"{"correntropy": {"sigma": 0}}"#,
        Correntropy::new(0.0).unwrap_err(),
    );
    refused::<Correntropy>(r#"{"sigma": -1}"#, Correntropy::new(-1.0).unwrap_err());
    refused_saying::<BuiltinLoss>(r#"{"huber": {"delta": 1}}"#, "unknown variant");
}

#[test]
fn invalid_training_settings_are_refused() {
    let config = TrainingConfig::default();
    refused::<TrainingConfig>(
        r#"{"batch_size": 0}"#,
        config.with_batch_size(0).validate().unwrap_err(),
    );
    refused::<TrainingConfig>(
        r#"{"max_updates": 0}"#,
        config.with_max_updates(0).validate().unwrap_err(),
    );
    refused::<TrainingConfig>(
        r#"{"early_stopping": 0}"#,
        config.with_early_stopping(0).validate().unwrap_err(),
    );
    // Decay derives its serde code without checks (a decay's limits depend on the schedule's
    // initial rate); the schedule holding it checks them.
    let schedules = [
        (0.0, Decay::Constant),
        (
            0.1,
            Decay::Step {
                every: 0,
                factor: 0.5,
            },
        ),
        (
            0.1,
            Decay::Step {
                every: 10,
                factor: 1.5,
            },
        ),
        (0.1, Decay::Exponential { factor: 0.0 }),
        (
            0.1,
            Decay::Cosine {
                over: 100,
                minimum: 0.2,
            },
        ),
        (
            0.1,
            Decay::Cosine {
                over: 0,
                minimum: 0.0,
            },
        ),
    ];
    for (initial, decay) in schedules {
        let decay_json = serde_json::to_string(&decay).unwrap();
        let json = format!(r#"{{"initial": {initial}, "decay": {decay_json}}}"#);
        let expected = || LearningRateSchedule::new(initial, decay).unwrap_err();
        refused::<LearningRateSchedule>(&json, expected());
        // Nested in a configuration.
        refused::<TrainingConfig>(&format!(r#"{{"schedule": {json}}}"#), expected());
    }
    refused::<Checkpointing>(
        r#"{"path": "run.safetensors", "interval": 0}"#,
        Checkpointing::new("run.safetensors")
            .with_interval(0)
            .validate()
            .unwrap_err(),
    );
}

#[test]
fn invalid_models_and_data_options_are_refused() {
    for (input_dim, code_dim) in [(0, 3), (3, 0)] {
        refused::<DenseBuilder>(
            &format!(r#"{{"input_dim": {input_dim}, "code_dim": {code_dim}}}"#),
            DenseBuilder::new(input_dim, code_dim)
                .validate()
                .unwrap_err(),
        );
    }
    for (json, init) in [
        (
            r#"{"uniform": {"limit": -1}}"#,
            Init::Uniform { limit: -1.0 },
        ),
        (
            r#"{"normal": {"std_dev": -1}}"#,
            Init::Normal { std_dev: -1.0 },
        ),
    ] {
        refused::<Init>(json, init.validate().unwrap_err());
        refused::<DenseBuilder>(
            &format!(r#"{{"input_dim": 4, "code_dim": 2, "init": {json}}}"#),
            init.validate().unwrap_err(),
        );
    }
    for delimiter in [b'.', b'a', b'"'] {
        refused::<CsvOptions>(
            &format!(r#"{{"delimiter": {delimiter}}}"#),
            CsvOptions::default()
                .with_delimiter(delimiter)
                .validate()
                .unwrap_err(),
        );
    }
    refused_saying::<LabelColumn>(r#"{"index": -1}"#, "invalid value");
}
