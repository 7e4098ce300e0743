//! The device traits. One trait per kind of instrument the runtime drives.

use async_trait::async_trait;
use qdx_spectra::Spectrum;
use serde::{Deserialize, Serialize};

use crate::error::{DeviceError, DeviceErrorKind, DeviceResult};

/// What a device says it is (`qdx lab probe` prints this).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub vendor: String,
    pub model: String,
    pub firmware: Option<String>,
    pub serial_number: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PumpDirection {
    Infuse,
    Withdraw,
}

/// A pump's state as last read from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PumpStatus {
    pub running: bool,
    pub direction: PumpDirection,
    /// Current rate setting, m³/s.
    pub rate: f64,
    /// Volume infused since the last reset, m³.
    pub infused: f64,
    /// Volume withdrawn since the last reset, m³.
    pub withdrawn: f64,
    /// An active alarm, if any (stall, ...).
    pub alarm: Option<String>,
}

/// A syringe (or other positive-displacement) pump.
#[async_trait]
pub trait Pump: Send + std::fmt::Debug {
    async fn identify(&mut self) -> DeviceResult<Identity>;
    /// Sets the flow rate in m³/s; takes effect now if running, else at the next start.
    async fn set_rate(&mut self, rate: f64) -> DeviceResult<()>;
    async fn set_direction(&mut self, direction: PumpDirection) -> DeviceResult<()>;
    async fn start(&mut self) -> DeviceResult<()>;
    async fn stop(&mut self) -> DeviceResult<()>;
    async fn status(&mut self) -> DeviceResult<PumpStatus>;
}

/// A heater's state as last read from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeaterStatus {
    /// Process value, K.
    pub temperature: f64,
    /// Working setpoint, K.
    pub setpoint: f64,
    pub alarm: Option<String>,
}

/// A temperature controller (heater, thermostat, circulator).
#[async_trait]
pub trait Heater: Send + std::fmt::Debug {
    async fn identify(&mut self) -> DeviceResult<Identity>;
    /// Sets the setpoint in kelvin.
    async fn set_setpoint(&mut self, kelvin: f64) -> DeviceResult<()>;
    async fn status(&mut self) -> DeviceResult<HeaterStatus>;
}

/// Which light reaches the flow cell while a spectrum is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Illumination {
    /// Every source off: the dark spectrum.
    Dark,
    /// The broadband lamp through the sample: transmission, for absorbance.
    Broadband,
    /// The excitation source: emission, for photoluminescence.
    Excitation,
    /// The X-ray beam through the sample: a small-angle scattering pattern I(q). Only a SAXS
    /// camera acquires under it; an optical driver refuses it.
    XRay,
    /// Alternating left and right circularly polarised light: the ellipticity (circular
    /// dichroism) in mdeg. Only a CD spectrometer acquires under it; an optical driver
    /// refuses it.
    CircularlyPolarized,
}

/// One acquisition: the spectrometer averages `averages` scans of `integration_time_s` each.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AcquireRequest {
    pub illumination: Illumination,
    pub integration_time_s: f64,
    pub averages: u32,
}

/// An inline spectrometer with its light sources.
#[async_trait]
pub trait Spectrometer: Send + std::fmt::Debug {
    async fn identify(&mut self) -> DeviceResult<Identity>;
    /// Takes one averaged spectrum of raw counts ([`qdx_spectra::SpectrumQuantity::Counts`]).
    async fn acquire(&mut self, request: &AcquireRequest) -> DeviceResult<Spectrum>;
    /// Makes the next acquisition with `request`'s settings fresh after a light switch or a
    /// setting change: takes one scan and drops it (the scan integrating during the change
    /// mixes both states). A driver that already drops the stale scan after its own setting
    /// change makes that scan the one dropped, so the discard never costs two.
    async fn discard(&mut self, request: &AcquireRequest) -> DeviceResult<()> {
        self.acquire(request).await.map(|_| ())
    }
    /// Moves the spectrometer's probe along reactor coil `coil` to `volume` m³ from its inlet
    /// (multi-point detection: the probe reads the coil through its wall). A spectrometer that
    /// reads only its flow cell refuses, which is what every driver does unless it has a
    /// probe that moves.
    async fn move_probe(&mut self, coil: &str, volume: f64) -> DeviceResult<()> {
        let _ = volume;
        Err(DeviceError::new(
            "spectrometer",
            DeviceErrorKind::Refused(format!(
                "this spectrometer reads its flow cell only; it has no probe to move along `{coil}`"
            )),
        ))
    }
}

/// A light source the plan switches for each measurement: a lamp, an LED or a laser, or
/// whatever switches one (a spectrometer's lamp-enable output, a shutter in front of a lamp).
#[async_trait]
pub trait Light: Send + std::fmt::Debug {
    async fn identify(&mut self) -> DeviceResult<Identity>;
    /// Switches the light on (`true`) or off; returns once the command is taken (the light
    /// may still need its settle time).
    async fn set(&mut self, on: bool) -> DeviceResult<()>;
    /// Whether the light is on, as far as the device can tell (`None`: it cannot tell, as
    /// for a light the operator switches by hand).
    async fn state(&mut self) -> DeviceResult<Option<bool>>;
}

/// A selection or switching valve (also a collector's collect/waste switch).
#[async_trait]
pub trait Valve: Send + std::fmt::Debug {
    async fn identify(&mut self) -> DeviceResult<Identity>;
    async fn set_position(&mut self, position: u16) -> DeviceResult<()>;
    async fn position(&mut self) -> DeviceResult<u16>;
}

/// A pressure sensor or a back-pressure regulator's readback.
#[async_trait]
pub trait PressureSensor: Send + std::fmt::Debug {
    async fn identify(&mut self) -> DeviceResult<Identity>;
    /// Gauge pressure, Pa.
    async fn pressure(&mut self) -> DeviceResult<f64>;
}
