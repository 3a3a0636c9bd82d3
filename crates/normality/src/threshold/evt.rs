//! Extreme-value thresholds: peaks over threshold with a generalised Pareto tail.

use crate::error::{require, require_open_unit};
use crate::threshold::{
    LabelledScores, RuleKind, ThresholdRule, floor_of_decimal, increasing_root, kth_highest, undefined, validation_copy, ULPS,
};
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
        let mut v = validation_copy(self, normal, 1, "a tail fit")?;
        let n = v.len();
        // Rank ⌊q·n⌋ ascending is rank n − 1 − ⌊q·n⌋ from the top, with the peaks' candidates above it.
        let above = n - 1 - (floor_of_decimal(self.q * n as f64) as usize).min(n - 1);
        let u = kth_highest(&mut v, above);
        let peaks: Vec<f64> = v[..above].iter().filter(|&&s| s > u).map(|s| s - u).collect();
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
/// trusting one root of `f′` (SPOT's approach can miss the global one), `f` is scanned on a grid
/// over `ξ ∈ [−1, 5]` (below −1 the likelihood is unbounded), log-spaced in `x` at
/// [`GRID_PER_DECADE`] points a decade out from `x = 0` (whose neighbourhood, where `f` is all
/// but quadratic, is one cell), and each local minimum of the grid is refined: by Newton on `f′`
/// when its cell brackets a root of `f′`, else (the cell around `x = 0`, or a minimum at an end)
/// by golden-section search on `f`. The best refined point wins.
pub fn fit_gpd(peaks: &[f64]) -> Result<Gpd> {
    require(
        peaks.len() >= 2 && peaks.iter().all(|&y| y > 0.0 && y.is_finite()),
        "fit_gpd",
        "peaks",
        format!("{} excesses", peaks.len()),
        "at least 2 positive finite excesses",
    )?;
    let profile = Profile { peaks, mean: peaks.iter().sum::<f64>() / peaks.len() as f64 };
    let y_max = peaks.iter().copied().fold(0.0, f64::max);
    // ξ(x) increases from −∞ at x = −1/y_max, concave: Newton from the left of its root never
    // overshoots. With many peaks ξ = −1 lies within rounding of −1/y_max: then so does x_low.
    let shape_at = |target: f64| {
        move |x: f64| {
            let [shape, d_shape, _] = profile.shape_derivatives(x);
            (shape - target, d_shape)
        }
    };
    let edge = -(1.0 - 4.0 * f64::EPSILON) / y_max;
    let x_low = if shape_at(-1.0)(edge).0 >= 0.0 { edge } else { increasing_root(-1.0 / y_max, 0.0, edge, ULPS, shape_at(-1.0)) };
    // ξ(x) > ln x + mean ln y bounds where it reaches 5.
    let mean_log = peaks.iter().map(|y| y.ln()).sum::<f64>() / peaks.len() as f64;
    let x_high = increasing_root(0.0, (5.0 - mean_log).exp(), f64::NAN, ULPS, shape_at(5.0));

    let ladder = |end: f64| {
        (0..)
            .map(move |k| end * 10f64.powf(-(k as f64) / GRID_PER_DECADE))
            .take_while(move |x| x.abs() * y_max >= GRID_INNERMOST)
    };
    let mut grid: Vec<f64> = ladder(x_low).chain([0.0]).collect();
    let positive_from = grid.len();
    grid.extend(ladder(x_high));
    grid[positive_from..].reverse();
    let values: Vec<f64> = grid.iter().map(|&x| profile.value(x)).collect();

    let mut best = (f64::INFINITY, 0.0);
    for i in 0..grid.len() {
        let left = if i == 0 { f64::INFINITY } else { values[i - 1] };
        let right = values.get(i + 1).copied().unwrap_or(f64::INFINITY);
        if !(values[i] < left && values[i] <= right) {
            continue;
        }
        let (a, b) = (grid[i.saturating_sub(1)], grid[(i + 1).min(grid.len() - 1)]);
        let straddles_zero = a <= 0.0 && b >= 0.0;
        let x = if straddles_zero || profile.slope_and_curvature(a).0 >= 0.0 || profile.slope_and_curvature(b).0 <= 0.0 {
            golden_section(a, b, |x| profile.value(x))
        } else {
            // f′ is accurate to ~1e-13 only (it cancels), so Newton stops there.
            increasing_root(a, b, grid[i], 1e-12, |x| profile.slope_and_curvature(x))
        };
        let value = profile.value(x);
        if value < best.0 {
            best = (value, x);
        }
    }
    let x = best.1;
    Ok(Gpd { shape: profile.shape(x), scale: profile.scale(x) })
}

