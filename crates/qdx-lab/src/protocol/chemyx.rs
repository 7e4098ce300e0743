//! Chemyx Fusion wire format: lowercase text commands ending in `\r`, replies as text lines.
//!
//! A reply has no end marker (vendor drivers sleep 0.3–0.4 s and read what came), so
//! [`decode`] offers the complete lines received so far as a frame that is final once the
//! line stays quiet for the link's settle time. Replies echo settings as `name = value`.
//! The exact line terminator and the echo of `start`/`stop` are **unverified: calibrate**;
//! the emulator and driver agree on `\r\n` and on the forms below.

use crate::transport::Decoded;

const MAX_REPLY: usize = 512;

/// `command\r`.
pub fn encode(command: &str) -> Vec<u8> {
    let mut frame = command.as_bytes().to_vec();
    frame.push(b'\r');
    frame
}

/// Complete, non-empty lines received so far, final unless more arrive.
pub fn decode(buf: &[u8]) -> Decoded<Vec<String>> {
    if buf.len() > MAX_REPLY {
        return Decoded::Invalid("reply too long".into());
    }
    // Replies are printable ASCII: anything else is garbage at once, line end or not.
    if buf
        .iter()
        .any(|&b| !(b.is_ascii_graphic() || b == b' ' || b == b'\r' || b == b'\n'))
    {
        return Decoded::Invalid("reply is not printable text".into());
    }
    let Some(end) = buf.iter().rposition(|&b| b == b'\n') else {
        return Decoded::Incomplete;
    };
    let text = String::from_utf8_lossy(buf.get(..end).unwrap_or(&[]));
    let lines: Vec<String> = text
        .split('\n')
        .map(|line| line.trim().to_string())
        .filter(|line| !line.is_empty())
        .collect();
    if lines.is_empty() {
        return Decoded::Incomplete;
    }
    Decoded::FrameUnlessMore {
        value: lines,
        consumed: end + 1,
    }
}

/// Formats reply lines.
pub fn format_reply(lines: &[String]) -> Vec<u8> {
    lines
        .iter()
        .flat_map(|line| format!("{line}\r\n").into_bytes())
        .collect()
}

/// The value of a `name = value` echo, if `line` is one for `name`.
pub fn echo_value<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let (key, value) = line.split_once('=')?;
    (key.trim() == name).then(|| value.trim())
}

/// `pump status` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PumpState {
    Stopped,
    Running,
    Paused,
    Delayed,
    Stalled,
}

impl PumpState {
    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code.trim() {
            "0" => Self::Stopped,
            "1" => Self::Running,
            "2" => Self::Paused,
            "3" => Self::Delayed,
            "4" => Self::Stalled,
            _ => return None,
        })
    }

    pub fn code(self) -> u8 {
        match self {
            Self::Stopped => 0,
            Self::Running => 1,
            Self::Paused => 2,
            Self::Delayed => 3,
            Self::Stalled => 4,
        }
    }
}

/// Rate units of `set units`: 0 mL/min, 1 mL/h, 2 µL/min, 3 µL/h. The volume unit follows
/// (mL for 0 and 1, µL for 2 and 3).
pub fn units_si(code: u8) -> Option<(f64, f64)> {
    Some(match code {
        0 => (1e-6 / 60.0, 1e-6),
        1 => (1e-6 / 3600.0, 1e-6),
        2 => (1e-9 / 60.0, 1e-9),
        3 => (1e-9 / 3600.0, 1e-9),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_wait_for_quiet_and_echoes_parse() {
        assert_eq!(decode(b"rate = 1."), Decoded::Incomplete);
        assert_eq!(
            decode(b"rate = 1.000\r\n"),
            Decoded::FrameUnlessMore {
                value: vec!["rate = 1.000".into()],
                consumed: 14
            }
        );
        assert!(matches!(decode(b"\x01\x02\n"), Decoded::Invalid(_)));
        assert_eq!(echo_value("rate = 1.000", "rate"), Some("1.000"));
        assert_eq!(echo_value("rate = 1.000", "volume"), None);
        assert_eq!(PumpState::from_code("4"), Some(PumpState::Stalled));
    }
}
