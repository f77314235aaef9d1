//! Anomaly detectors saved with their threshold, training scores and scaler.
//!
//! A detector's file is its model's file (the tensors and the `autoencoders` record, as
//! [`Autoencoder::save`] writes them) with one more section in its metadata, `detector`
//! ([`DETECTOR_KEY`]), holding the detector as JSON: `format_version` (1), `threshold`, `training_scores` (the scores of
//! the data it was fitted on, in order) and `scaler` (`null`, or the fitted scaler: `kind`
//! `identity` or `bytes` with `input_dim`, `min-max` with `minimum` and `maximum`, `standard`
//! with `mean` and `std_dev`). The whole-file checksum covers it, so an edited threshold is
//! refused like an edited weight.

use super::{DynamicAutoencoder, METADATA_KEY, ModelRecord, TensorFile, model_error, read_file};
use super::{serialize, write_atomically};
use crate::anomaly::AnomalyDetector;
use crate::data::{FittedScaler, Scaler};
use crate::file_problem::ModelFileProblem;
use crate::{
    Autoencoder, Corruption, DenseDecoder, DenseEncoder, Error, Loss, Regularizer, Result, Scalar,
};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The record key of a saved detector's threshold, training scores and scaler: the section
/// `detector` of the metadata's envelope (a metadata key of its own in older files).
///
/// A detector's file is its model's file (the tensors and the model record, as
/// [`Autoencoder::save`] writes them) with this record too, holding the detector as JSON:
/// `format_version` (1), `threshold`, `training_scores` (the scores of the data it was fitted
/// on, in order) and `scaler` (`null`, or the fitted scaler: `kind` `identity` or `bytes` with
/// `input_dim`, `min-max` with `minimum` and `maximum`, `standard` with `mean` and `std_dev`).
/// The whole-file checksum covers it, so an edited threshold is refused like an edited weight.
pub const DETECTOR_KEY: &str = "autoencoders.detector";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DetectorRecord {
    format_version: u32,
    threshold: f64,
    training_scores: Vec<f64>,
    scaler: Option<ScalerRecord>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum ScalerRecord {
    Identity {
        input_dim: usize,
    },
    Bytes {
        input_dim: usize,
    },
    MinMax {
        minimum: Vec<f64>,
        maximum: Vec<f64>,
    },
    Standard {
        mean: Vec<f64>,
        std_dev: Vec<f64>,
    },
}

impl ScalerRecord {
    fn of(scaler: &FittedScaler) -> Self {
        let d = scaler.input_dim();
        match scaler.scaler() {
            Scaler::Bytes => ScalerRecord::Bytes { input_dim: d },
            Scaler::MinMax => ScalerRecord::MinMax {
                minimum: scaler.minimum().unwrap_or_default().to_vec(),
                maximum: scaler.maximum().unwrap_or_default().to_vec(),
            },
            Scaler::Standard => ScalerRecord::Standard {
                mean: scaler.mean().unwrap_or_default().to_vec(),
                std_dev: scaler.std_dev().unwrap_or_default().to_vec(),
            },
            _ => ScalerRecord::Identity { input_dim: d },
        }
    }

    fn fitted(self) -> Result<FittedScaler> {
        match self {
            ScalerRecord::Identity { input_dim } => Ok(FittedScaler::identity(input_dim)),
            ScalerRecord::Bytes { input_dim } => Ok(FittedScaler::bytes(input_dim)),
            ScalerRecord::MinMax { minimum, maximum } => FittedScaler::min_max(minimum, maximum),
            ScalerRecord::Standard { mean, std_dev } => FittedScaler::standard(mean, std_dev),
        }
    }
}

impl<T, R, C, L> AnomalyDetector<Autoencoder<DenseEncoder<T>, DenseDecoder<T>, R, C, L>>
where
    T: Scalar,
    R: Regularizer<T>,
    C: Corruption<T>,
    L: Loss<T>,
{
    /// The detector as the bytes of a safetensors file (see [`DETECTOR_KEY`]), with
    /// `scaler`, the scaling its data go through, if any.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] for a scaler of another width than the model's input;
    /// [`Error::ModelFile`] for a model whose parts the file format cannot describe.
    pub fn to_safetensors(&self, scaler: Option<&FittedScaler>) -> Result<Vec<u8>> {
        let model = self.scorer();
        if let Some(s) = scaler
            && s.input_dim() != model.input_dim()
        {
            return Err(Error::DimensionMismatch {
                what: "features of the detector's scaler",
                expected: model.input_dim(),
                found: s.input_dim(),
            });
        }
        let record = DetectorRecord {
            format_version: 1,
            threshold: self.threshold(),
            training_scores: self.training_scores().to_vec(),
            scaler: scaler.map(ScalerRecord::of),
        };
        let json = serde_json::to_string(&record).map_err(|e| {
            model_error(
                "<memory>",
                ModelFileProblem::InvalidMetadata {
                    detail: format!("cannot write the detector: {e}"),
                },
            )
        })?;
        serialize::<T>(
            model.layer_tensors(),
            ModelRecord::describe::<T, R, C, L>(model),
            vec![(DETECTOR_KEY.to_owned(), json)],
            "<memory>",
        )
    }

    /// Saves the detector and `scaler` to `path`, crash-safely (the file at `path` is either the
    /// old one or the complete new one). [`AnomalyDetector::load`] reads it back; the file is
    /// also a model file ([`DynamicAutoencoder::load`] reads the model).
    ///
    /// ```
    /// use autoencoders::anomaly::{AnomalyDetector, Threshold};
    /// use autoencoders::data::Scaler;
    /// use autoencoders::{DenseBuilder, DynamicAutoencoder};
    /// use autoencoders::rand::{SeedableRng, rngs::ChaCha8Rng};
    /// use nalgebra::DMatrix;
    ///
    /// let raw = DMatrix::from_fn(50, 4, |i, j| ((i * 3 + j) % 7) as f64);
    /// let scaler = Scaler::MinMax.fit(&raw)?;
    /// let x = scaler.transform(&raw)?;
    /// let model: DynamicAutoencoder<f64> = DenseBuilder::new(4, 2)
    ///     .build::<f64, _>(&mut ChaCha8Rng::seed_from_u64(0))?
    ///     .with_regularizer(vec![])
    ///     .with_corruption(Default::default())
    ///     .with_loss(Default::default());
    /// let detector = AnomalyDetector::fit(model, &x, Threshold::Contamination(0.1))?;
    /// let path = std::env::temp_dir().join("autoencoders-doc-detector.safetensors");
    /// detector.save(&path, Some(&scaler))?;
    ///
    /// let (loaded, loaded_scaler) = AnomalyDetector::<DynamicAutoencoder<f64>>::load(&path)?;
    /// assert_eq!(loaded.threshold(), detector.threshold());
    /// assert_eq!(loaded_scaler, Some(scaler));
    /// assert_eq!(loaded.predict(&x)?, detector.predict(&x)?);
    /// # std::fs::remove_file(path).ok();
    /// # Ok::<(), autoencoders::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`to_safetensors`](Self::to_safetensors); [`Error::Io`] when the file cannot be
    /// written (the old file, if any, is kept).
    pub fn save(&self, path: impl AsRef<Path>, scaler: Option<&FittedScaler>) -> Result<()> {
        write_atomically(path.as_ref(), &self.to_safetensors(scaler)?)
    }
}

impl<T: Scalar> AnomalyDetector<DynamicAutoencoder<T>> {
    /// Loads a detector saved by [`save`](AnomalyDetector::save): the model, its threshold,
    /// its training scores, and the scaler saved with it.
    ///
    /// # Errors
    /// As [`DynamicAutoencoder::load`]; [`Error::ModelFile`] with
    /// [`ModelFileProblem::InvalidMetadata`] for a model file that holds no detector, or a
    /// detector record that is malformed (a threshold or score that is not finite, a scaler
    /// that is invalid or of another width than the model's input).
    pub fn load(path: impl AsRef<Path>) -> Result<(Self, Option<FittedScaler>)> {
        let (bytes, name) = read_file(path.as_ref())?;
        Self::from_safetensors(&bytes, &name)
    }

    /// [`load`](Self::load) from bytes; `name` identifies them in errors.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn from_safetensors(bytes: &[u8], name: &str) -> Result<(Self, Option<FittedScaler>)> {
        let model = DynamicAutoencoder::<T>::from_safetensors(bytes, name)?;
        let file = TensorFile::parse(bytes, name, true)?;
        let invalid = |detail: String| file.fail(ModelFileProblem::InvalidMetadata { detail });
        let json = file.metadata(DETECTOR_KEY).ok_or_else(|| {
            invalid(format!(
                "a model file without a detector (no `{DETECTOR_KEY}` key beside `{METADATA_KEY}`)"
            ))
        })?;
        let record: DetectorRecord =
            serde_json::from_str(json).map_err(|e| invalid(format!("the detector record: {e}")))?;
        if record.format_version != 1 {
            return Err(invalid(format!(
                "detector format_version {} (this crate reads 1)",
                record.format_version
            )));
        }
        if !record.threshold.is_finite() || !record.training_scores.iter().all(|s| s.is_finite()) {
            return Err(invalid(
                "a threshold or training score that is not finite".into(),
            ));
        }
        let scaler = match record.scaler {
            None => None,
            Some(s) => {
                let fitted = s
                    .fitted()
                    .map_err(|e| invalid(format!("the detector's scaler: {e}")))?;
                if fitted.input_dim() != model.input_dim() {
                    return Err(invalid(format!(
                        "the detector's scaler scales {} features, the model takes {}",
                        fitted.input_dim(),
                        model.input_dim()
                    )));
                }
                Some(fitted)
            }
        };
        Ok((
            AnomalyDetector::from_parts(model, record.threshold, record.training_scores),
            scaler,
        ))
    }
}
