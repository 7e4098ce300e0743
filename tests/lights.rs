//! Lights the plan switches (issue 15): a campaign reading absorbance under a lamp and
//! photoluminescence under an LED runs on the simulated lab with the spectra right, its
//! journal shows every switch, settle wait and discarded scan, and it replays.

use std::path::Path;

use qdx::journal::Event;
use qdx::plan::Command;
use qdx::runtime::{RunOptions, run_simulated};

use crate::cli_env::CliEnv;
use crate::support::{check_text, column};

const LIGHTS: &str = "tests/data/valid/absorbance_and_pl_lights.qdx";
const INTEGRATED: &str = "examples/cspbx3-orange.qdx";

/// The example as it was before it declared lights: the spectrometer's own sources.
const CELL_WITH_LIGHTS: &str = "  cell s1 : flow_cell {
    volume 5 uL
    path_length 1 mm
    spectrometer spec1
    absorbance lamp1
    photoluminescence led365
  }
  spectrometer spec1 : uv_vis_pl { range 350 nm .. 800 nm }
  light lamp1 : lamp { range 200 nm .. 1100 nm }
  light led365 : led { wavelength 365 nm }
";
const CELL_WITHOUT: &str =
    "  cell s1 : flow_cell { volume 5 uL, path_length 1 mm, spectrometer spec1 }
  spectrometer spec1 : uv_vis_pl { range 350 nm .. 800 nm, excitation 365 nm }
";

/// A campaign file cut to four experiments (three from the design), without its script proxy;
/// the example without its lights.
fn short(path: &str) -> String {
    let text = std::fs::read_to_string(path).expect("campaign");
    let text = if path == INTEGRATED {
        assert!(
            text.contains(CELL_WITH_LIGHTS),
            "the example declares its lights"
        );
        text.replace(CELL_WITH_LIGHTS, CELL_WITHOUT)
    } else {
        text
    };
    text.replace("experiments 80,", "experiments 4,")
        .replace("initial sobol 10", "initial sobol 3")
        .replace("  score = script \"proxies/score.rhai\"\n", "")
}

fn options() -> RunOptions {
    RunOptions {
        progress: qdx::runtime::Progress::Off,
        sync_each: false,
        halt_after: None,
    }
}

fn run(path: &str, out: &Path) -> Vec<qdx::journal::Record> {
    let c = check_text("campaign.qdx", &short(path))
        .campaign
        .expect("valid campaign");
    run_simulated(&c, out, &options()).expect("the run finishes");
    qdx::journal::read(&out.join("journal.jsonl")).expect("a journal")
}

#[test]
fn a_lamp_and_an_led_give_the_spectra_the_integrated_sources_give() {
    let dir = tempfile::tempdir().expect("temp");
    let (lit, plain) = (dir.path().join("lit"), dir.path().join("plain"));
    run(LIGHTS, &lit);
    run(INTEGRATED, &plain);
    let obs = |d: &Path, name: &str| column(&d.join("observations.csv"), name);
    // The same points (same seed and design), the same chemistry: absorbance against the
    // lamp's reference and PL excited by the 365 nm LED read what the spectrometer's own
    // sources read, within the noise.
    for (name, tolerance) in [("peak [nm]", 0.5), ("fwhm [nm]", 0.6), ("plqy", 0.02)] {
        let (a, b) = (obs(&lit, name), obs(&plain, name));
        assert_eq!(a.len(), 4);
        for (x, y) in a.iter().zip(&b) {
            let (x, y) = (x.expect("measured"), y.expect("measured"));
            assert!(
                (x - y).abs() < tolerance,
                "{name}: {x} with lights, {y} without"
            );
        }
    }
}

#[test]
fn the_journal_shows_every_switch_settle_wait_and_discarded_scan() {
    let dir = tempfile::tempdir().expect("temp");
    let records = run(LIGHTS, &dir.path().join("b"));
    let mut on: Option<String> = None;
    let mut fresh = true;
    let mut acquisitions = 0;
    for r in &records {
        match &r.event {
            Event::Command {
                device,
                command,
                experiment,
            } => match command {
                Command::SetLight { on: true } => {
                    assert_eq!(on, None, "two lights on at once");
                    on = Some(device.clone());
                    fresh = true;
                }
                Command::SetLight { on: false } if on.as_deref() == Some(device.as_str()) => {
                    on = None;
                    fresh = true;
                }
                // The safe state at the end switches every light off, on or not.
                Command::SetLight { on: false } => {
                    assert_eq!(
                        *experiment, None,
                        "a light that is not on switched off: {r:?}"
                    );
                }
                Command::Discard { .. } => fresh = false,
                Command::Acquire { light, .. } => {
                    acquisitions += 1;
                    assert!(!fresh, "a scan kept right after a change: {r:?}");
                    assert_eq!(*light, on, "acquired under the wrong light: {r:?}");
                }
                _ => {}
            },
            Event::Waited { why, seconds, .. } if why.contains("settles") => {
                let light = on.as_deref().expect("a light was just switched on");
                assert!(why.starts_with(light), "{why}");
                let settle = if light == "lamp1" { 2.0 } else { 0.1 };
                assert_eq!(*seconds, settle);
            }
            _ => {}
        }
    }
    // Calibration (two darks, a reference) and four experiments of two channels.
    assert_eq!(acquisitions, 3 + 4 * 2);
    assert_eq!(on, None, "the lights end off");
}

#[test]
fn a_run_with_lights_verifies_and_replays() {
    let env = CliEnv::new();
    env.write("c.qdx", &short(LIGHTS));
    let out = env.run(&["run", "c.qdx", "-q", "--out", "b"]);
    assert_eq!(out.code, Some(0), "{out}");
    let verify = env.run(&["verify", "b"]);
    assert_eq!(verify.code, Some(0), "{verify}");
    let replay = env.run(&["replay", "b"]);
    assert_eq!(replay.code, Some(0), "{replay}");
    assert!(
        replay.stdout.contains("reproduces every decision"),
        "{replay}"
    );
}

#[test]
fn qdx_plan_shows_the_switches_settle_waits_and_discarded_scans() {
    let env = CliEnv::new();
    env.write("c.qdx", &short(LIGHTS));
    insta::assert_snapshot!(env.run(&["plan", "c.qdx"]));
}
