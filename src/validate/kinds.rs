//! Library declarations: device kinds, built-in function signatures, reference dyes; and the
//! typing of property values against a kind's property types.

use std::collections::BTreeMap;

use qdx_units::{Dimension, Interpretation, Unit};

use super::Validator;
use super::campaign::{DeviceId, DisplayUnit, PropertyValue, Role};
use super::expr::{self, Scope, Temp, Typed, Typer};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::codes::validate as code;
use crate::load::ModuleKind;
use crate::names::closest;
use crate::source::Span;
use crate::syntax::ast::{self, ExprKind, Item};

/// The type of a device property or setting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PropType {
    Quantity(Dimension),
    Range(Dimension),
    Integer,
    Text,
    Bool,
    Device(Role),
    /// A list of measurement channels (`[absorbance, photoluminescence]`).
    Channels,
}

impl PropType {
    pub fn parse(name: &str) -> Option<PropType> {
        match name {
            "integer" => return Some(PropType::Integer),
            "string" | "text" => return Some(PropType::Text),
            "bool" => return Some(PropType::Bool),
            "channels" => return Some(PropType::Channels),
            "number" => return Some(PropType::Quantity(Dimension::DIMENSIONLESS)),
            _ => {}
        }
        if let Some(role) = Role::from_name(name) {
            return Some(PropType::Device(role));
        }
        if let Some(base) = name.strip_suffix("_range") {
            return Dimension::from_name(base).ok().map(PropType::Range);
        }
        Dimension::from_name(name).ok().map(PropType::Quantity)
    }

