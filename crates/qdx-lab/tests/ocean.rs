//! Ocean legacy RS-232: transcripts, driver, faults.

mod common;

use common::{exchange, read_n};
use qdx_lab::drivers::ocean::{
    DEFAULT_TIMEOUT, FLAME_S_RS232, OceanSpectrometer, PIXELS, Rs232Backend, USB2000_RS232,
};
use qdx_lab::emulators::Emulator;
use qdx_lab::emulators::ocean::OceanEmulator;
use qdx_lab::transport::Link;
use qdx_lab::{AcquireRequest, DeviceErrorKind, Illumination, Spectrometer};

const CAL: [f64; 4] = [339.0, 0.38, -1.5e-5, 0.0];

type Spec = OceanSpectrometer<Rs232Backend<tokio::io::DuplexStream>>;

fn spectrometer(emulator: &Emulator<OceanEmulator>) -> Spec {
    let backend = Rs232Backend::new(
        "spec1",
        Link::new(emulator.connect(), DEFAULT_TIMEOUT),
        FLAME_S_RS232,
    );
    OceanSpectrometer::new(
        "spec1",
        backend,
        &CAL,
        Vec::new(),
        Some(Illumination::Broadband),
    )
    .expect("valid calibration")
}

fn request(illumination: Illumination, integration_time_s: f64, averages: u32) -> AcquireRequest {
    AcquireRequest {
        illumination,
        integration_time_s,
        averages,
    }
}

#[tokio::test(start_paused = true)]
async fn appendix_transcripts() {
    let emulator = Emulator::new(OceanEmulator::new(PIXELS));
    let mut s = emulator.connect();
    assert_eq!(exchange(&mut s, &[b'I', 0x00, 0x64], 1).await, [0x06]);
    tokio::io::AsyncWriteExt::write_all(&mut s, b"S")
        .await
        .expect("write");
    let reply = read_n(&mut s, 1 + 14 + 2 * PIXELS + 2).await;
    assert_eq!(
        &reply[..15],
        &[
            0x02, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01, 0x00, 0x64, 0, 0, 0, 0, 0, 0
        ]
    );
    assert_eq!(&reply[reply.len() - 2..], &[0xFF, 0xFD]);
    assert_eq!(reply.len(), 1 + 14 + 2 * PIXELS + 2);
    // Out of range integration time: NAK.
    assert_eq!(exchange(&mut s, &[b'I', 0x00, 0x00], 1).await, [0x15]);
}

#[tokio::test(start_paused = true)]
async fn driver_averages_and_maps_wavelengths() {
    let emulator = Emulator::new(OceanEmulator::new(PIXELS));
    let mut spec = spectrometer(&emulator);
    assert_eq!(
        spec.identify().await.expect("identify").firmware.as_deref(),
        Some("3.01.0")
    );
    let dark = spec
        .acquire(&request(Illumination::Dark, 0.05, 1))
        .await
        .expect("dark");
    assert_eq!(dark.len(), PIXELS);
    // The electrical dark (the mean of the masked pixels 6..21) is subtracted.
    assert!(dark.values().iter().all(|&v| v == 0.0));
    assert!((dark.wavelength_nm()[0] - 339.0).abs() < 1e-12);
    let last = 339.0 + 0.38 * 2047.0 - 1.5e-5 * 2047.0 * 2047.0;
    assert!((dark.wavelength_nm()[PIXELS - 1] - last).abs() < 1e-9);
    // Ten 50 ms scans summed by the device, averaged by the driver.
    let lit = spec
        .acquire(&request(Illumination::Broadband, 0.05, 10))
        .await
        .expect("lit");
    assert_eq!(lit.averages, 10);
    assert!((lit.integration_time_s - 0.05).abs() < 1e-12);
    let expected_peak = emulator.with_device(|e| {
        let mut probe = e.clone();
        probe.lamp_on = true;
        probe.integration_ms = 50;
        f64::from(probe.scan_counts(PIXELS / 2)) - f64::from(probe.dark)
    });
    assert_eq!(lit.values()[PIXELS / 2], expected_peak);
    assert!(!lit.saturated);
    assert!(
        !emulator.with_device(|e| e.lamp_on),
        "the lamp goes off after the acquisition"
    );
    // 5 s of integration in total: longer than the base timeout, still no timeout.
    spec.acquire(&request(Illumination::Dark, 1.0, 5))
        .await
        .expect("long acquisition");
    let saturated = spec
        .acquire(&request(Illumination::Broadband, 2.0, 1))
        .await
        .expect("bright");
    assert!(saturated.saturated);
}

