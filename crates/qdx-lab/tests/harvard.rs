//! Harvard Pump 11 Elite / PHD Ultra: transcripts, driver, faults.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{ML_PER_MIN, exchange};
use qdx_lab::drivers::harvard::{DEFAULT_TIMEOUT, HarvardModel, HarvardPump};
use qdx_lab::emulators::Emulator;
use qdx_lab::emulators::harvard::HarvardEmulator;
use qdx_lab::transport::{Link, share};
use qdx_lab::{DeviceErrorKind, Pump, PumpDirection, VirtualClock};

fn emulator(address: u8) -> (Arc<VirtualClock>, Emulator<HarvardEmulator>) {
    let clock = Arc::new(VirtualClock::new());
    (
        clock.clone(),
        Emulator::new(HarvardEmulator::new(clock, address)),
    )
}

fn pump(emulator: &Emulator<HarvardEmulator>, address: u8) -> HarvardPump<tokio::io::DuplexStream> {
    model_pump(emulator, address, HarvardModel::Pump11Elite)
}

fn model_pump(
    emulator: &Emulator<HarvardEmulator>,
    address: u8,
    model: HarvardModel,
) -> HarvardPump<tokio::io::DuplexStream> {
    HarvardPump::new(
        "p_h",
        share(Link::new(emulator.connect(), DEFAULT_TIMEOUT)),
        address,
        model,
    )
}

#[tokio::test(start_paused = true)]
async fn appendix_transcripts() {
    let (clock, emulator) = emulator(0);
    let mut s = emulator.connect();
    assert_eq!(exchange(&mut s, b"irate 100 u/m\r", 2).await, b"\n:");
    assert_eq!(exchange(&mut s, b"irate\r", 14).await, b"\n100 ul/min\r\n:");
    assert_eq!(exchange(&mut s, b"irun\r", 2).await, b"\n>");
    assert_eq!(exchange(&mut s, b"\r", 2).await, b"\n>");
    emulator.with_device(HarvardEmulator::stall);
    assert_eq!(exchange(&mut s, b"\r", 2).await, b"\n*");
    assert_eq!(exchange(&mut s, b"stop\r", 2).await, b"\n:");
    assert_eq!(
        exchange(&mut s, b"irate fast u/m\r", 18).await,
        b"\nArgument error\r\n:"
    );
    // 100 µL/min for 40 s passes a 50 µL target.
    assert_eq!(exchange(&mut s, b"tvolume 50 ul\r", 2).await, b"\n:");
    assert_eq!(exchange(&mut s, b"irun\r", 2).await, b"\n>");
    clock.advance_to(Duration::from_secs(40));
    assert_eq!(exchange(&mut s, b"\r", 3).await, b"\nT*");
    // Commands shorten to four letters.
    assert_eq!(exchange(&mut s, b"irat\r", 15).await, b"\n100 ul/min\r\nT*");
}

#[tokio::test(start_paused = true)]
async fn address_1_prefixes_lines_and_prompt() {
    let (_clock, emulator) = emulator(1);
    let mut s = emulator.connect();
    assert_eq!(exchange(&mut s, b"1irate 100 u/m\r", 4).await, b"\n01:");
    assert_eq!(
        exchange(&mut s, b"1irate\r", 20).await,
        b"\n01:100 ul/min\r\n01:"
    );
    // Another address gets no answer; the driver at address 1 still works through it.
    let mut p = pump(&emulator, 1);
    assert_eq!(
        p.identify().await.expect("identify").firmware.as_deref(),
        Some("3.0.4")
    );
}

