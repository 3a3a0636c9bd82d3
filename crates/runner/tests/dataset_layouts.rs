//! The three dataset layouts through `mon data check --layout`, and the Magnetic-Tile converter
//! checked by the loader: counts a user can compare with their files, errors naming the file,
//! the line and the fix.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use image::{GrayImage, Luma, RgbImage};
use mon_runner::dataset::{FolderSplit, Layout, load_dataset};

#[test]
fn folder_layout_is_checked_as_a_dataset_or_as_one_category() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("parts");
    for i in 0..10 {
        write_image(&root.join(format!("widget/good/{i:02}.png")), i, false);
    }
    for i in 0..3 {
        write_image(&root.join(format!("widget/scratch/{i}.png")), 50 + i, true);
    }
    std::fs::write(root.join("widget/scratch/scan.tif"), b"II*\0").unwrap();
    let expected = "widget: train/good 8, test/good 2, test anomalous 3 in 1 defect type (scratch 3), masks 0/3";
    for dir in [&root, &root.join("widget")] {
        let out = mon(&["data", "check", dir.to_str().unwrap(), "--layout", "folder"]);
        assert!(out.success, "{}", out.stderr);
        assert!(out.stdout.contains(expected), "{}", out.stdout);
        assert!(out.stdout.contains("scan.tif: `.tif` files are not read (only PNG, JPEG and BMP images are)"), "{}", out.stdout);
    }
    let as_mvtec = mon(&["data", "check", root.to_str().unwrap()]);
    assert!(!as_mvtec.success && as_mvtec.stderr.contains("folder layout"), "{}", as_mvtec.stderr);
    let unknown = mon(&["data", "check", root.to_str().unwrap(), "--layout", "csv"]);
    assert!(!unknown.success && unknown.stderr.contains("mvtec, folder or manifest"), "{}", unknown.stderr);
}

fn write_manifest_dataset(dir: &Path) -> std::path::PathBuf {
    for i in 0..4 {
        write_image(&dir.join(format!("img/train_{i}.png")), i, false);
    }
    write_image(&dir.join("img/test_good.png"), 10, false);
    write_image(&dir.join("img/test_bad.png"), 11, true);
    GrayImage::from_pixel(96, 80, Luma([255])).save(dir.join("img/test_bad_mask.png")).unwrap();
    let mut csv = String::from("path,split,label,defect_type,mask\n");
    for i in 0..4 {
        csv.push_str(&format!("img/train_{i}.png,train,normal,,\n"));
    }
    csv.push_str("img/test_good.png,test,0,,\nimg/test_bad.png,test,anomalous,spot,img/test_bad_mask.png\n");
    let manifest = dir.join("parts.csv");
    std::fs::write(&manifest, csv).unwrap();
    manifest
}

#[test]
fn a_manifest_is_checked_and_its_bad_rows_are_named_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest_dataset(dir.path());
    let out = mon(&["data", "check", manifest.to_str().unwrap(), "--layout", "manifest"]);
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stdout.contains("parts: train/good 4, test/good 1, test anomalous 1 in 1 defect type (spot 1), masks 1/1"),
        "{}",
        out.stdout
    );

    let text = std::fs::read_to_string(&manifest).unwrap();
    let broken = text.replace("img/train_2.png,train,normal", "img/train_2.png,train,anomalous").replace("test,0,", "test,maybe,");
    std::fs::write(&manifest, broken).unwrap();
    let out = mon(&["data", "check", manifest.to_str().unwrap(), "--layout", "manifest"]);
    assert!(!out.success);
    assert!(out.stderr.contains("parts.csv:4: an anomalous image in the train split") && out.stderr.contains("move it to test"), "{}", out.stderr);
    assert!(out.stderr.contains("parts.csv:6: label `maybe`: expected normal or anomalous"), "{}", out.stderr);

    let folder = mon(&["data", "check", dir.path().to_str().unwrap(), "--layout", "manifest"]);
    assert!(!folder.success && folder.stderr.contains("is a folder; the manifest layout takes a CSV file"), "{}", folder.stderr);
    let as_mvtec = mon(&["data", "check", manifest.to_str().unwrap()]);
    assert!(!as_mvtec.success && as_mvtec.stderr.contains("--layout manifest"), "{}", as_mvtec.stderr);
}

