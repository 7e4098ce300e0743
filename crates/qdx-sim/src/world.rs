//! The shared state of the simulated lab: pumps, heaters, valves, the flow history, and what
//! reaches each flow cell.
//!
//! The world is lazy: nothing ticks. Every device call first brings the world up to the clock's
//! `now` ([`World::advance`]), which replays pump motion since the last call and inserts the
//! moments syringes ran empty (a pump stops there, with an alarm). Questions about the past
//! (what was in the cell at the middle of an acquisition) are answered from the histories.
//!
//! Invariants: `last_update` never decreases; syringe volumes stay within 0..=capacity; the
//! flow history has one entry per change of any pump's delivered flow, in time order.

use std::collections::BTreeMap;

use qdx_lab::PumpDirection;
use rand_chacha::ChaCha8Rng;

use crate::chemistry::{BoundChemistry, Conditions};
use crate::config::{
    HeaterConfig, LightConfig, PressureSensorConfig, PumpConfig, SegmentKind, SimConfig,
    SpectrometerConfig, ValveConfig,
};
use crate::detector::Detector;
use crate::error::{SimError, SimResult};
use crate::flow::{FlowHistory, LAMINAR_POINTS, laminar_quantiles};
use crate::optics::Population;
use crate::rng::stream;
use crate::thermal::ThermalTrace;

/// A pump's state at `World::last_update`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PumpState {
    pub config: PumpConfig,
    pub rate: f64,
    pub direction: PumpDirection,
    pub running: bool,
    /// Liquid in the syringe, m³.
    pub volume: f64,
    pub infused: f64,
    pub withdrawn: f64,
    pub alarm: Option<String>,
}

impl PumpState {
    /// Flow delivered into the path, m³/s.
    fn delivered(&self) -> f64 {
        if self.running && self.direction == PumpDirection::Infuse {
            self.rate
        } else {
            0.0
        }
    }
}

/// A heater and its temperature history.
#[derive(Debug, Clone)]
pub(crate) struct HeaterState {
    pub config: HeaterConfig,
    pub trace: ThermalTrace,
}

/// A spectrometer's fixed parts and its noise stream.
#[derive(Debug)]
pub(crate) struct SpectrometerState {
    pub config: SpectrometerConfig,
    pub grid: Vec<f64>,
    /// Relative lamp spectrum per pixel (1 at its brightest).
    pub lamp: Vec<f64>,
    pub detector: Detector,
    pub noise: ChaCha8Rng,
    /// Volume from the mixer inlet to the middle of this spectrometer's flow cell, m³.
    pub cell_position: f64,
    /// Each pump's reference dye as this cell shows it undiluted (`None`: a reagent).
    pub dyes: Vec<Option<Population>>,
    /// Which lights were on before the first switch since the last scan (`None`: no switch
    /// since): the next scan was already integrating, so part of it saw those.
    pub lights_before: Option<Vec<bool>>,
    /// The integration time of the last scan, s: a scan at another time was already
    /// integrating at the old one when it was asked for (with lights only).
    pub last_integration: Option<f64>,
}

/// A light and whether it is on.
#[derive(Debug, Clone)]
pub(crate) struct LightState {
    pub config: LightConfig,
    /// Index into `World::spectrometers`.
    pub spectrometer: usize,
    pub on: bool,
}

/// A stretch of reactor coil along the path.
#[derive(Debug, Clone, PartialEq)]
struct CoilSpan {
    name: String,
    start: f64,
    end: f64,
    /// Index into `World::heaters`; ambient when `None`.
    heater: Option<usize>,
}

/// The simulated lab's state.
#[derive(Debug)]
pub(crate) struct World {
    pub ambient_k: f64,
    pub pumps: Vec<PumpState>,
    pub heaters: Vec<HeaterState>,
    pub spectrometers: Vec<SpectrometerState>,
    pub valves: Vec<(ValveConfig, u16)>,
    pub pressure_sensors: Vec<PressureSensorConfig>,
    pub lights: Vec<LightState>,
    pub flow: FlowHistory,
    coils: Vec<CoilSpan>,
    /// Droplets in a carrier: no axial dispersion ([`SimConfig::segmented`]).
    segmented: bool,
    pub chemistry: BoundChemistry,
    pub last_update: f64,
}

