//! The search space: variables, composition groups, constraints and an optional candidate pool.
//!
//! Invariants (checked by the constructors, relied on everywhere else):
//! - every variable has a unique non-empty name and a non-empty range (`lo ≤ hi`, finite;
//!   `lo > 0` when `log_scale`; at least one level for a categorical variable);
//! - composition groups name distinct continuous variables, each in at most one group, and their
//!   total lies between the sum of the lower and the sum of the upper bounds;
//! - constraint coefficients refer to existing variables and are finite;
//! - every pool point fits the variables (arity, types, ranges).
//!
//! Values are in the campaign's units (SI). Strategies work in the *model space* returned by
//! [`Domain::to_model`]: continuous and integer variables mapped to `[0, 1]` (log-scaled ones in
//! log space), categorical variables as their level index. Constraint functions always receive
//! the *value* vector ([`Point::as_reals`]): reals as is, integers as `f64`, categorical variables
//! as their level index.
//!
//! Because values are in SI, their magnitudes range from ~1e-10 (a flow in m³/s) to ~1e3 (a
//! temperature in K): every feasibility tolerance is relative to the size of the quantities
//! compared, never absolute.

use std::fmt;
use std::sync::Arc;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{OptimizeError, Result};

/// One decision variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Variable {
    /// A real-valued variable in `[lo, hi]`; `log_scale` makes strategies search `ln x`.
    Continuous {
        /// Name (column name in data files).
        name: String,
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
        /// Search in log space (requires `lo > 0`).
        log_scale: bool,
    },
    /// An integer variable in `[lo, hi]`.
    Integer {
        /// Name.
        name: String,
        /// Lower bound.
        lo: i64,
        /// Upper bound.
        hi: i64,
    },
    /// A choice among named levels; values are level indices.
    Categorical {
        /// Name.
        name: String,
        /// Level names, in order.
        levels: Vec<String>,
    },
}

impl Variable {
    /// Continuous variable on a linear scale.
    pub fn continuous(name: &str, lo: f64, hi: f64) -> Self {
        Variable::Continuous {
            name: name.to_string(),
            lo,
            hi,
            log_scale: false,
        }
    }
    /// Continuous variable searched on a log scale.
    pub fn log_continuous(name: &str, lo: f64, hi: f64) -> Self {
        Variable::Continuous {
            name: name.to_string(),
            lo,
            hi,
            log_scale: true,
        }
    }
    /// Integer variable.
    pub fn integer(name: &str, lo: i64, hi: i64) -> Self {
        Variable::Integer {
            name: name.to_string(),
            lo,
            hi,
        }
    }
    /// Categorical variable.
    pub fn categorical(name: &str, levels: &[&str]) -> Self {
        Variable::Categorical {
            name: name.to_string(),
            levels: levels.iter().map(|s| (*s).to_string()).collect(),
        }
    }
    /// The variable's name.
    pub fn name(&self) -> &str {
        match self {
            Variable::Continuous { name, .. }
            | Variable::Integer { name, .. }
            | Variable::Categorical { name, .. } => name,
        }
    }
    /// Whether the variable is categorical.
    pub fn is_categorical(&self) -> bool {
        matches!(self, Variable::Categorical { .. })
    }
}

/// A value of one variable.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// Continuous value (campaign units).
    Real(f64),
    /// Integer value.
    Integer(i64),
    /// Index of a categorical level.
    Category(usize),
}

impl Value {
    /// The value as a real number (category → level index).
    pub fn as_f64(&self) -> f64 {
        match *self {
            Value::Real(x) => x,
            Value::Integer(i) => i as f64,
            Value::Category(c) => c as f64,
        }
    }
}

/// One value per variable, in the domain's variable order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point(pub Vec<Value>);

impl Point {
    /// The values as reals (the vector constraint functions receive).
    pub fn as_reals(&self) -> Vec<f64> {
        self.0.iter().map(Value::as_f64).collect()
    }
}

/// Comparison of a linear constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Relation {
    /// `Σ aᵢxᵢ ≤ b`
    LessEq,
    /// `Σ aᵢxᵢ ≥ b`
    GreaterEq,
    /// `Σ aᵢxᵢ = b`
    Equal,
}

