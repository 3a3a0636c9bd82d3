//! ROC figures with every threshold rule's working point marked and named.

use mon_normality::metrics::Roc;
use plotters::coord::Shift;
use plotters::element::{Drawable, PointCollection};
use plotters::prelude::*;
use plotters_backend::{BackendCoord, DrawingErrorKind};

use crate::report::figure::{FONT, Figure};

/// One model of normality's curve and its rules' working points.
pub struct RocCurve<'a> {
    pub label: String,
    pub roc: &'a Roc,
    pub points: Vec<WorkingPoint>,
}

pub struct WorkingPoint {
    pub rule: String,
    pub oracle: bool,
    pub false_alarm_rate: f64,
    pub recall: f64,
}

/// One category's ROC curves (one per model of normality).
pub struct RocFigure<'a> {
    pub title: String,
    pub curves: Vec<RocCurve<'a>>,
}

impl Figure for RocFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (720, 640)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        draw(root, &self.title, &self.curves)
    }
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    curves: &[RocCurve],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(56)
        .build_cartesian_2d(-0.01f64..1.01f64, -0.01f64..1.01f64)?;
    chart
        .configure_mesh()
        .x_desc("false-alarm rate (FPR)")
        .y_desc("recall (TPR)")
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.08))
        .draw()?;
    chart.draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.3)))?;
    // Colour tells the model of normality, marker shape the threshold rule.
    for (i, curve) in curves.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let line = curve
            .roc
            .fpr
            .iter()
            .copied()
            .zip(curve.roc.tpr.iter().copied());
        chart
            .draw_series(LineSeries::new(line, color.stroke_width(2)))?
            .label(curve.label.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], color.stroke_width(2)));
        for (shape, p) in curve.points.iter().enumerate() {
            chart.draw_series([marker(
                shape,
                (p.false_alarm_rate, p.recall),
                point_style(color, p.oracle),
            )])?;
        }
    }
    // One legend entry per rule, in black: filled = label-free, hollow = oracle (not deployable).
    if let Some(first) = curves.first() {
        for (shape, p) in first.points.iter().enumerate() {
            let style = point_style(BLACK.to_rgba(), p.oracle);
            let label = format!("{}{}", p.rule, if p.oracle { " (oracle)" } else { "" });
            chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
                .label(label)
                .legend(move |(x, y)| marker(shape, (x + 12, y), style));
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.5))
        .draw()?;
    root.present()
}

fn point_style(color: RGBAColor, oracle: bool) -> ShapeStyle {
    if oracle {
        color.stroke_width(2)
    } else {
        color.filled()
    }
}

/// A rule's working point: the `shape`-th of circle, triangle, square, diamond (repeating),
/// filled or hollow. One element type for every shape, so that points and legend entries are
/// drawn the same way.
struct Marker<C> {
    at: C,
    shape: usize,
    style: ShapeStyle,
}

fn marker<C>(shape: usize, at: C, style: ShapeStyle) -> Marker<C> {
    Marker { at, shape, style }
}

impl<'a, C> PointCollection<'a, C> for &'a Marker<C> {
    type Point = &'a C;
    type IntoIter = std::iter::Once<&'a C>;
    fn point_iter(self) -> Self::IntoIter {
        std::iter::once(&self.at)
    }
}

impl<C, DB: DrawingBackend> Drawable<DB> for Marker<C> {
    fn draw<I: Iterator<Item = BackendCoord>>(
        &self,
        mut points: I,
        backend: &mut DB,
        _: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        const R: i32 = 6;
        let Some((x, y)) = points.next() else {
            return Ok(());
        };
        let outline: Vec<BackendCoord> = match self.shape % 4 {
            0 => return backend.draw_circle((x, y), R as u32, &self.style, self.style.filled),
            1 => vec![(x, y - R - 1), (x + R, y + R - 1), (x - R, y + R - 1)],
            2 => vec![
                (x - R + 1, y - R + 1),
                (x + R - 1, y - R + 1),
                (x + R - 1, y + R - 1),
                (x - R + 1, y + R - 1),
            ],
            _ => vec![
                (x, y - R - 1),
                (x + R + 1, y),
                (x, y + R + 1),
                (x - R - 1, y),
            ],
        };
        if self.style.filled {
            backend.fill_polygon(outline, &self.style)
        } else {
            let closed = outline.iter().chain(outline.first()).copied();
            backend.draw_path(closed, &self.style)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_png_and_an_svg_with_the_labels() {
        let dir = tempfile::tempdir().unwrap();
        let roc = Roc {
            fpr: vec![0.0, 0.0, 0.5, 1.0],
            tpr: vec![0.0, 0.5, 1.0, 1.0],
            thresholds: vec![f64::INFINITY, 0.9, 0.5, 0.1],
        };
        let curves = vec![RocCurve {
            label: "cosine (AUROC 0.875)".into(),
            roc: &roc,
            points: vec![WorkingPoint {
                rule: "max_f1".into(),
                oracle: true,
                false_alarm_rate: 0.5,
                recall: 1.0,
            }],
        }];
        crate::report::figure::write_figure(
            dir.path(),
            "roc_toy",
            &RocFigure {
                title: "ROC — toy".into(),
                curves,
            },
        )
        .unwrap();
        let png = image::open(dir.path().join("roc_toy.png")).unwrap();
        assert_eq!((png.width(), png.height()), (720, 640));
        let svg = std::fs::read_to_string(dir.path().join("roc_toy.svg")).unwrap();
        assert!(
            svg.contains("max_f1 (oracle)")
                && svg.contains("cosine (AUROC 0.875)")
                && svg.contains("ROC — toy"),
            "{svg}"
        );
        // Text is rendered into the bitmap too: dark pixels exist in the caption band.
        let rgb = png.to_rgb8();
        assert!(
            (0..720).any(|x| (0..40).any(|y| rgb.get_pixel(x, y)[0] < 100)),
            "caption text drawn"
        );
    }
}
