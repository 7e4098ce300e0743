//! A daisy chain of New Era NE-1000 pumps, byte for byte (instruments.md A1 and appendix).
//!
//! Invariants:
//! - One [`NewEraChain`] serves one line: each pump answers only its own address (a command
//!   without an address goes to pump 0; `*` reaches every pump and nobody answers, as the
//!   replies would collide on a real line).
//! - A pump in safe mode answers only safe packets and vice versa; a safe packet with a bad
//!   CRC gets `?COM`.
//! - After an alarm the next command to that pump is answered `A?<type>` and not executed;
//!   the alarm is then cleared.
//! - Dispensed volumes grow at the pump's rate on the chain's [`Clock`], and a pump with a
//!   volume target stops when it reaches it.
//! - A pump in safe mode with a timeout (`SAF n`, n > 0) that hears no valid packet for n
//!   seconds stops and raises alarm `T`; the timer starts at the first valid packet after `SAF`
//!   and restarts with every valid packet to that pump (instruments.md, "Safe mode").
//! - A pump powers up (and [`NewEraChain::new`] builds it) with alarm `R` pending ("reset: power
//!   was interrupted"), so the first command after power-up is answered `A?R` and not executed.
//! - Safe mode is kept in non-volatile memory: [`NewEraChain::power_cycle`] keeps it, so a pump
//!   left in safe mode by a crashed run powers up in safe mode, its timer stopped until the
//!   first valid packet (instruments.md, "Safe mode"). `SAF0` returns a pump to basic mode.
//!
//! - A pump in one mode that receives a frame of the other mode either ignores it or, with
//!   [`NewEraChain::wrong_mode_answers_com`], answers `?COM` (instruments.md, "Safe mode": a pump
//!   may answer with `?COM` rather than with silence; unverified). The frame is not a valid
//!   packet: it neither acknowledges an alarm nor restarts the safe-mode timer.
//!
//! Assumed where instruments.md is silent (unverified: calibrate): the `?COM` answer to a
//! wrong-mode frame goes out in the framing of the pump's own mode, from its own address; the
//! reply to `SAF n` goes out in the framing the command came in, unless
//! [`NewEraChain::saf_reply_in_new_mode`] is set (firmware that switches first).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::capability::{NE1000_SPEED, syringe_rate_range};
use crate::clock::Clock;
use crate::emulators::{Protocol, take_line};
use crate::protocol::new_era::{
    CR, RateUnit, STX, VolumeUnit, decode_safe, format_number, frame_basic, frame_safe,
    parse_number, reply_data,
};
use crate::transport::Decoded;

/// One emulated pump.
#[derive(Debug, Clone, PartialEq)]
pub struct NePump {
    pub diameter_mm: f64,
    /// Rate as set: the number in `rate_unit`.
    pub rate_value: f64,
    pub rate_unit: RateUnit,
    pub volume_unit: VolumeUnit,
    /// Volume target of the current phase, in `volume_unit`; 0 = continuous.
    pub target: f64,
    pub withdraw: bool,
    pub running: bool,
    pub paused: bool,
    /// Dispensed volumes since the last clear, m³.
    pub infused: f64,
    pub withdrawn: f64,
    /// Volume moved since the last RUN, m³ (for the target).
    pub phase_moved: f64,
    /// A pending alarm type letter (`S` stall, `R` reset, ...).
    pub alarm: Option<u8>,
    pub safe_mode: bool,
    /// The safe-mode communication timeout (`SAF n`, n > 0).
    pub safe_timeout: Option<Duration>,
    /// When this pump last heard a valid packet, while its safe-mode timer runs.
    heard: Option<Duration>,
    last_update: Duration,
}

impl Default for NePump {
    fn default() -> Self {
        Self {
            diameter_mm: 26.59,
            rate_value: 1.0,
            rate_unit: RateUnit::MM,
            volume_unit: VolumeUnit::ML,
            target: 0.0,
            withdraw: false,
            running: false,
            paused: false,
            infused: 0.0,
            withdrawn: 0.0,
            phase_moved: 0.0,
            // Every pump powers up with the reset alarm pending.
            alarm: Some(b'R'),
            safe_mode: false,
            safe_timeout: None,
            heard: None,
            last_update: Duration::ZERO,
        }
    }
}

