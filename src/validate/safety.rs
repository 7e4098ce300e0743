//! The safety envelope (limits, fault policies, safe setpoints) and the proof that every
//! derived setting stays within device limits and the envelope.

use std::collections::BTreeMap;

use qdx_units::{Dimension, Interpretation, Interval};

use super::Validator;
use super::bounds::{Proof, Region};
use super::campaign::*;
use super::expr::TExpr;
use super::kinds::{NoEnv, display_unit, quantity_of, written_unit};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::codes::validate as code;
use crate::names::closest;
use crate::source::Span;
use crate::syntax::ast::{self, Action, ExprKind, Item, SafetyEntry};

pub(crate) const ACTIONS: &[&str] = &["skip_experiment", "pause", "abort", "stop_all", "continue"];

impl<'a> Validator<'a> {
    pub(super) fn safety(&mut self) {
        let entries: Vec<&'a SafetyEntry> = self
            .items
            .of(|i| match i {
                Item::Safety(b) => Some(b),
                _ => None,
            })
            .into_iter()
            .flat_map(|b| b.entries.iter())
            .collect();
        let mut policies: BTreeMap<Fault, Span> = BTreeMap::new();
        for e in entries {
            match e {
                SafetyEntry::Limit(expr) => match self.limit(expr) {
                    Ok(l) => self.safety.limits.push(l),
                    Err(d) => self.error(d),
                },
                SafetyEntry::OnFault {
                    fault,
                    actions,
                    span,
                } => {
                    let Some(kind) = Fault::from_name(&fault.name) else {
                        let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
                        let d = Diagnostic::error(
                            code::UNKNOWN_FAULT,
                            format!("unknown fault `{}`", fault.name),
                        )
                        .label(fault.span, "not a fault qdx raises");
                        self.error(match closest(&fault.name, names.iter().copied()) {
                            Some(s) => d.did_you_mean(fault.span, s),
                            None => d.help(format!("faults are: {}", names.join(", "))),
                        });
                        continue;
                    };
                    if let Some(first) = policies.insert(kind, fault.span) {
                        self.error(
                            Diagnostic::error(
                                code::DUPLICATE_POLICY,
                                format!("`{}` has two policies", fault.name),
                            )
                            .label(fault.span, "second policy")
                            .label(first, "first policy"),
                        );
                        continue;
                    }
                    match fault_actions(actions) {
                        Ok(list) => self.safety.policies.push(FaultPolicy {
                            fault: kind,
                            actions: list,
                            span: *span,
                        }),
                        Err(d) => self.error(d),
                    }
                }
                SafetyEntry::SafeSetpoint {
                    device,
                    value,
                    span,
                } => {
                    let id = match self.find_device(device, Some(Role::Heater)) {
                        Ok(id) => id,
                        Err(d) => {
                            self.error(d);
                            continue;
                        }
                    };
                    match quantity_of(Dimension::TEMPERATURE, value) {
                        Ok((k, _)) => {
                            let range = self
                                .devices
                                .get(id)
                                .and_then(|d| d.setting("setpoint"))
                                .map(|s| (s.lo, s.hi, s.unit.clone()));
                            if let Some((lo, hi, unit)) = range
                                && (k < lo || k > hi)
                            {
                                self.error(
                                    Diagnostic::error(code::SAFE_SETPOINT, format!("the safe setpoint of `{}` is outside its range {} .. {}", device.name, unit.format(lo), unit.format(hi)))
                                        .at(*span),
                                );
                                continue;
                            }
                            self.safety.safe_setpoints.insert(id, k);
                        }
                        Err(d) => self.error(d),
                    }
                }
            }
        }
        // Heaters without a declared safe setpoint go to room temperature, clamped to their range.
        for (id, d) in self.devices.iter().enumerate() {
            if d.role == Role::Heater && !self.safety.safe_setpoints.contains_key(&id) {
                let (lo, hi) = d
                    .setting("setpoint")
                    .map_or((298.15, 298.15), |s| (s.lo, s.hi));
                self.safety
                    .safe_setpoints
                    .insert(id, 298.15_f64.clamp(lo.min(hi), hi.max(lo)));
            }
        }
    }

