//! An emulated rig: every device of a lab binding played by its emulator, the emulators wired
//! to one [`Plant`] (the physics they sit in), opened through the same [`Connector`] and the
//! same drivers as a real run. `qdx run --emulate` is a dry run of the real drivers.
//!
//! [`EmulatedPorts`] is a [`Ports`]: where a real connector opens `/dev/ttyUSB0` or a USB
//! device, it starts the emulator of the device bound there and hands back the other end of an
//! in-memory stream (serial) or transfer queue (USB). Each emulator gets a [`Hook`] that keeps
//! it and the plant in step:
//! - pumps push their motor state (rate, direction, running) to the plant, which moves fluid;
//! - heaters push their working setpoint and read the plant's temperature back (the plant's
//!   thermal model is the truth; the emulator only displays it);
//! - valves push their position; an SC10 shutter and a spectrometer's lamp output push whether
//!   the light they switch is on;
//! - spectrometers draw their counts from a [`Scene`]: what the plant's cell sends to the
//!   detector at each pixel's wavelength, from the wavelength calibration the device itself
//!   holds (EEPROM / OBP coefficients) or, on the RS-232 kinds, the binding's coefficients.
//!
//! Invariants: an emulator is made only for a device the binding names, with the binding's
//! settings (address, model, positions, …) checked by [`check_settings`]; what a device kind
//! cannot be emulated as is refused at open with a reason, never faked. The emulators follow
//! the published protocols (see each emulator's module); nothing here talks to a driver.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;

use crate::clock::Clock;
use crate::device::{Illumination, PumpDirection};
use crate::error::DeviceErrorKind;
use crate::registry::{Ports, SettingValue, Settings, SpectrometerBinding, check_settings};
use crate::transport::{BoxedStream, SerialSettings};
use crate::usb::{UsbBulk, UsbSelector};

use super::chemyx::ChemyxEmulator;
use super::eurotherm::{EurothermEmulator, Series};
use super::harvard::HarvardEmulator;
use super::huber::HuberEmulator;
use super::new_era::NewEraChain;
use super::ocean::OceanEmulator;
use super::ocean_usb::{ObpEmulator, OoiEmulator, OoiKind};
use super::thorlabs::Sc10Emulator;
use super::usb::UsbEmulator;
use super::vici::{Mode, ViciEmulator};
use super::{Emulator, Scene};

/// The physics emulated instruments are connected to: the fluid the pumps move, the heat,
/// the lights, and what reaches each spectrometer's detector. Device names are the
/// campaign's. Calls come at the clock's `now`.
pub trait Plant: Send + Sync + Debug {
    /// Pump `device`'s motor: `rate` in m³/s, its direction, whether it runs.
    fn pump(&self, device: &str, rate: f64, direction: PumpDirection, running: bool);
    /// Heater `device`'s working setpoint, K.
    fn setpoint(&self, device: &str, kelvin: f64);
    /// The temperature heater `device` measures, K.
    fn temperature(&self, device: &str) -> Option<f64>;
    /// Whether light `device` shines.
    fn light(&self, device: &str, on: bool);
    /// Valve `device`'s position (1-based; a two-position valve's A is 1).
    fn valve(&self, device: &str, position: u16);
    /// Counts per second reaching spectrometer `device`'s detector at each of `wavelengths`
    /// (nm): the lights that are on through what its cell holds, plus its own source (`own`)
    /// when it has one and it is on.
    fn detector(&self, device: &str, wavelengths: &[f64], own: Option<Illumination>) -> Vec<f64>;
}

/// A plant with nothing in it: pumps move nothing anywhere, heaters keep their own model,
/// spectrometers see darkness. For probing a lab file's drivers without a campaign.
#[derive(Debug, Default, Clone, Copy)]
pub struct EmptyPlant;

impl Plant for EmptyPlant {
    fn pump(&self, _: &str, _: f64, _: PumpDirection, _: bool) {}
    fn setpoint(&self, _: &str, _: f64) {}
    fn temperature(&self, _: &str) -> Option<f64> {
        None
    }
    fn light(&self, _: &str, _: bool) {}
    fn valve(&self, _: &str, _: u16) {}
    fn detector(&self, _: &str, wavelengths: &[f64], _: Option<Illumination>) -> Vec<f64> {
        vec![0.0; wavelengths.len()]
    }
}

