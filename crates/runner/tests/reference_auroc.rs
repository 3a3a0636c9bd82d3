//! The walking skeleton's acceptance check: tap `head`, mean model of normality from all of
//! train/good (nothing held out), image-level AUROC equal to the PyTorch reference pipeline's
//! within ±0.005, through the shipped experiment files and the `mon` binary.

mod common;

use common::*;

const TOLERANCE: f64 = 0.005;

fn check(experiment: &str, expected: &[(&str, &str, f64)]) {
    let results = tempfile::tempdir().unwrap();
    let out = mon(&[
        "run",
        experiment,
        "--set",
        "normality.validation_fraction=0",
        "--results",
        results.path().to_str().unwrap(),
        "--quiet",
    ]);
    assert!(out.success, "{}", out.stderr);
    let metrics = read_csv(&out.run_dir().join("metrics.csv"));
    for &(category, score, reference) in expected {
        let column = |name: &str| metrics.column(name).unwrap().clone();
        let (categories, scores, aurocs) = (column("category"), column("score"), column("auroc"));
        let row = (0..metrics.height())
            .find(|&i| categories.str().unwrap().get(i) == Some(category) && scores.str().unwrap().get(i) == Some(score))
            .unwrap_or_else(|| panic!("no {category}/{score} row in metrics.csv"));
        let auroc = aurocs.f64().unwrap().get(row).unwrap();
        eprintln!("{category} {score}: AUROC {auroc:.4} (reference {reference})");
        assert!((auroc - reference).abs() <= TOLERANCE, "{category} {score}: AUROC {auroc:.4}, reference {reference}");
    }
}

#[test]
fn mvtec_grid_matches_the_pytorch_reference() {
    if mon_testkit::shared_data("mvtec_ad/grid").is_none() {
        return;
    }
    check("experiments/grid.toml", &[("grid", "cosine", 0.4236), ("grid", "euclidean", 0.4252)]);
}

#[test]
fn elpv_matches_the_pytorch_reference() {
    if mon_testkit::require(mon_testkit::project_root().join("data/elpv/.complete"), "run ./scripts/fetch-elpv.sh").is_none() {
        return;
    }
    check(
        "experiments/quickstart.toml",
        &[("mono", "cosine", 0.7541), ("mono", "euclidean", 0.7074), ("poly", "cosine", 0.6720), ("poly", "euclidean", 0.6420)],
    );
}
