//! Label-free rules: thresholds from the held-out normal (validation) scores alone.

use crate::error::{require, require_open_unit};
use crate::threshold::{
    LabelledScores, RuleKind, ThresholdRule, ceil_of_decimal, check_validation, floor_of_decimal, increasing_root, kth_highest, median,
    undefined, ULPS,
    validation_copy,
};
use crate::Result;

/// `mean + k·std` of the validation scores (sample standard deviation, `n − 1` in the
/// denominator): the paper's rule, exact for Gaussian scores, fragile under outliers. `k ≥ 0`: a
/// negative `k` puts the threshold below the mean, flagging most normal images.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeanKStd {
    k: f64,
}

impl MeanKStd {
    pub const DEFAULT_K: f64 = 3.0;

    pub fn new(k: f64) -> Result<Self> {
        require(k.is_finite() && k >= 0.0, "mean_k_std", "k", k, "a finite number ≥ 0 (below 0 the threshold is under the mean and flags most normal images)")?;
        Ok(Self { k })
    }
}

impl ThresholdRule for MeanKStd {
    fn name(&self) -> String {
        format!("mean_k_std{{k={}}}", self.k)
    }

    fn kind(&self) -> RuleKind {
        RuleKind::LabelFree
    }

    fn threshold(&self, normal: &[f64], _test: &LabelledScores) -> Result<f64> {
        check_validation(self, normal, 2, "a standard deviation")?;
        let n = normal.len() as f64;
        let mean = normal.iter().sum::<f64>() / n;
        let var = normal.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1.0);
        Ok(mean + self.k * var.sqrt())
    }
}

/// The lowest observed validation score `t` whose in-sample false-alarm rate `#{v ≥ t}/n` is
/// at most `1 − q` (target false-alarm rate `1 − q`).
///
/// With `n` distinct validation scores this is the order statistic of rank `⌈nq⌉ + 1`
/// (ascending, 1-based): one rank above the `inverted_cdf` q-quantile, so that the bound holds
/// even when `nq` is a whole number; `a = ⌊n(1 − q)⌋` validation scores lie at or above it.
/// On fresh normal scores its expected false-alarm rate is `a/(n + 1) < 1 − q`. Tied scores are
/// never split: the threshold moves up to the next distinct score when a tie would exceed `a`.
/// Undefined when `a = 0`, i.e. with fewer than `1/(1 − q)` validation scores.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quantile {
    q: f64,
}

impl Quantile {
    pub const DEFAULT_Q: f64 = 0.95;

    pub fn new(q: f64) -> Result<Self> {
        Ok(Self { q: require_open_unit("quantile", "q", q)? })
    }
}

impl ThresholdRule for Quantile {
    fn name(&self) -> String {
        format!("quantile{{q={}}}", self.q)
    }

    fn kind(&self) -> RuleKind {
        RuleKind::LabelFree
    }

    fn threshold(&self, normal: &[f64], _test: &LabelledScores) -> Result<f64> {
        let mut v = validation_copy(self, normal, 1, "a quantile")?;
        let allowed = floor_of_decimal(v.len() as f64 * (1.0 - self.q)) as usize;
        if allowed == 0 {
            let needed = ceil_of_decimal(1.0 / (1.0 - self.q));
            return Err(undefined(
                self,
                format!(
                    "an in-sample false-alarm rate of at most {} needs at least {needed} held-out normal scores, got {}; \
                     raise the validation fraction or lower q",
                    1.0 - self.q,
                    v.len()
                ),
            ));
        }
        lowest_with_at_most(&mut v, allowed).ok_or_else(|| {
            undefined(self, format!("the {} highest held-out normal scores are tied, so no observed score flags at most {allowed}", allowed + 1))
        })
    }
}

