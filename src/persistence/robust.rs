//! A robust autoencoder run that writes checkpoints after its outer iterations, and resumes
//! from one bit for bit.

use super::checkpoint::{Extra, ReportRecord, RunState};
use super::parameters::TensorBytes;
use super::write_atomically;
use super::{ModelFileProblem, TensorFile, matrix_bytes, model_error, read_file, run_record};
use crate::robust::{
    RobustAutoencoder, RobustFit, RobustReport, RobustState, RobustStop, Shrinkage,
};
use crate::run::DataFingerprint;
use crate::{
    Autoencoder, Checkpoint, Checkpointing, Corruption, Decoder, Encoder, Error, Loss, Observer,
    Optimizer, Regularizer, Result, Scalar,
};
use nalgebra::DMatrix;
use rand::rngs::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The record key (section `robust` of the envelope) of a robust autoencoder checkpoint's record: JSON with `format_version`,
/// `lambda`, `shrinkage`, the data's `rows` and `columns`, the outer iterations' `reports` and
/// the `stop` reason when the run had stopped.
pub const ROBUST_KEY: &str = "autoencoders.robust";

const ROBUST_VERSION: u32 = 1;

/// The checkpoint's tensors besides the model's and the optimiser's: `S`, `L` and `L_S`.
const OUTLIERS: &str = "robust.outliers";
const CLEAN: &str = "robust.clean";
const PREVIOUS: &str = "robust.previous";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RobustRecord {
    format_version: u32,
    lambda: f64,
    shrinkage: String,
    rows: usize,
    columns: usize,
    reports: Vec<RobustReportRecord>,
    stop: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RobustReportRecord {
    iteration: usize,
    inner: ReportRecord,
    penalty: f64,
    outliers: usize,
    residual: f64,
    change: f64,
}

impl RobustReportRecord {
    fn of(r: &RobustReport) -> Self {
        Self {
            iteration: r.iteration,
            inner: ReportRecord::of(&r.inner),
            penalty: r.penalty,
            outliers: r.outliers,
            residual: r.residual,
            change: r.change,
        }
    }

    fn report(&self) -> RobustReport {
        RobustReport {
            iteration: self.iteration,
            inner: self.inner.report(),
            penalty: self.penalty,
            outliers: self.outliers,
            residual: self.residual,
            change: self.change,
        }
    }
}

/// A robust autoencoder run saved by
/// [`fit_resumable`](RobustAutoencoder::fit_resumable) after an outer iteration: the model's
/// inner training [`Checkpoint`] (its parameters, the optimiser's state, the generator, the
/// last inner history and the data's fingerprint), the split (`S` as `robust.outliers`, the
/// next target `L` as `robust.clean`, and `L_S` as `robust.previous`, each `n × input_dim`),
/// the settings and the outer reports under [`ROBUST_KEY`]. It requires the whole-file
/// checksum, so any damage is refused.
#[derive(Debug)]
pub struct RobustCheckpoint<T: Scalar> {
    lambda: f64,
    shrinkage: Shrinkage,
    state: RobustState<T>,
    stop: Option<RobustStop>,
    current: Checkpoint<T>,
}

impl<T: Scalar> RobustCheckpoint<T> {
    /// Loads a checkpoint written by [`fit_resumable`](RobustAutoencoder::fit_resumable).
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::ModelFile`] for a damaged file, one of another dtype, or one
    /// that is not a robust autoencoder checkpoint ([`ModelFileProblem::NotACheckpoint`]).
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
        let fail = |problem| model_error(name, problem);
        let invalid = |detail: String| fail(ModelFileProblem::InvalidMetadata { detail });
        let record: RobustRecord = run_record(&file, name, ROBUST_KEY)?;
        if record.format_version != ROBUST_VERSION {
            return Err(invalid(format!(
                "robust format_version {} is not {ROBUST_VERSION}",
                record.format_version
            )));
        }
        if !(record.lambda.is_finite() && record.lambda > 0.0) {
            return Err(invalid(format!("lambda {} is not > 0", record.lambda)));
        }
        let shrinkage = Shrinkage::from_name(&record.shrinkage)
            .ok_or_else(|| invalid(format!("unknown shrinkage `{}`", record.shrinkage)))?;
        let stop = match &record.stop {
            Some(s) => Some(
                RobustStop::from_name(s).ok_or_else(|| invalid(format!("unknown stop `{s}`")))?,
            ),
            None => None,
        };
        if record.reports.is_empty() {
            return Err(invalid("no outer iteration is recorded".to_owned()));
        }
        for (i, r) in record.reports.iter().enumerate() {
            if r.iteration != i {
                return Err(invalid(format!(
                    "report {i} is of iteration {}",
                    r.iteration
                )));
            }
            if ![r.penalty, r.residual, r.change]
                .iter()
                .all(|v| v.is_finite() && *v >= 0.0)
            {
                return Err(invalid(format!(
                    "report {i} holds a negative or non-finite measure"
                )));
            }
        }
        let names = [OUTLIERS, CLEAN, PREVIOUS].map(str::to_owned);
        file.check_listed(names.len(), names.iter().cloned())?;
        let current = Checkpoint::from_file(&file, name, &names)?;
        let matrix = |tensor: &str| file.matrix::<T>(tensor, record.rows, record.columns);
        Ok(Self {
            lambda: record.lambda,
            shrinkage,
            state: RobustState {
                outliers: matrix(OUTLIERS)?,
                clean: matrix(CLEAN)?,
                previous: matrix(PREVIOUS)?,
                reports: record
                    .reports
                    .iter()
                    .map(RobustReportRecord::report)
                    .collect(),
            },
            stop,
            current,
        })
    }

    /// Outer iterations completed when the checkpoint was written.
    pub fn iterations_done(&self) -> usize {
        self.state.reports.len()
    }

    /// Their reports.
    pub fn reports(&self) -> &[RobustReport] {
        &self.state.reports
    }

    /// Why the run stopped, when the checkpoint was written as it stopped.
    pub fn stop(&self) -> Option<RobustStop> {
        self.stop
    }

    /// The outlier part `S` at the checkpoint.
    pub fn outliers(&self) -> &DMatrix<T> {
        &self.state.outliers
    }
}

fn tensors<T: Scalar>(state: &RobustState<T>) -> Vec<TensorBytes> {
    let shape = vec![state.outliers.nrows(), state.outliers.ncols()];
    [
        (OUTLIERS, &state.outliers),
        (CLEAN, &state.clean),
        (PREVIOUS, &state.previous),
    ]
    .into_iter()
    .map(|(name, m)| (name.to_owned(), shape.clone(), matrix_bytes(m)))
    .collect()
}

impl RobustAutoencoder {
    /// [`fit`](Self::fit) with a ChaCha8 generator, writing a [`RobustCheckpoint`] as
    /// `checkpointing` says — after every `interval` outer iterations, and when the run
    /// stops — and resuming from `resume` when given.
    ///
    /// Without `resume`, the run gives the same bits as `fit`. With it, the model, the
    /// optimiser and `rng` are set to the checkpoint's, and the run continues from the next
    /// outer iteration to the same model, split and reports, bit for bit, as a run without a
    /// break; `with_iterations` may ask for more than the checkpointed run did. The model must
    /// be built as the checkpointed one was (as for [`Checkpoint::resume`]), with the same `λ`,
    /// shrinkage and inner settings, and `x` must be the same data.
    ///
    /// ```
    /// use autoencoders::robust::RobustAutoencoder;
    /// use autoencoders::{Adam, Checkpointing, DenseBuilder, RobustCheckpoint, TrainingConfig};
    /// use autoencoders::rand::{SeedableRng, rngs::ChaCha8Rng};
    /// use nalgebra::DMatrix;
    ///
    /// let x = DMatrix::from_fn(24, 5, |i, j| ((i * 3 + j) % 7) as f64 / 7.0);
    /// let robust = RobustAutoencoder::new(0.3)?
    ///     .with_iterations(4)
    ///     .with_inner(TrainingConfig::default().with_epochs(2).with_batch_size(8));
    /// let build = || DenseBuilder::new(5, 2).build::<f64, _>(&mut ChaCha8Rng::seed_from_u64(1));
    /// let path = std::env::temp_dir().join("autoencoders-doc-robust.safetensors");
    ///
    /// // Two outer iterations, with a checkpoint after each…
    /// let mut first = build()?;
    /// let mut rng = ChaCha8Rng::seed_from_u64(2);
    /// let checkpointing = Checkpointing::new(&path);
    /// robust.with_iterations(2).fit_resumable(
    ///     &mut first, &x, &mut Adam::new(1e-2)?, &mut rng, Some(&checkpointing), None, &mut ())?;
    /// // … then the other two from the checkpoint, as if there had been no break.
    /// let mut resumed = build()?;
    /// let checkpoint = RobustCheckpoint::<f64>::load(&path)?;
    /// assert_eq!(checkpoint.iterations_done(), 2);
    /// let rest = robust.fit_resumable(
    ///     &mut resumed, &x, &mut Adam::new(1e-2)?, &mut ChaCha8Rng::seed_from_u64(0), None,
    ///     Some(checkpoint), &mut ())?;
    ///
    /// let mut whole = build()?;
    /// let all = robust.fit(&mut whole, &x, &mut Adam::new(1e-2)?, &mut ChaCha8Rng::seed_from_u64(2), &mut ())?;
    /// assert_eq!(resumed.parameters(), whole.parameters());
    /// assert_eq!(rest, all);
    /// # std::fs::remove_file(path).ok();
    /// # Ok::<(), autoencoders::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`fit`](Self::fit); [`Error::CheckpointMismatch`] when `resume` does not fit these
    /// settings, this model or optimiser, or `x` (when only the data differ, the model and the
    /// optimiser already hold the checkpoint's state); [`Error::Io`] when a checkpoint cannot
    /// be written (the previous one is then intact).
    #[allow(clippy::too_many_arguments)]
    pub fn fit_resumable<E, D, R, C, L, O, B>(
        &self,
        model: &mut Autoencoder<E, D, R, C, L>,
        x: &DMatrix<E::Scalar>,
        optimizer: &mut O,
        rng: &mut ChaCha8Rng,
        checkpointing: Option<&Checkpointing>,
        resume: Option<RobustCheckpoint<E::Scalar>>,
        observer: &mut B,
    ) -> Result<RobustFit<E::Scalar>>
    where
        E: Encoder,
        D: Decoder<E::Scalar>,
        R: Regularizer<E::Scalar>,
        C: Corruption<E::Scalar>,
        L: Loss<E::Scalar>,
        O: Optimizer<E::Scalar>,
        B: Observer<RobustReport> + ?Sized,
    {
        self.validate()?;
        model.check(x, "training data")?;
        if let Some(checkpointing) = checkpointing {
            checkpointing.validate()?;
        }
        let state = match resume {
            None => RobustState::start(x),
            Some(checkpoint) => {
                if checkpoint.lambda.to_bits() != self.lambda().to_bits()
                    || checkpoint.shrinkage != self.shrinkage()
                {
                    return Err(Error::CheckpointMismatch {
                        what: "the robust settings (lambda and the shrinkage)",
                    });
                }
                if checkpoint.state.outliers.shape() != x.shape() {
                    return Err(Error::CheckpointMismatch {
                        what: "the training data",
                    });
                }
                if checkpoint.current.config() != *self.inner() {
                    return Err(Error::CheckpointMismatch {
                        what: "the inner training settings",
                    });
                }
                let run = checkpoint.current.resume(model, &mut *optimizer)?;
                run.check_data(x, None)?;
                let (_, saved, _) = run.into_parts();
                *rng = saved;
                checkpoint.state
            }
        };
        let fingerprint = DataFingerprint::of(x);
        let record = |state: &RobustState<E::Scalar>, stop: Option<RobustStop>| RobustRecord {
            format_version: ROBUST_VERSION,
            lambda: self.lambda(),
            shrinkage: self.shrinkage().name().to_owned(),
            rows: x.nrows(),
            columns: x.ncols(),
            reports: state.reports.iter().map(RobustReportRecord::of).collect(),
            stop: stop.map(|s| s.name().to_owned()),
        };
        self.run(
            model,
            x,
            optimizer,
            rng,
            observer,
            state,
            |model, state, stop, history, optimizer, rng| {
                let Some(checkpointing) = checkpointing else {
                    return Ok(());
                };
                if stop.is_none() && state.reports.len() % checkpointing.interval() != 0 {
                    return Ok(());
                }
                let json = serde_json::to_string(&record(state, stop)).map_err(|e| {
                    model_error(
                        "<checkpoint>",
                        ModelFileProblem::InvalidMetadata {
                            detail: format!("cannot write the robust record: {e}"),
                        },
                    )
                })?;
                let bytes = model.checkpoint_bytes(
                    RunState {
                        optimizer: optimizer.state(),
                        generator: rng,
                        history,
                        config: self.inner(),
                        training_data: &fingerprint,
                        validation_data: None,
                    },
                    &Extra {
                        tensors: tensors(state),
                        metadata: vec![(ROBUST_KEY.to_owned(), json)],
                    },
                )?;
                write_atomically(checkpointing.path(), &bytes)
            },
        )
    }
}
