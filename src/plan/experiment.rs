//! One experiment as operations on devices: what to set, what to wait for and why, what to
//! acquire, how much reagent it takes, how long it lasts.
//!
//! Invariant of an [`ExperimentPlan`]: every setting it sends lies within its device's limits
//! and the safety envelope (checked here again, after validation proved it for the whole box:
//! rounding and refills happen here), and no acquisition is scheduled before the declared
//! steady state (the reactor volumes have flowed through the cell at the final flow, after the
//! temperature settled).

use std::collections::BTreeMap;

pub use super::command::Command;
use crate::diagnostic::codes::plan as code;
use crate::source::{Span, Synthetic};
use crate::validate::campaign::*;
use crate::validate::expr::Env;
use qdx_lab::Illumination;

pub use crate::validate::campaign::COMMAND_OVERHEAD_S;
/// Safety margin on reagent: refill when less than this share of a syringe would remain.
pub const REAGENT_MARGIN: f64 = 1.05;

/// What the planner knows about the lab between experiments.
#[derive(Debug, Clone)]
pub struct LabState {
    /// Current rate of each pump (m³/s), 0 when stopped.
    pub rates: BTreeMap<DeviceId, f64>,
    /// Volume left in each syringe (m³); pumps without syringes are absent.
    pub syringe_left: BTreeMap<DeviceId, f64>,
    /// Current setpoint of each heater (K).
    pub setpoints: BTreeMap<DeviceId, f64>,
    /// Estimated temperature of each heater (K).
    pub temperatures: BTreeMap<DeviceId, f64>,
}

impl LabState {
    /// The lab before the first experiment: pumps stopped, syringes full, heaters at ambient.
    pub fn initial(c: &Campaign) -> LabState {
        let mut s = LabState {
            rates: BTreeMap::new(),
            syringe_left: BTreeMap::new(),
            setpoints: BTreeMap::new(),
            temperatures: BTreeMap::new(),
        };
        for (id, d) in c.pumps() {
            s.rates.insert(id, 0.0);
            if let Some(v) = d.syringe() {
                s.syringe_left.insert(id, v);
            }
        }
        for (id, _) in c.heaters() {
            s.setpoints.insert(id, AMBIENT_K);
            s.temperatures.insert(id, AMBIENT_K);
        }
        s
    }
}

impl LabState {
    /// Takes in a setting sent to a device (acquisitions change nothing).
    pub fn apply(&mut self, device: DeviceId, command: &Command) {
        match command {
            Command::SetRate { rate } => {
                self.rates.insert(device, *rate);
            }
            Command::Stop => {
                self.rates.insert(device, 0.0);
            }
            Command::SetSetpoint { kelvin } => {
                self.setpoints.insert(device, *kelvin);
            }
            Command::Refill { .. }
            | Command::SetPosition { .. }
            | Command::Acquire { .. }
            | Command::SetLight { .. }
            | Command::Discard { .. }
            | Command::MoveProbe { .. } => {}
        }
    }
}

/// One operation on the lab.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// Send a command to a device: a setting, or an acquisition.
    Send { device: DeviceId, command: Command },
    /// Wait until the heater is within `within` K of its setpoint for `hold` s (described in
    /// the unit the campaign wrote the band in).
    WaitThermal {
        device: DeviceId,
        within: f64,
        hold: f64,
    },
    /// Wait while the declared reactor volumes flow through the cell.
    WaitSteadyState {
        volumes: f64,
        total_flow: f64,
        /// The time one reactor volume takes at the experiment's rates, s (see
        /// [`Topology::residence_time`]).
        residence: f64,
        extra: f64,
    },
    /// Ask a virtual lab (table or script model) for its readings at the variables.
    Read,
    /// Wait `seconds` for a light just switched on to settle (its kind's `settle`).
    WaitLight { device: DeviceId, seconds: f64 },
    /// Keep the flows for the rest of a transient ramp's interval between readings, s.
    Hold { seconds: f64 },
}

impl Operation {
    /// Sending `command` to `device`.
    pub fn send(device: DeviceId, command: Command) -> Operation {
        Operation::Send { device, command }
    }

    /// The device and command of a setting (not an acquisition, not a wait).
    pub fn setting(&self) -> Option<(DeviceId, &Command)> {
        match self {
            Operation::Send { device, command } if command.is_setting() => Some((*device, command)),
            _ => None,
        }
    }

    /// Whether it takes a spectrum.
    pub fn is_acquisition(&self) -> bool {
        matches!(
            self,
            Operation::Send {
                command: Command::Acquire { .. },
                ..
            }
        )
    }

    /// Whether it runs in order with the acquisitions around it (a scan, kept or discarded;
    /// a light switched; its settle time), rather than in parallel with its step.
    pub fn is_sequenced(&self) -> bool {
        matches!(
            self,
            Operation::Send {
                command: Command::Acquire { .. }
                    | Command::Discard { .. }
                    | Command::SetLight { .. }
                    | Command::MoveProbe { .. },
                ..
            } | Operation::WaitLight { .. }
                | Operation::Hold { .. }
        )
    }

    /// Estimated duration, s.
    pub fn estimate(&self, plan: &ExperimentPlan, c: &Campaign) -> f64 {
        match self {
            Operation::Send { command, .. } => match command {
                Command::Stop
                | Command::SetRate { .. }
                | Command::SetSetpoint { .. }
                | Command::SetPosition { .. }
                | Command::SetLight { .. }
                | Command::MoveProbe { .. } => COMMAND_OVERHEAD_S,
                Command::Discard { integration } => integration + COMMAND_OVERHEAD_S,
                Command::Refill { volume, rate } => {
                    volume / rate.max(f64::MIN_POSITIVE) + 2.0 * COMMAND_OVERHEAD_S
                }
                Command::Acquire {
                    integration,
                    averages,
                    ..
                } => integration * f64::from(*averages) + COMMAND_OVERHEAD_S,
            },
            Operation::Read => COMMAND_OVERHEAD_S,
            Operation::WaitLight { seconds, .. } | Operation::Hold { seconds } => *seconds,
            Operation::WaitThermal {
                device,
                within,
                hold,
            } => {
                let tau = time_constant(c, *device);
                let delta = plan
                    .thermal_change
                    .get(device)
                    .copied()
                    .unwrap_or(0.0)
                    .abs();
                settle_time(delta, *within, tau) + hold
            }
            Operation::WaitSteadyState {
                volumes,
                residence,
                extra,
                ..
            } => volumes * residence + extra,
        }
    }

