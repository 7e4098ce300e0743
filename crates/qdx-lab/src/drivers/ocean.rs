//! Ocean Optics spectrometers: the driver core, and the legacy RS-232 command set (USB2000 /
//! Flame-S class) as one backend.
//!
//! [`OceanSpectrometer`] turns scans into a [`Spectrum`]: averaging, electrical-dark
//! subtraction from the model's optically masked pixels, nonlinearity correction from the
//! device's coefficients, the wavelength grid from the calibration polynomial, saturation
//! judged against the model's own full scale, lamp control, and a discarded scan after every
//! change of integration time or lamp (in free-running mode the scan integrating during the
//! change is stale: `/work/shared/reference/instruments.md` A6, from python-seabreeze issues
//! #110 and #177); the plan's own discard after a light switch or an integration change drops
//! exactly one scan (`Spectrometer::discard`), the stale one when the driver changed a setting.
//! It talks to the instrument through an [`OceanBackend`]:
//! [`Rs232Backend`] here, the USB backends in `drivers::ocean_usb`.
//!
//! Corrections, in the order applied to the average of the scans (the order of SeaBreeze's
//! `intensities(correct_dark_counts, correct_nonlinearity)`,
//! `ap--/python-seabreeze:src/seabreeze/spectrometers.py`):
//! 1. electrical dark: the mean of the model's dark pixels is subtracted from every pixel;
//! 2. nonlinearity: `x / Σ cᵢ xⁱ` on the dark-subtracted counts, the device's coefficients
//!    order 0 first (the same file: `numpy.poly1d(coefficients[::-1])`, `out / polyval`);
//!    here the polynomial is evaluated at `max(x, 0)`, so a pixel a little below the
//!    electrical dark cannot reach a pole of it. Unverified against an Ocean manual.
//!
//! Invariants:
//! - The wavelength grid is checked strictly increasing, and the nonlinearity polynomial
//!   positive over `0 ..= full scale`, when the spectrometer is built, so every acquisition
//!   can build a valid [`Spectrum`].
//! - Integration time and scan count are checked against the model's range before sending.
//! - `saturated` is set when any pixel of any scan reached the model's full scale (4095 on
//!   the 12-bit USB2000); where the device sums scans itself (RS-232 `A`), when the average
//!   reached it. It is judged on raw counts, before any correction.
//! - After a failed exchange the driver forgets what it believes the device's settings are,
//!   so the next acquisition sends them again (and discards a scan).
//! - The RS-232 firmware version is the `v` word read as one decimal number, 1000 = 1.00.0
//!   (Flame-S manual p. 114, instruments.md A6), never split into bytes.

use std::ops::{Range, RangeInclusive};
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
pub const INTEGRATION_MS: RangeInclusive<u16> = 1..=65_000;

/// Scans the device can sum (`A`); the USB backends average as many in the driver.
pub const SCANS: RangeInclusive<u16> = 1..=5000;

/// 8N1, no flow control.
pub fn serial_settings(baud: u32) -> SerialSettings {
    SerialSettings::eight_n_one(baud)
}

/// What the driver needs to know of a model's detector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detector {
    /// The model's name as `identify` reports it.
    pub model: &'static str,
    pub pixels: usize,
    /// The highest count the ADC gives: saturation.
    pub full_scale: u32,
    /// Accepted integration times, µs.
    pub integration_us: RangeInclusive<u32>,
    /// Optically masked pixels (electrical dark); empty when the model has none.
    pub dark_pixels: Range<usize>,
}

/// The USB2000 on its RS-232 port: 12-bit, 3 ms minimum, dark pixels 2..24 (source:
/// `ap--/python-seabreeze:src/seabreeze/pyseabreeze/devices.py`, `USB2000`); the `I`
/// command's 65 s maximum.
pub const USB2000_RS232: Detector = Detector {
    model: "USB2000",
    pixels: PIXELS,
    full_scale: 4095,
    integration_us: 3_000..=65_000_000,
    dark_pixels: 2..24,
};

