//! Datasets, in one of three layouts ([`Layout`]), all loaded into the same [`Category`] lists:
//!
//! - MVTec AD: `CATEGORY/train/good/*` (normal training images), `CATEGORY/test/<type>/*`
//!   (`good` = normal, any other folder = a defect type), and optional
//!   `CATEGORY/ground_truth/<type>/<stem>_mask.png`;
//! - folder: `CATEGORY/good/*` and one folder per defect type, no masks; a seeded split
//!   ([`FolderSplit`]) sends part of `good/` to test;
//! - manifest: a CSV file listing every image with its split and label (see `manifest.rs`).

mod manifest;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, Result, anyhow, bail};
use mon_normality::split::hold_out;

const IMAGE_EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "bmp"];

/// How a dataset is laid out on disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    #[default]
    Mvtec,
    Folder,
    Manifest,
}

impl FromStr for Layout {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mvtec" => Ok(Layout::Mvtec),
            "folder" => Ok(Layout::Folder),
            "manifest" => Ok(Layout::Manifest),
            _ => Err(format!("unknown layout `{s}`: expected mvtec, folder or manifest")),
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::Mvtec => "mvtec",
            Layout::Folder => "folder",
            Layout::Manifest => "manifest",
        })
    }
}

/// How the folder layout splits `good/` into train and test (seeded, reproducible).
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FolderSplit {
    /// The fraction of `good/` images that become normal test images, in [0, 1).
    pub test_fraction: f64,
    pub seed: u64,
}

impl Default for FolderSplit {
    /// MVTec AD's categories keep roughly this share of their normal images for testing.
    fn default() -> Self {
        Self { test_fraction: 0.2, seed: 0 }
    }
}

/// Every category of a dataset (all, or the named ones, in the given order).
pub fn load_dataset(layout: Layout, root: &Path, categories: Option<&[String]>, split: &FolderSplit) -> Result<Vec<Category>> {
    match layout {
        Layout::Mvtec => {
            let names = match categories {
                Some(names) => names.to_vec(),
                None => discover_categories(root)?,
            };
            names.iter().map(|name| load_category(root, name)).collect()
        }
        Layout::Folder => select(folder_categories(root)?, |(name, _)| name, categories, root)?
            .into_iter()
            .map(|(name, dir)| load_folder_category(name, &dir, split))
            .collect(),
        Layout::Manifest => select(manifest::load(root)?, |c| &c.name, categories, root),
    }
}

/// The named entries of `found` in the order asked for, or all of them.
fn select<T>(found: Vec<T>, name: fn(&T) -> &str, wanted: Option<&[String]>, root: &Path) -> Result<Vec<T>> {
    let Some(wanted) = wanted else { return Ok(found) };
    let available: Vec<String> = found.iter().map(|c| name(c).to_string()).collect();
    let mut found: Vec<Option<T>> = found.into_iter().map(Some).collect();
    wanted
        .iter()
        .map(|wanted| {
            let i = available.iter().position(|n| n == wanted).ok_or_else(|| {
                anyhow!("{}: no category `{wanted}`; it has {}: check dataset.categories", root.display(), available.join(", "))
            })?;
            found[i].take().ok_or_else(|| anyhow!("dataset.categories lists `{wanted}` twice; list it once"))
        })
        .collect()
}

/// The categories of a folder-layout dataset: `root` itself when it has `good/`, else every
/// sub-folder that has one.
fn folder_categories(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    if !root.is_dir() {
        bail!("{}: no such folder; the folder layout reads <root>/<category>/good/ and one folder per defect type", root.display());
    }
    if root.join("good").is_dir() {
        let absolute = root.canonicalize().with_context(|| format!("cannot resolve {}", root.display()))?;
        return Ok(vec![(file_name(&absolute), root.to_path_buf())]);
    }
    let found: Vec<(String, PathBuf)> =
        read_dir_sorted(root)?.into_iter().filter(|p| p.join("good").is_dir()).map(|p| (file_name(&p), p)).collect();
    if found.is_empty() {
        bail!(
            "{}: no good/ folder in it or in its sub-folders; the folder layout is <root>/<category>/good/*.png \
             with one folder per defect type beside good/",
            root.display()
        );
    }
    Ok(found)
}

