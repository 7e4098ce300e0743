//! Mapping a measured value over the domain: an uncertainty-driven design that ends when the
//! map is trustworthy everywhere (Maceiczyk & deMello, J. Phys. Chem. C 2014, 118, 20026: a
//! kriging map of a CdSe emission feature from far fewer experiments than a grid).
//!
//! The map is the [`Surrogate`] of the mapped value: a Matérn-5/2 ARD GP fitted by MAP to the
//! standardised values, no output warping, so its mean and sd are in the value's own unit.
//!
//! How trustworthy the map is, its *uncertainty*, is measured on a fixed reference set: up to
//! [`REFERENCE_POINTS`] feasible points of a scrambled Sobol sequence over the domain (the free
//! pool points in pool mode), drawn once from the seed ([`reference_set`]). The uncertainty is
//! the largest posterior sd of the latent value (measurement noise excluded, back in the value's
//! unit) over that set: a map is only as good as its worst place, and a mean would let a badly
//! covered corner hide behind a well-covered middle. The mean sd is recorded beside it.
//!
//! [`Mapper`] is the strategy: an initial space-filling design, then each suggestion maximises
//! one of two acquisitions over the reference set and fresh Sobol candidates:
//! - [`MapAcquisition::MaxVariance`]: the candidate of largest posterior variance (the default:
//!   it attacks exactly the quantity the stop level is checked against);
//! - [`MapAcquisition::IntegratedVariance`]: the candidate whose measurement (with the fitted
//!   noise) would most reduce the posterior variance summed over the reference set,
//!   `Σⱼ cov(rⱼ, x)² / (var(x) + σ²ₙ)`.
//!
//! Batches and pending experiments use the kriging believer, which is exact here: a GP's
//! posterior variance does not depend on the values observed.
//!
//! Invariants: the map fitted to the same observations with the same seed is the same
//! ([`MapModel::fit`] derives its fit seed from the seed and the number of values only), so the
//! runtime's stop check and the strategy's explanation agree; suggestions are feasible and
//! distinct from observed and pending points.

use std::collections::BTreeSet;
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::design::{Design, DesignKind};
use crate::domain::{Domain, Point, point_key};
use crate::error::{OptimizeError, Result};
use crate::objective::Objectives;
use crate::observation::{Explanation, Observation, Outcome, Suggestion};
use crate::sobol::Sobol;
use crate::strategy::{History, Strategy};
use crate::surrogate::{Prediction, Surrogate};

/// Size of the reference set the map's uncertainty is measured on.
pub const REFERENCE_POINTS: usize = 256;
/// Fresh Sobol candidates scored besides the reference set at each suggestion.
const CANDIDATES: usize = 512;
/// Draws tried per wanted feasible point before giving up on a constrained domain.
const ATTEMPTS_PER_POINT: usize = 32;

/// Which uncertainty-driven acquisition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum MapAcquisition {
    /// The point of largest posterior variance.
    #[default]
    MaxVariance,
    /// The point whose measurement most reduces the variance integrated over the reference set.
    IntegratedVariance,
}

impl MapAcquisition {
    /// The name written in explanations.
    pub fn name(self) -> &'static str {
        match self {
            MapAcquisition::MaxVariance => "max_variance",
            MapAcquisition::IntegratedVariance => "integrated_variance",
        }
    }
}

/// How uncertain a map is over the reference set, in the mapped value's unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MapUncertainty {
    /// The largest posterior sd of the latent value over the reference set.
    pub max_sd: f64,
    /// The mean posterior sd over the reference set.
    pub mean_sd: f64,
}

/// The fixed set the map's uncertainty is measured on: up to [`REFERENCE_POINTS`] feasible
/// points of a scrambled Sobol sequence drawn from `seed` (in pool mode, the pool itself).
pub fn reference_set(domain: &Domain, seed: u64) -> Vec<Point> {
    if let Some(pool) = domain.pool() {
        return pool.to_vec();
    }
    sobol_points(domain, REFERENCE_POINTS, seed ^ 0x006d_6170_5f72_6566)
}

/// Up to `n` distinct feasible points of a Sobol sequence scrambled by `seed`.
fn sobol_points(domain: &Domain, n: usize, seed: u64) -> Vec<Point> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut sobol = Sobol::new(domain.dim(), &mut rng);
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n * ATTEMPTS_PER_POINT {
        if out.len() >= n {
            break;
        }
        if let Some(p) = domain.repair(&domain.from_cube(&sobol.next_point()))
            && seen.insert(point_key(&p))
        {
            out.push(p);
        }
    }
    out
}