    /// `temperature <= 90 degC`, `total_flow <= 1.5 mL/min`, `p1.rate <= 1 mL/min`,
    /// `x >= …`.
    fn limit(&mut self, e: &ast::Expr) -> Result<Limit, Diagnostic> {
        let ExprKind::Binary { op, left, right } = &e.kind else {
            return Err(not_a_limit(e.span));
        };
        let cmp = match op {
            ast::BinaryOp::Le => Comparison::Le,
            ast::BinaryOp::Lt => Comparison::Lt,
            ast::BinaryOp::Ge => Comparison::Ge,
            ast::BinaryOp::Gt => Comparison::Gt,
            _ => return Err(not_a_limit(e.span)),
        };
        // The subject is the side that is not a constant.
        let (subject, value, cmp) = if super::kinds::constant(right).is_ok() {
            (left.as_ref(), right.as_ref(), cmp)
        } else if super::kinds::constant(left).is_ok() {
            let flipped = match cmp {
                Comparison::Le => Comparison::Ge,
                Comparison::Lt => Comparison::Gt,
                Comparison::Ge => Comparison::Le,
                Comparison::Gt => Comparison::Lt,
                Comparison::Eq => Comparison::Eq,
            };
            (right.as_ref(), left.as_ref(), flipped)
        } else {
            return Err(Diagnostic::error(
                code::LIMIT_NOT_CONSTANT,
                "a safety limit compares something with a constant value",
            )
            .at(e.span)
            .help("e.g. `temperature <= 90 degC` or `total_flow <= 1.5 mL/min`"));
        };
        let text = self.loaded.sources.snippet(e.span).unwrap_or("").to_owned();
        // A name means one thing: one the campaign declares (a variable or derived value called
        // `total_flow` or `temperature`) is that, in a limit as everywhere else; the built-in
        // subjects stand for names the campaign leaves free.
        let builtin = match &subject.kind {
            ExprKind::Path(p) if p.segments.len() == 1 && !self.declares(&p.dotted()) => {
                match p.dotted().as_str() {
                    "temperature" => Some((LimitSubject::Temperature, Dimension::TEMPERATURE)),
                    "total_flow" => Some((LimitSubject::TotalFlow, Dimension::FLOW_RATE)),
                    // A limit is kept only on values qdx knows before it sends a setting; a value it
                    // never reads is unknown, and an unknown value is never within a limit.
                    "pressure" => {
                        return Err(Diagnostic::error(
                        code::UNREAD_LIMIT,
                        "qdx reads no pressure sensor, so it cannot keep a pressure limit",
                    )
                    .label(subject.span, "never measured during a run")
                    .help("remove the limit and let the rig's relief valve or back-pressure regulator hold the pressure"));
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some((subject, dim)) = builtin {
            let (si, t) = quantity_of(dim, value)?;
            let interp = if t.ty.temp == super::expr::Temp::Absolute {
                Interpretation::Absolute
            } else {
                Interpretation::Difference
            };
            if matches!(subject, LimitSubject::Temperature) {
                self.mark_used("temperature");
            }
            if matches!(subject, LimitSubject::TotalFlow) {
                self.mark_used("total_flow");
            }
            return Ok(Limit {
                subject,
                op: cmp,
                value: si,
                unit: display_unit(written_unit(value), dim, interp, si),
                text,
                span: e.span,
            });
        }
        let (st, vt) = self.typed_comparison(subject, value)?;
        let subject_id = match &st.expr {
            TExpr::Derived(id) => LimitSubject::Derived(*id),
            // A variable that a device setting takes as it is (`temperature … -> h1`): the limit
            // is on that setting, so the setting's driver guard holds it too (`bind`).
            TExpr::Var(id) => self
                .derived
                .iter()
                .position(|d| {
                    matches!(d.target, DerivedTarget::Setting { .. }) && d.expr == TExpr::Var(*id)
                })
                .map_or(LimitSubject::Variable(*id), LimitSubject::Derived),
            // A parameter is a constant: the limit guards the device setting it is sent to
            // (`reactor_temperature = 270 degC -> stage`), where the driver guard holds it.
            TExpr::Const(_) if let Some((name, span)) = self.parameter_named(subject) => {
                // The setting the parameter's binding made, found by where it is declared
                // (spans are left out of `==`, so the ranges are compared).
                match self.derived.iter().position(|d| {
                    d.span.file() == span.file()
                        && d.span.range() == span.range()
                        && matches!(d.target, DerivedTarget::Setting { .. })
                }) {
                    Some(id) => LimitSubject::Derived(id),
                    None => {
                        return Err(Diagnostic::error(
                            code::LIMIT_SUBJECT,
                            format!("`{name}` is a parameter that no device takes, so a limit on it guards nothing"),
                        )
                        .at(subject.span)
                        .label(span, "a fixed value, sent nowhere")
                        .help(format!("send it to a setting (`{name} = … -> h1`) or limit the setting itself")));
                    }
                }
            }
            _ => {
                return Err(Diagnostic::error(code::LIMIT_SUBJECT, "a safety limit names one value: a variable, a derived value or a device setting")
                    .at(subject.span)
                    .help("or `temperature` (every heater setpoint) or `total_flow` (the sum of all pump rates)"));
            }
        };
        let si = vt.expr.eval(&NoEnv);
        let interp = if vt.ty.temp == super::expr::Temp::Absolute {
            Interpretation::Absolute
        } else {
            Interpretation::Difference
        };
        Ok(Limit {
            subject: subject_id,
            op: cmp,
            value: si,
            unit: display_unit(written_unit(value), vt.ty.dim, interp, si),
            text,
            span: e.span,
        })
    }

    /// The parameter `subject` names, and where it is declared.
    fn parameter_named(&self, subject: &ast::Expr) -> Option<(String, Span)> {
        let ExprKind::Path(p) = &subject.kind else {
            return None;
        };
        let name = p.dotted();
        let (_, span) = self.parameters.get(&name)?;
        Some((name, *span))
    }

    /// Whether the campaign declares `name` as a variable, parameter or derived value.
    fn declares(&self, name: &str) -> bool {
        self.variables.iter().any(|v| v.name == name)
            || self.parameters.contains_key(name)
            || self.derived.iter().any(|d| d.name == name)
    }

    pub(super) fn region(&self) -> (Vec<TExpr>, Region<'static>) {
        let derived: Vec<TExpr> = self.derived.iter().map(|d| d.expr.clone()).collect();
        let root = self
            .variables
            .iter()
            .map(|v| {
                // A choice spans its level indices: a `match` takes a value per level.
                let (lo, hi) = match &v.domain {
                    Domain::Choice { levels } => (0.0, levels.len().saturating_sub(1) as f64),
                    _ => v.bounds().unwrap_or((0.0, 0.0)),
                };
                Interval::new(lo, hi).unwrap_or_else(|_| Interval::entire())
            })
            .collect();
        let constraints = self
            .constraints
            .iter()
            .map(|c| {
                (
                    TExpr::Sub(Box::new(c.lhs.clone()), Box::new(c.rhs.clone())),
                    c.op,
                )
            })
            .collect();
        let compositions = self
            .compositions
            .iter()
            .map(|c| (c.components.clone(), c.total))
            .collect();
        let integers = self
            .variables
            .iter()
            .enumerate()
            .filter(|(_, v)| matches!(v.domain, Domain::Integer { .. } | Domain::Choice { .. }))
            .map(|(i, _)| i)
            .collect();
        // Constraints of the form `derived op constant` bound that value on the feasible region.
        let mut known = Vec::new();
        for c in &self.constraints {
            let (id, op, k) = match (&c.lhs, &c.rhs) {
                (TExpr::Derived(id), TExpr::Const(k)) => (*id, c.op, *k),
                (TExpr::Const(k), TExpr::Derived(id)) => (
                    *id,
                    match c.op {
                        Comparison::Le => Comparison::Ge,
                        Comparison::Lt => Comparison::Gt,
                        Comparison::Ge => Comparison::Le,
                        Comparison::Gt => Comparison::Lt,
                        Comparison::Eq => Comparison::Eq,
                    },
                    *k,
                ),
                _ => continue,
            };
            let bound = match op {
                Comparison::Le | Comparison::Lt => Interval::new(f64::NEG_INFINITY, k),
                Comparison::Ge | Comparison::Gt => Interval::new(k, f64::INFINITY),
                Comparison::Eq => Interval::point(k),
            };
            if let Ok(b) = bound {
                known.push((id, b));
            }
        }
        (
            derived.clone(),
            Region {
                root,
                derived: &[],
                constraints,
                compositions,
                integers,
                known,
            },
        )
    }

    /// Proves every device setting and limited value stays within its limits.
    pub(super) fn prove_bounds(&mut self) {
        if self.diags.has_errors() {
            // Bounds over a half-resolved campaign would only add noise.
            return;
        }
        let (derived, region) = self.region();
        let region = Region {
            derived: &derived,
            ..region
        };
        let mut found = Vec::new();
        // The feasible region must not be empty.
        if !self.constraints.is_empty()
            && region.prove_within(&TExpr::Const(0.0), Interval::entire()) == Proof::Infeasible
        {
            let mut d = Diagnostic::error(code::INFEASIBLE, "no experiment satisfies the constraints within the variables' ranges")
                .help("check the constraints against the variable ranges: together they exclude every point");
            for c in &self.constraints {
                d = d.label(c.span, "constraint");
            }
            self.error(d);
            return;
        }
        let mut ranges = Vec::new();
        for (id, d) in self.derived.iter().enumerate() {
            let mut allowed = Interval::entire();
            let mut sources: Vec<(String, Span)> = Vec::new();
            if let DerivedTarget::Setting {
                device,
                setting,
                drive,
            } = &d.target
                && let Some(dev) = self.devices.get(*device)
                && let Some(spec) = dev.setting(setting)
            {
                // A pump's rate may also be zero (stopped); the planner rounds rates between zero
                // and the pump's smallest rate to whichever is nearer, and records what it sent.
                let lo = if *drive == Drive::PumpRate {
                    spec.lo.min(0.0)
                } else {
                    spec.lo
                };
                if let Ok(lim) = Interval::new(lo, spec.hi) {
                    allowed = lim;
                    sources.push((
                        format!(
                            "the limits of `{}` ({} .. {})",
                            dev.name,
                            spec.unit.format(lo),
                            spec.unit.format(spec.hi)
                        ),
                        dev.span,
                    ));
                }
                for l in &self.safety.limits {
                    let applies = matches!(l.subject, LimitSubject::Temperature)
                        && *drive == Drive::HeaterSetpoint;
                    if applies
                        && let Some(cut) = limit_interval(l).and_then(|i| allowed.intersection(&i))
                    {
                        allowed = cut;
                        sources.push((format!("the safety limit `{}`", l.text), l.span));
                    }
                }
            }
            for l in &self.safety.limits {
                if l.subject == LimitSubject::Derived(id)
                    && let Some(cut) = limit_interval(l).and_then(|i| allowed.intersection(&i))
                {
                    allowed = cut;
                    sources.push((format!("the safety limit `{}`", l.text), l.span));
                }
            }
            let target = TExpr::Derived(id);
            if sources.is_empty() {
                ranges.push(region.enclose_value(&target, 64));
                continue;
            }
            match region.prove_within(&target, allowed) {
                Proof::Holds { enclosure } => ranges.push(Some(enclosure)),
                Proof::Violated { witness, value } if value.is_nan() => {
                    ranges.push(None);
                    let at = self.describe_point(&witness, &target);
                    found.push(
                        Diagnostic::error(
                            code::OUT_OF_LIMITS,
                            format!("`{}` has no value at {at}", d.name),
                        )
                        .label(d.span, format!("0/0 or ∞ − ∞ at {at}"))
                        .help(format!(
                            "a run cannot send an undefined value to the device; narrow the variables' ranges, or add a constraint that keeps `{}` defined",
                            d.name
                        )),
                    );
                }
                Proof::Violated { witness, value } => {
                    ranges.push(None);
                    let at = self.describe_point(&witness, &target);
                    let (what, source) = if allowed.hi() < value {
                        ("above", sources.last())
                    } else {
                        ("below", sources.first())
                    };
                    let bound = if allowed.hi() < value {
                        allowed.hi()
                    } else {
                        allowed.lo()
                    };
                    // A fixed value (a parameter sent to the device) is over the limit at
                    // every point: there is no point to name and no range to narrow.
                    let fixed = matches!(d.expr, TExpr::Const(_));
                    let mut diag = Diagnostic::error(
                        code::OUT_OF_LIMITS,
                        if fixed {
                            format!(
                                "`{}` is set to {}, {what} {}",
                                d.name,
                                d.unit.approx(value),
                                d.unit.format(bound)
                            )
                        } else {
                            format!(
                                "`{}` can reach {}, {what} {}",
                                d.name,
                                d.unit.approx(value),
                                d.unit.format(bound)
                            )
                        },
                    )
                    .label(
                        d.span,
                        if fixed {
                            "a fixed value".to_owned()
                        } else {
                            format!("reaches {} at {at}", d.unit.approx(value))
                        },
                    );
                    if let Some((text, span)) = source {
                        diag = diag.label(*span, format!("limit from {text}"));
                    }
                    found.push(diag.help(if fixed {
                        format!(
                            "set it to at {} {}",
                            if what == "above" { "most" } else { "least" },
                            d.unit.format(bound)
                        )
                    } else {
                        format!(
                            "narrow the variables' ranges, or add a constraint such as `{} {} {}`",
                            d.name,
                            if what == "above" { "<=" } else { ">=" },
                            d.unit.format(bound)
                        )
                    }));
                }
                Proof::Infeasible => ranges.push(None),
                Proof::Unknown { enclosure } => {
                    ranges.push(enclosure);
                    found.push(
                        Diagnostic::error(
                            code::UNPROVEN_LIMITS,
                            format!(
                                "cannot prove that `{}` stays within {} .. {}",
                                d.name,
                                d.unit.format(allowed.lo()),
                                d.unit.format(allowed.hi())
                            ),
                        )
                        .label(d.span, "its bounds could not be established")
                        .help(format!(
                            "add a constraint that bounds it, e.g. `{} <= {}`",
                            d.name,
                            d.unit.format(allowed.hi())
                        )),
                    );
                }
            }
        }
        for (d, r) in self.derived.iter_mut().zip(ranges) {
            if let Some(r) = r {
                d.range = (r.lo(), r.hi());
            }
        }
        // Limits on the total flow and on variables themselves.
        let pump_rates: Vec<TExpr> = self
            .derived
            .iter()
            .enumerate()
            .filter(|(_, d)| {
                matches!(
                    &d.target,
                    DerivedTarget::Setting {
                        drive: Drive::PumpRate,
                        ..
                    }
                )
            })
            .map(|(i, _)| TExpr::Derived(i))
            .collect();
        for l in &self.safety.limits {
            let target = match &l.subject {
                LimitSubject::TotalFlow => {
                    let Some(sum) = pump_rates
                        .iter()
                        .cloned()
                        .reduce(|a, b| TExpr::Add(Box::new(a), Box::new(b)))
                    else {
                        continue;
                    };
                    sum
                }
                LimitSubject::Variable(v) => TExpr::Var(*v),
                _ => continue,
            };
            let Some(allowed) = limit_interval(l) else {
                continue;
            };
            if let Proof::Violated { witness, value } = region.prove_within(&target, allowed) {
                let at = self.describe_point(&witness, &target);
                let name = match &l.subject {
                    LimitSubject::TotalFlow => "the total flow".to_owned(),
                    LimitSubject::Variable(v) => format!(
                        "`{}`",
                        self.variables.get(*v).map_or("?", |x| x.name.as_str())
                    ),
                    _ => String::new(),
                };
                let reach = if value.is_nan() {
                    "has no value (0/0 or ∞ − ∞)".to_owned()
                } else {
                    format!("can reach {}", l.unit.approx(value))
                };
                found.push(
                    Diagnostic::error(
                        code::OUT_OF_LIMITS,
                        format!("{name} {reach}, outside the safety limit `{}`", l.text),
                    )
                    .label(l.span, format!("reached at {at}"))
                    .help("narrow the variables' ranges or add a constraint"),
                );
            }
        }
        // A constraint that nothing can satisfy on its own.
        for c in &self.constraints {
            let g = TExpr::Sub(Box::new(c.lhs.clone()), Box::new(c.rhs.clone()));
            let single = Region {
                constraints: vec![(g, c.op)],
                ..region.clone()
            };
            if single.prove_within(&TExpr::Const(0.0), Interval::entire()) == Proof::Infeasible {
                found.push(
                    Diagnostic::error(
                        code::INFEASIBLE,
                        "no experiment within the variables' ranges satisfies this constraint",
                    )
                    .at(c.span),
                );
            }
        }
        for d in found {
            self.error(d);
        }
    }

    /// `residence = 10 s, iodide_frac = 0.6` for a witness point, naming the variables `e`
    /// depends on.
    pub(super) fn describe_point(&self, p: &[f64], e: &TExpr) -> String {
        let mut vars = Vec::new();
        e.collect_vars(&|d| self.derived.get(d).map(|x| x.expr.clone()), &mut vars);
        self.variables
            .iter()
            .zip(p)
            .enumerate()
            .filter(|(i, _)| vars.contains(i))
            .map(|(_, x)| x)
            .map(|(v, x)| match v.level(*x) {
                Some(level) => format!("{} = \"{level}\"", v.name),
                None => format!("{} = {}", v.name, v.unit.approx(*x)),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The allowed interval of a limit (`<= v` → `(-∞, v]`).
pub(super) fn limit_interval(l: &Limit) -> Option<Interval> {
    match l.op {
        Comparison::Le | Comparison::Lt => Interval::new(f64::NEG_INFINITY, l.value).ok(),
        Comparison::Ge | Comparison::Gt => Interval::new(l.value, f64::INFINITY).ok(),
        Comparison::Eq => Interval::point(l.value).ok(),
    }
}

fn not_a_limit(span: Span) -> Diagnostic {
    Diagnostic::error(
        code::NOT_A_LIMIT,
        "a safety limit compares a value with a constant",
    )
    .at(span)
    .help("e.g. `temperature <= 90 degC` or `total_flow <= 1.5 mL/min`")
}

fn fault_actions(actions: &[Action]) -> Result<Vec<FaultAction>, Diagnostic> {
    let mut out = Vec::new();
    for (i, a) in actions.iter().enumerate() {
        match a {
            Action::Retry {
                times,
                backoff,
                span,
            } => {
                if i != 0 {
                    return Err(Diagnostic::error(
                        code::RETRY_POSITION,
                        "`retry` comes first in a policy",
                    )
                    .at(*span)
                    .help("e.g. `retry 3, then skip_experiment`"));
                }
                let backoff = match backoff {
                    Some(b) => {
                        let s = quantity_of(Dimension::TIME, b)?.0;
                        super::durations::check_time(
                            "the retry backoff",
                            s,
                            super::durations::MAX_BACKOFF_S,
                            b.span,
                            "the wait doubles with each retry, up to 1024 times the backoff",
                        )?;
                        s
                    }
                    None => 1.0,
                };
                let times = u32::try_from(times.value)
                    .ok()
                    .filter(|t| (1..=100).contains(t))
                    .ok_or_else(|| {
                        Diagnostic::error(code::RETRY_COUNT, "retry between 1 and 100 times")
                            .at(times.span)
                    })?;
                out.push(FaultAction::Retry { times, backoff });
            }
            Action::Then(ident) => {
                if !matches!(out.last(), Some(FaultAction::Retry { .. })) {
                    return Err(Diagnostic::error(
                        code::THEN_WITHOUT_RETRY,
                        "`then` follows a `retry`",
                    )
                    .at(ident.span));
                }
                out.push(plain_action(ident)?);
            }
            Action::Plain(ident) => out.push(plain_action(ident)?),
        }
    }
    Ok(out)
}

fn plain_action(ident: &ast::Ident) -> Result<FaultAction, Diagnostic> {
    Ok(match ident.name.as_str() {
        "skip_experiment" => FaultAction::SkipExperiment,
        "pause" => FaultAction::Pause,
        "abort" => FaultAction::Abort,
        "stop_all" => FaultAction::StopAll,
        "continue" => FaultAction::Continue,
        other => {
            let d = Diagnostic::error(code::UNKNOWN_ACTION, format!("unknown action `{other}`"))
                .at(ident.span);
            return Err(match closest(other, ACTIONS.iter().copied()) {
                Some(s) => d.did_you_mean(ident.span, s),
                None => d.help(format!(
                    "actions are `retry N`, {}",
                    ACTIONS
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            });
        }
    })
}
