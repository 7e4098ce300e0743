//! Real instruments in the runtime: how a lab binding's devices are opened, and the wrappers
//! that let the run loop drive them exactly like the simulated lab.
//!
//! Every pump and heater the runtime holds is, from the driver outwards:
//! 1. the serial driver (`qdx_lab::drivers`), opened through a [`DeviceConnector`];
//! 2. `qdx_lab::guard::GuardedPump` / `GuardedHeater` with the binding's envelope (the
//!    campaign's device limits ∩ the driver's capability ∩ the safety limits);
//! 3. for pumps, [`InfuseLimit`]: infusion faster than the safety limits on reactor flow is
//!    refused (a refill withdraws from the reservoir and only answers to the envelope);
//! 4. [`Watched`]: every call has a deadline, so a hung device cannot hang the run.
//!
//! Spectrometers are watched with a deadline that grows with the acquisition asked for; valves
//! with a call's deadline (their drivers read every move back until it arrives).
//!
//! Invariants: a command outside the limits is refused with `OutOfEnvelope` before anything
//! is written, whatever part of the runtime asked for it; every call returns within its
//! deadline (tokio's timer, like the drivers' own read deadlines).

use std::time::Duration;

use async_trait::async_trait;
use qdx_lab::registry::{self, RegistryError, Settings};
use qdx_lab::watchdog::with_deadline;
use qdx_lab::{
    AcquireRequest, DeviceError, DeviceErrorKind, DeviceResult, Heater, HeaterStatus, Identity,
    Light, Pump, PumpDirection, PumpStatus, Spectrometer, Valve,
};
use qdx_spectra::Spectrum;

/// The deadline of one device call (a command and its reply, or a status read of a few
/// queries). Drivers time out single replies much sooner; this catches a call that hangs.
pub const CALL_DEADLINE: Duration = Duration::from_secs(15);

/// The deadline for opening and configuring one device.
pub const CONNECT_DEADLINE: Duration = Duration::from_secs(30);

/// Opens bound devices. [`registry::Connector`] opens real serial ports; tests open drivers on
/// in-memory streams to emulators.
#[async_trait]
pub trait DeviceConnector: Send {
    async fn pump(
        &mut self,
        driver: &str,
        name: &str,
        settings: &Settings,
    ) -> Result<Box<dyn Pump>, RegistryError>;
    async fn heater(
        &mut self,
        driver: &str,
        name: &str,
        settings: &Settings,
    ) -> Result<Box<dyn Heater>, RegistryError>;
    async fn spectrometer(
        &mut self,
        driver: &str,
        name: &str,
        settings: &Settings,
    ) -> Result<Box<dyn Spectrometer>, RegistryError>;
    async fn valve(
        &mut self,
        driver: &str,
        name: &str,
        settings: &Settings,
    ) -> Result<Box<dyn Valve>, RegistryError>;
    /// Opens a light, after the spectrometers (one may switch it on its lamp output). By
    /// default only `manual` lights open.
    async fn light(
        &mut self,
        driver: &str,
        name: &str,
        settings: &Settings,
    ) -> Result<Box<dyn Light>, RegistryError> {
        registry::LampOutputs::default().light(driver, name, settings)
    }
}

#[async_trait]
impl DeviceConnector for registry::Connector {
    async fn pump(
        &mut self,
        driver: &str,
        name: &str,
        settings: &Settings,
    ) -> Result<Box<dyn Pump>, RegistryError> {
        registry::Connector::pump(self, driver, name, settings).await
    }

    async fn heater(
        &mut self,
        driver: &str,
        name: &str,
        settings: &Settings,
    ) -> Result<Box<dyn Heater>, RegistryError> {
        registry::Connector::heater(self, driver, name, settings).await
    }

    async fn spectrometer(
        &mut self,
        driver: &str,
        name: &str,
        settings: &Settings,
    ) -> Result<Box<dyn Spectrometer>, RegistryError> {
        registry::Connector::spectrometer(self, driver, name, settings).await
    }

