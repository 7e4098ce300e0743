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
const PROPERTIES: [&str; 12] = [
    "ramp",
    "from",
    "to",
    "over",
    "every",
    "hold",
    "shape",
    "residence",
    "dispersion",
    "diffusivity",
    "diameter",
    "peclet",
];
const DISPERSION_EXAMPLE: &str = "e.g. `residence axial_dispersion  dispersion 20 mm^2/s  diameter 0.5 mm`, `residence axial_dispersion  diffusivity 1e-9 m^2/s  diameter 0.5 mm` (Taylor–Aris) or `residence axial_dispersion  peclet 40`";

/// The largest part of a ramp's duration two standard deviations of the entry times of the
/// fluid in the cell may cover before `qdx check` warns.
const MAX_SPREAD_OF_RAMP: f64 = 0.2;
/// The largest dispersion number `D/uL` before `qdx check` warns that the small-dispersion
/// model is approximate (Levenspiel, ch. 13, uses the Gaussian form up to about 0.01; at
/// 0.05 the closed vessel's variance, `2d − 2d²(1 − e^(−1/d))`, is 5 % below its `2d`).
const MAX_DISPERSION_NUMBER: f64 = 0.05;

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
        // `residence axial_dispersion` and its parameters: (value, span) of each.
        let mut axial: Option<Span> = None;
        let mut params: Vec<(&str, f64, Span)> = Vec::new();
        // A parameter already refused: what the model lacks would be a follow-on error.
        let mut params_failed = false;
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
                            Diagnostic::error(
                                code::TRANSIENT,
                                "`ramp` names the variable the ramp moves",
                            )
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
                                match closest(&name, self.variables.iter().map(|v| v.name.as_str()))
                                {
                                    Some(s) => d.did_you_mean(e.span, s),
                                    None => {
                                        d.help("a ramp moves one of the campaign's `variables`")
                                    }
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
                            Diagnostic::error(
                                code::TRANSIENT,
                                format!("{what} must be above zero"),
                            )
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
                        Diagnostic::error(
                            code::TRANSIENT,
                            "a ramp's shape is `linear` or `exponential`",
                        )
                        .at(e.span),
                    ),
                },
                "residence" => match word.as_deref() {
                    Some("plug_flow") => {}
                    Some("axial_dispersion") => axial = Some(e.span),
                    _ => {
                        let d = Diagnostic::error(
                            code::TRANSIENT,
                            "the residence-time model is `plug_flow` or `axial_dispersion`",
                        )
                        .at(e.span);
                        errors.push(
                            match word
                                .as_deref()
                                .and_then(|w| closest(w, ["plug_flow", "axial_dispersion"]))
                            {
                                Some(s) => d.did_you_mean(e.span, s),
                                None => d.help(DISPERSION_EXAMPLE),
                            },
                        );
                    }
                },
                name @ ("dispersion" | "diffusivity" | "diameter" | "peclet") => {
                    let dimension = match name {
                        "diameter" => Dimension::LENGTH,
                        "peclet" => Dimension::DIMENSIONLESS,
                        _ => Dimension::DIFFUSIVITY,
                    };
                    match quantity_of(dimension, e) {
                        Ok((v, _)) if v > 0.0 => params.push((name, v, e.span)),
                        Ok(_) => {
                            params_failed = true;
                            errors.push(
                                Diagnostic::error(
                                    code::TRANSIENT,
                                    format!("`{name}` must be above zero"),
                                )
                                .at(e.span),
                            );
                        }
                        Err(d) => {
                            params_failed = true;
                            errors.push(d);
                        }
                    }
                }
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
        let residence = match residence_model(axial, &params) {
            Ok(r) => r,
            Err(_) if params_failed => ResidenceModel::PlugFlow,
            Err(d) => {
                errors.extend(d);
                ResidenceModel::PlugFlow
            }
        };
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

    /// Under axial dispersion, what the declared model implies at the ramp's two ends (the
    /// other variables at the centre of their range): warns when the fluid in the cell
    /// entered over a large part of the ramp (two standard deviations of its entry times over
    /// [`MAX_SPREAD_OF_RAMP`] of `over`: the ramp is fast against the dispersion, and each
    /// spectrum mixes conditions a mean residence time does not stand for), and when the
    /// dispersion number `D/uL` passes [`MAX_DISPERSION_NUMBER`], where the small-dispersion
    /// model's symmetric spread is a rough approximation of the real, skewed one.
    pub(super) fn prove_dispersion(&mut self) {
        if self.diags.has_errors() {
            return;
        }
        let Some(t) = self.measurement.as_ref().and_then(|m| m.transient.clone()) else {
            return;
        };
        let ResidenceModel::AxialDispersion(d) = t.residence else {
            return;
        };
        let Some(volume) = self.topology.reactor_volume.filter(|v| *v > 0.0) else {
            return;
        };
        let centre: Vec<f64> = self
            .variables
            .iter()
            .map(|v| v.bounds().map_or(0.0, |(lo, hi)| 0.5 * (lo + hi)))
            .collect();
        let flow = |x: f64| -> f64 {
            let mut vars = centre.clone();
            if let Some(v) = vars.get_mut(t.variable) {
                *v = x;
            }
            let env = PointEnv {
                vars: &vars,
                derived: &self.derived,
            };
            self.derived
                .iter()
                .filter(|d| {
                    matches!(
                        d.target,
                        DerivedTarget::Setting {
                            drive: Drive::PumpRate,
                            ..
                        }
                    )
                })
                .map(|d| d.expr.eval(&env))
                .sum()
        };
        let unit = self
            .variables
            .get(t.variable)
            .map_or_else(DisplayUnit::plain, |v| v.unit.clone());
        let seconds = DisplayUnit::of("s");
        // (spread of the entry times, s; dispersion number; the end's value) at each end.
        let ends: Vec<(f64, f64, f64)> = [t.from, t.to]
            .into_iter()
            .filter_map(|x| {
                let q = flow(x);
                (q.is_finite() && q > 0.0).then(|| {
                    let s = d.variance_gain_over_transit(q, volume).sqrt();
                    (s / q, d.number(q, volume), x)
                })
            })
            .collect();
        let mut warnings = Vec::new();
        if let Some(&(spread, _, x)) = ends.iter().max_by(|a, b| a.0.total_cmp(&b.0))
            && 2.0 * spread > MAX_SPREAD_OF_RAMP * t.over
        {
            warnings.push(
                Diagnostic::warning(
                    code::TRANSIENT_DISPERSION,
                    format!(
                        "at {} each spectrum reads fluid that entered over ±{} (one standard deviation), {:.0} % of the ramp's {}",
                        unit.format(x),
                        seconds.approx(spread),
                        100.0 * spread / t.over,
                        seconds.approx(t.over)
                    ),
                )
                .at(t.span)
                .help(format!(
                    "the ramp is fast against the dispersion: each spectrum mixes conditions its mean residence time does not stand for; lengthen `over` to at least {} so the spread covers under {:.0} % of it",
                    seconds.approx(2.0 * spread / MAX_SPREAD_OF_RAMP),
                    100.0 * MAX_SPREAD_OF_RAMP / 2.0
                )),
            );
        }
        if let Some(&(_, number, x)) = ends.iter().max_by(|a, b| a.1.total_cmp(&b.1))
            && number > MAX_DISPERSION_NUMBER
        {
            warnings.push(
                Diagnostic::warning(
                    code::TRANSIENT_DISPERSION,
                    format!(
                        "the dispersion number D/uL reaches {} at {}, beyond the small-dispersion model's range",
                        qdx_units::format_number(number),
                        unit.format(x)
                    ),
                )
                .at(t.span)
                .help(format!(
                    "the mapping takes the fluid's residence times as symmetric about the plug-flow one (Levenspiel's model for D/uL up to about {}); at this dispersion the real distribution is skewed, and the mapped spread is approximate",
                    qdx_units::format_number(MAX_DISPERSION_NUMBER)
                )),
            );
        }
        for w in warnings {
            self.error(w);
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

/// The residence-time model from `residence axial_dispersion` (at `axial`, if given) and the
/// dispersion parameters given: one of `dispersion` (with `diameter`), `diffusivity` (with
/// `diameter`) or `peclet` (alone), and none of them under plug flow.
fn residence_model(
    axial: Option<Span>,
    params: &[(&str, f64, Span)],
) -> Result<ResidenceModel, Vec<Diagnostic>> {
    let Some(axial) = axial else {
        return match params.first() {
            None => Ok(ResidenceModel::PlugFlow),
            Some((name, _, span)) => Err(vec![
                Diagnostic::error(
                    code::TRANSIENT,
                    format!("`{name}` belongs to an axial-dispersion model"),
                )
                .at(*span)
                .help(format!(
                    "add `residence axial_dispersion` to map spectra with it, or remove `{name}` to map them by plug flow"
                )),
            ]),
        };
    };
    let get = |n: &str| params.iter().find(|p| p.0 == n).map(|p| (p.1, p.2));
    let rates: Vec<&(&str, f64, Span)> = params
        .iter()
        .filter(|p| matches!(p.0, "dispersion" | "diffusivity" | "peclet"))
        .collect();
    let model = match rates.as_slice() {
        [] => {
            return Err(vec![
                Diagnostic::error(
                    code::TRANSIENT,
                    "an axial-dispersion model needs how fast the fluid spreads",
                )
                .at(axial)
                .help(DISPERSION_EXAMPLE),
            ]);
        }
        [one] => one,
        [first, second, ..] => {
            return Err(vec![
                Diagnostic::error(
                    code::TRANSIENT,
                    format!("give `{}` or `{}`, not both", first.0, second.0),
                )
                .at(second.2)
                .label(first.2, "already given here")
                .help("the axial-dispersion model takes one of `dispersion` (a coefficient), `diffusivity` (Taylor–Aris) or `peclet`"),
            ]);
        }
    };
    let diameter = get("diameter");
    match (model.0, diameter) {
        ("peclet", None) => Ok(ResidenceModel::AxialDispersion(Dispersion::Peclet(model.1))),
        ("peclet", Some((_, span))) => Err(vec![
            Diagnostic::error(code::TRANSIENT, "a Péclet number needs no `diameter`")
                .at(span)
                .label(model.2, "the Péclet number")
                .help("remove `diameter`, or give `dispersion` or `diffusivity` with it instead of `peclet`"),
        ]),
        (name, None) => Err(vec![
            Diagnostic::error(
                code::TRANSIENT,
                format!("`{name}` needs the tube's inner `diameter`"),
            )
            .at(model.2)
            .help("the spread of the fluid in volume grows with the tube's cross-section; add e.g. `diameter 0.5 mm` (the reactor's devices do not declare one)"),
        ]),
        ("dispersion", Some((diameter, _))) => {
            Ok(ResidenceModel::AxialDispersion(Dispersion::Coefficient {
                coefficient: model.1,
                diameter,
            }))
        }
        (_, Some((diameter, _))) => Ok(ResidenceModel::AxialDispersion(Dispersion::TaylorAris {
            diffusivity: model.1,
            diameter,
        })),
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
