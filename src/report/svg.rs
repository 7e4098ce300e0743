//! Hand-written SVG plots: no dependencies, no scripts, deterministic text.
//!
//! Every plot has a title (its first `<text>`), axis labels (`class="x-label"`,
//! `class="y-label"`, with units where the quantity has one) and, when it draws more than one
//! kind of thing, a legend (`<g class="legend">`, one per entry, beneath the x axis). Markers
//! carry a `<title>` (the browser shows it on hover) and, for an experiment, a link to its
//! detail (`#e12`).

use std::fmt::Write as _;

use super::escape;

const LEFT: f64 = 78.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 30.0;
/// Below the frame: tick labels and the x label.
const BOTTOM: f64 = 42.0;
/// One row of legend entries.
const LEGEND_ROW: f64 = 18.0;

/// The colours of series, in order (Okabe–Ito: distinguishable with colour-blindness).
pub const COLOURS: [&str; 7] = [
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#555555",
];

/// The `k`-th series colour.
pub fn colour(k: usize) -> &'static str {
    COLOURS.get(k % COLOURS.len()).copied().unwrap_or("#0072b2")
}

/// A colour on a sequential scale (viridis), `t` in `0 ..= 1`.
pub fn scale_colour(t: f64) -> String {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (STOPS.len() - 1) as f64;
    let k = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - k as f64;
    let stop = |i: usize| STOPS.get(i).copied().unwrap_or((0.0, 0.0, 0.0));
    let (a, b) = (stop(k), stop(k + 1));
    let mix = |p: f64, q: f64| (p + (q - p) * f).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(a.0, b.0),
        mix(a.1, b.1),
        mix(a.2, b.2)
    )
}

/// One marker.
#[derive(Debug, Clone)]
pub struct Dot {
    pub x: f64,
    pub y: f64,
    /// Shown on hover.
    pub tip: String,
    /// The experiment it is, linked to its detail.
    pub experiment: Option<u64>,
}

impl Dot {
    pub fn new(x: f64, y: f64, tip: String, experiment: Option<u64>) -> Dot {
        Dot {
            x,
            y,
            tip,
            experiment,
        }
    }
}

/// What a plot draws, in order (later layers on top).
#[derive(Debug, Clone)]
pub enum Layer {
    /// A line through points (sorted by the caller); `step`: horizontal then vertical.
    Line {
        name: Option<String>,
        points: Vec<(f64, f64)>,
        colour: String,
        dashed: bool,
        step: bool,
    },
    /// Markers.
    Dots {
        name: Option<String>,
        dots: Vec<Dot>,
        colour: String,
        /// Drawn as rings, not filled.
        ring: bool,
        radius: f64,
    },
    /// A shaded band `(x, lo, hi)`; `step` as for lines.
    Band {
        name: Option<String>,
        points: Vec<(f64, f64, f64)>,
        colour: String,
        step: bool,
    },
    /// A vertical interval at each `(x, lo, hi)`.
    ErrorBars {
        name: Option<String>,
        bars: Vec<(f64, f64, f64)>,
        colour: String,
    },
    /// A horizontal band across the plot (a target and its tolerance).
    HBand {
        name: String,
        lo: f64,
        hi: f64,
        colour: String,
    },
    /// A horizontal line across the plot (a threshold).
    HLine {
        name: String,
        y: f64,
        colour: String,
    },
    /// The line `y = x` (a perfect prediction).
    Diagonal { name: String },
}

/// A plot of layers over two numeric axes.
#[derive(Debug, Clone)]
pub struct Plot {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub layers: Vec<Layer>,
    /// Positions on the x axis of experiments without a value (failed, skipped, or a proxy that
    /// gave none): hollow markers on the axis, so a gap in the dots is not mistaken for no run.
    pub missing: Vec<Dot>,
    /// Both axes over the same range (predicted against observed).
    pub same_axes: bool,
    /// The x axis is a choice: ticks at `0, 1, …` named by these levels.
    pub x_levels: Option<Vec<String>>,
    pub width: f64,
    pub height: f64,
}

impl Plot {
    pub fn new(title: String, x_label: String, y_label: String) -> Plot {
        Plot {
            title,
            x_label,
            y_label,
            layers: Vec::new(),
            missing: Vec::new(),
            same_axes: false,
            x_levels: None,
            width: 640.0,
            height: 320.0,
        }
    }
}

