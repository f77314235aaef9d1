//! The architecture of a saved model, as the JSON in the file's metadata.

use super::ModelFileProblem;
use crate::{
    Activation, Autoencoder, BuiltinCorruption, BuiltinLoss, BuiltinRegularizer, Contractive,
    Correntropy, Corruption, DenseDecoder, DenseEncoder, Error, GaussianNoise, KlSparsity,
    L1Sparsity, L2Sparsity, Loss, Masking, ReconstructionLoss, Regularizer, RegularizerPart,
    Result, SaltAndPepper, Scalar, WeightDecay,
};
use serde::{Deserialize, Serialize};

/// What the record's `loss` starts with for a user's own loss, followed by its name.
const CUSTOM_LOSS_PREFIX: &str = "custom:";

/// The version of the metadata this crate writes.
const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ModelRecord {
    pub(crate) format_version: u32,
    /// Filled in by the writer once the tensor data are laid out.
    pub(crate) crc32: String,
    pub(crate) dtype: String,
    pub(crate) input_dim: usize,
    pub(crate) code_dim: usize,
    pub(crate) encoder_activation: String,
    pub(crate) decoder_activation: String,
    pub(crate) tied: bool,
    #[serde(deserialize_with = "loss_name")]
    pub(crate) loss: String,
    /// The loss's hyper-parameters (correntropy's `sigma`, a user loss's); absent for the
    /// losses without any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) loss_hyper_parameters: HyperParameters,
    pub(crate) regularizers: Vec<RegularizerRecord>,
    pub(crate) corruption: CorruptionRecord,
}

/// A user part's hyper-parameters: names and values, the values written as Rust's shortest
/// round-trip form (`0.1`, `NaN`, `inf`), so that two records are equal exactly when every
/// value has the same bits (JSON numbers cannot hold NaN or ∞).
pub(crate) type HyperParameters = Vec<(String, String)>;

fn hyper_parameters(values: Vec<(&'static str, f64)>) -> HyperParameters {
    values
        .into_iter()
        .map(|(name, value)| (name.to_owned(), format!("{value:?}")))
        .collect()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) enum RegularizerRecord {
    L1Sparsity {
        weight: f64,
    },
    L2Sparsity {
        weight: f64,
    },
    KlSparsity {
        target: f64,
        weight: f64,
    },
    Contractive {
        weight: f64,
    },
    WeightDecay {
        weight: f64,
    },
    Custom {
        name: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        hyper_parameters: HyperParameters,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) enum CorruptionRecord {
    None,
    GaussianNoise {
        std_dev: f64,
    },
    Masking {
        probability: f64,
    },
    SaltAndPepper {
        probability: f64,
    },
    Custom {
        name: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        hyper_parameters: HyperParameters,
    },
}

impl RegularizerRecord {
    fn from_builtin(r: &BuiltinRegularizer) -> Self {
        match r {
            BuiltinRegularizer::L1Sparsity(r) => Self::L1Sparsity { weight: r.weight() },
            BuiltinRegularizer::L2Sparsity(r) => Self::L2Sparsity { weight: r.weight() },
            BuiltinRegularizer::KlSparsity(r) => Self::KlSparsity {
                target: r.target(),
                weight: r.weight(),
            },
            BuiltinRegularizer::Contractive(r) => Self::Contractive { weight: r.weight() },
            BuiltinRegularizer::WeightDecay(r) => Self::WeightDecay { weight: r.weight() },
        }
    }

    fn to_builtin(&self) -> std::result::Result<BuiltinRegularizer, ModelFileProblem> {
        let built: Result<BuiltinRegularizer> = match self {
            Self::L1Sparsity { weight } => L1Sparsity::new(*weight).map(Into::into),
            Self::L2Sparsity { weight } => L2Sparsity::new(*weight).map(Into::into),
            Self::KlSparsity { target, weight } => {
                KlSparsity::new(*target, *weight).map(Into::into)
            }
            Self::Contractive { weight } => Contractive::new(*weight).map(Into::into),
            Self::WeightDecay { weight } => WeightDecay::new(*weight).map(Into::into),
            Self::Custom { name, .. } => {
                return Err(ModelFileProblem::CustomComponent {
                    component: "regularizer",
                    name: name.clone(),
                });
            }
        };
        built.map_err(invalid_parameter)
    }
}

impl CorruptionRecord {
    fn to_builtin(&self) -> std::result::Result<BuiltinCorruption, ModelFileProblem> {
        let built: Result<BuiltinCorruption> = match self {
            Self::None => Ok(BuiltinCorruption::None),
            Self::GaussianNoise { std_dev } => GaussianNoise::new(*std_dev).map(Into::into),
            Self::Masking { probability } => Masking::new(*probability).map(Into::into),
            Self::SaltAndPepper { probability } => SaltAndPepper::new(*probability).map(Into::into),
            Self::Custom { name, .. } => {
                return Err(ModelFileProblem::CustomComponent {
                    component: "corruption",
                    name: name.clone(),
                });
            }
        };
        built.map_err(invalid_parameter)
    }
}

fn invalid_parameter(error: Error) -> ModelFileProblem {
    ModelFileProblem::InvalidMetadata {
        detail: error.to_string(),
    }
}

fn invalid(detail: String) -> ModelFileProblem {
    ModelFileProblem::InvalidMetadata { detail }
}

/// The parts of an autoencoder besides its layers: loss, regularizers, corruption.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PartsRecord {
    #[serde(deserialize_with = "loss_name")]
    pub(crate) loss: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) loss_hyper_parameters: HyperParameters,
    pub(crate) regularizers: Vec<RegularizerRecord>,
    pub(crate) corruption: CorruptionRecord,
}

