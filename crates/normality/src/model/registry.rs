//! Models of normality chosen at run time from spec strings, as configuration files name them.

use std::fmt;
use std::marker::PhantomData;

use crate::covariance::Shrinkage;
use crate::maps::{AnomalyMaps, FeatureMaps};
use crate::model::spatial::TopMean;
use crate::model::{
    Coreset, Distance, Fit, GaussianParams, KnnParams, Localise, MeanModelParams, Params, PatchKnnParams, PositionGaussianParams,
    PositionMeanParams, Score,
};
use crate::spec::{Spec, SpecResult};
use crate::{Error, Features, Result};

/// What a model of normality reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// Pooled features `[N, D]`, one vector per image.
    Pooled,
    /// Feature maps `[N, C, H, W]`.
    Maps,
}

impl InputKind {
    fn describe(self) -> &'static str {
        match self {
            InputKind::Pooled => "pooled features [N, D]",
            InputKind::Maps => "feature maps [N, C, H, W]",
        }
    }
}

/// Features handed to a boxed model.
#[derive(Clone, Copy, Debug)]
pub enum ModelInput<'a> {
    Pooled(&'a Features),
    Maps(&'a FeatureMaps),
}

impl ModelInput<'_> {
    pub fn kind(&self) -> InputKind {
        match self {
            ModelInput::Pooled(_) => InputKind::Pooled,
            ModelInput::Maps(_) => InputKind::Maps,
        }
    }
}

/// Scores of a batch, with the anomaly maps `[N, H, W]` of spatial models.
#[derive(Clone, Debug, PartialEq)]
pub struct Scored {
    pub scores: Vec<f64>,
    pub maps: Option<AnomalyMaps>,
}

/// A model of normality chosen at run time (see [`parse_model`]).
pub trait NormalityModel: fmt::Debug + Send + Sync {
    /// The spec with every parameter, e.g. `knn{k=5,distance=euclidean}`; parses back with
    /// [`parse_model`].
    fn name(&self) -> String;
    fn input(&self) -> InputKind;
    /// Fits on normal features of the kind [`NormalityModel::input`] says.
    fn fit(&self, normal: ModelInput<'_>) -> Result<Box<dyn FittedNormality>>;
}

/// A fitted [`NormalityModel`].
pub trait FittedNormality: Send + Sync {
    fn score(&self, features: ModelInput<'_>) -> Result<Scored>;
}

/// Every model [`parse_model`] understands, with its parameters at their defaults.
pub const MODEL_SYNTAX: &str = "mean{distance=euclidean}, gaussian{shrinkage=ledoit_wolf}, knn{k=1,distance=euclidean}, \
position_mean{distance=euclidean,top=1}, position_gaussian{shrinkage=ledoit_wolf,top=1}, \
patch_knn{k=1,distance=euclidean,memory=10000,coreset=greedy,projection=128,seed=0,top=1}";

/// Parses `name` or `name{key=value,...}` into a model of normality; missing parameters take
/// the defaults shown in [`MODEL_SYNTAX`], unknown ones are errors, and values are checked here
/// (the same `check` that `fit` runs).
///
/// | spec | input | model |
/// |---|---|---|
/// | `mean{distance}` | pooled | [`MeanModelParams`]: distance to the mean vector (the paper) |
/// | `gaussian{shrinkage}` | pooled | [`GaussianParams`]: Mahalanobis, Ledoit–Wolf |
/// | `knn{k,distance}` | pooled | [`KnnParams`]: mean distance to the k nearest (SPADE) |
/// | `position_mean{distance,top}` | maps | [`PositionMeanParams`]: distance to the mean map |
/// | `position_gaussian{shrinkage,top}` | maps | [`PositionGaussianParams`]: per-position Mahalanobis (PaDiM) |
/// | `patch_knn{k,distance,memory,coreset,projection,seed,top}` | maps | [`PatchKnnParams`]: patch memory (PatchCore) |
///
/// ```
/// use mon_normality::FeatureMaps;
/// use mon_normality::model::{InputKind, ModelInput, parse_model};
///
/// let model = parse_model("patch_knn{memory=500,coreset=random}").unwrap();
/// assert_eq!(model.input(), InputKind::Maps);
/// let normal = FeatureMaps::new(2, 3, 4, 4, vec![0.5; 2 * 3 * 4 * 4]).unwrap();
/// let fitted = model.fit(ModelInput::Maps(&normal)).unwrap();
/// let scored = fitted.score(ModelInput::Maps(&normal)).unwrap();
/// assert_eq!(scored.scores, vec![0.0, 0.0]);
/// assert_eq!(scored.maps.unwrap().h, 4);
/// ```
pub fn parse_model(spec: &str) -> SpecResult<Box<dyn NormalityModel>> {
    let mut spec = Spec::parse(spec, "model of normality", MODEL_SYNTAX)?;
    let distance = |spec: &mut Spec| Ok::<_, String>(spec.word::<Distance>("distance")?.unwrap_or(Distance::Euclidean));
    let shrinkage = |spec: &mut Spec| Ok::<_, String>(spec.word::<Shrinkage>("shrinkage")?.unwrap_or(Shrinkage::LedoitWolf));
    let top = |spec: &mut Spec| Ok::<_, String>(TopMean(spec.count("top")?.unwrap_or(1)));
    let model = match spec.name() {
        "mean" => boxed::<_, Features>(MeanModelParams { distance: distance(&mut spec)? }),
        "gaussian" => boxed::<_, Features>(GaussianParams { shrinkage: shrinkage(&mut spec)? }),
        "knn" => boxed::<_, Features>(KnnParams { k: spec.count("k")?.unwrap_or(1), distance: distance(&mut spec)? }),
        "position_mean" => boxed::<_, FeatureMaps>(PositionMeanParams { distance: distance(&mut spec)?, top: top(&mut spec)? }),
        "position_gaussian" => boxed::<_, FeatureMaps>(PositionGaussianParams { shrinkage: shrinkage(&mut spec)?, top: top(&mut spec)? }),
        "patch_knn" => {
            let defaults = PatchKnnParams::default();
            boxed::<_, FeatureMaps>(PatchKnnParams {
                k: spec.count("k")?.unwrap_or(defaults.k),
                distance: distance(&mut spec)?,
                memory: spec.count("memory")?.unwrap_or(defaults.memory),
                coreset: spec.word::<Coreset>("coreset")?.unwrap_or(defaults.coreset),
                projection: spec.count("projection")?.unwrap_or(defaults.projection),
                seed: spec.take("seed", "a whole number")?.unwrap_or(defaults.seed),
                top: top(&mut spec)?,
            })
        }
        _ => return Err(spec.unknown_name()),
    };
    spec.finish()?;
    model
}

/// The features a model reads, picked out of a [`ModelInput`].
trait Input: fmt::Debug + 'static {
    const KIND: InputKind;
    fn pick<'a>(input: ModelInput<'a>) -> Option<&'a Self>;
}

