//! Working-point threshold rules. A *label-free* rule sets the threshold from held-out normal
//! scores only, as it must be in deployment; an *oracle* rule peeks at the test labels and is
//! reported as an upper bound, never recommended.

use std::collections::BTreeMap;
use std::fmt;

use crate::metrics::max_f1;
use crate::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// `mean + k·std` of the normal scores (sample standard deviation, `n − 1` in the denominator).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeanKStd {
    k: f64,
}

impl MeanKStd {
    pub const DEFAULT_K: f64 = 3.0;

    pub fn new(k: f64) -> Result<Self> {
        if !k.is_finite() {
            return Err(Error::InvalidParameter { name: "k", value: k.to_string(), expected: "a finite number" });
        }
        Ok(Self { k })
    }
}

impl ThresholdRule for MeanKStd {
    fn name(&self) -> String {
        format!("mean_k_std{{k={}}}", self.k)
    }

    fn kind(&self) -> RuleKind {
        RuleKind::LabelFree
    }

    fn threshold(&self, normal: &[f64], _test: &LabelledScores) -> Result<f64> {
        if normal.len() < 2 {
            return Err(Error::RuleUndefined {
                rule: self.name(),
                reason: format!(
                    "a standard deviation needs at least 2 held-out normal scores, got {}; raise the validation fraction",
                    normal.len()
                ),
            });
        }
        let n = normal.len() as f64;
        let mean = normal.iter().sum::<f64>() / n;
        let var = normal.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1.0);
        Ok(mean + self.k * var.sqrt())
    }
}

/// Oracle: the observed test score that maximises F1 on the test labels.
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
        max_f1(test.scores, test.labels)
            .map(|(_, threshold)| threshold)
            .map_err(|e| Error::RuleUndefined { rule: self.name(), reason: e.to_string() })
    }
}

/// A threshold given by the user.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Manual {
    value: f64,
}

impl Manual {
    pub fn new(value: f64) -> Result<Self> {
        if !value.is_finite() {
            return Err(Error::InvalidParameter {
                name: "value",
                value: value.to_string(),
                expected: "a finite number",
            });
        }
        Ok(Self { value })
    }
}

impl ThresholdRule for Manual {
    fn name(&self) -> String {
        format!("manual{{value={}}}", self.value)
    }

    fn kind(&self) -> RuleKind {
        RuleKind::LabelFree
    }

    fn threshold(&self, _normal: &[f64], _test: &LabelledScores) -> Result<f64> {
        Ok(self.value)
    }
}

/// The rule names [`parse_rule`] understands, with their parameters.
pub const RULE_SYNTAX: &str = "mean_k_std{k=3}, max_f1, manual{value=0.5}";

/// Parses `name` or `name{key=value,...}`, e.g. `mean_k_std{k=2.5}`; missing parameters take
/// their defaults, unknown ones are errors.
pub fn parse_rule(spec: &str) -> std::result::Result<Box<dyn ThresholdRule>, String> {
    let (name, mut params) = split_spec(spec)?;
    let rule: Box<dyn ThresholdRule> = match name {
        "mean_k_std" => Box::new(MeanKStd::new(params.take("k")?.unwrap_or(MeanKStd::DEFAULT_K)).map_err(|e| e.to_string())?),
        "max_f1" => Box::new(MaxF1),
        "manual" => {
            let value = params.take("value")?.ok_or("rule `manual` needs a value, e.g. manual{value=0.5}")?;
            Box::new(Manual::new(value).map_err(|e| e.to_string())?)
        }
        other => return Err(format!("unknown threshold rule `{other}`: expected one of {RULE_SYNTAX}")),
    };
    params.finish(name)?;
    Ok(rule)
}

struct Params(BTreeMap<String, String>);

impl Params {
    fn take(&mut self, key: &str) -> std::result::Result<Option<f64>, String> {
        self.0
            .remove(key)
            .map(|v| v.parse::<f64>().map_err(|_| format!("parameter `{key}` must be a number, got `{v}`")))
            .transpose()
    }

