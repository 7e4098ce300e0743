//! A VICI Valco universal electric actuator with its optional serial interface, written from
//! the manual's command reference ([M] in [`crate::protocol::vici`]) and the replies seen in
//! flowchem ([F] there).
//!
//! Invariants:
//! - With an ID set, only requests that begin with the ID (or `*`, a broadcast) are acted
//!   on; a broadcast gets no reply ([T]: the replies of several actuators would collide).
//!   Every reply line begins with the ID when one is set ([F]).
//! - Modes follow `AM`: two-position (1, 2) answers `CPA`/`CPB` and refuses `NP` and `HM`;
//!   multiposition (3) answers `CPnn` and moves to 1 ..= NP.
//! - A move takes `move_time` a step on the [`Clock`]; until then `CP` still reports the
//!   position the rotor is leaving, or, with `busy_while_moving`, gets no answer at all (the
//!   manual says neither: both are **unverified**, and the driver copes with both). A `stuck`
//!   actuator accepts moves and never turns.
//! - Action commands answer nothing under `IFM0`, `CP…` under `IFM1`/`IFM2` (the basic
//!   answer's form is **unverified**; the Hein driver reads `CP…` after a toggle). The factory
//!   setting is taken to be `IFM1` so a driver has to cope with it (**unverified**).

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::emulators::{Protocol, take_line};

/// The actuator mode (`AM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Modes 1 and 2: positions A and B.
    TwoPosition,
    /// Mode 3: positions 1 ..= `positions`.
    Multiposition { positions: u16 },
}

/// An emulated actuator.
#[derive(Debug)]
pub struct ViciEmulator {
    pub id: Option<u8>,
    pub mode: Mode,
    /// 1-based; A = 1, B = 2 in two-position modes.
    pub position: u16,
    /// Where the rotor is going, and when it gets there (clock time).
    pub moving: Option<(u16, Duration)>,
    pub move_time: Duration,
    /// The rotor does not turn (a jammed valve, a failed motor).
    pub stuck: bool,
    /// Requests that arrive while the rotor turns get no answer.
    pub busy_while_moving: bool,
    /// `IFM`: 0 no answer to action commands, 1 basic, 2 extended.
    pub interface_mode: u8,
    clock: Arc<dyn Clock>,
}

impl ViciEmulator {
    pub fn new(clock: Arc<dyn Clock>, id: Option<u8>, mode: Mode) -> Self {
        Self {
            id,
            mode,
            position: 1,
            moving: None,
            move_time: Duration::ZERO,
            stuck: false,
            busy_while_moving: false,
            interface_mode: 1,
            clock,
        }
    }

    /// The position the actuator reports now (a finished move taken into account).
    pub fn current(&mut self) -> u16 {
        if let Some((target, at)) = self.moving
            && self.clock.now() >= at
        {
            self.position = target;
            self.moving = None;
        }
        self.position
    }

    fn count(&self) -> u16 {
        match self.mode {
            Mode::TwoPosition => 2,
            Mode::Multiposition { positions } => positions,
        }
    }

    fn position_text(&self, position: u16) -> String {
        match self.mode {
            Mode::TwoPosition if position == 2 => "B".into(),
            Mode::TwoPosition => "A".into(),
            Mode::Multiposition { .. } => format!("{position:02}"),
        }
    }

    fn line(&self, text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(id) = self.id {
            out.push(b'0' + id.min(9));
        }
        out.extend_from_slice(text.as_bytes());
        out.push(b'\r');
        out
    }

    fn error(&self, command: &str) -> Vec<u8> {
        let head: String = command
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        self.line(&format!("E2 {head} Invalid"))
    }

    /// Starts a move to `target` (1-based); the answer under the interface mode.
    fn go(&mut self, target: u16, command: &str) -> Vec<u8> {
        if target == 0 || target > self.count() {
            return self.error(command);
        }
        let from = self.current();
        if !self.stuck && target != from {
            let steps = u32::from(target.abs_diff(from));
            self.moving = Some((target, self.clock.now() + self.move_time * steps));
        }
        if self.interface_mode == 0 {
            return Vec::new();
        }
        // The basic answer comes once the move is over: report where the rotor is then.
        if !self.stuck {
            self.position = target;
            self.moving = None;
        }
        let now = self.position;
        self.line(&format!("CP{}", self.position_text(now)))
    }

