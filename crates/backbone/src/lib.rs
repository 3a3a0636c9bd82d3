//! Pretrained ImageNet CNNs in Burn as frozen feature extractors: architectures, weight
//! import from PyTorch/safetensors files, Pillow-exact preprocessing, and feature taps.

mod catalogue;
pub mod device;
pub mod efficientnet;
mod error;
mod extractor;
#[cfg(test)]
mod golden_tests;
pub mod image;
pub mod mobilenetv2;
pub mod preprocess;
pub mod readout;
mod resize;
pub mod resnet;
pub mod stages;
pub mod vgg;
pub mod weights;

pub use catalogue::{BackboneSpec, WeightsSource, catalogue, find_backbone};
pub use device::DeviceChoice;
pub use error::Error;
pub use extractor::{Backbone, Extracted, HostTensor, to_host};
pub use readout::{Pooling, Readout};
