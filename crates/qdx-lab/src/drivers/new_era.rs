//! New Era NE-1000 family syringe pumps (NE-500, NE-1000, NE-1002X, NE-1600, NE-4000, ...).
//!
//! Several pumps share one RS-232 daisy chain: each [`NewEraPump`] holds a clone of one
//! [`SharedLink`] and its own address, and holds the link's lock for a whole command–reply
//! transaction, so two pumps can never read each other's replies.
//!
//! Invariants:
//! - Every command is framed by [`protocol::encode`] in the pump's mode (basic or safe) and
//!   every reply checked (STX/ETX, CRC in safe mode, address) before it is believed.
//! - An alarm reply (`A?S`, ...) is an [`DeviceErrorKind::Alarm`] for the command that got it:
//!   the pump did not execute that command (it only acknowledged the alarm). `status` reports
//!   the alarm in [`PumpStatus::alarm`] instead of failing.
//! - A rate is sent in the pump's 4-digit format, truncated, so the pump never runs faster
//!   than asked. A rate of zero is not sent: the pump is stopped (or not started) instead.
//! - While the pump runs, rates keep the current rate unit (the pump refuses a unit change).
//! - First contact (before the first command of a session) finds the pump's mode and clears a
//!   pending alarm: a status query in the driver's mode, and in the other mode if that one is
//!   not answered or answered `?COM` (a pump may answer a frame of the other mode with `?COM`
//!   rather than silence: instruments.md A1, "Safe mode"), since safe mode survives a power
//!   cycle and a crashed run can leave a pump in it. Its reply is read in either framing. A
//!   pump found in safe mode is returned to basic mode by [`NewEraPump::configure`] unless safe
//!   mode was asked for.
//! - The alarm first contact acknowledges is kept in [`NewEraPump::alarm_at_connect`]. `R`
//!   (power-up) is expected; any other (`S` stall, `T` safe-mode timeout, ...) was left from
//!   earlier use and is reported, not swallowed (instruments.md A1): the session's first
//!   command fails with it as [`DeviceErrorKind::Alarm`] (so connecting, which configures the
//!   pump, fails and a run does not start), or `status`, if that comes first, reports it in
//!   [`PumpStatus::alarm`]. Either way it is reported once.
//! - `SAF0` returns a pump to basic mode; the reply to `SAF n` is read in either framing.
//! - The only way to the pump is the [`Pump`] trait and the configuration methods here: raw
//!   commands are private.

use std::time::Duration;

use async_trait::async_trait;

use crate::device::{Identity, Pump, PumpDirection, PumpStatus};
use crate::error::{DeviceError, DeviceErrorKind, DeviceResult};
use crate::protocol::new_era::{
    self as protocol, Mode, Prompt, RateUnit, Reply, alarm_text, encode_rate, format_number,
    parse_dispensed, parse_rate,
};
use crate::transport::{ByteStream, SerialSettings, SharedLink};

/// The NE-1000 family's factory setting (nesp-lib assumes 9600; the rate is set on the pump).
pub const DEFAULT_BAUD: u32 = 19_200;

/// A reply normally comes within tens of milliseconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);

/// 8N1, no flow control (instruments.md A1).
pub fn serial_settings(baud: u32) -> SerialSettings {
    SerialSettings::eight_n_one(baud)
}

/// One pump on a (possibly shared) New Era line.
pub struct NewEraPump<S> {
    name: String,
    link: SharedLink<S>,
    address: u8,
    mode: Mode,
    /// The rate unit of the pump's current rate, once known.
    rate_unit: Option<RateUnit>,
    /// The pump's prompt after the last reply.
    prompt: Prompt,
    /// Set by `set_rate(0)`: the pump is held stopped instead of being sent a zero rate.
    zero_rate: bool,
    /// Set once first contact found the pump's mode.
    awake: bool,
    /// Safe mode was asked for (`SAF n`, n > 0, or built in safe mode).
    wants_safe: bool,
    /// The alarm first contact acknowledged, if any.
    alarm_at_connect: Option<String>,
    /// A left-over alarm first contact found, until it is reported.
    unreported_alarm: Option<String>,
}

impl<S> std::fmt::Debug for NewEraPump<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewEraPump")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("mode", &self.mode)
            .field("prompt", &self.prompt)
            .finish_non_exhaustive()
    }
}

