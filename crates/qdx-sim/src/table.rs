//! `simulate table "file.csv" { … }`: a CSV file as a virtual lab.
//!
//! Columns are named by the campaign: some are inputs (numeric, or categorical when any value
//! of the column is not a number), some are outputs (numeric). Two modes:
//!
//! - **Pool**: only the file's rows can be measured. A point that is not a row (numbers equal
//!   to within 1e-9 relative, levels equal) is refused with [`SimError::NotInPool`]. Rows with
//!   identical inputs (replicates) report the mean of their outputs. [`TableModel::candidates`]
//!   lists the distinct rows so the optimizer can be given them as its candidate set.
//! - **Emulator**: inverse-distance weighting over the `k` nearest rows (power `p`).
//!   Distances are taken on inputs normalised to the table's range (each numeric column
//!   scaled to 0..1) with categorical inputs counting 0 when equal and 1 (a full range) when
//!   different (a Gower-like distance), root-mean-square over the inputs. An exact match
//!   returns that row's (mean) outputs.
//!   Limits: the emulator never extrapolates (outputs stay within the range of the rows used),
//!   it is flat near each row (for p > 1) and piecewise in categorical levels, and it knows
//!   nothing between levels it has not seen: an unknown level is an error. Far from the data
//!   (outside the table's range) it returns an average of the nearest rows.
//!
//! An empty output cell records a failed experiment: measuring that row (in either mode, an
//! exact match) is an error naming the empty outputs, and the emulator interpolates only
//! between complete rows. Replicates average the outputs they have.
//!
//! Invariant: the model holds at least one row (in emulator mode, one complete row), every
//! output present is finite, and evaluation is deterministic (ties in distance are broken by
//! row order).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{SimError, SimResult};
use crate::reading::{InputValue, Inputs, Readings};

/// How the table is queried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum TableMode {
    Pool,
    Emulator {
        #[serde(default = "default_k")]
        neighbours: usize,
        #[serde(default = "default_power")]
        power: f64,
    },
}

fn default_k() -> usize {
    8
}

fn default_power() -> f64 {
    2.0
}

/// The table model's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableConfig {
    /// The CSV file (with a header row), already resolved by the caller (inside the campaign's
    /// folder tree).
    pub path: String,
    /// The names of the inputs (how [`TableModel::evaluate`] is asked) and of the outputs (how
    /// it answers); each is its column's header unless `columns` maps it to another.
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    #[serde(flatten)]
    pub mode: TableMode,
    /// The byte between fields (`,`, `;`, a tab); see [`detect_delimiter`].
    #[serde(default = "default_delimiter")]
    pub delimiter: u8,
    /// Name → the header of its column, for names that are not their column's header
    /// (`v_pbbr2` → `V (PbBr2 prec.)`).
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
}

fn default_delimiter() -> u8 {
    b','
}

impl TableConfig {
    /// The header of the column of `name`.
    pub fn column<'a>(&'a self, name: &'a str) -> &'a str {
        self.columns.get(name).map_or(name, String::as_str)
    }
}

/// The delimiters [`detect_delimiter`] tells apart.
pub const DELIMITERS: [u8; 3] = [b',', b';', b'\t'];

/// The delimiter of a CSV text: of `,`, `;` and tab, the one found most often in its header
/// line outside quoted fields (a comma when none is, or on a tie with it). A header names
/// columns, so it rarely holds the delimiter of another convention, unlike data rows, where
/// `0,5` is a decimal comma in a `;`-separated file.
pub fn detect_delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or("");
    let mut counts = [0_usize; DELIMITERS.len()];
    let mut quoted = false;
    for b in header.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted
            && let Some(c) = DELIMITERS
                .iter()
                .position(|d| *d == b)
                .and_then(|i| counts.get_mut(i))
        {
            *c += 1;
        }
    }
    let mut best = (b',', 0);
    for (d, n) in DELIMITERS.iter().zip(counts) {
        if n > best.1 {
            best = (*d, n);
        }
    }
    best.0
}

/// The header of a CSV text, fields trimmed; empty when it has none.
pub fn csv_header(text: &str, delimiter: u8) -> Vec<String> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes())
        .headers()
        .map(|h| h.iter().map(str::to_owned).collect())
        .unwrap_or_default()
}

#[derive(Debug, Clone, PartialEq)]
enum InputColumn {
    Numeric { min: f64, max: f64 },
    Categorical { levels: Vec<String> },
}

