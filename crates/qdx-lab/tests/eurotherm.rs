//! Eurotherm over Modbus RTU: raw frames, driver, faults.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::exchange;
use qdx_lab::drivers::eurotherm::{
    DEFAULT_TIMEOUT, EurothermConfig, EurothermHeater, EurothermSeries,
};
use qdx_lab::emulators::Emulator;
use qdx_lab::emulators::eurotherm::EurothermEmulator;
use qdx_lab::protocol::modbus::with_crc;
use qdx_lab::{DeviceErrorKind, Heater, VirtualClock};

fn emulator() -> (Arc<VirtualClock>, Emulator<EurothermEmulator>) {
    let clock = Arc::new(VirtualClock::new());
    (
        clock.clone(),
        Emulator::new(EurothermEmulator::new(clock, 1)),
    )
}

fn heater(emulator: &Emulator<EurothermEmulator>, alarm_register: Option<u16>) -> EurothermHeater {
    let config = EurothermConfig {
        slave: 1,
        series: EurothermSeries::E3200,
        // Read from the instrument: the tests below set the emulator's.
        decimals: None,
        alarm_register,
    };
    EurothermHeater::new("h1", emulator.connect(), config, DEFAULT_TIMEOUT)
}

#[tokio::test(start_paused = true)]
async fn raw_frames_scale_with_one_decimal() {
    let (_clock, emulator) = emulator();
    let mut s = emulator.connect();
    // Write 77.2 °C (772 = 0x0304) to the target setpoint with function 6.
    let write = with_crc(vec![0x01, 0x06, 0x00, 0x02, 0x03, 0x04]);
    assert_eq!(exchange(&mut s, &write, 8).await, write);
    let read = with_crc(vec![0x01, 0x03, 0x00, 0x02, 0x00, 0x01]);
    assert_eq!(
        exchange(&mut s, &read, 7).await,
        with_crc(vec![0x01, 0x03, 0x02, 0x03, 0x04])
    );
    // Unknown register: exception 2.
    let unknown = with_crc(vec![0x01, 0x03, 0x12, 0x34, 0x00, 0x01]);
    assert_eq!(
        exchange(&mut s, &unknown, 5).await,
        with_crc(vec![0x01, 0x83, 0x02])
    );
}

#[tokio::test(start_paused = true)]
async fn driver_sets_and_reads_temperatures() {
    let (clock, emulator) = emulator();
    let mut h = heater(&emulator, Some(10213));
    assert_eq!(h.identify().await.expect("identify").vendor, "Eurotherm");
    h.set_setpoint(273.15 + 77.2).await.expect("setpoint");
    assert!((emulator.with_device(|e| e.setpoint) - 77.2).abs() < 1e-9);
    clock.advance_to(Duration::from_secs(600));
    let status = h.status().await.expect("status");
    assert!(
        (status.setpoint - 350.35).abs() < 1e-9,
        "{}",
        status.setpoint
    );
    assert!(
        (status.temperature - 350.35).abs() < 0.051,
        "{}",
        status.temperature
    );
    assert_eq!(status.alarm, None);
    // Negative temperatures are two's complement.
    emulator.with_device(|e| e.limits = (-50.0, 400.0));
    h.set_setpoint(273.15 - 12.5).await.expect("below zero");
    assert!((h.status().await.expect("status").setpoint - 260.65).abs() < 1e-9);
}

/// Issue 9, item 3: a binding's `decimals` that disagrees with the instrument is refused.
#[tokio::test(start_paused = true)]
async fn a_binding_that_disagrees_with_the_instrument_is_refused() {
    let (_clock, emulator) = emulator();
    let config = EurothermConfig {
        slave: 1,
        series: EurothermSeries::E3200,
        decimals: Some(2),
        alarm_register: None,
    };
    let mut h = EurothermHeater::new("h1", emulator.connect(), config, DEFAULT_TIMEOUT);
    let error = h.identify().await.expect_err("2 decimals bound, 1 shown");
    assert!(
        matches!(error.kind, DeviceErrorKind::OutOfEnvelope(_)),
        "{error}"
    );
    insta::assert_snapshot!(error.to_string());
    assert!(h.set_setpoint(273.15 + 50.0).await.is_err());
    assert_eq!(emulator.with_device(|e| e.comms_setpoint), 25.0);
}

