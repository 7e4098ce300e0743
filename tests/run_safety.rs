//! Issue 9's runtime defects, each pinned by the behaviour a user saw: waits that end too
//! early, requirements that changed nothing, runs that panicked or went on failing.

use std::path::Path;

use qdx::plan::{LabState, Operation, plan_experiment};
use qdx::runtime::{RunOptions, run_simulated};

use crate::support::{check_text, column, rendered};

fn options() -> RunOptions {
    RunOptions {
        progress: qdx::runtime::Progress::Off,
        sync_each: false,
        halt_after: None,
    }
}

fn campaign(text: &str) -> qdx::validate::campaign::Campaign {
    let checked = check_text("issue9.qdx", text);
    let report = rendered(&checked);
    checked.campaign.unwrap_or_else(|| panic!("{report}"))
}

/// Seeds and iodide meet in `m1`, react in a long first coil, are diluted in `m2` and pass a
/// short second coil: the merge of *every* stream is `m2`, but the new composition is made in
/// `r1`, 600 uL upstream.
fn two_coil_campaign() -> String {
    r#"qdx 1
campaign "two coils" {
  seed 5
  budget { experiments 3 }
}
use std.devices
use std.spectra
stocks {
  seeds "CsPbBr3" in p_seed { concentration 0.01 mol/L }
  iodide "ZnI2" in p_iodide { concentration 0.05 mol/L, halide "I" }
  diluent "toluene" in p_dil { concentration 0.001 mol/L }
}
reactor {
  pump p_seed : syringe_pump { syringe 20 mL, max_rate 2 mL/min }
  pump p_iodide : syringe_pump { syringe 20 mL, max_rate 2 mL/min }
  pump p_dil : syringe_pump { syringe 20 mL, max_rate 2 mL/min }
  mixer m1 : t_mixer { volume 1 uL }
  coil r1 : reactor_coil { volume 600 uL }
  mixer m2 : t_mixer { volume 0.5 uL }
  coil r2 : reactor_coil { volume 10 uL }
  cell s1 : flow_cell { volume 1 uL, spectrometer spec1 }
  spectrometer spec1 : uv_vis_pl { range 350 nm .. 800 nm, excitation 365 nm }
  outlet waste : collector
  p_seed, p_iodide -> m1 -> r1 -> m2
  p_dil -> m2
  m2 -> r2 -> s1 -> waste
}
variables {
  iodide_frac : ratio in 0 .. 0.5
}
derive {
  p_iodide.rate = 200 uL/min * iodide_frac
  p_seed.rate = 200 uL/min - p_iodide.rate
  p_dil.rate = 100 uL/min
}
measure at s1 {
  steady_state after 3 reactor_volumes
  photoluminescence { integration 100 ms, average 5 }
}
proxies {
  peak = photoluminescence.peak_wavelength()
}
objectives {
  maximize peak
}
optimizer grid {
  levels { iodide_frac [0, 0.5, 0.25] }
}
simulate cspbx3_halide_exchange { seeds seeds, halide iodide }
"#
    .to_owned()
}

#[test]
fn the_steady_state_wait_covers_every_coil_up_to_the_cell() {
    let c = campaign(&two_coil_campaign());
    let mut state = LabState::initial(&c);
    let plan = plan_experiment(&c, &mut state, 0, &[0.25]).expect("planned");
    let wait = plan
        .steps
        .iter()
        .flat_map(|s| &s.ops)
        .find_map(|o| match o {
            Operation::WaitSteadyState {
                volumes,
                residence,
                extra,
                ..
            } => Some(volumes * residence + extra),
            _ => None,
        })
        .expect("a steady-state wait");
    // r1 and m1 carry 200 uL/min, m2, r2 and s1 carry 300 uL/min: one reactor volume is
    // (601 / 200 + 11.5 / 300) min, and three of them are waited.
    let one = (601.0 / 200.0 + 11.5 / 300.0) * 60.0;
    assert!(
        (wait - 3.0 * one).abs() < 1e-6,
        "waited {wait} s, expected {} s",
        3.0 * one
    );
    // What `qdx plan` and the journal say of the wait is the wait computed: 3 × 182.6 s, not
    // "3 reactor volumes (11.5 uL) at 300 uL/min" (issue 14, item 10).
    let described: Vec<String> = plan
        .steps
        .iter()
        .flat_map(|s| &s.ops)
        .filter(|o| matches!(o, Operation::WaitSteadyState { .. }))
        .map(|o| o.describe(&c))
        .collect();
    assert_eq!(
        described,
        vec!["wait 3 × 182.6 s = 547.8 s at 300 uL/min in all".to_owned()]
    );
    // And on the simulated lab, every experiment measures the product, not what was left in
    // the coils: the three peaks are the steady-state ones, distinct and ordered by iodide.
    let dir = tempfile::tempdir().expect("temp");
    let summary = run_simulated(&c, &dir.path().join("b"), &options()).expect("run");
    assert_eq!(summary.failed, 0, "{summary:?}");
    let csv = dir.path().join("b/observations.csv");
    let mut points: Vec<(Option<f64>, Option<f64>)> = column(&csv, "iodide_frac")
        .into_iter()
        .zip(column(&csv, "peak [nm]"))
        .collect();
    points.sort_by(|a, b| a.0.partial_cmp(&b.0).expect("numbers"));
    let [
        (Some(_), Some(none)),
        (Some(_), Some(quarter)),
        (Some(_), Some(half)),
    ] = points[..]
    else {
        panic!("{points:?}")
    };
    // More iodide, redder emission, each well apart from its neighbour.
    assert!(none + 20.0 < quarter && quarter + 20.0 < half, "{points:?}");
}

