//! Spatial feature maps `[N, C, H, W]` (the input of spatial models of normality) and the
//! anomaly maps `[N, H, W]` they produce.

use crate::error::require;
use crate::{Error, Features, Result};

/// Feature maps of `n` images, each `c` channels of `h × w`, stored as a backbone emits them:
/// channel-major per image, `data[((i·c + ch)·h + y)·w + x]`.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureMaps {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    data: Vec<f32>,
}

impl FeatureMaps {
    /// Refuses empty channel or spatial dimensions, a wrong length and non-finite values (like
    /// [`Features::new`]); `n = 0` images is allowed.
    pub fn new(n: usize, c: usize, h: usize, w: usize, data: Vec<f32>) -> Result<Self> {
        require(c > 0 && h > 0 && w > 0, "feature maps", "[C, H, W]", format!("{:?}", [c, h, w]), "every dimension at least 1")?;
        let expected = n * c * h * w;
        if data.len() != expected {
            return Err(Error::MapsShapeMismatch { n, c, h, w, expected, got: data.len() });
        }
        if let Some(pos) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteMap { image: pos / (c * h * w) });
        }
        Ok(Self { n, c, h, w, data })
    }

    pub fn images(&self) -> usize {
        self.n
    }

    pub fn channels(&self) -> usize {
        self.c
    }

    pub fn height(&self) -> usize {
        self.h
    }

    pub fn width(&self) -> usize {
        self.w
    }

    /// `[C, H, W]`, what a per-position model must see again at scoring time.
    pub fn geometry(&self) -> [usize; 3] {
        [self.c, self.h, self.w]
    }

    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// One feature vector per position: rows ordered image, then row `y`, then column `x`
    /// (row `(i·h + y)·w + x`), `c` columns.
    pub fn patches(&self) -> Features {
        let hw = self.h * self.w;
        let mut out = vec![0.0f32; self.data.len()];
        for (image, maps) in self.data.chunks_exact(self.c * hw).enumerate() {
            let rows = &mut out[image * hw * self.c..(image + 1) * hw * self.c];
            for (ch, plane) in maps.chunks_exact(hw).enumerate() {
                for (p, &v) in plane.iter().enumerate() {
                    rows[p * self.c + ch] = v;
                }
            }
        }
        Features::new(self.n * hw, self.c, out).expect("a transpose keeps the shape and finite values")
    }

    /// The maps of the images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> FeatureMaps {
        let per_image = self.c * self.h * self.w;
        let mut data = Vec::with_capacity(indices.len() * per_image);
        for &i in indices {
            data.extend_from_slice(&self.data[i * per_image..(i + 1) * per_image]);
        }
        FeatureMaps { n: indices.len(), data, ..*self }
    }

    /// Global average pooling: the `[N, C]` features a pooled model of normality takes.
    pub fn global_average_pool(&self) -> Features {
        let hw = self.h * self.w;
        let data = self
            .data
            .chunks_exact(hw)
            .map(|plane| (plane.iter().map(|&v| v as f64).sum::<f64>() / hw as f64) as f32)
            .collect();
        Features::new(self.n, self.c, data).expect("means of finite values are finite")
    }
}

/// Anomaly maps `[N, H, W]`, row-major per image, at the resolution of the feature maps they
/// were computed from (upsampling to the image is left to the caller).
#[derive(Clone, Debug, PartialEq)]
pub struct AnomalyMaps {
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub data: Vec<f64>,
}

impl AnomalyMaps {
    pub fn map(&self, image: usize) -> &[f64] {
        let hw = self.h * self.w;
        &self.data[image * hw..(image + 1) * hw]
    }

    pub fn iter_maps(&self) -> impl Iterator<Item = &[f64]> {
        self.data.chunks_exact((self.h * self.w).max(1)).take(self.n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two images, two channels, 1×2 maps: value = 1000·image + 10·channel + position.
    fn maps() -> FeatureMaps {
        FeatureMaps::new(2, 2, 1, 2, vec![0.0, 1.0, 10.0, 11.0, 1000.0, 1001.0, 1010.0, 1011.0]).unwrap()
    }

    #[test]
    fn patches_are_channel_vectors_per_position() {
        let p = maps().patches();
        assert_eq!((p.rows(), p.dim()), (4, 2));
        assert_eq!(p.row(0), &[0.0, 10.0]);
        assert_eq!(p.row(1), &[1.0, 11.0]);
        assert_eq!(p.row(3), &[1001.0, 1011.0]);
    }

    #[test]
    fn select_picks_whole_images_in_the_order_asked() {
        let picked = maps().select(&[1, 0, 1]);
        assert_eq!(picked.geometry(), [2, 1, 2]);
        assert_eq!(picked.images(), 3);
        assert_eq!(&picked.as_slice()[..4], &[1000.0, 1001.0, 1010.0, 1011.0]);
        assert_eq!(&picked.as_slice()[4..8], &[0.0, 1.0, 10.0, 11.0]);
        assert_eq!(maps().select(&[]).images(), 0);
    }

    #[test]
    fn global_average_pool_averages_each_plane() {
        let f = maps().global_average_pool();
        assert_eq!(f.row(0), &[0.5, 10.5]);
        assert_eq!(f.row(1), &[1000.5, 1010.5]);
    }

    #[test]
    fn refuses_wrong_length_and_non_finite_values() {
        assert!(FeatureMaps::new(1, 0, 2, 2, vec![]).unwrap_err().to_string().contains("at least 1"));
        assert!(matches!(FeatureMaps::new(1, 2, 2, 2, vec![0.0; 7]), Err(Error::MapsShapeMismatch { expected: 8, .. })));
        let mut data = vec![0.0; 16];
        data[9] = f32::INFINITY;
        assert_eq!(FeatureMaps::new(2, 2, 2, 2, data).unwrap_err(), Error::NonFiniteMap { image: 1 });
    }
}
