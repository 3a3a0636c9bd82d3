//! Bilinear resizing that reproduces Pillow's `Image.resize(..., BILINEAR)` bit for bit, which
//! is what torchvision's `Resize` runs on PIL images and so what the reference pipelines saw.
//! Pillow widens the triangle filter by the scale factor when shrinking (antialiasing),
//! normalises the weights, stores them in 22-bit fixed point, and rounds to 8 bits after the
//! horizontal and again after the vertical pass. (`fast_image_resize` and `image` use other
//! roundings and differ by one level on ~15 % of pixels.)

use crate::image::Pixels;

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// For each output position: the first input index and the fixed-point weights from there.
struct Taps {
    start: Vec<usize>,
    weights: Vec<Vec<i32>>,
}

fn taps(in_size: usize, out_size: usize) -> Taps {
    let scale = in_size as f64 / out_size as f64;
    let filter_scale = scale.max(1.0);
    let support = filter_scale; // the bilinear filter's support is 1
    let mut start = Vec::with_capacity(out_size);
    let mut weights = Vec::with_capacity(out_size);
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        // Pillow truncates toward zero here; clamping makes negative values moot.
        let xmin = ((center - support + 0.5) as isize).max(0) as usize;
        let xmax = ((center + support + 0.5) as isize).min(in_size as isize) as usize;
        let w: Vec<f64> = (xmin..xmax)
            .map(|x| (1.0 - ((x as f64 - center + 0.5) / filter_scale).abs()).max(0.0))
            .collect();
        let total: f64 = w.iter().sum();
        let fixed = w
            .iter()
            .map(|&v| {
                let v = if total != 0.0 { v / total } else { v };
                let scaled = v * (1u32 << PRECISION_BITS) as f64;
                (if scaled < 0.0 { scaled - 0.5 } else { scaled + 0.5 }) as i32
            })
            .collect();
        start.push(xmin);
        weights.push(fixed);
    }
    Taps { start, weights }
}

fn clip8(acc: i64) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resizes to `width × height` with Pillow's bilinear filter.
pub fn resize_bilinear(src: &Pixels, width: u32, height: u32) -> Pixels {
    if (src.width, src.height) == (width, height) {
        return src.clone();
    }
    let c = src.channels;
    let (in_w, in_h) = (src.width as usize, src.height as usize);
    let (out_w, out_h) = (width as usize, height as usize);
    let round = 1i64 << (PRECISION_BITS - 1);

    let horizontal = if in_w != out_w {
        let t = taps(in_w, out_w);
        let mut tmp = vec![0u8; in_h * out_w * c];
        for y in 0..in_h {
            let row = &src.data[y * in_w * c..(y + 1) * in_w * c];
            for (x, (start, w)) in t.start.iter().zip(&t.weights).enumerate() {
                for ch in 0..c {
                    let acc = w.iter().enumerate().fold(round, |acc, (k, &wk)| {
                        acc + row[(start + k) * c + ch] as i64 * wk as i64
                    });
                    tmp[(y * out_w + x) * c + ch] = clip8(acc);
                }
            }
        }
        tmp
    } else {
        src.data.clone()
    };

    if in_h == out_h {
        return Pixels::new(width, height, c, horizontal);
    }
    let t = taps(in_h, out_h);
    let stride = out_w * c;
    let mut out = vec![0u8; out_h * stride];
    for (y, (start, w)) in t.start.iter().zip(&t.weights).enumerate() {
        for i in 0..stride {
            let acc = w
                .iter()
                .enumerate()
                .fold(round, |acc, (k, &wk)| acc + horizontal[(start + k) * stride + i] as i64 * wk as i64);
            out[y * stride + i] = clip8(acc);
        }
    }
    Pixels::new(width, height, c, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test picture of `scripts/dev/pil_bilinear_fixture.py`.
    fn pattern(width: u32, height: u32) -> Pixels {
        let mut data = Vec::new();
        for y in 0..height {
            for x in 0..width {
                for c in 0..3 {
                    data.push(((x * 7 + y * 13 + c * 50 + (x * y) % 17) % 256) as u8);
                }
            }
        }
        Pixels::new(width, height, 3, data)
    }

    /// Pillow's outputs for the pattern (its version heads the file), written by `scripts/dev/pil_bilinear_fixture.py`.
    #[test]
    fn matches_pillow_bit_for_bit_when_shrinking_and_enlarging() {
        let fixture = include_str!("../tests/data/pil_bilinear.txt");
        let mut checked = 0;
        for line in fixture.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let dims: Vec<u32> = fields[..4].iter().map(|f| f.parse().unwrap()).collect();
            let expected: Vec<u8> = fields[4].as_bytes().chunks(2).map(|h| u8::from_str_radix(std::str::from_utf8(h).unwrap(), 16).unwrap()).collect();
            let out = resize_bilinear(&pattern(dims[0], dims[1]), dims[2], dims[3]);
            assert_eq!(out.data, expected, "{}x{} -> {}x{}", dims[0], dims[1], dims[2], dims[3]);
            checked += 1;
        }
        assert!(checked >= 3);
    }

    #[test]
    fn gray_resizes_like_each_rgb_channel() {
        let rgb = pattern(29, 17);
        let gray = Pixels::new(29, 17, 1, rgb.data.iter().step_by(3).copied().collect());
        let a = resize_bilinear(&rgb, 11, 23);
        let b = resize_bilinear(&gray, 11, 23);
        assert_eq!(a.data.iter().step_by(3).copied().collect::<Vec<u8>>(), b.data);
    }
}
