//! The `mon` workbench: experiment files, datasets, feature extraction, evaluation and reports.

pub mod cache;
pub mod check;
pub mod commands;
pub mod dataset;
pub mod evaluate;
pub mod experiment;
pub mod extract;
pub mod grid;
pub mod report;
pub mod run;
