use std::path::PathBuf;

/// Everything that can go wrong in this crate; each message names the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown backbone `{name}`: available are {known}")]
    UnknownBackbone { name: String, known: String },
    #[error("backbone `{backbone}` has no stage `{tap}`: available taps are {available}")]
    UnknownTap { backbone: String, tap: String, available: String },
    #[error("weights file {path}: {reason}")]
    WeightsMissing { path: PathBuf, reason: String },
    #[error("weights file {path}: {reason}")]
    WeightsFormat { path: PathBuf, reason: String },
    #[error("weights file {path} does not fit backbone `{backbone}`: {details}. Is it the file for this backbone?")]
    WeightsMismatch { path: PathBuf, backbone: String, details: String },
    #[error("the weights of `{backbone}` have no ImageNet classifier, so there are no logits; read out taps instead")]
    NoClassifier { backbone: String },
    #[error(
        "weights file {path}: stage `{stage}` of `{backbone}` gave {count} non-finite feature value(s) (NaN or infinity); \
         the file is probably damaged: fetch it again (scripts/fetch-weights.sh checks its SHA-256)"
    )]
    NonFiniteFeatures { path: PathBuf, backbone: String, stage: String, count: usize },
    #[error("the input to `{backbone}` holds {count} NaN or infinite value(s); check the preprocessed input tensor")]
    NonFiniteInput { backbone: String, count: usize },
    #[error("image {path}: {reason}")]
    Image { path: PathBuf, reason: String },
    #[error("device `{device}` is not usable: {reason}")]
    Device { device: &'static str, reason: String },
    #[error("reading results back from the device failed: {0}")]
    Readback(String),
}
