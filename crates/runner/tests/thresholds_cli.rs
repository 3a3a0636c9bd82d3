//! `mon thresholds` from the command line: scikit-learn's golden metrics to 1e-9 through a CSV
//! and the printed JSON, and clear errors on bad scores files.

mod common;

use std::path::Path;

use common::mon;
use serde_json::Value;

const TOL: f64 = 1e-9;

fn write_scores(path: &Path, rows: &[(&str, bool, f64)]) {
    let mut text = String::from("image,split,label,score\n");
    for (i, (split, anomalous, score)) in rows.iter().enumerate() {
        // `{:?}` prints the shortest text that reads back as the same f64.
        text.push_str(&format!("img{i}.png,{split},{},{score:?}\n", *anomalous as u8));
    }
    std::fs::write(path, text).unwrap();
}

fn thresholds(args: &[&str]) -> Value {
    let out = mon(&[&["thresholds"], args].concat());
    assert!(out.success, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", out.stdout))
}

fn floats(v: &Value) -> Vec<f64> {
    // JSON has no infinity: the leading ROC threshold is null on both sides.
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap_or(f64::INFINITY)).collect()
}

fn close(case: &str, what: &str, got: &Value, want: &Value) {
    let (g, w) = (got.as_f64().unwrap_or(f64::INFINITY), want.as_f64().unwrap_or(f64::INFINITY));
    assert!(g == w || (g - w).abs() <= TOL, "{case}: {what} = {g}, scikit-learn says {w}");
}

#[test]
fn reproduces_scikit_learn_through_the_command_line() {
    let Some(path) = mon_testkit::shared_fixture("golden_metrics.json") else { return };
    let golden: serde_json::Map<String, Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (case, g) in &golden {
        let scores = floats(&g["scores"]);
        let labels: Vec<bool> = g["labels"].as_array().unwrap().iter().map(|l| l.as_i64() == Some(1)).collect();
        // The normal test scores double as the validation set; the label-free rules are not
        // what is checked here.
        let mut rows: Vec<(&str, bool, f64)> = scores.iter().zip(&labels).filter(|(_, l)| !**l).map(|(s, _)| ("validation", false, *s)).collect();
        rows.extend(scores.iter().zip(&labels).map(|(s, l)| ("test", *l, *s)));
        let csv = dir.path().join(format!("{case}.csv"));
        write_scores(&csv, &rows);

        let manual = format!("manual{{value={:?}}}", g["at_threshold"].as_f64().unwrap());
        let out = thresholds(&["--scores", csv.to_str().unwrap(), "--rule", "max_f1", "--rule", &manual, "--curves"]);
        close(case, "auroc", &out["auroc"], &g["auroc"]);
        close(case, "average_precision", &out["average_precision"], &g["average_precision"]);
        for (key, want) in [("fpr", "roc_fpr"), ("tpr", "roc_tpr"), ("thresholds", "roc_thresholds")] {
            let (got, want) = (floats(&out["roc"][key]), floats(&g[want]));
            assert_eq!(got.len(), want.len(), "{case}: ROC {key} length");
            for (a, b) in got.iter().zip(&want) {
                assert!(a == b || (a - b).abs() <= TOL, "{case}: ROC {key}: {a} vs {b}");
            }
        }
        let max_f1 = &out["rules"][0];
        assert_eq!(max_f1["kind"], "oracle");
        close(case, "max_f1 threshold", &max_f1["threshold"], &g["max_f1_threshold"]);
        close(case, "max_f1", &max_f1["working_point"]["metrics"]["f1"], &g["max_f1"]);
        let at = &out["rules"][1]["working_point"]["metrics"];
        for metric in ["precision", "recall", "f1", "accuracy", "balanced_accuracy", "mcc"] {
            close(case, metric, &at[metric], &g[format!("{metric}_at")]);
        }
    }
}

#[test]
fn every_rule_runs_by_default_and_bootstrap_adds_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("scores.csv");
    // 200 validation normals spread over [0, 1), test normals in the same range, anomalies above.
    let mut rows: Vec<(&str, bool, f64)> = (0..200).map(|i| ("validation", false, ((i * 37) % 200) as f64 / 200.0)).collect();
    rows.extend((0..50).map(|i| ("test", false, i as f64 / 50.0)));
    rows.extend((0..20).map(|i| ("test", true, 0.9 + i as f64 / 20.0)));
    write_scores(&csv, &rows);
    let out = thresholds(&["--scores", csv.to_str().unwrap(), "--bootstrap", "200", "--seed", "3"]);
    assert_eq!((out["validation"].as_u64(), out["normal"].as_u64(), out["anomalous"].as_u64()), (Some(200), Some(50), Some(20)));
    let rules = out["rules"].as_array().unwrap();
    let names: Vec<&str> = rules.iter().map(|r| r["rule"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 12, "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("manual")));
    for rule in rules {
        assert!(rule["threshold"].is_f64() != rule["error"].is_string(), "{rule}");
    }
    let quantile = rules.iter().find(|r| r["rule"] == "quantile{q=0.95}").unwrap();
    assert_eq!(quantile["kind"], "label_free");
    let interval = &quantile["working_point"]["intervals"]["recall"];
    assert!(interval["low"].as_f64().unwrap() <= interval["high"].as_f64().unwrap(), "{interval}");
    assert!(out["auroc_interval"].is_object());
    assert!(out.get("roc").is_none(), "curves only with --curves");
    let huge = mon(&["thresholds", "--scores", csv.to_str().unwrap(), "--bootstrap", "1000000000"]);
    assert!(!huge.success && huge.stderr.contains("--bootstrap 1000000000: at most 100000"), "{}", huge.stderr);
}

#[test]
fn bad_scores_files_are_named_with_the_line_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("split,label\ntest,1\n", "no column `score`"),
        ("split,label,score\ntest,1,0.5\ntest,2,0.1\n", "line 3: label \"2\" must be 0 (normal) or 1 (anomalous)"),
        ("split,label,score\nvalidation,1,0.5\n", "line 2: validation rows are held-out normal images"),
        ("split,label,score\ntrain,0,0.5\n", "line 2: split \"train\" must be `validation` or `test`"),
        ("split,label,score\ntest,0,abc\n", "line 2: score \"abc\" is not a number"),
        ("split,label,score\ntest,0,inf\n", "line 2: score inf is not finite"),
        ("split,label,score\nvalidation,0,0.5\n", "no `test` rows"),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let csv = dir.path().join(format!("bad{i}.csv"));
        std::fs::write(&csv, text).unwrap();
        let out = mon(&["thresholds", "--scores", csv.to_str().unwrap()]);
        assert!(!out.success, "{text} accepted");
        assert!(out.stderr.contains(&format!("bad{i}.csv")) && out.stderr.contains(expected), "expected {expected:?} in: {}", out.stderr);
    }
    let out = mon(&["thresholds", "--scores", dir.path().to_str().unwrap()]);
    assert!(!out.success && out.stderr.contains("is a folder; --scores takes a CSV file"), "{}", out.stderr);
    let out = mon(&["thresholds", "--scores", "no/such.csv"]);
    assert!(!out.success && out.stderr.contains("no/such.csv: no such file"), "{}", out.stderr);
    let csv = dir.path().join("bad0.csv");
    let out = mon(&["thresholds", "--scores", csv.to_str().unwrap(), "--rule", "median"]);
    assert!(!out.success && out.stderr.contains("unknown threshold rule `median`"), "{}", out.stderr);
}
