//! Gaussian-process Bayesian optimisation.
//!
//! Each `ask`: (1) while fewer than `initial.n` experiments are known (observed + pending), points
//! come from the initial design; (2) otherwise the scalar utilities of the successful experiments
//! are standardised, passed through a fitted Yeo–Johnson power transform (`output_warping`, see
//! `warp.rs`) and a Matérn-5/2 ARD GP is fitted by MAP (warm-started from the previous fit);
//! (3) if any experiment failed, a second GP regressed on ±1 success labels gives `P(success)`,
//! whose log is added to the log acquisition (failed points are never given made-up values unless
//! `FailureHandling::ImputeWorst` is declared, or chosen by `FailureHandling::Auto`, the default,
//! which compares the two treatments on the data at each ask: `failures.rs`; a campaign the
//! composite model serves keeps the feasibility model); (4) the acquisition is maximised by projected L-BFGS
//! from the best of scrambled-Sobol and local (around the best observations) candidates, categorical
//! coordinates held fixed during the gradient steps; in pool mode every free pool point is scored
//! instead; (5) basin escape (`basin_escape`): when the chosen point is a re-measurement — within
//! 0.02 lengthscales of the incumbent, where the predicted sd is below 0.3 % of the signal sd —
//! the incumbent's basin (2 lengthscales of the full-data GP, each capped at a quarter of the
//! range) is excluded, a GP is fitted to the
//! observations outside it (the basin's lengthscales say little about the rest of the space) and
//! the acquisition is maximised outside; repeated for up to four basins; (6) batches and pending
//! experiments use the kriging believer: each chosen point is added to the GP one predicted sd
//! below its predicted mean (`BELIEVER_SDS`) before the next one is chosen (the composite model:
//! the values of the score sample at the same quantile, `composite::BELIEF_QUANTILE`).
//! (7) A transient campaign that asks for it ([`Strategy::choose_ramps`]): each model-based
//! suggestion (score GP or composite model) also chooses the ramp to run at its point, the start
//! and end inside the declared ramp with the most joint expected improvement of its readings
//! per lab hour (see `ramp.rs`), recorded in its explanation; design points and the learned
//! surrogates' score model keep the declared ramp.
//!
//! With a learned surrogate (`BayesOptions::surrogate`: extra-trees or a network ensemble, see
//! `learned.rs`) steps (2), (4) and (6) use it in place of the GP (`ask_learned`, or one per
//! value in the composite model); output warping and basin escape are GP-only.
//!
//! Invariants: suggestions are feasible and distinct from observed and pending points; all
//! randomness derives from the seed, the number of observations and the number of asks, and no
//! state other than the warm-start hyperparameters carries over between asks (basin escape is
//! recomputed from the data each time), so replaying the same tells gives the same suggestions.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::acquisition::{self, Acquisition};
use crate::composite::{self, CompositeModel, ValueModel};
use crate::design::{Design, DesignKind};
use crate::domain::{Domain, Point, Variable, point_key};
use crate::error::{OptimizeError, Result};
use crate::failures::{self, FailureChoice};
use crate::gp::{FitEffort, Gp, Metric, Prior, normal};
use crate::lbfgs;
use crate::learned::{BayesSurrogate, Learned, Regressor};
use crate::mean::{FittedPrior, PriorMean};
use crate::objective::{Combine, Objectives};
use crate::observation::{Explanation, Observation, Outcome, Suggestion};
use crate::ramp::{self, RampSearch};
use crate::sobol::Sobol;
use crate::strategy::{History, Strategy};
use crate::warp::OutputWarp;

/// Initial design of a model-based strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InitialKind {
    /// Scrambled Sobol.
    Sobol,
    /// Latin hypercube.
    LatinHypercube,
    /// Uniform random.
    Random,
}

/// Initial design and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitialDesign {
    /// Which design.
    pub kind: InitialKind,
    /// Number of design experiments (prior observations count toward it).
    pub n: usize,
}

/// Covariance kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Kernel {
    /// Matérn-5/2 with one lengthscale per variable (ARD).
    #[default]
    Matern52,
}

/// How failed experiments enter the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum FailureHandling {
    /// The default: at each ask with failures, one of the two below, chosen by which models
    /// the successful outcomes better out of sample (see `failures.rs`); the choice and its
    /// evidence are each suggestion's `explain.failures`.
    #[default]
    Auto,
    /// A GP classifier on success labels weights the acquisition by `P(success)`.
    FeasibilityModel,
    /// Failed experiments get the worst observed utility (the usual penalty workaround; kept for
    /// comparison in benchmarks).
    ImputeWorst,
}

/// What the GP models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum BayesModel {
    /// One GP per measured value the objectives read, the acquisition computed from their
    /// predictions pushed through the known score (see `composite.rs`), when the score is a
    /// function of the values worth modelling that way ([`Objectives::is_composite`]), the
    /// acquisition is (log or noisy) EI and failures go to the feasibility model; otherwise
    /// the same as `Score`. The default: it wins both simulated campaigns and both pool
    /// campaigns with failures (`bench/optimize/README.md`, "Composite model";
    /// `bench/pools/README.md`).
    #[default]
    Composite,
    /// One GP of the combined score (ParEGO's scalarisation for Pareto objectives).
    Score,
}

/// Options of [`Bayesian`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BayesOptions {
    /// Initial design.
    pub initial: InitialDesign,
    /// Kernel.
    pub kernel: Kernel,
    /// Acquisition function.
    pub acquisition: Acquisition,
    /// Preferred batch size (the runtime passes it to `ask`).
    pub batch: usize,
    /// Failed experiments.
    pub failures: FailureHandling,
    /// Fit a Yeo–Johnson power transform to the utilities before the GP (see `warp.rs`).
    #[serde(default = "enabled")]
    pub output_warping: bool,
    /// Exclude a basin once the model only asks to re-measure its centre, and search the rest
    /// of the space with a GP of the data outside it (see the module documentation).
    #[serde(default = "enabled")]
    pub basin_escape: bool,
    /// What the GP models: the combined score or each measured value (see [`BayesModel`]).
    #[serde(default)]
    pub model: BayesModel,
    /// The surrogate: a GP, extra-trees or a network ensemble (see `learned.rs`); with the
    /// composite model, one of them per measured value.
    #[serde(default)]
    pub surrogate: BayesSurrogate,
}

fn enabled() -> bool {
    true
}

impl BayesOptions {
    /// Defaults for a domain: a Sobol design of `clamp(d + 2, 5, 10)` points, log EI, batch 1,
    /// output warping and basin escape on, the composite model (one GP per measured value where
    /// the score is a known function of several, or of a target).
    pub fn for_domain(domain: &Domain) -> Self {
        BayesOptions {
            initial: InitialDesign {
                kind: InitialKind::Sobol,
                n: (domain.dim() + 2).clamp(5, 10),
            },
            kernel: Kernel::Matern52,
            acquisition: Acquisition::LogEi,
            batch: 1,
            failures: FailureHandling::Auto,
            output_warping: true,
            basin_escape: true,
            model: BayesModel::Composite,
            surrogate: BayesSurrogate::Gp,
        }
    }
}

/// Raw candidates scored before the gradient search.
const RAW_CANDIDATES: usize = 512;
/// Gradient searches per suggestion.
const STARTS: usize = 5;
/// Local candidates drawn around each anchor (one of the best observations).
const LOCAL_PER_ANCHOR: usize = 40;
/// Anchors for local candidates.
const ANCHORS: usize = 5;
/// Basin escape: the chosen point counts as a re-measurement when its predicted sd is below this
/// fraction of the signal sd …
const EXHAUSTED_SD: f64 = 0.003;
/// … and it lies within this distance (lengthscale units) of the incumbent.
const EXHAUSTED_DISTANCE: f64 = 0.02;
/// Radius (lengthscale units of the full-data GP) excluded around an exhausted basin's centre.
const BASIN_RADIUS: f64 = 2.0;
/// Lengthscales above this (model units) count as this for the excluded radius: with long
/// lengthscales a ball of `BASIN_RADIUS` would cover the whole domain and leave nowhere to go.
const BASIN_LENGTHSCALE_CAP: f64 = 0.25;
/// Most basins excluded in one suggestion.
const MAX_BASINS: usize = 4;
/// Fewest observations outside the excluded basins for the escape model to be fitted.
const MIN_OUTSIDE: usize = 4;
/// Posterior samples of the incumbent for noisy EI.
const NOISY_SAMPLES: usize = 32;
/// Batches and pending experiments: the value a chosen point is believed to have, in predicted
/// sds below its predicted mean. Believing the mean (the plain kriging believer) leaves the
/// expected improvement high just beside the point, so a batch of 4 clustered around the
/// incumbent; one sd lower lowers it around the point as well, and the batch spreads. Tuning
/// seeds 100–129, batch 4 (`bench/optimize/README.md`, "Batches"): Hartmann-6 within 0.05
/// 14/30 → 21/30 (batch 1: 21/30), Branin 25/30 → 28/30, branin_fail 24/30 → 28/30; 0.5 and
/// 1.5 sd and the worst value seen (the "constant liar") did no better.
const BELIEVER_SDS: f64 = 1.0;

