//! Stage 3, bind: a validated campaign and the lab it runs on. Either a lab binding file —
//! which real instrument plays each device of a campaign, checked against the campaign before
//! anything is connected ([`LabBinding`]) — or the simulated twin of the campaign's reactor
//! ([`sim::sim_config`]).
//!
//! ```text
//! qdx 1
//! lab "our-flow-rig-1" {
//!   bind p_seed = new_era.ne1000 { port "/dev/ttyUSB0", address 0, syringe_diameter 14.57 mm }
//!   bind h1 = eurotherm.e3200 { port "/dev/ttyUSB1", modbus_address 1 }
//!   bind v1 = vici.multiposition { port "/dev/ttyUSB3", positions 6, names { sample 2, waste 1 } }
//! }
//! ```
//!
//! Two passes. [`parse_lab`] reads the file alone: one `lab` block, known driver kinds
//! (`qdx_lab::registry`), settings typed and converted to SI with the campaign language's unit
//! machinery, then [`registry::check_settings`] and [`registry::capability`], and serial ports
//! shared only by daisy chains. [`bind`] then checks the bindings against a validated
//! [`Campaign`] and builds the [`LabBinding`] the runtime connects.
//!
//! Invariants of a [`LabBinding`] (what the runtime relies on):
//! - every pump, heater, spectrometer and light of the campaign, and every valve it turns
//!   (the measurement's route), is bound exactly once, to a driver kind that serves its role;
//!   nothing else is bound; a light on a spectrometer's lamp output has that spectrometer bound
//!   in the same lab, with `lamp "light"`;
//! - every position the campaign gives a bound valve exists on the instrument, and when the
//!   lab names a valve's positions, each position the route turns it to has a name (the
//!   plan's commands and the journal carry it, through [`LabBinding::apply`]);
//! - every binding's settings passed `check_settings` (defaults filled in, SI units);
//! - every rate the planner can send to a pump (the proven range of its derived rate, its
//!   refill rate) is one the driver can run with that syringe, or zero (stopped); every
//!   setpoint the planner can send to a heater, and its safe setpoint, lies within the
//!   driver's stated range; a spectrometer's light output serves the campaign's channels
//!   (without declared lights), or is a light the plan switches (with them);
//! - each pump's and heater's envelope is the campaign's device limits ∩ the driver's
//!   capability ∩ the safety limits, and holds the heater's safe setpoint. The runtime checks
//!   every command against it just before the command is written.

pub mod sim;

use std::collections::BTreeMap;
use std::path::Path;

use qdx_lab::capability::TemperatureRange;
use qdx_lab::guard::Envelope;
use qdx_lab::registry::{
    self, Capability, DeviceKind, DriverKind, RegistryError, SettingType, SettingValue, Settings,
};
use qdx_units::Dimension;

use crate::diagnostic::codes::{self, lab as code};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::load::Loaded;
use crate::names::closest;
use crate::source::{SourceMap, Span};
use crate::syntax::ast::{self, ExprKind, Item};
use crate::validate::campaign::*;
use crate::validate::kinds::{constant, quantity_of};
use crate::world::World;

/// The lab file as read, for the bundle.
#[derive(Debug, Clone)]
pub struct LabFile {
    /// The file name (`our-rig.qdx`).
    pub name: String,
    pub text: String,
}

/// One `bind` of a lab file, checked on its own.
#[derive(Debug, Clone)]
pub struct Bind {
    /// The campaign device it names.
    pub device: String,
    pub device_span: Span,
    /// The driver kind (`new_era.ne1000`).
    pub driver: String,
    pub driver_span: Span,
    pub kind: DeviceKind,
    /// Checked settings, defaults filled in, SI units.
    pub settings: Settings,
    pub capability: Capability,
    /// Where each setting was written.
    pub setting_spans: BTreeMap<String, Span>,
    /// Where each entry of `names` was written.
    pub name_spans: BTreeMap<String, Span>,
    pub span: Span,
}

impl Bind {
    /// The serial port it uses.
    pub fn port(&self) -> &str {
        match self.settings.get("port") {
            Some(SettingValue::String(p)) => p,
            _ => "",
        }
    }

    fn text(&self, name: &str) -> Option<&str> {
        match self.settings.get(name) {
            Some(SettingValue::String(s)) => Some(s),
            _ => None,
        }
    }

    fn span_of(&self, setting: &str) -> Span {
        self.setting_spans
            .get(setting)
            .copied()
            .unwrap_or(self.driver_span)
    }
}

/// A lab file checked on its own (what `qdx lab probe` needs without a campaign).
#[derive(Debug, Clone)]
pub struct ParsedLab {
    pub name: String,
    /// The binds that passed their own checks.
    pub binds: Vec<Bind>,
    /// Every device name a `bind` names, checked or not (an unbound-device error would only
    /// repeat a bind's own error).
    pub written: Vec<String>,
    pub file: LabFile,
    pub span: Span,
    pub name_span: Span,
}

/// What the runtime may tell a pump: the guard's envelope (the campaign's limits of the pump
/// ∩ what the driver and syringe can do, both directions) and, for infusion only, the safety
/// limits on flow through the reactor (a refill withdraws from the reservoir, not through it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PumpLimits {
    pub envelope: Envelope,
    /// Largest infusion rate, m³/s.
    pub infuse_max: f64,
}

/// What the runtime may tell a heater, and where it goes when the lab is made safe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeaterLimits {
    pub envelope: Envelope,
    /// K; inside the envelope.
    pub safe_setpoint: f64,
}

/// What the runtime may tell a valve, and what the lab calls its positions.
#[derive(Debug, Clone, PartialEq)]
pub struct ValveLimits {
    /// Positions 1 ..= this exist on the instrument.
    pub positions: u16,
    /// The lab's names, by position.
    pub names: BTreeMap<u16, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Limits {
    Pump(PumpLimits),
    Heater(HeaterLimits),
    Spectrometer,
    Valve(ValveLimits),
    Light,
}

/// One campaign device and the instrument that plays it.
#[derive(Debug, Clone)]
pub struct BoundDevice {
    pub device: DeviceId,
    pub name: String,
    pub driver: String,
    pub kind: DeviceKind,
    pub settings: Settings,
    pub capability: Capability,
    pub limits: Limits,
}

/// A lab file validated against a campaign.
#[derive(Debug, Clone)]
pub struct LabBinding {
    pub name: String,
    pub file: LabFile,
    /// Sorted by device id.
    pub devices: Vec<BoundDevice>,
}

impl LabBinding {
    pub fn device(&self, id: DeviceId) -> Option<&BoundDevice> {
        self.devices.iter().find(|d| d.device == id)
    }

    /// The campaign as this lab runs it: each pump's smallest rate raised to the smallest its
    /// driver can run, so the planner rounds rates below it to zero or to it (and notes it),
    /// exactly as it does for the campaign's own `min_rate`; the route's valve positions
    /// carry the names the lab gives them.
    pub fn apply(&self, c: &Campaign) -> Campaign {
        let mut out = c.clone();
        if let Some(route) = out.measurement.as_mut().and_then(|m| m.route.as_mut())
            && let Some(Limits::Valve(v)) = self.device(route.valve).map(|b| &b.limits)
        {
            route.names = v.names.clone();
        }
        for b in &self.devices {
            if let Limits::Pump(p) = &b.limits
                && let Some(dev) = out.devices.get_mut(b.device)
                && let Some(rate) = dev
                    .settings
                    .iter_mut()
                    .find(|s| s.drive == Some(Drive::PumpRate))
            {
                rate.lo = rate.lo.max(p.envelope.min_rate);
            }
        }
        out
    }
}

/// A lab file checked (against a campaign when one is given).
#[derive(Debug)]
pub struct CheckedLab {
    pub parsed: Option<ParsedLab>,
    pub binding: Option<LabBinding>,
    pub diagnostics: Diagnostics,
    /// The campaign's sources followed by the lab file, so diagnostics can point into both.
    pub sources: SourceMap,
}

/// Whether a parsed file is a lab binding file rather than a campaign: it has a `lab` block
/// and no `campaign` block (`qdx check` checks each file as what it is).
pub fn is_lab_file(ast: &ast::Ast) -> bool {
    ast.items.iter().any(|i| matches!(i, Item::Lab(_)))
        && !ast.items.iter().any(|i| matches!(i, Item::Campaign(_)))
}

/// Loads `path` after the campaign's `sources` and checks it, against `campaign` if given.
pub fn check_lab(
    world: &dyn World,
    path: &Path,
    display: &str,
    sources: SourceMap,
    campaign: Option<&Campaign>,
) -> CheckedLab {
    let loaded = crate::load::load_after(world, path, display, sources);
    let (parsed, mut diagnostics) = parse_lab(&loaded);
    let mut binding = None;
    if let (Some(p), Some(c)) = (&parsed, campaign) {
        let (b, d) = bind(p, c);
        diagnostics.extend(d);
        if !diagnostics.has_errors() {
            binding = b;
        }
    }
    diagnostics.sort();
    CheckedLab {
        parsed: if diagnostics.has_errors() {
            None
        } else {
            parsed
        },
        binding,
        diagnostics,
        sources: loaded.sources,
    }
}

fn kind_names() -> Vec<&'static str> {
    registry::kinds().iter().map(|k| k.name).collect()
}

