//! Ocean spectrometers on USB, emulated at the transfer level from the published layouts.
//!
//! Built from the manuals, independently of the driver (each fact below is restated here, not
//! taken from the driver's tables):
//! - OOI devices ([`OoiEmulator`]): Ocean Optics Flame manual 225-00000-000-11-201604,
//!   "Firmware and Advanced Communications": commands arrive on EP1 Out; Query Information
//!   (`0x05`, slot) answers 17 bytes on EP1 In: `0x05`, the slot, 15 ASCII bytes; Query Status
//!   (`0xFE`) answers 16 bytes (pixels u16, integration µs u32, lamp, trigger mode, status,
//!   packets in spectrum, power, packet count, 2 reserved, USB speed `0x00`/`0x80`, reserved);
//!   Set Integration Time takes a u32 in µs and leaves the value unchanged when it is out of
//!   range; Request Spectra answers LSB | MSB pixels in bulk packets on EP2 In (512 bytes at
//!   high speed, 64 at full speed), then one packet holding `0x69`. The Flame-T / USB4000 at
//!   high speed sends its first 1024 pixels on EP6 In and the rest on EP2 In ("All spectra data
//!   is acquired through End Point 2 and 6 In"). The original USB2000 (EP2 Out, EP7 In for
//!   queries, EP2 In for spectra, 64-byte packets, 12-bit, integration in ms, each 128 bytes
//!   the LSBs of 64 pixels then their MSBs) follows python-seabreeze's `devices.py` and
//!   `SeaBreezeSpectrometerFeatureOOI2K`: unverified against the USB2000 data sheet.
//! - OBP devices ([`ObpEmulator`], an STS): the OBP layout in
//!   `/work/shared/reference/instruments.md` A6; requests on EP1 Out, replies on EP1 In
//!   (packet size 512: unverified).
//!
//! Every detector runs free: the first spectrum after a change of integration time or lamp
//! reads as if taken with the old setting (instruments.md A6). Counts are deterministic: a
//! dark level plus, with the lamp on, a smooth profile growing with integration time on every
//! pixel but the optically masked ones, clipped at the ADC's full scale.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use md5::{Digest, Md5};

use crate::emulators::Scene;
use crate::emulators::usb::{InPacket, UsbFunction, packets};

/// Which OOI instrument the emulator plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OoiKind {
    /// The original USB2000 (full speed only).
    Usb2000,
    /// USB2000+ / Flame-S.
    Usb2000Plus,
    /// USB4000 / Flame-T.
    Usb4000,
}

impl OoiKind {
    fn pixels(self) -> usize {
        match self {
            OoiKind::Usb2000 | OoiKind::Usb2000Plus => 2048,
            OoiKind::Usb4000 => 3840,
        }
    }

    fn full_scale(self) -> u32 {
        match self {
            OoiKind::Usb2000 => 4095,
            _ => 65_535,
        }
    }

    fn masked(self) -> Range<usize> {
        match self {
            OoiKind::Usb2000 => 2..24,
            OoiKind::Usb2000Plus => 6..21,
            OoiKind::Usb4000 => 5..16,
        }
    }

    fn command_out(self) -> u8 {
        match self {
            OoiKind::Usb2000 => 0x02,
            _ => 0x01,
        }
    }

    fn query_in(self) -> u8 {
        match self {
            OoiKind::Usb2000 => 0x87,
            _ => 0x81,
        }
    }

    /// Accepted integration times in the command's own unit.
    fn integration_range(self) -> Range<u32> {
        match self {
            // ms
            OoiKind::Usb2000 => 3..65_536,
            // µs
            OoiKind::Usb2000Plus => 1_000..65_535_001,
            OoiKind::Usb4000 => 10..65_535_001,
        }
    }

    fn integration_unit_us(self) -> u32 {
        match self {
            OoiKind::Usb2000 => 1000,
            _ => 1,
        }
    }
}

const EP2_IN: u8 = 0x82;
const EP6_IN: u8 = 0x86;

/// An emulated OOI spectrometer.
#[derive(Debug, Clone)]
pub struct OoiEmulator {
    pub kind: OoiKind,
    /// Connected at USB high speed (FPGA models only).
    pub high_speed: bool,
    /// EEPROM configuration slots (ASCII, at most 15 bytes each).
    pub eeprom: BTreeMap<u8, String>,
    pub integration_us: u32,
    pub lamp_on: bool,
    pub trigger_mode: u16,
    /// Counts per pixel with the lamp off.
    pub dark: u32,
    /// Peak lamp counts per millisecond of integration.
    pub lamp_counts_per_ms: f64,
    /// `(integration µs, lamp)` of the scan in progress when a setting changed.
    pub stale: Option<(u32, bool)>,
    /// Send the next sync packet with this byte instead of `0x69`.
    pub bad_sync_next: Option<u8>,
    /// Leave the integration time unchanged at the next Set Integration Time, as the manual
    /// says the device does with a value out of its range.
    pub ignore_integration_next: bool,
    /// Every command byte taken, in order.
    pub commands: Vec<u8>,
    /// What the detector sees when the emulator is connected to a plant.
    pub scene: Option<Scene>,
}

