//! Harvard Apparatus Pump 11 Elite and PHD Ultra ("Ultra" command set).
//!
//! Source: instruments.md A2: the Pump 11 Elite manual (Publication 5420-002 Rev C), the PHD
//! ULTRA manual (Publication 5419-002 Rev A) and flowchem's Elite driver.
//!
//! Invariants:
//! - Commands take the model's address form ([`HarvardModel`]): `12irat …` on the Elite,
//!   `12:irat …` on the PHD ULTRA (its manual p. 83).
//! - `configure` sends `echo off` first (a pump with echo on repeats each command ahead of
//!   its reply; unverified for the PHD), and a first reply line that repeats the command is
//!   dropped anyway, so an echo is never taken for an answer.
//! - Every reply is read to its prompt; an error line (`Argument error`, ...) makes the command
//!   [`DeviceErrorKind::Refused`]; a stall prompt `*` makes it [`DeviceErrorKind::Alarm`],
//!   except for `stop`, which a stalled pump has in effect already done.
//! - The `status` line is parsed in the model's layout: six flags on the Elite, five on the
//!   PHD ULTRA (direction, limit, stall, trigger, direction port; no target-reached flag;
//!   time in seconds). Whether the motor runs comes from the reply's prompt (`>` / `<`),
//!   which both manuals document, not from the case of the direction flag, which the PHD
//!   ULTRA manual shows only in lower case.
//! - The infusion and withdrawal rates are separate settings on the pump: the rate given to
//!   `set_rate` is sent for the current direction, and sent again for the new direction when
//!   the direction changes.
//! - Pumps on one daisy chain share a [`SharedLink`], one transaction at a time.
//! - `status` reports the rate the pump runs at (the `status` line) while it runs, and while it
//!   is idle the rate its next run command will use (`irate` / `wrate`), never a cached value:
//!   the idle `status` line shows the motor's rate, 0.
//! - The only way to the pump is the [`Pump`] trait and the configuration methods here: raw
//!   commands are private.

use std::time::Duration;

use async_trait::async_trait;

use crate::device::{Identity, Pump, PumpDirection, PumpStatus};
use crate::error::{DeviceError, DeviceErrorKind, DeviceResult};
use crate::protocol::harvard::{self as protocol, ERRORS, Prompt, Reply, StatusLine};

pub use crate::protocol::harvard::Model as HarvardModel;
use crate::transport::{ByteStream, SerialSettings, SharedLink};

/// flowchem's default; the pump offers 9600 to 921 600.
pub const DEFAULT_BAUD: u32 = 115_200;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1000);

/// 8N1, no flow control.
pub fn serial_settings(baud: u32) -> SerialSettings {
    SerialSettings::eight_n_one(baud)
}

/// One Harvard Ultra-family pump.
pub struct HarvardPump<S> {
    name: String,
    link: SharedLink<S>,
    address: u8,
    model: HarvardModel,
    direction: PumpDirection,
    /// The last rate set through this driver, m³/s.
    rate: Option<f64>,
    running: bool,
    zero_rate: bool,
}

impl<S> std::fmt::Debug for HarvardPump<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HarvardPump")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("model", &self.model)
            .field("direction", &self.direction)
            .field("running", &self.running)
            .finish_non_exhaustive()
    }
}

impl<S: ByteStream> HarvardPump<S> {
    /// A pump of `model` at `address` on `link`. Nothing is sent yet.
    pub fn new(
        name: impl Into<String>,
        link: SharedLink<S>,
        address: u8,
        model: HarvardModel,
    ) -> Self {
        Self {
            name: name.into(),
            link,
            address,
            model,
            direction: PumpDirection::Infuse,
            rate: None,
            running: false,
            zero_rate: false,
        }
    }

    fn error(&self, kind: DeviceErrorKind) -> DeviceError {
        DeviceError::new(self.name.clone(), kind)
    }