fn drivers_for(kind: DeviceKind) -> String {
    registry::kinds()
        .iter()
        .filter(|k| k.device == kind)
        .map(|k| format!("`{}`", k.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn device_kind_name(kind: DeviceKind) -> &'static str {
    match kind {
        DeviceKind::Pump => "pump",
        DeviceKind::Heater => "heater",
        DeviceKind::Spectrometer => "spectrometer",
        DeviceKind::Valve => "valve",
        DeviceKind::Light => "light",
    }
}

/// Reads the lab file on its own: its block, driver kinds, settings, ports.
pub fn parse_lab(loaded: &Loaded) -> (Option<ParsedLab>, Diagnostics) {
    let mut diags = loaded.diagnostics.clone();
    let Some(ast) = loaded.entry_ast() else {
        return (None, diags);
    };
    let file = loaded
        .entry
        .and_then(|id| loaded.sources.get(id))
        .map(|f| LabFile {
            name: f.name.rsplit('/').next().unwrap_or(&f.name).to_owned(),
            text: f.text.clone(),
        })
        .unwrap_or(LabFile {
            name: "lab.qdx".into(),
            text: String::new(),
        });
    let mut labs = Vec::new();
    for item in &ast.items {
        match item {
            Item::Lab(l) => labs.push(l),
            other => diags.push(
                Diagnostic::error(
                    code::NOT_A_LAB_ITEM,
                    format!("a lab file holds only its `lab` block, not `{}`", other.keyword()),
                )
                .label(other.span(), "not part of a lab binding")
                .help("the campaign and its libraries belong in the campaign file; the lab file only says which instrument plays each device"),
            ),
        }
    }
    let Some(lab) = labs.first().copied() else {
        let start = ast.header.as_ref().map_or(ast.span, |h| h.span);
        diags.push(
            Diagnostic::error(code::NO_LAB_BLOCK, "this file has no `lab` block")
                .label(start, "a lab file needs `lab \"name\" { bind … }`")
                .help("write `lab \"our-rig\" { bind p1 = new_era.ne1000 { port \"/dev/ttyUSB0\", syringe_diameter 14.57 mm } }`"),
        );
        return (None, diags);
    };
    for extra in labs.iter().skip(1) {
        diags.push(
            Diagnostic::error(
                code::DUPLICATE_BLOCK,
                "a lab file has one `lab` block, this is a second one",
            )
            .label(extra.span, "second block")
            .label(lab.span, "first block"),
        );
    }
    if lab.name.value.trim().is_empty() {
        diags.push(
            Diagnostic::error(code::EMPTY_NAME, "the lab needs a name")
                .label(lab.name.span, "empty name"),
        );
    }
    for s in &lab.simulate {
        diags.push(
            Diagnostic::error(
                code::SIMULATE_IN_LAB,
                "a hardware binding cannot also simulate",
            )
            .label(s.span, "a `simulate` block")
            .help("put the `simulate` block in the campaign (it is used when `qdx run` has no `--lab`); a lab file binds real instruments"),
        );
    }
    let mut binds: Vec<Bind> = Vec::new();
    for b in &lab.binds {
        let Some(bound) = parse_bind(b, &mut diags) else {
            continue;
        };
        if let Some(first) = binds.iter().find(|x| x.device == bound.device) {
            diags.push(
                Diagnostic::error(
                    code::BOUND_TWICE,
                    format!("`{}` is bound twice", bound.device),
                )
                .label(bound.device_span, "bound again here")
                .label(first.device_span, "first bound here")
                .help("each device of the campaign is played by exactly one instrument"),
            );
            continue;
        }
        binds.push(bound);
    }
    check_ports(&binds, &mut diags);
    let parsed = ParsedLab {
        name: lab.name.value.clone(),
        binds,
        written: lab.binds.iter().map(|b| b.device.name.clone()).collect(),
        file,
        span: lab.span,
        name_span: lab.name.span,
    };
    (Some(parsed), diags)
}

/// One `bind`: driver kind and settings.
fn parse_bind(b: &ast::Bind, diags: &mut Diagnostics) -> Option<Bind> {
    let driver = b.driver.dotted();
    let kind: DriverKind = match registry::kind(&driver) {
        Ok(k) => k,
        Err(_) => {
            let names = kind_names();
            let d = Diagnostic::error(
                code::UNKNOWN_DRIVER,
                format!("unknown driver kind `{driver}`"),
            )
            .label(b.driver.span, "no such driver");
            diags.push(match closest(&driver, names.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!("the drivers are {}", names.join(", "))),
            });
            return None;
        }
    };
    let mut settings = Settings::new();
    let mut spans = BTreeMap::new();
    let mut name_spans = BTreeMap::new();
    let mut ok = true;
    for p in b.props.iter().flat_map(|p| &p.entries) {
        let name = p.name.name.as_str();
        let Some(spec) = kind.settings.iter().find(|s| s.name == name) else {
            let known: Vec<&str> = kind.settings.iter().map(|s| s.name).collect();
            let d = Diagnostic::error(
                code::UNKNOWN_SETTING,
                format!("`{driver}` has no setting `{name}`"),
            )
            .label(p.name.span, "unknown setting");
            diags.push(match closest(name, known.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!("`{driver}` reads {}", known.join(", "))),
            });
            ok = false;
            continue;
        };
        if let ast::PropValue::Props(entries) = &p.value {
            for e in &entries.entries {
                name_spans.entry(e.name.name.clone()).or_insert(e.span);
            }
        }
        if spans.insert(name.to_owned(), p.value.span()).is_some() {
            diags.push(
                Diagnostic::error(code::SETTING_TWICE, format!("`{name}` is given twice"))
                    .label(p.span, "given again here"),
            );
            ok = false;
            continue;
        }
        match setting_value(spec.ty, &p.value) {
            Ok(v) => {
                settings.insert(name.to_owned(), v);
            }
            Err(d) => {
                diags.push(d.help(format!("`{name}`: {}", spec.doc)));
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    let checked = match registry::check_settings(&driver, &settings) {
        Ok(s) => s,
        Err(e) => {
            diags.push(registry_error(&e, b.driver.span, &spans));
            return None;
        }
    };
    let mut bind = Bind {
        device: b.device.name.clone(),
        device_span: b.device.span,
        driver: driver.clone(),
        driver_span: b.driver.span,
        kind: kind.device,
        capability: Capability::Heater { setpoint: None },
        settings: checked,
        setting_spans: spans,
        name_spans,
        span: b.span,
    };
    if !check_values(&bind, diags) {
        return None;
    }
    match registry::capability(&driver, &bind.settings) {
        Ok(c) => bind.capability = c,
        Err(e) => {
            diags.push(registry_error(&e, b.driver.span, &bind.setting_spans));
            return None;
        }
    }
    Some(bind)
}

/// A written value as the setting's type wants it (SI for quantities).
fn setting_value(ty: SettingType, value: &ast::PropValue) -> Result<SettingValue, Diagnostic> {
    let span = value.span();
    let wrong = |what: &str| {
        Diagnostic::error(
            code::SETTING_TYPE,
            format!("expected {what}, found something else"),
        )
        .at(span)
    };
    if ty == SettingType::Names {
        return names_value(value);
    }
    let ast::PropValue::Expr(e) = value else {
        return Err(wrong(type_name(ty)));
    };
    match (ty, &e.kind) {
        (SettingType::String, ExprKind::String(s)) => Ok(SettingValue::String(s.clone())),
        (SettingType::String, _) => Err(wrong("a string in double quotes")),
        (SettingType::Integer, ExprKind::Number(n))
            if n.value.fract() == 0.0 && n.value.abs() < 1e15 =>
        {
            Ok(SettingValue::Integer(n.value as i64))
        }
        (SettingType::Integer, _) => Err(wrong("a whole number")),
        (SettingType::Length, _) => Ok(SettingValue::Number(quantity_of(Dimension::LENGTH, e)?.0)),
        (SettingType::Volume, _) => Ok(SettingValue::Number(quantity_of(Dimension::VOLUME, e)?.0)),
        (SettingType::Temperature, _) => Ok(SettingValue::Number(
            quantity_of(Dimension::TEMPERATURE, e)?.0,
        )),
        (SettingType::NumberList, ExprKind::List(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let t = constant(item)?;
                if !t.ty.dim.is_dimensionless() {
                    return Err(Diagnostic::error(
                        code::SETTING_TYPE,
                        "expected a plain number, found a quantity with a unit",
                    )
                    .at(item.span));
                }
                let x = t.expr.eval(&crate::validate::kinds::NoEnv);
                if !x.is_finite() {
                    return Err(Diagnostic::error(
                        codes::validate::NOT_FINITE,
                        "this value is not a finite number",
                    )
                    .at(item.span));
                }
                out.push(x);
            }
            Ok(SettingValue::NumberList(out))
        }
        (SettingType::NumberList, _) => Err(wrong("a list of numbers, `[c0, c1, c2, c3]`")),
        (SettingType::Names, _) => Err(wrong(type_name(ty))),
        (SettingType::Device, ExprKind::Path(p)) if p.segments.len() == 1 => {
            Ok(SettingValue::String(p.dotted()))
        }
        (SettingType::Device, _) => Err(wrong("a device name, e.g. `spec1`")),
    }
}

/// `{ sample 2, waste 1 }`: a name for each whole number (a valve's named positions).
fn names_value(value: &ast::PropValue) -> Result<SettingValue, Diagnostic> {
    let ast::PropValue::Props(props) = value else {
        return Err(Diagnostic::error(
            code::SETTING_TYPE,
            "expected names of positions, found something else",
        )
        .at(value.span())
        .help("write `names { sample 2, solvent 3, waste 1 }`"));
    };
    let mut names = BTreeMap::new();
    for p in &props.entries {
        let position = match &p.value {
            ast::PropValue::Expr(e) => match &e.kind {
                ExprKind::Number(n)
                    if n.value.fract() == 0.0 && (1.0..=99.0).contains(&n.value) =>
                {
                    Some(n.value as i64)
                }
                _ => None,
            },
            _ => None,
        };
        let Some(position) = position else {
            return Err(Diagnostic::error(
                code::SETTING_TYPE,
                format!(
                    "`{}` names no position: expected a whole number from 1",
                    p.name.name
                ),
            )
            .at(p.value.span())
            .help("write the valve position this name stands for, e.g. `sample 2`"));
        };
        if names.insert(p.name.name.clone(), position).is_some() {
            return Err(Diagnostic::error(
                code::SETTING_TWICE,
                format!("`{}` is named twice", p.name.name),
            )
            .label(p.span, "named again here")
            .help("each name stands for one position"));
        }
    }
    Ok(SettingValue::Names(names))
}

fn type_name(ty: SettingType) -> &'static str {
    match ty {
        SettingType::String => "a string",
        SettingType::Integer => "a whole number",
        SettingType::Length => "a length",
        SettingType::Volume => "a volume",
        SettingType::Temperature => "a temperature",
        SettingType::NumberList => "a list of numbers",
        SettingType::Names => "names of positions, `{ sample 2, waste 1 }`",
        SettingType::Device => "a device name",
    }
}

fn registry_error(
    e: &RegistryError,
    driver_span: Span,
    spans: &BTreeMap<String, Span>,
) -> Diagnostic {
    match e {
        RegistryError::MissingSetting { kind, setting } => {
            let doc = registry::kind(kind)
                .ok()
                .and_then(|k| k.settings.into_iter().find(|s| s.name == setting))
                .map_or(String::new(), |s| format!(": {}", s.doc));
            Diagnostic::error(
                code::MISSING_SETTING,
                format!("`{kind}` needs the setting `{setting}`"),
            )
            .label(driver_span, format!("no `{setting}` given"))
            .help(format!("add `{setting} …` to this binding{doc}"))
        }
        RegistryError::BadSetting { setting, why, .. } => {
            Diagnostic::error(code::BAD_SETTING, format!("`{setting}`: {why}"))
                .at(spans.get(setting).copied().unwrap_or(driver_span))
        }
        other => Diagnostic::error(code::BINDING, other.to_string()).at(driver_span),
    }
}

/// Value checks the registry leaves to connection time, done before anything is opened.
fn check_values(b: &Bind, diags: &mut Diagnostics) -> bool {
    let before = diags.error_count();
    let bad = |setting: &str, message: String, help: &str| {
        Diagnostic::error(code::BAD_SETTING, message)
            .label(b.span_of(setting), "here")
            .help(help.to_owned())
    };
    let integer = |name: &str| match b.settings.get(name) {
        Some(SettingValue::Integer(i)) => Some(*i),
        _ => None,
    };
    let number = |name: &str| match b.settings.get(name) {
        Some(SettingValue::Number(x)) => Some(*x),
        _ => None,
    };
    // USB kinds have no `port` setting at all; a serial kind's must name a device.
    if b.settings.contains_key("port") && b.port().trim().is_empty() {
        diags.push(bad(
            "port",
            "the serial port is empty".into(),
            "write the device path, e.g. `port \"/dev/ttyUSB0\"`",
        ));
    }
    let ranges: [(&str, i64, i64); 7] = [
        ("address", 0, 99),
        ("modbus_address", 1, 247),
        ("baud", 300, 1_000_000),
        ("timeout_ms", 1, 600_000),
        ("safe_mode_timeout", 0, 255),
        ("decimals", 0, 4),
        ("pixels", 3, 65_535),
    ];
    let valve = b.kind == DeviceKind::Valve;
    for (name, lo, hi) in ranges {
        // A valve's address is a one-digit device ID, checked below.
        if valve && name == "address" {
            continue;
        }
        if let Some(i) = integer(name)
            && !(lo..=hi).contains(&i)
        {
            diags.push(bad(
                name,
                format!("`{name}` {i} is outside {lo} ..= {hi}"),
                "check the instrument's manual for the value it is set to",
            ));
        }
    }
    if valve {
        check_valve_values(b, diags);
    }
    if let Some(i) = integer("alarm_register")
        && !(0..=65_535).contains(&i)
    {
        diags.push(bad(
            "alarm_register",
            format!("register {i} is outside 0 ..= 65535"),
            "Modbus registers are 16-bit addresses",
        ));
    }
    let choices: [(&str, &[&str]); 2] = [
        ("lamp", &["broadband", "excitation", "none", "light"]),
        ("sensor", &["internal", "process"]),
    ];
    for (name, allowed) in choices {
        if let Some(v) = b.text(name)
            && !allowed.contains(&v)
        {
            let d = Diagnostic::error(
                code::BAD_SETTING,
                format!("`{name}` is `{v}`, not one of {}", allowed.join(", ")),
            )
            .label(b.span_of(name), "here");
            diags.push(match closest(v, allowed.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!("write one of {}", allowed.join(", "))),
            });
        }
    }
    match (number("setpoint_min"), number("setpoint_max")) {
        (Some(lo), Some(hi)) if lo > hi => diags.push(bad(
            "setpoint_min",
            "`setpoint_min` is above `setpoint_max`".into(),
            "the heater's setpoint range is `setpoint_min` .. `setpoint_max`",
        )),
        (Some(_), None) | (None, Some(_)) => diags.push(bad(
            if number("setpoint_min").is_some() {
                "setpoint_min"
            } else {
                "setpoint_max"
            },
            "give both `setpoint_min` and `setpoint_max`, or neither".into(),
            "qdx checks the campaign's setpoints against the range they make",
        )),
        _ => {}
    }
    if let Some(SettingValue::NumberList(c)) = b.settings.get("wavelength_coefficients") {
        let pixels = match b.capability {
            Capability::Spectrometer { pixels, .. } => pixels,
            _ => integer("pixels")
                .and_then(|p| usize::try_from(p).ok())
                .unwrap_or(qdx_lab::drivers::ocean::PIXELS),
        };
        let mut padded = [0.0; 4];
        for (slot, v) in padded.iter_mut().zip(c) {
            *slot = *v;
        }
        let grid = qdx_lab::drivers::ocean::wavelength_grid(padded, pixels.min(65_535));
        if c.is_empty() || c.len() > 4 {
            diags.push(bad(
                "wavelength_coefficients",
                format!(
                    "the calibration has {} coefficients; it takes 1 to 4",
                    c.len()
                ),
                "λ(i) = c0 + c1 i + c2 i² + c3 i³ in nm, from the spectrometer's calibration sheet",
            ));
        } else if !grid.windows(2).all(|w| matches!(w, [a, b] if b > a)) {
            diags.push(bad(
                "wavelength_coefficients",
                "this calibration does not give wavelengths that increase along the detector"
                    .into(),
                "λ(i) = c0 + c1 i + c2 i² + c3 i³ in nm, from the spectrometer's calibration sheet",
            ));
        }
    }
    diags.error_count() == before
}

/// A valve binding's device ID, positions and names.
fn check_valve_values(b: &Bind, diags: &mut Diagnostics) {
    let integer = |name: &str| match b.settings.get(name) {
        Some(SettingValue::Integer(i)) => Some(*i),
        _ => None,
    };
    let bad = |setting: &str, message: String, help: &str| {
        Diagnostic::error(code::BAD_SETTING, message)
            .label(b.span_of(setting), "here")
            .help(help.to_owned())
    };
    if let Some(id) = integer("address")
        && !(0..=9).contains(&id)
    {
        diags.push(bad(
            "address",
            format!("`address` {id} is not a device ID 0 ..= 9"),
            "a VICI actuator's device ID is one digit, set on the actuator with `ID`; leave `address` out when none is set",
        ));
    }
    if let Some(ms) = integer("move_timeout_ms")
        && !(1..=600_000).contains(&ms)
    {
        diags.push(bad(
            "move_timeout_ms",
            format!("`move_timeout_ms` {ms} is outside 1 ..= 600000"),
            "how long a move may take before the valve counts as stuck, in ms",
        ));
    }
    let positions = integer("positions");
    if let Some(n) = positions
        && (!(2..=40).contains(&n) || n % 2 != 0)
    {
        diags.push(bad(
            "positions",
            format!("`positions` {n} is not an even number from 2 to 40"),
            "the number of positions the actuator indexes (`NP` on the actuator), as the manual allows it",
        ));
        return;
    }
    let positions = positions.unwrap_or(2);
    let Some(SettingValue::Names(names)) = b.settings.get("names") else {
        return;
    };
    let mut by_position: BTreeMap<i64, &str> = BTreeMap::new();
    for (name, position) in names {
        let at = b
            .name_spans
            .get(name)
            .copied()
            .unwrap_or(b.span_of("names"));
        if !(1..=positions).contains(position) {
            diags.push(
                Diagnostic::error(
                    code::BAD_SETTING,
                    format!("`{name}` names position {position}, but the valve has positions 1 ..= {positions}"),
                )
                .label(at, format!("position {position}"))
                .help("name a position the valve has"),
            );
        } else if let Some(first) = by_position.insert(*position, name) {
            let first_at = b.name_spans.get(first).copied().unwrap_or(at);
            let (first, second, first_at, at) =
                if first_at.range().map(|r| r.start) <= at.range().map(|r| r.start) {
                    (first, name.as_str(), first_at, at)
                } else {
                    (name.as_str(), first, at, first_at)
                };
            diags.push(
                Diagnostic::error(
                    code::BAD_SETTING,
                    format!("`{first}` and `{second}` both name position {position}"),
                )
                .label(at, "named again here")
                .label(first_at, format!("`{first}` names it first"))
                .help("give each position one name"),
            );
        }
    }
}

/// Ports: daisy-chain pumps of one family, and VICI valves with device IDs, may share a port
/// (same baud, distinct addresses); any other second use of a port is an error.
/// Ports: daisy-chain pumps of one family may share a port (same baud, distinct addresses);
/// any other second use of a port is an error. USB devices have no port: they are found by
/// their ids and serial number.
fn check_ports(binds: &[Bind], diags: &mut Diagnostics) {
    let family = |b: &Bind| -> (&'static str, bool) {
        match b.driver.split('.').next().unwrap_or("") {
            "new_era" => ("new_era", true),
            "harvard" => ("harvard", true),
            "chemyx" => ("chemyx", false),
            "eurotherm" => ("eurotherm", false),
            "huber" => ("huber", false),
            // Only an actuator with a device ID keeps quiet about commands for another.
            "vici" => ("vici", b.settings.contains_key("address")),
            _ => ("ocean", false),
        }
    };
    for (k, b) in binds.iter().enumerate() {
        if !b.settings.contains_key("port") || b.port().is_empty() {
            continue;
        }
        let Some(first) = binds
            .iter()
            .take(k)
            .find(|x| x.settings.contains_key("port") && x.port() == b.port())
        else {
            continue;
        };
        let (fa, first_shares) = family(first);
        let (fb, shares) = family(b);
        let shareable = first_shares && shares;
        let port = b.port();
        let conflict = |why: String, help: &str| {
            Diagnostic::error(code::PORT_CONFLICT, format!("port {port}: {why}"))
                .label(b.span_of("port"), "used again here")
                .label(first.span_of("port"), format!("used by `{}`", first.device))
                .help(help.to_owned())
        };
        if fa != fb || !shareable {
            diags.push(conflict(
                format!("`{}` and `{}` cannot share a serial line", first.device, b.device),
                if fa == "vici" || fb == "vici" {
                    "only VICI valves with device IDs share a line with each other, each at its own `address`; give each other instrument its own port"
                } else {
                    "only New Era or Harvard pumps share a line (a daisy chain, each at its own `address`); give each other instrument its own port"
                },
            ));
            continue;
        }
        let int = |x: &Bind, name: &str| match x.settings.get(name) {
            Some(SettingValue::Integer(i)) => *i,
            _ => 0,
        };
        if int(first, "baud") != int(b, "baud") {
            diags.push(conflict(
                format!(
                    "bound at {} and {} baud",
                    int(first, "baud"),
                    int(b, "baud")
                ),
                "every pump on a daisy chain talks at the line's one baud rate",
            ));
        } else if let Some(other) = binds
            .iter()
            .take(k)
            .find(|x| x.port() == port && int(x, "address") == int(b, "address"))
        {
            diags.push(
                Diagnostic::error(
                    code::ADDRESS_CONFLICT,
                    format!(
                        "`{}` and `{}` have the same address {} on {port}",
                        other.device,
                        b.device,
                        int(b, "address")
                    ),
                )
                .label(b.span_of("address"), "same address")
                .label(
                    other.span_of("address"),
                    format!("address of `{}`", other.device),
                )
                .help(if fa == "vici" {
                    "valves on one line need distinct device IDs (set on each actuator with `ID`)"
                } else {
                    "pumps on one line need distinct addresses (set on each pump's keypad)"
                }),
            );
        }
    }
}

fn role_kind(role: Role) -> Option<DeviceKind> {
    match role {
        Role::Pump => Some(DeviceKind::Pump),
        Role::Heater => Some(DeviceKind::Heater),
        Role::Spectrometer => Some(DeviceKind::Spectrometer),
        Role::Valve => Some(DeviceKind::Valve),
        Role::Light => Some(DeviceKind::Light),
        _ => None,
    }
}

/// Devices the runtime drives and so must be bound: pumps, heaters, spectrometers, and valves
/// whose position the campaign sets (a derived position, or the measurement's route).
fn needs_binding(c: &Campaign, id: DeviceId, d: &Device) -> bool {
    match d.role {
        Role::Pump | Role::Heater | Role::Spectrometer | Role::Light => true,
        Role::Valve => {
            c.setting_source(id, "position").is_some()
                || c.measurement
                    .as_ref()
                    .and_then(|m| m.route.as_ref())
                    .is_some_and(|r| r.valve == id)
        }
        _ => false,
    }
}

/// `x` to 4 significant digits, as the shortest decimal: capabilities come from published
/// extremes, so more digits would only show float noise.
fn significant(x: f64) -> String {
    if !x.is_finite() || x == 0.0 {
        return qdx_units::format_number(x);
    }
    let digits = 3 - x.abs().log10().floor() as i32;
    let scale = 10f64.powi(digits);
    let rounded = (x * scale).round() / scale;
    // Round-trip through text so that e.g. 0.1 prints as `0.1`, not `0.10000000000000002`.
    let text = format!("{:.*}", digits.max(0) as usize, rounded);
    qdx_units::format_number(text.parse().unwrap_or(rounded))
}

/// A value in the unit the campaign prints it in, to 4 significant digits.
fn show(unit: &DisplayUnit, si: f64) -> String {
    let number = significant(unit.from_si(si));
    if unit.symbol().is_empty() {
        number
    } else {
        format!("{number} {}", unit.symbol())
    }
}

/// Relative tolerance for comparing proven ranges with capabilities (both are computed).
const REL: f64 = 1e-9;

/// Checks a parsed lab against a campaign and builds the binding.
pub fn bind(lab: &ParsedLab, c: &Campaign) -> (Option<LabBinding>, Diagnostics) {
    let mut diags = Diagnostics::new();
    // A binding gives each device of the campaign one instrument; parallel lines need one per
    // line's copy of it, which the `lab` block has no way to say yet.
    if let Some(first) = c.topology.lines.first()
        && c.topology.lines.len() > 1
    {
        diags.push(
            Diagnostic::error(
                codes::lab::PARALLEL_LINES,
                format!(
                    "lab `{}` binds one reactor line, and `{}` runs {} parallel lines",
                    lab.name,
                    c.name,
                    c.topology.lines.len()
                ),
            )
            .label(lab.name_span, "one instrument per device")
            .label(
                c.topology
                    .lines
                    .last()
                    .map_or(first.span, |last| first.span.to(last.span)),
                "parallel lines",
            )
            .help("binding each line's instruments is not supported yet: run the campaign on the simulated lab, or remove `lines` to run one line on this lab"),
        );
        return (None, diags);
    }
    let mut devices = Vec::new();
    for b in &lab.binds {
        let Some(id) = c.device_id(&b.device) else {
            let known: Vec<&str> = c
                .devices
                .iter()
                .enumerate()
                .filter(|(i, d)| needs_binding(c, *i, d))
                .map(|(_, d)| d.name.as_str())
                .collect();
            let d = Diagnostic::error(
                code::UNKNOWN_DEVICE,
                format!("the campaign `{}` has no device `{}`", c.name, b.device),
            )
            .label(b.device_span, "not a device of the campaign");
            diags.push(match closest(&b.device, known.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!(
                    "the campaign's devices to bind are {}",
                    known.join(", ")
                )),
            });
            continue;
        };
        let Some(dev) = c.devices.get(id) else {
            continue;
        };
        match role_kind(dev.role) {
            Some(k) if k == b.kind => {}
            Some(k) => {
                diags.push(
                    Diagnostic::error(
                        code::WRONG_ROLE,
                        format!(
                            "`{}` is a {}, but `{}` drives a {}",
                            b.device,
                            dev.role.name(),
                            b.driver,
                            device_kind_name(b.kind)
                        ),
                    )
                    .label(
                        b.driver_span,
                        format!("a {} driver", device_kind_name(b.kind)),
                    )
                    .label(dev.span, format!("`{}` is declared here", b.device))
                    .help(format!(
                        "{} drivers: {}",
                        device_kind_name(k),
                        drivers_for(k)
                    )),
                );
                continue;
            }
            None => {
                let help = format!(
                    "a {} is passive: only pumps, heaters, spectrometers and valves are bound",
                    dev.role.name()
                );
                diags.push(
                    Diagnostic::error(
                        code::NOT_DRIVEN,
                        format!(
                            "`{}` is a {}; no driver plays it",
                            b.device,
                            dev.role.name()
                        ),
                    )
                    .label(b.device_span, "cannot be bound")
                    .label(dev.span, format!("`{}` is declared here", b.device))
                    .help(help),
                );
                continue;
            }
        }
        let limits = match b.kind {
            DeviceKind::Pump => pump_limits(c, id, dev, b, &mut diags).map(Limits::Pump),
            DeviceKind::Heater => heater_limits(c, id, dev, b, &mut diags).map(Limits::Heater),
            DeviceKind::Spectrometer => {
                check_spectrometer(c, id, dev, b, lab, &mut diags);
                Some(Limits::Spectrometer)
            }
            DeviceKind::Valve => valve_limits(c, id, dev, b, &mut diags).map(Limits::Valve),
            DeviceKind::Light => {
                check_light(c, lab, b, &mut diags);
                Some(Limits::Light)
            }
        };
        if let Some(limits) = limits {
            devices.push(BoundDevice {
                device: id,
                name: b.device.clone(),
                driver: b.driver.clone(),
                kind: b.kind,
                settings: b.settings.clone(),
                capability: b.capability.clone(),
                limits,
            });
        }
    }
    for (id, d) in c.devices.iter().enumerate() {
        if !needs_binding(c, id, d) || lab.written.contains(&d.name) {
            continue;
        }
        let help = match role_kind(d.role) {
            Some(DeviceKind::Light) => format!(
                "add `bind {} = ocean.lamp_output {{ spectrometer … }}` if a spectrometer's lamp output switches it, `bind {} = thorlabs.sc10 {{ port \"…\" }}` for a shutter in front of it, or `bind {} = manual`",
                d.name, d.name, d.name
            ),
            Some(k) => format!(
                "add `bind {} = <driver> {{ port \"…\", … }}`; {} drivers: {}",
                d.name,
                device_kind_name(k),
                drivers_for(k)
            ),
            None => format!("a {} is passive and needs no instrument", d.role.name()),
        };
        diags.push(
            Diagnostic::error(
                code::UNBOUND_DEVICE,
                format!(
                    "`{}` ({}) is not bound to an instrument",
                    d.name,
                    d.role.name()
                ),
            )
            .label(
                lab.name_span,
                format!("this lab does not bind `{}`", d.name),
            )
            .label(d.span, "the campaign drives it")
            .help(help),
        );
    }
    // A spectrometer whose lamp output is a light leaves switching it to that light.
    for light in lab.binds.iter().filter(|b| b.driver == LAMP_OUTPUT) {
        if let Some(spec) = light
            .text("spectrometer")
            .and_then(|s| devices.iter_mut().find(|d| d.name == s))
        {
            spec.settings
                .insert("lamp".into(), SettingValue::String("light".into()));
        }
    }
    devices.sort_by_key(|d| d.device);
    let binding = (!diags.has_errors()).then(|| LabBinding {
        name: lab.name.clone(),
        file: lab.file.clone(),
        devices,
    });
    (binding, diags)
}

