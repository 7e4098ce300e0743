//! The commands a plan sends to devices: the one type from the plan to the wire. The planner
//! schedules them, the runtime sends exactly them (and folds them into the settings in effect,
//! `crate::record::InEffect`), the journal records exactly them, and a replay compares them.
//!
//! Every value is SI (m³/s, m³, K, s), as the device drivers take them.

use qdx_lab::Illumination;
use serde::{Deserialize, Serialize};

use crate::validate::campaign::ChannelKind;

/// A command to one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Set a pump's rate (m³/s) and run it; a zero rate stops it.
    SetRate { rate: f64 },
    /// Stop a pump.
    Stop,
    /// Refill a syringe from its reservoir: withdraw `volume` (m³) at `rate` (m³/s), then
    /// stop with the pump set to infuse again.
    Refill { volume: f64, rate: f64 },
    /// Set a heater's setpoint (K).
    SetSetpoint { kelvin: f64 },
    /// Turn a valve to a position; `name` is what the lab binding calls it (`sample`), absent
    /// when the lab names none (and on the simulated lab).
    SetPosition {
        position: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// Take one averaged spectrum under a light: `averages` scans of `integration` s each.
    Acquire {
        illumination: Illumination,
        integration: f64,
        averages: u32,
        /// Which replicate of the experiment's measurement it is, from 0 (0 for calibration
        /// spectra; absent in journals written before it was recorded).
        #[serde(default)]
        replicate: u32,
        /// The campaign's light the plan switched on for it (`None` for a dark spectrum, and
        /// when the spectrometer's own source serves the channel). With lights, the
        /// spectrometer is asked for no source of its own.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        light: Option<String>,
        /// Which of the measurement's probe points it reads, from 0 (absent without a
        /// `probe`: the one reading, in the cell).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        point: Option<u32>,
        /// Which reading of a transient measurement's ramp it is, from 0 (absent without a
        /// `transient`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tick: Option<u32>,
    },
    /// Move a spectrometer's probe along a coil to point `point` (from 0) of the
    /// measurement's `probe`, `volume` m³ of coil `coil` from its inlet.
    MoveProbe {
        point: u32,
        coil: String,
        volume: f64,
    },
    /// Switch a light on or off.
    SetLight { on: bool },
    /// Take one scan of `integration` s and throw it away: the first scan after a light is
    /// switched or the integration time changes mixes the old state with the new (a
    /// free-running detector was already integrating).
    Discard { integration: f64 },
}

impl Command {
    /// Whether the command changes a device's setting (a pump's, a heater's, a valve's): the
    /// settings of a step go out together, before its waits and acquisitions. Lights and
    /// discarded scans are not: they are sent in order with the acquisitions.
    pub fn is_setting(&self) -> bool {
        !matches!(
            self,
            Command::Acquire { .. }
                | Command::SetLight { .. }
                | Command::Discard { .. }
                | Command::MoveProbe { .. }
        )
    }

    /// The acquisition of one channel's spectrum.
    pub fn acquire(channel: ChannelKind, integration: f64, averages: u32, replicate: u32) -> Self {
        Command::Acquire {
            illumination: illumination(channel),
            integration,
            averages,
            replicate,
            light: None,
            point: None,
            tick: None,
        }
    }

    /// What a spectrometer is asked for by an acquisition (`None` for any other command).
    pub fn request(&self) -> Option<qdx_lab::AcquireRequest> {
        match self {
            Command::Acquire {
                illumination,
                integration,
                averages,
                light,
                ..
            } => Some(qdx_lab::AcquireRequest {
                illumination: if light.is_some() {
                    Illumination::Dark
                } else {
                    *illumination
                },
                integration_time_s: *integration,
                averages: *averages,
            }),
            Command::Discard { integration } => Some(qdx_lab::AcquireRequest {
                illumination: Illumination::Dark,
                integration_time_s: *integration,
                averages: 1,
            }),
            _ => None,
        }
    }
}

/// The light a channel is measured under.
pub fn illumination(channel: ChannelKind) -> Illumination {
    match channel {
        ChannelKind::Absorbance => Illumination::Broadband,
        ChannelKind::Photoluminescence => Illumination::Excitation,
        ChannelKind::Saxs => Illumination::XRay,
        ChannelKind::CircularDichroism => Illumination::CircularlyPolarized,
    }
}

/// The channel a spectrum under a light belongs to (`None` for a dark spectrum).
pub fn channel(illumination: Illumination) -> Option<ChannelKind> {
    match illumination {
        Illumination::Broadband => Some(ChannelKind::Absorbance),
        Illumination::Excitation => Some(ChannelKind::Photoluminescence),
        Illumination::XRay => Some(ChannelKind::Saxs),
        Illumination::CircularlyPolarized => Some(ChannelKind::CircularDichroism),
        Illumination::Dark => None,
    }
}
