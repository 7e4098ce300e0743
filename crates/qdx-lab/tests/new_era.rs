//! New Era NE-1000: the emulator against the reference transcripts, the driver against the
//! emulator, fault injection.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{ML_PER_MIN, exchange, silent};
use qdx_lab::drivers::new_era::{DEFAULT_TIMEOUT, NewEraPump};
use qdx_lab::emulators::Emulator;
use qdx_lab::emulators::new_era::NewEraChain;
use qdx_lab::protocol::new_era::{Mode, frame_safe};
use qdx_lab::transport::{Link, share};
use qdx_lab::{DeviceErrorKind, Pump, PumpDirection, VirtualClock};

fn chain(addresses: &[u8]) -> (Arc<VirtualClock>, Emulator<NewEraChain>) {
    let clock = Arc::new(VirtualClock::new());
    let emulator = Emulator::new(NewEraChain::new(clock.clone(), addresses));
    (clock, emulator)
}

fn pump(emulator: &Emulator<NewEraChain>, address: u8) -> NewEraPump<tokio::io::DuplexStream> {
    let link = share(Link::new(emulator.connect(), DEFAULT_TIMEOUT));
    NewEraPump::new("p_seed", link, address, Mode::Basic)
}

#[tokio::test(start_paused = true)]
async fn basic_mode_transcripts_address_0() {
    let (clock, emulator) = chain(&[0]);
    let mut s = emulator.connect();
    // A pump just powered up answers its first command with the reset alarm, and only that.
    assert_eq!(exchange(&mut s, b"DIA 14.43\r", 7).await, b"\x0200A?R\x03");
    // The appendix lines in order; STP between RUN and the error lines, which show the
    // stopped prompt `S`.
    let cases: [(&[u8], &[u8]); 7] = [
        (b"DIA 14.43\r", b"\x0200S\x03"),
        (b"DIA\r", b"\x0200S14.43\x03"),
        (b"RAT 3.0 MM\r", b"\x0200S\x03"),
        (b"RUN\r", b"\x0200I\x03"),
        (b"STP\r", b"\x0200S\x03"),
        (b"RAT 99999 MM\r", b"\x0200S?OOR\x03"),
        (b"XYZ\r", b"\x0200S?\x03"),
    ];
    for (request, reply) in cases {
        assert_eq!(
            exchange(&mut s, request, reply.len()).await,
            reply,
            "{request:?}"
        );
    }
    // Case and spaces do not matter; an explicit address 0 is the same pump.
    assert_eq!(exchange(&mut s, b"0dia\r", 10).await, b"\x0200S14.43\x03");

    // After a stall the next command is answered with the alarm, then the alarm is gone.
    emulator.with_device(|chain| chain.stall(0));
    assert_eq!(exchange(&mut s, b"\r", 7).await, b"\x0200A?S\x03");
    assert_eq!(exchange(&mut s, b"\r", 5).await, b"\x0200S\x03");

    // 0.25 mL dispensed: 3 mL/min for 5 s.
    assert_eq!(exchange(&mut s, b"CLD INF\r", 5).await, b"\x0200S\x03");
    assert_eq!(exchange(&mut s, b"RUN\r", 5).await, b"\x0200I\x03");
    clock.advance_to(clock_now(&clock) + Duration::from_secs(5));
    assert_eq!(exchange(&mut s, b"STP\r", 5).await, b"\x0200S\x03");
    let dis = b"\x0200SI0.250W0.000ML\x03";
    assert_eq!(exchange(&mut s, b"DIS\r", dis.len()).await, dis);
}

fn clock_now(clock: &VirtualClock) -> Duration {
    use qdx_lab::Clock as _;
    clock.now()
}

