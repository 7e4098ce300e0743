//! Proxy values with their units.
//!
//! Invariant: `value` is finite. Constructors in this crate only build a [`Measured`] from a
//! finite number.

use serde::{Deserialize, Serialize};

use crate::error::{ProxyError, ProxyResult};

/// The unit a proxy value is expressed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxyUnit {
    /// Nanometres: wavelengths and widths.
    Nanometre,
    /// Decadic absorbance units.
    Absorbance,
    /// Detector counts times nanometres: the area under a counts or intensity spectrum.
    CountsNanometre,
    /// Absorbance times nanometres: the area under an absorbance spectrum.
    AbsorbanceNanometre,
    /// A pure number (a quantum yield, a ratio).
    Dimensionless,
}

impl ProxyUnit {
    /// The unit's symbol as qdx prints it.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Nanometre => "nm",
            Self::Absorbance => "AU",
            Self::CountsNanometre => "counts*nm",
            Self::AbsorbanceNanometre => "AU*nm",
            Self::Dimensionless => "1",
        }
    }
}

/// A proxy's value with its unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    pub value: f64,
    pub unit: ProxyUnit,
}

impl Measured {
    /// Wraps a finite value; a non-finite one means the computation broke down.
    pub(crate) fn new(value: f64, unit: ProxyUnit) -> ProxyResult<Self> {
        if value.is_finite() {
            Ok(Self { value, unit })
        } else {
            Err(ProxyError::InvalidArgument(format!(
                "the computation gave a non-finite value ({value})"
            )))
        }
    }
}

impl std::fmt::Display for Measured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.value, self.unit.symbol())
    }
}
