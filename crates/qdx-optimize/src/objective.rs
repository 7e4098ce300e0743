//! Objectives: goals per measured value, how several combine, and when a campaign may stop.
//!
//! Semantics (all "utilities" are higher-is-better):
//! - `Maximize`: utility `y`; `Minimize`: utility `-y`.
//! - `Target { value, tolerance }`: utility `-|y - value| / tolerance` (0 is a perfect hit, -1 the
//!   edge of the tolerance band); *satisfied* when `|y - value| ≤ tolerance`.
//! - `AtLeast(x)` / `AtMost(x)` (one-sided targets): utility `-max(0, x - y) / s` (resp.
//!   `-max(0, y - x) / s`), flat once satisfied; `s` is the objective's `scale` or `max(|x|, 1)`.
//! - Desirability of one objective, in `[0, 1]`: `Maximize`/`Minimize` ramp linearly over
//!   `range` (or, without one, over the observed range of the measured values); `Target` is the
//!   bell `exp(-½ (Δ/tolerance)²)`; one-sided goals are 1 when satisfied and a half bell of width
//!   `s` outside. Combined desirability is the weighted geometric mean (Derringer–Suich).
//! - `WeightedSum`: `Σ wᵢ uᵢ` of the utilities above (the user chooses weights that make the
//!   units comparable).
//! - `Pareto`: no single score; strategies scalarise with random augmented-Chebyshev weights
//!   (ParEGO) over utilities normalised to the observed range; [`Objectives::hypervolume`] measures
//!   the front against a reference point in utility space (default: the observed nadir minus 10 %
//!   of the observed range in each utility).
//!
//! Invariant: a failed experiment, a missing value or a non-finite value gives no utility
//! (`None`); it never becomes a made-up number.

use serde::{Deserialize, Serialize};

use crate::error::{OptimizeError, Result};
use crate::observation::{Observation, Outcome};
use crate::pareto;

/// The goal for one measured value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Goal {
    /// Larger is better.
    Maximize,
    /// Smaller is better.
    Minimize,
    /// Hit `value` within `tolerance` (> 0).
    Target {
        /// Target value.
        value: f64,
        /// Half-width of the acceptable band.
        tolerance: f64,
    },
    /// At least this value; anything above is equally good.
    AtLeast(f64),
    /// At most this value; anything below is equally good.
    AtMost(f64),
}

/// One objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Objective {
    /// Name of the measured value in [`Outcome::Measured`].
    pub name: String,
    /// Goal.
    pub goal: Goal,
    /// Weight in weighted sums and desirability (> 0).
    pub weight: f64,
    /// Range `(worst, best)`-agnostic `(lo, hi)` for desirability ramps; `None` = observed range.
    pub range: Option<(f64, f64)>,
    /// Softness of one-sided goals (> 0); `None` = `max(|threshold|, 1)`.
    pub scale: Option<f64>,
}

impl Objective {
    /// An objective with weight 1 and no explicit range.
    pub fn new(name: &str, goal: Goal) -> Self {
        Objective {
            name: name.to_string(),
            goal,
            weight: 1.0,
            range: None,
            scale: None,
        }
    }
    /// Same objective with another weight.
    pub fn weighted(mut self, weight: f64) -> Self {
        self.weight = weight;
        self
    }

    fn one_sided_scale(&self, x: f64) -> f64 {
        self.scale
            .filter(|s| *s > 0.0 && s.is_finite())
            .unwrap_or(x.abs().max(1.0))
    }

    /// Utility (higher is better) of a measured value; `None` if `y` is not finite.
    pub fn utility(&self, y: f64) -> Option<f64> {
        self.utility_slope(y).map(|(u, _)| u)
    }

