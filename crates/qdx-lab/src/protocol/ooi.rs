//! Ocean's legacy USB command set ("OOI protocol": USB2000, USB2000+, Flame-S/T, USB4000).
//!
//! Sources: Ocean Optics Flame manual 225-00000-000-11-201604, "Firmware and Advanced
//! Communications", USB command descriptions (Query Information, Request Spectra, Query
//! Status, Set Trigger Mode); `ap--/python-seabreeze:src/seabreeze/pyseabreeze/protocol.py`
//! (`OOIProtocol.msgs`: the struct layout of each command) and `features/eeprom.py` (the
//! 17-byte Query Information reply).
//!
//! Commands go to the OUT endpoint as single transfers; every multi-byte value is
//! little-endian. Query replies come on the query IN endpoint, spectra on the spectrum IN
//! endpoint(s), followed by a one-byte sync packet `0x69`.
//!
//! Invariant: every decoder checks the reply's length and echo bytes and returns an error
//! message instead of a value it cannot vouch for.

pub const INITIALIZE: u8 = 0x01;
pub const SET_INTEGRATION_TIME: u8 = 0x02;
pub const SET_STROBE_ENABLE: u8 = 0x03;
pub const QUERY_INFORMATION: u8 = 0x05;
pub const REQUEST_SPECTRA: u8 = 0x09;
pub const SET_TRIGGER_MODE: u8 = 0x0A;
pub const QUERY_STATUS: u8 = 0xFE;

/// The byte of the packet that follows a spectrum.
pub const SYNC: u8 = 0x69;

/// Length of the Query Information reply: `0x05`, the slot, 15 ASCII bytes.
pub const INFO_REPLY_LEN: usize = 17;

/// Length of the Query Status reply.
pub const STATUS_REPLY_LEN: usize = 16;

/// EEPROM slots (Query Information configuration indices).
pub mod slot {
    pub const SERIAL_NUMBER: u8 = 0;
    /// Slots 1..=4: wavelength coefficients of order 0..=3.
    pub const WAVELENGTH: u8 = 1;
    /// Slots 6..=13: nonlinearity coefficients of order 0..=7.
    pub const NONLINEARITY: u8 = 6;
    /// Slot 14: the order of the nonlinearity polynomial.
    pub const NONLINEARITY_ORDER: u8 = 14;
}

/// `0x02` + integration time (u32 LE) in the model's unit (µs, or ms on the USB2000).
pub fn set_integration_time(value: u32) -> Vec<u8> {
    let mut out = vec![SET_INTEGRATION_TIME];
    out.extend_from_slice(&value.to_le_bytes());
    out
}

/// `0x03` + strobe/lamp enable (u16 LE).
pub fn set_strobe_enable(on: bool) -> Vec<u8> {
    let mut out = vec![SET_STROBE_ENABLE];
    out.extend_from_slice(&u16::from(on).to_le_bytes());
    out
}

/// `0x0A` + trigger mode (u16 LE); 0 is the free-running (normal) mode.
pub fn set_trigger_mode(mode: u16) -> Vec<u8> {
    let mut out = vec![SET_TRIGGER_MODE];
    out.extend_from_slice(&mode.to_le_bytes());
    out
}

pub fn query_information(slot: u8) -> Vec<u8> {
    vec![QUERY_INFORMATION, slot]
}

/// The ASCII text of one EEPROM slot, up to its first NUL.
pub fn decode_information(slot: u8, reply: &[u8]) -> Result<String, String> {
    if reply.len() != INFO_REPLY_LEN {
        return Err(format!(
            "Query Information reply of {} bytes, not {INFO_REPLY_LEN}",
            reply.len()
        ));
    }
    if reply.first() != Some(&QUERY_INFORMATION) || reply.get(1) != Some(&slot) {
        return Err(format!(
            "Query Information reply for slot {slot} starts {:02x?}",
            reply.get(..2).unwrap_or(&[])
        ));
    }
    let text = reply.get(2..).unwrap_or(&[]);
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    let text = text.get(..end).unwrap_or(&[]);
    if !text.iter().all(|b| b.is_ascii() && !b.is_ascii_control()) {
        return Err(format!("slot {slot} holds non-ASCII bytes {text:02x?}"));
    }
    Ok(String::from_utf8_lossy(text).trim().to_string())
}

/// A number stored in an EEPROM slot.
pub fn parse_number(slot: u8, text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| format!("slot {slot} holds `{text}`, not a number"))
}

/// The Query Status reply (Flame manual, Query Status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub pixels: u16,
    pub integration_us: u32,
    pub lamp: bool,
    pub trigger_mode: u8,
    pub packets_in_spectrum: u8,
    /// USB high speed (480 Mbit/s); else full speed (12 Mbit/s).
    pub high_speed: bool,
}

