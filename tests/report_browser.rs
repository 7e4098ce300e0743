//! Issue 17: the report a chemist reads, opened in a real browser. Each case runs a campaign
//! on the simulated lab to a temporary bundle, loads its `report.html` in headless Chromium
//! (`chromium --headless --dump-dom` in a 1400 × 3000 px window, Debian's `chromium`
//! package, which `.ci/run` installs) and fails on:
//! - any message on the browser's console (the page has no scripts, so every console line is
//!   an error: a parse problem, a blocked resource);
//! - a plot with nothing drawn, a plot of several series without a legend, an axis without a
//!   label;
//! - anything wider than the window: the page, a table (which would scroll), a plot, or a text
//!   of a plot that spills out of it (a clipped title, a legend past the edge), with every
//!   experiment's detail opened.
//!
//! The layout is measured by a small script the test adds to a copy of the page (the page
//! itself has none); it writes what it finds into the DOM and logs nothing. The text of the
//! page as the browser built it, headings, tables, plot titles, axis labels and legends, is
//! snapshotted; an experiment's detail only by its summary line, except the one the page
//! opens (the best experiment).
//!
//! Without a `chromium` binary on the PATH the tests fail and say how to install it: a browser
//! test that passes without a browser checks nothing.

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use qdx::runtime::{RunOptions, run_simulated};

use crate::support::{check_path, check_text, rendered};

/// What the browser made of a page: the DOM after load and the console lines it logged.
struct Loaded {
    dom: String,
    console: Vec<String>,
}

/// The script the test adds to a copy of a page: opens every closed experiment detail,
/// measures, closes them again, and writes what sticks out of the 1400 px window into
/// `<pre id="qdx-layout">` as JSON lines.
const LAYOUT: &str = r##"<script>(function () {
  var opened = [];
  document.querySelectorAll("details:not([open])").forEach(function (d) { d.open = true; opened.push(d); });
  var width = document.documentElement.clientWidth, found = [];
  var name = function (e) {
    var t = e.querySelector && e.querySelector("text");
    return e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (t ? " \"" + t.textContent + "\"" : "");
  };
  if (document.documentElement.scrollWidth > width) {
    found.push("the page is " + document.documentElement.scrollWidth + " px wide in a " + width + " px window");
  }
  document.querySelectorAll("svg, table, p, h1, h2, nav, summary").forEach(function (e) {
    var r = e.getBoundingClientRect();
    if (r.right > width + 0.5) { found.push(name(e) + " ends at " + Math.round(r.right) + " px"); }
  });
  document.querySelectorAll(".table").forEach(function (e) {
    if (e.scrollWidth > e.clientWidth + 1) { found.push("a table is " + e.scrollWidth + " px wide in " + e.clientWidth + " px"); }
  });
  document.querySelectorAll("svg").forEach(function (svg) {
    var b = svg.getBoundingClientRect();
    svg.querySelectorAll("text").forEach(function (t) {
      var r = t.getBoundingClientRect();
      if (r.width > 0 && (r.left < b.left - 1 || r.right > b.right + 1 || r.top < b.top - 1 || r.bottom > b.bottom + 1)) {
        found.push("the text \"" + t.textContent + "\" spills out of its plot " + name(svg));
      }
    });
  });
  opened.forEach(function (d) { d.open = false; });
  var pre = document.createElement("pre");
  pre.id = "qdx-layout";
  pre.textContent = found.join("\n");
  document.body.appendChild(pre);
})();</script>"##;

/// Opens `page` in headless Chromium, 1400 × 3000 px.
fn open(page: &Path) -> Loaded {
    let profile = tempfile::tempdir().expect("temp profile");
    let url = format!("file://{}", page.display());
    let child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1400,3000",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", &url])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "the report browser tests need Chromium: no `chromium` on the PATH; install it \
             with `apt-get install -y chromium` (.ci/run does)"
        ),
        Err(e) => panic!("cannot start chromium: {e}"),
    };
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish loading {url} within 120 s");
        }
        #[allow(clippy::disallowed_methods)] // a real browser, in real time
        std::thread::sleep(Duration::from_millis(50));
    };
    let dom = out.join().expect("stdout reader");
    let log = err.join().expect("stderr reader");
    assert!(
        status.success(),
        "chromium failed ({status}) on {url}:\n{log}"
    );
    assert!(
        dom.contains("<html"),
        "chromium gave no DOM for {url}:\n{log}"
    );
    // Chromium logs the page's console as `[pid:tid:time:LEVEL:CONSOLE:line] "text", source: url`.
    let console = log
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    Loaded { dom, console }
}

