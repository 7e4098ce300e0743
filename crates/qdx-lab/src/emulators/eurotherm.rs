//! A Eurotherm 2000/3000-series controller as a Modbus RTU slave (instruments.md A4).
//!
//! Invariants: only frames for its slave address with a good CRC are answered (a real slave
//! ignores the rest); functions 3, 6 and 16 are served; unknown registers answer exception 2,
//! read-only ones written or values outside the setpoint limits exception 3; the process value
//! relaxes toward the setpoint on the [`Clock`] with time constant `tau`.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::drivers::eurotherm::{PV, TARGET_SP, WORKING_SP};
use crate::emulators::Protocol;
use crate::protocol::modbus::{crc_ok, request_len, with_crc};

/// An emulated controller.
#[derive(Debug)]
pub struct EurothermEmulator {
    pub slave: u8,
    pub decimals: u8,
    /// °C.
    pub setpoint: f64,
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
            setpoint: 25.0,
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

    fn read(&self, register: u16) -> Result<u16, u8> {
        let scaled = |celsius: f64| (celsius * self.scale()).round() as i16 as u16;
        match register {
            PV | 289 => Ok(scaled(self.temperature)),
            TARGET_SP | WORKING_SP => Ok(scaled(self.setpoint)),
            r if r == self.alarm_register => Ok(self.alarm),
            _ => Err(2),
        }
    }

    fn write(&mut self, register: u16, value: u16) -> Result<(), u8> {
        match register {
            TARGET_SP | 24 => {
                let celsius = f64::from(value as i16) / self.scale();
                if celsius < self.limits.0 || celsius > self.limits.1 {
                    return Err(3);
                }
                self.setpoint = celsius;
                Ok(())
            }
            PV | WORKING_SP | 289 => Err(3),
            _ => Err(2),
        }
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