    /// Utility and its derivative in `y` (one-sided at the kinks: a target's slope at the
    /// target is that of the band above it; a one-sided goal is flat once met).
    pub(crate) fn utility_slope(&self, y: f64) -> Option<(f64, f64)> {
        if !y.is_finite() {
            return None;
        }
        Some(match self.goal {
            Goal::Maximize => (y, 1.0),
            Goal::Minimize => (-y, -1.0),
            Goal::Target { value, tolerance } => (
                -(y - value).abs() / tolerance,
                if y >= value { -1.0 } else { 1.0 } / tolerance,
            ),
            Goal::AtLeast(x) => {
                let s = self.one_sided_scale(x);
                (-(x - y).max(0.0) / s, if y < x { 1.0 / s } else { 0.0 })
            }
            Goal::AtMost(x) => {
                let s = self.one_sided_scale(x);
                (-(y - x).max(0.0) / s, if y > x { -1.0 / s } else { 0.0 })
            }
        })
    }

    /// Whether the value meets the goal's threshold (always true for plain maximise/minimise).
    pub fn satisfied(&self, y: f64) -> bool {
        if !y.is_finite() {
            return false;
        }
        match self.goal {
            Goal::Maximize | Goal::Minimize => true,
            Goal::Target { value, tolerance } => (y - value).abs() <= tolerance,
            Goal::AtLeast(x) => y >= x,
            Goal::AtMost(x) => y <= x,
        }
    }

    /// Desirability in `[0, 1]`; `observed` is the `(min, max)` of measured values, used when no
    /// explicit range is set.
    pub fn desirability(&self, y: f64, observed: Option<(f64, f64)>) -> Option<f64> {
        self.desirability_slope(y, observed).map(|(d, _)| d)
    }

    /// Desirability and its derivative in `y` (zero where a ramp is clamped).
    pub(crate) fn desirability_slope(
        &self,
        y: f64,
        observed: Option<(f64, f64)>,
    ) -> Option<(f64, f64)> {
        if !y.is_finite() {
            return None;
        }
        let range = self.range.or(observed);
        let ramp = |t: f64| -> (f64, f64) {
            match range {
                Some((lo, hi)) if hi > lo => {
                    let r = (t - lo) / (hi - lo);
                    if r <= 0.0 {
                        (0.0, 0.0)
                    } else if r >= 1.0 {
                        (1.0, 0.0)
                    } else {
                        (r, 1.0 / (hi - lo))
                    }
                }
                _ => (1.0, 0.0), // a single distinct value: every observation is as good as the best
            }
        };
        // exp(-½ (delta / width)²) and its derivative in delta.
        let bell = |delta: f64, width: f64| {
            let b = (-0.5 * (delta / width).powi(2)).exp();
            (b, -b * delta / (width * width))
        };
        Some(match self.goal {
            Goal::Maximize => ramp(y),
            Goal::Minimize => match range {
                Some((lo, hi)) if hi > lo => {
                    let (r, dr) = ramp(y);
                    (1.0 - r, -dr)
                }
                _ => (1.0, 0.0),
            },
            Goal::Target { value, tolerance } => bell(y - value, tolerance),
            Goal::AtLeast(x) => {
                if y >= x {
                    (1.0, 0.0)
                } else {
                    let (b, db) = bell(x - y, self.one_sided_scale(x));
                    (b, -db)
                }
            }
            Goal::AtMost(x) => {
                if y <= x {
                    (1.0, 0.0)
                } else {
                    bell(y - x, self.one_sided_scale(x))
                }
            }
        })
    }
}

/// How several objectives combine into what strategies optimise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Combine {
    /// Exactly one objective.
    Single,
    /// `Σ wᵢ uᵢ`.
    WeightedSum,
    /// Weighted geometric mean of desirabilities.
    Desirability,
    /// Pareto front (ParEGO scalarisation inside strategies, hypervolume to report).
    Pareto,
}

/// A stop condition over the measured values of one experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Condition {
    /// `|value(name) - target| ≤ tolerance`.
    Within {
        /// Measured value name.
        name: String,
        /// Target.
        target: f64,
        /// Tolerance.
        tolerance: f64,
    },
    /// `value(name) ≥ value`.
    AtLeast {
        /// Measured value name.
        name: String,
        /// Threshold.
        value: f64,
    },
    /// `value(name) ≤ value`.
    AtMost {
        /// Measured value name.
        name: String,
        /// Threshold.
        value: f64,
    },
    /// Every objective's own threshold (targets, one-sided goals) is met.
    AllObjectivesSatisfied,
    /// Every sub-condition holds.
    All(Vec<Condition>),
    /// At least one sub-condition holds.
    Any(Vec<Condition>),
}