/// GP Bayesian optimisation.
#[derive(Debug)]
pub struct Bayesian {
    options: BayesOptions,
    history: History,
    design: Design,
    seed: u64,
    asks: u64,
    theta: Option<Vec<f64>>,
    feas_theta: Option<Vec<f64>>,
    /// Warm starts of the composite model's GPs, one per objective.
    value_thetas: Vec<Option<Vec<f64>>>,
    /// The composite model's prior mean (see `mean.rs`), refitted at every model suggestion.
    prior_mean: Option<Arc<dyn PriorMean>>,
    /// What `failures auto` chose for the current ask (recomputed from the data each ask).
    failure_choice: Option<FailureChoice>,
    /// A transient campaign's ramp, chosen for each model-based suggestion (`ramp.rs`).
    ramp: Option<RampSearch>,
}

/// An acquisition surface over model space: where it may look and what it is worth there.
pub(crate) trait Surface {
    fn allowed(&self, x: &[f64]) -> bool;
    fn value(&self, x: &[f64], grad: bool) -> (f64, Vec<f64>);
}

impl Surface for Model<'_> {
    fn allowed(&self, x: &[f64]) -> bool {
        Model::allowed(self, x)
    }
    fn value(&self, x: &[f64], grad: bool) -> (f64, Vec<f64>) {
        Model::value(self, x, grad)
    }
}

impl Surface for CompositeModel<'_> {
    fn allowed(&self, _: &[f64]) -> bool {
        true
    }
    fn value(&self, x: &[f64], grad: bool) -> (f64, Vec<f64>) {
        CompositeModel::value(self, x, grad)
    }
}

/// What the acquisition needs for one suggestion.
struct Model<'a> {
    gp: Gp,
    feasibility: Option<&'a Gp>,
    acquisition: Acquisition,
    best: f64,
    bests: Vec<f64>,
    /// Exhausted basin centres and the squared radius (lengthscale units of the full-data
    /// model) excluded around them.
    tabu: Vec<Vec<f64>>,
    tabu_r2: f64,
    metric: Metric,
    /// The acquisition GP's targets are `(ystd − shift) / scale`.
    scale: (f64, f64),
}

impl Model<'_> {
    fn allowed(&self, x: &[f64]) -> bool {
        self.tabu
            .iter()
            .all(|c| self.metric.dist2(x, c) >= self.tabu_r2)
    }

    fn value(&self, x: &[f64], grad: bool) -> (f64, Vec<f64>) {
        let p = self.gp.predict(x, grad);
        let (mut v, mut g) = match self.acquisition {
            Acquisition::LogEi => acquisition::log_ei(&p, self.best, grad),
            Acquisition::NoisyEi => acquisition::log_noisy_ei(&p, &self.bests, grad),
            Acquisition::Ucb { beta } => acquisition::ucb(&p, beta, grad),
        };
        if let Some(f) = self.feasibility {
            let (lp, gp) = acquisition::log_feasibility(f, x, grad);
            v += lp;
            for (a, b) in g.iter_mut().zip(gp) {
                *a += b;
            }
        }
        (v, g)
    }

    /// The score GP's posterior at `x` sampled at [`composite::BASE_SAMPLES`] stratified
    /// normal quantiles (the same at every `x`), each sample's smoothed improvement over the
    /// incumbent in logs (as the composite model's, on the standardised scale), plus
    /// `ln P(success)`. UCB has no improvement: `None`.
    fn log_improvements(&self, x: &[f64]) -> Option<Vec<f64>> {
        if matches!(self.acquisition, Acquisition::Ucb { .. }) {
            return None;
        }
        let p = self.gp.predict(x, false);
        let sd = p.var.sqrt().max(1e-12);
        let feasible = self
            .feasibility
            .map_or(0.0, |f| acquisition::log_feasibility(f, x, false).0);
        let tau = composite::TAU_FRACTION;
        let n = composite::BASE_SAMPLES;
        Some(
            (0..n)
                .map(|s| {
                    let e = composite::normal_quantile((s as f64 + 0.5) / n as f64);
                    let u = (p.mean + sd * e - self.best) / tau;
                    tau.ln() + composite::log_softplus(u).0 + feasible
                })
                .collect(),
        )
    }
}

impl Bayesian {
    /// A Bayesian optimiser over `domain`.
    pub fn new(
        options: BayesOptions,
        domain: Arc<Domain>,
        objectives: Objectives,
        seed: u64,
    ) -> Result<Self> {
        if options.initial.n == 0 {
            return Err(OptimizeError::InvalidOption {
                strategy: "bayesian",
                reason: "the initial design needs at least one point".into(),
            });
        }
        if let Acquisition::Ucb { beta } = options.acquisition
            && !(beta.is_finite() && beta > 0.0)
        {
            return Err(OptimizeError::InvalidOption {
                strategy: "bayesian",
                reason: "UCB needs β > 0".into(),
            });
        }
        let kind = match options.initial.kind {
            InitialKind::Sobol => DesignKind::Sobol,
            InitialKind::LatinHypercube => DesignKind::LatinHypercube {
                n: options.initial.n,
            },
            InitialKind::Random => DesignKind::Random,
        };
        let design = Design::new(kind, Arc::clone(&domain), objectives.clone(), seed)?;
        Ok(Bayesian {
            options,
            history: History::new(domain, objectives),
            design,
            seed,
            asks: 0,
            theta: None,
            feas_theta: None,
            value_thetas: Vec::new(),
            prior_mean: None,
            failure_choice: None,
            ramp: None,
        })
    }

    /// The optimiser with a prior mean for the values it predicts: the composite model is
    /// used (also for a single maximised or minimised value) and models their residuals.
    #[must_use]
    pub fn with_prior_mean(mut self, prior: Arc<dyn PriorMean>) -> Self {
        self.prior_mean = Some(prior);
        self
    }

    fn rng(&self) -> ChaCha8Rng {
        let n = self.history.observations.len() as u64;
        let mut r = ChaCha8Rng::seed_from_u64(self.seed ^ 0x5eed_0fb0_u64.wrapping_mul(n + 1));
        r.set_stream(self.asks);
        r
    }

    fn explain(&self, phase: &str) -> Explanation {
        Explanation {
            strategy: "bayesian".into(),
            phase: phase.into(),
            ..Explanation::default()
        }
    }

    fn fit_effort(&self, n: usize, warm: bool) -> FitEffort {
        if warm && n > 20 {
            FitEffort {
                // A warm start after one more observation is close to the optimum: it is
                // refined without random prior draws (the prior's mode still competes), to a
                // looser tolerance. Together with the line search's
                // interpolation this takes a refit at n = 100 on Hartmann-6 from 20-29 to 9-17
                // likelihood evaluations, with the benchmarks' counts unchanged
                // (bench/optimize/README.md, "Time per suggestion").
                prior_draws: 0,
                starts: 2,
                max_iter: 20,
                rel_tol: 1e-5,
            }
        } else {
            FitEffort {
                prior_draws: 16,
                starts: 3,
                max_iter: 60,
                rel_tol: 1e-10,
            }
        }
    }

    /// The classifier of success: a GP regressed on ±1 labels (success = a combined score).
    fn fit_feasibility(
        &self,
        utilities: &[Option<f64>],
        categorical: &[bool],
        rng: &mut ChaCha8Rng,
    ) -> Result<Gp> {
        let domain = &self.history.domain;
        let fx: Vec<Vec<f64>> = self
            .history
            .observations
            .iter()
            .map(|o| domain.to_model(&o.point))
            .collect();
        let fy: Vec<f64> = utilities
            .iter()
            .map(|u| if u.is_some() { 1.0 } else { -1.0 })
            .collect();
        let mut fprior = Prior::for_dim(domain.dim());
        fprior.noise_mean = -3.0;
        let effort = self.fit_effort(fx.len(), self.feas_theta.is_some());
        let f = Gp::fit(
            &fx,
            &fy,
            categorical,
            &fprior,
            self.feas_theta.as_deref(),
            effort,
            rng,
        )?;
        Ok(f)
    }

