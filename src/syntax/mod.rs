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
use crate::diagnostic::codes::syntax as code;
use crate::source::{FileId, SourceMap, Span};

/// Result of the parse stage.
pub type ParseResult<T> = Result<T, Diagnostic>;

/// How deep `{`, `(` and `[` may nest. The parser and every stage after it recurse once per
/// level, so a limit keeps a pathological file (50 000 nested property lists) a located error
/// rather than a stack overflow; real campaigns use a handful of levels.
pub const MAX_NESTING: usize = 64;

/// How deep one expression may be: operators chained (`- - - 1`, `a * b * c`) plus the
/// brackets and calls nested in it. Chains are flat in the text but deep in the tree that
/// validation, planning and the run walk recursively; in a debug build the type checker takes
/// about 14 kB of stack per level, so 100 levels fit the 2 MB of a spawned thread.
pub const MAX_EXPRESSION_DEPTH: usize = 100;

/// Parses one file of the source map.
pub fn parse(sources: &SourceMap, file: FileId) -> ParseResult<Ast> {
    let text = sources
        .get(file)
        .map(|f| f.text.as_str())
        .unwrap_or_default();
    parse_text(file, text, 0)
}

/// Parses `text`, which starts at byte `base` of file `file`: spans in the AST and in the
/// diagnostic point into the file.
fn parse_text(file: FileId, text: &str, base: usize) -> ParseResult<Ast> {
    let outline = Outline::of(text);
    if let Some(at) = outline.too_deep() {
        return Err(shifted(
            Diagnostic::error(
                code::TOO_DEEP,
                format!("brackets nest more than {MAX_NESTING} levels deep"),
            )
            .label(
                Span::new(file, at, at + 1),
                format!("level {} opens here", MAX_NESTING + 1),
            )
            .help(format!(
                "qdx reads at most {MAX_NESTING} levels of `{{`, `(` and `[`; flatten the structure"
            )),
            base,
        ));
    }
    let mut pairs = match parser::parse_pairs(text) {
        Ok(p) => p,
        Err(first) => {
            // Parse again with pest's detailed tracking, which also records the literal tokens
            // (`,`, `}`, `in`) expected at the furthest point; it costs time, so only on errors.
            pest::set_error_detail(true);
            let detailed = parser::parse_pairs(text).err();
            pest::set_error_detail(false);
            return Err(shifted(
                syntax_error(detailed.as_deref().unwrap_or(&first), file, text, &outline),
                base,
            ));
        }
    };
    let lower = Lower::new(file, text, base);
    match pairs.next() {
        Some(root) => lower.file(root),
        None => Err(Diagnostic::error(code::EMPTY, "empty parse")),
    }
}

/// `d` with the spans it labels moved `base` bytes further into their file.
fn shifted(mut d: Diagnostic, base: usize) -> Diagnostic {
    if base == 0 {
        return d;
    }
    for label in &mut d.labels {
        if let (Some(file), Some(range)) = (label.span.file(), label.span.range()) {
            label.span = Span::new(file, range.start + base, range.end + base);
        }
    }
    d
}

/// Parses one file and goes on past syntax errors, for editors: a file that does not parse is
/// cut into its top-level blocks ([`blocks`]), each parsed on its own, so one broken block
/// neither hides the errors of another nor the declarations of the rest. Returns the AST of
/// what parsed (every block when there is no error: then it is [`parse`]'s) and every block's
/// syntax error, in order. The partial AST is for an editor's outline, hover and navigation;
/// nothing validates it.
pub fn parse_recovering(sources: &SourceMap, file: FileId) -> (Ast, Vec<Diagnostic>) {
    let text = sources
        .get(file)
        .map(|f| f.text.as_str())
        .unwrap_or_default();
    if let Some(ast) = parse_quietly(file, text, 0) {
        return (ast, Vec::new());
    }
    let mut ast = Ast {
        file,
        header: None,
        items: Vec::new(),
        span: Span::new(file, 0, text.len()),
    };
    let mut errors = Vec::new();
    for (k, range) in blocks(text).into_iter().enumerate() {
        let Some(part) = text.get(range.clone()) else {
            continue;
        };
        // The error's wording costs a second, detailed parse: only for a block that fails.
        match parse_quietly(file, part, range.start)
            .ok_or(())
            .or_else(|()| parse_text(file, part, range.start))
        {
            Ok(parsed) => {
                if k == 0 {
                    ast.header = parsed.header;
                }
                ast.items.extend(parsed.items);
            }
            Err(d) => errors.push(d),
        }
    }
    if errors.is_empty() {
        // The blocks parse one by one but not together: the file's own error says why.
        errors.extend(parse_text(file, text, 0).err());
    }
    (ast, errors)
}

