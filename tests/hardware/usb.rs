//! A USB spectrometer in the lab file: bound by kind and serial number, no port, and driven
//! through the whole runtime on its transfer-level emulator.

use std::path::Path;

use qdx::world::MemoryWorld;

use super::rig::{LAB, Rig, measured, run, setup};

/// The rig's lab file with the serial Flame replaced by the same spectrometer on USB: the
/// wavelength calibration comes from the instrument.
fn usb_lab() -> String {
    let start = LAB
        .find("  bind spec1 = ocean.flame {")
        .expect("the serial bind");
    let end = LAB[start..].find("  }\n").expect("its end") + start + 4;
    format!(
        "{}  bind spec1 = ocean.flame_usb {{ serial_number \"FLMS01234\", lamp \"excitation\" }}\n{}",
        &LAB[..start],
        &LAB[end..]
    )
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