/// `Σ aᵢxᵢ (≤|≥|=) b` over variable values (categorical: level index).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearConstraint {
    /// `(variable index, coefficient)` pairs.
    pub terms: Vec<(usize, f64)>,
    /// Comparison.
    pub relation: Relation,
    /// Right-hand side.
    pub rhs: f64,
}

impl LinearConstraint {
    fn lhs(&self, x: &[f64]) -> f64 {
        self.terms
            .iter()
            .map(|&(i, a)| a * x.get(i).copied().unwrap_or(0.0))
            .sum()
    }
    /// Rounding slack at `x`, relative to the size of the terms and the right-hand side: values
    /// are in SI units, where a flow rate is ~1e-10 m³/s, so an absolute slack would swallow
    /// the whole constraint.
    fn tolerance(&self, x: &[f64]) -> f64 {
        let scale: f64 = self
            .terms
            .iter()
            .map(|&(i, a)| (a * x.get(i).copied().unwrap_or(0.0)).abs())
            .sum::<f64>();
        1e-9 * scale.max(self.rhs.abs())
    }
    /// Whether the value vector satisfies the constraint, up to a rounding slack relative to
    /// the magnitude of its terms (never an absolute one: see the module docs on units).
    pub fn satisfied(&self, x: &[f64]) -> bool {
        let lhs = self.lhs(x);
        let tol = self.tolerance(x);
        match self.relation {
            Relation::LessEq => lhs <= self.rhs + tol,
            Relation::GreaterEq => lhs >= self.rhs - tol,
            Relation::Equal => (lhs - self.rhs).abs() <= tol * 100.0,
        }
    }
}

/// Continuous variables whose values must sum to `total` (e.g. precursor fractions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompositionGroup {
    /// Indices of the member variables (continuous, distinct).
    pub members: Vec<usize>,
    /// Required sum, usually 1.
    pub total: f64,
}

/// Non-linear constraint function: feasible when it returns a value `≤ 0`.
pub type ConstraintFn = Arc<dyn Fn(&[f64]) -> f64 + Send + Sync>;

/// A named non-linear constraint `g(x) ≤ 0` over the value vector (categorical: level index).
#[derive(Clone)]
pub struct NonlinearConstraint {
    /// Name used in messages.
    pub name: String,
    /// The constraint function; NaN counts as infeasible.
    pub function: ConstraintFn,
}

impl fmt::Debug for NonlinearConstraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonlinearConstraint")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The search space.
#[derive(Debug, Clone)]
pub struct Domain {
    variables: Vec<Variable>,
    compositions: Vec<CompositionGroup>,
    linear: Vec<LinearConstraint>,
    nonlinear: Vec<NonlinearConstraint>,
    pool: Option<Vec<Point>>,
}

fn invalid(msg: impl Into<String>) -> OptimizeError {
    OptimizeError::InvalidDomain(msg.into())
}

impl Domain {
    /// A box domain over `variables`.
    pub fn new(variables: Vec<Variable>) -> Result<Self> {
        if variables.is_empty() {
            return Err(invalid("a domain needs at least one variable"));
        }
        // A set: a campaign may have 100 000 variables, and a linear scan per name is quadratic.
        let mut names: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
        for v in &variables {
            let name = v.name();
            if name.is_empty() {
                return Err(invalid("a variable has an empty name"));
            }
            if !names.insert(name) {
                return Err(invalid(format!("variable `{name}` is declared twice")));
            }
            match v {
                Variable::Continuous {
                    lo, hi, log_scale, ..
                } => {
                    if !lo.is_finite() || !hi.is_finite() || lo > hi {
                        return Err(invalid(format!(
                            "variable `{name}` has an empty or non-finite range [{lo}, {hi}]"
                        )));
                    }
                    if *log_scale && *lo <= 0.0 {
                        return Err(invalid(format!(
                            "variable `{name}` is log-scaled but its lower bound {lo} is not positive"
                        )));
                    }
                }
                Variable::Integer { lo, hi, .. } => {
                    if lo > hi {
                        return Err(invalid(format!("variable `{name}` has lo {lo} > hi {hi}")));
                    }
                }
                Variable::Categorical { levels, .. } => {
                    if levels.is_empty() {
                        return Err(invalid(format!(
                            "categorical variable `{name}` has no levels"
                        )));
                    }
                }
            }
        }
        Ok(Domain {
            variables,
            compositions: Vec::new(),
            linear: Vec::new(),
            nonlinear: Vec::new(),
            pool: None,
        })
    }

