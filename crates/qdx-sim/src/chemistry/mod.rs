//! Chemistry models: from the conditions a fluid element saw to what it holds.
//!
//! Spectral models ([`CsPbX3HalideExchange`], [`CsFaPbX3Synthesis`], [`CdSeGrowth`]) map the mix (per-pump volume
//! fractions), the residence time in the reactor coils and the coils' actual mean temperature
//! to [`Population`]s that the simulated spectrometers see. Direct models ([`TableModel`],
//! [`ScriptModel`]) map the campaign's variables to named readings, without spectra.
//!
//! Parameters: every spectral model publishes its parameters ([`ParamSpec`]: name, SI unit,
//! default from physics.md, accepted range) through [`params_schema`], so the validator can
//! check a `simulate` block before anything runs; overrides come as a name → SI value map.
//!
//! Invariant: a bound model only refers to pumps that exist, and every model output is finite.

pub mod cdse;
pub mod csfa;
pub mod cspbx3;
pub mod yu;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use cdse::{CdSeGrowth, CdSeInputs, CdSeOutcome, CdSeRoles};
pub use csfa::{CsFaInputs, CsFaOutcome, CsFaPbX3Synthesis, CsFaRoles};
pub use cspbx3::{
    CsPbX3HalideExchange, CsPbX3Inputs, CsPbX3Outcome, CsPbX3Roles, Halide, HalideSource,
};

use crate::config::PumpConfig;
use crate::error::{SimError, SimResult};
use crate::optics::Population;
use crate::script::{ScriptConfig, ScriptModel};
use crate::table::{TableConfig, TableModel};

/// The molar gas constant, J/(mol·K).
pub const GAS_CONSTANT: f64 = 8.314_462_618;

/// One model parameter as a `simulate` block may set it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ParamSpec {
    pub name: &'static str,
    /// SI unit symbol of the value (`1` for dimensionless).
    pub unit: &'static str,
    pub default: f64,
    pub min: f64,
    pub max: f64,
    pub doc: &'static str,
}

/// Resolves overrides against a schema: unknown names and out-of-range values are errors.
/// Returns the values in schema order.
pub(crate) fn resolve_params(
    model: &'static str,
    schema: &[ParamSpec],
    overrides: &BTreeMap<String, f64>,
) -> SimResult<Vec<f64>> {
    for name in overrides.keys() {
        if !schema.iter().any(|p| p.name == name) {
            return Err(SimError::UnknownParameter {
                model,
                name: name.clone(),
                known: schema.iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
            });
        }
    }
    schema
        .iter()
        .map(|p| {
            let value = overrides.get(p.name).copied().unwrap_or(p.default);
            if value.is_finite() && value >= p.min && value <= p.max {
                Ok(value)
            } else {
                Err(SimError::ParameterOutOfRange {
                    model,
                    name: p.name.to_string(),
                    value,
                    unit: p.unit,
                    min: p.min,
                    max: p.max,
                })
            }
        })
        .collect()
}

/// Campaign names of the spectral models (`simulate <name> { … }`).
pub const SPECTRAL_MODELS: [&str; 3] = [
    CsPbX3HalideExchange::NAME,
    CsFaPbX3Synthesis::NAME,
    CdSeGrowth::NAME,
];

/// The parameter schema of a spectral model by its campaign name
/// (`cspbx3_halide_exchange`, `csfa_pbx3_synthesis`, `cdse_growth`); `None` for other names.
pub fn params_schema(model: &str) -> Option<&'static [ParamSpec]> {
    match model {
        CsPbX3HalideExchange::NAME => Some(cspbx3::SCHEMA),
        CsFaPbX3Synthesis::NAME => Some(csfa::SCHEMA),
        CdSeGrowth::NAME => Some(cdse::SCHEMA),
        _ => None,
    }
}

/// Which model the simulated lab runs, and its settings. Plain data for the lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "model")]
pub enum ChemistryConfig {
    /// Nothing reacts: the cell holds solvent (device-only runs).
    Blank,
    Cspbx3HalideExchange {
        roles: CsPbX3Roles,
        #[serde(default)]
        params: BTreeMap<String, f64>,
    },
    /// Direct synthesis of (Cs/FA)Pb(Br/I)3 nanocrystals from Cs, FA and PbX2 streams.
    CsfaPbx3Synthesis {
        roles: CsFaRoles,
        #[serde(default)]
        params: BTreeMap<String, f64>,
    },
    CdseGrowth {
        roles: CdSeRoles,
        #[serde(default)]
        params: BTreeMap<String, f64>,
    },
    Table(TableConfig),
    Script(ScriptConfig),
}

