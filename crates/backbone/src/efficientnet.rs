//! EfficientNet-Lite (Tan & Le 2019, "lite" variant for edge devices): MBConv blocks without
//! squeeze-excite, ReLU6 activations, TensorFlow "SAME" padding, BatchNorm ε = 1e-3, and a
//! fixed 32-channel stem and 1280-channel head. Field names follow the PyTorch port shipped
//! on PyPI (`_blocks.N._expand_conv` …) minus the leading underscores.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu6;
use burn::tensor::{Device, Tensor};

use crate::stages::{Stage, StageOutputs, Stages, global_avg_pool};

/// One stage of identical MBConv blocks, as in the reference's block arguments.
struct StageSpec {
    repeats: usize,
    kernel: usize,
    stride: usize,
    expand: usize,
    channels_in: usize,
    channels_out: usize,
}

/// EfficientNet-B0's stages, which every Lite variant scales.
const B0_STAGES: [StageSpec; 7] = [
    StageSpec { repeats: 1, kernel: 3, stride: 1, expand: 1, channels_in: 32, channels_out: 16 },
    StageSpec { repeats: 2, kernel: 3, stride: 2, expand: 6, channels_in: 16, channels_out: 24 },
    StageSpec { repeats: 2, kernel: 5, stride: 2, expand: 6, channels_in: 24, channels_out: 40 },
    StageSpec { repeats: 3, kernel: 3, stride: 2, expand: 6, channels_in: 40, channels_out: 80 },
    StageSpec { repeats: 3, kernel: 5, stride: 1, expand: 6, channels_in: 80, channels_out: 112 },
    StageSpec { repeats: 4, kernel: 5, stride: 2, expand: 6, channels_in: 112, channels_out: 192 },
    StageSpec { repeats: 1, kernel: 3, stride: 1, expand: 6, channels_in: 192, channels_out: 320 },
];

const STEM_CHANNELS: usize = 32;
const HEAD_CHANNELS: usize = 1280;
const BN_EPSILON: f64 = 1e-3;

#[derive(Config, Debug)]
pub struct EfficientNetLiteConfig {
    /// Channel multiplier (1.0 for Lite0 and Lite1, 1.1 for Lite2).
    pub width: f64,
    /// Block-count multiplier (1.0 for Lite0, 1.1 for Lite1, 1.2 for Lite2).
    pub depth: f64,
    #[config(default = 1000)]
    pub num_classes: usize,
    /// Whether the classifier exists (feature-only weights files omit it).
    #[config(default = true)]
    pub classifier: bool,
}

impl EfficientNetLiteConfig {
    pub fn lite0() -> Self {
        Self::new(1.0, 1.0)
    }

    pub fn lite1() -> Self {
        Self::new(1.0, 1.1)
    }

    pub fn lite2() -> Self {
        Self::new(1.1, 1.2)
    }

    /// Channels scaled by `width`, rounded to a multiple of 8 but never below 90 % of the
    /// scaled value (the reference's `round_filters`).
    fn round_channels(&self, channels: usize) -> usize {
        let scaled = channels as f64 * self.width;
        let mut rounded = (((scaled + 4.0) as usize) / 8 * 8).max(8);
        if (rounded as f64) < 0.9 * scaled {
            rounded += 8;
        }
        rounded
    }

    /// Lite models keep the first and last stage at one block; the others scale with `depth`.
    fn repeats(&self, stage: usize, spec: &StageSpec) -> usize {
        if stage == 0 || stage == B0_STAGES.len() - 1 {
            spec.repeats
        } else {
            (spec.repeats as f64 * self.depth).ceil() as usize
        }
    }

    pub fn init(&self, device: &Device) -> EfficientNetLite {
        let mut blocks = Vec::new();
        for (i, spec) in B0_STAGES.iter().enumerate() {
            let channels_out = self.round_channels(spec.channels_out);
            for repeat in 0..self.repeats(i, spec) {
                let (channels_in, stride) = match repeat {
                    0 => (if i == 0 { STEM_CHANNELS } else { self.round_channels(spec.channels_in) }, spec.stride),
                    _ => (channels_out, 1),
                };
                blocks.push(MbConv::new(channels_in, channels_out, spec.kernel, stride, spec.expand, device));
            }
        }
        let last = self.round_channels(B0_STAGES[B0_STAGES.len() - 1].channels_out);
        EfficientNetLite {
            conv_stem: conv(3, STEM_CHANNELS, 3, 2, 1, device),
            bn0: batch_norm(STEM_CHANNELS, device),
            blocks,
            conv_head: conv(last, HEAD_CHANNELS, 1, 1, 1, device),
            bn1: batch_norm(HEAD_CHANNELS, device),
            fc: self.classifier.then(|| LinearConfig::new(HEAD_CHANNELS, self.num_classes).init(device)),
        }
    }
}

