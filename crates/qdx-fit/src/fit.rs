//! Least-squares fitting of a model's parameters to observations, within bounds, with
//! MINPACK's Levenberg-Marquardt (the `levenberg-marquardt` crate), and the parameters'
//! uncertainties from the Jacobian at the optimum.
//!
//! Bounds: the optimizer works on unbounded coordinates `θ = logit(u)`, where `u ∈ (0, 1)` is
//! the parameter's place in its range (linear, or logarithmic for a `log` parameter). So the
//! model is never evaluated outside the declared bounds (an Arrhenius prefactor never goes
//! negative), and parameters of very different sizes (1e-18 m²/s, 6e4 J/mol) are on one scale.
//!
//! Uncertainties: `Cov(θ) = s²·(JᵀJ)⁻¹` with `J` the Jacobian of the residuals in `θ` and
//! `s² = SSE/(m − n)`, mapped to the parameters by the delta method,
//! `Cov(p) = D·Cov(θ)·D` with `D = diag(dp/dθ)`. A parameter that ends at a bound (its `u`
//! within [`AT_BOUND`] of 0 or 1) has no meaningful standard error: it is flagged, held fixed
//! for the covariance, and its row and column are `None`.
//!
//! Invariants: every error is an [`FitError`] naming the observation or the parameters at
//! fault; nothing panics on bad data or a model that cannot be integrated. The fit is
//! deterministic (fixed starts, no randomness).

use std::cell::RefCell;

use levenberg_marquardt::{LeastSquaresProblem, LevenbergMarquardt};
use nalgebra::{DMatrix, DVector, Dyn, Owned};
use serde::Serialize;

use crate::ode::{OdeError, OdeSettings, integrate};

/// How close to a bound (as a fraction of the range) an estimate is said to be at it.
pub const AT_BOUND: f64 = 1e-6;

/// A parameter to fit, in SI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parameter {
    pub name: String,
    pub lo: f64,
    pub hi: f64,
    /// Searched on a logarithmic scale (both bounds positive).
    pub log: bool,
}

/// A kinetic model: an ODE per observation (each observation has its own conditions, its own
/// initial state and its own end time), and the observed value of the final state.
pub trait Model {
    /// The number of state variables; 0 for a closed form (`observe` of the parameters alone).
    fn states(&self) -> usize;
    /// The size of a typical state, SI (sets the solver's absolute tolerance).
    fn scale(&self) -> f64;
    /// The initial state of observation `i`.
    fn initial(&self, i: usize, p: &[f64], y0: &mut [f64]);
    /// The rate `dy/dt` of observation `i` at time `t`.
    fn rate(&self, i: usize, t: f64, y: &[f64], p: &[f64], dy: &mut [f64]);
    /// The observed quantity of observation `i` from its state at its end time.
    fn observe(&self, i: usize, y: &[f64], p: &[f64]) -> f64;
}

/// One observed value and the time its ODE runs to (SI).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Observation {
    pub time: f64,
    pub value: f64,
}

/// The optimizer's settings, recorded with every fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitSettings {
    pub method: &'static str,
    /// Relative tolerance on the sum of squares and on the parameters (MINPACK's ftol, xtol).
    pub tolerance: f64,
    /// The most residual evaluations one start may take.
    pub patience: usize,
    /// The starting points, as places in each parameter's range (0.5 = the middle).
    pub starts: Vec<Vec<f64>>,
    pub ode: OdeSettings,
}

impl FitSettings {
    /// The default settings for `n` parameters: the middle of the box, then (up to three
    /// parameters) every corner of its inner half, so that a correlated pair such as an
    /// Arrhenius prefactor and activation energy is approached from several sides; past three,
    /// the two ends of the inner half's diagonal.
    pub fn for_parameters(n: usize) -> Self {
        let mut starts = vec![vec![0.5; n]];
        if n > 3 {
            // 2^n corners grow too fast: the two ends of the inner half's diagonal.
            starts.push(vec![0.25; n]);
            starts.push(vec![0.75; n]);
        } else if n > 0 {
            for corner in 0..(1u32 << n) {
                starts.push(
                    (0..n)
                        .map(|j| if corner & (1 << j) != 0 { 0.75 } else { 0.25 })
                        .collect(),
                );
            }
        }
        Self {
            method: "Levenberg-Marquardt (levenberg-marquardt crate, MINPACK), bounded by a logistic transform, central-difference Jacobian",
            tolerance: 1e-14,
            patience: 200,
            starts,
            ode: OdeSettings::default(),
        }
    }
}

