//! `plan.json` (and `qdx plan --format json`): the plan, self-describing.
//!
//! Devices, stocks and variables are named as in the campaign; every number is in the unit
//! its key names in brackets (`"rate [uL/min]"`, `"duration [s]"`), the campaign's unit where
//! it has one (a variable's, a device setting's), printed by the one formatter
//! ([`DisplayUnit::number`]). A key without brackets is unitless.
//!
//! ```json
//! {
//!   "campaign": "…", "strategy": "snobfit", "experiments": 60,
//!   "duration [s]": {"min": …, "median": …, "max": …},   // one experiment, over the design space
//!   "total_time [s]": …, "refills": 0,
//!   "lines": ["a", "b"],   // parallel lines only: batch slot k (a design's i % lines) on line k
//!   "refill_schedule": [{"before_experiment": 14, "pump": "p_cd", "volume [mL]": …}],
//!                        // a design's refills; empty for an adaptive strategy
//!   "reagent [mL]": {"<stock>": {"per_experiment_max": …, "total": …}},
//!   "design": null | {"makespan [s]": …, "makespan_unordered [s]": …,
//!                     "points": [{"<variable> [<unit>]": …}, …]},     // in run order
//!   "example": {                 // the first experiment of a design, or a representative one
//!     "experiment": 0,
//!     "variables": {"<variable> [<unit>]": …},
//!     "settings": {"<device>.<setting> [<unit>]": …},   // as sent, after rounding
//!     "steps": [{"why": "…", "operations": [
//!        {"device": "p_cd", "command": "set_rate", "rate [uL/min]": …},
//!        {"device": "p_cd", "command": "stop"},
//!        {"device": "p_cd", "command": "refill", "volume [mL]": …, "rate [mL/min]": …},
//!        {"device": "h1", "command": "set_setpoint", "setpoint [degC]": …},
//!        {"device": "v1", "command": "set_position", "position": 2},
//!        {"device": "spec1", "command": "acquire", "illumination": "excitation",
//!         "integration [ms]": …, "averages": 10, "replicate": 0},
//!        {"wait": "thermal", "device": "h1", "within [K]": …, "hold [s]": …},
//!        {"wait": "steady_state", "reactor_volumes": 3, "total_flow [uL/min]": …,
//!         "residence [s]": …, "extra [s]": …},
//!        {"read": "virtual lab"}]}],
//!     "reagent [mL]": {"<stock>": …},
//!     "estimated_duration [s]": …,
//!     "notes": ["…"]
//!   },
//!   "warnings": ["…"]
//! }
//! ```

use qdx_units::{Interpretation, Unit};
use serde_json::{Map, Value, json};

use crate::plan::{Command, ExperimentPlan, Operation, Plan};
use crate::validate::campaign::{Campaign, DerivedTarget, DeviceId, DisplayUnit, Drive};

/// A unit the plan prints in when the campaign gives none (a fixed, known symbol).
fn fixed(symbol: &str, interpretation: Interpretation) -> DisplayUnit {
    match Unit::parse(symbol) {
        Ok(unit) => DisplayUnit::new(unit, interpretation),
        Err(_) => DisplayUnit::plain(),
    }
}

