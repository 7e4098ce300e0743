//! Huber Unistat / Pilot ONE thermostats over PB commands.
//!
//! Source: instruments.md A4, from the Huber Data Communication manual V2.3.0 and flowchem
//! (`cambiegroup/flowchem:src/flowchem/devices/huber/chiller.py`).
//!
//! Invariants:
//! - The unit's own setpoint limits (0x30 minimum, 0x31 maximum) are read at first contact
//!   ([`Heater::identify`], which the registry calls at connect) and before the first setpoint
//!   otherwise; a setpoint outside them is [`DeviceErrorKind::OutOfEnvelope`] and is never
//!   written.
//! - A setpoint written must come back in the reply (a thermostat that clamps it anyway is
//!   [`DeviceErrorKind::Refused`]); temperature control is switched on after the first one.
//! - `status` reads the status word at 0x0A: its error or warning bit is reported in
//!   [`HeaterStatus::alarm`] with the raw word (bit positions as flowchem decodes them,
//!   unverified: calibrate).
//! - `7FFF` is [`DeviceErrorKind::Refused`] (unsupported), the no-sensor value −151 °C an
//!   [`DeviceErrorKind::Alarm`].

use std::time::Duration;

use async_trait::async_trait;

use crate::device::{Heater, HeaterStatus, Identity};
use crate::error::{DeviceError, DeviceErrorKind, DeviceResult};
use crate::protocol::huber::{self as protocol, Frame};
use crate::transport::{ByteStream, Link, SerialSettings};

pub const DEFAULT_BAUD: u32 = 9600;

/// The manual recommends a retry timeout of at least 1 s (replies take up to 300 ms).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1000);

/// 8N1, no handshake.
pub fn serial_settings(baud: u32) -> SerialSettings {
    SerialSettings::eight_n_one(baud)
}

const ZERO_CELSIUS: f64 = 273.15;

/// Which sensor is the process value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HuberSensor {
    /// The bath (internal) temperature.
    Internal,
    /// The external Pt100 in the process.
    Process,
}

/// One Huber thermostat.
pub struct HuberHeater<S> {
    name: String,
    link: Link<S>,
    sensor: HuberSensor,
    control_on: bool,
    /// The unit's own setpoint limits, °C, once read.
    limits: Option<(f64, f64)>,
}

impl<S> std::fmt::Debug for HuberHeater<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HuberHeater")
            .field("name", &self.name)
            .field("sensor", &self.sensor)
            .finish_non_exhaustive()
    }
}

impl<S: ByteStream> HuberHeater<S> {
    pub fn new(name: impl Into<String>, link: Link<S>, sensor: HuberSensor) -> Self {
        Self {
            name: name.into(),
            link,
            sensor,
            control_on: false,
            limits: None,
        }
    }

    fn error(&self, kind: DeviceErrorKind) -> DeviceError {
        DeviceError::new(self.name.clone(), kind)
    }

    /// Reads (`None`) or writes one address; returns the raw value of the reply.
    async fn transact(&mut self, address: u8, value: Option<i16>) -> DeviceResult<u16> {
        let request = protocol::encode(address, value);
        self.link
            .send(&request)
            .await
            .map_err(|kind| self.error(kind))?;
        let frame: Frame = self
            .link
            .read_frame(protocol::decode)
            .await
            .map_err(|kind| self.error(kind))?;
        if frame.master || frame.address != address {
            return Err(self.error(DeviceErrorKind::Garbage(format!(
                "reply for address {:#04x} to a request for {address:#04x}",
                frame.address
            ))));
        }
        match frame.value {
            Some(protocol::UNSUPPORTED) => Err(self.error(DeviceErrorKind::Refused(format!(
                "address {address:#04x} is not supported or not licensed"
            )))),
            Some(raw) => Ok(raw),
            None => Err(self.error(DeviceErrorKind::Garbage("reply without a value".into()))),
        }
    }

