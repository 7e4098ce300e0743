//! The run: determinism, crash and resume, steady state, sandboxed scripts, tampering.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use qdx::plan::{LabState, Operation, plan_experiment};
use qdx::runtime::{RunOptions, run_simulated};

use crate::cli_env::CliEnv;
use crate::support::{check_path, check_text, column, rendered};

fn qdx() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_qdx"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1");
    c
}

fn options() -> RunOptions {
    RunOptions {
        progress: qdx::runtime::Progress::Off,
        sync_each: false,
        halt_after: None,
    }
}

/// Every reproducible file of a bundle, with the manifest's wall-clock section removed.
fn reproducible(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("bundle folder") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p
                .strip_prefix(dir)
                .expect("inside")
                .to_string_lossy()
                .replace('\\', "/");
            if rel == "wall.jsonl" {
                continue;
            }
            let mut bytes = std::fs::read(&p).expect("readable");
            if rel == "manifest.json" {
                let mut m: serde_json::Value = serde_json::from_slice(&bytes).expect("manifest");
                m.as_object_mut().expect("object").remove("wall_clock");
                bytes = serde_json::to_vec_pretty(&m).expect("json");
            }
            out.push((rel, bytes));
        }
    }
    out.sort();
    out
}

#[test]
fn the_same_campaign_and_seed_give_byte_identical_bundles() {
    let c = check_path(Path::new("examples/cspbx3-orange.qdx"))
        .campaign
        .expect("valid example");
    let dir = tempfile::tempdir().expect("temp");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let sa = run_simulated(&c, &a, &options()).expect("first run");
    let sb = run_simulated(&c, &b, &options()).expect("second run");
    assert!(sa.experiments >= 5, "a real campaign ran: {sa:?}");
    assert_eq!(sa.experiments, sb.experiments);
    let (fa, fb) = (reproducible(&a), reproducible(&b));
    assert_eq!(
        fa.iter().map(|f| &f.0).collect::<Vec<_>>(),
        fb.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((name, x), (_, y)) in fa.iter().zip(&fb) {
        assert!(
            x == y,
            "{name} differs between two runs of the same campaign and seed"
        );
    }
    assert!(
        fa.iter().any(|(n, _)| n.starts_with("spectra/")),
        "spectra are part of the bundle"
    );
    // Another seed gives another campaign.
    let mut other = c.clone();
    other.seed += 1;
    let c_dir = dir.path().join("c");
    run_simulated(&other, &c_dir, &options()).expect("third run");
    assert_ne!(
        std::fs::read(a.join("observations.csv")).ok(),
        std::fs::read(c_dir.join("observations.csv")).ok()
    );
}

fn observations_without_times(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("observations.csv")).expect("observations");
    text.lines().map(str::to_owned).collect()
}

#[test]
fn sigkill_at_several_points_then_resume_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().expect("temp");
    let full = dir.path().join("full");
    let out = qdx()
        .args(["run", "examples/cspbx3-orange.qdx", "-q", "--out"])
        .arg(&full)
        .output()
        .expect("qdx runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = std::fs::read_to_string(full.join("journal.jsonl"))
        .expect("journal")
        .lines()
        .count() as u64;
    for halt in [3, records / 4, records / 2, records - 20] {
        let bundle = dir.path().join(format!("killed-{halt}"));
        let mut child = qdx()
            .args([
                "run",
                "examples/cspbx3-orange.qdx",
                "-q",
                "--halt-after",
                &halt.to_string(),
                "--out",
            ])
            .arg(&bundle)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("qdx starts");
        let stderr = child.stderr.take().expect("stderr");
        let mut line = String::new();
        BufReader::new(stderr).read_line(&mut line).expect("a line");
        assert!(line.contains("halted"), "{line}");
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        let journal = std::fs::read_to_string(bundle.join("journal.jsonl"))
            .expect("journal survives the kill");
        assert!(
            journal.lines().count() as u64 > halt,
            "everything up to the kill was journaled"
        );
        let resumed = qdx()
            .arg("resume")
            .arg(&bundle)
            .arg("-q")
            .output()
            .expect("qdx runs");
        assert_eq!(
            resumed.status.code(),
            Some(0),
            "resume after halt {halt}: {}",
            String::from_utf8_lossy(&resumed.stderr)
        );
        assert_eq!(
            observations_without_times(&bundle),
            observations_without_times(&full),
            "resume after a kill at record {halt}"
        );
        let verify = qdx().arg("verify").arg(&bundle).output().expect("qdx runs");
        assert_eq!(
            verify.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&verify.stderr)
        );
        let journal = std::fs::read_to_string(bundle.join("journal.jsonl")).expect("journal");
        assert!(
            journal.contains("\"event\":\"resumed\""),
            "the journal says it was resumed"
        );
    }
}

