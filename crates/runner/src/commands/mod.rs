//! The `mon` subcommands other than `run`, each with its clap arguments beside its code.

pub mod bench;
pub mod data;
pub mod features;
pub mod thresholds;
pub mod weights;
