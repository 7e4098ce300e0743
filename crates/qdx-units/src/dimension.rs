//! Physical dimensions as integer exponents over the SI base dimensions qdx needs.
//!
//! Invariant: a [`Dimension`] is exactly its five exponents (length, mass, time, amount of
//! substance, thermodynamic temperature); two quantities are commensurable iff their dimensions
//! are equal. Exponent arithmetic is checked: an overflow is an error, never a wrap or a panic.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::UnitError;
use crate::suggest;

/// Exponents over the base dimensions: length (m), mass (kg), time (s), amount of substance (mol)
/// and thermodynamic temperature (K).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dimension {
    length: i8,
    mass: i8,
    time: i8,
    amount: i8,
    temperature: i8,
}

/// A named dimension: how it reads to a chemist and an example value for hints.
struct Named {
    dimension: Dimension,
    name: &'static str,
    /// The noun with its article, for "expected a flow rate".
    with_article: &'static str,
    example: &'static str,
}

impl Dimension {
    /// A plain number: ratios, fractions, percentages, counts.
    pub const DIMENSIONLESS: Dimension = Dimension::new(0, 0, 0, 0, 0);
    /// Length, also wavelength (m).
    pub const LENGTH: Dimension = Dimension::new(1, 0, 0, 0, 0);
    /// Area (m²).
    pub const AREA: Dimension = Dimension::new(2, 0, 0, 0, 0);
    /// Volume (m³).
    pub const VOLUME: Dimension = Dimension::new(3, 0, 0, 0, 0);
    /// Mass (kg).
    pub const MASS: Dimension = Dimension::new(0, 1, 0, 0, 0);
    /// Time (s).
    pub const TIME: Dimension = Dimension::new(0, 0, 1, 0, 0);
    /// Frequency (1/s).
    pub const FREQUENCY: Dimension = Dimension::new(0, 0, -1, 0, 0);
    /// Amount of substance (mol).
    pub const AMOUNT: Dimension = Dimension::new(0, 0, 0, 1, 0);
    /// Thermodynamic temperature (K), absolute or a difference (see `Interpretation`).
    pub const TEMPERATURE: Dimension = Dimension::new(0, 0, 0, 0, 1);
    /// Volumetric flow rate, volume / time (m³/s).
    pub const FLOW_RATE: Dimension = Dimension::new(3, 0, -1, 0, 0);
    /// Molar concentration, amount / volume (mol/m³).
    pub const CONCENTRATION: Dimension = Dimension::new(-3, 0, 0, 1, 0);
    /// Mass concentration, mass / volume (kg/m³).
    pub const MASS_CONCENTRATION: Dimension = Dimension::new(-3, 1, 0, 0, 0);
    /// Molar mass, mass / amount (kg/mol).
    pub const MOLAR_MASS: Dimension = Dimension::new(0, 1, 0, -1, 0);
    /// Pressure, force / area (Pa = kg·m⁻¹·s⁻²).
    pub const PRESSURE: Dimension = Dimension::new(-1, 1, -2, 0, 0);
    /// Speed (m/s).
    pub const VELOCITY: Dimension = Dimension::new(1, 0, -1, 0, 0);
    /// Rate of temperature change, e.g. a heating ramp (K/s).
    pub const HEATING_RATE: Dimension = Dimension::new(0, 0, -1, 0, 1);
    /// Inverse length: the scattering vector q of SAXS (1/m; written `1/nm`).
    pub const SCATTERING_VECTOR: Dimension = Dimension::new(-1, 0, 0, 0, 0);
    /// Area per time: a diffusion or dispersion coefficient (m²/s; written `mm^2/s`).
    pub const DIFFUSIVITY: Dimension = Dimension::new(2, 0, -1, 0, 0);

    /// Builds a dimension from its exponents (length, mass, time, amount, temperature).
    #[must_use]
    pub const fn new(length: i8, mass: i8, time: i8, amount: i8, temperature: i8) -> Dimension {
        Dimension {
            length,
            mass,
            time,
            amount,
            temperature,
        }
    }

    /// Exponents in the order length, mass, time, amount, temperature.
    #[must_use]
    pub const fn exponents(self) -> [i8; 5] {
        [
            self.length,
            self.mass,
            self.time,
            self.amount,
            self.temperature,
        ]
    }

    /// Builds a dimension from exponents in the order of [`Dimension::exponents`].
    #[must_use]
    pub const fn from_exponents(e: [i8; 5]) -> Dimension {
        Dimension::new(e[0], e[1], e[2], e[3], e[4])
    }

    /// True for a plain number.
    #[must_use]
    pub fn is_dimensionless(self) -> bool {
        self == Dimension::DIMENSIONLESS
    }