/// One piece of a serialized DOM.
enum Token<'a> {
    Open { name: String, attrs: &'a str },
    Close(String),
    Text(&'a str),
}

/// The tags and text of a serialized DOM (enough for the browser's own serialization: no
/// scripts, comments or CDATA in a report).
fn tokens(dom: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut rest = dom;
    while !rest.is_empty() {
        if let Some(tag) = rest.strip_prefix('<') {
            let end = tag.find('>').unwrap_or(tag.len());
            let inner = &tag[..end];
            rest = tag.get(end + 1..).unwrap_or("");
            if let Some(name) = inner.strip_prefix('/') {
                out.push(Token::Close(name.trim().to_ascii_lowercase()));
            } else if !inner.starts_with('!') {
                let inner = inner.trim_end_matches('/');
                let split = inner.find(char::is_whitespace).unwrap_or(inner.len());
                out.push(Token::Open {
                    name: inner[..split].to_ascii_lowercase(),
                    attrs: &inner[split..],
                });
            }
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            out.push(Token::Text(&rest[..end]));
            rest = &rest[end..];
        }
    }
    out
}

fn decode(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

/// The value of attribute `name` in a tag's attribute text.
fn attr<'a>(attrs: &'a str, name: &str) -> Option<&'a str> {
    let at = attrs.find(&format!(" {name}=\""))? + name.len() + 3;
    let rest = &attrs[at..];
    Some(&rest[..rest.find('"')?])
}

/// One `<svg>` being read: its title, axis labels, legend entries, and what it draws.
#[derive(Default)]
struct Svg {
    title: Vec<String>,
    x: String,
    y: String,
    axes: Vec<String>,
    legend: Vec<String>,
    lines: usize,
    dots: usize,
    missing: usize,
    bars: usize,
    bands: usize,
}

