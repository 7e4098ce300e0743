//! Dry runs of user scripts at `qdx check`: a proxy or model script is run in the sandbox, with
//! tight limits, on a few representative inputs, so a script that returns the wrong type (a
//! string where a number is expected) is an error before the run, not in every experiment.
//!
//! Invariant: only a result of the wrong type is reported. A script that fails on the made-up
//! inputs (a division by zero, a value out of an interpolation's range, a limit) may well work
//! on real data, so its failure says nothing and is not reported; the run reports it, naming
//! the script and the returned type, if it happens there.

use std::collections::BTreeMap;
use std::time::Duration;

use qdx_script::{Inputs, ModelOutput, Script, ScriptBudget, ScriptError, ScriptErrorKind};

use super::campaign::{ChannelKind, Composition, Domain, Variable};

/// Limits of one dry run: well below a real evaluation's, and three runs at most per script.
const DRY_RUN: ScriptBudget = ScriptBudget {
    max_wall_time: Duration::from_secs(2),
    max_memory: 64 << 20,
};

/// Where the variables are for one dry run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Point {
    Middle,
    Low,
    High,
}

impl Point {
    /// "with every variable at the middle of its range"
    pub(super) fn describe(self) -> &'static str {
        match self {
            Point::Middle => "with every variable at the middle of its range",
            Point::Low => "with every variable at its lower bound",
            Point::High => "with every variable at its upper bound",
        }
    }
}

/// A wrong result found by a dry run, and the inputs that gave it.
#[derive(Debug)]
pub(super) struct WrongResult {
    pub error: ScriptError,
    pub point: Point,
}

/// The variables at `point`, in the units their ranges were written in (as the runtime gives
/// them to scripts); categorical variables as one of their levels; a composition's parts in
/// proportion to their ranges, so that they sum to its total as in every run.
fn variables_at(
    variables: &[Variable],
    compositions: &[Composition],
    point: Point,
    inputs: &mut Inputs,
) {
    for v in variables {
        match &v.domain {
            Domain::Choice { levels } => {
                let level = match point {
                    Point::Middle => levels.get(levels.len() / 2),
                    Point::Low => levels.first(),
                    Point::High => levels.last(),
                };
                inputs.set_text(&v.name, level.map_or("", String::as_str));
            }
            Domain::Continuous { lo, hi, log } => {
                let middle = if *log && *lo > 0.0 && *hi > 0.0 {
                    (lo * hi).sqrt()
                } else {
                    lo + (hi - lo) / 2.0
                };
                inputs.set_number(&v.name, v.unit.from_si(pick(point, *lo, middle, *hi)));
            }
            Domain::Component {
                composition,
                lo,
                hi,
            } => {
                let share = compositions
                    .get(*composition)
                    .map_or(0.5, |c| proportional_share(c, variables));
                inputs.set_number(&v.name, v.unit.from_si(lo + share * (hi - lo)));
            }
            Domain::Integer { lo, hi } => {
                let middle = lo.saturating_add(hi.saturating_sub(*lo) / 2);
                let x = match point {
                    Point::Middle => middle,
                    Point::Low => *lo,
                    Point::High => *hi,
                };
                #[expect(
                    clippy::cast_precision_loss,
                    reason = "the runtime hands integer variables to scripts as f64 too"
                )]
                let x = x as f64;
                inputs.set_number(&v.name, v.unit.from_si(x));
            }
        }
    }
}

