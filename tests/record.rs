//! The experiment record: what the bundle says each experiment ran at is what the journal
//! shows was sent to the lab.

use std::collections::BTreeMap;
use std::path::Path;

use qdx::journal::{Command, Event};
use qdx::runtime::RunOptions;

use crate::support;

/// The Krishnadasan campaign with a Cd pump that cannot run below 2 uL/min while the optimizer
/// may ask for 0.5 .. 3 uL/min: rates under 1 uL/min are sent as 0 (the pump stops), rates
/// from 1 to 2 uL/min as 2.
fn min_rate_campaign() -> String {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cdse-krishnadasan.qdx"),
    )
    .expect("example");
    let mut out = text.clone();
    for (from, to) in [
        (
            "pump p_cd : syringe_pump { syringe 5 mL, max_rate 50 uL/min }",
            "pump p_cd : syringe_pump { syringe 5 mL, max_rate 50 uL/min, min_rate 2 uL/min }",
        ),
        (
            "cd_rate : flow_rate in 2 uL/min .. 20 uL/min -> p_cd",
            "cd_rate : flow_rate in 0.5 uL/min .. 3 uL/min -> p_cd",
        ),
        ("experiments 60", "experiments 8"),
        ("initial latin_hypercube 12", "initial latin_hypercube 8"),
    ] {
        assert!(out.contains(from), "the example no longer has `{from}`");
        out = out.replace(from, to);
    }
    out
}

/// Each pump's rate in effect when each experiment began to measure (its first acquisition),
/// folded from the journal's commands in uL/min; a pump never told anything is absent.
fn rates_sent(bundle: &Path) -> BTreeMap<u64, BTreeMap<String, f64>> {
    let records = qdx::journal::read(&bundle.join("journal.jsonl")).expect("journal");
    let mut rates: BTreeMap<String, f64> = BTreeMap::new();
    let mut at_measurement = BTreeMap::new();
    for r in &records {
        let Event::Command {
            experiment,
            device,
            command,
        } = &r.event
        else {
            continue;
        };
        match command {
            Command::SetRate { rate } => {
                rates.insert(device.clone(), rate * 60.0 * 1e9);
            }
            Command::Stop | Command::Refill { .. } => {
                rates.insert(device.clone(), 0.0);
            }
            Command::Acquire { .. } => {
                if let Some(e) = experiment {
                    at_measurement.entry(*e).or_insert_with(|| rates.clone());
                }
            }
            _ => {}
        }
    }
    at_measurement
}

#[test]
fn observations_hold_the_pump_rates_the_journal_shows_were_sent() {
    let checked = support::check_text("min-rate.qdx", &min_rate_campaign());
    let Some(campaign) = checked.campaign.as_ref() else {
        panic!("{}", support::rendered(&checked));
    };
    let dir = tempfile::tempdir().expect("temp");
    let bundle = dir.path().join("run");
    let options = RunOptions {
        progress: qdx::runtime::Progress::Off,
        sync_each: false,
        halt_after: None,
    };
    qdx::runtime::run_simulated(campaign, &bundle, &options).expect("run");
    let sent = rates_sent(&bundle);
    let observations = bundle.join("observations.csv");
    let asked = support::column(&observations, "cd_rate [uL/min]");
    let recorded = support::column(&observations, "p_cd.rate [uL/min]");
    let recorded_se = support::column(&observations, "p_se.rate [uL/min]");
    assert_eq!(asked.len(), 8);
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0);
    let mut rounded = 0;
    for (k, ((asked, cd), se)) in asked.iter().zip(&recorded).zip(&recorded_se).enumerate() {
        let journal = sent.get(&(k as u64)).cloned().unwrap_or_default();
        match (cd, journal.get("p_cd")) {
            (Some(csv), Some(sent)) => assert!(
                close(*csv, *sent),
                "experiment {k}: observations.csv says p_cd ran at {csv} uL/min, the journal shows {sent}"
            ),
            (None, None) => {}
            other => panic!("experiment {k}: observations.csv and the journal disagree: {other:?}"),
        }
        match (se, journal.get("p_se")) {
            (Some(csv), Some(sent)) => assert!(close(*csv, *sent), "experiment {k}: p_se"),
            other => panic!("experiment {k}: p_se: {other:?}"),
        }
        let asked = asked.expect("a suggested rate");
        if cd.is_none_or(|cd| !close(cd, asked)) {
            rounded += 1;
            // What was sent is what the pump can run: stopped, or at least its smallest rate.
            assert!(
                cd.is_none_or(|cd| cd == 0.0 || cd >= 2.0),
                "experiment {k}: {cd:?}"
            );
        }
    }
    // The campaign exercises both roundings; without them this test would prove nothing.
    assert!(
        rounded >= 2,
        "only {rounded} experiments asked for a rate the pump cannot run"
    );
    assert!(recorded.contains(&Some(0.0)) && recorded.contains(&Some(2.0)));
}
