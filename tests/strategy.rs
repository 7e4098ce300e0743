//! Strategies and designs against the campaign's search space: constraints in SI units, table
//! pools, prior data from a campaign with other ranges.

use std::path::Path;
use std::process::Command;

use qdx::diagnostic::{Style, render_all};
use qdx::journal::Event;
use qdx::runtime::{RunOptions, run_simulated};
use qdx::validate::{self, Campaign, Checked};
use qdx::world::MemoryWorld;

use crate::support::rendered;

fn qdx() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_qdx"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100");
    c
}

fn options() -> RunOptions {
    RunOptions {
        progress: qdx::runtime::Progress::Off,
        sync_each: false,
        halt_after: None,
    }
}

/// Checks `c.qdx` among `files` (path, text), all in memory.
fn check_files(campaign: &str, files: &[(&str, &str)]) -> Checked {
    let mut world = MemoryWorld::new().with("c.qdx", campaign);
    for (path, text) in files {
        world.insert(*path, *text);
    }
    let loaded = qdx::load::load(&world, Path::new("c.qdx"), "c.qdx");
    validate::validate(&loaded, &world)
}

fn valid(checked: Checked) -> Campaign {
    let report = rendered(&checked);
    checked.campaign.unwrap_or_else(|| panic!("{report}"))
}

/// Every experiment's variable values as the journal suggested them, with its status and
/// reason.
fn experiments(bundle: &Path) -> Vec<(Vec<f64>, String, Option<String>)> {
    let records = qdx::journal::read(&bundle.join("journal.jsonl")).expect("journal");
    let mut values = std::collections::BTreeMap::new();
    let mut out = Vec::new();
    for r in records {
        match r.event {
            Event::Suggested {
                experiment,
                values: v,
                ..
            } => {
                values.insert(experiment, v);
            }
            Event::Measured {
                experiment,
                status,
                reason,
                ..
            } => out.push((
                values.get(&experiment).cloned().unwrap_or_default(),
                status.to_string(),
                reason,
            )),
            _ => {}
        }
    }
    out
}

const UL_MIN: f64 = 1e-9 / 60.0;

/// Two pumps driven by their own rate variables, whose sum is limited by a constraint.
fn rates_campaign(optimizer: &str, experiments: u32) -> String {
    format!(
        r#"qdx 1

campaign "rate-sum" {{
  seed 7
  budget {{ experiments {experiments} }}
}}

use std.devices
use std.spectra

stocks {{
  cadmium "Cd oleate" in p_cd {{ concentration 0.1 mol/L }}
  selenium "TOP-Se" in p_se {{ concentration 0.1 mol/L }}
}}

reactor {{
  pump p_cd : syringe_pump {{ syringe 5 mL, max_rate 100 uL/min }}
  pump p_se : syringe_pump {{ syringe 5 mL, max_rate 100 uL/min }}
  mixer m1 : t_mixer {{ volume 1 uL }}
  coil r1 : reactor_coil {{ volume 20 uL, heater h1 }}
  heater h1 : heater {{ range 20 degC .. 320 degC }}
  cell s1 : flow_cell {{ volume 2 uL, spectrometer spec1 }}
  spectrometer spec1 : uv_vis_pl {{ range 400 nm .. 750 nm, excitation 405 nm }}
  outlet waste : collector

  p_cd, p_se -> m1 -> r1 -> s1 -> waste
}}

variables {{
  cd_rate : flow_rate in 2 uL/min .. 18 uL/min -> p_cd.rate
  se_rate : flow_rate in 2 uL/min .. 18 uL/min -> p_se.rate
  temperature : temperature in 240 degC .. 300 degC -> h1
}}

constraints {{
  p_cd.rate + p_se.rate <= 20 uL/min
}}

measure at s1 {{
  steady_state after 3 reactor_volumes
  photoluminescence {{ integration 100 ms, average 5 }}
}}

proxies {{
  peak = photoluminescence.peak_wavelength()
  intensity = photoluminescence.peak_intensity()
}}

objectives {{
  target peak = 560 nm within 5 nm
  maximize intensity in 0 .. 400000
  combine desirability {{ peak 2, intensity 1 }}
}}

{optimizer}

safety {{
  temperature <= 310 degC
}}

simulate cdse_growth {{ cadmium cadmium, selenium selenium }}
"#
    )
}

