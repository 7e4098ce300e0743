//! Stage 4, plan: `Campaign` → [`Plan`], the execution graph and its estimates.
//!
//! For designs known in advance (grid, Latin hypercube, Sobol) the plan holds every experiment,
//! ordered to cut slow transitions (a temperature change costs minutes, a flow change seconds),
//! with the makespan before and after ordering. For adaptive strategies it holds a
//! representative experiment and the range of durations and reagent use over the design space.
//! Every budget is checked here, before anything runs; a plan that breaks one is refused with a
//! located error.

pub mod command;
pub mod experiment;
pub mod render;

use std::collections::BTreeMap;

pub use command::Command;
pub use experiment::{
    ExperimentPlan, LabState, Operation, PlanError, Settings, Step, plan_experiment, schedule,
    settings_at,
};

use crate::diagnostic::codes::plan as code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::validate::campaign::*;

/// Result of the plan stage.
pub type PlanResult<T> = Result<T, Diagnostics>;

/// The whole plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub campaign: String,
    pub strategy: String,
    /// Every experiment, for designs known in advance, in run order.
    pub design: Option<DesignPlan>,
    /// One experiment as it will run (the first of a design, or a representative one).
    pub example: Option<ExperimentPlan>,
    /// How many experiments the campaign plans to run.
    pub experiments: u64,
    /// Duration of one experiment over the design space, s.
    pub duration: Spread,
    /// Reagent per stock, m³.
    pub reagent: BTreeMap<String, ReagentEstimate>,
    /// Estimated wall time of the whole campaign, s. With parallel lines, the batches' (each
    /// as long as its slowest line's experiment).
    pub total_time: f64,
    /// The reactor's parallel lines (`lines a, b`; empty without). Experiment `k` of a batch
    /// runs on line `k`; a design's experiment `i` (in run order) on line `i % lines`, each
    /// line's syringes planned on their own.
    pub lines: Vec<String>,
    /// Projected refills over the campaign.
    pub refills: u64,
    /// For a design known in advance, each refill: before which experiment (by its place in
    /// the run order, from 0), which pump's syringe, and how much it takes in (m³).
    pub refill_schedule: Vec<Refill>,
    pub warnings: Vec<String>,
}

