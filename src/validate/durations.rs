//! Bounds on every value that becomes a wait, a deadline or a time budget.
//!
//! The runtime turns these values into waits on the lab's clock. A campaign that passes
//! `qdx check` must only ask for waits a person would plan for, so each value is bounded here,
//! with its span, before anything is sent to a device. Every bound is inclusive and every value
//! must also be finite and not negative.
//!
//! | value                                                            | allowed                |
//! |------------------------------------------------------------------|------------------------|
//! | one wait: `settle … for`, the time in `steady_state after`       | 0 s .. 7 days          |
//! | the steady-state wait over the whole variable box (reactor volumes at the slowest total flow, plus its time) | ≤ 7 days |
//! | a flush (`volumes` reactor volumes at its `rate`)                | ≤ 7 days               |
//! | a syringe refill (`syringe` at `refill_rate`, capped at the pump's maximum rate) | ≤ 7 days |
//! | a heater's `time_constant`                                       | 0 s .. 12 h            |
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
use super::expr::TExpr;
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
    /// The spans of the `steady_state` and `settle` entries and of the `flush` of the measure
    /// block, for the waits checked after the bounds are proven.
    fn measure_spans(&self) -> (Option<Span>, Option<Span>) {
        let measures = self.items.of(|i| match i {
            Item::Measure(m) => Some(m),
            _ => None,
        });
        let Some(m) = measures.first() else {
            return (None, None);
        };
        let steady = m.entries.iter().find_map(|e| match e {
            MeasureEntry::SteadyState { after, .. } => Some(after.span),
            _ => None,
        });
        let flush = m.entries.iter().find_map(|e| match e {
            MeasureEntry::Channel { name, span, .. } if name.name == "flush" => Some(*span),
            _ => None,
        });
        (steady.or(Some(m.span)), flush)
    }

    /// Proves that the steady-state wait and the flush stay within [`MAX_WAIT_S`] for every
    /// experiment the optimizer may choose. Runs after [`Validator::prove_bounds`].
    pub(super) fn prove_waits(&mut self) {
        if self.diags.has_errors() {
            return;
        }
        let (Some(m), Some(volume)) = (self.measurement.as_ref(), self.topology.reactor_volume)
        else {
            return;
        };
        let (steady_span, flush_span) = self.measure_spans();
        let mut found = Vec::new();
        if let (Some(f), Some(span)) = (&m.flush, flush_span) {
            let time = if f.rate > 0.0 {
                f.volumes * volume / f.rate
            } else {
                f64::INFINITY
            };
            if !(time.is_finite() && time <= MAX_WAIT_S) {
                found.push(
                    Diagnostic::error(
                        code::TIME_RANGE,
                        format!(
                            "the flush takes {}; a single wait lasts at most 7 days",
                            human(time)
                        ),
                    )
                    .label(
                        span,
                        format!(
                            "{} reactor volumes at this rate",
                            qdx_units::format_number(f.volumes)
                        ),
                    )
                    .help("flush faster or fewer reactor volumes"),
                );
            }
        }
        let (volumes, extra) = (m.steady_state_volumes, m.steady_state_extra);
        let pump_rates: Vec<(TExpr, String)> = self
            .derived
            .iter()
            .enumerate()
            .filter(|(_, d)| {
                matches!(
                    &d.target,
                    DerivedTarget::Setting {
                        drive: Drive::PumpRate,
                        ..
                    }
                )
            })
            .map(|(i, d)| (TExpr::Derived(i), d.name.clone()))
            .collect();
        let Some(total) = pump_rates
            .iter()
            .map(|(e, _)| e.clone())
            .reduce(|a, b| TExpr::Add(Box::new(a), Box::new(b)))
        else {
            self.report(found);
            return;
        };
        let Some(span) = steady_span.filter(|_| volumes > 0.0 && volume > 0.0) else {
            self.report(found);
            return;
        };
        // wait = volumes · V / total + extra ≤ MAX  ⇔  total ≥ volumes · V / (MAX − extra)
        let slowest = volumes * volume / (MAX_WAIT_S - extra).max(f64::MIN_POSITIVE);
        let (derived, region) = self.region();
        let region = super::bounds::Region {
            derived: &derived,
            ..region
        };
        let Ok(allowed) = Interval::new(slowest, f64::INFINITY) else {
            self.report(found);
            return;
        };
        let flow_unit = DisplayUnit::new(
            qdx_units::Unit::parse("uL/min").unwrap_or_else(|_| qdx_units::Unit::dimensionless()),
            qdx_units::Interpretation::Difference,
        );
        let sum_text = pump_rates
            .iter()
            .map(|(_, n)| n.as_str())
            .collect::<Vec<_>>()
            .join(" + ");
        let help = format!(
            "narrow the variables toward faster flows, or add a constraint such as `{sum_text} >= {}`",
            flow_unit.approx(slowest * 1.0001)
        );
        match region.prove_within(&total, allowed) {
            Proof::Holds { .. } | Proof::Infeasible => {}
            Proof::Violated { witness, value } => {
                let wait = if value > 0.0 {
                    volumes * volume / value + extra
                } else {
                    f64::INFINITY
                };
                let at = self.describe_point(&witness, &total);
                found.push(
                    Diagnostic::error(
                        code::TIME_RANGE,
                        format!(
                            "the steady-state wait can last {}; a single wait lasts at most 7 days",
                            human(wait)
                        ),
                    )
                    .label(
                        span,
                        format!(
                            "{} reactor volumes of {} at a total flow of {} (at {at})",
                            qdx_units::format_number(volumes),
                            DisplayUnit::of("uL").approx(volume),
                            flow_unit.approx(value)
                        ),
                    )
                    .help(help),
                );
            }
            Proof::Unknown { .. } => found.push(
                Diagnostic::error(
                    code::UNPROVEN_WAIT,
                    "cannot prove that the steady-state wait stays within 7 days",
                )
                .label(span, "the slowest total flow could not be established")
                .help(help),
            ),
        }
        self.report(found);
    }

    fn report(&mut self, found: Vec<Diagnostic>) {
        for d in found {
            self.error(d);
        }
    }
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
