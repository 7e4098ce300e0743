//! The design space: variables, fixed parameters, derived settings and constraints.

use std::collections::BTreeMap;

use qdx_units::{Dimension, Interpretation};

use super::Validator;
use super::campaign::*;
use super::expr::{Scope, TExpr, Temp, Ty, Typed, Typer, describe_dimension, missing_unit};
use super::kinds::{NoEnv, constant, display_unit, quantity_of, written_unit};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::codes::validate as code;
use crate::names::closest;
use crate::source::Span;
use crate::syntax::ast::{self, BinaryOp, ExprKind, Item, VariableType};

/// Names visible in `derive`, `constraints` and safety limits.
pub(super) struct SpaceScope<'v, 'a> {
    pub v: &'v Validator<'a>,
    /// Named values derived later in the file (for "used before it is derived").
    pub later: &'v [String],
}

impl Scope for SpaceScope<'_, '_> {
    fn choice(&self, path: &ast::Path) -> Result<(VarId, Vec<String>), Diagnostic> {
        let dotted = path.dotted();
        if self.v.is_poisoned(&format!("var:{dotted}")) {
            return Err(super::follow_on());
        }
        if let Some(id) = self.v.variables.iter().position(|x| x.name == dotted) {
            self.v.mark_used(&dotted);
            let var = self
                .v
                .variables
                .get(id)
                .ok_or_else(|| internal(path.span))?;
            return match &var.domain {
                Domain::Choice { levels } => Ok((id, levels.clone())),
                _ => Err(Diagnostic::error(
                    code::MATCH_SUBJECT,
                    format!("`{dotted}` is not a choice variable; a `match` picks a value per level of a choice"),
                )
                .at(path.span)
                .help("a numeric variable enters the formula itself")),
            };
        }
        // Not a variable: the name's own error (unknown, used before derived, …), or, for a
        // name that is a value, that a `match` needs a choice.
        self.path(path)?;
        Err(Diagnostic::error(
            code::MATCH_SUBJECT,
            format!(
                "`{dotted}` is not a choice variable; a `match` picks a value per level of a choice"
            ),
        )
        .at(path.span))
    }

