//! Greedy layer-wise pretraining: train an autoencoder, encode the data, train the next one on
//! the codes, and stack the encoders.

use crate::{
    Activation, Adam, Autoencoder, BoxedCorruption, Corruption, DenseDecoder, DenseEncoder,
    EpochReport, History, Init, Loss, NoCorruption, NoRegularizer, Optimizer, ReconstructionLoss,
    Regularizer, Result, Scalar, StackedDecoder, StackedEncoder, TrainingConfig,
};
use nalgebra::DMatrix;
use rand::Rng;
use std::ops::ControlFlow;

/// One layer of a [`LayerwisePretrainer`]: the autoencoder that trains it and how.
///
/// Defaults: sigmoid encoder and decoder, untied, squared error, Glorot-uniform weights, no
/// regularizer, no corruption, [`TrainingConfig::default`], Adam with learning rate 1e-3.
pub struct LayerSpec<T: Scalar> {
    code_dim: usize,
    activation: Activation,
    decoder_activation: Activation,
    tied: bool,
    loss: Box<dyn Loss<T> + Send + Sync>,
    init: Init,
    regularizer: Box<dyn Regularizer<T> + Send + Sync>,
    corruption: BoxedCorruption<T>,
    training: TrainingConfig,
    optimizer: Box<dyn Optimizer<T> + Send + Sync>,
}

impl<T: Scalar> std::fmt::Debug for LayerSpec<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerSpec")
            .field("code_dim", &self.code_dim)
            .field("activation", &self.activation)
            .field("decoder_activation", &self.decoder_activation)
            .field("tied", &self.tied)
            .field("loss", &self.loss.name())
            .field("regularizer", &self.regularizer.name())
            .field("corruption", &self.corruption.name())
            .field("training", &self.training)
            .finish_non_exhaustive()
    }
}

impl<T: Scalar> LayerSpec<T> {
    /// A layer with a code of `code_dim` units and the defaults above.
    pub fn new(code_dim: usize) -> Self {
        Self {
            code_dim,
            activation: Activation::Sigmoid,
            decoder_activation: Activation::Sigmoid,
            tied: false,
            loss: Box::new(ReconstructionLoss::SquaredError),
            init: Init::GlorotUniform,
            regularizer: Box::new(NoRegularizer),
            corruption: Box::new(NoCorruption),
            training: TrainingConfig::default(),
            optimizer: Box::new(Adam::<T>::default()),
        }
    }

    /// The layer's (encoder) activation.
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// The activation of the decoder that trains the layer.
    pub fn with_decoder_activation(mut self, activation: Activation) -> Self {
        self.decoder_activation = activation;
        self
    }

    /// Whether that decoder is tied to the layer's weights.
    pub fn with_tied(mut self, tied: bool) -> Self {
        self.tied = tied;
        self
    }

    /// The reconstruction loss: one of [`ReconstructionLoss`] or a user's own [`Loss`],
    /// `Send + Sync` as the crate's are.
    pub fn with_loss(mut self, loss: impl Loss<T> + Send + Sync + 'static) -> Self {
        self.loss = Box::new(loss);
        self
    }

    /// The weight initialisation.
    pub fn with_init(mut self, init: Init) -> Self {
        self.init = init;
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
#[derive(Debug, Default)]
pub struct LayerwisePretrainer<T: Scalar> {
    layers: Vec<LayerSpec<T>>,
}

/// The result of greedy pretraining.
#[derive(Clone, Debug)]
pub struct PretrainedStack<T: Scalar> {
    /// The trained encoders, stacked: usable wherever an encoder is.
    pub encoder: StackedEncoder<T>,
    /// The decoder each layer was trained with (tied ones own only their bias).
    pub decoders: Vec<DenseDecoder<T>>,
    /// Each layer's training history.
    pub histories: Vec<History>,
}

impl<T: Scalar> LayerwisePretrainer<T> {
    /// No layers yet.
    pub fn new() -> Self {
        Self { layers: Vec::new() }
    }

    /// Adds a layer on top.
    pub fn with_layer(mut self, layer: LayerSpec<T>) -> Self {
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
    ) -> Result<PretrainedStack<T>> {
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
    ) -> Result<PretrainedStack<T>>
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
            let input_dim = input.ncols();
            let encoder =
                DenseEncoder::new(input_dim, spec.code_dim, spec.activation, spec.init, rng)?;
            let decoder = if spec.tied {
                DenseDecoder::tied(spec.code_dim, input_dim, spec.decoder_activation)?
            } else {
                DenseDecoder::new(
                    spec.code_dim,
                    input_dim,
                    spec.decoder_activation,
                    spec.init,
                    rng,
                )?
            };
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
}

impl<T: Scalar> PretrainedStack<T> {
    /// The stack unrolled into a deep autoencoder: the encoders, then the decoders in reverse
    /// order, tied ones untied (each gets a copy of its encoder's weights transposed), ready to
    /// be fine-tuned on reconstruction.
    ///
    /// # Errors
    /// None for a stack this crate trained; shape errors otherwise.
    pub fn deep_autoencoder(&self) -> Result<Autoencoder<StackedEncoder<T>, StackedDecoder<T>>> {
        let decoders = self
            .decoders
            .iter()
            .zip(self.encoder.layers())
            .rev()
            .map(|(decoder, encoder)| decoder.untied(encoder.weights()))
            .collect();
        Autoencoder::new(self.encoder.clone(), StackedDecoder::new(decoders)?)
    }
}