impl Condition {
    /// Whether one observation meets the condition (a failed experiment never does).
    pub fn holds(&self, outcome: &Outcome, objectives: &[Objective]) -> bool {
        let Outcome::Measured(values) = outcome else {
            return false;
        };
        let get = |n: &str| values.get(n).copied().filter(|v| v.is_finite());
        match self {
            Condition::Within {
                name,
                target,
                tolerance,
            } => get(name).is_some_and(|v| (v - target).abs() <= *tolerance),
            Condition::AtLeast { name, value } => get(name).is_some_and(|v| v >= *value),
            Condition::AtMost { name, value } => get(name).is_some_and(|v| v <= *value),
            Condition::AllObjectivesSatisfied => objectives
                .iter()
                .all(|o| get(&o.name).is_some_and(|v| o.satisfied(v))),
            Condition::All(cs) => cs.iter().all(|c| c.holds(outcome, objectives)),
            Condition::Any(cs) => cs.iter().any(|c| c.holds(outcome, objectives)),
        }
    }
}

/// The scores of one observation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Utility of each objective (`None`: failed or missing value).
    pub utilities: Vec<Option<f64>>,
    /// Desirability of each objective.
    pub desirabilities: Vec<Option<f64>>,
    /// The scalar being maximised (`None` for failures and for `Pareto`).
    pub combined: Option<f64>,
    /// Whether every objective's threshold is met.
    pub satisfied: bool,
    /// Whether the observation is on the Pareto front of all measured observations.
    pub on_front: bool,
}

/// The objectives of a campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Objectives {
    /// The objectives (at least one).
    pub objectives: Vec<Objective>,
    /// How they combine.
    pub combine: Combine,
    /// When to stop early.
    pub stop: Option<Condition>,
    /// Hypervolume reference point in utility space (one per objective), `None` = default.
    pub reference_point: Option<Vec<f64>>,
}

impl Objectives {
    /// Validated objectives.
    pub fn new(objectives: Vec<Objective>, combine: Combine) -> Result<Self> {
        let bad = |m: String| Err(OptimizeError::InvalidObjectives(m));
        if objectives.is_empty() {
            return bad("at least one objective is needed".into());
        }
        if combine == Combine::Single && objectives.len() != 1 {
            return bad(format!(
                "`single` needs exactly one objective, got {}",
                objectives.len()
            ));
        }
        for (k, o) in objectives.iter().enumerate() {
            if objectives[..k].iter().any(|p| p.name == o.name) {
                return bad(format!("objective `{}` appears twice", o.name));
            }
            if !(o.weight.is_finite() && o.weight > 0.0) {
                return bad(format!("objective `{}` needs a positive weight", o.name));
            }
            match o.goal {
                Goal::Target { value, tolerance }
                    if !(value.is_finite() && tolerance.is_finite() && tolerance > 0.0) =>
                {
                    return bad(format!(
                        "target of `{}` needs a finite value and a positive tolerance",
                        o.name
                    ));
                }
                Goal::AtLeast(x) | Goal::AtMost(x) if !x.is_finite() => {
                    return bad(format!("threshold of `{}` must be finite", o.name));
                }
                _ => {}
            }
            if let Some((lo, hi)) = o.range
                && !(lo.is_finite() && hi.is_finite() && hi > lo)
            {
                return bad(format!("range of `{}` must be finite with lo < hi", o.name));
            }
        }
        Ok(Objectives {
            objectives,
            combine,
            stop: None,
            reference_point: None,
        })
    }

    /// A single objective.
    pub fn single(objective: Objective) -> Self {
        Objectives {
            objectives: vec![objective],
            combine: Combine::Single,
            stop: None,
            reference_point: None,
        }
    }

