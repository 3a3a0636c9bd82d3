//! `scores.csv` (written and read back), `metrics.csv`, the summary `table.md`, and per-category
//! pivots as CSV, Markdown and LaTeX (booktabs), built as polars data frames.

use std::fs::File;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use mon_normality::metrics::{Interval, MetricSet};
use polars::prelude::*;
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::report::measure::{CellMetrics, RuleMetrics};
use crate::report::{CellRecord, ReferenceScore, TestScore};

/// The long `scores.csv`: one row per image per cell, the normal reference first.
pub fn scores_frame(cells: &[CellRecord]) -> Result<DataFrame> {
    let mut rows: Vec<(&CellRecord, &str, &str, bool, &str, f64)> = Vec::new();
    for c in cells {
        rows.extend(
            c.reference
                .iter()
                .map(|r| (c, r.0.as_str(), c.reference_split, false, "good", r.1)),
        );
        rows.extend(c.test.iter().map(|t| {
            (
                c,
                t.image.as_str(),
                "test",
                t.anomalous,
                t.defect_type.as_str(),
                t.score,
            )
        }));
    }
    let mut columns = cell_columns(rows.iter().map(|r| r.0));
    columns.extend([
        Column::new(
            "n_fit".into(),
            rows.iter().map(|r| r.0.n_fit as u64).collect::<Vec<_>>(),
        ),
        Column::new("image".into(), rows.iter().map(|r| r.1).collect::<Vec<_>>()),
        Column::new("split".into(), rows.iter().map(|r| r.2).collect::<Vec<_>>()),
        Column::new(
            "label".into(),
            rows.iter().map(|r| r.3 as u32).collect::<Vec<_>>(),
        ),
        Column::new(
            "defect_type".into(),
            rows.iter().map(|r| r.4).collect::<Vec<_>>(),
        ),
        Column::new("score".into(), rows.iter().map(|r| r.5).collect::<Vec<_>>()),
    ]);
    Ok(DataFrame::new_infer_height(columns)?)
}

fn cell_columns<'a>(cells: impl Iterator<Item = &'a CellRecord> + Clone) -> Vec<Column> {
    let text = |name: &str, f: fn(&CellRecord) -> &str| {
        Column::new(name.into(), cells.clone().map(f).collect::<Vec<_>>())
    };
    vec![
        Column::new(
            "cell".into(),
            cells.clone().map(|c| c.cell as u64).collect::<Vec<_>>(),
        ),
        text("dataset", |c| &c.dataset),
        text("category", |c| &c.category),
        text("backbone", |c| &c.backbone),
        text("tap", |c| &c.tap),
        Column::new(
            "seed".into(),
            cells.clone().map(|c| c.seed).collect::<Vec<_>>(),
        ),
        text("model", |c| &c.model),
    ]
}

/// A CSV file as text: its header and rows. Every column is read as text, so that category
/// names like `01` stay text and numbers are parsed (bit for bit) by the caller.
pub fn read_text_csv(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let frame = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish())
        .map_err(|e| anyhow!("cannot read {}: {e}", path.display()))?;
    let header: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let columns: Vec<Vec<String>> = frame
        .columns()
        .iter()
        .map(|c| {
            let text = c.str()?;
            Ok((0..text.len())
                .map(|i| text.get(i).unwrap_or("").to_string())
                .collect())
        })
        .collect::<Result<_>>()?;
    let rows = (0..frame.height())
        .map(|i| columns.iter().map(|c| c[i].clone()).collect())
        .collect();
    Ok((header, rows))
}

