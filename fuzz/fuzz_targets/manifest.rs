//! Any bytes as a CSV manifest beside two real (empty-content) image files: categories or an
//! error, never a panic. The files let rows that name them get past the existence check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mon_runner::dataset::{FolderSplit, Layout, load_dataset};

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.png", "b.png"] {
        std::fs::write(dir.path().join(name), b"").unwrap();
    }
    let path = dir.path().join("m.csv");
    std::fs::write(&path, data).unwrap();
    if let Ok(categories) = load_dataset(Layout::Manifest, &path, None, &FolderSplit::default()) {
        assert!(categories.iter().all(|c| !c.train.is_empty() && !c.test.is_empty()));
    }
});
