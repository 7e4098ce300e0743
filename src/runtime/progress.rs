//! What a run says while it runs, in one of four forms ([`Progress`]):
//! - `Bar`: on a terminal, a bar with the experiment count, the best score, the step the run
//!   is in ("experiment 3: steady state …, 9 min of lab time") and a steady tick, so an
//!   hour-long wait does not look like a hang;
//! - `Lines`: when stderr is not a terminal (a log file, CI, `nohup`), one line per finished
//!   experiment on stderr: its status and reason, its variables, its proxies, the best score;
//! - `Json`: for pipelines (`qdx run --format json`), one JSON object per line on stdout:
//!   `{"event": "step", …}` as each step of an experiment begins and `{"event": "experiment",
//!   …}` ([`crate::report::experiment_json`] plus `best`) as each ends; the command prints a
//!   last `{"event": "finished", …}` line;
//! - `Off` (`--quiet`, tests, replays).
//!
//! Invariant: progress is display only. Nothing here is read back, and nothing here reads a
//! clock: the steady tick of the bar is the terminal library's and changes no output file.
//! Experiments a resumed run replays from its journal are not shown again.

use std::io::Write as _;

use crate::record::Outcome;
use crate::validate::campaign::Campaign;

/// The form progress takes (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Off,
    Bar,
    Lines,
    Json,
}

/// Progress as a run shows it.
#[derive(Debug)]
pub(super) struct Shown {
    mode: Progress,
    bar: Option<indicatif::ProgressBar>,
    /// The step the bar shows, for the time left of a wait to be added to it.
    step: std::sync::Mutex<String>,
}

impl Shown {
    pub(super) fn new(c: &Campaign, total: u64, mode: Progress) -> Shown {
        let bar = (mode == Progress::Bar).then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(total),
                indicatif::ProgressDrawTarget::stderr(),
            );
            let style = indicatif::ProgressStyle::with_template(
                "{spinner} {prefix} [{bar:30}] {pos}/{len} experiments · {msg}",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_prefix(c.name.clone());
            bar.enable_steady_tick(std::time::Duration::from_millis(250));
            bar
        });
        Shown {
            mode,
            bar,
            step: std::sync::Mutex::new(String::new()),
        }
    }

    /// Whether finished experiments are shown (the caller then computes the best score).
    pub(super) fn shows_experiments(&self) -> bool {
        self.mode != Progress::Off
    }

    /// A step of experiment `id` begins; `wait` is the lab time it waits, s, if it is a wait.
    pub(super) fn step(&self, id: u64, why: &str, wait: Option<f64>) {
        let wait_text = wait.map(crate::validate::durations::human);
        match self.mode {
            Progress::Bar => {
                if let Some(bar) = &self.bar {
                    let wait = wait_text.map_or_else(String::new, |w| format!(", {w} of lab time"));
                    let step = format!("experiment {id}: {why}{wait}");
                    bar.set_message(step.clone());
                    if let Ok(mut shown) = self.step.lock() {
                        *shown = step;
                    }
                }
            }
            Progress::Json => json_line(&serde_json::json!({
                "event": "step",
                "experiment": id,
                "why": why,
                "wait_s": wait,
            })),
            Progress::Lines | Progress::Off => {}
        }
    }

    /// Experiment `id` ended with `outcome`; `best` is the best combined score so far.
    pub(super) fn experiment(
        &self,
        c: &Campaign,
        (id, point): (u64, &[f64]),
        outcome: &Outcome,
        best: Option<f64>,
        (done, total): (u64, u64),
    ) {
        match self.mode {
            Progress::Bar => {
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
            }
            Progress::Lines => {
                let line = line(c, (id, point), outcome, best, (done, total));
                let _ = writeln!(std::io::stderr().lock(), "{line}");
            }
            Progress::Json => {
                let mut event =
                    crate::report::experiment_json(c, id, point, Some(outcome), None, &[]);
                if let Some(map) = event.as_object_mut() {
                    map.insert("event".into(), "experiment".into());
                    map.insert(
                        "best".into(),
                        best.and_then(serde_json::Number::from_f64)
                            .map_or(serde_json::Value::Null, serde_json::Value::Number),
                    );
                    map.remove("spectra");
                    map.remove("desirability");
                    map.remove("objective");
                }
                json_line(&event);
            }
            Progress::Off => {}
        }
    }

    /// A wait goes on with `left` seconds of lab time to go (on hardware, where a wait is
    /// spent in slices between keep-alive polls).
    pub(super) fn waiting(&self, left: f64) {
        if let (Some(bar), Ok(step)) = (&self.bar, self.step.lock()) {
            bar.set_message(format!(
                "{step} ({} left)",
                crate::validate::durations::human(left)
            ));
        }
    }

    /// The bar's count and what is left, between experiments.
    pub(super) fn tick(&self, done: u64, best: Option<f64>, lab_time_left: f64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            let best = best.map_or_else(|| "best —".to_owned(), |b| format!("best score {b:.3}"));
            bar.set_message(format!(
                "{best} · lab time left ~{}",
                crate::plan::hours(lab_time_left.max(0.0))
            ));
        }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// One line on stdout, whole (a pipeline reads line by line).
fn json_line(value: &serde_json::Value) {
    let mut text = value.to_string();
    text.push('\n');
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// `experiment 3 (4/10) ok · residence 60 s, temperature 280 degC · peak 472.7 nm · best
/// score 0.812`: the id as the bundle numbers it, then how many of the planned have ended.
fn line(
    c: &Campaign,
    (id, point): (u64, &[f64]),
    outcome: &Outcome,
    best: Option<f64>,
    (done, total): (u64, u64),
) -> String {
    let status = match &outcome.reason {
        Some(reason) => format!("{} ({reason})", outcome.status.name()),
        None => outcome.status.name().to_owned(),
    };
    let variables: Vec<String> = c
        .variables
        .iter()
        .zip(point)
        .map(|(v, x)| {
            if v.is_numeric() {
                format!("{} {}", v.name, v.unit.approx(*x))
            } else {
                format!("{} {}", v.name, v.cell(*x))
            }
        })
        .collect();
    let proxies: Vec<String> = c
        .proxies
        .iter()
        .zip(&outcome.proxies)
        .filter_map(|(p, x)| Some(format!("{} {}", p.name, p.unit.approx((*x)?))))
        .collect();
    let mut parts = vec![
        format!("experiment {id} ({done}/{total}) {status}"),
        variables.join(", "),
    ];
    if !proxies.is_empty() {
        parts.push(proxies.join(", "));
    }
    if let Some(b) = best {
        parts.push(format!(
            "best score {}",
            crate::validate::campaign::DisplayUnit::plain().approx_number(b)
        ));
    }
    parts.join(" · ")
}