#[tokio::test(start_paused = true)]
async fn safe_mode_packets_match_the_reference_vectors() {
    let (_clock, emulator) = chain(&[0]);
    common::acknowledge_power_up(&emulator);
    let mut s = emulator.connect();
    assert_eq!(exchange(&mut s, b"SAF50\r", 5).await, b"\x0200S\x03");
    // Now only safe packets are answered.
    tokio::io::AsyncWriteExt::write_all(&mut s, b"RUN\r")
        .await
        .expect("write");
    assert!(silent(&mut s).await);
    let run = [0x02, 0x08, 0x30, 0x52, 0x55, 0x4e, 0x44, 0x07, 0x03];
    let reply = frame_safe(b"00I");
    assert_eq!(exchange(&mut s, &run, reply.len()).await, reply);
    let stp = [0x02, 0x08, 0x30, 0x53, 0x54, 0x50, 0xb3, 0xf9, 0x03];
    let stopped = [0x02, 0x07, 0x30, 0x30, 0x53, 0xaa, 0xa6, 0x03];
    assert_eq!(exchange(&mut s, &stp, 8).await, stopped);
    emulator.with_device(|chain| chain.stall(0));
    let stall = [0x02, 0x09, 0x30, 0x30, 0x41, 0x3f, 0x53, 0x75, 0xa7, 0x03];
    assert_eq!(exchange(&mut s, &stp, 10).await, stall);
    // A corrupted packet is answered ?COM.
    let mut bad = stp;
    bad[3] ^= 0x20;
    let reply = frame_safe(b"00S?COM");
    assert_eq!(exchange(&mut s, &bad, reply.len()).await, reply);
    // Back to basic mode with the manual's own example packet.
    let saf0 = [0x02, 0x08, b'S', b'A', b'F', b'0', 0x55, 0x43, 0x03];
    let reply = frame_safe(b"00S");
    assert_eq!(exchange(&mut s, &saf0, reply.len()).await, reply);
    assert_eq!(exchange(&mut s, b"\r", 5).await, b"\x0200S\x03");
}

#[tokio::test(start_paused = true)]
async fn driver_runs_the_pump_and_reads_the_dispensed_volume() {
    let (clock, emulator) = chain(&[0]);
    let mut p = pump(&emulator, 0);
    let id = p.identify().await.expect("identify");
    assert_eq!(id.model, "NE1000");
    assert_eq!(id.firmware.as_deref(), Some("3.928"));
    p.configure(14.57).await.expect("configure");
    p.set_direction(PumpDirection::Infuse)
        .await
        .expect("direction");
    p.set_rate(0.5 * ML_PER_MIN).await.expect("rate");
    p.start().await.expect("start");
    clock.advance_to(Duration::from_secs(60));
    let status = p.status().await.expect("status");
    assert!(status.running);
    assert_eq!(status.direction, PumpDirection::Infuse);
    assert!(
        (status.rate / ML_PER_MIN - 0.5).abs() < 1e-9,
        "{}",
        status.rate
    );
    // 0.5 mL/min for 60 s; the pump reports mL with 3 decimals.
    assert!((status.infused - 0.5e-6).abs() < 1e-9, "{}", status.infused);
    assert_eq!(status.withdrawn, 0.0);
    assert_eq!(status.alarm, None);
    p.stop().await.expect("stop");
    assert!(!p.status().await.expect("status").running);
    // The wire saw the 4-digit rate in mL/h (30.00 MH keeps four digits; 0.500 MM would not).
    let sent: Vec<String> = emulator
        .received()
        .iter()
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect();
    assert!(sent.contains(&"0RAT30.00MH".to_string()), "{sent:?}");
    assert!(sent.contains(&"0DIA14.57".to_string()), "{sent:?}");
}

#[tokio::test(start_paused = true)]
async fn two_pumps_share_one_line() {
    let (clock, emulator) = chain(&[0, 1]);
    let link = share(Link::new(emulator.connect(), DEFAULT_TIMEOUT));
    let mut a = NewEraPump::new("p_seed", link.clone(), 0, Mode::Basic);
    let mut b = NewEraPump::new("p_iodide", link, 1, Mode::Basic);
    let (ra, rb) = tokio::join!(
        async {
            a.set_rate(1.0 * ML_PER_MIN).await?;
            a.start().await
        },
        async {
            b.set_rate(2.0 * ML_PER_MIN).await?;
            b.set_direction(PumpDirection::Withdraw).await?;
            b.start().await
        }
    );
    ra.expect("pump a");
    rb.expect("pump b");
    clock.advance_to(Duration::from_secs(30));
    let (sa, sb) = tokio::join!(a.status(), b.status());
    let (sa, sb) = (sa.expect("status a"), sb.expect("status b"));
    assert!((sa.infused - 0.5e-6).abs() < 1e-9, "{}", sa.infused);
    assert!((sb.withdrawn - 1.0e-6).abs() < 1e-9, "{}", sb.withdrawn);
    assert_eq!(sb.direction, PumpDirection::Withdraw);
}