fn conv(channels_in: usize, channels_out: usize, kernel: usize, stride: usize, groups: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([channels_in, channels_out], [kernel, kernel])
        .with_stride([stride, stride])
        .with_groups(groups)
        .with_padding(PaddingConfig2d::Same) // TensorFlow SAME: the extra pixel goes bottom/right
        .with_bias(false)
        .init(device)
}

fn batch_norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels).with_epsilon(BN_EPSILON).init(device)
}

/// Mobile inverted bottleneck: 1×1 expansion, depthwise k×k, 1×1 linear projection.
#[derive(Module, Debug)]
pub struct MbConv {
    expand_conv: Option<Conv2d>,
    bn0: Option<BatchNorm>,
    depthwise_conv: Conv2d,
    bn1: BatchNorm,
    project_conv: Conv2d,
    bn2: BatchNorm,
    residual: bool,
}

impl MbConv {
    fn new(channels_in: usize, channels_out: usize, kernel: usize, stride: usize, expand: usize, device: &Device) -> Self {
        let hidden = channels_in * expand;
        Self {
            expand_conv: (expand != 1).then(|| conv(channels_in, hidden, 1, 1, 1, device)),
            bn0: (expand != 1).then(|| batch_norm(hidden, device)),
            depthwise_conv: conv(hidden, hidden, kernel, stride, hidden, device),
            bn1: batch_norm(hidden, device),
            project_conv: conv(hidden, channels_out, 1, 1, 1, device),
            bn2: batch_norm(channels_out, device),
            residual: stride == 1 && channels_in == channels_out,
        }
    }

    fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let mut x = input.clone();
        if let (Some(expand), Some(bn)) = (&self.expand_conv, &self.bn0) {
            x = relu6(bn.forward(expand.forward(x)));
        }
        x = relu6(self.bn1.forward(self.depthwise_conv.forward(x)));
        x = self.bn2.forward(self.project_conv.forward(x));
        if self.residual { x + input } else { x }
    }
}

#[derive(Module, Debug)]
pub struct EfficientNetLite {
    conv_stem: Conv2d,
    bn0: BatchNorm,
    blocks: Vec<MbConv>,
    conv_head: Conv2d,
    bn1: BatchNorm,
    fc: Option<Linear>,
}

impl Stages for EfficientNetLite {
    /// `stem`, `block0` … `blockN`, `head` (the 1280-channel map before pooling).
    fn stage_names(&self) -> Vec<String> {
        let blocks = (0..self.blocks.len()).map(|i| format!("block{i}"));
        std::iter::once("stem".to_string()).chain(blocks).chain(std::iter::once("head".into())).collect()
    }

    fn has_classifier(&self) -> bool {
        self.fc.is_some()
    }

    fn forward_stages(&self, input: Tensor<4>, wanted: &[usize], logits: bool) -> StageOutputs {
        let stem: Stage = Box::new(|x| relu6(self.bn0.forward(self.conv_stem.forward(x))));
        let blocks = self.blocks.iter().map(|block| Box::new(move |x| block.forward(x)) as Stage);
        let head: Stage = Box::new(|x| relu6(self.bn1.forward(self.conv_head.forward(x))));
        let mut out = StageOutputs::new(wanted);
        let last = out.run(input, std::iter::once(stem).chain(blocks).chain([head]), logits);
        if logits && let (Some(x), Some(fc)) = (last, &self.fc) {
            // Dropout is the identity at inference; the classifier sees the pooled head.
            out.logits = Some(fc.forward(global_avg_pool(x)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lite_variants_have_the_reference_block_counts_and_widths() {
        let lite0 = EfficientNetLiteConfig::lite0();
        let counts: Vec<usize> = B0_STAGES.iter().enumerate().map(|(i, s)| lite0.repeats(i, s)).collect();
        assert_eq!(counts, [1, 2, 2, 3, 3, 4, 1]);
        let lite2 = EfficientNetLiteConfig::lite2();
        let counts: Vec<usize> = B0_STAGES.iter().enumerate().map(|(i, s)| lite2.repeats(i, s)).collect();
        assert_eq!(counts, [1, 3, 3, 4, 4, 5, 1]);
        let widths: Vec<usize> = B0_STAGES.iter().map(|s| lite2.round_channels(s.channels_out)).collect();
        assert_eq!(widths, [16, 24, 48, 88, 120, 208, 352]);
    }

    #[test]
    fn stride_two_convs_keep_tensorflow_same_output_sizes_for_odd_inputs() {
        let device = crate::device::DeviceChoice::Cpu.open().unwrap();
        let model = EfficientNetLiteConfig::lite0().with_num_classes(10).init(&device);
        let names = model.stage_names();
        assert_eq!(names.len(), 18);
        let out = model.forward_stages(Tensor::zeros([1, 3, 67, 45], &device), &[0, 17], true);
        // SAME padding: every stride-2 stage gives ceil(size / 2).
        assert_eq!(out.logits.as_ref().unwrap().dims(), [1, 10]);
        let maps = out.into_maps();
        assert_eq!(maps[0].dims(), [1, 32, 34, 23]);
        assert_eq!(maps[1].dims(), [1, 1280, 3, 2]);
    }
}