    /// Adds a composition group: the member variables' values sum to `total`.
    pub fn with_composition(mut self, members: Vec<usize>, total: f64) -> Result<Self> {
        if members.len() < 2 {
            return Err(invalid("a composition group needs at least two variables"));
        }
        if !total.is_finite() {
            return Err(invalid("a composition total must be finite"));
        }
        let (mut lo_sum, mut hi_sum) = (0.0, 0.0);
        for (k, &m) in members.iter().enumerate() {
            if members[..k].contains(&m) {
                return Err(invalid("a composition group names a variable twice"));
            }
            if self.compositions.iter().any(|g| g.members.contains(&m)) {
                return Err(invalid("a variable belongs to two composition groups"));
            }
            match self.variables.get(m) {
                Some(Variable::Continuous { lo, hi, .. }) => {
                    lo_sum += lo;
                    hi_sum += hi;
                }
                Some(v) => {
                    return Err(invalid(format!(
                        "composition member `{}` must be a continuous variable",
                        v.name()
                    )));
                }
                None => {
                    return Err(invalid(format!(
                        "composition member index {m} is out of range"
                    )));
                }
            }
        }
        let tol = 1e-12 * total.abs().max(hi_sum.abs()).max(lo_sum.abs());
        if total < lo_sum - tol || total > hi_sum + tol {
            return Err(invalid(format!(
                "composition total {total} is outside the reachable range [{lo_sum}, {hi_sum}]"
            )));
        }
        self.compositions.push(CompositionGroup { members, total });
        self.keep_feasible_pool()?;
        Ok(self)
    }

    /// Adds a linear constraint.
    pub fn with_linear(mut self, constraint: LinearConstraint) -> Result<Self> {
        if constraint.terms.is_empty() || !constraint.rhs.is_finite() {
            return Err(invalid(
                "a linear constraint needs terms and a finite right-hand side",
            ));
        }
        for &(i, a) in &constraint.terms {
            if i >= self.variables.len() || !a.is_finite() {
                return Err(invalid(format!(
                    "linear constraint term ({i}, {a}) is invalid"
                )));
            }
        }
        self.linear.push(constraint);
        self.keep_feasible_pool()?;
        Ok(self)
    }

    /// Adds a non-linear constraint `g(x) ≤ 0` (x: value vector, categorical as level index).
    /// Pool points that break it leave the pool (which may leave it empty: nothing to suggest).
    pub fn with_nonlinear(mut self, name: &str, function: ConstraintFn) -> Self {
        self.nonlinear.push(NonlinearConstraint {
            name: name.to_string(),
            function,
        });
        if let Some(pool) = self.pool.take() {
            self.pool = Some(pool.into_iter().filter(|p| self.is_feasible(p)).collect());
        }
        self
    }

    /// Restricts suggestions to a finite candidate pool (pool mode). Pool points that break a
    /// constraint are left out: a suggestion never breaks one, in pool mode or not.
    pub fn with_pool(mut self, pool: Vec<Point>) -> Result<Self> {
        if pool.is_empty() {
            return Err(invalid("the candidate pool is empty"));
        }
        for p in &pool {
            self.check_point(p)?;
        }
        self.pool = Some(pool);
        self.keep_feasible_pool()?;
        Ok(self)
    }

    /// Drops the pool points that break a constraint; an error when none is left.
    fn keep_feasible_pool(&mut self) -> Result<()> {
        let Some(pool) = self.pool.take() else {
            return Ok(());
        };
        let total = pool.len();
        let kept: Vec<Point> = pool.into_iter().filter(|p| self.is_feasible(p)).collect();
        if kept.is_empty() {
            return Err(invalid(format!(
                "none of the {total} pool points satisfies the constraints"
            )));
        }
        self.pool = Some(kept);
        Ok(())
    }

