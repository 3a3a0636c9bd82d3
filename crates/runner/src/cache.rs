//! The on-disk cache that lets a sweep change its models of normality or threshold rules without
//! running the backbone again, and resume after an interruption.
//!
//! - `features/<key>/<image hash>.safetensors`: one image's features at one tap, where the key
//!   hashes the backbone, the weights file's contents, the tap, the readout (pooled or maps) and
//!   the preprocessing; `features/<key>/key.txt` says what the key stands for.
//! - `scores/<cell key>/`: a finished grid cell's scores (`scores.safetensors`, exact f64) and
//!   its anomaly-map overlays; the cell key hashes the feature key, the train and test images'
//!   content hashes in order, the model of normality and the hold-out split.
//!
//! Entries are written to a temporary name and renamed into place, so a killed run leaves either
//! a whole entry or none (stray temporaries are removed by `mon cache prune`).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use rayon::prelude::*;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

/// A blake3 content hash, as 64 hex digits.
pub type ContentHash = String;

pub fn hash_bytes(bytes: &[u8]) -> ContentHash {
    blake3::hash(bytes).to_hex().to_string()
}

pub fn hash_file(path: &Path) -> Result<ContentHash> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(hash_bytes(&bytes))
}

pub struct Cache {
    root: PathBuf,
}

/// One image's features at one tap: `[D]` pooled or `[C, H, W]` maps.
#[derive(Clone, Debug, PartialEq)]
pub struct CachedTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// A finished cell's scores.
#[derive(Clone, Debug, PartialEq)]
pub struct CellScores {
    /// Scores of the normal reference the label-free rules see (held-out or, with no hold-out,
    /// the fitted images).
    pub reference: Vec<f64>,
    pub test: Vec<f64>,
}

impl Cache {
    /// The cache at `root`, for reading only (`--dry-run`): nothing is created.
    pub fn at(root: &Path) -> Self {
        Self { root: root.to_path_buf() }
    }