/// The values of `proxy` the successful observations report, with their points.
pub fn mapped_values(observations: &[Observation], proxy: &str) -> (Vec<Point>, Vec<f64>) {
    observations
        .iter()
        .filter_map(|o| match &o.outcome {
            Outcome::Measured(m) => m
                .get(proxy)
                .filter(|v| v.is_finite())
                .map(|v| (o.point.clone(), *v)),
            Outcome::Failed { .. } => None,
        })
        .unzip()
}

/// A fitted map of one value.
#[derive(Debug, Clone)]
pub struct MapModel {
    surrogate: Surrogate,
}

impl MapModel {
    /// The map of `proxy` from the successful observations; `None` with fewer than two values
    /// (no model yet). The fit's randomness comes from `seed` and the number of values only.
    pub fn fit(
        domain: &Domain,
        observations: &[Observation],
        proxy: &str,
        seed: u64,
    ) -> Result<Option<MapModel>> {
        let (points, values) = mapped_values(observations, proxy);
        if values.len() < 2 {
            return Ok(None);
        }
        let fit_seed = seed ^ 0x6d61_7066_6974_u64.wrapping_mul(values.len() as u64 + 1);
        Surrogate::fit(domain, &points, &values, fit_seed)
            .map(|surrogate| Some(MapModel { surrogate }))
    }

    /// The map at a point: the mean and the sd of the latent value, in the value's unit.
    pub fn predict(&self, point: &Point) -> Prediction {
        self.surrogate.predict(point)
    }

    /// The largest and the mean posterior sd over `reference` (see the module documentation).
    pub fn uncertainty(&self, reference: &[Point]) -> MapUncertainty {
        let sds: Vec<f64> = reference.iter().map(|p| self.predict(p).sd).collect();
        let max_sd = sds.iter().copied().fold(0.0, f64::max);
        let mean_sd = if sds.is_empty() {
            0.0
        } else {
            sds.iter().sum::<f64>() / sds.len() as f64
        };
        MapUncertainty { max_sd, mean_sd }
    }

    /// The fitted lengthscale of each variable (model units; shorter matters more).
    pub fn lengthscales(&self) -> Vec<f64> {
        self.surrogate.lengthscales()
    }
}

/// Options of [`Mapper`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapOptions {
    /// The measured value to map.
    pub proxy: String,
    /// Size of the initial Sobol design (prior observations count toward it).
    pub initial: usize,
    /// The acquisition.
    pub acquisition: MapAcquisition,
}

/// The mapping strategy (see the module documentation).
#[derive(Debug)]
pub struct Mapper {
    options: MapOptions,
    history: History,
    design: Design,
    reference: Vec<Point>,
    seed: u64,
    asks: u64,
}

impl Mapper {
    /// A mapper over `domain`; all its randomness comes from `seed`.
    pub fn new(
        options: MapOptions,
        domain: Arc<Domain>,
        objectives: Objectives,
        seed: u64,
    ) -> Result<Self> {
        if options.initial == 0 {
            return Err(OptimizeError::InvalidOption {
                strategy: "bayesian",
                reason: "the initial design needs at least one point".into(),
            });
        }
        let reference = reference_set(&domain, seed);
        let design = Design::new(
            DesignKind::Sobol,
            Arc::clone(&domain),
            objectives.clone(),
            seed,
        )?;
        Ok(Mapper {
            options,
            history: History::new(domain, objectives),
            design,
            reference,
            seed,
            asks: 0,
        })
    }

    fn explain(&self, phase: &str) -> Explanation {
        Explanation {
            strategy: "bayesian".into(),
            phase: phase.into(),
            ..Explanation::default()
        }
    }

    /// The candidates of this suggestion: the reference set and fresh Sobol points (the free
    /// pool points in pool mode), none of them taken.
    fn candidates(&self, taken: &BTreeSet<Vec<u64>>) -> Vec<Point> {
        let domain = &self.history.domain;
        let fresh = if domain.pool().is_some() {
            Vec::new()
        } else {
            let n = self.history.observations.len() as u64;
            sobol_points(
                domain,
                CANDIDATES,
                self.seed ^ 0x6361_6e64_u64.wrapping_mul(n + 1) ^ self.asks.rotate_left(32),
            )
        };
        let mut seen = taken.clone();
        self.reference
            .iter()
            .chain(&fresh)
            .filter(|p| seen.insert(point_key(p)))
            .cloned()
            .collect()
    }

