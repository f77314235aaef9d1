//! Full-batch L-BFGS runs that write checkpoints, and resume from one bit for bit.

use super::checkpoint::DataRecord;
use super::{
    ModelFileProblem, TensorFile, dtype_name, model_error, read_file, run_record, serialize_with,
    write_atomically,
};
use crate::optimizer::{Lbfgs, LbfgsIteration, LbfgsOutcome, LbfgsState, LbfgsStop, curvature};
use crate::run::DataFingerprint;
use crate::{
    Autoencoder, Checkpointing, Classifier, Corruption, Decoder, Encoder, Error, Loss, Observer,
    Regularizer, Result,
};
use nalgebra::DMatrix;
use safetensors::tensor::Dtype;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::path::Path;

/// The record key (section `lbfgs` of the envelope) of an L-BFGS checkpoint's record: JSON with `format_version`, the L-BFGS
/// `settings`, the model's scalar `dtype` and tensor `names` and `shapes`, the objective
/// `value` at the point, the `iterations` and `evaluations` so far, the number of remembered
/// `pairs`, the training `data`'s fingerprint and the `stop` reason when the run had stopped.
pub const LBFGS_KEY: &str = "autoencoders.lbfgs";

const LBFGS_VERSION: u32 = 1;

/// The checkpoint's tensors, all `f64`: the point and its gradient (`[n]`), and the
/// remembered steps and gradient changes (`[pairs, n]`, oldest first; absent without pairs).
const POINT: &str = "lbfgs.point";
const GRADIENT: &str = "lbfgs.gradient";
const STEPS: &str = "lbfgs.steps";
const CHANGES: &str = "lbfgs.gradient_changes";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsRecord {
    memory: usize,
    max_iterations: usize,
    gradient_tolerance: f64,
    function_tolerance: f64,
    c1: f64,
    c2: f64,
    max_evaluations: usize,
}

impl SettingsRecord {
    fn of(l: &Lbfgs) -> Self {
        Self {
            memory: l.memory,
            max_iterations: l.max_iterations,
            gradient_tolerance: l.gradient_tolerance,
            function_tolerance: l.function_tolerance,
            c1: l.c1,
            c2: l.c2,
            max_evaluations: l.max_evaluations,
        }
    }

