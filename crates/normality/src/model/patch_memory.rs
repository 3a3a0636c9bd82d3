//! A memory bank of normal patch features with nearest-neighbour scoring (PatchCore), the
//! memory capped by a seeded coreset.

use std::fmt;
use std::str::FromStr;

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

use crate::error::require;
use crate::linalg::{View, product_into};
use crate::maps::{AnomalyMaps, FeatureMaps};
use crate::model::global::{require_at_least_k, require_dim, require_normal_rows};
use crate::model::nearest::{NeighbourIndex, unit_length};
use crate::model::spatial::TopMean;
use crate::model::{Distance, Fit, Localise, Params};
use crate::{Features, Result};

/// How to choose which patches the memory keeps when there are more than it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coreset {
    /// A seeded uniform sample without replacement.
    Random,
    /// PatchCore's greedy k-center coreset (Sener & Savarese 2018): start from a seeded random
    /// patch, then repeatedly add the patch farthest from those kept, so that rare normal
    /// patterns survive the subsampling. `O(patches × kept)` distance evaluations.
    Greedy,
}

impl Coreset {
    pub fn name(self) -> &'static str {
        match self {
            Coreset::Random => "random",
            Coreset::Greedy => "greedy",
        }
    }
}

impl FromStr for Coreset {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        [Coreset::Random, Coreset::Greedy]
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("unknown coreset `{s}`: expected random or greedy"))
    }
}

/// Patch memory with nearest-neighbour scoring, as PatchCore (Roth et al. 2022, "Towards total
/// recall in industrial anomaly detection"), with SPADE's `k` (Cohen & Hoshen 2020): every
/// position of every normal image is a memory patch (its channel vector); the anomaly map at a
/// test position is the mean distance to its `k` nearest memory patches, the image score
/// [`TopMean`] of the map (PatchCore: the maximum, `top=1`). PatchCore's neighbourhood
/// aggregation and re-weighting are not applied: the map is at feature-map resolution.
///
/// The memory keeps at most `memory` patches, chosen by `coreset`; the greedy coreset measures
/// distances on a seeded random projection to `projection` dimensions when the channels exceed
/// it (PatchCore projects to 128; 0 = never), but the memory keeps the full channel vectors.
/// Spec `patch_knn{k=1,distance=euclidean|cosine,memory=10000,coreset=greedy|random,projection=128,seed=0,top=1}`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PatchKnnParams {
    pub k: usize,
    pub distance: Distance,
    pub memory: usize,
    pub coreset: Coreset,
    pub projection: usize,
    pub seed: u64,
    pub top: TopMean,
}

impl Default for PatchKnnParams {
    fn default() -> Self {
        Self { k: 1, distance: Distance::Euclidean, memory: 10_000, coreset: Coreset::Greedy, projection: 128, seed: 0, top: TopMean(1) }
    }
}

impl fmt::Display for PatchKnnParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "patch_knn{{k={},distance={},memory={},coreset={},projection={},seed={},top={}}}",
            self.k,
            self.distance,
            self.memory,
            self.coreset.name(),
            self.projection,
            self.seed,
            self.top.0
        )
    }
}

impl Params for PatchKnnParams {
    fn check(&self) -> Result<()> {
        require(self.k >= 1, "patch_knn", "k", self.k, "at least 1")?;
        require(self.memory >= 1, "patch_knn", "memory", self.memory, "at least 1 patch (10000 is typical)")?;
        self.top.check("patch_knn")
    }
}

/// A fitted [`PatchKnnParams`]: the memory of normal patches.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchKnnModel {
    index: NeighbourIndex,
    channels: usize,
    k: usize,
    top: TopMean,
}

impl PatchKnnModel {
    /// Patches kept in the memory.
    pub fn memory_len(&self) -> usize {
        self.index.len()
    }
}

impl Fit<FeatureMaps> for PatchKnnParams {
    type Model = PatchKnnModel;

    fn fit(&self, normal: &FeatureMaps) -> Result<PatchKnnModel> {
        self.check()?;
        require_normal_rows(normal.images())?;
        let patches = normal.patches();
        let memory = if patches.rows() <= self.memory {
            patches
        } else {
            let kept = match self.coreset {
                Coreset::Random => {
                    let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
                    let mut kept = rand::seq::index::sample(&mut rng, patches.rows(), self.memory).into_vec();
                    kept.sort_unstable();
                    kept
                }
                Coreset::Greedy => greedy_coreset(&patches, self.memory, self.distance, self.projection, self.seed),
            };
            patches.select(&kept)
        };
        require_at_least_k(self, self.k, memory.rows())?;
        Ok(PatchKnnModel { index: NeighbourIndex::new(memory, self.distance), channels: normal.channels(), k: self.k, top: self.top })
    }
}

