//! `mon report`, `mon merge` and `mon compare`: everything after the scores, redone from the
//! files a run left behind.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;

use crate::experiment::Plan;
use crate::report::render;
use crate::report::run_dir::{RunDir, write_file};
use crate::report::tables::{read_scores, read_text_csv, scores_frame, write_csv};
use crate::run::heading;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A run folder (results/<experiment>/<timestamp>).
    pub run: PathBuf,
}

/// Re-renders metrics, tables and figures of `run` from its `scores.csv` and `resolved.toml`
/// (e.g. after changing `report` settings there); returns the summary table.
pub fn report(args: &ReportArgs) -> Result<String> {
    let plan = load_run_plan(&args.run)?;
    let cells = read_scores(&args.run.join("scores.csv"))?;
    let (table, _) = render(
        &args.run,
        &heading(&plan),
        &cells,
        &plan.rules,
        &plan.experiment.report,
    )?;
    Ok(table)
}

fn load_run_plan(run: &Path) -> Result<Plan> {
    let resolved = run.join("resolved.toml");
    if !resolved.is_file() {
        bail!(
            "{}: not a run folder (no resolved.toml); pass a folder that `mon run` printed",
            run.display()
        );
    }
    Plan::load(&resolved, &[])
}

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The shard run folders (`mon run --shard I/N` of one experiment), in any order.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// Where the merged run folder goes.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
}

#[derive(serde::Deserialize)]
struct ShardInfo {
    grid_cells: usize,
    cells: Vec<usize>,
}

