//! `mon run` end to end on a small synthetic dataset with the real Lite0 weights: every output
//! is written, and a second run never touches the first.

mod common;

use common::*;

#[test]
fn a_run_writes_every_output_and_a_rerun_gets_its_own_folder() {
    let Some(weights) = mon_testkit::weights("efficientnet-lite0-57934424.pth") else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    synthetic_category(&data, "alpha", 8);
    synthetic_category(&data, "beta", 8);
    let exp = experiment(dir.path(), &data, &weights, &["alpha", "beta"]);
    let results = dir.path().join("results");
    let args = ["run", exp.to_str().unwrap(), "--results", results.to_str().unwrap(), "--quiet"];

    let first = mon(&args);
    assert!(first.success, "{}", first.stderr);
    let run = first.run_dir();
    assert!(run.starts_with(results.join("synthetic")), "{}", run.display());
    for file in [
        "experiment.toml",
        "resolved.toml",
        "environment.json",
        "metrics.csv",
        "scores.csv",
        "table.md",
        "tables/f1.csv",
        "tables/f1.md",
        "tables/f1.tex",
        "tables/accuracy.tex",
        "tables/auroc.csv",
        "figures/roc/toy_alpha_efficientnet-lite0_head.png",
        "figures/roc/toy_beta_efficientnet-lite0_head.svg",
        "figures/histograms/toy_alpha_efficientnet-lite0_head_cosine.png",
        "figures/bars/toy_efficientnet-lite0_head_euclidean.png",
        "figures/heatmaps/toy_cosine.png",
    ] {
        assert!(run.join(file).is_file(), "{file} missing in {}", run.display());
    }
    assert_eq!(std::fs::read_to_string(run.join("experiment.toml")).unwrap(), std::fs::read_to_string(&exp).unwrap());
    assert!(first.stdout.contains("| category | model | threshold_rule |"), "the table is printed:\n{}", first.stdout);
    let environment: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("environment.json")).unwrap()).unwrap();
    assert_eq!(environment["backend"], "burn-flex");
    assert!(environment["libraries"].to_string().contains("burn"), "{environment}");

    let metrics = read_csv(&run.join("metrics.csv"));
    let columns: Vec<&str> = metrics.get_column_names().iter().map(|c| c.as_str()).collect();
    assert_eq!(&columns[..13], ["cell", "dataset", "category", "backbone", "tap", "seed", "model", "threshold_rule", "oracle", "threshold", "auroc", "auroc_low", "auroc_high"]);
    assert_eq!(&columns[columns.len() - 3..], ["n_fit", "n_val", "n_test"]);
    assert_eq!(metrics.height(), 2 * 2 * 2, "categories × scores × rules");
    let n_val = metrics.column("n_val").unwrap().i64().unwrap().clone();
    let n_val: Vec<Option<i64>> = (0..n_val.len()).map(|i| n_val.get(i)).collect();
    assert!(n_val.iter().all(|&v| v == Some(2)), "25 % of 8 held out: {n_val:?}");
    // A bright square on a regular texture is easy: the features must separate it.
    let auroc = metrics.column("auroc").unwrap().f64().unwrap().clone();
    let auroc: Vec<f64> = (0..auroc.len()).map(|i| auroc.get(i).unwrap()).collect();
    assert!(auroc.iter().all(|&a| a > 0.8), "{auroc:?}");

    let scores = read_csv(&run.join("scores.csv"));
    // per category and score: 2 validation + 6 test images
    assert_eq!(scores.height(), 2 * 2 * (2 + 6));

    let second = mon(&args);
    assert!(second.success, "{}", second.stderr);
    assert_ne!(second.run_dir(), run);
    assert_eq!(finished_runs(&results, "synthetic").len(), 2);
    assert_eq!(
        std::fs::read_to_string(run.join("metrics.csv")).unwrap(),
        std::fs::read_to_string(second.run_dir().join("metrics.csv")).unwrap(),
        "a seeded run is reproducible, and the first run is intact"
    );
}

/// The folder and manifest layouts run like MVTec ones: the folder layout's seeded split sends
/// a share of `good/` to test, the manifest says where each image goes.
#[test]
fn folder_and_manifest_layouts_run_end_to_end() {
    let Some(weights) = mon_testkit::weights("efficientnet-lite0-57934424.pth") else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("tiles");
    for i in 0..10 {
        write_image(&data.join(format!("good/{i:03}.png")), 500 + i, false);
    }
    for i in 0..3 {
        write_image(&data.join(format!("crack/{i:03}.png")), 600 + i, true);
    }
    let results = dir.path().join("results");
    let base = experiment(dir.path(), &data, &weights, &["tiles"]);
    let text = std::fs::read_to_string(&base).unwrap().replace("[backbone]", "layout = \"folder\"\nfolder_split = { test_fraction = 0.3, seed = 1 }\n[backbone]");
    std::fs::write(&base, text).unwrap();
    let out = mon(&["run", base.to_str().unwrap(), "--results", results.to_str().unwrap(), "--quiet"]);
    assert!(out.success, "{}", out.stderr);
    let metrics = read_csv(&out.run_dir().join("metrics.csv"));
    let n_test = metrics.column("n_test").unwrap().i64().unwrap().get(0);
    assert_eq!(n_test, Some(3 + 3), "30 % of 10 normal images and every crack");

    let manifest = dir.path().join("tiles.csv");
    let mut csv = String::from("path,split,label,defect_type\n");
    for i in 0..7 {
        csv.push_str(&format!("tiles/good/{i:03}.png,train,normal,good\n"));
    }
    for i in 7..10 {
        csv.push_str(&format!("tiles/good/{i:03}.png,test,normal,good\n"));
    }
    csv.push_str("tiles/crack/000.png,test,anomalous,crack\n");
    std::fs::write(&manifest, csv).unwrap();
    let text = std::fs::read_to_string(&base)
        .unwrap()
        .replace(&format!("root = {:?}", data.display().to_string()), &format!("root = {:?}", manifest.display().to_string()))
        .replace("layout = \"folder\"", "layout = \"manifest\"");
    std::fs::write(&base, text).unwrap();
    let out = mon(&["run", base.to_str().unwrap(), "--results", results.to_str().unwrap(), "--quiet"]);
    assert!(out.success, "{}", out.stderr);
    let scores = read_csv(&out.run_dir().join("scores.csv"));
    assert_eq!(scores.height(), 2 * (2 + 4), "per model: 25 % of 7 held out, 4 test images");
}