/// A valve: the campaign's positions exist on the instrument, and when the lab names
/// positions, the route's are named.
fn valve_limits(
    c: &Campaign,
    id: DeviceId,
    dev: &Device,
    b: &Bind,
    diags: &mut Diagnostics,
) -> Option<ValveLimits> {
    let Capability::Valve { positions } = b.capability else {
        return None;
    };
    let names: BTreeMap<u16, String> = match b.settings.get("names") {
        Some(SettingValue::Names(names)) => names
            .iter()
            .filter_map(|(name, p)| Some((u16::try_from(*p).ok()?, name.clone())))
            .collect(),
        _ => BTreeMap::new(),
    };
    let mut ok = true;
    let declared = match dev.property("positions") {
        Some(PropertyValue::Integer(n)) => *n,
        _ => 2,
    };
    if declared > i64::from(positions) {
        let at = if b.setting_spans.contains_key("positions") {
            b.span_of("positions")
        } else {
            b.driver_span
        };
        diags.push(
            Diagnostic::error(
                code::VALVE_POSITIONS,
                format!(
                    "`{}` has {declared} positions in the campaign, but `{}` turns {positions}",
                    b.device, b.driver
                ),
            )
            .label(at, format!("{positions} positions"))
            .label(dev.span, format!("{declared} positions"))
            .help("bind a valve with as many positions as the campaign declares, or declare fewer"),
        );
        ok = false;
    }
    let route = c
        .measurement
        .as_ref()
        .and_then(|m| m.route.as_ref())
        .filter(|r| r.valve == id);
    if let Some(r) = route
        && !names.is_empty()
    {
        for (what, position, example) in [
            ("collects at", r.collect, "sample"),
            ("sends waste to", r.waste, "waste"),
        ] {
            if names.contains_key(&position) {
                continue;
            }
            let named: Vec<String> = names.iter().map(|(p, n)| format!("`{n}` ({p})")).collect();
            diags.push(
                Diagnostic::error(
                    code::UNNAMED_POSITION,
                    format!(
                        "the route {what} position {position} of `{}`, which the lab does not name",
                        b.device
                    ),
                )
                .label(b.span_of("names"), format!("names {}", named.join(", ")))
                .label(r.span, format!("the route turns `{}` to position {position}", b.device))
                .help(format!(
                    "name every position the plan turns the valve to, e.g. `{example} {position}` in `names {{ … }}`"
                )),
            );
            ok = false;
        }
    }
    ok.then_some(ValveLimits { positions, names })
}