/// One pump and a heated coil, with a settle hold and a heater time constant.
const HEATED: &str = include_str!("data/runs/heated.qdx");

/// Journal records of a run's bundle.
fn journal(out: &Path) -> Vec<qdx::journal::Record> {
    qdx::journal::read(&out.join("journal.jsonl")).expect("journal")
}

/// The position of the first setpoint sent for an experiment and of the last safe state.
fn setpoint_then_safe(records: &[qdx::journal::Record]) -> (usize, usize) {
    use qdx::journal::{Command, Event};
    let setpoint = records
        .iter()
        .position(|r| {
            matches!(
                &r.event,
                Event::Command {
                    experiment: Some(_),
                    command: Command::SetSetpoint { .. },
                    ..
                }
            )
        })
        .expect("a setpoint was sent");
    let safe = records
        .iter()
        .rposition(|r| matches!(&r.event, Event::SafeState { .. }))
        .expect("the lab reached its safe state");
    (setpoint, safe)
}

#[test]
fn an_absurd_wait_that_got_past_check_ends_the_run_safely_instead_of_panicking() {
    type Edit = fn(&mut qdx::validate::campaign::Campaign);
    let edits: [(&str, Edit); 2] = [
        ("heater time_constant 1e20 s", |c| {
            for d in &mut c.devices {
                if let Some(qdx::validate::campaign::PropertyValue::Quantity { si, .. }) =
                    d.properties.get_mut("time_constant")
                {
                    *si = 1e20;
                }
            }
        }),
        ("settle ... for 1e25 s", |c| {
            if let Some(m) = c.measurement.as_mut() {
                m.settle_hold = 1e25;
            }
        }),
    ];
    for (what, edit) in edits {
        let mut c = campaign(HEATED);
        edit(&mut c);
        let dir = tempfile::tempdir().expect("temp");
        let out = dir.path().join("b");
        let error = run_simulated(&c, &out, &options()).expect_err(what);
        let message = error.to_string();
        assert!(
            message.contains("refusing to wait") && message.contains("30 days"),
            "{what}: {message}"
        );
        let (setpoint, safe) = setpoint_then_safe(&journal(&out));
        assert!(
            setpoint < safe,
            "{what}: the safe state came after the heater was set"
        );
    }
}

/// An optimizer with a bug: it panics when asked for its second point.
#[derive(Debug)]
struct Panicking {
    asked: u32,
}

impl qdx_optimize::Strategy for Panicking {
    fn name(&self) -> &'static str {
        "panicking"
    }

    fn ask(
        &mut self,
        n: usize,
        _pending: &[qdx_optimize::Point],
    ) -> qdx_optimize::Result<Vec<qdx_optimize::Suggestion>> {
        self.asked += 1;
        assert!(self.asked < 2, "a bug in the optimizer");
        Ok((0..n)
            .map(|_| qdx_optimize::Suggestion {
                // 50 uL/min and 60 °C, in SI.
                point: qdx_optimize::Point(vec![
                    qdx_optimize::Value::Real(50e-9 / 60.0),
                    qdx_optimize::Value::Real(333.15),
                ]),
                explain: qdx_optimize::Explanation::default(),
            })
            .collect())
    }

    fn tell(&mut self, _observations: &[qdx_optimize::Observation]) -> qdx_optimize::Result<()> {
        Ok(())
    }
}

