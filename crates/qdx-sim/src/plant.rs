//! The simulated lab as the plant of an emulated rig (`qdx_lab::emulators::rig`): the
//! emulated instruments drive the same world the simulated devices do, and their spectrometers
//! see what the world's flow cell holds.
//!
//! Invariants: the world is brought up to the clock's `now` before every call, as for the
//! simulated devices; the plant never refuses (limits are the instruments' and the guards'
//! business, and the emulators have already accepted the command); names the world does not
//! know change nothing and see nothing.

use qdx_lab::emulators::rig::Plant;
use qdx_lab::{Illumination, PumpDirection};

use crate::config::LightKind;
use crate::lab::SimLab;
use crate::optics::render;
use crate::world::lamp_shape;

impl Plant for SimLab {
    fn pump(&self, device: &str, rate: f64, direction: PumpDirection, running: bool) {
        let Ok(mut w) = self.lock() else { return };
        let Ok(i) = w.pump_index(device) else { return };
        if let Some(p) = w.pumps.get_mut(i) {
            p.rate = rate.max(0.0);
            p.direction = direction;
            p.running = running;
            if running {
                p.alarm = None;
            }
        }
        w.flows_changed();
    }

    fn setpoint(&self, device: &str, kelvin: f64) {
        let Ok(mut w) = self.lock() else { return };
        let now = w.last_update;
        if let Some(h) = w.heaters.iter_mut().find(|h| h.config.name == device)
            && (h.trace.setpoint(now) - kelvin).abs() > 1e-9
        {
            h.trace.set(now, kelvin);
        }
    }

    fn temperature(&self, device: &str) -> Option<f64> {
        let w = self.lock().ok()?;
        let now = w.last_update;
        w.heaters
            .iter()
            .find(|h| h.config.name == device)
            .map(|h| h.trace.temperature(now))
    }

    fn light(&self, device: &str, on: bool) {
        let Ok(mut w) = self.lock() else { return };
        if let Some(l) = w.lights.iter_mut().find(|l| l.config.name == device) {
            l.on = on;
        }
    }

    fn valve(&self, device: &str, position: u16) {
        let Ok(mut w) = self.lock() else { return };
        if let Some((_, current)) = w.valves.iter_mut().find(|(c, _)| c.name == device) {
            *current = position;
        }
    }

    fn detector(&self, device: &str, wavelengths: &[f64], own: Option<Illumination>) -> Vec<f64> {
        let Ok(w) = self.lock() else {
            return vec![0.0; wavelengths.len()];
        };
        let Some(index) = w.spectrometers.iter().position(|s| s.config.name == device) else {
            return vec![0.0; wavelengths.len()];
        };
        let populations = w.cell_populations(index, w.last_update);
        let Some(spec) = w.spectrometers.get(index) else {
            return vec![0.0; wavelengths.len()];
        };
        let cfg = &spec.config;
        let mut electrons = vec![0.0; wavelengths.len()];
        let broadband = |from: f64, to: f64, electrons: &mut [f64]| {
            let optics = render(
                &populations,
                wavelengths,
                cfg.path_length_m,
                cfg.excitation_nm,
            );
            for ((e, x), a) in electrons
                .iter_mut()
                .zip(wavelengths)
                .zip(&optics.absorbance)
            {
                if (from..=to).contains(x) {
                    *e += cfg.lamp_e_per_s * lamp_shape(*x) * 10f64.powf(-a);
                }
            }
        };
        let narrow = |nm: f64, electrons: &mut [f64]| {
            let optics = render(&populations, wavelengths, cfg.path_length_m, nm);
            for (e, m) in electrons.iter_mut().zip(&optics.emission) {
                *e += cfg.excitation_e_per_s * m;
            }
        };
        for light in w.lights.iter().filter(|l| l.spectrometer == index && l.on) {
            match light.config.kind {
                LightKind::Broadband { min_nm, max_nm } => {
                    broadband(min_nm, max_nm, &mut electrons);
                }
                LightKind::Narrow { wavelength_nm } => narrow(wavelength_nm, &mut electrons),
            }
        }
        match own {
            Some(Illumination::Broadband) => broadband(f64::MIN, f64::MAX, &mut electrons),
            Some(Illumination::Excitation) => narrow(cfg.excitation_nm, &mut electrons),
            // The emulated rig is optical: no X-ray beam, no polarised source.
            Some(Illumination::Dark | Illumination::XRay | Illumination::CircularlyPolarized)
            | None => {}
        }
        let gain = cfg.gain_e_per_count.max(f64::MIN_POSITIVE);
        electrons
            .into_iter()
            .map(|e| (e + cfg.dark_e_per_s) / gain)
            .collect()
    }
}
