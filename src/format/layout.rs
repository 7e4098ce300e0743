//! The line writer: indentation, blank lines, and where each comment goes.
//!
//! Everything the formatter prints is a sequence of *entries*, each starting on a new line: the
//! header, top-level items, the entries of a block, the properties of a broken property list.
//! An entry is either one line, or a head line ending in `{`, child entries one level deeper,
//! and a `}` line. The source offsets of entries decide where comments go:
//! - a comment before an entry's start is printed on its own line just before the entry
//!   ([`Layout::leading`]); so is a comment inside a one-line entry (it is hoisted: a line
//!   comment cannot stay inside a line);
//! - a comment with code before it on its source line, after an entry or after a `{`, stays at
//!   the end of that output line ([`Layout::trailing`]);
//! - a comment after the last entry of a block stays inside the block, before the `}`.
//!
//! Comments are consumed strictly in source order, so they come out in the order written, and
//! [`Layout::finish`] prints any comment not yet placed: none is ever lost.
//!
//! Blank lines: one is kept (never more) where the source has at least one between two
//! entries or comments, never right after a `{` or before a `}`; callers add the mandatory ones
//! between top-level items with [`Layout::blank`].

use super::comments::{Comment, CommentKind};
use crate::source::Span;

const INDENT: &str = "  ";

#[derive(Debug)]
pub struct Layout<'a> {
    source: &'a str,
    comments: Vec<Comment>,
    /// Index of the first comment not printed yet.
    next_comment: usize,
    out: String,
    /// The line being built, without its indentation.
    line: String,
    depth: usize,
    blank_pending: bool,
    at_block_start: bool,
    /// Source offset up to which everything has been printed (for blank-line detection).
    done: usize,
}

impl<'a> Layout<'a> {
    pub fn new(source: &'a str, comments: Vec<Comment>) -> Self {
        Self {
            source,
            comments,
            next_comment: 0,
            out: String::new(),
            line: String::new(),
            depth: 0,
            blank_pending: false,
            at_block_start: false,
            done: 0,
        }
    }