#[test]
fn a_panic_inside_the_run_still_brings_the_lab_to_its_safe_state() {
    let c = campaign(HEATED);
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("b");
    let error =
        qdx::runtime::run_simulated_with(&c, &out, &options(), Box::new(Panicking { asked: 0 }))
            .expect_err("the run fails");
    assert!(
        matches!(error, qdx::runtime::RunError::Panicked(ref m) if m.contains("a bug in the optimizer")),
        "{error}"
    );
    let records = journal(&out);
    let (setpoint, safe) = setpoint_then_safe(&records);
    assert!(setpoint < safe);
    let Some(qdx::journal::Event::SafeState { reason, failures }) =
        records.get(safe).map(|r| &r.event)
    else {
        unreachable!()
    };
    assert!(reason.contains("a bug in the optimizer"), "{reason}");
    assert!(failures.is_empty(), "{failures:?}");
}

/// Seeds and iodide on a grid of iodide shares (`levels`); `extra` goes into the objectives.
fn halide_campaign(spectrometer_range: &str, levels: &str, extra: &str) -> String {
    format!(
        r#"qdx 1
campaign "halides" {{
  seed 3
  budget {{ experiments 20 }}
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
  spectrometer spec1 : uv_vis_pl {{ range {spectrometer_range}, excitation 365 nm }}
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
  steady_state after 3 reactor_volumes
  photoluminescence {{ integration 100 ms, average 5 }}
}}
proxies {{
  peak = photoluminescence.peak_wavelength()
}}
objectives {{
  maximize peak
  {extra}
}}
optimizer grid {{
  levels {{ iodide_frac [{levels}] }}
}}
simulate cspbx3_halide_exchange {{ seeds seeds, halide iodide }}
"#
    )
}

