//! One grid cell's expensive part: fit a model of normality on the normal training features
//! and score the held-out normal images and the test images. Measuring the scores (threshold
//! rules, metrics) is the report's job, so that `mon report` can redo it from `scores.csv`.

use anyhow::{Context, Result};
use mon_normality::AnomalyMaps;
use mon_normality::split::HoldOut;

use crate::cache::CellScores;
use crate::experiment::ModelChoice;
use crate::extract::TapFeatures;

/// `train` holds every `train/good` image's features; `split` says which fit the model and
/// which are held out. With no held-out rows, the fitted rows themselves are the normal
/// reference. Spatial models also return the test images' anomaly maps.
pub fn score_cell(
    train: &TapFeatures,
    split: &HoldOut,
    test: &TapFeatures,
    choice: &ModelChoice,
) -> Result<(CellScores, Option<AnomalyMaps>)> {
    let reference_rows = if split.validation.is_empty() {
        &split.fit
    } else {
        &split.validation
    };
    let kind = choice.model.input();
    let fitted = choice
        .model
        .fit(train.select(&split.fit).input(kind))
        .with_context(|| format!("fitting `{}`", choice.label))?;
    let reference = fitted
        .score(train.select(reference_rows).input(kind))?
        .scores;
    let tested = fitted.score(test.input(kind))?;
    Ok((
        CellScores {
            reference,
            test: tested.scores,
        },
        tested.maps,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mon_normality::split::hold_out;
    use mon_normality::{FeatureMaps, Features};

    fn column(values: &[f32]) -> TapFeatures {
        TapFeatures {
            pooled: Features::new(values.len(), 1, values.to_vec()).unwrap(),
            maps: None,
        }
    }

    fn model(spec: &str) -> ModelChoice {
        ModelChoice::parse(spec).unwrap()
    }

    #[test]
    fn held_out_images_are_the_reference_and_not_fitted() {
        let train = column(&[1.0, 1.0, 1.0, 5.0]);
        let split = HoldOut {
            fit: vec![0, 1, 2],
            validation: vec![3],
        };
        let (scores, maps) =
            score_cell(&train, &split, &column(&[1.0, 3.0]), &model("euclidean")).unwrap();
        assert_eq!(
            scores.reference,
            [4.0],
            "the held-out image, 4 from the mean of the fitted ones"
        );
        assert_eq!(scores.test, [0.0, 2.0]);
        assert!(maps.is_none(), "pooled models give no maps");
    }

    #[test]
    fn without_a_hold_out_the_fitted_images_are_the_reference() {
        let train = column(&[1.0, 2.0, 3.0]);
        let split = hold_out(3, 0.0, 0).unwrap();
        let (scores, _) = score_cell(&train, &split, &column(&[2.0]), &model("euclidean")).unwrap();
        assert_eq!(scores.reference, [1.0, 0.0, 1.0]);
    }

    /// `n` one-channel 2×2 maps of value 1, with a bright spot at position 3 where `defect`.
    fn maps(defects: &[bool]) -> TapFeatures {
        let data = defects
            .iter()
            .flat_map(|&d| [1.0, 1.0, 1.0, if d { 9.0 } else { 1.0 }])
            .collect();
        let maps = FeatureMaps::new(defects.len(), 1, 2, 2, data).unwrap();
        TapFeatures {
            pooled: maps.global_average_pool(),
            maps: Some(maps),
        }
    }

    #[test]
    fn spatial_models_score_maps_and_return_them() {
        let train = maps(&[false; 4]);
        let test = maps(&[false, true]);
        let split = hold_out(4, 0.0, 0).unwrap();
        for spec in ["position_mean", "patch_knn{coreset=random}"] {
            let (scores, anomaly) = score_cell(&train, &split, &test, &model(spec)).unwrap();
            assert_eq!(
                scores.test,
                [0.0, 8.0],
                "{spec}: the spot is 8 away from normal"
            );
            let anomaly = anomaly.unwrap();
            assert_eq!((anomaly.n, anomaly.h, anomaly.w), (2, 2, 2));
            assert_eq!(anomaly.map(1)[3], 8.0, "{spec}: the map shows where");
        }
        // Pooled over the whole map, every image points the same way: cosine cannot tell them apart.
        let (scores, _) = score_cell(&train, &split, &test, &model("cosine")).unwrap();
        assert!((scores.test[0] - scores.test[1]).abs() < 1e-12);
    }

    #[test]
    fn a_spatial_model_without_maps_says_what_it_needs() {
        let train = TapFeatures {
            maps: None,
            ..maps(&[false; 3])
        };
        let split = hold_out(3, 0.0, 0).unwrap();
        let err = format!(
            "{:#}",
            score_cell(&train, &split, &train, &model("position_mean")).unwrap_err()
        );
        assert!(err.contains("needs feature maps"), "{err}");
    }
}
