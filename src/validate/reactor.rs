//! The reactor: devices with typed properties and settings, stocks, and the flow topology.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use qdx_units::{Dimension, Interpretation};

use super::Validator;
use super::campaign::*;
use super::expr::{Scope, TExpr, Temp, Ty, Typed, Typer};
use super::kinds::{NoEnv, PropType, display_unit, written_unit};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::codes::validate as code;
use crate::names::closest;
use crate::source::Span;
use crate::syntax::ast::{self, ExprKind, Item, ReactorEntry};

/// Names a setting range may use: the device's own properties.
struct DevicePropScope<'p> {
    props: &'p BTreeMap<String, PropertyValue>,
}

impl Scope for DevicePropScope<'_> {
    fn path(&self, path: &ast::Path) -> Result<Typed, Diagnostic> {
        let name = path.dotted();
        match self.props.get(&name) {
            Some(PropertyValue::Quantity { si, unit }) => {
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
                    path.span,
                ))
            }
            Some(PropertyValue::Integer(i)) => Ok(Typed::new(
                TExpr::Const(*i as f64),
                Ty::dimensionless(),
                path.span,
            )),
            _ => Err(Diagnostic::error(
                code::UNKNOWN_PROPERTY,
                format!("`{name}` is not a numeric property of this device"),
            )
            .at(path.span)),
        }
    }
}