/// A range with a margin; a single value gets a unit-sized one.
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo <= 1e-12 * lo.abs().max(hi.abs()).max(1e-300) {
        let pad = 0.5 * lo.abs().max(1.0) * if lo == 0.0 { 1.0 } else { 0.1 };
        return (lo - pad, hi + pad);
    }
    let pad = 0.05 * (hi - lo);
    (lo - pad, hi + pad)
}

/// Tick positions over `lo ..= hi`, a 1, 2 or 5 step; `whole`: the values are whole numbers
/// (experiment ids), so no tick falls between two of them.
fn ticks(lo: f64, hi: f64, whole: bool) -> Vec<f64> {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return vec![lo];
    }
    let raw = if whole {
        (span / 5.0).max(1.0)
    } else {
        span / 5.0
    };
    let mag = 10_f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + 1e-9 * step && out.len() < 20 {
        out.push(if t.abs() < 1e-12 * step { 0.0 } else { t });
        t += step;
    }
    out
}

/// A tick label: four significant digits at most (ticks are round numbers).
pub fn label(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return qdx_units::format_number(if v.is_finite() { 0.0 } else { v });
    }
    let digits = 4 - 1 - v.abs().log10().floor() as i32;
    let scale = 10_f64.powi(digits.clamp(-300, 300));
    qdx_units::format_number((v * scale).round() / scale)
}

/// Where data go on the canvas.
struct Frame {
    x: (f64, f64),
    y: (f64, f64),
    w: f64,
    /// The bottom of the frame.
    bottom: f64,
}

impl Frame {
    fn px(&self, x: f64) -> f64 {
        LEFT + (x - self.x.0) / (self.x.1 - self.x.0) * (self.w - LEFT - RIGHT)
    }
    fn py(&self, y: f64) -> f64 {
        self.bottom - (y - self.y.0) / (self.y.1 - self.y.0) * (self.bottom - TOP)
    }
}

/// The opening tag of a plot.
/// The opening tag of a plot, and its title: smaller type for a long one, so it fits.
fn open(s: &mut String, w: f64, h: f64, title: &str) {
    // A bold 13 px character is about 7.4 px wide.
    let size = (13.0_f64).min((w - 16.0) / (0.57 * title.chars().count().max(1) as f64));
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"system-ui,sans-serif\" font-size=\"12\"><text x=\"{}\" y=\"18\" text-anchor=\"middle\" font-size=\"{size:.1}\" font-weight=\"600\">{}</text>",
        w / 2.0,
        escape(title)
    );
}

fn axes(
    s: &mut String,
    f: &Frame,
    (whole_x, levels): (bool, Option<&[String]>),
    x_label: &str,
    y_label: &str,
) {
    let _ = write!(
        s,
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{}\" height=\"{:.1}\" fill=\"none\" stroke=\"#999\"/>",
        f.w - LEFT - RIGHT,
        f.bottom - TOP
    );
    let x_ticks: Vec<(f64, String)> = match levels {
        Some(levels) => levels
            .iter()
            .enumerate()
            .map(|(i, l)| (i as f64, l.clone()))
            .collect(),
        None => ticks(f.x.0, f.x.1, whole_x)
            .into_iter()
            .map(|t| (t, label(t)))
            .collect(),
    };
    for (t, text) in x_ticks {
        let x = f.px(t);
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#999\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#333\">{}</text>",
            f.bottom,
            f.bottom + 4.0,
            f.bottom + 16.0,
            escape(&text)
        );
    }
    for t in ticks(f.y.0, f.y.1, false) {
        let y = f.py(t);
        let _ = write!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/><line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{LEFT}\" y2=\"{y:.1}\" stroke=\"#999\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#333\">{}</text>",
            f.w - RIGHT,
            LEFT - 4.0,
            LEFT - 6.0,
            y + 4.0,
            label(t)
        );
    }
    let _ = write!(
        s,
        "<text class=\"x-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
        LEFT + (f.w - LEFT - RIGHT) / 2.0,
        f.bottom + 34.0,
        escape(x_label)
    );
    let mid = TOP + (f.bottom - TOP) / 2.0;
    let _ = write!(
        s,
        "<text class=\"y-label\" x=\"16\" y=\"{mid:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {mid:.1})\">{}</text>",
        escape(y_label)
    );
}

