//! A Harvard Pump 11 Elite / PHD Ultra on one address, byte for byte (instruments.md A2).
//!
//! Invariants:
//! - Commands match by full name or by a prefix of at least four letters (`irat`), and a pump
//!   answers only its own address (none = 0).
//! - A stall stops the motor and shows the prompt `*` until the next `stop` or run command.
//! - Volumes grow at the direction's rate on the [`Clock`]; with a target volume the pump
//!   stops at it and shows `T*`.
//!
//! Assumed where instruments.md is silent (unverified: calibrate): the `status` line reports
//! the motor's rate, so an idle pump reports 0 fL/s whatever `irate`/`wrate` hold; PHD Ultra
//! firmware ([`HarvardEmulator::phd_ultra`]) prints five status flags, without the Elite's
//! direction-port flag (direction, limit, stall, trigger, target reached).

use std::sync::Arc;
use std::time::Duration;

use crate::capability::{LinearSpeed, PUMP11_ELITE_SPEED, syringe_rate_range};
use crate::clock::Clock;
use crate::emulators::{Protocol, take_line};
use crate::protocol::harvard::{
    Prompt, RateUnit, StatusLine, format_number, format_reply, format_volume, volume_si,
};

/// An emulated Ultra-family pump.
#[derive(Debug)]
pub struct HarvardEmulator {
    pub address: u8,
    pub version: String,
    pub speed: LinearSpeed,
    pub diameter_mm: f64,
    /// Rates as set (number, unit) for infusion and withdrawal.
    pub infuse_rate: (f64, RateUnit),
    pub withdraw_rate: (f64, RateUnit),
    pub withdrawing: bool,
    pub running: bool,
    pub stalled: bool,
    pub target_reached: bool,
    /// Target volume, m³ (0 = none).
    pub target: f64,
    pub infused: f64,
    pub withdrawn: f64,
    /// Flags in the `status` line: 6 (Pump 11 Elite) or 5 (PHD Ultra).
    pub status_flags: usize,
    moved: f64,
    last_update: Duration,
    clock: Arc<dyn Clock>,
}

const UL_MIN: RateUnit = RateUnit {
    volume: 'u',
    time: 'm',
};

impl HarvardEmulator {
    /// A Pump 11 Elite at `address`, idle, with a 14.57 mm syringe.
    pub fn new(clock: Arc<dyn Clock>, address: u8) -> Self {
        Self {
            address,
            version: "11 ELITE I/W Single 3.0.4".into(),
            speed: PUMP11_ELITE_SPEED,
            diameter_mm: 14.57,
            infuse_rate: (100.0, UL_MIN),
            withdraw_rate: (100.0, UL_MIN),
            withdrawing: false,
            running: false,
            stalled: false,
            target_reached: false,
            target: 0.0,
            infused: 0.0,
            withdrawn: 0.0,
            status_flags: 6,
            moved: 0.0,
            last_update: Duration::ZERO,
            clock,
        }
    }

    /// A PHD Ultra at `address`: the Elite's command set, its own version line, and a `status`
    /// line with five flags.
    pub fn phd_ultra(clock: Arc<dyn Clock>, address: u8) -> Self {
        Self {
            version: "PHD ULTRA I/W 2.0.7".into(),
            speed: crate::capability::PHD_ULTRA_SPEED,
            status_flags: 5,
            ..Self::new(clock, address)
        }
    }

    /// The motor stalls now.
    pub fn stall(&mut self) {
        self.advance();
        self.running = false;
        self.stalled = true;
    }

    fn rate(&self) -> f64 {
        let (value, unit) = if self.withdrawing {
            self.withdraw_rate
        } else {
            self.infuse_rate
        };
        value * unit.si().unwrap_or(0.0)
    }

    /// Integrates the volumes up to the clock's now.
    pub fn advance(&mut self) {
        let now = self.clock.now();
        let elapsed = now.saturating_sub(self.last_update).as_secs_f64();
        self.last_update = self.last_update.max(now);
        if !self.running {
            return;
        }
        let mut moved = self.rate() * elapsed;
        if self.target > 0.0 && self.moved + moved >= self.target {
            moved = (self.target - self.moved).max(0.0);
            self.running = false;
            self.target_reached = true;
        }
        self.moved += moved;
        if self.withdrawing {
            self.withdrawn += moved;
        } else {
            self.infused += moved;
        }
    }

