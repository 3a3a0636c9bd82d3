//! Loading pretrained weights from PyTorch (`.pth`/`.pt`, zip or legacy pickle) and
//! safetensors files through burn-store, with a report a user can act on when the file does
//! not fit the architecture.

use std::io::Read;
use std::path::Path;

use burn::store::{ApplyError, ApplyResult, KeyRemapper, ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore};

use crate::Error;

/// The container format, told from the first bytes rather than the file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightsFormat {
    Safetensors,
    PytorchZip,
    PytorchLegacy,
}

pub fn sniff_format(path: &Path) -> Result<WeightsFormat, Error> {
    let mut head = [0u8; 9];
    let read = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| Error::WeightsMissing { path: path.to_path_buf(), reason: e.to_string() })?;
    let head = &head[..read];
    match head {
        [b'P', b'K', 3, 4, ..] => Ok(WeightsFormat::PytorchZip),
        // A pickle starts with PROTO (0x80) and a protocol number; torch's legacy format
        // pickles its magic number first.
        [0x80, 2..=5, ..] => Ok(WeightsFormat::PytorchLegacy),
        // safetensors: little-endian u64 header length, then a JSON object.
        [_, _, _, _, _, _, _, _, b'{'] => Ok(WeightsFormat::Safetensors),
        _ => Err(Error::WeightsFormat {
            path: path.to_path_buf(),
            reason: "not a PyTorch (.pth/.pt) or safetensors weights file".into(),
        }),
    }
}

/// What loading did: every model tensor found in the file with the right shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadReport {
    pub applied: usize,
    /// File tensors the architecture has no place for (BatchNorm's `num_batches_tracked` excluded).
    pub unused: Vec<String>,
}

/// Loads the tensors of `path` into `model`. `remaps` are `(regex, replacement)` pairs applied
/// to the file's keys first. Any model tensor missing from the file, any tensor of the wrong
/// shape, and any unexpected file tensor is an error naming them.
pub fn load_into<M: ModuleSnapshot>(model: &mut M, path: &Path, remaps: &[(&str, &str)], backbone: &str) -> Result<LoadReport, Error> {
    let format = sniff_format(path)?;
    let mut remapper = KeyRemapper::new();
    for (from, to) in remaps {
        remapper = remapper.add_pattern(*from, *to).expect("built-in key remapping patterns are valid regexes");
    }
    let format_error = |reason: String| Error::WeightsFormat { path: path.to_path_buf(), reason };
    let result = match format {
        WeightsFormat::Safetensors => apply(
            model,
            SafetensorsStore::from_file(path).remap(remapper).with_from_adapter(PyTorchToBurnAdapter),
        )
        .map_err(|e| format_error(e.to_string()))?,
        WeightsFormat::PytorchZip | WeightsFormat::PytorchLegacy => {
            apply(model, PytorchStore::from_file(path).remap(remapper)).map_err(|e| format_error(e.to_string()))?
        }
    };
    check(result, path, backbone)
}

fn apply<M: ModuleSnapshot, S: ModuleStore>(model: &mut M, store: S) -> Result<ApplyResult, S::Error> {
    // Collect everything and judge it below, so that the message lists all problems at once.
    let mut store = store;
    model.load_from(&mut store)
}

fn check(result: ApplyResult, path: &Path, backbone: &str) -> Result<LoadReport, Error> {
    let unused: Vec<String> = result.unused.into_iter().filter(|k| !k.ends_with("num_batches_tracked")).collect();
    let mut problems = Vec::new();
    if !result.missing.is_empty() {
        let keys: Vec<String> = result.missing.iter().map(|(k, _)| k.clone()).collect();
        problems.push(format!("{} tensor(s) the model needs are not in the file: {}", keys.len(), sample(&keys)));
    }
    let mismatched: Vec<String> = result
        .errors
        .iter()
        .map(|e| match e {
            ApplyError::ShapeMismatch { path, expected, found } => {
                format!("{path}: the model has shape {:?}, the file {:?}", expected.as_slice(), found.as_slice())
            }
            other => other.to_string(),
        })
        .collect();
    if !mismatched.is_empty() {
        problems.push(format!("{} tensor(s) do not fit: {}", mismatched.len(), sample(&mismatched)));
    }
    if !unused.is_empty() {
        problems.push(format!("{} tensor(s) in the file have no place in the model: {}", unused.len(), sample(&unused)));
    }
    if problems.is_empty() {
        return Ok(LoadReport { applied: result.applied.len(), unused });
    }
    Err(Error::WeightsMismatch { path: path.to_path_buf(), backbone: backbone.to_string(), details: problems.join("; ") })
}

/// The first few items, and how many more.
fn sample(items: &[String]) -> String {
    const SHOWN: usize = 4;
    let mut s = items.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > SHOWN {
        s.push_str(&format!(" … and {} more", items.len() - SHOWN));
    }
    s
}