    pub fn describe(self) -> String {
        match self {
            PropType::Quantity(d) if d.is_dimensionless() => "a plain number".to_owned(),
            PropType::Quantity(d) => d.hint(),
            PropType::Range(d) => format!(
                "a range of {} (`low .. high`)",
                expr::describe_dimension(d)
                    .trim_start_matches("a ")
                    .trim_start_matches("an ")
            ),
            PropType::Integer => "a whole number".to_owned(),
            PropType::Text => "a string".to_owned(),
            PropType::Bool => "`true` or `false`".to_owned(),
            PropType::Device(role) => format!("the name of a {} device", role.name()),
            PropType::Channels => {
                "a list of channels, e.g. `[absorbance, photoluminescence]`".to_owned()
            }
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct PropDef {
    pub name: String,
    pub ty: PropType,
    pub default: Option<ast::PropValue>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub(crate) struct SettingDef {
    pub name: String,
    pub dimension: Dimension,
    pub limits: Option<ast::SettingLimits>,
}

/// A device kind, resolved.
#[derive(Debug, Clone)]
pub(crate) struct KindDef {
    pub name: String,
    pub role: Role,
    pub props: Vec<PropDef>,
    pub settings: Vec<SettingDef>,
    /// The stdlib module it comes from, if any (`std.devices`).
    pub module: Option<String>,
}

/// A scope in which no name is visible: property values are constants.
pub(crate) struct ConstScope;

impl Scope for ConstScope {
    fn path(&self, path: &ast::Path) -> Result<Typed, Diagnostic> {
        let dotted = path.dotted();
        if Unit::parse(&dotted).is_ok() {
            return Err(Diagnostic::error(code::UNIT_AS_NAME, format!("`{dotted}` stands alone, as if it were a name"))
                .at(path.span)
                .help(format!("`{dotted}` is a unit: write units right after their number, without spaces inside them (`10 uL/min`)")));
        }
        Err(Diagnostic::error(
            code::NOT_CONSTANT,
            format!(
                "`{}` is not a constant; a value here must be a number with its unit",
                path.dotted()
            ),
        )
        .at(path.span))
    }
}

/// Evaluates a constant expression (no names) to its SI value.
pub(crate) fn constant(e: &ast::Expr) -> Result<Typed, Diagnostic> {
    Typer { scope: &ConstScope }.expr(e)
}

pub(crate) struct NoEnv;

impl expr::Env for NoEnv {
    fn var(&self, _: usize) -> f64 {
        f64::NAN
    }
    fn derived(&self, _: usize) -> f64 {
        f64::NAN
    }
    fn proxy(&self, _: usize) -> f64 {
        f64::NAN
    }
}

/// The unit an expression was written in, if it is a single quantity literal.
pub(crate) fn written_unit(e: &ast::Expr) -> Option<Unit> {
    match &e.kind {
        ExprKind::Quantity { unit, .. } => Unit::parse(unit).ok(),
        ExprKind::Unary { operand, .. } | ExprKind::Paren(operand) => written_unit(operand),
        ExprKind::Binary { left, right, .. } => written_unit(left).or_else(|| written_unit(right)),
        _ => None,
    }
}

/// The unit to print values of `dim` in: the one written, else a sensible one.
pub(crate) fn display_unit(
    written: Option<Unit>,
    dim: Dimension,
    interpretation: Interpretation,
    sample_si: f64,
) -> DisplayUnit {
    match written {
        Some(u) if u.dimension() == dim => DisplayUnit::new(u, interpretation),
        _ => DisplayUnit::new(
            qdx_units::display_unit(dim, interpretation, sample_si),
            interpretation,
        ),
    }
}

impl<'a> Validator<'a> {
    /// Collects kinds, builtins and references from every module.
    pub(super) fn collect_library(&mut self) {
        let mut kind_spans: BTreeMap<String, Span> = BTreeMap::new();
        let mut found = Vec::new();
        for m in &self.loaded.modules {
            let module = match &m.kind {
                ModuleKind::Stdlib(n) => Some(n.clone()),
                _ => None,
            };
            for item in &m.ast.items {
                match item {
                    Item::Kind(k) => {
                        if let Some(first) = kind_spans.get(&k.name.name) {
                            found.push(
                                Diagnostic::error(
                                    code::DUPLICATE_KIND,
                                    format!("device kind `{}` is declared twice", k.name.name),
                                )
                                .label(k.name.span, "declared again here")
                                .label(*first, "first declared here"),
                            );
                            continue;
                        }
                        kind_spans.insert(k.name.name.clone(), k.name.span);
                        match self.kind_def(k, module.clone()) {
                            Ok(def) => {
                                self.kinds.insert(def.name.clone(), def);
                            }
                            Err(mut ds) => found.append(&mut ds),
                        }
                    }
                    Item::Builtin(b) => {
                        self.builtins.insert(b.name.name.clone(), b);
                    }
                    Item::Reference(r) => {
                        let qualified = match &module {
                            Some(m) => format!("{m}.{}", r.name.name),
                            None => r.name.name.clone(),
                        };
                        self.references.insert(qualified, (r, r.name.name.clone()));
                    }
                    _ => {}
                }
            }
        }
        for d in found {
            self.error(d);
        }
    }

    fn kind_def(
        &self,
        k: &'a ast::KindDecl,
        module: Option<String>,
    ) -> Result<KindDef, Vec<Diagnostic>> {
        let mut errors = Vec::new();
        let role = Role::from_name(&k.role.name);
        if role.is_none() {
            let roles: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
            let mut d = Diagnostic::error(
                code::UNKNOWN_ROLE,
                format!("unknown device role `{}`", k.role.name),
            )
            .label(k.role.span, "not a role");
            d = match closest(&k.role.name, roles.iter().copied()) {
                Some(s) => d.did_you_mean(k.role.span, s),
                None => d.help(format!("roles are: {}", roles.join(", "))),
            };
            errors.push(d);
        }
        let mut props = Vec::new();
        for p in &k.properties {
            match PropType::parse(&p.ty.name) {
                Some(ty) => props.push(PropDef {
                    name: p.name.name.clone(),
                    ty,
                    default: p.default.clone(),
                    span: p.span,
                }),
                None => errors.push(unknown_type(&p.ty)),
            }
        }
        let mut settings = Vec::new();
        for s in &k.settings {
            match PropType::parse(&s.ty.name) {
                Some(PropType::Quantity(dimension)) => settings.push(SettingDef {
                    name: s.name.name.clone(),
                    dimension,
                    limits: s.limits.clone(),
                }),
                Some(PropType::Integer) => settings.push(SettingDef {
                    name: s.name.name.clone(),
                    dimension: Dimension::DIMENSIONLESS,
                    limits: s.limits.clone(),
                }),
                Some(_) => errors.push(
                    Diagnostic::error(code::SETTING_TYPE, "a setting must be a quantity (a flow rate, a temperature, …) or an integer")
                        .at(s.ty.span),
                ),
                None => errors.push(unknown_type(&s.ty)),
            }
        }
        match (role, errors.is_empty()) {
            (Some(role), true) => Ok(KindDef {
                name: k.name.name.clone(),
                role,
                props,
                settings,
                module,
            }),
            _ => Err(errors),
        }
    }

    /// Finds a device kind by name, with a helpful error when it is missing or not imported.
    pub(super) fn find_kind(&self, path: &ast::Path) -> Result<&KindDef, Diagnostic> {
        let dotted = path.dotted();
        let (module, name) = match dotted.rsplit_once('.') {
            Some((m, n)) => (Some(m.to_owned()), n.to_owned()),
            None => (None, dotted.clone()),
        };
        if let Some(kind) = self.kinds.get(&name) {
            let visible = match (&kind.module, &module) {
                (None, None) => true,
                (Some(km), Some(m)) => km == m,
                (Some(km), None) => self.imported_std.contains(km),
                (None, Some(_)) => false,
            };
            if visible {
                self.mark_used(&format!("kind:{name}"));
                return Ok(kind);
            }
        }
        // Perhaps in a stdlib module that was not imported.
        for (module_name, text) in crate::load::STDLIB {
            if text.contains(&format!("kind {name} :")) {
                // One error per missing module: its help fixes every kind from it.
                if !self
                    .poisoned
                    .borrow_mut()
                    .insert(format!("module-missing:{module_name}"))
                {
                    return Err(super::follow_on());
                }
                return Err(Diagnostic::error(
                    code::KIND_NOT_IMPORTED,
                    format!("device kind `{name}` is in `{module_name}`, which is not imported"),
                )
                .label(path.span, "not in scope")
                .help(format!("add `use {module_name}` near the top of the file")));
            }
        }
        let known: Vec<&str> = self.kinds.keys().map(String::as_str).collect();
        let d = Diagnostic::error(
            code::UNKNOWN_KIND,
            format!("unknown device kind `{dotted}`"),
        )
        .label(path.span, "no such kind");
        Err(match closest(&name, known.iter().copied()) {
            Some(s) => d.did_you_mean(path.span, s),
            None if self.imported_std.is_empty() => {
                d.help("device kinds come from `use std.devices` or from `kind` declarations")
            }
            None => d.help(format!("known kinds: {}", known.join(", "))),
        })
    }

    /// Types one property value against its declared type. `devices` maps device names for
    /// device references.
    pub(super) fn prop_value(
        &self,
        ty: PropType,
        value: &ast::PropValue,
        devices: &BTreeMap<String, (DeviceId, Role)>,
    ) -> Result<PropertyValue, Diagnostic> {
        let span = value.span();
        let wrong = |found: &str| {
            Diagnostic::error(
                code::PROPERTY_TYPE,
                format!("expected {}, found {found}", ty.describe()),
            )
            .at(span)
        };
        match (ty, value) {
            (PropType::Range(dim), ast::PropValue::Range(r)) => {
                let lo = quantity_of(dim, &r.lo)?;
                let hi = quantity_of(dim, &r.hi)?;
                if lo.0 > hi.0 {
                    return Err(Diagnostic::error(
                        code::EMPTY_RANGE,
                        "the low end of this range is above its high end",
                    )
                    .label(r.span, "empty range"));
                }
                let interp = if dim == Dimension::TEMPERATURE {
                    Interpretation::Absolute
                } else {
                    Interpretation::Difference
                };
                Ok(PropertyValue::Range {
                    lo: lo.0,
                    hi: hi.0,
                    unit: display_unit(written_unit(&r.lo), dim, interp, lo.0),
                })
            }
            (PropType::Range(_), _) => Err(wrong("a single value")),
            (_, ast::PropValue::Range(_)) => Err(wrong("a range")),
            (_, ast::PropValue::Props(_)) => Err(wrong("a block")),
            (ty, ast::PropValue::Expr(e)) => match (ty, &e.kind) {
                (PropType::Quantity(dim), _) => {
                    let (si, t) = quantity_of(dim, e)?;
                    let interp = if t.ty.temp == Temp::Absolute {
                        Interpretation::Absolute
                    } else {
                        Interpretation::Difference
                    };
                    Ok(PropertyValue::Quantity {
                        si,
                        unit: display_unit(written_unit(e), dim, interp, si),
                    })
                }
                (PropType::Integer, ExprKind::Number(n))
                    if n.value.fract() == 0.0 && n.value.abs() < 1e15 =>
                {
                    Ok(PropertyValue::Integer(n.value as i64))
                }
                (PropType::Integer, _) => Err(wrong("something else")),
                (PropType::Text, ExprKind::String(s)) => Ok(PropertyValue::Text(s.clone())),
                (PropType::Text, _) => {
                    Err(wrong("something else").help("write text in double quotes"))
                }
                (PropType::Bool, ExprKind::Bool(b)) => Ok(PropertyValue::Bool(*b)),
                (PropType::Bool, _) => Err(wrong("something else")),
                (PropType::Device(role), ExprKind::Path(p)) if p.segments.len() == 1 => {
                    let name = p.dotted();
                    match devices.get(&name) {
                        Some((id, r)) if *r == role => {
                            self.mark_used(&format!("device:{name}"));
                            Ok(PropertyValue::Device(*id))
                        }
                        Some((_, r)) => Err(Diagnostic::error(
                            code::DEVICE_ROLE,
                            format!(
                                "`{name}` is a {}, but a {} is needed here",
                                r.name(),
                                role.name()
                            ),
                        )
                        .at(span)),
                        None => {
                            let known: Vec<&str> = devices
                                .iter()
                                .filter(|(_, (_, r))| *r == role)
                                .map(|(n, _)| n.as_str())
                                .collect();
                            let d = Diagnostic::error(
                                code::UNKNOWN_DEVICE,
                                format!("no device named `{name}`"),
                            )
                            .label(span, format!("expected a {}", role.name()));
                            Err(match closest(&name, known.iter().copied()) {
                                Some(s) => d.did_you_mean(span, s),
                                None => d.help(format!(
                                    "declare a {} in the `reactor` block",
                                    role.name()
                                )),
                            })
                        }
                    }
                }
                (PropType::Device(_), _) => Err(wrong("something else")),
                (PropType::Channels, ExprKind::List(items)) => {
                    let mut names = Vec::new();
                    for i in items {
                        match &i.kind {
                            ExprKind::Path(p)
                                if super::campaign::ChannelKind::from_name(&p.dotted())
                                    .is_some() =>
                            {
                                names.push(p.dotted())
                            }
                            _ => {
                                return Err(Diagnostic::error(
                                    code::CHANNEL,
                                    "channels are `absorbance`, `photoluminescence`, `saxs` and `circular_dichroism`",
                                )
                                .at(i.span));
                            }
                        }
                    }
                    Ok(PropertyValue::Names(names))
                }
                (PropType::Channels, _) => Err(wrong("something else")),
                (PropType::Range(_), _) => Err(wrong("a single value")),
            },
        }
    }
}

/// Types a constant of the given dimension; a bare number where a unit is needed is an error
/// with a hint. Temperatures are read as points.
pub(crate) fn quantity_of(dim: Dimension, e: &ast::Expr) -> Result<(f64, Typed), Diagnostic> {
    let t = constant(e)?.as_point();
    let t = if dim == Dimension::TEMPERATURE {
        t
    } else {
        t.as_difference()
    };
    if t.ty.dim != dim {
        if t.ty.bare && !(dim.is_dimensionless()) {
            return Err(expr::missing_unit(e.span, dim));
        }
        return Err(Diagnostic::error(
            code::UNIT_MISMATCH,
            format!(
                "expected {}, found {}",
                expr::describe_dimension(dim),
                t.ty.describe()
            ),
        )
        .label(e.span, format!("this is {}", t.ty.describe()))
        .help(format!("write {}", dim.hint())));
    }
    let si = t.expr.eval(&NoEnv);
    if !si.is_finite() {
        return Err(
            Diagnostic::error(code::NOT_FINITE, "this value is not a finite number").at(e.span),
        );
    }
    Ok((si, t))
}

fn unknown_type(ty: &ast::Ident) -> Diagnostic {
    let mut known: Vec<&str> = Dimension::kind_names().collect();
    known.extend(["integer", "string", "bool", "channels"]);
    known.extend(Role::ALL.iter().map(|r| r.name()));
    let d = Diagnostic::error(code::UNKNOWN_TYPE, format!("unknown type `{}`", ty.name))
        .label(ty.span, "not a type");
    match closest(&ty.name, known.iter().copied()) {
        Some(s) => d.did_you_mean(ty.span, s),
        None => d.help("types are quantity kinds (`volume`, `flow_rate`, `temperature`, …), `<kind>_range`, `integer`, `string`, `bool`, or a device role"),
    }
}
