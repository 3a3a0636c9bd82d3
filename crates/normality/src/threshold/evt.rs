//! Extreme-value thresholds: peaks over threshold with a generalised Pareto tail.

use crate::error::{require, require_open_unit};
use crate::threshold::{LabelledScores, RuleKind, ThresholdRule, floor_of_decimal, undefined, validation_descending};
use crate::Result;

/// Peaks over threshold (SPOT's initial step, Siffer et al. 2017, "Anomaly detection in
/// streams with extreme value theory"). By Pickands–Balkema–de Haan, the excesses of the
/// validation scores over a high level `u` follow a generalised Pareto distribution GPD(ξ, σ):
///
/// - `u` = the validation scores sorted ascending at 0-based index `⌊q·n⌋` (as SPOT);
/// - peaks `yᵢ = vᵢ − u` for every `vᵢ > u`, `N_t` of them;
/// - (ξ, σ) by maximum likelihood ([`fit_gpd`]);
/// - threshold `z = u + σ/ξ · ((risk · n/N_t)^(−ξ) − 1)` (`u − σ·ln(risk · n/N_t)` at ξ = 0), the
///   score exceeded by a normal image with probability `risk`.
///
/// Undefined with fewer than [`EvtPot::MIN_PEAKS`] peaks (a likelihood fit on fewer is noise),
/// or when `risk ≥ N_t/n` (the target is not in the tail: lower `q` or `risk`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvtPot {
    q: f64,
    risk: f64,
}

impl EvtPot {
    pub const DEFAULT_Q: f64 = 0.8;
    pub const DEFAULT_RISK: f64 = 0.01;
    pub const MIN_PEAKS: usize = 10;

    pub fn new(q: f64, risk: f64) -> Result<Self> {
        Ok(Self { q: require_open_unit("evt_pot", "q", q)?, risk: require_open_unit("evt_pot", "risk", risk)? })
    }
}

impl ThresholdRule for EvtPot {
    fn name(&self) -> String {
        format!("evt_pot{{q={},risk={}}}", self.q, self.risk)
    }

    fn kind(&self) -> RuleKind {
        RuleKind::LabelFree
    }

    fn threshold(&self, normal: &[f64], _test: &LabelledScores) -> Result<f64> {
        let mut v = validation_descending(self, normal, 1, "a tail fit")?;
        v.reverse();
        let n = v.len();
        let u = v[(floor_of_decimal(self.q * n as f64) as usize).min(n - 1)];
        let peaks: Vec<f64> = v.iter().filter(|&&s| s > u).map(|s| s - u).collect();
        if peaks.len() < Self::MIN_PEAKS {
            return Err(undefined(
                self,
                format!(
                    "only {} held-out normal scores exceed the q-quantile {u}, the tail fit needs at least {}: \
                     lower q or hold out about {} normal images",
                    peaks.len(),
                    Self::MIN_PEAKS,
                    (Self::MIN_PEAKS as f64 / (1.0 - self.q)).ceil()
                ),
            ));
        }
        let tail_fraction = peaks.len() as f64 / n as f64;
        if self.risk >= tail_fraction {
            return Err(undefined(
                self,
                format!("risk {} is not in the tail, which holds a fraction {tail_fraction} of the scores: lower risk or q", self.risk),
            ));
        }
        let gpd = fit_gpd(&peaks)?;
        Ok(u + gpd.exceeded_with_probability(self.risk / tail_fraction))
    }
}

/// A generalised Pareto distribution of excesses `y > 0`: `P(Y > y) = (1 + ξy/σ)^(−1/ξ)`
/// (`exp(−y/σ)` at ξ = 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gpd {
    pub shape: f64,
    pub scale: f64,
}

impl Gpd {
    /// The excess `y` with `P(Y > y) = p`: `σ/ξ · (p^(−ξ) − 1)`, through `expm1` so that small
    /// ξ loses nothing (and ξ = 0 is the exponential `−σ ln p`).
    pub fn exceeded_with_probability(&self, p: f64) -> f64 {
        let log_p = p.ln();
        if self.shape == 0.0 { -self.scale * log_p } else { self.scale * (-self.shape * log_p).exp_m1() / self.shape }
    }
}

