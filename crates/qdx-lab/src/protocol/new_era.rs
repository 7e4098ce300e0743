//! New Era NE-1000 family wire format: basic and safe framing, replies, numbers, rate units.
//!
//! Invariants: [`encode`] produces exactly the bytes of instruments.md A1 (basic:
//! `[addr]cmd\r`; safe: `STX len data crc-hi crc-lo ETX` with CRC-16/XMODEM over `data` and
//! `len = data.len() + 4`); [`format_number`] never produces more than 4 digits or more than
//! 3 decimals, and truncates (never rounds up), so an encoded rate never exceeds the rate asked.

use crate::transport::Decoded;

pub const STX: u8 = 0x02;
pub const ETX: u8 = 0x03;
pub const CR: u8 = b'\r';

/// The pump's "16-bit CCITT CRC": CRC-16/XMODEM, big-endian on the wire.
pub const CRC: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_XMODEM);

/// The longest reply data a pump sends (`I9999W9999ML` plus header) with a wide margin.
const MAX_REPLY: usize = 64;

/// Basic (text, CR-terminated) or safe (binary framed, CRC-checked) mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Basic,
    Safe,
}

/// Frames one command. `address` `None` sends no address (the pump at address 0 answers).
pub fn encode(mode: Mode, address: Option<u8>, command: &str) -> Vec<u8> {
    let mut data = Vec::with_capacity(command.len() + 2);
    if let Some(address) = address {
        data.extend_from_slice(address.to_string().as_bytes());
    }
    data.extend_from_slice(command.as_bytes());
    match mode {
        Mode::Basic => {
            data.push(CR);
            data
        }
        Mode::Safe => frame_safe(&data),
    }
}

/// Wraps `data` in a safe-mode packet.
pub fn frame_safe(data: &[u8]) -> Vec<u8> {
    let crc = CRC.checksum(data);
    let mut packet = Vec::with_capacity(data.len() + 5);
    packet.push(STX);
    // `len` is one byte; data longer than 251 bytes cannot be framed and no command is.
    packet.push(u8::try_from(data.len() + 4).unwrap_or(u8::MAX));
    packet.extend_from_slice(data);
    packet.extend_from_slice(&crc.to_be_bytes());
    packet.push(ETX);
    packet
}

/// Wraps reply data in a basic-mode frame.
pub fn frame_basic(data: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(data.len() + 2);
    frame.push(STX);
    frame.extend_from_slice(data);
    frame.push(ETX);
    frame
}

/// Decodes one reply frame into its data (`00S?OOR`, ...).
pub fn decode(mode: Mode, buf: &[u8]) -> Decoded<Vec<u8>> {
    match buf.first() {
        None => return Decoded::Incomplete,
        Some(&STX) => {}
        Some(_) => return Decoded::Invalid("reply does not start with STX".into()),
    }
    match mode {
        Mode::Basic => match buf.iter().position(|&b| b == ETX) {
            Some(end) => Decoded::Frame {
                value: buf.get(1..end).unwrap_or(&[]).to_vec(),
                consumed: end + 1,
            },
            None if buf.len() > MAX_REPLY => Decoded::Invalid("no ETX".into()),
            None => Decoded::Incomplete,
        },
        Mode::Safe => decode_safe(buf),
    }
}

/// Decodes one reply in whichever framing it came: the reply to `SAF n` (instruments.md does
/// not say whether the pump answers before or after it switches modes). The second byte tells
/// them apart: a basic reply starts `STX` and an address digit, a safe packet `STX` and a
/// length, which for every reply a pump sends (well under 44 bytes of data) is below `'0'`.
pub fn decode_either(buf: &[u8]) -> Decoded<Vec<u8>> {
    match buf.get(1) {
        None => decode(Mode::Basic, buf),
        Some(b'0'..=b'9') => decode(Mode::Basic, buf),
        Some(_) => decode(Mode::Safe, buf),
    }
}

/// Decodes one safe-mode packet (`STX len data crc crc ETX`) into its data.
pub fn decode_safe(buf: &[u8]) -> Decoded<Vec<u8>> {
    let Some(&len) = buf.get(1) else {
        return Decoded::Incomplete;
    };
    let len = usize::from(len);
    if len < 4 {
        return Decoded::Invalid(format!("safe-mode length {len} is too short"));
    }
    let total = len + 1;
    if buf.len() < total {
        return Decoded::Incomplete;
    }
    let (Some(data), Some(crc), Some(&end)) = (
        buf.get(2..total - 3),
        buf.get(total - 3..total - 1),
        buf.get(total - 1),
    ) else {
        return Decoded::Incomplete;
    };
    if end != ETX {
        return Decoded::Invalid("safe-mode packet does not end with ETX".into());
    }
    let received = u16::from_be_bytes([
        crc.first().copied().unwrap_or(0),
        crc.get(1).copied().unwrap_or(0),
    ]);
    let computed = CRC.checksum(data);
    if received != computed {
        return Decoded::Invalid(format!(
            "CRC mismatch (got {received:#06x}, computed {computed:#06x})"
        ));
    }
    Decoded::Frame {
        value: data.to_vec(),
        consumed: total,
    }
}

