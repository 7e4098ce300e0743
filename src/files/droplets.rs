//! `droplets.csv`: one row per droplet of a droplets (segmented-flow) experiment, with the
//! conditions the journal gives it (`crate::droplet`) and the proxies of its spectrum.
//!
//! Columns, in order: `experiment`; `droplet` (its place in the train, from 0); `tick` (the
//! reading taken as its spectrum: the `spectra.csv` rows with this experiment and tick, row
//! `tick` of the `spectra/e<NNNN>-ramp-<channel>.npy` arrays; empty when no reading detected
//! it); `readings` (how many readings were above the threshold as it passed); `volume [uL]` (as
//! pumped); `entry [s]` and `arrival [s]` (lab time when its middle left the mixer and reached
//! the cell); `residence [s]` (the time between, a stop included); one per proxy, empty when
//! it could not be computed. Only experiments that were measured have rows.

use super::observations::{Column, ColumnType};
use crate::record::Experiment;
use crate::validate::campaign::{Campaign, DisplayUnit};

/// The columns of `droplets.csv`, in order.
pub fn columns(c: &Campaign) -> Vec<Column> {
    let fixed = [
        (
            "experiment",
            ColumnType::Integer,
            "",
            "the experiment's id (observations.csv)",
        ),
        (
            "droplet",
            ColumnType::Integer,
            "",
            "its place in the train, from 0",
        ),
        (
            "tick",
            ColumnType::Integer,
            "",
            "the reading taken as its spectrum; empty when none detected it",
        ),
        (
            "readings",
            ColumnType::Integer,
            "",
            "readings above the detection threshold as it passed the cell",
        ),
        (
            "volume [uL]",
            ColumnType::Number,
            "uL",
            "its volume as pumped (from the journaled rate commands)",
        ),
        (
            "entry [s]",
            ColumnType::Number,
            "s",
            "lab time when its middle left the mixer",
        ),
        (
            "arrival [s]",
            ColumnType::Number,
            "s",
            "lab time when its middle reached the cell",
        ),
        (
            "residence [s]",
            ColumnType::Number,
            "s",
            "its time from the mixer to the cell, stops included",
        ),
    ];
    fixed
        .into_iter()
        .map(|(header, kind, unit, description)| Column {
            header: header.to_owned(),
            kind,
            unit: unit.to_owned(),
            description: description.to_owned(),
        })
        .chain(c.proxies.iter().map(|p| Column {
            header: super::column(&p.name, &p.unit),
            kind: ColumnType::Number,
            unit: p.unit.symbol().to_owned(),
            description: format!(
                "proxy `{}` of the droplet's spectrum; empty when it could not be computed",
                p.name
            ),
        }))
        .collect()
}

/// The text of `droplets.csv`.
pub fn write(c: &Campaign, experiments: &[Experiment]) -> String {
    let seconds = DisplayUnit::of("s");
    let microlitres = DisplayUnit::of("uL");
    let mut w = csv::Writer::from_writer(Vec::new());
    let header: Vec<String> = columns(c).into_iter().map(|col| col.header).collect();
    // Writing to memory cannot fail.
    let _ = w.write_record(&header);
    for e in experiments {
        for x in e.outcome.iter().flat_map(|o| o.droplets.iter()) {
            let d = &x.droplet;
            let mut row = vec![
                e.id.to_string(),
                d.index.to_string(),
                d.tick.map_or_else(String::new, |k| k.to_string()),
                d.readings.to_string(),
                microlitres.number(d.volume),
                seconds.number(d.entry),
                seconds.number(d.arrival),
                seconds.number(d.residence),
            ];
            row.extend(
                c.proxies
                    .iter()
                    .zip(&x.proxies)
                    .map(|(p, v)| v.map_or_else(String::new, |x| p.unit.number(x))),
            );
            let _ = w.write_record(&row);
        }
    }
    w.into_inner()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}