    /// The cache at `root`, created if needed.
    pub fn open(root: &Path) -> Result<Self> {
        for sub in ["features", "scores"] {
            std::fs::create_dir_all(root.join(sub)).with_context(|| {
                format!("cannot create the feature cache {}; check that it is writable, or pass --results DIR or set run.cache", root.join(sub).display())
            })?;
        }
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// The folder of one feature key (which may not exist yet).
    pub fn feature_dir(&self, key: &str) -> PathBuf {
        self.root.join("features").join(key)
    }

    /// [`Cache::feature_dir`], created with its description on first use.
    pub fn create_feature_dir(&self, key: &str, description: &str) -> Result<PathBuf> {
        let dir = self.feature_dir(key);
        if !dir.join("key.txt").is_file() {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            write_atomically(&dir.join("key.txt"), description.as_bytes())?;
        }
        Ok(dir)
    }

    /// The cached features of each image (by content hash), `None` where absent. A damaged
    /// entry (a write cut short outside our temporary-and-rename, a disk error) counts as
    /// absent and is removed, so that it is recomputed rather than blocking every run.
    pub fn load_features(
        &self,
        dir: &Path,
        images: &[ContentHash],
    ) -> Result<Vec<Option<CachedTensor>>> {
        images
            .par_iter()
            .map(|hash| {
                let path = dir.join(format!("{hash}.safetensors"));
                match std::fs::read(&path) {
                    Ok(bytes) => Ok(match read_f32(&bytes, "features") {
                        Ok(tensor) => {
                            touch(&path);
                            Some(tensor)
                        }
                        Err(_) => {
                            let _ = std::fs::remove_file(&path);
                            None
                        }
                    }),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
                }
            })
            .collect()
    }

    pub fn store_features(
        &self,
        dir: &Path,
        image: &ContentHash,
        tensor: &CachedTensor,
    ) -> Result<()> {
        let bytes: Vec<u8> = tensor.data.iter().flat_map(|v| v.to_le_bytes()).collect();
        let view = TensorView::new(Dtype::F32, tensor.shape.clone(), &bytes)
            .map_err(|e| anyhow!("{e}"))?;
        let encoded =
            safetensors::serialize([("features", view)], None).map_err(|e| anyhow!("{e}"))?;
        write_atomically(&dir.join(format!("{image}.safetensors")), &encoded)
    }

    fn cell_dir(&self, key: &str) -> PathBuf {
        self.root.join("scores").join(key)
    }

    pub fn load_scores(&self, key: &str) -> Result<Option<(CellScores, Vec<PathBuf>)>> {
        let dir = self.cell_dir(key);
        let path = dir.join("scores.safetensors");
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let Some(scores) = decode_scores(&bytes) else {
            // Damaged: recompute the cell rather than block every run (see `load_features`).
            let _ = std::fs::remove_dir_all(&dir);
            return Ok(None);
        };
        touch(&path);
        Ok(Some((scores, png_files(&dir)?)))
    }

    /// Stores a finished cell: its scores and the overlay images `draw_overlays` writes into the
    /// folder it is given. Returns the overlay files as stored.
    pub fn store_scores(
        &self,
        key: &str,
        scores: &CellScores,
        draw_overlays: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<Vec<PathBuf>> {
        let target = self.cell_dir(key);
        let staging = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempdir_in(self.root.join("scores"))
            .with_context(|| format!("cannot write into {}", self.root.join("scores").display()))?;
        let f64_view = |values: &[f64]| {
            let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (values.len(), bytes)
        };
        let (nr, reference) = f64_view(&scores.reference);
        let (nt, test) = f64_view(&scores.test);
        let views = [
            (
                "reference",
                TensorView::new(Dtype::F64, vec![nr], &reference).map_err(|e| anyhow!("{e}"))?,
            ),
            (
                "test",
                TensorView::new(Dtype::F64, vec![nt], &test).map_err(|e| anyhow!("{e}"))?,
            ),
        ];
        let encoded = safetensors::serialize(views, None).map_err(|e| anyhow!("{e}"))?;
        let path = staging.path().join("scores.safetensors");
        std::fs::write(&path, encoded)
            .with_context(|| format!("cannot write {}", path.display()))?;
        draw_overlays(staging.path())?;
        match std::fs::rename(staging.path(), &target) {
            Ok(()) => {
                let _ = staging.keep(); // renamed away: nothing left to remove
            }
            // Another process finished the same cell first; its entry is as good as ours.
            Err(_) if target.join("scores.safetensors").is_file() => {}
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("cannot move a finished cell into {}", target.display())
                });
            }
        }
        png_files(&target)
    }

    /// Entries and bytes per kind, for `mon cache stats`.
    pub fn stats(&self) -> Result<Vec<(String, usize, u64)>> {
        let mut out = Vec::new();
        for kind in ["features", "scores"] {
            let mut entries = 0;
            let mut bytes = 0;
            for dir in list(&self.root.join(kind))? {
                if kind == "features" {
                    for file in list(&dir)? {
                        if file.extension().is_some_and(|e| e == "safetensors") {
                            entries += 1;
                        }
                        bytes += file.metadata().map(|m| m.len()).unwrap_or(0);
                    }
                } else {
                    entries += 1;
                    bytes += list(&dir)?
                        .iter()
                        .map(|f| f.metadata().map(|m| m.len()).unwrap_or(0))
                        .sum::<u64>();
                }
            }
            out.push((kind.to_string(), entries, bytes));
        }
        Ok(out)
    }

    /// Removes entries not written or read for `older_than`, and every leftover temporary of
    /// an interrupted run. Returns (entries removed, bytes freed).
    pub fn prune(&self, older_than: std::time::Duration) -> Result<(usize, u64)> {
        let cutoff = std::time::SystemTime::now() - older_than;
        let temporary = |path: &Path| path.file_name().is_some_and(|n| n.to_string_lossy().starts_with(".tmp"));
        // Last written or read (`touch`); an entry without a readable time goes too.
        let unused = |path: &Path| path.metadata().and_then(|m| m.modified()).map_or(true, |t| t < cutoff);
        let mut removed = (0, 0);
        let mut remove = |path: &Path, is_dir: bool| -> Result<()> {
            let size = if is_dir {
                list(path)?
                    .iter()
                    .map(|f| f.metadata().map(|m| m.len()).unwrap_or(0))
                    .sum()
            } else {
                path.metadata()?.len()
            };
            if is_dir {
                std::fs::remove_dir_all(path)
            } else {
                std::fs::remove_file(path)
            }
            .with_context(|| format!("cannot remove {}", path.display()))?;
            removed.0 += 1;
            removed.1 += size;
            Ok(())
        };
        for dir in list(&self.root.join("features"))? {
            for file in list(&dir)? {
                if file.file_name().is_some_and(|n| n != "key.txt") && (temporary(&file) || unused(&file)) {
                    remove(&file, false)?;
                }
            }
        }
        for dir in list(&self.root.join("scores"))? {
            if temporary(&dir) || unused(&dir.join("scores.safetensors")) {
                remove(&dir, true)?;
            }
        }
        Ok(removed)
    }
}

/// Marks an entry as used, so that `prune` keeps what recent runs read.
fn touch(path: &Path) {
    if let Ok(file) = std::fs::File::options().append(true).open(path) {
        let _ = file.set_modified(std::time::SystemTime::now());
    }
}

