//! `report.html`: one self-contained page (inline CSS and SVG, no scripts, no external
//! files). Sections, each a `<section id=…>` linked from the contents at the top:
//! - `objective`: the best so far, with the model's uncertainty band and the target band or
//!   stop threshold (not for Pareto campaigns);
//! - `pareto`: the front of each pair of objectives (units on the axes, the front marked), and
//!   `hypervolume`: the hypervolume after each experiment, with its reference point stated;
//! - `best` (or `front`): the best experiments (or those on the front), linked to their detail;
//! - `proxies`: each proxy per experiment, with the marks the campaign declares on it;
//! - `growth` (a campaign whose measurement has a `probe`): each proxy against the residence
//!   time at every probe point, one curve per experiment;
//! - `parallel`: parallel coordinates over every variable, choices included, coloured by
//!   the objective;
//! - `model`: the model's variable importance, its leave-one-out predictions against the
//!   observations, and slices along the most important variables;
//! - `spectra`: spectra of the best experiments;
//! - `failures`: the experiments that did not succeed, and why;
//! - `experiments`: one `<details id="e<N>">` per experiment (settings sent, proxies, scores,
//!   timeline, spectra), which every table and marker links to.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::analysis::{self, Mark, Quantity, approx};
use super::spectra::Spectra;
use super::svg::{self, Axis, Dot, Layer, Path, Plot};
use super::{Inputs, escape};
use crate::record::{Experiment, Hypervolume};
use crate::validate::campaign::{Campaign, ChannelKind, Combine};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1320px;padding:0 1em;color:#222;line-height:1.4}\
h1{margin:0 0 .2em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.15em}h3{margin:1em 0 .3em;font-size:1.05em}\
nav{font-size:14px}nav a{margin-right:1em}\
.grid{display:flex;flex-wrap:wrap;gap:16px 24px;align-items:flex-start}\
svg{max-width:100%;height:auto}\
.table{overflow-x:auto;max-width:100%}\
table{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums}\
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right;white-space:nowrap}th{background:#f4f4f4}\
td.text,th.text{text-align:left;white-space:normal}\
.note{color:#555;font-size:14px;max-width:60em}\
details.experiment{border:1px solid #ddd;border-radius:4px;margin:4px 0;padding:3px 8px}\
details.experiment[open]{background:#fcfcfc}summary{cursor:pointer}\
details.experiment .grid{margin:.5em 0}\
:target{outline:2px solid #e69f00}\
a{color:#0062a0}";

/// Two plots side by side in a 1400 px window.
const HALF: f64 = 640.0;
/// The whole width.
const FULL: f64 = 1300.0;

/// A link to an experiment's detail.
fn link(id: u64) -> String {
    format!("<a href=\"#e{id}\">{id}</a>")
}

/// Wraps a table so a wide one scrolls inside the page instead of widening it.
fn table(s: &mut String, class: &str, head: &str, rows: &[String]) {
    let _ = write!(
        s,
        "<div class=\"table\"><table class=\"{class}\"><tr>{head}</tr>"
    );
    for r in rows {
        let _ = write!(s, "<tr>{r}</tr>");
    }
    s.push_str("</table></div>\n");
}

fn th(text: &str) -> String {
    format!("<th>{}</th>", escape(text))
}

fn td(text: &str) -> String {
    format!("<td>{}</td>", escape(text))
}

/// What each section needs, computed once.
struct Page<'a> {
    c: &'a Campaign,
    experiments: &'a [Experiment],
    inputs: &'a Inputs<'a>,
    quantities: Vec<Quantity>,
    hypervolume: Option<Hypervolume>,
    spectra: Spectra<'a>,
}

impl Page<'_> {
    fn experiment(&self, id: u64) -> Option<&Experiment> {
        self.experiments.iter().find(|e| e.id == id)
    }

    fn finished(&self) -> impl Iterator<Item = &Experiment> {
        self.experiments.iter().filter(|e| e.outcome.is_some())
    }

    fn pareto(&self) -> bool {
        self.c.objectives.combine == Combine::Pareto && self.c.objectives.list.len() >= 2
    }

    /// A value of variable `k` of an experiment, in its unit or by its level.
    fn variable_cell(&self, k: usize, x: f64) -> String {
        match self.c.variables.get(k) {
            Some(v) if v.is_numeric() => analysis::sig4(v.unit.from_si(x)),
            Some(v) => v.cell(x),
            None => String::new(),
        }
    }

    /// The experiments the report features: the best by the objective, or those on the front.
    fn featured(&self, n: usize) -> Vec<u64> {
        if self.pareto() {
            let mut front: Vec<u64> = self
                .inputs
                .scores
                .iter()
                .filter(|(_, s)| s.on_front)
                .map(|(id, _)| *id)
                .collect();
            // The front's best by the first objective first.
            if let Some(q) = self.quantities.first() {
                let order = analysis::ranked(q);
                front.sort_by_key(|id| order.iter().position(|o| o == id).unwrap_or(usize::MAX));
            }
            front.truncate(n);
            front
        } else {
            self.quantities
                .first()
                .map(|q| analysis::ranked(q).into_iter().take(n).collect())
                .unwrap_or_default()
        }
    }

    /// Hollow markers on the axis for the finished experiments without a value in `values`.
    fn missing(&self, has: impl Fn(u64) -> bool, what: &str) -> Vec<Dot> {
        self.finished()
            .filter(|e| !has(e.id))
            .map(|e| {
                let why = e
                    .outcome
                    .as_ref()
                    .map(|o| {
                        o.reason
                            .clone()
                            .unwrap_or_else(|| o.status.name().to_owned())
                    })
                    .unwrap_or_default();
                Dot::new(
                    e.id as f64,
                    0.0,
                    format!("experiment {}: no {what} ({why})", e.id),
                    Some(e.id),
                )
            })
            .collect()
    }
}

/// The note a per-experiment plot's title carries when some experiments have no value there.
fn without_value(n: usize) -> String {
    match n {
        0 => String::new(),
        1 => "; 1 experiment without a value (hollow, on the axis)".to_owned(),
        n => format!("; {n} experiments without a value (hollow, on the axis)"),
    }
}

/// The layers of the marks on a proxy's plot.
fn mark_layers(marks: &[Mark]) -> Vec<Layer> {
    marks
        .iter()
        .enumerate()
        .map(|(k, m)| {
            let colour = ["#009e73", "#cc79a7", "#d55e00", "#56b4e9"]
                .get(k % 4)
                .copied()
                .unwrap_or("#009e73")
                .to_owned();
            match m {
                Mark::Band { lo, hi, label } => Layer::HBand {
                    name: label.clone(),
                    lo: *lo,
                    hi: *hi,
                    colour,
                },
                Mark::Line { y, label } => Layer::HLine {
                    name: label.clone(),
                    y: *y,
                    colour,
                },
            }
        })
        .collect()
}

/// The report page.
pub fn page(inputs: &Inputs<'_>) -> String {
    let c = inputs.campaign;
    let page = Page {
        c,
        experiments: inputs.experiments,
        inputs,
        quantities: analysis::quantities(c, inputs.experiments, inputs.scores),
        hypervolume: crate::record::hypervolume(c, inputs.experiments, inputs.scores),
        spectra: Spectra::new(inputs.dir),
    };
    let mut sections: Vec<(&str, &str, String)> = Vec::new();
    if !page.pareto()
        && let Some(s) = objective(&page)
    {
        sections.push(("objective", "Best so far", s));
    }
    if page.pareto() {
        let (plots, note) = pareto(&page);
        let mut s = String::from("<div class=\"grid\">");
        for p in plots {
            s.push_str(&p);
        }
        let hv = hypervolume(&page);
        if let Some((plot, _)) = &hv {
            let _ = write!(s, "<div id=\"hypervolume\">{plot}</div>");
        }
        s.push_str("</div>\n");
        s.push_str(&note);
        if let Some((_, note)) = &hv {
            s.push_str(note);
        }
        sections.push(("pareto", "Pareto front and hypervolume", s));
    }
    if let Some(s) = best(&page) {
        let title = if page.pareto() {
            "Experiments on the front"
        } else {
            "Best experiments"
        };
        sections.push((if page.pareto() { "front" } else { "best" }, title, s));
    }
    if let Some(s) = map(&page) {
        sections.push(("map", "The map", s));
    }
    if let Some(s) = proxies(&page) {
        sections.push(("proxies", "Proxies", s));
    }
    if let Some(s) = growth(&page) {
        sections.push(("growth", "Growth curves along the coil", s));
    }
    if let Some(s) = parallel(&page) {
        sections.push(("parallel", "Where the experiments went", s));
    }
    if let Some(s) = model(&page) {
        sections.push(("model", "What the model learned", s));
    }
    if let Some(s) = best_spectra(&page) {
        sections.push(("spectra", "Spectra", s));
    }
    if let Some(s) = failures(&page) {
        sections.push(("failures", "Experiments that did not succeed", s));
    }
    sections.push(("experiments", "Every experiment", details(&page)));

    let mut s = String::new();
    let _ = write!(
        s,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title>\n<style>{STYLE}</style></head><body>\n",
        escape(&c.name)
    );
    let _ = writeln!(s, "<h1>{}</h1>", escape(&c.name));
    if let Some(d) = &c.description {
        let _ = writeln!(s, "<p>{}</p>", escape(d));
    }
    let total = page.finished().count();
    let ok = page
        .finished()
        .filter(|e| e.outcome.as_ref().is_some_and(|o| o.status.is_ok()))
        .count();
    let objectives: Vec<String> = c
        .objectives
        .list
        .iter()
        .map(|o| {
            use crate::validate::campaign::Goal;
            match o.goal {
                Goal::Maximize => format!("maximise {}", o.name),
                Goal::Minimize => format!("minimise {}", o.name),
                Goal::Target { value, tolerance } if tolerance > 0.0 => format!(
                    "{} to {} ± {}",
                    o.name,
                    analysis::quantity(&o.unit, value),
                    approx(
                        (o.unit.from_si(value + tolerance) - o.unit.from_si(value)).abs(),
                        o.unit.symbol()
                    )
                ),
                Goal::Target { value, .. } => {
                    format!("{} to {}", o.name, analysis::quantity(&o.unit, value))
                }
                Goal::AtLeast { value } => {
                    format!("{} at least {}", o.name, analysis::quantity(&o.unit, value))
                }
                Goal::AtMost { value } => {
                    format!("{} at most {}", o.name, analysis::quantity(&o.unit, value))
                }
            }
        })
        .collect();
    let _ = writeln!(
        s,
        "<p>{total} experiments ({ok} succeeded, {} failed or skipped) · optimizer <code>{}</code> · seed {}{}</p>",
        total - ok,
        c.optimizer.strategy.name(),
        c.seed,
        if objectives.is_empty() {
            String::new()
        } else {
            format!(
                " · {}{}",
                escape(&objectives.join(", ")),
                match c.objectives.combine {
                    Combine::Desirability => " (combined by desirability)",
                    Combine::WeightedSum => " (combined by weighted sum)",
                    Combine::Pareto => " (Pareto front)",
                    Combine::Single => "",
                }
            )
        }
    );
    if let Some(pool) = c.search.domain.pool() {
        let _ = writeln!(
            s,
            "<p>Pool campaign: the optimizer picks among {} candidates (the rows of the campaign's table that fit its variables and constraints); {total} of them were run.</p>",
            pool.len()
        );
    }
    if !inputs.stop_reason.is_empty() {
        let _ = writeln!(s, "<p>Stopped: {}.</p>", escape(inputs.stop_reason));
    }
    s.push_str("<nav>");
    for (id, title, _) in &sections {
        let _ = write!(s, "<a href=\"#{id}\">{}</a>", escape(title));
    }
    s.push_str("</nav>\n");
    for (id, title, body) in &sections {
        let _ = write!(
            s,
            "<section id=\"{id}\"><h2>{}</h2>\n{body}</section>\n",
            escape(title)
        );
    }
    s.push_str("<p class=\"note\">Every value is in <code>observations.csv</code> (units in its header, described in <code>datapackage.json</code>); each spectrum is a file under <code>spectra/</code>, listed in <code>spectra.csv</code>.</p>\n</body></html>\n");
    s
}

/// A mapping campaign's map: heat maps of the mapped proxy's mean and sd over the two variables
/// the map varies fastest along (the shortest lengthscales), the others at the middle of their
/// grid axis, with the experiments as dots. The same model and grid as `map.csv`.
fn map(page: &Page<'_>) -> Option<String> {
    let c = page.c;
    let goal = c.objectives.map.as_ref()?;
    if c.variables.len() < 2 {
        return None;
    }
    let observations: Vec<qdx_optimize::Observation> = c
        .search
        .prior
        .iter()
        .cloned()
        .chain(page.experiments.iter().flat_map(|e| e.observations(c)))
        .collect();
    let fitted = crate::files::map::fit(c, &observations)?;
    let mut order: Vec<(usize, f64)> = fitted
        .model
        .lengthscales()
        .into_iter()
        .enumerate()
        .collect();
    order.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    let (ix, iy) = match order.as_slice() {
        [a, b, ..] => (a.0.min(b.0), a.0.max(b.0)),
        _ => return None,
    };
    let axes = crate::files::map::axes(c);
    let middle: Vec<f64> = axes
        .iter()
        .map(|a| a.get(a.len() / 2).copied().unwrap_or(f64::NAN))
        .collect();
    let (xs, ys) = (axes.get(ix)?, axes.get(iy)?);
    let (vx, vy) = (c.variables.get(ix)?, c.variables.get(iy)?);
    // One cell per feasible grid point: (column, row, mean, sd).
    type Cell = (usize, usize, f64, f64);
    let mut cells: Vec<Cell> = Vec::new();
    for (j, y) in ys.iter().enumerate() {
        for (i, x) in xs.iter().enumerate() {
            let mut values = middle.clone();
            if let Some(v) = values.get_mut(ix) {
                *v = *x;
            }
            if let Some(v) = values.get_mut(iy) {
                *v = *y;
            }
            let point = crate::validate::strategy::point(&c.variables, &values);
            if c.search.domain.is_feasible(&point) {
                let p = fitted.model.predict(&point);
                cells.push((i, j, p.mean, p.sd));
            }
        }
    }
    if cells.is_empty() {
        return None;
    }
    let dots: Vec<(f64, f64, u64)> = page
        .finished()
        .filter(|e| e.outcome.as_ref().is_some_and(|o| o.status.is_ok()))
        .filter_map(|e| Some((*e.point.get(ix)?, *e.point.get(iy)?, e.id)))
        .collect();
    let sd_unit = crate::files::map::sd_unit(&goal.unit);
    let heat = |title: String,
                value: &dyn Fn(&Cell) -> f64,
                unit: &crate::validate::campaign::DisplayUnit| {
        let values: Vec<f64> = cells.iter().map(value).collect();
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (w, h, left, top) = (300.0, 240.0, 56.0, 28.0);
        let (cw, ch) = (w / xs.len() as f64, h / ys.len() as f64);
        let mut svg = format!(
            "<svg class=\"plot\" width=\"{0}\" viewBox=\"0 0 {0} {1}\" role=\"img\" aria-label=\"{2}\"><text x=\"{left}\" y=\"16\" class=\"title\">{3}</text>",
            w + left + 20.0,
            h + top + 54.0,
            escape(&title),
            escape(&title)
        );
        for (cell, v) in cells.iter().zip(&values) {
            let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"{}\"><title>{}</title></rect>",
                left + cell.0 as f64 * cw,
                top + h - (cell.1 + 1) as f64 * ch,
                cw + 0.05,
                ch + 0.05,
                svg::scale_colour(t),
                escape(&unit.approx(*v))
            );
        }
        let span = |a: &[f64], x: f64| {
            let (a0, a1) = (
                a.first().copied().unwrap_or(0.0),
                a.last().copied().unwrap_or(1.0),
            );
            if a1 > a0 { (x - a0) / (a1 - a0) } else { 0.5 }
        };
        for (x, y, id) in &dots {
            let _ = write!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"none\" stroke=\"#fff\" stroke-width=\"1.5\"><title>experiment {id}</title></circle>",
                left + cw / 2.0 + span(xs, *x) * (w - cw),
                top + h - ch / 2.0 - span(ys, *y) * (h - ch)
            );
        }
        let end = |v: &crate::validate::campaign::Variable, a: &[f64], last: bool| {
            let x = if last { a.last() } else { a.first() };
            x.map_or_else(String::new, |x| v.unit.approx(*x))
        };
        let _ = write!(
            svg,
            "<text x=\"{left}\" y=\"{:.1}\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            top + h + 14.0,
            escape(&end(vx, xs, false)),
            left + w,
            top + h + 14.0,
            escape(&end(vx, xs, true)),
            left + w / 2.0,
            top + h + 30.0,
            escape(&vx.name),
        );
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text><text x=\"12\" y=\"{:.1}\" transform=\"rotate(-90 12 {:.1})\" text-anchor=\"middle\">{}</text>",
            left - 4.0,
            top + h,
            escape(&end(vy, ys, false)),
            left - 4.0,
            top + 10.0,
            escape(&end(vy, ys, true)),
            top + h / 2.0,
            top + h / 2.0,
            escape(&vy.name)
        );
        let _ = write!(
            svg,
            "<text x=\"{left}\" y=\"{:.1}\">{} (dark) to {} (bright)</text></svg>",
            top + h + 44.0,
            escape(&unit.approx(lo)),
            escape(&unit.approx(hi))
        );
        svg
    };
    let mean = heat(
        format!("{}: the map's prediction", goal.name),
        &|c| c.2,
        &goal.unit,
    );
    let sd = heat(
        format!("{}: its uncertainty (sd)", goal.name),
        &|c| c.3,
        &sd_unit,
    );
    let others: Vec<String> = c
        .variables
        .iter()
        .enumerate()
        .filter(|(k, _)| *k != ix && *k != iy)
        .filter_map(|(k, v)| Some(format!("{} = {}", v.name, v.unit.approx(*middle.get(k)?))))
        .collect();
    let mut s = format!("<div class=\"grid\">{mean}{sd}</div>\n");
    let _ = writeln!(
        s,
        "<p>A Gaussian-process map of <code>{}</code> from {} measured values; its largest sd over the {} grid points of <code>map.csv</code> is {}{}. Dots: the experiments.{}</p>",
        escape(&goal.name),
        qdx_optimize::mapped_values(&observations, &goal.name)
            .1
            .len(),
        crate::files::map::grid_points(c).len(),
        escape(&sd_unit.approx(fitted.uncertainty.max_sd)),
        goal.level.map_or_else(String::new, |l| format!(
            " (the declared level: {})",
            escape(&sd_unit.format(l))
        )),
        if others.is_empty() {
            String::new()
        } else {
            format!(
                " The other variables are held at {}.",
                escape(&others.join(", "))
            )
        }
    );
    Some(s)
}

/// The best so far of the objective, the model's estimate of it with ±2 sd, each
/// experiment's value, and the campaign's marks on the objective's proxy.
fn objective(page: &Page<'_>) -> Option<String> {
    let q = page.quantities.first()?;
    let best = analysis::best_so_far(page.experiments, q);
    let mut p = Plot::new(
        format!(
            "{}: each experiment and the best so far{}",
            q.name,
            without_value(
                page.finished()
                    .filter(|e| !q.values.contains_key(&e.id))
                    .count()
            )
        ),
        "experiment".into(),
        q.label.clone(),
    );
    p.width = FULL;
    p.height = 360.0;
    if let Some(k) = q.proxy {
        p.layers.extend(mark_layers(&analysis::marks(page.c, k)));
    }
    if let Some(m) = &q.model {
        let band: Vec<(f64, f64, f64)> = best
            .iter()
            .filter_map(|(at, b)| {
                let e = page.experiment(*b)?;
                let pr = m.surrogate.predict(&analysis::point(page.c, e));
                Some((*at as f64, pr.mean - 2.0 * pr.sd, pr.mean + 2.0 * pr.sd))
            })
            .collect();
        p.layers.push(Layer::Band {
            name: Some("model at the best so far, mean ± 2 sd".into()),
            points: band,
            colour: svg::colour(0).into(),
            step: true,
        });
    }
    p.layers.push(Layer::Line {
        name: Some("best so far".into()),
        points: best
            .iter()
            .filter_map(|(at, b)| Some((*at as f64, *q.values.get(b)?)))
            .collect(),
        colour: svg::colour(0).into(),
        dashed: false,
        step: true,
    });
    p.layers.push(Layer::Dots {
        name: Some("experiment".into()),
        dots: q
            .values
            .iter()
            .map(|(id, v)| {
                Dot::new(
                    *id as f64,
                    *v,
                    format!("experiment {id}: {}", approx(*v, &q.unit)),
                    Some(*id),
                )
            })
            .collect(),
        colour: svg::colour(1).into(),
        ring: false,
        radius: 3.5,
    });
    p.missing = page.missing(|id| q.values.contains_key(&id), &q.name);
    let mut s = svg::plot(&p);
    let note = match (&q.model, best.last()) {
        (Some(_), Some((_, b))) => format!(
            "<p class=\"note\">The best experiment is {} ({}). The band is what a Gaussian process fitted to the {} successful experiments (Matérn 5/2, as the optimizer's) believes of the best so far: its mean ± 2 standard deviations at that experiment's settings.</p>",
            link(*b),
            escape(
                &q.values
                    .get(b)
                    .map_or_else(String::new, |v| approx(*v, &q.unit))
            ),
            q.values.len()
        ),
        (None, Some((_, b))) => format!(
            "<p class=\"note\">The best experiment is {} ({}). No model: fewer than {} experiments succeeded.</p>",
            link(*b),
            escape(
                &q.values
                    .get(b)
                    .map_or_else(String::new, |v| approx(*v, &q.unit))
            ),
            analysis::MIN_FIT
        ),
        _ => "<p class=\"note\">No experiment has a value yet.</p>".to_owned(),
    };
    s.push_str(&note);
    s.push('\n');
    Some(s)
}

/// The front of each pair of objectives (the first three pairs): the plots, and a note.
fn pareto(page: &Page<'_>) -> (Vec<String>, String) {
    use crate::validate::campaign::Goal;
    let c = page.c;
    let list = &c.objectives.list;
    let mut pairs = Vec::new();
    for a in 0..list.len() {
        for b in (a + 1)..list.len() {
            pairs.push((a, b));
        }
    }
    pairs.truncate(3);
    let mut plots = Vec::new();
    for (a, b) in pairs {
        let (Some(oa), Some(ob)) = (list.get(a), list.get(b)) else {
            continue;
        };
        let (Some(pa), Some(pb)) = (c.proxies.get(oa.proxy), c.proxies.get(ob.proxy)) else {
            continue;
        };
        let mut front = Vec::new();
        let mut rest = Vec::new();
        for e in page.finished() {
            let Some(o) = &e.outcome else { continue };
            if !o.status.is_ok() {
                continue;
            }
            let (Some(x), Some(y)) = (
                o.proxies.get(oa.proxy).copied().flatten(),
                o.proxies.get(ob.proxy).copied().flatten(),
            ) else {
                continue;
            };
            let (x, y) = (pa.unit.from_si(x), pb.unit.from_si(y));
            let on = page.inputs.scores.get(&e.id).is_some_and(|s| s.on_front);
            let dot = Dot::new(
                x,
                y,
                format!(
                    "experiment {}: {} {}, {} {}{}",
                    e.id,
                    pa.name,
                    approx(x, pa.unit.symbol()),
                    pb.name,
                    approx(y, pb.unit.symbol()),
                    if on { " (on the front)" } else { "" }
                ),
                Some(e.id),
            );
            if on { front.push(dot) } else { rest.push(dot) }
        }
        let mut p = Plot::new(
            format!("{} against {}", pb.name, pa.name),
            crate::files::column(&pa.name, &pa.unit),
            crate::files::column(&pb.name, &pb.unit),
        );
        p.width = HALF;
        p.height = 360.0;
        // The front's staircase, where both goals order values (the corner between two
        // neighbours is the worse of each).
        let worse = |goal: Goal, u: f64, v: f64| match goal {
            Goal::Maximize => Some(u.min(v)),
            Goal::Minimize => Some(u.max(v)),
            _ => None,
        };
        let mut sorted: Vec<(f64, f64)> = front.iter().map(|d| (d.x, d.y)).collect();
        sorted.sort_by(|u, v| u.0.total_cmp(&v.0).then(u.1.total_cmp(&v.1)));
        if sorted.len() >= 2
            && worse(oa.goal, 0.0, 0.0).is_some()
            && worse(ob.goal, 0.0, 0.0).is_some()
        {
            let mut line = Vec::new();
            for (u, v) in sorted.iter().zip(sorted.iter().skip(1)) {
                line.push(*u);
                if let (Some(x), Some(y)) = (worse(oa.goal, u.0, v.0), worse(ob.goal, u.1, v.1)) {
                    line.push((x, y));
                }
            }
            if let Some(last) = sorted.last() {
                line.push(*last);
            }
            p.layers.push(Layer::Line {
                name: Some("front (what no experiment beats)".into()),
                points: line,
                colour: svg::colour(1).into(),
                dashed: false,
                step: false,
            });
        }
        let n_front = front.len();
        p.layers.push(Layer::Dots {
            name: Some("dominated".into()),
            dots: rest,
            colour: "#9bb7d4".into(),
            ring: false,
            radius: 3.5,
        });
        p.layers.push(Layer::Dots {
            name: Some(format!("on the front ({n_front})")),
            dots: front,
            colour: svg::colour(1).into(),
            ring: false,
            radius: 5.0,
        });
        if let Some(h) = &page.hypervolume
            && let (Some(rx), Some(ry)) = (
                analysis::reference_value(c, h, a),
                analysis::reference_value(c, h, b),
            )
        {
            let (x, y) = (pa.unit.from_si(rx), pb.unit.from_si(ry));
            p.layers.push(Layer::Dots {
                name: Some("hypervolume reference point".into()),
                dots: vec![Dot::new(
                    x,
                    y,
                    format!(
                        "reference point: {} {}, {} {}",
                        pa.name,
                        approx(x, pa.unit.symbol()),
                        pb.name,
                        approx(y, pb.unit.symbol())
                    ),
                    None,
                )],
                colour: "#555".into(),
                ring: true,
                radius: 5.0,
            });
        }
        plots.push(svg::plot(&p));
    }
    let arrows: Vec<String> = list
        .iter()
        .map(|o| {
            use crate::validate::campaign::Goal;
            let goal = match o.goal {
                Goal::Maximize => "higher is better".to_owned(),
                Goal::Minimize => "lower is better".to_owned(),
                Goal::Target { value, .. } => {
                    format!("closer to {} is better", analysis::quantity(&o.unit, value))
                }
                Goal::AtLeast { value } => {
                    format!("at least {}", analysis::quantity(&o.unit, value))
                }
                Goal::AtMost { value } => format!("at most {}", analysis::quantity(&o.unit, value)),
            };
            format!("{}: {goal}", o.name)
        })
        .collect();
    let note = format!(
        "<p class=\"note\">An experiment is on the front when no other is at least as good in every objective and better in one ({}){}.</p>\n",
        escape(&arrows.join("; ")),
        if list.len() > 2 {
            format!(", over all {} objectives together", list.len())
        } else {
            String::new()
        }
    );
    (plots, note)
}

/// The hypervolume after each experiment: the plot, and a note.
fn hypervolume(page: &Page<'_>) -> Option<(String, String)> {
    let h = page.hypervolume.as_ref()?;
    let reference = analysis::reference_text(page.c, h)
        .iter()
        .map(|(n, t)| format!("{n} {t}"))
        .collect::<Vec<_>>()
        .join(", ");
    let label = if h.unit.is_empty() {
        "hypervolume".to_owned()
    } else {
        format!("hypervolume [{}]", h.unit)
    };
    let mut p = Plot::new(
        format!("hypervolume after each experiment; reference point {reference}"),
        "experiment".into(),
        label,
    );
    p.width = HALF;
    p.height = 360.0;
    let points: Vec<(f64, f64)> = h
        .by_experiment
        .iter()
        .map(|(id, v)| (*id as f64, *v))
        .collect();
    p.layers.push(Layer::Line {
        name: Some("hypervolume".into()),
        points: points.clone(),
        colour: svg::colour(0).into(),
        dashed: false,
        step: true,
    });
    let on_front = |id: u64| page.inputs.scores.get(&id).is_some_and(|s| s.on_front);
    p.layers.push(Layer::Dots {
        name: Some("experiment on the final front".into()),
        dots: h
            .by_experiment
            .iter()
            .filter(|(id, _)| on_front(**id))
            .map(|(id, v)| {
                Dot::new(
                    *id as f64,
                    *v,
                    format!("experiment {id}: hypervolume {}", approx(*v, &h.unit)),
                    Some(*id),
                )
            })
            .collect(),
        colour: svg::colour(1).into(),
        ring: false,
        radius: 4.0,
    });
    let ok = |id: u64| {
        page.experiment(id)
            .and_then(|e| e.outcome.as_ref())
            .is_some_and(|o| o.status.is_ok())
    };
    p.missing = page.missing(ok, "value");
    let plot = svg::plot(&p);
    let last = h.by_experiment.values().last().copied().unwrap_or(0.0);
    let scaled = page.c.objectives.list.iter().any(|o| {
        !matches!(
            o.goal,
            crate::validate::campaign::Goal::Maximize | crate::validate::campaign::Goal::Minimize
        )
    });
    let note = format!(
        "<p class=\"note\">Hypervolume of the final front: <b>{}</b>, against the reference point {} ({}). It is the area (the volume, with more objectives) of objective values that the front beats and the reference point does not: it grows each time an experiment pushes the front out.{} Also in <code>observations.csv</code> (column <code>hypervolume</code>) and the JSON report.</p>\n",
        escape(&approx(last, &h.unit)),
        escape(&reference),
        if h.declared {
            "declared by the campaign"
        } else {
            "none declared: the worst observed value of each objective less 10 % of its observed range"
        },
        if scaled {
            " A target or a one-sided goal counts as its distance from the goal over the goal's tolerance or scale, a plain number."
        } else {
            ""
        }
    );
    Some((plot, note))
}

/// The best experiments (or those on the front): a row each, linked to the detail.
fn best(page: &Page<'_>) -> Option<String> {
    let c = page.c;
    let ids = page.featured(10);
    if ids.is_empty() {
        return None;
    }
    let q = page.quantities.first();
    let mut head = String::from("<th>experiment</th>");
    let combined = matches!(
        c.objectives.combine,
        Combine::Desirability | Combine::WeightedSum
    );
    if combined {
        head.push_str(&th("objective"));
    }
    for v in &c.variables {
        head.push_str(&th(&crate::files::column(&v.name, &v.unit)));
    }
    for p in &c.proxies {
        head.push_str(&th(&crate::files::column(&p.name, &p.unit)));
    }
    let rows: Vec<String> = ids
        .iter()
        .filter_map(|id| {
            let e = page.experiment(*id)?;
            let o = e.outcome.as_ref()?;
            let mut r = format!("<td>{}</td>", link(*id));
            if combined {
                r.push_str(&td(&q
                    .and_then(|q| q.values.get(id))
                    .map_or_else(String::new, |v| approx(*v, ""))));
            }
            for (k, x) in e.measured_point(c).iter().enumerate() {
                r.push_str(&td(&page.variable_cell(k, *x)));
            }
            for (k, p) in c.proxies.iter().enumerate() {
                r.push_str(&td(&o
                    .proxies
                    .get(k)
                    .copied()
                    .flatten()
                    .map_or_else(String::new, |x| analysis::sig4(p.unit.from_si(x)))));
            }
            Some(r)
        })
        .collect();
    let mut s = String::new();
    table(&mut s, "best", &head, &rows);
    Some(s)
}

/// Each proxy against the experiment, with the marks the campaign declares on it.
/// With a `probe`: each proxy against the residence time at the points the probe read, one
/// curve per finished experiment (in its colour, linked to its detail).
fn growth(page: &Page<'_>) -> Option<String> {
    let c = page.c;
    let probe = c.measurement.as_ref()?.probe.as_ref()?;
    let coil = c.devices.get(probe.coil).map_or("?", |d| d.name.as_str());
    let mut s = String::from("<div class=\"grid\">");
    let mut any = false;
    for (j, p) in c.proxies.iter().enumerate() {
        let mut plot = Plot::new(
            format!("{} along {coil}", p.name),
            "residence time [s]".into(),
            crate::files::column(&p.name, &p.unit),
        );
        plot.width = HALF;
        for (k, e) in page.finished().enumerate() {
            let Some(o) = e.outcome.as_ref() else {
                continue;
            };
            let points: Vec<(f64, f64)> = o
                .points
                .iter()
                .filter_map(|pt| {
                    let y = p.unit.from_si(pt.proxies.get(j).copied().flatten()?);
                    (pt.residence.is_finite() && y.is_finite()).then_some((pt.residence, y))
                })
                .collect();
            if points.is_empty() {
                continue;
            }
            let colour = svg::colour(k);
            let dots = points
                .iter()
                .map(|(x, y)| {
                    Dot::new(
                        *x,
                        *y,
                        format!(
                            "experiment {}: {} at {}",
                            e.id,
                            approx(*y, p.unit.symbol()),
                            approx(*x, "s")
                        ),
                        Some(e.id),
                    )
                })
                .collect();
            plot.layers.push(Layer::Line {
                name: None,
                points,
                colour: colour.into(),
                dashed: false,
                step: false,
            });
            plot.layers.push(Layer::Dots {
                name: None,
                dots,
                colour: colour.into(),
                ring: false,
                radius: 3.0,
            });
        }
        if plot.layers.is_empty() {
            continue;
        }
        any = true;
        s.push_str(&svg::plot(&plot));
    }
    s.push_str("</div>\n");
    let _ = writeln!(
        s,
        "<p class=\"note\">The probe read <code>{coil}</code> at {} points ({}); a point's residence time is its volume over the flow through the coil, so each experiment's flow sets where its curve lies. The objectives read the last point.</p>",
        probe.points.len(),
        escape(
            &probe
                .points
                .iter()
                .map(crate::validate::campaign::ProbePoint::label)
                .collect::<Vec<_>>()
                .join(", ")
        )
    );
    any.then_some(s)
}

fn proxies(page: &Page<'_>) -> Option<String> {
    let c = page.c;
    let mut s = String::from("<div class=\"grid\">");
    let mut any = false;
    for (k, p) in c.proxies.iter().enumerate() {
        let value = |e: &Experiment| e.outcome.as_ref()?.proxies.get(k).copied().flatten();
        type Marked = Vec<(Dot, bool)>;
        let (dots, not_ok): (Marked, Marked) = page
            .finished()
            .filter_map(|e| {
                let v = p.unit.from_si(value(e)?);
                let status = e.outcome.as_ref().map_or("", |o| o.status.name());
                Some((
                    Dot::new(
                        e.id as f64,
                        v,
                        format!(
                            "experiment {}: {}{}",
                            e.id,
                            approx(v, p.unit.symbol()),
                            if status == "ok" {
                                String::new()
                            } else {
                                format!(" ({status})")
                            }
                        ),
                        Some(e.id),
                    ),
                    status == "ok",
                ))
            })
            .partition(|(_, ok)| *ok);
        let dots: Vec<Dot> = dots.into_iter().map(|(d, _)| d).collect();
        let not_ok: Vec<Dot> = not_ok.into_iter().map(|(d, _)| d).collect();
        let missing = page.missing(|id| page.experiment(id).and_then(value).is_some(), &p.name);
        if dots.is_empty() && not_ok.is_empty() && missing.is_empty() {
            continue;
        }
        any = true;
        let mut plot = Plot::new(
            format!("{} per experiment{}", p.name, without_value(missing.len())),
            "experiment".into(),
            crate::files::column(&p.name, &p.unit),
        );
        plot.width = HALF;
        plot.layers.extend(mark_layers(&analysis::marks(c, k)));
        let statuses: std::collections::BTreeSet<&str> = not_ok
            .iter()
            .filter_map(|d| page.experiment(d.experiment?)?.outcome.as_ref())
            .map(|o| o.status.name())
            .collect();
        let any_not_ok = !not_ok.is_empty();
        plot.layers.push(Layer::Dots {
            name: any_not_ok.then(|| "ok".to_owned()),
            dots,
            colour: svg::colour(0).into(),
            ring: false,
            radius: 3.5,
        });
        if any_not_ok {
            plot.layers.push(Layer::Dots {
                name: Some(format!(
                    "measured, but {}",
                    statuses.into_iter().collect::<Vec<_>>().join(" or ")
                )),
                dots: not_ok,
                colour: svg::colour(5).into(),
                ring: true,
                radius: 3.5,
            });
        }
        plot.missing = missing;
        s.push_str(&svg::plot(&plot));
    }
    s.push_str("</div>\n");
    any.then_some(s)
}

/// Parallel coordinates: an axis per variable (choices by level), then the objectives; a
/// line per finished experiment coloured by the (first) objective.
fn parallel(page: &Page<'_>) -> Option<String> {
    let c = page.c;
    if c.variables.is_empty() || page.finished().next().is_none() {
        return None;
    }
    let mut axes: Vec<Axis> = c
        .variables
        .iter()
        .map(|v| match v.bounds() {
            Some((lo, hi)) => {
                let (a, b) = (v.unit.from_si(lo), v.unit.from_si(hi));
                Axis::Numeric {
                    label: crate::files::column(&v.name, &v.unit),
                    lo: a.min(b),
                    hi: a.max(b),
                }
            }
            None => Axis::Levels {
                label: v.name.clone(),
                levels: match &v.domain {
                    crate::validate::campaign::Domain::Choice { levels } => levels.clone(),
                    _ => Vec::new(),
                },
            },
        })
        .collect();
    for q in &page.quantities {
        let (lo, hi) = q
            .values
            .values()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(*v), b.max(*v))
            });
        if lo.is_finite() {
            axes.push(Axis::Numeric {
                label: q.label.clone(),
                lo,
                hi,
            });
        }
    }
    let shown: Vec<&Quantity> = page
        .quantities
        .iter()
        .filter(|q| !q.values.is_empty())
        .collect();
    let colour = shown.first();
    let (lo, hi) = colour.map_or((0.0, 1.0), |q| {
        q.values
            .values()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(*v), b.max(*v))
            })
    });
    let paths: Vec<Path> = page
        .finished()
        .map(|e| {
            let mut values: Vec<Option<f64>> = c
                .variables
                .iter()
                .zip(&e.measured_point(c))
                .map(|(v, x)| {
                    Some(if v.is_numeric() {
                        v.unit.from_si(*x)
                    } else {
                        *x
                    })
                })
                .collect();
            values.extend(shown.iter().map(|q| q.values.get(&e.id).copied()));
            let shade = colour
                .and_then(|q| q.values.get(&e.id))
                .map(|v| if hi > lo { (v - lo) / (hi - lo) } else { 0.5 });
            let settings: Vec<String> = c
                .variables
                .iter()
                .zip(&e.measured_point(c))
                .enumerate()
                .map(|(k, (v, x))| {
                    if v.is_numeric() {
                        format!("{} {}", v.name, analysis::quantity(&v.unit, *x))
                    } else {
                        format!("{} {}", v.name, page.variable_cell(k, *x))
                    }
                })
                .collect();
            let result = colour
                .and_then(|q| {
                    Some(format!(
                        "{} {}",
                        q.name,
                        approx(*q.values.get(&e.id)?, &q.unit)
                    ))
                })
                .unwrap_or_else(|| {
                    e.outcome
                        .as_ref()
                        .map_or_else(String::new, |o| o.status.name().to_owned())
                });
            Path {
                values,
                shade,
                tip: format!("experiment {}: {} → {result}", e.id, settings.join(", ")),
                experiment: e.id,
            }
        })
        .collect();
    let (colour_label, ends) = match colour {
        Some(q) => (
            format!("colour: {}", q.label),
            (approx(lo, ""), approx(hi, "")),
        ),
        None => (
            "colour: no objective".to_owned(),
            (String::new(), String::new()),
        ),
    };
    let mut s = svg::parallel(
        &format!(
            "each experiment across {}{}",
            if c.variables.len() == 1 {
                "its variable".to_owned()
            } else {
                format!("the {} variables", c.variables.len())
            },
            if shown.is_empty() {
                String::new()
            } else {
                " and the objective".to_owned()
            }
        ),
        &axes,
        &paths,
        &colour_label,
        (&ends.0, &ends.1),
        FULL,
    );
    s.push_str("<p class=\"note\">One line per experiment, through its value on each axis (a choice at its level); hover a line for its values, click it for its detail.</p>\n");
    Some(s)
}

