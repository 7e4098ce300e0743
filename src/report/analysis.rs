//! What the report works out from a bundle's experiments, for the page and the JSON alike: the
//! quantities the campaign optimises and a model of each, the best so far, the marks a plot of
//! a proxy carries (targets, thresholds, stop conditions) and the hypervolume's reference point
//! in words.
//!
//! Invariant: nothing here reads anything but the campaign, the experiments and their scores
//! ([`crate::record`]); the model is fitted with a seed derived from the campaign's, so a
//! bundle gives the same report every time.

use std::collections::BTreeMap;

use qdx_optimize::{Prediction, Score, Surrogate};

use crate::record::{Experiment, Hypervolume};
use crate::validate::campaign::{
    Campaign, Combine, Comparison, Condition, DisplayUnit, Domain, Goal, ProxyId, Variable,
};

/// Fewest successful experiments a model is fitted to.
pub const MIN_FIT: usize = 3;

/// A number to four significant digits, without trailing zeros: `559.1`, `0.0004168`;
/// beyond that, in scientific notation (`4.168e-10`, `1.235e7`).
pub fn sig4(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return if x.is_finite() {
            "0".into()
        } else {
            x.to_string()
        };
    }
    let exponent = x.abs().log10().floor() as i32;
    let trim = |t: String| -> String {
        if t.contains('.') {
            t.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            t
        }
    };
    if !(-4..7).contains(&exponent) {
        let text = format!("{x:.3e}");
        return match text.split_once('e') {
            Some((mantissa, e)) => format!("{}e{e}", trim(mantissa.to_owned())),
            None => text,
        };
    }
    if exponent >= 3 {
        // Whole numbers: round to four significant digits (1234567 → 1235000).
        let scale = 10_f64.powi(exponent - 3);
        return format!("{:.0}", (x / scale).round() * scale);
    }
    let decimals = usize::try_from(3 - exponent).unwrap_or(0);
    let text = trim(format!("{x:.decimals$}"));
    // Rounding up can carry into a new digit (9.9996 → 10.000 → 10): fine, still 4 digits.
    if text == "-0" { "0".into() } else { text }
}

/// A value (SI) in `unit`, to four significant digits: `600.1 nm`.
pub fn quantity(unit: &DisplayUnit, si: f64) -> String {
    approx(unit.from_si(si), unit.symbol())
}

/// A number to four significant digits ([`sig4`]), in `unit` (a value already in that unit).
pub fn approx(x: f64, unit: &str) -> String {
    let text = sig4(x);
    if unit.is_empty() {
        text
    } else {
        format!("{text} {unit}")
    }
}

/// A quantity the campaign optimises: the objective's proxy (one objective), the combined
/// score (desirability, weighted sum), or each objective's proxy (Pareto).
#[derive(Debug)]
pub struct Quantity {
    /// The proxy's name, or `objective`.
    pub name: String,
    /// On an axis: `peak [nm]`, `objective (desirability, 0 to 1)`.
    pub label: String,
    /// The unit's symbol (`""` for none).
    pub unit: String,
    /// The proxy it is, if it is one.
    pub proxy: Option<ProxyId>,
    /// Finished experiments with a value, by id, in `unit`.
    pub values: BTreeMap<u64, f64>,
    /// The experiments' utilities (higher is better), by id: which of two is the better.
    pub utility: BTreeMap<u64, f64>,
    pub model: Option<Model>,
}

/// A Gaussian process of a quantity over the variables ([`qdx_optimize::Surrogate`]).
#[derive(Debug)]
pub struct Model {
    pub surrogate: Surrogate,
    /// The experiments it was fitted to, in order.
    pub ids: Vec<u64>,
    /// Each one predicted by the model of the others, in the order of `ids`.
    pub loo: Vec<Prediction>,
}

impl Model {
    /// Relative importance of each variable, `1/ℓ` over the largest `1/ℓ` (1 for the most
    /// important).
    pub fn importance(&self) -> Vec<f64> {
        let inv: Vec<f64> = self
            .surrogate
            .lengthscales()
            .iter()
            .map(|l| if *l > 0.0 { 1.0 / l } else { 0.0 })
            .collect();
        let top = inv.iter().copied().fold(0.0, f64::max);
        inv.iter()
            .map(|v| if top > 0.0 { v / top } else { 0.0 })
            .collect()
    }

