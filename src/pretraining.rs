//! Greedy layer-wise pretraining: train an autoencoder, encode the data, train the next one on
//! the codes, and stack the encoders.

use crate::source::{BatchSource, Mapped};
use crate::{
    Activation, Adam, Autoencoder, BoxedCorruption, Corruption, Decoder, DenseBuilder,
    DenseDecoder, DenseEncoder, Encoder, EpochReport, History, Init, Loss, NoCorruption,
    NoRegularizer, Optimizer, ReconstructionLoss, Regularizer, Result, Scalar, StackedDecoder,
    StackedEncoder, TrainingConfig,
};
use nalgebra::DMatrix;
use rand::Rng;
use std::fmt;
use std::ops::ControlFlow;

/// Builds the fresh encoder/decoder pair that trains one layer of a [`LayerwisePretrainer`],
/// once the size of that layer's input (the data's, or the codes of the layer below) is known.
///
/// [`DenseLayer`] (what [`LayerSpec::new`] uses) builds the crate's dense layers; a user's
/// builder builds their own encoder and decoder, which then pretrain, stack and unroll as the
/// dense ones do. Every layer of one pretrainer has the same builder type; an enum builds
/// layers of several kinds.
///
/// # Implementing `LayerBuilder`
/// ```
/// use autoencoders::{
///     Activation, DenseDecoder, DenseEncoder, Init, LayerBuilder, LayerSpec, LayerwisePretrainer,
///     Result, TrainingConfig,
/// };
/// use nalgebra::DMatrix;
/// use rand::{Rng, SeedableRng, rngs::ChaCha8Rng};
///
/// /// Dense layers whose weights start at a fixed small scale.
/// #[derive(Debug)]
/// struct Small(usize);
///
/// impl LayerBuilder<f64> for Small {
///     type Encoder = DenseEncoder<f64>;
///     type Decoder = DenseDecoder<f64>;
///     fn code_dim(&self) -> usize { self.0 }
///     fn build<G: Rng + ?Sized>(&self, input_dim: usize, rng: &mut G)
///         -> Result<(DenseEncoder<f64>, DenseDecoder<f64>)> {
///         let init = Init::Uniform { limit: 0.01 };
///         Ok((DenseEncoder::new(input_dim, self.0, Activation::Tanh, init, rng)?,
///             DenseDecoder::new(self.0, input_dim, Activation::Linear, init, rng)?))
///     }
/// }
///
/// let x = DMatrix::<f64>::from_fn(32, 10, |i, j| ((i + j) % 5) as f64 / 5.0);
/// let quick = TrainingConfig::default().with_epochs(2);
/// let stack = LayerwisePretrainer::new()
///     .with_layer(LayerSpec::with_builder(Small(6)).with_training(quick))
///     .with_layer(LayerSpec::with_builder(Small(3)).with_training(quick))
///     .pretrain(&x, &mut ChaCha8Rng::seed_from_u64(0))?;
/// assert_eq!(stack.deep_autoencoder()?.reconstruct(&x)?.shape(), (32, 10));
/// # Ok::<(), autoencoders::Error>(())
/// ```
pub trait LayerBuilder<T: Scalar> {
    /// The layer that is kept and stacked.
    type Encoder: Encoder<Scalar = T>;
    /// The decoder that trains it, kept beside the stack (unrolled by
    /// [`PretrainedStack::deep_autoencoder`]).
    type Decoder: Decoder<T>;

    /// Units in the code of the layer it builds.
    fn code_dim(&self) -> usize;

    /// A fresh pair for inputs of `input_dim` features: an encoder `input_dim → code_dim` and a
    /// decoder back, drawing whatever is random from `rng`.
    ///
    /// # Errors
    /// Whatever the layers' constructors refuse.
    fn build<G: Rng + ?Sized>(
        &self,
        input_dim: usize,
        rng: &mut G,
    ) -> Result<(Self::Encoder, Self::Decoder)>;
}

/// The crate's dense layer as a [`LayerBuilder`]: a [`DenseEncoder`] and the [`DenseDecoder`]
/// that trains it (tied or not), drawn as [`DenseBuilder::build`] draws them. [`LayerSpec::new`]
/// uses it, and `LayerSpec`'s `with_activation`, `with_decoder_activation`, `with_tied` and
/// `with_init` set it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DenseLayer {
    settings: DenseBuilder,
}

impl DenseLayer {
    /// A layer of `code_dim` units, with [`DenseBuilder::new`]'s defaults (sigmoid encoder and
    /// decoder, untied, Glorot-uniform weights).
    pub fn new(code_dim: usize) -> Self {
        Self {
            settings: DenseBuilder::new(0, code_dim),
        }
    }
}

