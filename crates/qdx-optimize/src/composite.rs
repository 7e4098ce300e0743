//! Composite Bayesian optimisation: one GP per measured value the objectives read, and an
//! acquisition that pushes their predictive distributions through the known score.
//!
//! The combined score of a campaign (desirability, weighted sum, the utility of a target) is a
//! known, non-smooth function of a few measured values. A GP of the score sees its kinks and
//! plateaus; a GP of each value sees smooth responses, and the score is applied afterwards.
//! At a point `x` each value's GP gives `N(μₖ(x), σₖ(x)²)`; with fixed base samples
//! `εₛₖ ~ N(0, 1)` (quasi-random, drawn once per suggestion from the seed and reused for every
//! candidate, so the acquisition is a deterministic, smooth function of `x`) the score samples
//! are `gₛ = g(μ(x) + σ(x) ∘ εₛ)` and the acquisition is
//! `ln( (1/S) Σₛ τ·softplus((gₛ − best)/τ) )` — Monte-Carlo expected improvement with the
//! `max(0, ·)` smoothed so that it never vanishes (the log-EI of Ament et al., 2023), computed in
//! log space. `best` is the best score of the posterior means at the successful observations
//! (the best observed score when the GPs interpolate; robust to noise otherwise).
//!
//! With `surrogate extra_trees` or `nn_ensemble` each value's model is that surrogate instead
//! of a GP ([`Regressor`]); the acquisition is the same, without gradients (see `learned.rs`).
//!
//! Invariants: the score is [`Objectives::combined_of`] with the ranges
//! [`Objectives::observed_ranges`] gives, i.e. exactly what `observations.csv` reports; values
//! and gradients are finite for finite inputs; the GPs are independent (one per value, each with
//! its own hyperparameters, all on the same normalised inputs).

use rand::Rng;

use crate::acquisition::{self, norm_cdf};
use crate::error::Result;
use crate::gp::Gp;
use crate::learned::Regressor;
use crate::mean::MeanAt;
use crate::objective::Objectives;
use crate::sobol::Sobol;

/// Base samples of the Monte-Carlo acquisition.
pub(crate) const BASE_SAMPLES: usize = 64;
/// Softness of the improvement, as a fraction of the spread of the observed scores.
pub(crate) const TAU_FRACTION: f64 = 1e-4;
/// Batches and pending experiments: the quantile of the score samples whose values a chosen
/// point is believed to give (Φ(−1), the normal's "one sd below the mean").
pub(crate) const BELIEF_QUANTILE: f64 = 0.158_655_253_931_457_05;

/// One measured value's model (a GP or a learned surrogate, see `learned.rs`); it models
/// `(y − m(x) − shift) / scale`, with `m` the fitted prior mean where the campaign gives one
/// for this value (see `mean.rs`), else 0.
#[derive(Debug, Clone)]
pub(crate) struct ValueModel {
    pub model: Regressor,
    pub shift: f64,
    pub scale: f64,
    pub mean: Option<MeanAt>,
}

/// One value's prediction in its own units: mean, sd and their gradients.
#[derive(Debug, Clone)]
pub(crate) struct ValuePrediction {
    pub mean: f64,
    pub sd: f64,
    pub dmean: Vec<f64>,
    pub dsd: Vec<f64>,
}

impl ValueModel {
    pub fn predict(&self, x: &[f64], grad: bool) -> ValuePrediction {
        let p = self.model.predict(x, grad);
        let sd = p.var.sqrt().max(1e-12);
        let (m, dm) = match &self.mean {
            Some(mean) => mean.with_gradient(x, grad),
            None => (0.0, Vec::new()),
        };
        let mut dmean: Vec<f64> = p.dmean.iter().map(|d| self.scale * d).collect();
        for (d, g) in dmean.iter_mut().zip(&dm) {
            *d += g;
        }
        ValuePrediction {
            mean: m + self.shift + self.scale * p.mean,
            sd: self.scale * sd,
            dmean,
            dsd: p.dvar.iter().map(|d| self.scale * d / (2.0 * sd)).collect(),
        }
    }
}