    /// Root-mean-square error of the leave-one-out predictions.
    pub fn loo_rmse(&self, values: &BTreeMap<u64, f64>) -> f64 {
        let errors: Vec<f64> = self
            .ids
            .iter()
            .zip(&self.loo)
            .filter_map(|(id, p)| Some(values.get(id)? - p.mean))
            .collect();
        (errors.iter().map(|e| e * e).sum::<f64>() / errors.len().max(1) as f64).sqrt()
    }
}

/// The optimizer's point of an experiment.
pub fn point(c: &Campaign, e: &Experiment) -> qdx_optimize::Point {
    crate::validate::strategy::point(&c.variables, &e.measured_point(c))
}

/// The quantities the campaign optimises, each with its model (when enough experiments
/// succeeded); none for a campaign without objectives.
pub fn quantities(
    c: &Campaign,
    experiments: &[Experiment],
    scores: &BTreeMap<u64, Score>,
) -> Vec<Quantity> {
    let finished = || experiments.iter().filter(|e| e.outcome.is_some());
    let proxy_quantity = |k: usize, objective: usize| -> Option<Quantity> {
        let p = c.proxies.get(k)?;
        let mut values = BTreeMap::new();
        let mut utility = BTreeMap::new();
        for e in finished() {
            let Some(o) = &e.outcome else { continue };
            if !o.status.is_ok() {
                continue;
            }
            let Some(si) = o.proxies.get(k).copied().flatten() else {
                continue;
            };
            values.insert(e.id, p.unit.from_si(si));
            if let Some(u) = scores
                .get(&e.id)
                .and_then(|s| s.utilities.get(objective).copied().flatten())
            {
                utility.insert(e.id, u);
            }
        }
        Some(Quantity {
            name: p.name.clone(),
            label: crate::files::column(&p.name, &p.unit),
            unit: p.unit.symbol().to_owned(),
            proxy: Some(k),
            values,
            utility,
            model: None,
        })
    };
    let mut out: Vec<Quantity> = match c.objectives.combine {
        _ if c.objectives.list.is_empty() => Vec::new(),
        Combine::Pareto => c
            .objectives
            .list
            .iter()
            .enumerate()
            .filter_map(|(k, o)| proxy_quantity(o.proxy, k))
            .collect(),
        Combine::Single => c
            .objectives
            .list
            .first()
            .and_then(|o| proxy_quantity(o.proxy, 0))
            .into_iter()
            .collect(),
        Combine::Desirability | Combine::WeightedSum => {
            let values: BTreeMap<u64, f64> = scores
                .iter()
                .filter_map(|(id, s)| Some((*id, s.combined?)))
                .collect();
            vec![Quantity {
                name: "objective".into(),
                label: if c.objectives.combine == Combine::Desirability {
                    "objective (desirability, 0 to 1)".into()
                } else {
                    "objective (weighted sum)".into()
                },
                unit: String::new(),
                proxy: None,
                utility: values.clone(),
                values,
                model: None,
            }]
        }
    };
    let seed = crate::validate::strategy::optimizer_seed(c.seed);
    for q in &mut out {
        q.model = fit(c, experiments, &q.values, seed);
    }
    out
}

/// The model of `values` (by experiment id), when there are enough of them.
fn fit(
    c: &Campaign,
    experiments: &[Experiment],
    values: &BTreeMap<u64, f64>,
    seed: u64,
) -> Option<Model> {
    if values.len() < MIN_FIT {
        return None;
    }
    let mut ids = Vec::new();
    let mut points = Vec::new();
    let mut ys = Vec::new();
    for e in experiments {
        if let Some(v) = values.get(&e.id) {
            ids.push(e.id);
            points.push(point(c, e));
            ys.push(*v);
        }
    }
    let surrogate = Surrogate::fit(&c.search.domain, &points, &ys, seed).ok()?;
    let loo = surrogate.leave_one_out();
    Some(Model {
        surrogate,
        ids,
        loo,
    })
}

