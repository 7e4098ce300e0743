//! Eurotherm 2000/3000-series temperature controllers over Modbus RTU (tokio-modbus client).
//!
//! Invariants:
//! - Temperatures are scaled 16-bit integers with the instrument's display decimal places
//!   (77.2 °C with one decimal is 772), read from the instrument (tag 525) before any
//!   temperature is read or written, never assumed; a value that does not fit is refused before
//!   it is sent.
//! - The instrument's display unit (tag 516) must be °C: a controller in °F, K or no unit is
//!   refused before any write ([`DeviceErrorKind::OutOfEnvelope`]), since the driver cannot
//!   prove what its numbers mean. A binding's `decimals`, when given, must agree with the
//!   instrument.
//! - Setpoints go to the comms (remote) setpoint, 26, selected once with remote setpoint select,
//!   276, after seeding it with the working setpoint (so selecting it changes nothing); the
//!   target setpoint, 2, lives in EEPROM (about 100 000 writes) and is never written. Each
//!   write is read back.
//! - The only way to the registers is the [`Heater`] trait: raw register access is private.
//! - Every call has a deadline. Silence is [`DeviceErrorKind::Timeout`]; bytes that never
//!   formed a valid frame by then are [`DeviceErrorKind::Garbage`] (the RTU decoder skips
//!   bad bytes silently, so the driver counts what arrived); a Modbus exception is
//!   [`DeviceErrorKind::Refused`]. After a failed call, bytes already waiting are dropped
//!   before the next request, so a late reply is never taken for the next one.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_modbus::client::{Context, Reader, Writer};

use crate::device::{Heater, HeaterStatus, Identity};
use crate::error::{DeviceError, DeviceErrorKind, DeviceResult};
use crate::transport::{ByteStream, SerialSettings};

/// The Modbus default for the line; many installs use 9600.
pub const DEFAULT_BAUD: u32 = 19_200;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);

/// 8N1 (the instrument also offers odd or even parity).
pub fn serial_settings(baud: u32) -> SerialSettings {
    SerialSettings::eight_n_one(baud)
}

/// Process value (alias of tag 1 is 289 on the 3500).
pub const PV: u16 = 1;
/// Target setpoint.
pub const TARGET_SP: u16 = 2;
/// Working setpoint.
pub const WORKING_SP: u16 = 5;
/// Comms (remote) setpoint.
pub const COMMS_SP: u16 = 26;
/// Remote setpoint select: 0 local, 1 remote.
pub const REMOTE_SELECT: u16 = 276;
/// Display units: 0 °C, 1 °F, 2 K, 3 none.
pub const UNITS: u16 = 516;
/// Display decimal places: 0, 1 or 2.
pub const DECIMALS: u16 = 525;

const ZERO_CELSIUS: f64 = 273.15;

// Tags 26, 276, 516 and 525 are not in instruments.md (unverified: calibrate): they come from
// the Eurotherm 3200 manual's Modbus table (HA028651 §15.5) and the 2000-series map, where 516
// reads 0 °C, 1 °F, 2 K, 3 none and 525 reads 0, 1 or 2 decimal places.

/// The register map of one controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EurothermConfig {
    pub slave: u8,
    /// The decimal places the binding expects, if it says; checked against the instrument.
    pub decimals: Option<u8>,
    /// A register whose non-zero value means an active alarm (e.g. 10213 on the 3500).
    pub alarm_register: Option<u16>,
}

