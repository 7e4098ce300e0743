//! The lab as the runtime sees it: device traits, the clock, and the errors devices raise.
//!
//! Two families implement these traits as siblings: the simulated lab (`qdx-sim`) and the serial
//! drivers for real instruments (`drivers`, tested against `emulators`). The runtime and its
//! tests see only the traits.
//!
//! Units at this boundary are SI, always: volumes in m³, flow rates in m³/s, temperatures in
//! kelvin, pressures in pascal, times as [`std::time::Duration`] or seconds. Spectra keep their
//! wavelength grid in nanometres, as every spectrometer reports it.

pub mod capability;
pub mod clock;
pub mod device;
pub mod drivers;
pub mod emulators;
pub mod error;
pub mod guard;
pub mod lights;
pub mod protocol;
pub mod registry;
pub mod retry;
pub mod safe_state;
pub mod transport;
pub mod usb;
pub mod watchdog;

pub use clock::{Clock, RealClock, Sleep, VirtualClock};
pub use device::{
    AcquireRequest, Heater, HeaterStatus, Identity, Illumination, Light, PressureSensor, Pump,
    PumpDirection, PumpStatus, Spectrometer, Valve,
};
pub use error::{DeviceError, DeviceErrorKind, DeviceResult};
