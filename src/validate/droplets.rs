//! `droplets { carrier …, volume …, spacing …, count …, every …, hold …, detect { … } }` in
//! `measure`: segmented (droplet) flow, checked into a [`Droplets`].
//!
//! What is proven here, so that the planner and the runtime only read it: the carrier is a
//! pump nothing derives, on the way to the cell, and its limits hold the experiment's total
//! flow over the whole variable box (it replaces the reagents at that flow between droplets);
//! the train is whole (volume, spacing, count, interval above zero); the detection channel is
//! measured and its wavelength is on the spectrometer's range; one reading of every channel
//! fits in `every`; a droplet stays in the cell for at least two readings at the highest total
//! flow the derived rates reach, so no droplet passes unseen; with a stop (`hold`), the whole
//! train is still before the cell when the flow stops. Whether a droplet's signal clears the
//! threshold depends on the chemistry: the simulated run shows it, and the runtime reports a
//! droplet it did not detect as missing rather than guessing.

use super::Validator;
use super::bounds::{Proof, Region};
use super::campaign::*;
use super::expr::TExpr;
use super::kinds::quantity_of;
use crate::diagnostic::Diagnostic;
use crate::diagnostic::codes::validate as code;
use crate::names::closest;
use crate::source::Span;
use crate::syntax::ast::{self, ExprKind};
use qdx_units::{Dimension, Interval};

const EXAMPLE: &str = "e.g. `droplets { carrier p_oil, volume 2 uL, spacing 4 uL, count 8, every 1 s, detect { channel absorbance, at 450 nm, above 0.05 } }`";
const PROPERTIES: [&str; 7] = [
    "carrier", "volume", "spacing", "count", "every", "hold", "detect",
];
const DETECT: [&str; 3] = ["channel", "at", "above"];

/// Readings a droplet must stay in the cell for, at the highest total flow: one could fall on
/// its edge, where the cell holds part droplet, part carrier.
pub const READINGS_PER_DROPLET: f64 = 2.0;

/// A single-word value (`p_oil`, `absorbance`), or `None`.
fn word(e: &ast::Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Path(path) if path.segments.len() == 1 => Some(path.dotted()),
        _ => None,
    }
}

