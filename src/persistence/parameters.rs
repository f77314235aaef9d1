//! The parameters of any model — the crate's layers at any depth, or a user's own — saved by
//! their PyTorch-style names and loaded into a model the caller builds.
//!
//! The file is safetensors, like every file of the crate: one tensor per entry of the model's
//! parameter list (`encoder.0.weight`, `decoder.bias`, `head.weight`, …) with the shape its
//! part gives ([`Encoder::parameter_shapes`](crate::Encoder::parameter_shapes)), row-major,
//! and under the metadata key [`METADATA_KEY`](super::METADATA_KEY) a record of what it holds:
//! `kind: "parameters"`, the model (`autoencoder` or `classifier`), the dtype, and for an
//! autoencoder its loss, regularizers and corruption with their hyper-parameters, so that
//! loading into a model built with other parts is refused, naming the part.

use super::record::PartsRecord;
use super::{ModelFileProblem, TensorFile, dtype_of, read_file, serialize_with, write_atomically};
use crate::{
    Autoencoder, Classifier, Corruption, Decoder, Encoder, Error, Likelihood, Loss, Regularizer,
    Result, Scalar, Vae, VaeObjective,
};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A tensor as a file holds it: name, row-major shape, little-endian bytes.
pub(crate) type TensorBytes = (String, Vec<usize>, Vec<u8>);

/// The `kind` of a parameters file's record.
const KIND: &str = "parameters";
const FORMAT_VERSION: u32 = 1;

/// The record of a parameters file (and of a checkpoint of a model that is not one dense layer
/// each way).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ParametersRecord {
    format_version: u32,
    pub(crate) crc32: String,
    kind: String,
    /// `"autoencoder"` or `"classifier"`.
    pub(crate) model: String,
    dtype: String,
    /// Each tensor's name and row-major shape, in the model's parameter order.
    pub(crate) parameters: Vec<(String, Vec<usize>)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) parts: Option<PartsRecord>,
    /// A classifier's settings (`frozen`, `weight_decay`), as text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) settings: Vec<(String, String)>,
    /// For a model of the crate's dense layers at any depth, their activations, from which
    /// loading rebuilds it without the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) architecture: Option<ArchitectureRecord>,
}

/// The activations of a deep dense autoencoder's layers: the encoder's bottom first, the
/// decoder's from the code outwards.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ArchitectureRecord {
    pub(crate) encoder: Vec<String>,
    pub(crate) decoder: Vec<String>,
}

impl ParametersRecord {
    /// The record with the activations of a deep dense model's layers.
    pub(crate) fn with_architecture(self, architecture: ArchitectureRecord) -> Self {
        Self {
            architecture: Some(architecture),
            ..self
        }
    }

