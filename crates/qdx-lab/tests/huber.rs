//! Huber PB: transcripts, driver, faults.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::exchange;
use qdx_lab::drivers::huber::{DEFAULT_TIMEOUT, HuberHeater, HuberSensor};
use qdx_lab::emulators::Emulator;
use qdx_lab::emulators::huber::HuberEmulator;
use qdx_lab::transport::Link;
use qdx_lab::{DeviceErrorKind, Heater, VirtualClock};

fn emulator() -> (Arc<VirtualClock>, Emulator<HuberEmulator>) {
    let clock = Arc::new(VirtualClock::new());
    (clock.clone(), Emulator::new(HuberEmulator::new(clock)))
}

fn heater(
    emulator: &Emulator<HuberEmulator>,
    sensor: HuberSensor,
) -> HuberHeater<tokio::io::DuplexStream> {
    HuberHeater::new("h1", Link::new(emulator.connect(), DEFAULT_TIMEOUT), sensor)
}

#[tokio::test(start_paused = true)]
async fn appendix_transcripts() {
    let (_clock, emulator) = emulator();
    emulator.with_device(|h| h.temperature = 41.12);
    let mut s = emulator.connect();
    assert_eq!(exchange(&mut s, b"{M0007D0\r\n", 10).await, b"{S0007D0\r\n");
    assert_eq!(exchange(&mut s, b"{M00****\r\n", 10).await, b"{S0007D0\r\n");
    assert_eq!(exchange(&mut s, b"{M01****\r\n", 10).await, b"{S011010\r\n");
    assert_eq!(exchange(&mut s, b"{M00FFCC\r\n", 10).await, b"{S00FFCC\r\n");
    assert_eq!(exchange(&mut s, b"{M99****\r\n", 10).await, b"{S997FFF\r\n");
}

#[tokio::test(start_paused = true)]
async fn driver_heats_toward_the_setpoint() {
    let (clock, emulator) = emulator();
    let mut h = heater(&emulator, HuberSensor::Internal);
    assert_eq!(h.identify().await.expect("identify").vendor, "Huber");
    h.set_setpoint(273.15 + 80.0).await.expect("setpoint");
    assert!(emulator.with_device(|e| e.control_on));
    clock.advance_to(Duration::from_secs(1200));
    let status = h.status().await.expect("status");
    assert!((status.setpoint - 353.15).abs() < 1e-9);
    // Ten time constants: within 0.01 °C of the setpoint.
    assert!(
        (status.temperature - 353.15).abs() < 0.01,
        "{}",
        status.temperature
    );
}

#[tokio::test(start_paused = true)]
async fn faults_map_to_kinds() {
    let (_clock, emulator) = emulator();
    let mut h = heater(&emulator, HuberSensor::Process);
    emulator.with_device(|e| e.process_sensor_missing = true);
    assert!(matches!(
        h.status().await.expect_err("no sensor").kind,
        DeviceErrorKind::Alarm(_)
    ));
    emulator.with_device(|e| e.process_sensor_missing = false);
    // The unit clamps to its range: the driver reports the refusal.
    let error = h.set_setpoint(273.15 + 250.0).await.expect_err("clamped");
    assert!(
        matches!(error.kind, DeviceErrorKind::Refused(ref m) if m.contains("clamped")),
        "{error}"
    );
    emulator.set_faults(|f| f.silent = true);
    assert_eq!(
        h.status().await.expect_err("timeout").kind,
        DeviceErrorKind::Timeout(DEFAULT_TIMEOUT)
    );
    emulator.set_faults(|f| {
        f.silent = false;
        f.garbage_replies = 1;
    });
    assert!(matches!(
        h.status().await.expect_err("garbage").kind,
        DeviceErrorKind::Garbage(_)
    ));
    emulator.set_faults(|f| f.error_replies = 1);
    assert!(matches!(
        h.status().await.expect_err("nak").kind,
        DeviceErrorKind::Refused(_)
    ));
    emulator.set_faults(|f| f.split_replies = true);
    h.status().await.expect("split replies reassemble");
    emulator.set_faults(|f| f.disconnect_after = Some(emulator.received().len() as u64 + 1));
    assert!(matches!(
        h.status().await.expect_err("gone").kind,
        DeviceErrorKind::Disconnected(_)
    ));
}
