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
//!   set through this guard, or else read back from the pump just before.
//! - `set_direction(Withdraw)` passes only when the envelope allows withdrawal.
//! - `set_setpoint` passes only setpoints in `[min_temperature, max_temperature]`.
//! - Reads (`identify`, `status`) and `stop` always pass: stopping is always safe.

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

    pub fn into_inner(self) -> P {
        self.inner
    }

    fn refuse(&self, why: String) -> DeviceError {
        DeviceError::new(self.name.clone(), DeviceErrorKind::OutOfEnvelope(why))
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
            None => self.inner.status().await?.rate,
        };
        self.envelope
            .check_rate(rate)
            .map_err(|why| self.refuse(format!("start: {why}")))?;
        self.inner.start().await
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

    pub fn into_inner(self) -> H {
        self.inner
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
