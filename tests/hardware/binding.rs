//! Lab binding files checked against a campaign: every invalid file fails with located
//! diagnostics (snapshotted), the test rig binds its campaign with the envelopes the runtime
//! enforces, and `qdx check --lab` reports both.

use std::path::Path;

use qdx::bind::{CheckedLab, Limits, check_lab};
use qdx::diagnostic::{Style, render_all};
use qdx::world::DiskWorld;

use crate::cli_env::CliEnv;
use crate::support::{check_path, relative};

const CAMPAIGN: &str = "tests/data/labs/campaign.qdx";

/// The campaign with a routed selection valve.
const ROUTED: &str = "tests/data/labs/routed.qdx";

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

/// Issue 15: a valve's binding is checked against the campaign that routes through it.
#[test]
fn invalid_valve_bindings_report_located_errors() {
    let campaign = check_path(Path::new(ROUTED));
    assert!(campaign.campaign.is_some(), "the routed campaign validates");
    let mut count = 0;
    insta::glob!("../data/invalid_lab_valve", "*.qdx", |path| {
        count += 1;
        let rel = relative(path);
        let source = std::fs::read_to_string(path).expect("readable test file");
        let display = rel.to_string_lossy().replace('\\', "/");
        let checked = check_lab(
            &DiskWorld,
            &rel,
            &display,
            campaign.sources.clone(),
            campaign.campaign.as_ref(),
        );
        assert!(checked.binding.is_none(), "{display} should not bind");
        for d in checked.diagnostics.iter().filter(|d| d.is_error()) {
            assert!(
                d.primary_span().and_then(|s| s.range()).is_some(),
                "{display}: error `{}` has no location",
                d.message
            );
        }
        let text = render_all(&checked.diagnostics, &checked.sources, Style::Plain);
        assert!(text.contains(&display), "{text}");
        insta::with_settings!({ description => source, omit_expression => true }, {
            insta::assert_snapshot!(text);
        });
    });
    assert_eq!(count, 8, "the invalid valve corpus");
}

