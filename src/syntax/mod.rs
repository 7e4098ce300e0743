//! Stage 1, parse: source text → [`Ast`].
//!
//! Invariant of the output: the AST mirrors the text exactly (nothing resolved, nothing
//! defaulted), every node has a span inside its parent's, and parsing the output of
//! `qdx fmt` gives an equal AST.

pub mod ast;
mod parser;
mod rule_names;

use pest::error::{ErrorVariant, InputLocation};

pub use ast::Ast;
use parser::{Lower, Rule};

use crate::diagnostic::Diagnostic;
use crate::source::{FileId, SourceMap, Span};

/// Result of the parse stage.
pub type ParseResult<T> = Result<T, Diagnostic>;

/// Parses one file of the source map.
pub fn parse(sources: &SourceMap, file: FileId) -> ParseResult<Ast> {
    let text = sources
        .get(file)
        .map(|f| f.text.as_str())
        .unwrap_or_default();
    let mut pairs = parser::parse_pairs(text).map_err(|e| syntax_error(&e, file, text))?;
    let lower = Lower { file };
    match pairs.next() {
        Some(root) => lower.file(root),
        None => Err(Diagnostic::error("qdx::syntax::empty", "empty parse")),
    }
}

/// The keywords that start a top-level block; listing them all in an error is noise.
const BLOCK_KEYWORDS: &[Rule] = &[
    Rule::kw_campaign,
    Rule::kw_use,
    Rule::kw_kind,
    Rule::kw_builtin,
    Rule::kw_reference,
    Rule::kw_stocks,
    Rule::kw_reactor,
    Rule::kw_variables,
    Rule::kw_parameters,
    Rule::kw_derive,
    Rule::kw_constraints,
    Rule::kw_measure,
    Rule::kw_proxies,
    Rule::kw_objectives,
    Rule::kw_optimizer,
    Rule::kw_prior,
    Rule::kw_safety,
    Rule::kw_simulate,
    Rule::kw_lab,
];

/// The infix operators; listed in an error only as "an operator".
const OPERATORS: &[Rule] = &[
    Rule::op_or,
    Rule::op_and,
    Rule::op_le,
    Rule::op_ge,
    Rule::op_ne,
    Rule::op_eq,
    Rule::op_lt,
    Rule::op_gt,
    Rule::op_within,
    Rule::op_add,
    Rule::op_sub,
    Rule::op_mul,
    Rule::op_div,
    Rule::op_pow,
];

/// The rules an expression can start with; listed in an error only as "a value".
const VALUE_STARTS: &[Rule] = &[
    Rule::op_neg,
    Rule::op_not,
    Rule::list,
    Rule::boolean,
    Rule::number,
    Rule::quantity,
    Rule::string,
    Rule::call,
    Rule::path,
    Rule::ident,
    Rule::expr,
];

/// Words the grammar reserves; they cannot be names.
const RESERVED: &[&str] = &[
    "and", "or", "not", "in", "within", "true", "false", "log", "then", "weight", "for", "after",
    "at",
];

fn expected_names(positives: &[Rule]) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    let mut push = |n: &'static str| {
        if !names.contains(&n) {
            names.push(n);
        }
    };
    let blocks = positives
        .iter()
        .filter(|r| BLOCK_KEYWORDS.contains(r))
        .count();
    let values = positives
        .iter()
        .filter(|r| VALUE_STARTS.contains(r))
        .count();
    let operators = positives.iter().filter(|r| OPERATORS.contains(r)).count();
    for rule in positives {
        if blocks > 3 && BLOCK_KEYWORDS.contains(rule) {
            push("a block such as `stocks`, `reactor` or `variables`");
        } else if values > 2 && VALUE_STARTS.contains(rule) {
            push("a value (a number with its unit, a name, …)");
        } else if operators > 3 && OPERATORS.contains(rule) {
            push("an operator");
        } else {
            push(rule_names::describe(*rule));
        }
    }
    names
}

fn join_or(names: &[&str]) -> String {
    match names {
        [] => String::from("something else"),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// What the text at `pos` looks like, for "found …".
fn found_at(text: &str, pos: usize) -> String {
    let rest = text.get(pos..).unwrap_or("");
    let token: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace())
        .take(24)
        .collect();
    if rest.is_empty() {
        "the end of the file".to_owned()
    } else if token.is_empty() {
        "a line break".to_owned()
    } else {
        format!("`{token}`")
    }
}

fn syntax_error(err: &pest::error::Error<Rule>, file: FileId, text: &str) -> Diagnostic {
    let (start, end) = match err.location {
        InputLocation::Pos(p) => (p, p),
        InputLocation::Span((s, e)) => (s, e),
    };
    // Point at the whole unexpected token, not just its first byte.
    let token_len = text
        .get(start..)
        .map(|r| {
            r.chars()
                .take_while(|c| !c.is_whitespace())
                .map(char::len_utf8)
                .sum::<usize>()
        })
        .unwrap_or(0);
    let span = Span::new(file, start, end.max(start + token_len.min(24)));
    let found = found_at(text, start);
    match &err.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let names = expected_names(positives);
            let expected = join_or(&names);
            let diag = Diagnostic::error("qdx::syntax::unexpected", format!("unexpected {found}"))
                .label(span, format!("expected {expected}"));
            with_hint(diag, positives, text, start)
        }
        ErrorVariant::CustomError { message } => {
            Diagnostic::error("qdx::syntax::invalid", message.clone()).at(span)
        }
    }
}

/// Hints for the mistakes chemists make most often.
fn with_hint(diag: Diagnostic, positives: &[Rule], text: &str, pos: usize) -> Diagnostic {
    let rest = text.get(pos..).unwrap_or("");
    let before = text.get(..pos).unwrap_or("").trim_end();
    let word: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if RESERVED.contains(&word.as_str()) && positives.contains(&Rule::ident) {
        return diag.help(format!(
            "`{word}` is a reserved word of the language; it cannot name a device, stock, variable or proxy"
        ));
    }
    if positives.contains(&Rule::header) && !rest.trim_start().starts_with("qdx") {
        return diag.help("every qdx file starts with its language version: `qdx 1`");
    }
    if rest.starts_with('"') && before.ends_with(|c: char| c.is_alphanumeric()) {
        return diag.help("is a comma missing before this string?");
    }
    if positives.contains(&Rule::unit)
        || before.ends_with(|c: char| c.is_ascii_digit()) && rest.starts_with('/')
    {
        return diag
            .help("write a unit right after its number, without spaces inside it: `10 uL/min`");
    }
    if rest.starts_with('}')
        && positives
            .iter()
            .any(|r| matches!(r, Rule::expr | Rule::range))
    {
        return diag.help("a value is missing before the closing brace");
    }
    diag
}
