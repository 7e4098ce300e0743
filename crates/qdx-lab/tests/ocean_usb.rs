//! Ocean spectrometers on USB: the driver against transfer-level emulators of the OOI models
//! (USB2000, Flame-S, USB4000) and an OBP model (STS), including wire and protocol faults.

use std::time::Duration;

use qdx_lab::drivers::ocean::OceanSpectrometer;
use qdx_lab::drivers::ocean_usb::{self, DEFAULT_TIMEOUT, UsbBackend, UsbModel};
use qdx_lab::emulators::ocean_usb::{ObpEmulator, OoiEmulator, OoiKind};
use qdx_lab::emulators::usb::{EmulatedUsb, UsbEmulator, UsbFunction};
use qdx_lab::registry::{self, Capability, SettingValue, Settings};
use qdx_lab::usb::UsbBulk;
use qdx_lab::{AcquireRequest, DeviceErrorKind, Illumination, Spectrometer};

type Spec<F> = OceanSpectrometer<UsbBackend<EmulatedUsb<F>>>;

fn request(illumination: Illumination, integration_time_s: f64, averages: u32) -> AcquireRequest {
    AcquireRequest {
        illumination,
        integration_time_s,
        averages,
    }
}

async fn open<F: UsbFunction + std::fmt::Debug>(
    emulator: &UsbEmulator<F>,
    model: UsbModel,
    wavelength: Option<Vec<f64>>,
    lamp: Option<Illumination>,
) -> Spec<F> {
    let backend = UsbBackend::open("spec1", emulator.host(), model, DEFAULT_TIMEOUT)
        .await
        .expect("opens");
    OceanSpectrometer::open("spec1", backend, wavelength, lamp)
        .await
        .expect("calibration read")
}

fn poly(c: &[f64], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &k| acc * x + k)
}

/// What the driver should make of an OOI emulator's raw scan: electrical dark (mean of the
/// masked pixels) subtracted, then the device's nonlinearity polynomial divided out.
fn expected_ooi(device: &OoiEmulator, masked: std::ops::Range<usize>, nl: &[f64]) -> Vec<f64> {
    let raw: Vec<f64> = (0..device.pixels())
        .map(|i| f64::from(device.scan_counts(i)))
        .collect();
    let dark = raw[masked.clone()].iter().sum::<f64>() / masked.len() as f64;
    raw.iter()
        .map(|r| {
            let x = r - dark;
            x / poly(nl, x.max(0.0))
        })
        .collect()
}

fn close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9)
}

#[tokio::test(start_paused = true)]
async fn the_emulators_packets_follow_the_flame_manual() {
    // Query Information: 17 bytes on EP1 In: 0x05, the slot, ASCII.
    let flame = UsbEmulator::new(OoiEmulator::new(OoiKind::Usb2000Plus));
    let mut host = flame.host();
    let t = Duration::from_secs(1);
    host.write(0x01, &[0x05, 0x01], t).await.expect("write");
    let reply = host.read(0x81, 64, t).await.expect("info");
    assert_eq!(reply.len(), 17);
    assert_eq!(&reply[..7], b"\x05\x01339.1");
    assert!(reply[7..].iter().all(|&b| b == 0));
    // Request Spectra at high speed: 8 packets of 512 bytes on EP2 In, then the sync packet.
    host.write(0x01, &[0x09], t).await.expect("write");
    let pixels = host.read(0x82, 4096, t).await.expect("pixels");
    assert_eq!(pixels.len(), 4096);
    assert_eq!(host.read(0x82, 512, t).await.expect("sync"), [0x69]);
    // The USB4000 at high speed: pixels 0..1024 on EP6 In, the rest on EP2 In.
    let usb4000 = UsbEmulator::new(OoiEmulator::new(OoiKind::Usb4000));
    let mut host = usb4000.host();
    host.write(0x01, &[0x09], t).await.expect("write");
    // (Whole packets only: the host asks for exactly what the manual says comes.)
    assert_eq!(host.read(0x86, 2048, t).await.expect("EP6").len(), 2048);
    assert_eq!(host.read(0x82, 5632, t).await.expect("EP2").len(), 5632);
    assert_eq!(host.read(0x82, 512, t).await.expect("sync"), [0x69]);
    // At full speed everything comes on EP2 In in 64-byte packets.
    usb4000.with_device(|d| d.high_speed = false);
    host.write(0x01, &[0x09], t).await.expect("write");
    assert_eq!(host.read(0x82, 7680, t).await.expect("EP2").len(), 7680);
    assert_eq!(host.read(0x82, 64, t).await.expect("sync"), [0x69]);
    // Query Status: 16 bytes, USB speed in byte 14.
    host.write(0x01, &[0xFE], t).await.expect("write");
    let status = host.read(0x81, 64, t).await.expect("status");
    assert_eq!(status.len(), 16);
    assert_eq!(&status[..2], &3840u16.to_le_bytes());
    assert_eq!(status[14], 0x00);
}