impl Input for Features {
    const KIND: InputKind = InputKind::Pooled;
    fn pick<'a>(input: ModelInput<'a>) -> Option<&'a Self> {
        match input {
            ModelInput::Pooled(features) => Some(features),
            ModelInput::Maps(_) => None,
        }
    }
}

impl Input for FeatureMaps {
    const KIND: InputKind = InputKind::Maps;
    fn pick<'a>(input: ModelInput<'a>) -> Option<&'a Self> {
        match input {
            ModelInput::Maps(maps) => Some(maps),
            ModelInput::Pooled(_) => None,
        }
    }
}

/// Scores with the anomaly maps where the model has them: none for global models, the
/// [`Localise`] maps for spatial ones.
trait ScoreWithMaps<X> {
    fn score_with_maps(&self, features: &X) -> Result<Scored>;
}

impl<M: Score> ScoreWithMaps<Features> for M {
    fn score_with_maps(&self, features: &Features) -> Result<Scored> {
        Ok(Scored { scores: self.score(features)?, maps: None })
    }
}

impl<M: Localise> ScoreWithMaps<FeatureMaps> for M {
    fn score_with_maps(&self, maps: &FeatureMaps) -> Result<Scored> {
        let anomaly = self.anomaly_maps(maps)?;
        Ok(Scored { scores: self.image_score().reduce(&anomaly)?, maps: Some(anomaly) })
    }
}

/// Parameters `P` of a model reading `X`, behind the boxed interface.
#[derive(Debug)]
struct Boxed<P, X> {
    params: P,
    input: PhantomData<fn(&X)>,
}

struct Fitted<M, X> {
    model: M,
    name: String,
    input: PhantomData<fn(&X)>,
}

/// Checks `params` and boxes them.
fn boxed<P, X>(params: P) -> SpecResult<Box<dyn NormalityModel>>
where
    X: Input,
    P: Fit<X> + Params + fmt::Debug + Send + Sync + 'static,
    P::Model: ScoreWithMaps<X> + Send + Sync + 'static,
{
    params.check().map_err(|e| e.to_string())?;
    Ok(Box::new(Boxed::<P, X> { params, input: PhantomData }))
}

fn picked<'a, X: Input>(model: &str, input: ModelInput<'a>) -> Result<&'a X> {
    X::pick(input).ok_or_else(|| Error::WrongInput { model: model.to_string(), needs: X::KIND.describe(), got: input.kind().describe() })
}