/// The best experiment so far after each finished experiment (by utility; ties to the
/// earlier one): `(experiment, best experiment)`, from the first with a value.
pub fn best_so_far(experiments: &[Experiment], q: &Quantity) -> Vec<(u64, u64)> {
    let mut best: Option<(u64, f64)> = None;
    let mut out = Vec::new();
    for e in experiments.iter().filter(|e| e.outcome.is_some()) {
        if let Some(u) = q.utility.get(&e.id)
            && best.is_none_or(|(_, b)| *u > b)
        {
            best = Some((e.id, *u));
        }
        if let Some((b, _)) = best {
            out.push((e.id, b));
        }
    }
    out
}

/// The experiments by utility, best first (ties by id).
pub fn ranked(q: &Quantity) -> Vec<u64> {
    let mut ids: Vec<(u64, f64)> = q.utility.iter().map(|(k, v)| (*k, *v)).collect();
    ids.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ids.into_iter().map(|(k, _)| k).collect()
}

/// A mark on a plot of a proxy, in the proxy's unit.
#[derive(Debug, Clone, PartialEq)]
pub enum Mark {
    /// A band: a target and its tolerance, a stop condition's `within`.
    Band { lo: f64, hi: f64, label: String },
    /// A threshold.
    Line { y: f64, label: String },
}

/// The marks a plot of proxy `k` carries: the objective's target or threshold, the
/// requirements and the stop conditions on it (a condition under `not` marks nothing).
pub fn marks(c: &Campaign, k: ProxyId) -> Vec<Mark> {
    let Some(p) = c.proxies.get(k) else {
        return Vec::new();
    };
    let u = &p.unit;
    let mut out = Vec::new();
    for o in c.objectives.list.iter().filter(|o| o.proxy == k) {
        match o.goal {
            Goal::Target { value, tolerance } if tolerance > 0.0 => {
                let (a, b) = (u.from_si(value - tolerance), u.from_si(value + tolerance));
                out.push(Mark::Band {
                    lo: a.min(b),
                    hi: a.max(b),
                    label: format!(
                        "target {} ± {}",
                        quantity(u, value),
                        approx(
                            (u.from_si(value + tolerance) - u.from_si(value)).abs(),
                            u.symbol()
                        )
                    ),
                });
            }
            Goal::Target { value, .. } => out.push(Mark::Line {
                y: u.from_si(value),
                label: format!("target {}", quantity(u, value)),
            }),
            Goal::AtLeast { value } => out.push(Mark::Line {
                y: u.from_si(value),
                label: format!("goal: at least {}", quantity(u, value)),
            }),
            Goal::AtMost { value } => out.push(Mark::Line {
                y: u.from_si(value),
                label: format!("goal: at most {}", quantity(u, value)),
            }),
            Goal::Maximize | Goal::Minimize => {}
        }
    }
    for r in &c.objectives.requirements {
        leaves(r, k, u, "required", &mut out);
    }
    if let Some(stop) = &c.objectives.stop {
        leaves(stop, k, u, "stop when", &mut out);
    }
    out
}

fn leaves(cond: &Condition, k: ProxyId, u: &DisplayUnit, what: &str, out: &mut Vec<Mark>) {
    match cond {
        Condition::Compare { proxy, op, value } if *proxy == k => {
            let op = match op {
                Comparison::Le => "≤",
                Comparison::Lt => "<",
                Comparison::Ge => "≥",
                Comparison::Gt => ">",
                Comparison::Eq => "=",
            };
            out.push(Mark::Line {
                y: u.from_si(*value),
                label: format!("{what} {op} {}", quantity(u, *value)),
            });
        }
        Condition::Within {
            proxy,
            target,
            tolerance,
        } if *proxy == k => {
            let (a, b) = (u.from_si(target - tolerance), u.from_si(target + tolerance));
            out.push(Mark::Band {
                lo: a.min(b),
                hi: a.max(b),
                label: format!(
                    "{what} within {} of {}",
                    approx(
                        (u.from_si(target + tolerance) - u.from_si(*target)).abs(),
                        u.symbol()
                    ),
                    quantity(u, *target)
                ),
            });
        }
        Condition::And(a, b) | Condition::Or(a, b) => {
            leaves(a, k, u, what, out);
            leaves(b, k, u, what, out);
        }
        Condition::Compare { .. } | Condition::Within { .. } | Condition::Not(_) => {}
    }
}

