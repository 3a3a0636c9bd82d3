//! `mon run`: an experiment from its file to a finished results folder, through the feature
//! and score cache, for the whole grid or one shard of it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use mon_backbone::{Backbone, DeviceChoice};
use mon_normality::split::{HoldOut, hold_out};

use crate::cache::{Cache, CellScores, ContentHash, hash_bytes, hash_file};
use crate::check::{check_category, summary};
use crate::dataset::{Category, Sample, load_dataset};
use crate::evaluate::score_cell;
use crate::experiment::Plan;
use crate::extract::{TapFeatures, assemble, extract_images};
use crate::grid::{Cell, Shard, expand};
use crate::report::environment::Environment;
use crate::report::figure::slug;
use crate::report::overlay::{pick, write_overlays};
use crate::report::run_dir::{RunDir, create_dir, write_file};
use crate::report::tables::{scores_frame, write_csv};
use crate::report::{CellRecord, ReferenceScore, TestScore, render};

pub struct RunOptions {
    pub results_root: PathBuf,
    pub overrides: Vec<String>,
    /// Overrides `run.device`.
    pub device: Option<String>,
    pub quiet: bool,
    /// Print the grid and what is cached, run nothing.
    pub dry_run: bool,
    pub shard: Shard,
}

/// What a finished run produced: its folder and summary table (or, for a dry run, the grid).
pub struct RunOutput {
    pub dir: Option<PathBuf>,
    pub table: String,
}

/// Status lines above the progress bars on a terminal; where stderr is not one (logs, CI)
/// indicatif hides the bars and would swallow the lines too, so they are printed plainly.
struct Console {
    progress: MultiProgress,
    quiet: bool,
}

impl Console {
    fn say(&self, line: String) {
        if self.quiet {
        } else if self.progress.is_hidden() {
            eprintln!("{line}");
        } else {
            let _ = self.progress.println(line);
        }
    }

    fn bar(&self, len: usize, template: &str) -> ProgressBar {
        let bar = self.progress.add(ProgressBar::new(len as u64));
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar
    }
}

/// One dataset's categories, loaded and checked, each with its images' content hashes.
struct LoadedDataset {
    categories: Vec<(Category, ImageHashes)>,
}

impl LoadedDataset {
    fn category(&self, name: &str) -> &(Category, ImageHashes) {
        self.categories.iter().find(|(c, _)| c.name == name).expect("cells come from these categories")
    }
}

