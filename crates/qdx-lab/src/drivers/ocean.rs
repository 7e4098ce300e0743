//! Ocean Optics spectrometers (USB2000 / Flame-S class) over the legacy RS-232 command set.
//!
//! [`OceanSpectrometer`] turns raw scans into a [`Spectrum`] (averaging, wavelength grid from
//! the calibration polynomial, lamp control); it talks to the instrument through an
//! [`OceanBackend`]. [`Rs232Backend`] is the serial backend; a USB backend (OOI protocol over
//! USB bulk endpoints) implements the same trait later without touching the rest.
//!
//! Invariants:
//! - The wavelength grid `λ(i) = c0 + c1 i + c2 i² + c3 i³` is checked strictly increasing
//!   when the spectrometer is built, so every acquisition can build a valid [`Spectrum`].
//! - Integration time and scan count are checked against the command's range before sending.
//! - The read deadline of `S` grows with `scans × integration`, so a long acquisition is not
//!   mistaken for a hung device.
//! - The firmware version is the `v` word read as one decimal number, 1000 = 1.00.0 (Flame-S
//!   manual p. 114, instruments.md A6), never split into bytes.

use std::time::Duration;

use async_trait::async_trait;
use qdx_spectra::{Spectrum, SpectrumQuantity};

use crate::device::{AcquireRequest, Identity, Illumination, Spectrometer};
use crate::error::{DeviceError, DeviceErrorKind, DeviceResult};
use crate::protocol::ocean::{self as protocol, RawSpectrum};
use crate::transport::{ByteStream, Link, SerialSettings};

/// (unverified: calibrate) The default of the legacy serial interface.
pub const DEFAULT_BAUD: u32 = 9600;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1000);

/// Detector pixels of the Sony ILX511 (Flame-S, USB2000).
pub const PIXELS: usize = 2048;

/// Integration time range of the serial `I` command, ms.
pub const INTEGRATION_MS: std::ops::RangeInclusive<u16> = 1..=65_000;

/// Scans the device can sum (`A`).
pub const SCANS: std::ops::RangeInclusive<u16> = 1..=5000;

/// 8N1, no flow control.
pub fn serial_settings(baud: u32) -> SerialSettings {
    SerialSettings::eight_n_one(baud)
}

/// How qdx reaches an Ocean spectrometer: the seam for a USB backend.
#[async_trait]
pub trait OceanBackend: Send + std::fmt::Debug {
    /// Firmware version, if the backend can read it.
    async fn version(&mut self) -> DeviceResult<Option<String>>;
    async fn set_integration_ms(&mut self, ms: u16) -> DeviceResult<()>;
    /// How many scans the device sums into one reply.
    async fn set_scans(&mut self, scans: u16) -> DeviceResult<()>;
    /// Switches the lamp / strobe output.
    async fn set_lamp(&mut self, on: bool) -> DeviceResult<()>;
    /// Takes one (summed) spectrum.
    async fn read_spectrum(&mut self) -> DeviceResult<RawSpectrum>;
    fn pixels(&self) -> usize;
}

/// The legacy RS-232 backend, binary mode.
pub struct Rs232Backend<S> {
    name: String,
    link: Link<S>,
    pixels: usize,
    integration_ms: u16,
    scans: u16,
    binary_mode_set: bool,
}

impl<S> std::fmt::Debug for Rs232Backend<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rs232Backend")
            .field("name", &self.name)
            .field("pixels", &self.pixels)
            .finish_non_exhaustive()
    }
}

impl<S: ByteStream> Rs232Backend<S> {
    pub fn new(name: impl Into<String>, link: Link<S>, pixels: usize) -> Self {
        Self {
            name: name.into(),
            link,
            pixels,
            integration_ms: 100,
            scans: 1,
            binary_mode_set: false,
        }
    }

    fn error(&self, kind: DeviceErrorKind) -> DeviceError {
        DeviceError::new(self.name.clone(), kind)
    }

