//! Anomaly detection: per-sample scores from any model, a detector that turns them into
//! inlier/outlier decisions with a threshold, and the exact AUROC and average precision.
//!
//! Train a model on data that is mostly normal, score each sample by how badly the model
//! explains it (higher is more anomalous), and flag the samples whose score exceeds a threshold:
//! one given explicitly, or the `(1 − c)` quantile of the training scores for a contamination
//! fraction `c` (so that about a fraction `c` of the training data is flagged, the role of PyOD's
//! `contamination`).
//!
//! | model | score of a sample |
//! | --- | --- |
//! | [`Autoencoder`] (any parts, any [`Loss`]) | its reconstruction loss, [`Autoencoder::sample_losses`] |
//! | [`Pca`] | its squared reconstruction error `‖x − x̂‖²` |
//! | [`Vae`], through [`VaeScorer`] | its negative ELBO, or its importance-sampled `−log p(x)` |
//!
//! A user's model scores through the [`AnomalyScore`] trait.
//!
//! ```
//! use autoencoders::anomaly::{AnomalyDetector, Threshold, auroc};
//! use autoencoders::{Adam, DenseBuilder, TrainingConfig};
//! use autoencoders::rand::{SeedableRng, rngs::ChaCha8Rng};
//! use nalgebra::DMatrix;
//!
//! let mut rng = ChaCha8Rng::seed_from_u64(0);
//! // Normal samples lie near the line x₁ = x₀; the last test sample does not.
//! let train = DMatrix::from_fn(200, 2, |i, _| (i % 20) as f64 / 20.0);
//! let mut model = DenseBuilder::new(2, 1).build::<f64, _>(&mut rng)?;
//! let config = TrainingConfig::default().with_epochs(200).with_batch_size(20);
//! model.fit(&train, &config, &mut Adam::new(0.05)?, &mut rng)?;
//!
//! let detector = AnomalyDetector::fit(model, &train, Threshold::Contamination(0.05))?;
//! let test = DMatrix::from_row_slice(3, 2, &[0.3, 0.3, 0.6, 0.6, 0.9, 0.1]);
//! assert_eq!(detector.predict(&test)?, [false, false, true]);
//! let scores = detector.scores(&test)?;
//! assert_eq!(auroc(&scores, &[false, false, true])?, 1.0);
//! # Ok::<(), autoencoders::Error>(())
//! ```

use crate::validate::check_data;
use crate::{
    Autoencoder, Corruption, Decoder, Encoder, Error, Loss, Pca, Regularizer, Result, Scalar, Vae,
};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;

/// A model that scores samples: one score per row, higher for a sample that fits the model
/// worse. Implemented for every [`Autoencoder`], for [`Pca`] and, through [`VaeScorer`], for
/// the variational autoencoder; a user's model implements it to use [`AnomalyDetector`].
pub trait AnomalyScore<T: Scalar> {
    /// Features per sample.
    fn input_dim(&self) -> usize;

    /// One finite score per row of `x` (`n × input_dim`).
    ///
    /// # Errors
    /// Whatever the model finds wrong with `x` (shape, non-finite values, range).
    fn scores(&self, x: &DMatrix<T>) -> Result<Vec<f64>>;
}

impl<E, D, R, C, L> AnomalyScore<E::Scalar> for Autoencoder<E, D, R, C, L>
where
    E: Encoder,
    D: Decoder<E::Scalar>,
    R: Regularizer<E::Scalar>,
    C: Corruption<E::Scalar>,
    L: Loss<E::Scalar>,
{
    fn input_dim(&self) -> usize {
        Autoencoder::input_dim(self)
    }

    /// [`Autoencoder::sample_losses`]: each sample's reconstruction loss, without corruption.
    fn scores(&self, x: &DMatrix<E::Scalar>) -> Result<Vec<f64>> {
        self.sample_losses(x)
    }
}

impl<T: Scalar> AnomalyScore<T> for Pca<T> {
    fn input_dim(&self) -> usize {
        self.mean().len()
    }

    /// `‖x − x̂‖²` per sample, `x̂` the reconstruction from the components, summed in `f64`.
    fn scores(&self, x: &DMatrix<T>) -> Result<Vec<f64>> {
        let x_hat = self.reconstruct(x)?;
        Ok(crate::sums::row_sums_f64(x, &x_hat, |a, b| {
            (b - a) * (b - a)
        }))
    }
}

/// How a [`VaeScorer`] scores a sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VaeEstimate {
    /// `−ELBO(x)` with one draw of `z`.
    Elbo,
    /// `−log p(x)` by importance sampling with this many draws (see
    /// [`Vae::log_likelihood`]).
    LogLikelihood {
        /// Draws of `z` per sample.
        samples: usize,
    },
}