    /// Sends one command and reads its reply, whatever the prompt.
    async fn transact(&mut self, command: &str) -> DeviceResult<Reply> {
        let frame = protocol::encode(self.model, self.address, command);
        let address = self.address;
        let mut link = self.link.lock().await;
        link.send(&frame).await.map_err(|kind| self.error(kind))?;
        let mut reply = link
            .read_frame(|buf| protocol::decode(address, buf))
            .await
            .map_err(|kind| self.error(kind))?;
        drop(link);
        // An echo of the command (echo on) is not part of the answer.
        if !command.is_empty()
            && reply.lines.first().is_some_and(|line| {
                line.trim()
                    .to_ascii_lowercase()
                    .ends_with(&command.to_ascii_lowercase())
            })
        {
            reply.lines.remove(0);
        }
        self.running = matches!(reply.prompt, Prompt::Infusing | Prompt::Withdrawing);
        if let Some(line) = reply
            .lines
            .iter()
            .find(|line| ERRORS.iter().any(|e| line.contains(e)))
        {
            return Err(self.error(DeviceErrorKind::Refused(format!("{command}: {line}"))));
        }
        Ok(reply)
    }

    /// Sends a command whose reply must not carry a stall.
    async fn command(&mut self, command: &str) -> DeviceResult<Vec<String>> {
        let reply = self.transact(command).await?;
        if reply.prompt == Prompt::Stalled {
            return Err(self.error(DeviceErrorKind::Alarm("motor stalled".into())));
        }
        Ok(reply.lines)
    }

    /// Sets the syringe's inside diameter, mm.
    pub async fn set_diameter_mm(&mut self, diameter_mm: f64) -> DeviceResult<()> {
        let text = protocol::format_number(diameter_mm).ok_or_else(|| {
            self.error(DeviceErrorKind::OutOfEnvelope(format!(
                "syringe diameter {diameter_mm} mm cannot be sent"
            )))
        })?;
        self.command(&format!("diameter {text}")).await.map(drop)
    }

    /// Turns the command echo off, stops the pump, sets the syringe and clears the target and
    /// the volume counters.
    pub async fn configure(&mut self, diameter_mm: f64) -> DeviceResult<()> {
        self.command("echo off").await?;
        self.stop().await?;
        self.set_diameter_mm(diameter_mm).await?;
        self.command("ctvolume").await?;
        self.command("cvolume").await.map(drop)
    }

    /// The pump's own rate limits for the current syringe, m³/s (`irate lim`).
    pub async fn rate_limits(&mut self) -> DeviceResult<(f64, f64)> {
        let lines = self.command("irate lim").await?;
        let line = lines.first().cloned().unwrap_or_default();
        line.split_once(" to ")
            .and_then(|(lo, hi)| Some((protocol::parse_rate(lo)?, protocol::parse_rate(hi)?)))
            .ok_or_else(|| self.error(DeviceErrorKind::Garbage(format!("irate lim {line:?}"))))
    }

    async fn send_rate(&mut self, rate: f64) -> DeviceResult<()> {
        let (text, unit) = protocol::encode_rate(rate).ok_or_else(|| {
            self.error(DeviceErrorKind::OutOfEnvelope(format!(
                "rate {rate:e} m³/s cannot be expressed in the pump's units"
            )))
        })?;
        let command = match self.direction {
            PumpDirection::Infuse => "irate",
            PumpDirection::Withdraw => "wrate",
        };
        self.command(&format!("{command} {text} {}", unit.short()))
            .await
            .map(drop)
    }

    fn run_command(&self) -> &'static str {
        match self.direction {
            PumpDirection::Infuse => "irun",
            PumpDirection::Withdraw => "wrun",
        }
    }
}

fn first_line<S: ByteStream>(
    pump: &HarvardPump<S>,
    lines: &[String],
    what: &str,
) -> DeviceResult<String> {
    lines
        .first()
        .cloned()
        .ok_or_else(|| pump.error(DeviceErrorKind::Garbage(format!("no answer to {what}"))))
}

