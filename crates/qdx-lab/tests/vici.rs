//! VICI Valco universal actuator: transcripts, driver, faults.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{exchange, silent};
use qdx_lab::drivers::vici::{self, DEFAULT_TIMEOUT, ValveType, ViciValve};
use qdx_lab::emulators::Emulator;
use qdx_lab::emulators::vici::{Mode, ViciEmulator};
use qdx_lab::transport::{Link, SharedLink, share};
use qdx_lab::{DeviceErrorKind, RealClock, Valve};
use tokio::io::DuplexStream;

fn selector(id: Option<u8>, positions: u16) -> Emulator<ViciEmulator> {
    Emulator::new(ViciEmulator::new(
        Arc::new(RealClock::new()),
        id,
        Mode::Multiposition { positions },
    ))
}

fn line(emulator: &Emulator<ViciEmulator>) -> SharedLink<DuplexStream> {
    share(Link::new(emulator.connect(), DEFAULT_TIMEOUT))
}

/// The manual's examples (command reference, pp. 15–17) and flowchem's observed replies.
#[tokio::test(start_paused = true)]
async fn manual_transcripts() {
    let emulator = selector(None, 6);
    let mut s = emulator.connect();
    assert_eq!(exchange(&mut s, b"CP\r", 5).await, b"CP01\r");
    assert_eq!(exchange(&mut s, b"NP\r", 5).await, b"NP06\r");
    assert_eq!(exchange(&mut s, b"IFM0\r", 5).await, b"IFM0\r");
    s.write_all_ok(b"GO3\r").await;
    assert!(silent(&mut s).await, "IFM0: no answer to an action");
    assert_eq!(exchange(&mut s, b"CP\r", 5).await, b"CP03\r");
    s.write_all_ok(b"HM\r").await;
    assert!(silent(&mut s).await);
    assert_eq!(exchange(&mut s, b"CP\r", 5).await, b"CP01\r");
    assert_eq!(exchange(&mut s, b"GO9\r", 14).await, b"E2 GO Invalid\r");

    // With an ID, only commands that begin with it are acted on, and replies carry it.
    let emulator = Emulator::new(ViciEmulator::new(
        Arc::new(RealClock::new()),
        Some(0),
        Mode::TwoPosition,
    ));
    let mut s = emulator.connect();
    assert_eq!(exchange(&mut s, b"0CP\r", 5).await, b"0CPA\r");
    assert_eq!(exchange(&mut s, b"0ID\r", 5).await, b"0ID0\r");
    s.write_all_ok(b"1CP\r").await;
    assert!(silent(&mut s).await, "another ID's command is not answered");
    s.write_all_ok(b"*GOB\r").await;
    assert!(silent(&mut s).await, "a broadcast is not answered");
    assert_eq!(exchange(&mut s, b"0CP\r", 5).await, b"0CPB\r");
    assert_eq!(exchange(&mut s, b"0NP\r", 15).await, b"0E2 NP Invalid\r");
}

trait WriteOk {
    async fn write_all_ok(&mut self, bytes: &[u8]);
}

impl WriteOk for DuplexStream {
    async fn write_all_ok(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt as _;
        self.write_all(bytes).await.expect("write");
    }
}

#[tokio::test(start_paused = true)]
async fn the_driver_moves_and_proves_every_move() {
    let emulator = selector(Some(2), 6);
    emulator.with_device(|e| e.move_time = Duration::from_millis(150));
    let mut v = ViciValve::new(
        "v1",
        line(&emulator),
        Some(2),
        ValveType::Multiposition { positions: 6 },
    );
    v.configure().await.expect("configure");
    assert_eq!(emulator.with_device(|e| e.interface_mode), 0);
    let identity = v.identify().await.expect("identify");
    assert_eq!(identity.vendor, "VICI Valco");
    assert_eq!(
        identity.firmware.as_deref(),
        Some("Dec 15 2011 15:02:20 UA_MAIN_CT")
    );
    v.set_position(5).await.expect("move to 5");
    assert_eq!(v.position().await.expect("position"), 5);
    assert_eq!(emulator.with_device(|e| e.position), 5);
    // The driver read CP until the rotor arrived (four steps of 150 ms).
    let reads = emulator
        .received()
        .iter()
        .filter(|r| r.as_slice() == b"2CP")
        .count();
    assert!(reads >= 3, "{:?}", emulator.received());
    v.home().await.expect("home");
    assert_eq!(emulator.with_device(|e| e.position), 1);
    assert!(emulator.received().iter().any(|r| r.as_slice() == b"2HM"));
}

#[tokio::test(start_paused = true)]
async fn an_actuator_silent_while_it_turns_is_asked_again_until_it_arrives() {
    let emulator = selector(None, 10);
    emulator.with_device(|e| {
        e.move_time = Duration::from_millis(400);
        e.busy_while_moving = true;
    });
    let mut v = ViciValve::new(
        "v1",
        line(&emulator),
        None,
        ValveType::Multiposition { positions: 10 },
    );
    v.configure().await.expect("configure");
    // Nine steps of 400 ms: several CP reads go unanswered (1 s timeout each) on the way.
    v.set_position(10).await.expect("arrives");
    let reads = emulator
        .received()
        .iter()
        .filter(|r| r.as_slice() == b"CP")
        .count();
    assert!(reads >= 3, "{:?}", emulator.received());
    assert_eq!(emulator.with_device(|e| e.position), 10);
    // Still silent after the move timeout: the link's timeout, not an alarm.
    emulator.with_device(|e| e.move_time = Duration::from_secs(60));
    let error = v.set_position(1).await.expect_err("never answers in time");
    assert_eq!(error.kind, DeviceErrorKind::Timeout(DEFAULT_TIMEOUT));
}

