//! Every public model, optimiser, training run and configuration is `Send + Sync`, so it can be
//! trained on one thread and used, or shared by `Arc`, on others. The checks are at compile
//! time: a type that stopped being `Send + Sync` (an `Rc` or a `Cell` in a field) fails to
//! build this test.

use autoencoders::data::{
    CsvOptions, Digits, FittedScaler, HeaderMode, IdxArray, IdxData, LabelColumn, Scaler,
    SplitSize, Table,
};
use autoencoders::{
    Activation, Adam, Architecture, Autoencoder, BuiltinCorruption, BuiltinRegularizer, Checkpoint,
    Checkpointing, ClassCounts, Classifier, ConfusionMatrix, Contractive, Decay, DenseAutoencoder,
    DenseBuilder, DenseDecoder, DenseEncoder, DynamicAutoencoder, EpochReport, Error,
    GaussianNoise, History, IdentityEncoder, Init, KlSparsity, L1Sparsity, L2Sparsity, LayerSpec,
    LayerwisePretrainer, LearningRateSchedule, Masking, NoCorruption, NoRegularizer, Objective,
    OptimizerState, Pca, PretrainedStack, ReconstructionLoss, SaltAndPepper, Sgd, StackTrace,
    StackedDecoder, StackedDecoderTrace, StackedEncoder, StopReason, SupervisedReport,
    TrainingConfig, TrainingRun, WeightDecay,
};
use autoencoders::{DenseVae, Likelihood, Posterior, Vae, VaeCheckpoint, VaeObjective, VaeReport};

fn assert_send_sync<T: Send + Sync>() {}

/// Both scalar types of a generic type.
macro_rules! both_scalars {
    ($($ty:ident),+ $(,)?) => {$(
        assert_send_sync::<$ty<f32>>();
        assert_send_sync::<$ty<f64>>();
    )+};
}

#[test]
fn models_are_send_and_sync() {
    both_scalars!(
        DenseAutoencoder,
        DynamicAutoencoder,
        DenseEncoder,
        DenseDecoder,
        IdentityEncoder,
        StackedEncoder,
        StackedDecoder,
        PretrainedStack,
        LayerwisePretrainer,
        LayerSpec,
        Pca,
        Checkpoint,
        StackTrace,
        StackedDecoderTrace,
    );
    // Autoencoders with composed penalties and every corruption.
    assert_send_sync::<
        Autoencoder<
            DenseEncoder<f32>,
            DenseDecoder<f32>,
            (Contractive, L1Sparsity, L2Sparsity),
            GaussianNoise,
        >,
    >();
    assert_send_sync::<
        Autoencoder<StackedEncoder<f64>, StackedDecoder<f64>, (KlSparsity, WeightDecay), Masking>,
    >();
    assert_send_sync::<
        Autoencoder<DenseEncoder<f64>, DenseDecoder<f64>, Vec<BuiltinRegularizer>, SaltAndPepper>,
    >();
    assert_send_sync::<
        Autoencoder<IdentityEncoder<f32>, DenseDecoder<f32>, NoRegularizer, BuiltinCorruption>,
    >();
    // Classifiers over each encoder.
    assert_send_sync::<Classifier<DenseEncoder<f32>>>();
    assert_send_sync::<Classifier<StackedEncoder<f64>>>();
    assert_send_sync::<Classifier<IdentityEncoder<f64>>>();
    // Variational autoencoders, dense or over any parts.
    both_scalars!(DenseVae, Posterior, VaeCheckpoint);
    assert_send_sync::<Vae<DenseEncoder<f64>, DenseDecoder<f64>, Masking>>();
    assert_send_sync::<(Likelihood, VaeObjective, VaeReport, History<VaeReport>)>();
}

#[test]
fn optimisers_and_training_runs_are_send_and_sync() {
    both_scalars!(Sgd, Adam, OptimizerState, Objective);
    assert_send_sync::<TrainingRun<Adam<f32>>>();
    assert_send_sync::<TrainingRun<Sgd<f64>>>();
    assert_send_sync::<History>();
    assert_send_sync::<History<SupervisedReport>>();
    assert_send_sync::<EpochReport>();
    assert_send_sync::<StopReason>();
    assert_send_sync::<Error>();
}

#[test]
fn configurations_and_data_are_send_and_sync() {
    assert_send_sync::<TrainingConfig>();
    assert_send_sync::<LearningRateSchedule>();
    assert_send_sync::<Decay>();
    assert_send_sync::<Checkpointing>();
    assert_send_sync::<DenseBuilder>();
    assert_send_sync::<Activation>();
    assert_send_sync::<Init>();
    assert_send_sync::<ReconstructionLoss>();
    assert_send_sync::<Architecture>();
    assert_send_sync::<(
        BuiltinRegularizer,
        BuiltinCorruption,
        NoCorruption,
        NoRegularizer,
    )>();
    assert_send_sync::<(
        CsvOptions,
        HeaderMode,
        LabelColumn,
        Scaler,
        FittedScaler,
        SplitSize,
    )>();
    assert_send_sync::<(IdxArray, IdxData)>();
    assert_send_sync::<(ConfusionMatrix, ClassCounts)>();
    both_scalars!(Table, Digits);
}

#[cfg(feature = "linfa")]
#[test]
fn linfa_parameters_are_send_and_sync() {
    use autoencoders::linfa::{AutoencoderParams, AutoencoderValidParams};
    both_scalars!(AutoencoderParams, AutoencoderValidParams);
    assert_send_sync::<AutoencoderParams<f32, Sgd<f32>>>();
}

#[cfg(feature = "pictures")]
#[test]
fn pictures_are_send_and_sync() {
    use autoencoders::pictures::{LinePlot, Picture, PixelFormat, TileGrid};
    assert_send_sync::<(LinePlot, Picture, PixelFormat, TileGrid)>();
}
