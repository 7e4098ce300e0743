//! Huber "PB" commands (Unistat, Pilot ONE): fixed 10-character ASCII frames.
//!
//! `{M` (master) or `{S` (slave) + 2 hex digits address + 4 hex digits value (or `****` to
//! query) + `\r\n`. Values are 16-bit two's complement, 0.01 °C for temperatures.
//!
//! Invariant: [`decode`] accepts only a complete slave frame with hex digits; anything else
//! at the start of the input is invalid.

use crate::transport::Decoded;

/// Setpoint.
pub const SETPOINT: u8 = 0x00;
/// Internal (bath) temperature.
pub const INTERNAL: u8 = 0x01;
/// Return temperature.
pub const RETURN: u8 = 0x02;
/// Process (external Pt100) temperature.
pub const PROCESS: u8 = 0x07;
/// Status word 1 ("vStatus1"): error and warning bits among others (instruments.md A4).
pub const STATUS: u8 = 0x0A;
/// The unit's lowest accepted setpoint (instruments.md A4, from flowchem `chiller.py`).
pub const SETPOINT_MIN: u8 = 0x30;
/// The unit's highest accepted setpoint.
pub const SETPOINT_MAX: u8 = 0x31;
/// Temperature control on/off.
pub const CONTROL: u8 = 0x14;
/// Circulation on/off.
pub const CIRCULATION: u8 = 0x16;

/// The error bit of [`STATUS`]. flowchem's `parse_status1` reads the word as a 16-character
/// binary string, most significant bit first, and takes character 8 as `error` and 9 as
/// `warning`: masks 0x0080 and 0x0040. Which end the manual counts bits from is
/// unverified: calibrate.
pub const STATUS_ERROR: u16 = 0x0080;
/// The warning bit of [`STATUS`] (see [`STATUS_ERROR`]).
pub const STATUS_WARNING: u16 = 0x0040;

/// "Not supported or not licensed".
pub const UNSUPPORTED: u16 = 0x7FFF;
/// −151.00 °C: no sensor connected.
pub const NO_SENSOR: i16 = -15100;

/// A request: `{M` address value-or-query `\r\n`.
pub fn encode(address: u8, value: Option<i16>) -> Vec<u8> {
    let value = match value {
        Some(v) => format!("{:04X}", v as u16),
        None => "****".into(),
    };
    format!("{{M{address:02X}{value}\r\n").into_bytes()
}

/// A slave reply.
pub fn encode_reply(address: u8, value: u16) -> Vec<u8> {
    format!("{{S{address:02X}{value:04X}\r\n").into_bytes()
}

/// One decoded frame: its sender letter (`M`/`S`), address and raw value (`None` = query).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    pub master: bool,
    pub address: u8,
    pub value: Option<u16>,
}

/// Decodes one 10-character frame (either direction).
pub fn decode(buf: &[u8]) -> Decoded<Frame> {
    for (i, b) in buf.iter().take(10).enumerate() {
        let ok = match i {
            0 => *b == b'{',
            1 => *b == b'M' || *b == b'S',
            2..=7 => b.is_ascii_hexdigit() || (i >= 4 && *b == b'*'),
            8 => *b == b'\r',
            _ => *b == b'\n',
        };
        if !ok {
            return Decoded::Invalid(format!("byte {i} of a PB frame is {b:#04x}"));
        }
    }
    let Some(frame) = buf.get(..10) else {
        return Decoded::Incomplete;
    };
    let text = String::from_utf8_lossy(frame);
    let (Some(address), Some(value)) = (text.get(2..4), text.get(4..8)) else {
        return Decoded::Invalid("short frame".into());
    };
    let Ok(address) = u8::from_str_radix(address, 16) else {
        return Decoded::Invalid("bad address".into());
    };
    let value = if value == "****" {
        None
    } else {
        match u16::from_str_radix(value, 16) {
            Ok(v) => Some(v),
            Err(_) => return Decoded::Invalid(format!("bad value {value:?}")),
        }
    };
    Decoded::Frame {
        value: Frame {
            master: frame.get(1) == Some(&b'M'),
            address,
            value,
        },
        consumed: 10,
    }
}

/// °C to the wire value (0.01 °C); `None` outside ±327.67 °C.
pub fn celsius_to_raw(celsius: f64) -> Option<i16> {
    let hundredths = (celsius * 100.0).round();
    (hundredths.is_finite()
        && hundredths >= f64::from(i16::MIN)
        && hundredths <= f64::from(i16::MAX))
    .then_some(hundredths as i16)
}

pub fn raw_to_celsius(raw: u16) -> f64 {
    f64::from(raw as i16) / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_of_the_reference() {
        assert_eq!(encode(SETPOINT, Some(2000)), b"{M0007D0\r\n");
        assert_eq!(encode(SETPOINT, None), b"{M00****\r\n");
        assert_eq!(celsius_to_raw(-23.15), Some(-2315));
        assert_eq!(format!("{:04X}", -2315i16 as u16), "F6F5");
        assert_eq!(raw_to_celsius(0xFFCC), -0.52);
        assert_eq!(raw_to_celsius(0x1010), 41.12);
        assert_eq!(
            decode(b"{S0007D0\r\n"),
            Decoded::Frame {
                value: Frame {
                    master: false,
                    address: 0,
                    value: Some(0x07D0)
                },
                consumed: 10
            }
        );
        assert_eq!(decode(b"{S00"), Decoded::Incomplete);
        assert!(matches!(decode(b"{X00"), Decoded::Invalid(_)));
        assert_eq!(celsius_to_raw(400.0), None);
    }
}
