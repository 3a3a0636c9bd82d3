//! Shrunk covariance estimates, `(1 − s)·S + s·μ·I` with `S` the empirical covariance (divided
//! by `n`) and `μ = trace(S)/d`: positive definite for any `s > 0` and `μ > 0`, even with fewer
//! samples than dimensions, which is the usual case for CNN features.

use std::fmt;
use std::str::FromStr;

use crate::error::require;
use crate::linalg::gram;
use crate::Result;

/// How much to shrink the empirical covariance towards a scaled identity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shrinkage {
    /// Ledoit & Wolf (2004), "A well-conditioned estimator for large-dimensional covariance
    /// matrices": the coefficient estimated from the data, computed exactly as
    /// scikit-learn's `LedoitWolf()` (`assume_centered=False`).
    LedoitWolf,
    /// A fixed coefficient in `[0, 1]`, as scikit-learn's `ShrunkCovariance(shrinkage=s)`.
    Fixed(f64),
}

impl Shrinkage {
    /// Refuses a fixed coefficient outside `[0, 1]`; `owner` names the model in the message.
    pub(crate) fn check(self, owner: &'static str) -> Result<()> {
        match self {
            Shrinkage::LedoitWolf => Ok(()),
            Shrinkage::Fixed(s) => require((0.0..=1.0).contains(&s), owner, "shrinkage", s, "ledoit_wolf or a number in [0, 1]"),
        }
    }
}

impl fmt::Display for Shrinkage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shrinkage::LedoitWolf => f.write_str("ledoit_wolf"),
            Shrinkage::Fixed(s) => write!(f, "{s}"),
        }
    }
}

impl FromStr for Shrinkage {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s == "ledoit_wolf" {
            return Ok(Shrinkage::LedoitWolf);
        }
        s.parse::<f64>().map(Shrinkage::Fixed).map_err(|_| format!("expected ledoit_wolf or a number in [0, 1], got `{s}`"))
    }
}

/// Mean and shrunk covariance of a sample.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ShrunkCovariance {
    pub mean: Vec<f64>,
    /// Row-major `d × d`.
    pub covariance: Vec<f64>,
    /// The coefficient used (estimated for [`Shrinkage::LedoitWolf`]).
    pub shrinkage: f64,
}

