//! One experiment as operations on devices: what to set, what to wait for and why, what to
//! acquire, how much reagent it takes, how long it lasts.
//!
//! Invariant of an [`ExperimentPlan`]: every setting it sends lies within its device's limits
//! and the safety envelope (checked here again, after validation proved it for the whole box:
//! rounding and refills happen here), and no acquisition is scheduled before the declared
//! steady state (the reactor volumes have flowed through the cell at the final flow, after the
//! temperature settled).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diagnostic::codes::plan as code;
use crate::validate::campaign::*;
use crate::validate::expr::Env;

/// Seconds of overhead per device command and per acquisition (serial round trips).
pub const COMMAND_OVERHEAD_S: f64 = 0.05;
/// Safety margin on reagent: refill when less than this share of a syringe would remain.
pub const REAGENT_MARGIN: f64 = 1.05;

/// What the planner knows about the lab between experiments.
#[derive(Debug, Clone, Serialize)]
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
            if let Some(v) = d.quantity("syringe") {
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

/// Room temperature, K.
pub const AMBIENT_K: f64 = 298.15;

/// One operation on the lab.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Operation {
    /// Stop a pump.
    Stop { device: DeviceId },
    /// Refill a syringe from its reservoir: withdraw `volume` at `rate`, then infuse again.
    Refill {
        device: DeviceId,
        volume: f64,
        rate: f64,
    },
    /// Set a pump's rate (m³/s) and run it (a zero rate stops it).
    SetRate { device: DeviceId, rate: f64 },
    /// Set a heater's setpoint (K).
    SetSetpoint { device: DeviceId, kelvin: f64 },
    /// Set a valve's position.
    SetPosition { device: DeviceId, position: u16 },
    /// Wait until the heater is within `within` K of its setpoint for `hold` s.
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
        /// [`residence_time`]).
        residence: f64,
        extra: f64,
    },
    /// Take one averaged spectrum.
    Acquire {
        device: DeviceId,
        channel: ChannelKind,
        integration: f64,
        averages: u32,
        replicate: u32,
    },
    /// Ask a virtual lab (table or script model) for its readings at the variables.
    Read,
}