impl Localise for PatchKnnModel {
    fn anomaly_maps(&self, maps: &FeatureMaps) -> Result<AnomalyMaps> {
        require_dim(self.channels, maps.channels())?;
        let data = self.index.mean_k_nearest(&maps.patches(), self.k)?;
        Ok(AnomalyMaps { n: maps.images(), h: maps.height(), w: maps.width(), data })
    }

    fn image_score(&self) -> TopMean {
        self.top
    }
}

/// Patches per parallel task of the greedy update.
const GREEDY_CHUNK: usize = 4096;

/// Greedy k-center selection of `keep` rows (`keep < rows`), in order of selection; stops
/// early when every remaining row duplicates a kept one. Distances are squared Euclidean on the
/// searched rows (unit vectors for cosine), randomly projected when wider than `projection`.
fn greedy_coreset(patches: &Features, keep: usize, distance: Distance, projection: usize, seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (rows, dim) = (patches.rows(), patches.dim());
    let mut points = match distance {
        Distance::Euclidean => patches.as_slice().to_vec(),
        Distance::Cosine => unit_length(patches),
    };
    let mut width = dim;
    if projection > 0 && projection < dim {
        points = project(&points, rows, dim, projection, &mut rng);
        width = projection;
    }
    let norms: Vec<f32> = points.chunks_exact(width).map(|p| p.iter().map(|v| v * v).sum()).collect();
    let mut nearest_kept = vec![f32::INFINITY; rows];
    let mut kept = vec![rng.random_range(0..rows)];
    while kept.len() < keep {
        let centre_index = kept[kept.len() - 1];
        let centre = &points[centre_index * width..(centre_index + 1) * width];
        let centre_norm = norms[centre_index];
        // Update each patch's squared distance to the kept set with the newest centre (one
        // matrix-vector product per chunk), and find the farthest patch; ties go to the lowest
        // index, so the result does not depend on the thread count.
        let (farthest, index) = nearest_kept
            .par_chunks_mut(GREEDY_CHUNK)
            .enumerate()
            .map(|(chunk, nearest)| {
                let first = chunk * GREEDY_CHUNK;
                let block = View::row_major(&points[first * width..(first + nearest.len()) * width], nearest.len(), width);
                let mut dots = vec![0.0f32; nearest.len()];
                product_into(block, View::row_major(centre, width, 1), 1.0, &mut dots);
                let mut best = (f32::NEG_INFINITY, usize::MAX);
                for (i, (d, dot)) in nearest.iter_mut().zip(dots).enumerate() {
                    *d = d.min((norms[first + i] + centre_norm - 2.0 * dot).max(0.0));
                    if *d > best.0 {
                        best = (*d, first + i);
                    }
                }
                best
            })
            .reduce(|| (f32::NEG_INFINITY, usize::MAX), |a, b| if b.0 > a.0 || (b.0 == a.0 && b.1 < a.1) { b } else { a });
        if farthest <= 0.0 {
            break;
        }
        kept.push(index);
    }
    kept.sort_unstable();
    kept
}

