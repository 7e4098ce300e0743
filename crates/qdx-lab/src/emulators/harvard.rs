//! A Harvard Pump 11 Elite / PHD Ultra on one address, byte for byte (instruments.md A2).
//!
//! Invariants:
//! - Commands match by full name or by a prefix of at least four letters (`irat`), and a pump
//!   answers only its own address (none = 0). The Pump 11 Elite takes the address with no
//!   separator (`12irat 3.2 u/m`, Elite manual 5420-002 Rev C); the PHD ULTRA with a colon
//!   (`12:irat 3.2 ul/min`, PHD ULTRA manual 5419-002 Rev A p. 83).
//! - A stall stops the motor and shows the prompt `*` until the next `stop` or run command.
//! - Volumes grow at the direction's rate on the [`Clock`]; with a target volume the pump
//!   stops at it and shows `T*`.
//! - `status` prints three integers and the model's flags. Pump 11 Elite (pp. 52–58): rate
//!   fL/s, time in 1/56 000 000 s clock cycles, volume fL; six flags: direction `I`/`W` (lower
//!   case while the motor is idle), limit, stall `S`, trigger, direction port `I`/`W`, target
//!   reached `T`. PHD ULTRA (p. 88): the time is the infuse time in seconds, and five flags:
//!   direction, limit, stall, trigger, direction port; no target-reached flag.
//! - With [`HarvardEmulator::echo`] on (`echo on`), the pump echoes each command ahead of its
//!   reply; `echo off` stops it.
//!
//! Assumed where instruments.md is silent (unverified: calibrate): the `status` line reports
//! the motor's rate, so an idle pump reports 0 fL/s whatever `irate`/`wrate` hold; the PHD
//! ULTRA prints its direction flag in lower case whether or not the motor runs (the only form
//! its manual shows); a PHD ULTRA ignores an address without the colon; the echo is one data
//! line holding the command as received, without its address.

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
    /// PHD ULTRA firmware: `NN:` addresses and its five-flag `status` line.
    pub phd_ultra: bool,
    /// Echo each command ahead of its reply (`echo on` / `echo off`).
    pub echo: bool,
    /// Seconds the motor has infused (the PHD ULTRA's `status` time).
    pub infuse_seconds: f64,
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
            phd_ultra: false,
            echo: false,
            infuse_seconds: 0.0,
            moved: 0.0,
            last_update: Duration::ZERO,
            clock,
        }
    }

    /// A PHD Ultra at `address`: the Elite's command set, its own version line, `NN:`
    /// addresses and its five-flag `status` line.
    pub fn phd_ultra(clock: Arc<dyn Clock>, address: u8) -> Self {
        Self {
            version: "PHD ULTRA I/W 2.0.7".into(),
            speed: crate::capability::PHD_ULTRA_SPEED,
            phd_ultra: true,
            ..Self::new(clock, address)
        }
    }

    /// The motor stalls now.
    pub fn stall(&mut self) {
        self.advance();
        self.running = false;
        self.stalled = true;
    }

    /// The rate of the current direction, m³/s.
    pub fn rate(&self) -> f64 {
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
            let rate = self.rate();
            self.infuse_seconds += if rate > 0.0 { moved / rate } else { elapsed };
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
        let direction = if self.withdrawing { 'w' } else { 'i' };
        let dir = if self.running && !self.phd_ultra {
            direction.to_ascii_uppercase()
        } else {
            direction
        };
        let direction_port = direction.to_ascii_uppercase();
        let mut flags = vec![dir, '.', if self.stalled { 'S' } else { '.' }, '.'];
        flags.push(direction_port);
        if !self.phd_ultra {
            flags.push(if self.target_reached { 'T' } else { '.' });
        }
        let flags: String = flags.into_iter().collect();
        let displaced = if self.withdrawing {
            self.withdrawn
        } else {
            self.infused
        };
        StatusLine {
            // m³/s to fL/s and m³ to fL. The motor's rate: 0 when idle.
            rate_fl_per_s: if self.running {
                (self.rate() * 1e18).round() as u64
            } else {
                0
            },
            // Elite: clock cycles at 56 MHz; PHD ULTRA: infuse time, s.
            time_ticks: if self.phd_ultra {
                self.infuse_seconds as u64
            } else {
                (self.clock.now().as_secs_f64() * 56e6) as u64
            },
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
        const NAMES: [&str; 21] = [
            "irate", "wrate", "irun", "wrun", "rrun", "run", "stop", "stp", "diameter", "ivolume",
            "wvolume", "civolume", "cwvolume", "cvolume", "tvolume", "ctvolume", "ver", "version",
            "status", "crate", "echo",
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
            ("echo", ["on"]) => {
                self.echo = true;
                Ok(vec![])
            }
            ("echo", ["off"]) => {
                self.echo = false;
                Ok(vec![])
            }
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
        let command = match (address.is_empty(), self.phd_ultra) {
            (true, _) | (false, false) => command,
            // The PHD ULTRA's address form is `NN:`; without the colon it is not addressed.
            (false, true) => match command.strip_prefix(':') {
                Some(rest) => rest,
                None => return Vec::new(),
            },
        };
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
        let echo = self.echo.then(|| command.trim().to_string());
        let mut words = command.split_whitespace();
        let lines = match words.next() {
            None => Ok(vec![]),
            Some(word) => {
                let args: Vec<&str> = words.collect();
                self.execute(word, &args)
            }
        };
        let mut lines = lines.unwrap_or_else(|error| vec![error.to_string()]);
        if let Some(echo) = echo.filter(|e| !e.is_empty()) {
            lines.insert(0, echo);
        }
        format_reply(self.address, &lines, self.prompt())
    }

    fn error_reply(&mut self, _request: &[u8]) -> Vec<u8> {
        format_reply(self.address, &["Command error".to_string()], self.prompt())
    }
}