/// The derived value that sets `device.setting`, if any.
fn source<'c>(
    c: &'c Campaign,
    device: DeviceId,
    setting: &str,
) -> Option<(DerivedId, &'c Derived)> {
    let id = c.setting_source(device, setting)?;
    Some((id, c.derived.get(id)?))
}

/// Upper bounds (`<=`, `<`) the safety block puts on a subject.
fn safety_max(c: &Campaign, applies: impl Fn(&LimitSubject) -> bool) -> f64 {
    c.safety
        .limits
        .iter()
        .filter(|l| applies(&l.subject) && matches!(l.op, Comparison::Le | Comparison::Lt))
        .map(|l| l.value)
        .fold(f64::INFINITY, f64::min)
}

/// Lower bounds (`>=`, `>`) the safety block puts on a subject.
fn safety_min(c: &Campaign, applies: impl Fn(&LimitSubject) -> bool) -> f64 {
    c.safety
        .limits
        .iter()
        .filter(|l| applies(&l.subject) && matches!(l.op, Comparison::Ge | Comparison::Gt))
        .map(|l| l.value)
        .fold(f64::NEG_INFINITY, f64::max)
}

fn diameter_text(b: &Bind) -> String {
    match b.settings.get("syringe_diameter") {
        Some(SettingValue::Number(d)) => {
            format!(" with a {} mm syringe", significant(d * 1e3))
        }
        _ => String::new(),
    }
}

