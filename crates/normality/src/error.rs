/// Everything that can go wrong in this crate; each message says what to change.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum Error {
    #[error("invalid parameter `{name}` = {value}: {expected}")]
    InvalidParameter { name: &'static str, value: String, expected: &'static str },
    #[error("feature matrix of {rows} rows × {dim} columns needs {expected} values, got {got}")]
    ShapeMismatch { rows: usize, dim: usize, expected: usize, got: usize },
    #[error("features have dimension {got}, but the model of normality was fitted on dimension {expected}")]
    DimensionMismatch { expected: usize, got: usize },
    #[error("row {row} holds a non-finite feature value (NaN or infinity): check the weights file and the input image")]
    NonFinite { row: usize },
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
}

pub type Result<T> = std::result::Result<T, Error>;
