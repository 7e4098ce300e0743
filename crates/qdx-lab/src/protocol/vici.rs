//! VICI Valco universal electric actuators (Cheminert selection and switching valves): ASCII
//! commands ending in a carriage return, replies as carriage-return-terminated lines.
//!
//! Sources, each cited where a fact is used:
//! - [M] VICI, *Universal Electric Actuator* user manual (models EUH, EUD, EUT), "Optional
//!   Serial Interface", pp. 14–19 (the serial command table and the command reference);
//!   public text at manualsdir.com / azmanual.top, manual 595651.
//! - [T] VICI, *Two Position Microelectric* user manual, pp. 4–5 (9600 baud, no parity,
//!   8 data bits, 1 stop bit; the device-ID prefix on a shared line); manual 595646.
//! - [F] `cambiegroup/flowchem:src/flowchem/devices/vicivalco/vici_valve.py` (9600 8N1, `CP`,
//!   `GO<n>` with no reply read, `HM`, `VR` read as several lines, the address written before
//!   the command) and an earlier version of the same file (class `ViciValco`) whose comment
//!   lists replies seen on a valve with ID 0: `CP` → `[ADDRESS]CP[A|B]`, `ID` → `0ID0`,
//!   `IFM0` → `0IFM0`, `NP` in a two-position mode → `0E2 NP Invalid`, `VR` → three lines,
//!   each starting with the ID.
//! - [H] the Hein group's `vicivalve` package (`vicivalve/vici.py`, PyPI `vicivalve`):
//!   two-position valves' positions 1 and 2 are `A` and `B`, `\r`-terminated commands.
//! - [W] `MechWolf/MechWolf:mechwolf/components/vici.py`: `CP\r` answers `CPXX\r`, `GO<n>\r`.
//!
//! What the wire looks like ([M] unless marked):
//! - a command is `[id]COMMAND[argument]\r`; `\r` is the factory delimiter (`DEL1`, [M]);
//! - with a device ID set, the actuator acts only on commands that begin with its ID ([T]) and
//!   its replies begin with the ID ([F]); `*` broadcasts to every actuator ([T]);
//! - `CP` answers `CPnn` (multiposition, mode 3) or `CPA` / `CPB` (two-position, modes 1–2);
//! - `NP` answers `NPnn` (modes 2–3); `GOnn` / `GOA` / `GOB` move; `HM` goes to position 1
//!   (mode 3); `CW` / `CC` go to A / B (modes 1–2); `TO` toggles (modes 1–2);
//! - `IFMn` chooses the answer to action commands: 0 none, 1 basic, 2 extended;
//! - `VR` answers the firmware, on several lines ([F] reads 5, LCMSNet 2; [F]'s comment shows 3).
//!
//! **Unverified: calibrate** — whether `CP` pads one-digit positions to two (`CP03`: [M]'s
//! `CPnn` and [W]'s `CPXX` suggest it; [`parse_position`] accepts both); whether every reply
//! line carries the ID prefix ([F]'s comment only; the prefix is optional here); the error
//! reply's form (`E<digit> …`, one observation in [F]); whether `IFM0` is echoed; what `CP`
//! answers while the rotor turns (the emulator reports the position it is leaving).

use crate::transport::Decoded;

/// The longest reply line accepted; the longest real ones are firmware strings.
const MAX_LINE: usize = 80;

/// A device ID on a shared line: `0`–`9` ([T]; [M] also allows `A`–`Z`, not supported here).
pub type Id = Option<u8>;

/// `[id]command\r`.
pub fn encode(id: Id, command: &str) -> Vec<u8> {
    let mut frame = Vec::with_capacity(command.len() + 2);
    if let Some(id) = id {
        frame.push(b'0' + id.min(9));
    }
    frame.extend_from_slice(command.as_bytes());
    frame.push(b'\r');
    frame
}

/// A position as the actuator names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Multiposition mode: 1 ..= NP.
    Numbered(u16),
    /// Two-position modes: A (position 1) or B (position 2), as [H] numbers them.
    A,
    B,
}

impl Position {
    /// 1-based, as the `Valve` trait counts: A is 1, B is 2.
    pub fn number(self) -> u16 {
        match self {
            Position::Numbered(n) => n,
            Position::A => 1,
            Position::B => 2,
        }
    }

    /// The argument of `GO`: `3`, `A`, `B`.
    pub fn argument(self) -> String {
        match self {
            Position::Numbered(n) => n.to_string(),
            Position::A => "A".into(),
            Position::B => "B".into(),
        }
    }
}

/// One reply line (without its `\r`), or an error while the first line is incomplete. A
/// leading `\n` (a device set to `CRLF`, `DEL3`) is skipped.
pub fn decode_line(buf: &[u8]) -> Decoded<String> {
    let start = buf.iter().take_while(|&&b| b == b'\n').count();
    let rest = buf.get(start..).unwrap_or(&[]);
    let end = rest.iter().position(|&b| b == b'\r');
    let line = rest.get(..end.unwrap_or(rest.len())).unwrap_or(&[]);
    if let Some(bad) = line.iter().find(|&&b| !(b.is_ascii_graphic() || b == b' ')) {
        return Decoded::Invalid(format!("byte {bad:#04x} in a reply line"));
    }
    if line.len() > MAX_LINE {
        return Decoded::Invalid(format!("a reply line longer than {MAX_LINE} bytes"));
    }
    match end {
        Some(end) => Decoded::Frame {
            value: String::from_utf8_lossy(line).into_owned(),
            consumed: start + end + 1,
        },
        None => Decoded::Incomplete,
    }
}

