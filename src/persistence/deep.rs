//! Deep autoencoders of the crate's dense layers — what pretraining unrolls — saved and loaded
//! with their whole architecture.
//!
//! The file is a parameters file (see [`save_parameters`](crate::Autoencoder::save_parameters))
//! whose record also lists each layer's activation, so that
//! [`DeepAutoencoder::load`] rebuilds the model without the caller building it, and
//! [`load_parameters`](crate::Autoencoder::load_parameters) still loads it into one that is.

use super::checkpoint::ReportRecord;
use super::parameters::{ArchitectureRecord, List, parameters_record};
use super::pretraining::{stop_reason, stop_reason_name};
use super::record::PartsRecord;
use super::{ModelFileProblem, TensorFile, read_file, write_atomically};
use crate::{
    Activation, Autoencoder, BuiltinCorruption, BuiltinLoss, BuiltinRegularizer, Corruption,
    Decoder, DenseDecoder, DenseEncoder, Encoder, Error, Loss, PretrainedStack, Regularizer,
    Result, Scalar, StackedDecoder, StackedEncoder,
};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The model type a saved deep autoencoder loads as: stacks of dense layers, with the
/// regularizers, corruption and loss chosen at run time.
pub type DeepAutoencoder<T> = Autoencoder<
    StackedEncoder<T>,
    StackedDecoder<T>,
    Vec<BuiltinRegularizer>,
    BuiltinCorruption,
    BuiltinLoss,
>;

impl<T, R, C, L> Autoencoder<StackedEncoder<T>, StackedDecoder<T>, R, C, L>
where
    T: Scalar,
    R: Regularizer<T>,
    C: Corruption<T>,
    L: Loss<T>,
{
    /// The model as the bytes of a safetensors file (see [`save`](Self::save)).
    ///
    /// # Errors
    /// None in practice; a model too large for the format gives [`Error::ModelFile`].
    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        let list = List::from(self);
        let names = |activations: Vec<Activation>| -> Vec<String> {
            activations.iter().map(|a| a.name().to_owned()).collect()
        };
        let record = list
            .record("autoencoder", Some(PartsRecord::of(self)))
            .with_architecture(ArchitectureRecord {
                encoder: names(
                    self.encoder
                        .layers()
                        .iter()
                        .map(|l| l.activation())
                        .collect(),
                ),
                decoder: names(
                    self.decoder
                        .layers()
                        .iter()
                        .map(|l| l.activation())
                        .collect(),
                ),
            });
        list.to_bytes(record)
    }

    /// Saves the deep autoencoder with its whole architecture — every layer's tensors, as
    /// [`save_parameters`](Self::save_parameters) names them (`encoder.0.weight`, …,
    /// `decoder.1.bias`), and every layer's activation, the loss, regularizers and corruption —
    /// crash-safely. [`DeepAutoencoder::load`] rebuilds it.
    ///
    /// ```
    /// use autoencoders::{DeepAutoencoder, L1Sparsity, LayerSpec, LayerwisePretrainer, TrainingConfig};
    /// use nalgebra::DMatrix;
    /// use rand::{SeedableRng, rngs::ChaCha8Rng};
    ///
    /// let x = DMatrix::<f64>::from_fn(32, 10, |i, j| ((i * 3 + j) % 7) as f64 / 7.0);
    /// let quick = TrainingConfig::default().with_epochs(2);
    /// let deep = LayerwisePretrainer::new()
    ///     .with_layer(LayerSpec::new(6).with_training(quick))
    ///     .with_layer(LayerSpec::new(3).with_tied(true).with_training(quick))
    ///     .pretrain(&x, &mut ChaCha8Rng::seed_from_u64(0))?
    ///     .deep_autoencoder()?
    ///     .with_regularizer(L1Sparsity::new(0.01)?);
    /// let path = std::env::temp_dir().join("autoencoders-doc-deep.safetensors");
    /// deep.save(&path)?;
    /// let loaded = DeepAutoencoder::<f64>::load(&path)?;
    /// assert_eq!(loaded.reconstruct(&x)?, deep.reconstruct(&x)?);
    /// assert_eq!(loaded.regularizer(), &vec![L1Sparsity::new(0.01)?.into()]);
    /// # std::fs::remove_file(path).ok();
    /// # Ok::<(), autoencoders::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`to_safetensors`](Self::to_safetensors); [`Error::Io`] when the file cannot be
    /// written (the old file, if any, is kept).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomically(path.as_ref(), &self.to_safetensors()?)
    }
}