impl<'a> Validator<'a> {
    pub(super) fn device_decls(&self) -> Vec<&'a ast::Device> {
        let mut out = Vec::new();
        for (_, item) in &self.items.list {
            if let Item::Reactor(block) = item {
                for e in &block.entries {
                    if let ReactorEntry::Device(d) = e {
                        out.push(d);
                    }
                }
            }
        }
        out
    }

    /// Declared devices with their kinds, properties and setting limits.
    pub(super) fn devices(&mut self) {
        let decls = self.device_decls();
        // First pass: names and roles, so properties can refer to devices declared later.
        let mut names: BTreeMap<String, (DeviceId, Role)> = BTreeMap::new();
        let mut kept: Vec<(&ast::Device, Role)> = Vec::new();
        for d in &decls {
            if let Some((id, _)) = names.get(&d.name.name) {
                let first = kept.get(*id).map_or(d.span, |(k, _)| k.name.span);
                self.error(
                    Diagnostic::error(
                        code::DUPLICATE_DEVICE,
                        format!("device `{}` is declared twice", d.name.name),
                    )
                    .label(d.name.span, "declared again here")
                    .label(first, "first declared here"),
                );
                continue;
            }
            let role = match self.find_kind(&d.kind) {
                Ok(kind) => {
                    let role = kind.role;
                    if d.role.name != role.name() {
                        let role_word_ok = Role::from_name(&d.role.name).is_some();
                        let mut diag = Diagnostic::error(
                            code::ROLE_MISMATCH,
                            format!(
                                "`{}` is a {} kind, but the device is declared as a `{}`",
                                kind.name,
                                role.name(),
                                d.role.name
                            ),
                        )
                        .label(d.role.span, format!("should be `{}`", role.name()));
                        if !role_word_ok {
                            diag = diag.help(format!(
                                "write `{} {} : {}`",
                                role.name(),
                                d.name.name,
                                kind.name
                            ));
                        }
                        self.error(diag);
                    }
                    role
                }
                Err(e) => {
                    self.error(e);
                    self.poison(format!("device:{}", d.name.name));
                    match Role::from_name(&d.role.name) {
                        Some(r) => r,
                        None => continue,
                    }
                }
            };
            names.insert(d.name.name.clone(), (kept.len(), role));
            kept.push((d, role));
        }
        for (d, role) in kept {
            let device = self.device(d, role, &names);
            self.devices.push(device);
        }
    }

    fn device(
        &mut self,
        d: &ast::Device,
        role: Role,
        names: &BTreeMap<String, (DeviceId, Role)>,
    ) -> Device {
        let mut device = Device {
            name: d.name.name.clone(),
            role,
            kind: d.kind.dotted(),
            properties: BTreeMap::new(),
            settings: Vec::new(),
            span: d.span,
        };
        let Ok(kind) = self.find_kind(&d.kind).cloned() else {
            return device;
        };
        device.kind = kind.name.clone();
        let mut errors = Vec::new();
        let mut given: BTreeMap<&str, Span> = BTreeMap::new();
        // Properties a misspelled one was probably meant to be: not reported again as missing.
        let mut suggested: Vec<String> = Vec::new();
        for p in d.props.iter().flat_map(|p| p.entries.iter()) {
            if let Some(first) = given.insert(&p.name.name, p.name.span) {
                errors.push(
                    Diagnostic::error(
                        code::DUPLICATE_PROPERTY,
                        format!("property `{}` is given twice", p.name.name),
                    )
                    .label(p.name.span, "given again here")
                    .label(first, "first given here"),
                );
                continue;
            }
            let Some(def) = kind.props.iter().find(|x| x.name == p.name.name) else {
                let known: Vec<&str> = kind.props.iter().map(|x| x.name.as_str()).collect();
                let diag = Diagnostic::error(
                    code::UNKNOWN_PROPERTY,
                    format!("a `{}` has no property `{}`", kind.name, p.name.name),
                )
                .label(p.name.span, "unknown property");
                errors.push(match closest(&p.name.name, known.iter().copied()) {
                    Some(s) => {
                        suggested.push(s.to_owned());
                        diag.did_you_mean(p.name.span, s)
                    }
                    None if known.is_empty() => {
                        diag.help(format!("a `{}` has no properties", kind.name))
                    }
                    None => diag.help(format!("its properties are: {}", known.join(", "))),
                });
                continue;
            };
            match self.prop_value(def.ty, &p.value, names) {
                Ok(v) => {
                    if let Err(e) = checked_property(&d.name.name, def, &v, p.value.span()) {
                        errors.push(e);
                    }
                    device.properties.insert(def.name.clone(), v);
                }
                Err(e) => errors.push(e),
            }
        }
        let mut missing = Vec::new();
        for def in &kind.props {
            if device.properties.contains_key(&def.name)
                || given.contains_key(def.name.as_str())
                || suggested.contains(&def.name)
            {
                continue;
            }
            match &def.default {
                None => missing.push(def),
                Some(ast::PropValue::Expr(e)) if matches!(&e.kind, ExprKind::Path(p) if p.dotted() == "none") =>
                    {}
                Some(default) => match self.prop_value(def.ty, default, names) {
                    Ok(v) => {
                        if let Err(e) = checked_property(&d.name.name, def, &v, default.span()) {
                            errors.push(e);
                        }
                        device.properties.insert(def.name.clone(), v);
                    }
                    Err(e) => errors.push(e),
                },
            }
        }
        if !missing.is_empty() {
            let list: Vec<String> = missing
                .iter()
                .map(|m| format!("`{}` ({})", m.name, m.ty.describe()))
                .collect();
            let example = missing
                .iter()
                .map(|m| match m.ty {
                    PropType::Quantity(dim) => {
                        format!("{} {}", m.name, dim.example().unwrap_or("1"))
                    }
                    PropType::Range(dim) => {
                        let ex = dim.example().unwrap_or("1");
                        format!("{} {ex} .. {ex}", m.name)
                    }
                    _ => format!("{} …", m.name),
                })
                .collect::<Vec<_>>()
                .join(", ");
            let mut diag = Diagnostic::error(
                code::MISSING_PROPERTY,
                format!("`{}` needs {}", d.name.name, list.join(", ")),
            )
            .label(
                d.name.span,
                format!(
                    "a `{}` without {}",
                    kind.name,
                    missing
                        .iter()
                        .map(|m| format!("`{}`", m.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .help(format!(
                "add them: `{} {} : {} {{ {example} }}`",
                d.role.name, d.name.name, kind.name
            ));
            if let Some(first) = missing.first() {
                diag = diag.label(first.span, "declared here");
            }
            errors.push(diag);
        }
        // Setting limits from the device's own properties.
        for s in &kind.settings {
            let scope = DevicePropScope {
                props: &device.properties,
            };
            let typer = Typer { scope: &scope };
            let limits = match &s.limits {
                None => Some((f64::NEG_INFINITY, f64::INFINITY, None)),
                Some(ast::SettingLimits::Range(r)) => {
                    match (typer.expr(&r.lo), typer.expr(&r.hi)) {
                        (Ok(lo), Ok(hi)) => Some((
                            lo.as_point().expr.eval(&NoEnv),
                            hi.as_point().expr.eval(&NoEnv),
                            written_unit(&r.hi).or_else(|| unit_of_path(&r.hi, &device.properties)),
                        )),
                        // A missing property was reported above.
                        _ => None,
                    }
                }
                Some(ast::SettingLimits::Property(p)) => match device.properties.get(&p.name) {
                    Some(PropertyValue::Range { lo, hi, unit }) => {
                        Some((*lo, *hi, Some(unit.unit.clone())))
                    }
                    _ => None,
                },
            };
            let Some((lo, hi, unit)) = limits else {
                continue;
            };
            if lo > hi {
                self.poison(format!("setting:{}.{}", d.name.name, s.name));
                let (lo_name, hi_name) = match &s.limits {
                    Some(ast::SettingLimits::Range(r)) => (source_text(&r.lo), source_text(&r.hi)),
                    _ => ("the low limit".to_owned(), "the high limit".to_owned()),
                };
                let u = display_unit(unit.clone(), s.dimension, interp(s.dimension), hi);
                errors.push(
                    Diagnostic::error(
                        code::IMPOSSIBLE_LIMITS,
                        format!(
                            "`{}` can never be set: its {lo_name} ({}) is above its {hi_name} ({})",
                            d.name.name,
                            u.format(lo),
                            u.format(hi)
                        ),
                    )
                    .label(
                        d.span,
                        format!(
                            "{} of `{}` must lie in {} .. {}",
                            s.name,
                            d.name.name,
                            u.format(lo),
                            u.format(hi)
                        ),
                    ),
                );
                continue;
            }
            let sample = if hi.is_finite() { hi } else { 1.0 };
            device.settings.push(SettingSpec {
                name: s.name.clone(),
                drive: Drive::of(role, &s.name),
                dimension: s.dimension,
                lo,
                hi,
                unit: display_unit(unit, s.dimension, interp(s.dimension), sample),
            });
        }
        if errors.is_empty() {
            // A refill is a wait: the syringe at the refill rate, located on what sets it.
            let at = ["refill_rate", "max_rate", "syringe"]
                .iter()
                .find_map(|n| d.props.as_ref()?.get(n).map(|p| p.value.span()))
                .unwrap_or(d.span);
            if let Err(e) = super::durations::check_refill(&device, at) {
                errors.push(e);
            }
        }
        if !errors.is_empty() {
            self.poison(format!("device:{}", d.name.name));
        }
        for e in errors {
            self.error(e);
        }
        device
    }

    pub(super) fn device_index(&self) -> BTreeMap<String, DeviceId> {
        self.devices
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name.clone(), i))
            .collect()
    }

    /// Looks a device up by name, with a did-you-mean error.
    pub(super) fn find_device(
        &self,
        ident: &ast::Ident,
        wanted: Option<Role>,
    ) -> Result<DeviceId, Diagnostic> {
        match self.devices.iter().position(|d| d.name == ident.name) {
            Some(id) => {
                self.mark_used(&format!("device:{}", ident.name));
                if let (Some(role), Some(dev)) = (wanted, self.devices.get(id))
                    && dev.role != role
                {
                    return Err(Diagnostic::error(
                        code::DEVICE_ROLE,
                        format!(
                            "`{}` is a {}, but a {} is needed here",
                            ident.name,
                            dev.role.name(),
                            role.name()
                        ),
                    )
                    .at(ident.span));
                }
                Ok(id)
            }
            None => {
                let known: Vec<&str> = self
                    .devices
                    .iter()
                    .filter(|d| wanted.is_none_or(|r| d.role == r))
                    .map(|d| d.name.as_str())
                    .collect();
                let what = wanted.map_or("device".to_owned(), |r| r.name().to_owned());
                let d = Diagnostic::error(
                    code::UNKNOWN_DEVICE,
                    format!("no {what} named `{}`", ident.name),
                )
                .label(ident.span, "unknown device");
                Err(match closest(&ident.name, known.iter().copied()) {
                    Some(s) => d.did_you_mean(ident.span, s),
                    None if known.is_empty() => {
                        d.help(format!("declare a {what} in the `reactor` block"))
                    }
                    None => d.help(format!("the {what}s are: {}", known.join(", "))),
                })
            }
        }
    }

    pub(super) fn stocks(&mut self) {
        let blocks = self.items.of(|i| match i {
            Item::Stocks(b) => Some(b),
            _ => None,
        });
        let mut seen: BTreeMap<String, Span> = BTreeMap::new();
        let mut pump_stock: BTreeMap<DeviceId, Span> = BTreeMap::new();
        for s in blocks.iter().flat_map(|b| b.entries.iter()) {
            if let Some(first) = seen.insert(s.name.name.clone(), s.name.span) {
                self.error(
                    Diagnostic::error(
                        code::DUPLICATE_STOCK,
                        format!("stock `{}` is declared twice", s.name.name),
                    )
                    .label(s.name.span, "declared again here")
                    .label(first, "first declared here"),
                );
                continue;
            }
            let pump = match self.find_device(&s.pump, Some(Role::Pump)) {
                Ok(p) => p,
                Err(e) => {
                    self.error(e);
                    continue;
                }
            };
            if let Some(first) = pump_stock.insert(pump, s.span) {
                self.error(
                    Diagnostic::error(
                        code::PUMP_TWO_STOCKS,
                        format!("pump `{}` already holds another stock", s.pump.name),
                    )
                    .label(s.pump.span, "a second stock in this pump")
                    .label(first, "first stock")
                    .help("each syringe holds one stock solution"),
                );
            }
            let mut concentration = None;
            let mut properties = BTreeMap::new();
            for p in s.props.iter().flat_map(|p| p.entries.iter()) {
                match (p.name.name.as_str(), &p.value) {
                    ("concentration", ast::PropValue::Expr(e)) => {
                        match super::kinds::quantity_of(Dimension::CONCENTRATION, e) {
                            Ok((si, _)) if si >= 0.0 => concentration = Some(si),
                            Ok(_) => self.error(
                                Diagnostic::error(
                                    code::NEGATIVE,
                                    "a concentration cannot be negative",
                                )
                                .at(e.span),
                            ),
                            Err(d) => self.error(d),
                        }
                    }
                    (_, ast::PropValue::Expr(e)) => {
                        let value = match &e.kind {
                            ExprKind::String(t) => Some(PropertyValue::Text(t.clone())),
                            ExprKind::Path(p) => Some(PropertyValue::Text(p.dotted())),
                            ExprKind::Bool(b) => Some(PropertyValue::Bool(*b)),
                            _ => match super::kinds::constant(e) {
                                Ok(t) => {
                                    let t = t.as_point();
                                    let si = t.expr.eval(&NoEnv);
                                    Some(PropertyValue::Quantity {
                                        si,
                                        unit: display_unit(
                                            written_unit(e),
                                            t.ty.dim,
                                            interp(t.ty.dim),
                                            si,
                                        ),
                                    })
                                }
                                Err(d) => {
                                    self.error(d);
                                    None
                                }
                            },
                        };
                        if let Some(v) = value {
                            properties.insert(p.name.name.clone(), v);
                        }
                    }
                    _ => self.error(
                        Diagnostic::error(
                            code::PROPERTY_TYPE,
                            "a stock property is a single value",
                        )
                        .at(p.value.span()),
                    ),
                }
            }
            self.stocks.push(Stock {
                name: s.name.name.clone(),
                description: s.description.as_ref().map(|d| d.value.clone()),
                pump,
                concentration,
                properties,
                span: s.span,
            });
        }
        let unstocked: Vec<(String, Span)> = self
            .devices
            .iter()
            .enumerate()
            .filter(|(i, d)| d.role == Role::Pump && !pump_stock.contains_key(i))
            .map(|(_, d)| (d.name.clone(), d.span))
            .collect();
        if !blocks.is_empty() {
            for (name, span) in unstocked {
                self.error(
                    Diagnostic::warning(
                        code::PUMP_WITHOUT_STOCK,
                        format!("pump `{name}` has no stock"),
                    )
                    .label(span, "what does this pump deliver?")
                    .help(format!(
                        "declare it in `stocks`, e.g. `solvent \"toluene\" in {name}`"
                    )),
                );
            }
        }
    }

    /// Connections, and the checks that make the reactor a sound flow network.
    pub(super) fn topology(&mut self) {
        let index = self.device_index();
        let mut edges: BTreeSet<(DeviceId, DeviceId)> = BTreeSet::new();
        // Where each edge is first written: the port it leads to.
        let mut edge_at: BTreeMap<(DeviceId, DeviceId), Span> = BTreeMap::new();
        let mut connected: BTreeSet<DeviceId> = BTreeSet::new();
        let mut errors = Vec::new();
        let mut any_connection = false;
        for (_, item) in &self.items.list {
            let Item::Reactor(block) = item else { continue };
            for e in &block.entries {
                let ReactorEntry::Connection(c) = e else {
                    continue;
                };
                any_connection = true;
                let mut stages: Vec<Vec<(DeviceId, Span)>> = Vec::new();
                for stage in &c.stages {
                    let mut ids: Vec<(DeviceId, Span)> = Vec::new();
                    for port in stage {
                        match index.get(&port.device.name) {
                            Some(&id) => {
                                self.mark_used(&format!("device:{}", port.device.name));
                                if let Some(dev) = self.devices.get(id)
                                    && !dev.role.in_flow_path()
                                {
                                    let how = match dev.role {
                                        Role::Heater => format!(
                                            "attach it to a coil with `heater {}`",
                                            dev.name
                                        ),
                                        _ => format!(
                                            "attach it to a flow cell with `spectrometer {}`",
                                            dev.name
                                        ),
                                    };
                                    errors.push(
                                        Diagnostic::error(
                                            code::NOT_IN_FLOW_PATH,
                                            format!(
                                                "`{}` is a {}: liquid does not flow through it",
                                                dev.name,
                                                dev.role.name()
                                            ),
                                        )
                                        .label(port.span, "cannot be connected")
                                        .help(how),
                                    );
                                    continue;
                                }
                                ids.push((id, port.span));
                            }
                            None => {
                                if let Err(d) = self.find_device(&port.device, None) {
                                    errors.push(d);
                                }
                            }
                        }
                    }
                    stages.push(ids);
                }
                for pair in stages.windows(2) {
                    if let [from, to] = pair {
                        for &(a, _) in from {
                            for &(b, at) in to {
                                if a == b {
                                    errors.push(
                                        Diagnostic::error(
                                            code::SELF_LOOP,
                                            "a device cannot feed itself",
                                        )
                                        .at(c.span),
                                    );
                                    continue;
                                }
                                edges.insert((a, b));
                                edge_at.entry((a, b)).or_insert(at);
                                connected.insert(a);
                                connected.insert(b);
                            }
                        }
                    }
                }
            }
        }
        let port_errors = !errors.is_empty();
        for e in errors {
            self.error(e);
        }
        if self.devices.is_empty() && !any_connection {
            return;
        }
        if port_errors {
            // With a connection that could not be read, structural checks would only report
            // its consequences.
            self.poison("topology");
            return;
        }
        let n = self.devices.len();
        let out_edges = |d: DeviceId| successors(&edges, d);
        let mut diags = Vec::new();
        for (id, dev) in self.devices.iter().enumerate() {
            if !dev.role.in_flow_path() {
                continue;
            }
            if !connected.contains(&id) {
                diags.push(
                    Diagnostic::error(
                        code::DANGLING_DEVICE,
                        format!("`{}` is not connected", dev.name),
                    )
                    .label(dev.span, "declared but not in any connection")
                    .help(format!(
                        "connect it in the `reactor` block, e.g. `… -> {} -> …`, or remove it",
                        dev.name
                    )),
                );
                continue;
            }
            let has_in = edges.iter().any(|(_, b)| *b == id);
            let has_out = edges.iter().any(|(a, _)| *a == id);
            match dev.role {
                Role::Pump if has_in => diags.push(
                    Diagnostic::error(code::PUMP_FED, format!("pump `{}` receives flow from another device", dev.name))
                        .label(dev.span, "pumps are where flow starts")
                        .help("connections go from pumps toward outlets: `pump -> mixer -> coil -> cell -> outlet`"),
                ),
                Role::Outlet if has_out => diags.push(
                    Diagnostic::error(code::OUTLET_FEEDS, format!("outlet `{}` feeds another device", dev.name))
                        .label(dev.span, "outlets are where flow ends"),
                ),
                Role::Pump | Role::Outlet => {}
                _ if !has_in => diags.push(
                    Diagnostic::error(code::UNFED_DEVICE, format!("nothing flows into `{}`", dev.name))
                        .label(dev.span, "no pump upstream")
                        .help("connect a pump (through mixers) to it"),
                ),
                _ if !has_out => diags.push(
                    Diagnostic::error(code::DEAD_END, format!("the flow stops at `{}`", dev.name))
                        .label(dev.span, "no outlet downstream")
                        .help(format!("connect it to an outlet: `{} -> waste`, with `outlet waste : collector`", dev.name)),
                ),
                _ => {}
            }
        }
        // Cycles: a depth-first search with colours.
        let mut colour = vec![0_u8; n];
        let mut cycle: Option<Vec<DeviceId>> = None;
        for start in 0..n {
            if cycle.is_some() {
                break;
            }
            if colour.get(start) != Some(&0) {
                continue;
            }
            let mut stack: Vec<(DeviceId, Vec<DeviceId>)> =
                vec![(start, out_edges(start).collect())];
            if let Some(c) = colour.get_mut(start) {
                *c = 1;
            }
            let mut trail = vec![start];
            while let Some((node, next)) = stack.last_mut() {
                if let Some(succ) = next.pop() {
                    match colour.get(succ) {
                        Some(0) => {
                            if let Some(c) = colour.get_mut(succ) {
                                *c = 1;
                            }
                            trail.push(succ);
                            let succs = out_edges(succ).collect();
                            stack.push((succ, succs));
                        }
                        Some(1) => {
                            let from = trail.iter().position(|&t| t == succ).unwrap_or(0);
                            let mut c: Vec<DeviceId> =
                                trail.get(from..).map(<[_]>::to_vec).unwrap_or_default();
                            c.push(succ);
                            cycle = Some(c);
                            break;
                        }
                        _ => {}
                    }
                } else {
                    if let Some(c) = colour.get_mut(*node) {
                        *c = 2;
                    }
                    trail.pop();
                    stack.pop();
                }
            }
        }
        // A stream has one way: a device feeds one device. A valve is the exception, as it
        // switches between its outlets rather than dividing the flow. Parallel reactors are
        // whole copies of the line (`lines a, b`, `validate::lines`): a flow divided between
        // coils would give the lines shared flow rates, which a batch of suggestions cannot
        // respect, and the plan could not say how the flow divides.
        for (id, dev) in self.devices.iter().enumerate() {
            if dev.role == Role::Valve {
                continue;
            }
            // An edge back into a pump or around a cycle is reported as that.
            let ways: Vec<DeviceId> = out_edges(id)
                .filter(|w| self.devices.get(*w).is_some_and(|d| d.role != Role::Pump))
                .collect();
            if cycle.as_ref().is_some_and(|c| c.contains(&id)) {
                continue;
            }
            if ways.len() < 2 {
                continue;
            }
            let names: Vec<String> = ways
                .iter()
                .filter_map(|&w| self.devices.get(w))
                .map(|d| format!("`{}`", d.name))
                .collect();
            let mut d = Diagnostic::error(
                code::SPLIT_FLOW,
                format!(
                    "the flow splits after `{}` into {}",
                    dev.name,
                    names.join(" and ")
                ),
            );
            for w in &ways {
                if let Some(at) = edge_at.get(&(id, *w)) {
                    d = d.label(*at, format!("`{}` feeds this", dev.name));
                }
            }
            diags.push(d.help(format!(
                "connect `{}` to one device (a switching valve may choose between outlets); to run experiments side by side, declare one line and name its copies with `lines a, b`",
                dev.name
            )));
        }
        // A valve switches the whole stream to one of its ways, so its ways must stay apart: two
        // that join again would make it choose between parallel reactors, and neither the plan
        // (which counts one way's volume) nor the simulated lab (one line) knows which one the
        // liquid took. Ways that meet only at an outlet hold nothing that is measured.
        let mut rejoined = false;
        for (id, dev) in self.devices.iter().enumerate() {
            if dev.role != Role::Valve || cycle.as_ref().is_some_and(|c| c.contains(&id)) {
                continue;
            }
            let ways: Vec<DeviceId> = out_edges(id)
                .filter(|w| self.devices.get(*w).is_some_and(|d| d.role != Role::Pump))
                .collect();
            let reach: Vec<(DeviceId, Vec<DeviceId>)> =
                ways.iter().map(|&w| (w, reachable(w, &edges))).collect();
            let rejoin = reach.iter().enumerate().find_map(|(i, (a, ra))| {
                reach.iter().skip(i + 1).find_map(|(b, rb)| {
                    // The first device of `a`'s way, in flow order, that `b`'s way reaches too.
                    let at = ra.iter().copied().find(|d| {
                        rb.contains(d)
                            && self.devices.get(*d).is_some_and(|x| x.role != Role::Outlet)
                    })?;
                    Some((*a, *b, at))
                })
            });
            let Some((a, b, at)) = rejoin else { continue };
            let name = |d: DeviceId| self.devices.get(d).map_or("?", |x| x.name.as_str());
            let mut d = Diagnostic::error(
                code::VALVE_REJOIN,
                format!(
                    "the ways out of valve `{}` through `{}` and `{}` join again at `{}`",
                    dev.name,
                    name(a),
                    name(b),
                    name(at)
                ),
            );
            for w in [a, b] {
                if let Some(span) = edge_at.get(&(id, w)) {
                    d = d.label(*span, format!("one way out of `{}`", dev.name));
                }
            }
            // Where the ways meet: the connections into the joining device.
            for (&(from, to), span) in &edge_at {
                if to == at && from != id {
                    d = d.label(*span, format!("joins again at `{}`", name(at)));
                }
            }
            diags.push(d.help(
                "a valve may switch only between ways that stay apart (e.g. to waste and to a collector); to run experiments side by side, declare one line and name its copies with `lines a, b`",
            ));
            rejoined = true;
        }
        if rejoined {
            // The reactor volume to the cell has no meaning either: reported as this, not again.
            self.poison("topology");
        }
        if let Some(c) = cycle {
            let names: Vec<&str> = c
                .iter()
                .filter_map(|&i| self.devices.get(i))
                .map(|d| d.name.as_str())
                .collect();
            let span = c
                .first()
                .and_then(|&i| self.devices.get(i))
                .map_or(Span::synthetic(crate::source::Synthetic::Default), |d| {
                    d.span
                });
            diags.push(
                Diagnostic::error(code::CYCLE, format!("the flow path has a cycle: {}", names.join(" -> ")))
                    .label(span, "part of the cycle")
                    .help("a flow reactor is a path from pumps to outlets; remove the connection that loops back"),
            );
        }
        // Every pump must reach a measuring cell; record each pump's path.
        let cells: BTreeSet<DeviceId> = self
            .devices
            .iter()
            .enumerate()
            .filter(|(_, d)| d.role == Role::Cell)
            .map(|(i, _)| i)
            .collect();
        for (id, dev) in self.devices.iter().enumerate() {
            if dev.role != Role::Pump || !connected.contains(&id) {
                continue;
            }
            let reach = reachable(id, &edges);
            if !reach.iter().any(|d| cells.contains(d)) {
                diags.push(
                    Diagnostic::error(code::UNMEASURED_PUMP, format!("pump `{}` reaches no measuring cell", dev.name))
                        .label(dev.span, "its flow is never measured")
                        .help("connect it through the reactor to a flow cell (`cell s1 : flow_cell { spectrometer spec1 }`)"),
                );
            }
            self.topology.paths.push(FlowPath {
                pump: id,
                devices: reach,
            });
        }
        for e in diags {
            self.error(e);
        }
        self.topology.edges = edges.into_iter().collect();
        self.edge_at = edge_at;
        // Heaters and spectrometers must be attached to something.
        let mut attached: BTreeSet<DeviceId> = BTreeSet::new();
        for d in &self.devices {
            for v in d.properties.values() {
                if let PropertyValue::Device(x) = v {
                    attached.insert(*x);
                }
            }
        }
        let mut warnings = Vec::new();
        let any_device_error = self
            .poisoned
            .borrow()
            .iter()
            .any(|k| k.starts_with("device:"));
        for (id, d) in self.devices.iter().enumerate() {
            if !d.role.in_flow_path() && !attached.contains(&id) && !any_device_error {
                let how = if d.role == Role::Heater {
                    "add `heater NAME` to a coil's properties"
                } else if d.role == Role::Light {
                    "name it for a measurement in a flow cell's properties: `absorbance NAME` or `photoluminescence NAME`"
                } else {
                    "add `spectrometer NAME` to a flow cell's properties"
                };
                warnings.push(
                    Diagnostic::warning(
                        code::UNATTACHED,
                        format!("{} `{}` is not attached to anything", d.role.name(), d.name),
                    )
                    .label(d.span, "unattached")
                    .help(how.replace("NAME", &d.name)),
                );
            }
        }
        for w in warnings {
            self.error(w);
        }
    }

    /// Each pump's way to `cell` ([`Way`]): the devices that hold liquid, each with the pumps
    /// whose ways pass through it. A pump that does not reach the cell has none.
    pub(super) fn ways_to(&self, cell: DeviceId) -> Vec<Way> {
        let edges: BTreeSet<(DeviceId, DeviceId)> = self.topology.edges.iter().copied().collect();
        let paths: Vec<(DeviceId, Vec<DeviceId>)> = self
            .topology
            .paths
            .iter()
            .filter_map(|p| Some((p.pump, shortest_path(p.pump, cell, &edges)?)))
            .collect();
        paths
            .iter()
            .map(|(pump, path)| Way {
                pump: *pump,
                segments: path
                    .iter()
                    .filter_map(|d| {
                        let dev = self.devices.get(*d)?;
                        let volume = dev.volume();
                        (dev.role != Role::Pump && volume > 0.0).then(|| Segment {
                            device: *d,
                            volume,
                            pumps: paths
                                .iter()
                                .filter(|(_, other)| other.contains(d))
                                .map(|(p, _)| *p)
                                .collect(),
                        })
                    })
                    .collect(),
            })
            .collect()
    }

    /// The volume from where all pumps' streams have joined to `cell`, inclusive (m³).
    pub(super) fn reactor_volume_to(&self, cell: DeviceId) -> Result<f64, String> {
        let edges: BTreeSet<(DeviceId, DeviceId)> = self.topology.edges.iter().copied().collect();
        let feeding: Vec<&FlowPath> = self
            .topology
            .paths
            .iter()
            .filter(|p| p.devices.contains(&cell))
            .collect();
        let Some(first) = feeding.first() else {
            return Err("no pump reaches it".to_owned());
        };
        // The merge point: the first device on the first pump's way that every feeding pump reaches.
        let merge = first
            .devices
            .iter()
            .copied()
            .find(|d| {
                feeding.iter().all(|p| p.devices.contains(d))
                    && (feeding.len() > 1 || *d != first.pump)
            })
            .unwrap_or(first.pump);
        let path = shortest_path(merge, cell, &edges)
            .ok_or_else(|| "the cell is not downstream of the mixing point".to_owned())?;
        let mut total = 0.0;
        for d in path {
            let dev = self.devices.get(d).ok_or("device")?;
            if dev.role == Role::Pump {
                continue;
            }
            match dev.quantity("volume") {
                Some(v) => total += v,
                None => return Err(format!("the volume of `{}` is not known", dev.name)),
            }
        }
        Ok(total)
    }
}

/// The devices an edge leads to from `from`: the edges are ordered by their start, so these
/// are one range of the set (not a scan of every edge, which made checking a reactor of a
/// thousand pumps quadratic).
fn successors(
    edges: &BTreeSet<(DeviceId, DeviceId)>,
    from: DeviceId,
) -> impl Iterator<Item = DeviceId> + '_ {
    edges
        .range((from, 0)..=(from, DeviceId::MAX))
        .map(|(_, b)| *b)
}