/// The composite acquisition surface.
#[derive(Debug)]
pub(crate) struct CompositeModel<'a> {
    pub values: Vec<ValueModel>,
    objectives: &'a Objectives,
    ranges: Vec<Option<(f64, f64)>>,
    base: Vec<Vec<f64>>,
    pub best: f64,
    tau: f64,
    pub feasibility: Option<&'a Gp>,
}

impl<'a> CompositeModel<'a> {
    /// The surface over `values` (aligned with the objectives), the score's ranges, base
    /// samples, the successful observations' inputs (for the incumbent) and the spread of
    /// their observed scores (for the softness).
    pub fn new(
        values: Vec<ValueModel>,
        objectives: &'a Objectives,
        ranges: Vec<Option<(f64, f64)>>,
        base: Vec<Vec<f64>>,
        successes: &[Vec<f64>],
        spread: f64,
        feasibility: Option<&'a Gp>,
    ) -> Self {
        let mut model = CompositeModel {
            values,
            objectives,
            ranges,
            base,
            best: f64::NEG_INFINITY,
            tau: 1.0,
            feasibility,
        };
        model.best = successes
            .iter()
            .filter_map(|x| model.score_at_mean(x))
            .fold(f64::NEG_INFINITY, f64::max);
        let scale = if spread.is_finite() && spread > 0.0 {
            spread
        } else {
            model.best.abs().max(1.0)
        };
        model.tau = TAU_FRACTION * scale;
        model
    }

    /// The score of the predicted means at `x`.
    pub fn score_at_mean(&self, x: &[f64]) -> Option<f64> {
        let ys: Vec<f64> = self
            .values
            .iter()
            .map(|v| v.predict(x, false).mean)
            .collect();
        self.objectives
            .combined_of(&ys, &self.ranges, false)
            .map(|(g, _)| g)
    }

    /// Mean and sd of the score samples at `x` (for the suggestion's explanation).
    pub fn score_distribution(&self, x: &[f64]) -> (f64, f64) {
        let preds: Vec<ValuePrediction> = self.values.iter().map(|v| v.predict(x, false)).collect();
        let samples: Vec<f64> = self
            .base
            .iter()
            .filter_map(|e| self.sample(&preds, e, false).map(|(g, _)| g))
            .collect();
        let n = samples.len().max(1) as f64;
        let mean = samples.iter().sum::<f64>() / n;
        let var = samples.iter().map(|g| (g - mean) * (g - mean)).sum::<f64>() / n;
        (mean, var.sqrt())
    }

    /// The score at one base sample and its derivative in each value.
    fn sample(
        &self,
        preds: &[ValuePrediction],
        eps: &[f64],
        grad: bool,
    ) -> Option<(f64, Vec<f64>)> {
        let ys: Vec<f64> = preds
            .iter()
            .zip(eps)
            .map(|(p, e)| p.mean + p.sd * e)
            .collect();
        self.objectives.combined_of(&ys, &self.ranges, grad)
    }