/// Relative spectrum of the broadband lamp (tungsten-halogen-like, with a deuterium floor in
/// the UV), 1 at its brightest.
pub(crate) fn lamp_shape(wavelength_nm: f64) -> f64 {
    0.25 + 0.75 * qdx_spectra::shapes::gaussian(wavelength_nm, 620.0, 450.0)
}

impl World {
    pub(crate) fn new(config: &SimConfig) -> SimResult<Self> {
        config.check()?;
        let heaters: Vec<HeaterState> = config
            .heaters
            .iter()
            .map(|h| HeaterState {
                config: h.clone(),
                trace: ThermalTrace::new(
                    config.ambient_k.clamp(h.min_k, h.max_k),
                    h.time_constant_s,
                ),
            })
            .collect();
        let mut position = 0.0;
        let mut coils = Vec::new();
        let mut cells: BTreeMap<String, f64> = BTreeMap::new();
        for seg in &config.flow_path {
            let start = position;
            position += seg.volume;
            match &seg.kind {
                SegmentKind::Coil { heater } => coils.push(CoilSpan {
                    name: seg.name.clone(),
                    start,
                    end: position,
                    heater: heater
                        .as_ref()
                        .and_then(|h| heaters.iter().position(|s| &s.config.name == h)),
                }),
                SegmentKind::FlowCell { spectrometers } => {
                    for s in spectrometers {
                        cells.insert(s.clone(), 0.5 * (start + position));
                    }
                }
                SegmentKind::Mixer | SegmentKind::Tubing => {}
            }
        }
        let spectrometers = config
            .spectrometers
            .iter()
            .map(|s| {
                // A SAXS camera's grid is q (1/nm), an optical spectrometer's a wavelength.
                let grid = match &s.saxs {
                    Some(x) => crate::scattering::q_grid(x.q_min_per_nm, x.q_max_per_nm, s.pixels),
                    None => qdx_spectra::shapes::linear_grid(s.min_nm, s.max_nm, s.pixels),
                };
                let lamp = grid.iter().map(|x| lamp_shape(*x)).collect();
                let mut pattern = stream(
                    config.seed,
                    &format!("spectrometer/{}/dark-pattern", s.name),
                );
                SpectrometerState {
                    detector: Detector::new(s, &mut pattern),
                    noise: stream(config.seed, &format!("spectrometer/{}/noise", s.name)),
                    cell_position: cells.get(&s.name).copied().unwrap_or(0.0),
                    dyes: config
                        .pumps
                        .iter()
                        .map(|p| p.dye.as_ref().map(|d| d.population(s.path_length_m)))
                        .collect(),
                    config: s.clone(),
                    grid,
                    lamp,
                    lights_before: None,
                    last_integration: None,
                }
            })
            .collect();
        Ok(Self {
            ambient_k: config.ambient_k,
            pumps: config
                .pumps
                .iter()
                .map(|p| PumpState {
                    config: p.clone(),
                    rate: 0.0,
                    direction: PumpDirection::Infuse,
                    running: false,
                    volume: p.initial_volume.unwrap_or(p.syringe_volume),
                    infused: 0.0,
                    withdrawn: 0.0,
                    alarm: None,
                })
                .collect(),
            heaters,
            spectrometers,
            valves: config
                .valves
                .iter()
                .map(|v| (v.clone(), v.initial_position))
                .collect(),
            pressure_sensors: config.pressure_sensors.clone(),
            lights: config
                .lights
                .iter()
                .map(|l| LightState {
                    config: l.clone(),
                    spectrometer: config
                        .spectrometers
                        .iter()
                        .position(|s| s.name == l.spectrometer)
                        .unwrap_or(usize::MAX),
                    on: false,
                })
                .collect(),
            flow: FlowHistory::new(config.pumps.len()),
            coils,
            segmented: config.segmented,
            chemistry: BoundChemistry::bind(&config.chemistry, &config.pumps)?,
            last_update: 0.0,
        })
    }

