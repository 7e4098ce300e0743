//! An emulated rig for the hardware tests: emulators of the instruments `tests/data/labs/rig.qdx`
//! binds (and the selection valve `routed-rig.qdx` adds), a connector that opens the real serial drivers on in-memory streams to them, the
//! campaign and binding loaded from text, and a way to script faults by request.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use qdx::bind::LabBinding;
use qdx::journal::{Event, Record};
use qdx::runtime::hardware::DeviceConnector;
use qdx::runtime::{Lab, RunError, RunOptions, RunSummary};
use qdx::validate::campaign::Campaign;
use qdx_lab::drivers::eurotherm::{self, EurothermConfig, EurothermHeater};
use qdx_lab::drivers::new_era::{self, NewEraPump};
use qdx_lab::drivers::ocean::{self, OceanSpectrometer, Rs232Backend};
use qdx_lab::drivers::ocean_usb::{self, UsbBackend};
use qdx_lab::drivers::vici::{self, ValveType, ViciValve};
use qdx_lab::emulators::eurotherm::EurothermEmulator;
use qdx_lab::emulators::new_era::NewEraChain;
use qdx_lab::emulators::ocean::OceanEmulator;
use qdx_lab::emulators::ocean_usb::{OoiEmulator, OoiKind};
use qdx_lab::emulators::usb::UsbEmulator;
use qdx_lab::emulators::vici::{Mode, ViciEmulator};
use qdx_lab::emulators::{Emulator, GARBAGE, Protocol};
use qdx_lab::registry::{
    self, LampOutputs, RegistryError, SettingValue, Settings, SpectrometerBinding,
};
use qdx_lab::transport::{Link, SharedLink, share};
use qdx_lab::{Clock, DeviceError, Heater, Light, Pump, RealClock, Spectrometer, Valve};
use tokio::io::DuplexStream;

pub const CAMPAIGN: &str = include_str!("../data/labs/campaign.qdx");
pub const LAB: &str = include_str!("../data/labs/rig.qdx");
/// The campaign with a selection valve its measurement routes through, and its rig.
pub const ROUTED: &str = include_str!("../data/labs/routed.qdx");
pub const ROUTED_LAB: &str = include_str!("../data/labs/routed-rig.qdx");

/// The selection valve's device ID in `routed-rig.qdx`.
pub const VALVE_ID: u8 = 3;

/// How a scripted emulator answers one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    Normal,
    /// No answer at all (the driver times out).
    Silent,
    /// The protocol's error / NAK reply.
    Nak,
    /// Bytes no protocol accepts.
    Garbage,
}

/// Decides each reply; may change the device's state first (a stall, …).
pub type Script<P> = Box<dyn FnMut(&mut P, &[u8]) -> Reply + Send>;

/// An emulator whose replies follow a script.
pub struct Scripted<P> {
    pub inner: P,
    script: Script<P>,
}

impl<P> std::fmt::Debug for Scripted<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripted").finish_non_exhaustive()
    }
}

impl<P: Protocol> Scripted<P> {
    pub fn new(inner: P, script: Script<P>) -> Self {
        Self { inner, script }
    }

    pub fn normal(inner: P) -> Self {
        Self::new(inner, Box::new(|_, _| Reply::Normal))
    }
}

impl<P: Protocol> Protocol for Scripted<P> {
    fn take_request(&mut self, input: &mut Vec<u8>) -> Option<Vec<u8>> {
        self.inner.take_request(input)
    }

    fn respond(&mut self, request: &[u8]) -> Vec<u8> {
        match (self.script)(&mut self.inner, request) {
            Reply::Normal => self.inner.respond(request),
            Reply::Silent => Vec::new(),
            Reply::Nak => self.inner.error_reply(request),
            Reply::Garbage => GARBAGE.to_vec(),
        }
    }

    fn error_reply(&mut self, request: &[u8]) -> Vec<u8> {
        self.inner.error_reply(request)
    }

    fn work_time(&self, request: &[u8]) -> std::time::Duration {
        self.inner.work_time(request)
    }
}