    /// The variables, in order.
    pub fn variables(&self) -> &[Variable] {
        &self.variables
    }
    /// Number of variables.
    pub fn dim(&self) -> usize {
        self.variables.len()
    }
    /// Composition groups.
    pub fn compositions(&self) -> &[CompositionGroup] {
        &self.compositions
    }
    /// Linear constraints.
    pub fn linear_constraints(&self) -> &[LinearConstraint] {
        &self.linear
    }
    /// Non-linear constraints.
    pub fn nonlinear_constraints(&self) -> &[NonlinearConstraint] {
        &self.nonlinear
    }
    /// The candidate pool, in pool mode.
    pub fn pool(&self) -> Option<&[Point]> {
        self.pool.as_deref()
    }
    /// Index of the variable called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.variables.iter().position(|v| v.name() == name)
    }
    /// Whether any variable is categorical.
    pub fn has_categorical(&self) -> bool {
        self.variables.iter().any(Variable::is_categorical)
    }
    /// Whether the domain has constraints beyond the bounds.
    pub fn is_constrained(&self) -> bool {
        !self.compositions.is_empty() || !self.linear.is_empty() || !self.nonlinear.is_empty()
    }

    /// Checks arity, types and bounds of a point (not the constraints).
    pub fn check_point(&self, p: &Point) -> Result<()> {
        if p.0.len() != self.variables.len() {
            return Err(OptimizeError::InvalidPoint(format!(
                "expected {} values, got {}",
                self.variables.len(),
                p.0.len()
            )));
        }
        for (v, x) in self.variables.iter().zip(&p.0) {
            let ok = match (v, x) {
                (Variable::Continuous { lo, hi, .. }, Value::Real(x)) => {
                    let tol = 1e-9 * (hi - lo).abs().max(lo.abs()).max(hi.abs()).max(1e-300);
                    x.is_finite() && *x >= lo - tol && *x <= hi + tol
                }
                (Variable::Integer { lo, hi, .. }, Value::Integer(i)) => i >= lo && i <= hi,
                (Variable::Categorical { levels, .. }, Value::Category(c)) => *c < levels.len(),
                _ => false,
            };
            if !ok {
                return Err(OptimizeError::InvalidPoint(format!(
                    "value {x:?} does not fit variable `{}`",
                    v.name()
                )));
            }
        }
        Ok(())
    }

    /// Whether the point fits the variables and satisfies every constraint.
    pub fn is_feasible(&self, p: &Point) -> bool {
        self.violation(p).is_none()
    }

    /// What the point breaks (a bound, a composition, a constraint), in words; `None` when it
    /// is feasible.
    pub fn violation(&self, p: &Point) -> Option<String> {
        if let Err(e) = self.check_point(p) {
            return Some(e.to_string());
        }
        let x = p.as_reals();
        let names = |members: &[usize]| -> String {
            members
                .iter()
                .filter_map(|&m| self.variables.get(m).map(Variable::name))
                .collect::<Vec<_>>()
                .join(" + ")
        };
        for g in &self.compositions {
            let s: f64 = g
                .members
                .iter()
                .map(|&m| x.get(m).copied().unwrap_or(0.0))
                .sum();
            let size: f64 = g
                .members
                .iter()
                .map(|&m| x.get(m).copied().unwrap_or(0.0).abs())
                .sum();
            if (s - g.total).abs() > 1e-7 * g.total.abs().max(size) {
                return Some(format!(
                    "{} = {s} instead of its total {}",
                    names(&g.members),
                    g.total
                ));
            }
        }
        for c in &self.linear {
            if !c.satisfied(&x) {
                let members: Vec<usize> = c.terms.iter().map(|&(i, _)| i).collect();
                let side = match c.relation {
                    Relation::LessEq => "above",
                    Relation::GreaterEq => "below",
                    Relation::Equal => "not equal to",
                };
                return Some(format!(
                    "breaks a linear constraint on {}: {} is {side} {}",
                    names(&members),
                    c.lhs(&x),
                    c.rhs
                ));
            }
        }
        self.nonlinear
            .iter()
            // Feasible when g ≤ 0; NaN is infeasible.
            .find(|c| (c.function)(&x).partial_cmp(&0.0).is_none_or(|o| o.is_gt()))
            .map(|c| format!("breaks the constraint `{}`", c.name))
    }

    /// Model-space encoding: `[0, 1]` for continuous/integer (log space when log-scaled),
    /// level index for categorical variables.
    pub fn to_model(&self, p: &Point) -> Vec<f64> {
        self.variables
            .iter()
            .zip(&p.0)
            .map(|(v, x)| match v {
                Variable::Continuous {
                    lo, hi, log_scale, ..
                } => {
                    let x = x.as_f64();
                    if hi <= lo {
                        0.5
                    } else if *log_scale {
                        ((x.max(*lo)).ln() - lo.ln()) / (hi.ln() - lo.ln())
                    } else {
                        (x - lo) / (hi - lo)
                    }
                }
                Variable::Integer { lo, hi, .. } => {
                    if hi <= lo {
                        0.5
                    } else {
                        (x.as_f64() - *lo as f64) / (*hi as f64 - *lo as f64)
                    }
                }
                Variable::Categorical { .. } => x.as_f64(),
            })
            .collect()
    }

    /// Inverse of [`Domain::to_model`]: clamps to bounds, rounds integers and categories.
    /// Missing coordinates are taken as the middle of the range.
    pub fn from_model(&self, u: &[f64]) -> Point {
        Point(
            self.variables
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let ui = u.get(i).copied().filter(|x| x.is_finite()).unwrap_or(0.5);
                    match v {
                        Variable::Continuous {
                            lo, hi, log_scale, ..
                        } => {
                            let t = ui.clamp(0.0, 1.0);
                            let x = if *log_scale {
                                (lo.ln() + t * (hi.ln() - lo.ln())).exp()
                            } else {
                                lo + t * (hi - lo)
                            };
                            Value::Real(x.clamp(*lo, *hi))
                        }
                        Variable::Integer { lo, hi, .. } => {
                            let t = ui.clamp(0.0, 1.0);
                            let x = (*lo as f64 + t * (*hi as f64 - *lo as f64)).round() as i64;
                            Value::Integer(x.clamp(*lo, *hi))
                        }
                        Variable::Categorical { levels, .. } => {
                            let c = ui.round().max(0.0) as usize;
                            Value::Category(c.min(levels.len().saturating_sub(1)))
                        }
                    }
                })
                .collect(),
        )
    }

    /// Maps a point of the unit cube to the domain (used by space-filling designs): categorical
    /// and integer variables get equal-width cells so every level is equally likely.
    pub fn from_cube(&self, u: &[f64]) -> Point {
        Point(
            self.variables
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let t = u
                        .get(i)
                        .copied()
                        .filter(|x| x.is_finite())
                        .unwrap_or(0.5)
                        .clamp(0.0, 1.0);
                    match v {
                        Variable::Continuous {
                            lo, hi, log_scale, ..
                        } => {
                            let x = if *log_scale {
                                (lo.ln() + t * (hi.ln() - lo.ln())).exp()
                            } else {
                                lo + t * (hi - lo)
                            };
                            Value::Real(x.clamp(*lo, *hi))
                        }
                        Variable::Integer { lo, hi, .. } => {
                            let span = (*hi as f64 - *lo as f64) + 1.0;
                            let k = (t * span).floor().min(span - 1.0);
                            Value::Integer((*lo + k as i64).clamp(*lo, *hi))
                        }
                        Variable::Categorical { levels, .. } => {
                            let k = levels.len();
                            Value::Category(((t * k as f64).floor() as usize).min(k - 1))
                        }
                    }
                })
                .collect(),
        )
    }

    /// Makes a point satisfy the composition groups and linear equalities by projection (in value
    /// space), then returns it if every constraint holds. Integer and categorical values are kept.
    pub fn repair(&self, p: &Point) -> Option<Point> {
        if self.check_point(p).is_err() {
            return None;
        }
        let has_eq = self.linear.iter().any(|c| c.relation == Relation::Equal);
        if self.compositions.is_empty() && !has_eq {
            return self.is_feasible(p).then(|| p.clone());
        }
        let mut x = p.as_reals();
        // Alternating projections: each one is exact for its own set; with equalities that
        // share variables with groups a few rounds are needed.
        let rounds = if has_eq { 60 } else { 1 };
        for _ in 0..rounds {
            for c in self.linear.iter().filter(|c| c.relation == Relation::Equal) {
                self.project_hyperplane(c, &mut x);
            }
            for g in &self.compositions {
                self.project_composition(g, &mut x);
            }
        }
        let mut q = p.clone();
        for (i, v) in self.variables.iter().enumerate() {
            if let (Variable::Continuous { lo, hi, .. }, Some(val)) = (v, x.get(i)) {
                q.0[i] = Value::Real(val.clamp(*lo, *hi));
            }
        }
        self.is_feasible(&q).then_some(q)
    }

    fn bounds_of(&self, i: usize) -> Option<(f64, f64)> {
        match self.variables.get(i) {
            Some(Variable::Continuous { lo, hi, .. }) => Some((*lo, *hi)),
            _ => None,
        }
    }

    /// Euclidean projection onto `{Σ x_m = total, lo_m ≤ x_m ≤ hi_m}` by bisection on the shift.
    fn project_composition(&self, g: &CompositionGroup, x: &mut [f64]) {
        let members: Vec<(usize, f64, f64)> = g
            .members
            .iter()
            .filter_map(|&m| self.bounds_of(m).map(|(lo, hi)| (m, lo, hi)))
            .collect();
        let sum_at = |lambda: f64, x: &[f64]| -> f64 {
            members
                .iter()
                .map(|&(m, lo, hi)| (x.get(m).copied().unwrap_or(0.0) - lambda).clamp(lo, hi))
                .sum()
        };
        let span: f64 = members.iter().map(|&(_, lo, hi)| hi - lo).sum::<f64>()
            + members
                .iter()
                .map(|&(m, _, _)| x.get(m).copied().unwrap_or(0.0).abs())
                .sum::<f64>()
            + g.total.abs()
            + 1.0;
        let (mut a, mut b) = (-span, span);
        for _ in 0..200 {
            let mid = 0.5 * (a + b);
            if sum_at(mid, x) > g.total {
                a = mid;
            } else {
                b = mid;
            }
        }
        let lambda = 0.5 * (a + b);
        for &(m, lo, hi) in &members {
            if let Some(v) = x.get_mut(m) {
                *v = (*v - lambda).clamp(lo, hi);
            }
        }
        // Put the remaining rounding error on the member with the most room.
        let s: f64 = members
            .iter()
            .map(|&(m, _, _)| x.get(m).copied().unwrap_or(0.0))
            .sum();
        let err = g.total - s;
        if let Some(&(m, lo, hi)) = members.iter().max_by(|p, q| {
            let room = |&(m, lo, hi): &(usize, f64, f64)| {
                let v = x.get(m).copied().unwrap_or(0.0);
                if err > 0.0 { hi - v } else { v - lo }
            };
            room(p).total_cmp(&room(q))
        }) && let Some(v) = x.get_mut(m)
        {
            *v = (*v + err).clamp(lo, hi);
        }
    }

    fn project_hyperplane(&self, c: &LinearConstraint, x: &mut [f64]) {
        let cont: Vec<(usize, f64)> = c
            .terms
            .iter()
            .copied()
            .filter(|&(i, _)| self.bounds_of(i).is_some())
            .collect();
        let norm2: f64 = cont.iter().map(|(_, a)| a * a).sum();
        if norm2 <= 0.0 {
            return;
        }
        let r = (c.lhs(x) - c.rhs) / norm2;
        for &(i, a) in &cont {
            if let (Some(v), Some((lo, hi))) = (x.get_mut(i), self.bounds_of(i)) {
                *v = (*v - r * a).clamp(lo, hi);
            }
        }
    }

    /// A uniformly drawn feasible point (rejection after repair), or `Infeasible` after
    /// `max_attempts` draws.
    pub fn sample_feasible<R: Rng>(&self, rng: &mut R, max_attempts: usize) -> Result<Point> {
        for _ in 0..max_attempts {
            let u = self.draw_cube(rng);
            if let Some(p) = self.repair(&self.from_cube(&u)) {
                return Ok(p);
            }
        }
        Err(OptimizeError::Infeasible {
            attempts: max_attempts,
        })
    }

    /// A point of the unit cube; composition groups are drawn from a flat Dirichlet so the
    /// repaired points cover the simplex evenly.
    pub fn draw_cube<R: Rng>(&self, rng: &mut R) -> Vec<f64> {
        let mut u: Vec<f64> = (0..self.dim()).map(|_| rng.random::<f64>()).collect();
        for g in &self.compositions {
            let e: Vec<f64> = g
                .members
                .iter()
                .map(|_| -(1.0 - rng.random::<f64>()).ln())
                .collect();
            let s: f64 = e.iter().sum::<f64>().max(1e-300);
            for (&m, ei) in g.members.iter().zip(&e) {
                if let Some((lo, hi)) = self.bounds_of(m)
                    && let Some(um) = u.get_mut(m)
                {
                    let val = g.total * ei / s;
                    *um = if hi > lo {
                        ((val - lo) / (hi - lo)).clamp(0.0, 1.0)
                    } else {
                        0.5
                    };
                }
            }
        }
        u
    }

    /// Moves an infeasible candidate toward a feasible `anchor` by bisection along the segment
    /// (in model space) and returns the feasible point closest to the candidate that was found.
    /// Used by local and evolutionary strategies whose steps can leave the feasible set.
    pub fn pull_toward(&self, candidate: &[f64], anchor: &Point) -> Point {
        let direct = self.from_model(candidate);
        if let Some(p) = self.repair(&direct) {
            return p;
        }
        let a = self.to_model(anchor);
        let mut best = anchor.clone();
        let (mut lo, mut hi) = (0.0_f64, 1.0_f64); // fraction of the way from anchor to candidate
        for _ in 0..30 {
            let t = 0.5 * (lo + hi);
            let u: Vec<f64> = a
                .iter()
                .zip(candidate)
                .map(|(ai, ci)| ai + t * (ci - ai))
                .collect();
            match self.repair(&self.from_model(&u)) {
                Some(p) => {
                    best = p;
                    lo = t;
                }
                None => hi = t,
            }
        }
        best
    }

    /// Indices of the categorical variables.
    pub fn categorical_indices(&self) -> Vec<usize> {
        (0..self.dim())
            .filter(|&i| self.variables.get(i).is_some_and(Variable::is_categorical))
            .collect()
    }

    /// Number of levels of variable `i` if categorical.
    pub fn levels_of(&self, i: usize) -> Option<usize> {
        match self.variables.get(i) {
            Some(Variable::Categorical { levels, .. }) => Some(levels.len()),
            _ => None,
        }
    }
}