impl<T: Scalar> LayerBuilder<T> for DenseLayer {
    type Encoder = DenseEncoder<T>;
    type Decoder = DenseDecoder<T>;

    fn code_dim(&self) -> usize {
        self.settings.code_dim
    }

    fn build<G: Rng + ?Sized>(
        &self,
        input_dim: usize,
        rng: &mut G,
    ) -> Result<(DenseEncoder<T>, DenseDecoder<T>)> {
        let (encoder, decoder, _, _) = DenseBuilder {
            input_dim,
            ..self.settings
        }
        .build(rng)?
        .into_parts();
        Ok((encoder, decoder))
    }
}

/// One layer of a [`LayerwisePretrainer`]: the autoencoder that trains it and how.
///
/// Its layers come from a [`LayerBuilder`]: [`DenseLayer`] for [`new`](LayerSpec::new), a
/// user's own for [`with_builder`](LayerSpec::with_builder).
///
/// Defaults: sigmoid encoder and decoder, untied, Glorot-uniform weights (for dense layers);
/// squared error, no regularizer, no corruption, [`TrainingConfig::default`], Adam with learning
/// rate 1e-3.
pub struct LayerSpec<T: Scalar, B = DenseLayer> {
    pub(crate) builder: B,
    pub(crate) loss: Box<dyn Loss<T> + Send + Sync>,
    pub(crate) regularizer: Box<dyn Regularizer<T> + Send + Sync>,
    pub(crate) corruption: BoxedCorruption<T>,
    pub(crate) training: TrainingConfig,
    pub(crate) optimizer: Box<dyn Optimizer<T> + Send + Sync>,
}

impl<T: Scalar, B: fmt::Debug> fmt::Debug for LayerSpec<T, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LayerSpec")
            .field("builder", &self.builder)
            .field("loss", &self.loss.name())
            .field("regularizer", &self.regularizer.name())
            .field("corruption", &self.corruption.name())
            .field("training", &self.training)
            .finish_non_exhaustive()
    }
}

impl<T: Scalar> LayerSpec<T> {
    /// A dense layer with a code of `code_dim` units and the defaults above.
    pub fn new(code_dim: usize) -> Self {
        Self::with_builder(DenseLayer::new(code_dim))
    }

    /// The layer's (encoder) activation.
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.builder.settings.encoder_activation = activation;
        self
    }

    /// The activation of the decoder that trains the layer.
    pub fn with_decoder_activation(mut self, activation: Activation) -> Self {
        self.builder.settings.decoder_activation = activation;
        self
    }

    /// Whether that decoder is tied to the layer's weights.
    pub fn with_tied(mut self, tied: bool) -> Self {
        self.builder.settings.tied = tied;
        self
    }

    /// The weight initialisation.
    pub fn with_init(mut self, init: Init) -> Self {
        self.builder.settings.init = init;
        self
    }
}

impl<T: Scalar, B: LayerBuilder<T>> LayerSpec<T, B> {
    /// A layer built by `builder` (a user's own encoder and decoder), with the training
    /// defaults above.
    pub fn with_builder(builder: B) -> Self {
        Self {
            builder,
            loss: Box::new(ReconstructionLoss::SquaredError),
            regularizer: Box::new(NoRegularizer),
            corruption: Box::new(NoCorruption),
            training: TrainingConfig::default(),
            optimizer: Box::new(Adam::<T>::default()),
        }
    }

    /// The builder of the layer's encoder and decoder.
    pub fn builder(&self) -> &B {
        &self.builder
    }

    /// The reconstruction loss: one of [`ReconstructionLoss`] or a user's own [`Loss`],
    /// `Send + Sync` as the crate's are.
    pub fn with_loss(mut self, loss: impl Loss<T> + Send + Sync + 'static) -> Self {
        self.loss = Box::new(loss);
        self
    }

    /// The regularizer (a tuple or `Vec` for several). `Send + Sync`, as every one of the
    /// crate's is, so that a pretrainer can be moved to and shared between threads.
    pub fn with_regularizer(
        mut self,
        regularizer: impl Regularizer<T> + Send + Sync + 'static,
    ) -> Self {
        self.regularizer = Box::new(regularizer);
        self
    }

    /// The corruption, e.g. a noise level that grows with depth for stacked denoising
    /// autoencoders: one of the crate's or a user's own, `Send + Sync` as the crate's are.
    pub fn with_corruption(
        mut self,
        corruption: impl Corruption<T> + Send + Sync + 'static,
    ) -> Self {
        self.corruption = Box::new(corruption);
        self
    }

    /// Epochs, batch size and shuffling.
    pub fn with_training(mut self, training: TrainingConfig) -> Self {
        self.training = training;
        self
    }