/// The rig's instruments, emulated; clones share the devices.
#[derive(Debug, Clone)]
pub struct Rig {
    pub clock: Arc<dyn Clock>,
    /// Pumps 0 (`p_a`) and 1 (`p_b`) on one line.
    pub pumps: Emulator<Scripted<NewEraChain>>,
    pub heater: Emulator<Scripted<EurothermEmulator>>,
    pub spectrometer: Emulator<Scripted<OceanEmulator>>,
    /// `v1`: a 6-position selector with device ID 3, 40 ms a step.
    pub valve: Emulator<Scripted<ViciEmulator>>,
    /// The spectrometer a lab file binds on USB (`ocean.flame_usb`, ...): a Flame-S.
    pub usb_spectrometer: UsbEmulator<OoiEmulator>,
}

impl Rig {
    /// Every instrument answers normally. Call inside a tokio runtime (the clock reads its
    /// timer, paused in the fault tests).
    pub fn new() -> Rig {
        let clock: Arc<dyn Clock> = Arc::new(RealClock::new());
        Rig {
            pumps: Emulator::new(Scripted::normal(NewEraChain::new(clock.clone(), &[0, 1]))),
            heater: Emulator::new(Scripted::normal(EurothermEmulator::new(clock.clone(), 1))),
            spectrometer: Emulator::new(Scripted::normal(OceanEmulator::new(2048))),
            valve: Emulator::new(Scripted::normal({
                let mut v = ViciEmulator::new(
                    clock.clone(),
                    Some(VALVE_ID),
                    Mode::Multiposition { positions: 6 },
                );
                v.move_time = std::time::Duration::from_millis(40);
                v
            })),
            usb_spectrometer: UsbEmulator::new(OoiEmulator::new(OoiKind::Usb2000Plus)),
            clock,
        }
    }

    pub fn script_pumps(self, script: Script<NewEraChain>) -> Rig {
        self.pumps.with_device(|d| d.script = script);
        self
    }

    /// Plays a USB spectrometer of another model.
    pub fn usb_model(mut self, kind: OoiKind) -> Rig {
        self.usb_spectrometer = UsbEmulator::new(OoiEmulator::new(kind));
        self
    }

    pub fn script_spectrometer(self, script: Script<OceanEmulator>) -> Rig {
        self.spectrometer.with_device(|d| d.script = script);
        self
    }

    pub fn script_valve(self, script: Script<ViciEmulator>) -> Rig {
        self.valve.with_device(|d| d.script = script);
        self
    }

    /// The `GO…` requests the valve took, without its ID: `["GO1", "GO2", …]`.
    pub fn valve_moves(&self) -> Vec<String> {
        self.valve
            .received()
            .iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .filter_map(|r| r.strip_prefix(&VALVE_ID.to_string()).map(str::to_owned))
            .filter(|r| r.starts_with("GO") || r == "HM")
            .collect()
    }

    /// Opens the binding's devices on this rig (the campaign as the binding applies it).
    pub async fn connect(&self, c: &Campaign, binding: &LabBinding) -> Lab {
        let mut connector = EmulatedConnector {
            rig: self.clone(),
            chain: None,
            lamp_outputs: LampOutputs::default(),
        };
        Lab::hardware_with(c, binding, self.clock.clone(), &mut connector)
            .await
            .expect("the emulated lab connects")
    }

    /// Is pump `address` running now?
    pub fn pump_running(&self, address: u8) -> bool {
        self.pumps
            .with_device(|d| d.inner.pump(address).map(|p| p.running))
            .expect("pump on the chain")
    }

    /// The heater's setpoint, °C.
    pub fn heater_setpoint(&self) -> f64 {
        self.heater.with_device(|d| d.inner.setpoint)
    }

    /// Requests the pump line took, as text.
    pub fn pump_requests(&self) -> Vec<String> {
        self.pumps
            .received()
            .iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect()
    }

    /// How many spectra the spectrometer was asked for.
    pub fn spectra_taken(&self) -> usize {
        self.spectrometer
            .received()
            .iter()
            .filter(|r| r.as_slice() == b"S")
            .count()
    }
}

/// Opens the real drivers on in-memory streams to the rig's emulators.
struct EmulatedConnector {
    rig: Rig,
    /// The pumps' shared line, once opened.
    chain: Option<SharedLink<DuplexStream>>,
    /// Lights on the spectrometer's lamp output, once it is opened with `lamp "light"`.
    lamp_outputs: LampOutputs,
}

