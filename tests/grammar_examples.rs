//! grammar/README.md promises that every example parses: checked here, with the file named in
//! the failure, so an example that drifts from the grammar is caught.

use std::path::PathBuf;

use qdx::source::{Origin, SourceMap};
use qdx::syntax;

fn qdx_files(dir: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("folder entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "qdx"))
        .collect();
    files.sort();
    files
}

fn parses(path: &PathBuf) -> syntax::Ast {
    let text = std::fs::read_to_string(path).expect("readable file");
    let mut sources = SourceMap::new();
    let file = sources.add(path.display().to_string(), Origin::User(path.clone()), text);
    match syntax::parse(&sources, file) {
        Ok(ast) => ast,
        Err(d) => panic!(
            "{} does not parse:\n{}",
            path.display(),
            qdx::diagnostic::render(&d, &sources, qdx::diagnostic::Style::Plain)
        ),
    }
}

#[test]
fn every_example_parses() {
    let files = qdx_files("examples");
    assert!(!files.is_empty());
    for path in &files {
        let ast = parses(path);
        assert!(!ast.items.is_empty(), "{} has no items", path.display());
        assert!(
            ast.header.is_some(),
            "{} has no `qdx 1` header",
            path.display()
        );
    }
}

#[test]
fn every_valid_corpus_file_parses() {
    for dir in ["tests/data/valid", "tests/data/syntax"] {
        for path in &qdx_files(dir) {
            parses(path);
        }
    }
}

#[test]
fn all_constructs_uses_every_top_level_block() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/syntax/all_constructs.qdx");
    let ast = parses(&path);
    let mut keywords: Vec<&str> = ast.items.iter().map(|i| i.keyword()).collect();
    keywords.sort_unstable();
    keywords.dedup();
    assert_eq!(
        keywords,
        [
            "builtin",
            "campaign",
            "constraints",
            "data",
            "derive",
            "fit",
            "kind",
            "lab",
            "measure",
            "objectives",
            "optimizer",
            "parameters",
            "prior",
            "proxies",
            "reactor",
            "reference",
            "safety",
            "simulate",
            "stocks",
            "use",
            "variables"
        ]
    );
}

/// The `qdx` code blocks of grammar/README.md: each parses, and is already in the canonical
/// layout `qdx fmt` prints, so the documentation shows the style it describes.
#[test]
fn grammar_readme_examples_parse_and_are_canonical() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("grammar/README.md");
    let readme = std::fs::read_to_string(&path).expect("grammar/README.md");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match (&mut current, line) {
            (None, "```qdx") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), l) => {
                block.push_str(l);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(blocks.len() >= 20, "found only {} blocks", blocks.len());
    for block in blocks {
        match qdx::format::format_source(&block, "README.md") {
            Ok(formatted) => assert_eq!(formatted, block, "not canonical"),
            Err(d) => panic!("does not parse: {}\n{block}", d.message),
        }
    }
}

#[test]
fn contextual_keywords_are_names_where_no_keyword_is_expected() {
    let text = "qdx 1\nproxies {\n  at = f(x, at: 365 nm, weight: 2, for: 1)\n}\noptimizer grid {\n  levels { t [1, 2], r 5 }\n}\n";
    let mut sources = SourceMap::new();
    let id = sources.add("t.qdx", Origin::Memory, text);
    let ast = syntax::parse(&sources, id).unwrap_or_else(|d| panic!("{}", d.message));
    assert_eq!(ast.items.len(), 2);
}
