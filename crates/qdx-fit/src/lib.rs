//! Kinetic model fitting for qdx's `fit` blocks: integrating a model's ODEs
//! ([`ode::integrate`], Dormand-Prince 5(4) from `ode_solvers`), fitting its parameters to
//! observations within bounds ([`fit::fit`], Levenberg-Marquardt from `levenberg-marquardt`)
//! and their uncertainties (covariance, standard errors, correlations).
//!
//! The crate knows nothing of the language: a [`fit::Model`] is any right-hand side, initial
//! state and observation function over SI numbers; the `qdx` crate builds one from a
//! validated `fit` block.

pub mod fit;
pub mod ode;

pub use fit::{
    Convergence, Fit, FitError, FitSettings, Model, Observation, Parameter, fit, predict,
};
pub use ode::{OdeError, OdeSettings, integrate};
