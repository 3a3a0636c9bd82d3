//! `mon run`: an experiment from its file to a finished results folder.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use mon_backbone::Backbone;
use mon_normality::split::hold_out;

use crate::check::{check_category, summary};
use crate::dataset::{Category, discover_categories, load_category};
use crate::evaluate::{ScoreOutcome, evaluate};
use crate::experiment::Plan;
use crate::extract::extract_taps;
use crate::report::roc_plot::{RocCurve, WorkingPoint, write_roc};
use crate::report::run_dir::RunDir;
use crate::report::tables::{MetricRow, ScoreRow, markdown_table, metrics_frame, scores_frame, write_csv};

pub struct RunOptions {
    pub results_root: PathBuf,
    pub overrides: Vec<String>,
    /// Overrides `run.device`.
    pub device: Option<String>,
    pub quiet: bool,
}

/// What a finished run produced.
pub struct RunOutput {
    pub dir: PathBuf,
    pub table: String,
}

pub fn run(file: &Path, options: &RunOptions) -> Result<RunOutput> {
    let mut overrides = options.overrides.clone();
    if let Some(device) = &options.device {
        overrides.push(format!("run.device=\"{device}\""));
    }
    let plan = Plan::load(file, &overrides)?;
    let exp = &plan.experiment;
    let progress = MultiProgress::with_draw_target(if options.quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() });
    // Status lines go above the progress bars on a terminal; where stderr is not one (logs,
    // CI) indicatif hides the bars and would swallow the lines too, so they are printed plainly.
    let say = |line: String| {
        if options.quiet {
        } else if progress.is_hidden() {
            eprintln!("{line}");
        } else {
            let _ = progress.println(line);
        }
    };

    // Everything that can be checked before the expensive part is checked first.
    let root = &exp.dataset.root;
    let names = match &exp.dataset.categories {
        Some(names) => names.clone(),
        None => discover_categories(root)?,
    };
    let categories = names.iter().map(|n| load_category(root, n)).collect::<Result<Vec<Category>>>()?;
    let mut warnings = Vec::new();
    for category in &categories {
        let findings = check_category(category);
        if !findings.errors.is_empty() {
            bail!("{}the dataset has errors; fix them (`mon data check {}` lists them too)", summary(category, &findings), root.display());
        }
        warnings.extend(findings.warnings);
    }
    for warning in &warnings {
        say(format!("warning: {warning}"));
    }
    let device = plan.device.open()?;
    let backbone = Backbone::load(plan.backbone, &plan.weights, device)?;
    let taps = backbone.resolve_taps(&plan.taps)?;
    say(format!(
        "{}: {} @ {} on {} ({}), {} categor{}",
        exp.name,
        plan.backbone.name,
        plan.taps.join(", "),
        plan.device,
        plan.device.backend(),
        categories.len(),
        if categories.len() == 1 { "y" } else { "ies" }
    ));

    let run_dir = RunDir::create(&options.results_root, &exp.name)?;
    std::fs::write(run_dir.path().join("experiment.toml"), &plan.source)?;
    let mut resolved = exp.clone();
    resolved.backbone.weights = Some(plan.weights.clone());
    let resolved = toml::to_string_pretty(&resolved).context("serialising the resolved experiment")?;
    std::fs::write(run_dir.path().join("resolved.toml"), resolved)?;

    let mut metric_rows = Vec::new();
    let mut score_rows = Vec::new();
    for category in &categories {
        let bar = progress.add(ProgressBar::new((category.train.len() + category.test.len()) as u64));
        bar.set_style(
            ProgressStyle::with_template("{prefix:>12} [{bar:32}] {pos}/{len} images {per_sec} ETA {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(category.name.clone());
        let paths = |samples: &[crate::dataset::Sample]| samples.iter().map(|s| s.path.clone()).collect::<Vec<_>>();
        let batch = exp.run.batch_size;
        let train = extract_taps(&backbone, &taps, plan.needs_maps(), &paths(&category.train), batch, &bar)?;
        let test = extract_taps(&backbone, &taps, plan.needs_maps(), &paths(&category.test), batch, &bar)?;
        bar.finish_and_clear();

        let split = hold_out(category.train.len(), exp.normality.validation_fraction, exp.normality.seed)
            .with_context(|| format!("{}: splitting {} train/good images", category.name, category.train.len()))?;
        let labels: Vec<bool> = category.test.iter().map(|s| s.anomalous).collect();
        let n_anomalous = labels.iter().filter(|&&l| l).count();
        say(format!(
            "{}: model of normality from {} images, {} held out, test {} normal + {} anomalous",
            category.name,
            split.fit.len(),
            split.validation.len(),
            labels.len() - n_anomalous,
            n_anomalous
        ));

        let mut per_tap = Vec::new();
        for ((tap, train), test) in plan.taps.iter().zip(&train).zip(&test) {
            let outcomes = evaluate(train, &split, test, &labels, &plan.models, &plan.rules)
                .with_context(|| format!("{} @ {tap}", category.name))?;
            for outcome in &outcomes {
                for rule in &outcome.rules {
                    if let Err(why) = &rule.point {
                        let warning = format!("{} @ {tap} / {} / {}: {why}", category.name, outcome.score, rule.rule);
                        say(format!("warning: {warning}"));
                        warnings.push(warning);
                    }
                }
                metric_rows.extend(metric_rows_for(&plan, tap, category, &split, outcome));
                score_rows.extend(score_rows_for(tap, category, &split, outcome));
            }
            per_tap.push((tap, outcomes));
        }
        let several_taps = plan.taps.len() > 1;
        let curves: Vec<RocCurve> = per_tap.iter().flat_map(|(tap, outcomes)| roc_curves(several_taps.then_some(tap.as_str()), outcomes)).collect();
        plot_category(run_dir.path(), &plan, category, &curves)?;
    }

    let mut metrics = metrics_frame(&metric_rows)?;
    write_csv(&mut metrics, &run_dir.path().join("metrics.csv"))?;
    write_csv(&mut scores_frame(&score_rows)?, &run_dir.path().join("scores.csv"))?;
    let table = format!(
        "## {} — {} / {} @ {}\n\nImage-level results; oracle rules set their threshold on the test labels (an upper bound, not a deployable threshold).\n\n{}",
        exp.name,
        exp.dataset.name,
        plan.backbone.name,
        plan.taps.join(", "),
        markdown_table(&metrics)?
    );
    std::fs::write(run_dir.path().join("table.md"), &table)?;
    if !warnings.is_empty() {
        std::fs::write(run_dir.path().join("warnings.txt"), warnings.join("\n") + "\n")?;
    }
    let dir = run_dir.commit()?;
    Ok(RunOutput { dir, table })
}

fn metric_rows_for(plan: &Plan, tap: &str, category: &Category, split: &mon_normality::split::HoldOut, outcome: &ScoreOutcome) -> Vec<MetricRow> {
    let exp = &plan.experiment;
    outcome
        .rules
        .iter()
        .map(|rule| {
            let point = rule.point.as_ref().ok();
            let metric = |f: fn(&mon_normality::metrics::Confusion) -> f64| point.map(|p| f(&p.confusion));
            MetricRow {
                dataset: exp.dataset.name.clone(),
                category: category.name.clone(),
                backbone: plan.backbone.name.to_string(),
                tap: tap.to_string(),
                score: outcome.score.clone(),
                threshold_rule: rule.rule.clone(),
                oracle: rule.oracle,
                threshold: point.map(|p| p.threshold),
                auroc: outcome.auroc,
                precision: metric(|c| c.precision()),
                recall: metric(|c| c.recall()),
                f1: metric(|c| c.f1()),
                accuracy: metric(|c| c.accuracy()),
                n_train: split.fit.len() as u64,
                n_val: split.validation.len() as u64,
                n_test: category.test.len() as u64,
            }
        })
        .collect()
}

fn score_rows_for(tap: &str, category: &Category, split: &mon_normality::split::HoldOut, outcome: &ScoreOutcome) -> Vec<ScoreRow> {
    let (reference_split, reference_rows) =
        if split.validation.is_empty() { ("train", &split.fit) } else { ("validation", &split.validation) };
    let reference = reference_rows.iter().zip(&outcome.reference).map(|(&i, &s)| (reference_split, &category.train[i], s));
    let test = category.test.iter().zip(&outcome.test).map(|(sample, &s)| ("test", sample, s));
    reference
        .chain(test)
        .map(|(split, sample, score)| ScoreRow {
            category: category.name.clone(),
            tap: tap.to_string(),
            image: sample.path.display().to_string(),
            split,
            label: sample.anomalous as u8,
            defect_type: sample.defect_type.clone(),
            score_name: outcome.score.clone(),
            score,
        })
        .collect()
}

/// Each score's ROC curve with its rules' working points; labelled with the tap when the
/// experiment has several.
fn roc_curves<'a>(tap: Option<&str>, outcomes: &'a [ScoreOutcome]) -> Vec<RocCurve<'a>> {
    outcomes
        .iter()
        .filter_map(|o| {
            let roc = o.roc.as_ref()?;
            let points = o
                .rules
                .iter()
                .filter_map(|r| {
                    let p = r.point.as_ref().ok()?;
                    Some(WorkingPoint {
                        rule: r.rule.clone(),
                        oracle: r.oracle,
                        false_alarm_rate: p.confusion.false_alarm_rate(),
                        recall: p.confusion.recall(),
                    })
                })
                .collect();
            let name = match tap {
                Some(tap) => format!("{tap} / {}", o.score),
                None => o.score.clone(),
            };
            Some(RocCurve { label: format!("{name} (AUROC {:.3})", o.auroc?), roc, points })
        })
        .collect()
}

fn plot_category(dir: &Path, plan: &Plan, category: &Category, curves: &[RocCurve]) -> Result<()> {
    if curves.is_empty() {
        return Ok(()); // no anomalous (or no normal) test images: there is no ROC to draw
    }
    let title = format!("{} / {} — {} @ {}", plan.experiment.dataset.name, category.name, plan.backbone.name, plan.taps.join(", "));
    write_roc(dir, &format!("roc_{}", category.name), &title, curves)
}