#[test]
fn verify_names_the_file_that_was_edited_and_replay_reproduces() {
    let mut env = CliEnv::new();
    let c = check_path(Path::new("examples/cdse-grid-screen.qdx"))
        .campaign
        .expect("valid");
    run_simulated(&c, &env.path("b"), &options()).expect("run");
    env.normalize_bundle_id("b");
    insta::assert_snapshot!(env.run(&["verify", "b"]), @"
    exit: 0
    --- stdout
    ok: 108 files match the manifest of b (bundle $BUNDLE_ID)
    --- stderr
    ");
    insta::assert_snapshot!(env.run(&["replay", "b"]), @r#"
        exit: 0
        --- stdout
        ok: every optimizer decision follows from the journaled measurements
        ok: the replay reproduces every decision and measurement of b
        --- stderr
    "#);
    let spectrum = "b/spectra/e0003-photoluminescence-r0.csv";
    let text = env.read(spectrum).replacen(',', ",1", 1);
    env.write(spectrum, &text);
    env.write("b/notes.txt", "added later");
    insta::assert_snapshot!(env.run(&["verify", "b"]), @r#"
        exit: 1
        --- stdout
        --- stderr
        error: spectra/e0003-photoluminescence-r0.csv: differs from the manifest (SHA-256 mismatch)
        error: notes.txt: not listed in the manifest
        2 problems in b
    "#);
}

/// A campaign whose second experiment is measured early or at steady state: the halide
/// exchange moves the emission from green (no iodide) to red (half the feed iodide).
fn two_point_campaign(steady: &str) -> String {
    format!(
        r#"qdx 1
campaign "steady" {{
  seed 3
  budget {{ experiments 2 }}
}}
use std.devices
use std.spectra
stocks {{
  seeds "CsPbBr3" in p_seed {{ concentration 0.01 mol/L }}
  iodide "ZnI2" in p_iodide {{ concentration 0.05 mol/L, halide "I" }}
}}
reactor {{
  pump p_seed : syringe_pump {{ syringe 20 mL, max_rate 2 mL/min }}
  pump p_iodide : syringe_pump {{ syringe 20 mL, max_rate 2 mL/min }}
  mixer m1 : t_mixer {{ volume 1 uL }}
  coil r1 : reactor_coil {{ volume 100 uL }}
  cell s1 : flow_cell {{ volume 2 uL, spectrometer spec1 }}
  spectrometer spec1 : uv_vis_pl {{ range 350 nm .. 800 nm, excitation 365 nm }}
  outlet waste : collector
  p_seed, p_iodide -> m1 -> r1 -> s1 -> waste
}}
variables {{
  iodide_frac : ratio in 0 .. 0.5
}}
derive {{
  total_flow = r1.volume / 30 s
  p_iodide.rate = total_flow * iodide_frac
  p_seed.rate = total_flow - p_iodide.rate
}}
measure at s1 {{
  steady_state after {steady}
  photoluminescence {{ integration 100 ms, average 5 }}
}}
proxies {{
  peak = photoluminescence.peak_wavelength()
}}
optimizer grid {{
  levels {{ iodide_frac [0, 0.5] }}
}}
simulate cspbx3_halide_exchange {{ seeds seeds, halide iodide }}
"#
    )
}

fn peaks(text: &str) -> Vec<Option<f64>> {
    let checked = check_text("steady.qdx", text);
    let report = rendered(&checked);
    let c = checked.campaign.unwrap_or_else(|| panic!("{report}"));
    let dir = tempfile::tempdir().expect("temp");
    run_simulated(&c, &dir.path().join("b"), &options()).expect("run");
    column(&dir.path().join("b/observations.csv"), "peak [nm]")
}

#[test]
fn a_measurement_before_steady_state_is_visibly_wrong_and_never_planned() {
    let steady = peaks(&two_point_campaign("3 reactor_volumes"));
    let longer = peaks(&two_point_campaign("6 reactor_volumes"));
    let early = peaks(&two_point_campaign("0.3 reactor_volumes"));
    let (Some(s0), Some(s1), Some(l1)) = (steady[0], steady[1], longer[1]) else {
        panic!("{steady:?} {longer:?}")
    };
    // Half the feed as iodide moves the emission red by tens of nm.
    assert!((s0 - s1).abs() > 10.0, "{steady:?}");
    // At steady state, waiting longer changes nothing measurable…
    assert!((s1 - l1).abs() < 0.5, "{steady:?} vs {longer:?}");
    // …measuring early sees solvent (first experiment: no emission found at all) or old
    // product still in the cell (second experiment: a peak in between).
    assert_eq!(early[0], None, "{early:?}");
    let e1 = early[1].expect("a peak");
    assert!(
        (e1 - s1).abs() > 3.0,
        "early {early:?} vs steady {steady:?}"
    );
    // And the planner never measures before the declared wait.
    let c = check_path(Path::new("examples/cspbx3-orange.qdx"))
        .campaign
        .expect("valid");
    let m = c.measurement.clone().expect("measured");
    let mut state = LabState::initial(&c);
    for k in 0..50 {
        let t = f64::from(k) / 49.0;
        let values: Vec<f64> = c
            .variables
            .iter()
            .map(|v| v.bounds().map_or(0.0, |(lo, hi)| lo + (hi - lo) * t))
            .collect();
        let Ok(plan) = plan_experiment(&c, &mut state, k as u64, &values) else {
            continue;
        };
        let ops: Vec<&Operation> = plan.steps.iter().flat_map(|s| &s.ops).collect();
        let wait = ops
            .iter()
            .position(|o| matches!(o, Operation::WaitSteadyState { .. }))
            .expect("a steady-state wait");
        let first_acquire = ops
            .iter()
            .position(|o| o.is_acquisition())
            .expect("an acquisition");
        assert!(
            wait < first_acquire,
            "experiment {k} measures before its steady state"
        );
        if let Operation::WaitSteadyState { volumes, .. } = ops[wait] {
            assert_eq!(*volumes, m.steady_state_volumes);
        }
        let last_setting = ops.iter().rposition(|o| {
            matches!(
                o.setting(),
                Some((
                    _,
                    qdx::plan::Command::SetRate { .. } | qdx::plan::Command::SetSetpoint { .. }
                ))
            )
        });
        assert!(
            last_setting.is_none_or(|s| s < wait),
            "a setting changes after the wait started"
        );
    }
}

#[test]
fn a_hostile_script_is_stopped_with_a_located_error() {
    let base = std::fs::read_to_string("examples/cspbx3-orange.qdx").expect("example");
    for (script, expect) in [
        ("loop { }", "operations"),
        ("let s = \"x\"; loop { s += s; }", "large"),
        ("eval(\"1\")", ""),
        ("open(\"/etc/passwd\")", "open"),
    ] {
        let text = base.replace(
            "score = script \"proxies/score.rhai\"",
            &format!("score = script \"\"\"\n    {script}\n  \"\"\""),
        );
        let world = qdx::world::MemoryWorld::new().with("c/hostile.qdx", text.as_str());
        let loaded = qdx::load::load(&world, Path::new("c/hostile.qdx"), "c/hostile.qdx");
        let checked = qdx::validate::validate(&loaded, &world);
        let Some(c) = checked.campaign else {
            // Refused when it is checked: also located.
            let d = checked
                .diagnostics
                .iter()
                .find(|d| d.is_error())
                .expect("an error");
            assert!(
                d.primary_span().and_then(|s| s.range()).is_some(),
                "{script}: unlocated"
            );
            continue;
        };
        let dir = tempfile::tempdir().expect("temp");
        run_simulated(&c, &dir.path().join("b"), &options()).expect("the run itself goes on");
        let obs =
            std::fs::read_to_string(dir.path().join("b/observations.csv")).expect("observations");
        let row = obs.lines().nth(1).expect("an experiment");
        assert!(
            row.contains("hostile.qdx:"),
            "{script}: the reason names the line: {row}"
        );
        assert!(row.to_lowercase().contains(expect), "{script}: {row}");
    }
}

#[test]
fn every_example_runs_end_to_end_and_its_bundle_verifies_and_replays() {
    let mut names: Vec<String> = std::fs::read_dir("examples")
        .expect("examples")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "qdx"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 5, "{names:?}");
    let dir = tempfile::tempdir().expect("temp");
    for (k, name) in names.iter().enumerate() {
        let c = check_path(Path::new(name))
            .campaign
            .unwrap_or_else(|| panic!("{name} checks"));
        let out = dir.path().join(k.to_string());
        let summary = run_simulated(&c, &out, &options()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(summary.experiments > 0, "{name}: {summary:?}");
        assert!(
            summary.failed * 2 < summary.experiments,
            "{name}: most experiments failed: {summary:?}"
        );
        let (_, problems) = qdx::bundle::verify(&out).expect("manifest");
        assert!(problems.is_empty(), "{name}: {problems:?}");
        let obs = std::fs::read_to_string(out.join("observations.csv")).expect("observations");
        assert_eq!(
            obs.lines().count() as u64,
            summary.experiments + 1,
            "{name}: one row per experiment"
        );
        // And it replays: every optimizer decision follows from the journaled measurements
        // (issues "data-rich flow" and "seed systems" ask it of every example).
        let records = qdx::journal::read(&out.join("journal.jsonl")).expect("journal");
        assert_eq!(
            qdx::runtime::replay_decisions(&c, &records).expect("replay"),
            Vec::<String>::new(),
            "{name}: the replay differs"
        );
    }
}

#[test]
fn replay_rederives_every_decision_from_the_journaled_measurements() {
    let c = check_path(Path::new("examples/cspbx3-orange.qdx"))
        .campaign
        .expect("valid");
    let dir = tempfile::tempdir().expect("temp");
    let bundle = dir.path().join("b");
    run_simulated(&c, &bundle, &options()).expect("run");
    let records = qdx::journal::read(&bundle.join("journal.jsonl")).expect("journal");
    assert_eq!(
        qdx::runtime::replay_decisions(&c, &records).expect("replay"),
        Vec::<String>::new()
    );
    // A measurement edited after the fact changes the decisions that followed it.
    let mut edited = records.clone();
    let first_measured = edited
        .iter_mut()
        .find(|r| matches!(r.event, qdx::journal::Event::Measured { experiment: 2, .. }))
        .expect("experiment 2");
    if let qdx::journal::Event::Measured { proxies, .. } = &mut first_measured.event {
        let peak = proxies
            .get_mut("peak")
            .and_then(Option::as_mut)
            .expect("a peak");
        *peak *= 1.05;
    }
    let differences = qdx::runtime::replay_decisions(&c, &edited).expect("replay");
    assert!(
        !differences.is_empty(),
        "an edited measurement must show in the decisions"
    );
    assert!(
        differences
            .iter()
            .all(|d| d.contains("the optimizer now suggests")),
        "{differences:?}"
    );
}

#[test]
fn flush_and_route_run_around_each_measurement() {
    let c = check_path(Path::new("tests/data/valid/flush_route.qdx"))
        .campaign
        .expect("valid");
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("b");
    let s = run_simulated(&c, &out, &options()).expect("run");
    assert_eq!((s.experiments, s.failed), (4, 0));
    let records = qdx::journal::read(&out.join("journal.jsonl")).expect("journal");
    use qdx::journal::{Command, Event};
    // Per experiment: to waste during the wait, collect while measuring, back to waste, then
    // the rinse pump alone.
    let per_experiment: Vec<Vec<String>> = (0..4)
        .map(|e| {
            records
                .iter()
                .filter_map(|r| match &r.event {
                    Event::Command {
                        experiment: Some(x),
                        device,
                        command,
                    } if *x == e => Some(match command {
                        Command::SetPosition { position, .. } => format!("{device}={position}"),
                        Command::SetRate { .. } => format!("{device} on"),
                        Command::Stop => format!("{device} off"),
                        Command::Acquire { .. } => "acquire".to_owned(),
                        other => format!("{other:?}"),
                    }),
                    _ => None,
                })
                .collect()
        })
        .collect();
    for (e, cmds) in per_experiment.iter().enumerate() {
        let pos = |x: &str| {
            cmds.iter()
                .position(|c| c == x)
                .unwrap_or_else(|| panic!("experiment {e}: no `{x}` in {cmds:?}"))
        };
        assert!(
            pos("v1=1") < pos("v1=2") && pos("v1=2") < pos("acquire"),
            "experiment {e}: {cmds:?}"
        );
        assert!(
            pos("acquire") < cmds.iter().rposition(|c| c == "v1=1").unwrap_or(0),
            "experiment {e}: {cmds:?}"
        );
        assert!(
            pos("p_wash on") > pos("acquire") && pos("p_wash off") > pos("p_wash on"),
            "experiment {e}: {cmds:?}"
        );
    }
}

#[test]
fn prior_data_warm_starts_the_optimizer() {
    let dir = tempfile::tempdir().expect("temp");
    let root = dir.path();
    std::fs::create_dir_all(root.join("models")).expect("folder");
    std::fs::copy(
        "examples/models/branin.rhai",
        root.join("models/branin.rhai"),
    )
    .expect("model");
    let campaign = std::fs::read_to_string("examples/branin-script.qdx")
        .expect("example")
        .replace(
            "optimizer bayesian {",
            "prior csv \"earlier.csv\"\n\noptimizer bayesian {",
        );
    std::fs::write(root.join("c.qdx"), campaign).expect("campaign");
    // Ten earlier points, one of them failed.
    let mut csv = String::from("x1,x2,y,status\n");
    for k in 0..10 {
        let (x1, x2) = (-5.0 + 1.5 * f64::from(k), 1.0 + 1.3 * f64::from(k));
        let y = (x2 - 5.1 / (4.0 * std::f64::consts::PI.powi(2)) * x1 * x1
            + 5.0 / std::f64::consts::PI * x1
            - 6.0)
            .powi(2)
            + 10.0 * (1.0 - 1.0 / (8.0 * std::f64::consts::PI)) * x1.cos()
            + 10.0;
        let status = if k == 3 { "failed" } else { "ok" };
        csv.push_str(&format!("{x1},{x2},{y},{status}\n"));
    }
    std::fs::write(root.join("earlier.csv"), csv).expect("prior");
    let checked = check_path(&root.join("c.qdx"));
    let report = rendered(&checked);
    let c = checked.campaign.unwrap_or_else(|| panic!("{report}"));
    assert!(
        c.files.iter().any(|f| f.name == "earlier.csv"),
        "the prior data is kept with the campaign"
    );
    let out = root.join("b");
    run_simulated(&c, &out, &options()).expect("run");
    let first =
        std::fs::read_to_string(out.join("optimizer/suggestions.jsonl")).expect("suggestions");
    let first: serde_json::Value =
        serde_json::from_str(first.lines().next().expect("a suggestion")).expect("json");
    // With ten earlier points (more than the initial design), the very first suggestion comes
    // from the model, not from the space-filling design.
    assert_ne!(first["explain"]["phase"], "initial design", "{first}");
    assert!(first["explain"]["predicted_mean"].is_number(), "{first}");
    assert!(
        out.join("campaign/earlier.csv").exists(),
        "the bundle holds the prior data as run"
    );
}

/// A strategy that proposes a fixed list of points and remembers what it was told.
#[derive(Debug)]
struct Scripted {
    points: Vec<Vec<f64>>,
    told: std::sync::Arc<std::sync::Mutex<Vec<qdx_optimize::Observation>>>,
}

impl qdx_optimize::Strategy for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }

    fn ask(
        &mut self,
        n: usize,
        _pending: &[qdx_optimize::Point],
    ) -> qdx_optimize::Result<Vec<qdx_optimize::Suggestion>> {
        let take = n.min(self.points.len());
        Ok(self
            .points
            .drain(..take)
            .map(|p| qdx_optimize::Suggestion {
                point: qdx_optimize::Point(p.into_iter().map(qdx_optimize::Value::Real).collect()),
                explain: qdx_optimize::Explanation::default(),
            })
            .collect())
    }

    fn tell(&mut self, observations: &[qdx_optimize::Observation]) -> qdx_optimize::Result<()> {
        self.told
            .lock()
            .expect("not poisoned")
            .extend_from_slice(observations);
        Ok(())
    }
}

#[test]
fn a_given_optimizer_drives_the_simulated_lab_in_place_of_the_campaigns() {
    let checked = check_path(Path::new("examples/branin-script.qdx"));
    let report = rendered(&checked);
    let c = checked.campaign.unwrap_or_else(|| panic!("{report}"));
    // The third point is a minimum of Branin, which meets the campaign's stop condition.
    let points = vec![
        vec![-3.0, 12.0],
        vec![9.0, 3.0],
        vec![std::f64::consts::PI, 2.275],
        vec![0.0, 0.0],
    ];
    let told = std::sync::Arc::default();
    let strategy = Scripted {
        points: points.clone(),
        told: std::sync::Arc::clone(&told),
    };
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("b");
    let s =
        qdx::runtime::run_simulated_with(&c, &out, &options(), Box::new(strategy)).expect("run");
    assert_eq!(s.experiments, 3, "{}", s.stop_reason);
    assert_eq!(s.stop_reason, "the stop condition was met by experiment 2");
    let records = qdx::journal::read(&out.join("journal.jsonl")).expect("journal");
    let suggested: Vec<Vec<f64>> = records
        .iter()
        .filter_map(|r| match &r.event {
            qdx::journal::Event::Suggested { values, .. } => Some(values.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        suggested,
        points[..3],
        "the lab ran exactly the given points"
    );
    let told = told.lock().expect("not poisoned");
    assert_eq!(
        told.len(),
        3,
        "every measurement went back to the optimizer"
    );
    // Branin at (π, 2.275) is one of its minima, 0.3979: the model file computed it.
    let y = match &told[2].outcome {
        qdx_optimize::Outcome::Measured(m) => m.values().copied().next().expect("a proxy"),
        other => panic!("{other:?}"),
    };
    assert!((y - 0.397_887).abs() < 1e-3, "{y}");
}

/// cspbx3-orange with its score computed by an inline script.
fn orange_with_score(script: &str) -> String {
    std::fs::read_to_string("examples/cspbx3-orange.qdx")
        .expect("example")
        .replace(
            "score = script \"proxies/score.rhai\"",
            &format!("score = script \"\"\"\n{script}\n  \"\"\""),
        )
}

#[test]
fn a_script_result_of_the_wrong_type_at_run_time_names_the_script_and_the_type() {
    // `qdx check` runs the script with the proxies before it at 1.0, where it gives a number;
    // the run meets the string.
    let text = orange_with_score("    if peak > 100.0 { \"too red\" } else { peak }");
    let world = qdx::world::MemoryWorld::new().with("c/typed.qdx", text.as_str());
    let loaded = qdx::load::load(&world, Path::new("c/typed.qdx"), "c/typed.qdx");
    let checked = qdx::validate::validate(&loaded, &world);
    let c = checked.campaign.expect("the dry run cannot tell");
    let dir = tempfile::tempdir().expect("temp");
    run_simulated(&c, &dir.path().join("b"), &options()).expect("the run itself goes on");
    let obs = std::fs::read_to_string(dir.path().join("b/observations.csv")).expect("observations");
    let row = obs.lines().nth(1).expect("an experiment");
    // The script's second line, in the file's numbering.
    let line = text
        .lines()
        .position(|l| l.contains("too red"))
        .expect("the script")
        + 1;
    assert!(
        row.contains(&format!(
            "score: typed.qdx:{line}:5: the script's result is a string (\"\"too red\"\"), expected a number"
        )),
        "{row}"
    );
}

#[test]
fn check_says_which_inputs_its_dry_run_gave_a_script() {
    // The proxies before the script are 1 at `qdx check`, and the spectra made up: the help
    // says so, naming those the script reads.
    let text = orange_with_score(
        "    if plqy == 1.0 && photoluminescence.values.len() > 0 { \"dry\" } else { peak }",
    );
    let world = qdx::world::MemoryWorld::new().with("c/inputs.qdx", text.as_str());
    let loaded = qdx::load::load(&world, Path::new("c/inputs.qdx"), "c/inputs.qdx");
    let checked = qdx::validate::validate(&loaded, &world);
    let helps: Vec<String> = checked
        .diagnostics
        .iter()
        .filter_map(|d| d.help.clone())
        .collect();
    assert_eq!(
        helps,
        [
            "`qdx check` ran the script with every variable at the middle of its range, the proxies before it at 1 (`peak`, `plqy`) and a made-up `photoluminescence` spectrum (one band at 550 nm); a proxy script must end with an expression that gives a number"
        ]
    );
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_a_script_that_blocks_the_run() {
    use std::time::{Duration, Instant};
    // Slow only at run time (the proxies before it are 1.0 at `qdx check`): each `split`
    // builds 65,000 strings, so this runs until the script's 30 s deadline.
    let text = orange_with_score(
        "    if peak > 100.0 { let s = \"\"; s.pad(65000, 'y'); while true { let p = s.split(\"\"); } }\n    peak",
    );
    let dir = tempfile::tempdir().expect("temp");
    let campaign = dir.path().join("slow.qdx");
    std::fs::write(&campaign, text).expect("written");
    let bundle = dir.path().join("b");
    let mut child = qdx()
        .arg("run")
        .arg(&campaign)
        .args(["-q", "--out"])
        .arg(&bundle)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qdx starts");
    // Once the journal exists the lab is simulated and instant: within a second the run is in
    // the script.
    let started = Instant::now();
    while !bundle.join("journal.jsonl").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run never started"
        );
        std::hint::spin_loop();
    }
    let in_script = Instant::now();
    while in_script.elapsed() < Duration::from_secs(2) {
        std::hint::spin_loop();
    }
    let pressed = Instant::now();
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let status = loop {
        if let Some(status) = child.try_wait().expect("waitable") {
            break status;
        }
        if pressed.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("qdx still runs {:?} after Ctrl-C", pressed.elapsed());
        }
        std::hint::spin_loop();
    };
    let took = pressed.elapsed();
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    // Without the interrupt, the script would end at its deadline (30 s) and only then would
    // the run see the Ctrl-C.
    assert!(
        took < Duration::from_secs(10),
        "stopped {took:?} after Ctrl-C ({status}): {stderr}"
    );
    let journal = std::fs::read_to_string(bundle.join("journal.jsonl")).expect("journal");
    assert!(journal.contains("interrupted"), "{journal}");
    // The experiment whose script was stopped is not recorded as failed: resume runs it.
    assert!(
        !journal.contains("the script was interrupted"),
        "an interrupted script was recorded as a failed experiment: {journal}"
    );
}

/// A campaign whose composition `mix` is read by a model script and by a proxy script.
const COMPOSITION_IN_SCRIPTS: &str = r#"qdx 1

campaign "composition" {
  seed 1
  budget { experiments 4 }
}

variables {
  mix : composition { a, b in 0.2 .. 1 } total 1
}

proxies {
  y = readings.y
  s = script """
    mix.a + y
"""
}

objectives {
  minimize s
}

optimizer bayesian {
  initial sobol 4
}

simulate script "models/m.rhai" { outputs [y] }
"#;

#[test]
fn a_composition_reaches_scripts_as_a_map_of_its_parts() {
    let world = qdx::world::MemoryWorld::new()
        .with("c/comp.qdx", COMPOSITION_IN_SCRIPTS)
        .with("c/models/m.rhai", "#{ y: 2.0 * mix.a + mix.b }");
    let loaded = qdx::load::load(&world, Path::new("c/comp.qdx"), "c/comp.qdx");
    let checked = qdx::validate::validate(&loaded, &world);
    let report = qdx::diagnostic::render_all(
        &checked.diagnostics,
        &checked.sources,
        qdx::diagnostic::Style::Plain,
    );
    let c = checked.campaign.unwrap_or_else(|| panic!("{report}"));
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("b");
    let summary = run_simulated(&c, &out, &options()).expect("run");
    assert_eq!(
        (summary.experiments, summary.failed),
        (4, 0),
        "{}",
        std::fs::read_to_string(out.join("observations.csv")).unwrap_or_default()
    );
    let obs = out.join("observations.csv");
    let (a, b, s) = (
        column(&obs, "mix.a"),
        column(&obs, "mix.b"),
        column(&obs, "s"),
    );
    for ((a, b), s) in a.iter().zip(&b).zip(&s) {
        let (a, b, s) = (a.expect("a"), b.expect("b"), s.expect("s"));
        assert!(
            (a + b - 1.0).abs() < 1e-9,
            "a composition sums to its total"
        );
        assert!((s - (3.0 * a + b)).abs() < 1e-9, "s = a + (2a + b): {s}");
    }
}

#[test]
fn check_dry_runs_scripts_with_a_composition_shaped_as_in_a_run() {
    let check = |model: &str, proxy: &str| {
        let text = COMPOSITION_IN_SCRIPTS
            .replace("{ a, b in 0.2 .. 1 }", "{ a, b, c }")
            .replace("mix.a + y", proxy);
        let world = qdx::world::MemoryWorld::new()
            .with("c/comp.qdx", text.as_str())
            .with("c/models/m.rhai", model);
        let loaded = qdx::load::load(&world, Path::new("c/comp.qdx"), "c/comp.qdx");
        let checked = qdx::validate::validate(&loaded, &world);
        checked
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.message.clone())
            .collect::<Vec<_>>()
    };
    // The dry run's composition sums to its total, as every run's does (three parts at the
    // middle of 0 .. 1 would sum to 1.5).
    let sums = "if abs(mix.a + mix.b + mix.c - 1.0) < 1e-9 { #{ y: mix.a } } else { \"no\" }";
    assert_eq!(check(sums, "y"), Vec::<String>::new());
    // It is a map, at `qdx check` as in the run.
    assert_eq!(
        check("#{ y: mix.a }", "mix"),
        ["proxy `s`: the script's result is a map (with a, b, c), expected a number"]
    );
}