    /// Sends a command and requires ACK.
    async fn acked(&mut self, bytes: &[u8]) -> DeviceResult<()> {
        self.link
            .send(bytes)
            .await
            .map_err(|kind| self.error(kind))?;
        let ack = self
            .link
            .read_frame(protocol::decode_ack)
            .await
            .map_err(|kind| self.error(kind))?;
        if ack {
            Ok(())
        } else {
            Err(self.error(DeviceErrorKind::Refused(format!(
                "NAK to {}",
                crate::transport::escape(bytes)
            ))))
        }
    }

    async fn ensure_binary(&mut self) -> DeviceResult<()> {
        if !self.binary_mode_set {
            self.acked(b"bB").await?;
            self.binary_mode_set = true;
        }
        Ok(())
    }
}

#[async_trait]
impl<S: ByteStream> OceanBackend for Rs232Backend<S> {
    async fn version(&mut self) -> DeviceResult<Option<String>> {
        self.ensure_binary().await?;
        self.link
            .send(b"v")
            .await
            .map_err(|kind| self.error(kind))?;
        let version = self
            .link
            .read_frame(protocol::decode_version)
            .await
            .map_err(|kind| self.error(kind))?;
        Ok(version.map(protocol::version_text))
    }

    async fn set_integration_ms(&mut self, ms: u16) -> DeviceResult<()> {
        self.ensure_binary().await?;
        self.acked(&protocol::command_word(b'I', ms)).await?;
        self.integration_ms = ms;
        Ok(())
    }

    async fn set_scans(&mut self, scans: u16) -> DeviceResult<()> {
        self.ensure_binary().await?;
        self.acked(&protocol::command_word(b'A', scans)).await?;
        self.scans = scans;
        Ok(())
    }

    async fn set_lamp(&mut self, on: bool) -> DeviceResult<()> {
        self.ensure_binary().await?;
        self.acked(&protocol::command_word(b'J', u16::from(on)))
            .await
    }

    async fn read_spectrum(&mut self) -> DeviceResult<RawSpectrum> {
        self.ensure_binary().await?;
        let base = self.link.timeout();
        let acquisition =
            Duration::from_millis(u64::from(self.integration_ms) * u64::from(self.scans));
        // Transfer time at 9600 baud: about 1 ms per byte, 4 bytes per pixel at most.
        let transfer = Duration::from_millis(4 * self.pixels as u64 + 100);
        self.link.set_timeout(base + acquisition + transfer);
        let pixels = self.pixels;
        let sent = self.link.send(b"S").await;
        let read = match sent {
            Ok(()) => {
                self.link
                    .read_frame(|buf| protocol::decode_spectrum(pixels, buf))
                    .await
            }
            Err(kind) => Err(kind),
        };
        self.link.set_timeout(base);
        match read.map_err(|kind| self.error(kind))? {
            Some(spectrum) if spectrum.summed.len() == pixels => Ok(spectrum),
            Some(_) => Err(self.error(DeviceErrorKind::Garbage("wrong pixel count".into()))),
            None => Err(self.error(DeviceErrorKind::Refused(
                "not enough memory for the spectrum (ETX)".into(),
            ))),
        }
    }

    fn pixels(&self) -> usize {
        self.pixels
    }
}

/// An Ocean spectrometer with its calibration and its one switchable light source.
#[derive(Debug)]
pub struct OceanSpectrometer<B> {
    name: String,
    model: String,
    backend: B,
    wavelengths: Vec<f64>,
    /// The source on the lamp output (`Broadband` or `Excitation`); `None`: nothing wired.
    lamp: Option<Illumination>,
}

