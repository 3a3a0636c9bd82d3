//! Oracle rules: thresholds chosen with the test labels. They bound what a threshold could
//! achieve on this test set and are never deployable. Each picks among the observed test
//! scores (the operating points of the ROC curve) and needs both classes in the test set.

use crate::error::require;
use crate::metrics::{Confusion, Sweep, max_f1};
use crate::threshold::{LabelledScores, RuleKind, ThresholdRule, undefined};
use crate::Result;

/// The sweep of the test scores, or the rule's error saying why there is none.
fn sweep(rule: &dyn ThresholdRule, test: &LabelledScores) -> Result<Sweep> {
    Sweep::new(test.scores, test.labels, "an oracle threshold").map_err(|e| undefined(rule, e.to_string()))
}

/// The observed test score that maximises F1; of equal F1 the lowest ([`max_f1`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxF1;

impl ThresholdRule for MaxF1 {
    fn name(&self) -> String {
        "max_f1".into()
    }

    fn kind(&self) -> RuleKind {
        RuleKind::Oracle
    }

    fn threshold(&self, _normal: &[f64], test: &LabelledScores) -> Result<f64> {
        max_f1(test.scores, test.labels).map(|(_, threshold)| threshold).map_err(|e| undefined(self, e.to_string()))
    }
}

/// The observed test score maximising Youden's J = TPR − FPR; of equal J the highest (the first
/// `argmax` over scikit-learn's descending `roc_curve` thresholds, its `+∞` point excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Youden;

impl ThresholdRule for Youden {
    fn name(&self) -> String {
        "youden".into()
    }

    fn kind(&self) -> RuleKind {
        RuleKind::Oracle
    }

    fn threshold(&self, _normal: &[f64], test: &LabelledScores) -> Result<f64> {
        let sweep = sweep(self, test)?;
        Ok(best_point(&sweep, |c| c.recall() - c.false_alarm_rate(), Prefer::Highest))
    }
}

/// The equal-error-rate threshold: the observed test score where the false-alarm rate (FPR) and
/// the miss rate (FNR = 1 − TPR) are closest, `min |FPR − FNR|`, without interpolation between
/// operating points. FPR − FNR only grows as the threshold falls, so this is where they cross;
/// of two points equally close, the higher threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Eer;

impl ThresholdRule for Eer {
    fn name(&self) -> String {
        "eer".into()
    }

    fn kind(&self) -> RuleKind {
        RuleKind::Oracle
    }

    fn threshold(&self, _normal: &[f64], test: &LabelledScores) -> Result<f64> {
        let sweep = sweep(self, test)?;
        Ok(best_point(&sweep, |c| -(c.false_alarm_rate() - (1.0 - c.recall())).abs(), Prefer::Highest))
    }
}

/// The observed test score with the highest recall among those whose test false-alarm rate is at
/// most `fpr`; of equal recall the highest threshold (fewest false alarms). Undefined when even
/// the highest test score flags more normal images than `fpr` allows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FixedFpr {
    fpr: f64,
}

impl FixedFpr {
    pub const DEFAULT_FPR: f64 = 0.05;

    pub fn new(fpr: f64) -> Result<Self> {
        require((0.0..1.0).contains(&fpr), "fixed_fpr", "fpr", fpr, "a false-alarm rate in [0, 1)")?;
        Ok(Self { fpr })
    }
}

impl ThresholdRule for FixedFpr {
    fn name(&self) -> String {
        format!("fixed_fpr{{fpr={}}}", self.fpr)
    }

    fn kind(&self) -> RuleKind {
        RuleKind::Oracle
    }

    fn threshold(&self, _normal: &[f64], test: &LabelledScores) -> Result<f64> {
        let sweep = sweep(self, test)?;
        let admissible = (0..sweep.len()).take_while(|&i| sweep.confusion(i).false_alarm_rate() <= self.fpr);
        // Recall only grows as the threshold falls: the last admissible point has the most,
        // and the first point reaching that recall the highest threshold.
        let last = admissible.last().ok_or_else(|| {
            let top = sweep.confusion(0);
            undefined(
                self,
                format!(
                    "even the highest test score flags {} of {} normal images (false-alarm rate {} > {})",
                    top.fp,
                    sweep.negatives,
                    top.false_alarm_rate(),
                    self.fpr
                ),
            )
        })?;
        let first_with_that_recall = (0..=last).find(|&i| sweep.tps[i] == sweep.tps[last]).expect("last qualifies");
        Ok(sweep.thresholds[first_with_that_recall])
    }
}

/// The observed test score with the highest precision among those reaching recall ≥ `recall`;
/// of equal precision the lowest threshold (the most recall).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FixedRecall {
    recall: f64,
}

impl FixedRecall {
    pub const DEFAULT_RECALL: f64 = 0.95;

    pub fn new(recall: f64) -> Result<Self> {
        require(recall > 0.0 && recall <= 1.0, "fixed_recall", "recall", recall, "a recall in (0, 1]")?;
        Ok(Self { recall })
    }
}

