//! The conditions of each spectrum of a transient (ramped) experiment, from the journal.
//!
//! A ramp moves the total flow; spectra are taken all the time. Under plug flow the fluid
//! element in the cell at time `t` entered the mixer at `t_e` such that the volume pumped in
//! between equals the volume from the mixer to the cell, `∫_{t_e}^{t} Q dt = V`; its
//! residence time is `t − t_e`. Validation proved that every pump rate is proportional to the
//! ramped variable, so the composition is the same for every element and its conditions are
//! its residence time alone: the ramped variable's *equivalent* value, the one whose steady
//! flow gives the same residence time, is `x_start · (V / residence) / Q_start`.
//!
//! Invariant: everything here is read from journal events (the rate commands and the
//! `acquired` records, with their times), never from the plan, so a resumed or faulted run,
//! whose commands were not the plan's, maps its spectra as they were taken. The runtime calls
//! [`map`] on the very events it journals; a reader of a bundle calls it on `journal.jsonl`.

use std::collections::BTreeMap;

use crate::journal::Event;
use crate::plan::Command;
use crate::validate::campaign::{Campaign, Transient};

/// Where one reading's fluid element came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    pub tick: u32,
    /// The middle of its acquisitions, s.
    pub acquired: f64,
    /// When the element entered the mixer, s.
    pub entry: f64,
    /// Its residence time from the mixer to the cell, s.
    pub residence: f64,
    /// The ramped variable's equivalent steady-state value, SI.
    pub value: f64,
}

/// The pump and the rate a journaled command leaves it at, m³/s (a stop or a refill: 0);
/// `None` for any other record.
pub(crate) fn rate_set(e: &Event) -> Option<(&str, f64)> {
    let Event::Command {
        device, command, ..
    } = e
    else {
        return None;
    };
    match command {
        Command::SetRate { rate } => Some((device.as_str(), *rate)),
        Command::Stop | Command::Refill { .. } => Some((device.as_str(), 0.0)),
        _ => None,
    }
}

/// The total flow from each time on, m³/s: `(t, Q)` in time order, from the pumps' rate
/// commands.
fn total_flows<'e>(events: impl Iterator<Item = (f64, &'e Event)>) -> Vec<(f64, f64)> {
    let mut rates: BTreeMap<&str, f64> = BTreeMap::new();
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (t, e) in events {
        let Some((device, rate)) = rate_set(e) else {
            continue;
        };
        rates.insert(device, rate);
        let total = rates.values().sum();
        match out.last_mut() {
            Some(last) if last.0 == t => last.1 = total,
            _ => out.push((t, total)),
        }
    }
    out
}

/// The total flow in effect at `t`, m³/s (0 before the first command).
fn flow_at(flows: &[(f64, f64)], t: f64) -> f64 {
    flows
        .iter()
        .take_while(|(start, _)| *start <= t)
        .last()
        .map_or(0.0, |f| f.1)
}

/// The time `t_e` at which `volume` had still to be pumped before `t` (`∫_{t_e}^{t} Q = V`),
/// or `None` when the flows known do not reach back that far.
fn entry_time(flows: &[(f64, f64)], t: f64, volume: f64) -> Option<f64> {
    let mut left = volume;
    let mut end = t;
    for (start, q) in flows.iter().rev() {
        if *start >= end {
            continue;
        }
        let moved = q * (end - start);
        if *q > 0.0 && moved >= left {
            return Some(end - left / q);
        }
        left -= moved;
        end = *start;
    }
    None
}

/// The conditions of every reading of experiment `experiment`'s ramp, from its journal
/// events `(t, event)` in time order (the whole journal may be passed: only this experiment's
/// rate commands and acquisitions are read, and the last acquisition of each reading counts,
/// so readings taken again after a fault map to when they were really taken). A reading
/// whose element entered before the experiment's first rate command is left out (validation
/// requires a steady state of at least one reactor volume, so none is).
pub fn map<'e>(
    c: &Campaign,
    t: &Transient,
    experiment: u64,
    events: impl Iterator<Item = (f64, &'e Event)> + Clone,
) -> Vec<Mapped> {
    let Some(volume) = c.topology.reactor_volume.filter(|v| *v > 0.0) else {
        return Vec::new();
    };
    let ours = events.filter(move |(_, e)| match e {
        Event::Command {
            experiment: Some(x),
            ..
        }
        | Event::Acquired { experiment: x, .. } => *x == experiment,
        _ => false,
    });
    let flows = total_flows(ours.clone());
    // Each acquisition's scan time, from the campaign's channels (the record is written when
    // it ends); a reading's time is the middle of its acquisitions.
    let scan = |kind| {
        c.measurement
            .as_ref()
            .and_then(|m| m.channels.iter().find(|ch| ch.kind == kind))
            .map_or(0.0, |ch| ch.integration * f64::from(ch.averages))
    };
    let mut spans: BTreeMap<u32, BTreeMap<_, (f64, f64)>> = BTreeMap::new();
    for (at, e) in ours {
        if let Event::Acquired {
            channel,
            tick: Some(k),
            ..
        } = e
        {
            spans
                .entry(*k)
                .or_default()
                .insert(*channel, (at - scan(*channel), at));
        }
    }
    // The flow of the ramp's start: the one in effect at its first reading (the pumps may
    // have stood still earlier in the experiment, while a temperature settled).
    let first = spans
        .values()
        .next()
        .and_then(|ch| ch.values().map(|s| s.0).reduce(f64::min));
    let start_flow = first.map_or(0.0, |at| flow_at(&flows, at));
    let bounds = c.variables.get(t.variable).and_then(|v| v.bounds());
    spans
        .into_iter()
        .filter_map(|(tick, channels)| {
            let a = channels.values().map(|s| s.0).fold(f64::INFINITY, f64::min);
            let b = channels
                .values()
                .map(|s| s.1)
                .fold(f64::NEG_INFINITY, f64::max);
            let acquired = 0.5 * (a + b);
            let entry = entry_time(&flows, acquired, volume)?;
            let residence = acquired - entry;
            if !(residence > 0.0 && start_flow > 0.0) {
                return None;
            }
            // The time average of the variable over the transit lies between the ramp's ends;
            // only rounding can take it past the variable's bounds.
            let value = t.from * (volume / residence) / start_flow;
            let value = bounds.map_or(value, |(lo, hi)| value.clamp(lo, hi));
            Some(Mapped {
                tick,
                acquired,
                entry,
                residence,
                value,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_time_integrates_the_flow_back_over_the_reactor_volume() {
        // 1 uL/s for 10 s, then 2 uL/s: 6 uL before t = 12 s is 4 uL at 2 uL/s (2 s), then
        // 2 uL at 1 uL/s (2 s): entry at 8 s.
        let flows = [(0.0, 1e-9), (10.0, 2e-9)];
        let e = entry_time(&flows, 12.0, 6e-9).expect("reaches back");
        assert!((e - 8.0).abs() < 1e-9, "{e}");
        // Within the last segment alone.
        let e = entry_time(&flows, 12.0, 2e-9).expect("reaches back");
        assert!((e - 11.0).abs() < 1e-9, "{e}");
        // Not enough history.
        assert_eq!(entry_time(&flows, 12.0, 20e-9), None);
        // A stop holds the element in place: no flow for 5 s adds 5 s of residence.
        let flows = [(0.0, 1e-9), (10.0, 0.0), (15.0, 1e-9)];
        let e = entry_time(&flows, 17.0, 4e-9).expect("reaches back");
        assert!((e - 8.0).abs() < 1e-9, "{e}");
    }
}