/// Maximum-likelihood GPD fit of positive excesses (at least 2).
///
/// Grimshaw's (1993) reduction to one dimension: with `x = ξ/σ`, the likelihood equations give
/// `ξ(x) = mean ln(1 + x·yᵢ)` and `σ(x) = ξ(x)/x`, so the negative profile log-likelihood per
/// peak is `f(x) = ln σ(x) + ξ(x) + 1` (at `x = 0`, the exponential: `ln ȳ + 1`). Rather than
/// trusting one root of `f′` (SPOT's approach can miss the global one), `f` is scanned on a
/// log-spaced grid over `ξ ∈ [−1, 5]` (below −1 the likelihood is unbounded), and the best cell
/// refined by bisection on `f′` (golden-section search on `f` when the cell contains `x = 0`).
pub fn fit_gpd(peaks: &[f64]) -> Result<Gpd> {
    require(
        peaks.len() >= 2 && peaks.iter().all(|&y| y > 0.0 && y.is_finite()),
        "fit_gpd",
        "peaks",
        format!("{} excesses", peaks.len()),
        "at least 2 positive finite excesses",
    )?;
    let profile = Profile { peaks };
    let y_max = peaks.iter().copied().fold(0.0, f64::max);
    let x_low = bisect(-1.0 / y_max, 0.0, |x| profile.shape(x) < -1.0);
    let mut x_high = 1.0 / profile.mean();
    while profile.shape(x_high) < 5.0 {
        x_high *= 2.0;
    }
    let x_high = bisect(0.0, x_high, |x| profile.shape(x) < 5.0);

    const GRID: usize = 120;
    let decade = |end: f64, k: usize| end * 10f64.powf(-8.0 * (1.0 - k as f64 / (GRID - 1) as f64));
    let grid: Vec<f64> = (0..GRID)
        .rev()
        .map(|k| decade(x_low, k))
        .chain([0.0])
        .chain((0..GRID).map(|k| decade(x_high, k)))
        .collect();
    let best = (0..grid.len())
        .min_by(|&a, &b| profile.value(grid[a]).total_cmp(&profile.value(grid[b])))
        .expect("the grid is not empty");
    let (a, b) = (grid[best.saturating_sub(1)], grid[(best + 1).min(grid.len() - 1)]);
    let straddles_zero = a <= 0.0 && b >= 0.0;
    let x = if straddles_zero || profile.slope(a) >= 0.0 || profile.slope(b) <= 0.0 {
        golden_section(a, b, |x| profile.value(x))
    } else {
        bisect(a, b, |x| profile.slope(x) < 0.0)
    };
    Ok(Gpd { shape: profile.shape(x), scale: profile.scale(x) })
}

/// Grimshaw's profile of the GPD likelihood in `x = ξ/σ`.
struct Profile<'a> {
    peaks: &'a [f64],
}

impl Profile<'_> {
    fn mean(&self) -> f64 {
        self.peaks.iter().sum::<f64>() / self.peaks.len() as f64
    }

    /// `ξ(x) = mean ln(1 + x·y)`.
    fn shape(&self, x: f64) -> f64 {
        self.peaks.iter().map(|&y| (x * y).ln_1p()).sum::<f64>() / self.peaks.len() as f64
    }

    /// `σ(x) = ξ(x)/x`, computed termwise so that it tends to `ȳ` as `x → 0`.
    fn scale(&self, x: f64) -> f64 {
        if x == 0.0 {
            return self.mean();
        }
        self.peaks.iter().map(|&y| (x * y).ln_1p() / x).sum::<f64>() / self.peaks.len() as f64
    }

    /// The negative log-likelihood per peak at `(ξ(x), σ(x))`; +∞ where it cannot be
    /// evaluated (at the edge `1 + x·y_max = 0`, which `x` can reach in rounding).
    fn value(&self, x: f64) -> f64 {
        let v = self.scale(x).ln() + self.shape(x) + 1.0;
        if v.is_finite() { v } else { f64::INFINITY }
    }

    /// `f′(x) = ξ′(x)·(1/ξ(x) + 1) − 1/x`, `ξ′(x) = mean y/(1 + x·y)`; only away from `x = 0`.
    fn slope(&self, x: f64) -> f64 {
        let d_shape = self.peaks.iter().map(|&y| y / (1.0 + x * y)).sum::<f64>() / self.peaks.len() as f64;
        d_shape * (1.0 / self.shape(x) + 1.0) - 1.0 / x
    }
}

/// The point where `below` turns false on `[lo, hi]` (`below(lo)` true, `below(hi)` false),
/// halving until the bracket cannot shrink.
fn bisect(mut lo: f64, mut hi: f64, below: impl Fn(f64) -> bool) -> f64 {
    loop {
        let mid = lo + (hi - lo) / 2.0;
        if mid <= lo || mid >= hi {
            return mid;
        }
        if below(mid) { lo = mid } else { hi = mid }
    }
}

