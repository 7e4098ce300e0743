//! The ask/tell interface every strategy implements, and the history they share.
//!
//! Contract of a [`Strategy`]:
//! - `tell` appends observations (prior data before the first `ask` is a warm start); points
//!   that do not fit the domain are rejected with an error and nothing is recorded;
//! - `ask(n, pending)` returns at most `n` suggestions, each feasible (bounds, integers,
//!   categories, compositions, linear and non-linear constraints) and, in pool mode, a pool point
//!   neither observed nor pending nor suggested twice in the batch. It may return fewer than `n`
//!   only when a finite design or the pool is exhausted;
//! - the same seed and the same sequence of calls give the same suggestions.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use crate::domain::{Domain, Point, point_key};
use crate::error::{OptimizeError, Result};
use crate::objective::Objectives;
use crate::observation::{Observation, Suggestion};

/// A sequential experiment planner.
pub trait Strategy: Send + fmt::Debug {
    /// Short name written into explanations.
    fn name(&self) -> &'static str;
    /// Up to `n` new experiments; `pending` are experiments already running.
    fn ask(&mut self, n: usize, pending: &[Point]) -> Result<Vec<Suggestion>>;
    /// Records finished experiments.
    fn tell(&mut self, observations: &[Observation]) -> Result<()>;
    /// A transient campaign whose ramps the strategy is to choose (see `ramp.rs`). Returns
    /// whether it will: a strategy without a model of the score keeps the declared ramp.
    fn choose_ramps(&mut self, ramp: crate::ramp::RampSearch) -> bool {
        let _ = ramp;
        false
    }
}

/// Observations and the problem definition, shared by all strategies.
#[derive(Debug, Clone)]
pub(crate) struct History {
    pub domain: Arc<Domain>,
    pub objectives: Objectives,
    pub observations: Vec<Observation>,
}

impl History {
    pub fn new(domain: Arc<Domain>, objectives: Objectives) -> Self {
        History {
            domain,
            objectives,
            observations: Vec::new(),
        }
    }

    /// Validates and records observations.
    pub fn tell(&mut self, observations: &[Observation]) -> Result<()> {
        for o in observations {
            self.domain.check_point(&o.point)?;
        }
        self.observations.extend_from_slice(observations);
        Ok(())
    }

    /// Scalar utilities (higher is better; `None` = failed), aligned with the observations.
    pub fn utilities(&self, pareto_weights: Option<&[f64]>) -> Vec<Option<f64>> {
        self.objectives
            .scalarize(&self.observations, pareto_weights)
    }

    /// Keys of observed and pending points.
    pub fn taken(&self, pending: &[Point]) -> BTreeSet<Vec<u64>> {
        self.observations
            .iter()
            .map(|o| point_key(&o.point))
            .chain(pending.iter().map(point_key))
            .collect()
    }
}

/// Distance in model space used to snap to pool points: Euclidean over continuous and integer
/// coordinates, plus 1 per differing category.
pub(crate) fn model_distance2(domain: &Domain, a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .enumerate()
        .map(|(i, (x, y))| {
            if domain.levels_of(i).is_some() {
                if (x - y).abs() > 0.5 { 1.0 } else { 0.0 }
            } else {
                (x - y) * (x - y)
            }
        })
        .sum()
}

/// Nearest pool point (in model space) to `target` whose key is not in `taken`.
pub(crate) fn nearest_pool_point(
    domain: &Domain,
    target: &[f64],
    taken: &BTreeSet<Vec<u64>>,
) -> Option<Point> {
    let pool = domain.pool()?;
    pool.iter()
        .filter(|p| !taken.contains(&point_key(p)))
        .map(|p| (model_distance2(domain, &domain.to_model(p), target), p))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, p)| p.clone())
}

/// The check every built strategy sits behind: a suggestion that breaks a constraint or, in
/// pool mode, is not a pool point is an error and never becomes an experiment.
#[derive(Debug)]
pub(crate) struct Feasible {
    inner: Box<dyn Strategy>,
    domain: Arc<Domain>,
}

impl Feasible {
    pub fn new(inner: Box<dyn Strategy>, domain: Arc<Domain>) -> Self {
        Feasible { inner, domain }
    }
}

impl Strategy for Feasible {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn ask(&mut self, n: usize, pending: &[Point]) -> Result<Vec<Suggestion>> {
        let out = self.inner.ask(n, pending)?;
        let pool: Option<BTreeSet<Vec<u64>>> = self
            .domain
            .pool()
            .map(|pool| pool.iter().map(point_key).collect());
        for s in &out {
            let reason = self.domain.violation(&s.point).or_else(|| {
                pool.as_ref()
                    .filter(|keys| !keys.contains(&point_key(&s.point)))
                    .map(|_| "is not a point of the candidate pool".to_owned())
            });
            if let Some(reason) = reason {
                return Err(OptimizeError::InfeasibleSuggestion {
                    strategy: self.inner.name(),
                    reason,
                });
            }
        }
        Ok(out)
    }

    fn tell(&mut self, observations: &[Observation]) -> Result<()> {
        self.inner.tell(observations)
    }

    fn choose_ramps(&mut self, ramp: crate::ramp::RampSearch) -> bool {
        self.inner.choose_ramps(ramp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{LinearConstraint, Relation, Value, Variable};
    use crate::observation::Explanation;

    /// A strategy that suggests whatever it is given, feasible or not.
    #[derive(Debug)]
    struct Rogue(Vec<Point>);

    impl Strategy for Rogue {
        fn name(&self) -> &'static str {
            "rogue"
        }
        fn ask(&mut self, n: usize, _: &[Point]) -> Result<Vec<Suggestion>> {
            let take = n.min(self.0.len());
            Ok(self
                .0
                .drain(..take)
                .map(|point| Suggestion {
                    point,
                    explain: Explanation::default(),
                })
                .collect())
        }
        fn tell(&mut self, _: &[Observation]) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_suggestion_that_breaks_a_constraint_is_an_error_not_an_experiment() {
        let domain = Arc::new(
            Domain::new(vec![
                Variable::continuous("a", 0.0, 1.0),
                Variable::continuous("b", 0.0, 1.0),
            ])
            .unwrap()
            .with_linear(LinearConstraint {
                terms: vec![(0, 1.0), (1, 1.0)],
                relation: Relation::LessEq,
                rhs: 1.0,
            })
            .unwrap(),
        );
        let point = |a: f64, b: f64| Point(vec![Value::Real(a), Value::Real(b)]);
        let mut s = Feasible::new(
            Box::new(Rogue(vec![point(0.2, 0.3), point(0.75, 0.5)])),
            Arc::clone(&domain),
        );
        assert_eq!(s.ask(1, &[]).unwrap().len(), 1);
        let e = s.ask(1, &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "rogue suggested a point it must not: breaks a linear constraint on a + b: 1.25 is above 1"
        );
        let pooled = Arc::new(
            Domain::clone(&domain)
                .with_pool(vec![point(0.1, 0.1)])
                .unwrap(),
        );
        let mut s = Feasible::new(Box::new(Rogue(vec![point(0.2, 0.2)])), pooled);
        assert!(matches!(
            s.ask(1, &[]),
            Err(OptimizeError::InfeasibleSuggestion { reason, .. }) if reason.contains("pool")
        ));
    }
}
