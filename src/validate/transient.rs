//! `transient { ramp …, from …, to …, over …, every …, shape …, residence … }` in `measure`:
//! a ramped flow experiment, checked into a [`Transient`].
//!
//! What is proven here, so that the planner and the runtime only read it: the ramp's ends lie
//! inside the variable's bounds (and so, the ramp being monotonic, every instant does; the
//! derived pump rates are enclosed over the whole variable box by `prove_bounds`, and the
//! planner checks every rate command it schedules again); every pump rate is proportional to
//! the ramped variable (a ramp changes the total flow only, never the composition, which is
//! what lets one residence time stand for an element's history); no constraint reads the
//! variable (the ramp sweeps it whatever the optimizer chose); the ramp takes enough spectra,
//! each fitting in its interval. What a transient cannot be mapped for is refused with
//! `qdx::validate::transient_unsupported` rather than run wrongly.

use super::Validator;
use super::campaign::*;
use super::expr::{Env, TExpr};
use super::kinds::quantity_of;
use crate::diagnostic::Diagnostic;
use crate::diagnostic::codes::validate as code;
use crate::names::closest;
use crate::source::Span;
use crate::syntax::ast::{self, ExprKind};
use qdx_units::Dimension;

const EXAMPLE: &str =
    "e.g. `transient { ramp total_flow, from 600 uL/min, to 100 uL/min, over 20 min, every 10 s }`";
const PROPERTIES: [&str; 8] = [
    "ramp",
    "from",
    "to",
    "over",
    "every",
    "hold",
    "shape",
    "residence",
];

struct PointEnv<'a> {
    vars: &'a [f64],
    derived: &'a [Derived],
}

impl Env for PointEnv<'_> {
    fn var(&self, id: VarId) -> f64 {
        self.vars.get(id).copied().unwrap_or(f64::NAN)
    }
    fn derived(&self, id: DerivedId) -> f64 {
        self.derived.get(id).map_or(f64::NAN, |d| d.expr.eval(self))
    }
    fn proxy(&self, _: ProxyId) -> f64 {
        f64::NAN
    }
}

