//! Chemyx Fusion wire format: lowercase text commands ending in `\r`; each reply is the echo
//! of the command line, the answer lines and the prompt `>` (instruments.md A3: qudi reads to
//! `"\r\n>"`; the Noël/UvA driver takes the line after the echo).
//!
//! Invariant: [`decode`] returns a reply only once its prompt has arrived, so an answer that
//! comes long after the echo (vendor drivers wait 0.3–0.5 s) is never cut off at the echo,
//! and no settle time is guessed. Replies echo settings as `name = value`; the line
//! terminator `\r\n` is qudi's, the forms of the other answers are **unverified: calibrate**.

use crate::transport::Decoded;

const MAX_REPLY: usize = 512;

/// The prompt that ends every reply.
pub const PROMPT: char = '>';

/// `command\r`.
pub fn encode(command: &str) -> Vec<u8> {
    let mut frame = command.as_bytes().to_vec();
    frame.push(b'\r');
    frame
}

/// The lines of one reply (echo included, blank lines dropped), once its prompt has arrived.
pub fn decode(buf: &[u8]) -> Decoded<Vec<String>> {
    // Replies are printable ASCII: anything else is garbage at once, prompt or not.
    if buf
        .iter()
        .any(|&b| !(b.is_ascii_graphic() || b == b' ' || b == b'\r' || b == b'\n'))
    {
        return Decoded::Invalid("reply is not printable text".into());
    }
    // The prompt opens a line of its own: `>` at the start or right after a line feed.
    let prompt = buf
        .iter()
        .enumerate()
        .position(|(at, &b)| b == PROMPT as u8 && (at == 0 || buf.get(at - 1) == Some(&b'\n')));
    let Some(prompt) = prompt else {
        return if buf.len() > MAX_REPLY {
            Decoded::Invalid("reply too long, and no prompt".into())
        } else {
            Decoded::Incomplete
        };
    };
    let text = String::from_utf8_lossy(buf.get(..prompt).unwrap_or(&[]));
    let lines = text
        .split('\n')
        .map(|line| line.trim().to_string())
        .filter(|line| !line.is_empty())
        .collect();
    Decoded::Frame {
        value: lines,
        consumed: prompt + 1,
    }
}

/// Formats a reply as the pump sends it: the echo of the command line, the answer lines,
/// the prompt (instruments.md A3: `set rate 1\r` → `set rate 1\r\nrate = 1\r\n>`).
pub fn format_reply(echo: &str, lines: &[String]) -> Vec<u8> {
    let mut out = format!("{echo}\r\n");
    for line in lines {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push(PROMPT);
    out.into_bytes()
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
    fn a_reply_ends_at_its_prompt_and_echoes_parse() {
        assert_eq!(decode(b"set rate 1\r\nrate = 1."), Decoded::Incomplete);
        // The echo alone is not a reply, however long the line stays quiet.
        assert_eq!(decode(b"set rate 1\r\n"), Decoded::Incomplete);
        assert_eq!(
            decode(b"set rate 1\r\nrate = 1.000\r\n>"),
            Decoded::Frame {
                value: vec!["set rate 1".into(), "rate = 1.000".into()],
                consumed: 27
            }
        );
        assert_eq!(
            decode(b"start\r\n>"),
            Decoded::Frame {
                value: vec!["start".into()],
                consumed: 8
            }
        );
        assert!(matches!(decode(b"\x01\x02\n"), Decoded::Invalid(_)));
        assert!(matches!(decode(&[b'x'; 600]), Decoded::Invalid(_)));
        assert_eq!(echo_value("rate = 1.000", "rate"), Some("1.000"));
        assert_eq!(echo_value("rate = 1.000", "volume"), None);
        assert_eq!(PumpState::from_code("4"), Some(PumpState::Stalled));
    }
}
