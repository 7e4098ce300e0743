//! From raw spectra (or a virtual lab's readings) to proxy values.
//!
//! Invariant: proxy values are SI (wavelengths in metres) like every other value in the run;
//! a proxy that cannot be computed is `None` with a reason, never NaN. No proxy value comes
//! from saturated data: a detector at full scale or an absorbance clipped at the limit of the
//! measurement where the proxy reads is a failed proxy with the reason (and so a failed
//! experiment when an objective needs it).

use std::collections::BTreeMap;

use qdx_spectra::{self as spectra, Spectrum};

use crate::validate::campaign::*;
use crate::validate::expr::Env;

/// Spectra taken with solvent in the cell before the first experiment.
#[derive(Debug, Clone, Default)]
pub struct Calibration {
    /// Dark spectrum per channel (taken with that channel's integration and averages).
    pub dark: BTreeMap<ChannelKind, Spectrum>,
    /// Broadband lamp through solvent: the absorbance reference.
    pub reference: Option<Spectrum>,
    /// Reference-dye calibrations by dye name.
    pub dyes: BTreeMap<String, spectra::DyeCalibration>,
}

/// Turns one raw acquisition into the channel's spectrum: absorbance, or dark-subtracted
/// emission; a SAXS pattern or a CD spectrum as the instrument gave it, once its axis and
/// quantity are the channel's (an instrument that returned something else is refused, not
/// read on the wrong axis).
pub fn process(kind: ChannelKind, raw: &Spectrum, cal: &Calibration) -> Result<Spectrum, String> {
    let expected = match kind {
        ChannelKind::Absorbance | ChannelKind::Photoluminescence => None,
        ChannelKind::Saxs => Some(spectra::SpectrumQuantity::Scattering),
        ChannelKind::CircularDichroism => Some(spectra::SpectrumQuantity::Ellipticity),
    };
    if raw.quantity().axis_column() != kind.axis().column()
        || expected.is_some_and(|q| q != raw.quantity())
    {
        return Err(format!(
            "the instrument returned {:?} over `{}`, not a {} frame over `{}`",
            raw.quantity(),
            raw.quantity().axis_column(),
            kind.name(),
            kind.axis().column()
        ));
    }
    if !kind.needs_dark() {
        return Ok(raw.clone());
    }
    let dark = cal
        .dark
        .get(&kind)
        .ok_or("no dark spectrum was taken for this channel")?;
    match kind {
        ChannelKind::Absorbance => {
            let reference = cal
                .reference
                .as_ref()
                .ok_or("no reference spectrum was taken")?;
            spectra::absorbance_spectrum(
                raw,
                reference,
                dark,
                spectra::AbsorbanceOptions::default(),
            )
            .map_err(|e| e.to_string())
        }
        ChannelKind::Photoluminescence => {
            spectra::subtract_dark(raw, dark).map_err(|e| e.to_string())
        }
        ChannelKind::Saxs | ChannelKind::CircularDichroism => Ok(raw.clone()),
    }
}

/// The mean of replicate spectra on one grid. A pixel clipped in any replicate is clipped in
/// the mean (a mean with a limit in it is not a measurement either).
pub fn average(list: &[Spectrum]) -> Option<Spectrum> {
    let first = list.first()?;
    let n = list.len() as f64;
    let mut values = vec![0.0; first.len()];
    for s in list {
        for (acc, v) in values.iter_mut().zip(s.values()) {
            *acc += v / n;
        }
    }
    let mut out = Spectrum::new(first.wavelength_nm().to_vec(), values, first.quantity())
        .ok()?
        .with_clipped(list.iter().flat_map(|s| s.clipped().iter().copied()));
    out.integration_time_s = first.integration_time_s;
    out.averages = list.iter().map(|s| s.averages).sum();
    out.saturated = list.iter().any(|s| s.saturated);
    Some(out)
}

struct ProxyEnv<'a> {
    vars: &'a [f64],
    derived: &'a [f64],
    proxies: &'a [Option<f64>],
}

