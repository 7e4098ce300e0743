//! A prior mean for the composite model: a parametric model of some measured values (a kinetic
//! model fitted to the observations, in qdx a `fit` block), refitted before each suggestion.
//!
//! For a value the mean predicts, the value's model (a GP, or a learned surrogate) is fitted
//! to the residuals `y − m(x)` and its predictions add `m(x)` back: far from the data the
//! prediction falls back to the fitted model instead of to a constant, and near it the GP
//! corrects what the model gets wrong. The crate knows nothing of the model's form: the caller
//! gives a [`PriorMean`] (the main crate builds one from a validated `fit` block), as it gives a
//! non-linear constraint as a function.
//!
//! Invariants: the mean is fitted from scratch at every suggestion from the observations alone
//! (no warm start, no state between asks), so a resumed or replayed run makes the same
//! suggestions; until the fit succeeds (at least one more data point than parameters, a fit
//! that converges to finite values at every observation) the mean is not used, the values are
//! modelled as without it, and the suggestion's record says why ([`PriorMeanRecord`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::domain::{Domain, Point};
use crate::observation::{Observation, Outcome, PriorMeanRecord};

/// A parametric model of some measured values, fitted to the observations.
pub trait PriorMean: Send + Sync + fmt::Debug {
    /// Its name, for the record (the `fit` block's name).
    fn name(&self) -> &str;
    /// The measured values (objective names) it predicts.
    fn values(&self) -> Vec<String>;
    /// Its parameters' names, in the order [`PriorMean::fit`] returns their estimates.
    fn parameters(&self) -> Vec<String>;
    /// The parameters' least-squares estimates (SI) from the measured values of
    /// `observations`, or why they cannot be had. Deterministic.
    fn fit(&self, observations: &[Observation]) -> Result<Vec<f64>, String>;
    /// The model's value `value` (an index into [`PriorMean::values`]) at `point` with
    /// `parameters`; NaN where it cannot be computed.
    fn predict(&self, parameters: &[f64], value: usize, point: &Point) -> f64;
}

/// The step of the mean's central differences, in model coordinates (the unit box).
const STEP: f64 = 1e-4;

/// One value's fitted mean as a function of model coordinates.
#[derive(Clone)]
pub(crate) struct MeanAt {
    prior: Arc<dyn PriorMean>,
    domain: Arc<Domain>,
    parameters: Arc<Vec<f64>>,
    value: usize,
}

impl fmt::Debug for MeanAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeanAt")
            .field("prior", &self.prior.name())
            .field("value", &self.value)
            .finish_non_exhaustive()
    }
}

impl MeanAt {
    /// `m(x)` at model coordinates `x`.
    pub fn at(&self, x: &[f64]) -> f64 {
        let point = self.domain.from_model(x);
        self.prior.predict(&self.parameters, self.value, &point)
    }

    /// `m(x)` and, with `grad`, its gradient by central differences (one-sided at the box's
    /// faces). A non-finite difference counts as flat: the GP's gradient still steers.
    pub fn with_gradient(&self, x: &[f64], grad: bool) -> (f64, Vec<f64>) {
        let m = self.at(x);
        if !grad {
            return (m, Vec::new());
        }
        let mut g = vec![0.0; x.len()];
        let mut probe = x.to_vec();
        for (j, gj) in g.iter_mut().enumerate() {
            let xj = x.get(j).copied().unwrap_or(0.0);
            let (lo, hi) = ((xj - STEP).max(0.0), (xj + STEP).min(1.0));
            if hi <= lo {
                continue;
            }
            if let Some(p) = probe.get_mut(j) {
                *p = hi;
            }
            let up = if hi == xj { m } else { self.at(&probe) };
            if let Some(p) = probe.get_mut(j) {
                *p = lo;
            }
            let down = if lo == xj { m } else { self.at(&probe) };
            if let Some(p) = probe.get_mut(j) {
                *p = xj;
            }
            let d = (up - down) / (hi - lo);
            if d.is_finite() {
                *gj = d;
            }
        }
        (m, g)
    }
}