    fn ask_model(
        &self,
        map: MapModel,
        n: usize,
        pending: &[Point],
        taken: &mut BTreeSet<Vec<u64>>,
    ) -> Result<Vec<Suggestion>> {
        let uncertainty = map.uncertainty(&self.reference);
        let lengthscales = map.lengthscales();
        let mut model = map.surrogate;
        for p in pending {
            model = model.with_believed(p)?;
        }
        let mut out = Vec::new();
        while out.len() < n {
            let candidates = self.candidates(taken);
            let Some((best, score)) = best_candidate(
                &model,
                &candidates,
                &self.reference,
                self.options.acquisition,
            ) else {
                break;
            };
            let point = candidates[best].clone();
            let at = model.predict(&point);
            let mut explain = self.explain("map");
            explain.surrogate = Some("gp".into());
            explain.predicted_mean = Some(at.mean);
            explain.predicted_sd = Some(at.sd);
            explain.acquisition = Some(score);
            explain
                .details
                .insert("reference_max_sd".into(), uncertainty.max_sd);
            for (v, l) in self.history.domain.variables().iter().zip(&lengthscales) {
                explain
                    .details
                    .insert(format!("lengthscale_{}", v.name()), *l);
            }
            taken.insert(point_key(&point));
            model = model.with_believed(&point)?;
            out.push(Suggestion { point, explain });
        }
        Ok(out)
    }
}

/// The index of the candidate the acquisition prefers and its score (ties: the first).
/// `MaxVariance` scores the posterior variance (values' unit squared); `IntegratedVariance`
/// the mean variance reduction over `reference` if the candidate were measured.
fn best_candidate(
    model: &Surrogate,
    candidates: &[Point],
    reference: &[Point],
    acquisition: MapAcquisition,
) -> Option<(usize, f64)> {
    let domain = model.domain();
    let gp = model.gp();
    let s2 = model.scale() * model.scale();
    let scores: Vec<f64> = match acquisition {
        MapAcquisition::MaxVariance => candidates
            .iter()
            .map(|p| s2 * gp.predict(&domain.to_model(p), false).var)
            .collect(),
        MapAcquisition::IntegratedVariance => {
            let refs: Vec<(Vec<f64>, Vec<f64>)> = reference
                .iter()
                .map(|p| {
                    let x = domain.to_model(p);
                    let (k, _) = gp.cross(&x);
                    (x, k)
                })
                .collect();
            let noise = gp.noise_var();
            candidates
                .iter()
                .map(|p| {
                    let x = domain.to_model(p);
                    let var = gp.predict(&x, false).var;
                    let (_, w) = gp.cross(&x);
                    let total: f64 = refs
                        .iter()
                        .map(|(r, kr)| {
                            let cov = gp.kernel(r, &x)
                                - kr.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>();
                            cov * cov
                        })
                        .sum();
                    s2 * total / (var + noise) / refs.len().max(1) as f64
                })
                .collect()
        }
    };
    scores
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_finite())
        .fold(None, |best: Option<(usize, f64)>, (i, s)| match best {
            Some((_, b)) if b >= *s => best,
            _ => Some((i, *s)),
        })
}

