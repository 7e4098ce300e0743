//! `observations.csv`: one row per experiment, for pandas and spreadsheets.
//!
//! Columns, in order (a unit in brackets is the unit of every value in the column, the one
//! the campaign wrote; a column without one is unitless):
//! - `experiment`: its id, from 0, in the order suggested;
//! - `status`: `ok`, `failed`, `infeasible`, `skipped`, `refused`, or `unfinished` (suggested,
//!   never measured: the run stopped during it);
//! - with parallel lines (`lines a, b`), `line`: the line it ran on;
//! - one per variable (`residence [s]`): the suggested value; a choice by its level's name;
//!   with a `transient` ramp, the ramped variable's equivalent value at the last reading (the
//!   one whose proxies the row holds; every reading is in `transient.csv`);
//! - one per derived device setting (`p_cd.rate [uL/min]`, `h1.setpoint [degC]`): the value
//!   sent to the device and in effect while the experiment was measured (after rounding to what
//!   the device can run); empty when nothing was sent for it;
//! - one per proxy (`peak [nm]`): empty when it could not be computed (`reason` says why);
//!   with a `probe`, the value at its last point (the one the objectives read);
//! - with a `probe`, for each point `k` from 1: `point<k>.residence [s]` (the residence time
//!   there at the rates in effect), then one per proxy (`point<k>.peak [nm]`): the growth
//!   curve along the coil;
//! - `desirability:<objective>` per objective, then `objective` (the combined score; empty for
//!   failures and Pareto campaigns), then `pareto_front` (`true`/`false`) and `hypervolume`
//!   (of the front of this and every earlier finished experiment, [`crate::record::hypervolume`],
//!   in the product of the units of the maximised and minimised objectives) for Pareto
//!   campaigns; scores are computed over all finished experiments together;
//! - `lab_time_start [s]`, `lab_time_end [s]`: lab time (virtual on the simulated lab) when it
//!   was suggested and when it was measured;
//! - `reason`: why it is not `ok`, or which proxies of an `ok` experiment are missing.
//!
//! Every number goes through [`DisplayUnit::number`]: the shortest decimal that reads back to
//! the stored SI value (within rounding of the unit conversion).

use std::collections::BTreeMap;

use qdx_optimize::Score;

use crate::record::Experiment;
use crate::validate::campaign::{Campaign, Combine, Derived, DerivedTarget, DisplayUnit};

/// A variable's value as a cell (empty for an index that is no variable).
pub fn variable_cell(c: &Campaign, variable: usize, si: f64) -> String {
    c.variables
        .get(variable)
        .map_or_else(String::new, |v| v.cell(si))
}

/// What a column holds, for readers that type their columns (`datapackage.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Integer,
    Number,
    String,
    Boolean,
}

impl ColumnType {
    /// The Frictionless Table Schema name of the type.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Integer => "integer",
            ColumnType::Number => "number",
            ColumnType::String => "string",
            ColumnType::Boolean => "boolean",
        }
    }
}

/// One column of `observations.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The header: the name, and its unit in brackets when it has one.
    pub header: String,
    pub kind: ColumnType,
    /// The unit every value is in (`""` for none).
    pub unit: String,
    pub description: String,
}

/// The columns of `observations.csv`, in order (the module doc says what each holds).
pub fn columns(c: &Campaign) -> Vec<Column> {
    let col = |header: String, kind, unit: &str, description: String| Column {
        header,
        kind,
        unit: unit.to_owned(),
        description,
    };
    let mut out = vec![
        col(
            "experiment".into(),
            ColumnType::Integer,
            "",
            "the experiment's id, from 0, in the order suggested".into(),
        ),
        col(
            "status".into(),
            ColumnType::String,
            "",
            "ok, failed, infeasible, skipped, refused or unfinished".into(),
        ),
    ];
    if c.topology.lines.len() > 1 {
        out.push(col(
            "line".into(),
            ColumnType::String,
            "",
            "the parallel line it ran on".into(),
        ));
    }
    for v in &c.variables {
        let (kind, what) = if v.is_numeric() {
            (ColumnType::Number, "the suggested value of variable")
        } else {
            (ColumnType::String, "the suggested level of variable")
        };
        out.push(col(
            super::column(&v.name, &v.unit),
            kind,
            v.unit.symbol(),
            format!("{what} `{}`", v.name),
        ));
    }
    for (_, d) in settings(c) {
        out.push(col(
            super::column(&d.name, &d.unit),
            ColumnType::Number,
            d.unit.symbol(),
            format!(
                "`{}` as sent to the device and in effect while the experiment was measured",
                d.name
            ),
        ));
    }
    for p in &c.proxies {
        out.push(col(
            super::column(&p.name, &p.unit),
            ColumnType::Number,
            p.unit.symbol(),
            format!("proxy `{}`; empty when it could not be computed", p.name),
        ));
    }
    if let Some(probe) = probe(c) {
        let coil = c.devices.get(probe.coil).map_or("?", |d| d.name.as_str());
        for (k, point) in probe.points.iter().enumerate() {
            let at = format!("at point {} ({} along `{coil}`)", k + 1, point.label());
            out.push(col(
                format!("point{}.residence [s]", k + 1),
                ColumnType::Number,
                "s",
                format!("the residence time {at}, at the rates in effect"),
            ));
            for p in &c.proxies {
                out.push(col(
                    super::column(&format!("point{}.{}", k + 1, p.name), &p.unit),
                    ColumnType::Number,
                    p.unit.symbol(),
                    format!(
                        "proxy `{}` {at}; empty when it could not be computed",
                        p.name
                    ),
                ));
            }
        }
    }
    for o in &c.objectives.list {
        out.push(col(
            format!("desirability:{}", o.name),
            ColumnType::Number,
            "",
            format!("the desirability of objective `{}`, 0 .. 1", o.name),
        ));
    }
    if !c.objectives.list.is_empty() {
        out.push(col(
            "objective".into(),
            ColumnType::Number,
            "",
            "the combined score (empty for failures and Pareto campaigns)".into(),
        ));
        if c.objectives.combine == Combine::Pareto {
            out.push(col(
                "pareto_front".into(),
                ColumnType::Boolean,
                "",
                "on the Pareto front of the finished experiments".into(),
            ));
            let unit = crate::record::hypervolume_unit(c);
            out.push(col(
                if unit.is_empty() {
                    "hypervolume".to_owned()
                } else {
                    format!("hypervolume [{unit}]")
                },
                ColumnType::Number,
                &unit,
                "the hypervolume of the Pareto front of this and every earlier finished \
                 experiment, against the campaign's reference point or, without one, the \
                 worst observed value of each objective less 10 % of its observed range \
                 (the report states the point)"
                    .into(),
            ));
        }
    }
    out.push(col(
        "lab_time_start [s]".into(),
        ColumnType::Number,
        "s",
        "lab time when it was suggested".into(),
    ));
    out.push(col(
        "lab_time_end [s]".into(),
        ColumnType::Number,
        "s",
        "lab time when it was measured; empty while unfinished".into(),
    ));
    out.push(col(
        "reason".into(),
        ColumnType::String,
        "",
        "why it is not ok, or which proxies of an ok experiment are missing".into(),
    ));
    out
}