#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Number(f64),
    Level(usize),
}

#[derive(Debug, Clone, PartialEq)]
struct Row {
    inputs: Vec<Cell>,
    /// Mean over the replicates that have a value; `None` when every cell was empty (the
    /// experiment failed).
    outputs: Vec<Option<f64>>,
    /// Per output, the replicates that have a value.
    counts: Vec<usize>,
}

impl Row {
    fn complete(&self) -> bool {
        self.outputs.iter().all(Option::is_some)
    }
}

/// A loaded table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableModel {
    config: TableConfig,
    columns: Vec<InputColumn>,
    rows: Vec<Row>,
}

fn same_number(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

impl TableModel {
    /// Loads the file named by the configuration.
    pub fn load(config: &TableConfig) -> SimResult<Self> {
        let text = std::fs::read_to_string(&config.path)
            .map_err(|e| SimError::Table(format!("cannot read {}: {e}", config.path)))?;
        Self::from_csv(&text, config)
    }

    /// Builds the model from CSV text.
    pub fn from_csv(text: &str, config: &TableConfig) -> SimResult<Self> {
        if let TableMode::Emulator { neighbours, power } = config.mode
            && (neighbours == 0 || !(power.is_finite() && power > 0.0))
        {
            return Err(SimError::Table(
                "the emulator needs at least one neighbour and a positive power".into(),
            ));
        }
        if config.inputs.is_empty() || config.outputs.is_empty() {
            return Err(SimError::Table(
                "name at least one input and one output column".into(),
            ));
        }
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(config.delimiter)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| SimError::Table(e.to_string()))?
            .iter()
            .map(str::to_string)
            .collect();
        let column = |name: &String| {
            let wanted = config.column(name);
            header.iter().position(|h| h == wanted).ok_or_else(|| {
                SimError::Table(format!(
                    "no column {wanted:?} (columns: {})",
                    header.join(", ")
                ))
            })
        };
        let input_idx: Vec<usize> = config.inputs.iter().map(column).collect::<SimResult<_>>()?;
        let output_idx: Vec<usize> = config
            .outputs
            .iter()
            .map(column)
            .collect::<SimResult<_>>()?;
        let mut raw: Vec<Vec<String>> = Vec::new();
        for (line, record) in reader.records().enumerate() {
            let record = record.map_err(|e| SimError::Table(format!("row {}: {e}", line + 1)))?;
            raw.push(record.iter().map(str::to_string).collect());
        }
        if raw.is_empty() {
            return Err(SimError::Table("the table has no rows".into()));
        }
        let cell = |row: &[String], i: usize| row.get(i).cloned().unwrap_or_default();
        let mut columns = Vec::new();
        for &i in &input_idx {
            let values: Vec<String> = raw.iter().map(|r| cell(r, i)).collect();
            let numbers: Option<Vec<f64>> = values
                .iter()
                .map(|v| v.parse::<f64>().ok().filter(|x| x.is_finite()))
                .collect();
            columns.push(match numbers {
                Some(ns) => InputColumn::Numeric {
                    min: ns.iter().copied().fold(f64::INFINITY, f64::min),
                    max: ns.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                },
                None => {
                    let mut levels = values;
                    levels.sort();
                    levels.dedup();
                    InputColumn::Categorical { levels }
                }
            });
        }
        let mut rows: Vec<Row> = Vec::new();
        for (line, r) in raw.iter().enumerate() {
            let inputs: Vec<Cell> = input_idx
                .iter()
                .zip(&columns)
                .map(|(&i, col)| match col {
                    InputColumn::Numeric { .. } => Cell::Number(cell(r, i).parse().unwrap_or(0.0)),
                    InputColumn::Categorical { levels } => {
                        Cell::Level(levels.binary_search(&cell(r, i)).unwrap_or(0))
                    }
                })
                .collect();
            let outputs: Vec<Option<f64>> = output_idx
                .iter()
                .zip(&config.outputs)
                .map(|(&i, name)| {
                    let text = cell(r, i);
                    if text.is_empty() {
                        return Ok(None);
                    }
                    text.parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite())
                        .map(Some)
                        .ok_or_else(|| {
                            SimError::Table(format!(
                                "row {}: output {name:?} is not a number (leave the cell empty for a failed experiment)",
                                line + 1
                            ))
                        })
                })
                .collect::<SimResult<_>>()?;
            match rows
                .iter_mut()
                .find(|row| same_inputs(&row.inputs, &inputs))
            {
                Some(row) => {
                    // Running mean of the replicates that have a value.
                    for ((m, n), v) in row.outputs.iter_mut().zip(&mut row.counts).zip(&outputs) {
                        if let Some(v) = v {
                            *n += 1;
                            let mean = m.get_or_insert(0.0);
                            *mean += (v - *mean) / *n as f64;
                        }
                    }
                }
                None => rows.push(Row {
                    counts: outputs.iter().map(|v| usize::from(v.is_some())).collect(),
                    inputs,
                    outputs,
                }),
            }
        }
        if matches!(config.mode, TableMode::Emulator { .. }) && !rows.iter().any(Row::complete) {
            return Err(SimError::Table(
                "every row has an empty output; the emulator needs at least one complete row"
                    .into(),
            ));
        }
        Ok(Self {
            config: config.clone(),
            columns,
            rows,
        })
    }

    pub fn outputs(&self) -> &[String] {
        &self.config.outputs
    }

    pub fn inputs(&self) -> &[String] {
        &self.config.inputs
    }

    pub fn mode(&self) -> &TableMode {
        &self.config.mode
    }

    /// The distinct rows' inputs, in file order: the candidate set for pool mode.
    pub fn candidates(&self) -> Vec<Inputs> {
        self.rows
            .iter()
            .map(|row| {
                self.config
                    .inputs
                    .iter()
                    .zip(&row.inputs)
                    .zip(&self.columns)
                    .map(|((name, c), col)| (name.clone(), self.value(c, col)))
                    .collect()
            })
            .collect()
    }

    /// The levels of a categorical input, sorted; `None` for numeric or unknown inputs.
    pub fn levels(&self, input: &str) -> Option<&[String]> {
        let i = self.config.inputs.iter().position(|n| n == input)?;
        match self.columns.get(i)? {
            InputColumn::Categorical { levels } => Some(levels),
            InputColumn::Numeric { .. } => None,
        }
    }

    fn value(&self, c: &Cell, col: &InputColumn) -> InputValue {
        match (c, col) {
            (Cell::Number(v), _) => InputValue::Number(*v),
            (Cell::Level(l), InputColumn::Categorical { levels }) => {
                InputValue::Text(levels.get(*l).cloned().unwrap_or_default())
            }
            (Cell::Level(_), InputColumn::Numeric { .. }) => InputValue::Number(0.0),
        }
    }

    fn query(&self, inputs: &Inputs) -> SimResult<Vec<Cell>> {
        self.config
            .inputs
            .iter()
            .zip(&self.columns)
            .map(|(name, col)| {
                let v = inputs
                    .get(name)
                    .ok_or_else(|| SimError::MissingInput(name.clone()))?;
                match (col, v) {
                    (InputColumn::Numeric { .. }, InputValue::Number(x)) if x.is_finite() => {
                        Ok(Cell::Number(*x))
                    }
                    (InputColumn::Categorical { levels }, InputValue::Text(s)) => {
                        levels.binary_search(s).map(Cell::Level).map_err(|_| {
                            SimError::Table(format!(
                                "{name} = {s:?} is not a level of the table ({})",
                                levels.join(", ")
                            ))
                        })
                    }
                    _ => Err(SimError::Table(format!(
                        "{name} = {v} does not fit the column's type"
                    ))),
                }
            })
            .collect()
    }

    /// The table's readings at `inputs` (see the module doc for each mode).
    pub fn evaluate(&self, inputs: &Inputs) -> SimResult<Readings> {
        let q = self.query(inputs)?;
        let name = |outputs: &[f64]| -> Readings {
            self.config
                .outputs
                .iter()
                .cloned()
                .zip(outputs.iter().copied())
                .collect()
        };
        if let Some(row) = self.rows.iter().find(|r| same_inputs(&r.inputs, &q)) {
            let empty: Vec<String> = self
                .config
                .outputs
                .iter()
                .zip(&row.outputs)
                .filter(|(_, v)| v.is_none())
                .map(|(n, _)| format!("`{n}`"))
                .collect();
            if !empty.is_empty() {
                return Err(SimError::RecordedFailure(format!(
                    "the table records this experiment as failed (empty {})",
                    empty.join(", ")
                )));
            }
            return Ok(name(
                &row.outputs.iter().flatten().copied().collect::<Vec<_>>(),
            ));
        }
        let (neighbours, power) = match self.config.mode {
            TableMode::Pool => {
                let shown: Vec<String> = inputs.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                return Err(SimError::NotInPool(shown.join(", ")));
            }
            TableMode::Emulator { neighbours, power } => (neighbours, power),
        };
        let mut by_distance: Vec<(f64, usize)> = self
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.complete())
            .map(|(i, r)| (self.distance(&r.inputs, &q), i))
            .collect();
        by_distance.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut sums = vec![0.0; self.config.outputs.len()];
        let mut total = 0.0;
        for &(d, i) in by_distance.iter().take(neighbours) {
            let Some(row) = self.rows.get(i) else {
                continue;
            };
            let w = 1.0 / d.max(1e-12).powf(power);
            total += w;
            for (s, v) in sums.iter_mut().zip(row.outputs.iter().flatten()) {
                *s += w * v;
            }
        }
        if !(total > 0.0 && total.is_finite()) {
            return Err(SimError::Table(
                "the emulator found no usable neighbours".into(),
            ));
        }
        let values: Vec<f64> = sums.iter().map(|s| s / total).collect();
        Ok(name(&values))
    }

    fn distance(&self, a: &[Cell], b: &[Cell]) -> f64 {
        let n = self.columns.len().max(1) as f64;
        let sum: f64 = a
            .iter()
            .zip(b)
            .zip(&self.columns)
            .map(|((x, y), col)| match (x, y, col) {
                (Cell::Number(x), Cell::Number(y), InputColumn::Numeric { min, max }) => {
                    let range = max - min;
                    let d = if range > 0.0 { (x - y) / range } else { 0.0 };
                    d * d
                }
                (Cell::Level(x), Cell::Level(y), _) if x == y => 0.0,
                _ => 1.0,
            })
            .sum();
        (sum / n).sqrt()
    }
}

