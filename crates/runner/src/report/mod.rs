//! What a run leaves behind under `results/<experiment>/<timestamp>/`, rendered from the cells'
//! scores alone so that `mon report` and `mon merge` redo it exactly: `metrics.csv`,
//! `table.md`, `tables/` (pivots as CSV, Markdown, LaTeX) and `figures/` (ROC curves, score
//! histograms, rule bars, AUROC heatmaps; anomaly-map overlays come from the run itself).

pub mod bars;
pub mod environment;
pub mod figure;
pub mod heatmap;
pub mod histogram;
pub mod measure;
pub mod overlay;
pub mod roc_plot;
pub mod run_dir;
pub mod tables;

use std::path::Path;

use anyhow::Result;
use mon_normality::threshold::ThresholdRule;
use rayon::prelude::*;

use crate::experiment::ReportConfig;
use run_dir::{create_dir, write_file};
use bars::BarsFigure;
use figure::{slug, write_figure};
use heatmap::HeatmapFigure;
use histogram::HistogramFigure;
use measure::{CellMetrics, measure};
use roc_plot::{RocCurve, RocFigure, WorkingPoint};
use tables::{Pivot, markdown_table, metrics_frame, write_csv};

/// A finished grid cell as the report sees it: names rather than indices, so that it can be
/// read back from `scores.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct CellRecord {
    /// Position in the whole grid; fixes the row order of every output.
    pub cell: usize,
    pub dataset: String,
    pub category: String,
    pub backbone: String,
    pub tap: String,
    pub seed: u64,
    /// The model of normality as the experiment names it.
    pub model: String,
    /// Normal images the model was fitted on.
    pub n_fit: usize,
    /// `validation` (held out) or `train` (in-sample, when nothing is held out).
    pub reference_split: &'static str,
    pub reference: Vec<ReferenceScore>,
    pub test: Vec<TestScore>,
}

/// A normal reference image and its score.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferenceScore(pub String, pub f64);

#[derive(Clone, Debug, PartialEq)]
pub struct TestScore {
    pub image: String,
    pub anomalous: bool,
    pub defect_type: String,
    pub score: f64,
}

impl CellRecord {
    /// `dataset/category/backbone@tap/seed=s/model`, as in logs.
    pub fn label(&self) -> String {
        format!(
            "{}/{}/{}@{}/seed={}/{}",
            self.dataset, self.category, self.backbone, self.tap, self.seed, self.model
        )
    }
}

/// Measures every cell and writes metrics, tables and figures into `dir`. Returns the summary
/// table (Markdown) and a warning per rule that could not be computed.
pub fn render(
    dir: &Path,
    heading: &str,
    cells: &[CellRecord],
    rules: &[Box<dyn ThresholdRule>],
    config: &ReportConfig,
) -> Result<(String, Vec<String>)> {
    let measured: Vec<CellMetrics> = cells
        .par_iter()
        .map(|c| measure(c, rules, (config.bootstrap, config.level)))
        .collect();
    let warnings = cells
        .iter()
        .zip(&measured)
        .flat_map(|(c, m)| {
            m.rules.iter().filter_map(move |r| {
                r.point
                    .as_ref()
                    .err()
                    .map(|why| format!("{} / {}: {why}", c.label(), r.rule))
            })
        })
        .collect();
    let mut metrics = metrics_frame(cells, &measured)?;
    write_csv(&mut metrics, &dir.join("metrics.csv"))?;
    let table = format!(
        "## {heading}\n\nImage-level results; oracle rules set their threshold on the test labels (an upper bound, not a deployable threshold).\n\n{}",
        markdown_table(&metrics)?
    );
    write_file(dir.join("table.md"), &table)?;

    let tables = dir.join("tables");
    create_dir(&tables)?;
    let pivots = [("f1", true), ("accuracy", true), ("auroc", false)]
        .map(|(metric, by_rule)| Pivot::build(&metrics, metric, by_rule, config.level));
    let [f1, accuracy, auroc] = pivots;
    let (f1, accuracy, auroc) = (f1?, accuracy?, auroc?);
    for pivot in [&f1, &accuracy, &auroc] {
        write_file(tables.join(format!("{}.csv", pivot.metric)), pivot.to_csv())?;
        write_file(
            tables.join(format!("{}.md", pivot.metric)),
            pivot.to_markdown(),
        )?;
        write_file(
            tables.join(format!("{}.tex", pivot.metric)),
            pivot.to_latex(),
        )?;
    }

    let figures = dir.join("figures");
    roc_figures(&figures.join("roc"), cells, &measured)?;
    histograms(&figures.join("histograms"), cells, &measured)?;
    rule_bars(&figures.join("bars"), &f1, &accuracy, &measured)?;
    auroc_heatmaps(&figures.join("heatmaps"), cells, &measured)?;
    Ok((table, warnings))
}

