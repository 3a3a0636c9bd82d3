//! What every figure shares: the embedded font (figures look the same on every machine and
//! need no system fonts), PNG + SVG output, and file names made from grid names.

use std::path::Path;
use std::sync::Once;

use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

pub const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
            .unwrap_or_else(|_| panic!("the embedded DejaVu Sans font is valid"));
    });
}

/// A figure drawn the same way on any plotters backend.
pub trait Figure {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>;
}

/// Writes `<stem>.png` and `<stem>.svg` into `dir` (created if needed).
pub fn write_figure(dir: &Path, stem: &str, figure: &impl Figure) -> Result<()> {
    register_font();
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let png = dir.join(format!("{stem}.png"));
    figure
        .draw(BitMapBackend::new(&png, figure.size()).into_drawing_area())
        .map_err(|e| anyhow!("cannot write {} (is the disk full?): {e}", png.display()))?;
    let svg = dir.join(format!("{stem}.svg"));
    figure
        .draw(SVGBackend::new(&svg, figure.size()).into_drawing_area())
        .map_err(|e| anyhow!("cannot write {} (is the disk full?): {e}", svg.display()))
}

/// A file-name-safe form of grid names: `patch_knn{memory=20000}` → `patch_knn-memory-20000`.
pub fn slug(parts: &[&str]) -> String {
    let joined = parts.join("_");
    let mut out = String::new();
    for ch in joined.chars() {
        let ch = if ch.is_ascii_alphanumeric() || "._-".contains(ch) { ch } else { '-' };
        if !(ch == '-' && out.ends_with('-')) {
            out.push(ch);
        }
    }
    let out = out.trim_matches('-').to_string();
    if out == joined {
        out
    } else {
        // Names that differ only in the replaced characters (`a b`, `a,b`) keep apart.
        format!("{out}-{}", &crate::cache::hash_bytes(joined.as_bytes())[..6])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_safe_file_names() {
        let knn = slug(&["grid", "block5", "patch_knn{memory=20000,coreset=random}"]);
        assert!(knn.starts_with("grid_block5_patch_knn-memory-20000-coreset-random-"), "{knn}");
        assert_eq!(slug(&["grid", "block5"]), "grid_block5", "safe names stay as they are");
        assert_ne!(slug(&["a b"]), slug(&["a,b"]), "distinct names, distinct files");
        assert!(slug(&["a/b", "..x"]).starts_with("a-b_..x-"));
    }
}
