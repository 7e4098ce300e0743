//! The experiment record: each experiment of a run as its journal tells it.
//!
//! The runtime builds an experiment's [`Outcome`] and journals the experiment piece by piece
//! (`suggested`, `acquired`, `measured`); every view of a run — `observations.csv`,
//! `optimizer/suggestions.jsonl`, the report, `qdx replay`, a resumed run — reads the
//! experiments back from the journal's live records with [`read`], and from nothing else.
//!
//! Invariants: an experiment's settings are those sent to the lab and in effect while it was
//! measured (after rounding to what each device can run), never recomputed from its point;
//! proxies and settings are held by the campaign's ids in memory and by name in the journal,
//! converted here and only here; scores are computed once, by [`scores`], over every finished
//! experiment together (a desirability ramp without a range spans the values observed).

use std::collections::BTreeMap;

use qdx_optimize as opt;

pub use crate::journal::Status;
use crate::journal::{Command, Event, Record};
use crate::validate::campaign::{Campaign, ChannelKind, DerivedId, DerivedTarget, DeviceId, Drive};

/// What an experiment gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: Status,
    /// Why it is not `ok`, or which proxies of an `ok` experiment could not be computed.
    pub reason: Option<String>,
    /// One per proxy, in the campaign's order, SI; `None` where it could not be computed.
    pub proxies: Vec<Option<f64>>,
    /// What a virtual lab (a table, a script model) reported, by output name.
    pub readings: BTreeMap<String, f64>,
    /// The derived device settings in effect while the experiment was measured, as sent, SI.
    pub settings: BTreeMap<DerivedId, f64>,
    /// The lab recorded it as failed (a table's failed synthesis): a result, not a fault.
    pub recorded: bool,
    /// With a `probe`: what each point read, in the probe's order (`proxies` are the last
    /// point's). Empty without one.
    pub points: Vec<PointOutcome>,
    /// With a `transient` measurement: each reading of the ramp, the conditions it maps to and
    /// its proxies (`proxies` are the last reading's). Empty without one.
    pub ticks: Vec<TickOutcome>,
    /// With a `droplets` measurement: each droplet made, its conditions from the journal and
    /// its proxies (`proxies` are their mean over the detected droplets). Empty without one.
    pub droplets: Vec<DropletOutcome>,
}

/// One droplet: its conditions as the journal tells them (see `crate::droplet`) and every
/// proxy of its spectrum, SI (all `None` when no reading detected it).
#[derive(Debug, Clone, PartialEq)]
pub struct DropletOutcome {
    pub droplet: crate::droplet::Droplet,
    pub proxies: Vec<Option<f64>>,
}

/// One reading of a transient ramp: where and when its fluid element came from (see
/// `crate::transient`) and every proxy, SI.
#[derive(Debug, Clone, PartialEq)]
pub struct TickOutcome {
    pub tick: u32,
    pub acquired: f64,
    pub entry: f64,
    pub residence: f64,
    /// The standard deviation of the residence times in the cell, s (0 under plug flow).
    pub spread: f64,
    /// The ramped variable's equivalent steady-state value, SI.
    pub value: f64,
    pub proxies: Vec<Option<f64>>,
}

/// What one probe point read: its residence time (s) and every proxy there, SI.
#[derive(Debug, Clone, PartialEq)]
pub struct PointOutcome {
    pub residence: f64,
    /// One per proxy, in the campaign's order; `None` where it could not be computed.
    pub proxies: Vec<Option<f64>>,
}

impl Outcome {
    /// An experiment that failed before anything was measured.
    pub fn failure(
        c: &Campaign,
        status: Status,
        reason: String,
        settings: BTreeMap<DerivedId, f64>,
    ) -> Outcome {
        Outcome {
            status,
            reason: Some(reason),
            proxies: vec![None; c.proxies.len()],
            readings: BTreeMap::new(),
            settings,
            recorded: false,
            points: Vec::new(),
            ticks: Vec::new(),
            droplets: Vec::new(),
        }
    }

