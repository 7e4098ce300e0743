//! The map of a mapping campaign (`map peak until sd <= 2 nm`): the model the runtime's stop
//! check judges, and `map.csv`, that model on a grid.
//!
//! One model, fitted in one place ([`fit`]): from the prior data and the experiments' observations,
//! with the optimizer's seed, so the stop check during the run, the explanation of each
//! suggestion (its `map` field) and the bundle's `map.csv` all read the same numbers
//! (`qdx_optimize::MapModel` derives its fit's randomness from the seed and the number of values
//! only). The uncertainty the stop level is checked against is the largest posterior sd over
//! the points of `map.csv` themselves ([`judged_at`]): the map a stopped run hands over has no
//! point less certain than declared.
//!
//! `map.csv` columns, in order: one per variable in the campaign's unit (a choice by its
//! level's name); `<proxy> mean [unit]` and `<proxy> sd [unit]`, the posterior mean and sd of
//! the proxy's latent value (noise excluded), the sd as a difference. Rows: a full grid of
//! `levels(d)` values per variable (every level of a choice, every whole number of a narrow
//! integer range), in the variables' order, the last varying fastest; grid points that break a
//! constraint are left out (the lab cannot go there; a composition's grid is usually all off
//! its simplex, so such a campaign's map has few rows).

use qdx_optimize as opt;

use crate::validate::campaign::{Campaign, DisplayUnit, Domain, MapGoal};

/// The fitted map and how uncertain it is over the reference set.
#[derive(Debug)]
pub struct Fitted {
    pub model: opt::MapModel,
    pub uncertainty: opt::MapUncertainty,
}

/// The map of the campaign's `map` proxy from `observations` (prior data included), `None`
/// for a campaign that maps nothing or before two values are measured.
pub fn fit(c: &Campaign, observations: &[opt::Observation]) -> Option<Fitted> {
    let goal = c.objectives.map.as_ref()?;
    let seed = crate::validate::strategy::optimizer_seed(c.seed);
    let model = opt::MapModel::fit(&c.search.domain, observations, &goal.name, seed).ok()??;
    let uncertainty = model.uncertainty(&judged_at(c));
    Some(Fitted { model, uncertainty })
}

/// How many values the map needs before its uncertainty can stop a run (see
/// [`MapGoal::min_values`]).
pub fn min_values(c: &Campaign) -> usize {
    MapGoal::min_values(&c.search.strategy, &c.search.domain)
}

/// Why a run stops when its map is as certain as declared: `None` while it is not (or before
/// [`min_values`] values, or without a level).
pub fn level_reached(
    c: &Campaign,
    observations: &[opt::Observation],
    fitted: &Fitted,
) -> Option<String> {
    let goal = c.objectives.map.as_ref()?;
    let level = goal.level?;
    let values = opt::mapped_values(observations, &goal.name).1.len();
    if values < min_values(c) || fitted.uncertainty.max_sd > level {
        return None;
    }
    let sd = sd_unit(&goal.unit);
    Some(format!(
        "the map of `{}` reached its level: its largest predicted sd is {} (at most {}) after {values} measured values",
        goal.name,
        sd.approx(fitted.uncertainty.max_sd),
        sd.format(level)
    ))
}

/// The map's state for a suggestion's explanation, in the proxy's unit.
pub fn explain(c: &Campaign, fitted: &Fitted) -> Option<serde_json::Value> {
    let goal = c.objectives.map.as_ref()?;
    let sd = sd_unit(&goal.unit);
    Some(serde_json::json!({
        "proxy": goal.name,
        "unit": goal.unit.symbol(),
        "max_sd": sd.from_si(fitted.uncertainty.max_sd),
        "mean_sd": sd.from_si(fitted.uncertainty.mean_sd),
        "level": goal.level.map(|l| sd.from_si(l)),
        "judged_at": judged_at(c).len(),
    }))
}

/// The sd's unit: the proxy's, as a difference (an sd of 2 K is 2 degC).
pub fn sd_unit(unit: &DisplayUnit) -> DisplayUnit {
    MapGoal::sd_unit(unit)
}

/// The most points a map's grid holds (many choices times many variables); a larger grid is
/// not written, and the map is judged on the optimizer's Sobol reference set instead.
const MAX_GRID: usize = 50_000;

/// Values per continuous variable of a grid over `d` variables: about 4 000 points in all.
fn levels(d: usize) -> usize {
    let d = i32::try_from(d.max(1)).unwrap_or(i32::MAX);
    (4000f64.powf(1.0 / f64::from(d)).floor() as usize).clamp(2, 101)
}