/// A marker, linked to its experiment's detail when it is one.
fn marker(s: &mut String, cx: f64, cy: f64, attrs: &str, dot: &Dot) {
    let circle = format!(
        "<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" {attrs}><title>{}</title></circle>",
        escape(&dot.tip)
    );
    match dot.experiment {
        Some(e) => {
            let _ = write!(s, "<a href=\"#e{e}\">{circle}</a>");
        }
        None => s.push_str(&circle),
    }
}

/// The legend's glyph for a layer.
enum Glyph {
    Line { colour: String, dashed: bool },
    Dot { colour: String, ring: bool },
    Area { colour: String },
}

/// Legend entries beneath the x label, wrapping within the width; returns the rows used.
fn legend_rows(entries: &[(String, Glyph)], w: f64) -> Vec<Vec<(f64, usize)>> {
    let mut rows: Vec<Vec<(f64, usize)>> = Vec::new();
    let mut x = LEFT;
    for (k, (name, _)) in entries.iter().enumerate() {
        let width = 30.0 + 6.5 * name.chars().count() as f64 + 18.0;
        if rows.is_empty() || (x + width > w - RIGHT && x > LEFT) {
            rows.push(Vec::new());
            x = LEFT;
        }
        if let Some(row) = rows.last_mut() {
            row.push((x, k));
        }
        x += width;
    }
    rows
}

fn legend(s: &mut String, entries: &[(String, Glyph)], rows: &[Vec<(f64, usize)>], top: f64) {
    for (r, row) in rows.iter().enumerate() {
        let y = top + LEGEND_ROW * r as f64 + 12.0;
        for (x, k) in row {
            let Some((name, glyph)) = entries.get(*k) else {
                continue;
            };
            let _ = write!(s, "<g class=\"legend\">");
            match glyph {
                Glyph::Line { colour, dashed } => {
                    let _ = write!(
                        s,
                        "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{colour}\" stroke-width=\"2\"{}/>",
                        y - 4.0,
                        x + 24.0,
                        y - 4.0,
                        if *dashed {
                            " stroke-dasharray=\"5 3\""
                        } else {
                            ""
                        }
                    );
                }
                Glyph::Dot { colour, ring } => {
                    let fill = if *ring { "white" } else { colour.as_str() };
                    let _ = write!(
                        s,
                        "<circle class=\"glyph\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{fill}\" stroke=\"{colour}\" stroke-width=\"1.5\"/>",
                        x + 12.0,
                        y - 4.0
                    );
                }
                Glyph::Area { colour } => {
                    let _ = write!(
                        s,
                        "<rect class=\"glyph\" x=\"{x:.1}\" y=\"{:.1}\" width=\"24\" height=\"10\" fill=\"{colour}\" fill-opacity=\"0.25\" stroke=\"{colour}\" stroke-opacity=\"0.5\"/>",
                        y - 9.0
                    );
                }
            }
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{y:.1}\">{}</text></g>",
                x + 30.0,
                escape(name)
            );
        }
    }
}

/// The points of a step line through `points` (sorted by x): each value holds until the next.
fn steps(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2);
    for (k, p) in points.iter().enumerate() {
        if k > 0
            && let Some(prev) = points.get(k - 1)
        {
            out.push((p.0, prev.1));
        }
        out.push(*p);
    }
    out
}