    /// The GP the acquisition uses: the full-data GP, or, when basins are excluded, a GP fitted
    /// to the observations outside them (the excluded basin's lengthscales say nothing about the
    /// rest of the space). Pending experiments enter as fantasies at their predicted mean.
    #[allow(clippy::too_many_arguments)]
    fn acquisition_model<'f>(
        &self,
        main: &Gp,
        metric: &Metric,
        tabu: &[Vec<f64>],
        tabu_r: f64,
        data: (&[Vec<f64>], &[f64], &[bool]),
        pending: &[Point],
        feasibility: Option<&'f Gp>,
        rng: &mut ChaCha8Rng,
    ) -> Result<Model<'f>> {
        let (xs, ystd, categorical) = data;
        let r2 = tabu_r * tabu_r;
        let outside: Vec<usize> = (0..xs.len())
            .filter(|i| tabu.iter().all(|c| metric.dist2(&xs[*i], c) >= r2))
            .collect();
        let (mut gp, scale, tabu) = if tabu.is_empty() || outside.len() < MIN_OUTSIDE {
            (main.clone(), (0.0, 1.0), Vec::new())
        } else {
            let sx: Vec<Vec<f64>> = outside.iter().map(|i| xs[*i].clone()).collect();
            let sy: Vec<f64> = outside.iter().map(|i| ystd[*i]).collect();
            let (m, s) = standardisation(&sy);
            let sy: Vec<f64> = sy.iter().map(|v| (v - m) / s).collect();
            let prior = Prior::for_dim(xs.first().map_or(1, Vec::len));
            let effort = self.fit_effort(sx.len(), false);
            let gp = Gp::fit(&sx, &sy, categorical, &prior, None, effort, rng)?;
            (gp, (m, s), tabu.to_vec())
        };
        let domain = &self.history.domain;
        for p in pending {
            let x = domain.to_model(p);
            let lie = believed(&gp.predict(&x, false));
            gp = gp.with_point(&x, lie)?;
        }
        let mut model = Model {
            best: 0.0,
            bests: Vec::new(),
            gp,
            feasibility,
            acquisition: self.options.acquisition,
            tabu,
            tabu_r2: r2,
            metric: metric.clone(),
            scale,
        };
        model.best = incumbent_allowed(&model).map_or(f64::NEG_INFINITY, |(v, _)| v);
        if !model.best.is_finite() {
            model.best = incumbent(&model.gp);
        }
        if model.acquisition == Acquisition::NoisyEi {
            model.bests = noisy_incumbents(&model.gp, ystd, NOISY_SAMPLES, rng);
        }
        Ok(model)
    }

    /// Whether suggestions come from the composite model (see [`BayesModel::Composite`]).
    pub fn uses_composite(&self) -> bool {
        self.composite_serves() && self.failure_treatment() == FailureHandling::FeasibilityModel
    }

    /// Whether the options and objectives call for the composite model (failures aside).
    fn composite_serves(&self) -> bool {
        self.options.model == BayesModel::Composite
            && (self.history.objectives.is_composite() || self.prior_mean.is_some())
            && matches!(
                self.options.acquisition,
                Acquisition::LogEi | Acquisition::NoisyEi
            )
    }

    /// The treatment of failures this ask uses: the declared one, or what `auto` chose.
    fn failure_treatment(&self) -> FailureHandling {
        match (self.options.failures, &self.failure_choice) {
            (FailureHandling::Auto, Some(c)) => c.treatment(),
            (FailureHandling::Auto, None) => FailureHandling::FeasibilityModel,
            (declared, _) => declared,
        }
    }

    /// With `failures auto` and failures among the observations, which treatment this ask uses
    /// (see `failures.rs`); `None` otherwise.
    fn choose_failures(&self) -> Option<FailureChoice> {
        if self.options.failures != FailureHandling::Auto {
            return None;
        }
        // The comparison scores models of the combined score; the composite model does not
        // fit one, and imputing would replace it by the score model, which lost to it on both
        // simulated campaigns and both pools with failures (`bench/pools/README.md`). So a
        // campaign the composite model serves (a prior mean makes it serve a single proxy too)
        // keeps the feasibility model, unasked.
        if self.composite_serves() {
            return None;
        }
        let domain = &self.history.domain;
        let inputs: Vec<Vec<f64>> = self
            .history
            .observations
            .iter()
            .map(|o| domain.to_model(&o.point))
            .collect();
        let categorical: Vec<bool> = domain
            .variables()
            .iter()
            .map(Variable::is_categorical)
            .collect();
        failures::choose(
            &inputs,
            &self.history.utilities(None),
            &categorical,
            self.seed,
        )
    }

    /// Model-based suggestions from one GP per measured value (see `composite.rs`). No basin
    /// escape: the Monte-Carlo improvement of a re-measurement is already near zero.
    fn ask_composite(
        &mut self,
        n: usize,
        pending: &[Point],
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<Suggestion>> {
        let domain = Arc::clone(&self.history.domain);
        let objectives = self.history.objectives.clone();
        let categorical: Vec<bool> = domain
            .variables()
            .iter()
            .map(Variable::is_categorical)
            .collect();
        let scores = self.history.utilities(None);
        let inputs: Vec<Vec<f64>> = self
            .history
            .observations
            .iter()
            .map(|o| domain.to_model(&o.point))
            .collect();
        let levels: Vec<Option<usize>> = (0..domain.dim()).map(|i| domain.levels_of(i)).collect();
        let prior = Prior::for_dim(domain.dim());
        if self.value_thetas.len() != objectives.len() {
            self.value_thetas = vec![None; objectives.len()];
        }
        let mut fitted_mean = self
            .prior_mean
            .as_ref()
            .map(|m| FittedPrior::fit(m, &domain, &self.history.observations));
        let mut values = Vec::with_capacity(objectives.len());
        for (k, objective) in objectives.objectives.iter().enumerate() {
            let mut xs = Vec::new();
            let mut ys = Vec::new();
            for (o, x) in self.history.observations.iter().zip(&inputs) {
                if let Outcome::Measured(v) = &o.outcome
                    && let Some(y) = v.get(&objective.name).copied().filter(|y| y.is_finite())
                {
                    xs.push(x.clone());
                    ys.push(y);
                }
            }
            let mean = fitted_mean
                .as_mut()
                .and_then(|p| p.residuals(&objective.name, &xs, &mut ys));
            let (shift, scale) = standardisation(&ys);
            let ystd: Vec<f64> = ys.iter().map(|y| (y - shift) / scale).collect();
            let model =
                match Learned::fit(self.options.surrogate, &xs, &ystd, &levels, rng.random()) {
                    Some(learned) => Regressor::Learned(learned),
                    None => {
                        let warm = self.value_thetas[k].take();
                        let effort = self.fit_effort(xs.len(), warm.is_some());
                        let gp = Gp::fit(
                            &xs,
                            &ystd,
                            &categorical,
                            &prior,
                            warm.as_deref(),
                            effort,
                            rng,
                        )?;
                        self.value_thetas[k] = Some(gp.theta.clone());
                        Regressor::Gp(gp)
                    }
                };
            values.push(ValueModel {
                model,
                shift,
                scale,
                mean,
            });
        }
        let failures = scores.iter().filter(|u| u.is_none()).count();
        let feasibility = if failures > 0 {
            let f = self.fit_feasibility(&scores, &categorical, rng)?;
            self.feas_theta = Some(f.theta.clone());
            Some(f)
        } else {
            None
        };
        // Successful observations, best score first (the incumbent and the anchors).
        let mut ranked: Vec<(f64, &Vec<f64>)> = scores
            .iter()
            .zip(&inputs)
            .filter_map(|(s, x)| s.map(|s| (s, x)))
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        let successes: Vec<Vec<f64>> = ranked.iter().map(|(_, x)| (*x).clone()).collect();
        let spread = ranked.first().map_or(0.0, |f| f.0) - ranked.last().map_or(0.0, |l| l.0);
        let anchors: Vec<Vec<f64>> = successes.iter().take(ANCHORS).cloned().collect();
        let base = composite::base_samples(objectives.len(), composite::BASE_SAMPLES, rng);
        let ranges = objectives.observed_ranges(&self.history.observations);
        let mut model = CompositeModel::new(
            values,
            &objectives,
            ranges,
            base,
            &successes,
            spread,
            feasibility.as_ref(),
        );
        // Running experiments are believed like the batch's earlier points (after the
        // incumbent is set: a belief is not an observation).
        for p in pending {
            model.believe(&domain.to_model(p))?;
        }
        let mut taken = self.history.taken(pending);
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let chosen = match domain.pool() {
                Some(_) => choose_from_pool(&domain, &model, &taken),
                None => choose_continuous(&domain, &model, &anchors, &taken, rng),
            };
            let Some((point, acq)) = chosen else { break };
            let x = domain.to_model(&point);
            let mut explain = self.explain("model");
            explain.model = Some("composite".into());
            explain.surrogate = Some(self.options.surrogate.name().into());
            explain.prior_mean = fitted_mean.as_ref().map(FittedPrior::record);
            let (mean, sd) = model.score_distribution(&x);
            explain.predicted_mean = model.score_at_mean(&x).or(Some(mean));
            explain.predicted_sd = Some(sd);
            explain.acquisition = Some(acq);
            explain.feasibility = model
                .feasibility
                .map(|f| acquisition::log_feasibility(f, &x, false).0.exp());
            let mut details = BTreeMap::new();
            for (o, v) in objectives.objectives.iter().zip(&model.values) {
                let p = v.predict(&x, false);
                details.insert(format!("predicted.{}", o.name), p.mean);
                details.insert(format!("predicted_sd.{}", o.name), p.sd);
                match &v.model {
                    Regressor::Gp(gp) => {
                        let (lens, sf2, noise, _) = gp.summary();
                        for (var, l) in domain.variables().iter().zip(&lens) {
                            details.insert(format!("lengthscale.{}.{}", o.name, var.name()), *l);
                        }
                        details.insert(format!("signal_variance.{}", o.name), sf2);
                        details.insert(format!("noise_variance.{}", o.name), noise);
                    }
                    Regressor::Learned(l) => {
                        for (var, w) in domain.variables().iter().zip(l.importances()) {
                            details.insert(format!("importance.{}.{}", o.name, var.name()), *w);
                        }
                    }
                }
            }
            details.insert("incumbent".into(), model.best);
            details.insert("training_points".into(), successes.len() as f64);
            details.insert("base_samples".into(), composite::BASE_SAMPLES as f64);
            explain.details = details;
            explain.ramp = self.ramp.as_ref().and_then(|r| {
                ramp::choose(&domain, r, &point, |x| Some(model.log_improvements(x)))
            });
            taken.insert(point_key(&point));
            // Kriging believer for the rest of the batch, with a pessimistic belief.
            model.believe(&x)?;
            out.push(Suggestion { point, explain });
        }
        Ok(out)
    }

    /// Model-based suggestions.
    fn ask_model(
        &mut self,
        n: usize,
        pending: &[Point],
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<Suggestion>> {
        let domain = Arc::clone(&self.history.domain);
        let objectives = &self.history.objectives;
        let weights: Option<Vec<f64>> = (objectives.combine == Combine::Pareto).then(|| {
            let e: Vec<f64> = (0..objectives.len())
                .map(|_| -(1.0 - rng.random::<f64>()).ln())
                .collect();
            let s: f64 = e.iter().sum::<f64>().max(1e-300);
            e.iter().map(|v| v / s).collect()
        });
        let utilities = self.history.utilities(weights.as_deref());
        let categorical: Vec<bool> = domain
            .variables()
            .iter()
            .map(Variable::is_categorical)
            .collect();
        let impute = self.failure_treatment() == FailureHandling::ImputeWorst;
        let worst = utilities
            .iter()
            .flatten()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for (o, u) in self.history.observations.iter().zip(&utilities) {
            match u {
                Some(u) => {
                    xs.push(domain.to_model(&o.point));
                    ys.push(*u);
                }
                None if impute && worst.is_finite() => {
                    xs.push(domain.to_model(&o.point));
                    ys.push(worst);
                }
                None => {}
            }
        }
        let failures = utilities.iter().filter(|u| u.is_none()).count();
        let (ymean, ysd) = standardisation(&ys);
        let ystd: Vec<f64> = ys.iter().map(|y| (y - ymean) / ysd).collect();
        let warp = if self.options.output_warping {
            OutputWarp::fit(&ystd)
        } else {
            OutputWarp::identity()
        };
        let ystd: Vec<f64> = ystd.iter().map(|v| warp.forward(*v)).collect();
        let prior = Prior::for_dim(domain.dim());
        let effort = self.fit_effort(xs.len(), self.theta.is_some());
        let gp = Gp::fit(
            &xs,
            &ystd,
            &categorical,
            &prior,
            self.theta.as_deref(),
            effort,
            rng,
        )?;
        self.theta = Some(gp.theta.clone());
        let feasibility = if failures > 0 && !impute {
            let f = self.fit_feasibility(&utilities, &categorical, rng)?;
            self.feas_theta = Some(f.theta.clone());
            Some(f)
        } else {
            None
        };
        let mut taken = self.history.taken(pending);
        let (lens, sf2, noise, _) = gp.summary();
        let metric = gp.capped_metric(BASIN_LENGTHSCALE_CAP);
        let main_gp = gp;
        let mut tabu: Vec<Vec<f64>> = Vec::new();
        let mut model = self.acquisition_model(
            &main_gp,
            &metric,
            &tabu,
            BASIN_RADIUS,
            (&xs, &ystd, &categorical),
            pending,
            feasibility.as_ref(),
            rng,
        )?;
        let n_anchors = ANCHORS;
        let ranked: Vec<usize> = {
            let mut idx: Vec<(usize, f64)> = ystd.iter().copied().enumerate().collect();
            idx.sort_by(|a, b| b.1.total_cmp(&a.1));
            idx.into_iter().map(|(i, _)| i).collect()
        };
        let anchors_for = |model: &Model<'_>| -> Vec<Vec<f64>> {
            ranked
                .iter()
                .filter_map(|i| xs.get(*i))
                .filter(|x| model.allowed(x))
                .take(n_anchors)
                .cloned()
                .collect()
        };
        let mut anchors = anchors_for(&model);
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let mut chosen = match domain.pool() {
                Some(_) => choose_from_pool(&domain, &model, &taken),
                None => choose_continuous(&domain, &model, &anchors, &taken, rng),
            };
            // A basin is exhausted when the acquisition only asks to re-measure next to the
            // incumbent, where the model is already certain: exclude it and look elsewhere with
            // a model of the remaining data (repeatedly, for basins found that way before).
            // Derived from the data alone, so a resumed campaign behaves like a continuous one.
            while out.is_empty() && self.options.basin_escape && tabu.len() < MAX_BASINS {
                let Some((point, _)) = &chosen else { break };
                let Some((_, cx)) = incumbent_allowed(&model) else {
                    break;
                };
                let x = domain.to_model(point);
                let sd = model.gp.predict(&x, false).var.sqrt();
                let (_, msf2, _, _) = model.gp.summary();
                let remeasure = sd < EXHAUSTED_SD * msf2.sqrt()
                    && model.gp.metric().dist2(&x, &cx) < EXHAUSTED_DISTANCE * EXHAUSTED_DISTANCE;
                if !remeasure {
                    break;
                }
                tabu.push(cx);
                let next = self.acquisition_model(
                    &main_gp,
                    &metric,
                    &tabu,
                    BASIN_RADIUS,
                    (&xs, &ystd, &categorical),
                    pending,
                    feasibility.as_ref(),
                    rng,
                )?;
                if next.tabu.len() != tabu.len() {
                    tabu.pop();
                    break;
                }
                let next_anchors = anchors_for(&next);
                let again = match domain.pool() {
                    Some(_) => choose_from_pool(&domain, &next, &taken),
                    None => choose_continuous(&domain, &next, &next_anchors, &taken, rng),
                };
                if again.is_none() {
                    tabu.pop();
                    break;
                }
                model = next;
                anchors = next_anchors;
                chosen = again;
            }
            let Some((point, acq)) = chosen else { break };
            let x = domain.to_model(&point);
            let pred = model.gp.predict(&x, false);
            let feas = model
                .feasibility
                .map(|f| acquisition::log_feasibility(f, &x, false).0.exp());
            let mut explain = self.explain("model");
            explain.model = Some("score".into());
            explain.surrogate = Some("gp".into());
            let (shift, scale) = model.scale;
            let (m, sd) = (shift + scale * pred.mean, scale * pred.var.sqrt());
            explain.predicted_mean = Some(ymean + ysd * warp.inverse(m));
            explain.predicted_sd =
                Some(ysd * 0.5 * (warp.inverse(m + sd) - warp.inverse(m - sd)).abs());
            explain.acquisition = Some(acq);
            explain.feasibility = feas;
            let mut details = BTreeMap::new();
            for (v, l) in domain.variables().iter().zip(&lens) {
                details.insert(format!("lengthscale.{}", v.name()), *l);
            }
            details.insert("signal_variance".into(), sf2);
            details.insert("noise_variance".into(), noise);
            details.insert("training_points".into(), xs.len() as f64);
            if let Some(w) = &weights {
                for (o, wi) in objectives.objectives.iter().zip(w) {
                    details.insert(format!("weight.{}", o.name), *wi);
                }
            }
            if !model.tabu.is_empty() {
                details.insert("excluded_basins".into(), model.tabu.len() as f64);
            }
            if self.options.output_warping {
                details.insert("output_warp_lambda".into(), warp.lambda());
            }
            explain.details = details;
            explain.ramp = self
                .ramp
                .as_ref()
                .and_then(|r| ramp::choose(&domain, r, &point, |x| model.log_improvements(x)));
            taken.insert(point_key(&point));
            // Kriging believer for the rest of the batch, with a pessimistic belief.
            model.gp = model.gp.with_point(&x, believed(&pred))?;
            out.push(Suggestion { point, explain });
        }
        Ok(out)
    }

    /// Model-based suggestions from a learned surrogate of the score (extra-trees or a network
    /// ensemble, see `learned.rs`): the same utilities, failure handling, candidate search and
    /// kriging believer as [`Self::ask_model`], without the GP-only steps (no output warping —
    /// trees are invariant to monotone transforms of the targets and the networks fit skewed
    /// targets directly — and no basin escape, whose test reads GP lengthscales). Noisy EI
    /// samples the incumbent from the surrogate's predictions at the observations.
    fn ask_learned(
        &mut self,
        n: usize,
        pending: &[Point],
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<Suggestion>> {
        let domain = Arc::clone(&self.history.domain);
        let objectives = &self.history.objectives;
        let weights: Option<Vec<f64>> = (objectives.combine == Combine::Pareto).then(|| {
            let e: Vec<f64> = (0..objectives.len())
                .map(|_| -(1.0 - rng.random::<f64>()).ln())
                .collect();
            let s: f64 = e.iter().sum::<f64>().max(1e-300);
            e.iter().map(|v| v / s).collect()
        });
        let utilities = self.history.utilities(weights.as_deref());
        let categorical: Vec<bool> = domain
            .variables()
            .iter()
            .map(Variable::is_categorical)
            .collect();
        let levels: Vec<Option<usize>> = (0..domain.dim()).map(|i| domain.levels_of(i)).collect();
        let impute = self.failure_treatment() == FailureHandling::ImputeWorst;
        let worst = utilities
            .iter()
            .flatten()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for (o, u) in self.history.observations.iter().zip(&utilities) {
            match u {
                Some(u) => {
                    xs.push(domain.to_model(&o.point));
                    ys.push(*u);
                }
                None if impute && worst.is_finite() => {
                    xs.push(domain.to_model(&o.point));
                    ys.push(worst);
                }
                None => {}
            }
        }
        let failures = utilities.iter().filter(|u| u.is_none()).count();
        let (ymean, ysd) = standardisation(&ys);
        let ystd: Vec<f64> = ys.iter().map(|y| (y - ymean) / ysd).collect();
        let kind = self.options.surrogate;
        let Some(mut learned) = Learned::fit(kind, &xs, &ystd, &levels, rng.random()) else {
            return Ok(Vec::new());
        };
        let feasibility = if failures > 0 && !impute {
            let f = self.fit_feasibility(&utilities, &categorical, rng)?;
            self.feas_theta = Some(f.theta.clone());
            Some(f)
        } else {
            None
        };
        for p in pending {
            let x = domain.to_model(p);
            let mu = learned.predict(&x, false).mean;
            learned = learned.with_point(&x, mu);
        }
        let anchors: Vec<Vec<f64>> = {
            let mut idx: Vec<(usize, f64)> = ystd.iter().copied().enumerate().collect();
            idx.sort_by(|a, b| b.1.total_cmp(&a.1));
            idx.iter()
                .filter_map(|(i, _)| xs.get(*i).cloned())
                .take(ANCHORS)
                .collect()
        };
        let mut model =
            LearnedModel::new(learned, feasibility.as_ref(), self.options.acquisition, rng);
        let mut taken = self.history.taken(pending);
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let chosen = match domain.pool() {
                Some(_) => choose_from_pool(&domain, &model, &taken),
                None => choose_continuous(&domain, &model, &anchors, &taken, rng),
            };
            let Some((point, acq)) = chosen else { break };
            let x = domain.to_model(&point);
            let pred = model.learned.predict(&x, false);
            let mut explain = self.explain("model");
            explain.model = Some("score".into());
            explain.surrogate = Some(kind.name().into());
            explain.predicted_mean = Some(ymean + ysd * pred.mean);
            explain.predicted_sd = Some(ysd * pred.var.sqrt());
            explain.acquisition = Some(acq);
            explain.feasibility = model
                .feasibility
                .map(|f| acquisition::log_feasibility(f, &x, false).0.exp());
            let mut details = BTreeMap::new();
            for (v, w) in domain.variables().iter().zip(model.learned.importances()) {
                details.insert(format!("importance.{}", v.name()), *w);
            }
            details.insert("training_points".into(), xs.len() as f64);
            if let Some(w) = &weights {
                for (o, wi) in objectives.objectives.iter().zip(w) {
                    details.insert(format!("weight.{}", o.name), *wi);
                }
            }
            explain.details = details;
            taken.insert(point_key(&point));
            // Kriging believer for the rest of the batch.
            if out.len() + 1 < n {
                let learned = model.learned.with_point(&x, pred.mean);
                model =
                    LearnedModel::new(learned, feasibility.as_ref(), self.options.acquisition, rng);
            }
            out.push(Suggestion { point, explain });
        }
        Ok(out)
    }
}

