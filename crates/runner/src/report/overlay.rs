//! Anomaly-map overlays for spatial models: the network's view of a test image (resized and
//! cropped as the backbone saw it) beside the same view with its anomaly map laid over it,
//! upsampled bilinearly. All overlays of a cell share one colour scale, so they compare.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use mon_backbone::image::decode_file;
use mon_backbone::preprocess::Preprocess;
use mon_normality::AnomalyMaps;
use plotters::prelude::*;

use crate::dataset::Sample;

/// Which test images get an overlay: up to `count − 1` anomalous ones (highest scores first)
/// and the highest-scoring normal one, as the most instructive pair of a false alarm and a hit.
pub fn pick(samples: &[Sample], scores: &[f64], count: usize) -> Vec<usize> {
    if count == 0 {
        return Vec::new();
    }
    let mut by_score: Vec<usize> = (0..samples.len()).collect();
    by_score.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let mut chosen: Vec<usize> = by_score
        .iter()
        .copied()
        .filter(|&i| samples[i].anomalous)
        .take(count - 1)
        .collect();
    chosen.extend(by_score.iter().copied().find(|&i| !samples[i].anomalous));
    chosen
}

/// Writes one `<defect type>_<file stem>.png` per chosen image into `dir`.
pub fn write_overlays(
    dir: &Path,
    prep: &Preprocess,
    samples: &[Sample],
    maps: &AnomalyMaps,
    chosen: &[usize],
) -> Result<Vec<PathBuf>> {
    let values = chosen.iter().flat_map(|&i| maps.map(i).iter().copied());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let side = prep.crop as usize;
    let mut written = Vec::new();
    for &i in chosen {
        let sample = &samples[i];
        let chw = prep.to_chw(&decode_file(&sample.path)?);
        let stem = sample
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = dir.join(format!(
            "{}_{}.png",
            crate::report::figure::slug(&[&sample.defect_type]),
            crate::report::figure::slug(&[&stem])
        ));
        let map = maps.map(i);
        {
            let area =
                BitMapBackend::new(&path, (2 * side as u32, side as u32)).into_drawing_area();
            for y in 0..side {
                for x in 0..side {
                    // Undo the normalisation to get back the pixel the network saw.
                    let rgb: [f64; 3] = std::array::from_fn(|c| {
                        ((chw[c * side * side + y * side + x] * prep.std[c] + prep.mean[c]) * 255.0)
                            .clamp(0.0, 255.0) as f64
                    });
                    let heat = jet((upsample(map, maps.h, maps.w, side, x, y) - lo) / span);
                    let blend = |c: usize| (0.55 * rgb[c] + 0.45 * heat[c]) as u8;
                    let draw =
                        |x: usize, colour: RGBColor| area.draw_pixel((x as i32, y as i32), &colour);
                    draw(x, RGBColor(rgb[0] as u8, rgb[1] as u8, rgb[2] as u8))
                        .map_err(|e| anyhow!("cannot draw {}: {e}", path.display()))?;
                    draw(side + x, RGBColor(blend(0), blend(1), blend(2)))
                        .map_err(|e| anyhow!("cannot draw {}: {e}", path.display()))?;
                }
            }
            area.present()
                .map_err(|e| anyhow!("cannot write {} (is the disk full?): {e}", path.display()))?;
        }
        written.push(path);
    }
    Ok(written)
}

/// The map's value under output pixel (x, y) of a `side × side` image (bilinear, pixel centres aligned).
fn upsample(map: &[f64], h: usize, w: usize, side: usize, x: usize, y: usize) -> f64 {
    let coord = |p: usize, n: usize| {
        ((p as f64 + 0.5) * n as f64 / side as f64 - 0.5).clamp(0.0, (n - 1) as f64)
    };
    let (fx, fy) = (coord(x, w), coord(y, h));
    let (x0, y0) = (fx.floor() as usize, fy.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (tx, ty) = (fx - x0 as f64, fy - y0 as f64);
    let at = |x: usize, y: usize| map[y * w + x];
    (at(x0, y0) * (1.0 - tx) + at(x1, y0) * tx) * (1.0 - ty)
        + (at(x0, y1) * (1.0 - tx) + at(x1, y1) * tx) * ty
}

/// The classic jet colour map on [0, 1]: blue (normal) through green to red (anomalous).
fn jet(t: f64) -> [f64; 3] {
    let t = t.clamp(0.0, 1.0);
    let channel = |centre: f64| (1.5 - (4.0 * t - centre).abs()).clamp(0.0, 1.0) * 255.0;
    [channel(3.0), channel(2.0), channel(1.0)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(anomalous: bool) -> Sample {
        Sample {
            path: PathBuf::from("x.png"),
            anomalous,
            defect_type: if anomalous { "crack" } else { "good" }.into(),
            mask: None,
        }
    }

    #[test]
    fn picks_the_highest_scoring_anomalies_and_one_normal() {
        let samples = [
            sample(false),
            sample(true),
            sample(true),
            sample(false),
            sample(true),
        ];
        let scores = [0.9, 0.5, 0.8, 0.1, 0.7];
        assert_eq!(pick(&samples, &scores, 3), [2, 4, 0]);
        assert!(pick(&samples, &scores, 0).is_empty());
    }

    #[test]
    fn upsampling_keeps_corners_and_interpolates_between() {
        let map = [0.0, 1.0, 2.0, 3.0]; // 2×2
        assert_eq!(upsample(&map, 2, 2, 4, 0, 0), 0.0);
        assert_eq!(upsample(&map, 2, 2, 4, 3, 3), 3.0);
        assert!((upsample(&map, 2, 2, 4, 1, 0) - 0.25).abs() < 1e-12);
        assert_eq!(jet(0.0), [0.0, 0.0, 127.5]);
        assert_eq!(jet(1.0), [127.5, 0.0, 0.0]);
    }
}
