//! `mon weights list` (the catalogue) and `mon weights check` (does a file fit a backbone?).

use std::path::Path;

use anyhow::Result;
use clap::Subcommand;
use mon_backbone::{Backbone, DeviceChoice, catalogue, find_backbone};

#[derive(Subcommand, Debug)]
pub enum WeightsCommand {
    /// Every backbone: input preparation, where its weights come from, and whether they are here.
    List,
    /// Load FILE into BACKBONE and report what fits and what does not.
    Check {
        file: std::path::PathBuf,
        #[arg(long)]
        backbone: String,
    },
}

pub fn weights(command: &WeightsCommand) -> Result<String> {
    match command {
        WeightsCommand::List => Ok(list()),
        WeightsCommand::Check { file, backbone } => check(file, backbone),
    }
}

fn list() -> String {
    let mut out = String::new();
    for spec in catalogue() {
        let file = spec.default_weights();
        let here = if file.is_file() { "present" } else { "absent" };
        out.push_str(&format!(
            "{}\n  input:   {}\n  layout:  {}\n  weights: {}\n  file:    {} ({here})\n",
            spec.name,
            spec.preprocess,
            spec.layout(),
            spec.source,
            file.display()
        ));
    }
    out.push_str("Any other file of a listed architecture loads with --weights FILE (run `mon weights check FILE --backbone NAME` first).");
    out
}

fn check(file: &Path, backbone: &str) -> Result<String> {
    let spec = find_backbone(backbone)?;
    let model = Backbone::load(spec, file, DeviceChoice::Cpu.open()?)?;
    let report = model.load_report();
    let classifier = if report.classifier { "with the ImageNet classifier (logits available)" } else { "feature extractor only (no classifier)" };
    Ok(format!(
        "{} fits `{}`: {:?} file, {} tensors loaded, {} parameters, {classifier}\ntaps: {}",
        file.display(),
        spec.name,
        report.format,
        report.applied,
        model.num_params(),
        model.stage_names().join(", ")
    ))
}
