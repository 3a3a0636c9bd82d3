//! `environment.json`: what a run ran on, so that a number in a paper can be traced to the
//! code, the libraries, the device and the machine that produced it.

use serde::Serialize;

/// The workspace's lock file, compiled in: the exact library versions this binary was built with.
const LOCK: &str = include_str!("../../../../Cargo.lock");

/// Libraries whose versions decide numbers or speed.
const LIBRARIES: [&str; 6] = [
    "burn",
    "burn-flex",
    "burn-ndarray",
    "wgpu",
    "polars",
    "plotters",
];

#[derive(Debug, Serialize)]
pub struct Environment {
    pub mon: &'static str,
    pub libraries: std::collections::BTreeMap<String, String>,
    /// `git rev-parse HEAD` in the directory `mon` ran in, `-dirty` when tracked files differ.
    pub git_revision: Option<String>,
    pub device: String,
    pub backend: String,
    pub cpu: Option<String>,
    pub threads: usize,
    pub os: &'static str,
    pub arch: &'static str,
    pub started_utc: String,
    pub command: Vec<String>,
}

impl Environment {
    pub fn capture(device: &str, backend: &str) -> Self {
        Self {
            mon: env!("CARGO_PKG_VERSION"),
            libraries: LIBRARIES
                .iter()
                .filter_map(|name| Some((name.to_string(), locked_version(name)?)))
                .collect(),
            git_revision: git_revision(),
            device: device.to_string(),
            backend: backend.to_string(),
            cpu: cpu_model(),
            threads: rayon::current_num_threads(),
            os: std::env::consts::OS,
            arch: std::env::consts::ARCH,
            started_utc: jiff::Timestamp::now().to_string(),
            command: std::env::args().collect(),
        }
    }
}

fn locked_version(name: &str) -> Option<String> {
    let entry = format!("name = \"{name}\"\nversion = \"");
    let start = LOCK.find(&entry)? + entry.len();
    Some(LOCK[start..].split('"').next()?.to_string())
}

fn git_revision() -> Option<String> {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
    };
    let head = String::from_utf8(git(&["rev-parse", "HEAD"])?.stdout)
        .ok()?
        .trim()
        .to_string();
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|o| !o.stdout.is_empty());
    Some(if dirty { format!("{head}-dirty") } else { head })
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_libraries_this_binary_was_built_with() {
        let env = Environment::capture("cpu", "flex");
        assert!(env.libraries["burn"].starts_with("0.22"), "{:?}", env.libraries);
        assert!(env.threads >= 1);
        let json = serde_json::to_string(&env).unwrap();
        assert!(json.contains("\"backend\":\"flex\""), "{json}");
    }
}