    /// The record with the checksum of the data section filled in.
    pub(crate) fn with_crc32(self, crc32: String) -> Self {
        Self { crc32, ..self }
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The length of a record's `parameters` list, counted without building its entries.
#[derive(Deserialize)]
struct ListLength {
    #[serde(default)]
    parameters: Length,
}

/// The number of entries of a JSON list or object, counted without building them.
#[derive(Default)]
pub(crate) struct Length(pub(crate) usize);

impl<'de> Deserialize<'de> for Length {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        struct Counter;
        impl<'de> serde::de::Visitor<'de> for Counter {
            type Value = usize;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list or an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<usize, A::Error> {
                let mut n = 0;
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {
                    n += 1;
                }
                Ok(n)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<usize, A::Error> {
                let mut n = 0;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(n)
            }
        }
        deserializer.deserialize_any(Counter).map(Length)
    }
}

/// A model's parameter list: names, shapes, column-major values.
pub(crate) struct List<'a, T> {
    pub(crate) names: Vec<String>,
    pub(crate) shapes: Vec<Vec<usize>>,
    pub(crate) values: Vec<&'a [T]>,
}

impl<'a, E, D, R, C, L> From<&'a Autoencoder<E, D, R, C, L>> for List<'a, E::Scalar>
where
    E: Encoder,
    D: Decoder<E::Scalar>,
    R: Regularizer<E::Scalar>,
    C: Corruption<E::Scalar>,
    L: Loss<E::Scalar>,
{
    fn from(model: &'a Autoencoder<E, D, R, C, L>) -> Self {
        List {
            names: model.parameter_names(),
            shapes: model.parameter_shapes(),
            values: model.parameters(),
        }
    }
}

impl<T: Scalar> List<'_, T> {
    /// Checks that the list is consistent: one name and one shape per tensor, shapes that
    /// hold exactly the tensor's values, no name twice.
    fn check(&self) -> Result<()> {
        for (what, found) in [
            (
                "names of the model's tensors (one per tensor)",
                self.names.len(),
            ),
            (
                "shapes of the model's tensors (one per tensor)",
                self.shapes.len(),
            ),
        ] {
            if found != self.values.len() {
                return Err(Error::DimensionMismatch {
                    what,
                    expected: self.values.len(),
                    found,
                });
            }
        }
        for (shape, values) in self.shapes.iter().zip(&self.values) {
            let size = shape
                .iter()
                .try_fold(1usize, |size, &d| size.checked_mul(d))
                .unwrap_or(usize::MAX);
            if size != values.len() || shape.is_empty() {
                return Err(Error::DimensionMismatch {
                    what: "values of a tensor (the product of its shape)",
                    expected: size,
                    found: values.len(),
                });
            }
        }
        let mut sorted: Vec<&String> = self.names.iter().collect();
        sorted.sort();
        if let Some(pair) = sorted.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(super::model_error(
                "<memory>",
                ModelFileProblem::DuplicateKey {
                    key: pair[0].clone(),
                },
            ));
        }
        Ok(())
    }

    /// The record of a file of these tensors.
    pub(crate) fn record(&self, model: &str, parts: Option<PartsRecord>) -> ParametersRecord {
        ParametersRecord {
            format_version: FORMAT_VERSION,
            crc32: String::new(),
            kind: KIND.to_owned(),
            model: model.to_owned(),
            dtype: T::NAME.to_owned(),
            parameters: self
                .names
                .iter()
                .cloned()
                .zip(self.shapes.iter().cloned())
                .collect(),
            parts,
            settings: Vec::new(),
            architecture: None,
        }
    }

    /// The file's bytes.
    pub(crate) fn to_bytes(&self, record: ParametersRecord) -> Result<Vec<u8>> {
        self.to_bytes_with(record, Vec::new())
    }

    /// [`to_bytes`](Self::to_bytes) with more metadata entries.
    pub(crate) fn to_bytes_with(
        &self,
        record: ParametersRecord,
        metadata: Vec<(String, String)>,
    ) -> Result<Vec<u8>> {
        serialize_with(
            self.tensors()?,
            |crc32| record.with_crc32(crc32).to_json(),
            metadata,
            dtype_of::<T>(),
            "<memory>",
        )
    }

    /// The tensors as a file holds them (name, row-major shape, bytes), once checked.
    pub(crate) fn tensors(&self) -> Result<Vec<TensorBytes>> {
        self.check()?;
        Ok(self
            .names
            .iter()
            .zip(&self.shapes)
            .zip(&self.values)
            .map(|((name, shape), values)| {
                let mut bytes = Vec::with_capacity(std::mem::size_of_val(*values));
                for &v in row_major(shape, values).iter() {
                    v.push_le_bytes(&mut bytes);
                }
                (name.clone(), shape.clone(), bytes)
            })
            .collect())
    }
}

/// A tensor's values in row-major order: a two-dimensional tensor transposed from nalgebra's
/// column-major layout, any other as it is.
fn row_major<T: Scalar>(shape: &[usize], values: &[T]) -> Vec<T> {
    match shape {
        &[rows, cols] => (0..rows)
            .flat_map(|r| (0..cols).map(move |c| values[r + c * rows]))
            .collect(),
        _ => values.to_vec(),
    }
}

/// The inverse of [`row_major`].
pub(crate) fn column_major<T: Scalar>(shape: &[usize], values: Vec<T>) -> Vec<T> {
    match shape {
        &[rows, cols] => (0..cols)
            .flat_map(|c| (0..rows).map(move |r| (r, c)))
            .map(|(r, c)| values[r * cols + c])
            .collect(),
        _ => values,
    }
}

