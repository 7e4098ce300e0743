//! The bridge between a validated campaign and `qdx-optimize`: the search domain, the
//! objectives, the strategy specification and the prior observations, built once by
//! validation into [`Search`] (the campaign's `search`) from the campaign's sections and
//! nothing else. Later stages read `Campaign::search`; none of them builds these again.
//!
//! Invariant: the domain lists the campaign's variables in order, with the same SI bounds, so
//! a `Point` from a strategy and a vector of variable values are the same thing ([`point`],
//! [`values`]).

use std::sync::Arc;

use qdx_optimize as opt;

use super::campaign::{self as c, Campaign, Domain as VarDomain, Search};

/// The sections of a campaign the optimizer's inputs are built from.
#[derive(Debug, Clone, Copy)]
pub struct Sections<'a> {
    pub variables: &'a [c::Variable],
    pub compositions: &'a [c::Composition],
    pub constraints: &'a [c::Constraint],
    pub derived: &'a [c::Derived],
    pub proxies: &'a [c::Proxy],
    pub objectives: &'a c::Objectives,
    pub optimizer: &'a c::OptimizerConfig,
    pub budget: &'a c::Budget,
    pub simulation: Option<&'a c::Simulation>,
    pub priors: &'a [c::PriorSource],
    pub files: &'a [c::CampaignFile],
}

impl Campaign {
    /// The sections [`search`] builds from.
    pub fn sections(&self) -> Sections<'_> {
        Sections {
            variables: &self.variables,
            compositions: &self.compositions,
            constraints: &self.constraints,
            derived: &self.derived,
            proxies: &self.proxies,
            objectives: &self.objectives,
            optimizer: &self.optimizer,
            budget: &self.budget,
            simulation: self.simulation.as_ref(),
            priors: &self.priors,
            files: &self.files,
        }
    }

    /// Builds [`Campaign::search`] again, after a section it reads was changed (a benchmark
    /// that swaps the strategy).
    pub fn rebuild_search(&mut self) -> Result<(), String> {
        self.search = search(&self.sections())?;
        Ok(())
    }
}

/// What the optimizer works with, from the campaign's sections.
pub fn search(s: &Sections<'_>) -> Result<Search, String> {
    let domain = domain(s).map_err(|e| format!("the search space: {e}"))?;
    let domain = match table_pool(s)? {
        Some(rows) => with_rows(s.variables, domain, &rows)?,
        None => domain,
    };
    let strategy = spec(s, &domain);
    let prior = prior_observations(s)?;
    let grid = if s.optimizer.strategy == c::Strategy::Grid {
        Some(grid(s.variables, s.compositions, s.optimizer, &domain)?)
    } else {
        None
    };
    Ok(Search {
        domain: Arc::new(domain),
        objectives: objectives(s.objectives).map_err(|e| format!("the objectives: {e}"))?,
        strategy,
        design_size: design_size(s.optimizer, s.budget),
        prior,
        grid,
    })
}

/// The grid over the variables (every option of a choice, the declared levels of the others)
/// and, of its points, those the domain's constraints allow: the one place that decides which
/// experiments a grid runs, for validation's budget check and for the planner.
pub fn grid(
    variables: &[c::Variable],
    compositions: &[c::Composition],
    optimizer: &c::OptimizerConfig,
    domain: &opt::Domain,
) -> Result<c::Grid, String> {
    let total = optimizer.grid_size(variables, compositions);
    if total > c::MAX_DESIGN_POINTS {
        return Err(format!(
            "the grid has {total} points, more than qdx plans ({})",
            c::MAX_DESIGN_POINTS
        ));
    }
    // Each factor of the grid is a list of settings, one setting a list of (variable, value):
    // a variable's levels one variable at a time, a composition's lattice all its parts at once.
    let mut factors: Vec<Vec<Vec<(usize, f64)>>> = Vec::new();
    for (i, v) in variables.iter().enumerate() {
        match &v.domain {
            VarDomain::Choice { levels } => {
                factors.push((0..levels.len()).map(|k| vec![(i, k as f64)]).collect());
            }
            VarDomain::Component { .. } => {}
            _ => factors.push(
                optimizer
                    .levels
                    .get(&i)
                    .map(|l| l.iter().map(|x| vec![(i, *x)]).collect())
                    .unwrap_or_default(),
            ),
        }
    }
    for (k, levels) in &optimizer.composition_levels {
        if let Some(comp) = compositions.get(*k) {
            factors.push(lattice(comp, levels.saturating_sub(1)));
        }
    }
    let mut points = vec![vec![0.0; variables.len()]];
    for factor in &factors {
        let mut next = Vec::with_capacity(points.len() * factor.len());
        for p in &points {
            for setting in factor {
                let mut q = p.clone();
                for (i, x) in setting {
                    if let Some(slot) = q.get_mut(*i) {
                        *slot = *x;
                    }
                }
                next.push(q);
            }
        }
        points = next;
    }
    points.retain(|p| domain.is_feasible(&point(variables, p)));
    Ok(c::Grid { points, total })
}

