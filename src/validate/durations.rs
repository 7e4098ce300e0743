//! Bounds on every value that becomes a wait, a deadline or a time budget.
//!
//! The runtime turns these values into waits on the lab's clock. A campaign that passes
//! `qdx check` must only ask for waits a person would plan for, so each value is bounded here,
//! with its span, before anything is sent to a device. Every bound is inclusive (but a time
//! constant's zero) and every value must also be finite and not negative.
//!
//! | value                                                            | allowed                |
//! |------------------------------------------------------------------|------------------------|
//! | one wait: `settle … for`, the time in `steady_state after`       | 0 s .. 7 days          |
//! | the steady-state wait over the whole variable box (reactor volumes along the slowest stream's way, `Topology::residence_time`, plus its time) | ≤ 7 days |
//! | a flush (`volumes` reactor volumes along the rinse pump's way at its `rate`) | ≤ 7 days |
//! | a syringe refill (`syringe` at `refill_rate`, capped at the pump's maximum rate) | ≤ 7 days |
//! | a heater's `time_constant`                                       | above 0 s .. 12 h      |
//! | any other device property that is a time                        | 0 s .. 7 days          |
//! | a `retry … backoff`                                              | 0 s .. 5 min           |
//! | the campaign's `budget { time … }`                               | above 0 s .. 365 days  |
//! | device volumes and flow rates (they become residence and refill times) | not negative     |
//!
//! Why these numbers: 7 days is longer than any single step of a flow-chemistry experiment
//! and still small enough that a mistyped exponent (`1e20 s`) is caught. The runtime gives a
//! heater 12 time constants (plus the hold) to settle, so a 12 h time constant keeps that
//! deadline within about a week. The k-th retry waits `backoff · 2^min(k, 10)`, so a 5 min
//! backoff waits at most 1024 × 5 min ≈ 3.6 days. Integration times (0.1 ms .. 60 s) and
//! averages (≤ 10000) are bounded where channels are read (`measure.rs`), which keeps one
//! acquisition under 7 days too.

use qdx_units::{Dimension, Interval};

use super::Validator;
use super::bounds::Proof;
use super::campaign::*;
use super::expr::{MathFn, TExpr};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::codes::validate as code;
use crate::source::Span;
use crate::syntax::ast::{Item, MeasureEntry};

const MINUTE_S: f64 = 60.0;
const HOUR_S: f64 = 3600.0;
const DAY_S: f64 = 86_400.0;
const YEAR_S: f64 = 365.25 * DAY_S;

/// The longest single wait: a settle hold, a steady state, a flush, a refill.
pub const MAX_WAIT_S: f64 = 7.0 * DAY_S;
/// The largest heater time constant (the runtime allows 12 of them to settle).
pub const MAX_TIME_CONSTANT_S: f64 = 12.0 * HOUR_S;
/// The largest retry backoff (doubled up to ten times).
pub const MAX_BACKOFF_S: f64 = 5.0 * MINUTE_S;
/// The largest time budget of a campaign.
pub const MAX_TIME_BUDGET_S: f64 = 365.0 * DAY_S;

/// A duration in the unit a person would say it in: `45 s`, `12 min`, `3.5 h`, `35.71 days`,
/// `3.169e12 years` (four significant digits).
pub fn human(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "forever".to_owned();
    }
    let (value, unit) = match seconds.abs() {
        s if s < 2.0 * MINUTE_S => (seconds, "s"),
        s if s < 2.0 * HOUR_S => (seconds / MINUTE_S, "min"),
        s if s < 2.0 * DAY_S => (seconds / HOUR_S, "h"),
        s if s < 2.0 * YEAR_S => (seconds / DAY_S, "days"),
        _ => (seconds / YEAR_S, "years"),
    };
    // Four significant digits; beyond a million, in scientific notation with as many (a
    // rounded value times a power of ten is not exact, so it is formatted, not computed).
    let number = if value.abs() >= 1e6 {
        format!("{value:.3e}")
    } else {
        let rounded = if value == 0.0 {
            value
        } else {
            let digits = 3 - value.abs().log10().floor() as i32;
            let scale = 10_f64.powi(digits.clamp(-300, 300));
            (value * scale).round() / scale
        };
        qdx_units::format_number(rounded)
    };
    format!("{number} {unit}")
}

/// `0 s .. 7 days`
fn range_text(max: f64) -> String {
    format!("0 s .. {}", human(max))
}

/// Checks a time (s) against `0 ..= max`. `what` names the value in the message.
pub(super) fn check_time(
    what: &str,
    seconds: f64,
    max: f64,
    span: Span,
    why: &str,
) -> Result<(), Diagnostic> {
    if seconds.is_finite() && (0.0..=max).contains(&seconds) {
        return Ok(());
    }
    let found = if seconds < 0.0 {
        "negative".to_owned()
    } else {
        human(seconds)
    };
    Err(Diagnostic::error(
        code::TIME_RANGE,
        format!("{what} is {found}; it must lie within {}", range_text(max)),
    )
    .label(span, format!("outside {}", range_text(max)))
    .help(why.to_owned()))
}

