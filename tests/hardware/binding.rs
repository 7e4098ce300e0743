//! Lab binding files checked against a campaign: every invalid file fails with located
//! diagnostics (snapshotted), the test rig binds its campaign with the envelopes the runtime
//! enforces, and `qdx check --lab` reports both.

use std::path::Path;
use std::process::Command;

use qdx::diagnostic::{Style, render_all};
use qdx::validate::lab::{CheckedLab, Limits, check_lab};
use qdx::world::DiskWorld;

use crate::support::{check_path, relative};

const CAMPAIGN: &str = "tests/data/labs/campaign.qdx";

const ML_PER_MIN: f64 = 1e-6 / 60.0;

fn check(lab: &Path) -> CheckedLab {
    let campaign = check_path(Path::new(CAMPAIGN));
    assert!(campaign.campaign.is_some(), "the test campaign validates");
    let display = lab.to_string_lossy().replace('\\', "/");
    check_lab(
        &DiskWorld,
        lab,
        &display,
        campaign.sources.clone(),
        campaign.campaign.as_ref(),
    )
}

#[test]
fn invalid_lab_files_report_located_errors() {
    let mut count = 0;
    insta::glob!("../data/invalid_lab", "*.qdx", |path| {
        count += 1;
        let rel = relative(path);
        let source = std::fs::read_to_string(path).expect("readable test file");
        let checked = check(&rel);
        assert!(
            checked.binding.is_none(),
            "{} should not bind",
            rel.display()
        );
        assert!(checked.diagnostics.has_errors(), "{}", rel.display());
        for d in checked.diagnostics.iter().filter(|d| d.is_error()) {
            assert!(
                d.primary_span().and_then(|s| s.range()).is_some(),
                "{}: error `{}` has no location",
                rel.display(),
                d.message
            );
        }
        let text = render_all(&checked.diagnostics, &checked.sources, Style::Plain);
        // Every error is shown in the lab file.
        assert!(text.contains(&rel.to_string_lossy().replace('\\', "/")));
        insta::with_settings!({ description => source, omit_expression => true }, {
            insta::assert_snapshot!(text);
        });
    });
    assert!(count >= 8, "the invalid lab corpus has {count} files");
}

#[test]
fn the_test_rig_binds_its_campaign_with_the_envelopes_the_runtime_enforces() {
    let checked = check(Path::new("tests/data/labs/rig.qdx"));
    assert!(
        checked.diagnostics.is_empty(),
        "{}",
        render_all(&checked.diagnostics, &checked.sources, Style::Plain)
    );
    let binding = checked.binding.expect("a binding");
    assert_eq!(binding.name, "test-rig");
    assert_eq!(binding.file.name, "rig.qdx");
    let names: Vec<&str> = binding.devices.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["p_a", "p_b", "h1", "spec1"]);
    let Limits::Pump(p_a) = binding.devices[0].limits else {
        panic!("p_a is a pump");
    };
    // The campaign's 1 uL/min .. 0.9 mL/min inside the NE-1000 with a 4.78 mm syringe
    // (0.0126 uL/min .. 0.915 mL/min); the safety limit on total flow (1.5 mL/min) is looser.
    assert!((p_a.envelope.min_rate - 1e-3 * ML_PER_MIN).abs() < 1e-15);
    assert!((p_a.envelope.max_rate - 0.9 * ML_PER_MIN).abs() < 1e-15);
    assert!(p_a.envelope.allow_withdraw, "the syringe refills");
    assert!((p_a.infuse_max - 0.9 * ML_PER_MIN).abs() < 1e-15);
    let Limits::Heater(h1) = binding.devices[2].limits else {
        panic!("h1 is a heater");
    };
    // The heater's 20 .. 150 degC, the controller's 0 .. 200 degC, the safety limit 120 degC.
    assert!((h1.envelope.min_temperature - 293.15).abs() < 1e-9);
    assert!((h1.envelope.max_temperature - 393.15).abs() < 1e-9);
    assert!((h1.safe_setpoint - 303.15).abs() < 1e-9);
    assert!(matches!(binding.devices[3].limits, Limits::Spectrometer));
}

