//! Experiment files (TOML): what to run. Parsing refuses unknown keys and wrong types; checking
//! turns every name into the typed thing it names, so a run never starts on a typo.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use mon_backbone::{BackboneSpec, DeviceChoice, find_backbone};
use mon_normality::model::{InputKind, NormalityModel, parse_model};
use mon_normality::threshold::{ThresholdRule, parse_rule};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Names the results folder `results/<name>/<timestamp>/`.
    pub name: String,
    pub dataset: DatasetConfig,
    pub backbone: BackboneConfig,
    #[serde(default)]
    pub normality: NormalityConfig,
    pub thresholds: ThresholdConfig,
    #[serde(default)]
    pub run: RunConfig,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    /// A label for tables, e.g. `mvtec_ad` or `elpv`.
    pub name: String,
    /// A folder of categories in MVTec AD layout; relative paths are taken from the directory
    /// `mon` runs in.
    pub root: PathBuf,
    /// Category folders to run; all of them when absent.
    pub categories: Option<Vec<String>>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackboneConfig {
    pub name: String,
    /// Weights file; the catalogue's file under `weights/` when absent.
    pub weights: Option<PathBuf>,
    /// The stage (or stages: a list) whose output the models of normality read: pooled by
    /// global average for the pooled models, as maps for the spatial ones.
    pub tap: OneOrMany,
}

/// A setting that takes one value or a list of them; a list runs each value.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn values(&self) -> &[String] {
        match self {
            OneOrMany::One(value) => std::slice::from_ref(value),
            OneOrMany::Many(values) => values,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NormalityConfig {
    /// Models of normality, each giving an anomaly score: `cosine` and `euclidean` (distance to
    /// the mean feature, the paper's) or any spec `parse_model` reads, e.g. `gaussian`,
    /// `position_mean`, `patch_knn{memory=20000}`.
    pub scores: Vec<String>,
    /// Share of `train/good` held out to set label-free thresholds. With 0 the model's own
    /// training scores serve as the normal reference (in-sample, so thresholds come out low).
    pub validation_fraction: f64,
    pub seed: u64,
}

impl Default for NormalityConfig {
    fn default() -> Self {
        Self { scores: vec!["cosine".into(), "euclidean".into()], validation_fraction: 0.2, seed: 0 }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdConfig {
    /// Rules such as `mean_k_std{k=3}` or `max_f1`.
    pub rules: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    pub batch_size: usize,
    /// `cpu` (default), `flex`, `ndarray` or `wgpu`.
    pub device: String,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self { batch_size: 16, device: "cpu".into() }
    }
}

/// An experiment with every name resolved.
pub struct Plan {
    pub file: PathBuf,
    /// The experiment file as written.
    pub source: String,
    pub experiment: Experiment,
    pub backbone: &'static BackboneSpec,
    pub weights: PathBuf,
    pub taps: Vec<String>,
    pub models: Vec<ModelChoice>,
    pub rules: Vec<Box<dyn ThresholdRule>>,
    pub device: DeviceChoice,
}

impl Plan {
    /// Reads `file`, applies `key.path=value` overrides, and checks every setting.
    pub fn load(file: &Path, overrides: &[String]) -> Result<Plan> {
        let source = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read experiment file {}", file.display()))?;
        let parse_error = |e: toml::de::Error, note: &str| anyhow!("{}{note}: {}", file.display(), e.to_string().trim_end());
        let experiment: Experiment = if overrides.is_empty() {
            // Parsed straight from the text, so that errors point at the line.
            toml::from_str(&source).map_err(|e| parse_error(e, ""))?
        } else {
            let mut table: toml::Table = toml::from_str(&source).map_err(|e| parse_error(e, ""))?;
            for assignment in overrides {
                apply_override(&mut table, assignment).with_context(|| format!("--set {assignment}"))?;
            }
            let resolved = toml::to_string(&table).expect("a TOML table serialises");
            toml::from_str(&resolved).map_err(|e| parse_error(e, " (with the --set overrides applied)"))?
        };
        Self::check(file, source, experiment)
    }

    fn check(file: &Path, source: String, experiment: Experiment) -> Result<Plan> {
        let at = |key: &str| format!("{}: `{key}`", file.display());
        let e = &experiment;
        if e.name.is_empty() || !e.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) || e.name.starts_with('.') {
            bail!("{}: {:?} must be a folder name of letters, digits, `-`, `_` and `.`", at("name"), e.name);
        }
        let backbone = find_backbone(&e.backbone.name).with_context(|| at("backbone.name"))?;
        let weights = e.backbone.weights.clone().unwrap_or_else(|| backbone.default_weights());
        if e.dataset.categories.as_ref().is_some_and(|c| c.is_empty()) {
            bail!("{}: list at least one category, or leave the key out to run every category folder", at("dataset.categories"));
        }
        if let Some(categories) = &e.dataset.categories {
            distinct(categories.iter().map(String::as_str)).map_err(|msg| anyhow!("{}: {msg}", at("dataset.categories")))?;
        }
        let taps = e.backbone.tap.values().to_vec();
        if taps.is_empty() {
            bail!("{}: list at least one stage, e.g. \"head\"", at("backbone.tap"));
        }
        distinct(taps.iter().map(String::as_str)).map_err(|msg| anyhow!("{}: {msg}", at("backbone.tap")))?;
        if e.normality.scores.is_empty() {
            bail!("{}: list at least one score, e.g. [\"cosine\", \"euclidean\"]", at("normality.scores"));
        }
        let models = e
            .normality
            .scores
            .iter()
            .map(|s| ModelChoice::parse(s).map_err(|msg| anyhow!("{}: {msg}", at("normality.scores"))))
            .collect::<Result<Vec<_>>>()?;
        let model_names: Vec<String> = models.iter().map(|m| m.model.name()).collect();
        distinct(model_names.iter().map(String::as_str)).map_err(|msg| anyhow!("{}: {msg}", at("normality.scores")))?;
        if !(0.0..1.0).contains(&e.normality.validation_fraction) {
            bail!("{}: {} is not a fraction in [0, 1)", at("normality.validation_fraction"), e.normality.validation_fraction);
        }
        if e.thresholds.rules.is_empty() {
            bail!("{}: list at least one rule, e.g. [\"mean_k_std{{k=3}}\", \"max_f1\"]", at("thresholds.rules"));
        }
        let rules = e
            .thresholds
            .rules
            .iter()
            .map(|r| parse_rule(r).map_err(|msg| anyhow!("{}: {msg}", at("thresholds.rules"))))
            .collect::<Result<Vec<_>>>()?;
        let rule_names: Vec<String> = rules.iter().map(|r| r.name()).collect();
        distinct(rule_names.iter().map(String::as_str)).map_err(|msg| anyhow!("{}: {msg}", at("thresholds.rules")))?;
        if e.run.batch_size == 0 {
            bail!("{}: must be at least 1", at("run.batch_size"));
        }
        let device = e.run.device.parse::<DeviceChoice>().map_err(|msg| anyhow!("{}: {msg}", at("run.device")))?;
        Ok(Plan { file: file.to_path_buf(), source, experiment, backbone, weights, taps, models, rules, device })
    }

    /// Whether any model reads feature maps, so that extraction must keep them.
    pub fn needs_maps(&self) -> bool {
        self.models.iter().any(|m| m.model.input() == InputKind::Maps)
    }
}

/// Refuses a list naming the same thing twice (compared by canonical name, so `max_f1` and
/// `max_f1{}` are one rule): it would only give rows that cannot be told apart.
pub fn distinct<'a>(values: impl IntoIterator<Item = &'a str>) -> std::result::Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for value in values {
        if !seen.insert(value) {
            return Err(format!("`{value}` is listed twice; list each once"));
        }
    }
    Ok(())
}