#[test]
fn a_virtual_lab_runs_without_the_reactor_and_measure_block_check_warns_about() {
    let checked = check_path(Path::new("tests/data/warn/virtual_lab_with_a_reactor.qdx"));
    let warnings: Vec<&str> = checked.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(warnings, ["qdx::validate::unused_by_virtual_lab"]);
    let c = checked.campaign.expect("a warning only");
    assert!(c.measurement.is_none(), "nothing is measured");
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("b");
    // The run neither calibrates a spectrometer the virtual lab does not have nor waits.
    let summary = run_simulated(&c, &out, &options()).expect("run");
    assert_eq!(
        (summary.experiments, summary.failed),
        (6, 0),
        "{}",
        summary.stop_reason
    );
    let journal = std::fs::read_to_string(out.join("journal.jsonl")).expect("journal");
    assert!(
        !journal.contains("\"command\""),
        "no command is sent: {journal}"
    );
}

#[test]
fn check_dry_runs_scripts_and_reports_wrong_results_and_limits() {
    let branin = std::fs::read_to_string("examples/branin-script.qdx").expect("example");
    let model = |script: &str| {
        let world = qdx::world::MemoryWorld::new()
            .with("c/m.qdx", branin.as_str())
            .with("c/models/branin.rhai", script);
        let loaded = qdx::load::load(&world, Path::new("c/m.qdx"), "c/m.qdx");
        qdx::validate::validate(&loaded, &world)
    };
    for (script, message) in [
        (
            "#{ z: x1 + x2 }",
            "model script: the script's result has no `y`; it has z",
        ),
        (
            "#{ y: `${x1}` }",
            "model script: the result's `y` is a string (\"2.5\"), expected a number",
        ),
        (
            "if x1 > 9.0 { [x1] } else { x1 }",
            "model script: the script's result is an array of 1 value, expected a number",
        ),
        // A limit stops the script in every run as it does here.
        (
            "let n = 0; loop { n += 1; }",
            "model script: the script did not finish within its budget of 1,000,000 operations (an endless loop?)",
        ),
        (
            "fn down(n) { down(n + 1) } down(x1)",
            "model script: in function `down` (called here): function calls nested deeper than 32 levels (runaway recursion?)",
        ),
    ] {
        let checked = model(script);
        let errors: Vec<&str> = checked
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.message.as_str())
            .collect();
        assert_eq!(errors, [message], "{script}");
    }
    // Failures on made-up inputs say nothing about real ones: not reported.
    for script in [
        "x1 / (x1 - 2.5)",
        "interp([0.0, 1.0], [0.0, 1.0], x1)",
        "throw \"not now\"",
    ] {
        let checked = model(script);
        assert!(
            checked.campaign.is_some(),
            "{script}: {}",
            rendered(&checked)
        );
    }
}