/// The simplex lattice of a composition in `steps` steps: every way to give its parts
/// total·j/steps with the j summing to `steps`, the first part's share falling from the
/// whole total, then the second's, and so on. Parts' ranges are not applied here (the domain's feasibility
/// check leaves those points out).
pub fn lattice(comp: &c::Composition, steps: u64) -> Vec<Vec<(usize, f64)>> {
    let parts = comp.components.len();
    let mut out = Vec::new();
    let mut counts = vec![0_u64; parts];
    fill(&mut counts, 0, steps, &mut |counts| {
        out.push(
            comp.components
                .iter()
                .zip(counts)
                .map(|(id, j)| (*id, comp.total * (*j as f64) / (steps.max(1) as f64)))
                .collect(),
        );
    });
    out
}

/// Every assignment of `left` to `counts[at..]` (the last takes what is left), in order.
fn fill(counts: &mut [u64], at: usize, left: u64, emit: &mut dyn FnMut(&[u64])) {
    if at + 1 >= counts.len() {
        if let Some(last) = counts.get_mut(at) {
            *last = left;
        }
        emit(counts);
        return;
    }
    for j in (0..=left).rev() {
        if let Some(slot) = counts.get_mut(at) {
            *slot = j;
        }
        fill(counts, at + 1, left - j, emit);
    }
}

/// The search domain: variables, compositions, linear and non-linear constraints.
fn domain(s: &Sections<'_>) -> Result<opt::Domain, opt::OptimizeError> {
    let vars = s
        .variables
        .iter()
        .map(|v| match &v.domain {
            VarDomain::Continuous { lo, hi, log } => {
                if *log {
                    opt::Variable::log_continuous(&v.name, *lo, *hi)
                } else {
                    opt::Variable::continuous(&v.name, *lo, *hi)
                }
            }
            VarDomain::Component { lo, hi, .. } => opt::Variable::continuous(&v.name, *lo, *hi),
            VarDomain::Integer { lo, hi } => opt::Variable::integer(&v.name, *lo, *hi),
            VarDomain::Choice { levels } => {
                let refs: Vec<&str> = levels.iter().map(String::as_str).collect();
                opt::Variable::categorical(&v.name, &refs)
            }
        })
        .collect();
    let mut d = opt::Domain::new(vars)?;
    for comp in s.compositions {
        d = d.with_composition(comp.components.clone(), comp.total)?;
    }
    for k in s.constraints {
        if let Some((coeffs, constant)) = &k.linear {
            // Σ cᵢxᵢ + constant op 0  ⇔  Σ cᵢxᵢ op −constant
            let relation = match k.op {
                c::Comparison::Le | c::Comparison::Lt => opt::Relation::LessEq,
                c::Comparison::Ge | c::Comparison::Gt => opt::Relation::GreaterEq,
                c::Comparison::Eq => opt::Relation::Equal,
            };
            let terms = coeffs
                .iter()
                .enumerate()
                .filter(|(_, c)| **c != 0.0)
                .map(|(i, c)| (i, *c))
                .collect();
            d = d.with_linear(opt::LinearConstraint {
                terms,
                relation,
                rhs: -constant,
            })?;
        } else {
            let lhs = k.lhs.clone();
            let rhs = k.rhs.clone();
            let op = k.op;
            let derived: Vec<crate::validate::expr::TExpr> =
                s.derived.iter().map(|d| d.expr.clone()).collect();
            // Feasible when ≤ 0: the signed violation of `lhs op rhs`.
            let f = move |x: &[f64]| -> f64 {
                let env = Values {
                    vars: x,
                    derived: &derived,
                };
                let (l, r) = (lhs.eval(&env), rhs.eval(&env));
                let g = match op {
                    c::Comparison::Le | c::Comparison::Lt => l - r,
                    c::Comparison::Ge | c::Comparison::Gt => r - l,
                    c::Comparison::Eq => (l - r).abs(),
                };
                if g.is_nan() { f64::INFINITY } else { g }
            };
            d = d.with_nonlinear(&k.text, Arc::new(f));
        }
    }
    Ok(d)
}