#[tokio::test(start_paused = true)]
async fn driver_pumps_both_ways_and_reads_volumes() {
    let (clock, emulator) = emulator(0);
    let mut p = pump(&emulator, 0);
    let id = p.identify().await.expect("identify");
    assert_eq!(id.model, "11 ELITE I/W Single");
    p.configure(14.57).await.expect("configure");
    let (min, max) = p.rate_limits().await.expect("limits");
    assert!(min > 0.0 && max > 10.0 * ML_PER_MIN, "{min} {max}");
    p.set_rate(0.5 * ML_PER_MIN).await.expect("rate");
    p.start().await.expect("start");
    clock.advance_to(Duration::from_secs(60));
    let status = p.status().await.expect("status");
    assert!(status.running);
    assert!(
        (status.rate / ML_PER_MIN - 0.5).abs() < 1e-9,
        "{}",
        status.rate
    );
    assert!((status.infused - 0.5e-6).abs() < 1e-9, "{}", status.infused);
    p.set_direction(PumpDirection::Withdraw)
        .await
        .expect("reverse");
    clock.advance_to(Duration::from_secs(120));
    let status = p.status().await.expect("status");
    assert_eq!(status.direction, PumpDirection::Withdraw);
    assert!(
        (status.withdrawn - 0.5e-6).abs() < 1e-9,
        "{}",
        status.withdrawn
    );
    p.stop().await.expect("stop");
    assert!(!p.status().await.expect("status").running);
    let sent: Vec<String> = emulator
        .received()
        .iter()
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect();
    assert!(
        sent.contains(&"irate 500 u/h".to_string()) || sent.contains(&"irate 30 m/h".to_string()),
        "{sent:?}"
    );
    assert!(sent.contains(&"wrun".to_string()), "{sent:?}");
}

#[tokio::test(start_paused = true)]
async fn faults_map_to_kinds() {
    let (_clock, emulator) = emulator(0);
    let mut p = pump(&emulator, 0);
    p.set_rate(1.0 * ML_PER_MIN).await.expect("rate");
    p.start().await.expect("start");
    emulator.with_device(HarvardEmulator::stall);
    let error = p.set_rate(2.0 * ML_PER_MIN).await.expect_err("stalled");
    assert_eq!(error.kind, DeviceErrorKind::Alarm("motor stalled".into()));
    assert_eq!(
        p.status().await.expect("status").alarm.as_deref(),
        Some("motor stalled")
    );
    p.stop().await.expect("stopping a stalled pump succeeds");
    assert_eq!(p.status().await.expect("status").alarm, None);

    // Beyond the syringe's reach the pump itself answers "Out of range".
    let error = p.set_rate(500.0 * ML_PER_MIN).await.expect_err("range");
    assert!(
        matches!(error.kind, DeviceErrorKind::Refused(ref m) if m.contains("Out of range")),
        "{error}"
    );

    emulator.set_faults(|f| f.silent = true);
    assert_eq!(
        p.start().await.expect_err("timeout").kind,
        DeviceErrorKind::Timeout(DEFAULT_TIMEOUT)
    );
    emulator.set_faults(|f| {
        f.silent = false;
        f.garbage_replies = 1;
    });
    assert!(matches!(
        p.start().await.expect_err("garbage").kind,
        DeviceErrorKind::Garbage(_)
    ));
    emulator.set_faults(|f| f.error_replies = 1);
    assert!(matches!(
        p.start().await.expect_err("nak").kind,
        DeviceErrorKind::Refused(_)
    ));
    emulator.set_faults(|f| f.split_replies = true);
    assert_eq!(
        p.identify().await.expect("split").firmware.as_deref(),
        Some("3.0.4")
    );
    emulator.set_faults(|f| f.disconnect_after = Some(emulator.received().len() as u64 + 1));
    assert!(matches!(
        p.stop().await.expect_err("gone").kind,
        DeviceErrorKind::Disconnected(_)
    ));
}