/// `qdx plan` says before which experiment each syringe is refilled, and the run refills it
/// there (issue 14, item 18: the plan gave a count only).
#[test]
fn a_designs_refills_happen_where_the_plan_says() {
    let c = check_path(Path::new("examples/cdse-grid-screen.qdx"))
        .campaign
        .expect("valid");
    let plan = qdx::plan::plan(&c).expect("plan");
    let planned: Vec<(u64, String, f64)> = plan
        .refill_schedule
        .iter()
        .map(|r| {
            (
                r.before_experiment,
                c.devices[r.pump].name.clone(),
                r.volume,
            )
        })
        .collect();
    assert_eq!(planned.len() as u64, plan.refills);
    assert!(!planned.is_empty(), "the grid example refills its syringes");
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("b");
    run_simulated(&c, &out, &options()).expect("run");
    let sent: Vec<(u64, String, f64)> = qdx::journal::read(&out.join("journal.jsonl"))
        .expect("journal")
        .into_iter()
        .filter_map(|r| match r.event {
            qdx::journal::Event::Command {
                experiment: Some(e),
                device,
                command: qdx::plan::Command::Refill { volume, .. },
            } => Some((e, device, volume)),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), planned.len(), "{sent:?} against {planned:?}");
    for ((pe, pd, pv), (se, sd, sv)) in planned.iter().zip(&sent) {
        assert_eq!((pe, pd), (se, sd));
        // The run refills what the syringe really lacks; the plan estimated it.
        assert!((pv - sv).abs() < 0.01 * pv, "{pv} planned, {sv} refilled");
    }
    let text = qdx::plan::render::text(&c, &plan);
    assert!(
        text.contains("p_cd takes in 9.789 mL before experiment 43"),
        "{text}"
    );
}