/// Cells of the first seed, grouped by what one figure shows, in grid order.
fn first_seed_groups<'a, K: PartialEq>(
    cells: &'a [CellRecord],
    measured: &'a [CellMetrics],
    key: impl Fn(&CellRecord) -> K,
) -> Vec<Vec<(&'a CellRecord, &'a CellMetrics)>> {
    let first_seed = cells.first().map(|c| c.seed);
    let mut groups: Vec<(K, Vec<(&CellRecord, &CellMetrics)>)> = Vec::new();
    for (c, m) in cells
        .iter()
        .zip(measured)
        .filter(|(c, _)| Some(c.seed) == first_seed)
    {
        let k = key(c);
        match groups.iter_mut().find(|g| g.0 == k) {
            Some(g) => g.1.push((c, m)),
            None => groups.push((k, vec![(c, m)])),
        }
    }
    groups.into_iter().map(|g| g.1).collect()
}

/// Figures of single cells show the first seed; their titles say so when there are others.
fn seed_note(cells: &[CellRecord], seed: u64) -> String {
    let others = cells.iter().any(|c| c.seed != seed);
    if others { format!(" (seed {seed}; tables average all seeds)") } else { String::new() }
}

/// One ROC figure per dataset × category × backbone × tap: a curve per model of normality, a
/// marker per rule.
fn roc_figures(dir: &Path, cells: &[CellRecord], measured: &[CellMetrics]) -> Result<()> {
    for group in first_seed_groups(cells, measured, |c| {
        (
            c.dataset.clone(),
            c.category.clone(),
            c.backbone.clone(),
            c.tap.clone(),
        )
    }) {
        let (first, _) = group[0];
        let curves: Vec<RocCurve> = group
            .iter()
            .filter_map(|(c, m)| {
                let points = m
                    .rules
                    .iter()
                    .filter_map(|r| {
                        let (_, confusion) = r.point.as_ref().ok()?;
                        Some(WorkingPoint {
                            rule: r.rule.clone(),
                            oracle: r.oracle,
                            false_alarm_rate: confusion.false_alarm_rate(),
                            recall: confusion.recall(),
                        })
                    })
                    .collect();
                Some(RocCurve {
                    label: format!("{} (AUROC {:.3})", c.model, m.auroc?.estimate),
                    roc: m.roc.as_ref()?,
                    points,
                })
            })
            .collect();
        if curves.is_empty() {
            continue; // no anomalous (or no normal) test images: no ROC to draw
        }
        let title = format!("{} / {} — {} @ {}{}", first.dataset, first.category, first.backbone, first.tap, seed_note(cells, first.seed));
        write_figure(
            dir,
            &slug(&[&first.dataset, &first.category, &first.backbone, &first.tap]),
            &RocFigure { title, curves },
        )?;
    }
    Ok(())
}

/// One histogram per cell (first seed): normal against anomalous test scores, rule thresholds.
fn histograms(dir: &Path, cells: &[CellRecord], measured: &[CellMetrics]) -> Result<()> {
    for group in first_seed_groups(cells, measured, |c| c.cell) {
        let (c, m) = group[0];
        let class = |anomalous: bool| {
            c.test
                .iter()
                .filter(|t| t.anomalous == anomalous)
                .map(|t| t.score)
                .collect()
        };
        let thresholds = m
            .rules
            .iter()
            .filter_map(|r| Some((r.rule.clone(), r.point.as_ref().ok()?.0, r.oracle)))
            .collect();
        let figure = HistogramFigure {
            title: format!("{} / {} — {} @ {} — {}{}", c.dataset, c.category, c.backbone, c.tap, c.model, seed_note(cells, c.seed)),
            normal: class(false),
            anomalous: class(true),
            thresholds,
        };
        write_figure(
            dir,
            &slug(&[&c.dataset, &c.category, &c.backbone, &c.tap, &c.model]),
            &figure,
        )?;
    }
    Ok(())
}

