//! Ocean Optics legacy RS-232 command set (USB2000 / Flame-S class), binary mode.
//!
//! Commands are single letters, words big-endian, no CR. Every command answers ACK (0x06)
//! or NAK (0x15); `S` answers `STX`, the words `FFFF`, data-size flag (0 WORD, 1 DWORD when
//! scans are summed), scans, integration ms, baseline MSW, LSW, pixel mode (0), the pixels,
//! and `FFFD`; or `ETX` when the device lacks memory.
//!
//! Invariant: [`decode_spectrum`] returns exactly `pixels` values and checks both markers.

use crate::transport::Decoded;

pub const ACK: u8 = 0x06;
pub const NAK: u8 = 0x15;
pub const STX: u8 = 0x02;
pub const ETX: u8 = 0x03;

/// A letter followed by one big-endian word.
pub fn command_word(letter: u8, value: u16) -> Vec<u8> {
    let [hi, lo] = value.to_be_bytes();
    vec![letter, hi, lo]
}

/// ACK → `Ok(true)`, NAK → `Ok(false)`.
pub fn decode_ack(buf: &[u8]) -> Decoded<bool> {
    match buf.first() {
        None => Decoded::Incomplete,
        Some(&ACK) => Decoded::Frame {
            value: true,
            consumed: 1,
        },
        Some(&NAK) => Decoded::Frame {
            value: false,
            consumed: 1,
        },
        Some(other) => Decoded::Invalid(format!("expected ACK or NAK, got {other:#04x}")),
    }
}

/// ACK and a version word.
pub fn decode_version(buf: &[u8]) -> Decoded<Option<u16>> {
    match buf {
        [] => Decoded::Incomplete,
        [NAK, ..] => Decoded::Frame {
            value: None,
            consumed: 1,
        },
        [ACK] | [ACK, _] => Decoded::Incomplete,
        [ACK, hi, lo, ..] => Decoded::Frame {
            value: Some(u16::from_be_bytes([*hi, *lo])),
            consumed: 3,
        },
        [other, ..] => Decoded::Invalid(format!("expected ACK or NAK, got {other:#04x}")),
    }
}

/// The version the `v` word stands for: one decimal number, `major minor(2) patch(1)`, so
/// 1000 is 1.00.0 (Flame-S manual p. 114, instruments.md A6). It is not a high and a low byte.
pub fn version_text(word: u16) -> String {
    format!("{}.{:02}.{}", word / 1000, word / 10 % 100, word % 10)
}

/// One spectrum as read: summed counts of `scans` scans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSpectrum {
    pub scans: u16,
    pub integration_ms: u16,
    pub summed: Vec<u32>,
}

/// The reply to `S` for a device with `pixels` pixels; `Ok(None)` is the no-memory `ETX`.
pub fn decode_spectrum(pixels: usize, buf: &[u8]) -> Decoded<Option<RawSpectrum>> {
    match buf.first() {
        None => return Decoded::Incomplete,
        Some(&ETX) => {
            return Decoded::Frame {
                value: None,
                consumed: 1,
            };
        }
        Some(&STX) => {}
        Some(other) => return Decoded::Invalid(format!("spectrum starts with {other:#04x}")),
    }
    let word = |i: usize| -> Option<u16> {
        let at = 1 + 2 * i;
        Some(u16::from_be_bytes([*buf.get(at)?, *buf.get(at + 1)?]))
    };
    let header = (word(0), word(1), word(2), word(3), word(6));
    let (Some(start), Some(size_flag), Some(scans), Some(integration_ms), Some(pixel_mode)) =
        header
    else {
        return Decoded::Incomplete;
    };
    if start != 0xFFFF {
        return Decoded::Invalid(format!("spectrum start word {start:#06x}"));
    }
    if pixel_mode != 0 || size_flag > 1 {
        return Decoded::Invalid(format!(
            "pixel mode {pixel_mode} / data size {size_flag} not supported"
        ));
    }
    let bytes_per_pixel = if size_flag == 1 { 4 } else { 2 };
    let data_at = 1 + 2 * 7;
    let end_at = data_at + pixels * bytes_per_pixel;
    let total = end_at + 2;
    if buf.len() < total {
        return Decoded::Incomplete;
    }
    if buf.get(end_at..total) != Some(&[0xFF, 0xFD][..]) {
        return Decoded::Invalid("spectrum does not end with FFFD".into());
    }
    let data = buf.get(data_at..end_at).unwrap_or(&[]);
    let summed: Vec<u32> = if size_flag == 1 {
        data.chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    } else {
        data.chunks_exact(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .collect()
    };
    Decoded::Frame {
        value: Some(RawSpectrum {
            scans,
            integration_ms,
            summed,
        }),
        consumed: total,
    }
}

/// Encodes the reply to `S` (for the emulator).
pub fn encode_spectrum(spectrum: &RawSpectrum) -> Vec<u8> {
    let dword = spectrum.scans > 1;
    let mut out = vec![STX];
    for word in [
        0xFFFF,
        u16::from(dword),
        spectrum.scans,
        spectrum.integration_ms,
        0,
        0,
        0,
    ] {
        out.extend_from_slice(&word.to_be_bytes());
    }
    for &value in &spectrum.summed {
        if dword {
            out.extend_from_slice(&value.to_be_bytes());
        } else {
            out.extend_from_slice(&(value.min(u32::from(u16::MAX)) as u16).to_be_bytes());
        }
    }
    out.extend_from_slice(&[0xFF, 0xFD]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_word_reads_as_one_decimal_number() {
        assert_eq!(version_text(1000), "1.00.0");
        assert_eq!(version_text(3010), "3.01.0");
        assert_eq!(version_text(u16::MAX), "65.53.5");
    }

    #[test]
    fn spectrum_round_trip_and_markers() {
        let spectrum = RawSpectrum {
            scans: 1,
            integration_ms: 100,
            summed: vec![1, 2, 65535],
        };
        let bytes = encode_spectrum(&spectrum);
        assert_eq!(
            &bytes[..15],
            &[0x02, 0xFF, 0xFF, 0, 0, 0, 1, 0, 0x64, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            decode_spectrum(3, &bytes),
            Decoded::Frame {
                value: Some(spectrum.clone()),
                consumed: bytes.len()
            }
        );
        assert_eq!(decode_spectrum(3, &bytes[..10]), Decoded::Incomplete);
        let summed = RawSpectrum {
            scans: 4,
            integration_ms: 10,
            summed: vec![100_000, 7, 8],
        };
        let bytes = encode_spectrum(&summed);
        assert_eq!(
            decode_spectrum(3, &bytes),
            Decoded::Frame {
                value: Some(summed),
                consumed: bytes.len()
            }
        );
        let mut bad = encode_spectrum(&spectrum);
        let last = bad.len() - 1;
        bad[last] = 0;
        assert!(matches!(decode_spectrum(3, &bad), Decoded::Invalid(_)));
        assert_eq!(
            decode_ack(&[NAK]),
            Decoded::Frame {
                value: false,
                consumed: 1
            }
        );
        assert_eq!(command_word(b'I', 100), vec![b'I', 0x00, 0x64]);
    }
}
