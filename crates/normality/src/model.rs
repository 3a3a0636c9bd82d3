//! Models of normality: fitted on features of normal images, they score any features
//! (higher = more anomalous).

use std::fmt;
use std::str::FromStr;

use crate::{Error, Features, Result};

/// Learning a model of normality from normal features.
pub trait Fit {
    type Model: Score;
    fn fit(&self, normal: &Features) -> Result<Self::Model>;
}

/// Scoring features against a fitted model of normality; higher = more anomalous.
pub trait Score {
    fn score(&self, features: &Features) -> Result<Vec<f64>>;
}

/// How far a feature vector lies from a reference vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Distance {
    /// `1 − cos(f, m)`; a zero vector counts as orthogonal (distance 1), as in scikit-learn.
    Cosine,
    /// `‖f − m‖₂`.
    Euclidean,
}

impl Distance {
    pub const ALL: [Distance; 2] = [Distance::Cosine, Distance::Euclidean];

    pub fn name(self) -> &'static str {
        match self {
            Distance::Cosine => "cosine",
            Distance::Euclidean => "euclidean",
        }
    }

    /// Distance between a feature row and a reference, accumulated in `f64`.
    pub fn between(self, features: &[f32], reference: &[f64]) -> f64 {
        debug_assert_eq!(features.len(), reference.len());
        match self {
            Distance::Cosine => {
                let (mut dot, mut ff, mut rr) = (0.0, 0.0, 0.0);
                for (&f, &r) in features.iter().zip(reference) {
                    let f = f as f64;
                    dot += f * r;
                    ff += f * f;
                    rr += r * r;
                }
                if ff == 0.0 || rr == 0.0 { 1.0 } else { 1.0 - dot / (ff.sqrt() * rr.sqrt()) }
            }
            Distance::Euclidean => features
                .iter()
                .zip(reference)
                .map(|(&f, &r)| (f as f64 - r).powi(2))
                .sum::<f64>()
                .sqrt(),
        }
    }
}

impl fmt::Display for Distance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Distance {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Distance::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| format!("unknown score `{s}`: expected one of cosine, euclidean"))
    }
}

/// The paper's global model of normality: the mean of the normal feature vectors.
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

impl Fit for MeanModelParams {
    type Model = MeanModel;

    fn fit(&self, normal: &Features) -> Result<MeanModel> {
        if normal.rows() == 0 {
            return Err(Error::Empty {
                what: "the set of normal training features",
                hint: "a model of normality needs at least one normal image",
            });
        }
        let mut mean = vec![0.0f64; normal.dim()];
        for row in normal.iter_rows() {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += v as f64;
            }
        }
        let n = normal.rows() as f64;
        mean.iter_mut().for_each(|m| *m /= n);
        Ok(MeanModel { mean, distance: self.distance })
    }
}

impl Score for MeanModel {
    fn score(&self, features: &Features) -> Result<Vec<f64>> {
        if features.dim() != self.mean.len() {
            return Err(Error::DimensionMismatch { expected: self.mean.len(), got: features.dim() });
        }
        Ok(features.iter_rows().map(|row| self.distance.between(row, &self.mean)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn distance_names_round_trip() {
        for d in Distance::ALL {
            assert_eq!(d.name().parse::<Distance>().unwrap(), d);
        }
        assert!("manhattan".parse::<Distance>().unwrap_err().contains("cosine, euclidean"));
    }
}