pub fn run(file: &Path, options: &RunOptions) -> Result<RunOutput> {
    let mut overrides = options.overrides.clone();
    if let Some(device) = &options.device {
        overrides.push(format!("run.device=\"{device}\""));
    }
    let plan = Plan::load(file, &overrides)?;
    let exp = &plan.experiment;
    let console = Console {
        progress: MultiProgress::with_draw_target(if options.quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        }),
        quiet: options.quiet,
    };

    // Everything that can be checked before the expensive part is checked first.
    let mut warnings = Vec::new();
    let mut datasets = Vec::new();
    for config in &exp.dataset {
        let root = &config.root;
        let mut categories = Vec::new();
        for category in load_dataset(config.layout, root, config.categories.as_deref(), &config.folder_split)? {
            let findings = check_category(&category);
            if !findings.errors.is_empty() {
                bail!(
                    "{}the dataset has errors; fix them (`mon data check {} --layout {}` lists them too)",
                    summary(&category, &findings),
                    root.display(),
                    config.layout
                );
            }
            warnings.extend(findings.warnings);
            // Without errors every image was read, so every hash is there.
            let mut hashes = findings.hashes.into_iter().map(|h| h.expect("read without error"));
            let train = hashes.by_ref().take(category.train.len()).collect();
            categories.push((category, ImageHashes { train, test: hashes.collect() }));
        }
        datasets.push(LoadedDataset { categories });
    }
    for warning in &warnings {
        console.say(format!("warning: {warning}"));
    }
    let names: Vec<Vec<String>> = datasets
        .iter()
        .map(|d| d.categories.iter().map(|(c, _)| c.name.clone()).collect())
        .collect();
    let grid = expand(&plan, &names);
    let cells: Vec<&Cell> = grid.iter().filter(|c| options.shard.contains(c)).collect();
    if cells.is_empty() {
        // A job array with more tasks than cells: the spare tasks succeed and write nothing.
        let note = format!("shard {}: nothing to run, the grid has only {} cells", options.shard, grid.len());
        return Ok(RunOutput { dir: None, table: note });
    }
    let cache_root = exp
        .run
        .cache
        .clone()
        .unwrap_or_else(|| options.results_root.join(".cache"));
    let mut keys = Keys::new(&plan);
    if options.dry_run {
        return dry_run(&plan, &datasets, &cells, grid.len(), options.shard, &Cache::at(&cache_root), &mut keys);
    }
    let cache = Cache::open(&cache_root)?;

    console.say(format!(
        "{}: {} cells{} ({} categor{} × {} backbone tap(s) × {} seed(s) × {} model(s)), {} rule(s), on {} ({}); cache {}",
        exp.name,
        cells.len(),
        if options.shard == Shard::WHOLE { String::new() } else { format!(" of {} (shard {})", grid.len(), options.shard) },
        names.iter().map(Vec::len).sum::<usize>(),
        if names.iter().map(Vec::len).sum::<usize>() == 1 { "y" } else { "ies" },
        plan.backbones.iter().map(|b| b.taps.len()).sum::<usize>(),
        plan.seeds.len(),
        plan.models.len(),
        plan.rules.len(),
        plan.device,
        plan.device.backend(),
        cache_root.display()
    ));

    let run_dir = RunDir::create(&options.results_root, &exp.name)?;
    write_file(run_dir.path().join("experiment.toml"), &plan.source)?;
    write_file(run_dir.path().join("resolved.toml"), plan.resolved_toml()?)?;
    let environment = Environment::capture(plan.device.name(), plan.device.backend());
    write_file(
        run_dir.path().join("environment.json"),
        serde_json::to_string_pretty(&environment)? + "\n",
    )?;
    let shard = serde_json::json!({ "shard": options.shard.to_string(), "grid_cells": grid.len(), "cells": cells.iter().map(|c| c.index).collect::<Vec<_>>() });
    write_file(
        run_dir.path().join("shard.json"),
        serde_json::to_string_pretty(&shard)? + "\n",
    )?;

    let cell_bar = console.bar(
        cells.len(),
        "{prefix:>12} [{bar:32}] {pos}/{len} cells ETA {eta}",
    );
    cell_bar.set_prefix("grid");
    let mut tally = Tally::default();
    let mut backbone: Option<(usize, Backbone)> = None;
    let mut records = Vec::new();
    for group in cells.chunk_by(|a, b| a.extraction_group() == b.extraction_group()) {
        let first = group[0];
        let (category, images) = datasets[first.dataset].category(&first.category);
        let cell_keys: Vec<String> = group
            .iter()
            .map(|c| keys.cell(c, images))
            .collect::<Result<_>>()?;
        let mut cached: Vec<Option<(CellScores, Vec<PathBuf>)>> = cell_keys
            .iter()
            .map(|k| cache.load_scores(k))
            .collect::<Result<_>>()?;
        let missing_taps = distinct_taps(
            group
                .iter()
                .zip(&cached)
                .filter(|(_, c)| c.is_none())
                .map(|(cell, _)| cell.tap.as_str()),
        );
        let features = if missing_taps.is_empty() {
            Vec::new()
        } else {
            if backbone.as_ref().is_some_and(|(i, _)| *i != first.backbone) {
                backbone = None; // one network in memory at a time
            }
            let network = Network {
                index: first.backbone,
                loaded: &mut backbone,
                console: &console,
            };
            features_for(
                &plan,
                &cache,
                &mut keys,
                network,
                category,
                images,
                &missing_taps,
                &console,
                &mut tally,
            )?
        };
        for ((cell, key), cached) in group.iter().zip(&cell_keys).zip(cached.iter_mut()) {
            let split = hold_out(
                category.train.len(),
                exp.normality.validation_fraction,
                cell.seed,
            )
            .with_context(|| {
                format!(
                    "{}: `normality.validation_fraction`: {}: holding out from {} train/good images",
                    plan.file.display(),
                    category.name,
                    category.train.len()
                )
            })?;
            let (scores, overlays) = match cached.take() {
                Some(hit) => {
                    tally.cells_cached += 1;
                    hit
                }
                None => {
                    let (train, test) = &features
                        .iter()
                        .find(|(tap, _)| tap == &cell.tap)
                        .expect("extracted for every missing cell")
                        .1;
                    let choice = &plan.models[cell.model];
                    let (scores, maps) = score_cell(train, &split, test, choice)
                        .with_context(|| cell.label(&plan))?;
                    let prep = &plan.backbones[cell.backbone].spec.preprocess;
                    let overlays = cache.store_scores(key, &scores, |dir| match &maps {
                        Some(maps) => write_overlays(
                            dir,
                            prep,
                            &category.test,
                            maps,
                            &pick(&category.test, &scores.test, exp.report.overlays),
                        )
                        .map(drop),
                        None => Ok(()),
                    })?;
                    tally.cells_computed += 1;
                    (scores, overlays)
                }
            };
            if !overlays.is_empty() {
                let dir = run_dir
                    .path()
                    .join("figures/overlays")
                    .join(slug(&[&cell.label(&plan).replace('/', "_")]));
                create_dir(&dir)?;
                for overlay in &overlays {
                    let target = dir.join(overlay.file_name().expect("a file"));
                    std::fs::copy(overlay, &target).with_context(|| format!("cannot write {} (is the disk full?)", target.display()))?;
                }
            }
            records.push(record(&plan, cell, category, &split, scores));
            cell_bar.inc(1);
        }
    }
    cell_bar.finish_and_clear();
    console.say(tally.summary());

    write_csv(
        &mut scores_frame(&records)?,
        &run_dir.path().join("scores.csv"),
    )?;
    let (table, rule_warnings) = render(
        run_dir.path(),
        &heading(&plan),
        &records,
        &plan.rules,
        &exp.report,
    )?;
    for warning in &rule_warnings {
        console.say(format!("warning: {warning}"));
    }
    warnings.extend(rule_warnings);
    if !warnings.is_empty() {
        write_file(
            run_dir.path().join("warnings.txt"),
            warnings.join("\n") + "\n",
        )?;
    }
    let dir = run_dir.commit()?;
    Ok(RunOutput {
        dir: Some(dir),
        table,
    })
}