impl NePump {
    /// Current rate, m³/s.
    pub fn rate(&self) -> f64 {
        self.rate_value * self.rate_unit.si()
    }

    fn status_char(&self) -> char {
        match (self.running, self.paused, self.withdraw) {
            (true, _, false) => 'I',
            (true, _, true) => 'W',
            (false, true, _) => 'P',
            (false, false, _) => 'S',
        }
    }

    /// Brings the pump up to `now`: the safe-mode timer first (the pump stops at the moment
    /// it lapses), then the dispensed volume.
    fn advance(&mut self, now: Duration) {
        if let (Some(limit), Some(heard)) = (self.safe_timeout, self.heard) {
            let lapse = heard + limit;
            if self.safe_mode && now > lapse {
                self.integrate(lapse);
                self.running = false;
                self.alarm = Some(b'T');
                // The timer starts again with the next valid packet.
                self.heard = None;
            }
        }
        self.integrate(now);
    }

    /// A valid packet reached this pump at `now`.
    fn hear(&mut self, now: Duration) {
        if self.safe_mode && self.safe_timeout.is_some() {
            self.heard = Some(now);
        }
    }

    /// Integrates the dispensed volume up to `now`.
    fn integrate(&mut self, now: Duration) {
        let elapsed = now.saturating_sub(self.last_update).as_secs_f64();
        self.last_update = self.last_update.max(now);
        if !self.running {
            return;
        }
        let mut moved = self.rate() * elapsed;
        let target = self.target * self.volume_unit.si();
        if target > 0.0 && self.phase_moved + moved >= target {
            moved = (target - self.phase_moved).max(0.0);
            self.running = false;
        }
        self.phase_moved += moved;
        if self.withdraw {
            self.withdrawn += moved;
        } else {
            self.infused += moved;
        }
    }
}

/// Every pump on one emulated line, with the line's clock.
#[derive(Debug)]
pub struct NewEraChain {
    pub pumps: BTreeMap<u8, NePump>,
    /// Model and firmware as `VER` reports them.
    pub version: String,
    /// Emulate the models whose first STP pauses and second STP stops.
    pub stop_pauses_first: bool,
    /// Answer `SAF n` in the framing of the mode it switches to (see the module doc).
    pub saf_reply_in_new_mode: bool,
    /// Answer a frame of the other mode with `?COM` instead of ignoring it.
    pub wrong_mode_answers_com: bool,
    clock: Arc<dyn Clock>,
}

impl NewEraChain {
    /// A line with pumps at `addresses` just powered up: basic mode, stopped, a 60 mL syringe,
    /// the reset alarm `R` pending.
    pub fn new(clock: Arc<dyn Clock>, addresses: &[u8]) -> Self {
        Self {
            pumps: addresses.iter().map(|&a| (a, NePump::default())).collect(),
            version: "NE1000V3.928".into(),
            stop_pauses_first: false,
            saf_reply_in_new_mode: false,
            wrong_mode_answers_com: false,
            clock,
        }
    }

    /// Pump `address` loses power and comes back: stopped, alarm `R` pending, its safe-mode
    /// timer stopped; settings and safe mode itself survive (non-volatile memory).
    pub fn power_cycle(&mut self, address: u8) {
        let now = self.clock.now();
        if let Some(pump) = self.pumps.get_mut(&address) {
            pump.advance(now);
            pump.running = false;
            pump.paused = false;
            pump.alarm = Some(b'R');
            pump.heard = None;
        }
    }

    /// The motor of pump `address` stalls now: it stops and raises alarm `S`.
    pub fn stall(&mut self, address: u8) {
        let now = self.clock.now();
        if let Some(pump) = self.pumps.get_mut(&address) {
            pump.advance(now);
            pump.running = false;
            pump.alarm = Some(b'S');
        }
    }

    /// A pump's state, brought up to the clock's now.
    pub fn pump(&mut self, address: u8) -> Option<&NePump> {
        let now = self.clock.now();
        let pump = self.pumps.get_mut(&address)?;
        pump.advance(now);
        Some(pump)
    }

    fn frame(safe: bool, data: &[u8]) -> Vec<u8> {
        if safe {
            frame_safe(data)
        } else {
            frame_basic(data)
        }
    }
}

