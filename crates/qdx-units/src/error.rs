//! Errors of unit parsing, conversion and quantity arithmetic.
//!
//! Invariant: every message reads as a complete sentence fragment a chemist understands (it ends
//! up in a diagnostic); positions are byte offsets into the unit text the caller passed.

use thiserror::Error;

use crate::dimension::Dimension;

/// What went wrong with a unit or a quantity.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum UnitError {
    /// A unit symbol that qdx does not know.
    #[error("unknown unit `{unit}`{}", did_you_mean(suggestion.as_deref()))]
    UnknownUnit {
        /// The unknown atom as written.
        unit: String,
        /// The whole unit text with the atom replaced by the closest known one.
        suggestion: Option<String>,
    },
    /// Malformed unit text (`mL/`, `m^x`, unbalanced parentheses, ...).
    #[error("malformed unit `{text}`: {message}")]
    Syntax {
        /// The whole unit text.
        text: String,
        /// Byte offset of the problem inside `text`.
        offset: usize,
        /// What was expected.
        message: &'static str,
    },
    /// A name that is not a quantity kind (`Dimension::from_name`).
    #[error("unknown quantity kind `{name}`{}", did_you_mean(suggestion.as_deref()))]
    UnknownDimension {
        /// The name as written.
        name: String,
        /// The closest known kind.
        suggestion: Option<String>,
    },
    /// Two quantities (or a quantity and a unit) of different dimensions.
    #[error("mismatched dimensions: {left} and {right}")]
    DimensionMismatch {
        /// Dimension of the left operand (or of the value).
        left: Dimension,
        /// Dimension of the right operand (or of the unit).
        right: Dimension,
    },
    /// `abs + abs` on temperatures: 25 degC + 25 degC has no physical meaning.
    #[error(
        "cannot add two absolute temperatures; write one of them as a difference \
         (e.g. a tolerance or a ramp step)"
    )]
    AbsoluteTemperatureSum,
    /// `difference - absolute`: what would 5 K minus 25 degC be?
    #[error("cannot subtract an absolute temperature from a temperature difference")]
    DifferenceMinusAbsolute,
    /// Negating an absolute temperature.
    #[error("cannot negate an absolute temperature")]
    NegatedAbsoluteTemperature,
    /// Scaling an absolute temperature (`2 * 25 degC`) is ambiguous: see `Quantity::mul`.
    #[error(
        "cannot scale an absolute temperature; subtract a reference temperature first to get a \
         difference, which can be scaled"
    )]
    ScaledAbsoluteTemperature,
    /// Comparing an absolute temperature with a temperature difference.
    #[error("cannot compare an absolute temperature with a temperature difference")]
    AbsoluteComparedWithDifference,
    /// An absolute temperature below 0 K.
    #[error("{kelvin} K is below absolute zero")]
    BelowAbsoluteZero {
        /// The offending value in kelvin.
        kelvin: f64,
    },
    /// Division by a zero quantity.
    #[error("division by zero")]
    DivisionByZero,
    /// A value or a result that is not a number (NaN).
    #[error("the {operation} is not a number")]
    NotANumber {
        /// What produced it ("value", "difference", ...).
        operation: &'static str,
    },
    /// A dimension exponent outside -128..=127.
    #[error("dimension exponent out of range")]
    ExponentOverflow,
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |s| format!("; did you mean `{s}`?"))
}
