//! Issue 17: the report's facts that are not pictures. A Pareto campaign records the
//! hypervolume after each experiment in `observations.csv` (with its unit, described in
//! `datapackage.json`) and in the JSON report, with the reference point stated; the JSON
//! report carries the model of each objective; a bundle renders to the same report every time.

use std::path::Path;

use qdx::bundle;
use qdx::report::Format;
use qdx::runtime::{RunOptions, run_simulated};

use crate::support::{check_text, column, rendered};

/// The Pareto campaign of `docs/report/`, shortened to `n` experiments.
fn pareto(n: u32) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("docs/report/campaigns/cspbx3-pareto.qdx"))
        .expect("the Pareto example");
    assert!(text.contains("experiments 30,"));
    text.replace("experiments 30,", &format!("experiments {n},"))
}

/// Runs `text` on the simulated lab into `dir/b`.
fn run(text: &str, dir: &Path) -> (qdx::validate::campaign::Campaign, std::path::PathBuf) {
    let checked = check_text("campaign.qdx", text);
    let report = rendered(&checked);
    let c = checked.campaign.unwrap_or_else(|| panic!("{report}"));
    let out = dir.join("b");
    let options = RunOptions {
        progress: qdx::runtime::Progress::Off,
        sync_each: false,
        halt_after: None,
    };
    run_simulated(&c, &out, &options).expect("run");
    (c, out)
}

/// The hypervolume of points maximised in both coordinates above `reference`, by a sweep
/// (independent of `qdx-optimize`'s slicing).
fn hypervolume_2d(points: &[(f64, f64)], reference: (f64, f64)) -> f64 {
    let mut pts: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| *x > reference.0 && *y > reference.1)
        .collect();
    pts.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut top = reference.1;
    let mut total = 0.0;
    for (x, y) in pts {
        if y > top {
            total += (x - reference.0) * (y - top);
            top = y;
        }
    }
    total
}

#[test]
fn a_pareto_bundle_records_the_hypervolume_after_each_experiment() {
    let dir = tempfile::tempdir().expect("temp");
    let (c, b) = run(&pareto(12), dir.path());
    let observations = b.join("observations.csv");
    let hv = column(&observations, "hypervolume [nm]");
    let peak = column(&observations, "peak [nm]");
    let plqy = column(&observations, "plqy");
    assert_eq!(hv.len(), 12);
    // After each experiment: the hypervolume of the front so far against the declared
    // reference point (peak 550 nm, plqy 0.2), in nm (plqy is a plain number).
    let mut seen = Vec::new();
    for k in 0..12 {
        if let (Some(p), Some(q)) = (peak[k], plqy[k]) {
            seen.push((p, q));
        }
        let expected = hypervolume_2d(&seen, (550.0, 0.2));
        let got = hv[k].expect("a hypervolume");
        assert!(
            (got - expected).abs() <= 1e-9 * expected.max(1.0),
            "experiment {k}: {got} vs {expected}"
        );
    }
    assert!(hv.windows(2).all(|w| w[1] >= w[0]), "{hv:?}");
    let package: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(b.join("datapackage.json")).expect("datapackage"),
    )
    .expect("json");
    let field = package["resources"][0]["schema"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["name"] == "hypervolume [nm]")
        .expect("the hypervolume column is described")
        .clone();
    assert_eq!(
        (field["type"].as_str(), field["unit"].as_str()),
        (Some("number"), Some("nm"))
    );

    let json: serde_json::Value =
        serde_json::from_str(&bundle::report(&b, &c, Format::Json).expect("report")).expect("json");
    let h = &json["hypervolume"];
    assert_eq!(h["unit"], "nm");
    assert_eq!(h["reference"]["peak"], "550 nm");
    assert_eq!(h["reference"]["plqy"], "0.2");
    assert_eq!(h["reference_declared"], true);
    let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-12 * a.abs().max(1.0),
        (a, b) => a == b,
    };
    assert!(close(h["final"].as_f64(), hv[11]), "{h}");
    let front: Vec<u64> = column(&observations, "experiment")
        .iter()
        .zip(
            csv::Reader::from_path(&observations)
                .expect("csv")
                .records()
                .map(|r| r.expect("row")[column_index(&observations, "pareto_front")] == *"true"),
        )
        .filter(|(_, on)| *on)
        .map(|(id, _)| id.expect("an id") as u64)
        .collect();
    assert!(!front.is_empty());
    assert_eq!(json["front"], serde_json::json!(front));
    for (k, e) in json["experiments"]
        .as_array()
        .expect("experiments")
        .iter()
        .enumerate()
    {
        assert!(close(e["hypervolume"].as_f64(), hv[k]), "experiment {k}");
        assert_eq!(
            e["pareto_front"],
            front.contains(&(k as u64)),
            "experiment {k}"
        );
    }
    let md = bundle::report(&b, &c, Format::Markdown).expect("markdown");
    assert!(md.contains("## Experiments on the Pareto front"), "{md}");
    assert!(
        md.contains("against the reference point peak 550 nm, plqy 0.2 (declared by the campaign)"),
        "{md}"
    );
}

fn column_index(path: &Path, name: &str) -> usize {
    let mut reader = csv::Reader::from_path(path).expect("csv");
    reader
        .headers()
        .expect("header")
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

/// The JSON report carries a model of each objective, fitted to the successful experiments:
/// lengthscales and importance by variable, and each experiment predicted by the model of
/// the others, in the objective's unit. A bundle gives the same report, page and JSON, every
/// time, and the page is the one the run wrote.
#[test]
fn the_model_is_in_the_json_report_and_a_bundle_renders_the_same_every_time() {
    let dir = tempfile::tempdir().expect("temp");
    let (c, b) = run(&pareto(10), dir.path());
    let json_text = bundle::report(&b, &c, Format::Json).expect("report");
    assert_eq!(
        json_text,
        bundle::report(&b, &c, Format::Json).expect("again")
    );
    let html = bundle::report(&b, &c, Format::Html).expect("html");
    assert_eq!(
        html,
        std::fs::read_to_string(b.join("report.html")).expect("page")
    );
    assert!(!html.contains("<script"), "the page runs no script");
    for remote in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!html.contains(remote), "the page loads nothing: {remote}");
    }
    let json: serde_json::Value = serde_json::from_str(&json_text).expect("json");
    let models = json["model"].as_array().expect("models");
    let names: Vec<&str> = models
        .iter()
        .filter_map(|m| m["quantity"].as_str())
        .collect();
    assert_eq!(names, ["peak", "plqy"]);
    let peak = &models[0];
    assert_eq!(peak["unit"], "nm");
    assert_eq!(peak["experiments"], 10);
    let importance = peak["importance"].as_object().expect("by variable");
    assert_eq!(importance.len(), 4);
    assert!(importance.values().any(|v| v.as_f64() == Some(1.0)));
    assert!(
        importance
            .values()
            .all(|v| v.as_f64().is_some_and(|x| (0.0..=1.0).contains(&x)))
    );
    let loo = peak["leave_one_out"].as_array().expect("leave one out");
    assert_eq!(loo.len(), 10);
    for p in loo {
        let (observed, predicted, sd) = (
            p["observed"].as_f64().expect("observed"),
            p["predicted"].as_f64().expect("predicted"),
            p["sd"].as_f64().expect("sd"),
        );
        // A wavelength predicted as one, with a finite uncertainty.
        assert!((400.0..800.0).contains(&observed) && (300.0..900.0).contains(&predicted));
        assert!(sd.is_finite() && sd > 0.0, "{p}");
    }
}