/// The pump's state as its prompt character says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    Infusing,
    Withdrawing,
    Stopped,
    Paused,
    PauseTimed,
    UserWait,
    Purging,
}

impl Prompt {
    pub fn from_char(c: u8) -> Option<Self> {
        Some(match c {
            b'I' => Self::Infusing,
            b'W' => Self::Withdrawing,
            b'S' => Self::Stopped,
            b'P' => Self::Paused,
            b'T' => Self::PauseTimed,
            b'U' => Self::UserWait,
            b'X' => Self::Purging,
            _ => return None,
        })
    }

    pub fn as_char(self) -> char {
        match self {
            Self::Infusing => 'I',
            Self::Withdrawing => 'W',
            Self::Stopped => 'S',
            Self::Paused => 'P',
            Self::PauseTimed => 'T',
            Self::UserWait => 'U',
            Self::Purging => 'X',
        }
    }
}

/// Human text for an alarm type letter.
pub fn alarm_text(kind: u8) -> String {
    match kind {
        b'R' => "pump reset (power was interrupted)".into(),
        b'S' => "motor stalled".into(),
        b'T' => "safe-mode communication timeout".into(),
        b'E' => "pumping program error".into(),
        b'O' => "pumping program phase out of range".into(),
        other => format!("unknown alarm {:?}", char::from(other)),
    }
}

/// One parsed reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A prompt and the query answer (empty after a set command).
    Ok {
        address: u8,
        prompt: Prompt,
        data: String,
    },
    /// The alarm status `A?<type>`; the alarm is acknowledged by this reply.
    Alarm { address: u8, kind: u8 },
    /// A command error `?<code>` after the prompt (`""` = not recognised).
    Error {
        address: u8,
        prompt: Prompt,
        code: String,
    },
}

impl Reply {
    pub fn address(&self) -> u8 {
        match self {
            Self::Ok { address, .. }
            | Self::Alarm { address, .. }
            | Self::Error { address, .. } => *address,
        }
    }
}

/// Parses reply data such as `00S`, `00S14.43`, `00A?S` or `00S?OOR`.
pub fn parse_reply(data: &[u8]) -> Result<Reply, String> {
    let text = std::str::from_utf8(data).map_err(|_| "reply is not ASCII".to_string())?;
    let (Some(address), Some(&status)) = (text.get(..2), data.get(2)) else {
        return Err(format!("reply {text:?} is too short"));
    };
    let address: u8 = address
        .parse()
        .map_err(|_| format!("reply {text:?} has no address"))?;
    let rest = text.get(3..).unwrap_or("");
    if status == b'A' {
        return match rest.as_bytes() {
            [b'?', kind] => Ok(Reply::Alarm {
                address,
                kind: *kind,
            }),
            _ => Err(format!("malformed alarm reply {text:?}")),
        };
    }
    let prompt = Prompt::from_char(status).ok_or_else(|| format!("unknown status in {text:?}"))?;
    match rest.strip_prefix('?') {
        Some(code) => Ok(Reply::Error {
            address,
            prompt,
            code: code.to_string(),
        }),
        None => Ok(Reply::Ok {
            address,
            prompt,
            data: rest.to_string(),
        }),
    }
}

/// Formats reply data: two-digit address, status, then `tail`.
pub fn reply_data(address: u8, status: char, tail: &str) -> Vec<u8> {
    format!("{address:02}{status}{tail}").into_bytes()
}

/// Formats a non-negative number in the pump's format: at most 4 digits, at most 3 of them
/// after the point, truncated. `None` when the value is negative, not finite or ≥ 10 000.
pub fn format_number(value: f64) -> Option<String> {
    if !(0.0..10_000.0).contains(&value) {
        return None;
    }
    let decimals: usize = if value < 10.0 {
        3
    } else if value < 100.0 {
        2
    } else if value < 1000.0 {
        1
    } else {
        0
    };
    let scale = 10f64.powi(i32::try_from(decimals).unwrap_or(0));
    // The epsilon absorbs binary representation error (14.43 * 100 = 1442.999...) without
    // ever adding a whole unit in the last place.
    let truncated = ((value * scale) + 1e-6).floor() / scale;
    Some(format!("{truncated:.decimals$}"))
}

