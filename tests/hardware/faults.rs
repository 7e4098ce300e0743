//! Fault injection through the whole runtime on emulated instruments: the real drivers talk to
//! byte-level emulators over in-memory streams, tokio's timer is paused (so timeouts, backoffs
//! and waits take no real time), and each fault must end in the campaign's declared policy and,
//! where it says so, in the safe state: pumps stopped, heater at its safe setpoint.

use qdx::journal::Event;
use qdx::validate::campaign::DeviceId;
use qdx_lab::{DeviceErrorKind, PumpDirection};

use super::rig::{
    LAB, Reply, Rig, campaign_with_safety, faults, measured, options, run, safe_states, setup,
    stop_reason,
};

const ML_PER_MIN: f64 = 1e-6 / 60.0;

/// The safe setpoint the test campaign declares for `h1`, °C.
const SAFE_H1: f64 = 30.0;

fn statuses(records: &[qdx::journal::Record]) -> Vec<String> {
    measured(records).into_iter().map(|(_, s)| s).collect()
}

/// The lab was left safe: both pumps stopped, the heater at its safe setpoint, and the last
/// safe-state record has no failures.
fn assert_safe(rig: &Rig, records: &[qdx::journal::Record]) {
    assert!(!rig.pump_running(0), "p_a still runs");
    assert!(!rig.pump_running(1), "p_b still runs");
    assert!(
        (rig.heater_setpoint() - SAFE_H1).abs() < 1e-9,
        "heater at {} °C",
        rig.heater_setpoint()
    );
    let states = safe_states(records);
    let (_, failures) = states.last().expect("a safe-state record");
    assert!(failures.is_empty(), "{failures:?}");
    // The stop commands reached both pumps after the last start.
    let requests = rig.pump_requests();
    for address in ["0", "1"] {
        let last_run = requests.iter().rposition(|r| *r == format!("{address}RUN"));
        let last_stop = requests.iter().rposition(|r| *r == format!("{address}STP"));
        assert!(last_stop > last_run, "pump {address}: {requests:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_silent_spectrometer_is_retried_then_its_experiment_skipped() {
    let (c, binding) = setup(
        &campaign_with_safety(
            "  safe h1 = 30 degC\n  on spectrometer_timeout : retry 2 backoff 2 s, then skip_experiment",
        ),
        LAB,
    );
    // The calibration's dark spectrum (a scan dropped after the settings changed, then the
    // kept one) is answered; the next three requests for a spectrum (the first experiment's and
    // its two retries) are not.
    let mut spectra = 0;
    let rig = Rig::new().script_spectrometer(Box::new(move |_, request| {
        if request == b"S" {
            spectra += 1;
            if (3..=5).contains(&spectra) {
                return Reply::Silent;
            }
        }
        Reply::Normal
    }));
    let (_dir, result, records) = run(&rig, &c, &binding).await;
    let summary = result.expect("the run finishes");
    assert_eq!(summary.experiments, 3);
    assert_eq!(
        faults(&records),
        vec![
            ("spectrometer_timeout".to_owned(), "retry 1 of 2".to_owned()),
            ("spectrometer_timeout".to_owned(), "retry 2 of 2".to_owned()),
            (
                "spectrometer_timeout".to_owned(),
                "skip_experiment".to_owned()
            ),
        ]
    );
    assert_eq!(statuses(&records), ["skipped", "ok", "ok"]);
    // Each answered acquisition drops the scan taken while the lamp switched on.
    assert_eq!(rig.spectra_taken(), 2 + 3 + 2 * 2);
    // Skipping is no stop: the only safe state is the one at the end of the run.
    let states = safe_states(&records);
    assert_eq!(states.len(), 1);
    assert_eq!(states[0].0, "end of run");
    assert_safe(&rig, &records);
}

#[tokio::test(start_paused = true)]
async fn a_pump_stall_pauses_the_run_in_the_safe_state_and_resume_finishes_it() {
    let (c, binding) = setup(
        &campaign_with_safety("  safe h1 = 30 degC\n  on pump_stall : stop_all, pause"),
        LAB,
    );
    // p_a's motor stalls once it has been started: the next query finds the alarm.
    let mut started = false;
    let mut stalled = false;
    let rig = Rig::new().script_pumps(Box::new(move |chain, request| {
        if request == b"0RUN" {
            started = true;
        } else if started && !stalled && request.starts_with(b"0") {
            chain.stall(0);
            stalled = true;
        }
        Reply::Normal
    }));
    let (dir, result, records) = run(&rig, &c, &binding).await;
    let summary = result.expect("a paused run still writes its bundle");
    assert_eq!(summary.experiments, 0);
    assert_eq!(
        faults(&records),
        vec![
            ("pump_stall".to_owned(), "stop_all".to_owned()),
            ("pump_stall".to_owned(), "pause".to_owned()),
        ]
    );
    assert!(
        stop_reason(&records).starts_with("pause after pump_stall on p_a"),
        "{}",
        stop_reason(&records)
    );
    assert!(measured(&records).is_empty());
    assert!(safe_states(&records).len() >= 2);
    assert_safe(&rig, &records);

    assert!(!summary.finished);

    // A paused run is resumable, and nothing old is sent again.
    let bundle = dir.path().join("bundle");
    let journal = bundle.join("journal.jsonl");
    let fresh = Rig::new();
    let lab = fresh.connect(&c, &binding).await;
    let resumed = qdx::runtime::resume(&c, lab, &bundle, &options())
        .await
        .expect("the resumed run finishes");
    assert_eq!(resumed.experiments, 3);
    let records = qdx::journal::read(&journal).expect("journal");
    assert!(
        records
            .iter()
            .any(|r| matches!(r.event, Event::Resumed { .. }))
    );
    assert_eq!(
        measured(&records),
        vec![(0, "ok".into()), (1, "ok".into()), (2, "ok".into())]
    );
    // The calibration was read back, not taken again: one spectrum per experiment, each after
    // the scan dropped while the lamp switched on.
    assert_eq!(fresh.spectra_taken(), 3 * 2);
    assert_safe(&fresh, &records);
}

/// Issue 14, item 19: a hardware run whose first experiment met the stop condition, killed
/// after its end-of-run safe state (before `stopped` and `finished`), has reached its end: the
/// resumed run runs no experiment, sends no old command again, and ends once.
#[tokio::test(start_paused = true)]
async fn a_run_cut_short_after_its_stop_condition_ends_on_resume() {
    let campaign = super::rig::CAMPAIGN.replace(
        "target peak = 600 nm within 5 nm",
        "target peak = 600 nm within 5 nm\n  stop when peak >= 1 nm",
    );
    let (c, binding) = setup(&campaign, LAB);
    let rig = Rig::new();
    let (dir, result, records) = run(&rig, &c, &binding).await;
    let summary = result.expect("the run finishes");
    assert_eq!(summary.experiments, 1, "{}", stop_reason(&records));
    assert!(summary.finished);
    // Killed right after the end-of-run safe state.
    let bundle = dir.path().join("bundle");
    let journal = bundle.join("journal.jsonl");
    let text = std::fs::read_to_string(&journal).expect("journal");
    let keep = records
        .iter()
        .rposition(|r| matches!(r.event, Event::SafeState { .. }))
        .expect("a safe state")
        + 1;
    let cut: String = text.lines().take(keep).map(|l| format!("{l}\n")).collect();
    std::fs::write(&journal, cut).expect("cut");
    std::fs::remove_file(bundle.join("manifest.json")).expect("rm");

    let fresh = Rig::new();
    let lab = fresh.connect(&c, &binding).await;
    let resumed = qdx::runtime::resume(&c, lab, &bundle, &options())
        .await
        .expect("the resumed run finishes");
    assert_eq!(resumed.experiments, 1);
    assert!(resumed.finished);
    assert_eq!(
        resumed.stop_reason,
        "the stop condition was met by experiment 0"
    );
    assert_eq!(fresh.spectra_taken(), 0, "no experiment ran again");
    let records = qdx::journal::read(&journal).expect("journal");
    let live = qdx::journal::live(&records);
    assert_eq!(measured(&live), vec![(0, "ok".into())]);
    assert_eq!(safe_states(&live).len(), 1, "one end of run");
    assert_safe(&fresh, &records);
}

#[tokio::test(start_paused = true)]
async fn a_spectrometer_disconnected_mid_run_aborts_in_the_safe_state() {
    let (c, binding) = setup(
        &campaign_with_safety("  safe h1 = 30 degC\n  on device_disconnected : abort"),
        LAB,
    );
    let rig = Rig::new();
    // Calibration takes 7 requests (binary mode, lamp, integration, one scan, the dropped
    // spectrum, the scans, the spectrum) and each experiment 6 (lamp on, one scan, the dropped
    // spectrum, the scans, the spectrum, lamp off): the line drops at the second experiment's
    // scan count.
    rig.spectrometer
        .set_faults(|f| f.disconnect_after = Some(7 + 6 + 2));
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
    assert_eq!(measured(&records), vec![(0, "ok".into())]);
    assert_safe(&rig, &records);
}

#[tokio::test(start_paused = true)]
async fn a_garbage_reply_is_retried_and_the_run_goes_on() {
    let (c, binding) = setup(
        &campaign_with_safety(
            "  safe h1 = 30 degC\n  on garbage_reply : retry 2, then skip_experiment",
        ),
        LAB,
    );
    // The first rate sent to p_b during the run gets line noise back.
    let mut garbled = false;
    let rig = Rig::new().script_pumps(Box::new(move |_, request| {
        if !garbled && request.starts_with(b"1RAT") && request.len() > 4 {
            garbled = true;
            return Reply::Garbage;
        }
        Reply::Normal
    }));
    let (_dir, result, records) = run(&rig, &c, &binding).await;
    assert_eq!(result.expect("finishes").experiments, 3);
    assert_eq!(
        faults(&records),
        vec![("garbage_reply".to_owned(), "retry 1 of 2".to_owned())]
    );
    assert_eq!(statuses(&records), ["ok", "ok", "ok"]);
    assert_safe(&rig, &records);
}

#[tokio::test(start_paused = true)]
async fn a_nak_follows_the_any_policy() {
    let (c, binding) = setup(
        &campaign_with_safety("  safe h1 = 30 degC\n  on any : skip_experiment"),
        LAB,
    );
    // The spectrometer refuses to switch the lamp on for the second experiment, once.
    let mut lamp_on = 0;
    let rig = Rig::new().script_spectrometer(Box::new(move |_, request| {
        if request == b"J\x00\x01" {
            lamp_on += 1;
            if lamp_on == 2 {
                return Reply::Nak;
            }
        }
        Reply::Normal
    }));
    let (_dir, result, records) = run(&rig, &c, &binding).await;
    assert_eq!(result.expect("finishes").experiments, 3);
    assert_eq!(
        faults(&records),
        vec![("any".to_owned(), "skip_experiment".to_owned())]
    );
    assert_eq!(statuses(&records), ["ok", "skipped", "ok"]);
    assert_safe(&rig, &records);
}

fn device(c: &qdx::validate::campaign::Campaign, name: &str) -> DeviceId {
    c.device_id(name).expect("device")
}

#[tokio::test(start_paused = true)]
async fn an_out_of_envelope_command_is_refused_before_it_is_written() {
    let (c, binding) = setup(
        &campaign_with_safety(
            "  temperature <= 120 degC\n  p_a.rate <= 0.85 mL/min\n  safe h1 = 30 degC",
        ),
        LAB,
    );
    let rig = Rig::new();
    let mut lab = rig.connect(&c, &binding).await;
    let (p_a, h1) = (device(&c, "p_a"), device(&c, "h1"));
    let pumps_before = rig.pumps.received().len();
    let heater_before = rig.heater.received().len();
    let pump = lab.pumps.get_mut(&p_a).expect("p_a");

    // Above the pump's limit (0.9 mL/min: the campaign's max_rate, under the syringe's 0.915).
    let e = pump.set_rate(0.95 * ML_PER_MIN).await.expect_err("refused");
    assert!(matches!(e.kind, DeviceErrorKind::OutOfEnvelope(_)), "{e}");
    // Above the safety limit on p_a's rate, while infusing.
    let e = pump.set_rate(0.88 * ML_PER_MIN).await.expect_err("refused");
    assert!(matches!(e.kind, DeviceErrorKind::OutOfEnvelope(_)), "{e}");
    assert_eq!(
        rig.pumps.received().len(),
        pumps_before,
        "nothing was written"
    );
    // The heater: above the safety limit of 120 °C.
    let heater = lab.heaters.get_mut(&h1).expect("h1");
    let e = heater
        .set_setpoint(273.15 + 130.0)
        .await
        .expect_err("refused");
    assert!(matches!(e.kind, DeviceErrorKind::OutOfEnvelope(_)), "{e}");
    assert_eq!(
        rig.heater.received().len(),
        heater_before,
        "nothing was written"
    );

    // Withdrawing (a refill) is not flow through the reactor: 0.88 mL/min passes then, and so
    // does a setpoint inside the limits.
    let pump = lab.pumps.get_mut(&p_a).expect("p_a");
    pump.set_direction(PumpDirection::Withdraw)
        .await
        .expect("withdraw");
    pump.set_rate(0.88 * ML_PER_MIN)
        .await
        .expect("a refill rate");
    assert!(rig.pumps.received().len() > pumps_before);
    let heater = lab.heaters.get_mut(&h1).expect("h1");
    heater.set_setpoint(273.15 + 60.0).await.expect("60 °C");
    assert!((rig.heater_setpoint() - 60.0).abs() < 1e-9);
}

/// A device that never answers: the watchdog ends the call.
#[derive(Debug)]
struct Hung;

#[async_trait::async_trait]
impl qdx_lab::Pump for Hung {
    async fn identify(&mut self) -> qdx_lab::DeviceResult<qdx_lab::Identity> {
        std::future::pending().await
    }
    async fn set_rate(&mut self, _: f64) -> qdx_lab::DeviceResult<()> {
        std::future::pending().await
    }
    async fn set_direction(&mut self, _: PumpDirection) -> qdx_lab::DeviceResult<()> {
        std::future::pending().await
    }
    async fn start(&mut self) -> qdx_lab::DeviceResult<()> {
        std::future::pending().await
    }
    async fn stop(&mut self) -> qdx_lab::DeviceResult<()> {
        std::future::pending().await
    }
    async fn status(&mut self) -> qdx_lab::DeviceResult<qdx_lab::PumpStatus> {
        std::future::pending().await
    }
}

#[tokio::test(start_paused = true)]
async fn a_hung_device_cannot_hang_the_run() {
    use qdx::runtime::hardware::{CALL_DEADLINE, Watched};
    use qdx_lab::Pump as _;
    let start = tokio::time::Instant::now();
    let mut pump = Watched::new("p_a", Hung, CALL_DEADLINE);
    let e = pump.stop().await.expect_err("times out");
    assert_eq!(e.kind, DeviceErrorKind::Timeout(CALL_DEADLINE));
    assert_eq!(start.elapsed(), CALL_DEADLINE);
}

/// The test campaign with a 200 µL coil: 12 s to steady state at 1 mL/min, far longer than
/// the pumps' safe-mode timeout below.
fn slow_campaign() -> String {
    campaign_with_safety("  safe h1 = 30 degC\n  on pump_stall : stop_all, pause")
        .replace("volume 2 uL, heater h1", "volume 200 uL, heater h1")
}

#[tokio::test(start_paused = true)]
async fn pumps_in_safe_mode_are_kept_talking_to_through_long_waits() {
    // Both pumps stop themselves after 2 s without a valid packet.
    let lab = LAB.replace(
        "syringe_diameter 4.78 mm",
        "syringe_diameter 4.78 mm, safe_mode_timeout 2",
    );
    let (c, binding) = setup(&slow_campaign(), &lab);
    let rig = Rig::new();
    let (_dir, result, records) = run(&rig, &c, &binding).await;
    let summary = result.expect("the run finishes");
    assert_eq!(faults(&records), Vec::<(String, String)>::new());
    assert_eq!(summary.experiments, 3);
    assert_eq!(statuses(&records), vec!["ok", "ok", "ok"]);
    // The polls went out in safe-mode packets during the waits.
    let polls = rig
        .pump_requests()
        .iter()
        .filter(|r| r.starts_with('\u{2}') && r.contains("DIS"))
        .count();
    assert!(polls >= 2 * 12, "{polls} polls");
}

#[tokio::test(start_paused = true)]
async fn a_pump_silent_to_its_keep_alive_polls_ends_the_run_in_the_safe_state() {
    // The same rig, but once p_a runs its `DIS` queries go unanswered: the keep-alive poll
    // during the first wait times out.
    let lab = LAB.replace(
        "syringe_diameter 4.78 mm",
        "syringe_diameter 4.78 mm, safe_mode_timeout 2",
    );
    let (c, binding) = setup(&slow_campaign(), &lab);
    let mut running = false;
    let rig = Rig::new().script_pumps(Box::new(move |_, request| {
        let text = String::from_utf8_lossy(request);
        if text.contains("0RUN") {
            running = true;
        }
        if running && text.contains("0DIS") {
            Reply::Silent
        } else {
            Reply::Normal
        }
    }));
    let (_dir, result, records) = run(&rig, &c, &binding).await;
    let summary = result.expect("a paused run still writes its bundle");
    assert!(!summary.finished);
    // Caught at the first experiment's pump check, before any spectrum: the campaign has no
    // policy for pump_timeout, so the run stops all and aborts, leaving the lab safe.
    assert_eq!(
        faults(&records),
        vec![
            ("pump_timeout".to_owned(), "stop_all".to_owned()),
            ("pump_timeout".to_owned(), "abort".to_owned()),
        ]
    );
    assert!(measured(&records).is_empty());
    // The safe state (pumps stopped, heater at its safe setpoint), reached without failures.
    assert!(!rig.pump_running(0) && !rig.pump_running(1));
    assert!((rig.heater_setpoint() - SAFE_H1).abs() < 1e-9);
    let states = safe_states(&records);
    assert!(
        states
            .last()
            .is_some_and(|(_, failures)| failures.is_empty()),
        "{states:?}"
    );
}