/// The fraction `t` of each part's range at which the parts `lo + t (hi - lo)` sum to the
/// composition's total (validation has proven that the bounds admit it).
fn proportional_share(c: &Composition, variables: &[Variable]) -> f64 {
    let (sum_lo, sum_hi) = c
        .components
        .iter()
        .filter_map(|id| variables.get(*id)?.bounds())
        .fold((0.0, 0.0), |(a, b), (lo, hi)| (a + lo, b + hi));
    if sum_hi > sum_lo {
        ((c.total - sum_lo) / (sum_hi - sum_lo)).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

fn pick(point: Point, lo: f64, middle: f64, hi: f64) -> f64 {
    match point {
        Point::Middle => middle,
        Point::Low => lo,
        Point::High => hi,
    }
}

/// A smooth made-up spectrum: a band at 550 nm over 350-800 nm.
fn spectrum() -> (Vec<f64>, Vec<f64>) {
    let wavelength: Vec<f64> = (350..=800).map(f64::from).collect();
    let values = wavelength
        .iter()
        .map(|w| 0.05 + (-((w - 550.0) / 20.0).powi(2) / 2.0).exp())
        .collect();
    (wavelength, values)
}

const POINTS: [Point; 3] = [Point::Middle, Point::Low, Point::High];

/// Whether a failed dry run ends the dry runs: past a limit, more runs only cost time.
fn stops_trying(kind: ScriptErrorKind) -> bool {
    matches!(
        kind,
        ScriptErrorKind::TooManyOperations
            | ScriptErrorKind::TooSlow
            | ScriptErrorKind::TooMuchMemory
            | ScriptErrorKind::TooDeep
            | ScriptErrorKind::TooLarge
            | ScriptErrorKind::Interrupted
    )
}

/// Dry-runs a proxy script with the inputs the runtime gives it: the variables, the proxies
/// defined before it (as 1.0: their values are unknown before a run) and the measured
/// spectra (made up).
pub(super) fn dry_run_proxy(
    script: &Script,
    variables: &[Variable],
    compositions: &[Composition],
    earlier_proxies: &[String],
    channels: &[ChannelKind],
) -> Option<WrongResult> {
    let script = script.clone().with_budget(DRY_RUN);
    let (wavelength, values) = spectrum();
    for point in POINTS {
        let mut inputs = Inputs::new();
        variables_at(variables, compositions, point, &mut inputs);
        for p in earlier_proxies {
            inputs.set_number(p, 1.0);
        }
        for k in channels {
            inputs.set_spectrum(k.name(), &wavelength, &values);
        }
        match script.eval_proxy(&inputs) {
            Ok(_) => {}
            Err(error) if error.kind == ScriptErrorKind::WrongType => {
                return Some(WrongResult { error, point });
            }
            Err(error) if stops_trying(error.kind) => return None,
            Err(_) => {}
        }
    }
    None
}

/// Dry-runs a `simulate script` model: it must return a number (one declared output) or a map
/// of numbers holding every declared output.
pub(super) fn dry_run_model(
    script: &Script,
    variables: &[Variable],
    compositions: &[Composition],
    outputs: &[String],
) -> Option<WrongResult> {
    let script = script.clone().with_budget(DRY_RUN);
    for point in POINTS {
        let mut inputs = Inputs::new();
        variables_at(variables, compositions, point, &mut inputs);
        let shape_error = |message: String| {
            Some(WrongResult {
                error: ScriptError {
                    kind: ScriptErrorKind::WrongType,
                    message,
                    position: None,
                    origin: script.origin().clone(),
                },
                point,
            })
        };
        match script.eval_model(&inputs) {
            Ok(ModelOutput::Number(_)) if outputs.len() > 1 => {
                return shape_error(format!(
                    "the script returned one number, but the campaign declares {} outputs ({}); return a map such as #{{ {}: ... }}",
                    outputs.len(),
                    outputs.join(", "),
                    outputs.first().map_or("y", String::as_str)
                ));
            }
            Ok(ModelOutput::Named(map)) => {
                if let Some(missing) = missing_outputs(&map, outputs) {
                    return shape_error(format!(
                        "the script's result has no {missing}; it has {}",
                        map.keys().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
            Ok(ModelOutput::Number(_)) => {}
            Err(error) if error.kind == ScriptErrorKind::WrongType => {
                return Some(WrongResult { error, point });
            }
            Err(error) if stops_trying(error.kind) => return None,
            Err(_) => {}
        }
    }
    None
}

/// "`plqy`", "`plqy` and `peak`" for the declared outputs missing from a result.
fn missing_outputs(map: &BTreeMap<String, f64>, outputs: &[String]) -> Option<String> {
    let missing: Vec<String> = outputs
        .iter()
        .filter(|o| !map.contains_key(*o))
        .map(|o| format!("`{o}`"))
        .collect();
    match missing.as_slice() {
        [] => None,
        [one] => Some(one.clone()),
        [rest @ .., last] => Some(format!("{} and {last}", rest.join(", "))),
    }
}