/// A plot of layers.
pub fn plot(p: &Plot) -> String {
    let mut xs: Vec<f64> = p.missing.iter().map(|d| d.x).collect();
    let mut ys: Vec<f64> = Vec::new();
    let mut entries: Vec<(String, Glyph)> = Vec::new();
    for layer in &p.layers {
        match layer {
            Layer::Line {
                name,
                points,
                colour,
                dashed,
                ..
            } => {
                xs.extend(points.iter().map(|q| q.0));
                ys.extend(points.iter().map(|q| q.1));
                if let Some(n) = name {
                    entries.push((
                        n.clone(),
                        Glyph::Line {
                            colour: colour.clone(),
                            dashed: *dashed,
                        },
                    ));
                }
            }
            Layer::Dots {
                name,
                dots,
                colour,
                ring,
                ..
            } => {
                xs.extend(dots.iter().map(|d| d.x));
                ys.extend(dots.iter().map(|d| d.y));
                if let Some(n) = name {
                    entries.push((
                        n.clone(),
                        Glyph::Dot {
                            colour: colour.clone(),
                            ring: *ring,
                        },
                    ));
                }
            }
            Layer::Band {
                name,
                points,
                colour,
                ..
            } => {
                xs.extend(points.iter().map(|q| q.0));
                ys.extend(points.iter().flat_map(|q| [q.1, q.2]));
                if let Some(n) = name {
                    entries.push((
                        n.clone(),
                        Glyph::Area {
                            colour: colour.clone(),
                        },
                    ));
                }
            }
            Layer::ErrorBars { name, bars, colour } => {
                xs.extend(bars.iter().map(|q| q.0));
                ys.extend(bars.iter().flat_map(|q| [q.1, q.2]));
                if let Some(n) = name {
                    entries.push((
                        n.clone(),
                        Glyph::Line {
                            colour: colour.clone(),
                            dashed: false,
                        },
                    ));
                }
            }
            Layer::HBand {
                name,
                lo,
                hi,
                colour,
            } => {
                ys.extend([*lo, *hi]);
                entries.push((
                    name.clone(),
                    Glyph::Area {
                        colour: colour.clone(),
                    },
                ));
            }
            Layer::HLine { name, y, colour } => {
                ys.push(*y);
                entries.push((
                    name.clone(),
                    Glyph::Line {
                        colour: colour.clone(),
                        dashed: true,
                    },
                ));
            }
            Layer::Diagonal { name } => entries.push((
                name.clone(),
                Glyph::Line {
                    colour: "#888".into(),
                    dashed: true,
                },
            )),
        }
    }
    let whole_x = !xs.is_empty() && xs.iter().all(|x| x.fract() == 0.0);
    if let Some(levels) = &p.x_levels {
        xs.extend([-0.5, levels.len() as f64 - 0.5]);
    }
    let (xr, yr) = if p.same_axes {
        let r = range(xs.iter().chain(&ys).copied());
        (r, r)
    } else {
        (range(xs.iter().copied()), range(ys.iter().copied()))
    };
    // Room beneath the data for the hollow markers on the axis.
    let yr = if p.missing.is_empty() || p.same_axes {
        yr
    } else {
        (yr.0 - 0.06 * (yr.1 - yr.0), yr.1)
    };
    let rows = legend_rows(&entries, p.width);
    let height = p.height + LEGEND_ROW * rows.len() as f64;
    let f = Frame {
        x: xr,
        y: yr,
        w: p.width,
        bottom: p.height - BOTTOM,
    };
    let mut s = String::new();
    open(&mut s, p.width, height, &p.title);
    axes(
        &mut s,
        &f,
        (whole_x, p.x_levels.as_deref()),
        &p.x_label,
        &p.y_label,
    );
    let finite = |x: f64, y: f64| x.is_finite() && y.is_finite();
    let clip_y = |y: f64| y.clamp(f.y.0, f.y.1);
    for layer in &p.layers {
        match layer {
            Layer::HBand { lo, hi, colour, .. } => {
                let (top, bottom) = (f.py(clip_y(lo.max(*hi))), f.py(clip_y(lo.min(*hi))));
                let _ = write!(
                    s,
                    "<rect class=\"band\" x=\"{LEFT}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{colour}\" fill-opacity=\"0.18\"/>",
                    f.w - LEFT - RIGHT,
                    (bottom - top).max(2.0)
                );
            }
            Layer::HLine { y, colour, .. } => {
                let py = f.py(*y);
                let _ = write!(
                    s,
                    "<line class=\"threshold\" x1=\"{LEFT}\" y1=\"{py:.1}\" x2=\"{:.1}\" y2=\"{py:.1}\" stroke=\"{colour}\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>",
                    f.w - RIGHT
                );
            }
            Layer::Diagonal { .. } => {
                let (lo, hi) = (f.x.0.max(f.y.0), f.x.1.min(f.y.1));
                let _ = write!(
                    s,
                    "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#888\" stroke-dasharray=\"5 3\"/>",
                    f.px(lo),
                    f.py(lo),
                    f.px(hi),
                    f.py(hi)
                );
            }
            Layer::Band {
                points,
                colour,
                step,
                ..
            } => {
                let pts: Vec<(f64, f64, f64)> = points
                    .iter()
                    .copied()
                    .filter(|q| finite(q.0, q.1) && q.2.is_finite())
                    .collect();
                let upper: Vec<(f64, f64)> = pts.iter().map(|q| (q.0, q.2)).collect();
                let lower: Vec<(f64, f64)> = pts.iter().map(|q| (q.0, q.1)).collect();
                let (upper, lower) = if *step {
                    (steps(&upper), steps(&lower))
                } else {
                    (upper, lower)
                };
                let outline: Vec<String> = upper
                    .iter()
                    .chain(lower.iter().rev())
                    .map(|(x, y)| format!("{:.1},{:.1}", f.px(*x), f.py(clip_y(*y))))
                    .collect();
                if !outline.is_empty() {
                    let _ = write!(
                        s,
                        "<polygon class=\"band\" points=\"{}\" fill=\"{colour}\" fill-opacity=\"0.2\" stroke=\"none\"/>",
                        outline.join(" ")
                    );
                }
            }
            Layer::Line {
                points,
                colour,
                dashed,
                step,
                ..
            } => {
                let pts: Vec<(f64, f64)> = points
                    .iter()
                    .copied()
                    .filter(|q| finite(q.0, q.1))
                    .collect();
                let pts = if *step { steps(&pts) } else { pts };
                let text: Vec<String> = pts
                    .iter()
                    .map(|(x, y)| format!("{:.1},{:.1}", f.px(*x), f.py(*y)))
                    .collect();
                let _ = write!(
                    s,
                    "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.8\"{}/>",
                    text.join(" "),
                    if *dashed {
                        " stroke-dasharray=\"5 3\""
                    } else {
                        ""
                    }
                );
            }
            Layer::ErrorBars { bars, colour, .. } => {
                for (x, lo, hi) in bars.iter().filter(|q| finite(q.0, q.1) && q.2.is_finite()) {
                    let px = f.px(*x);
                    let _ = write!(
                        s,
                        "<line class=\"error\" x1=\"{px:.1}\" y1=\"{:.1}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"{colour}\" stroke-opacity=\"0.6\"/>",
                        f.py(*lo),
                        f.py(*hi)
                    );
                }
            }
            Layer::Dots {
                dots,
                colour,
                ring,
                radius,
                ..
            } => {
                let attrs = if *ring {
                    format!("r=\"{radius}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.8\"")
                } else {
                    format!(
                        "r=\"{radius}\" fill=\"{colour}\" stroke=\"white\" stroke-width=\"0.8\""
                    )
                };
                for d in dots.iter().filter(|d| finite(d.x, d.y)) {
                    marker(&mut s, f.px(d.x), f.py(d.y), &attrs, d);
                }
            }
        }
    }
    for d in p.missing.iter().filter(|d| d.x.is_finite()) {
        marker(
            &mut s,
            f.px(d.x),
            f.bottom,
            "class=\"missing\" r=\"4\" fill=\"white\" stroke=\"#c00\" stroke-width=\"1.5\"",
            d,
        );
    }
    legend(&mut s, &entries, &rows, p.height);
    s.push_str("</svg>\n");
    s
}

