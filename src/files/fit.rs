//! `fit/<name>.json` and `fit/<name>.csv`: each `fit` block's model fitted to the run's
//! observations when the bundle is written.
//!
//! The observations are every measured value of an observed proxy (one per experiment and
//! `observe` line, whatever the experiment's status, since a proxy value is data); each runs
//! the model's ODEs from time zero to the fit's `time` at that experiment's conditions: its
//! variables as suggested and its derived values, with the device settings the lab recorded
//! in place of the computed ones ("the bundle records what the lab actually did").
//!
//! `fit/<name>.json`: `status` (`ok`, or `failed` with `error`, the reason), each parameter's
//! `estimate` and `standard_error` in the unit its bounds were written in (and SI), its bounds
//! and whether it ended at one, the `covariance` (SI) and `correlation` matrices in the
//! parameters' order, `sse` and `residual_sd` (SI of the proxies), the degrees of freedom,
//! the optimizer's convergence and the solver's and optimizer's settings.
//! `fit/<name>.csv`: one row per observation, `experiment`, `proxy`, `time_s`, `observed`,
//! `fitted` and `residual` (observed − fitted) in the proxy's unit (`unit` column): the
//! fitted model's predictions at the campaign's conditions.
//!
//! Invariant: both files are a function of the campaign and the journal (the fit is
//! deterministic), so they are part of the bundle's reproducible files.

use std::fmt::Write as _;

use qdx_fit::{FitError, FitSettings, Model, Observation, Parameter};
use serde_json::{Value, json};

use crate::record::Experiment;
use crate::validate::campaign::{Campaign, DerivedId, DisplayUnit, Fit, ProxyId, VarId};
use crate::validate::expr::Env;

/// The conditions of one observation: the experiment's variables and derived values, SI.
struct Case {
    experiment: u64,
    proxy: ProxyId,
    /// Which `observe` line.
    line: usize,
    vars: Vec<f64>,
    derived: Vec<f64>,
}

struct CaseEnv<'a> {
    case: &'a Case,
    locals: &'a [f64],
}

impl Env for CaseEnv<'_> {
    fn var(&self, id: VarId) -> f64 {
        self.case.vars.get(id).copied().unwrap_or(f64::NAN)
    }
    fn derived(&self, id: DerivedId) -> f64 {
        self.case.derived.get(id).copied().unwrap_or(f64::NAN)
    }
    fn proxy(&self, _: ProxyId) -> f64 {
        f64::NAN
    }
    fn local(&self, i: usize) -> f64 {
        self.locals.get(i).copied().unwrap_or(f64::NAN)
    }
}

/// A validated `fit` block at the run's conditions, as `qdx-fit` integrates it.
struct CampaignModel<'a> {
    fit: &'a Fit,
    cases: &'a [Case],
    scale: f64,
}

impl CampaignModel<'_> {
    fn env_eval(&self, i: usize, y: &[f64], p: &[f64], e: &crate::validate::expr::TExpr) -> f64 {
        let Some(case) = self.cases.get(i) else {
            return f64::NAN;
        };
        let mut locals = Vec::with_capacity(y.len() + p.len());
        locals.extend_from_slice(y);
        locals.extend_from_slice(p);
        e.eval(&CaseEnv {
            case,
            locals: &locals,
        })
    }
}

impl Model for CampaignModel<'_> {
    fn states(&self) -> usize {
        self.fit.states.len()
    }
    fn scale(&self) -> f64 {
        self.scale
    }
    fn initial(&self, i: usize, p: &[f64], y0: &mut [f64]) {
        // Initial values read parameters and campaign values, never states: NaN placeholders.
        let none = vec![f64::NAN; y0.len()];
        for (y, s) in y0.iter_mut().zip(&self.fit.states) {
            *y = self.env_eval(i, &none, p, &s.initial);
        }
    }
    fn rate(&self, i: usize, _t: f64, y: &[f64], p: &[f64], dy: &mut [f64]) {
        for (d, s) in dy.iter_mut().zip(&self.fit.states) {
            *d = self.env_eval(i, y, p, &s.rate);
        }
    }
    fn observe(&self, i: usize, y: &[f64], p: &[f64]) -> f64 {
        let line = self.cases.get(i).map_or(usize::MAX, |c| c.line);
        self.fit
            .observations
            .get(line)
            .map_or(f64::NAN, |o| self.env_eval(i, y, p, &o.expr))
    }
}

