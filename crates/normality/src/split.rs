//! The validation hold-out: normal training images kept out of the model of normality so that
//! label-free thresholds are set on scores the model has not seen.

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;

use crate::{Error, Result};

/// Indices into the normal training images.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldOut {
    /// Images the model of normality is fitted on (ascending).
    pub fit: Vec<usize>,
    /// Images held out to set thresholds (ascending).
    pub validation: Vec<usize>,
}

/// Holds out `round(n · fraction)` of `n` images (at least one when `fraction > 0`), chosen by a
/// seeded shuffle so that a run is reproducible. `fraction = 0` keeps every image for fitting.
pub fn hold_out(n: usize, fraction: f64, seed: u64) -> Result<HoldOut> {
    if !(0.0..1.0).contains(&fraction) {
        return Err(Error::InvalidParameter {
            owner: "validation hold-out",
            name: "validation_fraction",
            value: fraction.to_string(),
            expected: "a fraction in [0, 1)",
        });
    }
    let n_val = if fraction == 0.0 { 0 } else { ((n as f64 * fraction).round() as usize).max(1) };
    if n_val >= n && n_val > 0 {
        return Err(Error::InvalidParameter {
            owner: "validation hold-out",
            name: "validation_fraction",
            value: fraction.to_string(),
            expected: "a fraction small enough to leave at least one normal training image for the model",
        });
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut validation = order[..n_val].to_vec();
    let mut fit = order[n_val..].to_vec();
    validation.sort_unstable();
    fit.sort_unstable();
    Ok(HoldOut { fit, validation })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_the_indices_reproducibly() {
        let a = hold_out(100, 0.2, 7).unwrap();
        assert_eq!(a.validation.len(), 20);
        assert_eq!(a.fit.len(), 80);
        let mut all: Vec<usize> = a.fit.iter().chain(&a.validation).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(a, hold_out(100, 0.2, 7).unwrap());
        assert_ne!(a.validation, hold_out(100, 0.2, 8).unwrap().validation);
    }

    #[test]
    fn zero_fraction_keeps_everything_and_tiny_fractions_hold_out_one() {
        let none = hold_out(5, 0.0, 1).unwrap();
        assert_eq!(none.fit, vec![0, 1, 2, 3, 4]);
        assert!(none.validation.is_empty());
        assert_eq!(hold_out(5, 0.01, 1).unwrap().validation.len(), 1);
    }

    #[test]
    fn refuses_fractions_that_leave_nothing_to_fit() {
        assert!(hold_out(1, 0.5, 0).is_err());
        assert!(hold_out(10, 1.0, 0).is_err());
        assert!(hold_out(10, -0.1, 0).is_err());
        assert!(hold_out(10, f64::NAN, 0).is_err());
    }
}
