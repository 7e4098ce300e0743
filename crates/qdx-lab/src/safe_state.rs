//! Bringing the lab to a safe state: every pump stopped, every heater at its safe setpoint.
//!
//! Invariants: every device is tried, in the order given (pumps first: stopping flow is the
//! most urgent), each call under its own deadline, whatever the earlier ones did; the report
//! lists every action with its outcome, so nothing fails silently.

use std::time::Duration;

use crate::device::{Heater, Pump};
use crate::error::DeviceError;
use crate::watchdog::with_deadline;

/// One action taken.
#[derive(Debug, Clone, PartialEq)]
pub struct SafeAction {
    pub device: String,
    /// `stop` or `setpoint <K>`.
    pub action: String,
    pub result: Result<(), DeviceError>,
}

/// Everything [`safe_state`] did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SafeStateReport {
    pub actions: Vec<SafeAction>,
}

impl SafeStateReport {
    /// True when every action succeeded.
    pub fn all_safe(&self) -> bool {
        self.actions.iter().all(|a| a.result.is_ok())
    }

    pub fn failures(&self) -> impl Iterator<Item = &SafeAction> {
        self.actions.iter().filter(|a| a.result.is_err())
    }
}

/// A heater and the setpoint (K) it should go to when the lab is made safe.
pub struct SafeHeater<'a> {
    pub name: &'a str,
    pub heater: &'a mut dyn Heater,
    pub safe_setpoint: f64,
}

impl std::fmt::Debug for SafeHeater<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SafeHeater")
            .field("name", &self.name)
            .field("safe_setpoint", &self.safe_setpoint)
            .finish_non_exhaustive()
    }
}

/// Stops every pump and sets every heater to its safe setpoint, best effort.
pub async fn safe_state(
    pumps: &mut [(&str, &mut dyn Pump)],
    heaters: &mut [SafeHeater<'_>],
    deadline: Duration,
) -> SafeStateReport {
    let mut report = SafeStateReport::default();
    for (name, pump) in pumps.iter_mut() {
        let result = with_deadline(name, deadline, pump.stop()).await;
        report.actions.push(SafeAction {
            device: (*name).to_string(),
            action: "stop".into(),
            result,
        });
    }
    for heater in heaters.iter_mut() {
        let result = with_deadline(
            heater.name,
            deadline,
            heater.heater.set_setpoint(heater.safe_setpoint),
        )
        .await;
        report.actions.push(SafeAction {
            device: heater.name.to_string(),
            action: format!("setpoint {} K", heater.safe_setpoint),
            result,
        });
    }
    report
}
