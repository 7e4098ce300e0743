//! Ocean spectrometers over USB: the legacy OOI command set (USB2000, USB2000+, Flame-S,
//! USB4000 / Flame-T) and the Ocean Binary Protocol (STS), as [`OceanBackend`]s of the shared
//! driver core ([`crate::drivers::ocean::OceanSpectrometer`]).
//!
//! Sources, per fact:
//! - Models (USB ids, endpoints, pixels, full scale, integration range and unit, electrical
//!   dark pixels): `ap--/python-seabreeze:src/seabreeze/pyseabreeze/devices.py`; except the
//!   longest integration time, which that file gives as 655 350 000 µs where the Flame manual
//!   (Set Integration Time) and `/work/shared/reference/instruments.md` A6 say 65 535 000 µs:
//!   the manual's is used (the USB2000's too, unverified: a u16 of ms).
//! - After setting the integration time, the FPGA models' Query Status is read back: the
//!   manual says an out-of-range value leaves the setting unchanged without any answer, so a
//!   device that kept its old value is caught (`Refused`) instead of mislabelling spectra.
//! - OOI commands and replies: `protocol::ooi` (Flame manual 225-00000-000-11-201604 and
//!   `pyseabreeze/protocol.py`). Spectrum transfers: Flame manual, Request Spectra (pixels
//!   LSB | MSB on EP2 In, then a one-byte sync packet `0x69`; on the USB4000 / Flame-T at high
//!   speed the first 2048 bytes come on EP6 In, the rest on EP2 In: Flame-T firmware section
//!   and `pyseabreeze/features/spectrometer.py`, `SeaBreezeSpectrometerFeatureOOIFPGA4K`).
//!   The USB speed is read from Query Status byte 14.
//! - Calibration: OOI EEPROM slots 1..=4 (wavelength), 6..=13 and 14 (nonlinearity and its
//!   order) (`pyseabreeze/features/nonlinearity.py`, `spectrometer.py`); OBP messages
//!   `0x00180100/1` and `0x00181100/1` (the same files).
//! - OBP framing: `protocol::obp`.
//!
//! Unverified: the full-speed (12 Mbit/s) spectrum path of the FPGA models (the manual says
//! EP2 In in 64-byte packets; python-seabreeze reads the low-speed endpoint there and warns
//! that it is untested); the USB2000's byte order and its integration unit (ms, u32), taken
//! from python-seabreeze only; the STS's packet size; the Ocean ST (an "OBP2" device with
//! vendor id 0x0999 in python-seabreeze) and the Flame-X are not covered.
//!
//! Invariants:
//! - Every read has a deadline (a spectrum's grows with the integration time); a reply of the
//!   wrong length, a missing or wrong sync byte, a bad OBP checksum or footer is `Garbage`; an
//!   OBP NACK is `Refused` with the device's error code and its meaning; a hardware exception
//!   is an `Alarm`.
//! - The scans of one acquisition are summed here, and each is checked against full scale.

use std::time::Duration;

use async_trait::async_trait;

use crate::drivers::ocean::{Detector, OceanBackend, Scans};
use crate::error::{DeviceError, DeviceErrorKind, DeviceResult};
use crate::protocol::obp::{self, Message, message};
use crate::protocol::ooi::{self, PixelOrder};
use crate::usb::{OCEAN_VENDOR_ID, UsbBulk, UsbSelector};

pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1000);

/// How a model is reached over USB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsbProtocol {
    Ooi(OoiLayout),
    Obp(ObpLayout),
}

/// Endpoints and encoding of an OOI model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OoiLayout {
    pub out: u8,
    /// Replies to queries (Query Information, Query Status).
    pub query_in: u8,
    /// Spectra, and the sync packet.
    pub spectrum_in: u8,
    /// At high speed, the first this many spectrum bytes come from this endpoint.
    pub high_speed_first: Option<(u8, usize)>,
    pub order: PixelOrder,
    /// Bits of a pixel that carry data.
    pub mask: u16,
    /// The unit of the integration time command, µs (1000 on the USB2000).
    pub integration_unit_us: u32,
    /// Whether the model answers Query Status (the FPGA models).
    pub has_status: bool,
}