fn pump_limits(
    c: &Campaign,
    id: DeviceId,
    dev: &Device,
    b: &Bind,
    diags: &mut Diagnostics,
) -> Option<PumpLimits> {
    let Capability::Pump {
        rate: cap,
        withdraw,
    } = b.capability
    else {
        return None;
    };
    let spec = dev.driven(Drive::PumpRate)?;
    let unit = &spec.unit;
    let what = format!("`{}`{}", b.driver, diameter_text(b));
    let at = b.span_of("syringe_diameter");
    let fix = "use a syringe or a pump model that covers the campaign's rates, or narrow the campaign's variables";
    let mut ok = true;
    let derived = source(c, id, "rate");
    if let Some((_, d)) = derived {
        let (lo, hi) = d.range;
        if hi > cap.max * (1.0 + REL) {
            diags.push(
                Diagnostic::error(
                    code::RATE_ABOVE_CAPABILITY,
                    format!(
                        "`{}` must reach {}, but {what} runs at most {}",
                        b.device,
                        show(unit, hi),
                        show(unit, cap.max)
                    ),
                )
                .label(at, format!("at most {}", show(unit, cap.max)))
                .label(
                    d.span,
                    format!("`{}` reaches {} here", d.name, show(unit, hi)),
                )
                .help(fix),
            );
            ok = false;
        }
        // Zero is always possible (stopped); a range that can reach zero has its smallest
        // rates rounded by the planner, to zero or to the pump's smallest rate.
        let lowest = lo.max(spec.lo);
        if lo > 0.0 && lowest < cap.min * (1.0 - REL) {
            diags.push(
                Diagnostic::error(
                    code::RATE_BELOW_CAPABILITY,
                    format!(
                        "`{}` must run as slowly as {}, but {what} runs no slower than {}",
                        b.device,
                        show(unit, lowest),
                        show(unit, cap.min)
                    ),
                )
                .label(at, format!("at least {}", show(unit, cap.min)))
                .label(
                    d.span,
                    format!("`{}` goes down to {} here", d.name, show(unit, lowest)),
                )
                .help(fix),
            );
            ok = false;
        } else if lo <= 0.0 && spec.lo < cap.min * (1.0 - REL) {
            diags.push(
                Diagnostic::warning(
                    code::RATES_ROUNDED,
                    format!(
                        "`{}` can be asked for less than {}, the slowest {what} runs; such rates are rounded to zero or to {}",
                        b.device,
                        show(unit, cap.min),
                        show(unit, cap.min)
                    ),
                )
                .label(at, format!("no slower than {}", show(unit, cap.min)))
                .label(d.span, format!("`{}` can approach zero here", d.name))
                .help(format!(
                    "the plan notes every rounded rate; to avoid it, give `{}` a `min_rate` of at least {} in the campaign",
                    b.device,
                    show(unit, cap.min)
                )),
            );
        }
    }
    // A flush, a blank or a reference dye runs this pump alone at the line's rate.
    for (line, f) in c
        .measurement
        .iter()
        .flat_map(|m| m.pumped_lines())
        .filter(|(_, f)| f.pump == id)
    {
        if f.rate < cap.min * (1.0 - REL) || f.rate > cap.max * (1.0 + REL) {
            diags.push(
                Diagnostic::error(
                    code::FLUSH_RATE,
                    format!(
                        "`{line}` runs `{}` at {}, which {what} cannot run ({} .. {})",
                        b.device,
                        show(unit, f.rate),
                        show(unit, cap.min),
                        show(unit, cap.max)
                    ),
                )
                .label(at, "this syringe")
                .label(
                    f.span,
                    format!("`{line}` runs `{}` at {}", b.device, show(unit, f.rate)),
                )
                .help(format!("choose a `{line}` rate the pump runs")),
            );
            ok = false;
        }
    }
    // Refills withdraw at the syringe pump's refill rate, capped at its maximum rate.
    let refill = dev.refill_rate();
    if let Some(r) = refill {
        if !withdraw {
            diags.push(
                Diagnostic::error(
                    code::NO_WITHDRAW,
                    format!(
                        "`{}` cannot withdraw, so its syringe cannot be refilled",
                        b.device
                    ),
                )
                .label(b.driver_span, "infuse only")
                .label(dev.span, "a syringe pump that refills")
                .help("bind a pump that withdraws"),
            );
            ok = false;
        } else if r < cap.min * (1.0 - REL) || r > cap.max * (1.0 + REL) {
            diags.push(
                Diagnostic::error(
                    code::REFILL_RATE,
                    format!(
                        "`{}` refills at {}, which {what} cannot run ({} .. {})",
                        b.device,
                        show(unit, r),
                        show(unit, cap.min),
                        show(unit, cap.max)
                    ),
                )
                .label(at, "this syringe")
                .label(dev.span, format!("refills at {}", show(unit, r)))
                .help(format!(
                    "set `refill_rate` of `{}` in the campaign within what the pump runs",
                    b.device
                )),
            );
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    let dp = derived.map(|(k, _)| k);
    let per_pump = |s: &LimitSubject| matches!(s, LimitSubject::Derived(k) if Some(*k) == dp);
    let max_rate = spec.hi.min(cap.max);
    // The planner sends rates from the pump's smallest rate up; a refill may be slower.
    let min_rate = spec.lo.max(cap.min);
    let min_rate = refill.map_or(min_rate, |r| min_rate.min(r.max(cap.min)));
    let infuse_max = max_rate
        .min(safety_max(c, per_pump))
        .min(safety_max(c, |s| *s == LimitSubject::TotalFlow));
    Some(PumpLimits {
        envelope: Envelope::pump(
            min_rate.min(max_rate),
            max_rate,
            withdraw && refill.is_some(),
        ),
        infuse_max,
    })
}

fn heater_limits(
    c: &Campaign,
    id: DeviceId,
    dev: &Device,
    b: &Bind,
    diags: &mut Diagnostics,
) -> Option<HeaterLimits> {
    let Capability::Heater { setpoint } = b.capability else {
        return None;
    };
    let spec = dev.driven(Drive::HeaterSetpoint)?;
    let unit = &spec.unit;
    let safe = c.safety.safe_setpoint(id);
    let derived = source(c, id, "setpoint");
    let mut ok = true;
    let range_text =
        |r: &TemperatureRange| format!("{} .. {}", show(unit, r.min), show(unit, r.max));
    match setpoint {
        Some(r) => {
            if let Some((_, d)) = derived {
                let (lo, hi) = d.range;
                if lo < r.min - REL * r.min.abs() || hi > r.max + REL * r.max.abs() {
                    diags.push(
                        Diagnostic::error(
                            code::SETPOINT_OUTSIDE_CAPABILITY,
                            format!(
                                "`{}` is set between {} and {}, but the binding accepts {}",
                                b.device,
                                show(unit, lo),
                                show(unit, hi),
                                range_text(&r)
                            ),
                        )
                        .label(b.span_of(if lo < r.min { "setpoint_min" } else { "setpoint_max" }), format!("accepts {}", range_text(&r)))
                        .label(d.span, format!("`{}` is set here", d.name))
                        .help("bind a heater that reaches the campaign's temperatures, or narrow the campaign's range"),
                    );
                    ok = false;
                }
            }
            if !r.contains(safe) {
                let d = Diagnostic::error(
                    code::SAFE_SETPOINT,
                    format!(
                        "the safe setpoint of `{}`, {}, is outside what the binding accepts ({})",
                        b.device,
                        show(unit, safe),
                        range_text(&r)
                    ),
                )
                .label(b.span_of(if safe < r.min { "setpoint_min" } else { "setpoint_max" }), format!("accepts {}", range_text(&r)));
                let d = if c.safety.safe_setpoints.contains_key(&id) {
                    d.help("the lab could not be brought to its safe state: choose a safe setpoint the heater takes")
                } else {
                    d.help(format!(
                        "without `safe {} = …` in the campaign's safety block the safe setpoint is 25 °C; declare one the heater takes",
                        b.device
                    ))
                };
                diags.push(d);
                ok = false;
            }
        }
        None => diags.push(
            Diagnostic::warning(
                code::SETPOINT_RANGE_UNKNOWN,
                format!(
                    "the binding does not state which setpoints `{}` accepts; qdx cannot check the campaign's temperatures against it",
                    b.device
                ),
            )
            .label(b.driver_span, "no `setpoint_min` / `setpoint_max`")
            .help("add `setpoint_min … , setpoint_max …` from the controller's configuration (its SP limits)"),
        ),
    }
    if !ok {
        return None;
    }
    let dh = derived.map(|(k, _)| k);
    let applies = |s: &LimitSubject| {
        *s == LimitSubject::Temperature || matches!(s, LimitSubject::Derived(k) if Some(*k) == dh)
    };
    let cap = setpoint.unwrap_or(TemperatureRange {
        min: f64::NEG_INFINITY,
        max: f64::INFINITY,
    });
    let min = spec.lo.max(cap.min).max(safety_min(c, applies));
    let max = spec.hi.min(cap.max).min(safety_max(c, applies));
    if !(safe >= min - REL * min.abs() && safe <= max + REL * max.abs()) {
        diags.push(
            Diagnostic::error(
                code::SAFE_SETPOINT,
                format!(
                    "the safe setpoint of `{}`, {}, is outside the limits the runtime enforces on it ({} .. {})",
                    b.device,
                    show(unit, safe),
                    show(unit, min),
                    show(unit, max)
                ),
            )
            .label(b.device_span, "this heater")
            .label(dev.span, "its range and the safety limits make these limits")
            .help("choose a safe setpoint inside the heater's range and the safety limits"),
        );
        return None;
    }
    Some(HeaterLimits {
        envelope: Envelope::heater(min.min(safe), max.max(safe)),
        safe_setpoint: safe,
    })
}

/// The driver kind of a spectrometer's lamp output as a light.
const LAMP_OUTPUT: &str = "ocean.lamp_output";

/// The light bound to the lamp output of the spectrometer bound as `spectrometer`, if any.
fn lamp_output_light<'l>(lab: &'l ParsedLab, spectrometer: &str) -> Option<&'l Bind> {
    lab.binds
        .iter()
        .find(|x| x.driver == LAMP_OUTPUT && x.text("spectrometer") == Some(spectrometer))
}