/// Scores of a variational autoencoder: its negative ELBO or its negative log-likelihood
/// estimate per sample. The draws come from a generator seeded afresh with `seed` on every
/// call, so the same samples always get the same scores.
#[derive(Clone, Debug)]
pub struct VaeScorer<V> {
    /// The model.
    pub vae: V,
    /// What the score estimates.
    pub estimate: VaeEstimate,
    /// Seed of the draws of each call.
    pub seed: u64,
}

impl<E, D, C> AnomalyScore<E::Scalar> for VaeScorer<Vae<E, D, C>>
where
    E: Encoder,
    D: Decoder<E::Scalar>,
    C: Corruption<E::Scalar>,
{
    fn input_dim(&self) -> usize {
        self.vae.input_dim()
    }

    fn scores(&self, x: &DMatrix<E::Scalar>) -> Result<Vec<f64>> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let values = match self.estimate {
            VaeEstimate::Elbo => self.vae.elbo(x, &mut rng)?,
            VaeEstimate::LogLikelihood { samples } => {
                self.vae.log_likelihood(x, samples, &mut rng)?
            }
        };
        Ok(values.into_iter().map(|v| -v).collect())
    }
}

/// Where a detector puts its threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Threshold {
    /// The `(1 − c)` quantile of the training scores, for the fraction `c ∈ (0, 0.5]` of the
    /// training data expected to be anomalous (linear interpolation between order statistics,
    /// NumPy's default `quantile`).
    Contamination(f64),
    /// This score: a sample scoring above it is an outlier.
    Value(f64),
}

/// A scoring model with a threshold: samples that score above it are outliers.
#[derive(Clone, Debug)]
pub struct AnomalyDetector<S> {
    scorer: S,
    threshold: f64,
    training_scores: Vec<f64>,
}

impl<S> AnomalyDetector<S> {
    /// Scores the (already trained) model's training data `x` and sets the threshold.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] for a contamination outside (0, 0.5] or a threshold
    /// value that is not finite; whatever the model's [`scores`](AnomalyScore::scores) finds
    /// wrong with `x`; [`Error::NonFiniteData`] for a score that is not finite.
    pub fn fit<T: Scalar>(scorer: S, x: &DMatrix<T>, threshold: Threshold) -> Result<Self>
    where
        S: AnomalyScore<T>,
    {
        // The hyper-parameter first: no work for a run that cannot succeed.
        match threshold {
            Threshold::Contamination(c) if !(c > 0.0 && c <= 0.5) => {
                return Err(Error::InvalidHyperParameter {
                    name: "contamination",
                    value: c,
                    expected: "a fraction in (0, 0.5]",
                });
            }
            Threshold::Value(t) if !t.is_finite() => {
                return Err(Error::InvalidHyperParameter {
                    name: "threshold",
                    value: t,
                    expected: "a finite score",
                });
            }
            _ => {}
        }
        check_data(x, scorer.input_dim(), "training data")?;
        let training_scores = checked_scores(&scorer, x, "training scores")?;
        let threshold = match threshold {
            Threshold::Contamination(c) => quantile(&training_scores, 1.0 - c),
            Threshold::Value(t) => t,
        };
        Ok(Self {
            scorer,
            threshold,
            training_scores,
        })
    }

    /// A detector from its parts, as a saved one is read back.
    pub(crate) fn from_parts(scorer: S, threshold: f64, training_scores: Vec<f64>) -> Self {
        Self {
            scorer,
            threshold,
            training_scores,
        }
    }

    /// The threshold: a score above it is an outlier.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// The scores of the training data, in its order.
    pub fn training_scores(&self) -> &[f64] {
        &self.training_scores
    }

    /// Which training samples are outliers (`true`), by the threshold.
    pub fn training_outliers(&self) -> Vec<bool> {
        self.training_scores
            .iter()
            .map(|&s| s > self.threshold)
            .collect()
    }

    /// The scoring model.
    pub fn scorer(&self) -> &S {
        &self.scorer
    }

    /// The model, the detector taken apart.
    pub fn into_scorer(self) -> S {
        self.scorer
    }

    /// The scores of new samples.
    ///
    /// # Errors
    /// Whatever the model finds wrong with `x` (e.g. [`Error::DimensionMismatch`] for the wrong
    /// number of features); [`Error::NonFiniteData`] for a score that is not finite.
    pub fn scores<T: Scalar>(&self, x: &DMatrix<T>) -> Result<Vec<f64>>
    where
        S: AnomalyScore<T>,
    {
        check_data(x, self.scorer.input_dim(), "data to score")?;
        checked_scores(&self.scorer, x, "scores")
    }

