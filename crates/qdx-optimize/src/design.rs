//! Model-free designs: random, full factorial grid, Latin hypercube, scrambled Sobol.
//!
//! Invariants: every suggestion is feasible (infeasible design points are repaired by projection
//! where the constraint allows it, otherwise skipped); in pool mode each design point is replaced
//! by the nearest pool point not yet observed, pending or suggested. The grid is finite and
//! returns fewer points once exhausted; the other designs never run out (a Latin hypercube starts
//! a new stratified batch of `n` when the previous one is used up).

use std::collections::BTreeSet;
use std::sync::Arc;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::domain::{Domain, Point, Value, Variable, point_key};
use crate::error::{OptimizeError, Result};
use crate::objective::Objectives;
use crate::observation::{Explanation, Observation, Suggestion};
use crate::sobol::Sobol;
use crate::strategy::{History, Strategy, nearest_pool_point};

/// Which space-filling design.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DesignKind {
    /// Independent uniform draws.
    Random,
    /// Full factorial with the given number of levels per variable (categorical variables use
    /// all their levels; integers at most their number of values).
    Grid {
        /// Levels per variable, in variable order.
        levels: Vec<usize>,
    },
    /// Latin hypercube in batches of `n` (best of several by minimum distance).
    LatinHypercube {
        /// Batch size.
        n: usize,
    },
    /// Scrambled Sobol.
    Sobol,
}

impl DesignKind {
    fn name(&self) -> &'static str {
        match self {
            DesignKind::Random => "random",
            DesignKind::Grid { .. } => "grid",
            DesignKind::LatinHypercube { .. } => "latin_hypercube",
            DesignKind::Sobol => "sobol",
        }
    }
}

/// Attempts per suggestion before declaring the constraints infeasible.
const MAX_ATTEMPTS: usize = 20_000;

/// A design used as a strategy (also the initial phase of model-based strategies).
#[derive(Debug, Clone)]
pub struct Design {
    kind: DesignKind,
    history: History,
    rng: ChaCha8Rng,
    sobol: Option<Sobol>,
    queue: Vec<Vec<f64>>,
    grid: Option<Vec<Point>>,
    grid_cursor: usize,
}

impl Design {
    /// A design over `domain`.
    pub fn new(
        kind: DesignKind,
        domain: Arc<Domain>,
        objectives: Objectives,
        seed: u64,
    ) -> Result<Self> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let sobol = matches!(kind, DesignKind::Sobol).then(|| Sobol::new(domain.dim(), &mut rng));
        let grid = match &kind {
            DesignKind::Grid { levels } => Some(grid_points(&domain, levels)?),
            DesignKind::LatinHypercube { n } if *n == 0 => {
                return Err(OptimizeError::InvalidOption {
                    strategy: "latin_hypercube",
                    reason: "the batch size n must be at least 1".into(),
                });
            }
            _ => None,
        };
        Ok(Design {
            kind,
            history: History::new(domain, objectives),
            rng,
            sobol,
            queue: Vec::new(),
            grid,
            grid_cursor: 0,
        })
    }

    /// The next raw design point in the unit cube.
    fn next_cube(&mut self) -> Vec<f64> {
        let dim = self.history.domain.dim();
        match &self.kind {
            DesignKind::Random | DesignKind::Grid { .. } => {
                self.history.domain.draw_cube(&mut self.rng)
            }
            DesignKind::Sobol => match &mut self.sobol {
                Some(s) => s.next_point(),
                None => self.history.domain.draw_cube(&mut self.rng),
            },
            DesignKind::LatinHypercube { n } => {
                if self.queue.is_empty() {
                    let n = *n;
                    self.queue = best_lhs(dim, n, &mut self.rng);
                    self.queue.reverse(); // pop from the back in generation order
                }
                self.queue.pop().unwrap_or_else(|| vec![0.5; dim])
            }
        }
    }

    fn explain(&self, phase: &str) -> Explanation {
        Explanation {
            strategy: self.kind.name().to_string(),
            phase: phase.to_string(),
            ..Explanation::default()
        }
    }

    /// Up to `n` design points avoiding `taken` (pool mode) and each other.
    pub(crate) fn draw(&mut self, n: usize, taken: &mut BTreeSet<Vec<u64>>) -> Result<Vec<Point>> {
        let domain = Arc::clone(&self.history.domain);
        let mut out = Vec::with_capacity(n);
        if let Some(grid) = &self.grid {
            while out.len() < n && self.grid_cursor < grid.len() {
                let p = &grid[self.grid_cursor];
                self.grid_cursor += 1;
                if taken.insert(point_key(p)) {
                    out.push(p.clone());
                }
            }
            return Ok(out);
        }
        if let Some(pool) = domain.pool() {
            if matches!(self.kind, DesignKind::Random) {
                let mut free: Vec<&Point> = pool
                    .iter()
                    .filter(|p| !taken.contains(&point_key(p)))
                    .collect();
                free.shuffle(&mut self.rng);
                for p in free.into_iter().take(n) {
                    taken.insert(point_key(p));
                    out.push(p.clone());
                }
                return Ok(out);
            }
            while out.len() < n {
                let u = self.next_cube();
                let target = domain.to_model(&domain.from_cube(&u));
                match nearest_pool_point(&domain, &target, taken) {
                    Some(p) => {
                        taken.insert(point_key(&p));
                        out.push(p);
                    }
                    None => break,
                }
            }
            return Ok(out);
        }
        let mut attempts = 0;
        while out.len() < n {
            let u = self.next_cube();
            attempts += 1;
            if let Some(p) = domain.repair(&domain.from_cube(&u))
                && taken.insert(point_key(&p))
            {
                out.push(p);
                attempts = 0;
            } else if attempts >= MAX_ATTEMPTS {
                return Err(OptimizeError::Infeasible { attempts });
            }
        }
        Ok(out)
    }
}

