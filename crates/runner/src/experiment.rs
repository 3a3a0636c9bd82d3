//! Experiment files (TOML): what to run. Parsing refuses unknown keys and wrong types; checking
//! turns every name into the typed thing it names, so a run never starts on a typo.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use mon_backbone::{BackboneSpec, DeviceChoice, find_backbone};
use mon_normality::model::{InputKind, NormalityModel, parse_model};
use mon_normality::threshold::{ThresholdRule, parse_rule};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::dataset::{FolderSplit, Layout};

/// The experiment file as written: `dataset` and `backbone` may each be a table, a list of
/// tables, a preset name from `configs/`, or a list mixing both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExperimentFile {
    name: String,
    dataset: toml::Value,
    backbone: toml::Value,
    #[serde(default)]
    normality: NormalityConfig,
    thresholds: ThresholdConfig,
    #[serde(default)]
    report: ReportConfig,
    #[serde(default)]
    run: RunConfig,
}

/// An experiment with presets expanded and every list explicit: what `resolved.toml` holds,
/// and what `Plan::load` reads back from it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Names the results folder `results/<name>/<timestamp>/`.
    pub name: String,
    pub dataset: Vec<DatasetConfig>,
    pub backbone: Vec<BackboneConfig>,
    pub normality: NormalityConfig,
    pub thresholds: ThresholdConfig,
    pub report: ReportConfig,
    pub run: RunConfig,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    /// A label for tables, e.g. `mvtec_ad` or `elpv`.
    pub name: String,
    /// The dataset (a folder of categories, or a manifest CSV for `layout = "manifest"`);
    /// relative paths are taken from the directory `mon` runs in.
    pub root: PathBuf,
    /// Categories to run; all of them when absent.
    pub categories: Option<Vec<String>>,
    /// `mvtec` (default), `folder` or `manifest`: see docs/datasets.md.
    #[serde(default)]
    pub layout: Layout,
    /// How the `folder` layout splits `good/` into train and test.
    #[serde(default)]
    pub folder_split: FolderSplit,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackboneConfig {
    /// A catalogue name, or a list of them (each runs every tap).
    pub name: OneOrMany<String>,
    /// Weights file; the catalogue's file under `weights/` when absent (required absent when
    /// `name` lists several backbones).
    pub weights: Option<PathBuf>,
    /// The stage (or stages: a list) whose output the models of normality read: pooled by
    /// global average for the pooled models, as maps for the spatial ones.
    pub tap: OneOrMany<String>,
}

/// A setting that takes one value or a list of them; a list runs each value.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged, expecting = "one value or a list of values, e.g. \"head\" or [\"block5\", \"head\"] (seeds: whole numbers from 0)")]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    pub fn values(&self) -> &[T] {
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
    /// Seed of the hold-out split; a list (`seeds = [0, 1, 2]`) repeats every cell per seed.
    #[serde(alias = "seeds")]
    pub seed: OneOrMany<u64>,
}