    /// Whether each sample is an outlier (`true`: its score is above the threshold).
    ///
    /// # Errors
    /// As [`scores`](Self::scores).
    pub fn predict<T: Scalar>(&self, x: &DMatrix<T>) -> Result<Vec<bool>>
    where
        S: AnomalyScore<T>,
    {
        Ok(self
            .scores(x)?
            .into_iter()
            .map(|s| s > self.threshold)
            .collect())
    }
}

fn checked_scores<T: Scalar, S: AnomalyScore<T>>(
    scorer: &S,
    x: &DMatrix<T>,
    what: &'static str,
) -> Result<Vec<f64>> {
    let scores = scorer.scores(x)?;
    if scores.len() != x.nrows() {
        return Err(Error::DimensionMismatch {
            what: "scores of the model (one per sample)",
            expected: x.nrows(),
            found: scores.len(),
        });
    }
    check_finite(&scores, what)?;
    Ok(scores)
}

fn check_finite(values: &[f64], what: &'static str) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(row) => Err(Error::NonFiniteData {
            what,
            row,
            column: 0,
        }),
        None => Ok(()),
    }
}

/// The `q` quantile of finite, non-empty `values` by linear interpolation between the order
/// statistics at `(n − 1)·q` (NumPy's default method).
fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let h = (sorted.len() - 1) as f64 * q;
    let low = h.floor() as usize;
    let high = (low + 1).min(sorted.len() - 1);
    sorted[low] + (h - low as f64) * (sorted[high] - sorted[low])
}

/// Checks scores and labels for the ranking metrics; returns the number of positives.
fn check_ranking(scores: &[f64], positives: &[bool]) -> Result<usize> {
    if scores.len() != positives.len() {
        return Err(Error::DimensionMismatch {
            what: "labels (one per score)",
            expected: scores.len(),
            found: positives.len(),
        });
    }
    if scores.is_empty() {
        return Err(Error::EmptyData { what: "scores" });
    }
    check_finite(scores, "scores")?;
    let p = positives.iter().filter(|&&b| b).count();
    if p == 0 || p == scores.len() {
        return Err(Error::SingleClass {
            what: "the labels of the scores",
        });
    }
    Ok(p)
}

/// The groups of tied scores from the highest score down, each as (its size, how many of it
/// are positive).
fn tie_groups(scores: &[f64], positives: &[bool]) -> Vec<(usize, usize)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order
        .chunk_by(|&a, &b| scores[a] == scores[b])
        .map(|group| (group.len(), group.iter().filter(|&&i| positives[i]).count()))
        .collect()
}

/// The area under the ROC curve of `scores` for the labels `positives` (`true` for an
/// anomaly): the probability that a random positive scores above a random negative, ties
/// counting one half (the Mann–Whitney statistic with mid-ranks). 1 is a perfect ranking, 0.5
/// chance.
///
/// # Errors
/// [`Error::DimensionMismatch`] for lengths that differ, [`Error::EmptyData`] for no scores,
/// [`Error::NonFiniteData`] for a score that is not finite, [`Error::SingleClass`] without
/// both positives and negatives.
pub fn auroc(scores: &[f64], positives: &[bool]) -> Result<f64> {
    let p = check_ranking(scores, positives)?;
    let negatives = scores.len() - p;
    // Over groups of tied scores, from the lowest: each positive beats the negatives below its
    // group and ties half of those within it. Counts are exact in f64 below 2^53.
    let (mut below, mut wins) = (0usize, 0.0f64);
    for &(size, group_p) in tie_groups(scores, positives).iter().rev() {
        let group_n = size - group_p;
        wins += group_p as f64 * (below as f64 + 0.5 * group_n as f64);
        below += group_n;
    }
    Ok(wins / (p as f64 * negatives as f64))
}

