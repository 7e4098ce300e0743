//! Hand-written SVG plots: a few hundred bytes each, no dependencies, deterministic text.

use std::fmt::Write as _;

const W: f64 = 640.0;
const H: f64 = 320.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 45.0;

/// A line-and-dots plot.
#[derive(Debug, Clone)]
pub struct Plot {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub lines: Vec<Vec<(f64, f64)>>,
    pub dots: Vec<Vec<(f64, f64)>>,
    /// The names of `lines`, in order, shown in a legend (none when empty).
    pub legend: Vec<String>,
    /// Positions on the x axis of experiments without a value (failed, skipped, or a proxy that
    /// gave none): hollow markers on the axis, so a gap in the dots is not mistaken for no run.
    pub missing: Vec<f64>,
}

use super::escape;

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 * lo.abs().max(1e-300) {
        return (lo - 0.5 * lo.abs().max(1.0), hi + 0.5 * hi.abs().max(1.0));
    }
    let pad = 0.05 * (hi - lo);
    (lo - pad, hi + pad)
}

/// Round tick values covering the range.
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

fn label(v: f64) -> String {
    let r = (v * 1e6).round() / 1e6;
    qdx_units::format_number(r)
}

struct Frame {
    x: (f64, f64),
    y: (f64, f64),
}

impl Frame {
    fn px(&self, x: f64) -> f64 {
        LEFT + (x - self.x.0) / (self.x.1 - self.x.0) * (W - LEFT - RIGHT)
    }
    fn py(&self, y: f64) -> f64 {
        H - BOTTOM - (y - self.y.0) / (self.y.1 - self.y.0) * (H - TOP - BOTTOM)
    }
}

fn axes(s: &mut String, f: &Frame, (title, whole_x): (&str, bool), x_label: &str, y_label: &str) {
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"11\">"
    );
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"18\" text-anchor=\"middle\" font-size=\"13\">{}</text>",
        W / 2.0,
        escape(title)
    );
    let _ = write!(
        s,
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#888\"/>",
        W - LEFT - RIGHT,
        H - TOP - BOTTOM
    );
    for t in ticks(f.x.0, f.x.1, whole_x) {
        let x = f.px(t);
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#888\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            H - BOTTOM,
            H - BOTTOM + 4.0,
            H - BOTTOM + 16.0,
            label(t)
        );
    }
    for t in ticks(f.y.0, f.y.1, false) {
        let y = f.py(t);
        let _ = write!(
            s,
            "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{LEFT}\" y2=\"{y:.1}\" stroke=\"#888\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT - 4.0,
            LEFT - 6.0,
            y + 4.0,
            label(t)
        );
    }
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
        LEFT + (W - LEFT - RIGHT) / 2.0,
        H - 8.0,
        escape(x_label)
    );
    let _ = write!(
        s,
        "<text x=\"14\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {})\">{}</text>",
        TOP + (H - TOP - BOTTOM) / 2.0,
        TOP + (H - TOP - BOTTOM) / 2.0,
        escape(y_label)
    );
}

/// A plot of lines and dots.
pub fn plot(p: &Plot) -> String {
    let xs = p
        .lines
        .iter()
        .chain(&p.dots)
        .flatten()
        .map(|(x, _)| *x)
        .chain(p.missing.iter().copied());
    let whole_x = xs.clone().all(|x| x.fract() == 0.0);
    let ys = p.lines.iter().chain(&p.dots).flatten().map(|(_, y)| *y);
    let f = Frame {
        x: range(xs),
        y: range(ys),
    };
    let mut s = String::new();
    axes(&mut s, &f, (&p.title, whole_x), &p.x_label, &p.y_label);
    const COLOURS: [&str; 4] = ["#1f5fa8", "#d95f02", "#1b9e77", "#7570b3"];
    for (k, line) in p.lines.iter().enumerate() {
        let pts: Vec<String> = line
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|(x, y)| format!("{:.1},{:.1}", f.px(*x), f.py(*y)))
            .collect();
        let colour = COLOURS.get(k % COLOURS.len()).copied().unwrap_or("#1f5fa8");
        let _ = write!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\"/>",
            pts.join(" ")
        );
    }
    for dots in &p.dots {
        for (x, y) in dots.iter().filter(|(x, y)| x.is_finite() && y.is_finite()) {
            let _ = write!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#d95f02\"/>",
                f.px(*x),
                f.py(*y)
            );
        }
    }
    for x in p.missing.iter().filter(|x| x.is_finite()) {
        let _ = write!(
            s,
            "<circle class=\"missing\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"white\" stroke=\"#c00\" stroke-width=\"1.5\"/>",
            f.px(*x),
            H - BOTTOM
        );
    }
    for (k, name) in p.legend.iter().enumerate() {
        let colour = COLOURS.get(k % COLOURS.len()).copied().unwrap_or("#1f5fa8");
        let y = TOP + 14.0 + 16.0 * k as f64;
        let x = W - RIGHT - 150.0;
        let _ = write!(
            s,
            "<g class=\"legend\"><line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{colour}\" stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{y:.1}\">{}</text></g>",
            y - 4.0,
            x + 20.0,
            y - 4.0,
            x + 26.0,
            escape(name)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Points of two variables, coloured from pale (low score) to dark (high); grey without one.
pub fn scatter(x_label: &str, y_label: &str, points: &[(f64, f64, Option<f64>)]) -> String {
    let f = Frame {
        x: range(points.iter().map(|p| p.0)),
        y: range(points.iter().map(|p| p.1)),
    };
    let (lo, hi) = range(points.iter().filter_map(|p| p.2));
    let mut s = String::new();
    axes(
        &mut s,
        &f,
        (
            &format!("{y_label} against {x_label} (darker: higher score)"),
            false,
        ),
        x_label,
        y_label,
    );
    for (x, y, score) in points.iter().filter(|p| p.0.is_finite() && p.1.is_finite()) {
        let colour = match score {
            Some(v) => {
                let t = ((v - lo) / (hi - lo)).clamp(0.0, 1.0);
                let shade = (220.0 - 180.0 * t).round() as u8;
                format!("rgb({shade},{shade},255)")
            }
            None => "#bbb".to_owned(),
        };
        let _ = write!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{colour}\" stroke=\"#335\"/>",
            f.px(*x),
            f.py(*y)
        );
    }
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
        let page = plot(&Plot {
            title: "peak per experiment".into(),
            x_label: "experiment".into(),
            y_label: "peak [nm]".into(),
            lines: Vec::new(),
            dots: vec![vec![(0.0, 500.0), (1.0, 510.0), (2.0, 505.0)]],
            legend: Vec::new(),
            missing: Vec::new(),
        });
        assert!(page.contains(">1</text>"), "{page}");
        assert!(!page.contains(">0.5</text>"), "{page}");
    }
}