#[test]
fn manifest_categories_are_chosen_by_name_in_order() {
    let dir = tempfile::tempdir().unwrap();
    for rel in ["a0.png", "a1.png", "b0.png", "b1.png"] {
        write_image(&dir.path().join(rel), 0, false);
    }
    let manifest = dir.path().join("m.csv");
    std::fs::write(&manifest, "category,path,split,label,defect_type\na,a0.png,train,normal,\na,a1.png,test,normal,\nb,b0.png,train,normal,\nb,b1.png,test,normal,\n").unwrap();
    let split = FolderSplit::default();
    let names = |wanted: Option<&[String]>| -> Vec<String> {
        load_dataset(Layout::Manifest, &manifest, wanted, &split).unwrap().into_iter().map(|c| c.name).collect()
    };
    assert_eq!(names(None), ["a", "b"]);
    assert_eq!(names(Some(&["b".into(), "a".into()])), ["b", "a"]);
    let err = load_dataset(Layout::Manifest, &manifest, Some(&["c".into()]), &split).unwrap_err().to_string();
    assert!(err.contains("m.csv: no category `c`; it has a, b"), "{err}");
}

/// A tiny Magnetic-Tile tree (two classes plus MT_Free, JPEG tiles with same-name PNG masks of
/// varying sizes, as in the real set) converted and read back in MVTec layout.
#[test]
fn magnetic_tile_converts_to_a_checked_mvtec_category() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("skipping: python3 is absent, and scripts/convert-magnetic-tile.sh needs it");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("Magnetic-Tile-Defect");
    let tile = |class: &str, stem: &str, size: u32, mask: bool| {
        let imgs = src.join(class).join("Imgs");
        std::fs::create_dir_all(&imgs).unwrap();
        RgbImage::from_fn(size, size + 7, |x, y| image::Rgb([(x * 5) as u8, (y * 3) as u8, 90])).save(imgs.join(format!("{stem}.jpg"))).unwrap();
        if mask {
            GrayImage::from_fn(size, size + 7, |x, _| Luma([if x > size / 2 { 255 } else { 0 }])).save(imgs.join(format!("{stem}.png"))).unwrap();
        }
    };
    for i in 0..10 {
        tile("MT_Free", &format!("exp1_num_{i}"), 40 + i, true);
    }
    tile("MT_Blowhole", "exp1_num_4727", 50, true);
    tile("MT_Blowhole", "exp2_num_11", 33, true);
    tile("MT_Crack", "exp3_num_5", 45, true);

    let convert = |out: &Path, seed: &str| {
        let script = mon_testkit::project_root().join("scripts/convert-magnetic-tile.sh");
        let run = Command::new(script).args([src.to_str().unwrap(), out.to_str().unwrap(), "0.3", seed]).output().unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        String::from_utf8_lossy(&run.stdout).into_owned()
    };
    let out = dir.path().join("mvtec");
    let printed = convert(&out, "5");
    assert!(printed.contains("train/good: 7") && printed.contains("test/good: 3") && printed.contains("test/blowhole: 2"), "{printed}");

    let split = FolderSplit::default();
    let tile_cat = load_dataset(Layout::Mvtec, &out, None, &split).unwrap().remove(0);
    assert_eq!(tile_cat.name, "tile");
    assert_eq!(tile_cat.train.len(), 7);
    let anomalous: Vec<(&str, bool)> = tile_cat.test.iter().filter(|s| s.anomalous).map(|s| (s.defect_type.as_str(), s.mask.is_some())).collect();
    assert_eq!(anomalous, [("blowhole", true), ("blowhole", true), ("crack", true)]);
    let check = mon(&["data", "check", out.to_str().unwrap()]);
    assert!(check.success && check.stdout.contains("masks 3/3") && check.stdout.contains("no errors"), "{}{}", check.stdout, check.stderr);

    let good_test = |out: &Path| -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(out.join("tile/test/good")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    };
    let again = dir.path().join("again");
    convert(&again, "5");
    assert_eq!(good_test(&again), good_test(&out), "the same seed gives the same split");

    let refused = Command::new(mon_testkit::project_root().join("scripts/convert-magnetic-tile.sh")).args([src.to_str().unwrap(), out.to_str().unwrap()]).output().unwrap();
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("exists; remove it"));
}
