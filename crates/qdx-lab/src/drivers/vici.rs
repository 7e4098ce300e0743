//! VICI Valco universal electric actuators driving Cheminert selection (multiposition) and
//! switching (two-position) valves. The wire format and its sources are in
//! [`crate::protocol::vici`]: the VICI universal actuator manual's serial command reference,
//! `cambiegroup/flowchem:src/flowchem/devices/vicivalco/vici_valve.py` (and its earlier
//! `ViciValco` version), the Hein group's `vicivalve` and
//! `MechWolf/MechWolf:mechwolf/components/vici.py`.
//!
//! Several actuators may share one RS-485 line (or one RS-232 port for a temporary
//! multi-drop), each with its device ID set: each [`ViciValve`] holds a clone of one
//! [`SharedLink`] and holds its lock for one command and its reply.
//!
//! Invariants:
//! - A move is proven, never assumed: after `GO`, the driver reads `CP` until the actuator
//!   reports the position asked for; one that does not get there within the move timeout is
//!   a [`DeviceErrorKind::Alarm`] naming the position asked for and the one it reports. An
//!   actuator silent while its rotor turns is asked again until the move timeout; silence
//!   after it is the link's [`DeviceErrorKind::Timeout`].
//! - A position outside 1 ..= the valve's positions is refused before anything is written
//!   ([`DeviceErrorKind::OutOfEnvelope`]).
//! - [`ViciValve::configure`] (at connect) sets `IFM0` so action commands are not answered
//!   (an answer is still tolerated and read, so neither setting can leave a stale reply on the
//!   line), checks the actuator's mode against the binding (`CPA`/`CPB` for two-position,
//!   `CPnn` for multiposition) and, for a multiposition valve, that `NP` equals the number of
//!   positions the lab file states.
//! - Every reply is checked: a line that is not the expected answer is
//!   [`DeviceErrorKind::Garbage`]; the actuator's error answer (`E2 … Invalid`) is
//!   [`DeviceErrorKind::Refused`]; silence is [`DeviceErrorKind::Timeout`] (the link's).
//!
//! **Unverified: calibrate** — how long a multiposition actuator takes to turn (the move
//! timeout is generous: [`DEFAULT_MOVE_TIMEOUT`]; LCMSNet waits 1.5 s before reading back);
//! the rest as listed in [`crate::protocol::vici`].

use std::time::Duration;

use async_trait::async_trait;

use crate::device::{Identity, Valve};
use crate::error::{DeviceError, DeviceErrorKind, DeviceResult};
use crate::protocol::vici::{self as protocol, Id, Position};
use crate::transport::{ByteStream, SerialSettings, SharedLink};

/// The factory baud rate ([T], [F]).
pub const DEFAULT_BAUD: u32 = 9600;

/// A query's reply (flowchem reads with 0.5 s, LCMSNet with 1–1.5 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1000);

/// How long a move may take before the valve counts as stuck.
pub const DEFAULT_MOVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Between two `CP` reads while the rotor turns.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How long an action command's (optional) answer is waited for.
pub const ACTION_REPLY_WINDOW: Duration = Duration::from_millis(200);

/// 8N1, no handshake ([T]).
pub fn serial_settings(baud: u32) -> SerialSettings {
    SerialSettings::eight_n_one(baud)
}

/// Which valve the actuator turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValveType {
    /// A switching valve: positions A (1) and B (2), modes 1–2.
    TwoPosition,
    /// A selection valve with `positions` positions, mode 3.
    Multiposition { positions: u16 },
}

impl ValveType {
    pub fn positions(self) -> u16 {
        match self {
            ValveType::TwoPosition => 2,
            ValveType::Multiposition { positions } => positions,
        }
    }
}

/// One actuator on a (possibly shared) line.
pub struct ViciValve<S> {
    name: String,
    link: SharedLink<S>,
    id: Id,
    valve: ValveType,
    move_timeout: Duration,
}

impl<S> std::fmt::Debug for ViciValve<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViciValve")
            .field("name", &self.name)
            .field("id", &self.id)
            .field("valve", &self.valve)
            .finish_non_exhaustive()
    }
}