impl<S: ByteStream> NewEraPump<S> {
    /// A pump at `address` (0–99) on `link`, talking in `mode`. Nothing is sent yet.
    pub fn new(name: impl Into<String>, link: SharedLink<S>, address: u8, mode: Mode) -> Self {
        Self {
            name: name.into(),
            link,
            address,
            mode,
            rate_unit: None,
            prompt: Prompt::Stopped,
            zero_rate: false,
            awake: false,
            wants_safe: mode == Mode::Safe,
            alarm_at_connect: None,
            unreported_alarm: None,
        }
    }

    pub fn address(&self) -> u8 {
        self.address
    }

    /// The alarm the pump had pending at first contact (`R` after power-up, `T` when a crashed
    /// run let its safe-mode timeout lapse), acknowledged then.
    pub fn alarm_at_connect(&self) -> Option<&str> {
        self.alarm_at_connect.as_deref()
    }

    /// First contact, once per session: see the module doc.
    async fn wake(&mut self) -> DeviceResult<()> {
        if self.awake {
            return Ok(());
        }
        let other = match self.mode {
            Mode::Basic => Mode::Safe,
            Mode::Safe => Mode::Basic,
        };
        // The first failure is the one reported when neither mode gets an answer.
        let mut failure = None;
        let mut found = None;
        for mode in [self.mode, other] {
            match self.exchange(mode, "", true).await {
                Ok(Reply::Error { code, .. }) if code == "COM" => {
                    failure.get_or_insert_with(|| {
                        self.error(DeviceErrorKind::Garbage(format!(
                            "status query in {mode:?} mode answered ?COM"
                        )))
                    });
                }
                Ok(reply) => {
                    found = Some((mode, reply));
                    break;
                }
                Err(error) if matches!(error.kind, DeviceErrorKind::Timeout(_)) => {
                    failure.get_or_insert(error);
                }
                Err(error) => return Err(error),
            }
        }
        let Some((mode, reply)) = found else {
            return Err(failure.unwrap_or_else(|| {
                self.error(DeviceErrorKind::Garbage("no answer in either mode".into()))
            }));
        };
        self.mode = mode;
        match reply {
            Reply::Alarm { kind, .. } => {
                self.prompt = Prompt::Stopped;
                let text = alarm_text(kind);
                if kind != b'R' {
                    self.unreported_alarm = Some(format!(
                        "{text} (alarm {}) was pending when the session began (left from \
                         earlier use, acknowledged now): check the pump, then connect again",
                        char::from(kind)
                    ));
                }
                self.alarm_at_connect = Some(text);
            }
            Reply::Ok { prompt, .. } => self.prompt = prompt,
            Reply::Error { code, .. } => return Err(self.error(error_kind(&code, "status"))),
        }
        self.awake = true;
        Ok(())
    }

    fn error(&self, kind: DeviceErrorKind) -> DeviceError {
        DeviceError::new(self.name.clone(), kind)
    }

    /// Sends one command and returns the pump's parsed reply (alarms and errors included),
    /// after first contact.
    async fn transact(&mut self, command: &str) -> DeviceResult<Reply> {
        self.wake().await?;
        if let Some(alarm) = self.unreported_alarm.take() {
            return Err(self.error(DeviceErrorKind::Alarm(alarm)));
        }
        self.exchange(self.mode, command, false).await
    }

    /// One command in `mode`; with `either`, a reply in either framing is read.
    async fn exchange(&mut self, mode: Mode, command: &str, either: bool) -> DeviceResult<Reply> {
        let frame = protocol::encode(mode, Some(self.address), command);
        let mut link = self.link.lock().await;
        link.send(&frame).await.map_err(|kind| self.error(kind))?;
        // In safe mode other pumps on the chain may send alarm packets of their own; a reply
        // for another address is skipped there, and is garbage in basic mode.
        for _ in 0..4 {
            let data = link
                .read_frame(|buf| {
                    if either {
                        protocol::decode_either(buf)
                    } else {
                        protocol::decode(mode, buf)
                    }
                })
                .await
                .map_err(|kind| self.error(kind))?;
            let reply = protocol::parse_reply(&data)
                .map_err(|why| self.error(DeviceErrorKind::Garbage(why)))?;
            if reply.address() == self.address {
                return Ok(reply);
            }
            if mode == Mode::Basic {
                return Err(self.error(DeviceErrorKind::Garbage(format!(
                    "reply from address {} to a command for {}",
                    reply.address(),
                    self.address
                ))));
            }
        }
        Err(self.error(DeviceErrorKind::Garbage(
            "only replies for other addresses".into(),
        )))
    }

    /// Sends a command that must succeed; returns its data and records the prompt.
    async fn command(&mut self, command: &str) -> DeviceResult<String> {
        let reply = self.transact(command).await?;
        self.outcome(command, reply)
    }

