//! The walking skeleton's acceptance check: tap `head`, mean model of normality from all of
//! train/good (nothing held out), image-level AUROC equal to the PyTorch reference pipeline's
//! within ±0.005, through the shipped experiment files and the `mon` binary.

mod common;

use common::*;

const TOLERANCE: f64 = 0.005;

fn check(experiment: &str, expected: &[(&str, &str, f64)]) {
    let with_tap: Vec<_> = expected.iter().map(|&(category, score, reference)| (category, "head", score, reference)).collect();
    check_taps(experiment, TOLERANCE, &with_tap);
}

/// Runs `experiment` with nothing held out and compares each (category, tap, score) AUROC.
fn check_taps(experiment: &str, tolerance: f64, expected: &[(&str, &str, &str, f64)]) {
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
    let column = |name: &str| metrics.column(name).unwrap().str().cloned().ok();
    let (categories, taps, scores) = (column("category").unwrap(), column("tap").unwrap(), column("model").unwrap());
    for &(category, tap, score, reference) in expected {
        let row = (0..metrics.height())
            .find(|&i| categories.get(i) == Some(category) && taps.get(i) == Some(tap) && scores.get(i) == Some(score))
            .unwrap_or_else(|| panic!("no {category} @ {tap} / {score} row in metrics.csv"));
        let auroc = metrics.column("auroc").unwrap().f64().unwrap().get(row).unwrap();
        eprintln!("{category} @ {tap} / {score}: AUROC {auroc:.4} (reference {reference})");
        assert!((auroc - reference).abs() <= tolerance, "{category} @ {tap} / {score}: AUROC {auroc:.4}, reference {reference} ± {tolerance}");
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

/// Spatial models of normality against the PyTorch reference pipeline on the same Lite0
/// features (issue 4): per-position mean map at block10, patch memory of every training patch
/// at block5, and global Mahalanobis at head, all from the whole of train/good.
#[test]
fn mvtec_grid_spatial_models_match_the_pytorch_reference() {
    if mon_testkit::shared_data("mvtec_ad/grid").is_none() {
        return;
    }
    check_taps(
        "experiments/grid-models.toml",
        0.01,
        &[
            ("grid", "block10", "position_mean", 0.921),
            ("grid", "block5", "patch_knn{memory=1000000,coreset=random}", 0.960),
            ("grid", "head", "gaussian", 0.622),
        ],
    );
}
