//! `transient.csv`: one row per reading of a transient experiment's ramp, with the conditions
//! its spectrum maps to (computed from the journal, `crate::transient`) and its proxies.
//!
//! Columns, in order: `experiment`; `tick` (the reading of the ramp, from 0; its spectra are
//! the `spectra.csv` rows with this experiment and tick); `acquired [s]` (lab time at the
//! middle of its acquisitions); `entry [s]` (when the fluid it read entered the mixer);
//! `residence [s]` (from the mixer to the cell; under `residence axial_dispersion` the mean over
//! the fluid in the cell, followed by `residence spread [s]`, its standard deviation, a column
//! plug flow does not have); the ramped variable's equivalent
//! steady-state value in the campaign's unit (`total_flow [uL/min]`); one per proxy, empty
//! when it could not be computed. Only experiments that were measured have rows.

use super::observations::{Column, ColumnType};
use crate::record::Experiment;
use crate::validate::campaign::{Campaign, DisplayUnit, ResidenceModel, Transient};

/// The columns of `transient.csv`, in order.
pub fn columns(c: &Campaign, t: &Transient) -> Vec<Column> {
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
            "the experiment's id (observations.csv)".into(),
        ),
        col(
            "tick".into(),
            ColumnType::Integer,
            "",
            "the reading of the ramp, from 0".into(),
        ),
        col(
            "acquired [s]".into(),
            ColumnType::Number,
            "s",
            "lab time at the middle of the reading's acquisitions".into(),
        ),
        col(
            "entry [s]".into(),
            ColumnType::Number,
            "s",
            match t.residence {
                ResidenceModel::PlugFlow => "lab time when the fluid it read entered the mixer (plug flow, from the journaled rates)",
                ResidenceModel::AxialDispersion(_) => "lab time when the fluid it read entered the mixer, on average (axial dispersion, from the journaled rates)",
            }
            .into(),
        ),
        col(
            "residence [s]".into(),
            ColumnType::Number,
            "s",
            match t.residence {
                ResidenceModel::PlugFlow => "the fluid's time from the mixer to the cell",
                ResidenceModel::AxialDispersion(_) => {
                    "the mean time from the mixer to the cell of the fluid it read"
                }
            }
            .into(),
        ),
    ];
    if dispersed(t) {
        out.push(col(
            "residence spread [s]".into(),
            ColumnType::Number,
            "s",
            "the standard deviation of the residence times of the fluid it read (axial dispersion)"
                .into(),
        ));
    }
    if let Some(v) = c.variables.get(t.variable) {
        out.push(col(
            super::column(&v.name, &v.unit),
            ColumnType::Number,
            v.unit.symbol(),
            format!(
                "the ramped variable `{}` at which a steady flow gives this residence time",
                v.name
            ),
        ));
    }
    for p in &c.proxies {
        out.push(col(
            super::column(&p.name, &p.unit),
            ColumnType::Number,
            p.unit.symbol(),
            format!(
                "proxy `{}` of the reading; empty when it could not be computed",
                p.name
            ),
        ));
    }
    out
}

/// Whether the mapping is dispersed, and so `transient.csv` has the spread column.
fn dispersed(t: &Transient) -> bool {
    matches!(t.residence, ResidenceModel::AxialDispersion(_))
}

/// The text of `transient.csv`.
pub fn write(c: &Campaign, t: &Transient, experiments: &[Experiment]) -> String {
    let seconds = DisplayUnit::of("s");
    let unit = c
        .variables
        .get(t.variable)
        .map_or_else(DisplayUnit::plain, |v| v.unit.clone());
    let mut w = csv::Writer::from_writer(Vec::new());
    let header: Vec<String> = columns(c, t).into_iter().map(|col| col.header).collect();
    // Writing to memory cannot fail.
    let _ = w.write_record(&header);
    for e in experiments {
        for tick in e.outcome.iter().flat_map(|o| o.ticks.iter()) {
            let mut row = vec![
                e.id.to_string(),
                tick.tick.to_string(),
                seconds.number(tick.acquired),
                seconds.number(tick.entry),
                seconds.number(tick.residence),
            ];
            if dispersed(t) {
                row.push(seconds.number(tick.spread));
            }
            row.push(unit.number(tick.value));
            row.extend(
                c.proxies
                    .iter()
                    .zip(&tick.proxies)
                    .map(|(p, v)| v.map_or_else(String::new, |x| p.unit.number(x))),
            );
            let _ = w.write_record(&row);
        }
    }
    w.into_inner()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}