impl<B: OceanBackend> OceanSpectrometer<B> {
    /// Builds the spectrometer; fails if the calibration does not give an increasing grid.
    pub fn new(
        name: impl Into<String>,
        model: impl Into<String>,
        backend: B,
        coefficients: [f64; 4],
        lamp: Option<Illumination>,
    ) -> DeviceResult<Self> {
        let name = name.into();
        let wavelengths = wavelength_grid(coefficients, backend.pixels());
        let increasing = wavelengths.len() >= 3
            && wavelengths.iter().all(|w| w.is_finite())
            && wavelengths.windows(2).all(|p| matches!(p, [a, b] if b > a));
        if !increasing {
            return Err(DeviceError::new(
                name,
                DeviceErrorKind::Refused(format!(
                    "calibration {coefficients:?} does not give an increasing wavelength grid"
                )),
            ));
        }
        Ok(Self {
            name,
            model: model.into(),
            backend,
            wavelengths,
            lamp: lamp.filter(|l| *l != Illumination::Dark),
        })
    }

    pub fn wavelengths(&self) -> &[f64] {
        &self.wavelengths
    }

    pub fn backend_mut(&mut self) -> &mut B {
        &mut self.backend
    }

    fn error(&self, kind: DeviceErrorKind) -> DeviceError {
        DeviceError::new(self.name.clone(), kind)
    }
}

/// `λ(i) = c0 + c1 i + c2 i² + c3 i³`, nm.
pub fn wavelength_grid(c: [f64; 4], pixels: usize) -> Vec<f64> {
    (0..pixels)
        .map(|i| {
            let x = i as f64;
            c[0] + x * (c[1] + x * (c[2] + x * c[3]))
        })
        .collect()
}

#[async_trait]
impl<B: OceanBackend> Spectrometer for OceanSpectrometer<B> {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        let firmware = self.backend.version().await?;
        Ok(Identity {
            vendor: "Ocean Optics".into(),
            model: self.model.clone(),
            firmware,
            serial_number: None,
        })
    }

    async fn acquire(&mut self, request: &AcquireRequest) -> DeviceResult<Spectrum> {
        let ms = (request.integration_time_s * 1000.0).round();
        if !(ms.is_finite()
            && ms >= f64::from(*INTEGRATION_MS.start())
            && ms <= f64::from(*INTEGRATION_MS.end()))
        {
            return Err(self.error(DeviceErrorKind::OutOfEnvelope(format!(
                "integration time {} s is outside 1 ms ..= 65 s",
                request.integration_time_s
            ))));
        }
        let scans = u16::try_from(request.averages)
            .ok()
            .filter(|s| SCANS.contains(s))
            .ok_or_else(|| {
                self.error(DeviceErrorKind::OutOfEnvelope(format!(
                    "{} averages is outside 1 ..= 5000",
                    request.averages
                )))
            })?;
        let lamp_on = match request.illumination {
            Illumination::Dark => false,
            wanted if Some(wanted) == self.lamp => true,
            wanted => {
                return Err(self.error(DeviceErrorKind::Refused(format!(
                    "{wanted:?} light is not switched by this spectrometer's lamp output"
                ))));
            }
        };
        self.backend.set_lamp(lamp_on).await?;
        self.backend.set_integration_ms(ms as u16).await?;
        self.backend.set_scans(scans).await?;
        let raw = self.backend.read_spectrum().await;
        // The lamp goes off after every acquisition, whatever happened.
        let off = if lamp_on {
            self.backend.set_lamp(false).await
        } else {
            Ok(())
        };
        let raw = raw?;
        off?;
        let divisor = f64::from(raw.scans.max(1));
        let values: Vec<f64> = raw.summed.iter().map(|&v| f64::from(v) / divisor).collect();
        // With summed scans only the average is known: saturated when it reaches full scale.
        let saturated = values.iter().any(|&v| v >= f64::from(u16::MAX));
        let mut spectrum =
            Spectrum::new(self.wavelengths.clone(), values, SpectrumQuantity::Counts)
                .map_err(|error| self.error(DeviceErrorKind::Garbage(error.to_string())))?;
        spectrum.integration_time_s = f64::from(raw.integration_ms) / 1000.0;
        spectrum.averages = u32::from(raw.scans.max(1));
        spectrum.saturated = saturated;
        Ok(spectrum)
    }
}
