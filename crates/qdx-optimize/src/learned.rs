//! The surrogates of Bayesian optimisation other than the GP — extra-trees (`forest.rs`) and a
//! neural-network ensemble (`ensemble.rs`) — behind one type, and [`Regressor`], a GP or one of
//! them, for the composite model's per-value models.
//!
//! Invariants: a learned surrogate's [`Prediction`] has the GP's form (latent mean and variance
//! of the standardised target) with zero gradients, so the same acquisition functions apply; it
//! is refitted, not updated, for a fantasy observation (the kriging believer), from the seed it
//! was fitted with, so replaying the same tells gives the same suggestions.

use serde::{Deserialize, Serialize};

use crate::ensemble::Ensemble;
use crate::error::Result;
use crate::forest::Forest;
use crate::gp::{Gp, Prediction};

/// Which surrogate Bayesian optimisation fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum BayesSurrogate {
    /// A Gaussian process (the kernel is [`crate::Kernel`]).
    #[default]
    Gp,
    /// Extremely randomised trees; uncertainty from the spread of the trees.
    ExtraTrees,
    /// An ensemble of small neural networks; uncertainty from the spread of the members.
    NnEnsemble,
}

impl BayesSurrogate {
    /// The name used in the language and in `explain.surrogate`.
    pub fn name(self) -> &'static str {
        match self {
            BayesSurrogate::Gp => "gp",
            BayesSurrogate::ExtraTrees => "extra_trees",
            BayesSurrogate::NnEnsemble => "nn_ensemble",
        }
    }
}

/// A fitted extra-trees forest or network ensemble.
#[derive(Debug, Clone)]
pub(crate) enum Learned {
    Forest(Forest),
    Ensemble(Ensemble),
}

impl Learned {
    /// Fits `kind` (`None` for [`BayesSurrogate::Gp`], which is not a learned surrogate).
    pub fn fit(
        kind: BayesSurrogate,
        x: &[Vec<f64>],
        y: &[f64],
        levels: &[Option<usize>],
        seed: u64,
    ) -> Option<Self> {
        match kind {
            BayesSurrogate::Gp => None,
            BayesSurrogate::ExtraTrees => Some(Learned::Forest(Forest::fit(x, y, levels, seed))),
            BayesSurrogate::NnEnsemble => {
                Some(Learned::Ensemble(Ensemble::fit(x, y, levels, seed)))
            }
        }
    }

    /// Mean and variance at `x`, gradients zero (of `x`'s length when `grad`).
    pub fn predict(&self, x: &[f64], grad: bool) -> Prediction {
        let (mean, var) = match self {
            Learned::Forest(f) => f.predict(x),
            Learned::Ensemble(e) => e.predict(x),
        };
        let zeros = if grad { vec![0.0; x.len()] } else { Vec::new() };
        Prediction {
            mean,
            var,
            dmean: zeros.clone(),
            dvar: zeros,
        }
    }

    /// Refitted with one more observation.
    pub fn with_point(&self, x: &[f64], y: f64) -> Self {
        match self {
            Learned::Forest(f) => Learned::Forest(f.with_point(x, y)),
            Learned::Ensemble(e) => Learned::Ensemble(e.with_point(x, y)),
        }
    }

    /// Importance of each variable, summing to 1 (see the two modules for how).
    pub fn importances(&self) -> &[f64] {
        match self {
            Learned::Forest(f) => f.importances(),
            Learned::Ensemble(e) => e.importances(),
        }
    }

    /// The training inputs (fantasies included).
    pub fn inputs(&self) -> &[Vec<f64>] {
        match self {
            Learned::Forest(f) => f.inputs(),
            Learned::Ensemble(e) => e.inputs(),
        }
    }
}

/// A GP or a learned surrogate of one standardised value.
#[derive(Debug, Clone)]
pub(crate) enum Regressor {
    Gp(Gp),
    Learned(Learned),
}

impl Regressor {
    pub fn predict(&self, x: &[f64], grad: bool) -> Prediction {
        match self {
            Regressor::Gp(g) => g.predict(x, grad),
            Regressor::Learned(l) => l.predict(x, grad),
        }
    }

    /// Kriging believer: the model with a fantasy observation `y` at `x`.
    pub fn with_point(&self, x: &[f64], y: f64) -> Result<Self> {
        Ok(match self {
            Regressor::Gp(g) => Regressor::Gp(g.with_point(x, y)?),
            Regressor::Learned(l) => Regressor::Learned(l.with_point(x, y)),
        })
    }
}