impl PartsRecord {
    pub(crate) fn of<E, D, R, C, L>(model: &Autoencoder<E, D, R, C, L>) -> Self
    where
        E: crate::Encoder,
        D: crate::Decoder<E::Scalar>,
        R: Regularizer<E::Scalar>,
        C: Corruption<E::Scalar>,
        L: Loss<E::Scalar>,
    {
        let regularizers = model
            .regularizer()
            .parts()
            .into_iter()
            .map(|part| match part {
                RegularizerPart::Builtin(r) => RegularizerRecord::from_builtin(&r),
                RegularizerPart::Custom {
                    name,
                    hyper_parameters: values,
                } => RegularizerRecord::Custom {
                    name: name.to_owned(),
                    hyper_parameters: hyper_parameters(values),
                },
            })
            .collect();
        let corruption = match model.corruption().builtin() {
            Some(BuiltinCorruption::GaussianNoise(c)) => CorruptionRecord::GaussianNoise {
                std_dev: c.std_dev(),
            },
            Some(BuiltinCorruption::Masking(c)) => CorruptionRecord::Masking {
                probability: c.probability(),
            },
            Some(BuiltinCorruption::SaltAndPepper(c)) => CorruptionRecord::SaltAndPepper {
                probability: c.probability(),
            },
            Some(_) => CorruptionRecord::None,
            None => CorruptionRecord::Custom {
                name: model.corruption().name().to_owned(),
                hyper_parameters: hyper_parameters(model.corruption().hyper_parameters()),
            },
        };
        let (loss, loss_hyper_parameters) = match model.loss().builtin() {
            Some(loss) => (
                Loss::<E::Scalar>::name(&loss).to_owned(),
                hyper_parameters(Loss::<E::Scalar>::hyper_parameters(&loss)),
            ),
            None => (
                format!("{CUSTOM_LOSS_PREFIX}{}", model.loss().name()),
                hyper_parameters(model.loss().hyper_parameters()),
            ),
        };
        Self {
            loss,
            loss_hyper_parameters,
            regularizers,
            corruption,
        }
    }

