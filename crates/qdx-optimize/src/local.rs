//! Local and evolutionary strategies: Nelder–Mead simplex, a SNOBFIT-like trust-region search and
//! CMA-ES, all working in model space (`[0, 1]` per continuous or integer variable).
//!
//! They minimise the loss `−utility`; a failed experiment ranks worst (loss `+∞`), which for these
//! comparison-based methods means "never move there" rather than a made-up magnitude. Every
//! proposed step is made feasible before it is suggested: clamped to the box, projected onto
//! compositions, and pulled back toward the best known point when it breaks another constraint.
//! Sequential methods (Nelder–Mead) fill extra batch slots, or slots while their next point is
//! still pending, with small perturbations of the best point.
//!
//! Invariant: suggestions are feasible and never repeat an observed or pending point.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::domain::{Domain, Point, point_key};
use crate::error::{OptimizeError, Result};
use crate::gp::normal;
use crate::linalg;
use crate::objective::Objectives;
use crate::observation::{Explanation, Observation, Suggestion};
use crate::strategy::{History, Strategy};

/// Options of Nelder–Mead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NelderMeadOptions {
    /// Initial simplex edge in model units (fraction of each range), in `(0, 1]`.
    pub initial_step: f64,
}

impl Default for NelderMeadOptions {
    fn default() -> Self {
        NelderMeadOptions { initial_step: 0.2 }
    }
}

/// Options of the SNOBFIT-like search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnobfitOptions {
    /// Initial trust-region radius in model units.
    pub initial_radius: f64,
    /// Share of each batch spent on space-filling exploration, in `[0, 1)`.
    pub exploration: f64,
}

impl Default for SnobfitOptions {
    fn default() -> Self {
        SnobfitOptions {
            initial_radius: 0.2,
            exploration: 0.3,
        }
    }
}

/// Options of CMA-ES.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvolutionOptions {
    /// Population size λ (0 = the default `4 + ⌊3 ln d⌋`).
    pub population: usize,
    /// Initial step size σ₀ in model units.
    pub sigma: f64,
}

impl Default for EvolutionOptions {
    fn default() -> Self {
        EvolutionOptions {
            population: 0,
            sigma: 0.3,
        }
    }
}

/// Loss per observed point (min over repeats; failures `+∞`).
fn losses(history: &History) -> BTreeMap<Vec<u64>, f64> {
    let mut m: BTreeMap<Vec<u64>, f64> = BTreeMap::new();
    for (o, u) in history.observations.iter().zip(history.utilities(None)) {
        let loss = u.map_or(f64::INFINITY, |u| -u);
        let e = m.entry(point_key(&o.point)).or_insert(loss);
        *e = e.min(loss);
    }
    m
}

/// Best observed point (lowest loss) in model space.
fn best_point(history: &History) -> Option<(Point, f64)> {
    history
        .observations
        .iter()
        .zip(history.utilities(None))
        .filter_map(|(o, u)| u.map(|u| (o.point.clone(), -u)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// A feasible point near `x` (model space), anchored at `anchor` when repair alone fails.
fn feasible_near(domain: &Domain, x: &[f64], anchor: Option<&Point>) -> Option<Point> {
    let clamped: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, v)| {
            if domain.levels_of(i).is_some() {
                *v
            } else {
                v.clamp(0.0, 1.0)
            }
        })
        .collect();
    if let Some(p) = domain.repair(&domain.from_model(&clamped)) {
        return Some(p);
    }
    anchor.map(|a| domain.pull_toward(&clamped, a))
}

/// Small perturbations of the best point, for batch slots a sequential method cannot fill.
fn perturbations(
    domain: &Domain,
    center: &Point,
    n: usize,
    scale: f64,
    taken: &mut BTreeSet<Vec<u64>>,
    rng: &mut ChaCha8Rng,
) -> Vec<Point> {
    let c = domain.to_model(center);
    let mut out = Vec::new();
    let mut tries = 0;
    while out.len() < n && tries < 200 * n.max(1) {
        tries += 1;
        let x: Vec<f64> = c
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if domain.levels_of(i).is_some() {
                    *v
                } else {
                    v + scale * normal(rng)
                }
            })
            .collect();
        if let Some(p) = feasible_near(domain, &x, Some(center))
            && taken.insert(point_key(&p))
        {
            out.push(p);
        }
    }
    out
}