/// Each experiment's status and reason, from the journal.
fn statuses(out: &Path) -> Vec<(String, Option<String>)> {
    journal(out)
        .into_iter()
        .filter_map(|r| match r.event {
            qdx::journal::Event::Measured { status, reason, .. } => {
                Some((status.to_string(), reason))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn an_experiment_that_misses_a_requirement_fails_and_cannot_stop_the_run() {
    // Without iodide the emission is green (~512 nm): it meets the stop condition, but not
    // the requirement.
    let c = campaign(&halide_campaign(
        "350 nm .. 800 nm",
        "0, 0.25, 0.5",
        "require peak >= 560 nm\n  stop when peak >= 500 nm",
    ));
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("b");
    let summary = run_simulated(&c, &out, &options()).expect("run");
    let seen = statuses(&out);
    let (status, reason) = seen.first().expect("a first experiment");
    assert_eq!(status, "infeasible", "{seen:?}");
    let reason = reason.as_deref().unwrap_or_default();
    assert!(
        reason.starts_with("requirement `peak >= 560 nm` not met (peak = 5"),
        "{reason}"
    );
    // The second experiment (a quarter of the halide as iodide) is orange: it meets both.
    assert_eq!(seen.get(1).map(|s| s.0.as_str()), Some("ok"), "{seen:?}");
    assert_eq!(
        summary.stop_reason, "the stop condition was met by experiment 1",
        "{seen:?}"
    );
    // The failed experiment's peak is kept in the record.
    let peaks = column(&out.join("observations.csv"), "peak [nm]");
    assert!(peaks.first().copied().flatten().is_some(), "{peaks:?}");
}

#[test]
fn a_run_whose_experiments_keep_failing_the_same_way_stops_and_says_so() {
    // The spectrometer stops at 450 nm: the green emission is never seen (each experiment's
    // reason names its own signal-to-noise ratio: one cause all the same).
    let c = campaign(&halide_campaign(
        "350 nm .. 450 nm",
        "0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35",
        "",
    ));
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("b");
    let summary = run_simulated(&c, &out, &options()).expect("run");
    let seen = statuses(&out);
    assert_eq!(seen.len(), qdx::runtime::REPEATED_FAILURES, "{seen:?}");
    assert!(seen.iter().all(|(s, _)| s == "failed"), "{seen:?}");
    assert!(
        summary.end == qdx::runtime::RunEnd::Aborted && !summary.finished,
        "{summary:?}"
    );
    assert!(
        summary.stop_reason.starts_with(
            "the last 5 experiments failed the same way (peak: the signal is too noisy"
        ),
        "{}",
        summary.stop_reason
    );
}

/// Issue 16: the repeated-failure stop is a declared option, `budget { repeated_failures N }`.
#[test]
fn the_repeated_failure_stop_is_declared_in_the_budget() {
    let text = halide_campaign(
        "350 nm .. 450 nm",
        "0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35",
        "",
    );
    for (written, stops_after) in [
        ("repeated_failures 3", Some(3)),
        ("repeated_failures 20", None),
    ] {
        let c = campaign(&text.replace(
            "budget { experiments 20 }",
            &format!("budget {{ experiments 8, {written} }}"),
        ));
        let dir = tempfile::tempdir().expect("temp");
        let out = dir.path().join("b");
        let summary = run_simulated(&c, &out, &options()).expect("run");
        let seen = statuses(&out);
        assert!(seen.iter().all(|(s, _)| s == "failed"), "{seen:?}");
        match stops_after {
            Some(n) => {
                assert_eq!(seen.len(), n, "{written}: {seen:?}");
                assert_eq!(summary.end, qdx::runtime::RunEnd::Aborted, "{summary:?}");
                assert!(
                    summary
                        .stop_reason
                        .starts_with("the last 3 experiments failed the same way"),
                    "{}",
                    summary.stop_reason
                );
            }
            // Never reached: every grid point runs and the run ends as the design does.
            None => {
                assert_eq!(seen.len(), 8, "{written}: {seen:?}");
                assert!(summary.finished, "{summary:?}");
            }
        }
    }
}

/// Issue 14: a condition over a missing proxy is unknown, and `not` keeps it unknown. `gap`
/// is a formula with no value once `iodide_frac` passes 0.2: the second experiment has none.
#[test]
fn a_missing_proxy_never_meets_a_stop_condition_or_a_requirement_even_negated() {
    let with_gap = |extra: &str| {
        halide_campaign("350 nm .. 800 nm", "0, 0.25, 0.5", extra).replace(
            "  peak = photoluminescence.peak_wavelength()\n",
            "  peak = photoluminescence.peak_wavelength()\n  gap = sqrt(0.2 - iodide_frac)\n",
        )
    };
    // `not (gap < 100)` is unknown where `gap` is missing: the run goes on to the end.
    let c = campaign(&with_gap("stop when not (gap < 100)"));
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("b");
    let summary = run_simulated(&c, &out, &options()).expect("run");
    let seen = statuses(&out);
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(
        !summary.stop_reason.contains("stop condition"),
        "{}",
        summary.stop_reason
    );
    let gaps = column(&out.join("observations.csv"), "gap");
    assert!(gaps.get(1).is_some_and(Option::is_none), "{gaps:?}");
    // `require not (gap >= 100)` is not met where `gap` is missing: that experiment is
    // infeasible, and says why.
    let c = campaign(&with_gap("require not (gap >= 100)"));
    let out = dir.path().join("c");
    run_simulated(&c, &out, &options()).expect("run");
    let seen = statuses(&out);
    let status: Vec<&str> = seen.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(status, ["ok", "infeasible", "infeasible"], "{seen:?}");
    let reason = seen.get(1).and_then(|s| s.1.as_deref()).unwrap_or_default();
    assert!(
        reason.contains("requirement `not gap >= 100` not met (gap not measured)"),
        "{reason}"
    );
}

/// A slow stream through a long coil before a late merge; the constraint keeps its
/// steady-state wait within 7 days, so the campaign checks.
const LATE_MERGE: &str = include_str!("data/runs/late_merge.qdx");

/// Issue 14: the steady-state wait the validator proves is the one the planner waits (the
/// residence along each stream's own way, not the reactor volume over the total flow), and an
/// experiment whose wait is too long anyway is refused before any of its settings is sent.
#[test]
fn a_late_merge_wait_is_proven_by_check_and_refused_before_anything_moves() {
    // Without the constraint, check refuses the 104-day wait of the slowest stream.
    let without = LATE_MERGE.replace("  p_cd.rate >= 0.1527 uL/min\n", "");
    let report = rendered(&check_text("late.qdx", &without));
    assert!(
        report.contains("the steady-state wait can last 104.2 days"),
        "{report}"
    );
    // A campaign that got past check some other way (here: its first coil grew after it) is
    // refused by its plan, before any instrument is opened: nothing reaches the lab.
    let mut c = campaign(LATE_MERGE);
    for way in &mut c.topology.ways {
        for s in &mut way.segments {
            s.volume *= 100.0;
        }
    }
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("b");
    let error = run_simulated(&c, &out, &options()).expect_err("refused");
    assert!(
        error.to_string().contains(
            "the steady-state wait would last 289.7 days; a single wait lasts at most 7 days"
        ),
        "{error}"
    );
    let sent: Vec<_> = qdx::journal::read(&out.join("journal.jsonl"))
        .unwrap_or_default()
        .into_iter()
        .filter(|r| matches!(r.event, qdx::journal::Event::Command { .. }))
        .collect();
    assert!(sent.is_empty(), "{sent:?}");
}