    /// The `measured` record of this outcome.
    pub fn event(&self, c: &Campaign, experiment: u64) -> Event {
        Event::Measured {
            experiment,
            status: self.status,
            reason: self.reason.clone(),
            proxies: named(c, &self.proxies),
            readings: self.readings.clone(),
            settings: self
                .settings
                .iter()
                .filter_map(|(d, v)| Some((c.derived.get(*d)?.name.clone(), *v)))
                .collect(),
            recorded: self.recorded,
            points: self
                .points
                .iter()
                .map(|p| crate::journal::PointMeasured {
                    residence: p.residence,
                    proxies: named(c, &p.proxies),
                })
                .collect(),
            ticks: self
                .ticks
                .iter()
                .map(|t| crate::journal::TickMeasured {
                    tick: t.tick,
                    acquired: t.acquired,
                    entry: t.entry,
                    residence: t.residence,
                    spread: t.spread,
                    value: t.value,
                    proxies: named(c, &t.proxies),
                })
                .collect(),
            droplets: self
                .droplets
                .iter()
                .map(|x| crate::journal::DropletMeasured {
                    droplet: x.droplet.index,
                    volume: x.droplet.volume,
                    entry: x.droplet.entry,
                    arrival: x.droplet.arrival,
                    residence: x.droplet.residence,
                    tick: x.droplet.tick,
                    readings: x.droplet.readings,
                    proxies: named(c, &x.proxies),
                })
                .collect(),
        }
    }

    /// The outcome a `measured` record holds (`None` for any other record).
    pub fn of_event(c: &Campaign, event: &Event) -> Option<Outcome> {
        let Event::Measured {
            status,
            reason,
            proxies,
            readings,
            settings,
            recorded,
            points,
            ticks,
            droplets,
            ..
        } = event
        else {
            return None;
        };
        Some(Outcome {
            status: *status,
            reason: reason.clone(),
            proxies: by_order(c, proxies),
            readings: readings.clone(),
            settings: c
                .derived
                .iter()
                .enumerate()
                .filter_map(|(k, d)| Some((k, *settings.get(&d.name)?)))
                .collect(),
            recorded: *recorded,
            points: points
                .iter()
                .map(|p| PointOutcome {
                    residence: p.residence,
                    proxies: by_order(c, &p.proxies),
                })
                .collect(),
            ticks: ticks
                .iter()
                .map(|t| TickOutcome {
                    tick: t.tick,
                    acquired: t.acquired,
                    entry: t.entry,
                    residence: t.residence,
                    spread: t.spread,
                    value: t.value,
                    proxies: by_order(c, &t.proxies),
                })
                .collect(),
            droplets: droplets
                .iter()
                .map(|x| DropletOutcome {
                    droplet: crate::droplet::Droplet {
                        index: x.droplet,
                        volume: x.volume,
                        entry: x.entry,
                        arrival: x.arrival,
                        residence: x.residence,
                        tick: x.tick,
                        readings: x.readings,
                    },
                    proxies: by_order(c, &x.proxies),
                })
                .collect(),
        })
    }

    /// Whether a replay's outcome is the journaled one (`self`). Journals written before
    /// settings were recorded hold none; their measurements are compared without them.
    pub fn replays_as(&self, replayed: &Outcome) -> bool {
        self.status == replayed.status
            && self.reason == replayed.reason
            && self.proxies == replayed.proxies
            && self.readings == replayed.readings
            && (self.settings.is_empty() || self.settings == replayed.settings)
            && self.points == replayed.points
            && self.ticks == replayed.ticks
            && self.droplets == replayed.droplets
    }

    /// What the optimizer learns from this outcome, at `point` (SI values of the variables):
    /// the one observation, or with a transient ramp one per reading, at the point with the
    /// ramped variable at the reading's equivalent value (a failed experiment: one failure,
    /// at the point). A reading whose proxies could not all be computed is told as measured
    /// with the ones it has.
    pub fn observations(&self, c: &Campaign, point: &[f64]) -> Vec<opt::Observation> {
        let ramp = c
            .measurement
            .as_ref()
            .and_then(|m| m.transient.as_ref())
            .map(|t| t.variable);
        match ramp {
            Some(x) if self.status.is_ok() && !self.ticks.is_empty() => self
                .ticks
                .iter()
                .map(|t| {
                    let mut at = point.to_vec();
                    if let Some(v) = at.get_mut(x) {
                        *v = t.value;
                    }
                    opt::Observation {
                        point: crate::validate::strategy::point(&c.variables, &at),
                        outcome: opt::Outcome::Measured(
                            c.proxies
                                .iter()
                                .zip(&t.proxies)
                                .filter_map(|(p, v)| Some((p.name.clone(), (*v)?)))
                                .collect(),
                        ),
                    }
                })
                .collect(),
            _ if self.status.is_ok() && self.droplets.iter().any(|x| x.droplet.tick.is_some()) => {
                // Every detected droplet is a reading of its own at the experiment's point.
                let at = crate::validate::strategy::point(&c.variables, point);
                self.droplets
                    .iter()
                    .filter(|x| x.droplet.tick.is_some())
                    .map(|x| opt::Observation {
                        point: at.clone(),
                        outcome: opt::Outcome::Measured(
                            c.proxies
                                .iter()
                                .zip(&x.proxies)
                                .filter_map(|(p, v)| Some((p.name.clone(), (*v)?)))
                                .collect(),
                        ),
                    })
                    .collect()
            }
            _ => vec![self.observation(c, point)],
        }
    }