/// Issue 9, item 5, and issue 15: PHD Ultra firmware prints five status flags (direction,
/// limit, stall, trigger, direction port: PHD ULTRA manual p. 88), and its manual shows the
/// direction flag in lower case only; a running pump is known by its prompt.
#[tokio::test(start_paused = true)]
async fn a_phd_ultra_status_line_with_five_flags_is_read() {
    let clock = Arc::new(VirtualClock::new());
    let emulator = Emulator::new(HarvardEmulator::phd_ultra(clock.clone(), 0));
    let mut p = model_pump(&emulator, 0, HarvardModel::PhdUltra);
    p.configure(14.57).await.expect("configure");
    p.set_rate(ML_PER_MIN).await.expect("rate");
    p.start().await.expect("start");
    clock.advance_to(Duration::from_secs(30));
    let status = p.status().await.expect("status");
    assert!(status.running && status.alarm.is_none(), "{status:?}");
    assert!(
        (status.rate / ML_PER_MIN - 1.0).abs() < 1e-6,
        "{}",
        status.rate
    );
    assert!((status.infused - 0.5e-6).abs() < 1e-9, "{}", status.infused);
    emulator.with_device(HarvardEmulator::stall);
    let status = p.status().await.expect("status");
    assert_eq!(status.alarm.as_deref(), Some("motor stalled"));
    assert!(!status.running);
}

/// Issue 15: the PHD ULTRA takes an address with a colon, `12:irat 3.2 ul/min` (PHD ULTRA
/// manual 5419-002 Rev A p. 83); the Elite's form `12irat` does not reach it.
#[tokio::test(start_paused = true)]
async fn a_phd_ultra_at_an_address_is_addressed_with_a_colon() {
    let clock = Arc::new(VirtualClock::new());
    let emulator = Emulator::new(HarvardEmulator::phd_ultra(clock.clone(), 12));
    let mut s = emulator.connect();
    assert_eq!(exchange(&mut s, b"12:irate 100 u/m\r", 4).await, b"\n12:");
    drop(s);
    let mut p = model_pump(&emulator, 12, HarvardModel::PhdUltra);
    p.configure(14.57).await.expect("configure");
    assert!(
        p.identify()
            .await
            .expect("identify")
            .model
            .starts_with("PHD ULTRA")
    );
    p.set_rate(ML_PER_MIN).await.expect("rate");
    p.start().await.expect("start");
    clock.advance_to(Duration::from_secs(30));
    let status = p.status().await.expect("status");
    assert!(status.running, "{status:?}");
    assert!((status.infused - 0.5e-6).abs() < 1e-9, "{}", status.infused);
    let sent = emulator.received();
    assert!(sent.iter().any(|r| r.starts_with(b"12:irun")), "{sent:?}");
}

/// Issue 15: a pump with echo on repeats each command ahead of its reply (instruments.md A2);
/// connecting sends `echo off`, and an echo is never taken for an answer.
#[tokio::test(start_paused = true)]
async fn echo_is_turned_off_at_connect_and_an_echo_is_never_an_answer() {
    for model in [HarvardModel::Pump11Elite, HarvardModel::PhdUltra] {
        let clock = Arc::new(VirtualClock::new());
        let emulator = Emulator::new(match model {
            HarvardModel::Pump11Elite => HarvardEmulator::new(clock.clone(), 1),
            HarvardModel::PhdUltra => HarvardEmulator::phd_ultra(clock.clone(), 1),
        });
        emulator.with_device(|e| e.echo = true);
        let mut p = model_pump(&emulator, 1, model);
        p.configure(14.57).await.expect("configure");
        assert!(!emulator.with_device(|e| e.echo), "{model:?}");
        // Turned back on behind the driver's back: the echo line is still not the answer.
        emulator.with_device(|e| e.echo = true);
        assert!(p.identify().await.expect("identify").firmware.is_some());
        p.set_rate(ML_PER_MIN).await.expect("rate");
        let status = p.status().await.expect("status");
        assert!(!status.running && status.alarm.is_none(), "{status:?}");
        assert!(
            (status.rate / ML_PER_MIN - 1.0).abs() < 1e-6,
            "{}",
            status.rate
        );
    }
}
