//! `mon bench` from the command line: one JSON line with sane rates, and clear errors.

mod common;

use common::{mon, write_image};

#[test]
fn prints_one_json_line_of_rates_and_memory() {
    let Some(weights) = mon_testkit::weights("efficientnet-lite0-57934424.pth") else { return };
    let dir = tempfile::tempdir().unwrap();
    for i in 0..5 {
        write_image(&dir.path().join(format!("train/good/{i}.png")), i, false);
    }
    write_image(&dir.path().join("ground_truth/crack/0_mask.png"), 0, true);
    let out = mon(&[
        "bench", "--backbone", "efficientnet-lite0", "--weights", weights.to_str().unwrap(),
        "--images", dir.path().to_str().unwrap(), "--batch", "2", "--repeats", "3",
    ]);
    assert!(out.success, "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["images"], 5, "the mask is not an input");
    assert_eq!((json["batch"].as_u64(), json["repeats"].as_u64()), (Some(2), Some(3)));
    assert_eq!((json["device"].as_str(), json["backend"].as_str()), (Some("cpu"), Some("burn-flex")));
    assert!(json["threads"].as_u64().unwrap() >= 1);
    let rate = |key: &str| json[key].as_f64().unwrap_or_else(|| panic!("{key} missing: {json}"));
    let (end_to_end, forward, preprocess) = (rate("end_to_end_images_per_s"), rate("forward_images_per_s"), rate("preprocess_images_per_s"));
    assert!(end_to_end > 0.0 && forward >= end_to_end && preprocess >= end_to_end, "{json}");
    assert!(rate("peak_rss_mib") > 10.0, "{json}");
}

#[test]
fn a_folder_without_images_is_an_error_naming_it() {
    let Some(weights) = mon_testkit::weights("efficientnet-lite0-57934424.pth") else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
    let out = mon(&["bench", "--backbone", "efficientnet-lite0", "--weights", weights.to_str().unwrap(), "--images", dir.path().to_str().unwrap()]);
    assert!(!out.success);
    assert!(out.stderr.contains(&dir.path().display().to_string()) && out.stderr.contains("no images"), "{}", out.stderr);
}