    fn finish(self, rule: &str) -> std::result::Result<(), String> {
        match self.0.keys().next() {
            Some(key) => Err(format!("rule `{rule}` has no parameter `{key}` (rules: {RULE_SYNTAX})")),
            None => Ok(()),
        }
    }
}

fn split_spec(spec: &str) -> std::result::Result<(&str, Params), String> {
    let spec = spec.trim();
    let Some(open) = spec.find('{') else {
        return Ok((spec, Params(BTreeMap::new())));
    };
    let body = spec[open + 1..]
        .strip_suffix('}')
        .ok_or_else(|| format!("threshold rule `{spec}` opens `{{` but does not end with `}}`"))?;
    let mut params = BTreeMap::new();
    for pair in body.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("in `{spec}`: parameter `{pair}` should look like key=value"))?;
        params.insert(key.trim().to_string(), value.trim().to_string());
    }
    Ok((spec[..open].trim(), Params(params)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_TEST: LabelledScores = LabelledScores { scores: &[], labels: &[] };

    #[test]
    fn mean_k_std_uses_the_sample_standard_deviation() {
        let rule = MeanKStd::new(2.0).unwrap();
        // mean 2.5, sample variance 5/3
        let t = rule.threshold(&[1.0, 2.0, 3.0, 4.0], &NO_TEST).unwrap();
        assert!((t - (2.5 + 2.0 * (5.0f64 / 3.0).sqrt())).abs() < 1e-12);
        assert!(matches!(rule.threshold(&[1.0], &NO_TEST), Err(Error::RuleUndefined { .. })));
    }

    #[test]
    fn label_free_rules_ignore_test_labels() {
        let normal = [0.1, 0.2, 0.3];
        let scores = [0.1, 0.9, 0.5];
        let a = LabelledScores { scores: &scores, labels: &[false, true, true] };
        let b = LabelledScores { scores: &scores, labels: &[true, false, false] };
        for spec in ["mean_k_std", "manual{value=0.4}"] {
            let rule = parse_rule(spec).unwrap();
            assert_eq!(rule.kind(), RuleKind::LabelFree);
            assert_eq!(rule.threshold(&normal, &a).unwrap(), rule.threshold(&normal, &b).unwrap());
        }
    }

    #[test]
    fn max_f1_is_an_oracle_and_errors_without_anomalies() {
        let rule = parse_rule("max_f1").unwrap();
        assert_eq!(rule.kind(), RuleKind::Oracle);
        let test = LabelledScores { scores: &[0.1, 0.2, 0.8, 0.9], labels: &[false, false, true, true] };
        assert_eq!(rule.threshold(&[], &test).unwrap(), 0.8);
        let normal_only = LabelledScores { scores: &[0.1, 0.2], labels: &[false, false] };
        let err = rule.threshold(&[], &normal_only).unwrap_err().to_string();
        assert!(err.contains("max_f1") && err.contains("anomalous: 0"), "{err}");
    }

    #[test]
    fn names_round_trip_and_bad_specs_say_why() {
        for spec in ["mean_k_std{k=3}", "mean_k_std{k=2.5}", "max_f1", "manual{value=0.5}"] {
            assert_eq!(parse_rule(spec).unwrap().name(), spec);
        }
        assert_eq!(parse_rule("mean_k_std").unwrap().name(), "mean_k_std{k=3}");
        assert!(parse_rule("median").unwrap_err().contains("unknown threshold rule `median`"));
        assert!(parse_rule("mean_k_std{q=1}").unwrap_err().contains("no parameter `q`"));
        assert!(parse_rule("mean_k_std{k=abc}").unwrap_err().contains("must be a number"));
        assert!(parse_rule("mean_k_std{k=inf}").unwrap_err().contains("finite"));
        assert!(parse_rule("manual").unwrap_err().contains("needs a value"));
        assert!(parse_rule("mean_k_std{k=3").unwrap_err().contains("does not end"));
    }
}
