//! Every value in `../shared/fixtures/golden_metrics.json` (scikit-learn 1.9.1) to 1e-9, and the
//! precision-recall curves and false-alarm rates of `tests/data/golden_pr.json` (scikit-learn
//! 1.9.1 on the same scores, made by scripts/dev/normality_references.py), through the metric
//! functions and through `compare_rules`, the library side of `mon thresholds`.

use mon_normality::compare::compare_rules;
use mon_normality::metrics::{Confusion, MetricSet, auroc, average_precision, max_f1, pr_curve, roc_curve};
use mon_normality::threshold::{LabelledScores, RuleKind, parse_rule};
use serde_json::{Map, Value};

const TOL: f64 = 1e-9;

/// The fixture cases, or `None` where `../shared` is absent (see `mon_testkit::require`).
fn golden() -> Option<Map<String, Value>> {
    let path = mon_testkit::shared_fixture("golden_metrics.json")?;
    Some(serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("golden_metrics.json parses"))
}

fn golden_pr() -> Map<String, Value> {
    serde_json::from_str(include_str!("data/golden_pr.json")).expect("golden_pr.json parses")
}

fn floats(v: &Value) -> Vec<f64> {
    // JSON has no infinity: scikit-learn's leading `inf` ROC threshold is stored as null.
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap_or(f64::INFINITY)).collect()
}

fn close(what: &str, case: &str, got: f64, want: f64) {
    assert!((got - want).abs() <= TOL || got == want, "{case}: {what} = {got}, scikit-learn says {want}");
}

fn close_all(what: &str, case: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{case}: {what} length");
    for (g, w) in got.iter().zip(want) {
        close(what, case, *g, *w);
    }
}

struct Case {
    name: String,
    scores: Vec<f64>,
    labels: Vec<bool>,
    golden: Value,
    pr: Value,
}

fn cases() -> Option<Vec<Case>> {
    let golden = golden()?;
    let pr = golden_pr();
    assert!(!golden.is_empty());
    Some(
        golden
            .into_iter()
            .map(|(name, c)| {
                let scores = floats(&c["scores"]);
                let labels = c["labels"].as_array().unwrap().iter().map(|l| l.as_i64() == Some(1)).collect();
                assert_eq!(c["predicted_anomalous_if"], "score >= threshold");
                let pr = pr[&name].clone();
                close("sum of the scores golden_pr.json was made from", &name, scores.iter().sum(), pr["score_sum"].as_f64().unwrap());
                Case { name, scores, labels, golden: c, pr }
            })
            .collect(),
    )
}

/// The fixture's metrics at `at_threshold`, as a [`MetricSet`].
fn golden_at_threshold(c: &Case) -> MetricSet<f64> {
    let g = |key: &str| c.golden[key].as_f64().unwrap();
    MetricSet {
        precision: g("precision_at"),
        recall: g("recall_at"),
        f1: g("f1_at"),
        accuracy: g("accuracy_at"),
        balanced_accuracy: g("balanced_accuracy_at"),
        mcc: g("mcc_at"),
        false_alarm_rate: c.pr["false_alarm_rate_at"].as_f64().unwrap(),
    }
}

fn close_metrics(case: &str, got: &MetricSet<f64>, want: &MetricSet<f64>) {
    for ((name, g), w) in MetricSet::<f64>::NAMES.iter().zip(got.values()).zip(want.values()) {
        close(name, case, *g, *w);
    }
}

#[test]
fn every_golden_metric_matches_scikit_learn() {
    let Some(cases) = cases() else { return };
    for c in &cases {
        let (case, scores, labels) = (c.name.as_str(), &c.scores, &c.labels);
        close("AUROC", case, auroc(scores, labels).unwrap(), c.golden["auroc"].as_f64().unwrap());
        close("AP", case, average_precision(scores, labels).unwrap(), c.golden["average_precision"].as_f64().unwrap());

        let roc = roc_curve(scores, labels).unwrap();
        close_all("ROC fpr", case, &roc.fpr, &floats(&c.golden["roc_fpr"]));
        close_all("ROC tpr", case, &roc.tpr, &floats(&c.golden["roc_tpr"]));
        close_all("ROC threshold", case, &roc.thresholds, &floats(&c.golden["roc_thresholds"]));

        let pr = pr_curve(scores, labels).unwrap();
        close_all("PR precision", case, &pr.precision, &floats(&c.pr["pr_precision"]));
        close_all("PR recall", case, &pr.recall, &floats(&c.pr["pr_recall"]));
        close_all("PR threshold", case, &pr.thresholds, &floats(&c.pr["pr_thresholds"]));

        let (f1, threshold) = max_f1(scores, labels).unwrap();
        close("max F1", case, f1, c.golden["max_f1"].as_f64().unwrap());
        close("max-F1 threshold", case, threshold, c.golden["max_f1_threshold"].as_f64().unwrap());
        let test = LabelledScores { scores, labels };
        close("max_f1 rule", case, parse_rule("max_f1").unwrap().threshold(&[], &test).unwrap(), threshold);

        let at = Confusion::at(scores, labels, c.golden["at_threshold"].as_f64().unwrap()).unwrap();
        close_metrics(case, &at.metrics(), &golden_at_threshold(c));
    }
}

/// What `mon thresholds` reports: the same numbers through [`compare_rules`].
#[test]
fn compare_rules_reproduces_the_golden_values() {
    let Some(cases) = cases() else { return };
    for c in &cases {
        let case = c.name.as_str();
        let at_threshold = c.golden["at_threshold"].as_f64().unwrap();
        let rules = [parse_rule("max_f1").unwrap(), parse_rule(&format!("manual{{value={at_threshold}}}")).unwrap()];
        let test = LabelledScores { scores: &c.scores, labels: &c.labels };
        let out = compare_rules(&[], &test, &rules, None).unwrap();
        close("AUROC", case, out.auroc.unwrap(), c.golden["auroc"].as_f64().unwrap());
        close("AP", case, out.average_precision.unwrap(), c.golden["average_precision"].as_f64().unwrap());

        let max_f1 = &out.rules[0];
        assert_eq!(max_f1.kind, RuleKind::Oracle);
        close("max-F1 threshold", case, max_f1.threshold.unwrap(), c.golden["max_f1_threshold"].as_f64().unwrap());
        close("max F1", case, max_f1.working_point.as_ref().unwrap().metrics.f1, c.golden["max_f1"].as_f64().unwrap());

        let manual = &out.rules[1];
        assert_eq!(manual.threshold, Some(at_threshold), "{case}: `manual{{value=…}}` round-trips the threshold exactly");
        close_metrics(case, &manual.working_point.as_ref().unwrap().metrics, &golden_at_threshold(c));
    }
}