/// One device of the binding: its name in the campaign, its kind and checked settings.
#[derive(Debug, Clone)]
pub struct RigDevice {
    pub name: String,
    pub kind: String,
    pub settings: Settings,
}

/// Opens emulators of a binding's devices instead of ports (see the module doc).
#[derive(Debug)]
pub struct EmulatedPorts {
    clock: Arc<dyn Clock>,
    plant: Arc<dyn Plant>,
    devices: Vec<RigDevice>,
}

fn refused(why: impl Into<String>) -> DeviceErrorKind {
    DeviceErrorKind::Refused(why.into())
}

fn integer(settings: &Settings, name: &str) -> Option<i64> {
    match settings.get(name) {
        Some(SettingValue::Integer(i)) => Some(*i),
        _ => None,
    }
}

fn text<'a>(settings: &'a Settings, name: &str) -> Option<&'a str> {
    match settings.get(name) {
        Some(SettingValue::String(s)) => Some(s),
        _ => None,
    }
}

fn small<T: TryFrom<i64>>(settings: &Settings, name: &str, default: T) -> T {
    integer(settings, name)
        .and_then(|i| T::try_from(i).ok())
        .unwrap_or(default)
}

/// The wavelengths of `pixels` pixels from a polynomial, order 0 first.
fn polynomial_wavelengths(coefficients: &[f64], pixels: usize) -> Vec<f64> {
    (0..pixels)
        .map(|i| {
            let x = i as f64;
            coefficients
                .iter()
                .rev()
                .fold(0.0_f64, |acc, c| acc.mul_add(x, *c))
        })
        .collect()
}

impl EmulatedPorts {
    /// Emulators for `devices` (the binding's, settings as written), on `clock`, in `plant`.
    pub fn new(
        clock: Arc<dyn Clock>,
        plant: Arc<dyn Plant>,
        devices: impl IntoIterator<Item = RigDevice>,
    ) -> Result<Self, crate::registry::RegistryError> {
        let devices = devices
            .into_iter()
            .map(|d| {
                Ok(RigDevice {
                    settings: check_settings(&d.kind, &d.settings)?,
                    ..d
                })
            })
            .collect::<Result<Vec<_>, crate::registry::RegistryError>>()?;
        Ok(Self {
            clock,
            plant,
            devices,
        })
    }

    fn device(&self, name: &str) -> Result<&RigDevice, DeviceErrorKind> {
        self.devices
            .iter()
            .find(|d| d.name == name)
            .ok_or_else(|| refused(format!("`{name}` is not bound in the emulated lab")))
    }

    /// The devices bound to serial port `port`.
    fn on_port(&self, port: &str) -> Vec<&RigDevice> {
        self.devices
            .iter()
            .filter(|d| text(&d.settings, "port") == Some(port))
            .collect()
    }

    /// The light bound to spectrometer `spectrometer`'s lamp output, if any.
    fn lamp_light(&self, spectrometer: &str) -> Option<String> {
        self.devices
            .iter()
            .find(|d| {
                d.kind == "ocean.lamp_output"
                    && text(&d.settings, "spectrometer") == Some(spectrometer)
            })
            .map(|d| d.name.clone())
    }

    /// What spectrometer `name` sees: the plant's light at `wavelengths`; its lamp output
    /// switches the light bound to it or, on a binding with `lamp "broadband"|"excitation"`,
    /// its own source.
    fn scene(&self, name: &str, settings: &Settings, wavelengths: Vec<f64>) -> Scene {
        let plant = Arc::clone(&self.plant);
        let device = name.to_owned();
        let own = SpectrometerBinding::from_settings("", settings)
            .ok()
            .and_then(|b| b.lamp);
        let lamp_light = self.lamp_light(name);
        Scene(Arc::new(move |lamp_on| {
            if let Some(light) = &lamp_light {
                plant.light(light, lamp_on);
            }
            let own = if lamp_on { own } else { None };
            plant.detector(&device, &wavelengths, own)
        }))
    }

