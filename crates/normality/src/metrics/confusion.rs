//! Metrics at one threshold, from the four outcome counts.

use serde::Serialize;

use crate::metrics::curves::check_inputs;
use crate::Result;

/// Outcome counts at one threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize)]
pub struct Confusion {
    pub tp: usize,
    pub fp: usize,
    pub tn: usize,
    #[serde(rename = "fn")]
    pub fn_: usize,
}

/// `num / den`, or 0 when `den` is 0 (scikit-learn's `zero_division` default).
fn ratio(num: f64, den: f64) -> f64 {
    if den == 0.0 { 0.0 } else { num / den }
}

impl Confusion {
    /// Flags `score >= threshold` as anomalous and counts against `labels` (`true` = anomalous).
    pub fn at(scores: &[f64], labels: &[bool], threshold: f64) -> Result<Self> {
        check_inputs(scores, labels)?;
        let mut c = Confusion::default();
        for (&s, &anomalous) in scores.iter().zip(labels) {
            match (s >= threshold, anomalous) {
                (true, true) => c.tp += 1,
                (true, false) => c.fp += 1,
                (false, false) => c.tn += 1,
                (false, true) => c.fn_ += 1,
            }
        }
        Ok(c)
    }

    /// `tp / (tp + fp)`.
    pub fn precision(&self) -> f64 {
        ratio(self.tp as f64, (self.tp + self.fp) as f64)
    }

    /// `tp / (tp + fn)`, the true-positive rate.
    pub fn recall(&self) -> f64 {
        ratio(self.tp as f64, (self.tp + self.fn_) as f64)
    }

    /// `fp / (fp + tn)`: the fraction of normal images flagged anomalous (false-positive rate).
    pub fn false_alarm_rate(&self) -> f64 {
        ratio(self.fp as f64, (self.fp + self.tn) as f64)
    }

    /// `tn / (tn + fp)`, the true-negative rate.
    pub fn specificity(&self) -> f64 {
        ratio(self.tn as f64, (self.tn + self.fp) as f64)
    }

    /// `2tp / (2tp + fp + fn)`.
    pub fn f1(&self) -> f64 {
        ratio(2.0 * self.tp as f64, (2 * self.tp + self.fp + self.fn_) as f64)
    }

    pub fn accuracy(&self) -> f64 {
        ratio((self.tp + self.tn) as f64, (self.tp + self.tn + self.fp + self.fn_) as f64)
    }

    /// Mean of recall and specificity, as scikit-learn's `balanced_accuracy_score` on two classes.
    pub fn balanced_accuracy(&self) -> f64 {
        (self.recall() + self.specificity()) / 2.0
    }

    /// Matthews correlation coefficient; 0 when any margin is empty.
    pub fn mcc(&self) -> f64 {
        let (tp, fp, tn, fn_) = (self.tp as f64, self.fp as f64, self.tn as f64, self.fn_ as f64);
        let den = ((tp + fp) * (tp + fn_) * (tn + fp) * (tn + fn_)).sqrt();
        ratio(tp * tn - fp * fn_, den)
    }

    /// Every metric at this threshold.
    pub fn metrics(&self) -> MetricSet<f64> {
        MetricSet {
            precision: self.precision(),
            recall: self.recall(),
            f1: self.f1(),
            accuracy: self.accuracy(),
            balanced_accuracy: self.balanced_accuracy(),
            mcc: self.mcc(),
            false_alarm_rate: self.false_alarm_rate(),
        }
    }
}

/// One value (or interval) per metric at a threshold.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MetricSet<T> {
    pub precision: T,
    pub recall: T,
    pub f1: T,
    pub accuracy: T,
    pub balanced_accuracy: T,
    pub mcc: T,
    pub false_alarm_rate: T,
}

impl<T> MetricSet<T> {
    /// The metrics' names in field order, as in [`MetricSet::values`].
    pub const NAMES: [&'static str; 7] = ["precision", "recall", "f1", "accuracy", "balanced_accuracy", "mcc", "false_alarm_rate"];

    pub fn values(&self) -> [&T; 7] {
        [&self.precision, &self.recall, &self.f1, &self.accuracy, &self.balanced_accuracy, &self.mcc, &self.false_alarm_rate]
    }

    /// Builds a set from one value per name in [`MetricSet::NAMES`] order.
    pub fn from_values([precision, recall, f1, accuracy, balanced_accuracy, mcc, false_alarm_rate]: [T; 7]) -> Self {
        Self { precision, recall, f1, accuracy, balanced_accuracy, mcc, false_alarm_rate }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_flags_scores_at_the_threshold() {
        let c = Confusion::at(&[0.1, 0.5, 0.5, 0.9], &[false, false, true, true], 0.5).unwrap();
        assert_eq!(c, Confusion { tp: 2, fp: 1, tn: 1, fn_: 0 });
        let m = c.metrics();
        assert!((m.precision - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!((m.recall, m.false_alarm_rate, m.accuracy, m.balanced_accuracy), (1.0, 0.5, 0.75, 0.75));
        assert!((m.f1 - 0.8).abs() < 1e-15);
        // MCC = (2·1 − 1·0) / √(3·2·2·1)
        assert!((m.mcc - 2.0 / 12f64.sqrt()).abs() < 1e-15);
        assert_eq!(MetricSet::from_values(m.values().map(|v| *v)), m);
    }

    #[test]
    fn empty_margins_give_zero_not_nan() {
        let nothing_flagged = Confusion { tp: 0, fp: 0, tn: 3, fn_: 2 };
        assert_eq!(nothing_flagged.precision(), 0.0);
        assert_eq!(nothing_flagged.f1(), 0.0);
        assert_eq!(nothing_flagged.mcc(), 0.0);
        assert_eq!(Confusion { tp: 2, fp: 0, tn: 0, fn_: 0 }.false_alarm_rate(), 0.0);
    }

    #[test]
    fn serialises_fn_without_the_underscore() {
        let json = serde_json::to_string(&Confusion { tp: 1, fp: 2, tn: 3, fn_: 4 }).unwrap();
        assert_eq!(json, r#"{"tp":1,"fp":2,"tn":3,"fn":4}"#);
    }
}