#[test]
fn the_blank_repeats_on_its_interval_and_the_dye_is_measured_in_the_cell() {
    let dir = tempfile::tempdir().expect("temp");
    let text = std::fs::read_to_string("examples/cspbx3-orange.qdx")
        .expect("example")
        .replace("experiments 80", "experiments 5")
        .replace("initial sobol 10", "initial sobol 5")
        .replace("every 4 h", "every 10 min");
    assert!(text.contains("every 10 min"));
    std::fs::create_dir_all(dir.path().join("proxies")).expect("folder");
    std::fs::copy(
        "examples/proxies/score.rhai",
        dir.path().join("proxies/score.rhai"),
    )
    .expect("copy");
    let file = dir.path().join("c.qdx");
    std::fs::write(&file, text).expect("write");
    let c = check_path(&file).campaign.expect("valid");
    let out = dir.path().join("b");
    let s = run_simulated(&c, &out, &options()).expect("run");
    assert_eq!((s.experiments, s.failed), (5, 0));
    use qdx::journal::{Command, Event};
    let records = qdx::journal::read(&out.join("journal.jsonl")).expect("journal");
    // Each calibration: the experiments' pumps stopped, the blank alone, the dark and
    // reference spectra, the dye alone, its spectra, the blank again; the whole thing again
    // once ten minutes of lab time have passed (each experiment takes longer).
    let calibrations: Vec<usize> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r.event, Event::Calibrated { .. }))
        .map(|(k, _)| k)
        .collect();
    assert!(
        calibrations.len() >= 3,
        "{} calibrations",
        calibrations.len()
    );
    let mut from = 0;
    for (round, &k) in calibrations.iter().enumerate() {
        let Event::Calibrated { files, dyes, .. } = &records[k].event else {
            unreachable!()
        };
        let suffix = if round == 0 {
            String::new()
        } else {
            format!("-{round}")
        };
        for f in [
            "absorbance-dark",
            "absorbance-reference",
            "photoluminescence-dark",
            "absorbance-dye",
            "photoluminescence-dye",
        ] {
            let name = format!("spectra/calibration-{f}{suffix}.csv");
            assert!(files.contains(&name), "{name} in {files:?}");
            assert!(out.join(&name).is_file(), "{name}");
        }
        let dye = dyes.get("quinine_sulfate").expect("the dye");
        assert!((dye.absorbance - 0.05).abs() < 0.01, "{dye:?}");
        // Between the previous experiment and this record, only the blank and the dye ran.
        let running: Vec<String> = records[from..k]
            .iter()
            .filter_map(|r| match &r.event {
                Event::Command {
                    experiment: None,
                    device,
                    command: Command::SetRate { .. },
                } => Some(device.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(running, ["p_wash", "p_dye", "p_wash"], "round {round}");
        if round > 0 {
            let stopped: Vec<&str> = records[from..k]
                .iter()
                .filter_map(|r| match &r.event {
                    Event::Command {
                        experiment: None,
                        device,
                        command: Command::Stop,
                    } => Some(device.as_str()),
                    _ => None,
                })
                .collect();
            for pump in ["p_seed", "p_iodide"] {
                assert!(stopped.contains(&pump), "round {round}: {stopped:?}");
            }
        }
        from = k;
    }
    let plqy = column(&out.join("observations.csv"), "plqy");
    assert!(
        plqy.iter().all(|q| q.is_some_and(|q| q > 0.0 && q <= 1.0)),
        "{plqy:?}"
    );
    // Each experiment's spectra name the calibration they were processed with, the last one
    // journaled before them (the report draws absorbance against it), and more than one is used.
    let mut in_effect: Vec<String> = Vec::new();
    let mut expected: std::collections::BTreeMap<u64, Vec<String>> = Default::default();
    for r in &records {
        match &r.event {
            Event::Calibrated { files, .. } => in_effect.clone_from(files),
            Event::Acquired { experiment, .. } => {
                expected.insert(*experiment, in_effect.clone());
            }
            _ => {}
        }
    }
    let experiments = qdx::record::read(&c, &qdx::journal::live(&records));
    let mut used = std::collections::BTreeSet::new();
    for e in &experiments {
        for saved in &e.spectra {
            assert_eq!(
                Some(&saved.calibration),
                expected.get(&e.id),
                "{}",
                saved.file
            );
            used.insert(saved.calibration.clone());
        }
    }
    assert!(used.len() >= 2, "{used:?}");
    // The bundle verifies and replays with its repeated calibrations.
    let verify = qdx().arg("verify").arg(&out).output().expect("qdx runs");
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}

/// Multi-point detection (Epps 2017): the probe reads the coil at each declared point after
/// the steady state; every experiment records a growth curve (a residence time and every
/// proxy per point), the last point is the one the objectives read, the journal says where
/// each spectrum was taken, and the bundle replays.
#[test]
fn a_probe_records_a_growth_curve_per_experiment_and_the_bundle_replays() {
    let path = Path::new("examples/epps-2017-multipoint.qdx");
    let c = check_path(path).campaign.expect("the example checks");
    let probe = c
        .measurement
        .as_ref()
        .and_then(|m| m.probe.as_ref())
        .expect("a probe");
    assert_eq!(probe.points.len(), 5);
    // The plan moves the probe to every point, in order, and takes the spectra there.
    let mut state = LabState::initial(&c);
    let plan = plan_experiment(&c, &mut state, 0, &[300e-9 / 60.0, 0.3, 313.15]).expect("plan");
    let moves: Vec<u32> = plan
        .steps
        .iter()
        .flat_map(|s| s.ops.iter())
        .filter_map(|op| match op {
            Operation::Send {
                command: qdx::plan::Command::MoveProbe { point, .. },
                ..
            } => Some(*point),
            _ => None,
        })
        .collect();
    assert_eq!(moves, vec![0, 1, 2, 3, 4]);
    let steady = plan
        .steps
        .iter()
        .position(|s| {
            s.ops
                .iter()
                .any(|o| matches!(o, Operation::WaitSteadyState { .. }))
        })
        .expect("a steady-state wait");
    let first_move = plan
        .steps
        .iter()
        .position(|s| {
            s.ops.iter().any(|o| {
                matches!(
                    o,
                    Operation::Send {
                        command: qdx::plan::Command::MoveProbe { .. },
                        ..
                    }
                )
            })
        })
        .expect("a move");
    assert!(
        steady < first_move,
        "the probe reads after the steady state"
    );
    // 20 uL of a coil at 300 uL/min: 4 s of residence.
    assert!(
        plan.steps[first_move]
            .why
            .contains("20 uL along r1, 4 s of residence"),
        "{}",
        plan.steps[first_move].why
    );

    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("run");
    let summary = run_simulated(&c, &out, &options()).expect("runs");
    assert!(summary.experiments >= 5, "{summary:?}");
    let obs = out.join("observations.csv");
    let status: Vec<String> = {
        let mut r = csv::Reader::from_path(&obs).expect("observations");
        let header = r.headers().expect("header").clone();
        let k = header.iter().position(|h| h == "status").expect("status");
        r.records()
            .map(|row| row.expect("row").get(k).unwrap_or_default().to_owned())
            .collect()
    };
    let residence: Vec<Vec<Option<f64>>> = (1..=5)
        .map(|k| column(&obs, &format!("point{k}.residence [s]")))
        .collect();
    let peaks: Vec<Vec<Option<f64>>> = (1..=5)
        .map(|k| column(&obs, &format!("point{k}.peak [nm]")))
        .collect();
    let peak = column(&obs, "peak [nm]");
    let (mut ok, mut shifted) = (0, 0);
    for (e, s) in status.iter().enumerate() {
        if s != "ok" {
            continue;
        }
        ok += 1;
        let times: Vec<f64> = residence
            .iter()
            .map(|col| col[e].expect("a residence"))
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] > 0.0 && w[1] > w[0]),
            "experiment {e}: residence times increase along the coil: {times:?}"
        );
        // The point volumes are 20, 50, 100, 150, 200 uL: the times scale with them.
        assert!((times[4] / times[0] - 10.0).abs() < 1e-9, "{times:?}");
        let along: Vec<f64> = peaks.iter().map(|col| col[e].expect("a peak")).collect();
        assert_eq!(
            peak[e],
            Some(along[4]),
            "the objectives read the last point"
        );
        assert!(
            along.windows(2).all(|w| w[1] > w[0] - 1.0),
            "experiment {e}: the exchange never turns the emission back to blue along the coil: {along:?}"
        );
        if along[4] > along[0] + 1.0 {
            shifted += 1;
        }
    }
    assert!(ok >= 3, "{status:?}");
    assert!(
        shifted >= 1,
        "the iodide exchange red-shifts the emission along the coil"
    );
    // The journal: a move per point per experiment, and each spectrum with its point.
    let journal = std::fs::read_to_string(out.join("journal.jsonl")).expect("journal");
    let moves = journal.matches("\"command\":\"move_probe\"").count() as u64;
    assert_eq!(moves, 5 * summary.experiments, "{summary:?}");
    assert!(journal.contains("\"file\":\"spectra/e0000-p4-photoluminescence-r0.csv\",\"point\":4"));
    assert!(out.join("spectra/e0000-p0-absorbance-r0.csv").is_file());
    let index = std::fs::read_to_string(out.join("spectra.csv")).expect("index");
    assert!(
        index.starts_with("experiment,channel,replicate,file,point\n"),
        "{index}"
    );
    let report = std::fs::read_to_string(out.join("report.html")).expect("report");
    assert!(
        report.contains("<section id=\"growth\""),
        "a growth-curve section"
    );
    let replay = qdx().arg("replay").arg(&out).output().expect("qdx runs");
    assert_eq!(
        replay.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&replay.stdout),
        String::from_utf8_lossy(&replay.stderr)
    );
    let verify = qdx().arg("verify").arg(&out).output().expect("qdx runs");
    assert_eq!(verify.status.code(), Some(0));
}

