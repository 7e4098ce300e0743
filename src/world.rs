//! The world outside the compiler: reading files.
//!
//! Validation never touches the file system directly; it asks a [`World`]. The disk world
//! reads real files; the in-memory world serves tests and fuzzing, so they run without files.

use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Access to the files of a campaign's folder tree.
pub trait World {
    /// Reads a whole text file.
    fn read(&self, path: &Path) -> io::Result<String>;

    /// The path with symbolic links resolved, for the folder-tree check.
    fn canonical(&self, path: &Path) -> io::Result<PathBuf>;
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct DiskWorld;

impl World for DiskWorld {
    fn read(&self, path: &Path) -> io::Result<String> {
        read_text(path)
    }

    fn canonical(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }
}

/// Reads a whole UTF-8 text file. A file that is not UTF-8 is refused with where its first
/// invalid byte is (line, column and byte offset), not std's bare "stream did not contain
/// valid UTF-8".
pub fn read_text(path: &Path) -> io::Result<String> {
    utf8_text(std::fs::read(path)?)
}

/// Bytes as text; bytes that are not UTF-8 are an error saying where the first invalid byte is.
pub fn utf8_text(bytes: Vec<u8>) -> io::Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let before = bytes.get(..at).unwrap_or_default();
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |k| k + 1);
        // Characters, not bytes, before it on its line: the part before is valid UTF-8.
        let column = String::from_utf8_lossy(before.get(line_start..).unwrap_or_default())
            .chars()
            .count()
            + 1;
        let byte = bytes
            .get(at)
            .map_or_else(String::new, |b| format!(" 0x{b:02x}"));
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "not UTF-8 text: the byte{byte} at line {line}, column {column} (byte offset \
                 {at}) is not valid UTF-8"
            ),
        )
    })
}

/// Files held in memory, by path.
#[derive(Debug, Default, Clone)]
pub struct MemoryWorld {
    files: BTreeMap<PathBuf, String>,
}

impl MemoryWorld {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        self.files.insert(normalize(&path.into()), text.into());
        self
    }

    pub fn insert(&mut self, path: impl Into<PathBuf>, text: impl Into<String>) {
        self.files.insert(normalize(&path.into()), text.into());
    }
}

impl World for MemoryWorld {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.files
            .get(&normalize(path))
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn canonical(&self, path: &Path) -> io::Result<PathBuf> {
        let p = normalize(path);
        if self.files.contains_key(&p) {
            Ok(p)
        } else {
            Err(io::Error::new(io::ErrorKind::NotFound, "no such file"))
        }
    }
}

/// Removes `.` and resolves `..` lexically; a `..` above the start is kept.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                _ => out.push(c),
            },
            other => out.push(other),
        }
    }
    out.iter().collect()
}

/// Why a referenced path is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathProblem {
    Absolute,
    OutsideFolder,
    Empty,
}

/// Resolves `relative` (as written in a file in `from_dir`) inside the campaign folder `root`.
///
/// Campaign files travel between labs, so they may only reach files inside their own folder
/// tree: absolute paths and paths that climb out of the folder are refused. The path is
/// resolved first and then judged against the root as resolved, so a root that itself lies up
/// the tree (`../examples`, a campaign checked from a sibling folder) is no reason to refuse;
/// a symbolic link that leads out is the caller's to refuse, on the canonical paths.
pub fn resolve_inside(
    root: &Path,
    from_dir: &Path,
    relative: &str,
) -> Result<PathBuf, PathProblem> {
    if relative.trim().is_empty() {
        return Err(PathProblem::Empty);
    }
    let rel = Path::new(relative);
    if rel.is_absolute() || rel.has_root() || relative.starts_with('~') {
        return Err(PathProblem::Absolute);
    }
    let joined = normalize(&from_dir.join(rel));
    match joined.strip_prefix(normalize(root)) {
        // What is left below the root must not climb: `a/../../b` does.
        Ok(inside) if !inside.components().any(|c| c == Component::ParentDir) => Ok(joined),
        _ => Err(PathProblem::OutsideFolder),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_campaign_folder() {
        let root = Path::new("lab/campaign");
        assert_eq!(
            resolve_inside(root, root, "rig/common.qdx"),
            Ok(PathBuf::from("lab/campaign/rig/common.qdx"))
        );
        assert_eq!(
            resolve_inside(root, Path::new("lab/campaign/rig"), "../x.qdx"),
            Ok(PathBuf::from("lab/campaign/x.qdx"))
        );
        assert_eq!(
            resolve_inside(root, root, "../other.qdx"),
            Err(PathProblem::OutsideFolder)
        );
        assert_eq!(
            resolve_inside(root, root, "a/../../b.qdx"),
            Err(PathProblem::OutsideFolder)
        );
        assert_eq!(
            resolve_inside(root, root, "/etc/passwd"),
            Err(PathProblem::Absolute)
        );
        assert_eq!(resolve_inside(root, root, ""), Err(PathProblem::Empty));
        // A root given as "." works too.
        assert_eq!(
            resolve_inside(Path::new(""), Path::new(""), "x.rhai"),
            Ok(PathBuf::from("x.rhai"))
        );
        assert_eq!(
            resolve_inside(Path::new(""), Path::new(""), "../x.rhai"),
            Err(PathProblem::OutsideFolder)
        );
    }

    /// Issue 14, item 25: a file that is not UTF-8 is refused with where its first invalid
    /// byte is.
    #[test]
    fn a_file_that_is_not_utf8_is_refused_with_where() {
        let dir = tempfile::tempdir().expect("temp");
        let path = dir.path().join("x.qdx");
        std::fs::write(&path, b"qdx 1\n\xc3\xa9t\xe9\xff\n").expect("write");
        let e = read_text(&path).expect_err("not UTF-8");
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            e.to_string(),
            "not UTF-8 text: the byte 0xe9 at line 2, column 3 (byte offset 9) is not valid UTF-8"
        );
        std::fs::write(&path, "qdx 1\n").expect("write");
        assert_eq!(read_text(&path).expect("UTF-8"), "qdx 1\n");
    }

    /// Issue 14, item 28: a campaign in a folder up the tree (`qdx check ../examples/x.qdx`)
    /// reaches its own files; climbing out of that folder is still refused.
    #[test]
    fn a_root_up_the_tree_reaches_its_own_files() {
        let root = Path::new("../examples");
        assert_eq!(
            resolve_inside(root, root, "proxies/score.rhai"),
            Ok(PathBuf::from("../examples/proxies/score.rhai"))
        );
        assert_eq!(
            resolve_inside(root, Path::new("../examples/proxies"), "../tables/t.csv"),
            Ok(PathBuf::from("../examples/tables/t.csv"))
        );
        assert_eq!(
            resolve_inside(Path::new("../.."), Path::new("../.."), "x.rhai"),
            Ok(PathBuf::from("../../x.rhai"))
        );
        for outside in ["../x.rhai", "../other/x.rhai", "a/../../x.rhai"] {
            assert_eq!(
                resolve_inside(root, root, outside),
                Err(PathProblem::OutsideFolder),
                "{outside}"
            );
        }
        assert_eq!(
            resolve_inside(Path::new(".."), Path::new(".."), "../x.rhai"),
            Err(PathProblem::OutsideFolder)
        );
    }
}