/// The measurement's probe, if it reads several points.
fn probe(c: &Campaign) -> Option<&crate::validate::campaign::Probe> {
    c.measurement.as_ref().and_then(|m| m.probe.as_ref())
}

/// The derived device settings, with their ids, in the campaign's order.
pub fn settings(c: &Campaign) -> Vec<(usize, &Derived)> {
    c.derived
        .iter()
        .enumerate()
        .filter(|(_, d)| matches!(d.target, DerivedTarget::Setting { .. }))
        .collect()
}

/// The text of `observations.csv`.
pub fn write(c: &Campaign, experiments: &[Experiment], scores: &BTreeMap<u64, Score>) -> String {
    let settings = settings(c);
    let pareto = c.objectives.combine == Combine::Pareto;
    let hypervolume = crate::record::hypervolume(c, experiments, scores);
    let plain = DisplayUnit::plain();
    let number = |x: f64| plain.number(x);
    let header: Vec<String> = columns(c).into_iter().map(|col| col.header).collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = w.write_record(&header);
    for e in experiments {
        let outcome = e.outcome.as_ref();
        let mut cells = vec![
            e.id.to_string(),
            outcome.map_or("unfinished", |o| o.status.name()).to_owned(),
        ];
        if c.topology.lines.len() > 1 {
            cells.push(e.line.clone().unwrap_or_default());
        }
        for (k, x) in e.measured_point(c).iter().enumerate() {
            cells.push(variable_cell(c, k, *x));
        }
        for (k, d) in &settings {
            cells.push(
                outcome
                    .and_then(|o| o.settings.get(k))
                    .map_or_else(String::new, |v| d.unit.number(*v)),
            );
        }
        for (k, p) in c.proxies.iter().enumerate() {
            cells.push(
                outcome
                    .and_then(|o| o.proxies.get(k).copied().flatten())
                    .map_or_else(String::new, |v| p.unit.number(v)),
            );
        }
        if let Some(probe) = probe(c) {
            for k in 0..probe.points.len() {
                let point = outcome.and_then(|o| o.points.get(k));
                cells.push(
                    point
                        .map(|p| p.residence)
                        .filter(|t| t.is_finite())
                        .map_or_else(String::new, number),
                );
                for (j, p) in c.proxies.iter().enumerate() {
                    cells.push(
                        point
                            .and_then(|pt| pt.proxies.get(j).copied().flatten())
                            .map_or_else(String::new, |v| p.unit.number(v)),
                    );
                }
            }
        }
        if !c.objectives.list.is_empty() {
            let score = scores.get(&e.id);
            for k in 0..c.objectives.list.len() {
                cells.push(
                    score
                        .and_then(|s| s.desirabilities.get(k).copied().flatten())
                        .map_or_else(String::new, number),
                );
            }
            cells.push(
                score
                    .and_then(|s| s.combined)
                    .map_or_else(String::new, number),
            );
            if pareto {
                cells.push(score.map_or_else(String::new, |s| s.on_front.to_string()));
                cells.push(
                    hypervolume
                        .as_ref()
                        .and_then(|h| h.by_experiment.get(&e.id))
                        .map_or_else(String::new, |v| number(*v)),
                );
            }
        }
        cells.push(number(e.started));
        cells.push(e.ended.map_or_else(String::new, number));
        cells.push(outcome.and_then(|o| o.reason.clone()).unwrap_or_default());
        let _ = w.write_record(&cells);
    }
    w.into_inner()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}