impl Env for ProxyEnv<'_> {
    fn var(&self, id: VarId) -> f64 {
        self.vars.get(id).copied().unwrap_or(f64::NAN)
    }
    fn derived(&self, id: DerivedId) -> f64 {
        self.derived.get(id).copied().unwrap_or(f64::NAN)
    }
    fn proxy(&self, id: ProxyId) -> f64 {
        self.proxies.get(id).copied().flatten().unwrap_or(f64::NAN)
    }
}

fn nm(m: f64) -> f64 {
    m * 1e9
}

fn builtin(
    function: &SpectralFunction,
    channels: &BTreeMap<ChannelKind, Spectrum>,
    cal: &Calibration,
) -> Result<f64, String> {
    let any = |kind: &ChannelKind| {
        channels
            .get(kind)
            .ok_or_else(|| "a spectrum it needs was not measured".to_owned())
    };
    // A function reads only spectra of the physical kind it is defined on: the optical ones
    // never a SAXS pattern or a CD spectrum (`qdx check` already refuses such a call; this
    // keeps a wrong spectrum from ever giving a number).
    let of = |kind: &ChannelKind, expected: spectra::SpectrumQuantity| {
        let s = any(kind)?;
        if s.quantity() == expected {
            Ok(s)
        } else {
            Err(spectra::ProxyError::WrongQuantity {
                expected,
                found: s.quantity(),
            }
            .to_string())
        }
    };
    let measured = |kind: &ChannelKind| {
        let s = any(kind)?;
        match s.quantity() {
            q
            @ (spectra::SpectrumQuantity::Scattering | spectra::SpectrumQuantity::Ellipticity) => {
                Err(spectra::ProxyError::WrongQuantity {
                    expected: spectra::SpectrumQuantity::Intensity,
                    found: q,
                }
                .to_string())
            }
            _ => Ok(s),
        }
    };
    let e = |e: spectra::ProxyError| e.to_string();
    Ok(match function {
        SpectralFunction::PeakWavelength { spectrum } => {
            spectra::peak_wavelength(measured(spectrum)?)
                .map_err(e)?
                .value
                * 1e-9
        }
        SpectralFunction::Fwhm { spectrum } => {
            spectra::fwhm(measured(spectrum)?).map_err(e)?.value * 1e-9
        }
        SpectralFunction::PeakIntensity { spectrum } => {
            spectra::analyze_peak(measured(spectrum)?, &spectra::ProxyOptions::default())
                .map_err(e)?
                .height
        }
        SpectralFunction::IntegratedArea { spectrum, from, to } => {
            let first = measured(spectrum)?;
            let grid = first.wavelength_nm();
            let (lo, hi) = (
                grid.first().copied().unwrap_or(0.0),
                grid.last().copied().unwrap_or(0.0),
            );
            let from = nm(*from).max(lo);
            let to = nm(*to).min(hi);
            if from >= to {
                return Err(format!(
                    "the range {from} nm .. {to} nm lies outside the spectrum ({lo} .. {hi} nm)"
                ));
            }
            spectra::integrated_area(first, Some((from, to)))
                .map_err(e)?
                .value
        }
        SpectralFunction::AbsorbanceAt {
            spectrum,
            wavelength,
        } => {
            spectra::absorbance_at(measured(spectrum)?, nm(*wavelength))
                .map_err(e)?
                .value
        }
        SpectralFunction::FirstExcitonicPeak { spectrum } => {
            spectra::first_excitonic_peak(measured(spectrum)?)
                .map_err(e)?
                .value
                * 1e-9
        }
        SpectralFunction::RelativePlqy {
            emission,
            absorbance,
            excitation,
            reference: dye,
            sample_index,
        } => {
            let (emission, abs) = (measured(emission)?, measured(absorbance)?);
            let calibration = cal.dyes.get(&dye.name).copied().ok_or_else(|| {
                format!(
                    "the reference dye {} was not measured in this instrument",
                    dye.name
                )
            })?;
            let reference = spectra::ReferenceDye::new(
                dye.name.clone(),
                dye.quantum_yield,
                dye.refractive_index,
            )
            .with_calibration(calibration);
            spectra::relative_plqy(emission, abs, nm(*excitation), &reference, *sample_index)
                .map_err(e)?
                .value
        }
        // A SAXS pattern's grid is q in 1/nm; the radii come back in nm.
        SpectralFunction::GuinierRadius { pattern } => {
            let s = of(pattern, spectra::SpectrumQuantity::Scattering)?;
            spectra::scattering::guinier_radius(s.wavelength_nm(), s.values())
                .map_err(e)?
                .value
                * 1e-9
        }
        SpectralFunction::SphereRadius { pattern } => {
            let s = of(pattern, spectra::SpectrumQuantity::Scattering)?;
            spectra::scattering::sphere_radius(s.wavelength_nm(), s.values())
                .map_err(e)?
                .value
                * 1e-9
        }
        SpectralFunction::CdExtremum { spectrum } => {
            spectra::dichroism::extremum_wavelength(of(
                spectrum,
                spectra::SpectrumQuantity::Ellipticity,
            )?)
            .map_err(e)?
            .value
                * 1e-9
        }
        SpectralFunction::Anisotropy { cd, absorbance, at } => {
            spectra::dichroism::anisotropy(
                of(cd, spectra::SpectrumQuantity::Ellipticity)?,
                of(absorbance, spectra::SpectrumQuantity::Absorbance)?,
                nm(*at),
            )
            .map_err(e)?
            .value
        }
    })
}

