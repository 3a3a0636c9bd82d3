//! Per-position models of normality on feature maps `[N, C, H, W]`: one model per spatial
//! position, fitted on the channel vectors of the normal images at that position, so that a
//! texture defect anywhere raises the map where it is instead of being averaged away by pooling.

use std::fmt;

use rayon::prelude::*;

use crate::covariance::Shrinkage;
use crate::error::require;
use crate::maps::{AnomalyMaps, FeatureMaps};
use crate::model::global::{FittedGaussian, mean_row, require_normal_rows};
use crate::model::{Distance, Fit, Localise, Params};
use crate::{Error, Features, Result};

/// The image score from an anomaly map: the mean of its `m` highest values (`m = 1`: the
/// maximum, as PatchCore; larger `m` trades peak sensitivity for robustness to one noisy
/// position). Spec parameter `top=m`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopMean(pub usize);

impl TopMean {
    pub(crate) fn check(self, owner: &'static str) -> Result<()> {
        require(self.0 >= 1, owner, "top", self.0, "at least 1 (1 = the maximum of the map)")
    }

    /// One score per map; refuses `m` above the map size.
    pub fn reduce(self, maps: &AnomalyMaps) -> Result<Vec<f64>> {
        let m = self.0;
        require(m <= maps.h * maps.w, "image score", "top", m, "at most the number of positions in an anomaly map")?;
        Ok(maps
            .iter_maps()
            .map(|map| {
                let mut values = map.to_vec();
                values.select_nth_unstable_by(m - 1, |a, b| b.total_cmp(a));
                values[..m].iter().sum::<f64>() / m as f64
            })
            .collect())
    }
}

/// Refuses maps whose `[C, H, W]` differ from those fitted (a per-position model has one
/// model per position).
fn require_geometry(expected: [usize; 3], maps: &FeatureMaps) -> Result<()> {
    if maps.geometry() != expected {
        return Err(Error::MapGeometryMismatch { expected, got: maps.geometry() });
    }
    Ok(())
}

/// The map of `value(image, position, channel vector)` over every image and position, images
/// in parallel.
fn map_positions(maps: &FeatureMaps, value: impl Fn(usize, &[f32]) -> f64 + Sync) -> AnomalyMaps {
    let (h, w) = (maps.height(), maps.width());
    let patches = maps.patches();
    let mut data = vec![0.0; maps.images() * h * w];
    data.par_chunks_mut(h * w).enumerate().for_each(|(image, map)| {
        for (p, slot) in map.iter_mut().enumerate() {
            *slot = value(p, patches.row(image * h * w + p));
        }
    });
    AnomalyMaps { n: maps.images(), h, w, data }
}

/// The channel vectors of every image at position `p`, row-major `n × c` in `f64`.
fn at_position(patches: &Features, images: usize, positions: usize, p: usize) -> Vec<f64> {
    (0..images).flat_map(|i| patches.row(i * positions + p).iter().map(|&v| v as f64)).collect()
}

/// The mean feature map of the normal images; the anomaly map is the distance of each position's
/// channel vector to the mean vector at that position. The spatial counterpart of the paper's
/// mean model (a position-wise "mean map"). Spec `position_mean{distance=euclidean|cosine,top=1}`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PositionMeanParams {
    pub distance: Distance,
    pub top: TopMean,
}

impl Default for PositionMeanParams {
    fn default() -> Self {
        Self { distance: Distance::Euclidean, top: TopMean(1) }
    }
}

impl fmt::Display for PositionMeanParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "position_mean{{distance={},top={}}}", self.distance, self.top.0)
    }
}

impl Params for PositionMeanParams {
    fn check(&self) -> Result<()> {
        self.top.check("position_mean")
    }
}

/// A fitted [`PositionMeanParams`].
#[derive(Clone, Debug, PartialEq)]
pub struct PositionMeanModel {
    geometry: [usize; 3],
    /// Per position, the mean channel vector.
    means: Vec<Vec<f64>>,
    distance: Distance,
    top: TopMean,
}

impl Fit<FeatureMaps> for PositionMeanParams {
    type Model = PositionMeanModel;