/// What the page shows, as text: sections, headings, paragraphs, table rows (cells joined by
/// ` | `), and for each plot its title, axis labels, legend and what is drawn; an
/// experiment's detail by its summary only, unless it is open. Also every problem found: a
/// plot with nothing drawn, several series without a legend, an axis without a label.
fn reading(dom: &str) -> (String, Vec<String>) {
    let mut text = String::new();
    let mut problems = Vec::new();
    let mut current = String::new();
    let mut cells: Vec<String> = Vec::new();
    let mut collecting = false;
    // Inside an `<svg>`: what it holds, and which of its texts is being read.
    let mut svg: Option<Svg> = None;
    let mut svg_texts = 0;
    let mut in_legend = false;
    let mut text_class = String::new();
    // Inside a closed `<details>`: only its summary is read.
    let mut closed = false;
    let mut in_title = false;
    for token in tokens(dom) {
        match token {
            Token::Open { name, attrs } => match name.as_str() {
                "details" => {
                    closed = !attrs.contains(" open");
                }
                "summary" => {
                    collecting = true;
                    current.clear();
                }
                "section" => {
                    if let Some(id) = attr(attrs, "id") {
                        text.push_str(&format!("§{id}\n"));
                    }
                }
                "h1" | "h2" | "h3" | "p" | "td" | "th" if !closed => {
                    collecting = true;
                    current.clear();
                }
                "svg" => {
                    svg = Some(Svg::default());
                    svg_texts = 0;
                }
                "title" => in_title = true,
                "text" => {
                    svg_texts += 1;
                    text_class = attr(attrs, "class").unwrap_or("").to_owned();
                    collecting = svg_texts == 1 || in_legend || !text_class.is_empty();
                    current.clear();
                }
                "g" if attr(attrs, "class") == Some("legend") => in_legend = true,
                "polyline" => {
                    let points = attr(attrs, "points").unwrap_or("");
                    if let Some(s) = &mut svg
                        && points.split_whitespace().count() >= 2
                    {
                        s.lines += 1;
                    }
                }
                "polygon" => {
                    if let Some(s) = &mut svg {
                        s.bands += 1;
                    }
                }
                "rect" => {
                    if let Some(s) = &mut svg {
                        match attr(attrs, "class") {
                            Some("bar") => s.bars += 1,
                            Some("band") => s.bands += 1,
                            _ => {}
                        }
                    }
                }
                "circle" => {
                    if let Some(s) = &mut svg
                        && !in_legend
                    {
                        if attr(attrs, "class") == Some("missing") {
                            s.missing += 1;
                        } else {
                            s.dots += 1;
                        }
                    }
                }
                _ => {}
            },
            Token::Text(t) if collecting && !in_title => current.push_str(&decode(t)),
            Token::Text(_) => {}
            Token::Close(name) => match name.as_str() {
                "title" => in_title = false,
                "summary" => {
                    collecting = false;
                    text.push_str(&format!(
                        "▸ {}\n",
                        current.split_whitespace().collect::<Vec<_>>().join(" ")
                    ));
                }
                "details" => closed = false,
                "h1" | "h2" | "h3" | "p" if !closed => {
                    collecting = false;
                    text.push_str(
                        current
                            .split_whitespace()
                            .collect::<Vec<_>>()
                            .join(" ")
                            .trim(),
                    );
                    text.push('\n');
                }
                "td" | "th" if !closed => {
                    collecting = false;
                    cells.push(current.trim().to_owned());
                }
                "tr" if !closed => {
                    text.push_str(&cells.join(" | "));
                    text.push('\n');
                    cells.clear();
                }
                "table" if !closed => text.push('\n'),
                "text" => {
                    if let Some(s) = &mut svg
                        && collecting
                    {
                        let t = current.trim().to_owned();
                        match text_class.as_str() {
                            "x-label" => s.x = t,
                            "y-label" => s.y = t,
                            "axis-label" => s.axes.push(t),
                            _ if in_legend => s.legend.push(t),
                            _ => s.title.push(t),
                        }
                    }
                    collecting = false;
                }
                "g" => in_legend = false,
                "svg" => {
                    if let Some(s) = svg.take() {
                        let title = s.title.join(" ");
                        if s.lines + s.dots + s.missing + s.bars == 0 {
                            problems.push(format!("the plot \"{title}\" is empty"));
                        }
                        if (s.lines >= 2 || (s.lines >= 1 && s.dots >= 1)) && s.legend.is_empty() {
                            problems.push(format!("the plot \"{title}\" has no legend"));
                        }
                        if s.axes.is_empty() && s.bars == 0 && (s.x.is_empty() || s.y.is_empty()) {
                            problems
                                .push(format!("the plot \"{title}\" has an axis without a label"));
                        }
                        if closed {
                            continue;
                        }
                        let mut line = format!("[plot: {title}");
                        if !s.axes.is_empty() {
                            line.push_str(&format!(" | axes: {}", s.axes.join(", ")));
                        }
                        if !s.x.is_empty() {
                            line.push_str(&format!(" | x: {}", s.x));
                        }
                        if !s.y.is_empty() {
                            line.push_str(&format!(" | y: {}", s.y));
                        }
                        line.push_str(&format!(
                            " | {} lines, {} dots, {} hollow on the axis",
                            s.lines, s.dots, s.missing
                        ));
                        if s.bands > 0 {
                            line.push_str(&format!(", {} bands", s.bands));
                        }
                        if s.bars > 0 {
                            line.push_str(&format!(", {} bars", s.bars));
                        }
                        if !s.legend.is_empty() {
                            line.push_str(&format!(" | legend: {}", s.legend.join(", ")));
                        }
                        text.push_str(&line);
                        text.push_str("]\n");
                    }
                }
                _ => {}
            },
        }
    }
    (text, problems)
}