/// Reads the tensors `names` with `shapes` from a parameters file (or any safetensors file
/// with those names: one saved by PyTorch, or by [`Autoencoder::save`]), column-major.
///
/// A parameters record, when there is one, must be for `model` and the dtype `T`, and its
/// parts must be `parts`.
fn read<T: Scalar>(
    bytes: &[u8],
    file_name: &str,
    model: &str,
    parts: Option<&PartsRecord>,
    names: &[String],
    shapes: &[Vec<usize>],
) -> Result<Vec<Vec<T>>> {
    let file = TensorFile::parse(bytes, file_name, false)?;
    if let Ok(json) = file.metadata_json() {
        check_record::<T>(&file, json, model, parts)?;
    }
    file.only(names)?;
    names
        .iter()
        .zip(shapes)
        .map(|(name, shape)| Ok(column_major(shape, file.values::<T>(name, shape)?)))
        .collect()
}

/// Checks a parameters record against the model it is loaded into; other records (of a
/// whole one-layer model, a stack) say nothing the tensors do not.
fn check_record<T: Scalar>(
    file: &TensorFile<'_>,
    json: &str,
    model: &str,
    parts: Option<&PartsRecord>,
) -> Result<()> {
    let Some(record) = parameters_record::<T>(file, json, model)? else {
        return Ok(());
    };
    if let (Some(saved), Some(found)) = (&record.parts, parts)
        && let Some((part, saved, found)) = saved.first_difference(found)
    {
        return Err(file.fail(ModelFileProblem::PartMismatch { part, saved, found }));
    }
    Ok(())
}

/// The parameters record in `json`, checked to be of this version, for `model` and of dtype
/// `T`, in a file with the whole-file checksum; `None` for another kind of record.
pub(crate) fn parameters_record<T: Scalar>(
    file: &TensorFile<'_>,
    json: &str,
    model: &str,
) -> Result<Option<ParametersRecord>> {
    let invalid = |detail: String| file.fail(ModelFileProblem::InvalidMetadata { detail });
    /// Only the kind, every other field skipped without building it.
    #[derive(Deserialize)]
    struct Kind {
        kind: Option<String>,
    }
    let kind: Kind = serde_json::from_str(json).map_err(|e| invalid(e.to_string()))?;
    if kind.kind.as_deref() != Some(KIND) {
        return Ok(None);
    }
    // A list of more tensors than the file holds is refused before it is built.
    let listed: ListLength = serde_json::from_str(json).map_err(|e| invalid(e.to_string()))?;
    if listed.parameters.0 > file.tensor_count() {
        return Err(invalid(format!(
            "the record lists {} tensors, the file holds {}",
            listed.parameters.0,
            file.tensor_count()
        )));
    }
    // Parameters files were never written without the whole-file checksum: one without it has
    // had that key's name damaged, which would leave the header unchecked.
    if file.metadata(super::WHOLE_FILE_KEY).is_none() {
        return Err(file.fail(ModelFileProblem::MissingChecksum));
    }
    let record: ParametersRecord =
        serde_json::from_str(json).map_err(|e| invalid(e.to_string()))?;
    if record.format_version != FORMAT_VERSION {
        return Err(invalid(format!(
            "format_version {} is not {FORMAT_VERSION}",
            record.format_version
        )));
    }
    if record.model != model {
        return Err(invalid(format!(
            "the parameters of a `{}`, loaded into a `{model}`",
            record.model
        )));
    }
    if record.dtype != T::NAME {
        return Err(file.fail(ModelFileProblem::WrongDtype {
            tensor: "(model)".to_owned(),
            expected: T::NAME,
            found: record.dtype,
        }));
    }
    Ok(Some(record))
}

/// Copies `values` into the model's parameter slices.
pub(crate) fn assign<T: Scalar>(targets: Vec<&mut [T]>, values: Vec<Vec<T>>) {
    for (target, values) in targets.into_iter().zip(values) {
        target.copy_from_slice(&values);
    }
}

