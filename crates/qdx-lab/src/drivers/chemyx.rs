//! Chemyx Fusion syringe pumps (100/200/4000/6000, NanoJet, OEM), single channel.
//!
//! Source: instruments.md A3 (`cukelarter/Chemyx-Syringe-Pump`, `Chemios/chemios`,
//! `Ulm-IQO/qudi-iqo-modules:src/qudi/hardware/pump/chemyx_f4000x.py`).
//!
//! Invariants:
//! - Every reply is read to its `>` prompt ([`protocol::decode`]): vendor drivers wait
//!   0.3–0.5 s before reading, and a reader that guessed a shorter quiet time took the echo
//!   alone for the answer. The echo of the command line is dropped before the answer is read.
//! - The driver works in µL/min (`set units 2`, volumes in µL), which keeps 1 nL/min
//!   resolution with the pump's three decimals at every rate an SDL uses.
//! - Direction is the sign of the target volume (the pump has no direction command); each
//!   start sends `set volume ±syringe volume`, so the pump stops by itself at an empty (or
//!   full) syringe.
//! - Every settings answer (`rate = 1.000`) is checked numerically against what was sent; one
//!   that does not match is [`DeviceErrorKind::Garbage`], an `invalid` line is
//!   [`DeviceErrorKind::Refused`]. The key of the answer to `set units` / `set diameter` is
//!   unverified: `unit` / `dia` (as `view parameter` prints them) and `units` / `diameter`
//!   are both accepted.
//! - A stall shows as `pump status` 4: `start` reads it back and fails with
//!   [`DeviceErrorKind::Alarm`]; `status` reports it in [`PumpStatus::alarm`].
//! - `status` reports the rate set on the pump, read from it with `view parameter`, whose lines
//!   are `unit =`, `dia =`, `rate =`, `time =`, `volume =`, `delay =` (the key is `unit`, not
//!   `units`), never a cached value.
//! - The only way to the pump is the [`Pump`] trait and `configure`: raw commands are private.

use std::time::Duration;

use async_trait::async_trait;

use crate::device::{Identity, Pump, PumpDirection, PumpStatus};
use crate::error::{DeviceError, DeviceErrorKind, DeviceResult};
use crate::protocol::chemyx::{self as protocol, PumpState, echo_value, units_si};
use crate::transport::{ByteStream, SerialSettings, SharedLink};

/// RS-232 on the Fusion 4000/6000 (and 100/200); NanoJet/OEM and USB use 38 400.
pub const DEFAULT_BAUD: u32 = 9600;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1000);

/// 8N1, no flow control.
pub fn serial_settings(baud: u32) -> SerialSettings {
    SerialSettings::eight_n_one(baud)
}

const UL_PER_MIN: f64 = 1e-9 / 60.0;
const UL: f64 = 1e-9;

/// One Chemyx Fusion pump.
pub struct ChemyxPump<S> {
    name: String,
    link: SharedLink<S>,
    /// Syringe volume, m³: the target of each start.
    syringe_volume: f64,
    direction: PumpDirection,
    zero_rate: bool,
    /// Volumes moved in earlier runs (the pump's counter restarts with each run), m³.
    infused_before: f64,
    withdrawn_before: f64,
}

impl<S> std::fmt::Debug for ChemyxPump<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChemyxPump")
            .field("name", &self.name)
            .field("direction", &self.direction)
            .finish_non_exhaustive()
    }
}

impl<S: ByteStream> ChemyxPump<S> {
    /// A pump whose syringe holds `syringe_volume` m³. Nothing is sent yet.
    pub fn new(name: impl Into<String>, link: SharedLink<S>, syringe_volume: f64) -> Self {
        Self {
            name: name.into(),
            link,
            syringe_volume,
            direction: PumpDirection::Infuse,
            zero_rate: false,
            infused_before: 0.0,
            withdrawn_before: 0.0,
        }
    }

    fn error(&self, kind: DeviceErrorKind) -> DeviceError {
        DeviceError::new(self.name.clone(), kind)
    }

    /// Sends one command and returns the reply lines, without the echo of the command.
    async fn transact(&mut self, command: &str) -> DeviceResult<Vec<String>> {
        let mut link = self.link.lock().await;
        link.send(&protocol::encode(command))
            .await
            .map_err(|kind| self.error(kind))?;
        let mut lines = link
            .read_frame(protocol::decode)
            .await
            .map_err(|kind| self.error(kind))?;
        drop(link);
        if lines
            .first()
            .is_some_and(|line| line.trim().eq_ignore_ascii_case(command.trim()))
        {
            lines.remove(0);
        }
        if let Some(line) = lines
            .iter()
            .find(|line| line.to_ascii_lowercase().contains("invalid"))
        {
            return Err(self.error(DeviceErrorKind::Refused(format!("{command}: {line}"))));
        }
        Ok(lines)
    }

    /// Sends `set <name> <value>` and checks the answer `<key> = <value>` numerically, where
    /// the key is `name` or one of `keys` (see the module doc).
    async fn set(&mut self, name: &str, value: f64, text: &str) -> DeviceResult<()> {
        let lines = self.transact(&format!("set {name} {text}")).await?;
        let keys: &[&str] = match name {
            "units" => &["unit", "units"],
            "diameter" => &["dia", "diameter"],
            _ => &[name],
        };
        let echoed = lines
            .iter()
            .find_map(|line| keys.iter().find_map(|key| echo_value(line, key)))
            .and_then(|v| v.parse::<f64>().ok());
        match echoed {
            Some(echo) if (echo - value).abs() <= 1e-3 * value.abs().max(1.0) => Ok(()),
            _ => Err(self.error(DeviceErrorKind::Garbage(format!(
                "set {name} {text}: echo {lines:?}"
            )))),
        }
    }

