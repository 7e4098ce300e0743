//! A Huber thermostat speaking PB commands (instruments.md A4).
//!
//! Invariants: every well-formed master frame gets a 10-character slave frame for the same
//! address; unknown addresses read `7FFF`; the setpoint is clamped to the unit's range; with
//! control on, the bath temperature relaxes toward the setpoint on the [`Clock`] with time
//! constant `tau`, and with control off toward the ambient temperature.
//!
//! From instruments.md A4: the status word at 0x0A carries the error and warning bits
//! ([`HuberEmulator::status_word`], raw, so a test can set any bit; the bit positions are
//! flowchem's, unverified: calibrate), and the unit's own setpoint limits read at 0x30
//! (minimum) and 0x31 (maximum), the same [`HuberEmulator::range`] the setpoint is clamped to.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::emulators::{Protocol, take_line};
use crate::protocol::huber::{
    self as protocol, CIRCULATION, CONTROL, INTERNAL, NO_SENSOR, PROCESS, RETURN, SETPOINT,
    SETPOINT_MAX, SETPOINT_MIN, STATUS, UNSUPPORTED,
};
use crate::transport::Decoded;

/// An emulated Huber thermostat.
#[derive(Debug)]
pub struct HuberEmulator {
    /// °C.
    pub setpoint: f64,
    pub temperature: f64,
    pub ambient: f64,
    pub control_on: bool,
    pub circulation_on: bool,
    /// Setpoint limits, °C: read at 0x30 / 0x31, and a setpoint written outside is clamped.
    pub range: (f64, f64),
    /// The status word at 0x0A, as the unit sends it.
    pub status_word: u16,
    pub tau: Duration,
    /// The process Pt100 is unplugged: it reads −151 °C.
    pub process_sensor_missing: bool,
    last_update: Duration,
    clock: Arc<dyn Clock>,
}

impl HuberEmulator {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            setpoint: 20.0,
            temperature: 20.0,
            ambient: 20.0,
            control_on: false,
            circulation_on: false,
            range: (-40.0, 200.0),
            status_word: 0,
            tau: Duration::from_secs(120),
            process_sensor_missing: false,
            last_update: Duration::ZERO,
            clock,
        }
    }

    /// The measured temperature is `celsius` now (a plant's thermal model drives it).
    pub fn hold(&mut self, celsius: f64) {
        self.temperature = celsius;
        self.last_update = self.clock.now();
    }

    pub fn advance(&mut self) {
        let now = self.clock.now();
        let elapsed = now.saturating_sub(self.last_update).as_secs_f64();
        self.last_update = self.last_update.max(now);
        let target = if self.control_on {
            self.setpoint
        } else {
            self.ambient
        };
        let tau = self.tau.as_secs_f64().max(1e-3);
        self.temperature = target + (self.temperature - target) * (-elapsed / tau).exp();
    }

    fn raw(celsius: f64) -> u16 {
        protocol::celsius_to_raw(celsius).map_or(UNSUPPORTED, |v| v as u16)
    }
}

impl Protocol for HuberEmulator {
    fn take_request(&mut self, input: &mut Vec<u8>) -> Option<Vec<u8>> {
        // Resynchronise on `{`, as the device drops bytes outside a frame.
        let start = input.iter().position(|&b| b == b'{');
        match start {
            None => {
                input.clear();
                return None;
            }
            Some(s) => {
                input.drain(..s);
            }
        }
        take_line(input, b'\n')
    }

    fn respond(&mut self, request: &[u8]) -> Vec<u8> {
        let mut frame = request.to_vec();
        frame.push(b'\n');
        let Decoded::Frame { value, .. } = protocol::decode(&frame) else {
            return Vec::new();
        };
        if !value.master {
            return Vec::new();
        }
        self.advance();
        let address = value.address;
        let reply = match (address, value.value) {
            (SETPOINT, None) => Self::raw(self.setpoint),
            (SETPOINT, Some(raw)) => {
                let celsius = protocol::raw_to_celsius(raw);
                self.setpoint = celsius.clamp(self.range.0, self.range.1);
                Self::raw(self.setpoint)
            }
            (INTERNAL | RETURN, None) => Self::raw(self.temperature),
            (PROCESS, None) if self.process_sensor_missing => NO_SENSOR as u16,
            (PROCESS, None) => Self::raw(self.temperature),
            (CONTROL, None) => u16::from(self.control_on),
            (CONTROL, Some(v)) => {
                self.control_on = v != 0;
                u16::from(self.control_on)
            }
            (STATUS, None) => self.status_word,
            (SETPOINT_MIN, None) => Self::raw(self.range.0),
            (SETPOINT_MAX, None) => Self::raw(self.range.1),
            (CIRCULATION, None) => u16::from(self.circulation_on),
            (CIRCULATION, Some(v)) => {
                self.circulation_on = v != 0;
                u16::from(self.circulation_on)
            }
            _ => UNSUPPORTED,
        };
        protocol::encode_reply(address, reply)
    }

    fn error_reply(&mut self, request: &[u8]) -> Vec<u8> {
        let address = u8::from_str_radix(
            &String::from_utf8_lossy(request.get(2..4).unwrap_or(b"00")),
            16,
        )
        .unwrap_or(0);
        protocol::encode_reply(address, UNSUPPORTED)
    }
}
