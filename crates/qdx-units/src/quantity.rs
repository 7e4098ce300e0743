//! Quantities: an SI value with its dimension and, for temperatures, whether it is a point on the
//! scale or a difference.
//!
//! Invariants:
//! - the value is never NaN (it may be ±inf, for unbounded ranges);
//! - only a quantity of dimension exactly `TEMPERATURE` can be [`Interpretation::Absolute`];
//!   every other quantity is stored as a `Difference`, so equality does not depend on how it
//!   was built;
//! - an absolute temperature is never below 0 K.
//!
//! Temperature rules (the chemist's intuition, made checkable):
//! - `abs - abs = diff`, `abs ± diff = abs`, `diff ± diff = diff`, `diff + abs = abs`;
//! - `abs + abs` and `diff - abs` are errors, and so is `-abs`;
//! - products and quotients use the thermodynamic temperature in kelvin (SI storage converts
//!   `degC` to K first), which is what physics formulas mean (`R·T`, `T/T₀`, `1/T`, `T⁴`). A
//!   product whose result is still a temperature (`2 × 25 degC`, `T / 2`) is an error, because
//!   a chemist writing it almost always means to scale the Celsius number, which is not a
//!   physical operation: scale a difference instead.
//! - comparing an absolute temperature with a difference is an error.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::dimension::Dimension;
use crate::error::UnitError;
use crate::format::{display_unit, format_quantity};
use crate::unit::{Interpretation, Unit};

/// An SI value with its dimension and temperature interpretation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawQuantity")]
pub struct Quantity {
    value: f64,
    dimension: Dimension,
    interpretation: Interpretation,
}

/// The serialised shape, checked against the invariants on the way in.
#[derive(Deserialize)]
struct RawQuantity {
    value: f64,
    dimension: Dimension,
    interpretation: Interpretation,
}

impl TryFrom<RawQuantity> for Quantity {
    type Error = UnitError;
    fn try_from(raw: RawQuantity) -> Result<Quantity, UnitError> {
        checked(raw.value, raw.dimension, raw.interpretation, "value")
    }
}

/// Builds a quantity, normalising the interpretation and enforcing the invariants.
fn checked(
    value: f64,
    dimension: Dimension,
    interpretation: Interpretation,
    operation: &'static str,
) -> Result<Quantity, UnitError> {
    if value.is_nan() {
        return Err(UnitError::NotANumber { operation });
    }
    let interpretation = if dimension == Dimension::TEMPERATURE {
        interpretation
    } else {
        Interpretation::Difference
    };
    if interpretation == Interpretation::Absolute && value < 0.0 {
        return Err(UnitError::BelowAbsoluteZero { kelvin: value });
    }
    Ok(Quantity {
        value,
        dimension,
        interpretation,
    })
}

impl Quantity {
    /// A quantity from an SI value (a difference, for temperatures).
    ///
    /// # Errors
    /// [`UnitError::NotANumber`] for NaN.
    pub fn new(value_si: f64, dimension: Dimension) -> Result<Quantity, UnitError> {
        checked(value_si, dimension, Interpretation::Difference, "value")
    }

    /// A plain number.
    ///
    /// # Errors
    /// [`UnitError::NotANumber`] for NaN.
    pub fn dimensionless(value: f64) -> Result<Quantity, UnitError> {
        Quantity::new(value, Dimension::DIMENSIONLESS)
    }

    /// An absolute temperature in kelvin.
    ///
    /// # Errors
    /// [`UnitError::NotANumber`] for NaN, [`UnitError::BelowAbsoluteZero`] below 0 K.
    pub fn absolute_temperature(kelvin: f64) -> Result<Quantity, UnitError> {
        checked(
            kelvin,
            Dimension::TEMPERATURE,
            Interpretation::Absolute,
            "value",
        )
    }

    /// A value written in `unit`, e.g. `Quantity::from_unit(25.0, &degC, Absolute)` = 298.15 K.
    /// The interpretation matters only for temperatures.
    ///
    /// # Errors
    /// [`UnitError::NotANumber`] for NaN, [`UnitError::BelowAbsoluteZero`] below 0 K.
    pub fn from_unit(
        value: f64,
        unit: &Unit,
        interpretation: Interpretation,
    ) -> Result<Quantity, UnitError> {
        checked(
            unit.to_si(value, interpretation),
            unit.dimension(),
            interpretation,
            "value",
        )
    }

    /// The value in SI (kelvin for temperatures).
    #[must_use]
    pub fn value(&self) -> f64 {
        self.value
    }

