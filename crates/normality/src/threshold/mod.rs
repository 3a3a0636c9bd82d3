//! Working-point threshold rules. A *label-free* rule sets the threshold from held-out normal
//! (validation) scores only, as it must be in deployment; an *oracle* rule peeks at the test
//! labels and is reported as an upper bound, never recommended.
//!
//! Every rule's decision is `score >= threshold` → anomalous. A rule that cannot be computed on
//! the data at hand returns [`Error::RuleUndefined`] saying why; none falls back silently to
//! another rule.

mod evt;
mod label_free;
mod oracle;

use std::fmt;

use serde::Serialize;

pub use evt::{EvtPot, Gpd, fit_gpd};
pub use label_free::{Conformal, GaussianTail, KdeTail, Manual, MaxNormal, MeanKStd, Quantile};
pub use oracle::{Eer, FixedFpr, FixedRecall, MaxF1, Youden};

use crate::error::check_finite_scores;
use crate::spec::{Spec, SpecResult};
use crate::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    LabelFree,
    Oracle,
}

/// Test scores with their labels (`true` = anomalous); only oracle rules read them.
#[derive(Clone, Copy, Debug)]
pub struct LabelledScores<'a> {
    pub scores: &'a [f64],
    pub labels: &'a [bool],
}

pub trait ThresholdRule: fmt::Debug + Send + Sync {
    /// The rule with its parameters, e.g. `mean_k_std{k=3}`; parses back with [`parse_rule`].
    fn name(&self) -> String;
    fn kind(&self) -> RuleKind;
    /// `normal`: scores of held-out normal images. `test`: read by oracle rules only.
    fn threshold(&self, normal: &[f64], test: &LabelledScores) -> Result<f64>;
}

/// Every rule [`parse_rule`] understands, with its parameters at their defaults (`manual` has
/// none: its value is required).
pub const RULE_SYNTAX: &str = "mean_k_std{k=3}, quantile{q=0.95}, max_normal, conformal{alpha=0.05}, \
evt_pot{q=0.8,risk=0.01}, gaussian_tail{z=3}, kde_tail{fpr=0.05}, max_f1, youden, eer, fixed_fpr{fpr=0.05}, \
fixed_recall{recall=0.95}, manual{value=0.5}";

/// Parses `name` or `name{key=value,...}`, e.g. `mean_k_std{k=2.5}`; missing parameters take
/// their defaults (those in [`RULE_SYNTAX`]), unknown ones are errors.
pub fn parse_rule(spec: &str) -> SpecResult<Box<dyn ThresholdRule>> {
    let mut spec = Spec::parse(spec, "threshold rule", RULE_SYNTAX)?;
    let checked = |r: Result<Box<dyn ThresholdRule>>| r.map_err(|e| e.to_string());
    let rule: Box<dyn ThresholdRule> = match spec.name() {
        "mean_k_std" => checked(MeanKStd::new(spec.number("k")?.unwrap_or(MeanKStd::DEFAULT_K)).map(boxed))?,
        "quantile" => checked(Quantile::new(spec.number("q")?.unwrap_or(Quantile::DEFAULT_Q)).map(boxed))?,
        "max_normal" => Box::new(MaxNormal),
        "conformal" => checked(Conformal::new(spec.number("alpha")?.unwrap_or(Conformal::DEFAULT_ALPHA)).map(boxed))?,
        "evt_pot" => {
            let q = spec.number("q")?.unwrap_or(EvtPot::DEFAULT_Q);
            let risk = spec.number("risk")?.unwrap_or(EvtPot::DEFAULT_RISK);
            checked(EvtPot::new(q, risk).map(boxed))?
        }
        "gaussian_tail" => checked(GaussianTail::new(spec.number("z")?.unwrap_or(GaussianTail::DEFAULT_Z)).map(boxed))?,
        "kde_tail" => checked(KdeTail::new(spec.number("fpr")?.unwrap_or(KdeTail::DEFAULT_FPR)).map(boxed))?,
        "max_f1" => Box::new(MaxF1),
        "youden" => Box::new(Youden),
        "eer" => Box::new(Eer),
        "fixed_fpr" => checked(FixedFpr::new(spec.number("fpr")?.unwrap_or(FixedFpr::DEFAULT_FPR)).map(boxed))?,
        "fixed_recall" => checked(FixedRecall::new(spec.number("recall")?.unwrap_or(FixedRecall::DEFAULT_RECALL)).map(boxed))?,
        "manual" => checked(Manual::new(spec.required_number("value", "manual{value=0.5}")?).map(boxed))?,
        _ => return Err(spec.unknown_name()),
    };
    spec.finish()?;
    Ok(rule)
}

