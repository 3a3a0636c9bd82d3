//! Score histograms: normal against anomalous test images, with every rule's threshold as a
//! named vertical line, so a reader sees why a rule lands where it does.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::report::figure::{FONT, Figure};

pub struct HistogramFigure {
    pub title: String,
    pub normal: Vec<f64>,
    pub anomalous: Vec<f64>,
    /// (rule, threshold, oracle)
    pub thresholds: Vec<(String, f64, bool)>,
}

const BINS: usize = 30;

impl HistogramFigure {
    /// The x range: every score and threshold, with a little margin.
    fn range(&self) -> (f64, f64) {
        let extent = |values: &mut dyn Iterator<Item = f64>| values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let (lo, hi) = extent(&mut self.normal.iter().chain(&self.anomalous).copied());
        if !(lo.is_finite() && hi.is_finite()) {
            return (0.0, 1.0);
        }
        // Thresholds far outside the scores (e.g. manual{value=1e308}) are drawn at the edge
        // rather than squeezing every score into one bar.
        let span = (hi - lo).max(1e-9 * hi.abs().max(1.0));
        let (lo, hi) = extent(&mut self.thresholds.iter().map(|t| t.1).filter(|t| (lo - span..=hi + span).contains(t)).chain([lo, hi]));
        let pad = (hi - lo) * 0.05;
        (lo - pad, hi + pad)
    }

    /// Counts per bin, as fractions of the class so that unequal class sizes compare.
    fn density(values: &[f64], (lo, hi): (f64, f64)) -> Vec<f64> {
        let mut counts = vec![0.0; BINS];
        for v in values {
            let bin = (((v - lo) / (hi - lo)) * BINS as f64)
                .floor()
                .clamp(0.0, (BINS - 1) as f64) as usize;
            counts[bin] += 1.0 / values.len() as f64;
        }
        counts
    }
}

impl Figure for HistogramFigure {
    fn size(&self) -> (u32, u32) {
        (800, 480)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let range = self.range();
        let classes = [
            ("normal", &self.normal, BLUE),
            ("anomalous", &self.anomalous, RED),
        ];
        let densities: Vec<Vec<f64>> = classes.iter().map(|c| Self::density(c.1, range)).collect();
        let top = densities
            .iter()
            .flatten()
            .copied()
            .fold(0.0, f64::max)
            .max(0.01)
            * 1.15;
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, (FONT, 20))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(range.0..range.1, 0.0..top)?;
        chart
            .configure_mesh()
            .x_desc("anomaly score")
            .y_desc("share of the class's test images")
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 15))
            .light_line_style(TRANSPARENT)
            .draw()?;
        let width = (range.1 - range.0) / BINS as f64;
        for ((name, values, color), density) in classes.iter().zip(&densities) {
            let color = *color;
            chart
                .draw_series(density.iter().enumerate().filter(|(_, d)| **d > 0.0).map(
                    |(b, &d)| {
                        let x0 = range.0 + b as f64 * width;
                        Rectangle::new([(x0, 0.0), (x0 + width, d)], color.mix(0.35).filled())
                    },
                ))?
                .label(format!("{name} (n = {})", values.len()))
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 16, y + 5)], color.mix(0.35).filled())
                });
        }
        for (i, (rule, threshold, oracle)) in self.thresholds.iter().enumerate() {
            let style = if *oracle {
                BLACK.mix(0.5).stroke_width(1)
            } else {
                BLACK.stroke_width(2)
            };
            let x = threshold.clamp(range.0, range.1);
            chart.draw_series(LineSeries::new([(x, 0.0), (x, top)], style))?;
            // Each label on its own line, so that close thresholds stay readable; labels in the
            // right half extend leftwards, so that none runs off the figure.
            let step = (0.85 / self.thresholds.len() as f64).min(0.06);
            let y = top * (0.97 - step * i as f64);
            let off_scale = if x != *threshold { format!(" = {threshold:.4e}, off scale") } else { String::new() };
            let label = format!("{rule}{}{off_scale}", if *oracle { " (oracle)" } else { "" });
            let right_half = x > (range.0 + range.1) / 2.0;
            let anchor = Pos::new(if right_half { HPos::Right } else { HPos::Left }, VPos::Top);
            chart.draw_series([Text::new(label, (x, y), TextStyle::from((FONT, 12).into_font()).pos(anchor))])?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FONT, 13))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.5))
            .draw()?;
        root.present()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn densities_sum_to_one_per_class_and_the_range_covers_thresholds() {
        let fig = HistogramFigure {
            title: "t".into(),
            normal: vec![0.0, 0.1, 0.2, 0.2],
            anomalous: vec![1.0],
            thresholds: vec![
                ("max_normal".into(), 0.2, false),
                ("manual{value=1.5}".into(), 1.5, false),
            ],
        };
        let range = fig.range();
        assert!(range.0 < 0.0 && range.1 > 1.5, "{range:?}");
        let d = HistogramFigure::density(&fig.normal, range);
        assert!((d.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let dir = tempfile::tempdir().unwrap();
        crate::report::figure::write_figure(dir.path(), "h", &fig).unwrap();
        let svg = std::fs::read_to_string(dir.path().join("h.svg")).unwrap();
        assert!(
            svg.contains("max_normal")
                && svg.contains("normal (n = 4)")
                && svg.contains("anomalous (n = 1)")
        );
    }
}