    /// A short description for `qdx plan`.
    pub fn describe(&self, c: &Campaign) -> String {
        let name = |d: &DeviceId| c.devices.get(*d).map_or("?", |x| x.name.as_str());
        let flow = |v: f64| unit_format("uL/min", v);
        match self {
            Operation::Send { device, command } => match command {
                Command::Stop => format!("stop {}", name(device)),
                Command::Refill { volume, rate } => format!(
                    "refill {} with {} at {}",
                    name(device),
                    unit_format("mL", *volume),
                    unit_format("mL/min", *rate)
                ),
                Command::SetRate { rate } => format!("set {} to {}", name(device), flow(*rate)),
                Command::SetSetpoint { kelvin } => {
                    format!("set {} to {}", name(device), temp_format(*kelvin))
                }
                Command::SetPosition {
                    position,
                    name: None,
                } => format!("set {} to position {position}", name(device)),
                Command::SetPosition {
                    position,
                    name: Some(label),
                } => format!("set {} to position {position} ({label})", name(device)),
                Command::Acquire {
                    illumination,
                    integration,
                    averages,
                    replicate,
                    light,
                    point,
                    tick,
                } => format!(
                    "acquire {} on {} ({} ms x {}, replicate {}){}{}{}",
                    super::command::channel(*illumination).map_or("dark", ChannelKind::name),
                    name(device),
                    qdx_units::format_number(integration * 1000.0),
                    averages,
                    replicate,
                    point.map_or(String::new(), |p| format!(", point {}", p + 1)),
                    tick.map_or(String::new(), |k| format!(
                        ", reading {} of the ramp",
                        k + 1
                    )),
                    light
                        .as_ref()
                        .map_or(String::new(), |l| format!(" under {l}"))
                ),
                Command::MoveProbe {
                    point,
                    coil,
                    volume,
                } => format!(
                    "move the probe of {} to point {}: {} along {coil}",
                    name(device),
                    point + 1,
                    unit_format("uL", *volume)
                ),
                Command::SetLight { on } => {
                    format!("switch {} {}", name(device), if *on { "on" } else { "off" })
                }
                Command::Discard { integration } => format!(
                    "discard one scan on {} ({} ms): the first after a change",
                    name(device),
                    qdx_units::format_number(integration * 1000.0)
                ),
            },
            Operation::WaitLight { device, seconds } => format!(
                "wait {} s for {} to settle",
                qdx_units::format_number(*seconds),
                name(device)
            ),
            Operation::WaitThermal {
                device,
                within,
                hold,
            } => format!(
                "wait until {} is within {} of its setpoint for {} s",
                name(device),
                c.measurement
                    .as_ref()
                    .map_or_else(|| DisplayUnit::of("K"), |m| m.settle_unit.clone())
                    .format(*within),
                qdx_units::format_number(*hold)
            ),
            Operation::WaitSteadyState {
                volumes,
                total_flow,
                residence,
                extra,
            } => format!(
                "wait {} at {} in all",
                steady_state_wait(*volumes, *residence, *extra),
                flow(*total_flow)
            ),
            Operation::Read => "read the virtual lab".to_owned(),
            Operation::Hold { seconds } => format!(
                "hold the flows {} s until the next reading",
                qdx_units::format_number(*seconds)
            ),
        }
    }
}

/// A heater's first-order time constant, s.
fn time_constant(c: &Campaign, heater: DeviceId) -> f64 {
    c.devices.get(heater).map_or(60.0, Device::time_constant)
}

/// A steady-state wait as it is computed: `3 × 182.6 s + 30 s = 577.8 s` (reactor volumes
/// times the time of one, plus the declared extra).
fn steady_state_wait(volumes: f64, residence: f64, extra: f64) -> String {
    let total = volumes * residence + extra;
    let extra = if extra > 0.0 {
        format!(" + {}", unit_format("s", extra))
    } else {
        String::new()
    };
    format!(
        "{} × {}{extra} = {}",
        qdx_units::format_number(volumes),
        unit_format("s", residence),
        unit_format("s", total)
    )
}

/// A value to four significant digits in a unit qdx chooses (`33.66 uL/min`). The units the
/// planner prints in are parsed once: every planned experiment describes its steps.
fn unit_format(unit: &str, si: f64) -> String {
    use std::sync::LazyLock;
    static UNITS: LazyLock<[(&str, DisplayUnit); 5]> =
        LazyLock::new(|| ["uL", "mL", "uL/min", "mL/min", "s"].map(|u| (u, DisplayUnit::of(u))));
    match UNITS.iter().find(|(symbol, _)| *symbol == unit) {
        Some((_, u)) => u.approx(si),
        None => DisplayUnit::of(unit).approx(si),
    }
}

fn temp_format(k: f64) -> String {
    format!(
        "{} degC",
        qdx_units::format_number(((k - 273.15) * 100.0).round() / 100.0)
    )
}

/// Time for a first-order heater to come within `within` of its setpoint after a step of
/// `delta`: `τ ln(|Δ| / within)` (0 when already within).
pub fn settle_time(delta: f64, within: f64, tau: f64) -> f64 {
    if delta <= within || within <= 0.0 {
        0.0
    } else {
        tau * (delta / within).ln()
    }
}

/// Time for `volumes` reactor volumes to flow at these pump rates
/// ([`Topology::residence_time`]).
pub fn steady_state_time(c: &Campaign, volumes: f64, rates: &BTreeMap<DeviceId, f64>) -> f64 {
    volumes * c.topology.residence_time(rates)
}

/// Refuses a wait validation would not allow: longer than
/// [`crate::validate::durations::MAX_WAIT_S`], or not a number.
fn check_wait(what: &'static str, seconds: f64, span: Span) -> Result<(), PlanError> {
    if seconds <= crate::validate::durations::MAX_WAIT_S {
        Ok(())
    } else {
        Err(PlanError::Wait {
            what,
            seconds,
            span,
        })
    }
}

/// A group of operations that run at the same time, with the reason they run.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub why: String,
    pub ops: Vec<Operation>,
}

/// One experiment, planned.
#[derive(Debug, Clone)]
pub struct ExperimentPlan {
    pub id: u64,
    /// Variable values, SI (choices as level indices).
    pub variables: Vec<f64>,
    /// Every derived value, SI.
    pub derived: Vec<f64>,
    /// Pump rates after rounding to what each pump can run, m³/s.
    pub rates: BTreeMap<DeviceId, f64>,
    /// Heater setpoints, K.
    pub setpoints: BTreeMap<DeviceId, f64>,
    pub steps: Vec<Step>,
    /// Reagent each pump dispenses during the experiment, m³.
    pub reagent: BTreeMap<DeviceId, f64>,
    /// Expected temperature change per heater (K), for settling estimates.
    pub thermal_change: BTreeMap<DeviceId, f64>,
    pub estimated_duration: f64,
    /// Notes the run journals (a rate rounded to zero, …).
    pub notes: Vec<String>,
    /// The ramp a transient experiment runs: the declared one, or the part of it the optimizer
    /// chose (`span chosen`). Its readings are the plan's ramp steps, and the runtime maps
    /// them with it (its start's value and flow set each reading's equivalent value).
    pub transient: Option<Transient>,
}