#[tokio::test(start_paused = true)]
async fn faults_and_refusals() {
    let emulator = Emulator::new(OceanEmulator::new(PIXELS));
    let mut spec = spectrometer(&emulator);
    let error = spec
        .acquire(&request(Illumination::Excitation, 0.1, 1))
        .await
        .expect_err("no source");
    assert!(matches!(error.kind, DeviceErrorKind::Refused(_)));
    let error = spec
        .acquire(&request(Illumination::Dark, 100.0, 1))
        .await
        .expect_err("too long");
    assert!(matches!(error.kind, DeviceErrorKind::OutOfEnvelope(_)));
    let before = emulator.received().len();
    let error = spec
        .acquire(&request(Illumination::Dark, 0.1, 0))
        .await
        .expect_err("no scans");
    assert!(matches!(error.kind, DeviceErrorKind::OutOfEnvelope(_)));
    assert_eq!(emulator.received().len(), before, "nothing was written");

    emulator.set_faults(|f| f.silent = true);
    let error = spec
        .acquire(&request(Illumination::Dark, 0.1, 1))
        .await
        .expect_err("timeout");
    assert!(matches!(error.kind, DeviceErrorKind::Timeout(_)));
    emulator.set_faults(|f| {
        f.silent = false;
        f.garbage_replies = 1;
    });
    let error = spec
        .acquire(&request(Illumination::Dark, 0.1, 1))
        .await
        .expect_err("garbage");
    assert!(matches!(error.kind, DeviceErrorKind::Garbage(_)));
    emulator.set_faults(|f| f.error_replies = 1);
    let error = spec
        .acquire(&request(Illumination::Dark, 0.1, 1))
        .await
        .expect_err("nak");
    assert!(matches!(error.kind, DeviceErrorKind::Refused(_)));
    emulator.with_device(|e| e.out_of_memory = true);
    let error = spec
        .acquire(&request(Illumination::Dark, 0.1, 1))
        .await
        .expect_err("etx");
    assert!(matches!(error.kind, DeviceErrorKind::Refused(ref m) if m.contains("memory")));
    emulator.with_device(|e| e.out_of_memory = false);
    emulator.set_faults(|f| f.split_replies = true);
    spec.acquire(&request(Illumination::Dark, 0.01, 1))
        .await
        .expect("split spectrum");
    emulator.set_faults(|f| {
        f.split_replies = false;
        f.disconnect_after = Some(emulator.received().len() as u64 + 2);
    });
    let error = spec
        .acquire(&request(Illumination::Dark, 0.1, 1))
        .await
        .expect_err("gone");
    assert!(
        matches!(error.kind, DeviceErrorKind::Disconnected(_)),
        "{error}"
    );
}

#[test]
fn a_bad_calibration_is_refused() {
    let emulator = Emulator::new(OceanEmulator::new(PIXELS));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let backend = Rs232Backend::new(
            "spec1",
            Link::new(emulator.connect(), DEFAULT_TIMEOUT),
            FLAME_S_RS232,
        );
        let error =
            OceanSpectrometer::new("spec1", backend, &[500.0, -0.1, 0.0, 0.0], Vec::new(), None)
                .expect_err("decreasing grid");
        assert!(matches!(error.kind, DeviceErrorKind::Refused(_)));
    });
}

/// The 12-bit USB2000 clips at 4095: a spectrum at full scale is saturated, not only one at
/// 65535 (the old driver judged every model against 65535).
#[tokio::test(start_paused = true)]
async fn a_usb2000_at_4095_counts_is_saturated() {
    let mut device = OceanEmulator::new(PIXELS);
    device.full_scale = 4095;
    device.masked = 2..24;
    let emulator = Emulator::new(device);
    let backend = Rs232Backend::new(
        "spec1",
        Link::new(emulator.connect(), DEFAULT_TIMEOUT),
        USB2000_RS232,
    );
    let mut spec = OceanSpectrometer::new(
        "spec1",
        backend,
        &CAL,
        Vec::new(),
        Some(Illumination::Broadband),
    )
    .expect("valid calibration");
    // 200 counts/ms at the peak: 50 ms gives 10 000 counts, clipped at 4095.
    let bright = spec
        .acquire(&request(Illumination::Broadband, 0.05, 1))
        .await
        .expect("bright");
    assert!(
        bright.saturated,
        "a USB2000 pixel at 4095 counts is saturated"
    );
    let dim = spec
        .acquire(&request(Illumination::Broadband, 0.003, 1))
        .await
        .expect("dim");
    assert!(!dim.saturated);
    let error = spec
        .acquire(&request(Illumination::Dark, 0.002, 1))
        .await
        .expect_err("below the USB2000's 3 ms");
    assert!(
        matches!(error.kind, DeviceErrorKind::OutOfEnvelope(_)),
        "{error}"
    );
}

