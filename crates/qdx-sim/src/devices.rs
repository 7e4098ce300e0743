//! The simulated devices: `qdx_lab` trait implementations over the shared [`World`].
//!
//! Invariants: every command first brings the world up to the clock's `now`; commands outside
//! a device's limits are refused (`DeviceErrorKind::Refused`) and change nothing; the world's
//! lock is never held across an `await`.

use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use qdx_lab::{
    AcquireRequest, Clock, DeviceError, DeviceErrorKind, DeviceResult, Heater, HeaterStatus,
    Identity, Illumination, Light, PressureSensor, Pump, PumpDirection, PumpStatus, Spectrometer,
    Valve,
};
use qdx_spectra::{Spectrum, SpectrumQuantity};

use crate::config::LightKind;
use crate::optics::{Population, render};
use crate::world::{LightState, SpectrometerState, World};

/// Longest single-scan integration a simulated spectrometer accepts, s (Flame-S: 65 s).
pub const MAX_INTEGRATION_S: f64 = 65.535;
/// Most scans a simulated spectrometer averages.
pub const MAX_AVERAGES: u32 = 10_000;

fn identity(model: &str, name: &str) -> Identity {
    Identity {
        vendor: "qdx".into(),
        model: format!("simulated {model}"),
        firmware: Some(env!("CARGO_PKG_VERSION").into()),
        serial_number: Some(name.into()),
    }
}

/// Locks the world at the clock's `now`.
fn lock<'a>(
    world: &'a Mutex<World>,
    clock: &dyn Clock,
    device: &str,
) -> DeviceResult<MutexGuard<'a, World>> {
    let mut w = world.lock().map_err(|_| {
        DeviceError::new(
            device,
            DeviceErrorKind::Io("simulator state poisoned".into()),
        )
    })?;
    w.advance(clock.now().as_secs_f64());
    Ok(w)
}

fn refused(device: &str, why: String) -> DeviceError {
    DeviceError::new(device, DeviceErrorKind::Refused(why))
}

/// A simulated syringe pump.
#[derive(Debug)]
pub struct SimPump {
    pub(crate) name: String,
    pub(crate) index: usize,
    pub(crate) world: Arc<Mutex<World>>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl SimPump {
    fn with<T>(&self, f: impl FnOnce(&mut World, usize) -> DeviceResult<T>) -> DeviceResult<T> {
        let mut w = lock(&self.world, self.clock.as_ref(), &self.name)?;
        f(&mut w, self.index)
    }
}

#[async_trait]
impl Pump for SimPump {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        Ok(identity("syringe pump", &self.name))
    }

    async fn set_rate(&mut self, rate: f64) -> DeviceResult<()> {
        let name = self.name.clone();
        self.with(|w, i| {
            let p = w
                .pumps
                .get_mut(i)
                .ok_or_else(|| refused(&name, "no such pump".into()))?;
            let (min, max) = (p.config.min_rate, p.config.max_rate);
            // Zero is accepted and means "deliver nothing" (a derived rate may be 0).
            if !(rate.is_finite() && (rate == 0.0 || (rate >= min && rate <= max))) {
                return Err(refused(
                    &name,
                    format!("rate {rate:e} m³/s outside 0 or {min:e} ..= {max:e} m³/s"),
                ));
            }
            p.rate = rate;
            w.flows_changed();
            Ok(())
        })
    }

    async fn set_direction(&mut self, direction: PumpDirection) -> DeviceResult<()> {
        self.with(|w, i| {
            if let Some(p) = w.pumps.get_mut(i) {
                p.direction = direction;
            }
            w.flows_changed();
            Ok(())
        })
    }

    async fn start(&mut self) -> DeviceResult<()> {
        let name = self.name.clone();
        self.with(|w, i| {
            let p = w
                .pumps
                .get_mut(i)
                .ok_or_else(|| refused(&name, "no such pump".into()))?;
            let empty = p.direction == PumpDirection::Infuse && p.volume <= 0.0 && p.rate > 0.0;
            if empty {
                p.alarm = Some("syringe empty".into());
                return Err(DeviceError::new(
                    &name,
                    DeviceErrorKind::Empty("syringe empty".into()),
                ));
            }
            p.alarm = None;
            p.running = true;
            w.flows_changed();
            Ok(())
        })
    }