    /// Log of the smoothed Monte-Carlo expected improvement (plus `ln P(success)` with a
    /// feasibility model), with its gradient in `x` when `grad`.
    pub fn value(&self, x: &[f64], grad: bool) -> (f64, Vec<f64>) {
        let d = x.len();
        let preds: Vec<ValuePrediction> = self.values.iter().map(|v| v.predict(x, grad)).collect();
        // Per sample: ln(τ·softplus(z/τ)), its derivative in z, and dz/dx.
        let mut logs: Vec<f64> = Vec::with_capacity(self.base.len());
        let mut grads: Vec<Vec<f64>> = Vec::new();
        for eps in &self.base {
            let Some((g, dg)) = self.sample(&preds, eps, grad) else {
                continue;
            };
            let u = (g - self.best) / self.tau;
            let (ls, dls) = log_softplus(u);
            logs.push(self.tau.ln() + ls);
            if grad {
                // d/dx of ln(τ softplus(u)) = dls/du · (1/τ) · Σₖ ∂g/∂yₖ (dμₖ + εₖ dσₖ).
                let mut gx = vec![0.0; d];
                for ((p, e), dgk) in preds.iter().zip(eps).zip(&dg) {
                    if *dgk == 0.0 {
                        continue;
                    }
                    for (j, gj) in gx.iter_mut().enumerate() {
                        *gj += dgk * (p.dmean[j] + e * p.dsd[j]);
                    }
                }
                let f = dls / self.tau;
                grads.push(gx.into_iter().map(|v| v * f).collect());
            }
        }
        if logs.is_empty() {
            return (f64::NEG_INFINITY, vec![0.0; if grad { d } else { 0 }]);
        }
        let top = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let weights: Vec<f64> = logs.iter().map(|l| (l - top).exp()).collect();
        let total: f64 = weights.iter().sum();
        let mut value = top + total.ln() - (self.base.len() as f64).ln();
        let mut g = Vec::new();
        if grad {
            g = vec![0.0; d];
            for (w, gs) in weights.iter().zip(&grads) {
                for (a, b) in g.iter_mut().zip(gs) {
                    *a += w / total * b;
                }
            }
        }
        if let Some(f) = self.feasibility {
            let (lp, gp) = acquisition::log_feasibility(f, x, grad);
            value += lp;
            for (a, b) in g.iter_mut().zip(gp) {
                *a += b;
            }
        }
        (value, g)
    }

    /// Each base sample's `ln(τ·softplus((gₛ − best)/τ))` at `x` (−∞ for a sample with no
    /// score), plus `ln P(success)` with a feasibility model: the per-sample terms of
    /// [`Self::value`], for the joint value of a ramp's readings (`ramp.rs`).
    pub fn log_improvements(&self, x: &[f64]) -> Vec<f64> {
        let preds: Vec<ValuePrediction> = self.values.iter().map(|v| v.predict(x, false)).collect();
        let feasible = self
            .feasibility
            .map_or(0.0, |f| acquisition::log_feasibility(f, x, false).0);
        self.base
            .iter()
            .map(|eps| match self.sample(&preds, eps, false) {
                Some((g, _)) => {
                    self.tau.ln() + log_softplus((g - self.best) / self.tau).0 + feasible
                }
                None => f64::NEG_INFINITY,
            })
            .collect()
    }

    /// Kriging believer with a pessimistic belief: each value's model gets a fantasy
    /// observation at `x`, the values of the base sample whose score is at the
    /// [`BELIEF_QUANTILE`] of the score samples there (the means, if no sample has a score).
    /// A value has no pessimistic direction of its own (a peak scored against a target), the
    /// score has: this is the composite form of the score model's "one sd below the mean".
    pub fn believe(&mut self, x: &[f64]) -> Result<()> {
        let preds: Vec<ValuePrediction> = self.values.iter().map(|v| v.predict(x, false)).collect();
        let mut scored: Vec<(f64, usize)> = self
            .base
            .iter()
            .enumerate()
            .filter_map(|(s, e)| self.sample(&preds, e, false).map(|(g, _)| (g, s)))
            .collect();
        scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let chosen = (!scored.is_empty()).then(|| {
            let k = ((scored.len() as f64 * BELIEF_QUANTILE) as usize).min(scored.len() - 1);
            scored[k].1
        });
        for (k, v) in self.values.iter_mut().enumerate() {
            let p = v.model.predict(x, false);
            let e = chosen.map_or(0.0, |s| self.base[s][k]);
            let believed = p.mean + p.var.sqrt() * e;
            v.model = v.model.with_point(x, believed)?;
        }
        Ok(())
    }
}

/// `ln softplus(u)` and its derivative, stable for any `u`.
pub(crate) fn log_softplus(u: f64) -> (f64, f64) {
    if u < -30.0 {
        // softplus(u) = e^u (1 − e^u/2 + …): ln ≈ u, derivative ≈ 1.
        (u, 1.0)
    } else {
        let sp = u.max(0.0) + (-u.abs()).exp().ln_1p();
        let sigmoid = 1.0 / (1.0 + (-u).exp());
        (sp.ln(), sigmoid / sp)
    }
}