/// Checks a device property that the runtime turns into a time: times are bounded, volumes and
/// flow rates are not negative. `device` and `name` name it in the message.
pub(super) fn check_property(
    device: &str,
    name: &str,
    dimension: Dimension,
    si: f64,
    span: Span,
) -> Result<(), Diagnostic> {
    if dimension == Dimension::TIME {
        let what = format!("`{name}` of `{device}`");
        // A heater responds in some time: the runtime and the simulated lab divide by it.
        if name == "time_constant" && si <= 0.0 {
            return Err(Diagnostic::error(
                code::TIME_RANGE,
                format!(
                    "{what} is not above 0 s; it must lie within above 0 s .. {}",
                    human(MAX_TIME_CONSTANT_S)
                ),
            )
            .label(span, "not above 0 s")
            .help(
                "a real coil or bath responds within minutes to an hour, e.g. `time_constant 60 s`",
            ));
        }
        return if name == "time_constant" {
            check_time(
                &what,
                si,
                MAX_TIME_CONSTANT_S,
                span,
                "the runtime gives a heater 12 time constants to settle; a real coil or bath responds within minutes to an hour",
            )
        } else {
            check_time(
                &what,
                si,
                MAX_WAIT_S,
                span,
                "a device time becomes a wait, and a single wait lasts at most 7 days",
            )
        };
    }
    let what = if dimension == Dimension::VOLUME {
        "a volume"
    } else if dimension == Dimension::FLOW_RATE {
        "a flow rate"
    } else {
        return Ok(());
    };
    if si < 0.0 {
        return Err(Diagnostic::error(
            code::NEGATIVE,
            format!("`{name}` of `{device}` is negative; {what} cannot be below zero"),
        )
        .label(span, "below zero")
        .help(
            "volumes and flow rates become residence and refill times, which cannot be negative",
        ));
    }
    Ok(())
}

/// Checks how long refilling a syringe pump takes: the whole syringe at its refill rate, never
/// faster than the pump's maximum rate (as the planner does it).
pub(super) fn check_refill(device: &Device, at: Span) -> Result<(), Diagnostic> {
    let (Some(capacity), Some(rate)) = (device.syringe(), device.refill_rate()) else {
        return Ok(());
    };
    let time = if rate > 0.0 {
        capacity / rate
    } else {
        f64::INFINITY
    };
    if time.is_finite() && time <= MAX_WAIT_S {
        return Ok(());
    }
    let unit = qdx_units::Unit::parse("uL/min").ok();
    let rate_text = match unit {
        Some(u) => qdx_units::format_quantity(rate, &u, qdx_units::Interpretation::Difference),
        None => format!("{rate} m^3/s"),
    };
    Err(Diagnostic::error(
        code::TIME_RANGE,
        format!(
            "refilling `{}` takes {} at {rate_text}; a single wait lasts at most 7 days",
            device.name,
            human(time)
        ),
    )
    .label(at, "sets how long a refill takes")
    .help("raise `refill_rate` (and `max_rate`, which caps it), or use a smaller syringe"))
}

