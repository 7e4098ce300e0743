//! A small ensemble of neural networks as a surrogate of Bayesian optimisation (the belief model of
//! the Artificial Chemist, Epps et al., Adv. Mater. 32, 2001626, 2020).
//!
//! [`MEMBERS`] multilayer perceptrons with one hidden layer of [`HIDDEN`] tanh units, each started
//! from its own seeded random weights and trained by L-BFGS (full batch, at most [`ITERATIONS`]
//! steps) on the mean squared error plus an L2 penalty on the weights. Inputs are the model-space
//! coordinates: continuous and integer ones mapped to [−1, 1], categorical ones one-hot; targets
//! arrive standardised. The prediction is the members' mean and their variance plus the floor
//! [`VAR_FLOOR`] — the spread of independently initialised members, as in the deep ensembles of
//! Lakshminarayanan, Pritzel & Blundell (NeurIPS 2017) without their variance head, which a
//! handful of observations cannot train.
//!
//! Importances are permutation importances on the training data (Breiman, 2001): the increase
//! of the ensemble's mean squared error when one variable's column is shuffled (seeded, averaged
//! over [`PERMUTATIONS`] shuffles), negative increases counted as 0, normalised to sum to 1.
//!
//! Invariants: training is deterministic given the seed; predictions are finite for finite
//! inputs; the acquisition sees no gradient (as for the forest), so its search relies on its
//! candidates.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::forest::VAR_FLOOR;
use crate::gp::normal;
use crate::lbfgs;

/// Networks in the ensemble.
pub(crate) const MEMBERS: usize = 5;
/// Hidden units of each network.
pub(crate) const HIDDEN: usize = 16;
/// Most L-BFGS steps per network.
pub(crate) const ITERATIONS: usize = 200;
/// Weight of the anchored L2 penalty (toward each member's own initial parameters).
const ANCHOR_WEIGHT: f64 = 1e-3;
/// Shuffles per variable for the permutation importances.
const PERMUTATIONS: usize = 3;

/// One network's parameters, flattened: `w1` (`HIDDEN × inputs`), `b1`, `w2`, `b2`.
#[derive(Debug, Clone)]
struct Net {
    p: Vec<f64>,
}

/// A fitted ensemble.
#[derive(Debug, Clone)]
pub(crate) struct Ensemble {
    members: Vec<Net>,
    inputs: usize,
    levels: Vec<Option<usize>>,
    x: Vec<Vec<f64>>,
    y: Vec<f64>,
    seed: u64,
    importance: Vec<f64>,
}

/// The network inputs of a model-space point.
fn encode(levels: &[Option<usize>], x: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(levels.len());
    for (l, v) in levels.iter().zip(x) {
        match l {
            None => out.push(2.0 * v - 1.0),
            Some(n) => {
                let level = if v.is_finite() && *v > 0.0 {
                    v.round() as usize
                } else {
                    0
                };
                out.extend((0..*n).map(|k| if k == level { 1.0 } else { 0.0 }));
            }
        }
    }
    out
}

fn width(levels: &[Option<usize>]) -> usize {
    levels.iter().map(|l| l.unwrap_or(1)).sum()
}

fn forward(p: &[f64], inputs: usize, z: &[f64], hidden: &mut [f64]) -> f64 {
    let (w1, rest) = p.split_at(HIDDEN * inputs);
    let (b1, rest) = rest.split_at(HIDDEN);
    let (w2, b2) = rest.split_at(HIDDEN);
    let mut out = b2.first().copied().unwrap_or(0.0);
    for (k, h) in hidden.iter_mut().enumerate() {
        let row = &w1[k * inputs..(k + 1) * inputs];
        let a: f64 = b1[k] + row.iter().zip(z).map(|(w, v)| w * v).sum::<f64>();
        *h = a.tanh();
        out += w2[k] * *h;
    }
    out
}

