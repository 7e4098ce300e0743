//! Segmented (droplet) flow: every droplet is detected by its threshold, mapped from the
//! journal, stored one row each, and a run killed in the middle of a train and resumed maps
//! the same droplets.

use std::path::Path;

use qdx::journal::{DropletMeasured, Event, Record};
use qdx::runtime::{RunOptions, run_simulated};
use qdx::validate::campaign::Campaign;

use crate::support::{check_text, qdx_ok, run_whole_then_killed_at};

const EXAMPLE: &str = "examples/abdel-latif-2021-droplet.qdx";

/// The example with `n` experiments and `edit` applied to its text, written to `dir` and
/// checked.
fn example(dir: &Path, n: u64, edit: impl Fn(String) -> String) -> (std::path::PathBuf, Campaign) {
    let text = edit(
        std::fs::read_to_string(EXAMPLE)
            .expect("the example")
            .replace("experiments 4,", &format!("experiments {n},"))
            .replace("initial sobol 3", &format!("initial sobol {}", n.min(3))),
    );
    let path = dir.join("droplet.qdx");
    std::fs::write(&path, &text).expect("written");
    let checked = check_text("droplet.qdx", &text);
    let c = checked
        .campaign
        .clone()
        .unwrap_or_else(|| panic!("{}", crate::support::rendered(&checked)));
    (path, c)
}

fn records(bundle: &Path) -> Vec<Record> {
    qdx::journal::live(&qdx::journal::read(&bundle.join("journal.jsonl")).expect("journal"))
}

/// Every `measured` record's droplets, by experiment.
fn droplets(records: &[Record]) -> Vec<(u64, Vec<DropletMeasured>)> {
    records
        .iter()
        .filter_map(|r| match &r.event {
            Event::Measured {
                experiment,
                droplets,
                ..
            } => Some((*experiment, droplets.clone())),
            _ => None,
        })
        .collect()
}

/// The total flow each experiment ran at, m³/s: the sum of its derived pump rates as sent.
fn total_flow(records: &[Record], experiment: u64) -> f64 {
    records
        .iter()
        .find_map(|r| match &r.event {
            Event::Measured {
                experiment: x,
                settings,
                ..
            } if *x == experiment => Some(
                settings
                    .iter()
                    .filter(|(k, _)| k.ends_with(".rate"))
                    .map(|(_, v)| v)
                    .sum(),
            ),
            _ => None,
        })
        .expect("a measured experiment")
}

fn options() -> RunOptions {
    RunOptions {
        progress: qdx::runtime::Progress::Off,
        sync_each: false,
        halt_after: None,
    }
}

#[test]
fn every_droplet_is_detected_and_its_residence_comes_from_the_journal() {
    let dir = tempfile::tempdir().expect("temp");
    let (_, c) = example(dir.path(), 2, |t| t);
    let bundle = dir.path().join("run");
    let summary = run_simulated(&c, &bundle, &options()).expect("the run");
    assert_eq!(summary.experiments, 2, "{summary:?}");
    let records = records(&bundle);
    let d = c
        .measurement
        .as_ref()
        .and_then(|m| m.droplets.as_ref())
        .expect("droplets");
    let volume = c.topology.reactor_volume.expect("a reactor volume");
    let measured = droplets(&records);
    assert_eq!(measured.len(), 2);
    for (experiment, train) in &measured {
        assert_eq!(train.len(), 4, "experiment {experiment}: {train:?}");
        let q = total_flow(&records, *experiment);
        let readings = records
            .iter()
            .filter(|r| {
                matches!(r.event, Event::Acquired { experiment: x, tick: Some(_), channel: qdx::validate::campaign::ChannelKind::Absorbance, .. } if x == *experiment)
            })
            .count() as u32;
        let mut above = 0;
        for (k, x) in train.iter().enumerate() {
            assert_eq!(x.droplet as usize, k);
            assert!(
                x.tick.is_some(),
                "experiment {experiment}: droplet {k} detected: {x:?}"
            );
            // At least two readings per droplet, as `qdx check` proved the reading rate allows.
            assert!(x.readings >= 2, "{x:?}");
            above += x.readings;
            // Its volume as the journaled rate commands pumped it.
            assert!((x.volume - d.volume).abs() < 0.05 * d.volume, "{x:?}");
            // Plug flow through the reactor at the total flow, plus the stop in the coil.
            let expected = volume / q + d.hold;
            assert!(
                (x.residence - expected).abs() < 0.02 * expected,
                "experiment {experiment}, droplet {k}: {} s, expected {expected} s",
                x.residence
            );
            assert!(x.proxies.values().all(Option::is_some), "{x:?}");
        }
        // The readings between droplets read carrier: below the threshold.
        assert!(
            above < readings,
            "{above} of {readings} readings above the threshold"
        );
        // The droplets follow one another one period apart.
        for pair in train.windows(2) {
            let period = (d.volume + d.spacing) / q;
            let gap = pair[1].entry - pair[0].entry;
            assert!(
                (gap - period).abs() < 0.05 * period,
                "{gap} s, period {period} s"
            );
        }
    }
    // The experiment's proxies are the mean of its droplets'.
    let experiments = qdx::record::read(&c, &records);
    let peak = c.proxy_id("peak").expect("peak");
    for e in &experiments {
        let o = e.outcome.as_ref().expect("measured");
        let values: Vec<f64> = o.droplets.iter().filter_map(|x| x.proxies[peak]).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let shown = o.proxies[peak].expect("a peak");
        assert!((shown - mean).abs() < 1e-9 * mean, "{shown} vs {mean}");
        // One observation per droplet for the optimizer.
        assert_eq!(e.observations(&c).len(), 4);
    }
    // One row per droplet in droplets.csv, with the reading of each.
    let table = std::fs::read_to_string(bundle.join("droplets.csv")).expect("droplets.csv");
    assert_eq!(table.lines().count(), 1 + 2 * 4, "{table}");
    assert!(table.starts_with(
        "experiment,droplet,tick,readings,volume [uL],entry [s],arrival [s],residence [s],"
    ));
    let package = std::fs::read_to_string(bundle.join("datapackage.json")).expect("package");
    assert!(package.contains("\"droplets.csv\""));
    // The readings are one array per channel, as a transient's.
    let pl = qdx::validate::campaign::ChannelKind::Photoluminescence;
    let stack = qdx::files::stack::stack_file(1, pl);
    assert!(qdx::files::stack::read_row(&bundle, &stack, 0, pl).is_some());
}