/// `domain` restricted to the pool `rows` (SI values of the variables), so a design picks
/// rows and a constraint that a row breaks leaves that row out.
fn with_rows(
    variables: &[c::Variable],
    domain: opt::Domain,
    rows: &[Vec<f64>],
) -> Result<opt::Domain, String> {
    if rows.is_empty() {
        return Err("no row of the table lies inside the variables' ranges".into());
    }
    domain
        .with_pool(rows.iter().map(|p| point(variables, p)).collect())
        .map_err(|e| format!("the table's rows as a pool: {e}"))
}

/// The rows of the campaign's table in pool mode, as SI values of the variables; `None` when
/// the campaign does not simulate a pool.
fn table_pool(s: &Sections<'_>) -> Result<Option<Vec<Vec<f64>>>, String> {
    let Some(c::SimulationModel::Table {
        model,
        pool: true,
        inputs,
        ..
    }) = s.simulation.map(|s| &s.model)
    else {
        return Ok(None);
    };
    Ok(Some(pool_rows(s.variables, inputs, &model.candidates())))
}

/// A pool table's rows (inputs by column) as SI values of the variables; rows outside the
/// variables' ranges, or with a level the variable does not have, cannot be run and are left
/// out.
fn pool_rows(
    variables: &[c::Variable],
    inputs: &[(c::VarId, String, c::DisplayUnit)],
    rows: &[qdx_sim::Inputs],
) -> Vec<Vec<f64>> {
    let mut points = Vec::with_capacity(rows.len());
    'rows: for row in rows {
        let mut p = vec![0.0; variables.len()];
        for (id, column, unit) in inputs {
            let (Some(slot), Some(value)) = (p.get_mut(*id), row.get(column)) else {
                continue 'rows;
            };
            *slot = match (value, variables.get(*id).map(|v| &v.domain)) {
                (qdx_sim::InputValue::Text(t), Some(VarDomain::Choice { levels })) => {
                    match levels.iter().position(|l| l == t) {
                        Some(k) => k as f64,
                        None => continue 'rows,
                    }
                }
                (qdx_sim::InputValue::Number(x), _) => unit.unit.to_si(*x, unit.interpretation),
                _ => continue 'rows,
            };
        }
        let inside = variables.iter().zip(&p).all(|(v, x)| {
            v.bounds()
                .is_none_or(|(lo, hi)| *x >= lo - 1e-9 * lo.abs() && *x <= hi + 1e-9 * hi.abs())
        });
        if inside {
            points.push(p);
        }
    }
    points
}

/// Evaluates derived values lazily at a point.
struct Values<'a> {
    vars: &'a [f64],
    derived: &'a [crate::validate::expr::TExpr],
}

impl crate::validate::expr::Env for Values<'_> {
    fn var(&self, id: usize) -> f64 {
        self.vars.get(id).copied().unwrap_or(f64::NAN)
    }
    fn derived(&self, id: usize) -> f64 {
        self.derived.get(id).map_or(f64::NAN, |e| e.eval(self))
    }
    fn proxy(&self, _: usize) -> f64 {
        f64::NAN
    }
}

/// The name of the stand-in objective of a campaign that has none (designs only).
pub const NO_OBJECTIVE: &str = "(no objective)";

