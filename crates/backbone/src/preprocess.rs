//! Turning decoded pixels into a network input, as torchvision's
//! `Resize(shorter) → CenterCrop(crop) → ToTensor → Normalize(mean, std)` does on PIL images.

use std::fmt;

use crate::image::Pixels;
use crate::resize::resize_bilinear;

/// Per-backbone input preparation; values are `(pixel / 255 − mean) / std` per channel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Preprocess {
    /// The shorter side is resized to this many pixels (bilinear, antialiased), keeping the aspect.
    pub resize_shorter: u32,
    /// Then the central `crop × crop` square is kept.
    pub crop: u32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Preprocess {
    /// ImageNet statistics, for torchvision-trained networks.
    pub const fn imagenet(resize_shorter: u32, crop: u32) -> Self {
        Self { resize_shorter, crop, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }
    }

    /// EfficientNet-Lite's `(pixel − 127) / 128`, in the form the PyTorch reference used:
    /// mean 0.498 and std 0.502 on `pixel / 255`, i.e. `(pixel − 126.99) / 128.01`.
    pub const fn efficientnet_lite(resize_shorter: u32, crop: u32) -> Self {
        Self { resize_shorter, crop, mean: [0.498; 3], std: [0.502; 3] }
    }

    /// The size torchvision's `Resize(int)` gives: shorter side set, longer side truncated.
    fn resized_size(&self, width: u32, height: u32) -> (u32, u32) {
        let s = self.resize_shorter;
        if width <= height {
            (s, (s as u64 * height as u64 / width as u64) as u32)
        } else {
            ((s as u64 * width as u64 / height as u64) as u32, s)
        }
    }

    /// `[3, crop, crop]` values in channel-major order, written into `out`.
    pub fn write_chw(&self, pixels: &Pixels, out: &mut [f32]) {
        let c = self.crop as usize;
        assert_eq!(out.len(), 3 * c * c, "output buffer for one image");
        let (w, h) = self.resized_size(pixels.width, pixels.height);
        let resized = resize_bilinear(pixels, w, h);
        // torchvision's CenterCrop: offsets rounded half to even (Python's round), and zero
        // padding when the image is smaller than the crop.
        let left = (w as f64 - self.crop as f64) / 2.0;
        let top = (h as f64 - self.crop as f64) / 2.0;
        let (left, top) = (left.round_ties_even() as i64, top.round_ties_even() as i64);
        for ch in 0..3 {
            let (mean, std) = (self.mean[ch], self.std[ch]);
            let plane = &mut out[ch * c * c..(ch + 1) * c * c];
            for y in 0..c {
                for x in 0..c {
                    let (sx, sy) = (x as i64 + left, y as i64 + top);
                    let inside = (0..w as i64).contains(&sx) && (0..h as i64).contains(&sy);
                    let pixel = if inside { resized.rgb(sx as u32, sy as u32)[ch] } else { 0 };
                    // Same f32 operations as ToTensor + Normalize, so results match to the bit.
                    plane[y * c + x] = (pixel as f32 / 255.0 - mean) / std;
                }
            }
        }
    }

    pub fn to_chw(&self, pixels: &Pixels) -> Vec<f32> {
        let c = self.crop as usize;
        let mut out = vec![0.0; 3 * c * c];
        self.write_chw(pixels, &mut out);
        out
    }
}

impl fmt::Display for Preprocess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shorter side {} → centre crop {}, ", self.resize_shorter, self.crop)?;
        if *self == Self::efficientnet_lite(self.resize_shorter, self.crop) {
            f.write_str("(pixel − 127) / 128")
        } else if *self == Self::imagenet(self.resize_shorter, self.crop) {
            f.write_str("ImageNet mean/std")
        } else {
            write!(f, "mean {:?}, std {:?}", self.mean, self.std)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_keeps_aspect_and_truncates_the_longer_side() {
        let p = Preprocess::imagenet(256, 224);
        assert_eq!(p.resized_size(768, 576), (341, 256));
        assert_eq!(p.resized_size(576, 768), (256, 341));
        assert_eq!(p.resized_size(300, 300), (256, 256));
    }

    #[test]
    fn normalises_and_crops_the_centre() {
        let p = Preprocess { resize_shorter: 4, crop: 2, mean: [0.5; 3], std: [0.5; 3] };
        // A 4×4 gray image needs no resize; the centre 2×2 is kept.
        let px = Pixels::new(4, 4, 1, (0..16).map(|v| v as u8 * 17).collect());
        let out = p.to_chw(&px);
        let expected: Vec<f32> = [5u8, 6, 9, 10].iter().map(|&v| (v as f32 * 17.0 / 255.0 - 0.5) / 0.5).collect();
        assert_eq!(&out[..4], &expected[..]);
        assert_eq!(&out[4..8], &expected[..], "gray is replicated to every channel");
    }

    #[test]
    fn pads_with_zero_pixels_when_the_image_is_smaller_than_the_crop() {
        let p = Preprocess { resize_shorter: 2, crop: 4, mean: [0.0; 3], std: [1.0; 3] };
        let out = p.to_chw(&Pixels::new(2, 2, 1, vec![255; 4]));
        let plane: Vec<f32> = out[..16].to_vec();
        assert_eq!(plane.iter().filter(|&&v| v == 1.0).count(), 4);
        assert_eq!(plane[5], 1.0);
        assert_eq!(plane[0], 0.0);
    }
}
