//! The [linfa](https://docs.rs/linfa) interfaces (feature `linfa`): fit an autoencoder on a
//! linfa [`Dataset`](::linfa::Dataset) and transform `ndarray` records into codes.
//!
//! - [`AutoencoderParams`] holds what a fit needs: a [`DenseBuilder`], a [`TrainingConfig`],
//!   an optimiser, the regularizers, the corruption, the loss and a seed. It implements linfa's
//!   [`ParamGuard`] (the checks of [`AutoencoderValidParams`]) and, through it, linfa's
//!   [`Fit`] on any dataset of `f32` or `f64` records, whatever its targets (they are not used).
//!   The fitted model is a [`DynamicAutoencoder`], which can be saved and loaded like any other.
//! - Every [`Autoencoder`] implements linfa's [`Transformer`], records to codes, for owned
//!   arrays, views, references and datasets (whose targets are kept). As linfa's `transform`
//!   cannot return an error, the output is a [`Result`]: records of the wrong width or holding
//!   a NaN give an [`Error`], never a panic.
//! - [`array_to_matrix`] and [`matrix_to_array`] convert between `ndarray`'s `Array2` (samples
//!   in rows, any memory order) and nalgebra's `DMatrix` (column-major), element `(i, j)` to
//!   element `(i, j)`. They are written here, not taken from `nshare`, whose nalgebra is older.
//!
//! Fitting draws the weights and then trains from one [`ChaCha8Rng`] seeded with the seed, so
//! it gives the same model, bit for bit, as the crate's own calls with that generator:
//!
//! ```
//! use autoencoders::linfa::{AutoencoderParams, array_to_matrix};
//! use autoencoders::rand::{SeedableRng, rngs::ChaCha8Rng};
//! use autoencoders::{Adam, DenseBuilder, TrainingConfig};
//! use linfa::prelude::*;
//! use ndarray::Array2;
//!
//! let records = Array2::from_shape_fn((60, 8), |(i, j)| ((i * 7 + j * 3) % 10) as f64 / 10.0);
//! let dataset = DatasetBase::from(records.clone());
//! let builder = DenseBuilder::new(8, 3);
//! let config = TrainingConfig::default().with_epochs(3).with_batch_size(20);
//!
//! let params = AutoencoderParams::new(builder)
//!     .with_config(config)
//!     .with_optimizer(Adam::new(1e-2)?)
//!     .with_seed(7);
//! let model = params.fit(&dataset)?;
//! let codes = model.transform(&records)?; // 60 × 3, an ndarray
//! assert_eq!(codes.dim(), (60, 3));
//!
//! // The same with the crate's own calls.
//! let mut rng = ChaCha8Rng::seed_from_u64(7);
//! let mut own = builder.build::<f64, _>(&mut rng)?;
//! let x = array_to_matrix(&records);
//! own.fit(&x, &config, &mut Adam::new(1e-2)?, &mut rng)?;
//! assert_eq!(array_to_matrix(&codes), own.encode(&x)?);
//!
//! // Bad parameters and bad records are errors.
//! let bad = AutoencoderParams::<f64>::new(builder).with_config(config.with_batch_size(0));
//! assert!(bad.fit(&dataset).is_err());
//! assert!(model.transform(Array2::<f64>::zeros((5, 4))).is_err());
//! # Ok::<(), autoencoders::Error>(())
//! ```

use crate::{
    Adam, Autoencoder, BuiltinCorruption, BuiltinLoss, BuiltinRegularizer, DenseBuilder,
    DynamicAutoencoder, Encoder, Error, Optimizer, ReconstructionLoss, Result, Scalar,
    TrainingConfig,
};
use ::linfa::traits::{Fit, Transformer};
use ::linfa::{DatasetBase, ParamGuard};
use nalgebra::DMatrix;
use ndarray::{Array2, ArrayBase, Data, Ix2};
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use std::marker::PhantomData;

/// An `ndarray` matrix as a nalgebra [`DMatrix`]: element `(i, j)` stays at `(i, j)`, so a
/// sample (row) stays a row. Reads any layout: row-major, column-major or strided views.
///
/// ```
/// use autoencoders::linfa::array_to_matrix;
/// use ndarray::array;
///
/// let a = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
/// let m = array_to_matrix(&a);
/// assert_eq!(m.shape(), (2, 3));
/// assert_eq!(m[(0, 2)], 3.0);
/// assert_eq!(array_to_matrix(&a.t()), m.transpose());
/// ```
pub fn array_to_matrix<F: Scalar, S: Data<Elem = F>>(array: &ArrayBase<S, Ix2>) -> DMatrix<F> {
    let (rows, columns) = array.dim();
    if let Some(row_major) = array.as_slice() {
        DMatrix::from_row_slice(rows, columns, row_major)
    } else if let Some(column_major) = array.t().as_slice() {
        DMatrix::from_column_slice(rows, columns, column_major)
    } else {
        DMatrix::from_fn(rows, columns, |i, j| array[[i, j]])
    }
}

