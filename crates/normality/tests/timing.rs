//! Timings at realistic sizes (MVTec grid: 264 normal training images, 78 test images), on
//! random ReLU-like features. Ignored by default; run optimised:
//!
//! ```sh
//! CARGO_TARGET_DIR=/tmp/target-normality cargo test -p mon-normality --release --test timing -- --ignored --nocapture
//! ```
//!
//! Measured on the 2-core development machine, wall clock, release build (in parentheses: the
//! dev profile, where this crate runs at opt-level 0 and only `gemm` is optimised). Each test
//! also checks the result is sane.

use std::time::Instant;

use mon_normality::model::{
    Coreset, Fit, GaussianParams, KnnParams, Localise, PatchKnnParams, PositionGaussianParams, Score,
};
use mon_normality::{FeatureMaps, Features};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

fn relu_like(rng: &mut ChaCha8Rng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(-1.0f32..3.0).max(0.0)).collect()
}

fn maps(n: usize, c: usize, h: usize, w: usize, seed: u64) -> FeatureMaps {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    FeatureMaps::new(n, c, h, w, relu_like(&mut rng, n * c * h * w)).unwrap()
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    eprintln!("{what}: {:.2} s", start.elapsed().as_secs_f64());
    out
}

/// block5 of EfficientNet-Lite0: 80 channels at 14 × 14.
/// Measured: greedy coreset of 10 000 of 51 744 patches 3.7 s (28 s), scoring the 15 288 test
/// patches against it 0.19 s (2.0 s); a random coreset 0.01 s; the full memory of 51 744
/// patches, scoring 0.9 s (8.2 s).
#[test]
#[ignore]
fn timing_patch_knn_block5() {
    let (train, test) = (maps(264, 80, 14, 14, 1), maps(78, 80, 14, 14, 2));
    for (memory, coreset) in [(10_000, Coreset::Greedy), (10_000, Coreset::Random), (usize::MAX, Coreset::Random)] {
        let params = PatchKnnParams { memory, coreset, ..Default::default() };
        let model = timed(&format!("fit {params}"), || params.fit(&train).unwrap());
        let scores = timed(&format!("score 78 images, memory {}", model.memory_len()), || model.score(&test).unwrap());
        assert!(scores.iter().all(|s| s.is_finite() && *s > 0.0));
    }
}

/// block3: 40 channels at 28 × 28 (206 976 patches).
/// Measured: greedy coreset of 10 000 7.8 s, scoring the 61 152 test patches 0.47 s; the full
/// memory, scoring 8.9 s.
#[test]
#[ignore]
fn timing_patch_knn_block3() {
    let (train, test) = (maps(264, 40, 28, 28, 3), maps(78, 40, 28, 28, 4));
    for memory in [10_000, usize::MAX] {
        let params = PatchKnnParams { memory, ..Default::default() };
        let model = timed(&format!("fit {params}"), || params.fit(&train).unwrap());
        let maps = timed(&format!("anomaly maps of 78 images, memory {}", model.memory_len()), || model.anomaly_maps(&test).unwrap());
        assert_eq!((maps.n, maps.h, maps.w), (78, 28, 28));
    }
}

/// block10 (112 channels at 14 × 14) per-position Gaussian, and the global models on the
/// 1280-channel head. Measured: position_gaussian fit 0.06 s (2.4 s), score 0.03 s (0.6 s);
/// gaussian (211 × 1280) fit 0.21 s (5.9 s), score 0.02 s (0.3 s); knn{k=5} under 0.01 s.
#[test]
#[ignore]
fn timing_gaussian_models() {
    let (train, test) = (maps(264, 112, 14, 14, 5), maps(78, 112, 14, 14, 6));
    let params = PositionGaussianParams::default();
    let model = timed("fit position_gaussian (112 × 14 × 14)", || params.fit(&train).unwrap());
    timed("score position_gaussian", || model.score(&test).unwrap());

    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let head = Features::new(211, 1280, relu_like(&mut rng, 211 * 1280)).unwrap();
    let probe = Features::new(78, 1280, relu_like(&mut rng, 78 * 1280)).unwrap();
    let gaussian = timed("fit gaussian (211 × 1280)", || GaussianParams::default().fit(&head).unwrap());
    let s = timed("score gaussian", || gaussian.score(&probe).unwrap());
    assert!(s.iter().all(|v| v.is_finite() && *v > 0.0));
    let knn = KnnParams { k: 5, ..Default::default() }.fit(&head).unwrap();
    timed("score knn{k=5} (211 × 1280)", || knn.score(&probe).unwrap());
}
