//! A Eurotherm 3200 or 2400 (v3) controller as a Modbus RTU slave (instruments.md A4).
//!
//! Invariants: only frames for its slave address with a good CRC are answered (a real slave
//! ignores the rest); functions 3, 6 and 16 are served; unknown registers answer exception 2,
//! read-only ones written or values outside the setpoint limits exception 3; the process value
//! relaxes toward the working setpoint on the [`Clock`] with time constant `tau`.
//!
//! Temperatures cross the wire in the controller's display unit, scaled by its display decimal
//! places, as a real controller sends them (77.2 °C with one decimal is 772; minimalmodbus
//! usage), when the comms resolution is Full. A 2400 in Integer comms resolution (`rES`, tag
//! 12550 = 1; HA026230 §3.5) rounds every value to a whole number instead: 60 °C is 60, and
//! 600 written means 600 °C.
//!
//! The register map is the emulator's own, from the reference text, per series:
//! - 3200 (HA028651 Issue 7 §15.5): PV 1, target setpoint 2 (EEPROM, whose writes are counted
//!   so a test can prove none happen), working setpoint 5 (read-only), SP1 24, remote setpoint
//!   26, remote setpoint select 276 (0 local, 1 remote). Units 516 and decimal places 525 as
//!   on the 2000 series (their 3200 values are unverified); no comms-resolution tag (the 3200
//!   equivalent of `rES` is unverified).
//! - 2400 v3 (HA026230): PV 1, target setpoint 2, working setpoint 5, remote setpoint `rm.SP`
//!   485; tag 26 is "remote input comms access", a setting of its own that moves no setpoint;
//!   units 516 (0 °C, 1 °F, 2 K, 3 none), decimal places 525, `rES` 12550 (0 Full,
//!   1 Integer). Remote setpoint select at 276 as on the 3200 is unverified: calibrate.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::emulators::Protocol;
use crate::protocol::modbus::{crc_ok, request_len, with_crc};

const PV: u16 = 1;
const PV_ALIAS: u16 = 289;
const TARGET_SP: u16 = 2;
const WORKING_SP: u16 = 5;
const SP1: u16 = 24;
const SP_3200_REMOTE: u16 = 26;
const REMOTE_SELECT: u16 = 276;
const SP_2400_REMOTE: u16 = 485;
const UNITS: u16 = 516;
const DECIMALS: u16 = 525;
const COMMS_RESOLUTION: u16 = 12550;

/// Which controller's register map the emulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    /// 3200 (HA028651).
    E3200,
    /// 2400 firmware v3 (HA026230).
    E2400,
}

/// An emulated controller.
#[derive(Debug)]
pub struct EurothermEmulator {
    pub slave: u8,
    pub series: Series,
    /// Comms resolution (2400: `rES`, tag 12550): 0 Full, 1 Integer.
    pub comms_resolution: u16,
    /// 2400 tag 26, "remote input comms access" (0 or 1).
    pub remote_input_comms_access: u16,
    /// Display decimal places (tag 525): 0, 1 or 2.
    pub decimals: u8,
    /// Display units (tag 516): 0 °C, 1 °F, 2 K, 3 none.
    pub units: u16,
    /// The working setpoint the controller regulates to, °C: the target setpoint, or the comms
    /// setpoint while remote is selected.
    pub setpoint: f64,
    /// The target (local) setpoint, tag 2, °C; kept in EEPROM.
    pub target_setpoint: f64,
    /// The remote (comms) setpoint, tag 26 on a 3200, 485 on a 2400, °C; kept in RAM.
    pub comms_setpoint: f64,
    /// Remote setpoint selected (tag 276).
    pub remote: bool,
    /// Writes to EEPROM-backed setpoints (the target setpoint and setpoints 1/2) so far.
    pub eeprom_writes: u32,
    /// °C.
    pub temperature: f64,
    /// Setpoint limits, °C.
    pub limits: (f64, f64),
    pub tau: Duration,
    /// Alarm summary register and its value.
    pub alarm_register: u16,
    pub alarm: u16,
    last_update: Duration,
    clock: Arc<dyn Clock>,
}

impl EurothermEmulator {
    /// A 3200 at `slave`: one decimal, °C, local setpoint 25 °C.
    pub fn new(clock: Arc<dyn Clock>, slave: u8) -> Self {
        Self {
            slave,
            series: Series::E3200,
            comms_resolution: 0,
            remote_input_comms_access: 0,
            decimals: 1,
            units: 0,
            setpoint: 25.0,
            target_setpoint: 25.0,
            comms_setpoint: 25.0,
            remote: false,
            eeprom_writes: 0,
            temperature: 25.0,
            limits: (0.0, 400.0),
            tau: Duration::from_secs(60),
            alarm_register: 10213,
            alarm: 0,
            last_update: Duration::ZERO,
            clock,
        }
    }

    /// A 2400 (v3) at `slave`, comms resolution Full.
    pub fn series_2400(clock: Arc<dyn Clock>, slave: u8) -> Self {
        Self {
            series: Series::E2400,
            ..Self::new(clock, slave)
        }
    }

    fn remote_sp(&self) -> u16 {
        match self.series {
            Series::E3200 => SP_3200_REMOTE,
            Series::E2400 => SP_2400_REMOTE,
        }
    }

    /// The process value is `celsius` now (a plant's thermal model drives the display).
    pub fn hold(&mut self, celsius: f64) {
        self.temperature = celsius;
        self.last_update = self.clock.now();
    }