    /// The request without its ID; `None` when the actuator must ignore it. `Some(true)` for a
    /// broadcast.
    fn addressed<'a>(&self, request: &'a str) -> Option<(&'a str, bool)> {
        if let Some(rest) = request.strip_prefix('*') {
            return Some((rest, true));
        }
        match self.id {
            Some(id) => request
                .strip_prefix(char::from(b'0' + id.min(9)))
                .map(|rest| (rest, false)),
            None => Some((request, false)),
        }
    }

    fn act(&mut self, command: &str) -> Vec<u8> {
        let two = self.mode == Mode::TwoPosition;
        let (head, argument) = split(command);
        match (head.as_str(), argument) {
            ("CP", "") => {
                let now = self.current();
                self.line(&format!("CP{}", self.position_text(now)))
            }
            ("NP", "") if !two => self.line(&format!("NP{:02}", self.count())),
            ("GO", "") => {
                let now = self.current();
                let next = now % self.count() + 1;
                self.go(next, command)
            }
            ("GO", "A") if two => self.go(1, command),
            ("GO", "B") if two => self.go(2, command),
            ("GO" | "CW" | "CC", digits) if !two => match digits.parse::<u16>() {
                Ok(n) => self.go(n, command),
                Err(_) => self.error(command),
            },
            ("CW", "") if two => self.go(1, command),
            ("CC", "") if two => self.go(2, command),
            ("TO", "") if two => {
                let now = self.current();
                self.go(3 - now.clamp(1, 2), command)
            }
            ("HM", "") if !two => self.go(1, command),
            ("ID", "") => match self.id {
                Some(id) => self.line(&format!("ID{id}")),
                None => self.line("ID not used"),
            },
            ("IFM", mode @ ("0" | "1" | "2")) => {
                self.interface_mode = mode.parse().unwrap_or(1);
                self.line(&format!("IFM{}", self.interface_mode))
            }
            ("VR", "") => [
                self.line("Dec 15 2011"),
                self.line("15:02:20"),
                self.line("UA_MAIN_CT"),
            ]
            .concat(),
            _ => self.error(command),
        }
    }
}

/// `GO12` → (`GO`, `12`); `IFM0` → (`IFM`, `0`); `GOA` → (`GO`, `A`).
fn split(command: &str) -> (String, &str) {
    let command = command.trim();
    for head in ["IFM", "CP", "NP", "GO", "CW", "CC", "TO", "HM", "ID", "VR"] {
        if let Some(rest) = command.strip_prefix(head) {
            return (head.to_owned(), rest.trim());
        }
    }
    (command.to_owned(), "")
}

impl Protocol for ViciEmulator {
    fn take_request(&mut self, input: &mut Vec<u8>) -> Option<Vec<u8>> {
        loop {
            let line = take_line(input, b'\r')?;
            let line: Vec<u8> = line.into_iter().filter(|&b| b != b'\n').collect();
            if !line.is_empty() {
                return Some(line);
            }
        }
    }

    fn respond(&mut self, request: &[u8]) -> Vec<u8> {
        let text = String::from_utf8_lossy(request).into_owned();
        let Some((command, broadcast)) = self.addressed(&text) else {
            return Vec::new();
        };
        self.current();
        if self.busy_while_moving && self.moving.is_some() {
            return Vec::new();
        }
        let reply = self.act(command);
        if broadcast { Vec::new() } else { reply }
    }

    fn error_reply(&mut self, request: &[u8]) -> Vec<u8> {
        let text = String::from_utf8_lossy(request).into_owned();
        match self.addressed(&text) {
            Some((command, false)) => self.error(command),
            _ => Vec::new(),
        }
    }
}