/// One axis of a parallel-coordinates plot.
#[derive(Debug, Clone)]
pub enum Axis {
    /// A number between `lo` and `hi`.
    Numeric { label: String, lo: f64, hi: f64 },
    /// One of named levels (values are level indices).
    Levels { label: String, levels: Vec<String> },
}

impl Axis {
    fn label(&self) -> &str {
        match self {
            Axis::Numeric { label, .. } | Axis::Levels { label, .. } => label,
        }
    }

    /// Where `v` sits along the axis, 0 (bottom) ..= 1 (top).
    fn position(&self, v: f64) -> f64 {
        match self {
            Axis::Numeric { lo, hi, .. } => {
                if hi > lo {
                    (v - lo) / (hi - lo)
                } else {
                    0.5
                }
            }
            Axis::Levels { levels, .. } => {
                if levels.len() > 1 {
                    v / (levels.len() - 1) as f64
                } else {
                    0.5
                }
            }
        }
    }
}

/// One experiment in a parallel-coordinates plot.
#[derive(Debug, Clone)]
pub struct Path {
    /// One value per axis (`None`: no value there).
    pub values: Vec<Option<f64>>,
    /// Its colour on the scale, `0 ..= 1`; `None`: no value (drawn grey, dashed).
    pub shade: Option<f64>,
    pub tip: String,
    pub experiment: u64,
}