    async fn stop(&mut self) -> DeviceResult<()> {
        self.with(|w, i| {
            if let Some(p) = w.pumps.get_mut(i) {
                p.running = false;
            }
            w.flows_changed();
            Ok(())
        })
    }

    async fn status(&mut self) -> DeviceResult<PumpStatus> {
        let name = self.name.clone();
        self.with(|w, i| {
            let p = w
                .pumps
                .get(i)
                .ok_or_else(|| refused(&name, "no such pump".into()))?;
            Ok(PumpStatus {
                running: p.running,
                direction: p.direction,
                rate: p.rate,
                infused: p.infused,
                withdrawn: p.withdrawn,
                alarm: p.alarm.clone(),
            })
        })
    }
}

/// A simulated heater with a first-order response.
#[derive(Debug)]
pub struct SimHeater {
    pub(crate) name: String,
    pub(crate) index: usize,
    pub(crate) world: Arc<Mutex<World>>,
    pub(crate) clock: Arc<dyn Clock>,
}

#[async_trait]
impl Heater for SimHeater {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        Ok(identity("heater", &self.name))
    }

    async fn set_setpoint(&mut self, kelvin: f64) -> DeviceResult<()> {
        let mut w = lock(&self.world, self.clock.as_ref(), &self.name)?;
        let now = w.last_update;
        let h = w
            .heaters
            .get_mut(self.index)
            .ok_or_else(|| refused(&self.name, "no such heater".into()))?;
        if !(kelvin.is_finite() && kelvin >= h.config.min_k && kelvin <= h.config.max_k) {
            return Err(refused(
                &self.name,
                format!(
                    "setpoint {kelvin} K outside {} ..= {} K",
                    h.config.min_k, h.config.max_k
                ),
            ));
        }
        h.trace.set(now, kelvin);
        Ok(())
    }

    async fn status(&mut self) -> DeviceResult<HeaterStatus> {
        let w = lock(&self.world, self.clock.as_ref(), &self.name)?;
        let now = w.last_update;
        let h = w
            .heaters
            .get(self.index)
            .ok_or_else(|| refused(&self.name, "no such heater".into()))?;
        Ok(HeaterStatus {
            temperature: h.trace.temperature(now),
            setpoint: h.trace.setpoint(now),
            alarm: None,
        })
    }
}

