//! The report of a run, in three forms (`qdx report BUNDLE --format html|json|md`):
//! - `html`: `report.html`, a self-contained page with SVG plots, also written into the bundle
//!   (no scripts, no external files, so it opens anywhere and archives well; its sections are
//!   listed in `html.rs`; `docs/report/` shows it for four campaigns);
//! - `json`: the same facts for programs (shape below);
//! - `md`: a summary with the best experiments (or the Pareto front and its hypervolume) and
//!   the failures, for a lab notebook or an issue.
//!
//! Invariant: a report is a function of the campaign and the journal only (no wall-clock
//! times, no randomness but a seed derived from the campaign's for the model), so
//! `report.html` is part of the reproducible bundle and `qdx report` on a bundle gives the
//! page the run wrote.
//!
//! The JSON shape (`"qdx_report": 1`): `campaign`, `description`, `seed`, `optimizer`,
//! `stop_reason`, `counts` (`experiments`, `ok`, `not_ok`), `columns` (`variables`, `settings`,
//! `proxies`: each `{name, unit}`, the unit every value of that name is given in, `""` for none),
//! `experiments` (each `{experiment, status, reason, variables, settings, proxies,
//! desirability, objective, spectra}`, values in the columns' units, a choice by its level's
//! name, `null` where there is no value; in a Pareto campaign also `pareto_front` and
//! `hypervolume`, that of the front of this and every earlier finished experiment), `best` (up
//! to 10 experiment ids, best first, by the combined objective), and `model`: for each
//! quantity modelled (the objective's proxy, the combined objective, or each objective of a
//! Pareto campaign) once enough experiments succeeded, `{quantity, unit, experiments,
//! lengthscales, importance, noise_sd, loo_rmse, leave_one_out}` (lengthscales and importance
//! by variable name, `leave_one_out` a list of `{experiment, observed, predicted, sd}` in the
//! quantity's unit). A Pareto campaign adds `front` (the ids on the front) and `hypervolume`:
//! `{unit, reference, reference_declared, final}`, `reference` the point by objective in words
//! (`"550 nm"`, or for a target `"12 nm from 600 nm"`).

mod analysis;
mod html;
mod spectra;
mod svg;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use qdx_optimize::Score;

use crate::record::{Experiment, Outcome, SavedSpectrum};

use crate::validate::campaign::*;

/// Text for HTML and SVG: the characters markup gives a meaning to, escaped.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// What a report shows: the campaign, its experiments and their scores ([`crate::record`]),
/// why the run stopped, and the bundle folder the spectra files are read from.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub dir: &'a Path,
    pub campaign: &'a Campaign,
    pub experiments: &'a [Experiment],
    pub scores: &'a BTreeMap<u64, Score>,
    pub stop_reason: &'a str,
}

/// The forms a report takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Json,
    Markdown,
}

/// The report in `format`.
pub fn render(inputs: &Inputs<'_>, format: Format) -> String {
    match format {
        Format::Html => page(inputs),
        Format::Json => {
            let mut text = serde_json::to_string_pretty(&json(inputs)).unwrap_or_default();
            text.push('\n');
            text
        }
        Format::Markdown => markdown(inputs),
    }
}

/// Writes `report.html` into the bundle.
pub fn write(inputs: &Inputs<'_>) -> std::io::Result<()> {
    crate::files::write_atomic(&inputs.dir.join("report.html"), page(inputs).as_bytes())
}

/// The HTML page.
fn page(inputs: &Inputs<'_>) -> String {
    html::page(inputs)
}

/// Finished experiments with a combined score, best first (ties by id), at most `n`.
fn ranked(scores: &BTreeMap<u64, Option<f64>>, n: usize) -> Vec<(u64, f64)> {
    let mut ranked: Vec<(u64, f64)> = scores
        .iter()
        .filter_map(|(k, v)| Some((*k, (*v)?)))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(n);
    ranked
}

