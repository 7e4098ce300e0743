//! Positions: byte offsets (what spans hold) against LSP positions (a line and a column in
//! UTF-16 code units, what the protocol counts in by default), and incremental edits.

use lsp_types::{Position, Range};

/// The lines of a text, for converting positions both ways.
#[derive(Debug, Clone)]
pub struct LineIndex {
    /// Byte offset of the start of every line; the first is 0.
    starts: Vec<usize>,
    len: usize,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            starts,
            len: text.len(),
        }
    }

    /// The LSP position of byte `offset` of `text` (the text this index was built from). An
    /// offset inside a character counts from the character's start; one past the end is the
    /// end.
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let offset = offset.min(self.len);
        let line = self
            .starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1);
        let start = self.starts.get(line).copied().unwrap_or(0);
        let column: usize = text
            .get(start..)
            .unwrap_or("")
            .char_indices()
            .take_while(|(i, _)| start + i < offset)
            .map(|(_, c)| c.len_utf16())
            .sum();
        Position::new(
            u32::try_from(line).unwrap_or(u32::MAX),
            u32::try_from(column).unwrap_or(u32::MAX),
        )
    }

    /// The byte offset of an LSP position in `text`. A column past the end of its line is the
    /// line's end (before its line break); a line past the end is the end of the text; a
    /// column inside a surrogate pair is the character's start.
    pub fn offset(&self, text: &str, position: Position) -> usize {
        let Some(&start) = self.starts.get(position.line as usize) else {
            return self.len;
        };
        let line = text.get(start..).unwrap_or("");
        let line = line.split('\n').next().unwrap_or("");
        let line = line.strip_suffix('\r').unwrap_or(line);
        let mut units = 0_usize;
        for (i, c) in line.char_indices() {
            let next = units + c.len_utf16();
            if next > position.character as usize {
                return start + i;
            }
            units = next;
        }
        start + line.len()
    }

    pub fn range(&self, text: &str, bytes: std::ops::Range<usize>) -> Range {
        Range::new(
            self.position(text, bytes.start),
            self.position(text, bytes.end.max(bytes.start)),
        )
    }

    /// The byte range of an LSP range (its ends in order).
    pub fn bytes(&self, text: &str, range: Range) -> std::ops::Range<usize> {
        let a = self.offset(text, range.start);
        let b = self.offset(text, range.end);
        a.min(b)..a.max(b)
    }
}

/// Applies one `textDocument/didChange` change: the whole text, or a range replaced.
pub fn apply_change(text: &mut String, range: Option<Range>, new_text: &str) {
    match range {
        None => *text = new_text.to_owned(),
        Some(range) => {
            let index = LineIndex::new(text);
            let bytes = index.bytes(text, range);
            text.replace_range(bytes, new_text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_utf16_code_units() {
        // `µ` is one UTF-16 unit and two bytes; `𝜇` (U+1D707) is two units and four bytes.
        let text = "a µL\n𝜇x = 1\n";
        let index = LineIndex::new(text);
        assert_eq!(index.position(text, 0), Position::new(0, 0));
        assert_eq!(index.position(text, 2), Position::new(0, 2));
        assert_eq!(index.position(text, 4), Position::new(0, 3));
        let x = text.find('x').expect("x");
        assert_eq!(index.position(text, x), Position::new(1, 2));
        assert_eq!(index.offset(text, Position::new(1, 2)), x);
        // Inside the surrogate pair: the character's start.
        assert_eq!(index.offset(text, Position::new(1, 1)), x - 4);
        // Past the end of a line: its end; past the last line: the text's end.
        assert_eq!(index.offset(text, Position::new(0, 99)), 5);
        assert_eq!(index.offset(text, Position::new(9, 0)), text.len());
        for offset in 0..=text.len() {
            if text.is_char_boundary(offset) {
                let p = index.position(text, offset);
                assert_eq!(index.offset(text, p), offset, "{offset}");
            }
        }
    }

    #[test]
    fn edits_replace_ranges() {
        let mut text = "qdx 1\nvariables {\n  x : time in 1 s .. 2 s\n}\n".to_owned();
        apply_change(
            &mut text,
            Some(Range::new(Position::new(2, 16), Position::new(2, 17))),
            "min",
        );
        assert_eq!(text, "qdx 1\nvariables {\n  x : time in 1 min .. 2 s\n}\n");
        apply_change(&mut text, None, "qdx 1\n");
        assert_eq!(text, "qdx 1\n");
    }
}
