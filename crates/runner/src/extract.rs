//! Images → pooled features, batch by batch: files are decoded and preprocessed in parallel,
//! then the batch goes through the backbone.

use std::path::PathBuf;

use anyhow::{Context, Result};
use indicatif::ProgressBar;
use mon_backbone::preprocess::Preprocess;
use mon_backbone::{Backbone, Readout};
use mon_backbone::image::decode_file;
use mon_normality::Features;
use rayon::prelude::*;

/// Average-pooled features of stage `tap` for every image, in order.
pub fn pooled_features(backbone: &Backbone, tap: usize, images: &[PathBuf], batch_size: usize, progress: &ProgressBar) -> Result<Features> {
    let side = backbone.spec().preprocess.crop as usize;
    let mut dim = 0;
    let mut data = Vec::new();
    for batch in images.chunks(batch_size) {
        let input = preprocess_batch(&backbone.spec().preprocess, batch)?;
        let extracted = backbone
            .extract(input, [batch.len(), 3, side, side], &[tap], Readout::AVG, false)
            .with_context(|| format!("forward pass over a batch starting with {}", batch[0].display()))?;
        let pooled = extracted.taps.into_iter().next().expect("one tap requested");
        dim = pooled.shape[1];
        data.extend(pooled.data);
        progress.inc(batch.len() as u64);
    }
    Features::new(images.len(), dim, data).with_context(|| {
        format!("features of stage {tap} of `{}`: the weights file may be broken", backbone.spec().name)
    })
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