/// In free-running mode the first scan after the lamp or integration time changed is stale:
/// the driver drops it and returns the next one.
#[tokio::test(start_paused = true)]
async fn the_scan_after_a_lamp_or_integration_change_is_discarded() {
    let emulator = Emulator::new(OceanEmulator::new(PIXELS));
    let mut spec = spectrometer(&emulator);
    spec.acquire(&request(Illumination::Dark, 0.05, 1))
        .await
        .expect("dark");
    let before = emulator
        .received()
        .iter()
        .filter(|r| r.as_slice() == b"S")
        .count();
    let lit = spec
        .acquire(&request(Illumination::Broadband, 0.05, 1))
        .await
        .expect("lit");
    // The lamp was off while the stale scan integrated: without the discard the peak would
    // read the dark level.
    let peak = emulator.with_device(|e| {
        let mut probe = e.clone();
        probe.lamp_on = true;
        probe.integration_ms = 50;
        f64::from(probe.scan_counts(PIXELS / 2)) - f64::from(probe.dark)
    });
    assert_eq!(lit.values()[PIXELS / 2], peak);
    let taken = emulator
        .received()
        .iter()
        .filter(|r| r.as_slice() == b"S")
        .count();
    assert_eq!(taken - before, 2, "one scan dropped, one kept");
    // The lamp went off after the lit spectrum; two dark ones in a row change nothing.
    spec.acquire(&request(Illumination::Dark, 0.05, 1))
        .await
        .expect("dark");
    let again = emulator
        .received()
        .iter()
        .filter(|r| r.as_slice() == b"S")
        .count();
    spec.acquire(&request(Illumination::Dark, 0.05, 1))
        .await
        .expect("dark again");
    let unchanged = emulator
        .received()
        .iter()
        .filter(|r| r.as_slice() == b"S")
        .count();
    assert_eq!(unchanged - again, 1, "nothing changed: nothing dropped");
}

/// Issue 15: `v` answers one decimal word (Flame-S manual p. 114: 1000 means 1.00.0); the
/// driver split it into a high and a low byte, so 1000 (0x03E8) read as "3.232".
#[tokio::test(start_paused = true)]
async fn the_version_word_is_decimal_not_two_bytes() {
    let emulator = Emulator::new(OceanEmulator::new(PIXELS));
    let mut s = emulator.connect();
    emulator.with_device(|d| d.version = 1000);
    assert_eq!(exchange(&mut s, b"v", 3).await, [0x06, 0x03, 0xE8]);
    drop(s);
    let mut spec = spectrometer(&emulator);
    assert_eq!(
        spec.identify().await.expect("identify").firmware.as_deref(),
        Some("1.00.0")
    );
    emulator.with_device(|d| d.version = 2105);
    let mut spec = spectrometer(&emulator);
    assert_eq!(
        spec.identify().await.expect("identify").firmware.as_deref(),
        Some("2.10.5")
    );
}

/// Issue 15: the plan discards a scan after an integration change, and the driver drops the
/// stale one too; a discard is now that one scan, not two.
#[tokio::test(start_paused = true)]
async fn a_discard_after_an_integration_change_costs_one_scan() {
    let emulator = Emulator::new(OceanEmulator::new(PIXELS));
    let mut spec = spectrometer(&emulator);
    let scans = || {
        emulator
            .received()
            .iter()
            .filter(|r| r.as_slice() == b"S")
            .count()
    };
    spec.acquire(&request(Illumination::Dark, 0.05, 1))
        .await
        .expect("dark");
    let before = scans();
    spec.discard(&request(Illumination::Dark, 0.1, 1))
        .await
        .expect("discard");
    assert_eq!(scans() - before, 1, "the stale scan is the one dropped");
    let before = scans();
    spec.acquire(&request(Illumination::Dark, 0.1, 3))
        .await
        .expect("fresh");
    // One `S` reads the device's own sum of the three scans; none is dropped first.
    assert_eq!(scans() - before, 1, "settled: no scan dropped");
    // Nothing changed: the discard still drops one scan (a light may have switched outside).
    let before = scans();
    spec.discard(&request(Illumination::Dark, 0.1, 1))
        .await
        .expect("discard");
    assert_eq!(scans() - before, 1);
}