    /// Same objectives with a stop condition.
    pub fn with_stop(mut self, stop: Condition) -> Self {
        self.stop = Some(stop);
        self
    }

    /// Number of objectives.
    pub fn len(&self) -> usize {
        self.objectives.len()
    }
    /// Never true for validated objectives.
    pub fn is_empty(&self) -> bool {
        self.objectives.is_empty()
    }

    fn raw_values(&self, o: &Observation) -> Option<Vec<f64>> {
        let Outcome::Measured(values) = &o.outcome else {
            return None;
        };
        self.objectives
            .iter()
            .map(|obj| values.get(&obj.name).copied().filter(|v| v.is_finite()))
            .collect()
    }

    /// Per-objective utility vectors (`None` for failures), aligned with `observations`.
    pub fn utility_vectors(&self, observations: &[Observation]) -> Vec<Option<Vec<f64>>> {
        observations
            .iter()
            .map(|o| {
                self.raw_values(o).and_then(|ys| {
                    self.objectives
                        .iter()
                        .zip(&ys)
                        .map(|(obj, &y)| obj.utility(y))
                        .collect()
                })
            })
            .collect()
    }

    /// The `(min, max)` of each objective's measured values over `observations`: what a
    /// desirability ramp without an explicit range spans. The one place that range is decided,
    /// for scoring and for models that push predictions through the score.
    pub(crate) fn observed_ranges(&self, observations: &[Observation]) -> Vec<Option<(f64, f64)>> {
        let mut ranges: Vec<Option<(f64, f64)>> = vec![None; self.objectives.len()];
        for ys in observations.iter().filter_map(|o| self.raw_values(o)) {
            for (r, y) in ranges.iter_mut().zip(ys) {
                *r = Some(match *r {
                    None => (y, y),
                    Some((lo, hi)) => (lo.min(y), hi.max(y)),
                });
            }
        }
        ranges
    }

    /// Scores every observation (what the runtime writes to `observations.csv`). Desirability
    /// ramps without an explicit range use the range observed over `observations`.
    pub fn score(&self, observations: &[Observation]) -> Vec<Score> {
        let ranges = self.observed_ranges(observations);
        let utilities = self.utility_vectors(observations);
        let front: Vec<usize> = pareto::front_indices(&utilities);
        observations
            .iter()
            .zip(&utilities)
            .enumerate()
            .map(|(i, (o, u))| {
                let raw = self.raw_values(o);
                let utilities: Vec<Option<f64>> = match u {
                    Some(u) => u.iter().copied().map(Some).collect(),
                    None => vec![None; self.objectives.len()],
                };
                let desirabilities: Vec<Option<f64>> = match &raw {
                    Some(ys) => self
                        .objectives
                        .iter()
                        .zip(ys)
                        .zip(&ranges)
                        .map(|((obj, &y), r)| obj.desirability(y, *r))
                        .collect(),
                    None => vec![None; self.objectives.len()],
                };
                let combined = match (self.combine, &raw, u) {
                    (_, _, None) | (Combine::Pareto, _, _) | (_, None, _) => None,
                    (_, Some(ys), Some(_)) => self.combined_of(ys, &ranges, false).map(|(v, _)| v),
                };
                let satisfied = raw.as_ref().is_some_and(|ys| {
                    self.objectives
                        .iter()
                        .zip(ys)
                        .all(|(obj, &y)| obj.satisfied(y))
                });
                Score {
                    utilities,
                    desirabilities,
                    combined,
                    satisfied,
                    on_front: front.contains(&i),
                }
            })
            .collect()
    }

    /// Whether the score is a known function of the measured values that a model of each
    /// value can be pushed through with something to gain: several objectives combined by
    /// weighted sum or desirability, or one objective whose utility is not the value itself (a
    /// target, a one-sided goal). `Pareto` has no single score (strategies scalarise it).
    pub fn is_composite(&self) -> bool {
        match self.combine {
            Combine::WeightedSum | Combine::Desirability => true,
            Combine::Single => self
                .objectives
                .iter()
                .any(|o| !matches!(o.goal, Goal::Maximize | Goal::Minimize)),
            Combine::Pareto => false,
        }
    }

