//! [`SimLab`]: the simulated lab the runtime drives through the `qdx_lab` traits.
//!
//! Invariant: every device handed out shares the one [`World`], so pumps, heaters and
//! spectrometers see the same flow, temperatures and product; handles for the same device are
//! interchangeable.

use std::sync::{Arc, Mutex};

use qdx_lab::{Clock, Heater, Light, PressureSensor, Pump, Spectrometer, Valve};
use qdx_spectra::{DyeCalibration, ReferenceDye};

use crate::chemistry::BoundChemistry;
use crate::config::SimConfig;
use crate::devices::{SimHeater, SimLight, SimPressureSensor, SimPump, SimSpectrometer, SimValve};
use crate::error::{SimError, SimResult};
use crate::reading::{Inputs, MeasureRequest, MeasurementKind, Reading, Readings};
use crate::world::World;

/// The simulated lab.
#[derive(Debug, Clone)]
pub struct SimLab {
    world: Arc<Mutex<World>>,
    clock: Arc<dyn Clock>,
}

fn unknown(kind: &'static str, name: &str) -> SimError {
    SimError::UnknownDevice {
        kind,
        name: name.to_string(),
    }
}

impl SimLab {
    /// Builds the lab (checks the configuration, binds the chemistry to the pumps, loads table
    /// and script files). Time starts at the clock's zero.
    pub fn new(config: SimConfig, clock: Arc<dyn Clock>) -> SimResult<Self> {
        let world = World::new(&config)?;
        Ok(Self {
            world: Arc::new(Mutex::new(world)),
            clock,
        })
    }