/// Reads `scores.csv` back into cells, in `cell` order.
pub fn read_scores(path: &Path) -> Result<Vec<CellRecord>> {
    let (header, rows) = read_text_csv(path)?;
    let column = |name: &str| -> Result<Vec<String>> {
        let c = header.iter().position(|h| h == name).ok_or_else(|| {
            anyhow!(
                "{}: no `{name}` column; is this a scores.csv written by `mon run`?",
                path.display()
            )
        })?;
        Ok(rows.iter().map(|r| r[c].clone()).collect())
    };
    let [
        cell,
        dataset,
        category,
        backbone,
        tap,
        seed,
        model,
        n_fit,
        image,
        split,
        label,
        defect_type,
        score,
    ] = [
        "cell",
        "dataset",
        "category",
        "backbone",
        "tap",
        "seed",
        "model",
        "n_fit",
        "image",
        "split",
        "label",
        "defect_type",
        "score",
    ]
    .map(column);
    let (cell, dataset, category, backbone, tap, seed, model) =
        (cell?, dataset?, category?, backbone?, tap?, seed?, model?);
    let (n_fit, image, split, label, defect_type, score) =
        (n_fit?, image?, split?, label?, defect_type?, score?);
    let number = |values: &[String], i: usize, what: &str| -> Result<f64> {
        values[i].parse::<f64>().map_err(|_| {
            anyhow!(
                "{}: line {}: `{what}` {:?} is not a number",
                path.display(),
                i + 2,
                values[i]
            )
        })
    };
    let line = |i: usize| format!("{}: line {}", path.display(), i + 2);
    let mut cells: Vec<CellRecord> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for i in 0..rows.len() {
        let index = number(&cell, i, "cell")? as usize;
        let names = [&dataset[i], &category[i], &backbone[i], &tap[i], &model[i]];
        match cells.last() {
            Some(c) if c.cell == index => {
                if names != [&c.dataset, &c.category, &c.backbone, &c.tap, &c.model] || seed[i] != c.seed.to_string() {
                    bail!("{}: cell {index} changes its dataset, category, backbone, tap, seed or model here; was the file edited?", line(i));
                }
            }
            _ => {
                if cells.iter().any(|c| c.cell == index) {
                    bail!("{}: the rows of cell {index} are not together; was the file edited?", line(i));
                }
                cells.push(CellRecord {
                    cell: index,
                    dataset: dataset[i].clone(),
                    category: category[i].clone(),
                    backbone: backbone[i].clone(),
                    tap: tap[i].clone(),
                    seed: seed[i].parse().map_err(|_| anyhow!("{}: `seed` {:?} is not a whole number", line(i), seed[i]))?,
                    model: model[i].clone(),
                    n_fit: n_fit[i].parse().map_err(|_| anyhow!("{}: `n_fit` {:?} is not a whole number", line(i), n_fit[i]))?,
                    reference_split: "validation",
                    reference: Vec::new(),
                    test: Vec::new(),
                });
            }
        }
        if !seen.insert((index, split[i].clone(), image[i].clone())) {
            bail!("{}: {} appears twice in cell {index}; was the file edited?", line(i), image[i]);
        }
        let current = cells.last_mut().expect("pushed above");
        let value = number(&score, i, "score")?;
        if !value.is_finite() {
            bail!("{}: score {value} is not finite; models of normality give finite scores, so the file was edited or is damaged", line(i));
        }
        let anomalous = match label[i].as_str() {
            "0" => false,
            "1" => true,
            other => bail!("{}: label {other:?} must be 0 (normal) or 1 (anomalous)", line(i)),
        };
        match split[i].as_str() {
            "test" => current.test.push(TestScore { image: image[i].clone(), anomalous, defect_type: defect_type[i].clone(), score: value }),
            reference @ ("validation" | "train") => {
                let reference = if reference == "train" { "train" } else { "validation" };
                if anomalous || (!current.reference.is_empty() && current.reference_split != reference) {
                    bail!("{}: the normal reference of a cell is all `validation` or all `train` rows, each with label 0", line(i));
                }
                current.reference_split = reference;
                current.reference.push(ReferenceScore(image[i].clone(), value));
            }
            other => bail!("{}: unknown split {other:?} (expected validation, train or test)", line(i)),
        }
    }
    if cells.is_empty() {
        bail!("{}: no score rows; nothing to report", path.display());
    }
    cells.sort_by_key(|c| c.cell);
    Ok(cells)
}

