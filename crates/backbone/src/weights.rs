//! Loading pretrained weights from PyTorch (`.pth`/`.pt`, zip or legacy pickle) and
//! safetensors files through burn-store, with a report a user can act on when the file does
//! not fit the architecture.

use std::io::Read;
use std::path::Path;

use burn::store::{ApplyError, ApplyResult, KeyRemapper, ModuleStore, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore};
use burn::tensor::Device;

use crate::catalogue::BackboneSpec;
use crate::extractor::Network;
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
    pub format: WeightsFormat,
    /// Tensors loaded into the network.
    pub applied: usize,
    /// Whether the file had the ImageNet classifier (otherwise the network is built without it).
    pub classifier: bool,
}

/// Builds `spec`'s network on `device` with the tensors of `path`. Any tensor the network needs
/// that is missing from the file, any tensor of the wrong shape, and any file tensor with no
/// place in the network is an error naming them; the classifier alone may be absent.
pub(crate) fn load_network(spec: &BackboneSpec, path: &Path, device: &Device) -> Result<(Network, LoadReport), Error> {
    let format = sniff_format(path)?;
    let mut remapper = KeyRemapper::new();
    for (from, to) in spec.arch.key_remaps() {
        remapper = remapper.add_pattern(&from, to).expect("built-in key remapping patterns are valid regexes");
    }
    // Partial loading is allowed and validation left to us at the store level, so that every
    // missing, mis-shaped and unexpected tensor reaches `check`, which refuses them all in one
    // message a user can act on.
    let (network, applied, classifier) = match format {
        WeightsFormat::Safetensors => load_from(
            SafetensorsStore::from_file(path).remap(remapper).with_from_adapter(PyTorchToBurnAdapter).allow_partial(true).validate(false),
            spec,
            path,
            device,
        )?,
        // Our remaps already give contiguous indices; renumbering is not wanted.
        WeightsFormat::PytorchZip | WeightsFormat::PytorchLegacy => {
            load_from(PytorchStore::from_file(path).remap(remapper).map_indices_contiguous(false).allow_partial(true).validate(false), spec, path, device)?
        }
    };
    Ok((network, LoadReport { format, applied, classifier }))
}

fn load_from<S: ModuleStore>(mut store: S, spec: &BackboneSpec, path: &Path, device: &Device) -> Result<(Network, usize, bool), Error>
where
    S::Error: std::fmt::Display,
{
    let format_error = |reason: String| Error::WeightsFormat { path: path.to_path_buf(), reason };
    let keys = store.keys().map_err(|e| format_error(format!("cannot be read: {e}")))?;
    if keys.is_empty() {
        return Err(format_error("holds no tensors".into()));
    }
    let classifier = keys.iter().any(|k| k.starts_with(spec.arch.classifier_prefix()));
    let mut network = spec.arch.build(device, classifier);
    let result = network.apply(&mut store).map_err(|e| format_error(format!("cannot be read: {e}")))?;
    let applied = check(result, path, spec.name)?;
    Ok((network, applied, classifier))
}

fn check(result: ApplyResult, path: &Path, backbone: &str) -> Result<usize, Error> {
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
        return Ok(result.applied.len());
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
