//! `qdx fmt`: idempotence, AST and comment preservation over the corpus, the placement rules
//! one by one, snapshots, and a property test over generated inputs.

mod generated;
mod rules;

use std::path::{Path, PathBuf};

use qdx::format::{comments_of, format_source};
use qdx::source::{Origin, SourceMap};
use qdx::syntax::{self, Ast};

pub fn parse(text: &str) -> Ast {
    let mut sources = SourceMap::new();
    let file = sources.add("test.qdx", Origin::Memory, text);
    match syntax::parse(&sources, file) {
        Ok(ast) => ast,
        Err(d) => panic!("does not parse: {} {:?}\n{text}", d.message, d.labels),
    }
}

pub fn fmt(text: &str) -> String {
    match format_source(text, "test.qdx") {
        Ok(out) => out,
        Err(d) => panic!("format failed: {}: {}\n{text}", d.code, d.message),
    }
}

/// Every property the formatter promises, checked on one input.
pub fn check_all(text: &str) -> String {
    let once = fmt(text);
    let twice = fmt(&once);
    assert_eq!(once, twice, "not idempotent; first output:\n{once}");
    let ast = parse(text);
    assert_eq!(parse(&once), ast, "the AST changed; output:\n{once}");
    assert_comments_kept(text, &ast, &once);
    assert_clean_lines(&once, &ast);
    once
}

/// Each comment of the input appears in the output, in the same order.
pub fn assert_comments_kept(input: &str, ast: &Ast, output: &str) {
    let mut from = 0;
    for c in comments_of(ast, input) {
        let text = c.printed();
        match output.get(from..).and_then(|rest| rest.find(&text)) {
            Some(at) => from += at + text.len(),
            None => panic!("comment {text:?} missing or out of order in:\n{output}"),
        }
    }
}

/// No trailing spaces outside inline scripts; one final newline; no tabs in indentation.
pub fn assert_clean_lines(output: &str, ast: &Ast) {
    if output.is_empty() {
        return;
    }
    assert!(
        output.ends_with('\n') && !output.ends_with("\n\n"),
        "final newline:\n{output}"
    );
    let scripts = inline_scripts(ast);
    for line in output.lines() {
        let in_script = scripts.iter().any(|s| s.contains(line));
        if !in_script {
            assert_eq!(line, line.trim_end(), "trailing space in {line:?}");
            assert!(!line.starts_with('\t'), "tab indentation in {line:?}");
        }
    }
    assert!(
        !output.contains("\n\n\n"),
        "two blank lines in a row:\n{output}"
    );
}

fn inline_scripts(ast: &Ast) -> Vec<String> {
    use qdx::syntax::ast::{Item, ProxyDef};
    ast.items
        .iter()
        .filter_map(|i| match i {
            Item::Proxies(b) => Some(b.entries.iter().filter_map(|p| match &p.definition {
                ProxyDef::ScriptInline { source, .. } => Some(source.clone()),
                _ => None,
            })),
            _ => None,
        })
        .flatten()
        .collect()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn qdx_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("corpus folder")
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "qdx"))
        .collect();
    files.sort();
    files
}

fn corpus() -> Vec<PathBuf> {
    let mut files = qdx_files(&root().join("examples"));
    files.extend(qdx_files(&root().join("tests/data/valid")));
    files.extend(qdx_files(&root().join("tests/data/syntax")));
    files.extend(qdx_files(&root().join("tests/format/data")));
    files
}

#[test]
fn corpus_is_idempotent_and_keeps_ast_and_comments() {
    let files = corpus();
    assert!(files.len() >= 5, "corpus too small: {files:?}");
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        println!("{}", path.display());
        check_all(&text);
    }
}

#[test]
fn formatted_examples_are_already_canonical_where_written_so() {
    // all_constructs.qdx is written in canonical form apart from its comments' placement.
    let text =
        std::fs::read_to_string(root().join("tests/data/syntax/all_constructs.qdx")).unwrap();
    assert_eq!(fmt(&text), text);
}

fn snapshot(name: &str, formatted: &str) {
    insta::with_settings!({ snapshot_path => root().join("tests/snapshots"), prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, formatted);
    });
}

#[test]
fn snapshot_all_constructs() {
    let text =
        std::fs::read_to_string(root().join("tests/data/syntax/all_constructs.qdx")).unwrap();
    snapshot("format__all_constructs", &check_all(&text));
}

#[test]
fn snapshot_messy_comments() {
    let text =
        std::fs::read_to_string(root().join("tests/format/data/messy_comments.qdx")).unwrap();
    snapshot("format__messy_comments", &check_all(&text));
}

#[test]
fn snapshot_messy_spacing() {
    let text = std::fs::read_to_string(root().join("tests/format/data/messy_spacing.qdx")).unwrap();
    snapshot("format__messy_spacing", &check_all(&text));
}

#[test]
fn snapshot_messy_long() {
    let text = std::fs::read_to_string(root().join("tests/format/data/messy_long.qdx")).unwrap();
    snapshot("format__messy_long", &check_all(&text));
}

#[test]
fn snapshot_example() {
    let text = std::fs::read_to_string(root().join("examples/cspbx3-orange.qdx")).unwrap();
    snapshot("format__example_cspbx3_orange", &check_all(&text));
}