/// Parses a number as the pump prints it (`14.43`, `0.250`, `3.`).
pub fn parse_number(text: &str) -> Option<f64> {
    let value: f64 = text.trim().parse().ok()?;
    value.is_finite().then_some(value)
}

/// Rate units of `RAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateUnit {
    /// mL/min
    MM,
    /// mL/h
    MH,
    /// µL/min
    UM,
    /// µL/h
    UH,
}

impl RateUnit {
    pub const ALL: [RateUnit; 4] = [Self::MM, Self::MH, Self::UM, Self::UH];

    /// One unit in m³/s.
    pub fn si(self) -> f64 {
        match self {
            Self::MM => 1e-6 / 60.0,
            Self::MH => 1e-6 / 3600.0,
            Self::UM => 1e-9 / 60.0,
            Self::UH => 1e-9 / 3600.0,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::MM => "MM",
            Self::MH => "MH",
            Self::UM => "UM",
            Self::UH => "UH",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|unit| unit.code() == code)
    }
}

/// Expresses a rate (m³/s) in the pump's format: the first unit (mL/min, mL/h, µL/min, µL/h)
/// that keeps four significant digits, else the one that keeps the most. With `only`, that
/// unit alone (the pump cannot change rate units while it runs). `None` when no unit can
/// express the rate (zero after truncation, or too large).
pub fn encode_rate(rate: f64, only: Option<RateUnit>) -> Option<(String, RateUnit)> {
    if !rate.is_finite() || rate <= 0.0 {
        return None;
    }
    let candidates: Vec<RateUnit> = match only {
        Some(unit) => vec![unit],
        None => RateUnit::ALL.to_vec(),
    };
    let fits = |unit: &RateUnit| {
        let value = rate / unit.si();
        value < 10_000.0
    };
    let chosen = candidates
        .iter()
        .copied()
        .filter(fits)
        .find(|unit| rate / unit.si() >= 1.0)
        .or_else(|| {
            // Below 1 in every unit: the largest value (the smallest unit) keeps most digits.
            candidates
                .iter()
                .copied()
                .filter(fits)
                .max_by(|a, b| (rate / a.si()).total_cmp(&(rate / b.si())))
        })?;
    let text = format_number(rate / chosen.si())?;
    let value = parse_number(&text)?;
    (value > 0.0).then_some((text, chosen))
}

/// Parses a `RAT` query answer such as `3.000MM` into m³/s.
pub fn parse_rate(data: &str) -> Option<f64> {
    let split = data.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = data.split_at(split);
    Some(parse_number(number)? * RateUnit::from_code(unit)?.si())
}

/// Volume units of `VOL` and `DIS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeUnit {
    UL,
    ML,
}

impl VolumeUnit {
    /// One unit in m³.
    pub fn si(self) -> f64 {
        match self {
            Self::UL => 1e-9,
            Self::ML => 1e-6,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::UL => "UL",
            Self::ML => "ML",
        }
    }

    /// The pump's default: µL at or below 14.00 mm syringe diameter, mL above.
    pub fn default_for_diameter_mm(diameter_mm: f64) -> Self {
        if diameter_mm <= 14.0 {
            Self::UL
        } else {
            Self::ML
        }
    }
}

