//! The data files a script may read, by the names the campaign declares them under:
//! `data("target")` in a script returns the file `data { target "data/target.csv" }` names.
//!
//! Invariants: a script reaches a table only through the `data` function registered by
//! [`crate::sandboxed_engine`], and only a table of the [`DataFiles`] its [`crate::Script`] was
//! given ([`crate::Script::with_data`]); there is no other way to name a file. The tables were
//! read and checked by the caller (qdx's validation) before they get here: this module never
//! touches the file system. Each table is converted to a rhai value once, when it is added, so
//! a call costs a copy of the value and no parsing. The evaluation under way finds its tables
//! through a thread-local set for the length of one evaluation, as [`crate::watch`] does for
//! its limits.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use rhai::{Dynamic, EvalAltResult, Map, Position};

/// A table a script reads: named columns of numbers, all the same length.
#[derive(Debug, Clone, PartialEq)]
pub struct DataTable {
    /// The columns in the file's order: the header's name, then the values down the column.
    pub columns: Vec<(String, Vec<f64>)>,
}

/// The declared data files of a campaign, by name.
#[derive(Debug, Clone, Default)]
pub struct DataFiles {
    tables: BTreeMap<String, (DataTable, Dynamic)>,
}

impl DataFiles {
    /// No data files.
    #[must_use]
    pub fn new() -> DataFiles {
        DataFiles::default()
    }

    /// Adds the table a script reads as `data(name)`: an object map from each column's name
    /// to the array of its numbers (`data("target").wavelength`). Replaces a table of the same
    /// name.
    pub fn insert(&mut self, name: &str, table: DataTable) {
        let map: Map = table
            .columns
            .iter()
            .map(|(column, values)| {
                let array: rhai::Array = values.iter().map(|&v| Dynamic::from_float(v)).collect();
                (column.as_str().into(), Dynamic::from_array(array))
            })
            .collect();
        self.tables
            .insert(name.to_owned(), (table, Dynamic::from_map(map)));
    }

    /// The table declared as `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&DataTable> {
        self.tables.get(name).map(|(t, _)| t)
    }

    /// The declared names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tables.keys().map(String::as_str)
    }

    /// Whether no file is declared.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
}

/// What a script asked for that no data file is declared as: the error value of `data(name)`
/// for an undeclared name, a Rust type a script cannot make, so the error is told apart from a
/// script's own `throw`.
#[derive(Debug, Clone)]
pub(crate) struct UnknownData {
    pub message: String,
}

thread_local! {
    static READING: RefCell<Option<Arc<DataFiles>>> = const { RefCell::new(None) };
}

/// The data files of the evaluation under way on this thread, for as long as it lives.
pub(crate) struct Reading {
    previous: Option<Arc<DataFiles>>,
}

impl Reading {
    pub(crate) fn start(files: Option<Arc<DataFiles>>) -> Reading {
        let previous = READING.with(|r| r.replace(files));
        Reading { previous }
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        let previous = self.previous.take();
        READING.with(|r| *r.borrow_mut() = previous);
    }
}

/// `data(name)` in a script: the declared table of that name.
pub(crate) fn data(name: &str) -> Result<Dynamic, Box<EvalAltResult>> {
    READING.with(|r| {
        let reading = r.borrow();
        if let Some((_, value)) = reading.as_ref().and_then(|f| f.tables.get(name)) {
            return Ok(value.clone());
        }
        let declared: Vec<String> = reading
            .as_ref()
            .map(|f| f.names().map(|n| format!("`{n}`")).collect())
            .unwrap_or_default();
        let message = if declared.is_empty() {
            format!(
                "no data file is declared as `{name}`: the campaign declares none (a `data {{ {name} \"file.csv\" }}` block declares one)"
            )
        } else {
            format!(
                "no data file is declared as `{name}`; the campaign declares {}",
                declared.join(", ")
            )
        };
        Err(Box::new(EvalAltResult::ErrorRuntime(
            Dynamic::from(UnknownData { message }),
            Position::NONE,
        )))
    })
}
