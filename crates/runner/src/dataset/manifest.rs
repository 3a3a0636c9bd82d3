//! The manifest layout: a CSV file listing every image, one row each:
//!
//! ```text
//! path,split,label,defect_type,mask,category
//! cells/0001.png,train,normal,,,mono
//! cells/0420.png,test,anomalous,crack,masks/0420.png,mono
//! ```
//!
//! `mask` and `category` are optional columns (without `category`, the file is one category
//! named after its stem); paths are relative to the CSV's folder. Fields may be double-quoted
//! (`""` for a quote) but may not span lines.
//!
//! Parsed by hand: every malformed row must be reported with its line number and the fix, which
//! polars' reader (the CSV parser already in the tree; the `csv` crate is not) does not give.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use super::{Category, Sample, has_image_extension};

const COLUMNS: &str = "path, split, label, defect_type, and optionally mask and category";

/// At most this many row errors are listed; the rest are counted.
const MAX_LISTED: usize = 20;

/// Every category of the manifest `file`, sorted by name.
pub(super) fn load(file: &Path) -> Result<Vec<Category>> {
    if file.is_dir() {
        bail!("{}: is a folder; the manifest layout takes a CSV file with the columns {COLUMNS}", file.display());
    }
    let bytes = std::fs::read(file).with_context(|| format!("cannot read the manifest {}", file.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow!("{}: not UTF-8 text (at byte {}); save the manifest as UTF-8 CSV", file.display(), e.utf8_error().valid_up_to())
    })?;
    let base = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    parse(&text, base, &stem).map_err(|errors| {
        let listed: Vec<String> = errors
            .iter()
            .take(MAX_LISTED)
            .map(|(line, e)| match line {
                Some(line) => format!("{}:{line}: {e}", file.display()),
                None => format!("{}: {e}", file.display()),
            })
            .collect();
        let more = errors.len().saturating_sub(MAX_LISTED);
        let more = if more > 0 { format!("\n… and {more} more") } else { String::new() };
        anyhow!("{}{more}", listed.join("\n"))
    })
}

/// Where each column sits in a row.
struct Columns {
    path: usize,
    split: usize,
    label: usize,
    defect_type: usize,
    mask: Option<usize>,
    category: Option<usize>,
    count: usize,
}

/// A problem and the line it is on (none for a whole category's).
type Problem = (Option<usize>, String);

/// The categories of a manifest's `text`, or every problem found.
fn parse(text: &str, base: &Path, default_category: &str) -> Result<Vec<Category>, Vec<Problem>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).enumerate().filter(|(_, l)| !l.trim().is_empty());
    let Some((header_index, header)) = lines.next() else {
        return Err(vec![(None, format!("the manifest is empty; its first line names the columns: {COLUMNS}"))]);
    };
    let columns = header_columns(header).map_err(|e| vec![(Some(header_index + 1), e)])?;

    let mut errors = Vec::new();
    let mut categories: BTreeMap<String, Category> = BTreeMap::new();
    // (category, resolved path) → the line that listed it.
    let mut seen: HashMap<(String, PathBuf), usize> = HashMap::new();
    for (index, line) in lines {
        let number = index + 1;
        match row(line, &columns, base, default_category) {
            Ok((category, split, sample)) => {
                if let Some(first) = seen.insert((category.clone(), sample.path.clone()), number) {
                    errors.push((Some(number), format!("{} is already listed on line {first}; list each image once", sample.path.display())));
                    continue;
                }
                let entry = categories.entry(category.clone()).or_insert_with(|| Category {
                    name: category,
                    train: Vec::new(),
                    test: Vec::new(),
                    ignored: Vec::new(),
                });
                match split {
                    Split::Train => entry.train.push(sample),
                    Split::Test => entry.test.push(sample),
                }
            }
            Err(e) => errors.push((Some(number), e)),
        }
    }
    if errors.is_empty() && categories.is_empty() {
        errors.push((None, "no rows after the header; list one image per line".into()));
    }
    for category in categories.values() {
        let lacking = if category.train.is_empty() {
            Some("no train rows; the model of normality needs normal training images (split = train)")
        } else if category.test.is_empty() {
            Some("no test rows; add normal and anomalous images with split = test")
        } else {
            None
        };
        if let Some(lacking) = lacking {
            errors.push((None, format!("category `{}` has {lacking}", category.name)));
        }
    }
    if errors.is_empty() { Ok(categories.into_values().collect()) } else { Err(errors) }
}