/// Loss and gradient of one network on encoded data.
fn loss(p: &[f64], anchor: &[f64], inputs: usize, zs: &[Vec<f64>], y: &[f64]) -> (f64, Vec<f64>) {
    let n = zs.len().max(1) as f64;
    let mut g = vec![0.0; p.len()];
    let mut hidden = vec![0.0; HIDDEN];
    let mut value = 0.0;
    let w2_at = HIDDEN * inputs + HIDDEN;
    for (z, t) in zs.iter().zip(y) {
        let out = forward(p, inputs, z, &mut hidden);
        let r = out - t;
        value += 0.5 * r * r / n;
        let dr = r / n;
        g[w2_at + HIDDEN] += dr;
        for (k, h) in hidden.iter().enumerate() {
            g[w2_at + k] += dr * h;
            let da = dr * p[w2_at + k] * (1.0 - h * h);
            g[HIDDEN * inputs + k] += da;
            for (j, v) in z.iter().enumerate() {
                g[k * inputs + j] += da * v;
            }
        }
    }
    // Anchored L2: every parameter is pulled toward its own initial draw.
    for ((i, w), a) in p.iter().enumerate().zip(anchor) {
        value += 0.5 * ANCHOR_WEIGHT * (w - a).powi(2);
        g[i] += ANCHOR_WEIGHT * (w - a);
    }
    (value, g)
}

impl Ensemble {
    /// Trains [`MEMBERS`] networks on `(x, y)`; `levels[j]` is the number of levels of a
    /// categorical coordinate `j` and `None` otherwise.
    pub fn fit(x: &[Vec<f64>], y: &[f64], levels: &[Option<usize>], seed: u64) -> Self {
        let n = x.len().min(y.len());
        let x: Vec<Vec<f64>> = x.iter().take(n).cloned().collect();
        let y: Vec<f64> = y.iter().take(n).copied().collect();
        let inputs = width(levels);
        let zs: Vec<Vec<f64>> = x.iter().map(|v| encode(levels, v)).collect();
        let size = HIDDEN * inputs + 2 * HIDDEN + 1;
        let lo = vec![f64::NEG_INFINITY; size];
        let hi = vec![f64::INFINITY; size];
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let members = (0..MEMBERS)
            .map(|_| {
                let s1 = 1.0 / (inputs.max(1) as f64).sqrt();
                let s2 = 1.0 / (HIDDEN as f64).sqrt();
                let p0: Vec<f64> = (0..size)
                    .map(|i| {
                        if i < HIDDEN * inputs {
                            s1 * normal(&mut rng)
                        } else if i < HIDDEN * inputs + HIDDEN {
                            normal(&mut rng)
                        } else {
                            s2 * normal(&mut rng)
                        }
                    })
                    .collect();
                let f = |p: &[f64]| Some(loss(p, &p0, inputs, &zs, &y));
                let p =
                    lbfgs::minimize_tol(f, &p0, &lo, &hi, ITERATIONS, 8, 1e-9).map_or(p0, |m| m.x);
                Net { p }
            })
            .collect();
        let mut ensemble = Ensemble {
            members,
            inputs,
            levels: levels.to_vec(),
            x,
            y,
            seed,
            importance: Vec::new(),
        };
        ensemble.importance = ensemble.permutation_importance(&mut rng);
        ensemble
    }

