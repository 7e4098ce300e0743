//! Extremely randomised trees (extra-trees; Geurts, Ernst & Wehenkel, Machine Learning 63, 2006)
//! for regression, as a surrogate of Bayesian optimisation.
//!
//! Why extra-trees rather than a bootstrap random forest: a campaign fits 5 to 100 experiments,
//! and a bootstrap sample of 10 leaves a third of them out of every tree; extra-trees grow each
//! tree on all the data and randomise the split thresholds instead (uniform between the node's
//! smallest and largest value of the variable), so the mean interpolates the observations and the
//! trees disagree smoothly between them — the spread that the acquisition needs.
//!
//! Each node draws one random split per variable (a threshold for continuous and integer
//! coordinates, a random two-way partition of the levels for a categorical one: levels not seen
//! at the node go to a random side, so an untried level inherits the trees' disagreement) and
//! keeps the one that reduces the squared error most; nodes split until they hold one distinct
//! input. A leaf stores the mean and variance of its targets.
//!
//! The predictive distribution follows SMAC's random forest (Hutter, Xu, Hoos & Leyton-Brown,
//! "Algorithm runtime prediction", Artificial Intelligence 206, 2014, §4.3.2): the mean of the
//! trees' leaf means, and by the law of total variance the mean of the leaf variances plus the
//! variance of the leaf means, with a floor of [`VAR_FLOOR`] (in units of the standardised
//! targets) so that log EI stays finite and a measured point keeps a small value.
//!
//! Importances are the mean decrease in impurity (Breiman's MDI: the squared-error reduction of
//! every split on a variable, summed over the trees, normalised to sum to 1).
//!
//! Invariants: fitting is deterministic given the seed; predictions are finite for finite inputs;
//! the gradient of a forest is zero (it is piecewise constant), so the acquisition search relies
//! on its candidates, not on gradient steps.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Trees in a forest.
pub(crate) const TREES: usize = 100;
/// Smallest predictive variance (standardised target units): 1 % of the data's sd.
pub(crate) const VAR_FLOOR: f64 = 1e-4;

#[derive(Debug, Clone)]
enum Node {
    Leaf {
        mean: f64,
        var: f64,
    },
    /// `x[feature] < threshold` goes left.
    Threshold {
        feature: usize,
        threshold: f64,
        left: usize,
        right: usize,
    },
    /// Levels with `left_levels[level]` go left.
    Levels {
        feature: usize,
        left_levels: Vec<bool>,
        left: usize,
        right: usize,
    },
}

#[derive(Debug, Clone)]
struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    fn leaf(&self, x: &[f64]) -> (f64, f64) {
        let mut i = 0;
        // A tree of n samples has fewer than 2n nodes; the bound only guards against a cycle.
        for _ in 0..=self.nodes.len() {
            match self.nodes.get(i) {
                Some(Node::Leaf { mean, var }) => return (*mean, *var),
                Some(Node::Threshold {
                    feature,
                    threshold,
                    left,
                    right,
                }) => {
                    let v = x.get(*feature).copied().unwrap_or(0.0);
                    i = if v < *threshold { *left } else { *right };
                }
                Some(Node::Levels {
                    feature,
                    left_levels,
                    left,
                    right,
                }) => {
                    let level = level_of(x.get(*feature).copied().unwrap_or(0.0));
                    let goes_left = left_levels.get(level).copied().unwrap_or(false);
                    i = if goes_left { *left } else { *right };
                }
                None => break,
            }
        }
        (0.0, 0.0)
    }
}

fn level_of(v: f64) -> usize {
    if v.is_finite() && v > 0.0 {
        v.round() as usize
    } else {
        0
    }
}

/// A fitted extra-trees regressor.
#[derive(Debug, Clone)]
pub(crate) struct Forest {
    trees: Vec<Tree>,
    /// Training inputs and targets (kept for the kriging believer's refits).
    x: Vec<Vec<f64>>,
    y: Vec<f64>,
    /// Levels of each categorical coordinate (`None`: continuous or integer).
    levels: Vec<Option<usize>>,
    seed: u64,
    importance: Vec<f64>,
}

/// The squared error of `y` over `idx` around its mean.
fn sse(y: &[f64], idx: &[usize]) -> f64 {
    if idx.is_empty() {
        return 0.0;
    }
    let m = idx.iter().map(|i| y[*i]).sum::<f64>() / idx.len() as f64;
    idx.iter().map(|i| (y[*i] - m).powi(2)).sum()
}

enum Split {
    Threshold(f64),
    Levels(Vec<bool>),
}

