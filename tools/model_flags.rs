//! The model, scaling and training flags that `train` and `anomalies` share (same names, same
//! defaults), and what they build.

use crate::{Failure, flag};
use autoencoders::data::Scaler;
use autoencoders::{
    Activation, Adam, BuiltinCorruption, BuiltinLoss, BuiltinRegularizer, Contractive, Correntropy,
    DenseBuilder, DynamicAutoencoder, GaussianNoise, KlSparsity, L1Sparsity, Masking, Optimizer,
    ReconstructionLoss, SaltAndPepper, Scalar, Sgd, TrainingConfig, WeightDecay,
};
use clap::{Args, ValueEnum};
use rand::Rng;
use std::path::PathBuf;

/// The kernel width of `--loss correntropy` without `--correntropy-sigma` (R's `ruta` default).
pub const DEFAULT_CORRENTROPY_SIGMA: f64 = 0.2;

/// The flags of a one-layer dense autoencoder, its scaling and its training.
#[derive(Args, Debug)]
pub struct ModelFlags {
    /// Use only the first N samples of each file.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Units in the code.
    #[arg(long, value_name = "K", default_value_t = 64)]
    pub hidden: usize,
    /// Encoder activation.
    #[arg(long, value_enum, default_value_t = Act::Sigmoid)]
    pub encoder_activation: Act,
    /// Decoder activation.
    #[arg(long, value_enum, default_value_t = Act::Sigmoid)]
    pub decoder_activation: Act,
    /// Reconstruction loss.
    #[arg(long, value_enum, default_value_t = LossFlag::SquaredError)]
    pub loss: LossFlag,
    /// Kernel width σ of `--loss correntropy`, in the scaled data's units (default 0.2).
    #[arg(long, value_name = "σ", allow_negative_numbers = true)]
    pub correntropy_sigma: Option<f64>,
    /// Tie the decoder's weights to the encoder's (transposed).
    #[arg(long)]
    pub tied: bool,
    /// L1 sparsity λ·Σ|h_j| with this λ.
    #[arg(long, value_name = "λ", allow_negative_numbers = true)]
    pub sparsity_l1: Option<f64>,
    /// KL sparsity with target ρ and weight β, written ρ,β (e.g. 0.05,3).
    #[arg(long, value_name = "ρ,β", value_parser = parse_pair, allow_negative_numbers = true)]
    pub sparsity_kl: Option<(f64, f64)>,
    /// Contractive penalty (λ/2)·‖∂h/∂x‖²_F with this λ.
    #[arg(long, value_name = "λ", allow_negative_numbers = true)]
    pub contractive: Option<f64>,
    /// Weight decay (λ/2)·Σw² with this λ.
    #[arg(long, value_name = "λ", allow_negative_numbers = true)]
    pub weight_decay: Option<f64>,
    /// Denoising with additive Gaussian noise N(0, σ²).
    #[arg(
        long,
        value_name = "σ",
        group = "corruption",
        allow_negative_numbers = true
    )]
    pub gaussian_noise: Option<f64>,
    /// Denoising with masking noise: each input set to 0 with probability p.
    #[arg(
        long,
        value_name = "p",
        group = "corruption",
        allow_negative_numbers = true
    )]
    pub masking: Option<f64>,
    /// Denoising with salt-and-pepper noise: each input set to 0 or 1 with probability p.
    #[arg(
        long,
        value_name = "p",
        group = "corruption",
        allow_negative_numbers = true
    )]
    pub salt_and_pepper: Option<f64>,
    /// Optimiser.
    #[arg(long, value_enum, default_value_t = Opt::Sgd)]
    pub optimizer: Opt,
    /// Learning rate η (default: 0.1 for sgd, 1e-3 for adam).
    #[arg(long, value_name = "η", allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// Momentum μ for sgd.
    #[arg(
        long,
        value_name = "μ",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    pub momentum: f64,
    /// Samples per batch.
    #[arg(long, value_name = "B", default_value_t = 64)]
    pub batch_size: usize,
    /// Passes over the training data.
    #[arg(long, value_name = "E", default_value_t = 10)]
    pub epochs: usize,
    /// Seed of the generator behind the initial weights, the shuffling and the corruption.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Keep the samples in file order (no shuffling).
    #[arg(long)]
    pub no_shuffle: bool,
    /// Floating-point type.
    #[arg(long, value_enum, default_value_t = Dtype::F32)]
    pub dtype: Dtype,
    /// Start from the weights in this safetensors file instead of random ones.
    #[arg(long, value_name = "PATH")]
    pub init: Option<PathBuf>,
    /// Scaling, learned on the training data (default: unit for u8 IDX data, minmax for CSV).
    #[arg(long, value_enum)]
    pub scale: Option<Scale>,
}

