//! Images → features at every requested tap, batch by batch: files are decoded and
//! preprocessed in parallel, then one forward pass per batch serves all taps. Features travel
//! per image (so that the cache can key them by image content) and are assembled per tap.

use std::path::PathBuf;

use anyhow::{Context, Result};
use indicatif::ProgressBar;
use mon_backbone::image::decode_file;
use mon_backbone::preprocess::Preprocess;
use mon_backbone::{Backbone, Readout};
use mon_normality::model::{InputKind, ModelInput};
use mon_normality::{FeatureMaps, Features};
use rayon::prelude::*;

use crate::cache::CachedTensor;

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
        TapFeatures {
            pooled: self.pooled.select(indices),
            maps: self.maps.as_ref().map(|m| m.select(indices)),
        }
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

/// Features of stages `taps` for every image, in order: per tap, one tensor per image
/// (`[D]` average-pooled, or `[C, H, W]` maps when `keep_maps`), ready for the cache.
pub fn extract_images(
    backbone: &Backbone,
    taps: &[usize],
    keep_maps: bool,
    images: &[PathBuf],
    batch_size: usize,
    progress: &ProgressBar,
) -> Result<Vec<Vec<CachedTensor>>> {
    let side = backbone.spec().preprocess.crop as usize;
    let readout = if keep_maps {
        Readout::Map { grid: None }
    } else {
        Readout::AVG
    };
    let mut per_tap = vec![Vec::with_capacity(images.len()); taps.len()];
    for batch in images.chunks(batch_size) {
        let input = preprocess_batch(&backbone.spec().preprocess, batch)?;
        let extracted = backbone
            .extract(input, [batch.len(), 3, side, side], taps, readout, false)
            .with_context(|| {
                format!(
                    "forward pass over a batch starting with {}",
                    batch[0].display()
                )
            })?;
        for (tensors, tensor) in per_tap.iter_mut().zip(extracted.taps) {
            let shape = tensor.shape[1..].to_vec();
            let per_image = shape.iter().product::<usize>();
            tensors.extend(
                tensor
                    .data
                    .chunks_exact(per_image.max(1))
                    .map(|data| CachedTensor {
                        shape: shape.clone(),
                        data: data.to_vec(),
                    }),
            );
        }
        progress.inc(batch.len() as u64);
    }
    Ok(per_tap)
}

/// One tap's per-image tensors as model input; maps also give their average-pooled vectors.
pub fn assemble(tensors: &[&CachedTensor], keep_maps: bool, what: &str) -> Result<TapFeatures> {
    let shape = tensors.first().map(|t| t.shape.clone()).unwrap_or_default();
    if let Some(odd) = tensors.iter().find(|t| t.shape != shape) {
        anyhow::bail!(
            "{what}: images have features of different shapes ({:?} and {:?}); clear the cache entry (`mon cache prune --all`)",
            shape,
            odd.shape
        );
    }
    let data: Vec<f32> = tensors
        .iter()
        .flat_map(|t| t.data.iter().copied())
        .collect();
    let n = tensors.len();
    match (keep_maps, shape.as_slice()) {
        (true, &[c, h, w]) => {
            let maps = FeatureMaps::new(n, c, h, w, data).with_context(|| what.to_string())?;
            Ok(TapFeatures {
                pooled: maps.global_average_pool(),
                maps: Some(maps),
            })
        }
        (false, &[dim]) => Ok(TapFeatures {
            pooled: Features::new(n, dim, data).with_context(|| what.to_string())?,
            maps: None,
        }),
        _ => anyhow::bail!(
            "{what}: features of shape {shape:?} do not fit {} (no images?)",
            if keep_maps {
                "maps [C, H, W]"
            } else {
                "pooled vectors [D]"
            }
        ),
    }
}

/// Decodes and preprocesses `paths` in parallel into one `[N, 3, crop, crop]` input.
pub fn preprocess_batch(prep: &Preprocess, paths: &[PathBuf]) -> Result<Vec<f32>> {
    let side = prep.crop as usize;
    let per_image = 3 * side * side;
    let mut input = vec![0.0f32; paths.len() * per_image];
    input
        .par_chunks_mut(per_image)
        .zip(paths.par_iter())
        .try_for_each(|(slot, path)| {
            decode_file(path).map(|pixels| prep.write_chw(&pixels, slot))
        })?;
    Ok(input)
}