fn boxed(rule: impl ThresholdRule + 'static) -> Box<dyn ThresholdRule> {
    Box::new(rule)
}

/// `rule`'s threshold, refusing one that is not finite: scores near the limits of `f64` can
/// overflow a rule's arithmetic (mean + k·std of ±1e200), and an infinite or NaN threshold would
/// otherwise pass for a working point. Callers use this rather than [`ThresholdRule::threshold`].
pub fn finite_threshold(rule: &dyn ThresholdRule, normal: &[f64], test: &LabelledScores) -> Result<f64> {
    let threshold = rule.threshold(normal, test)?;
    if threshold.is_finite() {
        Ok(threshold)
    } else {
        Err(undefined(rule, format!("its arithmetic overflowed to {threshold} on these scores; rescale them (e.g. divide by their largest value)")))
    }
}

/// The error of a rule that cannot be computed here.
pub(crate) fn undefined(rule: &dyn ThresholdRule, reason: impl Into<String>) -> Error {
    Error::RuleUndefined { rule: rule.name(), reason: reason.into() }
}

/// Refuses non-finite validation scores and fewer than `min` (`purpose` says what they are
/// needed for).
pub(crate) fn check_validation(rule: &dyn ThresholdRule, normal: &[f64], min: usize, purpose: &str) -> Result<()> {
    check_finite_scores(normal)?;
    if normal.len() < min {
        return Err(undefined(
            rule,
            format!("{purpose} needs at least {min} held-out normal scores, got {}; raise the validation fraction", normal.len()),
        ));
    }
    Ok(())
}

/// A copy of the validation scores to reorder, after [`check_validation`].
pub(crate) fn validation_copy(rule: &dyn ThresholdRule, normal: &[f64], min: usize, purpose: &str) -> Result<Vec<f64>> {
    check_validation(rule, normal, min, purpose)?;
    Ok(normal.to_vec())
}

/// The value of 0-based rank `k` from the top (in `f64::total_cmp` order), in expected linear
/// time instead of a full sort; `values` is reordered so that `values[..k]` holds the `k` values
/// ranked above it.
pub(crate) fn kth_highest(values: &mut [f64], k: usize) -> f64 {
    *values.select_nth_unstable_by(k, |a, b| b.total_cmp(a)).1
}