    /// The dimension.
    #[must_use]
    pub fn dimension(&self) -> Dimension {
        self.dimension
    }

    /// `Absolute` only for an absolute temperature.
    #[must_use]
    pub fn interpretation(&self) -> Interpretation {
        self.interpretation
    }

    /// True for an absolute temperature (a point on the scale).
    #[must_use]
    pub fn is_absolute_temperature(&self) -> bool {
        self.interpretation == Interpretation::Absolute
    }

    /// The value expressed in `unit` (reading temperatures per the quantity's interpretation).
    ///
    /// # Errors
    /// [`UnitError::DimensionMismatch`] when `unit` measures something else.
    pub fn to_unit(&self, unit: &Unit) -> Result<f64, UnitError> {
        self.expect_dimension(unit.dimension())?;
        Ok(unit.from_si(self.value, self.interpretation))
    }

    /// The value printed in `unit`: `"25 degC"`.
    ///
    /// # Errors
    /// [`UnitError::DimensionMismatch`] when `unit` measures something else.
    pub fn format_in(&self, unit: &Unit) -> Result<String, UnitError> {
        self.expect_dimension(unit.dimension())?;
        Ok(format_quantity(self.value, unit, self.interpretation))
    }

    fn expect_dimension(&self, d: Dimension) -> Result<(), UnitError> {
        if self.dimension == d {
            Ok(())
        } else {
            Err(UnitError::DimensionMismatch {
                left: self.dimension,
                right: d,
            })
        }
    }

    /// `self + other`.
    ///
    /// # Errors
    /// [`UnitError::DimensionMismatch`], [`UnitError::AbsoluteTemperatureSum`],
    /// [`UnitError::NotANumber`] (∞ − ∞), [`UnitError::BelowAbsoluteZero`].
    pub fn add(&self, other: &Quantity) -> Result<Quantity, UnitError> {
        self.expect_dimension(other.dimension)?;
        use Interpretation::{Absolute, Difference};
        let interpretation = match (self.interpretation, other.interpretation) {
            (Absolute, Absolute) => return Err(UnitError::AbsoluteTemperatureSum),
            (Absolute, Difference) | (Difference, Absolute) => Absolute,
            (Difference, Difference) => Difference,
        };
        checked(
            self.value + other.value,
            self.dimension,
            interpretation,
            "sum",
        )
    }

    /// `self - other`.
    ///
    /// # Errors
    /// [`UnitError::DimensionMismatch`], [`UnitError::DifferenceMinusAbsolute`],
    /// [`UnitError::NotANumber`] (∞ − ∞), [`UnitError::BelowAbsoluteZero`].
    pub fn sub(&self, other: &Quantity) -> Result<Quantity, UnitError> {
        self.expect_dimension(other.dimension)?;
        use Interpretation::{Absolute, Difference};
        let interpretation = match (self.interpretation, other.interpretation) {
            (Absolute, Absolute) | (Difference, Difference) => Difference,
            (Absolute, Difference) => Absolute,
            (Difference, Absolute) => return Err(UnitError::DifferenceMinusAbsolute),
        };
        checked(
            self.value - other.value,
            self.dimension,
            interpretation,
            "difference",
        )
    }

    /// `-self`.
    ///
    /// # Errors
    /// [`UnitError::NegatedAbsoluteTemperature`].
    pub fn neg(&self) -> Result<Quantity, UnitError> {
        if self.is_absolute_temperature() {
            return Err(UnitError::NegatedAbsoluteTemperature);
        }
        Ok(Quantity {
            value: -self.value,
            ..*self
        })
    }

    /// `self × other` (see the module doc for absolute temperatures).
    ///
    /// # Errors
    /// [`UnitError::ScaledAbsoluteTemperature`], [`UnitError::NotANumber`] (0 × ∞),
    /// [`UnitError::ExponentOverflow`].
    pub fn mul(&self, other: &Quantity) -> Result<Quantity, UnitError> {
        let dimension = self.dimension.mul(other.dimension)?;
        self.reject_scaled_absolute(other, dimension)?;
        checked(
            self.value * other.value,
            dimension,
            Interpretation::Difference,
            "product",
        )
    }

    /// `self ÷ other` (see the module doc for absolute temperatures).
    ///
    /// # Errors
    /// [`UnitError::DivisionByZero`], [`UnitError::ScaledAbsoluteTemperature`],
    /// [`UnitError::NotANumber`] (∞ ÷ ∞), [`UnitError::ExponentOverflow`].
    pub fn div(&self, other: &Quantity) -> Result<Quantity, UnitError> {
        let dimension = self.dimension.div(other.dimension)?;
        self.reject_scaled_absolute(other, dimension)?;
        if other.value == 0.0 {
            return Err(UnitError::DivisionByZero);
        }
        checked(
            self.value / other.value,
            dimension,
            Interpretation::Difference,
            "quotient",
        )
    }