/// The mapping example: the run stops as soon as the map's largest sd over map.csv's points is
/// under the declared level, not before, and the bundle's map is that certain everywhere.
#[test]
fn a_map_stops_at_its_level_and_not_before() {
    let c = check_path(Path::new("examples/maceiczyk-2014-map.qdx"))
        .campaign
        .expect("valid");
    let level_nm = 1.5;
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("b");
    let summary = run_simulated(&c, &out, &options()).expect("run");
    assert!(
        summary.stop_reason.contains("reached its level"),
        "{summary:?}"
    );
    assert!(
        summary.experiments < c.budget.experiments.expect("budget"),
        "{summary:?}"
    );
    // Every suggestion made once the map was judged recorded a largest sd above the level:
    // the run went on only while the map was not yet certain enough.
    let min_values = qdx::files::map::min_values(&c) as u64;
    let suggestions =
        std::fs::read_to_string(out.join("optimizer/suggestions.jsonl")).expect("suggestions");
    let mut judged = 0;
    for line in suggestions.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        let experiment = v["experiment"].as_u64().expect("id");
        let map = &v["explain"]["map"];
        if experiment >= min_values {
            let max_sd = map["max_sd"].as_f64().expect("the map's sd");
            assert_eq!(map["unit"], "nm");
            assert!(
                max_sd > level_nm,
                "experiment {experiment} ran at {max_sd} nm"
            );
            judged += 1;
        }
    }
    assert!(judged > 0, "the map was judged before it stopped");
    // The map in the bundle: every grid point within the level, and listed in the package.
    let map = std::fs::read_to_string(out.join("map.csv")).expect("map.csv");
    let header: Vec<&str> = map.lines().next().expect("header").split(',').collect();
    assert_eq!(
        header,
        [
            "residence [min]",
            "se_fraction",
            "peak mean [nm]",
            "peak sd [nm]"
        ]
    );
    let sds: Vec<f64> = map
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(3).expect("sd").parse().expect("number"))
        .collect();
    assert!(sds.len() > 1000, "{}", sds.len());
    let worst = sds.iter().copied().fold(0.0, f64::max);
    assert!(worst <= level_nm, "{worst}");
    let package = std::fs::read_to_string(out.join("datapackage.json")).expect("package");
    assert!(package.contains("\"path\": \"map.csv\""));
    let (manifest, problems) = qdx::bundle::verify(&out).expect("manifest");
    assert!(problems.is_empty(), "{problems:?}");
    assert!(manifest.files.contains_key("map.csv"));
    // The report draws it: a section with the mean and sd heat maps over the two variables.
    let report = std::fs::read_to_string(out.join("report.html")).expect("report");
    assert!(report.contains("<section id=\"map\">"));
    assert!(report.contains("peak: its uncertainty (sd)"));
    assert!(report.matches("<rect").count() > 2 * 1000);
}