/// How the optimizer ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Convergence {
    /// MINPACK's reason for stopping the best start (`Converged { ftol: true, xtol: false }`).
    pub termination: String,
    pub converged: bool,
    /// Residual evaluations of the best start.
    pub evaluations: usize,
    /// Which start gave the best fit, from 0, and how many ran.
    pub best_start: usize,
    pub starts: usize,
}

/// A fit's result, SI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fit {
    pub parameters: Vec<Parameter>,
    pub estimates: Vec<f64>,
    /// `None` for a parameter at a bound.
    pub standard_errors: Vec<Option<f64>>,
    pub covariance: Vec<Vec<Option<f64>>>,
    pub correlation: Vec<Vec<Option<f64>>>,
    pub at_bound: Vec<bool>,
    /// The model's value at each observation, and observed − fitted.
    pub fitted: Vec<f64>,
    pub residuals: Vec<f64>,
    pub sse: f64,
    /// Degrees of freedom, observations less free parameters.
    pub dof: usize,
    /// `s = √(SSE/dof)`, the residuals' standard deviation.
    pub residual_sd: f64,
    pub convergence: Convergence,
    pub settings: FitSettings,
}

/// Why a fit failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    #[error("observation {index} is not a finite number ({what})")]
    NotFiniteData { index: usize, what: &'static str },
    #[error(
        "{observations} observations cannot determine {parameters} parameters: a fit needs more observations than parameters"
    )]
    TooFewObservations {
        observations: usize,
        parameters: usize,
    },
    #[error("parameter `{name}` has bounds {lo} .. {hi}, which are not an increasing pair{}", if *log { " of positive numbers (it is searched on a log scale)" } else { "" })]
    BadBounds {
        name: String,
        lo: f64,
        hi: f64,
        log: bool,
    },
    #[error("the model cannot be computed for observation {index}: {source}")]
    Integration { index: usize, source: OdeError },
    #[error("the model's value for observation {index} is not a finite number")]
    NotFiniteModel { index: usize },
    #[error("the data cannot tell {} apart: the Jacobian is singular at the optimum", names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(" and "))]
    Singular { names: Vec<String> },
}

fn forward(p: &Parameter, x: f64) -> f64 {
    if p.log { x.ln() } else { x }
}

/// The parameter at place `u ∈ [0, 1]` of its range.
fn at_place(p: &Parameter, u: f64) -> f64 {
    let (a, b) = (forward(p, p.lo), forward(p, p.hi));
    let g = a + u * (b - a);
    if p.log { g.exp() } else { g }
}

fn sigmoid(t: f64) -> f64 {
    1.0 / (1.0 + (-t).exp())
}

fn logit(u: f64) -> f64 {
    (u / (1.0 - u)).ln()
}

/// The model's value at every observation for parameters `p`.
pub fn predict(
    model: &dyn Model,
    p: &[f64],
    obs: &[Observation],
    ode: &OdeSettings,
) -> Result<Vec<f64>, FitError> {
    let n = model.states();
    let mut y0 = vec![0.0; n];
    obs.iter()
        .enumerate()
        .map(|(i, o)| {
            model.initial(i, p, &mut y0);
            let rate = |t: f64, y: &[f64], dy: &mut [f64]| model.rate(i, t, y, p, dy);
            let y = if n == 0 {
                Vec::new()
            } else {
                integrate(&rate, &y0, o.time, model.scale(), ode)
                    .map_err(|source| FitError::Integration { index: i, source })?
            };
            let v = model.observe(i, &y, p);
            if v.is_finite() {
                Ok(v)
            } else {
                Err(FitError::NotFiniteModel { index: i })
            }
        })
        .collect()
}

struct Lsq<'a> {
    model: &'a dyn Model,
    params: &'a [Parameter],
    obs: &'a [Observation],
    ode: &'a OdeSettings,
    theta: DVector<f64>,
    /// The first failure met, reported if the optimizer stops on it.
    failure: RefCell<Option<FitError>>,
}