impl Validator<'_> {
    /// The span of the `steady_state` entry of the measure block (the block's when it has
    /// none), for the waits checked after the bounds are proven.
    fn steady_state_span(&self) -> Option<Span> {
        let measures = self.items.of(|i| match i {
            Item::Measure(m) => Some(m),
            _ => None,
        });
        let m = measures.first()?;
        let steady = m.entries.iter().find_map(|e| match e {
            MeasureEntry::SteadyState { after, .. } => Some(after.span),
            _ => None,
        });
        steady.or(Some(m.span))
    }

    /// Proves that the steady-state wait and each line that runs one pump alone (flush,
    /// blank, reference dye) stay within [`MAX_WAIT_S`] for every experiment the optimizer may
    /// choose, with the residence time the planner waits ([`Topology::residence_time`]). Runs
    /// after [`Validator::prove_bounds`].
    pub(super) fn prove_waits(&mut self) {
        if self.diags.has_errors() {
            return;
        }
        let Some(m) = self.measurement.as_ref() else {
            return;
        };
        let steady_span = self.steady_state_span();
        let mut found = Vec::new();
        for (what, f) in m.pumped_lines() {
            let time = if f.rate > 0.0 {
                f.volumes
                    * self
                        .topology
                        .residence_time(&std::collections::BTreeMap::from([(f.pump, f.rate)]))
            } else {
                f64::INFINITY
            };
            if !(time.is_finite() && time <= MAX_WAIT_S) {
                found.push(
                    Diagnostic::error(
                        code::TIME_RANGE,
                        format!(
                            "{} takes {}; a single wait lasts at most 7 days",
                            if what == "flush" {
                                "the flush".to_string()
                            } else {
                                format!("the `{what}` line")
                            },
                            human(time)
                        ),
                    )
                    .label(
                        f.span,
                        format!(
                            "{} reactor volumes at this rate",
                            qdx_units::format_number(f.volumes)
                        ),
                    )
                    .help(if what == "flush" {
                        "flush faster or fewer reactor volumes"
                    } else {
                        "run it faster or for fewer reactor volumes"
                    }),
                );
            }
        }
        let (volumes, extra) = (m.steady_state_volumes, m.steady_state_extra);
        let Some(span) = steady_span.filter(|_| volumes > 0.0) else {
            self.report(found);
            return;
        };
        // wait = volumes · residence + extra ≤ MAX  ⇔  every running way's time ≤ (MAX − extra) / volumes
        let longest = (MAX_WAIT_S - extra).max(0.0) / volumes;
        let Ok(allowed) = Interval::new(f64::NEG_INFINITY, longest) else {
            self.report(found);
            return;
        };
        let (derived, region) = self.region();
        let region = super::bounds::Region {
            derived: &derived,
            ..region
        };
        let mut worst: Option<(f64, Diagnostic)> = None;
        for (way, time) in self.way_times() {
            let pump = self
                .devices
                .get(way.pump)
                .map_or("?", |d| d.name.as_str())
                .to_owned();
            let cell = self
                .devices
                .get(m.cell)
                .map_or("?", |d| d.name.as_str())
                .to_owned();
            let help = way_help(self, &way, longest);
            match region.prove_within(&time, allowed) {
                Proof::Holds { .. } | Proof::Infeasible => {}
                Proof::Violated { witness, value } => {
                    let wait = volumes * value + extra;
                    let wait = if wait.is_nan() { f64::INFINITY } else { wait };
                    if worst.as_ref().is_some_and(|(w, _)| *w >= wait) {
                        continue;
                    }
                    let at = self.describe_point(&witness, &time);
                    let d = Diagnostic::error(
                        code::TIME_RANGE,
                        format!(
                            "the steady-state wait can last {}; a single wait lasts at most 7 days",
                            human(wait)
                        ),
                    )
                    .label(
                        span,
                        format!(
                            "{} reactor volumes, each {} from `{pump}` to `{cell}` (at {at})",
                            qdx_units::format_number(volumes),
                            human(value),
                        ),
                    )
                    .help(help);
                    worst = Some((wait, d));
                }
                Proof::Unknown { .. } => {
                    if worst.is_none() {
                        worst = Some((
                            f64::NEG_INFINITY,
                            Diagnostic::error(
                                code::UNPROVEN_WAIT,
                                "cannot prove that the steady-state wait stays within 7 days",
                            )
                            .label(
                                span,
                                format!(
                                    "the slowest flow from `{pump}` to `{cell}` could not be established"
                                ),
                            )
                            .help(help),
                        ));
                    }
                }
            }
        }
        found.extend(worst.map(|(_, d)| d));
        self.report(found);
    }

    /// Encloses the residence time at each probe point over the variable box: the point's
    /// volume over the flow through its coil (the sum of the derived rates of every pump whose
    /// way passes through it). Recorded for `qdx check --summary` and hover; nothing to refuse,
    /// as the steady-state wait, which covers the whole coil, is proven above.
    pub(super) fn prove_probe(&mut self) {
        if self.diags.has_errors() {
            return;
        }
        let Some(coil) = self
            .measurement
            .as_ref()
            .and_then(|m| m.probe.as_ref())
            .map(|p| p.coil)
        else {
            return;
        };
        let rates = self.pump_rates();
        let pumps: Vec<DeviceId> = self
            .topology
            .ways
            .iter()
            .flat_map(|w| w.segments.iter())
            .find(|s| s.device == coil)
            .map(|s| s.pumps.clone())
            .unwrap_or_default();
        let flow = pumps
            .iter()
            .filter_map(|p| rates.iter().find(|(d, _, _)| d == p))
            .map(|(_, d, _)| TExpr::Derived(*d))
            .reduce(|a, b| TExpr::Add(Box::new(a), Box::new(b)));
        let Some(flow) = flow else { return };
        let (derived, region) = self.region();
        let region = super::bounds::Region {
            derived: &derived,
            ..region
        };
        // The flow's enclosure gives each point's: volume over flow, with the flow above zero.
        let flow = region
            .enclose_value(&flow, 64)
            .map(|i| (i.lo(), i.hi()))
            .filter(|(lo, hi)| lo.is_finite() && hi.is_finite() && *lo > 0.0);
        let windows: Vec<Option<(f64, f64)>> = self
            .measurement
            .as_ref()
            .and_then(|m| m.probe.as_ref())
            .map(|p| {
                p.points
                    .iter()
                    .map(|pt| flow.map(|(lo, hi)| (pt.volume / hi, pt.volume / lo)))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(p) = self.measurement.as_mut().and_then(|m| m.probe.as_mut()) {
            for (pt, w) in p.points.iter_mut().zip(windows) {
                pt.residence = w;
            }
        }
    }

    /// The rate of each pump the campaign drives (its derived setting), and the pump's
    /// smallest running rate (m³/s).
    fn pump_rates(&self) -> Vec<(DeviceId, DerivedId, f64)> {
        self.derived
            .iter()
            .enumerate()
            .filter_map(|(i, d)| match &d.target {
                DerivedTarget::Setting {
                    device,
                    drive: Drive::PumpRate,
                    ..
                } => {
                    let lo = self
                        .devices
                        .get(*device)
                        .and_then(|dev| dev.driven(Drive::PumpRate))
                        .map_or(0.0, |s| s.lo.max(0.0));
                    Some((*device, i, lo))
                }
                _ => None,
            })
            .collect()
    }

    /// For each way of a pump the campaign drives, the time one reactor volume takes along it,
    /// as an expression over the variables: [`Topology::residence_time`]'s sum, with the way's
    /// own pump at no less than its smallest running rate (the planner sends no slower rate: a
    /// smaller one is sent as that rate, or as a stop, which takes the way out of the wait).
    fn way_times(&self) -> Vec<(Way, TExpr)> {
        let rates = self.pump_rates();
        let rate_of = |p: DeviceId| rates.iter().find(|(d, _, _)| *d == p);
        self.topology
            .ways
            .iter()
            .filter_map(|way| {
                let (_, own, own_lo) = rate_of(way.pump)?;
                let own = TExpr::Call(
                    MathFn::Max,
                    vec![TExpr::Derived(*own), TExpr::Const(*own_lo)],
                );
                let time = way
                    .segments
                    .iter()
                    .map(|s| {
                        let flow = s
                            .pumps
                            .iter()
                            .filter(|p| **p != way.pump)
                            .filter_map(|p| rate_of(*p))
                            .fold(own.clone(), |sum, (_, d, _)| {
                                TExpr::Add(Box::new(sum), Box::new(TExpr::Derived(*d)))
                            });
                        TExpr::Div(Box::new(TExpr::Const(s.volume)), Box::new(flow))
                    })
                    .reduce(|a, b| TExpr::Add(Box::new(a), Box::new(b)))?;
                Some((way.clone(), time))
            })
            .collect()
    }

    fn report(&mut self, found: Vec<Diagnostic>) {
        for d in found {
            self.error(d);
        }
    }
}

/// How to make a way fast enough. Streams only join along a way, so its first segment carries
/// the least flow: when that flow moves the way's whole volume within `longest`, every segment
/// does.
fn way_help(v: &Validator<'_>, way: &Way, longest: f64) -> String {
    let generic = "narrow the variables toward faster flows";
    let Some(first) = way.segments.first() else {
        return generic.to_owned();
    };
    let names: Vec<&str> = first
        .pumps
        .iter()
        .filter_map(|p| {
            v.derived.iter().find(|d| {
                matches!(&d.target, DerivedTarget::Setting { device, drive: Drive::PumpRate, .. } if device == p)
            })
        })
        .map(|d| d.name.as_str())
        .collect();
    let volume: f64 = way.segments.iter().map(|s| s.volume).sum();
    let slowest = volume / longest.max(f64::MIN_POSITIVE);
    let flow_unit = DisplayUnit::new(
        qdx_units::Unit::parse("uL/min").unwrap_or_else(|_| qdx_units::Unit::dimensionless()),
        qdx_units::Interpretation::Difference,
    );
    format!(
        "{generic}, or add a constraint such as `{} >= {}`",
        names.join(" + "),
        flow_unit.approx(slowest * 1.0001)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_the_unit_a_person_would_use() {
        assert_eq!(human(45.0), "45 s");
        assert_eq!(human(720.0), "12 min");
        assert_eq!(human(3.5 * HOUR_S), "3.5 h");
        assert_eq!(human(10.0 * DAY_S), "10 days");
        assert_eq!(human(1e20), "3.169e12 years");
        assert_eq!(human(f64::INFINITY), "forever");
        // Rounded to four significant digits, never printed with the rounding's own error
        // (`1.1409999999999998e26 years`, `125.42613636363639 days`).
        assert_eq!(human(1.141e26 * YEAR_S), "1.141e26 years");
        assert_eq!(human(125.426_136_363_636_39 * DAY_S), "125.4 days");
    }
}