/// [`parse_text`]'s tree, or nothing when it has an error (without the work of wording it).
fn parse_quietly(file: FileId, text: &str, base: usize) -> Option<Ast> {
    if Outline::of(text).too_deep().is_some() {
        return None;
    }
    let root = parser::parse_pairs(text).ok()?.next()?;
    Lower::new(file, text, base).file(root).ok()
}

/// The words that open a top-level block (what [`blocks`] cuts a file at).
const BLOCK_WORDS: &[&str] = &[
    "campaign",
    "use",
    "kind",
    "builtin",
    "reference",
    "stocks",
    "reactor",
    "variables",
    "parameters",
    "derive",
    "constraints",
    "measure",
    "proxies",
    "objectives",
    "optimizer",
    "optimiser",
    "prior",
    "data",
    "safety",
    "simulate",
    "lab",
];

/// The byte ranges of a file's top-level blocks, in order and covering the whole text: the
/// first holds the header (and whatever comes before the first block). A block starts on a
/// line whose first word opens a block, when the brackets before it are balanced or, so that a
/// block left open does not swallow the rest of the file, when the word starts the line at its
/// first column (the canonical layout indents everything inside a block). Brackets, block
/// keywords and line starts inside comments and strings do not count.
pub fn blocks(text: &str) -> Vec<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    let mut starts = vec![0];
    let mut depth: i64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        if i == 0 || bytes.get(i - 1) == Some(&b'\n') {
            let indent = bytes
                .get(i..)
                .unwrap_or_default()
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t'))
                .count();
            let word: String = text
                .get(i + indent..)
                .unwrap_or("")
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if i > 0 && BLOCK_WORDS.contains(&word.as_str()) && (depth <= 0 || indent == 0) {
                starts.push(i);
                depth = 0;
            }
        }
        let rest = text.get(i..).unwrap_or("");
        let skip = if rest.starts_with("//") {
            rest.find('\n').unwrap_or(rest.len())
        } else if rest.starts_with("/*") {
            rest.get(2..)
                .and_then(|r| r.find("*/"))
                .map_or(rest.len(), |k| k + 4)
        } else if rest.starts_with("\"\"\"") {
            rest.get(3..)
                .and_then(|r| r.find("\"\"\""))
                .map_or(rest.len(), |k| k + 6)
        } else if rest.starts_with('"') {
            let mut j = 1;
            while let Some(&c) = bytes.get(i + j) {
                if c == b'\\' {
                    j += 2;
                    continue;
                }
                if c == b'"' {
                    j += 1;
                    break;
                }
                if c == b'\n' {
                    break;
                }
                j += 1;
            }
            j
        } else {
            match bytes.get(i) {
                Some(b'{' | b'(' | b'[') => depth += 1,
                Some(b'}' | b')' | b']') => depth -= 1,
                _ => {}
            }
            1
        };
        i += skip.max(1);
        // A skipped comment or string may end inside a character: step to the next boundary.
        while i < bytes.len() && !text.is_char_boundary(i) {
            i += 1;
        }
    }
    let mut ranges: Vec<std::ops::Range<usize>> = starts
        .windows(2)
        .filter_map(|w| Some(*w.first()?..*w.get(1)?))
        .collect();
    ranges.push(starts.last().copied().unwrap_or(0)..text.len());
    ranges
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
    Rule::kw_data,
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
const RESERVED: &[&str] = &["and", "or", "not", "in", "within", "true", "false"];

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
        "end of file".to_owned()
    } else if token.is_empty() {
        "a line break".to_owned()
    } else {
        format!("`{token}`")
    }
}