impl Lsq<'_> {
    fn values(&self, theta: &DVector<f64>) -> Vec<f64> {
        self.params
            .iter()
            .zip(theta.iter())
            .map(|(p, t)| at_place(p, sigmoid(*t)))
            .collect()
    }

    fn residuals_at(&self, theta: &DVector<f64>) -> Option<DVector<f64>> {
        match predict(self.model, &self.values(theta), self.obs, self.ode) {
            Ok(f) => Some(DVector::from_iterator(
                f.len(),
                f.iter().zip(self.obs).map(|(f, o)| f - o.value),
            )),
            Err(e) => {
                self.failure.borrow_mut().get_or_insert(e);
                None
            }
        }
    }
}

/// The step of the central differences, in θ.
const STEP: f64 = 1e-6;

impl LeastSquaresProblem<f64, Dyn, Dyn> for Lsq<'_> {
    type ResidualStorage = Owned<f64, Dyn>;
    type JacobianStorage = Owned<f64, Dyn, Dyn>;
    type ParameterStorage = Owned<f64, Dyn>;

    fn set_params(&mut self, x: &DVector<f64>) {
        self.theta.copy_from(x);
    }

    fn params(&self) -> DVector<f64> {
        self.theta.clone()
    }

    fn residuals(&self) -> Option<DVector<f64>> {
        self.residuals_at(&self.theta)
    }

    fn jacobian(&self) -> Option<DMatrix<f64>> {
        let (m, n) = (self.obs.len(), self.params.len());
        let mut j = DMatrix::zeros(m, n);
        for k in 0..n {
            let h = STEP * (1.0 + self.theta[k].abs());
            let mut up = self.theta.clone();
            up[k] += h;
            let mut down = self.theta.clone();
            down[k] -= h;
            let d = (self.residuals_at(&up)? - self.residuals_at(&down)?) / (2.0 * h);
            j.set_column(k, &d);
        }
        Some(j)
    }
}