/// Every derived value at an experiment's point, the recorded device settings in place of
/// the computed ones.
fn conditions(c: &Campaign, e: &Experiment) -> Vec<f64> {
    let recorded = e.outcome.as_ref().map(|o| &o.settings);
    let mut out: Vec<f64> = Vec::with_capacity(c.derived.len());
    for (id, d) in c.derived.iter().enumerate() {
        let value = match recorded.and_then(|r| r.get(&id)) {
            Some(v) => *v,
            None => {
                let case = Case {
                    experiment: e.id,
                    proxy: 0,
                    line: 0,
                    vars: e.point.clone(),
                    derived: out.clone(),
                };
                d.expr.eval(&CaseEnv {
                    case: &case,
                    locals: &[],
                })
            }
        };
        out.push(value);
    }
    out
}

/// The parameters to fit, as `qdx-fit` takes them.
fn parameters_of(fit: &Fit) -> Vec<Parameter> {
    fit.parameters
        .iter()
        .map(|p| Parameter {
            name: p.name.clone(),
            lo: p.lo,
            hi: p.hi,
            log: p.log,
        })
        .collect()
}

/// The solver's absolute tolerance scales with the states' initial values at the middle of
/// the parameters' box (a radius of 1e-9 m), or 1 when they are all zero.
fn solver_scale(fit: &Fit, cases: &[Case]) -> f64 {
    let middle: Vec<f64> = fit
        .parameters
        .iter()
        .map(|p| {
            if p.log {
                (p.lo * p.hi).sqrt()
            } else {
                (p.lo + p.hi) / 2.0
            }
        })
        .collect();
    let probe = CampaignModel {
        fit,
        cases,
        scale: 1.0,
    };
    let mut y0 = vec![0.0; fit.states.len()];
    if !cases.is_empty() {
        probe.initial(0, &middle, &mut y0);
    }
    let scale = y0
        .iter()
        .map(|v| v.abs())
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold(f64::INFINITY, f64::min);
    if scale.is_finite() { scale } else { 1.0 }
}