/// Opens a report in the browser: its text, and every problem (console lines, empty plots,
/// plots without a legend or an axis label, anything wider than the window).
fn check(page: &Path) -> (String, Vec<String>) {
    let html = std::fs::read_to_string(page).expect("the page");
    let measured = page.with_file_name("measured.html");
    let at = html.rfind("</body>").unwrap_or(html.len());
    std::fs::write(&measured, format!("{}{LAYOUT}{}", &html[..at], &html[at..]))
        .expect("write the measured copy");
    let loaded = open(&measured);
    // The layout report, then the page without it.
    let (dom, layout) = match loaded.dom.split_once("<pre id=\"qdx-layout\">") {
        Some((before, after)) => {
            let end = after.find("</pre>").unwrap_or(after.len());
            (format!("{before}{}", &after[end..]), decode(&after[..end]))
        }
        None => (
            loaded.dom.clone(),
            "the layout script did not run".to_owned(),
        ),
    };
    let (text, mut problems) = reading(&dom);
    problems.extend(layout.lines().filter(|l| !l.is_empty()).map(str::to_owned));
    problems.extend(loaded.console.iter().map(|l| format!("console: {l}")));
    (text, problems)
}

fn options() -> RunOptions {
    RunOptions {
        progress: qdx::runtime::Progress::Off,
        sync_each: false,
        halt_after: None,
    }
}

/// Runs a checked campaign to a bundle in `dir` and returns its `report.html`.
fn run(checked: qdx::validate::Checked, dir: &Path) -> std::path::PathBuf {
    let report = rendered(&checked);
    let c = checked.campaign.unwrap_or_else(|| panic!("{report}"));
    let out = dir.join("b");
    run_simulated(&c, &out, &options()).expect("run");
    out.join("report.html")
}

/// A campaign whose densest sample absorbs past what the spectrometer can measure: that
/// experiment fails (no absorbance value), the two dilute ones succeed.
const SATURATING: &str = r#"qdx 1
campaign "saturate" {
  seed 5
  budget { experiments 3 }
}
use std.devices
use std.spectra
stocks {
  seeds "CsPbBr3" in p_seed { concentration 0.2 mol/L }
  solvent "toluene" in p_solvent { concentration 0 mol/L }
  iodide "ZnI2" in p_iodide { concentration 0.05 mol/L, halide "I" }
}
reactor {
  pump p_seed : syringe_pump { syringe 20 mL, max_rate 2 mL/min }
  pump p_solvent : syringe_pump { syringe 20 mL, max_rate 2 mL/min }
  pump p_iodide : syringe_pump { syringe 20 mL, max_rate 2 mL/min }
  mixer m1 : t_mixer { volume 1 uL }
  coil r1 : reactor_coil { volume 100 uL }
  cell s1 : flow_cell { volume 2 uL, path_length 1 mm, spectrometer spec1 }
  spectrometer spec1 : uv_vis_pl { range 350 nm .. 800 nm, excitation 365 nm }
  outlet waste : collector
  p_seed, p_solvent, p_iodide -> m1 -> r1 -> s1 -> waste
}
variables {
  dilution : ratio in 0 .. 0.89
}
derive {
  total_flow = r1.volume / 30 s
  p_seed.rate = total_flow * (0.9 - dilution)
  p_iodide.rate = total_flow * 0.1
  p_solvent.rate = total_flow * dilution
}
measure at s1 {
  steady_state after 3 reactor_volumes
  absorbance { integration 50 ms, average 5 }
}
proxies {
  a = absorbance.absorbance_at(420 nm)
}
objectives {
  maximize a
}
optimizer grid {
  levels { dilution [0, 0.87, 0.89] }
}
simulate cspbx3_halide_exchange { seeds seeds, halide iodide }
"#;

/// The CLI's small campaign: two successful experiments, photoluminescence only.
#[test]
fn the_tiny_report_renders_in_a_browser_with_every_plot_drawn() {
    let dir = tempfile::tempdir().expect("temp");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let page = run(
        check_path(&root.join("tests/data/cli/tiny.qdx")),
        dir.path(),
    );
    let (text, problems) = check(&page);
    assert!(problems.is_empty(), "{problems:#?}\n{text}");
    insta::assert_snapshot!(text);
}