/// A light's binding: what switches it exists and is free, and a light the operator switches
/// is flagged (it reaches every spectrum, the dark ones too).
fn check_light(c: &Campaign, lab: &ParsedLab, b: &Bind, diags: &mut Diagnostics) {
    if b.driver == "manual" {
        let uses: Vec<&str> = c
            .measurement
            .iter()
            .flat_map(|m| &m.channels)
            .filter(|ch| {
                ch.light
                    .and_then(|l| c.devices.get(l))
                    .is_some_and(|d| d.name == b.device)
            })
            .map(|ch| ch.kind.name())
            .collect();
        diags.push(
            Diagnostic::warning(
                code::MANUAL_LIGHT,
                format!(
                    "`{}` is switched by hand: qdx cannot turn it off, so it also lights the dark spectra{}",
                    b.device,
                    if c.measurement.as_ref().is_some_and(|m| m.channels.len() > uses.len()) {
                        " and the other channel's"
                    } else {
                        ""
                    }
                ),
            )
            .label(b.driver_span, "the operator's responsibility")
            .help("bind it to what switches it (`ocean.lamp_output { spectrometer … }`, or a shutter in front of it: `thorlabs.sc10 { port … }`), or make sure it is off whenever it should be"),
        );
        return;
    }
    let Some(name) = b.text("spectrometer") else {
        return;
    };
    let spec = c.device_id(name).and_then(|id| c.devices.get(id));
    let bound = lab.binds.iter().find(|x| x.device == name);
    let problem = match (spec, bound) {
        (None, _) => Some(format!("the campaign has no device `{name}`")),
        (Some(d), _) if d.role != Role::Spectrometer => Some(format!(
            "`{name}` is a {}, not a spectrometer",
            d.role.name()
        )),
        (Some(_), None) => Some(format!("`{name}` is not bound in this lab")),
        (Some(_), Some(s))
            if !s.driver.starts_with("ocean.") || s.kind != DeviceKind::Spectrometer =>
        {
            Some(format!(
                "`{name}` is bound to `{}`, which has no lamp output",
                s.driver
            ))
        }
        _ => None,
    };
    if let Some(why) = problem {
        diags.push(
            Diagnostic::error(
                code::LIGHT_SWITCH,
                format!("`{}` cannot be switched: {why}", b.device),
            )
            .label(
                b.span_of("spectrometer"),
                "switched by this spectrometer's lamp output",
            )
            .help("name an Ocean spectrometer bound in this lab, or bind the light to a shutter (`thorlabs.sc10`) or as `manual`"),
        );
        return;
    }
    if let Some(first) = lamp_output_light(lab, name)
        && first.device != b.device
    {
        diags.push(
            Diagnostic::error(
                code::LIGHT_SWITCH,
                format!("`{}` and `{}` are both on the lamp output of `{name}`", first.device, b.device),
            )
            .label(b.span_of("spectrometer"), "second light on it")
            .label(first.span_of("spectrometer"), "first light on it")
            .help("one output switches one light: bind the other light to what switches it, or as `manual`"),
        );
    }
    if let Some(s) = bound
        && let Some(lamp @ ("broadband" | "excitation")) = s.text("lamp")
    {
        diags.push(
            Diagnostic::error(
                code::LIGHT_SWITCH,
                format!("the lamp output of `{name}` switches the light `{}`, but its binding says `lamp \"{lamp}\"`", b.device),
            )
            .label(s.span_of("lamp"), "a source of its own")
            .label(b.span_of("spectrometer"), format!("`{}` is on it", b.device))
            .help(format!("remove `lamp \"{lamp}\"` from `{name}`: the plan switches `{}`", b.device)),
        );
    }
}