/// `metrics.csv`: one row per cell × threshold rule, each metric with its bootstrap interval.
pub fn metrics_frame(cells: &[CellRecord], measured: &[CellMetrics]) -> Result<DataFrame> {
    let rows: Vec<(&CellRecord, &CellMetrics, usize)> = cells
        .iter()
        .zip(measured)
        .flat_map(|(c, m)| (0..m.rules.len()).map(move |r| (c, m, r)))
        .collect();
    let mut columns = cell_columns(rows.iter().map(|r| r.0));
    fn rule<'a>(r: &(&'a CellRecord, &'a CellMetrics, usize)) -> &'a RuleMetrics {
        &r.1.rules[r.2]
    }
    columns.push(Column::new(
        "threshold_rule".into(),
        rows.iter()
            .map(|r| rule(r).rule.as_str())
            .collect::<Vec<_>>(),
    ));
    columns.push(Column::new(
        "oracle".into(),
        rows.iter().map(|r| rule(r).oracle).collect::<Vec<_>>(),
    ));
    columns.push(Column::new(
        "threshold".into(),
        rows.iter()
            .map(|r| rule(r).point.as_ref().ok().map(|p| p.0))
            .collect::<Vec<_>>(),
    ));
    let with_interval = |columns: &mut Vec<Column>, name: &str, values: Vec<Option<Interval>>| {
        let finite = |v: f64| v.is_finite().then_some(v);
        columns.push(Column::new(
            name.into(),
            values
                .iter()
                .map(|v| v.map(|i| i.estimate))
                .collect::<Vec<_>>(),
        ));
        columns.push(Column::new(
            format!("{name}_low").into(),
            values
                .iter()
                .map(|v| v.and_then(|i| finite(i.low)))
                .collect::<Vec<_>>(),
        ));
        columns.push(Column::new(
            format!("{name}_high").into(),
            values
                .iter()
                .map(|v| v.and_then(|i| finite(i.high)))
                .collect::<Vec<_>>(),
        ));
    };
    with_interval(
        &mut columns,
        "auroc",
        rows.iter().map(|r| r.1.auroc).collect(),
    );
    for (m, name) in MetricSet::<f64>::NAMES.iter().enumerate() {
        let values = rows
            .iter()
            .map(|r| {
                let rule = rule(r);
                let (_, confusion) = rule.point.as_ref().ok()?;
                let estimate = *confusion.metrics().values()[m];
                Some(rule.intervals.map(|i| *i.values()[m]).unwrap_or(Interval {
                    estimate,
                    low: f64::NAN,
                    high: f64::NAN,
                }))
            })
            .collect();
        with_interval(&mut columns, name, values);
    }
    columns.push(Column::new(
        "n_fit".into(),
        rows.iter().map(|r| r.0.n_fit as u64).collect::<Vec<_>>(),
    ));
    columns.push(Column::new(
        "n_val".into(),
        rows.iter()
            .map(|r| {
                if r.0.reference_split == "train" {
                    0
                } else {
                    r.0.reference.len() as u64
                }
            })
            .collect::<Vec<_>>(),
    ));
    columns.push(Column::new(
        "n_test".into(),
        rows.iter()
            .map(|r| r.0.test.len() as u64)
            .collect::<Vec<_>>(),
    ));
    Ok(DataFrame::new_infer_height(columns)?)
}

pub fn write_csv(frame: &mut DataFrame, path: &Path) -> Result<()> {
    let file = File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    anyhow::Context::with_context(CsvWriter::new(file).finish(frame), || {
        format!("cannot write {} (disk full?)", path.display())
    })
}

