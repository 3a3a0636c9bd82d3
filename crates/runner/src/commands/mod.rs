//! The `mon` subcommands other than `run`, each with its clap arguments beside its code.

pub mod features;
pub mod weights;
