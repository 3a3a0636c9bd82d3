//! VGG (Simonyan & Zisserman 2015), with and without BatchNorm, in torchvision's layout. The
//! taps are torchvision's own indices into `features` (`features.0` is the first convolution,
//! `features.1` its ReLU (or BatchNorm), …), so a layer named in a paper's PyTorch code is the
//! same layer here.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::stages::{Stage, StageOutputs, Stages};

/// Output channels of each 3×3 convolution; `0` marks a 2×2 max-pool (torchvision's "M").
pub const VGG11: &[usize] = &[64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0];
pub const VGG13: &[usize] = &[64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0];
pub const VGG16: &[usize] = &[64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0];
pub const VGG19: &[usize] = &[64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0];

#[derive(Config, Debug)]
pub struct VggConfig {
    /// One of [`VGG11`] … [`VGG19`].
    pub layers: Vec<usize>,
    pub batch_norm: bool,
    #[config(default = 1000)]
    pub num_classes: usize,
    /// Whether the three-layer classifier exists (feature-only weights files omit it).
    #[config(default = true)]
    pub classifier: bool,
}

/// One entry of torchvision's `features` sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Conv(usize),
    Norm(usize),
    Relu,
    Pool,
}

impl VggConfig {
    /// torchvision's `features` sequence: index in it = position in this list.
    fn ops(&self) -> Vec<Op> {
        let mut ops = Vec::new();
        let mut conv = 0;
        for &channels in &self.layers {
            if channels == 0 {
                ops.push(Op::Pool);
                continue;
            }
            ops.push(Op::Conv(conv));
            if self.batch_norm {
                ops.push(Op::Norm(conv));
            }
            ops.push(Op::Relu);
            conv += 1;
        }
        ops
    }

    pub fn init(&self, device: &Device) -> Vgg {
        let mut convs = Vec::new();
        let mut channels_in = 3;
        for &channels in self.layers.iter().filter(|&&c| c != 0) {
            convs.push(VggConv {
                conv: Conv2dConfig::new([channels_in, channels], [3, 3])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device),
                bn: self.batch_norm.then(|| BatchNormConfig::new(channels).init(device)),
            });
            channels_in = channels;
        }
        Vgg {
            convs,
            pool: MaxPool2dConfig::new([2, 2]).init(),
            avgpool: AdaptiveAvgPool2dConfig::new([7, 7]).init(),
            classifier: self.classifier.then(|| VggClassifier {
                fc1: LinearConfig::new(512 * 7 * 7, 4096).init(device),
                fc2: LinearConfig::new(4096, 4096).init(device),
                fc3: LinearConfig::new(4096, self.num_classes).init(device),
            }),
            ops: self.ops(),
        }
    }

    /// torchvision's `features.{i}` (conv or BatchNorm) and `classifier.{0,3,6}` to our fields.
    pub(crate) fn torchvision_key_remaps(&self) -> Vec<(String, String)> {
        let mut remaps: Vec<(String, String)> = self
            .ops()
            .iter()
            .enumerate()
            .filter_map(|(index, op)| match op {
                Op::Conv(i) => Some((format!(r"^features\.{index}\."), format!("convs.{i}.conv."))),
                Op::Norm(i) => Some((format!(r"^features\.{index}\."), format!("convs.{i}.bn."))),
                _ => None,
            })
            .collect();
        for (index, name) in [(0, "fc1"), (3, "fc2"), (6, "fc3")] {
            remaps.push((format!(r"^classifier\.{index}\."), format!("classifier.{name}.")));
        }
        remaps
    }
}

#[derive(Module, Debug)]
pub struct VggConv {
    conv: Conv2d,
    bn: Option<BatchNorm>,
}

#[derive(Module, Debug)]
pub struct VggClassifier {
    fc1: Linear,
    fc2: Linear,
    fc3: Linear,
}

#[derive(Module, Debug)]
pub struct Vgg {
    convs: Vec<VggConv>,
    pool: MaxPool2d,
    avgpool: AdaptiveAvgPool2d,
    classifier: Option<VggClassifier>,
    #[module(skip)]
    ops: Vec<Op>,
}

impl Stages for Vgg {
    fn stage_names(&self) -> Vec<String> {
        (0..self.ops.len()).map(|i| format!("features.{i}")).collect()
    }

    fn has_classifier(&self) -> bool {
        self.classifier.is_some()
    }

    fn forward_stages(&self, input: Tensor<4>, wanted: &[usize], logits: bool) -> StageOutputs {
        let ops = self.ops.iter().map(|op| {
            Box::new(move |x| match *op {
                Op::Conv(i) => self.convs[i].conv.forward(x),
                Op::Norm(i) => self.convs[i].bn.as_ref().expect("a Norm op implies BatchNorm").forward(x),
                Op::Relu => relu(x),
                Op::Pool => self.pool.forward(x),
            }) as Stage
        });
        let mut out = StageOutputs::new(wanted);
        let last = out.run(input, ops, logits);
        if logits && let (Some(x), Some(c)) = (last, &self.classifier) {
            // Dropout is the identity at inference.
            let pooled = self.avgpool.forward(x);
            let [n, ..] = pooled.dims();
            let flat = pooled.reshape([n as i64, -1]);
            out.logits = Some(c.fc3.forward(relu(c.fc2.forward(relu(c.fc1.forward(flat))))));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DeviceChoice, find_backbone};
    use crate::extractor::Network;

    /// VGG has no golden file here: its stages and logits are checked for shape, and an early
    /// stop must keep the same map as a pass run to the end.
    #[test]
    fn stages_stop_early_with_the_same_maps_and_logits_come_from_the_end() {
        let device = DeviceChoice::Cpu.open().unwrap();
        let Network::Vgg(vgg) = find_backbone("vgg11_bn").unwrap().arch.build(&device, true) else { panic!("vgg11_bn is a VGG") };
        let input = Tensor::<4>::ones([1, 3, 32, 32], &device);
        let early = vgg.forward_stages(input.clone(), &[3], false);
        let full = vgg.forward_stages(input, &[3], true);
        assert_eq!(full.logits.as_ref().unwrap().dims(), [1, 1000]);
        assert!(early.logits.is_none());
        let (early, full) = (early.into_maps().remove(0), full.into_maps().remove(0));
        assert_eq!(early.dims(), [1, 64, 16, 16], "conv, bn, relu, then the first max-pool");
        assert_eq!(crate::to_host(early).unwrap(), crate::to_host(full).unwrap());
    }
}