/// The acquisition surface of a learned surrogate of the score.
struct LearnedModel<'a> {
    learned: Learned,
    feasibility: Option<&'a Gp>,
    acquisition: Acquisition,
    /// Best predicted mean at the training points (the incumbent of log EI).
    best: f64,
    /// Incumbent samples for noisy EI.
    bests: Vec<f64>,
}

impl<'a> LearnedModel<'a> {
    fn new(
        learned: Learned,
        feasibility: Option<&'a Gp>,
        acquisition: Acquisition,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let preds: Vec<(f64, f64)> = learned
            .inputs()
            .iter()
            .map(|x| {
                let p = learned.predict(x, false);
                (p.mean, p.var)
            })
            .collect();
        let best = preds
            .iter()
            .map(|(m, _)| *m)
            .fold(f64::NEG_INFINITY, f64::max);
        let bests = if acquisition == Acquisition::NoisyEi {
            (0..NOISY_SAMPLES)
                .map(|_| {
                    preds
                        .iter()
                        .map(|(m, v)| m + v.sqrt() * normal(rng))
                        .fold(f64::NEG_INFINITY, f64::max)
                })
                .collect()
        } else {
            Vec::new()
        };
        LearnedModel {
            learned,
            feasibility,
            acquisition,
            best,
            bests,
        }
    }
}

