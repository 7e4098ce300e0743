//! The `data` block: files scripts read by name (`data { target "data/target.csv" }`, then
//! `data("target")` in a script).
//!
//! Invariants, once this pass has run without errors:
//! - every declared file lies inside the campaign's folder (no absolute path, no `..` out of
//!   it, no symbolic link that leads out: [`crate::load::Loaded::read_relative`]) and was read;
//! - it is a table of numbers: a header row of column names (each non-empty, none twice), then
//!   at least one row, each with one cell per column, each cell a finite number (`1.5`, `-2`,
//!   `3e-4`); the delimiter is the one of `,`, `;` and tab found most often in the header
//!   (as for `simulate table`), fields may be quoted and are trimmed, blank lines are skipped;
//! - it fits what a script may hold: at most [`qdx_script::LIMITS`]'s `max_map_size` columns
//!   and `max_array_size` numbers in all (a script gets the table as one map of arrays);
//! - names are unique across the campaign's `data` blocks.
//!
//! The parsed tables are the campaign's one home for the data (`Campaign::data`): the runtime
//! hands them to scripts and never reads or parses the files again. Each file's text is stored
//! with the campaign's files (`FileRole::Data`), so the bundle keeps a copy, hashed in its
//! manifest, and a replay validates and reads that copy.

use std::collections::BTreeMap;
use std::sync::Arc;

use qdx_script::{DataFiles, DataTable, LIMITS};

use super::Validator;
use super::campaign::{CampaignFile, FileRole};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::codes::validate as code;
use crate::source::{FileId, Span};
use crate::syntax::ast::{self, Item};

/// At most this many bad cells are reported per file; past them the file is plainly not the
/// table it was meant to be, and more lines of the same error would hide the others.
const MAX_CELL_ERRORS: usize = 5;

impl Validator<'_> {
    /// Reads and checks every declared data file (see the module doc).
    pub(super) fn data_files(&mut self) {
        let declared: Vec<&ast::DataFile> = self
            .items
            .of(|i| match i {
                Item::Data(b) => Some(b),
                _ => None,
            })
            .into_iter()
            .flat_map(|b| &b.entries)
            .collect();
        let mut files = DataFiles::new();
        let mut first: BTreeMap<&str, Span> = BTreeMap::new();
        for d in declared {
            if let Some(earlier) = first.get(d.name.name.as_str()) {
                self.error(
                    Diagnostic::error(
                        code::DATA_TWICE,
                        format!("the data file name `{}` is declared twice", d.name.name),
                    )
                    .label(d.name.span, "declared again here")
                    .label(*earlier, "first declared here")
                    .help("a script reads a data file by its name: give each file its own"),
                );
                continue;
            }
            first.insert(&d.name.name, d.name.span);
            let (file, text) =
                match self
                    .loaded
                    .read_relative(self.world, d.path.span, &d.path.value, "data file")
                {
                    Ok(read) => read,
                    Err(e) => {
                        self.error(e);
                        continue;
                    }
                };
            let id = self.add_source(&file, &text);
            match table(&text, id) {
                Ok(t) => {
                    files.insert(&d.name.name, t);
                    // One copy per file, even when two names declare it.
                    if !self
                        .files
                        .iter()
                        .any(|f| f.role == FileRole::Data && f.name == file)
                    {
                        self.files.push(CampaignFile {
                            name: file,
                            role: FileRole::Data,
                            text,
                        });
                    }
                }
                Err(errors) => {
                    for e in errors {
                        self.error(e.label(d.path.span, "declared here"));
                    }
                }
            }
        }
        self.data = Arc::new(files);
    }
}