/// Why an experiment cannot be planned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("{name} would be {value}, outside its limits {lo} .. {hi}")]
    OutOfLimits {
        name: String,
        value: String,
        lo: String,
        hi: String,
        span: crate::source::Span,
    },
    #[error("{name} cannot be computed at this point (the value is not a finite number)")]
    NotFinite {
        name: String,
        span: crate::source::Span,
    },
    #[error("one experiment needs {needed} from `{pump}`, more than its whole syringe ({syringe})")]
    SyringeTooSmall {
        pump: String,
        needed: String,
        syringe: String,
        span: crate::source::Span,
    },
    #[error("the safety limit `{limit}` is broken: {value}")]
    Safety {
        limit: String,
        value: String,
        span: crate::source::Span,
    },
    /// A wait longer than validation allows ([`crate::validate::durations::MAX_WAIT_S`]).
    #[error("the {what} would last {}; a single wait lasts at most {}", crate::validate::durations::human(*seconds), crate::validate::durations::human(crate::validate::durations::MAX_WAIT_S))]
    Wait {
        what: &'static str,
        seconds: f64,
        span: crate::source::Span,
    },
    /// A chosen ramp that is not a part of the declared one (`Transient::part`).
    #[error(
        "the ramp from {from} to {to} is not a part of the declared ramp of at least {} readings",
        crate::validate::campaign::MIN_TRANSIENT_SPECTRA
    )]
    Ramp {
        from: String,
        to: String,
        span: crate::source::Span,
    },
}

impl PlanError {
    pub fn span(&self) -> crate::source::Span {
        match self {
            PlanError::OutOfLimits { span, .. }
            | PlanError::NotFinite { span, .. }
            | PlanError::Ramp { span, .. }
            | PlanError::SyringeTooSmall { span, .. }
            | PlanError::Safety { span, .. }
            | PlanError::Wait { span, .. } => *span,
        }
    }

    pub fn to_diagnostic(&self) -> crate::diagnostic::Diagnostic {
        crate::diagnostic::Diagnostic::error(code::REFUSED, self.to_string())
            .label(self.span(), "from here")
    }
}

struct PointEnv<'a> {
    vars: &'a [f64],
    derived: &'a [f64],
}

impl Env for PointEnv<'_> {
    fn var(&self, id: VarId) -> f64 {
        self.vars.get(id).copied().unwrap_or(f64::NAN)
    }
    fn derived(&self, id: DerivedId) -> f64 {
        self.derived.get(id).copied().unwrap_or(f64::NAN)
    }
    fn proxy(&self, _: ProxyId) -> f64 {
        f64::NAN
    }
}

/// Every derived value at a point, in order.
pub fn derive_values(c: &Campaign, vars: &[f64]) -> Vec<f64> {
    let mut out: Vec<f64> = Vec::with_capacity(c.derived.len());
    for d in &c.derived {
        let v = d.expr.eval(&PointEnv {
            vars,
            derived: &out,
        });
        out.push(v);
    }
    out
}

/// Rounds a pump rate the pump cannot run (between zero and its smallest rate) to the nearer
/// of the two.
fn runnable_rate(rate: f64, min: f64) -> f64 {
    if rate > 0.0 && rate < min {
        if rate < min / 2.0 { 0.0 } else { min }
    } else {
        rate
    }
}

/// What an experiment at a point sets: every device setting, rounded to what its device can
/// run and checked against its limits and the safety envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Variable values, SI (choices as level indices).
    pub variables: Vec<f64>,
    /// Every derived value at the point, SI, before rounding.
    pub derived: Vec<f64>,
    /// Pump rates after rounding to what each pump can run, m³/s.
    pub rates: BTreeMap<DeviceId, f64>,
    /// Heater setpoints, K.
    pub setpoints: BTreeMap<DeviceId, f64>,
    /// What the run should know (a rate rounded to zero, …).
    pub notes: Vec<String>,
}

/// The settings of an experiment at `vars` (SI). Validation proved the limits over the whole
/// variable box; they are checked again here, at the point, after rounding.
pub fn settings_at(c: &Campaign, vars: &[f64]) -> Result<Settings, PlanError> {
    let derived = derive_values(c, vars);
    let mut notes = Vec::new();
    let mut rates = BTreeMap::new();
    let mut setpoints = BTreeMap::new();
    for (k, d) in c.derived.iter().enumerate() {
        let value = derived.get(k).copied().unwrap_or(f64::NAN);
        if !value.is_finite() {
            return Err(PlanError::NotFinite {
                name: d.name.clone(),
                span: d.span,
            });
        }
        let DerivedTarget::Setting { device, drive, .. } = &d.target else {
            continue;
        };
        let Some(spec) = c.devices.get(*device).and_then(|dev| dev.driven(*drive)) else {
            continue;
        };
        if *drive == Drive::PumpRate {
            let v = runnable_rate(value, spec.lo);
            if v != value {
                notes.push(format!(
                    "{} rounded from {} to {} (the pump's smallest rate is {})",
                    d.name,
                    d.unit.format(value),
                    d.unit.format(v),
                    spec.unit.format(spec.lo)
                ));
            }
            if v != 0.0 && (v < spec.lo * (1.0 - 1e-9) || v > spec.hi * (1.0 + 1e-9)) || v < 0.0 {
                return Err(out_of_limits(d, v, spec));
            }
            rates.insert(*device, v);
        } else {
            if value < spec.lo - 1e-9 * spec.lo.abs() || value > spec.hi + 1e-9 * spec.hi.abs() {
                return Err(out_of_limits(d, value, spec));
            }
            if *drive == Drive::HeaterSetpoint {
                setpoints.insert(*device, value);
            }
        }
    }
    let settings = Settings {
        variables: vars.to_vec(),
        derived,
        rates,
        setpoints,
        notes,
    };
    check_safety(c, &settings)?;
    Ok(settings)
}

/// The safety envelope, checked at the point. A limit holds only on a value known here: one
/// that cannot be told is never within the envelope.
fn check_safety(c: &Campaign, s: &Settings) -> Result<(), PlanError> {
    let total_flow: f64 = s.rates.values().sum();
    for l in &c.safety.limits {
        let (value, ok) = match &l.subject {
            // Every setpoint: with no heater there is none to break it.
            LimitSubject::Temperature => (
                s.setpoints.values().copied().reduce(f64::max),
                s.setpoints.values().all(|t| l.op.holds(*t, l.value)),
            ),
            subject => {
                let value = match subject {
                    LimitSubject::TotalFlow => Some(total_flow),
                    LimitSubject::Derived(d) => s.derived.get(*d).copied(),
                    LimitSubject::Variable(v) => s.variables.get(*v).copied(),
                    LimitSubject::Temperature => None,
                };
                let ok =
                    value.is_some_and(|x| l.op.holds(x, l.value * (1.0 + 1e-9 * l.value.signum())));
                (value, ok)
            }
        };
        if !ok {
            return Err(PlanError::Safety {
                limit: l.text.clone(),
                value: value
                    .map_or_else(|| "its value is unknown".to_owned(), |x| l.unit.format(x)),
                span: l.span,
            });
        }
    }
    Ok(())
}

/// Plans one experiment at `vars` (SI), from the lab's current state, and advances the state.
/// A transient experiment runs the declared ramp.
pub fn plan_experiment(
    c: &Campaign,
    state: &mut LabState,
    id: u64,
    vars: &[f64],
) -> Result<ExperimentPlan, PlanError> {
    plan_experiment_with(c, state, id, vars, None)
}