/// Runs a campaign on the simulated lab and returns its experiments.
fn run(c: &Campaign) -> Vec<(Vec<f64>, String, Option<String>)> {
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("b");
    run_simulated(c, &out, &options()).unwrap_or_else(|e| panic!("{e}"));
    experiments(&out)
}

#[test]
fn a_rate_sum_constraint_in_si_units_holds_in_every_experiment_of_every_strategy() {
    let limit = 20.0 * UL_MIN * (1.0 + 1e-9);
    for optimizer in [
        "optimizer bayesian {\n  initial sobol 4\n}",
        "optimizer sobol",
        "optimizer latin_hypercube",
        "optimizer random",
        "optimizer snobfit",
        "optimizer nelder_mead",
        "optimizer evolutionary",
    ] {
        let c = valid(check_files(&rates_campaign(optimizer, 12), &[]));
        let runs = run(&c);
        assert_eq!(runs.len(), 12, "{optimizer}");
        for (values, _, _) in &runs {
            let sum = values[0] + values[1];
            assert!(
                sum <= limit,
                "{optimizer}: {} uL/min is above the 20 uL/min limit",
                sum / UL_MIN
            );
        }
    }
}

const GRID: &str = "optimizer grid {
  levels {
    cd_rate [2 uL/min, 10 uL/min, 18 uL/min]
    se_rate [2 uL/min, 10 uL/min, 18 uL/min]
    temperature [240 degC, 300 degC]
  }
}";

#[test]
fn a_grid_leaves_out_the_points_that_break_a_constraint() {
    let c = valid(check_files(&rates_campaign(GRID, 18), &[]));
    let plan = qdx::plan::plan(&c).expect("plan");
    // (10, 18), (18, 10) and (18, 18) uL/min, at each of two temperatures.
    assert_eq!(plan.experiments, 12);
    insta::assert_snapshot!(plan.warnings.join("\n"), @"6 of the grid's 18 points break a constraint and are left out");
    let runs = run(&c);
    assert_eq!(runs.len(), 12);
    for (values, _, _) in &runs {
        assert!(
            values[0] + values[1] <= 20.0 * UL_MIN * (1.0 + 1e-9),
            "{values:?}"
        );
    }
}

/// Issue 14: check and plan agree on a grid's points. Check refuses a grid none of whose
/// points satisfies the constraints (the planner could run none of them).
#[test]
fn a_grid_with_no_point_inside_the_constraints_is_refused_by_check() {
    let text = rates_campaign(GRID, 18).replace(
        "p_cd.rate + p_se.rate <= 20 uL/min",
        "p_cd.rate + p_se.rate <= 20 uL/min\n  p_cd.rate >= 5 uL/min\n  p_cd.rate <= 9 uL/min",
    );
    let checked = check_files(&text, &[]);
    assert!(checked.campaign.is_none());
    insta::assert_snapshot!(render_all(
        &checked.diagnostics,
        &checked.sources,
        Style::Plain
    ));
}

/// Issue 14: a grid is counted against the budget by the points it runs, those that satisfy
/// the constraints, as the planner counts them.
#[test]
fn a_grid_is_counted_against_the_budget_by_the_points_it_runs() {
    // 18 points, 12 of them inside the constraint: a budget of 12 runs them all.
    let c = valid(check_files(&rates_campaign(GRID, 12), &[]));
    let plan = qdx::plan::plan(&c).expect("plan");
    assert_eq!(plan.experiments, 12);
    // A budget of 11 is one short, and check says so in the same terms.
    let checked = check_files(&rates_campaign(GRID, 11), &[]);
    assert!(checked.campaign.is_none());
    insta::assert_snapshot!(render_all(
        &checked.diagnostics,
        &checked.sources,
        Style::Plain
    ));
}

/// The Suzuki pool example with another optimizer block and budget.
fn suzuki(optimizer: &str, experiments: u32) -> String {
    std::fs::read_to_string("examples/suzuki-pool.qdx")
        .expect("example")
        .replace("optimizer bayesian {\n  initial sobol 6\n}", optimizer)
        .replace("experiments 30", &format!("experiments {experiments}"))
}

fn suzuki_table() -> String {
    std::fs::read_to_string("examples/data/suzuki-flow.csv").expect("table")
}