/// A nalgebra [`DMatrix`] as an `ndarray` matrix in standard (row-major) layout: element
/// `(i, j)` stays at `(i, j)`.
///
/// ```
/// use autoencoders::linfa::{array_to_matrix, matrix_to_array};
/// use nalgebra::DMatrix;
///
/// let m = DMatrix::from_row_slice(2, 3, &[1.0_f32, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// let a = matrix_to_array(&m);
/// assert_eq!(a.dim(), (2, 3));
/// assert_eq!(a[[1, 0]], 4.0);
/// assert!(a.is_standard_layout());
/// assert_eq!(array_to_matrix(&a), m);
/// ```
pub fn matrix_to_array<F: Scalar>(matrix: &DMatrix<F>) -> Array2<F> {
    Array2::from_shape_fn(matrix.shape(), |(i, j)| matrix[(i, j)])
}

/// The checked settings of a linfa fit; see [`AutoencoderParams`], which derefs to them
/// through [`ParamGuard::check_ref`].
///
/// `F` is the scalar of the records (`f32` or `f64`), `O` the optimiser, cloned afresh for
/// every fit.
#[derive(Clone, Debug, PartialEq)]
pub struct AutoencoderValidParams<F: Scalar, O = Adam<F>> {
    builder: DenseBuilder,
    config: TrainingConfig,
    optimizer: O,
    regularizers: Vec<BuiltinRegularizer>,
    corruption: BuiltinCorruption,
    loss: BuiltinLoss,
    seed: u64,
    scalar: PhantomData<F>,
}

impl<F: Scalar, O> AutoencoderValidParams<F, O> {
    /// The architecture and initialisation.
    pub fn builder(&self) -> &DenseBuilder {
        &self.builder
    }

    /// The training settings.
    pub fn config(&self) -> &TrainingConfig {
        &self.config
    }

    /// The optimiser every fit starts from.
    pub fn optimizer(&self) -> &O {
        &self.optimizer
    }

    /// The penalties (none by default).
    pub fn regularizers(&self) -> &[BuiltinRegularizer] {
        &self.regularizers
    }

    /// The corruption (none by default).
    pub fn corruption(&self) -> BuiltinCorruption {
        self.corruption
    }

    /// The reconstruction loss (squared error by default).
    pub fn loss(&self) -> BuiltinLoss {
        self.loss
    }

    /// The seed of the generator that draws the weights and then shuffles and corrupts.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

/// What a linfa fit of a one-layer autoencoder needs, checked by linfa's [`ParamGuard`].
///
/// Defaults: [`TrainingConfig::default`], [`Adam`] with learning rate 1e-3, no regularizer, no
/// corruption, the squared-error loss, seed 0. `params.fit(&dataset)` (linfa's [`Fit`])
/// checks the settings, draws the weights and trains on the dataset's records; see the
/// [module](self) for an example.
///
/// ```
/// use autoencoders::linfa::AutoencoderParams;
/// use autoencoders::{DenseBuilder, GaussianNoise, L1Sparsity, TrainingConfig};
/// use linfa::ParamGuard;
///
/// let params = AutoencoderParams::<f32>::new(DenseBuilder::new(784, 32))
///     .with_regularizers(vec![L1Sparsity::new(1e-3)?.into()])
///     .with_corruption(GaussianNoise::new(0.2)?.into());
/// assert_eq!(params.check_ref()?.regularizers().len(), 1);
/// let zero = AutoencoderParams::<f32>::new(DenseBuilder::new(784, 0));
/// assert!(zero.check().is_err());
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct AutoencoderParams<F: Scalar, O = Adam<F>>(AutoencoderValidParams<F, O>);

impl<F: Scalar> AutoencoderParams<F> {
    /// The defaults for the model `builder` builds.
    pub fn new(builder: DenseBuilder) -> Self {
        Self(AutoencoderValidParams {
            builder,
            config: TrainingConfig::default(),
            optimizer: Adam::default(),
            regularizers: Vec::new(),
            corruption: BuiltinCorruption::None,
            loss: ReconstructionLoss::SquaredError.into(),
            seed: 0,
            scalar: PhantomData,
        })
    }
}

impl<F: Scalar, O> AutoencoderParams<F, O> {
    /// The training settings.
    pub fn with_config(mut self, config: TrainingConfig) -> Self {
        self.0.config = config;
        self
    }

    /// Another optimiser, e.g. [`Sgd`](crate::Sgd) or one of your own; each fit trains a clone
    /// of it.
    pub fn with_optimizer<O2: Optimizer<F> + Clone>(
        self,
        optimizer: O2,
    ) -> AutoencoderParams<F, O2> {
        let p = self.0;
        AutoencoderParams(AutoencoderValidParams {
            builder: p.builder,
            config: p.config,
            optimizer,
            regularizers: p.regularizers,
            corruption: p.corruption,
            loss: p.loss,
            seed: p.seed,
            scalar: PhantomData,
        })
    }

