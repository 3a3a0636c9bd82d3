//! Models of normality, anomaly scores, working-point threshold rules and detection metrics.
//!
//! Everything here is plain Rust over `f32` features and `f64` scores, so it can be used
//! without the backbone crate, for example on scores produced by another detector.
//! Convention throughout: a higher score means "more anomalous", and an image is flagged
//! anomalous when `score >= threshold`.
//!
//! - [`model`]: models of normality (global on [`Features`], spatial on [`FeatureMaps`]) and
//!   [`model::parse_model`];
//! - [`threshold`]: label-free and oracle threshold rules and [`threshold::parse_rule`];
//! - [`metrics`]: curves, AUROC, AP, metrics at a threshold, bootstrap intervals;
//! - [`compare`]: every rule's working point on one set of scores (`mon thresholds`);
//! - [`split`]: the validation hold-out.

pub mod compare;
mod covariance;
mod error;
mod features;
mod linalg;
mod maps;
pub mod metrics;
pub mod model;
mod spec;
pub mod split;
pub mod threshold;
#[cfg(test)]
mod testing;

pub use error::{Error, Result};
pub use features::Features;
pub use maps::{AnomalyMaps, FeatureMaps};