/// The model of each quantity: variable importance, leave-one-out predictions, slices.
fn model(page: &Page<'_>) -> Option<String> {
    let c = page.c;
    let mut s = String::new();
    for q in &page.quantities {
        let Some(m) = &q.model else { continue };
        if page.quantities.len() > 1 {
            let _ = writeln!(s, "<h3>{}</h3>", escape(&q.label));
        }
        s.push_str("<div class=\"grid\">");
        // Importance.
        let importance = m.importance();
        let lengthscales = m.surrogate.lengthscales();
        let mut items: Vec<(String, f64, String)> = c
            .variables
            .iter()
            .zip(&importance)
            .zip(&lengthscales)
            .map(|((v, i), l)| {
                let scale = if v.is_numeric() {
                    format!("{} of its range", approx(*l, ""))
                } else {
                    format!("{} (a change of level)", approx(*l, ""))
                };
                (
                    v.name.clone(),
                    *i,
                    format!("{}: lengthscale {scale}", v.name),
                )
            })
            .collect();
        items.sort_by(|a, b| b.1.total_cmp(&a.1));
        s.push_str(&svg::bars(
            &format!("variable importance for {}", q.name),
            "importance: 1 / lengthscale, relative to the most important variable",
            &items,
            HALF,
        ));
        // Leave-one-out.
        let mut p = Plot::new(
            format!(
                "{} predicted without each experiment; RMSE {}",
                q.name,
                approx(m.loo_rmse(&q.values), &q.unit)
            ),
            format!("observed {}", q.label),
            format!("predicted {}", q.label),
        );
        p.width = HALF;
        p.same_axes = true;
        p.layers.push(Layer::Diagonal {
            name: "predicted = observed".into(),
        });
        let triples: Vec<(u64, f64, f64, f64)> = m
            .ids
            .iter()
            .zip(&m.loo)
            .filter_map(|(id, pr)| Some((*id, *q.values.get(id)?, pr.mean, pr.sd)))
            .collect();
        p.layers.push(Layer::ErrorBars {
            name: Some("± 2 sd".into()),
            bars: triples
                .iter()
                .map(|(_, o, m, sd)| (*o, m - 2.0 * sd, m + 2.0 * sd))
                .collect(),
            colour: svg::colour(0).into(),
        });
        p.layers.push(Layer::Dots {
            name: Some("experiment".into()),
            dots: triples
                .iter()
                .map(|(id, o, m, sd)| {
                    Dot::new(
                        *o,
                        *m,
                        format!(
                            "experiment {id}: observed {}, predicted {} ± {}",
                            approx(*o, &q.unit),
                            approx(*m, &q.unit),
                            approx(2.0 * sd, &q.unit)
                        ),
                        Some(*id),
                    )
                })
                .collect(),
            colour: svg::colour(0).into(),
            ring: false,
            radius: 3.5,
        });
        s.push_str(&svg::plot(&p));
        // Slices along the two most important variables, at the best experiment.
        let best = analysis::ranked(q)
            .first()
            .and_then(|id| page.experiment(*id));
        if let Some(best) = best {
            let mut order: Vec<usize> = (0..c.variables.len()).collect();
            order.sort_by(|a, b| {
                importance
                    .get(*b)
                    .unwrap_or(&0.0)
                    .total_cmp(importance.get(*a).unwrap_or(&0.0))
            });
            // The two most important variables, and every choice (up to four plots).
            let mut chosen: Vec<usize> = order.iter().copied().take(2).collect();
            for k in order {
                if chosen.len() < 4
                    && !chosen.contains(&k)
                    && c.variables.get(k).is_some_and(|v| !v.is_numeric())
                {
                    chosen.push(k);
                }
            }
            for k in chosen {
                if let Some(plot) = slice(page, q, m, best, k) {
                    s.push_str(&plot);
                }
            }
        }
        s.push_str("</div>\n");
    }
    if s.is_empty() {
        return None;
    }
    let _ = writeln!(
        s,
        "<p class=\"note\">A Gaussian process (Matérn 5/2 over every variable, choices included, hyperparameters by maximum a posteriori as the optimizer fits them, with no output warping) fitted to the successful experiments. Importance: a variable along which the model changes over a short distance (a short lengthscale) matters more. Leave-one-out: each experiment predicted by the model conditioned on all the others, the hyperparameters held at the full fit's. Slices: the model along one variable, every other held at the best experiment's value.</p>"
    );
    Some(s)
}