#[test]
fn a_pump_slower_than_its_driver_is_rounded_to_what_the_driver_runs() {
    // Without `min_rate` a syringe pump goes down to 0.001 uL/min, slower than an NE-1000
    // with a 4.78 mm syringe runs (0.0126 uL/min); with a ratio that reaches zero the
    // planner rounds instead, so this is a warning, and the binding raises the pump's
    // smallest rate for the run.
    let campaign = std::fs::read_to_string(CAMPAIGN)
        .expect("campaign")
        .replace("    min_rate 1 uL/min\n", "")
        .replace("a_frac : ratio in 0.2 .. 0.8", "a_frac : ratio in 0 .. 1")
        .replace("= 1 mL/min *", "= 0.9 mL/min *");
    let world = qdx::world::MemoryWorld::new()
        .with("campaign.qdx", campaign)
        .with(
            "rig.qdx",
            std::fs::read_to_string("tests/data/labs/rig.qdx").expect("lab"),
        );
    let loaded = qdx::load::load(&world, Path::new("campaign.qdx"), "campaign.qdx");
    let checked = qdx::validate::validate(&loaded, &world);
    let c = checked.campaign.clone().unwrap_or_else(|| {
        panic!(
            "{}",
            render_all(&checked.diagnostics, &checked.sources, Style::Plain)
        )
    });
    let lab = check_lab(
        &world,
        Path::new("rig.qdx"),
        "rig.qdx",
        checked.sources.clone(),
        Some(&c),
    );
    let codes: Vec<&str> = lab.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(
        codes,
        ["qdx::lab::rates_rounded", "qdx::lab::rates_rounded"]
    );
    let binding = lab.binding.expect("warnings only");
    let applied = binding.apply(&c);
    let p_a = applied.device_id("p_a").expect("p_a");
    let lo = applied.devices[p_a].setting("rate").expect("rate").lo;
    let area = std::f64::consts::PI / 4.0 * 4.78e-3 * 4.78e-3;
    assert!(
        (lo - qdx_lab::capability::NE1000_SPEED.min * area).abs() < 1e-18,
        "{lo}"
    );
    // The campaign itself is untouched.
    assert!((c.devices[p_a].setting("rate").expect("rate").lo - 1e-12 / 60.0).abs() < 1e-20);
}

fn qdx() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_qdx"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100");
    c
}

#[test]
fn check_with_a_lab_reports_the_campaign_and_the_binding() {
    let out = qdx()
        .args(["check", "--lab", "tests/data/labs/rig.qdx", CAMPAIGN])
        .output()
        .expect("qdx runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ok: tests/data/labs/rig.qdx (lab \"test-rig\") binds every device"));

    let out = qdx()
        .args([
            "check",
            "--lab",
            "tests/data/invalid_lab/wrong_role.qdx",
            CAMPAIGN,
        ])
        .output()
        .expect("qdx runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("tests/data/invalid_lab/wrong_role.qdx"),
        "{stderr}"
    );
    assert!(stderr.contains("`h1` is a heater, but `new_era.ne1000` drives a pump"));

    // The example rig binds the Krishnadasan campaign without a warning.
    let out = qdx()
        .args([
            "check",
            "--lab",
            "examples/labs/krishnadasan-rig.qdx",
            "examples/cdse-krishnadasan.qdx",
        ])
        .output()
        .expect("qdx runs");
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A run refuses a binding with errors before anything is opened.
    let dir = tempfile::tempdir().expect("temp dir");
    let out = qdx()
        .args([
            "run",
            CAMPAIGN,
            "-q",
            "--lab",
            "tests/data/invalid_lab/unbound_device.qdx",
            "--out",
        ])
        .arg(dir.path().join("bundle"))
        .output()
        .expect("qdx runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(!dir.path().join("bundle").exists());
}

#[test]
fn probe_reports_every_device_that_does_not_answer_and_exits_1() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("no-such-port");
    let lab = dir.path().join("lab.qdx");
    std::fs::write(
        &lab,
        std::fs::read_to_string("tests/data/labs/rig.qdx")
            .expect("lab")
            .replace("/dev/ttyUSB0", &missing.to_string_lossy())
            .replace("/dev/ttyUSB1", &format!("{}1", missing.display()))
            .replace("/dev/ttyUSB2", &format!("{}2", missing.display())),
    )
    .expect("write");
    let out = qdx()
        .args(["lab", "probe"])
        .arg(&lab)
        .args(["--campaign", CAMPAIGN])
        .output()
        .expect("qdx runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("4 of 4 devices failed"), "{stdout}");
    assert_eq!(stdout.matches("cannot connect").count(), 4, "{stdout}");
}

#[test]
fn a_routed_valve_must_be_bound_and_a_flush_run_by_its_pump() {
    let campaign = check_path(Path::new("tests/data/valid/flush_route.qdx"));
    let lab = r#"qdx 1

lab "flush-rig" {
  bind p_seed = new_era.ne1000 { port "/dev/ttyUSB0", address 0, syringe_diameter 19.13 mm }
  bind p_iodide = new_era.ne1000 { port "/dev/ttyUSB0", address 1, syringe_diameter 19.13 mm }
  bind p_wash = new_era.ne1000 { port "/dev/ttyUSB0", address 2, syringe_diameter 4.78 mm }
  bind spec1 = ocean.flame { port "/dev/ttyUSB2", wavelength_coefficients [339.2, 0.3781], lamp "excitation" }
}
"#;
    let world = qdx::world::MemoryWorld::new().with("flush-rig.qdx", lab);
    let checked = check_lab(
        &world,
        Path::new("flush-rig.qdx"),
        "flush-rig.qdx",
        campaign.sources.clone(),
        campaign.campaign.as_ref(),
    );
    let errors: Vec<&str> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.code)
        .collect();
    // The valve that routes the product has no driver; the wash pump's 4.78 mm syringe can
    // neither flush at 1 mL/min nor refill at 5 mL/min.
    assert_eq!(
        errors,
        [
            "qdx::lab::unbound_device",
            "qdx::lab::flush_rate",
            "qdx::lab::refill_rate"
        ],
        "{}",
        render_all(&checked.diagnostics, &checked.sources, Style::Plain)
    );
}