impl<S: ByteStream> ViciValve<S> {
    /// An actuator with device ID `id` (`None`: no ID set, alone on its line). Nothing is sent.
    pub fn new(name: impl Into<String>, link: SharedLink<S>, id: Id, valve: ValveType) -> Self {
        Self {
            name: name.into(),
            link,
            id,
            valve,
            move_timeout: DEFAULT_MOVE_TIMEOUT,
        }
    }

    pub fn with_move_timeout(mut self, timeout: Duration) -> Self {
        self.move_timeout = timeout;
        self
    }

    fn error(&self, kind: DeviceErrorKind) -> DeviceError {
        DeviceError::new(self.name.clone(), kind)
    }

    /// Sends `command` and reads one reply line.
    async fn query(&self, command: &str) -> DeviceResult<String> {
        let mut link = self.link.lock().await;
        let request = protocol::encode(self.id, command);
        link.send(&request).await.map_err(|k| self.error(k))?;
        let line = link
            .read_frame(protocol::decode_line)
            .await
            .map_err(|k| self.error(k))?;
        drop(link);
        match protocol::error_of(&line, self.id) {
            Some(message) => Err(self.error(DeviceErrorKind::Refused(format!(
                "`{command}`: the actuator answers `{message}`"
            )))),
            None => Ok(line),
        }
    }

    /// Sends an action command whose answer depends on `IFM`: silence within
    /// [`ACTION_REPLY_WINDOW`] is normal; an answer is read (and an error answer refused).
    async fn act(&self, command: &str) -> DeviceResult<()> {
        let mut link = self.link.lock().await;
        let request = protocol::encode(self.id, command);
        link.send(&request).await.map_err(|k| self.error(k))?;
        let timeout = link.timeout();
        link.set_timeout(ACTION_REPLY_WINDOW);
        let answer = link.read_frame(protocol::decode_line).await;
        link.set_timeout(timeout);
        drop(link);
        match answer {
            Ok(line) => match protocol::error_of(&line, self.id) {
                Some(message) => Err(self.error(DeviceErrorKind::Refused(format!(
                    "`{command}`: the actuator answers `{message}`"
                )))),
                None => Ok(()),
            },
            Err(DeviceErrorKind::Timeout(_)) => Ok(()),
            Err(kind) => Err(self.error(kind)),
        }
    }

    async fn read_position(&self) -> DeviceResult<Position> {
        let line = self.query("CP").await?;
        protocol::parse_position(&line, self.id)
            .map_err(|why| self.error(DeviceErrorKind::Garbage(why)))
    }

    /// The position as the trait counts it, checked against the valve type.
    async fn current(&self) -> DeviceResult<u16> {
        let position = self.read_position().await?;
        let fits = match (self.valve, position) {
            (ValveType::TwoPosition, Position::A | Position::B) => true,
            (ValveType::Multiposition { positions }, Position::Numbered(n)) => n <= positions,
            _ => false,
        };
        if !fits {
            return Err(self.error(DeviceErrorKind::Garbage(format!(
                "the actuator reports position {} on a {}",
                position.argument(),
                describe(self.valve)
            ))));
        }
        Ok(position.number())
    }