pub fn decode_status(reply: &[u8]) -> Result<Status, String> {
    let bytes: &[u8; STATUS_REPLY_LEN] = reply
        .try_into()
        .map_err(|_| format!("Query Status reply of {} bytes, not 16", reply.len()))?;
    let high_speed = match bytes[14] {
        0x00 => false,
        0x80 => true,
        other => return Err(format!("Query Status reports USB speed {other:#04x}")),
    };
    // Integration time: LSW then MSW, each LSB first, which is one u32 LE.
    Ok(Status {
        pixels: u16::from_le_bytes([bytes[0], bytes[1]]),
        integration_us: u32::from_le_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]),
        lamp: bytes[6] != 0,
        trigger_mode: bytes[7],
        packets_in_spectrum: bytes[9],
        high_speed,
    })
}

/// How the pixel bytes of a spectrum are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelOrder {
    /// Each pixel a u16, LSB then MSB (Flame manual, Request Spectra).
    LsbMsb,
    /// In each 128 bytes, the LSBs of 64 pixels then their MSBs (the original USB2000;
    /// source: `ap--/python-seabreeze:src/seabreeze/pyseabreeze/features/spectrometer.py`,
    /// `SeaBreezeSpectrometerFeatureOOI2K`; unverified against the USB2000 data sheet).
    LsbBlockMsbBlock,
}

/// The pixel values of `bytes` (exactly two bytes per pixel), each masked with `mask`.
pub fn decode_pixels(order: PixelOrder, bytes: &[u8], mask: u16) -> Result<Vec<u16>, String> {
    if !bytes.len().is_multiple_of(2) {
        return Err(format!("{} spectrum bytes: not whole pixels", bytes.len()));
    }
    let pixels = bytes.len() / 2;
    let pixel = |lsb: Option<&u8>, msb: Option<&u8>| -> Result<u16, String> {
        match (lsb, msb) {
            (Some(l), Some(m)) => Ok(u16::from_le_bytes([*l, *m]) & mask),
            _ => Err("spectrum bytes end inside a pixel".to_string()),
        }
    };
    (0..pixels)
        .map(|p| match order {
            PixelOrder::LsbMsb => pixel(bytes.get(2 * p), bytes.get(2 * p + 1)),
            PixelOrder::LsbBlockMsbBlock => {
                let block = (p / 64) * 128;
                let within = p % 64;
                pixel(bytes.get(block + within), bytes.get(block + 64 + within))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_little_endian() {
        assert_eq!(
            set_integration_time(100_000),
            [0x02, 0xA0, 0x86, 0x01, 0x00]
        );
        assert_eq!(set_strobe_enable(true), [0x03, 0x01, 0x00]);
        assert_eq!(set_trigger_mode(0), [0x0A, 0x00, 0x00]);
        assert_eq!(query_information(14), [0x05, 0x0E]);
    }

    #[test]
    fn information_and_status_replies() {
        let mut reply = vec![0x05, 0x01];
        reply.extend_from_slice(b"339.5\0\0\0\0\0\0\0\0\0\0");
        assert_eq!(decode_information(1, &reply), Ok("339.5".into()));
        assert!(decode_information(2, &reply).is_err());
        assert!(decode_information(1, &reply[..16]).is_err());
        let status = [
            0x00, 0x08, 0xA0, 0x86, 0x01, 0x00, 1, 0, 0, 9, 1, 0, 0, 0, 0x80, 0,
        ];
        assert_eq!(
            decode_status(&status),
            Ok(Status {
                pixels: 2048,
                integration_us: 100_000,
                lamp: true,
                trigger_mode: 0,
                packets_in_spectrum: 9,
                high_speed: true,
            })
        );
        let mut odd = status;
        odd[14] = 0x40;
        assert!(decode_status(&odd).is_err());
    }

    #[test]
    fn pixel_orders() {
        assert_eq!(
            decode_pixels(PixelOrder::LsbMsb, &[0x34, 0x12, 0xFF, 0xFF], 0xFFFF),
            Ok(vec![0x1234, 0xFFFF])
        );
        let mut block = vec![0u8; 128];
        block[0] = 0x34;
        block[64] = 0xF2; // high nibble not pulled low: masked off
        block[63] = 0x01;
        block[127] = 0x01;
        let pixels = decode_pixels(PixelOrder::LsbBlockMsbBlock, &block, 0x0FFF).expect("decodes");
        assert_eq!(pixels.len(), 64);
        assert_eq!(pixels[0], 0x0234);
        assert_eq!(pixels[63], 0x0101);
        assert!(decode_pixels(PixelOrder::LsbMsb, &[1, 2, 3], 0xFFFF).is_err());
    }
}
