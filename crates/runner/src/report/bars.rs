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

/// Width of the legend column, in pixels.
const LEGEND: u32 = 270;

/// Rule `r`'s colour; oracle rules paler, as they are not deployable.
fn style(r: usize, oracle: bool) -> ShapeStyle {
    let color = Palette99::pick(r).to_rgba();
    if oracle { color.mix(0.45).filled() } else { color.filled() }
}

impl Figure for BarsFigure {
    fn size(&self) -> (u32, u32) {
        let bars = (self.categories.len() * (self.rules.len() + 1)) as u32;
        (LEGEND + 80 + (22 * bars).clamp(360, 1400), 260 * self.panels.len().max(1) as u32 + 60)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let root = root.titled(&self.title, (FONT, 20))?;
        let (plots, legend) = root.split_horizontally(root.dim_in_pixel().0 - LEGEND);
        // The legend sits beside the panels, where it cannot hide a bar.
        for (r, (rule, oracle)) in self.rules.iter().enumerate() {
            let y = 30 + 20 * r as i32;
            let label = format!("{rule}{}", if *oracle { " (oracle)" } else { "" });
            legend.draw(&Rectangle::new([(8, y - 6), (24, y + 6)], style(r, *oracle)))?;
            legend.draw(&Text::new(label, (30, y - 7), (FONT, 13).into_font()))?;
        }
        let n_rules = self.rules.len().max(1);
        // Categories on an integer axis: category c's bars span [c·(R+1), c·(R+1) + R).
        let slot = n_rules + 1;
        let width = (self.categories.len() * slot) as i32;
        for (p, (area, (metric, values))) in plots
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
            for (r, (_, oracle)) in self.rules.iter().enumerate() {
                let bars = values.iter().enumerate().filter_map(|(c, row)| {
                    let v = row.get(r).copied().flatten()?;
                    let x = (c * slot + r) as i32;
                    Some(Rectangle::new([(SegmentValue::Exact(x), 0.0), (SegmentValue::Exact(x + 1), v)], style(r, *oracle)))
                });
                chart.draw_series(bars)?;
            }
        }
        root.present()
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