    /// The combined score of one experiment's measured values `ys` (one per objective, in
    /// order), desirability ramps spanning `ranges` where an objective gives none (see
    /// [`Objectives::observed_ranges`]), and, with `grad`, its derivative in each value. What
    /// [`Objectives::score`] reports as `combined`; `None` for `Pareto` and non-finite values.
    pub(crate) fn combined_of(
        &self,
        ys: &[f64],
        ranges: &[Option<(f64, f64)>],
        grad: bool,
    ) -> Option<(f64, Vec<f64>)> {
        let m = self.objectives.len();
        if ys.len() != m {
            return None;
        }
        let mut slopes = if grad { vec![0.0; m] } else { Vec::new() };
        match self.combine {
            Combine::Pareto => None,
            Combine::Single => {
                let (u, du) = self.objectives.first()?.utility_slope(*ys.first()?)?;
                if grad {
                    slopes[0] = du;
                }
                Some((u, slopes))
            }
            Combine::WeightedSum => {
                let mut total = 0.0;
                for (k, (o, &y)) in self.objectives.iter().zip(ys).enumerate() {
                    let (u, du) = o.utility_slope(y)?;
                    total += o.weight * u;
                    if grad {
                        slopes[k] = o.weight * du;
                    }
                }
                Some((total, slopes))
            }
            Combine::Desirability => {
                let wsum: f64 = self.objectives.iter().map(|o| o.weight).sum();
                let mut ds = Vec::with_capacity(m);
                for (k, (o, &y)) in self.objectives.iter().zip(ys).enumerate() {
                    ds.push(o.desirability_slope(y, ranges.get(k).copied().flatten())?);
                }
                let mut log = 0.0;
                for (o, (d, _)) in self.objectives.iter().zip(&ds) {
                    if *d <= 0.0 {
                        return Some((0.0, slopes));
                    }
                    log += o.weight / wsum * d.ln();
                }
                let g = log.exp();
                if grad {
                    for (k, (o, (d, dd))) in self.objectives.iter().zip(&ds).enumerate() {
                        slopes[k] = g * o.weight / wsum * dd / d;
                    }
                }
                Some((g, slopes))
            }
        }
    }

    /// The scalar each observation contributes to a single-objective strategy (higher is
    /// better). For `Pareto`, `weights` (one per objective, summing to 1) select the ParEGO
    /// augmented-Chebyshev scalarisation; without weights equal weights are used.
    pub fn scalarize(
        &self,
        observations: &[Observation],
        weights: Option<&[f64]>,
    ) -> Vec<Option<f64>> {
        if self.combine != Combine::Pareto {
            return self
                .score(observations)
                .into_iter()
                .map(|s| s.combined)
                .collect();
        }
        let utilities = self.utility_vectors(observations);
        let m = self.objectives.len();
        let mut lo = vec![f64::INFINITY; m];
        let mut hi = vec![f64::NEG_INFINITY; m];
        for u in utilities.iter().flatten() {
            for k in 0..m {
                if let Some(&v) = u.get(k) {
                    lo[k] = lo[k].min(v);
                    hi[k] = hi[k].max(v);
                }
            }
        }
        let equal = vec![1.0 / m as f64; m];
        let w = weights.filter(|w| w.len() == m).unwrap_or(&equal);
        utilities
            .iter()
            .map(|u| {
                u.as_ref().map(|u| {
                    let mut worst = f64::NEG_INFINITY;
                    let mut sum = 0.0;
                    for k in 0..m {
                        let span = hi[k] - lo[k];
                        let loss = if span > 0.0 {
                            (hi[k] - u[k]) / span
                        } else {
                            0.0
                        };
                        worst = worst.max(w[k] * loss);
                        sum += w[k] * loss;
                    }
                    -(worst + 0.05 * sum)
                })
            })
            .collect()
    }

    /// Indices of the observations on the Pareto front (in utility space), ascending.
    pub fn pareto_front(&self, observations: &[Observation]) -> Vec<usize> {
        pareto::front_indices(&self.utility_vectors(observations))
    }

