//! Modbus RTU framing for the emulator side (the driver side is tokio-modbus).
//!
//! Invariant: a frame is `slave fc data crc-lo crc-hi` with CRC-16/MODBUS over everything
//! before the CRC, little-endian on the wire.

/// CRC-16/MODBUS.
pub const CRC: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_MODBUS);

/// Appends the CRC to `body`.
pub fn with_crc(mut body: Vec<u8>) -> Vec<u8> {
    let crc = CRC.checksum(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

/// True when the last two bytes are the CRC of the rest.
pub fn crc_ok(frame: &[u8]) -> bool {
    let Some(split) = frame.len().checked_sub(2) else {
        return false;
    };
    let (body, crc) = frame.split_at(split);
    match crc {
        [lo, hi] => CRC.checksum(body) == u16::from_le_bytes([*lo, *hi]),
        _ => false,
    }
}

/// The length of the request frame at the start of `buf`, once its header is in.
pub fn request_len(buf: &[u8]) -> Option<usize> {
    let function = *buf.get(1)?;
    Some(match function {
        // Read coils/inputs/registers, write single coil/register: fixed 8 bytes.
        0x01..=0x06 => 8,
        // Write multiple coils/registers: 7 header bytes + byte count + CRC.
        0x0F | 0x10 => 9 + usize::from(*buf.get(6)?),
        // Unknown function: assume the common 8-byte shape so the line resynchronises.
        _ => 8,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_a_known_frame() {
        // Read holding registers 0x006B..+3 from slave 0x11: CRC 0x8776 (lo 0x76 first).
        let frame = with_crc(vec![0x11, 0x03, 0x00, 0x6B, 0x00, 0x03]);
        assert_eq!(frame, vec![0x11, 0x03, 0x00, 0x6B, 0x00, 0x03, 0x76, 0x87]);
        assert!(crc_ok(&frame));
        assert!(!crc_ok(&[0x11, 0x03, 0x00]));
        assert_eq!(request_len(&frame), Some(8));
    }
}