impl Surface for LearnedModel<'_> {
    fn allowed(&self, _: &[f64]) -> bool {
        true
    }

    fn value(&self, x: &[f64], grad: bool) -> (f64, Vec<f64>) {
        let p = self.learned.predict(x, grad);
        let (mut v, mut g) = match self.acquisition {
            Acquisition::LogEi => acquisition::log_ei(&p, self.best, grad),
            Acquisition::NoisyEi => acquisition::log_noisy_ei(&p, &self.bests, grad),
            Acquisition::Ucb { beta } => acquisition::ucb(&p, beta, grad),
        };
        if let Some(f) = self.feasibility {
            let (lp, gp) = acquisition::log_feasibility(f, x, grad);
            v += lp;
            for (a, b) in g.iter_mut().zip(gp) {
                *a += b;
            }
        }
        (v, g)
    }
}

/// Mean and standard deviation used to standardise utilities (sd 1 when degenerate).
fn standardisation(y: &[f64]) -> (f64, f64) {
    if y.is_empty() {
        return (0.0, 1.0);
    }
    let m = y.iter().sum::<f64>() / y.len() as f64;
    let v = y.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / y.len() as f64;
    let sd = v.sqrt();
    (
        m,
        if sd > 1e-12 * m.abs().max(1.0) {
            sd
        } else {
            1.0
        },
    )
}

/// Best posterior mean at the training points (robust to noise; equals the best observation
/// when the fit interpolates).
fn incumbent(gp: &Gp) -> f64 {
    gp.inputs()
        .iter()
        .map(|x| gp.predict(x, false).mean)
        .fold(f64::NEG_INFINITY, f64::max)
}

/// Best posterior mean at training points outside the excluded basins, and where.
/// What the GP is told a chosen, not yet measured point will give ([`BELIEVER_SDS`]).
fn believed(pred: &crate::gp::Prediction) -> f64 {
    pred.mean - BELIEVER_SDS * pred.var.sqrt()
}

fn incumbent_allowed(model: &Model<'_>) -> Option<(f64, Vec<f64>)> {
    model
        .gp
        .inputs()
        .into_iter()
        .filter(|x| model.allowed(x))
        .map(|x| (model.gp.predict(&x, false).mean, x))
        .max_by(|a, b| a.0.total_cmp(&b.0))
}

/// Samples of the incumbent value `max_i f(x_i)` from the posterior at the training points.
fn noisy_incumbents(gp: &Gp, y: &[f64], samples: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let inputs = gp.inputs();
    let preds: Vec<(f64, f64)> = inputs
        .iter()
        .map(|x| {
            let p = gp.predict(x, false);
            (p.mean, p.var)
        })
        .collect();
    if preds.is_empty() {
        return vec![y.iter().copied().fold(f64::NEG_INFINITY, f64::max)];
    }
    // Independent marginals: cheaper than the joint and close enough for picking the incumbent.
    (0..samples)
        .map(|_| {
            preds
                .iter()
                .map(|(m, v)| m + v.sqrt() * normal(rng))
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .collect()
}

fn choose_from_pool(
    domain: &Domain,
    model: &impl Surface,
    taken: &BTreeSet<Vec<u64>>,
) -> Option<(Point, f64)> {
    domain
        .pool()?
        .iter()
        .filter(|p| !taken.contains(&point_key(p)))
        .map(|p| (p, domain.to_model(p)))
        .filter(|(_, x)| model.allowed(x))
        .map(|(p, x)| (p, model.value(&x, false).0))
        .filter(|(_, v)| v.is_finite())
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(p, v)| (p.clone(), v))
}

/// Feasible model-space version of `x`: continuous coordinates projected onto the constraints,
/// integer coordinates left relaxed (rounded only for the feasibility check).
fn feasible_model(domain: &Domain, x: &[f64]) -> Option<Vec<f64>> {
    let p = domain.repair(&domain.from_model(x))?;
    let u = domain.to_model(&p);
    Some(
        domain
            .variables()
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Variable::Continuous { .. } | Variable::Categorical { .. } => u[i],
                Variable::Integer { .. } => x.get(i).copied().unwrap_or(u[i]).clamp(0.0, 1.0),
            })
            .collect(),
    )
}