/// Endpoints of an OBP model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObpLayout {
    pub out: u8,
    pub input: u8,
}

/// One USB model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsbModel {
    pub detector: Detector,
    pub product_id: u16,
    pub protocol: UsbProtocol,
}

impl UsbModel {
    pub fn selector(&self, serial_number: Option<String>) -> UsbSelector {
        UsbSelector {
            vendor_id: OCEAN_VENDOR_ID,
            product_id: self.product_id,
            serial_number,
        }
    }
}

/// The original USB2000: 12-bit, full speed only, LSB and MSB blocks.
pub fn usb2000() -> UsbModel {
    UsbModel {
        detector: Detector {
            model: "USB2000",
            pixels: 2048,
            full_scale: 4095,
            integration_us: 3_000..=65_535_000,
            dark_pixels: 2..24,
        },
        product_id: 0x1002,
        protocol: UsbProtocol::Ooi(OoiLayout {
            out: 0x02,
            query_in: 0x87,
            spectrum_in: 0x82,
            high_speed_first: None,
            order: PixelOrder::LsbBlockMsbBlock,
            mask: 0x0FFF,
            integration_unit_us: 1000,
            has_status: false,
        }),
    }
}

fn usb2000plus_like(model: &'static str) -> UsbModel {
    UsbModel {
        detector: Detector {
            model,
            pixels: 2048,
            full_scale: 65_535,
            integration_us: 1_000..=65_535_000,
            dark_pixels: 6..21,
        },
        product_id: 0x101E,
        protocol: UsbProtocol::Ooi(OoiLayout {
            out: 0x01,
            query_in: 0x81,
            spectrum_in: 0x82,
            high_speed_first: None,
            order: PixelOrder::LsbMsb,
            mask: 0xFFFF,
            integration_unit_us: 1,
            has_status: true,
        }),
    }
}

/// The USB2000+ (product id shared with the Flame-S).
pub fn usb2000plus() -> UsbModel {
    usb2000plus_like("USB2000+")
}

/// The Flame-S on USB (a USB2000+ with FPGA firmware 3 or later).
pub fn flame_s() -> UsbModel {
    usb2000plus_like("Flame-S")
}

/// The USB4000 (and Flame-T, same product id): 3840 pixels, EP6 + EP2 at high speed.
pub fn usb4000() -> UsbModel {
    UsbModel {
        detector: Detector {
            model: "USB4000",
            pixels: 3840,
            full_scale: 65_535,
            integration_us: 10..=65_535_000,
            dark_pixels: 5..16,
        },
        product_id: 0x1022,
        protocol: UsbProtocol::Ooi(OoiLayout {
            out: 0x01,
            query_in: 0x81,
            spectrum_in: 0x82,
            high_speed_first: Some((0x86, 2048)),
            order: PixelOrder::LsbMsb,
            mask: 0xFFFF,
            integration_unit_us: 1,
            has_status: true,
        }),
    }
}

/// The STS (OBP): 1024 pixels, 14-bit, no electrical dark pixels.
pub fn sts() -> UsbModel {
    UsbModel {
        detector: Detector {
            model: "STS",
            pixels: 1024,
            full_scale: 16_383,
            integration_us: 10..=85_000_000,
            dark_pixels: 0..0,
        },
        product_id: 0x4000,
        protocol: UsbProtocol::Obp(ObpLayout {
            out: 0x01,
            input: 0x81,
        }),
    }
}

/// An Ocean spectrometer on USB.
#[derive(Debug)]
pub struct UsbBackend<U> {
    name: String,
    usb: U,
    model: UsbModel,
    timeout: Duration,
    integration_us: u32,
    high_speed: bool,
}