/// Computes every proxy of the campaign for one experiment. Returns the values (SI) and, for
/// each proxy that could not be computed, why.
pub fn proxies(
    c: &Campaign,
    vars: &[f64],
    derived: &[f64],
    channels: &BTreeMap<ChannelKind, Spectrum>,
    readings: &BTreeMap<String, f64>,
    cal: &Calibration,
) -> (Vec<Option<f64>>, Vec<(String, String)>) {
    let mut values: Vec<Option<f64>> = Vec::with_capacity(c.proxies.len());
    let mut failures: Vec<(String, String)> = Vec::new();
    for p in &c.proxies {
        let result: Result<f64, String> = match &p.definition {
            ProxyDefinition::Builtin { function } => builtin(function, channels, cal),
            // The lab reports in the reading's unit (`units { peak nm }`); proxies hold SI.
            ProxyDefinition::Reading { name } => readings
                .get(name)
                .map(|x| p.unit.to_si(*x))
                .ok_or_else(|| format!("the virtual lab reported no `{name}`")),
            ProxyDefinition::Formula { expr } => {
                let mut reads = Vec::new();
                expr.proxies(&mut reads);
                // A formula over a proxy that could not be computed fails with that proxy's
                // reason: the first cause, not the last formula of the chain.
                let missing = reads.iter().find_map(|k| {
                    let q = c.proxies.get(*k)?;
                    values.get(*k).copied().flatten().is_none().then(|| {
                        let why = failures
                            .iter()
                            .find(|(name, _)| *name == q.name)
                            .map_or("it could not be computed", |(_, why)| why.as_str());
                        format!("it reads `{}`, which failed: {why}", q.name)
                    })
                });
                match missing {
                    Some(why) => Err(why),
                    None => {
                        let v = expr.eval(&ProxyEnv {
                            vars,
                            derived,
                            proxies: &values,
                        });
                        if v.is_finite() {
                            Ok(v)
                        } else {
                            Err("the formula has no finite value here (a division by zero, \
                                 a logarithm of zero or less, …)"
                                .into())
                        }
                    }
                }
            }
            ProxyDefinition::Script {
                source,
                file,
                origin,
            } => script(c, source, file.as_deref(), *origin, vars, &values, channels),
        };
        match result {
            Ok(v) if v.is_finite() => values.push(Some(v)),
            Ok(_) => {
                values.push(None);
                failures.push((p.name.clone(), "not a finite number".into()));
            }
            Err(why) => {
                values.push(None);
                failures.push((p.name.clone(), why));
            }
        }
    }
    (values, failures)
}