/// A value in `unit` as JSON: the shortest decimal that reads back to the SI value (as in
/// `observations.csv`: 75, not 75.00000000000001 uL/min); `null` for no finite value.
fn in_unit(unit: &DisplayUnit, si: f64) -> serde_json::Value {
    let x = unit.number(si).parse().unwrap_or_else(|_| unit.from_si(si));
    serde_json::Number::from_f64(x).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

use crate::files::observations::settings;

/// One experiment as JSON (the `experiments` items of the report, the `experiment` events of
/// `qdx run --format json`): `{experiment, status, reason, variables, settings, proxies,
/// desirability, objective, spectra}`, values in the campaign's units. `score` is `None` while
/// the scores over all experiments are not known (a run in progress): desirabilities and the
/// objective are then `null`.
pub fn experiment_json(
    c: &Campaign,
    id: u64,
    point: &[f64],
    outcome: Option<&Outcome>,
    score: Option<&Score>,
    spectra: &[SavedSpectrum],
) -> serde_json::Value {
    use serde_json::{Map, Value, json};
    let number = |x: f64| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number);
    let variables: Map<String, Value> = c
        .variables
        .iter()
        .zip(point)
        .map(|(v, x)| {
            let value = if v.is_numeric() {
                in_unit(&v.unit, *x)
            } else {
                Value::String(v.cell(*x))
            };
            (v.name.clone(), value)
        })
        .collect();
    let sent: Map<String, Value> = settings(c)
        .iter()
        .map(|(id, d)| {
            let x = outcome.and_then(|o| o.settings.get(id)).copied();
            (
                d.name.clone(),
                x.map_or(Value::Null, |x| in_unit(&d.unit, x)),
            )
        })
        .collect();
    let proxies: Map<String, Value> = c
        .proxies
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let x = outcome.and_then(|o| o.proxies.get(k).copied().flatten());
            (
                p.name.clone(),
                x.map_or(Value::Null, |x| in_unit(&p.unit, x)),
            )
        })
        .collect();
    let desirability: Map<String, Value> = c
        .objectives
        .list
        .iter()
        .enumerate()
        .map(|(k, o)| {
            let d = score.and_then(|s| s.desirabilities.get(k).copied().flatten());
            (o.name.clone(), d.map_or(Value::Null, number))
        })
        .collect();
    let spectra: Vec<Value> = spectra
        .iter()
        .map(|s| json!({"channel": s.channel.name(), "replicate": s.replicate, "file": s.file}))
        .collect();
    json!({
        "experiment": id,
        "status": outcome.map_or("unfinished", |o| o.status.name()),
        "reason": outcome.and_then(|o| o.reason.clone()),
        "variables": variables,
        "settings": sent,
        "proxies": proxies,
        "desirability": desirability,
        "objective": score.and_then(|s| s.combined).map_or(Value::Null, number),
        "spectra": spectra,
    })
}