impl Strategy for Mapper {
    fn name(&self) -> &'static str {
        "bayesian"
    }

    fn ask(&mut self, n: usize, pending: &[Point]) -> Result<Vec<Suggestion>> {
        self.asks += 1;
        let known = self.history.observations.len() + pending.len();
        let map = MapModel::fit(
            &self.history.domain,
            &self.history.observations,
            &self.options.proxy,
            self.seed,
        )?;
        let from_design = if map.is_none() {
            n
        } else {
            self.options.initial.saturating_sub(known).min(n)
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
        if let Some(map) = map
            && out.len() < n
        {
            let mut pend = pending.to_vec();
            pend.extend(out.iter().map(|s| s.point.clone()));
            let more = self.ask_model(map, n - out.len(), &pend, &mut taken)?;
            out.extend(more);
        }
        Ok(out)
    }

    fn tell(&mut self, observations: &[Observation]) -> Result<()> {
        self.history.tell(observations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Value, Variable};
    use crate::objective::{Goal, Objective};

    fn line() -> Arc<Domain> {
        Arc::new(Domain::new(vec![Variable::continuous("x", 0.0, 10.0)]).expect("domain"))
    }

    fn observed(xs: &[f64]) -> Vec<Observation> {
        xs.iter()
            .map(|x| Observation {
                point: Point(vec![Value::Real(*x)]),
                outcome: Outcome::single("peak", 500.0 + 10.0 * (x / 3.0).sin()),
            })
            .collect()
    }

    fn mapper(acquisition: MapAcquisition) -> Mapper {
        Mapper::new(
            MapOptions {
                proxy: "peak".into(),
                initial: 3,
                acquisition,
            },
            line(),
            Objectives::single(Objective::new("peak", Goal::Maximize)),
            7,
        )
        .expect("mapper")
    }

    #[test]
    fn max_variance_picks_the_point_of_largest_uncertainty() {
        // Observed on the left half only: the most uncertain place is the far right end.
        let mut m = mapper(MapAcquisition::MaxVariance);
        m.tell(&observed(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]))
            .expect("tell");
        let s = m.ask(1, &[]).expect("ask");
        let x = s[0].point.as_reals()[0];
        assert!(x > 9.5, "chose {x}");
        // It is the argmax of the map's sd over every candidate it scored.
        let map = MapModel::fit(&m.history.domain, &m.history.observations, "peak", 7)
            .expect("fit")
            .expect("a map");
        let chosen = map.predict(&s[0].point).sd;
        for p in m.candidates(&m.history.taken(&[])) {
            assert!(
                map.predict(&p).sd <= chosen + 1e-12,
                "{p:?} is more uncertain"
            );
        }
        assert_eq!(s[0].explain.phase, "map");
        let max_sd = s[0].explain.details["reference_max_sd"];
        assert!((max_sd - map.uncertainty(&m.reference).max_sd).abs() < 1e-12);
    }

    #[test]
    fn integrated_variance_prefers_the_middle_of_an_unexplored_region() {
        // The right half is unexplored: reducing the variance over all of it is best done from
        // inside it, not from its far edge (where max variance goes).
        let mut m = mapper(MapAcquisition::IntegratedVariance);
        m.tell(&observed(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]))
            .expect("tell");
        let s = m.ask(1, &[]).expect("ask");
        let x = s[0].point.as_reals()[0];
        assert!(x > 5.5 && x < 9.5, "chose {x}");
    }

    #[test]
    fn a_batch_spreads_out_and_pending_points_count_as_measured() {
        let mut m = mapper(MapAcquisition::MaxVariance);
        m.tell(&observed(&[0.0, 2.5, 5.0])).expect("tell");
        let s = m.ask(2, &[]).expect("ask");
        let xs: Vec<f64> = s.iter().map(|s| s.point.as_reals()[0]).collect();
        assert!((xs[0] - xs[1]).abs() > 1.0, "{xs:?}");
        let pending = [Point(vec![Value::Real(10.0)])];
        let s = m.ask(1, &pending).expect("ask");
        assert!(s[0].point.as_reals()[0] < 9.0, "{:?}", s[0].point);
    }

    #[test]
    fn more_data_shrinks_the_uncertainty_and_the_fit_is_reproducible() {
        let d = line();
        let reference = reference_set(&d, 1);
        assert_eq!(reference.len(), REFERENCE_POINTS);
        let few = MapModel::fit(&d, &observed(&[0.0, 5.0, 10.0]), "peak", 1)
            .expect("fit")
            .expect("map");
        let xs: Vec<f64> = (0..=20).map(|i| f64::from(i) * 0.5).collect();
        let many = MapModel::fit(&d, &observed(&xs), "peak", 1)
            .expect("fit")
            .expect("map");
        let (a, b) = (few.uncertainty(&reference), many.uncertainty(&reference));
        assert!(b.max_sd < a.max_sd, "{a:?} then {b:?}");
        assert!(b.mean_sd <= b.max_sd);
        let again = MapModel::fit(&d, &observed(&xs), "peak", 1)
            .expect("fit")
            .expect("map");
        assert_eq!(again.uncertainty(&reference), b);
        assert!(
            MapModel::fit(&d, &observed(&[1.0]), "peak", 1)
                .expect("fit")
                .is_none()
        );
    }
}
