//! Plain-data strategy specifications (serde) and the factory that builds strategies from them.
//!
//! Invariant: [`check_support`] and [`build`] agree: `build` fails with
//! [`OptimizeError::Unsupported`] exactly when `check_support` returns a reason.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::bayes::{BayesOptions, Bayesian};
use crate::design::{Design, DesignKind};
use crate::domain::{Domain, Variable};
use crate::error::{OptimizeError, Result};
use crate::local::{
    Cmaes, EvolutionOptions, NelderMead, NelderMeadOptions, Snobfit, SnobfitOptions,
};
use crate::mapping::{MapOptions, Mapper};
use crate::mean::PriorMean;
use crate::objective::Objectives;
use crate::strategy::{Feasible, Strategy};

/// Which strategy, with its options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StrategySpec {
    /// Uniform random feasible points.
    Random,
    /// Full factorial grid; `levels[i]` levels for variable `i` (ignored for categorical ones).
    Grid {
        /// Levels per variable.
        levels: Vec<usize>,
    },
    /// Latin hypercube in stratified batches of `n`.
    LatinHypercube {
        /// Batch size.
        n: usize,
    },
    /// Scrambled Sobol sequence (`n` is the intended design size; asking more continues it).
    Sobol {
        /// Intended design size.
        n: usize,
    },
    /// GP Bayesian optimisation.
    Bayesian(BayesOptions),
    /// GP mapping of one measured value: an uncertainty-driven design (see `mapping.rs`);
    /// written `bayesian` with a map acquisition in a campaign.
    Map(MapOptions),
    /// Nelder–Mead simplex (no categorical variables, no pool).
    NelderMead(NelderMeadOptions),
    /// SNOBFIT-like local model + exploration (no pool).
    Snobfit(SnobfitOptions),
    /// CMA-ES (no categorical variables, no pool).
    Evolutionary(EvolutionOptions),
}

impl StrategySpec {
    /// Short name.
    pub fn name(&self) -> &'static str {
        match self {
            StrategySpec::Random => "random",
            StrategySpec::Grid { .. } => "grid",
            StrategySpec::LatinHypercube { .. } => "latin_hypercube",
            StrategySpec::Sobol { .. } => "sobol",
            StrategySpec::Bayesian(_) | StrategySpec::Map(_) => "bayesian",
            StrategySpec::NelderMead(_) => "nelder_mead",
            StrategySpec::Snobfit(_) => "snobfit",
            StrategySpec::Evolutionary(_) => "evolutionary",
        }
    }
}

/// Why `spec` cannot run on `domain` with `objectives`, in words a campaign author understands;
/// `Ok(())` when it can.
pub fn check_support(
    spec: &StrategySpec,
    domain: &Domain,
    objectives: &Objectives,
) -> std::result::Result<(), String> {
    let _ = objectives;
    match spec {
        StrategySpec::Random | StrategySpec::Sobol { .. } => Ok(()),
        StrategySpec::NelderMead(_) | StrategySpec::Evolutionary(_) | StrategySpec::Snobfit(_) => {
            let name = spec.name();
            if domain.pool().is_some() {
                return Err(format!(
                    "{name} proposes new points and cannot be restricted to a candidate pool; use bayesian or a design"
                ));
            }
            if !matches!(spec, StrategySpec::Snobfit(_))
                && let Some(v) = domain.variables().iter().find(|v| v.is_categorical())
            {
                return Err(format!(
                    "{name} cannot handle the categorical variable `{}`; use bayesian, snobfit or a design",
                    v.name()
                ));
            }
            Ok(())
        }
        StrategySpec::Bayesian(o) => {
            if o.initial.n == 0 {
                return Err("the initial design needs at least one point".into());
            }
            if let crate::acquisition::Acquisition::Ucb { beta } = o.acquisition
                && !(beta.is_finite() && beta > 0.0)
            {
                return Err("UCB needs a positive, finite beta".into());
            }
            Ok(())
        }
        StrategySpec::Map(o) => {
            if o.initial == 0 {
                return Err("the initial design needs at least one point".into());
            }
            Ok(())
        }
        StrategySpec::LatinHypercube { n } => {
            if *n == 0 {
                Err("a Latin hypercube needs a batch size of at least 1".into())
            } else {
                Ok(())
            }
        }
        StrategySpec::Grid { levels } => {
            if levels.len() != domain.dim() {
                return Err(format!(
                    "a grid needs a number of levels for each of the {} variables (got {})",
                    domain.dim(),
                    levels.len()
                ));
            }
            if !domain.compositions().is_empty() {
                return Err("a grid cannot satisfy a composition (sum-to-total) group; use sobol or latin_hypercube".into());
            }
            if domain.pool().is_some() {
                return Err("a grid's points need not be pool points; use sobol, latin_hypercube or random, which pick pool points".into());
            }
            for (v, &k) in domain.variables().iter().zip(levels) {
                if k == 0 && !matches!(v, Variable::Categorical { .. }) {
                    return Err(format!(
                        "variable `{}` needs at least one grid level",
                        v.name()
                    ));
                }
            }
            Ok(())
        }
    }
}