    pub(crate) fn lock(&self) -> SimResult<std::sync::MutexGuard<'_, World>> {
        let mut w = self
            .world
            .lock()
            .map_err(|_| SimError::InvalidConfig("simulator state poisoned".into()))?;
        w.advance(self.clock.now().as_secs_f64());
        Ok(w)
    }

    fn index(
        &self,
        kind: &'static str,
        name: &str,
        find: impl Fn(&World) -> Option<usize>,
    ) -> SimResult<usize> {
        let w = self.lock()?;
        find(&w).ok_or_else(|| unknown(kind, name))
    }

    pub fn pump(&self, name: &str) -> SimResult<Box<dyn Pump>> {
        let index = self.index("pump", name, |w| {
            w.pumps.iter().position(|p| p.config.name == name)
        })?;
        Ok(Box::new(SimPump {
            name: name.into(),
            index,
            world: self.world.clone(),
            clock: self.clock.clone(),
        }))
    }

    pub fn heater(&self, name: &str) -> SimResult<Box<dyn Heater>> {
        let index = self.index("heater", name, |w| {
            w.heaters.iter().position(|h| h.config.name == name)
        })?;
        Ok(Box::new(SimHeater {
            name: name.into(),
            index,
            world: self.world.clone(),
            clock: self.clock.clone(),
        }))
    }

    pub fn spectrometer(&self, name: &str) -> SimResult<Box<dyn Spectrometer>> {
        let index = self.spectrometer_index(name)?;
        Ok(Box::new(SimSpectrometer {
            name: name.into(),
            index,
            world: self.world.clone(),
            clock: self.clock.clone(),
        }))
    }

    fn spectrometer_index(&self, name: &str) -> SimResult<usize> {
        self.index("spectrometer", name, |w| {
            w.spectrometers.iter().position(|s| s.config.name == name)
        })
    }

    /// A light switched by the plan.
    pub fn light(&self, name: &str) -> SimResult<Box<dyn Light>> {
        let index = self.index("light", name, |w| {
            w.lights.iter().position(|l| l.config.name == name)
        })?;
        Ok(Box::new(SimLight {
            name: name.into(),
            index,
            world: self.world.clone(),
            clock: self.clock.clone(),
        }))
    }

    /// A valve or a collector.
    pub fn valve(&self, name: &str) -> SimResult<Box<dyn Valve>> {
        let index = self.index("valve", name, |w| {
            w.valves.iter().position(|(v, _)| v.name == name)
        })?;
        Ok(Box::new(SimValve {
            name: name.into(),
            index,
            world: self.world.clone(),
            clock: self.clock.clone(),
        }))
    }

    pub fn pressure_sensor(&self, name: &str) -> SimResult<Box<dyn PressureSensor>> {
        let index = self.index("pressure sensor", name, |w| {
            w.pressure_sensors.iter().position(|p| p.name == name)
        })?;
        Ok(Box::new(SimPressureSensor {
            name: name.into(),
            index,
            world: self.world.clone(),
            clock: self.clock.clone(),
        }))
    }

    /// Liquid left in a pump's syringe now, m³ (what the planner's refill logic tracks).
    pub fn syringe_volume(&self, pump: &str) -> SimResult<f64> {
        let w = self.lock()?;
        let i = w.pump_index(pump)?;
        Ok(w.pumps.get(i).map_or(0.0, |p| p.volume))
    }

    /// Whether measuring yields spectra or named readings.
    pub fn measurement_kind(&self) -> SimResult<MeasurementKind> {
        let w = self.lock()?;
        Ok(match &w.chemistry {
            BoundChemistry::Table(t) => MeasurementKind::Readings {
                outputs: t.outputs().to_vec(),
            },
            BoundChemistry::Script(s) => MeasurementKind::Readings {
                outputs: s.outputs(),
            },
            BoundChemistry::Blank
            | BoundChemistry::CsPbX3(_)
            | BoundChemistry::CsFa(_)
            | BoundChemistry::CdSe(_) => MeasurementKind::Spectra,
        })
    }

    /// Candidate rows of a pool-mode table (the optimizer's candidate set); `None` for other
    /// models.
    pub fn candidates(&self) -> SimResult<Option<Vec<Inputs>>> {
        let w = self.lock()?;
        Ok(match &w.chemistry {
            BoundChemistry::Table(t) if matches!(t.mode(), crate::table::TableMode::Pool) => {
                Some(t.candidates())
            }
            _ => None,
        })
    }

    /// Readings of a direct (table or script) model at `inputs`.
    pub fn read(&self, inputs: &Inputs) -> SimResult<Readings> {
        let w = self.lock()?;
        match &w.chemistry {
            BoundChemistry::Table(t) => t.evaluate(inputs),
            BoundChemistry::Script(s) => s.evaluate(inputs),
            BoundChemistry::Blank
            | BoundChemistry::CsPbX3(_)
            | BoundChemistry::CsFa(_)
            | BoundChemistry::CdSe(_) => Err(SimError::WrongYield {
                yields: "spectra",
                asked: "readings",
            }),
        }
    }

    /// Measures now: spectra from a spectrometer (each acquisition advances the virtual clock by
    /// its integration time × averages) or a direct model's readings.
    pub async fn measure_now(&self, request: MeasureRequest<'_>) -> SimResult<Reading> {
        match request {
            MeasureRequest::Readings { inputs } => self.read(inputs).map(Reading::Values),
            MeasureRequest::Spectra {
                spectrometer,
                acquisitions,
            } => {
                if let MeasurementKind::Readings { .. } = self.measurement_kind()? {
                    return Err(SimError::WrongYield {
                        yields: "readings",
                        asked: "spectra",
                    });
                }
                let mut device = self.spectrometer(spectrometer)?;
                let mut out = Vec::with_capacity(acquisitions.len());
                for a in acquisitions {
                    out.push(device.acquire(a).await?);
                }
                Ok(Reading::Spectra(out))
            }
        }
    }

    /// What a reference dye of absorbance `dye_absorbance` at the excitation wavelength would
    /// give in this spectrometer's cell, noise-free, for `integration_time_s`: the calibration
    /// that makes `qdx_spectra::relative_plqy` return the simulated quantum yield.
    ///
    /// The simulated collection efficiency does not depend on the solvent, so the dye's signal
    /// is scaled by `(n_sample/n_dye)²`: the refractive-index term of the relative method then
    /// cancels exactly, as it would for a perfectly calibrated instrument.
    pub fn reference_calibration(
        &self,
        spectrometer: &str,
        dye: &ReferenceDye,
        dye_absorbance: f64,
        sample_refractive_index: f64,
        integration_time_s: f64,
    ) -> SimResult<DyeCalibration> {
        let index = self.spectrometer_index(spectrometer)?;
        let w = self.lock()?;
        let spec = w
            .spectrometers
            .get(index)
            .ok_or_else(|| unknown("spectrometer", spectrometer))?;
        let c = &spec.config;
        let ok = |v: f64| v.is_finite() && v > 0.0;
        if !(ok(dye_absorbance)
            && ok(sample_refractive_index)
            && ok(integration_time_s)
            && ok(dye.refractive_index))
        {
            return Err(SimError::InvalidConfig(
                "dye absorbance, refractive indices and integration time must be positive".into(),
            ));
        }
        let absorbed = 1.0 - 10f64.powf(-dye_absorbance);
        let electrons = c.excitation_e_per_s * integration_time_s * absorbed * dye.quantum_yield;
        let spacing = (c.max_nm - c.min_nm) / (c.pixels.saturating_sub(1).max(1)) as f64;
        let n_ratio = (sample_refractive_index / dye.refractive_index).powi(2);
        Ok(DyeCalibration {
            integrated_pl: electrons / c.gain_e_per_count * spacing * n_ratio,
            integration_time_s,
            absorbance: dye_absorbance,
        })
    }
}