    /// The reference point used for the hypervolume: the explicit one, or the observed nadir of
    /// the utilities minus 10 % of their observed range (at least 1e-9 below it).
    pub fn reference_point_for(&self, observations: &[Observation]) -> Option<Vec<f64>> {
        if let Some(r) = &self.reference_point {
            return Some(r.clone());
        }
        let utilities = self.utility_vectors(observations);
        let m = self.objectives.len();
        let mut lo = vec![f64::INFINITY; m];
        let mut hi = vec![f64::NEG_INFINITY; m];
        let mut any = false;
        for u in utilities.iter().flatten() {
            any = true;
            for k in 0..m {
                lo[k] = lo[k].min(u[k]);
                hi[k] = hi[k].max(u[k]);
            }
        }
        any.then(|| {
            lo.iter()
                .zip(&hi)
                .map(|(l, h)| l - (0.1 * (h - l)).max(1e-9 * l.abs().max(1.0)))
                .collect()
        })
    }

    /// Hypervolume of the observed front in utility space (0 with no measured observation).
    pub fn hypervolume(&self, observations: &[Observation]) -> f64 {
        let Some(r) = self.reference_point_for(observations) else {
            return 0.0;
        };
        let pts: Vec<Vec<f64>> = self
            .utility_vectors(observations)
            .into_iter()
            .flatten()
            .collect();
        pareto::hypervolume(&pts, &r)
    }

    /// Index of the first observation that meets the stop condition, if any.
    pub fn stop_reached(&self, observations: &[Observation]) -> Option<usize> {
        let stop = self.stop.as_ref()?;
        observations
            .iter()
            .position(|o| stop.holds(&o.outcome, &self.objectives))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Point, Value};
    use std::collections::BTreeMap;

