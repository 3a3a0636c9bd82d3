//! Where the test fixtures live, and the skip-or-fail rule for them: on a user's machine a
//! test whose fixture is absent prints why and passes vacuously; in CI (`MON_REQUIRE_FIXTURES`
//! set by `.ci/run`) the same absence is a failure, so nothing is skipped silently there.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The project root (the workspace directory).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root exists")
}

/// `path` if it exists; otherwise `None` after printing why the calling test skips, or a panic
/// when fixtures are required.
pub fn require(path: PathBuf, how_to_get_it: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    let message = format!("{} is absent ({how_to_get_it})", path.display());
    if std::env::var_os("MON_REQUIRE_FIXTURES").is_some() {
        panic!("MON_REQUIRE_FIXTURES is set but {message}");
    }
    eprintln!("skipping: {message}");
    None
}

/// A file under `../shared/fixtures` beside the checkout.
pub fn shared_fixture(name: &str) -> Option<PathBuf> {
    require(project_root().join("../shared/fixtures").join(name), "shared fixtures ship beside the checkout in CI")
}

/// A directory under `../shared/data` beside the checkout.
pub fn shared_data(name: &str) -> Option<PathBuf> {
    require(project_root().join("../shared/data").join(name), "shared data ships beside the checkout in CI")
}

/// A weights file under `weights/`.
pub fn weights(name: &str) -> Option<PathBuf> {
    require(project_root().join("weights").join(name), "run ./scripts/fetch-weights.sh")
}

/// Every f32 tensor of a safetensors file: name → (shape, values).
pub fn read_safetensors(path: &Path) -> HashMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let tensors = safetensors::SafeTensors::deserialize(&bytes).expect("a safetensors file");
    tensors
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            assert_eq!(view.dtype(), safetensors::Dtype::F32, "{name} is f32");
            let values = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            (name, (view.shape().to_vec(), values))
        })
        .collect()
}

/// ‖a − b‖ / ‖b‖, the comparison the golden tests use.
pub fn relative_error(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "compared tensors differ in size");
    let diff: f64 = a.iter().zip(b).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum();
    let norm: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
    (diff / norm).sqrt()
}
