//! Issue 15: a campaign whose measurement routes the product through a VICI selection valve,
//! run on the emulated rig. The journal records the moves the plan says, with the names the
//! lab file gives the positions; a valve that sticks or answers garbage ends the run in the
//! safe state with an error that names the valve and the positions.

use qdx::journal::{Event, Record};
use qdx::plan::command::Command;

use super::rig::{
    ROUTED, ROUTED_LAB, Reply, Rig, faults, measured, run, safe_states, setup, stop_reason,
};

/// `(position, name)` of every command journaled for `v1`, in order.
fn valve_commands(records: &[Record]) -> Vec<(u16, Option<String>)> {
    records
        .iter()
        .filter_map(|r| match &r.event {
            Event::Command {
                device,
                command: Command::SetPosition { position, name },
                ..
            } if device == "v1" => Some((*position, name.clone())),
            _ => None,
        })
        .collect()
}

/// The lab was left safe: both pumps stopped, the heater at its safe setpoint (30 °C).
fn assert_safe(rig: &Rig, records: &[Record]) {
    assert!(!rig.pump_running(0), "p_a still runs");
    assert!(!rig.pump_running(1), "p_b still runs");
    assert!((rig.heater_setpoint() - 30.0).abs() < 1e-9);
    let states = safe_states(records);
    let (_, failures) = states.last().expect("a safe-state record");
    assert!(failures.is_empty(), "{failures:?}");
}

#[tokio::test(start_paused = true)]
async fn a_routed_run_turns_the_valve_where_the_plan_says_under_the_labs_names() {
    let (c, binding) = setup(ROUTED, ROUTED_LAB);
    let rig = Rig::new();
    let (dir, result, records) = run(&rig, &c, &binding).await;
    let summary = result.expect("the run finishes");
    assert_eq!(summary.experiments, 3);
    assert_eq!(
        measured(&records)
            .into_iter()
            .map(|(_, s)| s)
            .collect::<Vec<_>>(),
        ["ok", "ok", "ok"]
    );
    // Each experiment: to waste while the reactor settles, to the sample while it is measured,
    // back to waste.
    let waste = (1, Some("waste".to_owned()));
    let sample = (2, Some("sample".to_owned()));
    let one = [waste.clone(), sample, waste];
    let expected: Vec<_> = one.iter().cycle().take(9).cloned().collect();
    assert_eq!(valve_commands(&records), expected);
    // Exactly those moves reached the actuator, in that order (after none at connect).
    assert_eq!(
        rig.valve_moves(),
        ["GO1", "GO2", "GO1"].repeat(3),
        "{:?}",
        rig.valve.received()
    );
    assert_eq!(rig.valve.with_device(|v| v.inner.position), 1);
    // The journal line reads as the lab names it.
    let journal =
        std::fs::read_to_string(dir.path().join("bundle/journal.jsonl")).expect("journal");
    assert!(
        journal.contains(r#""device":"v1","command":"set_position","position":2,"name":"sample""#),
        "{journal}"
    );
    assert!(faults(&records).is_empty(), "{:?}", faults(&records));
}

#[tokio::test(start_paused = true)]
async fn a_stuck_valve_ends_the_run_in_the_safe_state_naming_the_positions() {
    let (c, binding) = setup(ROUTED, ROUTED_LAB);
    let rig = Rig::new();
    // The rotor turns at connect and for the first move to waste (it is already there), then
    // jams: the first move to the sample never arrives.
    rig.valve.with_device(|v| v.inner.stuck = true);
    let (_dir, result, records) = run(&rig, &c, &binding).await;
    let summary = result.expect("a stopped run still writes its bundle");
    assert_eq!(summary.experiments, 0);
    assert_eq!(
        faults(&records),
        vec![
            ("any".to_owned(), "stop_all".to_owned()),
            ("any".to_owned(), "abort".to_owned())
        ]
    );
    let message = records
        .iter()
        .find_map(|r| match &r.event {
            Event::Fault {
                device, message, ..
            } => Some(format!("{device}: {message}")),
            _ => None,
        })
        .expect("a fault record");
    assert_eq!(
        message,
        "v1: v1: alarm: the valve did not reach position 2 within 5 s: it reports position 1"
    );
    assert!(
        stop_reason(&records).contains("on v1"),
        "{}",
        stop_reason(&records)
    );
    // The command was journaled before it was sent, under the lab's name.
    assert_eq!(
        valve_commands(&records).last(),
        Some(&(2, Some("sample".to_owned())))
    );
    assert_safe(&rig, &records);
}

#[tokio::test(start_paused = true)]
async fn a_valve_answering_garbage_ends_the_run_in_the_safe_state() {
    let (c, binding) = setup(ROUTED, ROUTED_LAB);
    // Once asked for the sample position, every position read is noise.
    let mut moved = false;
    let rig = Rig::new().script_valve(Box::new(move |_, request| {
        if request == b"3GO2" {
            moved = true;
        }
        if moved && request == b"3CP" {
            Reply::Garbage
        } else {
            Reply::Normal
        }
    }));
    let (_dir, result, records) = run(&rig, &c, &binding).await;
    result.expect("a stopped run still writes its bundle");
    assert_eq!(
        faults(&records),
        vec![
            ("garbage_reply".to_owned(), "stop_all".to_owned()),
            ("garbage_reply".to_owned(), "abort".to_owned())
        ]
    );
    let message = records
        .iter()
        .find_map(|r| match &r.event {
            Event::Fault { message, .. } => Some(message.clone()),
            _ => None,
        })
        .expect("a fault record");
    assert!(
        message.starts_with("v1: unexpected reply") && message.contains("in a reply line"),
        "{message}"
    );
    assert!(measured(&records).is_empty(), "{:?}", measured(&records));
    assert_safe(&rig, &records);
}