/// What a fluid element saw, as a spectral model receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Conditions {
    /// Volume fraction of each pump's stream in the mix (configuration order; sums to 1).
    pub fractions: Vec<f64>,
    /// Total flow when it entered, m³/s.
    pub total_flow: f64,
    /// Time spent in the reactor coils, s.
    pub residence_s: f64,
    /// Mean coil temperature over that time, K.
    pub temperature_k: f64,
}

/// A campaign role resolved to the pumps whose stock plays it.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct RoleBinding {
    /// (pump index, stock concentration mol/m³)
    pumps: Vec<(usize, f64)>,
}

impl RoleBinding {
    pub(crate) fn bind(stock: &str, pumps: &[PumpConfig]) -> SimResult<Self> {
        let bound: Vec<(usize, f64)> = pumps
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                p.stock
                    .as_ref()
                    .filter(|s| s.name == stock)
                    .map(|s| (i, s.concentration))
            })
            .collect();
        if bound.is_empty() {
            return Err(SimError::UnknownStock(stock.to_string()));
        }
        Ok(Self { pumps: bound })
    }

    /// Concentration of the role's species in the mix, mol/m³.
    pub(crate) fn concentration(&self, fractions: &[f64]) -> f64 {
        self.pumps
            .iter()
            .map(|(i, c)| fractions.get(*i).copied().unwrap_or(0.0) * c)
            .sum()
    }

    /// Volume fraction of the role's streams in the mix.
    pub(crate) fn fraction(&self, fractions: &[f64]) -> f64 {
        self.pumps
            .iter()
            .map(|(i, _)| fractions.get(*i).copied().unwrap_or(0.0))
            .sum()
    }
}

/// A model bound to the lab's pumps.
#[derive(Debug)]
pub(crate) enum BoundChemistry {
    Blank,
    CsPbX3(Box<cspbx3::Bound>),
    CsFa(Box<csfa::Bound>),
    CdSe(Box<cdse::Bound>),
    Table(Box<TableModel>),
    Script(Box<ScriptModel>),
}

impl BoundChemistry {
    pub(crate) fn bind(config: &ChemistryConfig, pumps: &[PumpConfig]) -> SimResult<Self> {
        Ok(match config {
            ChemistryConfig::Blank => Self::Blank,
            ChemistryConfig::Cspbx3HalideExchange { roles, params } => Self::CsPbX3(Box::new(
                cspbx3::Bound::new(CsPbX3HalideExchange::new(params)?, roles, pumps)?,
            )),
            ChemistryConfig::CsfaPbx3Synthesis { roles, params } => Self::CsFa(Box::new(
                csfa::Bound::new(CsFaPbX3Synthesis::new(params)?, roles, pumps)?,
            )),
            ChemistryConfig::CdseGrowth { roles, params } => Self::CdSe(Box::new(
                cdse::Bound::new(CdSeGrowth::new(params)?, roles, pumps)?,
            )),
            ChemistryConfig::Table(t) => Self::Table(Box::new(TableModel::load(t)?)),
            ChemistryConfig::Script(s) => Self::Script(Box::new(ScriptModel::load(s)?)),
        })
    }

    /// Populations made under `conditions`; empty for blank and direct models.
    pub(crate) fn populations(&self, conditions: &Conditions) -> Vec<Population> {
        match self {
            Self::CsPbX3(m) => m.populations(conditions),
            Self::CsFa(m) => m.populations(conditions),
            Self::CdSe(m) => m.populations(conditions),
            Self::Blank | Self::Table(_) | Self::Script(_) => Vec::new(),
        }
    }
}

/// Arrhenius factor `exp(−Ea/R·(1/T − 1/T_ref))`.
pub(crate) fn arrhenius(ea: f64, t: f64, t_ref: f64) -> f64 {
    if !(t > 0.0 && t_ref > 0.0) {
        return 0.0;
    }
    (-(ea / GAS_CONSTANT) * (1.0 / t - 1.0 / t_ref)).exp()
}

/// Logistic step from 0 to 1 centred at 0 with scale `width`.
pub(crate) fn logistic(x: f64, width: f64) -> f64 {
    1.0 / (1.0 + (-x / width.max(1e-12)).exp())
}