    /// The first part that differs from `other`'s: its role, as saved, as found.
    pub(crate) fn first_difference(&self, other: &Self) -> Option<(&'static str, String, String)> {
        if (&self.loss, &self.loss_hyper_parameters) != (&other.loss, &other.loss_hyper_parameters)
        {
            return Some((
                "loss",
                text(&(&self.loss, &self.loss_hyper_parameters)),
                text(&(&other.loss, &other.loss_hyper_parameters)),
            ));
        }
        if self.regularizers != other.regularizers {
            return Some((
                "regularizer",
                text(&self.regularizers),
                text(&other.regularizers),
            ));
        }
        if self.corruption != other.corruption {
            return Some((
                "corruption",
                text(&self.corruption),
                text(&other.corruption),
            ));
        }
        None
    }
}

/// A record part as the JSON an error message quotes.
fn text<S: Serialize>(value: &S) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

impl ModelRecord {
    pub(crate) fn describe<T, R, C, L>(
        model: &Autoencoder<DenseEncoder<T>, DenseDecoder<T>, R, C, L>,
    ) -> Self
    where
        T: Scalar,
        R: Regularizer<T>,
        C: Corruption<T>,
        L: Loss<T>,
    {
        Self::describe_layers(model)
    }

    /// The record of any model whose encoder and decoder are the crate's dense layers (see
    /// [`Encoder::as_dense`](crate::Encoder::as_dense)); `None` for others.
    pub(crate) fn describe_any<E, D, R, C, L>(model: &Autoencoder<E, D, R, C, L>) -> Option<Self>
    where
        E: crate::Encoder,
        D: crate::Decoder<E::Scalar>,
        R: Regularizer<E::Scalar>,
        C: Corruption<E::Scalar>,
        L: Loss<E::Scalar>,
    {
        let dense = model.encoder().as_dense().is_some() && model.decoder().as_dense().is_some();
        dense.then(|| Self::describe_layers(model))
    }

    /// What the record says of a model with one layer each way.
    fn describe_layers<E, D, R, C, L>(model: &Autoencoder<E, D, R, C, L>) -> Self
    where
        E: crate::Encoder,
        D: crate::Decoder<E::Scalar>,
        R: Regularizer<E::Scalar>,
        C: Corruption<E::Scalar>,
        L: Loss<E::Scalar>,
    {
        let PartsRecord {
            loss,
            loss_hyper_parameters,
            regularizers,
            corruption,
        } = PartsRecord::of(model);
        let architecture = model.architecture();
        Self {
            format_version: FORMAT_VERSION,
            crc32: String::new(),
            dtype: E::Scalar::NAME.to_owned(),
            input_dim: architecture.input_dim,
            code_dim: architecture.code_dim,
            encoder_activation: architecture.encoder_activation.name().to_owned(),
            decoder_activation: architecture.decoder_activation.name().to_owned(),
            tied: architecture.tied,
            loss,
            loss_hyper_parameters,
            regularizers,
            corruption,
        }
    }

    pub(crate) fn to_json(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The `crc32` field of the metadata JSON, read before the rest is validated.
    pub(crate) fn checksum_field(json: &str) -> std::result::Result<String, ModelFileProblem> {
        /// Only the checksum, every other field skipped without building it.
        #[derive(Deserialize)]
        struct Checksum {
            crc32: Option<serde_json::Value>,
        }
        let value: Checksum = serde_json::from_str(json).map_err(|e| invalid(e.to_string()))?;
        match value.crc32.as_ref().and_then(|v| v.as_str()) {
            Some(hex) => Ok(hex.to_owned()),
            None => Err(ModelFileProblem::MissingChecksum),
        }
    }

    pub(crate) fn from_json(json: &str) -> std::result::Result<Self, ModelFileProblem> {
        let record: Self = serde_json::from_str(json).map_err(|e| invalid(e.to_string()))?;
        if record.format_version != FORMAT_VERSION {
            return Err(invalid(format!(
                "format_version {} is not {FORMAT_VERSION}",
                record.format_version
            )));
        }
        // Zero sizes would fail later as `Error::ZeroDimension`, without naming the file.
        for (name, size) in [
            ("input_dim", record.input_dim),
            ("code_dim", record.code_dim),
        ] {
            if size == 0 {
                return Err(invalid(format!("{name} is 0")));
            }
        }
        if record.dtype != "f32" && record.dtype != "f64" {
            return Err(invalid(format!(
                "dtype `{}` is not f32 or f64",
                record.dtype
            )));
        }
        Ok(record)
    }

    fn activation(name: &str) -> std::result::Result<Activation, ModelFileProblem> {
        Activation::from_name(name).ok_or_else(|| invalid(format!("unknown activation `{name}`")))
    }

    pub(crate) fn encoder_activation(&self) -> std::result::Result<Activation, ModelFileProblem> {
        Self::activation(&self.encoder_activation)
    }

    pub(crate) fn decoder_activation(&self) -> std::result::Result<Activation, ModelFileProblem> {
        Self::activation(&self.decoder_activation)
    }

    pub(crate) fn loss(&self) -> std::result::Result<BuiltinLoss, ModelFileProblem> {
        builtin_loss(&self.loss, &self.loss_hyper_parameters)
    }

    pub(crate) fn regularizers(
        &self,
    ) -> std::result::Result<Vec<BuiltinRegularizer>, ModelFileProblem> {
        builtin_regularizers(&self.regularizers)
    }

    pub(crate) fn corruption(&self) -> std::result::Result<BuiltinCorruption, ModelFileProblem> {
        self.corruption.to_builtin()
    }
}

impl PartsRecord {
    /// The built-in loss recorded, or which user part the caller must supply.
    pub(crate) fn loss(&self) -> std::result::Result<BuiltinLoss, ModelFileProblem> {
        builtin_loss(&self.loss, &self.loss_hyper_parameters)
    }