/// Grid points per decade of `x` in [`fit_gpd`]'s scan: the terms `ln(1 + x·yᵢ)` of `f` bend over
/// about a decade of `x` each, so a basin of `f` spans several grid points (a test checks the fit
/// against a 15-per-decade scan on a range of tails).
const GRID_PER_DECADE: f64 = 4.0;
/// The grid's points closest to 0 have `|x|·y_max` this small; inside, `f` is its quadratic Taylor
/// polynomial to within ~1e-9 (relative), so one cell holds any minimum there.
const GRID_INNERMOST: f64 = 1e-3;

/// Grimshaw's profile of the GPD likelihood in `x = ξ/σ`.
#[derive(Clone, Copy)]
struct Profile<'a> {
    peaks: &'a [f64],
    mean: f64,
}

impl Profile<'_> {
    /// `ξ(x) = mean ln(1 + x·y)`.
    fn shape(&self, x: f64) -> f64 {
        self.peaks.iter().map(|&y| (x * y).ln_1p()).sum::<f64>() / self.peaks.len() as f64
    }

    /// `ξ(x)`, `ξ′(x) = mean y/(1 + x·y)` and `ξ″(x) = −mean (y/(1 + x·y))²`, in one pass.
    fn shape_derivatives(&self, x: f64) -> [f64; 3] {
        let mut sums = [0.0; 3];
        for &y in self.peaks {
            let d = y / (1.0 + x * y);
            sums[0] += (x * y).ln_1p();
            sums[1] += d;
            sums[2] -= d * d;
        }
        sums.map(|sum| sum / self.peaks.len() as f64)
    }

    /// `σ(x) = ξ(x)/x`, which tends to `ȳ` as `x → 0`.
    fn scale(&self, x: f64) -> f64 {
        if x == 0.0 { self.mean } else { self.shape(x) / x }
    }

    /// The negative log-likelihood per peak at `(ξ(x), σ(x))`, in one pass; +∞ where it cannot be
    /// evaluated (at the edge `1 + x·y_max = 0`, which `x` can reach in rounding).
    fn value(&self, x: f64) -> f64 {
        let shape = if x == 0.0 { 0.0 } else { self.shape(x) };
        let scale = if x == 0.0 { self.mean } else { shape / x };
        let v = scale.ln() + shape + 1.0;
        if v.is_finite() { v } else { f64::INFINITY }
    }

    /// `f′(x) = ξ′(x)·(1/ξ(x) + 1) − 1/x` and `f″(x)`, in one pass; only away from `x = 0`.
    fn slope_and_curvature(&self, x: f64) -> (f64, f64) {
        let [shape, d_shape, d2_shape] = self.shape_derivatives(x);
        let slope = d_shape * (1.0 / shape + 1.0) - 1.0 / x;
        let curvature = d2_shape * (1.0 / shape + 1.0) - (d_shape / shape).powi(2) + 1.0 / (x * x);
        (slope, curvature)
    }
}

