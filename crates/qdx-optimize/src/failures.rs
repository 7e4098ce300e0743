//! Failure handling chosen by the data (`FailureHandling::Auto`, the default).
//!
//! The two treatments of failed experiments differ in one assumption. The feasibility model
//! fits the values to the successes only and learns where experiments fail separately; the
//! imputation puts every failure into the value model at the worst utility seen, so it assumes
//! that a failure *is* a very bad result, continuous with the measured values around it. That
//! assumption is testable on the data: when it holds (failures sit where the measured values
//! are already low), the imputed points agree with their neighbours and sharpen the model of
//! the successes; when it does not (failures border good results, as a decomposition limit
//! next to the best temperature does), the made-up low values pull the predictions of the good
//! neighbours down and shorten the lengthscales.
//!
//! The criterion: the mean leave-one-out log predictive density of the *successful* utilities
//! under each treatment's value model — a Matérn-5/2 GP of the successes alone (feasibility
//! model) and one of the successes plus the failures at the worst utility (imputation) — in the
//! utilities' own units, so the two scores are densities of the same numbers and compare
//! directly. Only the measured outcomes are scored: the imputation has no probability of
//! failure to score the failures with, and the feasibility model's classifier is the same
//! whichever value model sits beside it. The imputation is chosen only when its score beats
//! the feasibility model's by more than [`IMPUTE_MARGIN`] nats per success: the feasibility
//! model is the one the composite model works with, and it won every benchmark with failures
//! next to the optimum (`bench/optimize/README.md`, "Failure handling chosen by the data").
//!
//! Only the score model asks: where the composite model serves the campaign (a target, a
//! desirability, a weighted sum of several proxies), the comparison of two models of the
//! combined score says nothing about it, and imputing would replace it by the score model, which
//! lost to it on both pools with failures; there the feasibility model stays, unasked.
//!
//! Cost: two GP fits of at most n points (a short MAP search each, no warm start) and the
//! closed-form leave-one-out predictions (`Gp::leave_one_out`), once per `ask` with failures.
//!
//! Invariant: the choice is a function of the observations (their order included) and the
//! strategy's seed only — no warm start, no ask counter — so a resumed run, which is told the
//! same observations, makes the same choice.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::bayes::FailureHandling;
use crate::gp::{FitEffort, Gp, Prior};

/// How many nats per success the imputation must win by to be chosen (see the module docs).
pub(crate) const IMPUTE_MARGIN: f64 = 0.0;

/// Fewest successes for a leave-one-out score: with fewer, the feasibility model is kept.
const MIN_SUCCESSES: usize = 3;

/// The MAP search of each criterion GP: shorter than the acquisition model's, since only the
/// comparison matters, and always cold so the choice carries no state between asks.
const EFFORT: FitEffort = FitEffort {
    prior_draws: 8,
    starts: 2,
    max_iter: 40,
    rel_tol: 1e-8,
};

/// The treatment `failures auto` chose for one suggestion and why, as recorded in the
/// suggestion's `explain.failures` in `optimizer/suggestions.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureChoice {
    /// `feasibility_model` or `impute_worst` (the language's names).
    pub choice: String,
    /// Mean leave-one-out log predictive density of the successful utilities under the
    /// feasibility model's value GP (successes only); `None` with too few successes.
    pub feasibility_score: Option<f64>,
    /// The same under the imputation's GP (failures at the worst utility).
    pub impute_score: Option<f64>,
    /// Failed experiments among the observations.
    pub failures: usize,
    /// Successful experiments among the observations (the scored outcomes).
    pub successes: usize,
}

impl FailureChoice {
    /// The treatment chosen.
    pub(crate) fn treatment(&self) -> FailureHandling {
        if self.choice == "impute_worst" {
            FailureHandling::ImputeWorst
        } else {
            FailureHandling::FeasibilityModel
        }
    }
}

/// Compares the two treatments on `inputs` (model space) and their `utilities` (`None` =
/// failed). `None` when nothing failed: there is nothing to choose.
pub(crate) fn choose(
    inputs: &[Vec<f64>],
    utilities: &[Option<f64>],
    categorical: &[bool],
    seed: u64,
) -> Option<FailureChoice> {
    let failures = utilities.iter().filter(|u| u.is_none()).count();
    if failures == 0 {
        return None;
    }
    let successes = utilities.len() - failures;
    let keep = |feasibility_score, impute_score| FailureChoice {
        choice: "feasibility_model".into(),
        feasibility_score,
        impute_score,
        failures,
        successes,
    };
    if successes < MIN_SUCCESSES {
        return Some(keep(None, None));
    }
    let worst = utilities
        .iter()
        .flatten()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let mut xs = Vec::with_capacity(utilities.len());
    let mut ys = Vec::with_capacity(utilities.len());
    let mut scored = Vec::with_capacity(successes);
    for (x, u) in inputs.iter().zip(utilities) {
        scored.push(u.is_some());
        xs.push(x.clone());
        ys.push(u.unwrap_or(worst));
    }
    let success_x: Vec<Vec<f64>> = xs
        .iter()
        .zip(&scored)
        .filter(|(_, s)| **s)
        .map(|(x, _)| x.clone())
        .collect();
    let success_y: Vec<f64> = utilities.iter().flatten().copied().collect();
    let n = utilities.len() as u64;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xfa11_c0de_u64.wrapping_mul(n + 1));
    let feasibility = loo_density(
        &success_x,
        &success_y,
        &vec![true; successes],
        categorical,
        &mut rng,
    );
    let impute = loo_density(&xs, &ys, &scored, categorical, &mut rng);
    let (Some(f), Some(i)) = (feasibility, impute) else {
        return Some(keep(feasibility, impute));
    };
    let mut out = keep(Some(f), Some(i));
    if i > f + IMPUTE_MARGIN {
        out.choice = "impute_worst".into();
    }
    Some(out)
}

/// Mean leave-one-out log predictive density, in the units of `y`, of the rows with `scored`
/// set, under a GP of every row. `None` when the fit fails or a density is not finite.
fn loo_density(
    x: &[Vec<f64>],
    y: &[f64],
    scored: &[bool],
    categorical: &[bool],
    rng: &mut ChaCha8Rng,
) -> Option<f64> {
    let n = y.len() as f64;
    let mean = y.iter().sum::<f64>() / n;
    let sd = (y.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
    // Constant utilities: no value model to compare, and no preference either.
    if sd.is_nan() || sd <= 1e-12 * mean.abs().max(1.0) {
        return None;
    }
    let ystd: Vec<f64> = y.iter().map(|v| (v - mean) / sd).collect();
    let dim = x.first().map_or(1, Vec::len);
    let gp = Gp::fit(
        x,
        &ystd,
        categorical,
        &Prior::for_dim(dim),
        None,
        EFFORT,
        rng,
    )
    .ok()?;
    let mut total = 0.0;
    let mut count = 0usize;
    for ((m, v), (yi, s)) in gp.leave_one_out().into_iter().zip(ystd.iter().zip(scored)) {
        if !s {
            continue;
        }
        let v = v.max(1e-12);
        // log N(y; m, v) on the standardised scale, minus ln sd for the utilities' own units.
        total +=
            -0.5 * ((yi - m) * (yi - m) / v + v.ln() + (2.0 * std::f64::consts::PI).ln()) - sd.ln();
        count += 1;
    }
    let score = total / count.max(1) as f64;
    score.is_finite().then_some(score)
}