#[tokio::test(start_paused = true)]
async fn safe_mode_driver_round_trip() {
    let (clock, emulator) = chain(&[3]);
    let mut p = pump(&emulator, 3);
    p.enter_safe_mode(30).await.expect("safe mode");
    p.set_rate(1.0 * ML_PER_MIN).await.expect("rate");
    p.start().await.expect("start");
    clock.advance_to(Duration::from_secs(6));
    let status = p.status().await.expect("status");
    assert!((status.infused - 0.1e-6).abs() < 1e-9, "{}", status.infused);
    assert_eq!(
        emulator.received().last().and_then(|r| r.first().copied()),
        Some(0x02)
    );
    p.leave_safe_mode().await.expect("basic mode");
    p.stop().await.expect("stop in basic mode");
}

#[tokio::test(start_paused = true)]
async fn stall_alarm_fails_the_command_and_shows_in_status() {
    let (_clock, emulator) = chain(&[0]);
    let mut p = pump(&emulator, 0);
    p.set_rate(1.0 * ML_PER_MIN).await.expect("rate");
    p.start().await.expect("start");
    emulator.with_device(|chain| chain.stall(0));
    let error = p.set_rate(2.0 * ML_PER_MIN).await.expect_err("alarm");
    assert_eq!(error.kind, DeviceErrorKind::Alarm("motor stalled".into()));
    assert_eq!(error.device, "p_seed");
    // The alarm was acknowledged: the next command goes through.
    p.set_rate(2.0 * ML_PER_MIN)
        .await
        .expect("rate after the alarm");

    emulator.with_device(|chain| chain.stall(0));
    let status = p.status().await.expect("status");
    assert_eq!(status.alarm.as_deref(), Some("motor stalled"));
    assert!(!status.running);
}

#[tokio::test(start_paused = true)]
async fn silence_is_a_timeout() {
    let (_clock, emulator) = chain(&[0]);
    let mut p = pump(&emulator, 0);
    emulator.set_faults(|f| f.silent = true);
    let error = p.start().await.expect_err("timeout");
    assert_eq!(error.kind, DeviceErrorKind::Timeout(DEFAULT_TIMEOUT));
    // A reply later than the deadline is also a timeout, and its late arrival does not
    // confuse the next command.
    emulator.set_faults(|f| {
        f.silent = false;
        f.reply_delay = DEFAULT_TIMEOUT * 2;
    });
    let error = p.identify().await.expect_err("late");
    assert_eq!(error.kind, DeviceErrorKind::Timeout(DEFAULT_TIMEOUT));
    emulator.set_faults(|f| f.reply_delay = Duration::ZERO);
    tokio::time::sleep(DEFAULT_TIMEOUT * 2).await;
    assert_eq!(p.identify().await.expect("identify").model, "NE1000");
}

