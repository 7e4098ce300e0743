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
//! Under axial dispersion (`residence axial_dispersion`) the cell holds a spread of elements
//! around the plug-flow one. The model is the dispersion model of a tube for small
//! deviations from plug flow (O. Levenspiel, *Chemical Reaction Engineering*, 3rd ed., 1999,
//! ch. 13, "small extent of dispersion": `E(θ) = exp(−(1−θ)²/4d) / √(4πd)`, mean residence
//! `V/Q`, variance `σ²_θ = 2d` with the dispersion number `d = D/uL`), with the dispersion
//! coefficient `D` declared, from Taylor–Aris for laminar flow in a tube (G. I. Taylor, Proc.
//! R. Soc. A 219, 1953; R. Aris, Proc. R. Soc. A 235, 1956: `D = Dm + u²d²/192Dm`), or from
//! a declared Péclet number. Under time-varying flow it is written in the volume pumped, the
//! coordinate in which the flow's own speed drops out: `c_τ + c_ξ = (D A²/Q) c_ξξ`, with
//! `τ = ∫Q dt` and `ξ` the volume along the path. An element is carried one volume per volume
//! pumped and spreads about that by the variance `2A²∫D dt` it gains during its transit. So
//! the entry volumes of the fluid in the cell at `t` are normal about the plug-flow one,
//! `τ(t) − V`, with the variance `s²` that the plug-flow element gained from its entry to `t`
//! (at a steady flow exactly Levenspiel's `2d` in θ). Their entry times follow from the
//! journaled flows, and each spectrum records the mean residence time `t − t_e` over them
//! and its standard deviation (the spread); its equivalent value is read at the mean.
//! Elements whose entry would precede the flows journaled for the experiment are left out
//! and the rest renormalised (validation's steady state of at least one reactor volume puts
//! them several spreads away). This is an independent, published model: it shares nothing
//! with the simulated lab's segregated laminar streamlines (`qdx_sim::flow`).
//!
//! Invariant: everything here is read from journal events (the rate commands and the
//! `acquired` records, with their times), never from the plan, so a resumed or faulted run,
//! whose commands were not the plan's, maps its spectra as they were taken. The runtime calls
//! [`map`] on the very events it journals; a reader of a bundle calls it on `journal.jsonl`.

use std::collections::BTreeMap;

use crate::journal::Event;
use crate::plan::Command;
use crate::validate::campaign::{Campaign, Dispersion, ResidenceModel, Transient};

/// Where one reading's fluid element came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    pub tick: u32,
    /// The middle of its acquisitions, s.
    pub acquired: f64,
    /// When the element entered the mixer, s.
    pub entry: f64,
    /// Its residence time from the mixer to the cell, s (under dispersion: the mean over
    /// the fluid in the cell, and `entry` is `acquired − residence`).
    pub residence: f64,
    /// The standard deviation of the residence times of the fluid in the cell, s (0 under
    /// plug flow).
    pub spread: f64,
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

/// The journaled flows as cumulative volume: `τ(t) = ∫ Q dt` from the first command, and
/// back. Invariant: `t` increasing, `cum` non-decreasing, one entry per flow change.
struct Pumped {
    t: Vec<f64>,
    q: Vec<f64>,
    cum: Vec<f64>,
}

impl Pumped {
    fn new(flows: &[(f64, f64)]) -> Self {
        let mut cum = Vec::with_capacity(flows.len());
        let mut total = 0.0;
        for (k, (start, _)) in flows.iter().enumerate() {
            if let Some((prev, q)) = k.checked_sub(1).and_then(|j| flows.get(j)) {
                total += q * (start - prev);
            }
            cum.push(total);
        }
        Pumped {
            t: flows.iter().map(|f| f.0).collect(),
            q: flows.iter().map(|f| f.1).collect(),
            cum,
        }
    }

    /// The segment in effect at `t` (`None` before the first command).
    fn segment(&self, t: f64) -> Option<usize> {
        self.t.partition_point(|s| *s <= t).checked_sub(1)
    }