#[test]
fn sobol_and_latin_hypercube_designs_on_a_pool_run_rows_of_the_table() {
    let table = suzuki_table();
    for optimizer in [
        "optimizer sobol { points 8 }",
        "optimizer latin_hypercube { points 8 }",
    ] {
        let c = valid(check_files(
            &suzuki(optimizer, 8),
            &[("data/suzuki-flow.csv", &table)],
        ));
        let runs = run(&c);
        assert_eq!(runs.len(), 8, "{optimizer}");
        for (values, status, reason) in &runs {
            assert_eq!(status, "ok", "{optimizer}: {values:?} {reason:?}");
        }
        let mut distinct: Vec<&Vec<f64>> = runs.iter().map(|(v, _, _)| v).collect();
        distinct.sort_by(|a, b| a.partial_cmp(b).expect("numbers"));
        distinct.dedup();
        assert_eq!(distinct.len(), 8, "{optimizer}: no row twice");
    }
}

#[test]
fn strategies_that_cannot_pick_pool_rows_are_refused_by_check() {
    let table = suzuki_table();
    for (optimizer, snapshot) in [
        ("optimizer snobfit", true),
        ("optimizer nelder_mead", false),
        ("optimizer evolutionary", false),
        (
            "optimizer grid {\n  levels { res_time 2, temperature 2, catalyst_loading 2 }\n}",
            true,
        ),
    ] {
        let checked = check_files(&suzuki(optimizer, 200), &[("data/suzuki-flow.csv", &table)]);
        assert!(checked.campaign.is_none(), "{optimizer}");
        let pool: Vec<_> = checked
            .diagnostics
            .iter()
            .filter(|d| d.code == "qdx::validate::strategy_pool")
            .collect();
        assert_eq!(pool.len(), 1, "{optimizer}:\n{}", rendered(&checked));
        if snapshot {
            let name = optimizer
                .split_whitespace()
                .nth(1)
                .expect("a strategy")
                .to_owned();
            insta::assert_snapshot!(format!("pool_refuses_{name}"), rendered(&checked));
        }
    }
}

#[test]
fn check_exits_one_for_a_strategy_that_cannot_run_on_a_pool() {
    let dir = tempfile::tempdir().expect("temp");
    std::fs::create_dir_all(dir.path().join("data")).expect("folder");
    std::fs::write(dir.path().join("data/suzuki-flow.csv"), suzuki_table()).expect("table");
    let file = dir.path().join("c.qdx");
    std::fs::write(&file, suzuki("optimizer snobfit", 30)).expect("campaign");
    let out = qdx().arg("check").arg(&file).output().expect("qdx runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`snobfit` cannot pick rows of a table in pool mode"),
        "{stderr}"
    );
}

#[test]
fn an_empty_output_cell_marks_its_experiment_failed_with_the_reason() {
    let table = "ligand,res_time,temperature,catalyst_loading,yield,turnover\n\
                 L0,60,30,0.5,0.1,1.0\n\
                 L1,600,30,0.5,,\n\
                 L2,60,110,2.5,0.3,0.4\n";
    let c = valid(check_files(
        &suzuki("optimizer random", 3),
        &[("data/suzuki-flow.csv", table)],
    ));
    let runs = run(&c);
    assert_eq!(runs.len(), 3);
    let failed: Vec<&(Vec<f64>, String, Option<String>)> =
        runs.iter().filter(|(_, s, _)| s != "ok").collect();
    assert_eq!(failed.len(), 1, "{runs:?}");
    let (values, status, reason) = failed[0];
    // Ligand L1, 600 s: the row with the empty cells.
    assert_eq!((values[0], values[1]), (1.0, 600.0));
    assert_eq!(status, "failed");
    insta::assert_snapshot!(reason.clone().unwrap_or_default(), @"table model: the table records this experiment as failed (empty `yield`, `turnover`)");
}