#[tokio::test(start_paused = true)]
async fn garbage_nak_split_and_disconnect() {
    let (_clock, emulator) = chain(&[0]);
    let mut p = pump(&emulator, 0);
    emulator.set_faults(|f| f.garbage_replies = 1);
    assert!(matches!(
        p.start().await.expect_err("garbage").kind,
        DeviceErrorKind::Garbage(_)
    ));

    emulator.set_faults(|f| f.error_replies = 1);
    assert!(matches!(
        p.start().await.expect_err("refused").kind,
        DeviceErrorKind::Refused(_)
    ));

    // The pump refuses a rate beyond what the syringe allows.
    p.configure(4.699).await.expect("1 mL syringe");
    let error = p
        .set_rate(50.0 * ML_PER_MIN)
        .await
        .expect_err("out of range");
    assert!(matches!(error.kind, DeviceErrorKind::Refused(ref m) if m.contains("out of range")));

    emulator.set_faults(|f| f.split_replies = true);
    assert_eq!(p.identify().await.expect("split reply").model, "NE1000");

    emulator.set_faults(|f| {
        f.split_replies = false;
        f.disconnect_after = Some(emulator.received().len() as u64 + 2);
    });
    p.set_rate(0.01 * ML_PER_MIN)
        .await
        .expect("one more command");
    let error = p.start().await.expect_err("disconnected");
    assert!(
        matches!(error.kind, DeviceErrorKind::Disconnected(_)),
        "{error}"
    );
    let error = p.stop().await.expect_err("still disconnected");
    assert!(
        matches!(error.kind, DeviceErrorKind::Disconnected(_)),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn zero_rate_holds_the_pump_stopped() {
    let (_clock, emulator) = chain(&[0]);
    let mut p = pump(&emulator, 0);
    p.set_rate(1.0 * ML_PER_MIN).await.expect("rate");
    p.start().await.expect("start");
    p.set_rate(0.0).await.expect("zero");
    let status = p.status().await.expect("status");
    assert!(!status.running);
    assert_eq!(status.rate, 0.0);
    p.start().await.expect("start at zero is a no-op");
    assert!(!p.status().await.expect("status").running);
}

#[tokio::test(start_paused = true)]
async fn pause_on_first_stop_models_are_fully_stopped() {
    let (_clock, emulator) = chain(&[0]);
    emulator.with_device(|chain| chain.stop_pauses_first = true);
    let mut p = pump(&emulator, 0);
    p.start().await.expect("start");
    p.stop().await.expect("stop");
    let stops = emulator
        .received()
        .iter()
        .filter(|r| r.as_slice() == b"0STP")
        .count();
    assert_eq!(stops, 2);
    let status = p.status().await.expect("status");
    assert!(!status.running);
}

#[tokio::test(start_paused = true)]
async fn safe_mode_timeout_stops_a_pump_nobody_talks_to() {
    let (clock, emulator) = chain(&[0]);
    let mut p = pump(&emulator, 0);
    p.enter_safe_mode(5).await.expect("safe mode");
    p.set_rate(1.0 * ML_PER_MIN).await.expect("rate");
    p.start().await.expect("start");
    // Heard every 4 s: the 5 s timer never lapses.
    for t in [4, 8] {
        clock.advance_to(Duration::from_secs(t));
        let status = p.status().await.expect("status");
        assert!(
            status.running && status.alarm.is_none(),
            "{t} s: {status:?}"
        );
    }
    // Silent from 8 s: the pump stops itself at 13 s and raises `T`.
    clock.advance_to(Duration::from_secs(20));
    let status = p.status().await.expect("status");
    assert_eq!(
        status.alarm.as_deref(),
        Some("safe-mode communication timeout")
    );
    assert!(!status.running);
    assert!(
        (status.infused - 13.0 / 60.0 * 1e-6).abs() < 1e-9,
        "{}",
        status.infused
    );
}

/// Issue 9, item 5: the factory baud rate of the NE-1000 family is 19 200, and a binding that
/// names no baud rate gets it.
#[test]
fn the_factory_baud_rate_is_the_default() {
    assert_eq!(qdx_lab::drivers::new_era::DEFAULT_BAUD, 19_200);
    let kind = qdx_lab::registry::kind("new_era.ne1000").expect("a kind");
    let baud = kind.settings.iter().find(|s| s.name == "baud");
    assert_eq!(
        baud.and_then(|s| s.default.clone()),
        Some(qdx_lab::registry::SettingValue::Integer(19_200))
    );
}

/// Issue 9, item 5: a pump just powered up answers its first command with the reset alarm
/// `A?R` and does not execute it; connecting acknowledges it first.
#[tokio::test(start_paused = true)]
async fn a_pump_fresh_from_power_up_is_configured_through_its_reset_alarm() {
    let (_clock, emulator) = chain(&[0]);
    let mut p = pump(&emulator, 0);
    p.configure(14.57).await.expect("configure after power-up");
    assert_eq!(
        emulator.with_device(|c| c.pump(0).map(|p| p.diameter_mm)),
        Some(14.57)
    );
    assert_eq!(
        emulator.with_device(|c| c.pump(0).map(|p| p.alarm)),
        Some(None)
    );
}

/// Issue 9, item 5: safe mode survives a power cycle, so a pump left in safe mode by a crashed
/// run ignores basic-mode commands; connecting finds it there and returns it to basic mode, or
/// keeps it in safe mode when the binding asks for safe mode.
#[tokio::test(start_paused = true)]
async fn a_pump_left_in_safe_mode_by_a_crash_is_found_at_connect() {
    for wants_safe_mode in [false, true] {
        let (_clock, emulator) = chain(&[0]);
        emulator.with_device(|c| {
            if let Some(p) = c.pumps.get_mut(&0) {
                p.safe_mode = true;
                p.safe_timeout = Some(Duration::from_secs(5));
            }
            c.power_cycle(0);
        });
        let mut p = pump(&emulator, 0);
        if wants_safe_mode {
            p.enter_safe_mode(30).await.expect("safe mode");
        }
        p.configure(14.57).await.expect("found in safe mode");
        assert_eq!(p.identify().await.expect("identify").model, "NE1000");
        assert_eq!(
            emulator.with_device(|c| c.pump(0).map(|p| p.safe_mode)),
            Some(wants_safe_mode)
        );
    }
}

/// Issue 9, item 5: `SAF0` puts the pump in basic mode (it disables safe mode), so the driver
/// keeps talking basic mode after it.
#[tokio::test(start_paused = true)]
async fn saf0_leaves_the_pump_in_basic_mode() {
    let (_clock, emulator) = chain(&[0]);
    common::acknowledge_power_up(&emulator);
    let mut p = pump(&emulator, 0);
    p.enter_safe_mode(0).await.expect("SAF0");
    assert_eq!(p.identify().await.expect("basic mode").model, "NE1000");
    assert_eq!(
        emulator.with_device(|c| c.pump(0).map(|p| p.safe_mode)),
        Some(false)
    );
}

/// Issue 9, item 5: the reply to `SAF n` may come in the framing of either mode (the manual
/// does not say which); the driver reads both.
#[tokio::test(start_paused = true)]
async fn the_reply_to_saf_is_read_in_either_framing() {
    for new_mode in [false, true] {
        let (_clock, emulator) = chain(&[0]);
        common::acknowledge_power_up(&emulator);
        emulator.with_device(|c| c.saf_reply_in_new_mode = new_mode);
        let mut p = pump(&emulator, 0);
        p.enter_safe_mode(30).await.expect("SAF30");
        assert_eq!(p.identify().await.expect("safe mode").model, "NE1000");
        p.leave_safe_mode().await.expect("SAF0");
        assert_eq!(p.identify().await.expect("basic mode").model, "NE1000");
    }
}

/// Issue 15: an `S` or `T` alarm found at first contact was left from earlier use
/// (instruments.md A1: report it rather than let the first command acknowledge it silently).
/// The first command of the session fails with it, so connecting (configure) fails and the
/// run does not start; `status` reports it instead of failing. The power-up `R` stays silent.
#[tokio::test(start_paused = true)]
async fn an_alarm_left_from_earlier_use_is_reported_at_first_contact() {
    for (kind, text) in [
        (b'S', "motor stalled"),
        (b'T', "safe-mode communication timeout"),
    ] {
        let (_clock, emulator) = chain(&[0]);
        emulator.with_device(|c| {
            if let Some(p) = c.pumps.get_mut(&0) {
                p.alarm = Some(kind);
            }
        });
        let mut p = pump(&emulator, 0);
        let error = p.configure(14.57).await.expect_err("a left-over alarm");
        assert!(
            matches!(error.kind, DeviceErrorKind::Alarm(ref m)
                if m.contains(text) && m.contains("pending when the session began")),
            "{error}"
        );
        assert_eq!(p.alarm_at_connect(), Some(text));
        // Reported once: the pump acknowledged it, and connecting again goes through.
        p.configure(14.57)
            .await
            .expect("configure after the report");

        let (_clock, emulator) = chain(&[0]);
        emulator.with_device(|c| {
            if let Some(p) = c.pumps.get_mut(&0) {
                p.alarm = Some(kind);
            }
        });
        let mut p = pump(&emulator, 0);
        let status = p.status().await.expect("status reports, not fails");
        assert!(
            status.alarm.as_deref().is_some_and(|a| a.contains(text)),
            "{status:?}"
        );
    }
}

/// Issue 15: a pump may answer a frame of the other mode with `?COM` instead of silence
/// (instruments.md A1, "Safe mode"): first contact takes that as "the other mode" and finds
/// the pump there, as it does when the pump is silent.
#[tokio::test(start_paused = true)]
async fn a_pump_answering_the_other_modes_frame_with_com_is_found_at_first_contact() {
    for builds_in in [Mode::Basic, Mode::Safe] {
        let (_clock, emulator) = chain(&[0]);
        emulator.with_device(|c| {
            c.wrong_mode_answers_com = true;
            if let Some(p) = c.pumps.get_mut(&0) {
                p.safe_mode = builds_in == Mode::Basic;
            }
        });
        // The emulator's own answer: `?COM` in the pump's framing.
        let mut s = emulator.connect();
        let wrong = match builds_in {
            Mode::Basic => b"\r".to_vec(),
            Mode::Safe => frame_safe(b"0"),
        };
        let expected = match builds_in {
            Mode::Basic => frame_safe(b"00S?COM"),
            Mode::Safe => b"\x0200S?COM\x03".to_vec(),
        };
        assert_eq!(exchange(&mut s, &wrong, expected.len()).await, expected);
        drop(s);
        let link = share(Link::new(emulator.connect(), DEFAULT_TIMEOUT));
        let mut p = NewEraPump::new("p_seed", link, 0, builds_in);
        p.configure(14.57).await.expect("found in the other mode");
        assert_eq!(p.identify().await.expect("identify").model, "NE1000");
        assert_eq!(
            emulator.with_device(|c| c.pump(0).map(|p| p.diameter_mm)),
            Some(14.57)
        );
    }
}
