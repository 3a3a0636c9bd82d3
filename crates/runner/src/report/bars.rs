//! Grouped bars: F1 and accuracy of every threshold rule, per category, for one model of
//! normality: the side-by-side comparison of rules the workbench exists for.

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use crate::report::figure::{FONT, Figure};

pub struct BarsFigure {
    pub title: String,
    pub categories: Vec<String>,
    /// (rule, oracle)
    pub rules: Vec<(String, bool)>,
    /// Panels, e.g. ("F1", values[category][rule]).
    pub panels: Vec<(String, Vec<Vec<Option<f64>>>)>,
}

impl Figure for BarsFigure {
    fn size(&self) -> (u32, u32) {
        (
            160 + 90 * (self.categories.len() * self.rules.len().max(1)).clamp(4, 24) as u32,
            300 * self.panels.len().max(1) as u32 + 60,
        )
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let root = root.titled(&self.title, (FONT, 20))?;
        let n_rules = self.rules.len().max(1);
        // Categories on an integer axis: category c's bars span [c·(R+1), c·(R+1) + R).
        let slot = n_rules + 1;
        let width = (self.categories.len() * slot) as i32;
        for (p, (area, (metric, values))) in root
            .split_evenly((self.panels.len(), 1))
            .iter()
            .zip(&self.panels)
            .enumerate()
        {
            let mut chart = ChartBuilder::on(area)
                .margin(12)
                .x_label_area_size(if p + 1 == self.panels.len() { 36 } else { 20 })
                .y_label_area_size(52)
                .build_cartesian_2d((0..width).into_segmented(), 0.0..1.05f64)?;
            let categories = &self.categories;
            chart
                .configure_mesh()
                .y_desc(metric.as_str())
                .x_labels(width as usize)
                .x_label_formatter(&|v| match v {
                    SegmentValue::CenterOf(i) if (*i as usize) % slot == n_rules / 2 => categories
                        .get(*i as usize / slot)
                        .cloned()
                        .unwrap_or_default(),
                    _ => String::new(),
                })
                .disable_x_mesh()
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 15))
                .draw()?;
            for (r, (rule, oracle)) in self.rules.iter().enumerate() {
                let color = Palette99::pick(r).to_rgba();
                let style = if *oracle {
                    color.mix(0.45).filled()
                } else {
                    color.filled()
                };
                let bars = values.iter().enumerate().filter_map(|(c, row)| {
                    let v = row.get(r).copied().flatten()?;
                    let x = (c * slot + r) as i32;
                    Some(Rectangle::new(
                        [
                            (SegmentValue::Exact(x), 0.0),
                            (SegmentValue::Exact(x + 1), v),
                        ],
                        style,
                    ))
                });
                let series = chart.draw_series(bars)?;
                if p == 0 {
                    let label = format!("{rule}{}", if *oracle { " (oracle)" } else { "" });
                    series
                        .label(label)
                        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], style));
                }
            }
            if p == 0 {
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperRight)
                    .label_font((FONT, 12))
                    .background_style(WHITE.mix(0.9))
                    .border_style(BLACK.mix(0.5))
                    .draw()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_every_rule_and_category() {
        let fig = BarsFigure {
            title: "rules".into(),
            categories: vec!["mono".into(), "poly".into()],
            rules: vec![("quantile{q=0.95}".into(), false), ("max_f1".into(), true)],
            panels: vec![
                (
                    "F1".into(),
                    vec![vec![Some(0.5), Some(0.7)], vec![None, Some(0.9)]],
                ),
                ("accuracy".into(), vec![vec![Some(0.6); 2]; 2]),
            ],
        };
        let dir = tempfile::tempdir().unwrap();
        crate::report::figure::write_figure(dir.path(), "b", &fig).unwrap();
        let svg = std::fs::read_to_string(dir.path().join("b.svg")).unwrap();
        for text in [
            "mono",
            "poly",
            "quantile{q=0.95}",
            "max_f1 (oracle)",
            "F1",
            "accuracy",
        ] {
            assert!(svg.contains(text), "{text}");
        }
        // A missing value draws no bar; giving it a value draws exactly one more.
        let filled = BarsFigure { panels: vec![("F1".into(), vec![vec![Some(0.5), Some(0.7)], vec![Some(0.2), Some(0.9)]]), fig.panels[1].clone()], ..fig };
        crate::report::figure::write_figure(dir.path(), "c", &filled).unwrap();
        let more = std::fs::read_to_string(dir.path().join("c.svg")).unwrap();
        assert_eq!(more.matches("<rect").count(), svg.matches("<rect").count() + 1);
    }
}