/// An activation, as a flag value.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Act {
    /// Logistic sigmoid.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// Rectified linear.
    Relu,
    /// Identity.
    Linear,
}

impl From<Act> for Activation {
    fn from(a: Act) -> Self {
        match a {
            Act::Sigmoid => Activation::Sigmoid,
            Act::Tanh => Activation::Tanh,
            Act::Relu => Activation::Relu,
            Act::Linear => Activation::Linear,
        }
    }
}

/// A reconstruction loss, as a flag value.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LossFlag {
    /// Sum of squared errors.
    SquaredError,
    /// Binary cross-entropy.
    CrossEntropy,
    /// Correntropy Σ[1 − exp(−r²/(2σ²))], robust to outliers (σ: --correntropy-sigma).
    Correntropy,
}

/// An optimiser, as a flag value.
#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
pub enum Opt {
    /// Stochastic gradient descent, with optional momentum.
    Sgd,
    /// Adam.
    Adam,
}

/// A floating-point type, as a flag value.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Dtype {
    /// `f32`.
    F32,
    /// `f64`.
    F64,
}

/// A scaling, as a flag value.
#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
pub enum Scale {
    /// Bytes divided by 255.
    Unit,
    /// Each column to [0, 1] by the training data's range.
    Minmax,
    /// Each column to mean 0, variance 1.
    Standard,
    /// As read.
    None,
}

fn parse_pair(s: &str) -> Result<(f64, f64), String> {
    let (a, b) = s
        .split_once(',')
        .ok_or("expected ρ,β (two numbers separated by a comma)")?;
    let number = |v: &str| v.trim().parse::<f64>().map_err(|e| format!("`{v}`: {e}"));
    Ok((number(a)?, number(b)?))
}

impl ModelFlags {
    /// The combinations of flags that cannot work, as usage errors, before any work.
    pub fn check(&self) -> Result<(), Failure> {
        if self.limit == Some(0) {
            return Err(Failure::Usage("--limit must be at least 1".into()));
        }
        if self.optimizer == Opt::Adam && self.momentum != 0.0 {
            return Err(Failure::Usage(
                "--momentum applies to --optimizer sgd only".into(),
            ));
        }
        if self.scale == Some(Scale::Standard) && !matches!(self.decoder_activation, Act::Linear) {
            return Err(Failure::Usage(
                "--scale standard gives negative values and values above 1, which a sigmoid, tanh or ReLU decoder cannot output: add --decoder-activation linear (or use --scale minmax)".into(),
            ));
        }
        if self.batch_size == 0 {
            return Err(Failure::Usage("--batch-size must be at least 1".into()));
        }
        if self.correntropy_sigma.is_some() && !matches!(self.loss, LossFlag::Correntropy) {
            return Err(Failure::Usage(
                "--correntropy-sigma applies to --loss correntropy only".into(),
            ));
        }
        Ok(())
    }

