//! A USB spectrometer in the lab file: bound by kind and serial number, no port, and driven
//! through the whole runtime on its transfer-level emulator.

use std::path::Path;

use qdx::world::MemoryWorld;

use qdx_lab::emulators::ocean_usb::OoiKind;

use super::rig::{LAB, Rig, campaign_with_safety, faults, measured, run, setup, stop_reason};

/// The rig's lab file with the serial Flame replaced by the same spectrometer on USB: the
/// wavelength calibration comes from the instrument.
fn usb_lab() -> String {
    usb_lab_with("ocean.flame_usb { serial_number \"FLMS01234\", lamp \"excitation\" }")
}

fn usb_lab_with(bind: &str) -> String {
    let start = LAB
        .find("  bind spec1 = ocean.flame {")
        .expect("the serial bind");
    let end = LAB[start..].find("  }\n").expect("its end") + start + 4;
    format!("{}  bind spec1 = {bind}\n{}", &LAB[..start], &LAB[end..])
}

#[tokio::test(start_paused = true)]
async fn a_campaign_runs_on_a_usb_flame() {
    let (c, binding) = setup(super::rig::CAMPAIGN, &usb_lab());
    let rig = Rig::new();
    let (_dir, result, records) = run(&rig, &c, &binding).await;
    let summary = result.expect("the run finishes");
    assert_eq!(summary.experiments, 3);
    assert_eq!(
        measured(&records),
        vec![(0, "ok".into()), (1, "ok".into()), (2, "ok".into())]
    );
    // The spectra came over USB (Request Spectra on EP1 Out), not the serial line.
    let written = rig.usb_spectrometer.written();
    let spectra = written
        .iter()
        .filter(|(_, w)| w.as_slice() == [0x09])
        .count();
    assert!(spectra >= 4, "{spectra} spectra requested");
    assert!(written.iter().all(|(ep, _)| *ep == 0x01));
    assert_eq!(rig.spectra_taken(), 0);
    assert!(!rig.usb_spectrometer.with_device(|d| d.lamp_on), "lamp off");
}

#[tokio::test(start_paused = true)]
async fn a_usb4000_runs_the_campaign_on_its_own_grid() {
    let (c, binding) = setup(
        super::rig::CAMPAIGN,
        &usb_lab_with("ocean.usb4000 { lamp \"excitation\" }"),
    );
    let rig = Rig::new().usb_model(OoiKind::Usb4000);
    let (_dir, result, records) = run(&rig, &c, &binding).await;
    assert_eq!(result.expect("the run finishes").experiments, 3);
    assert_eq!(measured(&records).len(), 3);
    // 3840 pixels came in two parts at high speed: the EP6 and EP2 reads both happened.
    assert!(
        rig.usb_spectrometer
            .with_device(|d| d.commands.contains(&0x09))
    );
}

#[tokio::test(start_paused = true)]
async fn a_usb_spectrometer_unplugged_mid_run_aborts_in_the_safe_state() {
    let (c, binding) = setup(
        &campaign_with_safety("  safe h1 = 30 degC\n  on device_disconnected : abort"),
        &usb_lab(),
    );
    let rig = Rig::new();
    // Opening writes 3 transfers (init, trigger mode, status) and reads 8 EEPROM slots
    // (nonlinearity order and 3 coefficients, 4 wavelength coefficients); the calibration's
    // dark spectrum takes 54 (lamp off, integration time and its read-back, the dropped scan,
    // the calibration's 50 scans); the first experiment switches the lamp on: the cable goes
    // at its dropped scan, the 67th transfer.
    rig.usb_spectrometer
        .set_faults(|f| f.unplug_at_write = Some(67));
    let (_dir, result, records) = run(&rig, &c, &binding).await;
    result.expect("an aborted run still writes its bundle");
    assert_eq!(
        faults(&records),
        vec![("device_disconnected".to_owned(), "abort".to_owned())]
    );
    assert!(
        stop_reason(&records).starts_with("abort after device_disconnected on spec1"),
        "{}",
        stop_reason(&records)
    );
    assert!(measured(&records).is_empty());
    let written = rig.usb_spectrometer.written();
    assert_eq!(written.len(), 66, "nothing went out after the cable");
}

#[test]
fn usb_spectrometers_share_no_port() {
    let lab = "qdx 1\n\nlab \"usb\" {\n  bind spec1 = ocean.flame_usb { serial_number \"A\" }\n  bind spec2 = ocean.usb4000 { wavelength_coefficients [200, 0.2] }\n}\n";
    let world = MemoryWorld::new().with("lab.qdx", lab);
    let checked = qdx::bind::check_lab(
        &world,
        Path::new("lab.qdx"),
        "lab.qdx",
        qdx::source::SourceMap::new(),
        None,
    );
    let text = qdx::diagnostic::render_all(
        &checked.diagnostics,
        &checked.sources,
        qdx::diagnostic::Style::Plain,
    );
    assert!(!text.contains("port"), "{text}");
}