/// Every complete line received so far, final once the line stays quiet for the link's settle
/// time: for `VR`, whose number of lines the sources disagree on.
pub fn decode_lines(buf: &[u8]) -> Decoded<Vec<String>> {
    let mut lines = Vec::new();
    let mut consumed = 0;
    loop {
        match decode_line(buf.get(consumed..).unwrap_or(&[])) {
            Decoded::Frame { value, consumed: n } => {
                lines.push(value);
                consumed += n;
            }
            Decoded::FrameUnlessMore { .. } | Decoded::Incomplete => break,
            Decoded::Invalid(why) => return Decoded::Invalid(why),
        }
    }
    if lines.is_empty() {
        Decoded::Incomplete
    } else {
        Decoded::FrameUnlessMore {
            value: lines,
            consumed,
        }
    }
}

/// The reply line without the ID prefix, when it has one: `0CP03` → `CP03`. The prefix is
/// only taken off before the expected `head`, so an ID letter can never eat a reply letter.
pub fn strip_id<'a>(line: &'a str, id: Id, head: &str) -> &'a str {
    let line = line.trim();
    if let Some(id) = id {
        let prefix = char::from(b'0' + id.min(9));
        if let Some(rest) = line.strip_prefix(prefix)
            && rest.starts_with(head)
        {
            return rest;
        }
    }
    line
}

/// An error reply (`E2 NP Invalid`, [F]), if the line is one.
pub fn error_of(line: &str, id: Id) -> Option<&str> {
    let line = strip_id(line, id, "E");
    let mut chars = line.chars();
    (chars.next() == Some('E') && chars.next().is_some_and(|c| c.is_ascii_digit())).then_some(line)
}

/// `CPnn` / `CPA` / `CPB` (ID prefix optional).
pub fn parse_position(line: &str, id: Id) -> Result<Position, String> {
    let body = strip_id(line, id, "CP");
    let Some(value) = body.strip_prefix("CP") else {
        return Err(format!("`{}` is not a position (`CP…`)", line.trim()));
    };
    let value = value.trim();
    match value {
        "A" => Ok(Position::A),
        "B" => Ok(Position::B),
        digits if (1..=2).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) => {
            match digits.parse::<u16>() {
                Ok(n) if n >= 1 => Ok(Position::Numbered(n)),
                _ => Err(format!("position `{digits}` is not one of 1 ..")),
            }
        }
        _ => Err(format!("`{}` is not a position (`CP…`)", line.trim())),
    }
}

/// `NPnn` (ID prefix optional): the number of positions the actuator indexes.
pub fn parse_count(line: &str, id: Id) -> Result<u16, String> {
    let body = strip_id(line, id, "NP");
    body.strip_prefix("NP")
        .map(str::trim)
        .filter(|d| (1..=2).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse::<u16>().ok())
        .ok_or_else(|| format!("`{}` is not a number of positions (`NP…`)", line.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_carry_the_id_and_end_in_cr() {
        assert_eq!(encode(None, "CP"), b"CP\r");
        assert_eq!(encode(Some(3), "GO6"), b"3GO6\r");
        assert_eq!(Position::Numbered(12).argument(), "12");
        assert_eq!(Position::B.number(), 2);
    }

    #[test]
    fn replies_parse_with_or_without_their_prefix() {
        assert_eq!(
            decode_line(b"CP03\r"),
            Decoded::Frame {
                value: "CP03".into(),
                consumed: 5
            }
        );
        assert_eq!(decode_line(b"CP0"), Decoded::Incomplete);
        assert!(matches!(decode_line(b"\xfe\xfd#"), Decoded::Invalid(_)));
        assert_eq!(parse_position("CP03", None), Ok(Position::Numbered(3)));
        assert_eq!(parse_position("1CP3", Some(1)), Ok(Position::Numbered(3)));
        assert_eq!(parse_position("0CPB", Some(0)), Ok(Position::B));
        assert!(parse_position("CP00", None).is_err());
        assert!(parse_position("CP123", None).is_err());
        assert!(parse_position("NP06", None).is_err());
        assert_eq!(parse_count("0NP10", Some(0)), Ok(10));
        assert_eq!(error_of("0E2 NP Invalid", Some(0)), Some("E2 NP Invalid"));
        assert_eq!(error_of("CP02", None), None);
        assert_eq!(
            decode_lines(b"0Dec 15 2011\r015:02:20\r0UA_MAIN"),
            Decoded::FrameUnlessMore {
                value: vec!["0Dec 15 2011".into(), "015:02:20".into()],
                consumed: 23
            }
        );
    }
}