/// Splits `0RAT3.0MM` into (address, command, argument) after the pump's normalisation.
fn split_command(text: &str) -> (Option<u8>, bool, String, String) {
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let (broadcast, rest) = match cleaned.strip_prefix('*') {
        Some(rest) => (true, rest.to_string()),
        None => (false, cleaned),
    };
    let digits = rest
        .chars()
        .take_while(char::is_ascii_digit)
        .take(2)
        .count();
    let (address, rest) = rest.split_at(digits);
    let letters = rest
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .take(3)
        .count();
    let (command, argument) = rest.split_at(letters);
    (
        address.parse().ok(),
        broadcast,
        command.to_string(),
        argument.to_string(),
    )
}

/// Counts the digits of a number as the pump's 4-digit display would hold it.
fn fits_display(text: &str) -> bool {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
    digits <= 4 && decimals <= 3
}

impl NewEraChain {
    /// Executes one command on one pump; returns the reply tail after the status.
    fn execute(&mut self, address: u8, command: &str, argument: &str) -> Option<(char, String)> {
        let version = self.version.clone();
        let stop_pauses_first = self.stop_pauses_first;
        let pump = self.pumps.get_mut(&address)?;
        let reply = |pump: &NePump, tail: &str| Some((pump.status_char(), tail.to_string()));
        let not_applicable = |pump: &NePump| Some((pump.status_char(), "?NA".to_string()));
        let out_of_range = |pump: &NePump| Some((pump.status_char(), "?OOR".to_string()));
        match command {
            "" => reply(pump, ""),
            "DIA" if argument.is_empty() => {
                let text = format_number(pump.diameter_mm).unwrap_or_default();
                reply(pump, &text)
            }
            "DIA" => {
                if pump.running {
                    return not_applicable(pump);
                }
                match parse_number(argument) {
                    Some(d) if fits_display(argument) && (0.1..=80.0).contains(&d) => {
                        pump.diameter_mm = d;
                        pump.volume_unit = VolumeUnit::default_for_diameter_mm(d);
                        reply(pump, "")
                    }
                    _ => out_of_range(pump),
                }
            }
            "RAT" if argument.is_empty() => {
                let text = format!(
                    "{}{}",
                    format_number(pump.rate_value).unwrap_or_default(),
                    pump.rate_unit.code()
                );
                reply(pump, &text)
            }
            "RAT" => {
                let split = argument
                    .find(|c: char| c.is_ascii_alphabetic())
                    .unwrap_or(argument.len());
                let (number, unit) = argument.split_at(split);
                let unit = if unit.is_empty() {
                    Some(pump.rate_unit)
                } else {
                    RateUnit::from_code(unit)
                };
                let (Some(value), Some(unit)) = (parse_number(number), unit) else {
                    return out_of_range(pump);
                };
                if pump.running && unit != pump.rate_unit {
                    return not_applicable(pump);
                }
                let range = syringe_rate_range(NE1000_SPEED, pump.diameter_mm * 1e-3);
                let rate = value * unit.si();
                if !fits_display(number) || !range.is_some_and(|r| r.contains(rate)) {
                    return out_of_range(pump);
                }
                pump.rate_value = value;
                pump.rate_unit = unit;
                reply(pump, "")
            }
            "VOL" if argument.is_empty() => {
                let text = format!(
                    "{}{}",
                    format_number(pump.target).unwrap_or_default(),
                    pump.volume_unit.code()
                );
                reply(pump, &text)
            }
            "VOL" => match argument {
                "UL" => {
                    pump.volume_unit = VolumeUnit::UL;
                    reply(pump, "")
                }
                "ML" => {
                    pump.volume_unit = VolumeUnit::ML;
                    reply(pump, "")
                }
                number => match parse_number(number) {
                    Some(v) if v >= 0.0 && fits_display(number) => {
                        pump.target = v;
                        reply(pump, "")
                    }
                    _ => out_of_range(pump),
                },
            },
            "DIR" => match argument {
                "" => reply(pump, if pump.withdraw { "WDR" } else { "INF" }),
                "INF" => {
                    pump.withdraw = false;
                    reply(pump, "")
                }
                "WDR" => {
                    pump.withdraw = true;
                    reply(pump, "")
                }
                "REV" => {
                    pump.withdraw = !pump.withdraw;
                    reply(pump, "")
                }
                _ => out_of_range(pump),
            },
            "RUN" => {
                if !pump.paused {
                    pump.phase_moved = 0.0;
                }
                pump.running = true;
                pump.paused = false;
                reply(pump, "")
            }
            "STP" => {
                pump.paused = pump.running && stop_pauses_first;
                pump.running = false;
                reply(pump, "")
            }
            "DIS" => {
                let unit = pump.volume_unit;
                let text = format!(
                    "I{}W{}{}",
                    format_number(pump.infused / unit.si()).unwrap_or_else(|| "9999".into()),
                    format_number(pump.withdrawn / unit.si()).unwrap_or_else(|| "9999".into()),
                    unit.code()
                );
                reply(pump, &text)
            }
            "CLD" => match argument {
                "INF" => {
                    pump.infused = 0.0;
                    reply(pump, "")
                }
                "WDR" => {
                    pump.withdrawn = 0.0;
                    reply(pump, "")
                }
                _ => out_of_range(pump),
            },
            "VER" => reply(pump, &version),
            "SAF" => match argument.parse::<u16>() {
                Ok(n) if n <= 255 => reply(pump, ""),
                _ => out_of_range(pump),
            },
            _ => reply(pump, "?"),
        }
    }
}