impl Strategy for Design {
    fn name(&self) -> &'static str {
        self.kind.name()
    }

    fn ask(&mut self, n: usize, pending: &[Point]) -> Result<Vec<Suggestion>> {
        let mut taken = self.history.taken(pending);
        let pts = self.draw(n, &mut taken)?;
        let e = self.explain("design");
        Ok(pts
            .into_iter()
            .map(|point| Suggestion {
                point,
                explain: e.clone(),
            })
            .collect())
    }

    fn tell(&mut self, observations: &[Observation]) -> Result<()> {
        self.history.tell(observations)
    }
}

/// Latin hypercube of `n` points: each dimension has one point per stratum `[k/n, (k+1)/n)`.
/// The best of a few random hypercubes by minimum pairwise distance is kept.
pub(crate) fn best_lhs<R: Rng>(dim: usize, n: usize, rng: &mut R) -> Vec<Vec<f64>> {
    let mut best: Vec<Vec<f64>> = Vec::new();
    let mut best_score = f64::NEG_INFINITY;
    for _ in 0..8 {
        let mut pts = vec![vec![0.0; dim]; n];
        for d in 0..dim {
            let mut perm: Vec<usize> = (0..n).collect();
            perm.shuffle(rng);
            for (p, k) in pts.iter_mut().zip(perm) {
                p[d] = (k as f64 + rng.random::<f64>()) / n as f64;
            }
        }
        let mut min_d = f64::INFINITY;
        for i in 0..n {
            for j in (i + 1)..n {
                let d: f64 = pts[i]
                    .iter()
                    .zip(&pts[j])
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
                min_d = min_d.min(d);
            }
        }
        if min_d > best_score || best.is_empty() {
            best_score = min_d;
            best = pts;
        }
    }
    best
}