/// The average precision of `scores` for the labels `positives`: `Σ_k (R_k − R_{k−1}) P_k` over
/// the distinct thresholds `k` from the highest score down, `P_k` and `R_k` the precision and
/// recall of flagging every sample scoring at least that threshold (tied samples flagged
/// together, as scikit-learn's `average_precision_score` does). 1 is a perfect ranking; chance
/// is the fraction of positives.
///
/// # Errors
/// As [`auroc`].
pub fn average_precision(scores: &[f64], positives: &[bool]) -> Result<f64> {
    let p = check_ranking(scores, positives)?;
    let (mut flagged, mut true_positives, mut sum) = (0usize, 0usize, 0.0f64);
    for (size, group_p) in tie_groups(scores, positives) {
        flagged += size;
        true_positives += group_p;
        if group_p > 0 {
            sum += (group_p as f64 / p as f64) * (true_positives as f64 / flagged as f64);
        }
    }
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    /// AUROC by its definition: every (positive, negative) pair.
    fn pairs_auroc(scores: &[f64], positives: &[bool]) -> f64 {
        let (mut wins, mut pairs) = (0.0, 0.0);
        for (i, &si) in scores.iter().enumerate() {
            for (j, &sj) in scores.iter().enumerate() {
                if positives[i] && !positives[j] {
                    pairs += 1.0;
                    wins += if si > sj {
                        1.0
                    } else if si == sj {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
        }
        wins / pairs
    }

    /// Average precision by its definition: for each distinct threshold, the precision and the
    /// recall of everything at or above it.
    fn threshold_ap(scores: &[f64], positives: &[bool]) -> f64 {
        let mut thresholds = scores.to_vec();
        thresholds.sort_by(|a, b| b.total_cmp(a));
        thresholds.dedup();
        let p = positives.iter().filter(|&&b| b).count() as f64;
        let (mut ap, mut last_recall) = (0.0, 0.0);
        for t in thresholds {
            let flagged: Vec<usize> = (0..scores.len()).filter(|&i| scores[i] >= t).collect();
            let tp = flagged.iter().filter(|&&i| positives[i]).count() as f64;
            let recall = tp / p;
            ap += (recall - last_recall) * tp / flagged.len() as f64;
            last_recall = recall;
        }
        ap
    }

    #[test]
    fn ranking_metrics_agree_with_their_definitions_ties_included() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for trial in 0..200 {
            let n = rng.random_range(2..40);
            // Few distinct values, so that ties are common.
            let levels = if trial % 2 == 0 { 4 } else { 1000 };
            let scores: Vec<f64> = (0..n)
                .map(|_| rng.random_range(0..levels) as f64 / 3.0)
                .collect();
            let mut positives: Vec<bool> = (0..n).map(|_| rng.random::<bool>()).collect();
            positives[0] = true;
            positives[1] = false;
            let (a, b) = (
                auroc(&scores, &positives).unwrap(),
                pairs_auroc(&scores, &positives),
            );
            assert!((a - b).abs() < 1e-12, "auroc {a} against {b}");
            let (a, b) = (
                average_precision(&scores, &positives).unwrap(),
                threshold_ap(&scores, &positives),
            );
            assert!((a - b).abs() < 1e-12, "average precision {a} against {b}");
        }
    }

    #[test]
    fn ranking_metrics_at_their_edges() {
        let labels = [false, false, true, true];
        assert_eq!(auroc(&[0.0, 1.0, 2.0, 3.0], &labels).unwrap(), 1.0);
        assert_eq!(auroc(&[3.0, 2.0, 1.0, 0.0], &labels).unwrap(), 0.0);
        assert_eq!(auroc(&[1.0; 4], &labels).unwrap(), 0.5);
        assert_eq!(
            average_precision(&[0.0, 1.0, 2.0, 3.0], &labels).unwrap(),
            1.0
        );
        // All tied: one threshold, precision 1/2 at recall 1.
        assert_eq!(average_precision(&[1.0; 4], &labels).unwrap(), 0.5);
        // Negatives ranked first: precision 1/3 at recall 1/2, 2/4 at recall 1.
        let ap = average_precision(&[3.0, 2.0, 1.0, 0.0], &labels).unwrap();
        assert!((ap - (0.5 / 3.0 + 0.5 * 0.5)).abs() < 1e-15);
    }

    #[test]
    fn ranking_metrics_refuse_what_they_cannot_rank() {
        assert!(matches!(
            auroc(&[1.0, 2.0], &[true]),
            Err(Error::DimensionMismatch { .. })
        ));
        assert!(matches!(auroc(&[], &[]), Err(Error::EmptyData { .. })));
        assert!(matches!(
            auroc(&[1.0, f64::NAN], &[true, false]),
            Err(Error::NonFiniteData { row: 1, .. })
        ));
        assert!(matches!(
            average_precision(&[1.0, 2.0], &[true, true]),
            Err(Error::SingleClass { .. })
        ));
        assert!(matches!(
            average_precision(&[1.0, 2.0], &[false, false]),
            Err(Error::SingleClass { .. })
        ));
    }

    #[test]
    fn the_quantile_is_numpys_linear_one() {
        // numpy.quantile([1, 2, 3, 4, 10], q) for q = 0, 0.5, 0.9, 1: 1, 3, 7.6, 10.
        let values = [4.0, 1.0, 10.0, 3.0, 2.0];
        assert_eq!(quantile(&values, 0.0), 1.0);
        assert_eq!(quantile(&values, 0.5), 3.0);
        assert!((quantile(&values, 0.9) - 7.6).abs() < 1e-12);
        assert_eq!(quantile(&values, 1.0), 10.0);
        assert_eq!(quantile(&[5.0], 0.9), 5.0);
    }
}