impl Protocol for NewEraChain {
    fn take_request(&mut self, input: &mut Vec<u8>) -> Option<Vec<u8>> {
        if input.first() == Some(&STX) {
            let total = usize::from(*input.get(1)?) + 1;
            if input.len() < total {
                return None;
            }
            return Some(input.drain(..total).collect());
        }
        take_line(input, CR)
    }

    fn respond(&mut self, request: &[u8]) -> Vec<u8> {
        let (safe, text) = if request.first() == Some(&STX) {
            match decode_safe(request) {
                Decoded::Frame { value, .. } => {
                    (true, String::from_utf8_lossy(&value).into_owned())
                }
                _ => return frame_safe(&reply_data(0, 'S', "?COM")),
            }
        } else {
            (false, String::from_utf8_lossy(request).into_owned())
        };
        let (address, broadcast, command, argument) = split_command(&text);
        let now = self.clock.now();
        let addresses: Vec<u8> = if broadcast {
            self.pumps.keys().copied().collect()
        } else {
            vec![address.unwrap_or(0)]
        };
        let mut reply = Vec::new();
        for address in addresses {
            let Some(pump) = self.pumps.get_mut(&address) else {
                continue;
            };
            if pump.safe_mode != safe {
                if self.wrong_mode_answers_com && !broadcast {
                    let own = pump.safe_mode;
                    let status = pump.status_char();
                    reply = Self::frame(own, &reply_data(address, status, "?COM"));
                }
                continue;
            }
            pump.advance(now);
            pump.hear(now);
            if let Some(kind) = pump.alarm.take() {
                if !broadcast {
                    let tail = format!("?{}", char::from(kind));
                    reply = Self::frame(safe, &reply_data(address, 'A', &tail));
                }
                continue;
            }
            let Some((status, tail)) = self.execute(address, &command, &argument) else {
                continue;
            };
            let mut framed_safe = safe;
            if command == "SAF"
                && !tail.starts_with('?')
                && let Some(pump) = self.pumps.get_mut(&address)
            {
                let seconds = argument.parse::<u16>().unwrap_or(0);
                pump.safe_mode = seconds > 0;
                pump.safe_timeout = (seconds > 0).then(|| Duration::from_secs(u64::from(seconds)));
                pump.heard = None;
                if self.saf_reply_in_new_mode {
                    framed_safe = seconds > 0;
                }
            }
            if !broadcast {
                reply = Self::frame(framed_safe, &reply_data(address, status, &tail));
            }
        }
        reply
    }

    fn error_reply(&mut self, request: &[u8]) -> Vec<u8> {
        // The pump's "not recognised" reply, in the framing the request came in.
        let safe = request.first() == Some(&STX);
        let text = match decode_safe(request) {
            Decoded::Frame { value, .. } => String::from_utf8_lossy(&value).into_owned(),
            _ => String::from_utf8_lossy(request).into_owned(),
        };
        let (address, ..) = split_command(&text);
        Self::frame(safe, &reply_data(address.unwrap_or(0), 'S', "?"))
    }
}
