//! The end-to-end campaign on emulated instruments behind real pseudo-terminals: `qdx lab probe`
//! and `qdx run --lab` run as their own processes and open the pty paths the lab file names,
//! exactly as on a rig with USB-serial adapters; the emulators serve the other ends from a
//! thread of this test. The campaign has no `simulate` block: its spectra come from the Ocean
//! emulator. The bundle must verify.

use std::process::Command;
use std::sync::mpsc;

use tokio_serial::SerialPort as _;

use qdx_lab::emulators::new_era::NewEraChain;

use super::rig::{Reply, Rig, Script};

const CAMPAIGN: &str = "tests/data/labs/campaign.qdx";

fn qdx() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_qdx"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100");
    c
}

/// The rig's emulators served on pty pairs from their own thread and runtime, until dropped.
pub(crate) struct PtyRig {
    pub(crate) rig: Rig,
    /// The slave paths: the pump line, the heater, the spectrometer.
    pub(crate) paths: [String; 3],
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PtyRig {
    /// Serves the rig, its pump line following `pumps` if given.
    pub(crate) fn start(pumps: Option<Script<NewEraChain>>) -> PtyRig {
        let (ready, started) = mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let rig = match pumps {
                    Some(script) => Rig::new().script_pumps(script),
                    None => Rig::new(),
                };
                let mut keep = Vec::new();
                let mut paths = Vec::new();
                let mut pair = || {
                    let (master, slave) = tokio_serial::SerialStream::pair().expect("a pty pair");
                    paths.push(slave.name().expect("the slave's path"));
                    // Our handle on the slave side stays open, so the master never sees a
                    // hang-up between the processes that open the path.
                    keep.push(slave);
                    master
                };
                let masters = [pair(), pair(), pair()];
                let [pumps, heater, spectrometer] = masters;
                drop(rig.pumps.spawn(pumps));
                drop(rig.heater.spawn(heater));
                drop(rig.spectrometer.spawn(spectrometer));
                ready.send((rig.clone(), paths)).expect("the test waits");
                let _ = stopped.await;
                drop(keep);
            });
        });
        let (rig, paths) = started.recv().expect("the emulators start");
        let paths: [String; 3] = paths.try_into().expect("three ptys");
        PtyRig {
            rig,
            paths,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The test rig's lab file, with the pty paths for ports.
    fn lab_file(&self) -> String {
        let [pumps, heater, spectrometer] = &self.paths;
        format!(
            r#"qdx 1

lab "pty-rig" {{
  bind p_a = new_era.ne1000 {{ port "{pumps}", address 0, baud 19200, syringe_diameter 4.78 mm }}
  bind p_b = new_era.ne1000 {{ port "{pumps}", address 1, baud 19200, syringe_diameter 4.78 mm }}
  bind h1 = eurotherm.e3200 {{ port "{heater}", modbus_address 1, setpoint_min 0 degC, setpoint_max 200 degC }}
  bind spec1 = ocean.flame {{ port "{spectrometer}", wavelength_coefficients [300, 0.25], lamp "excitation" }}
}}
"#
        )
    }
}

impl Drop for PtyRig {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn a_campaign_runs_end_to_end_on_emulated_instruments_over_ptys() {
    let rig = PtyRig::start(None);
    let dir = tempfile::tempdir().expect("temp dir");
    let lab = dir.path().join("pty-rig.qdx");
    std::fs::write(&lab, rig.lab_file()).expect("lab file");

    // Probe: every device answers with its identity and status.
    let out = qdx()
        .args(["lab", "probe"])
        .arg(&lab)
        .args(["--campaign", CAMPAIGN])
        .output()
        .expect("qdx runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "device",
        "p_a",
        "New Era Pump Systems NE1000",
        "stopped, infuse",
        "Eurotherm",
        "25.0 °C, setpoint 25.0 °C",
        "Ocean Optics Flame-S",
        "all 4 devices answered",
    ] {
        assert!(stdout.contains(expected), "{expected} in:\n{stdout}");
    }

