//! A Gaussian-process model of one measured value over a domain, for reports: what the model
//! believes at any point (mean and uncertainty), how well it predicts each observation when
//! that observation is left out, and how much each variable matters (its fitted lengthscale).
//!
//! The model is the one [`crate::Bayesian`] fits: a Matérn-5/2 ARD kernel over the domain's
//! model space (continuous and integer variables in `[0, 1]`, categorical variables by level),
//! hyperparameters by MAP with the same priors, on the standardised values. Unlike the
//! optimizer it fits the values themselves, with no output warping, so a prediction and its
//! uncertainty are in the values' own unit and symmetric.
//!
//! Invariants: the fit is a function of the points, the values and the seed (no other
//! randomness); leave-one-out predictions keep the hyperparameters of the full fit (the
//! closed form of Rasmussen & Williams, eq. 5.12), so they judge the model as it is, not a
//! refit per point.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::domain::{Domain, Point};
use crate::error::{OptimizeError, Result};
use crate::gp::{FitEffort, Gp, Prior};

/// A prediction of the value at a point: the mean and the standard deviation of the latent
/// function (the value without measurement noise), in the values' unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    pub mean: f64,
    pub sd: f64,
}

/// A fitted model of one value over a domain.
#[derive(Debug, Clone)]
pub struct Surrogate {
    domain: Domain,
    gp: Gp,
    /// The values are `mean + scale · z`, `z` what the GP is fitted to.
    mean: f64,
    scale: f64,
}