/// With a level no map of this lab reaches, the run spends its budget: the level never stops it
/// early by accident.
#[test]
fn a_map_whose_level_is_out_of_reach_runs_to_the_budget() {
    let text = std::fs::read_to_string("examples/maceiczyk-2014-map.qdx")
        .expect("example")
        .replace("until sd <= 1.5 nm", "until sd <= 0.001 nm")
        .replace("experiments 40", "experiments 12");
    let c = check_text("map.qdx", &text).campaign.expect("valid");
    let dir = tempfile::tempdir().expect("temp");
    let summary = run_simulated(&c, &dir.path().join("b"), &options()).expect("run");
    assert_eq!(summary.experiments, 12, "{summary:?}");
    assert!(summary.stop_reason.contains("budget"), "{summary:?}");
}

#[test]
fn parallel_lines_run_each_batch_at_the_same_time_and_the_bundle_says_where() {
    let text = std::fs::read_to_string("examples/chan-2010-parallel-screen.qdx")
        .expect("example")
        .replace("experiments 24,", "experiments 9,")
        .replace("initial sobol 6", "initial sobol 3")
        .replace("  stop when peak within 2 nm and fwhm <= 35 nm\n", "");
    let c = check_text("lines.qdx", &text).campaign.expect("valid");
    assert_eq!(c.optimizer.batch, 3, "one experiment per line by default");
    let dir = tempfile::tempdir().expect("temp");
    let bundle = dir.path().join("b");
    let summary = run_simulated(&c, &bundle, &options()).expect("run");
    assert_eq!(summary.experiments, 9);
    let records = qdx::journal::read(&bundle.join("journal.jsonl")).expect("journal");
    // Batch slot k runs on line k; each line's cell is calibrated once, before its first.
    let mut placed = Vec::new();
    let mut calibrated = Vec::new();
    for r in &records {
        match &r.event {
            qdx::journal::Event::Suggested { batch, line, .. } => {
                placed.push((*batch, line.clone().expect("a line"), r.t));
            }
            qdx::journal::Event::Calibrated { line, .. } => calibrated.push(line.clone()),
            _ => {}
        }
    }
    let names = |l: &[&str]| l.iter().map(|s| Some((*s).to_owned())).collect::<Vec<_>>();
    assert_eq!(calibrated, names(&["a", "b", "c"]));
    for (k, (batch, line, _)) in placed.iter().enumerate() {
        assert_eq!(*batch, k as u64 / 3);
        assert_eq!(line, ["a", "b", "c"][k % 3]);
    }
    // A batch's experiments start together, and the next batch after the slowest of them.
    let start = column(&bundle.join("observations.csv"), "lab_time_start [s]");
    let end = column(&bundle.join("observations.csv"), "lab_time_end [s]");
    for b in 0..3 {
        let starts: Vec<f64> = (0..3).filter_map(|k| start[b * 3 + k]).collect();
        assert_eq!(starts.len(), 3);
        assert!(
            starts.iter().all(|s| (s - starts[0]).abs() < 1e-9),
            "{starts:?}"
        );
        if b > 0 {
            let slowest = (0..3)
                .filter_map(|k| end[(b - 1) * 3 + k])
                .fold(0.0, f64::max);
            assert!(
                starts[0] >= slowest,
                "batch {b} starts at {} before {slowest}",
                starts[0]
            );
        }
    }
    // Three lines take about a third of the lab time the same experiments take one by one.
    let one_by_one: f64 = (0..9)
        .map(|k| end[k].expect("measured") - start[k].expect("started"))
        .sum();
    assert!(
        summary.lab_time < one_by_one * 0.6,
        "{} s on three lines, {one_by_one} s one after another",
        summary.lab_time
    );
    let lines: Vec<String> = csv::Reader::from_path(bundle.join("observations.csv"))
        .expect("observations")
        .records()
        .map(|r| r.expect("row").get(2).expect("line column").to_owned())
        .collect();
    assert_eq!(lines, ["a", "b", "c", "a", "b", "c", "a", "b", "c"]);
    let (_, problems) = qdx::bundle::verify(&bundle).expect("manifest");
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        qdx::runtime::replay_decisions(&c, &records).expect("replay"),
        Vec::<String>::new()
    );
}

