//! Finding comments in source text.
//!
//! The grammar skips comments, so the AST has none: the formatter scans the text for them.
//! The scanner knows the only tokens that can hide a `//` or `/*`, string literals and the
//! `"""` raw strings of inline scripts, and otherwise follows the grammar's rules exactly: a
//! line comment runs to the end of its line (the newline is not part of it), a block comment
//! runs to the first `*/` (they do not nest).
//!
//! Invariant: the comments returned are sorted, do not overlap, and each slice
//! `source[start..end]` is exactly the comment's text (both ends lie on char boundaries,
//! because every delimiter is ASCII).

use std::collections::BTreeSet;

/// Line (`// …`) or block (`/* … */`) comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentKind {
    Line,
    Block,
}

/// One comment found in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// Byte offset of the first `/`.
    pub start: usize,
    /// Byte offset just past the comment (past `*/`, or at the newline ending a line comment).
    pub end: usize,
    pub kind: CommentKind,
    /// Only whitespace stands between the start of its line and the comment.
    pub own_line: bool,
    /// The comment as written.
    pub text: String,
}

impl Comment {
    /// The text the formatter prints: trailing whitespace removed from every line of the
    /// comment (a formatted file never ends a line with spaces), everything else as written.
    pub fn printed(&self) -> String {
        self.text
            .split('\n')
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// All comments of `source`, in order.
///
/// `raw_openers` are the byte offsets of the `"""` that open inline scripts (known from the
/// AST). A `"""` anywhere else is an empty string followed by a quote, as the grammar reads
/// it, since raw strings are only allowed after `script` in a proxy.
pub fn scan(source: &str, raw_openers: &BTreeSet<usize>) -> Vec<Comment> {
    let bytes = source.as_bytes();
    let at = |i: usize| bytes.get(i).copied();
    let mut comments = Vec::new();
    let mut i = 0;
    while let Some(b) = at(i) {
        match b {
            b'"' if raw_openers.contains(&i) => {
                let body = i + 3;
                i = match source.get(body..).and_then(|rest| rest.find("\"\"\"")) {
                    Some(close) => body + close + 3,
                    None => bytes.len(),
                };
            }
            b'"' => {
                i += 1;
                while let Some(c) = at(i) {
                    match c {
                        b'\\' => i += 2,
                        b'"' => {
                            i += 1;
                            break;
                        }
                        // An unterminated string: the grammar ends it at the newline (and
                        // rejects the file); resume scanning there.
                        b'\n' => break,
                        _ => i += 1,
                    }
                }
            }
            b'/' if at(i + 1) == Some(b'/') => {
                let end = source
                    .get(i..)
                    .and_then(|rest| rest.find('\n'))
                    .map_or(bytes.len(), |n| i + n);
                comments.push(comment(source, i, end, CommentKind::Line));
                i = end;
            }
            b'/' if at(i + 1) == Some(b'*') => {
                let end = source
                    .get(i + 2..)
                    .and_then(|rest| rest.find("*/"))
                    .map_or(bytes.len(), |n| i + 2 + n + 2);
                comments.push(comment(source, i, end, CommentKind::Block));
                i = end;
            }
            _ => i += 1,
        }
    }
    comments
}

fn comment(source: &str, start: usize, end: usize, kind: CommentKind) -> Comment {
    let line_start = source
        .get(..start)
        .and_then(|before| before.rfind('\n'))
        .map_or(0, |n| n + 1);
    let own_line = source
        .get(line_start..start)
        .is_some_and(|lead| lead.chars().all(|c| c == ' ' || c == '\t' || c == '\r'));
    Comment {
        start,
        end,
        kind,
        own_line,
        text: source.get(start..end).unwrap_or_default().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(source: &str) -> Vec<String> {
        scan(source, &BTreeSet::new())
            .into_iter()
            .map(|c| c.text)
            .collect()
    }

    #[test]
    fn finds_line_and_block_comments() {
        let src = "a 1 // one\n/* two\n */ b 2 // three";
        assert_eq!(texts(src), ["// one", "/* two\n */", "// three"]);
        let c = scan(src, &BTreeSet::new());
        assert!(!c[0].own_line);
        assert!(c[1].own_line);
        assert_eq!(c[0].kind, CommentKind::Line);
        assert_eq!(c[1].kind, CommentKind::Block);
        assert_eq!(&src[c[2].start..c[2].end], "// three");
    }

    #[test]
    fn comment_markers_inside_strings_are_text() {
        let src = r#"a "http://x/*y*/" // real
b "esc\"aped // still string" /* real too */"#;
        assert_eq!(texts(src), ["// real", "/* real too */"]);
    }

    #[test]
    fn quotes_inside_comments_do_not_open_strings() {
        let src = "// a \"quote\nx /* \" */ y // end";
        assert_eq!(texts(src), ["// a \"quote", "/* \" */", "// end"]);
    }

    #[test]
    fn raw_strings_hide_comment_markers_only_where_the_ast_has_them() {
        let src = "s = script \"\"\"\n// not a comment\n\"\"\" // yes";
        let opener = src.find("\"\"\"").unwrap();
        let found = scan(src, &BTreeSet::from([opener]));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].text, "// yes");
        // Without the AST's word, `"""` reads as `""` then `"`: the text stays a string until
        // the line ends, so the next line's `//` is a comment and the last one is in a string.
        let plain = scan(src, &BTreeSet::new());
        assert_eq!(plain.len(), 1);
        assert_eq!(plain[0].text, "// not a comment");
    }

    #[test]
    fn unit_slash_before_comment() {
        assert_eq!(texts("x 10 mL//c\ny 5 mL/*d*/"), ["//c", "/*d*/"]);
    }

    #[test]
    fn unterminated_block_comment_runs_to_the_end() {
        let found = scan("a /* open", &BTreeSet::new());
        assert_eq!(found[0].text, "/* open");
        assert_eq!(found[0].end, 9);
    }

    #[test]
    fn printed_drops_trailing_spaces_on_every_line() {
        let c = &scan("/* a  \n  b \t*/ // x  \r", &BTreeSet::new());
        assert_eq!(c[0].printed(), "/* a\n  b \t*/");
        assert_eq!(c[1].printed(), "// x");
    }
}
