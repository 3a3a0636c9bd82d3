use std::fmt::Display;

/// Everything that can go wrong in this crate; each message says what to change.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum Error {
    #[error("{owner}: invalid parameter `{name}` = {value}: expected {expected}")]
    InvalidParameter { owner: &'static str, name: &'static str, value: String, expected: &'static str },
    #[error("feature matrix of {rows} rows × {dim} columns needs {expected} values, got {got}")]
    ShapeMismatch { rows: usize, dim: usize, expected: usize, got: usize },
    #[error("feature maps of shape [{n}, {c}, {h}, {w}] need {expected} values, got {got}")]
    MapsShapeMismatch { n: usize, c: usize, h: usize, w: usize, expected: usize, got: usize },
    #[error("features have dimension {got}, but the model of normality was fitted on dimension {expected}")]
    DimensionMismatch { expected: usize, got: usize },
    #[error("feature maps are [C, H, W] = {got:?}, but the model of normality was fitted on {expected:?}: use the same backbone tap and input size")]
    MapGeometryMismatch { expected: [usize; 3], got: [usize; 3] },
    #[error("row {row} holds a non-finite feature value (NaN or infinity): check the weights file and the input image")]
    NonFinite { row: usize },
    #[error("the feature map of image {image} holds a non-finite value (NaN or infinity): check the weights file and the input image")]
    NonFiniteMap { image: usize },
    #[error("{what} is empty: {hint}")]
    Empty { what: &'static str, hint: &'static str },
    #[error("scores and labels differ in length ({scores} scores, {labels} labels)")]
    LengthMismatch { scores: usize, labels: usize },
    #[error("score {index} is not finite ({value})")]
    NonFiniteScore { index: usize, value: f64 },
    #[error("{metric} needs both normal and anomalous test samples (normal: {normal}, anomalous: {anomalous})")]
    NeedsBothClasses { metric: &'static str, normal: usize, anomalous: usize },
    #[error("threshold rule `{rule}` cannot be computed: {reason}")]
    RuleUndefined { rule: String, reason: String },
    #[error("model of normality `{model}` needs {needs}, got {got}")]
    WrongInput { model: String, needs: &'static str, got: &'static str },
    #[error("model of normality `{model}` cannot be fitted: {reason}")]
    ModelUndefined { model: String, reason: String },
}

pub type Result<T> = std::result::Result<T, Error>;

/// The one place parameters are validated: `Ok` when `ok`, else an error naming the owner (a
/// rule, a model, a setting), the parameter, its value and what it should be.
pub(crate) fn require(ok: bool, owner: &'static str, name: &'static str, value: impl Display, expected: &'static str) -> Result<()> {
    if ok { Ok(()) } else { Err(Error::InvalidParameter { owner, name, value: value.to_string(), expected }) }
}

/// Validates a probability strictly inside (0, 1), the range of every rate parameter here.
pub(crate) fn require_open_unit(owner: &'static str, name: &'static str, value: f64) -> Result<f64> {
    require(value > 0.0 && value < 1.0, owner, name, value, "a number strictly between 0 and 1")?;
    Ok(value)
}

/// Rejects non-finite scores (they would make every ranking and threshold meaningless).
pub(crate) fn check_finite_scores(scores: &[f64]) -> Result<()> {
    match scores.iter().enumerate().find(|(_, s)| !s.is_finite()) {
        Some((index, &value)) => Err(Error::NonFiniteScore { index, value }),
        None => Ok(()),
    }
}
