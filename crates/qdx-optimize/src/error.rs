//! Errors of the optimizer layer.
//!
//! Invariant: every fallible public function of this crate returns [`OptimizeError`]; no input
//! (NaN, empty domains, inconsistent points) makes the crate panic.

use thiserror::Error;

/// Everything that can go wrong when building a domain, scoring or suggesting.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum OptimizeError {
    /// The variables, constraints or pool do not describe a usable search space.
    #[error("invalid domain: {0}")]
    InvalidDomain(String),
    /// A point or observation does not fit the domain (wrong arity, type or range).
    #[error("invalid point: {0}")]
    InvalidPoint(String),
    /// The objectives are inconsistent (unknown name, bad weight or tolerance).
    #[error("invalid objectives: {0}")]
    InvalidObjectives(String),
    /// A strategy option is out of range.
    #[error("invalid option for {strategy}: {reason}")]
    InvalidOption {
        /// Strategy name.
        strategy: &'static str,
        /// Human-readable reason.
        reason: String,
    },
    /// The strategy cannot work on this domain (e.g. Nelder–Mead with categorical variables).
    #[error("strategy {strategy} cannot handle this domain: {reason}")]
    Unsupported {
        /// Strategy name.
        strategy: &'static str,
        /// Human-readable reason.
        reason: String,
    },
    /// No point satisfying every constraint could be found.
    #[error("no feasible point found after {attempts} attempts; the constraints may leave no room")]
    Infeasible {
        /// Number of candidates tried.
        attempts: usize,
    },
    /// A strategy suggested a point that breaks a constraint or is not a pool point. This is a
    /// defect of the strategy, caught before the point can reach a lab.
    #[error("{strategy} suggested a point it must not: {reason}")]
    InfeasibleSuggestion {
        /// Strategy name.
        strategy: &'static str,
        /// What the point breaks.
        reason: String,
    },
    /// A numerical routine failed (e.g. a covariance matrix that stays indefinite).
    #[error("numerical failure: {0}")]
    Numerical(String),
    /// Prior data (CSV warm start) could not be read.
    #[error("prior data: {0}")]
    PriorData(String),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, OptimizeError>;