/// A run with a failed experiment: the failures table gives its reason, the plots mark it
/// hollow on the axis, and the absorbance spectra are absorbance (from the bundle's
/// calibration), one line per experiment with a legend.
#[test]
fn a_report_with_a_failure_shows_it_in_a_browser() {
    let dir = tempfile::tempdir().expect("temp");
    let page = run(check_text("campaign.qdx", SATURATING), dir.path());
    let (text, problems) = check(&page);
    assert!(problems.is_empty(), "{problems:#?}\n{text}");
    assert!(text.contains("Experiments that did not succeed"), "{text}");
    assert!(text.contains("1 hollow on the axis"), "{text}");
    assert!(text.contains("legend: experiment"), "{text}");
    insta::assert_snapshot!(text);
}

/// Runs one of the campaigns whose report `docs/report/` shows (`examples/…` or
/// `docs/report/campaigns/…`) and checks its page: no problem, and the text.
fn documented(path: &str) -> String {
    let dir = tempfile::tempdir().expect("temp");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let page = run(check_path(&root.join(path)), dir.path());
    let (text, problems) = check(&page);
    assert!(problems.is_empty(), "{problems:#?}\n{text}");
    text
}

/// Whether the text of a page has a plot whose summary line contains every one of `parts`.
fn has_plot(text: &str, parts: &[&str]) -> bool {
    text.lines()
        .any(|l| l.starts_with("[plot:") && parts.iter().all(|p| l.contains(p)))
}