/// The model along variable `k` through the best experiment.
fn slice(
    page: &Page<'_>,
    q: &Quantity,
    m: &analysis::Model,
    best: &Experiment,
    k: usize,
) -> Option<String> {
    let v = page.c.variables.get(k)?;
    let xs = analysis::slice_values(v);
    let predictions: Vec<(f64, qdx_optimize::Prediction)> = xs
        .iter()
        .map(|x| {
            let mut values = best.measured_point(page.c);
            if let Some(slot) = values.get_mut(k) {
                *slot = *x;
            }
            let point = crate::validate::strategy::point(&page.c.variables, &values);
            (*x, m.surrogate.predict(&point))
        })
        .collect();
    let x_of = |x: f64| if v.is_numeric() { v.unit.from_si(x) } else { x };
    let mut p = Plot::new(
        format!(
            "{} along {}, the rest as in experiment {}",
            q.name, v.name, best.id
        ),
        if v.is_numeric() {
            crate::files::column(&v.name, &v.unit)
        } else {
            v.name.clone()
        },
        q.label.clone(),
    );
    p.width = HALF;
    if let crate::validate::campaign::Domain::Choice { levels } = &v.domain {
        p.x_levels = Some(levels.clone());
    }
    if let Some(proxy) = q.proxy {
        p.layers
            .extend(mark_layers(&analysis::marks(page.c, proxy)));
    }
    let experiments: Vec<Dot> = page
        .finished()
        .filter_map(|e| {
            let y = *q.values.get(&e.id)?;
            let x = *e.measured_point(page.c).get(k)?;
            Some(Dot::new(
                x_of(x),
                y,
                format!(
                    "experiment {}: {} {}, {}",
                    e.id,
                    v.name,
                    page.variable_cell(k, x),
                    approx(y, &q.unit)
                ),
                Some(e.id),
            ))
        })
        .collect();
    if v.is_numeric() {
        p.layers.push(Layer::Band {
            name: Some("model mean ± 2 sd".into()),
            points: predictions
                .iter()
                .map(|(x, pr)| (x_of(*x), pr.mean - 2.0 * pr.sd, pr.mean + 2.0 * pr.sd))
                .collect(),
            colour: svg::colour(0).into(),
            step: false,
        });
        p.layers.push(Layer::Line {
            name: Some("model mean".into()),
            points: predictions
                .iter()
                .map(|(x, pr)| (x_of(*x), pr.mean))
                .collect(),
            colour: svg::colour(0).into(),
            dashed: false,
            step: false,
        });
    } else {
        p.layers.push(Layer::ErrorBars {
            name: Some("model mean ± 2 sd".into()),
            bars: predictions
                .iter()
                .map(|(x, pr)| (*x, pr.mean - 2.0 * pr.sd, pr.mean + 2.0 * pr.sd))
                .collect(),
            colour: svg::colour(0).into(),
        });
        p.layers.push(Layer::Dots {
            name: None,
            dots: predictions
                .iter()
                .map(|(x, pr)| {
                    Dot::new(
                        *x,
                        pr.mean,
                        format!(
                            "{} {}: {} ± {}",
                            v.name,
                            page.variable_cell(k, *x),
                            approx(pr.mean, &q.unit),
                            approx(2.0 * pr.sd, &q.unit)
                        ),
                        None,
                    )
                })
                .collect(),
            colour: svg::colour(0).into(),
            ring: true,
            radius: 5.0,
        });
    }
    p.layers.push(Layer::Dots {
        name: Some("experiments (other variables differ)".into()),
        dots: experiments,
        colour: "#e69f00".into(),
        ring: false,
        radius: 2.5,
    });
    Some(svg::plot(&p))
}