impl OoiEmulator {
    /// A device with a programmed EEPROM: serial, a calibration, a second-order
    /// nonlinearity polynomial.
    pub fn new(kind: OoiKind) -> Self {
        let mut eeprom = BTreeMap::new();
        for (slot, text) in [
            (0, "FLMS01234"),
            (1, "339.1"),
            (2, "0.3822"),
            (3, "-1.58e-05"),
            (4, "-2.1e-10"),
            (6, "0.95"),
            (7, "1.2e-06"),
            (8, "-1.1e-11"),
            (14, "2"),
        ] {
            eeprom.insert(slot, text.to_string());
        }
        Self {
            kind,
            high_speed: kind != OoiKind::Usb2000,
            eeprom,
            integration_us: 100_000,
            lamp_on: false,
            trigger_mode: 0,
            dark: 1000,
            lamp_counts_per_ms: 200.0,
            stale: None,
            bad_sync_next: None,
            ignore_integration_next: false,
            commands: Vec::new(),
            scene: None,
        }
    }

    pub fn pixels(&self) -> usize {
        self.kind.pixels()
    }

    /// The nonlinearity polynomial the EEPROM holds (slots 6.. up to the order in slot 14), as
    /// the detector follows it; empty when the order slot is absent or unreadable.
    fn nonlinearity(&self) -> Vec<f64> {
        let Some(order) = self
            .eeprom
            .get(&14)
            .and_then(|t| t.trim().parse::<usize>().ok())
            .filter(|o| *o <= 7)
        else {
            return Vec::new();
        };
        (0..=order)
            .map(|k| {
                self.eeprom
                    .get(&(6 + k as u8))
                    .and_then(|t| t.trim().parse::<f64>().ok())
                    .unwrap_or(0.0)
            })
            .collect()
    }

    /// Counts of one scan at pixel `i` with the current settings.
    pub fn scan_counts(&self, i: usize) -> u32 {
        self.counts_with(i, self.integration_us, self.lamp_on)
    }

    fn counts_with(&self, i: usize, integration_us: u32, lamp_on: bool) -> u32 {
        let pixels = self.pixels();
        let mut counts = f64::from(self.dark);
        if lamp_on && !self.kind.masked().contains(&i) {
            let x = i as f64 / (pixels - 1) as f64;
            let profile = (-((x - 0.5) / 0.2).powi(2)).exp();
            counts += self.lamp_counts_per_ms * f64::from(integration_us) / 1000.0 * profile;
        }
        counts.min(f64::from(self.kind.full_scale())) as u32
    }

    /// One scan's counts on every pixel.
    fn scan(&self, integration_us: u32, lamp_on: bool) -> Vec<u32> {
        match &self.scene {
            Some(scene) => scene.counts(
                lamp_on,
                f64::from(integration_us) * 1e-6,
                self.pixels(),
                self.dark,
                self.kind.full_scale(),
                &self.kind.masked(),
                &self.nonlinearity(),
            ),
            None => (0..self.pixels())
                .map(|i| self.counts_with(i, integration_us, lamp_on))
                .collect(),
        }
    }

    fn changing(&mut self) {
        if self.stale.is_none() {
            self.stale = Some((self.integration_us, self.lamp_on));
        }
    }

    fn packet_size(&self) -> usize {
        if self.high_speed { 512 } else { 64 }
    }

    fn word(data: &[u8]) -> Option<u16> {
        Some(u16::from_le_bytes([*data.get(1)?, *data.get(2)?]))
    }

    fn spectrum_bytes(&mut self) -> Vec<u8> {
        let (us, lamp) = self
            .stale
            .take()
            .unwrap_or((self.integration_us, self.lamp_on));
        let counts: Vec<u16> = self.scan(us, lamp).into_iter().map(|c| c as u16).collect();
        match self.kind {
            OoiKind::Usb2000 => {
                let mut out = Vec::with_capacity(2 * counts.len());
                for block in counts.chunks(64) {
                    out.extend(block.iter().map(|c| c.to_le_bytes()[0]));
                    // The high nibble is not guaranteed low: set it, the host must mask.
                    out.extend(block.iter().map(|c| c.to_le_bytes()[1] | 0xF0));
                }
                out
            }
            _ => counts.iter().flat_map(|c| c.to_le_bytes()).collect(),
        }
    }