/// [`plan_experiment`] with the part of a `span chosen` ramp the optimizer chose, `(start,
/// end)` in SI (`None`: the declared ramp), which must be a part of the declared one
/// ([`Transient::part`]): every reading's rates are checked as the declared ramp's are.
pub fn plan_experiment_with(
    c: &Campaign,
    state: &mut LabState,
    id: u64,
    vars: &[f64],
    chosen: Option<(f64, f64)>,
) -> Result<ExperimentPlan, PlanError> {
    let Some(declared) = c.measurement.as_ref().and_then(|m| m.transient.as_ref()) else {
        return schedule(c, state, id, settings_at(c, vars)?);
    };
    let t = match chosen {
        None => declared.clone(),
        Some((start, end)) => declared.part(start, end).ok_or_else(|| {
            let unit = c.variables.get(declared.variable).map(|v| &v.unit);
            let show = |x: f64| unit.map_or_else(|| qdx_units::format_number(x), |u| u.format(x));
            PlanError::Ramp {
                from: show(start),
                to: show(end),
                span: declared.span,
            }
        })?,
    };
    // A transient experiment runs at the ramp's start, whatever value of the ramped variable
    // the optimizer proposed; each reading's rates are the settings at the ramp's value then,
    // checked like any experiment's (limits after rounding, the safety envelope).
    let mut at = vars.to_vec();
    if let Some(v) = at.get_mut(t.variable) {
        *v = t.from;
    }
    let settings = settings_at(c, &at)?;
    let mut ramp = Vec::new();
    for (time, value) in t.ticks() {
        if let Some(v) = at.get_mut(t.variable) {
            *v = value;
        }
        ramp.push(RampTick {
            time,
            value,
            rates: settings_at(c, &at)?.rates,
        });
    }
    let mut plan = schedule_with(c, state, id, settings, &ramp)?;
    plan.transient = Some(t);
    Ok(plan)
}

/// One reading of a transient ramp as planned: its time from the ramp's start (s), the ramped
/// variable's value then (SI), and the pump rates sent for it (m³/s).
#[derive(Debug, Clone, PartialEq)]
pub struct RampTick {
    pub time: f64,
    pub value: f64,
    pub rates: BTreeMap<DeviceId, f64>,
}

/// Schedules an experiment's settings from the lab's current state: refills, temperature
/// changes and their settling, the flows, the steady-state wait, the acquisitions, the flush;
/// with its duration and reagent. Advances the state to the lab after the experiment.
pub fn schedule(
    c: &Campaign,
    state: &mut LabState,
    id: u64,
    settings: Settings,
) -> Result<ExperimentPlan, PlanError> {
    schedule_with(c, state, id, settings, &[])
}

