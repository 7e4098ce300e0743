//! The report of a run, in three forms (`qdx report BUNDLE --format html|json|md`):
//! - `html`: `report.html`, a self-contained page with SVG plots, also written into the bundle
//!   (no scripts, no external files, so it opens anywhere and archives well);
//! - `json`: the same facts for programs (shape below);
//! - `md`: a summary with the best experiments and the failures, for a lab notebook or an issue.
//!
//! Invariant: a report is a function of the campaign and the journal only (no wall-clock
//! times), so `report.html` is part of the reproducible bundle and `qdx report` on a bundle
//! gives the page the run wrote.
//!
//! The JSON shape (`"qdx_report": 1`): `campaign`, `description`, `seed`, `optimizer`,
//! `stop_reason`, `counts` (`experiments`, `ok`, `not_ok`), `columns` (`variables`, `settings`,
//! `proxies`: each `{name, unit}`, the unit every value of that name is given in, `""` for none),
//! `experiments` (each `{experiment, status, reason, variables, settings, proxies,
//! desirability, objective, spectra}`, values in the columns' units, a choice by its level's
//! name, `null` where there is no value), and `best` (up to 10 experiment ids, best first, by
//! the combined objective).

mod svg;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use qdx_optimize::Score;

use crate::record::{Experiment, Outcome, SavedSpectrum};
use crate::validate::campaign::*;

/// One finished experiment, as the report shows it.
#[derive(Debug, Clone)]
struct Row<'a> {
    id: u64,
    values: &'a [f64],
    ok: bool,
    /// By proxy id, SI.
    proxies: &'a [Option<f64>],
}

