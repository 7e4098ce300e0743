//! The lights of the measurement: each channel a cell names a light for is checked against
//! what that light can do (a broadband lamp for absorbance, covering what is read; a
//! narrow-band light below the emission range for photoluminescence), and every `excitation`
//! the campaign writes elsewhere must agree with the photoluminescence light's wavelength.
//!
//! Invariant after this pass: either no channel has a light (the spectrometer's own sources
//! serve them, as `uv_vis_pl` does), or every channel has one that can serve it.

use super::Validator;
use super::campaign::{
    ChannelKind, Device, DisplayUnit, PropertyValue, ProxyDefinition, SpectralFunction,
};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::codes::validate as code;
use crate::source::Span;

/// Wavelengths closer than this are the same source, m.
const SAME_WAVELENGTH: f64 = 0.5e-9;

fn nm(si: f64) -> String {
    DisplayUnit::of("nm").approx(si)
}

impl Validator<'_> {
    pub(super) fn lights(&mut self) {
        let Some(m) = self.measurement.clone() else {
            return;
        };
        if m.channels.iter().all(|c| c.light.is_none()) {
            return;
        }
        let Some(cell) = self.devices.get(m.cell).cloned() else {
            return;
        };
        let decls = self.device_decls();
        let prop_span = |device: &Device, name: &str| -> Span {
            decls
                .iter()
                .find(|d| d.name.name == device.name)
                .and_then(|d| d.props.as_ref())
                .and_then(|p| p.get(name))
                .map_or(device.span, |p| p.span)
        };
        let spectrometer = m.spectrometer.and_then(|s| self.devices.get(s)).cloned();
        let range = spectrometer
            .as_ref()
            .and_then(|s| match s.property("range") {
                Some(PropertyValue::Range { lo, hi, .. }) => Some((*lo, *hi)),
                _ => None,
            });
        let mut out = Vec::new();
        for ch in &m.channels {
            let what = ch.kind.name();
            if !ch.kind.takes_light() {
                // The instrument's own source (the X-ray beam, the CD's modulated light)
                // serves it; a campaign light named for it could never be switched for it.
                if let Some(light) = ch.light.and_then(|l| self.devices.get(l)) {
                    out.push(
                        Diagnostic::error(
                            code::LIGHT_UNSUITABLE,
                            format!(
                                "{what} is measured with the instrument's own source, but `{}` names the light `{}` for it",
                                cell.name, light.name
                            ),
                        )
                        .label(prop_span(&cell, what), format!("named for {what} here"))
                        .label(light.span, format!("`{}` is declared here", light.name))
                        .help(format!(
                            "remove `{what} {}` from `{}`: a SAXS camera has its X-ray beam and a CD spectrometer its polarised source",
                            light.name, cell.name
                        )),
                    );
                }
                continue;
            }
            let Some(light) = ch.light.and_then(|l| self.devices.get(l)) else {
                let other = m
                    .channels
                    .iter()
                    .find(|c| c.light.is_some() && c.kind.takes_light())
                    .map_or("another channel", |c| c.kind.name());
                out.push(
                    Diagnostic::error(
                        code::CHANNEL_WITHOUT_LIGHT,
                        format!(
                            "`{}` names a light for {other} but none for {what}",
                            cell.name
                        ),
                    )
                    .label(cell.span, "this cell")
                    .label(m.span, format!("{what} is measured here"))
                    .help(match ch.kind {
                        ChannelKind::Absorbance => format!(
                            "declare a broadband lamp and name it in the cell: `light lamp1 : lamp` and `cell {} : flow_cell {{ …, absorbance lamp1 }}`",
                            cell.name
                        ),
                        ChannelKind::Photoluminescence
                        | ChannelKind::Saxs
                        | ChannelKind::CircularDichroism => format!(
                            "declare an excitation source and name it in the cell: `light led1 : led {{ wavelength 365 nm }}` and `cell {} : flow_cell {{ …, photoluminescence led1 }}`",
                            cell.name
                        ),
                    }),
                );
                continue;
            };
            let named_at = prop_span(&cell, what);
            match ch.kind {
                ChannelKind::Absorbance => match light.light_band() {
                    None => out.push(
                        Diagnostic::error(
                            code::LIGHT_UNSUITABLE,
                            format!(
                                "absorbance needs a broadband lamp, but `{}` is a narrow-band {}{}",
                                light.name,
                                light.kind,
                                light
                                    .light_wavelength()
                                    .map_or(String::new(), |w| format!(" at {}", nm(w)))
                            ),
                        )
                        .label(named_at, "named for absorbance here")
                        .label(light.span, format!("`{}` is declared here", light.name))
                        .help("declare a lamp (`light lamp1 : lamp { range 200 nm .. 1100 nm }`) and write `absorbance lamp1`"),
                    ),
                    Some((lo, hi)) => {
                        if let Some((slo, shi)) = range {
                            if lo.max(slo) >= hi.min(shi) {
                                out.push(
                                    Diagnostic::error(
                                        code::LIGHT_UNSUITABLE,
                                        format!(
                                            "`{}` shines over {} .. {}, none of the {} .. {} the spectrometer reads",
                                            light.name,
                                            nm(lo),
                                            nm(hi),
                                            nm(slo),
                                            nm(shi)
                                        ),
                                    )
                                    .label(named_at, "named for absorbance here")
                                    .label(light.span, "its band")
                                    .help("declare the lamp's real band, or use a lamp that covers the spectrometer's range"),
                                );
                            } else if lo > slo || hi < shi {
                                out.push(
                                    Diagnostic::warning(
                                        code::LAMP_COVERAGE,
                                        format!(
                                            "`{}` shines over {} .. {}, part of the {} .. {} the spectrometer reads: absorbance outside it is clipped",
                                            light.name,
                                            nm(lo),
                                            nm(hi),
                                            nm(slo),
                                            nm(shi)
                                        ),
                                    )
                                    .label(light.span, "its band")
                                    .help("narrow the spectrometer's `range` to the lamp's band, or use a lamp that covers it"),
                                );
                            }
                        }
                        // Proxies that read absorbance at a wavelength need lamp light there.
                        for p in &self.proxies {
                            let ProxyDefinition::Builtin { function } = &p.definition else {
                                continue;
                            };
                            let at = match function {
                                SpectralFunction::AbsorbanceAt { wavelength, .. } => *wavelength,
                                SpectralFunction::RelativePlqy { excitation, .. } => *excitation,
                                _ => continue,
                            };
                            if at < lo || at > hi {
                                out.push(
                                    Diagnostic::error(
                                        code::LIGHT_UNSUITABLE,
                                        format!(
                                            "`{}` reads absorbance at {}, outside the {} .. {} `{}` shines over",
                                            p.name,
                                            nm(at),
                                            nm(lo),
                                            nm(hi),
                                            light.name
                                        ),
                                    )
                                    .label(p.span, format!("reads absorbance at {}", nm(at)))
                                    .label(light.span, "the lamp's band")
                                    .help("use a lamp whose band holds that wavelength"),
                                );
                            }
                        }
                    }
                },
                ChannelKind::Photoluminescence => match light.light_wavelength() {
                    None => out.push(
                        Diagnostic::error(
                            code::LIGHT_UNSUITABLE,
                            format!(
                                "photoluminescence needs a narrow-band light to excite it, but `{}` is a broadband {}",
                                light.name, light.kind
                            ),
                        )
                        .label(named_at, "named for photoluminescence here")
                        .label(light.span, format!("`{}` is declared here", light.name))
                        .help("declare an LED or laser (`light led1 : led { wavelength 365 nm }`) and write `photoluminescence led1`"),
                    ),
                    Some(w) => {
                        if let Some((_, shi)) = range
                            && w >= shi
                        {
                            out.push(
                                Diagnostic::error(
                                    code::LIGHT_UNSUITABLE,
                                    format!(
                                        "`{}` excites at {}, not below the spectrometer's range (up to {}): emission is longer than its excitation",
                                        light.name,
                                        nm(w),
                                        nm(shi)
                                    ),
                                )
                                .label(named_at, "named for photoluminescence here")
                                .label(light.span, "its wavelength")
                                .help("excite at a wavelength shorter than the emission you read"),
                            );
                        }
                        if let Some(s) = &spectrometer {
                            let written = decls
                                .iter()
                                .find(|d| d.name.name == s.name)
                                .and_then(|d| d.props.as_ref())
                                .and_then(|p| p.get("excitation"))
                                .map(|p| p.span);
                            if let (Some(span), Some(x)) = (written, s.quantity("excitation"))
                                && (x - w).abs() > SAME_WAVELENGTH
                            {
                                out.push(
                                    Diagnostic::error(
                                        code::EXCITATION_MISMATCH,
                                        format!(
                                            "`{}` says it excites at {}, but its photoluminescence light `{}` is at {}",
                                            s.name,
                                            nm(x),
                                            light.name,
                                            nm(w)
                                        ),
                                    )
                                    .label(span, "the spectrometer's excitation")
                                    .label(light.span, "the light's wavelength")
                                    .help(format!(
                                        "the light excites the sample: remove `excitation` from `{}`, or make the two agree",
                                        s.name
                                    )),
                                );
                            }
                        }
                        for p in &self.proxies {
                            if let ProxyDefinition::Builtin {
                                function: SpectralFunction::RelativePlqy { excitation, .. },
                            } = &p.definition
                                && (excitation - w).abs() > SAME_WAVELENGTH
                            {
                                out.push(
                                    Diagnostic::error(
                                        code::EXCITATION_MISMATCH,
                                        format!(
                                            "`{}` assumes excitation at {}, but the photoluminescence light `{}` is at {}",
                                            p.name,
                                            nm(*excitation),
                                            light.name,
                                            nm(w)
                                        ),
                                    )
                                    .label(p.span, format!("`excitation: {}`", nm(*excitation)))
                                    .label(light.span, "the light's wavelength")
                                    .help(format!("write `excitation: {}`", nm(w))),
                                );
                            }
                        }
                    }
                },
                // Skipped above: no campaign light serves them.
                ChannelKind::Saxs | ChannelKind::CircularDichroism => {}
            }
        }
        for d in out {
            self.error(d);
        }
    }
}
