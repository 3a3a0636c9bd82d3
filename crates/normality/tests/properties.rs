//! Properties over many seeded random cases (deterministic: fixed ChaCha8 seeds), each stated so
//! that a wrong implementation fails it: rank metrics ignore monotone transforms, label-free
//! rules hold their false-alarm rate on fresh normal data, the EVT fit recovers a known tail, and
//! the shrunk Gaussian fits with fewer images than dimensions.

use mon_normality::Features;
use mon_normality::metrics::{auroc, average_precision};
use mon_normality::model::{Fit, GaussianParams, Score};
use mon_normality::threshold::{EvtPot, LabelledScores, ThresholdRule, fit_gpd, parse_rule};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

const NO_TEST: LabelledScores = LabelledScores { scores: &[], labels: &[] };

/// A named score transform, a named distribution.
type Transform = (&'static str, fn(f64) -> f64);
type Distribution = (&'static str, fn(&mut ChaCha8Rng) -> f64);

/// Standard normal by Box–Muller.
fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    let (u, v): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

fn exponential(rng: &mut ChaCha8Rng) -> f64 {
    -(1.0 - rng.random::<f64>()).ln()
}

/// GPD(ξ, σ) by inverting its survival function.
fn gpd(rng: &mut ChaCha8Rng, shape: f64, scale: f64) -> f64 {
    let p = 1.0 - rng.random::<f64>();
    if shape == 0.0 { -scale * p.ln() } else { scale / shape * (p.powf(-shape) - 1.0) }
}

#[test]
fn auroc_and_ap_are_invariant_under_strictly_increasing_transforms() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let transforms: [Transform; 4] =
        [("exp", f64::exp), ("x³ + x", |x| x * x * x + x), ("3x − 7", |x| 3.0 * x - 7.0), ("atan", f64::atan)];
    for case in 0..100 {
        let n = rng.random_range(4..200);
        // Scores on a grid of 1e-3 (so ties occur, and stay ties) within [−3, 3], where every
        // transform above keeps distinct grid values distinct in f64.
        let grid = if case % 2 == 0 { 1000.0 } else { 10.0 };
        let scores: Vec<f64> = (0..n).map(|_| (rng.random_range(-3.0f64..3.0) * grid).round() / grid).collect();
        let mut labels: Vec<bool> = (0..n).map(|_| rng.random::<f64>() < 0.3).collect();
        labels[0] = true;
        labels[1] = false;
        let (a, ap) = (auroc(&scores, &labels).unwrap(), average_precision(&scores, &labels).unwrap());
        for (name, f) in transforms {
            let moved: Vec<f64> = scores.iter().map(|&s| f(s)).collect();
            assert_eq!(auroc(&moved, &labels).unwrap(), a, "case {case}: AUROC under {name}");
            assert_eq!(average_precision(&moved, &labels).unwrap(), ap, "case {case}: AP under {name}");
        }
        // A decreasing transform reverses the ranking: the test can tell.
        let reversed: Vec<f64> = scores.iter().map(|s| -s).collect();
        assert!((auroc(&reversed, &labels).unwrap() - (1.0 - a)).abs() < 1e-12, "case {case}");
    }
}

/// Mean false-alarm rate over `trials` of a rule set on `n` validation scores and applied to
/// `fresh` new ones, all drawn from `draw`.
fn mean_false_alarm_rate(rule: &dyn ThresholdRule, n: usize, fresh: usize, trials: usize, seed: u64, draw: fn(&mut ChaCha8Rng) -> f64) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut total = 0.0;
    for _ in 0..trials {
        let validation: Vec<f64> = (0..n).map(|_| draw(&mut rng)).collect();
        let t = rule.threshold(&validation, &NO_TEST).unwrap();
        total += (0..fresh).filter(|_| draw(&mut rng) >= t).count() as f64 / fresh as f64;
    }
    total / trials as f64
}

