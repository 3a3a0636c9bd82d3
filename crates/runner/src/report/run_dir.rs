//! Run directories that never overwrite an earlier run and never look complete when they are
//! not: everything is written into a hidden `.<stamp>.partial` folder, renamed into place only
//! when the run has finished, and removed if it fails.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// `std::fs::write` with the path and the likely cause in the error: a run's files are where a
/// full disk shows first.
pub fn write_file(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> Result<()> {
    let path = path.as_ref();
    std::fs::write(path, contents).with_context(|| format!("cannot write {} (is the disk full?)", path.display()))
}

pub fn create_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("cannot create {} (is the disk full?)", path.display()))
}

pub struct RunDir {
    staging: PathBuf,
    experiment_dir: PathBuf,
    stamp: String,
    committed: bool,
}

impl RunDir {
    /// Starts `results_root/<experiment>/.<UTC timestamp>.partial/`.
    pub fn create(results_root: &Path, experiment: &str) -> Result<Self> {
        let experiment_dir = results_root.join(experiment);
        std::fs::create_dir_all(&experiment_dir).with_context(|| {
            format!("cannot create the results folder {}; check that it is writable or pass --results DIR", experiment_dir.display())
        })?;
        let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ").to_string();
        for attempt in 1.. {
            let staging = experiment_dir.join(format!(".{stamp}-{attempt}.partial"));
            match std::fs::create_dir(&staging) {
                Ok(()) => return Ok(Self { staging, experiment_dir, stamp, committed: false }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}; check that it is writable", staging.display()));
                }
            }
        }
        unreachable!("the attempts never run out")
    }

    /// Where files are written while the run is in progress.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// Moves the finished run to `<experiment>/<timestamp>` (or `<timestamp>-N` when another
    /// run finished in the same second) and returns that path.
    pub fn commit(mut self) -> Result<PathBuf> {
        for n in 1..1000 {
            let name = if n == 1 { self.stamp.clone() } else { format!("{}-{n}", self.stamp) };
            let target = self.experiment_dir.join(name);
            // Reserve the name first: `create_dir` fails if it exists, so two runs finishing in
            // the same second cannot both take it; the rename then replaces our empty folder.
            match std::fs::create_dir(&target) {
                Ok(()) => {
                    std::fs::rename(&self.staging, &target)
                        .with_context(|| format!("cannot move {} to {}", self.staging.display(), target.display()))?;
                    self.committed = true;
                    return Ok(target);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e).with_context(|| format!("cannot create {}", target.display())),
            }
        }
        bail!("{}: too many runs with the timestamp {}", self.experiment_dir.display(), self.stamp)
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if !self.committed {
            // A failed run leaves nothing that could be mistaken for results.
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_in_the_same_second_get_distinct_folders() {
        let root = tempfile::tempdir().unwrap();
        let a = RunDir::create(root.path(), "exp").unwrap();
        let b = RunDir::create(root.path(), "exp").unwrap();
        std::fs::write(a.path().join("x"), "a").unwrap();
        std::fs::write(b.path().join("x"), "b").unwrap();
        let (pa, pb) = (a.commit().unwrap(), b.commit().unwrap());
        assert_ne!(pa, pb);
        assert_eq!(std::fs::read_to_string(pa.join("x")).unwrap(), "a");
        assert_eq!(std::fs::read_to_string(pb.join("x")).unwrap(), "b");
        let names: Vec<String> = std::fs::read_dir(root.path().join("exp"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains("partial")), "{names:?}");
    }

    #[test]
    fn an_abandoned_run_leaves_nothing_behind() {
        let root = tempfile::tempdir().unwrap();
        let run = RunDir::create(root.path(), "exp").unwrap();
        std::fs::write(run.path().join("metrics.csv"), "half").unwrap();
        drop(run);
        assert_eq!(std::fs::read_dir(root.path().join("exp")).unwrap().count(), 0);
    }
}