    async fn temperature(&mut self, address: u8) -> DeviceResult<f64> {
        let raw = self.transact(address, None).await?;
        if raw as i16 == protocol::NO_SENSOR {
            return Err(self.error(DeviceErrorKind::Alarm(format!(
                "no sensor at address {address:#04x}"
            ))));
        }
        Ok(protocol::raw_to_celsius(raw) + ZERO_CELSIUS)
    }

    /// The unit's own setpoint limits, °C, read once (0x30, 0x31).
    async fn limits(&mut self) -> DeviceResult<(f64, f64)> {
        if let Some(limits) = self.limits {
            return Ok(limits);
        }
        let min = protocol::raw_to_celsius(self.transact(protocol::SETPOINT_MIN, None).await?);
        let max = protocol::raw_to_celsius(self.transact(protocol::SETPOINT_MAX, None).await?);
        if min > max {
            return Err(self.error(DeviceErrorKind::Garbage(format!(
                "setpoint limits {min:.2} °C (0x30) above {max:.2} °C (0x31)"
            ))));
        }
        self.limits = Some((min, max));
        Ok((min, max))
    }

    /// The alarm the status word at 0x0A reports, if any.
    async fn alarm(&mut self) -> DeviceResult<Option<String>> {
        let word = self.transact(protocol::STATUS, None).await?;
        let what = match (
            word & protocol::STATUS_ERROR != 0,
            word & protocol::STATUS_WARNING != 0,
        ) {
            (true, true) => "error and warning",
            (true, false) => "error",
            (false, true) => "warning",
            (false, false) => return Ok(None),
        };
        Ok(Some(format!(
            "{what} flagged in the status word ({word:#06x} at 0x0a); see the thermostat's display"
        )))
    }

    /// Switches temperature control on or off.
    pub async fn set_control(&mut self, on: bool) -> DeviceResult<()> {
        self.transact(protocol::CONTROL, Some(i16::from(on)))
            .await?;
        self.control_on = on;
        Ok(())
    }
}

#[async_trait]
impl<S: ByteStream> Heater for HuberHeater<S> {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        // PB has no identity query; reading the setpoint limits proves the line works and
        // fetches what every setpoint is checked against.
        self.limits().await?;
        Ok(Identity {
            vendor: "Huber".into(),
            model: "PB thermostat".into(),
            firmware: None,
            serial_number: None,
        })
    }

    async fn set_setpoint(&mut self, kelvin: f64) -> DeviceResult<()> {
        let (min, max) = self.limits().await?;
        let celsius = kelvin - ZERO_CELSIUS;
        if !(min..=max).contains(&celsius) {
            return Err(self.error(DeviceErrorKind::OutOfEnvelope(format!(
                "setpoint {celsius:.2} °C is outside the thermostat's own limits, \
                 {min:.2} °C to {max:.2} °C (addresses 0x30, 0x31)"
            ))));
        }
        let raw = protocol::celsius_to_raw(kelvin - ZERO_CELSIUS).ok_or_else(|| {
            self.error(DeviceErrorKind::OutOfEnvelope(format!(
                "setpoint {kelvin} K cannot be sent"
            )))
        })?;
        let echoed = self.transact(protocol::SETPOINT, Some(raw)).await?;
        if echoed as i16 != raw {
            return Err(self.error(DeviceErrorKind::Refused(format!(
                "setpoint {:.2} °C was clamped to {:.2} °C",
                f64::from(raw) / 100.0,
                protocol::raw_to_celsius(echoed)
            ))));
        }
        if !self.control_on {
            self.set_control(true).await?;
        }
        Ok(())
    }

    async fn status(&mut self) -> DeviceResult<HeaterStatus> {
        let address = match self.sensor {
            HuberSensor::Internal => protocol::INTERNAL,
            HuberSensor::Process => protocol::PROCESS,
        };
        let temperature = self.temperature(address).await?;
        let setpoint =
            protocol::raw_to_celsius(self.transact(protocol::SETPOINT, None).await?) + ZERO_CELSIUS;
        let alarm = self.alarm().await?;
        Ok(HeaterStatus {
            temperature,
            setpoint,
            alarm,
        })
    }
}