    fn prompt(&self) -> Prompt {
        if self.stalled {
            Prompt::Stalled
        } else if self.running && self.withdrawing {
            Prompt::Withdrawing
        } else if self.running {
            Prompt::Infusing
        } else if self.target_reached {
            Prompt::TargetReached
        } else {
            Prompt::Idle
        }
    }

    fn run(&mut self, withdrawing: bool) {
        self.withdrawing = withdrawing;
        self.running = true;
        self.stalled = false;
        self.target_reached = false;
        self.moved = 0.0;
    }

    fn status_line(&self) -> String {
        let dir = match (self.withdrawing, self.running) {
            (false, true) => 'I',
            (true, true) => 'W',
            (false, false) => 'i',
            (true, false) => 'w',
        };
        let direction_port = if self.withdrawing { 'W' } else { 'I' };
        let mut flags = vec![dir, '.', if self.stalled { 'S' } else { '.' }, '.'];
        if self.status_flags >= 6 {
            flags.push(direction_port);
        }
        flags.push(if self.target_reached { 'T' } else { '.' });
        let flags: String = flags.into_iter().collect();
        let displaced = if self.withdrawing {
            self.withdrawn
        } else {
            self.infused
        };
        StatusLine {
            // m³/s to fL/s and m³ to fL; clock ticks at 56 MHz. The motor's rate: 0 when idle.
            rate_fl_per_s: if self.running {
                (self.rate() * 1e18).round() as u64
            } else {
                0
            },
            time_ticks: (self.clock.now().as_secs_f64() * 56e6) as u64,
            volume_fl: (displaced * 1e18).round() as u64,
            flags,
        }
        .format()
    }

