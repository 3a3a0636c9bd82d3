//! `mon thresholds`: every threshold rule's working point on scores from any detector
//! (anomalib, PatchCore, this workbench …), read from a CSV of `split,label,score` rows and
//! printed as JSON.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail, ensure};
use clap::Args;
use mon_normality::compare::{RuleComparison, compare_rules};
use mon_normality::metrics::{Bootstrap, PrCurve, Roc, pr_curve, roc_curve};
use mon_normality::threshold::{LabelledScores, RULE_SYNTAX, ThresholdRule, parse_rule};
use polars::prelude::{CsvReadOptions, SerReader};
use serde::Serialize;

/// More resamples only cost time: the percentile bounds settle long before.
const MAX_BOOTSTRAP: usize = 100_000;

#[derive(Args, Debug)]
pub struct ThresholdsArgs {
    /// CSV with a header and the columns `split,label,score` (others are ignored): `split` is
    /// `validation` (held-out normal images, label 0) or `test`; `label` is 1 for anomalous.
    #[arg(long)]
    scores: PathBuf,
    /// A threshold rule, e.g. "quantile{q=0.99}" (repeatable). Default: every rule but `manual`.
    #[arg(long = "rule", value_name = "RULE")]
    rules: Vec<String>,
    /// Stratified bootstrap replicates for confidence intervals (0: none).
    #[arg(long, default_value_t = 0)]
    bootstrap: usize,
    /// Confidence level of the bootstrap intervals.
    #[arg(long, default_value_t = Bootstrap::DEFAULT_LEVEL)]
    level: f64,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Also print the test set's ROC and precision-recall curves.
    #[arg(long)]
    curves: bool,
}

/// What `mon thresholds` prints.
#[derive(Serialize)]
struct Report {
    scores: String,
    #[serde(flatten)]
    comparison: RuleComparison,
    #[serde(skip_serializing_if = "Option::is_none")]
    roc: Option<Roc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pr: Option<PrCurve>,
}

/// Runs the command; returns the JSON text.
pub fn thresholds(args: &ThresholdsArgs) -> Result<String> {
    let rules = rules(&args.rules)?;
    if args.bootstrap > MAX_BOOTSTRAP {
        bail!("--bootstrap {}: at most {MAX_BOOTSTRAP} resamples (1000 is usual; 10 000 already fixes the interval bounds to about ±0.005)", args.bootstrap);
    }
    let bootstrap = (args.bootstrap > 0).then(|| Bootstrap::new(args.bootstrap, args.level, args.seed)).transpose()?;
    let scores = ScoresFile::read(&args.scores)?;
    let test = LabelledScores { scores: &scores.test, labels: &scores.labels };
    let comparison = compare_rules(&scores.validation, &test, &rules, bootstrap.as_ref())
        .with_context(|| format!("{}", args.scores.display()))?;
    let both_classes = comparison.normal > 0 && comparison.anomalous > 0;
    let (roc, pr) = if args.curves && both_classes {
        (Some(roc_curve(test.scores, test.labels)?), Some(pr_curve(test.scores, test.labels)?))
    } else {
        (None, None)
    };
    let report = Report { scores: args.scores.display().to_string(), comparison, roc, pr };
    Ok(serde_json::to_string_pretty(&report)?)
}

fn rules(specs: &[String]) -> Result<Vec<Box<dyn ThresholdRule>>> {
    let defaults: Vec<String> = RULE_SYNTAX.split(", ").filter(|s| !s.starts_with("manual")).map(String::from).collect();
    let specs = if specs.is_empty() { &defaults } else { specs };
    specs.iter().map(|s| parse_rule(s).map_err(|e| anyhow!("--rule: {e}"))).collect()
}

/// The rows of a scores file, by split.
struct ScoresFile {
    validation: Vec<f64>,
    test: Vec<f64>,
    labels: Vec<bool>,
}

impl ScoresFile {
    fn read(path: &Path) -> Result<Self> {
        ensure!(!path.is_dir(), "{}: is a folder; --scores takes a CSV file with the columns split,label,score", path.display());
        ensure!(path.is_file(), "{}: no such file (expected a CSV with the columns split,label,score)", path.display());
        // Every column as text, so that a bad cell is reported with its line below rather than
        // as a type-inference failure.
        let frame = CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .try_into_reader_with_file_path(Some(path.to_path_buf()))
            .and_then(|reader| reader.finish())
            .with_context(|| format!("{}: not a readable CSV file", path.display()))?;
        let column = |name: &str| {
            frame.column(name).and_then(|c| c.str().cloned()).map_err(|_| {
                anyhow!("{}: no column `{name}`; the header must name split, label and score (found: {:?})", path.display(), frame.get_column_names())
            })
        };
        let (split, label, score) = (column("split")?, column("label")?, column("score")?);
        let mut out = ScoresFile { validation: Vec::new(), test: Vec::new(), labels: Vec::new() };
        for (row, ((split, label), score)) in split.iter().zip(label.iter()).zip(score.iter()).enumerate() {
            // Line numbers as an editor shows them: the header is line 1.
            let at = || format!("{} line {}", path.display(), row + 2);
            let score: f64 = score.unwrap_or("").trim().parse().map_err(|_| anyhow!("{}: score {:?} is not a number", at(), score.unwrap_or("")))?;
            ensure!(score.is_finite(), "{}: score {score} is not finite", at());
            let anomalous = match label.unwrap_or("").trim() {
                "0" => false,
                "1" => true,
                other => bail!("{}: label {other:?} must be 0 (normal) or 1 (anomalous)", at()),
            };
            match split.unwrap_or("").trim() {
                "validation" if anomalous => bail!("{}: validation rows are held-out normal images, so their label must be 0", at()),
                "validation" => out.validation.push(score),
                "test" => {
                    out.test.push(score);
                    out.labels.push(anomalous);
                }
                other => bail!("{}: split {other:?} must be `validation` or `test`", at()),
            }
        }
        ensure!(!out.test.is_empty(), "{}: no `test` rows; the rules are measured on them", path.display());
        Ok(out)
    }
}
