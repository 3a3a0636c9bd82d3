//! The `mon` subcommands other than `run`, each with its clap arguments beside its code.

pub mod bench;
pub mod cache;
pub mod data;
pub mod features;
pub mod report;
pub mod thresholds;
pub mod weights;