    fn serial_emulator(
        &self,
        device: &RigDevice,
        port: &str,
    ) -> Result<BoxedStream, DeviceErrorKind> {
        let clock = Arc::clone(&self.clock);
        let plant = Arc::clone(&self.plant);
        let s = &device.settings;
        let name = device.name.clone();
        match device.kind.as_str() {
            "new_era.ne1000" => {
                // One emulated line holds every pump bound to the port.
                let pumps: BTreeMap<u8, String> = self
                    .on_port(port)
                    .into_iter()
                    .filter(|d| d.kind == "new_era.ne1000")
                    .map(|d| (small(&d.settings, "address", 0u8), d.name.clone()))
                    .collect();
                let addresses: Vec<u8> = pumps.keys().copied().collect();
                let emulator = Emulator::new(NewEraChain::new(clock, &addresses));
                let mut sent = BTreeMap::new();
                emulator.set_hook(move |chain: &mut NewEraChain| {
                    for (address, name) in &pumps {
                        if let Some(p) = chain.pump(*address) {
                            let direction = if p.withdraw {
                                PumpDirection::Withdraw
                            } else {
                                PumpDirection::Infuse
                            };
                            let state = (p.rate(), direction, p.running);
                            if sent.get(address) != Some(&state) {
                                plant.pump(name, state.0, state.1, state.2);
                                sent.insert(*address, state);
                            }
                        }
                    }
                });
                Ok(Box::new(emulator.connect()))
            }
            "harvard.pump11_elite" | "harvard.phd_ultra" => {
                let harvard = self
                    .on_port(port)
                    .into_iter()
                    .filter(|d| d.kind.starts_with("harvard."))
                    .count();
                if harvard > 1 {
                    return Err(refused(
                        "the Harvard emulator plays one pump per line; bind each emulated \
                         Harvard pump to its own port",
                    ));
                }
                let mut pump = HarvardEmulator::new(clock, small(s, "address", 0u8));
                pump.phd_ultra = device.kind == "harvard.phd_ultra";
                let emulator = Emulator::new(pump);
                let mut sent = None;
                emulator.set_hook(move |p: &mut HarvardEmulator| {
                    let direction = if p.withdrawing {
                        PumpDirection::Withdraw
                    } else {
                        PumpDirection::Infuse
                    };
                    let state = (p.rate(), direction, p.running);
                    if sent != Some(state) {
                        plant.pump(&name, state.0, state.1, state.2);
                        sent = Some(state);
                    }
                });
                Ok(Box::new(emulator.connect()))
            }
            "chemyx.fusion" => {
                let emulator = Emulator::new(ChemyxEmulator::new(clock));
                let mut sent = None;
                emulator.set_hook(move |p: &mut ChemyxEmulator| {
                    let (rate, direction) = p.motion();
                    let state = (rate, direction, p.running());
                    if sent != Some(state) {
                        plant.pump(&name, state.0, state.1, state.2);
                        sent = Some(state);
                    }
                });
                Ok(Box::new(emulator.connect()))
            }
            "eurotherm.e3200" | "eurotherm.e2400" => {
                let mut heater = EurothermEmulator::new(clock, small(s, "modbus_address", 1u8));
                heater.series = if device.kind == "eurotherm.e2400" {
                    Series::E2400
                } else {
                    Series::E3200
                };
                let emulator = Emulator::new(heater);
                emulator.set_hook(move |h: &mut EurothermEmulator| {
                    plant.setpoint(&name, h.setpoint + 273.15);
                    if let Some(k) = plant.temperature(&name) {
                        h.hold(k - 273.15);
                    }
                });
                Ok(Box::new(emulator.connect()))
            }
            "huber.pilot_one" => {
                let emulator = Emulator::new(HuberEmulator::new(clock));
                emulator.set_hook(move |h: &mut HuberEmulator| {
                    let target = if h.control_on { h.setpoint } else { h.ambient };
                    plant.setpoint(&name, target + 273.15);
                    if let Some(k) = plant.temperature(&name) {
                        h.hold(k - 273.15);
                    }
                });
                Ok(Box::new(emulator.connect()))
            }
            "ocean.flame" | "ocean.usb2000" => {
                let pixels = small(s, "pixels", crate::drivers::ocean::PIXELS);
                let mut spectrometer = OceanEmulator::new(pixels);
                if device.kind == "ocean.usb2000" {
                    spectrometer.full_scale = crate::drivers::ocean::USB2000_RS232.full_scale;
                    spectrometer.masked = crate::drivers::ocean::USB2000_RS232.dark_pixels;
                }
                let coefficients = SpectrometerBinding::from_settings(&device.kind, s)
                    .ok()
                    .and_then(|b| b.wavelength)
                    .ok_or_else(|| {
                        refused(
                            "an RS-232 Ocean spectrometer holds no calibration it can send: \
                             give `wavelength_coefficients` in its binding",
                        )
                    })?;
                spectrometer.scene =
                    Some(self.scene(&name, s, polynomial_wavelengths(&coefficients, pixels)));
                Ok(Box::new(Emulator::new(spectrometer).connect()))
            }
            "vici.multiposition" | "vici.two_position" => {
                let mode = if device.kind == "vici.two_position" {
                    Mode::TwoPosition
                } else {
                    Mode::Multiposition {
                        positions: small(s, "positions", 2u16),
                    }
                };
                let id = integer(s, "address").and_then(|i| u8::try_from(i).ok());
                let emulator = Emulator::new(ViciEmulator::new(clock, id, mode));
                let mut sent = None;
                emulator.set_hook(move |v: &mut ViciEmulator| {
                    let position = v.current();
                    if sent != Some(position) {
                        plant.valve(&name, position);
                        sent = Some(position);
                    }
                });
                Ok(Box::new(emulator.connect()))
            }
            "thorlabs.sc10" => {
                let emulator = Emulator::new(Sc10Emulator::default());
                let mut sent = None;
                emulator.set_hook(move |shutter: &mut Sc10Emulator| {
                    let open = shutter.open();
                    if sent != Some(open) {
                        plant.light(&name, open);
                        sent = Some(open);
                    }
                });
                Ok(Box::new(emulator.connect()))
            }
            other => Err(refused(format!(
                "no emulator plays `{other}` on a serial port"
            ))),
        }
    }
}