impl<U: UsbBulk> UsbBackend<U> {
    /// Starts talking to the device: OOI `Initialize` and, on the FPGA models, `Query Status`
    /// (the USB speed decides the spectrum endpoints; the pixel count must be the model's).
    pub async fn open(
        name: impl Into<String>,
        usb: U,
        model: UsbModel,
        timeout: Duration,
    ) -> DeviceResult<Self> {
        let mut backend = Self {
            name: name.into(),
            usb,
            model,
            timeout,
            integration_us: 100_000,
            high_speed: false,
        };
        if let UsbProtocol::Ooi(layout) = backend.model.protocol.clone() {
            backend.write(layout.out, &[ooi::INITIALIZE]).await?;
            // Free running (normal) mode: the mode the discarded scan assumes.
            backend.write(layout.out, &ooi::set_trigger_mode(0)).await?;
            if layout.has_status {
                backend.write(layout.out, &[ooi::QUERY_STATUS]).await?;
                let reply = backend
                    .read(layout.query_in, ooi::STATUS_REPLY_LEN, backend.timeout)
                    .await?;
                let status = ooi::decode_status(&reply).map_err(|m| backend.garbage(m))?;
                if usize::from(status.pixels) != backend.model.detector.pixels {
                    return Err(backend.error(DeviceErrorKind::Refused(format!(
                        "the device reports {} pixels; a {} has {}",
                        status.pixels, backend.model.detector.model, backend.model.detector.pixels
                    ))));
                }
                backend.high_speed = status.high_speed;
                backend.integration_us = status.integration_us;
            }
        }
        Ok(backend)
    }

    fn error(&self, kind: DeviceErrorKind) -> DeviceError {
        DeviceError::new(self.name.clone(), kind)
    }

    fn garbage(&self, message: String) -> DeviceError {
        self.error(DeviceErrorKind::Garbage(message))
    }

    async fn write(&mut self, endpoint: u8, data: &[u8]) -> DeviceResult<()> {
        let timeout = self.timeout;
        self.usb
            .write(endpoint, data, timeout)
            .await
            .map_err(|kind| self.error(kind))
    }

    async fn read(&mut self, endpoint: u8, len: usize, timeout: Duration) -> DeviceResult<Vec<u8>> {
        self.usb
            .read(endpoint, len, timeout)
            .await
            .map_err(|kind| self.error(kind))
    }

    /// Reads exactly `len` bytes of one reply.
    async fn read_exact(
        &mut self,
        endpoint: u8,
        len: usize,
        timeout: Duration,
        what: &str,
    ) -> DeviceResult<Vec<u8>> {
        let data = self.read(endpoint, len, timeout).await?;
        if data.len() == len {
            Ok(data)
        } else {
            Err(self.garbage(format!(
                "short read of {what}: {} of {len} bytes",
                data.len()
            )))
        }
    }

    /// The deadline of a spectrum: the integration time on top of the usual timeout.
    fn spectrum_timeout(&self) -> Duration {
        self.timeout + Duration::from_micros(u64::from(self.integration_us))
    }

    async fn ooi_slot(&mut self, layout: &OoiLayout, slot: u8) -> DeviceResult<String> {
        self.write(layout.out, &ooi::query_information(slot))
            .await?;
        let timeout = self.timeout;
        let reply = self
            .read(layout.query_in, ooi::INFO_REPLY_LEN, timeout)
            .await?;
        ooi::decode_information(slot, &reply).map_err(|m| self.garbage(m))
    }

    async fn ooi_number(&mut self, layout: &OoiLayout, slot: u8) -> DeviceResult<f64> {
        let text = self.ooi_slot(layout, slot).await?;
        ooi::parse_number(slot, &text).map_err(|m| self.garbage(m))
    }

    async fn ooi_spectrum(&mut self, layout: &OoiLayout) -> DeviceResult<Vec<u16>> {
        let pixels = self.model.detector.pixels;
        let total = 2 * pixels;
        let timeout = self.spectrum_timeout();
        self.write(layout.out, &[ooi::REQUEST_SPECTRA]).await?;
        let mut bytes = Vec::with_capacity(total);
        if let (true, Some((first_in, first_len))) = (self.high_speed, layout.high_speed_first) {
            bytes = self
                .read_exact(first_in, first_len, timeout, "the spectrum's first part")
                .await?;
        }
        let rest = total - bytes.len();
        let tail = self
            .read_exact(layout.spectrum_in, rest, timeout, "the spectrum")
            .await?;
        bytes.extend_from_slice(&tail);
        let sync = match self.read(layout.spectrum_in, 1, self.timeout).await {
            Ok(sync) => sync,
            Err(DeviceError {
                kind: DeviceErrorKind::Timeout(_),
                ..
            }) => {
                return Err(self.garbage(format!(
                    "the sync byte {:#04x} did not follow the spectrum",
                    ooi::SYNC
                )));
            }
            Err(e) => return Err(e),
        };
        if sync != [ooi::SYNC] {
            return Err(self.garbage(format!(
                "the spectrum ends with {sync:02x?}, not the sync byte {:#04x}",
                ooi::SYNC
            )));
        }
        ooi::decode_pixels(layout.order, &bytes, layout.mask).map_err(|m| self.garbage(m))
    }

