//! `mon data check` and the same checks at the start of `mon run`: counts a user can compare
//! with the dataset's documentation, errors that name the file, warnings that are recorded.

mod common;

use common::*;
use image::{GrayImage, Luma};

#[test]
fn mvtec_grid_has_the_documented_counts() {
    let Some(grid) = mon_testkit::shared_data("mvtec_ad/grid") else { return };
    let out = mon(&["data", "check", grid.to_str().unwrap()]);
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stdout.contains(
            "grid: train/good 264, test/good 21, test anomalous 57 in 5 defect types \
             (bent 12, broken 12, glue 11, metal_contamination 11, thread 11), masks 57/57"
        ),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("images: 512x512 gray (342)") && out.stdout.contains("no errors"), "{}", out.stdout);
}

#[test]
fn broken_files_and_wrong_masks_are_errors_that_stop_a_run() {
    let Some(weights) = mon_testkit::weights("efficientnet-lite0-57934424.pth") else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    synthetic_category(&data, "alpha", 4);
    let cat = data.join("alpha");
    std::fs::write(cat.join("test/scratch/001.png"), b"\x89PNG\r\n\x1a\n truncated").unwrap();
    std::fs::create_dir_all(cat.join("ground_truth/scratch")).unwrap();
    GrayImage::from_pixel(10, 10, Luma([255])).save(cat.join("ground_truth/scratch/000_mask.png")).unwrap();

    let file = cat.join("train/good/000.png");
    let not_a_folder = mon(&["data", "check", file.to_str().unwrap()]);
    assert!(!not_a_folder.success && not_a_folder.stderr.contains("000.png: is a file; give a dataset folder"), "{}", not_a_folder.stderr);

    let out = mon(&["data", "check", cat.to_str().unwrap()]);
    assert!(!out.success);
    assert!(out.stderr.contains("test/scratch/001.png") && out.stderr.contains("truncated or corrupt"), "{}", out.stderr);
    assert!(out.stderr.contains("000_mask.png: mask is 10x10 but its image") && out.stderr.contains("is 96x80"), "{}", out.stderr);
    assert!(out.stderr.contains("2 error(s)"), "{}", out.stderr);

    let exp = experiment(dir.path(), &data, &weights, &["alpha"]);
    let results = dir.path().join("results");
    let run = mon(&["run", exp.to_str().unwrap(), "--results", results.to_str().unwrap(), "--quiet"]);
    assert!(!run.success);
    assert!(run.stderr.contains("001.png") && run.stderr.contains("mon data check"), "{}", run.stderr);
    assert!(finished_runs(&results, "synthetic").is_empty(), "nothing that looks like results");
}

#[test]
fn a_test_image_copied_from_training_is_a_warning_recorded_with_the_run() {
    let Some(weights) = mon_testkit::weights("efficientnet-lite0-57934424.pth") else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    synthetic_category(&data, "alpha", 4);
    let cat = data.join("alpha");
    std::fs::copy(cat.join("train/good/002.png"), cat.join("test/good/copy.png")).unwrap();

    let out = mon(&["data", "check", data.to_str().unwrap()]);
    assert!(out.success, "{}", out.stderr);
    assert!(out.stdout.contains("copy.png: same content as the training image") && out.stdout.contains("002.png"), "{}", out.stdout);

    let exp = experiment(dir.path(), &data, &weights, &["alpha"]);
    let results = dir.path().join("results");
    let run = mon(&["run", exp.to_str().unwrap(), "--results", results.to_str().unwrap()]);
    assert!(run.success, "{}", run.stderr);
    assert!(run.stderr.contains("warning:") && run.stderr.contains("copy.png"), "{}", run.stderr);
    let recorded = std::fs::read_to_string(run.run_dir().join("warnings.txt")).unwrap();
    assert!(recorded.contains("copy.png: same content as the training image"), "{recorded}");
}

/// A category without anomalous test images still runs its label-free rules; the data check
/// says why AUROC and the oracle rules are missing, and the run records each reason, quiet or
/// not.
#[test]
fn without_anomalous_test_images_the_reasons_are_recorded() {
    let Some(weights) = mon_testkit::weights("efficientnet-lite0-57934424.pth") else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    synthetic_category(&data, "alpha", 4);
    std::fs::remove_dir_all(data.join("alpha/test/scratch")).unwrap();

    let out = mon(&["data", "check", data.to_str().unwrap()]);
    assert!(out.success, "{}", out.stderr);
    assert!(out.stdout.contains("warning: alpha: no anomalous test images"), "{}", out.stdout);

    let exp = experiment(dir.path(), &data, &weights, &["alpha"]);
    let results = dir.path().join("results");
    let run = mon(&["run", exp.to_str().unwrap(), "--results", results.to_str().unwrap(), "--quiet"]);
    assert!(run.success, "{}", run.stderr);
    let recorded = std::fs::read_to_string(run.run_dir().join("warnings.txt")).unwrap();
    assert!(recorded.contains("no anomalous test images"), "{recorded}");
    assert!(recorded.contains("toy/alpha/efficientnet-lite0@head/seed=0/cosine / max_f1") && recorded.contains("anomalous: 0"), "{recorded}");
}
