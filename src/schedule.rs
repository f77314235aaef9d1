//! Learning-rate schedules: the rate of every update of a run, set on the optimiser by the
//! training loop.

use crate::Result;
use crate::validate::check_param;

/// How the rate decays after the warm-up; see [`LearningRateSchedule`].
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case", deny_unknown_fields)
)]
pub enum Decay {
    /// The initial rate throughout.
    Constant,
    /// The rate times `factor` after every `every` updates: `η·factor^⌊t/every⌋`.
    Step {
        /// Updates between two decays (≥ 1).
        every: u64,
        /// What the rate is multiplied by, in (0, 1].
        factor: f64,
    },
    /// The rate times `factor` after every update: `η·factor^t`.
    Exponential {
        /// What the rate is multiplied by per update, in (0, 1].
        factor: f64,
    },
    /// Half a cosine from the initial rate down to `minimum` over `over` updates, then
    /// `minimum`: `minimum + (η − minimum)·(1 + cos(π·t/over))/2`.
    Cosine {
        /// Updates the decay lasts (≥ 1).
        over: u64,
        /// The final rate, in [0, η].
        minimum: f64,
    },
}

/// The learning rate of every update `t = 0, 1, 2, …` of a run, counted across epochs.
///
/// A linear warm-up of `w` updates (none by default) ramps the rate up to the initial rate `η`
/// as `η·(t + 1)/w`; the [`Decay`] then runs from `t − w = 0`. Give a schedule to
/// [`TrainingConfig::with_schedule`](crate::TrainingConfig::with_schedule): training then sets
/// the optimiser's rate (through [`Optimizer::set_learning_rate`](crate::Optimizer::set_learning_rate))
/// before every update, so the rate the optimiser was built with is not used. A run resumed
/// from a checkpoint counts updates from the run's start, so it continues the same schedule.
///
/// ```
/// use autoencoders::LearningRateSchedule;
///
/// let cosine = LearningRateSchedule::cosine(0.1, 0.0, 100)?.with_warm_up(10)?;
/// assert_eq!(cosine.rate(0), 0.01); // warm-up: 0.1 · 1/10
/// assert_eq!(cosine.rate(9), 0.1);
/// assert_eq!(cosine.rate(10), 0.1); // the cosine starts at the initial rate
/// assert!((cosine.rate(60) - 0.05).abs() < 1e-12); // half-way down
/// assert_eq!(cosine.rate(500), 0.0); // and stays at the minimum
///
/// let step = LearningRateSchedule::step(0.1, 1000, 0.5)?;
/// assert_eq!((step.rate(999), step.rate(1000), step.rate(2500)), (0.1, 0.05, 0.025));
/// assert!(LearningRateSchedule::exponential(0.1, 1.5).is_err());
/// # Ok::<(), autoencoders::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(remote = "Self", deny_unknown_fields)
)]
pub struct LearningRateSchedule {
    initial: f64,
    decay: Decay,
    #[cfg_attr(feature = "serde", serde(default))]
    warm_up: u64,
}