    /// Volume pumped from the first command to `t`.
    fn volume_at(&self, t: f64) -> Option<f64> {
        let k = self.segment(t)?;
        Some(self.cum.get(k)? + self.q.get(k)? * (t - self.t.get(k)?))
    }

    /// The time the pumped volume reached `v` (the earliest, were the flow stopped then);
    /// `None` at or before the first command, or when the last flow is stopped short of `v`.
    fn time_of(&self, v: f64) -> Option<f64> {
        if v.is_nan() || v < 0.0 {
            return None;
        }
        let k = self.cum.partition_point(|c| *c < v).checked_sub(1)?;
        let q = *self.q.get(k)?;
        if q <= 0.0 {
            return None;
        }
        Some(self.t.get(k)? + (v - self.cum.get(k)?) / q)
    }

    /// The variance (m⁶) an element gains from `from` to `to` under dispersion `d` through
    /// `volume`: the sum over the flow segments between.
    fn variance(&self, d: &Dispersion, from: f64, to: f64, volume: f64) -> f64 {
        let Some(mut k) = self.segment(from) else {
            return f64::NAN;
        };
        let mut total = 0.0;
        let mut a = from;
        while a < to {
            let Some(q) = self.q.get(k) else {
                return f64::NAN;
            };
            let b = self.t.get(k + 1).map_or(to, |next| next.min(to));
            total += d.variance_gain(*q, b - a, volume);
            a = b;
            k += 1;
        }
        total
    }
}

/// Quadrature of the entry-volume distribution: nodes at equal steps of the standard normal
/// over ±[`SPAN`] standard deviations (what lies beyond weighs below 1e-8).
const NODES: usize = 241;
const SPAN: f64 = 6.0;