/// The median (the mean of the two middle values for an even count), reordering `values`.
pub(crate) fn median(values: &mut [f64]) -> f64 {
    let n = values.len();
    let (below, &mut upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    match below.iter().copied().max_by(f64::total_cmp) {
        Some(lower) if n.is_multiple_of(2) => (lower + upper) / 2.0,
        _ => upper,
    }
}

/// The root of an increasing `g` inside `(lo, hi)`, where `g(lo) < 0 ≤ g(hi)` (neither is
/// evaluated): Newton's method from `start`, kept inside the shrinking bracket (a bisection step
/// wherever Newton would leave it), until a step is at most `tolerance` relative (a few ulps where
/// `g` is accurate to rounding). `g` returns its value and derivative. Bisection's answer in a
/// handful of evaluations instead of ~60, which matters where each is a pass over many scores.
pub(crate) fn increasing_root(mut lo: f64, mut hi: f64, start: f64, tolerance: f64, mut g: impl FnMut(f64) -> (f64, f64)) -> f64 {
    let mut t = if start > lo && start < hi { start } else { lo + (hi - lo) / 2.0 };
    loop {
        let (value, slope) = g(t);
        if value < 0.0 { lo = t } else { hi = t }
        let newton = t - value / slope;
        let next = if newton > lo && newton < hi { newton } else { lo + (hi - lo) / 2.0 };
        if (next - t).abs() <= tolerance * t.abs() || next <= lo || next >= hi {
            return next;
        }
        t = next;
    }
}

/// [`increasing_root`]'s tolerance for a `g` accurate to rounding.
pub(crate) const ULPS: f64 = 4.0 * f64::EPSILON;

/// `⌊x⌋`, forgiving the rounding of decimal parameters: `10 × (1 − 0.8)` is
/// 1.9999999999999996 in floating point and must count as 2.
pub(crate) fn floor_of_decimal(x: f64) -> f64 {
    (x + 1e-9 * x.abs().max(1.0)).floor()
}

/// `⌈x⌉`, forgiving rounding likewise: `1/(1 − 0.8)` is 5.000000000000001 and must give 5.
pub(crate) fn ceil_of_decimal(x: f64) -> f64 {
    (x - 1e-9 * x.abs().max(1.0)).ceil()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_TEST: LabelledScores = LabelledScores { scores: &[], labels: &[] };

    #[test]
    fn label_free_rules_ignore_test_labels() {
        let normal: Vec<f64> = (0..100).map(|i| ((i * 37) % 100) as f64 / 10.0).collect();
        let scores = [0.1, 0.9, 0.5];
        let a = LabelledScores { scores: &scores, labels: &[false, true, true] };
        let b = LabelledScores { scores: &scores, labels: &[true, false, false] };
        let mut label_free = 0;
        for spec in RULE_SYNTAX.split(", ") {
            let rule = parse_rule(spec).unwrap();
            if rule.kind() == RuleKind::LabelFree {
                label_free += 1;
                assert_eq!(rule.threshold(&normal, &a).unwrap(), rule.threshold(&normal, &b).unwrap(), "{spec}");
            } else {
                assert!(rule.threshold(&normal, &NO_TEST).is_err(), "{spec} is an oracle and needs test labels");
            }
        }
        assert_eq!(label_free, 8);
    }

    #[test]
    fn names_round_trip_and_defaults_are_the_documented_ones() {
        for spec in RULE_SYNTAX.split(", ") {
            assert_eq!(parse_rule(spec).unwrap().name(), spec);
            let bare = spec.split('{').next().unwrap();
            if bare != "manual" {
                assert_eq!(parse_rule(bare).unwrap().name(), spec, "defaults of {bare}");
            }
        }
        for spec in ["mean_k_std{k=2.5}", "quantile{q=0.99}", "evt_pot{q=0.9,risk=0.001}", "manual{value=-1.25}"] {
            assert_eq!(parse_rule(spec).unwrap().name(), spec);
        }
        assert_eq!(parse_rule(" evt_pot { risk = 0.001 } ").unwrap().name(), "evt_pot{q=0.8,risk=0.001}");
    }

    #[test]
    fn bad_specs_say_why() {
        for (spec, expected) in [
            ("median", "unknown threshold rule `median`"),
            ("mean_k_std{q=1}", "no parameter `q`"),
            ("mean_k_std{k=abc}", "must be a number"),
            ("mean_k_std{k=inf}", "finite"),
            ("mean_k_std{k=-1}", "mean_k_std: invalid parameter `k` = -1: expected a finite number ≥ 0"),
            ("manual", "needs a value"),
            ("mean_k_std{k=3", "does not end"),
            ("quantile{q=1}", "quantile: invalid parameter `q` = 1"),
            ("conformal{alpha=0}", "conformal: invalid parameter `alpha` = 0"),
            ("evt_pot{risk=1.5}", "evt_pot: invalid parameter `risk`"),
            ("kde_tail{fpr=-0.1}", "kde_tail: invalid parameter `fpr`"),
            ("fixed_recall{recall=0}", "fixed_recall: invalid parameter `recall`"),
            ("gaussian_tail{z=nan}", "gaussian_tail: invalid parameter `z`"),
        ] {
            let err = parse_rule(spec).unwrap_err();
            assert!(err.contains(expected), "{spec}: {err}");
        }
    }

    #[test]
    fn non_finite_validation_scores_are_refused() {
        for spec in ["mean_k_std", "quantile", "max_normal", "conformal", "gaussian_tail", "kde_tail", "evt_pot"] {
            let err = parse_rule(spec).unwrap().threshold(&[1.0, f64::NAN, 2.0], &NO_TEST).unwrap_err();
            assert!(matches!(err, Error::NonFiniteScore { index: 1, .. }), "{spec}: {err}");
        }
    }

    #[test]
    fn overflowing_thresholds_are_errors_not_working_points() {
        let huge = [1e200, -1e200, 0.0];
        let err = finite_threshold(parse_rule("mean_k_std").unwrap().as_ref(), &huge, &NO_TEST).unwrap_err().to_string();
        assert!(err.contains("mean_k_std") && err.contains("overflowed to") && err.contains("rescale"), "{err}");
        assert_eq!(finite_threshold(parse_rule("max_normal").unwrap().as_ref(), &huge, &NO_TEST).unwrap(), 1e200);
    }

    #[test]
    fn decimal_floors_forgive_rounding_only() {
        assert_eq!(floor_of_decimal(10.0 * (1.0 - 0.8)), 2.0);
        assert_eq!(floor_of_decimal(1.999), 1.0);
        assert_eq!(floor_of_decimal(0.0), 0.0);
        assert_eq!(ceil_of_decimal(1.0 / (1.0 - 0.8)), 5.0);
        assert_eq!(ceil_of_decimal(1.0 / (1.0 - 0.95)), 20.0);
        assert_eq!(ceil_of_decimal(4.001), 5.0);
    }
}
