//! Which reading of a droplets (segmented-flow) experiment is which droplet, from the journal.
//!
//! The plan makes droplets by turns: the reagent pumps alone for one droplet's volume, then
//! the carrier alone for the spacing. In the cumulative volume pumped, `V(t) = ∫ Q dt`, each
//! stretch in which reagents ran and the carrier did not is one droplet `[v_a, v_b]`: its
//! volume is `v_b − v_a`, it left the mixer (its middle did) when `V = (v_a + v_b) / 2`, and
//! segmented flow has no axial dispersion, so it reaches the cell when one more reactor
//! volume has been pumped. A stop (`hold`) adds its length to every droplet in the reactor.
//! Readings are told droplet or carrier by the detection threshold; each run of droplet
//! readings is matched to the droplet due at the cell nearest its middle, and the run's
//! reading nearest that time is the droplet's spectrum. A droplet no run matches is reported
//! missing (no spectrum), never filled in.
//!
//! Invariant: everything here is read from journal events (the rate commands and the
//! `acquired` records, with their times) and the readings' detection values, never from the
//! plan, so a faulted or resumed experiment maps the droplets it really made.

use std::collections::BTreeMap;

use crate::journal::Event;
use crate::validate::campaign::{Campaign, Droplets};

/// One droplet as the journal tells it, and the reading that saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Droplet {
    /// Its place in the train, from 0.
    pub index: u32,
    /// Its volume as pumped, m³.
    pub volume: f64,
    /// When its middle left the mixer, s.
    pub entry: f64,
    /// When its middle reached the cell, s.
    pub arrival: f64,
    /// From the mixer to the cell, s.
    pub residence: f64,
    /// The reading taken as its spectrum (`None`: not detected).
    pub tick: Option<u32>,
    /// How many readings were above the threshold in its run.
    pub readings: u32,
}

/// The volume pumped in total and with reagents only (carrier stopped), as time segments:
/// `(start, total flow, reagents only)`.
fn segments<'e>(
    c: &Campaign,
    d: &Droplets,
    events: impl Iterator<Item = (f64, &'e Event)>,
) -> Vec<(f64, f64, bool)> {
    let carrier = c.devices.get(d.carrier).map(|x| x.name.as_str());
    let mut rates: BTreeMap<&str, f64> = BTreeMap::new();
    let mut out: Vec<(f64, f64, bool)> = Vec::new();
    for (t, e) in events {
        let Some((device, rate)) = crate::transient::rate_set(e) else {
            continue;
        };
        rates.insert(device, rate);
        let total: f64 = rates.values().sum();
        let carried = rates
            .iter()
            .any(|(name, r)| Some(*name) == carrier && *r > 0.0);
        let segment = (t, total, total > 0.0 && !carried);
        match out.last_mut() {
            Some(last) if last.0 == t => *last = segment,
            _ => out.push(segment),
        }
    }
    out
}

/// The time the cumulative volume reached `v`, given the segments with their cumulative
/// volume at each start; `None` if the journal's flows never pumped that much.
fn time_of(cumulative: &[(f64, f64, f64)], v: f64) -> Option<f64> {
    cumulative
        .iter()
        .enumerate()
        .find_map(|(k, (start, q, at))| {
            let end = cumulative.get(k + 1).map(|n| n.2);
            let reaches = end.map_or(*q > 0.0, |e| e >= v);
            (*at <= v && reaches && *q > 0.0).then(|| start + (v - at) / q)
        })
}