/// The columns of `metrics.csv` a reader compares, as a Markdown table; grid dimensions with a
/// single value are left out.
pub fn markdown_table(metrics: &DataFrame) -> Result<String> {
    let varying = |name: &str| {
        metrics
            .column(name)
            .and_then(|c| c.n_unique())
            .map(|n| n > 1)
            .unwrap_or(false)
    };
    // (column, shown even when every row has the same value)
    let columns = [
        ("dataset", false),
        ("category", true),
        ("backbone", false),
        ("tap", false),
        ("seed", false),
        ("model", true),
        ("threshold_rule", true),
        ("oracle", true),
        ("auroc", true),
        ("threshold", true),
        ("precision", true),
        ("recall", true),
        ("f1", true),
        ("accuracy", true),
    ];
    let shown = metrics.select(
        columns
            .into_iter()
            .filter(|(c, always)| *always || varying(c))
            .map(|(c, _)| c),
    )?;
    let names: Vec<String> = shown
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let align = |n: &String| {
        if matches!(
            shown.column(n).map(|c| c.dtype().clone()),
            Ok(DataType::Float64)
        ) {
            " ---: |"
        } else {
            " --- |"
        }
    };
    let mut out = format!(
        "| {} |\n|{}\n",
        names.join(" | "),
        names.iter().map(align).collect::<String>()
    );
    for i in 0..shown.height() {
        let cells: Vec<String> = shown
            .columns()
            .iter()
            .map(|c| cell(c.get(i).unwrap_or(AnyValue::Null)))
            .collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    Ok(out)
}

fn cell(value: AnyValue) -> String {
    match value {
        AnyValue::Null => "—".into(),
        AnyValue::Float64(v) => format!("{v:.4}"),
        AnyValue::Boolean(true) => "oracle".into(),
        AnyValue::Boolean(false) => "".into(),
        other => md(&other.str_value()),
    }
}

/// Table text with Markdown's cell separator escaped.
fn md(text: &str) -> String {
    text.replace('|', "\\|")
}

/// A per-category pivot of one metric: for each block (dataset, backbone, tap and, for rule
/// metrics, model), one row per category (averaged over seeds) and one column per rule (or per
/// model, for AUROC), then a mean row: the mean of the categories, with a Student-t confidence
/// interval over the categories (over the seeds when there is one category).
pub struct Pivot {
    pub metric: String,
    pub level: f64,
    pub blocks: Vec<PivotBlock>,
}

pub struct PivotBlock {
    /// e.g. `mvtec_ad / efficientnet-lite0 @ head / euclidean`.
    pub title: String,
    pub columns: Vec<String>,
    /// (category, one mean per column).
    pub rows: Vec<(String, Vec<Option<f64>>)>,
    /// Per column: mean and interval half-width over every category × seed value.
    pub summary: Vec<Option<(f64, Option<f64>)>>,
}

impl Pivot {
    /// `metric` is a `metrics.csv` column; `by_rule` pivots rules into columns (else models,
    /// which suits AUROC: one value per model).
    pub fn build(metrics: &DataFrame, metric: &str, by_rule: bool, level: f64) -> Result<Pivot> {
        let text = |name: &str| -> Result<Vec<String>> {
            let column = metrics.column(name)?.str()?;
            Ok((0..column.len())
                .map(|i| column.get(i).unwrap_or("").to_string())
                .collect())
        };
        let (dataset, category, backbone, tap, model, rule) = (
            text("dataset")?,
            text("category")?,
            text("backbone")?,
            text("tap")?,
            text("model")?,
            text("threshold_rule")?,
        );
        let column = metrics.column(metric)?.f64()?;
        let values: Vec<Option<f64>> = (0..column.len()).map(|i| column.get(i)).collect();
        let mut blocks: Vec<PivotBlock> = Vec::new();
        // block title → (columns, categories, values[(category, column)] over seeds)
        let mut cells: Vec<Vec<Vec<Vec<f64>>>> = Vec::new();
        for i in 0..metrics.height() {
            let title = if by_rule {
                format!(
                    "{} / {} @ {} / {}",
                    dataset[i], backbone[i], tap[i], model[i]
                )
            } else {
                format!("{} / {} @ {}", dataset[i], backbone[i], tap[i])
            };
            let column = if by_rule { &rule[i] } else { &model[i] };
            if !by_rule && rule[i] != rule[0] {
                continue; // AUROC repeats on every rule's row
            }
            let b = blocks
                .iter()
                .position(|b| b.title == title)
                .unwrap_or_else(|| {
                    blocks.push(PivotBlock {
                        title: title.clone(),
                        columns: Vec::new(),
                        rows: Vec::new(),
                        summary: Vec::new(),
                    });
                    cells.push(Vec::new());
                    blocks.len() - 1
                });
            let block = &mut blocks[b];
            let c = block
                .columns
                .iter()
                .position(|x| x == column)
                .unwrap_or_else(|| {
                    block.columns.push(column.clone());
                    block.columns.len() - 1
                });
            let r = block
                .rows
                .iter()
                .position(|x| x.0 == category[i])
                .unwrap_or_else(|| {
                    block.rows.push((category[i].clone(), Vec::new()));
                    cells[b].push(Vec::new());
                    block.rows.len() - 1
                });
            let row = &mut cells[b][r];
            row.resize(row.len().max(c + 1), Vec::new());
            if let Some(v) = values[i] {
                row[c].push(v);
            }
        }
        for (block, cells) in blocks.iter_mut().zip(cells) {
            let width = block.columns.len();
            for (row, values) in block.rows.iter_mut().zip(&cells) {
                row.1 = (0..width)
                    .map(|c| values.get(c).filter(|v| !v.is_empty()).map(|v| mean(v)))
                    .collect();
            }
            block.summary = (0..width)
                .map(|c| {
                    let per_category: Vec<f64> = block.rows.iter().filter_map(|r| r.1[c]).collect();
                    // Categories are the samples (seeds of one category are not independent of
                    // each other's images); with a single category, its seeds are all there is.
                    let samples: Vec<f64> = match per_category.len() {
                        1 => cells.iter().filter_map(|r| r.get(c)).flatten().copied().collect(),
                        _ => per_category.clone(),
                    };
                    (!per_category.is_empty()).then(|| (mean(&per_category), half_width(&samples, level)))
                })
                .collect();
        }
        Ok(Pivot {
            metric: metric.to_string(),
            level,
            blocks,
        })
    }

    /// Long CSV: block, category (or `mean` / `ci_half_width`), one column per rule or model.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        for block in &self.blocks {
            out.push_str(&format!(
                "block,category,{}\n",
                block
                    .columns
                    .iter()
                    .map(|c| csv_field(c))
                    .collect::<Vec<_>>()
                    .join(",")
            ));
            let mut row = |label: &str, values: &mut dyn Iterator<Item = Option<f64>>| {
                let values: Vec<String> = values.map(|v| v.map(|v| v.to_string()).unwrap_or_default()).collect();
                out.push_str(&format!("{},{},{}\n", csv_field(&block.title), csv_field(label), values.join(",")));
            };
            for (category, values) in &block.rows {
                row(category, &mut values.iter().copied());
            }
            row("mean", &mut block.summary.iter().map(|s| s.map(|s| s.0)));
            row("ci_half_width", &mut block.summary.iter().map(|s| s.and_then(|s| s.1)));
        }
        out
    }

    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        for block in &self.blocks {
            out.push_str(&format!(
                "### {} — {}\n\n| category | {} |\n|---|{}\n",
                self.metric,
                block.title,
                block.columns.iter().map(|c| md(c)).collect::<Vec<_>>().join(" | "),
                "---:|".repeat(block.columns.len())
            ));
            for (category, values) in &block.rows {
                out.push_str(&format!("| {} | {} |\n", md(category), numbers(values).join(" | ")));
            }
            let summary = block.summary_cells(" ± ").join(" | ");
            out.push_str(&format!("| **mean ± {:.0} % CI** | {summary} |\n\n", self.level * 100.0));
        }
        out
    }

    /// One booktabs `tabular` per block, ready to `\input` (needs `\usepackage{booktabs}`).
    pub fn to_latex(&self) -> String {
        let mut out = format!(
            "% {} per category; generated by mon. Needs \\usepackage{{booktabs}}.\n",
            latex(&self.metric)
        );
        for block in &self.blocks {
            out.push_str(&format!(
                "\\begin{{tabular}}{{l{}}}\n\\toprule\n\\multicolumn{{{}}}{{l}}{{{}}} \\\\\n\\midrule\ncategory & {} \\\\\n\\midrule\n",
                "r".repeat(block.columns.len()),
                block.columns.len() + 1,
                latex(&block.title),
                block.columns.iter().map(|c| latex(c)).collect::<Vec<_>>().join(" & ")
            ));
            for (category, values) in &block.rows {
                out.push_str(&format!("{} & {} \\\\\n", latex(category), numbers(values).join(" & ")));
            }
            let summary = block.summary_cells(" $\\pm$ ").join(" & ");
            out.push_str(&format!("\\midrule\nmean $\\pm$ {:.0}\\,\\% CI & {summary} \\\\\n\\bottomrule\n\\end{{tabular}}\n\n", self.level * 100.0));
        }
        out
    }
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Half-width of the Student-t interval of the mean; none for a single value.
fn half_width(values: &[f64], level: f64) -> Option<f64> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let m = mean(values);
    let sd = (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .ok()?
        .inverse_cdf(1.0 - (1.0 - level) / 2.0);
    Some(t * sd / (n as f64).sqrt())
}

