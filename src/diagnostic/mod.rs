//! Diagnostics from every stage, and how they are rendered.
//!
//! A [`Diagnostic`] is plain data: a code from the catalog in [`codes`]
//! (`codes::validate::UNIT_MISMATCH`, that is `qdx::validate::unit_mismatch`), a message, labelled
//! spans, a help line and notes. Stages build them from spans (helpers return plain errors and
//! the caller attaches the span), so semantic errors render exactly like syntax errors.
//! Rendering goes through miette, with a fixed theme and width when asked (for snapshots).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceSpan};
use serde::Serialize;

use crate::source::{FileId, SourceFile, SourceMap, Span};

pub mod codes;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Error,
}

/// A labelled place in the sources.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub span: Span,
    pub message: Option<String>,
}

/// A change that resolves a diagnostic: the text at `span` replaced by `replacement` (a
/// language server offers it as a quick fix; the help line says the same in words).
#[derive(Debug, Clone, PartialEq)]
pub struct Fix {
    pub span: Span,
    pub replacement: String,
}

/// One message for the user.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    // Fields are in size order so that it packs under 128 bytes (see `notes`).
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    /// The first label is the primary one: it decides the file the diagnostic is shown in.
    pub labels: Vec<Label>,
    pub help: Option<String>,
    /// A boxed slice rather than a `Vec`, like `fix`: a diagnostic is returned by value
    /// everywhere, and stays under 128 bytes.
    pub notes: Box<[String]>,
    /// A change that resolves it, when one is certain enough to offer (a misspelt name or
    /// unit); boxed, so that a diagnostic stays small enough to return by value.
    pub fix: Option<Box<Fix>>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            labels: Vec::new(),
            help: None,
            notes: Box::default(),
            fix: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    /// Adds a label; the first one added is the primary location.
    pub fn label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: Some(message.into()),
        });
        self
    }

    /// Adds a label with no text.
    pub fn at(mut self, span: Span) -> Self {
        self.labels.push(Label {
            span,
            message: None,
        });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        let mut notes = std::mem::take(&mut self.notes).into_vec();
        notes.push(note.into());
        self.notes = notes.into_boxed_slice();
        self
    }

    /// Offers replacing the text at `span` by `replacement` (see [`Fix`]).
    pub fn fix(mut self, span: Span, replacement: impl Into<String>) -> Self {
        self.fix = Some(Box::new(Fix {
            span,
            replacement: replacement.into(),
        }));
        self
    }

    /// "did you mean `suggestion`?", with the fix that writes it in place of the text at
    /// `span` (the misspelt name or unit).
    pub fn did_you_mean(self, span: Span, suggestion: &str) -> Self {
        self.help(format!("did you mean `{suggestion}`?"))
            .fix(span, suggestion)
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    pub fn primary_span(&self) -> Option<Span> {
        self.labels.first().map(|l| l.span)
    }
}

/// Diagnostics in the order they were found, errors and warnings mixed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.0.extend(other);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.0.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.0.len() - self.error_count()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sorts by file and position, errors before warnings at the same place, so output does
    /// not depend on the order checks ran in.
    pub fn sort(&mut self) {
        self.0.sort_by_key(|d| {
            let (file, start) = d
                .primary_span()
                .and_then(|s| Some((s.file()?.index(), s.range()?.start)))
                .unwrap_or((usize::MAX, usize::MAX));
            (file, start, std::cmp::Reverse(d.severity))
        });
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// A diagnostic bound to its source, in the form miette renders.
#[derive(Debug)]
struct Rendered {
    message: String,
    code: &'static str,
    severity: miette::Severity,
    help: Option<String>,
    source: Option<Excerpt>,
    labels: Vec<LabeledSpan>,
    related: Vec<Rendered>,
}

impl fmt::Display for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rendered {}

impl miette::Diagnostic for Rendered {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h.as_str()) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(
                self.related.iter().map(|r| r as &dyn miette::Diagnostic),
            ))
        }
    }
}

/// Lines longer than this many bytes are cut around the labels on them.
const LONG_LINE: usize = 1000;
/// Bytes kept on either side of the labels of a cut line.
const CUT_MARGIN: usize = 60;
/// Bytes kept at most of a cut line.
const CUT_WINDOW: usize = 400;
/// Lines kept around the labels; miette shows one.
const EXCERPT_CONTEXT: usize = 2;
/// What stands for the cut part of a line.
const ELLIPSIS: &str = "…";