/// `n` quasi-random standard normal vectors of length `m`: a scrambled Sobol sequence (seeded
/// from `rng`) through the normal quantile.
pub(crate) fn base_samples<R: Rng>(m: usize, n: usize, rng: &mut R) -> Vec<Vec<f64>> {
    let mut sobol = Sobol::new(m, rng);
    (0..n)
        .map(|_| {
            sobol
                .next_point()
                .into_iter()
                // The midpoint of the point's cell: never 0, never 1.
                .map(|u| normal_quantile(u + 0.5 / 4_294_967_296.0))
                .collect()
        })
        .collect()
}

/// The standard normal quantile: Acklam's rational approximation, refined by one Halley step.
pub(crate) fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    let e = norm_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (0.5 * x * x).exp();
    let refined = x - u / (1.0 + 0.5 * x * u);
    if refined.is_finite() { refined } else { x }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gp::normal;
    use crate::objective::{Combine, Goal, Objective};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Two values' GPs with fixed hyperparameters over one input.
    fn two_values() -> Vec<ValueModel> {
        let x = vec![vec![0.1], vec![0.4], vec![0.8]];
        let theta = [0.3f64.ln(), 0.0, 1e-6f64.ln(), 0.0];
        let a = Gp::with_theta(&x, &[0.2, 0.9, -0.4], &[false], &theta).unwrap();
        let b = Gp::with_theta(&x, &[-0.5, 0.1, 0.7], &[false], &theta).unwrap();
        vec![
            ValueModel {
                model: Regressor::Gp(a),
                shift: 600e-9,
                scale: 10e-9,
                mean: None,
            },
            ValueModel {
                model: Regressor::Gp(b),
                shift: 0.5,
                scale: 0.2,
                mean: None,
            },
        ]
    }

    fn desirability() -> Objectives {
        Objectives::new(
            vec![
                Objective::new(
                    "peak",
                    Goal::Target {
                        value: 605e-9,
                        tolerance: 5e-9,
                    },
                )
                .weighted(2.0),
                Objective {
                    range: Some((0.2, 0.9)),
                    ..Objective::new("plqy", Goal::Maximize)
                },
            ],
            Combine::Desirability,
        )
        .unwrap()
    }

    #[test]
    fn the_normal_quantile_inverts_the_distribution_function() {
        for &z in &[-8.0, -3.1, -1.0, -0.2, 0.0, 0.7, 2.4, 6.0] {
            let back = normal_quantile(norm_cdf(z));
            assert!((back - z).abs() < 1e-8, "{z} → {back}");
        }
    }

    #[test]
    fn the_acquisition_equals_a_brute_force_monte_carlo_estimate() {
        let objectives = desirability();
        let ranges = vec![None, None];
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let base = base_samples(2, BASE_SAMPLES, &mut rng);
        let successes = vec![vec![0.1], vec![0.4], vec![0.8]];
        // A spread of 1e-6 makes τ negligible: the value is the plain Monte-Carlo EI.
        let model = CompositeModel::new(
            two_values(),
            &objectives,
            ranges,
            base.clone(),
            &successes,
            1e-6,
            None,
        );
        let values = two_values();
        for &x in &[0.05, 0.25, 0.6, 0.95] {
            let preds: Vec<(f64, f64)> = values
                .iter()
                .map(|v| {
                    let p = v.predict(&[x], false);
                    (p.mean, p.sd)
                })
                .collect();
            // The score of each sample by the scoring code that writes observations.csv.
            let improvement = |eps: &[f64]| {
                let o = crate::observation::Observation {
                    point: crate::domain::Point(vec![crate::domain::Value::Real(x)]),
                    outcome: crate::observation::Outcome::Measured(
                        [
                            ("peak".to_string(), preds[0].0 + preds[0].1 * eps[0]),
                            ("plqy".to_string(), preds[1].0 + preds[1].1 * eps[1]),
                        ]
                        .into(),
                    ),
                };
                let g = objectives.score(&[o])[0].combined.unwrap();
                (g - model.best).max(0.0)
            };
            let same: f64 = base.iter().map(|e| improvement(e)).sum::<f64>() / base.len() as f64;
            let ei = model.value(&[x], false).0.exp();
            assert!(
                (ei - same).abs() <= 1e-9 + 1e-6 * same,
                "x = {x}: {ei} vs {same}"
            );
            // And an independent estimate with many plain draws agrees within its error.
            let mut r = ChaCha8Rng::seed_from_u64(99);
            let n = 40_000;
            let brute: f64 = (0..n)
                .map(|_| improvement(&[normal(&mut r), normal(&mut r)]))
                .sum::<f64>()
                / n as f64;
            assert!(
                (ei - brute).abs() <= 0.15 * brute + 1e-4,
                "x = {x}: {ei} vs brute force {brute}"
            );
        }
    }

    #[test]
    fn the_gradient_matches_finite_differences_and_the_value_is_deterministic() {
        let objectives = desirability();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let base = base_samples(2, BASE_SAMPLES, &mut rng);
        let successes = vec![vec![0.1], vec![0.4], vec![0.8]];
        let model = CompositeModel::new(
            two_values(),
            &objectives,
            vec![None, None],
            base,
            &successes,
            0.5,
            None,
        );
        for &x in &[0.05, 0.3, 0.62] {
            let (v, g) = model.value(&[x], true);
            let h = 1e-6;
            let fd = (model.value(&[x + h], false).0 - model.value(&[x - h], false).0) / (2.0 * h);
            assert!(
                (g[0] - fd).abs() < 1e-4 * fd.abs().max(1.0),
                "x = {x}: {} vs {fd}",
                g[0]
            );
            // Without the gradient the GP's variance is summed from K⁻¹'s upper triangle, in
            // another order: equal to rounding.
            let plain = model.value(&[x], false).0;
            assert!(
                (v - plain).abs() <= 1e-12 * v.abs().max(1.0),
                "{v} vs {plain}"
            );
        }
        // The same seed gives the same base samples, hence the same surface.
        let again = base_samples(2, BASE_SAMPLES, &mut ChaCha8Rng::seed_from_u64(5));
        assert_eq!(again, model.base);
    }

    #[test]
    fn a_target_objective_peaks_where_the_predicted_value_hits_the_target() {
        // y = 2x observed away from x = 0.3, where it would hit the target 0.6.
        let xs: Vec<Vec<f64>> = [0.0, 0.1, 0.55, 0.75, 1.0]
            .iter()
            .map(|x| vec![*x])
            .collect();
        let ys: Vec<f64> = xs.iter().map(|x| 2.0 * x[0]).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let gp = Gp::fit(
            &xs,
            &ys,
            &[false],
            &crate::gp::Prior::for_dim(1),
            None,
            crate::gp::FitEffort {
                prior_draws: 16,
                starts: 3,
                max_iter: 60,
                rel_tol: 1e-10,
            },
            &mut rng,
        )
        .unwrap();
        let objectives = Objectives::single(Objective::new(
            "y",
            Goal::Target {
                value: 0.6,
                tolerance: 0.05,
            },
        ));
        let base = base_samples(1, BASE_SAMPLES, &mut rng);
        let model = CompositeModel::new(
            vec![ValueModel {
                model: Regressor::Gp(gp),
                shift: 0.0,
                scale: 1.0,
                mean: None,
            }],
            &objectives,
            vec![None],
            base,
            &xs,
            20.0,
            None,
        );
        let best = (0..=1000)
            .map(|i| f64::from(i) / 1000.0)
            .max_by(|a, b| {
                model
                    .value(&[*a], false)
                    .0
                    .total_cmp(&model.value(&[*b], false).0)
            })
            .unwrap();
        assert!((best - 0.3).abs() < 0.02, "peak at {best}");
    }
}