    fn outcome(&mut self, command: &str, reply: Reply) -> DeviceResult<String> {
        match reply {
            Reply::Ok { prompt, data, .. } => {
                self.prompt = prompt;
                Ok(data)
            }
            Reply::Alarm { kind, .. } => {
                self.prompt = Prompt::Stopped;
                Err(self.error(DeviceErrorKind::Alarm(alarm_text(kind))))
            }
            Reply::Error { prompt, code, .. } => {
                self.prompt = prompt;
                Err(self.error(error_kind(&code, command)))
            }
        }
    }

    /// Sets the syringe's inside diameter (mm). The pump refuses this while running.
    pub async fn set_diameter_mm(&mut self, diameter_mm: f64) -> DeviceResult<()> {
        let text = format_number(diameter_mm)
            .filter(|_| diameter_mm > 0.0)
            .ok_or_else(|| {
                self.error(DeviceErrorKind::OutOfEnvelope(format!(
                    "syringe diameter {diameter_mm} mm cannot be sent to the pump"
                )))
            })?;
        self.command(&format!("DIA{text}")).await.map(drop)
    }

    /// Sets the volume to dispense in the current phase; 0 pumps until stopped.
    pub async fn set_volume_target(&mut self, volume: f64) -> DeviceResult<()> {
        let text = format_number(volume).ok_or_else(|| {
            self.error(DeviceErrorKind::OutOfEnvelope(format!(
                "volume {volume} cannot be sent to the pump"
            )))
        })?;
        self.command(&format!("VOL{text}")).await.map(drop)
    }

    /// Puts this pump in safe mode with a communication timeout of `timeout_s` seconds. The
    /// caller must then talk to the pump at least every `timeout_s` seconds, or the pump stops
    /// with alarm `T`. `SAF0` disables safe mode, so 0 leaves the pump in basic mode.
    pub async fn enter_safe_mode(&mut self, timeout_s: u8) -> DeviceResult<()> {
        if timeout_s == 0 {
            return self.leave_safe_mode().await;
        }
        self.saf(timeout_s).await?;
        self.mode = Mode::Safe;
        self.wants_safe = true;
        Ok(())
    }

    /// Returns the pump to basic mode (`SAF0`, in the framing of the mode the pump is in).
    pub async fn leave_safe_mode(&mut self) -> DeviceResult<()> {
        self.saf(0).await?;
        self.mode = Mode::Basic;
        self.wants_safe = false;
        Ok(())
    }

    async fn saf(&mut self, timeout_s: u8) -> DeviceResult<()> {
        self.wake().await?;
        let command = format!("SAF{timeout_s}");
        let reply = self.exchange(self.mode, &command, true).await?;
        self.outcome(&command, reply).map(drop)
    }

    /// Clears the dispensed-volume counters of both directions.
    pub async fn clear_dispensed(&mut self) -> DeviceResult<()> {
        self.command("CLDINF").await?;
        self.command("CLDWDR").await.map(drop)
    }

    /// Prepares the pump for continuous flow: basic mode unless safe mode was asked for,
    /// syringe diameter, no volume target.
    pub async fn configure(&mut self, diameter_mm: f64) -> DeviceResult<()> {
        self.wake().await?;
        if self.mode == Mode::Safe && !self.wants_safe {
            // Left in safe mode by an earlier session.
            self.leave_safe_mode().await?;
        }
        self.set_diameter_mm(diameter_mm).await?;
        self.set_volume_target(0.0).await
    }

    fn running(&self) -> bool {
        matches!(
            self.prompt,
            Prompt::Infusing | Prompt::Withdrawing | Prompt::Purging
        )
    }
}

fn error_kind(code: &str, command: &str) -> DeviceErrorKind {
    match code {
        "" => DeviceErrorKind::Refused(format!("{command}: command not recognised")),
        "NA" => DeviceErrorKind::Refused(format!("{command}: not applicable now")),
        "OOR" => DeviceErrorKind::Refused(format!("{command}: data out of range")),
        "IGN" => DeviceErrorKind::Refused(format!("{command}: ignored (new phase started)")),
        // The pump received a corrupted packet: a transmission fault, worth a retry.
        "COM" => DeviceErrorKind::Garbage(format!("{command}: pump received an invalid packet")),
        other => DeviceErrorKind::Refused(format!("{command}: error ?{other}")),
    }
}