/// The lowest value `t` among `values` with `#{v ≥ t} ≤ allowed` (`allowed ≥ 1`); `None` when
/// the top `allowed + 1` values are tied. Reorders `values`.
fn lowest_with_at_most(values: &mut [f64], allowed: usize) -> Option<f64> {
    let next = (allowed < values.len()).then(|| kth_highest(values, allowed));
    let top = &values[..allowed];
    let t = top.iter().copied().min_by(f64::total_cmp).expect("allowed ≥ 1");
    if next != Some(t) {
        return Some(t);
    }
    // The tie at `t` spills past `allowed`: step up to the lowest value above it.
    top.iter().copied().filter(|&v| v > t).min_by(f64::total_cmp)
}

/// The highest validation score: flags scores at or above it (so the validation maximum itself
/// would count as a false alarm).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxNormal;

impl ThresholdRule for MaxNormal {
    fn name(&self) -> String {
        "max_normal".into()
    }

    fn kind(&self) -> RuleKind {
        RuleKind::LabelFree
    }

    fn threshold(&self, normal: &[f64], _test: &LabelledScores) -> Result<f64> {
        check_validation(self, normal, 1, "a maximum")?;
        Ok(normal.iter().copied().max_by(f64::total_cmp).expect("at least one score"))
    }
}

/// Split-conformal anomaly detection (Vovk et al. 2005; Laxhammar & Falkman 2015): the p-value
/// of a score `s` against `n` validation scores is `p(s) = (1 + #{v ≥ s}) / (n + 1)`, and `s`
/// is anomalous when `p(s) ≤ α`. On exchangeable normal data the false-alarm rate is then
/// `⌊α(n + 1)⌋/(n + 1) ≤ α`, whatever the score distribution.
///
/// The threshold returned is the equivalent one for `score >= threshold`: with
/// `a = ⌊α(n + 1)⌋ − 1` (the validation scores allowed at or above an anomalous score), `p(s) ≤ α`
/// ⇔ `s` is above the `(a + 1)`-th highest validation score, so the threshold is the next `f64`
/// above that score. Undefined when `α < 1/(n + 1)`: no p-value can be that small.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conformal {
    alpha: f64,
}

impl Conformal {
    pub const DEFAULT_ALPHA: f64 = 0.05;

    pub fn new(alpha: f64) -> Result<Self> {
        Ok(Self { alpha: require_open_unit("conformal", "alpha", alpha)? })
    }

    /// `p(s)` against the validation scores.
    pub fn p_value(normal: &[f64], score: f64) -> f64 {
        (1 + normal.iter().filter(|&&v| v >= score).count()) as f64 / (normal.len() + 1) as f64
    }
}

impl ThresholdRule for Conformal {
    fn name(&self) -> String {
        format!("conformal{{alpha={}}}", self.alpha)
    }

    fn kind(&self) -> RuleKind {
        RuleKind::LabelFree
    }

    fn threshold(&self, normal: &[f64], _test: &LabelledScores) -> Result<f64> {
        let mut v = validation_copy(self, normal, 1, "a conformal p-value")?;
        let multiple = floor_of_decimal(self.alpha * (v.len() + 1) as f64) as usize;
        let Some(allowed) = multiple.checked_sub(1) else {
            let needed = ceil_of_decimal(1.0 / self.alpha) - 1.0;
            return Err(undefined(
                self,
                format!(
                    "p-values are at least 1/(n + 1), so alpha = {} needs at least {needed} held-out normal scores, got {}; \
                     raise the validation fraction or alpha",
                    self.alpha,
                    v.len()
                ),
            ));
        };
        Ok(kth_highest(&mut v, allowed).next_up())
    }
}

/// A robust Gaussian fit of the validation scores: `median + z · 1.4826 · MAD`, where MAD is
/// the median absolute deviation from the median (1.4826 makes it the standard deviation for
/// Gaussian data). Unlike [`MeanKStd`], a few outlying validation scores barely move it.
/// Medians of an even count average the two middle values. Undefined when the MAD is 0 (half
/// or more of the scores equal).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GaussianTail {
    z: f64,
}