/// The Flame-S on its RS-232 port: 16-bit, 1 ms minimum, dark pixels 6..21 (source:
/// `devices.py`, `FLAMES`).
pub const FLAME_S_RS232: Detector = Detector {
    model: "Flame-S",
    pixels: PIXELS,
    full_scale: 65_535,
    integration_us: 1_000..=65_000_000,
    dark_pixels: 6..21,
};

/// Scans as a backend returns them: the sum of `scans` scans of `integration_us` each.
#[derive(Debug, Clone, PartialEq)]
pub struct Scans {
    pub summed: Vec<f64>,
    pub scans: u32,
    pub integration_us: u32,
    /// A pixel of one of the scans reached full scale (backends that see each scan).
    pub clipped: bool,
}

/// How qdx reaches an Ocean spectrometer.
#[async_trait]
pub trait OceanBackend: Send + std::fmt::Debug {
    fn detector(&self) -> &Detector;
    /// Firmware version and serial number, where the backend can read them.
    async fn identify(&mut self) -> DeviceResult<(Option<String>, Option<String>)>;
    /// The wavelength polynomial stored in the device (order 0 first, nm); `None` when the
    /// backend cannot read it.
    async fn stored_wavelengths(&mut self) -> DeviceResult<Option<Vec<f64>>>;
    /// The nonlinearity polynomial stored in the device (order 0 first); empty when it has
    /// none or the backend cannot read it.
    async fn stored_nonlinearity(&mut self) -> DeviceResult<Vec<f64>>;
    async fn set_integration_us(&mut self, us: u32) -> DeviceResult<()>;
    /// Switches the lamp / strobe output.
    async fn set_lamp(&mut self, on: bool) -> DeviceResult<()>;
    /// Takes `scans` scans at the integration time set and returns their sum.
    async fn read_scans(&mut self, scans: u32) -> DeviceResult<Scans>;
}

/// The legacy RS-232 backend, binary mode.
pub struct Rs232Backend<S> {
    name: String,
    link: Link<S>,
    detector: Detector,
    integration_ms: u16,
    /// The scan count set with `A`; `None` until this session sets it.
    scans: Option<u16>,
    binary_mode_set: bool,
}

impl<S> std::fmt::Debug for Rs232Backend<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rs232Backend")
            .field("name", &self.name)
            .field("detector", &self.detector)
            .finish_non_exhaustive()
    }
}