/// Parses a `DIS` answer such as `I0.250W0.000ML` into (infused, withdrawn) m³.
pub fn parse_dispensed(data: &str) -> Option<(f64, f64)> {
    let rest = data.strip_prefix('I')?;
    let w = rest.find('W')?;
    let (infused, rest) = rest.split_at(w);
    let rest = rest.get(1..)?;
    let unit_at = rest.len().checked_sub(2)?;
    let (withdrawn, unit) = (rest.get(..unit_at)?, rest.get(unit_at..)?);
    let unit = match unit {
        "UL" => VolumeUnit::UL,
        "ML" => VolumeUnit::ML,
        _ => return None,
    };
    Some((
        parse_number(infused)? * unit.si(),
        parse_number(withdrawn)? * unit.si(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn safe_mode_test_vectors_from_the_reference() {
        assert_eq!(hex(&frame_safe(b"SAF0")), "02 08 53 41 46 30 55 43 03");
        assert_eq!(
            hex(&encode(Mode::Safe, Some(0), "RUN")),
            "02 08 30 52 55 4e 44 07 03"
        );
        assert_eq!(
            hex(&encode(Mode::Safe, Some(0), "STP")),
            "02 08 30 53 54 50 b3 f9 03"
        );
        assert_eq!(
            hex(&encode(Mode::Safe, Some(0), "DIA14.43")),
            "02 0d 30 44 49 41 31 34 2e 34 33 c6 2e 03"
        );
        assert_eq!(hex(&frame_safe(b"00S")), "02 07 30 30 53 aa a6 03");
        assert_eq!(hex(&frame_safe(b"00A?S")), "02 09 30 30 41 3f 53 75 a7 03");
    }

    #[test]
    fn safe_packets_decode_and_bad_crc_is_invalid() {
        let packet = frame_safe(b"00A?S");
        assert_eq!(
            decode(Mode::Safe, &packet),
            Decoded::Frame {
                value: b"00A?S".to_vec(),
                consumed: packet.len()
            }
        );
        assert_eq!(
            decode(Mode::Safe, packet.get(..5).unwrap_or(&[])),
            Decoded::Incomplete
        );
        let mut bad = packet.clone();
        if let Some(byte) = bad.get_mut(3) {
            *byte ^= 1;
        }
        assert!(matches!(decode(Mode::Safe, &bad), Decoded::Invalid(_)));
    }

    #[test]
    fn replies_parse() {
        assert_eq!(
            parse_reply(b"00S14.43"),
            Ok(Reply::Ok {
                address: 0,
                prompt: Prompt::Stopped,
                data: "14.43".into()
            })
        );
        assert_eq!(
            parse_reply(b"01A?S"),
            Ok(Reply::Alarm {
                address: 1,
                kind: b'S'
            })
        );
        assert_eq!(
            parse_reply(b"00S?OOR"),
            Ok(Reply::Error {
                address: 0,
                prompt: Prompt::Stopped,
                code: "OOR".into()
            })
        );
        assert_eq!(
            parse_reply(b"00S?"),
            Ok(Reply::Error {
                address: 0,
                prompt: Prompt::Stopped,
                code: String::new()
            })
        );
        assert!(parse_reply(b"0").is_err());
        assert!(parse_reply(b"xxS").is_err());
        assert!(parse_reply(b"00Z").is_err());
    }

    #[test]
    fn numbers_keep_four_digits_and_truncate() {
        assert_eq!(format_number(14.43).as_deref(), Some("14.43"));
        assert_eq!(format_number(3.0).as_deref(), Some("3.000"));
        assert_eq!(format_number(0.25).as_deref(), Some("0.250"));
        assert_eq!(format_number(9.9999).as_deref(), Some("9.999"));
        assert_eq!(format_number(123.456).as_deref(), Some("123.4"));
        assert_eq!(format_number(9999.9).as_deref(), Some("9999"));
        assert_eq!(format_number(10_000.0), None);
        assert_eq!(format_number(-1.0), None);
        assert_eq!(format_number(f64::NAN), None);
    }

    #[test]
    fn rates_choose_a_unit_that_keeps_precision() {
        let ml_min = 1e-6 / 60.0;
        assert_eq!(
            encode_rate(3.0 * ml_min, None),
            Some(("3.000".into(), RateUnit::MM))
        );
        assert_eq!(
            encode_rate(0.5 * ml_min, None),
            Some(("30.00".into(), RateUnit::MH))
        );
        assert_eq!(
            encode_rate(5e-3 * ml_min, None),
            Some(("5.000".into(), RateUnit::UM))
        );
        assert_eq!(
            encode_rate(1e-6 * ml_min, None),
            Some(("0.060".into(), RateUnit::UH))
        );
        assert_eq!(encode_rate(1e-9 * ml_min, None), None);
        assert_eq!(encode_rate(2e5 * ml_min, None), None);
        assert_eq!(encode_rate(0.0, None), None);
        assert_eq!(
            encode_rate(3.0 * ml_min, Some(RateUnit::UM)),
            Some(("3000".into(), RateUnit::UM))
        );
        assert_eq!(encode_rate(30.0 * ml_min, Some(RateUnit::UM)), None);
        let rate = parse_rate("3.000MM").expect("valid rate");
        assert!((rate / ml_min - 3.0).abs() < 1e-12);
        assert_eq!(parse_rate("3.000XX"), None);
    }

    #[test]
    fn dispensed_volume_parses() {
        let (i, w) = parse_dispensed("I0.250W0.000ML").expect("valid");
        assert!((i - 0.25e-6).abs() < 1e-18 && w == 0.0);
        let (i, _) = parse_dispensed("I12.50W1.000UL").expect("valid");
        assert!((i - 12.5e-9).abs() < 1e-20);
        assert_eq!(parse_dispensed("0.250ML"), None);
    }
}