impl GaussianTail {
    pub const DEFAULT_Z: f64 = 3.0;
    /// `1/Φ⁻¹(3/4)`, the MAD-to-standard-deviation factor of a Gaussian.
    pub const MAD_TO_STD: f64 = 1.4826;

    pub fn new(z: f64) -> Result<Self> {
        require(z.is_finite(), "gaussian_tail", "z", z, "a finite number")?;
        Ok(Self { z })
    }
}

impl ThresholdRule for GaussianTail {
    fn name(&self) -> String {
        format!("gaussian_tail{{z={}}}", self.z)
    }

    fn kind(&self) -> RuleKind {
        RuleKind::LabelFree
    }

    fn threshold(&self, normal: &[f64], _test: &LabelledScores) -> Result<f64> {
        let mut v = validation_copy(self, normal, 2, "a median absolute deviation")?;
        let centre = median(&mut v);
        v.iter_mut().for_each(|s| *s = (*s - centre).abs());
        let mad = median(&mut v);
        if mad == 0.0 {
            return Err(undefined(self, "the median absolute deviation is 0 (half or more of the held-out normal scores are equal)"));
        }
        Ok(centre + self.z * Self::MAD_TO_STD * mad)
    }
}

/// A Gaussian kernel density estimate of the validation scores, thresholded where its survival
/// function equals `fpr`: `(1/n) Σ Φ̄((t − vᵢ)/h) = fpr`, solved to the last bit.
/// Bandwidth by Scott's rule as SciPy's `gaussian_kde` (its default): `h = σ̂ · n^(−1/5)` with
/// `σ̂` the sample standard deviation (`n − 1`). It extrapolates smoothly beyond the highest
/// validation score, which the empirical rules cannot. Undefined for fewer than 2 scores or
/// when they are all equal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KdeTail {
    fpr: f64,
}

impl KdeTail {
    pub const DEFAULT_FPR: f64 = 0.05;

    pub fn new(fpr: f64) -> Result<Self> {
        Ok(Self { fpr: require_open_unit("kde_tail", "fpr", fpr)? })
    }
}

impl ThresholdRule for KdeTail {
    fn name(&self) -> String {
        format!("kde_tail{{fpr={}}}", self.fpr)
    }

    fn kind(&self) -> RuleKind {
        RuleKind::LabelFree
    }

    fn threshold(&self, normal: &[f64], _test: &LabelledScores) -> Result<f64> {
        let mut v = validation_copy(self, normal, 2, "a kernel bandwidth")?;
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let std = (v.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        if std == 0.0 {
            return Err(undefined(self, "all held-out normal scores are equal, so the kernel bandwidth is 0"));
        }
        let h = std * n.powf(-0.2);
        let rank = ((self.fpr * n) as usize).min(v.len() - 1);
        let empirical = kth_highest(&mut v, rank);
        // A kernel more than `reach` bandwidths from t contributes Φ̄(z) < e^(−z²/2)/2 = fpr·1e-17/2
        // (or 1 less that): all of them together move S(t) near the root, where it is fpr, by
        // less than its rounding, so they count as exactly 0 or 1 and only the kernels near t are
        // evaluated (erfc is most of the cost).
        let reach = (-2.0 * (self.fpr * 1e-17).ln()).sqrt();
        // The survival function S(t) = (1/n) Σ Φ̄((t − vᵢ)/h) and its derivative −density(t), in
        // one pass.
        let survival_and_density = |t: f64| {
            let (mut survival, mut density) = (0.0, 0.0);
            for s in &v {
                let z = (t - s) / h;
                if z < -reach {
                    survival += 1.0;
                } else if z <= reach {
                    survival += 0.5 * libm::erfc(z * std::f64::consts::FRAC_1_SQRT_2);
                    density += (-0.5 * z * z).exp();
                }
            }
            (survival / n, density / (n * h * (2.0 * std::f64::consts::PI).sqrt()))
        };
        // S(lo) ≈ 1 > fpr ≥ S(hi); widen `hi` for tiny rates.
        let (min, max) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &s| (lo.min(s), hi.max(s)));
        let (lo, mut hi) = (min - 10.0 * h, max + 10.0 * h);
        while survival_and_density(hi).0 > self.fpr {
            hi += 10.0 * h;
        }
        // Newton from the empirical quantile: bisection's root in about 5 passes instead of ~60.
        Ok(increasing_root(lo, hi, empirical, ULPS, |t| {
            let (survival, density) = survival_and_density(t);
            (self.fpr - survival, density)
        }))
    }
}