/// The objectives as `qdx-optimize` scores them (proxy values in SI).
fn objectives(objectives: &c::Objectives) -> Result<opt::Objectives, opt::OptimizeError> {
    let list: Vec<opt::Objective> = objectives
        .list
        .iter()
        .map(|o| {
            let goal = match o.goal {
                c::Goal::Maximize => opt::Goal::Maximize,
                c::Goal::Minimize => opt::Goal::Minimize,
                // A target without a band is still scored by closeness; qdx-optimize needs a
                // positive half-width, so a point target gets a band of 0.1 % of its value.
                c::Goal::Target { value, tolerance } => opt::Goal::Target {
                    value,
                    tolerance: if tolerance > 0.0 {
                        tolerance
                    } else {
                        (value.abs() * 1e-3).max(1e-12)
                    },
                },
                c::Goal::AtLeast { value } => opt::Goal::AtLeast(value),
                c::Goal::AtMost { value } => opt::Goal::AtMost(value),
            };
            let mut objective = opt::Objective::new(&o.name, goal).weighted(o.weight);
            objective.range = o.range;
            objective
        })
        .collect();
    if list.is_empty() {
        // Designs may explore without an objective; they never read it, but the strategy
        // interface takes one, so they get a stand-in that no measurement ever reports.
        return opt::Objectives::new(
            vec![opt::Objective::new(NO_OBJECTIVE, opt::Goal::Maximize)],
            opt::Combine::Single,
        );
    }
    let combine = match objectives.combine {
        c::Combine::Single => opt::Combine::Single,
        c::Combine::WeightedSum => opt::Combine::WeightedSum,
        c::Combine::Desirability => opt::Combine::Desirability,
        c::Combine::Pareto => opt::Combine::Pareto,
    };
    let combine = if list.len() == 1 {
        opt::Combine::Single
    } else {
        combine
    };
    // A declared hypervolume reference point (proxy values, SI) in utility space, where
    // `qdx-optimize` measures hypervolumes.
    let reference: Option<Vec<f64>> = objectives.reference_point.as_ref().and_then(|r| {
        list.iter()
            .zip(r)
            .map(|(o, v)| o.utility(*v))
            .collect::<Option<Vec<f64>>>()
    });
    let mut out = opt::Objectives::new(list, combine)?;
    out.reference_point = reference;
    Ok(out)
}

/// The number of experiments a design runs (`points`, else the experiment budget, else 20).
fn design_size(o: &c::OptimizerConfig, budget: &c::Budget) -> usize {
    o.options
        .points
        .or(budget.experiments)
        .map(|n| n as usize)
        .unwrap_or(20)
}