fn script(
    c: &Campaign,
    source: &str,
    file: Option<&str>,
    origin: crate::source::Span,
    vars: &[f64],
    proxies: &[Option<f64>],
    channels: &BTreeMap<ChannelKind, Spectrum>,
) -> Result<f64, String> {
    let origin = match file {
        Some(f) => qdx_script::ScriptOrigin::File(f.to_owned()),
        None => qdx_script::ScriptOrigin::Inline {
            offset: origin.range().map_or(0, |r| r.start),
        },
    };
    let locate = |e: qdx_script::ScriptError| located(c, file, &e);
    let compiled = qdx_script::Script::compile(source, origin)
        .map_err(locate)?
        .with_data(std::sync::Arc::clone(&c.data));
    // A script reads whole spectra, so where it looks cannot be told: one that may read a
    // saturated channel gets no value rather than one computed from clipped data.
    for (k, s) in channels {
        if compiled.mentions(k.name()) {
            saturation(s).map_err(|why| format!("it reads the {} spectrum: {why}", k.name()))?;
        }
    }
    let mut inputs = qdx_script::Inputs::new();
    for (v, x) in c.variables.iter().zip(vars) {
        if v.is_numeric() {
            inputs.set_number(&v.name, v.unit.from_si(*x));
        } else {
            inputs.set_text(&v.name, v.level(*x).unwrap_or_default());
        }
    }
    // Proxies in their own units (nm for wavelengths), as the chemist reads them.
    for (p, x) in c.proxies.iter().zip(proxies) {
        if let Some(x) = x {
            inputs.set_number(&p.name, p.unit.from_si(*x));
        }
    }
    for (k, s) in channels {
        inputs.set_series(
            k.name(),
            k.axis().script_field(),
            s.wavelength_nm(),
            s.values(),
        );
    }
    compiled.eval_proxy(&inputs).map_err(locate)
}

/// Why a spectrum holds saturated data, if it does: a detector pixel at full scale, or
/// absorbance clipped at the limit of the measurement.
fn saturation(s: &Spectrum) -> Result<(), String> {
    if s.saturated {
        return Err(spectra::ProxyError::Saturated.to_string());
    }
    s.check_not_clipped(0, s.len()).map_err(|e| e.to_string())
}

/// `campaign.qdx:12:7: message` for an error in an inline script (its place in the campaign
/// file), `proxies/score.rhai:3:1: message` for a script file.
fn located(c: &Campaign, file: Option<&str>, e: &qdx_script::ScriptError) -> String {
    let (name, text) = match file {
        Some(f) => (
            f.to_owned(),
            c.files
                .iter()
                .find(|x| x.name == f)
                .map(|x| x.text.as_str()),
        ),
        None => match c.files.iter().find(|x| x.role == FileRole::Campaign) {
            Some(x) => (x.name.clone(), Some(x.text.as_str())),
            None => ("campaign".to_owned(), None),
        },
    };
    match (e.source_offset(), text) {
        (Some(at), Some(text)) => {
            let before = text.get(..at.min(text.len())).unwrap_or("");
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("{name}:{line}:{column}: {}", e.message)
        }
        _ => format!("{name}: {}", e.message),
    }
}