/// An unknown property, with the closest known one.
fn unknown(what: &str, name: &ast::Ident, known: &[&str]) -> Diagnostic {
    let d = Diagnostic::error(
        code::UNKNOWN_PROPERTY,
        format!("{what} has no property `{}`", name.name),
    )
    .at(name.span);
    match closest(&name.name, known.iter().copied()) {
        Some(s) => d.did_you_mean(name.span, s),
        None => d.help(format!(
            "{what} takes {}",
            known
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// A quantity of `dim` above zero (or zero too, with `zero`).
fn positive(dim: Dimension, e: &ast::Expr, what: &str, zero: bool) -> Result<f64, Diagnostic> {
    let (v, _) = quantity_of(dim, e)?;
    if v > 0.0 || (zero && v == 0.0) {
        Ok(v)
    } else {
        Err(Diagnostic::error(code::DROPLETS, format!("{what} must be above zero")).at(e.span))
    }
}

impl Validator<'_> {
    /// Reads a `droplets` entry of `measure`.
    pub(super) fn droplets(
        &self,
        props: Option<&ast::Props>,
        span: Span,
    ) -> Result<Droplets, Vec<Diagnostic>> {
        let mut errors = Vec::new();
        let mut carrier = None;
        let (mut volume, mut spacing, mut every, mut count) = (None, None, None, None);
        let mut hold = 0.0;
        let mut detect = None;
        for p in props.iter().flat_map(|p| p.entries.iter()) {
            let e = match &p.value {
                ast::PropValue::Expr(e) => e,
                ast::PropValue::Props(inner) if p.name.name == "detect" => {
                    match self.detection(inner, p.span) {
                        Ok(d) => detect = Some(d),
                        Err(mut ds) => errors.append(&mut ds),
                    }
                    continue;
                }
                _ => {
                    errors.push(
                        Diagnostic::error(
                            code::DROPLETS,
                            "a droplets property is a single value (`detect` takes `{ … }`)",
                        )
                        .at(p.span)
                        .help(EXAMPLE),
                    );
                    continue;
                }
            };
            let value = match p.name.name.as_str() {
                "carrier" => match word(e) {
                    Some(name) => self
                        .find_device(&ast::Ident { name, span: e.span }, Some(Role::Pump))
                        .map(|id| carrier = Some((id, e.span))),
                    None => Err(Diagnostic::error(
                        code::DROPLETS,
                        "`carrier` names the pump of the carrier phase",
                    )
                    .at(e.span)),
                },
                "volume" => positive(Dimension::VOLUME, e, "a droplet's volume", false)
                    .map(|v| volume = Some(v)),
                "spacing" => {
                    positive(Dimension::VOLUME, e, "the spacing", false).map(|v| spacing = Some(v))
                }
                "every" => positive(Dimension::TIME, e, "the interval between readings", false)
                    .and_then(|s| {
                        super::durations::check_time(
                            "the interval between readings",
                            s,
                            super::durations::MAX_WAIT_S,
                            e.span,
                            "readings are at most 7 days apart",
                        )
                        .map(|()| every = Some((s, e.span)))
                    }),
                "hold" => positive(Dimension::TIME, e, "the stop", true).and_then(|s| {
                    super::durations::check_time(
                        "the stop",
                        s,
                        super::durations::MAX_WAIT_S,
                        e.span,
                        "a stop lasts at most 7 days",
                    )
                    .map(|()| hold = s)
                }),
                "count" => match quantity_of(Dimension::DIMENSIONLESS, e) {
                    Ok((n, _))
                        if n.fract() == 0.0 && (1.0..=f64::from(MAX_DROPLETS)).contains(&n) =>
                    {
                        count = Some(n as u32);
                        Ok(())
                    }
                    Ok(_) => Err(Diagnostic::error(
                        code::DROPLETS,
                        format!("`count` is a whole number of droplets, 1 to {MAX_DROPLETS}"),
                    )
                    .at(e.span)),
                    Err(d) => Err(d),
                },
                "detect" => Err(Diagnostic::error(
                    code::DROPLETS,
                    "`detect` takes `{ channel …, at …, above … }`",
                )
                .at(e.span)
                .help("e.g. `detect { channel absorbance, at 450 nm, above 0.05 }`")),
                _ => Err(unknown("a droplets measurement", &p.name, &PROPERTIES)),
            };
            if let Err(d) = value {
                errors.push(d);
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let (
            Some((carrier, carrier_span)),
            Some(volume),
            Some(spacing),
            Some(count),
            Some((every, _)),
            Some(detect),
        ) = (carrier, volume, spacing, count, every, detect)
        else {
            return Err(vec![
                Diagnostic::error(
                    code::DROPLETS,
                    "a droplets measurement needs `carrier`, `volume`, `spacing`, `count`, `every` and `detect`",
                )
                .at(span)
                .help(EXAMPLE),
            ]);
        };
        let name = self.devices.get(carrier).map_or("?", |d| d.name.as_str());
        if let Some(d) = self.derived.iter().find(
            |d| matches!(&d.target, DerivedTarget::Setting { device, .. } if *device == carrier),
        ) {
            errors.push(
                Diagnostic::error(
                    code::DROPLETS,
                    format!("`{name}` carries the droplets, so the experiments cannot set its rate"),
                )
                .at(carrier_span)
                .label(d.span, "derived here")
                .help("the carrier pump runs at the experiment's total flow between droplets; give it a pump of its own that nothing derives"),
            );
        }
        if errors.is_empty() {
            Ok(Droplets {
                carrier,
                volume,
                spacing,
                count,
                every,
                hold,
                detect,
                span,
            })
        } else {
            Err(errors)
        }
    }

    /// `detect { channel absorbance, at 450 nm, above 0.05 }`.
    fn detection(&self, props: &ast::Props, span: Span) -> Result<Detection, Vec<Diagnostic>> {
        let mut errors = Vec::new();
        let (mut channel, mut at, mut above) = (None, None, None);
        for p in &props.entries {
            let ast::PropValue::Expr(e) = &p.value else {
                errors.push(
                    Diagnostic::error(code::DROPLETS, "a detection property is a single value")
                        .at(p.span),
                );
                continue;
            };
            let value = match p.name.name.as_str() {
                "channel" => match word(e).as_deref() {
                    Some("absorbance") => {
                        channel = Some(ChannelKind::Absorbance);
                        Ok(())
                    }
                    Some("photoluminescence") => {
                        channel = Some(ChannelKind::Photoluminescence);
                        Ok(())
                    }
                    _ => Err(Diagnostic::error(
                        code::DROPLETS,
                        "a droplet is detected on `absorbance` or `photoluminescence`",
                    )
                    .at(e.span)),
                },
                "at" => positive(Dimension::LENGTH, e, "the detection wavelength", false)
                    .map(|w| at = Some((w, e.span))),
                "above" => positive(Dimension::DIMENSIONLESS, e, "the threshold", false)
                    .map(|v| above = Some(v)),
                _ => Err(unknown("a detection", &p.name, &DETECT)),
            };
            if let Err(d) = value {
                errors.push(d);
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        match (channel, at, above) {
            (Some(channel), Some((wavelength, at)), Some(above)) => Ok(Detection {
                channel,
                wavelength,
                above,
                at,
            }),
            _ => Err(vec![
                Diagnostic::error(
                    code::DROPLETS,
                    "a detection needs `channel`, `at` and `above`",
                )
                .at(span)
                .help("e.g. `detect { channel absorbance, at 450 nm, above 0.05 }`: a reading whose absorbance at 450 nm exceeds 0.05 is a droplet"),
            ]),
        }
    }

    /// What a droplets measurement needs of the rest of `measure`: no probe, no ramp, one
    /// replicate (each droplet is its own reading), the detection channel among the measured
    /// ones, one reading of every channel within `every`, and with a stop the whole train
    /// before the cell.
    pub(super) fn droplets_fit(&self, m: &Measurement, d: &Droplets) -> Vec<Diagnostic> {
        let mut errors = Vec::new();
        let unsupported = |what: &str, help: &str| {
            Diagnostic::error(
                code::DROPLETS_UNSUPPORTED,
                format!("a droplets measurement cannot {what}"),
            )
            .at(d.span)
            .help(help.to_owned())
        };
        let reaches_cell =
            self.topology.ways.iter().any(|w| {
                w.pump == d.carrier && w.segments.last().is_some_and(|s| s.device == m.cell)
            });
        if !reaches_cell {
            let name = self.devices.get(d.carrier).map_or("?", |x| x.name.as_str());
            errors.push(
                Diagnostic::error(
                    code::DROPLETS,
                    format!("the carrier pump `{name}` does not flow to the measured cell"),
                )
                .at(d.span)
                .help("connect the carrier into the mixer where the droplets form: `p_a, p_b, p_oil -> y1 -> …`"),
            );
        }
        if m.probe.is_some() {
            errors.push(unsupported(
                "use a probe",
                "the droplets pass one cell; a probe reads a continuous stream along a coil: use one or the other",
            ));
        }
        if m.transient.is_some() {
            errors.push(unsupported(
                "ramp the flow",
                "a ramp maps a continuous stream; droplets carry their conditions with them: use one or the other",
            ));
        }
        if m.replicates > 1 {
            errors.push(unsupported(
                "take replicates",
                "every droplet is a reading of its own (they are the replicates); remove `replicates`",
            ));
        }
        if !m.channels.iter().any(|c| c.kind == d.detect.channel) {
            errors.push(
                Diagnostic::error(
                    code::DROPLETS,
                    format!(
                        "droplets are detected on {}, which the measurement does not take",
                        d.detect.channel.name()
                    ),
                )
                .at(d.span)
                .help(format!(
                    "add `{} {{ integration 50 ms, average 2 }}` to the measurement, or detect on a channel it takes",
                    d.detect.channel.name()
                )),
            );
        }
        if let Err(e) = self.within_range_of(m.spectrometer, d.detect.wavelength, d.detect.at) {
            errors.push(e.at(d.detect.at));
        }
        let reading: f64 = m
            .channels
            .iter()
            .map(|c| c.integration * f64::from(c.averages) + COMMAND_OVERHEAD_S)
            .sum();
        if reading > d.every {
            errors.push(
                Diagnostic::error(
                    code::DROPLETS,
                    format!(
                        "one reading takes {} s, longer than the {} s between readings",
                        qdx_units::format_number(reading),
                        qdx_units::format_number(d.every)
                    ),
                )
                .at(d.span)
                .help("every channel's integration times its averages (plus 50 ms per acquisition) must fit in `every`: lengthen `every` or shorten the acquisitions"),
            );
        }
        if d.hold > 0.0
            && let Some(v) = self.topology.reactor_volume
            && d.train() + 0.5 * d.spacing > v
        {
            errors.push(
                Diagnostic::error(
                    code::DROPLETS,
                    format!(
                        "the train and half a spacing behind it ({}) are longer than the reactor before the cell ({}): the train cannot stop inside it",
                        DisplayUnit::of("uL").approx(d.train() + 0.5 * d.spacing),
                        DisplayUnit::of("uL").approx(v)
                    ),
                )
                .at(d.span)
                .help("with `hold` the train moves on half a spacing past the mixer and stops whole before the cell: fewer or smaller droplets, or less spacing"),
            );
        }
        errors
    }

    /// Over the whole variable box (after `prove_bounds`): the carrier pump's limits hold the
    /// total flow it replaces the reagents at, and a droplet stays in the cell for
    /// [`READINGS_PER_DROPLET`] readings at the highest total flow.
    pub(super) fn prove_droplets(&mut self) {
        if self.diags.has_errors() {
            return;
        }
        let Some(d) = self.measurement.as_ref().and_then(|m| m.droplets.clone()) else {
            return;
        };
        // The total flow's enclosure over the feasible box: the sum of the pump rates as one
        // expression (the sum of their separate ranges would overstate it).
        let sum = self
            .derived
            .iter()
            .enumerate()
            .filter(|(_, x)| {
                matches!(
                    &x.target,
                    DerivedTarget::Setting {
                        drive: Drive::PumpRate,
                        ..
                    }
                )
            })
            .map(|(i, _)| TExpr::Derived(i))
            .reduce(|a, b| TExpr::Add(Box::new(a), Box::new(b)));
        let (derived, region) = self.region();
        let region = Region {
            derived: &derived,
            ..region
        };
        let Some(sum) = sum else {
            return;
        };
        let flow = DisplayUnit::of("uL/min");
        // Proven over the box, or refuted at a point of it (which the message names).
        let check = |allowed: Interval| match region.prove_within(&sum, allowed) {
            Proof::Holds { .. } | Proof::Infeasible => None,
            Proof::Violated { witness, value } => Some(format!(
                "reaches {} at {}",
                flow.approx(value),
                self.describe_point(&witness, &sum)
            )),
            Proof::Unknown { .. } => Some("could not be bounded".to_owned()),
        };
        let mut found = Vec::new();
        if let Some(dev) = self.devices.get(d.carrier)
            && let Some(spec) = dev.setting("rate")
            && let Ok(allowed) = Interval::new(0.0, spec.hi)
            && let Some(why) = check(allowed)
        {
            found.push(
                Diagnostic::error(
                    code::OUT_OF_LIMITS,
                    format!(
                        "the carrier pump `{}` runs at the total flow, which {why}: above its {}",
                        dev.name,
                        spec.unit.format(spec.hi)
                    ),
                )
                .at(d.span)
                .label(dev.span, "the carrier pump")
                .help("between droplets the carrier replaces the reagents at the same total flow: give it a pump that reaches it, or narrow the flows"),
            );
        }
        // A droplet passes the cell in `volume / Q`: two readings need `Q <= volume / (2 every)`.
        let fastest = d.volume / (READINGS_PER_DROPLET * d.every);
        if let Ok(allowed) = Interval::new(0.0, fastest)
            && let Some(why) = check(allowed)
        {
            found.push(
                Diagnostic::error(
                    code::DROPLETS,
                    format!(
                        "a droplet of {} stays in the cell for two readings every {} s only up to {} of total flow, and the total flow {why}",
                        DisplayUnit::of("uL").format(d.volume),
                        qdx_units::format_number(d.every),
                        flow.approx(fastest)
                    ),
                )
                .at(d.span)
                .help("a droplet must stay in the cell for at least two readings, or it may pass unseen: read more often, make the droplets larger, or lower the flows"),
            );
        }
        for f in found {
            self.error(f);
        }
    }
}
