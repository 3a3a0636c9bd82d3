//! A finished cell's scores → every threshold rule's working point and the metrics there, with
//! stratified bootstrap intervals. Deterministic given the scores (the bootstrap is seeded by the
//! cell's seed), so a sharded sweep measures exactly what the unsharded one does.

use mon_normality::metrics::{Bootstrap, Confusion, Interval, MetricSet, Roc, auroc, roc_curve};
use mon_normality::threshold::{LabelledScores, RuleKind, ThresholdRule, finite_threshold};

use crate::report::CellRecord;

#[derive(Clone, Debug)]
pub struct RuleMetrics {
    pub rule: String,
    pub oracle: bool,
    /// The threshold and the test confusion there, or why the rule could not be computed.
    pub point: Result<(f64, Confusion), String>,
    /// Bootstrap intervals of the metrics at that threshold (none without both classes).
    pub intervals: Option<MetricSet<Interval>>,
}

#[derive(Clone, Debug)]
pub struct CellMetrics {
    /// `None` when the test set lacks normal or anomalous images.
    pub roc: Option<Roc>,
    pub auroc: Option<Interval>,
    pub rules: Vec<RuleMetrics>,
}

/// `bootstrap`: resamples (0 = no intervals) and level.
pub fn measure(
    cell: &CellRecord,
    rules: &[Box<dyn ThresholdRule>],
    bootstrap: (usize, f64),
) -> CellMetrics {
    let scores: Vec<f64> = cell.test.iter().map(|t| t.score).collect();
    let labels: Vec<bool> = cell.test.iter().map(|t| t.anomalous).collect();
    let reference: Vec<f64> = cell.reference.iter().map(|r| r.1).collect();
    let both_classes = labels.iter().any(|&l| l) && labels.iter().any(|&l| !l);
    let resampler = (both_classes && bootstrap.0 >= 2)
        .then(|| Bootstrap::new(bootstrap.0, bootstrap.1, cell.seed).ok())
        .flatten();
    let roc = roc_curve(&scores, &labels).ok().filter(|_| both_classes);
    let auroc = roc.as_ref().and_then(|_| match &resampler {
        Some(b) => b.auroc(&scores, &labels).ok(),
        None => auroc(&scores, &labels).ok().map(|a| Interval {
            estimate: a,
            low: f64::NAN,
            high: f64::NAN,
        }),
    });
    let labelled = LabelledScores {
        scores: &scores,
        labels: &labels,
    };
    let rules = rules
        .iter()
        .map(|rule| {
            let point = finite_threshold(rule.as_ref(), &reference, &labelled)
                .and_then(|t| Ok((t, Confusion::at(&scores, &labels, t)?)))
                .map_err(|e| e.to_string());
            let intervals = match (&point, &resampler) {
                (Ok((t, _)), Some(b)) => b.at_threshold(&scores, &labels, *t).ok(),
                _ => None,
            };
            RuleMetrics {
                rule: rule.name(),
                oracle: rule.kind() == RuleKind::Oracle,
                point,
                intervals,
            }
        })
        .collect();
    CellMetrics { roc, auroc, rules }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::cell;
    use mon_normality::threshold::parse_rule;

    #[test]
    fn rules_get_working_points_and_intervals() {
        let c = cell(
            &[1.0, 1.1, 0.9],
            &[(1.0, false), (1.05, false), (3.0, true), (4.0, true)],
        );
        let rules = vec![
            parse_rule("max_normal").unwrap(),
            parse_rule("max_f1").unwrap(),
        ];
        let m = measure(&c, &rules, (200, 0.9));
        assert_eq!(m.auroc.unwrap().estimate, 1.0);
        let (threshold, confusion) = m.rules[0].point.clone().unwrap();
        assert_eq!(threshold, 1.1);
        assert_eq!(
            confusion,
            Confusion {
                tp: 2,
                fp: 0,
                tn: 2,
                fn_: 0
            }
        );
        assert!(!m.rules[0].oracle && m.rules[1].oracle);
        let f1 = m.rules[0].intervals.unwrap().f1;
        assert_eq!(
            (f1.estimate, f1.low, f1.high),
            (1.0, 1.0, 1.0),
            "perfectly separated: no spread"
        );
        // The same cell measured again (another shard, `mon report`) gives the same numbers.
        let again = measure(&c, &rules, (200, 0.9));
        assert_eq!(format!("{:?}", again.rules), format!("{:?}", m.rules));
    }

    #[test]
    fn without_anomalies_there_is_no_auroc_and_oracles_say_why() {
        let c = cell(&[1.0, 2.0, 3.0], &[(1.0, false), (2.0, false)]);
        let rules = vec![
            parse_rule("max_f1").unwrap(),
            parse_rule("mean_k_std").unwrap(),
        ];
        let m = measure(&c, &rules, (100, 0.95));
        assert!(m.auroc.is_none() && m.roc.is_none());
        assert!(
            m.rules[0]
                .point
                .as_ref()
                .unwrap_err()
                .contains("anomalous: 0")
        );
        assert!(m.rules[1].point.is_ok(), "label-free rules still run");
        assert!(m.rules[1].intervals.is_none());
    }
}
