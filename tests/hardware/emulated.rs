//! `qdx run --lab … --emulate`: the standard rig's lab file (`examples/labs/standard-rig.qdx`:
//! five New Era pumps on one line (three reagents, the solvent blank, the reference dye), a Eurotherm 3200, an Ocean Flame on USB whose lamp output
//! is the absorbance light, a 365 nm LED behind a Thorlabs SC10) runs the CsPbX3 campaign
//! through every real driver against emulators sitting in the campaign's simulated twin.
//!
//! The emulated rig is checked against the simulated lab: the same suggestions (the Sobol
//! design) must give the same chemistry (PL peak and width), which holds only if the
//! drivers sent the rates and setpoints the plan asked for, the emulators moved the plant by
//! them, the lights were switched when the plan said, and the spectra came back through the
//! USB transfers and the device's own wavelength calibration.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

fn qdx() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_qdx"));
    c.env("NO_COLOR", "1").env("COLUMNS", "100");
    c
}

/// The CsPbX3 example and its rig in `dir`, cut to a three-experiment Sobol design (the
/// campaign's own budget is 80).
fn campaign_in(dir: &Path) -> (PathBuf, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let text = std::fs::read_to_string(root.join("cspbx3-orange.qdx")).expect("the example");
    assert!(text.contains("experiments 80") && text.contains("initial sobol 10"));
    let text = text
        .replace("experiments 80", "experiments 3")
        .replace("initial sobol 10", "initial sobol 3");
    std::fs::create_dir_all(dir.join("proxies")).expect("folder");
    std::fs::create_dir_all(dir.join("labs")).expect("folder");
    std::fs::write(dir.join("cspbx3.qdx"), text).expect("write");
    std::fs::copy(
        root.join("proxies/score.rhai"),
        dir.join("proxies/score.rhai"),
    )
    .expect("copy");
    std::fs::copy(
        root.join("labs/standard-rig.qdx"),
        dir.join("labs/standard-rig.qdx"),
    )
    .expect("copy");
    (dir.join("cspbx3.qdx"), dir.join("labs/standard-rig.qdx"))
}

fn shown(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn journal(bundle: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(bundle.join("journal.jsonl"))
        .expect("journal")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a record"))
        .collect()
}

/// `observations.csv` as rows of `column → cell`.
fn observations(bundle: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(bundle.join("observations.csv")).expect("observations");
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("a header")
        .split(',')
        .map(str::to_owned)
        .collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(str::to_owned))
                .collect()
        })
        .collect()
}

fn number(row: &std::collections::BTreeMap<String, String>, column: &str) -> f64 {
    row.get(column)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("{column} in {row:?}"))
}