    /// The point this outcome's `proxies` were measured at, from the suggested `point` (SI):
    /// the same, except that with a transient ramp the ramped variable is at the last
    /// reading's equivalent value (the suggested value never ran; every reading's is in
    /// `ticks`).
    pub fn measured_point(&self, c: &Campaign, point: &[f64]) -> Vec<f64> {
        let mut at = point.to_vec();
        if let (Some(x), Some(last)) = (
            c.measurement
                .as_ref()
                .and_then(|m| m.transient.as_ref())
                .map(|t| t.variable),
            self.ticks.last(),
        ) && let Some(v) = at.get_mut(x)
        {
            *v = last.value;
        }
        at
    }

    /// This outcome as one observation, at `point` (SI values of the variables); with a
    /// transient ramp, at its last reading (whose proxies are `proxies`), the ramped variable
    /// at that reading's equivalent value rather than the suggested one, which never ran.
    pub fn observation(&self, c: &Campaign, point: &[f64]) -> opt::Observation {
        let point = crate::validate::strategy::point(&c.variables, &self.measured_point(c, point));
        let outcome = if self.status.is_ok() {
            opt::Outcome::Measured(
                c.proxies
                    .iter()
                    .zip(&self.proxies)
                    .filter_map(|(p, v)| Some((p.name.clone(), (*v)?)))
                    .collect(),
            )
        } else {
            opt::Outcome::Failed {
                reason: self
                    .reason
                    .clone()
                    .unwrap_or_else(|| self.status.name().to_owned()),
            }
        };
        opt::Observation { point, outcome }
    }
}

/// Proxy values in the campaign's order, by name (as the journal holds them).
fn named(c: &Campaign, values: &[Option<f64>]) -> BTreeMap<String, Option<f64>> {
    c.proxies
        .iter()
        .zip(values)
        .map(|(p, v)| (p.name.clone(), *v))
        .collect()
}

/// Proxy values by name, in the campaign's order (`None` for a proxy the map lacks).
fn by_order(c: &Campaign, values: &BTreeMap<String, Option<f64>>) -> Vec<Option<f64>> {
    c.proxies
        .iter()
        .map(|p| values.get(&p.name).copied().flatten())
        .collect()
}

/// What each device was last told, folded from the commands sent to it: the settings in
/// effect. The runtime folds every command it sends (and journals) through [`Self::apply`];
/// an experiment's settings are this fold when it is measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InEffect {
    /// Pump rates, m³/s (0 once stopped or refilled).
    rates: BTreeMap<DeviceId, f64>,
    /// Heater setpoints, K.
    setpoints: BTreeMap<DeviceId, f64>,
    /// Valve positions.
    positions: BTreeMap<DeviceId, u16>,
}

impl InEffect {
    /// Takes in a command sent to `device`.
    pub fn apply(&mut self, device: DeviceId, command: &Command) {
        match command {
            Command::SetRate { rate } => {
                self.rates.insert(device, *rate);
            }
            // A refill withdraws, then leaves the pump stopped, infusing direction.
            Command::Stop | Command::Refill { .. } => {
                self.rates.insert(device, 0.0);
            }
            Command::SetSetpoint { kelvin } => {
                self.setpoints.insert(device, *kelvin);
            }
            Command::SetPosition { position, .. } => {
                self.positions.insert(device, *position);
            }
            Command::Acquire { .. }
            | Command::SetLight { .. }
            | Command::Discard { .. }
            | Command::MoveProbe { .. } => {}
        }
    }