/// One objective with a stop threshold: the best so far with the model's band and the
/// threshold, parallel coordinates, the model's importance, leave-one-out and slices, and
/// a detail per experiment with its settings and spectra.
#[test]
fn the_single_objective_report_draws_the_best_so_far_with_the_model_and_the_threshold() {
    let text = documented("docs/report/campaigns/cspbx3-plqy.qdx");
    for section in [
        "§objective",
        "§best",
        "§proxies",
        "§parallel",
        "§model",
        "§spectra",
        "§experiments",
    ] {
        assert!(text.contains(section), "no {section}:\n{text}");
    }
    assert!(
        has_plot(
            &text,
            &[
                "x: experiment | y: plqy",
                "1 bands",
                "legend: stop when ≥ 0.8, model at the best so far, mean ± 2 sd, best so far, experiment"
            ]
        ),
        "{text}"
    );
    assert!(
        has_plot(
            &text,
            &["axes: residence [s], iodide_frac, ligand_frac, temperature [degC], plqy"]
        ),
        "{text}"
    );
    assert!(
        has_plot(&text, &["variable importance for plqy", "4 bars"]),
        "{text}"
    );
    assert!(
        has_plot(
            &text,
            &[
                "x: observed plqy | y: predicted plqy",
                "legend: predicted = observed"
            ]
        ),
        "{text}"
    );
    assert!(
        has_plot(&text, &["plqy along", "model mean ± 2 sd"]),
        "{text}"
    );
    // The best experiment's detail is open: its settings sent and its spectra.
    assert!(text.contains("settings sent to the devices"), "{text}");
    assert!(text.contains("h1.setpoint [degC] |"), "{text}");
    assert!(
        has_plot(
            &text,
            &[
                "x: wavelength [nm] | y: absorbance (decadic)",
                "legend: replicate 0"
            ]
        ),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

/// Two objectives kept as a Pareto front: the front marked (staircase, larger markers) with
/// units on both axes and the reference point, and the hypervolume after each experiment with
/// its reference point stated.
#[test]
fn the_pareto_report_marks_the_front_and_states_the_hypervolume() {
    let text = documented("docs/report/campaigns/cspbx3-pareto.qdx");
    assert!(
        text.contains("§pareto") && !text.contains("§objective"),
        "{text}"
    );
    assert!(
        has_plot(
            &text,
            &[
                "plqy against peak | x: peak [nm] | y: plqy",
                "legend: front (what no experiment beats), dominated, on the front (",
                "hypervolume reference point"
            ]
        ),
        "{text}"
    );
    assert!(
        has_plot(
            &text,
            &[
                "hypervolume after each experiment; reference point peak 550 nm, plqy 0.2",
                "y: hypervolume [nm]"
            ]
        ),
        "{text}"
    );
    assert!(text.contains("declared by the campaign"), "{text}");
    assert!(text.contains("Experiments on the front"), "{text}");
    // A model of each objective.
    assert!(
        has_plot(&text, &["x: observed peak [nm] | y: predicted peak [nm]"]),
        "{text}"
    );
    assert!(
        has_plot(&text, &["x: observed plqy | y: predicted plqy"]),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

/// A pool campaign with a choice: the choice is an axis of the parallel coordinates (by its
/// levels) and the model is sliced along it, level by level.
#[test]
fn the_pool_report_plots_the_choice() {
    let text = documented("examples/suzuki-pool.qdx");
    assert!(
        text.contains("the optimizer picks among 74 candidates"),
        "{text}"
    );
    assert!(
        has_plot(
            &text,
            &["axes: ligand, res_time [s], temperature [degC], catalyst_loading, yield"]
        ),
        "{text}"
    );
    assert!(
        has_plot(&text, &["yield along ligand", "x: ligand | y: yield"]),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

/// Most experiments fail: the failures are counted by reason, each hollow on the axis of the
/// per-experiment plots; experiments measured but not ok are drawn apart; their lines in
/// the parallel coordinates say they have no value.
#[test]
fn the_failure_heavy_report_counts_the_failures_by_reason() {
    let text = documented("docs/report/campaigns/cspbx3-failures.qdx");
    assert!(text.contains("§failures"), "{text}");
    assert!(
        text.contains("count | status | reason | experiments"),
        "{text}"
    );
    assert!(
        has_plot(
            &text,
            &[
                "quality: each experiment and the best so far;",
                "experiments without a value (hollow, on the axis)"
            ]
        ),
        "{text}"
    );
    assert!(
        has_plot(
            &text,
            &[
                "plqy per experiment",
                "legend: required ≥ 0.45, ok, measured, but failed or infeasible"
            ]
        ),
        "{text}"
    );
    assert!(has_plot(&text, &["no value (failed or skipped)"]), "{text}");
    insta::assert_snapshot!(text);
}

/// The checks can fail: a console error, a plot with nothing drawn, a plot of several lines
/// without a legend, and a page wider than the window are all caught on pages that have them.
#[test]
fn the_browser_check_catches_a_console_error_an_empty_plot_and_an_overflow() {
    let dir = tempfile::tempdir().expect("temp");
    let page = dir.path().join("bad.html");
    std::fs::write(
        &page,
        "<!doctype html><html><body><h1>bad</h1>\
         <svg xmlns=\"http://www.w3.org/2000/svg\"><text>nothing here</text><polyline points=\"\"/></svg>\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"300\" height=\"100\"><text x=\"150\" y=\"20\">two lines</text><text class=\"x-label\">x</text><text class=\"y-label\">y</text><polyline points=\"0,0 1,1\"/><polyline points=\"0,1 1,0\"/></svg>\
         <div class=\"table\" style=\"width:200px;overflow-x:auto\"><table><tr><td style=\"min-width:500px\">wide</td></tr></table></div>\
         <p style=\"width:1600px\">too wide</p>\
         <script>console.error(\"deliberate\")</script></body></html>",
    )
    .expect("write");
    let (_, problems) = check(&page);
    let found = |what: &str| problems.iter().any(|p| p.contains(what));
    assert!(found("deliberate"), "{problems:#?}");
    assert!(found("the plot \"nothing here\" is empty"), "{problems:#?}");
    assert!(
        found("the plot \"two lines\" has no legend"),
        "{problems:#?}"
    );
    assert!(found("the page is "), "{problems:#?}");
    assert!(found("a table is 5"), "{problems:#?}");
    assert!(found("p ends at 16"), "{problems:#?}");
}