/// The prior mean as fitted for one suggestion: its parameters, or why it is not used.
pub(crate) struct FittedPrior {
    prior: Arc<dyn PriorMean>,
    domain: Arc<Domain>,
    /// `Ok(estimates)` when the mean is used.
    parameters: Result<Arc<Vec<f64>>, String>,
    /// Data points the fit saw: measured finite values of the values the mean predicts.
    data: usize,
}

impl FittedPrior {
    /// Fits `prior` to `observations` (see the module doc for when it is used).
    pub fn fit(
        prior: &Arc<dyn PriorMean>,
        domain: &Arc<Domain>,
        observations: &[Observation],
    ) -> Self {
        let values = prior.values();
        let data = observations
            .iter()
            .map(|o| match &o.outcome {
                Outcome::Measured(m) => values
                    .iter()
                    .filter(|v| m.get(*v).is_some_and(|y| y.is_finite()))
                    .count(),
                Outcome::Failed { .. } => 0,
            })
            .sum::<usize>();
        let n = prior.parameters().len();
        let parameters = if data <= n {
            Err(format!(
                "{data} observed values, and a fit of {n} parameters needs at least {}",
                n + 1
            ))
        } else {
            prior.fit(observations).and_then(|p| {
                if p.len() == n && p.iter().all(|v| v.is_finite()) {
                    Ok(Arc::new(p))
                } else {
                    Err("the fit gave no finite estimate of every parameter".into())
                }
            })
        };
        FittedPrior {
            prior: Arc::clone(prior),
            domain: Arc::clone(domain),
            parameters,
            data,
        }
    }

    /// The mean of the value `name`, when the mean is used and predicts it.
    pub fn mean_for(&self, name: &str) -> Option<MeanAt> {
        let parameters = self.parameters.as_ref().ok()?;
        let value = self.prior.values().iter().position(|v| v == name)?;
        Some(MeanAt {
            prior: Arc::clone(&self.prior),
            domain: Arc::clone(&self.domain),
            parameters: Arc::clone(parameters),
            value,
        })
    }

    /// Turns `ys` measured at `xs` into residuals from the mean of `name`; the mean, when it
    /// is used for this value. A mean that cannot be computed at one of the points is not used
    /// (and `ys` are left as they were): the record says why.
    pub fn residuals(&mut self, name: &str, xs: &[Vec<f64>], ys: &mut [f64]) -> Option<MeanAt> {
        let mean = self.mean_for(name)?;
        let ms: Vec<f64> = xs.iter().map(|x| mean.at(x)).collect();
        if let Some(i) = ms.iter().position(|m| !m.is_finite()) {
            self.parameters = Err(format!(
                "the fitted model of `{name}` cannot be computed at observed point {}",
                i + 1
            ));
            return None;
        }
        for (y, m) in ys.iter_mut().zip(&ms) {
            *y -= m;
        }
        Some(mean)
    }

