//! `qdx fmt`: the canonical form of a `.qdx` file.
//!
//! [`format_source`] parses a file and prints it back in the one layout every qdx file shares
//! ([`format_file`] does the same for a file of a [`SourceMap`], so diagnostics point into it);
//! [`format_ast`] prints an AST given the text it was parsed from (for its comments).
//!
//! # The canonical style
//!
//! - The file starts with its header as written (`qdx 1`); the formatter never adds or changes
//!   one. One blank line separates top-level items, except that runs of `use`, `builtin` and
//!   `prior` lines keep the blank lines they were written with (at most one).
//! - Blocks open with `{` at the end of their head line and close with `}` alone on a line;
//!   entries are indented two spaces per level, one entry per line, and a block with nothing
//!   inside is `keyword {}`. Inside a block one blank line is kept where the source has one or
//!   more; none is kept after `{` or before `}`.
//! - Property lists are inline, `{ a 1, b 2 }`, when the whole line fits in 100 columns and no
//!   comment is inside the list; otherwise one property per line, without commas. A `budget`
//!   follows the same rule, but keeps a comma after each entry when broken, as the grammar
//!   requires. Nothing else is ever broken across lines: expressions, connections
//!   (`a, b -> m1 -> r1`), choices, compositions, calls and lists stay on one line.
//! - Spacing: one space between words; around binary operators, `=`, `->`, `..`, and the `:`
//!   of declarations (`pump p1 : syringe_pump`, `x : time in …`, `on stall : pause`); none
//!   before the `:` of a named argument or builtin parameter (`f(a, at: 365 nm)`); `, ` between
//!   list elements; a number and its unit separated by one space (`10 uL/min`).
//! - Parentheses the user wrote are kept; others are added only where operator precedence
//!   needs them (see `expr.rs`).
//! - Numbers are printed as written (`0.50` stays `0.50`), units as written, strings re-escaped
//!   with the four escapes of the grammar (`\"`, `\\`, `\n`, `\t`). Keyword spellings are
//!   normalised: `maximise` → `maximize`, `minimise` → `minimize`, `optimiser` → `optimizer`.
//! - Inline scripts (`script """…"""`) are printed byte for byte, trailing spaces included.
//! - Comments are never lost and keep their order (see `layout.rs` for where each one goes);
//!   their text is printed as written, minus trailing whitespace on each of their lines.
//! - No line ends in a space (except inside inline scripts) and the file ends with one
//!   newline; an empty file stays empty.
//!
//! Invariants, checked by [`format_source`] on every call: the output parses to an AST equal to
//! the input's, and has the same comments in the same order. Formatting is idempotent.

pub mod comments;
mod expr;
mod items;
mod layout;

use std::collections::BTreeSet;

use crate::diagnostic::Diagnostic;
use crate::diagnostic::codes::format as code;
use crate::source::{FileId, Origin, SourceMap};
use crate::syntax::ast::{Item, ProxyDef};
use crate::syntax::{self, Ast};
use comments::Comment;

/// Parses `text` (named `name` in diagnostics) and returns its canonical form.
///
/// A syntax error is returned as the parser's diagnostic. The output is checked before it is
/// returned (it must parse to an equal AST and keep every comment, in order), so `qdx fmt`
/// never overwrites a file with something that means less; a failed check is an internal
/// error (`qdx::format::internal`).
pub fn format_source(text: &str, name: &str) -> Result<String, Diagnostic> {
    let ast = parse(text, name)?;
    checked(&ast, text, name)
}

/// `ast` with its file id replaced by `like`'s (ASTs of one text in two maps compare equal).
fn ast_with_file(ast: &Ast, like: &Ast) -> Ast {
    Ast {
        file: like.file,
        ..ast.clone()
    }
}

/// Formats `ast` (parsed from `text`) and checks the output before returning it.
fn checked(ast: &Ast, text: &str, name: &str) -> Result<String, Diagnostic> {
    let formatted = format_ast(ast, text);
    let again = parse(&formatted, name).map_err(|d| {
        internal(&format!(
            "the formatted text does not parse ({}: {})",
            d.code, d.message
        ))
    })?;
    // The output is parsed in a map of its own: compare everything but the file id.
    if ast_with_file(ast, &again) != again {
        return Err(internal(
            "the formatted text parses to a different syntax tree",
        ));
    }
    let before: Vec<String> = comments_of(ast, text)
        .iter()
        .map(Comment::printed)
        .collect();
    let after: Vec<String> = comments_of(&again, &formatted)
        .iter()
        .map(Comment::printed)
        .collect();
    if before != after {
        return Err(internal("the formatted text lost or reordered a comment"));
    }
    Ok(formatted)
}

/// Formats file `file` of `sources`, like [`format_source`], but a syntax error's diagnostic
/// points into the caller's source map (what `qdx fmt` wants to render it).
pub fn format_file(sources: &SourceMap, file: FileId) -> Result<String, Diagnostic> {
    let ast = syntax::parse(sources, file)?;
    let (text, name) = match sources.get(file) {
        Some(f) => (f.text.as_str(), f.name.as_str()),
        None => ("", ""),
    };
    checked(&ast, text, name)
}

/// Prints `ast` in canonical form. `source` is the text it was parsed from, where the comments
/// are; with any other text, comments may land in odd places but are all printed.
pub fn format_ast(ast: &Ast, source: &str) -> String {
    let comments = comments_of(ast, source);
    let mut printer = items::Printer {
        layout: layout::Layout::new(source, comments),
    };
    printer.file(ast);
    printer.layout.finish()
}

/// The comments of `source`, which `ast` was parsed from, in order.
pub fn comments_of(ast: &Ast, source: &str) -> Vec<Comment> {
    comments::scan(source, &raw_openers(ast))
}

/// Where the `"""` of each inline script starts: the scanner must skip them.
fn raw_openers(ast: &Ast) -> BTreeSet<usize> {
    let mut openers = BTreeSet::new();
    for item in &ast.items {
        if let Item::Proxies(block) = item {
            for proxy in &block.entries {
                if let ProxyDef::ScriptInline { span, .. } = &proxy.definition
                    && let Some(r) = span.range()
                    && let Some(opener) = r.start.checked_sub(3)
                {
                    openers.insert(opener);
                }
            }
        }
    }
    openers
}

/// Parses one text on its own (so two parses compare equal: same file id).
fn parse(text: &str, name: &str) -> Result<Ast, Diagnostic> {
    let mut sources = SourceMap::new();
    let file = sources.add(name, Origin::Memory, text);
    syntax::parse(&sources, file)
}

fn internal(what: &str) -> Diagnostic {
    Diagnostic::error(code::INTERNAL, format!("internal formatter error: {what}")).help(
        "this is a bug in qdx fmt; the file was left as it is. Please report it with the file",
    )
}
