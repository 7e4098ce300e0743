//! The Ocean Binary Protocol (OBP) framing and the messages qdx sends.
//!
//! Sources: `/work/shared/reference/instruments.md` A6 (header, footer, flags, error codes,
//! message types) and `ap--/python-seabreeze:src/seabreeze/pyseabreeze/protocol.py`
//! (`_OBP`, `OBPProtocol.msgs`, `_construct_outgoing_message`).
//!
//! A message is a 44-byte header (start `C1 C0`, protocol version `0x1100`, flags, error,
//! message type, regarding, 6 reserved bytes, checksum type, immediate length, 16 bytes of
//! immediate data, bytes remaining; all little-endian), then a payload when the data is
//! longer than 16 bytes, then a 16-byte checksum (MD5 of everything before it, or zeros) and
//! the footer `C5 C4 C3 C2`. "Bytes remaining" counts payload + checksum + footer.
//!
//! Invariant: [`decode`] returns a message only when start, length, footer and (for MD5)
//! the checksum all agree; a NACK or hardware exception is returned as a message for the
//! driver to turn into an error.

use md5::{Digest, Md5};

pub const HEADER_LEN: usize = 44;
pub const FOOTER_LEN: usize = 20;
pub const START: [u8; 2] = [0xC1, 0xC0];
pub const PROTOCOL_VERSION: u16 = 0x1100;
pub const FOOTER: u32 = 0xC2C3_C4C5;

pub const FLAG_RESPONSE: u16 = 0x0001;
pub const FLAG_ACK: u16 = 0x0002;
pub const FLAG_REQUEST_ACK: u16 = 0x0004;
pub const FLAG_NACK: u16 = 0x0008;
pub const FLAG_HARDWARE_EXCEPTION: u16 = 0x0010;
pub const FLAG_DEPRECATED: u16 = 0x0020;

pub const CHECKSUM_NONE: u8 = 0;
pub const CHECKSUM_MD5: u8 = 1;

/// Message types.
pub mod message {
    pub const GET_SERIAL: u32 = 0x0000_0100;
    pub const GET_SERIAL_LENGTH: u32 = 0x0000_0101;
    pub const GET_RAW_SPECTRUM_NOW: u32 = 0x0010_1100;
    pub const SET_INTEGRATION_TIME_US: u32 = 0x0011_0010;
    pub const SET_TRIGGER_MODE: u32 = 0x0011_0110;
    pub const GET_WAVELENGTH_COEFFICIENT_COUNT: u32 = 0x0018_0100;
    pub const GET_WAVELENGTH_COEFFICIENT: u32 = 0x0018_0101;
    pub const GET_NONLINEARITY_COEFFICIENT_COUNT: u32 = 0x0018_1100;
    pub const GET_NONLINEARITY_COEFFICIENT: u32 = 0x0018_1101;
}

/// One OBP message, either direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub flags: u16,
    pub error: u16,
    pub message_type: u32,
    pub regarding: u32,
    /// Whether the checksum field holds an MD5 digest (else zeros).
    pub md5: bool,
    /// The immediate data or the payload.
    pub data: Vec<u8>,
}

impl Message {
    /// A request from the host, without checksum.
    pub fn request(message_type: u32, data: Vec<u8>, request_ack: bool) -> Self {
        Self {
            flags: if request_ack { FLAG_REQUEST_ACK } else { 0 },
            error: 0,
            message_type,
            regarding: 0,
            md5: false,
            data,
        }
    }
}

/// Error codes the driver acts on.
pub mod error {
    pub const UNKNOWN_MESSAGE_TYPE: u16 = 2;
}

/// The text of an OBP error code (python-seabreeze's table).
pub fn error_text(code: u16) -> &'static str {
    match code {
        0 => "success",
        1 => "invalid or unsupported protocol",
        2 => "unknown message type",
        3 => "bad checksum",
        4 => "message too large",
        5 => "payload length does not match message type",
        6 => "payload data invalid",
        7 => "device not ready for given message type",
        8 => "unknown checksum type",
        9 => "device reset unexpectedly",
        10 => "too many buses",
        11 => "out of memory",
        12 => "command is valid, but desired information does not exist",
        13 => "internal device error",
        100 => "could not decrypt properly",
        101 => "firmware layout invalid",
        102 => "data packet was wrong size",
        103 => "hardware revision not compatible with firmware",
        104 => "existing flash map not compatible with firmware",
        255 => "operation deferred",
        _ => "unknown error code",
    }
}

