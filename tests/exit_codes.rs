//! Item 17: the exit codes (0 success, 1 input errors, 2 usage, 3 qdx could not finish its
//! job, 4 no successful experiment, 128 + n a signal) and the signals that end a run safely.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::cli_env::CliEnv;

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
    let env = CliEnv::new();
    env.copy("tests/data/runs/all-fail.qdx", "all-fail.qdx");
    env.copy("tests/data/runs/proxies", "proxies");
    insta::assert_snapshot!(env.run(&["run", "all-fail.qdx", "-q", "--out", "b"]), @r#"
    exit: 4
    --- stdout
    3 experiments (3 failed or skipped) in 18.1 min of lab time; stopped: the experiment budget (3) is spent
    no experiment succeeded
    bundle: b
      observations.csv   one row per experiment (pandas: pd.read_csv("…/observations.csv"))
      datapackage.json   every table's columns, types and units (Python: qdx.load("…"))
      spectra.csv        the spectrum files of each experiment
      report.html        plots of the campaign
      journal.jsonl      every event, in order
      spectra/           raw spectra, CSV: the axis (wavelength or q), then the values
      optimizer/         every suggestion with the model's explanation
      manifest.json      SHA-256 of every file (check with `qdx verify`)
    --- stderr
    error: no experiment succeeded
    "#);
    assert!(
        env.path("b/manifest.json").is_file(),
        "the bundle is written"
    );
}

