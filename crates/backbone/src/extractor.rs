//! A loaded backbone on a device, turning preprocessed image batches into features.

use std::path::{Path, PathBuf};

use burn::store::{ApplyResult, ModuleSnapshot, ModuleStore};
use burn::tensor::{Device, Tensor, TensorData};

use crate::catalogue::BackboneSpec;
use crate::efficientnet::EfficientNetLite;
use crate::mobilenetv2::MobileNetV2;
use crate::readout::{Readout, ReadoutTensor};
use crate::resnet::ResNet;
use crate::stages::Stages;
use crate::vgg::Vgg;
use crate::weights::{LoadReport, load_network};
use crate::Error;

/// The architectures, chosen at run time from the catalogue.
#[derive(Debug)]
pub(crate) enum Network {
    EfficientNetLite(EfficientNetLite),
    ResNet(ResNet),
    Vgg(Vgg),
    MobileNetV2(MobileNetV2),
}

impl Network {
    fn stages(&self) -> &dyn Stages {
        match self {
            Network::EfficientNetLite(net) => net,
            Network::ResNet(net) => net,
            Network::Vgg(net) => net,
            Network::MobileNetV2(net) => net,
        }
    }

    pub(crate) fn apply<S: ModuleStore>(&mut self, store: &mut S) -> Result<ApplyResult, S::Error> {
        match self {
            Network::EfficientNetLite(net) => net.load_from(store),
            Network::ResNet(net) => net.load_from(store),
            Network::Vgg(net) => net.load_from(store),
            Network::MobileNetV2(net) => net.load_from(store),
        }
    }

    /// Learnable parameters, counted as torchvision does: BatchNorm's running mean and
    /// variance are state, not parameters.
    pub(crate) fn num_params(&self) -> usize {
        let tensors = match self {
            Network::EfficientNetLite(net) => net.collect(None, None, false),
            Network::ResNet(net) => net.collect(None, None, false),
            Network::Vgg(net) => net.collect(None, None, false),
            Network::MobileNetV2(net) => net.collect(None, None, false),
        };
        tensors
            .iter()
            .filter(|t| !t.name.ends_with("running_mean") && !t.name.ends_with("running_var"))
            .map(|t| t.shape.num_elements())
            .sum()
    }
}

pub struct Backbone {
    spec: &'static BackboneSpec,
    network: Network,
    device: Device,
    report: LoadReport,
    /// Named when the features come out non-finite.
    weights: PathBuf,
}

/// A host copy of a tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Host copies of what one forward pass produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Extracted {
    /// One tensor per requested tap, in request order: `[N, D]` pooled or `[N, C, H, W]`.
    pub taps: Vec<HostTensor>,
    /// `[N, classes]`, when asked for.
    pub logits: Option<HostTensor>,
}

impl Backbone {
    /// The architecture with weights from `weights` (PyTorch or safetensors).
    pub fn load(spec: &'static BackboneSpec, weights: &Path, device: Device) -> Result<Self, Error> {
        if !weights.is_file() {
            return Err(Error::WeightsMissing {
                path: weights.to_path_buf(),
                reason: format!("no such file; the weights of `{}` come from {}", spec.name, spec.source),
            });
        }
        let (network, report) = load_network(spec, weights, &device)?;
        Ok(Self { spec, network, device, report, weights: weights.to_path_buf() })
    }

    pub fn spec(&self) -> &'static BackboneSpec {
        self.spec
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// What loading the weights found.
    pub fn load_report(&self) -> &LoadReport {
        &self.report
    }

    pub fn num_params(&self) -> usize {
        self.network.num_params()
    }

    pub fn stage_names(&self) -> Vec<String> {
        self.network.stages().stage_names()
    }

    /// Stage indices of the tap names, or an error listing the valid names.
    pub fn resolve_taps<S: AsRef<str>>(&self, taps: &[S]) -> Result<Vec<usize>, Error> {
        let names = self.stage_names();
        taps.iter()
            .map(|tap| {
                names.iter().position(|n| n == tap.as_ref()).ok_or_else(|| Error::UnknownTap {
                    backbone: self.spec.name.to_string(),
                    tap: tap.as_ref().to_string(),
                    available: names.join(", "),
                })
            })
            .collect()
    }