/// While alive, a signal that ends a run (SIGINT/Ctrl-C, SIGTERM, SIGHUP) stops a proxy or
/// model script that is running, at its next operation (with an "interrupted" error), by
/// setting [`qdx_script::Interrupt::process`].
///
/// Why a thread: a script runs synchronously on the run loop's thread, so while it runs the
/// loop's own signal futures are not polled. The watcher waits for the signals on its own
/// thread and runtime; tokio tells every listener of a signal, so the run loop still sees the
/// same signal once the script has stopped, and halts the run as usual.
///
/// The flag is cleared when the watcher starts and when it is dropped, so an interruption
/// never outlives the run it stopped.
#[derive(Debug)]
pub struct ScriptInterruptOnSignals {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The first signal that ends a run.
async fn ending_signal() {
    #[cfg(unix)]
    {
        // Those the run listens for: a signal ignored at start stays ignored.
        let streams: Vec<_> = super::Signal::listened()
            .into_iter()
            .filter_map(|s| tokio::signal::unix::signal(s.kind()).ok())
            .collect();
        if streams.is_empty() {
            std::future::pending::<()>().await;
        }
        let waits = streams.into_iter().map(|mut s| {
            Box::pin(async move {
                if s.recv().await.is_none() {
                    std::future::pending::<()>().await;
                }
            })
        });
        futures::future::select_all(waits).await;
    }
    #[cfg(not(unix))]
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Starts the signal watcher for scripts (see [`ScriptInterruptOnSignals`]); without a runtime
/// for it (thread or runtime creation failed), scripts still stop at their deadline.
pub fn interrupt_scripts_on_signals() -> ScriptInterruptOnSignals {
    let interrupt = qdx_script::Interrupt::process();
    interrupt.clear();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("qdx-script-interrupt".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                tokio::select! {
                    () = ending_signal() => interrupt.interrupt(),
                    _ = stopped => {}
                }
            });
        })
        .ok();
    ScriptInterruptOnSignals {
        stop: Some(stop),
        thread,
    }
}

impl Drop for ScriptInterruptOnSignals {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        qdx_script::Interrupt::process().clear();
    }
}

/// `qdx check` accepts exactly the spectral calls the runtime computes with.
#[cfg(test)]
mod check_agrees_with_the_runtime {
    use std::collections::BTreeMap;
    use std::path::Path;

    use qdx_spectra::{DyeCalibration, Spectrum, SpectrumQuantity};

    use super::{Calibration, proxies};
    use crate::syntax::ast::{self, Item};
    use crate::validate::campaign::*;
    use crate::validate::measure::ParamType;

    /// The instrument a call's campaign measures with: the one its declared spectrum types
    /// need (a SAXS camera, a CD spectrometer, or a UV-vis/PL spectrometer).
    fn instrument(types: &[ParamType]) -> (&'static str, &'static str, &'static str) {
        let wants = |k| types.contains(&ParamType::Spectrum(Some(k)));
        if wants(ChannelKind::Saxs) {
            (
                "saxs_camera { q_range 0.05 nm^-1 .. 3 nm^-1 }",
                "saxs { integration 1 s, average 2 }",
                "saxs.guinier_radius()",
            )
        } else if wants(ChannelKind::CircularDichroism) {
            (
                "cd_spectrometer { range 400 nm .. 750 nm }",
                "absorbance { integration 50 ms, average 5 }\n  circular_dichroism { integration 500 ms, average 2 }",
                "absorbance.peak_wavelength()",
            )
        } else {
            (
                "uv_vis_pl { range 400 nm .. 750 nm, excitation 405 nm }",
                "absorbance { integration 50 ms, average 5 }\n  photoluminescence { integration 100 ms, average 5 }",
                "photoluminescence.peak_wavelength()",
            )
        }
    }

    /// A campaign measuring both optical channels, with `x = <call>` as its last proxy.
    fn campaign(call: &str) -> String {
        campaign_with(call, instrument(&[]))
    }