/// A stream that counts received bytes and can drop stale input before the next request.
struct Counted<S> {
    inner: S,
    received: Arc<AtomicU64>,
    drop_stale: Arc<AtomicBool>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len().saturating_sub(before);
        self.received.fetch_add(read as u64, Ordering::SeqCst);
        result
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.drop_stale.swap(false, Ordering::SeqCst) {
            // Take whatever is ready now and throw it away; stop at the first Pending.
            let mut scratch = [0u8; 256];
            loop {
                let mut buf = ReadBuf::new(&mut scratch);
                match Pin::new(&mut self.inner).poll_read(cx, &mut buf) {
                    Poll::Ready(Ok(())) if !buf.filled().is_empty() => {}
                    _ => break,
                }
            }
        }
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// One Eurotherm controller on its own line.
pub struct EurothermHeater {
    name: String,
    context: Context,
    config: EurothermConfig,
    timeout: Duration,
    received: Arc<AtomicU64>,
    drop_stale: Arc<AtomicBool>,
    /// The instrument's decimal places, once read (and its unit found to be °C).
    decimals: Option<u8>,
    /// Set once the comms setpoint is selected.
    remote: bool,
}

impl std::fmt::Debug for EurothermHeater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EurothermHeater")
            .field("name", &self.name)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl EurothermHeater {
    pub fn new(
        name: impl Into<String>,
        stream: impl ByteStream,
        config: EurothermConfig,
        timeout: Duration,
    ) -> Self {
        let received = Arc::new(AtomicU64::new(0));
        let drop_stale = Arc::new(AtomicBool::new(false));
        let counted = Counted {
            inner: stream,
            received: Arc::clone(&received),
            drop_stale: Arc::clone(&drop_stale),
        };
        let context =
            tokio_modbus::client::rtu::attach_slave(counted, tokio_modbus::Slave(config.slave));
        Self {
            name: name.into(),
            context,
            config,
            timeout,
            received,
            drop_stale,
            decimals: None,
            remote: false,
        }
    }

    fn error(&self, kind: DeviceErrorKind) -> DeviceError {
        DeviceError::new(self.name.clone(), kind)
    }

    fn fail(&self, kind: DeviceErrorKind) -> DeviceError {
        self.drop_stale.store(true, Ordering::SeqCst);
        self.error(kind)
    }

    fn map_outcome<T>(
        &self,
        what: &str,
        before: u64,
        outcome: Result<tokio_modbus::Result<T>, tokio::time::error::Elapsed>,
    ) -> DeviceResult<T> {
        match outcome {
            Err(_elapsed) => {
                let got = self.received.load(Ordering::SeqCst).saturating_sub(before);
                Err(self.fail(if got > 0 {
                    DeviceErrorKind::Garbage(format!("{what}: {got} bytes but no valid frame"))
                } else {
                    DeviceErrorKind::Timeout(self.timeout)
                }))
            }
            Ok(Err(tokio_modbus::Error::Transport(error))) => {
                use std::io::ErrorKind as K;
                Err(self.fail(match error.kind() {
                    K::UnexpectedEof
                    | K::BrokenPipe
                    | K::ConnectionReset
                    | K::ConnectionAborted
                    | K::NotConnected => DeviceErrorKind::Disconnected(error.to_string()),
                    K::InvalidData => DeviceErrorKind::Garbage(format!("{what}: {error}")),
                    _ => DeviceErrorKind::Io(error.to_string()),
                }))
            }
            Ok(Err(tokio_modbus::Error::Protocol(error))) => {
                Err(self.fail(DeviceErrorKind::Garbage(format!("{what}: {error}"))))
            }
            Ok(Ok(Err(exception))) => Err(self.error(DeviceErrorKind::Refused(format!(
                "{what}: Modbus exception {exception}"
            )))),
            Ok(Ok(Ok(value))) => Ok(value),
        }
    }

    /// Reads one holding register.
    async fn read_register(&mut self, register: u16) -> DeviceResult<u16> {
        let before = self.received.load(Ordering::SeqCst);
        let outcome = tokio::time::timeout(
            self.timeout,
            self.context.read_holding_registers(register, 1),
        )
        .await;
        let words = self.map_outcome(&format!("read register {register}"), before, outcome)?;
        words.first().copied().ok_or_else(|| {
            self.error(DeviceErrorKind::Garbage(format!(
                "read register {register}: empty reply"
            )))
        })
    }

    /// Writes one holding register (function 16).
    async fn write_register(&mut self, register: u16, value: u16) -> DeviceResult<()> {
        let before = self.received.load(Ordering::SeqCst);
        let outcome = tokio::time::timeout(
            self.timeout,
            self.context.write_multiple_registers(register, &[value]),
        )
        .await;
        self.map_outcome(&format!("write register {register}"), before, outcome)
    }

    fn refuse(&self, why: String) -> DeviceError {
        self.error(DeviceErrorKind::OutOfEnvelope(why))
    }

    /// The instrument's decimal places, read once; fails unless it shows °C.
    async fn decimals(&mut self) -> DeviceResult<u8> {
        if let Some(decimals) = self.decimals {
            return Ok(decimals);
        }
        let unit = match self.read_register(UNITS).await? {
            0 => None,
            1 => Some("°F".to_string()),
            2 => Some("kelvin".to_string()),
            3 => Some("no unit".to_string()),
            other => Some(format!("unit code {other}")),
        };
        if let Some(unit) = unit {
            return Err(self.refuse(format!(
                "the controller shows temperatures in {unit}, not °C, so no setpoint it would \
                 understand can be proven; set its display units (UNITS, tag {UNITS}) to °C"
            )));
        }
        let decimals = self.read_register(DECIMALS).await?;
        let decimals = u8::try_from(decimals)
            .ok()
            .filter(|d| *d <= 2)
            .ok_or_else(|| {
                self.refuse(format!(
                    "the controller reports {decimals} decimal places (tag {DECIMALS}); \
                     expected 0, 1 or 2"
                ))
            })?;
        if let Some(expected) = self.config.decimals
            && expected != decimals
        {
            return Err(self.refuse(format!(
                "the binding says `decimals {expected}` but the controller shows {decimals} \
                 decimal places; correct the binding or the controller"
            )));
        }
        self.decimals = Some(decimals);
        Ok(decimals)
    }

    async fn scale(&mut self) -> DeviceResult<f64> {
        Ok(10f64.powi(i32::from(self.decimals().await?)))
    }

    async fn read_kelvin(&mut self, register: u16) -> DeviceResult<f64> {
        let scale = self.scale().await?;
        let raw = self.read_register(register).await?;
        Ok(f64::from(raw as i16) / scale + ZERO_CELSIUS)
    }

    /// Selects the comms setpoint, seeded with the working setpoint so nothing moves.
    async fn select_remote(&mut self) -> DeviceResult<()> {
        if self.remote {
            return Ok(());
        }
        let working = self.read_register(WORKING_SP).await?;
        self.write_register(COMMS_SP, working).await?;
        self.write_register(REMOTE_SELECT, 1).await?;
        if self.read_register(REMOTE_SELECT).await? != 1 {
            return Err(self.error(DeviceErrorKind::Refused(format!(
                "the controller did not select the comms setpoint (tag {REMOTE_SELECT})"
            ))));
        }
        self.remote = true;
        Ok(())
    }
}

#[async_trait]
impl Heater for EurothermHeater {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        // The instrument-ident register differs by series; reading the PV (in °C, at the
        // instrument's scale) proves the line and the configuration.
        self.read_kelvin(PV).await?;
        Ok(Identity {
            vendor: "Eurotherm".into(),
            model: "2000/3000 series (Modbus RTU)".into(),
            firmware: None,
            serial_number: None,
        })
    }

