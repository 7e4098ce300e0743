//! Item 17: the exit codes (0 success, 1 input errors, 2 usage, 3 qdx could not finish its
//! job, 4 no successful experiment, 128 + n a signal) and the signals that end a run safely.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn qdx() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_qdx"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100");
    c
}

fn shown(out: &Output, dir: &Path) -> String {
    let path = dir.display().to_string();
    format!(
        "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).replace(&path, "[DIR]"),
        String::from_utf8_lossy(&out.stderr).replace(&path, "[DIR]")
    )
}

fn records(bundle: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(bundle.join("journal.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// SIGTERM, SIGHUP and SIGINT (Ctrl-C) during a run: the lab reaches its safe state, the
/// journal says so and that the run stopped (resumable, not finished), the bundle verifies,
/// and qdx exits with 128 + the signal's number.
#[test]
fn a_signal_ends_the_run_in_the_safe_state_with_128_plus_its_number() {
    let dir = tempfile::tempdir().expect("temp");
    for (signal, name, code) in [
        ("TERM", "SIGTERM", 143),
        ("HUP", "SIGHUP", 129),
        ("INT", "SIGINT", 130),
    ] {
        let bundle = dir.path().join(signal);
        let child = qdx()
            .args(["run", "tests/data/runs/slow.qdx", "-q", "--out"])
            .arg(&bundle)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("qdx starts");
        // Mid-run: once an experiment is measured (the campaign has 400).
        let deadline = Instant::now() + Duration::from_secs(120);
        while !records(&bundle).iter().any(|r| r["event"] == "measured") {
            assert!(Instant::now() < deadline, "no experiment measured in time");
            #[allow(clippy::disallowed_methods)] // a real process, in real time
            std::thread::sleep(Duration::from_millis(50));
        }
        let sent = Command::new("kill")
            .args(["-s", signal, &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let out = child.wait_with_output().expect("qdx ends");
        assert_eq!(out.status.code(), Some(code), "{}", shown(&out, &bundle));
        let journal = records(&bundle);
        let n = journal.len();
        assert!(n >= 2);
        assert_eq!(journal[n - 2]["event"], "safe_state", "{signal}");
        assert!(
            journal[n - 2]["reason"]
                .as_str()
                .is_some_and(|r| r.contains(name)),
            "{}",
            journal[n - 2]
        );
        assert_eq!(journal[n - 1]["event"], "stopped");
        assert!(!journal.iter().any(|r| r["event"] == "finished"));
        // The safe state's commands: every pump stopped, the heater to its safe setpoint.
        let safe: Vec<&serde_json::Value> = journal
            .iter()
            .rev()
            .skip(2)
            .take_while(|r| r["event"] == "command" && r["experiment"].is_null())
            .collect();
        assert_eq!(
            safe.iter().filter(|r| r["command"] == "stop").count(),
            3,
            "{safe:?}"
        );
        assert!(safe.iter().any(|r| r["command"] == "set_setpoint"));
        let verify = qdx().arg("verify").arg(&bundle).output().expect("qdx runs");
        assert_eq!(verify.status.code(), Some(0), "{}", shown(&verify, &bundle));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let said: Vec<&str> = stdout
            .lines()
            .filter(|l| l.contains("stopped the run") || l.contains("qdx resume"))
            .collect();
        insta::assert_snapshot!(
            format!("summary_after_{signal}"),
            said.join("\n")
                .replace(&bundle.display().to_string(), "[BUNDLE]")
        );
    }
}

/// Every experiment fails (the only objective's proxy throws): the run finishes, and exits 4.
#[test]
fn a_run_without_a_successful_experiment_exits_4() {
    let dir = tempfile::tempdir().expect("temp");
    let bundle = dir.path().join("b");
    let out = qdx()
        .args(["run", "tests/data/runs/all-fail.qdx", "-q", "--out"])
        .arg(&bundle)
        .output()
        .expect("qdx runs");
    insta::assert_snapshot!(shown(&out, &bundle));
    assert_eq!(out.status.code(), Some(4));
}

/// Input errors exit 1, usage errors 2, a job qdx could not finish 3.
#[test]
fn input_usage_and_failure_exit_1_2_and_3() {
    let dir = tempfile::tempdir().expect("temp");
    let code = |args: &[&str]| {
        let out = qdx().args(args).output().expect("qdx runs");
        (out.status.code(), shown(&out, dir.path()))
    };
    // Usage: clap.
    assert_eq!(code(&["frobnicate"]).0, Some(2));
    assert_eq!(code(&["run"]).0, Some(2));
    assert_eq!(
        code(&["run", "examples/cspbx3-orange.qdx", "--seed", "x"]).0,
        Some(2)
    );
    // Input: a campaign with errors; an --out that exists.
    assert_eq!(
        code(&["run", "tests/data/invalid/absolute_zero.qdx"]).0,
        Some(1)
    );
    let existing = dir.path().to_string_lossy().into_owned();
    let (c, text) = code(&[
        "run",
        "examples/cspbx3-orange.qdx",
        "-q",
        "--out",
        &existing,
    ]);
    insta::assert_snapshot!("existing_out", text);
    assert_eq!(c, Some(1));
    // qdx could not finish its job: a corrupt journal.
    let bundle = dir.path().join("b");
    let out = qdx()
        .args(["run", "examples/cspbx3-orange.qdx", "-q", "--out"])
        .arg(&bundle)
        .output()
        .expect("qdx runs");
    assert_eq!(out.status.code(), Some(0));
    let journal = bundle.join("journal.jsonl");
    let mut text = std::fs::read_to_string(&journal).expect("journal");
    text.insert_str(text.len() / 2, "garbage\n");
    std::fs::write(&journal, text).expect("corrupt");
    let out = qdx().arg("resume").arg(&bundle).output().expect("qdx runs");
    assert_eq!(out.status.code(), Some(3), "{}", shown(&out, dir.path()));
}

/// `qdx --help` lists the exit codes.
#[test]
fn help_lists_the_exit_codes() {
    let out = qdx().arg("--help").output().expect("qdx runs");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let codes = text.find("Exit codes:").map(|k| &text[k..]);
    assert!(codes.is_some(), "{text}");
    insta::assert_snapshot!(codes.unwrap_or_default());
}
