//! Thorlabs SC10 shutter controller (with an SH05/SH1 beam shutter) as a light's switch: a
//! lamp behind the shutter is on while the shutter is open.
//!
//! Protocol (source: Thorlabs SC10 manual, "Keywords (Commands and Queries)", read from
//! manualslib.com/manual/2332123 p. 15): lower-case ASCII keywords; `id?` model and firmware,
//! `ens` toggles enable, `ens?` answers `0` (disabled) or `1`, `mode=1` manual mode (the
//! shutter follows enable), `closed?` answers `1` when closed, `interlock?` `1` when the
//! interlock is tripped; a bad keyword or argument is answered with an error string.
//! 9600 baud by default, or 115 200 (`baud=1`) (source: the manual's `baud` keyword;
//! micro-manager's SC10 adapter page gives 9600 8N1, no handshake).
//!
//! Framing (unverified: calibrate; source: the transcripts of InstrumentKit's SC10 tests,
//! `instrumentkit/InstrumentKit:tests/test_thorlabs/test_thorlabs_sc10.py`): a command ends
//! with CR; the unit echoes it with CR, then a query's value with CR, then the prompt `> `.
//! The error string's text is unverified: any reply line that is not `0` / `1` where those
//! are expected is refused with the line shown.
//!
//! Invariants: `ens` toggles, so it is sent only when `ens?` says the state differs, and the
//! state is read back after it; the shutter is not opened while the interlock is tripped
//! (an [`DeviceErrorKind::Alarm`]); manual mode is set once, before the first switch.

use std::time::Duration;

use async_trait::async_trait;

use crate::device::{Identity, Light};
use crate::error::{DeviceError, DeviceErrorKind, DeviceResult};
use crate::transport::{ByteStream, Decoded, Link, SerialSettings};

pub const DEFAULT_BAUD: u32 = 9600;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1000);

/// The prompt after every reply.
const PROMPT: &[u8] = b"> ";

/// The longest reply before the input is called garbage (`?` lists every keyword).
const MAX_REPLY: usize = 2048;

/// 8N1, no handshake.
pub fn serial_settings(baud: u32) -> SerialSettings {
    SerialSettings::eight_n_one(baud)
}

/// The lines of one reply: the echo first, then the value lines (if any).
pub fn decode(input: &[u8]) -> Decoded<Vec<String>> {
    let Some(end) = input.windows(3).position(|w| w == b"\r> ") else {
        if input.len() > MAX_REPLY {
            return Decoded::Invalid(format!("no `> ` prompt in {MAX_REPLY} bytes"));
        }
        return Decoded::Incomplete;
    };
    let body = input.get(..end).unwrap_or_default();
    if !body
        .iter()
        .all(|b| b.is_ascii() && (*b == b'\r' || !b.is_ascii_control()))
    {
        return Decoded::Invalid("a reply with bytes that are not printable ASCII".into());
    }
    let lines = body
        .split(|b| *b == b'\r')
        .map(|l| String::from_utf8_lossy(l).trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    Decoded::Frame {
        value: lines,
        consumed: end + 1 + PROMPT.len(),
    }
}

/// One SC10 controller.
pub struct Sc10Shutter<S> {
    name: String,
    link: Link<S>,
    manual_mode: bool,
}

impl<S> std::fmt::Debug for Sc10Shutter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sc10Shutter")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<S: ByteStream> Sc10Shutter<S> {
    pub fn new(name: impl Into<String>, link: Link<S>) -> Self {
        Self {
            name: name.into(),
            link,
            manual_mode: false,
        }
    }

    fn error(&self, kind: DeviceErrorKind) -> DeviceError {
        DeviceError::new(self.name.clone(), kind)
    }

    /// Sends a keyword; returns the value line (`None` for a command without one).
    async fn transact(&mut self, keyword: &str) -> DeviceResult<Option<String>> {
        let mut request = keyword.as_bytes().to_vec();
        request.push(b'\r');
        self.link
            .send(&request)
            .await
            .map_err(|kind| self.error(kind))?;
        let lines = self
            .link
            .read_frame(decode)
            .await
            .map_err(|kind| self.error(kind))?;
        let mut lines = lines.into_iter();
        match lines.next() {
            Some(echo) if echo == keyword => {}
            other => {
                return Err(self.error(DeviceErrorKind::Garbage(format!(
                    "`{keyword}` was not echoed (got {other:?})"
                ))));
            }
        }
        let value: Vec<String> = lines.collect();
        Ok((!value.is_empty()).then(|| value.join(" ")))
    }

    /// A `0` / `1` query.
    async fn flag(&mut self, keyword: &str) -> DeviceResult<bool> {
        match self.transact(keyword).await?.as_deref() {
            Some("1") => Ok(true),
            Some("0") => Ok(false),
            other => Err(self.error(DeviceErrorKind::Refused(format!(
                "`{keyword}` answered {other:?}, not 0 or 1"
            )))),
        }
    }

    /// A command the unit answers with its echo alone; any value line is its error string.
    async fn command(&mut self, keyword: &str) -> DeviceResult<()> {
        match self.transact(keyword).await? {
            None => Ok(()),
            Some(error) => {
                Err(self.error(DeviceErrorKind::Refused(format!("`{keyword}`: {error}"))))
            }
        }
    }
}

#[async_trait]
impl<S: ByteStream> Light for Sc10Shutter<S> {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        let id = self.transact("id?").await?.unwrap_or_default();
        Ok(Identity {
            vendor: "Thorlabs".into(),
            model: if id.is_empty() { "SC10".into() } else { id },
            firmware: None,
            serial_number: None,
        })
    }

    async fn set(&mut self, on: bool) -> DeviceResult<()> {
        if !self.manual_mode {
            self.command("mode=1").await?;
            self.manual_mode = true;
        }
        if on && self.flag("interlock?").await? {
            return Err(self.error(DeviceErrorKind::Alarm(
                "the shutter interlock is tripped".into(),
            )));
        }
        if self.flag("ens?").await? != on {
            self.command("ens").await?;
            if self.flag("ens?").await? != on {
                return Err(self.error(DeviceErrorKind::Refused(format!(
                    "the shutter stayed {} after `ens`",
                    if on { "disabled" } else { "enabled" }
                ))));
            }
        }
        Ok(())
    }

    async fn state(&mut self) -> DeviceResult<Option<bool>> {
        Ok(Some(!self.flag("closed?").await?))
    }
}