/// A simulated inline spectrometer with lamp and excitation source.
#[derive(Debug)]
pub struct SimSpectrometer {
    pub(crate) name: String,
    pub(crate) index: usize,
    pub(crate) world: Arc<Mutex<World>>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl SimSpectrometer {
    /// The acquisition itself, at virtual time `t_mid` (s), on a world already advanced.
    pub(crate) fn acquire_at(
        w: &mut World,
        index: usize,
        request: &AcquireRequest,
        t_mid: f64,
        name: &str,
    ) -> DeviceResult<Spectrum> {
        match request.illumination {
            Illumination::XRay => return Self::acquire_saxs(w, index, request, t_mid, name),
            Illumination::CircularlyPolarized => {
                return Self::acquire_cd(w, index, request, t_mid, name);
            }
            Illumination::Dark | Illumination::Broadband | Illumination::Excitation => {}
        }
        if w.lights.iter().any(|l| l.spectrometer == index) {
            return Self::acquire_lit(w, index, request, t_mid, name);
        }
        let populations = match request.illumination {
            Illumination::Dark => Vec::new(),
            _ => w.cell_populations(index, t_mid),
        };
        let spec = w
            .spectrometers
            .get_mut(index)
            .ok_or_else(|| refused(name, "no such spectrometer".into()))?;
        let cfg = &spec.config;
        if cfg.saxs.is_some() && request.illumination != Illumination::Dark {
            return Err(refused(
                name,
                "a SAXS camera has no lamp or excitation source".into(),
            ));
        }
        let signal: Vec<f64> = match request.illumination {
            Illumination::Dark | Illumination::XRay | Illumination::CircularlyPolarized => {
                vec![0.0; spec.grid.len()]
            }
            Illumination::Broadband => {
                let optics = render(
                    &populations,
                    &spec.grid,
                    cfg.path_length_m,
                    cfg.excitation_nm,
                );
                spec.lamp
                    .iter()
                    .zip(&optics.absorbance)
                    .map(|(l, a)| cfg.lamp_e_per_s * l * 10f64.powf(-a))
                    .collect()
            }
            Illumination::Excitation => {
                let optics = render(
                    &populations,
                    &spec.grid,
                    cfg.path_length_m,
                    cfg.excitation_nm,
                );
                optics
                    .emission
                    .iter()
                    .map(|e| cfg.excitation_e_per_s * e)
                    .collect()
            }
        };
        let (counts, saturated) = spec.detector.acquire(
            &signal,
            request.integration_time_s,
            request.averages,
            &mut spec.noise,
        );
        Spectrum::new(spec.grid.clone(), counts, SpectrumQuantity::Counts)
            .map(|s| s.with_acquisition(request.integration_time_s, request.averages, saturated))
            .map_err(|e| DeviceError::new(name, DeviceErrorKind::Io(e.to_string())))
    }
}

impl SimSpectrometer {
    /// A SAXS frame: `I(q)` of the spheres in the cell at mid-exposure, with Poisson
    /// counting noise over the whole exposure (`integration × averages`), in counts per
    /// second per q bin. Only a spectrometer configured as a SAXS camera takes one.
    fn acquire_saxs(
        w: &mut World,
        index: usize,
        request: &AcquireRequest,
        t_mid: f64,
        name: &str,
    ) -> DeviceResult<Spectrum> {
        let populations = w.cell_populations(index, t_mid);
        let spec = w
            .spectrometers
            .get_mut(index)
            .ok_or_else(|| refused(name, "no such spectrometer".into()))?;
        let Some(saxs) = spec.config.saxs.clone() else {
            return Err(refused(
                name,
                "an optical spectrometer has no X-ray beam".into(),
            ));
        };
        let spheres: Vec<crate::scattering::Spheres> =
            populations.iter().filter_map(|p| p.spheres).collect();
        let camera = crate::scattering::SaxsCamera {
            counts_per_s: saxs.counts_per_s,
            background_per_s: saxs.background_per_s,
        };
        let rate = crate::scattering::frame(
            &spheres,
            &spec.grid,
            &camera,
            request.integration_time_s,
            request.averages,
            Some(&mut spec.noise),
        );
        Spectrum::new(spec.grid.clone(), rate, SpectrumQuantity::Scattering)
            .map(|s| s.with_acquisition(request.integration_time_s, request.averages, false))
            .map_err(|e| DeviceError::new(name, DeviceErrorKind::Io(e.to_string())))
    }

    /// A CD spectrum: the ellipticity (mdeg) of the chiral populations' exciton couplets at
    /// mid-exposure, plus Gaussian noise of `cd_noise_mdeg` for one second, falling as
    /// 1/√(integration × averages). A SAXS camera cannot take one.
    fn acquire_cd(
        w: &mut World,
        index: usize,
        request: &AcquireRequest,
        t_mid: f64,
        name: &str,
    ) -> DeviceResult<Spectrum> {
        use rand_distr::{Distribution, StandardNormal};
        let populations = w.cell_populations(index, t_mid);
        let spec = w
            .spectrometers
            .get_mut(index)
            .ok_or_else(|| refused(name, "no such spectrometer".into()))?;
        if spec.config.saxs.is_some() {
            return Err(refused(
                name,
                "a SAXS camera has no polarised light source".into(),
            ));
        }
        let path = spec.config.path_length_m;
        let mut theta = vec![0.0; spec.grid.len()];
        for p in populations.iter().filter(|p| p.dissymmetry != 0.0) {
            for band in &p.bands {
                let lobe =
                    crate::dichroism::ellipticity_mdeg(band, p.dissymmetry, path, &spec.grid);
                for (t, l) in theta.iter_mut().zip(lobe) {
                    *t += l;
                }
            }
        }
        let exposure = (request.integration_time_s * f64::from(request.averages.max(1))).max(1e-6);
        let sigma = spec.config.cd_noise_mdeg / exposure.sqrt();
        for t in &mut theta {
            let z: f64 = StandardNormal.sample(&mut spec.noise);
            *t += sigma * z;
        }
        Spectrum::new(spec.grid.clone(), theta, SpectrumQuantity::Ellipticity)
            .map(|s| s.with_acquisition(request.integration_time_s, request.averages, false))
            .map_err(|e| DeviceError::new(name, DeviceErrorKind::Io(e.to_string())))
    }