    fn request_spectra(&mut self) -> Vec<InPacket> {
        let delay = Duration::from_micros(u64::from(self.integration_us));
        let size = self.packet_size();
        let bytes = self.spectrum_bytes();
        let mut out = Vec::new();
        if self.kind == OoiKind::Usb4000 && self.high_speed {
            let (first, rest) = bytes.split_at(2048.min(bytes.len()));
            out.extend(packets(EP6_IN, first, size, delay));
            out.extend(packets(EP2_IN, rest, size, delay));
        } else {
            out.extend(packets(EP2_IN, &bytes, size, delay));
        }
        let sync = self.bad_sync_next.take().unwrap_or(0x69);
        out.push(InPacket {
            endpoint: EP2_IN,
            data: vec![sync],
            delay,
        });
        out
    }

    fn query_information(&self, slot: u8) -> Vec<InPacket> {
        let mut reply = vec![0x05, slot];
        let text = self.eeprom.get(&slot).cloned().unwrap_or_default();
        let mut field = [0u8; 15];
        for (b, t) in field.iter_mut().zip(text.bytes()) {
            *b = t;
        }
        reply.extend_from_slice(&field);
        packets(self.kind.query_in(), &reply, 64, Duration::ZERO)
    }

    fn query_status(&self) -> Vec<InPacket> {
        let mut reply = Vec::with_capacity(16);
        reply.extend_from_slice(&(self.pixels() as u16).to_le_bytes());
        reply.extend_from_slice(&self.integration_us.to_le_bytes());
        reply.push(u8::from(self.lamp_on));
        reply.push(self.trigger_mode as u8);
        reply.push(0); // acquisition status
        let packets_in_spectrum = (2 * self.pixels()).div_ceil(self.packet_size()) + 1;
        reply.push(packets_in_spectrum as u8);
        reply.push(1); // powered up
        reply.push(0); // packet count
        reply.extend_from_slice(&[0, 0]);
        reply.push(if self.high_speed { 0x80 } else { 0x00 });
        reply.push(0);
        packets(self.kind.query_in(), &reply, 64, Duration::ZERO)
    }
}

impl UsbFunction for OoiEmulator {
    fn in_packet_size(&self, endpoint: u8) -> Option<usize> {
        match endpoint {
            e if e == self.kind.query_in() => Some(64),
            EP2_IN => Some(self.packet_size()),
            EP6_IN if self.kind == OoiKind::Usb4000 => Some(self.packet_size()),
            _ => None,
        }
    }

    fn has_out(&self, endpoint: u8) -> bool {
        endpoint == self.kind.command_out()
    }

    fn bulk_out(&mut self, _endpoint: u8, data: &[u8]) -> Vec<InPacket> {
        let Some(&command) = data.first() else {
            return Vec::new();
        };
        self.commands.push(command);
        match command {
            0x01 => {
                self.trigger_mode = 0;
                Vec::new()
            }
            0x02 => {
                if let Some(bytes) = data.get(1..5) {
                    let value = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                    if self.kind.integration_range().contains(&value)
                        && !std::mem::take(&mut self.ignore_integration_next)
                    {
                        let us = value * self.kind.integration_unit_us();
                        if us != self.integration_us {
                            self.changing();
                            self.integration_us = us;
                        }
                    }
                }
                Vec::new()
            }
            0x03 => {
                if let Some(on) = Self::word(data) {
                    if (on != 0) != self.lamp_on {
                        self.changing();
                    }
                    self.lamp_on = on != 0;
                }
                Vec::new()
            }
            0x05 => match data.get(1) {
                Some(&slot) => self.query_information(slot),
                None => Vec::new(),
            },
            0x09 => self.request_spectra(),
            0x0A => {
                if let Some(mode) = Self::word(data)
                    && mode <= 4
                {
                    self.trigger_mode = mode;
                }
                Vec::new()
            }
            0xFE if self.kind != OoiKind::Usb2000 => self.query_status(),
            _ => Vec::new(),
        }
    }
}