/// Issue 16: failed syntheses a pool table records are results, not a fault of the lab: they
/// never trigger the repeated-failure stop (7 of 30 random pool runs stopped themselves early).
/// The journal keeps them apart (`recorded`), so a resumed run counts the same way.
#[test]
fn failed_syntheses_a_table_records_never_stop_the_run_as_repeated_failures() {
    let mut table = String::from("ligand,res_time,temperature,catalyst_loading,yield,turnover\n");
    for k in 0..12 {
        // Two rows of twelve are complete; the others record a failed synthesis.
        let outputs = if k % 6 == 0 { "0.2,0.5" } else { "," };
        table.push_str(&format!("L{},{},30,0.5,{outputs}\n", k % 8, 60 + 40 * k));
    }
    let c = valid(check_files(
        &suzuki("optimizer random", 12),
        &[("data/suzuki-flow.csv", &table)],
    ));
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("b");
    let summary = run_simulated(&c, &out, &options()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary.experiments, 12, "{summary:?}");
    assert!(summary.stop_reason.contains("budget"), "{summary:?}");
    let runs = experiments(&out);
    assert_eq!(runs.iter().filter(|(_, s, _)| s == "failed").count(), 10);
    let journal = std::fs::read_to_string(out.join("journal.jsonl")).expect("journal");
    assert_eq!(journal.matches("\"recorded\":true").count(), 10);
}

/// Issue 16: with `failures auto` (the default) each model-based suggestion made after a failure
/// records in `optimizer/suggestions.jsonl` which treatment of failures its model used and the
/// evidence (the two leave-one-out scores, the counts of failed and successful experiments it
/// was made from); the report's experiment card says it too.
#[test]
fn suggestions_record_the_failure_treatment_auto_chose() {
    let mut table = String::new();
    for (k, line) in suzuki_table().lines().enumerate() {
        // Every third row of the table records a failed synthesis.
        if k > 0 && k % 3 == 0 {
            let cells: Vec<&str> = line.split(',').collect();
            table.push_str(&format!("{},,\n", cells[..4].join(",")));
        } else {
            table.push_str(line);
            table.push('\n');
        }
    }
    let c = valid(check_files(
        &suzuki("optimizer bayesian {\n  initial sobol 6\n}", 16),
        &[("data/suzuki-flow.csv", &table)],
    ));
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("b");
    let summary = run_simulated(&c, &out, &options()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary.experiments, 16, "{summary:?}");
    let statuses: Vec<String> = experiments(&out).into_iter().map(|(_, s, _)| s).collect();
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(out.join("optimizer/suggestions.jsonl"))
            .expect("suggestions")
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
    let mut recorded = 0;
    for (k, line) in lines.iter().enumerate() {
        let explain = &line["explain"];
        // Batch 1: the suggestion for experiment k + 1 saw the k experiments before it.
        let failed = statuses[..k].iter().filter(|s| *s != "ok").count();
        if explain["phase"] != "model" || failed == 0 {
            assert!(explain.get("failures").is_none(), "{line}");
            continue;
        }
        let f = &explain["failures"];
        assert!(
            f["choice"] == "feasibility_model" || f["choice"] == "impute_worst",
            "{line}"
        );
        assert_eq!(f["failures"], failed, "{line}");
        assert_eq!(f["successes"], k - failed, "{line}");
        assert!(
            f["feasibility_score"].is_f64() && f["impute_score"].is_f64(),
            "{line}"
        );
        let (fs, is) = (
            f["feasibility_score"].as_f64().unwrap_or_default(),
            f["impute_score"].as_f64().unwrap_or_default(),
        );
        assert_eq!(f["choice"] == "impute_worst", is > fs, "{line}");
        recorded += 1;
    }
    assert!(
        recorded >= 5,
        "{recorded} suggestions recorded the choice: {lines:?}"
    );
    let report = std::fs::read_to_string(out.join("report.html")).expect("report");
    assert!(
        report.contains("failures modelled by"),
        "the experiment cards say it"
    );
}