    fn obs(values: &[(&str, f64)]) -> Observation {
        Observation {
            point: Point(vec![Value::Real(0.0)]),
            outcome: Outcome::Measured(
                values
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), *v))
                    .collect::<BTreeMap<_, _>>(),
            ),
        }
    }
    fn failed() -> Observation {
        Observation {
            point: Point(vec![Value::Real(0.0)]),
            outcome: Outcome::Failed {
                reason: "no product".into(),
            },
        }
    }

    #[test]
    fn target_semantics() {
        let o = Objective::new(
            "peak",
            Goal::Target {
                value: 600.0,
                tolerance: 5.0,
            },
        );
        assert_eq!(o.utility(600.0), Some(0.0));
        assert_eq!(o.utility(610.0), Some(-2.0));
        assert_eq!(o.utility(595.0), Some(-1.0));
        assert!(o.satisfied(604.9));
        assert!(!o.satisfied(605.1));
        assert!((o.desirability(605.0, None).unwrap() - (-0.5f64).exp()).abs() < 1e-12);
        assert_eq!(o.utility(f64::NAN), None);
    }

    #[test]
    fn one_sided_semantics() {
        let o = Objective::new("plqy", Goal::AtLeast(0.6));
        assert_eq!(o.utility(0.9), Some(0.0));
        assert_eq!(o.utility(0.6), Some(0.0));
        assert!((o.utility(0.4).unwrap() + 0.2).abs() < 1e-12); // scale max(|0.6|, 1) = 1
        assert!(o.satisfied(0.6) && !o.satisfied(0.59));
        assert_eq!(o.desirability(0.7, None), Some(1.0));
        let m = Objective {
            scale: Some(2.0),
            ..Objective::new("fwhm", Goal::AtMost(30.0))
        };
        assert_eq!(m.utility(34.0), Some(-2.0));
        assert!(m.satisfied(30.0) && !m.satisfied(30.5));
    }

    #[test]
    fn desirability_ramps_and_geometric_mean() {
        let objs = Objectives::new(
            vec![
                Objective {
                    range: Some((0.0, 1.0)),
                    ..Objective::new("plqy", Goal::Maximize)
                }
                .weighted(1.0),
                Objective {
                    range: Some((20.0, 40.0)),
                    ..Objective::new("fwhm", Goal::Minimize)
                }
                .weighted(3.0),
            ],
            Combine::Desirability,
        )
        .unwrap();
        let s = objs.score(&[obs(&[("plqy", 0.5), ("fwhm", 25.0)]), failed()]);
        let d0 = s[0].desirabilities[0].unwrap();
        let d1 = s[0].desirabilities[1].unwrap();
        assert!((d0 - 0.5).abs() < 1e-12);
        assert!((d1 - 0.75).abs() < 1e-12);
        let expect = (0.25 * 0.5f64.ln() + 0.75 * 0.75f64.ln()).exp();
        assert!((s[0].combined.unwrap() - expect).abs() < 1e-12);
        assert_eq!(s[1].combined, None);
        assert!(!s[1].satisfied);
    }

    #[test]
    fn observed_range_is_used_without_explicit_range() {
        let objs = Objectives::new(
            vec![Objective::new("y", Goal::Minimize)],
            Combine::Desirability,
        )
        .unwrap();
        let s = objs.score(&[obs(&[("y", 1.0)]), obs(&[("y", 3.0)]), obs(&[("y", 2.0)])]);
        let d: Vec<f64> = s.iter().map(|s| s.combined.unwrap()).collect();
        assert_eq!(d, vec![1.0, 0.0, 0.5]);
    }

    #[test]
    fn weighted_sum_and_missing_values() {
        let objs = Objectives::new(
            vec![
                Objective::new("a", Goal::Maximize).weighted(2.0),
                Objective::new("b", Goal::Minimize),
            ],
            Combine::WeightedSum,
        )
        .unwrap();
        let s = objs.score(&[
            obs(&[("a", 1.0), ("b", 3.0)]),
            obs(&[("a", 1.0)]),
            obs(&[("a", f64::NAN), ("b", 1.0)]),
        ]);
        assert_eq!(s[0].combined, Some(-1.0));
        assert_eq!(s[1].combined, None);
        assert_eq!(s[2].combined, None);
    }

    #[test]
    fn validation_catches_mistakes() {
        assert!(Objectives::new(vec![], Combine::Single).is_err());
        assert!(
            Objectives::new(
                vec![
                    Objective::new("a", Goal::Maximize),
                    Objective::new("b", Goal::Maximize)
                ],
                Combine::Single
            )
            .is_err()
        );
        assert!(
            Objectives::new(
                vec![Objective::new(
                    "a",
                    Goal::Target {
                        value: 1.0,
                        tolerance: 0.0
                    }
                )],
                Combine::Single
            )
            .is_err()
        );
        assert!(
            Objectives::new(
                vec![Objective::new("a", Goal::Maximize).weighted(-1.0)],
                Combine::Single
            )
            .is_err()
        );
        assert!(
            Objectives::new(
                vec![
                    Objective::new("a", Goal::Maximize),
                    Objective::new("a", Goal::Minimize)
                ],
                Combine::Pareto
            )
            .is_err()
        );
    }

    #[test]
    fn stop_condition_peak_within_and_plqy() {
        let objs = Objectives::new(
            vec![
                Objective::new(
                    "peak",
                    Goal::Target {
                        value: 600.0,
                        tolerance: 5.0,
                    },
                ),
                Objective::new("plqy", Goal::Maximize),
            ],
            Combine::Desirability,
        )
        .unwrap()
        .with_stop(Condition::All(vec![
            Condition::Within {
                name: "peak".into(),
                target: 600.0,
                tolerance: 2.0,
            },
            Condition::AtLeast {
                name: "plqy".into(),
                value: 0.6,
            },
        ]));
        let history = vec![
            obs(&[("peak", 603.0), ("plqy", 0.9)]),
            failed(),
            obs(&[("peak", 601.0), ("plqy", 0.5)]),
            obs(&[("peak", 599.0), ("plqy", 0.61)]),
        ];
        assert_eq!(objs.stop_reached(&history), Some(3));
        assert_eq!(objs.stop_reached(&history[..3]), None);
    }

    #[test]
    fn pareto_scores_and_hypervolume() {
        let objs = Objectives::new(
            vec![
                Objective::new("a", Goal::Maximize),
                Objective::new("b", Goal::Minimize),
            ],
            Combine::Pareto,
        )
        .unwrap();
        let objs = Objectives {
            reference_point: Some(vec![0.0, -4.0]),
            ..objs
        };
        let history = vec![
            obs(&[("a", 1.0), ("b", 1.0)]),
            obs(&[("a", 2.0), ("b", 2.0)]),
            obs(&[("a", 1.0), ("b", 3.0)]), // dominated by the first
            failed(),
        ];
        assert_eq!(objs.pareto_front(&history), vec![0, 1]);
        // Boxes in utility space (a, -b) vs ref (0, -4): (1, -1) → 1×3, (2, -2) → 2×2, union = 3 + 4 - 1×2 = 5.
        assert!((objs.hypervolume(&history) - 5.0).abs() < 1e-12);
        let s = objs.score(&history);
        assert!(s[0].on_front && s[1].on_front && !s[2].on_front && !s[3].on_front);
        // ParEGO scalars: the dominated point scores strictly below the one dominating it.
        let sc = objs.scalarize(&history, Some(&[0.5, 0.5]));
        assert!(sc[2].unwrap() < sc[0].unwrap());
        assert_eq!(sc[3], None);
    }

    /// The score a composite model pushes its predictions through is the score
    /// `observations.csv` reports, with the same observed ranges; its slopes are the score's.
    #[test]
    fn combined_of_is_the_reported_score_and_its_slopes_are_its_derivatives() {
        let target = Objective::new(
            "peak",
            Goal::Target {
                value: 600.0,
                tolerance: 5.0,
            },
        );
        let history = vec![
            obs(&[("peak", 603.0), ("plqy", 0.5), ("fwhm", 30.0)]),
            obs(&[("peak", 590.0), ("plqy", 0.8), ("fwhm", 22.0)]),
            obs(&[("peak", 611.0), ("plqy", 0.3), ("fwhm", 41.0)]),
            failed(),
        ];
        for combine in [Combine::Desirability, Combine::WeightedSum] {
            let objs = Objectives::new(
                vec![
                    target.clone().weighted(2.0),
                    Objective::new("plqy", Goal::Maximize),
                    Objective::new("fwhm", Goal::Minimize),
                ],
                combine,
            )
            .unwrap();
            assert!(objs.is_composite());
            let ranges = objs.observed_ranges(&history);
            let scores = objs.score(&history);
            for (o, s) in history.iter().zip(&scores).take(3) {
                let Outcome::Measured(v) = &o.outcome else {
                    unreachable!()
                };
                let ys = [v["peak"], v["plqy"], v["fwhm"]];
                let (g, _) = objs.combined_of(&ys, &ranges, true).unwrap();
                assert_eq!(Some(g), s.combined);
                // Slopes inside the ramps (observed values sit on their ends, at the kinks).
                let ys = [ys[0] + 1.0, 0.5 * (ys[1] + 0.5), 0.5 * (ys[2] + 30.0)];
                let (_, dg) = objs.combined_of(&ys, &ranges, true).unwrap();
                for k in 0..3 {
                    let h = 1e-6 * ys[k].abs().max(1.0);
                    let (mut up, mut down) = (ys, ys);
                    up[k] += h;
                    down[k] -= h;
                    let fd = (objs.combined_of(&up, &ranges, false).unwrap().0
                        - objs.combined_of(&down, &ranges, false).unwrap().0)
                        / (2.0 * h);
                    assert!(
                        (dg[k] - fd).abs() < 1e-5 * fd.abs().max(1e-3),
                        "{combine:?} value {k}: {} vs {fd}",
                        dg[k]
                    );
                }
            }
        }
        // One maximised value is its own score: nothing to gain from a composite model.
        assert!(!Objectives::single(Objective::new("y", Goal::Maximize)).is_composite());
        assert!(Objectives::single(target).is_composite());
    }
}