    /// A campaign measuring with `instrument` (its kind, its channels, a first proxy), with
    /// `x = <call>` as its last proxy.
    fn campaign_with(call: &str, instrument: (&str, &str, &str)) -> String {
        let (spectrometer, channels, peak) = instrument;
        format!(
            r#"qdx 1
campaign "kinds" {{
  seed 1
  budget {{ experiments 4 }}
}}
use std.devices
use std.spectra
use std.reference
stocks {{ cd "Cd" in p1 {{ concentration 0.1 mol/L }}
  se "Se" in p2 {{ concentration 0.1 mol/L }} }}
reactor {{
  pump p1 : syringe_pump {{ syringe 5 mL, max_rate 100 uL/min }}
  pump p2 : syringe_pump {{ syringe 5 mL, max_rate 100 uL/min }}
  mixer m1 : t_mixer {{ volume 1 uL }}
  coil r1 : reactor_coil {{ volume 100 uL }}
  cell s1 : flow_cell {{ volume 2 uL, spectrometer spec1 }}
  spectrometer spec1 : {spectrometer}
  outlet waste : collector
  p1, p2 -> m1 -> r1 -> s1 -> waste
}}
variables {{ share : ratio in 0.3 .. 0.7 }}
derive {{
  p1.rate = 20 uL/min * share
  p2.rate = 20 uL/min * (1 - share)
}}
measure at s1 {{
  {channels}
}}
proxies {{
  peak = {peak}
  x = {call}
}}
objectives {{ target peak = 560 nm within 5 nm }}
optimizer random
simulate cdse_growth {{ cadmium cd, selenium se }}
"#
        )
    }

    fn check(call: &str) -> Option<Campaign> {
        check_with(call, instrument(&[]))
    }

    fn check_with(call: &str, instrument: (&str, &str, &str)) -> Option<Campaign> {
        let text = campaign_with(call, instrument);
        let world = crate::world::MemoryWorld::new().with("kinds.qdx", &text);
        let loaded = crate::load::load(&world, Path::new("kinds.qdx"), "kinds.qdx");
        crate::validate::validate(&loaded, &world).campaign
    }

    /// The spectral functions of `std.spectra`, as declared.
    fn spectral_functions() -> Vec<ast::BuiltinDecl> {
        let world = crate::world::MemoryWorld::new().with("kinds.qdx", campaign("peak"));
        let loaded = crate::load::load(&world, Path::new("kinds.qdx"), "kinds.qdx");
        loaded
            .modules
            .iter()
            .filter(|m| matches!(&m.kind, crate::load::ModuleKind::Stdlib(n) if n == "std.spectra"))
            .flat_map(|m| m.ast.items.iter())
            .filter_map(|i| match i {
                Item::Builtin(b) => Some(b.clone()),
                _ => None,
            })
            .collect()
    }

    fn gaussian(x: f64, centre: f64, width: f64) -> f64 {
        (-((x - centre) / width).powi(2) / 2.0).exp()
    }

    /// What the runtime holds for each channel: absorbance, and dark-corrected emission.
    fn measured() -> BTreeMap<ChannelKind, Spectrum> {
        let grid: Vec<f64> = (400..=750).map(f64::from).collect();
        let absorbance = grid
            .iter()
            .map(|x| 0.3 * gaussian(*x, 520.0, 12.0) + 0.2 * (750.0 - x) / 350.0)
            .collect();
        let emission = grid
            .iter()
            .map(|x| 1000.0 * gaussian(*x, 560.0, 12.0) + 5.0)
            .collect();
        let spectrum = |values, quantity| {
            let mut s = Spectrum::new(grid.clone(), values, quantity).expect("a valid spectrum");
            s.integration_time_s = 0.1;
            s.averages = 5;
            s
        };
        // A SAXS pattern on its q grid (a Guinier curve, Rg 2 nm) and a CD couplet at 520 nm.
        let q: Vec<f64> = (1..=300).map(|i| 0.01 * f64::from(i)).collect();
        let intensity = q
            .iter()
            .map(|q| 1e4 * (-(q * q) * 4.0 / 3.0).exp() + 1.0)
            .collect();
        let pattern =
            Spectrum::new(q.clone(), intensity, SpectrumQuantity::Scattering).expect("a pattern");
        let cd = grid
            .iter()
            .map(|x| 5.0 * (x - 520.0) / 12.0 * gaussian(*x, 520.0, 12.0))
            .collect();
        BTreeMap::from([
            (
                ChannelKind::Absorbance,
                spectrum(absorbance, SpectrumQuantity::Absorbance),
            ),
            (
                ChannelKind::Photoluminescence,
                spectrum(emission, SpectrumQuantity::Intensity),
            ),
            (ChannelKind::Saxs, pattern),
            (
                ChannelKind::CircularDichroism,
                spectrum(cd, SpectrumQuantity::Ellipticity),
            ),
        ])
    }