/// The droplets of experiment `experiment` and the reading of each, from its journal events
/// `(t, event)` in time order and each reading's detection value (the detection channel,
/// processed, at the detection wavelength), by tick.
pub fn map<'e>(
    c: &Campaign,
    d: &Droplets,
    experiment: u64,
    events: impl Iterator<Item = (f64, &'e Event)> + Clone,
    detected: &BTreeMap<u32, f64>,
) -> Vec<Droplet> {
    // The reactor volume runs to the cell's outlet; a droplet is read at the cell's middle.
    let cell = c
        .topology
        .ways
        .first()
        .and_then(|w| w.segments.last())
        .map_or(0.0, |s| s.volume);
    let Some(reactor) = c
        .topology
        .reactor_volume
        .map(|v| v - 0.5 * cell)
        .filter(|v| *v > 0.0)
    else {
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
    // Cumulative volume at each segment's start, and each droplet's volume interval.
    let mut cumulative: Vec<(f64, f64, f64)> = Vec::new();
    let mut drops: Vec<(f64, f64)> = Vec::new();
    let mut v = 0.0;
    let segs = segments(c, d, ours.clone());
    for (k, (start, q, reagents)) in segs.iter().enumerate() {
        cumulative.push((*start, *q, v));
        let end = segs.get(k + 1).map(|n| n.0);
        let moved = end.map_or(0.0, |e| q * (e - start));
        if *reagents {
            match drops.last_mut() {
                // A reagent stretch that goes on after a stop is the same droplet.
                Some(last) if (last.1 - v).abs() <= 1e-15 => last.1 = v + moved,
                _ => drops.push((v, v + moved)),
            }
        }
        v += moved;
    }
    // Each reading's time: the middle of its acquisitions (the record is written when it
    // ends), as in `crate::transient`.
    let scan = |kind| {
        c.measurement
            .as_ref()
            .and_then(|m| m.channels.iter().find(|ch| ch.kind == kind))
            .map_or(0.0, |ch| ch.integration * f64::from(ch.averages))
    };
    let mut spans: BTreeMap<u32, (f64, f64)> = BTreeMap::new();
    for (at, e) in ours {
        if let Event::Acquired {
            channel,
            tick: Some(k),
            ..
        } = e
        {
            let s = spans
                .entry(*k)
                .or_insert((f64::INFINITY, f64::NEG_INFINITY));
            s.0 = s.0.min(at - scan(*channel));
            s.1 = s.1.max(at);
        }
    }
    let times: BTreeMap<u32, f64> = spans
        .into_iter()
        .map(|(k, (a, b))| (k, 0.5 * (a + b)))
        .collect();
    // Runs of consecutive readings above the threshold.
    let mut runs: Vec<Vec<u32>> = Vec::new();
    let mut last: Option<u32> = None;
    for (k, value) in detected {
        if *value > d.detect.above && times.contains_key(k) {
            match runs.last_mut() {
                Some(run) if last.is_some_and(|l| l + 1 == *k) => run.push(*k),
                _ => runs.push(vec![*k]),
            }
            last = Some(*k);
        }
    }
    let mut out: Vec<Droplet> = drops
        .iter()
        .enumerate()
        .filter_map(|(k, (a, b))| {
            let middle = 0.5 * (a + b);
            let entry = time_of(&cumulative, middle)?;
            let arrival = time_of(&cumulative, middle + reactor)?;
            Some(Droplet {
                index: u32::try_from(k).unwrap_or(u32::MAX),
                volume: b - a,
                entry,
                arrival,
                residence: arrival - entry,
                tick: None,
                readings: 0,
            })
        })
        .collect();
    for run in runs {
        let middle = run.iter().filter_map(|k| times.get(k)).sum::<f64>() / run.len() as f64;
        let Some(drop) = out.iter_mut().filter(|x| x.tick.is_none()).min_by(|x, y| {
            (x.arrival - middle)
                .abs()
                .total_cmp(&(y.arrival - middle).abs())
        }) else {
            continue;
        };
        drop.tick = run
            .iter()
            .filter_map(|k| Some((*k, times.get(k)?)))
            .min_by(|x, y| {
                (x.1 - drop.arrival)
                    .abs()
                    .total_cmp(&(y.1 - drop.arrival).abs())
            })
            .map(|(k, _)| k);
        drop.readings = u32::try_from(run.len()).unwrap_or(u32::MAX);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_of_volume_walks_the_segments_and_skips_stops() {
        // 1 m³/s from 0 to 10 s, stopped 10..20 s, 2 m³/s from 20 s.
        let cumulative = [(0.0, 1.0, 0.0), (10.0, 0.0, 10.0), (20.0, 2.0, 10.0)];
        assert_eq!(time_of(&cumulative, 5.0), Some(5.0));
        assert_eq!(time_of(&cumulative, 14.0), Some(22.0));
        // The stop holds the fluid: 10 m³ is reached at 10 s, before the stop.
        assert_eq!(time_of(&cumulative, 10.0), Some(10.0));
        let stopped = [(0.0, 1.0, 0.0), (10.0, 0.0, 10.0)];
        assert_eq!(time_of(&stopped, 12.0), None);
    }
}
