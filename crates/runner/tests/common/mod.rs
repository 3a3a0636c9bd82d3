//! Helpers for the `mon` end-to-end tests: running the binary, small synthetic datasets, and
//! reading what a run wrote.

#![allow(dead_code)] // each test file uses a different subset

use std::path::{Path, PathBuf};
use std::process::Command;

use image::{GrayImage, Luma};
use polars::prelude::*;

pub struct Outcome {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// The run folder: the last line `mon run` prints.
    pub fn run_dir(&self) -> PathBuf {
        PathBuf::from(self.stdout.lines().last().expect("mon printed something").trim())
    }
}

/// Runs `mon` from the project root.
pub fn mon(args: &[&str]) -> Outcome {
    mon_with_env(args, &[])
}

/// [`mon`] with extra environment variables.
pub fn mon_with_env(args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let out = Command::new(env!("CARGO_BIN_EXE_mon"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(mon_testkit::project_root())
        .output()
        .expect("mon runs");
    let outcome = Outcome {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!outcome.stderr.contains("panicked"), "mon panicked:\n{}", outcome.stderr);
    outcome
}

/// A textured gray image; `defect` adds a bright square. The seed is also written into the
/// first three pixels, so that images of different seeds never share their content.
pub fn write_image(path: &Path, seed: u32, defect: bool) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let img = GrayImage::from_fn(96, 80, |x, y| {
        let texture = ((x * 7 + y * 3 + seed * 13) % 16) as u8 * 6 + ((x / 8 + y / 8) % 2) as u8 * 40 + 60;
        let square = defect && (30..60).contains(&x) && (25..55).contains(&y);
        match (x, y) {
            (0, 0) => Luma([(seed % 256) as u8]),
            (1, 0) => Luma([(seed / 256 % 256) as u8]),
            (2, 0) => Luma([(seed / 65536 % 256) as u8]),
            _ => Luma([if square { 250 } else { texture }]),
        }
    });
    img.save(path).unwrap();
}

/// `root/<category>/{train/good, test/good, test/scratch}` with `n_train`, 3 and 3 images,
/// none with the same content as another (in any category).
pub fn synthetic_category(root: &Path, category: &str, n_train: u32) {
    let dir = root.join(category);
    let base = category.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32)) % 10_000 * 1000;
    for i in 0..n_train {
        write_image(&dir.join(format!("train/good/{i:03}.png")), base + i, false);
    }
    for i in 0..3 {
        write_image(&dir.join(format!("test/good/{i:03}.png")), base + 100 + i, false);
        write_image(&dir.join(format!("test/scratch/{i:03}.png")), base + 200 + i, true);
    }
}

/// An experiment on `data_root` with absolute paths, so the tests may run from anywhere.
pub fn experiment(dir: &Path, data_root: &Path, weights: &Path, categories: &[&str]) -> PathBuf {
    let path = dir.join("exp.toml");
    let categories: Vec<String> = categories.iter().map(|c| format!("{c:?}")).collect();
    std::fs::write(
        &path,
        format!(
            r#"name = "synthetic"
[dataset]
name = "toy"
root = {root:?}
categories = [{categories}]
[backbone]
name = "efficientnet-lite0"
weights = {weights:?}
tap = "head"
[normality]
validation_fraction = 0.25
[thresholds]
rules = ["mean_k_std{{k=3}}", "max_f1"]
[run]
batch_size = 4
"#,
            root = data_root.display().to_string(),
            categories = categories.join(", "),
            weights = weights.display().to_string(),
        ),
    )
    .unwrap();
    path
}

pub fn read_csv(path: &Path) -> DataFrame {
    CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .unwrap()
        .finish()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Folders under `results_root/<experiment>` that look like finished runs.
pub fn finished_runs(results_root: &Path, experiment: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(results_root.join(experiment)) else { return Vec::new() };
    let mut runs: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    runs.sort();
    runs
}