    async fn valve(
        &mut self,
        driver: &str,
        name: &str,
        settings: &Settings,
    ) -> Result<Box<dyn Valve>, RegistryError> {
        registry::Connector::valve(self, driver, name, settings).await
    }

    async fn light(
        &mut self,
        driver: &str,
        name: &str,
        settings: &Settings,
    ) -> Result<Box<dyn Light>, RegistryError> {
        registry::Connector::light(self, driver, name, settings)
    }
}

/// A boxed pump as a `Pump` (the guard is generic over its inner device).
#[derive(Debug)]
pub struct DynPump(pub Box<dyn Pump>);

#[async_trait]
impl Pump for DynPump {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        self.0.identify().await
    }
    async fn set_rate(&mut self, rate: f64) -> DeviceResult<()> {
        self.0.set_rate(rate).await
    }
    async fn set_direction(&mut self, direction: PumpDirection) -> DeviceResult<()> {
        self.0.set_direction(direction).await
    }
    async fn start(&mut self) -> DeviceResult<()> {
        self.0.start().await
    }
    async fn stop(&mut self) -> DeviceResult<()> {
        self.0.stop().await
    }
    async fn status(&mut self) -> DeviceResult<PumpStatus> {
        self.0.status().await
    }
}

/// A boxed heater as a `Heater`.
#[derive(Debug)]
pub struct DynHeater(pub Box<dyn Heater>);

#[async_trait]
impl Heater for DynHeater {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        self.0.identify().await
    }
    async fn set_setpoint(&mut self, kelvin: f64) -> DeviceResult<()> {
        self.0.set_setpoint(kelvin).await
    }
    async fn status(&mut self) -> DeviceResult<HeaterStatus> {
        self.0.status().await
    }
}

/// Refuses infusion faster than `max` (m³/s); withdrawal passes to the inner pump's own limits.
///
/// Invariant: the pump is never started, nor switched to infusion while running, with a rate
/// above `max` in the infuse direction. Until a direction is set or read, it is taken to be
/// infusion, the stricter case. A rate never set through this wrapper is read from the pump
/// before a start (and an alarm that read finds fails the start: the read may have been the
/// only one to hear it). The rate the pump then really runs at is proved by the guard inside
/// (`GuardedPump` reads it back after every start).
#[derive(Debug)]
pub struct InfuseLimit<P> {
    name: String,
    inner: P,
    max: f64,
    direction: PumpDirection,
    rate: Option<f64>,
    running: bool,
}

impl<P: Pump> InfuseLimit<P> {
    pub fn new(name: impl Into<String>, inner: P, max: f64) -> Self {
        Self {
            name: name.into(),
            inner,
            max,
            direction: PumpDirection::Infuse,
            rate: None,
            running: false,
        }
    }

    fn too_fast(&self, rate: f64) -> bool {
        rate > self.max * (1.0 + 1e-9)
    }

    fn refuse(&self, rate: f64) -> DeviceError {
        DeviceError::new(
            self.name.clone(),
            DeviceErrorKind::OutOfEnvelope(format!(
                "infusing at {rate:e} m³/s is above the safety limit {:e} m³/s",
                self.max
            )),
        )
    }
}

#[async_trait]
impl<P: Pump> Pump for InfuseLimit<P> {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        self.inner.identify().await
    }

    async fn set_rate(&mut self, rate: f64) -> DeviceResult<()> {
        if self.direction == PumpDirection::Infuse && self.too_fast(rate) {
            return Err(self.refuse(rate));
        }
        self.inner.set_rate(rate).await?;
        self.rate = Some(rate);
        Ok(())
    }

    async fn set_direction(&mut self, direction: PumpDirection) -> DeviceResult<()> {
        if direction == PumpDirection::Infuse
            && self.running
            && let Some(rate) = self.rate.filter(|r| self.too_fast(*r))
        {
            return Err(self.refuse(rate));
        }
        self.inner.set_direction(direction).await?;
        self.direction = direction;
        Ok(())
    }

    async fn start(&mut self) -> DeviceResult<()> {
        let rate = match self.rate {
            Some(rate) => rate,
            None => {
                let status =
                    qdx_lab::guard::status_without_alarm(&mut self.inner, &self.name).await?;
                self.direction = status.direction;
                status.rate
            }
        };
        if self.direction == PumpDirection::Infuse && self.too_fast(rate) {
            return Err(self.refuse(rate));
        }
        self.inner.start().await?;
        self.running = true;
        Ok(())
    }

    async fn stop(&mut self) -> DeviceResult<()> {
        self.inner.stop().await?;
        self.running = false;
        Ok(())
    }

    async fn status(&mut self) -> DeviceResult<PumpStatus> {
        let status = self.inner.status().await?;
        self.direction = status.direction;
        self.running = status.running;
        Ok(status)
    }
}

