//! Dry runs of user scripts at `qdx check`: a proxy or model script is run in the sandbox on a
//! few representative inputs, so that a script that would fail in every experiment is an error
//! before the run.
//!
//! Invariant: three failures are reported, because the made-up inputs cannot be their cause:
//! - a `data(name)` call with a name no data file is declared as (the tables it reads are
//!   the declared files themselves, not made up);
//! - a result of the wrong type (a string where a number is expected, a map without a declared
//!   output);
//! - a limit of the sandbox (operations, memory, a value's size, nesting, time). The dry run
//!   has the run's limits, so a script stopped here is stopped in a run too; except time: a run
//!   allows 30 s per evaluation, which `qdx check` cannot wait out for every script, so a dry
//!   run stops a script after 2 s and that is an error too. A proxy takes microseconds and a
//!   model milliseconds (the slowest legitimate script we know, filling a 100,000-element array
//!   one `push` at a time, takes about 1 s in a release build); a script that needs seconds on
//!   ordinary inputs is stuck or does far too much work, and would cost that much in every
//!   experiment. A script gets three dry runs at most, of 2 s at most each, and none after the
//!   first failure reported.
//!
//! Other failures on the made-up inputs (a division by zero, a value out of an
//! interpolation's range, a `throw`) may well not happen with real data, so they say nothing
//! and are not reported; the run reports them, located, if they happen there.

use std::collections::BTreeMap;
use std::time::Duration;

use qdx_script::{BUDGET, Inputs, ModelOutput, Script, ScriptBudget, ScriptError, ScriptErrorKind};

use super::campaign::{ChannelKind, Composition, DisplayUnit, Domain, VarId, Variable};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::codes::validate as code;

/// Limits of one dry run: a run's memory budget, a shorter deadline (see the module doc).
const DRY_RUN: ScriptBudget = ScriptBudget {
    max_wall_time: Duration::from_secs(2),
    max_memory: BUDGET.max_memory,
};

/// Where the variables are for one dry run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Point {
    Middle,
    Low,
    High,
}

impl Point {
    /// "every variable at the middle of its range"
    fn describe(self) -> &'static str {
        match self {
            Point::Middle => "every variable at the middle of its range",
            Point::Low => "every variable at its lower bound",
            Point::High => "every variable at its upper bound",
        }
    }
}

/// A failure found by a dry run that makes every run fail where it happens: a result of the
/// wrong type or a limit (see the module doc).
#[derive(Debug)]
pub(super) struct Failure {
    pub error: ScriptError,
    /// The inputs it ran with: "with every variable at the middle of its range and ...".
    pub inputs: String,
}

impl Failure {
    /// The error for the script of `what` (`proxy `score``, `model script`), without its
    /// location; `result` says what the script must return.
    pub(super) fn diagnostic(&self, what: &str, result: &str) -> Diagnostic {
        let message = format!("{what}: {}", self.error.message);
        match self.error.kind {
            ScriptErrorKind::WrongType => Diagnostic::error(code::SCRIPT_RESULT, message).help(
                format!("`qdx check` ran the script {}; {result}", self.inputs),
            ),
            ScriptErrorKind::UnknownData => Diagnostic::error(code::UNKNOWN_DATA, message).help(
                "a script reads only the files the campaign declares, by their names: `data { target \"data/target.csv\" }`, then `data(\"target\")`",
            ),
            ScriptErrorKind::TooSlow => Diagnostic::error(code::SCRIPT_LIMIT, message).help(format!(
                "`qdx check` ran the script {} and stopped it after {} s (a run allows {} s per evaluation, and evaluates it in every experiment; a proxy takes microseconds, a model milliseconds)",
                self.inputs,
                DRY_RUN.max_wall_time.as_secs(),
                BUDGET.max_wall_time.as_secs()
            )),
            _ => Diagnostic::error(code::SCRIPT_LIMIT, message).help(format!(
                "`qdx check` ran the script {}; a run has the same limit and would stop it the same way",
                self.inputs
            )),
        }
    }

    /// What the label at the failure's place says.
    pub(super) fn label(&self) -> &'static str {
        match self.error.kind {
            ScriptErrorKind::WrongType => "the result comes from here",
            ScriptErrorKind::UnknownData => "read here",
            _ => "stopped here",
        }
    }
}

/// "with every variable at the middle of its range, the proxy before it at 1 (`peak`) and a
/// made-up `photoluminescence` spectrum (one band at 550 nm)": the inputs of a dry run that
/// the script may read.
fn describe_inputs(
    script: &Script,
    point: Point,
    compositions: &[Composition],
    earlier_proxies: &[String],
    channels: &[ChannelKind],
) -> String {
    let mut parts = vec![point.describe().to_owned()];
    if compositions.iter().any(|c| script.mentions(&c.name)) {
        parts.push(
            "a composition's parts in proportion to their ranges, summing to its total".to_owned(),
        );
    }
    let proxies: Vec<String> = earlier_proxies
        .iter()
        .filter(|p| script.mentions(p))
        .map(|p| format!("`{p}`"))
        .collect();
    match proxies.as_slice() {
        [] => {}
        [one] => parts.push(format!("the proxy before it at 1 ({one})")),
        many => parts.push(format!("the proxies before it at 1 ({})", many.join(", "))),
    }
    let spectra: Vec<String> = channels
        .iter()
        .filter(|k| script.mentions(k.name()) && k.axis().script_field() == "wavelength")
        .map(|k| format!("`{}`", k.name()))
        .collect();
    if channels
        .iter()
        .any(|k| script.mentions(k.name()) && k.axis().script_field() == "q")
    {
        parts.push("a made-up `saxs` pattern (a Guinier curve, Rg 2 nm)".to_owned());
    }
    match spectra.as_slice() {
        [] => {}
        [one] => parts.push(format!("a made-up {one} spectrum (one band at 550 nm)")),
        many => parts.push(format!(
            "made-up {} spectra (one band at 550 nm)",
            and_list(many)
        )),
    }
    format!("with {}", and_list(&parts))
}

