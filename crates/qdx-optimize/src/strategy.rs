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
use crate::error::Result;
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