#[tokio::test(start_paused = true)]
async fn faults_map_to_kinds() {
    let (_clock, emulator) = emulator();
    let mut h = heater(&emulator, Some(10213));
    emulator.with_device(|e| e.alarm = 0x0001);
    assert_eq!(
        h.status().await.expect("status").alarm.as_deref(),
        Some("alarm summary 0x0001")
    );
    let error = h
        .set_setpoint(273.15 + 500.0)
        .await
        .expect_err("above the limit");
    assert!(matches!(error.kind, DeviceErrorKind::Refused(_)), "{error}");
    let error = h
        .set_setpoint(273.15 + 5000.0)
        .await
        .expect_err("does not fit");
    assert!(
        matches!(error.kind, DeviceErrorKind::OutOfEnvelope(_)),
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
        h.status().await.expect_err("exception").kind,
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

/// Issue 9, item 3: a controller that displays whole degrees takes 80 °C as 80, not 800. The
/// driver reads the decimal places from the instrument instead of trusting a configured default.
#[tokio::test(start_paused = true)]
async fn an_integer_display_controller_gets_its_setpoint_in_whole_degrees() {
    let (_clock, emulator) = emulator();
    emulator.with_device(|e| {
        e.decimals = 0;
        e.limits = (0.0, 1000.0);
    });
    let mut h = heater(&emulator, None);
    h.set_setpoint(273.15 + 80.0).await.expect("setpoint");
    let working = emulator.with_device(|e| e.setpoint);
    assert!(
        (working - 80.0).abs() < 1e-9,
        "the controller regulates to {working} °C"
    );
    let status = h.status().await.expect("status");
    assert!(
        (status.setpoint - 353.15).abs() < 1e-9,
        "{}",
        status.setpoint
    );
}

/// Issue 9, item 3: a controller that shows °F, K or no unit gets no setpoint at all (the
/// driver cannot prove the unit), and nothing but reads reaches it.
#[tokio::test(start_paused = true)]
async fn a_controller_not_in_celsius_is_refused_before_any_write() {
    for (units, shown) in [(1, "°F"), (2, "kelvin"), (3, "no unit")] {
        let (_clock, emulator) = emulator();
        emulator.with_device(|e| e.units = units);
        let mut h = heater(&emulator, None);
        let error = h.set_setpoint(273.15 + 80.0).await.expect_err("not in °C");
        assert!(
            matches!(error.kind, DeviceErrorKind::OutOfEnvelope(_)),
            "{error}"
        );
        assert!(error.to_string().contains(shown), "{error}");
        if units == 1 {
            insta::assert_snapshot!(error.to_string());
        }
        assert!(
            h.status().await.is_err(),
            "temperatures in another unit are not read as °C"
        );
        let functions: Vec<u8> = emulator
            .received()
            .iter()
            .filter_map(|r| r.get(1).copied())
            .collect();
        assert!(functions.iter().all(|&f| f == 0x03), "{functions:?}");
        assert!((emulator.with_device(|e| e.setpoint) - 25.0).abs() < 1e-9);
    }
}

/// Issue 9, item 3: setpoints go to the comms (remote) setpoint in RAM, never to the target
/// setpoint, whose EEPROM wears out after about 100 000 writes.
#[tokio::test(start_paused = true)]
async fn setpoints_go_to_the_comms_setpoint_never_the_eeprom() {
    let (_clock, emulator) = emulator();
    let mut h = heater(&emulator, None);
    for celsius in [60.0, 70.0, 80.0] {
        h.set_setpoint(273.15 + celsius).await.expect("setpoint");
    }
    emulator.with_device(|e| {
        assert_eq!(e.eeprom_writes, 0);
        assert!(e.remote, "remote setpoint selected");
        assert!(
            (e.comms_setpoint - 80.0).abs() < 1e-9,
            "{}",
            e.comms_setpoint
        );
        assert!((e.setpoint - 80.0).abs() < 1e-9, "{}", e.setpoint);
    });
}

fn heater_2400(emulator: &Emulator<EurothermEmulator>) -> EurothermHeater {
    let config = EurothermConfig {
        slave: 1,
        series: EurothermSeries::E2400,
        decimals: None,
        alarm_register: None,
    };
    EurothermHeater::new("h1", emulator.connect(), config, DEFAULT_TIMEOUT)
}

fn emulator_2400() -> Emulator<EurothermEmulator> {
    let clock = Arc::new(VirtualClock::new());
    Emulator::new(EurothermEmulator::series_2400(clock, 1))
}

/// Issue 15: a 2400 in Integer comms resolution (`rES`, tag 12550; HA026230 §3.5) sends and
/// takes whole numbers, so with one decimal 60 °C sent as 600 means 600 °C, and reads back
/// as written. The driver reads `rES` at connect and refuses Integer before any write.
#[tokio::test(start_paused = true)]
async fn integer_comms_resolution_on_a_2400_is_refused_at_connect() {
    let emulator = emulator_2400();
    emulator.with_device(|e| {
        e.comms_resolution = 1;
        e.limits = (0.0, 1000.0);
    });
    // The emulator: whole degrees on the wire whatever the display's decimals.
    let mut s = emulator.connect();
    let read_pv = with_crc(vec![0x01, 0x03, 0x00, 0x01, 0x00, 0x01]);
    assert_eq!(
        exchange(&mut s, &read_pv, 7).await,
        with_crc(vec![0x01, 0x03, 0x02, 0x00, 25])
    );
    drop(s);
    let mut h = heater_2400(&emulator);
    let error = h.identify().await.expect_err("Integer resolution");
    assert!(
        matches!(error.kind, DeviceErrorKind::OutOfEnvelope(_)),
        "{error}"
    );
    insta::assert_snapshot!(error.to_string());
    let error = h
        .set_setpoint(273.15 + 60.0)
        .await
        .expect_err("no setpoint");
    assert!(error.to_string().contains("rES"), "{error}");
    let functions: Vec<u8> = emulator
        .received()
        .iter()
        .filter_map(|r| r.get(1).copied())
        .collect();
    assert!(functions.iter().all(|&f| f == 0x03), "{functions:?}");
    assert!((emulator.with_device(|e| e.setpoint) - 25.0).abs() < 1e-9);

    // At Full resolution the same controller works.
    emulator.with_device(|e| e.comms_resolution = 0);
    let mut h = heater_2400(&emulator);
    h.set_setpoint(273.15 + 60.0).await.expect("setpoint");
    assert!((emulator.with_device(|e| e.setpoint) - 60.0).abs() < 1e-9);
}

/// Issue 15: on a 2400 (v3) the remote setpoint is tag 485 and tag 26 is "remote input comms
/// access" (HA026230); the driver wrote setpoints to 26 whatever the series.
#[tokio::test(start_paused = true)]
async fn a_2400_takes_its_setpoint_at_485_and_tag_26_is_never_written() {
    let emulator = emulator_2400();
    let mut h = heater_2400(&emulator);
    assert_eq!(
        h.identify().await.expect("identify").model,
        "2400 series (Modbus RTU)"
    );
    for celsius in [60.0, 72.5] {
        h.set_setpoint(273.15 + celsius).await.expect("setpoint");
    }
    emulator.with_device(|e| {
        assert_eq!(e.eeprom_writes, 0);
        assert_eq!(e.remote_input_comms_access, 0);
        assert!(e.remote, "remote setpoint selected");
        assert!((e.setpoint - 72.5).abs() < 1e-9, "{}", e.setpoint);
    });
    let written: Vec<u16> = emulator
        .received()
        .iter()
        .filter(|r| r.get(1) == Some(&0x10))
        .filter_map(|r| Some(u16::from_be_bytes([*r.get(2)?, *r.get(3)?])))
        .collect();
    assert!(!written.contains(&26), "{written:?}");
    assert!(written.contains(&485), "{written:?}");
    let status = h.status().await.expect("status");
    assert!((status.setpoint - (273.15 + 72.5)).abs() < 1e-9);
}