/// Parallel coordinates: an axis per variable, a line per experiment coloured on a scale
/// whose ends `scale` names (low, high) beside `colour_label`.
pub fn parallel(
    title: &str,
    axes: &[Axis],
    paths: &[Path],
    colour_label: &str,
    scale: (&str, &str),
    width: f64,
) -> String {
    let h = 380.0;
    let (top, bottom) = (TOP + 22.0, h - 70.0);
    let left = 70.0;
    let right = width - 70.0;
    let n = axes.len().max(2);
    let ax = |k: usize| left + (right - left) * k as f64 / (n - 1) as f64;
    let ay = |t: f64| bottom - t.clamp(-0.05, 1.05) * (bottom - top);
    let mut s = String::new();
    open(&mut s, width, h, title);
    // Lines first (grey ones under coloured ones, low shades under high), axes on top.
    let mut order: Vec<&Path> = paths.iter().collect();
    order.sort_by(|a, b| {
        a.shade
            .unwrap_or(-1.0)
            .total_cmp(&b.shade.unwrap_or(-1.0))
            .then(a.experiment.cmp(&b.experiment))
    });
    for p in order {
        let pts: Vec<String> = p
            .values
            .iter()
            .zip(axes)
            .enumerate()
            .filter_map(|(k, (v, a))| {
                let v = (*v)?;
                v.is_finite()
                    .then(|| format!("{:.1},{:.1}", ax(k), ay(a.position(v))))
            })
            .collect();
        let style = match p.shade {
            Some(t) => format!(
                "stroke=\"{}\" stroke-width=\"1.6\" stroke-opacity=\"0.85\"",
                scale_colour(t)
            ),
            None => "stroke=\"#aaa\" stroke-width=\"1.2\" stroke-dasharray=\"4 3\"".to_owned(),
        };
        let _ = write!(
            s,
            "<a href=\"#e{}\"><polyline points=\"{}\" fill=\"none\" {style}><title>{}</title></polyline></a>",
            p.experiment,
            pts.join(" "),
            escape(&p.tip)
        );
    }
    for (k, a) in axes.iter().enumerate() {
        let x = ax(k);
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" stroke=\"#333\"/>"
        );
        let anchor = if k == 0 {
            "start"
        } else if k + 1 == axes.len() {
            "end"
        } else {
            "middle"
        };
        let lx = if k == 0 {
            x - 20.0
        } else if k + 1 == axes.len() {
            x + 20.0
        } else {
            x
        };
        let _ = write!(
            s,
            "<text class=\"axis-label\" x=\"{lx:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" font-weight=\"600\">{}</text>",
            top - 10.0,
            escape(a.label())
        );
        // Tick labels left of the axis, right of the last one (outside the lines).
        let (side, anchor_tick) = if k + 1 == axes.len() && k > 0 {
            (1.0, "start")
        } else {
            (-1.0, "end")
        };
        let tick = |s: &mut String, t: f64, text: &str| {
            let y = ay(t);
            let _ = write!(
                s,
                "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{x:.1}\" y2=\"{y:.1}\" stroke=\"#333\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor_tick}\" fill=\"#333\" paint-order=\"stroke\" stroke=\"white\" stroke-width=\"3\">{}</text>",
                x + 4.0 * side,
                x + 6.0 * side,
                y + 4.0,
                escape(text)
            );
        };
        match a {
            Axis::Numeric { lo, hi, .. } => {
                let (lo, hi) = if hi > lo {
                    (*lo, *hi)
                } else {
                    range([*lo].into_iter())
                };
                for t in ticks(lo, hi, false) {
                    tick(&mut s, a.position(t), &label(t));
                }
            }
            Axis::Levels { levels, .. } => {
                for (i, l) in levels.iter().enumerate() {
                    tick(&mut s, a.position(i as f64), l);
                }
            }
        }
    }
    // The colour scale: its name, the low end, the bar, the high end.
    let y = h - 30.0;
    let text_width = |t: &str| 7.0 * t.chars().count() as f64;
    let mut x = left;
    let _ = write!(
        s,
        "<g class=\"legend\"><text x=\"{x:.1}\" y=\"{:.1}\">{}</text><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
        y + 4.0,
        escape(colour_label),
        x + text_width(colour_label) + 12.0,
        y + 4.0,
        escape(scale.0)
    );
    x += text_width(colour_label) + 12.0 + text_width(scale.0) + 6.0;
    for i in 0..40 {
        let _ = write!(
            s,
            "<rect class=\"glyph\" x=\"{:.1}\" y=\"{:.1}\" width=\"4.2\" height=\"10\" fill=\"{}\"/>",
            x + 4.0 * f64::from(i),
            y - 5.0,
            scale_colour(f64::from(i) / 39.0)
        );
    }
    x += 166.0;
    let _ = write!(
        s,
        "<text x=\"{x:.1}\" y=\"{:.1}\">{}</text></g>",
        y + 4.0,
        escape(scale.1)
    );
    x += text_width(scale.1) + 30.0;
    if paths.iter().any(|p| p.shade.is_none()) {
        let _ = write!(
            s,
            "<g class=\"legend\"><line x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#aaa\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/><text x=\"{:.1}\" y=\"{:.1}\">no value (failed or skipped)</text></g>",
            x + 24.0,
            x + 30.0,
            y + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Horizontal bars, one per `(label, value, tip)`, values `0 ..= 1` of the longest.
pub fn bars(title: &str, x_label: &str, items: &[(String, f64, String)], width: f64) -> String {
    let row = 24.0;
    let label_w = 10.0 + 7.0 * items.iter().map(|i| i.0.chars().count()).max().unwrap_or(4) as f64;
    let left = label_w.clamp(90.0, width * 0.45);
    let h = TOP + 10.0 + row * items.len() as f64 + 44.0;
    let right = width - RIGHT - 50.0;
    let mut s = String::new();
    open(&mut s, width, h, title);
    let bottom = TOP + 10.0 + row * items.len() as f64;
    for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let x = left + t * (right - left);
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" stroke=\"#eee\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#333\">{}</text>",
            bottom + 16.0,
            label(t)
        );
    }
    for (k, (name, v, tip)) in items.iter().enumerate() {
        let y = TOP + 10.0 + row * k as f64;
        let w = (v.clamp(0.0, 1.0) * (right - left)).max(1.0);
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text><rect class=\"bar\" x=\"{left:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}</title></rect><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#333\">{}</text>",
            left - 6.0,
            y + row / 2.0 + 4.0,
            escape(name),
            y + 4.0,
            row - 8.0,
            colour(0),
            escape(tip),
            left + w + 4.0,
            y + row / 2.0 + 4.0,
            label(*v)
        );
    }
    let _ = write!(
        s,
        "<text class=\"x-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
        (left + right) / 2.0,
        bottom + 34.0,
        escape(x_label)
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 17: a plot against experiment ids ticks whole experiments only (it showed 0.5, 1.5).
    #[test]
    fn an_axis_of_whole_numbers_ticks_whole_numbers() {
        assert_eq!(ticks(0.0, 2.0, false), [0.0, 0.5, 1.0, 1.5, 2.0]);
        assert_eq!(ticks(0.0, 2.0, true), [0.0, 1.0, 2.0]);
        let mut p = Plot::new(
            "peak per experiment".into(),
            "experiment".into(),
            "peak [nm]".into(),
        );
        p.layers.push(Layer::Dots {
            name: None,
            dots: [(0.0, 500.0), (1.0, 510.0), (2.0, 505.0)]
                .iter()
                .map(|(x, y)| Dot::new(*x, *y, String::new(), None))
                .collect(),
            colour: colour(0).into(),
            ring: false,
            radius: 3.5,
        });
        let page = plot(&p);
        assert!(page.contains(">1</text>"), "{page}");
        assert!(!page.contains(">0.5</text>"), "{page}");
    }

    #[test]
    fn tick_labels_have_four_significant_digits_at_most() {
        assert_eq!(label(0.1 + 0.2), "0.3");
        assert_eq!(label(123_456.0), "123500");
        assert_eq!(label(-0.000_123_44), "-0.0001234");
    }

    #[test]
    fn the_colour_scale_runs_from_dark_to_light() {
        assert_eq!(scale_colour(0.0), "#440154");
        assert_eq!(scale_colour(1.0), "#fde725");
        assert_eq!(scale_colour(f64::NAN), "#440154");
    }
}