/// Makes an expected-list readable: no identifier characters, operators collapsed into "an
/// operator", tokens that only start a value dropped when a value is expected anyway.
fn tidy(names: Vec<String>) -> Vec<String> {
    const OPERATORS: &[&str] = &[
        "!=", "*", "+", "-", "/", "<", "<=", "==", ">", ">=", "^", "and", "or", "within",
    ];
    const VALUE_START: &[&str] = &["(", "[", "-", "\"", "not", "true", "false"];
    let wants_value = names
        .iter()
        .any(|n| n == "an expression" || n.starts_with("a value"));
    let names_have_props = names.iter().any(|n| n.starts_with("a property list"));
    let mut out: Vec<String> = Vec::new();
    let mut operator = false;
    for n in names {
        let token = n.strip_prefix('`').and_then(|t| t.strip_suffix('`'));
        if let Some(t) = token {
            if t == "_"
                || t == "."
                || (t.chars().count() == 1 && t.chars().all(char::is_alphanumeric))
            {
                continue;
            }
            if OPERATORS.contains(&t) {
                operator = true;
                continue;
            }
            if wants_value && VALUE_START.contains(&t) {
                continue;
            }
            if t == "\"" || (t == "{" && names_have_props) {
                continue;
            }
        }
        if n == "an operator" {
            operator = true;
            continue;
        }
        let n = if n == "an expression" {
            "a value".to_owned()
        } else {
            n
        };
        if !out.contains(&n) {
            out.push(n);
        }
    }
    if operator {
        out.push("an operator".to_owned());
    }
    out
}

/// The brackets of a text outside strings and comments, and a block comment left open: what
/// syntax errors and the nesting limit need, found in one pass that cannot fail.
#[derive(Debug, Default)]
struct Outline {
    /// Offsets and bytes of every `{ ( [ ] ) }`, in order.
    brackets: Vec<(usize, u8)>,
    /// Where a `/*` with no `*/` after it starts.
    open_comment: Option<usize>,
}

impl Outline {
    fn of(text: &str) -> Self {
        let mut outline = Outline::default();
        let bytes = text.as_bytes();
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            let rest = text.get(i..).unwrap_or("");
            if rest.starts_with("//") {
                i += rest.find('\n').unwrap_or(rest.len());
                continue;
            }
            if rest.starts_with("/*") {
                match rest.get(2..).and_then(|r| r.find("*/")) {
                    Some(k) => i += k + 4,
                    None => {
                        outline.open_comment = Some(i);
                        break;
                    }
                }
                continue;
            }
            if rest.starts_with("\"\"\"") {
                i += rest
                    .get(3..)
                    .and_then(|r| r.find("\"\"\""))
                    .map_or(rest.len(), |k| k + 6);
                continue;
            }
            match b {
                b'"' => {
                    let mut j = i + 1;
                    while let Some(&c) = bytes.get(j) {
                        if c == b'\\' {
                            j += 2;
                            continue;
                        }
                        if c == b'"' || c == b'\n' {
                            break;
                        }
                        j += 1;
                    }
                    i = j + 1;
                    continue;
                }
                b'{' | b'(' | b'[' | b'}' | b')' | b']' => outline.brackets.push((i, b)),
                _ => {}
            }
            i += 1;
        }
        outline
    }

    /// The bracket that opens one level more than [`MAX_NESTING`].
    fn too_deep(&self) -> Option<usize> {
        let mut depth = 0_usize;
        for &(at, b) in &self.brackets {
            if matches!(b, b'{' | b'(' | b'[') {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(at);
                }
            } else {
                depth = depth.saturating_sub(1);
            }
        }
        None
    }

    /// The last `{`, `(` or `[` left open.
    fn unclosed_delimiter(&self) -> Option<(usize, char)> {
        let mut stack: Vec<(usize, char)> = Vec::new();
        for &(at, b) in &self.brackets {
            if matches!(b, b'{' | b'(' | b'[') {
                stack.push((at, b as char));
            } else {
                stack.pop();
            }
        }
        stack.pop()
    }
}

/// The first string literal left open on its line, outside comments.
fn unclosed_string(text: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let code = line.split("//").next().unwrap_or("");
        let mut open: Option<usize> = None;
        let mut escaped = false;
        for (k, c) in code.char_indices() {
            match (c, open) {
                ('\\', Some(_)) if !escaped => {
                    escaped = true;
                    continue;
                }
                ('"', None) => open = Some(k),
                ('"', Some(_)) if !escaped => open = None,
                _ => {}
            }
            escaped = false;
        }
        if let Some(k) = open
            && !code.contains("\"\"\"")
        {
            return Some(offset + k);
        }
        offset += line.len();
    }
    None
}