    /// The optimiser (a fresh one per layer); `Send + Sync`, as the crate's are.
    pub fn with_optimizer(mut self, optimizer: impl Optimizer<T> + Send + Sync + 'static) -> Self {
        self.optimizer = Box::new(optimizer);
        self
    }
}

/// Trains a stack of autoencoders greedily, layer by layer (Bengio et al. 2007; Vincent et al.
/// 2010 for denoising ones): layer `l` is trained as an autoencoder on the codes of layers
/// `1…l−1`, without labels.
///
/// ```
/// use autoencoders::{Activation, LayerSpec, LayerwisePretrainer, Masking, TrainingConfig};
/// use nalgebra::DMatrix;
/// use rand::{SeedableRng, rngs::ChaCha8Rng};
///
/// let x = DMatrix::<f64>::from_fn(64, 20, |i, j| ((i * j) % 7) as f64 / 7.0);
/// let quick = TrainingConfig::default().with_epochs(2);
/// let stack = LayerwisePretrainer::new()
///     .with_layer(LayerSpec::new(12).with_corruption(Masking::new(0.1)?).with_training(quick))
///     .with_layer(LayerSpec::new(6).with_activation(Activation::Tanh).with_training(quick))
///     .pretrain(&x, &mut ChaCha8Rng::seed_from_u64(0))?;
/// assert_eq!(stack.histories.len(), 2);
/// let deep = stack.deep_autoencoder()?; // 20 → 12 → 6 → 12 → 20
/// assert_eq!(deep.reconstruct(&x)?.shape(), (64, 20));
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Debug)]
pub struct LayerwisePretrainer<T: Scalar, B = DenseLayer> {
    pub(crate) layers: Vec<LayerSpec<T, B>>,
}

impl<T: Scalar, B> Default for LayerwisePretrainer<T, B> {
    fn default() -> Self {
        Self { layers: Vec::new() }
    }
}

/// The result of greedy pretraining.
#[derive(Clone, Debug)]
pub struct PretrainedStack<T: Scalar, E = DenseEncoder<T>, D = DenseDecoder<T>>
where
    E: Encoder<Scalar = T>,
    D: Decoder<T>,
{
    /// The trained encoders, stacked: usable wherever an encoder is.
    pub encoder: StackedEncoder<T, E>,
    /// The decoder each layer was trained with (tied ones own only their bias).
    pub decoders: Vec<D>,
    /// Each layer's training history.
    pub histories: Vec<History>,
}

impl<T: Scalar, B: LayerBuilder<T>> LayerwisePretrainer<T, B> {
    /// No layers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a layer on top.
    pub fn with_layer(mut self, layer: LayerSpec<T, B>) -> Self {
        self.layers.push(layer);
        self
    }

    /// Trains every layer in turn on `x` (`n × input_dim`) and the codes below it.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`](crate::Error::ZeroDimension) for no layers, and any error of a
    /// layer's construction or [`fit`](Autoencoder::fit) (checked before that layer trains).
    pub fn pretrain<G: Rng + ?Sized>(
        self,
        x: &DMatrix<T>,
        rng: &mut G,
    ) -> Result<PretrainedStack<T, B::Encoder, B::Decoder>> {
        self.pretrain_with(x, rng, &mut |_: usize, _: &EpochReport| {
            ControlFlow::Continue(())
        })
    }

    /// [`pretrain`](Self::pretrain), reporting each layer's epochs to `observer` with the
    /// layer's index (from 0); `Break` ends that layer's training early.
    ///
    /// # Errors
    /// As [`pretrain`](Self::pretrain).
    pub fn pretrain_with<G, F>(
        self,
        x: &DMatrix<T>,
        rng: &mut G,
        observer: &mut F,
    ) -> Result<PretrainedStack<T, B::Encoder, B::Decoder>>
    where
        G: Rng + ?Sized,
        F: FnMut(usize, &EpochReport) -> ControlFlow<()>,
    {
        crate::validate::check_nonzero(self.layers.len(), "number of layers")?;
        let mut encoders = Vec::with_capacity(self.layers.len());
        let mut decoders = Vec::with_capacity(self.layers.len());
        let mut histories = Vec::with_capacity(self.layers.len());
        let mut codes: Option<DMatrix<T>> = None;
        for (index, spec) in self.layers.into_iter().enumerate() {
            let input = codes.as_ref().unwrap_or(x);
            let (encoder, decoder) = spec.builder.build(input.ncols(), rng)?;
            let mut model = Autoencoder::new(encoder, decoder)?
                .with_loss(spec.loss)
                .with_regularizer(spec.regularizer)
                .with_corruption(spec.corruption);
            let mut optimizer = spec.optimizer;
            let mut layer_observer = |report: &EpochReport| observer(index, report);
            let history = model.fit_with(
                input,
                None,
                &spec.training,
                &mut optimizer,
                rng,
                &mut layer_observer,
            )?;
            let next = model.encode(input)?;
            let (encoder, decoder, _, _) = model.into_parts();
            encoders.push(encoder);
            decoders.push(decoder);
            histories.push(history);
            codes = Some(next);
        }
        Ok(PretrainedStack {
            encoder: StackedEncoder::new(encoders)?,
            decoders,
            histories,
        })
    }