    /// Sets or queries a rate: returns the reply lines.
    fn rate_command(&mut self, withdraw: bool, args: &[&str]) -> Result<Vec<String>, &'static str> {
        let current = if withdraw {
            self.withdraw_rate
        } else {
            self.infuse_rate
        };
        let range = syringe_rate_range(self.speed, self.diameter_mm * 1e-3);
        match args {
            [] => Ok(vec![format!(
                "{} {}",
                format_number(current.0).unwrap_or_else(|| "0".into()),
                current.1.long()
            )]),
            ["lim"] => {
                let range = range.ok_or("Argument error")?;
                let show = |rate: f64| {
                    let unit = UL_MIN;
                    let value = rate / unit.si().unwrap_or(1.0);
                    format!(
                        "{} {}",
                        format_number(value).unwrap_or_else(|| "0".into()),
                        unit.long()
                    )
                };
                Ok(vec![format!("{} to {}", show(range.min), show(range.max))])
            }
            [number, unit] => {
                let value: f64 = number.parse().map_err(|_| "Argument error")?;
                let unit = RateUnit::parse(unit).ok_or("Argument error")?;
                let rate = value * unit.si().ok_or("Argument error")?;
                if !range.is_some_and(|r| r.contains(rate)) {
                    return Err("Out of range");
                }
                if withdraw {
                    self.withdraw_rate = (value, unit);
                } else {
                    self.infuse_rate = (value, unit);
                }
                Ok(vec![])
            }
            _ => Err("Argument error"),
        }
    }

    fn execute(&mut self, word: &str, args: &[&str]) -> Result<Vec<String>, &'static str> {
        const NAMES: [&str; 20] = [
            "irate", "wrate", "irun", "wrun", "rrun", "run", "stop", "stp", "diameter", "ivolume",
            "wvolume", "civolume", "cwvolume", "cvolume", "tvolume", "ctvolume", "ver", "version",
            "status", "crate",
        ];
        let name = NAMES
            .iter()
            .find(|name| **name == word || (word.len() >= 4 && name.starts_with(word)))
            .copied()
            .ok_or("Unknown command")?;
        match (name, args) {
            ("irate", _) => self.rate_command(false, args),
            ("wrate", _) => self.rate_command(true, args),
            ("irun", []) => {
                self.run(false);
                Ok(vec![])
            }
            ("wrun", []) => {
                self.run(true);
                Ok(vec![])
            }
            ("rrun", []) => {
                let reverse = !self.withdrawing;
                self.run(reverse);
                Ok(vec![])
            }
            ("run", []) => {
                let same = self.withdrawing;
                self.run(same);
                Ok(vec![])
            }
            ("stop" | "stp", []) => {
                self.running = false;
                self.stalled = false;
                Ok(vec![])
            }
            ("diameter", []) => Ok(vec![format!("{:.4} mm", self.diameter_mm)]),
            ("diameter", [number]) => {
                let d: f64 = number.parse().map_err(|_| "Argument error")?;
                if !(0.1..=50.0).contains(&d) {
                    return Err("Out of range");
                }
                if self.running {
                    return Err("Command error");
                }
                self.diameter_mm = d;
                Ok(vec![])
            }
            ("ivolume", []) => Ok(vec![format_volume(self.infused)]),
            ("wvolume", []) => Ok(vec![format_volume(self.withdrawn)]),
            ("civolume", []) => {
                self.infused = 0.0;
                Ok(vec![])
            }
            ("cwvolume", []) => {
                self.withdrawn = 0.0;
                Ok(vec![])
            }
            ("cvolume", []) => {
                self.infused = 0.0;
                self.withdrawn = 0.0;
                Ok(vec![])
            }
            ("tvolume", []) if self.target <= 0.0 => Ok(vec!["Target volume not set".into()]),
            ("tvolume", []) => Ok(vec![format_volume(self.target)]),
            ("tvolume", [number, unit]) => {
                let value: f64 = number.parse().map_err(|_| "Argument error")?;
                let prefix = unit.strip_suffix('l').and_then(|p| p.chars().next());
                let si = prefix.and_then(volume_si).ok_or("Argument error")?;
                if value < 0.0 {
                    return Err("Out of range");
                }
                self.target = value * si;
                Ok(vec![])
            }
            ("ctvolume", []) => {
                self.target = 0.0;
                self.target_reached = false;
                Ok(vec![])
            }
            ("ver" | "version", []) => Ok(vec![self.version.clone()]),
            ("status", []) => Ok(vec![self.status_line()]),
            ("crate", []) if self.running => {
                let (value, unit) = if self.withdrawing {
                    self.withdraw_rate
                } else {
                    self.infuse_rate
                };
                let verb = if self.withdrawing {
                    "Withdrawing"
                } else {
                    "Infusing"
                };
                Ok(vec![format!(
                    "{verb} at {} {}",
                    format_number(value).unwrap_or_else(|| "0".into()),
                    unit.long()
                )])
            }
            ("crate", []) => Ok(vec![]),
            _ => Err("Argument error"),
        }
    }
}

impl Protocol for HarvardEmulator {
    fn take_request(&mut self, input: &mut Vec<u8>) -> Option<Vec<u8>> {
        let line = take_line(input, b'\r')?;
        // flowchem ends commands with CR LF: the LF then starts the next line; drop it.
        Some(line.into_iter().filter(|&b| b != b'\n').collect())
    }

    fn respond(&mut self, request: &[u8]) -> Vec<u8> {
        let text = String::from_utf8_lossy(request).to_ascii_lowercase();
        let digits = text.chars().take_while(char::is_ascii_digit).count();
        let (address, command) = text.split_at(digits.min(2));
        let address: u8 = if address.is_empty() {
            0
        } else {
            match address.parse() {
                Ok(a) => a,
                Err(_) => return Vec::new(),
            }
        };
        if address != self.address {
            return Vec::new();
        }
        self.advance();
        let mut words = command.split_whitespace();
        let lines = match words.next() {
            None => Ok(vec![]),
            Some(word) => {
                let args: Vec<&str> = words.collect();
                self.execute(word, &args)
            }
        };
        let lines = lines.unwrap_or_else(|error| vec![error.to_string()]);
        format_reply(self.address, &lines, self.prompt())
    }

    fn error_reply(&mut self, _request: &[u8]) -> Vec<u8> {
        format_reply(self.address, &["Command error".to_string()], self.prompt())
    }
}