/// `dir/good/` split by `split` into train and test, every other visible sub-folder a defect
/// type in test.
fn load_folder_category(name: String, dir: &Path, split: &FolderSplit) -> Result<Category> {
    if !(0.0..1.0).contains(&split.test_fraction) {
        bail!("folder_split.test_fraction = {}: expected a fraction in [0, 1)", split.test_fraction);
    }
    let mut ignored = Vec::new();
    let good_dir = dir.join("good");
    let good = images_in(&good_dir, &mut ignored)?;
    // hold_out sorts nothing itself: `good` is sorted, so the seed alone decides the split.
    let held = hold_out(good.len(), split.test_fraction, split.seed).map_err(|_| {
        anyhow!(
            "{}: {} normal image(s) cannot give both train and test images with folder_split.test_fraction = {}; \
             add normal images or set test_fraction = 0",
            good_dir.display(),
            good.len(),
            split.test_fraction
        )
    })?;
    let sample = |path: &Path, defect_type: &str| Sample {
        path: path.to_path_buf(),
        anomalous: defect_type != "good",
        defect_type: defect_type.to_string(),
        mask: None,
    };
    let train: Vec<Sample> = held.fit.iter().map(|&i| sample(&good[i], "good")).collect();
    if train.is_empty() {
        bail!("{}: no images (PNG, JPEG or BMP); the model of normality needs normal images in good/", good_dir.display());
    }
    let mut test: Vec<Sample> = held.validation.iter().map(|&i| sample(&good[i], "good")).collect();
    for type_dir in read_dir_sorted(dir)?.into_iter().filter(|p| p.is_dir() && !is_hidden(p) && *p != good_dir) {
        let defect_type = file_name(&type_dir);
        test.extend(images_in(&type_dir, &mut ignored)?.iter().map(|p| sample(p, &defect_type)));
    }
    if test.is_empty() {
        bail!("{}: no test images; add a folder per defect type beside good/, or raise folder_split.test_fraction", dir.display());
    }
    Ok(Category { name, train, test, ignored })
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn is_hidden(path: &Path) -> bool {
    file_name(path).starts_with('.')
}

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
        .map(|p| file_name(&p))
        .collect();
    names.sort();
    if names.is_empty() {
        bail!(
            "{}: no category folders with train/good inside; expected MVTec AD layout <root>/<category>/train/good/*.png \
             (good/ beside defect folders is the folder layout, a CSV list the manifest layout: set dataset.layout or --layout)",
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
        let defect_type = file_name(&type_dir);
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
        if sub.is_dir() && !is_hidden(&sub) && file_name(&sub) != "ground_truth" {
            images.extend(images_under(&sub)?);
        }
    }
    Ok(images)
}

/// Whether `path` ends in an extension of a format the decoder reads (any case).
fn has_image_extension(path: &Path) -> bool {
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
    ext.is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str()))
}