    pub fn advance(&mut self) {
        let now = self.clock.now();
        let elapsed = now.saturating_sub(self.last_update).as_secs_f64();
        self.last_update = self.last_update.max(now);
        let tau = self.tau.as_secs_f64().max(1e-3);
        self.temperature =
            self.setpoint + (self.temperature - self.setpoint) * (-elapsed / tau).exp();
    }

    /// Integer comms resolution sends whole numbers whatever the display shows.
    fn scale(&self) -> f64 {
        if self.series == Series::E2400 && self.comms_resolution == 1 {
            1.0
        } else {
            10f64.powi(i32::from(self.decimals))
        }
    }

    /// °C to the display unit; "none" shows the number as it is.
    fn celsius_to_display(&self, celsius: f64) -> f64 {
        match self.units {
            1 => celsius * 9.0 / 5.0 + 32.0,
            2 => celsius + 273.15,
            _ => celsius,
        }
    }

    fn display_to_celsius(&self, value: f64) -> f64 {
        match self.units {
            1 => (value - 32.0) * 5.0 / 9.0,
            2 => value - 273.15,
            _ => value,
        }
    }

    fn read(&self, register: u16) -> Result<u16, u8> {
        let scaled =
            |celsius: f64| (self.celsius_to_display(celsius) * self.scale()).round() as i16 as u16;
        let e2400 = self.series == Series::E2400;
        match register {
            PV | PV_ALIAS => Ok(scaled(self.temperature)),
            TARGET_SP => Ok(scaled(self.target_setpoint)),
            WORKING_SP => Ok(scaled(self.setpoint)),
            r if r == self.remote_sp() => Ok(scaled(self.comms_setpoint)),
            SP_3200_REMOTE if e2400 => Ok(self.remote_input_comms_access),
            REMOTE_SELECT => Ok(u16::from(self.remote)),
            UNITS => Ok(self.units),
            DECIMALS => Ok(u16::from(self.decimals)),
            COMMS_RESOLUTION if e2400 => Ok(self.comms_resolution),
            r if r == self.alarm_register => Ok(self.alarm),
            _ => Err(2),
        }
    }

    fn write(&mut self, register: u16, value: u16) -> Result<(), u8> {
        let celsius = self.display_to_celsius(f64::from(value as i16) / self.scale());
        let in_limits = celsius >= self.limits.0 && celsius <= self.limits.1;
        let e2400 = self.series == Series::E2400;
        match register {
            TARGET_SP | SP1 => {
                if !in_limits {
                    return Err(3);
                }
                self.eeprom_writes += 1;
                self.target_setpoint = celsius;
            }
            r if r == self.remote_sp() => {
                if !in_limits {
                    return Err(3);
                }
                self.comms_setpoint = celsius;
            }
            SP_3200_REMOTE if e2400 => {
                if value > 1 {
                    return Err(3);
                }
                self.remote_input_comms_access = value;
            }
            REMOTE_SELECT if value <= 1 => self.remote = value == 1,
            // Read-only, or configuration that only the instrument's config level changes.
            PV | WORKING_SP | PV_ALIAS | UNITS | DECIMALS | REMOTE_SELECT => return Err(3),
            COMMS_RESOLUTION if e2400 => return Err(3),
            _ => return Err(2),
        }
        self.setpoint = if self.remote {
            self.comms_setpoint
        } else {
            self.target_setpoint
        };
        Ok(())
    }

    fn exception(&self, function: u8, code: u8) -> Vec<u8> {
        with_crc(vec![self.slave, function | 0x80, code])
    }

    fn word(bytes: &[u8], at: usize) -> u16 {
        u16::from_be_bytes([
            bytes.get(at).copied().unwrap_or(0),
            bytes.get(at + 1).copied().unwrap_or(0),
        ])
    }
}

impl Protocol for EurothermEmulator {
    fn take_request(&mut self, input: &mut Vec<u8>) -> Option<Vec<u8>> {
        let len = request_len(input)?;
        if input.len() < len {
            return None;
        }
        Some(input.drain(..len).collect())
    }

    fn respond(&mut self, request: &[u8]) -> Vec<u8> {
        if !crc_ok(request) || request.first() != Some(&self.slave) {
            return Vec::new();
        }
        self.advance();
        let function = request.get(1).copied().unwrap_or(0);
        let start = Self::word(request, 2);
        match function {
            0x03 => {
                let count = Self::word(request, 4);
                if count == 0 || count > 125 {
                    return self.exception(function, 3);
                }
                let mut body = vec![self.slave, function, (count * 2) as u8];
                for register in start..start.saturating_add(count) {
                    match self.read(register) {
                        Ok(v) => body.extend_from_slice(&v.to_be_bytes()),
                        Err(code) => return self.exception(function, code),
                    }
                }
                with_crc(body)
            }
            0x06 => match self.write(start, Self::word(request, 4)) {
                Ok(()) => request.to_vec(),
                Err(code) => self.exception(function, code),
            },
            0x10 => {
                let count = Self::word(request, 4);
                for i in 0..count {
                    let value = Self::word(request, 7 + 2 * usize::from(i));
                    if let Err(code) = self.write(start.saturating_add(i), value) {
                        return self.exception(function, code);
                    }
                }
                with_crc(request.get(..6).unwrap_or(&[]).to_vec())
            }
            _ => self.exception(function, 1),
        }
    }

    fn error_reply(&mut self, request: &[u8]) -> Vec<u8> {
        // Exception 4: slave device failure.
        self.exception(request.get(1).copied().unwrap_or(0), 4)
    }
}