/// A threshold given by the user.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Manual {
    value: f64,
}

impl Manual {
    pub fn new(value: f64) -> Result<Self> {
        require(value.is_finite(), "manual", "value", value, "a finite number")?;
        Ok(Self { value })
    }
}

impl ThresholdRule for Manual {
    fn name(&self) -> String {
        format!("manual{{value={}}}", self.value)
    }

    fn kind(&self) -> RuleKind {
        RuleKind::LabelFree
    }

    fn threshold(&self, _normal: &[f64], _test: &LabelledScores) -> Result<f64> {
        Ok(self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    const NO_TEST: LabelledScores = LabelledScores { scores: &[], labels: &[] };

    fn in_sample_false_alarms(normal: &[f64], t: f64) -> usize {
        normal.iter().filter(|&&v| v >= t).count()
    }

    #[test]
    fn mean_k_std_uses_the_sample_standard_deviation() {
        let rule = MeanKStd::new(2.0).unwrap();
        // mean 2.5, sample variance 5/3
        let t = rule.threshold(&[1.0, 2.0, 3.0, 4.0], &NO_TEST).unwrap();
        assert!((t - (2.5 + 2.0 * (5.0f64 / 3.0).sqrt())).abs() < 1e-12);
        assert!(matches!(rule.threshold(&[1.0], &NO_TEST), Err(Error::RuleUndefined { .. })));
    }

    #[test]
    fn quantile_is_the_order_statistic_of_rank_ceil_nq_plus_one() {
        let normal: Vec<f64> = (1..=10).rev().map(f64::from).collect(); // 1 … 10, unsorted
        for (q, want) in [(0.8, 9.0), (0.85, 10.0), (0.5, 6.0), (0.75, 9.0), (0.1, 2.0)] {
            let t = Quantile::new(q).unwrap().threshold(&normal, &NO_TEST).unwrap();
            assert_eq!(t, want, "q = {q}");
            assert!(in_sample_false_alarms(&normal, t) as f64 / 10.0 <= 1.0 - q + 1e-12);
            // … and it is the lowest observed score that keeps the bound.
            assert!(in_sample_false_alarms(&normal, t - 1.0) as f64 / 10.0 > 1.0 - q + 1e-12);
        }
        let err = Quantile::new(0.95).unwrap().threshold(&normal, &NO_TEST).unwrap_err().to_string();
        assert!(err.contains("at least 20 held-out normal scores, got 10"), "{err}");
    }

    #[test]
    fn quantile_never_splits_ties() {
        // Allowed 2 alarms, but the 2nd and 3rd highest are tied: step up to 9.
        let normal = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 8.0, 9.0];
        assert_eq!(Quantile::new(0.8).unwrap().threshold(&normal, &NO_TEST).unwrap(), 9.0);
        let tied_top = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 9.0, 9.0, 9.0];
        assert!(Quantile::new(0.8).unwrap().threshold(&tied_top, &NO_TEST).unwrap_err().to_string().contains("tied"));
    }