/// The JSON form (shape in the module doc).
fn json(inputs: &Inputs<'_>) -> serde_json::Value {
    use serde_json::json;
    let c = inputs.campaign;
    let scores = combined(inputs.scores);
    let column = |name: &str, unit: &DisplayUnit| json!({"name": name, "unit": unit.symbol()});
    let columns = json!({
        "variables": c.variables.iter().map(|v| column(&v.name, &v.unit)).collect::<Vec<_>>(),
        "settings": settings(c).iter().map(|(_, d)| column(&d.name, &d.unit)).collect::<Vec<_>>(),
        "proxies": c.proxies.iter().map(|p| column(&p.name, &p.unit)).collect::<Vec<_>>(),
    });
    let experiments: Vec<serde_json::Value> = inputs
        .experiments
        .iter()
        .map(|e| {
            experiment_json(
                c,
                e.id,
                &e.measured_point(c),
                e.outcome.as_ref(),
                inputs.scores.get(&e.id),
                &e.spectra,
            )
        })
        .collect();
    let total = experiments.len();
    let ok = inputs
        .experiments
        .iter()
        .filter(|e| e.outcome.as_ref().is_some_and(|o| o.status.is_ok()))
        .count();
    let hypervolume = crate::record::hypervolume(c, inputs.experiments, inputs.scores);
    let pareto = c.objectives.combine == Combine::Pareto;
    let mut experiments = experiments;
    if pareto {
        for (e, value) in inputs.experiments.iter().zip(experiments.iter_mut()) {
            if let Some(map) = value.as_object_mut() {
                map.insert(
                    "pareto_front".into(),
                    json!(inputs.scores.get(&e.id).map(|s| s.on_front)),
                );
                map.insert(
                    "hypervolume".into(),
                    hypervolume
                        .as_ref()
                        .and_then(|h| h.by_experiment.get(&e.id))
                        .map_or(serde_json::Value::Null, |v| number(*v)),
                );
            }
        }
    }
    let quantities = analysis::quantities(c, inputs.experiments, inputs.scores);
    let models: Vec<serde_json::Value> = quantities
        .iter()
        .filter_map(|q| {
            let m = q.model.as_ref()?;
            let by_variable = |values: &[f64]| -> serde_json::Map<String, serde_json::Value> {
                c.variables
                    .iter()
                    .zip(values)
                    .map(|(v, x)| (v.name.clone(), number(*x)))
                    .collect()
            };
            let loo: Vec<serde_json::Value> = m
                .ids
                .iter()
                .zip(&m.loo)
                .map(|(id, p)| {
                    json!({
                        "experiment": id,
                        "observed": q.values.get(id).map_or(serde_json::Value::Null, |v| number(*v)),
                        "predicted": number(p.mean),
                        "sd": number(p.sd),
                    })
                })
                .collect();
            Some(json!({
                "quantity": q.name,
                "unit": q.unit,
                "experiments": m.ids.len(),
                "lengthscales": by_variable(&m.surrogate.lengthscales()),
                "importance": by_variable(&m.importance()),
                "noise_sd": number(m.surrogate.noise_sd()),
                "loo_rmse": number(m.loo_rmse(&q.values)),
                "leave_one_out": loo,
            }))
        })
        .collect();
    let mut out = json!({
        "qdx_report": 1,
        "campaign": c.name,
        "description": c.description,
        "seed": c.seed,
        "optimizer": c.optimizer.strategy.name(),
        "stop_reason": inputs.stop_reason,
        "counts": {"experiments": total, "ok": ok, "not_ok": total - ok},
        "columns": columns,
        "experiments": experiments,
        "best": ranked(&scores, 10).iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        "model": models,
    });
    if pareto && let Some(map) = out.as_object_mut() {
        map.insert(
            "front".into(),
            json!(
                inputs
                    .scores
                    .iter()
                    .filter(|(_, s)| s.on_front)
                    .map(|(id, _)| *id)
                    .collect::<Vec<_>>()
            ),
        );
        if let Some(h) = &hypervolume {
            let reference: serde_json::Map<String, serde_json::Value> =
                analysis::reference_text(c, h)
                    .into_iter()
                    .map(|(name, text)| (name, serde_json::Value::String(text)))
                    .collect();
            map.insert(
                "hypervolume".into(),
                json!({
                    "unit": h.unit,
                    "reference": reference,
                    "reference_declared": h.declared,
                    "final": h.by_experiment.values().last().map_or(serde_json::Value::Null, |v| number(*v)),
                }),
            );
        }
    }
    out
}

