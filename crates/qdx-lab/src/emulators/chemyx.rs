//! A Chemyx Fusion pump, as far as instruments.md A3 documents it.
//!
//! Invariants, from the reference text: every reply is the echo of the command line, then the
//! answer lines, then the prompt `>` (`set rate 1\r` → `set rate 1\r\nrate = 1\r\n>`;
//! qudi reads to `"\r\n>"`); `view parameter` lists `unit =`, `dia =`, `rate =`, `time =`,
//! `volume =`, `delay =` lines (the key is `unit`, not `units`); `pump status` answers its
//! code (0 stopped, 1 running, 2 paused, 3 delayed, 4 stalled); the pump runs toward
//! `|volume|` in the direction of the volume's sign and stops there; a stall stops the motor
//! and reads as status 4 until `stop` or `start`.
//!
//! Assumed where instruments.md is silent (unverified: calibrate): numbers print with three
//! decimals; `set units` and `set diameter` answer under the keys `view parameter` uses
//! (`unit = 2`, `dia = 14.570`); `start`, `stop`, `pause`, `restart` answer nothing between
//! the echo and the prompt; `dispensed volume` answers `dispensed volume = <v>`; an unknown
//! command answers `Invalid command`.

use std::sync::Arc;
use std::time::Duration;

use crate::capability::{CHEMYX_FUSION_SPEED, syringe_rate_range};
use crate::clock::Clock;
use crate::emulators::{Protocol, take_line};
use crate::protocol::chemyx::{PumpState, format_reply, units_si};

/// An emulated Fusion.
#[derive(Debug)]
pub struct ChemyxEmulator {
    pub units: u8,
    pub diameter_mm: f64,
    /// In the current units.
    pub rate: f64,
    /// Signed target in the current volume unit; negative withdraws.
    pub volume: f64,
    pub state: PumpState,
    /// Volume moved in the current run, m³.
    pub moved: f64,
    /// The motor stalls as soon as it is started (a jammed syringe).
    pub stall_on_start: bool,
    /// `set time`, min (kept for `view parameter`).
    pub time: f64,
    /// `set delay`, min (kept for `view parameter`).
    pub delay: f64,
    last_update: Duration,
    clock: Arc<dyn Clock>,
}

impl ChemyxEmulator {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            units: 0,
            diameter_mm: 14.57,
            rate: 1.0,
            volume: 1.0,
            state: PumpState::Stopped,
            moved: 0.0,
            stall_on_start: false,
            time: 0.0,
            delay: 0.0,
            last_update: Duration::ZERO,
            clock,
        }
    }

    /// The motor's rate (m³/s) and direction: a negative target volume withdraws.
    pub fn motion(&self) -> (f64, crate::device::PumpDirection) {
        let rate_si = crate::protocol::chemyx::units_si(self.units).map_or(0.0, |u| u.0);
        let direction = if self.volume < 0.0 {
            crate::device::PumpDirection::Withdraw
        } else {
            crate::device::PumpDirection::Infuse
        };
        (self.rate.abs() * rate_si, direction)
    }

    /// Whether the motor turns.
    pub fn running(&self) -> bool {
        self.state == PumpState::Running
    }

    pub fn stall(&mut self) {
        self.advance();
        self.state = PumpState::Stalled;
    }

    /// Integrates the moved volume up to the clock's now.
    pub fn advance(&mut self) {
        let now = self.clock.now();
        let elapsed = now.saturating_sub(self.last_update).as_secs_f64();
        self.last_update = self.last_update.max(now);
        if self.state != PumpState::Running {
            return;
        }
        let (rate_si, volume_si) = units_si(self.units).unwrap_or((0.0, 0.0));
        let target = self.volume.abs() * volume_si;
        self.moved += self.rate * rate_si * elapsed;
        if self.moved >= target {
            self.moved = target;
            self.state = PumpState::Stopped;
        }
    }

    fn execute(&mut self, command: &str) -> Vec<String> {
        let words: Vec<&str> = command.split_whitespace().collect();
        let invalid = || vec!["Invalid command".to_string()];
        match words.as_slice() {
            ["set", "units", n] => match n.parse::<u8>() {
                Ok(n) if n <= 3 => {
                    self.units = n;
                    vec![format!("unit = {n}")]
                }
                _ => invalid(),
            },
            ["set", "diameter", d] => match d.parse::<f64>() {
                Ok(d) if d > 0.0 && d <= 50.0 => {
                    self.diameter_mm = d;
                    vec![format!("dia = {d:.3}")]
                }
                _ => invalid(),
            },
            ["set", "rate", r] => {
                let rate_si = units_si(self.units).map_or(0.0, |u| u.0);
                let range = syringe_rate_range(CHEMYX_FUSION_SPEED, self.diameter_mm * 1e-3);
                match r.parse::<f64>() {
                    Ok(r) if range.is_some_and(|range| range.contains(r * rate_si)) => {
                        self.rate = r;
                        vec![format!("rate = {r:.3}")]
                    }
                    _ => invalid(),
                }
            }
            ["set", "volume", v] => match v.parse::<f64>() {
                Ok(v) if v.is_finite() && v != 0.0 => {
                    self.volume = v;
                    vec![format!("volume = {v:.3}")]
                }
                _ => invalid(),
            },
            ["start"] => {
                self.state = if self.stall_on_start {
                    PumpState::Stalled
                } else {
                    PumpState::Running
                };
                self.moved = 0.0;
                vec![]
            }
            ["stop"] => {
                self.state = PumpState::Stopped;
                vec![]
            }
            ["pause"] if self.state == PumpState::Running => {
                self.state = PumpState::Paused;
                vec![]
            }
            ["restart"] if self.state == PumpState::Paused => {
                self.state = PumpState::Running;
                vec![]
            }
            ["pump", "status"] => vec![self.state.code().to_string()],
            ["view", "parameter"] => vec![
                format!("unit = {}", self.units),
                format!("dia = {:.3}", self.diameter_mm),
                format!("rate = {:.3}", self.rate),
                format!("time = {:.3}", self.time),
                format!("volume = {:.3}", self.volume),
                format!("delay = {:.3}", self.delay),
            ],
            ["dispensed", "volume"] => {
                let volume_si = units_si(self.units).map_or(1.0, |u| u.1);
                let sign = if self.volume < 0.0 { -1.0 } else { 1.0 };
                vec![format!(
                    "dispensed volume = {:.3}",
                    sign * self.moved / volume_si
                )]
            }
            _ => invalid(),
        }
    }
}

impl Protocol for ChemyxEmulator {
    fn take_request(&mut self, input: &mut Vec<u8>) -> Option<Vec<u8>> {
        let line = take_line(input, b'\r')?;
        Some(line.into_iter().filter(|&b| b != b'\n').collect())
    }

    fn respond(&mut self, request: &[u8]) -> Vec<u8> {
        self.advance();
        let echo = String::from_utf8_lossy(request).trim().to_string();
        let lines = self.execute(&echo.to_ascii_lowercase());
        format_reply(&echo, &lines)
    }

    fn error_reply(&mut self, request: &[u8]) -> Vec<u8> {
        let echo = String::from_utf8_lossy(request).trim().to_string();
        format_reply(&echo, &["Invalid command".to_string()])
    }
}