impl<T: Scalar> DeepAutoencoder<T> {
    /// Loads a deep autoencoder saved by [`save`](Autoencoder::save), rebuilding its layers,
    /// loss, regularizers and corruption.
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::ModelFile`] for a damaged file, one of another dtype, one that
    /// records no architecture (a model of a user's parts: build it and
    /// [`load_parameters`](Autoencoder::load_parameters)), layers that do not fit together, or
    /// [`ModelFileProblem::CustomComponent`] naming a user's loss, regularizer or corruption
    /// the caller must supply.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let (bytes, name) = read_file(path.as_ref())?;
        Self::from_safetensors(&bytes, &name)
    }

    /// [`load`](Self::load) from bytes; `name` identifies them in errors.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn from_safetensors(bytes: &[u8], name: &str) -> Result<Self> {
        let file = TensorFile::parse(bytes, name, true)?;
        let invalid = |detail: String| file.fail(ModelFileProblem::InvalidMetadata { detail });
        let record = parameters_record::<T>(&file, file.metadata_json()?, "autoencoder")?
            .ok_or_else(|| invalid("not a deep autoencoder's file".to_owned()))?;
        let architecture = record.architecture.as_ref().ok_or_else(|| {
            invalid(
                "the file records no architecture: build the model and load its parameters"
                    .to_owned(),
            )
        })?;
        // Two tensors per layer: checked before any name is built, so that a record claiming
        // a million layers costs nothing.
        let layers = architecture.encoder.len() + architecture.decoder.len();
        if record.parameters.len() != 2 * layers {
            return Err(invalid(
                "the tensors listed do not match the layers of the architecture".to_owned(),
            ));
        }
        let expected: Vec<String> = [
            ("encoder", &architecture.encoder),
            ("decoder", &architecture.decoder),
        ]
        .iter()
        .flat_map(|(part, layers)| {
            (0..layers.len())
                .flat_map(move |l| [format!("{part}.{l}.weight"), format!("{part}.{l}.bias")])
        })
        .collect();
        let names: Vec<&String> = record.parameters.iter().map(|(n, _)| n).collect();
        if names.len() != expected.len() || names.iter().zip(&expected).any(|(a, b)| *a != b) {
            return Err(invalid(
                "the tensors listed do not match the layers of the architecture".to_owned(),
            ));
        }
        file.only(&expected)?;
        let activation = |name: &str| {
            Activation::from_name(name)
                .ok_or_else(|| invalid(format!("unknown activation `{name}`")))
        };
        let shapes = &record.parameters;
        // Each layer's weight `[rows, columns]` and bias `[rows]`.
        let layer = |index: usize| -> Result<(nalgebra::DMatrix<T>, nalgebra::DVector<T>)> {
            let (weight, shape) = &shapes[2 * index];
            let (bias, _) = &shapes[2 * index + 1];
            let &[rows, columns] = shape.as_slice() else {
                return Err(invalid(format!("`{weight}` is not two-dimensional")));
            };
            Ok((
                file.matrix(weight, rows, columns)?,
                file.vector(bias, rows)?,
            ))
        };
        let unfit = |e: Error| invalid(e.to_string());
        let encoders = architecture
            .encoder
            .iter()
            .enumerate()
            .map(|(l, a)| {
                let (w, b) = layer(l)?;
                DenseEncoder::from_parts(w, b, activation(a)?).map_err(unfit)
            })
            .collect::<Result<Vec<_>>>()?;
        let offset = architecture.encoder.len();
        let decoders = architecture
            .decoder
            .iter()
            .enumerate()
            .map(|(l, a)| {
                let (w, b) = layer(offset + l)?;
                let code_dim = w.ncols();
                DenseDecoder::from_parts(Some(w), b, activation(a)?, code_dim).map_err(unfit)
            })
            .collect::<Result<Vec<_>>>()?;
        let parts = record.parts.as_ref().ok_or_else(|| {
            invalid("the file records no loss, regularizers or corruption".to_owned())
        })?;
        let encoder = StackedEncoder::new(encoders).map_err(unfit)?;
        let decoder = StackedDecoder::new(decoders).map_err(unfit)?;
        let fail = |problem| file.fail(problem);
        Ok(Autoencoder::new(encoder, decoder)
            .map_err(unfit)?
            .with_loss(parts.loss().map_err(fail)?)
            .with_regularizer(parts.regularizers().map_err(fail)?)
            .with_corruption(parts.corruption().map_err(fail)?))
    }
}

/// The record key (section `pretrained` of the envelope) of a saved [`PretrainedStack`]'s own record: JSON with `format_version`,
/// `tied` (whether each layer's decoder was tied) and `histories` (each layer's `history` and
/// `stop_reason`).
pub const PRETRAINED_KEY: &str = "autoencoders.pretrained";

const PRETRAINED_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PretrainedRecord {
    format_version: u32,
    tied: Vec<bool>,
    histories: Vec<HistoryRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryRecord {
    history: Vec<ReportRecord>,
    stop_reason: String,
}

/// The tensor names of a pretrained stack of `tied` layers: each encoder's weight and bias,
/// then each decoder's weight (when untied) and bias.
fn pretrained_names(tied: &[bool]) -> Vec<String> {
    let layers = tied.len();
    let encoders =
        (0..layers).flat_map(|l| [format!("encoder.{l}.weight"), format!("encoder.{l}.bias")]);
    let decoders = tied.iter().enumerate().flat_map(|(l, &tied)| {
        (!tied)
            .then(|| format!("decoders.{l}.weight"))
            .into_iter()
            .chain(std::iter::once(format!("decoders.{l}.bias")))
    });
    encoders.chain(decoders).collect()
}

impl<T: Scalar> PretrainedStack<T> {
    /// The stack as the bytes of a safetensors file (see [`save`](Self::save)).
    ///
    /// # Errors
    /// None in practice; a stack too large for the format gives [`Error::ModelFile`].
    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        let tied: Vec<bool> = self.decoders.iter().map(|d| d.is_tied()).collect();
        let names = pretrained_names(&tied);
        let mut shapes = self.encoder.parameter_shapes();
        let mut values = self.encoder.parameters();
        for decoder in &self.decoders {
            shapes.extend(decoder.parameter_shapes());
            values.extend(decoder.parameters());
        }
        let list = List {
            names,
            shapes,
            values,
        };
        let activations = |a: Vec<Activation>| a.iter().map(|a| a.name().to_owned()).collect();
        let record = list
            .record("pretrained-stack", None)
            .with_architecture(ArchitectureRecord {
                encoder: activations(
                    self.encoder
                        .layers()
                        .iter()
                        .map(|l| l.activation())
                        .collect(),
                ),
                decoder: activations(self.decoders.iter().map(|d| d.activation()).collect()),
            });
        let pretrained = PretrainedRecord {
            format_version: PRETRAINED_VERSION,
            tied,
            histories: self
                .histories
                .iter()
                .map(|h| HistoryRecord {
                    history: h.epochs.iter().map(ReportRecord::of).collect(),
                    stop_reason: stop_reason_name(h.stop_reason).to_owned(),
                })
                .collect(),
        };
        list.to_bytes_with(
            record,
            vec![(
                PRETRAINED_KEY.to_owned(),
                serde_json::to_string(&pretrained).unwrap_or_default(),
            )],
        )
    }

    /// Saves the stack — its encoders, the decoder each layer was trained with (a tied one
    /// only its bias), every activation and every layer's training history — crash-safely;
    /// [`load`](Self::load) rebuilds it.
    ///
    /// ```
    /// use autoencoders::{LayerSpec, LayerwisePretrainer, PretrainedStack, TrainingConfig};
    /// use nalgebra::DMatrix;
    /// use rand::{SeedableRng, rngs::ChaCha8Rng};
    ///
    /// let x = DMatrix::<f32>::from_fn(32, 10, |i, j| ((i * 3 + j) % 7) as f32 / 7.0);
    /// let quick = TrainingConfig::default().with_epochs(2);
    /// let stack = LayerwisePretrainer::new()
    ///     .with_layer(LayerSpec::new(6).with_training(quick))
    ///     .with_layer(LayerSpec::new(3).with_tied(true).with_training(quick))
    ///     .pretrain(&x, &mut ChaCha8Rng::seed_from_u64(0))?;
    /// let path = std::env::temp_dir().join("autoencoders-doc-stack.safetensors");
    /// stack.save(&path)?;
    /// let loaded = PretrainedStack::<f32>::load(&path)?;
    /// assert_eq!(loaded.encoder, stack.encoder);
    /// assert_eq!(loaded.decoders, stack.decoders);
    /// assert_eq!(loaded.histories, stack.histories);
    /// # std::fs::remove_file(path).ok();
    /// # Ok::<(), autoencoders::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`to_safetensors`](Self::to_safetensors); [`Error::Io`] when the file cannot be
    /// written (the old file, if any, is kept).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomically(path.as_ref(), &self.to_safetensors()?)
    }

    /// Loads a stack saved by [`save`](Self::save).
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::ModelFile`] for a damaged file, one of another dtype or kind, or
    /// layers that do not fit together.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let (bytes, name) = read_file(path.as_ref())?;
        Self::from_safetensors(&bytes, &name)
    }

    /// [`load`](Self::load) from bytes; `name` identifies them in errors.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn from_safetensors(bytes: &[u8], name: &str) -> Result<Self> {
        let file = TensorFile::parse(bytes, name, true)?;
        let invalid = |detail: String| file.fail(ModelFileProblem::InvalidMetadata { detail });
        let record = parameters_record::<T>(&file, file.metadata_json()?, "pretrained-stack")?
            .ok_or_else(|| invalid("not a pretrained stack's file".to_owned()))?;
        let architecture = record
            .architecture
            .as_ref()
            .ok_or_else(|| invalid("the file records no architecture".to_owned()))?;
        let json = file
            .metadata(PRETRAINED_KEY)
            .ok_or_else(|| invalid(format!("no `{PRETRAINED_KEY}` record")))?;
        let pretrained: PretrainedRecord =
            serde_json::from_str(json).map_err(|e| invalid(e.to_string()))?;
        if pretrained.format_version != PRETRAINED_VERSION {
            return Err(invalid(format!(
                "pretrained format_version {} is not {PRETRAINED_VERSION}",
                pretrained.format_version
            )));
        }
        let layers = pretrained.tied.len();
        if [
            architecture.encoder.len(),
            architecture.decoder.len(),
            pretrained.histories.len(),
        ]
        .iter()
        .any(|&n| n != layers)
        {
            return Err(invalid(
                "the layers, decoders and histories recorded differ in number".to_owned(),
            ));
        }
        // Checked before any name is made, so that a long list costs nothing.
        let untied = pretrained.tied.iter().filter(|&&t| !t).count();
        if record.parameters.len() != 3 * layers + untied {
            return Err(invalid(
                "the tensors listed do not match the layers recorded".to_owned(),
            ));
        }
        let expected = pretrained_names(&pretrained.tied);
        if record
            .parameters
            .iter()
            .zip(&expected)
            .any(|((n, _), e)| n != e)
        {
            return Err(invalid(
                "the tensors listed do not match the layers recorded".to_owned(),
            ));
        }
        file.only(&expected)?;
        let activation = |name: &str| {
            Activation::from_name(name)
                .ok_or_else(|| invalid(format!("unknown activation `{name}`")))
        };
        let mut shapes = record.parameters.iter();
        let mut next = |two_dimensional: bool| -> Result<(&String, &Vec<usize>)> {
            let (name, shape) = shapes
                .next()
                .ok_or_else(|| invalid("too few tensors listed".to_owned()))?;
            if shape.len() != if two_dimensional { 2 } else { 1 } {
                return Err(invalid(format!(
                    "`{name}` has the wrong number of dimensions"
                )));
            }
            Ok((name, shape))
        };
        let unfit = |e: Error| invalid(e.to_string());
        let mut encoders = Vec::with_capacity(layers);
        for a in &architecture.encoder {
            let (weight, shape) = next(true)?;
            let (bias, _) = next(false)?;
            encoders.push(
                DenseEncoder::from_parts(
                    file.matrix(weight, shape[0], shape[1])?,
                    file.vector(bias, shape[0])?,
                    activation(a)?,
                )
                .map_err(unfit)?,
            );
        }
        let mut decoders = Vec::with_capacity(layers);
        for ((a, &tied), encoder) in architecture
            .decoder
            .iter()
            .zip(&pretrained.tied)
            .zip(&encoders)
        {
            let weights = if tied {
                None
            } else {
                let (weight, shape) = next(true)?;
                Some(file.matrix(weight, shape[0], shape[1])?)
            };
            let (bias, shape) = next(false)?;
            let decoder = DenseDecoder::from_parts(
                weights,
                file.vector(bias, shape[0])?,
                activation(a)?,
                encoder.code_dim(),
            )
            .map_err(unfit)?;
            if decoder.output_dim() != encoder.input_dim() {
                return Err(invalid(format!(
                    "a decoder of {} outputs for a layer of {} inputs",
                    decoder.output_dim(),
                    encoder.input_dim()
                )));
            }
            decoders.push(decoder);
        }
        let histories = pretrained
            .histories
            .iter()
            .map(|h| {
                let reason = stop_reason(&h.stop_reason).map_err(|p| file.fail(p))?;
                ReportRecord::history(&h.history, reason).map_err(|p| file.fail(p))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(PretrainedStack {
            encoder: StackedEncoder::new(encoders).map_err(unfit)?,
            decoders,
            histories,
        })
    }
}