/// Issue 16: a campaign without an `optimizer` block runs qdx's default (it was an error):
/// Bayesian optimisation after a Sobol design of max(5, 2·d) experiments, at most half the
/// budget; `check --summary` says so.
#[test]
fn a_campaign_without_an_optimizer_runs_bayesian_optimisation_after_a_sobol_design() {
    use qdx::validate::campaign::{OptimizerConfig, Strategy};
    for (variables, budget, initial) in [
        (3, Some(30), 6),
        (3, Some(8), 4),
        (1, None, 5),
        (2, Some(1), 1),
    ] {
        let o = OptimizerConfig::default_for(variables, budget, true);
        assert_eq!(
            (o.strategy, o.initial),
            (Strategy::Bayesian, Some((Strategy::Sobol, initial))),
            "{variables} variables, budget {budget:?}"
        );
    }
    let screen = OptimizerConfig::default_for(3, Some(8), false);
    assert_eq!((screen.strategy, screen.initial), (Strategy::Sobol, None));
    let text = std::fs::read_to_string("tests/data/valid/no_optimizer.qdx")
        .expect("corpus")
        .replace("budget { experiments 30 }", "budget { experiments 8 }");
    let c = valid(check_files(&text, &[]));
    assert!(c.optimizer.chosen_by_qdx);
    assert!(qdx::validate::summary::summary(&c).contains(
        "optimizer: bayesian, initial sobol 4 (qdx's default: the campaign names no optimizer)"
    ));
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("b");
    let summary = run_simulated(&c, &out, &options()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary.experiments, 8);
    let phases: Vec<String> = std::fs::read_to_string(out.join("optimizer/suggestions.jsonl"))
        .expect("suggestions")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            v["explain"]["phase"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        phases.iter().filter(|p| *p == "initial design").count(),
        4,
        "{phases:?}"
    );
    assert!(
        phases[4..].iter().all(|p| p != "initial design"),
        "{phases:?}"
    );
}

/// Issue 16: Bayesian optimisation of a composite score models each proxy (`model composite`,
/// the default) or the score (`model score`); every model-chosen suggestion records which.
#[test]
fn the_model_option_picks_what_the_gp_models_and_suggestions_record_it() {
    let base = std::fs::read_to_string("tests/data/valid/no_optimizer.qdx")
        .expect("corpus")
        .replace("budget { experiments 30 }", "budget { experiments 8 }");
    let models = |text: &str| -> Vec<String> {
        let c = valid(check_files(text, &[]));
        let dir = tempfile::tempdir().expect("temp");
        let out = dir.path().join("b");
        run_simulated(&c, &out, &options()).unwrap_or_else(|e| panic!("{e}"));
        std::fs::read_to_string(out.join("optimizer/suggestions.jsonl"))
            .expect("suggestions")
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("json");
                v["explain"]["model"].as_str().unwrap_or("-").to_owned()
            })
            .collect()
    };
    let declared = |model: &str| {
        base.replace(
            "safety {",
            &format!("optimizer bayesian {{\n  initial sobol 4\n  model {model}\n}}\n\nsafety {{"),
        )
    };
    let expect = |model: &str| {
        let mut v = vec!["-".to_owned(); 4];
        v.extend(std::iter::repeat_n(model.to_owned(), 4));
        v
    };
    assert_eq!(models(&base), expect("composite"));
    assert_eq!(models(&declared("composite")), expect("composite"));
    assert_eq!(models(&declared("score")), expect("score"));
    let c = valid(check_files(&declared("composite"), &[]));
    assert!(matches!(
        &c.search.strategy,
        qdx_optimize::StrategySpec::Bayesian(b) if b.model == qdx_optimize::BayesModel::Composite
    ));
    assert!(qdx::validate::summary::summary(&c).contains("model composite"));
}

/// Issue 20: `surrogate extra_trees` and `surrogate nn_ensemble` replace the GP (of the score,
/// or of each proxy with `model composite`); every model-chosen suggestion records the surrogate
/// and the importance of each variable.
#[test]
fn the_surrogate_option_picks_the_learned_model_and_suggestions_record_importances() {
    let base = std::fs::read_to_string("tests/data/valid/no_optimizer.qdx")
        .expect("corpus")
        .replace("budget { experiments 30 }", "budget { experiments 7 }");
    let declared = |options: &str| {
        base.replace(
            "safety {",
            &format!("optimizer bayesian {{\n  initial sobol 4\n  {options}\n}}\n\nsafety {{"),
        )
    };
    let explains = |text: &str| -> Vec<serde_json::Value> {
        let c = valid(check_files(text, &[]));
        let dir = tempfile::tempdir().expect("temp");
        let out = dir.path().join("b");
        run_simulated(&c, &out, &options()).unwrap_or_else(|e| panic!("{e}"));
        std::fs::read_to_string(out.join("optimizer/suggestions.jsonl"))
            .expect("suggestions")
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("json");
                v["explain"].clone()
            })
            .collect()
    };
    for (options, model, surrogate, key) in [
        (
            "surrogate extra_trees\n  model score",
            "score",
            "extra_trees",
            "importance.residence",
        ),
        // The default model is composite: one forest per proxy.
        (
            "surrogate extra_trees",
            "composite",
            "extra_trees",
            "importance.peak.residence",
        ),
        (
            "surrogate nn_ensemble\n  model composite",
            "composite",
            "nn_ensemble",
            "importance.peak.residence",
        ),
        (
            "surrogate gp\n  model score",
            "score",
            "gp",
            "lengthscale.residence",
        ),
    ] {
        let e = explains(&declared(options));
        assert_eq!(e.len(), 7);
        for x in &e[4..] {
            assert_eq!(x["model"], model, "{options}: {x}");
            assert_eq!(x["surrogate"], surrogate, "{options}: {x}");
            assert!(x["details"][key].is_number(), "{options}: {x}");
            assert!(x["acquisition"].as_f64().is_some_and(f64::is_finite), "{x}");
        }
        let c = valid(check_files(&declared(options), &[]));
        assert!(
            qdx::validate::summary::summary(&c).contains(&format!("surrogate {surrogate}")),
            "{}",
            qdx::validate::summary::summary(&c)
        );
    }
}

