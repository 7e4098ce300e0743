//! Choosing a transient experiment's ramp: a path through the space, not only a point.
//!
//! A transient experiment holds the other variables where the optimizer put them and sweeps
//! one variable (the ramped one) from a start to an end at the rate the campaign declared,
//! reading all the way; each reading becomes an observation at the value its fluid element
//! saw. A fixed full sweep spends most of its time where nothing is to be found. With a
//! [`RampSearch`] the Bayesian strategy also chooses the ramp's start and end inside the
//! declared ones, by **expected improvement per unit lab time of the whole path**:
//!
//! - The caller (who knows the reactor) maps a candidate ramp `(start, end)` at the chosen
//!   point to the values its readings will be told at and the lab time it takes
//!   ([`RampPath`]: the experiment's steady-state wait at the start, the ramp, its hold).
//! - The acquisition surface gives, at each of those values, the improvement of every one of
//!   its fixed base samples over the incumbent (`Surface::log_improvements`; the smoothed
//!   improvement of the composite model's Monte-Carlo EI, or of the score GP's stratified
//!   normal samples, times `P(success)` with a feasibility model).
//! - The path's joint value is `J = (1/S) Σₛ maxₖ Iₛₖ`: the expected best improvement among
//!   its readings, the batch EI ("q-EI") of the readings, with the readings' posterior
//!   samples coupled through the same base sample (common random numbers, i.e. readings along
//!   the path taken as perfectly correlated in their standardised error). That coupling is
//!   conservative: it never credits a path with more than the independent readings would give,
//!   and `J` is at least the best single reading's EI, so a path is worth at least its best
//!   point. A longer path is worth more only where it reaches values whose samples improve
//!   when the others do not.
//! - The score is `ln J − ln(hours)`: the joint EI per hour of lab time. The start and end are
//!   searched on a grid of [`GRID`] values of the declared range (in its direction), every pair
//!   at least [`RampSearch::min_span`] apart; the readings' values are looked up on a grid of
//!   [`VALUE_GRID`] values of the range, where each sample's improvement is computed once.
//!
//! Invariants: a chosen ramp lies inside the declared one and runs in its direction; the
//! choice is a deterministic function of the surface (no randomness here); a candidate whose
//! path the caller cannot compute, or whose value is not finite, is never chosen; with no
//! candidate left, no ramp is chosen (the caller runs the declared ramp).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::domain::{Domain, Point, Value};

/// Values of the declared range where a ramp may start or end.
pub const GRID: usize = 15;
/// Values of the declared range where each base sample's improvement is computed; a reading
/// counts at the nearest.
pub const VALUE_GRID: usize = 97;

/// What a candidate ramp would give: where it really ends (the caller may move the end to
/// its resolution, e.g. a whole number of reading intervals), the ramped variable's values its
/// readings will be told at (in the order taken) and the lab time it takes, s.
#[derive(Debug, Clone, PartialEq)]
pub struct RampPath {
    pub end: f64,
    pub values: Vec<f64>,
    pub seconds: f64,
}

/// The path of a candidate ramp: `(point, start, end)` → its readings and time, or `None`
/// when it cannot be run (the caller's checks).
pub type PathFn = Arc<dyn Fn(&[f64], f64, f64) -> Option<RampPath> + Send + Sync>;

/// A transient campaign's ramp, for the strategy to choose inside.
#[derive(Clone)]
pub struct RampSearch {
    /// The ramped variable's index in the domain.
    pub variable: usize,
    /// The declared start and end (the direction every chosen ramp keeps).
    pub from: f64,
    pub to: f64,
    /// The smallest distance between a chosen start and end.
    pub min_span: f64,
    /// The readings and time of a candidate.
    pub path: PathFn,
}

impl fmt::Debug for RampSearch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RampSearch")
            .field("variable", &self.variable)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("min_span", &self.min_span)
            .finish_non_exhaustive()
    }
}

/// The ramp chosen for a suggestion, and why: recorded in its explanation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RampChoice {
    /// Where the ramp starts and ends (the ramped variable's units, as the point's).
    pub from: f64,
    pub to: f64,
    /// `ln J − ln(hours)`: the log joint expected improvement of its readings per hour.
    pub score: f64,
    /// `ln J`, the log joint expected improvement of its readings.
    pub log_joint_ei: f64,
    /// Its readings and its lab time, s.
    pub readings: usize,
    pub seconds: f64,
    /// The same score for the declared (full) ramp, for comparison.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_score: Option<f64>,
}