    /// One OBP exchange: the reply's data, or the error code of the device's NACK.
    async fn obp_exchange(
        &mut self,
        layout: &ObpLayout,
        message_type: u32,
        data: Vec<u8>,
        request_ack: bool,
        timeout: Duration,
    ) -> DeviceResult<Result<Vec<u8>, u16>> {
        let request = obp::encode(&Message::request(message_type, data, request_ack));
        self.write(layout.out, &request).await?;
        let mut reply = self.read(layout.input, 64, timeout).await?;
        let total = if reply.len() >= obp::HEADER_LEN {
            obp::message_len(&reply).map_err(|m| self.garbage(m))?
        } else {
            return Err(self.garbage(format!("short read of an OBP reply: {} bytes", reply.len())));
        };
        while reply.len() < total {
            let asked = total - reply.len();
            let more = self.read(layout.input, asked, timeout).await?;
            let ended = more.len() < asked;
            reply.extend_from_slice(&more);
            if ended {
                // A short packet: the device's message is over.
                break;
            }
        }
        if reply.len() != total {
            return Err(self.garbage(format!(
                "short read of an OBP reply: {} of {total} bytes",
                reply.len()
            )));
        }
        let msg = obp::decode(&reply).map_err(|m| self.garbage(m))?;
        if msg.flags & obp::FLAG_HARDWARE_EXCEPTION != 0 {
            return Err(self.error(DeviceErrorKind::Alarm(format!(
                "OBP hardware exception {}: {}",
                msg.error,
                obp::error_text(msg.error)
            ))));
        }
        if msg.flags & obp::FLAG_NACK != 0 {
            return Ok(Err(msg.error));
        }
        if msg.message_type != message_type {
            return Err(self.garbage(format!(
                "OBP reply to message {:#010x} where {message_type:#010x} was sent",
                msg.message_type
            )));
        }
        if request_ack && msg.flags & obp::FLAG_ACK == 0 {
            return Err(self.garbage(format!(
                "OBP reply to {message_type:#010x} is neither ACK nor NACK"
            )));
        }
        Ok(Ok(msg.data))
    }

    fn nack(&self, message_type: u32, code: u16) -> DeviceError {
        self.error(DeviceErrorKind::Refused(format!(
            "OBP NACK to message {message_type:#010x}: error {code} ({})",
            obp::error_text(code)
        )))
    }

    /// One OBP exchange; a NACK is `Refused` with the device's error code.
    async fn obp(
        &mut self,
        layout: &ObpLayout,
        message_type: u32,
        data: Vec<u8>,
        request_ack: bool,
        timeout: Duration,
    ) -> DeviceResult<Vec<u8>> {
        self.obp_exchange(layout, message_type, data, request_ack, timeout)
            .await?
            .map_err(|code| self.nack(message_type, code))
    }

    fn one_byte(&self, data: &[u8]) -> DeviceResult<u8> {
        match data {
            [n] => Ok(*n),
            other => Err(self.garbage(format!("OBP count of {} bytes, not 1", other.len()))),
        }
    }

    async fn obp_query(
        &mut self,
        layout: &ObpLayout,
        message_type: u32,
        data: Vec<u8>,
    ) -> DeviceResult<Vec<u8>> {
        let timeout = self.timeout;
        self.obp(layout, message_type, data, false, timeout).await
    }