/// Every call of the inner device under a deadline.
#[derive(Debug)]
pub struct Watched<T> {
    name: String,
    inner: T,
    deadline: Duration,
}

impl<T> Watched<T> {
    pub fn new(name: impl Into<String>, inner: T, deadline: Duration) -> Self {
        Self {
            name: name.into(),
            inner,
            deadline,
        }
    }
}

#[async_trait]
impl<P: Pump> Pump for Watched<P> {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        with_deadline(&self.name, self.deadline, self.inner.identify()).await
    }
    async fn set_rate(&mut self, rate: f64) -> DeviceResult<()> {
        with_deadline(&self.name, self.deadline, self.inner.set_rate(rate)).await
    }
    async fn set_direction(&mut self, direction: PumpDirection) -> DeviceResult<()> {
        with_deadline(
            &self.name,
            self.deadline,
            self.inner.set_direction(direction),
        )
        .await
    }
    async fn start(&mut self) -> DeviceResult<()> {
        with_deadline(&self.name, self.deadline, self.inner.start()).await
    }
    async fn stop(&mut self) -> DeviceResult<()> {
        with_deadline(&self.name, self.deadline, self.inner.stop()).await
    }
    async fn status(&mut self) -> DeviceResult<PumpStatus> {
        with_deadline(&self.name, self.deadline, self.inner.status()).await
    }
}

#[async_trait]
impl<H: Heater> Heater for Watched<H> {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        with_deadline(&self.name, self.deadline, self.inner.identify()).await
    }
    async fn set_setpoint(&mut self, kelvin: f64) -> DeviceResult<()> {
        with_deadline(&self.name, self.deadline, self.inner.set_setpoint(kelvin)).await
    }
    async fn status(&mut self) -> DeviceResult<HeaterStatus> {
        with_deadline(&self.name, self.deadline, self.inner.status()).await
    }
}

/// How long an acquisition may take: the scans themselves twice over, plus a call's deadline.
pub fn acquire_deadline(base: Duration, request: &AcquireRequest) -> Duration {
    let scans = request.integration_time_s * f64::from(request.averages.max(1));
    let scans = if scans.is_finite() && scans > 0.0 {
        scans.min(1e6)
    } else {
        0.0
    };
    base + Duration::from_secs_f64(2.0 * scans)
}

#[async_trait]
impl<S: Spectrometer> Spectrometer for Watched<S> {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        with_deadline(&self.name, self.deadline, self.inner.identify()).await
    }
    async fn acquire(&mut self, request: &AcquireRequest) -> DeviceResult<Spectrum> {
        let deadline = acquire_deadline(self.deadline, request);
        with_deadline(&self.name, deadline, self.inner.acquire(request)).await
    }
    async fn discard(&mut self, request: &AcquireRequest) -> DeviceResult<()> {
        let deadline = acquire_deadline(self.deadline, request);
        with_deadline(&self.name, deadline, self.inner.discard(request)).await
    }
    async fn move_probe(&mut self, coil: &str, volume: f64) -> DeviceResult<()> {
        with_deadline(
            &self.name,
            self.deadline,
            self.inner.move_probe(coil, volume),
        )
        .await
    }
}

/// A boxed valve as a `Valve`.
#[derive(Debug)]
pub struct DynValve(pub Box<dyn Valve>);

#[async_trait]
impl Valve for DynValve {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        self.0.identify().await
    }
    async fn set_position(&mut self, position: u16) -> DeviceResult<()> {
        self.0.set_position(position).await
    }
    async fn position(&mut self) -> DeviceResult<u16> {
        self.0.position().await
    }
}

