//! Issue 17: the report a chemist reads, opened in a real browser. Each case runs a small
//! campaign on the simulated lab to a temporary bundle, loads its `report.html` in headless
//! Chromium (`chromium --headless --dump-dom`, Debian's `chromium` package, which `.ci/run`
//! installs), and fails when the browser's console shows any message (the page has no
//! scripts, so every console line is an error: a parse problem, a blocked resource) or when a
//! plot is empty (an `<svg>` with no line and no marker). The text of the page as the browser
//! built it, headings, tables and plot titles and legends, is snapshotted.
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

/// Opens `page` in headless Chromium.
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

/// One `<svg>` being read: its title, legend entries, and what it draws.
#[derive(Default)]
struct Svg {
    title: Vec<String>,
    legend: Vec<String>,
    lines: usize,
    dots: usize,
    missing: usize,
}

/// What the page shows, as text: headings, paragraphs, table rows (cells joined by ` | `),
/// and for each plot its title, legend and what is drawn. Also every problem found: a plot
/// with nothing drawn.
fn reading(dom: &str) -> (String, Vec<String>) {
    let mut text = String::new();
    let mut problems = Vec::new();
    let mut current = String::new();
    let mut cells: Vec<String> = Vec::new();
    let mut collecting = false;
    // Inside an `<svg>`: its title, legend entries, and counts of what it draws.
    let mut svg: Option<Svg> = None;
    let mut svg_texts = 0;
    let mut in_legend = false;
    for token in tokens(dom) {
        match token {
            Token::Open { name, attrs } => match name.as_str() {
                "h1" | "h2" | "p" | "td" | "th" => {
                    collecting = true;
                    current.clear();
                }
                "svg" => {
                    svg = Some(Svg::default());
                    svg_texts = 0;
                }
                "text" => {
                    svg_texts += 1;
                    collecting = svg_texts == 1 || in_legend;
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
                "circle" => {
                    if let Some(s) = &mut svg {
                        if attr(attrs, "class") == Some("missing") {
                            s.missing += 1;
                        } else {
                            s.dots += 1;
                        }
                    }
                }
                _ => {}
            },
            Token::Text(t) if collecting => current.push_str(&decode(t)),
            Token::Text(_) => {}
            Token::Close(name) => match name.as_str() {
                "h1" | "h2" | "p" => {
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
                "td" | "th" => {
                    collecting = false;
                    cells.push(current.trim().to_owned());
                }
                "tr" => {
                    text.push_str(&cells.join(" | "));
                    text.push('\n');
                    cells.clear();
                }
                "table" => text.push('\n'),
                "text" => {
                    if let Some(s) = &mut svg {
                        if in_legend {
                            s.legend.push(current.trim().to_owned());
                        } else if collecting {
                            s.title.push(current.trim().to_owned());
                        }
                    }
                    collecting = false;
                }
                "g" => in_legend = false,
                "svg" => {
                    if let Some(Svg {
                        title,
                        legend,
                        lines,
                        dots,
                        missing,
                    }) = svg.take()
                    {
                        let title = title.join(" ");
                        if lines + dots + missing == 0 {
                            problems.push(format!("the plot \"{title}\" is empty"));
                        }
                        text.push_str(&format!(
                            "[plot: {title} | {lines} lines, {dots} dots, {missing} hollow on the axis{}]\n",
                            if legend.is_empty() {
                                String::new()
                            } else {
                                format!(" | legend: {}", legend.join(", "))
                            }
                        ));
                    }
                }
                _ => {}
            },
        }
    }
    (text, problems)
}

/// Opens a report in the browser: its text, and every problem (console lines, empty plots).
fn check(page: &Path) -> (String, Vec<String>) {
    let loaded = open(page);
    let (text, mut problems) = reading(&loaded.dom);
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

/// The checks can fail: a console error, and a plot with nothing drawn, are both caught on
/// pages that have them.
#[test]
fn the_browser_check_catches_a_console_error_and_an_empty_plot() {
    let dir = tempfile::tempdir().expect("temp");
    let page = dir.path().join("bad.html");
    std::fs::write(
        &page,
        "<!doctype html><html><body><h1>bad</h1>\
         <svg xmlns=\"http://www.w3.org/2000/svg\"><text>nothing here</text><polyline points=\"\"/></svg>\
         <script>console.error(\"deliberate\")</script></body></html>",
    )
    .expect("write");
    let (_, problems) = check(&page);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("console:") && p.contains("deliberate")),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p == "the plot \"nothing here\" is empty"),
        "{problems:#?}"
    );
}