/// The mean residence time and its standard deviation, s, of the fluid in the cell at `t`
/// under dispersion `d` (see the module doc); `None` when the flows do not reach back to the
/// plug-flow element's entry.
fn dispersed(p: &Pumped, d: &Dispersion, t: f64, volume: f64) -> Option<(f64, f64)> {
    let now = p.volume_at(t)?;
    let plug = p.time_of(now - volume)?;
    let s = p.variance(d, plug, t, volume).sqrt();
    if !s.is_finite() {
        return None;
    }
    let (mut w_sum, mut m1, mut m2) = (0.0, 0.0, 0.0);
    for k in 0..NODES {
        let z = -SPAN + 2.0 * SPAN * (k as f64 + 0.5) / NODES as f64;
        let w = (-0.5 * z * z).exp();
        // Fluid that entered after `t` or before the journaled flows does not count.
        let back = volume + s * z;
        let Some(entry) = (back > 0.0).then(|| p.time_of(now - back)).flatten() else {
            continue;
        };
        let r = t - entry;
        w_sum += w;
        m1 += w * r;
        m2 += w * r * r;
    }
    if w_sum <= 0.0 {
        return None;
    }
    let mean = m1 / w_sum;
    Some((mean, (m2 / w_sum - mean * mean).max(0.0).sqrt()))
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
    let pumped = Pumped::new(&flows);
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
            let (entry, residence, spread) = match t.residence {
                ResidenceModel::PlugFlow => {
                    let entry = entry_time(&flows, acquired, volume)?;
                    (entry, acquired - entry, 0.0)
                }
                ResidenceModel::AxialDispersion(d) => {
                    let (mean, sd) = dispersed(&pumped, &d, acquired, volume)?;
                    (acquired - mean, mean, sd)
                }
            };
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
                spread,
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

    /// Levenspiel's small-dispersion RTD at a steady flow: mean `V/Q`, variance
    /// `2 (D/uL) (V/Q)²`.
    fn steady(d: &Dispersion, q: f64, volume: f64) -> (f64, f64) {
        let p = Pumped::new(&[(0.0, q)]);
        // Long after the start, so the whole spread lies in the journaled history.
        let t = 20.0 * volume / q;
        dispersed(&p, d, t, volume).expect("the flows reach back")
    }

    #[test]
    fn at_a_steady_flow_the_mean_residence_is_v_over_q_and_the_variance_the_model_s() {
        let volume = 45e-9;
        let q = 40e-9 / 60.0;
        let tau = volume / q;
        let diameter = 0.5e-3;
        let area = std::f64::consts::PI * diameter * diameter / 4.0;
        let length = volume / area;
        let u = q / area;
        for (d, coefficient) in [
            (
                Dispersion::Coefficient {
                    coefficient: 2e-5,
                    diameter,
                },
                2e-5,
            ),
            (
                Dispersion::TaylorAris {
                    diffusivity: 1e-9,
                    diameter,
                },
                // Taylor–Aris by hand: Dm + u²d²/(192 Dm).
                1e-9 + u * u * diameter * diameter / (192.0 * 1e-9),
            ),
            (Dispersion::Peclet(60.0), u * length / 60.0),
        ] {
            let number = coefficient / (u * length);
            assert!(
                (d.number(q, volume) - number).abs() < 1e-9 * number,
                "{d:?}: {} against {number}",
                d.number(q, volume)
            );
            let (mean, sd) = steady(&d, q, volume);
            // Exact but for the far tail (beyond 4 standard deviations here) that would have
            // entered after the reading, which is left out.
            assert!(
                (mean - tau).abs() < 1e-4 * tau,
                "{d:?}: mean {mean} s, V/Q {tau} s"
            );
            let expected = (2.0 * number).sqrt() * tau;
            assert!(
                (sd - expected).abs() < 1e-3 * expected,
                "{d:?}: sd {sd} s, model {expected} s"
            );
        }
    }

    #[test]
    fn under_a_ramp_the_spread_follows_the_flow_and_vanishes_with_the_dispersion() {
        let volume = 10e-9;
        // 1 uL/s for 100 s, then 0.5 uL/s: read 15 s after the change.
        let flows = [(0.0, 1e-9), (100.0, 0.5e-9)];
        let p = Pumped::new(&flows);
        let plug = 115.0 - entry_time(&flows, 115.0, volume).expect("reaches back");
        // 7.5 uL at 0.5 uL/s (15 s), then 2.5 uL at 1 uL/s (2.5 s).
        assert!((plug - 17.5).abs() < 1e-9, "{plug}");
        let tiny = Dispersion::Peclet(1e9);
        let (mean, sd) = dispersed(&p, &tiny, 115.0, volume).expect("reaches back");
        assert!((mean - plug).abs() < 1e-3, "{mean} against plug {plug}");
        assert!(sd < 1e-3, "{sd}");
        // A real spread: the entry volumes are symmetric about the plug-flow one, but the
        // residence time is concave in the volume back from now (the last 7.5 uL entered at
        // the slower flow, 2 s each; earlier ones at 1 s each): the fluid that entered late
        // stayed less than a plug-flow extrapolation says, so the mean lies below plug flow.
        let (mean, sd) = dispersed(&p, &Dispersion::Peclet(50.0), 115.0, volume).expect("reaches");
        assert!(
            mean < plug && mean > plug - sd,
            "{mean} against plug {plug}, sd {sd}"
        );
        // The entry volumes spread by V·√(2/Pe) = 2 uL: 2 s at 1 uL/s, a little more with the
        // tenth of them that entered at 0.5 uL/s.
        assert!(sd > 2.0 && sd < 3.0, "{sd}");
        // Fluid entering before the journaled flows is left out, not invented: read just one
        // reactor volume after the start, only the later half of the spread counts.
        let (mean, _) = dispersed(&p, &Dispersion::Peclet(50.0), 10.5, volume).expect("reaches");
        assert!(mean < 10.0, "{mean}");
        assert_eq!(dispersed(&p, &Dispersion::Peclet(50.0), 9.0, volume), None);
    }
}