    /// The penalties, added up.
    pub fn with_regularizers(mut self, regularizers: Vec<BuiltinRegularizer>) -> Self {
        self.0.regularizers = regularizers;
        self
    }

    /// The corruption of the inputs during training.
    pub fn with_corruption(mut self, corruption: BuiltinCorruption) -> Self {
        self.0.corruption = corruption;
        self
    }

    /// The reconstruction loss: a [`ReconstructionLoss`], a [`Correntropy`](crate::Correntropy)
    /// or a [`BuiltinLoss`].
    pub fn with_loss(mut self, loss: impl Into<BuiltinLoss>) -> Self {
        self.0.loss = loss.into();
        self
    }

    /// The seed of the generator.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }
}

impl<F: Scalar, O> ParamGuard for AutoencoderParams<F, O> {
    type Checked = AutoencoderValidParams<F, O>;
    type Error = Error;

    /// Checks the builder and the training settings; what fits the regularizers and the
    /// corruption to the architecture is checked by the fit itself, before any update.
    fn check_ref(&self) -> Result<&Self::Checked> {
        self.0.builder.validate()?;
        self.0.config.validate()?;
        Ok(&self.0)
    }

    fn check(self) -> Result<Self::Checked> {
        self.check_ref()?;
        Ok(self.0)
    }
}

impl<F, O, S, T> Fit<ArrayBase<S, Ix2>, T, Error> for AutoencoderValidParams<F, O>
where
    F: Scalar,
    O: Optimizer<F> + Clone,
    S: Data<Elem = F>,
{
    type Object = DynamicAutoencoder<F>;

    /// Draws the weights and trains on the dataset's records (samples in rows), from one
    /// generator seeded with the seed.
    ///
    /// # Errors
    /// As [`DenseBuilder::build`] and [`Autoencoder::fit`]: e.g. [`Error::DimensionMismatch`]
    /// for records of another width than the builder's, [`Error::EmptyData`],
    /// [`Error::NonFiniteData`].
    fn fit(&self, dataset: &DatasetBase<ArrayBase<S, Ix2>, T>) -> Result<Self::Object> {
        let x = array_to_matrix(dataset.records());
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut model = self
            .builder
            .build::<F, _>(&mut rng)?
            .with_regularizer(self.regularizers.clone())
            .with_corruption(self.corruption)
            .with_loss(self.loss);
        model.fit(&x, &self.config, &mut self.optimizer.clone(), &mut rng)?;
        Ok(model)
    }
}

/// The codes of `records` (samples in rows) as an `ndarray` matrix.
fn encode_array<E, S>(encoder: &E, records: &ArrayBase<S, Ix2>) -> Result<Array2<E::Scalar>>
where
    E: Encoder,
    S: Data<Elem = E::Scalar>,
{
    Ok(matrix_to_array(&encoder.encode(&array_to_matrix(records))?))
}

/// Records to codes: `n × input_dim` to `n × code_dim`.
///
/// # Errors
/// As [`Autoencoder::encode`]: [`Error::EmptyData`], [`Error::NoFeatures`],
/// [`Error::DimensionMismatch`] or [`Error::NonFiniteData`].
impl<E, D, R, C, L, S> Transformer<&ArrayBase<S, Ix2>, Result<Array2<E::Scalar>>>
    for Autoencoder<E, D, R, C, L>
where
    E: Encoder,
    S: Data<Elem = E::Scalar>,
{
    fn transform(&self, records: &ArrayBase<S, Ix2>) -> Result<Array2<E::Scalar>> {
        encode_array(self.encoder(), records)
    }
}

/// Records to codes, for an owned array or a view passed by value.
impl<E, D, R, C, L, S> Transformer<ArrayBase<S, Ix2>, Result<Array2<E::Scalar>>>
    for Autoencoder<E, D, R, C, L>
where
    E: Encoder,
    S: Data<Elem = E::Scalar>,
{
    fn transform(&self, records: ArrayBase<S, Ix2>) -> Result<Array2<E::Scalar>> {
        encode_array(self.encoder(), &records)
    }
}

/// A dataset with its records replaced by their codes and its targets kept (its weights and
/// feature names, which describe the records, are dropped, as linfa's `with_records` does).
impl<E, D, R, C, L, S, T>
    Transformer<DatasetBase<ArrayBase<S, Ix2>, T>, Result<DatasetBase<Array2<E::Scalar>, T>>>
    for Autoencoder<E, D, R, C, L>
where
    E: Encoder,
    S: Data<Elem = E::Scalar>,
{
    fn transform(
        &self,
        dataset: DatasetBase<ArrayBase<S, Ix2>, T>,
    ) -> Result<DatasetBase<Array2<E::Scalar>, T>> {
        let codes = encode_array(self.encoder(), dataset.records())?;
        Ok(dataset.with_records(codes))
    }
}