/// Every feasible point of the full factorial (mixed-radix order, first variable slowest).
fn grid_points(domain: &Domain, levels: &[usize]) -> Result<Vec<Point>> {
    let bad = |reason: String| OptimizeError::InvalidOption {
        strategy: "grid",
        reason,
    };
    if levels.len() != domain.dim() {
        return Err(bad(format!(
            "{} level counts given for {} variables",
            levels.len(),
            domain.dim()
        )));
    }
    let axes: Vec<Vec<Value>> = domain
        .variables()
        .iter()
        .zip(levels)
        .map(|(v, &k)| match v {
            Variable::Continuous {
                name,
                lo,
                hi,
                log_scale,
            } => {
                if k == 0 {
                    return Err(bad(format!("variable `{name}` needs at least one level")));
                }
                Ok((0..k)
                    .map(|i| {
                        let t = if k == 1 {
                            0.5
                        } else {
                            i as f64 / (k - 1) as f64
                        };
                        let x = if *log_scale {
                            (lo.ln() + t * (hi.ln() - lo.ln())).exp()
                        } else {
                            lo + t * (hi - lo)
                        };
                        Value::Real(x.clamp(*lo, *hi))
                    })
                    .collect())
            }
            Variable::Integer { name, lo, hi } => {
                if k == 0 {
                    return Err(bad(format!("variable `{name}` needs at least one level")));
                }
                let span = (hi - lo) as f64;
                let mut vals: Vec<i64> = (0..k)
                    .map(|i| {
                        let t = if k == 1 {
                            0.5
                        } else {
                            i as f64 / (k - 1) as f64
                        };
                        lo + (t * span).round() as i64
                    })
                    .collect();
                vals.dedup();
                Ok(vals.into_iter().map(Value::Integer).collect())
            }
            Variable::Categorical { levels, .. } => {
                Ok((0..levels.len()).map(Value::Category).collect())
            }
        })
        .collect::<Result<_>>()?;
    let total: f64 = axes.iter().map(|a| a.len() as f64).product();
    if total > 1e6 {
        return Err(bad(format!(
            "the grid has {total} points; at most 1 000 000 are allowed"
        )));
    }
    let mut out = Vec::new();
    let mut idx = vec![0usize; axes.len()];
    loop {
        let p = Point(idx.iter().zip(&axes).map(|(&i, a)| a[i]).collect());
        if domain.is_feasible(&p) {
            out.push(p);
        }
        // Increment the mixed-radix counter, last variable fastest.
        let mut d = axes.len();
        loop {
            if d == 0 {
                return Ok(out);
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < axes[d].len() {
                break;
            }
            idx[d] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objective::{Goal, Objective};

    fn objectives() -> Objectives {
        Objectives::single(Objective::new("y", Goal::Maximize))
    }

    fn domain() -> Arc<Domain> {
        Arc::new(
            Domain::new(vec![
                Variable::continuous("x", 0.0, 1.0),
                Variable::integer("n", 1, 3),
                Variable::categorical("c", &["a", "b"]),
            ])
            .unwrap(),
        )
    }

    #[test]
    fn grid_enumerates_full_factorial_then_stops() {
        let mut g = Design::new(
            DesignKind::Grid {
                levels: vec![3, 5, 0],
            },
            domain(),
            objectives(),
            1,
        )
        .unwrap();
        let pts = g.ask(100, &[]).unwrap();
        assert_eq!(pts.len(), 3 * 3 * 2);
        assert_eq!(
            pts[0].point,
            Point(vec![
                Value::Real(0.0),
                Value::Integer(1),
                Value::Category(0)
            ])
        );
        assert_eq!(
            pts[1].point,
            Point(vec![
                Value::Real(0.0),
                Value::Integer(1),
                Value::Category(1)
            ])
        );
        assert!(g.ask(5, &[]).unwrap().is_empty());
    }

    #[test]
    fn grid_rejects_wrong_level_counts() {
        assert!(
            Design::new(
                DesignKind::Grid { levels: vec![3] },
                domain(),
                objectives(),
                1
            )
            .is_err()
        );
    }

    #[test]
    fn lhs_is_stratified() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let pts = best_lhs(3, 10, &mut rng);
        for d in 0..3 {
            let mut cells: Vec<usize> = pts.iter().map(|p| (p[d] * 10.0) as usize).collect();
            cells.sort_unstable();
            assert_eq!(cells, (0..10).collect::<Vec<_>>());
        }
    }

    #[test]
    fn pool_mode_never_repeats_and_exhausts() {
        let pool: Vec<Point> = (0..5)
            .map(|i| {
                Point(vec![
                    Value::Real(i as f64 / 4.0),
                    Value::Integer(1),
                    Value::Category(i % 2),
                ])
            })
            .collect();
        let d = Arc::new(Domain::clone(&domain()).with_pool(pool.clone()).unwrap());
        for kind in [
            DesignKind::Random,
            DesignKind::Sobol,
            DesignKind::LatinHypercube { n: 3 },
        ] {
            let mut s = Design::new(kind, Arc::clone(&d), objectives(), 2).unwrap();
            let first = s.ask(3, &[pool[0].clone()]).unwrap();
            assert_eq!(first.len(), 3);
            assert!(
                first
                    .iter()
                    .all(|p| p.point != pool[0] && pool.contains(&p.point))
            );
            let rest = s
                .ask(
                    3,
                    &[pool[0].clone()]
                        .iter()
                        .cloned()
                        .chain(first.iter().map(|s| s.point.clone()))
                        .collect::<Vec<_>>(),
                )
                .unwrap();
            assert_eq!(rest.len(), 1);
        }
    }
}