    /// An acquisition in a cell the campaign's lights shine into: the spectrum is what the
    /// lights that are on give (none on: dark), whatever the request's `illumination` (a
    /// spectrometer with lights has no source of its own). After a switch, the first scan
    /// saw the old lights for half its time; after a change of integration time, it was
    /// exposed for the old time (a free-running detector was already integrating).
    fn acquire_lit(
        w: &mut World,
        index: usize,
        request: &AcquireRequest,
        t_mid: f64,
        name: &str,
    ) -> DeviceResult<Spectrum> {
        let populations = w.cell_populations(index, t_mid);
        let lights: Vec<LightState> = w
            .lights
            .iter()
            .filter(|l| l.spectrometer == index)
            .cloned()
            .collect();
        let now: Vec<bool> = lights.iter().map(|l| l.on).collect();
        let spec = w
            .spectrometers
            .get_mut(index)
            .ok_or_else(|| refused(name, "no such spectrometer".into()))?;
        let before = spec.lights_before.take();
        let mut signal = lit_signal(spec, &populations, &lights, &now);
        let n = f64::from(request.averages.max(1));
        // What the first scan saw, as a rate over the new integration time.
        let mut first = signal.clone();
        let mut stale = false;
        if let Some(before) = before {
            let old = lit_signal(spec, &populations, &lights, &before);
            for (f, o) in first.iter_mut().zip(&old) {
                *f = 0.5 * (*f + o);
            }
            stale = true;
        }
        let t = request.integration_time_s;
        if let Some(previous) = spec.last_integration.replace(t)
            && (previous - t).abs() > 1e-12
            && t > 0.0
        {
            for f in &mut first {
                *f *= previous / t;
            }
            stale = true;
        }
        if stale {
            for (s, f) in signal.iter_mut().zip(&first) {
                *s = (f + (n - 1.0) * *s) / n;
            }
        }
        let (counts, saturated) = spec.detector.acquire(
            &signal,
            request.integration_time_s,
            request.averages,
            &mut spec.noise,
        );
        Spectrum::new(spec.grid.clone(), counts, SpectrumQuantity::Counts)
            .map(|s| s.with_acquisition(request.integration_time_s, request.averages, saturated))
            .map_err(|e| DeviceError::new(name, DeviceErrorKind::Io(e.to_string())))
    }
}

/// The signal (electrons per second per pixel) of the lights that are `on`, through the cell.
fn lit_signal(
    spec: &SpectrometerState,
    populations: &[Population],
    lights: &[LightState],
    on: &[bool],
) -> Vec<f64> {
    let cfg = &spec.config;
    let mut signal = vec![0.0; spec.grid.len()];
    for (light, _) in lights.iter().zip(on).filter(|(_, on)| **on) {
        match light.config.kind {
            LightKind::Broadband { min_nm, max_nm } => {
                let optics = render(
                    populations,
                    &spec.grid,
                    cfg.path_length_m,
                    cfg.excitation_nm,
                );
                for (((s, x), l), a) in signal
                    .iter_mut()
                    .zip(&spec.grid)
                    .zip(&spec.lamp)
                    .zip(&optics.absorbance)
                {
                    if (min_nm..=max_nm).contains(x) {
                        *s += cfg.lamp_e_per_s * l * 10f64.powf(-a);
                    }
                }
            }
            LightKind::Narrow { wavelength_nm } => {
                let optics = render(populations, &spec.grid, cfg.path_length_m, wavelength_nm);
                for (s, e) in signal.iter_mut().zip(&optics.emission) {
                    *s += cfg.excitation_e_per_s * e;
                }
            }
        }
    }
    signal
}

#[async_trait]
impl Spectrometer for SimSpectrometer {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        Ok(identity("spectrometer", &self.name))
    }

    /// Takes `averages` scans of `integration_time_s`: the virtual clock advances by their total,
    /// and the sample is what the cell held at the middle of that time.
    async fn acquire(&mut self, request: &AcquireRequest) -> DeviceResult<Spectrum> {
        let t = request.integration_time_s;
        if !(t.is_finite() && t > 0.0 && t <= MAX_INTEGRATION_S) {
            return Err(refused(
                &self.name,
                format!("integration time {t} s outside (0, {MAX_INTEGRATION_S}] s"),
            ));
        }
        if request.averages == 0 || request.averages > MAX_AVERAGES {
            return Err(refused(
                &self.name,
                format!("averages {} outside 1 ..= {MAX_AVERAGES}", request.averages),
            ));
        }
        let total = t * f64::from(request.averages);
        let start = self.clock.now().as_secs_f64();
        self.clock
            .sleep(std::time::Duration::from_secs_f64(total))
            .await;
        let mut w = lock(&self.world, self.clock.as_ref(), &self.name)?;
        Self::acquire_at(&mut w, self.index, request, start + 0.5 * total, &self.name)
    }