/// `ln((1/n) Σ eˣ)`, stable; −∞ for no finite term.
fn log_mean_exp(xs: &[f64]) -> f64 {
    let top = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !top.is_finite() {
        return f64::NEG_INFINITY;
    }
    let sum: f64 = xs.iter().map(|x| (x - top).exp()).sum();
    top + (sum / xs.len().max(1) as f64).ln()
}

/// The best ramp at `point` (its ramped coordinate ignored): `log_improvements(x)` gives each
/// base sample's log improvement at model point `x` (see the module documentation).
pub(crate) fn choose(
    domain: &Domain,
    ramp: &RampSearch,
    point: &Point,
    log_improvements: impl Fn(&[f64]) -> Option<Vec<f64>>,
) -> Option<RampChoice> {
    let values = point.as_reals();
    let (lo, hi) = (ramp.from.min(ramp.to), ramp.from.max(ramp.to));
    let wide = hi > lo;
    if !wide || ramp.variable >= values.len() {
        return None;
    }
    // Each base sample's log improvement on the value grid.
    let grid_value = |k: usize| lo + (hi - lo) * k as f64 / (VALUE_GRID - 1) as f64;
    let mut table: Vec<Vec<f64>> = Vec::with_capacity(VALUE_GRID);
    for k in 0..VALUE_GRID {
        let mut p = point.clone();
        if let Some(v) = p.0.get_mut(ramp.variable) {
            *v = Value::Real(grid_value(k));
        }
        table.push(log_improvements(&domain.to_model(&p))?);
    }
    let samples = table.first().map_or(0, Vec::len);
    if samples == 0 {
        return None;
    }
    let at = |v: f64| -> usize {
        let k = ((v - lo) / (hi - lo) * (VALUE_GRID - 1) as f64).round();
        (k.max(0.0) as usize).min(VALUE_GRID - 1)
    };
    let score = |start: f64, end: f64| -> Option<(f64, f64, RampPath)> {
        let path = (ramp.path)(&values, start, end)?;
        if path.values.is_empty() || !(path.seconds.is_finite() && path.seconds > 0.0) {
            return None;
        }
        // The grid cells the readings fall in (a monotonic ramp maps to a stretch of them,
        // but the lookup does not rely on it).
        let mut cells: Vec<usize> = path.values.iter().map(|v| at(*v)).collect();
        cells.sort_unstable();
        cells.dedup();
        let best: Vec<f64> = (0..samples)
            .map(|s| {
                cells
                    .iter()
                    .filter_map(|c| table.get(*c).and_then(|row| row.get(s)))
                    .copied()
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .collect();
        let joint = log_mean_exp(&best);
        let score = joint - (path.seconds / 3600.0).ln();
        score.is_finite().then_some((score, joint, path))
    };
    let ends: Vec<f64> = (0..GRID)
        .map(|k| ramp.from + (ramp.to - ramp.from) * k as f64 / (GRID - 1) as f64)
        .collect();
    let mut chosen: Option<RampChoice> = None;
    for (i, start) in ends.iter().enumerate() {
        for end in ends.iter().skip(i + 1) {
            if (end - start).abs() < ramp.min_span * (1.0 - 1e-9) {
                continue;
            }
            let Some((s, joint, path)) = score(*start, *end) else {
                continue;
            };
            if chosen.as_ref().is_none_or(|c| s > c.score) {
                chosen = Some(RampChoice {
                    from: *start,
                    to: path.end,
                    score: s,
                    log_joint_ei: joint,
                    readings: path.values.len(),
                    seconds: path.seconds,
                    full_score: None,
                });
            }
        }
    }
    let full = score(ramp.from, ramp.to).map(|(s, _, _)| s);
    chosen.map(|c| RampChoice {
        full_score: full,
        ..c
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Variable;

    /// A ramp of `x` from 40 down to 5 at 1 unit per minute, read every 20 s; the experiment
    /// waits `wait` s before the ramp.
    fn search(wait: f64) -> RampSearch {
        RampSearch {
            variable: 0,
            from: 40.0,
            to: 5.0,
            min_span: 3.0,
            path: Arc::new(move |_, a: f64, b: f64| {
                let seconds = (a - b).abs() * 60.0;
                let n = (seconds / 20.0).floor() as usize + 1;
                Some(RampPath {
                    end: b,
                    values: (0..n)
                        .map(|k| a + (b - a) * k as f64 / (n - 1) as f64)
                        .collect(),
                    seconds: wait + seconds,
                })
            }),
        }
    }

    fn domain() -> Domain {
        Domain::new(vec![
            Variable::continuous("x", 5.0, 40.0),
            Variable::continuous("z", 0.0, 1.0),
        ])
        .unwrap()
    }

    /// Improvements from posterior samples `mean(x) + sd(x) · ε`, ε stratified, over best 0.
    fn surface(
        mean: impl Fn(f64) -> f64,
        sd: impl Fn(f64) -> f64,
    ) -> impl Fn(&[f64]) -> Option<Vec<f64>> {
        move |u: &[f64]| {
            let x = 5.0 + 35.0 * u[0];
            Some(
                (0..64)
                    .map(|s| {
                        let e = crate::composite::normal_quantile((s as f64 + 0.5) / 64.0);
                        let g = mean(x) + sd(x) * e;
                        // ln of a smoothed positive part.
                        1e-3f64.ln() + crate::composite::log_softplus(g / 1e-3).0
                    })
                    .collect(),
            )
        }
    }

    fn point() -> Point {
        Point(vec![Value::Real(20.0), Value::Real(0.5)])
    }

    #[test]
    fn a_peak_near_the_start_gets_a_short_ramp_over_it_not_the_full_sweep() {
        let d = domain();
        let peak = |x: f64| 1.0 - (x - 36.0).abs() / 3.0;
        let c =
            choose(&d, &search(200.0), &point(), surface(peak, |_| 0.2)).expect("a ramp is chosen");
        assert!(c.from <= 40.0 && c.to >= 5.0 && c.from > c.to, "{c:?}");
        assert!(
            c.from >= 36.0 - 1e-9 && c.to <= 36.0 + 1e-9,
            "covers the peak: {c:?}"
        );
        assert!(c.from - c.to < 10.0, "short: {c:?}");
        assert!(c.full_score.is_some_and(|f| f < c.score), "{c:?}");
    }

    #[test]
    fn a_second_chance_far_along_is_worth_a_long_ramp_only_when_time_is_cheap() {
        let d = domain();
        // Near 35 a likely, well-known improvement; near 8 a less likely but uncertain one:
        // the samples where the first disappoints are those where the second may pay, so a
        // ramp over both is worth more than either, and only the cost says whether it pays.
        let mean =
            |x: f64| -> f64 { (0.3 - (x - 35.0).abs() / 2.0).max(-0.5 - (x - 8.0).abs() / 2.0) };
        let sd = |x: f64| if x < 20.0 { 1.0 } else { 0.05 };
        // The ramp's own minutes dominate the cost: one peak, the likelier one.
        let cheap = choose(&d, &search(60.0), &point(), surface(mean, sd)).expect("chosen");
        assert!(cheap.to > 30.0, "{cheap:?}");
        // A long fixed wait makes the ramp's length cheap: over both.
        let long = choose(&d, &search(1e6), &point(), surface(mean, sd)).expect("chosen");
        assert!(long.from >= 35.0 && long.to <= 8.0 + 1e-9, "{long:?}");
        assert!(long.log_joint_ei > cheap.log_joint_ei, "{long:?} {cheap:?}");
    }

    #[test]
    fn a_path_that_cannot_run_is_never_chosen() {
        let d = domain();
        let mut s = search(200.0);
        s.path = Arc::new(|_, a: f64, b: f64| {
            // Only ramps that end at 5 can run.
            ((b - 5.0).abs() < 1e-9).then(|| RampPath {
                end: b,
                values: vec![a, b],
                seconds: 600.0,
            })
        });
        let c = choose(
            &d,
            &s,
            &point(),
            surface(|x| 1.0 - (x - 36.0).abs(), |_| 0.2),
        )
        .expect("one");
        assert!((c.to - 5.0).abs() < 1e-9, "{c:?}");
        s.path = Arc::new(|_, _, _| None);
        assert_eq!(choose(&d, &s, &point(), surface(|x| x, |_| 0.2)), None);
    }
}