/// Image files in `dir`, sorted; other visible files are collected in `ignored`.
fn images_in(dir: &Path, ignored: &mut Vec<PathBuf>) -> Result<Vec<PathBuf>> {
    let mut images = Vec::new();
    for path in read_dir_sorted(dir)? {
        if is_hidden(&path) || path.is_dir() {
            continue;
        }
        if has_image_extension(&path) {
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

    fn names(samples: &[Sample]) -> Vec<String> {
        samples.iter().map(|s| file_name(&s.path)).collect()
    }

    #[test]
    fn folder_layout_splits_good_by_seed_and_tests_every_defect_folder() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for i in 0..10 {
            touch(root, &format!("w/good/{i}.png"));
        }
        for rel in ["w/scratch/0.png", "w/scratch/1.jpg", "w/dent/0.bmp", "w/dent/read.me", "w/.thumbs/0.png", "v/good/0.png", "v/good/1.png"] {
            touch(root, rel);
        }
        let split = FolderSplit { test_fraction: 0.3, seed: 7 };
        let load = |split: &FolderSplit| load_dataset(Layout::Folder, root, Some(&["w".to_string()]), split).unwrap().remove(0);
        let w = load(&split);
        assert_eq!((w.name.as_str(), w.train.len()), ("w", 7));
        let good_test: Vec<&Sample> = w.test.iter().filter(|s| !s.anomalous).collect();
        assert_eq!(good_test.len(), 3);
        let types: Vec<&str> = w.test.iter().filter(|s| s.anomalous).map(|s| s.defect_type.as_str()).collect();
        assert_eq!(types, ["dent", "scratch", "scratch"]);
        assert!(w.test.iter().all(|s| s.mask.is_none()));
        assert_eq!(w.ignored, [root.join("w/dent/read.me")]);
        let mut all = names(&w.train);
        all.extend(good_test.iter().map(|s| file_name(&s.path)));
        all.sort();
        let mut expected: Vec<String> = (0..10).map(|i| format!("{i}.png")).collect();
        expected.sort();
        assert_eq!(all, expected, "every good image in exactly one split");
        assert_eq!(names(&load(&split).test), names(&w.test), "the same seed gives the same split");
        let other = load(&FolderSplit { seed: 8, ..split.clone() });
        assert_ne!(names(&other.test), names(&w.test), "another seed another split");

        let all = load_dataset(Layout::Folder, root, None, &FolderSplit::default()).unwrap();
        assert_eq!(all.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["v", "w"]);
        let itself = load_dataset(Layout::Folder, &root.join("w"), None, &split).unwrap();
        assert_eq!((itself[0].name.as_str(), names(&itself[0].test)), ("w", names(&w.test)), "a category folder given directly");
    }

    #[test]
    fn folder_layout_errors_say_what_to_change() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let err = |root: &Path, split: &FolderSplit| format!("{:#}", load_dataset(Layout::Folder, root, None, split).unwrap_err());
        assert!(err(root, &FolderSplit::default()).contains("no good/ folder"));
        touch(root, "one/good/0.png");
        let e = err(root, &FolderSplit::default());
        assert!(e.contains("one/good") && e.contains("1 normal image(s)") && e.contains("test_fraction = 0"), "{e}");
        let e = err(root, &FolderSplit { test_fraction: 0.0, seed: 0 });
        assert!(e.contains("no test images") && e.contains("folder per defect type"), "{e}");
        let e = err(root, &FolderSplit { test_fraction: 1.0, seed: 0 });
        assert!(e.contains("test_fraction = 1") && e.contains("[0, 1)"), "{e}");
        let e = format!("{:#}", load_dataset(Layout::Folder, root, Some(&["two".into()]), &FolderSplit::default()).unwrap_err());
        assert!(e.contains("no category `two`; it has one"), "{e}");
    }

    #[test]
    fn mvtec_datasets_load_every_or_the_named_categories_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for cat in ["a", "b"] {
            touch(root, &format!("{cat}/train/good/0.png"));
            touch(root, &format!("{cat}/test/good/0.png"));
        }
        let split = FolderSplit::default();
        let order = |cats: &[Category]| cats.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        assert_eq!(order(&load_dataset(Layout::Mvtec, root, None, &split).unwrap()), ["a", "b"]);
        assert_eq!(order(&load_dataset(Layout::Mvtec, root, Some(&["b".into(), "a".into()]), &split).unwrap()), ["b", "a"]);
    }

    #[test]
    fn layouts_parse_from_their_names() {
        for layout in [Layout::Mvtec, Layout::Folder, Layout::Manifest] {
            assert_eq!(layout.to_string().parse::<Layout>().unwrap(), layout);
        }
        assert!("csv".parse::<Layout>().unwrap_err().contains("mvtec, folder or manifest"));
        let split: FolderSplit = toml::from_str("seed = 3").unwrap();
        assert_eq!(split, FolderSplit { test_fraction: 0.2, seed: 3 });
        assert!(toml::from_str::<FolderSplit>("fraction = 0.1").is_err());
    }
}