/// The spectra of the best experiments (those on the front for a Pareto campaign), a plot
/// per channel with a line per experiment.
fn best_spectra(page: &Page<'_>) -> Option<String> {
    let ids = if page.pareto() {
        // Both ends of the front and its middle.
        let front = page.featured(usize::MAX);
        let n = front.len();
        let mut picks: Vec<u64> = [0, n / 2, n.saturating_sub(1)]
            .iter()
            .filter_map(|k| front.get(*k).copied())
            .collect();
        picks.dedup();
        picks
    } else {
        page.featured(3)
    };
    let list = ids
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let mut by_channel: BTreeMap<ChannelKind, Vec<(String, &crate::record::SavedSpectrum)>> =
        BTreeMap::new();
    for id in &ids {
        let Some(e) = page.experiment(*id) else {
            continue;
        };
        // With a probe, the last point: the one the objectives read; with a transient ramp,
        // the last reading (whose proxies are the experiment's).
        // With droplets, the last detected droplet's reading (the others are carrier).
        let last = e.spectra.iter().filter_map(|s| s.point).max();
        let droplet_ticks: Vec<u32> = e
            .outcome
            .iter()
            .flat_map(|o| o.droplets.iter())
            .filter_map(|x| x.droplet.tick)
            .collect();
        let last_tick = match droplet_ticks.iter().max() {
            Some(k) => Some(*k),
            None => e.spectra.iter().filter_map(|s| s.tick).max(),
        };
        for saved in e
            .spectra
            .iter()
            .filter(|s| s.replicate == 0 && s.point == last && s.tick == last_tick)
        {
            by_channel
                .entry(saved.channel)
                .or_default()
                .push((format!("experiment {id}"), saved));
        }
    }
    let what = if page.pareto() {
        "experiments on the front"
    } else {
        "best experiments"
    };
    let mut s = String::from("<div class=\"grid\">");
    let mut any = false;
    let mut no_absorbance = false;
    for (kind, lines) in &by_channel {
        let from = match kind {
            ChannelKind::Absorbance => "from the bundle's dark and reference spectra",
            ChannelKind::Photoluminescence => "raw counts",
            ChannelKind::Saxs => "I(q) as the camera integrated it",
            ChannelKind::CircularDichroism => "ellipticity as the CD spectrometer gave it",
        };
        match page.spectra.plot(
            *kind,
            format!("{} of the {what} ({list}), {from}", kind.name()),
            lines,
            (HALF, 320.0),
        ) {
            Some(plot) => {
                any = true;
                s.push_str(&plot);
            }
            None => no_absorbance |= *kind == ChannelKind::Absorbance,
        }
    }
    s.push_str("</div>\n");
    if no_absorbance {
        s.push_str("<p class=\"note\">Absorbance spectra are not plotted: the bundle has no usable calibration (<code>spectra/calibration-absorbance-dark.csv</code>, <code>-reference.csv</code>).</p>\n");
    }
    any.then_some(s)
}

