//! Saving and loading stacks of encoders, alone or under a softmax head, as
//! `encoders.0.weight`, `encoders.0.bias`, …, `head.weight`, `head.bias`.

use super::{
    ModelFileProblem, TensorFile, dtype_of, matrix_bytes, read_file, serialize_with, vector_bytes,
    write_atomically,
};
use crate::{Activation, Classifier, DenseEncoder, Encoder, Result, Scalar, StackedEncoder};
use serde::{Deserialize, Serialize};
use std::path::Path;

const FORMAT_VERSION: u32 = 1;

/// The metadata of a saved stack.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StackRecord {
    format_version: u32,
    crc32: String,
    /// `"stacked-encoder"` or `"classifier"`.
    kind: String,
    dtype: String,
    /// Layer sizes, input first: `[784, 500, 500]`.
    sizes: Vec<usize>,
    /// One activation name per layer.
    activations: Vec<String>,
    /// Classes of the softmax head, for a classifier.
    classes: Option<usize>,
}

fn invalid(detail: String) -> ModelFileProblem {
    ModelFileProblem::InvalidMetadata { detail }
}

fn stack_tensors<T: Scalar>(stack: &StackedEncoder<T>) -> Vec<(String, Vec<usize>, Vec<u8>)> {
    stack
        .layers()
        .iter()
        .enumerate()
        .flat_map(|(i, layer)| {
            [
                (
                    format!("encoders.{i}.weight"),
                    vec![layer.code_dim(), layer.input_dim()],
                    matrix_bytes(layer.weights()),
                ),
                (
                    format!("encoders.{i}.bias"),
                    vec![layer.code_dim()],
                    vector_bytes(layer.bias()),
                ),
            ]
        })
        .collect()
}

fn record<T: Scalar>(stack: &StackedEncoder<T>, kind: &str, classes: Option<usize>) -> StackRecord {
    let mut sizes = vec![stack.input_dim()];
    sizes.extend(stack.layers().iter().map(|l| l.code_dim()));
    StackRecord {
        format_version: FORMAT_VERSION,
        crc32: String::new(),
        kind: kind.to_owned(),
        dtype: T::NAME.to_owned(),
        sizes,
        activations: stack
            .layers()
            .iter()
            .map(|l| l.activation().name().to_owned())
            .collect(),
        classes,
    }
}

fn to_bytes<T: Scalar>(
    tensors: Vec<(String, Vec<usize>, Vec<u8>)>,
    record: StackRecord,
) -> Result<Vec<u8>> {
    serialize_with(
        tensors,
        |crc32| serde_json::to_string(&StackRecord { crc32, ..record }).unwrap_or_default(),
        Vec::new(),
        dtype_of::<T>(),
        "<memory>",
    )
}

/// Parses a stack file of the expected `kind` and rebuilds its layers.
fn read_stack<T: Scalar>(
    file: &TensorFile<'_>,
    kind: &str,
) -> Result<(StackedEncoder<T>, StackRecord)> {
    let record: StackRecord = serde_json::from_str(file.metadata_json()?)
        .map_err(|e| file.fail(invalid(e.to_string())))?;
    if record.format_version != FORMAT_VERSION || record.kind != kind {
        return Err(file.fail(invalid(format!(
            "expected a `{kind}` file of format_version {FORMAT_VERSION}, found `{}` version {}",
            record.kind, record.format_version
        ))));
    }
    if record.dtype != T::NAME {
        return Err(file.fail(ModelFileProblem::WrongDtype {
            tensor: "(model)".to_owned(),
            expected: T::NAME,
            found: record.dtype.clone(),
        }));
    }
    if record.sizes.len() < 2 || record.activations.len() + 1 != record.sizes.len() {
        return Err(file.fail(invalid(
            "sizes and activations do not describe a stack".to_owned(),
        )));
    }
    let mut expected = Vec::new();
    let mut layers = Vec::new();
    for (i, (pair, name)) in record.sizes.windows(2).zip(&record.activations).enumerate() {
        let activation = Activation::from_name(name)
            .ok_or_else(|| file.fail(invalid(format!("unknown activation `{name}`"))))?;
        let (weight, bias) = (format!("encoders.{i}.weight"), format!("encoders.{i}.bias"));
        layers.push(DenseEncoder::from_parts(
            file.matrix(&weight, pair[1], pair[0])?,
            file.vector(&bias, pair[1])?,
            activation,
        )?);
        expected.extend([weight, bias]);
    }
    if kind == "classifier" {
        expected.extend(["head.weight".to_owned(), "head.bias".to_owned()]);
    }
    file.only(&expected)?;
    Ok((StackedEncoder::new(layers)?, record))
}