#[tokio::test(start_paused = true)]
async fn a_switching_valve_goes_to_a_and_b_even_when_the_actuator_answers_actions() {
    let emulator = Emulator::new(ViciEmulator::new(
        Arc::new(RealClock::new()),
        None,
        Mode::TwoPosition,
    ));
    let mut v = ViciValve::new("v2", line(&emulator), None, ValveType::TwoPosition);
    // IFM stays at 1 if the actuator ignores IFM0: every answer is read, none left stale.
    emulator.with_device(|e| e.interface_mode = 1);
    v.set_position(2).await.expect("to B");
    assert_eq!(v.position().await.expect("position"), 2);
    v.set_position(1).await.expect("to A");
    assert_eq!(v.position().await.expect("position"), 1);
    let sent: Vec<String> = emulator
        .received()
        .iter()
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect();
    assert!(
        sent.contains(&"GOB".into()) && sent.contains(&"GOA".into()),
        "{sent:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn two_actuators_share_one_line() {
    let clock = Arc::new(RealClock::new());
    let a = Emulator::new(ViciEmulator::new(
        clock.clone(),
        Some(1),
        Mode::Multiposition { positions: 10 },
    ));
    let b = a.clone();
    // One emulator plays the line; a second actuator with ID 2 is not emulated, so its
    // commands go unanswered: the driver of ID 1 must still get its own replies.
    let shared = line(&a);
    let mut v1 = ViciValve::new(
        "v1",
        shared.clone(),
        Some(1),
        ValveType::Multiposition { positions: 10 },
    );
    let mut v2 = ViciValve::new("v2", shared, Some(2), ValveType::TwoPosition);
    v1.set_position(7).await.expect("v1 moves");
    let silent = v2.position().await.expect_err("nobody at ID 2");
    assert!(
        matches!(silent.kind, DeviceErrorKind::Timeout(_)),
        "{silent}"
    );
    assert_eq!(v1.position().await.expect("v1 again"), 7);
    assert_eq!(b.with_device(|e| e.position), 7);
}

#[tokio::test(start_paused = true)]
async fn a_binding_that_disagrees_with_the_actuator_is_refused_at_connect() {
    let emulator = selector(None, 10);
    let mut v = ViciValve::new(
        "v1",
        line(&emulator),
        None,
        ValveType::Multiposition { positions: 6 },
    );
    let error = v.configure().await.expect_err("NP is 10");
    assert!(
        matches!(&error.kind, DeviceErrorKind::Refused(m) if m.contains("10 positions")),
        "{error}"
    );
    let mut v = ViciValve::new("v1", line(&emulator), None, ValveType::TwoPosition);
    let error = v.configure().await.expect_err("multiposition mode");
    assert!(
        matches!(&error.kind, DeviceErrorKind::Refused(m) if m.contains("multiposition mode")),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stuck_valve_is_an_alarm_and_an_impossible_position_is_never_sent() {
    let emulator = selector(None, 6);
    let mut v = ViciValve::new(
        "v1",
        line(&emulator),
        None,
        ValveType::Multiposition { positions: 6 },
    )
    .with_move_timeout(Duration::from_secs(2));
    emulator.with_device(|e| e.stuck = true);
    let error = v.set_position(4).await.expect_err("stuck");
    assert_eq!(
        error.to_string(),
        "v1: alarm: the valve did not reach position 4 within 2 s: it reports position 1"
    );
    let before = emulator.received().len();
    let error = v.set_position(7).await.expect_err("no position 7");
    assert!(
        matches!(error.kind, DeviceErrorKind::OutOfEnvelope(_)),
        "{error}"
    );
    assert_eq!(emulator.received().len(), before, "nothing written");
}

#[tokio::test(start_paused = true)]
async fn wire_faults_map_to_kinds() {
    let emulator = selector(None, 6);
    let mut v = ViciValve::new(
        "v1",
        line(&emulator),
        None,
        ValveType::Multiposition { positions: 6 },
    );
    emulator.set_faults(|f| f.silent = true);
    assert_eq!(
        v.position().await.expect_err("silent").kind,
        DeviceErrorKind::Timeout(DEFAULT_TIMEOUT)
    );
    emulator.set_faults(|f| {
        f.silent = false;
        f.garbage_replies = 1;
    });
    assert!(matches!(
        v.position().await.expect_err("garbage").kind,
        DeviceErrorKind::Garbage(_)
    ));
    // A well-formed line that is not a position is garbage too.
    emulator.with_device(|e| e.mode = Mode::TwoPosition);
    assert!(matches!(
        v.position().await.expect_err("CPA on a selector").kind,
        DeviceErrorKind::Garbage(_)
    ));
    emulator.with_device(|e| e.mode = Mode::Multiposition { positions: 6 });
    emulator.set_faults(|f| f.error_replies = 1);
    assert!(matches!(
        v.position().await.expect_err("error answer").kind,
        DeviceErrorKind::Refused(_)
    ));
    emulator.set_faults(|f| f.split_replies = true);
    v.set_position(3).await.expect("split replies reassemble");
    emulator.set_faults(|f| f.disconnect_after = Some(emulator.received().len() as u64 + 1));
    assert!(matches!(
        v.position().await.expect_err("gone").kind,
        DeviceErrorKind::Disconnected(_)
    ));
    assert_eq!(vici::serial_settings(9600).baud, vici::DEFAULT_BAUD);
}