    pub fn source(&self) -> &'a str {
        self.source
    }

    /// Current indentation in columns.
    pub fn indent_width(&self) -> usize {
        self.depth * INDENT.len()
    }

    /// Start offset of a span; a span that does not point into the source (built by a tool)
    /// counts as "here", so it attracts no comment.
    pub fn start(&self, span: Span) -> usize {
        match span.range() {
            Some(r) if r.end <= self.source.len() => r.start,
            _ => self.done,
        }
    }

    /// End offset of the last token of a span (see [`Layout::start`]). A pest rule that ends in
    /// an optional part (`props?`, `binding?`) also covers the whitespace and comments skipped
    /// before trying it, so the span's own end can lie past a trailing comment.
    pub fn end(&self, span: Span) -> usize {
        match span.range() {
            Some(r) if r.end <= self.source.len() => self.skip_trivia_back(r.end).max(r.start),
            _ => self.done,
        }
    }

    /// Moves `pos` back over whitespace and comments.
    fn skip_trivia_back(&self, pos: usize) -> usize {
        let bytes = self.source.as_bytes();
        let mut p = pos.min(bytes.len());
        loop {
            while p > 0 && bytes.get(p - 1).is_some_and(u8::is_ascii_whitespace) {
                p -= 1;
            }
            let i = self.comments.partition_point(|c| c.end < p);
            match self.comments.get(i) {
                Some(c) if c.end == p && c.start < p => p = c.start,
                _ => return p,
            }
        }
    }

    fn inside_comment(&self, pos: usize) -> bool {
        let i = self.comments.partition_point(|c| c.end <= pos);
        self.comments.get(i).is_some_and(|c| c.start < pos)
    }

    /// Is any comment (printed or not) inside `span`?
    pub fn has_comment_inside(&self, span: Span) -> bool {
        let Some(r) = span.range() else {
            return false;
        };
        let first = self.comments.partition_point(|c| c.start < r.start);
        self.comments.get(first).is_some_and(|c| c.start < r.end)
    }

    /// Where the keyword `word` that precedes `pos` starts, skipping whitespace and comments;
    /// `pos` itself if `word` is not there. Used for entries whose AST node starts after their
    /// keyword (`seed 42`, `time 6 h`).
    pub fn keyword_before(&self, pos: usize, word: &str) -> usize {
        let p = self.skip_trivia_back(pos);
        match self.source.get(..p) {
            Some(before) if before.ends_with(word) => p - word.len(),
            _ => pos,
        }
    }

    pub fn write(&mut self, text: &str) {
        self.line.push_str(text);
    }

    /// Asks for one blank line before the next line (ignored at the start of a block or file).
    pub fn blank(&mut self) {
        self.blank_pending = true;
    }

    pub fn end_line(&mut self) {
        if self.blank_pending && !self.at_block_start && !self.out.is_empty() {
            self.out.push('\n');
        }
        self.blank_pending = false;
        self.at_block_start = false;
        let text = self.line.trim_end();
        if !text.is_empty() {
            for _ in 0..self.depth {
                self.out.push_str(INDENT);
            }
            self.out.push_str(text);
        }
        self.out.push('\n');
        self.line.clear();
    }

    /// Marks the source as printed up to `pos`.
    pub fn advance(&mut self, pos: usize) {
        self.done = self.done.max(pos);
    }

    fn blank_in_source_before(&self, pos: usize) -> bool {
        self.source
            .get(self.done..pos)
            .is_some_and(|gap| gap.matches('\n').count() >= 2)
    }

    /// Prints, each on its own line, the comments that start before `pos`; keeps a blank line
    /// before one where the source has one if `keep_blanks`.
    pub fn leading(&mut self, pos: usize, keep_blanks: bool) {
        while let Some(c) = self.comments.get(self.next_comment) {
            if c.start >= pos {
                break;
            }
            let (start, end, text) = (c.start, c.end, c.printed());
            self.next_comment += 1;
            if !self.line.trim().is_empty() {
                self.end_line();
            }
            if keep_blanks && self.blank_in_source_before(start) {
                self.blank();
            }
            self.line.clear();
            self.write(&text);
            self.end_line();
            self.advance(end);
        }
    }

    /// Appends to the current line the comments that have code before them on their source
    /// line and start before `bound`. Stops after a line comment (nothing may follow it).
    pub fn trailing(&mut self, bound: usize) {
        while let Some(c) = self.comments.get(self.next_comment) {
            if c.start >= bound || c.own_line {
                break;
            }
            let (end, kind, text) = (c.end, c.kind, c.printed());
            self.next_comment += 1;
            self.write(" ");
            self.write(&text);
            self.advance(end);
            if kind == CommentKind::Line {
                break;
            }
        }
    }

    /// Before an entry that starts at `start`: its leading comments and the blank line above.
    pub fn begin_entry(&mut self, start: usize) {
        self.leading(start, true);
        if self.blank_in_source_before(start) {
            self.blank();
        }
        self.advance(start);
    }

    /// A whole entry on one line: `text` covers source `span`; `next` is where the following
    /// sibling (or the enclosing `}`) starts.
    pub fn line_entry(&mut self, span: Span, text: &str, next: usize) {
        let (start, end) = (self.start(span), self.end(span));
        self.begin_entry(start);
        self.leading(end, false);
        self.write(text);
        self.advance(end);
        self.trailing(next);
        self.end_line();
    }

    /// Opens a block entry: `head {`. `head_end` is where the head's last node ends in the
    /// source (comments before it are hoisted above the entry), `first` is where the first
    /// child starts (or the `}` if there is none).
    pub fn open_block(&mut self, start: usize, head_end: usize, head: &str, first: usize) {
        self.begin_entry(start);
        self.leading(head_end, false);
        self.write(head);
        self.write(" {");
        self.advance(head_end);
        self.trailing(first);
        self.end_line();
        self.depth += 1;
        self.at_block_start = true;
    }

    /// Closes a block: comments left before the `}` at `close`, then `}`. `end` is the
    /// source offset after the `}`, `next` where the following sibling starts.
    pub fn close_block(&mut self, close: usize, end: usize, next: usize) {
        self.leading(close, true);
        self.blank_pending = false;
        self.depth = self.depth.saturating_sub(1);
        self.write("}");
        self.advance(end);
        self.trailing(next);
        self.end_line();
    }

    /// True when no comment is waiting before `pos` (an empty block can then print `{}`).
    pub fn no_comment_before(&self, pos: usize) -> bool {
        self.comments
            .get(self.next_comment)
            .is_none_or(|c| c.start >= pos)
    }

    /// Source text copied as written (trailing spaces removed from each line), for what the
    /// AST cannot say; the comments inside it are printed with it.
    pub fn verbatim_entry(&mut self, span: Span, next: usize) {
        let (start, end) = (self.start(span), self.end(span));
        self.begin_entry(start);
        let text = self.source.get(start..end).unwrap_or_default();
        let mut offset = start;
        let mut previous_blank = false;
        let mut lines = text.split('\n').peekable();
        while let Some(l) = lines.next() {
            let blank = l.trim().is_empty();
            // Runs of blank lines collapse to one, as everywhere else (not inside a comment).
            let skip = blank && previous_blank && !self.inside_comment(offset);
            previous_blank = blank;
            offset += l.len() + 1;
            if skip {
                continue;
            }
            self.write(l);
            if lines.peek().is_some() {
                self.end_line();
            }
        }
        while self
            .comments
            .get(self.next_comment)
            .is_some_and(|c| c.start < end)
        {
            self.next_comment += 1;
        }
        self.advance(end);
        self.trailing(next);
        self.end_line();
    }

    /// Prints the comments left (after the last item) and returns the text.
    pub fn finish(mut self) -> String {
        if !self.line.trim().is_empty() {
            self.end_line();
        }
        self.leading(usize::MAX, true);
        self.out
    }
}