/// The hypervolume's reference point in words, one `(objective, value)` per objective: the
/// proxy value it stands for (`620 nm`), or for a target the distance from it
/// (`12 nm from 600 nm`).
pub fn reference_text(c: &Campaign, h: &Hypervolume) -> Vec<(String, String)> {
    c.objectives
        .list
        .iter()
        .zip(&h.reference)
        .zip(&c.search.objectives.objectives)
        .map(|((o, r), scored)| {
            let u = &o.unit;
            let text = match o.goal {
                Goal::Maximize => quantity(u, *r),
                Goal::Minimize => quantity(u, -r),
                Goal::Target { value, .. } => {
                    let tolerance = match scored.goal {
                        qdx_optimize::Goal::Target { tolerance, .. } => tolerance,
                        _ => 1.0,
                    };
                    let distance = -r * tolerance;
                    format!(
                        "{} from {}",
                        approx(
                            (u.from_si(value + distance) - u.from_si(value)).abs(),
                            u.symbol()
                        ),
                        quantity(u, value)
                    )
                }
                // `qdx-optimize`'s one-sided utility: −max(0, x − y)/s below `at least x`,
                // s the objective's scale or max(|x|, 1).
                Goal::AtLeast { value } => {
                    let s = scored.scale.unwrap_or(value.abs().max(1.0));
                    quantity(u, value + r * s)
                }
                Goal::AtMost { value } => {
                    let s = scored.scale.unwrap_or(value.abs().max(1.0));
                    quantity(u, value - r * s)
                }
            };
            (o.name.clone(), text)
        })
        .collect()
}

/// The reference point as a proxy value (SI) of objective `k`, where it is one (not for a
/// target, whose reference is a distance).
pub fn reference_value(c: &Campaign, h: &Hypervolume, k: usize) -> Option<f64> {
    let o = c.objectives.list.get(k)?;
    let r = *h.reference.get(k)?;
    let scored = c.search.objectives.objectives.get(k)?;
    match o.goal {
        Goal::Maximize => Some(r),
        Goal::Minimize => Some(-r),
        Goal::Target { .. } => None,
        Goal::AtLeast { value } => Some(value + r * scored.scale.unwrap_or(value.abs().max(1.0))),
        Goal::AtMost { value } => Some(value - r * scored.scale.unwrap_or(value.abs().max(1.0))),
    }
}

/// Values along one variable for a slice of the model, SI: the range in 60 steps (in log
/// space for a log variable), every integer of a short integer range, every level of a choice.
pub fn slice_values(v: &Variable) -> Vec<f64> {
    const STEPS: usize = 60;
    match &v.domain {
        Domain::Continuous { lo, hi, log } => {
            let (lo, hi) = (*lo, *hi);
            (0..=STEPS)
                .map(|i| {
                    let t = i as f64 / STEPS as f64;
                    if *log && lo > 0.0 {
                        (lo.ln() + t * (hi.ln() - lo.ln())).exp()
                    } else {
                        lo + t * (hi - lo)
                    }
                })
                .collect()
        }
        Domain::Component { lo, hi, .. } => (0..=STEPS)
            .map(|i| lo + (hi - lo) * i as f64 / STEPS as f64)
            .collect(),
        Domain::Integer { lo, hi } => {
            if hi - lo <= STEPS as i64 {
                (*lo..=*hi).map(|i| i as f64).collect()
            } else {
                (0..=STEPS)
                    .map(|i| (*lo as f64 + (*hi - *lo) as f64 * i as f64 / STEPS as f64).round())
                    .collect()
            }
        }
        Domain::Choice { levels } => (0..levels.len()).map(|i| i as f64).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_to_four_significant_digits() {
        assert_eq!(approx(0.1 + 0.2, ""), "0.3");
        assert_eq!(approx(559.123_456, "nm"), "559.1 nm");
        assert_eq!(approx(-98_802.4, ""), "-98800");
        assert_eq!(sig4(6.109_000_000_000_001e-26), "6.109e-26");
        assert_eq!(sig4(0.000_416_83), "0.0004168");
        assert_eq!(sig4(12_345_678.0), "1.235e7");
        assert_eq!(sig4(1234.0), "1234");
        assert_eq!(sig4(75.000_000_000_01), "75");
        assert_eq!(sig4(0.1), "0.1");
        assert_eq!(sig4(-0.000_01), "-1e-5");
        assert_eq!(sig4(9.999_96), "10");
    }
}