/// The lines of one file around a diagnostic's labels, as miette is given them.
///
/// miette reads its source from the first byte for every label it draws, which made a file with
/// one warning per line quadratic to report, and it pads underlines with a `{:width$}` format,
/// which panics past column 65 535. So it gets only the lines it shows, with very long lines
/// cut around the labels, and this type tells it where they sit in the file: line numbers and
/// the column in the header are those of the file.
#[derive(Debug)]
struct Excerpt {
    name: String,
    text: String,
    /// 0-based line in the file of the excerpt's first line.
    first_line: usize,
    /// File byte offset of the start of each excerpt line.
    line_starts: Vec<usize>,
    /// The parts of the file kept, in order.
    pieces: Vec<Piece>,
}

/// A run of file bytes copied into an excerpt.
#[derive(Debug, Clone, Copy)]
struct Piece {
    /// File byte offset of the first byte.
    file: usize,
    /// Its offset in the excerpt.
    at: usize,
    len: usize,
}

/// The largest char boundary of `text` at or below `i`.
fn floor_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl Excerpt {
    /// The lines of `file` that `ranges` (file byte ranges) touch, with some context.
    fn new(file: &SourceFile, ranges: &[Range<usize>]) -> Self {
        let text = file.text.as_str();
        let lines = file.line_starts().len();
        let first = ranges
            .iter()
            .map(|r| file.line_index(r.start))
            .min()
            .unwrap_or(0)
            .saturating_sub(EXCERPT_CONTEXT);
        let last = ranges
            .iter()
            .map(|r| file.line_index(r.end.max(r.start)))
            .max()
            .unwrap_or(0)
            .saturating_add(EXCERPT_CONTEXT)
            .min(lines.saturating_sub(1));
        let mut excerpt = Excerpt {
            name: file.name.clone(),
            text: String::new(),
            first_line: first,
            line_starts: Vec::new(),
            pieces: Vec::new(),
        };
        for line in first..=last {
            let whole = file.line_range(line);
            excerpt.line_starts.push(whole.start);
            let content_end = if text.get(whole.clone()).is_some_and(|l| l.ends_with('\n')) {
                whole.end - 1
            } else {
                whole.end
            };
            if content_end - whole.start <= LONG_LINE {
                excerpt.keep(text, whole.start, whole.end);
                continue;
            }
            // Cut the line around the label ends that fall on it.
            let points = ranges
                .iter()
                .flat_map(|r| [r.start, r.end])
                .filter(|p| (whole.start..=content_end).contains(p));
            let (lo, hi) = points.fold(
                (None, None),
                |(lo, hi): (Option<usize>, Option<usize>), p| {
                    (
                        Some(lo.map_or(p, |l| l.min(p))),
                        Some(hi.map_or(p, |h| h.max(p))),
                    )
                },
            );
            let from = lo.map_or(whole.start, |l| {
                l.saturating_sub(CUT_MARGIN).max(whole.start)
            });
            let to = hi
                .map_or(from, |h| h.saturating_add(CUT_MARGIN))
                .min(from + CUT_WINDOW)
                .max(from + CUT_MARGIN)
                .min(content_end);
            let (from, to) = (floor_boundary(text, from), floor_boundary(text, to));
            if from > whole.start {
                excerpt.text.push_str(ELLIPSIS);
            }
            excerpt.keep(text, from, to);
            if to < content_end {
                excerpt.text.push_str(ELLIPSIS);
            }
            excerpt.keep(text, content_end, whole.end);
        }
        excerpt
    }

    fn keep(&mut self, text: &str, from: usize, to: usize) {
        if let Some(part) = text.get(from..to) {
            self.pieces.push(Piece {
                file: from,
                at: self.text.len(),
                len: part.len(),
            });
            self.text.push_str(part);
        }
    }

    /// Where a file offset is in the excerpt; an offset in a cut part goes to its edge.
    fn to_excerpt(&self, offset: usize) -> usize {
        let i = self.pieces.partition_point(|p| p.file <= offset);
        match i.checked_sub(1).and_then(|k| self.pieces.get(k)) {
            Some(p) => p.at + (offset - p.file).min(p.len),
            None => 0,
        }
    }

    /// Where an excerpt offset is in the file.
    fn to_file(&self, offset: usize) -> usize {
        let i = self.pieces.partition_point(|p| p.at <= offset);
        match i.checked_sub(1).and_then(|k| self.pieces.get(k)) {
            Some(p) => p.file + (offset - p.at).min(p.len),
            None => self.line_starts.first().copied().unwrap_or(0),
        }
    }

    /// A file byte range as a span of the excerpt.
    fn span(&self, range: &Range<usize>) -> SourceSpan {
        let start = self.to_excerpt(range.start);
        let end = self.to_excerpt(range.end).max(start);
        SourceSpan::new(start.into(), end - start)
    }
}