fn connect_error(name: &str) -> impl Fn(DeviceError) -> RegistryError + '_ {
    move |e| RegistryError::Connect {
        device: name.to_owned(),
        kind: e.kind,
    }
}

fn number(settings: &Settings, name: &str) -> f64 {
    match settings.get(name) {
        Some(SettingValue::Number(x)) => *x,
        other => panic!("{name}: {other:?}"),
    }
}

#[async_trait]
impl DeviceConnector for EmulatedConnector {
    async fn pump(
        &mut self,
        driver: &str,
        name: &str,
        settings: &Settings,
    ) -> Result<Box<dyn Pump>, RegistryError> {
        assert_eq!(driver, "new_era.ne1000");
        let address = match settings.get("address") {
            Some(SettingValue::Integer(a)) => u8::try_from(*a).expect("address"),
            _ => 0,
        };
        let rig = &self.rig;
        let link = self
            .chain
            .get_or_insert_with(|| share(Link::new(rig.pumps.connect(), new_era::DEFAULT_TIMEOUT)))
            .clone();
        let mut pump =
            NewEraPump::new(name, link, address, qdx_lab::protocol::new_era::Mode::Basic);
        if let Some(SettingValue::Integer(seconds)) = settings.get("safe_mode_timeout") {
            pump.enter_safe_mode(u8::try_from(*seconds).expect("0-255 s"))
                .await
                .map_err(connect_error(name))?;
        }
        pump.configure(number(settings, "syringe_diameter") * 1e3)
            .await
            .map_err(connect_error(name))?;
        Ok(Box::new(pump))
    }

    async fn heater(
        &mut self,
        driver: &str,
        name: &str,
        _settings: &Settings,
    ) -> Result<Box<dyn Heater>, RegistryError> {
        assert_eq!(driver, "eurotherm.e3200");
        Ok(Box::new(EurothermHeater::new(
            name,
            self.rig.heater.connect(),
            EurothermConfig {
                slave: 1,
                series: eurotherm::EurothermSeries::E3200,
                decimals: Some(1),
                alarm_register: None,
            },
            eurotherm::DEFAULT_TIMEOUT,
        )))
    }

    async fn spectrometer(
        &mut self,
        driver: &str,
        name: &str,
        settings: &Settings,
    ) -> Result<Box<dyn Spectrometer>, RegistryError> {
        let binding = SpectrometerBinding::from_settings(driver, settings)?;
        if let Some(model) = registry::usb_model(driver) {
            let backend = UsbBackend::open(
                name,
                self.rig.usb_spectrometer.host(),
                model,
                ocean_usb::DEFAULT_TIMEOUT,
            )
            .await
            .map_err(connect_error(name))?;
            let spectrometer =
                OceanSpectrometer::open(name, backend, binding.wavelength, binding.lamp)
                    .await
                    .map_err(connect_error(name))?;
            return Ok(Box::new(spectrometer));
        }
        assert_eq!(driver, "ocean.flame");
        let backend = Rs232Backend::new(
            name,
            Link::new(self.rig.spectrometer.connect(), ocean::DEFAULT_TIMEOUT),
            ocean::FLAME_S_RS232,
        );
        if binding.lamp_is_a_light {
            let (spectrometer, light) =
                qdx_lab::lights::ocean_lamp_output(name, backend, binding.wavelength)
                    .await
                    .map_err(connect_error(name))?;
            self.lamp_outputs.insert(name, light);
            return Ok(spectrometer);
        }
        let spectrometer = OceanSpectrometer::open(name, backend, binding.wavelength, binding.lamp)
            .await
            .map_err(connect_error(name))?;
        Ok(Box::new(spectrometer))
    }

    async fn valve(
        &mut self,
        driver: &str,
        name: &str,
        settings: &Settings,
    ) -> Result<Box<dyn Valve>, RegistryError> {
        assert_eq!(driver, "vici.multiposition");
        let id = match settings.get("address") {
            Some(SettingValue::Integer(a)) => Some(u8::try_from(*a).expect("an ID")),
            _ => None,
        };
        let positions = match settings.get("positions") {
            Some(SettingValue::Integer(n)) => u16::try_from(*n).expect("positions"),
            other => panic!("positions: {other:?}"),
        };
        let link = share(Link::new(self.rig.valve.connect(), vici::DEFAULT_TIMEOUT));
        let mut valve = ViciValve::new(name, link, id, ValveType::Multiposition { positions });
        valve.configure().await.map_err(connect_error(name))?;
        Ok(Box::new(valve))
    }