fn explain(strategy: &str, phase: &str) -> Explanation {
    Explanation {
        strategy: strategy.into(),
        phase: phase.into(),
        ..Explanation::default()
    }
}

fn start_point(history: &History, rng: &mut ChaCha8Rng) -> Result<Point> {
    match best_point(history) {
        Some((p, _)) => Ok(p),
        None => {
            let d = &history.domain;
            let centre = d.from_model(&vec![0.5; d.dim()]);
            match d.repair(&centre) {
                Some(p) => Ok(p),
                None => d.sample_feasible(rng, 20_000),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Nelder–Mead

#[derive(Debug, Clone)]
enum NmPhase {
    Init,
    Reflect,
    Expand { xr: Vec<f64>, fr: f64 },
    Contract { xr: Vec<f64>, fr: f64 },
    Shrink,
}

/// Nelder–Mead simplex search (continuous and integer variables).
#[derive(Debug)]
pub struct NelderMead {
    options: NelderMeadOptions,
    history: History,
    rng: ChaCha8Rng,
    simplex: Vec<(Vec<f64>, f64)>,
    phase: NmPhase,
    requests: Vec<(Vec<f64>, Point)>,
    started: bool,
}

impl NelderMead {
    /// Nelder–Mead over `domain`.
    pub fn new(
        options: NelderMeadOptions,
        domain: Arc<Domain>,
        objectives: Objectives,
        seed: u64,
    ) -> Result<Self> {
        if !(options.initial_step > 0.0 && options.initial_step <= 1.0) {
            return Err(OptimizeError::InvalidOption {
                strategy: "nelder_mead",
                reason: "initial_step must be in (0, 1]".into(),
            });
        }
        Ok(NelderMead {
            options,
            history: History::new(domain, objectives),
            rng: ChaCha8Rng::seed_from_u64(seed),
            simplex: Vec::new(),
            phase: NmPhase::Init,
            requests: Vec::new(),
            started: false,
        })
    }

    fn request(&mut self, xs: Vec<Vec<f64>>) {
        let domain = Arc::clone(&self.history.domain);
        let anchor = self.simplex.first().map(|(x, _)| domain.from_model(x));
        let anchor = anchor
            .and_then(|a| domain.repair(&a))
            .or_else(|| best_point(&self.history).map(|b| b.0));
        self.requests = xs
            .into_iter()
            .filter_map(|x| {
                let p = feasible_near(&domain, &x, anchor.as_ref())?;
                Some((domain.to_model(&p), p))
            })
            .collect();
    }

    /// Advances the state machine as far as known values allow; returns points still needed.
    fn advance(&mut self) -> Result<Vec<Point>> {
        let d = self.history.domain.dim();
        if !self.started {
            self.started = true;
            let x0 = self
                .history
                .domain
                .to_model(&start_point(&self.history, &mut self.rng)?);
            let step = self.options.initial_step;
            let mut xs = vec![x0.clone()];
            for i in 0..d {
                let mut x = x0.clone();
                x[i] = if x[i] + step <= 1.0 {
                    x[i] + step
                } else {
                    x[i] - step
                };
                xs.push(x);
            }
            self.request(xs);
        }
        for _ in 0..100 {
            let known = losses(&self.history);
            let missing: Vec<Point> = self
                .requests
                .iter()
                .filter(|(_, p)| !known.contains_key(&point_key(p)))
                .map(|(_, p)| p.clone())
                .collect();
            if !missing.is_empty() {
                return Ok(missing);
            }
            let vals: Vec<(Vec<f64>, f64)> = self
                .requests
                .iter()
                .map(|(x, p)| {
                    (
                        x.clone(),
                        known.get(&point_key(p)).copied().unwrap_or(f64::INFINITY),
                    )
                })
                .collect();
            self.step(vals);
        }
        // Degenerate simplex that keeps landing on known points: restart around the best.
        self.started = false;
        self.simplex.clear();
        self.phase = NmPhase::Init;
        self.options.initial_step = (self.options.initial_step * 0.5).max(1e-3);
        Ok(Vec::new())
    }

    fn step(&mut self, vals: Vec<(Vec<f64>, f64)>) {
        let d = self.history.domain.dim();
        match std::mem::replace(&mut self.phase, NmPhase::Reflect) {
            NmPhase::Init => self.simplex = vals,
            NmPhase::Shrink => {
                // Keep the best vertex, replace the others by their shrunk versions.
                let best = self.simplex.first().cloned();
                self.simplex = best.into_iter().chain(vals).collect();
            }
            NmPhase::Reflect => {
                let (xr, fr) = vals
                    .into_iter()
                    .next()
                    .unwrap_or((Vec::new(), f64::INFINITY));
                let f1 = self.simplex.first().map_or(f64::INFINITY, |v| v.1);
                let fsecond = self
                    .simplex
                    .get(d.saturating_sub(1))
                    .map_or(f64::INFINITY, |v| v.1);
                let fworst = self.simplex.last().map_or(f64::INFINITY, |v| v.1);
                if fr < f1 {
                    let c = self.centroid();
                    let xe: Vec<f64> = c
                        .iter()
                        .zip(&xr)
                        .map(|(ci, ri)| ci + 2.0 * (ri - ci))
                        .collect();
                    self.phase = NmPhase::Expand { xr, fr };
                    self.request(vec![xe]);
                    return;
                } else if fr < fsecond {
                    self.replace_worst(xr, fr);
                } else {
                    let c = self.centroid();
                    let worst = self.simplex.last().map(|v| v.0.clone()).unwrap_or_default();
                    let target = if fr < fworst { xr.clone() } else { worst };
                    let xc: Vec<f64> = c
                        .iter()
                        .zip(&target)
                        .map(|(ci, ti)| ci + 0.5 * (ti - ci))
                        .collect();
                    self.phase = NmPhase::Contract { xr, fr };
                    self.request(vec![xc]);
                    return;
                }
            }
            NmPhase::Expand { xr, fr } => {
                let (xe, fe) = vals
                    .into_iter()
                    .next()
                    .unwrap_or((Vec::new(), f64::INFINITY));
                if fe < fr {
                    self.replace_worst(xe, fe)
                } else {
                    self.replace_worst(xr, fr)
                }
            }
            NmPhase::Contract { xr, fr } => {
                let (xc, fc) = vals
                    .into_iter()
                    .next()
                    .unwrap_or((Vec::new(), f64::INFINITY));
                let fworst = self.simplex.last().map_or(f64::INFINITY, |v| v.1);
                if fc < fr.min(fworst) {
                    self.replace_worst(xc, fc);
                } else if fr < fworst {
                    self.replace_worst(xr, fr);
                    // A failed contraction after an acceptable reflection still shrinks next.
                } else {
                    let best = self
                        .simplex
                        .first()
                        .map(|v| v.0.clone())
                        .unwrap_or_default();
                    let xs: Vec<Vec<f64>> = self
                        .simplex
                        .iter()
                        .skip(1)
                        .map(|(x, _)| {
                            best.iter()
                                .zip(x)
                                .map(|(b, xi)| b + 0.5 * (xi - b))
                                .collect()
                        })
                        .collect();
                    self.phase = NmPhase::Shrink;
                    self.request(xs);
                    return;
                }
            }
        }
        self.simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let c = self.centroid();
        let worst = self.simplex.last().map(|v| v.0.clone()).unwrap_or_default();
        let xr: Vec<f64> = c
            .iter()
            .zip(&worst)
            .map(|(ci, wi)| ci + (ci - wi))
            .collect();
        self.phase = NmPhase::Reflect;
        self.request(vec![xr]);
    }

    fn centroid(&self) -> Vec<f64> {
        let d = self.history.domain.dim();
        let k = self.simplex.len().saturating_sub(1).max(1);
        let mut c = vec![0.0; d];
        for (x, _) in self.simplex.iter().take(k) {
            for (ci, xi) in c.iter_mut().zip(x) {
                *ci += xi / k as f64;
            }
        }
        c
    }

    fn replace_worst(&mut self, x: Vec<f64>, f: f64) {
        if let Some(last) = self.simplex.last_mut() {
            *last = (x, f);
        }
    }
}

impl Strategy for NelderMead {
    fn name(&self) -> &'static str {
        "nelder_mead"
    }

    fn ask(&mut self, n: usize, pending: &[Point]) -> Result<Vec<Suggestion>> {
        let mut needed = self.advance()?;
        if needed.is_empty() {
            needed = self.advance()?;
        }
        let mut taken = self.history.taken(pending);
        let mut out: Vec<Suggestion> = Vec::new();
        for p in needed {
            if out.len() < n && taken.insert(point_key(&p)) {
                out.push(Suggestion {
                    point: p,
                    explain: explain("nelder_mead", "simplex"),
                });
            }
        }
        if out.len() < n {
            let centre = start_point(&self.history, &mut self.rng)?;
            let domain = Arc::clone(&self.history.domain);
            for p in perturbations(
                &domain,
                &centre,
                n - out.len(),
                0.05,
                &mut taken,
                &mut self.rng,
            ) {
                out.push(Suggestion {
                    point: p,
                    explain: explain("nelder_mead", "batch fill"),
                });
            }
        }
        Ok(out)
    }

    fn tell(&mut self, observations: &[Observation]) -> Result<()> {
        self.history.tell(observations)
    }
}

// ---------------------------------------------------------------------------------------------
// SNOBFIT-like

/// SNOBFIT-like search: local quadratic models in a trust region around the best point, plus
/// space-filling exploration points far from every observation.
#[derive(Debug)]
pub struct Snobfit {
    options: SnobfitOptions,
    history: History,
    rng: ChaCha8Rng,
    radius: f64,
    last_best: f64,
}

impl Snobfit {
    /// A SNOBFIT-like strategy over `domain`.
    pub fn new(
        options: SnobfitOptions,
        domain: Arc<Domain>,
        objectives: Objectives,
        seed: u64,
    ) -> Result<Self> {
        if !(options.initial_radius > 0.0
            && options.initial_radius <= 1.0
            && (0.0..1.0).contains(&options.exploration))
        {
            return Err(OptimizeError::InvalidOption {
                strategy: "snobfit",
                reason: "initial_radius must be in (0, 1] and exploration in [0, 1)".into(),
            });
        }
        Ok(Snobfit {
            radius: options.initial_radius,
            options,
            history: History::new(domain, objectives),
            rng: ChaCha8Rng::seed_from_u64(seed),
            last_best: f64::INFINITY,
        })
    }

    /// Minimiser of a separable quadratic fitted to the nearest points, inside the trust box.
    fn local_step(&self, best: &[f64]) -> Vec<f64> {
        let domain = &self.history.domain;
        let d = domain.dim();
        let utilities = self.history.utilities(None);
        let mut pts: Vec<(f64, Vec<f64>, f64)> = self
            .history
            .observations
            .iter()
            .zip(utilities)
            .filter_map(|(o, u)| {
                let x = domain.to_model(&o.point);
                let dist: f64 = x
                    .iter()
                    .zip(best)
                    .enumerate()
                    .map(|(i, (a, b))| {
                        if domain.levels_of(i).is_some() {
                            0.0
                        } else {
                            (a - b).powi(2)
                        }
                    })
                    .sum();
                u.map(|u| (dist, x, -u))
            })
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        pts.truncate((2 * d + 3).max(4));
        let p = 1 + 2 * d;
        // Ridge least squares on [1, Δx, Δx²]: normal equations, Cholesky.
        let mut ata = vec![0.0; p * p];
        let mut aty = vec![0.0; p];
        for (_, x, y) in &pts {
            let mut row = vec![1.0];
            row.extend(x.iter().zip(best).map(|(a, b)| a - b));
            row.extend(x.iter().zip(best).map(|(a, b)| (a - b).powi(2)));
            for i in 0..p {
                aty[i] += row[i] * y;
                for j in 0..p {
                    ata[i * p + j] += row[i] * row[j];
                }
            }
        }
        for i in 0..p {
            ata[i * p + i] += 1e-6 * (1.0 + ata[i * p + i]);
        }
        let coef = linalg::cholesky(&ata, p)
            .map(|l| linalg::solve(&l, p, &aty))
            .unwrap_or_else(|| vec![0.0; p]);
        let r = self.radius;
        best.iter()
            .enumerate()
            .map(|(i, b)| {
                if domain.levels_of(i).is_some() {
                    return *b;
                }
                let g = coef.get(1 + i).copied().unwrap_or(0.0);
                let h = coef.get(1 + d + i).copied().unwrap_or(0.0);
                let step = if h > 1e-12 {
                    -g / (2.0 * h)
                } else {
                    -r * g.signum()
                };
                b + step.clamp(-r, r)
            })
            .collect()
    }

    /// The random feasible candidate farthest from every observed or taken point.
    fn explore(&mut self, taken: &BTreeSet<Vec<u64>>, chosen: &[Point]) -> Option<Point> {
        let domain = Arc::clone(&self.history.domain);
        let known: Vec<Vec<f64>> = self
            .history
            .observations
            .iter()
            .map(|o| &o.point)
            .chain(chosen)
            .map(|p| domain.to_model(p))
            .collect();
        let mut best: Option<(f64, Point)> = None;
        for _ in 0..300 {
            let Ok(p) = domain.sample_feasible(&mut self.rng, 200) else {
                continue;
            };
            if taken.contains(&point_key(&p)) {
                continue;
            }
            let x = domain.to_model(&p);
            let dmin = known
                .iter()
                .map(|k| crate::strategy::model_distance2(&domain, k, &x))
                .fold(f64::INFINITY, f64::min);
            if best.as_ref().is_none_or(|b| dmin > b.0) {
                best = Some((dmin, p));
            }
        }
        best.map(|b| b.1)
    }
}

impl Strategy for Snobfit {
    fn name(&self) -> &'static str {
        "snobfit"
    }

    fn ask(&mut self, n: usize, pending: &[Point]) -> Result<Vec<Suggestion>> {
        let domain = Arc::clone(&self.history.domain);
        let mut taken = self.history.taken(pending);
        let mut out: Vec<Suggestion> = Vec::new();
        let d = domain.dim();
        // Too little data for a local model: space-filling points only.
        let successes = self
            .history
            .utilities(None)
            .iter()
            .filter(|u| u.is_some())
            .count();
        let Some((best, fbest)) = best_point(&self.history).filter(|_| successes > d) else {
            let mut chosen = Vec::new();
            for _ in 0..n {
                match self.explore(&taken, &chosen) {
                    Some(p) => {
                        taken.insert(point_key(&p));
                        chosen.push(p.clone());
                        out.push(Suggestion {
                            point: p,
                            explain: explain("snobfit", "space filling"),
                        });
                    }
                    None => break,
                }
            }
            return Ok(out);
        };
        // Trust-region update from the progress since the previous ask.
        if fbest < self.last_best - 1e-12 * fbest.abs().max(1.0) {
            self.radius = (self.radius * 1.5).min(0.5);
        } else if self.last_best.is_finite() {
            self.radius = (self.radius * 0.6).max(1e-3);
        }
        self.last_best = fbest;
        let n_explore = ((n as f64) * self.options.exploration).floor() as usize;
        let n_local = n - n_explore;
        let xb = domain.to_model(&best);
        let step = self.local_step(&xb);
        if n_local > 0
            && let Some(p) = feasible_near(&domain, &step, Some(&best))
            && taken.insert(point_key(&p))
        {
            out.push(Suggestion {
                point: p,
                explain: explain("snobfit", "local model"),
            });
        }
        let remaining_local = n_local.saturating_sub(out.len());
        for p in perturbations(
            &domain,
            &best,
            remaining_local,
            self.radius * 0.5,
            &mut taken,
            &mut self.rng,
        ) {
            out.push(Suggestion {
                point: p,
                explain: explain("snobfit", "trust region"),
            });
        }
        let mut chosen: Vec<Point> = out.iter().map(|s| s.point.clone()).collect();
        while out.len() < n {
            match self.explore(&taken, &chosen) {
                Some(p) => {
                    taken.insert(point_key(&p));
                    chosen.push(p.clone());
                    out.push(Suggestion {
                        point: p,
                        explain: explain("snobfit", "space filling"),
                    });
                }
                None => break,
            }
        }
        Ok(out)
    }

    fn tell(&mut self, observations: &[Observation]) -> Result<()> {
        self.history.tell(observations)
    }
}

// ---------------------------------------------------------------------------------------------
// CMA-ES

/// CMA-ES (μ/μ_w, λ) with rank-one and rank-μ updates, in model space.
#[derive(Debug)]
pub struct Cmaes {
    history: History,
    rng: ChaCha8Rng,
    lambda: usize,
    mean: DVector<f64>,
    sigma: f64,
    c: DMatrix<f64>,
    pc: DVector<f64>,
    ps: DVector<f64>,
    generation: Vec<(Vec<f64>, Point)>,
    issued: usize,
    started: bool,
}

impl Cmaes {
    /// CMA-ES over `domain`.
    pub fn new(
        options: EvolutionOptions,
        domain: Arc<Domain>,
        objectives: Objectives,
        seed: u64,
    ) -> Result<Self> {
        if !(options.sigma > 0.0 && options.sigma.is_finite()) {
            return Err(OptimizeError::InvalidOption {
                strategy: "evolutionary",
                reason: "sigma must be positive".into(),
            });
        }
        let d = domain.dim();
        let lambda = if options.population == 0 {
            4 + (3.0 * (d as f64).ln()).floor() as usize
        } else {
            options.population.max(2)
        };
        Ok(Cmaes {
            history: History::new(domain, objectives),
            rng: ChaCha8Rng::seed_from_u64(seed),
            lambda,
            mean: DVector::from_element(d, 0.5),
            sigma: options.sigma,
            c: DMatrix::identity(d, d),
            pc: DVector::zeros(d),
            ps: DVector::zeros(d),
            generation: Vec::new(),
            issued: 0,
            started: false,
        })
    }

    fn sample(&mut self) -> Option<(Vec<f64>, Point)> {
        let domain = Arc::clone(&self.history.domain);
        let d = domain.dim();
        let eig = SymmetricEigen::new(self.c.clone());
        let sqrt_vals = eig.eigenvalues.map(|v| v.max(1e-20).sqrt());
        let z = DVector::from_iterator(d, (0..d).map(|_| normal(&mut self.rng)));
        let y = &eig.eigenvectors * sqrt_vals.component_mul(&z);
        let x: Vec<f64> = (&self.mean + self.sigma * y).iter().copied().collect();
        let anchor = domain
            .repair(&domain.from_model(self.mean.as_slice()))
            .or_else(|| best_point(&self.history).map(|b| b.0));
        let p = feasible_near(&domain, &x, anchor.as_ref())?;
        // The update uses the point actually run (after repair), as in boundary-handled CMA-ES.
        Some((domain.to_model(&p), p))
    }

    fn update(&mut self, mut evaluated: Vec<(Vec<f64>, f64)>) {
        let d = self.mean.len();
        let n = d as f64;
        evaluated.sort_by(|a, b| a.1.total_cmp(&b.1));
        let mu = (self.lambda / 2).max(1).min(evaluated.len());
        let raw: Vec<f64> = (0..mu)
            .map(|i| ((mu as f64 + 0.5).ln() - ((i + 1) as f64).ln()).max(1e-12))
            .collect();
        let sum: f64 = raw.iter().sum();
        let w: Vec<f64> = raw.iter().map(|v| v / sum).collect();
        let mueff = 1.0 / w.iter().map(|v| v * v).sum::<f64>();
        let cc = (4.0 + mueff / n) / (n + 4.0 + 2.0 * mueff / n);
        let cs = (mueff + 2.0) / (n + mueff + 5.0);
        let c1 = 2.0 / ((n + 1.3).powi(2) + mueff);
        let cmu = (1.0 - c1).min(2.0 * (mueff - 2.0 + 1.0 / mueff) / ((n + 2.0).powi(2) + mueff));
        let damps = 1.0 + 2.0 * (0.0f64).max(((mueff - 1.0) / (n + 1.0)).sqrt() - 1.0) + cs;
        let chi_n = n.sqrt() * (1.0 - 1.0 / (4.0 * n) + 1.0 / (21.0 * n * n));
        let old = self.mean.clone();
        let mut new_mean = DVector::zeros(d);
        for (wi, (x, _)) in w.iter().zip(&evaluated) {
            new_mean += *wi * DVector::from_column_slice(x);
        }
        let step = (&new_mean - &old) / self.sigma;
        let eig = SymmetricEigen::new(self.c.clone());
        let inv_sqrt = eig.eigenvalues.map(|v| 1.0 / v.max(1e-20).sqrt());
        let c_inv_half =
            &eig.eigenvectors * DMatrix::from_diagonal(&inv_sqrt) * eig.eigenvectors.transpose();
        self.ps = (1.0 - cs) * &self.ps + (cs * (2.0 - cs) * mueff).sqrt() * (&c_inv_half * &step);
        let hsig =
            self.ps.norm() / (1.0 - (1.0 - cs).powi(2)).sqrt() / chi_n < 1.4 + 2.0 / (n + 1.0);
        let hs = if hsig { 1.0 } else { 0.0 };
        self.pc = (1.0 - cc) * &self.pc + hs * (cc * (2.0 - cc) * mueff).sqrt() * &step;
        let mut rank_mu = DMatrix::zeros(d, d);
        for (wi, (x, _)) in w.iter().zip(&evaluated) {
            let yi = (DVector::from_column_slice(x) - &old) / self.sigma;
            rank_mu += *wi * &yi * yi.transpose();
        }
        self.c = (1.0 - c1 - cmu) * &self.c
            + c1 * (&self.pc * self.pc.transpose() + (1.0 - hs) * cc * (2.0 - cc) * &self.c)
            + cmu * rank_mu;
        // Keep C symmetric against rounding.
        self.c = 0.5 * (&self.c + self.c.transpose());
        self.sigma =
            (self.sigma * ((cs / damps) * (self.ps.norm() / chi_n - 1.0)).exp()).clamp(1e-6, 1.0);
        self.mean = new_mean;
    }

    fn try_update(&mut self) {
        if self.generation.is_empty() {
            return;
        }
        let known = losses(&self.history);
        let evaluated: Vec<(Vec<f64>, f64)> = self
            .generation
            .iter()
            .filter_map(|(x, p)| known.get(&point_key(p)).map(|f| (x.clone(), *f)))
            .collect();
        if evaluated.len() >= self.lambda.min(self.generation.len()) && evaluated.len() >= 2 {
            self.update(evaluated);
            self.generation.clear();
            self.issued = 0;
        }
    }
}

impl Strategy for Cmaes {
    fn name(&self) -> &'static str {
        "evolutionary"
    }

    fn ask(&mut self, n: usize, pending: &[Point]) -> Result<Vec<Suggestion>> {
        if !self.started {
            self.started = true;
            if let Some((p, _)) = best_point(&self.history) {
                self.mean = DVector::from_vec(self.history.domain.to_model(&p));
            }
        }
        self.try_update();
        let mut taken = self.history.taken(pending);
        let mut out = Vec::new();
        let mut tries = 0;
        while out.len() < n && tries < 50 * n.max(1) {
            tries += 1;
            let Some((x, p)) = self.sample() else {
                continue;
            };
            if !taken.insert(point_key(&p)) {
                continue;
            }
            self.generation.push((x, p.clone()));
            self.issued += 1;
            let mut e = explain("evolutionary", "cma-es sample");
            e.details.insert("sigma".into(), self.sigma);
            out.push(Suggestion {
                point: p,
                explain: e,
            });
        }
        if out.len() < n {
            let centre = start_point(&self.history, &mut self.rng)?;
            let domain = Arc::clone(&self.history.domain);
            for p in perturbations(
                &domain,
                &centre,
                n - out.len(),
                0.1,
                &mut taken,
                &mut self.rng,
            ) {
                out.push(Suggestion {
                    point: p,
                    explain: explain("evolutionary", "batch fill"),
                });
            }
        }
        Ok(out)
    }

    fn tell(&mut self, observations: &[Observation]) -> Result<()> {
        self.history.tell(observations)?;
        self.try_update();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Variable;
    use crate::objective::{Goal, Objective};

    fn run(
        mut s: Box<dyn Strategy>,
        f: impl Fn(&[f64]) -> f64,
        budget: usize,
        batch: usize,
    ) -> f64 {
        let mut best = f64::INFINITY;
        let mut used = 0;
        while used < budget {
            let sug = s.ask(batch, &[]).unwrap();
            assert!(!sug.is_empty());
            let obs: Vec<Observation> = sug
                .iter()
                .map(|g| {
                    let v = f(&g.point.as_reals());
                    best = best.min(v);
                    Observation {
                        point: g.point.clone(),
                        outcome: crate::observation::Outcome::single("y", v),
                    }
                })
                .collect();
            used += obs.len();
            s.tell(&obs).unwrap();
        }
        best
    }

    fn setup() -> (Arc<Domain>, Objectives) {
        let d = Arc::new(
            Domain::new(vec![
                Variable::continuous("a", -2.0, 2.0),
                Variable::continuous("b", -2.0, 2.0),
                Variable::integer("k", 0, 10),
            ])
            .unwrap(),
        );
        (d, Objectives::single(Objective::new("y", Goal::Minimize)))
    }

    fn sphere(x: &[f64]) -> f64 {
        (x[0] - 0.7).powi(2) + (x[1] + 0.3).powi(2) + 0.01 * (x[2] - 4.0).powi(2)
    }

    #[test]
    fn nelder_mead_descends() {
        let (d, o) = setup();
        let s = Box::new(NelderMead::new(NelderMeadOptions::default(), d, o, 1).unwrap());
        assert!(run(s, sphere, 80, 1) < 0.02);
    }

    #[test]
    fn snobfit_descends() {
        let (d, o) = setup();
        let s = Box::new(Snobfit::new(SnobfitOptions::default(), d, o, 2).unwrap());
        assert!(run(s, sphere, 60, 3) < 0.05);
    }

    #[test]
    fn cmaes_descends() {
        let (d, o) = setup();
        let s = Box::new(Cmaes::new(EvolutionOptions::default(), d, o, 3).unwrap());
        assert!(run(s, sphere, 150, 4) < 0.05);
    }

    #[test]
    fn options_are_validated() {
        let (d, o) = setup();
        assert!(
            NelderMead::new(
                NelderMeadOptions { initial_step: 0.0 },
                Arc::clone(&d),
                o.clone(),
                0
            )
            .is_err()
        );
        assert!(
            Snobfit::new(
                SnobfitOptions {
                    initial_radius: 0.2,
                    exploration: 1.0
                },
                Arc::clone(&d),
                o.clone(),
                0
            )
            .is_err()
        );
        assert!(
            Cmaes::new(
                EvolutionOptions {
                    population: 0,
                    sigma: -1.0
                },
                d,
                o,
                0
            )
            .is_err()
        );
    }
}
