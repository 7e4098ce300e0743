//! `report.html`: a self-contained page with SVG plots, written into the bundle from the
//! journal (no scripts, no external files, so it opens anywhere and archives well).
//!
//! Invariant: the page is a function of the campaign and the journal only (no wall-clock
//! times), so it is part of the reproducible bundle.

mod svg;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use qdx_optimize::Score;

use crate::record::Experiment;
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

/// Writes `report.html` into the bundle: the experiments and their scores
/// ([`crate::record`]), and why the run stopped.
pub fn write(
    dir: &Path,
    c: &Campaign,
    experiments: &[Experiment],
    scores: &BTreeMap<u64, Score>,
    stop_reason: &str,
) -> std::io::Result<()> {
    let scores = combined(scores);
    let mut page = html(c, experiments, &scores, stop_reason);
    let spectra = best_spectra(dir, experiments, &scores);
    if !spectra.is_empty() {
        let at = page
            .rfind("<p>Spectra of every experiment")
            .unwrap_or(page.len());
        page.insert_str(at, &spectra);
    }
    crate::files::write_atomic(&dir.join("report.html"), page.as_bytes())
}

/// The combined score of each finished experiment (`None` for failures and Pareto campaigns).
fn combined(scores: &BTreeMap<u64, Score>) -> BTreeMap<u64, Option<f64>> {
    scores.iter().map(|(k, s)| (*k, s.combined)).collect()
}

/// The raw spectra of the three best experiments, one plot per channel.
fn best_spectra(
    dir: &Path,
    experiments: &[Experiment],
    scores: &BTreeMap<u64, Option<f64>>,
) -> String {
    let mut ranked: Vec<(u64, f64)> = scores
        .iter()
        .filter_map(|(k, v)| Some((*k, (*v)?)))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let best: Vec<u64> = ranked.iter().take(3).map(|(k, _)| *k).collect();
    let mut by_channel: BTreeMap<ChannelKind, Vec<Vec<(f64, f64)>>> = BTreeMap::new();
    let mut legend: BTreeMap<ChannelKind, Vec<u64>> = BTreeMap::new();
    for id in &best {
        let Some(e) = experiments.iter().find(|e| e.id == *id) else {
            continue;
        };
        for saved in e.spectra.iter().filter(|s| s.replicate == 0) {
            let Some(spectrum) = std::fs::read_to_string(dir.join(&saved.file))
                .ok()
                .and_then(|text| crate::files::spectrum::read(&text).ok())
            else {
                continue;
            };
            let points: Vec<(f64, f64)> = spectrum
                .wavelength_nm()
                .iter()
                .copied()
                .zip(spectrum.values().iter().copied())
                .collect();
            by_channel.entry(saved.channel).or_default().push(points);
            legend.entry(saved.channel).or_default().push(*id);
        }
    }
    let mut s = String::new();
    for (kind, lines) in by_channel {
        let channel = kind.name();
        let ids = legend
            .get(&kind)
            .map(|v| v.iter().map(u64::to_string).collect::<Vec<_>>().join(", "))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "<h2>Raw {channel} spectra of the best experiments ({ids})</h2>"
        );
        s.push_str(&svg::plot(&svg::Plot {
            title: format!("{channel}: raw counts, experiments {ids}"),
            x_label: "wavelength [nm]".into(),
            y_label: "counts".into(),
            lines,
            dots: Vec::new(),
        }));
    }
    s
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
        let _ = writeln!(s, "<h2>Objective</h2>");
        s.push_str(&svg::plot(&svg::Plot {
            title: "score per experiment (dots) and best so far (line)".into(),
            x_label: "experiment".into(),
            y_label: "score".into(),
            lines: vec![series],
            dots: vec![points],
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
        if points.is_empty() {
            continue;
        }
        let unit = if p.unit.symbol().is_empty() {
            String::new()
        } else {
            format!(" [{}]", p.unit.symbol())
        };
        let _ = writeln!(s, "<h2>{}{}</h2>", escape(&p.name), escape(&unit));
        s.push_str(&svg::plot(&svg::Plot {
            title: format!("{} per experiment", p.name),
            x_label: "experiment".into(),
            y_label: format!("{}{unit}", p.name),
            lines: Vec::new(),
            dots: vec![points],
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
            &format!("{} [{}]", vx.name, vx.unit.symbol()),
            &format!("{} [{}]", vy.name, vy.unit.symbol()),
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
            x_label: pa.name.clone(),
            y_label: pb.name.clone(),
            lines: Vec::new(),
            dots: vec![pts],
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
                "<th>{} [{}]</th>",
                escape(&v.name),
                escape(v.unit.symbol())
            );
        }
        for p in &c.proxies {
            let _ = write!(
                s,
                "<th>{} [{}]</th>",
                escape(&p.name),
                escape(p.unit.symbol())
            );
        }
        s.push_str("</tr>\n");
        for r in ranked.iter().take(10) {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{:.4}</td>",
                r.id,
                scores.get(&r.id).copied().flatten().unwrap_or(f64::NAN)
            );
            for (v, x) in c.variables.iter().zip(r.values) {
                let cell = v.cell(*x);
                let _ = write!(s, "<td>{}</td>", escape(&cell));
            }
            for (k, p) in c.proxies.iter().enumerate() {
                let cell = r
                    .proxies
                    .get(k)
                    .copied()
                    .flatten()
                    .map_or_else(String::new, |x| p.unit.number(x));
                let _ = write!(s, "<td>{}</td>", escape(&cell));
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</table>\n");
    }
    s.push_str("<p>Spectra of every experiment are in <code>spectra/</code>; all values in <code>observations.csv</code>.</p>\n</body></html>\n");
    s
}