    /// The channels a spectral function reads, to put another kind in one.
    fn spectra_of(f: &mut SpectralFunction) -> Vec<&mut ChannelKind> {
        match f {
            SpectralFunction::PeakWavelength { spectrum }
            | SpectralFunction::Fwhm { spectrum }
            | SpectralFunction::PeakIntensity { spectrum }
            | SpectralFunction::IntegratedArea { spectrum, .. }
            | SpectralFunction::AbsorbanceAt { spectrum, .. }
            | SpectralFunction::FirstExcitonicPeak { spectrum }
            | SpectralFunction::CdExtremum { spectrum } => vec![spectrum],
            SpectralFunction::GuinierRadius { pattern }
            | SpectralFunction::SphereRadius { pattern } => vec![pattern],
            SpectralFunction::RelativePlqy {
                emission,
                absorbance,
                ..
            } => vec![emission, absorbance],
            SpectralFunction::Anisotropy { cd, absorbance, .. } => vec![cd, absorbance],
        }
    }

    /// A calibration with coumarin 153 measured (no dark or reference spectra).
    fn coumarin_calibrated() -> Calibration {
        Calibration {
            dark: BTreeMap::new(),
            reference: None,
            dyes: BTreeMap::from([(
                "coumarin153".to_owned(),
                DyeCalibration {
                    integrated_pl: 1e4,
                    integration_time_s: 0.1,
                    absorbance: 0.05,
                },
            )]),
        }
    }

    /// Does the runtime refuse the spectra of `c`'s proxy `x` for their kind?
    fn wrong_quantity_at_run_time(c: &Campaign) -> bool {
        let calibration = coumarin_calibrated();
        let (_, failures) = proxies(c, &[0.5], &[], &measured(), &BTreeMap::new(), &calibration);
        failures
            .iter()
            .any(|(name, why)| name == "x" && why.contains("expected a spectrum of"))
    }

    /// `sample_index` reaches the n² correction: the same spectra and dye give yields in the
    /// ratio of the squared indices (hexane against the default toluene), and check refuses
    /// an index no solvent has.
    #[test]
    fn the_sample_solvents_index_scales_the_yield_by_its_square() {
        let calibration = coumarin_calibrated();
        let plqy = |call: &str| {
            let c = check(call).expect("the call checks");
            let (values, failures) =
                proxies(&c, &[0.5], &[], &measured(), &BTreeMap::new(), &calibration);
            assert!(failures.is_empty(), "{failures:?}");
            values.last().copied().flatten().expect("a yield")
        };
        let base = "relative_plqy(photoluminescence, absorbance, excitation: 500 nm, reference: std.reference.coumarin153";
        let toluene = plqy(&format!("{base})"));
        let hexane = plqy(&format!("{base}, sample_index: 1.375)"));
        let expected = (1.375_f64 / 1.496).powi(2);
        assert!(
            (hexane / toluene - expected).abs() < 1e-12,
            "{hexane} / {toluene}"
        );
        assert!(check(&format!("{base}, sample_index: 0.5)")).is_none());
    }

    /// A proxy script reads a SAXS pattern over its own axis, `saxs.q`, not a wavelength:
    /// `qdx check` dry-runs it on a made-up pattern and the run gives the measured q.
    #[test]
    fn a_script_reads_a_saxs_pattern_over_q() {
        let saxs = instrument(&[ParamType::Spectrum(Some(ChannelKind::Saxs))]);
        let c = check_with(
            "script \"\"\"\n  saxs.q[0] * saxs.values.len()\n\"\"\"",
            saxs,
        )
        .expect("the script checks");
        let (values, failures) = proxies(
            &c,
            &[0.5],
            &[],
            &measured(),
            &BTreeMap::new(),
            &coumarin_calibrated(),
        );
        assert!(failures.is_empty(), "{failures:?}");
        let x = values.last().copied().flatten().expect("a value");
        assert!((x - 0.01 * 300.0).abs() < 1e-9, "{x}");
    }