struct Builder<'a> {
    x: &'a [Vec<f64>],
    y: &'a [f64],
    levels: &'a [Option<usize>],
    importance: Vec<f64>,
    nodes: Vec<Node>,
}

impl Builder<'_> {
    fn goes_left(&self, i: usize, feature: usize, split: &Split) -> bool {
        let v = self.x[i][feature];
        match split {
            Split::Threshold(t) => v < *t,
            Split::Levels(l) => l.get(level_of(v)).copied().unwrap_or(false),
        }
    }

    /// One random split of `feature` at a node holding `idx`, or `None` if it is constant there.
    fn draw(&self, idx: &[usize], feature: usize, rng: &mut ChaCha8Rng) -> Option<Split> {
        match self.levels[feature] {
            None => {
                let (lo, hi) = idx
                    .iter()
                    .map(|i| self.x[*i][feature])
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                        (lo.min(v), hi.max(v))
                    });
                // Thresholds in (lo, hi]: at least the largest value goes right.
                (hi > lo).then(|| Split::Threshold(lo + (hi - lo) * (1.0 - rng.random::<f64>())))
            }
            Some(n) => {
                let mut present = vec![false; n.max(1)];
                for i in idx {
                    if let Some(p) = present.get_mut(level_of(self.x[*i][feature])) {
                        *p = true;
                    }
                }
                let seen: Vec<usize> = (0..present.len()).filter(|l| present[*l]).collect();
                if seen.len() < 2 {
                    return None;
                }
                let mut left: Vec<bool> = (0..present.len()).map(|_| rng.random()).collect();
                // Both sides get at least one level seen here.
                let a = rng.random_range(0..seen.len());
                let mut b = rng.random_range(0..seen.len() - 1);
                if b >= a {
                    b += 1;
                }
                left[seen[a]] = true;
                left[seen[b]] = false;
                Some(Split::Levels(left))
            }
        }
    }

    fn grow(&mut self, idx: Vec<usize>, rng: &mut ChaCha8Rng) -> usize {
        let here = self.nodes.len();
        let total = sse(self.y, &idx);
        let n = idx.len() as f64;
        let mean = idx.iter().map(|i| self.y[*i]).sum::<f64>() / n.max(1.0);
        self.nodes.push(Node::Leaf {
            mean,
            var: total / n.max(1.0),
        });
        if idx.len() < 2 || total <= 0.0 {
            return here;
        }
        let mut best: Option<(f64, usize, Split)> = None;
        for feature in 0..self.levels.len() {
            let Some(split) = self.draw(&idx, feature, rng) else {
                continue;
            };
            let (l, r): (Vec<usize>, Vec<usize>) = idx
                .iter()
                .partition(|i| self.goes_left(**i, feature, &split));
            if l.is_empty() || r.is_empty() {
                continue;
            }
            let gain = total - sse(self.y, &l) - sse(self.y, &r);
            if best.as_ref().is_none_or(|(g, _, _)| gain > *g) {
                best = Some((gain, feature, split));
            }
        }
        let Some((gain, feature, split)) = best else {
            return here;
        };
        if let Some(imp) = self.importance.get_mut(feature) {
            *imp += gain.max(0.0);
        }
        let (l, r): (Vec<usize>, Vec<usize>) = idx
            .iter()
            .partition(|i| self.goes_left(**i, feature, &split));
        let left = self.grow(l, rng);
        let right = self.grow(r, rng);
        self.nodes[here] = match split {
            Split::Threshold(threshold) => Node::Threshold {
                feature,
                threshold,
                left,
                right,
            },
            Split::Levels(left_levels) => Node::Levels {
                feature,
                left_levels,
                left,
                right,
            },
        };
        here
    }
}

impl Forest {
    /// Fits [`TREES`] trees to `(x, y)`; `levels[j]` is the number of levels of a categorical
    /// coordinate `j` (its model-space value is the level index) and `None` otherwise.
    pub fn fit(x: &[Vec<f64>], y: &[f64], levels: &[Option<usize>], seed: u64) -> Self {
        let n = x.len().min(y.len());
        let x: Vec<Vec<f64>> = x.iter().take(n).cloned().collect();
        let y: Vec<f64> = y.iter().take(n).copied().collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut builder = Builder {
            x: &x,
            y: &y,
            levels,
            importance: vec![0.0; levels.len()],
            nodes: Vec::new(),
        };
        let mut trees = Vec::with_capacity(TREES);
        for _ in 0..TREES {
            builder.nodes = Vec::with_capacity(2 * n);
            builder.grow((0..n).collect(), &mut rng);
            trees.push(Tree {
                nodes: std::mem::take(&mut builder.nodes),
            });
        }
        let total: f64 = builder.importance.iter().sum();
        let importance = builder
            .importance
            .iter()
            .map(|v| if total > 0.0 { v / total } else { 0.0 })
            .collect();
        Forest {
            trees,
            x,
            y,
            levels: levels.to_vec(),
            seed,
            importance,
        }
    }