/// The experiments that did not succeed, and why.
fn failures(page: &Page<'_>) -> Option<String> {
    let rows: Vec<String> = page
        .finished()
        .filter_map(|e| Some((e, e.outcome.as_ref()?)))
        .filter(|(_, o)| !o.status.is_ok())
        .map(|(e, o)| {
            format!(
                "<td>{}</td>{}<td class=\"text\">{}</td>",
                link(e.id),
                td(o.status.name()),
                escape(o.reason.as_deref().unwrap_or(""))
            )
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    // The reasons in short: the same reason with different numbers in its trailing
    // parenthesis (`not met (plqy = 0.18)`) counts once.
    let mut groups: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    for e in page.finished() {
        let Some(o) = e.outcome.as_ref().filter(|o| !o.status.is_ok()) else {
            continue;
        };
        let reason = o.reason.as_deref().unwrap_or("");
        let short = match reason.rfind(" (") {
            Some(at) if reason.ends_with(')') => &reason[..at],
            _ => reason,
        };
        groups
            .entry((o.status.name().to_owned(), short.to_owned()))
            .or_default()
            .push(e.id);
    }
    let mut groups: Vec<((String, String), Vec<u64>)> = groups.into_iter().collect();
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    let summary: Vec<String> = groups
        .iter()
        .map(|((status, reason), ids)| {
            format!(
                "<td>{}</td>{}<td class=\"text\">{}</td><td class=\"text\">{}</td>",
                ids.len(),
                td(status),
                escape(reason),
                ids.iter()
                    .map(|id| link(*id))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    let mut s = String::new();
    if groups.len() < rows.len() {
        table(
            &mut s,
            "failure-summary",
            "<th>count</th><th>status</th><th class=\"text\">reason</th><th class=\"text\">experiments</th>",
            &summary,
        );
        s.push_str("<h3>Each one</h3>\n");
    }
    table(
        &mut s,
        "failures",
        "<th>experiment</th><th>status</th><th class=\"text\">reason</th>",
        &rows,
    );
    Some(s)
}

/// A key–value table.
fn kv(title: &str, rows: &[(String, String)]) -> String {
    let mut s = format!(
        "<div class=\"table\"><table class=\"kv\"><tr><th colspan=\"2\" class=\"text\">{}</th></tr>",
        escape(title)
    );
    for (k, v) in rows {
        let _ = write!(s, "<tr><th class=\"text\">{}</th>{}</tr>", escape(k), td(v));
    }
    s.push_str("</table></div>");
    s
}

/// A droplet train: one row per droplet, its conditions from the journal and its proxies.
fn droplet_table(s: &mut String, c: &Campaign, droplets: &[crate::record::DropletOutcome]) {
    let seconds = crate::validate::campaign::DisplayUnit::of("s");
    let microlitres = crate::validate::campaign::DisplayUnit::of("uL");
    let mut head: String = [
        "droplet",
        "volume [uL]",
        "residence [s]",
        "reading",
        "readings above the threshold",
    ]
    .iter()
    .map(|h| th(h))
    .collect();
    for p in &c.proxies {
        head.push_str(&th(&crate::files::column(&p.name, &p.unit)));
    }
    let rows: Vec<String> = droplets
        .iter()
        .map(|x| {
            let d = &x.droplet;
            let mut row = td(&(d.index + 1).to_string());
            row.push_str(&td(&microlitres.number(d.volume)));
            row.push_str(&td(&seconds.number(d.residence)));
            row.push_str(&td(&d
                .tick
                .map_or_else(|| "not detected".to_owned(), |k| (k + 1).to_string())));
            row.push_str(&td(&d.readings.to_string()));
            for (p, v) in c.proxies.iter().zip(&x.proxies) {
                row.push_str(&td(&v.map_or_else(String::new, |v| p.unit.number(v))));
            }
            row
        })
        .collect();
    table(s, "droplets", &head, &rows);
}

/// One `<details>` per experiment: what was asked, what was sent, what came back.
fn details(page: &Page<'_>) -> String {
    let c = page.c;
    let settings = crate::files::observations::settings(c);
    let featured = page.featured(1);
    let mut s = String::from(
        "<p class=\"note\">Click an experiment to open it; every experiment number in the tables and every marker links here.</p>\n",
    );
    for e in page.experiments {
        let o = e.outcome.as_ref();
        let status = o.map_or("unfinished", |o| o.status.name());
        let score = page.inputs.scores.get(&e.id);
        let mut summary = format!("<b>Experiment {}</b> · {status}", e.id);
        for q in &page.quantities {
            if let Some(v) = q.values.get(&e.id) {
                let _ = write!(
                    summary,
                    " · {} {}",
                    escape(&q.name),
                    escape(&approx(*v, &q.unit))
                );
            }
        }
        if score.is_some_and(|s| s.on_front) && page.pareto() {
            summary.push_str(" · on the front");
        }
        if let Some(r) = o.and_then(|o| o.reason.as_deref()) {
            let _ = write!(summary, " · {}", escape(r));
        }
        let _ = write!(
            s,
            "<details class=\"experiment\" id=\"e{}\"{}><summary>{summary}</summary><div class=\"grid\">",
            e.id,
            if featured.contains(&e.id) {
                " open"
            } else {
                ""
            }
        );
        let variables: Vec<(String, String)> = c
            .variables
            .iter()
            .zip(&e.point)
            .enumerate()
            .map(|(k, (v, x))| {
                (
                    crate::files::column(&v.name, &v.unit),
                    page.variable_cell(k, *x),
                )
            })
            .collect();
        s.push_str(&kv("variables (suggested)", &variables));
        if !settings.is_empty() {
            let sent: Vec<(String, String)> = settings
                .iter()
                .map(|(id, d)| {
                    (
                        crate::files::column(&d.name, &d.unit),
                        o.and_then(|o| o.settings.get(id)).map_or_else(
                            || "not sent".to_owned(),
                            |x| analysis::sig4(d.unit.from_si(*x)),
                        ),
                    )
                })
                .collect();
            s.push_str(&kv("settings sent to the devices", &sent));
        }
        let mut results: Vec<(String, String)> = c
            .proxies
            .iter()
            .enumerate()
            .map(|(k, p)| {
                (
                    crate::files::column(&p.name, &p.unit),
                    o.and_then(|o| o.proxies.get(k).copied().flatten())
                        .map_or_else(|| "none".to_owned(), |x| analysis::sig4(p.unit.from_si(x))),
                )
            })
            .collect();
        if let Some(score) = score {
            for (ob, d) in c.objectives.list.iter().zip(&score.desirabilities) {
                results.push((
                    format!("desirability of {}", ob.name),
                    d.map_or_else(|| "none".to_owned(), |d| approx(d, "")),
                ));
            }
            if let Some(v) = score.combined
                && matches!(
                    c.objectives.combine,
                    Combine::Desirability | Combine::WeightedSum
                )
            {
                results.push(("objective".into(), approx(v, "")));
            }
        }
        if let Some(h) = page
            .hypervolume
            .as_ref()
            .and_then(|h| Some((h.by_experiment.get(&e.id)?, &h.unit)))
        {
            results.push((
                if h.1.is_empty() {
                    "hypervolume after it".to_owned()
                } else {
                    format!("hypervolume after it [{}]", h.1)
                },
                approx(*h.0, ""),
            ));
        }
        s.push_str(&kv("results", &results));
        let mut timeline = vec![
            ("status".to_owned(), status.to_owned()),
            ("batch".to_owned(), e.batch.to_string()),
            (
                "suggested by".to_owned(),
                match (
                    e.explain.get("strategy").and_then(|v| v.as_str()),
                    e.explain.get("phase").and_then(|v| v.as_str()),
                ) {
                    (Some(s), Some(p)) if !p.is_empty() => format!("{s} ({p})"),
                    (Some(s), _) => s.to_owned(),
                    _ => String::new(),
                },
            ),
            (
                "suggested at (lab time)".to_owned(),
                crate::validate::durations::human(e.started),
            ),
        ];
        if let Some(f) = failure_choice(&e.explain) {
            timeline.push(("failures modelled by".to_owned(), f));
        }
        if let Some(line) = &e.line {
            timeline.insert(2, ("line".to_owned(), line.clone()));
        }
        if let Some(end) = e.ended {
            timeline.push((
                "measured at (lab time)".into(),
                crate::validate::durations::human(end),
            ));
            timeline.push((
                "took".into(),
                crate::validate::durations::human(end - e.started),
            ));
        }
        s.push_str(&kv("timeline", &timeline));
        s.push_str("</div>");
        if let Some(r) = o.and_then(|o| o.reason.as_deref()) {
            let _ = write!(s, "<p>Reason: {}</p>", escape(r));
        }
        let droplets = o.map_or(&[][..], |o| o.droplets.as_slice());
        if !droplets.is_empty() {
            droplet_table(&mut s, c, droplets);
        }
        // Spectra, a plot per channel with a line per replicate.
        let mut by_channel: BTreeMap<ChannelKind, Vec<(String, &crate::record::SavedSpectrum)>> =
            BTreeMap::new();
        // A transient ramp's readings: about eight of them, evenly spaced, and the last, so a
        // plot stays legible and the report small.
        let readings = e.spectra.iter().filter_map(|s| s.tick).max();
        let stride = readings.map_or(1, |n| (n / 8).max(1));
        // A droplet train's readings: the droplets' own (the others read carrier).
        let droplet_of: BTreeMap<u32, u32> = droplets
            .iter()
            .filter_map(|x| Some((x.droplet.tick?, x.droplet.index)))
            .collect();
        for saved in &e.spectra {
            if !droplets.is_empty() {
                if saved.tick.is_none_or(|k| !droplet_of.contains_key(&k)) {
                    continue;
                }
            } else if let (Some(k), Some(n)) = (saved.tick, readings)
                && k % stride != 0
                && k != n
            {
                continue;
            }
            by_channel.entry(saved.channel).or_default().push((
                match (saved.point, saved.tick) {
                    (Some(p), _) => format!("point {}, replicate {}", p + 1, saved.replicate),
                    (None, Some(k)) if droplet_of.contains_key(&k) => format!(
                        "droplet {} (reading {})",
                        droplet_of.get(&k).map_or(0, |d| d + 1),
                        k + 1
                    ),
                    (None, Some(k)) => format!("reading {} of the ramp", k + 1),
                    (None, None) => format!("replicate {}", saved.replicate),
                },
                saved,
            ));
        }
        if !by_channel.is_empty() {
            s.push_str("<div class=\"grid\">");
            for (kind, lines) in &by_channel {
                if let Some(plot) = page.spectra.plot(
                    *kind,
                    format!("experiment {}: {}", e.id, kind.name()),
                    lines,
                    (560.0, 260.0),
                ) {
                    s.push_str(&plot);
                }
            }
            s.push_str("</div><p class=\"note\">Files: ");
            // Each file once: a ramp's readings share their channel's array.
            let mut seen = std::collections::BTreeSet::new();
            let files: Vec<String> = e
                .spectra
                .iter()
                .filter(|f| seen.insert(f.file.as_str()))
                .map(|f| {
                    format!(
                        "<a href=\"{}\"><code>{}</code></a>",
                        escape(&f.file),
                        escape(&f.file)
                    )
                })
                .collect();
            s.push_str(&files.join(", "));
            s.push_str("</p>");
        }
        s.push_str("</details>\n");
    }
    s
}

/// What `failures auto` chose for a suggestion (its `explain.failures`), with the two scores:
/// "feasibility model (−0.41 against −1.20 nats per success; 3 failed, 9 succeeded)".
fn failure_choice(explain: &serde_json::Value) -> Option<String> {
    let f = explain.get("failures")?;
    let choice = match f.get("choice")?.as_str()? {
        "impute_worst" => "imputed worst",
        _ => "feasibility model",
    };
    let count = |k: &str| f.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
    let score = |k: &str| f.get(k).and_then(serde_json::Value::as_f64);
    let counts = format!(
        "{} failed, {} succeeded",
        count("failures"),
        count("successes")
    );
    Some(match (score("feasibility_score"), score("impute_score")) {
        (Some(fs), Some(is)) => {
            let (won, lost) = if choice == "imputed worst" {
                (is, fs)
            } else {
                (fs, is)
            };
            format!(
                "{choice} ({} against {} nats per success; {counts})",
                approx(won, ""),
                approx(lost, "")
            )
        }
        _ => format!("{choice} (too few successes to compare; {counts})"),
    })
}