/// A value in a unit as a JSON number: the number [`DisplayUnit::number`] prints.
fn number(unit: &DisplayUnit, si: f64) -> Value {
    unit.number(si)
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// `name [unit]` and the value in that unit.
fn entry(map: &mut Map<String, Value>, name: &str, unit: &DisplayUnit, si: f64) {
    map.insert(super::column(name, unit), number(unit, si));
}

/// The text of `plan.json`.
pub fn write(c: &Campaign, plan: &Plan) -> String {
    let seconds = fixed("s", Interpretation::Difference);
    let ml = fixed("mL", Interpretation::Difference);
    let mut out = Map::new();
    out.insert("campaign".into(), json!(plan.campaign));
    out.insert("strategy".into(), json!(plan.strategy));
    out.insert("experiments".into(), json!(plan.experiments));
    let mut duration = Map::new();
    duration.insert("min".into(), number(&seconds, plan.duration.min));
    duration.insert("median".into(), number(&seconds, plan.duration.median));
    duration.insert("max".into(), number(&seconds, plan.duration.max));
    out.insert("duration [s]".into(), Value::Object(duration));
    entry(&mut out, "total_time", &seconds, plan.total_time);
    // With parallel lines: batch slot `k` (a design's experiment `i % lines`) runs on line `k`.
    if plan.lines.len() > 1 {
        out.insert("lines".into(), json!(plan.lines));
    }
    out.insert("refills".into(), json!(plan.refills));
    out.insert(
        "refill_schedule".into(),
        Value::Array(
            plan.refill_schedule
                .iter()
                .map(|r| {
                    let mut m = Map::new();
                    m.insert("before_experiment".into(), json!(r.before_experiment));
                    m.insert(
                        "pump".into(),
                        json!(c.devices.get(r.pump).map_or("?", |d| d.name.as_str())),
                    );
                    entry(&mut m, "volume", &ml, r.volume);
                    Value::Object(m)
                })
                .collect(),
        ),
    );
    let mut reagent = Map::new();
    for (stock, r) in &plan.reagent {
        let mut m = Map::new();
        m.insert(
            "per_experiment_max".into(),
            number(&ml, r.per_experiment_max),
        );
        m.insert("total".into(), number(&ml, r.total));
        reagent.insert(stock.clone(), Value::Object(m));
    }
    out.insert("reagent [mL]".into(), Value::Object(reagent));
    out.insert(
        "design".into(),
        plan.design.as_ref().map_or(Value::Null, |d| {
            let mut m = Map::new();
            entry(&mut m, "makespan", &seconds, d.makespan);
            entry(&mut m, "makespan_unordered", &seconds, d.makespan_unordered);
            m.insert(
                "points".into(),
                Value::Array(d.points.iter().map(|p| variables(c, p)).collect()),
            );
            Value::Object(m)
        }),
    );
    out.insert(
        "example".into(),
        plan.example
            .as_ref()
            .map_or(Value::Null, |e| experiment(c, e)),
    );
    out.insert("warnings".into(), json!(plan.warnings));
    serde_json::to_string_pretty(&Value::Object(out)).unwrap_or_default() + "\n"
}

/// A point: each variable by name and unit (a choice by its level's name).
fn variables(c: &Campaign, point: &[f64]) -> Value {
    let mut m = Map::new();
    for (k, (v, x)) in c.variables.iter().zip(point).enumerate() {
        let cell = super::observations::variable_cell(c, k, *x);
        let value = if v.is_numeric() {
            number(&v.unit, *x)
        } else {
            Value::String(cell)
        };
        m.insert(super::column(&v.name, &v.unit), value);
    }
    Value::Object(m)
}

fn experiment(c: &Campaign, e: &ExperimentPlan) -> Value {
    let seconds = fixed("s", Interpretation::Difference);
    let ml = fixed("mL", Interpretation::Difference);
    let mut out = Map::new();
    out.insert("experiment".into(), json!(e.id));
    out.insert("variables".into(), variables(c, &e.variables));
    let mut settings = Map::new();
    for d in &c.derived {
        let DerivedTarget::Setting { device, drive, .. } = &d.target else {
            continue;
        };
        let sent = match drive {
            Drive::PumpRate => e.rates.get(device),
            Drive::HeaterSetpoint => e.setpoints.get(device),
            Drive::ValvePosition => None,
        }
        .copied();
        if let Some(v) = sent {
            entry(&mut settings, &d.name, &d.unit, v);
        }
    }
    out.insert("settings".into(), Value::Object(settings));
    let steps: Vec<Value> = e
        .steps
        .iter()
        .map(|s| {
            json!({
                "why": s.why,
                "operations": s.ops.iter().map(|o| operation(c, o)).collect::<Vec<_>>(),
            })
        })
        .collect();
    out.insert("steps".into(), Value::Array(steps));
    let mut reagent = Map::new();
    for s in &c.stocks {
        if let Some(v) = e.reagent.get(&s.pump) {
            reagent.insert(s.name.clone(), number(&ml, *v));
        }
    }
    out.insert("reagent [mL]".into(), Value::Object(reagent));
    entry(
        &mut out,
        "estimated_duration",
        &seconds,
        e.estimated_duration,
    );
    out.insert("notes".into(), json!(e.notes));
    Value::Object(out)
}

/// The unit a device's setting is declared in (a fixed one when the device has no such
/// setting).
fn setting_unit(
    c: &Campaign,
    device: DeviceId,
    drive: Drive,
    fallback: &str,
    interpretation: Interpretation,
) -> DisplayUnit {
    c.devices
        .get(device)
        .and_then(|d| d.driven(drive))
        .map_or_else(|| fixed(fallback, interpretation), |s| s.unit.clone())
}

fn operation(c: &Campaign, op: &Operation) -> Value {
    let name = |d: DeviceId| c.devices.get(d).map_or("?", |x| x.name.as_str());
    let seconds = fixed("s", Interpretation::Difference);
    let mut m = Map::new();
    match op {
        Operation::Send { device, command } => {
            m.insert("device".into(), json!(name(*device)));
            let kind = serde_json::to_value(command)
                .ok()
                .and_then(|v| v.get("command").cloned())
                .unwrap_or(Value::Null);
            m.insert("command".into(), kind);
            match command {
                Command::SetRate { rate } => {
                    let unit = setting_unit(
                        c,
                        *device,
                        Drive::PumpRate,
                        "uL/min",
                        Interpretation::Difference,
                    );
                    entry(&mut m, "rate", &unit, *rate);
                }
                Command::Stop => {}
                Command::Refill { volume, rate } => {
                    entry(
                        &mut m,
                        "volume",
                        &fixed("mL", Interpretation::Difference),
                        *volume,
                    );
                    entry(
                        &mut m,
                        "rate",
                        &fixed("mL/min", Interpretation::Difference),
                        *rate,
                    );
                }
                Command::SetSetpoint { kelvin } => {
                    let unit = setting_unit(
                        c,
                        *device,
                        Drive::HeaterSetpoint,
                        "degC",
                        Interpretation::Absolute,
                    );
                    entry(&mut m, "setpoint", &unit, *kelvin);
                }
                Command::SetPosition { position, name } => {
                    m.insert("position".into(), json!(position));
                    if let Some(name) = name {
                        m.insert("position_name".into(), json!(name));
                    }
                }
                Command::Acquire {
                    illumination,
                    integration,
                    averages,
                    replicate,
                    light,
                    point,
                    tick,
                } => {
                    m.insert("illumination".into(), json!(illumination));
                    entry(
                        &mut m,
                        "integration",
                        &fixed("ms", Interpretation::Difference),
                        *integration,
                    );
                    m.insert("averages".into(), json!(averages));
                    m.insert("replicate".into(), json!(replicate));
                    if let Some(light) = light {
                        m.insert("light".into(), json!(light));
                    }
                    if let Some(point) = point {
                        m.insert("point".into(), json!(point));
                    }
                    if let Some(tick) = tick {
                        m.insert("tick".into(), json!(tick));
                    }
                }
                Command::MoveProbe {
                    point,
                    coil,
                    volume,
                } => {
                    m.insert("point".into(), json!(point));
                    m.insert("coil".into(), json!(coil));
                    entry(
                        &mut m,
                        "volume",
                        &fixed("uL", Interpretation::Difference),
                        *volume,
                    );
                }
                Command::SetLight { on } => {
                    m.insert("on".into(), json!(on));
                }
                Command::Discard { integration } => {
                    entry(
                        &mut m,
                        "integration",
                        &fixed("ms", Interpretation::Difference),
                        *integration,
                    );
                }
            }
        }
        Operation::WaitThermal {
            device,
            within,
            hold,
        } => {
            m.insert("wait".into(), json!("thermal"));
            m.insert("device".into(), json!(name(*device)));
            entry(
                &mut m,
                "within",
                &fixed("K", Interpretation::Difference),
                *within,
            );
            entry(&mut m, "hold", &seconds, *hold);
        }
        Operation::WaitSteadyState {
            volumes,
            total_flow,
            residence,
            extra,
        } => {
            m.insert("wait".into(), json!("steady_state"));
            m.insert(
                "reactor_volumes".into(),
                number(&DisplayUnit::plain(), *volumes),
            );
            entry(
                &mut m,
                "total_flow",
                &fixed("uL/min", Interpretation::Difference),
                *total_flow,
            );
            entry(&mut m, "residence", &seconds, *residence);
            entry(&mut m, "extra", &seconds, *extra);
        }
        Operation::Read => {
            m.insert("read".into(), json!("virtual lab"));
        }
        Operation::WaitLight { device, seconds: s } => {
            m.insert("wait".into(), json!("light"));
            m.insert("device".into(), json!(name(*device)));
            entry(&mut m, "seconds", &seconds, *s);
        }
        Operation::Hold { seconds: s } => {
            m.insert("wait".into(), json!("hold"));
            entry(&mut m, "seconds", &seconds, *s);
        }
    }
    Value::Object(m)
}