    /// The settings, checked as the builder checks them.
    fn settings(&self) -> Result<Lbfgs> {
        Lbfgs::new()
            .with_memory(self.memory)?
            .with_max_iterations(self.max_iterations)
            .with_gradient_tolerance(self.gradient_tolerance)?
            .with_function_tolerance(self.function_tolerance)?
            .with_wolfe(self.c1, self.c2)?
            .with_max_evaluations(self.max_evaluations)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LbfgsRecord {
    format_version: u32,
    settings: SettingsRecord,
    dtype: String,
    names: Vec<String>,
    shapes: Vec<Vec<usize>>,
    value: f64,
    previous: Option<f64>,
    iterations: usize,
    evaluations: usize,
    pairs: usize,
    data: DataRecord,
    stop: Option<String>,
}

fn stop_name(stop: LbfgsStop) -> &'static str {
    match stop {
        LbfgsStop::GradientTolerance => "gradient-tolerance",
        LbfgsStop::FunctionTolerance => "function-tolerance",
        LbfgsStop::MaxIterations => "max-iterations",
        LbfgsStop::LineSearch => "line-search",
        LbfgsStop::Observer => "observer",
    }
}

fn stop_from_name(name: &str) -> Option<LbfgsStop> {
    [
        LbfgsStop::GradientTolerance,
        LbfgsStop::FunctionTolerance,
        LbfgsStop::MaxIterations,
        LbfgsStop::LineSearch,
        LbfgsStop::Observer,
    ]
    .into_iter()
    .find(|s| stop_name(*s) == name)
}

/// A full-batch L-BFGS run saved by
/// [`Autoencoder::fit_lbfgs_resumable`] or [`Classifier::fit_lbfgs_resumable`]: the point
/// (every parameter L-BFGS moves — all of an autoencoder's, a classifier's head alone when its
/// encoder is frozen — in `f64` as L-BFGS holds it) and its gradient, the remembered steps and
/// gradient changes, the objective value now and before the last step, the counts, the
/// settings, the names and shapes of the tensors moved, and the training data's fingerprint.
/// It requires the whole-file checksum, so any damage is refused. [`apply`](Self::apply) puts
/// its point into an autoencoder built the same way, for using the model as it stood.
#[derive(Clone, Debug, PartialEq)]
pub struct LbfgsCheckpoint {
    lbfgs: Lbfgs,
    state: LbfgsState,
    stop: Option<LbfgsStop>,
    run: RunIdentity,
}

impl LbfgsCheckpoint {
    /// Loads a checkpoint written by [`fit_lbfgs_resumable`](Autoencoder::fit_lbfgs_resumable).
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::ModelFile`] for a damaged or inconsistent file, or one that is
    /// not an L-BFGS checkpoint ([`ModelFileProblem::NotACheckpoint`]).
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
        let invalid =
            |detail: String| model_error(name, ModelFileProblem::InvalidMetadata { detail });
        let record: LbfgsRecord = run_record(&file, name, LBFGS_KEY)?;
        if record.format_version != LBFGS_VERSION {
            return Err(invalid(format!(
                "L-BFGS format_version {} is not {LBFGS_VERSION}",
                record.format_version
            )));
        }
        let lbfgs = record
            .settings
            .settings()
            .map_err(|e| invalid(format!("the L-BFGS settings: {e}")))?;
        let dtype = match record.dtype.as_str() {
            "F32" => dtype_name::<f32>(),
            "F64" => dtype_name::<f64>(),
            other => return Err(invalid(format!("unknown dtype `{other}`"))),
        };
        if record.names.len() != record.shapes.len() || record.names.is_empty() {
            return Err(invalid(format!(
                "{} tensor names for {} shapes",
                record.names.len(),
                record.shapes.len()
            )));
        }
        let mut n = 0usize;
        for shape in &record.shapes {
            let size = shape
                .iter()
                .try_fold(1usize, |size, &d| size.checked_mul(d))
                .filter(|&size| !shape.is_empty() && size > 0);
            n = size
                .and_then(|size| n.checked_add(size))
                .ok_or_else(|| invalid(format!("a tensor of shape {shape:?}")))?;
        }
        if !record.value.is_finite() {
            return Err(invalid("the objective value is not finite".to_owned()));
        }
        if record.pairs > lbfgs.memory {
            return Err(invalid(format!(
                "{} remembered pairs for a memory of {}",
                record.pairs, lbfgs.memory
            )));
        }
        // One evaluation at the start, at most `max_evaluations` per line search (the last
        // one perhaps failed), at least one per iteration.
        let most = record
            .iterations
            .checked_add(1)
            .and_then(|searches| searches.checked_mul(lbfgs.max_evaluations))
            .and_then(|n| n.checked_add(1));
        if record.evaluations <= record.iterations
            || most.is_none_or(|most| record.evaluations > most)
        {
            return Err(invalid(format!(
                "{} evaluations for {} iterations",
                record.evaluations, record.iterations
            )));
        }
        if record.pairs > record.iterations {
            return Err(invalid(format!(
                "{} remembered pairs after {} iterations",
                record.pairs, record.iterations
            )));
        }
        if record.previous.is_some() != (record.iterations > 0)
            || record.previous.is_some_and(|p| !p.is_finite())
        {
            return Err(invalid(
                "the value before the last step is missing, misplaced or not finite".to_owned(),
            ));
        }
        let stop = match &record.stop {
            Some(s) => {
                Some(stop_from_name(s).ok_or_else(|| invalid(format!("unknown stop `{s}`")))?)
            }
            None => None,
        };
        let data = record
            .data
            .fingerprint()
            .map_err(|problem| model_error(name, problem))?;
        let mut names = vec![POINT.to_owned(), GRADIENT.to_owned()];
        if record.pairs > 0 {
            names.extend([STEPS.to_owned(), CHANGES.to_owned()]);
        }
        file.check_listed(names.len(), names.iter().cloned())?;
        file.only(&names)?;
        // Each tensor's size is checked against the file's data before it is read, so a
        // hostile `n` costs nothing.
        let point = file.vector::<f64>(POINT, n)?.as_slice().to_vec();
        let gradient = file.vector::<f64>(GRADIENT, n)?.as_slice().to_vec();
        let mut pairs = VecDeque::new();
        if record.pairs > 0 {
            let steps = file.matrix::<f64>(STEPS, record.pairs, n)?;
            let changes = file.matrix::<f64>(CHANGES, record.pairs, n)?;
            for k in 0..record.pairs {
                let s: Vec<f64> = steps.row(k).iter().copied().collect();
                let y: Vec<f64> = changes.row(k).iter().copied().collect();
                // The test every remembered pair passed when it was taken.
                let Some(rho) = curvature(&s, &y) else {
                    return Err(invalid(format!(
                        "remembered pair {k} has no safely positive curvature"
                    )));
                };
                pairs.push_back((s, y, rho));
            }
        }
        Ok(Self {
            state: LbfgsState {
                point,
                gradient,
                value: record.value,
                previous: record.previous,
                pairs,
                iterations: record.iterations,
                evaluations: record.evaluations,
            },
            lbfgs,
            stop,
            run: RunIdentity {
                tensors: Tensors {
                    names: record.names,
                    shapes: record.shapes,
                    dtype,
                },
                data,
            },
        })
    }

    /// Iterations completed when the checkpoint was written.
    pub fn iterations_done(&self) -> usize {
        self.state.iterations
    }

    /// Function evaluations so far, all line searches included.
    pub fn evaluations(&self) -> usize {
        self.state.evaluations
    }

    /// The objective at the checkpoint's point.
    pub fn objective(&self) -> f64 {
        self.state.value
    }

    /// Why the run stopped, when the checkpoint was written as it stopped.
    pub fn stop(&self) -> Option<LbfgsStop> {
        self.stop
    }

    /// The settings of the checkpointed run.
    pub fn settings(&self) -> Lbfgs {
        self.lbfgs
    }

    /// Sets `model`'s parameters to the checkpoint's point (rounded to the model's scalar).
    ///
    /// # Errors
    /// [`Error::CheckpointMismatch`] when the model's tensors (names, shapes or scalar type)
    /// are not those of the checkpointed model; the model is then untouched.
    pub fn apply<E, D, R, C, L>(&self, model: &mut Autoencoder<E, D, R, C, L>) -> Result<()>
    where
        E: Encoder,
        D: Decoder<E::Scalar>,
        R: Regularizer<E::Scalar>,
        C: Corruption<E::Scalar>,
        L: Loss<E::Scalar>,
    {
        self.run.tensors.check(&Tensors::of_autoencoder(model))?;
        crate::training::set_flat(model.parameters_mut(), &self.state.point);
        Ok(())
    }
}

fn checkpoint_bytes(
    lbfgs: &Lbfgs,
    state: &LbfgsState,
    stop: Option<LbfgsStop>,
    run: &RunIdentity,
) -> Result<Vec<u8>> {
    let n = state.point.len();
    let record = LbfgsRecord {
        format_version: LBFGS_VERSION,
        settings: SettingsRecord::of(lbfgs),
        dtype: run.tensors.dtype.to_owned(),
        names: run.tensors.names.clone(),
        shapes: run.tensors.shapes.clone(),
        value: state.value,
        previous: state.previous,
        iterations: state.iterations,
        evaluations: state.evaluations,
        pairs: state.pairs.len(),
        data: DataRecord::from_fingerprint(&run.data),
        stop: stop.map(|s| stop_name(s).to_owned()),
    };
    let json = serde_json::to_string(&record).map_err(|e| {
        model_error(
            "<checkpoint>",
            ModelFileProblem::InvalidMetadata {
                detail: format!("cannot write the L-BFGS record: {e}"),
            },
        )
    })?;
    // Row-major little-endian bytes: a pair's vector is a row.
    let bytes = |rows: &mut dyn Iterator<Item = &Vec<f64>>| -> Vec<u8> {
        rows.flat_map(|row| row.iter().flat_map(|v| v.to_le_bytes()))
            .collect()
    };
    let mut tensors = vec![
        (
            POINT.to_owned(),
            vec![n],
            bytes(&mut std::iter::once(&state.point)),
        ),
        (
            GRADIENT.to_owned(),
            vec![n],
            bytes(&mut std::iter::once(&state.gradient)),
        ),
    ];
    if !state.pairs.is_empty() {
        let m = state.pairs.len();
        tensors.push((
            STEPS.to_owned(),
            vec![m, n],
            bytes(&mut state.pairs.iter().map(|p| &p.0)),
        ));
        tensors.push((
            CHANGES.to_owned(),
            vec![m, n],
            bytes(&mut state.pairs.iter().map(|p| &p.1)),
        ));
    }
    serialize_with(
        tensors,
        |crc32| format!("{{\"crc32\":\"{crc32}\"}}"),
        vec![(LBFGS_KEY.to_owned(), json)],
        Dtype::F64,
        "<checkpoint>",
    )
}

impl<E, D, R, C, L> Autoencoder<E, D, R, C, L>
where
    E: Encoder,
    D: Decoder<E::Scalar>,
    R: Regularizer<E::Scalar>,
    C: Corruption<E::Scalar>,
    L: Loss<E::Scalar>,
{
    /// [`fit_lbfgs`](Self::fit_lbfgs), writing an [`LbfgsCheckpoint`] as `checkpointing`
    /// says — after every `interval` iterations, and when the run stops — and resuming from
    /// `resume` when given.
    ///
    /// Without `resume`, the run gives the same bits as `fit_lbfgs`. With it, the run
    /// continues from the checkpoint's point and memory to the same model and outcome, bit for
    /// bit, as a run without a break (`lbfgs` may allow more iterations than the checkpointed
    /// run did; every other setting must be the same). The model must be built as the
    /// checkpointed one was and `x` must be the same data: the resumed run evaluates the
    /// objective once at the saved point and refuses to go on unless value and gradient are the
    /// saved ones to the bit (that evaluation is not counted). A checkpoint written when the
    /// run had converged ends the resumed run at once by the same tests; one written when its
    /// line search had failed ends it at once too, with the model at its point.
    ///
    /// ```
    /// use autoencoders::optimizer::{Lbfgs, LbfgsStop};
    /// use autoencoders::{Checkpointing, DenseBuilder, LbfgsCheckpoint};
    /// use autoencoders::rand::{SeedableRng, rngs::ChaCha8Rng};
    /// use nalgebra::DMatrix;
    ///
    /// let x = DMatrix::from_fn(16, 6, |i, j| ((i * 5 + j) % 7) as f64 / 7.0);
    /// let build = || DenseBuilder::new(6, 3).build::<f64, _>(&mut ChaCha8Rng::seed_from_u64(1));
    /// let path = std::env::temp_dir().join("autoencoders-doc-lbfgs.safetensors");
    /// let lbfgs = Lbfgs::new().with_max_iterations(12);
    ///
    /// // Five iterations, with a checkpoint when they end…
    /// let mut first = build()?;
    /// let checkpointing = Checkpointing::new(&path).with_interval(5);
    /// first.fit_lbfgs_resumable(&x, &lbfgs.with_max_iterations(5), Some(&checkpointing), None, &mut ())?;
    /// let checkpoint = LbfgsCheckpoint::load(&path)?;
    /// assert_eq!(checkpoint.stop(), Some(LbfgsStop::MaxIterations));
    /// // … then the rest from the checkpoint, as if there had been no break.
    /// let mut resumed = build()?;
    /// let rest = resumed.fit_lbfgs_resumable(&x, &lbfgs, None, Some(checkpoint), &mut ())?;
    ///
    /// let mut whole = build()?;
    /// let all = whole.fit_lbfgs(&x, &lbfgs, &mut ())?;
    /// assert_eq!(resumed.parameters(), whole.parameters());
    /// assert_eq!(rest, all);
    /// # std::fs::remove_file(path).ok();
    /// # Ok::<(), autoencoders::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`fit_lbfgs`](Self::fit_lbfgs); [`Error::ZeroDimension`] for a checkpoint interval
    /// of 0; [`Error::CheckpointMismatch`] when `resume` does not fit these settings, this
    /// model or `x` (the model is then untouched, except when only the objective differs: it
    /// then holds the checkpoint's point, as it does when that evaluation fails); [`Error::Io`] when a checkpoint cannot be written
    /// (the previous one is then intact, and the model holds the last accepted point).
    pub fn fit_lbfgs_resumable<B>(
        &mut self,
        x: &DMatrix<E::Scalar>,
        lbfgs: &Lbfgs,
        checkpointing: Option<&Checkpointing>,
        resume: Option<LbfgsCheckpoint>,
        observer: &mut B,
    ) -> Result<LbfgsOutcome>
    where
        B: Observer<LbfgsIteration> + ?Sized,
    {
        crate::threads::check_environment()?;
        self.check(x, "training data")?;
        let run = RunIdentity {
            tensors: Tensors::of_autoencoder(self),
            data: DataFingerprint::of(x),
        };
        resumable(
            &run,
            lbfgs,
            checkpointing,
            resume,
            observer,
            |resume, hook| self.lbfgs_run(x, lbfgs, resume, hook),
        )
    }
}

impl<E: Encoder> Classifier<E> {
    /// [`fit_lbfgs`](Self::fit_lbfgs), writing an [`LbfgsCheckpoint`] as `checkpointing`
    /// says and resuming from `resume`, as
    /// [`Autoencoder::fit_lbfgs_resumable`] does: the checkpoint holds the trainable tensors
    /// (the head's alone when the encoder is frozen) and the fingerprint of the data and the
    /// labels.
    ///
    /// # Errors
    /// As [`Autoencoder::fit_lbfgs_resumable`].
    pub fn fit_lbfgs_resumable<B>(
        &mut self,
        x: &DMatrix<E::Scalar>,
        labels: &[usize],
        lbfgs: &Lbfgs,
        checkpointing: Option<&Checkpointing>,
        resume: Option<LbfgsCheckpoint>,
        observer: &mut B,
    ) -> Result<LbfgsOutcome>
    where
        B: Observer<LbfgsIteration> + ?Sized,
    {
        crate::threads::check_environment()?;
        self.check_lbfgs(x, labels)?;
        let run = RunIdentity {
            tensors: Tensors {
                names: self.trainable_names(),
                shapes: self.trainable_shapes(),
                dtype: dtype_name::<E::Scalar>(),
            },
            data: DataFingerprint::of_labelled(x, labels),
        };
        resumable(
            &run,
            lbfgs,
            checkpointing,
            resume,
            observer,
            |resume, hook| self.lbfgs_run(x, labels, lbfgs, resume, hook),
        )
    }
}

/// The tensors L-BFGS moves: their names, shapes and scalar type.
#[derive(Clone, Debug, PartialEq)]
struct Tensors {
    names: Vec<String>,
    shapes: Vec<Vec<usize>>,
    dtype: &'static str,
}

impl Tensors {
    /// Every tensor of an autoencoder.
    fn of_autoencoder<E, D, R, C, L>(model: &Autoencoder<E, D, R, C, L>) -> Self
    where
        E: Encoder,
        D: Decoder<E::Scalar>,
        R: Regularizer<E::Scalar>,
        C: Corruption<E::Scalar>,
        L: Loss<E::Scalar>,
    {
        Self {
            names: model.parameter_names(),
            shapes: model.parameter_shapes(),
            dtype: dtype_name::<E::Scalar>(),
        }
    }