fn rows(experiments: &[Experiment]) -> Vec<Row<'_>> {
    experiments
        .iter()
        .filter_map(|e| {
            let o = e.outcome.as_ref()?;
            Some(Row {
                id: e.id,
                values: &e.point,
                ok: o.status.is_ok(),
                proxies: &o.proxies,
            })
        })
        .collect()
}

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
    let scores = combined(inputs.scores);
    let mut page = html(
        inputs.campaign,
        inputs.experiments,
        &scores,
        inputs.stop_reason,
    );
    let spectra = best_spectra(inputs.dir, inputs.experiments, &scores);
    if !spectra.is_empty() {
        let at = page
            .rfind("<p>Spectra of every experiment")
            .unwrap_or(page.len());
        page.insert_str(at, &spectra);
    }
    page
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
                &e.point,
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
    json!({
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
    })
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
            .zip(&e.point)
            .map(|(v, x)| v.cell(*x))
            .collect();
        cells.extend(c.proxies.iter().enumerate().map(|(k, p)| {
            e.outcome
                .as_ref()
                .and_then(|o| o.proxies.get(k).copied().flatten())
                .map_or_else(String::new, |x| p.unit.approx_number(x))
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
            let mut cells = vec![id.to_string(), DisplayUnit::plain().approx_number(*score)];
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

/// A spectrum file of the bundle, read (`None` when missing or unreadable).
fn read_spectrum(dir: &Path, file: &str) -> Option<qdx_spectra::Spectrum> {
    let text = std::fs::read_to_string(dir.join(file)).ok()?;
    crate::files::spectrum::read(&text).ok()
}

/// The points of a spectrum to plot: raw counts for photoluminescence; for absorbance,
/// `A = -log10((S - D)/(R - D))` from the bundle's own calibration spectra (`dark`,
/// `reference`), as the run computed it, without the pixels where that is no measurement
/// (clipped: no light through the sample, or none from the lamp). `None` when absorbance
/// cannot be computed (no calibration in the bundle, or spectra on different grids).
fn spectrum_points(
    kind: ChannelKind,
    raw: &qdx_spectra::Spectrum,
    calibration: Option<&(qdx_spectra::Spectrum, qdx_spectra::Spectrum)>,
) -> Option<Vec<(f64, f64)>> {
    let zip = |s: &qdx_spectra::Spectrum, skip: &[usize]| -> Vec<(f64, f64)> {
        s.wavelength_nm()
            .iter()
            .copied()
            .zip(s.values().iter().copied())
            .enumerate()
            .filter(|(i, (_, y))| y.is_finite() && !skip.contains(i))
            .map(|(_, p)| p)
            .collect()
    };
    match kind {
        ChannelKind::Photoluminescence => Some(zip(raw, &[])),
        ChannelKind::Absorbance => {
            let (dark, reference) = calibration?;
            let a = qdx_spectra::absorbance_spectrum(
                raw,
                reference,
                dark,
                qdx_spectra::AbsorbanceOptions::default(),
            )
            .ok()?;
            Some(zip(&a, a.clipped()))
        }
    }
}

/// The spectra of the three best experiments, one plot per channel, a line per experiment
/// with a legend: absorbance computed from the bundle's calibration spectra, raw
/// photoluminescence counts.
fn best_spectra(
    dir: &Path,
    experiments: &[Experiment],
    scores: &BTreeMap<u64, Option<f64>>,
) -> String {
    let best: Vec<u64> = ranked(scores, 3).iter().map(|(k, _)| *k).collect();
    let calibration = match (
        read_spectrum(dir, "spectra/calibration-absorbance-dark.csv"),
        read_spectrum(dir, "spectra/calibration-absorbance-reference.csv"),
    ) {
        (Some(d), Some(r)) => Some((d, r)),
        _ => None,
    };
    let mut by_channel: BTreeMap<ChannelKind, Vec<Vec<(f64, f64)>>> = BTreeMap::new();
    let mut legend: BTreeMap<ChannelKind, Vec<u64>> = BTreeMap::new();
    let mut no_absorbance = false;
    for id in &best {
        let Some(e) = experiments.iter().find(|e| e.id == *id) else {
            continue;
        };
        for saved in e.spectra.iter().filter(|s| s.replicate == 0) {
            let Some(spectrum) = read_spectrum(dir, &saved.file) else {
                continue;
            };
            match spectrum_points(saved.channel, &spectrum, calibration.as_ref()) {
                Some(points) if !points.is_empty() => {
                    by_channel.entry(saved.channel).or_default().push(points);
                    legend.entry(saved.channel).or_default().push(*id);
                }
                _ => no_absorbance |= saved.channel == ChannelKind::Absorbance,
            }
        }
    }
    let mut s = String::new();
    for (kind, lines) in by_channel {
        let channel = kind.name();
        let ids = legend.get(&kind).cloned().unwrap_or_default();
        let list = ids
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let (what, y_label, from) = match kind {
            ChannelKind::Absorbance => (
                "Absorbance",
                "absorbance",
                "from the bundle's dark and reference spectra",
            ),
            ChannelKind::Photoluminescence => ("Raw photoluminescence", "counts", "raw counts"),
        };
        let _ = writeln!(
            s,
            "<h2>{what} spectra of the best experiments ({list})</h2>"
        );
        s.push_str(&svg::plot(&svg::Plot {
            title: format!("{channel} {from}, experiments {list}"),
            x_label: "wavelength [nm]".into(),
            y_label: y_label.into(),
            lines,
            dots: Vec::new(),
            legend: ids.iter().map(|id| format!("experiment {id}")).collect(),
            missing: Vec::new(),
        }));
    }
    if no_absorbance {
        let _ = writeln!(
            s,
            "<p>Some absorbance spectra are not plotted: the bundle has no usable calibration (<code>spectra/calibration-absorbance-dark.csv</code>, <code>-reference.csv</code>) for them.</p>"
        );
    }
    s
}

/// The note a per-experiment plot's title carries when some experiments have no value there.
fn without_value(n: usize) -> String {
    match n {
        0 => String::new(),
        1 => "; 1 experiment without a value (hollow, on the axis)".to_owned(),
        n => format!("; {n} experiments without a value (hollow, on the axis)"),
    }
}

/// The report page.
fn html(
    c: &Campaign,
    experiments: &[Experiment],
    scores: &BTreeMap<u64, Option<f64>>,
    stop_reason: &str,
) -> String {
    let rows = rows(experiments);
    let mut s = String::new();
    let _ = write!(
        s,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}th{{background:#f4f4f4}}h2{{margin-top:1.5em}}</style></head><body>\n",
        escape(&c.name)
    );
    let _ = writeln!(s, "<h1>{}</h1>", escape(&c.name));
    if let Some(d) = &c.description {
        let _ = writeln!(s, "<p>{}</p>", escape(d));
    }
    let ok = rows.iter().filter(|r| r.ok).count();
    let _ = writeln!(
        s,
        "<p>{} experiments ({} succeeded, {} failed or skipped) · optimizer <code>{}</code> · seed {}</p>",
        rows.len(),
        ok,
        rows.len() - ok,
        c.optimizer.strategy.name(),
        c.seed
    );
    if !stop_reason.is_empty() {
        let _ = writeln!(s, "<p>Stopped: {}</p>", escape(stop_reason));
    }
    // Objective (best so far) against experiment number.
    if !scores.is_empty() {
        let mut best = f64::NEG_INFINITY;
        let series: Vec<(f64, f64)> = rows
            .iter()
            .filter_map(|r| {
                let v = scores.get(&r.id).copied().flatten()?;
                best = best.max(v);
                Some((r.id as f64, best))
            })
            .collect();
        let points: Vec<(f64, f64)> = rows
            .iter()
            .filter_map(|r| Some((r.id as f64, scores.get(&r.id).copied().flatten()?)))
            .collect();
        let missing: Vec<f64> = rows
            .iter()
            .filter(|r| scores.get(&r.id).copied().flatten().is_none())
            .map(|r| r.id as f64)
            .collect();
        let _ = writeln!(s, "<h2>Objective</h2>");
        s.push_str(&svg::plot(&svg::Plot {
            title: format!(
                "score per experiment (dots) and best so far (line){}",
                without_value(missing.len())
            ),
            x_label: "experiment".into(),
            y_label: "score".into(),
            lines: vec![series],
            dots: vec![points],
            legend: Vec::new(),
            missing,
        }));
    }
    // Each proxy against experiment number.
    for (k, p) in c.proxies.iter().enumerate() {
        let points: Vec<(f64, f64)> = rows
            .iter()
            .filter_map(|r| {
                Some((
                    r.id as f64,
                    p.unit.from_si(r.proxies.get(k).copied().flatten()?),
                ))
            })
            .collect();
        let missing: Vec<f64> = rows
            .iter()
            .filter(|r| r.proxies.get(k).copied().flatten().is_none())
            .map(|r| r.id as f64)
            .collect();
        if points.is_empty() && missing.is_empty() {
            continue;
        }
        let column = crate::files::column(&p.name, &p.unit);
        let _ = writeln!(s, "<h2>{}</h2>", escape(&column));
        s.push_str(&svg::plot(&svg::Plot {
            title: format!("{} per experiment{}", p.name, without_value(missing.len())),
            x_label: "experiment".into(),
            y_label: column,
            lines: Vec::new(),
            dots: vec![points],
            legend: Vec::new(),
            missing,
        }));
    }
    // Parameter map: the first two numeric variables, coloured by score.
    let numeric: Vec<(usize, &Variable)> = c
        .variables
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_numeric())
        .collect();
    if let [(i, vx), (j, vy), ..] = numeric.as_slice() {
        let pts: Vec<(f64, f64, Option<f64>)> = rows
            .iter()
            .map(|r| {
                (
                    vx.unit
                        .from_si(r.values.get(*i).copied().unwrap_or(f64::NAN)),
                    vy.unit
                        .from_si(r.values.get(*j).copied().unwrap_or(f64::NAN)),
                    scores.get(&r.id).copied().flatten(),
                )
            })
            .collect();
        let _ = writeln!(s, "<h2>Where the experiments went</h2>");
        s.push_str(&svg::scatter(
            &crate::files::column(&vx.name, &vx.unit),
            &crate::files::column(&vy.name, &vy.unit),
            &pts,
        ));
    }
    // Pareto front of the first two objectives.
    if c.objectives.combine == Combine::Pareto
        && let (Some(a), Some(b)) = (c.objectives.list.first(), c.objectives.list.get(1))
        && let (Some(pa), Some(pb)) = (c.proxies.get(a.proxy), c.proxies.get(b.proxy))
    {
        let pts: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.ok)
            .filter_map(|r| {
                Some((
                    pa.unit.from_si(r.proxies.get(a.proxy).copied().flatten()?),
                    pb.unit.from_si(r.proxies.get(b.proxy).copied().flatten()?),
                ))
            })
            .collect();
        let _ = writeln!(s, "<h2>Pareto front</h2>");
        s.push_str(&svg::plot(&svg::Plot {
            title: format!("{} against {}", pb.name, pa.name),
            x_label: crate::files::column(&pa.name, &pa.unit),
            y_label: crate::files::column(&pb.name, &pb.unit),
            lines: Vec::new(),
            dots: vec![pts],
            legend: Vec::new(),
            missing: Vec::new(),
        }));
    }
    // The best experiments.
    let mut ranked: Vec<&Row> = rows
        .iter()
        .filter(|r| scores.get(&r.id).copied().flatten().is_some())
        .collect();
    ranked.sort_by(|a, b| {
        scores
            .get(&b.id)
            .copied()
            .flatten()
            .unwrap_or(f64::NEG_INFINITY)
            .total_cmp(
                &scores
                    .get(&a.id)
                    .copied()
                    .flatten()
                    .unwrap_or(f64::NEG_INFINITY),
            )
            .then(a.id.cmp(&b.id))
    });
    if !ranked.is_empty() {
        let _ = writeln!(
            s,
            "<h2>Best experiments</h2>\n<table><tr><th>experiment</th><th>score</th>"
        );
        for v in &c.variables {
            let _ = write!(
                s,
                "<th>{}</th>",
                escape(&crate::files::column(&v.name, &v.unit))
            );
        }
        for p in &c.proxies {
            let _ = write!(
                s,
                "<th>{}</th>",
                escape(&crate::files::column(&p.name, &p.unit))
            );
        }
        s.push_str("</tr>\n");
        for r in ranked.iter().take(10) {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td>",
                r.id,
                DisplayUnit::plain()
                    .approx_number(scores.get(&r.id).copied().flatten().unwrap_or(f64::NAN))
            );
            for (v, x) in c.variables.iter().zip(r.values) {
                let cell = if v.is_numeric() {
                    v.unit.approx_number(*x)
                } else {
                    v.cell(*x)
                };
                let _ = write!(s, "<td>{}</td>", escape(&cell));
            }
            for (k, p) in c.proxies.iter().enumerate() {
                let cell = r
                    .proxies
                    .get(k)
                    .copied()
                    .flatten()
                    .map_or_else(String::new, |x| p.unit.approx_number(x));
                let _ = write!(s, "<td>{}</td>", escape(&cell));
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</table>\n");
    }
    // The experiments that did not succeed, and why (also in `observations.csv`).
    let failed: Vec<(&Experiment, &Outcome)> = experiments
        .iter()
        .filter_map(|e| Some((e, e.outcome.as_ref()?)))
        .filter(|(_, o)| !o.status.is_ok())
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(
            s,
            "<h2>Experiments that did not succeed</h2>\n<table class=\"failures\"><tr><th>experiment</th><th>status</th><th style=\"text-align:left\">reason</th></tr>"
        );
        for (e, o) in failed {
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{}</td><td style=\"text-align:left\">{}</td></tr>",
                e.id,
                escape(o.status.name()),
                escape(o.reason.as_deref().unwrap_or(""))
            );
        }
        s.push_str("</table>\n");
    }
    s.push_str("<p>Spectra of every experiment are in <code>spectra/</code>; all values in <code>observations.csv</code>.</p>\n</body></html>\n");
    s
}