/// An emulated OBP spectrometer (an STS: 1024 pixels, 14-bit, 10 µs ..= 85 s).
#[derive(Debug, Clone)]
pub struct ObpEmulator {
    pub serial: String,
    pub wavelength: Vec<f32>,
    pub nonlinearity: Vec<f32>,
    pub integration_us: u32,
    pub lamp_on: bool,
    pub dark: u32,
    pub lamp_counts_per_ms: f64,
    pub stale: Option<u32>,
    /// Reply with an MD5 checksum (else zeros).
    pub md5_replies: bool,
    /// NACK the next request with this error code.
    pub nack_next: Option<u16>,
    /// Damage the checksum of the next reply.
    pub corrupt_checksum_next: bool,
    /// Whether the firmware knows the nonlinearity messages (else: unknown message type).
    pub knows_nonlinearity: bool,
    /// The message types taken, in order.
    pub messages: Vec<u32>,
    /// What the detector sees when the emulator is connected to a plant.
    pub scene: Option<Scene>,
}

const STS_PIXELS: usize = 1024;
const STS_FULL_SCALE: u32 = 16_383;
const OBP_OUT: u8 = 0x01;
const OBP_IN: u8 = 0x81;
const OBP_PACKET: usize = 512;

/// A parsed request, as the device sees it.
struct Request {
    flags: u16,
    message_type: u32,
    data: Vec<u8>,
}

impl Default for ObpEmulator {
    fn default() -> Self {
        Self::new()
    }
}

impl ObpEmulator {
    pub fn new() -> Self {
        Self {
            serial: "STS01234".into(),
            wavelength: vec![350.2, 0.4512, -3.1e-5, 1.0e-9],
            nonlinearity: vec![0.97, 2.0e-6, -5.0e-11],
            integration_us: 100_000,
            lamp_on: false,
            dark: 1500,
            lamp_counts_per_ms: 100.0,
            stale: None,
            md5_replies: true,
            nack_next: None,
            corrupt_checksum_next: false,
            knows_nonlinearity: true,
            messages: Vec::new(),
            scene: None,
        }
    }

    pub fn scan_counts(&self, i: usize) -> u32 {
        self.counts_with(i, self.integration_us)
    }

    fn counts_with(&self, i: usize, integration_us: u32) -> u32 {
        let mut counts = f64::from(self.dark);
        if self.lamp_on {
            let x = i as f64 / (STS_PIXELS - 1) as f64;
            let profile = (-((x - 0.5) / 0.2).powi(2)).exp();
            counts += self.lamp_counts_per_ms * f64::from(integration_us) / 1000.0 * profile;
        }
        counts.min(f64::from(STS_FULL_SCALE)) as u32
    }