/// A refill the plan schedules.
#[derive(Debug, Clone, PartialEq)]
pub struct Refill {
    pub before_experiment: u64,
    pub pump: DeviceId,
    /// m³
    pub volume: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReagentEstimate {
    pub per_experiment_max: f64,
    pub total: f64,
}

#[derive(Debug, Clone)]
pub struct DesignPlan {
    /// Variable values of each experiment, SI, in run order.
    pub points: Vec<Vec<f64>>,
    /// Estimated makespan in the design's natural order, s.
    pub makespan_unordered: f64,
    /// Estimated makespan in run order, s.
    pub makespan: f64,
}

/// A design's points (SI values, in the design's order) and the warnings about them.
type Design = (Vec<Vec<f64>>, Vec<String>);

/// The design's points when they are known before the run, and what the planner should warn
/// about them. Every point satisfies the constraints; in pool mode every point is a row of the
/// table.
fn design_points(c: &Campaign) -> Result<Option<Design>, String> {
    match c.optimizer.strategy {
        Strategy::Grid => {
            if c.search.domain.pool().is_some() {
                return Err("a grid's points need not be rows of the table: use sobol, latin_hypercube or random, which pick rows".into());
            }
            let Some(grid) = &c.search.grid else {
                return Err("the grid was not built".into());
            };
            if grid.points.is_empty() {
                return Err(format!(
                    "none of the grid's {} points satisfies the constraints",
                    grid.total
                ));
            }
            let mut warnings = Vec::new();
            let kept = grid.points.len() as u64;
            if kept < grid.total {
                warnings.push(format!(
                    "{} of the grid's {} points break a constraint and are left out",
                    grid.total - kept,
                    grid.total
                ));
            }
            Ok(Some((grid.points.clone(), warnings)))
        }
        Strategy::Sobol | Strategy::LatinHypercube => {
            let mut s = qdx_optimize::build(
                &c.search.strategy,
                c.search.domain.clone(),
                c.search.objectives.clone(),
                crate::validate::strategy::optimizer_seed(c.seed),
            )
            .map_err(|e| e.to_string())?;
            let points = s
                .ask(c.search.design_size, &[])
                .map_err(|e| e.to_string())?;
            Ok(Some((
                points
                    .iter()
                    .map(|p| crate::validate::strategy::values(&p.point))
                    .collect(),
                Vec::new(),
            )))
        }
        _ => Ok(None),
    }
}

/// Estimated run time of the points in this order, s.
pub fn makespan(c: &Campaign, points: &[Vec<f64>]) -> Result<f64, PlanError> {
    let mut state = LabState::initial(c);
    let mut total = 0.0;
    for (i, p) in points.iter().enumerate() {
        total += plan_experiment(c, &mut state, i as u64, p)?.estimated_duration;
    }
    Ok(total)
}

/// Setpoints of a point (K per heater), for ordering; a point that cannot be planned sorts
/// first (the planner refuses it anyway).
fn setpoints_of(c: &Campaign, p: &[f64]) -> Vec<f64> {
    let Ok(settings) = settings_at(c, p) else {
        return Vec::new();
    };
    // In the order the campaign derives them.
    c.derived
        .iter()
        .filter_map(|d| match &d.target {
            DerivedTarget::Setting { device, .. } => settings.setpoints.get(device).copied(),
            DerivedTarget::Named(_) => None,
        })
        .collect()
}

/// Orders a design to cut temperature changes: points sorted by their setpoints, and inside a
/// temperature the other variables in alternating (boustrophedon) order so that flows change
/// little from one experiment to the next.
pub fn order(c: &Campaign, points: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut keyed: Vec<(Vec<f64>, Vec<f64>)> = points
        .iter()
        .map(|p| (setpoints_of(c, p), p.clone()))
        .collect();
    keyed.sort_by(|a, b| {
        for (x, y) in a.0.iter().zip(&b.0) {
            match x.total_cmp(y) {
                std::cmp::Ordering::Equal => {}
                other => return other,
            }
        }
        for (x, y) in a.1.iter().zip(&b.1) {
            match x.total_cmp(y) {
                std::cmp::Ordering::Equal => {}
                other => return other,
            }
        }
        std::cmp::Ordering::Equal
    });
    // Reverse every other run of equal setpoints (snake order).
    let mut out: Vec<Vec<f64>> = Vec::with_capacity(keyed.len());
    let mut group: Vec<Vec<f64>> = Vec::new();
    let mut key: Option<Vec<f64>> = None;
    let mut flip = false;
    for (k, p) in keyed {
        if key.as_ref().is_some_and(|old| *old != k) {
            if flip {
                group.reverse();
            }
            out.append(&mut group);
            flip = !flip;
        }
        key = Some(k);
        group.push(p);
    }
    if flip {
        group.reverse();
    }
    out.append(&mut group);
    out
}

fn spread(mut xs: Vec<f64>) -> Spread {
    xs.retain(|x| x.is_finite());
    xs.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        xs.get(((xs.len().saturating_sub(1)) as f64 * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    Spread {
        min: pick(0.0),
        median: pick(0.5),
        max: pick(1.0),
    }
}

/// Experiments of a design known before the run, counted without building it.
fn planned_design_size(c: &Campaign) -> Option<u64> {
    match c.optimizer.strategy {
        Strategy::Grid => Some(c.optimizer.grid_size(&c.variables, &c.compositions)),
        Strategy::Sobol | Strategy::LatinHypercube => Some(c.search.design_size as u64),
        _ => None,
    }
}

/// Plans the campaign and checks it against its budgets.
pub fn plan(c: &Campaign) -> PlanResult<Plan> {
    // Validation refuses such designs; a campaign built another way must not make the planner
    // allocate every point of a billion-point grid.
    if let Some(size) = planned_design_size(c).filter(|n| *n > MAX_DESIGN_POINTS) {
        let mut d = Diagnostics::new();
        d.push(
            Diagnostic::error(
                code::DESIGN_TOO_LARGE,
                format!("the design has {size} experiments, more than qdx plans"),
            )
            .label(c.optimizer.span, format!("at most {MAX_DESIGN_POINTS}"))
            .help("use fewer levels or points"),
        );
        return Err(d);
    }
    let mut diags = Diagnostics::new();
    let refuse = |e: PlanError| -> Diagnostics {
        let mut d = Diagnostics::new();
        d.push(e.to_diagnostic());
        d
    };
    let mut warnings = Vec::new();
    let points = design_points(c).map_err(|e| {
        let mut d = Diagnostics::new();
        d.push(
            Diagnostic::error(code::DESIGN, format!("the design cannot be built: {e}"))
                .at(c.optimizer.span),
        );
        d
    })?;
    let (design, samples, experiments) = match points {
        Some((raw, design_warnings)) => {
            warnings.extend(design_warnings);
            let unordered = makespan(c, &raw).map_err(refuse)?;
            let ordered = order(c, &raw);
            let after = makespan(c, &ordered).map_err(refuse)?;
            let (ordered, after) = if after <= unordered {
                (ordered, after)
            } else {
                (raw.clone(), unordered)
            };
            let n = ordered.len() as u64;
            (
                Some(DesignPlan {
                    points: ordered.clone(),
                    makespan_unordered: unordered,
                    makespan: after,
                }),
                ordered,
                n,
            )
        }
        None => {
            // A spread of points over the domain stands for what the strategy may ask.
            let spec = qdx_optimize::StrategySpec::Sobol { n: 64 };
            let samples = qdx_optimize::build(
                &spec,
                c.search.domain.clone(),
                c.search.objectives.clone(),
                crate::validate::strategy::optimizer_seed(c.seed),
            )
            .and_then(|mut s| s.ask(64, &[]))
            .map(|ps| {
                ps.iter()
                    .map(|p| crate::validate::strategy::values(&p.point))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
            let n = c.budget.experiments.unwrap_or(samples.len() as u64);
            (None, samples, n)
        }
    };
    // Durations and reagent over the samples, run in sequence from a fresh lab (each
    // parallel line from its own, taking the samples in turn).
    let lines: Vec<String> = c.topology.lines.iter().map(|l| l.name.clone()).collect();
    let mut states: Vec<LabState> = (0..lines.len().max(1))
        .map(|_| LabState::initial(c))
        .collect();
    let mut durations = Vec::new();
    let mut per_pump_max: BTreeMap<DeviceId, f64> = BTreeMap::new();
    let mut per_pump_total: BTreeMap<DeviceId, f64> = BTreeMap::new();
    let mut refills = 0_u64;
    let mut refill_schedule = Vec::new();
    let mut example = None;
    for (i, p) in samples.iter().enumerate() {
        let n = states.len();
        let Some(state) = states.get_mut(i % n) else {
            continue;
        };
        let e = plan_experiment(c, state, i as u64, p).map_err(refuse)?;
        durations.push(e.estimated_duration);
        for (pump, command) in e
            .steps
            .iter()
            .flat_map(|s| &s.ops)
            .filter_map(Operation::setting)
        {
            if let Command::Refill { volume, .. } = command {
                refills += 1;
                refill_schedule.push(Refill {
                    before_experiment: i as u64,
                    pump,
                    volume: *volume,
                });
            }
        }
        for (pump, v) in &e.reagent {
            let m = per_pump_max.entry(*pump).or_insert(0.0);
            *m = m.max(*v);
            *per_pump_total.entry(*pump).or_insert(0.0) += v;
        }
        if example.is_none() {
            example = Some(e);
        }
    }
    let duration = spread(durations.clone());
    let sample_count = samples.len().max(1) as f64;
    let scale = if design.is_some() {
        1.0
    } else {
        experiments as f64 / sample_count
    };
    let total_time = match (&design, lines.len()) {
        (Some(d), 0 | 1) => d.makespan,
        (None, 0 | 1) => durations.iter().sum::<f64>() / sample_count * experiments as f64,
        // A batch takes as long as its slowest line's experiment.
        (Some(_), n) => durations
            .chunks(n)
            .map(|b| b.iter().copied().fold(0.0, f64::max))
            .sum(),
        (None, n) => {
            durations.iter().sum::<f64>() / sample_count * experiments.div_ceil(n as u64) as f64
        }
    };
    let refills = if design.is_some() {
        refills
    } else {
        (refills as f64 * scale).round() as u64
    };
    let mut reagent = BTreeMap::new();
    let mut total_reagent = 0.0;
    for s in &c.stocks {
        let total = per_pump_total.get(&s.pump).copied().unwrap_or(0.0) * scale;
        total_reagent += total;
        reagent.insert(
            s.name.clone(),
            ReagentEstimate {
                per_experiment_max: per_pump_max.get(&s.pump).copied().unwrap_or(0.0),
                total,
            },
        );
        if let Some(limit) = c.budget.reagent_per_stock.get(&s.name)
            && total > *limit
        {
            let span = c
                .budget
                .spans
                .per_stock
                .get(&s.name)
                .copied()
                .unwrap_or(s.span);
            let text = format!(
                "{} of `{}` is planned, above its budget of {}",
                ml(total),
                s.name,
                ml(*limit)
            );
            if design.is_some() {
                diags.push(
                    Diagnostic::error(code::REAGENT_BUDGET, text)
                        .label(span, "budget")
                        .help("the design is fixed: raise the budget or remove experiments"),
                );
            } else {
                warnings.push(format!("{text}; the run stops when the budget is spent"));
            }
        }
    }
    if let Some(limit) = c.budget.reagent_total
        && total_reagent > limit
    {
        let span = c.budget.spans.reagent_total.unwrap_or(c.optimizer.span);
        let text = format!(
            "{} of reagent is planned, above the budget of {}",
            ml(total_reagent),
            ml(limit)
        );
        if design.is_some() {
            diags.push(
                Diagnostic::error(code::REAGENT_BUDGET, text)
                    .label(span, "budget")
                    .help("the design is fixed: raise the budget or remove experiments"),
            );
        } else {
            warnings.push(format!("{text}; the run stops when the budget is spent"));
        }
    }
    if let Some(limit) = c.budget.time
        && total_time > limit
    {
        let span = c.budget.spans.time.unwrap_or(c.optimizer.span);
        let text = format!(
            "the campaign is estimated to take {}, above its time budget of {}",
            hours(total_time),
            hours(limit)
        );
        if design.is_some() {
            diags.push(
                Diagnostic::error(code::TIME_BUDGET, text)
                    .label(span, "time budget")
                    .help("raise the budget, cut experiments, or shorten the waits"),
            );
        } else {
            warnings.push(format!("{text}; the run stops when the time is spent"));
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    // Only a design's experiments are known in advance.
    if design.is_none() {
        refill_schedule.clear();
    }
    Ok(Plan {
        campaign: c.name.clone(),
        strategy: c.optimizer.strategy.name().to_owned(),
        design,
        example,
        experiments,
        duration,
        reagent,
        total_time,
        lines,
        refills,
        refill_schedule,
        warnings,
    })
}

pub(crate) fn ml(m3: f64) -> String {
    format!(
        "{} mL",
        qdx_units::format_number((m3 * 1e6 * 1000.0).round() / 1000.0)
    )
}

pub(crate) fn hours(s: f64) -> String {
    if s < 120.0 {
        format!("{} s", qdx_units::format_number(s.round()))
    } else if s < 7200.0 {
        format!("{} min", qdx_units::format_number((s / 6.0).round() / 10.0))
    } else {
        format!("{} h", qdx_units::format_number((s / 360.0).round() / 10.0))
    }
}
