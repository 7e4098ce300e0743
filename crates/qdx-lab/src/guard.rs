//! The safety envelope, enforced at the driver boundary.
//!
//! [`GuardedPump`] and [`GuardedHeater`] wrap any [`Pump`] / [`Heater`] and check every
//! actuating command against an [`Envelope`] just before it goes to the device, whatever
//! asked for it. A refused command is never passed on: it fails with
//! [`DeviceErrorKind::OutOfEnvelope`].
//!
//! Invariants:
//! - `set_rate` passes only rates in `[0, max_rate]` that are zero or at least `min_rate`.
//! - `start` passes only when the rate the pump will run at is known to be in the envelope:
//!   set through this guard, or else read back from the pump just before (a pump that reports
//!   no rate, or an alarm, is not started). After the start the guard reads back the rate and
//!   direction the pump really runs at, and an alarm; a pump faster than the guard let through
//!   (beyond the rounding of its own display), withdrawing against the envelope, alarmed, or
//!   whose state cannot be read is stopped at once and the start fails.
//! - `set_direction(Withdraw)` passes only when the envelope allows withdrawal.
//! - `set_setpoint` passes only setpoints in `[min_temperature, max_temperature]`.
//! - Reads (`identify`, `status`) and `stop` always pass: stopping is always safe.
//!
//! The guard is the only way to the device it wraps: it never hands its device back, and no
//! driver has a public raw path (a command string, a register write) around the traits. These
//! do not compile:
//!
//! ```compile_fail,E0599
//! # use qdx_lab::guard::{Envelope, GuardedPump};
//! # fn f(p: GuardedPump<qdx_lab::drivers::new_era::NewEraPump<tokio::io::DuplexStream>>) {
//! let _raw = p.into_inner();
//! # }
//! ```
//!
//! ```compile_fail,E0599
//! # use qdx_lab::guard::GuardedHeater;
//! # fn f(h: GuardedHeater<qdx_lab::drivers::eurotherm::EurothermHeater>) {
//! let _raw = h.into_inner();
//! # }
//! ```
//!
//! ```compile_fail,E0624
//! # async fn f(p: &mut qdx_lab::drivers::new_era::NewEraPump<tokio::io::DuplexStream>) {
//! let _ = p.transact("RAT 99 MM").await;
//! # }
//! ```
//!
//! ```compile_fail,E0624
//! # async fn f(p: &mut qdx_lab::drivers::harvard::HarvardPump<tokio::io::DuplexStream>) {
//! let _ = p.transact("irate 99 m/m").await;
//! # }
//! ```
//!
//! ```compile_fail,E0624
//! # async fn f(p: &mut qdx_lab::drivers::chemyx::ChemyxPump<tokio::io::DuplexStream>) {
//! let _ = p.transact("set rate 99").await;
//! # }
//! ```
//!
//! ```compile_fail,E0624
//! # async fn f(h: &mut qdx_lab::drivers::eurotherm::EurothermHeater) {
//! let _ = h.write_register(26, 9999).await;
//! # }
//! ```
//!
//! ```compile_fail,E0624
//! # async fn f(h: &mut qdx_lab::drivers::huber::HuberHeater<tokio::io::DuplexStream>) {
//! let _ = h.transact(0x00, Some(9999)).await;
//! # }
//! ```

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::device::{Heater, HeaterStatus, Identity, Pump, PumpDirection, PumpStatus};
use crate::error::{DeviceError, DeviceErrorKind, DeviceResult};

/// What one device may be told to do. SI units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Smallest non-zero rate, m³/s.
    pub min_rate: f64,
    /// Largest rate, m³/s.
    pub max_rate: f64,
    pub allow_withdraw: bool,
    /// Setpoint limits, K.
    pub min_temperature: f64,
    pub max_temperature: f64,
}

impl Envelope {
    /// An envelope for a pump; temperatures unrestricted.
    pub fn pump(min_rate: f64, max_rate: f64, allow_withdraw: bool) -> Self {
        Self {
            min_rate,
            max_rate,
            allow_withdraw,
            min_temperature: f64::NEG_INFINITY,
            max_temperature: f64::INFINITY,
        }
    }

    /// An envelope for a heater; rates irrelevant.
    pub fn heater(min_temperature: f64, max_temperature: f64) -> Self {
        Self {
            min_rate: 0.0,
            max_rate: 0.0,
            allow_withdraw: false,
            min_temperature,
            max_temperature,
        }
    }

    /// Why `rate` is refused, if it is.
    pub fn check_rate(&self, rate: f64) -> Result<(), String> {
        if !rate.is_finite() || rate < 0.0 {
            return Err(format!("rate {rate} m³/s is not a non-negative number"));
        }
        if rate > self.max_rate {
            return Err(format!(
                "rate {rate:e} m³/s is above the maximum {:e} m³/s",
                self.max_rate
            ));
        }
        if rate > 0.0 && rate < self.min_rate {
            return Err(format!(
                "rate {rate:e} m³/s is below the minimum {:e} m³/s",
                self.min_rate
            ));
        }
        Ok(())
    }

    /// Why `kelvin` is refused as a setpoint, if it is.
    pub fn check_setpoint(&self, kelvin: f64) -> Result<(), String> {
        if !kelvin.is_finite() || kelvin < self.min_temperature || kelvin > self.max_temperature {
            return Err(format!(
                "setpoint {kelvin} K is outside {} K ..= {} K",
                self.min_temperature, self.max_temperature
            ));
        }
        Ok(())
    }
}

