//! What a run leaves behind under `results/<experiment>/<timestamp>/`.

pub mod roc_plot;
pub mod run_dir;
pub mod tables;