fn syntax_error(
    err: &pest::error::Error<Rule>,
    file: FileId,
    text: &str,
    outline: &Outline,
) -> Diagnostic {
    let pest_at = match err.location {
        InputLocation::Pos(p) | InputLocation::Span((p, _)) => p,
    };
    let string_at = unclosed_string(text);
    // Everything after an open `/*` is comment, so an error found there is the comment's doing;
    // a string left open before it is reported first, as the comment may lie inside it.
    if let Some(at) = outline.open_comment
        && at <= pest_at.max(err.parse_attempts().map_or(0, |a| a.max_position))
        && string_at.is_none_or(|s| s > at)
    {
        return Diagnostic::error(code::UNCLOSED_COMMENT, "this comment is not closed")
            .label(
                Span::new(file, at, at + 2),
                "the comment starts here and runs to the end of the file",
            )
            .help("add `*/` where the comment should end");
    }
    if let Some(at) = string_at {
        let line_end = text
            .get(at..)
            .and_then(|r| r.find('\n'))
            .map_or(text.len(), |k| at + k);
        return Diagnostic::error(code::UNCLOSED_STRING, "this string is not closed")
            .label(
                Span::new(file, at, line_end),
                "the string starts here and runs to the end of the line",
            )
            .help("add the closing `\"`; a string stays on one line (use `\\n` for a line break)");
    }
    let (pest_start, pest_end) = match err.location {
        InputLocation::Pos(p) => (p, p),
        InputLocation::Span((s, e)) => (s, e),
    };
    let positives: Vec<Rule> = match &err.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let mut start = pest_start;
    let mut end = pest_end;
    let mut names: Vec<String> = expected_names(&positives)
        .into_iter()
        .map(str::to_owned)
        .collect();
    if let Some(attempts) = err.parse_attempts()
        && attempts.max_position >= pest_start
    {
        if attempts.max_position > pest_start {
            // The detailed tracking got further: report what was expected there.
            start = attempts.max_position;
            end = start;
            let rules: Vec<Rule> = attempts
                .call_stacks()
                .iter()
                .filter_map(|c| c.deepest.get_rule().copied())
                .filter(|r| !matches!(r, Rule::WHITESPACE | Rule::COMMENT | Rule::EOI))
                .collect();
            names = expected_names(&rules)
                .into_iter()
                .map(str::to_owned)
                .collect();
        }
        // Literal tokens (`,`, `}`, `in`); pest does not export their type, so go by their text.
        for token in attempts.expected_tokens() {
            let shown = token.to_string();
            let t = shown.trim();
            if t.is_empty()
                || t.contains("..")
                || t == "BUILTIN_RULE"
                || matches!(t, "//" | "/*" | "*/")
            {
                continue;
            }
            let shown = format!("`{t}`");
            if !names.contains(&shown) {
                names.push(shown);
            }
        }
    }
    let names = tidy(names);
    let list: Vec<&str> = names.iter().map(String::as_str).collect();
    // Skip whitespace so the report points at the next token.
    let skipped = text
        .get(start..)
        .map_or(0, |r| r.len() - r.trim_start().len());
    start += skipped;
    end = end.max(start);
    if text.get(start..).is_none_or(str::is_empty) {
        let trimmed = text.trim_end().len();
        let last = trimmed.saturating_sub(
            text.get(..trimmed)
                .and_then(|t| t.chars().last())
                .map_or(0, char::len_utf8),
        );
        let mut d = Diagnostic::error(code::UNEXPECTED_END, "the file ends too early");
        if let Some((at, open)) = outline.unclosed_delimiter() {
            let close = match open {
                '{' => '}',
                '(' => ')',
                _ => ']',
            };
            d = d
                .label(
                    Span::new(file, at, at + 1),
                    format!("this `{open}` is never closed"),
                )
                .label(
                    Span::new(file, last, trimmed),
                    format!("expected `{close}` after this"),
                )
                .help(format!("add the missing `{close}`"));
        } else {
            d = d
                .label(
                    Span::new(file, last, trimmed),
                    format!("expected {} after this", join_or(&list)),
                )
                .help("a line is not finished");
        }
        return d;
    }
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
    let diag = Diagnostic::error(code::UNEXPECTED, format!("unexpected {found}"))
        .label(span, format!("expected {}", join_or(&list)));
    let hinted = with_hint(diag.clone(), &positives, text, pest_start);
    if hinted.help.is_some() {
        hinted
    } else {
        with_hint(diag, &positives, text, start)
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
    if let Some(c) = rest
        .chars()
        .next()
        .filter(|c| !c.is_ascii() && c.is_alphanumeric())
    {
        return diag.help(format!(
            "`{c}` is not an ASCII letter: names are made of ASCII letters, digits and `_`; text in \
             any script belongs in strings and comments"
        ));
    }
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