    /// [`pretrain_with`](Self::pretrain_with) over any source of samples (e.g. a file
    /// streamed from disk): the first layer trains on the source's batches, each later one on
    /// their codes through the layers below, computed batch by batch as they come, so the data
    /// are never held in memory. With [`InMemory`](crate::source::InMemory) the codes are
    /// computed per batch rather than for the whole matrix at once, so the bits may differ
    /// from [`pretrain_with`](Self::pretrain_with)'s in the last place.
    ///
    /// # Errors
    /// As [`pretrain_with`](Self::pretrain_with) and
    /// [`Autoencoder::fit_source`](crate::Autoencoder::fit_source).
    pub fn pretrain_source<S, G, F>(
        self,
        source: &mut S,
        rng: &mut G,
        observer: &mut F,
    ) -> Result<PretrainedStack<T, B::Encoder, B::Decoder>>
    where
        S: BatchSource<T> + ?Sized,
        G: Rng + ?Sized,
        F: FnMut(usize, &EpochReport) -> ControlFlow<()>,
    {
        crate::validate::check_nonzero(self.layers.len(), "number of layers")?;
        let mut encoders: Vec<B::Encoder> = Vec::with_capacity(self.layers.len());
        let mut decoders = Vec::with_capacity(self.layers.len());
        let mut histories = Vec::with_capacity(self.layers.len());
        for (index, spec) in self.layers.into_iter().enumerate() {
            let input_dim = encoders.last().map_or(source.features(), |e| e.code_dim());
            let (encoder, decoder) = spec.builder.build(input_dim, rng)?;
            let mut model = Autoencoder::new(encoder, decoder)?
                .with_loss(spec.loss)
                .with_regularizer(spec.regularizer)
                .with_corruption(spec.corruption);
            let mut optimizer = spec.optimizer;
            let mut layer_observer = |report: &EpochReport| observer(index, report);
            let history = if encoders.is_empty() {
                model.fit_source(
                    source,
                    None,
                    &spec.training,
                    &mut optimizer,
                    rng,
                    &mut layer_observer,
                )?
            } else {
                let below = &encoders;
                let mut codes = Mapped::new(&mut *source, input_dim, |batch: &DMatrix<T>| {
                    let mut h = below[0].encode(batch)?;
                    for encoder in &below[1..] {
                        h = encoder.encode(&h)?;
                    }
                    Ok(h)
                });
                model.fit_source(
                    &mut codes,
                    None,
                    &spec.training,
                    &mut optimizer,
                    rng,
                    &mut layer_observer,
                )?
            };
            let (encoder, decoder, _, _) = model.into_parts();
            encoders.push(encoder);
            decoders.push(decoder);
            histories.push(history);
        }
        Ok(PretrainedStack {
            encoder: StackedEncoder::new(encoders)?,
            decoders,
            histories,
        })
    }
}

impl<T: Scalar, E: Encoder<Scalar = T>, D: Decoder<T>> PretrainedStack<T, E, D> {
    /// The stack unrolled into a deep autoencoder: the encoders, then the decoders in reverse
    /// order, tied ones untied by [`Decoder::untied`] (a dense one gets a copy of its encoder's
    /// weights transposed), ready to be fine-tuned on reconstruction.
    ///
    /// # Errors
    /// None for a stack of the crate's layers; [`Error::MissingCodeWeights`](crate::Error::MissingCodeWeights)
    /// for a tied user decoder that does not implement [`Decoder::untied`]; shape errors for
    /// parts that do not fit.
    pub fn deep_autoencoder(
        &self,
    ) -> Result<Autoencoder<StackedEncoder<T, E>, StackedDecoder<T, D>>> {
        let decoders = self
            .decoders
            .iter()
            .zip(self.encoder.layers())
            .rev()
            .map(|(decoder, encoder)| decoder.untied(encoder.code_layer().weights))
            .collect::<Result<Vec<_>>>()?;
        Autoencoder::new(self.encoder.clone(), StackedDecoder::new(decoders)?)
    }
}
