//! A Eurotherm 2000/3000-series controller as a Modbus RTU slave (instruments.md A4).
//!
//! Invariants: only frames for its slave address with a good CRC are answered (a real slave
//! ignores the rest); functions 3, 6 and 16 are served; unknown registers answer exception 2,
//! read-only ones written or values outside the setpoint limits exception 3; the process value
//! relaxes toward the working setpoint on the [`Clock`] with time constant `tau`.
//!
//! Temperatures cross the wire in the controller's display unit, scaled by its display decimal
//! places, as a real controller sends them: an integer-display controller sends 80 °C as 80, a
//! one-decimal one as 800, a °F one as 1760. instruments.md A4 documents only the scaling by
//! decimal places and PV 1 / target SP 2 / working SP 5; the rest is assumed here (unverified:
//! calibrate), from the Eurotherm 3200 manual's Modbus table (HA028651 §15.5) and the 2000-series
//! map: units at tag 516 (0 °C, 1 °F, 2 K, 3 none), decimal places at tag 525 (0, 1 or 2), the
//! comms (remote) setpoint at 26, remote setpoint select at 276 (0 local, 1 remote). The target
//! setpoint (2) is held in EEPROM, whose writes are counted so a test can prove none happen.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::drivers::eurotherm::{
    COMMS_SP, DECIMALS, PV, REMOTE_SELECT, TARGET_SP, UNITS, WORKING_SP,
};
use crate::emulators::Protocol;
use crate::protocol::modbus::{crc_ok, request_len, with_crc};

/// An emulated controller.
#[derive(Debug)]
pub struct EurothermEmulator {
    pub slave: u8,
    /// Display decimal places (tag 525): 0, 1 or 2.
    pub decimals: u8,
    /// Display units (tag 516): 0 °C, 1 °F, 2 K, 3 none.
    pub units: u16,
    /// The working setpoint the controller regulates to, °C: the target setpoint, or the comms
    /// setpoint while remote is selected.
    pub setpoint: f64,
    /// The target (local) setpoint, tag 2, °C; kept in EEPROM.
    pub target_setpoint: f64,
    /// The comms (remote) setpoint, tag 26, °C; kept in RAM.
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
    pub fn new(clock: Arc<dyn Clock>, slave: u8) -> Self {
        Self {
            slave,
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

    pub fn advance(&mut self) {
        let now = self.clock.now();
        let elapsed = now.saturating_sub(self.last_update).as_secs_f64();
        self.last_update = self.last_update.max(now);
        let tau = self.tau.as_secs_f64().max(1e-3);
        self.temperature =
            self.setpoint + (self.temperature - self.setpoint) * (-elapsed / tau).exp();
    }

    fn scale(&self) -> f64 {
        10f64.powi(i32::from(self.decimals))
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
        match register {
            PV | 289 => Ok(scaled(self.temperature)),
            TARGET_SP => Ok(scaled(self.target_setpoint)),
            WORKING_SP => Ok(scaled(self.setpoint)),
            COMMS_SP => Ok(scaled(self.comms_setpoint)),
            REMOTE_SELECT => Ok(u16::from(self.remote)),
            UNITS => Ok(self.units),
            DECIMALS => Ok(u16::from(self.decimals)),
            r if r == self.alarm_register => Ok(self.alarm),
            _ => Err(2),
        }
    }

    fn write(&mut self, register: u16, value: u16) -> Result<(), u8> {
        let celsius = self.display_to_celsius(f64::from(value as i16) / self.scale());
        let in_limits = celsius >= self.limits.0 && celsius <= self.limits.1;
        match register {
            TARGET_SP | 24 => {
                if !in_limits {
                    return Err(3);
                }
                self.eeprom_writes += 1;
                self.target_setpoint = celsius;
            }
            COMMS_SP => {
                if !in_limits {
                    return Err(3);
                }
                self.comms_setpoint = celsius;
            }
            REMOTE_SELECT if value <= 1 => self.remote = value == 1,
            // Read-only, or configuration that only the instrument's config level changes.
            PV | WORKING_SP | 289 | UNITS | DECIMALS | REMOTE_SELECT => return Err(3),
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