fn header_columns(header: &str) -> Result<Columns, String> {
    let names = fields(header)?;
    let position = |name: &str| names.iter().position(|n| n == name);
    for (i, name) in names.iter().enumerate() {
        if !["path", "split", "label", "defect_type", "mask", "category"].contains(&name.as_str()) {
            return Err(format!("unknown column `{name}` in the header; the columns are {COLUMNS}"));
        }
        if names[..i].contains(name) {
            return Err(format!("column `{name}` appears twice in the header; keep one"));
        }
    }
    let required = |name: &str| {
        position(name).ok_or_else(|| format!("the header lacks the column `{name}`; the columns are {COLUMNS}"))
    };
    Ok(Columns {
        path: required("path")?,
        split: required("split")?,
        label: required("label")?,
        defect_type: required("defect_type")?,
        mask: position("mask"),
        category: position("category"),
        count: names.len(),
    })
}

enum Split {
    Train,
    Test,
}

/// One row as (category, split, sample), or what is wrong with it and how to fix it.
fn row(line: &str, columns: &Columns, base: &Path, default_category: &str) -> Result<(String, Split, Sample), String> {
    let values = fields(line)?;
    if values.len() != columns.count {
        return Err(format!(
            "{} fields but the header has {}; every row needs a value (possibly empty) for each column, and fields holding a comma need quotes",
            values.len(),
            columns.count
        ));
    }
    let split = match values[columns.split].as_str() {
        "train" => Split::Train,
        "test" => Split::Test,
        other => return Err(format!("split `{other}`: expected train or test")),
    };
    let anomalous = match values[columns.label].as_str() {
        "normal" | "0" => false,
        "anomalous" | "1" => true,
        other => return Err(format!("label `{other}`: expected normal or anomalous (or 0 / 1)")),
    };
    if anomalous && matches!(split, Split::Train) {
        return Err("an anomalous image in the train split; models of normality train on normal images only: move it to test or fix its label".into());
    }
    let defect_type = match (anomalous, values[columns.defect_type].as_str()) {
        (false, "" | "good") => "good".to_string(),
        (false, other) => return Err(format!("a normal image with defect_type `{other}`; leave defect_type empty or label the row anomalous")),
        (true, "" | "good") => return Err("an anomalous image needs a defect_type other than good, e.g. scratch".into()),
        (true, other) => other.to_string(),
    };
    let path = image_path(&values[columns.path], "path", base)?;
    let mask = match columns.mask.map(|i| values[i].as_str()).unwrap_or("") {
        "" => None,
        _ if !anomalous => return Err("a mask on a normal image; masks mark defects: leave mask empty".into()),
        mask => Some(image_path(mask, "mask", base)?),
    };
    let category = match columns.category.map(|i| values[i].as_str()) {
        None => default_category.to_string(),
        Some("") => return Err("empty category; name the category of every row".into()),
        Some(name) => name.to_string(),
    };
    Ok((category, split, Sample { path, anomalous, defect_type, mask }))
}

/// `relative` resolved against the manifest's folder; it must be an existing image file.
fn image_path(relative: &str, column: &str, base: &Path) -> Result<PathBuf, String> {
    if relative.is_empty() {
        return Err(format!("empty {column}; give the image file, relative to the manifest's folder"));
    }
    let path = base.join(relative);
    if !path.is_file() {
        return Err(format!("{column} {}: no such file; paths are relative to the manifest's folder", path.display()));
    }
    if !has_image_extension(&path) {
        return Err(format!("{column} {}: not a PNG, JPEG or BMP file by its extension; convert it (e.g. to PNG) or drop the row", path.display()));
    }
    Ok(path)
}