    /// [`Error::CheckpointMismatch`] unless `model`'s are these.
    fn check(&self, model: &Tensors) -> Result<()> {
        if self == model {
            Ok(())
        } else {
            Err(Error::CheckpointMismatch {
                what: "the model's tensors (names, shapes or scalar type)",
            })
        }
    }
}

/// What a checkpoint must match to resume a run: the tensors L-BFGS moves and the data.
#[derive(Clone, Debug, PartialEq)]
struct RunIdentity {
    tensors: Tensors,
    data: DataFingerprint,
}

/// A resumable L-BFGS run of any model: checks `resume` against `run` and `lbfgs`, then runs
/// `fit` (the model's [`lbfgs_drive`](crate::training::lbfgs_drive)) from it, writing
/// checkpoints as `checkpointing` says.
fn resumable<B>(
    run: &RunIdentity,
    lbfgs: &Lbfgs,
    checkpointing: Option<&Checkpointing>,
    resume: Option<LbfgsCheckpoint>,
    observer: &mut B,
    fit: impl FnOnce(
        Option<(LbfgsState, Option<LbfgsStop>)>,
        crate::training::LbfgsHook<'_>,
    ) -> Result<(LbfgsOutcome, LbfgsState)>,
) -> Result<LbfgsOutcome>
where
    B: Observer<LbfgsIteration> + ?Sized,
{
    if let Some(checkpointing) = checkpointing {
        checkpointing.validate()?;
    }
    let resume = match resume {
        None => None,
        Some(checkpoint) => {
            let same_settings = SettingsRecord {
                max_iterations: 0,
                ..SettingsRecord::of(&checkpoint.lbfgs)
            } == SettingsRecord {
                max_iterations: 0,
                ..SettingsRecord::of(lbfgs)
            };
            if !same_settings {
                return Err(Error::CheckpointMismatch {
                    what: "the L-BFGS settings (all but the iteration budget)",
                });
            }
            checkpoint.run.tensors.check(&run.tensors)?;
            if checkpoint.run.data != run.data {
                return Err(Error::CheckpointMismatch {
                    what: "the training data",
                });
            }
            Some((checkpoint.state, checkpoint.stop))
        }
    };
    let write = |state: &LbfgsState, stop: Option<LbfgsStop>| -> Result<()> {
        match checkpointing {
            Some(checkpointing) => write_atomically(
                checkpointing.path(),
                &checkpoint_bytes(lbfgs, state, stop, run)?,
            ),
            None => Ok(()),
        }
    };
    let interval = checkpointing.map_or(usize::MAX, Checkpointing::interval);
    let (outcome, state) = fit(resume, &mut |report, state| {
        let flow = observer.on_epoch(report);
        if flow.is_continue() && report.iteration % interval == 0 {
            write(state, None)?;
        }
        Ok(flow)
    })?;
    write(&state, Some(outcome.stop))?;
    Ok(outcome)
}
