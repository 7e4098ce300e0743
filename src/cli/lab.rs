//! `qdx lab probe LAB [--campaign FILE]`: connect to every bound device, read what it says it
//! is and its status, and print one row per device.
//!
//! Nothing is started or heated: opening a pump writes its syringe diameter (the drivers
//! configure it on connection; a valve's actuator is told not to answer moves), and every
//! other call is a read. Every call has a deadline, so
//! a silent device shows as failed instead of hanging the probe.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use qdx_lab::emulators::rig::{EmptyPlant, EmulatedPorts, RigDevice};
use qdx_lab::registry::{self, DeviceKind};
use qdx_lab::{Clock, DeviceError, Identity, PumpDirection, RealClock};

use super::{CliError, Outcome};
use crate::bind::{Bind, check_lab};
use crate::diagnostic::Style;
use crate::runtime::hardware::{CALL_DEADLINE, CONNECT_DEADLINE, DeviceConnector};
use crate::source::SourceMap;
use crate::world::DiskWorld;

/// What one device answered.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeRow {
    pub device: String,
    pub driver: String,
    pub port: String,
    /// The identity, or why it could not be read.
    pub identity: Result<String, String>,
    pub status: Result<String, String>,
}

impl ProbeRow {
    pub fn ok(&self) -> bool {
        self.identity.is_ok() && self.status.is_ok()
    }
}

fn identity_text(i: &Identity) -> String {
    let mut t = format!("{} {}", i.vendor, i.model);
    if let Some(f) = &i.firmware {
        t.push_str(&format!(", firmware {f}"));
    }
    if let Some(s) = &i.serial_number {
        t.push_str(&format!(", serial {s}"));
    }
    t
}

fn celsius(kelvin: f64) -> String {
    format!("{:.1} °C", kelvin - 273.15)
}

async fn timed<T>(
    deadline: Duration,
    call: impl std::future::Future<Output = Result<T, DeviceError>>,
) -> Result<T, String> {
    match tokio::time::timeout(deadline, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.kind.to_string()),
        Err(_) => Err(format!("no answer within {} s", deadline.as_secs())),
    }
}

/// One failed row per binding: none could be connected, for `why`.
fn unbound_rows(binds: &[Bind], why: &str) -> Vec<ProbeRow> {
    binds
        .iter()
        .map(|b| ProbeRow {
            device: b.device.clone(),
            driver: b.driver.clone(),
            port: b.port().to_owned(),
            identity: Err(why.to_owned()),
            status: Err(why.to_owned()),
        })
        .collect()
}