/// The table in `text` (the file `file`), or every reason it is not one, each located in it.
fn table(text: &str, file: FileId) -> Result<DataTable, Vec<Diagnostic>> {
    let delimiter = qdx_sim::detect_delimiter(text);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let whole = Span::new(file, 0, text.len());
    let not_a_table = |message: String| {
        Diagnostic::error(code::DATA_FILE, message).help(
            "a data file is CSV: a header row of column names, then one row of numbers per line",
        )
    };
    let mut records = reader.records();
    let header = match records.next() {
        None => {
            return Err(vec![
                not_a_table("the data file is empty".to_owned()).at(whole),
            ]);
        }
        Some(Err(e)) => {
            return Err(vec![
                not_a_table(format!("the data file cannot be read as CSV: {e}")).at(whole),
            ]);
        }
        Some(Ok(h)) => h,
    };
    let header_at = record_start(&header);
    let mut errors = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (i, name) in header.iter().enumerate() {
        let at = cell_span(text, file, header_at, i, delimiter);
        if name.is_empty() {
            errors.push(
                not_a_table(format!("column {} of the header has no name", i + 1))
                    .label(at, "an empty column name"),
            );
        } else if names.iter().any(|n| n == name) {
            errors.push(
                not_a_table(format!("the header names the column `{name}` twice"))
                    .label(at, "named again here"),
            );
        } else if name.parse::<f64>().is_ok() {
            errors.push(
                not_a_table(format!(
                    "the first row holds a number (`{name}`) where a column name is expected"
                ))
                .label(at, "a number in the header")
                .help("the first row of a data file names its columns: add a header row"),
            );
        }
        names.push(name.to_owned());
    }
    if names.len() > LIMITS.max_map_size {
        errors.push(
            not_a_table(format!(
                "the data file has {} columns; a script can hold at most {}",
                names.len(),
                LIMITS.max_map_size
            ))
            .at(whole),
        );
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut columns: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut cells = 0_usize;
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(
                    not_a_table(format!("the data file cannot be read as CSV: {e}")).at(whole),
                );
                break;
            }
        };
        let at = record_start(&record);
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() != names.len() {
            let row = Span::new(file, at, line_end(text, at));
            errors.push(
                not_a_table(format!(
                    "line {line} has {}, the header {}",
                    count(record.len(), "cell"),
                    count(names.len(), "column")
                ))
                .label(row, "this row"),
            );
        } else {
            for (i, (cell, column)) in record.iter().zip(&mut columns).enumerate() {
                match cell.parse::<f64>() {
                    Ok(x) if x.is_finite() => column.push(x),
                    _ => {
                        let column_name = names.get(i).map_or("", String::as_str);
                        let what = if cell.is_empty() {
                            "is empty".to_owned()
                        } else {
                            format!("is `{cell}`, not a number")
                        };
                        errors.push(
                            not_a_table(format!(
                                "line {line}, column `{column_name}`: the cell {what}"
                            ))
                            .label(cell_span(text, file, at, i, delimiter), "not a number"),
                        );
                    }
                }
            }
            cells = cells.saturating_add(record.len());
        }
        if errors.len() >= MAX_CELL_ERRORS {
            break;
        }
    }
    if errors.is_empty() && columns.first().is_none_or(Vec::is_empty) {
        errors.push(not_a_table("the data file has a header but no rows".to_owned()).at(whole));
    }
    if errors.is_empty() && cells > LIMITS.max_array_size {
        errors.push(
            not_a_table(format!(
                "the data file holds {cells} numbers; a script can hold at most {} in all",
                LIMITS.max_array_size
            ))
            .at(whole),
        );
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(DataTable {
        columns: names.into_iter().zip(columns).collect(),
    })
}

fn record_start(record: &csv::StringRecord) -> usize {
    record
        .position()
        .and_then(|p| usize::try_from(p.byte()).ok())
        .unwrap_or(0)
}

/// The end of the line that starts at `start` (before its line break).
fn line_end(text: &str, start: usize) -> usize {
    text.get(start..)
        .and_then(|rest| rest.find(['\n', '\r']))
        .map_or(text.len(), |i| start + i)
}

/// Where the `index`-th cell of the row starting at `start` is in `text`, spaces around it
/// left out: delimiters inside quotes do not count.
fn cell_span(text: &str, file: FileId, start: usize, index: usize, delimiter: u8) -> Span {
    let end = line_end(text, start);
    let row = text.as_bytes().get(start..end).unwrap_or_default();
    let mut field = 0;
    let mut from = 0;
    let mut to = row.len();
    let mut quoted = false;
    for (k, b) in row.iter().enumerate() {
        if *b == b'"' {
            quoted = !quoted;
        } else if *b == delimiter && !quoted {
            if field == index {
                to = k;
                break;
            }
            field += 1;
            from = k + 1;
        }
    }
    if field < index {
        return Span::new(file, start, end);
    }
    let cell = row.get(from..to).unwrap_or_default();
    let lead = cell.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let trail = cell
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_whitespace())
        .count();
    let (a, b) = (
        start + from + lead,
        start + to.saturating_sub(trail).max(from + lead),
    );
    Span::new(file, a, b)
}

/// "1 cell", "3 cells".
fn count(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}