/// The strategy specification of an adaptive strategy. A grid's points are [`grid`].
fn spec(s: &Sections<'_>, domain: &opt::Domain) -> opt::StrategySpec {
    let o = s.optimizer;
    let initial = |default: opt::InitialDesign| -> opt::InitialDesign {
        match &o.initial {
            Some((kind, n)) => opt::InitialDesign {
                kind: match kind {
                    c::Strategy::LatinHypercube => opt::InitialKind::LatinHypercube,
                    c::Strategy::Random => opt::InitialKind::Random,
                    _ => opt::InitialKind::Sobol,
                },
                n: *n as usize,
            },
            None => default,
        }
    };
    match o.strategy {
        c::Strategy::Random => opt::StrategySpec::Random,
        c::Strategy::Sobol => opt::StrategySpec::Sobol {
            n: design_size(o, s.budget),
        },
        c::Strategy::LatinHypercube => opt::StrategySpec::LatinHypercube {
            n: design_size(o, s.budget),
        },
        c::Strategy::Grid => opt::StrategySpec::Random,
        c::Strategy::Bayesian if s.objectives.map.is_some() => {
            let b = opt::BayesOptions::for_domain(domain);
            opt::StrategySpec::Map(opt::MapOptions {
                proxy: s
                    .objectives
                    .map
                    .as_ref()
                    .map_or_else(String::new, |m| m.name.clone()),
                initial: initial(b.initial).n,
                acquisition: match o.options.acquisition {
                    Some(c::Acquisition::IntegratedVariance) => {
                        opt::MapAcquisition::IntegratedVariance
                    }
                    _ => opt::MapAcquisition::MaxVariance,
                },
            })
        }
        c::Strategy::Bayesian => {
            let mut b = opt::BayesOptions::for_domain(domain);
            b.initial = initial(b.initial);
            b.batch = o.batch as usize;
            if let Some(a) = o.options.acquisition {
                b.acquisition = match a {
                    c::Acquisition::LogExpectedImprovement => opt::Acquisition::LogEi,
                    c::Acquisition::NoisyExpectedImprovement => opt::Acquisition::NoisyEi,
                    c::Acquisition::UpperConfidenceBound => opt::Acquisition::Ucb {
                        beta: o.options.beta.unwrap_or(2.0),
                    },
                    // Validation refuses a map acquisition without a `map`.
                    c::Acquisition::MaxVariance | c::Acquisition::IntegratedVariance => {
                        opt::Acquisition::LogEi
                    }
                };
            }
            if let Some(f) = o.options.failures {
                b.failures = match f {
                    c::FailureModel::Auto => opt::FailureHandling::Auto,
                    c::FailureModel::FeasibilityModel => opt::FailureHandling::FeasibilityModel,
                    c::FailureModel::ImputeWorst => opt::FailureHandling::ImputeWorst,
                };
            }
            if let Some(k) = o.options.surrogate {
                b.surrogate = match k {
                    c::SurrogateKind::Gp(_) => opt::BayesSurrogate::Gp,
                    c::SurrogateKind::ExtraTrees => opt::BayesSurrogate::ExtraTrees,
                    c::SurrogateKind::NnEnsemble => opt::BayesSurrogate::NnEnsemble,
                };
            }
            if let Some(m) = o.options.model {
                b.model = match m {
                    c::ModelKind::Composite => opt::BayesModel::Composite,
                    c::ModelKind::Score => opt::BayesModel::Score,
                };
            }
            opt::StrategySpec::Bayesian(b)
        }
        c::Strategy::NelderMead => {
            let mut n = opt::NelderMeadOptions::default();
            if let Some(s) = o.options.initial_step {
                n.initial_step = s;
            }
            opt::StrategySpec::NelderMead(n)
        }
        c::Strategy::Snobfit => {
            let mut s = opt::SnobfitOptions::default();
            if let Some(r) = o.options.initial_radius {
                s.initial_radius = r;
            }
            if let Some(e) = o.options.exploration {
                s.exploration = e;
            }
            opt::StrategySpec::Snobfit(s)
        }
        c::Strategy::Evolutionary => {
            let mut e = opt::EvolutionOptions::default();
            if let Some(p) = o.options.population {
                e.population = p as usize;
            }
            if let Some(s) = o.options.sigma {
                e.sigma = s;
            }
            opt::StrategySpec::Evolutionary(e)
        }
    }
}

/// SI values of a strategy's point, one per variable (choices as level indices).
pub fn values(point: &opt::Point) -> Vec<f64> {
    point.as_reals()
}

/// A strategy point from SI values of `variables`.
pub fn point(variables: &[c::Variable], values: &[f64]) -> opt::Point {
    opt::Point(
        variables
            .iter()
            .zip(values)
            .map(|(v, x)| match v.domain {
                VarDomain::Integer { .. } => opt::Value::Integer(x.round() as i64),
                // A choice's value is its level's index (`Variable::level`).
                VarDomain::Choice { .. } => opt::Value::Category(x.round().max(0.0) as usize),
                _ => opt::Value::Real(*x),
            })
            .collect(),
    )
}

/// The seed of the optimizer's random stream, derived from the campaign seed.
pub fn optimizer_seed(campaign_seed: u64) -> u64 {
    // FNV-1a over the label then the seed's little-endian bytes: stable across releases and
    // platforms.
    qdx_sim::rng::stable_hash_bytes(
        &[b"optimizer".as_slice(), &campaign_seed.to_le_bytes()].concat(),
    )
}

