//! How a tap's activation map becomes features: pooled to one vector per image (average, max,
//! or both concatenated; optionally L2-normalised), or kept as a map, resized to a common grid
//! when several taps of different resolution are combined.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Tensor;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

use crate::stages::global_avg_pool;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pooling {
    Avg,
    Max,
    /// Average and max concatenated: `[N, 2C]`.
    AvgMax,
}

/// What is read out of each tap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readout {
    Pooled { pooling: Pooling, l2: bool },
    /// The map itself, `[N, C, H, W]`; with a grid, resized (bilinear, half-pixel centres as
    /// PyTorch's `interpolate(..., align_corners=False)`) to `[H, W]`.
    Map { grid: Option<[usize; 2]> },
}

impl Readout {
    pub const AVG: Readout = Readout::Pooled { pooling: Pooling::Avg, l2: false };

    /// `map` → `[N, D]` (pooled) or `[N, C, H, W]`, as a host-side shape and the tensor.
    pub fn apply(self, map: Tensor<4>) -> ReadoutTensor {
        match self {
            Readout::Pooled { pooling, l2 } => {
                let pooled = match pooling {
                    Pooling::Avg => global_avg_pool(map),
                    Pooling::Max => global_max_pool(map),
                    Pooling::AvgMax => Tensor::cat(vec![global_avg_pool(map.clone()), global_max_pool(map)], 1),
                };
                ReadoutTensor::Pooled(if l2 { l2_normalize(pooled) } else { pooled })
            }
            Readout::Map { grid: None } => ReadoutTensor::Map(map),
            Readout::Map { grid: Some(size) } => ReadoutTensor::Map(resize_map(map, size)),
        }
    }
}

pub enum ReadoutTensor {
    Pooled(Tensor<2>),
    Map(Tensor<4>),
}

fn global_max_pool(x: Tensor<4>) -> Tensor<2> {
    let [n, c, _, _] = x.dims();
    x.max_dims(&[2, 3]).reshape([n, c])
}

/// Rows scaled to unit Euclidean norm (a zero row stays zero).
fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
    x / norm
}

fn resize_map(x: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    if [h, w] == size {
        return x;
    }
    interpolate(x, InterpolateOptions::new(InterpolateMode::Bilinear).with_align_corners(false).with_output_size(size))
}

impl Pooling {
    pub const ALL: [Pooling; 3] = [Pooling::Avg, Pooling::Max, Pooling::AvgMax];

    pub fn name(self) -> &'static str {
        match self {
            Pooling::Avg => "avg",
            Pooling::Max => "max",
            Pooling::AvgMax => "avgmax",
        }
    }
}

impl fmt::Display for Pooling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Pooling {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Pooling::ALL.into_iter().find(|p| p.name() == s).ok_or_else(|| format!("unknown pooling `{s}`: expected avg, max or avgmax"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DeviceChoice;
    use crate::extractor::to_host;
    use burn::tensor::TensorData;

    fn map() -> Tensor<4> {
        // one image, two channels, 2×2
        let data = TensorData::new(vec![1.0f32, 2.0, 3.0, 6.0, -1.0, -2.0, -3.0, 0.0], [1, 2, 2, 2]);
        Tensor::from_data(data, &DeviceChoice::Cpu.open().unwrap())
    }

    fn pooled(readout: Readout) -> Vec<f32> {
        match readout.apply(map()) {
            ReadoutTensor::Pooled(t) => to_host(t).unwrap(),
            ReadoutTensor::Map(_) => panic!("pooled readout gave a map"),
        }
    }

    #[test]
    fn pools_average_max_and_both() {
        assert_eq!(pooled(Readout::AVG), [3.0, -1.5]);
        assert_eq!(pooled(Readout::Pooled { pooling: Pooling::Max, l2: false }), [6.0, 0.0]);
        assert_eq!(pooled(Readout::Pooled { pooling: Pooling::AvgMax, l2: false }), [3.0, -1.5, 6.0, 0.0]);
        let unit = pooled(Readout::Pooled { pooling: Pooling::Avg, l2: true });
        let norm = (3.0f32 * 3.0 + 1.5 * 1.5).sqrt();
        assert!((unit[0] - 3.0 / norm).abs() < 1e-6 && (unit[1] + 1.5 / norm).abs() < 1e-6, "{unit:?}");
    }

    #[test]
    fn maps_resize_with_half_pixel_centres() {
        let ReadoutTensor::Map(m) = (Readout::Map { grid: Some([4, 4]) }).apply(map()) else { panic!() };
        assert_eq!(m.dims(), [1, 2, 4, 4]);
        let v = to_host(m).unwrap();
        // PyTorch's bilinear upsampling (align_corners=False) of [[1,2],[3,6]] to 4×4, first row:
        // 1, 1.25, 1.75, 2 (edge pixels clamp).
        assert_eq!(&v[..4], &[1.0, 1.25, 1.75, 2.0]);
        let ReadoutTensor::Map(same) = (Readout::Map { grid: Some([2, 2]) }).apply(map()) else { panic!() };
        assert_eq!(to_host(same).unwrap(), to_host(map()).unwrap());
    }
}
