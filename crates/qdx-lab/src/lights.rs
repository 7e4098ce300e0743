//! Lights without a protocol of their own: a light the operator keeps on ([`ManualLight`]),
//! and the lamp-enable output of an Ocean spectrometer as a light of its own
//! ([`ocean_lamp_output`]).
//!
//! A spectrometer whose lamp output is a light is split in two handles over one driver: the
//! spectrometer (which then switches no source itself: the plan switches the light before it
//! asks for a spectrum) and the light. The lamp command is the spectrometer's own (`J` on the
//! legacy RS-232 set, SAD500 Communications and Control; see `drivers::ocean`), so the light
//! adds no protocol.
//!
//! Invariants: the spectrometer handle never switches the lamp output (the driver's own
//! switching around each acquisition is held back by [`LampGate`]); the light handle is the
//! only thing that does; both wait for each other on one lock, so a switch never lands in the
//! middle of a scan.

use std::sync::Arc;

use async_trait::async_trait;
use qdx_spectra::Spectrum;
use tokio::sync::Mutex;

use crate::device::{AcquireRequest, Identity, Illumination, Light, Spectrometer};
use crate::drivers::ocean::{Detector, OceanBackend, OceanSpectrometer, Scans};
use crate::error::{DeviceError, DeviceResult};

/// A light the operator switches (or leaves on): nothing is sent. qdx cannot tell whether it
/// is on, and the check warns that it reaches every spectrum.
#[derive(Debug, Clone)]
pub struct ManualLight {
    name: String,
}

impl ManualLight {
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }
}

#[async_trait]
impl Light for ManualLight {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        Ok(Identity {
            vendor: "operator".into(),
            model: "manual light".into(),
            firmware: None,
            serial_number: Some(self.name.clone()),
        })
    }

    async fn set(&mut self, _on: bool) -> DeviceResult<()> {
        Ok(())
    }

    async fn state(&mut self) -> DeviceResult<Option<bool>> {
        Ok(None)
    }
}

/// An Ocean backend whose lamp output only the light handle switches: the driver's own
/// `set_lamp` calls (around each acquisition) are held back.
#[derive(Debug)]
pub struct LampGate<B> {
    inner: B,
    on: bool,
}

impl<B: OceanBackend> LampGate<B> {
    pub fn new(inner: B) -> Self {
        Self { inner, on: false }
    }

    /// Switches the lamp output: the light handle's command.
    async fn switch(&mut self, on: bool) -> DeviceResult<()> {
        self.inner.set_lamp(on).await?;
        self.on = on;
        Ok(())
    }
}

#[async_trait]
impl<B: OceanBackend> OceanBackend for LampGate<B> {
    fn detector(&self) -> &Detector {
        self.inner.detector()
    }

    async fn identify(&mut self) -> DeviceResult<(Option<String>, Option<String>)> {
        self.inner.identify().await
    }

    async fn stored_wavelengths(&mut self) -> DeviceResult<Option<Vec<f64>>> {
        self.inner.stored_wavelengths().await
    }

    async fn stored_nonlinearity(&mut self) -> DeviceResult<Vec<f64>> {
        self.inner.stored_nonlinearity().await
    }

    async fn set_integration_us(&mut self, us: u32) -> DeviceResult<()> {
        self.inner.set_integration_us(us).await
    }

    /// Held back: the lamp output belongs to the light.
    async fn set_lamp(&mut self, _on: bool) -> DeviceResult<()> {
        Ok(())
    }

    async fn read_scans(&mut self, scans: u32) -> DeviceResult<Scans> {
        self.inner.read_scans(scans).await
    }
}

type Shared<B> = Arc<Mutex<OceanSpectrometer<LampGate<B>>>>;

/// The spectrometer half: acquires without switching any source.
#[derive(Debug)]
struct GatedSpectrometer<B> {
    shared: Shared<B>,
}

#[async_trait]
impl<B: OceanBackend + 'static> Spectrometer for GatedSpectrometer<B> {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        self.shared.lock().await.identify().await
    }

    async fn acquire(&mut self, request: &AcquireRequest) -> DeviceResult<Spectrum> {
        // The plan switched the light already; the driver must not ask for a source of its own.
        let request = AcquireRequest {
            illumination: Illumination::Dark,
            ..*request
        };
        self.shared.lock().await.acquire(&request).await
    }

    async fn discard(&mut self, request: &AcquireRequest) -> DeviceResult<()> {
        let request = AcquireRequest {
            illumination: Illumination::Dark,
            ..*request
        };
        self.shared.lock().await.discard(&request).await
    }
}

/// The light half: the spectrometer's lamp-enable output.
#[derive(Debug)]
struct LampOutput<B> {
    name: String,
    shared: Shared<B>,
}

#[async_trait]
impl<B: OceanBackend + 'static> Light for LampOutput<B> {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        let mut id = self.shared.lock().await.identify().await?;
        id.model = format!("{} lamp output", id.model);
        Ok(id)
    }

    async fn set(&mut self, on: bool) -> DeviceResult<()> {
        let name = self.name.clone();
        self.shared
            .lock()
            .await
            .backend_mut()
            .switch(on)
            .await
            .map_err(|e| DeviceError::new(name, e.kind))
    }

    async fn state(&mut self) -> DeviceResult<Option<bool>> {
        Ok(Some(self.shared.lock().await.backend_mut().on))
    }
}

/// Makes the light on a spectrometer's lamp output, named as the campaign names the light.
pub type LampOutputLight = Box<dyn FnOnce(&str) -> Box<dyn Light> + Send>;

/// Splits an Ocean spectrometer into a spectrometer that switches nothing and (through the
/// returned maker) the light on its lamp output. The lamp starts off.
pub async fn ocean_lamp_output<B: OceanBackend + 'static>(
    name: &str,
    backend: B,
    wavelength: Option<Vec<f64>>,
) -> DeviceResult<(Box<dyn Spectrometer>, LampOutputLight)> {
    let mut gate = LampGate::new(backend);
    gate.switch(false).await?;
    let spectrometer = OceanSpectrometer::open(name, gate, wavelength, None).await?;
    let shared: Shared<B> = Arc::new(Mutex::new(spectrometer));
    let light_shared = Arc::clone(&shared);
    let light: LampOutputLight = Box::new(move |light_name: &str| {
        Box::new(LampOutput {
            name: light_name.to_owned(),
            shared: light_shared,
        }) as Box<dyn Light>
    });
    Ok((Box::new(GatedSpectrometer { shared }), light))
}
