//! Detection metrics with scikit-learn's definitions. Labels: `true` = anomalous (positive).
//! An image is predicted anomalous when `score >= threshold`.

use crate::{Error, Result};

/// Counts of positives/negatives flagged at each distinct score, from the highest score down:
/// the operating points of every possible threshold.
struct Sweep {
    /// Distinct scores, descending.
    thresholds: Vec<f64>,
    /// True positives when flagging `score >= thresholds[i]`.
    tps: Vec<usize>,
    /// False positives likewise.
    fps: Vec<usize>,
    positives: usize,
    negatives: usize,
}

impl Sweep {
    fn new(scores: &[f64], labels: &[bool], metric: &'static str) -> Result<Self> {
        check_inputs(scores, labels)?;
        let positives = labels.iter().filter(|&&l| l).count();
        let negatives = labels.len() - positives;
        if positives == 0 || negatives == 0 {
            return Err(Error::NeedsBothClasses { metric, normal: negatives, anomalous: positives });
        }
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let (mut thresholds, mut tps, mut fps) = (Vec::new(), Vec::new(), Vec::new());
        let (mut tp, mut fp) = (0, 0);
        for (rank, &i) in order.iter().enumerate() {
            if labels[i] { tp += 1 } else { fp += 1 }
            let last_of_tie = order.get(rank + 1).is_none_or(|&next| scores[next] != scores[i]);
            if last_of_tie {
                thresholds.push(scores[i]);
                tps.push(tp);
                fps.push(fp);
            }
        }
        Ok(Sweep { thresholds, tps, fps, positives, negatives })
    }
}

fn check_inputs(scores: &[f64], labels: &[bool]) -> Result<()> {
    if scores.len() != labels.len() {
        return Err(Error::LengthMismatch { scores: scores.len(), labels: labels.len() });
    }
    if let Some((index, &value)) = scores.iter().enumerate().find(|(_, s)| !s.is_finite()) {
        return Err(Error::NonFiniteScore { index, value });
    }
    Ok(())
}

/// A receiver operating characteristic curve, as `sklearn.metrics.roc_curve` with
/// `drop_intermediate=False`: the first point is `(0, 0)` at threshold `+∞`.
#[derive(Clone, Debug, PartialEq)]
pub struct Roc {
    pub fpr: Vec<f64>,
    pub tpr: Vec<f64>,
    pub thresholds: Vec<f64>,
}

pub fn roc_curve(scores: &[f64], labels: &[bool]) -> Result<Roc> {
    let sweep = Sweep::new(scores, labels, "the ROC curve")?;
    let (p, n) = (sweep.positives as f64, sweep.negatives as f64);
    let mut roc = Roc { fpr: vec![0.0], tpr: vec![0.0], thresholds: vec![f64::INFINITY] };
    for i in 0..sweep.thresholds.len() {
        roc.fpr.push(sweep.fps[i] as f64 / n);
        roc.tpr.push(sweep.tps[i] as f64 / p);
        roc.thresholds.push(sweep.thresholds[i]);
    }
    Ok(roc)
}

/// Area under the ROC curve (trapezoidal, so tied scores count half).
pub fn auroc(scores: &[f64], labels: &[bool]) -> Result<f64> {
    let roc = roc_curve(scores, labels)?;
    Ok(roc
        .fpr
        .windows(2)
        .zip(roc.tpr.windows(2))
        .map(|(f, t)| (f[1] - f[0]) * (t[1] + t[0]) / 2.0)
        .sum())
}

/// Average precision, as `sklearn.metrics.average_precision_score`:
/// `Σ (Rₙ − Rₙ₋₁) Pₙ` over the thresholds, without interpolation.
pub fn average_precision(scores: &[f64], labels: &[bool]) -> Result<f64> {
    let sweep = Sweep::new(scores, labels, "average precision")?;
    let p = sweep.positives as f64;
    let mut previous_recall = 0.0;
    let mut ap = 0.0;
    for (&tp, &fp) in sweep.tps.iter().zip(&sweep.fps) {
        let recall = tp as f64 / p;
        ap += (recall - previous_recall) * tp as f64 / (tp + fp) as f64;
        previous_recall = recall;
    }
    Ok(ap)
}