/// Input errors exit 1, usage errors 2, a job qdx could not finish 3 (the plain cases of each
/// command are in `cli_snapshots`).
#[test]
fn input_usage_and_failure_exit_1_2_and_3() {
    let env = CliEnv::new();
    env.copy("tests/data/cli/tiny.qdx", "tiny.qdx");
    env.copy("tests/data/invalid/absolute_zero.qdx", "absolute_zero.qdx");
    // Usage: an argument's value clap cannot parse.
    insta::assert_snapshot!(env.run(&["run", "tiny.qdx", "--seed", "x"]), @r#"
        exit: 2
        --- stdout
        --- stderr
        error: invalid value 'x' for '--seed <SEED>': invalid digit found in string

        For more information, try '--help'.
    "#);
    // Input: a campaign with errors (-300 degC, below absolute zero).
    insta::assert_snapshot!(env.run(&["run", "absolute_zero.qdx", "--out", "b"]), @"
    exit: 1
    --- stdout
    --- stderr
    qdx::validate::below_absolute_zero

      × -300 degC is below absolute zero
        ╭─[absolute_zero.qdx:33:32]
     32 │   cd_share : ratio in 0.3 .. 0.7
     33 │   temperature : temperature in -300 degC .. 300 degC -> h1
        ·                                ─────────
     34 │ }
        ╰────
    ");
    assert!(!env.path("b").exists());
    // qdx could not finish its job: a corrupt journal.
    let out = env.run(&["run", "tiny.qdx", "-q", "--out", "b"]);
    assert_eq!(out.code, Some(0), "{out}");
    let mut text = env.read("b/journal.jsonl");
    text.insert_str(text.len() / 2, "garbage\n");
    env.write("b/journal.jsonl", &text);
    insta::assert_snapshot!(env.run(&["resume", "b"]), @"
    exit: 3
    --- stdout
    --- stderr
    error: journal b/journal.jsonl, line 14: EOF while parsing a string at line 1 column 107
    ");
}

/// Issue 14, item 16: two runs racing for the same `--out`: one writes the bundle, the other
/// is refused with exit 1 and the same message as a run started later, however the race goes
/// (whether it finds the bundle before it starts or when it puts its own in place).
#[test]
fn the_loser_of_a_race_for_the_same_out_exits_1_as_a_later_run_would() {
    let env = CliEnv::new();
    env.copy("tests/data/cli/tiny.qdx", "tiny.qdx");
    for round in 0..20 {
        let out = format!("b{round}");
        let start = || {
            env.command()
                .args(["run", "tiny.qdx", "-q", "--out", &out])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("qdx starts")
        };
        let (a, b) = (start(), start());
        let mut ends: Vec<_> = [a, b]
            .into_iter()
            .map(|c| env.output(&c.wait_with_output().expect("qdx ends")))
            .collect();
        ends.sort_by_key(|o| o.code);
        assert_eq!(ends[0].code, Some(0), "round {round}: {}", ends[0]);
        assert_eq!(
            (ends[1].code, ends[1].stderr.as_str()),
            (
                Some(1),
                format!(
                    "error: {out} already exists; a run never overwrites a bundle (name another \
                     --out, or `qdx resume {out}` to go on with that run)\n"
                )
                .as_str()
            ),
            "round {round}"
        );
    }
}

/// Issue 14, item 16: an argument's value that clap cannot parse (`--seed abc`, `--format
/// xml`) is a usage error, 2, and `qdx --help` and the README say so; 1 is for values qdx
/// itself refuses (a folder that is not a bundle, an `--out` that exists).
#[test]
fn a_value_clap_cannot_parse_exits_2_as_help_and_readme_say() {
    let env = CliEnv::new();
    env.copy("tests/data/cli/tiny.qdx", "tiny.qdx");
    for args in [
        &["run", "tiny.qdx", "--seed", "abc"][..],
        &["check", "tiny.qdx", "--format", "xml"][..],
    ] {
        assert_eq!(env.run(args).code, Some(2), "{args:?}");
    }
    let help = env.run(&["--help"]).stdout;
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let row = |code: &str| {
        readme
            .lines()
            .find(|l| l.starts_with(&format!("| {code} |")))
            .unwrap_or_else(|| panic!("README has no row for exit code {code}"))
            .to_owned()
    };
    for (what, text) in [("README", row("2")), ("qdx --help", help.clone())] {
        assert!(
            text.contains("`--seed abc`"),
            "{what} counts a value clap cannot parse as a usage error: {text}"
        );
    }
    assert!(
        !row("1").contains("an argument's value ("),
        "README: 1 is for values qdx refuses, not every argument's value: {}",
        row("1")
    );
}

/// Issue 14, item 21: a signal ignored when qdx started stays ignored (`nohup qdx run … &`
/// then `kill -HUP`: the run goes on); the signals that were not ignored still end the run
/// safely.
#[cfg(unix)]
#[test]
fn a_signal_ignored_at_start_stays_ignored() {
    let dir = tempfile::tempdir().expect("temp");
    let bundle = dir.path().join("b");
    // nohup starts qdx with SIGHUP ignored.
    let mut child = Command::new("nohup")
        .arg(env!("CARGO_BIN_EXE_qdx"))
        .args(["run", "tests/data/runs/slow.qdx", "-q", "--out"])
        .arg(&bundle)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nohup qdx starts");
    let measured = |bundle: &Path| {
        records(bundle)
            .iter()
            .filter(|r| r["event"] == "measured")
            .count()
    };
    let wait_for = |child: &mut std::process::Child, n: usize| {
        let deadline = Instant::now() + Duration::from_secs(120);
        while measured(&bundle) < n {
            assert!(
                Instant::now() < deadline,
                "fewer than {n} experiments in time"
            );
            if let Some(status) = child.try_wait().expect("status") {
                panic!("qdx ended ({status}) before {n} experiments");
            }
            #[allow(clippy::disallowed_methods)] // a real process, in real time
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let pid = child.id().to_string();
    let kill = |signal: &str| {
        let sent = Command::new("kill")
            .args(["-s", signal, &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success());
    };
    wait_for(&mut child, 1);
    kill("HUP");
    // SIGHUP, ignored at start, ends nothing: the run goes on.
    let after_hup = measured(&bundle);
    wait_for(&mut child, after_hup + 2);
    kill("TERM");
    let out = child.wait_with_output().expect("qdx ends");
    assert_eq!(out.status.code(), Some(143), "{}", shown(&out, &bundle));
    let journal = records(&bundle);
    assert!(
        !journal
            .iter()
            .any(|r| r["reason"].as_str().is_some_and(|r| r.contains("SIGHUP"))),
        "SIGHUP stopped nothing"
    );
    assert!(journal.iter().any(|r| r["event"] == "safe_state"
        && r["reason"].as_str().is_some_and(|r| r.contains("SIGTERM"))));
}