/// Fits `params` of `model` to `obs` by least squares.
pub fn fit(
    model: &dyn Model,
    params: &[Parameter],
    obs: &[Observation],
    settings: &FitSettings,
) -> Result<Fit, FitError> {
    for (index, o) in obs.iter().enumerate() {
        if !o.value.is_finite() {
            return Err(FitError::NotFiniteData {
                index,
                what: "the observed value",
            });
        }
        if !o.time.is_finite() {
            return Err(FitError::NotFiniteData {
                index,
                what: "its time",
            });
        }
    }
    for p in params {
        let ok = p.lo.is_finite() && p.hi.is_finite() && p.lo < p.hi && (!p.log || p.lo > 0.0);
        if !ok {
            return Err(FitError::BadBounds {
                name: p.name.clone(),
                lo: p.lo,
                hi: p.hi,
                log: p.log,
            });
        }
    }
    let (m, n) = (obs.len(), params.len());
    if m <= n {
        return Err(FitError::TooFewObservations {
            observations: m,
            parameters: n,
        });
    }
    let lm = LevenbergMarquardt::new()
        .with_ftol(settings.tolerance)
        .with_xtol(settings.tolerance)
        .with_patience(settings.patience);
    let mut best: Option<(usize, Lsq<'_>, f64, String, bool, usize)> = None;
    let mut first_failure = None;
    for (s, start) in settings.starts.iter().enumerate() {
        let theta =
            DVector::from_iterator(n, start.iter().map(|u| logit(u.clamp(1e-9, 1.0 - 1e-9))));
        let problem = Lsq {
            model,
            params,
            obs,
            ode: &settings.ode,
            theta,
            failure: RefCell::new(None),
        };
        let (problem, report) = lm.minimize(problem);
        let sse = problem.residuals().map(|r| r.norm_squared());
        match sse {
            Some(sse) if sse.is_finite() => {
                if best.as_ref().is_none_or(|b| sse < b.2) {
                    let converged = report.termination.was_successful();
                    best = Some((
                        s,
                        problem,
                        sse,
                        format!("{:?}", report.termination),
                        converged,
                        report.number_of_evaluations,
                    ));
                }
            }
            _ => {
                if first_failure.is_none() {
                    first_failure = problem.failure.into_inner();
                }
            }
        }
    }
    let Some((best_start, problem, sse, termination, converged, evaluations)) = best else {
        return Err(first_failure.unwrap_or(FitError::NotFiniteModel { index: 0 }));
    };
    let estimates = problem.values(&problem.theta);
    let fitted = predict(model, &estimates, obs, &settings.ode)?;
    let residuals: Vec<f64> = obs.iter().zip(&fitted).map(|(o, f)| o.value - f).collect();
    let places: Vec<f64> = problem.theta.iter().map(|t| sigmoid(*t)).collect();
    let at_bound: Vec<bool> = places
        .iter()
        .map(|u| *u < AT_BOUND || *u > 1.0 - AT_BOUND)
        .collect();
    let free: Vec<usize> = (0..n).filter(|k| !at_bound[*k]).collect();
    let dof = m - free.len();
    let s2 = sse / dof as f64;
    let jac = problem.jacobian().ok_or_else(|| {
        problem
            .failure
            .borrow_mut()
            .take()
            .unwrap_or(FitError::NotFiniteModel { index: 0 })
    })?;
    let jf = DMatrix::from_fn(m, free.len(), |i, k| jac[(i, free[k])]);
    let cov_theta = covariance_theta(
        &jf,
        &free
            .iter()
            .map(|k| params[*k].name.clone())
            .collect::<Vec<_>>(),
    )?;
    // dp/dθ = dp/du · du/dθ, du/dθ = u(1 − u); dp/du = (b − a) for a linear range, p·(ln b − ln a) for a log one.
    let dp: Vec<f64> = (0..n)
        .map(|k| {
            let p = &params[k];
            let u = places[k];
            let span = forward(p, p.hi) - forward(p, p.lo);
            let dpdu = if p.log { estimates[k] * span } else { span };
            dpdu * u * (1.0 - u)
        })
        .collect();
    let mut covariance = vec![vec![None; n]; n];
    for (a, &ka) in free.iter().enumerate() {
        for (b, &kb) in free.iter().enumerate() {
            covariance[ka][kb] = Some(s2 * cov_theta[(a, b)] * dp[ka] * dp[kb]);
        }
    }
    let standard_errors: Vec<Option<f64>> = (0..n)
        .map(|k| covariance[k][k].map(|v| v.max(0.0).sqrt()))
        .collect();
    let correlation = (0..n)
        .map(|a| {
            (0..n)
                .map(|b| {
                    let (sa, sb) = (standard_errors[a]?, standard_errors[b]?);
                    // Noise-free data: zero variance, the correlation is that of Cov(θ).
                    if sa > 0.0 && sb > 0.0 {
                        Some(covariance[a][b]? / (sa * sb))
                    } else {
                        let (ia, ib) = (
                            free.iter().position(|k| *k == a)?,
                            free.iter().position(|k| *k == b)?,
                        );
                        Some(
                            cov_theta[(ia, ib)]
                                / (cov_theta[(ia, ia)] * cov_theta[(ib, ib)]).sqrt(),
                        )
                    }
                })
                .collect()
        })
        .collect();
    Ok(Fit {
        parameters: params.to_vec(),
        estimates,
        standard_errors,
        covariance,
        correlation,
        at_bound,
        fitted,
        residuals,
        sse,
        dof,
        residual_sd: s2.sqrt(),
        convergence: Convergence {
            termination,
            converged,
            evaluations,
            best_start,
            starts: settings.starts.len(),
        },
        settings: settings.clone(),
    })
}

/// `(JᵀJ)⁻¹` by the SVD of `J`, or the parameters the data cannot tell apart: those that weigh
/// most in the direction of the smallest singular value, when it is below 1e-8 of the largest.
fn covariance_theta(j: &DMatrix<f64>, names: &[String]) -> Result<DMatrix<f64>, FitError> {
    let n = j.ncols();
    if n == 0 {
        return Ok(DMatrix::zeros(0, 0));
    }
    let svd = j.clone().svd(false, true);
    let Some(v_t) = svd.v_t else {
        return Err(FitError::Singular {
            names: names.to_vec(),
        });
    };
    let sv = &svd.singular_values;
    let max = sv.max();
    let (kmin, min) = sv.argmin();
    if min.is_nan() || min <= 1e-8 * max || !max.is_finite() {
        let row = v_t.row(kmin);
        let mut weights: Vec<(f64, &String)> = row.iter().map(|w| w.abs()).zip(names).collect();
        weights.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut culprits: Vec<String> = weights
            .iter()
            .filter(|(w, _)| *w > 0.1)
            .map(|(_, n)| (*n).clone())
            .collect();
        culprits.sort();
        return Err(FitError::Singular { names: culprits });
    }
    // (JᵀJ)⁻¹ = V Σ⁻² Vᵀ
    let v = v_t.transpose();
    let inv_s2 = DMatrix::from_diagonal(&sv.map(|s| 1.0 / (s * s)));
    Ok(&v * inv_s2 * v.transpose())
}
