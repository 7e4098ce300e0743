//! End-to-end tests of the `qdx` binary: exit codes, streams, files written.

use std::path::Path;
use std::process::Command;

fn qdx() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_qdx"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100");
    c
}

fn files(dir: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
        .expect("folder exists")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "qdx"))
        .map(|p| {
            format!(
                "{dir}/{}",
                p.file_name().unwrap_or_default().to_string_lossy()
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn check_examples_exits_zero() {
    let examples = files("examples");
    assert!(examples.len() >= 3);
    let out = qdx()
        .arg("check")
        .args(&examples)
        .output()
        .expect("qdx runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for e in &examples {
        assert!(stdout.contains(&format!("ok: {e}")), "{stdout}");
    }
}

#[test]
fn check_invalid_files_exit_one_naming_the_file() {
    for f in files("tests/data/invalid") {
        let out = qdx().args(["check", &f]).output().expect("qdx runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{f}: {stderr}");
        assert!(
            stderr.contains(&f) || stderr.contains(".rhai"),
            "{f}: the diagnostic should name the file:\n{stderr}"
        );
        assert!(
            out.stdout.is_empty(),
            "{f}: nothing on stdout for an invalid file"
        );
    }
}

#[test]
fn check_json_lists_every_diagnostic_with_its_place() {
    let out = qdx()
        .args([
            "check",
            "--format",
            "json",
            "tests/data/invalid/derived_rate_above_pump_max.qdx",
        ])
        .output()
        .expect("qdx runs");
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(report["errors"], 2);
    let first = &report["diagnostics"][0];
    assert_eq!(first["code"], "qdx::validate::out_of_limits");
    assert_eq!(
        first["file"],
        "tests/data/invalid/derived_rate_above_pump_max.qdx"
    );
    assert!(first["line"].as_u64().is_some_and(|l| l > 1));
    assert!(
        first["message"]
            .as_str()
            .is_some_and(|m| m.contains("140 uL/min"))
    );
}

#[test]
fn check_missing_file_is_an_error_not_a_panic() {
    let out = qdx()
        .args(["check", "no/such/file.qdx"])
        .output()
        .expect("qdx runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read `no/such/file.qdx`"));
}

#[test]
fn new_scaffolds_a_campaign_that_checks_clean_and_never_overwrites() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = qdx()
        .args(["new", "my-dots", "--dir"])
        .arg(dir.path())
        .output()
        .expect("qdx runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let campaign = dir.path().join("my-dots/my-dots.qdx");
    assert!(campaign.exists() && dir.path().join("my-dots/lab.qdx").exists());
    let check = qdx()
        .arg("check")
        .arg(&campaign)
        .output()
        .expect("qdx runs");
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let with_lab = qdx()
        .arg("check")
        .arg("--lab")
        .arg(dir.path().join("my-dots/lab.qdx"))
        .arg(&campaign)
        .output()
        .expect("qdx runs");
    assert_eq!(
        with_lab.status.code(),
        Some(0),
        "the scaffolded lab binds the scaffolded campaign: {}",
        String::from_utf8_lossy(&with_lab.stderr)
    );
    let again = qdx()
        .args(["new", "my-dots", "--dir"])
        .arg(dir.path())
        .output()
        .expect("qdx runs");
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwrites"));
    let bad = qdx()
        .args(["new", "../escape", "--dir"])
        .arg(dir.path())
        .output()
        .expect("qdx runs");
    assert_eq!(bad.status.code(), Some(1));
}

#[test]
fn fmt_check_passes_on_examples_and_never_touches_a_broken_file() {
    let mut args = vec!["fmt".to_owned(), "--check".to_owned()];
    args.extend(files("examples"));
    args.extend(files("examples/labs"));
    let out = qdx().args(&args).output().expect("qdx runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let messy = dir.path().join("messy.qdx");
    std::fs::write(&messy, "qdx 1\ncampaign   \"x\"{seed 1}  // keep me\n").expect("write");
    let check = qdx()
        .args(["fmt", "--check"])
        .arg(&messy)
        .output()
        .expect("qdx runs");
    assert_eq!(check.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&check.stdout).contains("would reformat"));
    let fix = qdx().arg("fmt").arg(&messy).output().expect("qdx runs");
    assert_eq!(fix.status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(&messy).expect("read"),
        "qdx 1\n\ncampaign \"x\" {\n  seed 1\n} // keep me\n"
    );
    let broken = dir.path().join("broken.qdx");
    std::fs::write(&broken, "qdx 1\nstocks {\n").expect("write");
    let out = qdx().arg("fmt").arg(&broken).output().expect("qdx runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(&broken).expect("read"),
        "qdx 1\nstocks {\n",
        "a file with a syntax error is left as it was"
    );
}