/// A finite number as JSON, `null` otherwise.
fn number(x: f64) -> serde_json::Value {
    serde_json::Number::from_f64(x).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

/// A Markdown table cell: pipes escaped, line breaks flattened.
fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The Markdown form: what happened, the best experiments, the failures. Computed values to
/// four significant digits (`observations.csv` has every digit).
fn markdown(inputs: &Inputs<'_>) -> String {
    let c = inputs.campaign;
    let scores = combined(inputs.scores);
    let finished: Vec<&Experiment> = inputs
        .experiments
        .iter()
        .filter(|e| e.outcome.is_some())
        .collect();
    let ok = finished
        .iter()
        .filter(|e| e.outcome.as_ref().is_some_and(|o| o.status.is_ok()))
        .count();
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n", c.name);
    if let Some(d) = &c.description {
        let _ = writeln!(s, "{d}\n");
    }
    let _ = writeln!(
        s,
        "{} experiments ({ok} succeeded, {} failed or skipped) · optimizer `{}` · seed {}\n",
        finished.len(),
        finished.len() - ok,
        c.optimizer.strategy.name(),
        c.seed
    );
    if !inputs.stop_reason.is_empty() {
        let _ = writeln!(s, "Stopped: {}\n", inputs.stop_reason);
    }
    let header = |s: &mut String, first: &[&str]| {
        let mut cols: Vec<String> = first.iter().map(|x| (*x).to_owned()).collect();
        cols.extend(
            c.variables
                .iter()
                .map(|v| crate::files::column(&v.name, &v.unit)),
        );
        cols.extend(
            c.proxies
                .iter()
                .map(|p| crate::files::column(&p.name, &p.unit)),
        );
        let _ = writeln!(
            s,
            "| {} |",
            cols.iter()
                .map(|x| md_cell(x))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(s, "|{}", "---|".repeat(cols.len()));
    };
    let values = |e: &Experiment| -> Vec<String> {
        let mut cells: Vec<String> = c
            .variables
            .iter()
            .zip(&e.measured_point(c))
            .map(|(v, x)| v.cell(*x))
            .collect();
        cells.extend(c.proxies.iter().enumerate().map(|(k, p)| {
            e.outcome
                .as_ref()
                .and_then(|o| o.proxies.get(k).copied().flatten())
                .map_or_else(String::new, |x| analysis::sig4(p.unit.from_si(x)))
        }));
        cells
    };
    let best = ranked(&scores, 10);
    if !best.is_empty() {
        let _ = writeln!(s, "## Best experiments\n");
        header(&mut s, &["experiment", "objective"]);
        for (id, score) in &best {
            let Some(e) = inputs.experiments.iter().find(|e| e.id == *id) else {
                continue;
            };
            let mut cells = vec![id.to_string(), analysis::sig4(*score)];
            cells.extend(values(e));
            let _ = writeln!(
                s,
                "| {} |",
                cells
                    .iter()
                    .map(|x| md_cell(x))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
        s.push('\n');
    }
    if c.objectives.combine == Combine::Pareto {
        let front: Vec<&Experiment> = inputs
            .experiments
            .iter()
            .filter(|e| inputs.scores.get(&e.id).is_some_and(|s| s.on_front))
            .collect();
        if !front.is_empty() {
            let _ = writeln!(s, "## Experiments on the Pareto front\n");
            header(&mut s, &["experiment"]);
            for e in front {
                let mut cells = vec![e.id.to_string()];
                cells.extend(values(e));
                let _ = writeln!(
                    s,
                    "| {} |",
                    cells
                        .iter()
                        .map(|x| md_cell(x))
                        .collect::<Vec<_>>()
                        .join(" | ")
                );
            }
            s.push('\n');
        }
        if let Some(h) = crate::record::hypervolume(c, inputs.experiments, inputs.scores) {
            let reference = analysis::reference_text(c, &h)
                .iter()
                .map(|(n, t)| format!("{n} {t}"))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(
                s,
                "Hypervolume of the front: {}, against the reference point {reference} ({}).\n",
                analysis::approx(
                    h.by_experiment.values().last().copied().unwrap_or(0.0),
                    &h.unit
                ),
                if h.declared {
                    "declared by the campaign"
                } else {
                    "the worst observed value of each objective less 10 % of its observed range"
                }
            );
        }
    }
    let failed: Vec<&&Experiment> = finished
        .iter()
        .filter(|e| e.outcome.as_ref().is_some_and(|o| !o.status.is_ok()))
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(s, "## Experiments that did not succeed\n");
        let _ = writeln!(s, "| experiment | status | reason |\n|---|---|---|");
        for e in failed {
            if let Some(o) = &e.outcome {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} |",
                    e.id,
                    o.status.name(),
                    md_cell(o.reason.as_deref().unwrap_or(""))
                );
            }
        }
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "Spectra of every experiment are in `spectra/`; all values in `observations.csv`."
    );
    s
}

/// The combined score of each finished experiment (`None` for failures and Pareto campaigns).
fn combined(scores: &BTreeMap<u64, Score>) -> BTreeMap<u64, Option<f64>> {
    scores.iter().map(|(k, s)| (*k, s.combined)).collect()
}
