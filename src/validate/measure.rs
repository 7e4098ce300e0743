//! The measurement (cell, steady-state rule, channels) and the proxies computed from it.

use std::collections::BTreeMap;

use qdx_units::{Dimension, Interpretation, Unit};

use super::Validator;
use super::campaign::*;
use super::expr::{Scope, TExpr, Temp, Ty, Typed, Typer, missing_unit};
use super::kinds::{constant, quantity_of};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::codes::{self, validate as code};
use crate::names::closest;
use crate::source::Span;
use crate::syntax::ast::{self, ExprKind, Item, MeasureEntry, ProxyDef};

/// Default steady-state rule when none is given: three reactor volumes (physics.md B5: 97 % of
/// the new product at the detector for laminar flow).
pub const DEFAULT_STEADY_STATE_VOLUMES: f64 = 3.0;

fn channel_kind(name: &str) -> Option<ChannelKind> {
    ChannelKind::from_name(name)
}

/// The dimension a builtin's declared return type stands for, and the unit to print it in.
fn return_type(name: &str) -> Option<(Dimension, Unit)> {
    match name {
        "wavelength" | "length" => Some((Dimension::LENGTH, Unit::parse("nm").ok()?)),
        "number" | "ratio" => Some((Dimension::DIMENSIONLESS, Unit::dimensionless())),
        _ => Dimension::from_name(name).ok().map(|d| {
            (
                d,
                qdx_units::display_unit(d, Interpretation::Difference, 1.0),
            )
        }),
    }
}

/// What a parameter of a spectral function takes, from its declared type in `std.spectra`.
/// Each function's requirement is in its declaration, so every call is checked the same way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ParamType {
    /// A measured spectrum: an optical one over wavelength, absorbance or photoluminescence
    /// (`spectrum`), or only one kind (`absorbance_spectrum`, `saxs_pattern`, `cd_spectrum`, …).
    Spectrum(Option<ChannelKind>),
    /// A reference dye.
    Reference,
    /// A constant of this dimension (`wavelength`, `number`, …).
    Quantity(Dimension),
}

impl ParamType {
    pub(crate) fn parse(name: &str) -> Option<ParamType> {
        Some(match name {
            "spectrum" => ParamType::Spectrum(None),
            "absorbance_spectrum" => ParamType::Spectrum(Some(ChannelKind::Absorbance)),
            "photoluminescence_spectrum" => {
                ParamType::Spectrum(Some(ChannelKind::Photoluminescence))
            }
            "saxs_pattern" => ParamType::Spectrum(Some(ChannelKind::Saxs)),
            "cd_spectrum" => ParamType::Spectrum(Some(ChannelKind::CircularDichroism)),
            "reference" => ParamType::Reference,
            other => ParamType::Quantity(return_type(other)?.0),
        })
    }

    fn describe(self) -> &'static str {
        match self {
            ParamType::Spectrum(None) => "an absorbance or photoluminescence spectrum",
            ParamType::Spectrum(Some(ChannelKind::Absorbance)) => "an absorbance spectrum",
            ParamType::Spectrum(Some(ChannelKind::Photoluminescence)) => {
                "a photoluminescence spectrum"
            }
            ParamType::Spectrum(Some(ChannelKind::Saxs)) => "a SAXS pattern",
            ParamType::Spectrum(Some(ChannelKind::CircularDichroism)) => "a CD spectrum",
            ParamType::Reference => "a reference dye",
            ParamType::Quantity(_) => "a quantity",
        }
    }
}

/// "the absorbance spectrum", "the SAXS pattern (over q)"
fn spectrum_article(kind: ChannelKind) -> String {
    match kind {
        ChannelKind::Absorbance | ChannelKind::Photoluminescence => {
            format!("the {} spectrum", kind.name())
        }
        ChannelKind::Saxs => "the SAXS pattern (over q)".to_owned(),
        ChannelKind::CircularDichroism => "the CD spectrum".to_owned(),
    }
}

/// What an argument that is not what a parameter takes is, for the message.
fn found_kind(value: &ast::Expr) -> String {
    match &value.kind {
        ExprKind::Path(p) => format!("`{}`", p.dotted()),
        ExprKind::String(_) => "text".to_owned(),
        _ => match constant(value) {
            Ok(t) => t.as_point().as_difference().ty.describe(),
            Err(_) => "an expression".to_owned(),
        },
    }
}

/// A checked argument of a spectral function call (numbers in SI).
#[derive(Debug)]
enum Argument {
    Spectrum(ChannelKind),
    Number(f64),
    Reference(ReferenceDye),
}

/// A call's checked arguments by parameter name, as its declaration in `std.spectra` names
/// them, until [`Arguments::resolve`] makes them the [`SpectralFunction`] the runtime computes.
#[derive(Debug, Default)]
struct Arguments(BTreeMap<String, Argument>);

impl Arguments {
    fn spectrum(&mut self, name: &str) -> Option<ChannelKind> {
        match self.0.remove(name)? {
            Argument::Spectrum(k) => Some(k),
            _ => None,
        }
    }

    fn number(&mut self, name: &str) -> Option<f64> {
        match self.0.remove(name)? {
            Argument::Number(x) => Some(x),
            _ => None,
        }
    }

    fn reference(&mut self, name: &str) -> Option<ReferenceDye> {
        match self.0.remove(name)? {
            Argument::Reference(r) => Some(r),
            _ => None,
        }
    }

    /// The function qdx computes for a declared `builtin` of this name, with these arguments:
    /// `None` when qdx has no implementation of it, or not with the parameters declared (one
    /// it does not take, or one it needs missing).
    fn resolve(mut self, function: &str) -> Option<SpectralFunction> {
        let resolved = match function {
            "peak_wavelength" => SpectralFunction::PeakWavelength {
                spectrum: self.spectrum("spectrum")?,
            },
            "fwhm" => SpectralFunction::Fwhm {
                spectrum: self.spectrum("spectrum")?,
            },
            "peak_intensity" => SpectralFunction::PeakIntensity {
                spectrum: self.spectrum("spectrum")?,
            },
            "integrated_area" => SpectralFunction::IntegratedArea {
                spectrum: self.spectrum("spectrum")?,
                from: self.number("from")?,
                to: self.number("to")?,
            },
            "absorbance_at" => SpectralFunction::AbsorbanceAt {
                spectrum: self.spectrum("spectrum")?,
                wavelength: self.number("wavelength")?,
            },
            "first_excitonic_peak" => SpectralFunction::FirstExcitonicPeak {
                spectrum: self.spectrum("spectrum")?,
            },
            "guinier_radius" => SpectralFunction::GuinierRadius {
                pattern: self.spectrum("pattern")?,
            },
            "sphere_radius" => SpectralFunction::SphereRadius {
                pattern: self.spectrum("pattern")?,
            },
            "cd_extremum" => SpectralFunction::CdExtremum {
                spectrum: self.spectrum("spectrum")?,
            },
            "anisotropy" => SpectralFunction::Anisotropy {
                cd: self.spectrum("cd")?,
                absorbance: self.spectrum("absorbance")?,
                at: self.number("at")?,
            },
            "relative_plqy" => SpectralFunction::RelativePlqy {
                emission: self.spectrum("emission")?,
                absorbance: self.spectrum("absorbance")?,
                excitation: self.number("excitation")?,
                reference: self.reference("reference")?,
                sample_index: self.number("sample_index")?,
            },
            _ => return None,
        };
        self.0.is_empty().then_some(resolved)
    }
}

/// Names visible in proxy formulas: earlier proxies and variables. A reading is not: it is a
/// proxy of its own (`peak = readings.peak`), whose unit the `simulate` block gives.
struct ProxyScope<'v, 'a> {
    v: &'v Validator<'a>,
    proxies: &'v [Proxy],
    later: &'v [String],
}