/// Exact-equality key of a point (for duplicate detection in pools and histories).
pub(crate) fn point_key(p: &Point) -> Vec<u64> {
    p.0.iter()
        .map(|v| match *v {
            Value::Real(x) => x.to_bits(),
            Value::Integer(i) => i as u64,
            Value::Category(c) => c as u64,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn mixed() -> Domain {
        Domain::new(vec![
            Variable::continuous("a", 0.0, 1.0),
            Variable::continuous("b", 0.0, 1.0),
            Variable::continuous("c", 0.0, 1.0),
            Variable::integer("n", 1, 5),
            Variable::categorical("ligand", &["L0", "L1", "L2"]),
        ])
        .unwrap()
    }

    #[test]
    fn rejects_bad_variables() {
        assert!(Domain::new(vec![]).is_err());
        assert!(Domain::new(vec![Variable::continuous("a", 2.0, 1.0)]).is_err());
        assert!(Domain::new(vec![Variable::log_continuous("a", 0.0, 1.0)]).is_err());
        assert!(Domain::new(vec![Variable::categorical("c", &[])]).is_err());
        assert!(
            Domain::new(vec![
                Variable::continuous("a", 0.0, 1.0),
                Variable::integer("a", 0, 1)
            ])
            .is_err()
        );
    }

    #[test]
    fn composition_must_be_reachable_and_continuous() {
        assert!(mixed().with_composition(vec![0, 1, 2], 1.0).is_ok());
        assert!(mixed().with_composition(vec![0, 1], 3.0).is_err());
        assert!(mixed().with_composition(vec![0, 3], 1.0).is_err());
        assert!(mixed().with_composition(vec![0, 0], 1.0).is_err());
    }

    #[test]
    fn model_round_trip() {
        let d = Domain::new(vec![
            Variable::log_continuous("flow", 1e-3, 1e-1),
            Variable::integer("n", -2, 2),
            Variable::categorical("c", &["x", "y"]),
        ])
        .unwrap();
        let p = Point(vec![
            Value::Real(1e-2),
            Value::Integer(1),
            Value::Category(1),
        ]);
        let u = d.to_model(&p);
        assert!((u[0] - 0.5).abs() < 1e-12);
        assert!((u[1] - 0.75).abs() < 1e-12);
        assert_eq!(u[2], 1.0);
        let q = d.from_model(&u);
        assert!((q.0[0].as_f64() - 1e-2).abs() < 1e-12);
        assert_eq!(q.0[1], Value::Integer(1));
        assert_eq!(q.0[2], Value::Category(1));
    }

    #[test]
    fn repair_projects_onto_simplex() {
        let d = mixed().with_composition(vec![0, 1, 2], 1.0).unwrap();
        let p = Point(vec![
            Value::Real(0.9),
            Value::Real(0.8),
            Value::Real(0.1),
            Value::Integer(2),
            Value::Category(0),
        ]);
        assert!(!d.is_feasible(&p));
        let q = d.repair(&p).unwrap();
        let s: f64 = q.as_reals()[..3].iter().sum();
        assert!((s - 1.0).abs() < 1e-9);
        // Projection keeps the order of the coordinates.
        assert!(q.0[0].as_f64() >= q.0[1].as_f64());
        assert!(q.0[1].as_f64() >= q.0[2].as_f64());
    }

    #[test]
    fn linear_and_nonlinear_constraints_are_enforced() {
        let d = mixed()
            .with_linear(LinearConstraint {
                terms: vec![(0, 1.0), (1, 1.0)],
                relation: Relation::LessEq,
                rhs: 0.5,
            })
            .unwrap()
            .with_nonlinear("circle", Arc::new(|x: &[f64]| x[2] * x[2] + x[3] - 2.0));
        let ok = Point(vec![
            Value::Real(0.2),
            Value::Real(0.2),
            Value::Real(0.5),
            Value::Integer(1),
            Value::Category(2),
        ]);
        assert!(d.is_feasible(&ok));
        let bad_lin = Point(vec![
            Value::Real(0.4),
            Value::Real(0.2),
            Value::Real(0.5),
            Value::Integer(1),
            Value::Category(2),
        ]);
        assert!(!d.is_feasible(&bad_lin));
        let bad_nl = Point(vec![
            Value::Real(0.1),
            Value::Real(0.2),
            Value::Real(0.5),
            Value::Integer(2),
            Value::Category(2),
        ]);
        assert!(!d.is_feasible(&bad_nl));
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..50 {
            assert!(d.is_feasible(&d.sample_feasible(&mut rng, 10_000).unwrap()));
        }
    }

    #[test]
    fn impossible_constraints_report_infeasible() {
        let d = mixed().with_nonlinear("never", Arc::new(|_: &[f64]| 1.0));
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(
            d.sample_feasible(&mut rng, 20),
            Err(OptimizeError::Infeasible { attempts: 20 })
        );
    }

    #[test]
    fn nan_constraint_is_infeasible() {
        let d = mixed().with_nonlinear("nan", Arc::new(|_: &[f64]| f64::NAN));
        let p = Point(vec![
            Value::Real(0.2),
            Value::Real(0.2),
            Value::Real(0.5),
            Value::Integer(1),
            Value::Category(2),
        ]);
        assert!(!d.is_feasible(&p));
    }

    #[test]
    fn pull_toward_stays_feasible() {
        let d = mixed()
            .with_linear(LinearConstraint {
                terms: vec![(0, 1.0), (1, 1.0)],
                relation: Relation::LessEq,
                rhs: 0.5,
            })
            .unwrap();
        let anchor = Point(vec![
            Value::Real(0.1),
            Value::Real(0.1),
            Value::Real(0.5),
            Value::Integer(1),
            Value::Category(0),
        ]);
        let p = d.pull_toward(&[1.0, 1.0, 0.5, 0.5, 0.0], &anchor);
        assert!(d.is_feasible(&p));
        let s = p.0[0].as_f64() + p.0[1].as_f64();
        assert!(s > 0.45 && s <= 0.5 + 1e-9, "{s}");
    }
}
