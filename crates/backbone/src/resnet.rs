//! ResNet (He et al. 2016) and Wide ResNet (Zagoruyko & Komodakis 2016) in torchvision's
//! layout and key names, so that torchvision's `.pth`/safetensors files load as they are.
//! Bottleneck blocks stride in their 3×3 convolution (torchvision's "ResNet v1.5").

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::stages::{Stage, StageOutputs, Stages, global_avg_pool};

#[derive(Config, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// Two 3×3 convolutions (ResNet-18/34).
    Basic,
    /// 1×1 → 3×3 → 1×1 with 4× expansion (ResNet-50 and deeper, Wide ResNets).
    Bottleneck,
}

#[derive(Config, Debug)]
pub struct ResNetConfig {
    pub block: BlockKind,
    /// Blocks in layer1..layer4.
    pub layers: [usize; 4],
    /// Channels of a bottleneck's inner convolutions per 64 planes: 64, or 128 for Wide ResNets.
    #[config(default = 64)]
    pub width_per_group: usize,
    #[config(default = 1000)]
    pub num_classes: usize,
    /// Whether the `fc` classifier exists (weights files without it load as feature extractors).
    #[config(default = true)]
    pub classifier: bool,
}

const STEM_CHANNELS: usize = 64;

impl ResNetConfig {
    fn expansion(&self) -> usize {
        match self.block {
            BlockKind::Basic => 1,
            BlockKind::Bottleneck => 4,
        }
    }

    pub fn init(&self, device: &Device) -> ResNet {
        let mut channels_in = STEM_CHANNELS;
        let mut layer = |planes: usize, blocks: usize, stride: usize| -> Vec<ResidualBlock> {
            (0..blocks)
                .map(|i| {
                    let stride = if i == 0 { stride } else { 1 };
                    let block = ResidualBlock::new(self, channels_in, planes, stride, device);
                    channels_in = planes * self.expansion();
                    block
                })
                .collect()
        };
        let layer1 = layer(64, self.layers[0], 1);
        let layer2 = layer(128, self.layers[1], 2);
        let layer3 = layer(256, self.layers[2], 2);
        let layer4 = layer(512, self.layers[3], 2);
        ResNet {
            conv1: conv(3, STEM_CHANNELS, 7, 2, 3, device),
            bn1: BatchNormConfig::new(STEM_CHANNELS).init(device),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1,
            layer2,
            layer3,
            layer4,
            fc: self.classifier.then(|| LinearConfig::new(512 * self.expansion(), self.num_classes).init(device)),
        }
    }
}

fn conv(channels_in: usize, channels_out: usize, kernel: usize, stride: usize, padding: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([channels_in, channels_out], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(padding, padding, padding, padding))
        .with_bias(false)
        .init(device)
}

/// torchvision's `downsample` (a `Sequential` of conv and BatchNorm, keys `.0.` and `.1.`).
#[derive(Module, Debug)]
pub struct Downsample {
    conv: Conv2d,
    bn: BatchNorm,
}

/// A basic block (`conv3` absent) or a bottleneck block.
#[derive(Module, Debug)]
pub struct ResidualBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    conv3: Option<Conv2d>,
    bn3: Option<BatchNorm>,
    downsample: Option<Downsample>,
}

impl ResidualBlock {
    fn new(cfg: &ResNetConfig, channels_in: usize, planes: usize, stride: usize, device: &Device) -> Self {
        let channels_out = planes * cfg.expansion();
        let downsample = (stride != 1 || channels_in != channels_out).then(|| Downsample {
            conv: conv(channels_in, channels_out, 1, stride, 0, device),
            bn: BatchNormConfig::new(channels_out).init(device),
        });
        match cfg.block {
            BlockKind::Basic => Self {
                conv1: conv(channels_in, planes, 3, stride, 1, device),
                bn1: BatchNormConfig::new(planes).init(device),
                conv2: conv(planes, planes, 3, 1, 1, device),
                bn2: BatchNormConfig::new(planes).init(device),
                conv3: None,
                bn3: None,
                downsample,
            },
            BlockKind::Bottleneck => {
                let width = planes * cfg.width_per_group / 64;
                Self {
                    conv1: conv(channels_in, width, 1, 1, 0, device),
                    bn1: BatchNormConfig::new(width).init(device),
                    conv2: conv(width, width, 3, stride, 1, device),
                    bn2: BatchNormConfig::new(width).init(device),
                    conv3: Some(conv(width, channels_out, 1, 1, 0, device)),
                    bn3: Some(BatchNormConfig::new(channels_out).init(device)),
                    downsample,
                }
            }
        }
    }

    fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let mut x = relu(self.bn1.forward(self.conv1.forward(input.clone())));
        x = self.bn2.forward(self.conv2.forward(x));
        if let (Some(conv3), Some(bn3)) = (&self.conv3, &self.bn3) {
            x = bn3.forward(conv3.forward(relu(x)));
        }
        let identity = match &self.downsample {
            Some(d) => d.bn.forward(d.conv.forward(input)),
            None => input,
        };
        relu(x + identity)
    }
}

#[derive(Module, Debug)]
pub struct ResNet {
    conv1: Conv2d,
    bn1: BatchNorm,
    maxpool: MaxPool2d,
    layer1: Vec<ResidualBlock>,
    layer2: Vec<ResidualBlock>,
    layer3: Vec<ResidualBlock>,
    layer4: Vec<ResidualBlock>,
    fc: Option<Linear>,
}

/// torchvision's `downsample.0`/`downsample.1` are our `downsample.conv`/`downsample.bn`.
pub(crate) fn torchvision_key_remaps() -> Vec<(String, String)> {
    vec![(r"\.downsample\.0\.".into(), ".downsample.conv.".into()), (r"\.downsample\.1\.".into(), ".downsample.bn.".into())]
}

impl Stages for ResNet {
    /// `stem` (after the max-pool, stride 4), `layer1` … `layer4`.
    fn stage_names(&self) -> Vec<String> {
        ["stem", "layer1", "layer2", "layer3", "layer4"].map(String::from).to_vec()
    }

    fn has_classifier(&self) -> bool {
        self.fc.is_some()
    }

    fn forward_stages(&self, input: Tensor<4>, wanted: &[usize], logits: bool) -> StageOutputs {
        let stem: Stage = Box::new(|x| self.maxpool.forward(relu(self.bn1.forward(self.conv1.forward(x)))));
        let layers = [&self.layer1, &self.layer2, &self.layer3, &self.layer4]
            .into_iter()
            .map(|layer| Box::new(move |x| layer.iter().fold(x, |x, block| block.forward(x))) as Stage);
        let mut out = StageOutputs::new(wanted);
        let last = out.run(input, std::iter::once(stem).chain(layers), logits);
        if logits && let (Some(x), Some(fc)) = (last, &self.fc) {
            out.logits = Some(fc.forward(global_avg_pool(x)));
        }
        out
    }
}