/// "a", "a and b", "a, b and c".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The variables at `point`, each in its unit of `units` (as the runtime gives them to the
/// script); categorical variables as one of their levels; a composition's parts in
/// proportion to their ranges, so that they sum to its total as in every run.
fn variables_at(
    variables: &[Variable],
    compositions: &[Composition],
    units: &[DisplayUnit],
    point: Point,
    inputs: &mut Inputs,
) {
    for (v, unit) in variables.iter().zip(units) {
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
                inputs.set_number(&v.name, unit.from_si(pick(point, *lo, middle, *hi)));
            }
            Domain::Component {
                composition,
                lo,
                hi,
            } => {
                let share = compositions
                    .get(*composition)
                    .map_or(0.5, |c| proportional_share(c, variables));
                inputs.set_number(&v.name, unit.from_si(lo + share * (hi - lo)));
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
                inputs.set_number(&v.name, unit.from_si(x));
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

/// A made-up SAXS pattern for dry runs: a Guinier curve (Rg 2 nm) over q 0.05–3 /nm.
fn saxs_pattern() -> (Vec<f64>, Vec<f64>) {
    let q: Vec<f64> = (1..=60).map(|i| 0.05 * f64::from(i)).collect();
    let values = q
        .iter()
        .map(|q| 1.0 + 1e4 * (-(q * q) * 4.0 / 3.0).exp())
        .collect();
    (q, values)
}

const POINTS: [Point; 3] = [Point::Middle, Point::Low, Point::High];

/// Whether a dry run's error is reported (see the module doc).
fn reported(kind: ScriptErrorKind) -> bool {
    matches!(
        kind,
        ScriptErrorKind::WrongType
            | ScriptErrorKind::UnknownData
            | ScriptErrorKind::TooManyOperations
            | ScriptErrorKind::TooSlow
            | ScriptErrorKind::TooMuchMemory
            | ScriptErrorKind::TooDeep
            | ScriptErrorKind::TooLarge
    )
}

/// Dry-runs a proxy script with the inputs the runtime gives it: the variables, the proxies
/// defined before it (at 1: their values are unknown before a run) and the measured spectra
/// (made up).
pub(super) fn dry_run_proxy(
    script: &Script,
    variables: &[Variable],
    compositions: &[Composition],
    earlier_proxies: &[String],
    channels: &[ChannelKind],
) -> Option<Failure> {
    let script = script.clone().with_budget(DRY_RUN);
    let (wavelength, values) = spectrum();
    let pattern = saxs_pattern();
    // Proxy scripts read the variables in the units their ranges were written in.
    let units: Vec<DisplayUnit> = variables.iter().map(|v| v.unit.clone()).collect();
    for point in POINTS {
        let mut inputs = Inputs::new();
        variables_at(variables, compositions, &units, point, &mut inputs);
        for p in earlier_proxies {
            inputs.set_number(p, 1.0);
        }
        for k in channels {
            match k.axis() {
                super::campaign::Axis::Wavelength => {
                    inputs.set_spectrum(k.name(), &wavelength, &values);
                }
                super::campaign::Axis::ScatteringVector => {
                    inputs.set_series(k.name(), "q", &pattern.0, &pattern.1);
                }
            }
        }
        match script.eval_proxy(&inputs) {
            Ok(_) => {}
            Err(error) if reported(error.kind) => {
                return Some(Failure {
                    error,
                    inputs: describe_inputs(
                        &script,
                        point,
                        compositions,
                        earlier_proxies,
                        channels,
                    ),
                });
            }
            // Interrupted: the user stopped `qdx check`.
            Err(error) if error.kind == ScriptErrorKind::Interrupted => return None,
            Err(_) => {}
        }
    }
    None
}

/// Dry-runs a `simulate script` model with its inputs (variable → name, unit): it must return
/// a number (one declared output) or a map of numbers holding every declared output.
pub(super) fn dry_run_model(
    script: &Script,
    variables: &[Variable],
    compositions: &[Composition],
    model_inputs: &[(VarId, String, DisplayUnit)],
    outputs: &[String],
) -> Option<Failure> {
    let script = script.clone().with_budget(DRY_RUN);
    let units: Vec<DisplayUnit> = variables
        .iter()
        .enumerate()
        .map(|(id, v)| {
            model_inputs
                .iter()
                .find(|(i, _, _)| *i == id)
                .map_or_else(|| v.unit.clone(), |(_, _, u)| u.clone())
        })
        .collect();
    for point in POINTS {
        let mut inputs = Inputs::new();
        variables_at(variables, compositions, &units, point, &mut inputs);
        let failure = |error: ScriptError| {
            Some(Failure {
                error,
                inputs: describe_inputs(&script, point, compositions, &[], &[]),
            })
        };
        let shape_error = |message: String| {
            failure(ScriptError {
                kind: ScriptErrorKind::WrongType,
                message,
                position: None,
                origin: script.origin().clone(),
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
            Err(error) if reported(error.kind) => return failure(error),
            Err(error) if error.kind == ScriptErrorKind::Interrupted => return None,
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
    (!missing.is_empty()).then(|| and_list(&missing))
}