pub fn encode(msg: &Message) -> Vec<u8> {
    let immediate = msg.data.len() <= 16;
    let payload_len = if immediate { 0 } else { msg.data.len() };
    let mut out = Vec::with_capacity(HEADER_LEN + payload_len + FOOTER_LEN);
    out.extend_from_slice(&START);
    out.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    out.extend_from_slice(&msg.flags.to_le_bytes());
    out.extend_from_slice(&msg.error.to_le_bytes());
    out.extend_from_slice(&msg.message_type.to_le_bytes());
    out.extend_from_slice(&msg.regarding.to_le_bytes());
    out.extend_from_slice(&[0; 6]);
    out.push(if msg.md5 { CHECKSUM_MD5 } else { CHECKSUM_NONE });
    let mut field = [0u8; 16];
    if immediate {
        out.push(msg.data.len() as u8);
        for (slot, byte) in field.iter_mut().zip(&msg.data) {
            *slot = *byte;
        }
    } else {
        out.push(0);
    }
    out.extend_from_slice(&field);
    out.extend_from_slice(&((payload_len + FOOTER_LEN) as u32).to_le_bytes());
    if !immediate {
        out.extend_from_slice(&msg.data);
    }
    if msg.md5 {
        let digest = Md5::digest(&out);
        out.extend_from_slice(&digest);
    } else {
        out.extend_from_slice(&[0; 16]);
    }
    out.extend_from_slice(&FOOTER.to_le_bytes());
    out
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

/// The whole length of the message whose header starts `header` (at least 44 bytes).
pub fn message_len(header: &[u8]) -> Result<usize, String> {
    if header.len() < HEADER_LEN {
        return Err(format!("OBP header of {} bytes, not 44", header.len()));
    }
    if header.get(..2) != Some(&START[..]) {
        return Err(format!(
            "OBP message starts {:02x?}, not c1 c0",
            header.get(..2).unwrap_or(&[])
        ));
    }
    let remaining = u32_at(header, 40).unwrap_or(0) as usize;
    if !(FOOTER_LEN..=16 * 1024 * 1024).contains(&remaining) {
        return Err(format!("OBP header says {remaining} bytes remain"));
    }
    Ok(HEADER_LEN + remaining)
}

/// Decodes one whole message.
pub fn decode(bytes: &[u8]) -> Result<Message, String> {
    let total = message_len(bytes)?;
    if bytes.len() != total {
        return Err(format!(
            "OBP message of {} bytes where its header says {total}",
            bytes.len()
        ));
    }
    let footer_at = total - 4;
    if u32_at(bytes, footer_at) != Some(FOOTER) {
        return Err(format!(
            "OBP footer {:02x?}, not c5 c4 c3 c2",
            bytes.get(footer_at..).unwrap_or(&[])
        ));
    }
    let checksum_at = total - FOOTER_LEN;
    let md5 = match bytes.get(22) {
        Some(&CHECKSUM_NONE) => false,
        Some(&CHECKSUM_MD5) => {
            let digest = Md5::digest(bytes.get(..checksum_at).unwrap_or(&[]));
            if bytes.get(checksum_at..checksum_at + 16) != Some(&digest[..]) {
                return Err("OBP checksum (MD5) does not match the message".into());
            }
            true
        }
        Some(other) => return Err(format!("OBP checksum type {other}")),
        None => return Err("OBP header cut short".into()),
    };
    let immediate_len = bytes.get(23).copied().unwrap_or(0) as usize;
    let payload = bytes.get(HEADER_LEN..checksum_at).unwrap_or(&[]);
    let data = match (immediate_len, payload.is_empty()) {
        (0, _) => payload.to_vec(),
        (n, true) if n <= 16 => bytes.get(24..24 + n).unwrap_or(&[]).to_vec(),
        (n, true) => return Err(format!("OBP immediate length {n} > 16")),
        (_, false) => return Err("OBP message with both immediate data and a payload".into()),
    };
    Ok(Message {
        flags: u16_at(bytes, 4).unwrap_or(0),
        error: u16_at(bytes, 6).unwrap_or(0),
        message_type: u32_at(bytes, 8).unwrap_or(0),
        regarding: u32_at(bytes, 12).unwrap_or(0),
        md5,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_integration_request_is_64_bytes_laid_out_as_the_reference_says() {
        let bytes = encode(&Message::request(
            message::SET_INTEGRATION_TIME_US,
            100_000u32.to_le_bytes().to_vec(),
            true,
        ));
        assert_eq!(bytes.len(), 64);
        assert_eq!(&bytes[..4], &[0xC1, 0xC0, 0x00, 0x11]);
        assert_eq!(&bytes[4..6], &[0x04, 0x00]);
        assert_eq!(&bytes[8..12], &[0x10, 0x00, 0x11, 0x00]);
        assert_eq!(&bytes[16..22], &[0; 6]);
        assert_eq!(bytes[22], 0);
        assert_eq!(bytes[23], 4);
        assert_eq!(&bytes[24..28], &[0xA0, 0x86, 0x01, 0x00]);
        assert_eq!(&bytes[28..40], &[0; 12]);
        assert_eq!(&bytes[40..44], &[20, 0, 0, 0]);
        assert_eq!(&bytes[60..], &[0xC5, 0xC4, 0xC3, 0xC2]);
        assert_eq!(
            decode(&bytes).map(|m| m.data),
            Ok(vec![0xA0, 0x86, 0x01, 0x00])
        );
    }

    #[test]
    fn payloads_checksums_and_damage() {
        let msg = Message {
            flags: FLAG_RESPONSE,
            error: 0,
            message_type: message::GET_RAW_SPECTRUM_NOW,
            regarding: 0,
            md5: true,
            data: (0..=255u8).collect(),
        };
        let bytes = encode(&msg);
        assert_eq!(bytes.len(), 44 + 256 + 20);
        assert_eq!(message_len(&bytes), Ok(bytes.len()));
        assert_eq!(decode(&bytes), Ok(msg));
        let mut bad = bytes.clone();
        bad[100] ^= 1;
        assert!(decode(&bad).expect_err("checksum").contains("checksum"));
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] = 0;
        assert!(decode(&bad).expect_err("footer").contains("footer"));
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(message_len(&[0xC0, 0xC1]).is_err());
    }
}
