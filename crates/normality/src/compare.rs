//! Every threshold rule's working point on one set of scores, side by side: the library side of
//! `mon thresholds`. The results serialise with serde as they are (JSON: `null` where a value
//! is absent or infinite).

use serde::Serialize;

use crate::error::check_finite_scores;
use crate::metrics::{Bootstrap, Confusion, Interval, MetricSet, auroc, average_precision, check_inputs};
use crate::threshold::{LabelledScores, RuleKind, ThresholdRule, finite_threshold};
use crate::Result;

/// The working points of `rules` on `test`, the label-free ones set from `validation` (scores of
/// held-out normal images). With `bootstrap`, every metric also gets a stratified bootstrap
/// interval at the rule's threshold (the threshold itself held fixed).
///
/// Errors only on unusable input (mismatched lengths, non-finite scores); a rule that cannot be
/// computed on this data is reported in its [`RuleReport::error`], and the others still run.
pub fn compare_rules(
    validation: &[f64],
    test: &LabelledScores,
    rules: &[Box<dyn ThresholdRule>],
    bootstrap: Option<&Bootstrap>,
) -> Result<RuleComparison> {
    check_finite_scores(validation)?;
    check_inputs(test.scores, test.labels)?;
    let anomalous = test.labels.iter().filter(|&&l| l).count();
    let both_classes = anomalous > 0 && anomalous < test.labels.len();
    let ranking = |metric: fn(&[f64], &[bool]) -> Result<f64>| both_classes.then(|| metric(test.scores, test.labels)).transpose();
    let auroc_interval = match bootstrap {
        Some(b) if both_classes => Some(b.auroc(test.scores, test.labels)?),
        _ => None,
    };
    let rules = rules
        .iter()
        .map(|rule| {
            let mut report = RuleReport { rule: rule.name(), kind: rule.kind(), threshold: None, error: None, working_point: None };
            match finite_threshold(rule.as_ref(), validation, test) {
                Ok(threshold) => {
                    report.threshold = Some(threshold);
                    let confusion = Confusion::at(test.scores, test.labels, threshold)?;
                    let intervals = bootstrap.map(|b| b.at_threshold(test.scores, test.labels, threshold)).transpose()?;
                    report.working_point = Some(WorkingPoint { confusion, metrics: confusion.metrics(), intervals });
                }
                Err(e) => report.error = Some(e.to_string()),
            }
            Ok(report)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RuleComparison {
        validation: validation.len(),
        normal: test.labels.len() - anomalous,
        anomalous,
        auroc: ranking(auroc)?,
        auroc_interval,
        average_precision: ranking(average_precision)?,
        rules,
    })
}

/// What [`compare_rules`] found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleComparison {
    /// Held-out normal scores the label-free rules saw.
    pub validation: usize,
    /// Normal and anomalous test images.
    pub normal: usize,
    pub anomalous: usize,
    /// `None` when the test set lacks normal or anomalous images.
    pub auroc: Option<f64>,
    /// With a bootstrap and both classes.
    pub auroc_interval: Option<Interval>,
    pub average_precision: Option<f64>,
    /// In the order the rules were given.
    pub rules: Vec<RuleReport>,
}

/// One rule's outcome: a threshold and its working point, or why it could not be computed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleReport {
    /// The rule's spec, e.g. `conformal{alpha=0.05}`.
    pub rule: String,
    pub kind: RuleKind,
    pub threshold: Option<f64>,
    /// Set exactly when `threshold` is `None`.
    pub error: Option<String>,
    pub working_point: Option<WorkingPoint>,
}

/// The test set's outcome at a threshold.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkingPoint {
    pub confusion: Confusion,
    pub metrics: MetricSet<f64>,
    /// With a bootstrap.
    pub intervals: Option<MetricSet<Interval>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threshold::parse_rule;
    use crate::Error;

    fn rules(specs: &[&str]) -> Vec<Box<dyn ThresholdRule>> {
        specs.iter().map(|s| parse_rule(s).unwrap()).collect()
    }

    #[test]
    fn reports_each_rule_with_its_metrics_or_its_error() {
        let validation: Vec<f64> = (0..20).map(|i| i as f64 / 20.0).collect();
        let scores = [0.1, 0.5, 0.97, 0.3, 1.2, 0.99, 2.0, 0.4];
        let labels = [false, false, false, false, true, true, true, false];
        let test = LabelledScores { scores: &scores, labels: &labels };
        let out = compare_rules(&validation, &test, &rules(&["max_normal", "max_f1", "conformal{alpha=0.01}"]), None).unwrap();
        assert_eq!((out.validation, out.normal, out.anomalous), (20, 5, 3));
        assert_eq!(out.auroc, Some(1.0));
        assert_eq!(out.average_precision, Some(1.0));
        assert_eq!(out.auroc_interval, None);

        let max_normal = &out.rules[0];
        assert_eq!((max_normal.rule.as_str(), max_normal.kind, max_normal.threshold), ("max_normal", RuleKind::LabelFree, Some(0.95)));
        let point = max_normal.working_point.as_ref().unwrap();
        assert_eq!(point.confusion, Confusion { tp: 3, fp: 1, tn: 4, fn_: 0 });
        assert_eq!(point.metrics.false_alarm_rate, 0.2);
        assert_eq!(out.rules[1].kind, RuleKind::Oracle);
        assert_eq!(out.rules[1].threshold, Some(0.99));

        let conformal = &out.rules[2];
        assert_eq!((conformal.threshold, &conformal.working_point), (None, &None));
        assert!(conformal.error.as_ref().unwrap().contains("at least 99 held-out normal scores"), "{conformal:?}");

        let json = serde_json::to_value(&out).unwrap();
        assert_eq!(json["rules"][0]["kind"], "label_free");
        assert_eq!(json["rules"][0]["working_point"]["confusion"]["fn"], 0);
        assert_eq!(json["rules"][2]["threshold"], serde_json::Value::Null);
    }

    #[test]
    fn bootstrap_adds_intervals_and_one_class_test_sets_still_report_label_free_rules() {
        let validation = [0.1, 0.2, 0.3, 0.4];
        let scores = [0.1, 0.5, 0.25, 0.45];
        let with_both = LabelledScores { scores: &scores, labels: &[false, true, false, true] };
        let boot = Bootstrap::new(50, 0.9, 0).unwrap();
        let out = compare_rules(&validation, &with_both, &rules(&["manual{value=0.3}"]), Some(&boot)).unwrap();
        assert!(out.auroc_interval.is_some());
        let intervals = out.rules[0].working_point.as_ref().unwrap().intervals.unwrap();
        assert_eq!(intervals.recall.estimate, 1.0);

        let normal_only = LabelledScores { scores: &scores, labels: &[false; 4] };
        let out = compare_rules(&validation, &normal_only, &rules(&["max_normal", "youden"]), Some(&boot)).unwrap();
        assert_eq!((out.auroc, out.average_precision, out.auroc_interval), (None, None, None));
        assert_eq!(out.rules[0].working_point.as_ref().unwrap().metrics.false_alarm_rate, 0.5);
        assert!(out.rules[1].error.as_ref().unwrap().contains("anomalous: 0"));
    }

    #[test]
    fn refuses_unusable_input() {
        let test = LabelledScores { scores: &[0.1, 0.2], labels: &[false] };
        assert!(matches!(compare_rules(&[], &test, &[], None), Err(Error::LengthMismatch { .. })));
        let test = LabelledScores { scores: &[0.1], labels: &[false] };
        assert!(matches!(compare_rules(&[f64::NAN], &test, &[], None), Err(Error::NonFiniteScore { .. })));
    }
}