impl<T: Scalar> StackedEncoder<T> {
    /// The stack as the bytes of a safetensors file: `encoders.0.weight` (`[h_1, input_dim]`),
    /// `encoders.0.bias`, … with the sizes and activations in the metadata.
    ///
    /// # Errors
    /// None in practice.
    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        to_bytes::<T>(stack_tensors(self), record(self, "stacked-encoder", None))
    }

    /// Saves the stack crash-safely (see [`persistence`](crate::persistence)).
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomically(path.as_ref(), &self.to_safetensors()?)
    }

    /// Loads a stack saved by [`save`](Self::save).
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io), [`Error::ModelFile`](crate::Error::ModelFile).
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
        Ok(read_stack(&file, "stacked-encoder")?.0)
    }
}

impl<T: Scalar> Classifier<StackedEncoder<T>> {
    /// The classifier as the bytes of a safetensors file: the stack's tensors, then
    /// `head.weight` (`[classes, code_dim]`) and `head.bias`.
    ///
    /// # Errors
    /// None in practice.
    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        let mut tensors = stack_tensors(self.encoder());
        tensors.push((
            "head.weight".to_owned(),
            vec![self.classes(), self.encoder().code_dim()],
            matrix_bytes(self.head_weights()),
        ));
        tensors.push((
            "head.bias".to_owned(),
            vec![self.classes()],
            vector_bytes(self.head_bias()),
        ));
        to_bytes::<T>(
            tensors,
            record(self.encoder(), "classifier", Some(self.classes())),
        )
    }

    /// Saves the classifier crash-safely.
    ///
    /// ```
    /// use autoencoders::{Activation, Classifier, Init, StackedEncoder};
    /// use rand::{SeedableRng, rngs::ChaCha8Rng};
    ///
    /// let mut rng = ChaCha8Rng::seed_from_u64(0);
    /// let stack = StackedEncoder::<f32>::random(&[20, 8, 4], Activation::Relu, Init::GlorotUniform, &mut rng)?;
    /// let classifier = Classifier::new(stack, 3, Init::GlorotUniform, &mut rng)?;
    /// let path = std::env::temp_dir().join("autoencoders-doc-classifier.safetensors");
    /// classifier.save(&path)?;
    /// let loaded = Classifier::<StackedEncoder<f32>>::load(&path)?;
    /// assert_eq!(loaded.parameters(), classifier.parameters());
    /// # std::fs::remove_file(path).ok();
    /// # Ok::<(), autoencoders::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomically(path.as_ref(), &self.to_safetensors()?)
    }

    /// Loads a classifier saved by [`save`](Self::save).
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io), [`Error::ModelFile`](crate::Error::ModelFile).
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
        let (stack, record) = read_stack::<T>(&file, "classifier")?;
        let classes = record
            .classes
            .ok_or_else(|| file.fail(invalid("a classifier needs `classes`".to_owned())))?;
        let weights = file.matrix("head.weight", classes, stack.code_dim())?;
        let bias = file.vector("head.bias", classes)?;
        Classifier::from_parts(stack, weights, bias)
    }
}