fn reachable(start: DeviceId, edges: &BTreeSet<(DeviceId, DeviceId)>) -> Vec<DeviceId> {
    let mut seen = vec![start];
    let mut queue = VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        for b in successors(edges, n) {
            if !seen.contains(&b) {
                seen.push(b);
                queue.push_back(b);
            }
        }
    }
    seen
}

fn shortest_path(
    from: DeviceId,
    to: DeviceId,
    edges: &BTreeSet<(DeviceId, DeviceId)>,
) -> Option<Vec<DeviceId>> {
    let mut prev: BTreeMap<DeviceId, DeviceId> = BTreeMap::new();
    let mut queue = VecDeque::from([from]);
    let mut seen = BTreeSet::from([from]);
    while let Some(n) = queue.pop_front() {
        if n == to {
            let mut path = vec![to];
            let mut cur = to;
            while let Some(&p) = prev.get(&cur) {
                path.push(p);
                cur = p;
            }
            path.reverse();
            return Some(path);
        }
        for b in successors(edges, n) {
            if seen.insert(b) {
                prev.insert(b, n);
                queue.push_back(b);
            }
        }
    }
    None
}

fn interp(dim: Dimension) -> Interpretation {
    if dim == Dimension::TEMPERATURE {
        Interpretation::Absolute
    } else {
        Interpretation::Difference
    }
}