impl<E, D, R, C, L> Autoencoder<E, D, R, C, L>
where
    E: Encoder,
    D: Decoder<E::Scalar>,
    R: Regularizer<E::Scalar>,
    C: Corruption<E::Scalar>,
    L: Loss<E::Scalar>,
{
    fn list(&self) -> List<'_, E::Scalar> {
        List::from(self)
    }

    /// The model's parameters as the bytes of a safetensors file (see
    /// [`save_parameters`](Self::save_parameters)).
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] when a part's [`parameter_shapes`](Encoder::parameter_shapes)
    /// or names do not fit its parameters; [`Error::ModelFile`] with
    /// [`ModelFileProblem::DuplicateKey`] for a name used twice.
    pub fn parameters_to_safetensors(&self) -> Result<Vec<u8>> {
        let list = self.list();
        list.to_bytes(list.record("autoencoder", Some(PartsRecord::of(self))))
    }

    /// Saves every parameter of the model, whatever its encoder and decoder (deep, stacked, a
    /// user's own), by the names of [`parameter_names`](Self::parameter_names) with the shapes
    /// of [`parameter_shapes`](Self::parameter_shapes), and a record of its loss, regularizers
    /// and corruption; crash-safely, as [`save`](Self::save). Load it with
    /// [`load_parameters`](Self::load_parameters) into a model built the same way.
    ///
    /// ```
    /// use autoencoders::{Activation, Autoencoder, DenseDecoder, Init, StackedDecoder, StackedEncoder};
    /// use nalgebra::DMatrix;
    /// use rand::{SeedableRng, rngs::ChaCha8Rng};
    ///
    /// // 8 → 6 → 3 → 6 → 8.
    /// let build = |seed| -> autoencoders::Result<_> {
    ///     let mut rng = ChaCha8Rng::seed_from_u64(seed);
    ///     let encoder = StackedEncoder::<f64>::random(&[8, 6, 3], Activation::Tanh, Init::GlorotUniform, &mut rng)?;
    ///     let decoder = StackedDecoder::new(vec![
    ///         DenseDecoder::new(3, 6, Activation::Tanh, Init::GlorotUniform, &mut rng)?,
    ///         DenseDecoder::new(6, 8, Activation::Sigmoid, Init::GlorotUniform, &mut rng)?,
    ///     ])?;
    ///     Autoencoder::new(encoder, decoder)
    /// };
    /// let deep = build(0)?;
    /// let path = std::env::temp_dir().join("autoencoders-doc-parameters.safetensors");
    /// deep.save_parameters(&path)?;
    /// let mut other = build(1)?;
    /// other.load_parameters(&path)?;
    /// let x = DMatrix::from_element(2, 8, 0.5);
    /// assert_eq!(other.reconstruct(&x)?, deep.reconstruct(&x)?);
    /// # std::fs::remove_file(path).ok();
    /// # Ok::<(), autoencoders::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`parameters_to_safetensors`](Self::parameters_to_safetensors); [`Error::Io`] when
    /// the file cannot be written (the old file, if any, is kept).
    pub fn save_parameters(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomically(path.as_ref(), &self.parameters_to_safetensors()?)
    }

    /// Replaces every parameter by the tensor of the same name in a safetensors file: one
    /// written by [`save_parameters`](Self::save_parameters) or [`save`](Self::save), or by
    /// PyTorch with these names and `nn.Linear` layouts. The model's architecture, loss,
    /// regularizers and corruption stay as they are.
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::ModelFile`] for a damaged file, a tensor that is missing, extra,
    /// of another dtype or shape, or not finite, and [`ModelFileProblem::PartMismatch`] when
    /// the file was saved with another loss, regularizer or corruption (a user's included, by
    /// its name and hyper-parameters). The model is then unchanged.
    pub fn load_parameters(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let (bytes, name) = read_file(path.as_ref())?;
        self.load_parameters_from_safetensors(&bytes, &name)
    }

    /// [`load_parameters`](Self::load_parameters) from bytes; `name` identifies them in
    /// errors.
    ///
    /// # Errors
    /// As [`load_parameters`](Self::load_parameters).
    pub fn load_parameters_from_safetensors(&mut self, bytes: &[u8], name: &str) -> Result<()> {
        let list = self.list();
        list.check()?;
        let values = read::<E::Scalar>(
            bytes,
            name,
            "autoencoder",
            Some(&PartsRecord::of(self)),
            &list.names,
            &list.shapes,
        )?;
        assign(self.parameters_mut(), values);
        Ok(())
    }
}

impl<'a, E: Encoder> From<&'a Classifier<E>> for List<'a, E::Scalar> {
    fn from(model: &'a Classifier<E>) -> Self {
        List {
            names: model.parameter_names(),
            shapes: model.parameter_shapes(),
            values: model.parameters(),
        }
    }
}

impl<E: Encoder> Classifier<E> {
    fn list(&self) -> List<'_, E::Scalar> {
        List::from(self)
    }

    /// The record of the classifier's parameters: its tensors and settings.
    pub(crate) fn parameters_record(&self) -> ParametersRecord {
        ParametersRecord {
            settings: self.settings(),
            ..self.list().record("classifier", None)
        }
    }

    /// The classifier's parameters as the bytes of a safetensors file (see
    /// [`save_parameters`](Self::save_parameters)).
    ///
    /// # Errors
    /// As [`Autoencoder::parameters_to_safetensors`].
    pub fn parameters_to_safetensors(&self) -> Result<Vec<u8>> {
        self.list().to_bytes(self.parameters_record())
    }

    /// Saves every parameter — the encoder's, whatever it is, then `head.weight` and
    /// `head.bias` — crash-safely; load it with [`load_parameters`](Self::load_parameters)
    /// into a classifier built the same way.
    ///
    /// # Errors
    /// As [`Autoencoder::save_parameters`].
    pub fn save_parameters(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomically(path.as_ref(), &self.parameters_to_safetensors()?)
    }

    /// Replaces every parameter by the tensor of the same name in a safetensors file; the
    /// classifier's settings (weight decay, a frozen encoder) stay as they are.
    ///
    /// # Errors
    /// As [`Autoencoder::load_parameters`], without the check of parts.
    pub fn load_parameters(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let (bytes, name) = read_file(path.as_ref())?;
        self.load_parameters_from_safetensors(&bytes, &name)
    }

    /// [`load_parameters`](Self::load_parameters) from bytes; `name` identifies them in
    /// errors.
    ///
    /// # Errors
    /// As [`load_parameters`](Self::load_parameters).
    pub fn load_parameters_from_safetensors(&mut self, bytes: &[u8], name: &str) -> Result<()> {
        let list = self.list();
        list.check()?;
        let values = read::<E::Scalar>(bytes, name, "classifier", None, &list.names, &list.shapes)?;
        assign(self.parameters_mut(), values);
        Ok(())
    }
}

impl<'a, E: Encoder, D: Decoder<E::Scalar>, C> From<&'a Vae<E, D, C>> for List<'a, E::Scalar> {
    fn from(model: &'a Vae<E, D, C>) -> Self {
        List {
            names: model.parameter_names(),
            shapes: model.parameter_shapes(),
            values: model.parameters(),
        }
    }
}

impl<E: Encoder, D: Decoder<E::Scalar>, C: Corruption<E::Scalar>> Vae<E, D, C> {
    /// What the record says of the model besides its tensors: likelihood, objective, `β`,
    /// warm-up, weight decay and corruption, as text (for people and other tools; loading
    /// does not check them).
    fn settings(&self) -> Vec<(String, String)> {
        let likelihood = match self.likelihood() {
            Likelihood::Bernoulli => "bernoulli".to_owned(),
            Likelihood::Gaussian { variance } => format!("gaussian:{variance:?}"),
        };
        let objective = match self.objective() {
            VaeObjective::Elbo => "elbo".to_owned(),
            VaeObjective::Iwae { samples } => format!("iwae:{samples}"),
        };
        [
            ("likelihood", likelihood),
            ("objective", objective),
            ("beta", format!("{:?}", self.beta())),
            ("warm_up", self.warm_up().to_string()),
            ("weight_decay", format!("{:?}", self.weight_decay())),
            ("corruption", self.corruption().name().to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// The model's parameters as the bytes of a safetensors file (see
    /// [`save_parameters`](Self::save_parameters)).
    ///
    /// # Errors
    /// As [`Autoencoder::parameters_to_safetensors`].
    pub fn parameters_to_safetensors(&self) -> Result<Vec<u8>> {
        List::from(self).to_bytes(self.parameters_record())
    }

    /// The record of the VAE's parameters: its tensors and settings.
    pub(crate) fn parameters_record(&self) -> ParametersRecord {
        ParametersRecord {
            settings: self.settings(),
            ..List::from(self).record("vae", None)
        }
    }

    /// Saves every parameter, crash-safely, by the names of
    /// [`parameter_names`](Self::parameter_names) (`encoder.0.weight`, …, `mean.weight`,
    /// `log_var.bias`, `decoder.0.weight`, …) in PyTorch's `[out, in]` layout, with a record of
    /// the model's settings; load it with [`load_parameters`](Self::load_parameters) into a
    /// VAE built the same way.
    ///
    /// # Errors
    /// As [`Autoencoder::save_parameters`].
    pub fn save_parameters(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomically(path.as_ref(), &self.parameters_to_safetensors()?)
    }

    /// Replaces every parameter by the tensor of the same name in a safetensors file: one
    /// written by [`save_parameters`](Self::save_parameters), or by PyTorch with these names
    /// and layouts. The settings (likelihood, objective, `β`, …) stay as they are, so a model
    /// trained on the ELBO can go on with the IWAE bound.
    ///
    /// # Errors
    /// As [`Autoencoder::load_parameters`], without the check of parts; the model is then
    /// unchanged.
    pub fn load_parameters(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let (bytes, name) = read_file(path.as_ref())?;
        self.load_parameters_from_safetensors(&bytes, &name)
    }

    /// [`load_parameters`](Self::load_parameters) from bytes; `name` identifies them in
    /// errors.
    ///
    /// # Errors
    /// As [`load_parameters`](Self::load_parameters).
    pub fn load_parameters_from_safetensors(&mut self, bytes: &[u8], name: &str) -> Result<()> {
        let list = List::from(&*self);
        list.check()?;
        let values = read::<E::Scalar>(bytes, name, "vae", None, &list.names, &list.shapes)?;
        assign(self.parameters_mut(), values);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_major_and_column_major_are_inverse_and_transpose_matrices() {
        let m = nalgebra::DMatrix::from_row_slice(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let rows = row_major(&[2, 3], m.as_slice());
        assert_eq!(rows, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(column_major(&[2, 3], rows), m.as_slice());
        assert_eq!(row_major(&[3], &[1.0, 2.0, 3.0]), [1.0, 2.0, 3.0]);
    }

    #[test]
    fn an_inconsistent_list_is_refused_before_writing() {
        let values = [1.0_f64, 2.0, 3.0];
        let list = |names: &[&str], shapes: Vec<Vec<usize>>| List {
            names: names.iter().map(|n| n.to_string()).collect(),
            shapes,
            values: vec![&values[..], &values[..]],
        };
        assert!(list(&["a", "b"], vec![vec![3], vec![3]]).check().is_ok());
        assert!(matches!(
            list(&["a", "a"], vec![vec![3], vec![3]]).check(),
            Err(Error::ModelFile {
                problem: ModelFileProblem::DuplicateKey { .. },
                ..
            })
        ));
        for shapes in [
            vec![vec![3], vec![2, 2]],
            vec![vec![3], vec![]],
            vec![vec![3], vec![usize::MAX, 2]],
            vec![vec![3]],
        ] {
            assert!(
                matches!(
                    list(&["a", "b"], shapes.clone()).check(),
                    Err(Error::DimensionMismatch { .. })
                ),
                "{shapes:?}"
            );
        }
        assert!(matches!(
            list(&["a"], vec![vec![3], vec![3]]).check(),
            Err(Error::DimensionMismatch { .. })
        ));
    }
}