/// The minimum of a unimodal `f` on `[a, b]`.
fn golden_section(mut a: f64, mut b: f64, f: impl Fn(f64) -> f64) -> f64 {
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let (mut c, mut d) = (b - ratio * (b - a), a + ratio * (b - a));
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..200 {
        if fc < fd {
            (b, d, fd) = (d, c, fc);
            c = b - ratio * (b - a);
            fc = f(c);
        } else {
            (a, c, fc) = (c, d, fd);
            d = a + ratio * (b - a);
            fd = f(d);
        }
    }
    (a + b) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_TEST: LabelledScores = LabelledScores { scores: &[], labels: &[] };

    /// The quantiles of GPD(ξ, σ) at `(i + ½)/n`: a sample without sampling noise.
    fn gpd_quantile_sample(shape: f64, scale: f64, n: usize) -> Vec<f64> {
        (0..n).map(|i| scale / shape * ((1.0 - (i as f64 + 0.5) / n as f64).powf(-shape) - 1.0)).collect()
    }

    /// SciPy 1.17.1: the root of the profile-likelihood derivative (brentq to 4 ulp),
    /// cross-checked against Nelder–Mead on `genpareto.logpdf` (scripts/dev/normality_references.py).
    #[test]
    fn fit_matches_scipys_maximum_likelihood() {
        for (shape, scale, n, want_shape, want_scale) in [
            (0.25, 1.5, 40, 0.20982916501564836, 1.5439844097838258),
            (-0.3, 2.0, 60, -0.3367656124381491, 2.0645164010124435),
        ] {
            let gpd = fit_gpd(&gpd_quantile_sample(shape, scale, n)).unwrap();
            assert!((gpd.shape - want_shape).abs() < 1e-9, "shape {} vs {want_shape}", gpd.shape);
            assert!((gpd.scale - want_scale).abs() < 1e-9 * want_scale, "scale {} vs {want_scale}", gpd.scale);
        }
    }

    /// SciPy 1.17.1 as above, with `u` and the peaks as [`EvtPot`] documents.
    #[test]
    fn threshold_matches_the_reference_computation() {
        let normal: Vec<f64> = (0..200).map(|i| -(-(i as f64 + 0.5) / 200.0).ln_1p()).collect();
        let t = EvtPot::new(0.8, 0.01).unwrap().threshold(&normal, &NO_TEST).unwrap();
        assert!((t - 4.517585958631234).abs() < 1e-9, "{t}");
    }

    #[test]
    fn exponential_tails_have_shape_near_zero_and_quantiles_follow() {
        // Exponential excesses (ξ = 0, σ = 2): the fit lands near ξ = 0 and stays finite.
        // n = 5000: ξ = −1 is then within rounding of the edge 1 + x·y_max = 0, where the
        // likelihood cannot be evaluated (a regression: the scan once picked that edge).
        let peaks: Vec<f64> = (0..5000).map(|i| -2.0 * (-(i as f64 + 0.5) / 5000.0).ln_1p()).collect();
        let gpd = fit_gpd(&peaks).unwrap();
        assert!(gpd.shape.abs() < 0.02 && (gpd.scale - 2.0).abs() < 0.05, "{gpd:?}");
        let exponential = Gpd { shape: 0.0, scale: 2.0 };
        assert!((exponential.exceeded_with_probability(0.01) - 2.0 * 100f64.ln()).abs() < 1e-12);
        let tiny = Gpd { shape: 1e-12, scale: 2.0 };
        assert!((tiny.exceeded_with_probability(0.01) - 2.0 * 100f64.ln()).abs() < 1e-9, "small ξ is continuous at 0");
        let heavy = Gpd { shape: 0.5, scale: 1.0 };
        assert!((heavy.exceeded_with_probability(0.25) - 2.0).abs() < 1e-12, "σ/ξ (p^-ξ − 1) = 2 (2 − 1)");
    }

    #[test]
    fn refuses_short_tails_and_risks_outside_them() {
        let normal: Vec<f64> = (0..40).map(f64::from).collect();
        let err = EvtPot::new(0.8, 0.01).unwrap().threshold(&normal, &NO_TEST).unwrap_err().to_string();
        assert!(err.contains("only 7 held-out normal scores exceed") && err.contains("at least 10"), "{err}");
        let normal: Vec<f64> = (0..100).map(f64::from).collect();
        let err = EvtPot::new(0.8, 0.3).unwrap().threshold(&normal, &NO_TEST).unwrap_err().to_string();
        assert!(err.contains("risk 0.3 is not in the tail"), "{err}");
        assert!(fit_gpd(&[1.0]).is_err());
        assert!(fit_gpd(&[1.0, 0.0]).is_err(), "excesses are positive");
    }
}