/// Observations from the campaign's prior data (`prior csv "…"`, `prior bundle "…"`): the
/// files validation read and stored (`FileRole::Prior`).
fn prior_observations(s: &Sections<'_>) -> Result<Vec<opt::Observation>, String> {
    let mut out = Vec::new();
    for p in s.priors {
        let file = match p.format {
            c::PriorFormat::Csv => p.path.clone(),
            c::PriorFormat::Bundle => format!("{}/observations.csv", p.path.trim_end_matches('/')),
        };
        let Some(f) = s.files.iter().find(|f| {
            f.role == c::FileRole::Prior && f.name.ends_with(file.trim_start_matches("./"))
        }) else {
            continue;
        };
        out.extend(prior_from_csv(s, &f.text).map_err(|e| format!("prior data {}: {e}", p.path))?);
    }
    Ok(out)
}

/// Observations from a CSV of earlier results: one column per variable (named like it, with
/// or without ` [unit]`, values in that unit or the variable's), one per objective proxy, an
/// optional `status` column (`ok`/`failed`). Rows outside the variables' ranges are left out
/// (`qdx check` warns about them: [`PriorTable::outside_summary`]).
pub fn prior_from_csv(s: &Sections<'_>, text: &str) -> Result<Vec<opt::Observation>, String> {
    let table = prior_table(s.variables, text)?;
    let status = table.column("status").map(|(i, _)| i);
    let proxies: Vec<(&c::Proxy, usize, Option<String>)> = s
        .objectives
        .list
        .iter()
        .filter_map(|o| s.proxies.get(o.proxy))
        .filter_map(|p| table.column(&p.name).map(|(i, unit)| (p, i, unit)))
        .collect();
    let mut out = Vec::with_capacity(table.rows.len());
    for (row, values) in &table.rows {
        let failed = status.and_then(|i| row.get(i)).is_some_and(|s| s != "ok");
        let point = point(s.variables, values);
        let outcome = if failed {
            opt::Outcome::Failed {
                reason: "failed in the prior data".into(),
            }
        } else {
            let mut measured = std::collections::BTreeMap::new();
            for (p, i, unit) in &proxies {
                if let Some(Ok(n)) = row.get(*i).map(str::parse::<f64>) {
                    let si = match unit.as_deref().map(qdx_units::Unit::parse) {
                        Some(Ok(u)) => u.to_si(n, qdx_units::Interpretation::Difference),
                        _ => p.unit.unit.to_si(n, qdx_units::Interpretation::Difference),
                    };
                    measured.insert(p.name.clone(), si);
                }
            }
            opt::Outcome::Measured(measured)
        };
        out.push(opt::Observation { point, outcome });
    }
    Ok(out)
}

/// Prior data (a CSV of earlier results) as rows of variable values.
#[derive(Debug, Clone)]
pub struct PriorTable {
    /// The header row.
    pub headers: Vec<String>,
    /// The rows inside the variables' ranges, each with its SI values.
    pub rows: Vec<(csv::StringRecord, Vec<f64>)>,
    /// How many rows there were in all.
    pub total: usize,
    /// For each variable bound that rows break: the variable, the bound as written, and how
    /// many rows break it (a row counts once, for the first bound it breaks).
    pub outside: Vec<(String, String, usize)>,
}

impl PriorTable {
    /// Rows left out because they lie outside the variables' ranges.
    pub fn left_out(&self) -> usize {
        self.total - self.rows.len()
    }

    /// What was left out, for a warning: `None` when every row is inside the ranges.
    pub fn outside_summary(&self, file: &str) -> Option<String> {
        if self.outside.is_empty() {
            return None;
        }
        let bounds: Vec<String> = self
            .outside
            .iter()
            .map(|(var, bound, n)| {
                format!(
                    "{n} {} `{var}` {bound}",
                    if *n == 1 { "row has" } else { "rows have" }
                )
            })
            .collect();
        let n = self.left_out();
        Some(format!(
            "{n} of the {} rows of `{file}` {} outside the variables' ranges and {} left out: {}",
            self.total,
            if n == 1 { "lies" } else { "lie" },
            if n == 1 { "is" } else { "are" },
            bounds.join(", ")
        ))
    }

    /// The column named `name` (`name` or `name [unit]`), with the unit its header gives.
    pub fn column(&self, name: &str) -> Option<(usize, Option<String>)> {
        column_of(&self.headers, name)
    }
}