/// A pump that only passes commands inside its envelope.
#[derive(Debug)]
pub struct GuardedPump<P> {
    name: String,
    inner: P,
    envelope: Envelope,
    /// The last rate passed to the pump, once one was.
    rate: Option<f64>,
}

impl<P: Pump> GuardedPump<P> {
    pub fn new(name: impl Into<String>, inner: P, envelope: Envelope) -> Self {
        Self {
            name: name.into(),
            inner,
            envelope,
            rate: None,
        }
    }

    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    fn refuse(&self, why: String) -> DeviceError {
        DeviceError::new(self.name.clone(), DeviceErrorKind::OutOfEnvelope(why))
    }

    /// Why a pump just started at `rate` must not keep running, if it must not.
    fn running_problem(&self, status: &PumpStatus, rate: f64) -> Option<DeviceError> {
        if let Some(alarm) = &status.alarm {
            return Some(DeviceError::new(
                self.name.clone(),
                DeviceErrorKind::Alarm(alarm.clone()),
            ));
        }
        // Pumps print rates in 4 digits and `status` rounds to whole fL/s: allow that, and no
        // more (a wrong unit or decimal point is 10x off).
        let allowed = rate * (1.0 + READ_BACK_TOLERANCE) + 1e-18;
        if !status.rate.is_finite() || status.rate > allowed {
            return Some(self.refuse(format!(
                "start: the pump runs at {:e} m³/s, above the {rate:e} m³/s let through; stopped",
                status.rate
            )));
        }
        if status.direction == PumpDirection::Withdraw && !self.envelope.allow_withdraw {
            return Some(self.refuse(
                "start: the pump withdraws, which is not allowed for this pump; stopped".into(),
            ));
        }
        None
    }
}

/// The relative difference between a rate read back and the rate asked that is put down to the
/// pump's number format.
const READ_BACK_TOLERANCE: f64 = 1e-3;

/// A pump's status, with a pending alarm as an error. A New Era pump answers an alarm once:
/// whoever reads the status must not drop it, so the guards and the run's keep-alive polls all
/// read through here.
pub async fn status_without_alarm<P: Pump + ?Sized>(
    pump: &mut P,
    name: &str,
) -> DeviceResult<PumpStatus> {
    let status = pump.status().await?;
    match status.alarm {
        Some(alarm) => Err(DeviceError::new(name, DeviceErrorKind::Alarm(alarm))),
        None => Ok(status),
    }
}

#[async_trait]
impl<P: Pump> Pump for GuardedPump<P> {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        self.inner.identify().await
    }

    async fn set_rate(&mut self, rate: f64) -> DeviceResult<()> {
        self.envelope
            .check_rate(rate)
            .map_err(|why| self.refuse(why))?;
        self.inner.set_rate(rate).await?;
        self.rate = Some(rate);
        Ok(())
    }

    async fn set_direction(&mut self, direction: PumpDirection) -> DeviceResult<()> {
        if direction == PumpDirection::Withdraw && !self.envelope.allow_withdraw {
            return Err(self.refuse("withdrawal is not allowed for this pump".into()));
        }
        self.inner.set_direction(direction).await
    }

    async fn start(&mut self) -> DeviceResult<()> {
        let rate = match self.rate {
            Some(rate) => rate,
            // Never set through the guard: believe only what the pump says it will run at.
            None => {
                // This read may be the only one to see an alarm.
                let status = status_without_alarm(&mut self.inner, &self.name).await?;
                if status.rate.is_nan() || status.rate <= 0.0 {
                    return Err(self.refuse(format!(
                        "start: the pump reports no rate ({} m³/s), so the rate it would run \
                         at is unknown; set one first",
                        status.rate
                    )));
                }
                status.rate
            }
        };
        self.envelope
            .check_rate(rate)
            .map_err(|why| self.refuse(format!("start: {why}")))?;
        self.inner.start().await?;
        if rate == 0.0 {
            // Drivers hold a pump at rate zero stopped: nothing runs.
            return Ok(());
        }
        let problem = match self.inner.status().await {
            Err(error) => Some(error),
            Ok(status) => self.running_problem(&status, rate),
        };
        match problem {
            None => Ok(()),
            Some(error) => {
                // Best effort: the start's own failure is the error to report.
                drop(self.inner.stop().await);
                Err(error)
            }
        }
    }

    async fn stop(&mut self) -> DeviceResult<()> {
        self.inner.stop().await
    }

    async fn status(&mut self) -> DeviceResult<PumpStatus> {
        self.inner.status().await
    }
}

/// A heater that only passes setpoints inside its envelope.
#[derive(Debug)]
pub struct GuardedHeater<H> {
    name: String,
    inner: H,
    envelope: Envelope,
}

impl<H: Heater> GuardedHeater<H> {
    pub fn new(name: impl Into<String>, inner: H, envelope: Envelope) -> Self {
        Self {
            name: name.into(),
            inner,
            envelope,
        }
    }
}

#[async_trait]
impl<H: Heater> Heater for GuardedHeater<H> {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        self.inner.identify().await
    }

    async fn set_setpoint(&mut self, kelvin: f64) -> DeviceResult<()> {
        self.envelope.check_setpoint(kelvin).map_err(|why| {
            DeviceError::new(self.name.clone(), DeviceErrorKind::OutOfEnvelope(why))
        })?;
        self.inner.set_setpoint(kelvin).await
    }

    async fn status(&mut self) -> DeviceResult<HeaterStatus> {
        self.inner.status().await
    }
}