/// `points · R` for a seeded `dim × width` matrix of `±1/√width` (Achlioptas 2003): distances
/// are kept up to a small relative error (Johnson–Lindenstrauss).
fn project(points: &[f32], rows: usize, dim: usize, width: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let scale = 1.0 / (width as f32).sqrt();
    let matrix: Vec<f32> = (0..dim * width).map(|_| if rng.random::<bool>() { scale } else { -scale }).collect();
    let mut out = vec![0.0f32; rows * width];
    out.par_chunks_mut(GREEDY_CHUNK * width).enumerate().for_each(|(chunk, out)| {
        let n = out.len() / width;
        let first = chunk * GREEDY_CHUNK;
        let block = View::row_major(&points[first * dim..(first + n) * dim], n, dim);
        product_into(block, View::row_major(&matrix, dim, width), 1.0, out);
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Score;

    fn grid_maps(n: usize, c: usize, h: usize, w: usize, f: impl Fn(usize, usize, usize) -> f32) -> FeatureMaps {
        let data = (0..n).flat_map(|i| (0..c).flat_map(move |ch| (0..h * w).map(move |p| (i, ch, p)))).map(|(i, ch, p)| f(i, ch, p));
        FeatureMaps::new(n, c, h, w, data.collect()).unwrap()
    }

    #[test]
    fn scores_are_distances_to_the_nearest_normal_patch() {
        // One normal image with patches (0, 0) and (10, 0); test patches (1, 0) and (10, 3).
        let train = FeatureMaps::new(1, 2, 1, 2, vec![0.0, 10.0, 0.0, 0.0]).unwrap();
        let test = FeatureMaps::new(1, 2, 1, 2, vec![1.0, 10.0, 0.0, 3.0]).unwrap();
        let model = PatchKnnParams::default().fit(&train).unwrap();
        let maps = model.anomaly_maps(&test).unwrap();
        assert_eq!(maps.data, vec![1.0, 3.0]);
        assert_eq!(model.score(&test).unwrap(), vec![3.0]);
        let err = model.anomaly_maps(&FeatureMaps::new(1, 3, 1, 1, vec![0.0; 3]).unwrap()).unwrap_err();
        assert_eq!(err, crate::Error::DimensionMismatch { expected: 2, got: 3 });
    }

    #[test]
    fn greedy_coreset_keeps_isolated_patches_that_random_sampling_drops() {
        // 400 patches on a tight cluster and 3 far outliers: a 10-patch greedy coreset keeps
        // all outliers, and so scores an outlier-like test patch 0.
        let normal = grid_maps(4, 2, 10, 10, |i, ch, p| {
            let outlier = i == 3 && p < 3;
            if outlier { 100.0 * (p + 1) as f32 * (ch as f32 + 1.0) } else { ((i * 100 + p) % 7) as f32 * 0.01 }
        });
        let greedy = PatchKnnParams { memory: 10, ..Default::default() }.fit(&normal).unwrap();
        assert_eq!(greedy.memory_len(), 10);
        let far = FeatureMaps::new(1, 2, 1, 1, vec![300.0, 600.0]).unwrap();
        assert_eq!(greedy.score(&far).unwrap(), vec![0.0]);
        let random = PatchKnnParams { memory: 10, coreset: Coreset::Random, ..Default::default() }.fit(&normal).unwrap();
        assert!(random.score(&far).unwrap()[0] > 100.0, "a random sample of 10 of 400 misses the 3 outliers");
    }

    #[test]
    fn coresets_are_seeded_and_stop_at_duplicates() {
        let normal = grid_maps(3, 4, 6, 6, |i, ch, p| ((i * 131 + ch * 17 + p * 7) % 23) as f32);
        let patches = normal.patches();
        let a = greedy_coreset(&patches, 20, Distance::Euclidean, 0, 1);
        assert_eq!(a, greedy_coreset(&patches, 20, Distance::Euclidean, 0, 1));
        assert_eq!(a.len(), 20);
        let projected = greedy_coreset(&patches, 20, Distance::Euclidean, 2, 1);
        assert_eq!(projected.len(), 20);
        let duplicates = Features::new(6, 1, vec![1.0, 1.0, 2.0, 2.0, 1.0, 2.0]).unwrap();
        assert_eq!(greedy_coreset(&duplicates, 4, Distance::Euclidean, 0, 0).len(), 2);
    }

    /// Greedy coreset on the raw space: each chosen patch was the farthest from the earlier ones.
    #[test]
    fn greedy_coreset_follows_the_farthest_point_rule() {
        let points: Vec<f32> = vec![0.0, 1.0, 2.0, 10.0, 11.0, 5.0];
        let features = Features::new(6, 1, points.clone()).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let start = rng.random_range(0..6);
        let kept = greedy_coreset(&features, 3, Distance::Euclidean, 0, 3);
        // Reproduce the selection by brute force from the same start.
        let mut want = vec![start];
        while want.len() < 3 {
            let far = (0..6)
                .max_by(|&a, &b| {
                    let d = |i: usize| want.iter().map(|&k: &usize| (points[i] - points[k]).abs()).fold(f32::INFINITY, f32::min);
                    d(a).total_cmp(&d(b)).then(b.cmp(&a))
                })
                .unwrap();
            want.push(far);
        }
        want.sort_unstable();
        assert_eq!(kept, want);
    }

    #[test]
    fn refuses_bad_parameters() {
        let normal = FeatureMaps::new(1, 1, 1, 2, vec![0.0, 1.0]).unwrap();
        for (params, expected) in [
            (PatchKnnParams { k: 0, ..Default::default() }, "`k` = 0"),
            (PatchKnnParams { memory: 0, ..Default::default() }, "`memory` = 0"),
            (PatchKnnParams { top: TopMean(0), ..Default::default() }, "`top` = 0"),
            (PatchKnnParams { k: 3, ..Default::default() }, "only 2 normal feature vectors"),
        ] {
            let err = params.fit(&normal).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
    }
}