/// On continuous scores, a threshold at the validation order statistic with `a` scores above it
/// has a fresh false-alarm rate distributed Beta(a + 1, n − a) (mean `(a + 1)/(n + 1)`), observed
/// through `fresh` Bernoulli draws; the standard error of the mean over `trials`.
fn standard_error(p: f64, n: usize, fresh: usize, trials: usize) -> f64 {
    let beta_variance = p * (1.0 - p) / (n as f64 + 2.0);
    let binomial_variance = p * (1.0 - p) / fresh as f64;
    ((beta_variance + binomial_variance) / trials as f64).sqrt()
}

#[test]
fn conformal_and_quantile_hold_their_false_alarm_rate_on_fresh_normal_scores() {
    let (n, fresh, trials) = (99, 1000, 200);
    let draws: [Distribution; 2] = [("gaussian", gaussian), ("exponential", exponential)];
    for (seed, (distribution, draw)) in draws.into_iter().enumerate() {
        // conformal{alpha=0.1} with n = 99: ⌊0.1 · 100⌋ = 10 → false-alarm rate exactly 10/100.
        // quantile{q=0.9}: ⌊99 · 0.1⌋ = 9 validation scores at or above → 9/100, below 1 − q.
        for (spec, target, expected) in [("conformal{alpha=0.1}", 0.1, 0.10), ("quantile{q=0.9}", 0.1, 0.09)] {
            let rule = parse_rule(spec).unwrap();
            let far = mean_false_alarm_rate(rule.as_ref(), n, fresh, trials, seed as u64, draw);
            let se = standard_error(expected, n, fresh, trials);
            assert!(far <= target + 3.0 * se, "{spec} on {distribution}: false-alarm rate {far} above {target} + 3·{se}");
            assert!((far - expected).abs() <= 3.0 * se, "{spec} on {distribution}: {far}, expected {expected} ± 3·{se}");
        }
    }
}

#[test]
fn gpd_fit_recovers_a_known_tail() {
    let n = 5000;
    // Standard errors of the MLE at n = 5000: about (1 + ξ)/√n ≈ 0.017 for ξ and
    // σ·√(2(1 + ξ)/n) ≈ 0.022 for σ; the tolerances are about 4 of them.
    for (seed, shape, scale) in [(1, 0.2, 1.0), (2, -0.25, 2.0), (3, 0.0, 0.5)] {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let peaks: Vec<f64> = (0..n).map(|_| gpd(&mut rng, shape, scale)).collect();
        let fit = fit_gpd(&peaks).unwrap();
        assert!((fit.shape - shape).abs() < 0.07, "ξ = {shape}: fitted {}", fit.shape);
        assert!((fit.scale / scale - 1.0).abs() < 0.09, "σ = {scale}: fitted {}", fit.scale);
    }
}

#[test]
fn evt_threshold_lands_on_the_true_tail_quantile() {
    // Exponential scores: P(X > z) = e^{−z}, so the risk-0.001 threshold is ln 1000 ≈ 6.91.
    // Extrapolating from the 0.9 quantile (2000 peaks), ξ's standard error ≈ 0.025 moves z by
    // about σ·ln(100)²/2 · 0.025 ≈ 0.27: tolerance 0.8.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let scores: Vec<f64> = (0..20_000).map(|_| exponential(&mut rng)).collect();
    let z = EvtPot::new(0.9, 0.001).unwrap().threshold(&scores, &NO_TEST).unwrap();
    assert!((z - 1000f64.ln()).abs() < 0.8, "{z}");
}

#[test]
fn shrunk_gaussian_fits_with_fewer_images_than_dimensions() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for (n, d) in [(3, 10), (10, 50), (40, 200)] {
        let data: Vec<f32> = (0..n * d).map(|_| gaussian(&mut rng) as f32).collect();
        let normal = Features::new(n, d, data).unwrap();
        let model = GaussianParams::default().fit(&normal).unwrap();
        let mean = Features::new(1, d, model.mean().iter().map(|&m| m as f32).collect()).unwrap();
        assert!(model.score(&mean).unwrap()[0] < 1e-3, "the mean is at Mahalanobis distance 0");
        let probe = Features::new(1, d, (0..d).map(|_| gaussian(&mut rng) as f32).collect()).unwrap();
        let s = model.score(&probe).unwrap()[0];
        assert!(s.is_finite() && s > 0.0, "n={n} d={d}: {s}");
    }
}