/// Joins shard runs into one run folder, as if the grid had run in one go; returns the summary
/// table and the new folder.
pub fn merge(args: &MergeArgs) -> Result<(String, PathBuf)> {
    let first = &args.runs[0];
    let resolved = std::fs::read_to_string(first.join("resolved.toml"))
        .with_context(|| format!("{}: not a run folder (no resolved.toml)", first.display()))?;
    let mut shards = Vec::new();
    for run in &args.runs {
        let other = std::fs::read_to_string(run.join("resolved.toml"))
            .with_context(|| format!("{}: not a run folder (no resolved.toml)", run.display()))?;
        if other != resolved {
            bail!(
                "{} and {} ran different experiments (their resolved.toml differ); merge shards of one experiment",
                first.display(),
                run.display()
            );
        }
        let text = std::fs::read_to_string(run.join("shard.json")).with_context(|| {
            format!(
                "{}: no shard.json; was it made by `mon run`?",
                run.display()
            )
        })?;
        let info: ShardInfo = serde_json::from_str(&text)
            .with_context(|| format!("{}: unreadable shard.json", run.display()))?;
        shards.push(info);
    }
    let grid_cells = shards[0].grid_cells;
    let mut seen = BTreeSet::new();
    for (run, info) in args.runs.iter().zip(&shards) {
        for &cell in &info.cells {
            if !seen.insert(cell) {
                bail!(
                    "cell {cell} is in two of the runs (the second: {}); pass each shard once",
                    run.display()
                );
            }
        }
    }
    let missing: Vec<String> = (0..grid_cells)
        .filter(|c| !seen.contains(c))
        .map(|c| c.to_string())
        .collect();
    if !missing.is_empty() {
        bail!(
            "the runs cover {} of {grid_cells} cells; missing: {} (is a shard missing or still running?)",
            seen.len(),
            missing.join(", ")
        );
    }
    let plan = load_run_plan(first)?;
    let mut cells = Vec::new();
    for run in &args.runs {
        cells.extend(read_scores(&run.join("scores.csv"))?);
    }
    cells.sort_by_key(|c| c.cell);

    let dir = RunDir::create(&args.results, &plan.experiment.name)?;
    for file in ["experiment.toml", "resolved.toml"] {
        std::fs::copy(first.join(file), dir.path().join(file))
            .with_context(|| format!("cannot copy {}", first.join(file).display()))?;
    }
    let mut environments = Vec::new();
    let mut warnings = Vec::new();
    for run in &args.runs {
        let env =
            std::fs::read_to_string(run.join("environment.json")).unwrap_or_else(|_| "null".into());
        environments.push(
            serde_json::from_str::<serde_json::Value>(&env).unwrap_or(serde_json::Value::Null),
        );
        if let Ok(text) = std::fs::read_to_string(run.join("warnings.txt")) {
            // Rule warnings are recomputed below; data warnings are kept once.
            warnings.extend(
                text.lines()
                    .filter(|l| !l.contains(" / "))
                    .map(String::from),
            );
        }
        copy_tree(
            &run.join("figures/overlays"),
            &dir.path().join("figures/overlays"),
        )?;
    }
    warnings.dedup();
    write_file(
        dir.path().join("environment.json"),
        serde_json::to_string_pretty(&serde_json::json!({ "shards": environments }))? + "\n",
    )?;
    let merged = serde_json::json!({ "merged_from": args.runs, "grid_cells": grid_cells, "cells": (0..grid_cells).collect::<Vec<_>>() });
    write_file(
        dir.path().join("shard.json"),
        serde_json::to_string_pretty(&merged)? + "\n",
    )?;
    write_csv(&mut scores_frame(&cells)?, &dir.path().join("scores.csv"))?;
    let (table, rule_warnings) = render(
        dir.path(),
        &heading(&plan),
        &cells,
        &plan.rules,
        &plan.experiment.report,
    )?;
    warnings.extend(rule_warnings);
    if !warnings.is_empty() {
        write_file(dir.path().join("warnings.txt"), warnings.join("\n") + "\n")?;
    }
    Ok((table, dir.commit()?))
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(from) else {
        return Ok(());
    };
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in entries {
        let path = entry?.path();
        let target = to.join(path.file_name().expect("a directory entry"));
        if path.is_dir() {
            copy_tree(&path, &target)?;
        } else {
            std::fs::copy(&path, &target)
                .with_context(|| format!("cannot copy {}", path.display()))?;
        }
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The run to compare from.
    pub a: PathBuf,
    /// The run to compare to: deltas are B − A.
    pub b: PathBuf,
}

const KEY: [&str; 7] = [
    "dataset",
    "category",
    "backbone",
    "tap",
    "seed",
    "model",
    "threshold_rule",
];
const COMPARED: [&str; 3] = ["auroc", "f1", "accuracy"];

/// Per grid cell × rule present in both runs: AUROC, F1 and accuracy of each and B − A, as a
/// Markdown table; rows in only one run are counted below it.
pub fn compare(args: &CompareArgs) -> Result<String> {
    let a = metric_rows(&args.a)?;
    let b = metric_rows(&args.b)?;
    let lookup: HashMap<&Vec<String>, &Vec<Option<f64>>> = b.iter().map(|(k, v)| (k, v)).collect();
    let mut out = format!(
        "| {} | {} |\n|{}{}\n",
        KEY.join(" | "),
        COMPARED
            .iter()
            .map(|m| format!("{m} A | {m} B | Δ {m}"))
            .collect::<Vec<_>>()
            .join(" | "),
        " --- |".repeat(KEY.len()),
        " ---: |".repeat(3 * COMPARED.len())
    );
    let fmt = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "—".into());
    let mut both = 0;
    for (key, values) in &a {
        let Some(other) = lookup.get(key) else {
            continue;
        };
        both += 1;
        let cells: Vec<String> = values
            .iter()
            .zip(other.iter())
            .map(|(&x, &y)| {
                let delta = x
                    .zip(y)
                    .map(|(x, y)| format!("{:+.4}", y - x))
                    .unwrap_or_else(|| "—".into());
                format!("{} | {} | {delta}", fmt(x), fmt(y))
            })
            .collect();
        out.push_str(&format!(
            "| {} | {} |\n",
            key.join(" | "),
            cells.join(" | ")
        ));
    }
    let only_a = a.len() - both;
    let only_b = b.len() - both;
    if both == 0 {
        bail!(
            "{} and {} share no cell × rule (dataset, category, backbone, tap, seed, model, rule); nothing to compare",
            args.a.display(),
            args.b.display()
        );
    }
    out.push_str(&format!(
        "\n{both} rows in both runs; {only_a} only in A, {only_b} only in B.\n"
    ));
    Ok(out)
}

/// A `metrics.csv` row: its key columns ([`KEY`]) and the compared values ([`COMPARED`]).
type MetricRow = (Vec<String>, Vec<Option<f64>>);

fn metric_rows(run: &Path) -> Result<Vec<MetricRow>> {
    let path = run.join("metrics.csv");
    if !path.is_file() {
        bail!(
            "{}: no metrics.csv; pass a run folder that `mon run` printed",
            run.display()
        );
    }
    let (header, rows) = read_text_csv(&path)?;
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| anyhow!("{}: no `{name}` column", path.display()))
    };
    let keys = KEY.map(column).into_iter().collect::<Result<Vec<_>>>()?;
    let values = COMPARED
        .map(column)
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .map(|row| {
            (
                keys.iter().map(|&k| row[k].clone()).collect(),
                values.iter().map(|&v| row[v].parse().ok()).collect(),
            )
        })
        .collect())
}