#[async_trait]
impl Ports for EmulatedPorts {
    fn serial(
        &mut self,
        device: &str,
        port: &str,
        _settings: &SerialSettings,
    ) -> Result<BoxedStream, DeviceErrorKind> {
        let bound = self.device(device)?.clone();
        self.serial_emulator(&bound, port)
    }

    async fn usb(
        &mut self,
        device: &str,
        selector: &UsbSelector,
    ) -> Result<Box<dyn UsbBulk>, DeviceErrorKind> {
        let bound = self.device(device)?.clone();
        let serial = selector.serial_number.clone();
        let kind = match bound.kind.as_str() {
            "ocean.usb2000_usb" => OoiKind::Usb2000,
            "ocean.usb2000plus" | "ocean.flame_usb" => OoiKind::Usb2000Plus,
            "ocean.usb4000" => OoiKind::Usb4000,
            "ocean.sts" => {
                let mut sts = ObpEmulator::new();
                if let Some(serial) = serial {
                    sts.serial = serial;
                }
                let coefficients: Vec<f64> = sts.wavelength.iter().map(|c| f64::from(*c)).collect();
                sts.scene = Some(self.scene(
                    &bound.name,
                    &bound.settings,
                    polynomial_wavelengths(&coefficients, 1024),
                ));
                return Ok(Box::new(UsbEmulator::new(sts).host()));
            }
            other => return Err(refused(format!("no emulator plays `{other}` on USB"))),
        };
        let mut ooi = OoiEmulator::new(kind);
        if let Some(serial) = serial {
            ooi.eeprom.insert(0, serial);
        }
        // The calibration the device holds (EEPROM slots 1-4), as the driver reads it.
        let coefficients: Vec<f64> = (1..=4)
            .map(|slot| {
                ooi.eeprom
                    .get(&slot)
                    .and_then(|t| t.trim().parse().ok())
                    .unwrap_or(0.0)
            })
            .collect();
        ooi.scene = Some(self.scene(
            &bound.name,
            &bound.settings,
            polynomial_wavelengths(&coefficients, ooi.pixels()),
        ));
        Ok(Box::new(UsbEmulator::new(ooi).host()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wavelengths_follow_the_polynomial_order_zero_first() {
        let w = polynomial_wavelengths(&[300.0, 0.5, 0.001], 3);
        assert_eq!(w, vec![300.0, 300.501, 301.004]);
    }
}