#[async_trait]
impl<V: Valve> Valve for Watched<V> {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        with_deadline(&self.name, self.deadline, self.inner.identify()).await
    }
    async fn set_position(&mut self, position: u16) -> DeviceResult<()> {
        with_deadline(&self.name, self.deadline, self.inner.set_position(position)).await
    }
    async fn position(&mut self) -> DeviceResult<u16> {
        with_deadline(&self.name, self.deadline, self.inner.position()).await
    }
}

/// A boxed spectrometer as a `Spectrometer`.
#[derive(Debug)]
pub struct DynSpectrometer(pub Box<dyn Spectrometer>);

#[async_trait]
impl Spectrometer for DynSpectrometer {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        self.0.identify().await
    }
    async fn acquire(&mut self, request: &AcquireRequest) -> DeviceResult<Spectrum> {
        self.0.acquire(request).await
    }
    async fn discard(&mut self, request: &AcquireRequest) -> DeviceResult<()> {
        self.0.discard(request).await
    }
    async fn move_probe(&mut self, coil: &str, volume: f64) -> DeviceResult<()> {
        self.0.move_probe(coil, volume).await
    }
}

#[async_trait]
impl<L: Light> Light for Watched<L> {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        with_deadline(&self.name, self.deadline, self.inner.identify()).await
    }
    async fn set(&mut self, on: bool) -> DeviceResult<()> {
        with_deadline(&self.name, self.deadline, self.inner.set(on)).await
    }
    async fn state(&mut self) -> DeviceResult<Option<bool>> {
        with_deadline(&self.name, self.deadline, self.inner.state()).await
    }
}

/// A boxed light as a `Light`.
#[derive(Debug)]
pub struct DynLight(pub Box<dyn Light>);

#[async_trait]
impl Light for DynLight {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        self.0.identify().await
    }
    async fn set(&mut self, on: bool) -> DeviceResult<()> {
        self.0.set(on).await
    }
    async fn state(&mut self) -> DeviceResult<Option<bool>> {
        self.0.state().await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use qdx_lab::drivers::new_era::{self, NewEraPump};
    use qdx_lab::emulators::Emulator;
    use qdx_lab::emulators::new_era::NewEraChain;
    use qdx_lab::guard::{Envelope, GuardedPump};
    use qdx_lab::protocol::new_era::Mode;
    use qdx_lab::transport::{Link, share};
    use qdx_lab::{DeviceErrorKind, Pump, VirtualClock};

    use super::InfuseLimit;

    const ML_PER_MIN: f64 = 1e-6 / 60.0;

    /// Issue 9, item 4: a pump whose rate was never set through the infuse limit is not started
    /// at the rate on its panel when that is above the limit (the envelope alone allows it).
    #[tokio::test(start_paused = true)]
    async fn the_infuse_limit_reads_a_rate_it_never_set_before_a_start() {
        let chain = Emulator::new(NewEraChain::new(Arc::new(VirtualClock::new()), &[0]));
        chain.with_device(|c| {
            if let Some(p) = c.pumps.get_mut(&0) {
                p.alarm = None;
                p.rate_value = 5.0;
            }
        });
        let link = share(Link::new(chain.connect(), new_era::DEFAULT_TIMEOUT));
        let raw = NewEraPump::new("p_seed", link, 0, Mode::Basic);
        let guarded = GuardedPump::new(
            "p_seed",
            raw,
            Envelope::pump(1e-12, 10.0 * ML_PER_MIN, true),
        );
        let mut p = InfuseLimit::new("p_seed", guarded, 2.0 * ML_PER_MIN);
        let error = p
            .start()
            .await
            .expect_err("5 mL/min is above the infuse limit");
        assert!(
            matches!(error.kind, DeviceErrorKind::OutOfEnvelope(_)),
            "{error}"
        );
        assert!(
            !chain.received().iter().any(|r| r.ends_with(b"RUN")),
            "{:?}",
            chain.received()
        );
    }
}
