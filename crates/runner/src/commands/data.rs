//! `mon data check`: what a dataset folder holds and what is wrong with it, before a run.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Subcommand;

use crate::check::{check_category, summary};
use crate::dataset::{Category, FolderSplit, Layout, discover_categories, load_category, load_dataset};

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Layout, counts per split and defect type, every image and mask decoded, mask sizes,
    /// test images that copy training images. Exits non-zero on errors.
    Check {
        /// A dataset root (a folder of categories) or one category folder; for the manifest
        /// layout, the CSV file.
        dir: PathBuf,
        /// mvtec (train/good, test/<type>), folder (good/ beside one folder per defect type,
        /// split with the default test fraction 0.2 and seed 0) or manifest (a CSV file).
        #[arg(long, default_value_t = Layout::Mvtec)]
        layout: Layout,
    },
}

/// Runs the command; returns the summary, or an error holding it when something is wrong.
pub fn data(command: &DataCommand) -> Result<String> {
    let DataCommand::Check { dir, layout } = command;
    let loaded: Vec<(String, Result<Category>)> = match layout {
        // One MVTec category failing to load does not hide what is wrong with the others.
        Layout::Mvtec => {
            let (root, names) = categories_of(dir)?;
            names.into_iter().map(|name| (name.clone(), load_category(&root, &name))).collect()
        }
        _ => load_dataset(*layout, dir, None, &FolderSplit::default())?.into_iter().map(|c| (c.name.clone(), Ok(c))).collect(),
    };
    let mut out = String::new();
    let mut errors = 0;
    for (name, category) in loaded {
        let category = match category {
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
        bail!(
            "{}: is a file; give a dataset folder (of categories) or one category folder, or --layout manifest for a CSV manifest",
            dir.display()
        );
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
