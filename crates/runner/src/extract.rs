//! Images → features at every requested tap, batch by batch: files are decoded and
//! preprocessed in parallel, then one forward pass per batch serves all taps.

use std::path::PathBuf;

use anyhow::{Context, Result};
use indicatif::ProgressBar;
use mon_backbone::image::decode_file;
use mon_backbone::preprocess::Preprocess;
use mon_backbone::{Backbone, Readout};
use mon_normality::model::{InputKind, ModelInput};
use mon_normality::{FeatureMaps, Features};
use rayon::prelude::*;

/// One tap's features of a list of images: average-pooled vectors, and the maps themselves
/// when a spatial model of normality needs them.
#[derive(Clone, Debug)]
pub struct TapFeatures {
    pub pooled: Features,
    pub maps: Option<FeatureMaps>,
}

impl TapFeatures {
    /// The images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> TapFeatures {
        TapFeatures { pooled: self.pooled.select(indices), maps: self.maps.as_ref().map(|m| m.select(indices)) }
    }

    /// What a model reading `kind` is handed.
    pub fn input(&self, kind: InputKind) -> ModelInput<'_> {
        match (kind, &self.maps) {
            (InputKind::Maps, Some(maps)) => ModelInput::Maps(maps),
            // Pooled models read pooled features; a spatial model without maps is refused by
            // the model itself with a message naming what it needs.
            _ => ModelInput::Pooled(&self.pooled),
        }
    }
}

/// Features of stages `taps` for every image, in order: one [`TapFeatures`] per tap, with the
/// maps kept when `keep_maps` (the pooled vectors are then their average, computed on the host).
pub fn extract_taps(backbone: &Backbone, taps: &[usize], keep_maps: bool, images: &[PathBuf], batch_size: usize, progress: &ProgressBar) -> Result<Vec<TapFeatures>> {
    let side = backbone.spec().preprocess.crop as usize;
    let readout = if keep_maps { Readout::Map { grid: None } } else { Readout::AVG };
    let mut shapes = vec![Vec::new(); taps.len()];
    let mut data = vec![Vec::new(); taps.len()];
    for batch in images.chunks(batch_size) {
        let input = preprocess_batch(&backbone.spec().preprocess, batch)?;
        let extracted = backbone
            .extract(input, [batch.len(), 3, side, side], taps, readout, false)
            .with_context(|| format!("forward pass over a batch starting with {}", batch[0].display()))?;
        for (i, tensor) in extracted.taps.into_iter().enumerate() {
            shapes[i] = tensor.shape;
            data[i].extend(tensor.data);
        }
        progress.inc(batch.len() as u64);
    }
    let broken = |tap: usize| format!("features of stage {tap} of `{}`: the weights file may be broken", backbone.spec().name);
    taps.iter()
        .zip(shapes.into_iter().zip(data))
        .map(|(&tap, (shape, values))| {
            let n = images.len();
            if keep_maps {
                let &[_, c, h, w] = shape.as_slice() else { anyhow::bail!("{}: no feature maps (no images?)", broken(tap)) };
                let maps = FeatureMaps::new(n, c, h, w, values).with_context(|| broken(tap))?;
                Ok(TapFeatures { pooled: maps.global_average_pool(), maps: Some(maps) })
            } else {
                let dim = shape.get(1).copied().unwrap_or(0);
                Ok(TapFeatures { pooled: Features::new(n, dim, values).with_context(|| broken(tap))?, maps: None })
            }
        })
        .collect()
}

/// Decodes and preprocesses `paths` in parallel into one `[N, 3, crop, crop]` input.
pub fn preprocess_batch(prep: &Preprocess, paths: &[PathBuf]) -> Result<Vec<f32>> {
    let side = prep.crop as usize;
    let per_image = 3 * side * side;
    let mut input = vec![0.0f32; paths.len() * per_image];
    input
        .par_chunks_mut(per_image)
        .zip(paths.par_iter())
        .try_for_each(|(slot, path)| decode_file(path).map(|pixels| prep.write_chw(&pixels, slot)))?;
    Ok(input)
}
