//! `mon run` on bad input: a non-zero exit, a message naming the path and the fix, no panic, and
//! no results folder that could pass for a finished run.

mod common;

use std::path::Path;

use common::*;

fn run_expecting_failure(exp: &Path, results: &Path) -> String {
    let out = mon(&["run", exp.to_str().unwrap(), "--results", results.to_str().unwrap(), "--quiet"]);
    assert!(!out.success, "mon succeeded on bad input:\n{}", out.stdout);
    assert!(finished_runs(results, "synthetic").is_empty(), "a failed run left a results folder");
    let leftovers = std::fs::read_dir(results.join("synthetic")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(leftovers, 0, "a failed run left a partial folder");
    out.stderr
}

#[test]
fn missing_train_good_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    synthetic_category(&data, "alpha", 4);
    std::fs::remove_dir_all(data.join("alpha/train/good")).unwrap();
    let exp = experiment(dir.path(), &data, Path::new("weights/none.pth"), &["alpha"]);
    let err = run_expecting_failure(&exp, &dir.path().join("results"));
    assert!(err.contains("alpha/train/good") && err.contains("missing"), "{err}");
}

#[test]
fn an_undecodable_image_is_named_and_nothing_is_left_behind() {
    let Some(weights) = mon_testkit::weights("efficientnet-lite0-57934424.pth") else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    synthetic_category(&data, "alpha", 4);
    let broken = data.join("alpha/test/scratch/001.png");
    let bytes = std::fs::read(&broken).unwrap();
    std::fs::write(&broken, &bytes[..bytes.len() / 3]).unwrap(); // truncated
    let exp = experiment(dir.path(), &data, &weights, &["alpha"]);
    let err = run_expecting_failure(&exp, &dir.path().join("results"));
    assert!(err.contains("scratch/001.png") && err.contains("truncated or corrupt"), "{err}");
}

#[test]
fn a_bad_key_names_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), dir.path(), Path::new("w.pth"), &["alpha"]);
    let text = std::fs::read_to_string(&exp).unwrap().replace("batch_size = 4", "batch_sise = 4");
    std::fs::write(&exp, text).unwrap();
    let err = run_expecting_failure(&exp, &dir.path().join("results"));
    assert!(err.contains("exp.toml") && err.contains("unknown field `batch_sise`") && err.contains("batch_size"), "{err}");
}

#[test]
fn a_missing_weights_file_says_where_weights_come_from() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    synthetic_category(&data, "alpha", 4);
    let exp = experiment(dir.path(), &data, &dir.path().join("nowhere.pth"), &["alpha"]);
    let err = run_expecting_failure(&exp, &dir.path().join("results"));
    assert!(err.contains("nowhere.pth") && err.contains("fetch-weights.sh"), "{err}");
}

#[test]
fn an_unwritable_results_folder_is_named() {
    let Some(weights) = mon_testkit::weights("efficientnet-lite0-57934424.pth") else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    synthetic_category(&data, "alpha", 4);
    let exp = experiment(dir.path(), &data, &weights, &["alpha"]);
    let blocker = dir.path().join("results-is-a-file");
    std::fs::write(&blocker, "").unwrap();
    let out = mon(&["run", exp.to_str().unwrap(), "--results", blocker.to_str().unwrap(), "--quiet"]);
    assert!(!out.success);
    assert!(out.stderr.contains("results-is-a-file") && out.stderr.contains("--results"), "{}", out.stderr);
}

/// Where no GPU adapter exists, `--device wgpu` is a clear error, not a panic or a hang. The
/// Vulkan loader is pointed at a driver list that does not exist, so this holds on machines
/// with a GPU (or CI's software driver) too.
#[test]
fn wgpu_without_an_adapter_is_an_error_not_a_panic() {
    let Some(weights) = mon_testkit::weights("efficientnet-lite0-57934424.pth") else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    synthetic_category(&data, "alpha", 4);
    let exp = experiment(dir.path(), &data, &weights, &["alpha"]);
    let results = dir.path().join("results");
    let no_driver = dir.path().join("no-such-icd.json");
    let no_driver = no_driver.to_str().unwrap();
    let out = mon_with_env(
        &["run", exp.to_str().unwrap(), "--device", "wgpu", "--results", results.to_str().unwrap(), "--quiet"],
        &[("VK_ICD_FILENAMES", no_driver), ("VK_DRIVER_FILES", no_driver)],
    );
    assert!(!out.success);
    assert!(out.stderr.contains("device `wgpu` is not usable") && out.stderr.contains("--device cpu"), "{}", out.stderr);
    assert!(finished_runs(&results, "synthetic").is_empty());
}

#[test]
fn a_hold_out_that_leaves_no_training_image_names_the_file_and_the_key() {
    let Some(weights) = mon_testkit::weights("efficientnet-lite0-57934424.pth") else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    synthetic_category(&data, "alpha", 4);
    let exp = experiment(dir.path(), &data, &weights, &["alpha"]);
    let text = std::fs::read_to_string(&exp).unwrap().replace("validation_fraction = 0.25", "validation_fraction = 0.9");
    std::fs::write(&exp, text).unwrap();
    let err = run_expecting_failure(&exp, &dir.path().join("results"));
    assert!(err.contains("exp.toml: `normality.validation_fraction`: alpha") && err.contains("at least one normal training image"), "{err}");
}