/// A model of normality as an experiment names it.
#[derive(Debug)]
pub struct ModelChoice {
    /// The name as written, for tables: `cosine`, `patch_knn{memory=20000}` …
    pub label: String,
    pub model: Box<dyn NormalityModel>,
}

impl ModelChoice {
    /// `cosine` and `euclidean` are the paper's distance to the mean feature
    /// (`mean{distance=…}`); anything else is a model spec.
    pub fn parse(label: &str) -> std::result::Result<Self, String> {
        let spec = match label.trim() {
            "cosine" | "euclidean" => format!("mean{{distance={}}}", label.trim()),
            other => other.to_string(),
        };
        let model = parse_model(&spec).map_err(|e| if e.starts_with("unknown model") { format!("{e}, or the shorthands cosine, euclidean") } else { e })?;
        Ok(Self { label: label.trim().to_string(), model })
    }
}

/// `a.b.c=value`: `value` is read as a TOML value (`0.1`, `true`, `["x"]`), else as a string.
fn apply_override(table: &mut toml::Table, assignment: &str) -> Result<()> {
    let (path, raw) = assignment.split_once('=').ok_or_else(|| anyhow!("expected key.path=value"))?;
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let keys: Vec<&str> = path.trim().split('.').collect();
    let (last, parents) = keys.split_last().expect("split yields at least one key");
    let mut node = table;
    for key in parents {
        node = node
            .entry(key.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| anyhow!("`{key}` is not a table"))?;
    }
    node.insert(last.to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "demo"
[dataset]
name = "toy"
root = "data/toy"
[backbone]
name = "efficientnet-lite0"
tap = "head"
[thresholds]
rules = ["mean_k_std{k=3}", "max_f1"]
"#;

    fn load(text: &str, overrides: &[&str]) -> Result<Plan> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("exp.toml");
        std::fs::write(&file, text).unwrap();
        Plan::load(&file, &overrides.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn defaults_fill_what_the_file_leaves_out() {
        let plan = load(GOOD, &[]).unwrap();
        let models: Vec<String> = plan.models.iter().map(|m| m.model.name()).collect();
        assert_eq!(models, ["mean{distance=cosine}", "mean{distance=euclidean}"]);
        assert_eq!(plan.taps, ["head"]);
        assert!(!plan.needs_maps());
        assert_eq!(plan.rules.len(), 2);
        assert_eq!(plan.experiment.normality.validation_fraction, 0.2);
        assert_eq!(plan.experiment.run.batch_size, 16);
        assert_eq!(plan.device, DeviceChoice::Cpu);
        assert_eq!(plan.weights, PathBuf::from("weights/efficientnet-lite0-57934424.pth"));
    }

    #[test]
    fn overrides_set_nested_keys_with_typed_values() {
        let plan = load(GOOD, &["normality.validation_fraction=0", "backbone.tap=block5", "normality.scores=[\"cosine\"]"]).unwrap();
        assert_eq!(plan.experiment.normality.validation_fraction, 0.0);
        assert_eq!(plan.taps, ["block5"]);
        assert_eq!(plan.models.iter().map(|m| m.label.as_str()).collect::<Vec<_>>(), ["cosine"]);
    }

    #[test]
    fn lists_of_taps_and_spatial_models_are_accepted() {
        let plan = load(GOOD, &["backbone.tap=[\"block5\", \"head\"]", "normality.scores=[\"gaussian\", \"patch_knn{memory=500}\"]"]).unwrap();
        assert_eq!(plan.taps, ["block5", "head"]);
        assert_eq!(plan.models[1].label, "patch_knn{memory=500}");
        assert_eq!(plan.models[1].model.name(), "patch_knn{k=1,distance=euclidean,memory=500,coreset=greedy,projection=128,seed=0,top=1}");
        assert!(plan.needs_maps());
    }

    /// Each mistake is reported with the file and the key it concerns.
    #[test]
    fn mistakes_name_the_file_and_the_key() {
        let cases: [(&str, &[&str], &str); 16] = [
            (GOOD, &["dataset.categories=[]"], "`dataset.categories`: list at least one category, or leave the key out"),
            (GOOD, &["dataset.categories=[\"a\", \"a\"]"], "`dataset.categories`: `a` is listed twice"),
            (GOOD, &["backbone.tap=[\"head\", \"head\"]"], "`backbone.tap`: `head` is listed twice"),
            (GOOD, &["normality.scores=[\"cosine\", \"mean{distance=cosine}\"]"], "`normality.scores`: `mean{distance=cosine}` is listed twice"),
            (GOOD, &["thresholds.rules=[\"max_f1\", \"max_f1{}\"]"], "`thresholds.rules`: `max_f1` is listed twice"),
            (GOOD, &["dataset.colour=1"], "unknown field `colour`"),
            (GOOD, &["run.batch_size=\"big\""], "batch_size"),
            (&GOOD.replace("[thresholds]\nrules = [\"mean_k_std{k=3}\", \"max_f1\"]\n", ""), &[], "missing field `thresholds`"),
            (GOOD, &["backbone.name=resnet9"], "`backbone.name`: unknown backbone `resnet9`"),
            (GOOD, &["normality.scores=[\"manhattan\"]"], "`normality.scores`: unknown model of normality `manhattan`"),
            (GOOD, &["normality.scores=[\"knn{k=0}\"]"], "`normality.scores`: knn: invalid parameter `k` = 0"),
            (GOOD, &["backbone.tap=[]"], "`backbone.tap`: list at least one stage"),
            (GOOD, &["thresholds.rules=[\"median\"]"], "`thresholds.rules`: unknown threshold rule `median`"),
            (GOOD, &["normality.validation_fraction=1.5"], "`normality.validation_fraction`"),
            (GOOD, &["run.device=tpu"], "`run.device`: unknown device `tpu`"),
            (GOOD, &["name=\"../escape\""], "`name`"),
        ];
        for (text, overrides, expected) in cases {
            let err = format!("{:#}", load(text, overrides).err().unwrap_or_else(|| panic!("{overrides:?} accepted")));
            assert!(err.contains("exp.toml") || err.contains("--set"), "{err}");
            assert!(err.contains(expected), "expected {expected:?} in: {err}");
        }
        let err = format!("{:#}", load("name = \"x\"\n[dataset\n", &[]).err().unwrap());
        assert!(err.contains("exp.toml") && err.contains("line 2"), "{err}");
    }
}