    fn delivered(&self) -> Vec<f64> {
        self.pumps.iter().map(PumpState::delivered).collect()
    }

    /// Brings pumps up to time `now` (s), stopping any syringe that runs empty (alarm) or full
    /// (end of travel while withdrawing: stops without alarm).
    pub(crate) fn advance(&mut self, now: f64) {
        while now > self.last_update {
            let horizon = now - self.last_update;
            let mut first: Option<(f64, usize)> = None;
            for (i, p) in self.pumps.iter().enumerate() {
                if !p.running || p.rate <= 0.0 {
                    continue;
                }
                let room = match p.direction {
                    PumpDirection::Infuse => p.volume,
                    PumpDirection::Withdraw => p.config.syringe_volume - p.volume,
                };
                let dt = room.max(0.0) / p.rate;
                if dt < horizon && first.is_none_or(|(best, _)| dt < best) {
                    first = Some((dt, i));
                }
            }
            let dt = first.map_or(horizon, |(dt, _)| dt);
            for p in &mut self.pumps {
                if !p.running {
                    continue;
                }
                let moved = p.rate * dt;
                match p.direction {
                    PumpDirection::Infuse => {
                        p.volume = (p.volume - moved).max(0.0);
                        p.infused += moved;
                    }
                    PumpDirection::Withdraw => {
                        p.volume = (p.volume + moved).min(p.config.syringe_volume);
                        p.withdrawn += moved;
                    }
                }
            }
            self.last_update += dt;
            let Some((_, i)) = first else { break };
            if let Some(p) = self.pumps.get_mut(i) {
                p.running = false;
                if p.direction == PumpDirection::Infuse {
                    p.volume = 0.0;
                    p.alarm = Some("syringe empty".into());
                } else {
                    p.volume = p.config.syringe_volume;
                }
            }
            let flows = self.delivered();
            self.flow.set(self.last_update, flows);
        }
    }

    /// Records the pumps' current delivered flows at `last_update` (after a command).
    pub(crate) fn flows_changed(&mut self) {
        let flows = self.delivered();
        self.flow.set(self.last_update, flows);
    }

    /// Mean temperature of a coil over `[a, b]`, K.
    fn coil_temperature(&self, coil: &CoilSpan, a: f64, b: f64) -> f64 {
        match coil.heater.and_then(|h| self.heaters.get(h)) {
            Some(h) => h.trace.mean(a, b),
            None => self.ambient_k,
        }
    }

    /// What a fluid element that entered the mixer at cumulative volume `v_in` saw on its way
    /// to position `until` (m³ from the inlet), on the mean path. `None`: the element predates
    /// the run (solvent).
    fn conditions(&self, v_in: f64, until: f64, horizon: f64) -> Option<Conditions> {
        let (_, seg) = self.flow.reached(v_in)?;
        let total = seg.total;
        let fractions = seg.flows.iter().map(|f| f / total).collect();
        let mut residence = 0.0;
        let mut weighted = 0.0;
        // A coil the element is still in (a probe reading it midway) counts up to `until`.
        for coil in self.coils.iter().filter(|c| c.start < until) {
            let end = coil.end.min(until);
            let a = self.flow.time_of_volume(v_in + coil.start, horizon);
            let b = self.flow.time_of_volume(v_in + end, horizon);
            let dt = (b - a).max(0.0);
            residence += dt;
            weighted += dt * self.coil_temperature(coil, a, b);
        }
        // No coil before the cell (or no time in it): the stream stayed at ambient.
        let temperature_k = if residence > 0.0 {
            weighted / residence
        } else {
            self.ambient_k
        };
        Some(Conditions {
            fractions,
            total_flow: total,
            residence_s: residence,
            temperature_k,
        })
    }