/// One grouped bar chart per dataset × backbone × tap × model: F1 and accuracy of each rule per
/// category (averaged over seeds), from the pivots.
fn rule_bars(dir: &Path, f1: &Pivot, accuracy: &Pivot, measured: &[CellMetrics]) -> Result<()> {
    let Some(first) = measured.first() else {
        return Ok(());
    };
    let rules: Vec<(String, bool)> = first
        .rules
        .iter()
        .map(|r| (r.rule.clone(), r.oracle))
        .collect();
    for (f1_block, accuracy_block) in f1.blocks.iter().zip(&accuracy.blocks) {
        let values = |block: &tables::PivotBlock| block.rows.iter().map(|r| r.1.clone()).collect();
        let figure = BarsFigure {
            title: format!("Threshold rules — {}", f1_block.title),
            categories: f1_block.rows.iter().map(|r| r.0.clone()).collect(),
            rules: rules.clone(),
            panels: vec![
                ("F1".into(), values(f1_block)),
                ("accuracy".into(), values(accuracy_block)),
            ],
        };
        write_figure(
            dir,
            &slug(&[&f1_block.title.replace(" / ", "_").replace(" @ ", "_")]),
            &figure,
        )?;
    }
    Ok(())
}

/// One heatmap per dataset × model: mean AUROC over categories and seeds, backbone × tap.
fn auroc_heatmaps(dir: &Path, cells: &[CellRecord], measured: &[CellMetrics]) -> Result<()> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for c in cells {
        let key = (c.dataset.clone(), c.model.clone());
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    for (dataset, model) in keys {
        let chosen: Vec<(&CellRecord, f64)> = cells
            .iter()
            .zip(measured)
            .filter(|(c, _)| c.dataset == dataset && c.model == model)
            .filter_map(|(c, m)| Some((c, m.auroc?.estimate)))
            .collect();
        let mut rows: Vec<String> = Vec::new();
        let mut columns: Vec<String> = Vec::new();
        for (c, _) in &chosen {
            if !rows.contains(&c.backbone) {
                rows.push(c.backbone.clone());
            }
            if !columns.contains(&c.tap) {
                columns.push(c.tap.clone());
            }
        }
        let values = rows
            .iter()
            .map(|b| {
                columns
                    .iter()
                    .map(|t| {
                        let v: Vec<f64> = chosen
                            .iter()
                            .filter(|(c, _)| &c.backbone == b && &c.tap == t)
                            .map(|x| x.1)
                            .collect();
                        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
                    })
                    .collect()
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let figure = HeatmapFigure {
            title: format!("AUROC — {dataset} — {model} (mean over categories)"),
            rows,
            columns,
            values,
        };
        write_figure(dir, &slug(&[&dataset, &model]), &figure)?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A euclidean cell of dataset `toy`, category `a`: reference scores and (score, anomalous) tests.
    pub fn cell(reference: &[f64], test: &[(f64, bool)]) -> CellRecord {
        CellRecord {
            cell: 0,
            dataset: "toy".into(),
            category: "a".into(),
            backbone: "efficientnet-lite0".into(),
            tap: "head".into(),
            seed: 0,
            model: "euclidean".into(),
            n_fit: 8,
            reference_split: "validation",
            reference: reference
                .iter()
                .enumerate()
                .map(|(i, &s)| ReferenceScore(format!("train/good/{i}.png"), s))
                .collect(),
            test: test
                .iter()
                .enumerate()
                .map(|(i, &(score, anomalous))| TestScore {
                    image: format!("test/{}/{i}.png", if anomalous { "crack" } else { "good" }),
                    anomalous,
                    defect_type: if anomalous { "crack" } else { "good" }.into(),
                    score,
                })
                .collect(),
        }
    }

    #[test]
    fn render_writes_every_table_and_figure() {
        let dir = tempfile::tempdir().unwrap();
        let mut cells = vec![
            cell(&[1.0, 1.1], &[(1.0, false), (2.0, true)]),
            cell(&[1.0, 1.2], &[(1.0, false), (3.0, true)]),
        ];
        cells[1].cell = 1;
        cells[1].tap = "block5".into();
        let rules = vec![
            mon_normality::threshold::parse_rule("max_normal").unwrap(),
            mon_normality::threshold::parse_rule("max_f1").unwrap(),
        ];
        let (table, warnings) = render(
            dir.path(),
            "toy",
            &cells,
            &rules,
            &ReportConfig {
                bootstrap: 20,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(
            table.contains("| a | head | euclidean | max_normal |"),
            "{table}"
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        for file in [
            "metrics.csv",
            "table.md",
            "tables/f1.csv",
            "tables/f1.md",
            "tables/f1.tex",
            "tables/accuracy.tex",
            "tables/auroc.md",
            "figures/roc/toy_a_efficientnet-lite0_head.png",
            "figures/roc/toy_a_efficientnet-lite0_block5.svg",
            "figures/histograms/toy_a_efficientnet-lite0_head_euclidean.png",
            "figures/bars/toy_efficientnet-lite0_head_euclidean.png",
            "figures/heatmaps/toy_euclidean.png",
        ] {
            assert!(dir.path().join(file).is_file(), "{file} missing");
        }
    }
}
