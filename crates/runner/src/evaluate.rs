//! One category at one tap: fit each model of normality, score the held-out normal and the test
//! images, set every threshold rule's working point, and measure it.

use anyhow::{Context, Result};
use mon_normality::metrics::{Confusion, Roc, auroc, roc_curve};
use mon_normality::split::HoldOut;
use mon_normality::threshold::{LabelledScores, RuleKind, ThresholdRule, finite_threshold};

use crate::experiment::ModelChoice;
use crate::extract::TapFeatures;

/// A threshold rule's working point on the test set.
#[derive(Clone, Debug)]
pub struct OperatingPoint {
    pub threshold: f64,
    pub confusion: Confusion,
}

#[derive(Clone, Debug)]
pub struct RuleOutcome {
    pub rule: String,
    pub oracle: bool,
    /// The working point, or why the rule could not be computed here.
    pub point: Result<OperatingPoint, String>,
}

#[derive(Clone, Debug)]
pub struct ScoreOutcome {
    /// The model of normality as the experiment names it.
    pub score: String,
    /// Scores of the normal reference the label-free rules saw.
    pub reference: Vec<f64>,
    pub test: Vec<f64>,
    /// `None` when the test set lacks normal or anomalous images.
    pub roc: Option<Roc>,
    pub auroc: Option<f64>,
    pub rules: Vec<RuleOutcome>,
}

/// `train` holds every `train/good` image's features; `split` says which fit the models and
/// which are held out. With no held-out rows, the fitted rows themselves are the normal reference.
pub fn evaluate(train: &TapFeatures, split: &HoldOut, test: &TapFeatures, labels: &[bool], models: &[ModelChoice], rules: &[Box<dyn ThresholdRule>]) -> Result<Vec<ScoreOutcome>> {
    let fit = train.select(&split.fit);
    let reference_rows = if split.validation.is_empty() { &split.fit } else { &split.validation };
    let reference_features = train.select(reference_rows);
    models
        .iter()
        .map(|choice| {
            let kind = choice.model.input();
            let fitted = choice.model.fit(fit.input(kind)).with_context(|| format!("fitting `{}`", choice.label))?;
            let reference = fitted.score(reference_features.input(kind))?.scores;
            let test_scores = fitted.score(test.input(kind))?.scores;
            let roc = roc_curve(&test_scores, labels).ok();
            let auroc = roc.as_ref().map(|_| auroc(&test_scores, labels)).transpose()?;
            let labelled = LabelledScores { scores: &test_scores, labels };
            let rules = rules
                .iter()
                .map(|rule| {
                    let point = finite_threshold(rule.as_ref(), &reference, &labelled)
                        .and_then(|threshold| {
                            Ok(OperatingPoint { threshold, confusion: Confusion::at(&test_scores, labels, threshold)? })
                        })
                        .map_err(|e| e.to_string());
                    RuleOutcome { rule: rule.name(), oracle: rule.kind() == RuleKind::Oracle, point }
                })
                .collect();
            Ok(ScoreOutcome { score: choice.label.clone(), reference, test: test_scores, roc, auroc, rules })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mon_normality::split::hold_out;
    use mon_normality::threshold::parse_rule;
    use mon_normality::{FeatureMaps, Features};

    fn column(values: &[f32]) -> TapFeatures {
        TapFeatures { pooled: Features::new(values.len(), 1, values.to_vec()).unwrap(), maps: None }
    }

    fn models(specs: &[&str]) -> Vec<ModelChoice> {
        specs.iter().map(|s| ModelChoice::parse(s).unwrap()).collect()
    }

    #[test]
    fn separable_toy_data_gives_perfect_auroc_and_sane_working_points() {
        let train = column(&[1.0, 1.1, 0.9, 1.05, 0.95, 1.0, 1.02, 0.98, 1.01, 0.99]);
        let test = column(&[1.0, 1.03, 3.0, 4.0]);
        let labels = [false, false, true, true];
        let split = hold_out(10, 0.3, 0).unwrap();
        let rules = vec![parse_rule("mean_k_std{k=3}").unwrap(), parse_rule("max_f1").unwrap()];
        let out = evaluate(&train, &split, &test, &labels, &models(&["euclidean"]), &rules).unwrap();
        assert_eq!(out[0].reference.len(), 3);
        assert_eq!(out[0].auroc, Some(1.0));
        let max_f1 = out[0].rules[1].point.as_ref().unwrap();
        assert!(out[0].rules[1].oracle);
        assert_eq!(max_f1.confusion, Confusion { tp: 2, fp: 0, tn: 2, fn_: 0 });
        let mean_k_std = out[0].rules[0].point.as_ref().unwrap();
        assert!(!out[0].rules[0].oracle);
        assert!(mean_k_std.threshold > 0.0 && mean_k_std.threshold < 2.0, "{}", mean_k_std.threshold);
    }

    #[test]
    fn without_anomalies_auroc_is_absent_and_oracles_say_why() {
        let train = column(&[1.0, 2.0, 3.0]);
        let test = column(&[1.0, 2.0]);
        let rules = vec![parse_rule("max_f1").unwrap(), parse_rule("mean_k_std").unwrap()];
        let split = hold_out(3, 0.0, 0).unwrap();
        let out = evaluate(&train, &split, &test, &[false, false], &models(&["euclidean"]), &rules).unwrap();
        assert_eq!(out[0].auroc, None);
        assert!(out[0].rules[0].point.as_ref().unwrap_err().contains("anomalous: 0"));
        assert!(out[0].rules[1].point.is_ok(), "label-free rules still run");
        assert_eq!(out[0].reference.len(), 3, "no hold-out: the fitted images are the reference");
    }

    /// `n` one-channel 2×2 maps of value 1, with a bright spot at position 3 where `defect`.
    fn maps(defects: &[bool]) -> TapFeatures {
        let data = defects.iter().flat_map(|&d| [1.0, 1.0, 1.0, if d { 9.0 } else { 1.0 }]).collect();
        let maps = FeatureMaps::new(defects.len(), 1, 2, 2, data).unwrap();
        TapFeatures { pooled: maps.global_average_pool(), maps: Some(maps) }
    }

    #[test]
    fn spatial_and_pooled_models_run_side_by_side() {
        let train = maps(&[false; 4]);
        let test = maps(&[false, true]);
        let labels = [false, true];
        let split = hold_out(4, 0.0, 0).unwrap();
        let models = models(&["position_mean", "patch_knn{coreset=random}", "cosine"]);
        let out = evaluate(&train, &split, &test, &labels, &models, &[parse_rule("max_f1").unwrap()]).unwrap();
        assert_eq!(out.iter().map(|o| o.score.as_str()).collect::<Vec<_>>(), ["position_mean", "patch_knn{coreset=random}", "cosine"]);
        assert_eq!(out[0].test, [0.0, 8.0], "the spot is 8 away from the mean map");
        assert_eq!(out[1].test, [0.0, 8.0], "and from every memory patch");
        assert_eq!(out[0].auroc, Some(1.0));
        // Pooled over the whole map, every image points the same way: cosine cannot tell them apart.
        assert_eq!(out[2].auroc, Some(0.5));
    }

    #[test]
    fn a_spatial_model_without_maps_says_what_it_needs() {
        let train = TapFeatures { maps: None, ..maps(&[false; 3]) };
        let split = hold_out(3, 0.0, 0).unwrap();
        let err = format!("{:#}", evaluate(&train, &split, &train, &[false, true, false], &models(&["position_mean"]), &[]).unwrap_err());
        assert!(err.contains("needs feature maps"), "{err}");
    }
}