    /// Sets the syringe diameter (mm) and the driver's units.
    pub async fn configure(&mut self, diameter_mm: f64) -> DeviceResult<()> {
        if !(diameter_mm.is_finite() && diameter_mm > 0.0) {
            return Err(self.error(DeviceErrorKind::OutOfEnvelope(format!(
                "syringe diameter {diameter_mm} mm"
            ))));
        }
        self.set("units", 2.0, "2").await?;
        self.set("diameter", diameter_mm, &format!("{diameter_mm:.3}"))
            .await
    }

    async fn pump_state(&mut self) -> DeviceResult<PumpState> {
        let lines = self.transact("pump status").await?;
        lines
            .iter()
            .find_map(|line| PumpState::from_code(line))
            .ok_or_else(|| self.error(DeviceErrorKind::Garbage(format!("pump status {lines:?}"))))
    }

    /// The rate set on the pump, m³/s, read from it.
    async fn rate_on_pump(&mut self) -> DeviceResult<f64> {
        let lines = self.transact("view parameter").await?;
        let value = |name: &str| {
            lines
                .iter()
                .find_map(|line| echo_value(line, name))
                .and_then(|v| v.parse::<f64>().ok())
        };
        let unit = value("unit")
            .filter(|u| u.fract() == 0.0 && (0.0..=3.0).contains(u))
            .and_then(|u| units_si(u as u8));
        match (value("rate"), unit) {
            (Some(rate), Some((rate_si, _))) if rate.is_finite() && rate >= 0.0 => {
                Ok(rate * rate_si)
            }
            _ => Err(self.error(DeviceErrorKind::Garbage(format!(
                "view parameter {lines:?}"
            )))),
        }
    }

    /// Volume moved in the current run, m³.
    async fn dispensed(&mut self) -> DeviceResult<f64> {
        let lines = self.transact("dispensed volume").await?;
        lines
            .iter()
            .find_map(|line| echo_value(line, "dispensed volume"))
            .and_then(|v| v.parse::<f64>().ok())
            .map(|ul| ul.abs() * UL)
            .ok_or_else(|| {
                self.error(DeviceErrorKind::Garbage(format!(
                    "dispensed volume {lines:?}"
                )))
            })
    }
}

#[async_trait]
impl<S: ByteStream> Pump for ChemyxPump<S> {
    async fn identify(&mut self) -> DeviceResult<Identity> {
        // The Fusion has no version query in the documented command set; a status read
        // proves the line works.
        self.pump_state().await?;
        Ok(Identity {
            vendor: "Chemyx".into(),
            model: "Fusion".into(),
            firmware: None,
            serial_number: None,
        })
    }

    async fn set_rate(&mut self, rate: f64) -> DeviceResult<()> {
        if rate == 0.0 {
            self.zero_rate = true;
            if self.pump_state().await? == PumpState::Running {
                self.stop().await?;
            }
            return Ok(());
        }
        let ul_min = rate / UL_PER_MIN;
        // Three decimals, truncated so the pump never runs faster than asked.
        let truncated = (ul_min * 1000.0 + 1e-6).floor() / 1000.0;
        if !(truncated.is_finite() && truncated > 0.0) {
            return Err(self.error(DeviceErrorKind::OutOfEnvelope(format!(
                "rate {rate:e} m³/s cannot be expressed in µL/min with 3 decimals"
            ))));
        }
        self.set("rate", truncated, &format!("{truncated:.3}"))
            .await?;
        self.zero_rate = false;
        Ok(())
    }

    async fn set_direction(&mut self, direction: PumpDirection) -> DeviceResult<()> {
        // Takes effect at the next start, where the volume's sign carries it.
        self.direction = direction;
        Ok(())
    }

    async fn start(&mut self) -> DeviceResult<()> {
        if self.zero_rate {
            return Ok(());
        }
        let volume_ul = self.syringe_volume / UL;
        let signed = match self.direction {
            PumpDirection::Infuse => volume_ul,
            PumpDirection::Withdraw => -volume_ul,
        };
        self.set("volume", signed, &format!("{signed:.3}")).await?;
        self.transact("start").await?;
        match self.pump_state().await? {
            PumpState::Running | PumpState::Delayed => Ok(()),
            PumpState::Stalled => Err(self.error(DeviceErrorKind::Alarm("motor stalled".into()))),
            other => Err(self.error(DeviceErrorKind::Refused(format!(
                "start: pump did not start ({other:?})"
            )))),
        }
    }

    async fn stop(&mut self) -> DeviceResult<()> {
        // Bank this run's volume first: the pump's counter belongs to the run.
        let moved = self.dispensed().await.unwrap_or(0.0);
        self.transact("stop").await?;
        match self.direction {
            PumpDirection::Infuse => self.infused_before += moved,
            PumpDirection::Withdraw => self.withdrawn_before += moved,
        }
        Ok(())
    }

    async fn status(&mut self) -> DeviceResult<PumpStatus> {
        let state = self.pump_state().await?;
        let moved = self.dispensed().await?;
        let (infused, withdrawn) = match self.direction {
            PumpDirection::Infuse => (self.infused_before + moved, self.withdrawn_before),
            PumpDirection::Withdraw => (self.infused_before, self.withdrawn_before + moved),
        };
        Ok(PumpStatus {
            running: state == PumpState::Running,
            direction: self.direction,
            rate: if self.zero_rate {
                0.0
            } else {
                self.rate_on_pump().await?
            },
            infused,
            withdrawn,
            alarm: (state == PumpState::Stalled).then(|| "motor stalled".to_string()),
        })
    }
}