    /// The dimension of a product.
    ///
    /// # Errors
    /// [`UnitError::ExponentOverflow`] when an exponent leaves the `i8` range.
    #[expect(
        clippy::should_implement_trait,
        reason = "fallible on exponent overflow, which the operator traits cannot report"
    )]
    pub fn mul(self, other: Dimension) -> Result<Dimension, UnitError> {
        self.zip(other, i8::checked_add)
    }

    /// The dimension of a quotient.
    ///
    /// # Errors
    /// [`UnitError::ExponentOverflow`] when an exponent leaves the `i8` range.
    #[expect(
        clippy::should_implement_trait,
        reason = "fallible on exponent overflow, which the operator traits cannot report"
    )]
    pub fn div(self, other: Dimension) -> Result<Dimension, UnitError> {
        self.zip(other, i8::checked_sub)
    }

    /// The dimension of an integer power.
    ///
    /// # Errors
    /// [`UnitError::ExponentOverflow`] when an exponent leaves the `i8` range.
    pub fn powi(self, n: i32) -> Result<Dimension, UnitError> {
        let mut out = [0_i8; 5];
        for (slot, e) in out.iter_mut().zip(self.exponents()) {
            let product = i32::from(e)
                .checked_mul(n)
                .ok_or(UnitError::ExponentOverflow)?;
            *slot = i8::try_from(product).map_err(|_| UnitError::ExponentOverflow)?;
        }
        Ok(Dimension::from_exponents(out))
    }

    /// The dimension of the reciprocal.
    ///
    /// # Errors
    /// [`UnitError::ExponentOverflow`] for an exponent of `-128`.
    pub fn recip(self) -> Result<Dimension, UnitError> {
        Dimension::DIMENSIONLESS.div(self)
    }

    fn zip(self, other: Dimension, op: fn(i8, i8) -> Option<i8>) -> Result<Dimension, UnitError> {
        let (a, b) = (self.exponents(), other.exponents());
        let mut out = [0_i8; 5];
        for ((slot, x), y) in out.iter_mut().zip(a).zip(b) {
            *slot = op(x, y).ok_or(UnitError::ExponentOverflow)?;
        }
        Ok(Dimension::from_exponents(out))
    }

    /// The chemist's name of this dimension ("flow rate", "volume", ...) when it has one.
    #[must_use]
    pub fn name(self) -> Option<&'static str> {
        named(self).map(|n| n.name)
    }

    /// A typical value written with a typical unit, for hints ("10 uL/min" for a flow rate).
    #[must_use]
    pub fn example(self) -> Option<&'static str> {
        named(self).map(|n| n.example)
    }

    /// A phrase for diagnostics: "a flow rate, e.g. 10 uL/min", or "a quantity in m³·s⁻²".
    #[must_use]
    pub fn hint(self) -> String {
        match named(self) {
            Some(n) => format!("{}, e.g. {}", n.with_article, n.example),
            None => format!("a quantity in {}", self.si_symbol()),
        }
    }

    /// The SI exponent form, e.g. `m³·s⁻¹`, `kg·m⁻¹·s⁻²`; `1` when dimensionless.
    ///
    /// The text parses back with `Unit::parse` to the coherent SI unit of this dimension.
    #[must_use]
    pub fn si_symbol(self) -> String {
        const SYMBOLS: [&str; 5] = ["m", "kg", "s", "mol", "K"];
        let parts: Vec<String> = SYMBOLS
            .iter()
            .zip(self.exponents())
            .filter(|&(_, e)| e != 0)
            .map(|(sym, e)| {
                if e == 1 {
                    (*sym).to_owned()
                } else {
                    format!("{sym}{}", superscript(e))
                }
            })
            .collect();
        if parts.is_empty() {
            "1".to_owned()
        } else {
            parts.join("·")
        }
    }

    /// The dimension for one of the language's variable kinds or a dimension name: `time`,
    /// `temperature`, `flow_rate` (or `flow rate`), `volume`, `concentration`, `pressure`,
    /// `length`, `wavelength`, `ratio`, `fraction`, `dimensionless`, `mass`, `amount`,
    /// `frequency`, `area`, `molar_mass`, `mass_concentration`, `velocity`, `heating_rate`.
    ///
    /// # Errors
    /// [`UnitError::UnknownDimension`] with the closest known name as a suggestion.
    pub fn from_name(name: &str) -> Result<Dimension, UnitError> {
        let key = name.trim().replace(' ', "_");
        KIND_NAMES
            .iter()
            .find(|(n, _)| *n == key)
            .map(|&(_, d)| d)
            .ok_or_else(|| UnitError::UnknownDimension {
                name: name.to_owned(),
                suggestion: suggest::closest(&key, KIND_NAMES.iter().map(|(n, _)| *n))
                    .map(str::to_owned),
            })
    }

    /// Every name [`Dimension::from_name`] accepts, in a stable order.
    pub fn kind_names() -> impl Iterator<Item = &'static str> {
        KIND_NAMES.iter().map(|(n, _)| *n)
    }
}