impl LearningRateSchedule {
    /// The rate `initial` for every update (useful with a warm-up).
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) unless `initial`
    /// is finite and > 0.
    pub fn constant(initial: f64) -> Result<Self> {
        Self::new(initial, Decay::Constant)
    }

    /// `initial·factor^⌊t/every⌋`.
    ///
    /// # Errors
    /// As [`constant`](Self::constant), and for `every = 0` or `factor` outside (0, 1].
    pub fn step(initial: f64, every: u64, factor: f64) -> Result<Self> {
        Self::new(initial, Decay::Step { every, factor })
    }

    /// `initial·factor^t`.
    ///
    /// # Errors
    /// As [`constant`](Self::constant), and for `factor` outside (0, 1].
    pub fn exponential(initial: f64, factor: f64) -> Result<Self> {
        Self::new(initial, Decay::Exponential { factor })
    }

    /// Half a cosine from `initial` to `minimum` over `over` updates, then `minimum`.
    ///
    /// # Errors
    /// As [`constant`](Self::constant), and for `over = 0` or `minimum` outside [0, initial].
    pub fn cosine(initial: f64, minimum: f64, over: u64) -> Result<Self> {
        Self::new(initial, Decay::Cosine { over, minimum })
    }

    /// A schedule from its initial rate and decay.
    ///
    /// # Errors
    /// As the named constructors.
    pub fn new(initial: f64, decay: Decay) -> Result<Self> {
        let schedule = Self {
            initial,
            decay,
            warm_up: 0,
        };
        schedule.validate()?;
        Ok(schedule)
    }

    /// The same schedule after a linear warm-up over the first `updates` updates.
    ///
    /// # Errors
    /// None today; the `Result` leaves room for limits on the length.
    pub fn with_warm_up(mut self, updates: u64) -> Result<Self> {
        self.warm_up = updates;
        Ok(self)
    }

    /// The initial rate `η`.
    pub fn initial(&self) -> f64 {
        self.initial
    }

    /// The decay after the warm-up.
    pub fn decay(&self) -> Decay {
        self.decay
    }

    /// Updates of warm-up.
    pub fn warm_up(&self) -> u64 {
        self.warm_up
    }

    /// Checks the settings (every constructor does).
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`](crate::Error::InvalidHyperParameter) naming the value
    /// at fault.
    pub fn validate(&self) -> Result<()> {
        let eta = self.initial;
        check_param(
            "learning_rate",
            eta,
            eta.is_finite() && eta > 0.0,
            "a finite value > 0",
        )?;
        let unit = |f: f64| f.is_finite() && f > 0.0 && f <= 1.0;
        match self.decay {
            Decay::Constant => Ok(()),
            Decay::Step { every, factor } => {
                check_param("every", every as f64, every > 0, "at least 1 update")?;
                check_param("factor", factor, unit(factor), "a factor in (0, 1]")
            }
            Decay::Exponential { factor } => {
                check_param("factor", factor, unit(factor), "a factor in (0, 1]")
            }
            Decay::Cosine { over, minimum } => {
                check_param("over", over as f64, over > 0, "at least 1 update")?;
                check_param(
                    "minimum",
                    minimum,
                    minimum.is_finite() && (0.0..=eta).contains(&minimum),
                    "a rate in [0, the initial rate]",
                )
            }
        }
    }

    /// The rate of update `update` (from 0), always finite and ≥ 0.
    pub fn rate(&self, update: u64) -> f64 {
        if update < self.warm_up {
            return self.initial * (update + 1) as f64 / self.warm_up as f64;
        }
        let t = update - self.warm_up;
        match self.decay {
            Decay::Constant => self.initial,
            Decay::Step { every, factor } => self.initial * power(factor, t / every),
            Decay::Exponential { factor } => self.initial * power(factor, t),
            Decay::Cosine { over, minimum } => {
                if t >= over {
                    minimum
                } else {
                    let phase = std::f64::consts::PI * t as f64 / over as f64;
                    minimum + (self.initial - minimum) * (1.0 + phase.cos()) / 2.0
                }
            }
        }
    }
}

/// `factor^n` for a factor in (0, 1], without overflow of the exponent's type.
fn power(factor: f64, n: u64) -> f64 {
    match i32::try_from(n) {
        Ok(n) => factor.powi(n),
        // Beyond 2^31 decays any factor below 1 to 0 (and leaves 1 at 1).
        Err(_) => {
            if factor == 1.0 {
                1.0
            } else {
                0.0
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_decay_follows_its_formula() {
        let exponential = LearningRateSchedule::exponential(0.2, 0.9).unwrap();
        assert!((exponential.rate(3) - 0.2 * 0.729).abs() < 1e-15);
        assert_eq!(exponential.rate(u64::MAX), 0.0);
        let step = LearningRateSchedule::step(1.0, 3, 0.1).unwrap();
        assert_eq!(
            [0, 2, 3, 5, 6].map(|t| step.rate(t)),
            [1.0, 1.0, 0.1, 0.1, 0.1f64.powi(2)]
        );
        let cosine = LearningRateSchedule::cosine(1.0, 0.2, 4).unwrap();
        assert_eq!(cosine.rate(0), 1.0);
        let quarter = 0.2 + 0.8 * (1.0 + std::f64::consts::FRAC_1_SQRT_2) / 2.0;
        assert!((cosine.rate(1) - quarter).abs() < 1e-15);
        assert!((cosine.rate(2) - 0.6).abs() < 1e-15);
        assert_eq!(cosine.rate(4), 0.2);
        let constant = LearningRateSchedule::constant(0.3)
            .unwrap()
            .with_warm_up(3)
            .unwrap();
        for (t, expected) in [(0, 0.1), (1, 0.2), (2, 0.3), (3, 0.3), (100, 0.3)] {
            assert!((constant.rate(t) - expected).abs() < 1e-15, "{t}");
        }
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(LearningRateSchedule::constant(0.0).is_err());
        assert!(LearningRateSchedule::constant(f64::NAN).is_err());
        assert!(LearningRateSchedule::step(0.1, 0, 0.5).is_err());
        assert!(LearningRateSchedule::step(0.1, 10, 0.0).is_err());
        assert!(LearningRateSchedule::exponential(0.1, f64::INFINITY).is_err());
        assert!(LearningRateSchedule::cosine(0.1, 0.2, 10).is_err());
        assert!(LearningRateSchedule::cosine(0.1, -0.1, 10).is_err());
        assert!(LearningRateSchedule::cosine(0.1, 0.0, 0).is_err());
    }
}
