//! `fit` blocks end to end: the fit written into the bundle recovers the parameters of the
//! model that made the data, and the example's fit is in the bundle and its manifest.

use std::path::Path;

use qdx::runtime::{RunOptions, run_simulated};

use crate::support::check_path;

fn options() -> RunOptions {
    RunOptions {
        progress: qdx::runtime::Progress::Off,
        sync_each: false,
        halt_after: None,
    }
}

fn run(campaign: &str) -> (tempfile::TempDir, serde_json::Value, String) {
    let c = check_path(Path::new(campaign))
        .campaign
        .expect("the campaign checks");
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("bundle");
    run_simulated(&c, &out, &options()).expect("the run");
    let json = std::fs::read_to_string(out.join("fit/growth.json")).expect("fit/growth.json");
    let csv = std::fs::read_to_string(out.join("fit/growth.csv")).expect("fit/growth.csv");
    let (_, problems) = qdx::bundle::verify(&out).expect("manifest");
    assert!(problems.is_empty(), "{problems:?}");
    let manifest = std::fs::read_to_string(out.join("manifest.json")).expect("manifest");
    assert!(manifest.contains("\"fit/growth.json\"") && manifest.contains("\"fit/growth.csv\""));
    (dir, serde_json::from_str(&json).expect("json"), csv)
}

fn parameter<'a>(fit: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    fit["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == name)
        .expect("the parameter")
}

#[test]
fn a_fit_recovers_the_parameters_of_the_model_that_made_the_data() {
    // The script lab computes r = sqrt(r0² + 2kt) in closed form; the fit integrates
    // r' = k/r: both agree on k0 = 2.5e-14 m²/s and Ea = 60 kJ/mol.
    let (_dir, fit, csv) = run("tests/data/fit/growth.qdx");
    assert_eq!(fit["status"], "ok", "{fit:#}");
    let k0 = parameter(&fit, "k0");
    let ea = parameter(&fit, "Ea");
    assert_eq!(k0["unit"], "m^2/s");
    assert_eq!(ea["unit"], "kJ/mol");
    let k0v = k0["estimate"].as_f64().expect("k0");
    let eav = ea["estimate"].as_f64().expect("Ea");
    assert!((k0v / 2.5e-14 - 1.0).abs() < 1e-6, "k0 = {k0v}");
    assert!((eav / 60.0 - 1.0).abs() < 1e-6, "Ea = {eav} kJ/mol");
    assert_eq!(fit["observations"], 24);
    assert_eq!(fit["degrees_of_freedom"], 22);
    assert_eq!(fit["convergence"]["converged"], true);
    // One row per observation, the residuals tiny next to sizes of 2-10 nm.
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "experiment,proxy,unit,time_s,observed,fitted,residual"
    );
    assert_eq!(rows.len(), 25);
    for row in &rows[1..] {
        let residual: f64 = row
            .rsplit(',')
            .next()
            .expect("cell")
            .parse()
            .expect("number");
        assert!(residual.abs() < 1e-6, "{row}");
    }
}

#[test]
fn the_kinetic_fit_example_writes_its_fit_with_uncertainties() {
    let (_dir, fit, csv) = run("examples/cdse-arrhenius-fit.qdx");
    assert_eq!(fit["status"], "ok", "{fit:#}");
    let params = fit["parameters"].as_array().expect("parameters");
    assert_eq!(params.len(), 4);
    // Every parameter has a standard error unless it ended at a bound.
    for p in params {
        assert_eq!(
            p["at_bound"].as_bool() == Some(true),
            p["standard_error"].is_null(),
            "{p}"
        );
    }
    assert_eq!(
        csv.lines().count(),
        1 + fit["observations"].as_u64().expect("count") as usize
    );
}

#[test]
fn the_suggestions_record_the_prior_mean_and_the_parameters_it_used() {
    // The data come from the fit's own model without noise: from the first model suggestion
    // on (4 observations, more than the 2 parameters), every refit finds its parameters.
    let c = check_path(Path::new("tests/data/fit/prior_mean.qdx"))
        .campaign
        .expect("the campaign checks");
    assert_eq!(
        c.optimizer.options.prior_mean.as_ref().and_then(|p| p.fit),
        Some(0)
    );
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("bundle");
    run_simulated(&c, &out, &options()).expect("the run");
    let text = std::fs::read_to_string(out.join("optimizer/suggestions.jsonl")).expect("jsonl");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert!(lines.len() >= 5, "{text}");
    let mut model = 0;
    for l in &lines {
        let explain = &l["explain"];
        if explain["phase"] == "initial design" {
            assert!(explain.get("prior_mean").is_none(), "{l}");
            continue;
        }
        model += 1;
        let prior = &explain["prior_mean"];
        assert_eq!(explain["model"], "composite", "{l}");
        assert_eq!(prior["fit"], "growth", "{l}");
        assert_eq!(prior["used"], true, "{l}");
        assert_eq!(prior["values"], serde_json::json!(["size"]), "{l}");
        let k0 = prior["parameters"]["k0"].as_f64().expect("k0");
        let ea = prior["parameters"]["Ea"].as_f64().expect("Ea");
        assert!((k0 / 2.5e-14 - 1.0).abs() < 1e-3, "k0 = {k0}: {l}");
        assert!((ea / 60e3 - 1.0).abs() < 1e-3, "Ea = {ea}: {l}");
        assert!(prior["observations"].as_u64().expect("n") >= 4, "{l}");
    }
    assert!(model >= 1, "{text}");
}
