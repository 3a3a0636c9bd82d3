//! Every value in `../shared/fixtures/golden_metrics.json` (scikit-learn 1.9.1) to 1e-9.

use mon_normality::metrics::{Confusion, auroc, average_precision, max_f1, roc_curve};
use mon_normality::threshold::{LabelledScores, parse_rule};
use serde_json::Value;

const TOL: f64 = 1e-9;

/// The fixture cases, or `None` where `../shared` is absent (see `mon_testkit::require`).
fn golden() -> Option<serde_json::Map<String, Value>> {
    let path = mon_testkit::shared_fixture("golden_metrics.json")?;
    Some(serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("golden_metrics.json parses"))
}

fn floats(v: &Value) -> Vec<f64> {
    // JSON has no infinity: scikit-learn's leading `inf` ROC threshold is stored as null.
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap_or(f64::INFINITY)).collect()
}

fn close(what: &str, case: &str, got: f64, want: f64) {
    assert!((got - want).abs() <= TOL || got == want, "{case}: {what} = {got}, scikit-learn says {want}");
}

#[test]
fn every_golden_metric_matches_scikit_learn() {
    let Some(cases) = golden() else { return };
    assert!(!cases.is_empty());
    for (case, c) in &cases {
        let scores = floats(&c["scores"]);
        let labels: Vec<bool> = c["labels"].as_array().unwrap().iter().map(|l| l.as_i64() == Some(1)).collect();
        assert_eq!(c["predicted_anomalous_if"], "score >= threshold");

        close("AUROC", case, auroc(&scores, &labels).unwrap(), c["auroc"].as_f64().unwrap());
        close("AP", case, average_precision(&scores, &labels).unwrap(), c["average_precision"].as_f64().unwrap());

        let roc = roc_curve(&scores, &labels).unwrap();
        for (name, got, want) in [
            ("fpr", &roc.fpr, floats(&c["roc_fpr"])),
            ("tpr", &roc.tpr, floats(&c["roc_tpr"])),
            ("threshold", &roc.thresholds, floats(&c["roc_thresholds"])),
        ] {
            assert_eq!(got.len(), want.len(), "{case}: ROC length");
            for (g, w) in got.iter().zip(&want) {
                close(&format!("ROC {name}"), case, *g, *w);
            }
        }

        let (f1, threshold) = max_f1(&scores, &labels).unwrap();
        close("max F1", case, f1, c["max_f1"].as_f64().unwrap());
        close("max-F1 threshold", case, threshold, c["max_f1_threshold"].as_f64().unwrap());
        let test = LabelledScores { scores: &scores, labels: &labels };
        close("max_f1 rule", case, parse_rule("max_f1").unwrap().threshold(&[], &test).unwrap(), threshold);

        let at = Confusion::at(&scores, &labels, c["at_threshold"].as_f64().unwrap()).unwrap();
        for (name, got) in [
            ("f1_at", at.f1()),
            ("precision_at", at.precision()),
            ("recall_at", at.recall()),
            ("accuracy_at", at.accuracy()),
            ("balanced_accuracy_at", at.balanced_accuracy()),
            ("mcc_at", at.mcc()),
        ] {
            close(name, case, got, c[name].as_f64().unwrap());
        }
    }
}