impl ShrunkCovariance {
    /// `x`: row-major `n × d`, `n ≥ 1`.
    pub fn estimate(x: &[f64], n: usize, d: usize, shrinkage: Shrinkage) -> Self {
        debug_assert!(n >= 1 && x.len() == n * d);
        let mut mean = vec![0.0; d];
        for row in x.chunks_exact(d) {
            mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let centred: Vec<f64> = x.chunks_exact(d).flat_map(|row| row.iter().zip(&mean).map(|(v, m)| v - m)).collect();
        let mut covariance = gram(&centred, n, d);
        covariance.iter_mut().for_each(|c| *c /= n as f64);
        let mu = (0..d).map(|i| covariance[i * d + i]).sum::<f64>() / d as f64;
        let shrinkage = match shrinkage {
            Shrinkage::Fixed(s) => s,
            Shrinkage::LedoitWolf => ledoit_wolf_shrinkage(&centred, &covariance, n, d, mu),
        };
        covariance.iter_mut().for_each(|c| *c *= 1.0 - shrinkage);
        (0..d).for_each(|i| covariance[i * d + i] += shrinkage * mu);
        Self { mean, covariance, shrinkage }
    }
}

/// scikit-learn's `ledoit_wolf_shrinkage` on centred data, term for term: `β̄ = Σᵢⱼ (X²ᵀX²)ᵢⱼ`
/// (here `Σₛ ‖xₛ‖⁴`, the same sum), `δ̄ = ‖XᵀX‖²_F / n²`,
/// `β = (β̄/n − δ̄) / (d·n)`, `δ = (δ̄ − 2μ·tr S + d·μ²) / d`, shrinkage `min(β, δ) / δ`.
/// One feature gives 0, as there (any shrinkage yields the same matrix).
fn ledoit_wolf_shrinkage(centred: &[f64], covariance: &[f64], n: usize, d: usize, mu: f64) -> f64 {
    if d == 1 {
        return 0.0;
    }
    let (n_f, d_f) = (n as f64, d as f64);
    let beta_sum: f64 = centred.chunks_exact(d).map(|row| row.iter().map(|v| v * v).sum::<f64>().powi(2)).sum();
    // `covariance` is XᵀX / n here, so ‖XᵀX‖²_F / n² = ‖covariance‖²_F.
    let delta_sum: f64 = covariance.iter().map(|c| c * c).sum();
    let trace = mu * d_f;
    let beta = (beta_sum / n_f - delta_sum) / (d_f * n_f);
    let delta = (delta_sum - 2.0 * mu * trace + d_f * mu * mu) / d_f;
    let beta = beta.min(delta);
    if beta == 0.0 { 0.0 } else { beta / delta }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::Cholesky;
    use crate::testing::lw_data;
    use rand::rngs::ChaCha8Rng;
    use rand::{RngExt, SeedableRng};

    fn estimate(x: &crate::Features, shrinkage: Shrinkage) -> ShrunkCovariance {
        let v: Vec<f64> = x.as_slice().iter().map(|&v| v as f64).collect();
        ShrunkCovariance::estimate(&v, x.rows(), x.dim(), shrinkage)
    }

    /// scikit-learn 1.9.1 `LedoitWolf().fit(lw_data(n, d))`: `shrinkage_`, `covariance_`
    /// (scripts/dev/normality_references.py).
    #[test]
    fn ledoit_wolf_matches_scikit_learn() {
        let cases: [(usize, usize, f64, &[f64]); 2] = [
            (10, 4, 0.6207519566929303, &[
                0.5811580889745338, 0.08580486979822453, -0.06352404725393418, -0.05878344671259581, 0.08580486979822453,
                0.540151894291957, -0.09813043120570429, -0.048354125521651393, -0.06352404725393418, -0.09813043120570429,
                0.7771819213588755, 0.15312139748522938, -0.05878344671259581, -0.048354125521651393, 0.15312139748522938,
                0.5496330953746337,
            ]),
            (5, 8, 0.8074313261879978, &[
                0.4538576325727974, 0.018294024012140208, -0.062103397304370686, -0.011072698744190127, -0.07269467436403082,
                0.003369951791710037, 0.0356252046552204, -0.025996770964620292, 0.018294024012140208, 0.42400948813193706,
                -0.037069469708810414, -0.04284652992317048, -0.01107269874419013, 0.089544433322581, -0.03514378297069039,
                -0.0033699517917100373, -0.062103397304370686, -0.037069469708810414, 0.46830028310869753, 0.012998385482310144,
                0.03803231307787043, -0.0182940240121402, 0.006739903583420077, 0.031773831178980354, -0.011072698744190127,
                -0.04284652992317048, 0.012998385482310144, 0.42400948813193706, 0.018294024012140208, -0.0823231080546309,
                0.04236510823864047, 0.010591277059660117, -0.07269467436403082, -0.01107269874419013, 0.03803231307787043,
                0.018294024012140208, 0.45385763257279743, 0.003851373476240044, -0.028403879387270323, 0.03321809623257037,
                0.003369951791710037, 0.089544433322581, -0.0182940240121402, -0.0823231080546309, 0.003851373476240044,
                0.5828786440268389, -0.04910501182206055, 0.037069469708810414, 0.0356252046552204, -0.03514378297069039,
                0.006739903583420077, 0.04236510823864047, -0.028403879387270323, -0.04910501182206055, 0.4731144999539976,
                0.028403879387270323, -0.025996770964620292, -0.0033699517917100373, 0.031773831178980354, 0.010591277059660117,
                0.03321809623257037, 0.037069469708810414, 0.028403879387270323, 0.42497233150099706,
            ]),
        ];
        for (n, d, shrinkage, covariance) in cases {
            let lw = estimate(&lw_data(n, d), Shrinkage::LedoitWolf);
            assert!((lw.shrinkage - shrinkage).abs() < 1e-12, "n={n} d={d}: shrinkage {} vs {shrinkage}", lw.shrinkage);
            for (got, want) in lw.covariance.iter().zip(covariance) {
                assert!((got - want).abs() < 1e-12, "n={n} d={d}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn fixed_shrinkage_blends_towards_the_scaled_identity() {
        // Two samples (0, 0), (2, 4): S = [[1, 2], [2, 4]], μ = 2.5.
        let x = crate::Features::new(2, 2, vec![0.0, 0.0, 2.0, 4.0]).unwrap();
        let c = estimate(&x, Shrinkage::Fixed(0.2));
        assert_eq!(c.mean, vec![1.0, 2.0]);
        let want = [0.8 + 0.5, 1.6, 1.6, 3.2 + 0.5];
        assert!(c.covariance.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-15), "{:?}", c.covariance);
        assert_eq!(estimate(&x, Shrinkage::Fixed(0.0)).covariance, vec![1.0, 2.0, 2.0, 4.0]);
        assert_eq!("ledoit_wolf".parse::<Shrinkage>().unwrap(), Shrinkage::LedoitWolf);
        assert_eq!("0.3".parse::<Shrinkage>().unwrap().to_string(), "0.3");
    }

    /// Property: with fewer samples than dimensions the empirical covariance is singular, yet the
    /// Ledoit–Wolf estimate is positive definite: its Cholesky factor exists, and every
    /// Rayleigh quotient is at least `shrinkage · μ` (Weyl: the shrunk part adds `s·μ·I` to a
    /// positive semi-definite matrix). From 3 samples on: with 2, scikit-learn's formula gives
    /// shrinkage 0 (checked below), and the Gaussian models say so.
    #[test]
    fn ledoit_wolf_is_positive_definite_with_fewer_samples_than_dimensions() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for (n, d) in [(3, 5), (5, 40), (12, 64), (30, 100)] {
            let data: Vec<f64> = (0..n * d).map(|i| rng.random_range(-1.0..1.0) * (1.0 + (i % d) as f64 / 10.0)).collect();
            let c = ShrunkCovariance::estimate(&data, n, d, Shrinkage::LedoitWolf);
            assert!(c.shrinkage > 0.0 && c.shrinkage <= 1.0, "n={n} d={d}: shrinkage {}", c.shrinkage);
            let mu = (0..d).map(|i| c.covariance[i * d + i]).sum::<f64>() / d as f64;
            let floor = c.shrinkage * mu;
            for _ in 0..20 {
                let v: Vec<f64> = (0..d).map(|_| rng.random_range(-1.0..1.0)).collect();
                let av: Vec<f64> = (0..d).map(|i| (0..d).map(|j| c.covariance[i * d + j] * v[j]).sum()).collect();
                let quotient = v.iter().zip(&av).map(|(a, b)| a * b).sum::<f64>() / v.iter().map(|a| a * a).sum::<f64>();
                assert!(quotient >= floor * (1.0 - 1e-9), "n={n} d={d}: {quotient} < {floor}");
            }
            let factor = Cholesky::factor(c.covariance.clone(), d).expect("positive definite");
            assert!(factor.min_pivot() > 0.0);
            let unshrunk = ShrunkCovariance::estimate(&data, n, d, Shrinkage::Fixed(0.0));
            assert!(Cholesky::factor(unshrunk.covariance, d).is_none(), "n={n} < d={d}: the empirical covariance is singular");
        }
        let two = ShrunkCovariance::estimate(&[0.5, -1.0, 2.0, 1.5, 0.0, 0.25], 2, 3, Shrinkage::LedoitWolf);
        assert_eq!(two.shrinkage, 0.0);
    }
}
