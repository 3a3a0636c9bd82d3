//! Global models of normality on pooled features `[N, D]`: one vector per image.

use std::fmt;

use rayon::prelude::*;

use crate::covariance::{Shrinkage, ShrunkCovariance};
use crate::error::require;
use crate::linalg::Cholesky;
use crate::model::nearest::NeighbourIndex;
use crate::model::{Distance, Fit, Params, Score};
use crate::{Error, Features, Result};

/// Refuses an empty normal set (every model needs at least one normal image).
pub(crate) fn require_normal_rows(normal_rows: usize) -> Result<()> {
    if normal_rows == 0 {
        return Err(Error::Empty {
            what: "the set of normal training features",
            hint: "a model of normality needs at least one normal image",
        });
    }
    Ok(())
}

pub(crate) fn require_dim(expected: usize, got: usize) -> Result<()> {
    if expected != got {
        return Err(Error::DimensionMismatch { expected, got });
    }
    Ok(())
}

/// The mean of `rows` in `f64`.
pub(crate) fn mean_row<'a>(rows: impl Iterator<Item = &'a [f32]>, dim: usize) -> Vec<f64> {
    let mut mean = vec![0.0f64; dim];
    let mut n = 0usize;
    for row in rows {
        mean.iter_mut().zip(row).for_each(|(m, &v)| *m += v as f64);
        n += 1;
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    mean
}

/// The paper's global model of normality (Aburakhia et al. 2020): the mean of the normal
/// feature vectors; score = distance to it. Spec `mean{distance=cosine|euclidean}`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeanModelParams {
    pub distance: Distance,
}

/// A fitted [`MeanModelParams`].
#[derive(Clone, Debug, PartialEq)]
pub struct MeanModel {
    mean: Vec<f64>,
    distance: Distance,
}

impl MeanModel {
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }
}

impl fmt::Display for MeanModelParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mean{{distance={}}}", self.distance)
    }
}

impl Params for MeanModelParams {
    fn check(&self) -> Result<()> {
        Ok(())
    }
}

impl Fit for MeanModelParams {
    type Model = MeanModel;

    fn fit(&self, normal: &Features) -> Result<MeanModel> {
        require_normal_rows(normal.rows())?;
        Ok(MeanModel { mean: mean_row(normal.iter_rows(), normal.dim()), distance: self.distance })
    }
}

impl Score for MeanModel {
    fn score(&self, features: &Features) -> Result<Vec<f64>> {
        require_dim(self.mean.len(), features.dim())?;
        Ok(features.iter_rows().map(|row| self.distance.between(row, self.mean.as_slice())).collect())
    }
}

/// A multivariate Gaussian of the normal features; score = Mahalanobis distance
/// `√((f − μ)ᵀ Σ⁻¹ (f − μ))`, with `Σ` shrunk (Ledoit–Wolf by default) so that it is
/// invertible even with fewer images than feature dimensions (Rippel et al. 2020, "Modeling the
/// distribution of normal data in pre-trained deep features for anomaly detection").
/// Spec `gaussian{shrinkage=ledoit_wolf|s}`, `s ∈ [0, 1]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GaussianParams {
    pub shrinkage: Shrinkage,
}

impl Default for GaussianParams {
    fn default() -> Self {
        Self { shrinkage: Shrinkage::LedoitWolf }
    }
}

impl fmt::Display for GaussianParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gaussian{{shrinkage={}}}", self.shrinkage)
    }
}

impl Params for GaussianParams {
    fn check(&self) -> Result<()> {
        self.shrinkage.check("gaussian")
    }
}

/// A fitted [`GaussianParams`].
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianModel {
    gaussian: FittedGaussian,
}

impl GaussianModel {
    pub fn mean(&self) -> &[f64] {
        &self.gaussian.mean
    }

    /// The shrinkage coefficient used (estimated, for Ledoit–Wolf).
    pub fn shrinkage(&self) -> f64 {
        self.gaussian.shrinkage
    }
}

impl Fit for GaussianParams {
    type Model = GaussianModel;

    fn fit(&self, normal: &Features) -> Result<GaussianModel> {
        self.check()?;
        require_normal_rows(normal.rows())?;
        let x: Vec<f64> = normal.as_slice().iter().map(|&v| v as f64).collect();
        let gaussian = FittedGaussian::estimate(&x, normal.rows(), normal.dim(), self.shrinkage)
            .map_err(|reason| Error::ModelUndefined { model: self.to_string(), reason })?;
        Ok(GaussianModel { gaussian })
    }
}

