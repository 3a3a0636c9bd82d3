//! Pretrained ImageNet CNNs in Burn as frozen feature extractors: architectures, weight
//! import from PyTorch/safetensors files, Pillow-exact preprocessing, and feature taps.

mod catalogue;
pub mod device;
pub mod efficientnet;
mod error;
mod extractor;
pub mod image;
pub mod preprocess;
mod resize;
pub mod stages;
pub mod weights;

pub use catalogue::{BackboneSpec, catalogue, find_backbone};
pub use device::DeviceChoice;
pub use error::Error;
pub use extractor::{Backbone, Extracted, to_host};