/// Names accepted by [`Dimension::from_name`] (the language's variable kinds first).
const KIND_NAMES: &[(&str, Dimension)] = &[
    ("time", Dimension::TIME),
    ("temperature", Dimension::TEMPERATURE),
    ("flow_rate", Dimension::FLOW_RATE),
    ("volume", Dimension::VOLUME),
    ("concentration", Dimension::CONCENTRATION),
    ("pressure", Dimension::PRESSURE),
    ("length", Dimension::LENGTH),
    ("wavelength", Dimension::LENGTH),
    ("ratio", Dimension::DIMENSIONLESS),
    ("fraction", Dimension::DIMENSIONLESS),
    ("dimensionless", Dimension::DIMENSIONLESS),
    ("mass", Dimension::MASS),
    ("amount", Dimension::AMOUNT),
    ("frequency", Dimension::FREQUENCY),
    ("area", Dimension::AREA),
    ("molar_mass", Dimension::MOLAR_MASS),
    ("mass_concentration", Dimension::MASS_CONCENTRATION),
    ("velocity", Dimension::VELOCITY),
    ("heating_rate", Dimension::HEATING_RATE),
    ("scattering_vector", Dimension::SCATTERING_VECTOR),
];

const NAMED: &[Named] = &[
    Named {
        dimension: Dimension::DIFFUSIVITY,
        name: "diffusivity",
        with_article: "a diffusion coefficient",
        example: "1 mm^2/s",
    },
    Named {
        dimension: Dimension::DIMENSIONLESS,
        name: "dimensionless",
        with_article: "a plain number",
        example: "0.5",
    },
    Named {
        dimension: Dimension::LENGTH,
        name: "length",
        with_article: "a length",
        example: "365 nm",
    },
    Named {
        dimension: Dimension::AREA,
        name: "area",
        with_article: "an area",
        example: "1 mm^2",
    },
    Named {
        dimension: Dimension::VOLUME,
        name: "volume",
        with_article: "a volume",
        example: "250 uL",
    },
    Named {
        dimension: Dimension::MASS,
        name: "mass",
        with_article: "a mass",
        example: "5 mg",
    },
    Named {
        dimension: Dimension::TIME,
        name: "time",
        with_article: "a time",
        example: "30 s",
    },
    Named {
        dimension: Dimension::FREQUENCY,
        name: "frequency",
        with_article: "a frequency",
        example: "10 Hz",
    },
    Named {
        dimension: Dimension::AMOUNT,
        name: "amount of substance",
        with_article: "an amount of substance",
        example: "2 mmol",
    },
    Named {
        dimension: Dimension::TEMPERATURE,
        name: "temperature",
        with_article: "a temperature",
        example: "25 degC",
    },
    Named {
        dimension: Dimension::FLOW_RATE,
        name: "flow rate",
        with_article: "a flow rate",
        example: "10 uL/min",
    },
    Named {
        dimension: Dimension::CONCENTRATION,
        name: "concentration",
        with_article: "a concentration",
        example: "0.05 mol/L",
    },
    Named {
        dimension: Dimension::MASS_CONCENTRATION,
        name: "mass concentration",
        with_article: "a mass concentration",
        example: "2 mg/mL",
    },
    Named {
        dimension: Dimension::MOLAR_MASS,
        name: "molar mass",
        with_article: "a molar mass",
        example: "180 g/mol",
    },
    Named {
        dimension: Dimension::PRESSURE,
        name: "pressure",
        with_article: "a pressure",
        example: "2 bar",
    },
    Named {
        dimension: Dimension::VELOCITY,
        name: "velocity",
        with_article: "a velocity",
        example: "5 mm/s",
    },
    Named {
        dimension: Dimension::HEATING_RATE,
        name: "heating rate",
        with_article: "a heating rate",
        example: "5 degC/min",
    },
    Named {
        dimension: Dimension::SCATTERING_VECTOR,
        name: "scattering vector",
        with_article: "a scattering vector",
        example: "0.5 nm^-1",
    },
];

fn named(d: Dimension) -> Option<&'static Named> {
    NAMED.iter().find(|n| n.dimension == d)
}