impl miette::SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let inner =
            self.text
                .as_str()
                .read_span(span, context_lines_before, context_lines_after)?;
        let line = inner.line();
        // miette counts columns in bytes from the line start; count them in the file.
        let column = if context_lines_before == 0 {
            let start = self.line_starts.get(line).copied().unwrap_or(0);
            self.to_file(span.offset()).saturating_sub(start)
        } else {
            inner.column()
        };
        // miette's line count runs from the start of the source: add the lines left out.
        Ok(Box::new(
            miette::MietteSpanContents::new_named(
                self.name.clone(),
                inner.data(),
                *inner.span(),
                line + self.first_line,
                column,
                inner.line_count() + self.first_line,
            )
            .with_language("qdx"),
        ))
    }
}

/// The excerpt of `file` for the labels at `ranges`, with the labels as spans of it.
fn excerpt(
    sources: &SourceMap,
    file: FileId,
    ranges: &[Range<usize>],
) -> Option<(Excerpt, Vec<SourceSpan>)> {
    let file = sources.get(file)?;
    let excerpt = Excerpt::new(file, ranges);
    let spans = ranges.iter().map(|r| excerpt.span(r)).collect();
    Some((excerpt, spans))
}

/// How many bytes of source rendering `d` hands to miette for its primary location: the work
/// of drawing it, which must not grow with the size of the file.
pub fn excerpt_len(d: &Diagnostic, sources: &SourceMap) -> usize {
    bind(d, sources).source.map_or(0, |s| s.text.len())
}

/// Secondary labels further than this many lines from the primary one are drawn as separate
/// notes, so a report does not reprint the whole file between them.
const NEARBY_LINES: usize = 6;

fn line_of(sources: &SourceMap, span: Span) -> Option<usize> {
    let file = sources.get(span.file()?)?;
    Some(file.line_index(span.range()?.start))
}

fn bind(d: &Diagnostic, sources: &SourceMap) -> Rendered {
    let primary_file = d.primary_span().and_then(|s| s.file());
    let primary_line = d.primary_span().and_then(|s| line_of(sources, s));
    // Labels drawn on the primary file: (range, message, primary?).
    let mut here: Vec<(Range<usize>, Option<String>, bool)> = Vec::new();
    let mut related = Vec::new();
    for (i, label) in d.labels.iter().enumerate() {
        let Some(range) = label.span.range() else {
            continue;
        };
        let near = match (primary_line, line_of(sources, label.span)) {
            (Some(p), Some(l)) => p.abs_diff(l) <= NEARBY_LINES,
            _ => true,
        };
        if label.span.file() == primary_file && (i == 0 || near) {
            here.push((range, label.message.clone(), i == 0));
        } else {
            // A label in another file (an imported kind, the stdlib) becomes a related note
            // rendered against that file.
            let bound = label
                .span
                .file()
                .and_then(|f| excerpt(sources, f, std::slice::from_ref(&range)));
            let (source, labels) = match bound {
                Some((source, spans)) => (
                    Some(source),
                    spans
                        .into_iter()
                        .map(|s| LabeledSpan::new_with_span(None, s))
                        .collect(),
                ),
                None => (None, Vec::new()),
            };
            related.push(Rendered {
                message: label
                    .message
                    .clone()
                    .unwrap_or_else(|| "related location".to_owned()),
                code: d.code,
                severity: miette::Severity::Advice,
                help: None,
                source,
                labels,
                related: Vec::new(),
            });
        }
    }
    let ranges: Vec<Range<usize>> = here.iter().map(|(r, _, _)| r.clone()).collect();
    let bound = primary_file
        .filter(|_| !ranges.is_empty())
        .and_then(|f| excerpt(sources, f, &ranges));
    let (source, labels) = match bound {
        Some((source, spans)) => {
            let labels = here
                .into_iter()
                .zip(spans)
                .map(|((_, message, primary), span)| {
                    if primary {
                        LabeledSpan::new_primary_with_span(message, span)
                    } else {
                        LabeledSpan::new_with_span(message, span)
                    }
                })
                .collect();
            (Some(source), labels)
        }
        _ => (None, Vec::new()),
    };
    let mut help = d.help.clone();
    if !d.notes.is_empty() {
        let notes = d
            .notes
            .iter()
            .map(|n| format!("note: {n}"))
            .collect::<Vec<_>>()
            .join("\n");
        help = Some(match help {
            Some(h) => format!("{h}\n{notes}"),
            None => notes,
        });
    }
    Rendered {
        message: d.message.clone(),
        code: d.code,
        severity: match d.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        },
        help,
        source,
        labels,
        related,
    }
}