/// The summary table's heading: the experiment and what it ran.
pub fn heading(plan: &Plan) -> String {
    let e = &plan.experiment;
    let datasets: Vec<&str> = e.dataset.iter().map(|d| d.name.as_str()).collect();
    let backbones: Vec<String> = plan
        .backbones
        .iter()
        .map(|b| format!("{} @ {}", b.spec.name, b.taps.join(", ")))
        .collect();
    format!(
        "{} — {} / {}",
        e.name,
        datasets.join(", "),
        backbones.join("; ")
    )
}

/// How much came from the cache; the log line that says whether the backbone ran.
#[derive(Default)]
struct Tally {
    images_extracted: usize,
    images_cached: usize,
    cells_computed: usize,
    cells_cached: usize,
}

impl Tally {
    fn summary(&self) -> String {
        let features = if self.images_extracted == 0 {
            "no features extracted (the backbone did not run)".to_string()
        } else {
            format!("features extracted for {} image(s)", self.images_extracted)
        };
        format!(
            "{features}; {} image feature set(s) read from the cache; cells: {} computed, {} read from the cache",
            self.images_cached, self.cells_computed, self.cells_cached
        )
    }
}

fn distinct_taps<'a>(taps: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tap in taps {
        if !out.iter().any(|t| t == tap) {
            out.push(tap.to_string());
        }
    }
    out
}

/// Content hashes of a category's images, train then test.
struct ImageHashes {
    train: Vec<ContentHash>,
    test: Vec<ContentHash>,
}

/// Cache keys: what the features and the scores of a cell depend on, hashed.
struct Keys<'p> {
    plan: &'p Plan,
    weights: Vec<Option<ContentHash>>,
}

impl<'p> Keys<'p> {
    fn new(plan: &'p Plan) -> Self {
        Self {
            plan,
            weights: vec![None; plan.backbones.len()],
        }
    }