impl<S: ByteStream> Rs232Backend<S> {
    pub fn new(name: impl Into<String>, link: Link<S>, detector: Detector) -> Self {
        Self {
            name: name.into(),
            link,
            detector,
            integration_ms: 100,
            scans: None,
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

    async fn read_spectrum(&mut self) -> DeviceResult<RawSpectrum> {
        let base = self.link.timeout();
        let acquisition = Duration::from_millis(
            u64::from(self.integration_ms) * u64::from(self.scans.unwrap_or(1)),
        );
        // Transfer time at 9600 baud: about 1 ms per byte, 4 bytes per pixel at most.
        let transfer = Duration::from_millis(4 * self.detector.pixels as u64 + 100);
        self.link.set_timeout(base + acquisition + transfer);
        let pixels = self.detector.pixels;
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
}

#[async_trait]
impl<S: ByteStream> OceanBackend for Rs232Backend<S> {
    fn detector(&self) -> &Detector {
        &self.detector
    }

    async fn identify(&mut self) -> DeviceResult<(Option<String>, Option<String>)> {
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
        Ok((version.map(protocol::version_text), None))
    }

    async fn stored_wavelengths(&mut self) -> DeviceResult<Option<Vec<f64>>> {
        Ok(None)
    }

    async fn stored_nonlinearity(&mut self) -> DeviceResult<Vec<f64>> {
        Ok(Vec::new())
    }

    async fn set_integration_us(&mut self, us: u32) -> DeviceResult<()> {
        let ms = u16::try_from(us.div_ceil(1000))
            .ok()
            .filter(|ms| INTEGRATION_MS.contains(ms))
            .ok_or_else(|| {
                self.error(DeviceErrorKind::OutOfEnvelope(format!(
                    "integration time {us} µs is outside the `I` command's 1 ..= 65000 ms"
                )))
            })?;
        self.ensure_binary().await?;
        self.acked(&protocol::command_word(b'I', ms)).await?;
        self.integration_ms = ms;
        Ok(())
    }

    async fn set_lamp(&mut self, on: bool) -> DeviceResult<()> {
        self.ensure_binary().await?;
        self.acked(&protocol::command_word(b'J', u16::from(on)))
            .await
    }

    async fn read_scans(&mut self, scans: u32) -> DeviceResult<Scans> {
        let scans = u16::try_from(scans)
            .ok()
            .filter(|s| SCANS.contains(s))
            .ok_or_else(|| {
                self.error(DeviceErrorKind::OutOfEnvelope(format!(
                    "{scans} scans is outside 1 ..= 5000"
                )))
            })?;
        self.ensure_binary().await?;
        if self.scans != Some(scans) {
            self.scans = None;
            self.acked(&protocol::command_word(b'A', scans)).await?;
            self.scans = Some(scans);
        }
        let raw = self.read_spectrum().await?;
        if raw.scans.max(1) != scans {
            return Err(self.error(DeviceErrorKind::Garbage(format!(
                "a spectrum of {} scans where {scans} were set",
                raw.scans
            ))));
        }
        Ok(Scans {
            summed: raw.summed.iter().map(|&v| f64::from(v)).collect(),
            scans: u32::from(scans),
            integration_us: u32::from(raw.integration_ms) * 1000,
            // Only the sum is known: the driver judges the average.
            clipped: false,
        })
    }
}

/// An Ocean spectrometer with its calibration and its one switchable light source.
#[derive(Debug)]
pub struct OceanSpectrometer<B> {
    name: String,
    backend: B,
    wavelengths: Vec<f64>,
    nonlinearity: Vec<f64>,
    /// The source on the lamp output (`Broadband` or `Excitation`); `None`: nothing wired.
    lamp: Option<Illumination>,
    /// What the device was last told; `None`: unknown (never set, or an exchange failed).
    lamp_on: Option<bool>,
    integration_us: Option<u32>,
}

impl<B: OceanBackend> OceanSpectrometer<B> {
    /// Builds the spectrometer from a calibration the caller gives (order 0 first); fails if
    /// the wavelengths do not increase or the nonlinearity polynomial is not positive.
    pub fn new(
        name: impl Into<String>,
        backend: B,
        wavelength: &[f64],
        nonlinearity: Vec<f64>,
        lamp: Option<Illumination>,
    ) -> DeviceResult<Self> {
        let name = name.into();
        let refused = |why: String| DeviceError::new(name.clone(), DeviceErrorKind::Refused(why));
        let detector = backend.detector();
        let wavelengths = polynomial_grid(wavelength, detector.pixels);
        let increasing = wavelengths.len() >= 3
            && wavelengths.iter().all(|w| w.is_finite())
            && wavelengths.windows(2).all(|p| matches!(p, [a, b] if b > a));
        if !increasing {
            return Err(refused(format!(
                "calibration {wavelength:?} does not give an increasing wavelength grid"
            )));
        }
        if !nonlinearity.is_empty() {
            let full = f64::from(detector.full_scale);
            let positive = (0..=256).all(|k| {
                let p = polynomial(&nonlinearity, full * f64::from(k) / 256.0);
                p.is_finite() && p > 0.0
            });
            if !positive {
                return Err(refused(format!(
                    "nonlinearity coefficients {nonlinearity:?} are not positive over 0 ..= {full} counts"
                )));
            }
        }
        Ok(Self {
            name,
            backend,
            wavelengths,
            nonlinearity,
            lamp: lamp.filter(|l| *l != Illumination::Dark),
            lamp_on: None,
            integration_us: None,
        })
    }

    /// Builds the spectrometer from the calibration stored in the device; `wavelength`
    /// overrides the stored wavelength polynomial (a lab file's calibration), which is then
    /// not read.
    pub async fn open(
        name: impl Into<String>,
        mut backend: B,
        wavelength: Option<Vec<f64>>,
        lamp: Option<Illumination>,
    ) -> DeviceResult<Self> {
        let name = name.into();
        let nonlinearity = backend.stored_nonlinearity().await?;
        let wavelength = match wavelength {
            Some(given) => Some(given),
            None => backend.stored_wavelengths().await?,
        };
        let wavelength = match wavelength {
            Some(wavelength) => wavelength,
            None => {
                return Err(DeviceError::new(
                    name,
                    DeviceErrorKind::Refused(
                        "the device cannot report its wavelength calibration: give \
                         `wavelength_coefficients`"
                            .into(),
                    ),
                ));
            }
        };
        Self::new(name, backend, &wavelength, nonlinearity, lamp)
    }

    pub fn wavelengths(&self) -> &[f64] {
        &self.wavelengths
    }

    pub fn nonlinearity(&self) -> &[f64] {
        &self.nonlinearity
    }

    pub fn backend_mut(&mut self) -> &mut B {
        &mut self.backend
    }

    fn error(&self, kind: DeviceErrorKind) -> DeviceError {
        DeviceError::new(self.name.clone(), kind)
    }

    /// Brings the device to `lamp_on` and `us`; true when something changed.
    async fn settle(&mut self, lamp_on: bool, us: u32) -> DeviceResult<bool> {
        let mut changed = false;
        if self.lamp_on != Some(lamp_on) {
            self.lamp_on = None;
            self.backend.set_lamp(lamp_on).await?;
            self.lamp_on = Some(lamp_on);
            changed = true;
        }
        if self.integration_us != Some(us) {
            self.integration_us = None;
            self.backend.set_integration_us(us).await?;
            self.integration_us = Some(us);
            changed = true;
        }
        Ok(changed)
    }

    /// The lamp state, integration (µs) and scan count `request` asks for, checked against the
    /// model before anything is sent.
    fn wanted(&self, request: &AcquireRequest) -> DeviceResult<(bool, u32, u32)> {
        let detector = self.backend.detector();
        let us = (request.integration_time_s * 1e6).round();
        let range = &detector.integration_us;
        if !(us.is_finite() && us >= f64::from(*range.start()) && us <= f64::from(*range.end())) {
            return Err(self.error(DeviceErrorKind::OutOfEnvelope(format!(
                "integration time {} s is outside the {}'s {} s ..= {} s",
                request.integration_time_s,
                detector.model,
                f64::from(*range.start()) / 1e6,
                f64::from(*range.end()) / 1e6,
            ))));
        }
        let us = us as u32;
        let scans = request.averages;
        if !(1..=u32::from(*SCANS.end())).contains(&scans) {
            return Err(self.error(DeviceErrorKind::OutOfEnvelope(format!(
                "{scans} averages is outside 1 ..= {}",
                SCANS.end()
            ))));
        }
        let lamp_on = match request.illumination {
            Illumination::Dark => false,
            wanted if Some(wanted) == self.lamp => true,
            wanted => {
                return Err(self.error(DeviceErrorKind::Refused(format!(
                    "{wanted:?} light is not switched by this spectrometer's lamp output"
                ))));
            }
        };
        Ok((lamp_on, us, scans))
    }

    /// After an exchange: a failure forgets what the device is set to (the next acquisition
    /// sends it again), and the lamp goes off after every acquisition, whatever happened.
    async fn after(&mut self, lamp_on: bool, failed: bool) -> DeviceResult<()> {
        if failed {
            self.lamp_on = None;
            self.integration_us = None;
        }
        if self.lamp_on != Some(false) && (lamp_on || failed) {
            let off = self.backend.set_lamp(false).await;
            self.lamp_on = off.is_ok().then_some(false);
            off
        } else {
            Ok(())
        }
    }

    async fn take(&mut self, lamp_on: bool, us: u32, scans: u32) -> DeviceResult<Scans> {
        if self.settle(lamp_on, us).await? {
            // The scan integrating while the setting changed mixes both: dropped.
            self.backend.read_scans(1).await?;
        }
        self.backend.read_scans(scans).await
    }
}

/// `λ(i) = c0 + c1 i + c2 i² + c3 i³`, nm.
pub fn wavelength_grid(c: [f64; 4], pixels: usize) -> Vec<f64> {
    polynomial_grid(&c, pixels)
}

/// `Σ cₖ iᵏ` at every pixel `i`.
pub fn polynomial_grid(c: &[f64], pixels: usize) -> Vec<f64> {
    (0..pixels).map(|i| polynomial(c, i as f64)).collect()
}

fn polynomial(c: &[f64], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &k| acc * x + k)
}

#[async_trait]
impl<B: OceanBackend> Spectrometer for OceanSpectrometer<B> {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        let (firmware, serial_number) = self.backend.identify().await?;
        Ok(Identity {
            vendor: "Ocean Optics".into(),
            model: self.backend.detector().model.into(),
            firmware,
            serial_number,
        })
    }

    /// Exactly one scan is dropped: when the settings change, the stale scan the driver drops
    /// anyway is that scan (the plan's discard would otherwise cost a second one); else the
    /// next scan. The lamp is left as asked on success, for the acquisition that follows (it
    /// turns it off); a failure turns it off and forgets the settings.
    async fn discard(&mut self, request: &AcquireRequest) -> DeviceResult<()> {
        let (lamp_on, us, _) = self.wanted(request)?;
        let dropped = match self.settle(lamp_on, us).await {
            Ok(_) => self.backend.read_scans(1).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if dropped.is_err() {
            self.after(lamp_on, true).await?;
        }
        dropped
    }

    async fn acquire(&mut self, request: &AcquireRequest) -> DeviceResult<Spectrum> {
        let detector = self.backend.detector().clone();
        let (lamp_on, us, scans) = self.wanted(request)?;
        let taken = self.take(lamp_on, us, scans).await;
        let off = self.after(lamp_on, taken.is_err()).await;
        let raw = taken?;
        off?;
        if raw.summed.len() != detector.pixels {
            return Err(self.error(DeviceErrorKind::Garbage(format!(
                "{} pixels where the {} has {}",
                raw.summed.len(),
                detector.model,
                detector.pixels
            ))));
        }
        let divisor = f64::from(raw.scans.max(1));
        let mut values: Vec<f64> = raw.summed.iter().map(|&v| v / divisor).collect();
        let full = f64::from(detector.full_scale);
        let saturated = raw.clipped || values.iter().any(|&v| v >= full);
        if let Some(dark) = values.get(detector.dark_pixels.clone())
            && !dark.is_empty()
        {
            let electric = dark.iter().sum::<f64>() / dark.len() as f64;
            for v in &mut values {
                *v -= electric;
            }
        }
        if !self.nonlinearity.is_empty() {
            for v in &mut values {
                *v /= polynomial(&self.nonlinearity, v.max(0.0));
            }
        }
        let mut spectrum =
            Spectrum::new(self.wavelengths.clone(), values, SpectrumQuantity::Counts)
                .map_err(|error| self.error(DeviceErrorKind::Garbage(error.to_string())))?;
        spectrum.integration_time_s = f64::from(raw.integration_us) / 1e6;
        spectrum.averages = raw.scans.max(1);
        spectrum.saturated = saturated;
        Ok(spectrum)
    }
}
