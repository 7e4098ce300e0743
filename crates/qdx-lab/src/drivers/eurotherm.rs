//! Eurotherm 3200 and 2400 (v3) temperature controllers over Modbus RTU (tokio-modbus client).
//!
//! Source: instruments.md A4: Eurotherm 3200 manual HA028651 Issue 7 §15.5, 2000-series
//! communications handbook HA026230 (§3.5, §3.16, §6.1), minimalmodbus usage.
//!
//! The register map is per series ([`EurothermSeries::registers`]), because the same tag means
//! different things: on a 3200 tag 26 is the remote setpoint, on a 2400 (v3) it is "remote
//! input comms access" and the remote setpoint `rm.SP` is tag 485 (HA026230).
//!
//! Invariants:
//! - Temperatures are scaled 16-bit integers with the instrument's display decimal places
//!   (77.2 °C with one decimal is 772), read from the instrument (tag 525) before any
//!   temperature is read or written, never assumed; a value that does not fit is refused before
//!   it is sent.
//! - That scaling holds only at Full comms resolution. On a 2400 the comms resolution `rES`
//!   (tag 12550: 0 Full, 1 Integer) is read at connect, and Integer is refused
//!   ([`DeviceErrorKind::OutOfEnvelope`]) before any write: every value would be a whole
//!   number, so with one decimal 60 °C sent as 600 would mean 600 °C (HA026230 §3.5, §6.1).
//!   The 3200's equivalent is unverified: calibrate (no tag is read there).
//! - The instrument's display unit (tag 516) must be °C: a controller in °F, K or no unit is
//!   refused before any write ([`DeviceErrorKind::OutOfEnvelope`]), since the driver cannot
//!   prove what its numbers mean. A binding's `decimals`, when given, must agree with the
//!   instrument.
//! - Setpoints go to the series' remote setpoint (26 on a 3200, 485 on a 2400), selected once
//!   with remote setpoint select, 276 (0 local, 1 remote; on the 2400 unverified: calibrate),
//!   after seeding it with the working setpoint (so selecting it changes nothing); the target
//!   setpoint, 2, lives in EEPROM (about 100 000 writes) and is never written. Each write is
//!   read back.
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

const ZERO_CELSIUS: f64 = 273.15;

/// Which controller series, and so which register map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EurothermSeries {
    /// 3200 (HA028651 Issue 7 §15.5).
    E3200,
    /// 2400, firmware v3 (HA026230).
    E2400,
}

/// The registers (parameter tags) the driver uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterMap {
    /// Process value.
    pub pv: u16,
    /// Working setpoint (read-only).
    pub working_sp: u16,
    /// Remote (comms) setpoint, in RAM.
    pub remote_sp: u16,
    /// Remote setpoint select: 0 local, 1 remote.
    pub remote_select: u16,
    /// Display units: 0 °C, 1 °F, 2 K, 3 none.
    pub units: u16,
    /// Display decimal places: 0, 1 or 2.
    pub decimals: u16,
    /// Comms resolution (0 Full, 1 Integer), where the series has one the driver knows.
    pub comms_resolution: Option<u16>,
}

impl EurothermSeries {
    pub fn registers(self) -> RegisterMap {
        match self {
            // PV 1, WKG.SP 5, Rm.SP 26 used when 276 is 1 (HA028651 §15.5); 516 / 525 as on
            // the 2000 series (their 3200 values unverified); no rES known (unverified).
            Self::E3200 => RegisterMap {
                pv: 1,
                working_sp: 5,
                remote_sp: 26,
                remote_select: 276,
                units: 516,
                decimals: 525,
                comms_resolution: None,
            },
            // rm.SP 485, units 516, decimals 525, rES 12550 (HA026230); 276 unverified.
            Self::E2400 => RegisterMap {
                pv: 1,
                working_sp: 5,
                remote_sp: 485,
                remote_select: 276,
                units: 516,
                decimals: 525,
                comms_resolution: Some(12550),
            },
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::E3200 => "3200",
            Self::E2400 => "2400",
        }
    }
}

/// The register map of one controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EurothermConfig {
    pub slave: u8,
    pub series: EurothermSeries,
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
    registers: RegisterMap,
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
            registers: config.series.registers(),
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

    /// The instrument's decimal places, read once; fails unless it shows °C and, where the
    /// series has one, its comms resolution is Full.
    async fn decimals(&mut self) -> DeviceResult<u8> {
        if let Some(decimals) = self.decimals {
            return Ok(decimals);
        }
        let map = self.registers;
        let unit = match self.read_register(map.units).await? {
            0 => None,
            1 => Some("°F".to_string()),
            2 => Some("kelvin".to_string()),
            3 => Some("no unit".to_string()),
            other => Some(format!("unit code {other}")),
        };
        if let Some(unit) = unit {
            return Err(self.refuse(format!(
                "the controller shows temperatures in {unit}, not °C, so no setpoint it would \
                 understand can be proven; set its display units (UNITS, tag {}) to °C",
                map.units
            )));
        }
        if let Some(tag) = map.comms_resolution {
            match self.read_register(tag).await? {
                0 => {}
                1 => {
                    return Err(self.refuse(format!(
                        "the controller's comms resolution (rES, tag {tag}) is Integer: it \
                         sends and takes every value as a whole number, so a setpoint scaled \
                         by its decimal places would mean ten or a hundred times the \
                         temperature; set rES to Full"
                    )));
                }
                other => {
                    return Err(self.error(DeviceErrorKind::Garbage(format!(
                        "comms resolution (tag {tag}) reads {other}; expected 0 (Full) or 1 \
                         (Integer)"
                    ))));
                }
            }
        }
        let decimals = self.read_register(map.decimals).await?;
        let decimals = u8::try_from(decimals)
            .ok()
            .filter(|d| *d <= 2)
            .ok_or_else(|| {
                self.refuse(format!(
                    "the controller reports {decimals} decimal places (tag {}); expected 0, 1 \
                     or 2",
                    map.decimals
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

    /// Selects the remote setpoint, seeded with the working setpoint so nothing moves.
    async fn select_remote(&mut self) -> DeviceResult<()> {
        if self.remote {
            return Ok(());
        }
        let map = self.registers;
        let working = self.read_register(map.working_sp).await?;
        self.write_register(map.remote_sp, working).await?;
        self.write_register(map.remote_select, 1).await?;
        if self.read_register(map.remote_select).await? != 1 {
            return Err(self.error(DeviceErrorKind::Refused(format!(
                "the controller did not select the remote setpoint (tag {})",
                map.remote_select
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
        self.read_kelvin(self.registers.pv).await?;
        Ok(Identity {
            vendor: "Eurotherm".into(),
            model: format!("{} series (Modbus RTU)", self.config.series.name()),
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
        let remote_sp = self.registers.remote_sp;
        self.write_register(remote_sp, word).await?;
        let echoed = self.read_register(remote_sp).await?;
        if echoed != word {
            return Err(self.error(DeviceErrorKind::Refused(format!(
                "remote setpoint (tag {remote_sp}) reads back {} after writing {}",
                echoed as i16, word as i16
            ))));
        }
        Ok(())
    }

    async fn status(&mut self) -> DeviceResult<HeaterStatus> {
        let temperature = self.read_kelvin(self.registers.pv).await?;
        let setpoint = self.read_kelvin(self.registers.working_sp).await?;
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