/// The unit of a property named by a path expression (`max_rate` → the unit it was written in).
fn unit_of_path(e: &ast::Expr, props: &BTreeMap<String, PropertyValue>) -> Option<qdx_units::Unit> {
    match &e.kind {
        ExprKind::Path(p) => match props.get(&p.dotted())? {
            PropertyValue::Quantity { unit, .. } | PropertyValue::Range { unit, .. } => {
                Some(unit.unit.clone())
            }
            _ => None,
        },
        _ => None,
    }
}

fn source_text(e: &ast::Expr) -> String {
    match &e.kind {
        ExprKind::Path(p) => format!("`{}`", p.dotted()),
        _ => "limit".to_owned(),
    }
}

/// A property checked against what it can physically be: one the runtime turns into a wait
/// against its bounds (see `durations`); one the lab reads that only means something above
/// zero (a cell's `path_length`, a spectrometer's `excitation` and wavelength `range`, a pump's
/// `syringe`) above zero. The simulated lab refuses such values when a run starts, and a real
/// instrument has none.
fn checked_property(
    device: &str,
    def: &super::kinds::PropDef,
    value: &PropertyValue,
    span: Span,
) -> Result<(), Diagnostic> {
    let not_positive = |what: &str, why: &str| {
        Diagnostic::error(
            code::NOT_POSITIVE,
            format!("`{}` of `{device}` is not above zero: {what}", def.name),
        )
        .label(span, "not above zero")
        .help(why.to_owned())
    };
    match (def.ty, value) {
        (PropType::Quantity(dim), PropertyValue::Quantity { si, .. }) => {
            super::durations::check_property(device, &def.name, dim, *si, span)?;
            let what = match (def.name.as_str(), dim) {
                ("path_length", Dimension::LENGTH) => Some((
                    "light crosses the cell over some length",
                    "write the cell's path length, e.g. `10 mm`",
                )),
                ("excitation", Dimension::LENGTH) => Some((
                    "a wavelength is above zero",
                    "write the wavelength of the excitation source, e.g. `365 nm`",
                )),
                ("syringe", Dimension::VOLUME) => Some((
                    "a syringe holds some volume",
                    "write the syringe's volume, e.g. `5 mL`",
                )),
                _ => None,
            };
            match what {
                Some((what, why)) if *si <= 0.0 => Err(not_positive(what, why)),
                _ => Ok(()),
            }
        }
        (PropType::Range(dim), PropertyValue::Range { lo, hi, .. })
            if def.name == "range" && dim == Dimension::LENGTH && !(*lo > 0.0 && lo < hi) =>
        {
            Err(if *lo <= 0.0 {
                not_positive(
                    "a wavelength is above zero",
                    "start the range above zero, e.g. `350 nm .. 800 nm`",
                )
            } else {
                Diagnostic::error(
                    code::EMPTY_RANGE,
                    format!("`{}` of `{device}` holds a single value", def.name),
                )
                .label(span, "its ends are equal")
                .help("a spectrometer reads a band of wavelengths: give its low and high ends, e.g. `350 nm .. 800 nm`")
            })
        }
        _ => Ok(()),
    }
}