    fn fit(&self, normal: &FeatureMaps) -> Result<PositionMeanModel> {
        self.check()?;
        require_normal_rows(normal.images())?;
        let positions = normal.height() * normal.width();
        let patches = normal.patches();
        let means = (0..positions)
            .map(|p| mean_row((0..normal.images()).map(|i| patches.row(i * positions + p)), normal.channels()))
            .collect();
        Ok(PositionMeanModel { geometry: normal.geometry(), means, distance: self.distance, top: self.top })
    }
}

impl Localise for PositionMeanModel {
    fn anomaly_maps(&self, maps: &FeatureMaps) -> Result<AnomalyMaps> {
        require_geometry(self.geometry, maps)?;
        Ok(map_positions(maps, |p, v| self.distance.between(v, self.means[p].as_slice())))
    }

    fn image_score(&self) -> TopMean {
        self.top
    }
}

/// A Gaussian per position, as PaDiM (Defard et al. 2021, "PaDiM: a patch distribution modeling
/// framework for anomaly detection and localization"); the anomaly map is the Mahalanobis
/// distance of each position's channel vector. PaDiM regularises with `+0.01·I`; here the
/// covariance is shrunk (Ledoit–Wolf by default, see [`Shrinkage`]), scale-free and invertible
/// with fewer images than channels. PaDiM's random channel subset is left to the caller.
/// Spec `position_gaussian{shrinkage=ledoit_wolf|s,top=1}`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PositionGaussianParams {
    pub shrinkage: Shrinkage,
    pub top: TopMean,
}

impl Default for PositionGaussianParams {
    fn default() -> Self {
        Self { shrinkage: Shrinkage::LedoitWolf, top: TopMean(1) }
    }
}

impl fmt::Display for PositionGaussianParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "position_gaussian{{shrinkage={},top={}}}", self.shrinkage, self.top.0)
    }
}

impl Params for PositionGaussianParams {
    fn check(&self) -> Result<()> {
        self.shrinkage.check("position_gaussian")?;
        self.top.check("position_gaussian")
    }
}

/// A fitted [`PositionGaussianParams`].
#[derive(Clone, Debug, PartialEq)]
pub struct PositionGaussianModel {
    geometry: [usize; 3],
    gaussians: Vec<FittedGaussian>,
    top: TopMean,
}

impl PositionGaussianModel {
    /// The shrinkage coefficient used at each position (row-major `H × W`).
    pub fn shrinkages(&self) -> Vec<f64> {
        self.gaussians.iter().map(|g| g.shrinkage).collect()
    }
}

impl Fit<FeatureMaps> for PositionGaussianParams {
    type Model = PositionGaussianModel;

