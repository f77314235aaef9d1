// The README, with its pictures embedded, written by `build.rs`.
#![cfg_attr(
    feature = "bundled-digits",
    doc = include_str!(concat!(env!("OUT_DIR"), "/crate-docs.md"))
)]
#![cfg_attr(
    not(feature = "bundled-digits"),
    doc = "Autoencoders for representation learning; see the README."
)]
//!
//! # Conventions
//! Samples are **rows**: a batch `x` is an `n × input_dim` matrix, its codes `h` are
//! `n × code_dim`. Weights use PyTorch's `nn.Linear` layout, `out_features × in_features`.
//! Vocabulary: input `x`, corrupted input `x̃`, pre-activation `z`, code `h`, reconstruction
//! `x_hat` (`x̂`).
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod activation;
pub mod anomaly;
mod autoencoder;
mod classifier;
pub mod corruption;
pub mod data;
mod decoder;
mod encoder;
mod error;
mod file_problem;
mod files;
mod init;
mod kernel;
pub mod limits;
mod linalg;
#[cfg(feature = "linfa")]
pub mod linfa;
mod loss;
mod math;
pub mod metrics;
#[cfg(feature = "mpi")]
pub mod mpi;
pub mod optimizer;
pub mod parallel;
mod parameters;
mod pca;
pub mod persistence;
#[cfg(feature = "pictures")]
pub mod pictures;
mod pool;
mod pretraining;
pub mod regularizer;
pub mod robust;
mod run;
mod scalar;
mod schedule;
#[cfg(feature = "serde")]
mod serde_support;
mod simd;
pub mod source;
mod stack;
mod sums;
pub mod threads;
mod training;
pub mod ufldl;
mod vae;
mod validate;

pub use activation::Activation;
pub use autoencoder::{Autoencoder, DenseAutoencoder, DenseBuilder, Objective};
pub use classifier::{Classifier, SupervisedReport};
pub use corruption::{
    BoxedCorruption, BuiltinCorruption, Corruption, DynCorruption, GaussianNoise, Masking,
    NoCorruption, SaltAndPepper,
};
pub use decoder::{Decoder, DenseDecoder};
pub use encoder::{CodeLayer, CodePass, DenseEncoder, Encoder, IdentityEncoder};
pub use error::{Error, Result};
pub use init::Init;
pub use loss::{BuiltinLoss, Correntropy, Loss, LossInput, ReconstructionLoss};
pub use metrics::{ClassCounts, ConfusionMatrix};
pub use optimizer::{Adam, Optimizer, OptimizerState, Sgd};
pub use parameters::{Parameter, TensorKind};
pub use pca::Pca;
pub use persistence::{
    Checkpoint, ClassifierCheckpoint, DeepAutoencoder, DynamicAutoencoder, LbfgsCheckpoint,
    PretrainingCheckpoint, RobustCheckpoint, VaeCheckpoint,
};
pub use pretraining::{DenseLayer, LayerBuilder, LayerSpec, LayerwisePretrainer, PretrainedStack};
pub use regularizer::{
    Architecture, BuiltinRegularizer, Contractive, KlSparsity, L1Sparsity, L2Sparsity,
    NoRegularizer, Regularizer, RegularizerGradient, RegularizerInput, RegularizerPart,
    WeightDecay,
};
pub use run::{Checkpointing, TrainingRun};
pub use scalar::{Precision, Scalar};
pub use schedule::{Decay, LearningRateSchedule};
pub use stack::{StackTrace, StackedDecoder, StackedDecoderTrace, StackedEncoder};
pub use training::{EpochReport, History, Observer, StopReason, TrainingConfig};
pub use vae::{
    DenseVae, Likelihood, MAX_IMPORTANCE_SAMPLES, Posterior, Vae, VaeObjective, VaeReport,
};

pub use nalgebra;
pub use rand;