    fn reject_scaled_absolute(&self, other: &Quantity, result: Dimension) -> Result<(), UnitError> {
        let any_absolute = self.is_absolute_temperature() || other.is_absolute_temperature();
        if any_absolute && result == Dimension::TEMPERATURE {
            Err(UnitError::ScaledAbsoluteTemperature)
        } else {
            Ok(())
        }
    }

    /// `self^n`; powers of an absolute temperature use kelvin (`T⁴`), and `T¹` stays absolute.
    ///
    /// # Errors
    /// [`UnitError::DivisionByZero`] for `0^-n`, [`UnitError::ExponentOverflow`].
    pub fn powi(&self, n: i32) -> Result<Quantity, UnitError> {
        if n == 1 {
            return Ok(*self);
        }
        let dimension = self.dimension.powi(n)?;
        if n < 0 && self.value == 0.0 {
            return Err(UnitError::DivisionByZero);
        }
        checked(
            self.value.powi(n),
            dimension,
            Interpretation::Difference,
            "power",
        )
    }

    /// Orders two commensurable quantities.
    ///
    /// # Errors
    /// [`UnitError::DimensionMismatch`], [`UnitError::AbsoluteComparedWithDifference`].
    pub fn compare(&self, other: &Quantity) -> Result<Ordering, UnitError> {
        self.expect_dimension(other.dimension)?;
        if self.interpretation != other.interpretation {
            return Err(UnitError::AbsoluteComparedWithDifference);
        }
        self.value
            .partial_cmp(&other.value)
            .ok_or(UnitError::NotANumber {
                operation: "comparison",
            })
    }
}