impl Default for NormalityConfig {
    fn default() -> Self {
        Self {
            scores: vec!["cosine".into(), "euclidean".into()],
            validation_fraction: 0.2,
            seed: OneOrMany::One(0),
        }
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
pub struct ReportConfig {
    /// Stratified bootstrap resamples of the test set for the confidence intervals in
    /// `metrics.csv`; 0 leaves the interval columns empty.
    pub bootstrap: usize,
    /// Confidence level of those intervals.
    pub level: f64,
    /// Anomaly-map overlays drawn per spatial model and category.
    pub overlays: usize,
}

impl Default for ReportConfig {
    fn default() -> Self {
        Self {
            bootstrap: 1000,
            level: 0.95,
            overlays: 4,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    pub batch_size: usize,
    /// `cpu` (default), `flex`, `ndarray` or `wgpu`.
    pub device: String,
    /// The feature cache; `<results>/.cache` when absent.
    pub cache: Option<PathBuf>,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            batch_size: 16,
            device: "cpu".into(),
            cache: None,
        }
    }
}

/// A backbone of the grid with its weights and taps.
pub struct BackboneChoice {
    pub spec: &'static BackboneSpec,
    pub weights: PathBuf,
    pub taps: Vec<String>,
}

/// An experiment with every name resolved.
pub struct Plan {
    pub file: PathBuf,
    /// The experiment file as written.
    pub source: String,
    pub experiment: Experiment,
    pub backbones: Vec<BackboneChoice>,
    pub models: Vec<ModelChoice>,
    pub rules: Vec<Box<dyn ThresholdRule>>,
    pub seeds: Vec<u64>,
    pub device: DeviceChoice,
}

impl Plan {
    /// Reads `file`, applies `key.path=value` overrides, expands presets and checks every setting.
    pub fn load(file: &Path, overrides: &[String]) -> Result<Plan> {
        let source = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read experiment file {}", file.display()))?;
        let parse_error = |e: toml::de::Error, note: &str| {
            anyhow!("{}{note}: {}", file.display(), e.to_string().trim_end())
        };
        // Parsed straight from the text first, so that errors point at the user's lines.
        let written: ExperimentFile = toml::from_str(&source).map_err(|e| parse_error(e, ""))?;
        let written = if overrides.is_empty() {
            written
        } else {
            let mut table: toml::Table = toml::from_str(&source).map_err(|e| parse_error(e, ""))?;
            for assignment in overrides {
                apply_override(&mut table, assignment)
                    .with_context(|| format!("--set {assignment}"))?;
            }
            toml::Value::Table(table)
                .try_into()
                .map_err(|e| parse_error(e, " (with the --set overrides applied)"))?
        };
        let presets = PresetDirs::for_file(file);
        let experiment = Experiment {
            dataset: presets.entries(written.dataset, "dataset", "datasets", file)?,
            backbone: presets.entries(written.backbone, "backbone", "backbones", file)?,
            name: written.name,
            normality: written.normality,
            thresholds: written.thresholds,
            report: written.report,
            run: written.run,
        };
        Self::check(file, source, experiment)
    }

    fn check(file: &Path, source: String, experiment: Experiment) -> Result<Plan> {
        let at = |key: &str| format!("{}: `{key}`", file.display());
        let e = &experiment;
        if e.name.is_empty()
            || !e
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            || e.name.starts_with('.')
        {
            bail!(
                "{}: {:?} must be a folder name of letters, digits, `-`, `_` and `.`",
                at("name"),
                e.name
            );
        }
        for (i, dataset) in e.dataset.iter().enumerate() {
            let key = |k: &str| at(&format!("dataset[{i}].{k}"));
            if dataset.categories.as_ref().is_some_and(|c| c.is_empty()) {
                bail!(
                    "{}: list at least one category, or leave the key out to run every category folder",
                    key("categories")
                );
            }
            if let Some(categories) = &dataset.categories {
                distinct(categories.iter().map(String::as_str))
                    .map_err(|msg| anyhow!("{}: {msg}", key("categories")))?;
            }
        }
        distinct(e.dataset.iter().map(|d| d.name.as_str()))
            .map_err(|msg| anyhow!("{}: {msg}", at("dataset.name")))?;
        let mut backbones = Vec::new();
        for (i, config) in e.backbone.iter().enumerate() {
            let key = |k: &str| at(&format!("backbone[{i}].{k}"));
            let names = config.name.values();
            if names.len() > 1 && config.weights.is_some() {
                bail!(
                    "{}: one weights file cannot serve several backbones; give each its own [[backbone]] table",
                    key("weights")
                );
            }
            let taps = config.tap.values().to_vec();
            if taps.is_empty() {
                bail!("{}: list at least one stage, e.g. \"head\"", key("tap"));
            }
            distinct(taps.iter().map(String::as_str))
                .map_err(|msg| anyhow!("{}: {msg}", key("tap")))?;
            for name in names {
                let spec = find_backbone(name).with_context(|| key("name"))?;
                let weights = config
                    .weights
                    .clone()
                    .unwrap_or_else(|| spec.default_weights());
                backbones.push(BackboneChoice {
                    spec,
                    weights,
                    taps: taps.clone(),
                });
            }
        }
        if backbones.is_empty() {
            bail!("{}: name at least one backbone", at("backbone"));
        }
        distinct(backbones.iter().map(|b| b.spec.name))
            .map_err(|msg| anyhow!("{}: {msg}", at("backbone.name")))?;
        if e.normality.scores.is_empty() {
            bail!(
                "{}: list at least one score, e.g. [\"cosine\", \"euclidean\"]",
                at("normality.scores")
            );
        }
        let models = e
            .normality
            .scores
            .iter()
            .map(|s| {
                ModelChoice::parse(s).map_err(|msg| anyhow!("{}: {msg}", at("normality.scores")))
            })
            .collect::<Result<Vec<_>>>()?;
        let model_names: Vec<String> = models.iter().map(|m| m.model.name()).collect();
        distinct(model_names.iter().map(String::as_str))
            .map_err(|msg| anyhow!("{}: {msg}", at("normality.scores")))?;
        if !(0.0..1.0).contains(&e.normality.validation_fraction) {
            bail!(
                "{}: {} is not a fraction in [0, 1)",
                at("normality.validation_fraction"),
                e.normality.validation_fraction
            );
        }
        let seeds = e.normality.seed.values().to_vec();
        if seeds.is_empty() {
            bail!("{}: list at least one seed, e.g. [0]", at("normality.seed`/`seeds"));
        }
        let seed_names: Vec<String> = seeds.iter().map(u64::to_string).collect();
        distinct(seed_names.iter().map(String::as_str))
            .map_err(|msg| anyhow!("{}: {msg}", at("normality.seed`/`seeds")))?;
        if e.thresholds.rules.is_empty() {
            bail!(
                "{}: list at least one rule, e.g. [\"mean_k_std{{k=3}}\", \"max_f1\"]",
                at("thresholds.rules")
            );
        }
        let rules = e
            .thresholds
            .rules
            .iter()
            .map(|r| parse_rule(r).map_err(|msg| anyhow!("{}: {msg}", at("thresholds.rules"))))
            .collect::<Result<Vec<_>>>()?;
        let rule_names: Vec<String> = rules.iter().map(|r| r.name()).collect();
        distinct(rule_names.iter().map(String::as_str))
            .map_err(|msg| anyhow!("{}: {msg}", at("thresholds.rules")))?;
        if e.report.bootstrap == 1 {
            bail!(
                "{}: 1 resample gives no interval; use 0 (none) or at least 2 (1000 is usual)",
                at("report.bootstrap")
            );
        }
        if !(e.report.level > 0.0 && e.report.level < 1.0) {
            bail!(
                "{}: {} is not a confidence level in (0, 1), e.g. 0.95",
                at("report.level"),
                e.report.level
            );
        }
        if e.run.batch_size == 0 {
            bail!("{}: must be at least 1", at("run.batch_size"));
        }
        if e.run.cache.as_ref().is_some_and(|c| c.as_os_str().is_empty()) {
            bail!("{}: an empty path would put the cache in the current directory; name a folder, or leave the key out for <results>/.cache", at("run.cache"));
        }
        let device = e
            .run
            .device
            .parse::<DeviceChoice>()
            .map_err(|msg| anyhow!("{}: {msg}", at("run.device")))?;
        Ok(Plan {
            file: file.to_path_buf(),
            source,
            experiment,
            backbones,
            models,
            rules,
            seeds,
            device,
        })
    }

    /// Whether any model reads feature maps, so that extraction must keep them.
    pub fn needs_maps(&self) -> bool {
        self.models
            .iter()
            .any(|m| m.model.input() == InputKind::Maps)
    }

    /// The experiment as resolved, with every weights file spelled out, as TOML.
    pub fn resolved_toml(&self) -> Result<String> {
        let mut resolved = self.experiment.clone();
        // A backbone entry naming several networks keeps the catalogue's files implicit.
        for config in &mut resolved.backbone {
            if let [name] = config.name.values() {
                let spec = find_backbone(name)?;
                config.weights.get_or_insert_with(|| spec.default_weights());
            }
        }
        toml::to_string_pretty(&resolved).context("serialising the resolved experiment")
    }
}

/// Where preset names are looked up: `configs/` in the directory `mon` runs in, then the
/// `configs/` beside the experiment file's folder (so `experiments/x.toml` finds `configs/`).
struct PresetDirs(Vec<PathBuf>);

impl PresetDirs {
    fn for_file(file: &Path) -> Self {
        let beside = file
            .parent()
            .and_then(Path::parent)
            .map(|p| p.join("configs"));
        Self(
            std::iter::once(PathBuf::from("configs"))
                .chain(beside)
                .collect(),
        )
    }

    /// The tables `value` stands for: itself, each item of a list, or a preset's contents.
    fn entries<T: DeserializeOwned>(
        &self,
        value: toml::Value,
        key: &str,
        kind: &str,
        file: &Path,
    ) -> Result<Vec<T>> {
        let items = match value {
            toml::Value::Array(items) => items,
            other => vec![other],
        };
        if items.is_empty() {
            bail!(
                "{}: `{key}`: an empty list; name at least one",
                file.display()
            );
        }
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                let (origin, table) = match item {
                    toml::Value::String(name) => self
                        .preset(&name, kind)
                        .with_context(|| format!("{}: `{key}[{i}]`", file.display()))?,
                    table @ toml::Value::Table(_) => (file.display().to_string(), table),
                    other => bail!(
                        "{}: `{key}[{i}]`: expected a table or a preset name, found {}",
                        file.display(),
                        other.type_str()
                    ),
                };
                table.try_into().map_err(|e: toml::de::Error| {
                    anyhow!("{origin}: `{key}[{i}]`: {}", e.message())
                })
            })
            .collect()
    }