    /// The campaign's derived device settings as they are in effect, by derived id; a setting
    /// nothing was sent for is absent.
    pub fn settings(&self, c: &Campaign) -> BTreeMap<DerivedId, f64> {
        c.derived
            .iter()
            .enumerate()
            .filter_map(|(k, d)| {
                let DerivedTarget::Setting { device, drive, .. } = &d.target else {
                    return None;
                };
                let value = match drive {
                    Drive::PumpRate => self.rates.get(device).copied(),
                    Drive::HeaterSetpoint => self.setpoints.get(device).copied(),
                    Drive::ValvePosition => self.positions.get(device).map(|p| f64::from(*p)),
                }?;
                Some((k, value))
            })
            .collect()
    }
}

/// A spectrum an experiment saved in the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSpectrum {
    pub channel: ChannelKind,
    /// From 0.
    pub replicate: u32,
    /// Path in the bundle (`spectra/e0003-absorbance-r0.csv`).
    pub file: String,
    /// The probe point it was taken at, from 0 (`None` without a `probe`).
    pub point: Option<u32>,
    /// The reading of a transient ramp it belongs to, from 0 (`None` without a `transient`).
    pub tick: Option<u32>,
    /// The calibration spectra it was processed with: the files of the last `calibrated`
    /// record before it (a `blank { every … }` takes new ones between experiments); empty
    /// when the run journaled none.
    pub calibration: Vec<String>,
}

/// One experiment of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    pub id: u64,
    /// The batch of suggestions it came in.
    pub batch: u64,
    /// The parallel line it ran on (`lines a, b`); `None` without lines.
    pub line: Option<String>,
    /// SI values of the variables (choices as level indices).
    pub point: Vec<f64>,
    /// The strategy's explanation of the suggestion.
    pub explain: serde_json::Value,
    /// Lab time when it was suggested, s.
    pub started: f64,
    /// Lab time when it was measured, s; `None` while unfinished.
    pub ended: Option<f64>,
    /// `None` while unfinished.
    pub outcome: Option<Outcome>,
    pub spectra: Vec<SavedSpectrum>,
}

impl Experiment {
    /// The point its proxies were measured at (SI; choices as level indices): the suggested
    /// one, with a transient ramp's variable at the last reading's value (see
    /// [`Outcome::measured_point`]). What every table and plot pairs with the proxies.
    pub fn measured_point(&self, c: &Campaign) -> Vec<f64> {
        match &self.outcome {
            Some(o) => o.measured_point(c, &self.point),
            None => self.point.clone(),
        }
    }

    /// The finished experiment as the optimizer receives it.
    pub fn observation(&self, c: &Campaign) -> Option<opt::Observation> {
        Some(self.outcome.as_ref()?.observation(c, &self.point))
    }

    /// What the optimizer is told of it (nothing before it is measured): one observation, or
    /// one per reading of a transient ramp.
    pub fn observations(&self, c: &Campaign) -> Vec<opt::Observation> {
        self.outcome
            .as_ref()
            .map(|o| o.observations(c, &self.point))
            .unwrap_or_default()
    }
}

/// Every experiment of a journal's records, by id. Pass the live records
/// ([`crate::journal::live`]): a later suggestion of the same experiment (after a resume)
/// replaces an earlier one.
pub fn read(c: &Campaign, records: &[Record]) -> Vec<Experiment> {
    let mut out: BTreeMap<u64, Experiment> = BTreeMap::new();
    // The calibration in effect on each parallel line (`None`: the campaign has no lines).
    let mut calibration: BTreeMap<Option<String>, &[String]> = BTreeMap::new();
    for r in records {
        match &r.event {
            Event::Calibrated { line, files, .. } => {
                calibration.insert(line.clone(), files);
            }
            Event::Suggested {
                experiment,
                batch,
                line,
                values,
                explain,
            } => {
                out.insert(
                    *experiment,
                    Experiment {
                        id: *experiment,
                        batch: *batch,
                        line: line.clone(),
                        point: values.clone(),
                        explain: explain.clone(),
                        started: r.t,
                        ended: None,
                        outcome: None,
                        spectra: Vec::new(),
                    },
                );
            }
            Event::Acquired {
                experiment,
                channel,
                replicate,
                file,
                point,
                tick,
            } => {
                if let Some(e) = out.get_mut(experiment) {
                    e.spectra.push(SavedSpectrum {
                        channel: *channel,
                        replicate: *replicate,
                        file: file.clone(),
                        point: *point,
                        tick: *tick,
                        calibration: calibration
                            .get(&e.line)
                            .map(|f| f.to_vec())
                            .unwrap_or_default(),
                    });
                }
            }
            Event::Measured { experiment, .. } => {
                if let Some(e) = out.get_mut(experiment) {
                    e.ended = Some(r.t);
                    e.outcome = Outcome::of_event(c, &r.event);
                }
            }
            _ => {}
        }
    }
    out.into_values().collect()
}