/// How diagnostics are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Colours and the terminal's width.
    Terminal { width: usize, color: bool },
    /// No colour, 80 columns, unicode frames: stable text for snapshots.
    Plain,
}

/// Renders one diagnostic with its source.
pub fn render(d: &Diagnostic, sources: &SourceMap, style: Style) -> String {
    let handler = match style {
        Style::Plain => GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
            .with_width(80)
            .with_links(false),
        Style::Terminal { width, color } => {
            let theme = if color {
                GraphicalTheme::unicode()
            } else {
                GraphicalTheme::unicode_nocolor()
            };
            GraphicalReportHandler::new_themed(theme)
                .with_width(width)
                .with_links(false)
        }
    };
    let rendered = bind(d, sources);
    let mut out = String::new();
    if handler.render_report(&mut out, &rendered).is_err() {
        out = format!("{}: {}\n", d.code, d.message);
    }
    out
}

/// Renders all diagnostics, one after another.
/// Warnings of one code shown in full before the rest are folded into one line: a file with
/// 100 000 unused variables must not print 55 MB of the same warning. Errors are never folded,
/// and `--format json` keeps every diagnostic.
pub const WARNINGS_SHOWN_PER_CODE: usize = 3;

pub fn render_all(diags: &Diagnostics, sources: &SourceMap, style: Style) -> String {
    // Per code: how many warnings were seen, and the locations of the first and last folded.
    let mut seen: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut folded: BTreeMap<&'static str, (usize, Option<String>, Option<String>)> =
        BTreeMap::new();
    let mut shown = Vec::new();
    for d in diags.iter() {
        if !d.is_error() {
            let n = seen.entry(d.code).or_default();
            *n += 1;
            if *n > WARNINGS_SHOWN_PER_CODE {
                let at = location(d, sources);
                let f = folded.entry(d.code).or_insert((0, at.clone(), None));
                f.0 += 1;
                f.2 = at;
                continue;
            }
        }
        shown.push(render(d, sources, style));
    }
    for (code, (n, first, last)) in folded {
        let span = match (first, last) {
            (Some(a), Some(b)) if a != b => format!(", from {a} to {b}"),
            (Some(a), _) => format!(", at {a}"),
            _ => String::new(),
        };
        let plural = if n == 1 { "" } else { "s" };
        shown.push(format!(
            "{code}\n\n  ⚠ {n} more warning{plural} like the ones above{span}\n  help: `qdx check --format json` lists every one\n"
        ));
    }
    shown.join("\n")
}

/// `file:line` of a diagnostic's primary label.
fn location(d: &Diagnostic, sources: &SourceMap) -> Option<String> {
    let at = json_label(d.primary_span()?, None, sources);
    Some(format!("{}:{}", at.file?, at.line?))
}

/// The machine-readable form of a diagnostic (`qdx check --format json`).
#[derive(Debug, Clone, Serialize)]
pub struct JsonDiagnostic {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub start: Option<usize>,
    pub end: Option<usize>,
    pub labels: Vec<JsonLabel>,
    pub help: Option<String>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JsonLabel {
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub start: Option<usize>,
    pub end: Option<usize>,
    pub message: Option<String>,
}

fn json_label(span: Span, message: Option<String>, sources: &SourceMap) -> JsonLabel {
    let file = span.file().and_then(|f| sources.get(f));
    let range = span.range();
    let (line, column) = match (file, &range) {
        (Some(f), Some(r)) => {
            let (l, c) = f.line_col(r.start);
            (Some(l), Some(c))
        }
        _ => (None, None),
    };
    JsonLabel {
        file: file.map(|f| f.name.clone()),
        line,
        column,
        start: range.as_ref().map(|r| r.start),
        end: range.as_ref().map(|r| r.end),
        message,
    }
}

pub fn to_json(d: &Diagnostic, sources: &SourceMap) -> JsonDiagnostic {
    let primary = d
        .primary_span()
        .map(|s| json_label(s, None, sources))
        .unwrap_or(JsonLabel {
            file: None,
            line: None,
            column: None,
            start: None,
            end: None,
            message: None,
        });
    JsonDiagnostic {
        severity: d.severity,
        code: d.code,
        message: d.message.clone(),
        file: primary.file,
        line: primary.line,
        column: primary.column,
        start: primary.start,
        end: primary.end,
        labels: d
            .labels
            .iter()
            .map(|l| json_label(l.span, l.message.clone(), sources))
            .collect(),
        help: d.help.clone(),
        notes: d.notes.to_vec(),
    }
}