    #[test]
    fn conformal_threshold_is_equivalent_to_its_p_value_test() {
        let normal: Vec<f64> = (0..19).map(|i| ((i * 7) % 19) as f64 * 0.5).chain([3.0, 3.0]).collect(); // n = 21, with a tie
        for alpha in [0.05, 0.1, 0.2, 0.5, 0.9] {
            let t = Conformal::new(alpha).unwrap().threshold(&normal, &NO_TEST).unwrap();
            let probes = normal.iter().flat_map(|&v| [v.next_down(), v, v.next_up()]).chain([t, t.next_down(), 100.0, -100.0]);
            for s in probes {
                // p(s) computed from the definition, independently of the rule.
                let p = (1 + normal.iter().filter(|&&v| v >= s).count()) as f64 / 22.0;
                assert_eq!(s >= t, p <= alpha + 1e-12, "alpha {alpha}, score {s}, threshold {t}, p {p}");
            }
        }
        assert_eq!(Conformal::p_value(&[1.0, 2.0, 3.0], 2.0), 0.75);
        let err = Conformal::new(0.01).unwrap().threshold(&normal, &NO_TEST).unwrap_err().to_string();
        assert!(err.contains("at least 99 held-out normal scores, got 21"), "{err}");
    }

    #[test]
    fn max_normal_is_the_maximum() {
        assert_eq!(MaxNormal.threshold(&[0.3, 0.9, 0.1], &NO_TEST).unwrap(), 0.9);
        assert!(MaxNormal.threshold(&[], &NO_TEST).is_err());
    }

    #[test]
    fn gaussian_tail_is_median_plus_scaled_mad_and_ignores_an_outlier() {
        // median 3, |deviations| 2, 1, 0, 1, 2 → MAD 1.
        let normal = [1.0, 2.0, 3.0, 4.0, 5.0];
        let rule = GaussianTail::new(2.0).unwrap();
        assert!((rule.threshold(&normal, &NO_TEST).unwrap() - (3.0 + 2.0 * 1.4826)).abs() < 1e-12);
        let with_outlier = [1.0, 2.0, 3.0, 4.0, 500.0];
        assert!((rule.threshold(&with_outlier, &NO_TEST).unwrap() - (3.0 + 2.0 * 1.4826)).abs() < 1e-12);
        // Even count: median (2 + 3)/2 = 2.5, deviations 1.5, 0.5, 0.5, 1.5 → MAD 1.
        assert!((rule.threshold(&[1.0, 2.0, 3.0, 4.0], &NO_TEST).unwrap() - (2.5 + 2.0 * 1.4826)).abs() < 1e-12);
        assert!(rule.threshold(&[1.0, 1.0, 1.0, 2.0], &NO_TEST).unwrap_err().to_string().contains("deviation is 0"));
    }

    /// SciPy 1.17.1 `gaussian_kde` (Scott) on `((i·37) mod 101)/50 + (i mod 5)²/10`,
    /// `i < 25`; thresholds where `integrate_box_1d(t, ∞) = fpr` (brentq to 1e-15), see
    /// scripts/dev/normality_references.py.
    #[test]
    fn kde_tail_matches_scipy() {
        let normal: Vec<f64> = (0..25).map(|i| ((i * 37) % 101) as f64 / 50.0 + ((i % 5) * (i % 5)) as f64 / 10.0).collect();
        for (fpr, scipy) in [(0.05, 3.345560317486228), (0.2, 2.4195086929156853)] {
            let t = KdeTail::new(fpr).unwrap().threshold(&normal, &NO_TEST).unwrap();
            assert!((t - scipy).abs() < 1e-9, "fpr {fpr}: {t} vs SciPy {scipy}");
        }
        let far = KdeTail::new(1e-12).unwrap().threshold(&normal, &NO_TEST).unwrap();
        assert!(far > normal.iter().cloned().fold(f64::MIN, f64::max), "tiny rates extrapolate past the maximum");
        assert!(KdeTail::new(0.05).unwrap().threshold(&[2.0, 2.0], &NO_TEST).is_err());
    }
}
