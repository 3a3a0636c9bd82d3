//! `metrics.csv`, `scores.csv` and `table.md`, built as polars data frames.

use std::fs::File;
use std::path::Path;

use anyhow::{Context, Result};
use polars::prelude::*;

/// One row of `metrics.csv`: a category × score × threshold rule.
#[derive(Clone, Debug, Default)]
pub struct MetricRow {
    pub dataset: String,
    pub category: String,
    pub backbone: String,
    pub tap: String,
    pub score: String,
    pub threshold_rule: String,
    pub oracle: bool,
    pub threshold: Option<f64>,
    pub auroc: Option<f64>,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
    pub accuracy: Option<f64>,
    pub n_train: u64,
    pub n_val: u64,
    pub n_test: u64,
}

pub fn metrics_frame(rows: &[MetricRow]) -> Result<DataFrame> {
    let text = |name: &str, f: fn(&MetricRow) -> &str| Column::new(name.into(), rows.iter().map(f).collect::<Vec<_>>());
    let number = |name: &str, f: fn(&MetricRow) -> Option<f64>| Column::new(name.into(), rows.iter().map(f).collect::<Vec<_>>());
    let count = |name: &str, f: fn(&MetricRow) -> u64| Column::new(name.into(), rows.iter().map(f).collect::<Vec<_>>());
    Ok(DataFrame::new_infer_height(vec![
        text("dataset", |r| &r.dataset),
        text("category", |r| &r.category),
        text("backbone", |r| &r.backbone),
        text("tap", |r| &r.tap),
        text("score", |r| &r.score),
        text("threshold_rule", |r| &r.threshold_rule),
        Column::new("oracle".into(), rows.iter().map(|r| r.oracle).collect::<Vec<_>>()),
        number("threshold", |r| r.threshold),
        number("auroc", |r| r.auroc),
        number("precision", |r| r.precision),
        number("recall", |r| r.recall),
        number("f1", |r| r.f1),
        number("accuracy", |r| r.accuracy),
        count("n_train", |r| r.n_train),
        count("n_val", |r| r.n_val),
        count("n_test", |r| r.n_test),
    ])?)
}

/// One row of `scores.csv`: an image's score under one model of normality.
#[derive(Clone, Debug)]
pub struct ScoreRow {
    pub category: String,
    pub tap: String,
    pub image: String,
    /// `validation` (held-out normal), `train` (in-sample reference when nothing is held out) or `test`.
    pub split: &'static str,
    pub label: u8,
    pub defect_type: String,
    pub score_name: String,
    pub score: f64,
}

pub fn scores_frame(rows: &[ScoreRow]) -> Result<DataFrame> {
    Ok(DataFrame::new_infer_height(vec![
        Column::new("category".into(), rows.iter().map(|r| r.category.as_str()).collect::<Vec<_>>()),
        Column::new("tap".into(), rows.iter().map(|r| r.tap.as_str()).collect::<Vec<_>>()),
        Column::new("image".into(), rows.iter().map(|r| r.image.as_str()).collect::<Vec<_>>()),
        Column::new("split".into(), rows.iter().map(|r| r.split).collect::<Vec<_>>()),
        Column::new("label".into(), rows.iter().map(|r| r.label as u32).collect::<Vec<_>>()),
        Column::new("defect_type".into(), rows.iter().map(|r| r.defect_type.as_str()).collect::<Vec<_>>()),
        Column::new("score_name".into(), rows.iter().map(|r| r.score_name.as_str()).collect::<Vec<_>>()),
        Column::new("score".into(), rows.iter().map(|r| r.score).collect::<Vec<_>>()),
    ])?)
}

pub fn write_csv(frame: &mut DataFrame, path: &Path) -> Result<()> {
    let file = File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    anyhow::Context::with_context(CsvWriter::new(file).finish(frame), || format!("cannot write {}", path.display()))
}