/// [`schedule`], with a transient measurement's ramp (empty without one): after the steady
/// state at `settings` (the ramp's start), one step per reading sets the pumps to its rates,
/// takes every channel once, and holds the flows until the next reading.
fn schedule_with(
    c: &Campaign,
    state: &mut LabState,
    id: u64,
    settings: Settings,
    ramp: &[RampTick],
) -> Result<ExperimentPlan, PlanError> {
    let start_rates = state.rates.clone();
    let Settings {
        variables,
        derived,
        rates,
        setpoints,
        notes,
    } = settings;
    let mut plan = ExperimentPlan {
        id,
        variables,
        derived,
        rates: rates.clone(),
        setpoints: setpoints.clone(),
        steps: Vec::new(),
        reagent: BTreeMap::new(),
        thermal_change: BTreeMap::new(),
        estimated_duration: 0.0,
        notes,
        transient: None,
    };
    let virtual_lab = matches!(
        c.simulation.as_ref().map(|s| &s.model),
        Some(SimulationModel::Table { .. } | SimulationModel::Script { .. })
    );
    if virtual_lab {
        plan.steps.push(Step {
            why: "the virtual lab answers at the variables".into(),
            ops: vec![Operation::Read],
        });
        plan.estimated_duration = COMMAND_OVERHEAD_S;
        return Ok(plan);
    }
    let m = c.measurement.as_ref();
    let thermal_ops = thermal_waits(c, state, &mut plan);
    let volumes = m.map_or(3.0, |m| m.steady_state_volumes);
    let extra = m.map_or(0.0, |m| m.steady_state_extra);
    // A droplets experiment fills the reactor with carrier at the experiment's total flow
    // first (the droplets are made after); any other with the experiment's own flows.
    let droplets = m.and_then(|m| m.droplets.as_ref());
    let fill: BTreeMap<DeviceId, f64> = match droplets {
        Some(d) => BTreeMap::from([(d.carrier, rates.values().filter(|r| **r > 0.0).sum())]),
        None => rates.clone(),
    };
    let residence = c.topology.residence_time(&fill);
    let steady = volumes * residence + extra;
    // Validation proved both waits bounded over the variable box; here they are checked at the
    // point, before any setting of the experiment is sent.
    let span = m.map_or(Span::synthetic(Synthetic::Default), |m| m.span);
    check_wait("steady-state wait", steady, span)?;
    let acquire_ops = acquisitions(c);
    let every = m
        .and_then(|m| m.transient.as_ref())
        .map_or(0.0, |t| t.every);
    let measure_steps = if let Some(d) = droplets {
        droplet_steps(c, d, &rates, &acquire_ops)
    } else if ramp.is_empty() {
        measure_steps(c, &rates, acquire_ops)
    } else {
        ramp_steps(c, &rates, &acquire_ops, ramp, every)
    };
    let acquire_time: f64 = measure_steps
        .iter()
        .flat_map(|s| s.ops.iter())
        .map(|o| o.estimate(&plan, c))
        .sum();
    // While a temperature settles the pumps stand still: what flows then is discarded anyway,
    // and the steady-state wait that follows flushes the coil. So the pumps run for the
    // steady state, the acquisitions and a few commands.
    let running = steady + acquire_time + COMMAND_OVERHEAD_S * 4.0;
    // A declared flush rinses with one pump after the measurement.
    let flush = m.and_then(|m| m.flush.clone());
    let flush_time = flush.as_ref().map_or(0.0, |f| {
        steady_state_time(c, f.volumes, &BTreeMap::from([(f.pump, f.rate)]))
    });
    check_wait("flush", flush_time, span)?;
    let mut needs: BTreeMap<DeviceId, f64> = if ramp.is_empty() && droplets.is_none() {
        rates.iter().map(|(p, r)| (*p, r * running)).collect()
    } else {
        // The steady state at the ramp's start, then each reading's rates for its interval.
        let mut needs: BTreeMap<DeviceId, f64> = fill
            .iter()
            .map(|(p, r)| (*p, r * (steady + COMMAND_OVERHEAD_S * 4.0)))
            .collect();
        for step in &measure_steps {
            let seconds: f64 = step.ops.iter().map(|o| o.estimate(&plan, c)).sum();
            for (p, r) in step.ops.iter().filter_map(|o| match o.setting() {
                Some((p, Command::SetRate { rate })) => Some((p, *rate)),
                _ => None,
            }) {
                *needs.entry(p).or_insert(0.0) += r * seconds;
            }
        }
        needs
    };
    if let Some(f) = &flush {
        *needs.entry(f.pump).or_insert(0.0) += f.rate * flush_time;
    }
    for (p, need) in &needs {
        plan.reagent.insert(*p, *need);
    }
    let refills = refills(c, state, &needs)?;
    if !refills.is_empty() {
        let stops: Vec<Operation> = rates
            .keys()
            .filter(|p| state.rates.get(p).is_some_and(|r| *r > 0.0))
            .map(|p| Operation::send(*p, Command::Stop))
            .collect();
        if !stops.is_empty() {
            plan.steps.push(Step {
                why: "stop the flow while syringes refill".into(),
                ops: stops,
            });
            for p in rates.keys() {
                state.rates.insert(*p, 0.0);
            }
        }
        plan.steps.push(Step {
            why: "refill syringes that would run out during this experiment".into(),
            ops: refills,
        });
    }
    let heat_ops: Vec<Operation> = setpoints
        .iter()
        .filter(|(h, sp)| {
            state
                .setpoints
                .get(h)
                .is_none_or(|old| (old - *sp).abs() > 1e-9)
        })
        .map(|(h, sp)| Operation::send(*h, Command::SetSetpoint { kelvin: *sp }))
        .collect();
    let settling = !thermal_ops.is_empty();
    if settling {
        // Pumps stop while the temperature settles, heaters change at the same time.
        let mut ops: Vec<Operation> = state
            .rates
            .iter()
            .filter(|(_, r)| **r > 0.0)
            .map(|(p, _)| Operation::send(*p, Command::Stop))
            .collect();
        for p in rates.keys() {
            state.rates.insert(*p, 0.0);
        }
        ops.extend(heat_ops.iter().cloned());
        plan.steps.push(Step { why: "change the temperature; pumps rest meanwhile (what flows before it settles is off-target)".into(), ops });
        plan.steps.push(Step {
            why: "wait for the temperature to settle".into(),
            ops: thermal_ops,
        });
    }
    // Settings: pumps (and heaters, if they did not need settling) in parallel.
    let mut set_ops: Vec<Operation> = Vec::new();
    if droplets.is_some() {
        set_ops.extend(rates.keys().map(|p| Operation::send(*p, Command::Stop)));
    }
    for (p, r) in &fill {
        // A ramp's flow history is read back from this experiment's own commands, so it
        // states every pump's starting rate even when unchanged.
        if !ramp.is_empty()
            || droplets.is_some()
            || state.rates.get(p).is_none_or(|old| (old - r).abs() > 1e-15)
        {
            set_ops.push(Operation::send(*p, Command::SetRate { rate: *r }));
        }
    }
    if !settling {
        set_ops.extend(heat_ops);
    }
    let route = m.and_then(|m| m.route.clone());
    if let Some(r) = &route {
        // What flows while the reactor comes to steady state goes to waste.
        set_ops.push(Operation::send(
            r.valve,
            Command::SetPosition {
                position: r.waste,
                name: r.name(r.waste),
            },
        ));
    }
    if !set_ops.is_empty() {
        plan.steps.push(Step {
            why: "apply the experiment's flows (independent devices in parallel)".into(),
            ops: set_ops,
        });
    }
    let total_flow: f64 = fill.values().sum();
    plan.steps.push(Step {
        why: format!(
            "steady state before measuring: {} reactor volumes, one being the time the slowest \
             stream takes from its pump through the cell at these rates",
            qdx_units::format_number(volumes)
        ),
        ops: vec![Operation::WaitSteadyState {
            volumes,
            total_flow,
            residence,
            extra,
        }],
    });
    if !measure_steps.is_empty() {
        if let Some(r) = &route {
            plan.steps.push(Step {
                why: "collect the product while it is measured".into(),
                ops: vec![Operation::send(
                    r.valve,
                    Command::SetPosition {
                        position: r.collect,
                        name: r.name(r.collect),
                    },
                )],
            });
        }
        plan.steps.extend(measure_steps);
        if let Some(r) = &route {
            plan.steps.push(Step {
                why: "back to waste".into(),
                ops: vec![Operation::send(
                    r.valve,
                    Command::SetPosition {
                        position: r.waste,
                        name: r.name(r.waste),
                    },
                )],
            });
        }
    }
    if let Some(f) = &flush {
        let mut ops: Vec<Operation> = rates
            .iter()
            .filter(|(p, r)| **r > 0.0 && **p != f.pump)
            .map(|(p, _)| Operation::send(*p, Command::Stop))
            .collect();
        ops.push(Operation::send(f.pump, Command::SetRate { rate: f.rate }));
        plan.steps.push(Step {
            why: "flush: the rinse pump alone".into(),
            ops,
        });
        plan.steps.push(Step {
            why: format!(
                "flush {} reactor volumes through the cell at the rinse pump's rate",
                qdx_units::format_number(f.volumes)
            ),
            ops: vec![Operation::WaitSteadyState {
                volumes: f.volumes,
                total_flow: f.rate,
                residence: c
                    .topology
                    .residence_time(&BTreeMap::from([(f.pump, f.rate)])),
                extra: 0.0,
            }],
        });
        plan.steps.push(Step {
            why: "flush done".into(),
            ops: vec![Operation::send(f.pump, Command::Stop)],
        });
    }
    let (duration, current, used) = run_through(c, &plan, start_rates);
    plan.estimated_duration = duration;
    // Advance the state.
    for (p, r) in &current {
        state.rates.insert(*p, *r);
    }
    for (p, v) in &used {
        if let Some(left) = state.syringe_left.get_mut(p) {
            *left = (*left - v).max(0.0);
        }
        if *v > 0.0 {
            plan.reagent.insert(*p, *v);
        }
    }
    for (h, sp) in &setpoints {
        state.setpoints.insert(*h, *sp);
        state.temperatures.insert(*h, *sp);
    }
    Ok(plan)
}

/// The waits for every heater whose setpoint changes (or that is still away from it), and
/// each heater's expected temperature change, recorded in the plan for the estimates.
fn thermal_waits(c: &Campaign, state: &LabState, plan: &mut ExperimentPlan) -> Vec<Operation> {
    let m = c.measurement.as_ref();
    let within = m.and_then(|m| m.settle_within).unwrap_or(0.5);
    let hold = m.map_or(0.0, |m| m.settle_hold);
    let mut ops = Vec::new();
    for (h, sp) in &plan.setpoints {
        let now = state.temperatures.get(h).copied().unwrap_or(AMBIENT_K);
        let delta = sp - now;
        plan.thermal_change.insert(*h, delta);
        let changed = state
            .setpoints
            .get(h)
            .is_none_or(|old| (old - sp).abs() > 1e-9)
            || delta.abs() > within;
        if changed {
            ops.push(Operation::WaitThermal {
                device: *h,
                within,
                hold,
            });
        }
    }
    ops
}

/// Switching lights and taking scans in order: a switched light waits its settle time, and
/// the first scan after a switch or an integration change is discarded.
struct LightSequence<'c> {
    c: &'c Campaign,
    spectrometer: DeviceId,
    on: Option<DeviceId>,
    /// The lights changed since the last scan.
    changed: bool,
    integration: Option<f64>,
    ops: Vec<Operation>,
}