    /// The feature key of a tap and a human-readable account of it.
    fn features(&mut self, backbone: usize, tap: &str) -> Result<(String, String)> {
        let choice = &self.plan.backbones[backbone];
        if self.weights[backbone].is_none() {
            let hash = hash_file(&choice.weights).with_context(|| {
                format!(
                    "the weights of `{}` come from {}",
                    choice.spec.name, choice.spec.source
                )
            })?;
            self.weights[backbone] = Some(hash);
        }
        let readout = if self.plan.needs_maps() {
            "maps"
        } else {
            "global average pool"
        };
        let keyed = format!(
            "backbone = {}\nweights (blake3) = {}\ntap = {tap}\nreadout = {readout}\npreprocessing = {:?}\n",
            choice.spec.name,
            self.weights[backbone].as_deref().expect("hashed above"),
            choice.spec.preprocess
        );
        // The weights' path is for people reading key.txt; only their content is in the key.
        let description = format!("{keyed}weights file = {}\n", choice.weights.display());
        Ok((hash_bytes(keyed.as_bytes()), description))
    }

    fn cell(&mut self, cell: &Cell, images: &ImageHashes) -> Result<String> {
        let (features, _) = self.features(cell.backbone, &cell.tap)?;
        let normality = &self.plan.experiment.normality;
        let text = format!(
            "features={features}\ntrain={}\ntest={}\nmodel={}\nvalidation_fraction={}\nseed={}\n",
            images.train.join(","),
            images.test.join(","),
            self.plan.models[cell.model].model.name(),
            normality.validation_fraction,
            cell.seed
        );
        Ok(hash_bytes(text.as_bytes()))
    }
}

/// A grid backbone, loaded (and its device opened) only when some image's features are not
/// in the cache.
struct Network<'a> {
    index: usize,
    loaded: &'a mut Option<(usize, Backbone)>,
    console: &'a Console,
}

impl Network<'_> {
    fn get(&mut self, plan: &Plan) -> Result<&Backbone> {
        if self.loaded.is_none() {
            let choice = &plan.backbones[self.index];
            if plan.device == DeviceChoice::Wgpu {
                // Otherwise the first batch looks like a hang on a software driver.
                self.console.say("wgpu: the first batches compile the GPU kernels (minutes on a software Vulkan driver such as lavapipe)".into());
            }
            *self.loaded = Some((
                self.index,
                Backbone::load(choice.spec, &choice.weights, plan.device.open()?)?,
            ));
        }
        Ok(&self.loaded.as_ref().expect("loaded above").1)
    }
}

/// Features of a category at `taps`, from the cache where present, by running the backbone
/// for the images that are not (and storing them). Returns (tap, (train, test)).
#[allow(clippy::too_many_arguments)]
fn features_for(
    plan: &Plan,
    cache: &Cache,
    keys: &mut Keys,
    mut network: Network,
    category: &Category,
    images: &ImageHashes,
    taps: &[String],
    console: &Console,
    tally: &mut Tally,
) -> Result<Vec<(String, (TapFeatures, TapFeatures))>> {
    let hashes: Vec<ContentHash> = images.train.iter().chain(&images.test).cloned().collect();
    let samples: Vec<&Sample> = category.train.iter().chain(&category.test).collect();
    let mut dirs = Vec::new();
    let mut loaded = Vec::new();
    for tap in taps {
        let (key, description) = keys.features(network.index, tap)?;
        let dir = cache.create_feature_dir(&key, &description)?;
        loaded.push(cache.load_features(&dir, &hashes)?);
        dirs.push(dir);
    }
    let missing: Vec<usize> = (0..hashes.len())
        .filter(|&i| loaded.iter().any(|per_tap| per_tap[i].is_none()))
        .collect();
    tally.images_cached += hashes.len() - missing.len();
    if !missing.is_empty() {
        let backbone = network.get(plan)?;
        let tap_indices = backbone
            .resolve_taps(taps)
            .with_context(|| format!("{}: `backbone.tap`", plan.file.display()))?;
        let bar = console.bar(
            missing.len(),
            "{prefix:>12} [{bar:32}] {pos}/{len} images {per_sec} ETA {eta}",
        );
        bar.set_prefix(category.name.clone());
        // Batch by batch into the cache, so that a run killed mid-category keeps what it did.
        for chunk in missing.chunks(plan.experiment.run.batch_size) {
            let paths: Vec<PathBuf> = chunk.iter().map(|&i| samples[i].path.clone()).collect();
            let extracted = extract_images(backbone, &tap_indices, plan.needs_maps(), &paths, paths.len(), &bar)?;
            for ((per_tap, fresh), dir) in loaded.iter_mut().zip(extracted).zip(&dirs) {
                for (&i, tensor) in chunk.iter().zip(fresh) {
                    cache.store_features(dir, &hashes[i], &tensor)?;
                    per_tap[i] = Some(tensor);
                }
            }
        }
        bar.finish_and_clear();
        tally.images_extracted += missing.len();
        console.say(format!(
            "{}: features of {} image(s) extracted, {} from the cache",
            category.name,
            missing.len(),
            hashes.len() - missing.len()
        ));
    }
    let n_train = images.train.len();
    taps.iter()
        .zip(loaded)
        .map(|(tap, per_tap)| {
            let tensors: Vec<_> = per_tap
                .iter()
                .map(|t| t.as_ref().expect("filled above"))
                .collect();
            let what = format!("{} @ {tap}", category.name);
            let train = assemble(&tensors[..n_train], plan.needs_maps(), &what)?;
            let test = assemble(&tensors[n_train..], plan.needs_maps(), &what)?;
            Ok((tap.clone(), (train, test)))
        })
        .collect()
}