#[async_trait]
impl<S: ByteStream> Pump for HarvardPump<S> {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        let lines = self.command("ver").await?;
        let version = first_line(self, &lines, "ver")?;
        // `11 ELITE I/W Single 3.0.4`: the firmware is the last word.
        let (model, firmware) = version
            .rsplit_once(' ')
            .ok_or_else(|| self.error(DeviceErrorKind::Garbage(format!("ver {version:?}"))))?;
        Ok(Identity {
            vendor: "Harvard Apparatus".into(),
            model: model.to_string(),
            firmware: Some(firmware.to_string()),
            serial_number: None,
        })
    }

    async fn set_rate(&mut self, rate: f64) -> DeviceResult<()> {
        if rate == 0.0 {
            self.zero_rate = true;
            self.rate = Some(0.0);
            if self.running {
                self.stop().await?;
            }
            return Ok(());
        }
        self.send_rate(rate).await?;
        self.rate = Some(rate);
        self.zero_rate = false;
        Ok(())
    }

    async fn set_direction(&mut self, direction: PumpDirection) -> DeviceResult<()> {
        if direction == self.direction {
            return Ok(());
        }
        self.direction = direction;
        if let Some(rate) = self.rate.filter(|&r| r > 0.0) {
            self.send_rate(rate).await?;
        }
        if self.running {
            let run = self.run_command();
            self.command(run).await?;
        }
        Ok(())
    }

    async fn start(&mut self) -> DeviceResult<()> {
        if self.zero_rate {
            return Ok(());
        }
        let run = self.run_command();
        self.command(run).await?;
        if self.running {
            Ok(())
        } else {
            Err(self.error(DeviceErrorKind::Refused(format!(
                "{run}: pump did not start"
            ))))
        }
    }

    async fn stop(&mut self) -> DeviceResult<()> {
        // A stalled pump is stopped already; its `*` prompt does not make stopping fail.
        self.transact("stop").await.map(drop)
    }

    async fn status(&mut self) -> DeviceResult<PumpStatus> {
        let reply = self.transact("status").await?;
        let line = first_line(self, &reply.lines, "status")?;
        let status = StatusLine::parse(&line, self.model).ok_or_else(|| {
            self.error(DeviceErrorKind::Garbage(format!(
                "status {line:?} (expected {} flags)",
                self.model.status_flags()
            )))
        })?;
        let running = matches!(reply.prompt, Prompt::Infusing | Prompt::Withdrawing);
        let stalled = status.stalled() || reply.prompt == Prompt::Stalled;
        let infused = self.volume("ivolume").await?;
        let withdrawn = self.volume("wvolume").await?;
        let rate = if self.zero_rate {
            0.0
        } else if running {
            // fL/s to m³/s.
            status.rate_fl_per_s as f64 * 1e-18
        } else {
            let query = match self.direction {
                PumpDirection::Infuse => "irate",
                PumpDirection::Withdraw => "wrate",
            };
            // Not `command`: a stalled pump still answers, and the stall is reported below.
            let lines = self.transact(query).await?.lines;
            let line = first_line(self, &lines, query)?;
            protocol::parse_rate(&line)
                .ok_or_else(|| self.error(DeviceErrorKind::Garbage(format!("{query} {line:?}"))))?
        };
        Ok(PumpStatus {
            running,
            direction: if status.withdrawing() {
                PumpDirection::Withdraw
            } else {
                PumpDirection::Infuse
            },
            rate,
            infused,
            withdrawn,
            alarm: stalled.then(|| "motor stalled".to_string()),
        })
    }
}

impl<S: ByteStream> HarvardPump<S> {
    async fn volume(&mut self, command: &str) -> DeviceResult<f64> {
        let reply = self.transact(command).await?;
        let line = first_line(self, &reply.lines, command)?;
        protocol::parse_volume(&line)
            .ok_or_else(|| self.error(DeviceErrorKind::Garbage(format!("{command} {line:?}"))))
    }
}