    /// Parses a request by the reference layout; `Err(code)` is the error to NACK with.
    fn parse(bytes: &[u8]) -> Result<Request, (u32, u16)> {
        let u16_at = |at: usize| {
            bytes
                .get(at..at + 2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
        };
        let u32_at = |at: usize| {
            bytes
                .get(at..at + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        let message_type = u32_at(8).unwrap_or(0);
        if bytes.len() < 64 || u16_at(0) != Some(0xC0C1) {
            return Err((message_type, 1));
        }
        let remaining = u32_at(40).unwrap_or(0) as usize;
        if bytes.len() != 44 + remaining || u32_at(bytes.len() - 4) != Some(0xC2C3_C4C5) {
            return Err((message_type, 5));
        }
        let checksum_at = bytes.len() - 20;
        // start 0, version 2, flags 4, error 6, type 8, regarding 12, reserved 16..22,
        // checksum type 22, immediate length 23, immediate data 24..40, remaining 40.
        match bytes.get(22) {
            Some(0) => {}
            Some(1) => {
                let digest = Md5::digest(&bytes[..checksum_at]);
                if bytes[checksum_at..checksum_at + 16] != digest[..] {
                    return Err((message_type, 3));
                }
            }
            _ => return Err((message_type, 8)),
        }
        let immediate = usize::from(bytes[23]);
        let data = if immediate > 0 {
            bytes[24..24 + immediate.min(16)].to_vec()
        } else {
            bytes[44..checksum_at].to_vec()
        };
        Ok(Request {
            flags: u16_at(4).unwrap_or(0),
            message_type,
            data,
        })
    }

    fn reply(&mut self, message_type: u32, flags: u16, error: u16, data: &[u8]) -> Vec<InPacket> {
        let mut out = Vec::new();
        out.extend_from_slice(&0xC0C1u16.to_le_bytes());
        out.extend_from_slice(&0x1100u16.to_le_bytes());
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&error.to_le_bytes());
        out.extend_from_slice(&message_type.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&[0; 6]);
        out.push(u8::from(self.md5_replies));
        let immediate = data.len() <= 16;
        out.push(if immediate { data.len() as u8 } else { 0 });
        let mut field = [0u8; 16];
        if immediate {
            field[..data.len()].copy_from_slice(data);
        }
        out.extend_from_slice(&field);
        let payload = if immediate { 0 } else { data.len() };
        out.extend_from_slice(&((payload + 20) as u32).to_le_bytes());
        if !immediate {
            out.extend_from_slice(data);
        }
        let mut checksum = [0u8; 16];
        if self.md5_replies {
            checksum.copy_from_slice(&Md5::digest(&out));
        }
        if std::mem::take(&mut self.corrupt_checksum_next) {
            checksum[0] ^= 0xFF;
        }
        out.extend_from_slice(&checksum);
        out.extend_from_slice(&0xC2C3_C4C5u32.to_le_bytes());
        let delay = if message_type == 0x0010_1100 {
            Duration::from_micros(u64::from(self.integration_us))
        } else {
            Duration::ZERO
        };
        packets(OBP_IN, &out, OBP_PACKET, delay)
    }

    fn answer(&mut self, request: &Request) -> Result<Vec<u8>, u16> {
        let index = || request.data.first().map(|&i| usize::from(i));
        let coefficient = |list: &[f32]| -> Result<Vec<u8>, u16> {
            index()
                .and_then(|i| list.get(i))
                .map(|c| c.to_le_bytes().to_vec())
                .ok_or(6)
        };
        match request.message_type {
            0x0000_0100 => Ok(self.serial.as_bytes().to_vec()),
            0x0000_0101 => Ok(vec![self.serial.len() as u8]),
            0x0010_1100 => {
                let us = self.stale.take().unwrap_or(self.integration_us);
                let counts = match &self.scene {
                    Some(scene) => scene.counts(
                        self.lamp_on,
                        f64::from(us) * 1e-6,
                        STS_PIXELS,
                        self.dark,
                        STS_FULL_SCALE,
                        &(0..0),
                        &self
                            .nonlinearity
                            .iter()
                            .map(|c| f64::from(*c))
                            .collect::<Vec<_>>(),
                    ),
                    None => (0..STS_PIXELS).map(|i| self.counts_with(i, us)).collect(),
                };
                Ok(counts
                    .into_iter()
                    .flat_map(|c| (c as u16).to_le_bytes())
                    .collect())
            }
            0x0011_0010 => {
                let bytes: [u8; 4] = request.data.as_slice().try_into().map_err(|_| 5u16)?;
                let us = u32::from_le_bytes(bytes);
                if !(10..=85_000_000).contains(&us) {
                    return Err(6);
                }
                if us != self.integration_us && self.stale.is_none() {
                    self.stale = Some(self.integration_us);
                }
                self.integration_us = us;
                Ok(Vec::new())
            }
            0x0011_0110 => Ok(Vec::new()),
            0x0018_0100 => Ok(vec![self.wavelength.len() as u8]),
            0x0018_0101 => coefficient(&self.wavelength),
            0x0018_1100 | 0x0018_1101 if !self.knows_nonlinearity => Err(2),
            0x0018_1100 => Ok(vec![self.nonlinearity.len() as u8]),
            0x0018_1101 => coefficient(&self.nonlinearity),
            _ => Err(2),
        }
    }
}

impl UsbFunction for ObpEmulator {
    fn in_packet_size(&self, endpoint: u8) -> Option<usize> {
        (endpoint == OBP_IN).then_some(OBP_PACKET)
    }

    fn has_out(&self, endpoint: u8) -> bool {
        endpoint == OBP_OUT
    }

    fn bulk_out(&mut self, _endpoint: u8, data: &[u8]) -> Vec<InPacket> {
        const RESPONSE: u16 = 0x0001;
        const ACK: u16 = 0x0002;
        const REQUEST_ACK: u16 = 0x0004;
        const NACK: u16 = 0x0008;
        let request = match Self::parse(data) {
            Ok(request) => request,
            Err((message_type, code)) => {
                return self.reply(message_type, RESPONSE | NACK, code, &[]);
            }
        };
        self.messages.push(request.message_type);
        if let Some(code) = self.nack_next.take() {
            return self.reply(request.message_type, RESPONSE | NACK, code, &[]);
        }
        match self.answer(&request) {
            Ok(payload) => {
                let ack = if request.flags & REQUEST_ACK != 0 {
                    ACK
                } else {
                    0
                };
                if payload.is_empty() && ack == 0 {
                    // A setting without ACK requested: nothing to say.
                    Vec::new()
                } else {
                    self.reply(request.message_type, RESPONSE | ack, 0, &payload)
                }
            }
            Err(code) => self.reply(request.message_type, RESPONSE | NACK, code, &[]),
        }
    }
}