#[tokio::test(start_paused = true)]
async fn a_flame_s_on_usb_reads_its_calibration_and_corrects_dark_and_nonlinearity() {
    let emulator = UsbEmulator::new(OoiEmulator::new(OoiKind::Usb2000Plus));
    let mut spec = open(
        &emulator,
        ocean_usb::flame_s(),
        None,
        Some(Illumination::Broadband),
    )
    .await;
    let wl = [339.1, 0.3822, -1.58e-05, -2.1e-10];
    assert!((spec.wavelengths()[0] - 339.1).abs() < 1e-12);
    assert!((spec.wavelengths()[2047] - poly(&wl, 2047.0)).abs() < 1e-9);
    let nl = [0.95, 1.2e-06, -1.1e-11];
    assert_eq!(spec.nonlinearity(), nl);
    let id = spec.identify().await.expect("identify");
    assert_eq!(id.model, "Flame-S");
    assert_eq!(id.serial_number.as_deref(), Some("FLMS01234"));

    let lit = spec
        .acquire(&request(Illumination::Broadband, 0.05, 4))
        .await
        .expect("lit");
    let expected = emulator.with_device(|d| {
        let mut probe = d.clone();
        probe.lamp_on = true;
        probe.integration_us = 50_000;
        expected_ooi(&probe, 6..21, &nl)
    });
    assert!(close(lit.values(), &expected), "corrected counts");
    assert_eq!(lit.averages, 4);
    assert!((lit.integration_time_s - 0.05).abs() < 1e-12);
    assert!(!lit.saturated);
    assert!(!emulator.with_device(|d| d.lamp_on), "the lamp goes off");
    // The integration time went out in µs, u32 little-endian; one scan was dropped after the
    // lamp and the integration time changed, four kept.
    let written = emulator.written();
    assert!(written.contains(&(0x01, vec![0x02, 0x50, 0xC3, 0x00, 0x00])));
    let spectra = written
        .iter()
        .filter(|(_, w)| w.as_slice() == [0x09])
        .count();
    assert_eq!(spectra, 1 + 4);

    // Saturation at the Flame's full scale, 65535.
    let bright = spec
        .acquire(&request(Illumination::Broadband, 1.0, 1))
        .await
        .expect("bright");
    assert!(bright.saturated);
}

#[tokio::test(start_paused = true)]
async fn a_lab_file_calibration_overrides_the_stored_one() {
    // The stored wavelengths are not even read: a garbled slot does not matter.
    let mut device = OoiEmulator::new(OoiKind::Usb2000Plus);
    device.eeprom.insert(2, "abc".into());
    let emulator = UsbEmulator::new(device);
    let spec = open(
        &emulator,
        ocean_usb::usb2000plus(),
        Some(vec![400.0, 0.2]),
        None,
    )
    .await;
    assert_eq!(spec.wavelengths()[10], 402.0);
    assert!(!emulator.written().contains(&(0x01, vec![0x05, 0x02])));
    assert_eq!(spec.nonlinearity(), [0.95, 1.2e-06, -1.1e-11]);
}

