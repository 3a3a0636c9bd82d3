//! Sweeps through the cache: a rerun does not run the backbone, an interrupted run resumes
//! without recomputing finished cells, shards merge into exactly the unsharded run, and the
//! report can be redone and compared from the files a run leaves.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;

struct Sweep {
    _dir: tempfile::TempDir,
    exp: PathBuf,
    results: PathBuf,
}

fn sweep(categories: &[&str]) -> Option<Sweep> {
    let weights = mon_testkit::weights("efficientnet-lite0-57934424.pth")?;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for category in categories {
        synthetic_category(&data, category, 8);
    }
    let exp = experiment(dir.path(), &data, &weights, categories);
    let results = dir.path().join("results");
    Some(Sweep { exp, results, _dir: dir })
}

impl Sweep {
    fn run(&self, extra: &[&str]) -> Outcome {
        let mut args = vec!["run", self.exp.to_str().unwrap(), "--results", self.results.to_str().unwrap()];
        args.extend(extra);
        let out = mon(&args);
        assert!(out.success, "{}", out.stderr);
        out
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_rerun_reads_features_and_cells_from_the_cache() {
    let Some(s) = sweep(&["alpha", "beta"]) else { return };
    let first = s.run(&[]);
    assert!(first.stderr.contains("features extracted for 28 image(s)"), "{}", first.stderr);
    assert!(first.stderr.contains("cells: 4 computed, 0 read from the cache"), "{}", first.stderr);

    let second = s.run(&[]);
    assert!(second.stderr.contains("no features extracted (the backbone did not run)"), "{}", second.stderr);
    assert!(second.stderr.contains("cells: 0 computed, 4 read from the cache"), "{}", second.stderr);
    assert_eq!(read(&first.run_dir().join("metrics.csv")), read(&second.run_dir().join("metrics.csv")));
    assert_eq!(finished_runs(&s.results, "synthetic").len(), 2, "both runs intact");
    let cache = s.results.join(".cache");
    let stats = mon(&["cache", "stats", "--cache", cache.to_str().unwrap()]);
    assert!(stats.stdout.contains("features: 28 entries") && stats.stdout.contains("scores: 4 entries"), "{}", stats.stdout);

    // Other threshold rules or models of normality reuse the features.
    let other = s.run(&["--set", "normality.scores=[\"knn{k=2}\"]", "--set", "thresholds.rules=[\"quantile{q=0.9}\"]"]);
    assert!(other.stderr.contains("no features extracted"), "{}", other.stderr);
    assert!(other.stderr.contains("cells: 2 computed, 0 read from the cache"), "{}", other.stderr);

    let pruned = mon(&["cache", "prune", "--all", "--cache", cache.to_str().unwrap()]);
    assert!(pruned.stdout.contains("removed 34 entries"), "28 feature files and 6 cells: {}", pruned.stdout);
    let after = s.run(&[]);
    assert!(after.stderr.contains("features extracted for 28 image(s)"), "an emptied cache is rebuilt: {}", after.stderr);
}

#[test]
fn dry_run_shows_the_grid_and_what_is_cached_without_running() {
    let Some(s) = sweep(&["alpha"]) else { return };
    let before = s.run(&["--dry-run"]);
    assert!(before.stdout.contains("synthetic: 2 of 2 cells (shard 1/1)"), "{}", before.stdout);
    assert!(before.stdout.contains("toy/alpha/efficientnet-lite0@head/seed=0/cosine") && before.stdout.contains("features to extract"), "{}", before.stdout);
    assert!(finished_runs(&s.results, "synthetic").is_empty(), "a dry run makes no run folder");
    s.run(&["--quiet"]);
    let after = s.run(&["--dry-run", "--set", "normality.scores=[\"cosine\", \"gaussian\"]"]);
    assert!(after.stdout.contains("scores cached") && after.stdout.contains("features cached, model to fit"), "{}", after.stdout);
    assert!(after.stdout.contains("1 cell(s) cached, 1 with cached features, 0 need the backbone"), "{}", after.stdout);
}

#[test]
fn shards_merge_into_exactly_the_unsharded_run_and_report_redoes_it() {
    let Some(s) = sweep(&["alpha", "beta", "gamma"]) else { return };
    let whole = s.run(&["--quiet"]).run_dir();
    let one = s.run(&["--quiet", "--shard", "1/2"]).run_dir();
    let two = s.run(&["--quiet", "--shard", "2/2"]).run_dir();
    assert_eq!(read(&one.join("metrics.csv")).lines().count(), 1 + 3 * 2, "cells 0, 2, 4 × 2 rules");
    let merged = mon(&["merge", two.to_str().unwrap(), one.to_str().unwrap(), "--results", s.results.to_str().unwrap()]);
    assert!(merged.success, "{}", merged.stderr);
    let merged = merged.run_dir();
    for file in ["metrics.csv", "scores.csv", "tables/f1.tex", "table.md"] {
        assert_eq!(read(&whole.join(file)), read(&merged.join(file)), "{file}");
    }
    let spare = s.run(&["--quiet", "--shard", "9/9"]);
    assert!(spare.stdout.contains("shard 9/9: nothing to run, the grid has only 6 cells"), "a spare array task succeeds: {}", spare.stdout);
    let err = mon(&["merge", one.to_str().unwrap(), "--results", s.results.to_str().unwrap()]);
    assert!(!err.success && err.stderr.contains("missing: 1, 3, 5"), "{}", err.stderr);

    // `mon report` redoes metrics, tables and figures from scores.csv alone.
    let metrics = read(&whole.join("metrics.csv"));
    std::fs::remove_dir_all(whole.join("figures")).unwrap();
    std::fs::remove_file(whole.join("metrics.csv")).unwrap();
    let report = mon(&["report", whole.to_str().unwrap()]);
    assert!(report.success, "{}", report.stderr);
    assert_eq!(read(&whole.join("metrics.csv")), metrics);
    assert!(whole.join("figures/roc/toy_gamma_efficientnet-lite0_head.png").is_file());

    let compare = mon(&["compare", whole.to_str().unwrap(), merged.to_str().unwrap()]);
    assert!(compare.success, "{}", compare.stderr);
    assert!(compare.stdout.contains("| toy | alpha | efficientnet-lite0 | head | 0 | cosine | max_f1 |"), "{}", compare.stdout);
    assert!(compare.stdout.contains("+0.0000") && !compare.stdout.contains("-0.") && compare.stdout.contains("12 rows in both runs"), "{}", compare.stdout);
}

/// Kills a run once its first cell is in the cache; the next run finishes the grid and
/// recomputes none of the cells that were done.
#[test]
fn a_killed_run_resumes_without_recomputing_finished_cells() {
    let Some(s) = sweep(&["alpha", "beta", "gamma", "delta"]) else { return };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mon"))
        .args(["run", s.exp.to_str().unwrap(), "--results", s.results.to_str().unwrap(), "--quiet"])
        .current_dir(mon_testkit::project_root())
        .spawn()
        .unwrap();
    let scores = s.results.join(".cache/scores");
    let finished = |dir: &Path| std::fs::read_dir(dir).map(|d| d.filter(|e| !e.as_ref().unwrap().file_name().to_string_lossy().starts_with('.')).count()).unwrap_or(0);
    let start = Instant::now();
    while finished(&scores) == 0 {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before a cell was cached");
        assert!(start.elapsed() < Duration::from_secs(300), "no cell finished in 5 minutes");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done = finished(&scores);
    assert!(done < 8, "killed mid-way ({done} of 8 cells cached)");
    assert!(finished_runs(&s.results, "synthetic").is_empty(), "a killed run is not a finished run");

    let resumed = s.run(&[]);
    assert!(resumed.stderr.contains(&format!("cells: {} computed, {done} read from the cache", 8 - done)), "{}", resumed.stderr);
    assert_eq!(read(&resumed.run_dir().join("metrics.csv")).lines().count(), 1 + 8 * 2);
}