    /// The simulated probe moves at once: from now on the spectrometer sees the fluid at that
    /// point of the coil, reacted for as long as it took to get there.
    async fn move_probe(&mut self, coil: &str, volume: f64) -> DeviceResult<()> {
        let mut w = lock(&self.world, self.clock.as_ref(), &self.name)?;
        w.move_probe(self.index, coil, volume)
            .map_err(|why| refused(&self.name, why))
    }
}

/// A simulated light: the spectrometer whose cell it shines into sees it while it is on.
#[derive(Debug)]
pub struct SimLight {
    pub(crate) name: String,
    pub(crate) index: usize,
    pub(crate) world: Arc<Mutex<World>>,
    pub(crate) clock: Arc<dyn Clock>,
}

#[async_trait]
impl Light for SimLight {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        Ok(identity("light", &self.name))
    }

    async fn set(&mut self, on: bool) -> DeviceResult<()> {
        let mut w = lock(&self.world, self.clock.as_ref(), &self.name)?;
        let (spectrometer, was) = w
            .lights
            .get(self.index)
            .map(|l| (l.spectrometer, l.on))
            .ok_or_else(|| refused(&self.name, "no such light".into()))?;
        if was == on {
            return Ok(());
        }
        let before: Vec<bool> = w
            .lights
            .iter()
            .filter(|l| l.spectrometer == spectrometer)
            .map(|l| l.on)
            .collect();
        if let Some(s) = w.spectrometers.get_mut(spectrometer)
            && s.lights_before.is_none()
        {
            s.lights_before = Some(before);
        }
        if let Some(l) = w.lights.get_mut(self.index) {
            l.on = on;
        }
        Ok(())
    }

    async fn state(&mut self) -> DeviceResult<Option<bool>> {
        let w = lock(&self.world, self.clock.as_ref(), &self.name)?;
        w.lights
            .get(self.index)
            .map(|l| Some(l.on))
            .ok_or_else(|| refused(&self.name, "no such light".into()))
    }
}

/// A simulated valve or collector.
#[derive(Debug)]
pub struct SimValve {
    pub(crate) name: String,
    pub(crate) index: usize,
    pub(crate) world: Arc<Mutex<World>>,
    pub(crate) clock: Arc<dyn Clock>,
}

#[async_trait]
impl Valve for SimValve {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        Ok(identity("valve", &self.name))
    }

    async fn set_position(&mut self, position: u16) -> DeviceResult<()> {
        let mut w = lock(&self.world, self.clock.as_ref(), &self.name)?;
        let (config, current) = w
            .valves
            .get_mut(self.index)
            .ok_or_else(|| refused(&self.name, "no such valve".into()))?;
        if position == 0 || position > config.positions {
            return Err(refused(
                &self.name,
                format!("position {position} outside 1 ..= {}", config.positions),
            ));
        }
        *current = position;
        Ok(())
    }

    async fn position(&mut self) -> DeviceResult<u16> {
        let w = lock(&self.world, self.clock.as_ref(), &self.name)?;
        w.valves
            .get(self.index)
            .map(|(_, p)| *p)
            .ok_or_else(|| refused(&self.name, "no such valve".into()))
    }
}

/// A simulated pressure sensor: back pressure plus line resistance times the current flow.
#[derive(Debug)]
pub struct SimPressureSensor {
    pub(crate) name: String,
    pub(crate) index: usize,
    pub(crate) world: Arc<Mutex<World>>,
    pub(crate) clock: Arc<dyn Clock>,
}

#[async_trait]
impl PressureSensor for SimPressureSensor {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        Ok(identity("pressure sensor", &self.name))
    }

    async fn pressure(&mut self) -> DeviceResult<f64> {
        let w = lock(&self.world, self.clock.as_ref(), &self.name)?;
        let c = w
            .pressure_sensors
            .get(self.index)
            .ok_or_else(|| refused(&self.name, "no such sensor".into()))?;
        Ok(c.back_pressure_pa + c.resistance_pa_s_per_m3 * w.flow.current_total())
    }
}