    // Run: three experiments, spectra from the Ocean emulator, a bundle that verifies.
    let bundle = dir.path().join("bundle");
    let out = qdx()
        .args(["run", CAMPAIGN, "-q", "--lab"])
        .arg(&lab)
        .arg("--out")
        .arg(&bundle)
        .output()
        .expect("qdx runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("3 experiments (0 failed or skipped)"),
        "{stdout}"
    );
    let out = qdx().arg("verify").arg(&bundle).output().expect("qdx runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The bundle holds the lab file as run and the measured spectra.
    assert_eq!(
        std::fs::read_to_string(bundle.join("lab/pty-rig.qdx")).expect("lab file in the bundle"),
        rig.lab_file()
    );
    let records = qdx::journal::read(&bundle.join("journal.jsonl")).expect("journal");
    assert!(matches!(
        &records[0].event,
        qdx::journal::Event::Started { lab, .. } if lab == "pty-rig"
    ));
    let observations = std::fs::read_to_string(bundle.join("observations.csv")).expect("csv");
    assert_eq!(observations.lines().count(), 4, "{observations}");
    let spectrum = std::fs::read_to_string(bundle.join("spectra/e0000-photoluminescence-r0.csv"))
        .expect("a spectrum");
    assert_eq!(spectrum.lines().count(), 2049);
    // The emulated lamp's profile peaks at the middle pixel: 300 nm + 0.25 nm × 1023.5.
    let peaks: Vec<f64> = records
        .iter()
        .filter_map(|r| match &r.event {
            qdx::journal::Event::Measured { proxies, .. } => proxies.get("peak").copied().flatten(),
            _ => None,
        })
        .collect();
    assert_eq!(peaks.len(), 3);
    for p in peaks {
        assert!((p * 1e9 - 555.9).abs() < 1.0, "{p}");
    }

    // The instruments saw the run: a dark spectrum and one per experiment, each after a scan
    // dropped because a setting changed, and the lab left safe: pumps stopped, the heater at
    // its safe setpoint.
    assert_eq!(rig.rig.spectra_taken(), 2 * (1 + 3));
    assert!(rig.rig.pump_requests().iter().any(|r| r == "0RUN"));
    assert!(!rig.rig.pump_running(0) && !rig.rig.pump_running(1));
    assert!((rig.rig.heater_setpoint() - 30.0).abs() < 1e-9);
}

#[test]
fn a_run_paused_by_a_stall_resumes_through_the_command_line() {
    // p_b's motor stalls once, after its second start: the check before the second
    // experiment's spectrum finds the alarm, and the campaign's policy pauses the run.
    let mut starts = 0;
    let mut stalled = false;
    let rig = PtyRig::start(Some(Box::new(move |chain, request| {
        if request == b"1RUN" {
            starts += 1;
        } else if starts == 2 && !stalled && request.starts_with(b"1") {
            chain.stall(1);
            stalled = true;
        }
        Reply::Normal
    })));
    let dir = tempfile::tempdir().expect("temp dir");
    let lab = dir.path().join("pty-rig.qdx");
    std::fs::write(&lab, rig.lab_file()).expect("lab file");
    let bundle = dir.path().join("bundle");
    let out = qdx()
        .args(["run", CAMPAIGN, "-q", "--lab"])
        .arg(&lab)
        .arg("--out")
        .arg(&bundle)
        .output()
        .expect("qdx runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // A hardware fault stopped the run before its end: exit 3 (it is resumable).
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 experiments"), "{stdout}");
    assert!(
        stdout.contains("stopped: pause after pump_stall on p_b"),
        "{stdout}"
    );
    assert!(stdout.contains("qdx resume"), "{stdout}");
    assert!(!rig.rig.pump_running(0) && !rig.rig.pump_running(1));
    assert!((rig.rig.heater_setpoint() - 30.0).abs() < 1e-9);
    // The paused bundle verifies as it stands.
    let verify = qdx().arg("verify").arg(&bundle).output().expect("qdx runs");
    assert_eq!(verify.status.code(), Some(0));

    // `qdx resume` finds the lab file in the bundle and finishes the campaign.
    let out = qdx()
        .args(["resume", "-q"])
        .arg(&bundle)
        .output()
        .expect("qdx runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("3 experiments (0 failed or skipped)"),
        "{stdout}"
    );
    let verify = qdx().arg("verify").arg(&bundle).output().expect("qdx runs");
    assert_eq!(verify.status.code(), Some(0));
    let records = qdx::journal::read(&bundle.join("journal.jsonl")).expect("journal");
    let measured: Vec<u64> = records
        .iter()
        .filter_map(|r| match &r.event {
            qdx::journal::Event::Measured { experiment, .. } => Some(*experiment),
            _ => None,
        })
        .collect();
    assert_eq!(measured, [0, 1, 2], "no experiment repeated, none lost");
    // One dark spectrum for the whole campaign: the resume read it back from the bundle.
    assert_eq!(rig.rig.spectra_taken(), 2 * (1 + 3));
}