/// The text of `fit/<name>.json` and `fit/<name>.csv` for one fit.
pub fn write(c: &Campaign, fit: &Fit, experiments: &[Experiment]) -> (String, String) {
    let mut cases = Vec::new();
    let mut observations = Vec::new();
    for e in experiments {
        let Some(outcome) = &e.outcome else { continue };
        let derived = conditions(c, e);
        for (line, o) in fit.observations.iter().enumerate() {
            let Some(Some(value)) = outcome.proxies.get(o.proxy) else {
                continue;
            };
            let case = Case {
                experiment: e.id,
                proxy: o.proxy,
                line,
                vars: e.point.clone(),
                derived: derived.clone(),
            };
            let time = fit.time.eval(&CaseEnv {
                case: &case,
                locals: &[],
            });
            observations.push(Observation {
                time,
                value: *value,
            });
            cases.push(case);
        }
    }
    let parameters = parameters_of(fit);
    let model = CampaignModel {
        fit,
        cases: &cases,
        scale: solver_scale(fit, &cases),
    };
    let settings = FitSettings::for_parameters(parameters.len());
    let result = qdx_fit::fit(&model, &parameters, &observations, &settings);
    let proxy_unit = |id: ProxyId| c.proxies.get(id).map(|p| &p.unit);
    let mut csv = String::from("experiment,proxy,unit,time_s,observed,fitted,residual\n");
    let json = match &result {
        Ok(f) => {
            for ((case, o), fitted) in cases.iter().zip(&observations).zip(&f.fitted) {
                let (name, unit) = c
                    .proxies
                    .get(case.proxy)
                    .map_or(("", None), |p| (p.name.as_str(), Some(&p.unit)));
                let cell = |si: f64| unit.map_or_else(|| si.to_string(), |u| u.number(si));
                let residual = unit.map_or_else(
                    || (o.value - fitted).to_string(),
                    |u| {
                        DisplayUnit::new(u.unit.clone(), qdx_units::Interpretation::Difference)
                            .number(o.value - fitted)
                    },
                );
                let _ = writeln!(
                    csv,
                    "{},{name},{},{},{},{},{residual}",
                    case.experiment,
                    unit.map_or("", |u| u.symbol()),
                    o.time,
                    cell(o.value),
                    cell(*fitted),
                );
            }
            let params: Vec<Value> = fit
                .parameters
                .iter()
                .enumerate()
                .map(|(k, p)| {
                    let est = f.estimates.get(k).copied().unwrap_or(f64::NAN);
                    let se = f.standard_errors.get(k).copied().flatten();
                    // A standard error is a difference: scale it, never offset it.
                    let se_unit = p.unit.unit.from_si(
                        se.unwrap_or(f64::NAN),
                        qdx_units::Interpretation::Difference,
                    );
                    json!({
                        "name": p.name,
                        "unit": p.unit.symbol(),
                        "estimate": p.unit.from_si(est),
                        "standard_error": se.map(|_| se_unit),
                        "estimate_si": est,
                        "standard_error_si": se,
                        "bounds": [p.unit.from_si(p.lo), p.unit.from_si(p.hi)],
                        "log": p.log,
                        "at_bound": f.at_bound.get(k).copied().unwrap_or(false),
                    })
                })
                .collect();
            json!({
                "fit": fit.name,
                "status": "ok",
                "parameters": params,
                "covariance_si": f.covariance,
                "correlation": f.correlation,
                "observations": observations.len(),
                "degrees_of_freedom": f.dof,
                "sse_si": f.sse,
                "residual_sd_si": f.residual_sd,
                "observed": fit.observations.iter().map(|o| json!({
                    "proxy": c.proxies.get(o.proxy).map(|p| p.name.as_str()),
                    "unit": proxy_unit(o.proxy).map(|u| u.symbol()),
                })).collect::<Vec<_>>(),
                "convergence": f.convergence,
                "settings": f.settings,
            })
        }
        Err(e) => json!({
            "fit": fit.name,
            "status": "failed",
            "error": describe(e, &cases, c),
            "observations": observations.len(),
            "settings": settings,
        }),
    };
    let text = serde_json::to_string_pretty(&json).unwrap_or_default() + "\n";
    (text, csv)
}

/// The error with its observation named by experiment and proxy.
fn describe(e: &FitError, cases: &[Case], c: &Campaign) -> String {
    let index = match e {
        FitError::NotFiniteData { index, .. }
        | FitError::Integration { index, .. }
        | FitError::NotFiniteModel { index } => Some(*index),
        _ => None,
    };
    let text = e.to_string();
    match index.and_then(|i| cases.get(i).map(|case| (i, case))) {
        Some((i, case)) => {
            let proxy = c.proxies.get(case.proxy).map_or("?", |p| p.name.as_str());
            text.replacen(
                &format!("observation {i}"),
                &format!("experiment {} (`{proxy}`)", case.experiment),
                1,
            )
        }
        None => text,
    }
}

