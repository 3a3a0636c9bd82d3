//! A loaded backbone on a device, turning preprocessed image batches into features.

use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};

use crate::catalogue::BackboneSpec;
use crate::efficientnet::EfficientNetLite;
use crate::stages::{Stages, global_avg_pool};
use crate::weights::{LoadReport, load_into};
use crate::Error;

/// The architectures, chosen at run time from the catalogue.
#[derive(Debug)]
pub(crate) enum Network {
    EfficientNetLite(EfficientNetLite),
}

impl Network {
    fn stages(&self) -> &dyn Stages {
        match self {
            Network::EfficientNetLite(net) => net,
        }
    }

    fn load(&mut self, path: &Path, spec: &BackboneSpec) -> Result<LoadReport, Error> {
        match self {
            Network::EfficientNetLite(net) => load_into(net, path, spec.key_remaps, spec.name),
        }
    }
}

pub struct Backbone {
    spec: &'static BackboneSpec,
    network: Network,
    device: Device,
}

/// Host copies of what one forward pass produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Extracted {
    /// One `[N, C]` row-major matrix per tap, average-pooled over positions, with its `C`.
    pub pooled: Vec<(usize, Vec<f32>)>,
    /// `[N, classes]`, when asked for.
    pub logits: Option<Vec<f32>>,
}

impl Backbone {
    /// The architecture with weights from `weights` (PyTorch or safetensors).
    pub fn load(spec: &'static BackboneSpec, weights: &Path, device: Device) -> Result<Self, Error> {
        if !weights.is_file() {
            return Err(Error::WeightsMissing {
                path: weights.to_path_buf(),
                reason: format!("no such file; the weights of `{}` come from {}", spec.name, spec.weights_source),
            });
        }
        let mut network = (spec.build)(&device);
        network.load(weights, spec)?;
        Ok(Self { spec, network, device })
    }

    pub fn spec(&self) -> &'static BackboneSpec {
        self.spec
    }

    pub fn device(&self) -> &Device {
        &self.device
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
    pub fn forward(&self, input: Vec<f32>, shape: [usize; 4], taps: &[usize], logits: bool) -> (Vec<Tensor<4>>, Option<Tensor<2>>) {
        let x = Tensor::<4>::from_data(TensorData::new(input, shape), &self.device);
        let mut out = self.network.stages().forward_stages(x, taps, logits);
        let logits = out.logits.take();
        (out.into_maps(), logits)
    }

    /// [`Backbone::forward`], average-pooled and read back to the host.
    pub fn extract(&self, input: Vec<f32>, shape: [usize; 4], taps: &[usize], logits: bool) -> Result<Extracted, Error> {
        let (maps, logits) = self.forward(input, shape, taps, logits);
        let pooled = maps
            .into_iter()
            .map(|m| {
                let channels = m.dims()[1];
                to_host(global_avg_pool(m)).map(|v| (channels, v))
            })
            .collect::<Result<_, _>>()?;
        let logits = logits.map(to_host).transpose()?;
        Ok(Extracted { pooled, logits })
    }
}

/// Reads a tensor back; this is also where lazy backends actually run the work.
pub fn to_host<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, Error> {
    t.try_into_data()
        .map_err(|e| Error::Readback(format!("{e:?}")))?
        .try_into_vec::<f32>()
        .map_err(|e| Error::Readback(format!("{e:?}")))
}