    fn preset(&self, name: &str, kind: &str) -> Result<(String, toml::Value)> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            || name.starts_with('.')
        {
            bail!("{name:?} is not a preset name (letters, digits, `-`, `_`, `.`)");
        }
        let Some(path) = self
            .0
            .iter()
            .map(|d| d.join(kind).join(format!("{name}.toml")))
            .find(|p| p.is_file())
        else {
            let mut known: Vec<String> = self
                .0
                .iter()
                .filter_map(|d| std::fs::read_dir(d.join(kind)).ok())
                .flatten()
                .filter_map(|e| {
                    e.ok()?
                        .file_name()
                        .to_str()?
                        .strip_suffix(".toml")
                        .map(String::from)
                })
                .collect();
            known.sort();
            known.dedup();
            let looked: Vec<String> = self
                .0
                .iter()
                .map(|d| d.join(kind).display().to_string())
                .collect();
            bail!(
                "no preset `{name}` in {}; known presets: {}",
                looked.join(" or "),
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            );
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read preset {}", path.display()))?;
        let table: toml::Table = toml::from_str(&text)
            .map_err(|e| anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
        Ok((path.display().to_string(), toml::Value::Table(table)))
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
        let model = parse_model(&spec).map_err(|e| {
            if e.starts_with("unknown model") {
                format!("{e}, or the shorthands cosine, euclidean")
            } else {
                e
            }
        })?;
        Ok(Self {
            label: label.trim().to_string(),
            model,
        })
    }
}

/// `a.b.c=value`: `value` is read as a TOML value (`0.1`, `true`, `["x"]`), else as a string.
fn apply_override(table: &mut toml::Table, assignment: &str) -> Result<()> {
    let (path, raw) = assignment
        .split_once('=')
        .ok_or_else(|| anyhow!("expected key.path=value"))?;
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
            .ok_or_else(|| anyhow!("`{key}` is not a table here (a list or a preset name); --set reaches keys of tables only, so edit the file or the preset"))?;
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
        Plan::load(
            &file,
            &overrides.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    }

    #[test]
    fn defaults_fill_what_the_file_leaves_out() {
        let plan = load(GOOD, &[]).unwrap();
        let models: Vec<String> = plan.models.iter().map(|m| m.model.name()).collect();
        assert_eq!(
            models,
            ["mean{distance=cosine}", "mean{distance=euclidean}"]
        );
        assert_eq!(plan.backbones[0].taps, ["head"]);
        assert_eq!(plan.seeds, [0]);
        assert!(!plan.needs_maps());
        assert_eq!(plan.rules.len(), 2);
        assert_eq!(plan.experiment.normality.validation_fraction, 0.2);
        assert_eq!(plan.experiment.run.batch_size, 16);
        assert_eq!(plan.device, DeviceChoice::Cpu);
        assert_eq!(
            plan.backbones[0].weights,
            PathBuf::from("weights/efficientnet-lite0-57934424.pth")
        );
    }

    #[test]
    fn overrides_set_nested_keys_with_typed_values() {
        let plan = load(
            GOOD,
            &[
                "normality.validation_fraction=0",
                "backbone.tap=block5",
                "normality.scores=[\"cosine\"]",
            ],
        )
        .unwrap();
        assert_eq!(plan.experiment.normality.validation_fraction, 0.0);
        assert_eq!(plan.backbones[0].taps, ["block5"]);
        assert_eq!(
            plan.models
                .iter()
                .map(|m| m.label.as_str())
                .collect::<Vec<_>>(),
            ["cosine"]
        );
    }

    #[test]
    fn lists_of_taps_and_spatial_models_are_accepted() {
        let plan = load(
            GOOD,
            &[
                "backbone.tap=[\"block5\", \"head\"]",
                "normality.scores=[\"gaussian\", \"patch_knn{memory=500}\"]",
            ],
        )
        .unwrap();
        assert_eq!(plan.backbones[0].taps, ["block5", "head"]);
        assert_eq!(plan.models[1].label, "patch_knn{memory=500}");
        assert_eq!(
            plan.models[1].model.name(),
            "patch_knn{k=1,distance=euclidean,memory=500,coreset=greedy,projection=128,seed=0,top=1}"
        );
        assert!(plan.needs_maps());
    }

    #[test]
    fn lists_of_backbones_datasets_and_seeds_expand_into_a_grid() {
        let text = GOOD.replace("name = \"efficientnet-lite0\"", "name = [\"efficientnet-lite0\", \"efficientnet-lite1\"]")
            + "[normality]\nseeds = [0, 1, 2]\nscores = [\"cosine\"]\n";
        let mut text = text.replace("[dataset]\nname = \"toy\"\nroot = \"data/toy\"\n", "[[dataset]]\nname = \"toy\"\nroot = \"data/toy\"\n[[dataset]]\nname = \"other\"\nroot = \"data/other\"\n");
        text = text.replace("[backbone]", "[[backbone]]");
        let plan = load(&text, &[]).unwrap();
        assert_eq!(plan.backbones.iter().map(|b| b.spec.name).collect::<Vec<_>>(), ["efficientnet-lite0", "efficientnet-lite1"]);
        assert_eq!(plan.seeds, [0, 1, 2]);
        let grid = crate::grid::expand(&plan, &[vec!["a".into(), "b".into()], vec!["c".into()]]);
        assert_eq!(grid.len(), 3 * 2 * 3, "categories × backbones × seeds (one tap, one model)");
        assert_eq!(grid[4].label(&plan), "toy/a/efficientnet-lite1@head/seed=1/cosine");
        // What resolved.toml holds loads back to the same plan.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("resolved.toml"), plan.resolved_toml().unwrap()).unwrap();
        let again = Plan::load(&dir.path().join("resolved.toml"), &[]).unwrap();
        assert_eq!(crate::grid::expand(&again, &[vec!["a".into(), "b".into()], vec!["c".into()]]), grid);
    }

    #[test]
    fn presets_are_found_in_configs_beside_the_experiments_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("configs/datasets")).unwrap();
        std::fs::create_dir_all(dir.path().join("experiments")).unwrap();
        std::fs::write(dir.path().join("configs/datasets/toy.toml"), "name = \"toy\"\nroot = \"data/toy\"\ncategories = [\"x\"]\n").unwrap();
        std::fs::write(dir.path().join("configs/datasets/broken.toml"), "name = \"b\"\nroot = \"r\"\ncolour = 1\n").unwrap();
        let file = dir.path().join("experiments/exp.toml");
        let text = GOOD.replace("[dataset]\nname = \"toy\"\nroot = \"data/toy\"\n", "dataset = [\"toy\", { name = \"inline\", root = \"r\" }]\n");
        std::fs::write(&file, &text).unwrap();
        let plan = Plan::load(&file, &[]).unwrap();
        assert_eq!(plan.experiment.dataset.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["toy", "inline"]);
        assert_eq!(plan.experiment.dataset[0].categories.as_deref(), Some(&["x".to_string()][..]));

