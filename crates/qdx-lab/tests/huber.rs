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
    // The limits were read at first contact; a unit whose range has narrowed since clamps the
    // setpoint, and the driver reports that too.
    h.identify().await.expect("identify");
    emulator.with_device(|e| e.range = (-40.0, 150.0));
    let error = h.set_setpoint(273.15 + 180.0).await.expect_err("clamped");
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

/// Issue 15: the unit's own setpoint limits (0x30 / 0x31, instruments.md A4) were never read,
/// so a setpoint outside them was written and only found out by the clamped echo.
#[tokio::test(start_paused = true)]
async fn a_setpoint_outside_the_units_own_limits_is_refused_before_it_is_written() {
    let (_clock, emulator) = emulator();
    emulator.with_device(|e| e.range = (-20.0, 120.0));
    let mut h = heater(&emulator, HuberSensor::Internal);
    h.identify().await.expect("identify");
    for celsius in [150.0, -30.0] {
        let error = h
            .set_setpoint(273.15 + celsius)
            .await
            .expect_err("outside the unit's limits");
        assert!(
            matches!(error.kind, DeviceErrorKind::OutOfEnvelope(ref m)
                if m.contains("-20.00 °C") && m.contains("120.00 °C")),
            "{error}"
        );
    }
    let writes: Vec<_> = emulator
        .received()
        .into_iter()
        .filter(|r| r.starts_with(b"{M00") && !r.ends_with(b"****\r"))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    h.set_setpoint(273.15 + 120.0).await.expect("at the limit");
    assert_eq!(emulator.with_device(|e| e.setpoint), 120.0);
}

/// Issue 15: the status word at 0x0A (instruments.md A4: error and warning bits) was never
/// read, so a thermostat in error reported no alarm.
#[tokio::test(start_paused = true)]
async fn the_status_words_error_and_warning_bits_are_alarms() {
    use qdx_lab::protocol::huber::{STATUS_ERROR, STATUS_WARNING};
    let (_clock, emulator) = emulator();
    let mut h = heater(&emulator, HuberSensor::Internal);
    assert_eq!(h.status().await.expect("status").alarm, None);
    emulator.with_device(|e| e.status_word = STATUS_ERROR | 0x0001);
    let alarm = h.status().await.expect("status").alarm;
    assert!(
        alarm
            .as_deref()
            .is_some_and(|a| a.contains("error") && a.contains("0x0081")),
        "{alarm:?}"
    );
    emulator.with_device(|e| e.status_word = STATUS_WARNING);
    let alarm = h.status().await.expect("status").alarm;
    assert!(
        alarm.as_deref().is_some_and(|a| a.contains("warning")),
        "{alarm:?}"
    );
}