    /// Mean and variance at `x` (see the module documentation).
    pub fn predict(&self, x: &[f64]) -> (f64, f64) {
        let k = self.trees.len().max(1) as f64;
        let (mut s, mut s2, mut within) = (0.0, 0.0, 0.0);
        for t in &self.trees {
            let (m, v) = t.leaf(x);
            s += m;
            s2 += m * m;
            within += v;
        }
        let mean = s / k;
        let var = (within / k + (s2 / k - mean * mean)).max(0.0) + VAR_FLOOR;
        (mean, var)
    }

    /// The forest refitted with one more observation (same seed).
    pub fn with_point(&self, x: &[f64], y: f64) -> Self {
        let mut xs = self.x.clone();
        let mut ys = self.y.clone();
        xs.push(x.to_vec());
        ys.push(y);
        Forest::fit(&xs, &ys, &self.levels, self.seed)
    }

    /// Mean decrease in impurity per variable, summing to 1 (all 0 for constant targets).
    pub fn importances(&self) -> &[f64] {
        &self.importance
    }

    /// The training inputs.
    pub fn inputs(&self) -> &[Vec<f64>] {
        &self.x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(n: usize, seed: u64) -> Vec<Vec<f64>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| vec![rng.random(), rng.random(), rng.random()])
            .collect()
    }

    fn f(x: &[f64]) -> f64 {
        (3.0 * x[0]).sin() + 2.0 * (x[1] - 0.5).powi(2)
    }

    #[test]
    fn fits_a_smooth_function_and_ranks_a_dummy_variable_last() {
        let x = grid(80, 1);
        let y: Vec<f64> = x.iter().map(|p| f(p)).collect();
        let forest = Forest::fit(&x, &y, &[None, None, None], 7);
        // Held-out error well below the function's spread (sd ≈ 0.3).
        let test = grid(200, 2);
        let rmse = (test
            .iter()
            .map(|p| (forest.predict(p).0 - f(p)).powi(2))
            .sum::<f64>()
            / 200.0)
            .sqrt();
        assert!(rmse < 0.1, "rmse {rmse}");
        // At a training point the mean is the observation and the variance the floor.
        let (m, v) = forest.predict(&x[3]);
        assert!((m - y[3]).abs() < 1e-12 && (v - VAR_FLOOR).abs() < 1e-12);
        // Between observations the trees disagree.
        assert!(test.iter().any(|p| forest.predict(p).1 > 10.0 * VAR_FLOOR));
        let imp = forest.importances();
        assert!((imp.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(imp[2] < imp[1] && imp[1] < imp[0], "{imp:?}");
    }

    #[test]
    fn categorical_levels_split_by_partition_and_unseen_levels_are_uncertain() {
        // Level 1 is good, 0 bad, level 2 never observed.
        let x: Vec<Vec<f64>> = (0..20)
            .map(|i| vec![f64::from(i % 2), f64::from(i) / 19.0])
            .collect();
        let y: Vec<f64> = x
            .iter()
            .map(|p| if p[0] == 1.0 { 1.0 } else { 0.0 })
            .collect();
        let forest = Forest::fit(&x, &y, &[Some(3), None], 3);
        assert!(forest.predict(&[1.0, 0.33]).0 > 0.99);
        assert!(forest.predict(&[0.0, 0.33]).0 < 0.01);
        let (m, v) = forest.predict(&[2.0, 0.33]);
        assert!(m > 0.2 && m < 0.8 && v > 0.1, "{m} ± {v}");
        assert!(forest.importances()[0] > 0.99);
    }

    #[test]
    fn the_same_seed_gives_the_same_forest() {
        let x = grid(30, 4);
        let y: Vec<f64> = x.iter().map(|p| f(p)).collect();
        let a = Forest::fit(&x, &y, &[None, None, None], 9);
        let b = Forest::fit(&x, &y, &[None, None, None], 9);
        let c = Forest::fit(&x, &y, &[None, None, None], 10);
        let p = [0.31, 0.72, 0.05];
        assert_eq!(a.predict(&p), b.predict(&p));
        assert_ne!(a.predict(&p), c.predict(&p));
        let d = a.with_point(&p, 5.0);
        assert!(d.predict(&p).0 > 4.9);
    }
}