    /// Every spectral function of `std.spectra`, with each measured channel in each of its
    /// spectrum parameters: `qdx check` accepts exactly the calls whose spectra the runtime
    /// computes with, and rejects exactly those that would fail every experiment for their kind.
    #[test]
    fn every_spectral_function_takes_the_spectra_the_runtime_accepts() {
        let functions = spectral_functions();
        assert!(
            functions.len() >= 11,
            "std.spectra has {} functions",
            functions.len()
        );
        let kinds = ChannelKind::ALL;
        for f in &functions {
            let types: Vec<ParamType> = f
                .params
                .iter()
                .map(|p| ParamType::parse(&p.ty.name).expect("every parameter type is known"))
                .collect();
            let instrument = instrument(&types);
            let check = |call: &str| check_with(call, instrument);
            // Each parameter gets a value of its type; a spectrum its own kind, or `pick`.
            let call = |pick: Option<(usize, ChannelKind)>| {
                let args: Vec<String> = f
                    .params
                    .iter()
                    .zip(&types)
                    .enumerate()
                    .filter(|(_, (p, _))| p.default.is_none())
                    .map(|(i, (p, ty))| {
                        let value = match (ty, pick) {
                            (ParamType::Spectrum(_), Some((j, k))) if j == i => k.name(),
                            (ParamType::Spectrum(Some(k)), _) => k.name(),
                            (ParamType::Spectrum(None), _) => "photoluminescence",
                            (ParamType::Reference, _) => "coumarin153",
                            (ParamType::Quantity(d), _) if d.is_dimensionless() => "1",
                            (ParamType::Quantity(_), _) => "500 nm",
                        };
                        format!("{}: {value}", p.name.name)
                    })
                    .collect();
                format!("{}({})", f.name.name, args.join(", "))
            };
            let baseline = check(&call(None))
                .unwrap_or_else(|| panic!("`{}` checks with its own kinds", call(None)));
            let xi = baseline.proxies.len() - 1;
            match baseline.proxies.get(xi).map(|p| &p.definition) {
                Some(ProxyDefinition::Builtin { function }) => assert_eq!(
                    function.name(),
                    f.name.name,
                    "`{}` prints as the function it computes",
                    call(None)
                ),
                other => panic!("`{}` is {other:?}, not a spectral function", call(None)),
            }
            assert!(
                !wrong_quantity_at_run_time(&baseline),
                "{}: the runtime refuses the declared kinds",
                call(None)
            );
            let spectrum_params: Vec<usize> = types
                .iter()
                .enumerate()
                .filter(|(_, t)| matches!(t, ParamType::Spectrum(_)))
                .map(|(i, _)| i)
                .collect();
            assert!(
                !spectrum_params.is_empty(),
                "{} reads no spectrum",
                f.name.name
            );
            for (slot, param) in spectrum_params.iter().enumerate() {
                for kind in kinds {
                    let text = call(Some((*param, kind)));
                    let accepted = check(&text).is_some();
                    let mut run = baseline.clone();
                    if let Some(Proxy {
                        definition: ProxyDefinition::Builtin { function },
                        ..
                    }) = run.proxies.get_mut(xi)
                        && let Some(c) = spectra_of(function).into_iter().nth(slot)
                    {
                        *c = kind;
                    }
                    assert_eq!(
                        accepted,
                        !wrong_quantity_at_run_time(&run),
                        "`{text}`: check {} it, the runtime {} it",
                        if accepted { "accepts" } else { "rejects" },
                        if accepted { "refuses" } else { "computes" },
                    );
                }
            }
        }
    }
}