fn branin(ranges: &str) -> String {
    std::fs::read_to_string("examples/branin-script.qdx")
        .expect("example")
        .replace(
            "  x1 : number in -5 .. 10\n  x2 : number in 0 .. 15\n",
            ranges,
        )
        .replace("experiments 30", "experiments 8")
        .replace(
            "optimizer bayesian {",
            "prior bundle \"earlier\"\n\noptimizer bayesian {",
        )
}

/// An earlier run's observations over the full Branin box, as a bundle writes them.
fn earlier_observations() -> String {
    let mut csv = String::from("experiment,status,x1,x2,y,objective,reason\n");
    for k in 0..12 {
        let x1 = -5.0 + 15.0 * f64::from(k) / 11.0;
        let x2 = 15.0 * f64::from((k * 7) % 12) / 11.0;
        let y = (x2 - 5.1 / (4.0 * std::f64::consts::PI.powi(2)) * x1 * x1
            + 5.0 / std::f64::consts::PI * x1
            - 6.0)
            .powi(2)
            + 10.0 * (1.0 - 1.0 / (8.0 * std::f64::consts::PI)) * x1.cos()
            + 10.0;
        csv.push_str(&format!("{k},ok,{x1},{x2},{y},{},\n", -y));
    }
    csv
}

#[test]
fn prior_rows_outside_a_narrowed_range_are_left_out_with_a_warning() {
    let model = std::fs::read_to_string("examples/models/branin.rhai").expect("model");
    let prior = earlier_observations();
    let checked = check_files(
        &branin("  x1 : number in 0 .. 10\n  x2 : number in 0 .. 12\n"),
        &[
            ("models/branin.rhai", &model),
            ("earlier/observations.csv", &prior),
        ],
    );
    assert!(!checked.diagnostics.has_errors());
    insta::assert_snapshot!(rendered(&checked));
    let c = valid(checked);
    // Never fatal: the run warm-starts from the rows inside and finishes.
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("b");
    let summary = run_simulated(&c, &out, &options()).unwrap_or_else(|e| panic!("{e}"));
    assert!(summary.finished);
    assert!(out.join("manifest.json").exists());
    let inside = qdx::validate::strategy::prior_from_csv(&c.sections(), &prior).expect("prior");
    assert_eq!(inside.len(), 6, "the rows with 0 <= x1 and x2 <= 12");
}

/// Issue 14 (noticed): prior data saved with `;` (a decimal-comma locale's spreadsheet) or tabs
/// reads as with commas.
#[test]
fn prior_data_separated_by_semicolons_or_tabs_reads_as_with_commas() {
    let model = std::fs::read_to_string("examples/models/branin.rhai").expect("model");
    let prior = earlier_observations();
    let c = valid(check_files(
        &branin("  x1 : number in 0 .. 10\n  x2 : number in 0 .. 12\n"),
        &[
            ("models/branin.rhai", &model),
            ("earlier/observations.csv", &prior),
        ],
    ));
    let commas = qdx::validate::strategy::prior_from_csv(&c.sections(), &prior).expect("prior");
    assert_eq!(commas.len(), 6);
    for separator in [";", "\t"] {
        let text = prior.replace(',', separator);
        let read = qdx::validate::strategy::prior_from_csv(&c.sections(), &text)
            .unwrap_or_else(|e| panic!("{separator:?}: {e}"));
        assert_eq!(read, commas, "{separator:?}");
    }
}