/// The fields of one CSV line, unquoted fields trimmed: comma-separated, optionally in double
/// quotes with `""` standing for a quote.
fn fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        let mut field = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    Some('"') if chars.next_if_eq(&'"').is_some() => field.push('"'),
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("a quoted field is not closed; end it with \" (a field cannot span lines)".into()),
                }
            }
            while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
            match chars.next() {
                None => {
                    out.push(field);
                    return Ok(out);
                }
                Some(',') => out.push(field),
                Some(c) => return Err(format!("`{c}` after a closing quote; put the quotes around the whole field")),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        out.push(field.trim_end().to_string());
                        return Ok(out);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
            out.push(field.trim_end().to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_split_on_commas_and_honour_quotes() {
        assert_eq!(fields("a,b,,c").unwrap(), ["a", "b", "", "c"]);
        assert_eq!(fields(" a , b ").unwrap(), ["a", "b"]);
        assert_eq!(fields(r#""x, y",  "say ""hi""" ,z"#).unwrap(), ["x, y", r#"say "hi""#, "z"]);
        assert_eq!(fields("").unwrap(), [""]);
        assert_eq!(fields("a,").unwrap(), ["a", ""]);
        assert!(fields(r#""open"#).unwrap_err().contains("not closed"));
        assert!(fields(r#""a"b"#).unwrap_err().contains("after a closing quote"));
    }

    fn touch(root: &Path, rel: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    #[test]
    fn rows_become_categories_with_labels_types_and_masks() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        for rel in ["a/0.png", "a/1.png", "a/2.png", "a/3.jpg", "a/3_mask.png", "b/0.bmp", "b/1.png"] {
            touch(base, rel);
        }
        let text = "\u{feff}category,path,split,label,defect_type,mask\r\n\
                    b,b/0.bmp,train,0,,\n\
                    a,a/0.png,train,normal,,\n\
                    \n\
                    a,a/1.png,train,normal,good,\n\
                    a,a/2.png,test,normal,,\n\
                    a,\"a/3.jpg\",test,anomalous,crack,a/3_mask.png\n\
                    b,b/1.png,test,1,dent,\n";
        let cats = parse(text, base, "ignored").unwrap();
        let names: Vec<&str> = cats.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(cats[0].train.len(), 2);
        let test: Vec<(&str, bool, bool)> =
            cats[0].test.iter().map(|s| (s.defect_type.as_str(), s.anomalous, s.mask.is_some())).collect();
        assert_eq!(test, [("good", false, false), ("crack", true, true)]);
        assert_eq!(cats[0].test[1].mask.as_deref(), Some(base.join("a/3_mask.png").as_path()));
        assert_eq!(cats[1].test[0].defect_type, "dent");

        let one = parse("path,split,label,defect_type\na/0.png,train,normal,\na/3.jpg,test,anomalous,crack\n", base, "stem").unwrap();
        assert_eq!(one[0].name, "stem");
    }

    /// Each malformed row is reported on its own line with its number and the fix; all of them
    /// at once, so one pass over the file finds everything.
    #[test]
    fn every_malformed_row_is_named_with_its_line_and_fix() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        for rel in ["ok.png", "t.png", "notes.txt"] {
            touch(base, rel);
        }
        let cases = [
            ("ok.png,train,normal", "3 fields but the header has 4"),
            ("ok.png,val,normal,", "split `val`: expected train or test"),
            ("ok.png,test,bad,", "label `bad`: expected normal or anomalous"),
            ("ok.png,train,anomalous,crack", "anomalous image in the train split"),
            ("ok.png,test,normal,crack", "normal image with defect_type `crack`"),
            ("ok.png,test,anomalous,", "needs a defect_type other than good"),
            ("missing.png,test,normal,", "missing.png: no such file"),
            ("notes.txt,test,normal,", "not a PNG, JPEG or BMP file"),
            (",test,normal,", "empty path"),
            ("\"ok.png,test,normal,", "not closed"),
        ];
        let mut text = String::from("path,split,label,defect_type\nok.png,train,normal,\n");
        for (row, _) in &cases {
            text.push_str(row);
            text.push('\n');
        }
        text.push_str("t.png,test,normal,\n");
        let errors = parse(&text, base, "m").unwrap_err();
        assert_eq!(errors.len(), cases.len(), "{errors:#?}");
        for (i, ((_, expected), (line, error))) in cases.iter().zip(&errors).enumerate() {
            assert!(*line == Some(i + 3) && error.contains(expected), "{line:?}: {error} lacks {expected}");
        }
    }

    #[test]
    fn headers_duplicates_and_empty_categories_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        touch(base, "ok.png");
        touch(base, "bad.png");
        let check = |text: &str, expected: &str| {
            let errors = parse(text, base, "m").unwrap_err();
            assert!(errors.iter().any(|(_, e)| e.contains(expected)), "{errors:?} lacks {expected}");
        };
        check("", "the manifest is empty");
        check("path,split,labl,defect_type\n", "unknown column `labl`");
        check("path,split,label\n", "lacks the column `defect_type`");
        check("path,path,split,label,defect_type\n", "`path` appears twice");
        check("path,split,label,defect_type\n", "no rows after the header");
        check("path,split,label,defect_type\nok.png,train,normal,\nok.png,test,normal,\n", "already listed on line 2");
        check("path,split,label,defect_type\nok.png,test,normal,\n", "category `m` has no train rows");
        check("path,split,label,defect_type\nok.png,train,normal,\n", "category `m` has no test rows");
        check("path,split,label,defect_type,mask\nok.png,train,normal,,\nbad.png,test,normal,,ok.png\n", "a mask on a normal image");
        check("path,split,label,defect_type,category\nok.png,train,normal,,\n", "empty category");
    }
}