    async fn light(
        &mut self,
        driver: &str,
        name: &str,
        settings: &Settings,
    ) -> Result<Box<dyn Light>, RegistryError> {
        self.lamp_outputs.light(driver, name, settings)
    }
}

/// The test campaign with its `safety` block replaced.
pub fn campaign_with_safety(safety: &str) -> String {
    let start = CAMPAIGN.find("safety {").expect("a safety block");
    let end = CAMPAIGN[start..].find("\n}").expect("its end") + start + 2;
    format!(
        "{}safety {{\n{safety}\n}}{}",
        &CAMPAIGN[..start],
        &CAMPAIGN[end..]
    )
}

/// Validates a campaign text and the rig's lab file against it; returns the campaign as the
/// binding applies it, and the binding.
pub fn setup(campaign: &str, lab: &str) -> (Campaign, LabBinding) {
    let world = qdx::world::MemoryWorld::new()
        .with("campaign.qdx", campaign)
        .with("rig.qdx", lab);
    let loaded = qdx::load::load(&world, Path::new("campaign.qdx"), "campaign.qdx");
    let checked = qdx::validate::validate(&loaded, &world);
    let c = checked.campaign.clone().unwrap_or_else(|| {
        panic!(
            "the campaign validates:\n{}",
            qdx::diagnostic::render_all(
                &checked.diagnostics,
                &checked.sources,
                qdx::diagnostic::Style::Plain
            )
        )
    });
    let l = qdx::bind::check_lab(
        &world,
        Path::new("rig.qdx"),
        "rig.qdx",
        checked.sources.clone(),
        Some(&c),
    );
    let binding = l.binding.unwrap_or_else(|| {
        panic!(
            "the lab binds:\n{}",
            qdx::diagnostic::render_all(&l.diagnostics, &l.sources, qdx::diagnostic::Style::Plain)
        )
    });
    (binding.apply(&c), binding)
}

pub fn options() -> RunOptions {
    RunOptions {
        progress: qdx::runtime::Progress::Off,
        sync_each: true,
        halt_after: None,
    }
}

/// Runs the campaign on the rig into a new folder; returns the folder (kept alive), the result
/// and the journal.
pub async fn run(
    rig: &Rig,
    c: &Campaign,
    binding: &LabBinding,
) -> (tempfile::TempDir, Result<RunSummary, RunError>, Vec<Record>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let lab = rig.connect(c, binding).await;
    let out = dir.path().join("bundle");
    let result = qdx::runtime::run(c, lab, &out, &options()).await;
    let records = qdx::journal::read(&out.join("journal.jsonl")).expect("a journal");
    (dir, result, records)
}

/// `(fault, action)` of every fault record.
pub fn faults(records: &[Record]) -> Vec<(String, String)> {
    records
        .iter()
        .filter_map(|r| match &r.event {
            Event::Fault { fault, action, .. } => Some((fault.clone(), action.clone())),
            _ => None,
        })
        .collect()
}

/// `(experiment, status)` of every measured record.
pub fn measured(records: &[Record]) -> Vec<(u64, String)> {
    records
        .iter()
        .filter_map(|r| match &r.event {
            Event::Measured {
                experiment, status, ..
            } => Some((*experiment, status.to_string())),
            _ => None,
        })
        .collect()
}

/// `(reason, failures)` of every safe-state record.
pub fn safe_states(records: &[Record]) -> Vec<(String, Vec<String>)> {
    records
        .iter()
        .filter_map(|r| match &r.event {
            Event::SafeState { reason, failures } => Some((reason.clone(), failures.clone())),
            _ => None,
        })
        .collect()
}

/// The reason the run stopped, from the journal.
pub fn stop_reason(records: &[Record]) -> String {
    records
        .iter()
        .find_map(|r| match &r.event {
            Event::Stopped { reason } => Some(reason.clone()),
            _ => None,
        })
        .unwrap_or_default()
}
