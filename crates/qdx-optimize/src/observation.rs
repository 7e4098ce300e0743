//! Observations told to a strategy and suggestions returned by it.
//!
//! Invariant: an [`Outcome::Measured`] maps objective (or proxy) names to finite or non-finite
//! values; non-finite values are treated as a failure of that experiment by the scoring code, so
//! a NaN never reaches a surrogate model.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::Point;
use crate::failures::FailureChoice;

/// The result of one experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// Measured objective and proxy values, by name.
    Measured(BTreeMap<String, f64>),
    /// The experiment failed outright (no product, no emission, instrument fault…).
    Failed {
        /// Why, for the bundle.
        reason: String,
    },
}

impl Outcome {
    /// A measured outcome with a single named value.
    pub fn single(name: &str, value: f64) -> Self {
        Outcome::Measured(BTreeMap::from([(name.to_string(), value)]))
    }
}

/// A point and what was observed there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Where.
    pub point: Point,
    /// What.
    pub outcome: Outcome,
}

/// Why a strategy proposed a point, for the bundle's `optimizer/` folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Explanation {
    /// Strategy name (`random`, `sobol`, `bayesian`, …).
    pub strategy: String,
    /// Phase inside the strategy (`initial design`, `model`, `simplex reflect`, …).
    pub phase: String,
    /// What a model-based strategy modelled: `score` (one model of the combined score) or
    /// `composite` (one model per measured value, pushed through the score).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The surrogate that made a model-based suggestion: `gp`, `extra_trees` or `nn_ensemble`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surrogate: Option<String>,
    /// Predicted utility (the scalar being maximised) at the point, if a model exists.
    pub predicted_mean: Option<f64>,
    /// Predicted standard deviation of the utility.
    pub predicted_sd: Option<f64>,
    /// Acquisition value (log EI, UCB, …) at the point.
    pub acquisition: Option<f64>,
    /// Predicted probability that the experiment succeeds (feasibility model).
    pub feasibility: Option<f64>,
    /// With `failures auto` and failures among the observations: the treatment of failures
    /// this suggestion's model used and the evidence for it (see `failures.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<FailureChoice>,
    /// A transient campaign's suggestion with a chosen ramp (see `ramp.rs`): where it starts
    /// and ends and its score. Absent: the declared ramp runs (the initial design, a strategy
    /// or model that does not choose ramps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp: Option<crate::ramp::RampChoice>,
    /// Free-form numeric details (model hyperparameters, scalarisation weights, …), sorted.
    pub details: BTreeMap<String, f64>,
    /// The prior mean of a model-based suggestion, when the campaign gave one (see `mean.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior_mean: Option<PriorMeanRecord>,
}

/// Whether a suggestion's model used its prior mean, and the fitted parameters it used: with
/// the observations before the suggestion, enough to compute the mean again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PriorMeanRecord {
    /// The fitted model's name (the `fit` block).
    pub fit: String,
    /// Whether the values' models were fitted to residuals from it.
    pub used: bool,
    /// The measured values it predicts.
    pub values: Vec<String>,
    /// The parameters' estimates it used, SI, by name; empty when it was not used.
    pub parameters: BTreeMap<String, f64>,
    /// The observed values the fit saw.
    pub observations: usize,
    /// Why it was not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A proposed experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// The point to run.
    pub point: Point,
    /// Why.
    pub explain: Explanation,
}