impl Validator<'_> {
    /// Reads a `transient` entry of `measure` (after the variables, derive and constraints).
    pub(super) fn transient(
        &self,
        props: Option<&ast::Props>,
        span: Span,
    ) -> Result<Transient, Vec<Diagnostic>> {
        let mut errors = Vec::new();
        let mut ramp: Option<(VarId, Span)> = None;
        let mut from: Option<&ast::Expr> = None;
        let mut to: Option<&ast::Expr> = None;
        let mut over: Option<(f64, Span)> = None;
        let mut every: Option<(f64, Span)> = None;
        let mut hold = 0.0;
        let mut shape = RampShape::Linear;
        let mut shape_span = span;
        let residence = ResidenceModel::PlugFlow;
        for p in props.iter().flat_map(|p| p.entries.iter()) {
            let ast::PropValue::Expr(e) = &p.value else {
                errors.push(
                    Diagnostic::error(code::TRANSIENT, "a transient property is a single value")
                        .at(p.span)
                        .help(EXAMPLE),
                );
                continue;
            };
            let word = match &e.kind {
                ExprKind::Path(path) if path.segments.len() == 1 => Some(path.dotted()),
                _ => None,
            };
            match p.name.name.as_str() {
                "ramp" => {
                    let Some(name) = word else {
                        errors.push(
                            Diagnostic::error(code::TRANSIENT, "`ramp` names the variable the ramp moves")
                                .at(e.span)
                                .help(EXAMPLE),
                        );
                        continue;
                    };
                    match self.variables.iter().position(|v| v.name == name) {
                        Some(id) => {
                            self.mark_used(&name);
                            ramp = Some((id, e.span));
                        }
                        None => {
                            let d = Diagnostic::error(
                                code::UNKNOWN_VARIABLE,
                                format!("unknown variable `{name}`"),
                            )
                            .at(e.span);
                            errors.push(
                                match closest(&name, self.variables.iter().map(|v| v.name.as_str())) {
                                    Some(s) => d.did_you_mean(e.span, s),
                                    None => d.help("a ramp moves one of the campaign's `variables`"),
                                },
                            );
                        }
                    }
                }
                "from" => from = Some(e),
                "to" => to = Some(e),
                "hold" => match quantity_of(Dimension::TIME, e).and_then(|(s, _)| {
                    super::durations::check_time(
                        "the hold at the ramp's end",
                        s,
                        super::durations::MAX_WAIT_S,
                        e.span,
                        "a hold lasts at most 7 days",
                    )
                    .map(|()| s)
                }) {
                    Ok(s) => hold = s,
                    Err(d) => errors.push(d),
                },
                "over" | "every" => {
                    let what = if p.name.name == "over" {
                        "the ramp's duration"
                    } else {
                        "the interval between spectra"
                    };
                    match quantity_of(Dimension::TIME, e).and_then(|(s, _)| {
                        super::durations::check_time(
                            what,
                            s,
                            super::durations::MAX_WAIT_S,
                            e.span,
                            "a transient experiment's ramp lasts at most 7 days",
                        )
                        .map(|()| s)
                    }) {
                        Ok(s) if s > 0.0 => {
                            if p.name.name == "over" {
                                over = Some((s, e.span));
                            } else {
                                every = Some((s, e.span));
                            }
                        }
                        Ok(_) => errors.push(
                            Diagnostic::error(code::TRANSIENT, format!("{what} must be above zero"))
                                .at(e.span),
                        ),
                        Err(d) => errors.push(d),
                    }
                }
                "shape" => match word.as_deref() {
                    Some("linear") => shape = RampShape::Linear,
                    Some("exponential") => {
                        shape = RampShape::Exponential;
                        shape_span = e.span;
                    }
                    _ => errors.push(
                        Diagnostic::error(code::TRANSIENT, "a ramp's shape is `linear` or `exponential`")
                            .at(e.span),
                    ),
                },
                "residence" => match word.as_deref() {
                    Some("plug_flow") => {}
                    Some("dispersion" | "axial_dispersion") => errors.push(
                        Diagnostic::error(
                            code::TRANSIENT_UNSUPPORTED,
                            "qdx maps transient spectra with plug flow only",
                        )
                        .at(e.span)
                        .help("write `residence plug_flow`; an axial-dispersion model is not implemented yet"),
                    ),
                    _ => errors.push(
                        Diagnostic::error(code::TRANSIENT, "the residence-time model is `plug_flow`")
                            .at(e.span),
                    ),
                },
                other => {
                    let d = Diagnostic::error(
                        code::UNKNOWN_PROPERTY,
                        format!("a transient measurement has no property `{other}`"),
                    )
                    .at(p.name.span);
                    errors.push(match closest(other, PROPERTIES) {
                        Some(s) => d.did_you_mean(p.name.span, s),
                        None => d.help(format!(
                            "a transient measurement takes {}",
                            PROPERTIES.map(|p| format!("`{p}`")).join(", ")
                        )),
                    });
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let (Some((variable, var_span)), Some((over, over_span)), Some((every, every_span))) =
            (ramp, over, every)
        else {
            return Err(vec![
                Diagnostic::error(
                    code::TRANSIENT,
                    "a transient measurement needs `ramp`, `over` and `every`",
                )
                .at(span)
                .help(EXAMPLE),
            ]);
        };
        let Some(var) = self.variables.get(variable) else {
            return Err(Vec::new());
        };
        let Domain::Continuous { lo, hi, .. } = var.domain else {
            return Err(vec![
                Diagnostic::error(
                    code::TRANSIENT_UNSUPPORTED,
                    format!(
                        "`{}` is not a continuous variable; a ramp moves one",
                        var.name
                    ),
                )
                .at(var_span),
            ]);
        };
        // The ends: both or neither; the declared range by default, from its lower end.
        let end = |e: Option<&ast::Expr>, default: f64| -> Result<(f64, Span), Diagnostic> {
            let Some(e) = e else {
                return Ok((default, span));
            };
            let (v, _) = quantity_of(var.dimension, e)?;
            if v < lo - 1e-9 * lo.abs() || v > hi + 1e-9 * hi.abs() {
                return Err(Diagnostic::error(
                    code::TRANSIENT,
                    format!(
                        "the ramp leaves `{}`'s range: {} is outside {} .. {}",
                        var.name,
                        var.unit.format(v),
                        var.unit.format(lo),
                        var.unit.format(hi)
                    ),
                )
                .at(e.span)
                .label(var.span, "the variable's range")
                .help("a ramp sweeps the variable's declared range or a part of it"));
            }
            Ok((v, e.span))
        };
        if from.is_some() != to.is_some() {
            errors.push(
                Diagnostic::error(
                    code::TRANSIENT,
                    "a ramp gives both `from` and `to`, or neither",
                )
                .at(span)
                .help(
                    "without them the ramp sweeps the variable's whole range, from its lower end",
                ),
            );
        }
        let (from, from_span) = end(from, lo).map_err(|d| vec![d])?;
        let (to, _) = end(to, hi).map_err(|d| vec![d])?;
        if errors.is_empty() && (from - to).abs() <= 1e-12 * from.abs().max(to.abs()) {
            errors.push(
                Diagnostic::error(code::TRANSIENT, "the ramp starts where it ends")
                    .at(from_span)
                    .help("give `from` and `to` different values"),
            );
        }
        if shape == RampShape::Exponential && !(from > 0.0 && to > 0.0) {
            errors.push(
                Diagnostic::error(
                    code::TRANSIENT,
                    "an exponential ramp needs both ends above zero",
                )
                .at(shape_span),
            );
        }
        errors.extend(self.ramp_scales_the_flow(variable, var_span, from, to));
        let t = Transient {
            variable,
            from,
            to,
            over,
            hold,
            shape,
            every,
            residence,
            span,
        };
        let n = t.spectra();
        if !(MIN_TRANSIENT_SPECTRA..=MAX_TRANSIENT_SPECTRA).contains(&n) {
            errors.push(
                Diagnostic::error(
                    code::TRANSIENT,
                    format!(
                        "the ramp takes {n} spectra; a transient experiment takes between {MIN_TRANSIENT_SPECTRA} and {MAX_TRANSIENT_SPECTRA}"
                    ),
                )
                .at(every_span)
                .label(over_span, "the ramp's duration")
                .help("one spectrum is taken at the start and then one every `every` until the ramp (and its `hold`) ends"),
            );
        }
        if errors.is_empty() {
            Ok(t)
        } else {
            Err(errors)
        }
    }

    /// Every pump rate must be proportional to the ramped variable (at the centre and the two
    /// extreme corners of the other variables, at both ends and the middle of the ramp): then a
    /// ramp changes the total flow only. A rate that does not scale (a temperature's heater, a
    /// ratio that changes the composition, one pump alone) is refused, and so is a constraint
    /// that reads the variable.
    fn ramp_scales_the_flow(&self, x: VarId, span: Span, from: f64, to: f64) -> Vec<Diagnostic> {
        let mut errors = Vec::new();
        let name = self.variables.get(x).map_or("?", |v| v.name.as_str());
        let derived_expr = |d: DerivedId| self.derived.get(d).map(|d| d.expr.clone());
        let reads_x = |e: &TExpr| {
            let mut vars = Vec::new();
            e.collect_vars(&derived_expr, &mut vars);
            vars.contains(&x)
        };
        for d in &self.derived {
            let DerivedTarget::Setting { drive, .. } = &d.target else {
                continue;
            };
            if *drive != Drive::PumpRate && reads_x(&d.expr) {
                errors.push(
                    Diagnostic::error(
                        code::TRANSIENT_UNSUPPORTED,
                        format!("a ramp of `{name}` would move `{}`", d.name),
                    )
                    .at(span)
                    .label(d.span, "set from it here")
                    .help("a transient experiment ramps the flow only: a temperature or another setting cannot be mapped from the journaled flows"),
                );
            }
        }
        for c in &self.constraints {
            if reads_x(&c.lhs) || reads_x(&c.rhs) {
                errors.push(
                    Diagnostic::error(
                        code::TRANSIENT_UNSUPPORTED,
                        format!("a constraint reads `{name}`, which the ramp sweeps"),
                    )
                    .at(span)
                    .label(c.span, "this constraint")
                    .help("the ramp moves the variable across its range whatever the optimizer chose; constrain the other variables only"),
                );
            }
        }
        if !errors.is_empty() {
            return errors;
        }
        // Points of the other variables: the centre and the two extreme corners.
        let corner = |pick: fn(f64, f64) -> f64| -> Vec<f64> {
            self.variables
                .iter()
                .map(|v| v.bounds().map_or(0.0, |(lo, hi)| pick(lo, hi)))
                .collect()
        };
        let others = [
            corner(|lo, hi| 0.5 * (lo + hi)),
            corner(|lo, _| lo),
            corner(|_, hi| hi),
        ];
        let mid = 0.5 * (from + to);
        for d in &self.derived {
            let DerivedTarget::Setting {
                drive: Drive::PumpRate,
                ..
            } = &d.target
            else {
                continue;
            };
            let scales = others.iter().all(|base| {
                let ratio = |xv: f64| {
                    let mut vars = base.clone();
                    if let Some(v) = vars.get_mut(x) {
                        *v = xv;
                    }
                    d.expr.eval(&PointEnv {
                        vars: &vars,
                        derived: &self.derived,
                    }) / xv
                };
                let r = [ratio(from), ratio(mid), ratio(to)];
                r.iter().all(|v| v.is_finite())
                    && r.iter()
                        .all(|v| (v - r[0]).abs() <= 1e-9 * r[0].abs().max(f64::MIN_POSITIVE))
            });
            if !scales {
                errors.push(
                    Diagnostic::error(
                        code::TRANSIENT_UNSUPPORTED,
                        format!("`{}` does not scale with `{name}`", d.name),
                    )
                    .at(span)
                    .label(d.span, "this rate")
                    .help(
                        "a ramp must scale every pump's rate alike, so the composition stays fixed and the residence time alone tells an element's conditions; ramp a total flow, e.g. `derive { p_a.rate = total_flow * a_share  p_b.rate = total_flow - p_a.rate }`",
                    ),
                );
            }
        }
        errors
    }
}

/// What a transient measurement needs of the rest of `measure`: no probe (the probe reads one
/// flow at several places; a ramp reads one place at many flows), one replicate (each reading
/// of the ramp is its own), a steady state of at least one reactor volume at the ramp's start
/// (so the first element read entered at the start's flow), and a reading of every channel
/// that fits in the interval between readings.
pub(super) fn transient_fits(m: &Measurement, t: &Transient) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    if let Some(p) = &m.probe {
        errors.push(
            Diagnostic::error(
                code::TRANSIENT_UNSUPPORTED,
                "a transient measurement cannot use a probe",
            )
            .at(t.span)
            .label(p.span, "the probe")
            .help("a ramp reads the cell at many flows; a probe reads the coil at one flow: use one or the other"),
        );
    }
    if m.replicates > 1 {
        errors.push(
            Diagnostic::error(
                code::TRANSIENT_UNSUPPORTED,
                "a transient measurement takes no replicates",
            )
            .at(t.span)
            .help("every reading of the ramp is a spectrum of its own; remove `replicates`"),
        );
    }
    if m.steady_state_volumes < 1.0 {
        errors.push(
            Diagnostic::error(
                code::TRANSIENT,
                "a transient measurement waits at least 1 reactor volume before its ramp",
            )
            .at(t.span)
            .help("the first spectrum maps to the flow at the ramp's start only once the reactor holds fluid that entered at it"),
        );
    }
    let reading: f64 = m
        .channels
        .iter()
        .map(|c| c.integration * f64::from(c.averages) + COMMAND_OVERHEAD_S)
        .sum();
    if reading > t.every {
        errors.push(
            Diagnostic::error(
                code::TRANSIENT,
                format!(
                    "one reading takes {} s, longer than the {} s between readings",
                    qdx_units::format_number(reading),
                    qdx_units::format_number(t.every)
                ),
            )
            .at(t.span)
            .help("every channel's integration times its averages (plus 50 ms per acquisition) must fit in `every`: lengthen `every` or shorten the acquisitions"),
        );
    }
    errors
}