/// The minimum of a unimodal `f` on `[a, b]`, to a billionth of the interval (beyond that the
/// rounding of a flat `f` decides).
fn golden_section(mut a: f64, mut b: f64, f: impl Fn(f64) -> f64) -> f64 {
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let tolerance = 1e-9 * (b - a);
    let (mut c, mut d) = (b - ratio * (b - a), a + ratio * (b - a));
    let (mut fc, mut fd) = (f(c), f(d));
    while b - a > tolerance {
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

    /// The fit as it was before the scan got coarser (slow: 241 grid points, bisection to the
    /// last bit), kept as the reference that [`fit_gpd`] must reproduce.
    fn reference_fit(peaks: &[f64]) -> Gpd {
        let n = peaks.len() as f64;
        let shape = |x: f64| peaks.iter().map(|&y| (x * y).ln_1p()).sum::<f64>() / n;
        let mean = peaks.iter().sum::<f64>() / n;
        let scale = |x: f64| if x == 0.0 { mean } else { peaks.iter().map(|&y| (x * y).ln_1p() / x).sum::<f64>() / n };
        let value = |x: f64| Some(scale(x).ln() + shape(x) + 1.0).filter(|v| v.is_finite()).unwrap_or(f64::INFINITY);
        let slope = |x: f64| peaks.iter().map(|&y| y / (1.0 + x * y)).sum::<f64>() / n * (1.0 / shape(x) + 1.0) - 1.0 / x;
        let bisect = |mut lo: f64, mut hi: f64, below: &dyn Fn(f64) -> bool| loop {
            let mid = lo + (hi - lo) / 2.0;
            if mid <= lo || mid >= hi {
                return mid;
            }
            if below(mid) { lo = mid } else { hi = mid }
        };
        let y_max = peaks.iter().copied().fold(0.0, f64::max);
        let x_low = bisect(-1.0 / y_max, 0.0, &|x| shape(x) < -1.0);
        let mut x_high = 1.0 / mean;
        while shape(x_high) < 5.0 {
            x_high *= 2.0;
        }
        let x_high = bisect(0.0, x_high, &|x| shape(x) < 5.0);
        let decade = |end: f64, k: usize| end * 10f64.powf(-8.0 * (1.0 - k as f64 / 119.0));
        let grid: Vec<f64> = (0..120).rev().map(|k| decade(x_low, k)).chain([0.0]).chain((0..120).map(|k| decade(x_high, k))).collect();
        let best = (0..grid.len()).min_by(|&a, &b| value(grid[a]).total_cmp(&value(grid[b]))).unwrap();
        let (mut a, mut b) = (grid[best.saturating_sub(1)], grid[(best + 1).min(grid.len() - 1)]);
        let x = if (a <= 0.0 && b >= 0.0) || slope(a) >= 0.0 || slope(b) <= 0.0 {
            let ratio = (5f64.sqrt() - 1.0) / 2.0;
            for _ in 0..200 {
                let (c, d) = (b - ratio * (b - a), a + ratio * (b - a));
                if value(c) < value(d) { b = d } else { a = c }
            }
            (a + b) / 2.0
        } else {
            bisect(a, b, &|x| slope(x) < 0.0)
        };
        Gpd { shape: shape(x), scale: scale(x) }
    }

    /// The coarser scan and Newton refinement land where the old dense scan did, on tails light
    /// and heavy, exact and sampled, small and large.
    #[test]
    fn fit_matches_the_dense_reference_scan() {
        use rand::rngs::ChaCha8Rng;
        use rand::{RngExt, SeedableRng};
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut samples: Vec<Vec<f64>> = Vec::new();
        for &n in &[20, 100, 1000, 3000] {
            for &shape in &[-0.9, -0.5, -0.2, -0.05, 0.0, 0.05, 0.2, 0.5, 1.0, 2.0] {
                let quantile = |u: f64| if shape == 0.0 { -u.ln() } else { (u.powf(-shape) - 1.0) / shape };
                samples.push((0..n).map(|i| quantile(1.0 - (i as f64 + 0.5) / n as f64)).collect());
                samples.push((0..n).map(|_| quantile(rng.random_range(f64::EPSILON..1.0))).collect());
            }
            let mut draw = |f: &dyn Fn(&mut ChaCha8Rng) -> f64| -> Vec<f64> {
                let mut v: Vec<f64> = (0..n * 5).map(|_| f(&mut rng)).collect();
                v.sort_unstable_by(f64::total_cmp);
                let u = v[n * 4];
                v[n * 4..].iter().filter(|&&s| s > u).map(|s| s - u).collect()
            };
            // Tails above the 80% quantile: gamma(3), uniform, log-normal, Gaussian.
            samples.push(draw(&|r| (0..3).map(|_| -r.random_range(f64::EPSILON..1.0).ln()).sum()));
            samples.push(draw(&|r| r.random_range(0.0..1.0)));
            samples.push(draw(&|r| (r.random_range(-1.0..1.0) + r.random_range(-1.0..1.0) + r.random_range(-1.0..1.0f64)).exp()));
            samples.push(draw(&|r| (0..12).map(|_| r.random_range(0.0..1.0)).sum()));
        }
        for peaks in &samples {
            let (fit, reference) = (fit_gpd(peaks).unwrap(), reference_fit(peaks));
            let (q, q_ref) = (fit.exceeded_with_probability(0.05), reference.exceeded_with_probability(0.05));
            assert!((q - q_ref).abs() <= 1e-6 * q_ref, "{} peaks: {fit:?} vs {reference:?}", peaks.len());
            assert!((fit.shape - reference.shape).abs() <= 1e-6, "{} peaks: {fit:?} vs {reference:?}", peaks.len());
        }
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