    /// The built-in regularizers recorded, or which user part the caller must supply.
    pub(crate) fn regularizers(
        &self,
    ) -> std::result::Result<Vec<BuiltinRegularizer>, ModelFileProblem> {
        builtin_regularizers(&self.regularizers)
    }

    /// The built-in corruption recorded, or which user part the caller must supply.
    pub(crate) fn corruption(&self) -> std::result::Result<BuiltinCorruption, ModelFileProblem> {
        self.corruption.to_builtin()
    }
}

/// The name of the built-in correntropy loss in a record.
const CORRENTROPY: &str = "correntropy";

/// A record's loss name as read: files written before correntropy was a built-in loss record
/// it as a user's (`custom:correntropy`, with the same `sigma`), and load as it now saves.
fn loss_name<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<String, D::Error> {
    let name = String::deserialize(deserializer)?;
    Ok(match name.strip_prefix(CUSTOM_LOSS_PREFIX) {
        Some(CORRENTROPY) => CORRENTROPY.to_owned(),
        _ => name,
    })
}

fn builtin_loss(
    name: &str,
    hyper_parameters: &HyperParameters,
) -> std::result::Result<BuiltinLoss, ModelFileProblem> {
    if let Some(name) = name.strip_prefix(CUSTOM_LOSS_PREFIX) {
        return Err(ModelFileProblem::CustomComponent {
            component: "loss",
            name: name.to_owned(),
        });
    }
    if name == CORRENTROPY {
        let [(key, value)] = hyper_parameters.as_slice() else {
            return Err(invalid(format!(
                "the correntropy loss has {} hyper-parameters, not one (`sigma`)",
                hyper_parameters.len()
            )));
        };
        let sigma = (key == "sigma")
            .then(|| value.parse::<f64>().ok())
            .flatten()
            .ok_or_else(|| invalid(format!("the correntropy loss's `{key}` = `{value}`")))?;
        return Correntropy::new(sigma)
            .map(BuiltinLoss::from)
            .map_err(|e| invalid(format!("the correntropy loss: {e}")));
    }
    let loss = ReconstructionLoss::from_name(name)
        .ok_or_else(|| invalid(format!("unknown loss `{name}`")))?;
    if !hyper_parameters.is_empty() {
        return Err(invalid(format!(
            "the {name} loss has no hyper-parameters, the record lists {}",
            hyper_parameters.len()
        )));
    }
    Ok(loss.into())
}

fn builtin_regularizers(
    records: &[RegularizerRecord],
) -> std::result::Result<Vec<BuiltinRegularizer>, ModelFileProblem> {
    records.iter().map(RegularizerRecord::to_builtin).collect()
}