fn same_inputs(a: &[Cell], b: &[Cell]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (Cell::Number(x), Cell::Number(y)) => same_number(*x, *y),
            (Cell::Level(x), Cell::Level(y)) => x == y,
            _ => false,
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const CSV: &str = "ligand,res_time,temperature,yield\n\
L0,60,30,0.1\n\
L0,600,30,0.5\n\
L1,60,110,0.3\n\
L1,600,110,0.9\n\
L1,600,110,0.7\n";

    fn config(mode: TableMode) -> TableConfig {
        TableConfig {
            path: "t.csv".into(),
            inputs: vec!["ligand".into(), "res_time".into(), "temperature".into()],
            outputs: vec!["yield".into()],
            mode,
            delimiter: b',',
            columns: BTreeMap::new(),
        }
    }

    fn point(l: &str, r: f64, t: f64) -> Inputs {
        [
            ("ligand".to_string(), InputValue::Text(l.into())),
            ("res_time".to_string(), InputValue::Number(r)),
            ("temperature".to_string(), InputValue::Number(t)),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn pool_mode_only_offers_rows() {
        let m = TableModel::from_csv(CSV, &config(TableMode::Pool)).unwrap();
        assert_eq!(m.candidates().len(), 4, "replicates merge");
        assert_eq!(m.evaluate(&point("L0", 600.0, 30.0)).unwrap()["yield"], 0.5);
        // Replicates report their mean.
        assert!((m.evaluate(&point("L1", 600.0, 110.0)).unwrap()["yield"] - 0.8).abs() < 1e-12);
        assert!(matches!(
            m.evaluate(&point("L0", 300.0, 30.0)),
            Err(SimError::NotInPool(_))
        ));
        assert!(matches!(
            m.evaluate(&point("L7", 60.0, 30.0)),
            Err(SimError::Table(_))
        ));
        assert_eq!(m.levels("ligand").unwrap(), ["L0", "L1"]);
    }

    #[test]
    fn emulator_interpolates_between_rows() {
        let m = TableModel::from_csv(
            CSV,
            &config(TableMode::Emulator {
                neighbours: 2,
                power: 2.0,
            }),
        )
        .unwrap();
        let y = m.evaluate(&point("L0", 330.0, 30.0)).unwrap()["yield"];
        assert!((y - 0.3).abs() < 1e-9, "midway between 0.1 and 0.5: {y}");
        let near = m.evaluate(&point("L0", 590.0, 30.0)).unwrap()["yield"];
        assert!(near > 0.45 && near <= 0.5, "{near}");
        assert_eq!(m.evaluate(&point("L0", 60.0, 30.0)).unwrap()["yield"], 0.1);
    }

    #[test]
    fn an_empty_output_cell_marks_a_failed_experiment() {
        let csv = "ligand,res_time,temperature,yield\n\
L0,60,30,0.1\n\
L0,600,30,\n\
L1,60,110,0.3\n\
L1,60,110,\n";
        let pool = TableModel::from_csv(csv, &config(TableMode::Pool)).unwrap();
        assert_eq!(
            pool.candidates().len(),
            3,
            "a failed row can still be picked"
        );
        match pool.evaluate(&point("L0", 600.0, 30.0)) {
            Err(SimError::RecordedFailure(why)) => {
                assert!(why.contains("failed") && why.contains("`yield`"))
            }
            other => panic!("{other:?}"),
        }
        // A replicate with a value outweighs one without.
        assert_eq!(
            pool.evaluate(&point("L1", 60.0, 110.0)).unwrap()["yield"],
            0.3
        );
        let emulator = TableModel::from_csv(
            csv,
            &config(TableMode::Emulator {
                neighbours: 8,
                power: 2.0,
            }),
        )
        .unwrap();
        // The failed row is no data: between two complete rows only.
        let y = emulator.evaluate(&point("L0", 590.0, 30.0)).unwrap()["yield"];
        assert!((0.1..=0.3).contains(&y), "{y}");
        let bad = "ligand,res_time,temperature,yield\nL0,60,30,n/a\n";
        assert!(TableModel::from_csv(bad, &config(TableMode::Pool)).is_err());
        let none = "ligand,res_time,temperature,yield\nL0,60,30,\n";
        assert!(TableModel::from_csv(none, &config(TableMode::Pool)).is_ok());
        assert!(
            TableModel::from_csv(
                none,
                &config(TableMode::Emulator {
                    neighbours: 8,
                    power: 2.0
                })
            )
            .is_err()
        );
    }

    #[test]
    fn a_table_with_another_delimiter_and_columns_named_otherwise() {
        let csv = "ligand;\"res; time\";T (oven);yield\nL0;60;30;0.1\nL1;600;110;0.9\n";
        assert_eq!(detect_delimiter(csv), b';');
        assert_eq!(
            csv_header(csv, b';'),
            ["ligand", "res; time", "T (oven)", "yield"]
        );
        let mut c = config(TableMode::Pool);
        c.delimiter = detect_delimiter(csv);
        c.columns = BTreeMap::from([
            ("res_time".to_owned(), "res; time".to_owned()),
            ("temperature".to_owned(), "T (oven)".to_owned()),
        ]);
        let m = TableModel::from_csv(csv, &c).unwrap();
        assert_eq!(
            m.evaluate(&point("L1", 600.0, 110.0)).unwrap()["yield"],
            0.9
        );
        assert_eq!(m.candidates()[0]["res_time"], InputValue::Number(60.0));
        // A quoted name may hold the delimiter; no header, no names.
        assert_eq!(
            csv_header("ligand,\"yield, %\",res_time [s]\nL1,3,60\n", b','),
            ["ligand", "yield, %", "res_time [s]"]
        );
        assert!(csv_header("", b',').is_empty());
        // Tabs, commas, and a comma when nothing tells.
        assert_eq!(detect_delimiter("a\tb\tc\n1\t2\t3\n"), b'\t');
        assert_eq!(detect_delimiter("a,b;c,d\n"), b',');
        assert_eq!(detect_delimiter("\"a;b\",c\n"), b',');
        assert_eq!(detect_delimiter("yield\n0.5\n"), b',');
        assert_eq!(detect_delimiter(""), b',');
    }

    #[test]
    fn missing_columns_and_inputs_are_errors() {
        let mut c = config(TableMode::Pool);
        c.outputs = vec!["turnover".into()];
        assert!(matches!(
            TableModel::from_csv(CSV, &c),
            Err(SimError::Table(_))
        ));
        let m = TableModel::from_csv(CSV, &config(TableMode::Pool)).unwrap();
        let mut p = point("L0", 60.0, 30.0);
        p.remove("temperature");
        assert_eq!(
            m.evaluate(&p),
            Err(SimError::MissingInput("temperature".into()))
        );
    }
}