    async fn set_setpoint(&mut self, kelvin: f64) -> DeviceResult<()> {
        let scale = self.scale().await?;
        let scaled = ((kelvin - ZERO_CELSIUS) * scale).round();
        if !(scaled.is_finite() && (f64::from(i16::MIN)..=f64::from(i16::MAX)).contains(&scaled)) {
            return Err(self.refuse(format!(
                "setpoint {kelvin} K does not fit a register with {} decimals",
                scale.log10().round()
            )));
        }
        let word = scaled as i16 as u16;
        self.select_remote().await?;
        self.write_register(COMMS_SP, word).await?;
        let echoed = self.read_register(COMMS_SP).await?;
        if echoed != word {
            return Err(self.error(DeviceErrorKind::Refused(format!(
                "comms setpoint reads back {} after writing {}",
                echoed as i16, word as i16
            ))));
        }
        Ok(())
    }

    async fn status(&mut self) -> DeviceResult<HeaterStatus> {
        let temperature = self.read_kelvin(PV).await?;
        let setpoint = self.read_kelvin(WORKING_SP).await?;
        let alarm = match self.config.alarm_register {
            Some(register) => {
                let word = self.read_register(register).await?;
                (word != 0).then(|| format!("alarm summary {word:#06x}"))
            }
            None => None,
        };
        Ok(HeaterStatus {
            temperature,
            setpoint,
            alarm,
        })
    }
}