/// Connects every binding in turn and reads its identity and status.
pub async fn probe_binds(binds: &[Bind], connector: &mut dyn DeviceConnector) -> Vec<ProbeRow> {
    let mut rows = Vec::new();
    for b in binds {
        let mut row = ProbeRow {
            device: b.device.clone(),
            driver: b.driver.clone(),
            // USB devices are found by their ids and serial number, not a port.
            port: if b.port().is_empty() {
                "usb".to_owned()
            } else {
                b.port().to_owned()
            },
            identity: Err("not connected".into()),
            status: Err("not connected".into()),
        };
        let failed = |e: registry::RegistryError| match e {
            registry::RegistryError::Connect { kind, .. } => format!("cannot connect: {kind}"),
            other => other.to_string(),
        };
        let connect_timeout = || format!("cannot connect within {} s", CONNECT_DEADLINE.as_secs());
        match b.kind {
            DeviceKind::Pump => {
                match tokio::time::timeout(
                    CONNECT_DEADLINE,
                    connector.pump(&b.driver, &b.device, &b.settings),
                )
                .await
                {
                    Err(_) => row.identity = Err(connect_timeout()),
                    Ok(Err(e)) => row.identity = Err(failed(e)),
                    Ok(Ok(mut pump)) => {
                        row.identity = timed(CALL_DEADLINE, pump.identify())
                            .await
                            .map(|i| identity_text(&i));
                        row.status = timed(CALL_DEADLINE, pump.status()).await.map(|s| {
                            let mut t = format!(
                                "{}, {}, rate {} mL/min",
                                if s.running { "running" } else { "stopped" },
                                match s.direction {
                                    PumpDirection::Infuse => "infuse",
                                    PumpDirection::Withdraw => "withdraw",
                                },
                                qdx_units::format_number(s.rate * 6e7)
                            );
                            if let Some(a) = s.alarm {
                                t.push_str(&format!(", alarm: {a}"));
                            }
                            t
                        });
                    }
                }
            }
            DeviceKind::Heater => {
                match tokio::time::timeout(
                    CONNECT_DEADLINE,
                    connector.heater(&b.driver, &b.device, &b.settings),
                )
                .await
                {
                    Err(_) => row.identity = Err(connect_timeout()),
                    Ok(Err(e)) => row.identity = Err(failed(e)),
                    Ok(Ok(mut heater)) => {
                        row.identity = timed(CALL_DEADLINE, heater.identify())
                            .await
                            .map(|i| identity_text(&i));
                        row.status = timed(CALL_DEADLINE, heater.status()).await.map(|s| {
                            let mut t = format!(
                                "{}, setpoint {}",
                                celsius(s.temperature),
                                celsius(s.setpoint)
                            );
                            if let Some(a) = s.alarm {
                                t.push_str(&format!(", alarm: {a}"));
                            }
                            t
                        });
                    }
                }
            }
            DeviceKind::Valve => {
                match tokio::time::timeout(
                    CONNECT_DEADLINE,
                    connector.valve(&b.driver, &b.device, &b.settings),
                )
                .await
                {
                    Err(_) => row.identity = Err(connect_timeout()),
                    Ok(Err(e)) => row.identity = Err(failed(e)),
                    Ok(Ok(mut valve)) => {
                        row.identity = timed(CALL_DEADLINE, valve.identify())
                            .await
                            .map(|i| identity_text(&i));
                        let names = match b.settings.get("names") {
                            Some(registry::SettingValue::Names(n)) => n.clone(),
                            _ => Default::default(),
                        };
                        row.status = timed(CALL_DEADLINE, valve.position()).await.map(|p| {
                            match names.iter().find(|(_, at)| **at == i64::from(p)) {
                                Some((name, _)) => format!("position {p} ({name})"),
                                None => format!("position {p}"),
                            }
                        });
                    }
                }
            }
            DeviceKind::Spectrometer => {
                match tokio::time::timeout(
                    CONNECT_DEADLINE,
                    connector.spectrometer(&b.driver, &b.device, &b.settings),
                )
                .await
                {
                    Err(_) => row.identity = Err(connect_timeout()),
                    Ok(Err(e)) => row.identity = Err(failed(e)),
                    Ok(Ok(mut spectrometer)) => {
                        row.identity = timed(CALL_DEADLINE, spectrometer.identify())
                            .await
                            .map(|i| identity_text(&i));
                        // A spectrometer has no status beyond answering.
                        row.status = row
                            .identity
                            .as_ref()
                            .map(|_| "ready".to_owned())
                            .map_err(|_| "no answer".to_owned());
                    }
                }
            }
            // A light is not switched while probing (a lamp output is probed with its
            // spectrometer); what switches it is shown instead.
            DeviceKind::Light if b.settings.contains_key("port") => {
                match tokio::time::timeout(
                    CONNECT_DEADLINE,
                    connector.light(&b.driver, &b.device, &b.settings),
                )
                .await
                {
                    Err(_) => row.identity = Err(connect_timeout()),
                    Ok(Err(e)) => row.identity = Err(failed(e)),
                    Ok(Ok(mut light)) => {
                        row.identity = timed(CALL_DEADLINE, light.identify())
                            .await
                            .map(|i| identity_text(&i));
                        row.status = timed(CALL_DEADLINE, light.state()).await.map(|s| {
                            match s {
                                Some(true) => "on",
                                Some(false) => "off",
                                None => "state unknown",
                            }
                            .to_owned()
                        });
                    }
                }
            }
            DeviceKind::Light => {
                let spectrometer = match b.settings.get("spectrometer") {
                    Some(registry::SettingValue::String(s)) => Some(s.clone()),
                    _ => None,
                };
                row.identity = Ok(match &spectrometer {
                    Some(s) => format!("lamp output of {s}"),
                    None => "switched by the operator".to_owned(),
                });
                row.status = Ok("not switched while probing".to_owned());
            }
        }
        if row.identity.is_err() && row.status.is_err() {
            row.status = Err("failed".into());
        }
        rows.push(row);
    }
    rows
}

