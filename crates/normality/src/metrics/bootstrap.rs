//! Stratified bootstrap confidence intervals: normal and anomalous test images are resampled
//! separately (with replacement, each class keeping its size), so every replicate has the class
//! balance of the test set and AUROC is always defined.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use serde::Serialize;

use crate::error::require;
use crate::metrics::curves::check_inputs;
use crate::metrics::{Confusion, MetricSet, auroc};
use crate::{Error, Result};

/// How to bootstrap: `replicates` resamples, a two-sided percentile interval at `level`
/// (e.g. 0.95), random streams from `seed` (ChaCha8, stream `b` for replicate `b`, so results
/// do not depend on the thread count).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bootstrap {
    replicates: usize,
    level: f64,
    seed: u64,
}

impl Bootstrap {
    pub const DEFAULT_REPLICATES: usize = 1000;
    pub const DEFAULT_LEVEL: f64 = 0.95;

    pub fn new(replicates: usize, level: f64, seed: u64) -> Result<Self> {
        require(replicates >= 2, "bootstrap", "replicates", replicates, "at least 2 (1000 is usual)")?;
        require(level > 0.0 && level < 1.0, "bootstrap", "level", level, "a confidence level strictly between 0 and 1, e.g. 0.95")?;
        Ok(Self { replicates, level, seed })
    }

    /// Interval for AUROC.
    pub fn auroc(&self, scores: &[f64], labels: &[bool]) -> Result<Interval> {
        let estimate = auroc(scores, labels)?;
        let values = self.replicate(scores, labels, auroc)?;
        Ok(self.interval(estimate, values))
    }

    /// Intervals for every metric at a fixed `threshold` (the threshold is not re-estimated).
    pub fn at_threshold(&self, scores: &[f64], labels: &[bool], threshold: f64) -> Result<MetricSet<Interval>> {
        let estimate = Confusion::at(scores, labels, threshold)?.metrics();
        let replicates = self.replicate(scores, labels, |s, l| Confusion::at(s, l, threshold).map(|c| c.metrics()))?;
        let estimates = estimate.values();
        Ok(MetricSet::from_values(std::array::from_fn(|m| {
            self.interval(*estimates[m], replicates.iter().map(|r| *r.values()[m]).collect())
        })))
    }

    /// `statistic` on each stratified resample, in replicate order.
    fn replicate<T: Send>(&self, scores: &[f64], labels: &[bool], statistic: impl Fn(&[f64], &[bool]) -> Result<T> + Sync) -> Result<Vec<T>> {
        check_inputs(scores, labels)?;
        if scores.is_empty() {
            return Err(Error::Empty { what: "the test set to bootstrap", hint: "score at least one test image" });
        }
        let (anomalous, normal): (Vec<usize>, Vec<usize>) = (0..scores.len()).partition(|&i| labels[i]);
        (0..self.replicates)
            .into_par_iter()
            .map(|b| {
                let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
                rng.set_stream(b as u64);
                let mut s = Vec::with_capacity(scores.len());
                let mut l = Vec::with_capacity(scores.len());
                for class in [&normal, &anomalous] {
                    for _ in 0..class.len() {
                        let i = class[rng.random_range(0..class.len())];
                        s.push(scores[i]);
                        l.push(labels[i]);
                    }
                }
                statistic(&s, &l)
            })
            .collect()
    }

    fn interval(&self, estimate: f64, mut values: Vec<f64>) -> Interval {
        values.sort_by(f64::total_cmp);
        let tail = (1.0 - self.level) / 2.0;
        Interval { estimate, low: percentile(&values, tail), high: percentile(&values, 1.0 - tail) }
    }
}

/// A point estimate (on the data as given) with a bootstrap percentile interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

/// NumPy's default (`linear`) percentile of sorted values: `x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋])`
/// with `h = (B − 1)·p`.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_is_numpys_linear_interpolation() {
        // numpy.percentile([1, 2, 3, 4], [2.5, 50, 97.5]) = [1.075, 2.5, 3.925]
        let x = [1.0, 2.0, 3.0, 4.0];
        for (p, want) in [(0.025, 1.075), (0.5, 2.5), (0.975, 3.925), (0.0, 1.0), (1.0, 4.0)] {
            assert!((percentile(&x, p) - want).abs() < 1e-12, "{p}");
        }
    }

    fn overlapping() -> (Vec<f64>, Vec<bool>) {
        let scores: Vec<f64> = (0..60).map(|i| ((i * 37) % 61) as f64 / 61.0 + if i % 3 == 0 { 0.4 } else { 0.0 }).collect();
        let labels = (0..60).map(|i| i % 3 == 0).collect();
        (scores, labels)
    }

    #[test]
    fn intervals_bracket_the_estimate_and_are_reproducible() {
        let (scores, labels) = overlapping();
        let boot = Bootstrap::new(500, 0.9, 7).unwrap();
        let a = boot.auroc(&scores, &labels).unwrap();
        assert_eq!(a.estimate, auroc(&scores, &labels).unwrap());
        assert!(a.low < a.estimate && a.estimate < a.high && a.high <= 1.0, "{a:?}");
        assert_eq!(a, boot.auroc(&scores, &labels).unwrap(), "same seed, same interval");
        assert_ne!(a, Bootstrap::new(500, 0.9, 8).unwrap().auroc(&scores, &labels).unwrap());
        let wider = Bootstrap::new(500, 0.99, 7).unwrap().auroc(&scores, &labels).unwrap();
        assert!(wider.low <= a.low && wider.high >= a.high);

        let m = boot.at_threshold(&scores, &labels, 0.6).unwrap();
        let exact = Confusion::at(&scores, &labels, 0.6).unwrap().metrics();
        for (interval, value) in m.values().into_iter().zip(exact.values()) {
            assert_eq!(interval.estimate, *value);
            assert!(interval.low <= interval.estimate && interval.estimate <= interval.high, "{interval:?}");
        }
    }

    #[test]
    fn a_one_class_test_set_bootstraps_metrics_but_not_auroc() {
        // Only normal images: every replicate has no positives (recall 0), the false-alarm rate
        // varies around 10/40.
        let scores: Vec<f64> = (0..40).map(|i| i as f64).collect();
        let labels = vec![false; 40];
        let m = Bootstrap::new(200, 0.95, 1).unwrap().at_threshold(&scores, &labels, 30.0).unwrap();
        assert_eq!((m.recall.low, m.recall.high), (0.0, 0.0));
        assert!(m.false_alarm_rate.low < 0.25 && m.false_alarm_rate.high > 0.25, "{:?}", m.false_alarm_rate);
        assert!(Bootstrap::new(200, 0.95, 1).unwrap().auroc(&scores, &labels).is_err(), "AUROC needs both classes");
    }

    #[test]
    fn refuses_bad_settings() {
        assert!(Bootstrap::new(1, 0.95, 0).unwrap_err().to_string().contains("replicates"));
        assert!(Bootstrap::new(100, 1.0, 0).unwrap_err().to_string().contains("level"));
        let err = Bootstrap::new(100, 0.95, 0).unwrap().auroc(&[], &[]).unwrap_err();
        assert!(matches!(err, Error::NeedsBothClasses { .. }), "{err}");
    }
}