fn check_spectrometer(
    c: &Campaign,
    id: DeviceId,
    dev: &Device,
    b: &Bind,
    lab: &ParsedLab,
    diags: &mut Diagnostics,
) {
    let Capability::Spectrometer {
        integration_s,
        max_averages,
        pixels,
    } = b.capability
    else {
        return;
    };
    let Some(m) = c
        .measurement
        .as_ref()
        .filter(|m| m.spectrometer == Some(id))
    else {
        return;
    };
    // The drivers of a real lab are optical spectrometers: none takes a SAXS frame or a CD
    // spectrum, so a campaign that measures one runs only on the simulated lab.
    if let Some(ch) = m.channels.iter().find(|ch| !ch.kind.takes_light()) {
        diags.push(
            Diagnostic::error(
                code::CHANNEL_DRIVER,
                format!(
                    "the campaign measures {} with `{}`, but `{}` is an optical spectrometer",
                    ch.kind.name(),
                    dev.name,
                    b.driver
                ),
            )
            .label(b.driver_span, "this driver reads absorbance and photoluminescence")
            .label(m.span, format!("{} is measured here", ch.kind.name()))
            .help("qdx has no driver for a SAXS camera or a CD spectrometer yet: run the campaign on the simulated lab (`qdx run` without `--lab`)"),
        );
        return;
    }
    let lamp = b.text("lamp").unwrap_or("none");
    let lit = m.channels.iter().any(|ch| ch.light.is_some());
    if lamp == "light" && lamp_output_light(lab, &b.device).is_none() {
        diags.push(
            Diagnostic::error(
                code::LIGHT_SWITCH,
                format!(
                    "the lamp output of `{}` is a light, but no light is bound to it",
                    b.device
                ),
            )
            .label(b.span_of("lamp"), "`lamp \"light\"`")
            .help(format!(
                "bind the light on it: `bind lamp1 = ocean.lamp_output {{ spectrometer {} }}`",
                b.device
            )),
        );
    }
    let needs: Vec<(&str, &str)> = m
        .channels
        .iter()
        .map(|ch| match ch.kind {
            ChannelKind::Absorbance => ("absorbance", "broadband"),
            ChannelKind::Photoluminescence => ("photoluminescence", "excitation"),
            // Returned above: no optical driver reads them.
            ChannelKind::Saxs => ("saxs", "x-ray"),
            ChannelKind::CircularDichroism => ("circular_dichroism", "polarised"),
        })
        .collect();
    let mut sources: Vec<&str> = needs.iter().map(|(_, s)| *s).collect();
    sources.dedup();
    let cell = c.devices.get(m.cell).map_or("s1", |d| d.name.as_str());
    if lit {
        // The plan switches the campaign's lights; the lamp output serves one only as a light.
        if let lamp @ ("broadband" | "excitation") = lamp
            && lamp_output_light(lab, &b.device).is_none()
        {
            diags.push(
                Diagnostic::error(
                    code::LIGHT_SOURCES,
                    format!(
                        "the campaign's lights are switched by the plan, but `{}` switches a {lamp} source of its own on its lamp output",
                        b.device
                    ),
                )
                .label(b.span_of("lamp"), format!("`lamp \"{lamp}\"`"))
                .help(format!(
                    "bind the light wired to the lamp output to it, e.g. `bind lamp1 = ocean.lamp_output {{ spectrometer {} }}`, and remove `lamp \"{lamp}\"`",
                    b.device
                )),
            );
        }
    } else if sources.len() > 1 {
        diags.push(
            Diagnostic::error(
                code::LIGHT_SOURCES,
                format!(
                    "`{}` measures absorbance and photoluminescence, but `{}` switches one light source",
                    b.device, b.driver
                ),
            )
            .label(b.span_of("lamp"), "one `lamp` output")
            .label(m.span, "both channels are measured here")
            .help(format!(
                "declare the two lights and name them in the cell: `light lamp1 : lamp`, `light led1 : led {{ wavelength 365 nm }}`, `cell {cell} : flow_cell {{ …, absorbance lamp1, photoluminescence led1 }}`; then bind each to what switches it, e.g. `bind lamp1 = ocean.lamp_output {{ spectrometer {} }}` and `bind led1 = manual`",
                b.device
            )),
        );
    } else if let Some(((channel, source), _)) = needs.first().zip(sources.first())
        && lamp != *source
    {
        diags.push(
            Diagnostic::error(
                code::LIGHT_SOURCES,
                format!(
                    "`{}` measures {channel}, which needs the {source} light on its lamp output, but the binding says `lamp \"{lamp}\"`",
                    b.device
                ),
            )
            .label(b.span_of("lamp"), format!("`{lamp}`"))
            .label(m.span, format!("{channel} is measured here"))
            .help(format!("write `lamp \"{source}\"` if that source is wired to the lamp output")),
        );
    }
    for ch in &m.channels {
        if ch.integration < integration_s.0 * (1.0 - REL)
            || ch.integration > integration_s.1 * (1.0 + REL)
        {
            diags.push(
                Diagnostic::error(
                    code::INTEGRATION,
                    format!(
                        "{} integrates for {} s, but `{}` takes {} s .. {} s",
                        ch.kind.name(),
                        qdx_units::format_number(ch.integration),
                        b.driver,
                        qdx_units::format_number(integration_s.0),
                        qdx_units::format_number(integration_s.1)
                    ),
                )
                .label(b.driver_span, "this spectrometer")
                .label(m.span, "the measurement")
                .help("choose an integration time the spectrometer supports"),
            );
        }
        if ch.averages == 0 || ch.averages > max_averages {
            diags.push(
                Diagnostic::error(
                    code::AVERAGES,
                    format!(
                        "{} averages {} scans, but `{}` sums 1 to {max_averages}",
                        ch.kind.name(),
                        ch.averages,
                        b.driver
                    ),
                )
                .label(b.driver_span, "this spectrometer")
                .label(m.span, "the measurement")
                .help("average fewer scans per spectrum, or take replicates"),
            );
        }
    }
    // Relative PLQY needs the reference dye measured in this instrument: a `reference_dye`
    // line runs it through the cell; without one only the simulated lab can compute it.
    let dye_line = c
        .measurement
        .as_ref()
        .is_some_and(|m| m.reference_dye.is_some());
    for p in c.proxies.iter().filter(|_| !dye_line) {
        if let ProxyDefinition::Builtin {
            function: SpectralFunction::RelativePlqy { reference: dye, .. },
        } = &p.definition
        {
            diags.push(
                Diagnostic::warning(
                    code::REFERENCE_DYE,
                    format!(
                        "`{}` needs {} measured in `{}`, and the measurement has no `reference_dye` line: `{}` will not be computed",
                        p.name, dye.name, b.device, p.name
                    ),
                )
                .label(b.device_span, "this spectrometer")
                .label(p.span, format!("`{}` compares with {}", p.name, dye.name))
                .help("run the dye through the cell: a pump holding the dye's solution and `reference_dye { pump p_dye, rate 200 uL/min, volumes 2 }` with a `blank` in the measure block; otherwise experiments whose objectives need it are recorded as failed"),
            );
        }
    }
    // The calibrated grid should cover the wavelengths the campaign declares.
    if let (Some(PropertyValue::Range { lo, hi, unit }), Some(SettingValue::NumberList(co))) = (
        dev.property("range"),
        b.settings.get("wavelength_coefficients"),
    ) {
        let mut padded = [0.0; 4];
        for (slot, v) in padded.iter_mut().zip(co) {
            *slot = *v;
        }
        let grid = qdx_lab::drivers::ocean::wavelength_grid(padded, pixels);
        if let (Some(first), Some(last)) = (grid.first(), grid.last())
            && (first * 1e-9 > lo * (1.0 + REL) || last * 1e-9 < hi * (1.0 - REL))
        {
            diags.push(
                Diagnostic::warning(
                    code::WAVELENGTH_COVERAGE,
                    format!(
                        "`{}` covers {} nm .. {} nm, less than the {} .. {} the campaign declares",
                        b.device,
                        qdx_units::format_number((first * 10.0).round() / 10.0),
                        qdx_units::format_number((last * 10.0).round() / 10.0),
                        show(unit, *lo),
                        show(unit, *hi)
                    ),
                )
                .label(b.span_of("wavelength_coefficients"), "this calibration")
                .label(dev.span, "the declared range")
                .help("check the calibration coefficients; proxies outside the covered range fail"),
            );
        }
    }
}