fn record(
    plan: &Plan,
    cell: &Cell,
    category: &Category,
    split: &HoldOut,
    scores: CellScores,
) -> CellRecord {
    let (reference_split, reference_rows) = if split.validation.is_empty() {
        ("train", &split.fit)
    } else {
        ("validation", &split.validation)
    };
    CellRecord {
        cell: cell.index,
        dataset: plan.experiment.dataset[cell.dataset].name.clone(),
        category: category.name.clone(),
        backbone: plan.backbones[cell.backbone].spec.name.to_string(),
        tap: cell.tap.clone(),
        seed: cell.seed,
        model: plan.models[cell.model].label.clone(),
        n_fit: split.fit.len(),
        reference_split,
        reference: reference_rows
            .iter()
            .zip(scores.reference)
            .map(|(&i, s)| ReferenceScore(category.train[i].path.display().to_string(), s))
            .collect(),
        test: category
            .test
            .iter()
            .zip(scores.test)
            .map(|(sample, score)| TestScore {
                image: sample.path.display().to_string(),
                anomalous: sample.anomalous,
                defect_type: sample.defect_type.clone(),
                score,
            })
            .collect(),
    }
}

/// `--dry-run`: the expanded grid (this shard's cells) and, per cell, what the cache holds.
fn dry_run(
    plan: &Plan,
    datasets: &[LoadedDataset],
    cells: &[&Cell],
    grid_len: usize,
    shard: Shard,
    cache: &Cache,
    keys: &mut Keys,
) -> Result<RunOutput> {
    let mut lines = vec![format!(
        "{}: {} of {} cells (shard {shard}), {} threshold rules each",
        plan.experiment.name,
        cells.len(),
        grid_len,
        plan.rules.len()
    )];
    let mut counts = [0usize; 3];
    for group in cells.chunk_by(|a, b| a.extraction_group() == b.extraction_group()) {
        let (_, images) = datasets[group[0].dataset].category(&group[0].category);
        let hashes: Vec<ContentHash> = images.train.iter().chain(&images.test).cloned().collect();
        for cell in group {
            let status = if cache.load_scores(&keys.cell(cell, images)?)?.is_some() {
                0
            } else {
                let (key, _) = keys.features(cell.backbone, &cell.tap)?;
                let dir = cache.feature_dir(&key);
                let present = cache
                    .load_features(&dir, &hashes)?
                    .iter()
                    .filter(|f| f.is_some())
                    .count();
                if present == hashes.len() { 1 } else { 2 }
            };
            counts[status] += 1;
            let said = [
                "scores cached",
                "features cached, model to fit",
                "features to extract",
            ][status];
            lines.push(format!(
                "  #{:<4} {:<70} {said}",
                cell.index,
                cell.label(plan)
            ));
        }
    }
    lines.push(format!(
        "{} cell(s) cached, {} with cached features, {} need the backbone",
        counts[0], counts[1], counts[2]
    ));
    Ok(RunOutput {
        dir: None,
        table: lines.join("\n"),
    })
}