    /// Runs `[N, 3, H, W]` (row-major `input`) through the network, keeping the maps of `taps`.
    pub fn forward(&self, input: Vec<f32>, shape: [usize; 4], taps: &[usize], logits: bool) -> Result<(Vec<Tensor<4>>, Option<Tensor<2>>), Error> {
        if logits && !self.network.stages().has_classifier() {
            return Err(Error::NoClassifier { backbone: self.spec.name.to_string() });
        }
        let x = Tensor::<4>::from_data(TensorData::new(input, shape), &self.device);
        let mut out = self.network.stages().forward_stages(x, taps, logits);
        let logits = out.logits.take();
        Ok((out.into_maps(), logits))
    }

    /// [`Backbone::forward`] with every tap read out the same way, copied to the host. Non-finite
    /// values are an error: in the input they are the caller's, in the output the weights'
    /// (a finite input through a sound network stays finite). One pass over the host copies
    /// costs little next to the forward pass.
    pub fn extract(&self, input: Vec<f32>, shape: [usize; 4], taps: &[usize], readout: Readout, logits: bool) -> Result<Extracted, Error> {
        let count = non_finite(&input);
        if count > 0 {
            return Err(Error::NonFiniteInput { backbone: self.spec.name.to_string(), count });
        }
        let (maps, logits) = self.forward(input, shape, taps, logits)?;
        let extracted = Extracted {
            taps: maps
                .into_iter()
                .map(|map| match readout.apply(map) {
                    ReadoutTensor::Pooled(t) => host(t),
                    ReadoutTensor::Map(t) => host(t),
                })
                .collect::<Result<_, _>>()?,
            logits: logits.map(host).transpose()?,
        };
        let names = self.stage_names();
        let stages = taps.iter().map(|&tap| names[tap].as_str()).chain(extracted.logits.is_some().then_some("logits"));
        for (stage, tensor) in stages.zip(extracted.taps.iter().chain(&extracted.logits)) {
            let count = non_finite(&tensor.data);
            if count > 0 {
                return Err(Error::NonFiniteFeatures {
                    path: self.weights.clone(),
                    backbone: self.spec.name.to_string(),
                    stage: stage.to_string(),
                    count,
                });
            }
        }
        Ok(extracted)
    }
}

fn non_finite(values: &[f32]) -> usize {
    values.iter().filter(|v| !v.is_finite()).count()
}

fn host<const D: usize>(t: Tensor<D>) -> Result<HostTensor, Error> {
    let shape = t.dims().to_vec();
    Ok(HostTensor { shape, data: to_host(t)? })
}

/// Reads a tensor back; this is also where lazy backends actually run the work.
pub fn to_host<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, Error> {
    t.try_into_data()
        .map_err(|e| Error::Readback(format!("{e:?}")))?
        .try_into_vec::<f32>()
        .map_err(|e| Error::Readback(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use mon_testkit::shared_fixture;

    use crate::{Backbone, DeviceChoice, Error, Readout, find_backbone};

    /// A NaN in the input is reported as the input's, before the forward pass, not blamed on
    /// the weights. (Non-finite outputs from damaged weights: runner's `broken_files` tests.)
    #[test]
    fn non_finite_input_is_refused_as_the_inputs_fault() {
        let Some(path) = shared_fixture("resnet18_random.safetensors") else { return };
        let model = Backbone::load(find_backbone("resnet18").unwrap(), &path, DeviceChoice::Cpu.open().unwrap()).unwrap();
        let mut input = vec![0.5; 2 * 3 * 32 * 32];
        input[7] = f32::NAN;
        input[9] = f32::INFINITY;
        let err = model.extract(input, [2, 3, 32, 32], &[1], Readout::AVG, false).unwrap_err();
        assert!(matches!(err, Error::NonFiniteInput { count: 2, .. }), "{err}");
        assert!(model.extract(vec![0.5; 3 * 32 * 32], [1, 3, 32, 32], &[1], Readout::AVG, false).is_ok());
    }
}