#[async_trait]
impl<S: ByteStream> Pump for NewEraPump<S> {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        let version = self.command("VER").await?;
        // `NE1000V3.928` or `NE1002XV1.0V3.928`: model up to the last `V`, firmware after it.
        let split = version
            .rfind('V')
            .filter(|&at| at > 0)
            .ok_or_else(|| self.error(DeviceErrorKind::Garbage(format!("version {version:?}"))))?;
        let (model, firmware) = version.split_at(split);
        Ok(Identity {
            vendor: "New Era Pump Systems".into(),
            model: model.to_string(),
            firmware: Some(firmware.trim_start_matches('V').to_string()),
            serial_number: None,
        })
    }

    async fn set_rate(&mut self, rate: f64) -> DeviceResult<()> {
        if rate == 0.0 {
            self.zero_rate = true;
            if self.running() {
                self.stop().await?;
            }
            return Ok(());
        }
        let keep_unit = if self.running() {
            match self.rate_unit {
                Some(unit) => Some(unit),
                None => {
                    let current = self.command("RAT").await?;
                    let unit = current
                        .get(current.len().saturating_sub(2)..)
                        .and_then(RateUnit::from_code);
                    self.rate_unit = unit;
                    unit
                }
            }
        } else {
            None
        };
        let (text, unit) = encode_rate(rate, keep_unit).ok_or_else(|| {
            self.error(DeviceErrorKind::OutOfEnvelope(format!(
                "rate {rate:e} m³/s cannot be expressed in the pump's format{}",
                if keep_unit.is_some() {
                    " without changing units while running"
                } else {
                    ""
                }
            )))
        })?;
        self.command(&format!("RAT{text}{}", unit.code())).await?;
        self.rate_unit = Some(unit);
        self.zero_rate = false;
        Ok(())
    }

    async fn set_direction(&mut self, direction: PumpDirection) -> DeviceResult<()> {
        let code = match direction {
            PumpDirection::Infuse => "INF",
            PumpDirection::Withdraw => "WDR",
        };
        self.command(&format!("DIR{code}")).await.map(drop)
    }

    async fn start(&mut self) -> DeviceResult<()> {
        if self.zero_rate {
            return Ok(());
        }
        self.command("RUN").await?;
        if self.running() {
            Ok(())
        } else {
            Err(self.error(DeviceErrorKind::Refused(format!(
                "RUN: pump did not start (status {})",
                self.prompt.as_char()
            ))))
        }
    }

    async fn stop(&mut self) -> DeviceResult<()> {
        self.command("STP").await?;
        // Some models pause on the first STP and stop on the second.
        if self.prompt == Prompt::Paused {
            self.command("STP").await?;
        }
        Ok(())
    }

    async fn status(&mut self) -> DeviceResult<PumpStatus> {
        // A left-over alarm first contact found is reported here rather than failing.
        self.wake().await?;
        let left_over = self.unreported_alarm.take();
        // An empty command reads the prompt, and acknowledges a pending alarm.
        let alarm = match self.transact("").await? {
            Reply::Alarm { kind, .. } => {
                self.prompt = Prompt::Stopped;
                Some(alarm_text(kind))
            }
            Reply::Ok { prompt, .. } | Reply::Error { prompt, .. } => {
                self.prompt = prompt;
                None
            }
        };
        let alarm = left_over.or(alarm);
        let running = self.running();
        let prompt = self.prompt;
        let dispensed = self.command("DIS").await?;
        let (infused, withdrawn) = parse_dispensed(&dispensed).ok_or_else(|| {
            self.error(DeviceErrorKind::Garbage(format!(
                "DIS answer {dispensed:?}"
            )))
        })?;
        let rate_text = self.command("RAT").await?;
        let rate = parse_rate(&rate_text).ok_or_else(|| {
            self.error(DeviceErrorKind::Garbage(format!(
                "RAT answer {rate_text:?}"
            )))
        })?;
        self.rate_unit = rate_text
            .get(rate_text.len().saturating_sub(2)..)
            .and_then(RateUnit::from_code);
        let direction = match self.command("DIR").await?.as_str() {
            "INF" => PumpDirection::Infuse,
            "WDR" => PumpDirection::Withdraw,
            other => {
                return Err(self.error(DeviceErrorKind::Garbage(format!("DIR answer {other:?}"))));
            }
        };
        // The queries above answer with the same prompt; keep the one read first.
        self.prompt = prompt;
        Ok(PumpStatus {
            running,
            direction,
            rate: if self.zero_rate { 0.0 } else { rate },
            infused,
            withdrawn,
            alarm,
        })
    }
}
