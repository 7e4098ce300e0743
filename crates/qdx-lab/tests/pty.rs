//! End to end over real pseudo-terminals: the registry opens the slave side by path with
//! tokio-serial, exactly as on a rig, while emulators serve the master side.

use std::sync::Arc;

use qdx_lab::emulators::Emulator;
use qdx_lab::emulators::huber::HuberEmulator;
use qdx_lab::emulators::new_era::NewEraChain;
use qdx_lab::emulators::ocean::OceanEmulator;
use qdx_lab::registry::{Connector, SettingValue, Settings};
use qdx_lab::{AcquireRequest, Clock, Illumination, RealClock};
use tokio_serial::SerialPort as _;

fn settings(pairs: &[(&str, SettingValue)]) -> Settings {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect()
}

/// A pty pair: the emulator serves the master; returns the slave's path. The pair's own slave
/// handle is kept until the driver has opened its own.
fn pty<P: qdx_lab::emulators::Protocol>(
    emulator: &Emulator<P>,
) -> (String, tokio_serial::SerialStream) {
    let (master, slave) = tokio_serial::SerialStream::pair().expect("pty pair");
    let path = slave.name().expect("slave path");
    drop(emulator.spawn(master));
    (path, slave)
}

#[tokio::test]
async fn pump_heater_and_spectrometer_over_ptys() {
    let clock: Arc<dyn Clock> = Arc::new(RealClock::new());
    let pumps = Emulator::new(NewEraChain::new(clock.clone(), &[0, 1]));
    let heater = Emulator::new(HuberEmulator::new(clock.clone()));
    let spectrometer = Emulator::new(OceanEmulator::new(2048));
    let (pump_path, _keep_pumps) = pty(&pumps);
    let (heater_path, _keep_heater) = pty(&heater);
    let (spec_path, _keep_spec) = pty(&spectrometer);

    let mut lab = Connector::new(clock.clone());
    let pump_settings = |address: i64| {
        settings(&[
            ("port", SettingValue::String(pump_path.clone())),
            ("address", SettingValue::Integer(address)),
            ("baud", SettingValue::Integer(19_200)),
            ("syringe_diameter", SettingValue::Number(14.57e-3)),
        ])
    };
    // Two pumps on one daisy chain share the port.
    let mut seed = lab
        .pump("new_era.ne1000", "p_seed", &pump_settings(0))
        .await
        .expect("p_seed");
    let mut iodide = lab
        .pump("new_era.ne1000", "p_iodide", &pump_settings(1))
        .await
        .expect("p_iodide");
    seed.set_rate(1e-6 / 60.0).await.expect("rate");
    seed.start().await.expect("start");
    iodide.set_rate(0.5e-6 / 60.0).await.expect("rate");
    assert!(seed.status().await.expect("status").running);
    assert!(!iodide.status().await.expect("status").running);
    seed.stop().await.expect("stop");
    assert_eq!(seed.identify().await.expect("identify").model, "NE1000");

    let mut h1 = lab
        .heater(
            "huber.pilot_one",
            "h1",
            &settings(&[("port", SettingValue::String(heater_path))]),
        )
        .await
        .expect("h1");
    h1.set_setpoint(273.15 + 60.0).await.expect("setpoint");
    assert!((h1.status().await.expect("status").setpoint - 333.15).abs() < 1e-9);

    let mut spec1 = lab
        .spectrometer(
            "ocean.flame",
            "spec1",
            &settings(&[
                ("port", SettingValue::String(spec_path)),
                (
                    "wavelength_coefficients",
                    SettingValue::NumberList(vec![339.0, 0.38, -1.5e-5, 0.0]),
                ),
                ("lamp", SettingValue::String("broadband".into())),
            ]),
        )
        .await
        .expect("spec1");
    let request = AcquireRequest {
        illumination: Illumination::Broadband,
        integration_time_s: 0.01,
        averages: 2,
    };
    let spectrum = spec1.acquire(&request).await.expect("spectrum");
    assert_eq!(spectrum.len(), 2048);
    assert_eq!(spectrum.averages, 2);
    // Electrical dark subtracted: light above zero, the masked pixels at zero.
    assert!(spectrum.values().iter().all(|&v| v >= 0.0));
    assert!(spectrum.values()[1024] > 1000.0);
    assert_eq!(spectrum.values()[10], 0.0);
}

/// Issue 15: the registry opens a VICI selection valve by path, checks it against the binding
/// at connect, and turns it.
#[tokio::test]
async fn a_vici_valve_over_a_pty() {
    use qdx_lab::emulators::vici::{Mode, ViciEmulator};
    let clock: Arc<dyn Clock> = Arc::new(RealClock::new());
    let valve = Emulator::new(ViciEmulator::new(
        clock.clone(),
        Some(4),
        Mode::Multiposition { positions: 10 },
    ));
    let (path, _keep) = pty(&valve);
    let mut lab = Connector::new(clock);
    let binding = |positions: i64| {
        settings(&[
            ("port", SettingValue::String(path.clone())),
            ("address", SettingValue::Integer(4)),
            ("positions", SettingValue::Integer(positions)),
        ])
    };
    let mut v1 = lab
        .valve("vici.multiposition", "v1", &binding(10))
        .await
        .expect("v1");
    v1.set_position(7).await.expect("move");
    assert_eq!(v1.position().await.expect("position"), 7);
    assert_eq!(valve.with_device(|v| v.position), 7);
    // A second binding of the same actuator that disagrees with it is refused at connect
    // (the port is shared: both bindings have a device ID).
    let error = lab
        .valve("vici.multiposition", "v2", &binding(6))
        .await
        .expect_err("NP is 10");
    assert!(
        error.to_string().contains("indexes 10 positions"),
        "{error}"
    );
}