#[test]
fn a_run_killed_in_the_middle_of_a_train_and_resumed_maps_the_same_droplets() {
    let dir = tempfile::tempdir().expect("temp");
    let (path, _) = example(dir.path(), 2, |t| t);
    // Kill it right after the 10th reading of the second experiment's train.
    let (full, bundle) = run_whole_then_killed_at(&path, dir.path(), 1, 10);
    let cut = qdx::journal::read(&bundle.join("journal.jsonl")).expect("journal");
    assert_eq!(
        droplets(&cut).len(),
        1,
        "killed before the second experiment was measured"
    );
    qdx_ok(&["resume".as_ref(), bundle.as_os_str(), "-q".as_ref()]);
    // The void half-train maps nothing: the resumed run's droplets are the whole run's, each
    // from the readings and commands the resumed run journaled.
    let live = droplets(&records(&bundle));
    let whole = droplets(&records(&full));
    assert_eq!(live.len(), 2);
    for ((x, a), (y, b)) in live.iter().zip(&whole) {
        assert_eq!(x, y);
        assert_eq!(a.len(), b.len());
        for (p, q) in a.iter().zip(b) {
            assert_eq!(
                (p.droplet, p.tick, p.readings),
                (q.droplet, q.tick, q.readings)
            );
            assert!((p.residence - q.residence).abs() < 1e-6 * q.residence);
            assert_eq!(p.proxies, q.proxies);
        }
    }
    qdx_ok(&["verify".as_ref(), bundle.as_os_str()]);
}

#[test]
fn a_threshold_no_droplet_reaches_fails_the_experiment_with_the_detection_it_used() {
    let dir = tempfile::tempdir().expect("temp");
    let (_, c) = example(dir.path(), 1, |t| t.replace("above 0.02", "above 50"));
    let bundle = dir.path().join("run");
    run_simulated(&c, &bundle, &options()).expect("the run");
    let records = records(&bundle);
    let train = &droplets(&records)[0].1;
    // The droplets were made (the journal says so), but none was seen.
    assert_eq!(train.len(), 4);
    assert!(
        train
            .iter()
            .all(|x| x.tick.is_none() && x.proxies.values().all(Option::is_none))
    );
    let reason = records
        .iter()
        .find_map(|r| match &r.event {
            Event::Measured { status, reason, .. } => Some((*status, reason.clone())),
            _ => None,
        })
        .expect("measured");
    assert!(!reason.0.is_ok());
    let why = reason.1.expect("a reason");
    assert!(
        why.contains("no droplet detected (4 made; no reading of absorbance at 450 nm above 50)"),
        "{why}"
    );
}