impl fmt::Display for Quantity {
    /// In a unit chosen for the dimension and the magnitude: `250 uL`, `1.5 mL/min`, `25 degC`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = display_unit(self.dimension, self.interpretation, self.value);
        f.write_str(&format_quantity(self.value, &unit, self.interpretation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(value: f64, unit: &str) -> Quantity {
        Quantity::from_unit(
            value,
            &Unit::parse(unit).unwrap(),
            Interpretation::Difference,
        )
        .unwrap()
    }

    fn abs(value: f64, unit: &str) -> Quantity {
        Quantity::from_unit(value, &Unit::parse(unit).unwrap(), Interpretation::Absolute).unwrap()
    }

    #[test]
    fn temperature_points_and_differences() {
        assert_eq!(abs(25.0, "degC").value(), 298.15);
        assert!(abs(25.0, "degC").is_absolute_temperature());
        assert_eq!(q(5.0, "degC").value(), 5.0);
        assert!(!q(5.0, "degC").is_absolute_temperature());
        // Non-temperatures are never absolute, whatever the caller asked.
        assert_eq!(abs(5.0, "uL"), q(5.0, "uL"));
        assert_eq!(
            Quantity::from_unit(
                -300.0,
                &Unit::parse("degC").unwrap(),
                Interpretation::Absolute
            ),
            Err(UnitError::BelowAbsoluteZero {
                kelvin: -300.0 + 273.15
            })
        );
    }

    #[test]
    fn temperature_arithmetic() {
        let t80 = abs(80.0, "degC");
        let t25 = abs(25.0, "degC");
        let d5 = q(5.0, "degC");
        let span = t80.sub(&t25).unwrap();
        assert!(!span.is_absolute_temperature());
        assert!((span.value() - 55.0).abs() < 1e-12);
        let up = t25.add(&d5).unwrap();
        assert!(up.is_absolute_temperature());
        assert_eq!(
            up.format_in(&Unit::parse("degC").unwrap()).unwrap(),
            "30 degC"
        );
        assert!(d5.add(&t25).unwrap().is_absolute_temperature());
        assert!(t25.sub(&d5).unwrap().is_absolute_temperature());
        assert!(!d5.add(&d5).unwrap().is_absolute_temperature());
        assert_eq!(t25.add(&t80), Err(UnitError::AbsoluteTemperatureSum));
        assert_eq!(d5.sub(&t25), Err(UnitError::DifferenceMinusAbsolute));
        assert_eq!(t25.neg(), Err(UnitError::NegatedAbsoluteTemperature));
        assert_eq!(d5.neg().unwrap().value(), -5.0);
        let two = Quantity::dimensionless(2.0).unwrap();
        assert_eq!(t25.mul(&two), Err(UnitError::ScaledAbsoluteTemperature));
        assert_eq!(two.mul(&t25), Err(UnitError::ScaledAbsoluteTemperature));
        assert_eq!(t25.div(&two), Err(UnitError::ScaledAbsoluteTemperature));
        assert_eq!(d5.mul(&two).unwrap().value(), 10.0);
        // Thermodynamic uses are allowed and computed in kelvin.
        let ratio = t80.div(&t25).unwrap();
        assert_eq!(ratio.dimension(), Dimension::DIMENSIONLESS);
        assert!((ratio.value() - 353.15 / 298.15).abs() < 1e-15);
        let inv = two.div(&t25).unwrap();
        assert_eq!(inv.dimension(), Dimension::TEMPERATURE.recip().unwrap());
        let t4 = t25.powi(4).unwrap();
        assert_eq!(t4.value(), 298.15_f64.powi(4));
        assert!(t25.powi(1).unwrap().is_absolute_temperature());
        assert_eq!(
            t25.compare(&d5),
            Err(UnitError::AbsoluteComparedWithDifference)
        );
        assert_eq!(t80.compare(&t25), Ok(Ordering::Greater));
        let cold = abs(10.0, "K");
        assert_eq!(
            cold.sub(&q(20.0, "K")),
            Err(UnitError::BelowAbsoluteZero { kelvin: -10.0 })
        );
    }

    #[test]
    fn flow_algebra() {
        let volume = q(250.0, "uL");
        let residence = q(60.0, "s");
        let flow = volume.div(&residence).unwrap();
        assert_eq!(flow.dimension(), Dimension::FLOW_RATE);
        assert_eq!(
            flow.format_in(&Unit::parse("uL/min").unwrap()).unwrap(),
            "250 uL/min"
        );
        let back = volume.div(&flow).unwrap();
        assert_eq!(back.dimension(), Dimension::TIME);
        assert!((back.value() - 60.0).abs() < 1e-12);
        let conc = q(2.0, "mmol").div(&q(40.0, "mL")).unwrap();
        assert_eq!(conc.dimension(), Dimension::CONCENTRATION);
        assert_eq!(
            conc.format_in(&Unit::parse("mol/L").unwrap()).unwrap(),
            "0.05 mol/L"
        );
        assert_eq!(
            volume.add(&residence),
            Err(UnitError::DimensionMismatch {
                left: Dimension::VOLUME,
                right: Dimension::TIME
            })
        );
        assert_eq!(
            volume.to_unit(&Unit::parse("s").unwrap()),
            Err(UnitError::DimensionMismatch {
                left: Dimension::VOLUME,
                right: Dimension::TIME
            })
        );
        assert_eq!(volume.div(&q(0.0, "s")), Err(UnitError::DivisionByZero));
        assert_eq!(q(0.0, "s").powi(-1), Err(UnitError::DivisionByZero));
        let inf = q(f64::INFINITY, "s");
        assert_eq!(
            inf.sub(&inf),
            Err(UnitError::NotANumber {
                operation: "difference"
            })
        );
        assert_eq!(
            Quantity::new(f64::NAN, Dimension::TIME),
            Err(UnitError::NotANumber { operation: "value" })
        );
        assert_eq!(residence.compare(&q(1.0, "min")), Ok(Ordering::Equal));
    }

    #[test]
    fn display_picks_a_readable_unit() {
        assert_eq!(q(250.0, "uL").to_string(), "250 uL");
        assert_eq!(q(1.5, "mL/min").to_string(), "1.5 mL/min");
        assert_eq!(abs(25.0, "degC").to_string(), "25 degC");
        assert_eq!(q(5.0, "degC").to_string(), "5 K");
        assert_eq!(q(0.05, "mol/L").to_string(), "50 mM");
        assert_eq!(q(2.0, "bar").to_string(), "2 bar");
        assert_eq!(q(90.0, "s").to_string(), "1.5 min");
        assert_eq!(q(365.0, "nm").to_string(), "365 nm");
        assert_eq!(Quantity::dimensionless(0.25).unwrap().to_string(), "0.25");
    }

    #[test]
    fn serde_round_trip_and_validation() {
        let t = abs(25.0, "degC");
        let json = serde_json::to_string(&t).unwrap();
        let back: Quantity = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
        let bad = json.replace("298.15", "-1.0");
        assert!(serde_json::from_str::<Quantity>(&bad).is_err());
        let v = q(5.0, "uL");
        let back: Quantity = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        assert_eq!(back, v);
    }
}
