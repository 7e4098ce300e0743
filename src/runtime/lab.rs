//! The lab a run drives: device handles behind the `qdx_lab` traits, keyed by the campaign's
//! device ids, plus the virtual labs (tables, script models) that answer with readings.
//!
//! Two constructors: [`Lab::simulated`] (the default: a simulated twin of every device, on a
//! virtual clock) and [`Lab::hardware`] (the instruments of a validated lab binding, each
//! behind its safety envelope and a watchdog; see [`super::hardware`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use qdx_lab::guard::{GuardedHeater, GuardedPump};
use qdx_lab::registry::{self, DeviceKind, RegistryError, SettingValue};
use qdx_lab::{Clock, DeviceErrorKind, Heater, Light, Pump, PumpDirection, Spectrometer, Valve};
use qdx_sim as sim;

use super::hardware::{
    CALL_DEADLINE, CONNECT_DEADLINE, DeviceConnector, DynHeater, DynLight, DynPump,
    DynSpectrometer, DynValve, InfuseLimit, Watched,
};
use crate::bind::{LabBinding, LabFile, Limits};
use crate::validate::campaign::*;

/// Which family of devices a lab is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabKind {
    /// Simulated twins on a virtual clock: a run can be replayed against a fresh one.
    Simulated,
    /// Real instruments: commands are never sent twice, not even on resume.
    Hardware,
}

/// A virtual lab: a table of results or a script model, answering at the variables.
#[derive(Debug)]
pub enum VirtualLab {
    Table { model: Arc<sim::TableModel> },
    Script(sim::ScriptModel),
}

/// Every device of the campaign, driven through its trait.
pub struct Lab {
    /// `simulated`, or the lab binding's name.
    pub name: String,
    pub kind: LabKind,
    /// The binding's instruments are played by emulators (`qdx run --emulate`): a dry run of
    /// the real drivers, recorded as such in the journal.
    pub emulated: bool,
    /// The lab binding file, copied into the bundle.
    pub lab_file: Option<LabFile>,
    pub clock: Arc<dyn Clock>,
    pub pumps: BTreeMap<DeviceId, Box<dyn Pump>>,
    pub heaters: BTreeMap<DeviceId, Box<dyn Heater>>,
    pub spectrometers: BTreeMap<DeviceId, Box<dyn Spectrometer>>,
    pub valves: BTreeMap<DeviceId, Box<dyn Valve>>,
    pub lights: BTreeMap<DeviceId, Box<dyn Light>>,
    pub virtual_lab: Option<VirtualLab>,
    /// The simulated reactor, when simulated (for reference-dye calibration).
    pub sim: Option<sim::SimLab>,
    /// How long the run may leave its pumps unspoken to: half the shortest safe-mode
    /// communication timeout among the bound pumps (a New Era pump in safe mode stops itself
    /// when it hears nothing for that long). `None`: no pump needs it.
    pub keepalive: Option<Duration>,
}