/// Issue 15: the routed rig binds its valve with the positions and names the plan uses.
#[test]
fn the_routed_rig_binds_its_valve_and_names_the_routes_positions() {
    let campaign = check_path(Path::new(ROUTED));
    let c = campaign
        .campaign
        .as_ref()
        .expect("the routed campaign validates");
    let checked = check_lab(
        &DiskWorld,
        Path::new("tests/data/labs/routed-rig.qdx"),
        "tests/data/labs/routed-rig.qdx",
        campaign.sources.clone(),
        Some(c),
    );
    assert!(
        checked.diagnostics.is_empty(),
        "{}",
        render_all(&checked.diagnostics, &checked.sources, Style::Plain)
    );
    let binding = checked.binding.expect("a binding");
    let v1 = binding
        .devices
        .iter()
        .find(|d| d.name == "v1")
        .expect("v1 is bound");
    let Limits::Valve(limits) = &v1.limits else {
        panic!("v1 is a valve: {:?}", v1.limits);
    };
    assert_eq!(limits.positions, 6);
    let route = binding
        .apply(c)
        .measurement
        .and_then(|m| m.route)
        .expect("a route");
    assert_eq!(
        (route.name(route.collect), route.name(route.waste)),
        (Some("sample".to_owned()), Some("waste".to_owned()))
    );
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

/// The example rig binds the Krishnadasan campaign without a warning. (The test rig's
/// binding and a wrong one are in `cli_snapshots`.)
#[test]
fn check_with_a_lab_reports_the_campaign_and_the_binding() {
    let env = CliEnv::new();
    env.copy("examples", "examples");
    insta::assert_snapshot!(
        env.run(&[
            "check",
            "--lab",
            "examples/labs/krishnadasan-rig.qdx",
            "examples/cdse-krishnadasan.qdx",
        ]),
        @r#"
        exit: 0
        --- stdout
        ok: examples/cdse-krishnadasan.qdx (campaign "cdse-krishnadasan-2007")
        ok: examples/labs/krishnadasan-rig.qdx (lab "cdse-chip-rig") binds every device of examples/cdse-krishnadasan.qdx
        --- stderr
    "#,
    );
}

/// A run refuses a binding with errors before anything is opened.
#[test]
fn run_refuses_a_binding_with_errors() {
    let env = CliEnv::new();
    env.copy(CAMPAIGN, "campaign.qdx");
    env.copy(
        "tests/data/invalid_lab/unbound_device.qdx",
        "unbound_device.qdx",
    );
    insta::assert_snapshot!(
        env.run(&[
            "run",
            "campaign.qdx",
            "-q",
            "--lab",
            "unbound_device.qdx",
            "--out",
            "bundle",
        ]),
        @r#"
        exit: 1
        --- stdout
        --- stderr
        qdx::lab::unbound_device

          × `p_b` (pump) is not bound to an instrument
           ╭─[unbound_device.qdx:5:5]
         4 │ 
         5 │ lab "test-rig" {
           ·     ─────┬────
           ·          ╰── this lab does not bind `p_b`
         6 │   bind p_a = new_era.ne1000 { port "/dev/ttyUSB0", address 0, baud 19200, syringe_diameter 4.78 mm }
           ╰────
          help: add `bind p_b = <driver> { port "…", … }`; pump drivers: `chemyx.fusion`,
                `harvard.phd_ultra`, `harvard.pump11_elite`, `new_era.ne1000`

        Advice: qdx::lab::unbound_device

          ☞ the campaign drives it
            ╭─[campaign.qdx:28:3]
         27 │       }
         28 │ ╭─▶   pump p_b : syringe_pump {
         29 │ │       syringe 1 mL
         30 │ │       max_rate 0.9 mL/min
         31 │ │       min_rate 1 uL/min
         32 │ │       refill_rate 0.5 mL/min
         33 │ ╰─▶   }
         34 │       mixer m1 : t_mixer { volume 0 uL }
            ╰────
    "#,
    );
    assert!(!env.path("bundle").exists());
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
    // The valve that routes the product is not bound; the wash pump's 4.78 mm syringe can
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

/// Issue 20: no driver of a real lab reads SAXS or CD, so a campaign measuring one binds only
/// to the simulated lab; binding its camera to an optical spectrometer is a located error.
#[test]
fn a_saxs_camera_bound_to_an_optical_driver_is_a_located_error() {
    let campaign = check_path(Path::new("examples/fong-2021-saxs.qdx"));
    assert!(campaign.campaign.is_some(), "the SAXS example validates");
    let lab = Path::new("tests/data/labs/saxs-on-ocean.qdx");
    let checked = check_lab(
        &DiskWorld,
        lab,
        "tests/data/labs/saxs-on-ocean.qdx",
        campaign.sources.clone(),
        campaign.campaign.as_ref(),
    );
    assert!(checked.binding.is_none(), "it must not bind");
    let errors: Vec<_> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    insta::assert_snapshot!(render_all(
        &checked.diagnostics,
        &checked.sources,
        Style::Plain
    ));
}

#[test]
fn a_campaign_with_parallel_lines_is_refused_by_a_lab_binding() {
    // The test campaign with its line built twice: the rig binds one instrument per device.
    let text = std::fs::read_to_string(CAMPAIGN)
        .expect("campaign")
        .replace(
            "  p_a, p_b -> m1 -> r1 -> s1 -> waste\n",
            "  p_a, p_b -> m1 -> r1 -> s1 -> waste\n  lines a, b\n",
        );
    let world = qdx::world::MemoryWorld::new()
        .with("campaign.qdx", text.as_str())
        .with(
            "rig.qdx",
            std::fs::read_to_string("tests/data/labs/rig.qdx").expect("rig"),
        );
    let loaded = qdx::load::load(&world, Path::new("campaign.qdx"), "campaign.qdx");
    let campaign = qdx::validate::validate(&loaded, &world);
    assert!(
        campaign.campaign.is_some(),
        "{}",
        render_all(&campaign.diagnostics, &campaign.sources, Style::Plain)
    );
    let checked = check_lab(
        &world,
        Path::new("rig.qdx"),
        "rig.qdx",
        campaign.sources.clone(),
        campaign.campaign.as_ref(),
    );
    assert!(checked.binding.is_none());
    insta::assert_snapshot!(render_all(
        &checked.diagnostics,
        &checked.sources,
        Style::Plain
    ));
}
