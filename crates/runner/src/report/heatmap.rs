//! AUROC of one model of normality over backbone × tap: where in which network the useful
//! features are.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::report::figure::{FONT, Figure};

pub struct HeatmapFigure {
    pub title: String,
    pub rows: Vec<String>,
    pub columns: Vec<String>,
    /// values[row][column]; `None` where the combination was not run.
    pub values: Vec<Vec<Option<f64>>>,
}

/// White at AUROC 0.5 (chance) to deep green at 1, and to red below chance.
fn colour(v: f64) -> RGBColor {
    let t = ((v - 0.5) * 2.0).clamp(-1.0, 1.0);
    let fade = |full: u8, t: f64| (255.0 - (255.0 - full as f64) * t) as u8;
    if t >= 0.0 {
        RGBColor(fade(0, t), fade(110, t), fade(50, t))
    } else {
        RGBColor(fade(190, -t), fade(30, -t), fade(30, -t))
    }
}

impl Figure for HeatmapFigure {
    fn size(&self) -> (u32, u32) {
        (
            (220 + 110 * self.columns.len() as u32).max(600),
            120 + 56 * self.rows.len() as u32,
        )
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let (nr, nc) = (self.rows.len() as i32, self.columns.len() as i32);
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, (FONT, 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(180)
            .build_cartesian_2d(0..nc, 0..nr)?;
        let (rows, columns) = (&self.rows, &self.columns);
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(columns.len())
            .y_labels(rows.len())
            .x_label_formatter(&|c| columns.get(*c as usize).cloned().unwrap_or_default())
            .y_label_formatter(&|r| {
                rows.get((nr - 1 - *r) as usize)
                    .cloned()
                    .unwrap_or_default()
            })
            .x_label_offset(55)
            .y_label_offset(-28)
            .label_style((FONT, 13))
            .draw()?;
        for (r, row) in self.values.iter().enumerate() {
            let y = nr - 1 - r as i32;
            for (c, v) in row.iter().enumerate() {
                let c = c as i32;
                let fill = v.map(colour).unwrap_or(RGBColor(235, 235, 235));
                chart.draw_series([Rectangle::new([(c, y), (c + 1, y + 1)], fill.filled())])?;
                let text = v.map(|v| format!("{v:.3}")).unwrap_or_else(|| "—".into());
                let ink = if v.is_some_and(|v| (v - 0.5).abs() > 0.3) {
                    WHITE
                } else {
                    BLACK
                };
                let style = TextStyle::from((FONT, 15).into_font()).color(&ink).pos(
                    plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Center,
                        plotters::style::text_anchor::VPos::Center,
                    ),
                );
                let centre = chart.backend_coord(&(c, y + 1));
                let next = chart.backend_coord(&(c + 1, y));
                root.draw(&Text::new(
                    text,
                    ((centre.0 + next.0) / 2, (centre.1 + next.1) / 2),
                    style,
                ))?;
            }
        }
        root.present()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chance_is_white_and_good_is_green() {
        assert_eq!(colour(0.5), RGBColor(255, 255, 255));
        assert_eq!(colour(1.0), RGBColor(0, 110, 50));
        assert_eq!(colour(0.0), RGBColor(190, 30, 30));
        let fig = HeatmapFigure {
            title: "AUROC".into(),
            rows: vec!["efficientnet-lite0".into(), "efficientnet-lite1".into()],
            columns: vec!["block5".into(), "head".into()],
            values: vec![vec![Some(0.96), Some(0.42)], vec![None, Some(0.5)]],
        };
        let dir = tempfile::tempdir().unwrap();
        crate::report::figure::write_figure(dir.path(), "m", &fig).unwrap();
        let svg = std::fs::read_to_string(dir.path().join("m.svg")).unwrap();
        for text in ["0.960", "0.420", "—", "efficientnet-lite1", "block5"] {
            assert!(svg.contains(text), "{text}");
        }
    }
}
