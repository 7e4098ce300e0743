//! Diagnostics from every stage, and how they are rendered.
//!
//! A [`Diagnostic`] is plain data: a code (`qdx::validate::unit_mismatch`), a message, labelled
//! spans, a help line and notes. Stages build them from spans (helpers return plain errors and
//! the caller attaches the span), so semantic errors render exactly like syntax errors.
//! Rendering goes through miette, with a fixed theme and width when asked (for snapshots).

use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use serde::Serialize;

use crate::source::{SourceMap, Span};

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

/// One message for the user.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    /// The first label is the primary one: it decides the file the diagnostic is shown in.
    pub labels: Vec<Label>,
    pub help: Option<String>,
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            labels: Vec::new(),
            help: None,
            notes: Vec::new(),
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
        self.notes.push(note.into());
        self
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
    source: Option<NamedSource<String>>,
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

fn to_source_span(span: Span) -> Option<SourceSpan> {
    let range = span.range()?;
    Some(SourceSpan::new(range.start.into(), range.len()))
}

fn named_source(sources: &SourceMap, span: Span) -> Option<NamedSource<String>> {
    let file = sources.get(span.file()?)?;
    Some(NamedSource::new(file.name.clone(), file.text.clone()).with_language("qdx"))
}

/// Secondary labels further than this many lines from the primary one are drawn as separate
/// notes, so a report does not reprint the whole file between them.
const NEARBY_LINES: usize = 6;

fn line_of(sources: &SourceMap, span: Span) -> Option<usize> {
    let file = sources.get(span.file()?)?;
    Some(file.line_col(span.range()?.start).0)
}

fn bind(d: &Diagnostic, sources: &SourceMap) -> Rendered {
    let primary_file = d.primary_span().and_then(|s| s.file());
    let primary_line = d.primary_span().and_then(|s| line_of(sources, s));
    let mut labels = Vec::new();
    let mut related = Vec::new();
    for (i, label) in d.labels.iter().enumerate() {
        let Some(span) = to_source_span(label.span) else {
            continue;
        };
        let near = match (primary_line, line_of(sources, label.span)) {
            (Some(p), Some(l)) => p.abs_diff(l) <= NEARBY_LINES,
            _ => true,
        };
        if label.span.file() == primary_file && (i == 0 || near) {
            let labeled = if i == 0 {
                LabeledSpan::new_primary_with_span(label.message.clone(), span)
            } else {
                LabeledSpan::new_with_span(label.message.clone(), span)
            };
            labels.push(labeled);
        } else {
            // A label in another file (an imported kind, the stdlib) becomes a related note
            // rendered against that file.
            related.push(Rendered {
                message: label
                    .message
                    .clone()
                    .unwrap_or_else(|| "related location".to_owned()),
                code: d.code,
                severity: miette::Severity::Advice,
                help: None,
                source: named_source(sources, label.span),
                labels: vec![LabeledSpan::new_with_span(None, span)],
                related: Vec::new(),
            });
        }
    }
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
        source: d.primary_span().and_then(|s| named_source(sources, s)),
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
pub fn render_all(diags: &Diagnostics, sources: &SourceMap, style: Style) -> String {
    diags
        .iter()
        .map(|d| render(d, sources, style))
        .collect::<Vec<_>>()
        .join("\n")
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
        notes: d.notes.clone(),
    }
}