    /// Readies the actuator at connect: answers to action commands off, its mode and number
    /// of positions checked against the binding, its position read.
    pub async fn configure(&mut self) -> DeviceResult<()> {
        // Older firmware may not know `IFM`: its error answer is no reason to refuse the valve.
        match self.act("IFM0").await {
            Ok(()) => {}
            Err(e) if matches!(e.kind, DeviceErrorKind::Refused(_)) => {}
            Err(e) => return Err(e),
        }
        let position = self.read_position().await?;
        match (self.valve, position) {
            (ValveType::TwoPosition, Position::A | Position::B) => {}
            (ValveType::Multiposition { positions }, Position::Numbered(_)) => {
                let line = self.query("NP").await?;
                let count = protocol::parse_count(&line, self.id)
                    .map_err(|why| self.error(DeviceErrorKind::Garbage(why)))?;
                if count != positions {
                    return Err(self.error(DeviceErrorKind::Refused(format!(
                        "the actuator indexes {count} positions (`NP`), the lab file says {positions}"
                    ))));
                }
            }
            (ValveType::TwoPosition, Position::Numbered(_)) => {
                return Err(self.error(DeviceErrorKind::Refused(
                    "the actuator is in multiposition mode (`AM3`), the lab file binds a \
                     two-position valve"
                        .into(),
                )));
            }
            (ValveType::Multiposition { .. }, Position::A | Position::B) => {
                return Err(self.error(DeviceErrorKind::Refused(
                    "the actuator is in a two-position mode (`AM1`/`AM2`), the lab file binds a \
                     multiposition valve"
                        .into(),
                )));
            }
        }
        self.current().await.map(|_| ())
    }

    /// Sends the rotor home (position 1; A on a switching valve) and proves it got there.
    pub async fn home(&mut self) -> DeviceResult<()> {
        match self.valve {
            ValveType::Multiposition { .. } => {
                self.act("HM").await?;
                self.wait_for(1).await
            }
            ValveType::TwoPosition => self.set_position(1).await,
        }
    }

    /// Reads `CP` until it reports `target`, within the move timeout.
    async fn wait_for(&self, target: u16) -> DeviceResult<()> {
        let started = tokio::time::Instant::now();
        loop {
            let now = match self.current().await {
                Ok(now) => now,
                // Busy turning, perhaps: ask again while the move may still be under way.
                Err(e)
                    if matches!(e.kind, DeviceErrorKind::Timeout(_))
                        && started.elapsed() < self.move_timeout =>
                {
                    continue;
                }
                Err(e) => return Err(e),
            };
            if now == target {
                return Ok(());
            }
            if started.elapsed() >= self.move_timeout {
                return Err(self.error(DeviceErrorKind::Alarm(format!(
                    "the valve did not reach position {} within {} s: it reports position {}",
                    self.label(target),
                    self.move_timeout.as_secs_f64(),
                    self.label(now)
                ))));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    fn label(&self, position: u16) -> String {
        self.named(position).argument()
    }

    fn named(&self, n: u16) -> Position {
        match (self.valve, n) {
            (ValveType::TwoPosition, 1) => Position::A,
            (ValveType::TwoPosition, _) => Position::B,
            (ValveType::Multiposition { .. }, n) => Position::Numbered(n),
        }
    }
}

fn describe(valve: ValveType) -> String {
    match valve {
        ValveType::TwoPosition => "two-position valve".into(),
        ValveType::Multiposition { positions } => format!("{positions}-position valve"),
    }
}

#[async_trait]
impl<S: ByteStream> Valve for ViciValve<S> {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        let mut link = self.link.lock().await;
        link.send(&protocol::encode(self.id, "VR"))
            .await
            .map_err(|k| self.error(k))?;
        let lines = link
            .read_frame(protocol::decode_lines)
            .await
            .map_err(|k| self.error(k))?;
        drop(link);
        let prefix = self.id.map(|id| char::from(b'0' + id.min(9)));
        let firmware: Vec<&str> = lines
            .iter()
            .map(|l| match prefix {
                Some(p) => l.strip_prefix(p).unwrap_or(l),
                None => l,
            })
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        Ok(Identity {
            vendor: "VICI Valco".into(),
            model: format!("universal actuator, {}", describe(self.valve)),
            firmware: Some(firmware.join(" ")),
            serial_number: None,
        })
    }

    async fn set_position(&mut self, position: u16) -> DeviceResult<()> {
        let positions = self.valve.positions();
        if !(1..=positions).contains(&position) {
            return Err(self.error(DeviceErrorKind::OutOfEnvelope(format!(
                "position {position} is not one of 1 ..= {positions}"
            ))));
        }
        let target = self.named(position);
        self.act(&format!("GO{}", target.argument())).await?;
        self.wait_for(position).await
    }

    async fn position(&mut self) -> DeviceResult<u16> {
        self.current().await
    }
}
