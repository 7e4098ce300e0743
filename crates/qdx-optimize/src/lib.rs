//! Experiment design and optimisation strategies for qdx: designs (random, grid, Latin
//! hypercube, scrambled Sobol), objectives (targets, desirability, Pareto and hypervolume) and the
//! ask/tell [`Strategy`] interface the runtime drives.
//!
//! Invariants shared by every module: values are in campaign units; every suggestion is feasible;
//! all randomness comes from the seed given to [`build`]; nothing panics on any input.

mod acquisition;
mod bayes;
mod composite;
mod design;
mod domain;
mod ensemble;
mod error;
mod failures;
mod forest;
mod gp;
mod lbfgs;
mod learned;
mod linalg;
mod local;
mod mapping;
mod mean;
mod objective;
mod observation;
pub mod pareto;
mod prior;
pub mod problems;
pub mod ramp;
mod sobol;
mod spec;
mod strategy;
mod surrogate;
mod warp;

pub use acquisition::Acquisition;
pub use bayes::{
    BayesModel, BayesOptions, Bayesian, FailureHandling, InitialDesign, InitialKind, Kernel,
};
pub use design::{Design, DesignKind};
pub use domain::{
    CompositionGroup, ConstraintFn, Domain, LinearConstraint, NonlinearConstraint, Point, Relation,
    Value, Variable,
};
pub use error::{OptimizeError, Result};
pub use failures::FailureChoice;
pub use learned::BayesSurrogate;
pub use local::{Cmaes, EvolutionOptions, NelderMead, NelderMeadOptions, Snobfit, SnobfitOptions};
pub use mapping::{
    MapAcquisition, MapModel, MapOptions, MapUncertainty, Mapper, REFERENCE_POINTS, mapped_values,
    reference_set,
};
pub use mean::PriorMean;
pub use objective::{Combine, Condition, Goal, Objective, Objectives, Score};
pub use observation::{Explanation, Observation, Outcome, PriorMeanRecord, Suggestion};
pub use prior::read_prior_csv;
pub use ramp::{RampChoice, RampPath, RampSearch};
pub use sobol::Sobol;
pub use spec::{StrategySpec, build, build_with_prior_mean, check_support};
pub use strategy::Strategy;
pub use surrogate::{Prediction, Surrogate};