impl ThresholdRule for FixedRecall {
    fn name(&self) -> String {
        format!("fixed_recall{{recall={}}}", self.recall)
    }

    fn kind(&self) -> RuleKind {
        RuleKind::Oracle
    }

    fn threshold(&self, _normal: &[f64], test: &LabelledScores) -> Result<f64> {
        let sweep = sweep(self, test)?;
        let precision = |c: Confusion| if c.recall() >= self.recall { c.precision() } else { f64::NEG_INFINITY };
        Ok(best_point(&sweep, precision, Prefer::Lowest))
    }
}

/// Which of equally good thresholds to return.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Prefer {
    Highest,
    Lowest,
}

/// The threshold of the sweep point maximising `value` (always defined: the lowest threshold
/// flags everything, so recall-constrained values have a finite point).
fn best_point(sweep: &Sweep, value: impl Fn(Confusion) -> f64, prefer: Prefer) -> f64 {
    let mut best = (f64::NEG_INFINITY, sweep.thresholds[sweep.len() - 1]);
    for i in 0..sweep.len() {
        let v = value(sweep.confusion(i));
        // Points run from the highest threshold down: strict `>` keeps the first (highest).
        if v > best.0 || (prefer == Prefer::Lowest && v == best.0) {
            best = (v, sweep.thresholds[i]);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threshold::parse_rule;

    //            scores: 0.1   0.2   0.3   0.4   0.5   0.6   0.7   0.8
    const LABELS: [bool; 8] = [false, false, true, false, false, true, true, true];
    const SCORES: [f64; 8] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
    const TEST: LabelledScores = LabelledScores { scores: &SCORES, labels: &LABELS };

    fn threshold(spec: &str) -> f64 {
        parse_rule(spec).unwrap().threshold(&[], &TEST).unwrap()
    }

    // Operating points (threshold: TPR, FPR), 4 anomalous and 4 normal:
    // 0.8: ¼, 0 · 0.7: ½, 0 · 0.6: ¾, 0 · 0.5: ¾, ¼ · 0.4: ¾, ½ · 0.3: 1, ½ · 0.2: 1, ¾ · 0.1: 1, 1

    #[test]
    fn youden_maximises_tpr_minus_fpr() {
        assert_eq!(threshold("youden"), 0.6); // J = ¾, next best ½
    }

    #[test]
    fn eer_is_where_false_alarms_and_misses_cross() {
        // |FPR − FNR|: 0.8: ¾, 0.7: ½, 0.6: ¼, 0.5: 0 → 0.5.
        assert_eq!(threshold("eer"), 0.5);
        // A tie between two points equally close picks the higher threshold.
        // 0.3 (anomalous): FPR 0, FNR ½ · 0.2 (normal): FPR 1, FNR ½ · 0.1 (anomalous): 1, 0
        let labels = [true, false, true];
        let scores = [0.1, 0.2, 0.3];
        let t = Eer.threshold(&[], &LabelledScores { scores: &scores, labels: &labels }).unwrap();
        assert_eq!(t, 0.3);
    }

    #[test]
    fn fixed_fpr_takes_the_most_recall_within_the_false_alarm_budget() {
        assert_eq!(threshold("fixed_fpr{fpr=0}"), 0.6, "recall ¾ first reached at 0.6");
        assert_eq!(threshold("fixed_fpr{fpr=0.25}"), 0.6, "0.5 has the same recall with more false alarms");
        assert_eq!(threshold("fixed_fpr{fpr=0.5}"), 0.3);
        let top_is_normal = LabelledScores { scores: &[0.9, 0.1, 0.2], labels: &[false, true, false] };
        let err = FixedFpr::new(0.1).unwrap().threshold(&[], &top_is_normal).unwrap_err().to_string();
        assert!(err.contains("flags 1 of 2 normal images"), "{err}");
    }

    #[test]
    fn fixed_recall_takes_the_best_precision_reaching_the_recall() {
        assert_eq!(threshold("fixed_recall{recall=0.75}"), 0.6, "precision 1");
        assert_eq!(threshold("fixed_recall{recall=1}"), 0.3, "precision 4/6, better than 4/7 and 4/8");
        assert_eq!(threshold("fixed_recall{recall=0.25}"), 0.6, "precision 1 at 0.8, 0.7, 0.6: the lowest");
    }

    #[test]
    fn oracles_need_both_classes() {
        let normal_only = LabelledScores { scores: &[0.1, 0.2], labels: &[false, false] };
        for spec in ["max_f1", "youden", "eer", "fixed_fpr", "fixed_recall"] {
            let rule = parse_rule(spec).unwrap();
            assert_eq!(rule.kind(), RuleKind::Oracle);
            let err = rule.threshold(&[], &normal_only).unwrap_err().to_string();
            assert!(err.contains(spec) && err.contains("anomalous: 0"), "{err}");
        }
    }
}