    /// The populations in the flow cell of spectrometer `index` at time `t` (s): the average
    /// over the laminar quantiles of what each streamline carries (see [`crate::flow`]).
    /// Streamlines still holding the initial solvent contribute nothing. A segmented stream
    /// has one "streamline": every segment moves with the mean flow, unmixed.
    pub(crate) fn cell_populations(&self, index: usize, t: f64) -> Vec<Population> {
        let Some(spec) = self.spectrometers.get(index) else {
            return Vec::new();
        };
        let x_cell = spec.cell_position;
        let v_now = self.flow.volume_at(t);
        // Elements still in a coil move on under the current flow (extrapolated); if the flow
        // is stopped they stay, reacting, until `t`.
        let horizon = t;
        let mut groups: BTreeMap<Vec<i64>, (Conditions, f64)> = BTreeMap::new();
        let lags: Vec<f64> = if self.segmented {
            vec![1.0; LAMINAR_POINTS]
        } else {
            laminar_quantiles().to_vec()
        };
        for theta in lags {
            let v_in = v_now - theta * x_cell;
            let Some(c) = self.conditions(v_in, x_cell, horizon) else {
                continue;
            };
            let key = condition_key(&c);
            groups
                .entry(key)
                .and_modify(|(_, w)| *w += 1.0)
                .or_insert((c, 1.0));
        }
        let mut out = Vec::new();
        for (c, count) in groups.values() {
            let weight = count / LAMINAR_POINTS as f64;
            out.extend(
                self.chemistry
                    .populations(c)
                    .iter()
                    .map(|p| p.scaled(weight)),
            );
            // A reference dye is diluted like any stock and does not react.
            for (dye, fraction) in spec.dyes.iter().zip(&c.fractions) {
                if let Some(dye) = dye
                    && *fraction > 0.0
                {
                    out.push(dye.scaled(weight * fraction));
                }
            }
        }
        out
    }

    /// Moves spectrometer `index`'s probe to `volume` m³ along coil `coil` from its inlet:
    /// from then on it sees the fluid there.
    pub(crate) fn move_probe(
        &mut self,
        index: usize,
        coil: &str,
        volume: f64,
    ) -> Result<(), String> {
        let span = self
            .coils
            .iter()
            .find(|c| c.name == coil)
            .ok_or_else(|| format!("the simulated reactor has no coil `{coil}`"))?;
        let length = span.end - span.start;
        if !(volume.is_finite() && volume > 0.0 && volume <= length * (1.0 + 1e-9)) {
            return Err(format!(
                "{volume} m³ is outside coil `{coil}` ({length} m³)"
            ));
        }
        let position = span.start + volume.min(length);
        if let Some(spec) = self.spectrometers.get_mut(index) {
            spec.cell_position = position;
        }
        Ok(())
    }

    pub(crate) fn pump_index(&self, name: &str) -> SimResult<usize> {
        self.pumps
            .iter()
            .position(|p| p.config.name == name)
            .ok_or_else(|| SimError::UnknownDevice {
                kind: "pump",
                name: name.to_string(),
            })
    }
}

/// Conditions rounded to well below what the chemistry can resolve (1e-6 in fractions, 1e-4
/// relative in residence and flow, 0.01 K), so streamlines that saw practically the same
/// conditions share one chemistry evaluation and one rendering (the dominant cost of an
/// acquisition while a heater is still settling).
fn condition_key(c: &Conditions) -> Vec<i64> {
    let rel = |v: f64| {
        if v > 0.0 {
            (v.ln() * 1e4).round() as i64
        } else {
            i64::MIN
        }
    };
    let mut key: Vec<i64> = c
        .fractions
        .iter()
        .map(|f| (f * 1e9).round() as i64)
        .collect();
    key.push(rel(c.residence_s));
    key.push(rel(c.total_flow));
    key.push((c.temperature_k * 1e2).round() as i64);
    key
}