    /// What the suggestion's record says of the mean.
    pub fn record(&self) -> PriorMeanRecord {
        let (used, parameters, reason) = match &self.parameters {
            Ok(p) => (
                true,
                self.prior
                    .parameters()
                    .into_iter()
                    .zip(p.iter().copied())
                    .collect(),
                None,
            ),
            Err(why) => (false, BTreeMap::new(), Some(why.clone())),
        };
        PriorMeanRecord {
            fit: self.prior.name().to_owned(),
            used,
            values: self.prior.values(),
            parameters,
            observations: self.data,
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bayes::{BayesOptions, Bayesian};
    use crate::composite::ValueModel;
    use crate::domain::{Value, Variable};
    use crate::gp::{FitEffort, Gp, Prior};
    use crate::learned::Regressor;
    use crate::objective::{Goal, Objective, Objectives};
    use crate::strategy::Strategy;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// The truth the tests measure: a saturating growth `a·(1 − e^(−b·x))` with a small ripple
    /// the model does not know.
    fn truth(x: f64) -> f64 {
        2.0 * (1.0 - (-3.0 * x).exp()) + 0.01 * (9.0 * x).sin()
    }

    /// `y = a·(1 − e^(−b·x))`, fitted by a grid over `b` and least squares in `a`.
    #[derive(Debug)]
    struct Saturating;

    fn curve(p: &[f64], x: f64) -> f64 {
        p[0] * (1.0 - (-p[1] * x).exp())
    }

    impl PriorMean for Saturating {
        fn name(&self) -> &str {
            "saturating"
        }
        fn values(&self) -> Vec<String> {
            vec!["y".into()]
        }
        fn parameters(&self) -> Vec<String> {
            vec!["a".into(), "b".into()]
        }
        fn fit(&self, observations: &[Observation]) -> Result<Vec<f64>, String> {
            let data: Vec<(f64, f64)> = observations
                .iter()
                .filter_map(|o| match &o.outcome {
                    Outcome::Measured(m) => Some((o.point.0[0].as_f64(), *m.get("y")?)),
                    Outcome::Failed { .. } => None,
                })
                .collect();
            let mut best = (f64::INFINITY, vec![0.0, 0.0]);
            for i in 1..=400 {
                let b = f64::from(i) * 0.025;
                let g: Vec<f64> = data.iter().map(|(x, _)| 1.0 - (-b * x).exp()).collect();
                let gg: f64 = g.iter().map(|v| v * v).sum();
                let a = g.iter().zip(&data).map(|(gi, (_, y))| gi * y).sum::<f64>() / gg;
                let sse: f64 = data
                    .iter()
                    .map(|(x, y)| (y - curve(&[a, b], *x)).powi(2))
                    .sum();
                if sse < best.0 {
                    best = (sse, vec![a, b]);
                }
            }
            Ok(best.1)
        }
        fn predict(&self, parameters: &[f64], _value: usize, point: &Point) -> f64 {
            curve(parameters, point.0[0].as_f64())
        }
    }

    fn domain() -> Arc<Domain> {
        Arc::new(Domain::new(vec![Variable::continuous("x", 0.0, 1.0)]).unwrap())
    }

    fn observe(x: f64) -> Observation {
        Observation {
            point: Point(vec![Value::Real(x)]),
            outcome: Outcome::single("y", truth(x)),
        }
    }

    /// A value's model as the composite model builds it: a GP of the standardised residuals.
    fn value_model(xs: &[Vec<f64>], ys: &[f64], mean: Option<MeanAt>) -> ValueModel {
        let n = ys.len() as f64;
        let shift = ys.iter().sum::<f64>() / n;
        let scale = (ys.iter().map(|y| (y - shift).powi(2)).sum::<f64>() / n).sqrt();
        let ystd: Vec<f64> = ys.iter().map(|y| (y - shift) / scale).collect();
        let gp = Gp::fit(
            xs,
            &ystd,
            &[false],
            &Prior::for_dim(1),
            None,
            FitEffort {
                prior_draws: 16,
                starts: 3,
                max_iter: 60,
                rel_tol: 1e-10,
            },
            &mut ChaCha8Rng::seed_from_u64(1),
        )
        .unwrap();
        ValueModel {
            model: Regressor::Gp(gp),
            shift,
            scale,
            mean,
        }
    }

    #[test]
    fn a_gp_with_the_right_prior_mean_predicts_better_away_from_the_data() {
        // Observations on the first 45 % of the range; predictions asked on the last half.
        let obs: Vec<Observation> = (0..6).map(|i| observe(0.09 * f64::from(i))).collect();
        let d = domain();
        let xs: Vec<Vec<f64>> = obs.iter().map(|o| d.to_model(&o.point)).collect();
        let ys: Vec<f64> = obs.iter().map(|o| truth(o.point.0[0].as_f64())).collect();
        let prior: Arc<dyn PriorMean> = Arc::new(Saturating);
        let mut fitted = FittedPrior::fit(&prior, &d, &obs);
        let mut residuals = ys.clone();
        let mean = fitted.residuals("y", &xs, &mut residuals);
        assert!(mean.is_some(), "{:?}", fitted.record());
        let with = value_model(&xs, &residuals, mean);
        let without = value_model(&xs, &ys, None);
        let far: Vec<f64> = (0..=10).map(|i| 0.5 + 0.05 * f64::from(i)).collect();
        let rmse = |m: &ValueModel| {
            (far.iter()
                .map(|x| (m.predict(&[*x], false).mean - truth(*x)).powi(2))
                .sum::<f64>()
                / far.len() as f64)
                .sqrt()
        };
        let (e_with, e_without) = (rmse(&with), rmse(&without));
        assert!(
            e_with < 0.1 && e_with < 0.25 * e_without,
            "with the mean {e_with}, without {e_without}"
        );
        // At the data both interpolate.
        for (x, y) in xs.iter().zip(&ys) {
            assert!((with.predict(x, false).mean - y).abs() < 0.03);
        }
        // The record has the fitted parameters, near the truth's.
        let record = fitted.record();
        assert!(record.used && record.reason.is_none());
        assert!((record.parameters["a"] - 2.0).abs() < 0.2, "{record:?}");
        assert!((record.parameters["b"] - 3.0).abs() < 0.5, "{record:?}");
    }

    #[test]
    fn the_mean_gradient_matches_finite_differences() {
        let obs: Vec<Observation> = (0..6).map(|i| observe(0.1 * f64::from(i))).collect();
        let d = domain();
        let prior: Arc<dyn PriorMean> = Arc::new(Saturating);
        let fitted = FittedPrior::fit(&prior, &d, &obs);
        let mean = fitted.mean_for("y").unwrap();
        for x in [0.0, 0.3, 0.77, 1.0] {
            let (m, g) = mean.with_gradient(&[x], true);
            let p = fitted.parameters.as_ref().unwrap();
            let exact = p[0] * p[1] * (-p[1] * x).exp();
            assert!((m - curve(p, x)).abs() < 1e-12);
            assert!(
                (g[0] - exact).abs() < 1e-3 * exact.abs().max(1.0),
                "{x}: {g:?} vs {exact}"
            );
        }
    }

    #[test]
    fn suggestions_say_when_the_mean_is_used_and_replay_identically() {
        let d = domain();
        let run = || {
            let objectives = Objectives::single(Objective::new("y", Goal::Maximize));
            let mut s = Bayesian::new(BayesOptions::for_domain(&d), Arc::clone(&d), objectives, 3)
                .unwrap()
                .with_prior_mean(Arc::new(Saturating));
            let mut out = Vec::new();
            for _ in 0..8 {
                let sug = s.ask(1, &[]).unwrap().remove(0);
                let x = sug.point.0[0].as_f64();
                s.tell(&[observe(x)]).unwrap();
                out.push(sug);
            }
            out
        };
        let first = run();
        // The initial design has no model, hence no prior mean.
        assert!(first[..5].iter().all(|s| s.explain.prior_mean.is_none()));
        for s in &first[5..] {
            let r = s.explain.prior_mean.as_ref().expect("a model suggestion");
            assert_eq!(s.explain.model.as_deref(), Some("composite"));
            assert!(r.used, "{r:?}");
            assert_eq!(r.fit, "saturating");
            assert_eq!(r.parameters.keys().collect::<Vec<_>>(), ["a", "b"]);
        }
        assert_eq!(first, run());
    }

    #[test]
    fn too_few_observations_leave_the_mean_out_and_say_why() {
        let d = domain();
        let prior: Arc<dyn PriorMean> = Arc::new(Saturating);
        let obs = vec![observe(0.2), observe(0.5)];
        let mut fitted = FittedPrior::fit(&prior, &d, &obs);
        let mut ys = vec![1.0, 2.0];
        assert!(
            fitted
                .residuals("y", &[vec![0.2], vec![0.5]], &mut ys)
                .is_none()
        );
        assert_eq!(ys, [1.0, 2.0]);
        let r = fitted.record();
        assert!(!r.used && r.parameters.is_empty());
        assert_eq!(
            r.reason.as_deref(),
            Some("2 observed values, and a fit of 2 parameters needs at least 3")
        );
    }
}