/// A choice variable sets a pump rate per level through `match`: the plan sends each level's
/// value, the one validation proved within the pump's limits, and a run records it.
#[test]
fn a_match_over_a_choice_sets_the_rate_of_each_level() {
    let c = check_path(Path::new("tests/data/valid/match_over_choice.qdx"))
        .campaign
        .expect("checks");
    let lig = c.device_id("p_lig").expect("p_lig");
    let total = 100e-9 / 120.0; // r1.volume / residence, m³/s
    let rate_of = |level: f64| {
        let mut state = LabState::initial(&c);
        let plan = plan_experiment(&c, &mut state, 0, &[120.0, 0.5, level, 543.15]).expect("plan");
        plan.steps
            .iter()
            .flat_map(|s| &s.ops)
            .find_map(|o| match o.setting() {
                Some((d, qdx::plan::Command::SetRate { rate })) if d == lig => Some(*rate),
                _ => None,
            })
            .expect("a rate for p_lig")
    };
    let oleylamine = rate_of(0.0);
    let oleic_acid = rate_of(1.0);
    assert!((oleylamine - 10e-9 / 60.0).abs() < 1e-15, "{oleylamine}");
    assert!((oleic_acid - 0.2 * total).abs() < 1e-15, "{oleic_acid}");

    let dir = tempfile::tempdir().expect("temp");
    let budget = c.budget.experiments;
    let mut short = c.clone();
    short.budget.experiments = Some(budget.map_or(3, |b| b.min(3)));
    let out = dir.path().join("run");
    let summary = run_simulated(&short, &out, &options()).expect("runs");
    assert!(summary.experiments > 0);
    let (_, problems) = qdx::bundle::verify(&out).expect("manifest");
    assert!(problems.is_empty(), "{problems:?}");
}