impl<'c> LightSequence<'c> {
    fn new(c: &'c Campaign, spectrometer: DeviceId) -> Self {
        Self {
            c,
            spectrometer,
            on: None,
            changed: true,
            integration: None,
            ops: Vec::new(),
        }
    }

    /// Only `light` on (none: dark).
    fn switch(&mut self, light: Option<DeviceId>) {
        if self.on == light {
            return;
        }
        if let Some(old) = self.on {
            self.ops
                .push(Operation::send(old, Command::SetLight { on: false }));
        }
        if let Some(new) = light {
            self.ops
                .push(Operation::send(new, Command::SetLight { on: true }));
            let seconds = self.c.devices.get(new).map_or(0.0, Device::settle);
            if seconds > 0.0 {
                self.ops.push(Operation::WaitLight {
                    device: new,
                    seconds,
                });
            }
        }
        self.on = light;
        self.changed = true;
    }

    /// A spectrum under the light on now.
    fn scan(&mut self, illumination: Illumination, ch: &Channel, replicate: u32) {
        let fresh = self
            .integration
            .is_none_or(|t| (t - ch.integration).abs() > 1e-12);
        if self.changed || fresh {
            self.ops.push(Operation::send(
                self.spectrometer,
                Command::Discard {
                    integration: ch.integration,
                },
            ));
        }
        self.changed = false;
        self.integration = Some(ch.integration);
        let light = self
            .on
            .and_then(|l| self.c.devices.get(l))
            .map(|d| d.name.clone());
        self.ops.push(Operation::send(
            self.spectrometer,
            Command::Acquire {
                illumination,
                integration: ch.integration,
                averages: ch.averages,
                replicate,
                light,
                point: None,
                tick: None,
            },
        ));
    }
}

/// Whether the campaign's measurement switches lights of its own (a channel names one).
pub fn switches_lights(c: &Campaign) -> bool {
    c.measurement
        .as_ref()
        .is_some_and(|m| m.channels.iter().any(|ch| ch.light.is_some()))
}

/// What a calibration scan is kept as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// The blank: dark spectra, and the absorbance reference.
    Blank,
    /// The reference dye, in every channel, processed against the blank.
    Dye,
}

/// Fewest scans a calibration spectrum (dark, reference, dye) averages. Each serves every
/// experiment until the next calibration, so its noise is a systematic error of all of them;
/// measured on the simulated lab (`examples/cspbx3-orange.qdx`, blank every 10 min, dye read
/// with the experiments' 5 scans): the dye's integrated PL moved by up to 6 % between
/// calibrations of the same solution (70 816, 75 025, 72 320); with 50 scans by 0.7 %
/// (73 059, 72 635, 72 529). 50 scans of 100 ms add 5 s to a calibration that waits minutes
/// for its lines.
pub const CALIBRATION_AVERAGES: u32 = 50;

/// The calibration, in order: the blank line through the cell (when declared); the dark and
/// reference spectra; then, when declared, the reference dye through the cell, read in every
/// channel as an experiment reads it (one replicate), and the blank line again to clear it.
/// Every calibration spectrum averages at least [`CALIBRATION_AVERAGES`] scans.
/// Each operation comes with what its scans are kept as and the channel it serves.
pub fn calibration(c: &Campaign) -> Vec<(Kept, ChannelKind, Operation)> {
    let mut out = calibration_steps(c);
    for (_, _, op) in &mut out {
        if let Operation::Send {
            command: Command::Acquire { averages, .. },
            ..
        } = op
        {
            *averages = (*averages).max(CALIBRATION_AVERAGES);
        }
    }
    out
}

fn calibration_steps(c: &Campaign) -> Vec<(Kept, ChannelKind, Operation)> {
    let Some((m, spectrometer)) = c
        .measurement
        .as_ref()
        .and_then(|m| Some((m, m.spectrometer?)))
    else {
        return Vec::new();
    };
    let first = m
        .channels
        .first()
        .map_or(ChannelKind::Absorbance, |ch| ch.kind);
    let mut out: Vec<(Kept, ChannelKind, Operation)> = Vec::new();
    if let Some(blank) = &m.blank {
        out.extend(
            pumped_line(c, blank)
                .into_iter()
                .map(|op| (Kept::Blank, first, op)),
        );
    }
    out.extend(
        dark_and_reference(c, m, spectrometer)
            .into_iter()
            .map(|(ch, op)| (Kept::Blank, ch, op)),
    );
    if let (Some(dye), Some(blank)) = (&m.reference_dye, &m.blank) {
        out.extend(
            pumped_line(c, dye)
                .into_iter()
                .map(|op| (Kept::Dye, first, op)),
        );
        let mut channel = first;
        for op in acquisitions(c) {
            if let Operation::Send {
                command:
                    Command::Acquire {
                        illumination,
                        replicate,
                        ..
                    },
                ..
            } = &op
            {
                if *replicate > 0 {
                    continue;
                }
                channel = super::command::channel(*illumination).unwrap_or(channel);
            }
            out.push((Kept::Dye, channel, op));
        }
        out.extend(
            pumped_line(c, blank)
                .into_iter()
                .map(|op| (Kept::Blank, first, op)),
        );
    }
    out
}

/// One pump alone through the reactor and the cell for the line's reactor volumes, then
/// stopped.
fn pumped_line(c: &Campaign, line: &Flush) -> Vec<Operation> {
    let rates = BTreeMap::from([(line.pump, line.rate)]);
    vec![
        Operation::send(line.pump, Command::SetRate { rate: line.rate }),
        Operation::WaitSteadyState {
            volumes: line.volumes,
            total_flow: line.rate,
            residence: c.topology.residence_time(&rates),
            extra: 0.0,
        },
        Operation::send(line.pump, Command::Stop),
    ]
}

/// Dark and reference spectra with the blank in the cell.
fn dark_and_reference(
    c: &Campaign,
    m: &Measurement,
    spectrometer: DeviceId,
) -> Vec<(ChannelKind, Operation)> {
    if !switches_lights(c) {
        // The spectrometer's own sources: it switches them itself.
        // A SAXS or CD frame is used as acquired: no dark, no reference.
        return m
            .channels
            .iter()
            .filter(|ch| ch.kind.needs_dark())
            .flat_map(|ch| {
                let mut takes = vec![Illumination::Dark];
                if ch.kind == ChannelKind::Absorbance {
                    takes.push(Illumination::Broadband);
                }
                takes.into_iter().map(|illumination| {
                    (
                        ch.kind,
                        Operation::send(
                            spectrometer,
                            Command::Acquire {
                                illumination,
                                integration: ch.integration,
                                averages: ch.averages,
                                replicate: 0,
                                light: None,
                                point: None,
                                tick: None,
                            },
                        ),
                    )
                })
            })
            .collect();
    }
    let mut seq = LightSequence::new(c, spectrometer);
    let mut out = Vec::new();
    for ch in m.channels.iter().filter(|ch| ch.kind.needs_dark()) {
        seq.switch(None);
        seq.scan(Illumination::Dark, ch, 0);
        if ch.kind == ChannelKind::Absorbance {
            seq.switch(ch.light);
            seq.scan(Illumination::Broadband, ch, 0);
        }
        out.extend(seq.ops.drain(..).map(|op| (ch.kind, op)));
    }
    seq.switch(None);
    let last = m
        .channels
        .last()
        .map_or(ChannelKind::Absorbance, |ch| ch.kind);
    out.extend(seq.ops.drain(..).map(|op| (last, op)));
    out
}