impl Operation {
    /// Estimated duration, s.
    pub fn estimate(&self, plan: &ExperimentPlan, c: &Campaign) -> f64 {
        match self {
            Operation::Stop { .. }
            | Operation::SetRate { .. }
            | Operation::SetSetpoint { .. }
            | Operation::SetPosition { .. }
            | Operation::Read => COMMAND_OVERHEAD_S,
            Operation::Refill { volume, rate, .. } => {
                volume / rate.max(f64::MIN_POSITIVE) + 2.0 * COMMAND_OVERHEAD_S
            }
            Operation::WaitThermal {
                device,
                within,
                hold,
            } => {
                let tau = c
                    .devices
                    .get(*device)
                    .and_then(|d| d.quantity("time_constant"))
                    .unwrap_or(60.0);
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
            Operation::Acquire {
                integration,
                averages,
                ..
            } => integration * f64::from(*averages) + COMMAND_OVERHEAD_S,
        }
    }

    /// A short description for `qdx plan`.
    pub fn describe(&self, c: &Campaign) -> String {
        let name = |d: &DeviceId| c.devices.get(*d).map_or("?", |x| x.name.as_str());
        let flow = |v: f64| unit_format("uL/min", v);
        match self {
            Operation::Stop { device } => format!("stop {}", name(device)),
            Operation::Refill {
                device,
                volume,
                rate,
            } => {
                format!(
                    "refill {} with {} at {}",
                    name(device),
                    unit_format("mL", *volume),
                    unit_format("mL/min", *rate)
                )
            }
            Operation::SetRate { device, rate } => {
                format!("set {} to {}", name(device), flow(*rate))
            }
            Operation::SetSetpoint { device, kelvin } => {
                format!("set {} to {}", name(device), temp_format(*kelvin))
            }
            Operation::SetPosition { device, position } => {
                format!("set {} to position {position}", name(device))
            }
            Operation::WaitThermal {
                device,
                within,
                hold,
            } => format!(
                "wait until {} is within {} K of its setpoint for {} s",
                name(device),
                qdx_units::format_number(*within),
                qdx_units::format_number(*hold)
            ),
            Operation::WaitSteadyState {
                volumes,
                total_flow,
                extra,
                ..
            } => {
                let mut s = format!(
                    "wait {} reactor volumes at {}",
                    qdx_units::format_number(*volumes),
                    flow(*total_flow)
                );
                if *extra > 0.0 {
                    s.push_str(&format!(" + {} s", qdx_units::format_number(*extra)));
                }
                s
            }
            Operation::Acquire {
                device,
                channel,
                integration,
                averages,
                replicate,
            } => format!(
                "acquire {} on {} ({} ms x {}, replicate {})",
                channel.name(),
                name(device),
                qdx_units::format_number(integration * 1000.0),
                averages,
                replicate + 1
            ),
            Operation::Read => "read the virtual lab".to_owned(),
        }
    }
}

fn unit_format(unit: &str, si: f64) -> String {
    match qdx_units::Unit::parse(unit) {
        Ok(u) => {
            let x = u.from_si(si, qdx_units::Interpretation::Difference);
            let rounded = if x == 0.0 || !x.is_finite() {
                x
            } else {
                let scale = 10_f64.powi((3 - x.abs().log10().floor() as i32).clamp(-300, 300));
                (x * scale).round() / scale
            };
            format!("{} {unit}", qdx_units::format_number(rounded))
        }
        Err(_) => qdx_units::format_number(si),
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

/// The time one "reactor volume" takes at these pump rates, s: how long the slowest new stream
/// needs from its pump to the measuring cell (inclusive).
///
/// Every device on a pump's way carries the sum of the rates of the pumps whose ways pass
/// through it, so each segment has its own residence time; a stream's time is the sum over its
/// way and the slowest running stream sets the wait. For streams that all join before the first
/// device with a volume this is `reactor_volume / total_flow`; a long coil before a later merge
/// point counts at its own (lower) flow. A device without a declared volume holds none.
pub fn residence_time(c: &Campaign, rates: &BTreeMap<DeviceId, f64>) -> f64 {
    let total_flow: f64 = rates.values().filter(|r| **r > 0.0).sum();
    let Some(cell) = c.measurement.as_ref().map(|m| m.cell) else {
        let v = c.topology.reactor_volume.unwrap_or(0.0);
        return if total_flow > 0.0 {
            v / total_flow
        } else {
            0.0
        };
    };
    let running = |p: DeviceId| rates.get(&p).is_some_and(|r| *r > 0.0);
    // Each running pump's way up to the cell.
    let ways: Vec<(DeviceId, &[DeviceId])> = c
        .topology
        .paths
        .iter()
        .filter(|p| running(p.pump))
        .filter_map(|p| {
            let end = p.devices.iter().position(|d| *d == cell)?;
            Some((p.pump, p.devices.get(..=end)?))
        })
        .collect();
    let flow_through = |d: DeviceId| -> f64 {
        ways.iter()
            .filter(|(_, way)| way.contains(&d))
            .map(|(p, _)| rates.get(p).copied().unwrap_or(0.0))
            .sum()
    };
    ways.iter()
        .map(|(_, way)| {
            way.iter()
                .filter_map(|d| {
                    let dev = c.devices.get(*d)?;
                    if dev.role == Role::Pump {
                        return None;
                    }
                    let q = flow_through(*d);
                    (q > 0.0).then(|| dev.quantity("volume").unwrap_or(0.0) / q)
                })
                .sum::<f64>()
        })
        .fold(0.0, f64::max)
}

/// Time for `volumes` reactor volumes to flow at these pump rates.
pub fn steady_state_time(c: &Campaign, volumes: f64, rates: &BTreeMap<DeviceId, f64>) -> f64 {
    volumes * residence_time(c, rates)
}

/// A group of operations that run at the same time, with the reason they run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub why: String,
    pub ops: Vec<Operation>,
}

/// One experiment, planned.
#[derive(Debug, Clone, Serialize)]
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
}

impl PlanError {
    pub fn span(&self) -> crate::source::Span {
        match self {
            PlanError::OutOfLimits { span, .. }
            | PlanError::NotFinite { span, .. }
            | PlanError::SyringeTooSmall { span, .. }
            | PlanError::Safety { span, .. } => *span,
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

/// Plans one experiment at `vars` (SI), from the lab's current state, and advances the state.
pub fn plan_experiment(
    c: &Campaign,
    state: &mut LabState,
    id: u64,
    vars: &[f64],
) -> Result<ExperimentPlan, PlanError> {
    let start_rates = state.rates.clone();
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
        let DerivedTarget::Setting { device, setting } = &d.target else {
            continue;
        };
        let Some(dev) = c.devices.get(*device) else {
            continue;
        };
        let Some(spec) = dev.setting(setting) else {
            continue;
        };
        let mut v = value;
        if dev.role == Role::Pump && setting == "rate" {
            let r = runnable_rate(v, spec.lo);
            if r != v {
                notes.push(format!(
                    "{} rounded from {} to {} (the pump's smallest rate is {})",
                    d.name,
                    d.unit.format(v),
                    d.unit.format(r),
                    spec.unit.format(spec.lo)
                ));
            }
            v = r;
            if v != 0.0 && (v < spec.lo * (1.0 - 1e-9) || v > spec.hi * (1.0 + 1e-9)) || v < 0.0 {
                return Err(out_of_limits(d, v, spec));
            }
            rates.insert(*device, v);
        } else {
            if v < spec.lo - 1e-9 * spec.lo.abs() || v > spec.hi + 1e-9 * spec.hi.abs() {
                return Err(out_of_limits(d, v, spec));
            }
            if dev.role == Role::Heater && setting == "setpoint" {
                setpoints.insert(*device, v);
            }
        }
    }
    // The safety envelope, checked again at the point.
    let total_flow: f64 = rates.values().sum();
    for l in &c.safety.limits {
        let value = match &l.subject {
            LimitSubject::TotalFlow => Some(total_flow),
            LimitSubject::Temperature => setpoints.values().copied().reduce(f64::max),
            LimitSubject::Derived(d) => derived.get(*d).copied(),
            LimitSubject::Variable(v) => vars.get(*v).copied(),
            LimitSubject::Pressure => None,
        };
        if let Some(x) = value {
            let ok = match l.subject {
                LimitSubject::Temperature => setpoints.values().all(|t| l.op.holds(*t, l.value)),
                _ => l.op.holds(x, l.value * (1.0 + 1e-9 * l.value.signum())),
            };
            if !ok {
                return Err(PlanError::Safety {
                    limit: l.text.clone(),
                    value: l.unit.format(x),
                    span: l.span,
                });
            }
        }
    }

    let mut plan = ExperimentPlan {
        id,
        variables: vars.to_vec(),
        derived,
        rates: rates.clone(),
        setpoints: setpoints.clone(),
        steps: Vec::new(),
        reagent: BTreeMap::new(),
        thermal_change: BTreeMap::new(),
        estimated_duration: 0.0,
        notes,
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

    // How long the pumps will run at the new rates: settling, steady state, acquisitions.
    let m = c.measurement.as_ref();
    let mut settle = 0.0_f64;
    let mut thermal_ops = Vec::new();
    for (h, sp) in &setpoints {
        let now = state.temperatures.get(h).copied().unwrap_or(AMBIENT_K);
        let delta = sp - now;
        plan.thermal_change.insert(*h, delta);
        let changed = state
            .setpoints
            .get(h)
            .is_none_or(|old| (old - sp).abs() > 1e-9)
            || delta.abs() > m.and_then(|m| m.settle_within).unwrap_or(0.5);
        if changed {
            let within = m.and_then(|m| m.settle_within).unwrap_or(0.5);
            let hold = m.map_or(0.0, |m| m.settle_hold);
            let tau = c
                .devices
                .get(*h)
                .and_then(|d| d.quantity("time_constant"))
                .unwrap_or(60.0);
            settle = settle.max(settle_time(delta.abs(), within, tau) + hold);
            thermal_ops.push(Operation::WaitThermal {
                device: *h,
                within,
                hold,
            });
        }
    }
    let volumes = m.map_or(3.0, |m| m.steady_state_volumes);
    let extra = m.map_or(0.0, |m| m.steady_state_extra);
    let residence = residence_time(c, &rates);
    let steady = volumes * residence + extra;
    let mut acquire_ops = Vec::new();
    if let (Some(m), Some(spec)) = (m, m.and_then(|m| m.spectrometer)) {
        for r in 0..m.replicates {
            for ch in &m.channels {
                acquire_ops.push(Operation::Acquire {
                    device: spec,
                    channel: ch.kind,
                    integration: ch.integration,
                    averages: ch.averages,
                    replicate: r,
                });
            }
        }
    }
    let acquire_time: f64 = acquire_ops.iter().map(|o| o.estimate(&plan, c)).sum();
    // While a temperature settles the pumps stand still: what flows then is discarded anyway,
    // and the steady-state wait that follows flushes the coil.
    let running = steady + acquire_time + COMMAND_OVERHEAD_S * 4.0;
    let _ = settle;

    // A declared flush rinses with one pump after the measurement.
    let flush = m.and_then(|m| m.flush.clone());
    let flush_time = flush.as_ref().map_or(0.0, |f| {
        steady_state_time(c, f.volumes, &BTreeMap::from([(f.pump, f.rate)]))
    });
    // Refills: a syringe that cannot last through this experiment is refilled first.
    let mut refills = Vec::new();
    let mut needs: BTreeMap<DeviceId, f64> = rates.iter().map(|(p, r)| (*p, r * running)).collect();
    if let Some(f) = &flush {
        *needs.entry(f.pump).or_insert(0.0) += f.rate * flush_time;
    }
    for (p, need) in &needs {
        let (p, need) = (p, *need);
        plan.reagent.insert(*p, need);
        let Some(left) = state.syringe_left.get(p).copied() else {
            continue;
        };
        let Some(dev) = c.devices.get(*p) else {
            continue;
        };
        let Some(capacity) = dev.quantity("syringe") else {
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
                needed: unit_format("mL", need),
                syringe: unit_format("mL", capacity),
                span: if stock.file().is_some() {
                    dev.span
                } else {
                    stock
                },
            });
        }
        if left < need * REAGENT_MARGIN {
            // Withdrawing is limited like infusing: never faster than the pump's maximum rate.
            let max = dev.setting("rate").map_or(f64::INFINITY, |s| s.hi);
            let refill_rate = dev
                .quantity("refill_rate")
                .unwrap_or(capacity / 60.0)
                .min(max);
            refills.push(Operation::Refill {
                device: *p,
                volume: capacity - left,
                rate: refill_rate,
            });
            state.syringe_left.insert(*p, capacity);
        }
    }
    if !refills.is_empty() {
        let mut stops: Vec<Operation> = rates
            .keys()
            .filter(|p| state.rates.get(p).is_some_and(|r| *r > 0.0))
            .map(|p| Operation::Stop { device: *p })
            .collect();
        if !stops.is_empty() {
            plan.steps.push(Step {
                why: "stop the flow while syringes refill".into(),
                ops: std::mem::take(&mut stops),
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
        .map(|(h, sp)| Operation::SetSetpoint {
            device: *h,
            kelvin: *sp,
        })
        .collect();
    let settling = !thermal_ops.is_empty();
    if settling {
        // Pumps stop while the temperature settles, heaters change at the same time.
        let mut ops: Vec<Operation> = state
            .rates
            .iter()
            .filter(|(_, r)| **r > 0.0)
            .map(|(p, _)| Operation::Stop { device: *p })
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
    for (p, r) in &rates {
        if state.rates.get(p).is_none_or(|old| (old - r).abs() > 1e-15) {
            set_ops.push(Operation::SetRate {
                device: *p,
                rate: *r,
            });
        }
    }
    if !settling {
        set_ops.extend(heat_ops);
    }
    if let Some(r) = m.and_then(|m| m.route.as_ref()) {
        // What flows while the reactor comes to steady state goes to waste.
        set_ops.push(Operation::SetPosition {
            device: r.valve,
            position: r.waste,
        });
    }
    if !set_ops.is_empty() {
        plan.steps.push(Step {
            why: "apply the experiment's flows (independent devices in parallel)".into(),
            ops: set_ops,
        });
    }
    plan.steps.push(Step {
        why: format!(
            "steady state: {} reactor volumes ({}) through the cell at {} before measuring",
            qdx_units::format_number(volumes),
            unit_format("uL", c.topology.reactor_volume.unwrap_or(0.0)),
            unit_format("uL/min", total_flow)
        ),
        ops: vec![Operation::WaitSteadyState {
            volumes,
            total_flow,
            residence,
            extra,
        }],
    });
    let route = m.and_then(|m| m.route.clone());
    if !acquire_ops.is_empty() {
        if let Some(r) = &route {
            plan.steps.push(Step {
                why: "collect the product while it is measured".into(),
                ops: vec![Operation::SetPosition {
                    device: r.valve,
                    position: r.collect,
                }],
            });
        }
        plan.steps.push(Step {
            why: "measure: each replicate reads every channel".into(),
            ops: acquire_ops,
        });
        if let Some(r) = &route {
            plan.steps.push(Step {
                why: "back to waste".into(),
                ops: vec![Operation::SetPosition {
                    device: r.valve,
                    position: r.waste,
                }],
            });
        }
    }
    if let Some(f) = &flush {
        let mut ops: Vec<Operation> = rates
            .iter()
            .filter(|(p, r)| **r > 0.0 && **p != f.pump)
            .map(|(p, _)| Operation::Stop { device: *p })
            .collect();
        ops.push(Operation::SetRate {
            device: f.pump,
            rate: f.rate,
        });
        plan.steps.push(Step {
            why: "flush: the rinse pump alone".into(),
            ops,
        });
        plan.steps.push(Step {
            why: format!(
                "flush {} reactor volumes through the cell",
                qdx_units::format_number(f.volumes)
            ),
            ops: vec![Operation::WaitSteadyState {
                volumes: f.volumes,
                total_flow: f.rate,
                residence: residence_time(c, &BTreeMap::from([(f.pump, f.rate)])),
                extra: 0.0,
            }],
        });
        plan.steps.push(Step {
            why: "flush done".into(),
            ops: vec![Operation::Stop { device: f.pump }],
        });
    }
    // Durations: a step lasts as long as its longest operation (acquisitions add up). Reagent:
    // each pump's rate over each step, with the rates the step's operations set.
    let mut total = 0.0;
    let mut current: BTreeMap<DeviceId, f64> = start_rates;
    let mut used: BTreeMap<DeviceId, f64> = BTreeMap::new();
    for s in &plan.steps {
        for o in &s.ops {
            match o {
                Operation::SetRate { device, rate } => {
                    current.insert(*device, *rate);
                }
                Operation::Stop { device } | Operation::Refill { device, .. } => {
                    current.insert(*device, 0.0);
                }
                _ => {}
            }
        }
        let longest = if s.ops.iter().any(|o| matches!(o, Operation::Acquire { .. })) {
            s.ops.iter().map(|o| o.estimate(&plan, c)).sum::<f64>()
        } else {
            s.ops
                .iter()
                .map(|o| o.estimate(&plan, c))
                .fold(0.0, f64::max)
        };
        total += longest;
        for (p, r) in &current {
            *used.entry(*p).or_insert(0.0) += r * longest;
        }
    }
    plan.estimated_duration = total;
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

fn out_of_limits(d: &Derived, v: f64, spec: &SettingSpec) -> PlanError {
    PlanError::OutOfLimits {
        name: d.name.clone(),
        value: d.unit.format(v),
        lo: spec.unit.format(spec.lo),
        hi: spec.unit.format(spec.hi),
        span: d.span,
    }
}