/// Builds the strategy described by `spec`; all its randomness comes from `seed`. Every
/// suggestion of the strategy is checked against the domain (constraints, pool) before it is
/// returned: one that breaks it is an [`OptimizeError::InfeasibleSuggestion`].
pub fn build(
    spec: &StrategySpec,
    domain: Arc<Domain>,
    objectives: Objectives,
    seed: u64,
) -> Result<Box<dyn Strategy>> {
    build_with_prior_mean(spec, domain, objectives, seed, None)
}

/// [`build`], with a prior mean for Bayesian optimisation's composite model (see
/// [`PriorMean`]); any other strategy with a prior mean is [`OptimizeError::Unsupported`].
pub fn build_with_prior_mean(
    spec: &StrategySpec,
    domain: Arc<Domain>,
    objectives: Objectives,
    seed: u64,
    prior_mean: Option<Arc<dyn PriorMean>>,
) -> Result<Box<dyn Strategy>> {
    if prior_mean.is_some() && !matches!(spec, StrategySpec::Bayesian(_)) {
        return Err(OptimizeError::Unsupported {
            strategy: spec.name(),
            reason: "a prior mean is a model's: only bayesian (not a map) takes one".into(),
        });
    }
    check_support(spec, &domain, &objectives).map_err(|reason| OptimizeError::Unsupported {
        strategy: spec.name(),
        reason,
    })?;
    let guard = Arc::clone(&domain);
    let inner: Box<dyn Strategy> = match spec {
        StrategySpec::Random => {
            Box::new(Design::new(DesignKind::Random, domain, objectives, seed)?)
        }
        StrategySpec::Grid { levels } => Box::new(Design::new(
            DesignKind::Grid {
                levels: levels.clone(),
            },
            domain,
            objectives,
            seed,
        )?),
        StrategySpec::LatinHypercube { n } => Box::new(Design::new(
            DesignKind::LatinHypercube { n: *n },
            domain,
            objectives,
            seed,
        )?),
        StrategySpec::Sobol { .. } => {
            Box::new(Design::new(DesignKind::Sobol, domain, objectives, seed)?)
        }
        StrategySpec::Bayesian(o) => {
            let b = Bayesian::new(o.clone(), domain, objectives, seed)?;
            Box::new(match prior_mean {
                Some(m) => b.with_prior_mean(m),
                None => b,
            })
        }
        StrategySpec::Map(o) => Box::new(Mapper::new(o.clone(), domain, objectives, seed)?),
        StrategySpec::NelderMead(o) => {
            Box::new(NelderMead::new(o.clone(), domain, objectives, seed)?)
        }
        StrategySpec::Snobfit(o) => Box::new(Snobfit::new(o.clone(), domain, objectives, seed)?),
        StrategySpec::Evolutionary(o) => Box::new(Cmaes::new(o.clone(), domain, objectives, seed)?),
    };
    Ok(Box::new(Feasible::new(inner, guard)))
}