    fn fit(&self, normal: &FeatureMaps) -> Result<PositionGaussianModel> {
        self.check()?;
        require_normal_rows(normal.images())?;
        let (n, c) = (normal.images(), normal.channels());
        let positions = normal.height() * normal.width();
        let patches = normal.patches();
        // Collected before the first error is taken, so that the error names the same (first)
        // position whichever thread finished first.
        let fitted: Vec<_> = (0..positions)
            .into_par_iter()
            .map(|p| FittedGaussian::estimate(&at_position(&patches, n, positions, p), n, c, self.shrinkage))
            .collect();
        let gaussians = fitted
            .into_iter()
            .enumerate()
            .map(|(p, fitted)| {
                fitted.map_err(|reason| Error::ModelUndefined { model: self.to_string(), reason: format!("at position {p} (row-major): {reason}") })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(PositionGaussianModel { geometry: normal.geometry(), gaussians, top: self.top })
    }
}

impl Localise for PositionGaussianModel {
    fn anomaly_maps(&self, maps: &FeatureMaps) -> Result<AnomalyMaps> {
        require_geometry(self.geometry, maps)?;
        Ok(map_positions(maps, |p, v| self.gaussians[p].mahalanobis(v)))
    }

    fn image_score(&self) -> TopMean {
        self.top
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Score;

    /// `n` images of `c` channels on a 2 × 3 grid: normal images vary a little around a
    /// position-dependent pattern; `defect` adds a bump at position (1, 2).
    fn maps(n: usize, c: usize, seed: usize, defect: bool) -> FeatureMaps {
        let (h, w) = (2, 3);
        let mut data = Vec::with_capacity(n * c * h * w);
        for i in 0..n {
            for ch in 0..c {
                for p in 0..h * w {
                    let wobble = (((i + seed) * 31 + ch * 7 + p * 13) % 17) as f32 / 17.0 - 0.5;
                    let bump = if defect && p == 5 { 4.0 } else { 0.0 };
                    data.push((p * (ch + 1)) as f32 + 0.3 * wobble + bump);
                }
            }
        }
        FeatureMaps::new(n, c, h, w, data).unwrap()
    }

    #[test]
    fn top_mean_averages_the_highest_values() {
        let maps = AnomalyMaps { n: 2, h: 1, w: 4, data: vec![1.0, 4.0, 2.0, 3.0, 0.0, 0.0, 5.0, 0.0] };
        assert_eq!(TopMean(1).reduce(&maps).unwrap(), vec![4.0, 5.0]);
        assert_eq!(TopMean(2).reduce(&maps).unwrap(), vec![3.5, 2.5]);
        assert!(TopMean(5).reduce(&maps).unwrap_err().to_string().contains("`top` = 5"));
    }

    #[test]
    fn position_mean_maps_distances_to_the_mean_map() {
        let train = FeatureMaps::new(2, 1, 1, 2, vec![0.0, 2.0, 2.0, 4.0]).unwrap(); // mean map [1, 3]
        let test = FeatureMaps::new(1, 1, 1, 2, vec![1.5, 0.0]).unwrap();
        let model = PositionMeanParams::default().fit(&train).unwrap();
        let a = model.anomaly_maps(&test).unwrap();
        assert_eq!((a.n, a.h, a.w, a.data.clone()), (1, 1, 2, vec![0.5, 3.0]));
        assert_eq!(model.score(&test).unwrap(), vec![3.0]);
        let top2 = PositionMeanParams { top: TopMean(2), ..Default::default() }.fit(&train).unwrap();
        assert_eq!(top2.score(&test).unwrap(), vec![1.75]);
    }

    #[test]
    fn per_position_models_light_up_where_the_defect_is() {
        let train = maps(12, 3, 0, false);
        let good = maps(2, 3, 100, false);
        let bad = maps(2, 3, 100, true);
        for localise in [
            &PositionMeanParams::default().fit(&train).unwrap() as &dyn Localise,
            &PositionGaussianParams::default().fit(&train).unwrap(),
        ] {
            let a = localise.anomaly_maps(&bad).unwrap();
            for map in a.iter_maps() {
                let hottest = (0..6).max_by(|&x, &y| map[x].total_cmp(&map[y])).unwrap();
                assert_eq!(hottest, 5, "{map:?}");
            }
            let (good_scores, bad_scores) = (
                localise.image_score().reduce(&localise.anomaly_maps(&good).unwrap()).unwrap(),
                localise.image_score().reduce(&a).unwrap(),
            );
            assert!(bad_scores.iter().all(|b| good_scores.iter().all(|g| b > g)), "{good_scores:?} {bad_scores:?}");
        }
    }

    #[test]
    fn per_position_models_refuse_other_geometries_and_constant_positions() {
        let model = PositionMeanParams::default().fit(&maps(3, 2, 0, false)).unwrap();
        let other = FeatureMaps::new(1, 2, 3, 2, vec![0.0; 12]).unwrap();
        assert_eq!(model.anomaly_maps(&other).unwrap_err(), Error::MapGeometryMismatch { expected: [2, 2, 3], got: [2, 3, 2] });
        let constant = FeatureMaps::new(3, 2, 1, 2, vec![1.0; 12]).unwrap();
        let err = PositionGaussianParams::default().fit(&constant).unwrap_err().to_string();
        assert!(err.contains("at position 0") && err.contains("singular"), "{err}");
        let err = PositionGaussianParams { top: TopMean(0), ..Default::default() }.fit(&constant).unwrap_err().to_string();
        assert!(err.contains("position_gaussian: invalid parameter `top` = 0"), "{err}");
    }
}