/// The objective scores of the finished experiments, computed over all of them together, by
/// experiment id. Empty when the campaign has no objective.
pub fn scores(c: &Campaign, experiments: &[Experiment]) -> BTreeMap<u64, opt::Score> {
    if c.objectives.list.is_empty() {
        return BTreeMap::new();
    }
    let finished: Vec<(u64, opt::Observation)> = experiments
        .iter()
        .filter_map(|e| Some((e.id, e.observation(c)?)))
        .collect();
    let observations: Vec<opt::Observation> = finished.iter().map(|(_, o)| o.clone()).collect();
    finished
        .iter()
        .map(|(id, _)| *id)
        .zip(c.search.objectives.score(&observations))
        .collect()
}

/// The hypervolume of a Pareto campaign's front as the campaign went: after each finished
/// experiment, the hypervolume of the front of it and every finished experiment before it.
#[derive(Debug, Clone, PartialEq)]
pub struct Hypervolume {
    /// The reference point in `qdx-optimize`'s utility space (SI), one per objective.
    pub reference: Vec<f64>,
    /// Whether the campaign declares it (`combine pareto { reference { … } }`); otherwise it
    /// is the worst observed utility of each objective less 10 % of its observed range.
    pub declared: bool,
    /// By experiment id, in the unit [`Hypervolume::unit`] names.
    pub by_experiment: BTreeMap<u64, f64>,
    /// The product of the units of the objectives that are maximised or minimised (a target
    /// or a one-sided goal's utility is a plain number), `""` when there is none.
    pub unit: String,
}

/// The hypervolume of a Pareto campaign after each finished experiment (`None` for other
/// campaigns, or before any experiment has a value for every objective), from the
/// utilities `scores` holds ([`scores`]), in the campaign's units: a maximised or minimised
/// objective's utility is its value, which the campaign writes in its unit.
pub fn hypervolume(
    c: &Campaign,
    experiments: &[Experiment],
    scores: &BTreeMap<u64, opt::Score>,
) -> Option<Hypervolume> {
    use crate::validate::campaign::{Combine, Goal};
    if c.objectives.combine != Combine::Pareto || c.objectives.list.len() < 2 {
        return None;
    }
    let finished: Vec<opt::Observation> = experiments
        .iter()
        .filter_map(|e| e.observation(c))
        .collect();
    let reference = c.search.objectives.reference_point_for(&finished)?;
    // Each utility axis in the campaign's unit: a difference of values scales by the unit's
    // factor (offsets, as between K and degC, cancel in a hypervolume).
    let factors: Vec<f64> = c
        .objectives
        .list
        .iter()
        .map(|o| match o.goal {
            Goal::Maximize | Goal::Minimize => (o.unit.from_si(1.0) - o.unit.from_si(0.0)).abs(),
            _ => 1.0,
        })
        .collect();
    let factor: f64 = factors.iter().product();
    let unit = hypervolume_unit(c);
    let mut points: Vec<Vec<f64>> = Vec::new();
    let mut by_experiment = BTreeMap::new();
    for e in experiments.iter().filter(|e| e.outcome.is_some()) {
        if let Some(u) = scores
            .get(&e.id)
            .and_then(|s| s.utilities.iter().copied().collect::<Option<Vec<f64>>>())
        {
            points.push(u);
        }
        by_experiment.insert(e.id, opt::pareto::hypervolume(&points, &reference) * factor);
    }
    Some(Hypervolume {
        reference,
        declared: c.objectives.reference_point.is_some(),
        by_experiment,
        unit,
    })
}

/// The unit of a Pareto campaign's hypervolume: the product of the units of the objectives
/// that are maximised or minimised (`nm·uL/min`), `""` when there is none.
pub fn hypervolume_unit(c: &Campaign) -> String {
    use crate::validate::campaign::Goal;
    c.objectives
        .list
        .iter()
        .filter(|o| matches!(o.goal, Goal::Maximize | Goal::Minimize))
        .map(|o| o.unit.symbol())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("·")
}
