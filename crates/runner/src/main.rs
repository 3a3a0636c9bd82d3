use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mon_runner::commands::bench::{BenchArgs, bench};
use mon_runner::commands::cache::{CacheCommand, cache};
use mon_runner::commands::data::{DataCommand, data};
use mon_runner::commands::features::{FeaturesArgs, features};
use mon_runner::commands::report::{CompareArgs, MergeArgs, ReportArgs, compare, merge, report};
use mon_runner::commands::thresholds::{ThresholdsArgs, thresholds};
use mon_runner::commands::weights::{WeightsCommand, weights};
use mon_runner::grid::Shard;
use mon_runner::run::{RunOptions, run};

/// Anomaly detection with a pretrained CNN and a model of normality: run experiments,
/// compare working-point threshold rules, make tables and figures.
#[derive(Parser)]
#[command(name = "mon", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an experiment file; prints the results table and, last, the new run folder.
    /// Features and finished cells are cached, so a rerun or an interrupted run only computes
    /// what is missing.
    Run {
        /// The experiment (TOML), e.g. experiments/quickstart.toml.
        experiment: PathBuf,
        /// Override a setting, e.g. --set normality.validation_fraction=0 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Override run.device: cpu, flex, ndarray or wgpu.
        #[arg(long)]
        device: Option<String>,
        /// Where run folders go.
        #[arg(long, default_value = "results")]
        results: PathBuf,
        /// No progress bars or status lines.
        #[arg(long, short)]
        quiet: bool,
        /// Print the expanded grid and what the cache already holds; run nothing.
        #[arg(long)]
        dry_run: bool,
        /// Run only every N-th grid cell, starting at the I-th: I/N (for job arrays); join the
        /// shards' run folders with `mon merge`.
        #[arg(long, value_name = "I/N", default_value = "1/1")]
        shard: Shard,
    },
    /// Re-render a run's metrics, tables and figures from its scores.csv.
    Report(ReportArgs),
    /// Join the run folders of `mon run --shard` into one run, as if run unsharded.
    Merge(MergeArgs),
    /// Per grid cell and rule: AUROC, F1 and accuracy of two runs and their differences.
    Compare(CompareArgs),
    /// The feature cache: `stats`, `prune`.
    Cache {
        #[command(subcommand)]
        command: CacheCommand,
    },
    /// Datasets: `mon data check DIR` before running on a folder.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// The backbone catalogue and weights files.
    Weights {
        #[command(subcommand)]
        command: WeightsCommand,
    },
    /// Features of images (or of a preprocessed tensor) at any taps, written as safetensors.
    Features(FeaturesArgs),
    /// Every threshold rule on a CSV of `split,label,score` rows from any detector, as JSON.
    Thresholds(ThresholdsArgs),
    /// Images per second of feature extraction (end to end, forward, preprocessing) and peak
    /// memory, as one JSON line.
    Bench(BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run {
            experiment,
            overrides,
            device,
            results,
            quiet,
            dry_run,
            shard,
        } => run(
            &experiment,
            &RunOptions {
                results_root: results,
                overrides,
                device,
                quiet,
                dry_run,
                shard,
            },
        )
        .map(|out| {
            println!("{}", out.table);
            if let Some(dir) = out.dir {
                println!("{}", dir.display());
            }
        }),
        Command::Report(args) => report(&args).map(|table| println!("{table}")),
        Command::Merge(args) => merge(&args).map(|(table, dir)| {
            println!("{table}");
            println!("{}", dir.display());
        }),
        Command::Compare(args) => compare(&args).map(|table| println!("{table}")),
        Command::Cache { command } => cache(&command).map(|text| println!("{text}")),
        Command::Data { command } => data(&command).map(|text| println!("{text}")),
        Command::Weights { command } => weights(&command).map(|text| println!("{text}")),
        Command::Features(args) => features(&args).map(|summary| eprintln!("{summary}")),
        Command::Thresholds(args) => thresholds(&args).map(|json| println!("{json}")),
        Command::Bench(args) => bench(&args).map(|json| println!("{json}")),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
