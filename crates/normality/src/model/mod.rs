//! Models of normality: fitted on features of normal images, they score any features
//! (higher = more anomalous).
//!
//! Linfa-style: a parameter struct (e.g. [`KnnParams`]) is checked in its `check` method and
//! fitted with [`Fit`]; the fitted model scores with [`Score`]. Global models take pooled
//! features [`Features`] `[N, D]`; spatial models take [`FeatureMaps`] `[N, C, H, W]` and also
//! give anomaly maps ([`Localise`]). [`parse_model`] builds any of them from a spec string for
//! configuration files, behind the object-safe [`NormalityModel`].

mod global;
mod nearest;
mod patch_memory;
mod registry;
mod spatial;

use std::fmt;
use std::str::FromStr;

pub use global::{GaussianModel, GaussianParams, KnnModel, KnnParams, MeanModel, MeanModelParams};
pub use patch_memory::{Coreset, PatchKnnModel, PatchKnnParams};
pub use registry::{FittedNormality, InputKind, ModelInput, MODEL_SYNTAX, NormalityModel, Scored, parse_model};
pub use spatial::{PositionGaussianModel, PositionGaussianParams, PositionMeanModel, PositionMeanParams, TopMean};

pub use crate::covariance::Shrinkage;
use crate::maps::{AnomalyMaps, FeatureMaps};
use crate::{Features, Result};

/// Learning a model of normality from normal features (`X`: [`Features`] or [`FeatureMaps`]).
pub trait Fit<X = Features> {
    type Model: Score<X>;
    fn fit(&self, normal: &X) -> Result<Self::Model>;
}

/// Scoring features against a fitted model of normality; higher = more anomalous.
pub trait Score<X = Features> {
    fn score(&self, features: &X) -> Result<Vec<f64>>;
}

/// A parameter struct: its `Display` is the spec that [`parse_model`] reads back, and `check`
/// is the one place its values are validated (`fit` runs it first).
pub trait Params: fmt::Display {
    fn check(&self) -> Result<()>;
}

/// A spatial model: an anomaly map per image, `[N, H, W]`, whose image score is the map reduced
/// by [`Localise::image_score`]; [`Score`] on [`FeatureMaps`] follows.
pub trait Localise {
    fn anomaly_maps(&self, maps: &FeatureMaps) -> Result<AnomalyMaps>;
    fn image_score(&self) -> TopMean;
}

impl<M: Localise> Score<FeatureMaps> for M {
    fn score(&self, maps: &FeatureMaps) -> Result<Vec<f64>> {
        self.image_score().reduce(&self.anomaly_maps(maps)?)
    }
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

    /// Distance between a feature row and a reference (`f32` or `f64`), accumulated in `f64`.
    pub fn between<R: Copy + Into<f64>>(self, features: &[f32], reference: &[R]) -> f64 {
        debug_assert_eq!(features.len(), reference.len());
        let pairs = features.iter().zip(reference).map(|(&f, &r)| (f as f64, r.into()));
        match self {
            Distance::Cosine => {
                let (mut dot, mut ff, mut rr) = (0.0, 0.0, 0.0);
                for (f, r) in pairs {
                    dot += f * r;
                    ff += f * f;
                    rr += r * r;
                }
                if ff == 0.0 || rr == 0.0 { 1.0 } else { 1.0 - dot / (ff.sqrt() * rr.sqrt()) }
            }
            Distance::Euclidean => pairs.map(|(f, r)| (f - r).powi(2)).sum::<f64>().sqrt(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_names_round_trip() {
        for d in Distance::ALL {
            assert_eq!(d.name().parse::<Distance>().unwrap(), d);
        }
        assert!("manhattan".parse::<Distance>().unwrap_err().contains("cosine, euclidean"));
    }

    #[test]
    fn distances_take_f32_or_f64_references() {
        assert_eq!(Distance::Euclidean.between(&[3.0, 0.0], &[0.0f32, 4.0]), 5.0);
        assert_eq!(Distance::Euclidean.between(&[3.0, 0.0], &[0.0f64, 4.0]), 5.0);
        assert_eq!(Distance::Cosine.between(&[1.0, 0.0], &[0.0f32, 0.0]), 1.0);
        assert!(Distance::Cosine.between(&[1.0, 1.0], &[2.0f64, 2.0]).abs() < 1e-15);
    }
}