impl Score for GaussianModel {
    fn score(&self, features: &Features) -> Result<Vec<f64>> {
        require_dim(self.gaussian.mean.len(), features.dim())?;
        Ok((0..features.rows()).into_par_iter().map(|i| self.gaussian.mahalanobis(features.row(i))).collect())
    }
}

/// Mean, shrinkage and Cholesky factor of a shrunk Gaussian: shared by the global and the
/// per-position models.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FittedGaussian {
    pub mean: Vec<f64>,
    pub shrinkage: f64,
    factor: Cholesky,
}

impl FittedGaussian {
    /// `x`: row-major `n × d` in `f64`; the error says why the covariance cannot be inverted.
    pub fn estimate(x: &[f64], n: usize, d: usize, shrinkage: Shrinkage) -> std::result::Result<Self, String> {
        if n < 2 {
            return Err(format!("a covariance needs at least 2 normal images, got {n}"));
        }
        let ShrunkCovariance { mean, covariance, shrinkage } = ShrunkCovariance::estimate(x, n, d, shrinkage);
        let factor = Cholesky::factor(covariance, d).ok_or_else(|| {
            format!(
                "the covariance (shrinkage {shrinkage}) is singular: {}",
                if shrinkage == 0.0 {
                    "too few normal images for their dimension, or constant features; with 2 images Ledoit–Wolf \
                     estimates no shrinkage: set one above 0, e.g. shrinkage=0.1"
                } else {
                    "the normal features are constant"
                }
            )
        })?;
        Ok(Self { mean, shrinkage, factor })
    }

    pub fn mahalanobis(&self, row: &[f32]) -> f64 {
        let mut v: Vec<f64> = row.iter().zip(&self.mean).map(|(&x, m)| x as f64 - m).collect();
        self.factor.whitened_norm(&mut v)
    }

}

/// k-nearest-neighbour distance to the normal feature vectors: score = mean distance to the `k`
/// nearest (the image-level step of SPADE, Cohen & Hoshen 2020, "Sub-image anomaly detection
/// with deep pyramid correspondences"). Scoring a training image against itself gives 0 for
/// `k = 1`: use held-out images as the normal reference. Spec
/// `knn{k=1,distance=euclidean|cosine}`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KnnParams {
    pub k: usize,
    pub distance: Distance,
}

impl Default for KnnParams {
    fn default() -> Self {
        Self { k: 1, distance: Distance::Euclidean }
    }
}

impl fmt::Display for KnnParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "knn{{k={},distance={}}}", self.k, self.distance)
    }
}

impl Params for KnnParams {
    fn check(&self) -> Result<()> {
        require(self.k >= 1, "knn", "k", self.k, "at least 1")
    }
}

/// A fitted [`KnnParams`]: the normal feature vectors.
#[derive(Clone, Debug, PartialEq)]
pub struct KnnModel {
    index: NeighbourIndex,
    k: usize,
}

impl Fit for KnnParams {
    type Model = KnnModel;

    fn fit(&self, normal: &Features) -> Result<KnnModel> {
        self.check()?;
        require_normal_rows(normal.rows())?;
        require_at_least_k(self, self.k, normal.rows())?;
        Ok(KnnModel { index: NeighbourIndex::new(normal.clone(), self.distance), k: self.k })
    }
}

/// Refuses a `k` above the number of candidate neighbours.
pub(crate) fn require_at_least_k(params: &impl fmt::Display, k: usize, available: usize) -> Result<()> {
    if k > available {
        return Err(Error::ModelUndefined {
            model: params.to_string(),
            reason: format!("k = {k} neighbours asked, but only {available} normal feature vectors to search; lower k"),
        });
    }
    Ok(())
}