/// The measurement's acquisitions: each replicate reads every channel. With lights, each
/// channel is read under its light, all its replicates in a row, and the lights end off.
fn acquisitions(c: &Campaign) -> Vec<Operation> {
    let Some((m, spectrometer)) = c
        .measurement
        .as_ref()
        .and_then(|m| Some((m, m.spectrometer?)))
    else {
        return Vec::new();
    };
    if switches_lights(c) {
        let mut seq = LightSequence::new(c, spectrometer);
        for ch in &m.channels {
            seq.switch(ch.light);
            for r in 0..m.replicates {
                seq.scan(super::command::illumination(ch.kind), ch, r);
            }
        }
        seq.switch(None);
        return seq.ops;
    }
    (0..m.replicates)
        .flat_map(|r| {
            m.channels.iter().map(move |ch| {
                Operation::send(
                    spectrometer,
                    Command::acquire(ch.kind, ch.integration, ch.averages, r),
                )
            })
        })
        .collect()
}

/// The steps that take an experiment's spectra: one step of `acquire_ops`, or with a
/// `probe` one step per point, which moves the probe there and takes them all again, each
/// acquisition marked with its point.
fn measure_steps(
    c: &Campaign,
    rates: &BTreeMap<DeviceId, f64>,
    acquire_ops: Vec<Operation>,
) -> Vec<Step> {
    if acquire_ops.is_empty() {
        return Vec::new();
    }
    let how = if switches_lights(c) {
        "each channel under its light (switched, settled, first scan discarded), every replicate"
    } else {
        "each replicate reads every channel"
    };
    let probe = c
        .measurement
        .as_ref()
        .and_then(|m| Some((m.probe.as_ref()?, m.spectrometer?)));
    let Some((probe, spectrometer)) = probe else {
        return vec![Step {
            why: format!("measure: {how}"),
            ops: acquire_ops,
        }];
    };
    let coil = c
        .devices
        .get(probe.coil)
        .map_or_else(String::new, |d| d.name.clone());
    let residence = probe.residence_times(&c.topology, rates);
    probe
        .points
        .iter()
        .zip(residence)
        .enumerate()
        .map(|(k, (point, residence))| {
            let index = u32::try_from(k).unwrap_or(u32::MAX);
            let mut ops = vec![Operation::send(
                spectrometer,
                Command::MoveProbe {
                    point: index,
                    coil: coil.clone(),
                    volume: point.volume,
                },
            )];
            ops.extend(marked(&acquire_ops, Some(index), None));
            Step {
                why: format!(
                    "measure at point {} of {}: {} along {coil}, {} of residence at these rates; {how}",
                    k + 1,
                    probe.points.len(),
                    point.label(),
                    unit_format("s", residence)
                ),
                ops,
            }
        })
        .collect()
}

/// The acquisitions of one reading, marked with where it was taken: a probe `point`, or the
/// `tick` of a sweep (a ramp, a droplet train).
fn marked(
    acquire_ops: &[Operation],
    point: Option<u32>,
    tick: Option<u32>,
) -> impl Iterator<Item = Operation> + '_ {
    acquire_ops.iter().cloned().map(move |op| match op {
        Operation::Send {
            device,
            command:
                Command::Acquire {
                    illumination,
                    integration,
                    averages,
                    replicate,
                    light,
                    ..
                },
        } => Operation::send(
            device,
            Command::Acquire {
                illumination,
                integration,
                averages,
                replicate,
                light,
                point,
                tick,
            },
        ),
        other => other,
    })
}

/// How long a step's commands and acquisitions keep the lab busy, s (what a hold to the next
/// step leaves out).
fn busy(ops: &[Operation]) -> f64 {
    ops.iter()
        .map(|o| match o {
            Operation::Send { command, .. } => match command {
                Command::Acquire {
                    integration,
                    averages,
                    ..
                } => integration * f64::from(*averages) + COMMAND_OVERHEAD_S,
                Command::Discard { integration } => integration + COMMAND_OVERHEAD_S,
                _ => COMMAND_OVERHEAD_S,
            },
            Operation::WaitLight { seconds, .. } => *seconds,
            _ => 0.0,
        })
        .sum()
}

/// A droplets measurement's train (see `crate::droplet`), after the reactor has filled with
/// carrier at the experiment's total flow `Q`: droplet by droplet, the reagent pumps alone at
/// their `rates` for the droplet's volume, then the carrier alone at `Q` for the spacing; with
/// a `hold`, every pump stops once the train is made and half a spacing on, then the carrier
/// goes on; readings every
/// `every` from when the first droplet (less half a spacing) reaches the cell until the last
/// has passed it (plus half a spacing), none during the stop. One step per change of the flows
/// and per reading, each holding until the next.
fn droplet_steps(
    c: &Campaign,
    d: &Droplets,
    rates: &BTreeMap<DeviceId, f64>,
    acquire_ops: &[Operation],
) -> Vec<Step> {
    let q: f64 = rates.values().filter(|r| **r > 0.0).sum();
    let reactor = c.topology.reactor_volume.unwrap_or(0.0);
    if q <= 0.0 {
        return Vec::new();
    }
    let n = d.count;
    let period = (d.volume + d.spacing) / q;
    let made = f64::from(n.saturating_sub(1)) * period + d.volume / q;
    // With a stop, the carrier first moves the train on by half a spacing, so the last
    // droplet clears the junction (and an unheated mixer) before the flow stops.
    let stop = made + 0.5 * d.spacing / q;
    let microlitres = |v: f64| format!("{} uL", qdx_units::format_number(v * 1e9));
    let reagents_on = || -> Vec<Operation> {
        rates
            .iter()
            .map(|(p, r)| Operation::send(*p, Command::SetRate { rate: *r }))
            .chain(std::iter::once(Operation::send(d.carrier, Command::Stop)))
            .collect()
    };
    let carrier_on = || -> Vec<Operation> {
        rates
            .keys()
            .map(|p| Operation::send(*p, Command::Stop))
            .chain(std::iter::once(Operation::send(
                d.carrier,
                Command::SetRate { rate: q },
            )))
            .collect()
    };
    // (time, settings, reading, why), put in time order below.
    let mut events: Vec<(f64, Vec<Operation>, Option<u32>, String)> = Vec::new();
    for k in 0..n {
        let start = f64::from(k) * period;
        events.push((
            start,
            reagents_on(),
            None,
            format!(
                "droplet {} of {n}: the reagents alone for {}",
                k + 1,
                microlitres(d.volume)
            ),
        ));
        events.push((
            start + d.volume / q,
            carrier_on(),
            None,
            if k + 1 < n {
                format!(
                    "carrier for {} after droplet {}",
                    microlitres(d.spacing),
                    k + 1
                )
            } else {
                "the carrier moves the train on".to_owned()
            },
        ));
    }
    if d.hold > 0.0 {
        events.push((
            stop,
            rates
                .keys()
                .chain(std::iter::once(&d.carrier))
                .map(|p| Operation::send(*p, Command::Stop))
                .collect(),
            None,
            format!(
                "stop-and-go: the train rests in the reactor for {} s",
                qdx_units::format_number(d.hold)
            ),
        ));
        events.push((
            stop + d.hold,
            vec![Operation::send(d.carrier, Command::SetRate { rate: q })],
            None,
            "the carrier moves the train on".to_owned(),
        ));
    }
    // When the cumulative volume `v` is reached: the stop delays whatever comes after it.
    let at = |v: f64| {
        let t = v / q;
        if d.hold > 0.0 && t > stop {
            t + d.hold
        } else {
            t
        }
    };
    let first = at((reactor - 0.5 * d.spacing).max(0.0));
    let last = at(reactor + d.train() + 0.5 * d.spacing);
    let mut k: u32 = 0;
    let mut t = first;
    while t <= last && u64::from(k) < MAX_TRANSIENT_SPECTRA {
        let stopped = d.hold > 0.0 && t > stop && t < stop + d.hold;
        if !stopped {
            events.push((
                t,
                Vec::new(),
                Some(k),
                format!("droplet reading {} as the train passes the cell", k + 1),
            ));
            k += 1;
        }
        t += d.every;
    }
    // Stable: at one instant the flows change before the reading.
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    let times: Vec<f64> = events.iter().map(|e| e.0).collect();
    events
        .into_iter()
        .enumerate()
        .map(|(i, (time, mut ops, reading, why))| {
            if let Some(k) = reading {
                ops.extend(marked(acquire_ops, None, Some(k)));
            }
            if let Some(next) = times.get(i + 1) {
                let seconds = (next - time - busy(&ops)).max(0.0);
                if seconds > 0.0 {
                    ops.push(Operation::Hold { seconds });
                }
            }
            Step { why, ops }
        })
        .collect()
}

