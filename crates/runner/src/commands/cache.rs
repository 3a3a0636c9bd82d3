//! `mon cache stats|prune`: what the feature cache holds, and clearing out what is no longer used.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Subcommand;

use crate::cache::Cache;

#[derive(Subcommand, Debug)]
pub enum CacheCommand {
    /// Entries and disk use of the feature and score caches.
    Stats {
        /// The cache folder (an experiment's run.cache, or <results>/.cache).
        #[arg(long, default_value = "results/.cache")]
        cache: PathBuf,
    },
    /// Removes entries not written or read for a while, and leftovers of interrupted runs.
    Prune {
        #[arg(long, default_value = "results/.cache")]
        cache: PathBuf,
        /// Remove entries unused for this many days.
        #[arg(long, default_value_t = 30)]
        older_than_days: u64,
        /// Remove everything.
        #[arg(long)]
        all: bool,
    },
}

pub fn cache(command: &CacheCommand) -> Result<String> {
    match command {
        CacheCommand::Stats { cache } => {
            if !cache.is_dir() {
                bail!(
                    "{}: no cache here (runs create it); pass --cache DIR",
                    cache.display()
                );
            }
            let stats = Cache::open(cache)?.stats()?;
            Ok(stats
                .iter()
                .map(|(kind, n, bytes)| format!("{kind}: {n} entries, {}", mebibytes(*bytes)))
                .collect::<Vec<_>>()
                .join("\n"))
        }
        CacheCommand::Prune {
            cache,
            older_than_days,
            all,
        } => {
            if !cache.is_dir() {
                bail!("{}: no cache here; pass --cache DIR", cache.display());
            }
            let age = if *all {
                Duration::ZERO
            } else {
                Duration::from_secs(older_than_days * 86_400)
            };
            let (removed, bytes) = Cache::open(cache)?.prune(age)?;
            Ok(format!(
                "removed {removed} entries, {} freed",
                mebibytes(bytes)
            ))
        }
    }
}

fn mebibytes(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