impl Surrogate {
    /// Fits the model to `values` observed at `points` (at least two, all finite).
    pub fn fit(domain: &Domain, points: &[Point], values: &[f64], seed: u64) -> Result<Surrogate> {
        if points.len() != values.len() || points.len() < 2 {
            return Err(OptimizeError::Numerical(
                "a model needs at least two observations, one value each".into(),
            ));
        }
        if values.iter().any(|v| !v.is_finite()) {
            return Err(OptimizeError::Numerical(
                "a model is fitted to finite values only".into(),
            ));
        }
        for p in points {
            domain.check_point(p)?;
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let sd = (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
        let scale = if sd > 1e-12 * mean.abs().max(1e-300) {
            sd
        } else {
            1.0
        };
        let x: Vec<Vec<f64>> = points.iter().map(|p| domain.to_model(p)).collect();
        let z: Vec<f64> = values.iter().map(|v| (v - mean) / scale).collect();
        let categorical: Vec<bool> = domain
            .variables()
            .iter()
            .map(crate::Variable::is_categorical)
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let effort = FitEffort {
            prior_draws: 16,
            starts: 3,
            max_iter: 60,
            rel_tol: 1e-10,
        };
        let gp = Gp::fit(
            &x,
            &z,
            &categorical,
            &Prior::for_dim(domain.dim()),
            None,
            effort,
            &mut rng,
        )?;
        Ok(Surrogate {
            domain: domain.clone(),
            gp,
            mean,
            scale,
        })
    }

    /// The model's belief about the value at `point` (a point outside the domain is taken as
    /// its nearest encoding: bounds clamp nothing here, the kernel only measures distance).
    pub fn predict(&self, point: &Point) -> Prediction {
        let p = self.gp.predict(&self.domain.to_model(point), false);
        Prediction {
            mean: self.mean + self.scale * p.mean,
            sd: self.scale * p.var.max(0.0).sqrt(),
        }
    }

    /// For each observation in order: the prediction of the model conditioned on all the
    /// others, with the hyperparameters of the full fit; `sd` includes the measurement noise
    /// (it predicts an observation, not the latent value).
    pub fn leave_one_out(&self) -> Vec<Prediction> {
        self.gp
            .leave_one_out()
            .into_iter()
            .map(|(m, v)| Prediction {
                mean: self.mean + self.scale * m,
                sd: self.scale * v.max(0.0).sqrt(),
            })
            .collect()
    }

    /// The fitted lengthscale of each variable, in model units (a continuous variable's range
    /// is 1; a categorical variable's is one change of level): the shorter, the more the value
    /// changes along that variable.
    pub fn lengthscales(&self) -> Vec<f64> {
        self.gp.summary().0
    }

    /// The GP in model units (values standardised: `value = mean + scale · z`).
    pub(crate) fn gp(&self) -> &Gp {
        &self.gp
    }

    /// The factor from the GP's units to the values' unit.
    pub(crate) fn scale(&self) -> f64 {
        self.scale
    }

    /// The domain the model lives on.
    pub(crate) fn domain(&self) -> &Domain {
        &self.domain
    }

    /// The same model (same hyperparameters) told one more observation at `point`, at its
    /// predicted mean: the kriging believer. A GP's posterior variance does not depend on the
    /// values observed, so this is exact for variance-driven designs.
    pub(crate) fn with_believed(&self, point: &Point) -> Result<Surrogate> {
        let x = self.domain.to_model(point);
        let z = self.gp.predict(&x, false).mean;
        Ok(Surrogate {
            domain: self.domain.clone(),
            gp: self.gp.with_point(&x, z)?,
            mean: self.mean,
            scale: self.scale,
        })
    }

    /// The standard deviation of the measurement noise the model infers, in the values' unit.
    pub fn noise_sd(&self) -> f64 {
        self.scale * self.gp.summary().2.sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Value, Variable};

    fn domain() -> Domain {
        Domain::new(vec![
            Variable::continuous("x", 0.0, 10.0),
            Variable::continuous("unused", 0.0, 1.0),
            Variable::categorical("c", &["a", "b"]),
        ])
        .expect("domain")
    }

    fn data() -> (Vec<Point>, Vec<f64>) {
        let mut points = Vec::new();
        let mut values = Vec::new();
        for i in 0..16 {
            let x = f64::from(i) * 10.0 / 15.0;
            let u = f64::from((i * 7) % 16) / 15.0;
            let c = (i % 2) as usize;
            points.push(Point(vec![
                Value::Real(x),
                Value::Real(u),
                Value::Category(c),
            ]));
            values.push(500.0 + 20.0 * (x / 3.0).sin() + if c == 1 { 15.0 } else { 0.0 });
        }
        (points, values)
    }

    #[test]
    fn the_model_predicts_in_the_values_unit_and_ranks_the_variables() {
        let d = domain();
        let (points, values) = data();
        let s = Surrogate::fit(&d, &points, &values, 1).expect("fit");
        let p = s.predict(&points[3]);
        assert!((p.mean - values[3]).abs() < 1.0, "{p:?} vs {}", values[3]);
        assert!(p.sd < 5.0, "{p:?}");
        let ls = s.lengthscales();
        assert!(ls[1] > ls[0], "the unused variable matters least: {ls:?}");
        let loo = s.leave_one_out();
        assert_eq!(loo.len(), values.len());
        let mean_error: f64 = loo
            .iter()
            .zip(&values)
            .map(|(p, v)| (p.mean - v).abs())
            .sum::<f64>()
            / 16.0;
        assert!(mean_error < 5.0, "{mean_error}");
    }

    #[test]
    fn leave_one_out_is_the_model_refitted_without_the_point() {
        let d = domain();
        let (points, values) = data();
        let s = Surrogate::fit(&d, &points, &values, 1).expect("fit");
        let loo = s.leave_one_out();
        // The closed form against conditioning on the other 15 with the same hyperparameters.
        let x: Vec<Vec<f64>> = points.iter().map(|p| d.to_model(p)).collect();
        let z: Vec<f64> = values.iter().map(|v| (v - s.mean) / s.scale).collect();
        let k = 5;
        let (xs, zs): (Vec<Vec<f64>>, Vec<f64>) = x
            .iter()
            .zip(&z)
            .enumerate()
            .filter(|(i, _)| *i != k)
            .map(|(_, (a, b))| (a.clone(), *b))
            .unzip();
        let gp = Gp::with_theta(&xs, &zs, &[false, false, true], &s.gp.theta).expect("gp");
        let p = gp.predict(&x[k], false);
        let noise = s.gp.summary().2;
        let mean = s.mean + s.scale * p.mean;
        let sd = s.scale * (p.var + noise).sqrt();
        assert!(
            (loo[k].mean - mean).abs() < 1e-6 * s.scale,
            "{loo:?} vs {mean}"
        );
        assert!((loo[k].sd - sd).abs() < 1e-6 * s.scale, "{loo:?} vs {sd}");
    }

    #[test]
    fn the_same_data_give_the_same_model() {
        let d = domain();
        let (points, values) = data();
        let a = Surrogate::fit(&d, &points, &values, 3).expect("fit");
        let b = Surrogate::fit(&d, &points, &values, 3).expect("fit");
        assert_eq!(a.lengthscales(), b.lengthscales());
        assert_eq!(a.predict(&points[0]), b.predict(&points[0]));
    }
}