#[test]
fn the_standard_rig_runs_cspbx3_on_emulators_as_the_simulated_lab_does() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (campaign, lab) = campaign_in(dir.path());
    let emulated = dir.path().join("emulated");
    let out = qdx()
        .arg("run")
        .arg(&campaign)
        .arg("--lab")
        .arg(&lab)
        .args(["--emulate", "-q", "--out"])
        .arg(&emulated)
        .output()
        .expect("qdx runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // PLQY against a reference dye: the rig runs the dye through the cell (`reference_dye`)
    // and measures it against the blank, so check has nothing to warn about and every
    // experiment gets its PLQY.
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    assert!(
        !stderr.contains("qdx::lab::reference_dye"),
        "{}",
        shown(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with("dry run: the lab's instruments were emulators"),
        "{}",
        shown(&out)
    );
    let simulated = dir.path().join("simulated");
    let out = qdx()
        .arg("run")
        .arg(&campaign)
        .args(["-q", "--out"])
        .arg(&simulated)
        .output()
        .expect("qdx runs");
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));

    // The journal says the instruments were emulated, and every bound device was driven.
    let records = journal(&emulated);
    assert_eq!(records[0]["event"], "started");
    assert_eq!(records[0]["lab"], "cspbx3-flow-rig");
    assert_eq!(records[0]["emulated"], true);
    assert!(journal(&simulated)[0].get("emulated").is_none());
    let manifest = |bundle: &Path| -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(bundle.join("manifest.json")).expect("manifest"),
        )
        .expect("json")
    };
    assert_eq!(manifest(&emulated)["emulated"], true);
    assert!(manifest(&simulated).get("emulated").is_none());
    for device in [
        "p_seed", "p_iodide", "p_ligand", "p_wash", "p_dye", "h1", "spec1", "lamp1", "led365", "v1",
    ] {
        assert!(
            records
                .iter()
                .any(|r| r["event"] == "command" && r["device"] == device),
            "no command to {device}"
        );
    }
    let lights: Vec<(String, bool)> = records
        .iter()
        .filter(|r| r["event"] == "command" && r["command"] == "set_light")
        .map(|r| {
            (
                r["device"].as_str().unwrap_or("").to_owned(),
                r["on"] == true,
            )
        })
        .collect();
    assert!(lights.contains(&("lamp1".into(), true)), "{lights:?}");
    assert!(lights.contains(&("led365".into(), true)), "{lights:?}");

    // The same suggestions give the same chemistry, within what the emulated detector's own
    // calibration and pixel grid move a peak.
    let (e, s) = (observations(&emulated), observations(&simulated));
    assert_eq!(e.len(), 3);
    assert_eq!(s.len(), 3);
    for (e, s) in e.iter().zip(&s) {
        for variable in [
            "residence [s]",
            "iodide_frac",
            "ligand_frac",
            "temperature [degC]",
        ] {
            assert_eq!(e.get(variable), s.get(variable), "{variable}");
        }
        for rate in [
            "p_seed.rate [mL/min]",
            "p_iodide.rate [mL/min]",
            "p_ligand.rate [mL/min]",
        ] {
            assert_eq!(e.get(rate), s.get(rate), "{rate}: what was sent");
        }
        let (pe, ps) = (number(e, "peak [nm]"), number(s, "peak [nm]"));
        assert!(
            (pe - ps).abs() < 1.0,
            "peak {pe} nm emulated, {ps} nm simulated"
        );
        let (fe, fs) = (number(e, "fwhm [nm]"), number(s, "fwhm [nm]"));
        assert!(
            (fe - fs).abs() < 1.0,
            "FWHM {fe} nm emulated, {fs} nm simulated"
        );
        assert_eq!(e.get("status").map(String::as_str), Some("ok"), "{e:?}");
        // Both labs measure the dye in the cell and the sample against it: the yields agree
        // within the detectors' noise.
        let (qe, qs) = (number(e, "plqy"), number(s, "plqy"));
        assert!(qe > 0.0 && qe <= 1.0, "PLQY {qe}");
        assert!(
            (qe - qs).abs() <= 0.05 * qs,
            "PLQY {qe} emulated, {qs} simulated"
        );
    }
    // The dye as each lab measured it, journaled with the calibration: a real absorbance at
    // 365 nm (the simulated solution is prepared to 0.05) and a positive integrated PL.
    for bundle in [&emulated, &simulated] {
        let records = journal(bundle);
        let calibrated: Vec<&serde_json::Value> = records
            .iter()
            .filter(|r| r["event"] == "calibrated")
            .collect();
        assert_eq!(calibrated.len(), 1, "one calibration in a short run");
        let dye = &calibrated[0]["dyes"]["quinine_sulfate"];
        let a = dye["absorbance"].as_f64().expect("absorbance");
        assert!((a - 0.05).abs() < 0.01, "dye absorbance {a}");
        assert!(
            dye["integrated_pl"].as_f64().is_some_and(|i| i > 0.0),
            "{dye}"
        );
    }
    // The peaks span the design: the check above is not passed by a constant.
    let peaks: Vec<f64> = e.iter().map(|r| number(r, "peak [nm]")).collect();
    let span = peaks.iter().copied().fold(f64::MIN, f64::max)
        - peaks.iter().copied().fold(f64::MAX, f64::min);
    assert!(span > 50.0, "{peaks:?}");

    // Spectra of the calibration and of every experiment, and a bundle that verifies.
    for file in [
        "calibration-absorbance-dark.csv",
        "calibration-absorbance-reference.csv",
        "calibration-photoluminescence-dark.csv",
        "calibration-absorbance-dye.csv",
        "calibration-photoluminescence-dye.csv",
        "e0000-absorbance-r0.csv",
        "e0002-photoluminescence-r0.csv",
    ] {
        assert!(emulated.join("spectra").join(file).is_file(), "{file}");
    }
    let out = qdx()
        .arg("verify")
        .arg(&emulated)
        .output()
        .expect("qdx runs");
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
}

/// Starts an emulated run that halts after journal record `halt` and waits to be killed.
fn halted(campaign: &Path, lab: &Path, bundle: &Path, halt: u64) -> Child {
    let mut child = qdx()
        .arg("run")
        .arg(campaign)
        .arg("--lab")
        .arg(lab)
        .args([
            "--emulate",
            "-q",
            "--halt-after",
            &halt.to_string(),
            "--out",
        ])
        .arg(bundle)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("qdx starts");
    let stderr = child.stderr.take().expect("stderr");
    // The lab check's warnings come first.
    let mut seen = String::new();
    let mut lines = BufReader::new(stderr);
    loop {
        let mut line = String::new();
        let n = lines.read_line(&mut line).expect("stderr reads");
        assert!(n > 0, "qdx ended before halting:\n{seen}");
        if line.contains("halted") {
            break;
        }
        seen.push_str(&line);
    }
    child
}

#[test]
fn an_emulated_run_resumes_only_on_emulators() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (campaign, lab) = campaign_in(dir.path());
    let bundle = dir.path().join("b");
    let mut child = halted(&campaign, &lab, &bundle, 60);
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let before = journal(&bundle).len();
    assert!(before >= 60, "{before} records");

    let out = qdx()
        .arg("resume")
        .arg(&bundle)
        .arg("-q")
        .output()
        .expect("qdx runs");
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("resume it with --emulate"),
        "{}",
        shown(&out)
    );
    assert_eq!(
        journal(&bundle).len(),
        before,
        "a refused resume writes nothing"
    );

    let out = qdx()
        .arg("resume")
        .arg(&bundle)
        .args(["--emulate", "-q"])
        .output()
        .expect("qdx runs");
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let records = journal(&bundle);
    assert!(records.iter().any(|r| r["event"] == "resumed"));
    let mut measured: Vec<u64> = records
        .iter()
        .filter(|r| r["event"] == "measured")
        .filter_map(|r| r["experiment"].as_u64())
        .collect();
    measured.sort_unstable();
    measured.dedup();
    assert_eq!(
        measured,
        vec![0, 1, 2],
        "every experiment measured, none lost"
    );
}