impl Score for KnnModel {
    fn score(&self, features: &Features) -> Result<Vec<f64>> {
        self.index.mean_k_nearest(features, self.k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{lw_data, lw_queries};

    fn features(rows: &[&[f32]]) -> Features {
        let dim = rows[0].len();
        Features::new(rows.len(), dim, rows.iter().flat_map(|r| r.iter().copied()).collect()).unwrap()
    }

    #[test]
    fn mean_model_scores_distances_to_the_mean() {
        let train = features(&[&[1.0, 0.0], &[3.0, 0.0]]);
        let test = features(&[&[2.0, 0.0], &[2.0, 3.0], &[0.0, 5.0], &[0.0, 0.0]]);

        let euclid = MeanModelParams { distance: Distance::Euclidean }.fit(&train).unwrap();
        assert_eq!(euclid.mean(), &[2.0, 0.0]);
        assert_eq!(euclid.score(&test).unwrap(), vec![0.0, 3.0, (4.0f64 + 25.0).sqrt(), 2.0]);

        let cosine = MeanModelParams { distance: Distance::Cosine }.fit(&train).unwrap();
        let s = cosine.score(&test).unwrap();
        assert!(s[0].abs() < 1e-15);
        assert!((s[1] - (1.0 - 2.0 / 13f64.sqrt())).abs() < 1e-15);
        assert!((s[2] - 1.0).abs() < 1e-15, "orthogonal vectors are at cosine distance 1");
        assert_eq!(s[3], 1.0, "a zero vector counts as orthogonal");
    }

    #[test]
    fn refuses_empty_training_set_and_wrong_dimension() {
        let empty = Features::new(0, 3, vec![]).unwrap();
        let params = MeanModelParams { distance: Distance::Cosine };
        assert!(matches!(params.fit(&empty), Err(Error::Empty { .. })));
        let model = params.fit(&features(&[&[1.0, 2.0, 3.0]])).unwrap();
        let err = model.score(&features(&[&[1.0, 2.0]])).unwrap_err();
        assert_eq!(err, Error::DimensionMismatch { expected: 3, got: 2 });
        assert!(matches!(GaussianParams::default().fit(&empty), Err(Error::Empty { .. })));
        assert!(matches!(KnnParams::default().fit(&empty), Err(Error::Empty { .. })));
    }

    /// scikit-learn 1.9.1 `LedoitWolf()` on `lw_data`: `shrinkage_` and
    /// `√mahalanobis(lw_queries)` (scripts/dev/normality_references.py).
    #[test]
    fn gaussian_model_is_scikit_learns_ledoit_wolf_mahalanobis() {
        let cases: [(usize, usize, f64, [f64; 3]); 2] = [
            (10, 4, 0.6207519566929303, [1.6430552227885769, 2.8904396456792965, 2.6879354848470554]),
            (5, 8, 0.8074313261879978, [5.07445072014424, 3.85348771696604, 3.1968505218139733]),
        ];
        for (n, d, shrinkage, mahalanobis) in cases {
            let model = GaussianParams::default().fit(&lw_data(n, d)).unwrap();
            assert!((model.shrinkage() - shrinkage).abs() < 1e-12, "n={n} d={d}: {} vs {shrinkage}", model.shrinkage());
            let scores = model.score(&lw_queries(d)).unwrap();
            for (got, want) in scores.iter().zip(mahalanobis) {
                assert!((got - want).abs() < 1e-9 * want, "n={n} d={d}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn gaussian_refuses_bad_shrinkage_too_few_images_and_constant_features() {
        let err = GaussianParams { shrinkage: Shrinkage::Fixed(1.5) }.fit(&lw_data(10, 4)).unwrap_err();
        assert!(err.to_string().contains("gaussian: invalid parameter `shrinkage` = 1.5"), "{err}");
        let err = GaussianParams::default().fit(&lw_data(1, 4)).unwrap_err().to_string();
        assert!(err.contains("at least 2 normal images"), "{err}");
        let constant = Features::new(3, 2, vec![1.0; 6]).unwrap();
        let err = GaussianParams::default().fit(&constant).unwrap_err().to_string();
        assert!(err.contains("singular"), "{err}");
        // Without shrinkage, fewer images than dimensions leave the covariance singular.
        let err = GaussianParams { shrinkage: Shrinkage::Fixed(0.0) }.fit(&lw_data(5, 8)).unwrap_err().to_string();
        assert!(err.contains("e.g. shrinkage=0.1"), "{err}");
    }

    #[test]
    fn knn_scores_the_mean_distance_to_the_k_nearest() {
        let train = features(&[&[0.0], &[1.0], &[3.0], &[10.0]]);
        let test = features(&[&[2.0], &[-1.0]]);
        let one = KnnParams { k: 1, distance: Distance::Euclidean }.fit(&train).unwrap();
        assert_eq!(one.score(&test).unwrap(), vec![1.0, 1.0]);
        let three = KnnParams { k: 3, distance: Distance::Euclidean }.fit(&train).unwrap();
        assert_eq!(three.score(&test).unwrap(), vec![(1.0 + 1.0 + 2.0) / 3.0, (1.0 + 2.0 + 4.0) / 3.0]);
        let err = KnnParams { k: 5, distance: Distance::Euclidean }.fit(&train).unwrap_err().to_string();
        assert!(err.contains("only 4 normal feature vectors"), "{err}");
        let err = KnnParams { k: 0, distance: Distance::Euclidean }.fit(&train).unwrap_err().to_string();
        assert!(err.contains("knn: invalid parameter `k` = 0"), "{err}");
    }
}
