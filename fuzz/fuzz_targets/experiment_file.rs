//! Any bytes as an experiment file: `Plan::load` returns a plan or an error, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exp.toml");
    std::fs::write(&path, data).unwrap();
    let _ = mon_runner::experiment::Plan::load(&path, &[]);
});