fn choose_continuous(
    domain: &Domain,
    model: &impl Surface,
    anchors: &[Vec<f64>],
    taken: &BTreeSet<Vec<u64>>,
    rng: &mut ChaCha8Rng,
) -> Option<(Point, f64)> {
    let d = domain.dim();
    let mut candidates: Vec<Vec<f64>> = Vec::with_capacity(RAW_CANDIDATES + 200);
    let mut sobol = Sobol::new(d, rng);
    let mut tries = 0;
    while candidates.len() < RAW_CANDIDATES && tries < RAW_CANDIDATES * 20 {
        tries += 1;
        let u = if domain.compositions().is_empty() {
            sobol.next_point()
        } else {
            domain.draw_cube(rng)
        };
        if let Some(p) = domain.repair(&domain.from_cube(&u)) {
            candidates.push(domain.to_model(&p));
        }
    }
    // Local candidates around the best observations, at two scales.
    for a in anchors {
        for k in 0..LOCAL_PER_ANCHOR {
            let scale = if k % 2 == 0 { 0.02 } else { 0.1 };
            let mut x = a.clone();
            for (i, xi) in x.iter_mut().enumerate() {
                match domain.levels_of(i) {
                    Some(levels) => {
                        if rng.random::<f64>() < 0.15 {
                            *xi = rng.random_range(0..levels) as f64;
                        }
                    }
                    None => *xi = (*xi + scale * normal(rng)).clamp(0.0, 1.0),
                }
            }
            if let Some(u) = feasible_model(domain, &x) {
                candidates.push(u);
            }
        }
    }
    candidates.retain(|x| model.allowed(x));
    if candidates.is_empty() {
        return None;
    }
    let mut scored: Vec<(f64, usize)> = candidates
        .iter()
        .enumerate()
        .map(|(i, x)| (model.value(x, false).0, i))
        .filter(|(v, _)| v.is_finite())
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut results: Vec<(f64, Vec<f64>)> = Vec::new();
    for &(v0, i) in scored.iter().take(STARTS) {
        let x0 = &candidates[i];
        let (lo, hi): (Vec<f64>, Vec<f64>) = (0..d)
            .map(|j| {
                if domain.levels_of(j).is_some() {
                    (x0[j], x0[j])
                } else {
                    (0.0, 1.0)
                }
            })
            .unzip();
        let constrained = domain.is_constrained();
        let f = |x: &[f64]| -> Option<(f64, Vec<f64>)> {
            let u = if constrained {
                feasible_model(domain, x)?
            } else {
                x.to_vec()
            };
            if !model.allowed(&u) {
                return None;
            }
            let (v, g) = model.value(&u, true);
            v.is_finite()
                .then(|| (-v, g.into_iter().map(|gi| -gi).collect()))
        };
        match lbfgs::minimize(f, x0, &lo, &hi, 60, 6) {
            Some(m) if -m.value >= v0 => {
                let u = if constrained {
                    feasible_model(domain, &m.x).unwrap_or_else(|| x0.clone())
                } else {
                    m.x
                };
                results.push((-m.value, u));
            }
            _ => results.push((v0, x0.clone())),
        }
    }
    // Remaining raw candidates are fallbacks if the optimised ones collide with known points.
    for &(v, i) in scored.iter().skip(STARTS) {
        results.push((v, candidates[i].clone()));
    }
    results.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (v, u) in results {
        if let Some(p) = domain.repair(&domain.from_model(&u))
            && !taken.contains(&point_key(&p))
        {
            return Some((p, v));
        }
    }
    None
}

