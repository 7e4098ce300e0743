//! Direct readings: what table and script models yield instead of spectra, and the one
//! "measure now" question the runtime asks the simulated lab.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use qdx_spectra::Spectrum;

/// A value of a campaign variable given to a direct model: a number (SI, as the campaign's
/// units convert it, or the table's own unit) or a categorical level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InputValue {
    Number(f64),
    Text(String),
}

impl std::fmt::Display for InputValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(v) => write!(f, "{v}"),
            Self::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// Named input values of one experiment.
pub type Inputs = BTreeMap<String, InputValue>;

/// Named numbers a direct model reports.
pub type Readings = BTreeMap<String, f64>;

/// What the simulated lab's chemistry yields when measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeasurementKind {
    /// Spectra from the simulated spectrometers (CsPbX3, CdSe, blank).
    Spectra,
    /// Named readings, no spectra (table and script models); the output names.
    Readings { outputs: Vec<String> },
}

/// One "measure now" request.
#[derive(Debug, Clone, PartialEq)]
pub enum MeasureRequest<'a> {
    /// Acquire these spectra, in order, on one spectrometer.
    Spectra {
        spectrometer: &'a str,
        acquisitions: &'a [qdx_lab::AcquireRequest],
    },
    /// Ask a direct model for its readings at these inputs.
    Readings { inputs: &'a Inputs },
}

/// The answer to a [`MeasureRequest`].
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    Spectra(Vec<Spectrum>),
    Values(Readings),
}
