//! Helpers shared by the integration tests.

use std::path::Path;

use qdx::diagnostic::{Style, render_all};
use qdx::validate::{self, Checked};
use qdx::world::DiskWorld;

/// Loads and validates a file from disk, shown under its path relative to the crate root.
pub fn check_path(path: &Path) -> Checked {
    let display = path.to_string_lossy().replace('\\', "/");
    let loaded = qdx::load::load(&DiskWorld, path, &display);
    validate::validate(&loaded, &DiskWorld)
}

/// Loads and validates text with no files around it.
pub fn check_text(name: &str, text: &str) -> Checked {
    let world = qdx::world::MemoryWorld::new().with(name, text);
    let loaded = qdx::load::load(&world, Path::new(name), name);
    validate::validate(&loaded, &world)
}

/// Diagnostics drawn the fixed way snapshots use.
pub fn rendered(checked: &Checked) -> String {
    render_all(&checked.diagnostics, &checked.sources, Style::Plain)
}

/// The path of a test file relative to the crate root, with forward slashes.
pub fn relative(path: &Path) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    path.strip_prefix(root).unwrap_or(path).to_path_buf()
}

/// One column of a bundle's `observations.csv`, parsed (`None` where empty).
pub fn column(path: &Path, name: &str) -> Vec<Option<f64>> {
    let mut reader = csv::Reader::from_path(path).expect("observations");
    let header = reader.headers().expect("header").clone();
    let col = header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"));
    reader
        .records()
        .map(|row| {
            row.expect("a row")
                .get(col)
                .and_then(|c| c.parse::<f64>().ok())
        })
        .collect()
}
