//! Checking a category before anything is extracted: every image and mask decodes, masks match
//! their images' sizes, and no test image is a copy of a training image. `mon data check` prints
//! the findings; `mon run` refuses to start on errors and prints the warnings.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use mon_backbone::image::decode_bytes;
use rayon::prelude::*;

use crate::cache::{ContentHash, hash_bytes};
use crate::dataset::{Category, Sample};

/// What checking a category found.
#[derive(Clone, Debug, Default)]
pub struct Findings {
    /// Problems that make results wrong or impossible: a run refuses to start.
    pub errors: Vec<String>,
    /// Things worth knowing that do not stop a run.
    pub warnings: Vec<String>,
    /// `WIDTHxHEIGHT gray|RGB` → number of images.
    pub image_kinds: BTreeMap<String, usize>,
    /// Masks that exist and decode.
    pub masks: usize,
    /// Each image's content hash, train then test (`None` where it could not be read): the
    /// duplicate check's and the feature cache's key, so that a run reads each file once here.
    pub hashes: Vec<Option<ContentHash>>,
}

/// One file, read once: its size and channels (or why it does not decode) and its content hash.
struct Decoded {
    kind: Result<(u32, u32, usize), String>,
    hash: Option<ContentHash>,
}

fn decode(path: &Path) -> Decoded {
    match std::fs::read(path) {
        Ok(bytes) => Decoded {
            kind: decode_bytes(&bytes, path).map(|p| (p.width, p.height, p.channels)).map_err(|e| e.to_string()),
            hash: Some(hash_bytes(&bytes)),
        },
        Err(e) => Decoded { kind: Err(format!("{}: cannot read it: {e}", path.display())), hash: None },
    }
}

/// Decodes every image and mask of `category` (in parallel) and reports what is wrong.
pub fn check_category(category: &Category) -> Findings {
    let mut findings = Findings::default();
    for path in &category.ignored {
        findings.warnings.push(ignored_warning(path));
    }
    let samples: Vec<&Sample> = category.train.iter().chain(&category.test).collect();
    let decoded: Vec<Decoded> = samples.par_iter().map(|s| decode(&s.path)).collect();
    let masks: Vec<Option<Decoded>> = samples.par_iter().map(|s| s.mask.as_ref().map(|m| decode(m))).collect();

    let mut train_hashes: HashMap<&ContentHash, &PathBuf> = HashMap::new();
    for (i, (sample, image)) in samples.iter().zip(&decoded).enumerate() {
        let size = match &image.kind {
            Ok((w, h, channels)) => {
                let mode = if *channels == 1 { "gray" } else { "RGB" };
                *findings.image_kinds.entry(format!("{w}x{h} {mode}")).or_default() += 1;
                Some((*w, *h))
            }
            Err(e) => {
                findings.errors.push(e.clone());
                None
            }
        };
        if let (Some(mask), Some((w, h))) = (&masks[i], size) {
            match &mask.kind {
                Ok((mw, mh, _)) if (*mw, *mh) != (w, h) => findings.errors.push(format!(
                    "{}: mask is {mw}x{mh} but its image {} is {w}x{h}; masks must have their image's size",
                    sample.mask.as_ref().expect("a decoded mask has a path").display(),
                    sample.path.display()
                )),
                Ok(_) => findings.masks += 1,
                Err(e) => findings.errors.push(format!("mask {e}")),
            }
        }
        let Some(hash) = &image.hash else { continue };
        if i < category.train.len() {
            train_hashes.entry(hash).or_insert(&sample.path);
        } else if let Some(train) = train_hashes.get(hash) {
            findings.warnings.push(format!(
                "{}: same content as the training image {}; a test image seen in training inflates the results",
                sample.path.display(),
                train.display()
            ));
        }
    }
    let with_masks = category.test.iter().filter(|s| s.mask.is_some()).count();
    let anomalous = category.test.iter().filter(|s| s.anomalous).count();
    let lacking = if anomalous == 0 {
        Some("no anomalous test images (test/<defect type>/)")
    } else if anomalous == category.test.len() {
        Some("no normal test images (test/good/)")
    } else {
        None
    };
    if let Some(lacking) = lacking {
        findings.warnings.push(format!(
            "{}: {lacking}: AUROC and the oracle threshold rules cannot be computed, only label-free rules' false alarms or misses",
            category.name
        ));
    }
    if with_masks > 0 && with_masks < anomalous {
        findings.warnings.push(format!(
            "{}: {} of {anomalous} anomalous test images have no mask in ground_truth/<defect type>/<name>_mask.png",
            category.name,
            anomalous - with_masks
        ));
    }
    if findings.image_kinds.len() > 1 {
        findings.warnings.push(format!(
            "{}: images of several sizes or channel modes ({}); each is resized and converted to RGB the same way",
            category.name,
            findings.image_kinds.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    findings.hashes = decoded.into_iter().map(|d| d.hash).collect();
    findings
}

/// Why a file beside the images was left out, and how to include it.
fn ignored_warning(path: &Path) -> String {
    let kind = match path.extension() {
        Some(ext) => format!("`.{}` files are not read", ext.to_string_lossy()),
        None => "files without an extension are not read".into(),
    };
    format!("{}: {kind} (only PNG, JPEG and BMP images are); ignored: convert it to PNG to use it", path.display())
}

/// A one-screen summary of a category and what checking it found.
pub fn summary(category: &Category, findings: &Findings) -> String {
    let train = category.train.len();
    let test_good = category.test.iter().filter(|s| !s.anomalous).count();
    let mut defects: BTreeMap<&str, usize> = BTreeMap::new();
    for s in category.test.iter().filter(|s| s.anomalous) {
        *defects.entry(&s.defect_type).or_default() += 1;
    }
    let anomalous: usize = defects.values().sum();
    let per_type: Vec<String> = defects.iter().map(|(t, n)| format!("{t} {n}")).collect();
    let kinds: Vec<String> = findings.image_kinds.iter().map(|(k, n)| format!("{k} ({n})")).collect();
    let mut out = format!(
        "{}: train/good {train}, test/good {test_good}, test anomalous {anomalous} in {} defect type{} ({}), masks {}/{anomalous}\n  images: {}\n",
        category.name,
        defects.len(),
        if defects.len() == 1 { "" } else { "s" },
        per_type.join(", "),
        findings.masks,
        kinds.join(", ")
    );
    for e in &findings.errors {
        out.push_str(&format!("  error: {e}\n"));
    }
    for w in &findings.warnings {
        out.push_str(&format!("  warning: {w}\n"));
    }
    out
}
