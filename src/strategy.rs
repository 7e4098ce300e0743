//! The bridge between a validated campaign and `qdx-optimize`: the search domain, the
//! objectives and the strategy specification, all derived from the campaign and nothing else.
//!
//! Invariant: [`domain`] lists the campaign's variables in order, with the same SI bounds, so
//! a `Point` from a strategy and a vector of variable values are the same thing.

use std::sync::Arc;

use qdx_optimize as opt;

use crate::validate::campaign::{self as c, Campaign, Domain as VarDomain};

/// The search domain: variables, compositions, linear and non-linear constraints, and the
/// candidate pool of a table in pool mode.
pub fn domain(campaign: &Campaign) -> Result<opt::Domain, opt::OptimizeError> {
    let vars = campaign
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
    for comp in &campaign.compositions {
        d = d.with_composition(comp.components.clone(), comp.total)?;
    }
    for k in &campaign.constraints {
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
                campaign.derived.iter().map(|d| d.expr.clone()).collect();
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
pub fn objectives(campaign: &Campaign) -> Result<opt::Objectives, opt::OptimizeError> {
    let list: Vec<opt::Objective> = campaign
        .objectives
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
    let combine = match campaign.objectives.combine {
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
    opt::Objectives::new(list, combine)
}

fn number(o: &c::OptimizerConfig, key: &str) -> Option<f64> {
    match o.options.get(key) {
        Some(c::OptionValue::Number(x)) => Some(*x),
        _ => None,
    }
}

fn name(o: &c::OptimizerConfig, key: &str) -> Option<String> {
    match o.options.get(key) {
        Some(c::OptionValue::Name(x)) => Some(x.clone()),
        _ => None,
    }
}

/// The number of experiments a design runs (`points`, else the experiment budget, else 20).
pub fn design_size(campaign: &Campaign) -> usize {
    number(&campaign.optimizer, "points")
        .map(|x| x as usize)
        .or(campaign.budget.experiments.map(|n| n as usize))
        .unwrap_or(20)
}

/// The strategy specification of an adaptive strategy. Grids are enumerated by the planner.
pub fn spec(campaign: &Campaign, domain: &opt::Domain) -> opt::StrategySpec {
    let o = &campaign.optimizer;
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
            n: design_size(campaign),
        },
        c::Strategy::LatinHypercube => opt::StrategySpec::LatinHypercube {
            n: design_size(campaign),
        },
        c::Strategy::Grid => opt::StrategySpec::Random,
        c::Strategy::Bayesian => {
            let mut b = opt::BayesOptions::for_domain(domain);
            b.initial = initial(b.initial);
            b.batch = o.batch as usize;
            if let Some(a) = name(o, "acquisition") {
                b.acquisition = match a.as_str() {
                    "noisy_expected_improvement" | "noisy_ei" => opt::Acquisition::NoisyEi,
                    "upper_confidence_bound" | "ucb" => opt::Acquisition::Ucb {
                        beta: number(o, "beta").unwrap_or(2.0),
                    },
                    _ => opt::Acquisition::LogEi,
                };
            }
            if name(o, "failures").as_deref() == Some("impute_worst") {
                b.failures = opt::FailureHandling::ImputeWorst;
            }
            opt::StrategySpec::Bayesian(b)
        }
        c::Strategy::NelderMead => {
            let mut n = opt::NelderMeadOptions::default();
            if let Some(s) = number(o, "initial_step") {
                n.initial_step = s;
            }
            opt::StrategySpec::NelderMead(n)
        }
        c::Strategy::Snobfit => {
            let mut s = opt::SnobfitOptions::default();
            if let Some(r) = number(o, "initial_radius") {
                s.initial_radius = r;
            }
            if let Some(e) = number(o, "exploration") {
                s.exploration = e;
            }
            opt::StrategySpec::Snobfit(s)
        }
        c::Strategy::Evolutionary => {
            let mut e = opt::EvolutionOptions::default();
            if let Some(p) = number(o, "population") {
                e.population = p as usize;
            }
            if let Some(s) = number(o, "sigma") {
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

/// A strategy point from SI values.
pub fn point(campaign: &Campaign, values: &[f64]) -> opt::Point {
    opt::Point(
        campaign
            .variables
            .iter()
            .zip(values)
            .map(|(v, x)| match v.domain {
                VarDomain::Integer { .. } => opt::Value::Integer(x.round() as i64),
                VarDomain::Choice { .. } => opt::Value::Category(x.round().max(0.0) as usize),
                _ => opt::Value::Real(*x),
            })
            .collect(),
    )
}

/// The seed of the optimizer's random stream, derived from the campaign seed.
pub fn optimizer_seed(campaign_seed: u64) -> u64 {
    // FNV-1a over the label, mixed with the seed: stable across releases and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in b"optimizer"
        .iter()
        .chain(campaign_seed.to_le_bytes().iter())
    {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