#[tokio::test(start_paused = true)]
async fn an_obp_device_without_nonlinearity_messages_is_left_uncorrected() {
    let mut device = ObpEmulator::new();
    device.knows_nonlinearity = false;
    let emulator = UsbEmulator::new(device);
    let mut spec = open(&emulator, ocean_usb::sts(), None, None).await;
    assert!(spec.nonlinearity().is_empty());
    let dark = spec
        .acquire(&request(Illumination::Dark, 0.1, 1))
        .await
        .expect("dark");
    assert_eq!(dark.values()[0], 1500.0);
    // Any other NACK of the coefficients is an error.
    let emulator = UsbEmulator::new(ObpEmulator::new());
    emulator.with_device(|d| d.nack_next = Some(12));
    let backend = UsbBackend::open("spec1", emulator.host(), ocean_usb::sts(), DEFAULT_TIMEOUT)
        .await
        .expect("opens");
    let error = OceanSpectrometer::open("spec1", backend, None, None)
        .await
        .expect_err("nack");
    assert!(
        matches!(&error.kind, DeviceErrorKind::Refused(m) if m.contains("error 12")),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_usb4000_reads_ep6_then_ep2_at_high_speed_and_ep2_alone_at_full_speed() {
    for high_speed in [true, false] {
        let mut device = OoiEmulator::new(OoiKind::Usb4000);
        device.high_speed = high_speed;
        let emulator = UsbEmulator::new(device);
        let mut spec = open(
            &emulator,
            ocean_usb::usb4000(),
            None,
            Some(Illumination::Broadband),
        )
        .await;
        let lit = spec
            .acquire(&request(Illumination::Broadband, 0.02, 1))
            .await
            .expect("lit");
        assert_eq!(lit.len(), 3840);
        let expected = emulator.with_device(|d| {
            let mut probe = d.clone();
            probe.lamp_on = true;
            probe.integration_us = 20_000;
            expected_ooi(&probe, 5..16, &[0.95, 1.2e-06, -1.1e-11])
        });
        assert!(close(lit.values(), &expected), "high speed {high_speed}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_usb2000_unshuffles_its_blocks_sets_ms_and_saturates_at_4095() {
    let emulator = UsbEmulator::new(OoiEmulator::new(OoiKind::Usb2000));
    let mut spec = open(
        &emulator,
        ocean_usb::usb2000(),
        None,
        Some(Illumination::Broadband),
    )
    .await;
    let dim = spec
        .acquire(&request(Illumination::Broadband, 0.003, 1))
        .await
        .expect("dim");
    let expected = emulator.with_device(|d| {
        let mut probe = d.clone();
        probe.lamp_on = true;
        probe.integration_us = 3_000;
        expected_ooi(&probe, 2..24, &[0.95, 1.2e-06, -1.1e-11])
    });
    assert!(
        close(dim.values(), &expected),
        "high nibble masked, blocks unshuffled"
    );
    assert!(!dim.saturated);
    // 3 ms went out as 3 (the USB2000 counts milliseconds) to EP2 Out.
    assert!(emulator.written().contains(&(0x02, vec![0x02, 3, 0, 0, 0])));
    let bright = spec
        .acquire(&request(Illumination::Broadband, 0.05, 1))
        .await
        .expect("bright");
    assert!(bright.saturated, "4095 is the USB2000's full scale");
    let before = emulator.written().len();
    let error = spec
        .acquire(&request(Illumination::Dark, 0.002, 1))
        .await
        .expect_err("below 3 ms");
    assert!(
        matches!(error.kind, DeviceErrorKind::OutOfEnvelope(_)),
        "{error}"
    );
    assert_eq!(emulator.written().len(), before, "nothing was written");
}

#[tokio::test(start_paused = true)]
async fn ooi_wire_faults_are_clear_errors_and_the_next_acquisition_works() {
    let emulator = UsbEmulator::new(OoiEmulator::new(OoiKind::Usb2000Plus));
    let mut spec = open(&emulator, ocean_usb::flame_s(), None, None).await;
    let dark = request(Illumination::Dark, 0.01, 1);
    spec.acquire(&dark).await.expect("works");

    // A short packet in the middle of the pixels.
    emulator.set_faults(|f| f.cut_next_reply = Some(1000));
    let error = spec.acquire(&dark).await.expect_err("short read");
    assert!(
        matches!(&error.kind, DeviceErrorKind::Garbage(m) if m.contains("short read")),
        "{error}"
    );
    spec.acquire(&dark).await.expect("recovers");

    // The sync packet never comes.
    emulator.set_faults(|f| f.lose_last_packet = true);
    let error = spec.acquire(&dark).await.expect_err("no sync");
    assert!(
        matches!(&error.kind, DeviceErrorKind::Garbage(m) if m.contains("sync byte")),
        "{error}"
    );
    spec.acquire(&dark).await.expect("recovers");

    // A wrong sync byte.
    emulator.with_device(|d| d.bad_sync_next = Some(0x00));
    let error = spec.acquire(&dark).await.expect_err("bad sync");
    assert!(
        matches!(&error.kind, DeviceErrorKind::Garbage(m) if m.contains("not the sync byte")),
        "{error}"
    );
    spec.acquire(&dark).await.expect("recovers");

    // Silence: a timeout.
    emulator.set_faults(|f| f.silent = true);
    let error = spec.acquire(&dark).await.expect_err("silent");
    assert!(matches!(error.kind, DeviceErrorKind::Timeout(_)), "{error}");
    emulator.set_faults(|f| f.silent = false);
    spec.acquire(&dark).await.expect("recovers");

    // An integration time the device silently kept at its old value (read back from Query
    // Status): refused, not a spectrum labelled with the wrong time.
    emulator.with_device(|d| d.ignore_integration_next = true);
    let error = spec
        .acquire(&request(Illumination::Dark, 0.02, 1))
        .await
        .expect_err("kept");
    assert!(
        matches!(&error.kind, DeviceErrorKind::Refused(m) if m.contains("reports 10000 µs")),
        "{error}"
    );
    spec.acquire(&request(Illumination::Dark, 0.02, 1))
        .await
        .expect("recovers");

    // Unplugged.
    emulator.set_faults(|f| f.unplugged = true);
    let error = spec.acquire(&dark).await.expect_err("unplugged");
    assert!(
        matches!(error.kind, DeviceErrorKind::Disconnected(_)),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_device_of_another_model_is_refused_at_open() {
    let emulator = UsbEmulator::new(OoiEmulator::new(OoiKind::Usb2000Plus));
    let error = UsbBackend::open(
        "spec1",
        emulator.host(),
        ocean_usb::usb4000(),
        DEFAULT_TIMEOUT,
    )
    .await
    .expect_err("2048 pixels is no USB4000");
    assert!(
        matches!(&error.kind, DeviceErrorKind::Refused(m) if m.contains("2048 pixels")),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_garbled_eeprom_slot_is_an_error_at_open() {
    let mut device = OoiEmulator::new(OoiKind::Usb2000Plus);
    device.eeprom.insert(2, "abc".into());
    let emulator = UsbEmulator::new(device);
    let backend = UsbBackend::open(
        "spec1",
        emulator.host(),
        ocean_usb::flame_s(),
        DEFAULT_TIMEOUT,
    )
    .await
    .expect("opens");
    let error = OceanSpectrometer::open("spec1", backend, None, None)
        .await
        .expect_err("not a number");
    assert!(
        matches!(&error.kind, DeviceErrorKind::Garbage(m) if m.contains("slot 2")),
        "{error}"
    );
    // An unprogrammed nonlinearity order is no correction, not an error.
    let mut device = OoiEmulator::new(OoiKind::Usb2000Plus);
    device.eeprom.remove(&14);
    let emulator = UsbEmulator::new(device);
    let spec = open(&emulator, ocean_usb::flame_s(), None, None).await;
    assert!(spec.nonlinearity().is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_sts_on_obp_end_to_end() {
    let emulator = UsbEmulator::new(ObpEmulator::new());
    let mut spec = open(&emulator, ocean_usb::sts(), None, None).await;
    let wl: Vec<f64> = [350.2f32, 0.4512, -3.1e-5, 1.0e-9]
        .iter()
        .map(|&c| f64::from(c))
        .collect();
    assert!((spec.wavelengths()[1023] - poly(&wl, 1023.0)).abs() < 1e-9);
    let nl: Vec<f64> = [0.97f32, 2.0e-6, -5.0e-11]
        .iter()
        .map(|&c| f64::from(c))
        .collect();
    assert_eq!(spec.nonlinearity(), nl.as_slice());
    let id = spec.identify().await.expect("identify");
    assert_eq!(id.serial_number.as_deref(), Some("STS01234"));

    let dark = spec
        .acquire(&request(Illumination::Dark, 0.2, 2))
        .await
        .expect("dark");
    assert_eq!(dark.len(), 1024);
    // No electrical dark pixels on the STS: only the nonlinearity correction.
    let raw = 1500.0;
    assert!((dark.values()[0] - raw / poly(&nl, raw)).abs() < 1e-9);
    // Set integration (with ACK), then a dropped spectrum and two kept.
    let messages = emulator.with_device(|d| d.messages.clone());
    let tail: Vec<u32> = messages[messages.len() - 4..].to_vec();
    assert_eq!(tail, [0x0011_0010, 0x0010_1100, 0x0010_1100, 0x0010_1100]);

    // 14-bit full scale: a bright source saturates at 16383.
    emulator.with_device(|d| d.lamp_on = true);
    let bright = spec
        .acquire(&request(Illumination::Dark, 1.0, 1))
        .await
        .expect("bright");
    assert!(bright.saturated);
    // The STS driver switches no lamp.
    let error = OceanSpectrometer::open(
        "spec1",
        UsbBackend::open("spec1", emulator.host(), ocean_usb::sts(), DEFAULT_TIMEOUT)
            .await
            .expect("opens"),
        None,
        Some(Illumination::Broadband),
    )
    .await
    .expect("opens")
    .acquire(&request(Illumination::Broadband, 0.1, 1))
    .await
    .expect_err("no lamp");
    assert!(matches!(error.kind, DeviceErrorKind::Refused(_)), "{error}");
}

#[tokio::test(start_paused = true)]
async fn obp_faults_are_clear_errors() {
    let emulator = UsbEmulator::new(ObpEmulator::new());
    let mut spec = open(&emulator, ocean_usb::sts(), None, None).await;
    let dark = request(Illumination::Dark, 0.1, 1);
    spec.acquire(&dark).await.expect("works");

    // NACK with the device's error code.
    emulator.with_device(|d| d.nack_next = Some(7));
    let error = spec.acquire(&dark).await.expect_err("nack");
    assert!(
        matches!(&error.kind, DeviceErrorKind::Refused(m)
            if m.contains("NACK") && m.contains("error 7 (device not ready for given message type)")),
        "{error}"
    );
    spec.acquire(&dark).await.expect("recovers");

    // A damaged MD5 checksum.
    emulator.with_device(|d| d.corrupt_checksum_next = true);
    let error = spec.acquire(&dark).await.expect_err("checksum");
    assert!(
        matches!(&error.kind, DeviceErrorKind::Garbage(m) if m.contains("checksum")),
        "{error}"
    );
    spec.acquire(&dark).await.expect("recovers");

    // A spectrum message cut short.
    emulator.set_faults(|f| f.cut_next_reply = Some(700));
    let error = spec.acquire(&dark).await.expect_err("short");
    assert!(
        matches!(&error.kind, DeviceErrorKind::Garbage(m) if m.contains("short read")),
        "{error}"
    );
    spec.acquire(&dark).await.expect("recovers");

    // Silence.
    emulator.set_faults(|f| f.silent = true);
    let error = spec
        .acquire(&request(Illumination::Dark, 0.3, 1))
        .await
        .expect_err("silent");
    assert!(matches!(error.kind, DeviceErrorKind::Timeout(_)), "{error}");
    emulator.set_faults(|f| f.silent = false);

    // An integration time outside the STS's range is refused before anything is written.
    let before = emulator.written().len();
    let error = spec
        .acquire(&request(Illumination::Dark, 100.0, 1))
        .await
        .expect_err("too long");
    assert!(
        matches!(error.kind, DeviceErrorKind::OutOfEnvelope(_)),
        "{error}"
    );
    assert_eq!(emulator.written().len(), before);
}

#[tokio::test(start_paused = true)]
async fn the_device_refuses_a_request_with_a_bad_checksum() {
    // The emulator checks requests by the reference layout: an MD5 that does not match is
    // NACKed with error 3.
    let emulator = UsbEmulator::new(ObpEmulator::new());
    let mut host = emulator.host();
    let t = Duration::from_secs(1);
    let mut request = vec![0xC1, 0xC0, 0x00, 0x11, 0, 0, 0, 0];
    request.extend_from_slice(&0x0018_0100u32.to_le_bytes());
    request.extend_from_slice(&[0; 4 + 6]);
    request.push(1); // MD5
    request.push(0);
    request.extend_from_slice(&[0; 16]);
    request.extend_from_slice(&20u32.to_le_bytes());
    request.extend_from_slice(&[0xAA; 16]);
    request.extend_from_slice(&[0xC5, 0xC4, 0xC3, 0xC2]);
    assert_eq!(request.len(), 64);
    host.write(0x01, &request, t).await.expect("write");
    let reply = host.read(0x81, 64, t).await.expect("reply");
    let msg = qdx_lab::protocol::obp::decode(&reply).expect("a valid reply");
    assert_eq!(msg.flags & 0x0008, 0x0008, "NACK");
    assert_eq!(msg.error, 3);
}

#[test]
fn usb_kinds_have_their_models_capabilities_and_no_port() {
    let settings = Settings::new();
    let cap = |kind: &str| registry::capability(kind, &settings).expect("capability");
    assert_eq!(
        cap("ocean.usb2000_usb"),
        Capability::Spectrometer {
            integration_s: (0.003, 65.535),
            max_averages: 5000,
            pixels: 2048
        }
    );
    assert_eq!(
        cap("ocean.usb4000"),
        Capability::Spectrometer {
            integration_s: (1e-5, 65.535),
            max_averages: 5000,
            pixels: 3840
        }
    );
    assert!(matches!(
        cap("ocean.sts"),
        Capability::Spectrometer { pixels: 1024, .. }
    ));
    // The serial USB2000 is 12-bit too, and 3 ms at least.
    let serial: Settings = [
        (
            "port".to_string(),
            SettingValue::String("/dev/ttyUSB0".into()),
        ),
        (
            "wavelength_coefficients".to_string(),
            SettingValue::NumberList(vec![300.0, 0.3]),
        ),
    ]
    .into_iter()
    .collect();
    assert!(matches!(
        registry::capability("ocean.usb2000", &serial),
        Ok(Capability::Spectrometer { integration_s: (lo, _), .. }) if (lo - 0.003).abs() < 1e-12
    ));
    let with_serial: Settings = [(
        "serial_number".to_string(),
        SettingValue::String("FLMS01234".into()),
    )]
    .into_iter()
    .collect();
    assert!(registry::check_settings("ocean.flame_usb", &with_serial).is_ok());
    assert!(registry::usb_model("ocean.flame").is_none());
}