/// The grid's values of each variable, SI (a choice: level indices).
pub fn axes(c: &Campaign) -> Vec<Vec<f64>> {
    let k = levels(c.variables.len());
    c.variables
        .iter()
        .map(|v| match &v.domain {
            Domain::Choice { levels } => (0..levels.len()).map(|i| i as f64).collect(),
            Domain::Integer { lo, hi } => {
                let span = (hi - lo).max(0) as usize;
                let n = k.min(span + 1);
                let mut out: Vec<f64> = (0..n)
                    .map(|i| {
                        let t = if n > 1 {
                            i as f64 / (n - 1) as f64
                        } else {
                            0.0
                        };
                        (*lo as f64 + t * span as f64).round()
                    })
                    .collect();
                out.dedup();
                out
            }
            Domain::Continuous { lo, hi, log } => (0..k)
                .map(|i| {
                    let t = i as f64 / (k - 1) as f64;
                    if *log && *lo > 0.0 {
                        (lo.ln() + t * (hi.ln() - lo.ln())).exp()
                    } else {
                        lo + t * (hi - lo)
                    }
                })
                .collect(),
            Domain::Component { lo, hi, .. } => (0..k)
                .map(|i| lo + i as f64 / (k - 1) as f64 * (hi - lo))
                .collect(),
        })
        .collect()
}

/// Every feasible point of the grid: its SI values (a choice: the level's index) and the point.
pub fn grid_points(c: &Campaign) -> Vec<(Vec<f64>, opt::Point)> {
    let axes = axes(c);
    let total = axes.iter().fold(1usize, |n, a| n.saturating_mul(a.len()));
    if total == 0 || total > MAX_GRID {
        return Vec::new();
    }
    // The cartesian product, the last variable varying fastest.
    let mut rows: Vec<Vec<f64>> = vec![Vec::new()];
    for axis in &axes {
        rows = rows
            .iter()
            .flat_map(|row| {
                axis.iter().map(move |x| {
                    let mut r = row.clone();
                    r.push(*x);
                    r
                })
            })
            .collect();
    }
    rows.into_iter()
        .filter_map(|values| {
            let point = crate::validate::strategy::point(&c.variables, &values);
            c.search
                .domain
                .is_feasible(&point)
                .then_some((values, point))
        })
        .collect()
}

/// Where the map's uncertainty is judged: the points of `map.csv` (so the map the bundle holds
/// is the map the stop level certified), or, when no grid point is feasible (a composition) or
/// the grid is too large, the optimizer's Sobol reference set.
pub fn judged_at(c: &Campaign) -> Vec<opt::Point> {
    let grid: Vec<opt::Point> = grid_points(c).into_iter().map(|(_, p)| p).collect();
    if grid.is_empty() {
        opt::reference_set(
            &c.search.domain,
            crate::validate::strategy::optimizer_seed(c.seed),
        )
    } else {
        grid
    }
}

/// The columns of `map.csv`: `(header, unit symbol, description)`.
pub fn columns(c: &Campaign) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = c
        .variables
        .iter()
        .map(|v| {
            (
                super::column(&v.name, &v.unit),
                v.unit.symbol().to_owned(),
                format!("variable `{}`", v.name),
            )
        })
        .collect();
    if let Some(goal) = &c.objectives.map {
        out.push((
            super::column(&format!("{} mean", goal.name), &goal.unit),
            goal.unit.symbol().to_owned(),
            format!("the map's prediction of `{}` (posterior mean)", goal.name),
        ));
        out.push((
            super::column(&format!("{} sd", goal.name), &goal.unit),
            goal.unit.symbol().to_owned(),
            format!(
                "the map's uncertainty about `{}` (posterior sd of the noise-free value)",
                goal.name
            ),
        ));
    }
    out
}

/// The text of `map.csv` (see the module documentation), `None` without a map.
pub fn write(c: &Campaign, observations: &[opt::Observation]) -> Option<String> {
    let goal = c.objectives.map.as_ref()?;
    let fitted = fit(c, observations)?;
    let sd = sd_unit(&goal.unit);
    let mut w = csv::Writer::from_writer(Vec::new());
    let header: Vec<String> = columns(c).into_iter().map(|(h, _, _)| h).collect();
    // Writing to memory cannot fail.
    let _ = w.write_record(&header);
    for (values, point) in grid_points(c) {
        let p = fitted.model.predict(&point);
        let (mean, s) = (p.mean, p.sd);
        let mut row: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, x)| super::observations::variable_cell(c, i, *x))
            .collect();
        row.push(goal.unit.number(mean));
        row.push(sd.number(s));
        let _ = w.write_record(&row);
    }
    w.into_inner().ok().and_then(|b| String::from_utf8(b).ok())
}