/// A transient measurement's readings: one step each, which sets every pump to the reading's
/// rates (the first reading's are the steady state's, sent again so the ramp's history is
/// whole), takes every channel once marked with its `tick`, and holds the flows for the rest
/// of the interval (the last reading holds nothing: the ramp ends with it).
///
/// The ramp is a staircase of rate commands, one per reading: a real syringe pump takes
/// discrete rate commands over a serial line (tens of milliseconds each), and the interval
/// between readings is what the campaign chose to resolve the ramp with, at least
/// `MIN_TRANSIENT_SPECTRA` steps over it. The mapping of spectra to conditions integrates
/// the journaled staircase exactly, so the steps are no error of the mapping.
fn ramp_steps(
    c: &Campaign,
    rates: &BTreeMap<DeviceId, f64>,
    acquire_ops: &[Operation],
    ramp: &[RampTick],
    every: f64,
) -> Vec<Step> {
    let Some(t) = c.measurement.as_ref().and_then(|m| m.transient.as_ref()) else {
        return Vec::new();
    };
    let variable = c.variables.get(t.variable);
    let name = variable.map_or("?", |v| v.name.as_str());
    let n = ramp.len();
    ramp.iter()
        .enumerate()
        .map(|(k, tick)| {
            let index = u32::try_from(k).unwrap_or(u32::MAX);
            let tick_rates = if k == 0 { rates } else { &tick.rates };
            let mut ops: Vec<Operation> = tick_rates
                .iter()
                .map(|(p, r)| Operation::send(*p, Command::SetRate { rate: *r }))
                .collect();
            ops.extend(marked(acquire_ops, None, Some(index)));
            let busy = busy(&ops);
            if k + 1 < n {
                ops.push(Operation::Hold {
                    seconds: (every - busy).max(0.0),
                });
            }
            Step {
                why: format!(
                    "ramp reading {} of {n}: {name} {} at {} s into the ramp",
                    k + 1,
                    variable.map_or_else(String::new, |v| v.unit.format(tick.value)),
                    qdx_units::format_number(tick.time)
                ),
                ops,
            }
        })
        .collect()
}

/// Refills for the syringes that cannot last through the experiment (`needs`: what each pump
/// dispenses, m³), marking them full in `state`. An experiment that needs more than a whole
/// syringe cannot run.
fn refills(
    c: &Campaign,
    state: &mut LabState,
    needs: &BTreeMap<DeviceId, f64>,
) -> Result<Vec<Operation>, PlanError> {
    let mut refills = Vec::new();
    for (p, need) in needs {
        let (Some(left), Some(dev)) = (state.syringe_left.get(p).copied(), c.devices.get(*p))
        else {
            continue;
        };
        let (Some(capacity), Some(rate)) = (dev.syringe(), dev.refill_rate()) else {
            continue;
        };
        if need * REAGENT_MARGIN > capacity {
            let stock = c
                .stocks
                .iter()
                .find(|s| s.pump == *p)
                .map_or(dev.span, |s| s.span);
            return Err(PlanError::SyringeTooSmall {
                pump: dev.name.clone(),
                needed: unit_format("mL", *need),
                syringe: unit_format("mL", capacity),
                span: if stock.file().is_some() {
                    dev.span
                } else {
                    stock
                },
            });
        }
        if left < need * REAGENT_MARGIN {
            refills.push(Operation::send(
                *p,
                Command::Refill {
                    volume: capacity - left,
                    rate,
                },
            ));
            state.syringe_left.insert(*p, capacity);
        }
    }
    Ok(refills)
}

/// Runs through a plan's steps from the pump rates it starts with: its duration (a step lasts
/// as long as its longest operation; acquisitions add up), each pump's rate at the end, and
/// the reagent each pump dispenses (its rate over each step, with the rates the step sets).
fn run_through(
    c: &Campaign,
    plan: &ExperimentPlan,
    start_rates: BTreeMap<DeviceId, f64>,
) -> (f64, BTreeMap<DeviceId, f64>, BTreeMap<DeviceId, f64>) {
    let mut total = 0.0;
    let mut current = start_rates;
    let mut used: BTreeMap<DeviceId, f64> = BTreeMap::new();
    for s in &plan.steps {
        for (device, command) in s.ops.iter().filter_map(Operation::setting) {
            match command {
                Command::SetRate { rate } => {
                    current.insert(device, *rate);
                }
                Command::Stop | Command::Refill { .. } => {
                    current.insert(device, 0.0);
                }
                _ => {}
            }
        }
        let longest = if s.ops.iter().any(Operation::is_sequenced) {
            s.ops.iter().map(|o| o.estimate(plan, c)).sum::<f64>()
        } else {
            s.ops
                .iter()
                .map(|o| o.estimate(plan, c))
                .fold(0.0, f64::max)
        };
        total += longest;
        for (p, r) in &current {
            *used.entry(*p).or_insert(0.0) += r * longest;
        }
    }
    (total, current, used)
}

fn out_of_limits(d: &Derived, v: f64, spec: &SettingSpec) -> PlanError {
    PlanError::OutOfLimits {
        name: d.name.clone(),
        value: d.unit.format(v),
        lo: spec.unit.format(spec.lo),
        hi: spec.unit.format(spec.hi),
        span: d.span,
    }
}