/// The columns of `metrics.csv` a reader compares, as a Markdown table; the tap is shown when
/// the rows have more than one.
pub fn markdown_table(metrics: &DataFrame) -> Result<String> {
    let several_taps = metrics.column("tap")?.n_unique()? > 1;
    let columns = ["category", "tap", "score", "threshold_rule", "oracle", "auroc", "threshold", "precision", "recall", "f1", "accuracy"];
    let shown = metrics.select(columns.into_iter().filter(|&c| c != "tap" || several_taps))?;
    let names: Vec<String> = shown.get_column_names().iter().map(|n| n.to_string()).collect();
    let mut out = format!("| {} |\n|{}\n", names.join(" | "), names.iter().map(|n| if is_text(&shown, n) { " --- |" } else { " ---: |" }).collect::<String>());
    for i in 0..shown.height() {
        let cells: Vec<String> = shown.columns().iter().map(|c| cell(c.get(i).unwrap_or(AnyValue::Null))).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    Ok(out)
}

fn is_text(frame: &DataFrame, name: &str) -> bool {
    frame.column(name).map(|c| matches!(c.dtype(), DataType::String | DataType::Boolean)).unwrap_or(true)
}

fn cell(value: AnyValue) -> String {
    match value {
        AnyValue::Null => "—".into(),
        AnyValue::Float64(v) => format!("{v:.4}"),
        AnyValue::Boolean(true) => "oracle".into(),
        AnyValue::Boolean(false) => "".into(),
        other => other.str_value().into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(category: &str, rule: &str, oracle: bool, f1: Option<f64>) -> MetricRow {
        MetricRow {
            dataset: "toy".into(),
            category: category.into(),
            backbone: "b".into(),
            tap: "head".into(),
            score: "cosine".into(),
            threshold_rule: rule.into(),
            oracle,
            threshold: f1.map(|_| 0.5),
            auroc: Some(0.75),
            precision: f1,
            recall: f1,
            f1,
            accuracy: f1,
            n_train: 8,
            n_val: 2,
            n_test: 5,
        }
    }

    #[test]
    fn metrics_csv_has_the_documented_columns_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let mut frame = metrics_frame(&[row("a", "max_f1", true, Some(0.8)), row("a", "mean_k_std{k=3}", false, None)]).unwrap();
        write_csv(&mut frame, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "dataset,category,backbone,tap,score,threshold_rule,oracle,threshold,auroc,precision,recall,f1,accuracy,n_train,n_val,n_test"
        );
        assert_eq!(lines.next().unwrap(), "toy,a,b,head,cosine,max_f1,true,0.5,0.75,0.8,0.8,0.8,0.8,8,2,5");
        assert_eq!(lines.next().unwrap(), "toy,a,b,head,cosine,mean_k_std{k=3},false,,0.75,,,,,8,2,5");
    }

    #[test]
    fn markdown_marks_oracles_and_missing_values() {
        let frame = metrics_frame(&[row("a", "max_f1", true, Some(0.8)), row("a", "mean_k_std{k=3}", false, None)]).unwrap();
        let md = markdown_table(&frame).unwrap();
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines[0], "| category | score | threshold_rule | oracle | auroc | threshold | precision | recall | f1 | accuracy |");
        assert_eq!(lines[1], "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        assert_eq!(lines[2], "| a | cosine | max_f1 | oracle | 0.7500 | 0.5000 | 0.8000 | 0.8000 | 0.8000 | 0.8000 |");
        assert_eq!(lines[3], "| a | cosine | mean_k_std{k=3} |  | 0.7500 | — | — | — | — | — |");
        let mut block5 = row("a", "max_f1", true, Some(0.8));
        block5.tap = "block5".into();
        let md = markdown_table(&metrics_frame(&[row("a", "max_f1", true, Some(0.8)), block5]).unwrap()).unwrap();
        assert!(md.starts_with("| category | tap | score |"), "{md}");
        assert!(md.contains("| a | block5 | cosine | max_f1 |"), "{md}");
    }
}