impl<P, X> NormalityModel for Boxed<P, X>
where
    X: Input,
    P: Fit<X> + Params + fmt::Debug + Send + Sync,
    P::Model: ScoreWithMaps<X> + Send + Sync + 'static,
{
    fn name(&self) -> String {
        self.params.to_string()
    }

    fn input(&self) -> InputKind {
        X::KIND
    }

    fn fit(&self, normal: ModelInput<'_>) -> Result<Box<dyn FittedNormality>> {
        let name = self.name();
        let model = self.params.fit(picked::<X>(&name, normal)?)?;
        Ok(Box::new(Fitted::<P::Model, X> { model, name, input: PhantomData }))
    }
}

impl<M: ScoreWithMaps<X> + Send + Sync, X: Input> FittedNormality for Fitted<M, X> {
    fn score(&self, features: ModelInput<'_>) -> Result<Scored> {
        self.model.score_with_maps(picked::<X>(&self.name, features)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bare_names_take_the_documented_defaults() {
        for spec in MODEL_SYNTAX.split(", ") {
            assert_eq!(parse_model(spec).unwrap().name(), spec);
            assert_eq!(parse_model(spec.split('{').next().unwrap()).unwrap().name(), spec);
        }
        for spec in [
            "mean{distance=cosine}",
            "gaussian{shrinkage=0.25}",
            "knn{k=5,distance=cosine}",
            "position_mean{distance=cosine,top=10}",
            "position_gaussian{shrinkage=0,top=3}",
            "patch_knn{k=3,distance=cosine,memory=500,coreset=random,projection=0,seed=42,top=2}",
        ] {
            assert_eq!(parse_model(spec).unwrap().name(), spec);
        }
        assert_eq!(parse_model("knn{k=5}").unwrap().name(), "knn{k=5,distance=euclidean}");
    }

    #[test]
    fn each_model_says_what_it_reads() {
        let kinds: Vec<InputKind> = MODEL_SYNTAX.split(", ").map(|s| parse_model(s).unwrap().input()).collect();
        use InputKind::{Maps, Pooled};
        assert_eq!(kinds, [Pooled, Pooled, Pooled, Maps, Maps, Maps]);
    }

    #[test]
    fn bad_specs_say_why() {
        for (spec, expected) in [
            ("svm", "unknown model of normality `svm`"),
            ("knn{k=0}", "knn: invalid parameter `k` = 0"),
            ("knn{k=two}", "parameter `k` must be a whole number"),
            ("knn{n=2}", "has no parameter `n`"),
            ("mean{distance=manhattan}", "parameter `distance`: unknown score `manhattan`"),
            ("gaussian{shrinkage=2}", "gaussian: invalid parameter `shrinkage` = 2"),
            ("gaussian{shrinkage=oas}", "expected ledoit_wolf or a number"),
            ("patch_knn{coreset=kmeans}", "unknown coreset `kmeans`"),
            ("patch_knn{memory=0}", "`memory` = 0"),
            ("position_mean{top=0}", "`top` = 0"),
        ] {
            let err = parse_model(spec).unwrap_err();
            assert!(err.contains(expected), "{spec}: {err}");
        }
    }

    #[test]
    fn boxed_models_fit_score_and_refuse_the_other_input() {
        let maps = FeatureMaps::new(3, 2, 1, 2, vec![0.0, 1.0, 2.0, 3.0, 0.5, 1.0, 2.0, 3.5, 0.0, 1.5, 2.5, 3.0]).unwrap();
        let pooled = maps.global_average_pool();

        let knn = parse_model("knn").unwrap();
        let fitted = knn.fit(ModelInput::Pooled(&pooled)).unwrap();
        let scored = fitted.score(ModelInput::Pooled(&pooled)).unwrap();
        assert_eq!(scored.scores, vec![0.0; 3], "every image is its own nearest neighbour");
        assert_eq!(scored.maps, None);
        let err = fitted.score(ModelInput::Maps(&maps)).err().unwrap().to_string();
        assert!(err.contains("`knn{k=1,distance=euclidean}` needs pooled features [N, D], got feature maps"), "{err}");
        assert!(knn.fit(ModelInput::Maps(&maps)).is_err());

        let patch = parse_model("patch_knn").unwrap();
        let scored = patch.fit(ModelInput::Maps(&maps)).unwrap().score(ModelInput::Maps(&maps)).unwrap();
        let anomaly = scored.maps.unwrap();
        assert_eq!((anomaly.n, anomaly.h, anomaly.w), (3, 1, 2));
        assert_eq!(scored.scores, vec![0.0; 3]);
        let err = patch.fit(ModelInput::Pooled(&pooled)).err().unwrap().to_string();
        assert!(err.contains("needs feature maps [N, C, H, W], got pooled features"), "{err}");
    }
}
