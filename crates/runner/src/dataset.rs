//! Datasets in MVTec AD layout: `CATEGORY/train/good/*` (normal training images),
//! `CATEGORY/test/<type>/*` (`good` = normal, any other folder = a defect type), and optional
//! `CATEGORY/ground_truth/<type>/<stem>_mask.png`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

const IMAGE_EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "bmp"];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    pub path: PathBuf,
    pub anomalous: bool,
    /// The test folder name (`good` for normal images).
    pub defect_type: String,
    pub mask: Option<PathBuf>,
}

#[derive(Clone, Debug)]
pub struct Category {
    pub name: String,
    pub train: Vec<Sample>,
    pub test: Vec<Sample>,
    /// Files that were not taken as images (wrong extension); reported, not fatal.
    pub ignored: Vec<PathBuf>,
}

/// Every folder under `root` that looks like a category (has `train/good`), sorted.
pub fn discover_categories(root: &Path) -> Result<Vec<String>> {
    let mut names: Vec<String> = read_dir_sorted(root)?
        .into_iter()
        .filter(|p| p.join("train/good").is_dir())
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    if names.is_empty() {
        bail!(
            "{}: no category folders with train/good inside; expected MVTec AD layout <root>/<category>/train/good/*.png",
            root.display()
        );
    }
    Ok(names)
}

pub fn load_category(root: &Path, name: &str) -> Result<Category> {
    let dir = root.join(name);
    if !dir.is_dir() {
        bail!("{}: category folder not found; check dataset.root and dataset.categories", dir.display());
    }
    let mut ignored = Vec::new();
    let train_dir = dir.join("train/good");
    if !train_dir.is_dir() {
        bail!("{}: missing; a category needs its normal training images in train/good/", train_dir.display());
    }
    let train: Vec<Sample> = images_in(&train_dir, &mut ignored)?
        .into_iter()
        .map(|path| Sample { path, anomalous: false, defect_type: "good".into(), mask: None })
        .collect();
    if train.is_empty() {
        bail!("{}: no images (PNG, JPEG or BMP); the model of normality needs normal training images", train_dir.display());
    }
    let test_dir = dir.join("test");
    if !test_dir.is_dir() {
        bail!("{}: missing; a category needs test/good/ and test/<defect type>/ folders", test_dir.display());
    }
    let mut test = Vec::new();
    for type_dir in read_dir_sorted(&test_dir)?.into_iter().filter(|p| p.is_dir()) {
        let defect_type = type_dir.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let anomalous = defect_type != "good";
        for path in images_in(&type_dir, &mut ignored)? {
            let mask = anomalous.then(|| mask_path(&dir, &defect_type, &path)).flatten();
            test.push(Sample { path, anomalous, defect_type: defect_type.clone(), mask });
        }
    }
    if test.is_empty() {
        bail!("{}: no test images in its subfolders (good/ and one per defect type)", test_dir.display());
    }
    Ok(Category { name: name.to_string(), train, test, ignored })
}

fn mask_path(category_dir: &Path, defect_type: &str, image: &Path) -> Option<PathBuf> {
    let stem = image.file_stem()?.to_string_lossy();
    let mask = category_dir.join("ground_truth").join(defect_type).join(format!("{stem}_mask.png"));
    mask.is_file().then_some(mask)
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()
        .with_context(|| format!("cannot list {}", dir.display()))?;
    entries.sort();
    Ok(entries)
}

/// Every image file below `dir` (recursively, sorted, hidden entries skipped), except under
/// `ground_truth` folders, whose masks are not inputs: for `mon bench` on a category folder.
pub fn images_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut ignored = Vec::new();
    let mut images = images_in(dir, &mut ignored)?;
    for sub in read_dir_sorted(dir)? {
        let name = sub.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if sub.is_dir() && !name.starts_with('.') && name != "ground_truth" {
            images.extend(images_under(&sub)?);
        }
    }
    Ok(images)
}

/// Image files in `dir`, sorted; other visible files are collected in `ignored`.
fn images_in(dir: &Path, ignored: &mut Vec<PathBuf>) -> Result<Vec<PathBuf>> {
    let mut images = Vec::new();
    for path in read_dir_sorted(dir)? {
        let hidden = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden || path.is_dir() {
            continue;
        }
        let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
        if ext.is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str())) {
            images.push(path);
        } else {
            ignored.push(path);
        }
    }
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, rel: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    #[test]
    fn images_under_a_folder_skip_masks_hidden_and_other_files() {
        let dir = tempfile::tempdir().unwrap();
        for rel in ["a.png", "notes.txt", "train/good/0.png", "test/crack/1.jpg", "ground_truth/crack/1_mask.png", ".cache/x.png"] {
            touch(dir.path(), rel);
        }
        let found: Vec<String> = images_under(dir.path())
            .unwrap()
            .iter()
            .map(|p| p.strip_prefix(dir.path()).unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(found, ["a.png", "test/crack/1.jpg", "train/good/0.png"]);
    }

    #[test]
    fn reads_labels_defect_types_and_masks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for rel in [
            "cat/train/good/001.png",
            "cat/train/good/000.PNG",
            "cat/train/good/notes.txt",
            "cat/train/good/.DS_Store",
            "cat/test/good/000.png",
            "cat/test/crack/000.jpg",
            "cat/test/crack/001.png",
            "cat/ground_truth/crack/000_mask.png",
            "other/train/good/0.bmp",
        ] {
            touch(root, rel);
        }
        assert_eq!(discover_categories(root).unwrap(), ["cat", "other"]);
        let cat = load_category(root, "cat").unwrap();
        assert_eq!(cat.train.len(), 2);
        assert!(cat.train[0].path.ends_with("000.PNG"), "sorted by name");
        assert_eq!(cat.ignored, [root.join("cat/train/good/notes.txt")]);
        let types: Vec<(&str, bool, bool)> =
            cat.test.iter().map(|s| (s.defect_type.as_str(), s.anomalous, s.mask.is_some())).collect();
        assert_eq!(types, [("crack", true, true), ("crack", true, false), ("good", false, false)]);
    }

    #[test]
    fn missing_or_empty_folders_say_what_is_expected() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let err = load_category(root, "nope").unwrap_err().to_string();
        assert!(err.contains("nope") && err.contains("not found"), "{err}");
        touch(root, "a/test/good/0.png");
        let err = load_category(root, "a").unwrap_err().to_string();
        assert!(err.contains("a/train/good") && err.contains("missing"), "{err}");
        std::fs::create_dir_all(root.join("a/train/good")).unwrap();
        let err = load_category(root, "a").unwrap_err().to_string();
        assert!(err.contains("no images"), "{err}");
        touch(root, "b/train/good/0.png");
        let err = load_category(root, "b").unwrap_err().to_string();
        assert!(err.contains("b/test") && err.contains("missing"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        assert!(discover_categories(empty.path()).unwrap_err().to_string().contains("MVTec AD layout"));
    }
}