    fn path(&self, path: &ast::Path) -> Result<Typed, Diagnostic> {
        let v = self.v;
        let dotted = path.dotted();
        let span = path.span;
        let segs: Vec<&str> = path.segments.iter().map(|s| s.name.as_str()).collect();
        if v.is_poisoned(&format!("var:{dotted}"))
            || v.is_poisoned(&format!("derived:{dotted}"))
            || v.is_poisoned(&format!("setting:{dotted}"))
        {
            return Err(super::follow_on());
        }
        if let Some(first) = segs.first()
            && v.is_poisoned(&format!("device:{first}"))
            && segs.len() == 2
            && !v.devices.iter().any(|d| {
                d.name == *first
                    && d.properties
                        .contains_key(segs.get(1).copied().unwrap_or(""))
            })
        {
            return Err(super::follow_on());
        }
        if let Some(id) = v.variables.iter().position(|x| x.name == dotted) {
            v.mark_used(&dotted);
            let var = v.variables.get(id).ok_or_else(|| internal(span))?;
            if !var.is_numeric() {
                return Err(Diagnostic::error(code::CHOICE_IN_EXPRESSION, format!("`{dotted}` is a choice variable; it has no numeric value"))
                    .at(span)
                    .help(match &var.domain {
                        Domain::Choice { levels } => format!(
                            "to set a value per level, write `match {dotted} {{ {} }}`",
                            levels
                                .iter()
                                .map(|l| format!("\"{l}\" => …"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        _ => "choice variables are passed to the lab as they are (e.g. to the simulation)".to_owned(),
                    }));
            }
            let temp = if var.dimension == Dimension::TEMPERATURE {
                Temp::Absolute
            } else {
                Temp::No
            };
            return Ok(Typed::new(
                TExpr::Var(id),
                Ty {
                    dim: var.dimension,
                    temp,
                    bare: false,
                },
                span,
            ));
        }
        if let Some((t, _)) = v.parameters.get(&dotted) {
            v.mark_used(&dotted);
            return Ok(t.clone());
        }
        if let Some(id) = v.derived.iter().position(|d| d.name == dotted) {
            let d = v.derived.get(id).ok_or_else(|| internal(span))?;
            v.mark_used(&dotted);
            let temp = if d.dimension == Dimension::TEMPERATURE {
                Temp::Absolute
            } else {
                Temp::No
            };
            return Ok(Typed::new(
                TExpr::Derived(id),
                Ty {
                    dim: d.dimension,
                    temp,
                    bare: false,
                },
                span,
            ));
        }
        if self.later.contains(&dotted) {
            return Err(Diagnostic::error(code::USED_BEFORE_DERIVED, format!("`{dotted}` is used before it is derived"))
                .at(span)
                .help("derive values in the order they depend on each other: move this line below the one that derives it"));
        }
        if v.compositions.iter().any(|c| c.name == dotted) {
            return Err(Diagnostic::error(
                code::COMPOSITION_VALUE,
                format!(
                    "`{dotted}` is a composition; name one of its components, e.g. `{dotted}.{}`",
                    v.compositions
                        .iter()
                        .find(|c| c.name == dotted)
                        .and_then(|c| c.components.first())
                        .and_then(|id| v.variables.get(*id))
                        .map_or("x", |x| x.name.rsplit('.').next().unwrap_or("x"))
                ),
            )
            .at(span));
        }
        if let [dev_name, member] = segs.as_slice()
            && let Some(dev_id) = v.devices.iter().position(|d| d.name == *dev_name)
        {
            let dev = v.devices.get(dev_id).ok_or_else(|| internal(span))?;
            v.mark_used(&format!("device:{dev_name}"));
            if let Some(prop) = dev.properties.get(*member) {
                return match prop {
                    PropertyValue::Quantity { si, unit } => {
                        let dim = unit.unit.dimension();
                        let temp = if dim == Dimension::TEMPERATURE {
                            Temp::Absolute
                        } else {
                            Temp::No
                        };
                        Ok(Typed::new(
                            TExpr::Const(*si),
                            Ty {
                                dim,
                                temp,
                                bare: false,
                            },
                            span,
                        ))
                    }
                    PropertyValue::Integer(i) => Ok(Typed::new(
                        TExpr::Const(*i as f64),
                        Ty::dimensionless(),
                        span,
                    )),
                    _ => Err(Diagnostic::error(
                        code::PROPERTY_NOT_NUMERIC,
                        format!("`{dotted}` is not a number"),
                    )
                    .at(span)),
                };
            }
            if dev.setting(member).is_some() {
                return Err(Diagnostic::error(code::SETTING_WITHOUT_VALUE, format!("`{dotted}` has no value yet"))
                    .at(span)
                    .help(format!("derive it above this line (`{dotted} = …`) or bind a variable to it (`-> {dev_name}`)")));
            }
            let mut known: Vec<&str> = dev.properties.keys().map(String::as_str).collect();
            known.extend(dev.settings.iter().map(|s| s.name.as_str()));
            let d = Diagnostic::error(
                code::UNKNOWN_MEMBER,
                format!("`{dev_name}` has no property or setting `{member}`"),
            )
            .at(span);
            return Err(match closest(member, known.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{dev_name}.{s}`?")),
                None => d.help(format!("`{dev_name}` has: {}", known.join(", "))),
            });
        }
        if let Some(dev) = v.devices.iter().find(|d| d.name == dotted) {
            let example = dev
                .properties
                .keys()
                .next()
                .map_or("volume", String::as_str);
            return Err(Diagnostic::error(
                code::DEVICE_AS_VALUE,
                format!("`{dotted}` is a device, not a value"),
            )
            .at(span)
            .help(format!(
                "name one of its properties or settings, e.g. `{dotted}.{example}`"
            )));
        }
        if qdx_units::Unit::parse(&dotted).is_ok() {
            return Err(Diagnostic::error(code::UNKNOWN_NAME, format!("unknown name `{dotted}`"))
                .at(span)
                .help(format!("`{dotted}` is a unit: write units right after their number, without spaces inside them (`10 uL/min`)")));
        }
        let mut known: Vec<String> = v.variables.iter().map(|x| x.name.clone()).collect();
        known.extend(v.parameters.keys().cloned());
        known.extend(v.derived.iter().map(|d| d.name.clone()));
        let d = Diagnostic::error(code::UNKNOWN_NAME, format!("unknown name `{dotted}`"))
            .label(span, "not a variable, parameter or derived value");
        Err(match closest(&dotted, known.iter().map(String::as_str)) {
            Some(s) => d.did_you_mean(span, s),
            None => d,
        })
    }
}

fn internal(span: Span) -> Diagnostic {
    Diagnostic::error(
        code::INTERNAL,
        "internal error: a resolved index is out of range",
    )
    .at(span)
}

/// Splits `a <= b <= c` into `(a, <=, b)` and `(b, <=, c)`.
fn comparisons(e: &ast::Expr) -> Option<Vec<(&ast::Expr, Comparison, &ast::Expr)>> {
    let ExprKind::Binary { op, left, right } = &e.kind else {
        return None;
    };
    let cmp = match op {
        BinaryOp::Le => Comparison::Le,
        BinaryOp::Lt => Comparison::Lt,
        BinaryOp::Ge => Comparison::Ge,
        BinaryOp::Gt => Comparison::Gt,
        BinaryOp::Eq => Comparison::Eq,
        _ => return None,
    };
    let mut out = Vec::new();
    let mut lhs: &ast::Expr = left;
    if let ExprKind::Binary {
        op: inner,
        left: l2,
        right: r2,
    } = &left.kind
        && inner.is_comparison()
    {
        let mut first = comparisons(left)?;
        out.append(&mut first);
        let _ = l2;
        lhs = r2;
    }
    out.push((lhs, cmp, right.as_ref()));
    Some(out)
}

impl<'a> Validator<'a> {
    pub(super) fn variables(&mut self) {
        let decls: Vec<&'a ast::Variable> = self
            .items
            .of(|i| match i {
                Item::Variables(b) => Some(b),
                _ => None,
            })
            .into_iter()
            .flat_map(|b| b.entries.iter())
            .collect();
        let mut seen: BTreeMap<String, Span> = BTreeMap::new();
        for v in decls {
            if let Some(first) = seen.insert(v.name.name.clone(), v.name.span) {
                self.error(
                    Diagnostic::error(
                        code::DUPLICATE_VARIABLE,
                        format!("variable `{}` is declared twice", v.name.name),
                    )
                    .label(v.name.span, "declared again here")
                    .label(first, "first declared here"),
                );
                continue;
            }
            let result = self.variable(v);
            if result.is_err() {
                self.poison(format!("var:{}", v.name.name));
                // The setting it was bound to is not "set by nothing": its variable is wrong.
                if let Some(b) = &v.binding {
                    let setting =
                        b.setting.as_ref().map(|s| s.name.clone()).or_else(|| {
                            match self
                                .devices
                                .iter()
                                .find(|d| d.name == b.device.name)?
                                .settings
                                .as_slice()
                            {
                                [only] => Some(only.name.clone()),
                                _ => None,
                            }
                        });
                    if let Some(s) = setting {
                        self.poison(format!("setting:{}.{s}", b.device.name));
                    }
                }
                if let VariableType::Composition { components, .. } = &v.ty {
                    for c in components {
                        self.poison(format!("var:{}.{}", v.name.name, c.name.name));
                    }
                }
            }
            match result {
                Ok(Some(id)) => {
                    if let Some(b) = &v.binding {
                        self.mark_used(&v.name.name);
                        let (dim, unit) = self
                            .variables
                            .get(id)
                            .map(|x| (x.dimension, x.unit.clone()))
                            .unwrap_or((Dimension::DIMENSIONLESS, DisplayUnit::plain()));
                        self.bind_setting(b, TExpr::Var(id), dim, unit, v.span);
                    }
                }
                Ok(None) => {}
                Err(d) => self.error(d),
            }
        }
    }

    /// Adds one variable (or a composition's components); returns the variable's id.
    fn variable(&mut self, v: &ast::Variable) -> Result<Option<VarId>, Diagnostic> {
        let name = v.name.name.clone();
        match &v.ty {
            VariableType::Continuous {
                dimension,
                range,
                log,
            } => {
                // `number` is the plain, unitless kind (as `ratio` is, read as a share).
                let kind = if dimension.name == "number" {
                    "dimensionless"
                } else {
                    dimension.name.as_str()
                };
                let dim = Dimension::from_name(kind).map_err(|_| {
                    let kinds: Vec<&str> = Dimension::kind_names().collect();
                    let d = Diagnostic::error(code::UNKNOWN_TYPE, format!("unknown quantity kind `{}`", dimension.name)).label(dimension.span, "not a kind of quantity");
                    match closest(&dimension.name, kinds.iter().copied()) {
                        Some(s) => d.did_you_mean(dimension.span, s),
                        None => d.help("kinds are time, temperature, flow_rate, volume, concentration, pressure, length, wavelength, ratio, number, …"),
                    }
                })?;
                let (lo, lo_t) = quantity_of(dim, &range.lo)?;
                let (hi, _) = quantity_of(dim, &range.hi)?;
                let interp = if dim == Dimension::TEMPERATURE {
                    Interpretation::Absolute
                } else {
                    Interpretation::Difference
                };
                let unit = display_unit(
                    written_unit(&range.lo).or_else(|| written_unit(&range.hi)),
                    dim,
                    interp,
                    hi,
                );
                let _ = lo_t;
                if lo >= hi {
                    return Err(Diagnostic::error(
                        code::EMPTY_RANGE,
                        format!("the range of `{name}` is empty: {} is not below {}", unit.format(lo), unit.format(hi)),
                    )
                    .label(range.span, "low end must be below high end")
                    .help("a variable the optimizer can move needs a range; a fixed value belongs in `parameters`"));
                }
                if *log && lo <= 0.0 {
                    return Err(Diagnostic::error(
                        code::LOG_SCALE,
                        format!("`{name}` is on a log scale, so its range must be above zero"),
                    )
                    .label(range.lo.span, "not above zero"));
                }
                Ok(Some(self.push_variable(
                    name,
                    dim,
                    unit,
                    Domain::Continuous { lo, hi, log: *log },
                    v.span,
                )))
            }
            VariableType::Integer { range } => {
                let int = |e: &ast::Expr| -> Result<i64, Diagnostic> {
                    match &e.kind {
                        ExprKind::Number(n) if n.value.fract() == 0.0 && n.value.abs() < 1e15 => {
                            Ok(n.value as i64)
                        }
                        ExprKind::Unary {
                            op: ast::UnaryOp::Neg,
                            operand,
                        } => match &operand.kind {
                            ExprKind::Number(n)
                                if n.value.fract() == 0.0 && n.value.abs() < 1e15 =>
                            {
                                Ok(-(n.value as i64))
                            }
                            _ => Err(Diagnostic::error(
                                code::NOT_INTEGER,
                                "an integer variable's bounds are whole numbers",
                            )
                            .at(e.span)),
                        },
                        _ => Err(Diagnostic::error(
                            code::NOT_INTEGER,
                            "an integer variable's bounds are whole numbers without units",
                        )
                        .at(e.span)),
                    }
                };
                let (lo, hi) = (int(&range.lo)?, int(&range.hi)?);
                if lo >= hi {
                    return Err(Diagnostic::error(
                        code::EMPTY_RANGE,
                        format!("the range of `{name}` is empty: {lo} is not below {hi}"),
                    )
                    .at(range.span));
                }
                Ok(Some(self.push_variable(
                    name,
                    Dimension::DIMENSIONLESS,
                    DisplayUnit::plain(),
                    Domain::Integer { lo, hi },
                    v.span,
                )))
            }
            VariableType::Choice { levels } => {
                let mut seen: Vec<&str> = Vec::new();
                for l in levels {
                    if seen.contains(&l.value.as_str()) {
                        return Err(Diagnostic::error(
                            code::DUPLICATE_LEVEL,
                            format!("`{}` is listed twice", l.value),
                        )
                        .at(l.span));
                    }
                    seen.push(&l.value);
                }
                if levels.len() < 2 {
                    return Err(Diagnostic::error(
                        code::ONE_CHOICE,
                        format!("`{name}` has only one choice"),
                    )
                    .at(v.span)
                    .help(
                        "a choice needs two or more options; a fixed value belongs in `parameters`",
                    ));
                }
                Ok(Some(self.push_variable(
                    name,
                    Dimension::DIMENSIONLESS,
                    DisplayUnit::plain(),
                    Domain::Choice {
                        levels: levels.iter().map(|l| l.value.clone()).collect(),
                    },
                    v.span,
                )))
            }
            VariableType::Composition { components, total } => {
                let total_value = match total {
                    Some(t) => quantity_of(Dimension::DIMENSIONLESS, t)?.0,
                    None => 1.0,
                };
                if total_value <= 0.0 {
                    return Err(Diagnostic::error(
                        code::COMPOSITION_TOTAL,
                        "a composition's total must be above zero",
                    )
                    .at(v.span));
                }
                if components.len() < 2 {
                    return Err(Diagnostic::error(
                        code::COMPOSITION_SIZE,
                        "a composition needs at least two components",
                    )
                    .at(v.span));
                }
                let mut bounds = Vec::new();
                let mut names: Vec<&str> = Vec::new();
                for c in components {
                    if names.contains(&c.name.name.as_str()) {
                        return Err(Diagnostic::error(
                            code::DUPLICATE_COMPONENT,
                            format!("component `{}` is listed twice", c.name.name),
                        )
                        .at(c.name.span));
                    }
                    names.push(&c.name.name);
                    let (lo, hi) = match &c.range {
                        Some(r) => (
                            quantity_of(Dimension::DIMENSIONLESS, &r.lo)?.0,
                            quantity_of(Dimension::DIMENSIONLESS, &r.hi)?.0,
                        ),
                        None => (0.0, total_value),
                    };
                    if lo < 0.0 || hi > total_value || lo > hi {
                        return Err(Diagnostic::error(
                            code::COMPONENT_RANGE,
                            format!(
                                "the fraction of `{}` must lie within 0 .. {}",
                                c.name.name,
                                qdx_units::format_number(total_value)
                            ),
                        )
                        .at(c.span));
                    }
                    bounds.push((c, lo, hi));
                }
                let (sum_lo, sum_hi) = bounds
                    .iter()
                    .fold((0.0, 0.0), |(a, b), (_, lo, hi)| (a + lo, b + hi));
                if sum_lo > total_value + 1e-12 || sum_hi < total_value - 1e-12 {
                    return Err(Diagnostic::error(
                        code::COMPOSITION_INFEASIBLE,
                        format!(
                            "no composition of `{name}` sums to {}",
                            qdx_units::format_number(total_value)
                        ),
                    )
                    .at(v.span)
                    .help(format!(
                        "the components' lower bounds sum to {} and their upper bounds to {}",
                        qdx_units::format_number(sum_lo),
                        qdx_units::format_number(sum_hi)
                    )));
                }
                let composition = self.compositions.len();
                let mut ids = Vec::new();
                for (c, lo, hi) in bounds {
                    ids.push(self.push_variable(
                        format!("{name}.{}", c.name.name),
                        Dimension::DIMENSIONLESS,
                        DisplayUnit::plain(),
                        Domain::Component {
                            composition,
                            lo,
                            hi,
                        },
                        c.span,
                    ));
                }
                self.compositions.push(Composition {
                    name,
                    components: ids,
                    total: total_value,
                });
                if v.binding.is_some() {
                    return Err(Diagnostic::error(
                        code::COMPOSITION_BINDING,
                        "a composition cannot be bound to one device setting",
                    )
                    .at(v.span)
                    .help("derive each pump's rate from the components in `derive`"));
                }
                Ok(None)
            }
        }
    }

    fn push_variable(
        &mut self,
        name: String,
        dimension: Dimension,
        unit: DisplayUnit,
        domain: Domain,
        span: Span,
    ) -> VarId {
        self.variables.push(Variable {
            name,
            dimension,
            unit,
            domain,
            span,
        });
        self.variables.len() - 1
    }

    /// Resolves `-> dev` / `-> dev.setting` and records that the setting takes `value`.
    fn bind_setting(
        &mut self,
        b: &ast::SettingRef,
        value: TExpr,
        dim: Dimension,
        unit: DisplayUnit,
        span: Span,
    ) {
        if self.is_poisoned(&format!("device:{}", b.device.name)) {
            return;
        }
        let dev_id = match self.find_device(&b.device, None) {
            Ok(d) => d,
            Err(e) => {
                self.error(e);
                return;
            }
        };
        let Some(dev) = self.devices.get(dev_id) else {
            return;
        };
        let setting = match &b.setting {
            Some(s) => match dev.setting(&s.name) {
                Some(x) => x.clone(),
                None => {
                    let known: Vec<&str> = dev.settings.iter().map(|s| s.name.as_str()).collect();
                    let d = Diagnostic::error(
                        code::UNKNOWN_SETTING,
                        format!("`{}` has no setting `{}`", dev.name, s.name),
                    )
                    .at(s.span);
                    self.error(match closest(&s.name, known.iter().copied()) {
                        Some(k) => d
                            .help(format!("did you mean `{}.{k}`?", dev.name))
                            .fix(s.span, k),
                        None if known.is_empty() => {
                            d.help(format!("a `{}` has no settings to bind", dev.kind))
                        }
                        None => d.help(format!("its settings are: {}", known.join(", "))),
                    });
                    return;
                }
            },
            None => match dev.settings.as_slice() {
                [only] => only.clone(),
                [] => {
                    self.error(
                        Diagnostic::error(
                            code::NO_SETTING,
                            format!("`{}` has no setting a variable can drive", dev.name),
                        )
                        .at(b.span)
                        .help(format!("a `{}` is fixed by its properties", dev.kind)),
                    );
                    return;
                }
                many => {
                    let names: Vec<&str> = many.iter().map(|s| s.name.as_str()).collect();
                    self.error(
                        Diagnostic::error(
                            code::AMBIGUOUS_SETTING,
                            format!("`{}` has several settings; say which", dev.name),
                        )
                        .at(b.span)
                        .help(format!(
                            "write `-> {}.{}` (settings: {})",
                            dev.name,
                            names.first().unwrap_or(&""),
                            names.join(", ")
                        )),
                    );
                    return;
                }
            },
        };
        if setting.dimension != dim {
            self.error(
                Diagnostic::error(
                    code::UNIT_MISMATCH,
                    format!(
                        "`{}.{}` is {}, but the value bound to it is {}",
                        dev.name,
                        setting.name,
                        describe_dimension(setting.dimension),
                        describe_dimension(dim)
                    ),
                )
                .label(
                    b.span,
                    format!("expects {}", describe_dimension(setting.dimension)),
                )
                .label(span, "bound from here"),
            );
            return;
        }
        let name = format!("{}.{}", dev.name, setting.name);
        if let Some(existing) = self.derived.iter().find(|d| d.name == name) {
            let first = existing.span;
            self.error(
                Diagnostic::error(code::SETTING_SET_TWICE, format!("`{name}` is set twice"))
                    .label(span, "set again here")
                    .label(first, "first set here"),
            );
            return;
        }
        let unit = if unit.unit.dimension() == dim {
            unit
        } else {
            setting.unit.clone()
        };
        let drive = match driven(dev, &setting.name, span) {
            Ok(d) => d,
            Err(e) => {
                self.error(e);
                return;
            }
        };
        self.derived.push(Derived {
            target: DerivedTarget::Setting {
                device: dev_id,
                setting: setting.name.clone(),
                drive,
            },
            name,
            expr: value,
            dimension: dim,
            unit,
            range: (f64::NEG_INFINITY, f64::INFINITY),
            span,
        });
    }

    pub(super) fn parameters(&mut self) {
        let decls: Vec<&'a ast::Parameter> = self
            .items
            .of(|i| match i {
                Item::Parameters(b) => Some(b),
                _ => None,
            })
            .into_iter()
            .flat_map(|b| b.entries.iter())
            .collect();
        for p in decls {
            let name = p.name.name.clone();
            if self.parameters.contains_key(&name) || self.variables.iter().any(|v| v.name == name)
            {
                self.error(
                    Diagnostic::error(
                        code::DUPLICATE_NAME,
                        format!("`{name}` is already declared"),
                    )
                    .at(p.name.span),
                );
                continue;
            }
            match constant(&p.value) {
                Ok(t) => {
                    let t = t.as_point();
                    let si = t.expr.eval(&NoEnv);
                    if let Some(b) = &p.binding {
                        self.mark_used(&name);
                        let interp = if t.ty.temp == Temp::Absolute {
                            Interpretation::Absolute
                        } else {
                            Interpretation::Difference
                        };
                        let unit = display_unit(written_unit(&p.value), t.ty.dim, interp, si);
                        self.bind_setting(b, TExpr::Const(si), t.ty.dim, unit, p.span);
                    }
                    let typed = Typed::new(TExpr::Const(si), t.ty, p.span);
                    self.parameters.insert(name, (typed, p.span));
                }
                Err(d) => self.error(d),
            }
        }
    }

    pub(super) fn derive(&mut self) {
        let assignments: Vec<&'a ast::Assignment> = self
            .items
            .of(|i| match i {
                Item::Derive(b) => Some(b),
                _ => None,
            })
            .into_iter()
            .flat_map(|b| b.entries.iter())
            .collect();
        let names: Vec<String> = assignments.iter().map(|a| a.target.dotted()).collect();
        for (i, a) in assignments.iter().enumerate() {
            let before = self.diags.error_count();
            self.derive_one(a, names.get(i..).unwrap_or(&[]));
            if self.diags.error_count() > before {
                let target = a.target.dotted();
                self.poison(format!("derived:{target}"));
                self.poison(format!("setting:{target}"));
                // A misspelled setting was probably meant to be the device's only one.
                if let [dev, _] = a.target.segments.as_slice()
                    && let Some(d) = self.devices.iter().find(|d| d.name == dev.name)
                {
                    for s in &d.settings {
                        self.poisoned
                            .borrow_mut()
                            .insert(format!("setting:{}.{}", d.name, s.name));
                    }
                }
            }
        }
        self.check_settings_have_values();
    }

    fn derive_one(&mut self, a: &ast::Assignment, later: &[String]) {
        {
            let later: Vec<String> = later.to_vec();
            let typed = {
                let scope = SpaceScope {
                    v: self,
                    later: &later,
                };
                Typer { scope: &scope }.expr(&a.value)
            };
            let target_name = a.target.dotted();
            let typed = match typed {
                Ok(t) => t,
                Err(d) => {
                    self.error(d);
                    self.poison(format!("derived:{target_name}"));
                    self.poison(format!("setting:{target_name}"));
                    return;
                }
            };
            if let Some(first) = a.target.segments.first()
                && a.target.segments.len() == 2
                && self.is_poisoned(&format!("device:{}", first.name))
            {
                return;
            }
            let segs: Vec<&ast::Ident> = a.target.segments.iter().collect();
            match segs.as_slice() {
                [name] => {
                    let n = &name.name;
                    if self.variables.iter().any(|v| &v.name == n) || self.parameters.contains_key(n) {
                        self.error(
                            Diagnostic::error(code::ASSIGN_TO_INPUT, format!("`{n}` is a variable or parameter; it cannot be derived"))
                                .at(name.span)
                                .help("give the derived value its own name"),
                        );
                        return;
                    }
                    if self.derived.iter().any(|d| &d.name == n) {
                        self.error(Diagnostic::error(code::DERIVED_TWICE, format!("`{n}` is derived twice")).at(a.target.span));
                        return;
                    }
                    let typed = typed.as_point();
                    let interp = if typed.ty.temp == Temp::Absolute { Interpretation::Absolute } else { Interpretation::Difference };
                    let unit = self.unit_for(&a.value, typed.ty.dim, interp);
                    self.derived.push(Derived {
                        target: DerivedTarget::Named(n.clone()),
                        name: n.clone(),
                        expr: typed.expr,
                        dimension: typed.ty.dim,
                        unit,
                        range: (f64::NEG_INFINITY, f64::INFINITY),
                        span: a.span,
                    });
                }
                [dev, setting] => {
                    let dev_id = match self.find_device(dev, None) {
                        Ok(d) => d,
                        Err(e) => {
                            self.error(e);
                            return;
                        }
                    };
                    let Some(device) = self.devices.get(dev_id) else { return };
                    let Some(spec) = device.setting(&setting.name).cloned() else {
                        let d = if device.properties.contains_key(&setting.name) {
                            Diagnostic::error(
                                code::ASSIGN_TO_PROPERTY,
                                format!("`{}.{}` is a property, fixed in the reactor block; it cannot be derived", dev.name, setting.name),
                            )
                            .at(a.target.span)
                        } else {
                            let known: Vec<&str> = device.settings.iter().map(|s| s.name.as_str()).collect();
                            let d = Diagnostic::error(code::UNKNOWN_SETTING, format!("`{}` has no setting `{}`", dev.name, setting.name)).at(setting.span);
                            match closest(&setting.name, known.iter().copied()) {
                                Some(k) => d.help(format!("did you mean `{}.{k}`?", dev.name)).fix(setting.span, k),
                                None if known.is_empty() => d.help(format!("a `{}` has no settings", device.kind)),
                                None => d.help(format!("its settings are: {}", known.join(", "))),
                            }
                        };
                        self.error(d);
                        return;
                    };
                    let typed = if spec.dimension == Dimension::TEMPERATURE { typed.as_point() } else { typed.as_difference() };
                    if typed.ty.dim != spec.dimension && !(typed.ty.bare && typed.expr.as_const() == Some(0.0)) {
                        let d = if typed.ty.bare {
                            missing_unit(a.value.span, spec.dimension)
                        } else {
                            Diagnostic::error(
                                code::UNIT_MISMATCH,
                                format!("`{}.{}` is {}, but this is {}", dev.name, setting.name, describe_dimension(spec.dimension), typed.ty.describe()),
                            )
                            .label(a.value.span, format!("this is {}", typed.ty.describe()))
                            .label(a.target.span, format!("expects {}", describe_dimension(spec.dimension)))
                        };
                        self.error(d);
                        return;
                    }
                    if spec.dimension == Dimension::TEMPERATURE && typed.ty.temp == Temp::Difference {
                        self.error(
                            Diagnostic::error(code::TEMPERATURE, format!("`{}.{}` is a temperature, but this is a temperature difference", dev.name, setting.name))
                                .at(a.value.span),
                        );
                        return;
                    }
                    let name = format!("{}.{}", dev.name, setting.name);
                    if let Some(existing) = self.derived.iter().find(|d| d.name == name) {
                        let first = existing.span;
                        self.error(
                            Diagnostic::error(code::SETTING_SET_TWICE, format!("`{name}` is set twice"))
                                .label(a.span, "set again here")
                                .label(first, "first set here"),
                        );
                        return;
                    }
                    let drive = match driven(device, &spec.name, a.span) {
                        Ok(d) => d,
                        Err(e) => {
                            self.error(e);
                            return;
                        }
                    };
                    self.derived.push(Derived {
                        target: DerivedTarget::Setting { device: dev_id, setting: spec.name.clone(), drive },
                        name,
                        expr: typed.expr,
                        dimension: spec.dimension,
                        unit: spec.unit.clone(),
                        range: (f64::NEG_INFINITY, f64::INFINITY),
                        span: a.span,
                    });
                }
                _ => self.error(
                    Diagnostic::error(code::DERIVE_TARGET, "derive a named value (`total_flow = …`) or a device setting (`p1.rate = …`)").at(a.target.span),
                ),
            }
        }
    }

    /// Every pump needs a rate and every heater a setpoint.
    fn check_settings_have_values(&mut self) {
        // A pump that only rinses or holds the blank or the reference dye (`flush { pump p_wash,
        // … }`) has no rate during experiments.
        let flush_pumps: Vec<String> = self
            .items
            .of(|i| match i {
                Item::Measure(m) => Some(m),
                _ => None,
            })
            .into_iter()
            .flat_map(|m| m.entries.iter())
            .filter_map(|e| match e {
                ast::MeasureEntry::Channel {
                    name,
                    props: Some(p),
                    ..
                } if matches!(name.name.as_str(), "flush" | "blank" | "reference_dye") => {
                    p.get("pump")
                }
                // The carrier of a droplets measurement runs between droplets, set by the plan.
                ast::MeasureEntry::Channel {
                    name,
                    props: Some(p),
                    ..
                } if name.name == "droplets" => p.get("carrier"),
                _ => None,
            })
            .filter_map(|p| match &p.value {
                ast::PropValue::Expr(ast::Expr {
                    kind: ExprKind::Path(path),
                    ..
                }) => Some(path.dotted()),
                _ => None,
            })
            .collect();
        let mut missing = Vec::new();
        for (id, d) in self.devices.iter().enumerate() {
            let setting = match d.role {
                Role::Pump if flush_pumps.contains(&d.name) => continue,
                Role::Pump => "rate",
                Role::Heater => "setpoint",
                _ => continue,
            };
            if self.is_poisoned(&format!("setting:{}.{setting}", d.name))
                || self.is_poisoned(&format!("device:{}", d.name))
            {
                continue;
            }
            if d.setting(setting).is_some() && !self.derived.iter().any(|x| matches!(&x.target, DerivedTarget::Setting { device, setting: s, .. } if *device == id && s == setting)) {
                let how = if d.role == Role::Pump {
                    format!("derive it (`{}.rate = …`) or set it with a parameter (`{}_rate = 50 uL/min -> {}`)", d.name, d.name, d.name)
                } else {
                    format!("bind a variable to it (`temperature : temperature in 25 degC .. 80 degC -> {}`) or a parameter", d.name)
                };
                missing.push(
                    Diagnostic::error(code::NO_SETTING_VALUE, format!("nothing sets `{}.{setting}`", d.name))
                        .label(d.span, format!("this {} would never be set", d.role.name()))
                        .help(how),
                );
            }
        }
        for d in missing {
            self.error(d);
        }
    }

    /// The unit to show a derived value in: the unit written in its expression if it fits,
    /// else the unit of a device setting or variable of the same dimension.
    fn unit_for(&self, e: &ast::Expr, dim: Dimension, interp: Interpretation) -> DisplayUnit {
        if let Some(u) = written_unit(e).filter(|u| u.dimension() == dim) {
            return DisplayUnit::new(u, interp);
        }
        let from_settings = self
            .devices
            .iter()
            .flat_map(|d| d.settings.iter())
            .find(|s| s.dimension == dim)
            .map(|s| s.unit.clone());
        let from_vars = self
            .variables
            .iter()
            .find(|v| v.dimension == dim)
            .map(|v| v.unit.clone());
        from_settings
            .or(from_vars)
            .unwrap_or_else(|| display_unit(None, dim, interp, 1.0))
    }

    pub(super) fn constraints(&mut self) {
        let exprs: Vec<&'a ast::Expr> = self
            .items
            .of(|i| match i {
                Item::Constraints(b) => Some(b),
                _ => None,
            })
            .into_iter()
            .flat_map(|b| b.entries.iter())
            .collect();
        for e in exprs {
            let Some(parts) = comparisons(e) else {
                self.error(
                    Diagnostic::error(code::NOT_A_CONSTRAINT, "a constraint compares two values")
                        .at(e.span)
                        .help("write it as `expression <= expression` (or `>=`, `<`, `>`, `==`)"),
                );
                continue;
            };
            for (l, op, r) in parts {
                match self.typed_comparison(l, r) {
                    Ok((lt, rt)) => {
                        let text = self.loaded.sources.snippet(e.span).unwrap_or("").to_owned();
                        let linear = self.linear_form(&TExpr::Sub(
                            Box::new(lt.expr.clone()),
                            Box::new(rt.expr.clone()),
                        ));
                        self.constraints.push(Constraint {
                            lhs: lt.expr,
                            op,
                            rhs: rt.expr,
                            text,
                            linear,
                            span: e.span,
                        });
                    }
                    Err(d) => self.error(d),
                }
            }
        }
    }

    /// Types both sides of a comparison in the space scope and checks they are comparable.
    pub(super) fn typed_comparison(
        &self,
        l: &ast::Expr,
        r: &ast::Expr,
    ) -> Result<(Typed, Typed), Diagnostic> {
        let scope = SpaceScope {
            v: self,
            later: &[],
        };
        let typer = Typer { scope: &scope };
        let lt = typer.expr(l)?;
        let rt = typer.expr(r)?;
        typer.same_dimension(&lt, &rt, "compare")?;
        let (lt, rt) = match (lt.ty.temp, rt.ty.temp) {
            (Temp::Difference, _) | (_, Temp::Difference) => {
                (lt.as_difference(), rt.as_difference())
            }
            _ => (lt.as_point(), rt.as_point()),
        };
        if (lt.ty.temp == Temp::Absolute && rt.ty.temp == Temp::Difference)
            || (lt.ty.temp == Temp::Difference && rt.ty.temp == Temp::Absolute)
        {
            return Err(Diagnostic::error(
                code::TEMPERATURE,
                "cannot compare an absolute temperature with a temperature difference",
            )
            .at(l.span.to(r.span)));
        }
        Ok((lt, rt))
    }

    /// `Σ cᵢ·xᵢ + constant` when `e` is linear in the variables.
    pub(super) fn linear_form(&self, e: &TExpr) -> Option<(Vec<f64>, f64)> {
        let n = self.variables.len();
        let has_vars = |e: &TExpr| -> bool {
            let mut vars = Vec::new();
            e.collect_vars(&|d| self.derived.get(d).map(|x| x.expr.clone()), &mut vars);
            !vars.is_empty()
        };
        fn scale(v: (Vec<f64>, f64), k: f64) -> (Vec<f64>, f64) {
            (v.0.into_iter().map(|c| c * k).collect(), v.1 * k)
        }
        fn add(a: (Vec<f64>, f64), b: (Vec<f64>, f64), sign: f64) -> (Vec<f64>, f64) {
            (
                a.0.iter()
                    .zip(b.0.iter())
                    .map(|(x, y)| x + sign * y)
                    .collect(),
                a.1 + sign * b.1,
            )
        }
        let form = match e {
            TExpr::Const(c) => (vec![0.0; n], *c),
            TExpr::Var(v) => {
                let mut c = vec![0.0; n];
                *c.get_mut(*v)? = 1.0;
                (c, 0.0)
            }
            TExpr::Derived(d) => return self.linear_form(&self.derived.get(*d)?.expr),
            TExpr::Neg(a) => scale(self.linear_form(a)?, -1.0),
            TExpr::Add(a, b) => add(self.linear_form(a)?, self.linear_form(b)?, 1.0),
            TExpr::Sub(a, b) => add(self.linear_form(a)?, self.linear_form(b)?, -1.0),
            TExpr::Mul(a, b) => {
                if !has_vars(a) {
                    scale(self.linear_form(b)?, a.eval(&NoEnvWith(self)))
                } else if !has_vars(b) {
                    scale(self.linear_form(a)?, b.eval(&NoEnvWith(self)))
                } else {
                    return None;
                }
            }
            TExpr::Div(a, b) if !has_vars(b) => {
                let k = b.eval(&NoEnvWith(self));
                if k == 0.0 || !k.is_finite() {
                    return None;
                }
                scale(self.linear_form(a)?, 1.0 / k)
            }
            _ if !has_vars(e) => (vec![0.0; n], e.eval(&NoEnvWith(self))),
            _ => return None,
        };
        form.0
            .iter()
            .chain(std::iter::once(&form.1))
            .all(|x| x.is_finite())
            .then_some(form)
    }
}

/// Evaluates variable-free expressions, following derived values.
struct NoEnvWith<'v, 'a>(&'v Validator<'a>);

impl super::expr::Env for NoEnvWith<'_, '_> {
    fn var(&self, _: usize) -> f64 {
        f64::NAN
    }
    fn derived(&self, id: usize) -> f64 {
        self.0
            .derived
            .get(id)
            .map_or(f64::NAN, |d| d.expr.eval(self))
    }
    fn proxy(&self, _: usize) -> f64 {
        f64::NAN
    }
}

/// What deriving `setting` of `device` drives; a setting the runtime never sends is an error
/// here rather than a value silently left unsent.
fn driven(device: &Device, setting: &str, at: Span) -> Result<Drive, Diagnostic> {
    let drive = device
        .setting(setting)
        .and_then(|s| s.drive)
        .filter(|d| *d != Drive::ValvePosition);
    drive.ok_or_else(|| {
        let why = if device.role == Role::Valve {
            "a valve is turned by the measurement's `route` (`route { valve v1, collect 2, waste 1 }`)"
                .to_owned()
        } else {
            format!(
                "the runtime sends a pump's `rate` and a heater's `setpoint`; `{}` is a {}",
                device.name,
                device.role.name()
            )
        };
        Diagnostic::error(
            code::SETTING_NOT_DRIVEN,
            format!("`{}.{setting}` is never sent to the device", device.name),
        )
        .at(at)
        .help(why)
    })
}
