//! `mon data check`: what a dataset folder holds and what is wrong with it, before a run.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Subcommand;

use crate::check::{check_category, summary};
use crate::dataset::{discover_categories, load_category};

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Layout, counts per split and defect type, every image and mask decoded, mask sizes,
    /// test images that copy training images. Exits non-zero on errors.
    Check {
        /// A dataset root (a folder of categories) or one category folder, in MVTec AD layout.
        dir: PathBuf,
    },
}

/// Runs the command; returns the summary, or an error holding it when something is wrong.
pub fn data(command: &DataCommand) -> Result<String> {
    let DataCommand::Check { dir } = command;
    let (root, names) = categories_of(dir)?;
    let mut out = String::new();
    let mut errors = 0;
    for name in &names {
        let category = match load_category(&root, name) {
            Ok(category) => category,
            Err(e) => {
                out.push_str(&format!("{name}:\n  error: {e:#}\n"));
                errors += 1;
                continue;
            }
        };
        let findings = check_category(&category);
        errors += findings.errors.len();
        out.push_str(&summary(&category, &findings));
    }
    if errors > 0 {
        bail!("{out}{errors} error(s) in {}: fix them before running an experiment on it", dir.display());
    }
    Ok(format!("{out}{}: no errors", dir.display()))
}

/// `dir` as (root, categories): itself when it is a category (has train/good), else the
/// categories inside it.
fn categories_of(dir: &Path) -> Result<(PathBuf, Vec<String>)> {
    if dir.is_file() {
        bail!("{}: is a file; give a dataset folder (of categories) or one category folder", dir.display());
    }
    if !dir.is_dir() {
        bail!("{}: no such folder", dir.display());
    }
    if dir.join("train/good").is_dir() {
        let dir = dir.canonicalize()?;
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let root = dir.parent().map(Path::to_path_buf).unwrap_or_default();
        return Ok((root, vec![name]));
    }
    Ok((dir.to_path_buf(), discover_categories(dir)?))
}
