//! Every command's stdout, stderr and exit code together, in inline snapshots: its success and
//! its most common failure, run as a user runs it, in a temporary folder (`cli_env`).
//!
//! Most cases run `tiny.qdx` (`tests/data/cli/`): two experiments on the simulated lab, a plan
//! short enough to read whole.

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;

use crate::cli_env::{CliEnv, CliOutput};

/// An environment holding `tiny.qdx`.
fn tiny() -> CliEnv {
    let env = CliEnv::new();
    env.copy("tests/data/cli/tiny.qdx", "tiny.qdx");
    env
}

/// `tiny.qdx` with an unknown name (a typo) and a unit of the wrong kind.
fn broken(env: &CliEnv) {
    let text = env
        .read("tiny.qdx")
        .replace("p_se.rate = total_flow / 2", "p_se.rate = totl_flow / 2")
        .replace("temperature <= 310 degC", "temperature <= 310 mL");
    env.write("broken.qdx", &text);
}

/// A finished run of `tiny.qdx` in `b/`.
fn finished(env: &CliEnv) {
    let out = env.run(&["run", "tiny.qdx", "-q", "--out", "b"]);
    assert_eq!(out.code, Some(0), "{out}");
}

/// A run of `tiny.qdx` in `b/` killed after journal record 20 (the second experiment's flows
/// are set, its spectrum not taken).
fn interrupted(env: &CliEnv) {
    let mut child = env
        .command()
        .args(["run", "tiny.qdx", "-q", "--halt-after", "20", "--out", "b"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qdx starts");
    let mut line = String::new();
    BufReader::new(child.stderr.take().expect("stderr"))
        .read_line(&mut line)
        .expect("a line");
    assert_eq!(
        line,
        "qdx: halted after journal record 20, waiting to be killed\n"
    );
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert!(!env.path("b/manifest.json").exists());
}

// ---------------------------------------------------------------------------------------------
// qdx check

#[test]
fn check_a_clean_campaign() {
    let env = tiny();
    insta::assert_snapshot!(env.run(&["check", "tiny.qdx"]), @r#"
        exit: 0
        --- stdout
        ok: tiny.qdx (campaign "tiny")
        --- stderr
    "#);
}

#[test]
fn check_a_campaign_with_errors() {
    let env = tiny();
    broken(&env);
    insta::assert_snapshot!(env.run(&["check", "broken.qdx"]), @"
    exit: 1
    --- stdout
    --- stderr
    qdx::validate::unknown_name

      × unknown name `totl_flow`
        ╭─[broken.qdx:41:15]
     40 │   p_cd.rate = total_flow / 2
     41 │   p_se.rate = totl_flow / 2
        ·               ────┬────
        ·                   ╰── not a variable, parameter or derived value
     42 │ }
        ╰────
      help: did you mean `total_flow`?

    qdx::validate::unit_mismatch

      × cannot compare an absolute temperature and a volume
        ╭─[broken.qdx:66:3]
     65 │ safety {
     66 │   temperature <= 310 mL
        ·   ─────┬─────    ───┬──
        ·        │            ╰── this is a volume
        ·        ╰── this is an absolute temperature
     67 │   on pump_stall : stop_all, pause
        ╰────
    2 errors, 0 warnings in 1 file
    ");
}

#[test]
fn check_a_campaign_with_a_warning_only() {
    let env = CliEnv::new();
    env.copy("tests/data/warn/no_seed.qdx", "no_seed.qdx");
    insta::assert_snapshot!(env.run(&["check", "no_seed.qdx"]), @r#"
        exit: 0
        --- stdout
        ok: no_seed.qdx (campaign "cdse-small")
        --- stderr
        qdx::validate::no_seed

          ⚠ no seed: runs use seed 0
           ╭─[no_seed.qdx:4:1]
         3 │     
         4 │ ╭─▶ campaign "cdse-small" {
         5 │ │     budget { experiments 30 }
         6 │ ├─▶ }
           · ╰──── this campaign has no `seed`
         7 │     
           ╰────
          help: write `seed 42` (any number) so that the campaign's runs are reproducible by intent
        0 errors, 1 warning in 1 file
    "#);
}

#[test]
fn check_a_missing_file() {
    let env = CliEnv::new();
    insta::assert_snapshot!(env.run(&["check", "no/such/file.qdx"]), @r#"
        exit: 1
        --- stdout
        --- stderr
        qdx::load::read

          × cannot read `no/such/file.qdx`: No such file or directory (os error 2)
          help: check the path; qdx reads campaign files as UTF-8 text
        1 error, 0 warnings in 1 file
    "#);
}

/// Issue 14, item 25: bytes that are not UTF-8 given as a campaign: the error says where the
/// first invalid byte is.
#[test]
fn check_a_file_that_is_not_text() {
    let env = CliEnv::new();
    let mut bytes = b"qdx 1\ncampaign \"x\" {\n  seed 1".to_vec();
    bytes.extend([0xff, 0xfe, 0x00, 0x9c, 0x80]);
    std::fs::write(env.path("random.qdx"), bytes).expect("write");
    insta::assert_snapshot!(env.run(&["check", "random.qdx"]), @r#"
        exit: 1
        --- stdout
        --- stderr
        qdx::load::read

          × cannot read `random.qdx`: not UTF-8 text: the byte 0xff at line 3, column 9 (byte offset 29)
          │ is not valid UTF-8
          help: check the path; qdx reads campaign files as UTF-8 text
        1 error, 0 warnings in 1 file
    "#);
}

#[test]
fn check_format_json() {
    let env = tiny();
    broken(&env);
    let out = env.run(&["check", "--format", "json", "broken.qdx"]);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("valid JSON");
    assert_eq!(report["errors"], 2);
    insta::assert_snapshot!(out, @r#"
    exit: 1
    --- stdout
    {
      "diagnostics": [
        {
          "code": "qdx::validate::unknown_name",
          "column": 15,
          "end": 1160,
          "file": "broken.qdx",
          "help": "did you mean `total_flow`?",
          "labels": [
            {
              "column": 15,
              "end": 1160,
              "file": "broken.qdx",
              "line": 41,
              "message": "not a variable, parameter or derived value",
              "start": 1151
            }
          ],
          "line": 41,
          "message": "unknown name `totl_flow`",
          "notes": [],
          "severity": "error",
          "start": 1151
        },
        {
          "code": "qdx::validate::unit_mismatch",
          "column": 3,
          "end": 1517,
          "file": "broken.qdx",
          "help": null,
          "labels": [
            {
              "column": 3,
              "end": 1517,
              "file": "broken.qdx",
              "line": 66,
              "message": "this is an absolute temperature",
              "start": 1506
            },
            {
              "column": 18,
              "end": 1527,
              "file": "broken.qdx",
              "line": 66,
              "message": "this is a volume",
              "start": 1521
            }
          ],
          "line": 66,
          "message": "cannot compare an absolute temperature and a volume",
          "notes": [],
          "severity": "error",
          "start": 1506
        }
      ],
      "errors": 2,
      "files": [
        "broken.qdx"
      ],
      "warnings": 0
    }
    --- stderr
    "#);
}

#[test]
fn check_format_json_of_a_clean_campaign() {
    let env = tiny();
    insta::assert_snapshot!(env.run(&["check", "--format", "json", "tiny.qdx"]), @r#"
        exit: 0
        --- stdout
        {
          "diagnostics": [],
          "errors": 0,
          "files": [
            "tiny.qdx"
          ],
          "warnings": 0
        }
        --- stderr
    "#);
}

#[test]
fn check_summary() {
    let env = tiny();
    insta::assert_snapshot!(env.run(&["check", "--summary", "tiny.qdx"]), @r#"
    exit: 0
    --- stdout
    ok: tiny.qdx (campaign "tiny")
    campaign "tiny" (language 1, seed 7)
      Two CdSe experiments at two temperatures.
    budget: 2 experiments, stop after 5 experiments in a row fail the same way
    stocks:
      cadmium in p_cd, 0.1 mol/L
      selenium in p_se, 0.1 mol/L
    devices:
      pump p_cd : syringe_pump { max_rate 300 uL/min, min_rate 0.001 uL/min, refill_rate 5 mL/min, syringe 10 mL }
        setting rate in 0.001 uL/min .. 300 uL/min
      pump p_se : syringe_pump { max_rate 300 uL/min, min_rate 0.001 uL/min, refill_rate 5 mL/min, syringe 10 mL }
        setting rate in 0.001 uL/min .. 300 uL/min
      mixer m1 : cross_mixer { volume 1 uL }
      coil r1 : reactor_coil { heater h1, volume 150 uL }
      heater h1 : heater { range 20 degC .. 320 degC, time_constant 60 s }
        setting setpoint in 20 degC .. 320 degC
      cell s1 : flow_cell { path_length 10 mm, spectrometer spec1, volume 2 uL }
      spectrometer spec1 : uv_vis_pl { channels [absorbance, photoluminescence], excitation 405 nm, pixels 1024, range 400 nm .. 750 nm }
      outlet waste : collector {  }
    flow: p_cd -> m1, p_se -> m1, m1 -> r1, r1 -> s1, s1 -> waste
    reactor volume to the cell: 153 uL
    variables:
      residence: 30 s .. 240 s
      temperature: 240 degC .. 300 degC
    derived (proven range over the feasible box):
      h1.setpoint: 240 degC .. 300 degC
      total_flow: 37.5 uL/min .. 300 uL/min
      p_cd.rate: 18.75 uL/min .. 150 uL/min
      p_se.rate: 18.75 uL/min .. 150 uL/min
    measure at s1: steady state after 2 reactor volumes; photoluminescence (100 ms x 2)
      settle within 1 degC for 30 s
    proxies:
      peak [nm] = peak_wavelength(photoluminescence)
    objectives (combine single):
      maximize peak (weight 1)
    optimizer: grid
      levels residence: 60 s
      levels temperature: 260 degC, 280 degC
    safety:
      limit temperature <= 310 degC
      on pump_stall: stop_all, pause
      safe h1 = 25 degC
    simulate cdse_growth [cadmium = cadmium, selenium = selenium]
    files: tiny.qdx (campaign)
    --- stderr
    "#);
}

/// `tiny.qdx` with a proxy read from `script.rhai`.
fn tiny_with_script(script: &str) -> CliEnv {
    let env = tiny();
    let text = env.read("tiny.qdx").replace(
        "  peak = photoluminescence.peak_wavelength()\n",
        "  peak = photoluminescence.peak_wavelength()\n  held = script \"script.rhai\"\n",
    );
    env.write("tiny.qdx", &text);
    env.write("script.rhai", script);
    env
}

#[test]
fn check_stops_a_script_past_the_memory_a_run_allows() {
    let env = tiny_with_script(
        "// Each call holds two more copies of a 99,000-element array (1.6 MB each).\n\
         fn hold(a, n) {\n    let b = a;\n    let c = a;\n    if n == 0 { b.len() + c.len() } else { hold(b, n - 1) }\n}\n\
         let a = [];\na.pad(99000, 1.0);\nhold(a, 30)\n",
    );
    insta::assert_snapshot!(env.run(&["check", "tiny.qdx"]), @"
    exit: 1
    --- stdout
    --- stderr
    qdx::validate::script_limit

      × proxy `held`: in function `hold` (called here): the script's values together grew past its
      │ memory limit of 128 MiB (too many copies of large arrays or strings?)
       ╭─[script.rhai:9:1]
     8 │ a.pad(99000, 1.0);
     9 │ hold(a, 30)
       · ┬
       · ╰── stopped here
       ╰────
      help: `qdx check` ran the script with every variable at the middle of its range; a run has the
            same limit and would stop it the same way
    1 error, 0 warnings in 1 file
    ");
}

/// Issue 14: a name means one thing. `tiny.qdx` with each pump at the derived `total_flow`
/// (their sum is twice it) and a safety limit on `total_flow`: the limit is on the derived
/// value the campaign calls so, not on the sum of the pump rates.
#[test]
fn check_a_safety_limit_on_a_derived_name_limits_that_value() {
    let env = tiny();
    let limited = |limit: &str| {
        env.read("tiny.qdx")
            .replace("p_cd.rate = total_flow / 2", "p_cd.rate = total_flow")
            .replace("p_se.rate = total_flow / 2", "p_se.rate = total_flow")
            .replace(
                "  temperature <= 310 degC\n",
                &format!("  temperature <= 310 degC\n  total_flow <= {limit}\n"),
            )
    };
    env.write("within.qdx", &limited("400 uL/min"));
    insta::assert_snapshot!(env.run(&["check", "within.qdx"]), @r#"
    exit: 0
    --- stdout
    ok: within.qdx (campaign "tiny")
    --- stderr
    "#);
    env.write("above.qdx", &limited("200 uL/min"));
    insta::assert_snapshot!(env.run(&["check", "above.qdx"]), @"
    exit: 1
    --- stdout
    --- stderr
    qdx::validate::out_of_limits

      × `total_flow` can reach 300 uL/min, above 200 uL/min
        ╭─[above.qdx:39:3]
     38 │ derive {
     39 │   total_flow = r1.volume / residence
        ·   ─────────────────┬────────────────
        ·                    ╰── reaches 300 uL/min at residence = 30 s
     40 │   p_cd.rate = total_flow
        ╰────
      help: narrow the variables' ranges, or add a constraint such as `total_flow <= 200 uL/min`

    Advice: qdx::validate::out_of_limits

      ☞ limit from the safety limit `total_flow <= 200 uL/min`
        ╭─[above.qdx:67:3]
     66 │   temperature <= 310 degC
     67 │   total_flow <= 200 uL/min
        ·   ────────────────────────
     68 │   on pump_stall : stop_all, pause
        ╰────
    1 error, 0 warnings in 1 file
    ");
}

#[test]
fn check_stops_a_slow_script_after_two_seconds() {
    // Each `split` builds 65,000 strings: a run would stop this at its 30 s deadline in every
    // experiment.
    let env = tiny_with_script(
        "let s = \"\";\ns.pad(65000, \"y\");\nwhile true { let parts = s.split(\"\"); }\n0\n",
    );
    let started = std::time::Instant::now();
    let out = env.run(&["check", "tiny.qdx"]);
    let took = started.elapsed();
    assert_eq!(out.code, Some(1), "{out}");
    for expected in [
        "qdx::validate::script_limit",
        "proxy `held`: the script did not finish within its time limit of 2 s (a slow loop?)",
        "╭─[script.rhai:3:",
        "after 2 s (a run allows 30 s per evaluation",
    ] {
        assert!(out.stderr.contains(expected), "{expected}: {out}");
    }
    assert!(
        took < std::time::Duration::from_secs(10),
        "check took {took:?}"
    );
}

#[test]
fn check_lab_binds_the_campaign() {
    let env = CliEnv::new();
    env.copy("tests/data/labs", "labs");
    insta::assert_snapshot!(
        env.run(&["check", "--lab", "labs/rig.qdx", "labs/campaign.qdx"]),
        @r#"
        exit: 0
        --- stdout
        ok: labs/campaign.qdx (campaign "rig-check")
        ok: labs/rig.qdx (lab "test-rig") binds every device of labs/campaign.qdx
        --- stderr
    "#,
    );
}

#[test]
fn check_lab_with_a_device_of_the_wrong_kind() {
    let env = CliEnv::new();
    env.copy("tests/data/labs/campaign.qdx", "campaign.qdx");
    env.copy("tests/data/invalid_lab/wrong_role.qdx", "wrong_role.qdx");
    insta::assert_snapshot!(
        env.run(&["check", "--lab", "wrong_role.qdx", "campaign.qdx"]),
        @r#"
        exit: 1
        --- stdout
        ok: campaign.qdx (campaign "rig-check")
        --- stderr
        qdx::lab::wrong_role

          × `h1` is a heater, but `new_era.ne1000` drives a pump
           ╭─[wrong_role.qdx:8:13]
         7 │   bind p_b = new_era.ne1000 { port "/dev/ttyUSB0", address 1, baud 19200, syringe_diameter 4.78 mm }
         8 │   bind h1 = new_era.ne1000 { port "/dev/ttyUSB1", syringe_diameter 4.78 mm }
           ·             ───────┬──────
           ·                    ╰── a pump driver
         9 │   bind spec1 = ocean.flame {
           ╰────
          help: heater drivers: `eurotherm.e2400`, `eurotherm.e3200`, `huber.pilot_one`

        Advice: qdx::lab::wrong_role

          ☞ `h1` is declared here
            ╭─[campaign.qdx:36:3]
         35 │   coil r1 : reactor_coil { volume 2 uL, heater h1 }
         36 │   heater h1 : heater { range 20 degC .. 150 degC, time_constant 1 s }
            ·   ───────────────────────────────────────────────────────────────────
         37 │   cell s1 : flow_cell { volume 0 uL, spectrometer spec1 }
            ╰────
        1 error, 0 warnings in 1 file
    "#,
    );
}

/// Issue 15: `qdx check --lab` proves the route's valve positions are named by the lab, and
/// says where both sides are when one is not.
#[test]
fn check_lab_with_a_route_position_the_lab_does_not_name() {
    let env = CliEnv::new();
    env.copy("tests/data/labs/routed.qdx", "routed.qdx");
    env.copy(
        "tests/data/invalid_lab_valve/unnamed_position.qdx",
        "unnamed.qdx",
    );
    insta::assert_snapshot!(
        env.run(&["check", "--lab", "unnamed.qdx", "routed.qdx"]),
        @r#"
    exit: 1
    --- stdout
    ok: routed.qdx (campaign "rig-route")
    --- stderr
    qdx::lab::unnamed_position

      × the route collects at position 2 of `v1`, which the lab does not name
        ╭─[unnamed.qdx:22:11]
     21 │     positions 6
     22 │     names { waste 1, solvent 3 }
        ·           ───────────┬──────────
        ·                      ╰── names `waste` (1), `solvent` (3)
     23 │   }
        ╰────
      help: name every position the plan turns the valve to, e.g. `sample 2` in `names { … }`

    Advice: qdx::lab::unnamed_position

      ☞ the route turns `v1` to position 2
        ╭─[routed.qdx:62:3]
     61 │   photoluminescence { integration 5 ms, average 2 }
     62 │   route { valve v1, collect 2, waste 1 }
        ·   ──────────────────────────────────────
     63 │ }
        ╰────
    1 error, 0 warnings in 1 file
    "#
    );
}

/// Issue 14, item 17: `qdx check dir/*.qdx` right after `qdx new` checks the lab file as a lab
/// file (on its own: its block, drivers, settings), not as a campaign without a `campaign`
/// block; a lab file's own errors are reported as such.
#[test]
fn check_recognises_a_lab_file() {
    let env = CliEnv::new();
    assert_eq!(env.run(&["new", "my-dots"]).code, Some(0));
    insta::assert_snapshot!(
        env.run(&["check", "my-dots/lab.qdx", "my-dots/my-dots.qdx"]),
        @r#"
        exit: 0
        --- stdout
        ok: my-dots/lab.qdx (lab "my-dots-rig"; `--lab` checks it against a campaign)
        ok: my-dots/my-dots.qdx (campaign "my-dots")
        --- stderr
    "#,
    );
    env.copy(
        "tests/data/invalid_lab/unknown_driver.qdx",
        "unknown_driver.qdx",
    );
    insta::assert_snapshot!(env.run(&["check", "unknown_driver.qdx"]), @r#"
        exit: 1
        --- stdout
        --- stderr
        qdx::lab::unknown_driver

          × unknown driver kind `new_era.ne100`
           ╭─[unknown_driver.qdx:6:14]
         5 │ lab "test-rig" {
         6 │   bind p_a = new_era.ne100 { port "/dev/ttyUSB0", address 0, baud 19200, syringe_diameter 4.78 mm }
           ·              ──────┬──────
           ·                    ╰── no such driver
         7 │   bind p_b = new_era.ne1000 { port "/dev/ttyUSB0", address 1, baud 19200, syringe_diameter 4.78 mm }
           ╰────
          help: did you mean `new_era.ne1000`?
        1 error, 0 warnings in 1 file
    "#);
}

/// Issue 14, item 28: a campaign named up the tree (`../camp/x.qdx`, from a sibling folder)
/// reaches the script in its own folder: `check`, `run` and `replay` (of `../runs/x`) work; a
/// symbolic link that leads out of the campaign's folder is still refused.
#[cfg(unix)]
#[test]
fn a_campaign_up_the_tree_reaches_its_own_script() {
    let env = CliEnv::new();
    env.copy("examples/cspbx3-orange.qdx", "camp/cspbx3-orange.qdx");
    env.copy("examples/proxies", "camp/proxies");
    std::fs::create_dir(env.path("work")).expect("mkdir");
    let in_work = |args: &[&str]| {
        let out = env
            .command()
            .current_dir(env.path("work"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("qdx runs");
        env.output(&out)
    };
    insta::assert_snapshot!(in_work(&["check", "../camp/cspbx3-orange.qdx"]), @r#"
        exit: 0
        --- stdout
        ok: ../camp/cspbx3-orange.qdx (campaign "cspbx3-orange-600nm")
        --- stderr
    "#);
    let run = in_work(&[
        "run",
        "../camp/cspbx3-orange.qdx",
        "-q",
        "--out",
        "../runs/x",
    ]);
    assert_eq!(run.code, Some(0), "{run}");
    insta::assert_snapshot!(in_work(&["replay", "../runs/x"]), @r#"
        exit: 0
        --- stdout
        ok: every optimizer decision follows from the journaled measurements
        ok: the replay reproduces every decision and measurement of ../runs/x
        --- stderr
    "#);
    env.write("secret.rhai", "1.0");
    std::os::unix::fs::symlink("../../secret.rhai", env.path("camp/proxies/link.rhai"))
        .expect("symlink");
    env.write(
        "camp/escape.qdx",
        &env.read("camp/cspbx3-orange.qdx")
            .replace("proxies/score.rhai", "proxies/link.rhai"),
    );
    insta::assert_snapshot!(in_work(&["check", "../camp/escape.qdx"]), @r#"
        exit: 1
        --- stdout
        --- stderr
        qdx::load::outside_folder

          × the script path leads outside the campaign's folder
            ╭─[../camp/escape.qdx:88:18]
         87 │   plqy = relative_plqy(photoluminescence, absorbance, excitation: 365 nm, reference: std.reference.quinine_sulfate)
         88 │   score = script "proxies/link.rhai"
            ·                  ─────────┬─────────
            ·                           ╰── outside the campaign's folder tree
         89 │ }
            ╰────
          help: campaign files are shared between labs: keep every file they use inside the campaign's
                folder
        1 error, 0 warnings in 1 file
    "#);
}

// ---------------------------------------------------------------------------------------------
// qdx fmt

const MESSY: &str = "qdx 1\ncampaign   \"x\"{seed 1}  // keep me\n";

#[test]
fn fmt_reformats_a_file() {
    let env = CliEnv::new();
    env.write("messy.qdx", MESSY);
    insta::assert_snapshot!(env.run(&["fmt", "messy.qdx"]), @r#"
        exit: 0
        --- stdout
        formatted messy.qdx
        --- stderr
    "#);
    assert_eq!(
        env.read("messy.qdx"),
        "qdx 1\n\ncampaign \"x\" {\n  seed 1\n} // keep me\n"
    );
    // Formatted already: nothing to say.
    insta::assert_snapshot!(env.run(&["fmt", "messy.qdx"]), @r#"
        exit: 0
        --- stdout
        --- stderr
    "#);
}

#[test]
fn fmt_check_finds_a_difference() {
    let env = CliEnv::new();
    env.write("messy.qdx", MESSY);
    insta::assert_snapshot!(env.run(&["fmt", "--check", "messy.qdx"]), @r#"
        exit: 1
        --- stdout
        would reformat messy.qdx
        --- stderr
    "#);
    assert_eq!(env.read("messy.qdx"), MESSY, "--check changes nothing");
}

#[test]
fn fmt_leaves_a_file_with_a_syntax_error() {
    let env = CliEnv::new();
    env.write("broken.qdx", "qdx 1\nstocks {\n");
    insta::assert_snapshot!(env.run(&["fmt", "broken.qdx"]), @r#"
        exit: 1
        --- stdout
        --- stderr
        qdx::syntax::unexpected_end

          × the file ends too early
           ╭─[broken.qdx:2:8]
         1 │ qdx 1
         2 │ stocks {
           ·        ┬┬
           ·        │╰── expected `}` after this
           ·        ╰── this `{` is never closed
           ╰────
          help: add the missing `}`
    "#);
    assert_eq!(env.read("broken.qdx"), "qdx 1\nstocks {\n");
}

/// `fmt` goes on past a file it cannot read, and says so after.
#[test]
fn fmt_goes_on_past_a_file_it_cannot_read() {
    let env = CliEnv::new();
    env.write("messy.qdx", MESSY);
    insta::assert_snapshot!(env.run(&["fmt", "missing.qdx", "messy.qdx"]), @r#"
        exit: 1
        --- stdout
        formatted messy.qdx
        --- stderr
        error: cannot read `missing.qdx`: No such file or directory (os error 2)
    "#);
}

// ---------------------------------------------------------------------------------------------
// qdx new

#[test]
fn new_creates_a_campaign_folder() {
    let env = CliEnv::new();
    insta::assert_snapshot!(env.run(&["new", "my-dots"]), @r#"
        exit: 0
        --- stdout
        created ./my-dots/
          my-dots.qdx   the campaign: reactor, variables, proxies, objectives, optimizer
          lab.qdx      the hardware binding for your rig (edit the ports)
        next: qdx check ./my-dots/my-dots.qdx
        --- stderr
    "#);
    assert!(env.path("my-dots/my-dots.qdx").is_file());
    assert!(env.path("my-dots/lab.qdx").is_file());
    // What it says to do next works.
    insta::assert_snapshot!(env.run(&["check", "./my-dots/my-dots.qdx"]), @r#"
        exit: 0
        --- stdout
        ok: ./my-dots/my-dots.qdx (campaign "my-dots")
        --- stderr
    "#);
}

#[test]
fn new_refuses_an_existing_folder() {
    let env = CliEnv::new();
    env.write("my-dots/notes.txt", "mine");
    insta::assert_snapshot!(env.run(&["new", "my-dots"]), @r#"
        exit: 1
        --- stdout
        --- stderr
        error: ./my-dots already exists; qdx new never overwrites files
    "#);
    assert_eq!(env.read("my-dots/notes.txt"), "mine");
    assert!(!env.path("my-dots/my-dots.qdx").exists());
}

#[test]
fn new_refuses_a_name_that_is_not_a_folder_name() {
    let env = CliEnv::new();
    insta::assert_snapshot!(env.run(&["new", "../escape"]), @r#"
        exit: 1
        --- stdout
        --- stderr
        error: `../escape` is not a usable campaign name: use letters, digits, `-` and `_`
    "#);
    assert!(
        !env.root()
            .parent()
            .expect("a parent")
            .join("escape")
            .exists()
    );
}

// ---------------------------------------------------------------------------------------------
// qdx plan

#[test]
fn plan_text() {
    let env = tiny();
    insta::assert_snapshot!(env.run(&["plan", "tiny.qdx"]), @r#"
    exit: 0
    --- stdout
    plan of "tiny" (2 experiments, grid)

    the first experiment, step by step:
      1. change the temperature; pumps rest meanwhile (what flows before it settles is off-target)
           set h1 to 260 degC
      2. wait for the temperature to settle
           wait until h1 is within 1 degC of its setpoint for 30 s
      3. apply the experiment's flows (independent devices in parallel)
           set p_cd to 75 uL/min
           set p_se to 75 uL/min
      4. steady state before measuring: 2 reactor volumes, one being the time the slowest stream takes from its pump through the cell at these rates
           wait 2 × 61.2 s = 122.4 s at 150 uL/min in all
      5. measure: each replicate reads every channel
           acquire photoluminescence on spec1 (100 ms x 2, replicate 0)
      estimated 8 min

    one experiment takes 5.5 min .. 8 min (median 8 min)
    the design runs in 13.5 min in run order (13.5 min in the order it was written; ordering saves 0 s)
    reagent per stock (largest experiment, whole campaign):
      cadmium: 0.153 mL, 0.307 mL
      selenium: 0.153 mL, 0.307 mL
    refills: 0
    --- stderr
    "#);
}

/// With parallel lines the two experiments of the grid run at the same time, one per line.
#[test]
fn plan_on_parallel_lines() {
    let env = tiny();
    let text = env.read("tiny.qdx").replace(
        "  p_cd, p_se -> m1 -> r1 -> s1 -> waste\n",
        "  p_cd, p_se -> m1 -> r1 -> s1 -> waste\n  lines a, b\n",
    );
    env.write("lines.qdx", &text);
    insta::assert_snapshot!(env.run(&["plan", "lines.qdx"]), @r#"
    exit: 0
    --- stdout
    plan of "tiny" (2 experiments, grid)

    the first experiment, step by step:
      1. change the temperature; pumps rest meanwhile (what flows before it settles is off-target)
           set h1 to 260 degC
      2. wait for the temperature to settle
           wait until h1 is within 1 degC of its setpoint for 30 s
      3. apply the experiment's flows (independent devices in parallel)
           set p_cd to 75 uL/min
           set p_se to 75 uL/min
      4. steady state before measuring: 2 reactor volumes, one being the time the slowest stream takes from its pump through the cell at these rates
           wait 2 × 61.2 s = 122.4 s at 150 uL/min in all
      5. measure: each replicate reads every channel
           acquire photoluminescence on spec1 (100 ms x 2, replicate 0)
      estimated 8 min

    one experiment takes 8 min .. 8.1 min (median 8.1 min)
    2 parallel lines (`a`, `b`) run one experiment each per batch, at the same time: the campaign is estimated at 8.1 min for 2 experiments
    reagent per stock (largest experiment, whole campaign):
      cadmium: 0.153 mL, 0.307 mL
      selenium: 0.153 mL, 0.307 mL
    refills: 0
    --- stderr
    "#);
}

#[test]
fn plan_json() {
    let env = tiny();
    let out = env.run(&["plan", "--format", "json", "tiny.qdx"]);
    let _: serde_json::Value = serde_json::from_str(&out.stdout).expect("valid JSON");
    insta::assert_snapshot!(out, @r#"
    exit: 0
    --- stdout
    {
      "campaign": "tiny",
      "design": {
        "makespan [s]": 812.819067261889,
        "makespan_unordered [s]": 812.819067261889,
        "points": [
          {
            "residence [s]": 60.0,
            "temperature [degC]": 260.0
          },
          {
            "residence [s]": 60.0,
            "temperature [degC]": 280.0
          }
        ]
      },
      "duration [s]": {
        "max": 480.3251308486496,
        "median": 480.3251308486496,
        "min": 332.4939364132395
      },
      "example": {
        "estimated_duration [s]": 480.3251308486496,
        "experiment": 0,
        "notes": [],
        "reagent [mL]": {
          "cadmium": 0.153375,
          "selenium": 0.153375
        },
        "settings": {
          "h1.setpoint [degC]": 260.0,
          "p_cd.rate [uL/min]": 75.0,
          "p_se.rate [uL/min]": 75.0
        },
        "steps": [
          {
            "operations": [
              {
                "command": "set_setpoint",
                "device": "h1",
                "setpoint [degC]": 260.0
              }
            ],
            "why": "change the temperature; pumps rest meanwhile (what flows before it settles is off-target)"
          },
          {
            "operations": [
              {
                "device": "h1",
                "hold [s]": 30.0,
                "wait": "thermal",
                "within [K]": 1.0
              }
            ],
            "why": "wait for the temperature to settle"
          },
          {
            "operations": [
              {
                "command": "set_rate",
                "device": "p_cd",
                "rate [uL/min]": 75.0
              },
              {
                "command": "set_rate",
                "device": "p_se",
                "rate [uL/min]": 75.0
              }
            ],
            "why": "apply the experiment's flows (independent devices in parallel)"
          },
          {
            "operations": [
              {
                "extra [s]": 0.0,
                "reactor_volumes": 2.0,
                "residence [s]": 61.2,
                "total_flow [uL/min]": 150.0,
                "wait": "steady_state"
              }
            ],
            "why": "steady state before measuring: 2 reactor volumes, one being the time the slowest stream takes from its pump through the cell at these rates"
          },
          {
            "operations": [
              {
                "averages": 2,
                "command": "acquire",
                "device": "spec1",
                "illumination": "excitation",
                "integration [ms]": 100.0,
                "replicate": 0
              }
            ],
            "why": "measure: each replicate reads every channel"
          }
        ],
        "variables": {
          "residence [s]": 60.0,
          "temperature [degC]": 260.0
        }
      },
      "experiments": 2,
      "reagent [mL]": {
        "cadmium": {
          "per_experiment_max": 0.153375,
          "total": 0.30675
        },
        "selenium": {
          "per_experiment_max": 0.153375,
          "total": 0.30675
        }
      },
      "refill_schedule": [],
      "refills": 0,
      "strategy": "grid",
      "total_time [s]": 812.819067261889,
      "warnings": []
    }
    --- stderr
    "#);
}

#[test]
fn plan_dot() {
    let env = tiny();
    insta::assert_snapshot!(env.run(&["plan", "--format", "dot", "tiny.qdx"]), @r#"
    exit: 0
    --- stdout
    digraph experiment {
      rankdir=TB;
      node [shape=box, fontname="Helvetica"];
      start [shape=circle, label=""];
      subgraph cluster_0 {
        label="change the temperature; pumps rest meanwhile (what flows before it settles is off-target)";
        style=rounded;
        s0o0 [label="set h1 to 260 degC", shape=box];
      }
      start -> s0o0;
      subgraph cluster_1 {
        label="wait for the temperature to settle";
        style=rounded;
        s1o0 [label="wait until h1 is within 1 degC of its setpoint for 30 s", shape=ellipse];
      }
      s0o0 -> s1o0;
      subgraph cluster_2 {
        label="apply the experiment's flows (independent devices in parallel)";
        style=rounded;
        s2o0 [label="set p_cd to 75 uL/min", shape=box];
        s2o1 [label="set p_se to 75 uL/min", shape=box];
      }
      s1o0 -> s2o0;
      s1o0 -> s2o1;
      subgraph cluster_3 {
        label="steady state before measuring: 2 reactor volumes, one being the time the slowest stream takes from its pump through the cell at these rates";
        style=rounded;
        s3o0 [label="wait 2 × 61.2 s = 122.4 s at 150 uL/min in all", shape=ellipse];
      }
      s2o0 -> s3o0;
      s2o1 -> s3o0;
      subgraph cluster_4 {
        label="measure: each replicate reads every channel";
        style=rounded;
        s4o0 [label="acquire photoluminescence on spec1 (100 ms x 2, replicate 0)", shape=note];
      }
      s3o0 -> s4o0;
    }
    --- stderr
    "#);
}

#[test]
fn plan_refused_by_a_time_budget() {
    let env = tiny();
    env.write(
        "over.qdx",
        &env.read("tiny.qdx").replace(
            "budget { experiments 2 }",
            "budget { experiments 2, time 10 min }",
        ),
    );
    insta::assert_snapshot!(env.run(&["plan", "over.qdx"]), @r#"
        exit: 1
        --- stdout
        --- stderr
        qdx::plan::time_budget

          × the campaign is estimated to take 13.5 min, above its time budget of 10 min
            ╭─[over.qdx:9:32]
          8 │   seed 7
          9 │   budget { experiments 2, time 10 min }
            ·                                ───┬──
            ·                                   ╰── time budget
         10 │ }
            ╰────
          help: raise the budget, cut experiments, or shorten the waits
    "#);
}

#[test]
fn plan_of_a_campaign_with_errors() {
    let env = tiny();
    broken(&env);
    let out = env.run(&["plan", "broken.qdx"]);
    assert_eq!(out.code, Some(1));
    assert_eq!(
        out.stderr,
        env.run(&["check", "broken.qdx"])
            .stderr
            .replace("2 errors, 0 warnings in 1 file\n", ""),
        "plan shows check's diagnostics"
    );
    assert_eq!(out.stdout, "");
}

// ---------------------------------------------------------------------------------------------
// qdx run

#[test]
fn run_a_small_campaign() {
    let env = tiny();
    insta::assert_snapshot!(env.run(&["run", "tiny.qdx"]), @r#"
    exit: 0
    --- stdout
    2 experiments (0 failed or skipped) in 13.7 min of lab time; stopped: the experiment budget (2) is spent
    bundle: runs/tiny-1
      observations.csv   one row per experiment (pandas: pd.read_csv("…/observations.csv"))
      datapackage.json   every table's columns, types and units (Python: qdx.load("…"))
      spectra.csv        the spectrum files of each experiment
      report.html        plots of the campaign
      journal.jsonl      every event, in order
      spectra/           raw spectra, CSV: the axis (wavelength or q), then the values
      optimizer/         every suggestion with the model's explanation
      manifest.json      SHA-256 of every file (check with `qdx verify`)
    --- stderr
    experiment 0 (1/2) ok · residence 60 s, temperature 260 degC · peak 432.2 nm · best score 4.322e-7
    experiment 1 (2/2) ok · residence 60 s, temperature 280 degC · peak 472 nm · best score 4.72e-7
    "#);
    assert!(env.path("runs/tiny-1/manifest.json").is_file());
    // The next run takes the next folder.
    let again = env.run(&["run", "tiny.qdx", "-q"]);
    assert_eq!(again.code, Some(0), "{again}");
    assert!(again.stdout.contains("bundle: runs/tiny-2\n"), "{again}");
}

#[test]
fn run_refuses_an_out_that_exists() {
    let env = tiny();
    env.write("b/notes.txt", "mine");
    insta::assert_snapshot!(env.run(&["run", "tiny.qdx", "--out", "b"]), @r#"
        exit: 1
        --- stdout
        --- stderr
        error: b already exists; a run never overwrites a bundle (name another --out)
    "#);
    assert_eq!(env.read("b/notes.txt"), "mine");
    assert!(!env.path("b/journal.jsonl").exists());
}

/// An `--out` that is a bundle: `qdx resume` may be what was meant.
#[test]
fn run_refuses_an_out_that_is_a_bundle() {
    let env = tiny();
    finished(&env);
    insta::assert_snapshot!(env.run(&["run", "tiny.qdx", "--out", "b"]), @r#"
        exit: 1
        --- stdout
        --- stderr
        error: b already exists; a run never overwrites a bundle (name another --out, or `qdx resume b` to go on with that run)
    "#);
}

#[test]
fn run_refuses_a_plan_over_its_budget() {
    let env = tiny();
    env.write(
        "over.qdx",
        &env.read("tiny.qdx").replace(
            "budget { experiments 2 }",
            "budget { experiments 2, reagent cadmium 0.2 mL }",
        ),
    );
    insta::assert_snapshot!(env.run(&["run", "over.qdx", "--out", "b"]), @r#"
        exit: 1
        --- stdout
        --- stderr
        qdx::plan::reagent_budget

          × 0.307 mL of `cadmium` is planned, above its budget of 0.2 mL
            ╭─[over.qdx:9:35]
          8 │   seed 7
          9 │   budget { experiments 2, reagent cadmium 0.2 mL }
            ·                                   ───┬───
            ·                                      ╰── budget
         10 │ }
            ╰────
          help: the design is fixed: raise the budget or remove experiments
    "#);
    assert!(!env.path("b").exists());
}

// ---------------------------------------------------------------------------------------------
// qdx resume

#[test]
fn resume_an_interrupted_run() {
    let env = tiny();
    interrupted(&env);
    insta::assert_snapshot!(env.run(&["resume", "b"]), @r#"
    exit: 0
    --- stdout
    resumed.
    2 experiments (0 failed or skipped) in 13.7 min of lab time; stopped: the experiment budget (2) is spent
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
    experiment 1 (2/2) ok · residence 60 s, temperature 280 degC · peak 472 nm · best score 4.72e-7
    "#);
    assert_eq!(env.run(&["verify", "b"]).code, Some(0));
}

#[test]
fn resume_a_finished_run() {
    let env = tiny();
    finished(&env);
    insta::assert_snapshot!(env.run(&["resume", "b"]), @r#"
        exit: 0
        --- stdout
        the run in b is finished and its bundle complete: nothing to resume (`qdx verify` checks it)
        --- stderr
    "#);
}

#[test]
fn resume_a_folder_that_is_not_a_bundle() {
    let env = tiny();
    env.write("notes/today.txt", "mine");
    insta::assert_snapshot!(env.run(&["resume", "notes"]), @r#"
        exit: 1
        --- stdout
        --- stderr
        error: notes holds no journal.jsonl (is it a qdx bundle?)
    "#);
    assert_eq!(
        std::fs::read_dir(env.path("notes")).expect("dir").count(),
        1
    );
}

/// A file (here the campaign itself) is not a bundle either.
#[test]
fn resume_a_file_that_is_not_a_bundle() {
    let env = tiny();
    insta::assert_snapshot!(env.run(&["resume", "tiny.qdx"]), @r#"
        exit: 1
        --- stdout
        --- stderr
        error: tiny.qdx holds no journal.jsonl (is it a qdx bundle?)
    "#);
}

// ---------------------------------------------------------------------------------------------
// qdx verify

#[test]
fn verify_a_clean_bundle() {
    let mut env = tiny();
    finished(&env);
    env.normalize_bundle_id("b");
    insta::assert_snapshot!(env.run(&["verify", "b"]), @"
    exit: 0
    --- stdout
    ok: 12 files match the manifest of b (bundle $BUNDLE_ID)
    --- stderr
    ");
}

#[test]
fn verify_an_edited_file() {
    let env = tiny();
    finished(&env);
    let edited = env.read("b/observations.csv") + "1,2,3\n";
    env.write("b/observations.csv", &edited);
    insta::assert_snapshot!(env.run(&["verify", "b"]), @r#"
        exit: 1
        --- stdout
        --- stderr
        error: observations.csv: differs from the manifest (SHA-256 mismatch)
        1 problem in b
    "#);
}

#[test]
fn verify_an_interrupted_bundle() {
    let env = tiny();
    interrupted(&env);
    insta::assert_snapshot!(env.run(&["verify", "b"]), @r#"
        exit: 1
        --- stdout
        --- stderr
        error: the bundle b is not complete: its run is going on, was interrupted, or was cut short while writing the bundle; `qdx resume b` completes it
    "#);
}

#[test]
fn verify_a_folder_that_is_not_a_bundle() {
    let env = tiny();
    env.write("notes/today.txt", "mine");
    insta::assert_snapshot!(env.run(&["verify", "notes"]), @r#"
        exit: 1
        --- stdout
        --- stderr
        error: notes holds no manifest.json (is it a qdx bundle?)
    "#);
    insta::assert_snapshot!(env.run(&["verify", "tiny.qdx"]), @r#"
        exit: 1
        --- stdout
        --- stderr
        error: tiny.qdx holds no manifest.json (is it a qdx bundle?)
    "#);
}

// ---------------------------------------------------------------------------------------------
// qdx replay

#[test]
fn replay_a_clean_bundle() {
    let env = tiny();
    finished(&env);
    insta::assert_snapshot!(env.run(&["replay", "b"]), @r#"
        exit: 0
        --- stdout
        ok: every optimizer decision follows from the journaled measurements
        ok: the replay reproduces every decision and measurement of b
        --- stderr
    "#);
}

#[test]
fn replay_finds_a_difference() {
    let env = tiny();
    finished(&env);
    let spectrum = "b/spectra/e0001-photoluminescence-r0.csv";
    let edited = env.read(spectrum).replacen(',', ",1", 1);
    env.write(spectrum, &edited);
    insta::assert_snapshot!(env.run(&["replay", "b"]), @r#"
        exit: 1
        --- stdout
        ok: every optimizer decision follows from the journaled measurements
        differs: spectra/e0001-photoluminescence-r0.csv has different content
        --- stderr
    "#);
}

// ---------------------------------------------------------------------------------------------
// qdx lab probe

/// The test rig's lab file with these ports.
fn rig_lab(env: &CliEnv, ports: [&str; 3]) {
    let text = env
        .read("labs/rig.qdx")
        .replace("/dev/ttyUSB0", ports[0])
        .replace("/dev/ttyUSB1", ports[1])
        .replace("/dev/ttyUSB2", ports[2]);
    env.write("lab.qdx", &text);
}

#[cfg(unix)]
#[test]
fn lab_probe_of_emulated_instruments() {
    let rig = crate::hardware::pty::PtyRig::start(None);
    let env = CliEnv::new();
    env.copy("tests/data/labs", "labs");
    // Links with fixed names to the ptys, so the table is the same whatever ptys the system
    // hands out.
    let names = ["pumps", "heater", "spectrometer"];
    for (name, pty) in names.iter().zip(&rig.paths) {
        std::os::unix::fs::symlink(pty, env.path(name)).expect("symlink");
    }
    rig_lab(&env, names);
    insta::assert_snapshot!(
        env.run(&["lab", "probe", "lab.qdx", "--campaign", "labs/campaign.qdx"]),
        @r#"
        exit: 0
        --- stdout
        lab "test-rig"

        device  driver           port          identity                                     status
        p_a     new_era.ne1000   pumps         New Era Pump Systems NE1000, firmware 3.928  stopped, infuse, rate 1 mL/min
        p_b     new_era.ne1000   pumps         New Era Pump Systems NE1000, firmware 3.928  stopped, infuse, rate 1 mL/min
        h1      eurotherm.e3200  heater        Eurotherm 3200 series (Modbus RTU)           25.0 °C, setpoint 25.0 °C
        spec1   ocean.flame      spectrometer  Ocean Optics Flame-S, firmware 3.01.0        ready

        all 4 devices answered
        --- stderr
    "#,
    );
}

/// Issue 15: a stall left pending on a New Era pump from earlier use is reported by the probe
/// (instruments.md A1), not acknowledged silently by its first command.
#[cfg(unix)]
#[test]
fn lab_probe_reports_an_alarm_left_pending_on_a_pump() {
    let rig = crate::hardware::pty::PtyRig::start(None);
    rig.rig.pumps.with_device(|d| {
        if let Some(p) = d.inner.pumps.get_mut(&1) {
            p.alarm = Some(b'S');
        }
    });
    let env = CliEnv::new();
    env.copy("tests/data/labs", "labs");
    let names = ["pumps", "heater", "spectrometer"];
    for (name, pty) in names.iter().zip(&rig.paths) {
        std::os::unix::fs::symlink(pty, env.path(name)).expect("symlink");
    }
    rig_lab(&env, names);
    insta::assert_snapshot!(env.run(&["lab", "probe", "lab.qdx"]), @r#"
    exit: 1
    --- stdout
    lab "test-rig"

    device  driver           port          identity                                                                                                                                                                status
    p_a     new_era.ne1000   pumps         New Era Pump Systems NE1000, firmware 3.928                                                                                                                             stopped, infuse, rate 1 mL/min
    p_b     new_era.ne1000   pumps         error: cannot connect: alarm: motor stalled (alarm S) was pending when the session began (left from earlier use, acknowledged now): check the pump, then connect again  failed
    h1      eurotherm.e3200  heater        Eurotherm 3200 series (Modbus RTU)                                                                                                                                      25.0 °C, setpoint 25.0 °C
    spec1   ocean.flame      spectrometer  Ocean Optics Flame-S, firmware 3.01.0                                                                                                                                   ready

    1 of 4 devices failed
    --- stderr
    "#);
    // The same probe for programs (issue 17): one object, each device's answer or error. The
    // first probe acknowledged the alarm; it is left pending again.
    rig.rig.pumps.with_device(|d| {
        if let Some(p) = d.inner.pumps.get_mut(&1) {
            p.alarm = Some(b'S');
        }
    });
    let out = env.run(&["lab", "probe", "lab.qdx", "--format", "json"]);
    assert_eq!(out.code, Some(1), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(
        (v["lab"].clone(), v["ok"].clone()),
        ("test-rig".into(), false.into())
    );
    let devices = v["devices"].as_array().expect("devices");
    let oks: Vec<(&str, bool)> = devices
        .iter()
        .map(|d| (d["device"].as_str().expect("name"), d["ok"] == true))
        .collect();
    assert_eq!(
        oks,
        [("p_a", true), ("p_b", false), ("h1", true), ("spec1", true)]
    );
    let p_b = &devices[1];
    assert!(
        p_b["error"].as_str().is_some_and(|e| e.contains("alarm S")),
        "{p_b}"
    );
    assert_eq!(p_b["identity"], serde_json::Value::Null);
    assert_eq!(devices[2]["status"], "25.0 °C, setpoint 25.0 °C");
}

#[test]
fn lab_probe_of_ports_that_do_not_exist() {
    let env = CliEnv::new();
    env.copy("tests/data/labs", "labs");
    rig_lab(
        &env,
        [
            "/dev/qdx-test-missing-0",
            "/dev/qdx-test-missing-1",
            "/dev/qdx-test-missing-2",
        ],
    );
    insta::assert_snapshot!(env.run(&["lab", "probe", "lab.qdx"]), @r#"
        exit: 1
        --- stdout
        lab "test-rig"

        device  driver           port                     identity                                                                                          status
        p_a     new_era.ne1000   /dev/qdx-test-missing-0  error: cannot connect: i/o error: cannot open /dev/qdx-test-missing-0: No such file or directory  failed
        p_b     new_era.ne1000   /dev/qdx-test-missing-0  error: cannot connect: i/o error: cannot open /dev/qdx-test-missing-0: No such file or directory  failed
        h1      eurotherm.e3200  /dev/qdx-test-missing-1  error: cannot connect: i/o error: cannot open /dev/qdx-test-missing-1: No such file or directory  failed
        spec1   ocean.flame      /dev/qdx-test-missing-2  error: cannot connect: i/o error: cannot open /dev/qdx-test-missing-2: No such file or directory  failed

        4 of 4 devices failed
        --- stderr
    "#);
}

// ---------------------------------------------------------------------------------------------
// usage

#[test]
fn help() {
    let env = CliEnv::new();
    insta::assert_snapshot!(env.run(&["--help"]), @"
    exit: 0
    --- stdout
    An experiment language for self-driving quantum-dot flow labs

    Usage: qdx [OPTIONS] <COMMAND>

    Commands:
      check        Check campaign files and report every error at once
      fmt          Format files in the canonical style (comments kept), or check that they are
      plan         Show what a campaign will do: operations, waits, reagent, refills, time
      run          Run a campaign (on the simulated lab unless --lab names a hardware binding)
      resume       Continue an interrupted run from its bundle: no experiment repeated, none lost
      verify       Check every file of a bundle against its manifest
      replay       Re-run a bundle's campaign with its seed on the simulated lab and report any difference
      report       Render a bundle's report again (from its stored campaign and journal alone)
      lsp          Run the language server for editors, on standard input and output
      completions  Print a completion script for a shell (bash, zsh, fish, elvish, powershell)
      man          Print the manual page (roff; `qdx man > qdx.1 && man ./qdx.1`)
      lab          Work with lab binding files
      new          Create a new campaign folder with a campaign and a lab file that check clean
      help         Print this message or the help of the given subcommand(s)

    Options:
          --no-color  Never colour the output
      -h, --help      Print help
      -V, --version   Print version

    Exit codes:
      0      success
      1      the input has errors (campaign, lab file, an argument's value that qdx refuses), or
             verify/replay/fmt --check found a difference
      2      usage error (unknown command or option, missing argument, a value of the wrong form:
             `--seed abc`, `--format xml`)
      3      qdx could not finish its job: a hardware fault stopped the run, I/O (disk full), a
             corrupt or edited bundle, a bundle in use by another qdx, an internal error
      4      the run ended without a single successful experiment, or gave up after too many
             consecutive identical failures
      128+n  a signal ended the run once the lab was in its safe state: 130 SIGINT (Ctrl-C),
             143 SIGTERM, 129 SIGHUP; `qdx resume` goes on
    --- stderr
    ");
}

#[test]
fn version() {
    let env = CliEnv::new();
    let out = env.run(&["--version"]);
    insta::assert_snapshot!(out, @r#"
        exit: 0
        --- stdout
        qdx $VERSION
        --- stderr
    "#);
}

#[test]
fn an_unknown_subcommand_is_a_usage_error() {
    let env = CliEnv::new();
    insta::assert_snapshot!(env.run(&["frobnicate"]), @r#"
        exit: 2
        --- stdout
        --- stderr
        error: unrecognized subcommand 'frobnicate'

        Usage: qdx [OPTIONS] <COMMAND>

        For more information, try '--help'.
    "#);
}

#[test]
fn a_missing_argument_is_a_usage_error() {
    let env = CliEnv::new();
    insta::assert_snapshot!(env.run(&["run"]), @r#"
        exit: 2
        --- stdout
        --- stderr
        error: the following required arguments were not provided:
          <FILE>

        Usage: qdx run <FILE>

        For more information, try '--help'.
    "#);
}

#[test]
fn an_unknown_option_is_a_usage_error() {
    let env = tiny();
    insta::assert_snapshot!(env.run(&["check", "--colour", "tiny.qdx"]), @r#"
        exit: 2
        --- stdout
        --- stderr
        error: unexpected argument '--colour' found

          tip: to pass '--colour' as a value, use '-- --colour'

        Usage: qdx check [OPTIONS] <FILES>...

        For more information, try '--help'.
    "#);
}

/// The `Display` of an output, which every snapshot above relies on.
#[test]
fn an_output_shows_its_exit_code_and_both_streams() {
    let out = CliOutput {
        code: Some(3),
        signal: None,
        stdout: "out\n".into(),
        stderr: "no newline".into(),
    };
    assert_eq!(
        out.to_string(),
        "exit: 3\n--- stdout\nout\n--- stderr\nno newline\n[no newline at the end]\n"
    );
}

/// Issue 17: `qdx report` renders a bundle again from its stored campaign and journal: the
/// HTML is the page the run wrote, byte for byte; JSON and Markdown give the same facts.
#[test]
fn report_renders_a_bundle_again_in_three_forms() {
    let env = tiny();
    let ran = env.run(&["run", "tiny.qdx", "-q", "--out", "b"]);
    assert_eq!(ran.code, Some(0), "{ran}");
    let html = env.run(&["report", "b"]);
    assert_eq!(html.code, Some(0), "{html}");
    assert_eq!(html.stdout, env.read("b/report.html"));
    insta::assert_snapshot!(env.run(&["report", "b", "--format", "md"]), @"
    exit: 0
    --- stdout
    # tiny

    Two CdSe experiments at two temperatures.

    2 experiments (2 succeeded, 0 failed or skipped) · optimizer `grid` · seed 7

    Stopped: the experiment budget (2) is spent

    ## Best experiments

    | experiment | objective | residence [s] | temperature [degC] | peak [nm] |
    |---|---|---|---|---|
    | 1 | 4.72e-7 | 60 | 280 | 472 |
    | 0 | 4.322e-7 | 60 | 260 | 432.2 |

    Spectra of every experiment are in `spectra/`; all values in `observations.csv`.
    --- stderr
    ");
    let json = env.run(&["report", "b", "--format", "json", "--out", "report.json"]);
    assert_eq!((json.code, json.stdout.as_str()), (Some(0), ""), "{json}");
    let v: serde_json::Value = serde_json::from_str(&env.read("report.json")).expect("json");
    assert_eq!(v["qdx_report"], 1);
    assert_eq!(v["counts"]["experiments"], 2);
    assert_eq!(v["columns"]["variables"][1]["unit"], "degC");
    let e1 = &v["experiments"][1];
    assert_eq!(e1["status"], "ok");
    assert_eq!(e1["variables"]["temperature"], 280.0);
    // The settings sent, in the unit the column names: 150 uL over 60 s, split in two.
    assert_eq!(e1["settings"]["p_cd.rate"], 75.0);
    assert!(
        e1["proxies"]["peak"]
            .as_f64()
            .is_some_and(|nm| (300.0..800.0).contains(&nm))
    );
    assert_eq!(v["best"][0], 1);
    // Not a bundle.
    insta::assert_snapshot!(env.run(&["report", "tiny.qdx"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: tiny.qdx holds no journal.jsonl (is it a qdx bundle?)
    ");
}

/// Issue 17: `qdx fmt -` formats standard input to standard output; with `--check`, says
/// whether it would change it.
#[test]
fn fmt_reads_standard_input() {
    let env = tiny();
    let messy = env.read("tiny.qdx").replace("  seed 7\n", "seed    7\n");
    let out = env.run_with_stdin(&["fmt", "-"], &messy);
    assert_eq!((out.code, out.stderr.as_str()), (Some(0), ""), "{out}");
    assert_eq!(out.stdout, env.read("tiny.qdx"));
    insta::assert_snapshot!(env.run_with_stdin(&["fmt", "--check", "-"], &messy), @"
    exit: 1
    --- stdout
    would reformat <stdin>
    --- stderr
    ");
    insta::assert_snapshot!(env.run_with_stdin(&["fmt", "-"], "qdx 1\ncampaign {"), @"
    exit: 1
    --- stdout
    --- stderr
    qdx::syntax::unexpected

      × unexpected `{`
       ╭─[<stdin>:2:10]
     1 │ qdx 1
     2 │ campaign {
       ·          ┬
       ·          ╰── expected a string
       ╰────
    ");
}

/// Issue 17: completions and a manual page come from the same definitions as `--help`.
#[test]
fn completions_and_the_manual_page_know_every_command() {
    let env = CliEnv::new();
    let bash = env.run(&["completions", "bash"]);
    assert_eq!(bash.code, Some(0), "{bash}");
    let man = env.run(&["man"]);
    assert_eq!(man.code, Some(0), "{man}");
    for command in [
        "check", "fmt", "plan", "run", "resume", "verify", "replay", "report", "lab", "new", "lsp",
    ] {
        assert!(
            bash.stdout.contains(command),
            "bash completion lacks {command}"
        );
        assert!(
            man.stdout.contains(&format!(".TH qdx-{command} 1")),
            "the manual lacks qdx-{command}"
        );
    }
}

/// Issue 17: `qdx run --format json` streams a JSON line per step and per experiment on
/// stdout, and ends with the summary as a last line; nothing else is on stdout.
#[test]
fn run_format_json_streams_steps_experiments_and_the_summary() {
    let env = tiny();
    let out = env.run(&["run", "tiny.qdx", "--out", "b", "--format", "json"]);
    assert_eq!((out.code, out.stderr.as_str()), (Some(0), ""), "{out}");
    let events: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().expect("an event"))
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "experiment").count(), 2);
    assert_eq!(kinds.last(), Some(&"finished"));
    // Each experiment's steps come before it, the steady-state wait with its lab time.
    let first = kinds.iter().position(|k| *k == "experiment").expect("one");
    assert!(kinds[..first].iter().all(|k| *k == "step"), "{kinds:?}");
    assert!(
        events[..first].iter().any(|e| e["why"]
            .as_str()
            .is_some_and(|w| w.starts_with("steady state"))
            && e["wait_s"].as_f64().is_some_and(|s| s > 100.0)),
        "{events:?}"
    );
    // The experiment events agree with the bundle's report.
    let report: serde_json::Value =
        serde_json::from_str(&env.run(&["report", "b", "--format", "json"]).stdout).expect("json");
    for (k, e) in events
        .iter()
        .filter(|e| e["event"] == "experiment")
        .enumerate()
    {
        let r = &report["experiments"][k];
        for field in ["experiment", "status", "variables", "settings", "proxies"] {
            assert_eq!(e[field], r[field], "{field} of experiment {k}");
        }
    }
    let end = events.last().expect("the summary");
    assert_eq!(end["experiments"], 2);
    assert_eq!(end["end"], "completed");
    assert_eq!(end["bundle"], "b");
}

/// Issue 17: every command that reports something has `--format json`: `verify`, `replay`,
/// and `check --summary` (which used to drop the summary from its JSON).
#[test]
fn verify_replay_and_check_summary_speak_json() {
    let env = tiny();
    assert_eq!(
        env.run(&["run", "tiny.qdx", "-q", "--out", "b"]).code,
        Some(0)
    );
    let parse = |out: &CliOutput| -> serde_json::Value {
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"))
    };
    let verify = env.run(&["verify", "b", "--format", "json"]);
    assert_eq!(verify.code, Some(0), "{verify}");
    let v = parse(&verify);
    assert_eq!(
        (v["ok"].clone(), v["files"].clone()),
        (true.into(), 12.into())
    );
    assert_eq!(v["problems"], serde_json::json!([]));
    let replay = env.run(&["replay", "b", "--format", "json"]);
    assert_eq!(replay.code, Some(0), "{replay}");
    assert_eq!(
        parse(&replay),
        serde_json::json!({"ok": true, "decisions": [], "files": [], "measurements_repeated": true})
    );
    // An edited spectrum: verify names it, and exits 1 as its text form does.
    env.write(
        "b/spectra/e0000-photoluminescence-r0.csv",
        "wavelength_nm,counts\n400,1\n",
    );
    let edited = env.run(&["verify", "b", "--format", "json"]);
    assert_eq!(edited.code, Some(1), "{edited}");
    assert_eq!(
        parse(&edited)["problems"],
        serde_json::json!([
            "spectra/e0000-photoluminescence-r0.csv: differs from the manifest (SHA-256 mismatch)"
        ])
    );
    let check = env.run(&["check", "tiny.qdx", "--summary", "--format", "json"]);
    assert_eq!(check.code, Some(0), "{check}");
    let summary = &parse(&check)["summaries"][0];
    assert_eq!(summary["file"], "tiny.qdx");
    assert_eq!(
        summary["summary"][0],
        "campaign \"tiny\" (language 1, seed 7)"
    );
}