impl Scope for ProxyScope<'_, '_> {
    fn path(&self, path: &ast::Path) -> Result<Typed, Diagnostic> {
        let name = path.dotted();
        let span = path.span;
        if self.v.is_poisoned(&format!("proxy:{name}")) {
            return Err(super::follow_on());
        }
        if let Some(id) = self.proxies.iter().position(|p| p.name == name) {
            let p = self
                .proxies
                .get(id)
                .ok_or_else(|| Diagnostic::error(code::INTERNAL, "proxy index").at(span))?;
            return Ok(Typed::new(TExpr::Proxy(id), Ty::of(p.dimension), span));
        }
        if let Some(id) = self
            .v
            .variables
            .iter()
            .position(|x| x.name == name && x.is_numeric())
        {
            let var = self
                .v
                .variables
                .get(id)
                .ok_or_else(|| Diagnostic::error(code::INTERNAL, "variable index").at(span))?;
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
        if self.later.contains(&name) {
            return Err(Diagnostic::error(
                code::USED_BEFORE_DEFINED,
                format!("proxy `{name}` is used before it is defined"),
            )
            .at(span)
            .help("define proxies in the order they depend on each other"));
        }
        if path.segments.first().is_some_and(|s| s.name == "readings")
            && self.v.is_poisoned("simulation")
        {
            return Err(super::follow_on());
        }
        if let [first, reading] = path.segments.as_slice()
            && first.name == "readings"
            && self.v.virtual_lab().is_some()
        {
            let reading = &reading.name;
            return Err(Diagnostic::error(
                code::READING_IN_FORMULA,
                format!("`readings.{reading}` is read by a proxy of its own, not in a formula"),
            )
            .label(span, "a reading")
            .help(format!(
                "write `{reading} = readings.{reading}` and use `{reading}` in formulas; a reading with a unit gets it in the simulate block: `units {{ {reading} nm }}`"
            )));
        }
        if channel_kind(&name).is_some() {
            return Err(Diagnostic::error(
                code::SPECTRUM_AS_VALUE,
                format!("`{name}` is a spectrum, not a number"),
            )
            .at(span)
            .help(format!(
                "apply a spectral function to it, e.g. `{name}.peak_wavelength()`"
            )));
        }
        let mut known: Vec<&str> = self.proxies.iter().map(|p| p.name.as_str()).collect();
        known.extend(self.v.variables.iter().map(|v| v.name.as_str()));
        let d = Diagnostic::error(code::UNKNOWN_NAME, format!("unknown name `{name}`"))
            .label(span, "not a proxy or variable");
        Err(match closest(&name, known.iter().copied()) {
            Some(s) => d.did_you_mean(span, s),
            None => d,
        })
    }

    fn call(
        &self,
        callee: &ast::Path,
        args: &[ast::Argument],
        span: Span,
        typer: &Typer<'_>,
    ) -> Result<Typed, Diagnostic> {
        let last = callee
            .segments
            .last()
            .map(|s| s.name.as_str())
            .unwrap_or("");
        if self.v.builtins.contains_key(last) {
            return Err(Diagnostic::error(
                code::NESTED_BUILTIN,
                format!("`{last}` must be a proxy of its own"),
            )
            .at(span)
            .help(format!(
                "define `x = …{last}(…)` as a proxy, then use `x` in this formula"
            )));
        }
        typer.math_call(callee, args, span)
    }
}

impl<'a> Validator<'a> {
    pub(super) fn measurement(&mut self) {
        let measures = self.items.of(|i| match i {
            Item::Measure(m) => Some(m),
            _ => None,
        });
        let Some(m) = measures.first().copied() else {
            let has_cell = self.devices.iter().any(|d| d.role == Role::Cell);
            if has_cell && self.virtual_lab().is_none() {
                self.poison("measurement");
                let span = self
                    .devices
                    .iter()
                    .find(|d| d.role == Role::Cell)
                    .map(|d| d.span);
                let mut d = Diagnostic::error(code::NO_MEASUREMENT, "nothing is measured: the campaign has no `measure` block")
                    .help("add `measure at <cell> { steady_state after 3 reactor_volumes  photoluminescence { integration 100 ms, average 5 } }`");
                if let Some(span) = span {
                    d = d.label(span, "this cell is never read");
                }
                self.error(d);
            }
            return;
        };
        let cell = match self.find_device(&m.cell, Some(Role::Cell)) {
            Ok(c) => c,
            Err(d) => {
                self.error(d);
                return;
            }
        };
        let spectrometer = self
            .devices
            .get(cell)
            .and_then(|d| d.device_ref("spectrometer"));
        let supported: Vec<String> = spectrometer
            .and_then(|s| self.devices.get(s))
            .and_then(|s| match s.property("channels") {
                Some(PropertyValue::Names(n)) => Some(n.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let mut measurement = Measurement {
            cell,
            spectrometer,
            steady_state_volumes: DEFAULT_STEADY_STATE_VOLUMES,
            steady_state_extra: 0.0,
            settle_within: None,
            settle_unit: DisplayUnit::of("K"),
            settle_hold: 0.0,
            replicates: 1,
            channels: Vec::new(),
            flush: None,
            blank: None,
            reference_dye: None,
            route: None,
            probe: None,
            transient: None,
            droplets: None,
            span: m.span,
        };
        let mut errors = Vec::new();
        let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
        for e in &m.entries {
            let key = match e {
                MeasureEntry::SteadyState { .. } => "steady_state",
                MeasureEntry::Settle { .. } => "settle",
                MeasureEntry::Replicates { .. } => "replicates",
                MeasureEntry::Channel { name, .. } => name.name.as_str(),
            };
            if let Some(first) = seen.insert(key, e.span()) {
                errors.push(
                    Diagnostic::error(code::DUPLICATE_ENTRY, format!("`{key}` is given twice"))
                        .label(e.span(), "given again")
                        .label(first, "first given here"),
                );
                continue;
            }
            match e {
                MeasureEntry::SteadyState { after, .. } => match steady_state(after) {
                    Ok((volumes, extra)) => {
                        measurement.steady_state_volumes = volumes;
                        measurement.steady_state_extra = extra;
                    }
                    Err(d) => errors.push(d),
                },
                MeasureEntry::Settle { within, hold, .. } => {
                    match constant(within).map(Typed::as_difference) {
                        Ok(t) if t.ty.dim == Dimension::TEMPERATURE => {
                            let k = t.expr.eval(&super::kinds::NoEnv);
                            if k > 0.0 {
                                measurement.settle_within = Some(k);
                                if let Some(unit) = super::kinds::written_unit(within) {
                                    measurement.settle_unit = DisplayUnit::new(
                                        unit,
                                        qdx_units::Interpretation::Difference,
                                    );
                                }
                            } else {
                                errors.push(
                                    Diagnostic::error(
                                        code::SETTLE,
                                        "the settling band must be above zero",
                                    )
                                    .at(within.span),
                                );
                            }
                        }
                        Ok(t) if t.ty.bare => {
                            errors.push(missing_unit(within.span, Dimension::TEMPERATURE))
                        }
                        Ok(t) => errors.push(
                            Diagnostic::error(
                                code::UNIT_MISMATCH,
                                format!(
                                    "expected a temperature difference, found {}",
                                    t.ty.describe()
                                ),
                            )
                            .at(within.span),
                        ),
                        Err(d) => errors.push(d),
                    }
                    match quantity_of(Dimension::TIME, hold).and_then(|(s, _)| {
                        super::durations::check_time(
                            "the settling hold",
                            s,
                            super::durations::MAX_WAIT_S,
                            hold.span,
                            "the heater must stay within the band this long before each measurement; a single wait lasts at most 7 days",
                        )
                        .map(|()| s)
                    }) {
                        Ok(s) => measurement.settle_hold = s,
                        Err(d) => errors.push(d),
                    }
                }
                MeasureEntry::Replicates { count, .. } => match u32::try_from(count.value) {
                    Ok(n) if (1..=1000).contains(&n) => measurement.replicates = n,
                    _ => errors.push(
                        Diagnostic::error(
                            code::REPLICATES,
                            "replicates must be between 1 and 1000",
                        )
                        .at(count.span),
                    ),
                },
                MeasureEntry::Channel { name, props, span }
                    if matches!(name.name.as_str(), "flush" | "blank" | "reference_dye") =>
                {
                    let what = match name.name.as_str() {
                        "blank" => "blank",
                        "reference_dye" => "reference_dye",
                        _ => "flush",
                    };
                    match self.pumped(what, props.as_ref(), *span) {
                        Ok((f, mut ds)) => {
                            errors.append(&mut ds);
                            match what {
                                "blank" => measurement.blank = Some(f),
                                "reference_dye" => measurement.reference_dye = Some(f),
                                _ => measurement.flush = Some(f),
                            }
                        }
                        Err(mut ds) => errors.append(&mut ds),
                    }
                }
                MeasureEntry::Channel { name, props, span } if name.name == "route" => {
                    match self.route(props.as_ref(), *span) {
                        Ok(r) => measurement.route = Some(r),
                        Err(mut ds) => errors.append(&mut ds),
                    }
                }
                MeasureEntry::Channel { name, props, span } if name.name == "transient" => {
                    match self.transient(props.as_ref(), *span) {
                        Ok(t) => measurement.transient = Some(t),
                        Err(mut ds) => errors.append(&mut ds),
                    }
                }
                MeasureEntry::Channel { name, props, span } if name.name == "droplets" => {
                    match self.droplets(props.as_ref(), *span) {
                        Ok(d) => measurement.droplets = Some(d),
                        Err(mut ds) => errors.append(&mut ds),
                    }
                }
                MeasureEntry::Channel { name, props, span } if name.name == "probe" => {
                    match self.probe(cell, props.as_ref(), *span) {
                        Ok(p) => measurement.probe = Some(p),
                        Err(mut ds) => errors.append(&mut ds),
                    }
                }
                MeasureEntry::Channel { name, props, span } => {
                    let Some(kind) = channel_kind(&name.name) else {
                        self.poison(format!("channel:{}", name.name));
                        let d = Diagnostic::error(
                            code::UNKNOWN_CHANNEL,
                            format!("unknown measurement `{}`", name.name),
                        )
                        .at(name.span);
                        errors.push(
                            match closest(
                                &name.name,
                                [
                                    "absorbance",
                                    "photoluminescence",
                                    "saxs",
                                    "circular_dichroism",
                                    "steady_state",
                                    "settle",
                                    "replicates",
                                    "flush",
                                    "route",
                                    "blank",
                                    "reference_dye",
                                    "probe",
                                    "transient",
                                    "droplets",
                                ],
                            ) {
                                Some(s) => d.help(format!("did you mean `{s}`?")),
                                None => d.help(
                                    "a cell measures `absorbance`, `photoluminescence`, `saxs` or `circular_dichroism`, as its instrument allows",
                                ),
                            },
                        );
                        continue;
                    };
                    // A light named for the channel serves it; otherwise the spectrometer's
                    // own sources must.
                    let light = self
                        .devices
                        .get(cell)
                        .and_then(|d| d.device_ref(&name.name));
                    if light.is_none()
                        && spectrometer.is_some()
                        && !supported.iter().any(|s| s == &name.name)
                    {
                        let spec_name = spectrometer
                            .and_then(|s| self.devices.get(s))
                            .map_or("the spectrometer", |d| d.name.as_str());
                        self.poison(format!("channel:{}", name.name));
                        errors.push(
                            Diagnostic::error(
                                code::CHANNEL_UNSUPPORTED,
                                format!("`{spec_name}` does not measure {}", name.name),
                            )
                            .at(*span)
                            .help(if kind.takes_light() {
                                format!(
                                    "it measures: {}; or declare a light for it and name it in the cell: `{} <light>`",
                                    if supported.is_empty() {
                                        "nothing".to_owned()
                                    } else {
                                        supported.join(", ")
                                    },
                                    name.name
                                )
                            } else {
                                format!(
                                    "it measures: {}; {} needs its own instrument: `spectrometer {} : {}` named by the cell",
                                    if supported.is_empty() {
                                        "nothing".to_owned()
                                    } else {
                                        supported.join(", ")
                                    },
                                    name.name,
                                    match kind {
                                        ChannelKind::Saxs => "saxs1",
                                        _ => "cd1",
                                    },
                                    match kind {
                                        ChannelKind::Saxs => "saxs_camera",
                                        _ => "cd_spectrometer",
                                    }
                                )
                            }),
                        );
                        continue;
                    }
                    match channel(kind, props.as_ref()) {
                        Ok(c) => measurement.channels.push(Channel { light, ..c }),
                        Err(mut ds) => errors.append(&mut ds),
                    }
                }
            }
        }
        if let Some(t) = &measurement.transient {
            errors.extend(super::transient::transient_fits(&measurement, t));
        }
        if spectrometer.is_none() && !self.is_poisoned(&format!("device:{}", m.cell.name)) {
            errors.push(
                Diagnostic::error(
                    code::CELL_WITHOUT_SPECTROMETER,
                    format!("cell `{}` has no spectrometer", m.cell.name),
                )
                .at(m.cell.span)
                .help("attach one: `cell s1 : flow_cell { spectrometer spec1 }`"),
            );
        }
        let channel_failed = self
            .poisoned
            .borrow()
            .iter()
            .any(|k| k.starts_with("channel:"));
        if measurement.channels.is_empty() && spectrometer.is_some() && !channel_failed {
            errors.push(
                Diagnostic::error(code::NO_CHANNELS, "the measurement reads no spectrum")
                    .at(m.span)
                    .help("add `absorbance { integration 50 ms, average 5 }` or `photoluminescence { integration 100 ms, average 5 }`"),
            );
        }
        let broken = self.is_poisoned("topology")
            || self
                .poisoned
                .borrow()
                .iter()
                .any(|k| k.starts_with("device:"));
        if !broken {
            errors.extend(self.unmeasured_lines(cell, m.cell.span));
        }
        self.topology.ways = self.ways_to(cell);
        match self.reactor_volume_to(cell) {
            Ok(v) => self.topology.reactor_volume = Some(v),
            Err(_) if broken => {}
            Err(why) => errors.push(
                Diagnostic::error(code::UNKNOWN_REACTOR_VOLUME, format!("the reactor volume up to `{}` is unknown: {why}", m.cell.name))
                    .at(m.span)
                    .help("the steady-state wait counts reactor volumes, so every device between the mixer and the cell needs a `volume`"),
            ),
        }
        // After the ways and the reactor volume: the carrier's way and the train's room.
        if let Some(d) = &measurement.droplets {
            errors.extend(self.droplets_fit(&measurement, d));
        }
        for d in errors {
            self.error(d);
        }
        // A virtual lab measures nothing: the block is checked as written and warned about
        // (`unused_by_virtual_lab`), but no run waits for it or takes its spectra.
        if self.virtual_lab().is_none() {
            self.measurement = Some(measurement);
        }
    }

    /// A pump whose flow reaches a cell but not `cell`, the one measured: a second line beside
    /// the measured one. The plan would drive its pump and count its reagent, but no experiment
    /// measures what it makes (parallel lines are copies of the one line, `lines a, b`). A pump
    /// that reaches no cell at all is `unmeasured_pump`'s.
    fn unmeasured_lines(&self, cell: DeviceId, cell_span: Span) -> Vec<Diagnostic> {
        let Some(cell_name) = self.devices.get(cell).map(|d| d.name.as_str()) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for path in &self.topology.paths {
            if path.devices.contains(&cell) {
                continue;
            }
            let other = path
                .devices
                .iter()
                .filter_map(|d| self.devices.get(*d))
                .find(|d| d.role == Role::Cell);
            let (Some(pump), Some(other)) = (self.devices.get(path.pump), other) else {
                continue;
            };
            let mut d = Diagnostic::error(
                code::UNMEASURED_LINE,
                format!(
                    "pump `{}` feeds `{}`, but the campaign measures at `{cell_name}`",
                    pump.name, other.name
                ),
            );
            // The pump's first connection: where its line leaves the measured one.
            match self
                .edge_at
                .iter()
                .find(|((from, _), _)| *from == path.pump)
            {
                Some((_, at)) => d = d.label(*at, format!("`{}` flows this way", pump.name)),
                None => d = d.label(pump.span, "never reaches the measured cell"),
            }
            d = d.label(cell_span, "the only cell measured");
            out.push(d.help(format!(
                "connect `{}` into the line that reaches `{cell_name}`; to run experiments side by side, declare one line and name its copies with `lines a, b`",
                pump.name
            )));
        }
        out
    }

    /// The reference dye's line: measured against the blank (its absorbance needs the
    /// blank's reference spectrum, and only a blank clears the dye from the cell before the
    /// next reference), for the one dye the proxies name, from a pump that feeds no experiment.
    pub(super) fn reference_lines(&mut self) {
        let Some(m) = self.measurement.clone() else {
            return;
        };
        let Some(line) = &m.reference_dye else {
            return;
        };
        let mut found = Vec::new();
        if m.blank.is_none() {
            found.push(
                Diagnostic::error(
                    code::REFERENCE_DYE,
                    "the dye is measured against the blank, and the measurement declares none",
                )
                .at(line.span)
                .help("add `blank { pump p_wash, rate 500 uL/min, volumes 2 }`: solvent through the cell before the dark and reference spectra, and after the dye"),
            );
        }
        let dyes: std::collections::BTreeSet<&str> = self
            .proxies
            .iter()
            .filter_map(|p| match &p.definition {
                ProxyDefinition::Builtin {
                    function: SpectralFunction::RelativePlqy { reference, .. },
                } => Some(reference.name.as_str()),
                _ => None,
            })
            .collect();
        // A proxy that did not check may be the one that names the dye: no verdict on it.
        let a_proxy_failed = self
            .poisoned
            .borrow()
            .iter()
            .any(|k| k.starts_with("proxy:"));
        match dyes.len() {
            0 if a_proxy_failed => {}
            0 => found.push(
                Diagnostic::warning(
                    code::REFERENCE_DYE,
                    "no proxy compares with a reference dye: the dye would be measured for nothing",
                )
                .at(line.span)
                .help("use it in a proxy (`relative_plqy(photoluminescence, absorbance, excitation: 365 nm, reference: std.reference.quinine_sulfate)`) or remove the line"),
            ),
            1 => {}
            _ => found.push(
                Diagnostic::error(
                    code::REFERENCE_DYE,
                    format!(
                        "the proxies compare with {} dyes ({}); one `reference_dye` line measures one",
                        dyes.len(),
                        dyes.iter().copied().collect::<Vec<_>>().join(", ")
                    ),
                )
                .at(line.span)
                .help("compare every relative PLQY with the same reference dye"),
            ),
        }
        let feeds = self.derived.iter().any(|d| {
            matches!(&d.target, DerivedTarget::Setting { device, setting, .. } if *device == line.pump && setting == "rate")
        });
        if feeds {
            let name = self.devices.get(line.pump).map_or("", |d| d.name.as_str());
            found.push(
                Diagnostic::error(
                    code::REFERENCE_DYE,
                    format!("`{name}` feeds the experiments (`{name}.rate` is derived), so it cannot hold the reference dye"),
                )
                .at(line.span)
                .help("give the dye its own pump, upstream of the cell, that nothing derives"),
            );
        }
        for d in found {
            self.diags.push(d);
        }
    }

    /// A line that runs one pump alone: `flush { pump p_wash, rate 500 uL/min, volumes 2 }`,
    /// `blank { pump p_wash, rate 500 uL/min, volumes 2, every 2 h }`, `reference_dye { pump
    /// p_dye, rate 200 uL/min, volumes 2 }`. Only a blank repeats (`every`).
    ///
    /// A wrong `every` still gives the line (without the repeat) next to its error, so the
    /// checks that need a blank do not also report it missing.
    fn pumped(
        &self,
        what: &'static str,
        props: Option<&ast::Props>,
        span: Span,
    ) -> Result<(Flush, Vec<Diagnostic>), Vec<Diagnostic>> {
        let code = match what {
            "blank" => code::BLANK,
            "reference_dye" => code::REFERENCE_DYE,
            _ => code::FLUSH,
        };
        let a = if what == "flush" {
            "a flush"
        } else {
            "the line"
        };
        let known: &[&str] = if what == "blank" {
            &["pump", "rate", "volumes", "every"]
        } else {
            &["pump", "rate", "volumes"]
        };
        let example = match what {
            "blank" => "e.g. `blank { pump p_wash, rate 500 uL/min, volumes 2, every 2 h }`",
            "reference_dye" => "e.g. `reference_dye { pump p_dye, rate 200 uL/min, volumes 2 }`",
            _ => "e.g. `flush { pump p_wash, rate 500 uL/min, volumes 2 }`",
        };
        let (mut errors, mut every_errors) = (Vec::new(), Vec::new());
        let (mut pump, mut rate, mut volumes, mut every) = (None, None, None, None);
        for p in props.iter().flat_map(|p| p.entries.iter()) {
            let ast::PropValue::Expr(e) = &p.value else {
                errors.push(
                    Diagnostic::error(code, format!("a `{what}` property is a single value"))
                        .at(p.span),
                );
                continue;
            };
            match p.name.name.as_str() {
                "pump" => match &e.kind {
                    ExprKind::Path(path) if path.segments.len() == 1 => {
                        let ident = ast::Ident {
                            name: path.dotted(),
                            span: path.span,
                        };
                        match self.find_device(&ident, Some(Role::Pump)) {
                            Ok(id) => pump = Some(id),
                            Err(d) => errors.push(d),
                        }
                    }
                    _ => errors.push(
                        Diagnostic::error(code, format!("`pump` names the pump of `{what}`"))
                            .at(e.span),
                    ),
                },
                "rate" => match quantity_of(Dimension::FLOW_RATE, e) {
                    Ok((r, _)) if r > 0.0 => rate = Some(r),
                    Ok(_) => errors.push(
                        Diagnostic::error(code, format!("the `{what}` rate must be above zero"))
                            .at(e.span),
                    ),
                    Err(d) => errors.push(d),
                },
                "volumes" => match quantity_of(Dimension::DIMENSIONLESS, e) {
                    Ok((v, _)) if v > 0.0 && v <= 100.0 => volumes = Some(v),
                    Ok(_) => errors.push(
                        Diagnostic::error(
                            code,
                            format!("`{what}` runs between 0 and 100 reactor volumes"),
                        )
                        .at(e.span),
                    ),
                    Err(d) => errors.push(d),
                },
                "every" if what == "blank" => match quantity_of(Dimension::TIME, e) {
                    Ok((t, _)) if (60.0..=super::durations::MAX_WAIT_S).contains(&t) => {
                        every = Some(t)
                    }
                    Ok(_) => every_errors.push(
                        Diagnostic::error(
                            code,
                            "the blank repeats between every minute and every 7 days",
                        )
                        .at(e.span)
                        .help("the calibration is taken again between experiments once this much lab time has passed"),
                    ),
                    Err(d) => every_errors.push(d),
                },
                other => {
                    let d = Diagnostic::error(
                        code::UNKNOWN_PROPERTY,
                        format!("`{what}` has no property `{other}`"),
                    )
                    .at(p.name.span);
                    errors.push(match closest(other, known.iter().copied()) {
                        Some(s) => d.did_you_mean(p.name.span, s),
                        None => d.help(format!(
                            "`{what}` takes {}",
                            known
                                .iter()
                                .map(|k| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    });
                }
            }
        }
        if !errors.is_empty() {
            errors.append(&mut every_errors);
            return Err(errors);
        }
        match (pump, rate, volumes) {
            (Some(pump), Some(rate), Some(volumes)) => {
                if let Some(spec) = self.devices.get(pump).and_then(|d| d.setting("rate"))
                    && (rate > spec.hi || rate < spec.lo)
                {
                    every_errors.insert(
                        0,
                        Diagnostic::error(
                            code::OUT_OF_LIMITS,
                            format!(
                                "the `{what}` rate {} is outside the pump's limits {} .. {}",
                                spec.unit.format(rate),
                                spec.unit.format(spec.lo),
                                spec.unit.format(spec.hi)
                            ),
                        )
                        .at(span),
                    );
                    return Err(every_errors);
                }
                Ok((
                    Flush {
                        pump,
                        rate,
                        volumes,
                        every,
                        span,
                    },
                    every_errors,
                ))
            }
            _ => {
                every_errors.insert(
                    0,
                    Diagnostic::error(code, format!("{a} needs `pump`, `rate` and `volumes`"))
                        .at(span)
                        .help(example),
                );
                Err(every_errors)
            }
        }
    }

    /// `probe { along r1, at [25 uL, 50 uL, 100 uL] }`: the coil must lie on the way to
    /// `cell`, each point inside it (after its inlet, at most its volume), in increasing order.
    fn probe(
        &self,
        cell: DeviceId,
        props: Option<&ast::Props>,
        span: Span,
    ) -> Result<Probe, Vec<Diagnostic>> {
        const EXAMPLE: &str = "e.g. `probe { along r1, at [25 uL, 50 uL, 100 uL] }`: volumes of the coil from its inlet";
        const MAX_POINTS: usize = 100;
        let mut errors = Vec::new();
        let mut coil: Option<(DeviceId, Span)> = None;
        let mut written: Option<(&[ast::Expr], Span)> = None;
        for p in props.iter().flat_map(|p| p.entries.iter()) {
            let ast::PropValue::Expr(e) = &p.value else {
                errors.push(
                    Diagnostic::error(code::PROBE, "a probe property is a single value")
                        .at(p.span)
                        .help(EXAMPLE),
                );
                continue;
            };
            match p.name.name.as_str() {
                "along" => match &e.kind {
                    ExprKind::Path(path) if path.segments.len() == 1 => {
                        let ident = ast::Ident {
                            name: path.dotted(),
                            span: path.span,
                        };
                        match self.find_device(&ident, Some(Role::Coil)) {
                            Ok(id) => coil = Some((id, e.span)),
                            Err(d) => errors.push(d),
                        }
                    }
                    _ => errors.push(
                        Diagnostic::error(code::PROBE, "`along` names the coil the probe reads")
                            .at(e.span)
                            .help(EXAMPLE),
                    ),
                },
                "at" => match &e.kind {
                    ExprKind::List(items) if !items.is_empty() => {
                        written = Some((items.as_slice(), e.span));
                    }
                    _ => errors.push(
                        Diagnostic::error(code::PROBE, "`at` lists the points the probe reads")
                            .at(e.span)
                            .help(EXAMPLE),
                    ),
                },
                other => {
                    let d = Diagnostic::error(
                        code::UNKNOWN_PROPERTY,
                        format!("a probe has no property `{other}`"),
                    )
                    .at(p.name.span);
                    errors.push(match closest(other, ["along", "at"]) {
                        Some(s) => d.did_you_mean(p.name.span, s),
                        None => d.help("a probe takes `along` and `at`"),
                    });
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let (Some((coil, coil_span)), Some((items, list_span))) = (coil, written) else {
            return Err(vec![
                Diagnostic::error(code::PROBE, "a probe needs `along` and `at`")
                    .at(span)
                    .help(EXAMPLE),
            ]);
        };
        let coil_dev = self.devices.get(coil);
        let coil_name = coil_dev.map_or("?", |d| d.name.as_str());
        if !self
            .ways_to(cell)
            .iter()
            .any(|w| w.segments.iter().any(|s| s.device == coil))
        {
            let cell_name = self.devices.get(cell).map_or("?", |d| d.name.as_str());
            return Err(vec![
                Diagnostic::error(
                    code::PROBE,
                    format!("coil `{coil_name}` is not on the way to `{cell_name}`"),
                )
                .at(coil_span)
                .help(format!(
                    "the probe reads the coil the measured stream flows through before `{cell_name}`; name one that a connection leads to it"
                )),
            ]);
        }
        let capacity = coil_dev.map_or(0.0, Device::volume);
        if items.len() > MAX_POINTS {
            return Err(vec![
                Diagnostic::error(
                    code::PROBE,
                    format!(
                        "a probe reads at most {MAX_POINTS} points; this one lists {}",
                        items.len()
                    ),
                )
                .at(list_span),
            ]);
        }
        let mut points: Vec<ProbePoint> = Vec::new();
        for e in items {
            let volume = match quantity_of(Dimension::VOLUME, e) {
                Ok((v, _)) => v,
                Err(d) => {
                    errors.push(d.help(
                        "a point is the volume of the coil from its inlet to it, e.g. `50 uL`",
                    ));
                    continue;
                }
            };
            let unit = super::kinds::display_unit(
                super::kinds::written_unit(e),
                Dimension::VOLUME,
                Interpretation::Difference,
                volume,
            );
            if !(volume > 0.0 && volume <= capacity) {
                let cap = unit.format(capacity);
                errors.push(
                    Diagnostic::error(
                        code::PROBE_OUTSIDE_COIL,
                        format!(
                            "the point {} is outside `{coil_name}`, which holds {cap}",
                            unit.format(volume)
                        ),
                    )
                    .at(e.span)
                    .label(coil_span, format!("{cap} from inlet to outlet"))
                    .help(format!(
                        "a point is the volume from the coil's inlet: above 0 and at most {cap}"
                    )),
                );
                continue;
            }
            if let Some(prev) = points.last()
                && volume <= prev.volume
            {
                errors.push(
                    Diagnostic::error(
                        code::PROBE,
                        "the probe's points must increase along the coil",
                    )
                    .at(e.span)
                    .label(prev.span, "the point before")
                    .help("list the points from the coil's inlet to its outlet, each once"),
                );
                continue;
            }
            points.push(ProbePoint {
                volume,
                unit,
                residence: None,
                span: e.span,
            });
        }
        if errors.is_empty() {
            Ok(Probe { coil, points, span })
        } else {
            Err(errors)
        }
    }

    /// `route { valve v1, collect 2, waste 1 }`
    fn route(&self, props: Option<&ast::Props>, span: Span) -> Result<Route, Vec<Diagnostic>> {
        let mut errors = Vec::new();
        let (mut valve, mut collect, mut waste) = (None, None, None);
        for p in props.iter().flat_map(|p| p.entries.iter()) {
            let ast::PropValue::Expr(e) = &p.value else {
                errors.push(
                    Diagnostic::error(code::ROUTE, "a route property is a single value").at(p.span),
                );
                continue;
            };
            let position = |e: &ast::Expr| match &e.kind {
                ExprKind::Number(n)
                    if n.value.fract() == 0.0 && (1.0..=64.0).contains(&n.value) =>
                {
                    Ok(n.value as u16)
                }
                _ => Err(Diagnostic::error(
                    code::ROUTE,
                    "a valve position is a whole number from 1",
                )
                .at(e.span)),
            };
            match p.name.name.as_str() {
                "valve" => match &e.kind {
                    ExprKind::Path(path) if path.segments.len() == 1 => {
                        let ident = ast::Ident {
                            name: path.dotted(),
                            span: path.span,
                        };
                        match self.find_device(&ident, Some(Role::Valve)) {
                            Ok(id) => valve = Some(id),
                            Err(d) => errors.push(d),
                        }
                    }
                    _ => errors.push(
                        Diagnostic::error(code::ROUTE, "`valve` names the valve that routes")
                            .at(e.span),
                    ),
                },
                "collect" => match position(e) {
                    Ok(x) => collect = Some(x),
                    Err(d) => errors.push(d),
                },
                "waste" => match position(e) {
                    Ok(x) => waste = Some(x),
                    Err(d) => errors.push(d),
                },
                other => {
                    let d = Diagnostic::error(
                        code::UNKNOWN_PROPERTY,
                        format!("a route has no property `{other}`"),
                    )
                    .at(p.name.span);
                    errors.push(match closest(other, ["valve", "collect", "waste"]) {
                        Some(s) => d.did_you_mean(p.name.span, s),
                        None => d.help("a route takes `valve`, `collect` and `waste`"),
                    });
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let (Some(valve), Some(collect), Some(waste)) = (valve, collect, waste) else {
            return Err(vec![
                Diagnostic::error(code::ROUTE, "a route needs `valve`, `collect` and `waste`")
                    .at(span)
                    .help("e.g. `route { valve v1, collect 2, waste 1 }`"),
            ]);
        };
        let positions = match self
            .devices
            .get(valve)
            .and_then(|d| d.property("positions"))
        {
            Some(PropertyValue::Integer(n)) => *n,
            _ => 2,
        };
        for (what, x) in [("collect", collect), ("waste", waste)] {
            if i64::from(x) > positions {
                errors.push(
                    Diagnostic::error(
                        code::ROUTE,
                        format!("the valve has {positions} positions; `{what}` names position {x}"),
                    )
                    .at(span),
                );
            }
        }
        if collect == waste {
            errors.push(
                Diagnostic::error(code::ROUTE, "`collect` and `waste` are the same position")
                    .at(span),
            );
        }
        if errors.is_empty() {
            Ok(Route {
                valve,
                collect,
                waste,
                names: BTreeMap::new(),
                span,
            })
        } else {
            Err(errors)
        }
    }

    pub(super) fn proxies(&mut self) {
        let decls: Vec<&'a ast::Proxy> = self
            .items
            .of(|i| match i {
                Item::Proxies(b) => Some(b),
                _ => None,
            })
            .into_iter()
            .flat_map(|b| b.entries.iter())
            .collect();
        let names: Vec<String> = decls.iter().map(|p| p.name.name.clone()).collect();
        let mut proxies: Vec<Proxy> = Vec::new();
        for (i, p) in decls.iter().enumerate() {
            if proxies.iter().any(|x| x.name == p.name.name) {
                self.error(
                    Diagnostic::error(
                        code::DUPLICATE_PROXY,
                        format!("proxy `{}` is defined twice", p.name.name),
                    )
                    .at(p.name.span),
                );
                continue;
            }
            let later: Vec<String> = names
                .get(i + 1..)
                .map(<[String]>::to_vec)
                .unwrap_or_default();
            match self.proxy(p, &proxies, &later) {
                Ok(x) => proxies.push(x),
                Err(d) => {
                    self.error(d);
                    self.poison(format!("proxy:{}", p.name.name));
                }
            }
        }
        self.proxies = proxies;
    }

    fn proxy(
        &mut self,
        p: &ast::Proxy,
        earlier: &[Proxy],
        later: &[String],
    ) -> Result<Proxy, Diagnostic> {
        let name = p.name.name.clone();
        match &p.definition {
            ProxyDef::Expr(e) => {
                if let ExprKind::Call { callee, args } = &e.kind
                    && let Some(proxy) = self.builtin_proxy(&name, callee, args, e.span, p.span)?
                {
                    return Ok(proxy);
                }
                if let ExprKind::Path(path) = &e.kind
                    && path.segments.first().is_some_and(|s| s.name == "readings")
                {
                    return self.reading_proxy(&name, path, p.span);
                }
                let scope = ProxyScope {
                    v: self,
                    proxies: earlier,
                    later,
                };
                let t = Typer { scope: &scope }.expr(e)?.as_point();
                let unit = super::kinds::display_unit(
                    super::kinds::written_unit(e),
                    t.ty.dim,
                    Interpretation::Difference,
                    1.0,
                );
                let unit = earlier
                    .iter()
                    .find(|x| x.dimension == t.ty.dim)
                    .map_or(unit, |x| x.unit.clone());
                Ok(Proxy {
                    name,
                    definition: ProxyDefinition::Formula { expr: t.expr },
                    dimension: t.ty.dim,
                    unit,
                    span: p.span,
                })
            }
            ProxyDef::ScriptFile(path) => {
                let (file, source) =
                    self.loaded
                        .read_relative(self.world, path.span, &path.value, "script")?;
                let id = self.add_source(&file, &source);
                let script = self.compile_script(
                    &source,
                    qdx_script::ScriptOrigin::File(file.clone()),
                    id,
                    0,
                )?;
                self.dry_run_proxy(&name, &script, earlier, id, 0)?;
                self.files.push(CampaignFile {
                    name: file.clone(),
                    role: FileRole::Script,
                    text: source.clone(),
                });
                Ok(Proxy {
                    name,
                    definition: ProxyDefinition::Script {
                        file: Some(file),
                        source,
                        origin: Span::new(id, 0, 0),
                    },
                    dimension: Dimension::DIMENSIONLESS,
                    unit: DisplayUnit::plain(),
                    span: p.span,
                })
            }
            ProxyDef::ScriptInline { source, span } => {
                let (file, start) = match span.file().zip(span.range()) {
                    Some((f, r)) => (f, r.start),
                    None => {
                        return Err(Diagnostic::error(
                            code::INTERNAL,
                            "inline script without position",
                        )
                        .at(p.span));
                    }
                };
                let script = self.compile_script(
                    source,
                    qdx_script::ScriptOrigin::Inline { offset: start },
                    file,
                    0,
                )?;
                self.dry_run_proxy(&name, &script, earlier, file, start)?;
                Ok(Proxy {
                    name,
                    definition: ProxyDefinition::Script {
                        file: None,
                        source: source.clone(),
                        origin: *span,
                    },
                    dimension: Dimension::DIMENSIONLESS,
                    unit: DisplayUnit::plain(),
                    span: p.span,
                })
            }
        }
    }

    /// Runs a proxy script on made-up inputs to find a result of the wrong type or a limit
    /// before the run (see `scripts`); `base` is where the script starts in `file` when its
    /// error has no position.
    fn dry_run_proxy(
        &self,
        name: &str,
        script: &qdx_script::Script,
        earlier: &[Proxy],
        file: crate::source::FileId,
        base: usize,
    ) -> Result<(), Diagnostic> {
        let earlier: Vec<String> = earlier.iter().map(|p| p.name.clone()).collect();
        let channels: Vec<ChannelKind> = self
            .measurement
            .as_ref()
            .map(|m| m.channels.iter().map(|c| c.kind).collect())
            .unwrap_or_default();
        match super::scripts::dry_run_proxy(
            script,
            &self.variables,
            &self.compositions,
            &earlier,
            &channels,
        ) {
            None => Ok(()),
            Some(failure) => {
                let at = failure.error.source_offset().unwrap_or(base);
                Err(failure
                    .diagnostic(
                        &format!("proxy `{name}`"),
                        "a proxy script must end with an expression that gives a number",
                    )
                    .label(Span::new(file, at, at + 1), failure.label()))
            }
        }
    }

    /// Compiles a script to report its syntax errors at their place in the campaign.
    fn compile_script(
        &self,
        source: &str,
        origin: qdx_script::ScriptOrigin,
        file: crate::source::FileId,
        base: usize,
    ) -> Result<qdx_script::Script, Diagnostic> {
        match qdx_script::Script::compile(source, origin) {
            Ok(script) => Ok(script.with_data(std::sync::Arc::clone(&self.data))),
            Err(e) => {
                let at = e.source_offset().unwrap_or(base);
                Err(
                    Diagnostic::error(code::SCRIPT, format!("script error: {}", e.message))
                        .label(Span::new(file, at, at + 1), "here")
                        .help(
                            "scripts are rhai; see `qdx-script`'s README for what a script may use",
                        ),
                )
            }
        }
    }

    /// `name = photoluminescence.fwhm()` or `name = relative_plqy(pl, abs, …)`.
    fn builtin_proxy(
        &self,
        name: &str,
        callee: &ast::Path,
        args: &[ast::Argument],
        call_span: Span,
        span: Span,
    ) -> Result<Option<Proxy>, Diagnostic> {
        let segs: Vec<&ast::Ident> = callee.segments.iter().collect();
        let (function, receiver) = match segs.as_slice() {
            [f] => (*f, None),
            [recv, f] if channel_kind(&recv.name).is_some() => (*f, Some(*recv)),
            _ => return Ok(None),
        };
        let Some(decl) = self.builtins.get(&function.name).copied() else {
            if self
                .loaded
                .diagnostics
                .iter()
                .any(|d| d.code == codes::load::UNKNOWN_MODULE)
            {
                return Err(super::follow_on());
            }
            if receiver.is_some()
                || !self.imported_std.iter().any(|m| m == "std.spectra")
                    && crate::load::STDLIB
                        .iter()
                        .any(|(_, t)| t.contains(&format!("builtin {}(", function.name)))
            {
                let d = Diagnostic::error(
                    code::UNKNOWN_FUNCTION,
                    format!("unknown spectral function `{}`", function.name),
                )
                .at(function.span);
                let known: Vec<&str> = self.builtins.keys().map(String::as_str).collect();
                return Err(if !self.imported_std.iter().any(|m| m == "std.spectra") {
                    d.help("spectral functions come from `use std.spectra`")
                } else {
                    match closest(&function.name, known.iter().copied()) {
                        Some(s) => d.did_you_mean(function.span, s),
                        None => d.help(format!("spectral functions: {}", known.join(", "))),
                    }
                });
            }
            return Ok(None);
        };
        // Line up arguments with parameters: the receiver first, then positional, then named.
        let mut given: BTreeMap<String, (&ast::Expr, Span)> = BTreeMap::new();
        let mut positional = decl.params.iter();
        let receiver_expr;
        if let Some(r) = receiver {
            receiver_expr = ast::Expr {
                kind: ExprKind::Path(ast::Path {
                    segments: vec![r.clone()],
                    span: r.span,
                }),
                span: r.span,
            };
            if let Some(first) = positional.next() {
                given.insert(first.name.name.clone(), (&receiver_expr, r.span));
            }
        }
        let mut named_seen = false;
        for a in args {
            match &a.name {
                Some(n) => {
                    named_seen = true;
                    if !decl.params.iter().any(|p| p.name.name == n.name) {
                        let known: Vec<&str> =
                            decl.params.iter().map(|p| p.name.name.as_str()).collect();
                        let d = Diagnostic::error(
                            code::UNKNOWN_ARGUMENT,
                            format!("`{}` has no argument `{}`", function.name, n.name),
                        )
                        .at(n.span);
                        return Err(match closest(&n.name, known.iter().copied()) {
                            Some(s) => d.did_you_mean(n.span, s),
                            None => d.help(format!("its arguments are: {}", known.join(", "))),
                        });
                    }
                    if given.insert(n.name.clone(), (&a.value, a.span)).is_some() {
                        return Err(Diagnostic::error(
                            code::DUPLICATE_ARGUMENT,
                            format!("argument `{}` is given twice", n.name),
                        )
                        .at(a.span));
                    }
                }
                None => {
                    if named_seen {
                        return Err(Diagnostic::error(
                            code::POSITIONAL_AFTER_NAMED,
                            "positional arguments come before named ones",
                        )
                        .at(a.span));
                    }
                    let Some(p) = positional.next() else {
                        return Err(Diagnostic::error(
                            code::TOO_MANY_ARGUMENTS,
                            format!("`{}` takes {} arguments", function.name, decl.params.len()),
                        )
                        .at(a.span));
                    };
                    given.insert(p.name.name.clone(), (&a.value, a.span));
                }
            }
        }
        let mut arguments = Arguments::default();
        for p in &decl.params {
            let Some((value, vspan)) = given.get(&p.name.name).copied() else {
                match &p.default {
                    Some(d) => {
                        if let Ok(t) = constant(d) {
                            arguments.0.insert(
                                p.name.name.clone(),
                                Argument::Number(t.as_point().expr.eval(&super::kinds::NoEnv)),
                            );
                        }
                        continue;
                    }
                    None => {
                        return Err(Diagnostic::error(
                            code::MISSING_ARGUMENT,
                            format!(
                                "`{}` needs the argument `{}` ({})",
                                function.name, p.name.name, p.ty.name
                            ),
                        )
                        .label(call_span, "missing an argument")
                        .label(p.span, "declared here"));
                    }
                }
            };
            let Some(ty) = ParamType::parse(&p.ty.name) else {
                return Err(Diagnostic::error(
                    code::UNKNOWN_TYPE,
                    format!("unknown parameter type `{}`", p.ty.name),
                )
                .label(p.ty.span, "not a parameter type")
                .help("a spectral function takes `spectrum`, `absorbance_spectrum`, `photoluminescence_spectrum`, `saxs_pattern`, `cd_spectrum`, `reference`, or a quantity kind such as `wavelength` or `number`"));
            };
            let expects = |what: &str, found: &str| {
                Diagnostic::error(
                    code::ARGUMENT_TYPE,
                    format!(
                        "`{}` expects {what} for `{}`, found {found}",
                        function.name, p.name.name
                    ),
                )
                .label(vspan, found.to_owned())
            };
            let spectrum_named = match &value.kind {
                ExprKind::Path(path) => channel_kind(&path.dotted()),
                _ => None,
            };
            match ty {
                ParamType::Spectrum(wanted) => {
                    let Some(kind) = spectrum_named else {
                        return Err(expects(ty.describe(), &found_kind(value)).help(
                            match wanted {
                                Some(k) => format!("pass the measured `{}`", k.name()),
                                None => {
                                    "pass a measured spectrum: `absorbance` or `photoluminescence`"
                                        .to_owned()
                                }
                            },
                        ));
                    };
                    if wanted.is_none() && !kind.takes_light() {
                        return Err(expects(ty.describe(), &spectrum_article(kind)).help(
                            format!(
                                "`{}` reads an optical spectrum over wavelength; {} has its own functions: {}",
                                function.name,
                                spectrum_article(kind),
                                match kind {
                                    ChannelKind::Saxs => "`guinier_radius`, `sphere_radius`",
                                    _ => "`cd_extremum`, `anisotropy`",
                                }
                            ),
                        ));
                    }
                    if let Some(w) = wanted
                        && w != kind
                    {
                        return Err(
                            expects(ty.describe(), &spectrum_article(kind)).help(format!(
                                "`{}` reads {}: pass `{}`",
                                function.name,
                                spectrum_article(w),
                                w.name()
                            )),
                        );
                    }
                    let measured = self
                        .measurement
                        .as_ref()
                        .is_none_or(|m| m.channels.iter().any(|c| c.kind == kind));
                    if !measured {
                        if self.is_poisoned(&format!("channel:{}", kind.name())) {
                            return Err(super::follow_on());
                        }
                        return Err(Diagnostic::error(
                            code::CHANNEL_NOT_MEASURED,
                            format!("`{}` is not measured", kind.name()),
                        )
                        .at(vspan)
                        .help(format!(
                            "add `{} {{ integration 100 ms, average 5 }}` to the `measure` block",
                            kind.name()
                        )));
                    }
                    arguments
                        .0
                        .insert(p.name.name.clone(), Argument::Spectrum(kind));
                }
                ParamType::Reference => {
                    if let Some(kind) = spectrum_named {
                        return Err(expects(ty.describe(), &spectrum_article(kind))
                            .help("e.g. `reference: std.reference.coumarin153`"));
                    }
                    let ExprKind::Path(path) = &value.kind else {
                        return Err(expects(ty.describe(), &found_kind(value))
                            .help("e.g. `reference: std.reference.coumarin153`"));
                    };
                    arguments.0.insert(
                        p.name.name.clone(),
                        Argument::Reference(self.reference(path)?),
                    );
                }
                ParamType::Quantity(dim) => {
                    // In the words of the declaration: "a wavelength", not "a length".
                    let wanted = match p.ty.name.as_str() {
                        "number" => "a plain number".to_owned(),
                        name => {
                            let name = name.replace('_', " ");
                            let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
                                "an"
                            } else {
                                "a"
                            };
                            format!("{article} {name}")
                        }
                    };
                    let help = match dim.example() {
                        _ if dim.is_dimensionless() => "write a number without a unit".to_owned(),
                        Some(e) => format!("write {wanted} with its unit, e.g. {e}"),
                        None => format!("write {}", dim.hint()),
                    };
                    if let Some(kind) = spectrum_named {
                        return Err(expects(&wanted, &spectrum_article(kind)).help(help));
                    }
                    let typed = constant(value)?.as_point().as_difference();
                    if typed.ty.dim != dim {
                        return Err(expects(&wanted, &typed.ty.describe()).help(help));
                    }
                    let (si, _) = quantity_of(dim, value)?;
                    if dim == Dimension::LENGTH {
                        self.within_spectrometer(si, vspan)?;
                    }
                    arguments
                        .0
                        .insert(p.name.name.clone(), Argument::Number(si));
                }
            }
        }
        let Some(resolved) = arguments.resolve(&function.name) else {
            return Err(Diagnostic::error(
                code::UNIMPLEMENTED_FUNCTION,
                format!(
                    "qdx has no implementation of `{}` as it is declared",
                    function.name
                ),
            )
            .label(call_span, "this proxy could never be computed")
            .label(decl.name.span, "declared here")
            .help(format!(
                "compute it with a proxy script, which reads the measured spectra: `{name} = script \"proxies/{name}.rhai\"`"
            )));
        };
        if let SpectralFunction::RelativePlqy { sample_index, .. } = &resolved
            && !(1.0..=3.0).contains(sample_index)
        {
            return Err(Diagnostic::error(
                code::ARGUMENT_RANGE,
                format!(
                    "a refractive index of {} is not a solvent's",
                    qdx_units::format_number(*sample_index)
                ),
            )
            .at(call_span)
            .help("`sample_index` is the refractive index of the sample's solvent, between 1 and 3 (toluene 1.496, hexane 1.375, water 1.333)"));
        }
        if let SpectralFunction::IntegratedArea { from, to, .. } = &resolved
            && from >= to
        {
            return Err(Diagnostic::error(
                code::EMPTY_RANGE,
                format!(
                    "`{}` integrates from a wavelength above where it stops",
                    function.name
                ),
            )
            .at(call_span)
            .help("`from` must be below `to`"));
        }
        let Some((dimension, unit)) = return_type(&decl.returns.name) else {
            return Err(Diagnostic::error(
                code::UNKNOWN_TYPE,
                format!("unknown return type `{}`", decl.returns.name),
            )
            .at(decl.returns.span));
        };
        if self.measurement.is_none() {
            if self.is_poisoned("measurement") {
                return Err(super::follow_on());
            }
            if let Some(lab) = self.virtual_lab() {
                return Err(Diagnostic::error(
                    code::NO_MEASUREMENT,
                    format!(
                        "`{}` needs a measured spectrum, but `simulate {lab}` measures none",
                        function.name
                    ),
                )
                .at(call_span)
                .help("a virtual lab reports numbers: read them as `readings.<name>`"));
            }
            return Err(Diagnostic::error(
                code::NO_MEASUREMENT,
                format!(
                    "`{}` needs a measured spectrum, but nothing is measured",
                    function.name
                ),
            )
            .at(call_span)
            .help("add a `measure at <cell> { … }` block"));
        }
        Ok(Some(Proxy {
            name: name.to_owned(),
            definition: ProxyDefinition::Builtin { function: resolved },
            dimension,
            unit: DisplayUnit::new(unit, Interpretation::Difference),
            span,
        }))
    }

    /// A wavelength at which a spectrum is read must be one the spectrometer measures.
    fn within_spectrometer(&self, si: f64, span: Span) -> Result<(), Diagnostic> {
        self.within_range_of(
            self.measurement.as_ref().and_then(|m| m.spectrometer),
            si,
            span,
        )
    }

    /// A wavelength must be one `spectrometer` measures.
    pub(super) fn within_range_of(
        &self,
        spectrometer: Option<DeviceId>,
        si: f64,
        span: Span,
    ) -> Result<(), Diagnostic> {
        let Some(spec) = spectrometer.and_then(|s| self.devices.get(s)) else {
            return Ok(());
        };
        let Some(PropertyValue::Range { lo, hi, unit }) = spec.property("range") else {
            return Ok(());
        };
        if (*lo..=*hi).contains(&si) {
            return Ok(());
        }
        Err(Diagnostic::error(
            code::WAVELENGTH_RANGE,
            format!(
                "{} lies outside what `{}` measures ({} .. {})",
                unit.format(si),
                spec.name,
                unit.format(*lo),
                unit.format(*hi)
            ),
        )
        .label(span, "not on the measured spectrum")
        .help(format!(
            "choose a wavelength within {} .. {}, or widen the `range` of `{}`",
            unit.format(*lo),
            unit.format(*hi),
            spec.name
        )))
    }

    fn reference(&self, path: &ast::Path) -> Result<ReferenceDye, Diagnostic> {
        let dotted = path.dotted();
        let found = self.references.get(&dotted).or_else(|| {
            // A bare name works when the reference module is imported, or when declared locally.
            self.references
                .iter()
                .find(|(k, (_, short))| {
                    *short == dotted
                        && (!k.contains('.')
                            || self.imported_std.iter().any(|m| k.starts_with(m.as_str())))
                })
                .map(|(_, v)| v)
        });
        let Some((decl, short)) = found else {
            let known: Vec<&str> = self.references.keys().map(String::as_str).collect();
            let d = Diagnostic::error(
                code::UNKNOWN_REFERENCE,
                format!("unknown reference dye `{dotted}`"),
            )
            .at(path.span);
            return Err(match closest(&dotted, known.iter().copied()) {
                Some(s) => d.did_you_mean(path.span, s),
                None if known.is_empty() => d.help(
                    "reference dyes come from `use std.reference` or a `reference` declaration",
                ),
                None => d.help(format!("known references: {}", known.join(", "))),
            });
        };
        let number = |key: &str| -> Result<Option<f64>, Diagnostic> {
            match decl.props.get(key) {
                Some(ast::Prop {
                    value: ast::PropValue::Expr(e),
                    ..
                }) => Ok(Some(quantity_of(Dimension::DIMENSIONLESS, e)?.0)),
                Some(p) => Err(Diagnostic::error(
                    code::PROPERTY_TYPE,
                    format!("`{key}` is a number"),
                )
                .at(p.span)),
                None => Ok(None),
            }
        };
        let quantum_yield = number("quantum_yield")?.ok_or_else(|| {
            Diagnostic::error(
                code::REFERENCE_INCOMPLETE,
                format!("reference `{short}` has no `quantum_yield`"),
            )
            .at(decl.span)
        })?;
        if !(0.0..=1.0).contains(&quantum_yield) {
            return Err(Diagnostic::error(
                code::REFERENCE_QY,
                "a quantum yield lies between 0 and 1",
            )
            .at(decl.span));
        }
        let refractive_index = number("refractive_index")?.unwrap_or(1.0);
        let solvent = match decl.props.get("solvent") {
            Some(ast::Prop {
                value:
                    ast::PropValue::Expr(ast::Expr {
                        kind: ExprKind::String(s),
                        ..
                    }),
                ..
            }) => Some(s.clone()),
            _ => None,
        };
        let wavelength = |key: &str| -> Result<Option<f64>, Diagnostic> {
            match decl.props.get(key) {
                Some(ast::Prop {
                    value: ast::PropValue::Expr(e),
                    ..
                }) => Ok(Some(quantity_of(Dimension::LENGTH, e)?.0)),
                _ => Ok(None),
            }
        };
        Ok(ReferenceDye {
            name: short.clone(),
            quantum_yield,
            refractive_index,
            solvent,
            excitation: wavelength("excitation")?,
            absorption: wavelength("absorption")?,
            emission: wavelength("emission")?,
        })
    }

    /// `name = readings.yield`: a value a virtual lab (table or script model) reports.
    fn reading_proxy(&self, name: &str, path: &ast::Path, span: Span) -> Result<Proxy, Diagnostic> {
        let reading = path.segments.get(1).map(|s| s.name.clone());
        let readings = match self.simulation.as_ref().map(|s| s.model.readings()) {
            Some(readings) if !readings.is_empty() => readings,
            _ if self.is_poisoned("simulation") => return Err(super::follow_on()),
            _ => {
                return Err(Diagnostic::error(code::NO_READINGS, "`readings` come from a virtual lab (`simulate table` or `simulate script`)")
                    .at(path.span)
                    .help("with a reactor, compute proxies from spectra, e.g. `photoluminescence.peak_wavelength()`"));
            }
        };
        let Some(reading) = reading.filter(|_| path.segments.len() == 2) else {
            return Err(Diagnostic::error(
                code::READING_NAME,
                "name one reading: `readings.<name>`",
            )
            .at(path.span));
        };
        let Some(found) = readings.iter().find(|r| r.name == reading) else {
            let d = Diagnostic::error(
                code::UNKNOWN_READING,
                format!("the virtual lab does not report `{reading}`"),
            )
            .at(path.span);
            let names: Vec<&str> = readings.iter().map(|r| r.name.as_str()).collect();
            return Err(match closest(&reading, names.iter().copied()) {
                Some(s) => d.help(format!("did you mean `readings.{s}`?")),
                None => d.help(format!("it reports: {}", names.join(", "))),
            });
        };
        Ok(Proxy {
            name: name.to_owned(),
            definition: ProxyDefinition::Reading { name: reading },
            dimension: found.unit.unit.dimension(),
            unit: found.unit.clone(),
            span,
        })
    }
}

/// `3 reactor_volumes`, `90 s`, `2 reactor_volumes + 30 s`.
fn steady_state(e: &ast::Expr) -> Result<(f64, f64), Diagnostic> {
    let mut volumes = 0.0;
    let mut extra = 0.0;
    let mut terms = vec![e];
    while let Some(t) = terms.pop() {
        match &t.kind {
            ExprKind::Binary {
                op: ast::BinaryOp::Add,
                left,
                right,
            } => {
                terms.push(left);
                terms.push(right);
            }
            ExprKind::Quantity { number, unit, .. }
                if matches!(
                    unit.as_str(),
                    "reactor_volumes" | "reactor_volume" | "volumes"
                ) =>
            {
                volumes += number.value;
            }
            ExprKind::Number(_) => {
                return Err(Diagnostic::error(code::MISSING_UNIT, "this number has no unit")
                    .label(t.span, "reactor volumes or a time?")
                    .help("write `3 reactor_volumes` (volumes of the reactor flushed through the cell) or a time such as `90 s`"));
            }
            _ => {
                let (s, _) = quantity_of(Dimension::TIME, t)
                    .map_err(|d| d.help("write `3 reactor_volumes` or a time such as `90 s`"))?;
                extra += s;
            }
        }
    }
    if volumes < 0.0 || extra < 0.0 || (volumes == 0.0 && extra == 0.0) {
        return Err(Diagnostic::error(
            code::STEADY_STATE,
            "the steady-state wait must be longer than zero",
        )
        .at(e.span));
    }
    // The reactor volumes are bounded with the flows, once they are proven (`durations`).
    super::durations::check_time(
        "the time added to the steady-state wait",
        extra,
        super::durations::MAX_WAIT_S,
        e.span,
        "a single wait lasts at most 7 days",
    )?;
    Ok((volumes, extra))
}

fn channel(kind: ChannelKind, props: Option<&ast::Props>) -> Result<Channel, Vec<Diagnostic>> {
    let mut c = Channel {
        kind,
        integration: 0.1,
        averages: 1,
        light: None,
    };
    let mut errors = Vec::new();
    for p in props.iter().flat_map(|p| p.entries.iter()) {
        match (p.name.name.as_str(), &p.value) {
            ("integration", ast::PropValue::Expr(e)) => match quantity_of(Dimension::TIME, e) {
                Ok((s, _)) if (1e-4..=60.0).contains(&s) => c.integration = s,
                Ok(_) => errors.push(
                    Diagnostic::error(
                        code::INTEGRATION,
                        "the integration time must lie within 0.1 ms .. 60 s",
                    )
                    .at(e.span),
                ),
                Err(d) => errors.push(d),
            },
            ("average" | "averages", ast::PropValue::Expr(e)) => match &e.kind {
                ExprKind::Number(n)
                    if n.value.fract() == 0.0 && (1.0..=10_000.0).contains(&n.value) =>
                {
                    c.averages = n.value as u32
                }
                _ => errors.push(
                    Diagnostic::error(
                        code::AVERAGE,
                        "`average` is a whole number of scans between 1 and 10000",
                    )
                    .at(e.span),
                ),
            },
            (other, _) => {
                let d = Diagnostic::error(
                    code::UNKNOWN_PROPERTY,
                    format!("a measurement has no property `{other}`"),
                )
                .at(p.name.span);
                errors.push(match closest(other, ["integration", "average"]) {
                    Some(s) => d.did_you_mean(p.name.span, s),
                    None => d.help("a measurement takes `integration` (a time) and `average` (a number of scans)"),
                });
            }
        }
    }
    if errors.is_empty() {
        Ok(c)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::{Argument, Arguments, ChannelKind, SpectralFunction};

    /// A call to `name` with a spectrum, and optionally a parameter qdx does not know.
    fn call(extra: bool) -> Arguments {
        let mut a = Arguments::default();
        a.0.insert(
            "spectrum".into(),
            Argument::Spectrum(ChannelKind::Photoluminescence),
        );
        if extra {
            a.0.insert("window".into(), Argument::Number(2e-9));
        }
        a
    }

    #[test]
    fn a_builtin_resolves_only_to_a_function_qdx_computes_with_its_parameters() {
        assert_eq!(
            call(false).resolve("fwhm"),
            Some(SpectralFunction::Fwhm {
                spectrum: ChannelKind::Photoluminescence
            })
        );
        // A parameter the runtime would never read, one it needs, a function it lacks.
        assert_eq!(call(true).resolve("fwhm"), None);
        assert_eq!(call(false).resolve("integrated_area"), None);
        assert_eq!(call(false).resolve("centroid"), None);
    }
}