    fn member_outputs(&self, x: &[f64]) -> impl Iterator<Item = f64> + '_ {
        let z = encode(&self.levels, x);
        let mut hidden = vec![0.0; HIDDEN];
        self.members
            .iter()
            .map(move |m| forward(&m.p, self.inputs, &z, &mut hidden))
    }

    /// Mean and variance at `x` (see the module documentation).
    pub fn predict(&self, x: &[f64]) -> (f64, f64) {
        let k = self.members.len().max(1) as f64;
        let (s, s2) = self
            .member_outputs(x)
            .fold((0.0, 0.0), |(s, s2), v| (s + v, s2 + v * v));
        let mean = s / k;
        let var = (s2 / k - mean * mean).max(0.0) + VAR_FLOOR;
        if mean.is_finite() && var.is_finite() {
            (mean, var)
        } else {
            (0.0, 1.0)
        }
    }

    fn mse(&self, xs: &[Vec<f64>]) -> f64 {
        let n = xs.len().max(1) as f64;
        xs.iter()
            .zip(&self.y)
            .map(|(x, t)| (self.predict(x).0 - t).powi(2))
            .sum::<f64>()
            / n
    }

    fn permutation_importance(&self, rng: &mut ChaCha8Rng) -> Vec<f64> {
        let base = self.mse(&self.x);
        let raw: Vec<f64> = (0..self.levels.len())
            .map(|j| {
                let mut total = 0.0;
                for _ in 0..PERMUTATIONS {
                    let mut column: Vec<f64> = self.x.iter().map(|x| x[j]).collect();
                    column.shuffle(rng);
                    let shuffled: Vec<Vec<f64>> = self
                        .x
                        .iter()
                        .zip(&column)
                        .map(|(x, c)| {
                            let mut x = x.clone();
                            x[j] = *c;
                            x
                        })
                        .collect();
                    total += (self.mse(&shuffled) - base).max(0.0);
                }
                total / PERMUTATIONS as f64
            })
            .collect();
        let sum: f64 = raw.iter().sum();
        raw.iter()
            .map(|v| if sum > 0.0 { v / sum } else { 0.0 })
            .collect()
    }

    /// The ensemble retrained with one more observation (same seed).
    pub fn with_point(&self, x: &[f64], y: f64) -> Self {
        let mut xs = self.x.clone();
        let mut ys = self.y.clone();
        xs.push(x.to_vec());
        ys.push(y);
        Ensemble::fit(&xs, &ys, &self.levels, self.seed)
    }

    /// Permutation importance per variable, summing to 1 (all 0 if nothing matters).
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
    use rand::Rng;

    fn points(n: usize, seed: u64) -> Vec<Vec<f64>> {
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
        let x = points(40, 1);
        let y: Vec<f64> = x.iter().map(|p| f(p)).collect();
        let e = Ensemble::fit(&x, &y, &[None, None, None], 5);
        let test = points(200, 2);
        let rmse = (test
            .iter()
            .map(|p| (e.predict(p).0 - f(p)).powi(2))
            .sum::<f64>()
            / 200.0)
            .sqrt();
        assert!(rmse < 0.05, "rmse {rmse}");
        // Far outside the data the members disagree more than at the data.
        let at_data = e.predict(&x[0]).1;
        let outside = e.predict(&[3.0, -2.0, 3.0]).1;
        assert!(outside > 10.0 * at_data, "{outside} vs {at_data}");
        let imp = e.importances();
        assert!((imp.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(imp[2] < imp[1] && imp[1] < imp[0], "{imp:?}");
    }

    #[test]
    fn categorical_inputs_are_one_hot_and_the_same_seed_gives_the_same_ensemble() {
        let x: Vec<Vec<f64>> = (0..12)
            .map(|i| vec![f64::from(i % 3), f64::from(i) / 11.0])
            .collect();
        let y: Vec<f64> = x.iter().map(|p| p[0] * 0.5 + p[1]).collect();
        let a = Ensemble::fit(&x, &y, &[Some(3), None], 8);
        let b = Ensemble::fit(&x, &y, &[Some(3), None], 8);
        let p = [2.0, 0.4];
        assert_eq!(a.predict(&p), b.predict(&p));
        assert!((a.predict(&p).0 - 1.4).abs() < 0.1, "{:?}", a.predict(&p));
        let c = a.with_point(&[1.0, 0.9], 3.0);
        assert!(c.predict(&[1.0, 0.9]).0 > 2.0);
    }
}