    async fn obp_count(&mut self, layout: &ObpLayout, message_type: u32) -> DeviceResult<u8> {
        let data = self.obp_query(layout, message_type, Vec::new()).await?;
        self.one_byte(&data)
    }

    async fn obp_coefficients(
        &mut self,
        layout: &ObpLayout,
        n: u8,
        each: u32,
    ) -> DeviceResult<Vec<f64>> {
        let mut out = Vec::with_capacity(usize::from(n));
        for i in 0..n {
            let data = self.obp_query(layout, each, vec![i]).await?;
            let bytes: [u8; 4] = data.as_slice().try_into().map_err(|_| {
                self.garbage(format!("OBP coefficient of {} bytes, not 4", data.len()))
            })?;
            let value = f64::from(f32::from_le_bytes(bytes));
            if !value.is_finite() {
                return Err(self.garbage(format!("OBP coefficient {i} is {value}")));
            }
            out.push(value);
        }
        Ok(out)
    }
}

#[async_trait]
impl<U: UsbBulk> OceanBackend for UsbBackend<U> {
    fn detector(&self) -> &Detector {
        &self.model.detector
    }

    async fn identify(&mut self) -> DeviceResult<(Option<String>, Option<String>)> {
        let serial = match self.model.protocol.clone() {
            UsbProtocol::Ooi(layout) => self.ooi_slot(&layout, ooi::slot::SERIAL_NUMBER).await?,
            UsbProtocol::Obp(layout) => {
                let len = self.obp_count(&layout, message::GET_SERIAL_LENGTH).await?;
                let data = self
                    .obp_query(&layout, message::GET_SERIAL, Vec::new())
                    .await?;
                let text = data.get(..usize::from(len)).unwrap_or(&data);
                String::from_utf8(text.to_vec())
                    .map_err(|_| self.garbage(format!("serial number {text:02x?}")))?
                    .trim_end_matches('\0')
                    .to_string()
            }
        };
        Ok((None, Some(serial)))
    }

    async fn stored_wavelengths(&mut self) -> DeviceResult<Option<Vec<f64>>> {
        match self.model.protocol.clone() {
            UsbProtocol::Ooi(layout) => {
                let mut wavelength = Vec::with_capacity(4);
                for k in 0..4 {
                    wavelength.push(self.ooi_number(&layout, ooi::slot::WAVELENGTH + k).await?);
                }
                Ok(Some(wavelength))
            }
            UsbProtocol::Obp(layout) => {
                let n = self
                    .obp_count(&layout, message::GET_WAVELENGTH_COEFFICIENT_COUNT)
                    .await?;
                let wavelength = self
                    .obp_coefficients(&layout, n, message::GET_WAVELENGTH_COEFFICIENT)
                    .await?;
                Ok(Some(wavelength))
            }
        }
    }

    async fn stored_nonlinearity(&mut self) -> DeviceResult<Vec<f64>> {
        match self.model.protocol.clone() {
            UsbProtocol::Ooi(layout) => {
                // An unprogrammed order slot is "no correction"; anything else must parse.
                let order = self
                    .ooi_slot(&layout, ooi::slot::NONLINEARITY_ORDER)
                    .await?;
                if order.is_empty() {
                    return Ok(Vec::new());
                }
                let order = ooi::parse_number(ooi::slot::NONLINEARITY_ORDER, &order)
                    .map_err(|m| self.garbage(m))?;
                if !(0.0..=7.0).contains(&order) || order.fract() != 0.0 {
                    return Err(self.garbage(format!(
                        "nonlinearity polynomial order {order} is not 0 ..= 7"
                    )));
                }
                let mut nonlinearity = Vec::new();
                for k in 0..=(order as u8) {
                    nonlinearity.push(
                        self.ooi_number(&layout, ooi::slot::NONLINEARITY + k)
                            .await?,
                    );
                }
                Ok(nonlinearity)
            }
            UsbProtocol::Obp(layout) => {
                // A device that does not know the message has no coefficients to give.
                let timeout = self.timeout;
                let count = self
                    .obp_exchange(
                        &layout,
                        message::GET_NONLINEARITY_COEFFICIENT_COUNT,
                        Vec::new(),
                        false,
                        timeout,
                    )
                    .await?;
                let n = match count {
                    Err(obp::error::UNKNOWN_MESSAGE_TYPE) => return Ok(Vec::new()),
                    Err(code) => {
                        return Err(self.nack(message::GET_NONLINEARITY_COEFFICIENT_COUNT, code));
                    }
                    Ok(data) => self.one_byte(&data)?,
                };
                self.obp_coefficients(&layout, n, message::GET_NONLINEARITY_COEFFICIENT)
                    .await
            }
        }
    }

