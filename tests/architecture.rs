//! The pipeline's shape, checked on the source: no module of `src/` imports one that comes
//! later in the pipeline, and no two modules import each other (directly or round a loop).
//! ARCHITECTURE.md draws the same layers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules of `src/`, in pipeline order: a module may import those of its own
/// layer or an earlier one, never a later one. The bundle is a function of the journal, so
/// its modules (record, files, report, bundle) come before the runtime that writes it when a
/// run ends.
const LAYERS: &[&[&str]] = &[
    &["source", "diagnostic", "names", "world"],
    &["syntax"],
    &["format", "load"],
    &["validate"],
    &["bind"],
    &["plan"],
    &["journal"],
    &["record", "transient", "droplet"],
    &["files"],
    &["report"],
    &["bundle"],
    &["runtime"],
    &["lsp"],
    &["cli"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("src")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The source without comments (doc links name modules without importing them).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first path segment after each `prefix` (`crate::` gives `plan` for
/// `crate::plan::Plan` and `plan`, `record` for `crate::{plan::Plan, record}`).
fn targets(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices(prefix) {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue; // `qdx_lab::crate::…` is not ours
        }
        let rest = &code[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut start = true;
            for (k, ch) in group.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && !c.is_whitespace() => {
                        out.insert(ident(&group[k..]));
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest));
        }
    }
    out.retain(|t| !t.is_empty() && t != "self");
    out
}

/// Module → the modules it imports, for the top-level modules of `src/`.
fn top_level_imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).expect("inside src");
        let first = rel.components().next().expect("a path");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&f).expect("read");
        let entry = graph.entry(module.clone()).or_default();
        entry.extend(
            targets(&code(&text), "crate::")
                .into_iter()
                .filter(|t| *t != module),
        );
    }
    graph
}

/// A loop in a graph, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(k) = path.iter().position(|p| p == node) {
            let mut found = path[k..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn every_module_of_src_has_a_place_in_the_pipeline() {
    let unplaced: Vec<String> = top_level_imports()
        .keys()
        .filter(|m| layer(m).is_none())
        .cloned()
        .collect();
    assert!(
        unplaced.is_empty(),
        "modules without a layer: {unplaced:?}; add them to LAYERS and ARCHITECTURE.md"
    );
}

#[test]
fn no_import_runs_back_up_the_pipeline() {
    let mut upward = Vec::new();
    for (module, imports) in top_level_imports() {
        let Some(own) = layer(&module) else { continue };
        for target in imports {
            if layer(&target).is_some_and(|l| l > own) {
                upward.push(format!("{module} -> {target}"));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports against the pipeline: {upward:?}"
    );
}

#[test]
fn no_two_modules_import_each_other() {
    let graph = top_level_imports();
    assert_eq!(cycle(&graph), None, "a cycle among the modules of src/");
}

#[test]
fn no_two_parts_of_a_stage_import_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for stage in [
        "validate", "plan", "runtime", "bind", "files", "syntax", "format",
    ] {
        let dir = src.join(stage);
        let mut files = Vec::new();
        rust_files(&dir, &mut files);
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let parts: BTreeSet<String> = files
            .iter()
            .map(|f| {
                f.file_stem()
                    .expect("a name")
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        for f in &files {
            let part = f
                .file_stem()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            let text = code(&std::fs::read_to_string(f).expect("read"));
            let mut imports = targets(&text, "super::");
            imports.extend(targets(&text, &format!("crate::{stage}::")));
            // `mod.rs` is the stage itself: its parts may use what it declares.
            let imports = imports
                .into_iter()
                .filter(|t| parts.contains(t) && *t != part && t != "mod")
                .collect();
            if part != "mod" {
                graph.insert(part, imports);
            }
        }
        assert_eq!(
            cycle(&graph),
            None,
            "a cycle among the parts of src/{stage}"
        );
    }
}

#[test]
fn the_import_scanner_reads_groups_paths_and_skips_other_crates() {
    let found = targets(
        "use crate::{plan::{Plan, Step}, record};\nlet x = crate::files::sha256(b);\nqdx_lab::crate::x",
        "crate::",
    );
    let expected: BTreeSet<String> = ["plan", "record", "files"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(found, expected);
    let mut graph = BTreeMap::new();
    graph.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    graph.insert("b".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert!(cycle(&graph).is_some());
}