        std::fs::write(&file, text.replace("\"toy\",", "\"tyo\",")).unwrap();
        let err = format!("{:#}", Plan::load(&file, &[]).err().unwrap());
        assert!(err.contains("exp.toml: `dataset[0]`") && err.contains("no preset `tyo`") && err.contains("known presets: broken, toy"), "{err}");
        std::fs::write(&file, text.replace("\"toy\",", "\"broken\",")).unwrap();
        let err = format!("{:#}", Plan::load(&file, &[]).err().unwrap());
        assert!(err.contains("broken.toml: `dataset[0]`") && err.contains("unknown field `colour`"), "{err}");
    }

    /// Each mistake is reported with the file and the key it concerns.
    #[test]
    fn mistakes_name_the_file_and_the_key() {
        let cases: [(&str, &[&str], &str); 22] = [
            (GOOD, &["normality.seed=[0, 0]"], "`normality.seed`/`seeds`: `0` is listed twice"),
            (GOOD, &["normality.seed=[-1]"], "one value or a list of values"),
            (GOOD, &["run.cache=\"\""], "`run.cache`: an empty path"),
            (GOOD, &["report.bootstrap=1"], "`report.bootstrap`: 1 resample gives no interval"),
            (GOOD, &["backbone.weights=\"w.pth\"", "backbone.name=[\"efficientnet-lite0\", \"efficientnet-lite1\"]"], "one weights file cannot serve several backbones"),
            (GOOD, &["dataset.size=3"], "`dataset[0]`: unknown field `size`"),
            (
                GOOD,
                &["dataset.categories=[]"],
                "`dataset[0].categories`: list at least one category, or leave the key out",
            ),
            (
                GOOD,
                &["dataset.categories=[\"a\", \"a\"]"],
                "`dataset[0].categories`: `a` is listed twice",
            ),
            (
                GOOD,
                &["backbone.tap=[\"head\", \"head\"]"],
                "`backbone[0].tap`: `head` is listed twice",
            ),
            (
                GOOD,
                &["normality.scores=[\"cosine\", \"mean{distance=cosine}\"]"],
                "`normality.scores`: `mean{distance=cosine}` is listed twice",
            ),
            (
                GOOD,
                &["thresholds.rules=[\"max_f1\", \"max_f1{}\"]"],
                "`thresholds.rules`: `max_f1` is listed twice",
            ),
            (GOOD, &["colour=1"], "unknown field `colour`"),
            (GOOD, &["run.batch_size=\"big\""], "batch_size"),
            (
                &GOOD.replace(
                    "[thresholds]\nrules = [\"mean_k_std{k=3}\", \"max_f1\"]\n",
                    "",
                ),
                &[],
                "missing field `thresholds`",
            ),
            (
                GOOD,
                &["backbone.name=resnet9"],
                "`backbone[0].name`: unknown backbone `resnet9`",
            ),
            (
                GOOD,
                &["normality.scores=[\"manhattan\"]"],
                "`normality.scores`: unknown model of normality `manhattan`",
            ),
            (
                GOOD,
                &["normality.scores=[\"knn{k=0}\"]"],
                "`normality.scores`: knn: invalid parameter `k` = 0",
            ),
            (
                GOOD,
                &["backbone.tap=[]"],
                "`backbone[0].tap`: list at least one stage",
            ),
            (
                GOOD,
                &["thresholds.rules=[\"median\"]"],
                "`thresholds.rules`: unknown threshold rule `median`",
            ),
            (
                GOOD,
                &["normality.validation_fraction=1.5"],
                "`normality.validation_fraction`",
            ),
            (
                GOOD,
                &["run.device=tpu"],
                "`run.device`: unknown device `tpu`",
            ),
            (GOOD, &["name=\"../escape\""], "`name`"),
        ];
        for (text, overrides, expected) in cases {
            let err = format!(
                "{:#}",
                load(text, overrides)
                    .err()
                    .unwrap_or_else(|| panic!("{overrides:?} accepted"))
            );
            assert!(err.contains("exp.toml") || err.contains("--set"), "{err}");
            assert!(err.contains(expected), "expected {expected:?} in: {err}");
        }
        let err = format!("{:#}", load("name = \"x\"\n[dataset\n", &[]).err().unwrap());
        assert!(err.contains("exp.toml") && err.contains("line 2"), "{err}");
    }
}

#[cfg(test)]
mod shipped {
    use super::*;

    /// Every experiment in `experiments/` (and the presets they name) loads and checks.
    #[test]
    fn every_shipped_experiment_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let plan = Plan::load(&path, &[]).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
                names.push(plan.experiment.name);
            }
        }
        names.sort();
        assert_eq!(names, ["backbones", "grid", "grid-models", "quickstart", "taps", "threshold-rules"]);
    }
}