    async fn set_integration_us(&mut self, us: u32) -> DeviceResult<()> {
        if !self.model.detector.integration_us.contains(&us) {
            return Err(self.error(DeviceErrorKind::OutOfEnvelope(format!(
                "integration time {us} µs is outside the {}'s range",
                self.model.detector.model
            ))));
        }
        match self.model.protocol.clone() {
            UsbProtocol::Ooi(layout) => {
                let value = us / layout.integration_unit_us.max(1);
                self.write(layout.out, &ooi::set_integration_time(value))
                    .await?;
                if layout.has_status {
                    self.write(layout.out, &[ooi::QUERY_STATUS]).await?;
                    let timeout = self.timeout;
                    let reply = self
                        .read(layout.query_in, ooi::STATUS_REPLY_LEN, timeout)
                        .await?;
                    let status = ooi::decode_status(&reply).map_err(|m| self.garbage(m))?;
                    if status.integration_us != us {
                        return Err(self.error(DeviceErrorKind::Refused(format!(
                            "integration time {us} µs was set, but the device reports {} µs",
                            status.integration_us
                        ))));
                    }
                }
            }
            UsbProtocol::Obp(layout) => {
                let timeout = self.timeout;
                self.obp(
                    &layout,
                    message::SET_INTEGRATION_TIME_US,
                    us.to_le_bytes().to_vec(),
                    true,
                    timeout,
                )
                .await?;
            }
        }
        self.integration_us = us;
        Ok(())
    }

    async fn set_lamp(&mut self, on: bool) -> DeviceResult<()> {
        match self.model.protocol.clone() {
            UsbProtocol::Ooi(layout) => self.write(layout.out, &ooi::set_strobe_enable(on)).await,
            // The STS's strobe is not driven here: only a lamp that stays off can be bound.
            UsbProtocol::Obp(_) if !on => Ok(()),
            UsbProtocol::Obp(_) => Err(self.error(DeviceErrorKind::Refused(format!(
                "the {} driver does not switch a lamp",
                self.model.detector.model
            )))),
        }
    }

    async fn read_scans(&mut self, scans: u32) -> DeviceResult<Scans> {
        let pixels = self.model.detector.pixels;
        let full = self.model.detector.full_scale;
        let mut summed = vec![0.0; pixels];
        let mut clipped = false;
        for _ in 0..scans {
            let scan: Vec<u16> = match self.model.protocol.clone() {
                UsbProtocol::Ooi(layout) => self.ooi_spectrum(&layout).await?,
                UsbProtocol::Obp(layout) => {
                    let timeout = self.spectrum_timeout();
                    let data = self
                        .obp(
                            &layout,
                            message::GET_RAW_SPECTRUM_NOW,
                            Vec::new(),
                            false,
                            timeout,
                        )
                        .await?;
                    if data.len() != 2 * pixels {
                        return Err(self.garbage(format!(
                            "OBP spectrum of {} bytes where {pixels} pixels need {}",
                            data.len(),
                            2 * pixels
                        )));
                    }
                    data.chunks_exact(2)
                        .map(|c| u16::from_le_bytes([c[0], c[1]]))
                        .collect()
                }
            };
            if scan.len() != pixels {
                return Err(self.garbage(format!(
                    "{} pixels where the {} has {pixels}",
                    scan.len(),
                    self.model.detector.model
                )));
            }
            for (sum, &v) in summed.iter_mut().zip(&scan) {
                clipped |= u32::from(v) >= full;
                *sum += f64::from(v);
            }
        }
        Ok(Scans {
            summed,
            scans,
            integration_us: self.integration_us,
            clipped,
        })
    }
}