/// A `fit` block as the optimizer's prior mean (`optimizer bayesian { prior_mean <fit> }`,
/// see `qdx_optimize::PriorMean`): the same model, solver and least squares as
/// `fit/<name>.json`, fitted to the observations the optimizer has been told.
///
/// What it sees differs from the bundle's fit in two ways, both because the optimizer knows
/// points and measured proxies only: each observation's conditions are its variables as
/// suggested and the derived values computed from them (not the device settings the lab
/// recorded), and a failed experiment's proxies are not data for it.
///
/// Invariant: [`qdx_optimize::PriorMean::fit`] is a function of the observations (fixed
/// starts, no state), so a resumed or replayed run refits the same parameters.
#[derive(Debug, Clone)]
pub struct FitMean {
    fit: Fit,
    /// The campaign's derived values, in order (each reads the variables and earlier ones).
    derived: Vec<crate::validate::expr::TExpr>,
    /// The observed proxies' names, in the fit's `observe` order.
    proxies: Vec<String>,
}

impl FitMean {
    /// The campaign's fit number `index` as a prior mean; `None` if there is no such fit.
    pub fn new(c: &Campaign, index: usize) -> Option<Self> {
        let fit = c.fits.get(index)?.clone();
        let proxies = fit
            .observations
            .iter()
            .map(|o| c.proxies.get(o.proxy).map(|p| p.name.clone()))
            .collect::<Option<Vec<_>>>()?;
        Some(FitMean {
            derived: c.derived.iter().map(|d| d.expr.clone()).collect(),
            fit,
            proxies,
        })
    }

    /// The conditions of observe line `line` at SI variable values `vars`, and its time.
    fn case(&self, vars: Vec<f64>, line: usize) -> (Case, f64) {
        let mut case = Case {
            experiment: 0,
            proxy: self.fit.observations.get(line).map_or(0, |o| o.proxy),
            line,
            vars,
            derived: Vec::with_capacity(self.derived.len()),
        };
        for d in &self.derived {
            let v = d.eval(&CaseEnv {
                case: &case,
                locals: &[],
            });
            case.derived.push(v);
        }
        let time = self.fit.time.eval(&CaseEnv {
            case: &case,
            locals: &[],
        });
        (case, time)
    }
}

impl qdx_optimize::PriorMean for FitMean {
    fn name(&self) -> &str {
        &self.fit.name
    }

    fn values(&self) -> Vec<String> {
        self.proxies.clone()
    }

    fn parameters(&self) -> Vec<String> {
        self.fit.parameters.iter().map(|p| p.name.clone()).collect()
    }

    fn fit(&self, observations: &[qdx_optimize::Observation]) -> Result<Vec<f64>, String> {
        let mut cases = Vec::new();
        let mut data = Vec::new();
        for o in observations {
            let qdx_optimize::Outcome::Measured(measured) = &o.outcome else {
                continue;
            };
            let vars = crate::validate::strategy::values(&o.point);
            for (line, name) in self.proxies.iter().enumerate() {
                let Some(value) = measured.get(name).copied().filter(|v| v.is_finite()) else {
                    continue;
                };
                let (case, time) = self.case(vars.clone(), line);
                data.push(Observation { time, value });
                cases.push(case);
            }
        }
        let parameters = parameters_of(&self.fit);
        let model = CampaignModel {
            fit: &self.fit,
            cases: &cases,
            scale: solver_scale(&self.fit, &cases),
        };
        let settings = FitSettings::for_parameters(parameters.len());
        qdx_fit::fit(&model, &parameters, &data, &settings)
            .map(|f| f.estimates)
            .map_err(|e| e.to_string())
    }

    fn predict(&self, parameters: &[f64], value: usize, point: &qdx_optimize::Point) -> f64 {
        let (case, time) = self.case(crate::validate::strategy::values(point), value);
        let cases = [case];
        let model = CampaignModel {
            fit: &self.fit,
            cases: &cases,
            scale: solver_scale(&self.fit, &cases),
        };
        let ode = FitSettings::for_parameters(parameters.len()).ode;
        qdx_fit::predict(
            &model,
            parameters,
            &[Observation { time, value: 0.0 }],
            &ode,
        )
        .ok()
        .and_then(|v| v.first().copied())
        .unwrap_or(f64::NAN)
    }
}