fn decode_scores(bytes: &[u8]) -> Option<CellScores> {
    let tensors = SafeTensors::deserialize(bytes).ok()?;
    let column = |name: &str| -> Option<Vec<f64>> {
        let view = tensors.tensor(name).ok()?;
        (view.dtype() == Dtype::F64).then(|| view.data().chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes"))).collect())
    };
    Some(CellScores { reference: column("reference")?, test: column("test")? })
}

fn read_f32(bytes: &[u8], name: &str) -> Result<CachedTensor> {
    let tensors = SafeTensors::deserialize(bytes)?;
    let view = tensors.tensor(name)?;
    if view.dtype() != Dtype::F32 {
        bail!("expected f32 values");
    }
    let data = view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
        .collect();
    Ok(CachedTensor {
        shape: view.shape().to_vec(),
        data,
    })
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().expect("cache files live in a folder");
    let mut file = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write into {}", dir.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {} (disk full?)", path.display()))?;
    file.persist(path)
        .map_err(|e| anyhow!("cannot write {}: {}", path.display(), e.error))?;
    Ok(())
}

fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => Ok(entries.filter_map(|e| e.ok().map(|e| e.path())).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("cannot list {}", dir.display())),
    }
}

fn png_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = list(dir)?
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_and_scores_round_trip_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let features = cache.create_feature_dir("k", "backbone=x").unwrap();
        let tensor = CachedTensor {
            shape: vec![2, 1, 2],
            data: vec![1.0, -0.5, f32::MIN_POSITIVE, 3.25],
        };
        let hashes = vec![hash_bytes(b"a"), hash_bytes(b"b")];
        cache
            .store_features(&features, &hashes[0], &tensor)
            .unwrap();
        assert_eq!(
            cache.load_features(&features, &hashes).unwrap(),
            [Some(tensor), None]
        );

        let scores = CellScores {
            reference: vec![0.1, 1.0 / 3.0],
            test: vec![std::f64::consts::PI, 2e-300, 7.0],
        };
        assert!(cache.load_scores("cell").unwrap().is_none());
        let overlays = cache
            .store_scores("cell", &scores, |d| {
                Ok(std::fs::write(d.join("o.png"), b"png")?)
            })
            .unwrap();
        let (loaded, stored) = cache.load_scores("cell").unwrap().unwrap();
        assert_eq!(loaded, scores, "bit-exact, so cached runs equal fresh ones");
        assert_eq!(stored, overlays);
        assert_eq!(stored.len(), 1);
        let stats = cache.stats().unwrap();
        assert_eq!(
            stats
                .iter()
                .map(|s| (s.0.as_str(), s.1))
                .collect::<Vec<_>>(),
            [("features", 1), ("scores", 1)]
        );
    }

    #[test]
    fn a_damaged_entry_is_a_miss_and_prune_clears_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let features = cache.create_feature_dir("k", "x").unwrap();
        let hash = hash_bytes(b"img");
        let torn = features.join(format!("{hash}.safetensors"));
        std::fs::write(&torn, b"half").unwrap();
        assert_eq!(cache.load_features(&features, std::slice::from_ref(&hash)).unwrap(), [None]);
        assert!(!torn.exists(), "removed, so that it is recomputed");
        let scores = CellScores { reference: vec![1.0], test: vec![2.0] };
        cache.store_scores("cell", &scores, |_| Ok(())).unwrap();
        std::fs::write(dir.path().join("scores/cell/scores.safetensors"), b"garbage").unwrap();
        assert!(cache.load_scores("cell").unwrap().is_none());
        cache.store_scores("cell", &scores, |_| Ok(())).unwrap();
        assert_eq!(cache.load_scores("cell").unwrap().unwrap().0, scores, "rewritten whole");

        // An entry written long ago but read just now is in use: prune by age keeps it.
        let file = dir.path().join("scores/cell/scores.safetensors");
        let long_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        std::fs::File::options().append(true).open(&file).unwrap().set_modified(long_ago).unwrap();
        cache.load_scores("cell").unwrap().unwrap();
        std::fs::create_dir(dir.path().join("scores/.tmp-abc")).unwrap();
        let (removed, _) = cache.prune(std::time::Duration::from_secs(3600)).unwrap();
        assert_eq!(removed, 1, "the temporary of an interrupted run goes, recent entries stay");
        let (removed, _) = cache.prune(std::time::Duration::ZERO).unwrap();
        assert_eq!(removed, 1);
        assert!(Cache::at(&dir.path().join("nowhere")).load_scores("cell").unwrap().is_none());
        assert!(!dir.path().join("nowhere").exists(), "reading creates nothing");
    }
}
