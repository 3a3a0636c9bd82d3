//! Threshold-free metrics: ROC and precision-recall curves, AUROC, average precision, max F1.

use crate::error::check_finite_scores;
use crate::metrics::Confusion;
use crate::{Error, Result};

/// Counts of positives/negatives flagged at each distinct score, from the highest score down:
/// the operating points of every possible threshold.
pub(crate) struct Sweep {
    /// Distinct scores, descending.
    pub thresholds: Vec<f64>,
    /// True positives when flagging `score >= thresholds[i]`.
    pub tps: Vec<usize>,
    /// False positives likewise.
    pub fps: Vec<usize>,
    pub positives: usize,
    pub negatives: usize,
}

impl Sweep {
    pub fn new(scores: &[f64], labels: &[bool], metric: &'static str) -> Result<Self> {
        check_inputs(scores, labels)?;
        let positives = labels.iter().filter(|&&l| l).count();
        let negatives = labels.len() - positives;
        if positives == 0 || negatives == 0 {
            return Err(Error::NeedsBothClasses { metric, normal: negatives, anomalous: positives });
        }
        // Each class's scores sorted on their own as integer keys (the fastest sort here), then
        // merged from the top, one point per distinct score.
        let sorted_keys = |class: bool| {
            let mut keys: Vec<u64> = scores.iter().zip(labels).filter(|&(_, &l)| l == class).map(|(&s, _)| descending_key(s)).collect();
            keys.sort_unstable();
            keys
        };
        let (anomalous, normal) = (sorted_keys(true), sorted_keys(false));
        let (mut thresholds, mut tps, mut fps) = (Vec::with_capacity(scores.len()), Vec::new(), Vec::new());
        tps.reserve(scores.len());
        fps.reserve(scores.len());
        let (mut tp, mut fp) = (0, 0);
        while tp < positives || fp < negatives {
            let key = *[anomalous.get(tp), normal.get(fp)].into_iter().flatten().min().expect("scores remain");
            while anomalous.get(tp) == Some(&key) {
                tp += 1;
            }
            while normal.get(fp) == Some(&key) {
                fp += 1;
            }
            thresholds.push(from_descending_key(key));
            tps.push(tp);
            fps.push(fp);
        }
        Ok(Sweep { thresholds, tps, fps, positives, negatives })
    }

    pub fn len(&self) -> usize {
        self.thresholds.len()
    }

    /// The outcome counts when flagging `score >= thresholds[i]`.
    pub fn confusion(&self, i: usize) -> Confusion {
        Confusion { tp: self.tps[i], fp: self.fps[i], fn_: self.positives - self.tps[i], tn: self.negatives - self.fps[i] }
    }
}

/// Integers in the reverse of `f64::total_cmp`'s order (an ascending integer sort is the fastest
/// sort here), with −0 folded into +0 as the two compare equal: negative scores keep their bits
/// (more negative, larger), non-negative ones flip all but the sign bit. Its own inverse.
fn descending_key(score: f64) -> u64 {
    let bits = (score + 0.0).to_bits();
    if bits >> 63 == 1 { bits } else { bits ^ (u64::MAX >> 1) }
}

fn from_descending_key(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 { key } else { key ^ (u64::MAX >> 1) })
}

pub(crate) fn check_inputs(scores: &[f64], labels: &[bool]) -> Result<()> {
    if scores.len() != labels.len() {
        return Err(Error::LengthMismatch { scores: scores.len(), labels: labels.len() });
    }
    check_finite_scores(scores)
}

/// A receiver operating characteristic curve, as `sklearn.metrics.roc_curve` with
/// `drop_intermediate=False`: the first point is `(0, 0)` at threshold `+∞` (serialised to JSON
/// as `null`, as in scikit-learn's fixtures).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Roc {
    pub fpr: Vec<f64>,
    pub tpr: Vec<f64>,
    pub thresholds: Vec<f64>,
}

pub fn roc_curve(scores: &[f64], labels: &[bool]) -> Result<Roc> {
    let sweep = Sweep::new(scores, labels, "the ROC curve")?;
    let (p, n) = (sweep.positives as f64, sweep.negatives as f64);
    let mut roc = Roc { fpr: vec![0.0], tpr: vec![0.0], thresholds: vec![f64::INFINITY] };
    for i in 0..sweep.len() {
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

/// A precision-recall curve, as `sklearn.metrics.precision_recall_curve`: thresholds are the
/// distinct scores ascending; `precision[i]`, `recall[i]` flag `score >= thresholds[i]`; one
/// last point `(precision 1, recall 0)` has no threshold. Precision with nothing flagged is 0.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PrCurve {
    pub precision: Vec<f64>,
    pub recall: Vec<f64>,
    pub thresholds: Vec<f64>,
}

pub fn pr_curve(scores: &[f64], labels: &[bool]) -> Result<PrCurve> {
    let sweep = Sweep::new(scores, labels, "the precision-recall curve")?;
    let mut pr = PrCurve { precision: Vec::new(), recall: Vec::new(), thresholds: Vec::new() };
    for i in (0..sweep.len()).rev() {
        let c = sweep.confusion(i);
        pr.precision.push(c.precision());
        pr.recall.push(c.recall());
        pr.thresholds.push(sweep.thresholds[i]);
    }
    pr.precision.push(1.0);
    pr.recall.push(0.0);
    Ok(pr)
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
    for i in 0..sweep.len() {
        let f1 = sweep.confusion(i).f1();
        if f1 >= best.0 {
            best = (f1, sweep.thresholds[i]);
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_orders_signed_scores_and_merges_signed_zeros() {
        let scores = [-1.5, 0.0, -0.0, 2.0, -3.0, 1e-300, -1e-300, 2.0];
        let labels = [true, false, true, false, true, false, true, true];
        let sweep = Sweep::new(&scores, &labels, "test").unwrap();
        assert_eq!(sweep.thresholds, vec![2.0, 1e-300, 0.0, -1e-300, -1.5, -3.0]);
        assert_eq!(sweep.tps, vec![1, 1, 2, 3, 4, 5]);
        assert_eq!(sweep.fps, vec![1, 2, 3, 3, 3, 3]);
    }

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
        assert!(matches!(pr_curve(&[0.1, 0.2], &[true, true]), Err(Error::NeedsBothClasses { .. })));
    }

    #[test]
    fn pr_curve_runs_from_full_recall_to_the_extra_point() {
        // scikit-learn's documented example (y_true [0, 0, 1, 1], scores [0.1, 0.4, 0.35, 0.8]): precision [0.5, 0.667, 0.5, 1, 1], recall [1, 1, 0.5, 0.5, 0].
        let pr = pr_curve(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]).unwrap();
        assert_eq!(pr.thresholds, vec![0.1, 0.35, 0.4, 0.8]);
        let expected_precision = [0.5, 2.0 / 3.0, 0.5, 1.0, 1.0];
        assert!(pr.precision.iter().zip(expected_precision).all(|(a, b)| (a - b).abs() < 1e-15), "{:?}", pr.precision);
        assert_eq!(pr.recall, vec![1.0, 1.0, 0.5, 0.5, 0.0]);
    }
}
