//! `mon bench`: images per second of feature extraction on a folder of images, end to end
//! (decode + preprocess + forward) and by stage, with the peak memory, as one JSON line.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use clap::Args;
use mon_backbone::{Backbone, DeviceChoice, Readout, find_backbone};
use serde::Serialize;

use crate::dataset::images_under;
use crate::extract::preprocess_batch;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// A backbone from `mon weights list`.
    #[arg(long)]
    backbone: String,
    /// Weights file; the catalogue's file under weights/ when absent (any file of the right
    /// architecture times the same, random weights included).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// A folder of images, searched recursively (`ground_truth` masks skipped), e.g. an MVTec
    /// AD category.
    #[arg(long)]
    images: PathBuf,
    /// Images per forward pass.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// cpu, flex, ndarray or wgpu.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Timed passes over the images (after one untimed warm-up batch); medians are reported.
    #[arg(long, default_value_t = 5)]
    repeats: usize,
}

/// The printed line.
#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub backbone: String,
    pub device: String,
    pub backend: String,
    pub threads: usize,
    pub images: usize,
    pub batch: usize,
    pub repeats: usize,
    /// Median over the passes of images / wall time of the whole pass.
    pub end_to_end_images_per_s: f64,
    /// Median of images / time spent in the forward pass (read back to the host).
    pub forward_images_per_s: f64,
    /// Median of images / time spent decoding and preprocessing.
    pub preprocess_images_per_s: f64,
    /// Peak resident memory of the process (Linux `VmHWM`), if known.
    pub peak_rss_mib: Option<f64>,
}

/// Runs the benchmark; returns the JSON line.
pub fn bench(args: &BenchArgs) -> Result<String> {
    ensure!(args.batch > 0, "--batch must be at least 1");
    ensure!(args.repeats > 0, "--repeats must be at least 1");
    let spec = find_backbone(&args.backbone)?;
    let device: DeviceChoice = args.device.parse().map_err(anyhow::Error::msg)?;
    let weights = args.weights.clone().unwrap_or_else(|| spec.default_weights());
    let backbone = Backbone::load(spec, &weights, device.open()?)?;
    let images = images_under(&args.images)?;
    ensure!(!images.is_empty(), "{}: no images (PNG, JPEG or BMP) found below it", args.images.display());
    // The deepest stage: every layer runs, as for the `head` tap.
    let tap = backbone.stage_names().len() - 1;

    let pass = |images: &[PathBuf]| -> Result<(Duration, Duration, Duration)> {
        let (mut preprocess, mut forward) = (Duration::ZERO, Duration::ZERO);
        let start = Instant::now();
        let side = spec.preprocess.crop as usize;
        for chunk in images.chunks(args.batch) {
            let t = Instant::now();
            let input = preprocess_batch(&spec.preprocess, chunk)?;
            preprocess += t.elapsed();
            let t = Instant::now();
            // `extract` copies the features to the host, so the timing includes the real work
            // of lazy backends.
            backbone.extract(input, [chunk.len(), 3, side, side], &[tap], Readout::AVG, false)?;
            forward += t.elapsed();
        }
        Ok((start.elapsed(), preprocess, forward))
    };
    pass(&images[..args.batch.min(images.len())])?; // warm-up: first-use allocation, GPU kernel compilation

    let mut timings = Vec::with_capacity(args.repeats);
    for _ in 0..args.repeats {
        timings.push(pass(&images)?);
    }
    let n = images.len() as f64;
    let median_rate = |pick: fn(&(Duration, Duration, Duration)) -> Duration| {
        let mut rates: Vec<f64> = timings.iter().map(|t| n / pick(t).as_secs_f64()).collect();
        rates.sort_by(f64::total_cmp);
        rates[rates.len() / 2]
    };
    let report = BenchReport {
        backbone: spec.name.to_string(),
        device: device.name().to_string(),
        backend: device.backend().to_string(),
        threads: rayon::current_num_threads(),
        images: images.len(),
        batch: args.batch,
        repeats: args.repeats,
        end_to_end_images_per_s: median_rate(|t| t.0),
        forward_images_per_s: median_rate(|t| t.2),
        preprocess_images_per_s: median_rate(|t| t.1),
        peak_rss_mib: peak_rss_mib(),
    };
    Ok(serde_json::to_string(&report)?)
}

/// `VmHWM` of `/proc/self/status`, in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib / 1024.0)
}
