//! A Thorlabs SC10 shutter controller, built from the manual's keyword table (Thorlabs SC10
//! manual p. 15, via manualslib.com/manual/2332123) and, for the framing, the reply
//! transcripts of InstrumentKit's SC10 tests (echo, CR, value, CR, `> `): unverified, as
//! is the error string, `CMD_NOT_DEFINED` here.
//!
//! Invariants: every CR-terminated request gets its echo and the prompt; `ens` toggles
//! enable (not while the interlock is tripped); in manual mode (`mode=1`) the shutter is open
//! exactly while enabled; in other modes this emulator keeps it closed (their timing is not
//! modelled).

use crate::emulators::{Protocol, take_line};

/// The error string for an unknown keyword or a bad argument (unverified).
pub const ERROR: &str = "CMD_NOT_DEFINED";

/// An emulated SC10.
#[derive(Debug, Clone)]
pub struct Sc10Emulator {
    pub enabled: bool,
    /// 1 manual, 2 auto, 3 single, 4 repeat, 5 external gate.
    pub mode: u8,
    pub interlock_tripped: bool,
    pub id: String,
}

impl Default for Sc10Emulator {
    fn default() -> Self {
        Self {
            enabled: false,
            mode: 1,
            interlock_tripped: false,
            id: "THORLABS SC10 VERSION 1.07".into(),
        }
    }
}

impl Sc10Emulator {
    pub fn open(&self) -> bool {
        self.enabled && self.mode == 1 && !self.interlock_tripped
    }

    fn reply(request: &[u8], value: Option<&str>) -> Vec<u8> {
        let mut out = request.to_vec();
        out.push(b'\r');
        if let Some(v) = value {
            out.extend_from_slice(v.as_bytes());
            out.push(b'\r');
        }
        out.extend_from_slice(b"> ");
        out
    }
}

fn flag(b: bool) -> &'static str {
    if b { "1" } else { "0" }
}

impl Protocol for Sc10Emulator {
    fn take_request(&mut self, input: &mut Vec<u8>) -> Option<Vec<u8>> {
        take_line(input, b'\r')
    }

    fn respond(&mut self, request: &[u8]) -> Vec<u8> {
        let text = String::from_utf8_lossy(request).into_owned();
        let value: Option<String> = match text.as_str() {
            "id?" => Some(self.id.clone()),
            "ens" => {
                if !self.interlock_tripped {
                    self.enabled = !self.enabled;
                }
                None
            }
            "ens?" => Some(flag(self.enabled).into()),
            "mode?" => Some(self.mode.to_string()),
            "closed?" => Some(flag(!self.open()).into()),
            "interlock?" => Some(flag(self.interlock_tripped).into()),
            other => match other.strip_prefix("mode=").map(str::parse::<u8>) {
                Some(Ok(m)) if (1..=5).contains(&m) => {
                    self.mode = m;
                    None
                }
                _ => Some(ERROR.into()),
            },
        };
        Self::reply(request, value.as_deref())
    }

    fn error_reply(&mut self, request: &[u8]) -> Vec<u8> {
        Self::reply(request, Some(ERROR))
    }
}