impl std::fmt::Debug for Lab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lab")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Lab {
    /// The simulated twin of the campaign's lab.
    pub fn simulated(c: &Campaign, clock: Arc<dyn Clock>) -> Result<Lab, String> {
        Lab::simulated_line(c, clock, 0)
    }

    /// The simulated twin of one of the reactor's parallel lines (`lines a, b`), by index:
    /// the same devices on its own clock, with noise of its own (line 0's is the campaign's
    /// seed, so a campaign's first line plays as the campaign without `lines` would).
    pub fn simulated_line(c: &Campaign, clock: Arc<dyn Clock>, line: usize) -> Result<Lab, String> {
        let mut lab = Lab {
            name: "simulated".to_owned(),
            kind: LabKind::Simulated,
            emulated: false,
            lab_file: None,
            clock: clock.clone(),
            pumps: BTreeMap::new(),
            heaters: BTreeMap::new(),
            spectrometers: BTreeMap::new(),
            valves: BTreeMap::new(),
            lights: BTreeMap::new(),
            virtual_lab: None,
            sim: None,
            keepalive: None,
        };
        match c.simulation.as_ref().map(|s| &s.model) {
            Some(SimulationModel::Table { model, .. }) => {
                lab.virtual_lab = Some(VirtualLab::Table {
                    model: model.clone(),
                });
                return Ok(lab);
            }
            Some(SimulationModel::Script {
                path,
                source,
                outputs,
                ..
            }) => {
                let config = sim::ScriptConfig {
                    path: path.clone(),
                    outputs: outputs.iter().map(|r| r.name.clone()).collect(),
                };
                let model = sim::ScriptModel::from_source(source, &config)
                    .map_err(|e| e.to_string())?
                    .with_data(std::sync::Arc::clone(&c.data));
                lab.virtual_lab = Some(VirtualLab::Script(model));
                return Ok(lab);
            }
            _ => {}
        }
        let mut config = crate::bind::sim::sim_config(c)?;
        // A fixed odd constant (2^64 / golden ratio) spreads the lines' seeds apart.
        config.seed = config
            .seed
            .wrapping_add((line as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let world = sim::SimLab::new(config, clock).map_err(|e| e.to_string())?;
        for (id, d) in c.devices.iter().enumerate() {
            match d.role {
                Role::Pump => {
                    lab.pumps
                        .insert(id, world.pump(&d.name).map_err(|e| e.to_string())?);
                }
                Role::Heater => {
                    lab.heaters
                        .insert(id, world.heater(&d.name).map_err(|e| e.to_string())?);
                }
                Role::Spectrometer => {
                    lab.spectrometers
                        .insert(id, world.spectrometer(&d.name).map_err(|e| e.to_string())?);
                }
                Role::Valve => {
                    lab.valves
                        .insert(id, world.valve(&d.name).map_err(|e| e.to_string())?);
                }
                Role::Light => {
                    lab.lights
                        .insert(id, world.light(&d.name).map_err(|e| e.to_string())?);
                }
                _ => {}
            }
        }
        lab.sim = Some(world);
        Ok(lab)
    }

    /// The instruments of a validated lab binding, opened on their serial ports. Run with the
    /// campaign as the binding applies it ([`LabBinding::apply`]).
    pub async fn hardware(
        c: &Campaign,
        binding: &LabBinding,
        clock: Arc<dyn Clock>,
    ) -> Result<Lab, RegistryError> {
        let mut connector = registry::Connector::new(clock.clone());
        Lab::hardware_with(c, binding, clock, &mut connector).await
    }

    /// The instruments of a lab binding played by emulators (`qdx run --emulate`): the real
    /// drivers, opened by the same connector as on hardware, talk to emulators of the bound
    /// devices (`qdx_lab::emulators::rig`), which sit in the campaign's simulated twin: the
    /// pumps move its fluid, the heater reads its temperature, the spectrometer sees its cell.
    /// Nothing else of the twin reaches the run: no shortcut real instruments would not have
    /// (a reference dye, say, is not computed by the simulator).
    pub async fn emulated(
        c: &Campaign,
        binding: &LabBinding,
        clock: Arc<dyn Clock>,
    ) -> Result<Lab, RegistryError> {
        let no_twin = |why: String| RegistryError::Connect {
            device: binding.name.clone(),
            kind: DeviceErrorKind::Refused(format!(
                "the emulators need the campaign's simulated twin: {why}"
            )),
        };
        let config = crate::bind::sim::sim_config(c).map_err(no_twin)?;
        let plant = sim::SimLab::new(config, clock.clone()).map_err(|e| no_twin(e.to_string()))?;
        let ports = qdx_lab::emulators::rig::EmulatedPorts::new(
            clock.clone(),
            Arc::new(plant),
            binding
                .devices
                .iter()
                .map(|d| qdx_lab::emulators::rig::RigDevice {
                    name: d.name.clone(),
                    kind: d.driver.clone(),
                    settings: d.settings.clone(),
                }),
        )?;
        let mut connector = registry::Connector::with_ports(clock.clone(), Box::new(ports));
        let mut lab = Lab::hardware_with(c, binding, clock, &mut connector).await?;
        lab.emulated = true;
        Ok(lab)
    }

    /// [`Lab::hardware`] with devices opened by `connector` (tests open drivers on in-memory
    /// streams to emulators). Each pump is stopped and set to infuse once opened, so a run
    /// never starts from whatever state a previous session left it in.
    #[doc(hidden)]
    pub async fn hardware_with(
        c: &Campaign,
        binding: &LabBinding,
        clock: Arc<dyn Clock>,
        connector: &mut dyn DeviceConnector,
    ) -> Result<Lab, RegistryError> {
        let mut lab = Lab {
            name: binding.name.clone(),
            kind: LabKind::Hardware,
            emulated: false,
            lab_file: Some(binding.file.clone()),
            clock,
            pumps: BTreeMap::new(),
            heaters: BTreeMap::new(),
            spectrometers: BTreeMap::new(),
            valves: BTreeMap::new(),
            lights: BTreeMap::new(),
            virtual_lab: None,
            sim: None,
            keepalive: None,
        };
        let timed_out = |device: &str| RegistryError::Connect {
            device: device.to_owned(),
            kind: DeviceErrorKind::Timeout(CONNECT_DEADLINE),
        };
        // Lights after everything else: a light on a spectrometer's lamp output is made when
        // the spectrometer is opened.
        let mut order: Vec<&crate::bind::BoundDevice> = binding.devices.iter().collect();
        order.sort_by_key(|b| b.kind == DeviceKind::Light);
        for b in order {
            let name = b.name.as_str();
            if c.devices.get(b.device).is_none_or(|d| d.name != b.name) {
                return Err(RegistryError::Connect {
                    device: b.name.clone(),
                    kind: DeviceErrorKind::Refused(
                        "the binding was made for another campaign".into(),
                    ),
                });
            }
            match (b.kind, &b.limits) {
                (DeviceKind::Pump, Limits::Pump(limits)) => {
                    let raw = tokio::time::timeout(
                        CONNECT_DEADLINE,
                        connector.pump(&b.driver, name, &b.settings),
                    )
                    .await
                    .map_err(|_| timed_out(name))??;
                    let guarded = GuardedPump::new(name, DynPump(raw), limits.envelope);
                    let limited = InfuseLimit::new(name, guarded, limits.infuse_max);
                    let mut pump: Box<dyn Pump> =
                        Box::new(Watched::new(name, limited, CALL_DEADLINE));
                    let connect = |e: qdx_lab::DeviceError| RegistryError::Connect {
                        device: name.to_owned(),
                        kind: e.kind,
                    };
                    pump.stop().await.map_err(connect)?;
                    pump.set_direction(PumpDirection::Infuse)
                        .await
                        .map_err(connect)?;
                    lab.pumps.insert(b.device, pump);
                    if let Some(SettingValue::Integer(seconds)) =
                        b.settings.get("safe_mode_timeout")
                        && *seconds > 0
                    {
                        // Half the timeout, so a poll that waits its turn on a shared line
                        // still lands in time.
                        let every = Duration::from_secs_f64(*seconds as f64 / 2.0);
                        lab.keepalive = Some(lab.keepalive.map_or(every, |k| k.min(every)));
                    }
                }
                (DeviceKind::Heater, Limits::Heater(limits)) => {
                    let raw = tokio::time::timeout(
                        CONNECT_DEADLINE,
                        connector.heater(&b.driver, name, &b.settings),
                    )
                    .await
                    .map_err(|_| timed_out(name))??;
                    let guarded = GuardedHeater::new(name, DynHeater(raw), limits.envelope);
                    lab.heaters.insert(
                        b.device,
                        Box::new(Watched::new(name, guarded, CALL_DEADLINE)),
                    );
                }
                (DeviceKind::Light, _) => {
                    let raw = tokio::time::timeout(
                        CONNECT_DEADLINE,
                        connector.light(&b.driver, name, &b.settings),
                    )
                    .await
                    .map_err(|_| timed_out(name))??;
                    lab.lights.insert(
                        b.device,
                        Box::new(Watched::new(name, DynLight(raw), CALL_DEADLINE)),
                    );
                }
                (DeviceKind::Spectrometer, _) => {
                    let raw = tokio::time::timeout(
                        CONNECT_DEADLINE,
                        connector.spectrometer(&b.driver, name, &b.settings),
                    )
                    .await
                    .map_err(|_| timed_out(name))??;
                    lab.spectrometers.insert(
                        b.device,
                        Box::new(Watched::new(name, DynSpectrometer(raw), CALL_DEADLINE)),
                    );
                }
                (DeviceKind::Valve, Limits::Valve(_)) => {
                    let raw = tokio::time::timeout(
                        CONNECT_DEADLINE,
                        connector.valve(&b.driver, name, &b.settings),
                    )
                    .await
                    .map_err(|_| timed_out(name))??;
                    // A move may take its binding's move timeout before it is read back.
                    let moving = match b.settings.get("move_timeout_ms") {
                        Some(SettingValue::Integer(ms)) => {
                            Duration::from_millis(u64::try_from(*ms).unwrap_or(0))
                        }
                        _ => qdx_lab::drivers::vici::DEFAULT_MOVE_TIMEOUT,
                    };
                    lab.valves.insert(
                        b.device,
                        Box::new(Watched::new(name, DynValve(raw), CALL_DEADLINE + moving)),
                    );
                }
                _ => {
                    return Err(RegistryError::Connect {
                        device: b.name.clone(),
                        kind: DeviceErrorKind::Refused(
                            "the binding's limits do not fit its device kind".into(),
                        ),
                    });
                }
            }
        }
        Ok(lab)
    }

    /// The inputs a virtual lab receives for a point (SI values of the variables): each
    /// variable under its name in the lab, in the unit the lab reads it in (for a script, the
    /// unit its range was written in unless the simulate block's `units` says otherwise).
    pub fn virtual_inputs(&self, c: &Campaign, values: &[f64]) -> sim::Inputs {
        let mut inputs = sim::Inputs::new();
        let map = c
            .simulation
            .as_ref()
            .and_then(|s| s.model.virtual_inputs())
            .filter(|_| self.virtual_lab.is_some())
            .unwrap_or_default();
        for (id, name, unit) in map {
            let x = values.get(*id).copied().unwrap_or(f64::NAN);
            let value = match c.variables.get(*id) {
                Some(v) if !v.is_numeric() => {
                    sim::InputValue::Text(v.level(x).unwrap_or_default().to_owned())
                }
                _ => sim::InputValue::Number(unit.from_si(x)),
            };
            inputs.insert(name.clone(), value);
        }
        inputs
    }
}
