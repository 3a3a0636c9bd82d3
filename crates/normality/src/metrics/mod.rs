//! Detection metrics with scikit-learn's definitions. Labels: `true` = anomalous (positive).
//! An image is predicted anomalous when `score >= threshold`.

mod bootstrap;
mod confusion;
mod curves;

pub use bootstrap::{Bootstrap, Interval};
pub use confusion::{Confusion, MetricSet};
pub(crate) use curves::{Sweep, check_inputs};
pub use curves::{PrCurve, Roc, auroc, average_precision, max_f1, pr_curve, roc_curve};