/// Unicode superscript form of an exponent (`-2` → `⁻²`).
pub(crate) fn superscript(e: i8) -> String {
    let mut out = String::new();
    if e < 0 {
        out.push('⁻');
    }
    for c in e.unsigned_abs().to_string().chars() {
        out.push(match c {
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            _ => '⁹',
        });
    }
    out
}

impl fmt::Display for Dimension {
    /// The chemist's name when there is one, else the SI exponent form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => f.write_str(&self.si_symbol()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algebra_matches_chemistry() {
        let flow = Dimension::VOLUME.div(Dimension::TIME).unwrap();
        assert_eq!(flow, Dimension::FLOW_RATE);
        let residence = Dimension::VOLUME.div(Dimension::FLOW_RATE).unwrap();
        assert_eq!(residence, Dimension::TIME);
        let conc = Dimension::AMOUNT.div(Dimension::VOLUME).unwrap();
        assert_eq!(conc, Dimension::CONCENTRATION);
        assert_eq!(Dimension::LENGTH.powi(3).unwrap(), Dimension::VOLUME);
        assert_eq!(Dimension::TIME.recip().unwrap(), Dimension::FREQUENCY);
        assert_eq!(
            Dimension::CONCENTRATION.mul(Dimension::VOLUME).unwrap(),
            Dimension::AMOUNT
        );
        assert_eq!(Dimension::VOLUME.powi(0).unwrap(), Dimension::DIMENSIONLESS);
    }

    #[test]
    fn overflow_is_an_error() {
        assert_eq!(
            Dimension::LENGTH.powi(200),
            Err(UnitError::ExponentOverflow)
        );
        assert_eq!(
            Dimension::LENGTH.powi(i32::MIN),
            Err(UnitError::ExponentOverflow)
        );
        let big = Dimension::new(127, 0, 0, 0, 0);
        assert_eq!(big.mul(Dimension::LENGTH), Err(UnitError::ExponentOverflow));
        assert_eq!(
            Dimension::new(-128, 0, 0, 0, 0).recip(),
            Err(UnitError::ExponentOverflow)
        );
    }

    #[test]
    fn display_names_and_exponent_form() {
        assert_eq!(Dimension::FLOW_RATE.to_string(), "flow rate");
        assert_eq!(Dimension::VOLUME.to_string(), "volume");
        assert_eq!(Dimension::TEMPERATURE.to_string(), "temperature");
        assert_eq!(Dimension::CONCENTRATION.to_string(), "concentration");
        assert_eq!(Dimension::PRESSURE.to_string(), "pressure");
        assert_eq!(Dimension::LENGTH.to_string(), "length");
        assert_eq!(Dimension::DIMENSIONLESS.to_string(), "dimensionless");
        assert_eq!(Dimension::new(3, 0, -2, 0, 0).to_string(), "m³·s⁻²");
        assert_eq!(Dimension::new(-12, 1, 0, 0, 0).to_string(), "m⁻¹²·kg");
        assert_eq!(Dimension::PRESSURE.si_symbol(), "m⁻¹·kg·s⁻²");
        assert_eq!(Dimension::DIMENSIONLESS.si_symbol(), "1");
    }

    #[test]
    fn hints_name_an_example() {
        assert_eq!(Dimension::FLOW_RATE.hint(), "a flow rate, e.g. 10 uL/min");
        assert_eq!(
            Dimension::AMOUNT.hint(),
            "an amount of substance, e.g. 2 mmol"
        );
        assert_eq!(
            Dimension::new(3, 0, -2, 0, 0).hint(),
            "a quantity in m³·s⁻²"
        );
        assert_eq!(Dimension::TIME.example(), Some("30 s"));
        assert_eq!(Dimension::new(5, 0, 0, 0, 0).name(), None);
    }

    #[test]
    fn kinds_from_names() {
        assert_eq!(Dimension::from_name("time").unwrap(), Dimension::TIME);
        assert_eq!(
            Dimension::from_name("flow_rate").unwrap(),
            Dimension::FLOW_RATE
        );
        assert_eq!(
            Dimension::from_name("flow rate").unwrap(),
            Dimension::FLOW_RATE
        );
        assert_eq!(
            Dimension::from_name("wavelength").unwrap(),
            Dimension::LENGTH
        );
        assert_eq!(
            Dimension::from_name("ratio").unwrap(),
            Dimension::DIMENSIONLESS
        );
        let err = Dimension::from_name("temprature").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown quantity kind `temprature`; did you mean `temperature`?"
        );
        assert!(Dimension::kind_names().any(|n| n == "concentration"));
    }

    #[test]
    fn every_kind_name_resolves() {
        for name in Dimension::kind_names() {
            assert!(Dimension::from_name(name).is_ok(), "{name}");
        }
    }
}