fn numbers(values: &[Option<f64>]) -> Vec<String> {
    values.iter().map(|v| v.map(|v| format!("{v:.3}")).unwrap_or_else(|| "—".into())).collect()
}

impl PivotBlock {
    /// The mean row's cells, `mean<pm>half-width`.
    fn summary_cells(&self, pm: &str) -> Vec<String> {
        self.summary.iter().map(|s| summary_cell(*s, pm)).collect()
    }
}

fn summary_cell(s: Option<(f64, Option<f64>)>, pm: &str) -> String {
    match s {
        Some((m, Some(h))) => format!("{m:.3}{pm}{h:.3}"),
        Some((m, None)) => format!("{m:.3}"),
        None => "—".into(),
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Escapes LaTeX's special characters in table text.
fn latex(text: &str) -> String {
    let mut out = String::new();
    for ch in text.chars() {
        match ch {
            '\\' => out.push_str("\\textbackslash{}"),
            '{' | '}' | '_' | '%' | '&' | '#' | '$' => {
                out.push('\\');
                out.push(ch);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '|' => out.push_str("\\textbar{}"),
            '<' => out.push_str("\\textless{}"),
            '>' => out.push_str("\\textgreater{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::measure::measure;
    use crate::report::tests::cell;
    use mon_normality::threshold::parse_rule;

    fn two_categories() -> (Vec<CellRecord>, Vec<CellMetrics>) {
        let mut a = cell(
            &[1.0, 1.1, 0.9],
            &[(1.0, false), (1.05, false), (3.0, true), (1.02, true)],
        );
        let mut b = cell(
            &[1.0, 1.2],
            &[(1.0, false), (0.1 + 0.2, false), (2.0, true)],
        );
        a.category = "01".into();
        b.category = "bottle, big".into();
        b.cell = 1;
        let rules = vec![
            parse_rule("max_normal").unwrap(),
            parse_rule("max_f1").unwrap(),
        ];
        let measured = [&a, &b].map(|c| measure(c, &rules, (50, 0.95))).to_vec();
        (vec![a, b], measured)
    }

    #[test]
    fn scores_round_trip_through_csv_bit_for_bit() {
        let (cells, _) = two_categories();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scores.csv");
        write_csv(&mut scores_frame(&cells).unwrap(), &path).unwrap();
        let header = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string();
        assert_eq!(
            header,
            "cell,dataset,category,backbone,tap,seed,model,n_fit,image,split,label,defect_type,score"
        );
        let back = read_scores(&path).unwrap();
        assert_eq!(back, cells, "0.1 + 0.2, category `01` and a comma survive");
    }

    /// An edited or damaged scores.csv is refused with its line, never measured quietly.
    #[test]
    fn edited_scores_are_refused_with_the_line() {
        let (cells, _) = two_categories();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scores.csv");
        write_csv(&mut scores_frame(&cells).unwrap(), &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // Sets field `field` of line `line` (cell 0's rows have no quoted fields).
        let edit = |line: usize, field: usize, to: &str| {
            let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            let mut fields: Vec<&str> = lines[line - 1].split(',').collect();
            fields[field] = to;
            edited[line - 1] = fields.join(",");
            edited.join("\n") + "\n"
        };
        // Lines 2–4: cell 0's validation rows; line 5 its first test row. Fields: 2 category,
        // 9 split, 10 label, 12 score.
        let cases = [
            (edit(5, 12, "inf"), "line 5: score inf is not finite"),
            (edit(5, 10, "2"), "line 5: label \"2\" must be 0"),
            (edit(2, 10, "1"), "line 2: the normal reference of a cell"),
            (edit(3, 9, "train"), "line 3: the normal reference of a cell is all `validation` or all `train`"),
            (edit(6, 2, "02"), "line 6: cell 0 changes its dataset, category"),
            (text.clone() + lines[4] + "\n", "line 14: the rows of cell 0 are not together"),
            (lines[0].to_string() + "\n", "no score rows"),
        ];
        for (i, (edited, expected)) in cases.iter().enumerate() {
            let file = dir.path().join(format!("edited{i}.csv"));
            std::fs::write(&file, edited).unwrap();
            let err = format!("{:#}", read_scores(&file).unwrap_err());
            assert!(err.contains(&format!("edited{i}.csv")) && err.contains(expected), "expected {expected:?} in: {err}");
        }
        let mut doubled: Vec<&str> = lines.clone();
        doubled.insert(5, lines[4]);
        std::fs::write(dir.path().join("doubled.csv"), doubled.join("\n") + "\n").unwrap();
        let err = format!("{:#}", read_scores(&dir.path().join("doubled.csv")).unwrap_err());
        assert!(err.contains("line 6") && err.contains("appears twice in cell 0"), "{err}");
    }

    #[test]
    fn metrics_have_intervals_and_the_documented_columns() {
        let (cells, measured) = two_categories();
        let frame = metrics_frame(&cells, &measured).unwrap();
        assert_eq!(frame.height(), 4, "cells × rules");
        let names: Vec<String> = frame
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(
            &names[..10],
            [
                "cell",
                "dataset",
                "category",
                "backbone",
                "tap",
                "seed",
                "model",
                "threshold_rule",
                "oracle",
                "threshold"
            ]
        );
        for metric in ["auroc", "f1", "accuracy", "mcc", "false_alarm_rate"] {
            for suffix in ["", "_low", "_high"] {
                assert!(
                    names.contains(&format!("{metric}{suffix}")),
                    "{metric}{suffix}"
                );
            }
        }
        let column = |name: &str| -> Vec<Option<f64>> {
            let c = frame.column(name).unwrap().f64().unwrap().clone();
            (0..c.len()).map(|i| c.get(i)).collect()
        };
        let (f1, low) = (column("f1"), column("f1_low"));
        assert!(
            f1.iter().zip(&low).all(|(f, l)| l.unwrap() <= f.unwrap()),
            "{f1:?} {low:?}"
        );
        let md = markdown_table(&frame).unwrap();
        assert!(
            md.starts_with("| category | model | threshold_rule | oracle | auroc |"),
            "{md}"
        );
        assert!(md.contains("| 01 | euclidean | max_f1 | oracle |"), "{md}");
    }

    #[test]
    fn pivots_have_a_row_per_category_and_a_mean_with_its_interval() {
        let (cells, measured) = two_categories();
        let frame = metrics_frame(&cells, &measured).unwrap();
        let pivot = Pivot::build(&frame, "f1", true, 0.95).unwrap();
        assert_eq!(pivot.blocks.len(), 1);
        let block = &pivot.blocks[0];
        assert_eq!(block.columns, ["max_normal", "max_f1"]);
        assert_eq!(
            block.rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
            ["01", "bottle, big"]
        );
        let f1 = frame.column("f1").unwrap().f64().unwrap().clone();
        let f1: Vec<f64> = (0..f1.len()).map(|i| f1.get(i).unwrap()).collect();
        let (m, h) = block.summary[0].unwrap();
        assert!((m - (f1[0] + f1[2]) / 2.0).abs() < 1e-12);
        // n = 2: t(0.975, 1) = 12.706, sd = |a − b|/√2, half-width = t·sd/√2 = 12.706·|a − b|/2
        assert!(
            (h.unwrap() - 12.7062047361747 * (f1[0] - f1[2]).abs() / 2.0).abs() < 1e-9,
            "{h:?}"
        );
        let csv = pivot.to_csv();
        assert!(csv.contains("\"bottle, big\""), "{csv}");
        assert!(
            csv.lines().any(|l| l.contains(",mean,"))
                && csv.lines().any(|l| l.contains(",ci_half_width,")),
            "{csv}"
        );
        let tex = pivot.to_latex();
        assert!(
            tex.contains("\\toprule")
                && tex.contains("max\\_normal & max\\_f1")
                && tex.contains("\\bottomrule"),
            "{tex}"
        );
        assert!(pivot.to_markdown().contains("**mean ± 95 % CI**"));
        assert_eq!((md("a|b"), latex("a|b<c>")), ("a\\|b".to_string(), "a\\textbar{}b\\textless{}c\\textgreater{}".to_string()));
        // One category, two seeds: the seeds are the samples, and the row is their mean.
        let (mut cells, _) = two_categories();
        cells[1].category = "01".into();
        cells[1].seed = 1;
        let rules = vec![parse_rule("max_normal").unwrap()];
        let measured: Vec<CellMetrics> = cells.iter().map(|c| measure(c, &rules, (0, 0.95))).collect();
        let seeds = Pivot::build(&metrics_frame(&cells, &measured).unwrap(), "f1", true, 0.95).unwrap();
        assert_eq!(seeds.blocks[0].rows.len(), 1);
        assert!(seeds.blocks[0].summary[0].unwrap().1.is_some(), "an interval over the two seeds");
        let auroc = Pivot::build(&frame, "auroc", false, 0.95).unwrap();
        assert_eq!(
            auroc.blocks[0].columns,
            ["euclidean"],
            "one AUROC per model, not per rule"
        );
    }
}