#[test]
fn run_warns_about_prior_rows_outside_the_ranges_and_finishes() {
    let dir = tempfile::tempdir().expect("temp");
    let root = dir.path();
    std::fs::create_dir_all(root.join("models")).expect("folder");
    std::fs::create_dir_all(root.join("earlier")).expect("folder");
    std::fs::copy(
        "examples/models/branin.rhai",
        root.join("models/branin.rhai"),
    )
    .expect("model");
    std::fs::write(
        root.join("earlier/observations.csv"),
        earlier_observations(),
    )
    .expect("prior");
    let file = root.join("c.qdx");
    std::fs::write(
        &file,
        branin("  x1 : number in 0 .. 10\n  x2 : number in 0 .. 15\n"),
    )
    .expect("campaign");
    let out = qdx()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(root.join("b"))
        .output()
        .expect("qdx runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("4 of the 12 rows of `earlier/observations.csv` lie outside"),
        "{stderr}"
    );
    assert!(root.join("b/manifest.json").exists());
    // The decisions follow from the prior data and the measurements: replay re-derives them
    // (it once asked the optimizer without telling it the prior data first).
    let replay = qdx()
        .arg("replay")
        .arg(root.join("b"))
        .output()
        .expect("qdx replays");
    let stdout = String::from_utf8_lossy(&replay.stdout);
    assert_eq!(
        replay.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    assert!(
        stdout.contains("ok: every optimizer decision follows from the journaled measurements"),
        "{stdout}"
    );
}

#[test]
fn prior_data_with_a_bad_cell_is_an_error_of_check() {
    let model = std::fs::read_to_string("examples/models/branin.rhai").expect("model");
    let prior = "experiment,status,x1,x2,y\n0,ok,1.5,2,3\n1,ok,two,2,3\n";
    let checked = check_files(
        &branin("  x1 : number in -5 .. 10\n  x2 : number in 0 .. 15\n"),
        &[
            ("models/branin.rhai", &model),
            ("earlier/observations.csv", prior),
        ],
    );
    assert!(checked.campaign.is_none());
    insta::assert_snapshot!(rendered(&checked));
}

/// A grid over a composition runs its simplex lattice: `feed 5` gives the Cd share 0, 1/4,
/// 1/2, 3/4 and 1 with Se the rest; only 1/2 lies in the Cd range 0.3 .. 0.7, so 2 × 2 × 1
/// points, each summing to the total.
#[test]
fn a_grid_over_a_composition_runs_the_lattice_points_inside_the_parts_ranges() {
    let c = crate::support::check_path(Path::new("tests/data/valid/grid_composition.qdx"))
        .campaign
        .expect("valid");
    let grid = c.search.grid.as_ref().expect("a grid");
    assert_eq!(grid.total, 2 * 2 * 5);
    let cd = c
        .variables
        .iter()
        .position(|v| v.name == "feed.cd")
        .expect("feed.cd");
    let se = c
        .variables
        .iter()
        .position(|v| v.name == "feed.se")
        .expect("feed.se");
    assert_eq!(grid.points.len(), 4);
    for p in &grid.points {
        assert_eq!((p[cd], p[se]), (0.5, 0.5), "{p:?}");
    }
    // Three parts in 5 levels: C(4 + 2, 2) = 15 lattice points.
    assert_eq!(qdx::validate::campaign::lattice_size(3, 4), 15);
    assert_eq!(qdx::validate::campaign::lattice_size(2, 4), 5);
    let dir = tempfile::tempdir().expect("temp");
    // The design runs its 4 points (whether the chemistry gives a spectrum at each is not
    // what is tested here).
    let s = run_simulated(&c, &dir.path().join("b"), &options()).expect("run");
    assert_eq!(s.experiments, 4);
}

/// Issue 20: `examples/artificial-chemist.qdx` runs on the simulated lab with its network
/// ensembles (one per proxy), and what it did is pinned: each experiment's phase, model and
/// surrogate, what it measured, and where the stop condition ended the run. A change to the
/// ensemble, the composite acquisition or the simulated lab shows up here.
#[test]
fn the_artificial_chemist_example_runs_its_network_ensembles() {
    let c = crate::support::check_path(Path::new("examples/artificial-chemist.qdx"))
        .campaign
        .expect("the example checks");
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("b");
    let summary = run_simulated(&c, &out, &options()).unwrap_or_else(|e| panic!("{e}"));
    let suggestions: Vec<serde_json::Value> =
        std::fs::read_to_string(out.join("optimizer/suggestions.jsonl"))
            .expect("suggestions")
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
    let csv = std::fs::read_to_string(out.join("observations.csv")).expect("observations");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (peak, plqy, fwhm, score) = (
        col("peak [nm]"),
        col("plqy"),
        col("fwhm [nm]"),
        col("objective"),
    );
    let mut table = String::from(
        "exp  phase           model      surrogate    peak nm  plqy   fwhm nm  score\n",
    );
    for (row, s) in lines.zip(&suggestions) {
        let f: Vec<&str> = row.split(',').collect();
        let num = |i: usize| f[i].parse::<f64>().expect("number");
        let e = &s["explain"];
        table.push_str(&format!(
            "{:<4} {:<15} {:<10} {:<12} {:>7.1}  {:.3}  {:>7.1}  {:.3}\n",
            f[0],
            e["phase"].as_str().unwrap_or("-"),
            e["model"].as_str().unwrap_or("-"),
            e["surrogate"].as_str().unwrap_or("-"),
            num(peak),
            num(plqy),
            num(fwhm),
            num(score),
        ));
    }
    table.push_str(&format!(
        "experiments {}, failed {}, stopped: {}\n",
        summary.experiments, summary.failed, summary.stop_reason
    ));
    insta::assert_snapshot!(table);
}

/// The Langner simplex example: a composition of four fractions as the only variable, the
/// paper's measured blends as a pool. Every pick is one of the measured blends (its parts sum
/// to one and the table's degradation is what the run measured), no blend twice, and the best
/// found in 40 picks is among the most photostable 5 % of the 1 040 blends.
#[test]
fn the_langner_simplex_picks_measured_blends_and_finds_a_photostable_one() {
    let table =
        std::fs::read_to_string("examples/data/langner-2020-photostability.csv").expect("table");
    let rows: Vec<Vec<f64>> = table
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().expect("a number")).collect())
        .collect();
    let example = std::fs::read_to_string("examples/langner-2020-simplex.qdx").expect("example");
    let c = valid(check_files(
        &example,
        &[("data/langner-2020-photostability.csv", &table)],
    ));
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("b");
    run_simulated(&c, &out, &options()).unwrap_or_else(|e| panic!("{e}"));
    let mut suggested = std::collections::BTreeMap::new();
    let mut found = Vec::new();
    for r in qdx::journal::read(&out.join("journal.jsonl")).expect("journal") {
        match r.event {
            Event::Suggested {
                experiment, values, ..
            } => {
                suggested.insert(experiment, values);
            }
            Event::Measured {
                experiment,
                proxies,
                ..
            } => {
                let blend = suggested.get(&experiment).expect("suggested first");
                assert!((blend.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{blend:?}");
                let row = rows
                    .iter()
                    .find(|row| {
                        row[..4]
                            .iter()
                            .zip(blend)
                            .all(|(a, b)| (a - b).abs() < 1e-9)
                    })
                    .unwrap_or_else(|| panic!("{blend:?} is no measured blend"));
                let measured = proxies["degradation"].expect("a degradation");
                assert!(
                    (measured - row[4]).abs() < 1e-12,
                    "{measured} vs {}",
                    row[4]
                );
                found.push((blend.clone(), measured));
            }
            _ => {}
        }
    }
    assert_eq!(found.len(), 40);
    let mut blends: Vec<&Vec<f64>> = found.iter().map(|(b, _)| b).collect();
    blends.sort_by(|a, b| a.partial_cmp(b).expect("numbers"));
    blends.dedup();
    assert_eq!(blends.len(), 40, "no blend twice");
    let mut all: Vec<f64> = rows.iter().map(|r| r[4]).collect();
    all.sort_by(f64::total_cmp);
    let best = found.iter().map(|(_, d)| *d).fold(f64::INFINITY, f64::min);
    assert!(
        best <= all[all.len() / 20],
        "best {best}, 5 % level {}",
        all[all.len() / 20]
    );
}