/// The rows as an aligned table.
pub fn table(rows: &[ProbeRow]) -> String {
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            [
                r.device.clone(),
                r.driver.clone(),
                r.port.clone(),
                r.identity.clone().unwrap_or_else(|e| format!("error: {e}")),
                match &r.status {
                    Ok(s) => s.clone(),
                    Err(e) if r.identity.is_err() => e.clone(),
                    Err(e) => format!("error: {e}"),
                },
            ]
        })
        .collect();
    let header = ["device", "driver", "port", "identity", "status"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&cells) {
        let mut line = String::new();
        for (k, (cell, w)) in row.iter().zip(widths).enumerate() {
            if k + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(w.saturating_sub(cell.chars().count()) + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub fn probe(
    lab: &Path,
    campaign: Option<&Path>,
    emulate: bool,
    format: super::TextOrJson,
    style: Style,
) -> Result<Outcome, CliError> {
    let checked = campaign.map(super::check::check_file);
    if let Some(c) = &checked {
        super::usable(c.campaign.as_ref(), &c.diagnostics, &c.sources, style)?;
    }
    let display = lab.to_string_lossy().replace('\\', "/");
    let l = check_lab(
        &DiskWorld,
        lab,
        &display,
        checked
            .as_ref()
            .map_or_else(SourceMap::new, |c| c.sources.clone()),
        checked.as_ref().and_then(|c| c.campaign.as_ref()),
    );
    // A binding with errors is probed all the same, once its file parses.
    let parsed = super::usable(l.parsed, &l.diagnostics, &l.sources, style)?;
    let rows = if emulate {
        // Emulators in an empty plant: a probe reads identities and status, nothing flows.
        crate::runtime::paused_time()?.block_on(async {
            let clock: Arc<dyn Clock> = Arc::new(RealClock::new());
            let devices = parsed.binds.iter().map(|b| RigDevice {
                name: b.device.clone(),
                kind: b.driver.clone(),
                settings: b.settings.clone(),
            });
            match EmulatedPorts::new(clock.clone(), Arc::new(EmptyPlant), devices) {
                Ok(ports) => {
                    let mut connector = registry::Connector::with_ports(clock, Box::new(ports));
                    probe_binds(&parsed.binds, &mut connector).await
                }
                Err(e) => unbound_rows(&parsed.binds, &e.to_string()),
            }
        })
    } else {
        crate::runtime::current_thread()?.block_on(async {
            let clock: Arc<dyn Clock> = Arc::new(RealClock::new());
            let mut connector = registry::Connector::new(clock);
            probe_binds(&parsed.binds, &mut connector).await
        })
    };
    let failed = rows.iter().filter(|r| !r.ok()).count();
    let mut out = std::io::stdout().lock();
    if format == super::TextOrJson::Json {
        let _ = writeln!(out, "{}", json(&parsed.name, &rows));
        return Ok(if failed == 0 {
            Outcome::Success
        } else {
            Outcome::Found
        });
    }
    let emulated = if emulate { " (emulated)" } else { "" };
    let _ = write!(out, "lab {:?}{emulated}\n\n{}", parsed.name, table(&rows));
    if failed == 0 {
        let _ = writeln!(out, "\nall {} devices answered", rows.len());
        Ok(Outcome::Success)
    } else {
        let _ = writeln!(out, "\n{failed} of {} devices failed", rows.len());
        Ok(Outcome::Found)
    }
}

/// The probe as JSON: `{lab, ok, devices: [{device, driver, port, ok, identity, status,
/// error}]}`, `identity` and `status` the texts the table shows (`null` when they could not be
/// read), `error` why not.
fn json(lab: &str, rows: &[ProbeRow]) -> serde_json::Value {
    let devices: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let error = r
                .identity
                .as_ref()
                .err()
                .or(r.status.as_ref().err())
                .cloned();
            serde_json::json!({
                "device": r.device,
                "driver": r.driver,
                "port": r.port,
                "ok": r.ok(),
                "identity": r.identity.as_ref().ok(),
                "status": r.status.as_ref().ok(),
                "error": error,
            })
        })
        .collect();
    serde_json::json!({
        "lab": lab,
        "ok": rows.iter().all(ProbeRow::ok),
        "devices": devices,
    })
}