impl Strategy for Bayesian {
    fn name(&self) -> &'static str {
        "bayesian"
    }

    fn ask(&mut self, n: usize, pending: &[Point]) -> Result<Vec<Suggestion>> {
        let mut rng = self.rng();
        self.asks += 1;
        let known = self.history.observations.len() + pending.len();
        let successes = self
            .history
            .utilities(None)
            .iter()
            .filter(|u| u.is_some())
            .count();
        let from_design = if successes < 2 {
            n
        } else {
            self.options.initial.n.saturating_sub(known).min(n)
        };
        let mut taken = self.history.taken(pending);
        let mut out: Vec<Suggestion> = self
            .design
            .draw(from_design, &mut taken)?
            .into_iter()
            .map(|point| Suggestion {
                point,
                explain: self.explain("initial design"),
            })
            .collect();
        if out.len() < n && successes >= 2 {
            let mut pend: Vec<Point> = pending.to_vec();
            pend.extend(out.iter().map(|s| s.point.clone()));
            self.failure_choice = self.choose_failures();
            let mut more = if self.uses_composite() {
                self.ask_composite(n - out.len(), &pend, &mut rng)?
            } else if self.options.surrogate != BayesSurrogate::Gp {
                self.ask_learned(n - out.len(), &pend, &mut rng)?
            } else {
                self.ask_model(n - out.len(), &pend, &mut rng)?
            };
            for s in &mut more {
                s.explain.failures.clone_from(&self.failure_choice);
            }
            out.extend(more);
        }
        Ok(out)
    }

    fn tell(&mut self, observations: &[Observation]) -> Result<()> {
        self.history.tell(observations)
    }

    fn choose_ramps(&mut self, ramp: RampSearch) -> bool {
        self.ramp = Some(ramp);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Value, Variable};
    use crate::objective::{Goal, Objective};
    use crate::observation::Outcome;

    fn objectives() -> Objectives {
        Objectives::single(Objective::new("y", Goal::Maximize))
    }

    #[test]
    fn pool_mode_suggests_unused_pool_points_and_finds_the_peak() {
        let pool: Vec<Point> = (0..40)
            .map(|i| Point(vec![Value::Real(i as f64 / 39.0), Value::Category(i % 3)]))
            .collect();
        let f = |p: &Point| {
            -(p.0[0].as_f64() - 0.7).powi(2)
                + if p.0[1] == Value::Category(1) {
                    0.5
                } else {
                    0.0
                }
        };
        let d = Arc::new(
            Domain::new(vec![
                Variable::continuous("x", 0.0, 1.0),
                Variable::categorical("c", &["a", "b", "c"]),
            ])
            .unwrap()
            .with_pool(pool.clone())
            .unwrap(),
        );
        let mut s = Bayesian::new(BayesOptions::for_domain(&d), d, objectives(), 4).unwrap();
        let mut seen = Vec::new();
        for _ in 0..15 {
            let sug = s.ask(1, &[]).unwrap();
            let p = sug[0].point.clone();
            assert!(pool.contains(&p) && !seen.contains(&p));
            seen.push(p.clone());
            s.tell(&[Observation {
                point: p.clone(),
                outcome: Outcome::single("y", f(&p)),
            }])
            .unwrap();
        }
        let best = seen.iter().map(f).fold(f64::NEG_INFINITY, f64::max);
        let optimum = pool.iter().map(f).fold(f64::NEG_INFINITY, f64::max);
        assert!(optimum - best < 0.01, "best {best} vs {optimum}");
    }

    #[test]
    fn warm_start_skips_the_design_and_explains_the_model() {
        let d = Arc::new(Domain::new(vec![Variable::continuous("x", 0.0, 1.0)]).unwrap());
        let mut s = Bayesian::new(
            BayesOptions::for_domain(&d),
            Arc::clone(&d),
            objectives(),
            1,
        )
        .unwrap();
        let prior: Vec<Observation> = (0..6)
            .map(|i| {
                let x = i as f64 / 5.0;
                Observation {
                    point: Point(vec![Value::Real(x)]),
                    outcome: Outcome::single("y", -(x - 0.3).powi(2)),
                }
            })
            .collect();
        s.tell(&prior).unwrap();
        let sug = s.ask(1, &[]).unwrap();
        assert_eq!(sug[0].explain.phase, "model");
        assert!(sug[0].explain.predicted_mean.is_some() && sug[0].explain.acquisition.is_some());
        assert!((sug[0].point.0[0].as_f64() - 0.3).abs() < 0.2);
    }

    /// Predictions are on the objective's scale: a utility in [0, 1], right-skewed (most
    /// experiments near 0, a few high) once made the output warp's inverse run off to its pole
    /// and report 206 ± 103. Every suggestion's prediction stays within the observed values
    /// widened by their range, and its uncertainty below that range.
    #[test]
    fn predictions_of_a_skewed_bounded_utility_stay_on_its_scale() {
        let d = Arc::new(
            Domain::new(vec![
                Variable::continuous("x1", 0.0, 1.0),
                Variable::continuous("x2", 0.0, 1.0),
            ])
            .unwrap(),
        );
        let f = |p: &Point| {
            let (a, b) = (p.0[0].as_f64(), p.0[1].as_f64());
            (-((a - 0.7).powi(2) + (b - 0.2).powi(2)) * 30.0).exp()
        };
        let mut s = Bayesian::new(
            BayesOptions::for_domain(&d),
            Arc::clone(&d),
            objectives(),
            7,
        )
        .unwrap();
        let mut seen = Vec::new();
        for _ in 0..25 {
            let sug = s.ask(1, &[]).unwrap().remove(0);
            let y = f(&sug.point);
            if let (Some(m), Some(sd)) = (sug.explain.predicted_mean, sug.explain.predicted_sd) {
                let lo = seen.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = seen.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let range = hi - lo;
                assert!(
                    m >= lo - range && m <= hi + range && sd <= range,
                    "predicted {m} ± {sd} with observations in {lo} .. {hi}"
                );
            }
            seen.push(y);
            s.tell(&[Observation {
                point: sug.point,
                outcome: Outcome::single("y", y),
            }])
            .unwrap();
        }
    }

    /// Runs `steps` asks on a 1-D function and returns the suggestions.
    fn run_1d(f: fn(f64) -> f64, escape: bool, seed: u64, steps: usize) -> Vec<Suggestion> {
        let d = Arc::new(Domain::new(vec![Variable::continuous("x", 0.0, 1.0)]).unwrap());
        let mut o = BayesOptions::for_domain(&d);
        o.basin_escape = escape;
        let mut s = Bayesian::new(o, d, objectives(), seed).unwrap();
        let mut out = Vec::new();
        for _ in 0..steps {
            let sug = s.ask(1, &[]).unwrap().remove(0);
            let x = sug.point.0[0].as_f64();
            s.tell(&[Observation {
                point: sug.point.clone(),
                outcome: Outcome::single("y", f(x)),
            }])
            .unwrap();
            out.push(sug);
        }
        out
    }

    #[test]
    fn exhausted_basin_is_left_for_the_rest_of_the_space() {
        // A broad local peak at 0.3 and a narrow, higher one at 0.9.
        fn f(x: f64) -> f64 {
            (-((x - 0.3) / 0.2).powi(2)).exp() + 1.3 * (-((x - 0.9) / 0.03).powi(2)).exp()
        }
        let with = run_1d(f, true, 3, 30);
        let without = run_1d(f, false, 3, 30);
        // Without the escape the search keeps re-measuring the local peak …
        let near = |s: &&Suggestion| (s.point.0[0].as_f64() - 0.3).abs() < 0.02;
        assert!(without[20..].iter().filter(near).count() >= 5);
        // … with it, some suggestions are made with the basin excluded, away from the peak, and
        // they find the narrow global peak.
        let escaped: Vec<&Suggestion> = with
            .iter()
            .filter(|s| s.explain.details.contains_key("excluded_basins"))
            .collect();
        assert!(!escaped.is_empty());
        assert!(
            escaped
                .iter()
                .all(|s| (s.point.0[0].as_f64() - 0.3).abs() > 0.05)
        );
        let best = |v: &[Suggestion]| {
            v.iter()
                .map(|s| f(s.point.0[0].as_f64()))
                .fold(f64::NEG_INFINITY, f64::max)
        };
        assert!(best(&with) > 1.2 && best(&without) < 1.1);
        // Deterministic: the same seed and tells give the same suggestions.
        let again = run_1d(f, true, 3, 30);
        assert_eq!(
            with.iter().map(|s| s.point.clone()).collect::<Vec<_>>(),
            again.iter().map(|s| s.point.clone()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn failures_lower_the_predicted_success_probability() {
        let d = Arc::new(Domain::new(vec![Variable::continuous("x", 0.0, 1.0)]).unwrap());
        let mut s = Bayesian::new(
            BayesOptions::for_domain(&d),
            Arc::clone(&d),
            objectives(),
            2,
        )
        .unwrap();
        // Everything above 0.5 fails; the value would be best near 0.6.
        let obs: Vec<Observation> = (0..10)
            .map(|i| {
                let x = i as f64 / 9.0;
                let outcome = if x > 0.5 {
                    Outcome::Failed {
                        reason: "no product".into(),
                    }
                } else {
                    Outcome::single("y", -(x - 0.6).powi(2))
                };
                Observation {
                    point: Point(vec![Value::Real(x)]),
                    outcome,
                }
            })
            .collect();
        s.tell(&obs).unwrap();
        let sug = s.ask(3, &[]).unwrap();
        for g in &sug {
            assert!(g.point.0[0].as_f64() < 0.62, "{:?}", g.point);
            assert!(g.explain.feasibility.is_some());
        }
    }

    /// Observations on [0, 1] of `value`, failed wherever `fails` holds: 14 evenly spaced points.
    fn failing(value: impl Fn(f64) -> f64, fails: impl Fn(f64) -> bool) -> Vec<Observation> {
        (0..14)
            .map(|i| {
                let x = i as f64 / 13.0;
                let outcome = if fails(x) {
                    Outcome::Failed {
                        reason: "no product".into(),
                    }
                } else {
                    Outcome::single("y", value(x))
                };
                Observation {
                    point: Point(vec![Value::Real(x)]),
                    outcome,
                }
            })
            .collect()
    }

    /// What `failures auto` chose for the next suggestion after `obs`.
    fn auto_choice(obs: &[Observation], seed: u64) -> crate::failures::FailureChoice {
        let d = Arc::new(Domain::new(vec![Variable::continuous("x", 0.0, 1.0)]).unwrap());
        let options = BayesOptions::for_domain(&d);
        assert_eq!(options.failures, FailureHandling::Auto);
        let mut s = Bayesian::new(options, d, objectives(), seed).unwrap();
        s.tell(obs).unwrap();
        let sug = s.ask(1, &[]).unwrap();
        assert_eq!(sug[0].explain.phase, "model");
        sug[0]
            .explain
            .failures
            .clone()
            .expect("auto records its choice")
    }

    /// Failures bordering the best values (a decomposition limit next to the best
    /// temperature): imputing the worst value there contradicts the measured neighbours, so
    /// `auto` keeps the feasibility model.
    #[test]
    fn auto_keeps_the_feasibility_model_when_failures_border_good_results() {
        let obs = failing(|x| x, |x| x > 0.6);
        let c = auto_choice(&obs, 3);
        assert_eq!(c.choice, "feasibility_model", "{c:?}");
        assert_eq!((c.failures, c.successes), (6, 8));
        let (f, i) = (c.feasibility_score.unwrap(), c.impute_score.unwrap());
        assert!(f > i, "{c:?}");
    }

    /// Failures in the valley of the measured values (what would have been the worst results
    /// failed instead): the imputed worst value agrees with the successes around it, so `auto`
    /// imputes.
    #[test]
    fn auto_imputes_when_failures_continue_the_worst_results() {
        let obs = failing(|x| (6.0 * x).sin(), |x| (6.0 * x).sin() < -0.5);
        let c = auto_choice(&obs, 3);
        assert_eq!(c.choice, "impute_worst", "{c:?}");
        let (f, i) = (c.feasibility_score.unwrap(), c.impute_score.unwrap());
        assert!(i > f, "{c:?}");
    }

    /// The choice depends on the observations and the seed only: the same data give the same
    /// scores whether told at once (a resumed run) or one by one with asks between them (a
    /// live run, whose warm starts and ask counter differ); no failures, no choice.
    #[test]
    fn auto_choice_is_a_function_of_the_data() {
        let obs = failing(|x| x, |x| x > 0.6);
        let once = auto_choice(&obs, 7);
        assert_eq!(once, auto_choice(&obs, 7));
        let d = Arc::new(Domain::new(vec![Variable::continuous("x", 0.0, 1.0)]).unwrap());
        let mut live = Bayesian::new(BayesOptions::for_domain(&d), d, objectives(), 7).unwrap();
        let mut last = None;
        for o in &obs {
            live.tell(std::slice::from_ref(o)).unwrap();
            last = live.ask(1, &[]).unwrap().pop();
        }
        assert_eq!(last.unwrap().explain.failures, Some(once));
        let clean = failing(|x| x, |_| false);
        let d = Arc::new(Domain::new(vec![Variable::continuous("x", 0.0, 1.0)]).unwrap());
        let mut s = Bayesian::new(BayesOptions::for_domain(&d), d, objectives(), 7).unwrap();
        s.tell(&clean).unwrap();
        assert_eq!(s.ask(1, &[]).unwrap()[0].explain.failures, None);
    }

    /// A campaign the composite model serves keeps it and the feasibility model even where
    /// failures continue the worst results (where a score model would impute): `auto` asks
    /// nothing and records nothing.
    #[test]
    fn auto_leaves_the_composite_model_and_its_feasibility_model_alone() {
        let d = Arc::new(Domain::new(vec![Variable::continuous("x", 0.0, 1.0)]).unwrap());
        let target = Objectives::new(
            vec![Objective::new(
                "peak",
                Goal::Target {
                    value: 0.5,
                    tolerance: 0.05,
                },
            )],
            Combine::Desirability,
        )
        .unwrap();
        assert!(target.is_composite());
        let obs: Vec<Observation> = (0..14)
            .map(|k| {
                let x = (k as f64 + 0.5) / 14.0;
                let outcome = if (6.0 * x).sin() < -0.5 {
                    Outcome::Failed {
                        reason: "no product".into(),
                    }
                } else {
                    Outcome::Measured([("peak".to_string(), x)].into())
                };
                Observation {
                    point: Point(vec![Value::Real(x)]),
                    outcome,
                }
            })
            .collect();
        assert!(
            obs.iter()
                .any(|o| matches!(o.outcome, Outcome::Failed { .. }))
        );
        let options = BayesOptions::for_domain(&d);
        assert_eq!(options.failures, FailureHandling::Auto);
        let mut s = Bayesian::new(options, d, target, 3).unwrap();
        s.tell(&obs).unwrap();
        let sug = s.ask(1, &[]).unwrap().remove(0);
        assert_eq!(sug.explain.model.as_deref(), Some("composite"), "{sug:?}");
        assert_eq!(sug.explain.failures, None, "{sug:?}");
        assert!(sug.explain.feasibility.is_some(), "{sug:?}");
    }

    /// A desirability of two measured values goes through the composite model (one GP per
    /// value); a single maximised value through the score model, as before. Either way the
    /// suggestion says which, and the same seed and tells give the same suggestions.
    #[test]
    fn composite_objectives_use_one_model_per_value_and_say_so() {
        let d = Arc::new(
            Domain::new(vec![
                Variable::continuous("x1", 0.0, 1.0),
                Variable::continuous("x2", 0.0, 1.0),
            ])
            .unwrap(),
        );
        let both = Objectives::new(
            vec![
                Objective::new(
                    "peak",
                    Goal::Target {
                        value: 0.5,
                        tolerance: 0.05,
                    },
                ),
                Objective {
                    range: Some((0.0, 1.0)),
                    ..Objective::new("q", Goal::Maximize)
                },
            ],
            Combine::Desirability,
        )
        .unwrap();
        let measure = |p: &Point| {
            let (a, b) = (p.0[0].as_f64(), p.0[1].as_f64());
            Outcome::Measured(
                [
                    ("peak".to_string(), 0.3 + 0.6 * a * a),
                    ("q".to_string(), 1.0 - (b - 0.3).powi(2)),
                ]
                .into(),
            )
        };
        let run_with = |objectives: Objectives, model: BayesModel, surrogate| -> Vec<Suggestion> {
            let mut o = BayesOptions::for_domain(&d);
            o.model = model;
            o.surrogate = surrogate;
            let mut s = Bayesian::new(o, Arc::clone(&d), objectives, 11).unwrap();
            let mut out = Vec::new();
            for _ in 0..12 {
                let sug = s.ask(1, &[]).unwrap().remove(0);
                let outcome = measure(&sug.point);
                s.tell(&[Observation {
                    point: sug.point.clone(),
                    outcome,
                }])
                .unwrap();
                out.push(sug);
            }
            out
        };
        let run = |objectives, model| run_with(objectives, model, BayesSurrogate::Gp);
        let composite = run(both.clone(), BayesModel::Composite);
        let model = |v: &[Suggestion]| -> Vec<Option<String>> {
            v.iter().map(|s| s.explain.model.clone()).collect()
        };
        // The design: clamp(d + 2, 5, 10) = 5 points.
        let mut expected = vec![None; 5];
        expected.extend(vec![Some("composite".to_owned()); 7]);
        assert_eq!(model(&composite), expected);
        assert!(composite[5].explain.details.contains_key("predicted.peak"));
        assert_eq!(
            composite.iter().map(|s| &s.point).collect::<Vec<_>>(),
            run(both.clone(), BayesModel::Composite)
                .iter()
                .map(|s| &s.point)
                .collect::<Vec<_>>()
        );
        // The best of its model-chosen points hits the peak target closely.
        let best = composite[5..]
            .iter()
            .map(|s| {
                let a = s.point.0[0].as_f64();
                (0.3 + 0.6 * a * a - 0.5).abs()
            })
            .fold(f64::INFINITY, f64::min);
        assert!(best < 0.02, "closest peak {best}");
        let score = run(both.clone(), BayesModel::Score);
        expected[5..].fill(Some("score".to_owned()));
        assert_eq!(model(&score), expected);
        let single = run(
            Objectives::single(Objective::new("q", Goal::Maximize)),
            BayesModel::Composite,
        );
        assert_eq!(model(&single), expected);
        // With extra-trees: one forest per value, each value's importances recorded.
        let trees = run_with(both, BayesModel::Composite, BayesSurrogate::ExtraTrees);
        expected[5..].fill(Some("composite".to_owned()));
        assert_eq!(model(&trees), expected);
        let last = &trees[11].explain;
        assert_eq!(last.surrogate.as_deref(), Some("extra_trees"));
        // `peak` depends on x1 only, `q` on x2 only.
        let imp = |k: &str| last.details[&format!("importance.{k}")];
        assert!(
            imp("peak.x1") > imp("peak.x2") && imp("q.x2") > imp("q.x1"),
            "{last:?}"
        );
    }

    /// Extra-trees and the network ensemble drive the same loop as the GP: each model-based
    /// suggestion names its surrogate, has a finite acquisition and a prediction, records the
    /// importances (the dummy variable least important by the end), finds the peak, and the
    /// same seed gives the same suggestions.
    #[test]
    fn learned_surrogates_find_the_peak_deterministically_and_rank_a_dummy_last() {
        let d = Arc::new(
            Domain::new(vec![
                Variable::continuous("x1", 0.0, 1.0),
                Variable::continuous("x2", 0.0, 1.0),
                Variable::continuous("dummy", 0.0, 1.0),
            ])
            .unwrap(),
        );
        let f = |p: &Point| {
            let (a, b) = (p.0[0].as_f64(), p.0[1].as_f64());
            -(a - 0.7).powi(2) - 2.0 * (b - 0.3).powi(2)
        };
        let run = |surrogate: BayesSurrogate| -> Vec<Suggestion> {
            let mut o = BayesOptions::for_domain(&d);
            o.surrogate = surrogate;
            let mut s = Bayesian::new(o, Arc::clone(&d), objectives(), 5).unwrap();
            let mut out = Vec::new();
            for _ in 0..25 {
                let sug = s.ask(1, &[]).unwrap().remove(0);
                let y = f(&sug.point);
                s.tell(&[Observation {
                    point: sug.point.clone(),
                    outcome: Outcome::single("y", y),
                }])
                .unwrap();
                out.push(sug);
            }
            out
        };
        for surrogate in [BayesSurrogate::ExtraTrees, BayesSurrogate::NnEnsemble] {
            let name = surrogate.name();
            let sug = run(surrogate);
            let model_based: Vec<&Suggestion> =
                sug.iter().filter(|s| s.explain.phase == "model").collect();
            assert_eq!(model_based.len(), 20, "{name}");
            for s in &model_based {
                assert_eq!(s.explain.surrogate.as_deref(), Some(name));
                assert!(s.explain.acquisition.is_some_and(f64::is_finite), "{name}");
                assert!(s.explain.predicted_mean.is_some_and(f64::is_finite));
                assert!(
                    s.explain
                        .predicted_sd
                        .is_some_and(|v| v.is_finite() && v > 0.0)
                );
            }
            let last = &model_based[19].explain.details;
            let imp = |v: &str| last[&format!("importance.{v}")];
            assert!(
                imp("dummy") < imp("x1") && imp("dummy") < imp("x2"),
                "{name}: {last:?}"
            );
            let best = sug
                .iter()
                .map(|s| f(&s.point))
                .fold(f64::NEG_INFINITY, f64::max);
            assert!(best > -0.01, "{name}: best {best}");
            let again = run(surrogate);
            assert_eq!(
                sug.iter().map(|s| &s.point).collect::<Vec<_>>(),
                again.iter().map(|s| &s.point).collect::<Vec<_>>(),
                "{name}"
            );
        }
    }

    /// Pool mode, a categorical variable, failures and batches with a learned surrogate: the
    /// suggestions are distinct unused pool points, avoid the region that fails, and carry the
    /// feasibility model's probability.
    #[test]
    fn learned_surrogates_respect_the_pool_failures_and_batches() {
        let pool: Vec<Point> = (0..150)
            .map(|i| Point(vec![Value::Real(i as f64 / 149.0), Value::Category(i % 3)]))
            .collect();
        let d = Arc::new(
            Domain::new(vec![
                Variable::continuous("x", 0.0, 1.0),
                Variable::categorical("c", &["a", "b", "c"]),
            ])
            .unwrap()
            .with_pool(pool.clone())
            .unwrap(),
        );
        let outcome = |p: &Point| {
            let x = p.0[0].as_f64();
            if x > 0.6 {
                Outcome::Failed {
                    reason: "no product".into(),
                }
            } else {
                let bonus = if p.0[1] == Value::Category(2) {
                    0.3
                } else {
                    0.0
                };
                Outcome::single("y", -(x - 0.35).powi(2) + bonus)
            }
        };
        for surrogate in [BayesSurrogate::ExtraTrees, BayesSurrogate::NnEnsemble] {
            let mut o = BayesOptions::for_domain(&d);
            o.surrogate = surrogate;
            let mut s = Bayesian::new(o, Arc::clone(&d), objectives(), 3).unwrap();
            let mut seen: Vec<Point> = Vec::new();
            let mut late_failures = 0;
            for round in 0..5 {
                let batch = s.ask(3, &[]).unwrap();
                assert_eq!(batch.len(), 3);
                for sug in &batch {
                    assert!(pool.contains(&sug.point) && !seen.contains(&sug.point));
                    seen.push(sug.point.clone());
                    if round >= 3 {
                        assert!(sug.explain.feasibility.is_some(), "{:?}", sug.explain);
                        late_failures += usize::from(sug.point.0[0].as_f64() > 0.6);
                    }
                }
                let obs: Vec<Observation> = batch
                    .iter()
                    .map(|g| Observation {
                        point: g.point.clone(),
                        outcome: outcome(&g.point),
                    })
                    .collect();
                s.tell(&obs).unwrap();
            }
            assert!(late_failures <= 2, "{}: {late_failures}", surrogate.name());
            assert!(
                seen.iter()
                    .any(|p| p.0[1] == Value::Category(2) && (p.0[0].as_f64() - 0.35).abs() < 0.1),
                "{}",
                surrogate.name()
            );
        }
    }
}