fn column_of(headers: &[String], name: &str) -> Option<(usize, Option<String>)> {
    headers
        .iter()
        .position(|h| h == name || h.starts_with(&format!("{name} [")))
        .map(|i| {
            let unit = headers
                .get(i)
                .and_then(|h| h.split_once('['))
                .map(|(_, u)| u.trim_end_matches(']').trim().to_owned());
            (i, unit)
        })
}

/// Reads prior data: one column per variable (named like it, with or without ` [unit]`,
/// values in that unit or the variable's), separated by `,`, `;` or tabs. Rows outside the variables' ranges (an earlier
/// campaign with wider bounds) are counted and left out, never an error: the search space may
/// have been narrowed since. A cell that is not a value of its variable is an error.
pub fn prior_table(variables: &[c::Variable], text: &str) -> Result<PriorTable, String> {
    // A spreadsheet saved in a decimal-comma locale writes `;`: the delimiter is the one its
    // header uses, as for tables (`qdx_sim::table::detect_delimiter`).
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .delimiter(qdx_sim::table::detect_delimiter(text))
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(str::to_owned)
        .collect();
    let columns = variables
        .iter()
        .map(|v| column_of(&headers, &v.name).ok_or_else(|| format!("no column for `{}`", v.name)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut table = PriorTable {
        headers,
        rows: Vec::new(),
        total: 0,
        outside: Vec::new(),
    };
    for (row_no, row) in reader.records().enumerate() {
        let row = row.map_err(|e| e.to_string())?;
        table.total += 1;
        let mut values = Vec::with_capacity(variables.len());
        for (v, (i, unit)) in variables.iter().zip(&columns) {
            let cell = row.get(*i).unwrap_or("");
            let x = match &v.domain {
                VarDomain::Choice { levels } => {
                    levels.iter().position(|l| l == cell).ok_or_else(|| {
                        format!(
                            "row {}: `{cell}` is not an option of `{}`",
                            row_no + 1,
                            v.name
                        )
                    })? as f64
                }
                _ => {
                    let n: f64 = cell
                        .parse()
                        .ok()
                        .filter(|n: &f64| n.is_finite())
                        .ok_or_else(|| format!("row {}: `{cell}` is not a number", row_no + 1))?;
                    match unit.as_deref().map(qdx_units::Unit::parse) {
                        Some(Ok(u)) => u.to_si(n, v.unit.interpretation),
                        _ => v.unit.unit.to_si(n, v.unit.interpretation),
                    }
                }
            };
            values.push(x);
        }
        match outside_bound(variables, &values) {
            Some((var, bound)) => {
                match table
                    .outside
                    .iter_mut()
                    .find(|(v, b, _)| *v == var && *b == bound)
                {
                    Some(entry) => entry.2 += 1,
                    None => table.outside.push((var, bound, 1)),
                }
            }
            None => table.rows.push((row, values)),
        }
    }
    Ok(table)
}

/// The first variable bound `values` break, as (`variable`, `below its lower bound 0 s`).
fn outside_bound(variables: &[c::Variable], values: &[f64]) -> Option<(String, String)> {
    variables.iter().zip(values).find_map(|(v, x)| {
        let (lo, hi) = v.bounds()?;
        // The slack `qdx_optimize` allows on a bound: rounding, relative to the range.
        let tol = 1e-9 * (hi - lo).abs().max(lo.abs()).max(hi.abs());
        if *x < lo - tol {
            Some((
                v.name.clone(),
                format!("below its lower bound {}", v.unit.format(lo)),
            ))
        } else if *x > hi + tol {
            Some((
                v.name.clone(),
                format!("above its upper bound {}", v.unit.format(hi)),
            ))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::optimizer_seed;

    /// Bundles record the optimizer's suggestions, and replaying them depends on this value: it
    /// must not change across releases, refactorings or platforms.
    #[test]
    fn the_optimizer_seed_is_pinned() {
        assert_eq!(optimizer_seed(42), 0x6c10_7d2c_2239_315e);
        assert_eq!(optimizer_seed(0), 0x159d_97f3_12c9_9034);
        assert_eq!(optimizer_seed(u64::MAX), 0x1a03_6c26_74d8_28ac);
    }
}