/// The threshold among the observed scores that maximises F1 on the given labels, and that F1.
/// Of equally good thresholds the lowest is returned (as `argmax` over scikit-learn's
/// ascending precision-recall thresholds).
pub fn max_f1(scores: &[f64], labels: &[bool]) -> Result<(f64, f64)> {
    let sweep = Sweep::new(scores, labels, "max F1")?;
    let mut best = (f64::NEG_INFINITY, f64::NAN);
    for i in 0..sweep.thresholds.len() {
        let c = Confusion {
            tp: sweep.tps[i],
            fp: sweep.fps[i],
            fn_: sweep.positives - sweep.tps[i],
            tn: sweep.negatives - sweep.fps[i],
        };
        let f1 = c.f1();
        if f1 >= best.0 {
            best = (f1, sweep.thresholds[i]);
        }
    }
    Ok(best)
}

/// Outcome counts at one threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Confusion {
    pub tp: usize,
    pub fp: usize,
    pub tn: usize,
    pub fn_: usize,
}

/// `num / den`, or 0 when `den` is 0 (scikit-learn's `zero_division` default).
fn ratio(num: f64, den: f64) -> f64 {
    if den == 0.0 { 0.0 } else { num / den }
}

impl Confusion {
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

    pub fn precision(&self) -> f64 {
        ratio(self.tp as f64, (self.tp + self.fp) as f64)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.tp as f64, (self.tp + self.fn_) as f64)
    }

    /// Fraction of normal images flagged anomalous.
    pub fn false_alarm_rate(&self) -> f64 {
        ratio(self.fp as f64, (self.fp + self.tn) as f64)
    }

    pub fn f1(&self) -> f64 {
        ratio(2.0 * self.tp as f64, (2 * self.tp + self.fp + self.fn_) as f64)
    }

    pub fn accuracy(&self) -> f64 {
        ratio((self.tp + self.tn) as f64, (self.tp + self.tn + self.fp + self.fn_) as f64)
    }

    pub fn balanced_accuracy(&self) -> f64 {
        (self.recall() + ratio(self.tn as f64, (self.tn + self.fp) as f64)) / 2.0
    }

    /// Matthews correlation coefficient; 0 when any margin is empty.
    pub fn mcc(&self) -> f64 {
        let (tp, fp, tn, fn_) = (self.tp as f64, self.fp as f64, self.tn as f64, self.fn_ as f64);
        let den = ((tp + fp) * (tp + fn_) * (tn + fp) * (tn + fn_)).sqrt();
        ratio(tp * tn - fp * fn_, den)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_counts_ties_half() {
        // One normal and one anomalous image with the same score: a coin flip.
        assert_eq!(auroc(&[0.5, 0.5], &[false, true]).unwrap(), 0.5);
        assert_eq!(auroc(&[0.1, 0.9], &[false, true]).unwrap(), 1.0);
        assert_eq!(auroc(&[0.9, 0.1], &[false, true]).unwrap(), 0.0);
    }

    #[test]
    fn refuses_one_class_mismatched_lengths_and_nan() {
        assert!(matches!(auroc(&[0.1, 0.2], &[false, false]), Err(Error::NeedsBothClasses { .. })));
        assert!(matches!(auroc(&[0.1], &[false, true]), Err(Error::LengthMismatch { .. })));
        assert!(matches!(
            auroc(&[0.1, f64::NAN], &[false, true]),
            Err(Error::NonFiniteScore { index: 1, .. })
        ));
    }

    #[test]
    fn confusion_flags_scores_at_the_threshold() {
        let c = Confusion::at(&[0.1, 0.5, 0.5, 0.9], &[false, false, true, true], 0.5).unwrap();
        assert_eq!(c, Confusion { tp: 2, fp: 1, tn: 1, fn_: 0 });
        assert!((c.precision() - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!(c.recall(), 1.0);
        assert_eq!(c.false_alarm_rate(), 0.5);
        assert_eq!(c.accuracy(), 0.75);
    }

    #[test]
    fn empty_margins_give_zero_not_nan() {
        let nothing_flagged = Confusion { tp: 0, fp: 0, tn: 3, fn_: 2 };
        assert_eq!(nothing_flagged.precision(), 0.0);
        assert_eq!(nothing_flagged.f1(), 0.0);
        assert_eq!(nothing_flagged.mcc(), 0.0);
    }
}