    /// The scaling: `--scale`, or by default none for the bundled digits (already in [0, 1]),
    /// unit for IDX bytes, none for other IDX images (`image_shaped`: the file gave a height
    /// and a width), minmax otherwise (CSV).
    pub fn scaler(&self, bundled: bool, bytes: bool, image_shaped: bool) -> Scaler {
        match self.scale {
            Some(Scale::Unit) => Scaler::Bytes,
            Some(Scale::Minmax) => Scaler::MinMax,
            Some(Scale::Standard) => Scaler::Standard,
            Some(Scale::None) => Scaler::Identity,
            None if bundled => Scaler::Identity,
            None if bytes => Scaler::Bytes,
            None if image_shaped => Scaler::Identity,
            None => Scaler::MinMax,
        }
    }

    /// The model the flags describe, for `input_dim` features, its weights from `rng` (or from
    /// `--init`).
    pub fn model<T: Scalar, G: Rng + ?Sized>(
        &self,
        input_dim: usize,
        rng: &mut G,
    ) -> Result<DynamicAutoencoder<T>, Failure> {
        let mut regularizers: Vec<BuiltinRegularizer> = Vec::new();
        if let Some(l) = self.sparsity_l1 {
            regularizers.push(flag(L1Sparsity::new(l), "sparsity-l1")?.into());
        }
        if let Some((rho, beta)) = self.sparsity_kl {
            regularizers.push(flag(KlSparsity::new(rho, beta), "sparsity-kl")?.into());
        }
        if let Some(l) = self.contractive {
            regularizers.push(flag(Contractive::new(l), "contractive")?.into());
        }
        if let Some(l) = self.weight_decay {
            regularizers.push(flag(WeightDecay::new(l), "weight-decay")?.into());
        }
        let corruption = match (self.gaussian_noise, self.masking, self.salt_and_pepper) {
            (Some(s), _, _) => flag(GaussianNoise::new(s), "gaussian-noise")?.into(),
            (_, Some(p), _) => flag(Masking::new(p), "masking")?.into(),
            (_, _, Some(p)) => flag(SaltAndPepper::new(p), "salt-and-pepper")?.into(),
            _ => BuiltinCorruption::None,
        };
        let loss: BuiltinLoss = match self.loss {
            LossFlag::SquaredError => ReconstructionLoss::SquaredError.into(),
            LossFlag::CrossEntropy => ReconstructionLoss::CrossEntropy.into(),
            LossFlag::Correntropy => flag(
                Correntropy::new(self.correntropy_sigma.unwrap_or(DEFAULT_CORRENTROPY_SIGMA)),
                "correntropy-sigma",
            )?
            .into(),
        };
        let mut model: DynamicAutoencoder<T> = flag(
            DenseBuilder::new(input_dim, self.hidden)
                .with_encoder_activation(self.encoder_activation.into())
                .with_decoder_activation(self.decoder_activation.into())
                .with_tied(self.tied)
                .build::<T, _>(rng),
            "hidden",
        )?
        .with_regularizer(regularizers)
        .with_corruption(corruption)
        .with_loss(loss);
        if let Some(path) = &self.init {
            model.load_parameters(path)?;
        }
        Ok(model)
    }

    /// The optimiser the flags describe.
    pub fn optimizer<T: Scalar>(&self) -> Result<Box<dyn Optimizer<T>>, Failure> {
        Ok(match self.optimizer {
            Opt::Sgd => Box::new(flag(
                Sgd::new(self.lr.unwrap_or(0.1)).and_then(|s| s.with_momentum(self.momentum)),
                "lr/--momentum",
            )?),
            Opt::Adam => Box::new(flag(Adam::new(self.lr.unwrap_or(1e-3)), "lr")?),
        })
    }

    /// Epochs, batch size and shuffling.
    pub fn config(&self) -> TrainingConfig {
        TrainingConfig::default()
            .with_epochs(self.epochs)
            .with_batch_size(self.batch_size)
            .with_shuffle(!self.no_shuffle)
    }
}
