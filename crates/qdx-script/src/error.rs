//! Script errors: a kind, a chemist-readable message, and where in the script it happened.
//!
//! Invariants: `position`, when present, points inside the script source (`line`/`column` are
//! 1-based and count characters like rhai does; `offset` is the byte offset of that character
//! inside the script source, never past its end). `ScriptOrigin` tells how to map that into the
//! campaign: an inline script adds its start offset, a file script stands alone.

use std::fmt;

use thiserror::Error;

/// Where a script's source text came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ScriptOrigin {
    /// A separate file (`script "proxies/score.rhai"`), as the campaign names it.
    File(String),
    /// Inline in a campaign file, starting at this byte offset of that file.
    Inline {
        /// Byte offset of the script's first character in the campaign file.
        offset: usize,
    },
}

impl fmt::Display for ScriptOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScriptOrigin::File(path) => f.write_str(path),
            ScriptOrigin::Inline { offset } => write!(f, "inline script at byte {offset}"),
        }
    }
}

/// A location inside a script's source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScriptPosition {
    /// 1-based line.
    pub line: usize,
    /// 1-based column in characters.
    pub column: usize,
    /// Byte offset inside the script source.
    pub offset: usize,
}

/// What kind of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScriptErrorKind {
    /// The script does not parse.
    Syntax,
    /// It parsed but failed while running (unknown function or variable, type error, integer
    /// overflow, `throw`, index out of bounds, ...).
    Runtime,
    /// It ran out of its operation budget (an endless loop, or far too much work).
    TooManyOperations,
    /// It ran past its wall-clock deadline (operations that are each slow, e.g. splitting a
    /// long string again and again).
    TooSlow,
    /// All its values together grew past its memory budget.
    TooMuchMemory,
    /// It was interrupted from outside (Ctrl-C).
    Interrupted,
    /// Calls or expressions nested too deeply (runaway recursion).
    TooDeep,
    /// A string, array or map grew past its limit, or too many variables or functions.
    TooLarge,
    /// It called `data(name)` with a name the campaign declares no data file as.
    UnknownData,
    /// It used something the sandbox forbids (`eval`, `import`, `export`, ...).
    Forbidden,
    /// It ran, but its result has the wrong type: a string, an array, true/false, nothing, a
    /// map where a number is expected, a map holding something else than numbers, an empty map.
    WrongType,
    /// It ran and returned a number, but not a usable one (NaN, infinite).
    WrongOutput,
}

/// A script failure, located in the script source.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct ScriptError {
    /// What kind of failure.
    pub kind: ScriptErrorKind,
    /// A message a chemist understands (no rhai internals).
    pub message: String,
    /// Where in the script, when known.
    pub position: Option<ScriptPosition>,
    /// Where the script came from.
    pub origin: ScriptOrigin,
}

impl ScriptError {
    /// Byte offset of the error in the campaign file for an inline script; for a script file,
    /// the offset inside that file.
    #[must_use]
    pub fn source_offset(&self) -> Option<usize> {
        let p = self.position?;
        match self.origin {
            ScriptOrigin::Inline { offset } => offset.checked_add(p.offset),
            ScriptOrigin::File(_) => Some(p.offset),
        }
    }

    /// `"message (origin:line:column)"`, for logs and tests; diagnostics use the fields.
    #[must_use]
    pub fn located(&self) -> String {
        match self.position {
            Some(p) => format!("{} ({}:{}:{})", self.message, self.origin, p.line, p.column),
            None => format!("{} ({})", self.message, self.origin),
        }
    }
}

/// Converts rhai's line/column to a position with a byte offset into `source`.
pub(crate) fn locate(source: &str, line: usize, column: usize) -> ScriptPosition {
    let mut line_start = 0;
    // Walk to the start of the requested line; stop at the end if it is past the last line.
    for _ in 1..line {
        match source.get(line_start..).and_then(|rest| rest.find('\n')) {
            Some(i) => line_start += i + 1,
            None => break,
        }
    }
    let line_text = source
        .get(line_start..)
        .map_or("", |rest| rest.split('\n').next().unwrap_or(""));
    let within = line_text
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(line_text.len(), |(i, _)| i);
    ScriptPosition {
        line,
        column,
        offset: (line_start + within).min(source.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_become_byte_offsets() {
        let src = "let a = 1;\nlet µ = 2;\n  x";
        assert_eq!(locate(src, 1, 1).offset, 0);
        assert_eq!(locate(src, 2, 1).offset, 11);
        // `=` after the two-byte `µ`.
        assert_eq!(locate(src, 2, 7).offset, 11 + 7);
        assert_eq!(&src[locate(src, 3, 3).offset..], "x");
        // Past the end of the text is clamped, never out of range.
        assert_eq!(locate(src, 9, 9).offset, src.len());
        assert_eq!(locate("", 1, 1).offset, 0);
    }

    #[test]
    fn inline_scripts_shift_by_their_start() {
        let e = ScriptError {
            kind: ScriptErrorKind::Runtime,
            message: "boom".into(),
            position: Some(ScriptPosition {
                line: 2,
                column: 3,
                offset: 14,
            }),
            origin: ScriptOrigin::Inline { offset: 100 },
        };
        assert_eq!(e.source_offset(), Some(114));
        assert_eq!(e.located(), "boom (inline script at byte 100:2:3)");
        let f = ScriptError {
            origin: ScriptOrigin::File("score.rhai".into()),
            ..e
        };
        assert_eq!(f.source_offset(), Some(14));
        assert_eq!(f.located(), "boom (score.rhai:2:3)");
    }
}
